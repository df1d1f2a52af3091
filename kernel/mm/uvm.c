/* uvm.c: user address spaces: creation, page tables, activation, copy-on-write fork,
 * destruction, SMEP/SMAP (see uvm.h; regions are in uvm_map.c, faults in uvm_fault.c).
 *
 * Follows the Intel SDM vol. 3A: §4.5 4-level paging (a PML4 per address space, its upper
 * half copied from the kernel's, whose 256 entries paging_init created once and for all),
 * §4.6 access rights (U/S, R/W, XD; CR0.WP is on so the kernel honours read-only pages too,
 * which copy_to_user relies on), §4.6.1 SMEP/SMAP (CR4 bits 20/21, CPUID.(EAX=7,ECX=0):EBX
 * bits 7/20), §4.10.4 TLB invalidation (INVLPG, MOV to CR3; user entries are never global).
 *
 * Frames of user pages carry a share count in the frame allocator (pmm_frame_ref/unref):
 * fork maps every page of a private region in both address spaces read-only with the software
 * bit PTE_COW; the first write copies the page, or takes it over when the count says nobody
 * else maps it any more. Page-table frames are private to one address space and freed with it.
 *
 * One CPU runs kernel code for now: "active" is a single variable and TLB invalidation is
 * local. With SMP, the active address space becomes per CPU and every PTE change of an
 * address space loaded on another CPU needs a TLB shootdown (IPI) where uvm_flush_page and
 * tlb_finish are called. */
#include "uvm_internal.h"
#include "mm.h"
#include "cpu.h"
#include "kstring.h"
#include "printk.h"
#include "sched.h"
#include "vfs.h"

#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define TLB_BATCH_MAX 32

static struct uvm *active_uvm; /* per CPU once SMP arrives */

/* ---- CPU features ---- */

/* Enables SMEP and SMAP when CPUID says the CPU has them; idempotent. */
void uvm_cpu_init(void) {
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    if (a < 7) return;
    cpuid(7, 0, &a, &b, &c, &d);
    uint64_t fl = irq_save();
    uint64_t cr4 = read_cr4();
    if (b & (1u << 7)) cr4 |= CR4_SMEP;
    if (b & (1u << 20)) {
        /* The copy routines must bracket user accesses with stac/clac before SMAP is on. */
        uaccess_smap_on = 1;
        cr4 |= CR4_SMAP;
    }
    if (cr4 != read_cr4()) write_cr4(cr4);
    irq_restore(fl);
}

bool uvm_smap_enabled(void) { return (read_cr4() & CR4_SMAP) != 0; }
bool uvm_smep_enabled(void) { return (read_cr4() & CR4_SMEP) != 0; }

/* ---- activation and TLB ---- */

bool uvm_is_active(const struct uvm *as) { return as && as == active_uvm; }

/* Loads as (NULL: the kernel's tables) into CR3 unless it is loaded already. */
void uvm_activate(struct uvm *as) {
    phys_addr_t want = as ? as->pml4_phys : vmm_kernel_pml4();
    uint64_t fl = irq_save();
    active_uvm = as;
    if ((read_cr3() & PTE_ADDR) != want) write_cr3(want);
    irq_restore(fl);
}

struct uvm *uvm_active(void) { return active_uvm; }

void uvm_flush_page(struct uvm *as, uint64_t va) {
    if (uvm_is_active(as)) invlpg((const void *)(uintptr_t)va);
}

void tlb_note(struct tlb_batch *b, uint64_t va) {
    if (!uvm_is_active(b->as)) return;
    if (b->pages++ < TLB_BATCH_MAX) invlpg((const void *)(uintptr_t)va);
}

/* Callers run with preemption disabled between their first tlb_note and this, so nothing runs
 * user code on stale entries meanwhile. */
void tlb_finish(struct tlb_batch *b) {
    if (b->pages > TLB_BATCH_MAX && uvm_is_active(b->as)) write_cr3(read_cr3());
    b->pages = 0;
}

/* ---- page tables ---- */

uint64_t uvm_make_pte(phys_addr_t pa, int prot, uint64_t cow) {
    uint64_t e = (pa & PTE_ADDR) | (cow & PTE_COW);
    if (prot == PROT_NONE) return e | PTE_PROTNONE; /* not present: every access faults */
    e |= PTE_P | PTE_U;
    if ((prot & PROT_WRITE) && !(cow & PTE_COW)) e |= PTE_W;
    if (!(prot & PROT_EXEC)) e |= vmm_nx_bit();
    return e;
}

uint64_t *uvm_pte(struct uvm *as, uint64_t va, bool create) {
    if (va >= USER_TOP) return NULL;
    uint64_t *t = as->pml4;
    for (int shift = 39; shift > 12; shift -= 9) {
        uint64_t *e = &t[(va >> shift) & 511];
        if (!(*e & PTE_P)) {
            if (!create) return NULL;
            phys_addr_t pa = pmm_alloc();
            if (!pa) return NULL;
            memset(phys_to_virt(pa), 0, PAGE_SIZE);
            /* Rights are decided by the leaf entries; the upper levels allow everything. */
            *e = pa | PTE_P | PTE_W | PTE_U;
        }
        t = phys_to_virt(*e & PTE_ADDR);
    }
    return &t[(va >> 12) & 511];
}

uint64_t uvm_query_pte(struct uvm *as, uint64_t va) {
    uint64_t *p = uvm_pte(as, va, false);
    return p ? *p : 0;
}

/* First address of the next block of 2^shift bytes after va. */
static inline uint64_t next_block(uint64_t va, int shift) { return (va | ((1ull << shift) - 1)) + 1; }

int uvm_walk(struct uvm *as, uint64_t start, uint64_t end, uvm_pte_fn fn, void *ctx) {
    uint64_t va = start;
    end = MIN(end, USER_TOP);
    while (va < end) {
        uint64_t e = as->pml4[(va >> 39) & 511];
        if (!(e & PTE_P)) { va = next_block(va, 39); continue; }
        e = ((uint64_t *)phys_to_virt(e & PTE_ADDR))[(va >> 30) & 511];
        if (!(e & PTE_P)) { va = next_block(va, 30); continue; }
        e = ((uint64_t *)phys_to_virt(e & PTE_ADDR))[(va >> 21) & 511];
        uint64_t pt_end = MIN(end, next_block(va, 21));
        if (!(e & PTE_P)) { va = pt_end; continue; }
        uint64_t *pt = phys_to_virt(e & PTE_ADDR);
        for (; va < pt_end; va += PAGE_SIZE) {
            uint64_t *p = &pt[(va >> 12) & 511];
            if (!pte_has_frame(*p)) continue;
            int r = fn(as, p, va, ctx);
            if (r) return r;
        }
    }
    return 0;
}

/* ---- life cycle ---- */

/* An empty address space whose upper half is the kernel's. NULL when memory is short. */
struct uvm *uvm_create(void) {
    struct uvm *as = kzalloc(sizeof *as);
    if (!as) return NULL;
    phys_addr_t pa = pmm_alloc();
    if (!pa) {
        kfree(as);
        return NULL;
    }
    as->pml4 = phys_to_virt(pa);
    as->pml4_phys = pa;
    memset(as->pml4, 0, PAGE_SIZE / 2);
    memcpy(as->pml4 + 256, (uint64_t *)phys_to_virt(vmm_kernel_pml4()) + 256, PAGE_SIZE / 2);
    mutex_init(&as->lock, "uvm");
    as->refs = 1;
    return as;
}

void uvm_get(struct uvm *as) {
    if (as) __atomic_add_fetch(&as->refs, 1, __ATOMIC_RELAXED);
}

/* Frees every frame and table of the lower half, then the regions and the structure. */
static void uvm_destroy(struct uvm *as) {
    if (uvm_is_active(as)) uvm_activate(NULL);
    for (unsigned i = 0; i < 256; i++) {
        uint64_t e4 = as->pml4[i];
        if (!(e4 & PTE_P)) continue;
        uint64_t *pdpt = phys_to_virt(e4 & PTE_ADDR);
        for (unsigned j = 0; j < 512; j++) {
            if (!(pdpt[j] & PTE_P)) continue;
            uint64_t *pd = phys_to_virt(pdpt[j] & PTE_ADDR);
            for (unsigned k = 0; k < 512; k++) {
                if (!(pd[k] & PTE_P)) continue;
                uint64_t *pt = phys_to_virt(pd[k] & PTE_ADDR);
                for (unsigned l = 0; l < 512; l++)
                    if (pte_has_frame(pt[l])) pmm_frame_unref(pt[l] & PTE_ADDR);
                pmm_free(pd[k] & PTE_ADDR);
            }
            pmm_free(pdpt[j] & PTE_ADDR);
        }
        pmm_free(e4 & PTE_ADDR);
    }
    pmm_free(as->pml4_phys);
    while (as->vmas) {
        struct vma *v = as->vmas;
        as->vmas = v->next;
        uvm_vma_free(v);
    }
    kfree(as);
}

void uvm_put(struct uvm *as) {
    if (!as) return;
    int32_t left = __atomic_sub_fetch(&as->refs, 1, __ATOMIC_ACQ_REL);
    if (left == 0) uvm_destroy(as);
    else if (left < 0) pr_err("uvm: address space %p released too often\n", (void *)as);
}

/* ---- fork ---- */

struct fork_ctx {
    struct uvm *child;
    bool shared;  /* MAP_SHARED region: same frames, still writable on both sides */
    bool changed; /* a parent entry lost its write right: the parent's TLB needs a flush */
};

static int fork_pte(struct uvm *parent, uint64_t *pte, uint64_t va, void *ctx) {
    (void)parent;
    struct fork_ctx *fc = ctx;
    uint64_t *cpte = uvm_pte(fc->child, va, true);
    if (!cpte) return -KENOMEM;
    uint64_t e = *pte;
    if (!pmm_frame_ref(e & PTE_ADDR)) return -KENOMEM;
    if (!fc->shared && !(e & PTE_COW)) {
        /* Read-only pages are marked too: a later mprotect(PROT_WRITE) must still copy. */
        if (e & PTE_W) fc->changed = true;
        e = (e | PTE_COW) & ~PTE_W;
        *pte = e;
    }
    *cpte = e;
    fc->child->resident++;
    return 0;
}

/* A copy-on-write clone of parent (regions, brk, contents). NULL when memory is short. */
struct uvm *uvm_fork(struct uvm *parent) {
    if (!parent) return NULL;
    struct uvm *child = uvm_create();
    if (!child) return NULL;
    if (mutex_lock(&parent->lock) < 0) {
        uvm_put(child);
        return NULL;
    }
    child->brk_base = parent->brk_base;
    child->brk = parent->brk;
    struct fork_ctx fc = {.child = child};
    struct vma **tail = &child->vmas;
    int err = 0;
    preempt_disable(); /* until the parent's TLB holds no stale write rights */
    for (struct vma *v = parent->vmas; v && !err; v = v->next) {
        struct vma *n = kmalloc(sizeof *n);
        if (!n) {
            err = -KENOMEM;
            break;
        }
        *n = *v;
        n->next = NULL;
        if (n->file) vfs_file_get(n->file);
        *tail = n;
        tail = &n->next;
        child->nvmas++;
        fc.shared = (v->flags & MAP_SHARED) != 0;
        err = uvm_walk(parent, v->start, v->end, fork_pte, &fc);
    }
    if (fc.changed && uvm_is_active(parent)) write_cr3(read_cr3());
    preempt_enable();
    mutex_unlock(&parent->lock);
    if (err) {
        uvm_put(child); /* consistent at every step: frees what was copied */
        return NULL;
    }
    return child;
}

/* ---- statistics ---- */

uint64_t uvm_resident_pages(const struct uvm *as) { return as ? __atomic_load_n(&as->resident, __ATOMIC_RELAXED) : 0; }
int uvm_region_count(const struct uvm *as) { return as ? __atomic_load_n(&as->nvmas, __ATOMIC_RELAXED) : 0; }
