/* socket_selftest.c: self-tests of the socket system calls (group `socket`) against the Linux
 * man-pages semantics implemented by socket.c, sys_socket.c and inet.c.
 *
 * Each test gets a process of its own (proc_test_enter), maps user scratch memory with uvm_map
 * and calls the system calls through syscall_invoke with user addresses, as a program would.
 * Covered: UDP over 127.0.0.1 and ::1; TCP over 127.0.0.1 and ::1 with 1 MiB both ways intact;
 * non-blocking connect (EINPROGRESS, POLLOUT, SO_ERROR); accept/recv/poll with nothing pending
 * return in under 1 ms; two listeners and an outgoing connection at once; poll across a socket
 * and a pipe; SO_RCVTIMEO; hostile input (bad fds, non-sockets, bad lengths, bad pointers,
 * unsupported families/types/protocols, address in use, refused connections); no socket or
 * descriptor leaks; and a connection to the QEMU user-network host (10.0.2.2) on a closed port. */
#include "net_socket.h"
#include "net_tcp.h"
#include "proc.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "selftest.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "mm.h"
#include "time.h"

#define AF4 2
#define AF6 10
#define ST 1
#define DG 2
#define NB 04000
#define POLLIN 0x1
#define POLLOUT 0x4
#define MS 1000000ull
#define SCRATCH_SIZE (4u << 20)
#define BAD_USER 0x400000ull
#define BAD_KERNEL 0xffff800000100000ull
#define MIB (1u << 20)

struct env {
    uint64_t base, next;
    int socks0;
};

static int64_t sc_call(uint32_t nr, const uint64_t a[6]) { return syscall_invoke(nr, a[0], a[1], a[2], a[3], a[4], a[5]); }
#define SC(nr, ...) sc_call(nr, (const uint64_t[6]){__VA_ARGS__})

static uint64_t ualloc(struct env *e, size_t n) {
    uint64_t a = e->next;
    e->next += ALIGN_UP(n, 16);
    return e->next <= e->base + SCRATCH_SIZE ? a : BAD_USER;
}
static void uput(uint64_t a, const void *src, size_t n) { copy_to_user((void *)a, src, n); }
static void uget(uint64_t a, void *dst, size_t n) { copy_from_user(dst, (const void *)a, n); }

/* struct sockaddr_in for 127.0.0.1-style host-order ip. */
static uint64_t sa4(struct env *e, uint32_t ip, uint16_t port) {
    uint8_t b[16] = {0};
    b[0] = AF4;
    net_put16(b + 2, port);
    net_put32(b + 4, ip);
    uint64_t a = ualloc(e, 16);
    uput(a, b, 16);
    return a;
}
/* struct sockaddr_in6 for ::1 (loop) or :: */
static uint64_t sa6(struct env *e, bool loop, uint16_t port) {
    uint8_t b[28] = {0};
    b[0] = AF6;
    net_put16(b + 2, port);
    if (loop) b[23] = 1;
    uint64_t a = ualloc(e, 28);
    uput(a, b, 28);
    return a;
}
static uint64_t uint_at(struct env *e, uint32_t v) {
    uint64_t a = ualloc(e, 4);
    uput(a, &v, 4);
    return a;
}
/* The local port of fd (getsockname), 0 on error. */
static uint16_t port_of(struct env *e, int fd) {
    uint64_t a = ualloc(e, 28), l = uint_at(e, 28);
    if (SC(SYS_getsockname, (uint64_t)fd, a, l) < 0) return 0;
    uint8_t b[4];
    uget(a, b, 4);
    return net_get16(b + 2);
}
static int poll1(struct env *e, int fd, short events, int timeout_ms, short *rev) {
    uint64_t p = ualloc(e, 8);
    int32_t pf[2] = {fd, events};
    uput(p, pf, 8);
    int r = (int)SC(SYS_poll, p, 1, (uint64_t)(int64_t)timeout_ms);
    uget(p, pf, 8);
    *rev = (short)(pf[1] >> 16);
    return r;
}

static int env_enter(struct env *e) {
    int r = proc_test_enter();
    if (r < 0) return r;
    e->base = 0;
    r = uvm_map(proc_current()->vm, &e->base, SCRATCH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    if (r < 0) {
        proc_test_leave();
        return r;
    }
    e->next = e->base;
    e->socks0 = sock_count();
    return 0;
}

#define SK_TEST(name)                                                                         \
    static void body_##name(struct selftest_ctx *t, struct env *e);                           \
    SELFTEST_TIMEOUT(socket, name, 120000) {                                                  \
        struct env e;                                                                         \
        int r_ = env_enter(&e);                                                               \
        if (r_ < 0) {                                                                         \
            selftest_fail(t, "test process setup failed: %d", r_);                            \
            return;                                                                           \
        }                                                                                     \
        body_##name(t, &e);                                                                   \
        if (fd_count() != 0) selftest_fail(t, "descriptors left open: %d", fd_count());       \
        if (sock_count() != e.socks0) selftest_fail(t, "sockets leaked: %d -> %d", e.socks0, sock_count()); \
        proc_test_leave();                                                                    \
    }                                                                                         \
    static void body_##name(struct selftest_ctx *t, struct env *e)

/* A TCP listener on the loopback address of the family (port in *port); fd or -errno. */
static int listener(struct env *e, int af, uint16_t *port, int flags) {
    int l = (int)SC(SYS_socket, (uint64_t)af, ST | (uint64_t)flags, 0);
    if (l < 0) return l;
    uint64_t a = af == AF4 ? sa4(e, 0x7f000001, 0) : sa6(e, true, 0);
    int r = (int)SC(SYS_bind, (uint64_t)l, a, af == AF4 ? 16 : 28);
    if (r == 0) r = (int)SC(SYS_listen, (uint64_t)l, 8);
    if (r < 0) {
        SC(SYS_close, (uint64_t)l);
        return r;
    }
    *port = port_of(e, l);
    return l;
}

static void udp_roundtrip(struct selftest_ctx *t, struct env *e, int af) {
    int a = (int)SC(SYS_socket, (uint64_t)af, DG, 0), b = (int)SC(SYS_socket, (uint64_t)af, DG, 0);
    ST_ASSERT(t, a >= 0 && b >= 0, "socket: %d %d", a, b);
    size_t sl = af == AF4 ? 16 : 28;
    uint64_t any = af == AF4 ? sa4(e, 0x7f000001, 0) : sa6(e, true, 0);
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)a, any, sl) == 0, "bind a");
    uint16_t pa = port_of(e, a);
    ST_ASSERT(t, pa >= 49152, "ephemeral port %u", pa);
    uint64_t dst = af == AF4 ? sa4(e, 0x7f000001, pa) : sa6(e, true, pa);
    uint64_t msg = ualloc(e, 64), buf = ualloc(e, 64), from = ualloc(e, 28), fl = uint_at(e, 28);
    uput(msg, "hello over udp", 14);
    /* nothing there yet: MSG_DONTWAIT gives EAGAIN at once */
    uint64_t t0 = time_ns();
    int64_t r = SC(SYS_recvfrom, (uint64_t)a, buf, 64, MSG_DONTWAIT_K, 0, 0);
    ST_ASSERT(t, r == -KEAGAIN && time_ns() - t0 < MS, "empty recv: %ld in %lu ns", (long)r, (unsigned long)(time_ns() - t0));
    r = SC(SYS_sendto, (uint64_t)b, msg, 14, 0, dst, sl);
    ST_ASSERT(t, r == 14, "sendto: %ld", (long)r);
    short rev;
    ST_ASSERT(t, poll1(e, a, POLLIN, 2000, &rev) == 1 && (rev & POLLIN), "poll for the datagram");
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 64, 0, from, fl);
    char got[16] = {0};
    uget(buf, got, 14);
    ST_ASSERT(t, r == 14 && !memcmp(got, "hello over udp", 14), "recvfrom: %ld '%s'", (long)r, got);
    uint8_t fb[28];
    uget(from, fb, 28);
    ST_ASSERT(t, fb[0] == af && net_get16(fb + 2) == port_of(e, b), "sender address family %u port %u", fb[0], net_get16(fb + 2));
    /* a datagram cut short: MSG_TRUNC gives the real length */
    SC(SYS_sendto, (uint64_t)b, msg, 14, 0, dst, sl);
    ST_ASSERT(t, poll1(e, a, POLLIN, 2000, &rev) == 1, "second datagram");
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 4, MSG_TRUNC_K, 0, 0);
    ST_ASSERT(t, r == 14, "MSG_TRUNC length %ld", (long)r);
    SC(SYS_close, (uint64_t)a);
    SC(SYS_close, (uint64_t)b);
}

SK_TEST(udp_v4) { udp_roundtrip(t, e, AF4); }
SK_TEST(udp_v6) { udp_roundtrip(t, e, AF6); }

/* Pattern byte i of direction d. */
static uint8_t pat(uint32_t i, int d) { return (uint8_t)((i * 7u + (i >> 10) + (uint32_t)d * 13u) & 0xff); }

/* ST_ASSERT for functions returning bool. */
#define STB(t, cond, ...)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            selftest_fail((t), __VA_ARGS__);                                                  \
            return false;                                                                     \
        }                                                                                     \
    } while (0)

/* Connects a non-blocking client to a listener and accepts: fds in *c, *s. */
static bool tcp_pair(struct selftest_ctx *t, struct env *e, int af, int *lfd, int *c, int *s) {
    uint16_t port;
    *lfd = listener(e, af, &port, 0);
    STB(t, *lfd >= 0, "listener: %d", *lfd);
    *c = (int)SC(SYS_socket, (uint64_t)af, ST | NB, 0);
    STB(t, *c >= 0, "client socket %d", *c);
    uint64_t dst = af == AF4 ? sa4(e, 0x7f000001, port) : sa6(e, true, port);
    int64_t r = SC(SYS_connect, (uint64_t)*c, dst, af == AF4 ? 16 : 28);
    STB(t, r == -KEINPROGRESS, "non-blocking connect: %ld", (long)r);
    short rev = 0;
    STB(t, poll1(e, *c, POLLOUT, 5000, &rev) == 1 && (rev & POLLOUT), "connect completes (rev %x)", rev);
    uint64_t v = uint_at(e, 99), vl = uint_at(e, 4);
    STB(t, SC(SYS_getsockopt, (uint64_t)*c, SOL_SOCKET_K, SO_ERROR_K, v, vl) == 0, "SO_ERROR");
    uint32_t err;
    uget(v, &err, 4);
    STB(t, err == 0, "SO_ERROR %u", err);
    r = SC(SYS_connect, (uint64_t)*c, dst, af == AF4 ? 16 : 28);
    STB(t, r == -KEISCONN, "connect again: %ld", (long)r);
    *s = (int)SC(SYS_accept4, (uint64_t)*lfd, 0, 0, NB);
    STB(t, *s >= 0, "accept4: %d", *s);
    return true;
}

/* Moves n bytes each way between c and s with non-blocking calls and poll; true when intact. */
static void bulk(struct selftest_ctx *t, struct env *e, int c, int s, uint32_t n) {
    uint64_t sb = ualloc(e, 65536), rb[2] = {ualloc(e, n), ualloc(e, n)};
    uint8_t *k = kmalloc(65536);
    ST_ASSERT(t, k != NULL && rb[1] != BAD_USER, "buffers");
    uint32_t sent[2] = {0, 0}, got[2] = {0, 0};
    int fds[2] = {c, s};
    uint64_t deadline = time_ns() + 90000 * MS;
    while ((got[0] < n || got[1] < n) && time_ns() < deadline) {
        bool progress = false;
        for (int d = 0; d < 2; d++) {
            if (sent[d] < n) {
                uint32_t m = MIN(n - sent[d], 65536u);
                for (uint32_t i = 0; i < m; i++) k[i] = pat(sent[d] + i, d);
                uput(sb, k, m);
                int64_t r = SC(SYS_sendto, (uint64_t)fds[d], sb, m, 0, 0, 0);
                if (r > 0) { sent[d] += (uint32_t)r; progress = true; }
                else if (r != -KEAGAIN) { kfree(k); ST_ASSERT(t, false, "send dir %d: %ld", d, (long)r); }
            }
            int o = fds[1 - d];
            if (got[d] < n) {
                int64_t r = SC(SYS_recvfrom, (uint64_t)o, rb[d] + got[d], n - got[d], 0, 0, 0);
                if (r > 0) { got[d] += (uint32_t)r; progress = true; }
                else if (r != -KEAGAIN) { kfree(k); ST_ASSERT(t, false, "recv dir %d at %u: %ld", d, got[d], (long)r); }
            }
        }
        if (!progress) {
            uint64_t p = ualloc(e, 0);
            (void)p;
            uint64_t pf = e->next;
            int32_t two[4] = {c, POLLIN | POLLOUT, s, POLLIN | POLLOUT};
            uput(pf, two, 16);
            SC(SYS_poll, pf, 2, 100);
        }
    }
    for (int d = 0; d < 2 && got[d] == n; d++) {
        for (uint32_t off = 0; off < n; off += 65536) {
            uint32_t m = MIN(n - off, 65536u);
            uget(rb[d] + off, k, m);
            for (uint32_t i = 0; i < m; i++) {
                if (k[i] != pat(off + i, d)) {
                    kfree(k);
                    ST_ASSERT(t, false, "dir %d byte %u: %02x != %02x", d, off + i, k[i], pat(off + i, d));
                }
            }
        }
    }
    kfree(k);
    ST_ASSERT(t, got[0] == n && got[1] == n, "transferred %u / %u of %u", got[0], got[1], n);
}

static void tcp_bulk(struct selftest_ctx *t, struct env *e, int af, uint32_t n) {
    int l, c, s;
    if (!tcp_pair(t, e, af, &l, &c, &s)) return;
    uint64_t t0 = time_ns();
    bulk(t, e, c, s, n);
    uint64_t ms = (time_ns() - t0) / MS;
    pr_info("socket selftest: %u bytes each way over %s in %lu ms\n", n, af == AF4 ? "127.0.0.1" : "::1",
            (unsigned long)ms);
    /* orderly close: the peer reads EOF */
    ST_ASSERT(t, SC(SYS_shutdown, (uint64_t)c, SHUT_WR_K) == 0, "shutdown");
    short rev;
    poll1(e, s, POLLIN, 5000, &rev);
    uint64_t b = ualloc(e, 16);
    ST_ASSERT(t, SC(SYS_recvfrom, (uint64_t)s, b, 16, 0, 0, 0) == 0, "EOF after shutdown");
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

SK_TEST(tcp_v4_1mib) { tcp_bulk(t, e, AF4, MIB); }
SK_TEST(tcp_v6_small) { tcp_bulk(t, e, AF6, 100000); }

/* accept, recv and poll with nothing pending return at once. */
SK_TEST(no_wait_when_nonblocking) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    SC(SYS_fcntl, (uint64_t)l, 4 /* F_SETFL */, NB);
    uint64_t b = ualloc(e, 64);
    short rev;
    uint64_t t0 = time_ns();
    int64_t r1 = SC(SYS_accept, (uint64_t)l, 0, 0);
    uint64_t t1 = time_ns();
    int64_t r2 = SC(SYS_recvfrom, (uint64_t)s, b, 64, 0, 0, 0);
    uint64_t t2 = time_ns();
    int r3 = poll1(e, s, POLLIN, 0, &rev);
    uint64_t t3 = time_ns();
    int fd = (int)SC(SYS_socket, AF4, ST, 0);   /* a blocking socket with MSG_DONTWAIT */
    int64_t r4 = SC(SYS_recvfrom, (uint64_t)c, b, 64, MSG_DONTWAIT_K, 0, 0);
    uint64_t t4 = time_ns();
    ST_ASSERT(t, r1 == -KEAGAIN && t1 - t0 < MS, "accept: %ld in %lu ns", (long)r1, (unsigned long)(t1 - t0));
    ST_ASSERT(t, r2 == -KEAGAIN && t2 - t1 < MS, "recv: %ld in %lu ns", (long)r2, (unsigned long)(t2 - t1));
    ST_ASSERT(t, r3 == 0 && t3 - t2 < MS, "poll 0: %d in %lu ns", r3, (unsigned long)(t3 - t2));
    ST_ASSERT(t, r4 == -KEAGAIN && t4 - t3 < MS, "MSG_DONTWAIT: %ld in %lu ns", (long)r4, (unsigned long)(t4 - t3));
    /* SO_RCVTIMEO bounds a blocking recv */
    int64_t tv[2] = {0, 50000};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_fcntl, (uint64_t)c, 4, 0);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_RCVTIMEO_K, utv, 16) == 0, "SO_RCVTIMEO");
    t0 = time_ns();
    r1 = SC(SYS_recvfrom, (uint64_t)c, b, 64, 0, 0, 0);
    t1 = time_ns() - t0;
    ST_ASSERT(t, r1 == -KEAGAIN && t1 >= 45 * MS && t1 < 2000 * MS, "timed recv: %ld after %lu ms", (long)r1,
              (unsigned long)(t1 / MS));
    SC(SYS_close, (uint64_t)fd);
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

/* Two listeners and an outgoing connection at the same time: each accepted connection
 * belongs to the listener it was addressed to (the original's stolen-SYN bug). */
SK_TEST(two_listeners) {
    uint16_t p1, p2;
    int l1 = listener(e, AF4, &p1, 0), l2 = listener(e, AF4, &p2, 0);
    ST_ASSERT(t, l1 >= 0 && l2 >= 0 && p1 != p2, "listeners %d %d ports %u %u", l1, l2, p1, p2);
    int c1 = (int)SC(SYS_socket, AF4, ST | NB, 0), c2 = (int)SC(SYS_socket, AF4, ST | NB, 0);
    SC(SYS_connect, (uint64_t)c2, sa4(e, 0x7f000001, p2), 16);
    SC(SYS_connect, (uint64_t)c1, sa4(e, 0x7f000001, p1), 16);
    short rev;
    ST_ASSERT(t, poll1(e, l1, POLLIN, 5000, &rev) == 1 && poll1(e, l2, POLLIN, 5000, &rev) == 1, "both listeners ready");
    int s1 = (int)SC(SYS_accept, (uint64_t)l1, 0, 0), s2 = (int)SC(SYS_accept, (uint64_t)l2, 0, 0);
    ST_ASSERT(t, s1 >= 0 && s2 >= 0, "accept %d %d", s1, s2);
    ST_ASSERT(t, port_of(e, s1) == p1 && port_of(e, s2) == p2, "local ports %u %u", port_of(e, s1), port_of(e, s2));
    uint64_t a = ualloc(e, 16), al = uint_at(e, 16);
    ST_ASSERT(t, SC(SYS_getpeername, (uint64_t)s1, a, al) == 0, "getpeername");
    uint8_t b[16];
    uget(a, b, 16);
    ST_ASSERT(t, net_get16(b + 2) == port_of(e, c1), "peer of s1 is c1");
    /* nothing else pending on either */
    SC(SYS_fcntl, (uint64_t)l1, 4, NB);
    ST_ASSERT(t, SC(SYS_accept, (uint64_t)l1, 0, 0) == -KEAGAIN, "no extra connection");
    int fds[] = {c1, c2, s1, s2, l1, l2};
    for (int i = 0; i < 6; i++) SC(SYS_close, (uint64_t)fds[i]);
}

/* poll waits on a socket and a pipe together. */
SK_TEST(poll_socket_and_pipe) {
    uint64_t pfd = ualloc(e, 8);
    ST_ASSERT(t, SC(SYS_pipe2, pfd, 0) == 0, "pipe");
    int pp[2];
    uget(pfd, pp, 8);
    int u = (int)SC(SYS_socket, AF4, DG, 0);
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)u, sa4(e, 0x7f000001, 0), 16) == 0, "bind");
    uint64_t arr = ualloc(e, 16);
    int32_t f[4] = {u, POLLIN, pp[0], POLLIN};
    uput(arr, f, 16);
    ST_ASSERT(t, SC(SYS_poll, arr, 2, 0) == 0, "nothing ready");
    uint64_t x = ualloc(e, 8);
    uput(x, "x", 1);
    SC(SYS_write, (uint64_t)pp[1], x, 1);
    uput(arr, f, 16);
    ST_ASSERT(t, SC(SYS_poll, arr, 2, 1000) == 1, "pipe ready");
    int32_t g[4];
    uget(arr, g, 16);
    ST_ASSERT(t, (g[1] >> 16) == 0 && ((g[3] >> 16) & POLLIN), "revents %x %x", g[1] >> 16, g[3] >> 16);
    SC(SYS_read, (uint64_t)pp[0], x, 1);
    /* a datagram wakes a poll that is already sleeping: sent from another socket first, then
     * poll with a long timeout returns as soon as net_poller delivered it */
    int v = (int)SC(SYS_socket, AF4, DG, 0);
    SC(SYS_sendto, (uint64_t)v, x, 1, 0, sa4(e, 0x7f000001, port_of(e, u)), 16);
    uput(arr, f, 16);
    uint64_t t0 = time_ns();
    ST_ASSERT(t, SC(SYS_poll, arr, 2, 5000) == 1, "socket ready");
    ST_ASSERT(t, time_ns() - t0 < 1000 * MS, "woken promptly");
    uget(arr, g, 16);
    ST_ASSERT(t, ((g[1] >> 16) & POLLIN) && (g[3] >> 16) == 0, "revents %x %x", g[1] >> 16, g[3] >> 16);
    SC(SYS_close, (uint64_t)v);
    SC(SYS_close, (uint64_t)u);
    SC(SYS_close, (uint64_t)pp[0]);
    SC(SYS_close, (uint64_t)pp[1]);
}

/* Hostile and wrong input: clear errors, no hang. */
SK_TEST(bad_input) {
    uint64_t a = sa4(e, 0x7f000001, 0), b = ualloc(e, 64);
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)-1, a, 16) == -KEBADF, "bind fd -1");
    ST_ASSERT(t, SC(SYS_listen, 200, 1) == -KEBADF, "listen fd 200");
    ST_ASSERT(t, SC(SYS_accept, 7, 0, 0) == -KEBADF, "accept bad fd");
    uint64_t pfd = ualloc(e, 8);
    SC(SYS_pipe2, pfd, 0);
    int pp[2];
    uget(pfd, pp, 8);
    ST_ASSERT(t, SC(SYS_connect, (uint64_t)pp[0], a, 16) == -KENOTSOCK, "connect on a pipe");
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)pp[1], b, 1, 0, 0, 0) == -KENOTSOCK, "sendto on a pipe");
    ST_ASSERT(t, SC(SYS_getsockopt, (uint64_t)pp[0], 1, 4, b, b + 8) == -KENOTSOCK, "getsockopt on a pipe");
    SC(SYS_close, (uint64_t)pp[0]);
    SC(SYS_close, (uint64_t)pp[1]);
    ST_ASSERT(t, SC(SYS_socket, 1 /* AF_UNIX */, ST, 0) == -KEAFNOSUPPORT, "AF_UNIX");
    ST_ASSERT(t, SC(SYS_socket, 99, ST, 0) == -KEAFNOSUPPORT, "family 99");
    ST_ASSERT(t, SC(SYS_socket, AF4, ST, 17) == -KEPROTONOSUPPORT, "stream with UDP");
    ST_ASSERT(t, SC(SYS_socket, AF6, DG, 6) == -KEPROTONOSUPPORT, "dgram with TCP");
    ST_ASSERT(t, SC(SYS_socket, AF4, SOCK_RAW_K, 1) == -KESOCKTNOSUPPORT, "raw");
    ST_ASSERT(t, SC(SYS_socket, AF4, 77, 0) == -KEINVAL, "type 77");
    ST_ASSERT(t, SC(SYS_socket, AF4, ST | 0x100000, 0) == -KEINVAL, "unknown type flag");
    ST_ASSERT(t, SC(SYS_socketpair, AF4, ST, 0, b) == -KEOPNOTSUPP, "socketpair");
    int s = (int)SC(SYS_socket, AF4, ST, 0), s6 = (int)SC(SYS_socket, AF6, DG, 0);
    ST_ASSERT(t, s >= 0 && s6 >= 0, "sockets");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, a, 8) == -KEINVAL, "short sockaddr_in");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, a, 1000) == -KEINVAL, "huge sockaddr length");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, a, (uint64_t)-1) == -KEINVAL, "negative sockaddr length");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s6, sa6(e, true, 0), 20) == -KEINVAL, "short sockaddr_in6");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, 0, 16) == -KEFAULT, "NULL sockaddr");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, BAD_KERNEL, 16) == -KEFAULT, "kernel sockaddr");
    ST_ASSERT(t, SC(SYS_connect, (uint64_t)s, BAD_USER, 16) == -KEFAULT, "unmapped sockaddr");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, sa6(e, true, 0), 28) == -KEAFNOSUPPORT, "v6 address on a v4 socket");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, sa4(e, 0x0a0b0c0d, 0), 16) == -KEADDRNOTAVAIL, "bind to a foreign address");
    ST_ASSERT(t, SC(SYS_getsockopt, (uint64_t)s, 1, 12345, b, uint_at(e, 4)) == -KENOPROTOOPT, "unknown option");
    ST_ASSERT(t, SC(SYS_getsockopt, (uint64_t)s, 1, SO_TYPE_K, b, BAD_KERNEL) == -KEFAULT, "optlen kernel pointer");
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)s, 1, SO_REUSEADDR_K, BAD_USER, 4) == -KEFAULT, "optval unmapped");
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)s, 1, SO_REUSEADDR_K, b, 2) == -KEINVAL, "optlen 2");
    ST_ASSERT(t, SC(SYS_recvfrom, (uint64_t)s, b, 64, 0, 0, 0) == -KENOTCONN, "recv unconnected");
    ST_ASSERT(t, SC(SYS_shutdown, (uint64_t)s, 7) == -KEINVAL, "shutdown how 7");
    ST_ASSERT(t, SC(SYS_listen, (uint64_t)s6, 1) == -KEOPNOTSUPP, "listen on UDP");
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)s6, b, 1, 0, 0, 0) == -KEDESTADDRREQ, "UDP send without address");
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)s6, b, 70000, 0, sa6(e, true, 9), 28) == -KEMSGSIZE, "huge datagram");
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)s6, BAD_KERNEL, 10, 0, sa6(e, true, 9), 28) == -KEFAULT, "kernel data");
    /* address in use */
    uint16_t port;
    int l = listener(e, AF4, &port, 0);
    ST_ASSERT(t, l >= 0, "listener");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, sa4(e, 0x7f000001, port), 16) == -KEADDRINUSE, "bind to a port in use");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)s, sa4(e, 0, port), 16) == -KEADDRINUSE, "bind any to a port in use");
    ST_ASSERT(t, SC(SYS_accept, (uint64_t)s, 0, 0) == -KEINVAL, "accept on a non-listening socket");
    int u1 = (int)SC(SYS_socket, AF4, DG, 0), u2 = (int)SC(SYS_socket, AF4, DG, 0);
    SC(SYS_bind, (uint64_t)u1, sa4(e, 0x7f000001, 0), 16);
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)u2, sa4(e, 0x7f000001, port_of(e, u1)), 16) == -KEADDRINUSE, "UDP port in use");
    SC(SYS_close, (uint64_t)l);
    /* connection refused (RST from our own TCP) */
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    int64_t tv[2] = {5, 0};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16);
    int64_t r = SC(SYS_connect, (uint64_t)c, sa4(e, 0x7f000001, port), 16);
    ST_ASSERT(t, r == -KECONNREFUSED, "connect to a closed port: %ld", (long)r);
    int fds[] = {s, s6, u1, u2, c};
    for (int i = 0; i < 5; i++) SC(SYS_close, (uint64_t)fds[i]);
}

/* The launcher always attaches eth0 on QEMU user networking and the boot starts DHCP on it:
 * waits (up to 20 s) until it has its IPv4 address. False (with the test failed) otherwise. */
static bool wait_eth0_address(struct selftest_ctx *t) {
    struct netif *nif = netif_find("eth0");
    if (!nif) {
        selftest_fail(t, "no eth0");
        return false;
    }
    uint64_t t0 = time_ns();
    while (!(nif->ip4[0] | nif->ip4[1] | nif->ip4[2] | nif->ip4[3]) && time_ns() - t0 < 20000 * MS)
        task_sleep_ns(50 * MS);
    if (nif->ip4[0] | nif->ip4[1] | nif->ip4[2] | nif->ip4[3]) return true;
    selftest_fail(t, "eth0 got no IPv4 address in 20 s");
    return false;
}

/* QEMU user networking: the host (10.0.2.2) answers a SYN to a closed port with RST. */
SK_TEST(slirp_refused) {
    if (!wait_eth0_address(t)) return;
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    int64_t tv[2] = {10, 0};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16);
    uint64_t t0 = time_ns();
    int64_t r = SC(SYS_connect, (uint64_t)c, sa4(e, 0x0a000202, 1), 16);
    pr_info("socket selftest: connect to 10.0.2.2:1 -> %ld after %lu ms\n", (long)r,
            (unsigned long)((time_ns() - t0) / MS));
    SC(SYS_close, (uint64_t)c);
    ST_ASSERT(t, r == -KECONNREFUSED, "connect to 10.0.2.2:1: %ld", (long)r);
}

/* SO_SNDTIMEO bounds a blocking connect whose SYN is lost (lo drops every frame meanwhile):
 * EINPROGRESS at expiry, and closing the half-open socket frees it. */
SK_TEST(connect_timeout) {
    uint16_t port;
    int l = listener(e, AF4, &port, 0);
    ST_ASSERT(t, l >= 0, "listener %d", l);
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL, "no lo");
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    int64_t tv[2] = {0, 200000};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16) == 0, "SO_SNDTIMEO");
    lo->faults.drop_permille = 1000;
    uint64_t t0 = time_ns();
    int64_t r = SC(SYS_connect, (uint64_t)c, sa4(e, 0x7f000001, port), 16);
    uint64_t took = time_ns() - t0;
    lo->faults.drop_permille = 0;
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)l);
    ST_ASSERT(t, r == -KEINPROGRESS && took >= 190 * MS && took < 3000 * MS, "connect: %ld after %lu ms", (long)r,
              (unsigned long)(took / MS));
}

/* ---- ping sockets (icmp(7): SOCK_DGRAM with IPPROTO_ICMP / IPPROTO_ICMPV6) ---- */
#define PING_DATA 24

/* An echo request in user memory: type, code, seq and PING_DATA payload bytes. */
static uint64_t echo_req(struct env *e, uint8_t type, uint8_t code, uint16_t seq) {
    uint8_t b[8 + PING_DATA] = {type, code};
    net_put16(b + 4, 0x4242);                 /* the kernel replaces the identifier */
    net_put16(b + 6, seq);
    for (int i = 0; i < PING_DATA; i++) b[8 + i] = (uint8_t)(i * 7 + seq);
    uint64_t a = ualloc(e, sizeof(b));
    uput(a, b, sizeof(b));
    return a;
}

/* Sends one echo request through a ping socket to dst and checks the reply: type, the
 * socket's identifier, seq, payload, sender address (addr_off/alen in the sockaddr). */
static void ping_roundtrip(struct selftest_ctx *t, struct env *e, int af, uint64_t dst, uint32_t dlen,
                           uint16_t seq, uint64_t timeout_ms) {
    int s = (int)SC(SYS_socket, (uint64_t)af, DG, af == AF4 ? 1 : 58);
    ST_ASSERT(t, s >= 0, "ping socket(af %d): %d", af, s);
    int64_t tv[2] = {(int64_t)(timeout_ms / 1000), (int64_t)(timeout_ms % 1000) * 1000};
    uint64_t tva = ualloc(e, 16);
    uput(tva, tv, 16);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)s, SOL_SOCKET_K, SO_RCVTIMEO_K, tva, 16) == 0, "SO_RCVTIMEO");
    int64_t r = SC(SYS_sendto, (uint64_t)s, echo_req(e, af == AF4 ? 8 : 128, 0, seq), 8 + PING_DATA, 0, dst, dlen);
    ST_ASSERT(t, r == 8 + PING_DATA, "sendto echo request: %ld", (long)r);
    uint16_t ident = port_of(e, s);
    ST_ASSERT(t, ident != 0, "no identifier after sendto");
    short rev = 0;
    int pr = poll1(e, s, POLLIN, (int)timeout_ms, &rev);
    ST_ASSERT(t, pr == 1 && (rev & POLLIN), "af %d: poll for the reply: %d rev %#x", af, pr, rev);
    uint64_t buf = ualloc(e, 256), from = ualloc(e, 28), fl = uint_at(e, 28);
    r = SC(SYS_recvfrom, (uint64_t)s, buf, 256, 0, from, fl);
    ST_ASSERT(t, r == 8 + PING_DATA, "recvfrom echo reply: %ld", (long)r);
    uint8_t b[8 + PING_DATA], fa[28], dsa[28];
    uget(buf, b, sizeof(b));
    uget(from, fa, 28);
    uget(dst, dsa, dlen);
    ST_ASSERT(t, b[0] == (af == AF4 ? 0 : 129) && b[1] == 0, "reply type %u code %u", b[0], b[1]);
    ST_ASSERT(t, net_get16(b + 4) == ident, "reply id %#x, socket ident %#x", net_get16(b + 4), ident);
    ST_ASSERT(t, net_get16(b + 6) == seq, "reply seq %u, sent %u", net_get16(b + 6), seq);
    for (int i = 0; i < PING_DATA; i++)
        ST_ASSERT(t, b[8 + i] == (uint8_t)(i * 7 + seq), "payload byte %d differs", i);
    if (af == AF4) {
        ST_ASSERT(t, net_csum_fold(net_csum_add(0, b, sizeof(b))) == 0, "reply checksum invalid");
        ST_ASSERT(t, fa[0] == AF4 && !memcmp(fa + 4, dsa + 4, 4) && net_get16(fa + 2) == 0, "sender address wrong");
    } else {
        ST_ASSERT(t, fa[0] == AF6 && !memcmp(fa + 8, dsa + 8, 16) && net_get16(fa + 2) == 0, "sender address wrong");
    }
    /* nothing else queued: non-blocking read answers EAGAIN at once */
    r = SC(SYS_recvfrom, (uint64_t)s, buf, 256, MSG_DONTWAIT_K, 0, 0);
    ST_ASSERT(t, r == -KEAGAIN, "second recvfrom: %ld", (long)r);
    SC(SYS_close, (uint64_t)s);
}

SK_TEST(ping_loopback) {
    ping_roundtrip(t, e, AF4, sa4(e, 0x7f000001, 0), 16, 1, 2000);
    ping_roundtrip(t, e, AF6, sa6(e, true, 0), 28, 2, 2000);
}

/* Hostile input: wrong type or code, too short, wrong family, protocol mismatch, used
 * identifier, bad pointers; recv with nothing queued (non-blocking and SO_RCVTIMEO). */
SK_TEST(ping_bad_input) {
    ST_ASSERT(t, SC(SYS_socket, AF4, DG, 58) == -KEPROTONOSUPPORT, "AF_INET + IPPROTO_ICMPV6 accepted");
    ST_ASSERT(t, SC(SYS_socket, AF6, DG, 1) == -KEPROTONOSUPPORT, "AF_INET6 + IPPROTO_ICMP accepted");
    int s = (int)SC(SYS_socket, AF4, DG | NB, 1);
    int s6 = (int)SC(SYS_socket, AF6, DG, 58);
    ST_ASSERT(t, s >= 0 && s6 >= 0, "ping sockets: %d %d", s, s6);
    uint64_t lo = sa4(e, 0x7f000001, 0), lo6 = sa6(e, true, 0);
    int64_t r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 0, 0, 1), 8 + PING_DATA, 0, lo, 16);
    ST_ASSERT(t, r == -KEINVAL, "echo reply type sent: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 8, 1, 1), 8 + PING_DATA, 0, lo, 16);
    ST_ASSERT(t, r == -KEINVAL, "code 1 sent: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 8, 0, 1), 7, 0, lo, 16);
    ST_ASSERT(t, r == -KEINVAL, "7-byte request sent: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 8, 0, 1), 0, 0, lo, 16);
    ST_ASSERT(t, r == -KEINVAL, "empty request sent: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s6, echo_req(e, 8, 0, 1), 8 + PING_DATA, 0, lo6, 28);
    ST_ASSERT(t, r == -KEINVAL, "ICMPv4 type on an ICMPv6 socket: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s6, echo_req(e, 128, 0, 1), 8 + PING_DATA, 0, lo, 16);
    ST_ASSERT(t, r == -KEINVAL, "IPv4 destination on an ICMPv6 socket: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 8, 0, 1), 8 + PING_DATA, 0, lo6, 28);
    ST_ASSERT(t, r == -KEAFNOSUPPORT, "IPv6 destination on an ICMP socket: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 8, 0, 1), 8 + PING_DATA, 0, 0, 0);
    ST_ASSERT(t, r == -KEDESTADDRREQ, "no destination: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, BAD_USER, 8 + PING_DATA, 0, lo, 16);
    ST_ASSERT(t, r == -KEFAULT, "unmapped buffer: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, BAD_KERNEL, 8 + PING_DATA, 0, lo, 16);
    ST_ASSERT(t, r == -KEFAULT, "kernel buffer: %ld", (long)r);
    r = SC(SYS_sendto, (uint64_t)s, echo_req(e, 8, 0, 1), 70000, 0, lo, 16);
    ST_ASSERT(t, r == -KEMSGSIZE || r == -KEFAULT, "70000-byte request: %ld", (long)r);
    /* identifiers: bind takes the port as identifier, a second bind of it is EADDRINUSE */
    int b1 = (int)SC(SYS_socket, AF4, DG, 1), b2 = (int)SC(SYS_socket, AF4, DG, 1);
    ST_ASSERT(t, b1 >= 0 && b2 >= 0, "sockets");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)b1, sa4(e, 0, 0x5151), 16) == 0, "bind ident 0x5151");
    ST_ASSERT(t, port_of(e, b1) == 0x5151, "getsockname ident %#x", port_of(e, b1));
    r = SC(SYS_bind, (uint64_t)b2, sa4(e, 0, 0x5151), 16);
    ST_ASSERT(t, r == -KEADDRINUSE, "second bind of ident: %ld", (long)r);
    r = SC(SYS_bind, (uint64_t)b1, sa4(e, 0, 0x5152), 16);
    ST_ASSERT(t, r == -KEINVAL, "rebind: %ld", (long)r);
    SC(SYS_close, (uint64_t)b1);
    SC(SYS_close, (uint64_t)b2);
    /* nothing queued: non-blocking EAGAIN at once; SO_RCVTIMEO bounds a blocking read */
    uint64_t buf = ualloc(e, 64);
    uint64_t t0 = time_ns();
    r = SC(SYS_recvfrom, (uint64_t)s, buf, 64, 0, 0, 0);
    ST_ASSERT(t, r == -KEAGAIN && time_ns() - t0 < 50 * MS, "non-blocking recv: %ld", (long)r);
    int64_t tv[2] = {0, 100000};
    uint64_t tva = ualloc(e, 16);
    uput(tva, tv, 16);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)s6, SOL_SOCKET_K, SO_RCVTIMEO_K, tva, 16) == 0, "SO_RCVTIMEO");
    t0 = time_ns();
    r = SC(SYS_recvfrom, (uint64_t)s6, buf, 64, 0, 0, 0);
    uint64_t took = (time_ns() - t0) / MS;
    ST_ASSERT(t, r == -KEAGAIN && took >= 90 && took < 2000, "SO_RCVTIMEO recv: %ld after %lu ms", (long)r,
              (unsigned long)took);
    short rev = 0;
    ST_ASSERT(t, poll1(e, s, POLLIN | POLLOUT, 0, &rev) == 1 && rev == POLLOUT, "poll idle: rev %#x", rev);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)s6);
}

/* QEMU user networking answers ICMP echo to the gateway 10.0.2.2 (and fec0::2 over IPv6). */
SK_TEST(ping_slirp) {
    if (!wait_eth0_address(t)) return;
    uint64_t t0 = time_ns();
    ping_roundtrip(t, e, AF4, sa4(e, 0x0a000202, 0), 16, 7, 5000);
    pr_info("socket selftest: ping 10.0.2.2 answered in %lu ms\n", (unsigned long)((time_ns() - t0) / MS));
}
