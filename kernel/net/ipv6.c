/* ipv6.c: IPv6 input and output per RFC 8200 (header §3, extension headers §4 with the
 * option actions of §4.2, hop-by-hop only first §4.1, routing header §4.4, fragment header
 * §4.5 — reassembly is not implemented: fragments other than atomic ones (RFC 6946) are
 * dropped and counted), upper-layer checksums §8.1, and address helpers per RFC 4291 / 5952.
 * Our-address filtering accepts our unicast addresses, all-nodes ff02::1 and our
 * solicited-node groups. Output chooses the interface, source address (RFC 6724) and next hop
 * (RFC 4861 §5.2: on-link prefixes, then default routers; see ipv6_route and ndp_route).
 * Datagrams to one of our own addresses (::1, or any interface's) go out through the loopback
 * interface "lo" with a zero MAC, as IPv4's do, and come back through ipv6_input, the only
 * place where ::1 (RFC 4291 §2.5.3: never on a link) is accepted. */
#include "net_ipv6.h"
#include "kstring.h"
#ifndef HOST_TEST
#include "time.h"
#endif

struct ipv6_stats ipv6_stats;
#ifdef HOST_TEST
static uint64_t ipv6_zero_clock(void) { return 0; }
uint64_t (*ipv6_clock)(void) = ipv6_zero_clock;
#else
uint64_t (*ipv6_clock)(void) = time_ns;
#endif

static ipv6_handler_t handlers[256];

/* ---- address helpers ---- */
void ip6_solicited_node(const uint8_t addr[16], uint8_t out[16]) {
    static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    memcpy(out, pfx, 13);
    memcpy(out + 13, addr + 13, 3);
}

void ip6_multicast_mac(const uint8_t addr[16], uint8_t mac[6]) {
    mac[0] = 0x33;
    mac[1] = 0x33;
    memcpy(mac + 2, addr + 12, 4);
}

void ip6_eui64(const uint8_t mac[6], uint8_t iid[8]) {
    iid[0] = mac[0] ^ 0x02;  /* invert the universal/local bit */
    iid[1] = mac[1];
    iid[2] = mac[2];
    iid[3] = 0xff;
    iid[4] = 0xfe;
    iid[5] = mac[3];
    iid[6] = mac[4];
    iid[7] = mac[5];
}

void ip6_linklocal_from_mac(const uint8_t mac[6], uint8_t out[16]) {
    memset(out, 0, 8);
    out[0] = 0xfe;
    out[1] = 0x80;
    ip6_eui64(mac, out + 8);
}

char *ip6_format(const uint8_t a[16], char *buf) {
    static const char hex[] = "0123456789abcdef";
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {  /* longest run of zero groups, at least 2 (RFC 5952 §4.2) */
        if (a[2 * i] || a[2 * i + 1]) { i++; continue; }
        int j = i;
        while (j < 8 && !a[2 * j] && !a[2 * j + 1]) j++;
        if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
        i = j;
    }
    char *o = buf;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            if (i == 0) *o++ = ':';
            i += best_len - 1;
            continue;
        }
        uint16_t g = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
        bool started = false;
        for (int s = 12; s >= 0; s -= 4) {
            unsigned d = (g >> s) & 0xf;
            if (d || started || s == 0) { *o++ = hex[d]; started = true; }
        }
        if (i != 7) *o++ = ':';
    }
    *o = '\0';
    return buf;
}

/* ---- filtering ---- */
bool ipv6_is_our_unicast(const struct netif *nif, const uint8_t addr[16]) {
    return (nif->ip6_ll_valid && ip6_equal(addr, nif->ip6_ll)) ||
           (nif->ip6_global_valid && ip6_equal(addr, nif->ip6_global));
}

/* What one walk over the interfaces finds: the interface that holds addr (lo only for ::1),
 * the loopback interface, and the first non-loopback interface with IPv6 up. */
struct if_scan { const uint8_t *addr; struct netif *owner, *lo, *first; };
static void if_scan_fn(struct netif *nif, void *ctx) {
    struct if_scan *c = ctx;
    bool loop = nif->flags & NETIF_LOOPBACK;
    if (c->addr && !c->owner && ipv6_is_our_unicast(nif, c->addr)) c->owner = nif;
    if (!c->lo && loop) c->lo = nif;
    if (!c->first && !loop && (nif->flags & NETIF_UP) && nif->ip6_ll_valid) c->first = nif;
}

static struct if_scan scan_ifs(const uint8_t *addr) {
    struct if_scan c = {addr, NULL, NULL, NULL};
    netif_for_each(if_scan_fn, &c);
    return c;
}

bool ipv6_is_local_addr(const uint8_t addr[16]) {
    return ip6_is_loopback(addr) || scan_ifs(addr).owner != NULL;
}

bool ipv6_accepts_multicast(const struct netif *nif, const uint8_t addr[16]) {
    static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
    if (ip6_equal(addr, all_nodes)) return true;
    /* solicited-node: ff02::1:ff00:0/104 matching one of our addresses (or the address
     * being tested by DAD, which shares the MAC-derived low 24 bits) */
    uint8_t sn[16];
    ip6_solicited_node(nif->ip6_ll, sn);
    if (ip6_equal(addr, sn)) return true;
    if (nif->ip6_global_valid) {
        ip6_solicited_node(nif->ip6_global, sn);
        if (ip6_equal(addr, sn)) return true;
    }
    return false;
}

uint16_t ipv6_upper_csum(const uint8_t src[16], const uint8_t dst[16], uint8_t nh, const void *data,
                         uint32_t len) {
    struct net_addr s = {.family = NET_AF_INET6}, d = {.family = NET_AF_INET6};
    memcpy(s.v6, src, 16);
    memcpy(d.v6, dst, 16);
    uint32_t sum = net_csum_pseudo(&s, &d, nh, len);
    return net_csum_fold(net_csum_add(sum, data, len));
}

int ipv6_register_protocol(uint8_t next_header, ipv6_handler_t handler) {
    if (!handler) return -KEINVAL;
    if (handlers[next_header] && handlers[next_header] != handler) return -KEEXIST;
    handlers[next_header] = handler;
    return 0;
}

/* Walks the options of a hop-by-hop or destination options header (RFC 8200 §4.2).
 * Returns 0 to go on, -1 to drop silently, or 1 with *ptr set to send a parameter problem
 * (code 2) about the option at that offset. */
static int walk_options(const uint8_t *h, uint32_t hl, bool dst_multicast, uint32_t *ptr) {
    for (uint32_t i = 2; i < hl;) {
        uint8_t type = h[i];
        if (type == 0) { i++; continue; }  /* Pad1 */
        if (i + 2 > hl || i + 2 + h[i + 1] > hl) return -1;  /* option overruns the header */
        if (type != 1) {  /* not PadN: we recognise no other option */
            switch (type >> 6) {
            case 0: break;
            case 1: return -1;
            case 2: *ptr = i; return 1;
            default: if (dst_multicast) return -1; *ptr = i; return 1;
            }
        }
        i += 2u + h[i + 1];
    }
    return 0;
}

void ipv6_input(struct pkt *p) {
    ipv6_stats.rx_packets++;
    struct netif *nif = p->netif;
    if (!nif || p->len < IPV6_HLEN) { ipv6_stats.rx_truncated++; goto drop; }
    const uint8_t *h = p->data;
    if ((h[0] >> 4) != 6) { ipv6_stats.rx_bad_version++; goto drop; }
    uint32_t plen = net_get16(h + 4);
    if (IPV6_HLEN + plen > p->len) { ipv6_stats.rx_bad_length++; goto drop; }
    pkt_trim(p, IPV6_HLEN + plen);  /* Ethernet padding */

    struct ipv6_rx_info info;
    info.nif = nif;
    memcpy(info.src, h + 8, 16);
    memcpy(info.dst, h + 24, 16);
    info.hop_limit = h[7];
    info.l3_offset = (uint16_t)(p->data - p->head);
    p->l3_offset = info.l3_offset;
    /* RFC 4291 §2.7: multicast never as source; loopback never on a link */
    bool loop = nif->flags & NETIF_LOOPBACK;
    if (ip6_is_multicast(info.src) || (!loop && (ip6_is_loopback(info.src) || ip6_is_loopback(info.dst)))) {
        ipv6_stats.rx_bad_src++;
        goto drop;
    }
    /* on lo: anything sent to one of our addresses (ipv6_output put it there) */
    bool mc = ip6_is_multicast(info.dst);
    if (loop ? mc || !ipv6_is_local_addr(info.dst)
             : mc ? !ipv6_accepts_multicast(nif, info.dst) : !ipv6_is_our_unicast(nif, info.dst)) {
        ipv6_stats.rx_not_ours++;
        goto drop;
    }

    uint8_t nh = h[6];
    uint32_t off = IPV6_HLEN, nh_field = 6, total = p->len;
    for (int n = 0;; n++) {
        if (nh != IPV6_NH_HOPOPTS && nh != IPV6_NH_ROUTING && nh != IPV6_NH_DSTOPTS && nh != IPV6_NH_FRAGMENT)
            break;
        if (n >= IPV6_MAX_EXT_HDRS) { ipv6_stats.rx_bad_ext++; goto drop; }
        if (nh == IPV6_NH_HOPOPTS && n != 0) {  /* §4.1: only right after the IPv6 header */
            ipv6_stats.rx_bad_ext++;
            icmpv6_send_error(p, &info, ICMPV6_PARAM_PROBLEM, 1, nh_field);
            goto drop;
        }
        if (off + 8 > total) { ipv6_stats.rx_bad_ext++; goto drop; }
        const uint8_t *e = h + off;
        uint32_t hl = nh == IPV6_NH_FRAGMENT ? 8u : (e[1] + 1u) * 8u;
        if (off + hl > total) { ipv6_stats.rx_bad_ext++; goto drop; }
        if (nh == IPV6_NH_HOPOPTS || nh == IPV6_NH_DSTOPTS) {
            uint32_t ptr = 0;
            int r = walk_options(e, hl, mc, &ptr);
            if (r < 0) { ipv6_stats.rx_bad_ext++; goto drop; }
            if (r > 0) {
                ipv6_stats.rx_bad_ext++;
                icmpv6_send_error(p, &info, ICMPV6_PARAM_PROBLEM, 2, off + ptr);
                goto drop;
            }
        } else if (nh == IPV6_NH_ROUTING) {
            if (e[3] != 0) {  /* segments left: no routing type is supported (RFC 5095 too) */
                ipv6_stats.rx_bad_ext++;
                icmpv6_send_error(p, &info, ICMPV6_PARAM_PROBLEM, 0, off + 2);
                goto drop;
            }
        } else {  /* fragment: offset 0 and M clear = atomic fragment (RFC 6946) */
            if ((net_get16(e + 2) & 0xfff9) != 0) { ipv6_stats.rx_frag_dropped++; goto drop; }
        }
        nh_field = off;
        nh = e[0];
        off += hl;
    }
    if (nh == IPV6_NH_NONE) goto drop;
    info.next_header = nh;
    ipv6_handler_t fn = handlers[nh];
    if (!fn) {
        ipv6_stats.rx_no_proto++;
        icmpv6_send_error(p, &info, ICMPV6_PARAM_PROBLEM, 1, nh_field);
        goto drop;
    }
    pkt_pull(p, off);
    p->l4_offset = (uint16_t)(p->data - p->head);
    ipv6_stats.rx_delivered++;
    fn(p, &info);
    return;
drop:
    pkt_free(p);
}

/* ---- output ---- */
int ipv6_route(const uint8_t dst[16], const uint8_t *src, struct netif **nifp, uint8_t src_out[16]) {
    struct netif *nif = *nifp;
    bool mc = ip6_is_multicast(dst);
    struct if_scan c = scan_ifs(mc ? NULL : dst);
    bool local = (nif && (nif->flags & NETIF_LOOPBACK)) || (!mc && (ip6_is_loopback(dst) || c.owner));
    if (local) {
        if (!c.lo) return -KENETUNREACH;
        *nifp = c.lo;
        memcpy(src_out, src ? src : dst, 16);   /* talking to ourselves: the address itself */
        return 0;
    }
    bool link_scope = ip6_is_linklocal(dst) || (mc && (dst[1] & 0x0f) <= 2);
    if (!nif && src && !ip6_is_unspecified(src)) {  /* a bound source pins its interface */
        struct netif *owner = scan_ifs(src).owner;
        if (owner && !(owner->flags & NETIF_LOOPBACK)) nif = owner;
    }
    if (!nif && !mc && !ip6_is_linklocal(dst)) nif = ndp_route(dst, ipv6_clock());
    else if (!nif) nif = c.first;   /* link-local or multicast without a scope: the first */
    if (!nif || !nif->ip6_ll_valid) return -KENETUNREACH;
    *nifp = nif;
    /* RFC 6724 §5 (rules 1, 2): the given source; else the address of the outgoing interface
     * with the destination's scope */
    if (src) memcpy(src_out, src, 16);
    else memcpy(src_out, link_scope || !nif->ip6_global_valid ? nif->ip6_ll : nif->ip6_global, 16);
    return 0;
}

int ipv6_output(struct netif *nif, const uint8_t *src, const uint8_t dst[16], uint8_t next_header,
                uint8_t hop_limit, struct pkt *p) {
    int err;
    uint8_t s[16];
    err = ipv6_route(dst, src, &nif, s);
    if (err < 0) { ipv6_stats.tx_no_route++; goto fail; }
    bool local = nif->flags & NETIF_LOOPBACK;
    if (p->len + IPV6_HLEN > nif->mtu || p->len > 0xffff) { ipv6_stats.tx_too_big++; err = -KEMSGSIZE; goto fail; }

    /* upper-layer checksum (RFC 8200 §8.1): ipv6_output fills it for ICMPv6, UDP, TCP */
    uint32_t co = next_header == IPV6_NH_ICMPV6 ? 2 : next_header == IPV6_NH_UDP ? 6
                : next_header == IPV6_NH_TCP ? 16 : 0xffffffffu;
    if (co != 0xffffffffu && p->len >= co + 2) {
        net_put16(p->data + co, 0);
        uint16_t c = ipv6_upper_csum(s, dst, next_header, p->data, p->len);
        if (c == 0 && next_header == IPV6_NH_UDP) c = 0xffff;
        net_put16(p->data + co, c);
    }
    uint32_t plen = p->len;
    uint8_t *h = pkt_push(p, IPV6_HLEN);
    if (!h) { ipv6_stats.tx_no_mem++; err = -KENOBUFS; goto fail; }
    net_put32(h, 6u << 28);
    net_put16(h + 4, (uint16_t)plen);
    h[6] = next_header;
    h[7] = hop_limit ? hop_limit : IPV6_DEFAULT_HOP_LIMIT;
    memcpy(h + 8, s, 16);
    memcpy(h + 24, dst, 16);
    p->netif = nif;
    ipv6_stats.tx_packets++;

    uint8_t mac[6];
    if (local) {
        static const uint8_t zero_mac[6];
        return eth_output(nif, p, zero_mac, ETH_P_IPV6);
    }
    if (ip6_is_multicast(dst)) {
        ip6_multicast_mac(dst, mac);
        return eth_output(nif, p, mac, ETH_P_IPV6);
    }
    uint64_t now = ipv6_clock();
    uint8_t nexthop[16];
    err = ndp_next_hop(nif, dst, nexthop, now);
    if (err < 0) { ipv6_stats.tx_no_route++; goto fail; }
    int r = ndp_resolve(nif, nexthop, p, mac, now);
    if (r < 0) return r;
    if (r == 0) return 0;
    return eth_output(nif, p, mac, ETH_P_IPV6);
fail:
    pkt_free(p);
    return err;
}

/* ---- setup ---- */
static void nd_timer_fn(uint64_t now_ns) { ndp_timer(now_ns); }
static struct net_timer_hook nd_hook = {nd_timer_fn, 100, 0, NULL};
static bool ipv6_ready;

static void up_each(struct netif *nif, void *ctx) {
    (void)ctx;
    if ((nif->flags & NETIF_UP) && !(nif->flags & NETIF_LOOPBACK)) ipv6_netif_up(nif);
}

void ipv6_netif_up(struct netif *nif) { ndp_netif_up(nif, ipv6_clock()); }

void ipv6_init(void) {
    if (ipv6_ready) return;
    ipv6_ready = true;
    ipv6_register_protocol(IPV6_NH_ICMPV6, icmpv6_input);
    net_register_timer(&nd_hook);
    netif_for_each(up_each, NULL);
}
