/* kprintf.h: the kernel's formatted-output core (kernel/lib/printf.c).
 * Supported: %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '+' ' ' '#', field width and
 * precision (also '*'), length modifiers hh h l ll z t j. %p prints 0x followed by 16 hex digits.
 * A NULL %s prints "(null)". An unknown conversion is printed literally. */
#pragma once
#include "types.h"

/* Formats into buf (always NUL-terminated when size > 0); returns the length the full
 * output would have had, like C99 vsnprintf. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4);
