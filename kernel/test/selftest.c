/* selftest.c: the kernel self-test runner. Tests live in the "selftests" linker section
 * (SELFTEST macro, selftest.h). Each prints "[PASS] group.name" or "[FAIL] group.name: reason";
 * the run ends with "N passed, N failed". A test that runs past its time limit is failed by
 * a watchdog timer, and a panic or unexpected exception during a test fails that test;
 * both end the run with a failing verdict instead of hanging CI. */
#include "types.h"
#include "selftest.h"
#include "printk.h"
#include "kprintf.h"
#include "kstring.h"
#include "kernel.h"
#include "time.h"
#include "power.h"
#include "cpu.h"
#include "ktimer.h"

extern const struct selftest __selftests_start[], __selftests_end[];

static const struct selftest *current;
static volatile uint64_t deadline_ns;
static int passed, failed;
static bool running;

#define EXIT_PASS 0x10 /* QEMU exits with (code << 1) | 1 = 33 */
#define EXIT_FAIL 0x11 /* 35 */

void selftest_fail(struct selftest_ctx *t, const char *fmt, ...) {
    if (t->failed) return;
    t->failed = true;
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(t->reason, sizeof(t->reason), fmt, ap);
    va_end(ap);
}

static void summary_and_exit(void) {
    printk(LOG_INFO, "%d passed, %d failed\n", passed, failed);
    qemu_debug_exit(failed ? EXIT_FAIL : EXIT_PASS);
}

void selftest_abort(const char *why) {
    if (!running && !kopts.selftest) return;
    if (!running) {
        /* In selftest mode but outside a test (during boot, or after the run): still a
         * failing verdict, never a silent halt that leaves CI waiting for its timeout. */
        printk(LOG_ERR, "[FAIL] selftest.boot: %s\n", why);
        qemu_debug_exit(EXIT_FAIL);
    }
    running = false;
    if (current) {
        printk(LOG_ERR, "[FAIL] %s.%s: %s\n", current->group, current->name, why);
        failed++;
    }
    summary_and_exit();
}

/* Fires when a test overruns its time limit (interrupt context): ends the run. */
static void watchdog_fired(struct ktimer *t, void *arg) {
    (void)t;
    (void)arg;
    if (running && current && deadline_ns) {
        deadline_ns = 0;
        selftest_abort("timed out (the test hung)");
    }
}

int selftest_count(void) { return (int)(__selftests_end - __selftests_start); }

/* Groups named crash_* end the run on purpose (they check the harness itself), groups named
 * *_persist leave data behind on disks or in the host's shared directory for a host-side
 * check, and groups named *_hw need a device the default launcher does not attach (test.sh
 * boots them with it): all three run only when named explicitly, never as part of "all". */
static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool selected(const struct selftest *st, const char *group) {
    if (group && *group) return strcmp(group, st->group) == 0;
    return strncmp(st->group, "crash_", 6) != 0 && !ends_with(st->group, "_persist") && !ends_with(st->group, "_hw");
}

int selftest_run(const char *group) {
    static struct ktimer watchdog;
    passed = failed = 0;
    running = true;
    int total = 0;
    for (const struct selftest *st = __selftests_start; st < __selftests_end; st++)
        if (selected(st, group)) total++;
    printk(LOG_INFO, "selftest: running %d tests%s%s\n", total, group && *group ? " in group " : "",
           group && *group ? group : "");
    if (total == 0) {
        /* A mistyped group must not look like success. */
        printk(LOG_INFO, "[FAIL] selftest.group: no test in group '%s'\n", group ? group : "");
        failed++;
    }
    for (const struct selftest *st = __selftests_start; st < __selftests_end; st++) {
        if (!selected(st, group)) continue;
        struct selftest_ctx ctx = {0};
        current = st;
        uint64_t limit_ms = st->timeout_ms ? st->timeout_ms : 10000;
        deadline_ns = time_ns() + limit_ms * 1000000ull;
        ktimer_start(&watchdog, deadline_ns, watchdog_fired, NULL);
        st->fn(&ctx);
        ktimer_cancel(&watchdog);
        deadline_ns = 0;
        current = NULL;
        if (!(read_rflags() & (1u << 9))) {
            /* Without interrupts the watchdog is blind for every later test. */
            selftest_fail(&ctx, "left interrupts disabled");
            sti();
        }
        if (ctx.failed) {
            failed++;
            printk(LOG_INFO, "[FAIL] %s.%s: %s\n", st->group, st->name, ctx.reason);
        } else {
            passed++;
            printk(LOG_INFO, "[PASS] %s.%s\n", st->group, st->name);
        }
    }
    running = false;
    printk(LOG_INFO, "%d passed, %d failed\n", passed, failed);
    return failed;
}

/* Selftest boot mode: run everything (or one group) and power off with the verdict. */
NORETURN void selftest_boot_mode(const char *group) {
    selftest_run(group);
    running = true;
    current = NULL;
    qemu_debug_exit(failed ? EXIT_FAIL : EXIT_PASS);
}
