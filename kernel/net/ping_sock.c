/* ping_sock.c: Linux "ping sockets": socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and
 * socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6), with the behaviour of Linux net/ipv4/ping.c as
 * documented in icmp(7): the user writes an ICMP echo request (RFC 792 type 8 / RFC 4443 §4.1
 * type 128, code 0, at least the 8-byte header); the kernel replaces the identifier with the
 * socket's "port" (bind(2) or an automatic one) and computes the checksum (RFC 1071; ICMPv6
 * with the pseudo header of RFC 8200 §8.1, done by ipv6_output). Echo replies (RFC 792 type 0,
 * RFC 4443 §4.2 type 129) whose identifier matches are queued on the socket and read without
 * the IP header, with the sender's address.
 *
 * Replies arrive through icmp.c's echo hook and icmpv6.c's echo_reply_hook in net_poller; the
 * socket list and queues are under one spinlock (never held while allocating or sending). */
#include "ping_sock.h"
#include "net_ipv4.h"
#include "net_ipv6.h"
#include "kstring.h"
#include "spinlock.h"
#include "mm.h"

#define PING_QUEUE_MAX 64     /* replies kept per socket; more are dropped */
#define ICMP_HDR 8

struct ping_sock {
    int domain;
    uint16_t ident;           /* 0 = not bound yet */
    uint32_t qlen;
    struct pkt *qhead, *qtail;
    struct ping_sock *next;
};

static spinlock_t ping_lock = SPINLOCK_INIT("ping_sock");
static struct ping_sock *ping_list;
static uint16_t ping_next_ident = 1000;
static int hooks_done;

/* The sender's address is kept at the start of the packet buffer (pkt headroom). */
static struct net_addr *pkt_src(struct pkt *p) { return (struct net_addr *)p->head; }

/* Queues a reply copy for the socket of (domain, id); net_poller context. */
static void deliver(int domain, const struct net_addr *from, uint16_t id, uint16_t seq, const uint8_t *data,
                    size_t len, const uint8_t *v6src, const uint8_t *v6dst) {
    if (len > 65535 - ICMP_HDR) return;
    bool wanted = false;
    uint64_t fl = spin_lock_irqsave(&ping_lock);
    for (struct ping_sock *s = ping_list; s; s = s->next)
        if (s->domain == domain && s->ident == id && s->qlen < PING_QUEUE_MAX) wanted = true;
    spin_unlock_irqrestore(&ping_lock, fl);
    if (!wanted) return;
    struct pkt *p = pkt_alloc((uint32_t)(ICMP_HDR + len));
    if (!p) return;
    if ((size_t)(p->data - p->head) < sizeof(struct net_addr)) { pkt_free(p); return; }
    uint8_t *h = pkt_put(p, (uint32_t)(ICMP_HDR + len));
    h[0] = domain == NET_AF_INET ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY;
    h[1] = 0;
    net_put16(h + 2, 0);
    net_put16(h + 4, id);
    net_put16(h + 6, seq);
    if (len) memcpy(h + ICMP_HDR, data, len);
    uint16_t ck = domain == NET_AF_INET ? net_csum_fold(net_csum_add(0, h, ICMP_HDR + len))
                                        : ipv6_upper_csum(v6src, v6dst, IPV6_NH_ICMPV6, h, (uint32_t)(ICMP_HDR + len));
    net_put16(h + 2, ck);
    *pkt_src(p) = *from;
    p->next = NULL;
    fl = spin_lock_irqsave(&ping_lock);
    struct ping_sock *s = ping_list;
    while (s && !(s->domain == domain && s->ident == id && s->qlen < PING_QUEUE_MAX)) s = s->next;
    if (s) {
        if (s->qtail) s->qtail->next = p;
        else s->qhead = p;
        s->qtail = p;
        s->qlen++;
        p = NULL;
    }
    spin_unlock_irqrestore(&ping_lock, fl);
    if (p) pkt_free(p);
}

static void hook4(const struct net_addr *from, uint16_t id, uint16_t seq, const uint8_t *data, size_t len,
                  void *ctx) {
    (void)ctx;
    deliver(NET_AF_INET, from, id, seq, data, len, NULL, NULL);
}

static void hook6(const struct ipv6_rx_info *info, uint16_t id, uint16_t seq, const uint8_t *data, uint32_t len) {
    struct net_addr from = {0};
    from.family = NET_AF_INET6;
    memcpy(from.v6, info->src, 16);
    deliver(NET_AF_INET6, &from, id, seq, data, len, info->src, info->dst);
}

struct ping_sock *ping_sock_create(int domain) {
    if (!__atomic_exchange_n(&hooks_done, 1, __ATOMIC_ACQ_REL)) {
        icmp_register_echo_hook(hook4, NULL);
        if (!icmpv6_echo_reply_hook) icmpv6_echo_reply_hook = hook6;
    }
    struct ping_sock *ps = kzalloc(sizeof(*ps));
    if (!ps) return NULL;
    ps->domain = domain;
    uint64_t fl = spin_lock_irqsave(&ping_lock);
    ps->next = ping_list;
    ping_list = ps;
    spin_unlock_irqrestore(&ping_lock, fl);
    return ps;
}

void ping_sock_destroy(struct ping_sock *ps) {
    if (!ps) return;
    uint64_t fl = spin_lock_irqsave(&ping_lock);
    for (struct ping_sock **pp = &ping_list; *pp; pp = &(*pp)->next)
        if (*pp == ps) { *pp = ps->next; break; }
    struct pkt *q = ps->qhead;
    ps->qhead = ps->qtail = NULL;
    ps->qlen = 0;
    spin_unlock_irqrestore(&ping_lock, fl);
    while (q) {
        struct pkt *n = q->next;
        pkt_free(q);
        q = n;
    }
    kfree(ps);
}

/* Under ping_lock: is ident taken by another socket of the family? */
static bool ident_taken(const struct ping_sock *ps, uint16_t ident) {
    for (const struct ping_sock *o = ping_list; o; o = o->next)
        if (o != ps && o->domain == ps->domain && o->ident == ident) return true;
    return false;
}

int ping_sock_bind(struct ping_sock *ps, uint16_t ident) {
    int r = 0;
    uint64_t fl = spin_lock_irqsave(&ping_lock);
    if (ps->ident) {
        if (ident) r = -KEINVAL;
    } else if (ident) {
        if (ident_taken(ps, ident)) r = -KEADDRINUSE;
        else ps->ident = ident;
    } else {
        for (int i = 0; i < 65535 && !ps->ident; i++) {
            uint16_t c = ping_next_ident++;
            if (ping_next_ident == 0) ping_next_ident = 1;
            if (c && !ident_taken(ps, c)) ps->ident = c;
        }
        if (!ps->ident) r = -KEADDRINUSE;
    }
    spin_unlock_irqrestore(&ping_lock, fl);
    return r;
}

uint16_t ping_sock_ident(const struct ping_sock *ps) { return __atomic_load_n(&ps->ident, __ATOMIC_RELAXED); }

int64_t ping_sock_send(struct ping_sock *ps, const struct net_addr *dst, const void *buf, size_t len) {
    const uint8_t *h = buf;
    if (len > 65535) return -KEMSGSIZE;
    if (len < ICMP_HDR) return -KEINVAL;
    if (dst->family != ps->domain) return ps->domain == NET_AF_INET6 ? -KEINVAL : -KEAFNOSUPPORT;
    uint8_t want = ps->domain == NET_AF_INET ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
    if (h[0] != want || h[1] != 0) return -KEINVAL;
    int r = ping_sock_bind(ps, 0);
    if (r < 0) return r;
    uint16_t seq = net_get16(h + 6);
    if (ps->domain == NET_AF_INET)
        r = icmp_send_echo(dst, ps->ident, seq, h + ICMP_HDR, len - ICMP_HDR);
    else
        r = icmpv6_send_echo(dst->v6, ps->ident, seq, h + ICMP_HDR, (uint32_t)(len - ICMP_HDR));
    return r < 0 ? r : (int64_t)len;
}

struct pkt *ping_sock_recv(struct ping_sock *ps, struct net_addr *src) {
    uint64_t fl = spin_lock_irqsave(&ping_lock);
    struct pkt *p = ps->qhead;
    if (p) {
        ps->qhead = p->next;
        if (!ps->qhead) ps->qtail = NULL;
        ps->qlen--;
    }
    spin_unlock_irqrestore(&ping_lock, fl);
    if (p) {
        p->next = NULL;
        if (src) *src = *pkt_src(p);
    }
    return p;
}

int64_t ping_sock_peek(struct ping_sock *ps, void *buf, size_t len, struct net_addr *src) {
    uint64_t fl = spin_lock_irqsave(&ping_lock);
    struct pkt *p = ps->qhead;
    int64_t full = -KEAGAIN;
    if (p) {
        full = p->len;
        if (len > p->len) len = p->len;
        if (len) memcpy(buf, p->data, len);
        if (src) *src = *pkt_src(p);
    }
    spin_unlock_irqrestore(&ping_lock, fl);
    return full;
}

uint32_t ping_sock_pending(const struct ping_sock *ps) { return __atomic_load_n(&ps->qlen, __ATOMIC_RELAXED); }
