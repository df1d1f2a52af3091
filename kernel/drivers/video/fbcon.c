/* fbcon.c: text console on the UEFI GOP framebuffer.
 *
 * The framebuffer is the linear 32-bit-per-pixel one the loader found through the UEFI GOP
 * (UEFI 2.10 section 12.9, EFI_GRAPHICS_OUTPUT_PROTOCOL; PixelRedGreenBlueReserved8BitPerColor
 * and PixelBlueGreenRedReserved8BitPerColor). Glyphs come from the PSF font linked into the
 * kernel (psf.c). Control characters and escape sequences follow ECMA-48 (5th edition):
 * CR, LF (as CR+LF), HT, BS, and CSI sequences (section 5.4) for SGR colours (8.3.117),
 * cursor movement CUU/CUD/CUF/CUB/CHA/CUP (8.3.22, 8.3.19, 8.3.20, 8.3.18, 8.3.9, 8.3.21) and
 * erasing ED/EL (8.3.39, 8.3.41); other sequences are consumed without output.
 *
 * Drawing: the console keeps two cell arrays, the text it wants on screen and the text it has
 * drawn. Writing and scrolling only change the first one (cheap); at the end of every write
 * the rows marked dirty are compared cell by cell and only differing cells are redrawn. So a
 * scroll costs one redraw of the cells whose text changed, not a framebuffer memmove, and
 * several lines written at once cost one redraw. When the cursor runs off the bottom the text
 * jumps up by an eighth of the screen, which amortises redraws over several lines. */
#include "fbcon.h"
#include "psf.h"
#include "mm.h"
#include "printk.h"
#include "kstring.h"
#include "cpu.h"

#define FBCON_MAX_COLS 240 /* 1920 pixels / 8 */
#define FBCON_MAX_ROWS 100 /* 1600 pixels / 16 */
#define TAB_WIDTH 8
#define CURSOR_LINES 2     /* the cursor is an underline this many pixel rows high */

/* A cell: code point (bits 0-20), foreground (21-24), background (25-28), cursor (29). */
#define CELL_CP_MASK 0x1fffffu
#define CELL_FG_SHIFT 21
#define CELL_BG_SHIFT 25
#define CELL_CURSOR (1u << 29)

#define COLOUR_BLACK 0
#define COLOUR_LIGHT_GREY 7
#define COLOUR_BRIGHT 8

/* The 16 VGA text colours in ANSI order (black red green yellow blue magenta cyan white,
 * then the bright ones), as 0xRRGGBB. */
static const uint32_t vga_palette_rgb[16] = {
    0x000000, 0xaa0000, 0x00aa00, 0xaa5500, 0x0000aa, 0xaa00aa, 0x00aaaa, 0xaaaaaa,
    0x555555, 0xff5555, 0x55ff55, 0xffff55, 0x5555ff, 0xff55ff, 0x55ffff, 0xffffff,
};

enum esc_state { ESC_NONE, ESC_SEEN, ESC_CSI, ESC_OSC, ESC_OSC_ESC };
#define CSI_MAX_PARAMS 8
#define CSI_MAX_LEN 64   /* a longer CSI sequence is abandoned (hostile or broken input) */
#define OSC_MAX_LEN 256

static struct {
    bool active;
    volatile uint32_t *pixels;
    uint32_t pitch;              /* pixels per scan line */
    uint32_t width, height;      /* visible pixels */
    uint32_t format;
    struct psf_font font;
    int cols, rows;
    int col, row;                /* cursor; col == cols means a wrap is pending */
    uint8_t fg, bg;              /* current colours (palette indices) */
    bool bold;
    uint32_t palette[16];        /* colours as framebuffer pixel values */
    int scroll_step;
    uint64_t scrolls;
    /* escape sequence parser */
    enum esc_state esc;
    int esc_len;
    int params[CSI_MAX_PARAMS];
    int param_count;
    bool csi_private;
    /* UTF-8 decoder */
    uint32_t utf8_cp;
    int utf8_left;
    /* where the cursor was last drawn */
    int shown_cursor_row;
} con;

static uint32_t text_cells[FBCON_MAX_ROWS * FBCON_MAX_COLS];  /* wanted */
static uint32_t shown_cells[FBCON_MAX_ROWS * FBCON_MAX_COLS]; /* drawn */
static bool row_dirty[FBCON_MAX_ROWS];

/* One lock for all console state; taken with interrupts off. A CPU that cannot get it within
 * the spin budget (for example a fault inside fbcon itself) drops its text instead of
 * deadlocking: the serial console still has it. */
static volatile int fbcon_lock;
#define LOCK_SPIN_BUDGET 10000000

static bool lock_acquire(uint64_t *flags) {
    *flags = irq_save();
    for (long spins = 0; spins < LOCK_SPIN_BUDGET; spins++) {
        if (!__atomic_exchange_n(&fbcon_lock, 1, __ATOMIC_ACQUIRE))
            return true;
        cpu_relax();
    }
    irq_restore(*flags);
    return false;
}

static void lock_release(uint64_t flags) {
    __atomic_store_n(&fbcon_lock, 0, __ATOMIC_RELEASE);
    irq_restore(flags);
}

static uint32_t rgb_to_pixel(uint32_t rgb) {
    uint32_t r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
    if (con.format == FB_RGBX)
        return r | (g << 8) | (b << 16);
    return b | (g << 8) | (r << 16);
}

static uint32_t make_cell(uint32_t cp) {
    uint8_t fg = con.fg | (con.bold ? COLOUR_BRIGHT : 0);
    return (cp & CELL_CP_MASK) | ((uint32_t)fg << CELL_FG_SHIFT) | ((uint32_t)con.bg << CELL_BG_SHIFT);
}

static uint32_t blank_cell(void) {
    return (uint32_t)' ' | ((uint32_t)con.fg << CELL_FG_SHIFT) | ((uint32_t)con.bg << CELL_BG_SHIFT);
}

/* ---- drawing ---- */

static void draw_cell(int col, int row, uint32_t cell) {
    const struct psf_font *f = &con.font;
    const uint8_t *glyph = psf_glyph(f, cell & CELL_CP_MASK);
    uint32_t fg = con.palette[(cell >> CELL_FG_SHIFT) & 0xf];
    uint32_t bg = con.palette[(cell >> CELL_BG_SHIFT) & 0xf];
    uint32_t cursor_from = (cell & CELL_CURSOR) ? f->height - CURSOR_LINES : f->height;
    volatile uint32_t *line = con.pixels + (size_t)row * f->height * con.pitch + (size_t)col * f->width;
    for (uint32_t y = 0; y < f->height; y++, line += con.pitch, glyph += f->bytes_per_row) {
        if (y >= cursor_from) {
            for (uint32_t x = 0; x < f->width; x++)
                line[x] = fg;
            continue;
        }
        for (uint32_t x = 0; x < f->width; x++)
            line[x] = (glyph[x >> 3] & (0x80u >> (x & 7))) ? fg : bg;
    }
}

static void mark_all_dirty(void) {
    for (int r = 0; r < con.rows; r++)
        row_dirty[r] = true;
}

/* Redraws every cell whose wanted content (text plus cursor) differs from what is shown. */
static void flush(void) {
    int cursor_col = con.col < con.cols ? con.col : con.cols - 1;
    if (con.shown_cursor_row != con.row) {
        if (con.shown_cursor_row >= 0 && con.shown_cursor_row < con.rows)
            row_dirty[con.shown_cursor_row] = true;
        con.shown_cursor_row = con.row;
    }
    row_dirty[con.row] = true;
    for (int r = 0; r < con.rows; r++) {
        if (!row_dirty[r])
            continue;
        row_dirty[r] = false;
        uint32_t *want = &text_cells[r * FBCON_MAX_COLS];
        uint32_t *have = &shown_cells[r * FBCON_MAX_COLS];
        for (int c = 0; c < con.cols; c++) {
            uint32_t cell = want[c];
            if (r == con.row && c == cursor_col)
                cell |= CELL_CURSOR;
            if (cell != have[c]) {
                draw_cell(c, r, cell);
                have[c] = cell;
            }
        }
    }
}

/* ---- text operations (shadow buffer only; flush() draws) ---- */

static void clear_cells(int row, int from_col, int to_col) {
    uint32_t blank = blank_cell();
    uint32_t *cells = &text_cells[row * FBCON_MAX_COLS];
    for (int c = from_col; c < to_col; c++)
        cells[c] = blank;
    row_dirty[row] = true;
}

static void scroll_up(int lines) {
    if (lines > con.rows)
        lines = con.rows;
    int keep = con.rows - lines;
    if (keep > 0)
        memmove(text_cells, &text_cells[lines * FBCON_MAX_COLS], (size_t)keep * FBCON_MAX_COLS * sizeof(uint32_t));
    for (int r = keep; r < con.rows; r++)
        clear_cells(r, 0, con.cols);
    con.row -= lines;
    if (con.row < 0)
        con.row = 0;
    con.scrolls++;
    mark_all_dirty();
}

static void newline(void) {
    con.col = 0;
    con.row++;
    if (con.row >= con.rows)
        scroll_up(con.row - con.rows + con.scroll_step);
}

static void put_codepoint(uint32_t cp) {
    if (con.col >= con.cols)
        newline();
    text_cells[con.row * FBCON_MAX_COLS + con.col] = make_cell(cp);
    row_dirty[con.row] = true;
    con.col++;
}

static void clamp_cursor(void) {
    if (con.row < 0) con.row = 0;
    if (con.row >= con.rows) con.row = con.rows - 1;
    if (con.col < 0) con.col = 0;
    if (con.col >= con.cols) con.col = con.cols - 1;
}

/* ---- escape sequences ---- */

static int csi_param(int i, int dflt) {
    return (i < con.param_count && con.params[i] > 0) ? con.params[i] : dflt;
}

static void csi_sgr(void) {
    if (con.param_count == 0)
        con.param_count = 1, con.params[0] = 0;
    for (int i = 0; i < con.param_count; i++) {
        int p = con.params[i];
        if (p == 0) {
            con.fg = COLOUR_LIGHT_GREY;
            con.bg = COLOUR_BLACK;
            con.bold = false;
        } else if (p == 1) {
            con.bold = true;
        } else if (p == 22) {
            con.bold = false;
        } else if (p >= 30 && p <= 37) {
            con.fg = (uint8_t)(p - 30);
        } else if (p == 39) {
            con.fg = COLOUR_LIGHT_GREY;
        } else if (p >= 40 && p <= 47) {
            con.bg = (uint8_t)(p - 40);
        } else if (p == 49) {
            con.bg = COLOUR_BLACK;
        } else if (p >= 90 && p <= 97) {
            con.fg = (uint8_t)(p - 90 + COLOUR_BRIGHT);
        } else if (p >= 100 && p <= 107) {
            con.bg = (uint8_t)(p - 100 + COLOUR_BRIGHT);
        }
        /* everything else (underline, blink, 256 colours, ...) is ignored */
    }
}

static void csi_execute(uint8_t final) {
    if (con.csi_private)
        return; /* DEC private modes (e.g. ?25l) are not supported: consume silently */
    int n = csi_param(0, 1);
    switch (final) {
    case 'm': csi_sgr(); return;
    case 'A': con.row -= n; break;
    case 'B': con.row += n; break;
    case 'C': con.col += n; break;
    case 'D': con.col -= n; break;
    case 'G': con.col = n - 1; break;
    case 'H': case 'f': con.row = csi_param(0, 1) - 1; con.col = csi_param(1, 1) - 1; break;
    case 'J': {
        int mode = csi_param(0, 0);
        clamp_cursor();
        if (mode == 0) {
            clear_cells(con.row, con.col, con.cols);
            for (int r = con.row + 1; r < con.rows; r++) clear_cells(r, 0, con.cols);
        } else if (mode == 1) {
            for (int r = 0; r < con.row; r++) clear_cells(r, 0, con.cols);
            clear_cells(con.row, 0, con.col + 1);
        } else if (mode == 2 || mode == 3) {
            for (int r = 0; r < con.rows; r++) clear_cells(r, 0, con.cols);
        }
        return;
    }
    case 'K': {
        int mode = csi_param(0, 0);
        clamp_cursor();
        if (mode == 0) clear_cells(con.row, con.col, con.cols);
        else if (mode == 1) clear_cells(con.row, 0, con.col + 1);
        else if (mode == 2) clear_cells(con.row, 0, con.cols);
        return;
    }
    default:
        return;
    }
    clamp_cursor();
}

/* Feeds one byte to the escape parser; returns true when it consumed it. */
static bool escape_byte(uint8_t b) {
    switch (con.esc) {
    case ESC_NONE:
        if (b != 0x1b)
            return false;
        con.esc = ESC_SEEN;
        return true;
    case ESC_SEEN:
        if (b == '[') {
            con.esc = ESC_CSI;
            con.esc_len = 0;
            con.param_count = 0;
            con.csi_private = false;
            for (int i = 0; i < CSI_MAX_PARAMS; i++) con.params[i] = 0;
        } else if (b == ']') {
            con.esc = ESC_OSC;
            con.esc_len = 0;
        } else if (b == 0x1b) {
            con.esc = ESC_SEEN;
        } else {
            con.esc = ESC_NONE; /* two-byte sequence (ESC 7, ESC c, ...): ignored */
        }
        return true;
    case ESC_CSI:
        if (++con.esc_len > CSI_MAX_LEN) {
            con.esc = ESC_NONE;
            return true;
        }
        if (b >= '0' && b <= '9') {
            if (con.param_count == 0) con.param_count = 1;
            int *p = &con.params[con.param_count - 1];
            if (*p < 10000) *p = *p * 10 + (b - '0');
        } else if (b == ';') {
            if (con.param_count == 0) con.param_count = 1;
            if (con.param_count < CSI_MAX_PARAMS) con.param_count++;
        } else if (b >= 0x3c && b <= 0x3f) {
            con.csi_private = true;
        } else if (b >= 0x20 && b <= 0x2f) {
            /* intermediate bytes: accepted, not used */
        } else if (b >= 0x40 && b <= 0x7e) {
            con.esc = ESC_NONE;
            csi_execute(b);
        } else if (b == 0x1b) {
            con.esc = ESC_SEEN;
        } else if (b < 0x20) {
            con.esc = ESC_NONE; /* a control character aborts the sequence and acts */
            return false;
        } else {
            con.esc = ESC_NONE; /* DEL or 8-bit byte: abandon the sequence */
        }
        return true;
    case ESC_OSC:
        if (b == 0x07 || ++con.esc_len > OSC_MAX_LEN) con.esc = ESC_NONE;
        else if (b == 0x1b) con.esc = ESC_OSC_ESC;
        return true;
    case ESC_OSC_ESC:
        con.esc = (b == '\\') ? ESC_NONE : ESC_OSC;
        return true;
    }
    return false;
}

/* ---- bytes to characters ---- */

static void control_char(uint8_t b) {
    switch (b) {
    case '\n': newline(); break;
    case '\r': con.col = 0; break;
    case '\t': {
        if (con.col >= con.cols) newline();
        int next = (con.col / TAB_WIDTH + 1) * TAB_WIDTH;
        con.col = next < con.cols ? next : con.cols - 1;
        break;
    }
    case '\b':
        if (con.col >= con.cols) con.col = con.cols - 1;
        if (con.col > 0) con.col--;
        break;
    default:
        break; /* BEL and the other C0 controls draw nothing */
    }
}

static void console_byte(uint8_t b) {
    if (escape_byte(b))
        return;
    if (b < 0x80) {
        if (con.utf8_left) { con.utf8_left = 0; put_codepoint(0xfffd); }
        if (b < 0x20 || b == 0x7f) control_char(b);
        else put_codepoint(b);
        return;
    }
    if ((b & 0xc0) == 0x80) { /* continuation */
        if (!con.utf8_left) { put_codepoint(0xfffd); return; }
        con.utf8_cp = (con.utf8_cp << 6) | (b & 0x3f);
        if (--con.utf8_left == 0) put_codepoint(con.utf8_cp);
        return;
    }
    if (con.utf8_left) put_codepoint(0xfffd);
    if ((b & 0xe0) == 0xc0) { con.utf8_cp = b & 0x1f; con.utf8_left = 1; }
    else if ((b & 0xf0) == 0xe0) { con.utf8_cp = b & 0x0f; con.utf8_left = 2; }
    else if ((b & 0xf8) == 0xf0) { con.utf8_cp = b & 0x07; con.utf8_left = 3; }
    else { con.utf8_left = 0; put_codepoint(0xfffd); }
}

void fbcon_write(const char *s, size_t len) {
    if (!con.active || !s || !len)
        return;
    uint64_t flags;
    if (!lock_acquire(&flags))
        return;
    for (size_t i = 0; i < len; i++)
        console_byte((uint8_t)s[i]);
    flush();
    lock_release(flags);
}

static struct console fbcon_console = { .name = "fb", .write = fbcon_write };

/* Replays the boot log printed before the framebuffer existed, so the screen shows it too. */
static void replay_boot_log(void) {
    static char early_log[8192];
    size_t n = klog_read(early_log, sizeof early_log);
    fbcon_write(early_log, n);
}

bool fbcon_init(const struct boot_framebuffer *fb) {
    if (!fb || fb->format == FB_NONE || fb->base == 0) {
        printk(LOG_INFO, "fbcon: no framebuffer, serial console only\n");
        return false;
    }
    if (fb->format != FB_RGBX && fb->format != FB_BGRX) {
        printk(LOG_INFO, "fbcon: unsupported pixel format %u, serial console only\n", fb->format);
        return false;
    }
    if (fb->width == 0 || fb->height == 0 || fb->pixels_per_line < fb->width) {
        printk(LOG_INFO, "fbcon: bad framebuffer geometry %ux%u (%u per line), serial console only\n",
               fb->width, fb->height, fb->pixels_per_line);
        return false;
    }
    struct psf_font font;
    int rc = psf_parse(_binary_font_psf_start, (size_t)(_binary_font_psf_end - _binary_font_psf_start), &font);
    if (rc < 0) {
        printk(LOG_ERR, "fbcon: built-in font rejected (%d), serial console only\n", rc);
        return false;
    }
    /* Never touch memory past what the firmware reported as the framebuffer. */
    uint64_t line_bytes = (uint64_t)fb->pixels_per_line * 4;
    uint32_t height = fb->height;
    if (fb->size && line_bytes * height > fb->size)
        height = (uint32_t)(fb->size / line_bytes);
    int cols = (int)MIN(fb->width / font.width, (uint32_t)FBCON_MAX_COLS);
    int rows = (int)MIN(height / font.height, (uint32_t)FBCON_MAX_ROWS);
    if (cols < 1 || rows < 1) {
        printk(LOG_INFO, "fbcon: framebuffer too small for the font, serial console only\n");
        return false;
    }
    size_t map_size = (size_t)(line_bytes * height);
    volatile uint32_t *pixels = vmm_map_wc(fb->base, map_size);
    if (!pixels) {
        printk(LOG_ERR, "fbcon: cannot map the framebuffer at %#lx, serial console only\n",
               (unsigned long)fb->base);
        return false;
    }

    con.pixels = pixels;
    con.pitch = fb->pixels_per_line;
    con.width = fb->width;
    con.height = height;
    con.format = fb->format;
    con.font = font;
    con.cols = cols;
    con.rows = rows;
    con.col = con.row = 0;
    con.fg = COLOUR_LIGHT_GREY;
    con.bg = COLOUR_BLACK;
    con.bold = false;
    con.esc = ESC_NONE;
    con.utf8_left = 0;
    con.scroll_step = rows >= 8 ? rows / 8 : 1;
    con.shown_cursor_row = -1;
    for (int i = 0; i < 16; i++)
        con.palette[i] = rgb_to_pixel(vga_palette_rgb[i]);

    /* Black screen; the shown buffer then says "blank" everywhere, which is what it is. */
    memset((void *)pixels, 0, map_size);
    uint32_t blank = blank_cell();
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            text_cells[r * FBCON_MAX_COLS + c] = blank;
            shown_cells[r * FBCON_MAX_COLS + c] = blank;
        }
        row_dirty[r] = false;
    }
    con.active = true;
    replay_boot_log();
    console_register(&fbcon_console);
    printk(LOG_INFO, "fbcon: %ux%u framebuffer (%s), %dx%d text with a %ux%u PSF%u font\n",
           fb->width, fb->height, fb->format == FB_RGBX ? "RGBX" : "BGRX", cols, rows,
           font.width, font.height, font.version);
    return true;
}

void fbcon_size(int *cols, int *rows) {
    if (cols) *cols = con.active ? con.cols : 0;
    if (rows) *rows = con.active ? con.rows : 0;
}

void fbcon_get_info(struct fbcon_info *out) {
    memset(out, 0, sizeof(*out));
    if (!con.active)
        return;
    uint64_t flags;
    if (!lock_acquire(&flags))
        return;
    out->active = true;
    out->cols = con.cols;
    out->rows = con.rows;
    out->cursor_col = con.col;
    out->cursor_row = con.row;
    out->cell_width = con.font.width;
    out->cell_height = con.font.height;
    out->pixels = con.pixels;
    out->pixels_per_line = con.pitch;
    out->width = con.width;
    out->height = con.height;
    out->format = con.format;
    out->default_fg_pixel = con.palette[COLOUR_LIGHT_GREY];
    out->default_bg_pixel = con.palette[COLOUR_BLACK];
    out->font = &con.font;
    out->scrolls = con.scrolls;
    lock_release(flags);
}

uint32_t fbcon_char_at(int col, int row) {
    if (!con.active || col < 0 || row < 0 || col >= con.cols || row >= con.rows)
        return 0;
    return text_cells[row * FBCON_MAX_COLS + col] & CELL_CP_MASK;
}
