# SABOS-C top-level build. `make run`, `make test`, `make bench`; see README.md.
# Everything is built into build/. The dependency script runs first and is quiet when
# everything is installed already.

BUILD      := build
KCC        := clang
KLD        := ld.lld
HOSTCC     := gcc
KERNEL_ELF := $(BUILD)/kernel.elf
LOADER_EFI := $(BUILD)/BOOTX64.EFI
DISK_IMGS  := $(addprefix $(BUILD)/,disk0.img ahci.img nvme.img part-mbr.img part-gpt.img cd.iso)
DISKS_STAMP := $(BUILD)/.disks
USER_STAMP  := $(BUILD)/.userfs

KCFLAGS := --target=x86_64-unknown-elf -std=gnu17 -ffreestanding -fno-stack-protector \
	-fno-pic -fno-pie -mno-red-zone -mcmodel=kernel -mno-mmx -mno-sse -mno-sse2 -mno-avx \
	-mno-80387 -fno-omit-frame-pointer -fno-builtin -O2 -g -Wall -Wextra -Werror \
	-Wno-unused-parameter -Ikernel/include -MMD -MP
KASFLAGS := --target=x86_64-unknown-elf -Ikernel/include -MMD -MP -g

KSRCS_C := $(shell find kernel -name '*.c' | sort)
KSRCS_S := $(shell find kernel -name '*.S' | sort)
KOBJS   := $(patsubst %.c,$(BUILD)/%.o,$(KSRCS_C)) $(patsubst %.S,$(BUILD)/%.o,$(KSRCS_S)) \
	$(BUILD)/font.o

FONT_PSF := /usr/share/consolefonts/Lat15-VGA16.psf.gz

.PHONY: all deps kernel loader esp images user run test test-host test-kernel test-boot bench clean FORCE

all: deps images

deps:
	@bash scripts/deps.sh

kernel: $(KERNEL_ELF)
loader: $(LOADER_EFI)
images: $(DISKS_STAMP) $(USER_STAMP) $(BUILD)/tcpsink
esp: images

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(KCC) $(KCFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(KCC) $(KASFLAGS) -c $< -o $@

# The console font comes from Debian's console-setup-linux package, linked in as binary data.
$(BUILD)/font.psf: $(FONT_PSF)
	@mkdir -p $(BUILD)
	gzip -dc $< > $@
$(BUILD)/font.o: $(BUILD)/font.psf
	cd $(BUILD) && objcopy -I binary -O elf64-x86-64 -B i386:x86-64 \
		--rename-section .data=.rodata,alloc,load,readonly,data,contents font.psf font.o

$(KERNEL_ELF): $(KOBJS) kernel/arch/x86_64/linker.ld
	@echo "  LD      $@"
	@$(KLD) -nostdlib -z max-page-size=4096 -T kernel/arch/x86_64/linker.ld -o $@ $(KOBJS)

# ---- UEFI loader (gnu-efi) ----
EFI_CFLAGS := -I/usr/include/efi -I/usr/include/efi/x86_64 -idirafter kernel/include -std=gnu17 \
	-fpic -ffreestanding -fno-stack-protector -fno-stack-check -fshort-wchar -mno-red-zone \
	-maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI -O2 -Wall -Wextra -Werror \
	-Wno-unused-parameter
$(BUILD)/boot/loader.o: boot/loader.c kernel/include/bootinfo.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(EFI_CFLAGS) -c $< -o $@
$(BUILD)/boot/loader.so: $(BUILD)/boot/loader.o
	ld -shared -Bsymbolic -nostdlib -znocombreloc -T /usr/lib/elf_x86_64_efi.lds \
		/usr/lib/crt0-efi-x86_64.o $< -o $@ -L/usr/lib -lefi -lgnuefi
$(LOADER_EFI): $(BUILD)/boot/loader.so
	objcopy -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym -j .rel \
		-j .rela -j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 \
		--subsystem=10 $< $@

# ---- disk images (scripts/mkdisks.sh; blktool writes their checksummed test regions) ----
$(BUILD)/blktool: tests/tools/blktool.c kernel/include/blk_pattern.h
	@mkdir -p $(BUILD)
	$(HOSTCC) -std=gnu17 -O2 -Wall -Wextra -Werror -Ikernel/include $< -o $@

# The TCP peer of the network tests (scripts/netns.sh, scripts/usernet.sh).
$(BUILD)/tcpsink: tests/tools/tcpsink.c user/include/sha256.h
	@mkdir -p $(BUILD)
	@$(HOSTCC) -std=gnu17 -O2 -Wall -Wextra -Werror $< -o $@

# One stamp for the whole set: a missing image (or a newer kernel) rebuilds them all.
$(DISKS_STAMP): $(LOADER_EFI) $(KERNEL_ELF) scripts/mkdisks.sh $(BUILD)/blktool $(foreach f,$(DISK_IMGS),$(if $(wildcard $(f)),,FORCE))
	@echo "  DISKS   $(BUILD)/{disk0,ahci,nvme,part-mbr,part-gpt}.img, cd.iso"
	@bash scripts/mkdisks.sh $(BUILD) $(LOADER_EFI) $(KERNEL_ELF)
	@touch $@
FORCE:

# ---- user programs (musl-gcc -static; installed on the root image by scripts/install-user.sh) ----
# user/bin/NAME.c -> /bin/NAME, user/sbin/NAME.c -> /sbin/NAME, user/tsh/*.c -> /bin/tsh,
# the services in several files user/httpd/*.c -> /sbin/httpd and user/telnetd/*.c -> /sbin/telnetd,
# user/etc/* -> /etc/*, user/www/* and generated test files -> /www (httpd's document root).
# The same tree is under /9p/user/ through the launcher's share.
USER_CC     := musl-gcc
USER_CFLAGS := -static -std=gnu17 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Iuser/include
USER_HDRS   := $(wildcard user/include/*.h)
USER_SERVICES := httpd telnetd
USER_BINS   := $(patsubst user/bin/%.c,$(BUILD)/user/bin/%,$(wildcard user/bin/*.c)) \
	$(patsubst user/sbin/%.c,$(BUILD)/user/sbin/%,$(wildcard user/sbin/*.c)) \
	$(if $(wildcard user/tsh/*.c),$(BUILD)/user/bin/tsh) \
	$(foreach p,$(USER_SERVICES),$(if $(wildcard user/$(p)/*.c),$(BUILD)/user/sbin/$(p)))
USER_ETC    := $(patsubst user/etc/%,$(BUILD)/user/etc/%,$(wildcard user/etc/*))
# /www: the pages in user/www and, in /www/test, download test files with the same bytes on
# every build (python3's generator seeded with the file's name).
USER_WWW    := $(patsubst user/www/%,$(BUILD)/user/www/%,$(wildcard user/www/*)) \
	$(BUILD)/user/www/test/1k.bin $(BUILD)/user/www/test/1m.bin

$(BUILD)/user/bin/%: user/bin/%.c $(USER_HDRS)
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  $<"
	@$(USER_CC) $(USER_CFLAGS) $< -o $@
$(BUILD)/user/sbin/%: user/sbin/%.c $(USER_HDRS)
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  $<"
	@$(USER_CC) $(USER_CFLAGS) $< -o $@
$(BUILD)/user/bin/tsh: $(wildcard user/tsh/*.c user/tsh/*.h) $(USER_HDRS)
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  user/tsh"
	@$(USER_CC) $(USER_CFLAGS) -Iuser/tsh $(wildcard user/tsh/*.c) -o $@
# A service in several files: user/NAME/*.c -> /sbin/NAME.
define service_rule
$(BUILD)/user/sbin/$(1): $$(wildcard user/$(1)/*.c user/$(1)/*.h) $$(USER_HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  MUSLCC  user/$(1)"
	@$$(USER_CC) $$(USER_CFLAGS) -Iuser/$(1) $$(wildcard user/$(1)/*.c) -o $$@
endef
$(foreach p,$(USER_SERVICES),$(eval $(call service_rule,$(p))))
$(BUILD)/user/etc/%: user/etc/%
	@mkdir -p $(dir $@)
	@cp $< $@
$(BUILD)/user/www/%: user/www/%
	@mkdir -p $(dir $@)
	@cp $< $@
$(BUILD)/user/www/test/%.bin:
	@mkdir -p $(dir $@)
	@python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(sys.argv[1]).randbytes(int(sys.argv[2])))' \
		$* $(if $(filter 1k,$*),1024,1048576) > $@

# The expected hellostd output, where the guest's self-test reads it through /9p.
$(BUILD)/hellostd.expected: tests/integration/hellostd.expected
	@mkdir -p $(BUILD)
	@cp $< $@

user: $(USER_BINS) $(USER_ETC) $(USER_WWW) $(BUILD)/hellostd.expected

# Copies build/user/{bin,sbin,etc,www} onto the root image (after mkdisks.sh made it).
$(USER_STAMP): $(DISKS_STAMP) $(USER_BINS) $(USER_ETC) $(USER_WWW) $(BUILD)/hellostd.expected scripts/install-user.sh
	@echo "  ROOTFS  $(BUILD)/disk0.img: /bin /sbin /etc /www"
	@bash scripts/install-user.sh $(BUILD)/disk0.img $(BUILD)/user
	@touch $@

# ---- the two commands ----
# Extra launcher options: make run RUN_ARGS="--smp 4 --mem 2G"
RUN_ARGS ?=
run: deps images
	@echo "SABOS is booting. Once the tsh prompt shows, from another terminal on this machine:"
	@echo "  telnet 127.0.0.1 2323            a shell (tsh) over telnet"
	@echo "  curl http://127.0.0.1:8080/      the web server (/www; /9p/ is the build directory)"
	@echo "Ctrl-A X ends QEMU; Ctrl-A C switches to its monitor."
	bash scripts/qemu.sh --forward $(RUN_ARGS)

test: deps images
	bash scripts/test.sh

test-host: deps user
	bash scripts/test.sh host
test-kernel: deps images
	bash scripts/test.sh kernel
test-boot: deps images
	bash scripts/test.sh boot

bench: deps images
	bash scripts/bench.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
