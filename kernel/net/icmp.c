/* icmp.c: the Internet Control Message Protocol (RFC 792) with the host rules of RFC 1122
 * §3.2.2: echo replies (not to broadcast or multicast requests), echo requests with reply
 * hooks (ping), destination unreachable for unknown protocols and closed UDP ports, never
 * sent about an ICMP error, a broadcast, a non-initial fragment or an invalid source, and
 * rate limited (ICMP_ERRORS_PER_SEC per second, RFC 1812 §4.3.2.8). */
#include "net_ipv4.h"
#include "kstring.h"
#include "spinlock.h"

#define ICMP_HLEN 8

struct icmp_stats icmp_stats;

static struct { icmp_echo_hook fn; void *ctx; } echo_hooks[ICMP_ECHO_HOOKS];
static spinlock_t icmp_lock = SPINLOCK_INIT("icmp");
static uint64_t err_window_ns;
static uint32_t err_count;

int icmp_register_echo_hook(icmp_echo_hook fn, void *ctx) {
    int ret = -KENOSPC;
    uint64_t fl = spin_lock_irqsave(&icmp_lock);
    for (int i = 0; i < ICMP_ECHO_HOOKS; i++)
        if (!echo_hooks[i].fn) {
            echo_hooks[i].fn = fn;
            echo_hooks[i].ctx = ctx;
            ret = 0;
            break;
        }
    spin_unlock_irqrestore(&icmp_lock, fl);
    return ret;
}

void icmp_unregister_echo_hook(icmp_echo_hook fn, void *ctx) {
    uint64_t fl = spin_lock_irqsave(&icmp_lock);
    for (int i = 0; i < ICMP_ECHO_HOOKS; i++)
        if (echo_hooks[i].fn == fn && echo_hooks[i].ctx == ctx) echo_hooks[i].fn = NULL;
    spin_unlock_irqrestore(&icmp_lock, fl);
}

static void icmp_set_csum(uint8_t *h, size_t len) {
    net_put16(h + 2, 0);
    net_put16(h + 2, net_csum_fold(net_csum_add(0, h, len)));
}

void icmp_input(struct pkt *p, const struct net_addr *src, const struct net_addr *dst) {
    icmp_stats.rx_packets++;
    uint8_t *h = p->data;
    if (p->len < ICMP_HLEN || net_csum_fold(net_csum_add(0, h, p->len)) != 0) {
        icmp_stats.rx_bad++;
        pkt_free(p);
        return;
    }
    switch (h[0]) {
    case ICMP_ECHO_REQUEST:
        icmp_stats.rx_echo_requests++;
        if (!ip4_is_local(dst->v4)) break;     /* broadcast or multicast: stay silent */
        h[0] = ICMP_ECHO_REPLY;
        h[1] = 0;
        icmp_set_csum(h, p->len);
        icmp_stats.tx_echo_replies++;
        ipv4_output(dst, src, IP_PROTO_ICMP, p);  /* the same buffer goes back */
        return;
    case ICMP_ECHO_REPLY: {
        icmp_stats.rx_echo_replies++;
        uint16_t id = net_get16(h + 4), seq = net_get16(h + 6);
        for (int i = 0; i < ICMP_ECHO_HOOKS; i++) {
            uint64_t fl = spin_lock_irqsave(&icmp_lock);
            icmp_echo_hook fn = echo_hooks[i].fn;
            void *ctx = echo_hooks[i].ctx;
            spin_unlock_irqrestore(&icmp_lock, fl);
            if (fn) fn(src, id, seq, h + ICMP_HLEN, p->len - ICMP_HLEN, ctx);
        }
        break;
    }
    case ICMP_DEST_UNREACH:
        icmp_stats.rx_unreach++;
        break;
    default:
        break;
    }
    pkt_free(p);
}

int icmp_send_echo(const struct net_addr *dst, uint16_t id, uint16_t seq, const void *data, size_t len) {
    if (!dst || (len && !data)) return -KEINVAL;
    if (len > 65535 - IP4_HLEN - ICMP_HLEN) return -KEMSGSIZE;
    struct pkt *p = pkt_alloc((uint32_t)(ICMP_HLEN + len));
    if (!p) return -KENOMEM;
    uint8_t *h = pkt_put(p, (uint32_t)(ICMP_HLEN + len));
    h[0] = ICMP_ECHO_REQUEST;
    h[1] = 0;
    net_put16(h + 4, id);
    net_put16(h + 6, seq);
    if (len) memcpy(h + ICMP_HLEN, data, len);
    icmp_set_csum(h, ICMP_HLEN + len);
    icmp_stats.tx_echo_requests++;
    return ipv4_output(NULL, dst, IP_PROTO_ICMP, p);
}

static bool icmp_is_query(uint8_t type) { return type == 0 || type == 8 || (type >= 13 && type <= 18); }

void icmp_send_unreachable(const struct pkt *orig, uint8_t code) {
    if (!orig || !orig->l3_offset) return;
    const uint8_t *ip = orig->head + orig->l3_offset;
    const uint8_t *end = orig->data + orig->len;
    if (end < ip + IP4_HLEN) return;
    uint32_t hlen = (ip[0] & 0xfu) * 4, avail = (uint32_t)(end - ip);
    if (hlen < IP4_HLEN || hlen > avail) return;
    if (net_get16(ip + 6) & 0x1fff) return;            /* not the first fragment */
    if (ip[12] >= 224 || (ip[12] | ip[13] | ip[14] | ip[15]) == 0) return;  /* bad source */
    if (!ip4_is_local(ip + 16)) return;               /* sent to a broadcast/multicast */
    if (ip[9] == IP_PROTO_ICMP && (avail < hlen + 1 || !icmp_is_query(ip[hlen]))) return;
    uint64_t now = ip4_clock ? ip4_clock() : 0;
    uint64_t fl = spin_lock_irqsave(&icmp_lock);
    if (now - err_window_ns >= 1000000000ull) {
        err_window_ns = now;
        err_count = 0;
    }
    bool allowed = err_count < ICMP_ERRORS_PER_SEC;
    if (allowed) err_count++;
    spin_unlock_irqrestore(&icmp_lock, fl);
    if (!allowed) {
        icmp_stats.tx_rate_limited++;
        return;
    }
    uint32_t quote = MIN(avail, hlen + 8);             /* RFC 792: header + 64 bits */
    struct pkt *p = pkt_alloc(ICMP_HLEN + quote);
    if (!p) return;
    uint8_t *h = pkt_put(p, ICMP_HLEN + quote);
    memset(h, 0, ICMP_HLEN);
    h[0] = ICMP_DEST_UNREACH;
    h[1] = code;
    memcpy(h + ICMP_HLEN, ip, quote);
    icmp_set_csum(h, ICMP_HLEN + quote);
    struct net_addr src = {0}, dst = {0};
    src.family = dst.family = NET_AF_INET;
    memcpy(src.v4, ip + 16, 4);
    memcpy(dst.v4, ip + 12, 4);
    icmp_stats.tx_unreach++;
    ipv4_output(&src, &dst, IP_PROTO_ICMP, p);
}
