/*
 * tcpsink: the host-side TCP peer for the network tests (docs/network.md, "Test network").
 * Follows POSIX sockets/poll (IEEE Std 1003.1-2017) and RFC 3493 (IPv6 sockets, IPV6_V6ONLY);
 * the SHA-256 (FIPS 180-4) is user/include/sha256.h, shared with tcpxfer and sha256sum.
 *
 *   tcpsink [-p PORT] [-4|-6] [-b ADDR] (-s BYTES | -r | -x BYTES | -e) [-n CONNS]
 *           [-t SECONDS] [-i SECONDS] [-q]
 *   tcpsink -g BYTES > FILE
 *
 *   -s BYTES  send: each connection receives BYTES bytes of the pattern; then the server shuts
 *             down its sending side and reads (and discards) until the client closes.
 *   -r        receive: read until the client shuts down its sending side, then answer one line
 *             "BYTES SHA256HEX pattern-ok|pattern-bad@OFFSET\n" and close.
 *   -x BYTES  receive, and a connection only counts as ok with exactly BYTES bytes of the
 *             pattern.
 *   -e        echo everything back; close after the client closes.
 *   -g BYTES  no server: write BYTES bytes of the pattern to stdout and exit (test files).
 *   -n CONNS  exit after CONNS connections have finished (default: run until -t).
 *   -t SEC    overall time limit (default 600); -i SEC idle limit per connection (default 60).
 *   -4 / -6   IPv4 / IPv6 only (default both, the IPv6 socket with IPV6_V6ONLY); -b binds one
 *             address. -q prints only the summary.
 * Sizes take a K, M or G suffix (powers of 1024). The pattern: byte i of a stream is
 * (uint8_t)(((uint32_t)i * 2654435761u) >> 24). One line per finished connection on stdout
 * ("tcpsink: #N [ADDR]:PORT MODE BYTES bytes sha256 HEX ... ok|FAIL reason"), then
 * "tcpsink: N connections: X ok, Y failed". Exit status 0 when none failed and, with -n, all
 * CONNS finished in time; 1 otherwise; 2 for bad arguments. Single-threaded, one poll loop,
 * non-blocking sockets: hundreds of concurrent connections.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../user/include/sha256.h" /* shared with the guest programs */

/* ---- the pattern ---- */
static inline uint8_t pattern(uint64_t i) { return (uint8_t)(((uint32_t)i * 2654435761u) >> 24); }

/* ---- connections ---- */
enum mode { M_SEND, M_RECV, M_ECHO };
enum state { S_XFER, S_DRAIN, S_REPLY };
#define CBUF 16384
struct conn {
    int fd, id;
    enum state st;
    char peer[64];
    uint64_t bytes;          /* sent (send mode), received (recv, echo) */
    int64_t bad_at;          /* first pattern mismatch, -1 when none */
    struct sha256 sha;
    uint8_t buf[CBUF];
    size_t off, len;         /* pending output in buf */
    time_t last;
};

static enum mode mode = M_RECV;
static uint64_t size_arg;    /* -s / -x */
static int quiet, idle_limit = 60;
static long n_ok, n_fail;

static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s) { fprintf(stderr, "tcpsink: bad size %s\n", s); exit(2); }
    switch (*end) {
    case 'K': case 'k': v <<= 10; end++; break;
    case 'M': case 'm': v <<= 20; end++; break;
    case 'G': case 'g': v <<= 30; end++; break;
    }
    if (*end) { fprintf(stderr, "tcpsink: bad size %s\n", s); exit(2); }
    return v;
}

static void finish(struct conn *c, const char *why)
{
    char hex[65];
    int ok = why == NULL;
    const char *m = mode == M_SEND ? "send" : mode == M_RECV ? "recv" : "echo";
    sha256_final_hex(&c->sha, hex);
    if (ok && mode == M_RECV && size_arg) {
        if (c->bytes != size_arg) { ok = 0; why = "wrong length"; }
        else if (c->bad_at >= 0) { ok = 0; why = "pattern differs"; }
    }
    ok ? n_ok++ : n_fail++;
    if (!quiet || !ok) {
        printf("tcpsink: #%d %s %s %llu bytes sha256 %s", c->id, c->peer, m,
               (unsigned long long)c->bytes, hex);
        if (mode == M_RECV) {
            if (c->bad_at >= 0) printf(" pattern-bad@%lld", (long long)c->bad_at);
            else printf(" pattern-ok");
        }
        printf(ok ? " ok\n" : " FAIL %s\n", why);
        fflush(stdout);
    }
    close(c->fd);
    free(c);
}

/* One step of a connection whose socket is ready; returns 0 to keep it, 1 when it finished. */
static int step(struct conn *c, short rev)
{
    uint8_t tmp[65536];
    ssize_t r;
    if (rev & POLLNVAL) { finish(c, "bad descriptor"); return 1; }
    for (;;) {
        if (c->off < c->len) {                          /* pending output first */
            r = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) return 0;
                finish(c, strerror(errno)); return 1;
            }
            c->off += (size_t)r;
            continue;
        }
        if (c->st == S_REPLY) { finish(c, NULL); return 1; }
        if (mode == M_SEND && c->st == S_XFER) {
            if (c->bytes == size_arg) {
                shutdown(c->fd, SHUT_WR);
                c->st = S_DRAIN;
                continue;
            }
            size_t n = size_arg - c->bytes < CBUF ? (size_t)(size_arg - c->bytes) : CBUF;
            for (size_t i = 0; i < n; i++) c->buf[i] = pattern(c->bytes + i);
            sha256_update(&c->sha, c->buf, n);
            c->bytes += n; c->off = 0; c->len = n;
            continue;
        }
        /* reading: recv and echo transfer, or send-mode drain */
        size_t cap = mode == M_ECHO ? CBUF : sizeof tmp;
        uint8_t *dst = mode == M_ECHO ? c->buf : tmp;
        r = recv(c->fd, dst, cap, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            finish(c, strerror(errno)); return 1;
        }
        if (r == 0) {                                   /* the client closed its side */
            if (mode == M_RECV) {
                char hex[65];
                struct sha256 copy = c->sha;
                sha256_final_hex(&copy, hex);
                int n = c->bad_at >= 0
                    ? snprintf((char *)c->buf, CBUF, "%llu %s pattern-bad@%lld\n", (unsigned long long)c->bytes, hex, (long long)c->bad_at)
                    : snprintf((char *)c->buf, CBUF, "%llu %s pattern-ok\n", (unsigned long long)c->bytes, hex);
                c->off = 0; c->len = (size_t)n; c->st = S_REPLY;
                continue;
            }
            if (mode == M_ECHO) shutdown(c->fd, SHUT_WR);
            finish(c, NULL); return 1;
        }
        if (c->st == S_DRAIN) continue;
        if (mode == M_RECV) {
            for (ssize_t i = 0; c->bad_at < 0 && i < r; i++)
                if (dst[i] != pattern(c->bytes + (uint64_t)i)) c->bad_at = (int64_t)(c->bytes + (uint64_t)i);
        }
        sha256_update(&c->sha, dst, (size_t)r);
        c->bytes += (uint64_t)r;
        if (mode == M_ECHO) { c->off = 0; c->len = (size_t)r; }
    }
}

static int listen_on(int family, const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        s6->sin6_family = AF_INET6; s6->sin6_port = htons((uint16_t)port);
        s6->sin6_addr = in6addr_any;
        if (addr && inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) { close(fd); return -1; }
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET; s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        if (addr && inet_pton(AF_INET, addr, &s4->sin_addr) != 1) { close(fd); return -1; }
        sl = sizeof *s4;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "tcpsink: %s port %d: %s\n", family == AF_INET6 ? "IPv6" : "IPv4", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* -g: writes n bytes of the pattern to stdout; 0 on success. */
static int generate(uint64_t n)
{
    static uint8_t b[65536];
    for (uint64_t off = 0; off < n;) {
        size_t len = n - off < sizeof b ? (size_t)(n - off) : sizeof b;
        for (size_t i = 0; i < len; i++) b[i] = pattern(off + i);
        if (fwrite(b, 1, len, stdout) != len) { perror("tcpsink: write"); return 1; }
        off += len;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: tcpsink [-p PORT] [-4|-6] [-b ADDR] (-s BYTES | -r | -x BYTES | -e) "
                    "[-n CONNS] [-t SEC] [-i SEC] [-q]\n       tcpsink -g BYTES > FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 9000, fam4 = 1, fam6 = 1, opt, limit = 600;
    long want = 0;
    const char *bind_addr = NULL;
    while ((opt = getopt(argc, argv, "p:46b:s:rx:eg:n:t:i:q")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case '4': fam6 = 0; break;
        case '6': fam4 = 0; break;
        case 'b': bind_addr = optarg; if (strchr(optarg, ':')) fam4 = 0; else fam6 = 0; break;
        case 's': mode = M_SEND; size_arg = parse_size(optarg); break;
        case 'r': mode = M_RECV; size_arg = 0; break;
        case 'x': mode = M_RECV; size_arg = parse_size(optarg); break;
        case 'e': mode = M_ECHO; break;
        case 'g': return generate(parse_size(optarg));
        case 'n': want = atol(optarg); break;
        case 't': limit = atoi(optarg); break;
        case 'i': idle_limit = atoi(optarg); break;
        case 'q': quiet = 1; break;
        default: usage();
        }
    }
    if (optind != argc || port <= 0 || port > 65535 || (!fam4 && !fam6) || limit <= 0 || idle_limit <= 0)
        usage();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int maxc = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 + 16 ? (int)rl.rlim_cur - 16 : 4096;
    struct pollfd *pf = calloc((size_t)maxc + 2, sizeof *pf);
    struct conn **cs = calloc((size_t)maxc, sizeof *cs);
    int nl = 0, nc = 0, next_id = 1;
    long done = 0;
    if (!pf || !cs) return 1;
    if (fam4 && (pf[nl].fd = listen_on(AF_INET, bind_addr, port)) >= 0) nl++;
    if (fam6 && (pf[nl].fd = listen_on(AF_INET6, bind_addr, port)) >= 0) nl++;
    if (nl == 0) return 1;
    printf("tcpsink: listening on port %d (%s)\n", port, fam4 && fam6 ? "IPv4, IPv6" : fam4 ? "IPv4" : "IPv6");
    fflush(stdout);
    time_t deadline = time(NULL) + limit;
    while (!want || done < want) {
        time_t now = time(NULL);
        if (now >= deadline) {
            fprintf(stderr, "tcpsink: time limit of %d s reached\n", limit);
            break;
        }
        for (int i = 0; i < nl; i++) pf[i].events = nc < maxc ? POLLIN : 0;
        for (int i = 0; i < nc; i++) {
            struct conn *c = cs[i];
            pf[nl + i].fd = c->fd;
            pf[nl + i].events = c->off < c->len || c->st == S_REPLY || (mode == M_SEND && c->st == S_XFER) ? POLLOUT : POLLIN;
        }
        int r = poll(pf, (nfds_t)(nl + nc), 1000);
        if (r < 0 && errno != EINTR) { perror("tcpsink: poll"); break; }
        now = time(NULL);
        for (int i = nc - 1; i >= 0; i--) {              /* backwards: removal swaps in the last */
            struct conn *c = cs[i];
            short rev = r > 0 ? pf[nl + i].revents : 0;
            int gone;
            if (rev) { c->last = now; gone = step(c, rev); }
            else if (now - c->last > idle_limit) { finish(c, "idle timeout"); gone = 1; }
            else gone = 0;
            if (gone) { cs[i] = cs[--nc]; done++; }
        }
        for (int i = 0; i < nl && r > 0; i++) {
            if (!(pf[i].revents & POLLIN)) continue;
            while (nc < maxc) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                int fd = accept4(pf[i].fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                struct conn *c = calloc(1, sizeof *c);
                if (!c) { close(fd); break; }
                char a[INET6_ADDRSTRLEN] = "?";
                int p = 0;
                if (ss.ss_family == AF_INET6) {
                    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                    inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a); p = ntohs(s6->sin6_port);
                } else {
                    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                    inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a); p = ntohs(s4->sin_port);
                }
                snprintf(c->peer, sizeof c->peer, "[%s]:%d", a, p);
                c->fd = fd; c->id = next_id++; c->st = S_XFER; c->bad_at = -1; c->last = now;
                sha256_init(&c->sha);
                cs[nc++] = c;
            }
        }
    }
    for (int i = 0; i < nc; i++) finish(cs[i], "unfinished at exit");
    printf("tcpsink: %ld connections: %ld ok, %ld failed\n", n_ok + n_fail, n_ok, n_fail);
    return n_fail == 0 && (!want || done >= want) ? 0 : 1;
}
