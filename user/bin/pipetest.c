/* pipetest: pipes (POSIX.1-2017 pipe, read, write, poll; XSH 2.9.7 and the write() rules for
 * pipes: PIPE_BUF atomicity, EPIPE/SIGPIPE, O_NONBLOCK/EAGAIN), for SABOS and Linux alike.
 *
 * pipetest [-s MIB] [-r SEED]: prints "PASS name" / "FAIL name: details" and exits 0 only when
 * all passed:
 *   bulk          MIB (default 16) MiB from a child to the parent, written and read in chunks of
 *                 varying sizes (1 byte to 64 KiB, from SEED); the 64-bit FNV-1a checksum of the
 *                 pattern is computed by the child over what it wrote (sent on a second pipe),
 *                 by the parent over what it read, and from the generator: all three must agree
 *   eof           read returns 0 once every write end is closed
 *   epipe         with SIGPIPE ignored, a write without readers fails with EPIPE
 *   sigpipe       with the default action, that write kills the writer with SIGPIPE
 *   nonblock      O_NONBLOCK: read of an empty pipe and write to a full one fail with EAGAIN
 *   poll          poll reports an empty pipe not readable (timeout 0), then POLLIN after a write
 *   atomic        4 children write 512-byte records (<= PIPE_BUF) concurrently; every record
 *                 arrives whole
 * Also prints "info:" lines (throughput, capacity) that vary between systems. */
#include "ulib.h"
#include "utest.h"
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* xorshift64*: chunk sizes. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Byte i of the data stream for a seed. */
static inline unsigned char pattern(uint64_t seed, uint64_t i) {
    uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ull + seed;
    x ^= x >> 29;
    return (unsigned char)(x >> ((i & 7) * 8));
}

static void fill(unsigned char *buf, uint64_t seed, uint64_t off, size_t n) {
    for (size_t i = 0; i < n; i++) buf[i] = pattern(seed, off + i);
}

static size_t chunk_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    switch (r & 3) {
    case 0: return 1 + (size_t)(r >> 8) % 16;        /* tiny */
    case 1: return 1 + (size_t)(r >> 8) % 4096;      /* up to a page */
    case 2: return 4096;                             /* exactly a page */
    default: return 1 + (size_t)(r >> 8) % 65536;    /* up to 64 KiB */
    }
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static pid_t reap(pid_t pid, int *st) {
    pid_t r;
    while ((r = waitpid(pid, st, 0)) < 0 && errno == EINTR) {}
    return r;
}

static void test_bulk(uint64_t total, uint64_t seed) {
    int data[2], sum[2];
    if (pipe(data) < 0 || pipe(sum) < 0) {
        fail("bulk", "pipe: %s", strerror(errno));
        return;
    }
    static unsigned char buf[65536];
    int64_t t0 = now_ns();
    pid_t p = fork();
    if (p == 0) {
        close(data[0]);
        close(sum[0]);
        uint64_t rng = seed ^ 0x1234567ull, h = UFNV_INIT;
        for (uint64_t off = 0; off < total;) {
            size_t n = chunk_size(&rng);
            if (n > total - off) n = (size_t)(total - off);
            fill(buf, seed, off, n);
            h = ufnv1a(h, buf, n);
            if (uwrite_all(data[1], buf, n) < 0) _exit(1);
            off += n;
        }
        close(data[1]);
        if (uwrite_all(sum[1], &h, sizeof h) < 0) _exit(2);
        _exit(0);
    }
    close(data[1]);
    close(sum[1]);
    if (p < 0) {
        fail("bulk", "fork: %s", strerror(errno));
        close(data[0]);
        close(sum[0]);
        return;
    }
    uint64_t rng = seed ^ 0x7654321ull, got = UFNV_INIT, count = 0;
    bool err = false;
    for (;;) {
        size_t want = chunk_size(&rng);
        ssize_t n = read(data[0], buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fail("bulk", "read: %s", strerror(errno));
            err = true;
            break;
        }
        if (n == 0) break;
        got = ufnv1a(got, buf, (size_t)n);
        count += (uint64_t)n;
    }
    int64_t t1 = now_ns();
    uint64_t child_sum = 0;
    ssize_t sn = uread_full(sum[0], &child_sum, sizeof child_sum);
    close(data[0]);
    close(sum[0]);
    int st;
    pid_t r = reap(p, &st);
    uint64_t expect = UFNV_INIT;
    for (uint64_t off = 0; off < total; off += sizeof buf) {
        size_t n = total - off < sizeof buf ? (size_t)(total - off) : sizeof buf;
        fill(buf, seed, off, n);
        expect = ufnv1a(expect, buf, n);
    }
    if (err) return;
    if (r != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("bulk", "writer status %#x", st);
    else if (count != total) fail("bulk", "read %llu of %llu bytes", (unsigned long long)count, (unsigned long long)total);
    else if (sn != sizeof child_sum) fail("bulk", "no checksum from the writer");
    else if (got != expect || child_sum != expect)
        fail("bulk", "checksums: read %016llx, written %016llx, expected %016llx",
             (unsigned long long)got, (unsigned long long)child_sum, (unsigned long long)expect);
    else pass("bulk");
    int64_t ms = (t1 - t0) / 1000000;
    printf("info: %llu MiB through a pipe in %lld ms (%lld MiB/s)\n", (unsigned long long)(total >> 20),
           (long long)ms, ms > 0 ? (long long)((total >> 20) * 1000 / (uint64_t)ms) : -1ll);
}

static void test_eof_epipe(void) {
    int fds[2];
    char c;
    if (pipe(fds) < 0) {
        fail("eof", "pipe: %s", strerror(errno));
        return;
    }
    int dupw = dup(fds[1]);
    close(fds[1]);
    ssize_t n1 = write(dupw, "x", 1);
    close(dupw);
    ssize_t n2 = read(fds[0], &c, 1), n3 = read(fds[0], &c, 1);
    if (n1 == 1 && n2 == 1 && c == 'x' && n3 == 0) pass("eof");
    else fail("eof", "write %zd, reads %zd then %zd", n1, n2, n3);
    close(fds[0]);

    if (pipe(fds) < 0) return;
    close(fds[0]);
    struct sigaction sa = {0}, old;
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old);
    errno = 0;
    ssize_t n = write(fds[1], "x", 1);
    int e = errno;
    sigaction(SIGPIPE, &old, NULL);
    if (n == -1 && e == EPIPE) pass("epipe");
    else fail("epipe", "write returned %zd, errno %d", n, e);

    pid_t p = fork();
    if (p == 0) {
        signal(SIGPIPE, SIG_DFL);
        (void)!write(fds[1], "x", 1);
        _exit(3); /* should not get here */
    }
    close(fds[1]);
    int st;
    if (p < 0) fail("sigpipe", "fork: %s", strerror(errno));
    else if (reap(p, &st) != p || !WIFSIGNALED(st) || WTERMSIG(st) != SIGPIPE)
        fail("sigpipe", "writer status %#x, expected death by SIGPIPE", st);
    else pass("sigpipe");
}

static void test_nonblock_poll(void) {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK) < 0) {
        fail("nonblock", "pipe2: %s", strerror(errno));
        return;
    }
    char c;
    errno = 0;
    ssize_t r = read(fds[0], &c, 1);
    bool good = r == -1 && errno == EAGAIN;
    struct pollfd pf = {fds[0], POLLIN, 0};
    int pr0 = poll(&pf, 1, 0);
    static char buf[4096];
    memset(buf, 'p', sizeof buf);
    size_t cap = 0;
    ssize_t w;
    while ((w = write(fds[1], buf, sizeof buf)) > 0 && cap < (64u << 20)) cap += (size_t)w;
    int e = errno;
    good = good && w == -1 && e == EAGAIN && cap > 0;
    if (good) pass("nonblock");
    else fail("nonblock", "empty read %zd, fill ended with %zd errno %d after %zu bytes", r, w, e, cap);
    printf("info: pipe capacity %zu bytes\n", cap);
    pf.revents = 0;
    int pr1 = poll(&pf, 1, 0);
    if (pr0 == 0 && pr1 == 1 && (pf.revents & POLLIN)) pass("poll");
    else fail("poll", "empty: %d, with data: %d revents %#x", pr0, pr1, pf.revents);
    close(fds[0]);
    close(fds[1]);
}

static void test_atomic(void) {
    enum { WRITERS = 4, RECORDS = 500, REC = 512 };
    int fds[2];
    if (pipe(fds) < 0) {
        fail("atomic", "pipe: %s", strerror(errno));
        return;
    }
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            close(fds[0]);
            unsigned char rec[REC];
            for (int i = 0; i < RECORDS; i++) {
                for (int k = 0; k < REC; k++) rec[k] = (unsigned char)(w * 64 + (i + k) % 61);
                rec[0] = (unsigned char)w;
                rec[1] = (unsigned char)(i & 0xff);
                rec[2] = (unsigned char)(i >> 8);
                if (write(fds[1], rec, REC) != REC) _exit(1); /* one write per record */
            }
            _exit(0);
        }
    }
    close(fds[1]);
    int next[WRITERS] = {0};
    bool good = true;
    unsigned char rec[REC];
    int total = 0;
    for (;;) {
        ssize_t n = uread_full(fds[0], rec, REC);
        if (n == 0) break;
        if (n != REC) {
            fail("atomic", "short record of %zd bytes", n);
            good = false;
            break;
        }
        int w = rec[0], i = rec[1] | rec[2] << 8;
        if (w >= WRITERS || i != next[w]) {
            if (good) fail("atomic", "record %d of writer %d out of order or torn", i, w);
            good = false;
            continue;
        }
        for (int k = 3; k < REC; k++)
            if (rec[k] != (unsigned char)(w * 64 + (i + k) % 61)) {
                if (good) fail("atomic", "record %d of writer %d torn at byte %d", i, w, k);
                good = false;
                break;
            }
        next[w]++;
        total++;
    }
    close(fds[0]);
    for (int w = 0; w < WRITERS; w++) {
        int st;
        if (pids[w] < 0) good = false;
        else if (reap(pids[w], &st) != pids[w] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (good) fail("atomic", "writer %d status %#x", w, st);
            good = false;
        }
    }
    if (good && total == WRITERS * RECORDS) pass("atomic");
    else if (good) fail("atomic", "%d of %d records", total, WRITERS * RECORDS);
}

int main(int argc, char **argv) {
    ulib_prog = "pipetest";
    long long mib = 16, seed = 1;
    int c;
    while ((c = ugetopt(argc, argv, "s:r:")) != -1) {
        if (c == 's' && uparse_ll(optarg, &mib) && mib >= 0 && mib <= 4096) continue;
        if (c == 'r' && uparse_ll(optarg, &seed)) continue;
        uusage("[-s MIB] [-r SEED]");
    }
    if (optind < argc) uusage("[-s MIB] [-r SEED]");
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_bulk((uint64_t)mib << 20, (uint64_t)seed);
    test_eof_epipe();
    test_nonblock_poll();
    test_atomic();
    printf("pipetest: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
