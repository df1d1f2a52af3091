/* bootinfo.h: the one structure the UEFI loader (boot/loader.c) hands to the kernel.
 * Shared by loader and kernel; all addresses are physical unless named _virt. */
#pragma once
#include <stdint.h>

#define BOOTINFO_MAGIC 0x5341424f53424f4full /* "SABOSBOO" */
#define BOOTINFO_VERSION 1
#define BOOTINFO_MAX_MMAP 512
#define BOOTINFO_CMDLINE_MAX 256
#define BOOTINFO_MMAP_TRUNCATED 1u /* the firmware's map had more than BOOTINFO_MAX_MMAP entries */

/* Memory region kinds, simplified from the UEFI memory types. */
enum mem_kind {
    MEM_USABLE = 1,        /* EfiConventionalMemory: free now */
    MEM_BOOT_RECLAIM = 2,  /* boot-services code/data: free once the kernel no longer needs them */
    MEM_LOADER = 3,        /* kernel image, boot info, loader page tables, kernel file copy */
    MEM_ACPI_RECLAIM = 4,  /* ACPI tables */
    MEM_ACPI_NVS = 5,
    MEM_MMIO = 6,
    MEM_RESERVED = 7,      /* everything else (runtime services, unusable, ...) */
};

struct boot_mem_region {
    uint64_t base;
    uint64_t pages; /* 4 KiB pages */
    uint32_t kind;  /* enum mem_kind */
    uint32_t efi_type;
};

enum fb_format { FB_NONE = 0, FB_RGBX = 1, FB_BGRX = 2 };

struct boot_framebuffer {
    uint64_t base;
    uint64_t size;
    uint32_t width, height;
    uint32_t pixels_per_line;
    uint32_t format; /* enum fb_format; FB_NONE when the firmware had no usable GOP mode */
};

struct boot_info {
    uint64_t magic;
    uint32_t version;
    uint32_t mmap_count;
    struct boot_mem_region mmap[BOOTINFO_MAX_MMAP];
    struct boot_framebuffer fb;
    uint64_t rsdp;          /* 0 when the firmware had no ACPI table */
    uint32_t rsdp_revision; /* 2 = found through the ACPI 2.0 GUID, 0 = through the 1.0 GUID */
    uint32_t flags;         /* BOOTINFO_* flags below */
    uint64_t kernel_phys;   /* physical base of the loaded image (its lowest PT_LOAD) */
    uint64_t kernel_virt;   /* virtual address it was linked at */
    uint64_t kernel_pages;
    uint64_t kernel_file;   /* physical address of a copy of the whole kernel ELF (symbols) */
    uint64_t kernel_file_size;
    uint64_t loader_tsc;    /* TSC when the loader started */
    char cmdline[BOOTINFO_CMDLINE_MAX];
};

/* Virtual address layout (see docs/memory.md). */
#define KERNEL_DIRECT_MAP 0xffff800000000000ull /* all physical memory, by the loader and kernel */
#define KERNEL_IMAGE_BASE 0xffffffff80000000ull
