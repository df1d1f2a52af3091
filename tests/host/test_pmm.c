/* test_pmm.c: host unit tests for the buddy frame allocator (kernel/mm/pmm.c).
 * "Physical memory" [0, 64 MiB) is a host buffer (host_direct_map_offset = its address), so
 * phys_to_virt works; the buffer is filled with a canary first, and tests check that the
 * allocator never wrote outside the regions it was given, and (managed_memory_never_written)
 * not into the frames it manages either: only its metadata. Synthetic boot memory maps cover
 * normal, unsorted, overlapping, holey, empty, sub-1-MiB, tiny and hostile layouts. */
#include "host_stubs.h"
#include <string.h>
#include <unistd.h>
#include "../../kernel/mm/pmm.c"

#define RAM_SIZE MiB(64)
#define RAM_FRAMES (RAM_SIZE / PAGE_SIZE)
#define CANARY 0xa5

uint64_t host_direct_map_offset;
static uint8_t *ram;
static struct boot_info *bi;
static uint8_t allowed[RAM_FRAMES]; /* 1: the allocator may hand this frame out */
static uint8_t shadow[RAM_FRAMES];  /* 1: handed out and not yet freed */

/* ---- fixtures and helpers ---- */

static int setup(void **state) {
    (void)state;
    ram = aligned_alloc(PAGE_SIZE, RAM_SIZE);
    assert_non_null(ram);
    memset(ram, CANARY, RAM_SIZE);
    host_direct_map_offset = (uint64_t)(uintptr_t)ram;
    bi = calloc(1, sizeof *bi);
    assert_non_null(bi);
    bi->magic = BOOTINFO_MAGIC;
    bi->version = BOOTINFO_VERSION;
    memset(allowed, 0, sizeof allowed);
    memset(shadow, 0, sizeof shadow);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(ram);
    free(bi);
    return 0;
}

static void map_add(uint64_t base, uint64_t pages, uint32_t kind) {
    assert_true(bi->mmap_count < BOOTINFO_MAX_MMAP);
    struct boot_mem_region *r = &bi->mmap[bi->mmap_count++];
    r->base = base;
    r->pages = pages;
    r->kind = kind;
}

/* Marks the frames of every region of `kind` (above 1 MiB, inside the buffer) as allowed. */
static void allow_kind(uint32_t kind) {
    for (uint32_t i = 0; i < bi->mmap_count && i < BOOTINFO_MAX_MMAP; i++) {
        const struct boot_mem_region *r = &bi->mmap[i];
        if (r->kind != kind || r->base >= RAM_SIZE) continue;
        uint64_t s = (r->base + PAGE_SIZE - 1) / PAGE_SIZE;
        uint64_t e = r->pages > RAM_FRAMES ? RAM_FRAMES : r->base / PAGE_SIZE + r->pages;
        for (uint64_t f = MAX(s, 256ull); f < MIN(e, RAM_FRAMES); f++) allowed[f] = 1;
    }
}

/* pmm_init, then records which frames may be handed out: usable frames minus the metadata. */
static void init_usable(void) {
    pmm_init(bi);
    allow_kind(MEM_USABLE);
    for (uint64_t i = 0; i < pmm.meta_pages; i++) {
        assert_int_equal(allowed[pmm.meta_frame + i], 1); /* metadata sits in usable RAM */
        allowed[pmm.meta_frame + i] = 0;
    }
}

static uint64_t count_allowed(void) {
    uint64_t n = 0;
    for (uint64_t f = 0; f < RAM_FRAMES; f++) n += allowed[f];
    return n;
}

static struct pmm_stats stats(void) {
    struct pmm_stats s;
    pmm_get_stats(&s);
    return s;
}

/* Walks every free list (frame indexes in the link array): states, alignment, back links,
 * counts, and the free frame total. */
static void verify_lists(void) {
    uint64_t frames = 0;
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) {
        uint64_t n = 0;
        uint32_t prev = LINK_NONE;
        for (uint32_t i = pmm.free_list[o]; i != LINK_NONE; i = pmm.links[i].next) {
            assert_true(i < pmm.end_frame - pmm.first_frame);
            uint64_t f = pmm.first_frame + i;
            assert_true(frame_covered(f));
            assert_int_equal(*frame_state(f), FS_FREE | o);
            assert_int_equal(f & ((1ull << o) - 1), 0);
            assert_int_equal(pmm.links[i].prev, prev);
            for (uint64_t k = 0; k < (1ull << o); k++) {
                assert_int_equal(allowed[f + k], 1);
                assert_int_equal(shadow[f + k], 0);
            }
            prev = i;
            assert_true(++n <= RAM_FRAMES);
        }
        assert_int_equal(n, pmm_free_blocks(o));
        frames += n << o;
    }
    assert_int_equal(frames, stats().free_frames);
}

/* Checks a fresh block and records it in the shadow map (no frame handed out twice). */
static void take(phys_addr_t pa, unsigned order) {
    assert_int_not_equal(pa, 0);
    assert_int_equal(pa & ((PAGE_SIZE << order) - 1), 0);
    uint64_t f = pa / PAGE_SIZE;
    assert_true(f + (1ull << order) <= RAM_FRAMES);
    for (uint64_t i = 0; i < (1ull << order); i++) {
        assert_int_equal(allowed[f + i], 1);
        assert_int_equal(shadow[f + i], 0);
        shadow[f + i] = 1;
    }
    assert_int_equal(pmm_allocated_order(pa), (int)order);
}

static void give_back(phys_addr_t pa, unsigned order) {
    for (uint64_t i = 0; i < (1ull << order); i++) shadow[pa / PAGE_SIZE + i] = 0;
    pmm_free_order(pa, order);
}

/* Every byte of the buffer outside frames the allocator owns still holds the canary. */
static void verify_canary_outside(void) {
    for (uint64_t f = 0; f < RAM_FRAMES; f++) {
        if (allowed[f] || (f >= pmm.meta_frame && f < pmm.meta_frame + pmm.meta_pages)) continue;
        const uint8_t *p = ram + f * PAGE_SIZE;
        for (uint64_t i = 0; i < PAGE_SIZE; i += 8)
            if (*(const uint64_t *)(p + i) != 0xa5a5a5a5a5a5a5a5ull)
                fail_msg("frame %#llx outside managed memory was written", (unsigned long long)f);
    }
}

/* Allocates single frames until the allocator says no; returns how many it gave (all
 * recorded in the shadow map and chained through their first word). */
static uint64_t drain_frames(phys_addr_t *chain) {
    uint64_t n = 0;
    *chain = 0;
    for (phys_addr_t pa; (pa = pmm_alloc()) != 0; n++) {
        take(pa, 0);
        *(phys_addr_t *)phys_to_virt(pa) = *chain;
        *chain = pa;
    }
    return n;
}

static void free_chain(phys_addr_t chain) {
    while (chain) {
        phys_addr_t next = *(phys_addr_t *)phys_to_virt(chain);
        give_back(chain, 0);
        chain = next;
    }
}

/* stderr capture, to check that bad calls are reported. */
static int saved_stderr = -1;
static FILE *capture_file;
static char captured[4096];

static void capture_begin(void) {
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(2);
    dup2(fileno(capture_file), 2);
}

static const char *capture_end(void) {
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(capture_file);
    size_t n = fread(captured, 1, sizeof captured - 1, capture_file);
    captured[n] = 0;
    fclose(capture_file);
    return captured;
}

/* ---- tests ---- */

/* A map like OVMF's: low memory, kernel, usable runs, ACPI tables, usable again. */
static void normal_map_counts(void **state) {
    (void)state;
    map_add(0, 160, MEM_USABLE);                 /* 640 KiB, all below 1 MiB */
    map_add(MiB(1), 1792, MEM_LOADER);           /* 7 MiB */
    map_add(MiB(8), 8192, MEM_USABLE);           /* 32 MiB */
    map_add(MiB(40), 256, MEM_ACPI_RECLAIM);     /* 1 MiB */
    map_add(MiB(41), 5888, MEM_USABLE);          /* 23 MiB */
    map_add(0xfee00000, 1, MEM_MMIO);
    init_usable();
    /* Metadata: 9 bytes per frame of [8 MiB, 64 MiB) (a state byte and an 8-byte link):
     * 14336 state bytes + 14336 * 8 link bytes = 129024 bytes = 32 pages (31.5 rounded up),
     * in the first usable region above 1 MiB. */
    assert_int_equal(pmm.meta_pages, 32);
    assert_int_equal(pmm.meta_frame, MiB(8) / PAGE_SIZE);
    struct pmm_stats s = stats();
    assert_int_equal(s.total_frames, 8192 + 5888 - 32);
    assert_int_equal(s.total_frames, count_allowed());
    assert_int_equal(s.free_frames, s.total_frames);
    assert_int_equal(s.reserved_frames, 32 + 160 + 1792 + 256);
    assert_int_equal(s.alloc_calls, 0);
    verify_lists();
    /* [8 MiB + 128 KiB, 40 MiB) and [41 MiB, 64 MiB) as maximal blocks: seven 4 MiB blocks
     * in [12, 40) MiB and five in [44, 64) MiB, the ragged edges in smaller orders. */
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 7 + 5);
    verify_canary_outside();
}

/* Every order hands out blocks aligned to their size, inside usable RAM. */
static void alignment_of_every_order(void **state) {
    (void)state;
    map_add(MiB(3), 3 * 256 + 17, MEM_USABLE); /* ragged small region first */
    map_add(MiB(16), 12000, MEM_USABLE);
    init_usable();
    uint64_t start = stats().free_frames;
    phys_addr_t got[PMM_MAX_ORDER + 1][3];
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        for (int k = 0; k < 3; k++) {
            got[o][k] = pmm_alloc_order(o);
            take(got[o][k], o);
            memset(phys_to_virt(got[o][k]), (int)o, PAGE_SIZE << o);
        }
    verify_lists();
    assert_int_equal(pmm_alloc_order(PMM_MAX_ORDER + 1), 0);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        for (int k = 0; k < 3; k++) {
            const uint8_t *p = phys_to_virt(got[o][k]);
            for (uint64_t i = 0; i < (PAGE_SIZE << o); i += 997) assert_int_equal(p[i], o);
            give_back(got[o][k], o);
        }
    assert_int_equal(stats().free_frames, start);
    verify_lists();
    verify_canary_outside();
}

/* Regions out of order, overlapping, repeated and empty: every frame is managed once. */
static void unsorted_overlapping_regions(void **state) {
    (void)state;
    map_add(MiB(20), MiB(10) / PAGE_SIZE, MEM_USABLE);
    map_add(MiB(25), MiB(10) / PAGE_SIZE, MEM_USABLE);
    map_add(MiB(10), MiB(12) / PAGE_SIZE, MEM_USABLE);
    map_add(MiB(30), 0, MEM_USABLE);
    map_add(MiB(20), MiB(10) / PAGE_SIZE, MEM_USABLE); /* exact repeat */
    map_add(MiB(12), 1, MEM_USABLE);                   /* inside another */
    map_add(MiB(50), 3, MEM_ACPI_NVS);
    init_usable();
    uint64_t union_frames = MiB(25) / PAGE_SIZE;
    assert_int_equal(stats().total_frames, union_frames - pmm.meta_pages);
    assert_int_equal(stats().total_frames, count_allowed());
    verify_lists();
    phys_addr_t chain;
    uint64_t n = drain_frames(&chain);
    assert_int_equal(n, union_frames - pmm.meta_pages);
    assert_int_equal(stats().free_frames, 0);
    free_chain(chain);
    assert_int_equal(stats().free_frames, n);
    verify_lists();
    verify_canary_outside();
}

/* Holes, ragged and unaligned edges, single frames and zero-page regions. */
static void holes_and_ragged_regions(void **state) {
    (void)state;
    map_add(MiB(16) + 3 * PAGE_SIZE, 5, MEM_USABLE);
    map_add(MiB(17), 1, MEM_USABLE);
    map_add(MiB(18) + 0x800, 3, MEM_USABLE); /* not page aligned: two whole frames inside */
    map_add(MiB(19), 0, MEM_USABLE);
    map_add(MiB(20) + PAGE_SIZE, 2047, MEM_USABLE);
    map_add(MiB(32), 1, MEM_RESERVED);
    map_add(MiB(40) - PAGE_SIZE, 1025, MEM_USABLE);
    init_usable();
    assert_int_equal(stats().total_frames, count_allowed());
    assert_int_equal(stats().total_frames, 5 + 1 + 2 + 2047 + 1025 - pmm.meta_pages);
    verify_lists();
    /* The only whole 4 MiB blocks are [24, 28) MiB and [40, 44) MiB. */
    phys_addr_t big1 = pmm_alloc_order(PMM_MAX_ORDER), big2 = pmm_alloc_order(PMM_MAX_ORDER);
    take(big1, PMM_MAX_ORDER);
    take(big2, PMM_MAX_ORDER);
    assert_int_equal(MIN(big1, big2), MiB(24));
    assert_int_equal(MAX(big1, big2), MiB(40));
    assert_int_equal(pmm_alloc_order(PMM_MAX_ORDER), 0);
    phys_addr_t chain;
    uint64_t n = drain_frames(&chain);
    assert_int_equal(n + 2048, stats().total_frames);
    free_chain(chain);
    give_back(big1, PMM_MAX_ORDER);
    give_back(big2, PMM_MAX_ORDER);
    verify_lists();
    verify_canary_outside();
}

/* Memory below 1 MiB is never handed out; a map with nothing above 1 MiB manages nothing. */
static void below_one_mib(void **state) {
    (void)state;
    map_add(0, 512, MEM_USABLE); /* [0, 2 MiB) */
    init_usable();
    assert_int_equal(pmm.first_frame, 256);
    assert_int_equal(stats().total_frames, 256 - pmm.meta_pages);
    phys_addr_t chain;
    uint64_t n = drain_frames(&chain);
    assert_int_equal(n, 256 - pmm.meta_pages);
    for (phys_addr_t c = chain; c; c = *(phys_addr_t *)phys_to_virt(c)) assert_true(c >= MiB(1));
    free_chain(chain);
    assert_int_equal(stats().reserved_frames, pmm.meta_pages + 256);
    verify_canary_outside();

    bi->mmap_count = 0;
    map_add(PAGE_SIZE, 100, MEM_USABLE);
    memset(allowed, 0, sizeof allowed);
    memset(ram, CANARY, RAM_SIZE);
    capture_begin();
    pmm_init(bi);
    capture_end();
    assert_int_equal(stats().total_frames, 0);
    assert_int_equal(pmm_alloc(), 0);
    assert_int_equal(pmm_alloc_contig(4, PAGE_SIZE), 0);
    capture_begin();
    pmm_free(MiB(2));
    assert_non_null(strstr(capture_end(), "pmm:"));
    verify_canary_outside();
}

/* A few frames in all: the metadata takes one, order-1 needs an aligned pair. */
static void tiny_total(void **state) {
    (void)state;
    map_add(MiB(16), 3, MEM_USABLE);
    init_usable();
    assert_int_equal(pmm.meta_pages, 1); /* 3 state bytes, padding to 8, 3 * 8 link bytes */
    assert_int_equal(stats().total_frames, 2);
    assert_int_equal(pmm_alloc_order(1), 0); /* frames 4097 and 4098 are not a buddy pair */
    phys_addr_t a = pmm_alloc(), b = pmm_alloc();
    take(a, 0);
    take(b, 0);
    assert_int_equal(pmm_alloc(), 0);
    give_back(a, 0);
    give_back(b, 0);
    assert_int_equal(stats().free_frames, 2);
    verify_lists();

    /* One frame: all of it goes to the metadata. */
    bi->mmap_count = 0;
    map_add(MiB(16), 1, MEM_USABLE);
    pmm_init(bi);
    assert_int_equal(stats().total_frames, 0);
    assert_int_equal(pmm_alloc(), 0);
    verify_canary_outside();
}

/* Boot-services regions arrive later, merge with their neighbours, and count once. */
static void reclaim_boot_services(void **state) {
    (void)state;
    map_add(MiB(16), 512, MEM_USABLE);           /* [16, 18) MiB */
    map_add(MiB(18), 512, MEM_BOOT_RECLAIM);     /* [18, 20) MiB: completes a 4 MiB block */
    map_add(MiB(24), 1024, MEM_USABLE);          /* [24, 28) MiB */
    map_add(MiB(26), 1024, MEM_BOOT_RECLAIM);    /* [26, 30) MiB: half overlaps */
    map_add(MiB(0), 16, MEM_BOOT_RECLAIM);       /* below 1 MiB: never */
    init_usable();
    struct pmm_stats before = stats();
    /* Metadata for [16, 30) MiB: 3584 state bytes + 3584 * 8 link bytes = 32256 bytes. */
    assert_int_equal(pmm.meta_pages, 8);
    assert_int_equal(before.total_frames, 1536 - pmm.meta_pages);
    assert_int_equal(before.reserved_frames, pmm.meta_pages + 512 + 1024 + 16);
    /* Metadata reaches the reclaimable region's frames. */
    assert_int_equal(pmm.end_frame, MiB(30) / PAGE_SIZE);
    assert_int_equal(pmm_reclaim_boot_services(bi), 512 + 512);
    allow_kind(MEM_BOOT_RECLAIM);
    for (uint64_t i = 0; i < pmm.meta_pages; i++) allowed[pmm.meta_frame + i] = 0;
    struct pmm_stats after = stats();
    assert_int_equal(after.total_frames, before.total_frames + 1024);
    assert_int_equal(after.free_frames, before.free_frames + 1024);
    assert_int_equal(after.reserved_frames, before.reserved_frames - 1024);
    assert_int_equal(after.total_frames, count_allowed());
    assert_int_equal(pmm_reclaim_boot_services(bi), 0); /* second call adds nothing */
    assert_int_equal(stats().total_frames, after.total_frames);
    verify_lists();
    phys_addr_t chain;
    assert_int_equal(drain_frames(&chain), after.total_frames);
    free_chain(chain);
    verify_lists();
    verify_canary_outside();
}

/* Reclaimed memory merges with usable memory into a maximal block. */
static void reclaim_merges_buddies(void **state) {
    (void)state;
    map_add(MiB(8), 256, MEM_USABLE);         /* [8, 9) MiB holds the metadata */
    map_add(MiB(16), 512, MEM_USABLE);        /* [16, 18) MiB */
    map_add(MiB(18), 512, MEM_BOOT_RECLAIM);  /* [18, 20) MiB */
    init_usable();
    assert_true(pmm.meta_frame < MiB(9) / PAGE_SIZE);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 0);
    assert_int_equal(pmm_reclaim_boot_services(bi), 512);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 1);
    allow_kind(MEM_BOOT_RECLAIM);
    phys_addr_t pa = pmm_alloc_order(PMM_MAX_ORDER);
    take(pa, PMM_MAX_ORDER);
    assert_int_equal(pa, MiB(16));
    give_back(pa, PMM_MAX_ORDER);
    verify_lists();
}

/* DMA allocations: contiguous, aligned, and nothing beyond count is kept. */
static void contiguous_aligned(void **state) {
    (void)state;
    map_add(MiB(16), MiB(48) / PAGE_SIZE, MEM_USABLE);
    init_usable();
    uint64_t start = stats().free_frames;

    phys_addr_t dma = pmm_alloc_contig(16, KiB(64));
    assert_int_not_equal(dma, 0);
    assert_int_equal(dma & (KiB(64) - 1), 0);
    assert_int_equal(stats().free_frames, start - 16);
    memset(phys_to_virt(dma), 0x5a, 16 * PAGE_SIZE);

    phys_addr_t five = pmm_alloc_contig(5, PAGE_SIZE);
    assert_int_not_equal(five, 0);
    assert_int_equal(stats().free_frames, start - 21);
    for (int i = 0; i < 5; i++) shadow[five / PAGE_SIZE + i] = 1;
    phys_addr_t mib = pmm_alloc_contig(3, MiB(1));
    assert_int_equal(mib & (MiB(1) - 1), 0);
    assert_int_equal(stats().free_frames, start - 24);
    for (int i = 0; i < 3; i++) shadow[mib / PAGE_SIZE + i] = 1;
    for (int i = 0; i < 16; i++) shadow[dma / PAGE_SIZE + i] = 1;
    verify_lists(); /* the returned tails are free and none of the kept frames is */

    /* Every other frame can still be handed out, and none of the kept ones. */
    phys_addr_t chain;
    assert_int_equal(drain_frames(&chain), start - 24);
    free_chain(chain);

    /* A wrong count is refused without freeing anything. */
    capture_begin();
    pmm_free_contig(five, 6);
    assert_non_null(strstr(capture_end(), "pmm:"));
    assert_int_equal(stats().free_frames, start - 24);

    pmm_free_contig(five, 5);
    pmm_free_contig(mib, 3);
    pmm_free_contig(dma, 16);
    for (uint64_t f = 0; f < RAM_FRAMES; f++) shadow[f] = 0;
    assert_int_equal(stats().free_frames, start);

    /* The largest block, one more than it, bad alignments, zero. */
    phys_addr_t whole = pmm_alloc_contig(1024, PAGE_SIZE);
    assert_int_equal(whole & (MiB(4) - 1), 0);
    pmm_free_contig(whole, 1024);
    assert_int_equal(pmm_alloc_contig(1025, PAGE_SIZE), 0);
    assert_int_equal(pmm_alloc_contig(1, MiB(8)), 0);
    assert_int_equal(pmm_alloc_contig(4, 3 * PAGE_SIZE), 0);
    assert_int_equal(pmm_alloc_contig(0, PAGE_SIZE), 0);
    phys_addr_t one = pmm_alloc_contig(1, 0);
    assert_int_not_equal(one, 0);
    pmm_free(one); /* a one-frame contiguous block is an order-0 block */
    assert_int_equal(stats().free_frames, start);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 11); /* [20, 64) MiB */
    verify_lists();
    verify_canary_outside();
}

/* Exhaustion returns 0; freeing everything restores the counts and the 4 MiB blocks. */
static void exhaustion_and_merge(void **state) {
    (void)state;
    map_add(MiB(16), MiB(40) / PAGE_SIZE, MEM_USABLE);
    map_add(MiB(60), 100, MEM_USABLE);
    init_usable();
    struct pmm_stats start = stats();
    uint64_t blocks_before[PMM_MAX_ORDER + 1];
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) blocks_before[o] = pmm_free_blocks(o);
    phys_addr_t chain;
    uint64_t n = drain_frames(&chain);
    assert_int_equal(n, start.free_frames);
    assert_int_equal(pmm_alloc(), 0);
    assert_int_equal(pmm_alloc_order(3), 0);
    assert_int_equal(pmm_alloc_contig(2, PAGE_SIZE), 0);
    assert_int_equal(stats().free_frames, 0);
    free_chain(chain);
    struct pmm_stats end = stats();
    assert_int_equal(end.free_frames, start.free_frames);
    assert_int_equal(end.total_frames, start.total_frames);
    assert_int_equal(end.alloc_calls, n);
    assert_int_equal(end.free_calls, n);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) assert_int_equal(pmm_free_blocks(o), blocks_before[o]);
    phys_addr_t big = pmm_alloc_order(PMM_MAX_ORDER);
    take(big, PMM_MAX_ORDER);
    give_back(big, PMM_MAX_ORDER);
    verify_lists();
}

/* Double frees, wrong orders, tails, unmanaged and misaligned addresses: reported, ignored. */
static void bad_frees_are_ignored(void **state) {
    (void)state;
    map_add(MiB(16), MiB(16) / PAGE_SIZE, MEM_USABLE);
    map_add(MiB(40), MiB(8) / PAGE_SIZE, MEM_USABLE);
    init_usable();
    uint64_t start = stats().free_frames;
    phys_addr_t a = pmm_alloc_order(2), b = pmm_alloc();
    take(a, 2);
    take(b, 0);
    give_back(b, 0);
    struct { phys_addr_t pa; unsigned order; const char *why; } bad[] = {
        {b, 0, "double"},                       /* already free */
        {a, 1, "allocated with order 2"},       /* wrong order */
        {a + PAGE_SIZE, 0, "not the start"},    /* a tail frame */
        {MiB(36), 0, "unmanaged"},              /* the hole between regions */
        {PAGE_SIZE, 0, "outside"},              /* below 1 MiB */
        {GiB(8), 0, "outside"},                 /* beyond memory */
        {a + 8, 0, "misaligned"},
        {a, PMM_MAX_ORDER + 1, "bad order"},
        {pmm.meta_frame * PAGE_SIZE, 0, "unmanaged"}, /* the metadata */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        capture_begin();
        pmm_free_order(bad[i].pa, bad[i].order);
        const char *msg = capture_end();
        if (!strstr(msg, bad[i].why)) fail_msg("case %zu: expected '%s' in '%s'", i, bad[i].why, msg);
        assert_int_equal(stats().free_frames, start - 4);
        verify_lists();
    }
    assert_int_equal(stats().free_calls, 1);
    give_back(a, 2);
    capture_begin();
    pmm_free_order(a, 2);
    assert_non_null(strstr(capture_end(), "double"));
    assert_int_equal(stats().free_frames, start);
    verify_lists();
    /* The lists are whole: every frame comes out exactly once. */
    phys_addr_t chain;
    assert_int_equal(drain_frames(&chain), start);
    free_chain(chain);
    verify_canary_outside();
}

static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random allocations and frees of every order against a shadow map; each block carries a tag
 * that must be intact when it is freed (no two owners of a frame). */
static void random_stress(void **state) {
    (void)state;
    map_add(MiB(50), MiB(14) / PAGE_SIZE, MEM_USABLE);
    map_add(MiB(9) + 5 * PAGE_SIZE, MiB(30) / PAGE_SIZE - 11, MEM_USABLE);
    map_add(MiB(45), 77, MEM_USABLE);
    init_usable();
    struct pmm_stats start = stats();
    enum { SLOTS = 512, OPS = 40000 };
    static struct { phys_addr_t pa; unsigned order; bool contig; size_t count; } live[SLOTS];
    memset(live, 0, sizeof live);
    rng_state = 0x9e3779b97f4a7c15ull;
    uint64_t failures = 0;
    for (int op = 0; op < OPS; op++) {
        unsigned slot = (unsigned)(rng() % SLOTS);
        if (live[slot].pa) {
            const uint64_t *tag = phys_to_virt(live[slot].pa);
            assert_int_equal(*tag, live[slot].pa ^ 0x1234567890abcdefull);
            if (live[slot].contig) {
                for (size_t i = 0; i < live[slot].count; i++) shadow[live[slot].pa / PAGE_SIZE + i] = 0;
                pmm_free_contig(live[slot].pa, live[slot].count);
            } else {
                give_back(live[slot].pa, live[slot].order);
            }
            live[slot].pa = 0;
            continue;
        }
        uint64_t r = rng();
        if (r % 8 == 0) {
            size_t count = 1 + (size_t)((r >> 8) % 40);
            size_t align = PAGE_SIZE << ((r >> 16) % 6);
            phys_addr_t pa = pmm_alloc_contig(count, align);
            if (!pa) { failures++; continue; }
            assert_int_equal(pa & (align - 1), 0);
            for (size_t i = 0; i < count; i++) {
                assert_int_equal(allowed[pa / PAGE_SIZE + i], 1);
                assert_int_equal(shadow[pa / PAGE_SIZE + i], 0);
                shadow[pa / PAGE_SIZE + i] = 1;
            }
            live[slot].pa = pa;
            live[slot].contig = true;
            live[slot].count = count;
        } else {
            unsigned order = (unsigned)((r >> 8) % 64);
            order = order < 32 ? 0 : order < 48 ? 1 : order < 56 ? 2 : (unsigned)((r >> 20) % (PMM_MAX_ORDER + 1));
            phys_addr_t pa = pmm_alloc_order(order);
            if (!pa) { failures++; continue; }
            take(pa, order);
            live[slot].pa = pa;
            live[slot].order = order;
            live[slot].contig = false;
        }
        *(uint64_t *)phys_to_virt(live[slot].pa) = live[slot].pa ^ 0x1234567890abcdefull;
        if (op % 4096 == 0) verify_lists();
    }
    verify_lists();
    for (unsigned slot = 0; slot < SLOTS; slot++) {
        if (!live[slot].pa) continue;
        if (live[slot].contig) {
            for (size_t i = 0; i < live[slot].count; i++) shadow[live[slot].pa / PAGE_SIZE + i] = 0;
            pmm_free_contig(live[slot].pa, live[slot].count);
        } else {
            give_back(live[slot].pa, live[slot].order);
        }
    }
    struct pmm_stats end = stats();
    assert_int_equal(end.free_frames, start.free_frames);
    assert_int_equal(end.alloc_calls, end.free_calls);
    (void)failures;
    verify_lists();
    phys_addr_t big = pmm_alloc_order(PMM_MAX_ORDER);
    take(big, PMM_MAX_ORDER);
    give_back(big, PMM_MAX_ORDER);
    verify_canary_outside();
}

/* Hostile maps: too many regions, far-away memory the metadata cannot cover, overflowing
 * sizes, a bad magic, no boot info at all. */
static void hostile_maps(void **state) {
    (void)state;
    map_add(MiB(16), 1024, MEM_USABLE);
    map_add(1ull << 45, 1, MEM_USABLE);               /* 32 TiB away: 72 GiB of metadata, 2^33 frames */
    map_add(1ull << 63, UINT64_MAX / 2, MEM_USABLE);  /* beyond 52-bit addresses, overflowing */
    map_add(MiB(20), UINT64_MAX, MEM_BOOT_RECLAIM);   /* overflowing size */
    bi->mmap_count = 100000;                          /* more than the array holds */
    capture_begin();
    pmm_init(bi);
    const char *msg = capture_end();
    assert_non_null(strstr(msg, "using the first 512"));
    assert_non_null(strstr(msg, "too far away"));
    allow_kind(MEM_USABLE);
    for (uint64_t i = 0; i < pmm.meta_pages; i++) allowed[pmm.meta_frame + i] = 0;
    assert_true(pmm.end_frame <= RAM_FRAMES);
    assert_int_equal(pmm.meta_pages, 3); /* 1024 frames: 1024 + 1024 * 8 = 9216 bytes */
    assert_int_equal(stats().total_frames, 1024 - pmm.meta_pages);
    verify_lists();
    phys_addr_t chain;
    assert_int_equal(drain_frames(&chain), 1024 - pmm.meta_pages);
    free_chain(chain);
    verify_canary_outside();

    bi->magic = 0;
    capture_begin();
    pmm_init(bi);
    assert_non_null(strstr(capture_end(), "pmm:"));
    assert_int_equal(stats().total_frames, 0);
    assert_int_equal(pmm_alloc(), 0);
    assert_int_equal(pmm_reclaim_boot_services(bi), 0);
    capture_begin();
    pmm_init(NULL);
    capture_end();
    assert_int_equal(pmm_alloc_order(0), 0);
}

/* Every byte outside the metadata pages still holds the canary: the allocator wrote nothing
 * into the memory it manages (free or handed out) nor anywhere else. Only valid in tests that
 * never write into the blocks they get. */
static void verify_only_metadata_written(void) {
    static uint8_t canary_page[PAGE_SIZE];
    memset(canary_page, CANARY, sizeof canary_page);
    for (uint64_t f = 0; f < RAM_FRAMES; f++) {
        if (f >= pmm.meta_frame && f < pmm.meta_frame + pmm.meta_pages) continue;
        if (memcmp(ram + f * PAGE_SIZE, canary_page, PAGE_SIZE) != 0)
            fail_msg("frame %#llx (%s, %s) was written by the allocator", (unsigned long long)f,
                     allowed[f] ? "managed" : "not managed", shadow[f] ? "handed out" : "free");
    }
}

/* pmm_init, pmm_reclaim_boot_services, allocations of every kind, frees with merges, bad
 * frees and a full drain write only into the metadata: no managed frame is ever touched,
 * neither the free ones nor the ones handed out (the caller zeroes if it wants). Under QEMU
 * a write into every free block made the host fault in all guest RAM at boot. */
static void managed_memory_never_written(void **state) {
    (void)state;
    map_add(MiB(2), 300, MEM_USABLE);                          /* ragged, holds the metadata */
    map_add(MiB(4), MiB(20) / PAGE_SIZE, MEM_USABLE);          /* [4, 24) MiB */
    map_add(MiB(24), MiB(8) / PAGE_SIZE, MEM_BOOT_RECLAIM);    /* [24, 32) MiB */
    map_add(MiB(30), MiB(10) / PAGE_SIZE, MEM_USABLE);         /* [30, 40) MiB, overlaps */
    map_add(MiB(40), 256, MEM_LOADER);
    map_add(MiB(44) + 3 * PAGE_SIZE, 1000, MEM_BOOT_RECLAIM);  /* ragged */
    map_add(MiB(48), MiB(16) / PAGE_SIZE, MEM_USABLE);         /* [48, 64) MiB */
    init_usable();
    assert_int_equal(pmm.meta_frame, MiB(2) / PAGE_SIZE);
    verify_only_metadata_written();
    assert_true(pmm_reclaim_boot_services(bi) > 0);
    allow_kind(MEM_BOOT_RECLAIM);
    for (uint64_t i = 0; i < pmm.meta_pages; i++) allowed[pmm.meta_frame + i] = 0;
    verify_only_metadata_written();
    verify_lists();
    struct pmm_stats start = stats();
    assert_int_equal(start.total_frames, count_allowed());
    uint64_t blocks_before[PMM_MAX_ORDER + 1];
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) blocks_before[o] = pmm_free_blocks(o);

    /* Blocks of every order and contiguous runs (with their tails given back at once). */
    phys_addr_t got[PMM_MAX_ORDER + 1][3];
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
        for (int k = 0; k < 3; k++) {
            got[o][k] = pmm_alloc_order(o);
            take(got[o][k], o);
        }
    phys_addr_t dma = pmm_alloc_contig(5, KiB(64)), run = pmm_alloc_contig(300, PAGE_SIZE);
    assert_int_not_equal(dma, 0);
    assert_int_not_equal(run, 0);
    for (int i = 0; i < 5; i++) shadow[dma / PAGE_SIZE + i] = 1;
    for (int i = 0; i < 300; i++) shadow[run / PAGE_SIZE + i] = 1;
    verify_lists();
    verify_only_metadata_written();

    /* Frees in a different order than the allocations (merges), a double free, reuse. */
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) give_back(got[o][1], o);
    capture_begin();
    pmm_free_order(got[3][1], 3);
    assert_non_null(strstr(capture_end(), "double"));
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) {
        got[o][1] = pmm_alloc_order(o);
        take(got[o][1], o);
    }
    for (int i = 0; i < 300; i++) shadow[run / PAGE_SIZE + i] = 0;
    pmm_free_contig(run, 300);
    for (int o = PMM_MAX_ORDER; o >= 0; o--)
        for (int k = 2; k >= 0; k--) give_back(got[o][k], (unsigned)o);
    for (int i = 0; i < 5; i++) shadow[dma / PAGE_SIZE + i] = 0;
    pmm_free_contig(dma, 5);
    verify_lists();
    verify_only_metadata_written();
    assert_int_equal(stats().free_frames, start.free_frames);

    /* Every single frame handed out, then all given back. */
    static phys_addr_t frames[RAM_FRAMES];
    uint64_t n = 0;
    for (phys_addr_t pa; (pa = pmm_alloc()) != 0; n++) {
        assert_true(n < RAM_FRAMES);
        take(pa, 0);
        frames[n] = pa;
    }
    assert_int_equal(n, start.free_frames);
    verify_only_metadata_written();
    while (n) give_back(frames[--n], 0);
    for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) assert_int_equal(pmm_free_blocks(o), blocks_before[o]);
    assert_int_equal(stats().free_frames, start.free_frames);
    verify_lists();
    verify_only_metadata_written();
}

/* Metadata that was overwritten (a list head or a link naming something that is not a free
 * block of that order, a broken back link) is reported and the list dropped; nothing is
 * written through a bad link and nothing outside the allocator's memory is touched. */
static void corrupted_lists_are_dropped(void **state) {
    (void)state;
    map_add(MiB(16), MiB(32) / PAGE_SIZE, MEM_USABLE); /* [16, 48) MiB */
    init_usable();
    const uint32_t span = (uint32_t)(pmm.end_frame - pmm.first_frame);

    /* A head's next link far outside the metadata: the head is sound and handed out, the
     * rest of its list is dropped. */
    uint32_t head = pmm.free_list[PMM_MAX_ORDER];
    assert_int_not_equal(head, LINK_NONE);
    assert_true(pmm_free_blocks(PMM_MAX_ORDER) >= 2);
    pmm.links[head].next = 0x7fffffff;
    capture_begin();
    phys_addr_t a = pmm_alloc_order(PMM_MAX_ORDER);
    assert_non_null(strstr(capture_end(), "free list of order 10 corrupted"));
    take(a, PMM_MAX_ORDER);
    assert_int_equal(a, (pmm.first_frame + head) * PAGE_SIZE);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 0);
    assert_int_equal(pmm.free_list[PMM_MAX_ORDER], LINK_NONE);
    assert_int_equal(pmm_alloc_order(PMM_MAX_ORDER), 0);
    phys_addr_t b = pmm_alloc_order(3); /* the other lists still work */
    take(b, 3);
    give_back(b, 3);
    give_back(a, PMM_MAX_ORDER);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 1);
    verify_canary_outside();

    /* A head naming a tail frame: dropped, the allocation falls back to a bigger order. */
    memset(shadow, 0, sizeof shadow);
    pmm_init(bi);
    /* The ragged start [16 MiB + metadata, 20 MiB) leaves one block of each order 5..9. */
    assert_int_equal(pmm_free_blocks(5), 1);
    head = pmm.free_list[5];
    assert_int_not_equal(head, LINK_NONE);
    pmm.free_list[5] = head + 1;
    capture_begin();
    phys_addr_t c = pmm_alloc_order(5);
    assert_non_null(strstr(capture_end(), "free list of order 5 corrupted"));
    assert_int_not_equal(c, 0);
    assert_int_equal(pmm_allocated_order(c), 5);
    assert_int_not_equal(c, (pmm.first_frame + head) * PAGE_SIZE); /* the dropped block stays */
    assert_true(c / PAGE_SIZE >= pmm.meta_frame + pmm.meta_pages && c < MiB(48));

    /* A head index beyond the metadata. */
    assert_true(pmm_free_blocks(2) > 0);
    pmm.free_list[2] = span + 100;
    capture_begin();
    phys_addr_t d = pmm_alloc_order(2);
    assert_non_null(strstr(capture_end(), "free list of order 2 corrupted"));
    assert_int_not_equal(d, 0);
    assert_int_equal(pmm_allocated_order(d), 2);
    verify_canary_outside();

    /* A neighbour whose back link does not point at the block being removed. */
    memset(shadow, 0, sizeof shadow);
    pmm_init(bi);
    head = pmm.free_list[PMM_MAX_ORDER];
    uint32_t second = pmm.links[head].next;
    assert_int_not_equal(second, LINK_NONE);
    pmm.links[second].prev = second;
    capture_begin();
    phys_addr_t e = pmm_alloc_order(PMM_MAX_ORDER);
    assert_non_null(strstr(capture_end(), "corrupted"));
    assert_int_equal(e, (pmm.first_frame + head) * PAGE_SIZE);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 0);
    assert_int_equal(pmm.links[second].prev, second); /* not written through */
    pmm_free_order(e, PMM_MAX_ORDER);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), 1);
    verify_canary_outside();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(normal_map_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(alignment_of_every_order, setup, teardown),
        cmocka_unit_test_setup_teardown(unsorted_overlapping_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(holes_and_ragged_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(below_one_mib, setup, teardown),
        cmocka_unit_test_setup_teardown(tiny_total, setup, teardown),
        cmocka_unit_test_setup_teardown(reclaim_boot_services, setup, teardown),
        cmocka_unit_test_setup_teardown(reclaim_merges_buddies, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(exhaustion_and_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_frees_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(random_stress, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(managed_memory_never_written, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupted_lists_are_dropped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
