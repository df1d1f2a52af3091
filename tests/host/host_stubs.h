/* host_stubs.h: what kernel code expects from the rest of the kernel, for host unit tests.
 * A host test #includes the kernel .c files it tests (one translation unit per test program)
 * and this header once, before them. printk goes to stderr; panic aborts the test. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include "types.h"
#include "printk.h"
#include "panic.h"

void vprintk(enum log_level level, const char *fmt, va_list ap) {
    (void)level;
    vfprintf(stderr, fmt, ap);
}
void printk(enum log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}
void panic(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fail_msg("kernel code panicked");
    abort();
}
