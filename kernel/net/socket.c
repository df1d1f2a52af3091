/* socket.c: BSD socket objects for AF_INET / AF_INET6, SOCK_STREAM (TCP) and SOCK_DGRAM (UDP),
 * as open files. Semantics from the Linux man-pages socket(2), bind(2), listen(2), accept(2),
 * connect(2), send(2), recv(2), shutdown(2), socket(7), tcp(7), udp(7), ipv6(7) (IPV6_V6ONLY)
 * and POSIX.1-2017 XSH 2.10; numeric values are Linux's (net_socket.h).
 *
 * Every wait is wait_net_condition on the transports' state (net_poller wakes net_event_wq
 * after each batch): O_NONBLOCK / MSG_DONTWAIT never wait, SO_RCVTIMEO / SO_SNDTIMEO bound the
 * waits (-EAGAIN at expiry), a signal ends them with -EINTR. poll uses net_event_wq as the
 * wait queue, so sockets, pipes and ttys poll together. MSG_PEEK reads without consuming (TCP
 * bytes, the next datagram). close follows socket(7) SO_LINGER: off, it returns at once and TCP
 * delivers the queued data and FIN in the background; on with l_linger 0 it aborts (RST, no
 * TIME_WAIT); on with l_linger > 0 it waits until everything sent is acknowledged, the time
 * passes or a signal comes, and the connection goes on in the background (at process exit
 * it never waits, as in Linux).
 * SO_KEEPALIVE with tcp(7)'s TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT (Linux's ranges) is
 * handed to TCP (tcp_set_keepalive), which probes an idle connection (RFC 1122 §4.2.3.6).
 * SOCK_DGRAM with IPPROTO_ICMP / IPPROTO_ICMPV6 is a Linux "ping socket" (ping_sock.c, icmp(7)):
 * the datagram paths below dispatch to it when s->ping is set. */
#include "net_socket.h"
#include "net_udp.h"
#include "net_tcp.h"
#include "ping_sock.h"
#include "kstring.h"
#include "mm.h"
#include "sync.h"
#include "time.h"
#include "proc.h"
#include "uaccess.h"
#include "sched.h"

#define FIONREAD_K 0x541B

struct socket {
    struct vnode vn;             /* S_IFSOCK, VN_NOCACHE: freed when the file goes */
    struct mutex lock;           /* bind / connect / listen / close */
    int domain, type, protocol;
    bool bound, listening, reuseaddr, keepalive, v6only, nodelay;
    bool udp_connected, shut_rd, shut_wr, closed;
    struct net_addr laddr;       /* bound address (zero = any) */
    uint16_t lport;
    struct net_addr raddr;       /* UDP default peer */
    uint16_t rport;
    uint64_t rcvtimeo, sndtimeo; /* ns, 0 = none */
    int sndbuf, rcvbuf;
    int keepidle, keepintvl, keepcnt; /* TCP_KEEPIDLE (s), TCP_KEEPINTVL (s), TCP_KEEPCNT; 0 = default */
    bool linger_on;              /* SO_LINGER l_onoff */
    int linger_s;                /* SO_LINGER l_linger (seconds; negative = no limit) */
    struct udp_sock udp;
    struct tcp_conn *tcp;        /* connection or listener */
    struct ping_sock *ping;      /* ICMP ping socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6) */
    struct socket *next;         /* list of stream sockets (port conflicts) */
};

static struct mutex list_lock = MUTEX_INIT("sock_list");
static struct socket *stream_list;
static int live_sockets;
static uint16_t next_port = 49152;
static const struct vfs_file_ops sock_fops;

static struct socket *sock_of(const struct vfs_file *f) { return (struct socket *)f->priv; }
bool sock_is_socket(const struct vfs_file *f) { return f && f->fops == &sock_fops; }
int sock_domain(const struct vfs_file *f) { return sock_of(f)->domain; }
int sock_count(void) { return __atomic_load_n(&live_sockets, __ATOMIC_RELAXED); }

static bool nonblock(const struct vfs_file *f, int flags) {
    return (f->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT_K);
}
static uint64_t deadline_of(uint64_t timeo) { return timeo ? time_ns() + timeo : WAIT_FOREVER; }
static uint64_t left(uint64_t deadline) {
    if (deadline == WAIT_FOREVER) return WAIT_FOREVER;
    uint64_t now = time_ns();
    return now >= deadline ? 0 : deadline - now;
}
static bool addr_eq(const struct net_addr *a, const struct net_addr *b) {
    return a->family == b->family && !memcmp(a->v6, b->v6, a->family == NET_AF_INET ? 4 : 16);
}

/* ---- creation and teardown ---- */
static int sock_getattr(struct vnode *vn, struct vfs_stat *st) {
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = 1;
    st->blksize = 4096;
    return 0;
}
static void sock_release(struct vnode *vn) {
    struct socket *s = container_of(vn, struct socket, vn);
    ping_sock_destroy(s->ping);      /* never closed as a file (creation failed) */
    kfree(s);
    __atomic_fetch_sub(&live_sockets, 1, __ATOMIC_RELAXED);
}
static const struct vnode_ops sock_vnode_ops = {.getattr = sock_getattr, .release = sock_release};

static struct socket *sock_alloc(int domain, int type, int protocol) {
    static uint64_t next_ino = 1;
    struct socket *s = kzalloc(sizeof(*s));
    if (!s) return NULL;
    vnode_init(&s->vn, &sock_vnode_ops, NULL, S_IFSOCK | 0777, __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED));
    s->vn.flags = VN_NOCACHE;
    mutex_init(&s->lock, "socket");
    s->domain = domain;
    s->type = type;
    s->protocol = protocol;
    s->udp.family = (uint16_t)domain;
    __atomic_fetch_add(&live_sockets, 1, __ATOMIC_RELAXED);
    return s;
}

/* Wraps s in an open file (the file owns the vnode reference; on failure s is freed). */
static int sock_file(struct socket *s, bool nb, struct vfs_file **out) {
    vnode_get(&s->vn);
    int r = vfs_file_from_vnode(&s->vn, O_RDWR | (nb ? O_NONBLOCK : 0), &sock_fops, s, out);
    if (r < 0) vnode_put(&s->vn);
    return r;
}

int sock_create(int domain, int type, int protocol, struct vfs_file **out) {
    if (domain != NET_AF_INET && domain != NET_AF_INET6) return -KEAFNOSUPPORT;
    if (type & ~(SOCK_TYPE_MASK_K | SOCK_NONBLOCK_K | SOCK_CLOEXEC_K)) return -KEINVAL;
    int t = type & SOCK_TYPE_MASK_K;
    if (t == SOCK_RAW_K || t == SOCK_SEQPACKET_K || t == SOCK_RDM_K) return -KESOCKTNOSUPPORT;
    if (t != SOCK_STREAM_K && t != SOCK_DGRAM_K) return -KEINVAL;
    if (t == SOCK_STREAM_K && protocol != 0 && protocol != IPPROTO_TCP_K) return -KEPROTONOSUPPORT;
    int icmp = domain == NET_AF_INET ? IPPROTO_ICMP_K : IPPROTO_ICMPV6_K;
    bool ping = t == SOCK_DGRAM_K && protocol == icmp;
    if (t == SOCK_DGRAM_K && protocol != 0 && protocol != IPPROTO_UDP_K && !ping) return -KEPROTONOSUPPORT;
    struct socket *s = sock_alloc(domain, t, t == SOCK_STREAM_K ? IPPROTO_TCP_K : ping ? icmp : IPPROTO_UDP_K);
    if (!s) return -KENOMEM;
    if (ping && !(s->ping = ping_sock_create(domain))) {
        vnode_get(&s->vn);   /* not yet a file: dropping the only reference frees it */
        vnode_put(&s->vn);
        return -KENOMEM;
    }
    return sock_file(s, type & SOCK_NONBLOCK_K, out);
}

static void list_remove(struct socket *s) {
    mutex_lock(&list_lock);
    for (struct socket **pp = &stream_list; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    mutex_unlock(&list_lock);
}

/* Closes a stream socket's connection with socket(7)'s SO_LINGER semantics (under s->lock). */
static void stream_close(struct socket *s) {
    struct tcp_conn *c = s->tcp;
    if (s->linger_on && !s->listening) {
        if (s->linger_s == 0) {
            tcp_abort(c);                /* RST at once, nothing left behind (no TIME_WAIT) */
            return;
        }
        struct process *pr = proc_current();
        bool exiting = pr && pr->exiting;
        /* unread data makes tcp_close reset the connection: nothing to wait for then */
        if (!exiting && tcp_rcv_queued(c) == 0 && tcp_shutdown(c, SHUT_WR_K) == 0) {
            uint64_t t = s->linger_s < 0 ? WAIT_FOREVER : (uint64_t)s->linger_s * 1000000000ull;
            wait_net_condition(tcp_send_done(c), t);   /* the time or a signal: go on anyway */
        }
    }
    tcp_close(c);
}

static void sock_close(struct vfs_file *f) {
    struct socket *s = sock_of(f);
    mutex_lock(&s->lock);
    s->closed = true;
    if (s->ping) {
        ping_sock_destroy(s->ping);
        s->ping = NULL;
    } else if (s->type == SOCK_DGRAM_K) {
        udp_unbind(&s->udp);
    } else {
        list_remove(s);
        if (s->tcp) stream_close(s);
        s->tcp = NULL;
    }
    mutex_unlock(&s->lock);
}

/* ---- binding ---- */
struct conflict_ctx {
    const struct socket *s;
    const struct net_addr *addr;
    uint16_t port;
    bool hit;
};

/* An AF_INET6 socket without IPV6_V6ONLY: its any address takes IPv4 too. */
static bool dual_stack(const struct socket *s) { return s->domain == NET_AF_INET6 && !s->v6only; }

/* Whether sockets bound to a and b share an address, as bind(2) sees it on Linux: within a
 * family when either is the any address or both are equal; across families only when one is
 * the IPv6 any address of a dual-stack socket (a_dual / b_dual). */
static bool overlap(const struct net_addr *a, bool a_dual, const struct net_addr *b, bool b_dual) {
    if (a->family == b->family) return net_addr_is_any(a) || net_addr_is_any(b) || addr_eq(a, b);
    return (a_dual && a->family == NET_AF_INET6 && net_addr_is_any(a)) || (b_dual && b->family == NET_AF_INET6 && net_addr_is_any(b));
}

static void conn_conflict(const struct tcp_conn *c, void *ctx) {
    struct conflict_ctx *k = ctx;
    if (c->lport != k->port) return;
    if (c->state != TCP_LISTEN && k->s->reuseaddr) return;   /* SO_REUSEADDR: TIME_WAIT etc. */
    if (c->local.family == 0 || overlap(&c->local, false, k->addr, dual_stack(k->s))) k->hit = true;
}

/* Is port taken for s at addr? Under list_lock. */
static bool stream_port_taken(const struct socket *s, const struct net_addr *addr, uint16_t port) {
    for (const struct socket *o = stream_list; o; o = o->next) {
        if (o == s || !o->bound || o->lport != port || !overlap(&o->laddr, dual_stack(o), addr, dual_stack(s))) continue;
        if (s->reuseaddr && o->reuseaddr && !o->listening) continue;
        return true;
    }
    struct conflict_ctx k = {s, addr, port, false};
    tcp_for_each(conn_conflict, &k);
    return k.hit;
}

/* Binds a stream socket (port 0 = an ephemeral port other than avoid); under s->lock. One
 * allocator for every TCP port a socket gets (bind, listen, connect), so an outgoing
 * connection never takes a port a socket holds. */
static int stream_bind_avoid(struct socket *s, const struct net_addr *addr, uint16_t port, uint16_t avoid) {
    mutex_lock(&list_lock);
    int r = 0;
    if (port == 0) {
        for (int i = 0; i < 16384 && !port; i++) {
            uint16_t p = next_port;
            next_port = next_port == 65535 ? 49152 : (uint16_t)(next_port + 1);
            if (p != avoid && !stream_port_taken(s, addr, p)) port = p;
        }
        if (!port) r = -KEADDRINUSE;
    } else if (stream_port_taken(s, addr, port)) {
        r = -KEADDRINUSE;
    }
    if (r == 0) {
        s->bound = true;
        s->laddr = *addr;
        s->lport = port;
        s->next = stream_list;
        stream_list = s;
    }
    mutex_unlock(&list_lock);
    return r;
}

static int stream_bind(struct socket *s, const struct net_addr *addr, uint16_t port) {
    return stream_bind_avoid(s, addr, port, 0);
}

int sock_bind(struct vfs_file *f, const struct net_addr *addr, uint16_t port) {
    struct socket *s = sock_of(f);
    if (addr->family != s->domain && !(s->domain == NET_AF_INET6 && addr->family == NET_AF_INET && !s->v6only))
        return -KEAFNOSUPPORT;
    if (!net_addr_is_any(addr) && !inet_addr_is_local(addr)) return -KEADDRNOTAVAIL;
    mutex_lock(&s->lock);
    int r;
    if (s->bound || s->tcp || s->udp.bound) {
        r = -KEINVAL;
    } else if (s->ping) {
        if (addr->family != s->domain) r = s->domain == NET_AF_INET6 ? -KEINVAL : -KEAFNOSUPPORT;
        else r = ping_sock_bind(s->ping, port);
        if (r == 0) {
            s->bound = true;
            s->laddr = *addr;
            s->lport = ping_sock_ident(s->ping);
        }
    } else if (s->type == SOCK_DGRAM_K) {
        s->udp.family = (uint16_t)s->domain;
        s->udp.v6only = s->v6only;
        r = udp_bind(&s->udp, net_addr_is_any(addr) ? NULL : addr, port);
        if (r == -KEINVAL && addr->family != s->domain) r = -KEAFNOSUPPORT;
        if (r == 0) {
            s->bound = true;
            s->laddr = *addr;
            s->lport = s->udp.port;
        }
    } else {
        r = stream_bind(s, addr, port);
    }
    mutex_unlock(&s->lock);
    return r;
}

/* The socket's keep-alive settings to its connection or listener. */
static void apply_keepalive(const struct socket *s, struct tcp_conn *c) {
    tcp_set_keepalive(c, s->keepalive, (uint32_t)s->keepidle, (uint32_t)s->keepintvl, (uint32_t)s->keepcnt);
}

/* ---- stream: listen, accept, connect ---- */
int sock_listen(struct vfs_file *f, int backlog) {
    struct socket *s = sock_of(f);
    if (s->type != SOCK_STREAM_K) return -KEOPNOTSUPP;
    mutex_lock(&s->lock);
    int r = 0;
    if (s->listening) goto out;
    if (s->tcp) { r = -KEINVAL; goto out; }
    if (!s->bound) {
        struct net_addr any = {0};
        any.family = (uint16_t)s->domain;
        r = stream_bind(s, &any, 0);
        if (r < 0) goto out;
    }
    struct net_addr local = s->laddr;
    /* The any address: of both families for a dual-stack socket (family 0), else of its own. */
    if (net_addr_is_any(&local)) local.family = dual_stack(s) ? 0 : (uint16_t)s->domain;
    struct tcp_conn *l = tcp_listen(&local, s->lport, backlog < 1 ? 1 : backlog, &r);
    if (l) {
        l->owner_family = (uint16_t)s->domain;
        apply_keepalive(s, l);            /* handed on to the connections it accepts */
        s->tcp = l;
        mutex_lock(&list_lock);
        s->listening = true;
        mutex_unlock(&list_lock);
    }
out:
    mutex_unlock(&s->lock);
    return r;
}

int sock_accept(struct vfs_file *f, int flags, struct vfs_file **out, struct net_addr *peer, uint16_t *pport) {
    struct socket *s = sock_of(f);
    if (s->type != SOCK_STREAM_K) return -KEOPNOTSUPP;
    if (flags & ~(SOCK_NONBLOCK_K | SOCK_CLOEXEC_K)) return -KEINVAL;
    if (!s->listening) return -KEINVAL;
    struct tcp_conn *l = s->tcp, *c;
    uint64_t deadline = deadline_of(s->rcvtimeo);
    for (;;) {
        int err;
        c = tcp_accept(l, &err);
        if (c) {
            bool wrong = (s->domain == NET_AF_INET && c->local.family != NET_AF_INET) ||
                         (s->v6only && c->local.family != NET_AF_INET6);
            if (!wrong) break;
            tcp_abort(c);
            continue;
        }
        if (err != -KEAGAIN) return err;
        if (nonblock(f, 0)) return -KEAGAIN;
        int w = wait_net_condition(tcp_readable(l), left(deadline));
        if (w < 0) return w;
        if (w == 0) return -KEAGAIN;
    }
    struct socket *n = sock_alloc(s->domain, s->type, s->protocol);
    if (!n) {
        tcp_abort(c);
        return -KENOMEM;
    }
    n->tcp = c;
    c->owner_family = (uint16_t)s->domain;
    n->nodelay = s->nodelay;
    n->keepalive = s->keepalive;
    n->keepidle = s->keepidle;
    n->keepintvl = s->keepintvl;
    n->keepcnt = s->keepcnt;
    n->v6only = s->v6only;
    c->nodelay = s->nodelay;
    apply_keepalive(n, c);
    if (peer) *peer = c->remote;
    if (pport) *pport = c->rport;
    int r = sock_file(n, flags & SOCK_NONBLOCK_K, out);
    if (r < 0) tcp_abort(c);
    return r;
}

static bool handshaking(const struct tcp_conn *c) { return c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED; }

int sock_connect(struct vfs_file *f, const struct net_addr *addr, uint16_t port) {
    struct socket *s = sock_of(f);
    if (s->type == SOCK_DGRAM_K) {
        mutex_lock(&s->lock);
        int r = 0;
        if (addr->family == 0) {        /* AF_UNSPEC: dissolve the association */
            s->udp_connected = false;
        } else if (addr->family != s->domain && !(s->domain == NET_AF_INET6 && !s->v6only)) {
            r = -KEAFNOSUPPORT;
        } else if (port == 0 && !s->ping) {
            r = -KEINVAL;
        } else if (s->ping) {
            if (addr->family != s->domain) r = -KEAFNOSUPPORT;
            else if ((r = ping_sock_bind(s->ping, 0)) == 0) {
                s->bound = true;
                s->lport = ping_sock_ident(s->ping);
                s->raddr = *addr;
                s->rport = 0;
                s->udp_connected = true;
            }
        } else {
            if (!s->udp.bound) {
                s->udp.family = (uint16_t)s->domain;
                s->udp.v6only = s->v6only;
                r = udp_bind(&s->udp, NULL, 0);
                if (r == 0) { s->bound = true; s->lport = s->udp.port; }
            }
            if (r == 0) { s->raddr = *addr; s->rport = port; s->udp_connected = true; }
        }
        mutex_unlock(&s->lock);
        return r;
    }
    if (addr->family != s->domain && !(s->domain == NET_AF_INET6 && addr->family == NET_AF_INET && !s->v6only))
        return -KEAFNOSUPPORT;
    if (port == 0) return -KECONNREFUSED;
    mutex_lock(&s->lock);
    struct tcp_conn *c = s->tcp;
    int r = 0;
    if (s->listening) { r = -KEINVAL; goto unlock; }
    if (c && handshaking(c)) {
        if (nonblock(f, 0)) { r = -KEALREADY; goto unlock; }
        goto wait;                        /* a blocking connect after a non-blocking one */
    }
    if (c && c->state != TCP_CLOSED) { r = -KEISCONN; goto unlock; }
    if (c) {                              /* a failed attempt: start afresh */
        tcp_abort(c);
        s->tcp = c = NULL;
    }
    struct net_addr local;
    if (s->bound && !net_addr_is_any(&s->laddr) && s->laddr.family == addr->family) local = s->laddr;
    else if ((r = inet_select_src(addr, NULL, &local)) < 0) goto unlock;
    if (!s->bound) {
        /* an ephemeral port from the sockets' allocator; never the destination port of a
         * connection to ourselves (that would connect the socket to itself) */
        struct net_addr any = {0};
        any.family = local.family;
        r = stream_bind_avoid(s, &any, 0, inet_addr_is_local(addr) ? port : 0);
        if (r < 0) goto unlock;
    }
    c = tcp_open_active(&local, s->lport, addr, port, &r);
    if (!c) goto unlock;
    c->nodelay = s->nodelay;
    c->owner_family = (uint16_t)s->domain;
    apply_keepalive(s, c);
    s->tcp = c;
    if (nonblock(f, 0)) { r = -KEINPROGRESS; goto unlock; }
wait:
    mutex_unlock(&s->lock);
    int w = wait_net_condition(!handshaking(c), left(deadline_of(s->sndtimeo)));
    if (w < 0) return w;
    if (w == 0) return -KEINPROGRESS;
    r = tcp_error(c, true);
    if (r == 0 && c->state == TCP_CLOSED) r = -KECONNREFUSED;
    return r;
unlock:
    mutex_unlock(&s->lock);
    return r;
}

/* ---- data ---- */
static int64_t stream_send(struct vfs_file *f, struct socket *s, const uint8_t *buf, size_t len, int flags) {
    struct tcp_conn *c = s->tcp;
    if (!c || s->listening) return -KENOTCONN;
    uint64_t deadline = deadline_of(s->sndtimeo);
    size_t done = 0;
    while (done < len) {
        int64_t r = tcp_send(c, buf + done, len - done);
        if (r > 0) { done += (size_t)r; continue; }
        if (r == -KEPIPE) {
            if (!(flags & MSG_NOSIGNAL_K) && task_current()) thread_signal(task_current(), SIGPIPE);
            return done ? (int64_t)done : -KEPIPE;
        }
        if (r != -KEAGAIN) return done ? (int64_t)done : r;
        if (nonblock(f, flags)) return done ? (int64_t)done : -KEAGAIN;
        int w = wait_net_condition(tcp_writable(c), left(deadline));
        if (w <= 0) return done ? (int64_t)done : (w < 0 ? w : -KEAGAIN);
    }
    return (int64_t)done;
}

int64_t sock_sendto(struct vfs_file *f, const void *buf, size_t len, int flags, const struct net_addr *dst,
                    uint16_t dport) {
    struct socket *s = sock_of(f);
    if (s->type == SOCK_STREAM_K) return stream_send(f, s, buf, len, flags);
    if (s->shut_wr) {
        if (!(flags & MSG_NOSIGNAL_K) && task_current()) thread_signal(task_current(), SIGPIPE);
        return -KEPIPE;
    }
    if (!dst) {
        if (!s->udp_connected) return -KEDESTADDRREQ;
        dst = &s->raddr;
        dport = s->rport;
    }
    if (s->ping) {
        mutex_lock(&s->lock);
        int64_t pr = ping_sock_send(s->ping, dst, buf, len);
        if (!s->bound && ping_sock_ident(s->ping)) { s->bound = true; s->lport = ping_sock_ident(s->ping); }
        mutex_unlock(&s->lock);
        return pr;
    }
    if (dst->family != s->domain && !(s->domain == NET_AF_INET6 && dst->family == NET_AF_INET && !s->v6only))
        return -KEAFNOSUPPORT;
    if (dport == 0) return -KEINVAL;
    mutex_lock(&s->lock);
    if (!s->udp.bound) {
        s->udp.family = (uint16_t)s->domain;
        s->udp.v6only = s->v6only;
    }
    int r = udp_sendto(&s->udp, dst, dport, buf, len, NULL);
    if (s->udp.bound && !s->bound) { s->bound = true; s->lport = s->udp.port; }
    mutex_unlock(&s->lock);
    return r;
}

static int64_t stream_recv(struct vfs_file *f, struct socket *s, uint8_t *buf, size_t len, int flags) {
    struct tcp_conn *c = s->tcp;
    if (!c || s->listening) return -KENOTCONN;
    if (len == 0) return 0;
    uint64_t deadline = deadline_of(s->rcvtimeo);
    size_t done = 0;
    for (;;) {
        int64_t r = (flags & MSG_PEEK_K) ? tcp_peek(c, buf, len) : tcp_recv(c, buf + done, len - done);
        if (r > 0) {
            if (flags & MSG_PEEK_K) return r;   /* the bytes stay queued (no MSG_WAITALL) */
            done += (size_t)r;
            if (!(flags & MSG_WAITALL_K) || done == len) return (int64_t)done;
            continue;
        }
        if (r == 0) return (int64_t)done;
        if (r != -KEAGAIN) return done ? (int64_t)done : r;
        if (nonblock(f, flags)) return done ? (int64_t)done : -KEAGAIN;
        int w = wait_net_condition(tcp_readable(c), left(deadline));
        if (w <= 0) return done ? (int64_t)done : (w < 0 ? w : -KEAGAIN);
    }
}

/* Is a datagram from src:sport acceptable on s (a connected socket takes only its peer's)? */
static bool dgram_from_peer(const struct socket *s, const struct net_addr *src, uint16_t sport) {
    return !s->udp_connected || (addr_eq(src, &s->raddr) && (s->ping || sport == s->rport));
}

/* The next datagram (UDP or ping) into buf: taken off the queue, or only copied with
 * MSG_PEEK. Returns its whole length (or -errno) and fills *info; after SHUT_RD 0 with
 * info->src.family 0. */
static int64_t dgram_recv(struct vfs_file *f, struct socket *s, void *buf, size_t len, int flags,
                          struct udp_rxinfo *info) {
    uint64_t deadline = deadline_of(s->rcvtimeo);
    for (;;) {
        int64_t full = -KEAGAIN;
        info->sport = 0;                 /* Linux reports port 0 for ping sockets */
        if (flags & MSG_PEEK_K) {
            full = s->ping ? ping_sock_peek(s->ping, buf, len, &info->src) : udp_peek(&s->udp, buf, len, info);
            if (full >= 0 && dgram_from_peer(s, &info->src, info->sport)) return full;
        }
        struct pkt *p = NULL;
        if (!(flags & MSG_PEEK_K) || full >= 0)   /* take it: to return it, or to drop it */
            p = s->ping ? ping_sock_recv(s->ping, &info->src) : udp_recv(&s->udp, info);
        if (p) {
            if ((flags & MSG_PEEK_K) || !dgram_from_peer(s, &info->src, info->sport)) {
                pkt_free(p);             /* not from the peer we are connected to */
                continue;
            }
            full = p->len;
            size_t n = MIN(len, (size_t)p->len);
            if (n) memcpy(buf, p->data, n);
            pkt_free(p);
            return full;
        }
        if (s->shut_rd) {
            info->src.family = 0;        /* end of file, no datagram */
            return 0;
        }
        if (nonblock(f, flags)) return -KEAGAIN;
        int w = wait_net_condition((s->ping ? ping_sock_pending(s->ping) : udp_pending(&s->udp)) > 0 || s->shut_rd,
                                   left(deadline));
        if (w < 0) return w;
        if (w == 0) return -KEAGAIN;
    }
}

int64_t sock_recvfrom(struct vfs_file *f, void *buf, size_t len, int flags, struct net_addr *src,
                      uint16_t *sport, int *msg_flags) {
    struct socket *s = sock_of(f);
    if (msg_flags) *msg_flags = 0;
    if (s->type == SOCK_STREAM_K) {
        int64_t r = stream_recv(f, s, buf, len, flags);
        if (r >= 0 && s->tcp) {
            if (src) *src = s->tcp->remote;
            if (sport) *sport = s->tcp->rport;
        }
        return r;
    }
    struct udp_rxinfo info;
    int64_t full = dgram_recv(f, s, buf, len, flags, &info);
    if (full < 0 || info.src.family == 0) return full;
    if ((uint64_t)full > len && msg_flags) *msg_flags |= MSG_TRUNC_K;
    if (src) *src = info.src;
    if (sport) *sport = info.sport;
    return (flags & MSG_TRUNC_K) ? full : (int64_t)MIN((size_t)full, len);
}

int sock_shutdown(struct vfs_file *f, int how) {
    struct socket *s = sock_of(f);
    if (how < SHUT_RD_K || how > SHUT_RDWR_K) return -KEINVAL;
    int r = 0;
    mutex_lock(&s->lock);
    if (s->type == SOCK_STREAM_K) {
        if (!s->tcp || s->listening) r = -KENOTCONN;
        else r = tcp_shutdown(s->tcp, how);
    } else if (!s->udp_connected) {
        r = -KENOTCONN;
    } else {
        if (how != SHUT_WR_K) s->shut_rd = true;
        if (how != SHUT_RD_K) s->shut_wr = true;
    }
    mutex_unlock(&s->lock);
    wake_up_all(&net_event_wq);        /* readers of this socket see the shutdown */
    return r;
}

int sock_getname(struct vfs_file *f, bool peer, struct net_addr *addr, uint16_t *port) {
    struct socket *s = sock_of(f);
    memset(addr, 0, sizeof(*addr));
    addr->family = (uint16_t)s->domain;
    *port = 0;
    mutex_lock(&s->lock);
    int r = 0;
    struct tcp_conn *c = s->tcp;
    if (peer) {
        if (c && !s->listening && !handshaking(c) && c->state != TCP_CLOSED) {
            *addr = c->remote;
            *port = c->rport;
        } else if (s->type == SOCK_DGRAM_K && s->udp_connected) {
            *addr = s->raddr;
            *port = s->rport;
        } else {
            r = -KENOTCONN;
        }
    } else if (c && !s->listening) {
        *addr = c->local;
        *port = c->lport;
    } else if (s->bound) {
        if (!net_addr_is_any(&s->laddr)) *addr = s->laddr;
        *port = s->lport;
    }
    mutex_unlock(&s->lock);
    return r;
}

/* ---- options ---- */
struct timeval_k { int64_t sec, usec; };

int sock_setopt(struct vfs_file *f, int level, int name, const void *val, size_t len) {
    struct socket *s = sock_of(f);
    int v = 0;
    bool is_tv = level == SOL_SOCKET_K && (name == SO_RCVTIMEO_K || name == SO_SNDTIMEO_K);
    bool is_linger = level == SOL_SOCKET_K && name == SO_LINGER_K;
    if (!is_tv && !is_linger) {
        if (len < sizeof(int)) return -KEINVAL;
        memcpy(&v, val, sizeof(int));
    }
    switch (level) {
    case SOL_SOCKET_K:
        switch (name) {
        case SO_REUSEADDR_K: s->reuseaddr = v != 0; return 0;
        case SO_KEEPALIVE_K:
            mutex_lock(&s->lock);
            s->keepalive = v != 0;
            if (s->tcp) apply_keepalive(s, s->tcp);
            mutex_unlock(&s->lock);
            return 0;
        case SO_SNDBUF_K: s->sndbuf = v; return 0;
        case SO_RCVBUF_K: s->rcvbuf = v; return 0;
        case SO_LINGER_K: {              /* struct linger {int l_onoff, l_linger;} */
            int l[2];
            if (len < sizeof(l)) return -KEINVAL;
            memcpy(l, val, sizeof(l));
            mutex_lock(&s->lock);
            s->linger_on = l[0] != 0;
            if (l[0]) s->linger_s = l[1];  /* Linux keeps the old time when turned off */
            mutex_unlock(&s->lock);
            return 0;
        }
        case SO_RCVTIMEO_K:
        case SO_SNDTIMEO_K: {
            struct timeval_k tv;
            if (len < sizeof(tv)) return -KEINVAL;
            memcpy(&tv, val, sizeof(tv));
            if (tv.usec < 0 || tv.usec >= 1000000) return -KEDOM;
            uint64_t ns = tv.sec < 0 ? 0 : (uint64_t)tv.sec * 1000000000ull + (uint64_t)tv.usec * 1000ull;
            if (tv.sec > 100000000) ns = 0;    /* absurdly long: no timeout */
            if (name == SO_RCVTIMEO_K) s->rcvtimeo = ns;
            else s->sndtimeo = ns;
            return 0;
        }
        default: return -KENOPROTOOPT;
        }
    case IPPROTO_TCP_K:
        if (s->type != SOCK_STREAM_K) return -KENOPROTOOPT;
        switch (name) {
        case TCP_NODELAY_K:
            mutex_lock(&s->lock);
            s->nodelay = v != 0;
            if (s->tcp && !s->listening) s->tcp->nodelay = s->nodelay;
            mutex_unlock(&s->lock);
            return 0;
        case TCP_KEEPIDLE_K:             /* tcp(7): 1..32767 seconds, 1..127 probes */
        case TCP_KEEPINTVL_K:
        case TCP_KEEPCNT_K:
            if (v < 1 || v > (name == TCP_KEEPCNT_K ? TCP_KEEPCNT_MAX : TCP_KEEPIDLE_MAX)) return -KEINVAL;
            mutex_lock(&s->lock);
            if (name == TCP_KEEPIDLE_K) s->keepidle = v;
            else if (name == TCP_KEEPINTVL_K) s->keepintvl = v;
            else s->keepcnt = v;
            if (s->tcp) apply_keepalive(s, s->tcp);
            mutex_unlock(&s->lock);
            return 0;
        default: return -KENOPROTOOPT;
        }
    case IPPROTO_IPV6_K:
        if (s->domain != NET_AF_INET6 || name != IPV6_V6ONLY_K) return -KENOPROTOOPT;
        if (s->bound || s->tcp || s->udp.bound) return -KEINVAL;
        s->v6only = v != 0;
        return 0;
    default:
        return -KENOPROTOOPT;
    }
}

int sock_getopt(struct vfs_file *f, int level, int name, void *val, size_t *len) {
    struct socket *s = sock_of(f);
    int v;
    if (level == SOL_SOCKET_K && (name == SO_RCVTIMEO_K || name == SO_SNDTIMEO_K)) {
        if (*len < sizeof(struct timeval_k)) return -KEINVAL;
        uint64_t ns = name == SO_RCVTIMEO_K ? s->rcvtimeo : s->sndtimeo;
        struct timeval_k tv = {(int64_t)(ns / 1000000000ull), (int64_t)(ns % 1000000000ull / 1000)};
        memcpy(val, &tv, sizeof(tv));
        *len = sizeof(tv);
        return 0;
    }
    if (level == SOL_SOCKET_K && name == SO_LINGER_K) {
        if (*len < 2 * sizeof(int)) return -KEINVAL;
        int l[2] = {s->linger_on, s->linger_s};
        memcpy(val, l, sizeof(l));
        *len = sizeof(l);
        return 0;
    }
    if (*len < sizeof(int)) return -KEINVAL;
    switch (level) {
    case SOL_SOCKET_K:
        switch (name) {
        case SO_REUSEADDR_K: v = s->reuseaddr; break;
        case SO_KEEPALIVE_K: v = s->keepalive; break;
        case SO_TYPE_K: v = s->type; break;
        case SO_PROTOCOL_K: v = s->protocol; break;
        case SO_DOMAIN_K: v = s->domain; break;
        case SO_ACCEPTCONN_K: v = s->listening; break;
        case SO_SNDBUF_K: v = s->sndbuf ? s->sndbuf : (int)TCP_BUF_DEFAULT; break;
        case SO_RCVBUF_K: v = s->rcvbuf ? s->rcvbuf : (int)TCP_BUF_DEFAULT; break;
        case SO_ERROR_K:
            mutex_lock(&s->lock);
            v = (s->tcp && !s->listening) ? -tcp_error(s->tcp, true) : 0;
            mutex_unlock(&s->lock);
            break;
        default: return -KENOPROTOOPT;
        }
        break;
    case IPPROTO_TCP_K:
        if (s->type != SOCK_STREAM_K) return -KENOPROTOOPT;
        switch (name) {
        case TCP_NODELAY_K: v = s->nodelay; break;
        case TCP_KEEPIDLE_K: v = s->keepidle ? s->keepidle : TCP_KEEPIDLE_DEFAULT; break;
        case TCP_KEEPINTVL_K: v = s->keepintvl ? s->keepintvl : TCP_KEEPINTVL_DEFAULT; break;
        case TCP_KEEPCNT_K: v = s->keepcnt ? s->keepcnt : TCP_KEEPCNT_DEFAULT; break;
        default: return -KENOPROTOOPT;
        }
        break;
    case IPPROTO_IPV6_K:
        if (s->domain != NET_AF_INET6 || name != IPV6_V6ONLY_K) return -KENOPROTOOPT;
        v = s->v6only;
        break;
    default:
        return -KENOPROTOOPT;
    }
    memcpy(val, &v, sizeof(v));
    *len = sizeof(v);
    return 0;
}

/* ---- file operations ---- */
static int64_t sock_read(struct vfs_file *f, void *buf, size_t len) {
    return sock_recvfrom(f, buf, len, 0, NULL, NULL, NULL);
}
static int64_t sock_write(struct vfs_file *f, const void *buf, size_t len) {
    return sock_sendto(f, buf, len, MSG_NOSIGNAL_K, NULL, 0); /* write(2) raises SIGPIPE itself */
}

/* poll: readiness from the transport, woken by net_poller through net_event_wq. */
static uint32_t sock_poll(struct vfs_file *f, struct wait_queue *wqs[2]) {
    struct socket *s = sock_of(f);
    wqs[0] = &net_event_wq;
    wqs[1] = NULL;
    uint32_t m = 0;
    if (s->type == SOCK_DGRAM_K) {
        if ((s->ping ? ping_sock_pending(s->ping) : udp_pending(&s->udp)) > 0 || s->shut_rd) m |= VFS_POLLIN;
        if (!s->shut_wr) m |= VFS_POLLOUT;
        return m;
    }
    struct tcp_conn *c = __atomic_load_n(&s->tcp, __ATOMIC_ACQUIRE);
    if (!c) return VFS_POLLHUP;                     /* a fresh stream socket (Linux: TCP_CLOSE) */
    if (s->listening) return tcp_readable(c) ? VFS_POLLIN : 0;
    if (tcp_readable(c)) m |= VFS_POLLIN;
    if (tcp_writable(c)) m |= VFS_POLLOUT;
    if (c->error) m |= VFS_POLLERR;
    if (c->state == TCP_CLOSED || (c->rcv_fin && c->fin_queued)) m |= VFS_POLLHUP;
    return m;
}

static int64_t sock_ioctl(struct vfs_file *f, uint32_t cmd, uint64_t arg) {
    struct socket *s = sock_of(f);
    if (cmd == SIOCSABOSNETEM_K || cmd == SIOCGABOSNETEM_K) return netif_netem_ioctl(cmd, arg); /* netif.c */
    if (cmd != FIONREAD_K) return netif_ifreq_ioctl(cmd, arg);     /* SIOCGIF*, else -ENOTTY (netif.c) */
    uint32_t n = 0;
    if (s->type == SOCK_STREAM_K) {
        if (s->listening) return -KEINVAL;
        n = s->tcp ? tcp_rcv_queued(s->tcp) : 0;
    } else {
        n = (s->ping ? ping_sock_pending(s->ping) : udp_pending(&s->udp)) ? 1 : 0;    /* a datagram waits (size not peeked) */
    }
    return put_user_u32((void *)arg, n);
}

static const struct vfs_file_ops sock_fops = {
    .read = sock_read, .write = sock_write, .close = sock_close, .poll = sock_poll, .ioctl = sock_ioctl};
