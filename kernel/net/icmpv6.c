/* icmpv6.c: ICMPv6 per RFC 4443: checksum with the IPv6 pseudo header (§2.3), echo request
 * and reply (§4), error messages (§3) with the rules of §2.4 (never about errors, multicast
 * destinations or multicast/unspecified sources; as much of the invoking packet as fits in
 * the minimum MTU; rate limited with a token bucket, §2.4 f). Neighbour discovery messages
 * go to ndp.c. */
#include "net_ipv6.h"
#include "kstring.h"

void (*icmpv6_echo_reply_hook)(const struct ipv6_rx_info *info, uint16_t id, uint16_t seq,
                               const uint8_t *data, uint32_t len);

#define ECHO_SEEN 8
static struct { uint16_t id, seq; uint8_t src[16]; bool used; } echo_seen[ECHO_SEEN];
static unsigned echo_next;

/* error rate limit: ERR_BURST tokens, one more every ERR_INTERVAL_NS */
#define ERR_BURST 10
#define ERR_INTERVAL_NS 100000000ull
static uint64_t err_tokens = ERR_BURST, err_last_ns;

bool icmpv6_echo_reply_seen(uint16_t id, uint16_t seq, uint8_t *src) {
    for (int i = 0; i < ECHO_SEEN; i++) {
        if (echo_seen[i].used && echo_seen[i].id == id && echo_seen[i].seq == seq) {
            if (src) memcpy(src, echo_seen[i].src, 16);
            return true;
        }
    }
    return false;
}

void icmpv6_input(struct pkt *p, const struct ipv6_rx_info *info) {
    ipv6_stats.icmp_rx++;
    if (p->len < 4) { ipv6_stats.icmp_bad++; goto drop; }
    if (ipv6_upper_csum(info->src, info->dst, IPV6_NH_ICMPV6, p->data, p->len) != 0) {
        ipv6_stats.icmp_bad_csum++;
        goto drop;
    }
    uint8_t type = p->data[0];
    switch (type) {
    case ICMPV6_ECHO_REQUEST: {
        if (p->len < 8 || ip6_is_unspecified(info->src)) { ipv6_stats.icmp_bad++; goto drop; }
        /* answer in place: the request's buffer has the room of its own headers in front */
        uint8_t src[16], dst[16];
        memcpy(dst, info->src, 16);
        memcpy(src, info->dst, 16);
        p->data[0] = ICMPV6_ECHO_REPLY;
        ipv6_stats.icmp_echo_replies_sent++;
        /* a reply to a multicast request comes from one of our unicast addresses (§4.2) */
        ipv6_output(info->nif, ip6_is_multicast(src) ? NULL : src, dst, IPV6_NH_ICMPV6, 0, p);
        return;
    }
    case ICMPV6_ECHO_REPLY: {
        if (p->len < 8) { ipv6_stats.icmp_bad++; goto drop; }
        uint16_t id = net_get16(p->data + 4), seq = net_get16(p->data + 6);
        unsigned i = echo_next++ % ECHO_SEEN;
        echo_seen[i].id = id;
        echo_seen[i].seq = seq;
        memcpy(echo_seen[i].src, info->src, 16);
        echo_seen[i].used = true;
        if (icmpv6_echo_reply_hook) icmpv6_echo_reply_hook(info, id, seq, p->data + 8, p->len - 8);
        break;
    }
    case ICMPV6_RS: case ICMPV6_RA: case ICMPV6_NS: case ICMPV6_NA: case ICMPV6_REDIRECT:
        ndp_input(info, p->data, p->len, ipv6_clock());
        break;
    default:
        /* errors (types < 128) would be passed to the transport named in the invoking
         * packet; unknown informational messages are dropped (§2.4 b) */
        break;
    }
drop:
    pkt_free(p);
}

void icmpv6_send_error(const struct pkt *p, const struct ipv6_rx_info *info, uint8_t type, uint8_t code,
                       uint32_t param) {
    const uint8_t *ip = p->head + info->l3_offset;
    uint32_t avail = (uint32_t)(p->data + p->len - ip);
    if (ip6_is_unspecified(info->src) || ip6_is_multicast(info->src)) return;
    if (ip6_is_multicast(info->dst) && !(type == ICMPV6_PARAM_PROBLEM && code == 2)) return;
    /* never about an ICMPv6 error message: only when the datagram's own next header is ICMPv6
     * (an error further down an extension chain is detected by the receiver's rules anyway) */
    if (avail > IPV6_HLEN && ip[6] == IPV6_NH_ICMPV6 && ip[IPV6_HLEN] < 128) return;
    uint64_t now = ipv6_clock();
    uint64_t refill = (now - err_last_ns) / ERR_INTERVAL_NS;
    if (refill) {
        err_tokens = err_tokens + refill > ERR_BURST ? ERR_BURST : err_tokens + refill;
        err_last_ns = now;
    }
    if (err_tokens == 0) return;
    err_tokens--;
    uint32_t copy = avail;
    if (copy > IPV6_MIN_MTU - IPV6_HLEN - 8) copy = IPV6_MIN_MTU - IPV6_HLEN - 8;
    struct pkt *e = pkt_alloc(8 + copy);
    if (!e) return;
    uint8_t *m = pkt_put(e, 8 + copy);
    m[0] = type;
    m[1] = code;
    net_put16(m + 2, 0);
    net_put32(m + 4, param);
    memcpy(m + 8, ip, copy);
    ipv6_stats.icmp_errors_sent++;
    ipv6_output(info->nif, ip6_is_multicast(info->dst) ? NULL : info->dst, info->src, IPV6_NH_ICMPV6, 0, e);
}

int icmpv6_send_echo(const uint8_t dst[16], uint16_t id, uint16_t seq, const void *data, uint32_t len) {
    if (len > 0xffff - 8) return -KEMSGSIZE;
    struct pkt *p = pkt_alloc(8 + len);
    if (!p) return -KENOMEM;
    uint8_t *m = pkt_put(p, 8 + len);
    m[0] = ICMPV6_ECHO_REQUEST;
    m[1] = 0;
    net_put16(m + 2, 0);
    net_put16(m + 4, id);
    net_put16(m + 6, seq);
    if (len) memcpy(m + 8, data, len);
    return ipv6_output(NULL, NULL, dst, IPV6_NH_ICMPV6, 0, p);
}
