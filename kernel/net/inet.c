/* inet.c: the glue between the transports (UDP, RFC 768; TCP, RFC 9293) and the IP layers
 * (IPv4, RFC 791; IPv6, RFC 8200): protocol registration, output hooks and source-address
 * selection (RFC 1122 §3.3.4.3 for IPv4; for IPv6 ipv6_route's choice per RFC 4861 §5.2 and
 * RFC 6724). Datagrams to one of our own addresses of either family go through the loopback
 * interface "lo" (ipv4.c and ipv6.c route them there) and come back through net_poller like
 * every other receive. */
#include "net.h"
#include "net_ipv4.h"
#include "net_ipv6.h"
#include "net_udp.h"
#include "net_tcp.h"
#include "net_socket.h"
#include "kstring.h"
#include "printk.h"

/* ---- source selection ---- */
/* True when addr is one of this host's addresses. */
bool inet_addr_is_local(const struct net_addr *addr) {
    if (!addr) return false;
    if (addr->family == NET_AF_INET) return addr->v4[0] == 127 || ip4_is_local(addr->v4);
    return addr->family == NET_AF_INET6 && ipv6_is_local_addr(addr->v6);
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
    return ipv6_route(dst->v6, NULL, &nif, src->v6);   /* the same choice as ipv6_output's */
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
}
