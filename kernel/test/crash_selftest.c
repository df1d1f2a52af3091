/* crash_selftest.c: self-tests that end the run on purpose, to prove the harness never hangs
 * and always reports: a panic, an unhandled exception (with its full report and symbolised
 * backtrace), a hang, and a triple fault. Groups named crash_* run only when named on the
 * command line (selftest=crash_panic, ...); scripts/test.sh boots each one and checks the
 * verdict and the log. */
#include "types.h"
#include "selftest.h"
#include "panic.h"
#include "cpu.h"

SELFTEST(crash_panic, panics) {
    panic("deliberate panic from a self-test");
}

SELFTEST(crash_fault, unhandled_page_fault) {
    (void)*(volatile uint64_t *)0x0000000dead00000ull;
    selftest_fail(t, "reading an unmapped address did not fault");
}

SELFTEST_TIMEOUT(crash_hang, spins_forever, 500) {
    for (;;) cpu_relax();
}

SELFTEST(crash_triple, triple_fault) {
    struct {
        uint16_t limit;
        uint64_t base;
    } PACKED empty = {0, 0};
    __asm__ volatile("lidt %0; int3" ::"m"(empty));
    selftest_fail(t, "an int3 with an empty IDT did not reset the machine");
}
