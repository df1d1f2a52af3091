/* kill: send a signal to processes (POSIX.1-2017 XCU "kill"; Linux signal numbers, signal(7)).
 *
 * kill [-SIGNAL | -s SIGNAL] PID...   (default SIGTERM; SIGNAL is a name with or without "SIG",
 *                                      or a number; a negative PID names a process group)
 * kill -l [N]                          (the signal names, or the name of signal N)
 * Errors: "kill: PID: strerror", exit status 1; an unknown signal or usage error exits 2. */
#include "ulib.h"
#include <signal.h>
#include <strings.h>

static const char *const names[] = {
    [1] = "HUP",     [2] = "INT",     [3] = "QUIT",  [4] = "ILL",     [5] = "TRAP",
    [6] = "ABRT",    [7] = "BUS",     [8] = "FPE",   [9] = "KILL",    [10] = "USR1",
    [11] = "SEGV",   [12] = "USR2",   [13] = "PIPE", [14] = "ALRM",   [15] = "TERM",
    [16] = "STKFLT", [17] = "CHLD",   [18] = "CONT", [19] = "STOP",   [20] = "TSTP",
    [21] = "TTIN",   [22] = "TTOU",   [23] = "URG",  [24] = "XCPU",   [25] = "XFSZ",
    [26] = "VTALRM", [27] = "PROF",   [28] = "WINCH", [29] = "POLL",  [30] = "PWR",
    [31] = "SYS",
};
#define NNAMES ((int)(sizeof names / sizeof names[0]))

/* Signal number for a name ("TERM", "SIGTERM", any case) or number; -1 when unknown. */
static int parse_signal(const char *s) {
    long long v;
    if (uparse_ll(s, &v)) return (v >= 0 && v <= 64) ? (int)v : -1;
    if (!strncasecmp(s, "SIG", 3)) s += 3;
    for (int i = 1; i < NNAMES; i++)
        if (!strcasecmp(s, names[i])) return i;
    if (!strcasecmp(s, "IO")) return SIGIO;
    return -1;
}

static int list(const char *arg) {
    if (!arg) {
        for (int i = 1; i < NNAMES; i++) printf("%s%c", names[i], (i % 16 == 0 || i == NNAMES - 1) ? '\n' : ' ');
        return 0;
    }
    long long v;
    if (uparse_ll(arg, &v)) {
        if (v > 128) v -= 128; /* an exit status 128+N */
        if (v < 1 || v >= NNAMES) {
            uwarnx("%s: unknown signal", arg);
            return 2;
        }
        printf("%s\n", names[v]);
        return 0;
    }
    int s = parse_signal(arg);
    if (s < 0) {
        uwarnx("%s: unknown signal", arg);
        return 2;
    }
    printf("%d\n", s);
    return 0;
}

int main(int argc, char **argv) {
    ulib_prog = "kill";
    const char *usage = "[-SIGNAL | -s SIGNAL] PID... | -l [N]";
    int sig = SIGTERM, i = 1;
    if (i < argc && !strcmp(argv[i], "-l")) return list(i + 1 < argc ? argv[i + 1] : NULL);
    if (i < argc && !strcmp(argv[i], "-s")) {
        if (i + 1 >= argc) uusage(usage);
        if ((sig = parse_signal(argv[i + 1])) < 0) {
            uwarnx("%s: unknown signal", argv[i + 1]);
            return 2;
        }
        i += 2;
    } else if (i < argc && !strcmp(argv[i], "--")) {
        i++;
    } else if (i < argc && argv[i][0] == '-' && argv[i][1]) {
        if ((sig = parse_signal(argv[i] + 1)) < 0) {
            uwarnx("%s: unknown signal", argv[i] + 1);
            return 2;
        }
        i++;
    }
    if (i < argc && !strcmp(argv[i], "--")) i++;
    if (i >= argc) uusage(usage);
    int rc = 0;
    for (; i < argc; i++) {
        long long pid;
        if (!uparse_ll(argv[i], &pid) || pid != (pid_t)pid) {
            uwarnx("%s: not a process id", argv[i]);
            rc = 1;
            continue;
        }
        if (kill((pid_t)pid, sig) < 0) {
            uerr(argv[i]);
            rc = 1;
        }
    }
    return rc;
}
