/* fbcon.h: the framebuffer text console (kernel/drivers/video/fbcon.c): a PSF bitmap font
 * drawn on the GOP framebuffer, with scrolling. Registers itself as a printk console. */
#pragma once
#include "types.h"
#include "bootinfo.h"
/* Sets up the console on the boot framebuffer; returns false (and prints why) without one. */
bool fbcon_init(const struct boot_framebuffer *fb);
/* Draws text: UTF-8 (Latin-1 range shown, others as a replacement glyph), \n \r \t \b,
 * line wrap, scrolling, and ANSI/VT100 CSI sequences (SGR colours 0/1/22/30-37/39/40-47/49/
 * 90-97/100-107, cursor movement A B C D G H f, erase J K); other escape sequences are
 * swallowed. Safe with interrupts off; does nothing while the console is inactive. */
void fbcon_write(const char *s, size_t len);
/* Text grid size, 0 when inactive. */
void fbcon_size(int *cols, int *rows);

/* State for tests and diagnostics (fbcon_selftest.c). */
struct psf_font;
struct fbcon_info {
    bool active;
    int cols, rows;                 /* text grid */
    int cursor_col, cursor_row;     /* where the next character goes (col may equal cols
                                       right after the last column was written: wrap pending) */
    uint32_t cell_width, cell_height;
    volatile uint32_t *pixels;      /* mapped framebuffer, 32 bits per pixel */
    uint32_t pixels_per_line, width, height;
    uint32_t format;                /* enum fb_format */
    uint32_t default_fg_pixel, default_bg_pixel; /* light grey and black, as stored */
    const struct psf_font *font;
    uint64_t scrolls;               /* scroll operations since boot (each moves 1+ lines) */
};
/* Fills *out (all zero and active=false when there is no console). */
void fbcon_get_info(struct fbcon_info *out);
/* Code point stored in the text (shadow) buffer at a cell, 0 outside the grid or inactive. */
uint32_t fbcon_char_at(int col, int row);
