#!/usr/bin/env bash
# test.sh [host|kernel|boot|harness|shell|storage|firmware|services|net]...: the test layers of
# `make test`.
#   host:   host unit tests (cmocka + ASan/UBSan), scripts/host-tests.sh
#   kernel: the kernel self-tests, booted in QEMU with `selftest` on the command line
#   boot:   boot-configuration tests (CPU count, memory, no PS/2, no ACPI, no GOP, broken
#           kernels, CD-ROM empty and inserted, no AHCI/NVMe devices), the guest's disk writes
#           checked on the host (storage), the shell over serial, and the guest on the user and
#           TAP networks (net: tests/integration/net_guest.sh, needs root)
#   harness: the selftest mode ends every crash (panic, fault, hang, triple fault) with a verdict
# Every check prints "[PASS] name" or "[FAIL] name: reason"; the run ends with one line
# "N passed, N failed" over everything, and exits non-zero when anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=build/test
mkdir -p "$out"
# One run at a time per tree: logs and the results file live in build/test.
exec 9> "$out/.lock"
if ! flock -n 9; then
    echo "test.sh: another test run is using $out; waiting for it" >&2
    flock 9
fi
results="$out/results.txt"
: > "$results"
layers=("$@")
[ ${#layers[@]} -eq 0 ] && layers=(host kernel boot harness)

report() { echo "$1" | tee -a "$results"; }
# Serial log without carriage returns and without the kernel's "[  seconds] " timestamps.
clean_log() { tr -d '\r' < "$1" | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //'; }

run_host() {
    bash scripts/host-tests.sh | tee "$out/host.txt"
    grep -E '^\[(PASS|FAIL)\]' "$out/host.txt" >> "$results"
    run_user_host
}

# The user programs are ordinary Linux binaries (musl-gcc -static): the same files the guest
# runs must pass on this host too. hellostd's output is compared with the file the guest's
# self-test compares with.
run_user_host() {
    bash tests/integration/hellostd_host.sh | tee "$out/hellostd-host.txt"
    grep -E '^\[(PASS|FAIL)\]' "$out/hellostd-host.txt" >> "$results"
    local t
    for t in "forktest" "pipetest" "ptytest" "faulttest" "threadtest" "sigstress" "memhog" "forkbomb -c 300" "sysfuzz -n 20000"; do
        local log="$out/host-${t%% *}.log"
        # shellcheck disable=SC2086 # the program and its arguments are meant to split
        if (cd /tmp && timeout 300 "$root/build/user/bin/"$t) > "$log" 2>&1; then
            report "[PASS] user.host_${t%% *}"
        else
            report "[FAIL] user.host_${t%% *}: $(grep FAIL "$log" | head -3 | tr '\n' ' ')"
        fi
    done
    # The network programs (ping, host, nc, wget, ifconfig, netstat, selftest_net) against
    # servers on this host's loopback.
    bash tests/integration/net_host.sh > "$out/net-host.log" 2>&1
    grep -E '^\[(PASS|FAIL)\]' "$out/net-host.log" | tee -a "$results"
    grep -qE '^\[(PASS|FAIL)\]' "$out/net-host.log" || report "[FAIL] integration.net_host: no verdict (see $out/net-host.log)"
    # /sbin/httpd on this host's loopback, checked with curl, raw sockets and wrk.
    bash tests/integration/httpd_host.sh > "$out/httpd-host.log" 2>&1
    grep -E '^\[(PASS|FAIL)\]' "$out/httpd-host.log" | tee -a "$results"
    grep -qE '^\[(PASS|FAIL)\]' "$out/httpd-host.log" || report "[FAIL] integration.httpd_host: no verdict (see $out/httpd-host.log)"
    # /sbin/telnetd on this host's loopback with tsh, driven through Debian's telnet client.
    expect -f tests/integration/telnetd_host.exp > "$out/telnetd-host.log" 2>&1
    grep -E '^\[(PASS|FAIL)\]' "$out/telnetd-host.log" | tee -a "$results"
    grep -qE '^\[(PASS|FAIL)\]' "$out/telnetd-host.log" || report "[FAIL] integration.telnetd_host: no verdict (see $out/telnetd-host.log)"
    [ -f tests/integration/tsh_host.exp ] || return 0
    expect -f tests/integration/tsh_host.exp > "$out/tsh-host.log" 2>&1
    grep -E '^\[(PASS|FAIL)\]' "$out/tsh-host.log" | tee -a "$results"
    grep -qE '^\[(PASS|FAIL)\]' "$out/tsh-host.log" || report "[FAIL] integration.tsh_host: no verdict (see $out/tsh-host.log)"
}

run_kernel() {
    local log="$out/kernel-selftest.log"
    echo "kernel: booting the selftest mode (log: $log)"
    mkdir -p build/p9fixture/d1/d2/d3/d4/d5/d6 && printf 'sabos p9 fixture at depth six\n' > build/p9fixture/d1/d2/d3/d4/d5/d6/deep.txt # group p9fs reads it over 9P
    bash scripts/qemu.sh --cmdline "selftest" --no-reboot --timeout 600 > "$log" 2>&1
    local rc=$?
    clean_log "$log" | grep -E '^\[(PASS|FAIL)\] ' | sed 's/^\[PASS\] /[PASS] kernel./; s/^\[FAIL\] /[FAIL] kernel./' | tee -a "$results"
    local summary
    summary=$(clean_log "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ "$rc" = 33 ] && [ -n "$summary" ]; then
        report "[PASS] kernel.selftest_verdict"
    else
        report "[FAIL] kernel.selftest_verdict: QEMU exit status $rc (33 = all passed), summary '${summary}'"
        clean_log "$log" | tail -40 | sed 's/^/    /'
    fi
}

# boot_config NAME CPUS MEM_MIB KEYBOARD(ps2|none) IRQ_MODE(APIC|PIC) EXIT_STATUS -- launcher args
# Boots with `poweroff` and checks the banner: CPU count, installed memory, keyboard, interrupt
# mode, then the exit status (0 = ACPI S5 power-off; 1 = the isa-debug-exit fallback when
# there is no ACPI S5).
boot_config() {
    local name=$1 cpus=$2 mem_mib=$3 kbd=$4 irqmode=$5 want_rc=$6
    shift 7
    local log="$out/boot-$name.log"
    bash scripts/qemu.sh --cmdline "poweroff" --no-reboot --timeout 300 "$@" > "$log" 2>&1
    local rc=$?
    local clean
    clean=$(clean_log "$log")
    local why=""
    grep -q '^kernel ready in ' <<<"$clean" || why="never reached 'kernel ready'"
    local got_cpus got_mem
    got_cpus=$(sed -nE 's/^  cpus: ([0-9]+) .*/\1/p' <<<"$clean" | head -1)
    got_mem=$(sed -nE 's/^  memory: ([0-9]+) MiB installed.*/\1/p' <<<"$clean" | head -1)
    [ -z "$why" ] && [ "$got_cpus" != "$cpus" ] && why="reported ${got_cpus:-no} CPUs, expected $cpus"
    # Installed RAM as the firmware reports it: at least 90% of what QEMU was given, never more.
    if [ -z "$why" ]; then
        if [ -z "$got_mem" ] || [ "$got_mem" -gt "$mem_mib" ] || [ "$got_mem" -lt $((mem_mib * 9 / 10)) ]; then
            why="reported ${got_mem:-no} MiB, expected about $mem_mib MiB"
        fi
    fi
    if [ -z "$why" ]; then
        if [ "$kbd" = none ]; then
            grep -q '^  keyboard: none' <<<"$clean" || why="a PS/2 keyboard was reported on a machine without one"
            grep -q 'no PS/2 controller' <<<"$clean" || why="missing 'no PS/2 controller' message"
        else
            grep -q '^  keyboard: PS/2' <<<"$clean" || why="PS/2 keyboard not found"
        fi
    fi
    if [ -z "$why" ]; then
        local got_mode
        got_mode=$(sed -nE 's/^  interrupts: (.*)/\1/p' <<<"$clean" | head -1)
        case "$irqmode:$got_mode" in
        APIC:xAPIC|APIC:x2APIC|PIC:PIC) ;;
        *) why="interrupt mode '${got_mode}', expected $irqmode" ;;
        esac
    fi
    [ -z "$why" ] && [ "$rc" != "$want_rc" ] && why="QEMU exit status $rc after power-off (expected $want_rc)"
    # Exit status 0 is also what a triple fault gives under --no-reboot: demand the power-off
    # path itself, and no panic on the way.
    if [ -z "$why" ] && [ "$want_rc" = 0 ] && ! grep -q '^power: entering S5' <<<"$clean"; then
        why="no 'power: entering S5' line before QEMU exited"
    fi
    [ -z "$why" ] && grep -q 'KERNEL PANIC' <<<"$clean" && why="the kernel panicked"
    if [ -z "$why" ]; then
        report "[PASS] boot.$name"
    else
        report "[FAIL] boot.$name: $why"
        tail -30 <<<"$clean" | sed 's/^/    /'
    fi
}

run_boot() {
    boot_config smp1 1 512 ps2 APIC 0 -- --smp 1 &
    boot_config smp4 4 512 ps2 APIC 0 -- --smp 4
    wait
    boot_config mem128m 2 128 ps2 APIC 0 -- --mem 128M &
    boot_config mem2g 2 2048 ps2 APIC 0 -- --mem 2G
    wait
    boot_config no_ps2 2 512 none APIC 0 -- -- -machine q35,i8042=off &
    boot_config no_acpi 1 512 ps2 PIC 1 -- -- -machine q35,acpi=off
    wait
    run_loader_and_firmware
    run_storage
    run_fat_images
    run_fat_fill
    run_9p_share
    run_shell
    run_tsh_guest
    run_net_guest
    run_shutdown_guest
    run_services_guest
    run_hw_groups
}

# boot_expect NAME TIMEOUT "PATTERN..." -- launcher args: boots and passes when every
# newline-separated fixed-string PATTERN appears on the serial console before TIMEOUT seconds
# (QEMU is then stopped); used where the machine must report a problem and then stop or go on.
boot_expect() {
    local name=$1 limit=$2 patterns=$3
    shift 4
    local log="$out/boot-$name.log"
    : > "$log"
    bash scripts/qemu.sh --no-reboot --timeout "$limit" "$@" > "$log" 2>&1 &
    local pid=$! missing=""
    # (grep reads a variable, not a pipe: under pipefail, grep -q leaving early would make the
    # writer die of SIGPIPE and a found line look missing)
    first_missing() {
        local text
        text=$(clean_log "$log")
        while IFS= read -r p; do
            [ -z "$p" ] && continue
            grep -qF -- "$p" <<<"$text" || { echo "$p"; return; }
        done <<<"$patterns"
    }
    while :; do
        missing=$(first_missing)
        [ -z "$missing" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            missing=$(first_missing) # QEMU ended: the log is complete, look once more
            break
        fi
        sleep 1
    done
    pkill -P "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    if [ -z "$missing" ]; then
        report "[PASS] boot.$name"
    else
        report "[FAIL] boot.$name: never printed '$missing'"
        clean_log "$log" | tail -15 | sed 's/^/    /'
    fi
}

# Boot disks with a broken kernel: missing, and not an ELF file.
make_bad_esps() {
    export MTOOLS_SKIP_CHECK=1
    cp --sparse=always build/disk0.img "$out/esp-nokernel.img"
    mdel -i "$out/esp-nokernel.img" ::/sabos/kernel.elf
    cp --sparse=always build/disk0.img "$out/esp-badkernel.img"
    printf 'this is not an ELF file\n' > "$out/badkernel.elf"
    mcopy -o -i "$out/esp-badkernel.img" "$out/badkernel.elf" ::/sabos/kernel.elf
}

run_loader_and_firmware() {
    make_bad_esps
    boot_expect loader_missing_kernel 120 "loader: error: cannot open \\sabos\\kernel.elf on the boot volume
loader: stopped." -- --boot-disk "$out/esp-nokernel.img" &
    boot_expect loader_corrupt_kernel 120 "loader: error: kernel.elf is not an ELF file
loader: stopped." -- --boot-disk "$out/esp-badkernel.img"
    wait
    boot_expect no_gop 120 "loader: warning: no graphics output protocol
fbcon: no framebuffer, serial console only
kernel ready in" -- --cmdline poweroff -- -vga none &
    # q35's CD-ROM drive, empty and with a CD inserted: the AHCI probe finds the ATAPI device
    # on port 2, tells whether it holds a medium (and its size), without hanging, and still
    # registers the SATA disk.
    boot_expect cdrom_empty 120 "port 2: ATAPI device, no medium
1 SATA disk registered
kernel ready in" -- --cmdline poweroff
    wait
    boot_expect cdrom_inserted 120 "port 2: ATAPI device, medium of 512 2048-byte blocks
1 SATA disk registered
kernel ready in" -- --cmdline poweroff --cdrom build/cd.iso &
    # No AHCI device (not even the CD-ROM drive) and no NVMe controller: said, and boot goes on.
    boot_expect no_ahci_no_nvme 120 "0 of 6 ports with a device
nvme: no NVMe controller
kernel ready in" -- --cmdline poweroff --no-ahci --no-nvme
    wait
}

# crash_check GROUP WANT_STATUS "PATTERN..." : boots selftest=GROUP (a crash_* group that ends
# the run on purpose) and checks QEMU's exit status and that every fixed-string pattern is in
# the log: the harness reports panics, faults, hangs and triple faults instead of hanging.
crash_check() {
    local group=$1 want=$2 patterns=$3
    local log="$out/crash-$group.log"
    bash scripts/qemu.sh --cmdline "selftest=$group" --no-reboot --timeout 120 > "$log" 2>&1
    local rc=$? why=""
    [ "$rc" != "$want" ] && why="QEMU exit status $rc, expected $want"
    local text
    text=$(clean_log "$log")
    while IFS= read -r p; do
        [ -z "$p" ] || [ -n "$why" ] && continue
        grep -qF -- "$p" <<<"$text" || why="missing '$p'"
    done <<<"$patterns"
    if [ -z "$why" ]; then
        report "[PASS] harness.$group"
    else
        report "[FAIL] harness.$group: $why"
        clean_log "$log" | tail -25 | sed 's/^/    /'
    fi
}

run_harness() {
    crash_check crash_panic 35 "KERNEL PANIC: deliberate panic from a self-test
[FAIL] crash_panic.panics: deliberate panic from a self-test
0 passed, 1 failed" &
    crash_check crash_fault 35 "exception #PF page fault (vector 14) error code 0x0
CR2 0000000dead00000
page fault at 0000000dead00000: page not present, read, kernel mode
at selftest_fn_crash_fault_unhandled_page_fault+
selftest_run+
[FAIL] crash_fault.unhandled_page_fault: unhandled #PF page fault in kernel mode"
    wait
    crash_check crash_hang 35 "[FAIL] crash_hang.spins_forever: timed out (the test hung)" &
    # A triple fault resets the CPU; with --no-reboot QEMU exits 0 and no verdict is written.
    crash_check crash_triple 0 "selftest: running 1 tests in group crash_triple"
    wait
    if grep -q "^[0-9]* passed, [0-9]* failed" <(clean_log "$out/crash-crash_triple.log"); then
        report "[FAIL] harness.triple_fault_has_no_verdict: a summary was printed after a triple fault"
    else
        report "[PASS] harness.triple_fault_has_no_verdict"
    fi
}

# persist_boot NAME GROUP DIR LOG: boots selftest=GROUP (a *_persist group) on raw disk
# copies kept in DIR (made fresh), and reports [PASS]/[FAIL] NAME by the verdict. Returns
# non-zero (with DIR removed) when the guest's part failed, so the host checks are skipped.
persist_boot() {
    local name=$1 group=$2 dir=$3 log=$4
    rm -rf "$dir"
    bash scripts/qemu.sh --cmdline "selftest=$group" --no-reboot --timeout 240 --disk-dir "$dir" > "$log" 2>&1
    local rc=$?
    if [ "$rc" != 33 ]; then
        report "[FAIL] $name: QEMU exit status $rc (33 = the guest's part passed)"
        clean_log "$log" | tail -20 | sed 's/^/    /'
        rm -rf "$dir"
        return 1
    fi
    report "[PASS] $name"
}

# Storage seen from the host: the guest writes a known pattern into the scratch region (the
# last 4 MiB) of vda, sda and nvme0n1 (self-test group blk_persist) on raw disk copies; the
# host then finds exactly those bytes in the image files, and the FAT volumes in front of the
# scratch regions still check clean.
run_storage() {
    local dir="$out/disks" log="$out/storage-persist.log"
    persist_boot storage.guest_wrote_scratch blk_persist "$dir" "$log" || return
    local i=0
    for img in disk0 ahci nvme; do
        local seed=$((0x5eed0000 + i)) msg
        if msg=$(build/blktool check "$dir/$img.img" "$seed" 2>&1); then
            report "[PASS] storage.host_sees_guest_bytes_$img"
        else
            report "[FAIL] storage.host_sees_guest_bytes_$img: $msg"
        fi
        if msg=$(fsck.fat -n "$dir/$img.img" 2>&1); then
            report "[PASS] storage.fat_clean_after_guest_writes_$img"
        else
            report "[FAIL] storage.fat_clean_after_guest_writes_$img: $(tail -2 <<<"$msg" | tr '\n' ' ')"
        fi
        i=$((i + 1))
    done
    rm -rf "$dir"
}

# The 9P share seen from the host: the guest writes /9p/p9persist/guest.bin (self-test group
# p9fs_persist: 30000 bytes of the blk_pattern.h stream, seed 0x9f9f0001) into the shared
# build/ directory; the host then finds exactly those bytes in build/p9persist/guest.bin.
# FAT32 through the VFS, checked from the host: the guest's fatfs_persist self-test leaves
# /GUEST/GUEST.BIN (40000 pattern bytes, seed 0x6a7f0000 + volume index, as in
# kernel/fs/fat32_vfs_selftest.c) and a Unicode-named text file on each FAT32 volume; fsck.fat
# must find every image clean and mtools must read the files back (volumes start at offset 0).
run_fat_images() {
    local dir="$out/fat-disks" log="$out/fat-persist.log"
    persist_boot fatfs.guest_left_files fatfs_persist "$dir" "$log" || return
    local i=0 uname="Mixed Case Ünïcode name.txt"
    for img in disk0 ahci nvme; do
        local f="$dir/$img.img" want="$dir/$img.expected" got="$dir/$img.got" msg listing why=""
        if msg=$(fsck.fat -n "$f" 2>&1); then
            report "[PASS] fatfs.host_fsck_clean_$img"
        else
            report "[FAIL] fatfs.host_fsck_clean_$img: $(tail -3 <<<"$msg" | tr '\n' ' ')"
        fi
        build/blktool pattern $((0x6a7f0000 + i)) 40000 > "$want"
        listing=$(LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 mdir -i "$f" ::/GUEST 2>&1)
        if ! grep -q "GUEST *BIN *40 *000\|GUEST *BIN *40000" <<<"$listing"; then
            why="mdir ::/GUEST does not list GUEST.BIN of 40000 bytes"
        elif ! grep -qF -- "$uname" <<<"$listing"; then
            why="mdir ::/GUEST does not list '$uname'"
        elif ! LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 mcopy -n -i "$f" ::/GUEST/GUEST.BIN - > "$got" 2>/dev/null; then
            why="mcopy ::/GUEST/GUEST.BIN failed"
        elif ! cmp -s "$want" "$got"; then
            why="GUEST.BIN differs from the expected pattern: $(cmp "$want" "$got" 2>&1 | head -1)"
        elif [ "$(LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 mcopy -n -i "$f" "::/GUEST/$uname" - 2>/dev/null)" != "hello from the guest" ]; then
            why="'$uname' does not hold 'hello from the guest'"
        fi
        if [ -z "$why" ]; then
            report "[PASS] fatfs.host_sees_guest_files_$img"
        else
            report "[FAIL] fatfs.host_sees_guest_files_$img: $why"
            sed 's/^/    /' <<<"$listing" | tail -12
        fi
        i=$((i + 1))
    done
    rm -rf "$dir"
}

run_9p_share() {
    local log="$out/9p-persist.log" want="$out/9p-guest-expected.bin"
    mkdir -p build/p9fixture/d1/d2/d3/d4/d5/d6
    printf 'sabos p9 fixture at depth six\n' > build/p9fixture/d1/d2/d3/d4/d5/d6/deep.txt
    rm -rf build/p9persist
    bash scripts/qemu.sh --cmdline "selftest=p9fs_persist" --no-reboot --timeout 180 > "$log" 2>&1
    local rc=$?
    if [ "$rc" != 33 ]; then
        report "[FAIL] p9fs.host_sees_guest_file: QEMU exit status $rc (33 = the guest's write succeeded)"
        clean_log "$log" | tail -20 | sed 's/^/    /'
        rm -rf build/p9persist
        return
    fi
    build/blktool pattern 0x9f9f0001 30000 > "$want"
    if [ ! -f build/p9persist/guest.bin ]; then
        report "[FAIL] p9fs.host_sees_guest_file: build/p9persist/guest.bin does not exist on the host"
    elif cmp -s "$want" build/p9persist/guest.bin; then
        report "[PASS] p9fs.host_sees_guest_file"
    else
        report "[FAIL] p9fs.host_sees_guest_file: $(cmp "$want" build/p9persist/guest.bin 2>&1 | head -1)"
    fi
    rm -rf build/p9persist "$want"
}

# A FAT32 volume filled by the guest to ENOSPC (self-test group fatfs_fill_persist on /nvme)
# is clean for fsck.fat, and the fill file has the size the guest reported.
run_fat_fill() {
    local dir="$out/disks-fill" log="$out/fat-fill.log"
    persist_boot fatfs.guest_filled_nvme_to_enospc fatfs_fill_persist "$dir" "$log" || return
    local msg size want
    if msg=$(fsck.fat -n "$dir/nvme.img" 2>&1); then
        report "[PASS] fatfs.host_fsck_clean_after_fill"
    else
        report "[FAIL] fatfs.host_fsck_clean_after_fill: $(tail -2 <<<"$msg" | tr '\n' ' ')"
    fi
    want=$(clean_log "$log" | sed -nE 's/^fatfs: \/nvme took ([0-9]+) bytes before ENOSPC.*/\1/p' | tail -1)
    size=$(MTOOLS_SKIP_CHECK=1 mdir -i "$dir/nvme.img" -a ::/FILL.BIN 2>/dev/null | awk '/FILL/ {print $3; exit}' | tr -d ' ')
    if [ -n "$want" ] && [ "$size" = "$want" ]; then
        report "[PASS] fatfs.host_sees_fill_file"
    else
        report "[FAIL] fatfs.host_sees_fill_file: mdir shows '${size}' bytes, the guest wrote '${want}'"
    fi
    rm -rf "$dir"
}

# The shell over the serial console, driven by expect: prompt, help, lspci, an unknown
# command, then shutdown through ACPI S5.
run_shell() {
    local log="$out/shell.log"
    expect -f tests/integration/shell.exp > "$log" 2>&1
    local rc=$?
    if [ $rc = 0 ]; then
        report "[PASS] boot.shell_over_serial"
    else
        report "[FAIL] boot.shell_over_serial: expect exited with $rc ($(tail -1 "$log" | tr -d '\r'))"
        tr -d '\r' < "$log" | tail -20 | sed 's/^/    /'
    fi
}

# The real boot: init starts tsh on the serial console; tsh.exp drives it (hellostd from / and
# /9p, pipes, redirections, $?, a background job, ^C ending `sleep 100`, ^Z and fg, a child
# killed by SIGSEGV). It prints "[PASS] tsh_guest.NAME" lines and "tsh_guest: N passed, M failed".
# Self-test groups that need a device the default launcher does not attach (*_hw): each boots
# with it. The e1000e gets its own user network (guest 10.0.3.15, gateway 10.0.3.2).
run_hw_groups() {
    local log="$out/kernel-e1000e_hw.log"
    bash scripts/qemu.sh --cmdline "selftest=e1000e_hw" --no-reboot --timeout 240 -- \
        -netdev user,id=e1,net=10.0.3.0/24 -device e1000e,netdev=e1,mac=52:54:00:12:34:57 > "$log" 2>&1
    local rc=$? text
    text=$(clean_log "$log")
    grep -E '^\[(PASS|FAIL)\] ' <<<"$text" | sed 's/^\[PASS\] /[PASS] kernel./; s/^\[FAIL\] /[FAIL] kernel./' | tee -a "$results"
    grep -qE '^[0-9]+ passed, 0 failed$' <<<"$text" || report "[FAIL] kernel.e1000e_hw: no clean verdict (QEMU status $rc, see $log)"
}

# The guest on real networks (issue 7's Done-when 1, 2, 3, 5): DHCP, SLAAC, DNS, ping,
# selftest_net, 64 MiB TCP transfers against Linux over the TAP network with and without
# injected faults, 200 concurrent connections, two listeners accepting while a third connection
# goes out. Needs root and /dev/net/tun (else it fails, saying so); holds /tmp/sabos-tap.lock;
# brings the TAP network and the user-network servers up and leaves them as it found them.
# "[PASS] net_guest.NAME" lines and "net_guest: N passed, M failed"
# (tests/integration/net_guest.sh; transcript build/test/net-guest.transcript).
run_net_guest() {
    run_guest_script net_guest net-guest bash tests/integration/net_guest.sh
    grep -E '^net_guest: (time|figure) ' "$out/net-guest.log"
}

# run_guest_script NAME LOGNAME COMMAND...: runs a guest test script that prints
# "[PASS]/[FAIL] NAME.CHECK" lines and "NAME: N passed, M failed"; its log is
# $out/LOGNAME.log. A script that stops before its summary is a failure of its own.
run_guest_script() {
    local name=$1 log="$out/$2.log"
    shift 2
    "$@" > "$log" 2>&1
    local rc=$?
    tr -d '\r' < "$log" | grep -E "^\[(PASS|FAIL)\] $name\." | tee -a "$results"
    if ! tr -d '\r' < "$log" | grep -qE "^$name: [0-9]+ passed, [0-9]+ failed\$"; then
        report "[FAIL] $name.completed: the script exited with $rc before its summary"
        tr -d '\r' < "$log" | tail -20 | sed 's/^/    /'
    fi
}

run_tsh_guest() { run_guest_script tsh_guest tsh-guest expect -f tests/integration/tsh.exp; }

# init's respawn after kill -9 and the clean shutdown and reboot over the serial console, on
# raw disk copies the host then checks (fsck.fat, mtype): "[PASS] shutdown_guest.NAME" lines
# and "shutdown_guest: N passed, M failed" (tests/integration/shutdown_guest.exp).
run_shutdown_guest() { run_guest_script shutdown_guest shutdown-guest expect -f tests/integration/shutdown_guest.exp; }

# telnetd and httpd as init starts them at boot, through the forwarded ports with Debian's
# telnet (expect), curl, wrk and raw sockets, hostile input, kill -9 and init's restart:
# "[PASS] services_guest.NAME" lines and "services_guest: N passed, M failed"
# (tests/integration/services_guest.sh; wrk goes over the TAP network: holds /tmp/sabos-tap.lock).
run_services_guest() { run_guest_script services_guest services-guest bash tests/integration/services_guest.sh; }

for layer in "${layers[@]}"; do
    case "$layer" in
    host) run_host ;;
    kernel) run_kernel ;;
    boot) run_boot ;;
    shell) run_shell ;;
    tsh) run_tsh_guest ;;
    net) run_net_guest ;;
    shutdown) run_shutdown_guest ;;
    services) run_services_guest ;;
    hw) run_hw_groups ;;
    harness) run_harness ;;
    storage) run_storage ;;
    fatfill) run_fat_fill ;;
    firmware) run_loader_and_firmware ;;
    *) echo "test.sh: unknown layer $layer" >&2; exit 2 ;;
    esac
done
passed=$(grep -c '^\[PASS\]' "$results")
failed=$(grep -c '^\[FAIL\]' "$results")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
