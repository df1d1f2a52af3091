/* test_ipv6.c: host unit tests for IPv6 (RFC 8200), ICMPv6 (RFC 4443), neighbour discovery
 * (RFC 4861) and SLAAC (RFC 4862, RFC 4291 EUI-64): header validation, extension header
 * chains (long, truncated, unknown options, fragments), exact bytes and checksums of
 * NS/NA/RS and echo replies, neighbour cache transitions with a fake clock, router
 * advertisements (good and hostile), route selection over two interfaces (on-link prefixes,
 * default routers, bound sources, expiry), and a fuzzer of 100,000 random/mutated frames.
 * The network core (pkt, checksum, netif, Ethernet output) is stubbed here; the checksum is
 * an independent RFC 1071 implementation so the code under test is checked against it. */
#include "host_stubs.h"
#include "net.h"
#include <string.h>

/* ---- stubs for net.h ---- */
static int live_pkts;
struct pkt *pkt_alloc(uint32_t room) {
    struct pkt *p = calloc(1, sizeof *p);
    p->size = PKT_HEADROOM + room;
    p->head = malloc(p->size);
    p->data = p->head + PKT_HEADROOM;
    live_pkts++;
    return p;
}
void pkt_free(struct pkt *p) {
    if (!p) return;
    free(p->head);
    free(p);
    live_pkts--;
}
uint32_t net_csum_add(uint32_t sum, const void *data, size_t len) {
    const uint8_t *b = data;
    uint64_t s = sum;
    for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (len & 1) s += (uint32_t)b[len - 1] << 8;
    while (s >> 32) s = (s & 0xffffffff) + (s >> 32);
    return (uint32_t)s;
}
uint16_t net_csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
uint32_t net_csum_pseudo(const struct net_addr *src, const struct net_addr *dst, uint8_t proto, uint32_t len) {
    uint8_t ph[40] = {0};
    memcpy(ph, src->v6, 16);
    memcpy(ph + 16, dst->v6, 16);
    net_put32(ph + 32, len);
    ph[39] = proto;
    return net_csum_add(0, ph, 40);
}
static struct netif nif0 = {.name = "eth0", .mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, .mtu = 1500, .flags = NETIF_UP};
/* a second interface, down except in the route-selection tests */
static struct netif nif1 = {.name = "eth1", .mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57}, .mtu = 1500};
void netif_for_each(void (*fn)(struct netif *nif, void *ctx), void *ctx) { fn(&nif0, ctx); fn(&nif1, ctx); }
void net_register_timer(struct net_timer_hook *h) { (void)h; }

#define MAXTX 64
static struct { uint8_t b[1600]; uint32_t len; const struct netif *nif; } tx[MAXTX];
static int ntx;
int eth_output(struct netif *nif, struct pkt *p, const uint8_t dst_mac[6], uint16_t ethertype) {
    if (ntx < MAXTX && p->len + 14 <= 1600) {
        tx[ntx].nif = nif;
        uint8_t *f = tx[ntx].b;
        memcpy(f, dst_mac, 6);
        memcpy(f + 6, nif->mac, 6);
        net_put16(f + 12, ethertype);
        memcpy(f + 14, p->data, p->len);
        tx[ntx++].len = p->len + 14;
    }
    pkt_free(p);
    return 0;
}

#include "../../kernel/net/ipv6.c"
#include "../../kernel/net/icmpv6.c"
#include "../../kernel/net/ndp.c"

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }
#define SEC 1000000000ull

static const uint8_t OUR_LL[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
static const uint8_t PEER_LL[16] = {0xfe, 0x80, [14] = 0x99, 0x01};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0x99, 0x01};
static const uint8_t RTR_LL[16] = {0xfe, 0x80, [15] = 2};
static const uint8_t RTR_MAC[6] = {0x52, 0x55, 0x0a, 0, 2, 2};
static const uint8_t ALL_NODES[16] = {0xff, 0x02, [15] = 1};

static int setup(void **state) {
    (void)state;
    ndp_reset();
    memset(&ipv6_stats, 0, sizeof ipv6_stats);
    memset(echo_seen, 0, sizeof echo_seen);
    err_tokens = ERR_BURST;
    nif0.ip6_ll_valid = nif0.ip6_global_valid = false;
    nif1.ip6_ll_valid = nif1.ip6_global_valid = false;
    nif1.flags = 0;
    ipv6_clock = fake_clock;
    fake_now = 1000 * SEC;
    ipv6_init();
    ipv6_netif_up(&nif0);
    ntx = 0;
    return 0;
}
static int teardown(void **state) {
    (void)state;
    ndp_reset();
    assert_int_equal(live_pkts, 0);
    return 0;
}

/* Builds an IPv6 datagram (header + payload); fixes the ICMPv6 checksum when nh is 58. */
static uint32_t mk_ip6(uint8_t *b, const uint8_t src[16], const uint8_t dst[16], uint8_t nh, uint8_t hop,
                       const uint8_t *pl, uint32_t len) {
    net_put32(b, 6u << 28);
    net_put16(b + 4, (uint16_t)len);
    b[6] = nh;
    b[7] = hop;
    memcpy(b + 8, src, 16);
    memcpy(b + 24, dst, 16);
    memcpy(b + 40, pl, len);
    if (nh == 58 && len >= 4) {
        net_put16(b + 42, 0);
        net_put16(b + 42, ipv6_upper_csum(src, dst, 58, b + 40, len));
    }
    return 40 + len;
}
static void inject_on(struct netif *nif, const uint8_t *b, uint32_t len) {
    struct pkt *p = pkt_alloc(len + 14);
    pkt_put(p, len + 14);
    memset(p->data, 0, 14);
    memcpy(p->data + 14, b, len);
    pkt_pull(p, 14);
    p->netif = nif;
    ipv6_input(p);
}
static void inject(const uint8_t *b, uint32_t len) { inject_on(&nif0, b, len); }
/* Checks that a sent frame is a valid IPv6/ICMPv6 frame and returns its ICMPv6 part. */
static const uint8_t *icmp_of(int i, uint32_t *len) {
    assert_true(i < ntx);
    const uint8_t *f = tx[i].b;
    assert_int_equal(net_get16(f + 12), ETH_P_IPV6);
    assert_int_equal(f[14] >> 4, 6);
    assert_int_equal(f[14 + 6], 58);
    uint32_t pl = net_get16(f + 18);
    assert_int_equal(pl + 54, tx[i].len);
    assert_int_equal(ipv6_upper_csum(f + 22, f + 38, 58, f + 54, pl), 0);
    *len = pl;
    return f + 54;
}
/* The peer sends us an NS (so we learn it) and we answer with an NA. */
static void peer_ns(void) {
    uint8_t m[32] = {135, 0}, b[100];
    memcpy(m + 8, OUR_LL, 16);
    m[24] = 1; m[25] = 1;
    memcpy(m + 26, PEER_MAC, 6);
    inject(b, mk_ip6(b, PEER_LL, OUR_LL, 58, 255, m, 32));
}

static void test_eui64_and_format(void **state) {
    (void)state;
    /* RFC 4291 appendix A: 34-56-78-9A-BC-DE -> 36-56-78-FF-FE-9A-BC-DE */
    static const uint8_t mac[6] = {0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde};
    static const uint8_t want[8] = {0x36, 0x56, 0x78, 0xff, 0xfe, 0x9a, 0xbc, 0xde};
    uint8_t iid[8], ll[16];
    char buf[48];
    ip6_eui64(mac, iid);
    assert_memory_equal(iid, want, 8);
    ip6_linklocal_from_mac(mac, ll);
    assert_string_equal(ip6_format(ll, buf), "fe80::3656:78ff:fe9a:bcde");
    assert_true(nif0.ip6_ll_valid);
    assert_string_equal(ip6_format(nif0.ip6_ll, buf), "fe80::5054:ff:fe12:3456");
    static const uint8_t a1[16] = {0x20, 0x01, 0x0d, 0xb8, [11] = 1, [15] = 1};
    assert_string_equal(ip6_format(a1, buf), "2001:db8::1:0:1");
    static const uint8_t zero[16] = {0};
    assert_string_equal(ip6_format(zero, buf), "::");
    assert_string_equal(ip6_format(ALL_NODES, buf), "ff02::1");
    uint8_t sn[16];
    ip6_solicited_node(OUR_LL, sn);
    assert_string_equal(ip6_format(sn, buf), "ff02::1:ff12:3456");
}

static void test_up_sends_dad_and_rs(void **state) {
    (void)state;
    ntx = 0;
    ipv6_netif_up(&nif0);
    assert_int_equal(ntx, 2);
    uint32_t len;
    /* DAD NS: :: -> ff02::1:ff12:3456, 33:33:ff:12:34:56, no option */
    const uint8_t *m = icmp_of(0, &len);
    static const uint8_t dad_mac[6] = {0x33, 0x33, 0xff, 0x12, 0x34, 0x56};
    assert_memory_equal(tx[0].b, dad_mac, 6);
    assert_memory_equal(tx[0].b + 6, nif0.mac, 6);
    static const uint8_t unspec[16];
    assert_memory_equal(tx[0].b + 22, unspec, 16);
    assert_int_equal(tx[0].b + 21 - tx[0].b, 21);
    assert_int_equal(tx[0].b[21], 255);
    assert_int_equal(len, 24);
    assert_int_equal(m[0], 135);
    assert_memory_equal(m + 8, OUR_LL, 16);
    /* RS: ll -> ff02::2, exact bytes except the checksum */
    m = icmp_of(1, &len);
    static const uint8_t rs_mac[6] = {0x33, 0x33, 0, 0, 0, 2};
    assert_memory_equal(tx[1].b, rs_mac, 6);
    assert_memory_equal(tx[1].b + 22, OUR_LL, 16);
    assert_int_equal(len, 16);
    uint8_t want[16] = {133, 0, m[2], m[3], 0, 0, 0, 0, 1, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    assert_memory_equal(m, want, 16);
    /* RS repeated every 4 s, 3 in all, none after */
    ntx = 0;
    for (int s = 1; s <= 20; s++) { fake_now += SEC; ndp_timer(fake_now); }
    assert_int_equal(ntx, 2);
}

static void test_ns_na_and_echo_exact(void **state) {
    (void)state;
    peer_ns();
    assert_int_equal(ntx, 1);
    uint32_t len;
    const uint8_t *m = icmp_of(0, &len);
    assert_memory_equal(tx[0].b, PEER_MAC, 6);          /* learned from the SLLAO */
    assert_int_equal(tx[0].b[21], 255);
    assert_memory_equal(tx[0].b + 22, OUR_LL, 16);
    assert_memory_equal(tx[0].b + 38, PEER_LL, 16);
    uint8_t want[32] = {136, 0, m[2], m[3], 0x60, 0, 0, 0};
    memcpy(want + 8, OUR_LL, 16);
    want[24] = 2; want[25] = 1;
    memcpy(want + 26, nif0.mac, 6);
    assert_int_equal(len, 32);
    assert_memory_equal(m, want, 32);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_DELAY);  /* STALE, then used */

    /* echo request -> reply with the same id, seq, data */
    uint8_t e[14] = {128, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'h', 'e', 'l', 'l', 'o', '!'}, b[100];
    ntx = 0;
    inject(b, mk_ip6(b, PEER_LL, OUR_LL, 58, 64, e, 14));
    assert_int_equal(ntx, 1);
    m = icmp_of(0, &len);
    assert_int_equal(len, 14);
    uint8_t hdr[54] = {0x02, 0, 0, 0, 0x99, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x86, 0xdd,
                       0x60, 0, 0, 0, 0, 14, 58, 64};
    memcpy(hdr + 22, OUR_LL, 16);
    memcpy(hdr + 38, PEER_LL, 16);
    assert_memory_equal(tx[0].b, hdr, 54);
    e[0] = 129;
    memcpy(e + 2, m + 2, 2);
    assert_memory_equal(m, e, 14);
    assert_int_equal(ipv6_stats.icmp_echo_replies_sent, 1);

    /* a bad checksum gets no answer */
    ntx = 0;
    e[0] = 128;
    mk_ip6(b, PEER_LL, OUR_LL, 58, 64, e, 14);
    b[43] ^= 1;
    inject(b, 54);
    assert_int_equal(ntx, 0);
    assert_int_equal(ipv6_stats.icmp_bad_csum, 1);
}

static void test_header_validation(void **state) {
    (void)state;
    uint8_t e[8] = {128, 0, 0, 0, 0, 1, 0, 1}, b[200];
    peer_ns();
    ntx = 0;
    uint32_t n = mk_ip6(b, PEER_LL, OUR_LL, 58, 64, e, 8);
    b[0] = 0x40;  /* version 4 */
    inject(b, n);
    assert_int_equal(ipv6_stats.rx_bad_version, 1);
    mk_ip6(b, PEER_LL, OUR_LL, 58, 64, e, 8);
    net_put16(b + 4, 9);  /* payload longer than the frame */
    inject(b, n);
    assert_int_equal(ipv6_stats.rx_bad_length, 1);
    inject(b, 39);  /* shorter than a header */
    assert_int_equal(ipv6_stats.rx_truncated, 1);
    assert_int_equal(ntx, 0);
    /* Ethernet padding after the datagram is trimmed: still answered */
    mk_ip6(b, PEER_LL, OUR_LL, 58, 64, e, 8);
    memset(b + 48, 0xee, 20);
    inject(b, 68);
    assert_int_equal(ntx, 1);
    /* not ours / multicast source / another solicited-node group */
    static const uint8_t other[16] = {0xfe, 0x80, [15] = 0x77};
    static const uint8_t sn_other[16] = {0xff, 0x02, [11] = 1, 0xff, 0, 0, 0x77};
    ntx = 0;
    inject(b, mk_ip6(b, PEER_LL, other, 58, 64, e, 8));
    inject(b, mk_ip6(b, ALL_NODES, OUR_LL, 58, 64, e, 8));
    inject(b, mk_ip6(b, PEER_LL, sn_other, 58, 64, e, 8));
    assert_int_equal(ntx, 0);
    assert_int_equal(ipv6_stats.rx_not_ours, 2);
    assert_int_equal(ipv6_stats.rx_bad_src, 1);
    /* echo to all-nodes is answered from our link-local address */
    inject(b, mk_ip6(b, PEER_LL, ALL_NODES, 58, 64, e, 8));
    assert_int_equal(ntx, 1);
    assert_memory_equal(tx[0].b + 22, OUR_LL, 16);
    /* ND with hop limit 254 is ignored */
    uint8_t m[32] = {135, 0};
    memcpy(m + 8, OUR_LL, 16);
    ntx = 0;
    inject(b, mk_ip6(b, PEER_LL, OUR_LL, 58, 254, m, 24));
    assert_int_equal(ntx, 0);
    assert_int_equal(ipv6_stats.nd_bad, 1);
    /* unknown next header -> parameter problem code 1, pointer 6 */
    inject(b, mk_ip6(b, PEER_LL, OUR_LL, 200, 64, e, 8));
    assert_int_equal(ntx, 1);
    uint32_t len;
    const uint8_t *r = icmp_of(0, &len);
    assert_int_equal(r[0], 4);
    assert_int_equal(r[1], 1);
    assert_int_equal(net_get32(r + 4), 6);
    assert_int_equal(len, 8 + 48);
}

/* Builds IPv6 + a chain of extension headers given as (type, bytes) then an echo request. */
static uint32_t mk_chain(uint8_t *b, const uint8_t *types, int n, const uint8_t *ext_len_bytes) {
    uint8_t pl[1400];
    uint32_t off = 0;
    for (int i = 0; i < n; i++) {
        uint32_t hl = types[i] == 44 ? 8 : (ext_len_bytes ? ext_len_bytes[i] + 1u : 1u) * 8;
        memset(pl + off, 0, hl);
        pl[off] = i + 1 < n ? types[i + 1] : 58;
        pl[off + 1] = types[i] == 44 ? 0 : (uint8_t)(hl / 8 - 1);
        if (types[i] != 44 && types[i] != 43) { pl[off + 2] = 1; pl[off + 3] = (uint8_t)(hl - 4); }  /* PadN */
        off += hl;
    }
    static const uint8_t e[8] = {128, 0, 0, 0, 0, 2, 0, 2};
    memcpy(pl + off, e, 8);
    uint32_t len = mk_ip6(b, PEER_LL, OUR_LL, n ? types[0] : 58, 64, pl, off + 8);
    net_put16(b + 40 + off + 2, 0);
    net_put16(b + 40 + off + 2, ipv6_upper_csum(PEER_LL, OUR_LL, 58, b + 40 + off, 8));
    return len;
}

static void test_extension_headers(void **state) {
    (void)state;
    uint8_t b[1500];
    peer_ns();
    ntx = 0;
    static const uint8_t ok[] = {0, 60, 43, 44, 60};
    inject(b, mk_chain(b, ok, 5, NULL));
    assert_int_equal(ntx, 1);  /* answered through hop-by-hop, dst opts, routing (0 left), atomic fragment */
    static const uint8_t longc[] = {60, 60, 60, 60, 60, 60, 60, 60, 60};
    ntx = 0;
    inject(b, mk_chain(b, longc, 9, NULL));
    assert_int_equal(ntx, 0);
    assert_int_equal(ipv6_stats.rx_bad_ext, 1);
    /* truncated: an extension header claiming 2048 bytes */
    static const uint8_t one[] = {60};
    uint32_t n = mk_chain(b, one, 1, NULL);
    b[41] = 255;  /* the header claims 2048 bytes */
    inject(b, n);
    b[41] = 2;    /* 24 bytes: just past the end of the datagram */
    inject(b, n);
    assert_int_equal(ipv6_stats.rx_bad_ext, 3);
    assert_int_equal(ntx, 0);
    /* hop-by-hop not first -> parameter problem code 1 */
    static const uint8_t hbh2[] = {60, 0};
    inject(b, mk_chain(b, hbh2, 2, NULL));
    assert_int_equal(ntx, 1);
    uint32_t len;
    const uint8_t *r = icmp_of(0, &len);
    assert_int_equal(r[0], 4);
    assert_int_equal(r[1], 1);
    assert_int_equal(net_get32(r + 4), 40);
    /* unknown option with action 10 -> parameter problem code 2 pointing at it */
    ntx = 0;
    n = mk_chain(b, one, 1, NULL);
    b[42] = 0x80;
    b[43] = 4;
    inject(b, n);
    assert_int_equal(ntx, 1);
    r = icmp_of(0, &len);
    assert_int_equal(r[1], 2);
    assert_int_equal(net_get32(r + 4), 42);
    /* action 01: dropped silently; option overrunning its header: dropped */
    ntx = 0;
    b[42] = 0x40;
    inject(b, n);
    b[42] = 0x01;
    b[43] = 5;
    inject(b, n);
    /* routing header with segments left -> parameter problem code 0 */
    static const uint8_t rt[] = {43};
    n = mk_chain(b, rt, 1, NULL);
    b[43] = 0;
    b[42 + 1] = 0;
    b[40 + 3] = 1;
    inject(b, n);
    assert_int_equal(ntx, 1);
    r = icmp_of(0, &len);
    assert_int_equal(r[1], 0);
    assert_int_equal(net_get32(r + 4), 42);
    /* a real fragment: dropped and counted */
    static const uint8_t fr[] = {44};
    n = mk_chain(b, fr, 1, NULL);
    b[40 + 3] = 1;  /* M flag */
    inject(b, n);
    assert_int_equal(ipv6_stats.rx_frag_dropped, 1);
    assert_int_equal(ntx, 1);
}

static void peer_na(const uint8_t *target, const uint8_t *mac, uint8_t flags) {
    uint8_t m[32] = {136, 0, 0, 0, flags}, b[100];
    memcpy(m + 8, target, 16);
    m[24] = 2; m[25] = 1;
    if (mac) memcpy(m + 26, mac, 6);
    inject(b, mk_ip6(b, target, OUR_LL, 58, 255, m, mac ? 32 : 24));
}
static void send_echo_to(const uint8_t *dst) { assert_int_equal(icmpv6_send_echo(dst, 1, 1, "x", 1), 0); }

static void test_neighbour_cache(void **state) {
    (void)state;
    ifstate_of(&nif0, false)->got_ra = true;  /* no router solicitations in the way */
    /* INCOMPLETE: 3 multicast NS one second apart, then the entry and its packet go */
    send_echo_to(PEER_LL);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_INCOMPLETE);
    assert_int_equal(ntx, 1);
    static const uint8_t sn_mac[6] = {0x33, 0x33, 0xff, 0x00, 0x99, 0x01};
    assert_memory_equal(tx[0].b, sn_mac, 6);
    for (int i = 0; i < 3; i++) { fake_now += SEC; ndp_timer(fake_now); }
    assert_int_equal(ntx, 3);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_NONE);
    assert_int_equal(ipv6_stats.tx_nd_failed, 1);
    /* queue of 3: the 4th replaces the oldest; a solicited NA sends them and -> REACHABLE */
    ntx = 0;
    for (int i = 0; i < 4; i++) send_echo_to(PEER_LL);
    assert_int_equal(ipv6_stats.nd_queue_dropped, 2);  /* 1 from the failed entry, 1 replaced */
    ntx = 0;
    peer_na(PEER_LL, PEER_MAC, 0x60);
    assert_int_equal(ntx, 3);
    for (int i = 0; i < 3; i++) assert_memory_equal(tx[i].b, PEER_MAC, 6);
    uint8_t mac[6];
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, mac), ND_REACHABLE);
    assert_memory_equal(mac, PEER_MAC, 6);
    /* unsolicited NA without override and another MAC: REACHABLE -> STALE, MAC kept */
    static const uint8_t mac2[6] = {2, 0, 0, 0, 0x99, 2};
    peer_na(PEER_LL, mac2, 0x00);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, mac), ND_STALE);
    assert_memory_equal(mac, PEER_MAC, 6);
    /* with override: MAC replaced, STALE */
    peer_na(PEER_LL, mac2, 0x20);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, mac), ND_STALE);
    assert_memory_equal(mac, mac2, 6);
    /* solicited again -> REACHABLE; after ReachableTime -> STALE */
    peer_na(PEER_LL, NULL, 0x40);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_REACHABLE);
    fake_now += 31 * SEC;
    ndp_timer(fake_now);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_STALE);
    /* use -> DELAY; 5 s -> PROBE with unicast NS; 3 probes then gone */
    ntx = 0;
    send_echo_to(PEER_LL);
    assert_int_equal(ntx, 1);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_DELAY);
    fake_now += 5 * SEC;
    ndp_timer(fake_now);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_PROBE);
    assert_int_equal(ntx, 2);
    assert_memory_equal(tx[1].b, mac2, 6);
    assert_memory_equal(tx[1].b + 38, PEER_LL, 16);
    fake_now += SEC; ndp_timer(fake_now);
    fake_now += SEC; ndp_timer(fake_now);
    assert_int_equal(ntx, 4);
    fake_now += SEC; ndp_timer(fake_now);
    assert_int_equal(ndp_lookup(&nif0, PEER_LL, NULL), ND_NONE);
    /* upper-layer confirmation in PROBE -> REACHABLE; NA for an unknown target is ignored */
    static const uint8_t stranger[16] = {0xfe, 0x80, [15] = 0x55};
    peer_na(stranger, PEER_MAC, 0x60);
    assert_int_equal(ndp_lookup(&nif0, stranger, NULL), ND_NONE);
}

static uint32_t mk_ra(uint8_t *m, uint16_t lifetime, const uint8_t *pfx, uint8_t plen, uint8_t flags,
                      uint32_t valid, uint32_t pref) {
    memset(m, 0, 56);
    m[0] = 134;
    net_put16(m + 6, lifetime);
    m[16] = 1; m[17] = 1;
    memcpy(m + 18, RTR_MAC, 6);
    uint8_t *o = m + 24;
    o[0] = 3; o[1] = 4; o[2] = plen; o[3] = flags;
    net_put32(o + 4, valid);
    net_put32(o + 8, pref);
    memcpy(o + 16, pfx, 16);
    return 56;
}
static const uint8_t FEC0[16] = {0xfe, 0xc0};

static void test_ra_slaac(void **state) {
    (void)state;
    uint8_t m[64], b[200];
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, mk_ra(m, 1800, FEC0, 64, 0xc0, 86400, 14400)));
    assert_true(nif0.ip6_global_valid);
    char buf[48];
    assert_string_equal(ip6_format(nif0.ip6_global, buf), "fec0::5054:ff:fe12:3456");
    uint8_t r[16], mac[6];
    assert_true(ndp_default_router(&nif0, r));
    assert_memory_equal(r, RTR_LL, 16);
    assert_int_equal(ndp_lookup(&nif0, RTR_LL, mac), ND_STALE);
    assert_memory_equal(mac, RTR_MAC, 6);
    /* a DAD NS for the new address was sent */
    assert_int_equal(ntx, 1);
    /* on-link destination: NS for it; off-link: through the router (its MAC, STALE->DELAY) */
    static const uint8_t fec0_2[16] = {0xfe, 0xc0, [15] = 2};
    static const uint8_t far[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    ntx = 0;
    send_echo_to(fec0_2);
    assert_int_equal(ndp_lookup(&nif0, fec0_2, NULL), ND_INCOMPLETE);
    assert_memory_equal(tx[0].b + 22, OUR_LL, 16);  /* multicast NS: link-local source (§7.2.2 allows it) */
    ntx = 0;
    send_echo_to(far);
    assert_int_equal(ntx, 1);
    assert_memory_equal(tx[0].b, RTR_MAC, 6);
    assert_memory_equal(tx[0].b + 22, nif0.ip6_global, 16);
    assert_memory_equal(tx[0].b + 38, far, 16);
    assert_int_equal(ndp_lookup(&nif0, RTR_LL, NULL), ND_DELAY);
    /* two-hour rule: a 60 s valid lifetime shortens ours to 2 h, not to 60 s */
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, mk_ra(m, 1800, FEC0, 64, 0xc0, 60, 60)));
    fake_now += 7199 * SEC;
    ndp_timer(fake_now);
    assert_true(nif0.ip6_global_valid);
    fake_now += 2 * SEC;
    ndp_timer(fake_now);
    assert_false(nif0.ip6_global_valid);
    assert_false(ndp_default_router(&nif0, r));  /* 1800 s router lifetime ran out */
    ntx = 0;
    assert_int_equal(icmpv6_send_echo(far, 1, 1, NULL, 0), -KENETUNREACH);
}

static void test_ra_hostile(void **state) {
    (void)state;
    uint8_t m[64], b[200], r[16];
    uint32_t n = mk_ra(m, 1800, FEC0, 64, 0xc0, 86400, 14400);
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 254, m, n));           /* hop limit */
    inject(b, mk_ip6(b, FEC0, ALL_NODES, 58, 255, m, n));             /* source not link-local */
    m[25] = 0;                                                        /* PIO length 0 */
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, n));
    m[25] = 5;                                                        /* PIO overruns */
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, n));
    m[25] = 4;
    m[17] = 0;                                                        /* SLLAO length 0 */
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, n));
    m[17] = 1;
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, 15));          /* too short */
    assert_int_equal(ipv6_stats.nd_bad, 6);
    assert_false(nif0.ip6_global_valid);
    assert_false(ndp_default_router(&nif0, r));
    /* /48 prefix or preferred > valid: no address (the router is still learned) */
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, mk_ra(m, 1800, FEC0, 48, 0xc0, 86400, 14400)));
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, mk_ra(m, 1800, FEC0, 64, 0xc0, 100, 200)));
    assert_false(nif0.ip6_global_valid);
    assert_true(ndp_default_router(&nif0, r));
    /* prefix length > 128 is ignored; router lifetime 0 removes the router */
    inject(b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, m, mk_ra(m, 0, FEC0, 200, 0xc0, 86400, 100)));
    assert_false(ndp_default_router(&nif0, r));
    assert_false(nif0.ip6_global_valid);
}

/* ---- route selection: two interfaces (RFC 4861 §5.2, §6.3.6; RFC 6724) ---- */
static const uint8_t FD09[16] = {0xfd, 0x09};
static const uint8_t FD09_1[16] = {0xfd, 0x09, [15] = 1};
static const uint8_t FEC0_2[16] = {0xfe, 0xc0, [15] = 2};
static const uint8_t FAR[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t RTR1_LL[16] = {0xfe, 0x80, [15] = 1};
static const uint8_t RTR1_MAC[6] = {0x02, 0, 0, 0, 9, 1};

/* An RA from src on nif; sllao false removes the source link-layer address option (it
 * becomes an unknown option, which §6.3.4 ignores). */
static void ra_on(struct netif *nif, const uint8_t src[16], const uint8_t mac[6], bool sllao, uint16_t lifetime,
                  const uint8_t *pfx, uint32_t valid) {
    uint8_t m[64], b[200];
    uint32_t n = mk_ra(m, lifetime, pfx, 64, 0xc0, valid, valid);
    memcpy(m + 18, mac, 6);
    if (!sllao) m[16] = 200;
    inject_on(nif, b, mk_ip6(b, src, ALL_NODES, 58, 255, m, n));
}

/* ipv6_route's interface and source for dst (src, nif as ipv6_output gets them). */
static int route(const uint8_t dst[16], const uint8_t *src, struct netif *given, struct netif **out,
                 uint8_t s[16]) {
    *out = given;
    return ipv6_route(dst, src, out, s);
}

static void test_route_two_interfaces(void **state) {
    (void)state;
    nif1.flags = NETIF_UP;
    ipv6_netif_up(&nif1);
    /* eth0: fec0::/64 and, first without a known MAC, the default router fe80::2;
     * eth1: fd09::/64 (SLAAC, on-link) from a router fe80::1 that is no default router */
    ra_on(&nif0, RTR_LL, RTR_MAC, false, 1800, FEC0, 86400);
    ra_on(&nif1, RTR1_LL, RTR1_MAC, true, 0, FD09, 600);
    assert_true(nif0.ip6_global_valid && nif1.ip6_global_valid);
    char buf[48];
    assert_string_equal(ip6_format(nif1.ip6_global, buf), "fd09::5054:ff:fe12:3457");
    struct netif *o;
    uint8_t s[16];
    /* on-link on eth1: eth1 with its global source, even though eth0 comes first and has the router */
    assert_int_equal(route(FD09_1, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif1);
    assert_memory_equal(s, nif1.ip6_global, 16);
    /* on-link on eth0 and off-link: eth0 (the only default router) with eth0's global source */
    assert_int_equal(route(FEC0_2, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif0);
    assert_memory_equal(s, nif0.ip6_global, 16);
    assert_int_equal(route(FAR, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif0);
    assert_memory_equal(s, nif0.ip6_global, 16);
    /* the whole path: an echo to fd09::1 solicits fd09::1 on eth1 only, then goes out of eth1
     * to the MAC the NA gave, from eth1's global address */
    ntx = 0;
    send_echo_to(FD09_1);
    assert_int_equal(ntx, 1);
    assert_ptr_equal(tx[0].nif, &nif1);
    assert_int_equal(ndp_lookup(&nif1, FD09_1, NULL), ND_INCOMPLETE);
    assert_int_equal(ndp_lookup(&nif0, FD09_1, NULL), ND_NONE);
    uint8_t m[32] = {136, 0, 0, 0, 0x60}, b[100];
    memcpy(m + 8, FD09_1, 16);
    m[24] = 2; m[25] = 1;
    memcpy(m + 26, PEER_MAC, 6);
    ntx = 0;
    inject_on(&nif1, b, mk_ip6(b, FD09_1, nif1.ip6_global, 58, 255, m, 32));
    assert_int_equal(ntx, 1);
    assert_ptr_equal(tx[0].nif, &nif1);
    assert_memory_equal(tx[0].b, PEER_MAC, 6);
    assert_memory_equal(tx[0].b + 22, nif1.ip6_global, 16);
    assert_memory_equal(tx[0].b + 38, FD09_1, 16);
    /* link-local: the given interface (scope) with its link-local source; without one the first */
    assert_int_equal(route(PEER_LL, NULL, &nif1, &o, s), 0);
    assert_ptr_equal(o, &nif1);
    assert_memory_equal(s, nif1.ip6_ll, 16);
    assert_int_equal(route(PEER_LL, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif0);
    assert_memory_equal(s, nif0.ip6_ll, 16);
    /* a source bound to eth1's address pins eth1: on-link works, off-link has no router there */
    assert_int_equal(route(FD09_1, nif1.ip6_global, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif1);
    ntx = 0;
    assert_int_equal(ipv6_output(NULL, nif1.ip6_global, FAR, IPV6_NH_UDP, 0, pkt_alloc(8)), -KENETUNREACH);
    assert_int_equal(ntx, 0);
    assert_int_equal(ipv6_stats.tx_no_route, 1);
    /* eth1's router becomes a default router: §6.3.6 prefers it while eth0's router's MAC is
     * unknown; once eth0's router is known, eth0 (up first) wins whatever order RAs came in */
    ra_on(&nif1, RTR1_LL, RTR1_MAC, true, 1800, FD09, 600);
    assert_int_equal(route(FAR, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif1);
    assert_memory_equal(s, nif1.ip6_global, 16);
    ra_on(&nif0, RTR_LL, RTR_MAC, true, 1800, FEC0, 86400);
    assert_int_equal(route(FAR, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif0);
    /* bound to eth1's address: through eth1's router with that source, not eth0's */
    ntx = 0;
    assert_int_equal(icmpv6_send_echo(FAR, 1, 1, NULL, 0), 0);
    struct pkt *p = pkt_alloc(8);
    memset(pkt_put(p, 8), 0, 8);
    assert_int_equal(ipv6_output(NULL, nif1.ip6_global, FAR, IPV6_NH_UDP, 0, p), 0);
    assert_int_equal(ntx, 2);
    assert_ptr_equal(tx[0].nif, &nif0);
    assert_memory_equal(tx[0].b, RTR_MAC, 6);
    assert_memory_equal(tx[0].b + 22, nif0.ip6_global, 16);
    assert_ptr_equal(tx[1].nif, &nif1);
    assert_memory_equal(tx[1].b, RTR1_MAC, 6);
    assert_memory_equal(tx[1].b + 22, nif1.ip6_global, 16);
    /* the longest on-link prefix wins over a shorter one on another interface */
    static const uint8_t FD09_48[16] = {0xfd, 0x09};
    uint8_t ra[64];
    uint32_t n = mk_ra(ra, 1800, FD09_48, 48, 0x80, 86400, 86400);  /* fd09::/48 on-link on eth0 */
    inject_on(&nif0, b, mk_ip6(b, RTR_LL, ALL_NODES, 58, 255, ra, n));
    assert_int_equal(route(FD09_1, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif1);
    static const uint8_t FD09_BEEF[16] = {0xfd, 0x09, 0, 0, 0, 0, 0xbe, 0xef, [15] = 1};
    assert_int_equal(route(FD09_BEEF, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif0);
    assert_memory_equal(s, nif0.ip6_global, 16);
    /* eth1's prefix and address expire: fd09::1 is no longer on-link anywhere but in eth0's /48 */
    fake_now += 601 * SEC;
    ndp_timer(fake_now);
    assert_false(nif1.ip6_global_valid);
    assert_int_equal(route(FD09_1, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif0);
    /* an interface that is down is never chosen; no interface left with a route: unreachable */
    nif0.flags = 0;
    assert_int_equal(route(FAR, NULL, NULL, &o, s), 0);
    assert_ptr_equal(o, &nif1);
    assert_memory_equal(s, nif1.ip6_ll, 16);   /* no global address left on eth1 */
    nif1.flags = 0;
    assert_int_equal(route(FAR, NULL, NULL, &o, s), -KENETUNREACH);
    nif0.flags = NETIF_UP;
    ntx = 0;
}

/* ---- fuzzer ---- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)rng; }

static void test_fuzz(void **state) {
    (void)state;
    uint8_t seeds[6][300], b[1600], m[64];
    uint32_t sl[6];
    uint8_t e[16] = {128, 0, 0, 0, 0, 1, 0, 1};
    sl[0] = mk_ip6(seeds[0], PEER_LL, OUR_LL, 58, 64, e, 16);
    uint8_t ns[32] = {135};
    memcpy(ns + 8, OUR_LL, 16);
    ns[24] = 1; ns[25] = 1;
    memcpy(ns + 26, PEER_MAC, 6);
    sl[1] = mk_ip6(seeds[1], PEER_LL, OUR_LL, 58, 255, ns, 32);
    ns[0] = 136;
    ns[24] = 2;
    memcpy(ns + 8, PEER_LL, 16);
    sl[2] = mk_ip6(seeds[2], PEER_LL, OUR_LL, 58, 255, ns, 32);
    sl[3] = mk_ip6(seeds[3], RTR_LL, ALL_NODES, 58, 255, m, mk_ra(m, 1800, FEC0, 64, 0xc0, 86400, 14400));
    static const uint8_t chain[] = {0, 60, 43, 44, 60};
    sl[4] = mk_chain(seeds[4], chain, 5, NULL);
    sl[5] = mk_ip6(seeds[5], PEER_LL, OUR_LL, 17, 64, e, 16);
    for (int it = 0; it < 100000; it++) {
        uint32_t len;
        if (rnd() % 10 == 0) {  /* random bytes with a plausible first byte */
            len = rnd() % 300;
            for (uint32_t i = 0; i < len; i++) b[i] = (uint8_t)rnd();
            if (len) b[0] = 0x60;
        } else {
            int s = rnd() % 6;
            len = sl[s];
            memcpy(b, seeds[s], len);
            int flips = 1 + rnd() % 4;
            for (int f = 0; f < flips; f++) b[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            if (rnd() % 4 == 0) len = rnd() % (len + 1);
            if (rnd() % 2 && len > 44 && b[6] == 58) {  /* fix the checksum to reach deeper */
                uint32_t pl = len - 40;
                net_put16(b + 42, 0);
                net_put16(b + 42, ipv6_upper_csum(b + 8, b + 24, 58, b + 40, pl));
                net_put16(b + 4, (uint16_t)pl);
            }
        }
        inject(b, len);
        if (it % 64 == 0) { fake_now += (rnd() % 3000) * 1000000ull; ndp_timer(fake_now); }
        if (it % 1000 == 0) { ntx = 0; ipv6_netif_up(&nif0); }
        if (ntx > MAXTX - 8) ntx = 0;
    }
    assert_true(ipv6_stats.rx_delivered > 1000);
    assert_true(ipv6_stats.icmp_echo_replies_sent > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_eui64_and_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_up_sends_dad_and_rs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ns_na_and_echo_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neighbour_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ra_slaac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ra_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_two_interfaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
