/* test_lineedit.c: host tests for the shell's line editor (kernel/core/lineedit.c).
 * Every echo byte the editor produces goes through a small VT100 model of one terminal line
 * (printable, BS, BEL, LF, ESC[nC, ESC[nD, ESC[K), and after every byte the modelled screen
 * must show exactly the editor's line with the cursor in the same place: so the tests check
 * both what the line holds and what the user sees. */
#define _GNU_SOURCE
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/core/lineedit.c"

#define SCREEN_W 4096

struct screen {
    char cells[SCREEN_W];
    size_t col;
    int bells, newlines;
    /* escape parsing of the echo */
    int esc;          /* 0 none, 1 ESC, 2 CSI */
    unsigned param;
    bool bad;         /* the editor emitted something the model does not know */
};

static void screen_clear_line(struct screen *s) {
    memset(s->cells, ' ', sizeof s->cells);
    s->col = 0;
}

static void screen_init(struct screen *s) {
    memset(s, 0, sizeof *s);
    screen_clear_line(s);
}

static void screen_byte(struct screen *s, uint8_t b) {
    if (s->esc == 1) {
        if (b == '[') { s->esc = 2; s->param = 0; }
        else { s->bad = true; s->esc = 0; }
        return;
    }
    if (s->esc == 2) {
        if (b >= '0' && b <= '9') { s->param = s->param * 10 + (b - '0'); return; }
        s->esc = 0;
        unsigned n = s->param ? s->param : 1;
        if (b == 'C') s->col += n;
        else if (b == 'D') s->col = n > s->col ? 0 : s->col - n;
        else if (b == 'K') {
            if (s->param != 0) s->bad = true;
            memset(s->cells + s->col, ' ', SCREEN_W - s->col);
        } else s->bad = true;
        if (s->col >= SCREEN_W) s->bad = true;
        return;
    }
    if (b == 0x1b) { s->esc = 1; return; }
    if (b == '\b') { if (s->col) s->col--; return; }
    if (b == 0x07) { s->bells++; return; }
    if (b == '\n') { s->newlines++; screen_clear_line(s); return; }
    if (b >= 0x20 && b < 0x7f) {
        if (s->col >= SCREEN_W - 1) { s->bad = true; return; }
        s->cells[s->col++] = (char)b;
        return;
    }
    s->bad = true;
}

struct rig {
    struct lineedit le;
    struct lineedit_echo out;
    struct screen scr;
    int lines, cancels;
    char last_line[LINEEDIT_MAX + 1];
};

static struct rig *rig_new(void) {
    struct rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    lineedit_init(&r->le);
    screen_init(&r->scr);
    return r;
}

/* The screen shows buf[0..len) followed by blanks, and the cursor is at le.cursor. */
static void check_screen(struct rig *r) {
    assert_false(r->scr.bad);
    assert_int_equal(r->scr.esc, 0);
    assert_memory_equal(r->scr.cells, r->le.buf, r->le.len);
    for (size_t i = r->le.len; i < r->le.len + 8 && i < SCREEN_W; i++)
        assert_int_equal(r->scr.cells[i], ' ');
    assert_int_equal(r->scr.col, r->le.cursor);
}

/* Feeds one byte, replays the echo on the screen model, checks the invariants. */
static int feed(struct rig *r, uint8_t b) {
    int res = lineedit_feed(&r->le, b, &r->out);
    assert_true(r->out.len <= LINEEDIT_ECHO_MAX);
    assert_true(r->le.len <= LINEEDIT_MAX);
    assert_true(r->le.cursor <= r->le.len);
    assert_int_equal(strlen(r->le.buf), r->le.len);
    for (size_t i = 0; i < r->out.len; i++) screen_byte(&r->scr, (uint8_t)r->out.bytes[i]);
    if (res == LINEEDIT_LINE) {
        r->lines++;
        assert_true(strlen(lineedit_line(&r->le)) <= LINEEDIT_MAX);
        strcpy(r->last_line, lineedit_line(&r->le));
    } else if (res == LINEEDIT_CANCEL) {
        r->cancels++;
    }
    if (r->scr.esc == 0) check_screen(r);
    return res;
}

static void feed_str(struct rig *r, const char *s) {
    while (*s) feed(r, (uint8_t)*s++);
}

#define LEFT "\x1b[D"
#define RIGHT "\x1b[C"
#define UP "\x1b[A"
#define DOWN "\x1b[B"

static void typing_and_enter(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "hello");
    assert_string_equal(r->le.buf, "hello");
    assert_int_equal(feed(r, '\r'), LINEEDIT_LINE);
    assert_string_equal(r->last_line, "hello");
    assert_int_equal(r->le.len, 0);
    assert_int_equal(r->scr.newlines, 1);
    free(r);
}

static void insert_in_the_middle(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "helo" LEFT "l");
    assert_string_equal(r->le.buf, "hello");
    assert_int_equal(r->le.cursor, 4);
    feed_str(r, LEFT LEFT LEFT LEFT "X");
    assert_string_equal(r->le.buf, "Xhello");
    assert_int_equal(r->le.cursor, 1);
    feed_str(r, RIGHT RIGHT "-");
    assert_string_equal(r->le.buf, "Xhe-llo");
    feed(r, '\n');
    assert_string_equal(r->last_line, "Xhe-llo");
    free(r);
}

/* The integration test's scenario: "lspxi", Left, Backspace, "c", Enter gives "lspci". */
static void fix_a_typo_with_left_and_backspace(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "lspxi" LEFT "\x7f" "c\r");
    assert_string_equal(r->last_line, "lspci");
    feed_str(r, "lspxi" LEFT "\b" "c\r");
    assert_string_equal(r->last_line, "lspci");
    free(r);
}

static void ss3_and_modified_cursor_keys(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "ac\x1bOD" "b"); /* SS3 left */
    assert_string_equal(r->le.buf, "abc");
    feed_str(r, "\x1bOC" "d"); /* SS3 right */
    assert_string_equal(r->le.buf, "abcd");
    feed_str(r, "\x1b[1;5D" "\x1b[1;5D" "-"); /* ctrl-left counts as left */
    assert_string_equal(r->le.buf, "ab-cd");
    free(r);
}

static void home_and_end_in_every_spelling(void **state) {
    static const char *homes[] = {"\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~", "\x01"};
    static const char *ends[] = {"\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~", "\x05"};
    for (size_t i = 0; i < ARRAY_SIZE(homes); i++) {
        struct rig *r = rig_new();
        feed_str(r, "middle");
        feed_str(r, homes[i]);
        assert_int_equal(r->le.cursor, 0);
        feed(r, '<');
        feed_str(r, ends[i]);
        assert_int_equal(r->le.cursor, r->le.len);
        feed(r, '>');
        assert_string_equal(r->le.buf, "<middle>");
        free(r);
    }
}

static void backspace_and_delete(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "\b\x7f"); /* at the start: nothing happens */
    assert_int_equal(r->le.len, 0);
    feed_str(r, "abcdef" LEFT LEFT LEFT "\x1b[3~");
    assert_string_equal(r->le.buf, "abcef");
    assert_int_equal(r->le.cursor, 3);
    feed(r, 0x04); /* ^D deletes at the cursor too */
    assert_string_equal(r->le.buf, "abcf");
    feed_str(r, "\x7f\b");
    assert_string_equal(r->le.buf, "af");
    assert_int_equal(r->le.cursor, 1);
    feed_str(r, "\x1b[F\x1b[3~"); /* delete at the end: nothing */
    assert_string_equal(r->le.buf, "af");
    free(r);
}

static void kill_line_and_kill_to_end(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "some text" LEFT LEFT);
    feed(r, 0x15); /* ^U */
    assert_int_equal(r->le.len, 0);
    assert_int_equal(r->le.cursor, 0);
    feed_str(r, "keep this" LEFT LEFT LEFT LEFT LEFT);
    feed(r, 0x0b); /* ^K */
    assert_string_equal(r->le.buf, "keep");
    feed(r, '\r');
    assert_string_equal(r->last_line, "keep");
    free(r);
}

static void ctrl_c_cancels_the_line(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "rebo");
    assert_int_equal(feed(r, 0x03), LINEEDIT_CANCEL);
    assert_true(memmem(r->out.bytes, r->out.len, "^C\n", 3) != NULL);
    assert_int_equal(r->le.len, 0);
    assert_int_equal(r->lines, 0);
    assert_null(lineedit_history(&r->le, 1)); /* a cancelled line is not remembered */
    feed_str(r, "ok\r");
    assert_string_equal(r->last_line, "ok");
    free(r);
}

static void history_up_and_down(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "one\rtwo\rthree\r");
    feed_str(r, "par");           /* a new line in progress */
    feed_str(r, UP);
    assert_string_equal(r->le.buf, "three");
    feed_str(r, UP);
    assert_string_equal(r->le.buf, "two");
    feed_str(r, UP);
    assert_string_equal(r->le.buf, "one");
    int bells = r->scr.bells;
    feed_str(r, UP);              /* nothing older */
    assert_string_equal(r->le.buf, "one");
    assert_int_equal(r->scr.bells, bells + 1);
    feed_str(r, DOWN DOWN);
    assert_string_equal(r->le.buf, "three");
    feed_str(r, DOWN);            /* back to the line in progress */
    assert_string_equal(r->le.buf, "par");
    feed_str(r, DOWN);            /* nothing newer */
    assert_string_equal(r->le.buf, "par");
    assert_int_equal(r->scr.bells, bells + 2);
    feed_str(r, "\x10");          /* ^P is up too */
    assert_string_equal(r->le.buf, "three");
    feed_str(r, "\x0e");          /* ^N is down */
    assert_string_equal(r->le.buf, "par");
    feed_str(r, "\x1bOA");        /* SS3 up */
    assert_string_equal(r->le.buf, "three");
    feed(r, '\r');
    assert_string_equal(r->last_line, "three");
    free(r);
}

static void editing_a_recalled_line(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "lspci\r");
    feed_str(r, UP LEFT LEFT "X");
    assert_string_equal(r->le.buf, "lspXci");
    feed(r, '\r');
    assert_string_equal(r->last_line, "lspXci");
    assert_string_equal(lineedit_history(&r->le, 1), "lspXci");
    assert_string_equal(lineedit_history(&r->le, 2), "lspci"); /* the old entry is unchanged */
    /* An edit abandoned by moving away is forgotten. */
    feed_str(r, UP "zz" UP);
    assert_string_equal(r->le.buf, "lspci");
    feed_str(r, DOWN);
    assert_string_equal(r->le.buf, "lspXci");
    free(r);
}

static void history_skips_duplicates_and_blank_lines(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "mem\rmem\r\r   \rps\rmem\r");
    assert_string_equal(lineedit_history(&r->le, 1), "mem");
    assert_string_equal(lineedit_history(&r->le, 2), "ps");
    assert_string_equal(lineedit_history(&r->le, 3), "mem");
    assert_null(lineedit_history(&r->le, 4));
    assert_int_equal(r->lines, 6); /* blank lines are still entered, just not remembered */
    free(r);
}

static void history_is_a_bounded_ring(void **state) {
    struct rig *r = rig_new();
    char line[16];
    for (int i = 0; i < 40; i++) {
        snprintf(line, sizeof line, "cmd%d\r", i);
        feed_str(r, line);
    }
    assert_int_equal(r->le.hist_count, LINEEDIT_HISTORY);
    assert_string_equal(lineedit_history(&r->le, 1), "cmd39");
    assert_string_equal(lineedit_history(&r->le, LINEEDIT_HISTORY), "cmd8");
    assert_null(lineedit_history(&r->le, LINEEDIT_HISTORY + 1));
    for (int i = 0; i < LINEEDIT_HISTORY; i++) feed_str(r, UP);
    assert_string_equal(r->le.buf, "cmd8");
    int bells = r->scr.bells;
    feed_str(r, UP);
    assert_int_equal(r->scr.bells, bells + 1);
    assert_string_equal(r->le.buf, "cmd8");
    free(r);
}

static void long_lines_are_refused_cleanly(void **state) {
    struct rig *r = rig_new();
    for (int i = 0; i < LINEEDIT_MAX + 45; i++) feed(r, 'a');
    assert_int_equal(r->le.len, LINEEDIT_MAX);
    assert_int_equal(r->scr.bells, 45);
    feed_str(r, "\x1b[H");
    feed(r, 'b'); /* a full line refuses inserts in the middle too */
    assert_int_equal(r->le.len, LINEEDIT_MAX);
    assert_int_equal(r->le.buf[0], 'a');
    assert_int_equal(r->scr.bells, 46);
    feed_str(r, "\x1b[3~" "b"); /* after a delete there is room again */
    assert_int_equal(r->le.buf[0], 'b');
    assert_int_equal(r->le.len, LINEEDIT_MAX);
    feed(r, '\r');
    assert_int_equal(strlen(r->last_line), LINEEDIT_MAX);
    /* A full-length line recalled from the history fits the echo buffer. */
    feed_str(r, UP);
    assert_int_equal(r->le.len, LINEEDIT_MAX);
    free(r);
}

static void cr_lf_counts_once(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "a\r\nb\nc\r\r");
    assert_int_equal(r->lines, 4); /* a, b, c and one empty line from the second CR */
    feed_str(r, "x\n\r");
    assert_int_equal(r->lines, 6); /* LF CR is two line ends */
    assert_string_equal(r->last_line, "");
    free(r);
}

static void unknown_escape_sequences_are_swallowed(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "x");
    feed_str(r, "\x1b[5~\x1b[6~\x1b[2~\x1b[?25h\x1b[200~\x1bOP\x1bx\x1b[99Z\x1b[~\x1b[;;;q");
    assert_string_equal(r->le.buf, "x");
    feed_str(r, "\x1b\x1b[D" "w"); /* ESC ESC [ D: the second ESC starts the sequence */
    assert_string_equal(r->le.buf, "wx");
    free(r);
}

static void truncated_escapes_do_not_eat_the_line(void **state) {
    struct rig *r = rig_new();
    feed_str(r, "ab\x1b\r");          /* ESC then Enter */
    assert_string_equal(r->last_line, "ab");
    feed_str(r, "cd\x1b[\r");         /* ESC [ then Enter */
    assert_string_equal(r->last_line, "cd");
    feed_str(r, "ef\x1b[12\x7f\r");   /* DEL aborts a sequence and deletes */
    assert_string_equal(r->last_line, "e");
    feed_str(r, "gh\x1bO\r");         /* ESC O then Enter */
    assert_string_equal(r->last_line, "gh");
    feed_str(r, "\x1b[");             /* an endless parameter string is abandoned */
    for (int i = 0; i < 1000; i++) feed(r, '7');
    feed_str(r, "\r");
    assert_int_equal(r->le.esc_state, 0);
    assert_true(strlen(r->last_line) > 0 && strlen(r->last_line) < 1000);
    feed_str(r, "ok\r");
    assert_string_equal(r->last_line, "ok");
    free(r);
}

static void controls_and_8bit_bytes_are_ignored(void **state) {
    struct rig *r = rig_new();
    for (int b = 0x80; b <= 0xff; b++) feed(r, (uint8_t)b);
    feed_str(r, "\t\x07\x0c\x1a\x1c");
    assert_int_equal(r->le.len, 0);
    assert_int_equal(r->lines, 0);
    free(r);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Random bytes of every value: invariants and the screen model hold after every byte. */
static void hostile_random_bytes(void **state) {
    struct rig *r = rig_new();
    for (int i = 0; i < 300000; i++) feed(r, (uint8_t)rng());
    free(r);
}

/* Random key presses (text, editing keys, history, truncated sequences): long lines and a
 * full history get exercised, and the screen keeps matching the line. */
static void random_editing_sessions(void **state) {
    static const char *keys[] = {
        LEFT, RIGHT, UP, DOWN, "\x1b[H", "\x1b[F", "\x1b[3~", "\x7f", "\b", "\x15", "\x0b",
        "\x03", "\x1b", "\x1b[", "\x1b[1", "\x1bO", "\x01", "\x05", "\r", "\n", "\r\n",
    };
    struct rig *r = rig_new();
    for (int i = 0; i < 200000; i++) {
        uint32_t x = rng() % 100;
        if (x < 70) feed(r, (uint8_t)(' ' + rng() % 95));
        else if (x < 99) feed_str(r, keys[rng() % (ARRAY_SIZE(keys) - 3)]);
        else feed_str(r, keys[ARRAY_SIZE(keys) - 3 + rng() % 3]);
    }
    assert_true(r->lines > 100);
    assert_true(r->le.hist_count > 0 && r->le.hist_count <= LINEEDIT_HISTORY);
    free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typing_and_enter),
        cmocka_unit_test(insert_in_the_middle),
        cmocka_unit_test(fix_a_typo_with_left_and_backspace),
        cmocka_unit_test(ss3_and_modified_cursor_keys),
        cmocka_unit_test(home_and_end_in_every_spelling),
        cmocka_unit_test(backspace_and_delete),
        cmocka_unit_test(kill_line_and_kill_to_end),
        cmocka_unit_test(ctrl_c_cancels_the_line),
        cmocka_unit_test(history_up_and_down),
        cmocka_unit_test(editing_a_recalled_line),
        cmocka_unit_test(history_skips_duplicates_and_blank_lines),
        cmocka_unit_test(history_is_a_bounded_ring),
        cmocka_unit_test(long_lines_are_refused_cleanly),
        cmocka_unit_test(cr_lf_counts_once),
        cmocka_unit_test(unknown_escape_sequences_are_swallowed),
        cmocka_unit_test(truncated_escapes_do_not_eat_the_line),
        cmocka_unit_test(controls_and_8bit_bytes_are_ignored),
        cmocka_unit_test(hostile_random_bytes),
        cmocka_unit_test(random_editing_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
