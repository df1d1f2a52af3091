/* sleep: suspend execution for an interval (POSIX.1-2017 XCU "sleep", with fractions).
 *
 * sleep SECONDS...: sleeps for the sum of the operands; each is a decimal number with an
 * optional fraction ("0.25") and an optional unit s, m, h or d. Parsed without floating point
 * (nanosecond resolution); nanosleep is resumed with the time left when a signal interrupts it.
 * A malformed operand is a usage error (exit 2). */
#include "ulib.h"
#include <time.h>

/* Parses "12.345[smhd]" into nanoseconds; false when malformed or absurdly long. */
static bool parse_interval(const char *s, unsigned long long *ns) {
    unsigned long long whole = 0, frac = 0, scale = 1000000000ull;
    const char *p = s;
    bool any = false;
    while (*p >= '0' && *p <= '9') {
        if (whole > 100000000000ull) return false;
        whole = whole * 10 + (unsigned long long)(*p++ - '0');
        any = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (unsigned long long)(*p - '0') * scale;
            }
            p++;
            any = true;
        }
    }
    if (!any) return false;
    unsigned long long mul = 1;
    switch (*p) {
    case '\0': case 's': break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    default: return false;
    }
    if (*p && p[1]) return false;
    if (whole > 10000000000ull / mul) return false; /* > ~317 years */
    *ns = whole * mul * 1000000000ull + frac * mul;
    return true;
}

int main(int argc, char **argv) {
    ulib_prog = "sleep";
    int first = 1;
    if (first < argc && !strcmp(argv[first], "--")) first++;
    if (first >= argc) uusage("SECONDS...");
    unsigned long long total = 0;
    for (int i = first; i < argc; i++) {
        unsigned long long ns;
        if (!parse_interval(argv[i], &ns)) {
            uwarnx("%s: invalid time interval", argv[i]);
            return 2;
        }
        total += ns;
    }
    struct timespec req = {(time_t)(total / 1000000000ull), (long)(total % 1000000000ull)}, rem;
    while (nanosleep(&req, &rem) < 0) {
        if (errno != EINTR) {
            uerr("nanosleep");
            return 1;
        }
        req = rem;
    }
    return 0;
}
