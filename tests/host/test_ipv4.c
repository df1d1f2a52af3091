/* test_ipv4.c: host unit tests for kernel/net/ipv4.c and icmp.c (RFC 791, RFC 815, RFC 792,
 * RFC 1122): header validation, TTL, routing (longest prefix, default gateway), reassembly
 * (in order, reversed, duplicate, overlapping, timeout, > 64 KiB), ICMP echo reply bytes,
 * protocol unreachable with its rate limit, and a fuzzer of 100,000 random and mutated frames
 * with a leak check (live packet count). The first part (stubs) is shared with test_arp.c,
 * which includes this file with NET_STUBS_ONLY defined. */
#include "host_stubs.h"
#include <string.h>
#include "net_ipv4.h"

/* ---- stubs of the network core and the kernel ---- */
uint64_t spin_lock_irqsave(spinlock_t *l) { (void)l; return 0; }
void spin_unlock_irqrestore(spinlock_t *l, uint64_t f) { (void)l; (void)f; }

static long live_pkts;
struct pkt *pkt_alloc(uint32_t room) {
    if (room > 66560) return NULL;
    struct pkt *p = calloc(1, sizeof(*p) + PKT_HEADROOM + room);
    p->head = (uint8_t *)(p + 1);
    p->size = PKT_HEADROOM + room;
    p->data = p->head + PKT_HEADROOM;
    live_pkts++;
    return p;
}
void pkt_free(struct pkt *p) {
    if (!p) return;
    live_pkts--;
    free(p);
}

struct sent_frame { struct netif *nif; uint8_t dst[6]; uint16_t type; uint32_t len; uint8_t data[2048]; };
#define SENT_MAX 64
static struct sent_frame sent[SENT_MAX];
static int nsent;
int eth_output(struct netif *nif, struct pkt *p, const uint8_t dst_mac[6], uint16_t ethertype) {
    if (nsent < SENT_MAX && p->len <= 2048) {
        struct sent_frame *s = &sent[nsent++];
        s->nif = nif;
        memcpy(s->dst, dst_mac, 6);
        s->type = ethertype;
        s->len = p->len;
        memcpy(s->data, p->data, p->len);
    }
    pkt_free(p);
    return 0;
}
void net_register_timer(struct net_timer_hook *h) { (void)h; }

static struct netif test_nif = {.name = "eth0", .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}, .mtu = 1500,
                                .flags = NETIF_UP};
static struct netif test_nif2 = {.name = "eth1", .mac = {0x52, 0x54, 0, 0xab, 0xcd, 0xef}, .mtu = 1500,
                                 .flags = NETIF_UP};
struct netif *netif_find(const char *name) {
    if (!strcmp(name, "eth0")) return &test_nif;
    if (!strcmp(name, "eth1")) return &test_nif2;
    return NULL;
}
void netif_for_each(void (*fn)(struct netif *nif, void *ctx), void *ctx) {
    fn(&test_nif, ctx);
    fn(&test_nif2, ctx);
}

#include "../../kernel/net/checksum.c"
#include "../../kernel/net/arp.c"
#include "../../kernel/net/ipv4.c"
#include "../../kernel/net/icmp.c"

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static const uint8_t OUR_IP[4] = {10, 0, 2, 15}, MASK[4] = {255, 255, 255, 0}, GW[4] = {10, 0, 2, 2};
static const uint8_t PEER_IP[4] = {10, 0, 2, 3};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 3}, GW_MAC[6] = {0x02, 0, 0, 0, 0, 2};

/* Resets every table and counter and configures eth0 as 10.0.2.15/24 gw 10.0.2.2. */
static int net_setup(void **state) {
    (void)state;
    arp_flush(NULL);
    for (int i = 0; i < IP4_REASM_MAX; i++) if (reasms[i].used) reasm_drop(&reasms[i]);
    memset(routes, 0, sizeof(routes));
    memset(&arp_stats, 0, sizeof(arp_stats));
    memset(&ip4_stats, 0, sizeof(ip4_stats));
    memset(&icmp_stats, 0, sizeof(icmp_stats));
    memset(ip_handlers, 0, sizeof(ip_handlers));
    memset(echo_hooks, 0, sizeof(echo_hooks));
    err_count = 0;
    fake_now = 1000000000000ull;
    err_window_ns = 0;
    ip4_clock = fake_clock;
    ip_register_protocol(IP_PROTO_ICMP, icmp_input);
    memset(test_nif2.ip4, 0, 4);
    ip4_configure(&test_nif, OUR_IP, MASK, GW);
    nsent = 0;
    return 0;
}
static int net_teardown(void **state) {
    (void)state;
    arp_flush(NULL);
    for (int i = 0; i < IP4_REASM_MAX; i++) if (reasms[i].used) reasm_drop(&reasms[i]);
    assert_int_equal(live_pkts, 0);
    return 0;
}

/* A received packet holding data[len] on nif (as after eth_input pulled the header). */
static struct pkt *rx_pkt(struct netif *nif, const void *data, uint32_t len) {
    struct pkt *p = pkt_alloc(len);
    memcpy(pkt_put(p, len), data, len);
    p->netif = nif;
    p->l3_offset = (uint16_t)(p->data - p->head);
    return p;
}

/* Builds an ARP packet (28 bytes). */
static void mk_arp(uint8_t *a, uint16_t op, const uint8_t sha[6], const uint8_t spa[4], const uint8_t tha[6],
                   const uint8_t tpa[4]) {
    net_put16(a, 1);
    net_put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    net_put16(a + 6, op);
    memcpy(a + 8, sha, 6);
    memcpy(a + 14, spa, 4);
    memcpy(a + 18, tha, 6);
    memcpy(a + 24, tpa, 4);
}

/* Teaches the cache ip -> mac through an ARP reply to a request of ours. */
static void learn(const uint8_t ip[4], const uint8_t mac[6]) {
    uint8_t a[28];
    mk_arp(a, 2, mac, ip, test_nif.mac, OUR_IP);
    uint8_t req[28];
    mk_arp(req, 1, mac, ip, (const uint8_t[6]){0}, OUR_IP);   /* a request for us: learned */
    arp_input(rx_pkt(&test_nif, req, 28));
    arp_input(rx_pkt(&test_nif, a, 28));
}

/* Builds an IPv4 header + payload into buf; returns the length. */
static uint32_t mk_ip(uint8_t *buf, const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint16_t id,
                      uint16_t frag, uint8_t ttl, const void *payload, uint32_t plen) {
    buf[0] = 0x45;
    buf[1] = 0;
    net_put16(buf + 2, (uint16_t)(20 + plen));
    net_put16(buf + 4, id);
    net_put16(buf + 6, frag);
    buf[8] = ttl;
    buf[9] = proto;
    net_put16(buf + 10, 0);
    memcpy(buf + 12, src, 4);
    memcpy(buf + 16, dst, 4);
    net_put16(buf + 10, net_csum_fold(net_csum_add(0, buf, 20)));
    if (plen) memcpy(buf + 20, payload, plen);
    return 20 + plen;
}

#ifndef NET_STUBS_ONLY
/* An ICMP echo request with payload "abcdefgh..." of plen bytes. */
static uint32_t mk_echo(uint8_t *icmp, uint16_t id, uint16_t seq, uint32_t plen) {
    icmp[0] = 8; icmp[1] = 0;
    net_put16(icmp + 2, 0);
    net_put16(icmp + 4, id);
    net_put16(icmp + 6, seq);
    for (uint32_t i = 0; i < plen; i++) icmp[8 + i] = (uint8_t)('a' + i % 26);
    net_put16(icmp + 2, net_csum_fold(net_csum_add(0, icmp, 8 + plen)));
    return 8 + plen;
}

static void test_echo_reply_exact(void **state) {
    (void)state;
    learn(PEER_IP, PEER_MAC);
    nsent = 0;
    uint8_t icmp[64], frame[128];
    uint32_t il = mk_echo(icmp, 0x1234, 7, 32);
    uint32_t fl = mk_ip(frame, PEER_IP, OUR_IP, 1, 0x4242, 0, 64, icmp, il);
    memset(frame + fl, 0xee, 6);                       /* Ethernet padding: must be cut */
    ipv4_input(rx_pkt(&test_nif, frame, fl + 6));
    assert_int_equal(nsent, 1);
    struct sent_frame *s = &sent[0];
    assert_memory_equal(s->dst, PEER_MAC, 6);
    assert_int_equal(s->type, ETH_P_IP);
    assert_int_equal(s->len, 20 + il);
    const uint8_t *h = s->data;
    assert_int_equal(h[0], 0x45);
    assert_int_equal(net_get16(h + 2), 20 + il);
    assert_int_equal(net_get16(h + 6), 0x4000);        /* DF, no fragment */
    assert_int_equal(h[8], 64);
    assert_int_equal(h[9], 1);
    assert_memory_equal(h + 12, OUR_IP, 4);
    assert_memory_equal(h + 16, PEER_IP, 4);
    assert_int_equal(net_csum_fold(net_csum_add(0, h, 20)), 0);
    /* ICMP: type 0, same id/seq/data, valid checksum; exactly the request but for type+csum */
    uint8_t expect[64];
    memcpy(expect, icmp, il);
    expect[0] = 0;
    net_put16(expect + 2, 0);
    net_put16(expect + 2, net_csum_fold(net_csum_add(0, expect, il)));
    assert_memory_equal(h + 20, expect, il);
    assert_int_equal(icmp_stats.tx_echo_replies, 1);
}

static void send_bad(uint8_t *frame, uint32_t len) { ipv4_input(rx_pkt(&test_nif, frame, len)); }

static void test_header_checks(void **state) {
    (void)state;
    learn(PEER_IP, PEER_MAC);
    nsent = 0;
    uint8_t icmp[64], f[128];
    uint32_t il = mk_echo(icmp, 1, 1, 8);
    uint32_t fl = mk_ip(f, PEER_IP, OUR_IP, 1, 1, 0, 64, icmp, il);
    f[10] ^= 0x55; send_bad(f, fl); f[10] ^= 0x55;
    assert_int_equal(ip4_stats.rx_bad_checksum, 1);
    uint8_t g[128];
    memcpy(g, f, fl); g[0] = 0x65; send_bad(g, fl);           /* version 6 */
    memcpy(g, f, fl); g[0] = 0x44; send_bad(g, fl);           /* IHL 4 */
    assert_int_equal(ip4_stats.rx_bad_header, 2);
    memcpy(g, f, fl); g[0] = 0x4f; send_bad(g, fl);           /* IHL 60 > frame */
    send_bad(f, 19);                                          /* shorter than a header */
    memcpy(g, f, fl); net_put16(g + 2, (uint16_t)(fl + 1));   /* total > frame */
    net_put16(g + 10, 0); net_put16(g + 10, net_csum_fold(net_csum_add(0, g, 20))); send_bad(g, fl);
    memcpy(g, f, fl); net_put16(g + 2, 10);                   /* total < IHL */
    net_put16(g + 10, 0); net_put16(g + 10, net_csum_fold(net_csum_add(0, g, 20))); send_bad(g, fl);
    assert_int_equal(ip4_stats.rx_truncated, 4);
    fl = mk_ip(g, PEER_IP, OUR_IP, 1, 1, 0, 0, icmp, il); send_bad(g, fl);     /* TTL 0 */
    assert_int_equal(ip4_stats.rx_ttl_zero, 1);
    fl = mk_ip(g, (const uint8_t[4]){255, 255, 255, 255}, OUR_IP, 1, 1, 0, 64, icmp, il); send_bad(g, fl);
    fl = mk_ip(g, (const uint8_t[4]){224, 0, 0, 1}, OUR_IP, 1, 1, 0, 64, icmp, il); send_bad(g, fl);
    assert_int_equal(ip4_stats.rx_bad_src, 2);
    fl = mk_ip(g, PEER_IP, (const uint8_t[4]){10, 0, 2, 99}, 1, 1, 0, 64, icmp, il); send_bad(g, fl);
    assert_int_equal(ip4_stats.rx_not_for_us, 1);
    assert_int_equal(nsent, 0);                                /* nothing answered */
    fl = mk_ip(g, PEER_IP, OUR_IP, 1, 1, 0, 1, icmp, il); send_bad(g, fl);     /* TTL 1: fine */
    assert_int_equal(nsent, 1);
    /* a broadcast echo request is not answered (RFC 1122 3.2.2.6) */
    fl = mk_ip(g, PEER_IP, (const uint8_t[4]){10, 0, 2, 255}, 1, 1, 0, 64, icmp, il); send_bad(g, fl);
    assert_int_equal(nsent, 1);
    /* bad ICMP checksum */
    memcpy(icmp + 8, "XXXX", 4);
    fl = mk_ip(g, PEER_IP, OUR_IP, 1, 1, 0, 64, icmp, il); send_bad(g, fl);
    assert_int_equal(icmp_stats.rx_bad, 1);
    assert_int_equal(nsent, 1);
}

static void test_routing(void **state) {
    (void)state;
    struct netif *nif;
    uint8_t nh[4];
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){10, 0, 2, 7}, &nif, nh), 0);
    assert_ptr_equal(nif, &test_nif);
    assert_memory_equal(nh, ((const uint8_t[4]){10, 0, 2, 7}), 4);     /* on-link */
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){8, 8, 8, 8}, &nif, nh), 0);
    assert_memory_equal(nh, GW, 4);                                      /* default gateway */
    /* longer prefixes win, whatever the insertion order */
    assert_int_equal(ip4_route_add((const uint8_t[4]){192, 168, 0, 0}, 16, (const uint8_t[4]){10, 0, 2, 5}, &test_nif), 0);
    assert_int_equal(ip4_route_add((const uint8_t[4]){192, 168, 1, 0}, 24, NULL, &test_nif2), 0);
    assert_int_equal(ip4_route_add((const uint8_t[4]){192, 168, 1, 128}, 25, (const uint8_t[4]){10, 0, 2, 6}, &test_nif), 0);
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){192, 168, 1, 9}, &nif, nh), 0);
    assert_ptr_equal(nif, &test_nif2);
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){192, 168, 1, 200}, &nif, nh), 0);
    assert_memory_equal(nh, ((const uint8_t[4]){10, 0, 2, 6}), 4);
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){192, 168, 7, 1}, &nif, nh), 0);
    assert_memory_equal(nh, ((const uint8_t[4]){10, 0, 2, 5}), 4);
    assert_int_equal(ip4_route_del((const uint8_t[4]){192, 168, 1, 0}, 24), 0);
    assert_int_equal(ip4_route_del((const uint8_t[4]){192, 168, 1, 0}, 24), -KENOENT);
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){192, 168, 1, 9}, &nif, nh), 0);
    assert_memory_equal(nh, ((const uint8_t[4]){10, 0, 2, 5}), 4);
    /* a host route (/32) */
    assert_int_equal(ip4_route_add((const uint8_t[4]){1, 2, 3, 4}, 32, NULL, &test_nif2), 0);
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){1, 2, 3, 4}, &nif, nh), 0);
    assert_ptr_equal(nif, &test_nif2);
    assert_int_equal(ip4_route_add(OUR_IP, 33, NULL, &test_nif), -KEINVAL);
    assert_int_equal(ip4_route_add(OUR_IP, 8, NULL, NULL), -KEINVAL);
    /* no default route: unreachable */
    ip4_route_del((const uint8_t[4]){0, 0, 0, 0}, 0);
    assert_int_equal(ip4_route_lookup((const uint8_t[4]){8, 8, 8, 8}, &nif, nh), -KENETUNREACH);
    struct pkt *p = pkt_alloc(10);
    pkt_put(p, 10);
    struct net_addr d = net_addr4(0x08080808);
    assert_int_equal(ipv4_output(NULL, &d, 17, p), -KENETUNREACH);
    /* full table */
    int added = 0;
    for (int i = 0; i < 40; i++)
        if (ip4_route_add((const uint8_t[4]){172, (uint8_t)i, 0, 0}, 16, NULL, &test_nif) == 0) added++;
    assert_true(added < 40);
    assert_int_equal(ip4_route_add((const uint8_t[4]){173, 0, 0, 0}, 16, NULL, &test_nif), -KENOSPC);
}

static void test_output(void **state) {
    (void)state;
    learn(GW, GW_MAC);
    nsent = 0;
    struct net_addr d = net_addr4(0x01020304);
    struct pkt *p = pkt_alloc(1481);
    pkt_put(p, 1481);
    assert_int_equal(ipv4_output(NULL, &d, 17, p), -KEMSGSIZE);   /* never fragments */
    p = pkt_alloc(1480);
    pkt_put(p, 1480);
    assert_int_equal(ipv4_output(NULL, &d, 17, p), 0);
    assert_int_equal(nsent, 1);
    assert_memory_equal(sent[0].dst, GW_MAC, 6);                    /* via the gateway */
    assert_memory_equal(sent[0].data + 16, ((const uint8_t[4]){1, 2, 3, 4}), 4);
    /* DHCP: unconfigured eth1, 0.0.0.0 -> 255.255.255.255 */
    struct net_addr any = net_addr4(0), bc = net_addr4(0xffffffff);
    p = pkt_alloc(300);
    pkt_put(p, 300);
    assert_int_equal(ipv4_output_if(&test_nif2, &any, &bc, 17, p), 0);
    assert_int_equal(nsent, 2);
    assert_memory_equal(sent[1].dst, ((const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 6);
    assert_memory_equal(sent[1].data + 12, ((const uint8_t[4]){0, 0, 0, 0}), 4);
    assert_ptr_equal(sent[1].nif, &test_nif2);
    /* subnet broadcast */
    struct net_addr sb = net_addr4(0x0a0002ff);
    p = pkt_alloc(8);
    pkt_put(p, 8);
    assert_int_equal(ipv4_output(NULL, &sb, 17, p), 0);
    assert_memory_equal(sent[2].dst, ((const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 6);
    assert_int_equal(ipv4_output(NULL, &d, 17, NULL), -KEINVAL);
}

/* ---- reassembly ---- */
static uint8_t got[70000];
static uint32_t got_len;
static int got_count;
static void frag_handler(struct pkt *p, const struct net_addr *src, const struct net_addr *dst) {
    (void)src; (void)dst;
    got_count++;
    got_len = p->len;
    memcpy(got, p->data, p->len);
    pkt_free(p);
}

static uint8_t big[70000];
/* Sends bytes [off, off+len) of big as a fragment of datagram id (more: MF). */
static void send_frag(uint16_t id, uint32_t off, uint32_t len, bool more) {
    static uint8_t f[2100];
    uint32_t fl = mk_ip(f, PEER_IP, OUR_IP, 253, id, (uint16_t)((more ? 0x2000 : 0) | (off / 8)), 64, big + off, len);
    ipv4_input(rx_pkt(&test_nif, f, fl));
}

static void reasm_prepare(void) {
    for (uint32_t i = 0; i < sizeof(big); i++) big[i] = (uint8_t)(i * 7 + (i >> 8));
    ip_register_protocol(253, frag_handler);
    got_count = 0;
    got_len = 0;
}

static void test_reasm_orders(void **state) {
    (void)state;
    reasm_prepare();
    /* in order: 3000 bytes in pieces of 1000, 1000, 1000 */
    send_frag(1, 0, 1000, true); send_frag(1, 1000, 1000, true); send_frag(1, 2000, 1000, false);
    assert_int_equal(got_count, 1);
    assert_int_equal(got_len, 3000);
    assert_memory_equal(got, big, 3000);
    /* reversed */
    send_frag(2, 2000, 504, false); send_frag(2, 1000, 1000, true); send_frag(2, 0, 1000, true);
    assert_int_equal(got_count, 2);
    assert_int_equal(got_len, 2504);
    assert_memory_equal(got, big, 2504);
    /* shuffled with an exact duplicate */
    send_frag(3, 1000, 1000, true); send_frag(3, 1000, 1000, true); send_frag(3, 2000, 8, false);
    assert_int_equal(got_count, 2);
    send_frag(3, 0, 1000, true);
    assert_int_equal(got_count, 3);
    assert_int_equal(got_len, 2008);
    assert_memory_equal(got, big, 2008);
    assert_int_equal(ip4_reasm_count(), 0);
    assert_int_equal(ip4_stats.frag_reassembled, 3);
    /* a big one through 45 fragments: 64000 bytes */
    for (uint32_t off = 0; off < 64000; off += 1480) send_frag(4, off, MIN(1480u, 64000 - off), off + 1480 < 64000);
    assert_int_equal(got_count, 4);
    assert_int_equal(got_len, 64000);
    assert_memory_equal(got, big, 64000);
}

static void test_reasm_hostile(void **state) {
    (void)state;
    reasm_prepare();
    /* overlapping: the whole datagram is dropped, even when the rest arrives */
    send_frag(10, 0, 1000, true); send_frag(10, 504, 1000, true);
    assert_int_equal(ip4_stats.frag_bad, 1);
    assert_int_equal(ip4_reasm_count(), 0);
    send_frag(10, 1504, 8, false);
    assert_int_equal(got_count, 0);
    /* conflicting ends */
    send_frag(11, 0, 800, true); send_frag(11, 800, 800, false); send_frag(11, 800, 1000, false);
    assert_int_equal(got_count, 1);                /* completed before the conflicting one */
    send_frag(12, 800, 800, false); send_frag(12, 1600, 80, true);  /* beyond the end */
    assert_int_equal(ip4_stats.frag_bad, 2);
    /* misaligned non-last fragment, empty fragment */
    send_frag(13, 0, 1001, true);
    send_frag(14, 8, 0, true);
    assert_int_equal(ip4_stats.frag_bad, 4);
    /* > 64 KiB: offset 65528 + 100 bytes */
    int before = ip4_reasm_count();                /* ids 10 and 11 restarted: legitimate */
    assert_int_equal(before, 2);
    send_frag(15, 0, 1000, true);
    send_frag(15, 65528, 100, false);
    assert_int_equal(ip4_stats.frag_too_big, 1);
    assert_int_equal(ip4_reasm_count(), before);
    fake_now += IP4_REASM_TIMEOUT_NS;
    ip4_reasm_timer(fake_now);
    assert_int_equal(ip4_reasm_count(), 0);
    ip4_stats.frag_timeout = 0;
    /* missing piece: dropped after 30 s, not before */
    send_frag(16, 0, 1000, true);
    fake_now += 29000000000ull;
    ip4_reasm_timer(fake_now);
    assert_int_equal(ip4_reasm_count(), 1);
    fake_now += 1000000000ull;
    ip4_reasm_timer(fake_now);
    assert_int_equal(ip4_reasm_count(), 0);
    assert_int_equal(ip4_stats.frag_timeout, 1);
    /* bounded number of reassemblies */
    for (int i = 0; i < IP4_REASM_MAX + 3; i++) send_frag((uint16_t)(100 + i), 0, 8, true);
    assert_int_equal(ip4_reasm_count(), IP4_REASM_MAX);
    assert_int_equal(ip4_stats.frag_no_slot, 3);
    /* too many tiny fragments of one datagram */
    fake_now += IP4_REASM_TIMEOUT_NS;
    ip4_reasm_timer(fake_now);
    uint64_t bad0 = ip4_stats.frag_bad;
    for (int i = 0; i < IP4_REASM_FRAGS_MAX; i++) send_frag(200, (uint32_t)i * 16, 8, true);
    assert_int_equal(ip4_stats.frag_bad, bad0);
    assert_int_equal(ip4_reasm_count(), 1);
    send_frag(200, (uint32_t)IP4_REASM_FRAGS_MAX * 16, 8, true);   /* one too many: dropped */
    assert_int_equal(ip4_stats.frag_bad, bad0 + 1);
    assert_int_equal(ip4_reasm_count(), 0);
    assert_int_equal(got_count, 1);
}

/* ---- ICMP errors ---- */
static void test_unreachable(void **state) {
    (void)state;
    learn(PEER_IP, PEER_MAC);
    nsent = 0;
    uint8_t f[128], payload[40];
    memset(payload, 0x5a, sizeof(payload));
    uint32_t fl = mk_ip(f, PEER_IP, OUR_IP, 99, 77, 0, 64, payload, 40);
    ipv4_input(rx_pkt(&test_nif, f, fl));
    assert_int_equal(ip4_stats.rx_no_proto, 1);
    assert_int_equal(nsent, 1);
    const uint8_t *h = sent[0].data;
    assert_int_equal(h[9], 1);
    assert_memory_equal(h + 16, PEER_IP, 4);
    assert_int_equal(sent[0].len, 20 + 8 + 28);        /* header + 64 bits quoted */
    assert_int_equal(h[20], 3);
    assert_int_equal(h[21], 2);
    assert_int_equal(net_csum_fold(net_csum_add(0, h + 20, 36)), 0);
    assert_memory_equal(h + 28, f, 28);
    /* rate limit: at most ICMP_ERRORS_PER_SEC per second */
    for (int i = 0; i < 30; i++) ipv4_input(rx_pkt(&test_nif, f, fl));
    assert_int_equal(nsent, ICMP_ERRORS_PER_SEC);
    assert_int_equal(icmp_stats.tx_rate_limited, 31 - ICMP_ERRORS_PER_SEC);
    fake_now += 1000000000ull;
    ipv4_input(rx_pkt(&test_nif, f, fl));
    assert_int_equal(nsent, ICMP_ERRORS_PER_SEC + 1);
    /* never about a broadcast */
    fake_now += 1000000000ull;
    fl = mk_ip(f, PEER_IP, (const uint8_t[4]){255, 255, 255, 255}, 99, 78, 0, 64, payload, 40);
    ipv4_input(rx_pkt(&test_nif, f, fl));
    assert_int_equal(nsent, ICMP_ERRORS_PER_SEC + 1);
}

static int echo_seen;
static void echo_hook(const struct net_addr *from, uint16_t id, uint16_t seq, const uint8_t *data, size_t len, void *ctx) {
    (void)from; (void)data;
    assert_ptr_equal(ctx, &echo_seen);
    if (id == 0x77 && seq == 3 && len == 16) echo_seen++;
}

static void test_ping(void **state) {
    (void)state;
    learn(GW, GW_MAC);
    nsent = 0;
    assert_int_equal(icmp_register_echo_hook(echo_hook, &echo_seen), 0);
    struct net_addr gw = net_addr4(0x0a000202);
    assert_int_equal(icmp_send_echo(&gw, 0x77, 3, "0123456789abcdef", 16), 0);
    assert_int_equal(nsent, 1);
    uint8_t reply[64];
    memcpy(reply, sent[0].data + 20, 24);
    reply[0] = 0;
    net_put16(reply + 2, 0);
    net_put16(reply + 2, net_csum_fold(net_csum_add(0, reply, 24)));
    uint8_t f[128];
    uint32_t fl = mk_ip(f, GW, OUR_IP, 1, 5, 0, 64, reply, 24);
    ipv4_input(rx_pkt(&test_nif, f, fl));
    assert_int_equal(echo_seen, 1);
    icmp_unregister_echo_hook(echo_hook, &echo_seen);
    ipv4_input(rx_pkt(&test_nif, f, fl));
    assert_int_equal(echo_seen, 1);
    assert_int_equal(icmp_send_echo(&gw, 1, 1, NULL, 5), -KEINVAL);
    assert_int_equal(icmp_send_echo(&gw, 1, 1, reply, 70000), -KEMSGSIZE);
}

/* ---- fuzzer: 100,000 random and mutated frames, no crash, no leak ---- */
static uint32_t rng = 12345;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

static void test_fuzz(void **state) {
    (void)state;
    reasm_prepare();
    learn(PEER_IP, PEER_MAC);
    uint8_t f[1600], icmp[64];
    for (int n = 0; n < 100000; n++) {
        uint32_t len;
        int kind = (int)(rnd() % 4);
        if (kind == 0) {                                   /* pure noise */
            len = rnd() % 1520;
            for (uint32_t i = 0; i < len; i++) f[i] = (uint8_t)rnd();
        } else {                                           /* a valid packet, mutated */
            uint32_t il = mk_echo(icmp, (uint16_t)rnd(), 1, rnd() % 40);
            uint16_t frag = (rnd() & 1) ? (uint16_t)(rnd() & 0x3fff) : 0;
            uint8_t proto = (uint8_t)((rnd() & 3) == 0 ? 253 : (rnd() & 1) ? 1 : rnd());
            len = mk_ip(f, (rnd() & 1) ? PEER_IP : GW, OUR_IP, proto, (uint16_t)(rnd() % 16), frag, 64, icmp, il);
            int flips = (int)(rnd() % 4);
            for (int i = 0; i < flips; i++) f[rnd() % len] ^= (uint8_t)(1 << (rnd() % 8));
            if (rnd() % 3 == 0) net_put16(f + 10, 0), net_put16(f + 10, net_csum_fold(net_csum_add(0, f, 20)));
            if (rnd() % 8 == 0) len = rnd() % (len + 1);
        }
        if (kind == 3 || (kind == 0 && (rnd() & 1))) {
            if (kind == 3) {
                uint8_t a[28];
                mk_arp(a, (uint16_t)(1 + rnd() % 2), PEER_MAC, PEER_IP, test_nif.mac, OUR_IP);
                memcpy(f, a, 28);
                len = 28 + rnd() % 4;
                for (int i = 0; i < 2; i++) f[rnd() % 28] ^= (uint8_t)(1 << (rnd() % 8));
                if (rnd() % 4 == 0) len = rnd() % 29;
            }
            arp_input(rx_pkt((rnd() & 1) ? &test_nif : &test_nif2, f, len));
        } else {
            ipv4_input(rx_pkt((rnd() & 7) ? &test_nif : &test_nif2, f, len));
        }
        nsent = 0;
        if ((n & 1023) == 0) {
            fake_now += 500000000ull;
            arp_timer(fake_now);
            ip4_reasm_timer(fake_now);
        }
    }
    fake_now += 100000000000ull;
    ip4_reasm_timer(fake_now);
    arp_timer(fake_now);
    arp_flush(NULL);
    assert_int_equal(ip4_reasm_count(), 0);
    assert_int_equal(live_pkts, 0);
    assert_true(ip4_stats.rx_packets > 50000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_reply_exact, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_header_checks, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_routing, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_output, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_reasm_orders, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_reasm_hostile, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_ping, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_fuzz, net_setup, net_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
