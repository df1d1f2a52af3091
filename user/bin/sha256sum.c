/* sha256sum: prints the SHA-256 (FIPS 180-4, user/include/sha256.h) of files, in the output
 * format of GNU coreutils sha256sum (text mode): one line "HEX  NAME" per operand; "-" or no
 * operand reads standard input, named "-". As in coreutils, a name containing a backslash or
 * a newline is written with those escaped ("\\", "\n") and the line starts with a backslash.
 *   sha256sum [--] [FILE...]
 * A file that cannot be read gets "sha256sum: NAME: reason" on stderr and the others are
 * still summed; exit status 1 then, 0 when every file was read, 2 for an unknown option. */
#include "ulib.h"
#include "sha256.h"

/* Writes name with backslash and newline escaped. */
static void put_escaped(const char *name) {
    for (const char *p = name; *p; p++) {
        if (*p == '\\') fputs("\\\\", stdout);
        else if (*p == '\n') fputs("\\n", stdout);
        else putchar(*p);
    }
}

/* Sums one file (or standard input for "-") and prints its line; 0, or 1 after a message. */
static int sum_file(const char *name) {
    static uint8_t buf[65536];
    bool is_stdin = strcmp(name, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        uerr(name);
        return 1;
    }
    struct sha256 sha;
    sha256_init(&sha);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            rc = 1;
            break;
        }
        if (n == 0) break;
        sha256_update(&sha, buf, (size_t)n);
    }
    if (!is_stdin) close(fd);
    if (rc) return rc;
    char hex[65];
    sha256_final_hex(&sha, hex);
    bool escape = strpbrk(name, "\\\n") != NULL;
    printf("%s%s  ", escape ? "\\" : "", hex);
    if (escape) put_escaped(name);
    else fputs(name, stdout);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv) {
    ulib_prog = "sha256sum";
    int first = 1;
    if (first < argc && strcmp(argv[first], "--") == 0) first++;
    else if (first < argc && argv[first][0] == '-' && argv[first][1] != '\0') {
        uwarnx("unknown option %s", argv[first]);
        uusage("[--] [FILE...]");
    }
    int rc = first == argc ? sum_file("-") : 0;
    for (int i = first; i < argc; i++) rc |= sum_file(argv[i]);
    if (fflush(stdout) != 0) {
        uerr("standard output");
        rc = 1;
    }
    return rc;
}
