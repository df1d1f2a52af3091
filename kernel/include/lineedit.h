/* lineedit.h: a line editor for terminal input (kernel/core/lineedit.c), pure and host-tested.
 *
 * The caller feeds the bytes a terminal sends, one at a time; the editor keeps the line, the
 * cursor and a history, and answers with the bytes to echo (plain VT100: BS, ESC[K, ESC[nC,
 * ESC[nD, BEL) and, on Enter, a completed line. Keys understood (ECMA-48 / VT100 / xterm
 * input sequences):
 *   printable ASCII     inserted at the cursor (BEL when the line is full)
 *   BS (0x08), DEL 0x7f  delete before the cursor;  ESC[3~, ^D  delete at the cursor
 *   ESC[D ESC[C ESC OD ESC OC, ^B ^F   left / right
 *   ESC[H ESC[F ESC OH ESC OF ESC[1~ ESC[4~ ESC[7~ ESC[8~, ^A ^E   home / end
 *   ESC[A ESC[B ESC OA ESC OB, ^P ^N   history up / down
 *   ^U kill the whole line, ^K kill to the end, ^C cancel the line (echoes "^C")
 *   CR or LF ends the line (CR LF counts once)
 * Other escape sequences (CSI with parameters, SS3, ESC + one byte) are swallowed; other
 * control characters and bytes >= 0x80 are ignored. Any byte stream is safe.
 * The echo moves the cursor within one screen row: a line longer than the terminal is wide
 * still edits correctly, but its display is only right while it fits on one row. */
#pragma once
#include "types.h"

#define LINEEDIT_MAX 255        /* longest line in bytes (without the NUL) */
#define LINEEDIT_HISTORY 32     /* lines kept for up/down */
/* Most echo bytes one fed byte can produce (a full redraw plus cursor moves). */
#define LINEEDIT_ECHO_MAX (2 * LINEEDIT_MAX + 32)

enum lineedit_result {
    LINEEDIT_NONE = 0,   /* keep feeding */
    LINEEDIT_LINE = 1,   /* a line was entered: lineedit_line() holds it */
    LINEEDIT_CANCEL = 2, /* ^C: the line was dropped; show a new prompt */
};

struct lineedit_echo {
    size_t len;
    char bytes[LINEEDIT_ECHO_MAX];
};

struct lineedit {
    char buf[LINEEDIT_MAX + 1];    /* the line being edited, NUL-terminated */
    size_t len, cursor;            /* cursor: 0..len */
    char line[LINEEDIT_MAX + 1];   /* the last completed line */
    /* input decoding */
    uint8_t esc_state;             /* enum in lineedit.c */
    uint8_t esc_param_digits;      /* digits of the first CSI parameter seen */
    uint16_t esc_param;            /* first CSI parameter (capped) */
    uint16_t esc_len;              /* bytes of the current sequence (bounded) */
    bool after_cr;                 /* the previous byte was CR: an LF right after is dropped */
    /* history: a ring, hist[(hist_first + i) % LINEEDIT_HISTORY] is the i-th oldest */
    char hist[LINEEDIT_HISTORY][LINEEDIT_MAX + 1];
    int hist_count, hist_first;
    int hist_pos;                  /* 0 = the new line; k = the k-th most recent entry shown */
    char scratch[LINEEDIT_MAX + 1];/* the new line, kept while browsing the history */
};

/* Empties the line and the history and resets the input decoder. */
void lineedit_init(struct lineedit *le);
/* Feeds one input byte. out->len is set to the number of echo bytes to write (0..
 * LINEEDIT_ECHO_MAX). Returns an enum lineedit_result. */
int lineedit_feed(struct lineedit *le, uint8_t byte, struct lineedit_echo *out);
/* The line completed by the last LINEEDIT_LINE result (NUL-terminated). */
const char *lineedit_line(const struct lineedit *le);
/* Starts a new empty line without touching the history (e.g. after output at the prompt). */
void lineedit_reset_line(struct lineedit *le);
/* History entry k (1 = most recent), or NULL when there is none. */
const char *lineedit_history(const struct lineedit *le, int k);
