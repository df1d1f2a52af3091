/* tail: copy the last part of files (POSIX.1-2017 XCU "tail", -n N and -n +N).
 *
 * tail [-n N | -n +N] [FILE...]: the last N lines (default 10), or everything from line N on
 * with +N, of each FILE or of standard input. A regular file is read backwards from its end in
 * 64 KiB blocks (only what is printed is read); a pipe is read through a buffer that is cut
 * back to the last N lines whenever it has doubled. Several files get "==> FILE <==" headings.
 * Errors: "tail: FILE: strerror", exit status 1; a bad count is a usage error (2). */
#include "ulib.h"

static char blk[65536];

static void out(const char *p, size_t n) {
    if (uwrite_all(1, p, n) < 0) {
        uerr("stdout");
        exit(1);
    }
}

/* From line `from` (1-based) on. */
static int tail_from(int fd, const char *name, unsigned long long from) {
    unsigned long long line = 1;
    for (;;) {
        ssize_t n = read(fd, blk, sizeof blk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            return 1;
        }
        if (n == 0) return 0;
        size_t start = 0;
        while (line < from && start < (size_t)n) {
            char *nl = memchr(blk + start, '\n', (size_t)n - start);
            if (!nl) {
                start = (size_t)n;
                break;
            }
            start = (size_t)(nl - blk) + 1;
            line++;
        }
        if (line >= from) out(blk + start, (size_t)n - start);
    }
}

/* Offset where the last `lines` lines of the seekable fd (size bytes) start, or -1. */
static off_t find_start(int fd, off_t size, unsigned long long lines) {
    off_t pos = size;
    bool last_byte = true;
    unsigned long long seen = 0;
    while (pos > 0) {
        size_t n = pos > (off_t)sizeof blk ? sizeof blk : (size_t)pos;
        pos -= (off_t)n;
        if (pread(fd, blk, n, pos) != (ssize_t)n) return -1;
        for (size_t i = n; i-- > 0;) {
            if (blk[i] != '\n') {
                last_byte = false;
                continue;
            }
            if (last_byte) { /* the final newline ends the last line: not a separator */
                last_byte = false;
                continue;
            }
            if (++seen == lines) return pos + (off_t)i + 1;
        }
    }
    return 0;
}

static int tail_last(int fd, const char *name, unsigned long long lines) {
    struct stat st;
    if (lines == 0) return 0;
    /* (procfs files say size 0: those are read as a stream) */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && lseek(fd, 0, SEEK_CUR) == 0) {
        off_t start = find_start(fd, st.st_size, lines);
        if (start < 0) {
            uerr(name);
            return 1;
        }
        for (off_t pos = start; pos < st.st_size;) {
            ssize_t n = pread(fd, blk, sizeof blk, pos);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                uerr(name);
                return 1;
            }
            if (n == 0) break;
            out(blk, (size_t)n);
            pos += n;
        }
        return 0;
    }
    /* A stream: keep a buffer, cut it back to the last `lines` lines when it has doubled. */
    char *buf = NULL;
    size_t len = 0, cap = 0, keep_mark = sizeof blk;
    for (;;) {
        if (cap - len < sizeof blk) {
            size_t nc = cap ? cap * 2 : 2 * sizeof blk;
            char *nb = realloc(buf, nc);
            if (!nb) {
                uerr(name);
                free(buf);
                return 1;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            free(buf);
            return 1;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len >= 2 * keep_mark) {
            unsigned long long seen = 0;
            size_t i = len - 1, start = 0; /* the last byte may be the final newline */
            while (i-- > 0)
                if (buf[i] == '\n' && ++seen == lines) {
                    start = i + 1;
                    break;
                }
            if (start > 0) {
                memmove(buf, buf + start, len - start);
                len -= start;
            }
            keep_mark = len > sizeof blk ? len : sizeof blk;
        }
    }
    size_t start = 0;
    if (len > 0) {
        unsigned long long seen = 0;
        size_t i = len - 1;
        while (i-- > 0)
            if (buf[i] == '\n' && ++seen == lines) {
                start = i + 1;
                break;
            }
    }
    out(buf + start, len - start);
    free(buf);
    return 0;
}

/* The count of -n: N lines from the end, or +N: from line N on. */
struct count {
    long long lines;
    bool from;
};
static bool parse_count(const char *num, void *ctx) {
    struct count *c = ctx;
    c->from = num[0] == '+';
    return uparse_ll(c->from ? num + 1 : num, &c->lines) && c->lines >= 0;
}

int main(int argc, char **argv) {
    ulib_prog = "tail";
    const char *usage = "[-n N | -n +N] [FILE...]";
    struct count c = {10, false};
    int i = uline_count_options(argc, argv, usage, parse_count, &c);
    long long lines = c.lines;
    bool from = c.from;
    int rc = 0, nfiles = argc - i;
    char *dash[] = {"-"};
    char **files = nfiles ? argv + i : dash;
    if (nfiles == 0) nfiles = 1;
    for (int k = 0; k < nfiles; k++) {
        bool is_stdin = !strcmp(files[k], "-");
        int fd = is_stdin ? 0 : open(files[k], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            uerr(files[k]);
            rc = 1;
            continue;
        }
        if (nfiles > 1) {
            printf("%s==> %s <==\n", k > 0 ? "\n" : "", is_stdin ? "standard input" : files[k]);
            fflush(stdout);
        }
        const char *name = is_stdin ? "stdin" : files[k];
        rc |= from ? tail_from(fd, name, lines ? (unsigned long long)lines : 1)
                   : tail_last(fd, name, (unsigned long long)lines);
        if (!is_stdin) close(fd);
    }
    return rc;
}
