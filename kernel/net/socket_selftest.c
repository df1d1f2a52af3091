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
 * descriptor leaks; a connection to the QEMU user-network host (10.0.2.2) on a closed port;
 * close and SO_LINGER per socket(7) (background delivery, RST for l_linger 0, waiting for the
 * acknowledgement, the time limit, a signal); MSG_PEEK on TCP and UDP; a TCP socket connected to
 * itself; IPv6 to ::1 and to our own link-local and global addresses through lo; each
 * socket in exactly one of /proc/net/tcp and tcp6; and keep-alive (SO_KEEPALIVE, TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT: defaults, ranges, probes answered, ETIMEDOUT when lo drops all). */
#include "net_socket.h"
#include "net_tcp.h"
#include "proc.h"
#include "sched.h"
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
    /* nothing there yet: MSG_DONTWAIT gives EAGAIN (how fast: no_wait_when_nonblocking) */
    int64_t r = SC(SYS_recvfrom, (uint64_t)a, buf, 64, MSG_DONTWAIT_K, 0, 0);
    ST_ASSERT(t, r == -KEAGAIN, "empty recv: %ld", (long)r);
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

/* accept, recv and poll with nothing pending return at once (issue 7, Done when 3): each call,
 * repeated, on a non-blocking listener, TCP connection and UDP socket, with poll timeout 0 on
 * each and MSG_DONTWAIT on blocking sockets, returns in under 1 ms every time. */
SK_TEST(no_wait_when_nonblocking) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    SC(SYS_fcntl, (uint64_t)l, 4 /* F_SETFL */, NB);
    int u = (int)SC(SYS_socket, AF4, DG | NB, 0), ub = (int)SC(SYS_socket, AF4, DG, 0);
    ST_ASSERT(t, u >= 0 && ub >= 0, "udp sockets");
    SC(SYS_bind, (uint64_t)u, sa4(e, 0x7f000001, 0), 16);
    SC(SYS_bind, (uint64_t)ub, sa4(e, 0x7f000001, 0), 16);
    uint64_t b = ualloc(e, 64);
    static const char *const names[] = {"accept", "accept4", "recv", "MSG_DONTWAIT recv", "poll 0 connection",
                                        "poll 0 listener", "udp recv", "udp MSG_DONTWAIT recv", "poll 0 udp"};
    enum { N_OPS = 9 };
    /* A sample during which this task was switched out (preempted by another task, or because
     * the call slept) says nothing about the call's own cost: it is counted, not timed. A call
     * that blocks is switched out every time and so never yields a timed sample. */
    uint64_t worst[N_OPS] = {0};
    int timed[N_OPS] = {0};
    int64_t bad[N_OPS] = {0};
    struct task *me = task_current();
    for (int round = 0; round < 20; round++) {
        for (int op = 0; op < N_OPS; op++) {
            short rev = 0;
            uint64_t switches = me->switches, t0 = time_ns();
            int64_t r;
            switch (op) {
            case 0: r = SC(SYS_accept, (uint64_t)l, 0, 0); break;
            case 1: r = SC(SYS_accept4, (uint64_t)l, 0, 0, NB); break;
            case 2: r = SC(SYS_recvfrom, (uint64_t)s, b, 64, 0, 0, 0); break;
            case 3: r = SC(SYS_recvfrom, (uint64_t)c, b, 64, MSG_DONTWAIT_K, 0, 0); break;
            case 4: r = poll1(e, s, POLLIN, 0, &rev) == 0 ? -KEAGAIN : 1; break;
            case 5: r = poll1(e, l, POLLIN, 0, &rev) == 0 ? -KEAGAIN : 1; break;
            case 6: r = SC(SYS_recvfrom, (uint64_t)u, b, 64, 0, 0, 0); break;
            case 7: r = SC(SYS_recvfrom, (uint64_t)ub, b, 64, MSG_DONTWAIT_K, 0, 0); break;
            default: r = poll1(e, u, POLLIN, 0, &rev) == 0 ? -KEAGAIN : 1; break;
            }
            uint64_t dt = time_ns() - t0;
            if (me->switches == switches) {
                timed[op]++;
                if (dt > worst[op]) worst[op] = dt;
            }
            if (r != -KEAGAIN) bad[op] = r ? r : 1;
        }
    }
    for (int op = 0; op < N_OPS; op++) {
        ST_ASSERT(t, bad[op] == 0, "%s with nothing pending: %ld, not EAGAIN", names[op], (long)bad[op]);
        ST_ASSERT(t, timed[op] >= 10, "%s was switched out in %d of 20 calls (it sleeps?)", names[op], 20 - timed[op]);
        ST_ASSERT(t, worst[op] < MS, "%s took %lu ns (must not block)", names[op], (unsigned long)worst[op]);
    }
    SC(SYS_close, (uint64_t)u);
    SC(SYS_close, (uint64_t)ub);
    uint64_t t0, t1;
    int64_t r1;
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
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

/* An IPv4 listener on 0.0.0.0:P and an IPV6_V6ONLY one on [::]:P coexist (Linux allows it):
 * each family's connections reach its own listener; a dual-stack [::]:P is refused. */
SK_TEST(v4_and_v6only_listeners_share_a_port) {
    int l4 = (int)SC(SYS_socket, AF4, ST | NB, 0), l6 = (int)SC(SYS_socket, AF6, ST | NB, 0);
    int dual = (int)SC(SYS_socket, AF6, ST, 0);
    ST_ASSERT(t, l4 >= 0 && l6 >= 0 && dual >= 0, "sockets %d %d %d", l4, l6, dual);
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)l4, sa4(e, 0, 0), 16) == 0 && SC(SYS_listen, (uint64_t)l4, 8) == 0, "v4 listener");
    uint16_t port = port_of(e, l4);
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)dual, sa6(e, false, port), 28) == -KEADDRINUSE, "dual-stack [::] on the v4 port");
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)l6, IPPROTO_IPV6_K, IPV6_V6ONLY_K, uint_at(e, 1), 4) == 0, "V6ONLY");
    int64_t r = SC(SYS_bind, (uint64_t)l6, sa6(e, false, port), 28);
    ST_ASSERT(t, r == 0, "v6-only [::] on the v4 port: %ld", (long)r);
    ST_ASSERT(t, SC(SYS_listen, (uint64_t)l6, 8) == 0, "v6 listen");
    int c4 = (int)SC(SYS_socket, AF4, ST, 0), c6 = (int)SC(SYS_socket, AF6, ST, 0);
    ST_ASSERT(t, SC(SYS_connect, (uint64_t)c6, sa6(e, true, port), 28) == 0, "connect [::1]");
    ST_ASSERT(t, SC(SYS_connect, (uint64_t)c4, sa4(e, 0x7f000001, port), 16) == 0, "connect 127.0.0.1");
    short rev;
    ST_ASSERT(t, poll1(e, l4, POLLIN, 5000, &rev) == 1 && poll1(e, l6, POLLIN, 5000, &rev) == 1, "both listeners ready");
    uint64_t a = ualloc(e, 28), al = uint_at(e, 28);
    int s4 = (int)SC(SYS_accept, (uint64_t)l4, a, al);
    uint8_t fam[2];
    uget(a, fam, 2);
    ST_ASSERT(t, s4 >= 0 && fam[0] == AF4, "the v4 listener took a family-%u connection (%d)", fam[0], s4);
    uput(al, &(uint32_t){28}, 4);
    int s6 = (int)SC(SYS_accept, (uint64_t)l6, a, al);
    uget(a, fam, 2);
    ST_ASSERT(t, s6 >= 0 && fam[0] == AF6, "the v6 listener took a family-%u connection (%d)", fam[0], s6);
    ST_ASSERT(t, SC(SYS_accept, (uint64_t)l4, 0, 0) == -KEAGAIN && SC(SYS_accept, (uint64_t)l6, 0, 0) == -KEAGAIN,
              "a listener got a second connection");
    int fds[] = {l4, l6, dual, c4, c6, s4, s6};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++) SC(SYS_close, (uint64_t)fds[i]);
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

/* ---- close and SO_LINGER (socket(7)) ---- */

/* Sends from c (non-blocking) until its buffer and the peer's window are full; the bytes
 * follow pat(i, 0). Returns how many were taken. */
static uint32_t fill_until_full(struct env *e, int c) {
    uint64_t ub = ualloc(e, 16384);
    uint8_t *k = kmalloc(16384);
    uint32_t sent = 0;
    if (!k) return 0;
    uint64_t deadline = time_ns() + 20000 * MS;
    for (int idle = 0; idle < 3 && time_ns() < deadline;) {
        for (uint32_t i = 0; i < 16384; i++) k[i] = pat(sent + i, 0);
        uput(ub, k, 16384);
        int64_t r = SC(SYS_sendto, (uint64_t)c, ub, 16384, MSG_DONTWAIT_K, 0, 0);
        if (r > 0) { sent += (uint32_t)r; idle = 0; continue; }
        idle++;                                 /* full for now: let net_poller settle it */
        task_sleep_ns(30 * MS);
    }
    kfree(k);
    return sent;
}

/* Reads s until EOF (bounded): true when the bytes from offset `from` up to n, following
 * pat(i, 0), came and then EOF. */
static bool drain_to_eof(struct selftest_ctx *t, struct env *e, int s, uint32_t from, uint32_t n) {
    uint64_t ub = ualloc(e, 65536);
    uint8_t *k = kmalloc(65536);
    STB(t, k != NULL, "buffer");
    uint32_t got = from;
    uint64_t deadline = time_ns() + 60000 * MS;
    bool eof = false, ok = true;
    while (!eof && ok && time_ns() < deadline) {
        short rev;
        poll1(e, s, POLLIN, 1000, &rev);
        int64_t r = SC(SYS_recvfrom, (uint64_t)s, ub, 65536, MSG_DONTWAIT_K, 0, 0);
        if (r == -KEAGAIN) continue;
        if (r <= 0) { eof = r == 0; ok = r == 0; break; }
        uget(ub, k, (size_t)r);
        for (int64_t i = 0; i < r && ok; i++) ok = k[i] == pat(got + (uint32_t)i, 0);
        got += (uint32_t)r;
    }
    kfree(k);
    STB(t, ok && eof && got == n, "read %u of %u bytes, pattern ok %d, EOF %d", got, n, ok, eof);
    return true;
}

/* SO_LINGER value as struct linger {int l_onoff, l_linger;} in user memory. */
static uint64_t linger_val(struct env *e, int onoff, int secs) {
    int32_t l[2] = {onoff, secs};
    uint64_t a = ualloc(e, 8);
    uput(a, l, 8);
    return a;
}

/* Is a TCP connection with this local port still in the stack (TIME_WAIT included)? */
struct port_find { uint16_t port; bool found; };
static void find_port(const struct tcp_conn *c, void *ctx) {
    struct port_find *f = ctx;
    if (c->lport == f->port) f->found = true;
}
static bool port_in_stack(uint16_t port) {
    struct port_find f = {port, false};
    tcp_for_each(find_port, &f);
    return f.found;
}

/* Without SO_LINGER close returns at once; the stack still delivers the queued data, then FIN. */
SK_TEST(close_delivers_queued_data) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    uint64_t ub = ualloc(e, 65536);
    uint8_t *k = kmalloc(65536);
    ST_ASSERT(t, k != NULL, "buffer");
    uint32_t sent = 0, got = 0;
    uint64_t rb = ualloc(e, 65536);
    uint64_t deadline = time_ns() + 60000 * MS;
    while (sent < MIB && time_ns() < deadline) {   /* the reader keeps pace until all is queued */
        uint32_t m = MIN(MIB - sent, 65536u);
        for (uint32_t i = 0; i < m; i++) k[i] = pat(sent + i, 0);
        uput(ub, k, m);
        int64_t r = SC(SYS_sendto, (uint64_t)c, ub, m, MSG_DONTWAIT_K, 0, 0);
        if (r > 0) sent += (uint32_t)r;
        if (sent == MIB) break;
        r = SC(SYS_recvfrom, (uint64_t)s, rb, 65536, MSG_DONTWAIT_K, 0, 0);
        if (r > 0) {
            uget(rb, k, (size_t)r);
            for (int64_t i = 0; i < r; i++)
                if (k[i] != pat(got + (uint32_t)i, 0)) { kfree(k); ST_ASSERT(t, false, "byte %u differs", got + (uint32_t)i); }
            got += (uint32_t)r;
        } else {
            short rev;
            poll1(e, s, POLLIN, 100, &rev);
        }
    }
    kfree(k);
    ST_ASSERT(t, sent == MIB, "queued %u of %u", sent, MIB);
    uint64_t t0 = time_ns();
    SC(SYS_close, (uint64_t)c);
    uint64_t took = time_ns() - t0;
    ST_ASSERT(t, took < 500 * MS, "close without SO_LINGER waited %lu ms", (unsigned long)(took / MS));
    /* the rest arrives after close, then EOF */
    if (!drain_to_eof(t, e, s, got, MIB)) return;
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

/* SO_LINGER reads back as Linux's struct linger; bad lengths are refused. */
SK_TEST(linger_option) {
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    ST_ASSERT(t, c >= 0, "socket %d", c);
    uint64_t v = ualloc(e, 8), vl = uint_at(e, 8);
    int32_t l[2] = {-1, -1};
    ST_ASSERT(t, SC(SYS_getsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, v, vl) == 0, "getsockopt");
    uget(v, l, 8);
    ST_ASSERT(t, l[0] == 0 && l[1] == 0, "default {%d, %d}", l[0], l[1]);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 5, 3), 8) == 0, "set {5, 3}");
    SC(SYS_getsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, v, vl);
    uget(v, l, 8);
    ST_ASSERT(t, l[0] == 1 && l[1] == 3, "after {5, 3}: {%d, %d}", l[0], l[1]);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 0, 9), 8);
    SC(SYS_getsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, v, vl);
    uget(v, l, 8);
    ST_ASSERT(t, l[0] == 0 && l[1] == 3, "after {0, 9}: {%d, %d} (Linux keeps the time)", l[0], l[1]);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 1, 1), 4) == -KEINVAL, "optlen 4");
    ST_ASSERT(t, SC(SYS_getsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, v, uint_at(e, 4)) == -KEINVAL, "room 4");
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, BAD_USER, 8) == -KEFAULT, "unmapped");
    SC(SYS_close, (uint64_t)c);
}

/* l_onoff with l_linger 0: close aborts with RST; the peer sees ECONNRESET, no TIME_WAIT. */
SK_TEST(linger_zero_resets) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    uint16_t pc = port_of(e, c);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 1, 0), 8) == 0, "SO_LINGER");
    SC(SYS_close, (uint64_t)c);
    bool left = port_in_stack(pc);
    short rev = 0;
    poll1(e, s, POLLIN, 2000, &rev);
    uint64_t b = ualloc(e, 16);
    int64_t r = SC(SYS_recvfrom, (uint64_t)s, b, 16, 0, 0, 0);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
    ST_ASSERT(t, !left, "the aborted connection is still in the stack (TIME_WAIT?)");
    ST_ASSERT(t, r == -KECONNRESET, "peer recv after the abort: %ld (rev %#x)", (long)r, rev);
}

/* l_linger > 0: close waits while sent data is unacknowledged (the peer's window is full),
 * returns when the time is up, and the connection delivers everything in the background. */
SK_TEST(linger_waits_then_background) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    uint32_t sent = fill_until_full(e, c);
    ST_ASSERT(t, sent > 0, "nothing sent");
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 1, 1), 8);
    uint64_t t0 = time_ns();
    SC(SYS_close, (uint64_t)c);
    uint64_t took = time_ns() - t0;
    ST_ASSERT(t, took >= 900 * MS && took < 10000 * MS, "close lingered %lu ms (l_linger 1 s)", (unsigned long)(took / MS));
    if (!drain_to_eof(t, e, s, 0, sent)) return;
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

/* l_linger > 0 with a reader keeping up: close returns once everything (FIN too) is acked. */
SK_TEST(linger_returns_when_acked) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    uint64_t b = ualloc(e, 1000);
    uint8_t k[1000];
    for (int i = 0; i < 1000; i++) k[i] = pat((uint32_t)i, 0);
    uput(b, k, 1000);
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)c, b, 1000, 0, 0, 0) == 1000, "send");
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 1, 20), 8);
    uint64_t t0 = time_ns();
    SC(SYS_close, (uint64_t)c);
    uint64_t took = time_ns() - t0;
    ST_ASSERT(t, took < 10000 * MS, "close waited %lu ms for data the peer had acknowledged", (unsigned long)(took / MS));
    if (!drain_to_eof(t, e, s, 0, 1000)) return;
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

static int64_t signal_after_100ms(void *arg) {
    task_sleep_ns(100 * MS);
    return thread_signal(arg, SIGUSR1);
}

/* A signal ends a lingering close; the connection still delivers its data. */
SK_TEST(linger_signal_ends_wait) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    uint32_t sent = fill_until_full(e, c);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_LINGER_K, linger_val(e, 1, 30), 8);
    struct process *p = proc_current();
    p->sigactions[SIGUSR1 - 1].handler = 0x10000;   /* caught: the signal is posted, not discarded */
    tid_t id = task_create("st-linger-sig", signal_after_100ms, task_current(), PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create %d", id);
    uint64_t t0 = time_ns();
    SC(SYS_close, (uint64_t)c);
    uint64_t took = time_ns() - t0;
    int64_t ex = -1;
    task_join(id, &ex);
    /* the helper has ended: nothing else signals this test task, so clearing is safe */
    uthread_current()->sig_pending = 0;
    p->sig_pending = 0;
    task_current()->sigpending = false;
    p->sigactions[SIGUSR1 - 1].handler = 0;
    ST_ASSERT(t, ex == 0, "thread_signal %ld", (long)ex);
    ST_ASSERT(t, took < 10000 * MS, "the signal did not end the 30 s linger (%lu ms)", (unsigned long)(took / MS));
    if (!drain_to_eof(t, e, s, 0, sent)) return;
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

/* ---- MSG_PEEK, MSG_WAITALL ---- */
SK_TEST(peek_tcp) {
    int l, c, s;
    if (!tcp_pair(t, e, AF4, &l, &c, &s)) return;
    uint64_t m = ualloc(e, 16), b = ualloc(e, 16);
    uput(m, "hello", 5);
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)c, m, 5, 0, 0, 0) == 5, "send");
    short rev;
    ST_ASSERT(t, poll1(e, s, POLLIN, 2000, &rev) == 1, "data arrives");
    char g[16] = {0};
    int64_t r = SC(SYS_recvfrom, (uint64_t)s, b, 3, MSG_PEEK_K, 0, 0);
    uget(b, g, 3);
    ST_ASSERT(t, r == 3 && !memcmp(g, "hel", 3), "peek 3: %ld '%s'", (long)r, g);
    r = SC(SYS_recvfrom, (uint64_t)s, b, 16, MSG_PEEK_K, 0, 0);
    uget(b, g, 5);
    ST_ASSERT(t, r == 5 && !memcmp(g, "hello", 5), "peek 16: %ld", (long)r);
    uint64_t fio = uint_at(e, 0);
    SC(SYS_ioctl, (uint64_t)s, 0x541B, fio);
    uint32_t q;
    uget(fio, &q, 4);
    ST_ASSERT(t, q == 5, "FIONREAD after peeks %u", q);
    memset(g, 0, sizeof g);
    r = SC(SYS_recvfrom, (uint64_t)s, b, 16, 0, 0, 0);
    uget(b, g, 5);
    ST_ASSERT(t, r == 5 && !memcmp(g, "hello", 5), "recv: %ld", (long)r);
    uint64_t t0 = time_ns();
    r = SC(SYS_recvfrom, (uint64_t)s, b, 16, MSG_PEEK_K, 0, 0);   /* s is non-blocking */
    ST_ASSERT(t, r == -KEAGAIN && time_ns() - t0 < MS, "peek on empty: %ld", (long)r);
    r = SC(SYS_recvfrom, (uint64_t)c, b, 16, MSG_PEEK_K | MSG_DONTWAIT_K, 0, 0);
    ST_ASSERT(t, r == -KEAGAIN, "peek MSG_DONTWAIT on empty: %ld", (long)r);
    /* MSG_WAITALL on a blocking socket: two sends, one receive of both */
    SC(SYS_fcntl, (uint64_t)s, 4, 0);
    uput(m, "abcdef", 6);
    SC(SYS_sendto, (uint64_t)c, m, 3, 0, 0, 0);
    SC(SYS_sendto, (uint64_t)c, m + 3, 3, 0, 0, 0);
    r = SC(SYS_recvfrom, (uint64_t)s, b, 6, MSG_WAITALL_K, 0, 0);
    uget(b, g, 6);
    ST_ASSERT(t, r == 6 && !memcmp(g, "abcdef", 6), "MSG_WAITALL: %ld", (long)r);
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
}

static void peek_udp(struct selftest_ctx *t, struct env *e, int af) {
    int a = (int)SC(SYS_socket, (uint64_t)af, DG | NB, 0), b = (int)SC(SYS_socket, (uint64_t)af, DG, 0);
    ST_ASSERT(t, a >= 0 && b >= 0, "sockets");
    size_t sl = af == AF4 ? 16 : 28;
    SC(SYS_bind, (uint64_t)a, af == AF4 ? sa4(e, 0x7f000001, 0) : sa6(e, true, 0), sl);
    uint16_t pa = port_of(e, a);
    uint64_t dst = af == AF4 ? sa4(e, 0x7f000001, pa) : sa6(e, true, pa);
    uint64_t m = ualloc(e, 16), buf = ualloc(e, 16), from = ualloc(e, 28), fl = uint_at(e, 28);
    uput(m, "first!second", 12);
    SC(SYS_sendto, (uint64_t)b, m, 6, 0, dst, sl);
    SC(SYS_sendto, (uint64_t)b, m + 6, 6, 0, dst, sl);
    short rev;
    ST_ASSERT(t, poll1(e, a, POLLIN, 2000, &rev) == 1, "datagram arrives");
    task_sleep_ns(20 * MS);                      /* the second one too */
    char g[16] = {0};
    int64_t r = SC(SYS_recvfrom, (uint64_t)a, buf, 3, MSG_PEEK_K | MSG_TRUNC_K, from, fl);
    uget(buf, g, 3);
    uint8_t fb[28];
    uget(from, fb, 28);
    ST_ASSERT(t, r == 6 && !memcmp(g, "fir", 3), "peek 3 with MSG_TRUNC: %ld '%s'", (long)r, g);
    ST_ASSERT(t, fb[0] == af && net_get16(fb + 2) == port_of(e, b), "peeked sender");
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 16, MSG_PEEK_K, 0, 0);
    ST_ASSERT(t, r == 6, "peek again: %ld", (long)r);
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 16, 0, 0, 0);
    uget(buf, g, 6);
    ST_ASSERT(t, r == 6 && !memcmp(g, "first!", 6), "recv first: %ld", (long)r);
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 16, 0, 0, 0);
    uget(buf, g, 6);
    ST_ASSERT(t, r == 6 && !memcmp(g, "second", 6), "recv second: %ld", (long)r);
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 16, MSG_PEEK_K, 0, 0);
    ST_ASSERT(t, r == -KEAGAIN, "peek on empty: %ld", (long)r);
    SC(SYS_close, (uint64_t)a);
    SC(SYS_close, (uint64_t)b);
}
SK_TEST(peek_udp_v4) { peek_udp(t, e, AF4); }
SK_TEST(peek_udp_v6) { peek_udp(t, e, AF6); }

/* ---- TCP connect to itself (RFC 9293 §3.5 simultaneous open with one socket) ---- */
SK_TEST(tcp_self_connect) {
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    ST_ASSERT(t, c >= 0, "socket");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)c, sa4(e, 0x7f000001, 0), 16) == 0, "bind");
    uint16_t p = port_of(e, c);
    int64_t tv[2] = {5, 0};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_RCVTIMEO_K, utv, 16);
    uint64_t t0 = time_ns();
    int64_t r = SC(SYS_connect, (uint64_t)c, sa4(e, 0x7f000001, p), 16);
    uint64_t took = time_ns() - t0;
    ST_ASSERT(t, r == 0, "connect to itself: %ld after %lu ms", (long)r, (unsigned long)(took / MS));
    uint64_t a = ualloc(e, 16), al = uint_at(e, 16), m = ualloc(e, 8), b = ualloc(e, 8);
    ST_ASSERT(t, SC(SYS_getpeername, (uint64_t)c, a, al) == 0, "getpeername");
    uint8_t pb[16];
    uget(a, pb, 16);
    ST_ASSERT(t, net_get16(pb + 2) == p, "peer port %u, own %u", net_get16(pb + 2), p);
    uput(m, "self", 4);
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)c, m, 4, 0, 0, 0) == 4, "send");
    r = SC(SYS_recvfrom, (uint64_t)c, b, 8, 0, 0, 0);
    char g[8] = {0};
    uget(b, g, 4);
    ST_ASSERT(t, r == 4 && !memcmp(g, "self", 4), "recv own data: %ld", (long)r);
    SC(SYS_close, (uint64_t)c);
}

/* ---- IPv6 to our own addresses (through lo, like IPv4's) ---- */

/* struct sockaddr_in6 for addr:port. */
static uint64_t sa6_addr(struct env *e, const uint8_t addr[16], uint16_t port) {
    uint8_t b[28] = {0};
    b[0] = AF6;
    net_put16(b + 2, port);
    memcpy(b + 8, addr, 16);
    uint64_t a = ualloc(e, 28);
    uput(a, b, 28);
    return a;
}

/* UDP, TCP and ICMPv6 echo to one of our own IPv6 addresses. */
static void v6_to_self(struct selftest_ctx *t, struct env *e, const uint8_t addr[16]) {
    int a = (int)SC(SYS_socket, AF6, DG | NB, 0), b = (int)SC(SYS_socket, AF6, DG, 0);
    ST_ASSERT(t, a >= 0 && b >= 0, "udp sockets");
    ST_ASSERT(t, SC(SYS_bind, (uint64_t)a, sa6_addr(e, addr, 0), 28) == 0, "bind to the address");
    uint64_t m = ualloc(e, 16), buf = ualloc(e, 16), from = ualloc(e, 28), fl = uint_at(e, 28);
    uput(m, "v6self", 6);
    int64_t r = SC(SYS_sendto, (uint64_t)b, m, 6, 0, sa6_addr(e, addr, port_of(e, a)), 28);
    ST_ASSERT(t, r == 6, "udp sendto: %ld", (long)r);
    short rev;
    ST_ASSERT(t, poll1(e, a, POLLIN, 2000, &rev) == 1, "udp datagram arrives");
    r = SC(SYS_recvfrom, (uint64_t)a, buf, 16, 0, from, fl);
    uint8_t fb[28];
    uget(from, fb, 28);
    ST_ASSERT(t, r == 6 && !memcmp(fb + 8, addr, 16), "udp recv %ld from our own address", (long)r);
    SC(SYS_close, (uint64_t)a);
    SC(SYS_close, (uint64_t)b);
    int l = (int)SC(SYS_socket, AF6, ST, 0), c = (int)SC(SYS_socket, AF6, ST, 0);
    ST_ASSERT(t, l >= 0 && c >= 0, "tcp sockets");
    SC(SYS_bind, (uint64_t)l, sa6(e, false, 0), 28);
    ST_ASSERT(t, SC(SYS_listen, (uint64_t)l, 4) == 0, "listen on [::]");
    int64_t tv[2] = {5, 0};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16);
    r = SC(SYS_connect, (uint64_t)c, sa6_addr(e, addr, port_of(e, l)), 28);
    ST_ASSERT(t, r == 0, "tcp connect: %ld", (long)r);
    int s = (int)SC(SYS_accept, (uint64_t)l, 0, 0);
    ST_ASSERT(t, s >= 0, "accept %d", s);
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)c, m, 6, 0, 0, 0) == 6, "tcp send");
    SC(SYS_setsockopt, (uint64_t)s, SOL_SOCKET_K, SO_RCVTIMEO_K, utv, 16);
    r = SC(SYS_recvfrom, (uint64_t)s, buf, 16, MSG_WAITALL_K, 0, 0);
    char g[8] = {0};
    uget(buf, g, 6);
    ST_ASSERT(t, r == 6 && !memcmp(g, "v6self", 6), "tcp recv %ld", (long)r);
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)s);
    SC(SYS_close, (uint64_t)l);
    ping_roundtrip(t, e, AF6, sa6_addr(e, addr, 0), 28, 11, 2000);
}

/* ::1 and eth0's link-local and global addresses, all through lo; there is no "lo6". */
SK_TEST(ipv6_own_addresses) {
    ST_ASSERT(t, netif_find("lo6") == NULL, "a separate lo6 interface exists");
    static const uint8_t loop6[16] = {[15] = 1};
    v6_to_self(t, e, loop6);
    struct netif *nif = netif_find("eth0");
    ST_ASSERT(t, nif && nif->ip6_ll_valid, "eth0 has no IPv6 link-local address");
    v6_to_self(t, e, nif->ip6_ll);
    uint64_t t0 = time_ns();
    while (!nif->ip6_global_valid && time_ns() - t0 < 20000 * MS) task_sleep_ns(50 * MS);
    ST_ASSERT(t, nif->ip6_global_valid, "eth0 got no global IPv6 address (SLAAC) in 20 s");
    v6_to_self(t, e, nif->ip6_global);
}

/* ---- /proc/net: each socket in one table, by its family ---- */

/* Reads a whole (small) file through the system calls into a kmalloc'd string; NULL on error. */
static char *read_file(struct env *e, const char *path) {
    size_t pl = strlen(path) + 1, cap = 65536;
    uint64_t up = ualloc(e, pl), ub = ualloc(e, cap);
    uput(up, path, pl);
    int fd = (int)SC(SYS_open, up, 0, 0);
    if (fd < 0) return NULL;
    size_t n = 0;
    int64_t r;
    while (n < cap - 1 && (r = SC(SYS_read, (uint64_t)fd, ub + n, cap - 1 - n)) > 0) n += (size_t)r;
    SC(SYS_close, (uint64_t)fd);
    char *k = kmalloc(n + 1);
    if (!k) return NULL;
    uget(ub, k, n);
    k[n] = '\0';
    return k;
}

/* Does text contain fmt formatted with a and b? */
static bool has(const char *text, const char *fmt, unsigned a, unsigned b) {
    char needle[128];
    ksnprintf(needle, sizeof needle, fmt, a, b);
    size_t n = strlen(needle);
    for (; *text; text++)
        if (strncmp(text, needle, n) == 0) return true;
    return false;
}

SK_TEST(proc_net_one_table) {
    int l4 = (int)SC(SYS_socket, AF4, ST, 0), l6 = (int)SC(SYS_socket, AF6, ST, 0);
    SC(SYS_bind, (uint64_t)l4, sa4(e, 0, 0), 16);
    SC(SYS_bind, (uint64_t)l6, sa6(e, false, 0), 28);
    ST_ASSERT(t, SC(SYS_listen, (uint64_t)l4, 2) == 0 && SC(SYS_listen, (uint64_t)l6, 2) == 0, "listeners");
    unsigned p4 = port_of(e, l4), p6 = port_of(e, l6);
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    int64_t tv[2] = {5, 0};
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16);
    ST_ASSERT(t, SC(SYS_connect, (uint64_t)c, sa4(e, 0x7f000001, p6), 16) == 0, "connect to the dual-stack listener");
    int s = (int)SC(SYS_accept, (uint64_t)l6, 0, 0);
    ST_ASSERT(t, s >= 0, "accept %d", s);
    unsigned pc = port_of(e, c);
    char *tcp = read_file(e, "/proc/net/tcp"), *tcp6 = read_file(e, "/proc/net/tcp6");
    bool ok = tcp && tcp6;
    bool l4_in4 = ok && has(tcp, ": 00000000:%04X 00000000:0000 0A", p4, 0);
    bool l4_in6 = ok && has(tcp6, ":%04X 00000000000000000000000000000000:0000 0A", p4, 0);
    bool l6_in6 = ok && has(tcp6, ": 00000000000000000000000000000000:%04X 00000000000000000000000000000000:0000 0A", p6, 0);
    bool l6_in4 = ok && has(tcp, ":%04X 00000000:0000 0A", p6, 0);
    bool c_in4 = ok && has(tcp, ": 0100007F:%04X 0100007F:%04X 01", pc, p6);
    bool c_in6 = ok && has(tcp6, ":%04X 0000000000000000FFFF00000100007F:%04X", pc, p6);
    bool s_in6 = ok && has(tcp6, ": 0000000000000000FFFF00000100007F:%04X 0000000000000000FFFF00000100007F:%04X 01", p6, pc);
    bool s_in4 = ok && has(tcp, ": 0100007F:%04X 0100007F:%04X", p6, pc);
    kfree(tcp);
    kfree(tcp6);
    int fds[] = {c, s, l4, l6};
    for (int i = 0; i < 4; i++) SC(SYS_close, (uint64_t)fds[i]);
    ST_ASSERT(t, ok, "reading /proc/net/tcp and tcp6");
    ST_ASSERT(t, l4_in4 && !l4_in6, "AF_INET listener: in tcp %d, in tcp6 %d", l4_in4, l4_in6);
    ST_ASSERT(t, l6_in6 && !l6_in4, "AF_INET6 listener: in tcp6 %d, in tcp %d", l6_in6, l6_in4);
    ST_ASSERT(t, c_in4 && !c_in6, "AF_INET client: in tcp %d, in tcp6 %d", c_in4, c_in6);
    ST_ASSERT(t, s_in6 && !s_in4, "AF_INET6 socket with an IPv4 peer: in tcp6 (v4-mapped) %d, in tcp %d", s_in6, s_in4);
}

/* An int option value in user memory, and getsockopt of an int option (-errno on error). */
static int64_t set_int(struct env *e, int fd, int level, int name, int32_t v) {
    return SC(SYS_setsockopt, (uint64_t)fd, (uint64_t)level, (uint64_t)name, uint_at(e, (uint32_t)v), 4);
}
static int64_t get_int(struct env *e, int fd, int level, int name) {
    uint64_t v = uint_at(e, 0xdeadbeef), vl = uint_at(e, 4);
    int64_t r = SC(SYS_getsockopt, (uint64_t)fd, (uint64_t)level, (uint64_t)name, v, vl);
    if (r < 0) return r;
    int32_t x;
    uget(v, &x, 4);
    return x;
}

/* TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT (tcp(7)): Linux's defaults, read back what was
 * set, EINVAL outside 1..32767 s and 1..127 probes, short lengths refused, not for UDP. */
SK_TEST(keepalive_options) {
    int c = (int)SC(SYS_socket, AF4, ST, 0), u = (int)SC(SYS_socket, AF4, DG, 0);
    ST_ASSERT(t, c >= 0 && u >= 0, "sockets %d %d", c, u);
    ST_ASSERT(t, get_int(e, c, SOL_SOCKET_K, SO_KEEPALIVE_K) == 0, "SO_KEEPALIVE default");
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPIDLE_K) == 7200, "TCP_KEEPIDLE default");
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPINTVL_K) == 75, "TCP_KEEPINTVL default");
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPCNT_K) == 9, "TCP_KEEPCNT default");
    static const int32_t bad_time[] = {0, -1, 32768, 0x7fffffff, (int32_t)0x80000000};
    for (unsigned i = 0; i < ARRAY_SIZE(bad_time); i++) {
        ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, TCP_KEEPIDLE_K, bad_time[i]) == -KEINVAL, "TCP_KEEPIDLE %d", bad_time[i]);
        ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, TCP_KEEPINTVL_K, bad_time[i]) == -KEINVAL, "TCP_KEEPINTVL %d", bad_time[i]);
    }
    static const int32_t bad_cnt[] = {0, -5, 128, 1000};
    for (unsigned i = 0; i < ARRAY_SIZE(bad_cnt); i++)
        ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, TCP_KEEPCNT_K, bad_cnt[i]) == -KEINVAL, "TCP_KEEPCNT %d", bad_cnt[i]);
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPIDLE_K) == 7200, "a refused value changed nothing");
    ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, TCP_KEEPIDLE_K, 32767) == 0, "TCP_KEEPIDLE 32767");
    ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, TCP_KEEPINTVL_K, 1) == 0, "TCP_KEEPINTVL 1");
    ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, TCP_KEEPCNT_K, 127) == 0, "TCP_KEEPCNT 127");
    ST_ASSERT(t, set_int(e, c, SOL_SOCKET_K, SO_KEEPALIVE_K, 5) == 0, "SO_KEEPALIVE 5");
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPIDLE_K) == 32767, "TCP_KEEPIDLE read back");
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPINTVL_K) == 1, "TCP_KEEPINTVL read back");
    ST_ASSERT(t, get_int(e, c, IPPROTO_TCP_K, TCP_KEEPCNT_K) == 127, "TCP_KEEPCNT read back");
    ST_ASSERT(t, get_int(e, c, SOL_SOCKET_K, SO_KEEPALIVE_K) == 1, "SO_KEEPALIVE read back as 1");
    uint64_t two = ualloc(e, 4);
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, IPPROTO_TCP_K, TCP_KEEPIDLE_K, two, 2) == -KEINVAL, "optlen 2");
    ST_ASSERT(t, SC(SYS_getsockopt, (uint64_t)c, IPPROTO_TCP_K, TCP_KEEPCNT_K, two, uint_at(e, 2)) == -KEINVAL, "room 2");
    ST_ASSERT(t, SC(SYS_setsockopt, (uint64_t)c, IPPROTO_TCP_K, TCP_KEEPIDLE_K, BAD_USER, 4) == -KEFAULT, "unmapped");
    ST_ASSERT(t, set_int(e, c, IPPROTO_TCP_K, 99, 1) == -KENOPROTOOPT, "unknown TCP option");
    ST_ASSERT(t, set_int(e, u, IPPROTO_TCP_K, TCP_KEEPIDLE_K, 10) == -KENOPROTOOPT, "TCP_KEEPIDLE on UDP");
    ST_ASSERT(t, get_int(e, u, IPPROTO_TCP_K, TCP_KEEPCNT_K) == -KENOPROTOOPT, "TCP_KEEPCNT on UDP");
    SC(SYS_close, (uint64_t)c);
    SC(SYS_close, (uint64_t)u);
}

/* lo drops every frame (on) or none (off). */
static void lo_drop_all(bool on) {
    struct sabos_netem cfg = {0};
    cfg.loss_permille = on ? 1000 : 0;
    netif_set_faults(netif_find("lo"), &cfg);
}

/* Keep-alive over 127.0.0.1 with idle 1 s, interval 1 s, 2 probes, set on the client before
 * connect and on the listener (the accepted socket inherits it): idle for 4 s the connection
 * lives (probes answered); then with lo dropping everything a blocked recv ends with ETIMEDOUT
 * after about idle + 2 intervals, and the other side shows POLLERR|POLLHUP and SO_ERROR
 * ETIMEDOUT. lo is switched back before any check. */
SK_TEST(keepalive_probes_and_timeout) {
    uint16_t port;
    int l = listener(e, AF4, &port, 0);
    ST_ASSERT(t, l >= 0, "listener %d", l);
    int c = (int)SC(SYS_socket, AF4, ST, 0);
    ST_ASSERT(t, c >= 0, "socket %d", c);
    int fds[2] = {l, c};
    for (int i = 0; i < 2; i++) {
        ST_ASSERT(t, set_int(e, fds[i], SOL_SOCKET_K, SO_KEEPALIVE_K, 1) == 0 &&
                     set_int(e, fds[i], IPPROTO_TCP_K, TCP_KEEPIDLE_K, 1) == 0 &&
                     set_int(e, fds[i], IPPROTO_TCP_K, TCP_KEEPINTVL_K, 1) == 0 &&
                     set_int(e, fds[i], IPPROTO_TCP_K, TCP_KEEPCNT_K, 2) == 0, "keep-alive options on fd %d", fds[i]);
    }
    int64_t tv[2] = {10, 0};                               /* bounds every wait below */
    uint64_t utv = ualloc(e, 16);
    uput(utv, tv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_SNDTIMEO_K, utv, 16);
    SC(SYS_setsockopt, (uint64_t)c, SOL_SOCKET_K, SO_RCVTIMEO_K, utv, 16);
    SC(SYS_setsockopt, (uint64_t)l, SOL_SOCKET_K, SO_RCVTIMEO_K, utv, 16);
    ST_ASSERT(t, SC(SYS_connect, (uint64_t)c, sa4(e, 0x7f000001, port), 16) == 0, "connect");
    int s = (int)SC(SYS_accept, (uint64_t)l, 0, 0);
    ST_ASSERT(t, s >= 0, "accept %d", s);
    ST_ASSERT(t, get_int(e, s, SOL_SOCKET_K, SO_KEEPALIVE_K) == 1 && get_int(e, s, IPPROTO_TCP_K, TCP_KEEPCNT_K) == 2,
              "the accepted socket inherits the listener's keep-alive");
    uint64_t b = ualloc(e, 16);
    uput(b, "alive", 5);
    ST_ASSERT(t, SC(SYS_sendto, (uint64_t)s, b, 5, 0, 0, 0) == 5, "send");
    ST_ASSERT(t, SC(SYS_recvfrom, (uint64_t)c, b, 16, 0, 0, 0) == 5, "recv");
    /* idle for 4 s (the delayed ACK of the data goes out in the first 40 ms; unacknowledged
     * data would be the retransmission timer's business, not keep-alive's): probes go both
     * ways and are answered */
    uint64_t probes0 = tcp_stats.keepalive_probes;
    short rev = 0;
    int pr = poll1(e, c, POLLIN, 4000, &rev);
    ST_ASSERT(t, pr == 0, "idle connection: poll gave %d (rev %#x)", pr, rev);
    uint64_t probes = tcp_stats.keepalive_probes - probes0;
    ST_ASSERT(t, probes >= 4, "only %lu keep-alive probes in 4 s (idle 1 s, both sides)", (unsigned long)probes);
    ST_ASSERT(t, get_int(e, c, SOL_SOCKET_K, SO_ERROR_K) == 0 && get_int(e, s, SOL_SOCKET_K, SO_ERROR_K) == 0,
              "an error after answered probes");
    /* the peer vanishes: lo drops everything */
    lo_drop_all(true);
    uint64_t t0 = time_ns();
    int64_t r = SC(SYS_recvfrom, (uint64_t)c, b, 16, 0, 0, 0);
    uint64_t took = time_ns() - t0;
    rev = 0;
    pr = poll1(e, s, POLLIN, 5000, &rev);
    lo_drop_all(false);
    int64_t serr = get_int(e, s, SOL_SOCKET_K, SO_ERROR_K);
    int64_t r2 = SC(SYS_recvfrom, (uint64_t)c, b, 16, 0, 0, 0);
    int fds_all[] = {c, s, l};
    for (int i = 0; i < 3; i++) SC(SYS_close, (uint64_t)fds_all[i]);
    pr_info("socket selftest: keep-alive ended the connection after %lu ms\n", (unsigned long)(took / MS));
    ST_ASSERT(t, r == -KETIMEDOUT, "blocked recv: %ld after %lu ms", (long)r, (unsigned long)(took / MS));
    ST_ASSERT(t, took >= 1000 * MS && took <= 8000 * MS,
              "ETIMEDOUT after %lu ms (idle 1 s + 2 x 1 s after the last answer)", (unsigned long)(took / MS));
    ST_ASSERT(t, pr == 1 && (rev & (VFS_POLLERR | VFS_POLLHUP)) == (VFS_POLLERR | VFS_POLLHUP),
              "the other side: poll %d rev %#x", pr, rev);
    ST_ASSERT(t, serr == KETIMEDOUT, "the other side's SO_ERROR %ld", (long)serr);
    ST_ASSERT(t, r2 == 0, "recv after the error: %ld (EOF)", (long)r2);
}
