/* panic.c: stopping the kernel with a reason and a backtrace. In selftest mode the verdict
 * is reported as a failure and QEMU is powered off, so a panic never leaves CI stuck. */
#include "types.h"
#include "cpu.h"
#include "panic.h"
#include "printk.h"
#include "kprintf.h"
#include "fault.h"
#include "kernel.h"
#include "power.h"

static int panicking;

void panic(const char *fmt, ...) {
    cli();
    if (panicking++) {
        static const char msg[] = "\nnested panic, halting\n";
        console_write(msg, sizeof(msg) - 1);
        if (kopts.selftest) qemu_debug_exit(0x11); /* failing verdict: CI must not wait */
        for (;;) hlt();
    }
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printk(LOG_ERR, "KERNEL PANIC: %s\n", buf);
    backtrace_here();
    selftest_abort(buf);
    printk(LOG_ERR, "system halted\n");
    for (;;) hlt();
}
