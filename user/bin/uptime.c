/* uptime: how long the system has been running (procps-style; proc(5) /proc/uptime, loadavg).
 *
 * uptime: " HH:MM:SS up [D day(s), ]H:MM" (or "M min") from the first field of /proc/uptime and
 * the UTC wall clock, followed by ",  load average: A, B, C" when /proc/loadavg exists. */
#include "ulib.h"
#include <time.h>

int main(int argc, char **argv) {
    ulib_prog = "uptime";
    if (argc > 1) uusage("(no options)");
    char buf[256];
    if (uread_file("/proc/uptime", buf, sizeof buf) < 0) {
        uerr("/proc/uptime");
        return 1;
    }
    char *end;
    unsigned long long up = strtoull(buf, &end, 10);
    if (end == buf) {
        uwarnx("/proc/uptime: malformed");
        return 1;
    }
    time_t now = time(NULL);
    struct tm tm;
    char clock[16] = "??:??:??";
    if (gmtime_r(&now, &tm)) strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    printf(" %s up ", clock);
    unsigned long long days = up / 86400, hours = up / 3600 % 24, mins = up / 60 % 60;
    if (days) printf("%llu day%s, ", days, days == 1 ? "" : "s");
    if (hours) printf("%2llu:%02llu", hours, mins);
    else printf("%llu min", mins);
    if (uread_file("/proc/loadavg", buf, sizeof buf) > 0) {
        char a[16], b[16], c[16];
        if (sscanf(buf, "%15s %15s %15s", a, b, c) == 3) printf(",  load average: %s, %s, %s", a, b, c);
    }
    putchar('\n');
    return fflush(stdout) ? 1 : 0;
}
