/* head: copy the first part of files (POSIX.1-2017 XCU "head").
 *
 * head [-n N] [-N] [FILE...]: the first N lines (default 10) of each FILE, or of standard input
 * when there is none or for "-"; with several files each gets a "==> FILE <==" heading.
 * Reads in blocks and stops reading once N lines are out. Errors: "head: FILE: strerror",
 * exit status 1; a bad count is a usage error (2). */
#include "ulib.h"

static char buf[65536];

static int head_fd(int fd, const char *name, unsigned long long lines) {
    while (lines > 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            return 1;
        }
        if (n == 0) break;
        size_t out = 0;
        while (out < (size_t)n && lines > 0) {
            char *nl = memchr(buf + out, '\n', (size_t)n - out);
            if (!nl) {
                out = (size_t)n;
                break;
            }
            out = (size_t)(nl - buf) + 1;
            lines--;
        }
        if (uwrite_all(1, buf, out) < 0) {
            uerr("stdout");
            exit(1);
        }
    }
    return 0;
}

/* A line count: a non-negative decimal number. */
static bool parse_count(const char *num, void *lines) {
    return uparse_ll(num, lines) && *(long long *)lines >= 0;
}

int main(int argc, char **argv) {
    ulib_prog = "head";
    const char *usage = "[-n N] [FILE...]";
    long long lines = 10;
    int i = uline_count_options(argc, argv, usage, parse_count, &lines);
    if (i >= argc) return head_fd(0, "stdin", (unsigned long long)lines);
    int rc = 0, nfiles = argc - i;
    for (int k = i; k < argc; k++) {
        bool is_stdin = !strcmp(argv[k], "-");
        int fd = is_stdin ? 0 : open(argv[k], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            uerr(argv[k]);
            rc = 1;
            continue;
        }
        if (nfiles > 1) {
            printf("%s==> %s <==\n", k > i ? "\n" : "", is_stdin ? "standard input" : argv[k]);
            fflush(stdout);
        }
        rc |= head_fd(fd, is_stdin ? "stdin" : argv[k], (unsigned long long)lines);
        if (!is_stdin) close(fd);
    }
    return rc;
}
