/* echo: write arguments to standard output (POSIX.1-2017 XCU "echo", with the common -n).
 *
 * echo [-n] [ARG...]: the arguments separated by single spaces and followed by a newline
 * (none with -n; several leading -n are accepted). No backslash escapes are interpreted. */
#include "ulib.h"

int main(int argc, char **argv) {
    ulib_prog = "echo";
    bool nl = true;
    int i = 1;
    while (i < argc && !strcmp(argv[i], "-n")) {
        nl = false;
        i++;
    }
    for (int first = i; i < argc; i++) {
        if (i > first) putchar(' ');
        fputs(argv[i], stdout);
    }
    if (nl) putchar('\n');
    if (fflush(stdout) != 0) {
        uerr("stdout");
        return 1;
    }
    return 0;
}
