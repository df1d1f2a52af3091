/* test_string.c: host unit tests for kernel/lib/string.c (ISO C17 7.24 semantics, strlcpy as
 * documented in kstring.h). string.c compiles its functions as k_memcpy, k_strlen, ... in
 * HOST_TEST builds; each is checked against a byte-by-byte reference or the C library, with
 * guard bytes around every destination (the inline assembly is not seen by AddressSanitizer). */
#include "host_stubs.h"
#include "../../kernel/lib/string.c"
#include <string.h>

/* The kernel versions have exactly the standard prototypes (kstring.h promises them). */
_Static_assert(__builtin_types_compatible_p(__typeof__(k_memcpy), __typeof__(memcpy)), "memcpy");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_memmove), __typeof__(memmove)), "memmove");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_memset), __typeof__(memset)), "memset");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_memcmp), __typeof__(memcmp)), "memcmp");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_strlen), __typeof__(strlen)), "strlen");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_strnlen), __typeof__(strnlen)), "strnlen");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_strcmp), __typeof__(strcmp)), "strcmp");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_strncmp), __typeof__(strncmp)), "strncmp");
_Static_assert(__builtin_types_compatible_p(__typeof__(k_strchr), __typeof__(strchr)), "strchr");

#define GUARD 16
#define MAXLEN 80
#define GUARD_BYTE 0xa5

/* Fills a buffer with a pattern that differs at every position (period 251). */
static void fill_pattern(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 7 + seed) % 251 + 1);
}

static void memcpy_lengths_and_alignments(void **state) {
    (void)state;
    unsigned char src[MAXLEN + 8];
    unsigned char dst[GUARD + MAXLEN + 8 + GUARD];
    fill_pattern(src, sizeof(src), 3);
    for (size_t len = 0; len <= MAXLEN; len++) {
        for (size_t so = 0; so < 8; so++) {
            for (size_t dof = 0; dof < 8; dof++) {
                memset(dst, GUARD_BYTE, sizeof(dst));
                unsigned char *d = dst + GUARD + dof;
                void *ret = k_memcpy(d, src + so, len);
                assert_ptr_equal(ret, d);
                if (len > 0)
                    assert_memory_equal(d, src + so, len);
                for (size_t i = 0; i < sizeof(dst); i++) {
                    if (dst + i >= d && dst + i < d + len)
                        continue;
                    assert_int_equal(dst[i], GUARD_BYTE);
                }
            }
        }
    }
}

static void memcpy_large(void **state) {
    (void)state;
    size_t n = 1u << 20;
    unsigned char *src = malloc(n + 3);
    unsigned char *dst = malloc(n + 3);
    assert_non_null(src);
    assert_non_null(dst);
    fill_pattern(src, n + 3, 11);
    memset(dst, 0, n + 3);
    k_memcpy(dst + 1, src + 2, n);
    assert_memory_equal(dst + 1, src + 2, n);
    assert_int_equal(dst[0], 0);
    assert_int_equal(dst[n + 1], 0);
    free(src);
    free(dst);
}

static void memset_lengths_values_alignments(void **state) {
    (void)state;
    static const int values[] = {0, 0xff, 0x5a, 0x1ff /* only the low byte counts */, -1};
    unsigned char dst[GUARD + MAXLEN + 8 + GUARD];
    for (size_t v = 0; v < ARRAY_SIZE(values); v++) {
        unsigned char expect = (unsigned char)values[v];
        for (size_t len = 0; len <= MAXLEN; len++) {
            for (size_t dof = 0; dof < 8; dof++) {
                memset(dst, GUARD_BYTE, sizeof(dst));
                unsigned char *d = dst + GUARD + dof;
                assert_ptr_equal(k_memset(d, values[v], len), d);
                for (size_t i = 0; i < sizeof(dst); i++) {
                    bool inside = dst + i >= d && dst + i < d + len;
                    assert_int_equal(dst[i], inside ? expect : GUARD_BYTE);
                }
            }
        }
    }
}

/* Runs memmove inside one buffer from offset from_off to to_off and compares the result with
 * a copy made through a separate temporary buffer. */
static void check_memmove(size_t from_off, size_t to_off, size_t len) {
    unsigned char buf[GUARD + 2 * MAXLEN + GUARD];
    unsigned char expect[sizeof(buf)];
    unsigned char temp[2 * MAXLEN];
    fill_pattern(buf, sizeof(buf), (unsigned)(from_off * 31 + to_off));
    memcpy(expect, buf, sizeof(buf));
    for (size_t i = 0; i < len; i++)
        temp[i] = buf[GUARD + from_off + i];
    for (size_t i = 0; i < len; i++)
        expect[GUARD + to_off + i] = temp[i];
    void *ret = k_memmove(buf + GUARD + to_off, buf + GUARD + from_off, len);
    assert_ptr_equal(ret, buf + GUARD + to_off);
    assert_memory_equal(buf, expect, sizeof(buf));
}

static void memmove_overlap_dst_below_src(void **state) {
    (void)state;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t shift = 1; shift <= 20; shift++)
            check_memmove(shift, 0, len); /* dst < src, overlapping when len > shift */
}

static void memmove_overlap_dst_above_src(void **state) {
    (void)state;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t shift = 1; shift <= 20; shift++)
            check_memmove(3, 3 + shift, len); /* dst > src: must copy backwards */
}

static void memmove_disjoint_and_same(void **state) {
    (void)state;
    for (size_t len = 0; len <= MAXLEN / 2; len++) {
        check_memmove(0, MAXLEN, len);
        check_memmove(MAXLEN, 0, len);
        check_memmove(5, 5, len);
    }
}

static void memcmp_sign_and_position(void **state) {
    (void)state;
    unsigned char a[40];
    unsigned char b[40];
    fill_pattern(a, sizeof(a), 9);
    memcpy(b, a, sizeof(b));
    for (size_t n = 0; n <= sizeof(a); n++)
        assert_int_equal(k_memcmp(a, b, n), 0);
    for (size_t pos = 0; pos < sizeof(a); pos++) {
        memcpy(b, a, sizeof(b));
        b[pos] = (unsigned char)(a[pos] + 1);
        assert_true(k_memcmp(a, b, sizeof(a)) < 0);
        assert_true(k_memcmp(b, a, sizeof(a)) > 0);
        assert_int_equal(k_memcmp(a, b, pos), 0); /* the difference is outside the range */
        /* Bytes compare as unsigned char: 0x80 is greater than 0x01. */
        a[pos] = 0x80;
        b[pos] = 0x01;
        assert_true(k_memcmp(a, b, sizeof(a)) > 0);
        fill_pattern(a, sizeof(a), 9);
    }
}

static void strlen_and_strnlen(void **state) {
    (void)state;
    char s[64];
    for (size_t len = 0; len < sizeof(s); len++) {
        memset(s, 'x', len);
        s[len] = 0;
        assert_int_equal(k_strlen(s), len);
        for (size_t max = 0; max <= len + 2 && max < sizeof(s); max++)
            assert_int_equal(k_strnlen(s, max), max < len ? max : len);
    }
    /* strnlen must not read past max: an unterminated array of exactly max bytes. */
    char *unterminated = malloc(5);
    assert_non_null(unterminated);
    memcpy(unterminated, "abcde", 5);
    assert_int_equal(k_strnlen(unterminated, 5), 5);
    free(unterminated);
}

static int sign(int v) { return (v > 0) - (v < 0); }

static void strcmp_and_strncmp_match_libc(void **state) {
    (void)state;
    static const char *const words[] = {"", "a", "b", "ab", "abc", "abd", "abcd", "ABC", "\x80",
                                        "\x01", "a\xe9", "a\x7f", "zz", "z"};
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        for (size_t j = 0; j < ARRAY_SIZE(words); j++) {
            assert_int_equal(sign(k_strcmp(words[i], words[j])), sign(strcmp(words[i], words[j])));
            for (size_t n = 0; n < 6; n++)
                assert_int_equal(sign(k_strncmp(words[i], words[j], n)),
                                 sign(strncmp(words[i], words[j], n)));
        }
    }
    /* strncmp stops at the terminator even when n is larger. */
    assert_int_equal(k_strncmp("ab", "ab", 1000), 0);
}

static void strchr_finds_first_and_terminator(void **state) {
    (void)state;
    const char *s = "hello, w\xe9rld";
    assert_ptr_equal(k_strchr(s, 'l'), s + 2);
    assert_ptr_equal(k_strchr(s, 'h'), s);
    assert_ptr_equal(k_strchr(s, 'z'), NULL);
    assert_ptr_equal(k_strchr(s, 0), s + strlen(s));
    assert_ptr_equal(k_strchr(s, 0xe9), s + 8);     /* int 0xe9 matches char (signed) -23 */
    assert_ptr_equal(k_strchr(s, 0x100 + 'w'), s + 7); /* converted to char */
    assert_ptr_equal(k_strchr("", 'a'), NULL);
}

static void strlcpy_truncates_at_every_size(void **state) {
    (void)state;
    const char *src = "The quick brown fox";
    size_t src_len = strlen(src);
    for (size_t size = 0; size <= src_len + 3; size++) {
        char buf[GUARD + 32 + GUARD];
        memset(buf, GUARD_BYTE, sizeof(buf));
        char *d = buf + GUARD;
        assert_int_equal(k_strlcpy(d, src, size), src_len);
        if (size > 0) {
            size_t copied = size - 1 < src_len ? size - 1 : src_len;
            assert_memory_equal(d, src, copied);
            assert_int_equal(d[copied], 0);
            for (size_t i = copied + 1; i < sizeof(buf) - GUARD; i++)
                assert_int_equal((unsigned char)d[i], GUARD_BYTE);
        } else {
            assert_int_equal((unsigned char)d[0], GUARD_BYTE); /* size 0 writes nothing */
        }
        for (size_t i = 0; i < GUARD; i++)
            assert_int_equal((unsigned char)buf[i], GUARD_BYTE);
    }
    char one[1];
    assert_int_equal(k_strlcpy(one, "", sizeof(one)), 0);
    assert_int_equal(one[0], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memcpy_lengths_and_alignments),
        cmocka_unit_test(memcpy_large),
        cmocka_unit_test(memset_lengths_values_alignments),
        cmocka_unit_test(memmove_overlap_dst_below_src),
        cmocka_unit_test(memmove_overlap_dst_above_src),
        cmocka_unit_test(memmove_disjoint_and_same),
        cmocka_unit_test(memcmp_sign_and_position),
        cmocka_unit_test(strlen_and_strnlen),
        cmocka_unit_test(strcmp_and_strncmp_match_libc),
        cmocka_unit_test(strchr_finds_first_and_terminator),
        cmocka_unit_test(strlcpy_truncates_at_every_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
