/* date: write the date and time (POSIX.1-2017 XCU "date"), always in UTC.
 *
 * date [+FORMAT]: the current time from clock_gettime(CLOCK_REALTIME) as "%a %b %e %H:%M:%S UTC
 * %Y" (what `date -u` prints in the POSIX locale), or formatted by strftime with FORMAT.
 * Setting the clock is not provided; other operands are usage errors (exit 2). */
#include "ulib.h"
#include <time.h>

int main(int argc, char **argv) {
    ulib_prog = "date";
    int i = 1;
    if (i < argc && !strcmp(argv[i], "-u")) i++; /* always UTC anyway */
    const char *fmt = "%a %b %e %H:%M:%S UTC %Y";
    if (i < argc) {
        if (argv[i][0] != '+' || i + 1 < argc) uusage("[-u] [+FORMAT]");
        fmt = argv[i] + 1;
    }
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
        uerr("clock_gettime");
        return 1;
    }
    struct tm tm;
    time_t t = ts.tv_sec;
    if (!gmtime_r(&t, &tm)) {
        uerr("gmtime");
        return 1;
    }
    char out[1024];
    size_t n = strftime(out, sizeof out, fmt, &tm);
    if (n == 0 && *fmt) {
        uwarnx("format too long or empty result");
        return 1;
    }
    printf("%s\n", out);
    return fflush(stdout) ? 1 : 0;
}
