/* ulib.h: small header-only helpers shared by SABOS's user utilities (the programs in user/bin).
 *
 * Plain POSIX.1-2017 / C17 code over musl: error messages in the "NAME: PATH: strerror" form
 * the utilities print, whole writes that survive short writes and EINTR, reading a small
 * (procfs) file whole, strict number parsing, the 64-bit FNV-1a hash used by the tests, and
 * (with ULIB_COPY defined before the include) the file/tree copy shared by cp and mv.
 * Every program sets ulib_prog to its own name (a fixed name, not argv[0], so that messages
 * are the same whichever path started it). */
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The program's name in messages. */
static const char *ulib_prog __attribute__((unused)) = "?";

/* Prints "PROG: WHAT: strerror(err)" on stderr. */
static inline void uerr_at(const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", ulib_prog, what, strerror(err));
}
/* Prints "PROG: WHAT: strerror(errno)" on stderr. */
static inline void uerr(const char *what) { uerr_at(what, errno); }

/* Prints "PROG: " and a formatted message (a newline is added) on stderr. */
static inline void __attribute__((format(printf, 1, 2))) uwarnx(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", ulib_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Prints "usage: ..." on stderr and exits with status 2 (a usage error). */
static inline void __attribute__((noreturn)) uusage(const char *text) {
    fprintf(stderr, "usage: %s %s\n", ulib_prog, text);
    exit(2);
}

/* getopt(3) with the messages in this file's form: "PROG: unknown option -X" or "PROG: option
 * -X needs a value" on stderr, then '?' as getopt returns it (the caller prints the usage). */
static inline int ugetopt(int argc, char **argv, const char *opts) {
    opterr = 0;
    int c = getopt(argc, argv, opts);
    if (c == '?') {
        const char *p = strchr(opts, optopt);
        if (optopt && p && p[1] == ':') uwarnx("option -%c needs a value", optopt);
        else uwarnx("unknown option -%c", optopt);
    }
    return c;
}

/* Writes all len bytes (retrying short writes and EINTR). 0, or -1 with errno set. */
static inline int uwrite_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads up to len bytes, retrying EINTR and short reads until len bytes or end of file.
 * Returns the count (0 at end of file) or -1 with errno set. */
static inline ssize_t uread_full(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return got ? (ssize_t)got : -1;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Reads a small file (procfs) whole into buf (NUL-terminated, cut at cap-1 bytes). Returns
 * the length or -1 with errno set. */
static inline ssize_t uread_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = uread_full(fd, buf, cap - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    return n;
}

/* Parses a whole decimal number (optional sign) into *out; false when s is empty, has other
 * characters or is out of range of long long. */
static inline bool uparse_ll(const char *s, long long *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s) return false;
    *out = v;
    return true;
}

/* The options of head and tail: "-n N", "-nN" and the historical "-N", up to "--" or the
 * first operand. Each count's text goes to parse(text, ctx); when it returns false the program
 * ends with "PROG: TEXT: invalid number of lines" and status 2, and a -n without its number is
 * a usage error. Returns the index of the first file operand. */
static inline int uline_count_options(int argc, char **argv, const char *usage,
                                      bool (*parse)(const char *num, void *ctx), void *ctx) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--")) return i + 1;
        const char *num;
        if (!strcmp(argv[i], "-n")) {
            if (++i >= argc) uusage(usage);
            num = argv[i];
        } else {
            num = argv[i] + (strncmp(argv[i], "-n", 2) ? 1 : 2);
        }
        if (!parse(num, ctx)) {
            uwarnx("%s: invalid number of lines", num);
            exit(2);
        }
    }
    return i;
}

/* 64-bit FNV-1a over len bytes, continuing from h (start with UFNV_INIT). */
#define UFNV_INIT 0xcbf29ce484222325ull
static inline uint64_t ufnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The last component of a path without trailing slashes, in a static buffer ("/" for "/"). */
static inline const char *ubasename(const char *path) {
    static char buf[PATH_MAX];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    if (n - s >= sizeof buf) n = s + sizeof buf - 1;
    if (n == s) return path[0] == '/' ? "/" : "";
    memcpy(buf, path + s, n - s);
    buf[n - s] = '\0';
    return buf;
}

/* Joins dir and name with one '/' into out (size cap). False when it does not fit. */
static inline bool ujoin(char *out, size_t cap, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
    int n = snprintf(out, cap, "%s%s%s", dir, sep, name);
    return n >= 0 && (size_t)n < cap;
}

/* The "SRC DST | SRC... DIR" operands of cp and mv (argv[first] .. argv[argc-1]): calls
 * op(src, dst, ctx) for each source with its destination (DIR/basename(SRC) when the last
 * operand is a directory). Reports ENOTDIR (several sources, last not a directory) and
 * ENAMETOOLONG itself. Returns 0, or 1 when anything failed (op returns 0 or 1 too). */
static inline int ufor_each_dest(int first, int argc, char **argv,
                                 int (*op)(const char *src, const char *dst, void *ctx), void *ctx) {
    const char *last = argv[argc - 1];
    struct stat st;
    bool to_dir = stat(last, &st) == 0 && S_ISDIR(st.st_mode);
    if (argc - first > 2 && !to_dir) {
        uerr_at(last, ENOTDIR);
        return 1;
    }
    int rc = 0;
    char dst[PATH_MAX];
    for (int i = first; i < argc - 1; i++) {
        if (!to_dir) {
            snprintf(dst, sizeof dst, "%s", last);
        } else if (!ujoin(dst, sizeof dst, last, ubasename(argv[i]))) {
            uerr_at(argv[i], ENAMETOOLONG);
            rc = 1;
            continue;
        }
        rc |= op(argv[i], dst, ctx);
    }
    return rc;
}

/* The path to run this program again (child processes of the tests): argv0 itself when it
 * contains a '/' (the caller must not have changed directory), else the first PATH directory
 * (default "/bin:/usr/bin") holding a regular file of that name. Execute permission is not
 * asked for (exec will tell): FAT32 reports no x bits. False when nothing is found. */
static inline bool ufind_self(const char *argv0, char *out, size_t cap) {
    struct stat st;
    if (strchr(argv0, '/')) {
        if (snprintf(out, cap, "%s", argv0) >= (int)cap) return false;
        return stat(out, &st) == 0 && S_ISREG(st.st_mode);
    }
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        char dir[PATH_MAX];
        if (len == 0 || len >= sizeof dir) strcpy(dir, ".");
        else snprintf(dir, sizeof dir, "%.*s", (int)len, path);
        if (ujoin(out, cap, dir, argv0) && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
        path += len + (colon ? 1 : 0);
    }
    return false;
}

#ifdef ULIB_COPY
#include <dirent.h>

/* Copies the regular file src (already lstat'ed as st) to dst, creating or truncating dst
 * with src's permission bits. 0, or -1 after printing an error. */
static inline int ucopy_file(const char *src, const char *dst, const struct stat *st) {
    static char buf[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        uerr(src);
        return -1;
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0) {
        uerr(dst);
        close(in);
        return -1;
    }
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(src);
            rc = -1;
            break;
        }
        if (n == 0) break;
        if (uwrite_all(out, buf, (size_t)n) < 0) {
            uerr(dst);
            rc = -1;
            break;
        }
    }
    close(in);
    if (close(out) < 0 && rc == 0) {
        uerr(dst);
        rc = -1;
    }
    return rc;
}

/* Copies src to dst: a regular file, a symbolic link (as a link), or with recurse a directory
 * tree. stop_dev/stop_ino name the top destination directory, skipped if met inside src (a copy
 * of a directory into itself); pass 0/0 at the top. 0, or -1 when anything failed (errors are
 * printed, the rest of the tree is still copied). */
static inline int ucopy_tree(const char *src, const char *dst, bool recurse, dev_t stop_dev,
                             ino_t stop_ino) {
    struct stat st;
    if (lstat(src, &st) < 0) {
        uerr(src);
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n < 0) {
            uerr(src);
            return -1;
        }
        target[n] = '\0';
        if (symlink(target, dst) < 0) {
            uerr(dst);
            return -1;
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (!S_ISREG(st.st_mode)) {
            uwarnx("%s: not a regular file, directory or link: skipped", src);
            return -1;
        }
        return ucopy_file(src, dst, &st);
    }
    if (!recurse) {
        uwarnx("%s: is a directory (not copied without -r)", src);
        return -1;
    }
    if (mkdir(dst, (st.st_mode & 07777) | 0700) < 0 && errno != EEXIST) {
        uerr(dst);
        return -1;
    }
    struct stat dst_st;
    if (stat(dst, &dst_st) < 0 || !S_ISDIR(dst_st.st_mode)) {
        uwarnx("%s: %s", dst, errno ? strerror(errno) : "not a directory");
        return -1;
    }
    if (stop_ino == 0) {
        stop_dev = dst_st.st_dev;
        stop_ino = dst_st.st_ino;
    }
    DIR *d = opendir(src);
    if (!d) {
        uerr(src);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    char s2[PATH_MAX], d2[PATH_MAX];
    while ((errno = 0, e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!ujoin(s2, sizeof s2, src, e->d_name) || !ujoin(d2, sizeof d2, dst, e->d_name)) {
            uwarnx("%s/%s: %s", src, e->d_name, strerror(ENAMETOOLONG));
            rc = -1;
            continue;
        }
        struct stat es;
        if (lstat(s2, &es) == 0 && S_ISDIR(es.st_mode) && es.st_ino != 0 &&
            es.st_dev == stop_dev && es.st_ino == stop_ino) {
            uwarnx("%s: cannot copy a directory into itself", s2);
            rc = -1;
            continue;
        }
        if (ucopy_tree(s2, d2, true, stop_dev, stop_ino) < 0) rc = -1;
    }
    if (errno) {
        uerr(src);
        rc = -1;
    }
    closedir(d);
    chmod(dst, st.st_mode & 07777);
    return rc;
}
#endif
