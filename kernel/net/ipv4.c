/* ipv4.c: the Internet Protocol version 4 for a host (RFC 791, RFC 1122 §3.2.1): header
 * validation (version, IHL, total length against the frame, header checksum), TTL, address
 * filtering, a routing table with longest-prefix match and a default gateway, output through
 * ARP with DF set (we never fragment; TCP/UDP size payloads to the MTU), and reassembly of
 * received fragments (RFC 791 §3.2, the hole bookkeeping of RFC 815 kept as a sorted list of
 * the pieces received: the holes are the gaps between them). Overlapping fragments are
 * treated as an attack (as RFC 5722 does for IPv6): the whole datagram is dropped. */
#include "net_ipv4.h"
#include "kstring.h"
#include "spinlock.h"
#ifndef HOST_TEST
#include "time.h"
uint64_t (*ip4_clock)(void) = time_ns;
#else
uint64_t (*ip4_clock)(void);
#endif

#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFMASK 0x1fff

struct ip4_stats ip4_stats;
static ip_proto_handler ip_handlers[256];
static uint16_t ip_next_id;

static uint64_t ip_now(void) { return ip4_clock ? ip4_clock() : 0; }
static bool ip_zero(const uint8_t a[4]) { return (a[0] | a[1] | a[2] | a[3]) == 0; }

void ip_register_protocol(uint8_t proto, ip_proto_handler h) { ip_handlers[proto] = h; }

/* ---------------- routing ---------------- */
struct ip4_route {
    bool used;
    uint8_t prefix;
    uint32_t net, mask;          /* host order */
    uint8_t gw[4];
    struct netif *nif;
};
static struct ip4_route routes[IP4_ROUTES_MAX];
static spinlock_t route_lock = SPINLOCK_INIT("ip4_route");

static uint32_t prefix_mask(uint8_t prefix) { return prefix ? 0xffffffffu << (32 - prefix) : 0; }

int ip4_route_add(const uint8_t dst[4], uint8_t prefix_len, const uint8_t gw[4], struct netif *nif) {
    if (!dst || !nif || prefix_len > 32) return -KEINVAL;
    uint32_t mask = prefix_mask(prefix_len), net = net_get32(dst) & mask;
    int ret = -KENOSPC;
    uint64_t fl = spin_lock_irqsave(&route_lock);
    struct ip4_route *slot = NULL;
    for (int i = 0; i < IP4_ROUTES_MAX; i++) {
        struct ip4_route *r = &routes[i];
        if (r->used && r->prefix == prefix_len && r->net == net) { slot = r; break; }
        if (!r->used && !slot) slot = r;
    }
    if (slot) {
        slot->used = true;
        slot->prefix = prefix_len;
        slot->net = net;
        slot->mask = mask;
        memset(slot->gw, 0, 4);
        if (gw) memcpy(slot->gw, gw, 4);
        slot->nif = nif;
        ret = 0;
    }
    spin_unlock_irqrestore(&route_lock, fl);
    return ret;
}

int ip4_route_del(const uint8_t dst[4], uint8_t prefix_len) {
    if (!dst || prefix_len > 32) return -KEINVAL;
    uint32_t mask = prefix_mask(prefix_len), net = net_get32(dst) & mask;
    int ret = -KENOENT;
    uint64_t fl = spin_lock_irqsave(&route_lock);
    for (int i = 0; i < IP4_ROUTES_MAX; i++)
        if (routes[i].used && routes[i].prefix == prefix_len && routes[i].net == net) {
            routes[i].used = false;
            ret = 0;
        }
    spin_unlock_irqrestore(&route_lock, fl);
    return ret;
}

void ip4_route_flush(struct netif *nif) {
    uint64_t fl = spin_lock_irqsave(&route_lock);
    for (int i = 0; i < IP4_ROUTES_MAX; i++)
        if (routes[i].nif == nif) routes[i].used = false;
    spin_unlock_irqrestore(&route_lock, fl);
}

int ip4_route_lookup(const uint8_t dst[4], struct netif **nif, uint8_t next_hop[4]) {
    uint32_t d = net_get32(dst);
    int ret = -KENETUNREACH;
    uint64_t fl = spin_lock_irqsave(&route_lock);
    struct ip4_route *best = NULL;
    for (int i = 0; i < IP4_ROUTES_MAX; i++) {
        struct ip4_route *r = &routes[i];
        if (r->used && (d & r->mask) == r->net && (!best || r->prefix > best->prefix)) best = r;
    }
    if (best) {
        *nif = best->nif;
        if (ip_zero(best->gw)) memcpy(next_hop, dst, 4);
        else memcpy(next_hop, best->gw, 4);
        ret = 0;
    }
    spin_unlock_irqrestore(&route_lock, fl);
    return ret;
}

void ip4_configure(struct netif *nif, const uint8_t ip[4], const uint8_t mask[4], const uint8_t gw[4]) {
    if (!nif) return;
    static const uint8_t zero[4];
    memcpy(nif->ip4, ip ? ip : zero, 4);
    memcpy(nif->netmask4, mask ? mask : zero, 4);
    memcpy(nif->gateway4, gw ? gw : zero, 4);
    ip4_route_flush(nif);
    if (ip_zero(nif->ip4)) return;
    uint32_t m = net_get32(nif->netmask4);
    uint8_t prefix = 0;
    while (prefix < 32 && (m & (0x80000000u >> prefix))) prefix++;
    ip4_route_add(nif->ip4, prefix, NULL, nif);
    if (!ip_zero(nif->gateway4)) ip4_route_add(zero, 0, nif->gateway4, nif);
    arp_announce(nif);
}

struct local_q { const uint8_t *ip; bool found; };
static void local_one(struct netif *nif, void *ctx) {
    struct local_q *q = ctx;
    if (!ip_zero(nif->ip4) && memcmp(nif->ip4, q->ip, 4) == 0) q->found = true;
}
bool ip4_is_local(const uint8_t ip[4]) {
    struct local_q q = {ip, false};
    if (ip[0] == 127) return true;
    netif_for_each(local_one, &q);
    return q.found;
}

/* ---------------- output ---------------- */
static int ip4_send(struct netif *nif, const struct net_addr *src, const uint8_t dst[4],
                    const uint8_t next_hop[4], uint8_t proto, struct pkt *p) {
    if ((uint32_t)p->len + IP4_HLEN > nif->mtu) {
        ip4_stats.tx_too_big++;
        pkt_free(p);
        return -KEMSGSIZE;
    }
    uint16_t total = (uint16_t)(p->len + IP4_HLEN);
    uint8_t *h = pkt_push(p, IP4_HLEN);
    if (!h) {
        ip4_stats.tx_errors++;
        pkt_free(p);
        return -KENOBUFS;
    }
    h[0] = 0x45;
    h[1] = 0;
    net_put16(h + 2, total);
    net_put16(h + 4, __atomic_fetch_add(&ip_next_id, 1, __ATOMIC_RELAXED));
    net_put16(h + 6, IP_DF);
    h[8] = IP4_DEFAULT_TTL;
    h[9] = proto;
    net_put16(h + 10, 0);
    if (src && src->family == NET_AF_INET && !ip_zero(src->v4)) memcpy(h + 12, src->v4, 4);
    else memcpy(h + 12, nif->ip4, 4);                 /* 0.0.0.0 while unconfigured (DHCP) */
    memcpy(h + 16, dst, 4);
    net_put16(h + 10, net_csum_fold(net_csum_add(0, h, IP4_HLEN)));
    p->l3_offset = (uint16_t)(h - p->head);
    ip4_stats.tx_packets++;
    return arp_output(nif, next_hop, p);
}

int ipv4_output(const struct net_addr *src, const struct net_addr *dst, uint8_t proto, struct pkt *p) {
    if (!p) return -KEINVAL;
    if (!dst || dst->family != NET_AF_INET) {
        pkt_free(p);
        return -KEINVAL;
    }
    struct netif *nif = NULL;
    uint8_t nh[4];
    if (ip4_is_local(dst->v4) && (nif = netif_find("lo")) != NULL) {
        memcpy(nh, dst->v4, 4);
    } else if (ip4_route_lookup(dst->v4, &nif, nh) < 0) {
        ip4_stats.tx_no_route++;
        pkt_free(p);
        return -KENETUNREACH;
    }
    return ip4_send(nif, src, dst->v4, nh, proto, p);
}

int ipv4_output_if(struct netif *nif, const struct net_addr *src, const struct net_addr *dst,
                   uint8_t proto, struct pkt *p) {
    if (!p) return -KEINVAL;
    if (!nif || !dst || dst->family != NET_AF_INET) {
        pkt_free(p);
        return -KEINVAL;
    }
    return ip4_send(nif, src, dst->v4, dst->v4, proto, p);
}

/* ---------------- reassembly ---------------- */
struct frag { uint16_t off, len; struct pkt *p; };  /* p->data at the fragment's payload */
struct reasm {
    bool used;
    uint8_t src[4], dst[4], proto, hlen;
    uint16_t id, nfrags;
    uint32_t total;              /* payload length once the last fragment came, else 0 */
    uint64_t start_ns;
    struct netif *nif;
    uint8_t hdr[60];             /* header of the first fragment (hlen bytes, 0 = not yet) */
    struct frag frags[IP4_REASM_FRAGS_MAX];  /* sorted by offset, never overlapping */
};
static struct reasm reasms[IP4_REASM_MAX];
static spinlock_t reasm_lock = SPINLOCK_INIT("ip4_reasm");

static void reasm_drop(struct reasm *r) {
    for (int i = 0; i < r->nfrags; i++) pkt_free(r->frags[i].p);
    r->used = false;
    r->nfrags = 0;
}

int ip4_reasm_count(void) {
    int n = 0;
    for (int i = 0; i < IP4_REASM_MAX; i++) n += reasms[i].used;
    return n;
}

void ip4_reasm_timer(uint64_t now_ns) {
    uint64_t fl = spin_lock_irqsave(&reasm_lock);
    for (int i = 0; i < IP4_REASM_MAX; i++)
        if (reasms[i].used && now_ns - reasms[i].start_ns >= IP4_REASM_TIMEOUT_NS) {
            ip4_stats.frag_timeout++;
            reasm_drop(&reasms[i]);
        }
    spin_unlock_irqrestore(&reasm_lock, fl);
}

/* The whole datagram once every piece is in (IP header at data), else NULL. */
static struct pkt *reasm_complete(struct reasm *r) {
    if (!r->total || !r->hlen) return NULL;
    uint32_t at = 0;
    for (int i = 0; i < r->nfrags; i++) {
        if (r->frags[i].off != at) return NULL;   /* a hole */
        at += r->frags[i].len;
    }
    if (at != r->total) return NULL;
    struct pkt *p = pkt_alloc(r->hlen + r->total);
    if (p) {
        uint8_t *h = pkt_put(p, r->hlen + r->total);
        memcpy(h, r->hdr, r->hlen);
        net_put16(h + 2, (uint16_t)(r->hlen + r->total));
        net_put16(h + 6, net_get16(h + 6) & IP_DF);
        net_put16(h + 10, 0);
        net_put16(h + 10, net_csum_fold(net_csum_add(0, h, r->hlen)));
        for (int i = 0; i < r->nfrags; i++)
            memcpy(h + r->hlen + r->frags[i].off, r->frags[i].p->data, r->frags[i].len);
        p->netif = r->nif;
        p->l3_offset = (uint16_t)(h - p->head);
        ip4_stats.frag_reassembled++;
    } else {
        ip4_stats.frag_no_slot++;
    }
    reasm_drop(r);
    return p;
}

/* Takes a fragment (IP header at p->data, validated). Returns the reassembled datagram when
 * this piece completes one, else NULL (p kept or freed). */
static struct pkt *reasm_add(struct pkt *p) {
    const uint8_t *h = p->data;
    uint8_t hlen = (uint8_t)((h[0] & 0xf) * 4);
    uint16_t fo = net_get16(h + 6);
    uint32_t off = (uint32_t)(fo & IP_OFFMASK) * 8, len = p->len - hlen;
    bool more = fo & IP_MF;
    ip4_stats.frag_received++;
    if (hlen + off + len > 65535) {
        ip4_stats.frag_too_big++;
    } else if (len == 0 || (more && (len & 7))) {
        ip4_stats.frag_bad++;
        pkt_free(p);
        return NULL;
    }
    struct pkt *done = NULL, *drop = p;
    uint64_t now = ip_now();
    uint64_t fl = spin_lock_irqsave(&reasm_lock);
    struct reasm *r = NULL, *free_slot = NULL;
    for (int i = 0; i < IP4_REASM_MAX; i++) {
        struct reasm *c = &reasms[i];
        if (!c->used) { if (!free_slot) free_slot = c; continue; }
        if (c->id == net_get16(h + 4) && c->proto == h[9] && !memcmp(c->src, h + 12, 4) &&
            !memcmp(c->dst, h + 16, 4)) { r = c; break; }
    }
    if (hlen + off + len > 65535) {                    /* hostile: > 64 KiB */
        if (r) reasm_drop(r);
        goto out;
    }
    if (!r) {
        if (!free_slot) { ip4_stats.frag_no_slot++; goto out; }
        r = free_slot;
        memset(r, 0, offsetof(struct reasm, frags));
        r->used = true;
        r->id = net_get16(h + 4);
        r->proto = h[9];
        memcpy(r->src, h + 12, 4);
        memcpy(r->dst, h + 16, 4);
        r->start_ns = now;
        r->nif = p->netif;
    }
    uint32_t end = off + len;
    bool bad = false;
    if (!more) {
        if ((r->total && r->total != end) || (r->nfrags && r->frags[r->nfrags - 1].off + r->frags[r->nfrags - 1].len > end))
            bad = true;
        r->total = end;
    } else if (r->total && end > r->total) {
        bad = true;
    }
    int pos = 0;
    while (!bad && pos < r->nfrags && r->frags[pos].off < off) pos++;
    if (!bad && pos < r->nfrags && r->frags[pos].off == off && r->frags[pos].len == len) {
        goto out;                                      /* an exact duplicate: ignore it */
    }
    if (!bad && pos > 0 && r->frags[pos - 1].off + r->frags[pos - 1].len > off) bad = true;
    if (!bad && pos < r->nfrags && end > r->frags[pos].off) bad = true;
    if (!bad && r->nfrags >= IP4_REASM_FRAGS_MAX) bad = true;
    if (bad) {
        ip4_stats.frag_bad++;
        reasm_drop(r);
        goto out;
    }
    memmove(&r->frags[pos + 1], &r->frags[pos], (size_t)(r->nfrags - pos) * sizeof(struct frag));
    if (off == 0) {
        r->hlen = hlen;
        memcpy(r->hdr, h, hlen);
    }
    pkt_pull(p, hlen);
    r->frags[pos] = (struct frag){(uint16_t)off, (uint16_t)len, p};
    r->nfrags++;
    drop = NULL;
    done = reasm_complete(r);
out:
    spin_unlock_irqrestore(&reasm_lock, fl);
    if (drop) pkt_free(drop);
    return done;
}

/* ---------------- input ---------------- */
static bool ip4_for_us(struct netif *nif, const uint8_t d[4]) {
    if (!nif || (nif->flags & NETIF_LOOPBACK) || ip_zero(nif->ip4)) return true;
    uint32_t dst = net_get32(d), mask = net_get32(nif->netmask4), ip = net_get32(nif->ip4);
    if (dst == 0xffffffffu || dst == 0xe0000001u) return true;     /* broadcast, all-hosts */
    if (mask && mask != 0xffffffffu && (dst & mask) == (ip & mask) && (dst | mask) == 0xffffffffu) return true;
    return ip4_is_local(d);
}

static void ip4_deliver(struct pkt *p) {
    const uint8_t *h = p->data;
    uint8_t hlen = (uint8_t)((h[0] & 0xf) * 4);
    struct net_addr src = {0}, dst = {0};
    src.family = dst.family = NET_AF_INET;
    memcpy(src.v4, h + 12, 4);
    memcpy(dst.v4, h + 16, 4);
    ip_proto_handler fn = ip_handlers[h[9]];
    if (!fn) {
        ip4_stats.rx_no_proto++;
        icmp_send_unreachable(p, ICMP_UNREACH_PROTOCOL);
        pkt_free(p);
        return;
    }
    pkt_pull(p, hlen);
    p->l4_offset = (uint16_t)(p->data - p->head);
    ip4_stats.rx_delivered++;
    fn(p, &src, &dst);
}

void ipv4_input(struct pkt *p) {
    if (!p) return;
    ip4_stats.rx_packets++;
    const uint8_t *h = p->data;
    if (p->len < IP4_HLEN) {
        ip4_stats.rx_truncated++;
        goto drop;
    }
    uint32_t hlen = (h[0] & 0xfu) * 4, total = net_get16(h + 2);
    if ((h[0] >> 4) != 4 || hlen < IP4_HLEN) {
        ip4_stats.rx_bad_header++;
        goto drop;
    }
    if (hlen > p->len || total < hlen || total > p->len) {
        ip4_stats.rx_truncated++;
        goto drop;
    }
    if (net_csum_fold(net_csum_add(0, h, hlen)) != 0) {
        ip4_stats.rx_bad_checksum++;
        goto drop;
    }
    pkt_trim(p, total);                                /* Ethernet padding */
    if (h[8] == 0) {
        ip4_stats.rx_ttl_zero++;
        goto drop;
    }
    if (h[12] >= 224) {                                /* multicast, reserved or broadcast source */
        ip4_stats.rx_bad_src++;
        goto drop;
    }
    if (!ip4_for_us(p->netif, h + 16)) {
        ip4_stats.rx_not_for_us++;
        goto drop;
    }
    p->l3_offset = (uint16_t)(p->data - p->head);
    if (net_get16(h + 6) & (IP_MF | IP_OFFMASK)) {
        p = reasm_add(p);
        if (!p) return;
    }
    ip4_deliver(p);
    return;
drop:
    pkt_free(p);
}

/* ---------------- init ---------------- */
static struct net_timer_hook arp_hook = {.fn = arp_timer, .period_ms = 200};
static struct net_timer_hook reasm_hook = {.fn = ip4_reasm_timer, .period_ms = 1000};

void ipv4_init(void) {
    static bool done;
    if (__atomic_exchange_n(&done, true, __ATOMIC_ACQ_REL)) return;
    ip_register_protocol(IP_PROTO_ICMP, icmp_input);
    net_register_timer(&arp_hook);
    net_register_timer(&reasm_hook);
    struct netif *lo = netif_find("lo");
    static const uint8_t lo_net[4] = {127, 0, 0, 0};
    if (lo) ip4_route_add(lo_net, 8, NULL, lo);
}
