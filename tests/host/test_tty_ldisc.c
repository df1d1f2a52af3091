/* test_tty_ldisc.c: host tests of the terminal line discipline (kernel/drivers/tty/tty_ldisc.c)
 * against POSIX.1-2017 XBD ch. 11 and Linux's termios behaviour: canonical lines and editing
 * (ERASE with DEL and BS, KILL with and without ECHOKE, WERASE, REPRINT, LNEXT), end of file,
 * the line-length limit, the echo bytes exactly, signal characters, input and output mapping,
 * non-canonical reads with the MIN/TIME plan, and hostile input (every byte value, 1 MiB of
 * random bytes under random modes) keeping the buffer invariants. */
#define _GNU_SOURCE
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/drivers/tty/tty_ldisc.c"

struct cap {
    char out[1 << 16];
    size_t len;
    bool overflow;
    int sigs[64];
    int nsig;
};

static void cap_out(void *ctx, const char *s, size_t n) {
    struct cap *c = ctx;
    assert_true(n > 0);
    assert_true(n <= sizeof(((struct tty_ldisc *)0)->obuf));
    if (c->len + n > sizeof c->out) {
        c->overflow = true;
        c->len = 0;
    }
    memcpy(c->out + c->len, s, n);
    c->len += n;
}

static void cap_sig(void *ctx, int sig) {
    struct cap *c = ctx;
    if (c->nsig < 64) c->sigs[c->nsig] = sig;
    c->nsig++;
}

static struct tty_ldisc *L;
static struct cap *C;

static int setup(void **state) {
    L = calloc(1, sizeof *L);
    C = calloc(1, sizeof *C);
    tty_ldisc_init(L, cap_out, cap_sig, C);
    return 0;
}
static int teardown(void **state) {
    free(L);
    free(C);
    return 0;
}

static void in(const char *s) { tty_ldisc_input(L, (const uint8_t *)s, strlen(s)); }
static void in_n(const void *s, size_t n) { tty_ldisc_input(L, s, n); }

/* Reads into a static buffer; returns the count (or the negative error). */
static char rbuf[TTY_INPUT_SIZE + 16];
static int64_t rd(size_t len) {
    memset(rbuf, 0, sizeof rbuf);
    return tty_ldisc_read(L, (uint8_t *)rbuf, len);
}

/* The echo since the last call must be exactly want. */
static void echo_is(const char *want) {
    size_t n = strlen(want);
    if (C->len != n || memcmp(C->out, want, n) != 0) {
        fprintf(stderr, "echo: got %zu bytes \"", C->len);
        for (size_t i = 0; i < C->len; i++) {
            unsigned char ch = (unsigned char)C->out[i];
            if (ch >= 0x20 && ch < 0x7f) fputc(ch, stderr);
            else fprintf(stderr, "\\x%02x", ch);
        }
        fprintf(stderr, "\", want \"%s\"\n", want);
        fail();
    }
    C->len = 0;
}

static void set_lflag(uint32_t on, uint32_t off) {
    struct ktermios t = L->tio;
    t.c_lflag = (t.c_lflag | on) & ~off;
    tty_ldisc_set_termios(L, &t);
}

static void defaults_are_linux(void **state) {
    struct ktermios t;
    tty_termios_default(&t);
    assert_int_equal(t.c_iflag, 0x100);
    assert_int_equal(t.c_oflag, 0x5);
    assert_int_equal(t.c_cflag, 0x4bf);
    assert_int_equal(t.c_lflag, 0x8a3b);
    const uint8_t want[TTY_NCCS] = {3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0};
    assert_memory_equal(t.c_cc, want, TTY_NCCS);
    assert_int_equal(sizeof(struct ktermios), 36);
}

static void canonical_line_with_echo(void **state) {
    in("hello");
    assert_int_equal(rd(100), -KEAGAIN);
    assert_false(tty_ldisc_poll_ready(L));
    assert_int_equal(tty_ldisc_avail(L), 0);
    in("\r"); /* ICRNL */
    assert_true(tty_ldisc_poll_ready(L));
    assert_int_equal(tty_ldisc_avail(L), 6);
    echo_is("hello\r\n");
    assert_int_equal(rd(100), 6);
    assert_string_equal(rbuf, "hello\n");
    assert_int_equal(rd(100), -KEAGAIN);
}

static void one_line_per_read_and_partial_reads(void **state) {
    in("abcdef\nxy\n");
    assert_int_equal(rd(4), 4);
    assert_string_equal(rbuf, "abcd");
    assert_int_equal(rd(100), 3);
    assert_string_equal(rbuf, "ef\n");
    assert_int_equal(rd(100), 3);
    assert_string_equal(rbuf, "xy\n");
}

static void erase_del_and_bs(void **state) {
    in("abx\x7f" "c\n");
    echo_is("abx\b \bc\r\n");
    assert_int_equal(rd(100), 4);
    assert_string_equal(rbuf, "abc\n");
    in("ab\bc\n"); /* BS erases too */
    echo_is("ab\b \bc\r\n");
    assert_int_equal(rd(100), 3);
    assert_string_equal(rbuf, "ac\n");
    in("\x7f\x7f" "z\n"); /* erase on an empty line: nothing, no echo */
    echo_is("z\r\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "z\n");
}

static void erase_without_echoe_echoes_the_char(void **state) {
    set_lflag(0, ECHOE);
    in("ab\x7f\n");
    echo_is("ab^?\r\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "a\n");
}

static void erase_of_control_char_takes_two_cells(void **state) {
    in("a\x01");
    echo_is("a^A");
    in("\x7f");
    echo_is("\b \b\b \b");
    in("\x1b[A\x7f\x7f\x7f\n");
    echo_is("^[[A\b \b\b \b\b \b\b \b\r\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "a\n");
}

static void erase_tab_uses_columns(void **state) {
    tty_ldisc_write(L, (const uint8_t *)"$ ", 2); /* prompt: column 2 */
    C->len = 0;
    in("a\tb");
    echo_is("a\tb");
    assert_int_equal(L->col, 9);
    in("\x7f");
    echo_is("\b \b");
    in("\x7f"); /* the tab went from column 3 to 8 */
    echo_is("\b\b\b\b\b");
    assert_int_equal(L->col, 3);
    in("\x7f\n");
    echo_is("\b \b\r\n");
    assert_int_equal(rd(100), 1);
}

static void utf8_erase_removes_whole_char(void **state) {
    struct ktermios t = L->tio;
    t.c_iflag |= IUTF8;
    tty_ldisc_set_termios(L, &t);
    in("x\xc3\xa9\xe2\x82\xac");
    echo_is("x\xc3\xa9\xe2\x82\xac");
    assert_int_equal(L->col, 3);
    in("\x7f");
    echo_is("\b \b");
    in("\x7f\n");
    echo_is("\b \b\r\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "x\n");
}

static void kill_line_echoke_and_echok(void **state) {
    in("abc\x15");
    echo_is("abc\b \b\b \b\b \b");
    in("d\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "d\n");
    C->len = 0;
    set_lflag(0, ECHOKE);
    in("xyz\x15");
    echo_is("xyz^U\r\n");
    in("q\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "q\n");
    C->len = 0;
    set_lflag(0, ECHOK);
    in("xyz\x15");
    echo_is("xyz^U");
}

static void werase_removes_word_and_blanks(void **state) {
    in("foo bar  \x17");
    echo_is("foo bar  \b \b\b \b\b \b\b \b\b \b");
    in("baz\x17\x17" "w\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "w\n");
    set_lflag(0, IEXTEN); /* without IEXTEN ^W is data */
    in("a\x17\n");
    assert_int_equal(rd(100), 3);
    assert_memory_equal(rbuf, "a\x17\n", 3);
}

static void eof_at_line_start_reads_zero(void **state) {
    in("\x04");
    echo_is("");
    assert_true(tty_ldisc_poll_ready(L));
    assert_int_equal(rd(100), 0);
    assert_int_equal(rd(100), -KEAGAIN);
    in("\x04\x04" "ok\n");
    assert_int_equal(rd(100), 0);
    assert_int_equal(rd(100), 0);
    assert_int_equal(rd(100), 3);
    assert_string_equal(rbuf, "ok\n");
}

static void eof_mid_line_delivers_without_newline(void **state) {
    in("abc\x04");
    assert_int_equal(rd(100), 3);
    assert_string_equal(rbuf, "abc");
    assert_int_equal(rd(100), -KEAGAIN); /* no end of file after it */
    in("abc\x04");
    assert_int_equal(rd(3), 3);          /* exactly filled: the mark goes with the line */
    assert_int_equal(rd(100), -KEAGAIN);
    in("abcd\x04");
    assert_int_equal(rd(2), 2);
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "cd");
    assert_int_equal(rd(100), -KEAGAIN);
}

static void line_limit_drops_with_bell(void **state) {
    char *big = malloc(5000);
    memset(big, 'x', 5000);
    in_n(big, 5000);
    assert_int_equal(L->dropped, 5000 - TTY_LINE_MAX);
    size_t bells = 0;
    for (size_t i = 0; i < C->len; i++) bells += C->out[i] == '\a';
    assert_int_equal(bells, 5000 - TTY_LINE_MAX);
    in("\n"); /* the terminator still fits */
    assert_int_equal(rd(TTY_INPUT_SIZE), TTY_LINE_MAX + 1);
    assert_int_equal(rbuf[TTY_LINE_MAX], '\n');
    assert_int_equal(rbuf[TTY_LINE_MAX - 1], 'x');
    free(big);
}

static void full_buffer_drops_then_recovers(void **state) {
    set_lflag(0, ECHO);
    char line[1000];
    memset(line, 'y', sizeof line);
    line[999] = '\n';
    for (int i = 0; i < 20; i++) in_n(line, sizeof line);
    assert_true(L->wr - L->rd <= TTY_INPUT_SIZE);
    assert_true(L->dropped > 0);
    uint64_t total = 0;
    int64_t n;
    while ((n = rd(sizeof rbuf)) > 0) total += (uint64_t)n;
    assert_int_equal(n, -KEAGAIN);
    assert_int_equal(total, 8000); /* eight whole lines fitted, the ninth was cut */
    /* the cut ninth line is still being edited: new input completes it */
    in("ok\n");
    assert_int_equal(rd(sizeof rbuf), 8192 - 8000 + 3);
    assert_memory_equal(rbuf + 192, "ok\n", 3);
}

static void signal_chars_flush_and_echo(void **state) {
    in("abc\x03");
    echo_is("abc^C");
    assert_int_equal(C->nsig, 1);
    assert_int_equal(C->sigs[0], 2);
    in("\n");
    assert_int_equal(rd(100), 1); /* "abc" was flushed */
    C->len = 0;
    in("\x1c\x1a");
    echo_is("^\\^Z");
    assert_int_equal(C->nsig, 3);
    assert_int_equal(C->sigs[1], 3);
    assert_int_equal(C->sigs[2], 20);
    set_lflag(NOFLSH, 0);
    in("keep\x03\n");
    assert_int_equal(rd(100), 5);
    assert_string_equal(rbuf, "keep\n");
    set_lflag(0, ISIG);
    in("\x03\n");
    assert_int_equal(C->nsig, 4);
    assert_int_equal(rd(100), 2);
    assert_memory_equal(rbuf, "\x03\n", 2);
}

static void disabled_chars_and_nul(void **state) {
    struct ktermios t = L->tio;
    t.c_cc[VINTR] = 0;
    tty_ldisc_set_termios(L, &t);
    in_n("a\0\x03\n", 4); /* NUL matches no disabled entry (VEOL is 0 too) */
    assert_int_equal(C->nsig, 0);
    assert_int_equal(rd(100), 4);
    assert_memory_equal(rbuf, "a\0\x03\n", 4);
}

static void eol_and_input_mapping(void **state) {
    struct ktermios t = L->tio;
    t.c_cc[VEOL] = ';';
    tty_ldisc_set_termios(L, &t);
    in("a;b\n");
    assert_int_equal(rd(100), 2);
    assert_string_equal(rbuf, "a;");
    assert_int_equal(rd(100), 2);
    t.c_iflag = IGNCR;
    tty_ldisc_set_termios(L, &t);
    in("x\ry\n");
    assert_int_equal(rd(100), 3);
    assert_string_equal(rbuf, "xy\n");
    t.c_iflag = INLCR;
    t.c_lflag &= ~ICANON;
    tty_ldisc_set_termios(L, &t);
    in("\n\r");
    assert_int_equal(rd(100), 2);
    assert_memory_equal(rbuf, "\r\r", 2);
    t.c_iflag = ISTRIP;
    tty_ldisc_set_termios(L, &t);
    in("\xc1");
    assert_int_equal(rd(100), 1);
    assert_int_equal((uint8_t)rbuf[0], 0x41);
}

static void lnext_and_reprint(void **state) {
    in("\x16");
    echo_is("^\b");
    in("\x03\n");
    echo_is("^C\r\n");
    assert_int_equal(C->nsig, 0);
    assert_int_equal(rd(100), 2);
    assert_memory_equal(rbuf, "\x03\n", 2);
    in("ab\x12");
    echo_is("ab^R\r\nab");
}

static void echo_off_and_echonl(void **state) {
    set_lflag(0, ECHO);
    in("secret\n");
    echo_is("");
    assert_int_equal(rd(100), 7);
    set_lflag(ECHONL, 0);
    in("pw\n");
    echo_is("\r\n");
}

static void raw_mode_bytes_and_vmin(void **state) {
    set_lflag(0, ICANON | ECHO);
    in("ab\x7f\x04");
    echo_is("");
    assert_true(tty_ldisc_poll_ready(L));
    assert_int_equal(rd(2), 2);
    assert_int_equal(rd(100), 2);
    assert_memory_equal(rbuf, "\x7f\x04", 2);
    assert_int_equal(rd(100), 0); /* nothing: 0, not EAGAIN */
    struct ktermios t = L->tio;
    t.c_cc[VMIN] = 3;
    tty_ldisc_set_termios(L, &t);
    in("xy");
    assert_false(tty_ldisc_poll_ready(L)); /* VMIN 3, VTIME 0 */
    t.c_cc[VTIME] = 5;
    tty_ldisc_set_termios(L, &t);
    assert_true(tty_ldisc_poll_ready(L));
    set_lflag(ECHO, 0);
    in("\x01z");
    echo_is("^Az");
}

static void mode_switches_keep_input(void **state) {
    in("done\npartial");
    set_lflag(0, ICANON); /* the edit line becomes readable */
    assert_int_equal(tty_ldisc_avail(L), 12);
    assert_int_equal(rd(100), 12);
    assert_memory_equal(rbuf, "done\npartial", 12);
    in("\x04");          /* not special in raw mode */
    set_lflag(ICANON, 0);
    assert_int_equal(rd(100), 1);
    assert_int_equal(rbuf[0], 4);
    in("abc\x04");       /* an EOF mark left in the buffer when switching to raw */
    in("de");
    set_lflag(0, ICANON);
    assert_int_equal(rd(100), 5); /* the mark is skipped, not delivered */
    assert_memory_equal(rbuf, "abcde", 5);
}

static void raw_plan_cases(void **state) {
    struct ktermios t;
    tty_termios_default(&t);
    struct tty_raw_plan p;
    t.c_cc[VMIN] = 4; t.c_cc[VTIME] = 0;
    tty_raw_plan(&t, 100, &p);
    assert_int_equal(p.want, 4);
    assert_true(p.first_ns == WAIT_FOREVER);
    assert_int_equal(p.inter_ns, 0);
    tty_raw_plan(&t, 2, &p);
    assert_int_equal(p.want, 2); /* never more than asked */
    t.c_cc[VMIN] = 0; t.c_cc[VTIME] = 0;
    tty_raw_plan(&t, 100, &p);
    assert_int_equal(p.want, 0);
    assert_int_equal(p.first_ns, 0);
    t.c_cc[VMIN] = 0; t.c_cc[VTIME] = 7;
    tty_raw_plan(&t, 100, &p);
    assert_int_equal(p.want, 1);
    assert_int_equal(p.first_ns, 700000000ull);
    assert_int_equal(p.inter_ns, 0);
    t.c_cc[VMIN] = 10; t.c_cc[VTIME] = 2;
    tty_raw_plan(&t, 100, &p);
    assert_int_equal(p.want, 10);
    assert_true(p.first_ns == WAIT_FOREVER);
    assert_int_equal(p.inter_ns, 200000000ull);
    t.c_cc[VMIN] = 255; t.c_cc[VTIME] = 255;
    tty_raw_plan(&t, 0, &p);
    assert_int_equal(p.want, 0);
}

static void output_processing(void **state) {
    tty_ldisc_write(L, (const uint8_t *)"a\nb", 3);
    echo_is("a\r\nb");
    struct ktermios t = L->tio;
    t.c_oflag = 0; /* OPOST off: bytes as they are */
    tty_ldisc_set_termios(L, &t);
    tty_ldisc_write(L, (const uint8_t *)"a\nb\r", 4);
    echo_is("a\nb\r");
    t.c_oflag = OPOST | OCRNL;
    tty_ldisc_set_termios(L, &t);
    tty_ldisc_write(L, (const uint8_t *)"x\ry", 3);
    echo_is("x\ny");
    t.c_oflag = OPOST | ONOCR;
    tty_ldisc_set_termios(L, &t);
    tty_ldisc_write(L, (const uint8_t *)"q\r\r", 3);
    echo_is("q\r"); /* the second CR is at column 0 */
    /* a long write: every "\r\n" whole inside one out() call */
    char big[1000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = i % 7 == 6 ? '\n' : 'k';
    t.c_oflag = OPOST | ONLCR;
    tty_ldisc_set_termios(L, &t);
    assert_int_equal(tty_ldisc_write(L, (const uint8_t *)big, sizeof big), sizeof big);
    assert_int_equal(C->len, sizeof big + sizeof big / 7);
}

/* Checks the ring's invariants. */
static void invariants(void) {
    assert_true(L->canon - L->rd <= L->wr - L->rd);
    assert_true(L->wr - L->rd <= TTY_INPUT_SIZE);
    if (L->tio.c_lflag & ICANON) assert_true(L->wr - L->canon <= TTY_LINE_MAX + 1);
}

static void every_byte_value_in_both_modes(void **state) {
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    for (int mode = 0; mode < 4; mode++) {
        struct ktermios t;
        tty_termios_default(&t);
        if (mode & 1) t.c_lflag &= ~ICANON;
        if (mode & 2) t.c_iflag |= IUTF8 | ISTRIP | INLCR;
        tty_ldisc_set_termios(L, &t);
        for (int k = 0; k < 40; k++) {
            in_n(all, sizeof all);
            invariants();
        }
        while (rd(sizeof rbuf) > 0) {}
        invariants();
    }
    assert_false(C->overflow && C->len > sizeof C->out);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void one_mib_random_input_stays_bounded(void **state) {
    uint8_t chunk[4096];
    size_t total = 0;
    while (total < (1u << 20)) {
        size_t n = 1 + rnd() % sizeof chunk;
        for (size_t i = 0; i < n; i++) chunk[i] = (uint8_t)rnd();
        in_n(chunk, n);
        total += n;
        invariants();
        switch (rnd() % 8) {
        case 0: {
            struct ktermios t = L->tio;
            t.c_lflag = (uint32_t)rnd();
            t.c_iflag = (uint32_t)rnd();
            t.c_oflag = (uint32_t)rnd();
            for (int i = 0; i < TTY_NCCS; i++) t.c_cc[i] = (uint8_t)rnd();
            tty_ldisc_set_termios(L, &t);
            break;
        }
        case 1: tty_ldisc_flush_input(L); break;
        case 2:
        case 3: {
            int64_t r = rd(rnd() % sizeof rbuf);
            assert_true(r >= 0 || r == -KEAGAIN);
            assert_true(r <= (int64_t)TTY_INPUT_SIZE);
            break;
        }
        default: break;
        }
        invariants();
    }
    /* whatever state it is in, the terminal still works after a reset of the modes */
    struct ktermios t;
    tty_termios_default(&t);
    tty_ldisc_set_termios(L, &t);
    tty_ldisc_flush_input(L);
    in("fine\n");
    assert_int_equal(rd(100), 5);
    assert_string_equal(rbuf, "fine\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults_are_linux, setup, teardown),
        cmocka_unit_test_setup_teardown(canonical_line_with_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(one_line_per_read_and_partial_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(erase_del_and_bs, setup, teardown),
        cmocka_unit_test_setup_teardown(erase_without_echoe_echoes_the_char, setup, teardown),
        cmocka_unit_test_setup_teardown(erase_of_control_char_takes_two_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(erase_tab_uses_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(utf8_erase_removes_whole_char, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_line_echoke_and_echok, setup, teardown),
        cmocka_unit_test_setup_teardown(werase_removes_word_and_blanks, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_at_line_start_reads_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_mid_line_delivers_without_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(line_limit_drops_with_bell, setup, teardown),
        cmocka_unit_test_setup_teardown(full_buffer_drops_then_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(signal_chars_flush_and_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(disabled_chars_and_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(eol_and_input_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(lnext_and_reprint, setup, teardown),
        cmocka_unit_test_setup_teardown(echo_off_and_echonl, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_mode_bytes_and_vmin, setup, teardown),
        cmocka_unit_test_setup_teardown(mode_switches_keep_input, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_plan_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(output_processing, setup, teardown),
        cmocka_unit_test_setup_teardown(every_byte_value_in_both_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(one_mib_random_input_stays_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
