/* printk.c: kernel logging (printk.h): the log ring buffer (dmesg), the console list and the
 * console level filter.
 *
 * No external specification; the line format is our own:
 *   "[   12.345678] [WARN] text\n"
 * seconds.microseconds since boot from printk_clock_ns(), then "[WARN] " or "[ERR] " for
 * warnings and errors. Every line of a message gets the prefix; a message that does not end in
 * '\n' leaves its line open and the next message continues it without a new prefix.
 *
 * A message is formatted into a 512-byte buffer on the stack (no allocation, so printk works
 * from interrupt and exception handlers); a longer one is cut and ends in "...\n".
 *
 * The ring keeps the newest KLOG_SIZE bytes of text. Positions are 64-bit byte counts that
 * only grow (head = bytes ever stored, tail = first byte still kept), so the index can never
 * wrap into an inconsistent state; when old text must go, the tail moves to the next line
 * start, so a reader never sees half a message at the front.
 *
 * Locking: the ring, the console list and the line state are protected by disabling
 * interrupts on this CPU (irq_save/irq_restore). This is enough while one CPU runs; a proper
 * spinlock type comes later and must then be taken here as well (irq_save + spin_lock).
 * An exception or NMI that arrives while printk is writing can itself call printk on the same
 * CPU: the nested call skips any sink (ring or consoles) that the interrupted call is in the
 * middle of, so it never corrupts the ring or re-enters a console driver.
 *
 * Host tests: in HOST_TEST builds the interrupt calls are no-ops and printk/vprintk are left
 * out (host_stubs.h provides them); everything else, printk_emit included, is host-tested. */
#include "printk.h"
#include "kprintf.h"
#include "kstring.h"

#ifdef HOST_TEST
static inline uint64_t log_lock(void) { return 0; }
static inline void log_unlock(uint64_t flags) { (void)flags; }
#else
#include "cpu.h"
/* Interrupts off on this CPU; see the locking note at the top (a spinlock comes later). */
static inline uint64_t log_lock(void) { return irq_save(); }
static inline void log_unlock(uint64_t flags) { irq_restore(flags); }
#endif

/* Longest formatted message; longer ones are cut and end in "...\n". */
#define PRINTK_MESSAGE_MAX 512
/* How far past the drop point the ring looks for a line end to drop up to. Longer than any
 * printk line (message plus prefix); text appended raw may have longer lines, which are then
 * cut mid-line. */
#define KLOG_LINE_SEARCH_MAX 1024

static char klog_ring[KLOG_SIZE];
static uint64_t klog_head; /* bytes ever stored; the next byte goes to klog_head % KLOG_SIZE */
static uint64_t klog_tail; /* oldest byte still kept; klog_head - klog_tail <= KLOG_SIZE */
static bool klog_mid_line; /* the ring's last line has no '\n' yet */

static struct console *console_list;
static bool console_mid_line;
static enum log_level console_level = LOG_INFO;

/* Sinks a printk on this CPU is writing to right now (see the nesting note at the top). */
#define SINK_RING 1u
#define SINK_CONSOLES 2u
static unsigned printk_busy_sinks;

/* Returns the first line start at or after pos, looking at the kept text before the new text
 * is copied in: the position after the first '\n' in [pos-1, klog_head), searched for at most
 * KLOG_LINE_SEARCH_MAX bytes; pos itself when there is none. Needs klog_tail < pos. */
static uint64_t klog_line_start_from(uint64_t pos) {
    uint64_t end = klog_head - (pos - 1) > KLOG_LINE_SEARCH_MAX ? pos - 1 + KLOG_LINE_SEARCH_MAX
                                                                : klog_head;
    for (uint64_t p = pos - 1; p < end; p++) {
        if (klog_ring[p % KLOG_SIZE] == '\n')
            return p + 1;
    }
    return pos;
}

/* Appends text to the ring, dropping the oldest text as needed. Caller holds the log lock. */
static void klog_store(const char *text, size_t len) {
    if (len == 0)
        return;
    if (len >= KLOG_SIZE) {
        /* The text alone fills the ring: keep its newest KLOG_SIZE bytes and nothing older. */
        text += len - KLOG_SIZE;
        klog_head += len - KLOG_SIZE;
        len = KLOG_SIZE;
        klog_tail = klog_head;
    } else if (klog_head + len - klog_tail > KLOG_SIZE) {
        /* Drop at least the overflow, up to the next line start, before it is overwritten. */
        klog_tail = klog_line_start_from(klog_head + len - KLOG_SIZE);
    }
    size_t offset = (size_t)(klog_head % KLOG_SIZE);
    size_t first = KLOG_SIZE - offset < len ? KLOG_SIZE - offset : len;
    memcpy(klog_ring + offset, text, first);
    memcpy(klog_ring, text + first, len - first);
    klog_head += len;
    klog_mid_line = text[len - 1] != '\n';
}

/* Appends raw text to the log ring buffer only: no timestamp, no consoles. */
void klog_append(const char *text, size_t len) {
    if (text == NULL)
        return;
    uint64_t flags = log_lock();
    klog_store(text, len);
    log_unlock(flags);
}

/* Copies the newest text that fits in size-1 bytes (all of it when size > KLOG_SIZE) into buf,
 * oldest first, NUL-terminated; returns the number of bytes copied. When the copy has to
 * start inside the log, it starts at the next line start if there is one. */
size_t klog_read(char *buf, size_t size) {
    if (buf == NULL || size == 0)
        return 0;
    uint64_t flags = log_lock();
    uint64_t count = klog_head - klog_tail;
    if (count > size - 1)
        count = size - 1;
    uint64_t start = klog_head - count;
    if (start > klog_tail && klog_ring[(start - 1) % KLOG_SIZE] != '\n') {
        /* Skip the partial first line, unless that would leave nothing. */
        for (uint64_t p = start; p + 1 < klog_head; p++) {
            if (klog_ring[p % KLOG_SIZE] == '\n') {
                start = p + 1;
                break;
            }
        }
        count = klog_head - start;
    }
    size_t offset = (size_t)(start % KLOG_SIZE);
    size_t first = KLOG_SIZE - offset < count ? KLOG_SIZE - offset : (size_t)count;
    memcpy(buf, klog_ring + offset, first);
    memcpy(buf + first, klog_ring, (size_t)count - first);
    log_unlock(flags);
    buf[count] = 0;
    return (size_t)count;
}

/* Writes text to every registered console. Caller holds the log lock. */
static void consoles_write(const char *s, size_t len) {
    for (struct console *con = console_list; con != NULL; con = con->next) {
        if (con->write != NULL)
            con->write(s, len);
    }
}

/* Adds a console at the end of the list; registering the same console twice does nothing. */
void console_register(struct console *con) {
    if (con == NULL)
        return;
    uint64_t flags = log_lock();
    struct console **link = &console_list;
    while (*link != NULL && *link != con)
        link = &(*link)->next;
    if (*link == NULL) {
        con->next = NULL;
        *link = con;
    }
    log_unlock(flags);
}

/* Writes raw text to every console, bypassing the log (used by the panic path). */
void console_write(const char *s, size_t len) {
    if (s == NULL || len == 0)
        return;
    uint64_t flags = log_lock();
    consoles_write(s, len);
    log_unlock(flags);
}

/* Shows messages of this level and more important ones on the consoles. */
void printk_set_console_level(enum log_level level) {
    if ((int)level < LOG_ERR)
        level = LOG_ERR;
    if ((int)level > LOG_DEBUG)
        level = LOG_DEBUG;
    console_level = level;
}

/* Formats "[sssss.uuuuuu] " plus the level tag into buf; returns its length. */
static size_t printk_format_prefix(char *buf, size_t size, enum log_level level,
                                   uint64_t now_ns) {
    const char *tag = level == LOG_ERR ? "[ERR] " : level == LOG_WARN ? "[WARN] " : "";
    int n = ksnprintf(buf, size, "[%5llu.%06llu] %s", (unsigned long long)(now_ns / 1000000000u),
                      (unsigned long long)(now_ns % 1000000000u / 1000u), tag);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

/* Writes msg to one sink, putting the prefix before every line that starts in it. */
static void emit_lines(unsigned sink, bool *mid_line, const char *prefix, size_t prefix_len,
                       const char *msg, size_t len) {
    while (len > 0) {
        size_t line_len = 0;
        while (line_len < len && msg[line_len++] != '\n')
            ;
        if (sink == SINK_RING) {
            if (!*mid_line)
                klog_store(prefix, prefix_len);
            klog_store(msg, line_len);
        } else {
            if (!*mid_line)
                consoles_write(prefix, prefix_len);
            consoles_write(msg, line_len);
        }
        *mid_line = msg[line_len - 1] != '\n';
        msg += line_len;
        len -= line_len;
    }
}

/* Logs one already formatted message taken at time now_ns: into the ring always, onto the
 * consoles when level passes the console filter. */
static void printk_emit(enum log_level level, uint64_t now_ns, const char *msg, size_t len) {
    if ((int)level < LOG_ERR)
        level = LOG_ERR;
    if ((int)level > LOG_DEBUG)
        level = LOG_DEBUG;
    char prefix[48];
    size_t prefix_len = printk_format_prefix(prefix, sizeof(prefix), level, now_ns);

    uint64_t flags = log_lock();
    if (!(printk_busy_sinks & SINK_RING)) {
        printk_busy_sinks |= SINK_RING;
        emit_lines(SINK_RING, &klog_mid_line, prefix, prefix_len, msg, len);
        printk_busy_sinks &= ~SINK_RING;
    }
    if (level <= console_level && !(printk_busy_sinks & SINK_CONSOLES)) {
        printk_busy_sinks |= SINK_CONSOLES;
        emit_lines(SINK_CONSOLES, &console_mid_line, prefix, prefix_len, msg, len);
        printk_busy_sinks &= ~SINK_CONSOLES;
    }
    log_unlock(flags);
}

/* Formats a message into buf (size >= 5); a message that does not fit is cut and ends in
 * "...\n". Returns the length of the text in buf. */
static size_t printk_format_message(char *buf, size_t size, const char *fmt, va_list ap) {
    int n = kvsnprintf(buf, size, fmt, ap);
    if (n >= 0 && (size_t)n < size)
        return (size_t)n;
    memcpy(buf + size - 5, "...\n", 5);
    return size - 1;
}

#ifndef HOST_TEST
/* Default clock until the time module links in the real one: every timestamp reads 0. */
__attribute__((weak)) uint64_t printk_clock_ns(void) { return 0; }

/* Logs one message at a level (see printk). */
void vprintk(enum log_level level, const char *fmt, va_list ap) {
    char msg[PRINTK_MESSAGE_MAX];
    size_t len = printk_format_message(msg, sizeof(msg), fmt, ap);
    printk_emit(level, printk_clock_ns(), msg, len);
}

/* Logs one message at a level; the level prefix is shown for warnings and errors. */
void printk(enum log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}

/* Formats to the consoles only: no log entry, no timestamp (output of shell commands). */
void kprintf(const char *fmt, ...) {
    char msg[PRINTK_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t len = printk_format_message(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    console_write(msg, len);
}
#endif
