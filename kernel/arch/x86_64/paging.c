/* paging.c: the kernel's page tables (Intel SDM vol. 3A §4.5 4-level paging, §4.6 access
 * rights, §11.12 PAT). Replaces the loader's tables with:
 *   - the direct map of every RAM-like region of the memory map at KERNEL_DIRECT_MAP
 *     (2 MiB pages where possible, read/write, no-execute),
 *   - the kernel image at KERNEL_IMAGE_BASE with W^X: text RX, rodata R+NX, data/bss RW+NX,
 *     the pages under the boot stack and the IST stacks left unmapped as guards, and the
 *     image's direct-map alias read-only,
 *   - MMIO mapped on demand, uncached (vmm_map_mmio) or write-combining (vmm_map_wc).
 * The lower half stays empty for user processes. All 256 upper-half PML4 entries exist from
 * the start (each with its PDPT), so user page tables can share them by copying the entries
 * once (kernel/mm/uvm.c). */
#include "types.h"
#include "cpu.h"
#include "mm.h"
#include "printk.h"
#include "panic.h"
#include "kstring.h"
#include "kernel.h"
#include "arch.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __kernel_end[], boot_stack_guard[];

static uint64_t *kernel_pml4;
static phys_addr_t kernel_pml4_phys;
static uint64_t nx_bit;
static const struct boot_info *bi_saved;

phys_addr_t virt_to_phys(const void *va) {
    uint64_t v = (uint64_t)(uintptr_t)va;
    if (v >= KERNEL_IMAGE_BASE) return v - bi_saved->kernel_virt + bi_saved->kernel_phys;
    if (v >= KERNEL_DIRECT_MAP) return v - KERNEL_DIRECT_MAP;
    return 0;
}

static uint64_t *new_table(void) {
    phys_addr_t pa = pmm_alloc();
    if (!pa) panic("paging: out of memory for page tables");
    uint64_t *t = phys_to_virt(pa);
    memset(t, 0, PAGE_SIZE);
    return t;
}

/* Returns the next-level table for entry idx, creating it (or splitting a 2 MiB page into
 * 512 4 KiB pages with the same rights) when needed. */
static uint64_t *next_level(uint64_t *table, unsigned idx) {
    uint64_t e = table[idx];
    if (!(e & PTE_P)) {
        uint64_t *t = new_table();
        table[idx] = virt_to_phys(t) | PTE_P | PTE_W;
        return t;
    }
    if (e & PTE_PS) {
        uint64_t *t = new_table();
        uint64_t base = e & PTE_ADDR & ~0x1fffffull;
        uint64_t flags = e & ~PTE_ADDR & ~PTE_PS; /* we never set the large-page PAT bit */
        for (int i = 0; i < 512; i++) t[i] = (base + (uint64_t)i * PAGE_SIZE) | flags;
        table[idx] = virt_to_phys(t) | PTE_P | PTE_W;
        return t;
    }
    return phys_to_virt(e & PTE_ADDR);
}

static void map_4k(uint64_t va, phys_addr_t pa, uint64_t flags) {
    uint64_t *pdpt = next_level(kernel_pml4, (va >> 39) & 511);
    uint64_t *pd = next_level(pdpt, (va >> 30) & 511);
    uint64_t *pt = next_level(pd, (va >> 21) & 511);
    pt[(va >> 12) & 511] = (pa & PTE_ADDR) | flags;
}

static void map_2m(uint64_t va, phys_addr_t pa, uint64_t flags) {
    uint64_t *pdpt = next_level(kernel_pml4, (va >> 39) & 511);
    uint64_t *pd = next_level(pdpt, (va >> 30) & 511);
    pd[(va >> 21) & 511] = (pa & PTE_ADDR) | flags | PTE_PS;
}

/* Maps [pa, pa+len) at the direct map with 2 MiB pages where the range allows. */
static void map_direct_range(phys_addr_t pa, uint64_t len, uint64_t flags) {
    phys_addr_t end = pa + len;
    pa = ALIGN_DOWN(pa, PAGE_SIZE);
    while (pa < end) {
        if (IS_ALIGNED(pa, MiB(2)) && end - pa >= MiB(2)) {
            map_2m(KERNEL_DIRECT_MAP + pa, pa, flags);
            pa += MiB(2);
        } else {
            map_4k(KERNEL_DIRECT_MAP + pa, pa, flags);
            pa += PAGE_SIZE;
        }
    }
}

/* RAM and firmware memory (ACPI tables, runtime services) are direct-mapped; MMIO and
 * reserved holes are not (they are mapped uncached on demand). */
static bool region_direct_mapped(const struct boot_mem_region *r) {
    if (r->kind == MEM_MMIO) return false;
    if (r->kind == MEM_RESERVED) return r->efi_type == 5 || r->efi_type == 6; /* runtime code/data */
    return true;
}

bool vmm_direct_mapped(phys_addr_t pa, size_t len) {
    if (!bi_saved) return false;
    phys_addr_t cur = pa, end = pa + len;
    if (end < pa) return false;
    while (cur < end) {
        bool found = false;
        for (uint32_t i = 0; i < bi_saved->mmap_count; i++) {
            const struct boot_mem_region *r = &bi_saved->mmap[i];
            if (!region_direct_mapped(r)) continue;
            if (cur >= r->base && cur < r->base + r->pages * PAGE_SIZE) {
                cur = r->base + r->pages * PAGE_SIZE;
                found = true;
                break;
            }
        }
        if (!found) return false;
    }
    return true;
}

static void *map_with(phys_addr_t pa, size_t size, uint64_t cache_bits) {
    if (!size || pa + size < pa) return NULL;
    /* One CPU runs kernel code: masking interrupts is the whole lock until SMP brings a
     * spinlock here. */
    uint64_t fl = irq_save();
    phys_addr_t start = ALIGN_DOWN(pa, PAGE_SIZE), end = ALIGN_UP(pa + size, PAGE_SIZE);
    for (phys_addr_t p = start; p < end; p += PAGE_SIZE) {
        uint64_t va = KERNEL_DIRECT_MAP + p;
        map_4k(va, p, PTE_P | PTE_W | PTE_G | nx_bit | cache_bits);
        invlpg((void *)(uintptr_t)va);
    }
    irq_restore(fl);
    return phys_to_virt(pa);
}

void *vmm_map_mmio(phys_addr_t pa, size_t size) { return map_with(pa, size, PTE_PCD | PTE_PWT); }

/* With our PAT layout, index 1 (PWT only) is write-combining. */
void *vmm_map_wc(phys_addr_t pa, size_t size) { return map_with(pa, size, PTE_PWT); }

bool vmm_kernel_readable(uint64_t va, size_t len) {
    if (len == 0 || va + len < va) return false;
    if (!kernel_pml4) /* still on the loader's tables: only the kernel image is known */
        return va >= KERNEL_IMAGE_BASE && va + len <= (uint64_t)(uintptr_t)__kernel_end;
    for (uint64_t page = ALIGN_DOWN(va, PAGE_SIZE); page < va + len; page += PAGE_SIZE)
        if (!vmm_query(page, NULL)) return false;
    return true;
}

/* Maps one 4 KiB kernel page read/write, no-execute (the tables on the way must exist or be
 * creatable). For regions outside the direct map, such as kernel stacks. */
void vmm_map_kernel_page(uint64_t va, phys_addr_t pa) {
    /* One CPU runs kernel code: masking interrupts is the whole lock until SMP brings a
     * spinlock (and TLB shootdowns) here. */
    uint64_t fl = irq_save();
    map_4k(va, pa, PTE_P | PTE_W | PTE_G | nx_bit);
    invlpg((void *)(uintptr_t)va);
    irq_restore(fl);
}

/* Removes the mapping of one 4 KiB kernel page (the page tables stay). */
void vmm_unmap_kernel_page(uint64_t va) {
    uint64_t fl = irq_save();
    uint64_t *t = kernel_pml4;
    int shifts[3] = {39, 30, 21};
    for (int level = 0; level < 3 && t; level++) {
        uint64_t e = t[(va >> shifts[level]) & 511];
        if (!(e & PTE_P) || (e & PTE_PS)) {
            t = NULL;
            break;
        }
        t = phys_to_virt(e & PTE_ADDR);
    }
    if (t) {
        t[(va >> 12) & 511] = 0;
        invlpg((void *)(uintptr_t)va);
    }
    irq_restore(fl);
}

/* Creates the page tables covering [va, va + len) in advance, so later map/unmap calls there
 * never allocate (the task stacks region: creating and freeing tasks leaves the frame count
 * where it was). */
void vmm_prepare_kernel_range(uint64_t va, uint64_t len) {
    uint64_t fl = irq_save();
    for (uint64_t a = ALIGN_DOWN(va, MiB(2)); a < va + len; a += MiB(2)) {
        uint64_t *pdpt = next_level(kernel_pml4, (a >> 39) & 511);
        uint64_t *pd = next_level(pdpt, (a >> 30) & 511);
        (void)next_level(pd, (a >> 21) & 511);
    }
    irq_restore(fl);
}

phys_addr_t vmm_translate(const void *va) {
    uint64_t v = (uint64_t)(uintptr_t)va, size = 0;
    uint64_t e = vmm_query(v, &size);
    if (!e) return 0;
    return (e & PTE_ADDR & ~(size - 1)) + (v & (size - 1));
}

/* Physical address of the kernel's top-level table; user PML4s copy its upper half. */
phys_addr_t vmm_kernel_pml4(void) { return kernel_pml4_phys; }

/* PTE_NX when the CPU has NX (EFER.NXE set in paging_init), else 0. */
uint64_t vmm_nx_bit(void) { return nx_bit; }

/* Pages of the image left unmapped: under the boot stack and under each IST stack. */
static bool is_guard_page(uint64_t va) {
    if (va == (uint64_t)(uintptr_t)boot_stack_guard) return true;
    for (int i = 0; i < 3; i++)
        if (va == (uint64_t)(uintptr_t)gdt_ist_guard_page(i)) return true;
    return false;
}

/* Builds the kernel page tables and switches to them. Needs pmm_init(). */
void paging_init(const struct boot_info *bi) {
    bi_saved = bi;
    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 20)) {
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | (1ull << 11)); /* NXE */
        nx_bit = PTE_NX;
    } else {
        printk(LOG_WARN, "paging: CPU has no NX bit; data pages stay executable\n");
    }
    /* PAT: 0 WB, 1 WC, 2 UC-, 3 UC, then the same again (SDM §11.12.4). Without PAT, PWT
     * alone means write-through: framebuffers are slower but still correct. */
    cpuid(1, 0, &a, &b, &c, &d);
    if (d & (1u << 16))
        wrmsr(MSR_PAT, 0x0007010600070106ull);
    else
        printk(LOG_WARN, "paging: CPU has no PAT; write-combining falls back to write-through\n");

    kernel_pml4 = new_table();
    kernel_pml4_phys = virt_to_phys(kernel_pml4);
    /* Every upper-half PML4 entry gets its PDPT now (256 frames, 1 MiB), so the kernel's
     * PML4 entries 256-511 never change again: a user PML4 copies them once at creation
     * (uvm.c) and sees every later kernel mapping, which is made in the shared lower levels. */
    for (unsigned i = 256; i < 512; i++) (void)next_level(kernel_pml4, i);
    uint64_t data_flags = PTE_P | PTE_W | PTE_G | nx_bit;
    for (uint32_t i = 0; i < bi->mmap_count; i++) {
        const struct boot_mem_region *r = &bi->mmap[i];
        if (region_direct_mapped(r))
            map_direct_range(r->base, r->pages * PAGE_SIZE, data_flags);
    }
    /* Kernel image with W^X. */
    for (uint64_t va = bi->kernel_virt; va < (uint64_t)(uintptr_t)__kernel_end; va += PAGE_SIZE) {
        phys_addr_t pa = va - bi->kernel_virt + bi->kernel_phys;
        uint64_t flags;
        if (va >= (uint64_t)(uintptr_t)__text_start && va < (uint64_t)(uintptr_t)__text_end)
            flags = PTE_P | PTE_G;
        else if (va >= (uint64_t)(uintptr_t)__rodata_start && va < (uint64_t)(uintptr_t)__data_start)
            flags = PTE_P | PTE_G | nx_bit;
        else
            flags = data_flags;
        if (is_guard_page(va)) continue;
        map_4k(va, pa, flags);
    }
    /* The image's frames are also reachable through the direct map: make that alias
     * read-only and no-execute, so W^X cannot be bypassed through phys_to_virt(). */
    for (uint64_t off = 0; off < bi->kernel_pages * PAGE_SIZE; off += PAGE_SIZE)
        map_4k(KERNEL_DIRECT_MAP + bi->kernel_phys + off, bi->kernel_phys + off, PTE_P | PTE_G | nx_bit);
    write_cr4(read_cr4() | (1u << 7));   /* PGE */
    write_cr0(read_cr0() | (1u << 16));  /* WP: the kernel honours read-only pages */
    write_cr3(kernel_pml4_phys);
}

uint64_t vmm_query(uint64_t va, uint64_t *page_size) {
    uint64_t *t = kernel_pml4;
    if (!t) return 0;
    int shifts[4] = {39, 30, 21, 12};
    for (int level = 0; level < 4; level++) {
        uint64_t e = t[(va >> shifts[level]) & 511];
        if (!(e & PTE_P)) return 0;
        if (level == 3 || (level > 0 && (e & PTE_PS))) {
            if (page_size) *page_size = 1ull << shifts[level];
            return e;
        }
        t = phys_to_virt(e & PTE_ADDR);
    }
    return 0;
}
