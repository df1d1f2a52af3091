/* test_psf.c: host unit tests for the PSF font parser (kernel/drivers/video/psf.c).
 * Builds synthetic PSF1 and PSF2 fonts in memory (well-formed, truncated and hostile) and,
 * when the Debian console font is installed, parses the real Lat15-VGA16 font the kernel
 * links in. Format reference: the kbd project's PSF description (psffontformat). */
#include "host_stubs.h"
#include "../../kernel/drivers/video/psf.c"

#include <string.h>
#include <unistd.h>

/* ---- blob builders ---- */

struct blob { uint8_t *data; size_t size, cap; };

static void blob_put(struct blob *b, const void *p, size_t n) {
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}
static void blob_u8(struct blob *b, uint8_t v) { blob_put(b, &v, 1); }
static void blob_u16(struct blob *b, uint16_t v) { uint8_t x[2] = {v & 0xff, v >> 8}; blob_put(b, x, 2); }
static void blob_u32(struct blob *b, uint32_t v) {
    uint8_t x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
    blob_put(b, x, 4);
}

/* Glyph i of a synthetic font: every byte is (i * 7 + row) & 0xff, so glyphs are distinct. */
static uint8_t synth_byte(uint32_t glyph, uint32_t byte_index) { return (uint8_t)(glyph * 7 + byte_index + 1); }

static void put_glyphs(struct blob *b, uint32_t count, uint32_t bytes_per_glyph) {
    for (uint32_t g = 0; g < count; g++)
        for (uint32_t i = 0; i < bytes_per_glyph; i++)
            blob_u8(b, synth_byte(g, i));
}

static struct blob make_psf1(uint8_t mode, uint8_t charsize, bool glyphs) {
    struct blob b = {0};
    blob_u8(&b, 0x36);
    blob_u8(&b, 0x04);
    blob_u8(&b, mode);
    blob_u8(&b, charsize);
    if (glyphs)
        put_glyphs(&b, (mode & 1) ? 512 : 256, charsize);
    return b;
}

static struct blob make_psf2_header(uint32_t header_size, uint32_t flags, uint32_t length, uint32_t charsize,
                                    uint32_t height, uint32_t width) {
    struct blob b = {0};
    blob_u32(&b, 0x864ab572u);
    blob_u32(&b, 0);
    blob_u32(&b, header_size);
    blob_u32(&b, flags);
    blob_u32(&b, length);
    blob_u32(&b, charsize);
    blob_u32(&b, height);
    blob_u32(&b, width);
    for (uint32_t i = 32; i < header_size && i < 4096; i++)
        blob_u8(&b, 0xcc);
    return b;
}

/* ---- PSF1 ---- */

static void test_psf1_plain_256(void **state) {
    (void)state;
    struct blob b = make_psf1(0x00, 16, true);
    struct psf_font f;
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    assert_int_equal(f.version, 1);
    assert_int_equal(f.width, 8);
    assert_int_equal(f.height, 16);
    assert_int_equal(f.glyph_count, 256);
    assert_int_equal(f.bytes_per_glyph, 16);
    assert_false(f.has_unicode_table);
    /* Without a table, code point c is glyph c. */
    assert_int_equal(psf_glyph_index(&f, 'A'), 'A');
    assert_ptr_equal(psf_glyph(&f, 'A'), b.data + 4 + 'A' * 16);
    assert_int_equal(psf_glyph(&f, 'A')[3], synth_byte('A', 3));
    /* Beyond the direct map: the replacement ('?' without a table entry for U+FFFD). */
    assert_int_equal(psf_glyph_index(&f, 0x4e00), '?');
    free(b.data);
}

static void test_psf1_512_with_table(void **state) {
    (void)state;
    struct blob b = make_psf1(0x01 | 0x02, 8, true);
    /* Table: glyph 300 draws 'A' and U+00C0; glyph 301 draws U+FFFD; glyph 5 has a sequence
     * (0xFFFE 'x' ...) that must not map 'x'; glyph 6 also claims 'A' (first one wins). */
    for (uint32_t g = 0; g < 512; g++) {
        if (g == 300) { blob_u16(&b, 'A'); blob_u16(&b, 0xc0); }
        if (g == 301) blob_u16(&b, 0xfffd);
        if (g == 5) { blob_u16(&b, 0xfffe); blob_u16(&b, 'x'); blob_u16(&b, 0x301); }
        if (g == 6) blob_u16(&b, 'A');
        if (g == 7) blob_u16(&b, 'B');
        blob_u16(&b, 0xffff);
    }
    struct psf_font f;
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    assert_int_equal(f.glyph_count, 512);
    assert_int_equal(f.height, 8);
    assert_true(f.has_unicode_table);
    assert_int_equal(psf_glyph_index(&f, 'B'), 7);
    assert_int_equal(psf_glyph_index(&f, 0xc0), 300);
    /* 'A' appears for glyph 6 first (table order is glyph order). */
    assert_int_equal(psf_glyph_index(&f, 'A'), 6);
    /* 'x' only appears inside a sequence: unmapped, so the U+FFFD glyph is used. */
    assert_int_equal(f.replacement, 301);
    assert_int_equal(psf_glyph_index(&f, 'x'), 301);
    assert_int_equal(psf_glyph_index(&f, 0x10ffff), 301);
    free(b.data);
}

static void test_psf1_truncated_table_keeps_prefix(void **state) {
    (void)state;
    struct blob b = make_psf1(0x02, 16, true);
    blob_u16(&b, 'Z'); blob_u16(&b, 0xffff); /* glyph 0 = 'Z' */
    blob_u16(&b, 'Y');                       /* glyph 1: cut off before its 0xFFFF */
    blob_u8(&b, 0x3f);                       /* and half a value */
    struct psf_font f;
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    assert_true(f.has_unicode_table);
    assert_int_equal(psf_glyph_index(&f, 'Z'), 0);
    assert_int_equal(psf_glyph_index(&f, 'Y'), 1);
    assert_int_equal(f.map['Q'], PSF_NO_GLYPH);
    free(b.data);
}

static void test_psf1_empty_table_falls_back_to_identity(void **state) {
    (void)state;
    struct blob b = make_psf1(0x02, 16, true); /* HASTAB set but no table bytes at all */
    struct psf_font f;
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    assert_false(f.has_unicode_table);
    assert_int_equal(psf_glyph_index(&f, 'k'), 'k');
    free(b.data);
}

static void test_psf1_bad_headers(void **state) {
    (void)state;
    struct psf_font f;
    /* charsize 0 */
    struct blob b = make_psf1(0x00, 0, false);
    assert_int_equal(psf_parse(b.data, b.size, &f), -KEINVAL);
    free(b.data);
    /* charsize beyond the limit */
    b = make_psf1(0x00, 200, false);
    assert_int_equal(psf_parse(b.data, b.size, &f), -KEINVAL);
    free(b.data);
    /* unknown mode bits */
    b = make_psf1(0x80, 16, true);
    assert_int_equal(psf_parse(b.data, b.size, &f), -KEINVAL);
    free(b.data);
    /* glyph data one byte short */
    b = make_psf1(0x00, 16, true);
    assert_int_equal(psf_parse(b.data, b.size - 1, &f), -KERANGE);
    /* header only */
    assert_int_equal(psf_parse(b.data, 4, &f), -KERANGE);
    /* shorter than the header: not a font */
    assert_int_equal(psf_parse(b.data, 3, &f), -KEINVAL);
    assert_int_equal(psf_parse(b.data, 0, &f), -KEINVAL);
    free(b.data);
    /* 512 glyphs announced, 256 present */
    b = make_psf1(0x00, 16, true);
    b.data[2] = 0x01;
    assert_int_equal(psf_parse(b.data, b.size, &f), -KERANGE);
    free(b.data);
    /* wrong magic, NULL input */
    uint8_t junk[64] = {0x36, 0x05, 0, 16};
    assert_int_equal(psf_parse(junk, sizeof junk, &f), -KEINVAL);
    assert_int_equal(psf_parse(NULL, 100, &f), -KEINVAL);
}

/* ---- PSF2 ---- */

static void test_psf2_wide_glyphs_with_utf8_table(void **state) {
    (void)state;
    /* 12x20 glyphs: 2 bytes per row, 40 bytes per glyph; header padded to 40 bytes. */
    struct blob b = make_psf2_header(40, 1, 10, 40, 20, 12);
    put_glyphs(&b, 10, 40);
    const uint8_t table[] = {
        'a', 0xff,                        /* glyph 0: a */
        0xc3, 0xa9, 'E', 0xff,            /* glyph 1: U+00E9, E */
        0xef, 0xbf, 0xbd, 0xff,           /* glyph 2: U+FFFD */
        0xfe, 'q', 0xcc, 0x81, 0xff,      /* glyph 3: sequence only (q + U+0301) */
        0xe4, 0xb8, 0x80, 'z', 0xff,      /* glyph 4: U+4E00, z */
        0xff, 0xff, 0xff, 0xff, 0xff,     /* glyphs 5-9: nothing */
    };
    blob_put(&b, table, sizeof table);
    struct psf_font f;
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    assert_int_equal(f.version, 2);
    assert_int_equal(f.width, 12);
    assert_int_equal(f.height, 20);
    assert_int_equal(f.bytes_per_row, 2);
    assert_int_equal(f.bytes_per_glyph, 40);
    assert_int_equal(f.glyph_count, 10);
    assert_ptr_equal(f.glyphs, b.data + 40);
    assert_true(f.has_unicode_table);
    assert_int_equal(f.unicode_entries, 6);
    assert_int_equal(psf_glyph_index(&f, 'a'), 0);
    assert_int_equal(psf_glyph_index(&f, 0xe9), 1);
    assert_int_equal(psf_glyph_index(&f, 'E'), 1);
    assert_int_equal(psf_glyph_index(&f, 'z'), 4);
    assert_int_equal(f.replacement, 2);
    assert_int_equal(psf_glyph_index(&f, 'q'), 2);
    assert_ptr_equal(psf_glyph(&f, 'z'), b.data + 40 + 4 * 40);
    free(b.data);
}

static void test_psf2_bad_utf8_stops_table(void **state) {
    (void)state;
    struct blob b = make_psf2_header(32, 1, 4, 16, 16, 8);
    put_glyphs(&b, 4, 16);
    const uint8_t table[] = {
        'a', 0xff,
        0xc0, 0x80, 0xff,   /* overlong NUL: malformed, parsing stops here */
        'c', 0xff,
    };
    blob_put(&b, table, sizeof table);
    struct psf_font f;
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    assert_int_equal(psf_glyph_index(&f, 'a'), 0);
    assert_int_equal(f.map['c'], PSF_NO_GLYPH);
    free(b.data);

    /* A lone continuation byte, a surrogate and a truncated 3-byte character. */
    const uint8_t *bad[] = {(const uint8_t *)"\x80\xff", (const uint8_t *)"\xed\xa0\x80\xff",
                            (const uint8_t *)"\xe4\xb8"};
    const size_t bad_len[] = {2, 4, 2};
    for (size_t i = 0; i < 3; i++) {
        b = make_psf2_header(32, 1, 4, 16, 16, 8);
        put_glyphs(&b, 4, 16);
        blob_put(&b, bad[i], bad_len[i]);
        assert_int_equal(psf_parse(b.data, b.size, &f), 0);
        assert_false(f.has_unicode_table);
        assert_int_equal(psf_glyph_index(&f, 2), 2); /* identity fallback */
        free(b.data);
    }
}

static void test_psf2_hostile_headers(void **state) {
    (void)state;
    struct psf_font f;
    struct {
        uint32_t header_size, length, charsize, height, width;
        int expect;
    } cases[] = {
        {32, 0, 16, 16, 8, -KEINVAL},            /* no glyphs */
        {32, 4, 0, 0, 8, -KEINVAL},              /* zero height */
        {32, 4, 16, 16, 0, -KEINVAL},            /* zero width */
        {32, 4, 16, 16, 9, -KEINVAL},            /* charsize does not match 2 bytes/row */
        {32, 4, 8 * 4000, 4000, 8, -KEINVAL},    /* huge height */
        {32, 4, 16, 16, 4000, -KEINVAL},         /* huge width */
        {32, 0x10000000, 16, 16, 8, -KEINVAL},   /* huge glyph count */
        {16, 4, 16, 16, 8, -KEINVAL},            /* header smaller than the header */
        {0xffffffff, 4, 16, 16, 8, -KERANGE},    /* header size past the blob */
        {32, 65535, 256, 64, 32, -KERANGE},      /* plausible but far larger than the blob */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct blob b = make_psf2_header(32, 0, cases[i].length, cases[i].charsize, cases[i].height,
                                         cases[i].width);
        /* patch the header size without padding the blob */
        b.data[8] = cases[i].header_size & 0xff;
        b.data[9] = (cases[i].header_size >> 8) & 0xff;
        b.data[10] = (cases[i].header_size >> 16) & 0xff;
        b.data[11] = cases[i].header_size >> 24;
        put_glyphs(&b, 4, 16);
        int rc = psf_parse(b.data, b.size, &f);
        if (rc != cases[i].expect)
            fail_msg("case %zu: got %d, expected %d", i, rc, cases[i].expect);
        free(b.data);
    }
    /* Truncated: header cut short, glyphs one byte short, bad version. */
    struct blob b = make_psf2_header(32, 0, 4, 16, 16, 8);
    put_glyphs(&b, 4, 16);
    assert_int_equal(psf_parse(b.data, 31, &f), -KERANGE);
    assert_int_equal(psf_parse(b.data, b.size - 1, &f), -KERANGE);
    assert_int_equal(psf_parse(b.data, b.size, &f), 0);
    b.data[4] = 1;
    assert_int_equal(psf_parse(b.data, b.size, &f), -KEINVAL);
    free(b.data);
}

/* Feeds every prefix of a valid font and many corrupted copies to the parser: it must
 * return an error or a font whose glyphs all lie inside the blob. */
static void test_fuzz_never_reads_outside(void **state) {
    (void)state;
    struct blob base = make_psf2_header(32, 1, 8, 16, 16, 8);
    put_glyphs(&base, 8, 16);
    const uint8_t table[] = {'a', 0xff, 0xc3, 0xa9, 0xff, 0xfe, 'b', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    blob_put(&base, table, sizeof table);
    struct psf_font f;
    for (size_t len = 0; len <= base.size; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches any overread */
        memcpy(copy, base.data, len);
        int rc = psf_parse(copy, len, &f);
        if (rc == 0)
            assert_true((size_t)(f.glyphs - copy) + (size_t)f.glyph_count * f.bytes_per_glyph <= len);
        free(copy);
    }
    srand(12345);
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t *copy = malloc(base.size);
        memcpy(copy, base.data, base.size);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++)
            copy[rand() % base.size] = (uint8_t)rand();
        if (iter & 1) { copy[0] = 0x36; copy[1] = 0x04; } /* exercise the PSF1 path too */
        int rc = psf_parse(copy, base.size, &f);
        if (rc == 0) {
            assert_true((size_t)(f.glyphs - copy) + (size_t)f.glyph_count * f.bytes_per_glyph <= base.size);
            for (uint32_t cp = 0; cp < PSF_MAP_SIZE; cp++)
                assert_true(psf_glyph_index(&f, cp) < f.glyph_count);
        }
        free(copy);
    }
    free(base.data);
}

/* ---- the real console font ---- */

static int popcount_glyph(const struct psf_font *f, uint32_t cp) {
    const uint8_t *g = psf_glyph(f, cp);
    int n = 0;
    for (uint32_t i = 0; i < f->bytes_per_glyph; i++)
        n += __builtin_popcount(g[i]);
    return n;
}

static void test_real_lat15_font(void **state) {
    (void)state;
    const char *src = "/usr/share/consolefonts/Lat15-VGA16.psf.gz";
    if (access(src, R_OK) != 0)
        skip();
    char path[] = "/tmp/test_psf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "gzip -dc %s > %s", src, path);
    assert_int_equal(system(cmd), 0);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    unlink(path);
    uint8_t *exact = malloc(n);
    memcpy(exact, buf, n);

    struct psf_font f;
    assert_int_equal(psf_parse(exact, n, &f), 0);
    assert_int_equal(f.width, 8);
    assert_int_equal(f.height, 16);
    assert_true(f.glyph_count == 256 || f.glyph_count == 512);
    assert_true(f.has_unicode_table);
    /* Every printable ASCII character has its own glyph in the table. */
    for (uint32_t c = 0x20; c < 0x7f; c++)
        assert_int_not_equal(f.map[c], PSF_NO_GLYPH);
    /* Space is blank, letters are not, and 'A' differs from 'B'. */
    assert_int_equal(popcount_glyph(&f, ' '), 0);
    assert_true(popcount_glyph(&f, 'A') > 10);
    assert_true(popcount_glyph(&f, '.') < popcount_glyph(&f, 'W'));
    assert_int_not_equal(psf_glyph_index(&f, 'A'), psf_glyph_index(&f, 'B'));
    /* 'A' (VGA style) leaves its top row blank. */
    const uint8_t *a = psf_glyph(&f, 'A');
    assert_int_equal(a[0], 0);
    free(exact);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psf1_plain_256),
        cmocka_unit_test(test_psf1_512_with_table),
        cmocka_unit_test(test_psf1_truncated_table_keeps_prefix),
        cmocka_unit_test(test_psf1_empty_table_falls_back_to_identity),
        cmocka_unit_test(test_psf1_bad_headers),
        cmocka_unit_test(test_psf2_wide_glyphs_with_utf8_table),
        cmocka_unit_test(test_psf2_bad_utf8_stops_table),
        cmocka_unit_test(test_psf2_hostile_headers),
        cmocka_unit_test(test_fuzz_never_reads_outside),
        cmocka_unit_test(test_real_lat15_font),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
