/* test_klog.c: host unit tests for kernel/lib/printk.c: the 64 KiB log ring buffer (append,
 * wrap-around, oldest-first reads, whole-line dropping, a message larger than the ring), the
 * line prefix (timestamp and level tag), the console level filter, message truncation and
 * printk nested inside a console write. printk/vprintk themselves come from host_stubs.h;
 * the test drives printk_emit, which they are built on. */
#include "host_stubs.h"
#include "../../kernel/lib/printf.c"
#include "../../kernel/lib/printk.c"
#include <string.h>

/* The time module's clock, controlled by the test. */
static uint64_t fake_now_ns;
uint64_t printk_clock_ns(void) { return fake_now_ns; }

/* A console that records what it is given. */
static char console_text[8192];
static size_t console_len;
static void capture_write(const char *s, size_t len) {
    assert_true(console_len + len < sizeof(console_text));
    memcpy(console_text + console_len, s, len);
    console_len += len;
    console_text[console_len] = 0;
}
static struct console capture_console = {"capture", capture_write, NULL};

static char read_buf[KLOG_SIZE + 1];

static int reset_log(void **state) {
    (void)state;
    klog_head = klog_tail = 0;
    klog_mid_line = false;
    console_list = NULL;
    console_mid_line = false;
    console_level = LOG_INFO;
    printk_busy_sinks = 0;
    console_len = 0;
    console_text[0] = 0;
    fake_now_ns = 0;
    return 0;
}

static void append_str(const char *s) { klog_append(s, strlen(s)); }

static void empty_log_reads_empty(void **state) {
    (void)state;
    assert_int_equal(klog_read(read_buf, sizeof(read_buf)), 0);
    assert_string_equal(read_buf, "");
    assert_int_equal(klog_read(read_buf, 0), 0);
    append_str("x\n");
    char one[1] = {'Z'};
    assert_int_equal(klog_read(one, 1), 0); /* room for the terminator only */
    assert_int_equal(one[0], 0);
}

static void reads_oldest_first(void **state) {
    (void)state;
    append_str("first\n");
    append_str("second\n");
    klog_append("third\nfourth-part-not-logged", 6);
    assert_int_equal(klog_read(read_buf, sizeof(read_buf)), strlen("first\nsecond\nthird\n"));
    assert_string_equal(read_buf, "first\nsecond\nthird\n");
}

/* Appends numbered lines of varying length until the ring has wrapped several times;
 * returns the number of the last line and the longest line length. */
static unsigned fill_numbered_lines(size_t total_bytes, size_t *longest) {
    unsigned n = 0;
    size_t written = 0;
    *longest = 0;
    while (written < total_bytes) {
        char line[200];
        int len = snprintf(line, sizeof(line), "line %06u %.*s\n", n, (int)(n * 37 % 150),
                           "................................................................"
                           "................................................................"
                           "......................");
        klog_append(line, (size_t)len);
        written += (size_t)len;
        if ((size_t)len > *longest)
            *longest = (size_t)len;
        n++;
    }
    return n - 1;
}

/* Checks that text is whole consecutive numbered lines ending with line last. */
static void check_consecutive_lines(const char *text, size_t len, unsigned last) {
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_memory_equal(text, "line ", 5); /* starts at a line start, not mid-line */
    unsigned expect = 0;
    bool first = true;
    const char *p = text;
    while (p < text + len) {
        unsigned number;
        assert_int_equal(sscanf(p, "line %06u", &number), 1);
        if (!first)
            assert_int_equal(number, expect);
        first = false;
        expect = number + 1;
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        assert_non_null(nl);
        p = nl + 1;
    }
    assert_int_equal(expect - 1, last);
}

static void wrap_around_keeps_newest_whole_lines(void **state) {
    (void)state;
    size_t longest;
    unsigned last = fill_numbered_lines(3 * KLOG_SIZE + 123, &longest);
    size_t len = klog_read(read_buf, sizeof(read_buf));
    assert_int_equal(len, strlen(read_buf));
    assert_true(len <= KLOG_SIZE);
    assert_true(len > KLOG_SIZE - longest); /* at most one line more than needed is dropped */
    check_consecutive_lines(read_buf, len, last);
    /* The ring's index stays consistent over many more wraps. */
    last = fill_numbered_lines(7 * KLOG_SIZE, &longest);
    len = klog_read(read_buf, sizeof(read_buf));
    assert_true(len <= KLOG_SIZE && len > KLOG_SIZE - longest);
    check_consecutive_lines(read_buf, len, last);
}

static void small_buffer_gets_newest_lines(void **state) {
    (void)state;
    size_t longest;
    unsigned last = fill_numbered_lines(KLOG_SIZE / 2, &longest);
    char small[400];
    size_t len = klog_read(small, sizeof(small));
    assert_true(len < sizeof(small));
    assert_int_equal(small[len], 0);
    check_consecutive_lines(small, len, last);
}

static void message_larger_than_ring(void **state) {
    (void)state;
    append_str("old line\n");
    size_t big_len = KLOG_SIZE + 5000;
    char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 23);
    klog_append(big, big_len);
    /* The ring holds exactly the newest KLOG_SIZE bytes of it and nothing older. */
    assert_int_equal(klog_read(read_buf, sizeof(read_buf)), KLOG_SIZE);
    assert_memory_equal(read_buf, big + big_len - KLOG_SIZE, KLOG_SIZE);
    /* Appending more still works and drops the oldest bytes. */
    append_str("\nafter\n");
    size_t len = klog_read(read_buf, sizeof(read_buf));
    assert_true(len <= KLOG_SIZE);
    assert_string_equal(read_buf + len - 7, "\nafter\n");
    free(big);
}

static void exactly_full_ring(void **state) {
    (void)state;
    char *text = malloc(KLOG_SIZE);
    assert_non_null(text);
    memset(text, 'q', KLOG_SIZE - 1);
    text[KLOG_SIZE - 1] = '\n';
    klog_append(text, KLOG_SIZE / 2);
    klog_append(text + KLOG_SIZE / 2, KLOG_SIZE / 2);
    assert_int_equal(klog_read(read_buf, sizeof(read_buf)), KLOG_SIZE);
    assert_memory_equal(read_buf, text, KLOG_SIZE);
    free(text);
}

static void line_prefix_has_timestamp_and_level(void **state) {
    (void)state;
    console_register(&capture_console);
    fake_now_ns = 12345678901ull; /* 12.345678901 s */
    printk_emit(LOG_INFO, printk_clock_ns(), "hello\n", 6);
    printk_emit(LOG_WARN, 999999999999ull, "careful\n", 8);
    printk_emit(LOG_ERR, 0, "broken\n", 7);
    const char *expect = "[   12.345678] hello\n"
                         "[  999.999999] [WARN] careful\n"
                         "[    0.000000] [ERR] broken\n";
    assert_string_equal(console_text, expect);
    klog_read(read_buf, sizeof(read_buf));
    assert_string_equal(read_buf, expect);
}

static void every_line_prefixed_and_continuations_joined(void **state) {
    (void)state;
    console_register(&capture_console);
    fake_now_ns = 1000000000ull;
    printk_emit(LOG_WARN, fake_now_ns, "a\nb\n", 4);
    printk_emit(LOG_INFO, fake_now_ns, "start...", 8);
    printk_emit(LOG_INFO, fake_now_ns, " done\nnext", 10);
    printk_emit(LOG_INFO, fake_now_ns, "\n", 1);
    const char *expect = "[    1.000000] [WARN] a\n"
                         "[    1.000000] [WARN] b\n"
                         "[    1.000000] start... done\n"
                         "[    1.000000] next\n";
    assert_string_equal(console_text, expect);
    klog_read(read_buf, sizeof(read_buf));
    assert_string_equal(read_buf, expect);
}

static void console_level_filters_consoles_not_ring(void **state) {
    (void)state;
    console_register(&capture_console);
    console_register(&capture_console); /* twice: must not duplicate output or loop */
    printk_emit(LOG_DEBUG, 0, "debug\n", 6);
    printk_emit(LOG_INFO, 0, "info\n", 5);
    assert_string_equal(console_text, "[    0.000000] info\n");
    klog_read(read_buf, sizeof(read_buf));
    assert_string_equal(read_buf, "[    0.000000] debug\n[    0.000000] info\n");

    console_len = 0;
    printk_set_console_level(LOG_DEBUG);
    printk_emit(LOG_DEBUG, 0, "debug2\n", 7);
    assert_string_equal(console_text, "[    0.000000] debug2\n");

    console_len = 0;
    printk_set_console_level(LOG_ERR);
    printk_emit(LOG_WARN, 0, "warn\n", 5);
    printk_emit(LOG_ERR, 0, "err\n", 4);
    assert_string_equal(console_text, "[    0.000000] [ERR] err\n");
}

static void console_write_bypasses_log(void **state) {
    (void)state;
    console_register(&capture_console);
    console_write("raw", 3);
    assert_string_equal(console_text, "raw");
    assert_int_equal(klog_read(read_buf, sizeof(read_buf)), 0);
}

static size_t format_message(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = printk_format_message(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void long_message_is_cut_with_ellipsis(void **state) {
    (void)state;
    char msg[PRINTK_MESSAGE_MAX];
    char long_arg[1000];
    memset(long_arg, 'x', sizeof(long_arg) - 1);
    long_arg[sizeof(long_arg) - 1] = 0;
    size_t len = format_message(msg, sizeof(msg), "value %s end\n", long_arg);
    assert_int_equal(len, PRINTK_MESSAGE_MAX - 1);
    assert_int_equal(strlen(msg), len);
    assert_memory_equal(msg, "value xxx", 9);
    assert_string_equal(msg + len - 4, "...\n");
    /* A message that fits exactly is left alone. */
    memset(long_arg, 'y', PRINTK_MESSAGE_MAX - 1);
    long_arg[PRINTK_MESSAGE_MAX - 1] = 0;
    len = format_message(msg, sizeof(msg), "%s", long_arg);
    assert_int_equal(len, PRINTK_MESSAGE_MAX - 1);
    assert_int_equal(msg[len - 1], 'y');
}

/* A console whose write "faults" and logs from inside the console path, as an exception
 * handler running in the middle of printk would. */
static int nested_calls;
static void nesting_write(const char *s, size_t len) {
    capture_write(s, len);
    if (nested_calls++ == 0)
        printk_emit(LOG_ERR, 0, "nested\n", 7);
}
static struct console nesting_console = {"nesting", nesting_write, NULL};

static void nested_printk_skips_busy_console(void **state) {
    (void)state;
    nested_calls = 0;
    console_register(&nesting_console);
    printk_emit(LOG_INFO, 0, "outer\n", 6);
    /* The console was busy: the nested message must not re-enter it, but the ring has it. */
    assert_string_equal(console_text, "[    0.000000] outer\n");
    klog_read(read_buf, sizeof(read_buf));
    assert_string_equal(read_buf, "[    0.000000] outer\n[    0.000000] [ERR] nested\n");
    assert_int_equal(printk_busy_sinks, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(empty_log_reads_empty, reset_log),
        cmocka_unit_test_setup(reads_oldest_first, reset_log),
        cmocka_unit_test_setup(wrap_around_keeps_newest_whole_lines, reset_log),
        cmocka_unit_test_setup(small_buffer_gets_newest_lines, reset_log),
        cmocka_unit_test_setup(message_larger_than_ring, reset_log),
        cmocka_unit_test_setup(exactly_full_ring, reset_log),
        cmocka_unit_test_setup(line_prefix_has_timestamp_and_level, reset_log),
        cmocka_unit_test_setup(every_line_prefixed_and_continuations_joined, reset_log),
        cmocka_unit_test_setup(console_level_filters_consoles_not_ring, reset_log),
        cmocka_unit_test_setup(console_write_bypasses_log, reset_log),
        cmocka_unit_test_setup(long_message_is_cut_with_ellipsis, reset_log),
        cmocka_unit_test_setup(nested_printk_skips_busy_console, reset_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
