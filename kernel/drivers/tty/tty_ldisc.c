/* tty_ldisc.c: the terminal line discipline (see tty.h), pure code: no locks, no allocation,
 * no hardware, so it is tested on the host (tests/host/test_tty_ldisc.c).
 *
 * Follows POSIX.1-2017 XBD ch. 11: 11.1.5 input processing and reading data (canonical mode
 * 11.1.6: lines ended by NL, EOL, EOF; editing with ERASE and KILL; non-canonical mode 11.1.7:
 * MIN and TIME), 11.1.9 special characters, 11.2.2 input modes (ISTRIP, IGNCR, ICRNL, INLCR),
 * 11.2.3 output modes (OPOST, ONLCR, OCRNL, ONOCR, ONLRET), 11.2.5 local modes (ECHO, ECHOE,
 * ECHOK, ECHONL, ICANON, ISIG, IEXTEN, NOFLSH), with the Linux extensions whose values and
 * behaviour are those of Linux's termios(3): ECHOCTL (control characters echoed as ^X),
 * ECHOKE (KILL erases the line visually), VWERASE, VREPRINT, VLNEXT, VEOL2, IUTF8 (ERASE
 * removes a whole UTF-8 character).
 *
 * The input buffer is one ring of TTY_INPUT_SIZE bytes with free-running positions rd <=
 * canon <= wr: [rd, canon) is readable, [canon, wr) the line being edited. Two bitmaps mark
 * the slots that end a canonical line and the end-of-file marks (VEOF is stored as a mark so
 * that "EOF at the start of a line" reads as 0 bytes; it is never delivered as data). */
#include "tty.h"
#include "kstring.h"
#include "kerrno.h"
#include "wait.h"

#ifndef SIGINT
#define SIGINT 2
#endif
#ifndef SIGQUIT
#define SIGQUIT 3
#endif
#ifndef SIGTSTP
#define SIGTSTP 20
#endif

#define RING_MASK (TTY_INPUT_SIZE - 1u)
_Static_assert((TTY_INPUT_SIZE & RING_MASK) == 0, "TTY_INPUT_SIZE must be a power of two");
_Static_assert(sizeof(struct ktermios) == 36, "struct termios of the Linux ABI is 36 bytes");
_Static_assert(sizeof(struct kwinsize) == 8, "struct winsize is 8 bytes");

#define NS_PER_TENTH 100000000ull

static inline uint32_t slot(uint32_t pos) { return pos & RING_MASK; }
static inline bool bit_get(const uint8_t *map, uint32_t pos) {
    uint32_t s = slot(pos);
    return (map[s >> 3] >> (s & 7)) & 1;
}
static inline void bit_put(uint8_t *map, uint32_t pos, bool v) {
    uint32_t s = slot(pos);
    if (v) map[s >> 3] |= (uint8_t)(1u << (s & 7));
    else map[s >> 3] &= (uint8_t)~(1u << (s & 7));
}

void tty_termios_default(struct ktermios *t) {
    static const uint8_t cc[TTY_NCCS] = {
        [VINTR] = 0x03, [VQUIT] = 0x1c, [VERASE] = 0x7f, [VKILL] = 0x15, [VEOF] = 0x04,
        [VTIME] = 0,    [VMIN] = 1,     [VSTART] = 0x11, [VSTOP] = 0x13, [VSUSP] = 0x1a,
        [VREPRINT] = 0x12, [VDISCARD] = 0x0f, [VWERASE] = 0x17, [VLNEXT] = 0x16,
    };
    memset(t, 0, sizeof(*t));
    t->c_iflag = ICRNL;
    t->c_oflag = OPOST | ONLCR;
    t->c_cflag = B38400 | CS8 | CREAD | HUPCL;
    t->c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
    memcpy(t->c_cc, cc, sizeof cc);
}

void tty_ldisc_init(struct tty_ldisc *l, tty_out_fn out, tty_sig_fn sig, void *ctx) {
    memset(l, 0, sizeof(*l));
    tty_termios_default(&l->tio);
    l->out = out;
    l->sig = sig;
    l->ctx = ctx;
}

/* ---- output ---- */

void tty_ldisc_flush_output(struct tty_ldisc *l) {
    if (l->olen && l->out) l->out(l->ctx, l->obuf, l->olen);
    l->olen = 0;
}

static void out_raw(struct tty_ldisc *l, char c) {
    if (l->olen == sizeof l->obuf) tty_ldisc_flush_output(l);
    l->obuf[l->olen++] = c;
}

static bool is_ctl(uint8_t c) { return c < 0x20 || c == 0x7f; }
static bool is_cont(const struct tty_ldisc *l, uint8_t c) { return (l->tio.c_iflag & IUTF8) && (c & 0xc0) == 0x80; }

/* One byte through output processing (OPOST), keeping the column. */
static void out_char(struct tty_ldisc *l, uint8_t c) {
    uint32_t of = l->tio.c_oflag;
    bool post = of & OPOST;
    switch (c) {
    case '\n':
        if (post && (of & ONLCR)) {
            /* "\r\n" never straddles two out() calls (the console sink relies on it) */
            if (l->olen + 2 > sizeof l->obuf) tty_ldisc_flush_output(l);
            out_raw(l, '\r');
            l->col = 0;
            break;
        }
        if (post && (of & ONLRET)) l->col = 0;
        break;
    case '\r':
        if (post && (of & ONOCR) && l->col == 0) return;
        if (post && (of & OCRNL)) {
            c = '\n';
            if (of & ONLRET) l->col = 0;
            break;
        }
        l->col = 0;
        break;
    case '\t': l->col = (l->col | 7u) + 1; break;
    case '\b':
        if (l->col) l->col--;
        break;
    default:
        if (!is_ctl(c) && !is_cont(l, c)) l->col++;
        break;
    }
    out_raw(l, (char)c);
}

size_t tty_ldisc_write(struct tty_ldisc *l, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) out_char(l, s[i]);
    tty_ldisc_flush_output(l);
    return n;
}

/* ---- echo ---- */

/* Echoes an input byte; with ECHOCTL a control character other than TAB and NL shows as ^X
 * (DEL as ^?). */
static void echo_char(struct tty_ldisc *l, uint8_t c) {
    if ((l->tio.c_lflag & ECHOCTL) && is_ctl(c) && c != '\t' && c != '\n') {
        out_char(l, '^');
        out_char(l, c ^ 0x40);
    } else {
        out_char(l, c);
    }
}

/* The column after echoing c at column col. */
static uint32_t echo_col(const struct tty_ldisc *l, uint8_t c, uint32_t col) {
    if (c == '\t') return (col | 7u) + 1;
    if (is_ctl(c)) return (l->tio.c_lflag & ECHOCTL) ? col + 2 : col;
    return is_cont(l, c) ? col : col + 1;
}

/* Erases on the screen the echo of c, which was just removed from the end of the edit line. */
static void erase_echo(struct tty_ldisc *l, uint8_t c) {
    if (c == '\t') {
        /* the tab started where the echo of the rest of the line ends */
        uint32_t col = l->line_col;
        for (uint32_t p = l->canon; p != l->wr; p++) col = echo_col(l, l->buf[slot(p)], col);
        uint32_t n = l->col > col ? l->col - col : 0;
        for (n = MIN(n, 8u); n; n--) out_char(l, '\b');
        return;
    }
    int cells = is_ctl(c) ? ((l->tio.c_lflag & ECHOCTL) ? 2 : 0) : 1;
    for (; cells > 0; cells--) {
        out_char(l, '\b');
        out_char(l, ' ');
        out_char(l, '\b');
    }
}

/* ---- input ---- */

enum erase_kind { ERASE_CHAR, ERASE_WORD, ERASE_LINE };

/* Room for one more byte: the buffer is not full and, for data in canonical mode, the line
 * is shorter than TTY_LINE_MAX (a terminator always fits while the buffer has room). */
static bool room(const struct tty_ldisc *l, bool terminator) {
    if (l->wr - l->rd >= TTY_INPUT_SIZE) return false;
    if (!terminator && (l->tio.c_lflag & ICANON) && l->wr - l->canon >= TTY_LINE_MAX) return false;
    return true;
}

static void put(struct tty_ldisc *l, uint8_t c, bool delim, bool eof) {
    l->buf[slot(l->wr)] = c;
    bit_put(l->delim, l->wr, delim);
    bit_put(l->eofm, l->wr, eof);
    l->wr++;
    l->rx_bytes++;
}

static void drop(struct tty_ldisc *l) {
    l->dropped++;
    if (l->tio.c_lflag & ECHO) out_char(l, '\a');
}

/* An ordinary data byte. */
static void store_char(struct tty_ldisc *l, uint8_t c) {
    bool canon = l->tio.c_lflag & ICANON;
    if (!room(l, false)) {
        drop(l);
        return;
    }
    if (l->tio.c_lflag & ECHO) {
        if (canon && l->wr == l->canon) l->line_col = l->col;
        echo_char(l, c);
    }
    put(l, c, false, false);
    if (!canon) l->canon = l->wr;
}

/* Ends the edit line: with terminator c (delivered) or an end-of-file mark (eof). */
static void commit(struct tty_ldisc *l, uint8_t c, bool eof) {
    if (!room(l, true)) {
        drop(l);
        return;
    }
    uint32_t lf = l->tio.c_lflag;
    if (!eof) {
        if (c == '\n' && (lf & (ECHO | ECHONL))) out_char(l, '\n');
        else if (c != '\n' && (lf & ECHO)) echo_char(l, c);
    }
    put(l, c, true, eof);
    l->canon = l->wr;
}

/* VERASE, VWERASE, VKILL (POSIX 11.1.6; echo as Linux's n_tty). */
static void eraser(struct tty_ldisc *l, enum erase_kind kind, uint8_t typed) {
    uint32_t lf = l->tio.c_lflag;
    bool echo = lf & ECHO;
    if (l->wr == l->canon) return;
    if (kind == ERASE_LINE && !(echo && (lf & ECHOK) && (lf & ECHOKE) && (lf & ECHOE))) {
        l->wr = l->canon;
        if (echo) {
            echo_char(l, typed);
            if (lf & ECHOK) out_char(l, '\n');
        }
        return;
    }
    bool visual = echo && (kind != ERASE_CHAR || (lf & ECHOE));
    if (echo && !visual) echo_char(l, typed);
    bool seen_word = false;
    while (l->wr != l->canon) {
        uint32_t start = l->wr - 1;
        while (start != l->canon && is_cont(l, l->buf[slot(start)])) start--;
        uint8_t c = l->buf[slot(start)];
        if (kind == ERASE_WORD) {
            bool blank = c == ' ' || c == '\t';
            if (blank && seen_word) break;
            if (!blank) seen_word = true;
        }
        l->wr = start;
        if (visual) erase_echo(l, c);
        if (kind == ERASE_CHAR) break;
    }
}

/* VREPRINT: ^R, a new line, the edit line again. */
static void reprint(struct tty_ldisc *l, uint8_t typed) {
    echo_char(l, typed);
    out_char(l, '\n');
    l->line_col = l->col;
    for (uint32_t p = l->canon; p != l->wr; p++) echo_char(l, l->buf[slot(p)]);
}

void tty_ldisc_flush_input(struct tty_ldisc *l) {
    l->rd = l->canon = l->wr;
    l->lnext = false;
}

static void isig(struct tty_ldisc *l, uint8_t c, int sig) {
    if (!(l->tio.c_lflag & NOFLSH)) tty_ldisc_flush_input(l);
    if (l->tio.c_lflag & ECHO) echo_char(l, c);
    tty_ldisc_flush_output(l);
    if (l->sig) l->sig(l->ctx, sig);
}

/* DEL and BS both erase when VERASE is one of them (terminals send either for Backspace). */
static bool is_erase(const uint8_t *cc, uint8_t c) {
    if (c == cc[VERASE]) return true;
    return (c == 0x7f || c == 0x08) && (cc[VERASE] == 0x7f || cc[VERASE] == 0x08);
}

static void input_byte(struct tty_ldisc *l, uint8_t c) {
    const struct ktermios *t = &l->tio;
    const uint8_t *cc = t->c_cc;
    uint32_t lf = t->c_lflag;
    if (t->c_iflag & ISTRIP) c &= 0x7f;
    if (l->lnext) {
        l->lnext = false;
        store_char(l, c);
        return;
    }
    /* a c_cc entry of 0 is disabled (_POSIX_VDISABLE): NUL is never special */
    if ((lf & ISIG) && c) {
        int sig = c == cc[VINTR] ? SIGINT : c == cc[VQUIT] ? SIGQUIT : c == cc[VSUSP] ? SIGTSTP : 0;
        if (sig) {
            isig(l, c, sig);
            return;
        }
    }
    if (c == '\r') {
        if (t->c_iflag & IGNCR) return;
        if (t->c_iflag & ICRNL) c = '\n';
    } else if (c == '\n' && (t->c_iflag & INLCR)) {
        c = '\r';
    }
    if ((lf & ICANON) && c) {
        bool ext = lf & IEXTEN;
        if (is_erase(cc, c)) {
            eraser(l, ERASE_CHAR, c);
        } else if (c == cc[VKILL]) {
            eraser(l, ERASE_LINE, c);
        } else if (ext && c == cc[VWERASE]) {
            eraser(l, ERASE_WORD, c);
        } else if (ext && c == cc[VLNEXT]) {
            l->lnext = true;
            if ((lf & ECHO) && (lf & ECHOCTL)) {
                out_char(l, '^');
                out_char(l, '\b');
            }
        } else if (ext && c == cc[VREPRINT] && (lf & ECHO)) {
            reprint(l, c);
        } else if (c == cc[VEOF]) {
            commit(l, c, true);
        } else if (c == '\n' || c == cc[VEOL] || (ext && c == cc[VEOL2])) {
            commit(l, c, false);
        } else {
            store_char(l, c);
        }
        return;
    }
    store_char(l, c);
}

void tty_ldisc_input(struct tty_ldisc *l, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) input_byte(l, s[i]);
    tty_ldisc_flush_output(l);
}

/* ---- reading ---- */

int64_t tty_ldisc_read(struct tty_ldisc *l, uint8_t *dst, size_t len) {
    bool canon = l->tio.c_lflag & ICANON;
    if (canon && l->rd == l->canon) return -KEAGAIN;
    size_t n = 0;
    while (l->rd != l->canon && n < len) {
        uint32_t p = l->rd++;
        if (bit_get(l->eofm, p)) {
            if (canon) return (int64_t)n; /* the mark ends the line; alone it reads as EOF */
            continue;                     /* a mark left from canonical mode is not data */
        }
        dst[n++] = l->buf[slot(p)];
        if (canon && bit_get(l->delim, p)) return (int64_t)n;
    }
    /* The read ended exactly before an end-of-file mark: the mark only ended this line, so
     * it goes too (else the next read would see a spurious end of file). */
    if (canon && n > 0 && l->rd != l->canon && bit_get(l->eofm, l->rd)) l->rd++;
    return (int64_t)n;
}

uint32_t tty_ldisc_avail(const struct tty_ldisc *l) { return l->canon - l->rd; }

uint32_t tty_ldisc_input_room(const struct tty_ldisc *l) { return TTY_INPUT_SIZE - (l->wr - l->rd); }

bool tty_ldisc_poll_ready(const struct tty_ldisc *l) {
    uint32_t avail = l->canon - l->rd;
    if (l->tio.c_lflag & ICANON) return avail > 0;
    uint32_t vmin = l->tio.c_cc[VMIN], vtime = l->tio.c_cc[VTIME];
    return avail >= ((vmin && !vtime) ? vmin : 1u);
}

void tty_ldisc_set_termios(struct tty_ldisc *l, const struct ktermios *t) {
    bool was_canon = l->tio.c_lflag & ICANON;
    l->tio = *t;
    if (!(t->c_lflag & ICANON)) {
        if (was_canon) l->canon = l->wr; /* the edit line becomes readable */
        l->lnext = false;
    }
}

void tty_raw_plan(const struct ktermios *t, size_t len, struct tty_raw_plan *p) {
    uint32_t vmin = t->c_cc[VMIN], vtime = t->c_cc[VTIME];
    p->inter_ns = 0;
    if (vmin == 0) {
        /* case C (TIME > 0): one byte or the timer; case D: what is there, at once */
        p->want = vtime ? 1 : 0;
        p->first_ns = vtime * NS_PER_TENTH;
    } else {
        /* case A (TIME > 0: inter-byte timer after the first byte); case B: MIN bytes */
        p->want = MIN((size_t)vmin, len);
        p->first_ns = WAIT_FOREVER;
        p->inter_ns = vtime * NS_PER_TENTH;
    }
    if (len == 0) p->want = 0;
}
