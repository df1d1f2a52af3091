/* lib_selftest.c: kernel self-tests (group "lib") for kernel/lib: ksnprintf as built for the
 * kernel (C17 7.21.6.1 conversions plus the kprintf.h %p rule), memmove/memcpy/memset as
 * built for the kernel (C17 7.24.2.1-2, 7.24.6.1), and the printk log ring buffer.
 * The host tests (tests/host/test_printf.c, test_string.c, test_klog.c) cover the same code
 * in depth; these check that the kernel build (clang, -mcmodel=kernel, no SSE, inline
 * assembly) behaves the same. */
#include "kprintf.h"
#include "kstring.h"
#include "printk.h"
#include "selftest.h"
#include "cpu.h"

SELFTEST(lib, ksnprintf_pointer) {
    char buf[64];
    int n = ksnprintf(buf, sizeof(buf), "%p", (void *)0xffff800000abcdefull);
    ST_ASSERT(t, n == 18 && strcmp(buf, "0xffff800000abcdef") == 0, "got \"%s\" (%d)", buf, n);
    n = ksnprintf(buf, sizeof(buf), "%p", (void *)0);
    ST_ASSERT(t, n == 18 && strcmp(buf, "0x0000000000000000") == 0, "NULL gave \"%s\"", buf);
    n = ksnprintf(buf, sizeof(buf), "[%-20p]", (void *)0x1000);
    ST_ASSERT(t, strcmp(buf, "[0x0000000000001000  ]") == 0, "width gave \"%s\"", buf);
}

SELFTEST(lib, ksnprintf_64bit_values) {
    char buf[96];
    ksnprintf(buf, sizeof(buf), "%lld", (long long)INT64_MIN);
    ST_ASSERT(t, strcmp(buf, "-9223372036854775808") == 0, "INT64_MIN gave \"%s\"", buf);
    ksnprintf(buf, sizeof(buf), "%llu", (unsigned long long)UINT64_MAX);
    ST_ASSERT(t, strcmp(buf, "18446744073709551615") == 0, "UINT64_MAX gave \"%s\"", buf);
    ksnprintf(buf, sizeof(buf), "%#llx %llo", (unsigned long long)UINT64_MAX,
              (unsigned long long)UINT64_MAX);
    ST_ASSERT(t, strcmp(buf, "0xffffffffffffffff 1777777777777777777777") == 0, "hex/octal gave \"%s\"",
              buf);
    ksnprintf(buf, sizeof(buf), "%zu|%+05d|%-4x|%.3d", (size_t)123456789012ull, 42, 0xau, 7);
    ST_ASSERT(t, strcmp(buf, "123456789012|+0042|a   |007") == 0, "mixed gave \"%s\"", buf);
}

SELFTEST(lib, ksnprintf_truncates_and_counts) {
    char buf[8];
    memset(buf, 'Z', sizeof(buf));
    int n = ksnprintf(buf, 5, "%s-%d", "abcdef", 12);
    ST_ASSERT(t, n == 9, "returned %d, want the full length 9", n);
    ST_ASSERT(t, memcmp(buf, "abcd\0ZZZ", 8) == 0, "buffer holds \"%s\"", buf);
    n = ksnprintf(NULL, 0, "%d", -12345);
    ST_ASSERT(t, n == 6, "size 0 returned %d", n);
}

/* Moves len bytes inside buf from offset from to offset to with memmove, and checks the
 * result against a byte-by-byte copy through a separate array. */
static bool memmove_matches_reference(size_t from, size_t to, size_t len) {
    unsigned char buf[96];
    unsigned char expect[96];
    unsigned char temp[96];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = expect[i] = (unsigned char)(i * 13 + from + 1);
    for (size_t i = 0; i < len; i++)
        temp[i] = buf[from + i];
    for (size_t i = 0; i < len; i++)
        expect[to + i] = temp[i];
    if (memmove(buf + to, buf + from, len) != buf + to)
        return false;
    return memcmp(buf, expect, sizeof(buf)) == 0;
}

SELFTEST(lib, memmove_overlap) {
    for (size_t len = 0; len <= 40; len++) {
        for (size_t shift = 1; shift <= 12; shift++) {
            ST_ASSERT(t, memmove_matches_reference(20 + shift, 20, len),
                      "dst below src: len %zu shift %zu", len, shift);
            ST_ASSERT(t, memmove_matches_reference(20, 20 + shift, len),
                      "dst above src: len %zu shift %zu", len, shift);
        }
    }
}

SELFTEST(lib, memcpy_memset_stay_in_bounds) {
    unsigned char src[64];
    unsigned char dst[80];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i + 1);
    for (size_t len = 0; len <= 48; len++) {
        for (size_t off = 0; off < 8; off++) {
            memset(dst, 0xa5, sizeof(dst));
            memcpy(dst + 8 + off, src + off, len);
            for (size_t i = 0; i < sizeof(dst); i++) {
                bool inside = i >= 8 + off && i < 8 + off + len;
                unsigned char want = inside ? src[i - 8] : 0xa5;
                ST_ASSERT(t, dst[i] == want, "memcpy len %zu off %zu: byte %zu is %u", len, off, i,
                          dst[i]);
            }
            memset(dst + 8 + off, 0x3c, len);
            for (size_t i = 0; i < sizeof(dst); i++) {
                bool inside = i >= 8 + off && i < 8 + off + len;
                ST_ASSERT(t, dst[i] == (inside ? 0x3c : 0xa5), "memset len %zu off %zu: byte %zu",
                          len, off, i);
            }
        }
    }
}

/* Returns whether needle occurs in haystack. */
static bool contains(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (; *haystack; haystack++) {
        if (strncmp(haystack, needle, n) == 0)
            return true;
    }
    return false;
}

SELFTEST(lib, klog_read_contains_printed_line) {
    static char log[4096];
    char token[64];
    /* A line that cannot be in the log already: it carries the current TSC. */
    ksnprintf(token, sizeof(token), "lib selftest marker %llx", (unsigned long long)rdtsc());
    pr_debug("%s\n", token);
    size_t len = klog_read(log, sizeof(log));
    ST_ASSERT(t, len > 0 && len < sizeof(log) && log[len] == 0, "klog_read returned %zu", len);
    char line[96];
    ksnprintf(line, sizeof(line), "] %s\n", token); /* after the timestamp prefix */
    ST_ASSERT(t, contains(log, line), "\"%s\" is not in the log", token);
    ST_ASSERT(t, log[len - 1] == '\n', "log does not end with the printed line");
}
