/* uvm_internal.h: what the files of the user address-space code share (uvm.c: address
 * spaces, page tables, fork; uvm_map.c: regions, mmap/munmap/mprotect/madvise/brk/stack;
 * uvm_fault.c: page faults, uvm_read/uvm_write; uaccess.c: the user-copy fixups;
 * uvm_selftest.c: tests). Not for other subsystems: they use uvm.h.
 *
 * Page-table entries follow the Intel SDM vol. 3A §4.5 (4-level paging), table 4-19/4-20:
 * bits 9-11 and 52-62 are ignored by the CPU and free for software. */
#pragma once
#include "types.h"
#include "uvm.h"
#include "sync.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PS (1ull << 7)
#define PTE_COW (1ull << 9)       /* software: frame shared copy-on-write, write fault copies */
#define PTE_PROTNONE (1ull << 10) /* software, with P clear: a frame held by a PROT_NONE page */
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* A leaf entry holds a frame when present, or when PROT_NONE keeps it not present. */
static inline bool pte_has_frame(uint64_t e) { return (e & (PTE_P | PTE_PROTNONE)) != 0; }

#define UVM_MAX_REGIONS 16384 /* like Linux's max_map_count, but smaller: mmap gives -ENOMEM */

/* One region (VMA): [start, end), page aligned. */
struct vma {
    struct vma *next;        /* sorted by start, no overlaps */
    uint64_t start, end;
    int prot;                /* PROT_* */
    int flags;               /* MAP_SHARED or MAP_PRIVATE, MAP_ANONYMOUS, MAP_GROWSDOWN, UVM_REGION_* */
    struct vfs_file *file;   /* referenced; NULL for anonymous memory */
    uint64_t off;            /* file offset of start */
};

struct uvm {
    uint64_t *pml4;          /* through the direct map */
    phys_addr_t pml4_phys;
    struct vma *vmas;
    int nvmas;
    uint64_t brk_base, brk;  /* brk may be unaligned; the heap region ends at ALIGN_UP(brk) */
    uint64_t resident;       /* leaf entries holding a frame */
    struct mutex lock;
    int32_t refs;            /* atomic */
};

/* ---- uvm.c ---- */
extern uint8_t uaccess_smap_on; /* uaccess.c: uaccess_copy.S brackets user accesses with stac/clac */
/* True when as is loaded in CR3 on this CPU. */
bool uvm_is_active(const struct uvm *as);
/* The leaf entry for va, creating the tables on the way when create (NULL: none, or no memory). */
uint64_t *uvm_pte(struct uvm *as, uint64_t va, bool create);
/* A leaf entry for frame pa in a region with prot; cow is PTE_COW or 0. */
uint64_t uvm_make_pte(phys_addr_t pa, int prot, uint64_t cow);
/* Calls fn for each leaf entry holding a frame in [start, end), skipping empty tables; stops
 * at and returns the first non-zero value fn returns. */
typedef int (*uvm_pte_fn)(struct uvm *as, uint64_t *pte, uint64_t va, void *ctx);
int uvm_walk(struct uvm *as, uint64_t start, uint64_t end, uvm_pte_fn fn, void *ctx);
/* Invalidates the TLB entry of va when as is active (one CPU; SMP needs a shootdown here). */
void uvm_flush_page(struct uvm *as, uint64_t va);

/* TLB invalidation for many pages: invlpg for the first few, a CR3 reload beyond that. */
struct tlb_batch {
    struct uvm *as;
    unsigned pages;
};
void tlb_note(struct tlb_batch *b, uint64_t va);
void tlb_finish(struct tlb_batch *b);

/* ---- uvm_map.c ---- */
/* The region containing addr, or NULL. Caller holds as->lock. */
struct vma *uvm_find_vma(struct uvm *as, uint64_t addr);
/* Frees the frames mapped in [start, end) (entries cleared, TLB flushed). Caller holds the lock. */
void uvm_zap_range(struct uvm *as, uint64_t start, uint64_t end);
/* Drops a region's file reference and frees it (its pages must be zapped already). */
void uvm_vma_free(struct vma *v);


/* ---- uvm_fault.c ---- */
/* uvm_handle_fault with a choice: may_sleep false (the faulting context had interrupts off)
 * takes the lock only if free and does not read files. A fault while the calling task holds
 * as->lock (a copy to user memory under the lock) is refused rather than deadlocking. */
enum uvm_fault_result uvm_fault_resolve(struct uvm *as, uint64_t addr, uint64_t error, bool may_sleep);
/* Makes page present in v (demand-zero or file read) and, when write, private (copy-on-write
 * broken), ignoring v's protection; *pa_out = its frame. Caller holds the lock. */
enum uvm_fault_result uvm_fault_page(struct uvm *as, struct vma *v, uint64_t page, bool write,
                                     bool may_sleep, phys_addr_t *pa_out);

/* ---- for tests ---- */
/* The leaf entry mapping va in as (0 when none). */
uint64_t uvm_query_pte(struct uvm *as, uint64_t va);
