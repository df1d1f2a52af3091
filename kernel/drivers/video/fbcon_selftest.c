/* fbcon_selftest.c: kernel self-tests for the framebuffer console (group `fbcon`).
 * The launcher always gives QEMU a GOP display, so a missing framebuffer is a failure here,
 * never a skip. Pixels are read back from the mapped framebuffer and compared with the PSF
 * glyph bitmaps (PSF format: kbd project psffontformat; pixel formats: UEFI 2.10 12.9). */
#include "selftest.h"
#include "fbcon.h"
#include "psf.h"
#include "kprintf.h"
#include "kstring.h"

/* Checks that the cell at (col,row) shows code point cp in fg on bg, pixel by pixel, ignoring
 * the bottom `skip_bottom` rows (where the cursor underline may be). Returns the number of
 * wrong pixels and the first one's position. */
static int check_cell_pixels(const struct fbcon_info *in, int col, int row, uint32_t cp, uint32_t fg,
                             uint32_t bg, uint32_t skip_bottom, uint32_t *bad_x, uint32_t *bad_y) {
    const struct psf_font *f = in->font;
    const uint8_t *glyph = psf_glyph(f, cp);
    int wrong = 0;
    for (uint32_t y = 0; y + skip_bottom < f->height; y++) {
        uint32_t py = (uint32_t)row * in->cell_height + y;
        for (uint32_t x = 0; x < f->width; x++) {
            uint32_t px = (uint32_t)col * in->cell_width + x;
            bool on = glyph[y * f->bytes_per_row + (x >> 3)] & (0x80u >> (x & 7));
            uint32_t got = in->pixels[(size_t)py * in->pixels_per_line + px];
            if (got != (on ? fg : bg)) {
                if (!wrong) { *bad_x = px; *bad_y = py; }
                wrong++;
            }
        }
    }
    return wrong;
}

SELFTEST(fbcon, font_parsed_8x16) {
    struct psf_font font;
    size_t size = (size_t)(_binary_font_psf_end - _binary_font_psf_start);
    int rc = psf_parse(_binary_font_psf_start, size, &font);
    ST_ASSERT(t, rc == 0, "psf_parse of the built-in font (%zu bytes) failed: %d", size, rc);
    ST_ASSERT(t, font.width == 8 && font.height == 16, "font is %ux%u, expected 8x16", font.width, font.height);
    ST_ASSERT(t, font.glyph_count == 256 || font.glyph_count == 512, "odd glyph count %u", font.glyph_count);
    ST_ASSERT(t, font.has_unicode_table, "Lat15 carries a Unicode table but none was parsed");
    int lit_a = 0, lit_space = 0;
    for (uint32_t i = 0; i < font.bytes_per_glyph; i++) {
        lit_a += __builtin_popcount(psf_glyph(&font, 'A')[i]);
        lit_space += __builtin_popcount(psf_glyph(&font, ' ')[i]);
    }
    ST_ASSERT(t, lit_a > 10 && lit_space == 0, "glyph 'A' has %d pixels, ' ' has %d", lit_a, lit_space);
    struct fbcon_info in;
    fbcon_get_info(&in);
    ST_ASSERT(t, in.active, "no framebuffer");
    ST_ASSERT(t, in.cell_width == 8 && in.cell_height == 16, "console uses %ux%u cells", in.cell_width,
              in.cell_height);
}

SELFTEST(fbcon, glyph_pixels_in_framebuffer) {
    struct fbcon_info in;
    fbcon_get_info(&in);
    ST_ASSERT(t, in.active, "no framebuffer");
    /* Start a fresh line, then draw 'W' '#' in the default colours and a 'g' in blue on
     * yellow (SGR 34;43), then reset the colours (SGR 0). */
    fbcon_write("\n", 1);
    fbcon_get_info(&in);
    int row = in.cursor_row;
    ST_ASSERT(t, in.cursor_col == 0, "cursor at column %d after a newline", in.cursor_col);
    static const char text[] = "W#\x1b[34;43mg\x1b[0m";
    fbcon_write(text, sizeof text - 1);
    fbcon_get_info(&in);
    ST_ASSERT(t, in.cursor_row == row && in.cursor_col == 3, "cursor at %d,%d, expected 3,%d", in.cursor_col,
              in.cursor_row, row);
    ST_ASSERT(t, fbcon_char_at(0, row) == 'W' && fbcon_char_at(1, row) == '#' && fbcon_char_at(2, row) == 'g',
              "shadow buffer holds %#x %#x %#x", fbcon_char_at(0, row), fbcon_char_at(1, row),
              fbcon_char_at(2, row));
    uint32_t bx = 0, by = 0;
    int wrong = check_cell_pixels(&in, 0, row, 'W', in.default_fg_pixel, in.default_bg_pixel, 0, &bx, &by);
    ST_ASSERT(t, wrong == 0, "'W' has %d wrong pixels, first at (%u,%u)", wrong, bx, by);
    wrong = check_cell_pixels(&in, 1, row, '#', in.default_fg_pixel, in.default_bg_pixel, 0, &bx, &by);
    ST_ASSERT(t, wrong == 0, "'#' has %d wrong pixels, first at (%u,%u)", wrong, bx, by);
    /* Blue 0x0000aa and yellow (brown) 0xaa5500 in the framebuffer's byte order. */
    bool rgbx = in.format == FB_RGBX;
    uint32_t blue = rgbx ? 0xaa0000u : 0x0000aau;
    uint32_t yellow = rgbx ? 0x0055aau : 0xaa5500u;
    wrong = check_cell_pixels(&in, 2, row, 'g', blue, yellow, 0, &bx, &by);
    ST_ASSERT(t, wrong == 0, "coloured 'g' has %d wrong pixels, first at (%u,%u)", wrong, bx, by);
    /* The cursor underline sits at column 3: its bottom pixel row is lit, the top is not. */
    uint32_t cx = 3 * in.cell_width, cy = (uint32_t)row * in.cell_height;
    uint32_t bottom = in.pixels[(size_t)(cy + in.cell_height - 1) * in.pixels_per_line + cx];
    uint32_t top = in.pixels[(size_t)cy * in.pixels_per_line + cx];
    ST_ASSERT(t, bottom == in.default_fg_pixel && top == in.default_bg_pixel,
              "cursor cell: bottom %#x top %#x", bottom, top);
    fbcon_write("\n", 1);
}

SELFTEST(fbcon, escape_sequences_print_nothing) {
    struct fbcon_info in;
    fbcon_write("\n", 1);
    fbcon_get_info(&in);
    ST_ASSERT(t, in.active, "no framebuffer");
    int row = in.cursor_row;
    /* Unknown CSI, private mode, OSC title, a bare ESC pair, then a visible "ok". */
    static const char seq[] = "\x1b[12;34z\x1b[?25l\x1b]0;title\x07\x1b" "7ok";
    fbcon_write(seq, sizeof seq - 1);
    fbcon_get_info(&in);
    ST_ASSERT(t, fbcon_char_at(0, in.cursor_row) == 'o' && fbcon_char_at(1, in.cursor_row) == 'k' &&
                     in.cursor_col == 2 && in.cursor_row == row,
              "escape sequences left text: row %d col %d, cells %#x %#x", in.cursor_row, in.cursor_col,
              fbcon_char_at(0, in.cursor_row), fbcon_char_at(1, in.cursor_row));
    fbcon_write("\n", 1);
}

SELFTEST(fbcon, scroll_keeps_last_line) {
    struct fbcon_info in;
    fbcon_get_info(&in);
    ST_ASSERT(t, in.active, "no framebuffer");
    uint64_t scrolls_before = in.scrolls;
    int lines = in.rows + 5;
    char buf[48];
    for (int i = 0; i < lines; i++) {
        int n = ksnprintf(buf, sizeof buf, "fbcon scroll %d\n", i);
        fbcon_write(buf, (size_t)n);
    }
    fbcon_get_info(&in);
    ST_ASSERT(t, in.scrolls > scrolls_before, "screen never scrolled after %d lines", lines);
    ST_ASSERT(t, in.cursor_col == 0 && in.cursor_row >= 1, "cursor at %d,%d", in.cursor_col, in.cursor_row);
    /* The two last lines sit just above the cursor, in order. */
    for (int back = 1; back <= 2; back++) {
        int row = in.cursor_row - back;
        int n = ksnprintf(buf, sizeof buf, "fbcon scroll %d", lines - back);
        for (int c = 0; c < n; c++)
            ST_ASSERT(t, fbcon_char_at(c, row) == (uint8_t)buf[c], "row %d col %d holds %#x, expected '%c'",
                      row, c, fbcon_char_at(c, row), buf[c]);
        ST_ASSERT(t, fbcon_char_at(n, row) == ' ', "row %d has text after \"%s\"", row, buf);
    }
    /* And the framebuffer shows it: every character of the last line drawn. */
    int row = in.cursor_row - 1;
    int n = ksnprintf(buf, sizeof buf, "fbcon scroll %d", lines - 1);
    for (int c = 0; c < n; c++) {
        uint32_t bx = 0, by = 0;
        int wrong = check_cell_pixels(&in, c, row, (uint8_t)buf[c], in.default_fg_pixel, in.default_bg_pixel, 0,
                                      &bx, &by);
        ST_ASSERT(t, wrong == 0, "last line col %d: %d wrong pixels, first at (%u,%u)", c, wrong, bx, by);
    }
}

SELFTEST(fbcon, long_line_wraps) {
    struct fbcon_info in;
    fbcon_write("\n", 1);
    fbcon_get_info(&in);
    ST_ASSERT(t, in.active, "no framebuffer");
    int start_row = in.cursor_row;
    uint64_t scrolls_before = in.scrolls;
    /* cols + 3 characters: the last three land on the next line. */
    for (int i = 0; i < in.cols; i++)
        fbcon_write("=", 1);
    fbcon_write("abc", 3);
    fbcon_get_info(&in);
    int row = in.cursor_row;
    ST_ASSERT(t, in.cursor_col == 3, "cursor column %d after wrapping, expected 3", in.cursor_col);
    ST_ASSERT(t, row == start_row + 1 || in.scrolls > scrolls_before, "wrapped to row %d from %d", row,
              start_row);
    ST_ASSERT(t, fbcon_char_at(0, row) == 'a' && fbcon_char_at(2, row) == 'c', "next line holds %#x..%#x",
              fbcon_char_at(0, row), fbcon_char_at(2, row));
    ST_ASSERT(t, fbcon_char_at(in.cols - 1, row - 1) == '=', "end of the wrapped line holds %#x",
              fbcon_char_at(in.cols - 1, row - 1));
    fbcon_write("\n", 1);
}
