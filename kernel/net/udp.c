/* udp.c: the User Datagram Protocol, RFC 768, over IPv4 (RFC 791 pseudo header) and IPv6
 * (RFC 8200 §8.1: the checksum is mandatory, a zero checksum is dropped). Ephemeral ports
 * come from the RFC 6335 dynamic range 49152-65535. See net_udp.h for the contract.
 *
 * Receive queue bookkeeping: a queued datagram keeps its addresses and ports in a struct
 * udp_meta written at p->head, in the headroom the already parsed link/IP/UDP headers used
 * (at least 28 bytes of them, and 40 are needed; a packet without the room is copied). */
#include "net_udp.h"
#include "kstring.h"
#include "spinlock.h"

#define UDP_HASH 64

struct udp_meta {
    struct net_addr src, dst;
    uint16_t sport, dport;
};

struct udp_stats udp_stats;
void (*udp_no_port_hook)(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);

static struct udp_sock *udp_table[UDP_HASH];
static spinlock_t udp_lock = SPINLOCK_INIT("udp");
static struct udp_ip_ops udp_ip;
static uint16_t udp_next_ephemeral = UDP_EPHEMERAL_MIN;

/* Sets the IP layer's entry points. */
void udp_set_ip_ops(const struct udp_ip_ops *ops) { udp_ip = *ops; }

/* Forgets every binding and counter (boot and host tests). */
void udp_init(void) {
    memset(udp_table, 0, sizeof udp_table);
    memset(&udp_stats, 0, sizeof udp_stats);
    udp_next_ephemeral = UDP_EPHEMERAL_MIN;
}


static bool addr_equal(const struct net_addr *a, const struct net_addr *b) {
    if (a->family != b->family) return false;
    return memcmp(a->v6, b->v6, a->family == NET_AF_INET6 ? 16 : 4) == 0;
}

/* Whether a socket of family fam may receive traffic of address family af. */
static bool sock_takes_family(const struct udp_sock *s, uint16_t af) {
    return s->family == af || (s->family == NET_AF_INET6 && !s->v6only && af == NET_AF_INET);
}

/* Two bindings on one port conflict when their families overlap and the addresses overlap
 * (equal, or either is the wildcard). No SO_REUSEADDR sharing for UDP yet. */
static bool bindings_conflict(const struct udp_sock *a, const struct udp_sock *b) {
    bool fam = a->family == b->family || sock_takes_family(a, b->family) || sock_takes_family(b, a->family);
    if (!fam) return false;
    if (net_addr_is_any(&a->local) || net_addr_is_any(&b->local)) return true;
    return addr_equal(&a->local, &b->local);
}

static bool port_conflicts(const struct udp_sock *s, uint16_t port) {
    for (struct udp_sock *o = udp_table[port % UDP_HASH]; o; o = o->next)
        if (o->port == port && bindings_conflict(o, s)) return true;
    return false;
}

/* Binds s; see net_udp.h. */
int udp_bind(struct udp_sock *s, const struct net_addr *local, uint16_t port) {
    if (!s || s->bound || (s->family != NET_AF_INET && s->family != NET_AF_INET6)) return -KEINVAL;
    if (local && local->family != 0 && local->family != s->family) return -KEINVAL;
    memset(&s->local, 0, sizeof s->local);
    if (local && local->family) s->local = *local;
    s->local.family = s->family;
    uint64_t fl = spin_lock_irqsave(&udp_lock);
    if (port == 0) {
        uint32_t range = UDP_EPHEMERAL_MAX - UDP_EPHEMERAL_MIN + 1, i;
        uint16_t cand = udp_next_ephemeral;
        for (i = 0; i < range; i++) {
            if (!port_conflicts(s, cand)) break;
            cand = cand == UDP_EPHEMERAL_MAX ? (uint16_t)UDP_EPHEMERAL_MIN : (uint16_t)(cand + 1);
        }
        if (i == range) {
            spin_unlock_irqrestore(&udp_lock, fl);
            return -KEADDRINUSE;
        }
        port = cand;
        udp_next_ephemeral = cand == UDP_EPHEMERAL_MAX ? (uint16_t)UDP_EPHEMERAL_MIN : (uint16_t)(cand + 1);
    } else if (port_conflicts(s, port)) {
        spin_unlock_irqrestore(&udp_lock, fl);
        return -KEADDRINUSE;
    }
    s->port = port;
    s->bound = true;
    s->rx_head = s->rx_tail = NULL;
    s->rx_count = 0;
    if (s->rx_limit == 0) s->rx_limit = UDP_RX_LIMIT_DEFAULT;
    s->next = udp_table[port % UDP_HASH];
    udp_table[port % UDP_HASH] = s;
    spin_unlock_irqrestore(&udp_lock, fl);
    return 0;
}

/* Unbinds s and frees its queue; see net_udp.h. */
void udp_unbind(struct udp_sock *s) {
    if (!s || !s->bound) return;
    uint64_t fl = spin_lock_irqsave(&udp_lock);
    for (struct udp_sock **pp = &udp_table[s->port % UDP_HASH]; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    struct pkt *q = s->rx_head;
    s->rx_head = s->rx_tail = NULL;
    s->rx_count = 0;
    s->bound = false;
    s->next = NULL;
    spin_unlock_irqrestore(&udp_lock, fl);
    while (q) {
        struct pkt *n = q->next;
        pkt_free(q);
        q = n;
    }
}

/* Checksum of a segment over its pseudo header: 0 when it verifies. */
uint16_t udp_checksum(const struct net_addr *src, const struct net_addr *dst, const uint8_t *seg, uint32_t len) {
    uint32_t sum = net_csum_pseudo(src, dst, IPPROTO_UDP_NUM, len);
    return net_csum_fold(net_csum_add(sum, seg, len));
}

/* The best socket for dst:port: an exact local address beats the wildcard. Lock held. */
static struct udp_sock *lookup(const struct net_addr *dst, uint16_t port) {
    struct udp_sock *wild = NULL;
    for (struct udp_sock *s = udp_table[port % UDP_HASH]; s; s = s->next) {
        if (s->port != port || !sock_takes_family(s, dst->family)) continue;
        if (net_addr_is_any(&s->local)) {
            if (!wild || wild->family != dst->family) wild = s; /* prefer same family */
        } else if (s->local.family == dst->family && addr_equal(&s->local, dst)) {
            return s;
        }
    }
    return wild;
}

/* Receives a datagram from IP; see net_udp.h. */
void udp_input(struct pkt *p, const struct net_addr *src, const struct net_addr *dst) {
    if (p->len < UDP_HLEN) goto truncated;
    const uint8_t *h = p->data;
    uint16_t ulen = net_get16(h + 4), csum = net_get16(h + 6);
    if (ulen < UDP_HLEN || ulen > p->len) goto truncated;
    pkt_trim(p, ulen);
    if (csum == 0) {
        if (dst->family == NET_AF_INET6) goto badsum;    /* RFC 8200 §8.1 */
    } else if (udp_checksum(src, dst, p->data, ulen) != 0) {
        goto badsum;
    }
    struct udp_meta m;
    m.src = *src;
    m.dst = *dst;
    m.sport = net_get16(h);
    m.dport = net_get16(h + 2);
    pkt_pull(p, UDP_HLEN);
    if ((size_t)(p->data - p->head) < sizeof m) {
        /* no room in front of the payload: copy into a fresh buffer */
        struct pkt *c = pkt_alloc(p->len);
        if (!c) {
            pkt_free(p);
            udp_stats.queue_full++;
            return;
        }
        memcpy(pkt_put(c, p->len), p->data, p->len);
        c->netif = p->netif;
        c->timestamp_ns = p->timestamp_ns;
        pkt_free(p);
        p = c;
    }
    memcpy(p->head, &m, sizeof m);
    p->next = NULL;
    uint64_t fl = spin_lock_irqsave(&udp_lock);
    struct udp_sock *s = lookup(dst, m.dport);
    if (!s) {
        udp_stats.no_port++;
        spin_unlock_irqrestore(&udp_lock, fl);
        if (udp_no_port_hook) udp_no_port_hook(p, src, dst);
        else pkt_free(p);
        return;
    }
    if (s->rx_count >= s->rx_limit) {
        s->rx_dropped++;
        udp_stats.queue_full++;
        spin_unlock_irqrestore(&udp_lock, fl);
        pkt_free(p);
        return;
    }
    if (s->rx_tail) s->rx_tail->next = p;
    else s->rx_head = p;
    s->rx_tail = p;
    s->rx_count++;
    udp_stats.in_datagrams++;
    spin_unlock_irqrestore(&udp_lock, fl);
    return;
truncated:
    udp_stats.truncated++;
    pkt_free(p);
    return;
badsum:
    udp_stats.bad_checksum++;
    pkt_free(p);
}

/* The addresses and ports stored in front of a queued datagram, for the reader. */
static void fill_rxinfo(const struct pkt *p, struct udp_rxinfo *info) {
    struct udp_meta m;
    memcpy(&m, p->head, sizeof m);
    info->src = m.src;
    info->dst = m.dst;
    info->sport = m.sport;
    info->dport = m.dport;
    info->netif = p->netif;
}

/* Dequeues one datagram; see net_udp.h. */
struct pkt *udp_recv(struct udp_sock *s, struct udp_rxinfo *info) {
    uint64_t fl = spin_lock_irqsave(&udp_lock);
    struct pkt *p = s->rx_head;
    if (p) {
        s->rx_head = p->next;
        if (!s->rx_head) s->rx_tail = NULL;
        s->rx_count--;
        p->next = NULL;
    }
    spin_unlock_irqrestore(&udp_lock, fl);
    if (p && info) fill_rxinfo(p, info);
    return p;
}

/* Copies the oldest datagram without dequeuing it (MSG_PEEK); see net_udp.h. */
int64_t udp_peek(struct udp_sock *s, void *buf, size_t len, struct udp_rxinfo *info) {
    uint64_t fl = spin_lock_irqsave(&udp_lock);
    struct pkt *p = s->rx_head;
    int64_t full = -KEAGAIN;
    if (p) {
        full = p->len;
        if (len > p->len) len = p->len;
        if (len) memcpy(buf, p->data, len);
        if (info) fill_rxinfo(p, info);
    }
    spin_unlock_irqrestore(&udp_lock, fl);
    return full;
}

/* Queue length for poll. */
uint32_t udp_pending(const struct udp_sock *s) { return __atomic_load_n(&s->rx_count, __ATOMIC_RELAXED); }

/* Builds and sends one datagram; see net_udp.h. */
int udp_sendto(struct udp_sock *s, const struct net_addr *dst, uint16_t dport,
               const void *data, size_t len, struct netif *nif) {
    if (!s || !dst || dport == 0 || (len && !data)) return -KEINVAL;
    if (dst->family != NET_AF_INET && dst->family != NET_AF_INET6) return -KEINVAL;
    if (!sock_takes_family(s, dst->family)) return -KEINVAL;
    if (len > (dst->family == NET_AF_INET6 ? UDP_MAX_PAYLOAD6 : UDP_MAX_PAYLOAD4)) return -KEMSGSIZE;
    if (!udp_ip.output) return -KENOSYS;
    if (!s->bound) {
        int r = udp_bind(s, NULL, 0);
        if (r < 0) return r;
    }
    struct net_addr src;
    if (!net_addr_is_any(&s->local) && s->local.family == dst->family) {
        src = s->local;
    } else if (udp_ip.select_src) {
        int r = udp_ip.select_src(dst, nif, &src);
        if (r < 0) return r;
    } else {
        memset(&src, 0, sizeof src);
        src.family = dst->family;
    }
    struct pkt *p = pkt_alloc((uint32_t)len + UDP_HLEN);
    if (!p) {
        udp_stats.out_errors++;
        return -KENOBUFS;
    }
    uint8_t *h = pkt_put(p, (uint32_t)len + UDP_HLEN);
    net_put16(h, s->port);
    net_put16(h + 2, dport);
    net_put16(h + 4, (uint16_t)(len + UDP_HLEN));
    net_put16(h + 6, 0);
    if (len) memcpy(h + UDP_HLEN, data, len);
    uint16_t c = udp_checksum(&src, dst, h, (uint32_t)len + UDP_HLEN);
    net_put16(h + 6, c ? c : 0xffff);   /* RFC 768: a computed zero is sent as all ones */
    p->netif = nif;
    int r = udp_ip.output(p, &src, dst, IPPROTO_UDP_NUM, nif);
    if (r < 0) {
        udp_stats.out_errors++;
        return r;
    }
    udp_stats.out_datagrams++;
    return (int)len;
}

/* Calls fn for every bound socket (for /proc/net/udp); see net_udp.h. */
void udp_for_each(void (*fn)(const struct udp_sock *s, void *ctx), void *ctx) {
    uint64_t fl = spin_lock_irqsave(&udp_lock);
    for (size_t b = 0; b < UDP_HASH; b++)
        for (const struct udp_sock *s = udp_table[b]; s; s = s->next) fn(s, ctx);
    spin_unlock_irqrestore(&udp_lock, fl);
}
