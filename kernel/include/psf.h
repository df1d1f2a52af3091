/* psf.h: PC Screen Font parser (kernel/drivers/video/psf.c), for the framebuffer console.
 * Formats: PSF version 1 (the Linux console font format: 4-byte header, 8 pixels wide) and
 * PSF version 2 (32-byte header, any width), each with an optional Unicode table, as
 * described in the kbd project's psf documentation (psffontformat). Pure code: no hardware
 * access, host-tested in tests/host/test_psf.c with well-formed and hostile font blobs. */
#pragma once
#include "types.h"

/* Limits we accept; anything larger is treated as a hostile or corrupt header. */
#define PSF_MAX_WIDTH 32
#define PSF_MAX_HEIGHT 64
#define PSF_MAX_GLYPHS 65535 /* glyph indices are stored in 16 bits, 0xffff = none */
/* Code points 0..PSF_MAP_SIZE-1 (ASCII and Latin-1) get a direct glyph lookup table. */
#define PSF_MAP_SIZE 256
#define PSF_NO_GLYPH 0xffffu

struct psf_font {
    uint8_t version;          /* 1 or 2 */
    uint32_t width, height;   /* glyph size in pixels */
    uint32_t glyph_count;
    uint32_t bytes_per_row;   /* (width + 7) / 8; bits are MSB-first, leftmost pixel first */
    uint32_t bytes_per_glyph; /* height * bytes_per_row */
    const uint8_t *glyphs;    /* glyph_count * bytes_per_glyph bytes inside the blob */
    bool has_unicode_table;   /* the font carried a Unicode table (it was used for map[]) */
    uint32_t unicode_entries; /* code points the table assigned (all, not only those < 256) */
    uint32_t replacement;     /* glyph for unmapped code points: U+FFFD, else '?', else 0 */
    uint16_t map[PSF_MAP_SIZE]; /* code point -> glyph index, PSF_NO_GLYPH when unmapped */
};

/* Parses a PSF1 or PSF2 font held in memory (the blob must stay alive: glyph pointers point
 * into it). Every header field is checked against the blob size and the limits above.
 * A damaged Unicode table is not fatal: the entries before the damage are kept.
 * Returns 0, or -KEINVAL (bad magic or header values) / -KERANGE (glyphs past the end). */
int psf_parse(const void *data, size_t size, struct psf_font *out);

/* Glyph index for a code point (the replacement glyph when it has none). */
uint32_t psf_glyph_index(const struct psf_font *f, uint32_t codepoint);

/* Bitmap of a code point's glyph: height rows of bytes_per_row bytes. */
const uint8_t *psf_glyph(const struct psf_font *f, uint32_t codepoint);

/* The font linked into the kernel image (Makefile: build/font.o from Lat15-VGA16.psf.gz). */
#ifndef HOST_TEST
extern const uint8_t _binary_font_psf_start[];
extern const uint8_t _binary_font_psf_end[];
#endif
