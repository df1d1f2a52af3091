/* env: set the environment for command invocation (POSIX.1-2017 XCU "env", options -i, -u).
 *
 * env [-i] [-u NAME]... [NAME=VALUE]... [CMD [ARG...]]: applies the assignments (after -i,
 * starting from an empty environment; -u removes NAME) and runs CMD through execvp, or prints
 * the resulting environment, one NAME=VALUE a line, when no CMD is given. A CMD that cannot be
 * found exits 127, one that cannot be run 126 ("env: CMD: strerror"); usage errors 2. */
#include "ulib.h"

extern char **environ;

int main(int argc, char **argv) {
    ulib_prog = "env";
    const char *usage = "[-i] [-u NAME]... [NAME=VALUE]... [CMD [ARG...]]";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-i") || !strcmp(argv[i], "-")) {
            if (clearenv() != 0) {
                uerr("clearenv");
                return 125;
            }
        } else if (!strcmp(argv[i], "-u")) {
            if (++i >= argc) uusage(usage);
            if (unsetenv(argv[i]) < 0) {
                uerr(argv[i]);
                return 125;
            }
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else {
            uusage(usage);
        }
    }
    for (; i < argc && strchr(argv[i], '='); i++) {
        if (putenv(argv[i]) != 0) {
            uerr(argv[i]);
            return 125;
        }
    }
    if (i >= argc) {
        for (char **e = environ; e && *e; e++) puts(*e);
        return fflush(stdout) ? 1 : 0;
    }
    execvp(argv[i], argv + i);
    int e = errno;
    uerr_at(argv[i], e);
    return e == ENOENT ? 127 : 126;
}
