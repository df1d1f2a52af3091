/* console_input.c: one input queue for the serial and the framebuffer/keyboard consoles
 * (see console_input.h). A ring buffer under a spinlock is filled from interrupt handlers
 * (serial receive interrupt, PS/2 keyboard); readers sleep on a wait queue with the timeout
 * contract of wait.h. The serial side follows the PC16550D data sheet (IER bit 0, "received
 * data available" and character-timeout interrupts on ISA IRQ 4); when that interrupt cannot
 * be routed, a 10 ms kernel timer polls the UART instead. */
#include "console_input.h"
#include "spinlock.h"
#include "wait.h"
#include "ktimer.h"
#include "serial.h"
#include "printk.h"
#include "kerrno.h"
#include "time.h"

#define SERIAL_POLL_NS 10000000ull   /* 10 ms */
#define SERIAL_POLL_BUDGET 64        /* bytes taken per poll */

static struct {
    spinlock_t lock;
    char ring[CONSOLE_INPUT_RING];
    volatile uint32_t head, tail;    /* head: next write, tail: next read */
    uint64_t received, dropped;
    int serial_vector;
    bool serial_polled;
    bool initialised;
} in = {
    .lock = SPINLOCK_INIT("console-input"),
    .serial_vector = -1,
};

static struct wait_queue readers = WAIT_QUEUE_INIT("console-input");
static struct ktimer serial_poll_timer;

static uint32_t used_locked(void) { return (in.head - in.tail + CONSOLE_INPUT_RING) % CONSOLE_INPUT_RING; }

/* Cheap and lock-free, for the wait condition: a torn view only means one more check. */
static bool input_waiting(void) {
    return __atomic_load_n(&in.head, __ATOMIC_ACQUIRE) != __atomic_load_n(&in.tail, __ATOMIC_ACQUIRE);
}

bool console_input_push_seq(const char *s, size_t n) {
    if (n == 0) return true;
    uint64_t flags = spin_lock_irqsave(&in.lock);
    bool fits = used_locked() + n < CONSOLE_INPUT_RING;
    if (fits) {
        for (size_t i = 0; i < n; i++) {
            in.ring[in.head] = s[i];
            __atomic_store_n(&in.head, (in.head + 1) % CONSOLE_INPUT_RING, __ATOMIC_RELEASE);
        }
        in.received += n;
    } else {
        in.dropped += n;
    }
    spin_unlock_irqrestore(&in.lock, flags);
    if (fits) wake_up_all(&readers);
    return fits;
}

void console_input_push(char c) { (void)console_input_push_seq(&c, 1); }

/* Takes one byte, -1 when empty. */
static int pop(void) {
    int c = -1;
    uint64_t flags = spin_lock_irqsave(&in.lock);
    if (in.tail != in.head) {
        c = (unsigned char)in.ring[in.tail];
        __atomic_store_n(&in.tail, (in.tail + 1) % CONSOLE_INPUT_RING, __ATOMIC_RELEASE);
    }
    spin_unlock_irqrestore(&in.lock, flags);
    return c;
}

int console_getchar(uint64_t timeout_ns) {
    int c = pop();
    if (c >= 0 || timeout_ns == 0) return c;
    uint64_t deadline = wait_deadline(timeout_ns);
    for (;;) {
        uint64_t left = WAIT_FOREVER;
        if (deadline != WAIT_FOREVER) {
            uint64_t now = time_ns();
            if (now >= deadline) return -1;
            left = deadline - now;
        }
        /* The condition has no side effect: the byte is taken after the wait, and another
         * reader taking it first just sends this one back to sleep. */
        int r = wait_event_timeout(&readers, input_waiting(), left);
        if (r < 0) return -KEINTR;
        c = pop();
        if (c >= 0) return c;
        if (r == 0) return -1;
    }
}

size_t console_input_flush(void) {
    uint64_t flags = spin_lock_irqsave(&in.lock);
    size_t n = used_locked();
    __atomic_store_n(&in.tail, in.head, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&in.lock, flags);
    return n;
}

void console_input_get_stats(struct console_input_stats *out) {
    uint64_t flags = spin_lock_irqsave(&in.lock);
    out->received = in.received;
    out->dropped = in.dropped;
    out->queued = used_locked();
    out->serial_vector = in.serial_vector;
    out->serial_polled = in.serial_polled;
    spin_unlock_irqrestore(&in.lock, flags);
    out->waiters = wait_queue_length(&readers);
}

/* ---- serial ---- */

static void serial_byte(uint8_t b) { console_input_push((char)b); }

/* Fallback: runs in timer interrupt context every 10 ms. */
static void serial_poll(struct ktimer *t, void *arg) {
    for (int i = 0; i < SERIAL_POLL_BUDGET; i++) {
        int c = serial_getchar();
        if (c < 0) break;
        console_input_push((char)c);
    }
    ktimer_start(t, time_ns() + SERIAL_POLL_NS, serial_poll, arg);
}

void console_input_init(void) {
    uint64_t flags = spin_lock_irqsave(&in.lock);
    bool first = !in.initialised;
    in.initialised = true;
    spin_unlock_irqrestore(&in.lock, flags);
    if (!first) return;
    int vector = serial_enable_rx_interrupt(serial_byte);
    if (vector >= 0) {
        in.serial_vector = vector;
        printk(LOG_INFO, "console: serial input on IRQ4 vector %d\n", vector);
        return;
    }
    if (vector == -KENODEV) {
        printk(LOG_INFO, "console: no serial port, keyboard input only\n");
        return;
    }
    in.serial_polled = true;
    printk(LOG_WARN, "console: cannot route the serial interrupt (%d), polling COM1 every 10 ms\n", vector);
    ktimer_start(&serial_poll_timer, time_ns() + SERIAL_POLL_NS, serial_poll, NULL);
}
