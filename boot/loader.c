/* loader.c: the SABOS UEFI loader (UEFI Specification 2.10: §7 boot services, §12.9 GOP,
 * §13 file protocols, §4.6 configuration table; ELF-64 Object File Format 1.5 for the kernel).
 *
 * Steps: take the kernel command line from QEMU's fw_cfg file "opt/sabos/cmdline" (or, on other
 * firmware, \sabos\cmdline.txt) and read \sabos\kernel.elf from the ESP it was loaded from; load
 * the kernel's PT_LOAD segments into one contiguous block of pages; choose a GOP mode; find the
 * RSDP (ACPI 2.0 GUID first, then 1.0); build page tables (identity map for the switch, the
 * direct map of physical memory at KERNEL_DIRECT_MAP, the kernel image at its link address);
 * take the memory map and ExitBootServices (retrying when the map key went stale); load CR3 and
 * jump to the kernel entry with the boot_info pointer (a direct-map address) in RDI.
 * Any error prints a clear reason on the screen and on COM1 and stops. */
#include <efi.h>
#include <efilib.h>
#include <elf.h>
#include "bootinfo.h"

#define KERNEL_PATH L"\\sabos\\kernel.elf"
#define CMDLINE_PATH L"\\sabos\\cmdline.txt"
#define PREFERRED_WIDTH 1024
#define PREFERRED_HEIGHT 768

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;
static EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;

/* ---- COM1 output, so loader errors also reach the serial console ---- */
static inline void io_out8(UINT16 port, UINT8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline UINT8 io_in8(UINT16 port) { UINT8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void serial_putc(char c) {
    for (int i = 0; i < 100000 && !(io_in8(0x3f8 + 5) & 0x20); i++)
        ;
    io_out8(0x3f8, (UINT8)c);
}
static void serial_puts(const char *s) {
    for (; *s; s++) {
        if (*s == '\n') serial_putc('\r');
        serial_putc(*s);
    }
}

/* Prints "loader: <msg>" through the firmware console, which OVMF shows on the screen and
 * mirrors to the serial port. Without a console (ConOut missing), writes COM1 directly. */
static void say(const char *msg) {
    CHAR16 wide[160];
    UINTN i = 0;
    for (; msg[i] && i < 159; i++) wide[i] = (CHAR16)msg[i];
    wide[i] = 0;
    if (ST && ST->ConOut) {
        Print(L"loader: %s\r\n", wide);
        return;
    }
    serial_puts("loader: ");
    serial_puts(msg);
    serial_puts("\n");
}

static void stop(const char *why, EFI_STATUS st) __attribute__((noreturn));
static void stop(const char *why, EFI_STATUS st) {
    char buf[200];
    UINTN n = 0;
    const char *prefix = "error: ";
    for (const char *p = prefix; *p; p++) buf[n++] = *p;
    for (const char *p = why; *p && n < 150; p++) buf[n++] = *p;
    if (st != EFI_SUCCESS) {
        const char *s = " (EFI status 0x";
        for (const char *p = s; *p; p++) buf[n++] = *p;
        for (int sh = 60; sh >= 0; sh -= 4) {
            int d = (int)((st >> sh) & 0xf);
            if (n < 190) buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        }
        buf[n++] = ')';
    }
    buf[n] = 0;
    say(buf);
    say("stopped. Power the machine off.");
    for (;;) __asm__ volatile("cli; hlt");
}

/* Allocates zeroed pages; `what` names them in the error message when memory is short. */
static void *zalloc_pages(UINTN pages, EFI_MEMORY_TYPE type, const char *what) {
    EFI_PHYSICAL_ADDRESS pa = 0;
    EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, type, pages, &pa);
    if (EFI_ERROR(st)) {
        char msg[120] = "out of memory for ";
        UINTN n = 18;
        for (const char *p = what; *p && n < 100; p++) msg[n++] = *p;
        const char *tail = " (machine too small?)";
        for (const char *p = tail; *p && n < 119; p++) msg[n++] = *p;
        msg[n] = 0;
        stop(msg, st);
    }
    UINT8 *p = (UINT8 *)(UINTN)pa;
    for (UINTN i = 0; i < pages * 4096; i++) p[i] = 0;
    return p;
}

/* ---- QEMU fw_cfg (docs/specs/fw_cfg.rst in QEMU: selector port 0x510, data port 0x511,
 * signature "QEMU" at key 0, the file directory at key 0x19 with big-endian fields). The
 * launcher passes the kernel command line as the fw_cfg file "opt/sabos/cmdline", so the
 * disk images never need to be modified per boot. */
static void fwcfg_select(UINT16 key) { __asm__ volatile("outw %0, %1" ::"a"(key), "Nd"((UINT16)0x510)); }
static void fwcfg_read(void *buf, UINTN len) {
    UINT8 *p = buf;
    for (UINTN i = 0; i < len; i++) p[i] = io_in8(0x511);
}
static UINT32 be32(const UINT8 *p) { return ((UINT32)p[0] << 24) | ((UINT32)p[1] << 16) | ((UINT32)p[2] << 8) | p[3]; }

/* Copies the fw_cfg file `name` (at most max-1 bytes, NUL-terminated); false if absent. */
static BOOLEAN fwcfg_file(const char *name, char *out, UINTN max) {
    UINT8 sig[4];
    fwcfg_select(0x0000);
    fwcfg_read(sig, 4);
    if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U') return FALSE;
    UINT8 cnt[4];
    fwcfg_select(0x0019);
    fwcfg_read(cnt, 4);
    UINT32 count = be32(cnt);
    for (UINT32 i = 0; i < count && i < 4096; i++) {
        UINT8 e[64];
        fwcfg_read(e, 64); /* size(4) select(2) reserved(2) name(56) */
        UINTN k = 0;
        while (k < 56 && name[k] && e[8 + k] == (UINT8)name[k]) k++;
        if (k < 56 && name[k] == 0 && e[8 + k] == 0) {
            UINT32 size = be32(e);
            UINT16 key = (UINT16)((e[4] << 8) | e[5]);
            UINTN n = size < max - 1 ? size : max - 1;
            fwcfg_select(key);
            fwcfg_read(out, n);
            out[n] = 0;
            return TRUE;
        }
    }
    return FALSE;
}

/* Reads a whole file from the boot volume into LoaderData pages. Returns NULL if absent. */
static void *read_file(EFI_FILE_HANDLE root, CHAR16 *path, UINTN *size_out, BOOLEAN required) {
    EFI_FILE_HANDLE f;
    EFI_STATUS st = uefi_call_wrapper(root->Open, 5, root, &f, path, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st)) {
        if (required) stop("cannot open \\sabos\\kernel.elf on the boot volume", st);
        return NULL;
    }
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) stop("cannot read file information", EFI_SUCCESS);
    UINTN size = info->FileSize;
    FreePool(info);
    UINT8 *buf = zalloc_pages((size + 4095) / 4096 + 1, EfiLoaderData, "a file from the boot volume");
    UINTN got = size;
    st = uefi_call_wrapper(f->Read, 3, f, &got, buf);
    if (EFI_ERROR(st) || got != size) stop("short read from the boot volume", st);
    uefi_call_wrapper(f->Close, 1, f);
    *size_out = size;
    return buf;
}

/* Checks the ELF header and loads every PT_LOAD into one block; returns the entry point. */
static UINT64 load_kernel(UINT8 *file, UINTN size, struct boot_info *bi) {
    Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
    if (size < sizeof(*eh) || eh->e_ident[EI_MAG0] != ELFMAG0 || eh->e_ident[EI_MAG1] != ELFMAG1 ||
        eh->e_ident[EI_MAG2] != ELFMAG2 || eh->e_ident[EI_MAG3] != ELFMAG3)
        stop("kernel.elf is not an ELF file", EFI_SUCCESS);
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
        stop("kernel.elf is not an x86-64 executable", EFI_SUCCESS);
    if (eh->e_phoff > size || eh->e_phnum == 0 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_phoff + (UINT64)eh->e_phnum * sizeof(Elf64_Phdr) > size)
        stop("kernel.elf has a bad program header table", EFI_SUCCESS);
    Elf64_Phdr *ph = (Elf64_Phdr *)(file + eh->e_phoff);
    UINT64 lo = ~0ull, hi = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD) continue;
        if (ph[i].p_offset + ph[i].p_filesz > size || ph[i].p_filesz > ph[i].p_memsz)
            stop("kernel.elf has a segment outside the file", EFI_SUCCESS);
        if (ph[i].p_vaddr < KERNEL_IMAGE_BASE) stop("kernel.elf is not linked in the higher half", EFI_SUCCESS);
        if (ph[i].p_vaddr < lo) lo = ph[i].p_vaddr;
        if (ph[i].p_vaddr + ph[i].p_memsz > hi) hi = ph[i].p_vaddr + ph[i].p_memsz;
    }
    if (hi <= lo) stop("kernel.elf has no loadable segment", EFI_SUCCESS);
    lo &= ~0xfffull;
    UINT64 pages = (hi - lo + 4095) / 4096;
    if (pages > (64ull << 20) / 4096) stop("kernel image is larger than 64 MiB", EFI_SUCCESS);
    UINT8 *image = zalloc_pages(pages, EfiLoaderData, "the kernel image");
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD) continue;
        UINT8 *dst = image + (ph[i].p_vaddr - lo);
        for (UINT64 b = 0; b < ph[i].p_filesz; b++) dst[b] = file[ph[i].p_offset + b];
    }
    if (eh->e_entry < lo || eh->e_entry >= hi) stop("kernel entry point is outside the image", EFI_SUCCESS);
    bi->kernel_phys = (UINT64)(UINTN)image;
    bi->kernel_virt = lo;
    bi->kernel_pages = pages;
    return eh->e_entry;
}

/* Picks the GOP mode closest to 1024x768 with a 32-bit direct-colour pixel format. */
static void setup_gop(struct boot_info *bi) {
    EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
    EFI_STATUS st = uefi_call_wrapper(BS->LocateProtocol, 3, &gop_guid, NULL, (void **)&gop);
    bi->fb.format = FB_NONE;
    if (EFI_ERROR(st) || !gop) {
        say("warning: no graphics output protocol, the kernel will use the serial console only");
        return;
    }
    UINT32 best = ~0u;
    UINT64 best_score = ~0ull;
    for (UINT32 m = 0; m < gop->Mode->MaxMode; m++) {
        EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info;
        UINTN sz;
        if (EFI_ERROR(uefi_call_wrapper(gop->QueryMode, 4, gop, m, &sz, &info))) continue;
        if (info->PixelFormat != PixelBlueGreenRedReserved8BitPerColor &&
            info->PixelFormat != PixelRedGreenBlueReserved8BitPerColor)
            continue;
        INT64 dw = (INT64)info->HorizontalResolution - PREFERRED_WIDTH;
        INT64 dh = (INT64)info->VerticalResolution - PREFERRED_HEIGHT;
        UINT64 score = (UINT64)(dw * dw + dh * dh);
        if (score < best_score) {
            best_score = score;
            best = m;
        }
    }
    if (best == ~0u) {
        say("warning: no GOP mode with a 32-bit pixel format, the kernel will use serial only");
        return;
    }
    if (best != gop->Mode->Mode) {
        st = uefi_call_wrapper(gop->SetMode, 2, gop, best);
        if (EFI_ERROR(st)) {
            say("warning: could not set the GOP mode, keeping the current one");
        }
    }
    EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *cur = gop->Mode->Info;
    if (cur->PixelFormat != PixelBlueGreenRedReserved8BitPerColor &&
        cur->PixelFormat != PixelRedGreenBlueReserved8BitPerColor) {
        say("warning: the current GOP mode has no usable pixel format, serial only");
        return;
    }
    bi->fb.base = gop->Mode->FrameBufferBase;
    bi->fb.size = gop->Mode->FrameBufferSize;
    bi->fb.width = cur->HorizontalResolution;
    bi->fb.height = cur->VerticalResolution;
    bi->fb.pixels_per_line = cur->PixelsPerScanLine;
    bi->fb.format = cur->PixelFormat == PixelBlueGreenRedReserved8BitPerColor ? FB_BGRX : FB_RGBX;
}

static void find_rsdp(struct boot_info *bi) {
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        if (CompareGuid(&ST->ConfigurationTable[i].VendorGuid, &acpi20_guid) == 0) {
            bi->rsdp = (UINT64)(UINTN)ST->ConfigurationTable[i].VendorTable;
            bi->rsdp_revision = 2;
            return;
        }
    }
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        if (CompareGuid(&ST->ConfigurationTable[i].VendorGuid, &acpi10_guid) == 0) {
            bi->rsdp = (UINT64)(UINTN)ST->ConfigurationTable[i].VendorTable;
            bi->rsdp_revision = 0;
            return;
        }
    }
    say("warning: the firmware has no ACPI table; the kernel will fall back to the PIC");
}

/* ---- page tables: 2 MiB pages for the identity and direct maps, 4 KiB for the kernel ---- */
#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_PS 0x80ull
#define ADDR_MASK 0x000ffffffffff000ull

static UINT64 *table_at(UINT64 *parent, UINTN index) {
    if (!(parent[index] & PTE_P)) {
        UINT64 *t = zalloc_pages(1, EfiLoaderData, "page tables");
        parent[index] = (UINT64)(UINTN)t | PTE_P | PTE_W;
    }
    return (UINT64 *)(UINTN)(parent[index] & ADDR_MASK);
}

static UINT64 *build_page_tables(struct boot_info *bi, UINT64 phys_top) {
    UINT64 *pml4 = zalloc_pages(1, EfiLoaderData, "page tables");
    /* Identity map [0, phys_top) and the same at KERNEL_DIRECT_MAP, sharing the PDPTs. */
    UINTN direct_slot = (KERNEL_DIRECT_MAP >> 39) & 511;
    for (UINT64 pa = 0; pa < phys_top; pa += 0x200000) {
        UINT64 *pdpt = table_at(pml4, (pa >> 39) & 511);
        UINT64 *pd = table_at(pdpt, (pa >> 30) & 511);
        pd[(pa >> 21) & 511] = pa | PTE_P | PTE_W | PTE_PS;
    }
    for (UINTN i = 0; i < direct_slot && i < 256; i++)
        if (pml4[i] & PTE_P) pml4[direct_slot + i] = pml4[i];
    /* The kernel image at its link address. */
    for (UINT64 off = 0; off < bi->kernel_pages * 4096; off += 4096) {
        UINT64 va = bi->kernel_virt + off;
        UINT64 *pdpt = table_at(pml4, (va >> 39) & 511);
        UINT64 *pd = table_at(pdpt, (va >> 30) & 511);
        UINT64 *pt = table_at(pd, (va >> 21) & 511);
        pt[(va >> 12) & 511] = (bi->kernel_phys + off) | PTE_P | PTE_W;
    }
    return pml4;
}

static UINT32 classify(UINT32 efi_type) {
    switch (efi_type) {
    case EfiConventionalMemory: return MEM_USABLE;
    case EfiBootServicesCode:
    case EfiBootServicesData: return MEM_BOOT_RECLAIM;
    case EfiLoaderCode:
    case EfiLoaderData: return MEM_LOADER;
    case EfiACPIReclaimMemory: return MEM_ACPI_RECLAIM;
    case EfiACPIMemoryNVS: return MEM_ACPI_NVS;
    case EfiMemoryMappedIO:
    case EfiMemoryMappedIOPortSpace: return MEM_MMIO;
    default: return MEM_RESERVED;
    }
}

static UINT64 read_tsc(void) {
    UINT32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((UINT64)hi << 32) | lo;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab) {
    UINT64 start_tsc = read_tsc();
    InitializeLib(image, systab);
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
    say("SABOS loader");

    struct boot_info *bi = zalloc_pages((sizeof(struct boot_info) + 4095) / 4096, EfiLoaderData, "the boot info");
    bi->magic = BOOTINFO_MAGIC;
    bi->version = BOOTINFO_VERSION;
    bi->loader_tsc = start_tsc;

    EFI_LOADED_IMAGE *li;
    EFI_GUID lip = LOADED_IMAGE_PROTOCOL;
    EFI_STATUS st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &lip, (void **)&li);
    if (EFI_ERROR(st)) stop("cannot get the loaded image protocol", st);
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
    if (!root) stop("cannot open the boot volume", EFI_SUCCESS);

    UINTN cmd_size = 0;
    char fw_cmd[BOOTINFO_CMDLINE_MAX];
    char *cmd = NULL;
    if (fwcfg_file("opt/sabos/cmdline", fw_cmd, sizeof(fw_cmd))) {
        cmd = fw_cmd;
        cmd_size = strlena((CHAR8 *)fw_cmd);
    } else {
        cmd = read_file(root, CMDLINE_PATH, &cmd_size, FALSE);
    }
    if (cmd) {
        UINTN n = 0;
        for (; n < cmd_size && n < BOOTINFO_CMDLINE_MAX - 1 && cmd[n] != '\n' && cmd[n] != '\r'; n++)
            bi->cmdline[n] = cmd[n];
        bi->cmdline[n] = 0;
    }

    UINTN ksize = 0;
    UINT8 *kfile = read_file(root, KERNEL_PATH, &ksize, TRUE);
    UINT64 entry = load_kernel(kfile, ksize, bi);
    bi->kernel_file = (UINT64)(UINTN)kfile;
    bi->kernel_file_size = ksize;

    setup_gop(bi);
    find_rsdp(bi);

    /* The highest physical address in the map decides how far the direct map reaches
     * (at least 4 GiB, so the low MMIO holes are reachable before the kernel remaps them). */
    UINTN map_size = 0, map_key, desc_size;
    UINT32 desc_ver;
    EFI_MEMORY_DESCRIPTOR *map = NULL;
    st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &map_key, &desc_size, &desc_ver);
    UINTN map_pages = (map_size + 16 * desc_size) / 4096 + 2;
    map = zalloc_pages(map_pages, EfiLoaderData, "the memory map");
    map_size = map_pages * 4096;
    st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &map_key, &desc_size, &desc_ver);
    if (EFI_ERROR(st)) stop("cannot read the memory map", st);
    UINT64 phys_top = 0x100000000ull;
    for (UINTN off = 0; off < map_size; off += desc_size) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)map + off);
        UINT64 end = d->PhysicalStart + d->NumberOfPages * 4096;
        if (d->Type != EfiMemoryMappedIO && d->Type != EfiMemoryMappedIOPortSpace && end > phys_top)
            phys_top = end;
    }
    phys_top = (phys_top + 0x1fffff) & ~0x1fffffull;
    UINT64 *pml4 = build_page_tables(bi, phys_top);

    say("starting the kernel");
    /* The final map: after this no more allocations, so the key stays valid unless the firmware
     * changes the map itself; then we fetch it again (UEFI 2.10 §7.4 ExitBootServices). */
    for (int attempt = 0;; attempt++) {
        map_size = map_pages * 4096;
        st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &map_key, &desc_size, &desc_ver);
        if (EFI_ERROR(st)) stop("cannot read the final memory map", st);
        st = uefi_call_wrapper(BS->ExitBootServices, 2, image, map_key);
        if (!EFI_ERROR(st)) break;
        if (attempt >= 8) stop("ExitBootServices kept failing", st);
    }
    /* Boot services are gone: no Print, no allocation. Convert the map. */
    UINT32 n = 0;
    for (UINTN off = 0; off < map_size && n < BOOTINFO_MAX_MMAP; off += desc_size) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)map + off);
        bi->mmap[n].base = d->PhysicalStart;
        bi->mmap[n].pages = d->NumberOfPages;
        bi->mmap[n].efi_type = d->Type;
        bi->mmap[n].kind = classify(d->Type);
        n++;
    }
    bi->mmap_count = n;
    if (n < map_size / desc_size) bi->flags |= BOOTINFO_MMAP_TRUNCATED;

    UINT64 bi_virt = (UINT64)(UINTN)bi + KERNEL_DIRECT_MAP;
    __asm__ volatile("cli\n"
                     "mov %0, %%cr3\n"
                     "mov %1, %%rdi\n"
                     "xor %%ebp, %%ebp\n"
                     "jmp *%2\n" ::"r"((UINT64)(UINTN)pml4),
                     "r"(bi_virt), "r"(entry)
                     : "rdi", "memory");
    for (;;) __asm__ volatile("hlt");
    return EFI_SUCCESS;
}
