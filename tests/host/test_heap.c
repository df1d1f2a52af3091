/* test_heap.c: host unit tests for the kernel heap (kernel/mm/heap.c) running over the real
 * buddy allocator (kernel/mm/pmm.c) on fake physical memory: [0, 64 MiB) is a host buffer,
 * with one usable region [16 MiB, 64 MiB). */
#include "host_stubs.h"
#include <string.h>
#include <unistd.h>
#include "../../kernel/mm/pmm.c"
#include "../../kernel/mm/heap.c"

#define RAM_SIZE MiB(64)

uint64_t host_direct_map_offset;
static uint8_t *ram;
static struct boot_info *bi;

static int setup(void **state) {
    (void)state;
    ram = aligned_alloc(PAGE_SIZE, RAM_SIZE);
    assert_non_null(ram);
    memset(ram, 0xa5, RAM_SIZE);
    host_direct_map_offset = (uint64_t)(uintptr_t)ram;
    bi = calloc(1, sizeof *bi);
    assert_non_null(bi);
    bi->magic = BOOTINFO_MAGIC;
    bi->mmap_count = 1;
    bi->mmap[0].base = MiB(16);
    bi->mmap[0].pages = MiB(48) / PAGE_SIZE;
    bi->mmap[0].kind = MEM_USABLE;
    pmm_init(bi);
    memset(&heap, 0, sizeof heap); /* a fresh heap over the fresh pmm */
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(ram);
    free(bi);
    return 0;
}

static struct heap_stats hstats(void) {
    struct heap_stats s;
    heap_get_stats(&s);
    return s;
}

static uint64_t free_frames(void) {
    struct pmm_stats s;
    pmm_get_stats(&s);
    return s.free_frames;
}

/* The heap is back where it started: nothing live, no frames held, pmm whole again. */
static void assert_heap_idle(uint64_t frames_at_start) {
    struct heap_stats s = hstats();
    assert_int_equal(s.bytes_in_use, 0);
    assert_int_equal(s.allocations, 0);
    assert_int_equal(s.pages_held, 0);
    assert_int_equal(s.alloc_calls, s.free_calls);
    assert_int_equal(free_frames(), frames_at_start);
    for (unsigned c = 0; c < HEAP_CLASSES; c++) assert_null(heap.partial[c]);
}

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

/* Every class (and the sizes around each boundary): 16-byte alignment, the full size is
 * writable without touching neighbours, slabs fill up and are counted, and go back. */
static void every_size_class(void **state) {
    (void)state;
    uint64_t start = free_frames();
    enum { PER_SIZE = 300 };
    static uint8_t *objs[PER_SIZE];
    for (unsigned c = 0; c < HEAP_CLASSES; c++) {
        size_t class_size = 16u << c;
        size_t sizes[] = {class_size / 2 + 1, class_size - 1, class_size};
        for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
            size_t size = c == 0 && k == 0 ? 1 : sizes[k];
            for (int i = 0; i < PER_SIZE; i++) {
                objs[i] = kmalloc(size);
                assert_non_null(objs[i]);
                assert_int_equal((uintptr_t)objs[i] & 15, 0);
                memset(objs[i], i & 0xff, size);
            }
            unsigned capacity = (unsigned)((PAGE_SIZE - SLAB_HEADER_SIZE) / class_size);
            struct heap_stats s = hstats();
            assert_int_equal(s.pages_held, (PER_SIZE + capacity - 1) / capacity);
            assert_int_equal(s.allocations, PER_SIZE);
            assert_int_equal(s.bytes_in_use, PER_SIZE * class_size);
            assert_int_equal(free_frames(), start - s.pages_held);
            for (int i = 0; i < PER_SIZE; i++) {
                for (size_t b = 0; b < size; b++)
                    if (objs[i][b] != (i & 0xff)) fail_msg("size %zu object %d byte %zu overwritten", size, i, b);
                kfree(objs[i]);
            }
            assert_heap_idle(start);
        }
    }
}

/* Objects of one slab are distinct and do not overlap the slab header. */
static void objects_are_distinct(void **state) {
    (void)state;
    uint64_t start = free_frames();
    void *a[252];
    for (int i = 0; i < 252; i++) a[i] = kmalloc(16);
    assert_int_equal(hstats().pages_held, 1); /* 252 objects of 16 bytes fill one slab */
    uintptr_t page = (uintptr_t)a[0] & ~(PAGE_SIZE - 1);
    for (int i = 0; i < 252; i++) {
        assert_int_equal((uintptr_t)a[i] & ~(PAGE_SIZE - 1), page);
        assert_true((uintptr_t)a[i] >= page + SLAB_HEADER_SIZE);
        for (int j = 0; j < i; j++) assert_ptr_not_equal(a[i], a[j]);
    }
    void *next = kmalloc(16);
    assert_int_equal(hstats().pages_held, 2);
    kfree(next);
    for (int i = 0; i < 252; i++) kfree(a[i]);
    assert_heap_idle(start);
}

/* kzalloc returns zeroes even where freed memory was dirty. */
static void kzalloc_zeroes(void **state) {
    (void)state;
    uint64_t start = free_frames();
    size_t sizes[] = {1, 16, 100, 2048, 3000, 5000, 70000};
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        uint8_t *keep = kmalloc(sizes[k]); /* keeps a small slab alive so the slot is reused */
        uint8_t *dirty = kmalloc(sizes[k]);
        memset(dirty, 0xee, sizes[k]);
        kfree(dirty);
        uint8_t *z = kzalloc(sizes[k]);
        assert_non_null(z);
        for (size_t i = 0; i < sizes[k]; i++)
            if (z[i]) fail_msg("kzalloc(%zu) byte %zu is %#x", sizes[k], i, z[i]);
        kfree(z);
        kfree(keep);
    }
    assert_null(kzalloc(0));
    assert_heap_idle(start);
}

/* Requests above 2048 bytes take 2^order frames with a 16-byte header. */
static void large_allocations(void **state) {
    (void)state;
    uint64_t start = free_frames();
    struct { size_t size; unsigned order; } cases[] = {
        {2049, 0}, {4080, 0}, {4081, 1}, {8192, 2}, {KiB(64), 5}, {KiB(64) - 16, 4},
        {MiB(1), 9}, {KMALLOC_MAX_SIZE, PMM_MAX_ORDER},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        uint8_t *p = kmalloc(cases[k].size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p & 15, 0);
        assert_int_equal(free_frames(), start - (1ull << cases[k].order));
        struct heap_stats s = hstats();
        assert_int_equal(s.pages_held, 1ull << cases[k].order);
        assert_int_equal(s.bytes_in_use, cases[k].size);
        p[0] = 1;
        p[cases[k].size - 1] = 2;
        kfree(p);
        assert_heap_idle(start);
    }
    assert_null(kmalloc(KMALLOC_MAX_SIZE + 1));
}

/* kmalloc(0), absurd and overflowing sizes; kfree(NULL). */
static void zero_and_huge_sizes(void **state) {
    (void)state;
    uint64_t start = free_frames();
    assert_null(kmalloc(0));
    assert_null(kmalloc(GiB(1) + 1));
    assert_null(kmalloc(GiB(64)));
    assert_null(kmalloc(SIZE_MAX));
    assert_null(kmalloc(SIZE_MAX - 8)); /* size + header would wrap */
    assert_null(kzalloc(SIZE_MAX));
    kfree(NULL);
    struct heap_stats s = hstats();
    assert_int_equal(s.alloc_calls, 0);
    assert_int_equal(s.free_calls, 0);
    assert_heap_idle(start);
}

/* Bad frees are reported and change nothing; the heap keeps working afterwards. */
static void invalid_frees(void **state) {
    (void)state;
    uint64_t start = free_frames();
    uint8_t *small = kmalloc(64), *other = kmalloc(64), *big = kmalloc(20000);
    uint8_t *gone = kmalloc(32), *keep = kmalloc(32), *gone_big = kmalloc(10000);
    kfree(gone); /* its slab stays: `keep` lives in it */
    kfree(gone_big);
    phys_addr_t raw = pmm_alloc(); /* a frame the heap never saw */
    int on_stack;
    struct heap_stats before = hstats();
    uint64_t frames_before = free_frames();
    struct { void *p; const char *why; } bad[] = {
        {gone, "double free"},
        {gone_big, "not in allocated memory"},
        {small + 1, "not a heap pointer"},
        {small + 16, "not an object"},
        {(uint8_t *)((uintptr_t)small & ~(PAGE_SIZE - 1)) + 16, "slab header"},
        {big + PAGE_SIZE, "not in allocated memory"},
        {big + 16, "not allocated by kmalloc"},
        {phys_to_virt(raw), "not allocated by kmalloc"},
        {(uint8_t *)phys_to_virt(raw) + 16, "not allocated by kmalloc"},
        {phys_to_virt(MiB(4)), "not in allocated memory"}, /* unmanaged */
        {&on_stack, "ignored"},
        {(void *)(uintptr_t)0x10, "not a heap pointer"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        capture_begin();
        kfree(bad[i].p);
        const char *msg = capture_end();
        if (!strstr(msg, "kfree:") || !strstr(msg, bad[i].why))
            fail_msg("case %zu: expected '%s' in '%s'", i, bad[i].why, msg);
        struct heap_stats now = hstats();
        assert_memory_equal(&now, &before, sizeof now);
        assert_int_equal(free_frames(), frames_before);
    }
    /* Still consistent: the live objects free normally and the slot of a freed one is reused. */
    void *again = kmalloc(32);
    assert_ptr_equal(again, gone);
    kfree(again);
    kfree(keep);
    kfree(small);
    kfree(other);
    kfree(big);
    pmm_free(raw);
    assert_heap_idle(start);
}

/* What a small request should cost: the next power of two, at least 16. */
static uint64_t charge_of(size_t size) {
    if (size > 2048) return size;
    uint64_t c = 16;
    while (c < size) c <<= 1;
    return c;
}

static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mixed sizes, interleaved frees, contents checked at free; everything returns at the end. */
static void mixed_stress(void **state) {
    (void)state;
    uint64_t start = free_frames();
    enum { SLOTS = 1024, OPS = 60000 };
    static struct { uint8_t *p; size_t size; } live[SLOTS];
    memset(live, 0, sizeof live);
    rng_state = 0x2545f4914f6cdd1dull;
    uint64_t bytes = 0, count = 0;
    for (int op = 0; op < OPS; op++) {
        unsigned slot = (unsigned)(rng() % SLOTS);
        if (live[slot].p) {
            uint8_t tag = (uint8_t)(slot * 7 + 1);
            size_t size = live[slot].size;
            for (size_t i = 0; i < size; i += (size > 256 ? 61 : 1))
                if (live[slot].p[i] != tag) fail_msg("slot %u size %zu corrupted at %zu", slot, size, i);
            assert_int_equal(live[slot].p[size - 1], tag);
            kfree(live[slot].p);
            bytes -= charge_of(size);
            count--;
            live[slot].p = NULL;
            continue;
        }
        uint64_t r = rng();
        size_t size = (r % 16) < 12 ? 1 + (size_t)((r >> 8) % 2048) : 1 + (size_t)((r >> 8) % KiB(64));
        live[slot].p = kmalloc(size);
        assert_non_null(live[slot].p);
        assert_int_equal((uintptr_t)live[slot].p & 15, 0);
        live[slot].size = size;
        memset(live[slot].p, (uint8_t)(slot * 7 + 1), size);
        bytes += charge_of(size);
        count++;
        struct heap_stats s = hstats();
        assert_int_equal(s.bytes_in_use, bytes);
        assert_int_equal(s.allocations, count);
    }
    for (unsigned slot = 0; slot < SLOTS; slot++) kfree(live[slot].p);
    assert_heap_idle(start);
}

/* Running the pmm dry makes kmalloc return NULL, and everything comes back afterwards. */
static void exhaustion(void **state) {
    (void)state;
    uint64_t start = free_frames();
    uint64_t big_blocks = pmm_free_blocks(PMM_MAX_ORDER);
    void *chain = NULL;
    size_t n = 0;
    for (size_t size = KMALLOC_MAX_SIZE; size >= 16; size /= 2) {
        void *p;
        while ((p = kmalloc(size)) != NULL) {
            *(void **)p = chain;
            chain = p;
            n++;
        }
    }
    assert_int_equal(free_frames(), 0);
    assert_null(kmalloc(16));
    assert_null(kmalloc(100000));
    assert_true(n > 0);
    while (chain) {
        void *next = *(void **)chain;
        kfree(chain);
        chain = next;
    }
    assert_heap_idle(start);
    assert_int_equal(pmm_free_blocks(PMM_MAX_ORDER), big_blocks);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_size_class, setup, teardown),
        cmocka_unit_test_setup_teardown(objects_are_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown(kzalloc_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(large_allocations, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_and_huge_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(mixed_stress, setup, teardown),
        cmocka_unit_test_setup_teardown(exhaustion, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
