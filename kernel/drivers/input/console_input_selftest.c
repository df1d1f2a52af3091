/* console_input_selftest.c: kernel self-tests for the console input queue (group `console`):
 * order, the timeout contract of console_getchar (wait.h: 0 never sleeps, a deadline
 * returns -1, a kill returns -KEINTR and leaves no waiter), a wake-up from interrupt context,
 * the full-queue rule, the serial interrupt routing and keys from the PS/2 keyboard.
 * The tests expect no other task to be reading the console meanwhile (selftest mode, or the
 * shell's own `selftest` command, which reads nothing while tests run). */
#include "selftest.h"
#include "console_input.h"
#include "wait.h"
#include "sched.h"
#include "ktimer.h"
#include "irq.h"
#include "ps2.h"
#include "time.h"
#include "kstring.h"

#define MS 1000000ull

SELFTEST(console, bytes_come_out_in_order) {
    console_input_flush();
    static const char text[] = "ab\x1b[Dc";
    for (size_t i = 0; i < sizeof text - 1; i++) console_input_push(text[i]);
    for (size_t i = 0; i < sizeof text - 1; i++) {
        int c = console_getchar(0);
        ST_ASSERT(t, c == (unsigned char)text[i], "byte %zu: got %d, expected %d", i, c, text[i]);
    }
    ST_ASSERT(t, console_getchar(0) == -1, "more bytes than pushed");
}

SELFTEST(console, timeout_zero_returns_at_once) {
    console_input_flush();
    uint64_t start = time_ns();
    int c = console_getchar(0);
    uint64_t took = time_ns() - start;
    ST_ASSERT(t, c == -1, "empty queue gave %d", c);
    ST_ASSERT(t, took < 100000, "getchar(0) took %lu ns (limit 100 us)", (unsigned long)took);
    console_input_push('x');
    start = time_ns();
    c = console_getchar(0);
    took = time_ns() - start;
    ST_ASSERT(t, c == 'x', "queued 'x', got %d", c);
    ST_ASSERT(t, took < 100000, "getchar(0) with a byte took %lu ns", (unsigned long)took);
}

SELFTEST(console, deadline_returns_minus_one) {
    console_input_flush();
    uint64_t start = time_ns();
    int c = console_getchar(30 * MS);
    uint64_t took = time_ns() - start;
    struct console_input_stats s;
    console_input_get_stats(&s);
    ST_ASSERT(t, c == -1, "got %d from an empty queue", c);
    ST_ASSERT(t, took >= 30 * MS, "returned after %lu us, before the 30 ms deadline", (unsigned long)(took / 1000));
    ST_ASSERT(t, took < 500 * MS, "returned %lu ms after a 30 ms deadline", (unsigned long)(took / MS));
    ST_ASSERT(t, s.waiters == 0, "%d waiters left on the queue", s.waiters);
}

static void push_from_timer(struct ktimer *tm, void *arg) { console_input_push((char)(uintptr_t)arg); }

SELFTEST(console, interrupt_push_wakes_a_sleeping_reader) {
    console_input_flush();
    static struct ktimer timer;
    uint64_t start = time_ns();
    ktimer_start(&timer, start + 20 * MS, push_from_timer, (void *)(uintptr_t)'z');
    int c = console_getchar(2000 * MS);
    uint64_t took = time_ns() - start;
    ktimer_cancel(&timer);
    ST_ASSERT(t, c == 'z', "reader got %d, expected 'z' from the timer callback", c);
    ST_ASSERT(t, took >= 20 * MS && took < 1000 * MS, "woke after %lu ms (timer at 20 ms)",
              (unsigned long)(took / MS));
}

static volatile int killed_reader_result = 1000;

static int64_t blocked_reader(void *arg) {
    int c = console_getchar(WAIT_FOREVER);
    killed_reader_result = c;
    return c;
}

SELFTEST(console, killed_reader_gets_eintr_and_leaves_the_queue) {
    console_input_flush();
    killed_reader_result = 1000;
    tid_t id = task_create("st-console-reader", blocked_reader, NULL, PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create: %d", id);
    struct console_input_stats s;
    for (int i = 0; i < 50; i++) { /* up to 500 ms for the reader to go to sleep */
        console_input_get_stats(&s);
        if (s.waiters == 1) break;
        task_sleep_ns(10 * MS);
    }
    int waiting = s.waiters;
    int r = task_kill(id);
    int64_t exit_value = 0;
    int j = task_join(id, &exit_value);
    console_input_get_stats(&s);
    ST_ASSERT(t, waiting == 1, "the reader never slept on the queue (%d waiters)", waiting);
    ST_ASSERT(t, r == 0 && j == 0, "task_kill %d, task_join %d", r, j);
    ST_ASSERT(t, exit_value == -KEINTR, "reader exited with %ld, expected -KEINTR", (long)exit_value);
    ST_ASSERT(t, killed_reader_result == 1000 || killed_reader_result == -KEINTR,
              "console_getchar returned %d to a killed task", killed_reader_result);
    ST_ASSERT(t, s.waiters == 0, "%d waiters left after the kill", s.waiters);
}

SELFTEST(console, full_queue_drops_and_counts) {
    console_input_flush();
    struct console_input_stats before, after;
    console_input_get_stats(&before);
    int extra = 10;
    for (int i = 0; i < CONSOLE_INPUT_RING - 1 + extra; i++) console_input_push('q');
    console_input_get_stats(&after);
    bool seq = console_input_push_seq("\x1b[A", 3);
    size_t flushed = console_input_flush();
    ST_ASSERT(t, after.queued == CONSOLE_INPUT_RING - 1, "%u bytes queued, capacity %d", after.queued,
              CONSOLE_INPUT_RING - 1);
    ST_ASSERT(t, after.dropped - before.dropped == (uint64_t)extra, "%lu dropped, expected %d",
              (unsigned long)(after.dropped - before.dropped), extra);
    ST_ASSERT(t, !seq, "a 3-byte sequence was accepted by a full queue");
    ST_ASSERT(t, flushed == CONSOLE_INPUT_RING - 1, "flush dropped %zu bytes", flushed);
    ST_ASSERT(t, console_getchar(0) == -1, "queue not empty after flush");
}

SELFTEST(console, serial_receive_interrupt_routed) {
    console_input_init();
    struct console_input_stats s;
    console_input_get_stats(&s);
    ST_ASSERT(t, !s.serial_polled, "serial input fell back to polling");
    ST_ASSERT(t, s.serial_vector >= VEC_PIC_BASE, "COM1 vector %d", s.serial_vector);
    ST_ASSERT(t, irq_isa_vector(4) == s.serial_vector, "ISA IRQ4 routed to %u, console says %d",
              irq_isa_vector(4), s.serial_vector);
    const char *name = irq_name((uint8_t)s.serial_vector);
    ST_ASSERT(t, name && strcmp(name, "com1") == 0, "vector %d handler is '%s'", s.serial_vector,
              name ? name : "(none)");
}

SELFTEST(console, ps2_key_reaches_the_console) {
    ST_ASSERT(t, ps2_present(), "no PS/2 controller (q35 has one)");
    console_input_flush();
    /* Left arrow: E0 4B make, E0 CB break (set 1), then 'k' make/break. */
    static const uint8_t codes[] = {0xe0, 0x4b, 0xe0, 0xcb, 0x25, 0xa5};
    for (size_t i = 0; i < sizeof codes; i++) {
        struct ps2_stats st;
        ps2_get_stats(&st);
        uint64_t before = st.kbd_bytes;
        ST_ASSERT(t, ps2_inject_kbd_byte(codes[i]), "controller refused byte %zu", i);
        /* One byte at a time: the controller's output buffer holds one. */
        for (int w = 0; w < 100; w++) {
            ps2_get_stats(&st);
            if (st.kbd_bytes != before) break;
            task_sleep_ns(2 * MS);
        }
        ST_ASSERT(t, st.kbd_bytes != before, "IRQ1 never delivered byte %zu", i);
    }
    static const char want[] = "\x1b[Dk";
    for (size_t i = 0; i < sizeof want - 1; i++) {
        int c = console_getchar(500 * MS);
        ST_ASSERT(t, c == (unsigned char)want[i], "byte %zu: got %d, expected %d", i, c, want[i]);
    }
    console_input_flush();
    for (int i = 0; i < 16 && kbd_getchar() >= 0; i++) {
    }
}
