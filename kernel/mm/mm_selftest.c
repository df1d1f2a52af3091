/* mm_selftest.c: kernel self-tests of group `mm` for the frame allocator (pmm.c) and the heap
 * (heap.c) on the real machine memory, checked against the boot memory map (bootinfo.h).
 * Every test puts back what it took and checks that the counters return to where they were. */
#include "mm.h"
#include "cpu.h"
#include "kernel.h"
#include "selftest.h"

/* True when [pa, pa + size) lies above 1 MiB and is covered by RAM regions the allocator may
 * manage (a block may span adjacent usable and reclaimed regions). */
static bool in_usable_ram(phys_addr_t pa, uint64_t size) {
    if (pa < MiB(1) || pa + size < pa) return false;
    phys_addr_t cur = pa, end = pa + size;
    while (cur < end) {
        phys_addr_t next = cur;
        for (uint32_t i = 0; i < boot_info->mmap_count && i < BOOTINFO_MAX_MMAP; i++) {
            const struct boot_mem_region *r = &boot_info->mmap[i];
            if (r->kind != MEM_USABLE && r->kind != MEM_BOOT_RECLAIM) continue;
            if (cur >= r->base && cur < r->base + r->pages * PAGE_SIZE) {
                next = r->base + r->pages * PAGE_SIZE;
                break;
            }
        }
        if (next == cur) return false;
        cur = next;
    }
    return true;
}

static uint64_t free_frames(void) {
    struct pmm_stats s;
    pmm_get_stats(&s);
    return s.free_frames;
}

static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

SELFTEST(mm, frames_aligned_in_ram) {
    uint64_t start = free_frames();
    phys_addr_t got[PMM_MAX_ORDER + 1] = {0};
    bool ok = true;
    for (unsigned o = 0; o <= PMM_MAX_ORDER && ok; o++) {
        got[o] = pmm_alloc_order(o);
        uint64_t size = PAGE_SIZE << o;
        if (!got[o]) {
            selftest_fail(t, "no block of order %u", o);
            ok = false;
        } else if (!IS_ALIGNED(got[o], size)) {
            selftest_fail(t, "order %u block %#llx is not %llu-byte aligned", o,
                          (unsigned long long)got[o], (unsigned long long)size);
            ok = false;
        } else if (!in_usable_ram(got[o], size)) {
            selftest_fail(t, "order %u block %#llx is outside usable RAM", o, (unsigned long long)got[o]);
            ok = false;
        } else if (pmm_allocated_order(got[o]) != (int)o) {
            selftest_fail(t, "order %u block %#llx is not recorded as allocated", o,
                          (unsigned long long)got[o]);
            ok = false;
        } else {
            volatile uint64_t *first = phys_to_virt(got[o]);
            volatile uint64_t *last = (volatile uint64_t *)((char *)phys_to_virt(got[o]) + size - 8);
            *first = got[o];
            *last = ~got[o];
            if (*first != got[o] || *last != ~got[o]) {
                selftest_fail(t, "order %u block %#llx does not hold data", o, (unsigned long long)got[o]);
                ok = false;
            }
        }
    }
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        if (got[o]) pmm_free_order(got[o], o);
    ST_ASSERT(t, free_frames() == start, "free frames %llu, expected %llu",
              (unsigned long long)free_frames(), (unsigned long long)start);
}

SELFTEST(mm, contig_dma_64k) {
    uint64_t start = free_frames();
    phys_addr_t pa = pmm_alloc_contig(16, KiB(64));
    ST_ASSERT(t, pa != 0, "pmm_alloc_contig(16, 64 KiB) failed");
    uint64_t used = start - free_frames();
    bool aligned = IS_ALIGNED(pa, KiB(64)), ram = in_usable_ram(pa, 16 * PAGE_SIZE);
    bool one_block = pmm_allocated_order(pa) == 4;
    /* A pattern across all 16 frames through the direct map, read back. */
    volatile uint64_t *words = phys_to_virt(pa);
    size_t n = 16 * PAGE_SIZE / 8, bad = n;
    for (size_t i = 0; i < n; i++) words[i] = (pa + i * 8) ^ 0x5a5a5a5a5a5a5a5aull;
    for (size_t i = 0; i < n && bad == n; i++)
        if (words[i] != ((pa + i * 8) ^ 0x5a5a5a5a5a5a5a5aull)) bad = i;
    pmm_free_contig(pa, 16);
    ST_ASSERT(t, aligned, "%#llx is not 64 KiB aligned", (unsigned long long)pa);
    ST_ASSERT(t, ram, "%#llx + 64 KiB is not inside usable RAM", (unsigned long long)pa);
    ST_ASSERT(t, one_block, "%#llx is not one contiguous 16-frame block", (unsigned long long)pa);
    ST_ASSERT(t, used == 16, "took %llu frames for 16", (unsigned long long)used);
    ST_ASSERT(t, bad == n, "pattern differs at byte %zu", bad * 8);
    ST_ASSERT(t, free_frames() == start, "free frames %llu, expected %llu",
              (unsigned long long)free_frames(), (unsigned long long)start);
}

SELFTEST(mm, pmm_mixed_order_stress) {
    enum { SLOTS = 64, OPS = 3000 };
    static struct { phys_addr_t pa; unsigned order; size_t count; } live[SLOTS];
    uint64_t start = free_frames();
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < SLOTS; i++) live[i].pa = 0;
    bool corrupt = false;
    for (int op = 0; op < OPS && !corrupt; op++) {
        unsigned s = (unsigned)(rng() % SLOTS);
        if (live[s].pa) {
            corrupt = *(volatile uint64_t *)phys_to_virt(live[s].pa) != ~live[s].pa;
            if (live[s].count) pmm_free_contig(live[s].pa, live[s].count);
            else pmm_free_order(live[s].pa, live[s].order);
            live[s].pa = 0;
            continue;
        }
        uint64_t r = rng();
        if (r % 4 == 0) {
            live[s].count = 1 + (size_t)((r >> 8) % 24);
            live[s].pa = pmm_alloc_contig(live[s].count, PAGE_SIZE << ((r >> 16) % 5));
        } else {
            live[s].count = 0;
            live[s].order = (unsigned)((r >> 8) % 7);
            live[s].pa = pmm_alloc_order(live[s].order);
        }
        if (live[s].pa) *(volatile uint64_t *)phys_to_virt(live[s].pa) = ~live[s].pa;
    }
    for (int s = 0; s < SLOTS; s++) {
        if (!live[s].pa) continue;
        if (live[s].count) pmm_free_contig(live[s].pa, live[s].count);
        else pmm_free_order(live[s].pa, live[s].order);
    }
    ST_ASSERT(t, !corrupt, "a block's tag was overwritten: a frame was handed out twice");
    ST_ASSERT(t, free_frames() == start, "free frames %llu, expected %llu",
              (unsigned long long)free_frames(), (unsigned long long)start);
}

/* The word the test below writes at offset `off` of the block at pa. */
static inline uint64_t untouched_pattern(phys_addr_t pa, uint64_t off) {
    return (pa + off) ^ 0xc3a5c3a5c3a5c3a5ull;
}

/* The allocator keeps its free lists in its metadata and never writes into the frames it
 * manages: a 4 MiB block filled with a pattern keeps it after being freed (a 4 MiB block
 * cannot merge, so the old in-block list links would land in its first frame) and while
 * blocks of every order are split off, handed out and merged around it. The first 64 bytes
 * and the last word of every frame are checked. Interrupts are masked so no one else
 * allocates meanwhile. */
SELFTEST(mm, pmm_never_writes_free_frames) {
    enum { CHURN = 48 };
    uint64_t flags = irq_save();
    uint64_t start = free_frames();
    phys_addr_t pa = pmm_alloc_order(PMM_MAX_ORDER);
    if (!pa) {
        irq_restore(flags);
        ST_ASSERT(t, false, "no free 4 MiB block");
    }
    const uint64_t frames = 1ull << PMM_MAX_ORDER;
    uint8_t *base = phys_to_virt(pa);
    for (uint64_t f = 0; f < frames; f++) {
        volatile uint64_t *w = (volatile uint64_t *)(base + f * PAGE_SIZE);
        for (unsigned i = 0; i < 8; i++) w[i] = untouched_pattern(pa, f * PAGE_SIZE + i * 8);
        w[PAGE_SIZE / 8 - 1] = untouched_pattern(pa, f * PAGE_SIZE + PAGE_SIZE - 8);
    }
    pmm_free_order(pa, PMM_MAX_ORDER);
    /* Churn: blocks of orders 0..7 (splitting, likely from the freed block: the lists are
     * last in, first out), a contiguous run, then everything back in a mixed order. */
    phys_addr_t got[CHURN];
    for (int k = 0; k < CHURN; k++) got[k] = pmm_alloc_order((unsigned)(k % 8));
    phys_addr_t run = pmm_alloc_contig(37, PAGE_SIZE);
    for (int k = 0; k < CHURN; k += 2)
        if (got[k]) pmm_free_order(got[k], (unsigned)(k % 8));
    if (run) pmm_free_contig(run, 37);
    for (int k = CHURN - 1; k > 0; k -= 2)
        if (got[k]) pmm_free_order(got[k], (unsigned)(k % 8));
    uint64_t bad_offset = UINT64_MAX;
    for (uint64_t f = 0; f < frames && bad_offset == UINT64_MAX; f++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(base + f * PAGE_SIZE);
        for (unsigned i = 0; i < 8 && bad_offset == UINT64_MAX; i++)
            if (w[i] != untouched_pattern(pa, f * PAGE_SIZE + i * 8)) bad_offset = f * PAGE_SIZE + i * 8;
        if (w[PAGE_SIZE / 8 - 1] != untouched_pattern(pa, f * PAGE_SIZE + PAGE_SIZE - 8))
            bad_offset = f * PAGE_SIZE + PAGE_SIZE - 8;
    }
    uint64_t end = free_frames();
    irq_restore(flags);
    ST_ASSERT(t, bad_offset == UINT64_MAX, "free block %#llx was written at offset %#llx",
              (unsigned long long)pa, (unsigned long long)bad_offset);
    ST_ASSERT(t, end == start, "free frames %llu, expected %llu", (unsigned long long)end,
              (unsigned long long)start);
}

SELFTEST(mm, heap_mixed_stress) {
    enum { SLOTS = 256, OPS = 4000 };
    static struct { uint8_t *p; size_t size; } live[SLOTS];
    struct heap_stats before, after;
    heap_get_stats(&before);
    uint64_t start = free_frames();
    rng_state = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < SLOTS; i++) live[i].p = NULL;
    const char *problem = NULL;
    for (int op = 0; op < OPS && !problem; op++) {
        unsigned s = (unsigned)(rng() % SLOTS);
        if (live[s].p) {
            uint8_t tag = (uint8_t)(s * 13 + 7);
            size_t size = live[s].size;
            if (live[s].p[0] != tag || live[s].p[size / 2] != tag || live[s].p[size - 1] != tag)
                problem = "an allocation's contents were overwritten";
            kfree(live[s].p);
            live[s].p = NULL;
            continue;
        }
        uint64_t r = rng();
        size_t size = (r % 8) < 6 ? 16 + (size_t)((r >> 8) % 2033) : 16 + (size_t)((r >> 8) % (KiB(64) - 15));
        uint8_t *p = kmalloc(size);
        if (!p) { problem = "kmalloc failed"; break; }
        if ((uintptr_t)p & 15) problem = "kmalloc returned a pointer not 16-byte aligned";
        uint8_t tag = (uint8_t)(s * 13 + 7);
        p[0] = p[size / 2] = p[size - 1] = tag;
        live[s].p = p;
        live[s].size = size;
    }
    for (int s = 0; s < SLOTS; s++) kfree(live[s].p);
    heap_get_stats(&after);
    ST_ASSERT(t, !problem, "%s", problem);
    ST_ASSERT(t, after.bytes_in_use == before.bytes_in_use && after.allocations == before.allocations,
              "heap holds %llu bytes in %llu allocations, expected %llu in %llu",
              (unsigned long long)after.bytes_in_use, (unsigned long long)after.allocations,
              (unsigned long long)before.bytes_in_use, (unsigned long long)before.allocations);
    ST_ASSERT(t, after.pages_held == before.pages_held, "heap holds %llu pages, expected %llu",
              (unsigned long long)after.pages_held, (unsigned long long)before.pages_held);
    ST_ASSERT(t, free_frames() == start, "free frames %llu, expected %llu",
              (unsigned long long)free_frames(), (unsigned long long)start);
}

SELFTEST(mm, kzalloc_zeroes) {
    static const size_t sizes[] = {1, 24, 200, 2048, 3000, 20000};
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        size_t size = sizes[k];
        uint8_t *keep = kmalloc(size); /* keeps the slab alive so the dirty slot is reused */
        uint8_t *dirty = kmalloc(size);
        ST_ASSERT(t, keep && dirty, "kmalloc(%zu) failed", size);
        for (size_t i = 0; i < size; i++) dirty[i] = 0xee;
        kfree(dirty);
        uint8_t *z = kzalloc(size);
        size_t nonzero = size;
        for (size_t i = 0; z && i < size && nonzero == size; i++)
            if (z[i]) nonzero = i;
        kfree(z);
        kfree(keep);
        ST_ASSERT(t, z != NULL, "kzalloc(%zu) failed", size);
        ST_ASSERT(t, nonzero == size, "kzalloc(%zu) byte %zu is not zero", size, nonzero);
    }
}

SELFTEST(mm, exhaustion_returns_null) {
    struct pmm_stats before, after;
    uint64_t blocks_before[PMM_MAX_ORDER + 1];
    pmm_get_stats(&before);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) blocks_before[o] = pmm_free_blocks(o);
    /* Take everything, largest blocks first; the blocks are chained through their first
     * words: [0] = next block, [1] = its order. */
    phys_addr_t chain = 0;
    uint64_t taken = 0;
    for (int o = PMM_MAX_ORDER; o >= 0; o--) {
        phys_addr_t pa;
        while ((pa = pmm_alloc_order((unsigned)o)) != 0) {
            uint64_t *w = phys_to_virt(pa);
            w[0] = chain;
            w[1] = (uint64_t)o;
            chain = pa;
            taken += 1ull << o;
        }
    }
    phys_addr_t extra = pmm_alloc();
    phys_addr_t extra_contig = pmm_alloc_contig(2, PAGE_SIZE);
    void *big = kmalloc(KiB(8)); /* needs fresh frames, so must fail */
    uint64_t left = free_frames();
    while (chain) {
        uint64_t *w = phys_to_virt(chain);
        phys_addr_t next = w[0];
        pmm_free_order(chain, (unsigned)w[1]);
        chain = next;
    }
    if (extra) pmm_free(extra);
    if (extra_contig) pmm_free_contig(extra_contig, 2);
    kfree(big);
    pmm_get_stats(&after);
    ST_ASSERT(t, extra == 0 && extra_contig == 0, "the pmm still gave frames when empty");
    ST_ASSERT(t, big == NULL, "kmalloc(8 KiB) succeeded with no free frames");
    ST_ASSERT(t, left == 0, "%llu frames left after taking everything", (unsigned long long)left);
    ST_ASSERT(t, taken == before.free_frames, "took %llu frames, %llu were free",
              (unsigned long long)taken, (unsigned long long)before.free_frames);
    ST_ASSERT(t, after.free_frames == before.free_frames, "free frames %llu, expected %llu",
              (unsigned long long)after.free_frames, (unsigned long long)before.free_frames);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        ST_ASSERT(t, pmm_free_blocks(o) == blocks_before[o], "order %u: %llu free blocks, expected %llu",
                  o, (unsigned long long)pmm_free_blocks(o), (unsigned long long)blocks_before[o]);
}
