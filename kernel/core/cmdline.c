/* cmdline.c: the kernel command line (from \sabos\cmdline.txt on the ESP, passed by the
 * loader). Words are separated by spaces: `selftest`, `selftest=GROUP`, `loglevel=0..3`,
 * `poweroff` (power off after the banner: used by the boot-configuration tests), `bench`
 * (the scheduler benchmarks of kernel/test/bench.c, then power off: scripts/bench.sh). */
#include "types.h"
#include "kstring.h"
#include "kernel.h"

static bool word_is(const char *w, size_t n, const char *lit) {
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

int cmdline_parse(const char *cmdline, struct kernel_options *out) {
    memset(out, 0, sizeof(*out));
    out->loglevel = 2;
    memcpy(out->init, "/sbin/init", sizeof "/sbin/init");
    int understood = 0;
    const char *p = cmdline;
    while (p && *p) {
        while (*p == ' ' || *p == '\t') p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - w);
        if (!n) break;
        if (word_is(w, n, "selftest")) {
            out->selftest = true;
            understood++;
        } else if (n > 9 && memcmp(w, "selftest=", 9) == 0 && n - 9 < sizeof(out->selftest_group)) {
            out->selftest = true;
            memcpy(out->selftest_group, w + 9, n - 9);
            out->selftest_group[n - 9] = 0;
            understood++;
        } else if (word_is(w, n, "bench")) {
            out->bench = true;
            understood++;
        } else if (word_is(w, n, "poweroff")) {
            out->poweroff = true;
            understood++;
        } else if (n > 5 && memcmp(w, "init=", 5) == 0 && n - 5 < sizeof(out->init)) {
            memcpy(out->init, w + 5, n - 5);
            out->init[n - 5] = 0;
            understood++;
        } else if (n == 10 && memcmp(w, "loglevel=", 9) == 0 && w[9] >= '0' && w[9] <= '3') {
            out->loglevel = w[9] - '0';
            understood++;
        }
    }
    return understood;
}
