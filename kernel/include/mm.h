/* mm.h: physical frames, virtual memory and the kernel heap.
 * pmm: kernel/mm/pmm.c, heap: kernel/mm/heap.c, vmm: kernel/arch/x86_64/paging.c. */
#pragma once
#include "types.h"
#include "bootinfo.h"

/* ---- physical frame allocator (buddy allocator over the UEFI memory map) ---- */
#define PMM_MAX_ORDER 10 /* largest block: 2^10 frames = 4 MiB */
struct pmm_stats {
    uint64_t total_frames;  /* usable RAM managed by the allocator */
    uint64_t free_frames;
    uint64_t reserved_frames; /* RAM the allocator does not manage (kernel, loader, ACPI) */
    uint64_t alloc_calls, free_calls;
};
/* Builds the free lists from the boot memory map (MEM_USABLE only). */
void pmm_init(const struct boot_info *bi);
/* Adds the boot-services regions once nothing needs them any more. Returns frames added. */
uint64_t pmm_reclaim_boot_services(const struct boot_info *bi);
/* Allocates 2^order contiguous frames aligned to their size; returns physical address or 0.
 * The allocator never touches the frames it manages: their contents are whatever the last
 * owner (or the firmware) left, so zero them if that matters (applies to every pmm_alloc*). */
phys_addr_t pmm_alloc_order(unsigned order);
void pmm_free_order(phys_addr_t pa, unsigned order);
/* One frame. */
phys_addr_t pmm_alloc(void);
void pmm_free(phys_addr_t pa);
/* count contiguous frames, physically aligned to align bytes (a power of two >= 4096), for DMA. */
phys_addr_t pmm_alloc_contig(size_t count, size_t align);
void pmm_free_contig(phys_addr_t pa, size_t count);
void pmm_get_stats(struct pmm_stats *out);
/* Order of the allocated block starting at pa, or -1 if pa does not start an allocated block. */
int pmm_allocated_order(phys_addr_t pa);
/* Free blocks currently listed at one order (for /proc/meminfo-style reports and tests). */
uint64_t pmm_free_blocks(unsigned order);
/* Share counts of single frames (order-0 blocks), kept in the allocator's metadata, for
 * frames several user address spaces map copy-on-write (uvm.c). A freshly allocated frame
 * has count 1. pmm_frame_ref adds a sharer and returns the new count; pmm_frame_unref drops
 * one and frees the frame when none is left, returning the count left (0 = freed);
 * pmm_frame_refs reads the count. Misuse (pa not an allocated single frame) is reported and
 * gives 0. pmm_free of a frame whose count is above 1 is reported and ignored. */
uint32_t pmm_frame_ref(phys_addr_t pa);
uint32_t pmm_frame_unref(phys_addr_t pa);
uint32_t pmm_frame_refs(phys_addr_t pa);

/* ---- virtual memory ---- */
#ifdef HOST_TEST
/* Host tests back "physical memory" with a buffer: phys_to_virt adds this offset instead. */
extern uint64_t host_direct_map_offset;
static inline void *phys_to_virt(phys_addr_t pa) { return (void *)(uintptr_t)(pa + host_direct_map_offset); }
#else
static inline void *phys_to_virt(phys_addr_t pa) { return (void *)(uintptr_t)(pa + KERNEL_DIRECT_MAP); }
#endif
phys_addr_t virt_to_phys(const void *va);
/* Maps [pa, pa+size) uncached into the direct map and returns its virtual address (or NULL). */
void *vmm_map_mmio(phys_addr_t pa, size_t size);
/* Maps with write-combining cache policy (framebuffers). */
void *vmm_map_wc(phys_addr_t pa, size_t size);

/* ---- kernel heap ---- */
struct heap_stats {
    uint64_t bytes_in_use;   /* bytes handed out to live allocations (rounded up to the size
                              * class; large ones: requested size) */
    uint64_t allocations;    /* live allocation count */
    uint64_t pages_held;     /* frames the heap holds from the pmm */
    uint64_t alloc_calls, free_calls;
};
/* Largest kmalloc: one buddy block minus the 16-byte header of a large allocation. */
#define KMALLOC_MAX_SIZE ((PAGE_SIZE << PMM_MAX_ORDER) - 16)
/* Returns 16-byte aligned memory or NULL when memory is short. kmalloc(0) returns NULL,
 * and so does a size above KMALLOC_MAX_SIZE. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
/* Frees memory from kmalloc/kzalloc; kfree(NULL) does nothing. */
void kfree(void *p);
void heap_get_stats(struct heap_stats *out);

/* Builds the kernel page tables (direct map, W^X image, guard pages) and switches to them.
 * Needs pmm_init(); called once by kmain. */
void paging_init(const struct boot_info *bi);
/* The leaf page-table entry mapping va in the kernel tables (0 if unmapped), and the size of
 * the page it maps (4 KiB or 2 MiB). For tests and diagnostics. */
uint64_t vmm_query(uint64_t va, uint64_t *page_size);
/* True when every byte of [va, va+len) is mapped in the kernel tables: lets the exception
 * path follow frame pointers without faulting again. */
bool vmm_kernel_readable(uint64_t va, size_t len);

/* Kernel mappings outside the direct map (task stacks): map one 4 KiB page read/write NX,
 * unmap one, and create the page tables of a range ahead of time. */
void vmm_map_kernel_page(uint64_t va, phys_addr_t pa);
void vmm_unmap_kernel_page(uint64_t va);
void vmm_prepare_kernel_range(uint64_t va, uint64_t len);
/* Where kernel task stacks live: KSTACK_SLOTS slots of KSTACK_SLOT_SIZE bytes, the stack at
 * the top of each slot and the rest of the slot (at least one page) unmapped as a guard. */
#define KSTACK_REGION 0xffffc00000000000ull
#define KSTACK_SLOT_SIZE 0x8000ull /* 32 KiB: 16 KiB guard + 16 KiB stack */
#define KSTACK_SLOTS 4096

/* True when [pa, pa+len) lies in memory the direct map covers (RAM and firmware tables). */
bool vmm_direct_mapped(phys_addr_t pa, size_t len);

/* Physical address of the kernel's PML4. Its upper half (entries 256-511) is complete from
 * paging_init on and never changes afterwards, so every user PML4 shares the kernel's
 * mappings by copying those 256 entries once (uvm.c). */
phys_addr_t vmm_kernel_pml4(void);
/* The no-execute PTE bit (bit 63) when the CPU has NX and EFER.NXE is on, else 0. */
uint64_t vmm_nx_bit(void);

/* Physical address behind any mapped kernel virtual address (direct map, image, stacks);
 * 0 when unmapped. */
phys_addr_t vmm_translate(const void *va);
