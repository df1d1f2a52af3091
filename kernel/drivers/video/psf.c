/* psf.c: PC Screen Font (PSF1 and PSF2) parser for the framebuffer console.
 *
 * Follows the PSF format description of the Linux kbd project (doc/font-formats,
 * "psffontformat"):
 *  - PSF1: bytes 0x36 0x04, a mode byte (bit 0: 512 glyphs instead of 256, bit 1: a Unicode
 *    table follows, bit 2: the table has sequences) and a charsize byte (bytes per glyph,
 *    which is the height, glyphs being 8 pixels wide). The Unicode table has one entry per
 *    glyph: little-endian 16-bit code points, 0xFFFE starts combining sequences, 0xFFFF ends
 *    the entry.
 *  - PSF2: a 32-byte little-endian header (magic 0x864ab572, version, headersize, flags,
 *    length, charsize, height, width); flags bit 0 means a Unicode table follows the glyphs.
 *    Its entries are UTF-8 strings, 0xFE starts sequences, 0xFF ends the entry.
 * Every field is checked against the blob size with 64-bit arithmetic, so a hostile header
 * cannot make the console read outside the font. Pure code, host-tested (test_psf.c). */
#include "psf.h"
#include "kerrno.h"
#include "kstring.h"

#define PSF1_MAGIC0 0x36
#define PSF1_MAGIC1 0x04
#define PSF1_MODE_512 0x01
#define PSF1_MODE_HASTAB 0x02
#define PSF1_MODE_HASSEQ 0x04
#define PSF1_HEADER_SIZE 4
#define PSF1_TABLE_END 0xffffu
#define PSF1_TABLE_SEQ 0xfffeu

#define PSF2_MAGIC 0x864ab572u
#define PSF2_HEADER_SIZE 32
#define PSF2_FLAG_HAS_UNICODE 0x01u
#define PSF2_TABLE_END 0xff
#define PSF2_TABLE_SEQ 0xfe

#define UNICODE_REPLACEMENT 0xfffdu

static uint32_t read_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Records that code point cp is drawn with glyph; the first glyph listed for a code point
 * wins. Tracks the replacement character, which lies outside the direct map. */
static void map_codepoint(struct psf_font *f, uint32_t cp, uint32_t glyph, uint32_t *repl) {
    f->unicode_entries++;
    if (cp < PSF_MAP_SIZE) {
        if (f->map[cp] == PSF_NO_GLYPH)
            f->map[cp] = (uint16_t)glyph;
    } else if (cp == UNICODE_REPLACEMENT && *repl == PSF_NO_GLYPH) {
        *repl = glyph;
    }
}

/* PSF1 table: per glyph, 16-bit values until 0xFFFF. Stops quietly at a truncation. */
static void parse_psf1_table(struct psf_font *f, const uint8_t *p, const uint8_t *end, uint32_t *repl) {
    for (uint32_t glyph = 0; glyph < f->glyph_count; glyph++) {
        bool in_sequence = false;
        for (;;) {
            if (end - p < 2)
                return;
            uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
            p += 2;
            if (v == PSF1_TABLE_END)
                break;
            if (v == PSF1_TABLE_SEQ) {
                in_sequence = true;
                continue;
            }
            if (!in_sequence)
                map_codepoint(f, v, glyph, repl);
        }
    }
}

/* Decodes one UTF-8 character at *pp (strict: no overlongs, no surrogates, <= U+10FFFF).
 * Returns false on malformed or truncated input. */
static bool utf8_next(const uint8_t **pp, const uint8_t *end, uint32_t *cp) {
    const uint8_t *p = *pp;
    uint8_t b0 = p[0];
    uint32_t value, min;
    int extra;
    if (b0 < 0x80) {
        *cp = b0;
        *pp = p + 1;
        return true;
    } else if ((b0 & 0xe0) == 0xc0) {
        value = b0 & 0x1f; extra = 1; min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
        value = b0 & 0x0f; extra = 2; min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
        value = b0 & 0x07; extra = 3; min = 0x10000;
    } else {
        return false;
    }
    if (end - p < extra + 1)
        return false;
    for (int i = 1; i <= extra; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return false;
        value = (value << 6) | (p[i] & 0x3f);
    }
    if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return false;
    *cp = value;
    *pp = p + 1 + extra;
    return true;
}

/* PSF2 table: per glyph, UTF-8 characters until 0xFF. Stops quietly at damage. */
static void parse_psf2_table(struct psf_font *f, const uint8_t *p, const uint8_t *end, uint32_t *repl) {
    for (uint32_t glyph = 0; glyph < f->glyph_count; glyph++) {
        bool in_sequence = false;
        for (;;) {
            if (p >= end)
                return;
            if (*p == PSF2_TABLE_END) {
                p++;
                break;
            }
            if (*p == PSF2_TABLE_SEQ) {
                in_sequence = true;
                p++;
                continue;
            }
            uint32_t cp;
            if (!utf8_next(&p, end, &cp))
                return;
            if (!in_sequence)
                map_codepoint(f, cp, glyph, repl);
        }
    }
}

/* Fills map[] and the replacement glyph once the header and glyphs are validated. */
static void build_map(struct psf_font *f, const uint8_t *table, const uint8_t *end, bool has_table) {
    uint32_t repl = PSF_NO_GLYPH;
    for (uint32_t i = 0; i < PSF_MAP_SIZE; i++)
        f->map[i] = PSF_NO_GLYPH;
    f->unicode_entries = 0;
    if (has_table) {
        if (f->version == 1)
            parse_psf1_table(f, table, end, &repl);
        else
            parse_psf2_table(f, table, end, &repl);
    }
    f->has_unicode_table = f->unicode_entries > 0;
    if (!f->has_unicode_table) {
        /* No (usable) table: glyph i is code point i. */
        for (uint32_t i = 0; i < PSF_MAP_SIZE && i < f->glyph_count; i++)
            f->map[i] = (uint16_t)i;
    }
    if (repl == PSF_NO_GLYPH)
        repl = f->map['?'];
    f->replacement = repl == PSF_NO_GLYPH ? 0 : repl;
}

int psf_parse(const void *data, size_t size, struct psf_font *out) {
    const uint8_t *bytes = data;
    if (!data || !out)
        return -KEINVAL;
    memset(out, 0, sizeof(*out));

    if (size >= PSF1_HEADER_SIZE && bytes[0] == PSF1_MAGIC0 && bytes[1] == PSF1_MAGIC1) {
        uint8_t mode = bytes[2], charsize = bytes[3];
        if (charsize == 0 || charsize > PSF_MAX_HEIGHT || (mode & ~0x07))
            return -KEINVAL;
        out->version = 1;
        out->width = 8;
        out->height = charsize;
        out->bytes_per_row = 1;
        out->bytes_per_glyph = charsize;
        out->glyph_count = (mode & PSF1_MODE_512) ? 512 : 256;
        uint64_t glyph_bytes = (uint64_t)out->glyph_count * out->bytes_per_glyph;
        if (PSF1_HEADER_SIZE + glyph_bytes > size)
            return -KERANGE;
        out->glyphs = bytes + PSF1_HEADER_SIZE;
        bool has_table = (mode & (PSF1_MODE_HASTAB | PSF1_MODE_HASSEQ)) != 0;
        build_map(out, out->glyphs + glyph_bytes, bytes + size, has_table);
        return 0;
    }

    if (size >= 4 && read_le32(bytes) == PSF2_MAGIC) {
        if (size < PSF2_HEADER_SIZE)
            return -KERANGE;
        uint32_t version = read_le32(bytes + 4);
        uint32_t header_size = read_le32(bytes + 8);
        uint32_t flags = read_le32(bytes + 12);
        uint32_t length = read_le32(bytes + 16);
        uint32_t charsize = read_le32(bytes + 20);
        uint32_t height = read_le32(bytes + 24);
        uint32_t width = read_le32(bytes + 28);
        if (version != 0 || header_size < PSF2_HEADER_SIZE)
            return -KEINVAL;
        if (width == 0 || width > PSF_MAX_WIDTH || height == 0 || height > PSF_MAX_HEIGHT)
            return -KEINVAL;
        if (length == 0 || length > PSF_MAX_GLYPHS)
            return -KEINVAL;
        uint32_t bytes_per_row = (width + 7) / 8;
        if (charsize != height * bytes_per_row)
            return -KEINVAL;
        uint64_t glyph_bytes = (uint64_t)length * charsize;
        if ((uint64_t)header_size > size || (uint64_t)header_size + glyph_bytes > size)
            return -KERANGE;
        out->version = 2;
        out->width = width;
        out->height = height;
        out->bytes_per_row = bytes_per_row;
        out->bytes_per_glyph = charsize;
        out->glyph_count = length;
        out->glyphs = bytes + header_size;
        build_map(out, out->glyphs + glyph_bytes, bytes + size, (flags & PSF2_FLAG_HAS_UNICODE) != 0);
        return 0;
    }
    return -KEINVAL;
}

uint32_t psf_glyph_index(const struct psf_font *f, uint32_t codepoint) {
    if (codepoint < PSF_MAP_SIZE && f->map[codepoint] != PSF_NO_GLYPH)
        return f->map[codepoint];
    return f->replacement;
}

const uint8_t *psf_glyph(const struct psf_font *f, uint32_t codepoint) {
    return f->glyphs + (size_t)psf_glyph_index(f, codepoint) * f->bytes_per_glyph;
}
