/* inet.c: the glue between the transports (UDP, RFC 768; TCP, RFC 9293) and the IP layers
 * (IPv4, RFC 791; IPv6, RFC 8200): protocol registration, output hooks, source-address
 * selection (RFC 1122 §3.3.4.3 for IPv4, a simplified RFC 6724 for IPv6) and the IPv6
 * loopback path.
 *
 * IPv6 local delivery: ipv6_input drops every datagram from or to ::1 (RFC 4291 §2.5.3: never
 * on a link), and ipv6_output never routes to the loopback interface. Datagrams to ::1 or to
 * one of our own IPv6 addresses therefore take a path of their own: they get a real IPv6
 * header and are queued on the interface "lo6" (NETIF_LOOPBACK, no Ethernet), whose poll —
 * run by net_poller like every other receive — hands them to TCP or UDP. Our own design. */
#include "net.h"
#include "net_ipv4.h"
#include "net_ipv6.h"
#include "net_udp.h"
#include "net_tcp.h"
#include "net_socket.h"
#include "kstring.h"
#include "spinlock.h"
#include "printk.h"

#define LO6_QUEUE_MAX 1024

/* ---- source selection ---- */
struct v6_find {
    const uint8_t *addr;
    bool found;
    struct netif *first;
};

static void v6_scan(struct netif *nif, void *ctx) {
    struct v6_find *c = ctx;
    if (nif->flags & NETIF_LOOPBACK) return;
    if (c->addr && ((nif->ip6_ll_valid && ip6_equal(nif->ip6_ll, c->addr)) ||
                    (nif->ip6_global_valid && ip6_equal(nif->ip6_global, c->addr))))
        c->found = true;
    if (!c->first && (nif->flags & NETIF_UP) && nif->ip6_ll_valid) c->first = nif;
}

/* True when addr is one of this host's addresses. */
bool inet_addr_is_local(const struct net_addr *addr) {
    if (!addr) return false;
    if (addr->family == NET_AF_INET) return addr->v4[0] == 127 || ip4_is_local(addr->v4);
    if (addr->family != NET_AF_INET6) return false;
    if (ip6_is_loopback(addr->v6)) return true;
    struct v6_find c = {addr->v6, false, NULL};
    netif_for_each(v6_scan, &c);
    return c.found;
}

/* The source address towards dst; see net_socket.h. */
int inet_select_src(const struct net_addr *dst, struct netif *nif, struct net_addr *src) {
    memset(src, 0, sizeof(*src));
    if (!dst) return -KEINVAL;
    src->family = dst->family;
    if (dst->family == NET_AF_INET) {
        if (dst->v4[0] == 127 || ip4_is_local(dst->v4)) {
            memcpy(src->v4, dst->v4, 4);   /* talking to ourselves: the address itself */
            return 0;
        }
        uint8_t nh[4];
        if (!nif && ip4_route_lookup(dst->v4, &nif, nh) < 0) return -KENETUNREACH;
        memcpy(src->v4, nif->ip4, 4);
        return 0;
    }
    if (dst->family != NET_AF_INET6) return -KEINVAL;
    if (inet_addr_is_local(dst)) {
        memcpy(src->v6, dst->v6, 16);
        return 0;
    }
    if (!nif) {
        struct v6_find c = {NULL, false, NULL};
        netif_for_each(v6_scan, &c);
        nif = c.first;
    }
    if (!nif || !nif->ip6_ll_valid) return -KENETUNREACH;
    bool ll = ip6_is_linklocal(dst->v6) || (ip6_is_multicast(dst->v6) && (dst->v6[1] & 0x0f) <= 2);
    memcpy(src->v6, (!ll && nif->ip6_global_valid) ? nif->ip6_global : nif->ip6_ll, 16);
    return 0;
}

/* ---- IPv6 loopback ("lo6") ---- */
static spinlock_t lo6_lock = SPINLOCK_INIT("lo6");
static struct pkt *lo6_head, *lo6_tail;
static unsigned lo6_count;
static struct netif lo6_netif;

static int lo6_enqueue(struct pkt *p) {
    uint64_t fl = spin_lock_irqsave(&lo6_lock);
    if (lo6_count >= LO6_QUEUE_MAX) {
        spin_unlock_irqrestore(&lo6_lock, fl);
        pkt_free(p);
        return -KENOBUFS;
    }
    p->next = NULL;
    if (lo6_tail) lo6_tail->next = p;
    else lo6_head = p;
    lo6_tail = p;
    lo6_count++;
    spin_unlock_irqrestore(&lo6_lock, fl);
    lo6_netif.stats.tx_packets++;
    lo6_netif.stats.tx_bytes += p->len;
    netif_rx_ready(&lo6_netif);
    return 0;
}

/* Frames from elsewhere never go out through lo6. */
static int lo6_transmit(struct netif *nif, struct pkt *p) {
    (void)nif;
    pkt_free(p);
    return -KENETDOWN;
}

static int lo6_poll(struct netif *nif, int budget) {
    int n = 0;
    while (n < budget) {
        uint64_t fl = spin_lock_irqsave(&lo6_lock);
        struct pkt *p = lo6_head;
        if (p) {
            lo6_head = p->next;
            if (!lo6_head) lo6_tail = NULL;
            lo6_count--;
        }
        spin_unlock_irqrestore(&lo6_lock, fl);
        if (!p) break;
        n++;
        p->next = NULL;
        p->netif = nif;
        nif->stats.rx_packets++;
        nif->stats.rx_bytes += p->len;
        struct net_addr src = {0}, dst = {0};
        src.family = dst.family = NET_AF_INET6;
        const uint8_t *h = p->data;
        memcpy(src.v6, h + 8, 16);
        memcpy(dst.v6, h + 24, 16);
        uint8_t nh = h[6];
        p->l3_offset = (uint16_t)(p->data - p->head);
        pkt_pull(p, IPV6_HLEN);
        p->l4_offset = (uint16_t)(p->data - p->head);
        if (nh == IPV6_NH_TCP) tcp_input(p, &src, &dst);
        else if (nh == IPV6_NH_UDP) udp_input(p, &src, &dst);
        else pkt_free(p);
    }
    return n;
}

static const struct netif_ops lo6_ops = {.transmit = lo6_transmit, .poll = lo6_poll};

/* An IPv6 datagram to ourselves: the header (checksum already set by the transport). */
static int lo6_output(const struct net_addr *src, const struct net_addr *dst, uint8_t proto, struct pkt *p) {
    uint32_t plen = p->len;
    if (plen > 0xffff) {
        pkt_free(p);
        return -KEMSGSIZE;
    }
    uint8_t *h = pkt_push(p, IPV6_HLEN);
    if (!h) {
        pkt_free(p);
        return -KENOBUFS;
    }
    net_put32(h, 6u << 28);
    net_put16(h + 4, (uint16_t)plen);
    h[6] = proto;
    h[7] = IPV6_DEFAULT_HOP_LIMIT;
    if (src && !ip6_is_unspecified(src->v6)) memcpy(h + 8, src->v6, 16);
    else memcpy(h + 8, dst->v6, 16);
    memcpy(h + 24, dst->v6, 16);
    return lo6_enqueue(p);
}

/* ---- output hooks ---- */
static int inet_output(struct pkt *p, const struct net_addr *src, const struct net_addr *dst, uint8_t proto,
                       struct netif *nif) {
    if (!dst) {
        pkt_free(p);
        return -KEINVAL;
    }
    if (dst->family == NET_AF_INET)
        return nif ? ipv4_output_if(nif, src, dst, proto, p) : ipv4_output(src, dst, proto, p);
    if (dst->family == NET_AF_INET6) {
        if (inet_addr_is_local(dst)) return lo6_output(src, dst, proto, p);
        const uint8_t *s = (src && src->family == NET_AF_INET6 && !ip6_is_unspecified(src->v6)) ? src->v6 : NULL;
        return ipv6_output(nif, s, dst->v6, proto, 0, p);
    }
    pkt_free(p);
    return -KEAFNOSUPPORT;
}

static int udp_out(struct pkt *p, const struct net_addr *src, const struct net_addr *dst, uint8_t proto,
                   struct netif *nif) {
    return inet_output(p, src, dst, proto, nif);
}

static int tcp_out(const struct net_addr *src, const struct net_addr *dst, struct pkt *p) {
    return inet_output(p, src, dst, IPPROTO_TCP, NULL);
}

static const struct udp_ip_ops udp_ops = {.output = udp_out, .select_src = inet_select_src};

/* ---- IPv6 input adapters ---- */
static void v6_to_addrs(const struct ipv6_rx_info *info, struct net_addr *src, struct net_addr *dst) {
    memset(src, 0, sizeof(*src));
    memset(dst, 0, sizeof(*dst));
    src->family = dst->family = NET_AF_INET6;
    memcpy(src->v6, info->src, 16);
    memcpy(dst->v6, info->dst, 16);
}

static void udp6_in(struct pkt *p, const struct ipv6_rx_info *info) {
    struct net_addr s, d;
    v6_to_addrs(info, &s, &d);
    udp_input(p, &s, &d);
}

static void tcp6_in(struct pkt *p, const struct ipv6_rx_info *info) {
    struct net_addr s, d;
    v6_to_addrs(info, &s, &d);
    tcp_input(p, &s, &d);
}

/* Wires the transports to the IP layers (once). */
void inet_init(void) {
    static bool done;
    if (done) return;
    done = true;
    udp_init();
    udp_set_ip_ops(&udp_ops);
    tcp_ip_output = tcp_out;
    tcp_init();
    ip_register_protocol(IP_PROTO_UDP, udp_input);
    ip_register_protocol(IP_PROTO_TCP, tcp_input);
    if (ipv6_register_protocol(IPV6_NH_UDP, udp6_in) < 0) pr_err("inet: UDP over IPv6 not registered\n");
    if (ipv6_register_protocol(IPV6_NH_TCP, tcp6_in) < 0) pr_err("inet: TCP over IPv6 not registered\n");
    memcpy(lo6_netif.name, "lo6", 4);
    lo6_netif.mtu = 16384;
    lo6_netif.flags = NETIF_UP | NETIF_LOOPBACK;
    lo6_netif.ops = &lo6_ops;
    if (netif_register(&lo6_netif) < 0) pr_err("inet: lo6 not registered: no IPv6 to ourselves\n");
}
