/* pmm.c: the physical frame allocator, a binary buddy allocator (Knuth, TAOCP vol. 1,
 * section 2.5, "the buddy system") over the memory map the UEFI loader hands over
 * (bootinfo.h; the region kinds are simplified UEFI 2.10 section 7.2 memory types).
 *
 * Blocks are 2^order frames of 4 KiB, order 0..PMM_MAX_ORDER (4 MiB), aligned to their size,
 * so the buddy of the block at frame f with order o is the block at f ^ (1 << o).
 *
 * Per-frame metadata, for every frame from the lowest to the highest frame of any MEM_USABLE
 * or MEM_BOOT_RECLAIM region (holes included): a state byte, and a free-list link of two
 * 32-bit frame indexes (9 bytes per frame, about 2.3 KiB per MiB). Both arrays are carved
 * from the first usable region big enough, state bytes first, and counted as reserved.
 * A state byte says:
 *   FS_ABSENT    not managed (hole, firmware, below 1 MiB, ...)
 *   FS_RESERVED  the metadata arrays themselves
 *   FS_TAIL      managed, inside some block but not its first frame
 *   FS_FREE|o    first frame of a free block of order o (on free list o)
 *   FS_ALLOC|o   first frame of an allocated block of order o
 * The state byte is the overlap guard: a region is added frame run by frame run, and only
 * frames still FS_ABSENT are added, so a frame named by two overlapping regions (or by a
 * reclaimed region that repeats a usable one, or by a second reclaim call) is added once.
 * A free must name the first frame of an FS_ALLOC block of exactly that order, so double
 * frees, frees of tails, of unmanaged frames and order mismatches are reported, not obeyed.
 *
 * Free lists are doubly linked through the link array, by frame index (frame - first_frame,
 * LINK_NONE for "none"), so removing a buddy while merging is O(1). The link entry of an
 * allocated block is otherwise unused: its first word holds the block's share count
 * (pmm_frame_ref/unref, for frames that several user address spaces map copy-on-write); every
 * allocation sets it to 1, so sharing costs no extra memory and never touches the frame. The allocator never
 * reads or writes the memory it manages: QEMU backs guest RAM lazily, so writing into every
 * free block at boot would make the host fault in all of RAM (seconds with a few GiB), and a
 * block is handed out exactly as its last owner left it (callers zero it if they need to).
 * Only the state bytes are initialised; a block's link entry is written when it is put on
 * a list and read only while its state byte says it is listed. A list head or neighbour
 * whose state byte does not say "free, this order" means the metadata was overwritten: the
 * list is reported and dropped rather than followed.
 * The first 1 MiB of physical memory is never managed: it is legacy territory, and it keeps
 * physical address 0 out of the allocator so that 0 can mean "no memory".
 *
 * Statistics: total_frames counts managed frames (free or allocated); reserved_frames counts
 * RAM the allocator does not hand out: the metadata, MEM_LOADER, MEM_ACPI_RECLAIM and
 * MEM_ACPI_NVS regions, boot-services regions until they are reclaimed, and usable frames it
 * had to skip (below 1 MiB, beyond the metadata's reach). alloc_calls/free_calls count the
 * calls that succeeded (so their difference is the number of live allocations). */
#include "mm.h"
#include "kstring.h"
#include "printk.h"

#ifdef HOST_TEST
/* Host tests run single-threaded in user mode: no interrupts to mask. */
static inline uint64_t pmm_lock(void) { return 0; }
static inline void pmm_unlock(uint64_t flags) { (void)flags; }
#else
#include "cpu.h"
/* One CPU for now: masking interrupts keeps interrupt handlers out of the lists. A real
 * spinlock (taken with interrupts masked) comes with SMP. */
static inline uint64_t pmm_lock(void) { return irq_save(); }
static inline void pmm_unlock(uint64_t flags) { irq_restore(flags); }
#endif

#define FS_ABSENT 0x00
#define FS_RESERVED 0x01
#define FS_TAIL 0x02
#define FS_FREE 0x40
#define FS_ALLOC 0x80
#define FS_ORDER_MASK 0x1f

#define LOW_MEMORY_FRAMES 256ull           /* the first 1 MiB */
#define MAX_PHYS_FRAMES (1ull << 40)       /* 52-bit physical addresses (Intel SDM 4.1.4) */
#define LINK_NONE UINT32_MAX               /* "no block" in a link or list head */
#define MAX_SPAN_FRAMES ((uint64_t)UINT32_MAX) /* frame indexes below LINK_NONE (16 TiB) */

/* A listed free block's neighbours on the free list of its order, as frame indexes. */
struct free_link {
    uint32_t next, prev;
};

static struct {
    uint8_t *state;          /* state[f - first_frame] for f in [first_frame, end_frame) */
    struct free_link *links; /* links[f - first_frame], valid while f heads a listed block */
    uint64_t first_frame, end_frame;
    uint64_t meta_frame, meta_pages;
    uint32_t free_list[PMM_MAX_ORDER + 1]; /* frame index of the first block, or LINK_NONE */
    uint64_t free_blocks[PMM_MAX_ORDER + 1];
    struct pmm_stats stats;
} pmm;

/* ---- helpers (callers hold the lock) ---- */

static inline uint64_t order_frames(unsigned order) { return 1ull << order; }

static inline bool frame_covered(uint64_t f) { return f >= pmm.first_frame && f < pmm.end_frame; }

static inline uint8_t *frame_state(uint64_t f) { return &pmm.state[f - pmm.first_frame]; }

/* The share count of an allocated block (its unused link entry; see the header comment). */
static inline uint32_t *frame_refs(uint64_t f) { return &pmm.links[f - pmm.first_frame].next; }

/* Metadata bytes for span frames: the state bytes, padding to 8, the links. */
static inline uint64_t metadata_bytes(uint64_t span) {
    return ALIGN_UP(span, 8) + span * sizeof(struct free_link);
}

/* True when index i names the first frame of a free block of this order (so it may be on
 * the list of that order, and its link entry is valid). */
static inline bool listed_index(uint32_t i, unsigned order) {
    return i < pmm.end_frame - pmm.first_frame && pmm.state[i] == (FS_FREE | order);
}

/* Forgets the list of one order after finding it inconsistent. Its blocks stay free in the
 * state bytes (so the counters still count them) but can no longer be handed out. */
static void drop_list(unsigned order, uint32_t bad_index) {
    pr_err("pmm: free list of order %u corrupted (index %#x), dropping it\n", order, bad_index);
    pmm.free_list[order] = LINK_NONE;
    pmm.free_blocks[order] = 0;
}

static void list_push(uint64_t f, unsigned order) {
    uint32_t i = (uint32_t)(f - pmm.first_frame), head = pmm.free_list[order];
    pmm.links[i].prev = LINK_NONE;
    pmm.links[i].next = head;
    if (head != LINK_NONE) pmm.links[head].prev = i;
    pmm.free_list[order] = i;
    pmm.free_blocks[order]++;
    pmm.state[i] = (uint8_t)(FS_FREE | order);
}

/* Unlinks the listed block at frame f (its state byte says FS_FREE|order). Its neighbours
 * must be listed blocks of the same order that point back at it; if not, the list is
 * dropped instead of written through. Either way f is off the list afterwards. */
static void list_remove(uint64_t f, unsigned order) {
    uint32_t i = (uint32_t)(f - pmm.first_frame);
    uint32_t next = pmm.links[i].next, prev = pmm.links[i].prev;
    bool prev_ok = prev == LINK_NONE ? pmm.free_list[order] == i
                                     : listed_index(prev, order) && pmm.links[prev].next == i;
    bool next_ok = next == LINK_NONE || (listed_index(next, order) && pmm.links[next].prev == i);
    if (pmm.free_blocks[order]) pmm.free_blocks[order]--;
    if (!prev_ok || !next_ok) {
        drop_list(order, prev_ok ? next : prev);
        return;
    }
    if (prev != LINK_NONE) pmm.links[prev].next = next;
    else pmm.free_list[order] = next;
    if (next != LINK_NONE) pmm.links[next].prev = prev;
}

/* Puts the block [f, f + 2^order) on the free lists, merging it with its free buddies.
 * Its frames other than the first are FS_TAIL already. */
static void free_block_merge(uint64_t f, unsigned order) {
    pmm.stats.free_frames += order_frames(order);
    while (order < PMM_MAX_ORDER) {
        uint64_t buddy = f ^ order_frames(order);
        if (!frame_covered(buddy) || *frame_state(buddy) != (FS_FREE | order)) break;
        list_remove(buddy, order);
        if (buddy < f) {
            *frame_state(f) = FS_TAIL;
            f = buddy;
        } else {
            *frame_state(buddy) = FS_TAIL;
        }
        order++;
    }
    list_push(f, order);
}

/* Takes a block of exactly `order` frames off the lists (splitting a bigger one); returns its
 * first frame or 0. A list head that does not name a free block of its order means someone
 * overwrote the metadata: the list is reported and dropped rather than followed. */
static uint64_t alloc_block(unsigned order) {
    unsigned o = order;
    while (o <= PMM_MAX_ORDER && pmm.free_list[o] == LINK_NONE) o++;
    if (o > PMM_MAX_ORDER) return 0;
    uint32_t head = pmm.free_list[o];
    if (!listed_index(head, o)) {
        drop_list(o, head);
        return alloc_block(order);
    }
    uint64_t f = pmm.first_frame + head;
    list_remove(f, o);
    while (o > order) {
        o--;
        list_push(f + order_frames(o), o); /* the upper half stays free */
    }
    *frame_state(f) = (uint8_t)(FS_ALLOC | order);
    *frame_refs(f) = 1;
    pmm.stats.free_frames -= order_frames(order);
    return f;
}

/* For a tail frame: finds the block around it (the first head met when aligning f down to
 * ever larger orders) and says whether that block is free. */
static bool enclosing_block_is_free(uint64_t f) {
    for (unsigned o = 1; o <= PMM_MAX_ORDER; o++) {
        uint64_t head = f & ~(order_frames(o) - 1);
        if (!frame_covered(head)) return false;
        uint8_t s = *frame_state(head);
        if (s & (FS_FREE | FS_ALLOC)) return (s & FS_FREE) != 0;
    }
    return false;
}

/* Checks that f is the first frame of an allocated block of this order; reports otherwise. */
static bool check_allocated(uint64_t f, unsigned order, const char *what) {
    if (!frame_covered(f)) {
        pr_err("pmm: %s of frame %#llx outside managed memory ignored\n", what,
               (unsigned long long)(f << PAGE_SHIFT));
        return false;
    }
    uint8_t s = *frame_state(f);
    if (s == (FS_ALLOC | order)) return true;
    if (s & FS_ALLOC)
        pr_err("pmm: %s of %#llx with order %u, but it was allocated with order %u: ignored\n",
               what, (unsigned long long)(f << PAGE_SHIFT), order, s & FS_ORDER_MASK);
    else if (s & FS_FREE)
        pr_err("pmm: double %s of %#llx (order %u) ignored\n", what,
               (unsigned long long)(f << PAGE_SHIFT), order);
    else if (s == FS_TAIL && enclosing_block_is_free(f))
        pr_err("pmm: double %s of %#llx (inside a free block) ignored\n", what,
               (unsigned long long)(f << PAGE_SHIFT));
    else if (s == FS_TAIL)
        pr_err("pmm: %s of %#llx, which is not the start of an allocation: ignored\n", what,
               (unsigned long long)(f << PAGE_SHIFT));
    else
        pr_err("pmm: %s of unmanaged frame %#llx ignored\n", what,
               (unsigned long long)(f << PAGE_SHIFT));
    return false;
}

/* Clips a memory-map region to whole frames in [lo, hi); false when nothing is left. */
static bool region_frames(const struct boot_mem_region *r, uint64_t lo, uint64_t hi,
                          uint64_t *start, uint64_t *end) {
    if (r->pages == 0 || r->base >= (MAX_PHYS_FRAMES << PAGE_SHIFT)) return false;
    uint64_t s = (r->base + PAGE_SIZE - 1) >> PAGE_SHIFT;
    uint64_t max_pages = MAX_PHYS_FRAMES - (r->base >> PAGE_SHIFT);
    uint64_t e = (r->base >> PAGE_SHIFT) + MIN(r->pages, max_pages);
    s = MAX(s, lo);
    e = MIN(e, hi);
    if (s >= e) return false;
    *start = s;
    *end = e;
    return true;
}

/* Adds every still-absent frame of [start, end) to the allocator as maximal aligned blocks.
 * Returns the number of frames added. */
static uint64_t add_frames(uint64_t start, uint64_t end) {
    uint64_t added = 0;
    uint64_t f = start;
    while (f < end) {
        if (*frame_state(f) != FS_ABSENT) {
            f++;
            continue;
        }
        uint64_t run_end = f;
        while (run_end < end && *frame_state(run_end) == FS_ABSENT) run_end++;
        memset(frame_state(f), FS_TAIL, run_end - f);
        added += run_end - f;
        while (f < run_end) {
            unsigned order = (unsigned)MIN((uint64_t)__builtin_ctzll(f), (uint64_t)PMM_MAX_ORDER);
            while (f + order_frames(order) > run_end) order--;
            free_block_merge(f, order);
            f += order_frames(order);
        }
    }
    pmm.stats.total_frames += added;
    return added;
}

static bool is_managed_kind(uint32_t kind) { return kind == MEM_USABLE || kind == MEM_BOOT_RECLAIM; }

/* Chooses how far the metadata reaches and where it lives: the first usable region that can
 * hold the metadata (metadata_bytes) for [first_frame, end_frame). When none can (a hostile
 * map naming memory far away), or the span has more frames than a 32-bit index can name,
 * the reach is cut back region by region. Returns false if nothing fits. */
static bool place_metadata(const struct boot_info *bi, uint32_t count) {
    uint64_t lo = UINT64_MAX, hi = 0, s, e;
    for (uint32_t i = 0; i < count; i++) {
        if (!is_managed_kind(bi->mmap[i].kind)) continue;
        if (!region_frames(&bi->mmap[i], LOW_MEMORY_FRAMES, MAX_PHYS_FRAMES, &s, &e)) continue;
        lo = MIN(lo, s);
        hi = MAX(hi, e);
    }
    uint64_t wanted_end = hi;
    while (hi > lo) {
        uint64_t need = (metadata_bytes(hi - lo) + PAGE_SIZE - 1) / PAGE_SIZE;
        for (uint32_t i = 0; i < count && hi - lo <= MAX_SPAN_FRAMES; i++) {
            if (bi->mmap[i].kind != MEM_USABLE) continue;
            if (!region_frames(&bi->mmap[i], lo, hi, &s, &e) || e - s < need) continue;
            pmm.first_frame = lo;
            pmm.end_frame = hi;
            pmm.meta_frame = s;
            pmm.meta_pages = need;
            if (hi < wanted_end)
                pr_warn("pmm: memory from %#llx to %#llx is too far away to manage, ignored\n",
                        (unsigned long long)(hi << PAGE_SHIFT),
                        (unsigned long long)(wanted_end << PAGE_SHIFT));
            return true;
        }
        uint64_t lower = lo; /* the next region end below hi */
        for (uint32_t i = 0; i < count; i++) {
            if (!is_managed_kind(bi->mmap[i].kind)) continue;
            if (region_frames(&bi->mmap[i], lo, hi, &s, &e) && e < hi) lower = MAX(lower, e);
        }
        hi = lower;
    }
    return false;
}

static uint32_t map_count(const struct boot_info *bi) {
    if (bi->mmap_count > BOOTINFO_MAX_MMAP) {
        pr_warn("pmm: memory map claims %u regions, using the first %u\n", bi->mmap_count,
                BOOTINFO_MAX_MMAP);
        return BOOTINFO_MAX_MMAP;
    }
    return bi->mmap_count;
}

/* ---- interface ---- */

/* Builds the allocator from the MEM_USABLE regions of the boot memory map (any order,
 * overlaps, holes, empty regions). Resets any previous state. */
void pmm_init(const struct boot_info *bi) {
    uint64_t flags = pmm_lock();
    memset(&pmm, 0, sizeof pmm);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) pmm.free_list[o] = LINK_NONE;
    if (!bi || bi->magic != BOOTINFO_MAGIC) {
        pmm_unlock(flags);
        pr_err("pmm: no valid boot info, no memory to manage\n");
        return;
    }
    uint32_t count = map_count(bi);
    if (!place_metadata(bi, count)) {
        pmm_unlock(flags);
        pr_err("pmm: no usable memory above 1 MiB, no memory to manage\n");
        return;
    }
    uint64_t span = pmm.end_frame - pmm.first_frame;
    pmm.state = (uint8_t *)phys_to_virt(pmm.meta_frame << PAGE_SHIFT);
    pmm.links = (struct free_link *)(pmm.state + ALIGN_UP(span, 8));
    memset(pmm.state, FS_ABSENT, span); /* the links need no initialisation */
    memset(frame_state(pmm.meta_frame), FS_RESERVED, pmm.meta_pages);
    pmm.stats.reserved_frames = pmm.meta_pages;

    uint32_t regions = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct boot_mem_region *r = &bi->mmap[i];
        uint64_t s, e, raw_s, raw_e;
        switch (r->kind) {
        case MEM_USABLE:
            if (region_frames(r, pmm.first_frame, pmm.end_frame, &s, &e)) {
                if (add_frames(s, e)) regions++;
            } else {
                s = e = 0;
            }
            /* Frames cut off below 1 MiB or beyond the metadata's reach stay reserved. */
            if (region_frames(r, 0, MAX_PHYS_FRAMES, &raw_s, &raw_e))
                pmm.stats.reserved_frames += (raw_e - raw_s) - (e - s);
            break;
        case MEM_BOOT_RECLAIM:
        case MEM_LOADER:
        case MEM_ACPI_RECLAIM:
        case MEM_ACPI_NVS:
            if (region_frames(r, 0, MAX_PHYS_FRAMES, &raw_s, &raw_e))
                pmm.stats.reserved_frames += raw_e - raw_s;
            break;
        default:
            break;
        }
    }
    pmm_unlock(flags);
    pr_info("pmm: %llu MiB usable in %u regions, %llu KiB metadata\n",
            (unsigned long long)(pmm.stats.total_frames >> 8), regions,
            (unsigned long long)(pmm.meta_pages * 4));
}

/* Adds the MEM_BOOT_RECLAIM regions (frames already managed are skipped). Returns the
 * number of frames added. */
uint64_t pmm_reclaim_boot_services(const struct boot_info *bi) {
    if (!bi || !pmm.state) return 0;
    uint32_t count = map_count(bi);
    uint64_t flags = pmm_lock();
    uint64_t added = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t s, e;
        if (bi->mmap[i].kind != MEM_BOOT_RECLAIM) continue;
        if (region_frames(&bi->mmap[i], pmm.first_frame, pmm.end_frame, &s, &e))
            added += add_frames(s, e);
    }
    pmm.stats.reserved_frames -= MIN(added, pmm.stats.reserved_frames);
    pmm_unlock(flags);
    if (added)
        pr_info("pmm: reclaimed %llu KiB of boot-services memory\n", (unsigned long long)(added * 4));
    return added;
}

/* Allocates 2^order contiguous frames aligned to their size; returns the physical address
 * or 0 when no block is free (or order > PMM_MAX_ORDER). */
phys_addr_t pmm_alloc_order(unsigned order) {
    if (order > PMM_MAX_ORDER || !pmm.state) return 0;
    uint64_t flags = pmm_lock();
    uint64_t f = alloc_block(order);
    if (f) pmm.stats.alloc_calls++;
    pmm_unlock(flags);
    return f << PAGE_SHIFT;
}

/* Frees a block from pmm_alloc_order(order); bad frees are reported and ignored. */
void pmm_free_order(phys_addr_t pa, unsigned order) {
    if (order > PMM_MAX_ORDER || !IS_ALIGNED(pa, PAGE_SIZE << order)) {
        pr_err("pmm: free of %#llx with order %u: misaligned or bad order, ignored\n",
               (unsigned long long)pa, order);
        return;
    }
    uint64_t flags = pmm_lock();
    uint64_t f = pa >> PAGE_SHIFT;
    bool ok = pmm.state && check_allocated(f, order, "free");
    if (ok && *frame_refs(f) > 1) {
        pr_err("pmm: free of %#llx, which %u address spaces still share: ignored\n",
               (unsigned long long)pa, *frame_refs(f));
    } else if (ok) {
        free_block_merge(f, order);
        pmm.stats.free_calls++;
    } else if (!pmm.state) {
        pr_err("pmm: free of %#llx before pmm_init ignored\n", (unsigned long long)pa);
    }
    pmm_unlock(flags);
}

/* One frame. */
phys_addr_t pmm_alloc(void) { return pmm_alloc_order(0); }
void pmm_free(phys_addr_t pa) { pmm_free_order(pa, 0); }

/* A contiguous allocation of count frames is kept as the blocks of count's binary digits,
 * largest first: at offset 0 a block of count's top bit, then the next bit, ... Each block
 * is aligned to its size because the offsets before it are sums of larger powers of two. */
static inline unsigned top_bit(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* Allocates count physically contiguous frames whose address is a multiple of align (a power
 * of two; below 4096 means 4096). The block is rounded up to a power of two and the frames
 * past count are returned to the free lists at once. Returns the address or 0. */
phys_addr_t pmm_alloc_contig(size_t count, size_t align) {
    if (count == 0 || (align & (align - 1)) || count > order_frames(PMM_MAX_ORDER) || !pmm.state)
        return 0;
    unsigned order = top_bit(count) + ((count & (count - 1)) ? 1 : 0);
    if (align > PAGE_SIZE) order = MAX(order, top_bit(align) - PAGE_SHIFT);
    if (order > PMM_MAX_ORDER) return 0;
    uint64_t flags = pmm_lock();
    uint64_t f = alloc_block(order);
    if (f) {
        /* Keep the blocks of count's binary digits, give back the rest of the block. */
        uint64_t off = 0;
        for (int bit = (int)order; bit >= 0; bit--) {
            if (!(count & (1ull << bit))) continue;
            *frame_state(f + off) = (uint8_t)(FS_ALLOC | (unsigned)bit);
            *frame_refs(f + off) = 1;
            off += 1ull << bit;
        }
        while (off < order_frames(order)) {
            unsigned o = (unsigned)__builtin_ctzll(off);
            while (off + order_frames(o) > order_frames(order)) o--;
            free_block_merge(f + off, o);
            off += order_frames(o);
        }
        pmm.stats.alloc_calls++;
    }
    pmm_unlock(flags);
    return f << PAGE_SHIFT;
}

/* Frees count frames from pmm_alloc_contig(count, ...). The whole range is checked before
 * anything is freed, so a bad call frees nothing. */
void pmm_free_contig(phys_addr_t pa, size_t count) {
    if (count == 0 || count > order_frames(PMM_MAX_ORDER) || !IS_ALIGNED(pa, PAGE_SIZE)) {
        pr_err("pmm: contiguous free of %#llx (%zu frames) is malformed, ignored\n",
               (unsigned long long)pa, count);
        return;
    }
    uint64_t flags = pmm_lock();
    uint64_t f = pa >> PAGE_SHIFT, off = 0;
    bool ok = pmm.state != NULL;
    for (int bit = 63; ok && bit >= 0; bit--) {
        if (!(count & (1ull << bit))) continue;
        ok = check_allocated(f + off, (unsigned)bit, "contiguous free");
        off += 1ull << bit;
    }
    if (ok) {
        off = 0;
        for (int bit = 63; bit >= 0; bit--) {
            if (!(count & (1ull << bit))) continue;
            free_block_merge(f + off, (unsigned)bit);
            off += 1ull << bit;
        }
        pmm.stats.free_calls++;
    }
    pmm_unlock(flags);
}

/* Returns the order of the allocated block that starts at pa, or -1 when pa is not the first
 * frame of an allocated block. Lets the heap validate pointers without touching them. */
int pmm_allocated_order(phys_addr_t pa) {
    if (!IS_ALIGNED(pa, PAGE_SIZE) || !pmm.state) return -1;
    uint64_t f = pa >> PAGE_SHIFT;
    if (!frame_covered(f)) return -1;
    uint8_t s = *frame_state(f);
    return (s & FS_ALLOC) ? (int)(s & FS_ORDER_MASK) : -1;
}

/* Copies the counters. */
void pmm_get_stats(struct pmm_stats *out) {
    uint64_t flags = pmm_lock();
    *out = pmm.stats;
    pmm_unlock(flags);
}

/* Free blocks currently on the list of one order (for /proc and tests). */
uint64_t pmm_free_blocks(unsigned order) { return order <= PMM_MAX_ORDER ? pmm.free_blocks[order] : 0; }

/* Share counts of single frames (order-0 blocks) for copy-on-write. Each returns 0 and
 * reports the misuse when pa is not an allocated single frame. */
static bool shareable(phys_addr_t pa, const char *what) {
    uint64_t f = pa >> PAGE_SHIFT;
    if (pmm.state && IS_ALIGNED(pa, PAGE_SIZE) && frame_covered(f) && *frame_state(f) == (FS_ALLOC | 0))
        return true;
    pr_err("pmm: %s of %#llx, which is not an allocated single frame: ignored\n", what,
           (unsigned long long)pa);
    return false;
}

/* One more sharer; returns the new count (0: misuse, or the count would overflow). */
uint32_t pmm_frame_ref(phys_addr_t pa) {
    uint64_t flags = pmm_lock();
    uint32_t n = 0;
    if (shareable(pa, "frame ref")) {
        uint32_t *refs = frame_refs(pa >> PAGE_SHIFT);
        if (*refs < UINT32_MAX - 1) n = ++*refs;
        else pr_err("pmm: share count of %#llx overflows\n", (unsigned long long)pa);
    }
    pmm_unlock(flags);
    return n;
}

/* One sharer less; the last one frees the frame. Returns the count left (0: freed). */
uint32_t pmm_frame_unref(phys_addr_t pa) {
    uint64_t flags = pmm_lock();
    uint32_t n = 0;
    uint64_t f = pa >> PAGE_SHIFT;
    if (shareable(pa, "frame unref")) {
        uint32_t *refs = frame_refs(f);
        n = *refs > 1 ? --*refs : 0;
        if (n == 0) {
            *refs = 1;
            free_block_merge(f, 0);
            pmm.stats.free_calls++;
        }
    }
    pmm_unlock(flags);
    return n;
}

/* The share count of an allocated single frame (1 when nobody shares it), 0 otherwise. */
uint32_t pmm_frame_refs(phys_addr_t pa) {
    uint64_t flags = pmm_lock();
    uint64_t f = pa >> PAGE_SHIFT;
    uint32_t n = 0;
    if (pmm.state && IS_ALIGNED(pa, PAGE_SIZE) && frame_covered(f) && *frame_state(f) == (FS_ALLOC | 0))
        n = *frame_refs(f);
    pmm_unlock(flags);
    return n;
}
