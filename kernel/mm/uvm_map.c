/* uvm_map.c: the regions of a user address space: mmap, munmap, mprotect, madvise, brk and
 * the stack (uvm.h). Semantics follow the Linux man-pages mmap(2), munmap(2), mprotect(2),
 * madvise(2) and brk(2) for the cases uvm.h lists; the error values are Linux's.
 *
 * Regions (struct vma) form a list sorted by address with no overlaps. Adjacent anonymous
 * regions with the same rights and flags are merged when one is created, so a malloc that
 * maps piece after piece does not grow the list. Removing part of a region splits it; every
 * split needs a new node, which is allocated before anything changes so a failure leaves the
 * address space as it was. Pages are never allocated here (except for shared anonymous
 * memory, see uvm_map): they appear on first touch (uvm_fault.c). */
#include "uvm_internal.h"
#include "mm.h"
#include "kstring.h"
#include "printk.h"
#include "sched.h"
#include "vfs.h"

#define REGION_KEEP_FLAGS (MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | UVM_REGION_HEAP | UVM_REGION_STACK)

struct vma *uvm_find_vma(struct uvm *as, uint64_t addr) {
    for (struct vma *v = as->vmas; v && v->start <= addr; v = v->next)
        if (addr < v->end) return v;
    return NULL;
}

/* True when no region overlaps [start, end). */
static bool range_free(struct uvm *as, uint64_t start, uint64_t end) {
    for (struct vma *v = as->vmas; v && v->start < end; v = v->next)
        if (v->end > start) return false;
    return true;
}

void uvm_vma_free(struct vma *v) {
    if (v->file) vfs_close(v->file);
    kfree(v);
}

static bool mergeable(const struct vma *a, const struct vma *b) {
    return a->end == b->start && !a->file && !b->file && a->prot == b->prot && a->flags == b->flags;
}

/* Links n into the sorted list (the range must be free) and merges it with its neighbours. */
static void insert_vma(struct uvm *as, struct vma *n) {
    struct vma *prev = NULL, **link = &as->vmas;
    while (*link && (*link)->start < n->start) {
        prev = *link;
        link = &(*link)->next;
    }
    n->next = *link;
    *link = n;
    as->nvmas++;
    if (n->next && mergeable(n, n->next)) {
        struct vma *m = n->next;
        n->end = m->end;
        n->next = m->next;
        uvm_vma_free(m);
        as->nvmas--;
    }
    if (prev && mergeable(prev, n)) {
        prev->end = n->end;
        prev->next = n->next;
        uvm_vma_free(n);
        as->nvmas--;
    }
}

static int zap_pte(struct uvm *as, uint64_t *pte, uint64_t va, void *ctx) {
    phys_addr_t pa = *pte & PTE_ADDR;
    *pte = 0;
    tlb_note(ctx, va);
    pmm_frame_unref(pa);
    as->resident--;
    return 0;
}

void uvm_zap_range(struct uvm *as, uint64_t start, uint64_t end) {
    struct tlb_batch b = {.as = as};
    preempt_disable(); /* no user code may run on a stale entry before tlb_finish */
    uvm_walk(as, start, end, zap_pte, &b);
    tlb_finish(&b);
    preempt_enable();
}

/* Splits the region that strictly contains addr (start < addr < end) into two at addr,
 * using *spare (taken). Nothing happens when no region straddles addr. */
static void split_at(struct uvm *as, uint64_t addr, struct vma **spare) {
    struct vma *v = uvm_find_vma(as, addr);
    if (!v || v->start == addr) return;
    struct vma *n = *spare;
    *spare = NULL;
    *n = *v;
    n->start = addr;
    n->off += addr - v->start;
    if (n->file) vfs_file_get(n->file);
    v->end = addr;
    v->next = n;
    as->nvmas++;
}

/* True when removing or changing [start, end) splits a region in the middle of it, i.e.
 * one region strictly contains the range on both sides (needs one spare node). */
static bool splits_inside(struct uvm *as, uint64_t start, uint64_t end) {
    struct vma *v = uvm_find_vma(as, start);
    return v && v->start < start && v->end > end;
}

/* Removes every mapping in [start, end): frees the pages, trims, splits (with *spare when
 * splits_inside said so) or deletes regions. Caller holds the lock. */
static void remove_range(struct uvm *as, uint64_t start, uint64_t end, struct vma **spare) {
    if (splits_inside(as, start, end)) split_at(as, start, spare);
    struct vma **link = &as->vmas;
    while (*link && (*link)->start < end) {
        struct vma *v = *link;
        if (v->end <= start) {
            link = &v->next;
            continue;
        }
        uint64_t s = MAX(v->start, start), e = MIN(v->end, end);
        uvm_zap_range(as, s, e);
        if (v->start < s) { /* keep the head */
            v->end = s;
            link = &v->next;
        } else if (v->end > e) { /* keep the tail */
            v->off += e - v->start;
            v->start = e;
            link = &v->next;
        } else {
            *link = v->next;
            uvm_vma_free(v);
            as->nvmas--;
        }
    }
}

/* The highest free gap of len bytes in [USER_MIN, USER_MMAP_TOP), or 0. */
static uint64_t find_gap(struct uvm *as, uint64_t len) {
    uint64_t best = 0, lo = USER_MIN;
    for (struct vma *v = as->vmas;; v = v->next) {
        uint64_t hi = v ? MIN(v->start, USER_MMAP_TOP) : USER_MMAP_TOP;
        if (hi > lo && hi - lo >= len) best = hi - len; /* later gaps are higher */
        if (!v) break;
        lo = MAX(lo, v->end);
        if (lo >= USER_MMAP_TOP) break;
    }
    return best;
}

/* Shared anonymous memory gets its zeroed frames now, so that fork can share them. */
static int populate(struct uvm *as, uint64_t start, uint64_t end, int prot) {
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        uint64_t *pte = uvm_pte(as, va, true);
        phys_addr_t pa = pte ? pmm_alloc() : 0;
        if (!pa) {
            uvm_zap_range(as, start, va);
            return -KENOMEM;
        }
        memset(phys_to_virt(pa), 0, PAGE_SIZE);
        *pte = uvm_make_pte(pa, prot, 0);
        as->resident++;
    }
    return 0;
}

static int check_file(struct vfs_file *file, int type, uint64_t off, uint64_t len) {
    if (!file || !IS_ALIGNED(off, PAGE_SIZE) || off + len < off) return -KEINVAL;
    if (type == MAP_SHARED) return -KENODEV;
    if ((file->flags & O_ACCMODE_K) == O_WRONLY) return -KEACCES;
    struct vfs_stat st;
    if (vfs_fstat(file, &st) < 0 || (st.mode & S_IFMT) != S_IFREG) return -KENODEV;
    return 0;
}

int uvm_map(struct uvm *as, uint64_t *addr, uint64_t len, int prot, int flags,
            struct vfs_file *file, uint64_t off) {
    if (!as || !addr || len == 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))) return -KEINVAL;
    if (len > USER_TOP) return -KENOMEM;
    len = ALIGN_UP(len, PAGE_SIZE);
    int type = flags & (MAP_SHARED | MAP_PRIVATE);
    if (type != MAP_SHARED && type != MAP_PRIVATE) return -KEINVAL;
    bool anon = (flags & MAP_ANONYMOUS) != 0;
    if (!anon) {
        int r = check_file(file, type, off, len);
        if (r) return r;
    }
    bool fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
    uint64_t start = *addr;
    if (fixed && (!IS_ALIGNED(start, PAGE_SIZE) || start < USER_MIN || start > USER_TOP - len))
        return -KEINVAL;
    struct vma *n = kzalloc(sizeof *n), *spare = NULL;
    if (!n) return -KENOMEM;
    if (mutex_lock(&as->lock) < 0) {
        kfree(n);
        return -KEINTR;
    }
    int r = 0;
    if (as->nvmas >= UVM_MAX_REGIONS) {
        r = -KENOMEM;
    } else if (fixed) {
        if (!range_free(as, start, start + len)) {
            if (flags & MAP_FIXED_NOREPLACE) r = -KEEXIST; /* wins over MAP_FIXED, as on Linux */
            else if (splits_inside(as, start, start + len) && !(spare = kmalloc(sizeof *spare))) r = -KENOMEM;
            else remove_range(as, start, start + len, &spare);
        }
    } else {
        uint64_t hint = ALIGN_DOWN(start, PAGE_SIZE);
        if (hint >= USER_MIN && hint <= USER_TOP - len && range_free(as, hint, hint + len)) start = hint;
        else start = find_gap(as, len);
        if (!start) r = -KENOMEM;
    }
    if (r == 0 && type == MAP_SHARED && anon) r = populate(as, start, start + len, prot);
    if (r == 0) {
        n->start = start;
        n->end = start + len;
        n->prot = prot;
        n->flags = (flags & REGION_KEEP_FLAGS & ~(UVM_REGION_HEAP | UVM_REGION_STACK));
        if (!anon) {
            n->file = vfs_file_get(file);
            n->off = off;
        }
        insert_vma(as, n);
        n = NULL;
        *addr = start;
    }
    mutex_unlock(&as->lock);
    kfree(n);
    kfree(spare);
    return r;
}

int uvm_map_frame(struct uvm *as, uint64_t va, phys_addr_t pa) {
    if (!as || !IS_ALIGNED(va, PAGE_SIZE) || !IS_ALIGNED(pa, PAGE_SIZE) || !pa) return -KEINVAL;
    if (mutex_lock(&as->lock) < 0) return -KEINTR;
    int r = 0;
    struct vma *v = uvm_find_vma(as, va);
    uint64_t *pte = NULL;
    if (!v || v->file || (v->flags & MAP_SHARED)) r = -KEFAULT;
    else if (!(pte = uvm_pte(as, va, true))) r = -KENOMEM;
    else if (pte_has_frame(*pte)) r = -KEEXIST;
    else if (!pmm_frame_ref(pa)) r = -KENOMEM; /* misuse, reported by the allocator */
    if (r == 0) {
        /* Not present before: no TLB entry to invalidate (SDM §4.10.2.3). */
        *pte = uvm_make_pte(pa, v->prot, PTE_COW);
        as->resident++;
    }
    mutex_unlock(&as->lock);
    return r;
}

int uvm_unmap(struct uvm *as, uint64_t addr, uint64_t len) {
    if (!as || len == 0 || !IS_ALIGNED(addr, PAGE_SIZE) || len > USER_TOP) return -KEINVAL;
    len = ALIGN_UP(len, PAGE_SIZE);
    if (addr > USER_TOP - len) return -KEINVAL;
    if (mutex_lock(&as->lock) < 0) return -KEINTR;
    struct vma *spare = NULL;
    int r = 0;
    if (splits_inside(as, addr, addr + len) && !(spare = kmalloc(sizeof *spare))) r = -KENOMEM;
    else remove_range(as, addr, addr + len, &spare);
    mutex_unlock(&as->lock);
    kfree(spare);
    return r;
}

/* True when [start, end) is covered by regions without holes. */
static bool fully_mapped(struct uvm *as, uint64_t start, uint64_t end) {
    uint64_t cur = start;
    for (struct vma *v = uvm_find_vma(as, start); v && cur < end; v = v->next) {
        if (v->start > cur) return false;
        cur = v->end;
    }
    return cur >= end;
}

struct protect_ctx {
    struct tlb_batch b;
    int prot;
};

static int protect_pte(struct uvm *as, uint64_t *pte, uint64_t va, void *ctx) {
    (void)as;
    struct protect_ctx *pc = ctx;
    uint64_t e = *pte;
    *pte = uvm_make_pte(e & PTE_ADDR, pc->prot, e & PTE_COW);
    tlb_note(&pc->b, va);
    return 0;
}

/* Range checks shared by mprotect and madvise: start aligned, len rounded up, inside the
 * user half. 0 with *end set, or the error. */
static int user_span(uint64_t start, uint64_t len, uint64_t *end) {
    if (!IS_ALIGNED(start, PAGE_SIZE)) return -KEINVAL;
    if (len > USER_TOP || start > USER_TOP - ALIGN_UP(len, PAGE_SIZE)) return -KENOMEM;
    *end = start + ALIGN_UP(len, PAGE_SIZE);
    return 0;
}

int uvm_protect(struct uvm *as, uint64_t addr, uint64_t len, int prot) {
    uint64_t end;
    if (!as || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))) return -KEINVAL;
    int r = user_span(addr, len, &end);
    if (r || addr == end) return r;
    struct vma *spare[2] = {kmalloc(sizeof(struct vma)), kmalloc(sizeof(struct vma))};
    if (!spare[0] || !spare[1]) r = -KENOMEM;
    else if (mutex_lock(&as->lock) < 0) r = -KEINTR;
    if (r) {
        kfree(spare[0]);
        kfree(spare[1]);
        return r;
    }
    if (!fully_mapped(as, addr, end)) {
        r = -KENOMEM;
    } else {
        split_at(as, addr, &spare[0]);
        split_at(as, end, &spare[1]);
        struct protect_ctx pc = {.b = {.as = as}, .prot = prot};
        preempt_disable();
        for (struct vma *v = uvm_find_vma(as, addr); v && v->start < end; v = v->next) {
            v->prot = prot;
            uvm_walk(as, v->start, v->end, protect_pte, &pc);
        }
        tlb_finish(&pc.b);
        preempt_enable();
    }
    mutex_unlock(&as->lock);
    kfree(spare[0]);
    kfree(spare[1]);
    return r;
}

int uvm_advise(struct uvm *as, uint64_t addr, uint64_t len, int advice) {
    uint64_t end;
    if (!as || advice < 0) return -KEINVAL;
    int r = user_span(addr, len, &end);
    if (r || addr == end) return r;
    if (mutex_lock(&as->lock) < 0) return -KEINTR;
    if (!fully_mapped(as, addr, end)) {
        r = -KENOMEM;
    } else if (advice == MADV_DONTNEED) {
        /* Private pages go (anonymous ones read back as zero, file ones are read again);
         * shared anonymous memory keeps its contents, as shmem does on Linux. */
        for (struct vma *v = uvm_find_vma(as, addr); v && v->start < end; v = v->next)
            if (!(v->flags & MAP_SHARED)) uvm_zap_range(as, MAX(v->start, addr), MIN(v->end, end));
    }
    mutex_unlock(&as->lock);
    return r;
}

void uvm_set_brk_base(struct uvm *as, uint64_t base) {
    if (!as || base >= USER_TOP) return;
    if (mutex_lock(&as->lock) < 0) return;
    as->brk_base = as->brk = ALIGN_UP(base, PAGE_SIZE);
    mutex_unlock(&as->lock);
}

/* Grows the heap from old_end to new_end (the range is free): the heap region that ends at
 * old_end is extended, or a new one is made. */
static bool heap_grow(struct uvm *as, uint64_t old_end, uint64_t new_end) {
    struct vma *v = old_end > as->brk_base ? uvm_find_vma(as, old_end - 1) : NULL;
    if (v && v->end == old_end && (v->flags & UVM_REGION_HEAP) && v->prot == (PROT_READ | PROT_WRITE)) {
        v->end = new_end;
        return true;
    }
    struct vma *n = kzalloc(sizeof *n);
    if (!n) return false;
    n->start = old_end;
    n->end = new_end;
    n->prot = PROT_READ | PROT_WRITE;
    n->flags = MAP_PRIVATE | MAP_ANONYMOUS | UVM_REGION_HEAP;
    insert_vma(as, n);
    return true;
}

uint64_t uvm_brk(struct uvm *as, uint64_t new_brk) {
    if (!as) return 0;
    if (mutex_lock(&as->lock) < 0) return as->brk;
    uint64_t cur = as->brk;
    if (new_brk == 0 || as->brk_base < USER_MIN || new_brk < as->brk_base || new_brk > USER_TOP - PAGE_SIZE) {
        mutex_unlock(&as->lock);
        return cur;
    }
    uint64_t old_end = ALIGN_UP(cur, PAGE_SIZE), new_end = ALIGN_UP(new_brk, PAGE_SIZE);
    bool ok = true;
    if (new_end > old_end) {
        ok = as->nvmas < UVM_MAX_REGIONS && range_free(as, old_end, new_end) && heap_grow(as, old_end, new_end);
    } else if (new_end < old_end) {
        struct vma *spare = NULL;
        if (splits_inside(as, new_end, old_end) && !(spare = kmalloc(sizeof *spare))) ok = false;
        else remove_range(as, new_end, old_end, &spare);
        kfree(spare);
    }
    if (ok) as->brk = new_brk;
    uint64_t result = as->brk;
    mutex_unlock(&as->lock);
    return result;
}

int uvm_setup_stack(struct uvm *as) {
    const uint64_t start = USER_STACK_TOP - USER_STACK_MAX;
    if (!as) return -KEINVAL;
    struct vma *n = kzalloc(sizeof *n);
    if (!n) return -KENOMEM;
    if (mutex_lock(&as->lock) < 0) {
        kfree(n);
        return -KEINTR;
    }
    int r = 0;
    if (!range_free(as, start - PAGE_SIZE, USER_STACK_TOP)) { /* the guard page stays free too */
        r = -KENOMEM;
    } else {
        n->start = start;
        n->end = USER_STACK_TOP;
        n->prot = PROT_READ | PROT_WRITE;
        n->flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | UVM_REGION_STACK;
        insert_vma(as, n);
        n = NULL;
    }
    mutex_unlock(&as->lock);
    kfree(n);
    return r;
}

void uvm_for_each_region(struct uvm *as,
                         void (*fn)(uint64_t start, uint64_t end, int prot, int flags, void *ctx), void *ctx) {
    if (!as || !fn || mutex_lock(&as->lock) < 0) return;
    for (struct vma *v = as->vmas; v; v = v->next) fn(v->start, v->end, v->prot, v->flags, ctx);
    mutex_unlock(&as->lock);
}
