/* test_printf.c: host unit tests for kernel/lib/printf.c (kvsnprintf/ksnprintf, kprintf.h).
 * Where C17 7.21.6.1 defines the result, kvsnprintf is compared with the host C library's
 * vsnprintf: a table of hand-picked formats and every combination of conversion, flags,
 * width, precision and length modifier over a list of edge values. Each hand-picked format is
 * also checked truncated at every buffer size from 0 to its full length + 1, in a heap buffer
 * of exactly that size (so AddressSanitizer sees any overrun). Where kprintf.h chooses its own
 * behaviour (%p, unknown conversions, a trailing '%'), the expected text is spelled out. */
#include "host_stubs.h"
#include "../../kernel/lib/printf.c"
#include <string.h>
#include <limits.h>

#define BIG 4096

/* Runs kvsnprintf at every buffer size 0..expect_len+1 and checks the return value, the
 * written prefix and the terminator each time. */
static void check_truncation(int line, const char *fmt, const char *expect, int expect_len,
                             va_list ap) {
    for (size_t size = 0; size <= (size_t)expect_len + 1; size++) {
        char *buf = malloc(size ? size : 1);
        assert_non_null(buf);
        buf[0] = 'Z';
        va_list aq;
        va_copy(aq, ap);
        int r = kvsnprintf(buf, size, fmt, aq);
        va_end(aq);
        if (r != expect_len)
            fail_msg("line %d: \"%s\" at size %zu returned %d, want %d", line, fmt, size, r,
                     expect_len);
        if (size == 0) {
            assert_int_equal(buf[0], 'Z'); /* size 0 writes nothing */
        } else {
            size_t kept = (size_t)expect_len < size - 1 ? (size_t)expect_len : size - 1;
            if (memcmp(buf, expect, kept) != 0 || buf[kept] != 0)
                fail_msg("line %d: \"%s\" at size %zu wrote \"%s\"", line, fmt, size, buf);
        }
        free(buf);
    }
    /* size 0 with a NULL buffer only measures. */
    va_list aq;
    va_copy(aq, ap);
    assert_int_equal(kvsnprintf(NULL, 0, fmt, aq), expect_len);
    va_end(aq);
}

/* Compares kvsnprintf with the C library's vsnprintf for one format and its arguments;
 * with_truncation also runs check_truncation. */
static void compare_with_libc_v(int line, bool with_truncation, const char *fmt, va_list ap) {
    char expect[BIG];
    char got[BIG];
    va_list aq;
    va_copy(aq, ap);
    int expect_len = vsnprintf(expect, sizeof(expect), fmt, aq);
    va_end(aq);
    if (expect_len < 0 || expect_len >= BIG)
        fail_msg("line %d: test format \"%s\" unusable (libc returned %d)", line, fmt, expect_len);
    va_copy(aq, ap);
    memset(got, 'Z', sizeof(got));
    int got_len = kvsnprintf(got, sizeof(got), fmt, aq);
    va_end(aq);
    if (got_len != expect_len || memcmp(got, expect, (size_t)expect_len + 1) != 0)
        fail_msg("line %d: \"%s\": got \"%s\" (%d), libc \"%s\" (%d)", line, fmt, got, got_len,
                 expect, expect_len);
    if (with_truncation)
        check_truncation(line, fmt, expect, expect_len, ap);
}

/* Table entries: format-checked by the compiler, compared with libc, truncated everywhere. */
static void PRINTF_LIKE(2, 3) same_as_libc(int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    compare_with_libc_v(line, true, fmt, ap);
    va_end(ap);
}
#define SAME(...) same_as_libc(__LINE__, __VA_ARGS__)

/* Like SAME, for formats the compiler would warn about although C defines their result
 * (an empty format, '0' together with '-' or a precision, a NULL %s). */
static void same_as_libc_unchecked(int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    compare_with_libc_v(line, true, fmt, ap);
    va_end(ap);
}
#define SAME_UNCHECKED(...) same_as_libc_unchecked(__LINE__, __VA_ARGS__)

/* Formats built at run time (no compile-time format check), compared with libc only. */
static void same_as_libc_dynamic(int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    compare_with_libc_v(line, false, fmt, ap);
    va_end(ap);
}

/* Formats whose result kprintf.h defines itself: compared with the expected text. */
static void expect_text(int line, const char *expect, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char got[BIG];
    va_list aq;
    va_copy(aq, ap);
    int got_len = kvsnprintf(got, sizeof(got), fmt, aq);
    va_end(aq);
    if (got_len != (int)strlen(expect) || strcmp(got, expect) != 0)
        fail_msg("line %d: \"%s\": got \"%s\" (%d), want \"%s\"", line, fmt, got, got_len, expect);
    check_truncation(line, fmt, expect, got_len, ap);
    va_end(ap);
}
#define EXPECT(expect, ...) expect_text(__LINE__, expect, __VA_ARGS__)

static void table_of_formats_matches_libc(void **state) {
    (void)state;
    SAME_UNCHECKED("");
    SAME("plain text, no conversions");
    SAME("%d %i %u %x %X %o", 42, -42, 42u, 0xbeefu, 0xbeefu, 8u);
    SAME("%d|%d|%d", 0, INT_MAX, INT_MIN);
    SAME("%u|%x|%o", UINT_MAX, UINT_MAX, UINT_MAX);
    SAME("%lld|%lli", (long long)INT64_MIN, (long long)INT64_MAX);
    SAME("%ld|%ld", (long)INT64_MIN, (long)-1);
    SAME("%llu|%llx|%llX|%llo", (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX,
         (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX);
    SAME("%#llx|%#llo|%#llX", (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX,
         (unsigned long long)0xabcdefull);
    SAME("%jd|%ju|%zu|%zd|%td|%tu", (intmax_t)INT64_MIN, (uintmax_t)UINT64_MAX, (size_t)SIZE_MAX,
         (ssize_t)-5, (ptrdiff_t)PTRDIFF_MIN, (size_t)PTRDIFF_MAX);
    SAME("%hhd|%hhu|%hhx|%hd|%hu|%hx", 300, 300, -1, 70000, 70000, -1);
    SAME("%hhd|%hhd|%hd|%hd", -129, 128, -32769, 32768);
    SAME("[%5d] [%-5d] [%05d] [%+d] [% d] [%+5d] [%-+5d] [% 05d]", 42, 42, 42, 42, 42, 42, 42, 42);
    SAME_UNCHECKED("[%05d] [%+05d] [% 5d] [%-05d]", -42, -42, -42, -42);
    SAME_UNCHECKED("[%.5d] [%8.5d] [%-8.5d] [%08.5d] [%.0d] [%5.0d] [%.0u]", 42, -42, 42, 42, 0, 0, 0u);
    SAME("[%#x] [%#X] [%#o] [%#x] [%#o] [%#.0o] [%#.0x] [%#5o] [%#08x]", 255u, 255u, 8u, 0u, 0u, 0u,
         0u, 8u, 255u);
    SAME("[%#.3o] [%#.5x] [%#10.4X] [%-#10x]", 8u, 0x1fu, 0xabu, 0x1u);
    SAME("[%*d] [%-*d] [%*d] [%.*d] [%.*d] [%*.*d]", 6, 1, 6, 1, -6, 1, 4, 7, -1, 7, 8, 3, 5);
    SAME("[%s] [%10s] [%-10s] [%.2s] [%10.2s] [%-10.2s] [%.0s] [%.10s]", "text", "text", "text",
         "text", "text", "text", "text", "text");
    SAME_UNCHECKED("[%s] [%10s] [%-10s] [%.6s] [%.7s]", (char *)NULL, (char *)NULL, (char *)NULL,
         (char *)NULL, (char *)NULL);
    SAME_UNCHECKED("[%.3s] [%5.0s]", (char *)NULL, (char *)NULL);
    SAME("[%c] [%3c] [%-3c] [%c%c%c]", 'a', 'b', 'c', 'x', 'y', 'z');
    SAME("[%c]", 0); /* a NUL character is output and counted */
    SAME("%%|%d%%|%%%%|%%s", 5);
    SAME("%s=%d (%#x)%c%-6s|%5.1s|", "name", -17, 3054u, '!', "ok", "abc");
    SAME("%50d|%-50u|%050x", -1, 1u, 0xdeadu);
}

static void pointer_prints_16_hex_digits(void **state) {
    (void)state;
    EXPECT("0x0000000000000000", "%p", (void *)NULL);
    EXPECT("0x0000000000001234", "%p", (void *)0x1234);
    EXPECT("0xffffffffffffffff", "%p", (void *)UINTPTR_MAX);
    EXPECT("0xffff800000abcdef", "%p", (void *)0xffff800000abcdefull);
    EXPECT("[  0x0000000000001234]", "[%20p]", (void *)0x1234);
    EXPECT("[0x0000000000001234  ]", "[%-20p]", (void *)0x1234);
    EXPECT("[0x0000000000001234]", "[%5p]", (void *)0x1234);
    EXPECT("a=0x00000000000000ff b=7", "a=%p b=%d", (void *)0xff, 7);
}

static void unknown_conversions_print_literally(void **state) {
    (void)state;
    EXPECT("%y", "%y");
    EXPECT("[%5y]", "[%5y]");
    EXPECT("[%-05.3ly]", "[%-05.3ly]");
    EXPECT("%k7", "%k%d", 7);             /* the unknown one takes no argument */
    EXPECT("%n|", "%n|");                  /* %n is never honoured */
    EXPECT("%f %e %g 3", "%f %e %g %d", 3); /* no floating point */
    EXPECT("%*y9", "%*y%d", 5, 9);         /* a '*' width is consumed as usual */
    EXPECT("%L1", "%L%d", 1);
    EXPECT("%hh", "%hh");
}

static void trailing_percent_prints_literally(void **state) {
    (void)state;
    EXPECT("%", "%");
    EXPECT("abc%", "abc%");
    EXPECT("5%", "%d%", 5);
    EXPECT("x%-5", "x%-5");
    EXPECT("%.3l", "%.3l");
    EXPECT("%", "%5%"); /* %% ignores flags and width */
}

static void every_integer_combination_matches_libc(void **state) {
    (void)state;
    static const char convs[] = "diuxXo";
    static const char flag_chars[] = "-0+ #";
    static const char *const widths[] = {"", "1", "7", "23"};
    static const char *const precisions[] = {"", ".", ".0", ".1", ".7", ".25"};
    static const char *const lengths[] = {"hh", "h", "", "l", "ll", "z", "t", "j"};
    static const int64_t values[] = {0, 1, -1, 7, -7, 42, 127, 128, -128, 255, 256, 32767,
                                     -32768, 65535, INT32_MAX, INT32_MIN, (int64_t)UINT32_MAX,
                                     INT64_MAX, INT64_MIN, 0x0123456789abcdefll};
    long combinations = 0;
    for (size_t c = 0; convs[c]; c++) {
        bool is_signed = convs[c] == 'd' || convs[c] == 'i';
        for (unsigned flags = 0; flags < 32; flags++) {
            for (size_t w = 0; w < ARRAY_SIZE(widths); w++) {
                for (size_t pr = 0; pr < ARRAY_SIZE(precisions); pr++) {
                    for (size_t l = 0; l < ARRAY_SIZE(lengths); l++) {
                        char fmt[40];
                        char flag_text[6];
                        size_t nf = 0;
                        for (unsigned f = 0; f < 5; f++)
                            if (flags & (1u << f))
                                flag_text[nf++] = flag_chars[f];
                        flag_text[nf] = 0;
                        snprintf(fmt, sizeof(fmt), "<%%%s%s%s%s%c>", flag_text, widths[w],
                                 precisions[pr], lengths[l], convs[c]);
                        bool wide = l >= 3; /* l ll z t j: 64-bit arguments */
                        for (size_t v = 0; v < ARRAY_SIZE(values); v++) {
                            if (wide && is_signed)
                                same_as_libc_dynamic(__LINE__, fmt, (long long)values[v]);
                            else if (wide)
                                same_as_libc_dynamic(__LINE__, fmt,
                                                     (unsigned long long)values[v]);
                            else if (is_signed)
                                same_as_libc_dynamic(__LINE__, fmt, (int)values[v]);
                            else
                                same_as_libc_dynamic(__LINE__, fmt, (unsigned)values[v]);
                            combinations++;
                        }
                    }
                }
            }
        }
    }
    assert_true(combinations > 100000);
}

static void star_width_and_precision_match_libc(void **state) {
    (void)state;
    for (int w = -25; w <= 25; w++) {
        for (int p = -3; p <= 12; p++) {
            same_as_libc_dynamic(__LINE__, "[%*.*d]", w, p, -1234);
            same_as_libc_dynamic(__LINE__, "[%0*.*x]", w, p, 0xabcu);
            same_as_libc_dynamic(__LINE__, "[%-*.*s]", w, p, "string");
            same_as_libc_dynamic(__LINE__, "[%*.*s]", w, p, (char *)NULL);
            same_as_libc_dynamic(__LINE__, "[%*c]", w, 'q');
            same_as_libc_dynamic(__LINE__, "[%0*d]", w, -5);
        }
    }
}

static void truncation_of_a_long_mixed_format(void **state) {
    (void)state;
    SAME_UNCHECKED("%s|%lld|%-12x|%#o|%c|%08.3d|%llu|%s", "head", (long long)INT64_MIN, 0xcafeu, 511u, '@', -7,
         (unsigned long long)UINT64_MAX, "tail of the line");
    /* kprintf-only conversions truncate the same way. */
    EXPECT("p=0x00000000deadbeef q=%q", "p=%p q=%q", (void *)0xdeadbeef);
}

static void huge_widths_do_not_overrun_or_spin(void **state) {
    (void)state;
    char buf[16];
    /* The count reports the full width, the buffer keeps only what fits. */
    assert_int_equal(ksnprintf(buf, sizeof(buf), "%2147483647d", 1), INT_MAX);
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_int_equal(buf[0], ' ');
    /* Widths saturate at INT_MAX instead of overflowing. */
    char fmt[32];
    snprintf(fmt, sizeof(fmt), "%%%s", "99999999999999999999d");
    assert_int_equal(ksnprintf(NULL, 0, fmt, 1), INT_MAX);
    /* A total beyond INT_MAX cannot be returned as int: -1, like POSIX snprintf. */
    snprintf(fmt, sizeof(fmt), "%%%s", "2147483647d%d");
    assert_int_equal(ksnprintf(buf, sizeof(buf), fmt, 1, 2), -1);
    assert_int_equal(buf[sizeof(buf) - 1], 0);
    /* A huge precision works the same way. */
    assert_int_equal(ksnprintf(buf, sizeof(buf), "%.2147483646d", 5), INT_MAX - 1);
    assert_int_equal(buf[0], '0');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_of_formats_matches_libc),
        cmocka_unit_test(pointer_prints_16_hex_digits),
        cmocka_unit_test(unknown_conversions_print_literally),
        cmocka_unit_test(trailing_percent_prints_literally),
        cmocka_unit_test(every_integer_combination_matches_libc),
        cmocka_unit_test(star_width_and_precision_match_libc),
        cmocka_unit_test(truncation_of_a_long_mixed_format),
        cmocka_unit_test(huge_widths_do_not_overrun_or_spin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
