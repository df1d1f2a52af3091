/* cat: concatenate files to standard output (POSIX.1-2017 XCU "cat").
 *
 * cat [FILE...]: copies each FILE, or standard input for "-" or when there is none, to
 * standard output through a 64 KiB buffer (short writes and EINTR retried). An unreadable file
 * prints "cat: FILE: strerror" and the rest are still copied; exit status 1 then. */
#include "ulib.h"

static char buf[65536];

/* Copies fd to stdout; 0 or 1 (error printed, name used in the message). */
static int copy_fd(int fd, const char *name) {
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            return 1;
        }
        if (n == 0) return 0;
        if (uwrite_all(1, buf, (size_t)n) < 0) {
            uerr("stdout");
            exit(1);
        }
    }
}

int main(int argc, char **argv) {
    ulib_prog = "cat";
    int first = 1;
    if (first < argc && !strcmp(argv[first], "--")) first++;
    if (first >= argc) return copy_fd(0, "stdin");
    int rc = 0;
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "-")) {
            rc |= copy_fd(0, "stdin");
            continue;
        }
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            uerr(argv[i]);
            rc = 1;
            continue;
        }
        rc |= copy_fd(fd, argv[i]);
        close(fd);
    }
    return rc;
}
