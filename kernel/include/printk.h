/* printk.h: kernel logging. Every message goes into the log ring buffer (dmesg) and to every
 * registered console (serial, framebuffer). */
#pragma once
#include "types.h"

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* A console is a sink for kernel text. write() may be called with interrupts off. */
struct console {
    const char *name;
    void (*write)(const char *s, size_t len);
    struct console *next;
};

/* Adds a console; everything printed from now on also goes there. */
void console_register(struct console *con);
/* Logs one message at a level; the level prefix is shown for warnings and errors. */
void printk(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);
void vprintk(enum log_level level, const char *fmt, va_list ap);
/* Formats to the consoles only: no log entry and no timestamp. For the output of shell
 * commands; kernel events go through printk. */
void kprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Writes raw text to every console without touching the log (used by the panic path). */
void console_write(const char *s, size_t len);
/* Copies up to size-1 bytes of the log ring buffer (oldest first) into buf; returns length. */
size_t klog_read(char *buf, size_t size);
/* Messages below this level are kept in the ring but not shown on the consoles. */
void printk_set_console_level(enum log_level level);

/* Size of the log ring buffer: a buffer of KLOG_SIZE + 1 bytes receives the whole log from
 * klog_read. When the ring is full the oldest lines are dropped (whole lines where possible). */
#define KLOG_SIZE (64 * 1024)
/* klog_read detail: when the log holds more than size-1 bytes, the newest text that fits is
 * returned (still oldest first), starting at a line boundary when one is in range. */
/* Appends raw text to the log ring buffer only: no timestamp, no consoles. */
void klog_append(const char *text, size_t len);
/* Monotonic time since boot in nanoseconds, for the "[   12.345678] " line prefix. The time
 * module provides it; until then a weak default in printk.c returns 0. Must be callable from
 * interrupt and exception handlers. */
uint64_t printk_clock_ns(void);

#define pr_err(...) printk(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) printk(LOG_WARN, __VA_ARGS__)
#define pr_info(...) printk(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) printk(LOG_DEBUG, __VA_ARGS__)
