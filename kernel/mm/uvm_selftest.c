/* uvm_selftest.c: self-tests of user address spaces and user copies (group `uvm`), against
 * uvm.h, uaccess.h and the Linux mmap(2)/munmap(2)/mprotect(2)/madvise(2)/brk(2) semantics:
 * copy round trips through demand-zero pages; -EFAULT (never a kernel fault) for NULL, kernel
 * addresses, unmapped and read-only pages, ranges wrapping past 2^64 or crossing USER_TOP;
 * strncpy_from_user lengths and -ENAMETOOLONG; copy-on-write fork (shared frames until a write,
 * through uvm_write and through a copy_to_user fault); munmap splitting; mprotect; brk;
 * MADV_DONTNEED; the stack guard page; private file mappings (EOF zeroing, SIGBUS); placement;
 * shared anonymous memory across fork; frame share counts; faults with interrupts off; SMEP
 * and SMAP; 200 create/fork/touch/put cycles returning every frame.
 *
 * Each test runs its body on a fresh address space made active, then always activates the
 * kernel's tables again and drops the space (ST_ASSERT leaves only the body). */
#include "uvm_internal.h"
#include "uaccess.h"
#include "mm.h"
#include "vfs.h"
#include "cpu.h"
#include "fault.h"
#include "sched.h"
#include "kstring.h"
#include "printk.h"
#include "selftest.h"

#define P PAGE_SIZE
#define BASE 0x400000ull
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define PF_W 2u
#define PF_U 4u
#define PF_RSVD 8u
#define PF_I 16u

static inline void *U(uint64_t a) { return (void *)(uintptr_t)a; }

static int map_at(struct uvm *as, uint64_t addr, uint64_t len, int prot, int flags) {
    uint64_t a = addr;
    int r = uvm_map(as, &a, len, prot, flags | MAP_FIXED, NULL, 0);
    return r == 0 && a != addr ? -1 : r;
}

static uint64_t free_frames(void) {
    struct pmm_stats s;
    pmm_get_stats(&s);
    return s.free_frames;
}

/* Runs body on a new active address space, then always cleans up. */
static void with_space(struct selftest_ctx *t, void (*body)(struct selftest_ctx *, struct uvm *)) {
    struct uvm *as = uvm_create();
    ST_ASSERT(t, as, "uvm_create failed");
    uvm_activate(as);
    body(t, as);
    uvm_activate(NULL);
    uvm_put(as);
}

static uint8_t buf_a[3 * 4096], buf_b[3 * 4096];

static void fill(uint8_t *b, size_t n, uint8_t seed) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* ---- copies ---- */

static void round_trip_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, 3 * P, RW, ANON) == 0, "mmap failed");
    ST_ASSERT(t, uvm_resident_pages(as) == 0, "pages before first touch: %lu", uvm_resident_pages(as));
    size_t n = 2 * P + 50;
    fill(buf_a, n, 3);
    int w = copy_to_user(U(BASE + 100), buf_a, n);
    memset(buf_b, 0, sizeof buf_b);
    int r = copy_from_user(buf_b, U(BASE + 100), n);
    ST_ASSERT(t, w == 0 && r == 0, "copy_to_user %d, copy_from_user %d", w, r);
    ST_ASSERT(t, memcmp(buf_a, buf_b, n) == 0, "data changed on the round trip");
    ST_ASSERT(t, uvm_resident_pages(as) == 3, "resident %lu, want 3", uvm_resident_pages(as));
    memset(buf_b, 0xee, n);
    ST_ASSERT(t, uvm_read(as, BASE + 100, buf_b, n) == 0 && memcmp(buf_a, buf_b, n) == 0,
              "uvm_read disagrees with copy_from_user");
    ST_ASSERT(t, clear_user(U(BASE + 200), 10) == 0 && copy_from_user(buf_b, U(BASE + 195), 20) == 0,
              "clear_user failed");
    bool zeroed = true;
    for (int i = 5; i < 15; i++) zeroed &= buf_b[i] == 0;
    ST_ASSERT(t, zeroed && buf_b[4] == buf_a[99] && buf_b[15] == buf_a[110], "clear_user cleared the wrong bytes");
    uint32_t v32 = 0;
    uint64_t v64 = 0;
    ST_ASSERT(t, put_user_u32(U(BASE + P - 2), 0xdeadbeef) == 0 && get_user_u32(&v32, U(BASE + P - 2)) == 0 &&
                 v32 == 0xdeadbeef, "u32 across a page boundary: %#x", v32);
    ST_ASSERT(t, put_user_u64(U(BASE + 8), 0x1122334455667788ull) == 0 && get_user_u64(&v64, U(BASE + 8)) == 0 &&
                 v64 == 0x1122334455667788ull, "u64: %#lx", v64);
    uint32_t old = 0;
    put_user_u32(U(BASE + 16), 5);
    int c1 = user_cmpxchg_u32(U(BASE + 16), 5, 9, &old);
    uint32_t old1 = old;
    int c2 = user_cmpxchg_u32(U(BASE + 16), 5, 1, &old);
    get_user_u32(&v32, U(BASE + 16));
    ST_ASSERT(t, c1 == 0 && old1 == 5 && c2 == 0 && old == 9 && v32 == 9, "cmpxchg: %d/%u %d/%u value %u", c1,
              old1, c2, old, v32);
    ST_ASSERT(t, user_cmpxchg_u32(U(BASE + 17), 9, 1, &old) == -KEINVAL, "misaligned cmpxchg accepted");
}
SELFTEST(uvm, copy_round_trip) { with_space(t, round_trip_body); }

static uint64_t kernel_word = 0x5a5a5a5a5a5a5a5aull;

static void bad_pointers_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, P, RW, ANON) == 0 && map_at(as, BASE + 2 * P, P, PROT_READ, ANON) == 0 &&
                 map_at(as, BASE + 4 * P, P, PROT_NONE, ANON) == 0, "mmap failed");
    char b[64];
    memset(b, 'k', sizeof b);
    uint32_t v;
    struct { const char *what; int got; } cases[] = {
        {"read NULL", copy_from_user(b, NULL, 1)},
        {"write NULL", copy_to_user(NULL, b, 1)},
        {"read a kernel address", copy_from_user(b, &kernel_word, 8)},
        {"write a kernel address", copy_to_user(&kernel_word, b, 8)},
        {"read unmapped", copy_from_user(b, U(BASE + P), 8)},
        {"write unmapped", copy_to_user(U(BASE + P), b, 8)},
        {"wrap past 2^64", copy_from_user(b, U(0xfffffffffffff000ull), 0x2000)},
        {"huge length", copy_from_user(b, U(BASE), SIZE_MAX)},
        {"cross USER_TOP", copy_from_user(b, U(USER_TOP - 16), 32)},
        {"write mapped then unmapped", copy_to_user(U(BASE + P - 8), b, 16)},
        {"write read-only", copy_to_user(U(BASE + 2 * P), b, 4)},
        {"read PROT_NONE", copy_from_user(b, U(BASE + 4 * P), 4)},
        {"clear unmapped", clear_user(U(BASE + P), 1)},
        {"get_user NULL", get_user_u32(&v, NULL)},
        {"put_user at USER_TOP", put_user_u64(U(USER_TOP - 4), 1)},
        {"cmpxchg read-only", user_cmpxchg_u32(U(BASE + 2 * P), 0, 1, &v)},
        {"strncpy kernel", (int)strncpy_from_user(b, (const char *)&kernel_word, sizeof b)},
        {"strncpy NULL", (int)strncpy_from_user(b, NULL, sizeof b)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        ST_ASSERT(t, cases[i].got == -KEFAULT, "%s: %d, want -EFAULT", cases[i].what, cases[i].got);
    ST_ASSERT(t, kernel_word == 0x5a5a5a5a5a5a5a5aull, "kernel memory written through copy_to_user");
    ST_ASSERT(t, copy_from_user(b, U(BASE + 2 * P), 4) == 0 && b[0] == 0, "read-only page not readable");
    ST_ASSERT(t, copy_to_user(&kernel_word, b, 0) == 0, "zero-length copy failed");
    ST_ASSERT(t, !user_range_ok(USER_TOP, 1) && user_range_ok(USER_TOP - 1, 1) && !user_range_ok(1, SIZE_MAX) &&
                 user_range_ok(0, USER_TOP), "user_range_ok bounds wrong");
}
SELFTEST(uvm, bad_pointers_efault) { with_space(t, bad_pointers_body); }

static void strncpy_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, P, RW, ANON) == 0, "mmap failed");
    char b[64];
    ST_ASSERT(t, uvm_write(as, BASE, "hello", 6) == 0 && uvm_write(as, BASE + 100, "aaaaaaaaaa", 11) == 0,
              "uvm_write failed");
    int64_t n = strncpy_from_user(b, U(BASE), sizeof b);
    ST_ASSERT(t, n == 5 && strcmp(b, "hello") == 0, "hello: %ld", (long)n);
    ST_ASSERT(t, strncpy_from_user(b, U(BASE + 50), sizeof b) == 0 && b[0] == 0, "empty string");
    ST_ASSERT(t, strncpy_from_user(b, U(BASE + 100), 11) == 10, "10 chars in 11 bytes");
    n = strncpy_from_user(b, U(BASE + 100), 10);
    ST_ASSERT(t, n == -KENAMETOOLONG && b[9] == 0, "10 chars in 10 bytes: %ld", (long)n);
    ST_ASSERT(t, strncpy_from_user(b, U(BASE), 0) == -KENAMETOOLONG, "max 0");
    memset(b, 'x', sizeof b);
    ST_ASSERT(t, uvm_write(as, BASE + P - 8, b, 8) == 0, "uvm_write failed");
    n = strncpy_from_user(b, U(BASE + P - 8), sizeof b);
    ST_ASSERT(t, n == -KEFAULT, "string running into an unmapped page: %ld", (long)n);
    /* The very last user page, full of non-NUL bytes: the copy must stop at USER_TOP. */
    ST_ASSERT(t, map_at(as, USER_TOP - P, P, RW, ANON) == 0, "mmap of the last page failed");
    memset(buf_a, 'y', P);
    ST_ASSERT(t, copy_to_user(U(USER_TOP - P), buf_a, P) == 0, "fill failed");
    n = strncpy_from_user(b, U(USER_TOP - 16), sizeof b);
    ST_ASSERT(t, n == -KEFAULT, "string running into USER_TOP: %ld", (long)n);
}
SELFTEST(uvm, strncpy_from_user_lengths) { with_space(t, strncpy_body); }

/* ---- fork and copy-on-write ---- */

static void fork_body(struct selftest_ctx *t, struct uvm *parent) {
    ST_ASSERT(t, map_at(parent, BASE, 2 * P, RW, ANON) == 0, "mmap failed");
    ST_ASSERT(t, copy_to_user(U(BASE), "parent-0", 9) == 0 && copy_to_user(U(BASE + P), "parent-1", 9) == 0,
              "parent writes failed");
    struct uvm *child = uvm_fork(parent);
    ST_ASSERT(t, child, "uvm_fork failed");
    uint64_t pp0 = uvm_query_pte(parent, BASE), cp0 = uvm_query_pte(child, BASE);
    char b[16] = {0};
    int rd = uvm_read(child, BASE, b, 9);
    bool shared = (pp0 & PTE_ADDR) == (cp0 & PTE_ADDR) && (pp0 & PTE_COW) && (cp0 & PTE_COW) &&
                  !(pp0 & PTE_W) && !(cp0 & PTE_W) && pmm_frame_refs(pp0 & PTE_ADDR) == 2;
    /* The child writes page 0 through a user copy: the fault inside copy_to_user copies. */
    uvm_activate(child);
    int w = copy_to_user(U(BASE), "child-0", 8);
    char cb[16] = {0};
    copy_from_user(cb, U(BASE), 8);
    uvm_activate(parent);
    char pb[16] = {0};
    copy_from_user(pb, U(BASE), 9);
    uint64_t pp0b = uvm_query_pte(parent, BASE), cp0b = uvm_query_pte(child, BASE);
    uint64_t pp1 = uvm_query_pte(parent, BASE + P), cp1 = uvm_query_pte(child, BASE + P);
    /* The parent now is the only user of its page 0: a write takes the frame over. */
    int pw = copy_to_user(U(BASE), "P", 1);
    uint64_t pp0c = uvm_query_pte(parent, BASE);
    /* Page 1, still shared, written with uvm_write on the parent side: copied. */
    int uw = uvm_write(parent, BASE + P, "p1-new", 7);
    char c1[16] = {0};
    uvm_read(child, BASE + P, c1, 9);
    uint64_t pp1b = uvm_query_pte(parent, BASE + P);
    uint64_t child_res = uvm_resident_pages(child);
    uvm_put(child);
    ST_ASSERT(t, rd == 0 && strcmp(b, "parent-0") == 0, "child reads '%s' (%d)", b, rd);
    ST_ASSERT(t, shared, "after fork: parent pte %#lx child pte %#lx refs %u", pp0, cp0, pmm_frame_refs(pp0 & PTE_ADDR));
    ST_ASSERT(t, w == 0 && strcmp(cb, "child-0") == 0, "child write %d reads '%s'", w, cb);
    ST_ASSERT(t, strcmp(pb, "parent-0") == 0, "parent sees the child's write: '%s'", pb);
    ST_ASSERT(t, (pp0b & PTE_ADDR) != (cp0b & PTE_ADDR) && (cp0b & PTE_W) && !(cp0b & PTE_COW),
              "child's written page not private: %#lx / %#lx", pp0b, cp0b);
    ST_ASSERT(t, (pp1 & PTE_ADDR) == (cp1 & PTE_ADDR), "unwritten page 1 no longer shared");
    ST_ASSERT(t, pw == 0 && (pp0c & PTE_ADDR) == (pp0 & PTE_ADDR) && (pp0c & PTE_W) && !(pp0c & PTE_COW),
              "sole owner did not take the frame over: %#lx -> %#lx", pp0, pp0c);
    ST_ASSERT(t, uw == 0 && strcmp(c1, "parent-1") == 0 && (pp1b & PTE_ADDR) != (pp1 & PTE_ADDR),
              "uvm_write on a shared page: %d, child sees '%s'", uw, c1);
    ST_ASSERT(t, child_res == 2 && uvm_resident_pages(parent) == 2, "resident: child %lu parent %lu", child_res,
              uvm_resident_pages(parent));
    ST_ASSERT(t, pmm_frame_refs(pp1 & PTE_ADDR) == 0, "child's frame not freed with the child");
}
SELFTEST(uvm, fork_copy_on_write) { with_space(t, fork_body); }

static void shared_anon_body(struct selftest_ctx *t, struct uvm *parent) {
    ST_ASSERT(t, map_at(parent, BASE, P, RW, MAP_SHARED | MAP_ANONYMOUS) == 0 &&
                 map_at(parent, BASE + P, P, RW, ANON) == 0, "mmap failed");
    ST_ASSERT(t, uvm_resident_pages(parent) == 1, "shared memory not allocated at mmap");
    struct uvm *child = uvm_fork(parent);
    ST_ASSERT(t, child, "uvm_fork failed");
    uvm_write(child, BASE, "shared", 7);
    uvm_write(child, BASE + P, "private", 8);
    char s[8] = {0}, p[8] = {0};
    uvm_read(parent, BASE, s, 7);
    uvm_read(parent, BASE + P, p, 8);
    uint64_t pe = uvm_query_pte(parent, BASE);
    uvm_put(child);
    ST_ASSERT(t, strcmp(s, "shared") == 0, "parent does not see the child's write to shared memory: '%s'", s);
    ST_ASSERT(t, p[0] == 0, "parent sees the child's write to private memory");
    ST_ASSERT(t, (pe & PTE_W) && !(pe & PTE_COW), "shared page became copy-on-write: %#lx", pe);
}
SELFTEST(uvm, shared_anonymous_across_fork) { with_space(t, shared_anon_body); }

/* ---- regions ---- */

static bool page_byte(uint64_t addr, uint8_t *out) { return copy_from_user(out, U(addr), 1) == 0; }

static void munmap_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, 8 * P, RW, ANON) == 0, "mmap failed");
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(i + 1);
        ST_ASSERT(t, copy_to_user(U(BASE + i * P), &b, 1) == 0, "touch page %d failed", i);
    }
    ST_ASSERT(t, uvm_region_count(as) == 1 && uvm_resident_pages(as) == 8, "setup");
    ST_ASSERT(t, uvm_unmap(as, BASE + 3 * P, 2 * P) == 0, "munmap of the middle failed");
    uint8_t b = 0;
    ST_ASSERT(t, uvm_region_count(as) == 2 && uvm_resident_pages(as) == 6, "after split: %d regions, %lu pages",
              uvm_region_count(as), uvm_resident_pages(as));
    ST_ASSERT(t, !page_byte(BASE + 3 * P, &b) && !page_byte(BASE + 4 * P + 100, &b), "unmapped pages still readable");
    ST_ASSERT(t, page_byte(BASE + 2 * P, &b) && b == 3 && page_byte(BASE + 5 * P, &b) && b == 6,
              "pages beside the hole lost their data");
    ST_ASSERT(t, uvm_unmap(as, BASE + 1, P) == -KEINVAL && uvm_unmap(as, BASE, 0) == -KEINVAL &&
                 uvm_unmap(as, USER_TOP - P, 2 * P) == -KEINVAL && uvm_unmap(as, BASE, UINT64_MAX) == -KEINVAL,
              "bad munmap arguments accepted");
    ST_ASSERT(t, uvm_unmap(as, BASE, P) == 0 && uvm_region_count(as) == 2 && !page_byte(BASE, &b), "head unmap");
    ST_ASSERT(t, uvm_unmap(as, BASE + 2 * P, 6 * P) == 0 && uvm_region_count(as) == 1 &&
                 uvm_resident_pages(as) == 1, "unmap over a hole: %d regions", uvm_region_count(as));
    ST_ASSERT(t, uvm_unmap(as, 0x7000000000ull, P) == 0, "unmapping nothing is not an error");
}
SELFTEST(uvm, munmap_splits_regions) { with_space(t, munmap_body); }

static void mprotect_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, 3 * P, RW, ANON) == 0, "mmap failed");
    ST_ASSERT(t, copy_to_user(U(BASE + P), "data", 5) == 0, "write failed");
    ST_ASSERT(t, uvm_protect(as, BASE + P, P, PROT_READ) == 0 && uvm_region_count(as) == 3, "mprotect split");
    char b[8] = {0};
    ST_ASSERT(t, copy_to_user(U(BASE + P), "x", 1) == -KEFAULT, "read-only page written");
    ST_ASSERT(t, copy_to_user(U(BASE), "x", 1) == 0 && copy_to_user(U(BASE + 2 * P), "x", 1) == 0,
              "neighbours lost write access");
    ST_ASSERT(t, copy_from_user(b, U(BASE + P), 5) == 0 && strcmp(b, "data") == 0, "data lost by mprotect");
    ST_ASSERT(t, uvm_handle_fault(as, BASE + P, PF_W | PF_U | 1) == UVM_FAULT_SEGV_ACCERR, "write fault not ACCERR");
    ST_ASSERT(t, uvm_protect(as, BASE + P, P, PROT_NONE) == 0 && copy_from_user(b, U(BASE + P), 1) == -KEFAULT &&
                 uvm_handle_fault(as, BASE + P, PF_U) == UVM_FAULT_SEGV_ACCERR, "PROT_NONE page readable");
    ST_ASSERT(t, uvm_resident_pages(as) == 3, "PROT_NONE dropped the frame");
    memset(b, 0, sizeof b);
    ST_ASSERT(t, uvm_protect(as, BASE, 3 * P, RW) == 0 && copy_to_user(U(BASE + P + 4), "!", 1) == 0 &&
                 copy_from_user(b, U(BASE + P), 5) == 0 && memcmp(b, "data!", 5) == 0, "back to RW: '%s'", b);
    ST_ASSERT(t, uvm_protect(as, BASE + 2 * P, 2 * P, PROT_READ) == -KENOMEM, "hole accepted");
    ST_ASSERT(t, copy_to_user(U(BASE + 2 * P), "y", 1) == 0, "failed mprotect changed rights");
    ST_ASSERT(t, uvm_protect(as, BASE, P, 8) == -KEINVAL && uvm_protect(as, BASE + 1, P, PROT_READ) == -KEINVAL,
              "bad mprotect arguments accepted");
    if (vmm_nx_bit()) {
        ST_ASSERT(t, uvm_protect(as, BASE, P, PROT_READ | PROT_EXEC) == 0 && !(uvm_query_pte(as, BASE) & PTE_NX),
                  "PROT_EXEC page has NX");
        ST_ASSERT(t, uvm_protect(as, BASE, P, PROT_READ) == 0 && (uvm_query_pte(as, BASE) & PTE_NX),
                  "non-exec page lacks NX");
    }
}
SELFTEST(uvm, mprotect) { with_space(t, mprotect_body); }

struct kinds {
    int heap, stack;
};
static void count_kinds(uint64_t s, uint64_t e, int prot, int flags, void *ctx) {
    (void)s; (void)e; (void)prot;
    struct kinds *k = ctx;
    if (flags & UVM_REGION_HEAP) k->heap++;
    if (flags & UVM_REGION_STACK) k->stack++;
}

static void brk_body(struct selftest_ctx *t, struct uvm *as) {
    uvm_set_brk_base(as, BASE + 0x1234);
    uint64_t base = BASE + 0x2000;
    ST_ASSERT(t, uvm_brk(as, 0) == base, "brk(0) = %#lx, want %#lx", uvm_brk(as, 0), base);
    ST_ASSERT(t, uvm_brk(as, base + 3 * P + 10) == base + 3 * P + 10, "grow failed");
    ST_ASSERT(t, copy_to_user(U(base + 3 * P + 9), "x", 1) == 0 && copy_to_user(U(base + 2 * P), "z", 1) == 0,
              "heap not writable");
    ST_ASSERT(t, copy_to_user(U(base + 4 * P), "x", 1) == -KEFAULT, "beyond the break writable");
    struct kinds k = {0};
    uvm_for_each_region(as, count_kinds, &k);
    ST_ASSERT(t, k.heap == 1, "heap regions: %d", k.heap);
    ST_ASSERT(t, uvm_brk(as, base + P) == base + P, "shrink failed");
    uint8_t b = 1;
    ST_ASSERT(t, !page_byte(base + P + 8, &b), "memory above the shrunk break readable");
    ST_ASSERT(t, uvm_brk(as, base + 3 * P) == base + 3 * P && page_byte(base + 2 * P, &b) && b == 0,
              "regrown heap not zero: %u", b);
    ST_ASSERT(t, uvm_brk(as, base - P) == base + 3 * P, "break below the base accepted");
    ST_ASSERT(t, map_at(as, base + 5 * P, P, RW, ANON) == 0, "mmap failed");
    ST_ASSERT(t, uvm_brk(as, base + 6 * P) == base + 3 * P, "break grown over a mapping");
    ST_ASSERT(t, uvm_brk(as, USER_TOP) == base + 3 * P && uvm_brk(as, UINT64_MAX) == base + 3 * P,
              "absurd break accepted");
}
SELFTEST(uvm, brk_grow_shrink) { with_space(t, brk_body); }

static void madvise_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, 4 * P, RW, ANON) == 0, "mmap failed");
    for (int i = 0; i < 4; i++) {
        uint8_t b = 0x40 + (uint8_t)i;
        copy_to_user(U(BASE + i * P + 7), &b, 1);
    }
    ST_ASSERT(t, uvm_advise(as, BASE + P, 2 * P, MADV_DONTNEED) == 0, "madvise failed");
    uint8_t b0 = 0, b1 = 1, b2 = 1, b3 = 0;
    page_byte(BASE + 7, &b0);
    page_byte(BASE + P + 7, &b1);
    page_byte(BASE + 2 * P + 7, &b2);
    page_byte(BASE + 3 * P + 7, &b3);
    ST_ASSERT(t, b1 == 0 && b2 == 0, "dropped pages not zero: %#x %#x", b1, b2);
    ST_ASSERT(t, b0 == 0x40 && b3 == 0x43, "other pages changed");
    ST_ASSERT(t, uvm_advise(as, BASE + 8 * P, P, MADV_DONTNEED) == -KENOMEM, "unmapped range accepted");
    ST_ASSERT(t, uvm_advise(as, BASE + 1, P, MADV_DONTNEED) == -KEINVAL, "misaligned accepted");
    ST_ASSERT(t, uvm_advise(as, BASE, P, MADV_WILLNEED) == 0 && page_byte(BASE + 7, &b0) && b0 == 0x40,
              "MADV_WILLNEED changed something");
    /* The same copy faulting at the same address call after call is normal, not a loop. */
    for (int i = 0; i < 10; i++) {
        ST_ASSERT(t, uvm_advise(as, BASE + P, P, MADV_DONTNEED) == 0, "madvise %d", i);
        ST_ASSERT(t, copy_to_user(U(BASE + P), &b0, 1) == 0, "copy %d after MADV_DONTNEED failed", i);
    }
}
SELFTEST(uvm, madvise_dontneed_zeroes) { with_space(t, madvise_body); }

static void stack_body(struct selftest_ctx *t, struct uvm *as) {
    uint64_t top = USER_STACK_TOP, bottom = USER_STACK_TOP - USER_STACK_MAX;
    ST_ASSERT(t, uvm_setup_stack(as) == 0, "uvm_setup_stack failed");
    ST_ASSERT(t, uvm_setup_stack(as) == -KENOMEM, "second stack accepted");
    ST_ASSERT(t, uvm_resident_pages(as) == 0, "stack not demand-paged");
    ST_ASSERT(t, uvm_handle_fault(as, top - 8, PF_W | PF_U) == UVM_FAULT_FIXED, "top of stack");
    ST_ASSERT(t, copy_to_user(U(top - 64), "stack", 6) == 0, "copy to the stack");
    ST_ASSERT(t, uvm_handle_fault(as, bottom, PF_W | PF_U) == UVM_FAULT_FIXED, "lowest stack page");
    ST_ASSERT(t, uvm_handle_fault(as, bottom - 8, PF_W | PF_U) == UVM_FAULT_SEGV_MAPERR, "guard page mapped");
    ST_ASSERT(t, uvm_handle_fault(as, bottom - P, PF_U) == UVM_FAULT_SEGV_MAPERR, "guard page readable");
    ST_ASSERT(t, copy_to_user(U(bottom - 8), "overflow", 9) == -KEFAULT, "copy into the guard page");
    ST_ASSERT(t, uvm_resident_pages(as) == 2, "resident %lu", uvm_resident_pages(as));
    struct kinds k = {0};
    uvm_for_each_region(as, count_kinds, &k);
    ST_ASSERT(t, k.stack == 1, "stack regions: %d", k.stack);
    uint64_t a = 0;
    ST_ASSERT(t, uvm_map(as, &a, 64 * P, RW, ANON, NULL, 0) == 0 && a + 64 * P <= USER_MMAP_TOP,
              "mmap placed at %#lx", a);
}
SELFTEST(uvm, stack_guard_segv_maperr) { with_space(t, stack_body); }

static void fault_results_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, P, RW, ANON) == 0 && map_at(as, BASE + P, P, PROT_READ, ANON) == 0, "mmap failed");
    struct { const char *what; uint64_t addr, err; enum uvm_fault_result want; } cases[] = {
        {"NULL", 0, PF_U, UVM_FAULT_SEGV_MAPERR},
        {"below USER_MIN", USER_MIN - 1, PF_U, UVM_FAULT_SEGV_MAPERR},
        {"kernel half", 0xffff800000001000ull, PF_U, UVM_FAULT_SEGV_MAPERR},
        {"USER_TOP", USER_TOP, PF_U | PF_W, UVM_FAULT_SEGV_MAPERR},
        {"unmapped", BASE + 10 * P, PF_U, UVM_FAULT_SEGV_MAPERR},
        {"write read-only", BASE + P, PF_U | PF_W, UVM_FAULT_SEGV_ACCERR},
        {"exec no-exec", BASE, PF_U | PF_I, UVM_FAULT_SEGV_ACCERR},
        {"reserved bit", BASE, PF_U | PF_RSVD | 1, UVM_FAULT_SEGV_ACCERR},
        {"read", BASE + P + 5, PF_U, UVM_FAULT_FIXED},
        {"write", BASE + 9, PF_U | PF_W, UVM_FAULT_FIXED},
        {"again (already mapped)", BASE + 9, PF_U | PF_W | 1, UVM_FAULT_FIXED},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum uvm_fault_result r = uvm_handle_fault(as, cases[i].addr, cases[i].err);
        ST_ASSERT(t, r == cases[i].want, "%s: %d, want %d", cases[i].what, r, cases[i].want);
    }
    ST_ASSERT(t, uvm_handle_fault(NULL, BASE, PF_U) == UVM_FAULT_SEGV_MAPERR, "NULL address space");
    uint64_t ro = uvm_query_pte(as, BASE + P);
    ST_ASSERT(t, (ro & PTE_P) && (ro & PTE_U) && !(ro & PTE_W), "read-only pte %#lx", ro);
}
SELFTEST(uvm, fault_results) { with_space(t, fault_results_body); }

static void uvm_rw_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, 2 * P, PROT_READ, ANON) == 0, "mmap failed");
    char b[16] = {0};
    ST_ASSERT(t, uvm_read(as, BASE + 100, b, 8) == 0 && b[0] == 0 && uvm_resident_pages(as) == 0,
              "reading untouched memory allocated a frame");
    ST_ASSERT(t, uvm_write(as, BASE + P - 3, "exec-data", 10) == 0, "uvm_write into a read-only region");
    ST_ASSERT(t, uvm_read(as, BASE + P - 3, b, 10) == 0 && strcmp(b, "exec-data") == 0, "read back '%s'", b);
    ST_ASSERT(t, !(uvm_query_pte(as, BASE) & PTE_W), "uvm_write made the page writable");
    ST_ASSERT(t, uvm_write(as, BASE + 2 * P - 2, "xyz", 3) == -KEFAULT, "write past the region accepted");
    ST_ASSERT(t, uvm_read(as, USER_TOP - 2, b, 4) == -KEFAULT && uvm_write(NULL, BASE, b, 1) == -KEFAULT,
              "bad uvm_read/uvm_write accepted");
}
SELFTEST(uvm, uvm_read_write_inactive) { with_space(t, uvm_rw_body); }

static void placement_body(struct selftest_ctx *t, struct uvm *as) {
    uint64_t a = 0, b = 0, c = 0x10000000, d = 0x10000000;
    ST_ASSERT(t, uvm_map(as, &a, 2 * P, RW, ANON, NULL, 0) == 0, "mmap failed");
    ST_ASSERT(t, a >= USER_MIN && a + 2 * P <= USER_MMAP_TOP && IS_ALIGNED(a, P), "placed at %#lx", a);
    ST_ASSERT(t, uvm_map(as, &b, P, RW, ANON, NULL, 0) == 0 && (b + P <= a || b >= a + 2 * P), "overlap: %#lx", b);
    ST_ASSERT(t, uvm_region_count(as) == 1, "adjacent anonymous regions not merged: %d", uvm_region_count(as));
    ST_ASSERT(t, uvm_map(as, &c, P, RW, ANON, NULL, 0) == 0 && c == 0x10000000, "free hint not used: %#lx", c);
    ST_ASSERT(t, uvm_map(as, &d, P, RW, ANON, NULL, 0) == 0 && d != 0x10000000, "taken hint reused");
    uint64_t e = a;
    ST_ASSERT(t, uvm_map(as, &e, P, RW, ANON | MAP_FIXED_NOREPLACE, NULL, 0) == -KEEXIST, "NOREPLACE overlap");
    ST_ASSERT(t, copy_to_user(U(a), "old", 4) == 0, "write failed");
    ST_ASSERT(t, map_at(as, a, P, PROT_READ, ANON) == 0, "MAP_FIXED over a mapping failed");
    uint8_t z = 1;
    ST_ASSERT(t, page_byte(a, &z) && z == 0 && copy_to_user(U(a), "x", 1) == -KEFAULT, "MAP_FIXED kept old page");
    uint64_t f;
    struct { const char *what; uint64_t addr, len; int prot, flags, want; } cases[] = {
        {"len 0", 0, 0, RW, ANON, -KEINVAL},
        {"huge len", 0, 1ull << 62, RW, ANON, -KENOMEM},
        {"bad prot", 0, P, 8, ANON, -KEINVAL},
        {"no type", 0, P, RW, MAP_ANONYMOUS, -KEINVAL},
        {"both types", 0, P, RW, MAP_SHARED | ANON, -KEINVAL},
        {"file without file", 0, P, RW, MAP_PRIVATE, -KEINVAL},
        {"fixed misaligned", BASE + 1, P, RW, ANON | MAP_FIXED, -KEINVAL},
        {"fixed at 0", 0, P, RW, ANON | MAP_FIXED, -KEINVAL},
        {"fixed past USER_TOP", USER_TOP - P, 2 * P, RW, ANON | MAP_FIXED, -KEINVAL},
        {"fixed wrapping", 0xfffffffffffff000ull, 2 * P, RW, ANON | MAP_FIXED, -KEINVAL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        f = cases[i].addr;
        int r = uvm_map(as, &f, cases[i].len, cases[i].prot, cases[i].flags, NULL, 0);
        ST_ASSERT(t, r == cases[i].want, "%s: %d, want %d", cases[i].what, r, cases[i].want);
    }
}
SELFTEST(uvm, mmap_placement_and_arguments) { with_space(t, placement_body); }

/* ---- private file mappings ---- */

static void file_body(struct selftest_ctx *t, struct uvm *as, const struct vfs_ctx *ctx) {
    struct vfs_file *f, *wo, *dir;
    fill(buf_a, 5000, 11);
    ST_ASSERT(t, vfs_open(ctx, "/f", O_RDWR | O_CREAT, 0644, &f) == 0, "create failed");
    int64_t w = vfs_write(f, buf_a, 5000);
    vfs_close(f);
    ST_ASSERT(t, w == 5000, "write %ld", (long)w);
    ST_ASSERT(t, vfs_open(ctx, "/f", O_RDONLY, 0, &f) == 0, "open failed");
    uint64_t a = BASE;
    int r = uvm_map(as, &a, 3 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 0);
    int32_t refs_mapped = f->refs;
    memset(buf_b, 0xee, sizeof buf_b);
    int c0 = copy_from_user(buf_b, U(BASE), 2 * P);
    bool tail_zero = true;
    for (size_t i = 5000; i < 2 * P; i++) tail_zero &= buf_b[i] == 0;
    enum uvm_fault_result bus = uvm_handle_fault(as, BASE + 2 * P, PF_U);
    int c2 = copy_from_user(buf_b + 2 * P, U(BASE + 2 * P), 1);
    int cw = copy_to_user(U(BASE), "private", 7);
    char fb[8] = {0};
    vfs_pread(f, fb, 7, 0);
    /* Drop page 1, unmap page 0: page 1 must come back from the file at the right offset. */
    uvm_advise(as, BASE + P, P, MADV_DONTNEED);
    uvm_unmap(as, BASE, P);
    uint8_t again[8] = {0};
    int ca = copy_from_user(again, U(BASE + P), 8);
    uint64_t b = 0;
    int r_off = uvm_map(as, &b, P, PROT_READ, MAP_PRIVATE, f, P);
    uint8_t at_off[8] = {0};
    copy_from_user(at_off, U(b), 8);
    /* The #PF handler's situation: interrupts off. A user-mode fault may still read the file
     * (uvm_handle_fault turns interrupts on meanwhile); a kernel-mode one must not sleep. */
    uint64_t y = 0;
    int r_y = uvm_map(as, &y, 2 * P, PROT_READ, MAP_PRIVATE, f, 0);
    uint64_t fl = irq_save();
    enum uvm_fault_result f_user = uvm_handle_fault(as, y, PF_U);
    enum uvm_fault_result f_kern = uvm_handle_fault(as, y + P, 0);
    bool irqs_still_off = !(read_rflags() & (1u << 9));
    irq_restore(fl);
    uint8_t at_y[8] = {0};
    copy_from_user(at_y, U(y), 8);
    uvm_unmap(as, y, 2 * P);
    uint64_t x = 0;
    int r_mis = uvm_map(as, &x, P, PROT_READ, MAP_PRIVATE, f, 100);
    int r_shared = uvm_map(as, &x, P, PROT_READ, MAP_SHARED, f, 0);
    int r_wo = -1, r_dir = -1;
    if (vfs_open(ctx, "/f", O_WRONLY, 0, &wo) == 0) {
        r_wo = uvm_map(as, &x, P, PROT_READ, MAP_PRIVATE, wo, 0);
        vfs_close(wo);
    }
    if (vfs_open(ctx, "/", O_RDONLY | O_DIRECTORY, 0, &dir) == 0) {
        r_dir = uvm_map(as, &x, P, PROT_READ, MAP_PRIVATE, dir, 0);
        vfs_close(dir);
    }
    uvm_unmap(as, BASE, 3 * P);
    uvm_unmap(as, b, P);
    int32_t refs_after = f->refs;
    vfs_close(f);
    ST_ASSERT(t, r == 0 && refs_mapped == 2, "map %d, file refs %d", r, refs_mapped);
    ST_ASSERT(t, c0 == 0 && memcmp(buf_b, buf_a, 5000) == 0 && tail_zero, "file contents / zero tail wrong (%d)", c0);
    ST_ASSERT(t, bus == UVM_FAULT_BUS && c2 == -KEFAULT, "page past EOF: fault %d, copy %d", bus, c2);
    ST_ASSERT(t, cw == 0 && memcmp(fb, buf_a, 7) == 0, "private mapping wrote the file");
    ST_ASSERT(t, ca == 0 && memcmp(again, buf_a + P, 8) == 0, "offset lost after splitting a file mapping");
    ST_ASSERT(t, r_off == 0 && memcmp(at_off, buf_a + P, 8) == 0, "mapping at offset 4096");
    ST_ASSERT(t, r_y == 0 && f_user == UVM_FAULT_FIXED && memcmp(at_y, buf_a, 8) == 0,
              "user-mode file fault with interrupts off: %d", f_user);
    ST_ASSERT(t, f_kern == UVM_FAULT_SEGV_ACCERR && irqs_still_off,
              "kernel-mode file fault with interrupts off: %d (interrupts %s)", f_kern, irqs_still_off ? "off" : "on");
    ST_ASSERT(t, r_mis == -KEINVAL && r_shared == -KENODEV && r_wo == -KEACCES && r_dir == -KENODEV,
              "misaligned %d, shared %d, write-only %d, directory %d", r_mis, r_shared, r_wo, r_dir);
    ST_ASSERT(t, refs_after == 1, "file references after unmapping: %d", refs_after);
}

static void file_mapping_body(struct selftest_ctx *t, struct uvm *as) {
    tmpfs_init();
    struct vfs_mount *m;
    ST_ASSERT(t, vfs_mount(NULL, NULL, "tmpfs", "uvmtest", NULL, &m) == 0, "tmpfs mount failed");
    struct vfs_ctx ctx = {m->root, m->root};
    file_body(t, as, &ctx);
    vfs_umount(m);
}
SELFTEST(uvm, private_file_mapping) { with_space(t, file_mapping_body); }

/* ---- frames, interrupts, CPU features, leaks ---- */

SELFTEST(uvm, pmm_frame_share_counts) {
    phys_addr_t pa = pmm_alloc();
    ST_ASSERT(t, pa, "no frame");
    uint32_t r1 = pmm_frame_refs(pa), r2 = pmm_frame_ref(pa);
    pmm_free(pa); /* shared: refused */
    int still = pmm_allocated_order(pa);
    uint32_t u1 = pmm_frame_unref(pa), u0 = pmm_frame_unref(pa);
    int gone = pmm_allocated_order(pa);
    ST_ASSERT(t, r1 == 1 && r2 == 2, "counts %u %u", r1, r2);
    ST_ASSERT(t, still == 0, "pmm_free freed a shared frame");
    ST_ASSERT(t, u1 == 1 && u0 == 0 && gone == -1, "unref %u %u, frame %s", u1, u0, gone == -1 ? "freed" : "kept");
    ST_ASSERT(t, pmm_frame_ref(pa) == 0 && pmm_frame_refs(pa) == 0, "ref on a free frame accepted");
    phys_addr_t big = pmm_alloc_order(1);
    ST_ASSERT(t, big, "no block");
    uint32_t rb = pmm_frame_ref(big);
    pmm_free_order(big, 1);
    ST_ASSERT(t, rb == 0, "ref on an order-1 block accepted");
}

static void irqs_off_body(struct selftest_ctx *t, struct uvm *as) {
    ST_ASSERT(t, map_at(as, BASE, P, RW, ANON) == 0, "mmap failed");
    uint64_t fl = irq_save();
    int w = copy_to_user(U(BASE), "irq-off", 8);
    char b[8] = {0};
    int r = copy_from_user(b, U(BASE), 8);
    irq_restore(fl);
    ST_ASSERT(t, w == 0 && r == 0 && strcmp(b, "irq-off") == 0, "demand paging with interrupts off: %d %d", w, r);
}
SELFTEST(uvm, fault_with_interrupts_off) { with_space(t, irqs_off_body); }

static int64_t return_42(void *arg) {
    (void)arg;
    return 42;
}

static void kernel_half_body(struct selftest_ctx *t, struct uvm *as) {
    const uint64_t *k = phys_to_virt(vmm_kernel_pml4());
    ST_ASSERT(t, memcmp(as->pml4 + 256, k + 256, 256 * 8) == 0, "upper half differs from the kernel's");
    bool all = true;
    for (int i = 256; i < 512; i++) all &= (k[i] & PTE_P) != 0;
    ST_ASSERT(t, all, "kernel PML4 upper half not complete");
    /* A task made now gets a new stack mapping; it must run while this space is loaded. */
    tid_t id = task_create("uvm-k", return_42, NULL, PRIO_NORMAL);
    int64_t v = 0;
    ST_ASSERT(t, id > 0 && task_join(id, &v) == 0 && v == 42, "kernel task under a user space: %ld", (long)v);
    ST_ASSERT(t, uvm_active() == as && (read_cr3() & PTE_ADDR) == as->pml4_phys, "not active");
}
SELFTEST(uvm, kernel_half_shared) { with_space(t, kernel_half_body); }

SELFTEST(uvm, smep_smap) {
    uint32_t a, b = 0, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    bool has_smep = false, has_smap = false;
    if (a >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        has_smep = b & (1u << 7);
        has_smap = b & (1u << 20);
    }
    uvm_cpu_init();
    uvm_cpu_init(); /* idempotent */
    printk(LOG_INFO, "uvm: CPU has SMEP %s, SMAP %s; enabled: SMEP %s, SMAP %s\n", has_smep ? "yes" : "no",
           has_smap ? "yes" : "no", uvm_smep_enabled() ? "on" : "off", uvm_smap_enabled() ? "on" : "off");
    ST_ASSERT(t, uvm_smep_enabled() == has_smep && uvm_smap_enabled() == has_smap, "SMEP %d/%d SMAP %d/%d",
              uvm_smep_enabled(), has_smep, uvm_smap_enabled(), has_smap);
    if (!has_smap) return;
    /* With SMAP on, the kernel touching user memory outside the copy routines faults. */
    struct uvm *as = uvm_create();
    ST_ASSERT(t, as, "uvm_create failed");
    uvm_activate(as);
    int m = map_at(as, BASE, P, RW, ANON);
    int w = copy_to_user(U(BASE), "smap", 5);
    struct fault_record rec;
    fault_catch_arm(&rec);
    if (kjmp_save(fault_catch_jmp()) == 0) {
        volatile uint8_t *p = U(BASE);
        (void)*p;
    }
    fault_catch_disarm();
    char back[8] = {0};
    int r = copy_from_user(back, U(BASE), 5);
    /* Copy routines that forget stac: the fault on a present page "resolves" every time; the
     * fixup must give up with -EFAULT instead of retrying for ever. */
    uaccess_smap_on = 0;
    int loop = copy_to_user(U(BASE), "x", 1);
    uaccess_smap_on = 1;
    uvm_activate(NULL);
    uvm_put(as);
    ST_ASSERT(t, m == 0 && w == 0, "setup failed");
    ST_ASSERT(t, rec.caught && rec.vector == 14 && rec.cr2 == BASE && (rec.error_code & 1),
              "direct kernel read of user memory did not fault (caught %d vector %lu)", rec.caught, rec.vector);
    ST_ASSERT(t, r == 0 && strcmp(back, "smap") == 0, "copy after the SMAP fault: %d", r);
    ST_ASSERT(t, loop == -KEFAULT, "copy without stac under SMAP: %d, want -EFAULT", loop);
}

/* One create/fork/touch/put cycle: every path that allocates frames or tables. */
static bool cycle(int i) {
    struct uvm *as = uvm_create();
    if (!as) return false;
    bool ok = map_at(as, BASE, 4 * P, RW, ANON) == 0 && uvm_setup_stack(as) == 0;
    uvm_set_brk_base(as, 0x800000);
    ok = ok && uvm_brk(as, 0x800000 + 2 * P) == 0x800000 + 2 * P;
    ok = ok && uvm_write(as, BASE, buf_a, 4 * P - 1) == 0 && uvm_write(as, USER_STACK_TOP - 8, &i, 4) == 0 &&
         uvm_write(as, 0x800000 + P, &i, 4) == 0;
    struct uvm *c = ok ? uvm_fork(as) : NULL;
    if (c) {
        ok = uvm_write(c, BASE, "c", 1) == 0 && uvm_write(as, BASE + P, "p", 1) == 0;
        uvm_activate(c);
        ok = ok && copy_to_user(U(BASE + 2 * P), "cc", 2) == 0 && copy_to_user(U(USER_STACK_TOP - 16), "s", 1) == 0;
        uvm_activate(NULL);
        ok = ok && uvm_unmap(as, BASE + P, P) == 0;
    } else {
        ok = false;
    }
    uvm_put(as); /* parent first: the child still holds shared frames */
    uvm_put(c);
    return ok;
}

SELFTEST_TIMEOUT(uvm, no_leak_after_200_cycles, 60000) {
    fill(buf_a, sizeof buf_a, 1);
    ST_ASSERT(t, cycle(0), "warm-up cycle failed");
    struct heap_stats h0, h1;
    heap_get_stats(&h0);
    uint64_t f0 = free_frames();
    for (int i = 1; i <= 200; i++) ST_ASSERT(t, cycle(i), "cycle %d failed", i);
    uint64_t f1 = free_frames();
    heap_get_stats(&h1);
    ST_ASSERT(t, f1 == f0, "free frames %lu before, %lu after (%ld leaked)", f0, f1, (long)(f0 - f1));
    ST_ASSERT(t, h1.allocations == h0.allocations, "heap allocations %lu before, %lu after", h0.allocations,
              h1.allocations);
}
