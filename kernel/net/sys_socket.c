/* sys_socket.c: the socket system calls on the Linux x86-64 ABI (syscall_64.tbl numbers 41-55,
 * 288): socket, socketpair, bind, listen, accept, accept4, connect, sendto, recvfrom, sendmsg,
 * recvmsg, shutdown, getsockname, getpeername, setsockopt, getsockopt. Semantics from the
 * Linux man-pages (socket(2) ... getsockopt(2), ip(7), ipv6(7)); struct sockaddr_in (16 bytes)
 * and sockaddr_in6 (28 bytes, 24 accepted as Linux does) and struct msghdr have Linux's
 * layouts. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) on AF_INET6 sockets
 * are IPv4 inside the stack. Data moves through a kernel bounce buffer (at most IO_CHUNK). */
#include "net_socket.h"
#include "syscall.h"
#include "proc.h"
#include "uaccess.h"
#include "kstring.h"
#include "mm.h"
#include "sched.h"

#define IO_CHUNK (64 * 1024)
#define SOCKADDR_MAX 128      /* sizeof(struct sockaddr_storage) */
#define OPT_MAX 64
#define IOV_MAX_K 1024
#define SIN_LEN 16
#define SIN6_LEN 28
#define SIN6_LEN_MIN 24

struct iovec_u { uint64_t base, len; };
struct msghdr_u {
    uint64_t name;
    uint32_t namelen, pad0;
    uint64_t iov, iovlen, control, controllen;
    int32_t flags, pad1;
};

/* The socket behind fd (referenced): -KEBADF, -KENOTSOCK. */
static int sock_fd(int fd, struct vfs_file **out) {
    struct vfs_file *f = fd_get(fd);
    if (!f) return -KEBADF;
    if (!sock_is_socket(f)) {
        vfs_close(f);
        return -KENOTSOCK;
    }
    *out = f;
    return 0;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* A user sockaddr to an address and host-order port (family 0 for AF_UNSPEC). */
static int addr_in(uint64_t uaddr, uint64_t ulen, struct net_addr *a, uint16_t *port) {
    uint8_t b[SOCKADDR_MAX];
    if ((int64_t)(int32_t)ulen < 2 || ulen > SOCKADDR_MAX) return -KEINVAL;
    if (copy_from_user(b, (const void *)uaddr, ulen) < 0) return -KEFAULT;
    memset(a, 0, sizeof(*a));
    uint16_t fam = (uint16_t)(b[0] | b[1] << 8);
    if (fam == 0) {
        *port = 0;
        return 0;
    }
    if (fam == NET_AF_INET) {
        if (ulen < SIN_LEN) return -KEINVAL;
        a->family = NET_AF_INET;
        *port = net_get16(b + 2);
        memcpy(a->v4, b + 4, 4);
        return 0;
    }
    if (fam == NET_AF_INET6) {
        if (ulen < SIN6_LEN_MIN) return -KEINVAL;
        *port = net_get16(b + 2);
        if (!memcmp(b + 8, v4mapped_prefix, 12)) {
            a->family = NET_AF_INET;
            memcpy(a->v4, b + 20, 4);
        } else {
            a->family = NET_AF_INET6;
            memcpy(a->v6, b + 8, 16);
        }
        return 0;
    }
    return -KEAFNOSUPPORT;
}

/* Writes an address in the socket's family to (uaddr, *ulenp) as Linux does: truncated to
 * the room given, *ulenp set to the full size. uaddr 0 = nothing. */
static int addr_out(int domain, const struct net_addr *a, uint16_t port, uint64_t uaddr, uint64_t ulenp) {
    if (!uaddr) return 0;
    uint32_t room;
    if (get_user_u32(&room, (const void *)ulenp) < 0) return -KEFAULT;
    if ((int32_t)room < 0) return -KEINVAL;
    uint8_t b[SIN6_LEN];
    memset(b, 0, sizeof(b));
    uint32_t size;
    net_put16(b + 2, port);
    if (domain == NET_AF_INET) {
        b[0] = NET_AF_INET;
        if (a->family == NET_AF_INET) memcpy(b + 4, a->v4, 4);
        size = SIN_LEN;
    } else {
        b[0] = NET_AF_INET6;
        if (a->family == NET_AF_INET) {
            memcpy(b + 8, v4mapped_prefix, 12);
            memcpy(b + 20, a->v4, 4);
        } else if (a->family == NET_AF_INET6) {
            memcpy(b + 8, a->v6, 16);
        }
        size = SIN6_LEN;
    }
    if (copy_to_user((void *)uaddr, b, MIN(room, size)) < 0) return -KEFAULT;
    return put_user_u32((void *)ulenp, size);
}

SYSCALL(SYS_socket, socket) {
    (void)a3; (void)a4; (void)a5;
    struct vfs_file *f;
    int r = sock_create((int)a0, (int)a1, (int)a2, &f);
    if (r < 0) return r;
    int fd = fd_install(f, 0, (a1 & SOCK_CLOEXEC_K) != 0);
    if (fd < 0) vfs_close(f);
    return fd;
}

SYSCALL(SYS_socketpair, socketpair) {
    (void)a1; (void)a2; (void)a3; (void)a4; (void)a5;
    if (a0 != NET_AF_INET && a0 != NET_AF_INET6) return -KEAFNOSUPPORT;
    return -KEOPNOTSUPP;   /* as Linux for AF_INET; AF_UNIX is not implemented */
}

SYSCALL(SYS_bind, bind) {
    (void)a3; (void)a4; (void)a5;
    struct vfs_file *f;
    int r = sock_fd((int)a0, &f);
    if (r < 0) return r;
    struct net_addr a;
    uint16_t port;
    r = addr_in(a1, a2, &a, &port);
    if (r == 0 && a.family == 0) r = sock_domain(f) == NET_AF_INET ? 0 : -KEAFNOSUPPORT;
    if (r == 0) {
        if (a.family == 0) a.family = NET_AF_INET;   /* AF_UNSPEC with INADDR_ANY, as Linux */
        r = sock_bind(f, &a, port);
    }
    vfs_close(f);
    return r;
}

/* op(socket of fd, arg), for the calls that take a socket and one integer. */
static int64_t on_socket(int fd, int (*op)(struct vfs_file *f, int arg), int arg) {
    struct vfs_file *f;
    int r = sock_fd(fd, &f);
    if (r < 0) return r;
    r = op(f, arg);
    vfs_close(f);
    return r;
}

SYSCALL(SYS_listen, listen) { (void)a2; (void)a3; (void)a4; (void)a5; return on_socket((int)a0, sock_listen, (int)a1); }

static int64_t do_accept(int fd, uint64_t uaddr, uint64_t ulenp, int flags) {
    struct vfs_file *f, *nf;
    int r = sock_fd(fd, &f);
    if (r < 0) return r;
    uint32_t room;
    if (uaddr && get_user_u32(&room, (const void *)ulenp) < 0) {  /* before taking a connection */
        vfs_close(f);
        return -KEFAULT;
    }
    if (uaddr && !user_range_ok(uaddr, room)) {
        vfs_close(f);
        return -KEFAULT;
    }
    struct net_addr peer;
    uint16_t pport;
    r = sock_accept(f, flags, &nf, &peer, &pport);
    int dom = sock_domain(f);
    vfs_close(f);
    if (r < 0) return r;
    int nfd = fd_install(nf, 0, (flags & SOCK_CLOEXEC_K) != 0);
    if (nfd < 0) {
        vfs_close(nf);
        return nfd;
    }
    if (addr_out(dom, &peer, pport, uaddr, ulenp) < 0) {
        /* the connection is the caller's now (as Linux): report the fault, keep the fd */
        return -KEFAULT;
    }
    return nfd;
}

SYSCALL(SYS_accept, accept) { (void)a3; (void)a4; (void)a5; return do_accept((int)a0, a1, a2, 0); }
SYSCALL(SYS_accept4, accept4) { (void)a4; (void)a5; return do_accept((int)a0, a1, a2, (int)a3); }

SYSCALL(SYS_connect, connect) {
    (void)a3; (void)a4; (void)a5;
    struct vfs_file *f;
    int r = sock_fd((int)a0, &f);
    if (r < 0) return r;
    struct net_addr a;
    uint16_t port;
    r = addr_in(a1, a2, &a, &port);
    if (r == 0) r = sock_connect(f, &a, port);
    vfs_close(f);
    return r;
}

/* Sends len user bytes (one datagram, or a stream in chunks). */
static int64_t send_user(struct vfs_file *f, uint64_t ubuf, size_t len, int flags, const struct net_addr *dst,
                         uint16_t dport, bool stream) {
    if (!user_range_ok(ubuf, len)) return -KEFAULT;
    if (!stream && len > 65535) return -KEMSGSIZE;
    size_t bs = MIN(len, (size_t)IO_CHUNK);
    uint8_t *kb = kmalloc(bs ? bs : 1);
    if (!kb) return -KENOMEM;
    size_t done = 0;
    int64_t err = 0;
    do {
        size_t n = MIN(len - done, bs);
        if (copy_from_user(kb, (const void *)(ubuf + done), n) < 0) { err = -KEFAULT; break; }
        int64_t r = sock_sendto(f, kb, n, flags, dst, dport);
        if (r < 0) { err = r; break; }
        done += (size_t)r;
        if ((size_t)r < n) break;
    } while (done < len);
    kfree(kb);
    return done ? (int64_t)done : err;
}

/* Receives into len user bytes (one call: what is there, MSG_WAITALL: all of it). */
static int64_t recv_user(struct vfs_file *f, uint64_t ubuf, size_t len, int flags, struct net_addr *src,
                         uint16_t *sport, int *mflags) {
    if (!user_range_ok(ubuf, len)) return -KEFAULT;
    size_t bs = MIN(len, (size_t)IO_CHUNK);
    uint8_t *kb = kmalloc(bs ? bs : 1);
    if (!kb) return -KENOMEM;
    size_t done = 0;
    int64_t err = 0;
    do {
        size_t n = MIN(len - done, bs);
        int64_t r = sock_recvfrom(f, kb, n, flags, src, sport, mflags);
        if (r < 0) { err = r; break; }
        size_t got = MIN((size_t)r, n);
        if (got && copy_to_user((void *)(ubuf + done), kb, got) < 0) { err = -KEFAULT; break; }
        if ((size_t)r > n) return kfree(kb), r;  /* MSG_TRUNC: the datagram's real length */
        done += got;
        if (got < n || !(flags & MSG_WAITALL_K) || (flags & MSG_PEEK_K)) break;   /* a peek copies once */
    } while (done < len);
    kfree(kb);
    return done ? (int64_t)done : err;
}

static bool is_stream(struct vfs_file *f) {
    int v = 0;
    size_t l = sizeof(v);
    sock_getopt(f, SOL_SOCKET_K, SO_TYPE_K, &v, &l);
    return v == SOCK_STREAM_K;
}

SYSCALL(SYS_sendto, sendto) {
    struct vfs_file *f;
    int r = sock_fd((int)a0, &f);
    if (r < 0) return r;
    struct net_addr a, *dst = NULL;
    uint16_t port = 0;
    bool stream = is_stream(f);
    if (a4 && !stream) {
        r = addr_in(a4, a5, &a, &port);
        if (r < 0) { vfs_close(f); return r; }
        dst = &a;
    }
    int64_t n = send_user(f, a1, a2, (int)a3, dst, port, stream);
    vfs_close(f);
    return n;
}

SYSCALL(SYS_recvfrom, recvfrom) {
    struct vfs_file *f;
    int r = sock_fd((int)a0, &f);
    if (r < 0) return r;
    struct net_addr src = {0};
    uint16_t sport = 0;
    uint32_t room;
    if (a4 && get_user_u32(&room, (const void *)a5) < 0) { vfs_close(f); return -KEFAULT; }
    int64_t n = recv_user(f, a1, a2, (int)a3, &src, &sport, NULL);
    if (n >= 0 && a4 && addr_out(sock_domain(f), &src, sport, a4, a5) < 0) n = -KEFAULT;
    vfs_close(f);
    return n;
}

/* sendmsg/recvmsg: the iovecs are gathered into (or scattered from) one bounce buffer. */
static int64_t do_msg(int fd, uint64_t umsg, int flags, bool send) {
    struct vfs_file *f;
    int r = sock_fd(fd, &f);
    if (r < 0) return r;
    struct msghdr_u m;
    int64_t res;
    uint8_t *kb = NULL;
    struct iovec_u *iov = NULL;
    if (copy_from_user(&m, (const void *)umsg, sizeof(m)) < 0) { res = -KEFAULT; goto out; }
    if (m.iovlen > IOV_MAX_K) { res = -KEMSGSIZE; goto out; }
    iov = kmalloc(sizeof(*iov) * (m.iovlen ? m.iovlen : 1));
    if (!iov) { res = -KENOMEM; goto out; }
    if (copy_from_user(iov, (const void *)m.iov, sizeof(*iov) * m.iovlen) < 0) { res = -KEFAULT; goto out; }
    uint64_t total = 0;
    for (uint64_t i = 0; i < m.iovlen; i++) {
        if (!user_range_ok(iov[i].base, iov[i].len) || iov[i].len > (1ull << 31)) { res = -KEFAULT; goto out; }
        total += iov[i].len;
    }
    if (total > (1ull << 31)) { res = -KEINVAL; goto out; }
    bool stream = is_stream(f);
    size_t cap = (size_t)MIN(total, (uint64_t)(stream ? IO_CHUNK : 65536));
    kb = kmalloc(cap ? cap : 1);
    if (!kb) { res = -KENOMEM; goto out; }
    struct net_addr a = {0};
    uint16_t port = 0;
    if (send) {
        if (!stream && total > 65535) { res = -KEMSGSIZE; goto out; }
        struct net_addr *dst = NULL;
        if (m.name && !stream) {
            r = addr_in(m.name, m.namelen, &a, &port);
            if (r < 0) { res = r; goto out; }
            dst = &a;
        }
        /* a stream sends the segments one after another; a datagram is one gathered buffer */
        size_t done = 0;
        res = 0;
        uint64_t i = 0, off = 0;
        while (done < total) {
            size_t n = 0;
            while (n < cap && i < m.iovlen) {
                size_t k = (size_t)MIN(iov[i].len - off, (uint64_t)(cap - n));
                if (k && copy_from_user(kb + n, (const void *)(iov[i].base + off), k) < 0) { res = -KEFAULT; goto out; }
                n += k;
                off += k;
                if (off == iov[i].len) { i++; off = 0; }
            }
            int64_t s = sock_sendto(f, kb, n, flags, dst, port);
            if (s < 0) { res = done ? (int64_t)done : s; goto out; }
            done += (size_t)s;
            if ((size_t)s < n) break;
        }
        if (total == 0) res = sock_sendto(f, kb, 0, flags, dst, port);
        else res = (int64_t)done;
    } else {
        int mflags = 0;
        int64_t n = sock_recvfrom(f, kb, cap, flags, &a, &port, &mflags);
        if (n < 0) { res = n; goto out; }
        size_t left = MIN((size_t)n, cap), put = 0;
        for (uint64_t i = 0; i < m.iovlen && put < left; i++) {
            size_t k = (size_t)MIN(iov[i].len, (uint64_t)(left - put));
            if (copy_to_user((void *)iov[i].base, kb + put, k) < 0) { res = -KEFAULT; goto out; }
            put += k;
        }
        if (m.name) {
            uint64_t lenp = umsg + 8;   /* msg_namelen */
            if (addr_out(sock_domain(f), &a, port, m.name, lenp) < 0) { res = -KEFAULT; goto out; }
        }
        if (put_user_u64((void *)(umsg + 40), 0) < 0 ||           /* msg_controllen: no ancillary data */
            put_user_u32((void *)(umsg + 48), (uint32_t)mflags) < 0) { res = -KEFAULT; goto out; }
        res = n;
    }
out:
    kfree(kb);
    kfree(iov);
    vfs_close(f);
    return res;
}

SYSCALL(SYS_sendmsg, sendmsg) { (void)a3; (void)a4; (void)a5; return do_msg((int)a0, a1, (int)a2, true); }
SYSCALL(SYS_recvmsg, recvmsg) { (void)a3; (void)a4; (void)a5; return do_msg((int)a0, a1, (int)a2, false); }

SYSCALL(SYS_shutdown, shutdown) { (void)a2; (void)a3; (void)a4; (void)a5; return on_socket((int)a0, sock_shutdown, (int)a1); }

static int64_t do_getname(int fd, uint64_t uaddr, uint64_t ulenp, bool peer) {
    struct vfs_file *f;
    int r = sock_fd(fd, &f);
    if (r < 0) return r;
    struct net_addr a;
    uint16_t port;
    r = sock_getname(f, peer, &a, &port);
    if (r == 0) r = uaddr ? addr_out(sock_domain(f), &a, port, uaddr, ulenp) : -KEFAULT;
    vfs_close(f);
    return r;
}

SYSCALL(SYS_getsockname, getsockname) { (void)a3; (void)a4; (void)a5; return do_getname((int)a0, a1, a2, false); }
SYSCALL(SYS_getpeername, getpeername) { (void)a3; (void)a4; (void)a5; return do_getname((int)a0, a1, a2, true); }

SYSCALL(SYS_setsockopt, setsockopt) {
    (void)a5;
    struct vfs_file *f;
    int r = sock_fd((int)a0, &f);
    if (r < 0) return r;
    uint8_t v[OPT_MAX];
    size_t len = (size_t)MIN((uint32_t)a4, (uint32_t)OPT_MAX);
    if ((int32_t)a4 < 0) r = -KEINVAL;
    else if (len && copy_from_user(v, (const void *)a3, len) < 0) r = -KEFAULT;
    else r = sock_setopt(f, (int)a1, (int)a2, v, len);
    vfs_close(f);
    return r;
}

SYSCALL(SYS_getsockopt, getsockopt) {
    (void)a5;
    struct vfs_file *f;
    int r = sock_fd((int)a0, &f);
    if (r < 0) return r;
    uint32_t room;
    uint8_t v[OPT_MAX];
    if (get_user_u32(&room, (const void *)a4) < 0) r = -KEFAULT;
    else if ((int32_t)room < 0) r = -KEINVAL;
    else {
        size_t len = MIN(room, (uint32_t)OPT_MAX);
        r = sock_getopt(f, (int)a1, (int)a2, v, &len);
        if (r == 0 && (copy_to_user((void *)a3, v, MIN(len, (size_t)room)) < 0 ||
                       put_user_u32((void *)a4, (uint32_t)len) < 0))
            r = -KEFAULT;
    }
    vfs_close(f);
    return r;
}
