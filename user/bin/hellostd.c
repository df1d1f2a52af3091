/* hellostd: a C standard library (musl) exercise for SABOS and Linux alike.
 *
 * Uses ISO C17 (stdio, stdlib, string, time) and POSIX.1-2017 (files, directories,
 * environment, posix_spawn, fork/exec/waitpid, pipes) and prints one "ok: NAME" line per check,
 * a few lines of formatted results, and "Hello from SABOS std" as its last line when every check
 * passed (exit status 0). A failed check prints "FAIL: NAME details"; then the program ends with
 * "FAIL: N checks failed" and exit status 1. Standard error carries one line of its own.
 *
 * The output is the same on SABOS and on Linux (tests/integration/hellostd.expected): no pids,
 * times or paths are printed. Scratch files go to $TMPDIR (default /tmp) under names holding the
 * pid, and are removed again.
 *
 * Child processes run this same program with the arguments "--child MODE". Its path: argv[0]
 * when that contains a '/' (the program must not chdir before spawning, and does not), else the
 * first PATH directory holding a file of that name (a shell found it there); see ufind_self. */
#include "ulib.h"
#include <ctype.h>
#include <dirent.h>
#include <spawn.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int failures;
static char self[PATH_MAX];
static char tmpdir[1024];

static void ok(const char *name) { printf("ok: %s\n", name); }

static void __attribute__((format(printf, 2, 3))) fail(const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: %s ", name);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    failures++;
}

/* ---- child modes ---- */

static int child_main(const char *mode) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "spawn")) {
        const char *v = getenv("HELLOSTD_VAR");
        printf("child: started by posix_spawn, HELLOSTD_VAR=%s\n", v ? v : "(unset)");
        return 7;
    }
    if (!strcmp(mode, "exec")) {
        printf("child: running after fork and execv\n");
        return 9;
    }
    if (!strcmp(mode, "pipe")) {
        printf("child: this line went through a pipe\n");
        return 0;
    }
    fprintf(stderr, "hellostd: unknown child mode %s\n", mode);
    return 2;
}

/* ---- stdio ---- */

static void test_stdio(void) {
    char buf[128];
    printf("printf: |%d|%i|%x|%#o|%llu|%5s|%-6s|%c|%%|%05d|%+d|\n", 42, -17, 42, 0755,
           18446744073709551615ull, "pad", "left", 'z', 42, 7);
    int n = snprintf(buf, sizeof buf, "%s-%d", "abc", 123);
    if (n != 7 || strcmp(buf, "abc-123")) fail("snprintf", "got %d '%s'", n, buf);
    else ok("snprintf");
    volatile size_t cap = 5; /* not constant: the truncation is the point */
    n = snprintf(buf, cap, "%s", "truncated");
    if (n != 9 || strcmp(buf, "trun")) fail("snprintf-truncate", "got %d '%s'", n, buf);
    else ok("snprintf-truncate");
    int a = 0;
    char word[16] = "";
    unsigned x = 0;
    if (sscanf("  31 apples 0x1f", "%d %15s %x", &a, word, &x) != 3 || a != 31 ||
        strcmp(word, "apples") || x != 31)
        fail("sscanf", "got %d %s %u", a, word, x);
    else ok("sscanf");
    double d = 2.5 / 3.0, e = strtod("3.25", NULL);
    printf("floats: %.3f %.2e %g %.1f\n", d, 1500.0, e, -0.25);
    n = fprintf(stderr, "stderr: a line written with fprintf\n");
    if (n != 36) fail("fprintf-stderr", "returned %d", n);
    else ok("fprintf-stderr");
}

/* ---- malloc ---- */

static void test_malloc(void) {
    enum { N = 1000 };
    static unsigned char *p[N];
    static size_t sz[N];
    bool good = true;
    for (int i = 0; i < N && good; i++) {
        sz[i] = (size_t)(i * 37 % 4000) + 1;
        p[i] = malloc(sz[i]);
        if (!p[i]) {
            fail("malloc", "allocation %d of %zu bytes failed", i, sz[i]);
            good = false;
            break;
        }
        memset(p[i], i & 0xff, sz[i]);
    }
    for (int i = 0; i < N && good; i++)
        for (size_t k = 0; k < sz[i]; k++)
            if (p[i][k] != (unsigned char)(i & 0xff)) {
                fail("malloc", "block %d corrupted at %zu", i, k);
                good = false;
                break;
            }
    if (good) ok("malloc-1000");
    bool rgood = good;
    for (int i = 0; i < N && rgood; i += 2) {
        unsigned char *q = realloc(p[i], sz[i] * 3 + 100);
        if (!q) {
            fail("realloc", "block %d", i);
            rgood = false;
            break;
        }
        p[i] = q;
        for (size_t k = 0; k < sz[i]; k++)
            if (q[k] != (unsigned char)(i & 0xff)) {
                fail("realloc", "block %d lost its contents at %zu", i, k);
                rgood = false;
                break;
            }
    }
    if (rgood) ok("realloc");
    for (int i = 0; i < N; i++) free(p[i]);
    unsigned char *big = malloc(4 << 20);
    unsigned *z = calloc(1000, 1000);
    bool bgood = big && z;
    if (big) {
        memset(big, 0x5a, 4 << 20);
        bgood = bgood && big[0] == 0x5a && big[(4 << 20) - 1] == 0x5a;
    }
    for (size_t i = 0; z && i < 1000 * 1000 / sizeof *z; i++)
        if (z[i]) bgood = false;
    free(big);
    free(z);
    if (!bgood) fail("malloc-large", "4 MiB malloc or 1 MB calloc failed or not zeroed");
    else ok("malloc-large");
    errno = 0;
    void *huge = malloc(SIZE_MAX / 2);
    if (huge || errno != ENOMEM) {
        fail("malloc-huge", "malloc(SIZE_MAX/2) gave %p, errno %d", huge, errno);
        free(huge);
    } else {
        ok("malloc-huge");
    }
}

/* ---- string.h and friends ---- */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void test_strings(void) {
    int bad = 0;
#define S(cond)                                                                                  \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fail("string", "%s", #cond);                                                         \
            bad++;                                                                               \
        }                                                                                        \
    } while (0)
    char buf[64];
    S(strlen("hello") == 5);
    S(strcmp("abc", "abd") < 0 && strcmp("b", "a") > 0 && strcmp("x", "x") == 0);
    S(strncmp("abcdef", "abcxyz", 3) == 0);
    strcpy(buf, "foo");
    strcat(buf, "bar");
    S(!strcmp(buf, "foobar"));
    S(strchr(buf, 'o') == buf + 1 && strrchr(buf, 'o') == buf + 2 && !strchr(buf, 'z'));
    S(strstr(buf, "bar") == buf + 3 && !strstr(buf, "baz"));
    memcpy(buf, "0123456789", 11);
    memmove(buf + 2, buf, 5);
    S(!strcmp(buf, "0101234789"));
    S(memcmp("abc", "abd", 2) == 0 && memcmp("abc", "abd", 3) < 0);
    S(strtol("-123", NULL, 10) == -123 && strtoul("ff", NULL, 16) == 255 && atoi("77") == 77);
    char *end;
    S(strtoll("9223372036854775807", &end, 10) == 9223372036854775807ll && *end == '\0');
    char tok[] = "a,b,,c", *save;
    char *t1 = strtok_r(tok, ",", &save), *t2 = strtok_r(NULL, ",", &save);
    char *t3 = strtok_r(NULL, ",", &save), *t4 = strtok_r(NULL, ",", &save);
    S(t1 && t2 && t3 && !t4 && !strcmp(t1, "a") && !strcmp(t2, "b") && !strcmp(t3, "c"));
    S(toupper('q') == 'Q' && isdigit('7') && !isalpha('7'));
    char *dup = strdup("duplicate");
    S(dup && !strcmp(dup, "duplicate"));
    free(dup);
    int v[] = {5, 3, 9, 1, 7, 2};
    qsort(v, 6, sizeof v[0], cmp_int);
    int key = 7;
    int *found = bsearch(&key, v, 6, sizeof v[0], cmp_int);
    S(v[0] == 1 && v[5] == 9 && found && *found == 7);
    S(!strcmp(strerror(ENOENT), "No such file or directory"));
#undef S
    if (!bad) ok("string");
}

/* ---- time ---- */

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static void test_time(void) {
    time_t now = time(NULL);
    if (now < 1577836800) fail("time", "time() = %lld, before 2020", (long long)now);
    else ok("time");
    struct timespec r, m0, m1;
    struct timeval tv;
    if (clock_gettime(CLOCK_REALTIME, &r) < 0 || gettimeofday(&tv, NULL) < 0 ||
        r.tv_sec < now - 2 || r.tv_sec > now + 2 || tv.tv_sec < now - 2 || tv.tv_sec > now + 2)
        fail("clock-realtime", "REALTIME %lld, gettimeofday %lld, time %lld", (long long)r.tv_sec,
             (long long)tv.tv_sec, (long long)now);
    else ok("clock-realtime");
    clock_gettime(CLOCK_MONOTONIC, &m0);
    struct timespec req = {0, 20 * 1000 * 1000};
    int rc = nanosleep(&req, NULL);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    int64_t d = ts_ns(&m1) - ts_ns(&m0);
    if (rc != 0 || d < 20 * 1000 * 1000 || d > 10ll * 1000 * 1000 * 1000)
        fail("nanosleep", "rc %d, slept %lld ns for 20 ms", rc, (long long)d);
    else ok("nanosleep");
    time_t fixed = 1000000000;
    struct tm tm;
    char out[64];
    if (!gmtime_r(&fixed, &tm) || !strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S %a %b %j", &tm))
        fail("strftime", "gmtime_r/strftime failed");
    else printf("strftime: %s\n", out);
    if (timegm(&tm) != fixed) fail("timegm", "round trip failed");
    else ok("timegm");
}

/* ---- files ---- */

static void test_files(void) {
    char path[PATH_MAX], path2[PATH_MAX];
    snprintf(path, sizeof path, "%s/hellostd-%d.txt", tmpdir, (int)getpid());
    snprintf(path2, sizeof path2, "%s/hellostd-%d.renamed", tmpdir, (int)getpid());
    const char *lines[] = {"first line\n", "second line, a little longer\n", "third\n"};
    FILE *f = fopen(path, "w");
    if (!f) {
        fail("file-create", "fopen(w): %s", strerror(errno));
        return;
    }
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        fputs(lines[i], f);
        total += strlen(lines[i]);
    }
    if (fclose(f) != 0) fail("file-write", "fclose: %s", strerror(errno));
    else ok("file-write");
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != (off_t)total)
        fail("file-stat", "size %lld, expected %zu", (long long)st.st_size, total);
    else ok("file-stat");
    f = fopen(path, "r");
    char line[128];
    int good = 0;
    for (int i = 0; f && i < 3; i++)
        if (fgets(line, sizeof line, f) && !strcmp(line, lines[i])) good++;
    if (!f || good != 3 || fgets(line, sizeof line, f) != NULL || !feof(f))
        fail("file-fgets", "%d of 3 lines read back", good);
    else ok("file-fgets");
    if (f) fclose(f);
    int fd = open(path, O_RDWR);
    char b[8] = "";
    bool sgood = fd >= 0 && lseek(fd, 6, SEEK_SET) == 6 && read(fd, b, 4) == 4 && !memcmp(b, "line", 4) &&
                 pwrite(fd, "FIRST", 5, 0) == 5 && pread(fd, b, 5, 0) == 5 && !memcmp(b, "FIRST", 5) &&
                 lseek(fd, 0, SEEK_END) == (off_t)total && ftruncate(fd, 5) == 0 &&
                 fstat(fd, &st) == 0 && st.st_size == 5;
    if (fd >= 0) close(fd);
    if (!sgood) fail("file-seek", "lseek/read/pwrite/pread/ftruncate: %s", strerror(errno));
    else ok("file-seek");
    if (rename(path, path2) < 0 || stat(path, &st) == 0 || errno != ENOENT || stat(path2, &st) < 0)
        fail("file-rename", "%s", strerror(errno));
    else ok("file-rename");
    if (unlink(path2) < 0 || stat(path2, &st) == 0 || errno != ENOENT)
        fail("file-unlink", "%s", strerror(errno));
    else ok("file-unlink");
    errno = 0;
    if (fopen(path2, "r") != NULL || errno != ENOENT) fail("file-missing", "errno %d", errno);
    else ok("file-missing");
}

/* ---- directories ---- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_dirs(void) {
    char dir[PATH_MAX], p[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/hellostd-%d.dir", tmpdir, (int)getpid());
    if (mkdir(dir, 0755) < 0) {
        fail("mkdir", "%s", strerror(errno));
        return;
    }
    if (mkdir(dir, 0755) == 0 || errno != EEXIST) fail("mkdir-exists", "errno %d", errno);
    else ok("mkdir");
    const char *names[] = {"gamma.txt", "alpha", "beta"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) fail("dir-create", "%s: %s", names[i], strerror(errno));
        else close(fd);
    }
    snprintf(p, sizeof p, "%s/delta", dir);
    if (mkdir(p, 0755) < 0) fail("dir-create", "delta: %s", strerror(errno));
    DIR *d = opendir(dir);
    char *seen[16];
    int n = 0;
    if (!d) {
        fail("opendir", "%s", strerror(errno));
    } else {
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < 16) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            seen[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(seen, (size_t)n, sizeof seen[0], cmp_str);
        printf("readdir:");
        for (int i = 0; i < n; i++) printf(" %s", seen[i] ? seen[i] : "?");
        printf("\n");
        for (int i = 0; i < n; i++) free(seen[i]);
        if (n != 4) fail("readdir", "%d entries, expected 4", n);
        else ok("readdir");
    }
    if (rmdir(dir) == 0 || errno != ENOTEMPTY) fail("rmdir-notempty", "errno %d", errno);
    else ok("rmdir-notempty");
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/delta", dir);
    rmdir(p);
    struct stat st;
    if (rmdir(dir) < 0 || stat(dir, &st) == 0) fail("rmdir", "%s", strerror(errno));
    else ok("rmdir");
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') fail("getcwd", "%s", strerror(errno));
    else ok("getcwd");
}

/* ---- environment ---- */

static void test_env(void) {
    if (setenv("HELLOSTD_VAR", "first", 1) < 0 || strcmp(getenv("HELLOSTD_VAR"), "first") ||
        setenv("HELLOSTD_VAR", "ignored", 0) < 0 || strcmp(getenv("HELLOSTD_VAR"), "first") ||
        unsetenv("HELLOSTD_VAR") < 0 || getenv("HELLOSTD_VAR") != NULL ||
        setenv("HELLOSTD_VAR", "from-parent", 1) < 0)
        fail("environment", "setenv/getenv/unsetenv");
    else ok("environment");
}

/* ---- processes ---- */

static bool wait_code(pid_t pid, int code, const char *name) {
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
    if (r != pid) {
        fail(name, "waitpid: %s", strerror(errno));
        return false;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != code) {
        fail(name, "child status %#x, expected exit %d", st, code);
        return false;
    }
    return true;
}

static void test_processes(void) {
    fflush(stdout);
    char *sargv[] = {self, "--child", "spawn", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, self, NULL, NULL, sargv, environ);
    if (r != 0) fail("posix_spawn", "%s", strerror(r));
    else if (wait_code(pid, 7, "posix_spawn")) ok("posix_spawn");

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char *eargv[] = {self, "--child", "exec", NULL};
        execv(self, eargv);
        _exit(127);
    }
    if (pid < 0) fail("fork-exec", "fork: %s", strerror(errno));
    else if (wait_code(pid, 9, "fork-exec")) ok("fork-exec");

    /* 256 KiB from a forked child through a pipe, checked with FNV-1a on both sides. */
    int fds[2];
    if (pipe(fds) < 0) {
        fail("pipe", "%s", strerror(errno));
        return;
    }
    enum { TOTAL = 256 * 1024 };
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        static unsigned char chunk[4096];
        for (size_t off = 0; off < TOTAL; off += sizeof chunk) {
            for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (unsigned char)((off + i) * 7 + 3);
            if (uwrite_all(fds[1], chunk, sizeof chunk) < 0) _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    uint64_t want = UFNV_INIT, got = UFNV_INIT;
    for (size_t i = 0; i < TOTAL; i++) {
        unsigned char c = (unsigned char)(i * 7 + 3);
        want = ufnv1a(want, &c, 1);
    }
    size_t count = 0;
    static unsigned char buf[8192];
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got = ufnv1a(got, buf, (size_t)n);
        count += (size_t)n;
    }
    close(fds[0]);
    if (pid < 0) fail("pipe-fork", "fork: %s", strerror(errno));
    else if (wait_code(pid, 0, "pipe-fork") && (count != TOTAL || got != want))
        fail("pipe-fork", "%zu bytes, checksum %s", count, got == want ? "ok" : "wrong");
    else if (count == TOTAL && got == want) ok("pipe-fork");

    /* A spawned child whose standard output is the pipe. */
    if (pipe(fds) < 0) {
        fail("pipe-spawn", "%s", strerror(errno));
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *pargv[] = {self, "--child", "pipe", NULL};
    r = posix_spawn(&pid, self, &fa, NULL, pargv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (r != 0) {
        fail("pipe-spawn", "%s", strerror(r));
        close(fds[0]);
        return;
    }
    char text[256];
    ssize_t n = uread_full(fds[0], text, sizeof text - 1);
    close(fds[0]);
    text[n > 0 ? n : 0] = '\0';
    if (wait_code(pid, 0, "pipe-spawn")) {
        if (strcmp(text, "child: this line went through a pipe\n")) fail("pipe-spawn", "read '%s'", text);
        else printf("parent read: %s", text), ok("pipe-spawn");
    }
}

int main(int argc, char **argv) {
    ulib_prog = "hellostd";
    if (argc == 3 && !strcmp(argv[1], "--child")) return child_main(argv[2]);
    if (argc != 1) uusage("(no arguments)");
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr and the children's output */
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s", t && *t ? t : "/tmp");
    printf("hellostd: C standard library checks\n");
    test_stdio();
    test_malloc();
    test_strings();
    test_time();
    test_files();
    test_dirs();
    test_env();
    if (!ufind_self(argv[0], self, sizeof self)) {
        fail("self-path", "cannot find this program (argv[0] is not a file, nor found in PATH)");
    } else {
        test_processes();
    }
    if (failures) {
        printf("FAIL: %d checks failed\n", failures);
        return 1;
    }
    printf("Hello from SABOS std\n");
    return 0;
}
