/* lineedit.c: the line editor behind the kernel shell (see lineedit.h). Pure: no hardware,
 * no allocation; host-tested (tests/host/test_lineedit.c).
 *
 * Input decoding follows ECMA-48 5th edition section 5.4 (control sequences: CSI, parameter
 * bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, final byte 0x40-0x7E) and the VT100/xterm
 * key conventions (cursor keys as CSI or SS3 "ESC O x", editing keys as "CSI n ~"). Echo uses
 * only VT100 output controls every terminal here understands: BS, CR-less cursor movement
 * CUF/CUB (ESC[nC, ESC[nD, ECMA-48 8.3.20/8.3.18), EL (ESC[K, 8.3.41) and BEL. The line is
 * redrawn relative to the cursor, so the prompt is never needed here. */
#include "lineedit.h"
#include "kstring.h"

enum esc_state {
    ESC_NONE = 0,
    ESC_SEEN,  /* got ESC */
    ESC_CSI,   /* got ESC [ */
    ESC_SS3,   /* got ESC O */
};

#define ESC_PARAM_CAP 9999
#define ESC_MAX_LEN 64 /* bytes after ESC [ before a sequence is abandoned */
#define BEL 0x07

/* ---- echo output ---- */

static void out_bytes(struct lineedit_echo *out, const char *s, size_t n) {
    size_t room = sizeof(out->bytes) - out->len;
    if (n > room) n = room; /* cannot happen with LINEEDIT_ECHO_MAX; never overflow anyway */
    memcpy(out->bytes + out->len, s, n);
    out->len += n;
}

static void out_char(struct lineedit_echo *out, char c) { out_bytes(out, &c, 1); }

/* ESC [ n <final>, for n >= 1 (VT100 reads a missing or zero count as 1, so n = 0 emits
 * nothing). */
static void out_move(struct lineedit_echo *out, size_t n, char final) {
    if (n == 0) return;
    if (n == 1 && final == 'D') {
        out_char(out, '\b');
        return;
    }
    char seq[16];
    size_t i = 0;
    char digits[8];
    size_t d = 0;
    while (n && d < sizeof digits) {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    }
    seq[i++] = 0x1b;
    seq[i++] = '[';
    while (d) seq[i++] = digits[--d];
    seq[i++] = final;
    out_bytes(out, seq, i);
}

static void out_erase_to_end(struct lineedit_echo *out) { out_bytes(out, "\x1b[K", 3); }

/* ---- line editing ---- */

/* Replaces the whole line with text (cursor at its end) and redraws it. */
static void set_line(struct lineedit *le, const char *text, struct lineedit_echo *out) {
    size_t n = strnlen(text, LINEEDIT_MAX);
    out_move(out, le->cursor, 'D');
    memcpy(le->buf, text, n);
    le->buf[n] = 0;
    le->len = le->cursor = n;
    out_bytes(out, le->buf, n);
    out_erase_to_end(out);
}

static void insert_char(struct lineedit *le, char c, struct lineedit_echo *out) {
    if (le->len >= LINEEDIT_MAX) {
        out_char(out, BEL);
        return;
    }
    memmove(le->buf + le->cursor + 1, le->buf + le->cursor, le->len - le->cursor);
    le->buf[le->cursor] = c;
    le->len++;
    le->buf[le->len] = 0;
    /* Write the new character and everything after it, then step back over the tail. */
    out_bytes(out, le->buf + le->cursor, le->len - le->cursor);
    le->cursor++;
    out_move(out, le->len - le->cursor, 'D');
}

/* Removes the character at index at (< len); the cursor is already at at on screen. */
static void remove_at_cursor(struct lineedit *le, struct lineedit_echo *out) {
    memmove(le->buf + le->cursor, le->buf + le->cursor + 1, le->len - le->cursor - 1);
    le->len--;
    le->buf[le->len] = 0;
    out_bytes(out, le->buf + le->cursor, le->len - le->cursor);
    out_erase_to_end(out);
    out_move(out, le->len - le->cursor, 'D');
}

static void backspace(struct lineedit *le, struct lineedit_echo *out) {
    if (le->cursor == 0) return;
    le->cursor--;
    out_char(out, '\b');
    remove_at_cursor(le, out);
}

static void delete_forward(struct lineedit *le, struct lineedit_echo *out) {
    if (le->cursor < le->len) remove_at_cursor(le, out);
}

static void cursor_to(struct lineedit *le, size_t pos, struct lineedit_echo *out) {
    if (pos < le->cursor) out_move(out, le->cursor - pos, 'D');
    else if (pos > le->cursor) out_move(out, pos - le->cursor, 'C');
    le->cursor = pos;
}

static void kill_to_end(struct lineedit *le, struct lineedit_echo *out) {
    le->len = le->cursor;
    le->buf[le->len] = 0;
    out_erase_to_end(out);
}

static void kill_line(struct lineedit *le, struct lineedit_echo *out) {
    cursor_to(le, 0, out);
    kill_to_end(le, out);
}

/* ---- history ---- */

const char *lineedit_history(const struct lineedit *le, int k) {
    if (k < 1 || k > le->hist_count) return NULL;
    return le->hist[(le->hist_first + le->hist_count - k) % LINEEDIT_HISTORY];
}

static bool blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ') return false;
    return true;
}

static void history_add(struct lineedit *le, const char *line) {
    if (blank(line)) return;
    const char *last = lineedit_history(le, 1);
    if (last && strcmp(last, line) == 0) return;
    int slot;
    if (le->hist_count < LINEEDIT_HISTORY) {
        slot = (le->hist_first + le->hist_count) % LINEEDIT_HISTORY;
        le->hist_count++;
    } else {
        slot = le->hist_first; /* overwrite the oldest */
        le->hist_first = (le->hist_first + 1) % LINEEDIT_HISTORY;
    }
    size_t n = strnlen(line, LINEEDIT_MAX);
    memcpy(le->hist[slot], line, n);
    le->hist[slot][n] = 0;
}

/* Shows history entry pos (0 = the new line kept in scratch). Edits to a recalled line are
 * not written back: moving away from it forgets them. */
static void history_show(struct lineedit *le, int pos, struct lineedit_echo *out) {
    if (pos < 0 || pos > le->hist_count) {
        out_char(out, BEL);
        return;
    }
    if (le->hist_pos == 0) memcpy(le->scratch, le->buf, le->len + 1);
    le->hist_pos = pos;
    set_line(le, pos == 0 ? le->scratch : lineedit_history(le, pos), out);
}

/* ---- lines ---- */

void lineedit_reset_line(struct lineedit *le) {
    le->len = le->cursor = 0;
    le->buf[0] = 0;
    le->hist_pos = 0;
    le->esc_state = ESC_NONE;
}

void lineedit_init(struct lineedit *le) {
    memset(le, 0, sizeof *le);
    lineedit_reset_line(le);
}

const char *lineedit_line(const struct lineedit *le) { return le->line; }

static int finish_line(struct lineedit *le, struct lineedit_echo *out) {
    memcpy(le->line, le->buf, le->len + 1);
    out_char(out, '\n');
    history_add(le, le->line);
    lineedit_reset_line(le);
    return LINEEDIT_LINE;
}

/* ---- keys ---- */

enum key {
    KEY_NONE_, KEY_LEFT_, KEY_RIGHT_, KEY_UP_, KEY_DOWN_, KEY_HOME_, KEY_END_, KEY_DELETE_,
};

static void do_key(struct lineedit *le, int key, struct lineedit_echo *out) {
    switch (key) {
    case KEY_LEFT_: if (le->cursor > 0) cursor_to(le, le->cursor - 1, out); break;
    case KEY_RIGHT_: if (le->cursor < le->len) cursor_to(le, le->cursor + 1, out); break;
    case KEY_HOME_: cursor_to(le, 0, out); break;
    case KEY_END_: cursor_to(le, le->len, out); break;
    case KEY_UP_: history_show(le, le->hist_pos + 1, out); break;
    case KEY_DOWN_: history_show(le, le->hist_pos - 1, out); break;
    case KEY_DELETE_: delete_forward(le, out); break;
    default: break;
    }
}

/* The key a finished CSI sequence stands for (final byte and first parameter). */
static int csi_key(uint8_t final, unsigned param, bool has_param) {
    switch (final) {
    case 'A': return KEY_UP_;
    case 'B': return KEY_DOWN_;
    case 'C': return KEY_RIGHT_;
    case 'D': return KEY_LEFT_;
    case 'H': return KEY_HOME_;
    case 'F': return KEY_END_;
    case '~':
        if (!has_param) return KEY_NONE_;
        if (param == 1 || param == 7) return KEY_HOME_;
        if (param == 4 || param == 8) return KEY_END_;
        if (param == 3) return KEY_DELETE_;
        return KEY_NONE_;
    default: return KEY_NONE_;
    }
}

/* Feeds a byte to the escape decoder. Returns true when the byte was consumed by it; false
 * when the caller must treat it as an ordinary byte (no sequence, or a control character
 * that aborted one). */
static bool escape_byte(struct lineedit *le, uint8_t b, struct lineedit_echo *out) {
    switch (le->esc_state) {
    case ESC_NONE:
        if (b != 0x1b) return false;
        le->esc_state = ESC_SEEN;
        return true;
    case ESC_SEEN:
        if (b == '[') {
            le->esc_state = ESC_CSI;
            le->esc_param = 0;
            le->esc_param_digits = 0;
            le->esc_len = 0;
            return true;
        }
        if (b == 'O') {
            le->esc_state = ESC_SS3;
            return true;
        }
        if (b == 0x1b) return true; /* ESC ESC: the second one starts over */
        le->esc_state = ESC_NONE;
        if (b < 0x20) return false; /* ESC then a control: the control acts */
        return true;                /* ESC + one byte (Alt-x etc.): swallowed */
    case ESC_SS3:
        le->esc_state = ESC_NONE;
        if (b < 0x20 && b != 0x1b) return false;
        if (b == 0x1b) {
            le->esc_state = ESC_SEEN;
            return true;
        }
        do_key(le, csi_key(b, 0, false), out);
        return true;
    case ESC_CSI:
        if (++le->esc_len > ESC_MAX_LEN) {
            le->esc_state = ESC_NONE; /* hostile or broken: abandoned */
            return true;
        }
        if (b >= '0' && b <= '9') {
            /* only the first parameter matters; later ones (modifiers) are ignored */
            if (le->esc_param_digits < 0xfe) {
                if (le->esc_param <= ESC_PARAM_CAP / 10) le->esc_param = (uint16_t)(le->esc_param * 10 + (b - '0'));
                if (le->esc_param_digits < 0xfe) le->esc_param_digits++;
            }
            return true;
        }
        if (b >= 0x20 && b <= 0x3f) {
            if (le->esc_param_digits == 0) le->esc_param_digits = 0xff; /* no first parameter */
            else if (le->esc_param_digits != 0xff) le->esc_param_digits = 0xfe; /* first ended */
            return true; /* ';', private markers, intermediates */
        }
        if (b >= 0x40 && b <= 0x7e) {
            bool has_param = le->esc_param_digits != 0 && le->esc_param_digits != 0xff;
            le->esc_state = ESC_NONE;
            do_key(le, csi_key(b, le->esc_param, has_param), out);
            return true;
        }
        if (b == 0x1b) {
            le->esc_state = ESC_SEEN;
            return true;
        }
        le->esc_state = ESC_NONE;
        return b >= 0x80; /* a control or DEL aborts the sequence and acts; 8-bit is dropped */
    }
    le->esc_state = ESC_NONE;
    return false;
}

int lineedit_feed(struct lineedit *le, uint8_t b, struct lineedit_echo *out) {
    out->len = 0;
    bool after_cr = le->after_cr;
    le->after_cr = b == '\r';
    if (escape_byte(le, b, out)) return LINEEDIT_NONE;
    switch (b) {
    case '\r':
        return finish_line(le, out);
    case '\n':
        if (after_cr) return LINEEDIT_NONE; /* the LF of a CR LF pair */
        return finish_line(le, out);
    case 0x08:
    case 0x7f: backspace(le, out); break;
    case 0x01: do_key(le, KEY_HOME_, out); break;  /* ^A */
    case 0x02: do_key(le, KEY_LEFT_, out); break;  /* ^B */
    case 0x03:                                      /* ^C */
        out_bytes(out, "^C\n", 3);
        lineedit_reset_line(le);
        return LINEEDIT_CANCEL;
    case 0x04: do_key(le, KEY_DELETE_, out); break; /* ^D */
    case 0x05: do_key(le, KEY_END_, out); break;    /* ^E */
    case 0x06: do_key(le, KEY_RIGHT_, out); break;  /* ^F */
    case 0x0b: kill_to_end(le, out); break;         /* ^K */
    case 0x0e: do_key(le, KEY_DOWN_, out); break;   /* ^N */
    case 0x10: do_key(le, KEY_UP_, out); break;     /* ^P */
    case 0x15: kill_line(le, out); break;           /* ^U */
    default:
        if (b >= 0x20 && b < 0x7f) insert_char(le, (char)b, out);
        break; /* other controls and 8-bit bytes: ignored */
    }
    return LINEEDIT_NONE;
}
