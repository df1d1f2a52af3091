/* tcpxfer: the client of build/tcpsink (tests/tools/tcpsink.c) for the network tests and
 * benchmarks; the same static musl binary runs in SABOS and on the host. docs/network.md
 * ("tcpxfer") describes it. Follows POSIX sockets and poll (IEEE Std 1003.1-2017),
 * getaddrinfo (RFC 3493) and Linux's non-blocking connect (connect(2): EINPROGRESS, then
 * SO_ERROR); the SHA-256 is user/include/sha256.h (FIPS 180-4).
 *
 *   tcpxfer [-4|-6] [-t SECS] get  HOST PORT [BYTES]      (server: tcpsink -s BYTES)
 *   tcpxfer [-4|-6] [-t SECS] put  HOST PORT BYTES        (server: tcpsink -r or -x BYTES)
 *   tcpxfer [-4|-6] [-t SECS] echo HOST PORT CONNS BYTES  (server: tcpsink -e)
 *   tcpxfer [-4|-6] [-t SECS] conn HOST PORT COUNT        (server: tcpsink -e)
 *
 * get reads the stream until the server closes and checks every byte against the pattern
 * (byte i is (uint8_t)((i * 2654435761) >> 24), as tcpsink sends it) and the length against
 * BYTES when given. put sends BYTES bytes of the pattern, shuts down its sending side and
 * compares tcpsink's answer line "BYTES SHA256 pattern-ok" with what it sent. echo runs CONNS
 * connections at once in one poll loop over non-blocking sockets; each sends BYTES of the
 * pattern, shuts down its sending side and must read exactly those bytes back. conn makes
 * COUNT connections one after the other: connect, shut down the sending side, wait for the
 * server's close, close. HOST is numeric or a name; sizes take K, M or G (powers of 1024).
 * -t bounds the whole run (default 300 s). Every wait is a poll bounded by that deadline.
 *
 * The last line on stdout is exactly one of
 *   tcpxfer: get ok BYTES bytes MS ms MBPS MB/s sha256 HEX
 *   tcpxfer: put ok BYTES bytes MS ms MBPS MB/s sha256 HEX
 *   tcpxfer: echo ok CONNS connections BYTES bytes MS ms     (BYTES: total moved one way)
 *   tcpxfer: conn ok COUNT connections MS ms RATE per s
 *   tcpxfer: MODE FAIL why
 * (MB = 10^6 bytes). Exit status 0 ok, 1 FAIL, 2 bad arguments (usage on stderr). */
#include "ulib.h"
#include "sha256.h"
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#define XFER_CHUNK 65536           /* bytes per send/recv call */
#define PATTERN_MUL 2654435761u    /* the pattern's multiplier (tcpsink.c) */
#define MAX_CONNS 4096             /* echo: concurrent connections accepted on the command line */

static const char *mode_name;      /* "get", "put", "echo", "conn" */
static uint64_t deadline_ns;       /* CLOCK_MONOTONIC end of the run */
static uint8_t xfer_buf[XFER_CHUNK];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Prints the FAIL line and exits 1. */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("tcpxfer: %s FAIL ", mode_name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    exit(1);
}

/* The FAIL reason for a socket error number. */
static const char *why_errno(int err) {
    switch (err) {
    case ECONNREFUSED: return "connection refused";
    case ECONNRESET: case EPIPE: return "connection reset";
    case ETIMEDOUT: return "timed out";
    default: return strerror(err);
    }
}

/* Milliseconds left until the deadline for poll; fails "timed out" when none are left. */
static int poll_budget_ms(void) {
    uint64_t now = now_ns();
    if (now >= deadline_ns) fail("timed out");
    uint64_t ms = (deadline_ns - now + 999999) / 1000000;
    return ms > 1000000 ? 1000000 : (int)ms;
}

/* Waits until fd reports one of events (or an error/hang-up) within the deadline. */
static short wait_fd(int fd, short events) {
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, poll_budget_ms());
        if (r > 0) return p.revents;
        if (r < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
    }
}

/* Parses a size: decimal digits with an optional K, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t *out) {
    if (!s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return false;
    unsigned shift = 0;
    switch (*end) {
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift))) return false;
    *out = (uint64_t)v << shift;
    return true;
}

/* Writes n bytes of the pattern starting at stream offset off into buf. */
static void pattern_fill(uint8_t *buf, size_t n, uint64_t off) {
    uint32_t v = (uint32_t)off * PATTERN_MUL;
    for (size_t i = 0; i < n; i++, v += PATTERN_MUL) buf[i] = (uint8_t)(v >> 24);
}

/* The index of the first byte of buf[0..n) that differs from the pattern at stream offset
 * off, or n when all match. */
static size_t pattern_check(const uint8_t *buf, size_t n, uint64_t off) {
    uint32_t v = (uint32_t)off * PATTERN_MUL;
    for (size_t i = 0; i < n; i++, v += PATTERN_MUL)
        if (buf[i] != (uint8_t)(v >> 24)) return i;
    return n;
}

/* A non-blocking stream socket with a connect to ai under way (or done). -errno on failure. */
static int connect_start(const struct addrinfo *ai) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS || errno == EINTR) return fd;
    int e = errno;
    close(fd);
    return -e;
}

/* Once a connecting socket is writable: 0 when connected, else the pending error number. */
static int connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

/* Connects to the first address of the list that accepts, waiting within the deadline;
 * *used tells which one (later connections of echo and conn use it). Fails on the last error. */
static int connect_any(const struct addrinfo *list, const struct addrinfo **used) {
    int err = EHOSTUNREACH;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int fd = connect_start(ai);
        if (fd < 0) { err = -fd; continue; }
        wait_fd(fd, POLLOUT);
        err = connect_result(fd);
        if (err == 0) {
            if (used) *used = ai;
            return fd;
        }
        close(fd);
    }
    fail("%s", why_errno(err));
}

/* Reads until the server closes, checking the pattern and, when want_set, the length. */
static void do_get(const struct addrinfo *ai, bool want_set, uint64_t want) {
    uint64_t t0 = now_ns();
    int fd = connect_any(ai, NULL);
    struct sha256 sha;
    sha256_init(&sha);
    uint64_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, xfer_buf, sizeof xfer_buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) { wait_fd(fd, POLLIN); continue; }
            fail("%s after %llu bytes", why_errno(errno), (unsigned long long)got);
        }
        if (n == 0) break;
        size_t bad = pattern_check(xfer_buf, (size_t)n, got);
        if (bad < (size_t)n) fail("pattern-bad@%llu", (unsigned long long)(got + bad));
        sha256_update(&sha, xfer_buf, (size_t)n);
        got += (uint64_t)n;
        if (want_set && got > want) fail("long transfer: more than %llu bytes", (unsigned long long)want);
    }
    close(fd);
    if (want_set && got != want)
        fail("short transfer: %llu of %llu bytes", (unsigned long long)got, (unsigned long long)want);
    uint64_t ns = now_ns() - t0;
    char hex[65];
    sha256_final_hex(&sha, hex);
    printf("tcpxfer: get ok %llu bytes %llu ms %.1f MB/s sha256 %s\n", (unsigned long long)got,
           (unsigned long long)(ns / 1000000), ns ? (double)got * 1000.0 / (double)ns : 0.0, hex);
}

/* Sends want bytes of the pattern, shuts down the sending side and checks tcpsink's answer. */
static void do_put(const struct addrinfo *ai, uint64_t want) {
    uint64_t t0 = now_ns();
    int fd = connect_any(ai, NULL);
    struct sha256 sha;
    sha256_init(&sha);
    uint64_t sent = 0;
    size_t off = 0, len = 0;                   /* the unsent part of xfer_buf */
    while (sent < want || off < len) {
        if (off == len) {
            len = want - sent < sizeof xfer_buf ? (size_t)(want - sent) : sizeof xfer_buf;
            pattern_fill(xfer_buf, len, sent);
            sha256_update(&sha, xfer_buf, len);
            sent += len;
            off = 0;
        }
        ssize_t n = send(fd, xfer_buf + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) { wait_fd(fd, POLLOUT); continue; }
            fail("%s after %llu bytes", why_errno(errno), (unsigned long long)(sent - (len - off)));
        }
        off += (size_t)n;
    }
    if (shutdown(fd, SHUT_WR) < 0) fail("shutdown: %s", why_errno(errno));
    char line[256];
    size_t have = 0;
    for (;;) {                                 /* the answer, until the server closes */
        ssize_t n = recv(fd, line + have, sizeof line - 1 - have, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) { wait_fd(fd, POLLIN); continue; }
            fail("%s while waiting for the server's answer", why_errno(errno));
        }
        if (n == 0) break;
        have += (size_t)n;
        if (have == sizeof line - 1) fail("server disagreed: answer longer than %zu bytes", sizeof line - 1);
    }
    close(fd);
    line[have] = '\0';
    if (have && line[have - 1] == '\n') line[--have] = '\0';
    uint64_t ns = now_ns() - t0;
    char hex[65];
    sha256_final_hex(&sha, hex);
    unsigned long long their_bytes;
    char their_sha[65], verdict[64], extra;
    if (have == 0) fail("server disagreed: no answer line");
    if (sscanf(line, "%llu %64s %63s %c", &their_bytes, their_sha, verdict, &extra) != 3)
        fail("server disagreed: malformed answer '%s'", line);
    if (their_bytes != want || strcmp(their_sha, hex) != 0 || strcmp(verdict, "pattern-ok") != 0)
        fail("server disagreed: sent %llu bytes sha256 %s, server says '%s'", (unsigned long long)want, hex, line);
    printf("tcpxfer: put ok %llu bytes %llu ms %.1f MB/s sha256 %s\n", (unsigned long long)want,
           (unsigned long long)(ns / 1000000), ns ? (double)want * 1000.0 / (double)ns : 0.0, hex);
}

/* One connection of echo. */
struct echo_conn {
    int fd;
    bool connecting;        /* non-blocking connect under way */
    bool shut;              /* the sending side is shut down (everything sent) */
    uint64_t sent, got;
};

/* CONNS connections at once in one poll loop; each sends bytes and reads them back. */
static void do_echo(const struct addrinfo *list, unsigned conns, uint64_t bytes) {
    uint64_t t0 = now_ns();
    struct echo_conn *cs = calloc(conns, sizeof *cs);
    struct pollfd *pf = calloc(conns, sizeof *pf);
    unsigned *slot = calloc(conns, sizeof *slot);      /* pf index -> connection */
    if (!cs || !pf || !slot) fail("out of memory");
    const struct addrinfo *ai = list;
    cs[0].fd = connect_any(list, &ai);                 /* finds the address that answers */
    for (unsigned i = 1; i < conns; i++) {
        int fd = connect_start(ai);
        if (fd < 0) fail("%s (connection %u)", why_errno(-fd), i + 1);
        cs[i].fd = fd;
        cs[i].connecting = true;
    }
    unsigned live = conns;
    while (live > 0) {
        nfds_t n = 0;
        for (unsigned i = 0; i < conns; i++) {
            struct echo_conn *c = &cs[i];
            if (c->fd < 0) continue;
            short ev = c->connecting ? POLLOUT : POLLIN;
            if (!c->connecting && c->sent < bytes) ev |= POLLOUT;
            pf[n] = (struct pollfd){.fd = c->fd, .events = ev};
            slot[n++] = i;
        }
        int r = poll(pf, n, poll_budget_ms());
        if (r < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
        if (r <= 0) continue;
        for (nfds_t k = 0; k < n; k++) {
            if (!pf[k].revents) continue;
            unsigned id = slot[k];
            struct echo_conn *c = &cs[id];
            if (c->connecting) {
                int err = connect_result(c->fd);
                if (err) fail("%s (connection %u)", why_errno(err), id + 1);
                c->connecting = false;
            }
            while (c->sent < bytes) {                  /* send what the socket takes */
                size_t len = bytes - c->sent < sizeof xfer_buf ? (size_t)(bytes - c->sent) : sizeof xfer_buf;
                pattern_fill(xfer_buf, len, c->sent);
                ssize_t w = send(c->fd, xfer_buf, len, MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    fail("%s (connection %u, %llu of %llu bytes sent)", why_errno(errno), id + 1,
                         (unsigned long long)c->sent, (unsigned long long)bytes);
                }
                c->sent += (uint64_t)w;
            }
            if (c->sent == bytes && !c->shut) {
                if (shutdown(c->fd, SHUT_WR) < 0) fail("shutdown: %s (connection %u)", why_errno(errno), id + 1);
                c->shut = true;
            }
            for (;;) {                                 /* read what came back */
                ssize_t got = recv(c->fd, xfer_buf, sizeof xfer_buf, 0);
                if (got < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    fail("%s (connection %u, %llu of %llu bytes back)", why_errno(errno), id + 1,
                         (unsigned long long)c->got, (unsigned long long)bytes);
                }
                if (got == 0) {
                    if (c->got != bytes)
                        fail("short transfer: connection %u got %llu of %llu bytes back", id + 1,
                             (unsigned long long)c->got, (unsigned long long)bytes);
                    close(c->fd);
                    c->fd = -1;
                    live--;
                    break;
                }
                size_t bad = pattern_check(xfer_buf, (size_t)got, c->got);
                if (bad < (size_t)got)
                    fail("pattern-bad@%llu (connection %u)", (unsigned long long)(c->got + bad), id + 1);
                c->got += (uint64_t)got;
                if (c->got > c->sent) fail("server disagreed: connection %u got back more than it sent", id + 1);
            }
        }
    }
    uint64_t ns = now_ns() - t0;
    printf("tcpxfer: echo ok %u connections %llu bytes %llu ms\n", conns, (unsigned long long)bytes * conns,
           (unsigned long long)(ns / 1000000));
    free(cs);
    free(pf);
    free(slot);
}

/* COUNT sequential connections: connect, shut down the sending side, wait for the close. */
static void do_conn(const struct addrinfo *list, unsigned long count) {
    uint64_t t0 = now_ns();
    const struct addrinfo *ai = list;
    for (unsigned long i = 0; i < count; i++) {
        int fd;
        if (i == 0) {
            fd = connect_any(list, &ai);
        } else {
            fd = connect_start(ai);
            if (fd < 0) fail("%s (connection %lu)", why_errno(-fd), i + 1);
            wait_fd(fd, POLLOUT);
            int err = connect_result(fd);
            if (err) fail("%s (connection %lu)", why_errno(err), i + 1);
        }
        if (shutdown(fd, SHUT_WR) < 0) fail("shutdown: %s (connection %lu)", why_errno(errno), i + 1);
        for (;;) {
            ssize_t n = recv(fd, xfer_buf, sizeof xfer_buf, 0);
            if (n == 0) break;
            if (n > 0) fail("server disagreed: connection %lu got data it never sent", i + 1);
            if (errno == EAGAIN || errno == EINTR) { wait_fd(fd, POLLIN); continue; }
            fail("%s (connection %lu)", why_errno(errno), i + 1);
        }
        close(fd);
    }
    uint64_t ns = now_ns() - t0;
    printf("tcpxfer: conn ok %lu connections %llu ms %.1f per s\n", count, (unsigned long long)(ns / 1000000),
           ns ? (double)count * 1e9 / (double)ns : 0.0);
}

static void __attribute__((noreturn)) usage(void) {
    fprintf(stderr,
            "usage: tcpxfer [-4|-6] [-t SECS] get  HOST PORT [BYTES]\n"
            "       tcpxfer [-4|-6] [-t SECS] put  HOST PORT BYTES\n"
            "       tcpxfer [-4|-6] [-t SECS] echo HOST PORT CONNS BYTES\n"
            "       tcpxfer [-4|-6] [-t SECS] conn HOST PORT COUNT\n"
            "BYTES take K, M or G (powers of 1024); -t bounds the whole run (default 300).\n");
    exit(2);
}

/* A count argument in 1..max, else the usage. */
static uint64_t parse_count(const char *s, uint64_t max) {
    uint64_t v;
    if (!parse_size(s, &v) || v == 0 || v > max) {
        uwarnx("bad count '%s' (1..%llu)", s, (unsigned long long)max);
        usage();
    }
    return v;
}

/* A size argument, else the usage. */
static uint64_t parse_bytes(const char *s) {
    uint64_t v;
    if (!parse_size(s, &v)) {
        uwarnx("bad size '%s'", s);
        usage();
    }
    return v;
}

int main(int argc, char **argv) {
    ulib_prog = "tcpxfer";
    int family = AF_UNSPEC, opt;
    long long secs = 300;
    while ((opt = ugetopt(argc, argv, "46t:")) != -1) {
        switch (opt) {
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 't':
            if (!uparse_ll(optarg, &secs) || secs <= 0 || secs > 86400 * 365) {
                uwarnx("bad time limit '%s'", optarg);
                usage();
            }
            break;
        default: usage();
        }
    }
    int nargs = argc - optind;
    if (nargs < 3) usage();
    char **a = argv + optind;
    mode_name = a[0];
    long long port;
    if (!uparse_ll(a[2], &port) || port < 1 || port > 65535) {
        uwarnx("bad port '%s'", a[2]);
        usage();
    }
    bool want_set = false;
    uint64_t bytes = 0, count = 0;
    if (strcmp(mode_name, "get") == 0 && (nargs == 3 || nargs == 4)) {
        want_set = nargs == 4;
        if (want_set) bytes = parse_bytes(a[3]);
    } else if (strcmp(mode_name, "put") == 0 && nargs == 4) {
        bytes = parse_bytes(a[3]);
    } else if (strcmp(mode_name, "echo") == 0 && nargs == 5) {
        count = parse_count(a[3], MAX_CONNS);
        bytes = parse_bytes(a[4]);
    } else if (strcmp(mode_name, "conn") == 0 && nargs == 4) {
        count = parse_count(a[3], 100000000);
    } else {
        usage();
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    deadline_ns = now_ns() + (uint64_t)secs * 1000000000ull;

    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int g = getaddrinfo(a[1], a[2], &hints, &ai);
    if (g != 0) fail("cannot resolve %s: %s", a[1], g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    if (strcmp(mode_name, "get") == 0) do_get(ai, want_set, bytes);
    else if (strcmp(mode_name, "put") == 0) do_put(ai, bytes);
    else if (strcmp(mode_name, "echo") == 0) do_echo(ai, (unsigned)count, bytes);
    else do_conn(ai, (unsigned long)count);
    freeaddrinfo(ai);
    return 0;
}
