/* edit.c: tsh's line editor and history.
 *
 * The terminal is put in raw mode with termios (POSIX.1-2017 XBD 11.2: ICANON, ECHO, ISIG
 * and IEXTEN off, VMIN 1 / VTIME 0; output processing stays on) only while a line is being
 * read, and put back before the line runs. Keys are decoded as ECMA-48 control sequences
 * (CSI "ESC [", SS3 "ESC O") with the VT100/xterm key codes; the echo uses BS, CUF/CUB
 * (ESC[nC, ESC[nD) and EL (ESC[K), which both the serial terminal and SABOS's framebuffer
 * console understand. The line is redrawn relative to the cursor; a line wider than the
 * terminal is not handled specially.
 *
 * Input is read one byte per read(2), so bytes typed after Enter stay in the terminal for
 * the command that runs next. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tsh.h"

/* ---- history ---- */

static char *hist[TSH_HISTORY];
static int hist_first, hist_count; /* ring buffer */
static unsigned long hist_total;   /* lines ever added, for numbering */

static const char *hist_at(int i) { return hist[(hist_first + i) % TSH_HISTORY]; }

void history_add(const char *line) {
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return;
    if (hist_count && strcmp(hist_at(hist_count - 1), line) == 0) return;
    char *copy = strdup(line);
    if (!copy) return;
    if (hist_count == TSH_HISTORY) {
        free(hist[hist_first]);
        hist[hist_first] = copy;
        hist_first = (hist_first + 1) % TSH_HISTORY;
    } else {
        hist[(hist_first + hist_count++) % TSH_HISTORY] = copy;
    }
    hist_total++;
}

void history_print(void) {
    unsigned long base = hist_total - (unsigned long)hist_count + 1;
    for (int i = 0; i < hist_count; i++) dprintf(1, "%5lu  %s\n", base + (unsigned long)i, hist_at(i));
}

/* ---- output buffer: one write per key ---- */

static char obuf[TSH_LINE_MAX * 2 + 64];
static size_t olen;

static void oflush(void) {
    size_t off = 0;
    while (off < olen) {
        ssize_t n = write(1, obuf + off, olen - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    olen = 0;
}

static void out(const char *s, size_t n) {
    while (n) {
        if (olen == sizeof obuf) oflush();
        size_t k = sizeof obuf - olen < n ? sizeof obuf - olen : n;
        memcpy(obuf + olen, s, k);
        olen += k;
        s += k;
        n -= k;
    }
}

static void outs(const char *s) { out(s, strlen(s)); }

static void move(size_t n, char dir) {
    if (!n) return;
    if (n == 1 && dir == 'D') {
        out("\b", 1);
        return;
    }
    char seq[32];
    int k = snprintf(seq, sizeof seq, "\033[%zu%c", n, dir);
    out(seq, (size_t)k);
}

/* ---- the line ---- */

struct line {
    char *buf;
    size_t len, cursor, cap; /* cap: most bytes the line may hold */
    bool overflow;
};

/* Redraws from the cursor to the end after a change, and erases what was beyond. */
static void refresh_tail(struct line *l) {
    out(l->buf + l->cursor, l->len - l->cursor);
    outs("\033[K");
    move(l->len - l->cursor, 'D');
}

static void set_text(struct line *l, const char *text) {
    size_t n = strlen(text);
    if (n > l->cap) n = l->cap;
    move(l->cursor, 'D');
    memcpy(l->buf, text, n);
    l->len = l->cursor = n;
    out(l->buf, n);
    outs("\033[K");
}

static void insert(struct line *l, char c) {
    if (l->len >= l->cap) {
        l->overflow = true;
        out("\a", 1);
        return;
    }
    memmove(l->buf + l->cursor + 1, l->buf + l->cursor, l->len - l->cursor);
    l->buf[l->cursor] = c;
    l->len++;
    out(&c, 1);
    l->cursor++;
    if (l->cursor < l->len) {
        out(l->buf + l->cursor, l->len - l->cursor);
        move(l->len - l->cursor, 'D');
    }
}

/* Deletes buf[from..to) and leaves the cursor at from. */
static void delete_range(struct line *l, size_t from, size_t to) {
    if (to <= from) return;
    move(l->cursor - from, 'D');
    memmove(l->buf + from, l->buf + to, l->len - to);
    l->len -= to - from;
    l->cursor = from;
    refresh_tail(l);
}

static void go_to(struct line *l, size_t pos) {
    if (pos < l->cursor) move(l->cursor - pos, 'D');
    else move(pos - l->cursor, 'C');
    l->cursor = pos;
}

static size_t word_left(const struct line *l) {
    size_t p = l->cursor;
    while (p > 0 && l->buf[p - 1] == ' ') p--;
    while (p > 0 && l->buf[p - 1] != ' ') p--;
    return p;
}

static size_t word_right(const struct line *l) {
    size_t p = l->cursor;
    while (p < l->len && l->buf[p] == ' ') p++;
    while (p < l->len && l->buf[p] != ' ') p++;
    return p;
}

/* ---- input ---- */

static int read_byte(void) {
    unsigned char c;
    for (int tries = 0; tries < 1000; tries++) {
        ssize_t n = read(0, &c, 1);
        if (n == 1) return c;
        if (n < 0 && errno == EINTR) continue;
        return -1; /* end of input or an error */
    }
    return -1;
}

enum key {
    K_NONE = 0x100,
    K_UP, K_DOWN, K_LEFT, K_RIGHT, K_HOME, K_END, K_DEL, K_WLEFT, K_WRIGHT,
};

/* Decodes the rest of an escape sequence after ESC. */
static int read_escape(void) {
    int c = read_byte();
    if (c < 0) return -1;
    if (c == 'b') return K_WLEFT;
    if (c == 'f') return K_WRIGHT;
    if (c == 'O') {
        c = read_byte();
        switch (c) {
        case 'A': return K_UP;
        case 'B': return K_DOWN;
        case 'C': return K_RIGHT;
        case 'D': return K_LEFT;
        case 'H': return K_HOME;
        case 'F': return K_END;
        default: return c < 0 ? -1 : K_NONE;
        }
    }
    if (c != '[') return K_NONE;
    int param = 0;
    for (int n = 0; n < 16; n++) { /* parameter bytes, then the final byte */
        c = read_byte();
        if (c < 0) return -1;
        if (c >= '0' && c <= '9') {
            if (param < 1000) param = param * 10 + (c - '0');
            continue;
        }
        if (c >= 0x20 && c <= 0x3f) continue; /* ';' and other parameter/intermediate bytes */
        switch (c) {
        case 'A': return K_UP;
        case 'B': return K_DOWN;
        case 'C': return K_RIGHT;
        case 'D': return K_LEFT;
        case 'H': return K_HOME;
        case 'F': return K_END;
        case '~':
            if (param == 1 || param == 7) return K_HOME;
            if (param == 4 || param == 8) return K_END;
            if (param == 3) return K_DEL;
            return K_NONE;
        default: return K_NONE;
        }
    }
    return K_NONE;
}

/* Reads a line without editing (the terminal's own canonical mode, or no terminal). */
static enum edit_result read_plain(char *buf, size_t cap) {
    size_t len = 0;
    bool overflow = false;
    for (;;) {
        int c = read_byte();
        if (c < 0) {
            if (len == 0) return EDIT_EOF;
            break;
        }
        if (c == '\n') break;
        if (len + 1 < cap) buf[len++] = (char)c;
        else overflow = true;
    }
    buf[len] = 0;
    return overflow ? EDIT_TOOLONG : EDIT_LINE;
}

static void history_move(struct line *l, int *pos, int dir, char **saved) {
    int to = *pos + dir;
    if (to < 0 || to > hist_count) {
        out("\a", 1);
        return;
    }
    if (*pos == hist_count) { /* leaving the line being typed: keep it */
        free(*saved);
        *saved = strndup(l->buf, l->len);
    }
    *pos = to;
    if (to == hist_count) set_text(l, *saved ? *saved : "");
    else set_text(l, hist_at(to));
}

enum edit_result edit_readline(const char *prompt, char *buf, size_t cap) {
    struct termios orig, raw;
    /* Raw mode first, then the prompt: keys typed as soon as the prompt shows must not meet
     * the terminal's own echo and line editing. */
    bool is_raw = tcgetattr(0, &orig) == 0;
    if (is_raw) {
        raw = orig;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
        raw.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        is_raw = tcsetattr(0, TCSANOW, &raw) == 0;
    }
    outs(prompt);
    oflush();
    if (!is_raw) return read_plain(buf, cap);

    struct line l = {.buf = buf, .cap = cap - 1};
    int hpos = hist_count;
    char *saved = NULL;
    enum edit_result result = EDIT_LINE;
    for (bool done = false; !done;) {
        int c = read_byte();
        if (c == 0x1b) c = read_escape();
        switch (c) {
        case -1:                     /* end of input: like ^D on an empty line */
            result = l.len ? EDIT_LINE : EDIT_EOF;
            done = true;
            break;
        case '\r':
        case '\n':
            go_to(&l, l.len);
            outs("\r\n");
            result = l.overflow ? EDIT_TOOLONG : EDIT_LINE;
            done = true;
            break;
        case 0x03: /* ^C */
            go_to(&l, l.len);
            outs("^C\r\n");
            result = EDIT_INTR;
            done = true;
            break;
        case 0x04: /* ^D */
            if (l.len == 0) {
                result = EDIT_EOF;
                done = true;
            } else {
                delete_range(&l, l.cursor, l.cursor < l.len ? l.cursor + 1 : l.cursor);
            }
            break;
        case K_DEL: delete_range(&l, l.cursor, l.cursor < l.len ? l.cursor + 1 : l.cursor); break;
        case 0x08:
        case 0x7f:
            if (l.cursor > 0) delete_range(&l, l.cursor - 1, l.cursor);
            break;
        case 0x01: case K_HOME: go_to(&l, 0); break;
        case 0x05: case K_END: go_to(&l, l.len); break;
        case 0x02: case K_LEFT: if (l.cursor > 0) go_to(&l, l.cursor - 1); break;
        case 0x06: case K_RIGHT: if (l.cursor < l.len) go_to(&l, l.cursor + 1); break;
        case K_WLEFT: go_to(&l, word_left(&l)); break;
        case K_WRIGHT: go_to(&l, word_right(&l)); break;
        case 0x0b: delete_range(&l, l.cursor, l.len); l.overflow = false; break; /* ^K */
        case 0x15: delete_range(&l, 0, l.cursor); l.overflow = false; break;     /* ^U */
        case 0x17: delete_range(&l, word_left(&l), l.cursor); break;            /* ^W */
        case 0x0c: /* ^L: clear the screen and redraw */
            outs("\033[H\033[2J");
            outs(prompt);
            out(l.buf, l.len);
            move(l.len - l.cursor, 'D');
            break;
        case 0x10: case K_UP: history_move(&l, &hpos, -1, &saved); break;
        case 0x0e: case K_DOWN: history_move(&l, &hpos, 1, &saved); break;
        default:
            if (c >= 0x20 && c <= 0xff && c != 0x7f) insert(&l, (char)c);
            else if (c != K_NONE) out("\a", 1); /* other control keys, Tab */
            break;
        }
        oflush();
    }
    free(saved);
    buf[l.len] = 0;
    tcsetattr(0, TCSANOW, &orig);
    return result;
}
