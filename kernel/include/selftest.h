/* selftest.h: kernel self-tests. A test is registered with
 *
 *   SELFTEST(group, name) { ST_ASSERT(t, 1 + 1 == 2, "math broke: %d", 3); }
 *
 * It lands in the "selftests" linker section; `selftest` on the kernel command line runs all
 * of them (or `selftest=GROUP` one group) and prints "[PASS] group.name" or
 * "[FAIL] group.name: reason" per test, then "N passed, N failed", then powers off. */
#pragma once
#include "types.h"

struct selftest_ctx {
    bool failed;
    char reason[160];
};

struct selftest {
    const char *group;
    const char *name;
    void (*fn)(struct selftest_ctx *t);
    uint32_t timeout_ms; /* 0 = default (10 s) */
};

/* Marks the test failed with a reason (the first failure's reason is kept). */
void selftest_fail(struct selftest_ctx *t, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define SELFTEST_TIMEOUT(group, name, ms)                                                   \
    static void selftest_fn_##group##_##name(struct selftest_ctx *t);                       \
    static const struct selftest selftest_##group##_##name                                  \
        __attribute__((used, section("selftests"), aligned(8))) = {                         \
            #group, #name, selftest_fn_##group##_##name, ms};                               \
    static void selftest_fn_##group##_##name(struct selftest_ctx *t)
#define SELFTEST(group, name) SELFTEST_TIMEOUT(group, name, 0)

/* Fails the test and returns from it when cond is false. */
#define ST_ASSERT(t, cond, ...)                                                             \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            selftest_fail((t), __VA_ARGS__);                                                \
            return;                                                                         \
        }                                                                                   \
    } while (0)

/* Runs the tests whose group matches (NULL = all); prints results; returns failures. */
int selftest_run(const char *group);
/* Number of registered tests. */
int selftest_count(void);
/* The `selftest` boot mode: runs the tests and powers QEMU off with the verdict. */
NORETURN void selftest_boot_mode(const char *group);
