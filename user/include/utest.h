/* utest.h: the PASS/FAIL lines of SABOS's user-space test programs (forktest, pipetest,
 * faulttest, forkbomb, threadtest, ...). Each check prints "PASS name" or "FAIL name: why";
 * a program ends with "NAME: PASS" or "NAME: FAIL" and exits 0 only when nothing failed.
 * The guest's self-tests (kernel/proc/proc_selftest.c) and scripts/test.sh read these lines. */
#pragma once
#include <stdarg.h>
#include <stdio.h>

static int failures;

static inline void pass(const char *name) { printf("PASS %s\n", name); }

static inline void __attribute__((format(printf, 2, 3))) fail(const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", name);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    failures++;
}
