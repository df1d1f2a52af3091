/* test_udp.c: host unit tests for UDP (kernel/net/udp.c, RFC 768 / RFC 8200 §8.1): port
 * binding and conflicts, ephemeral port allocation and exhaustion, demultiplexing (exact
 * address before wildcard, IPv4 to dual-stack IPv6 sockets), checksums against a known
 * packet, the IPv4 zero-checksum rule and the IPv6 one, truncated and lying length fields,
 * bounded receive queues with a drop counter, and output through the IP function pointers. */
#include "host_stubs.h"
#include <string.h>
#include "spinlock.h"
void *kmalloc(size_t n) { return n ? malloc(n) : NULL; }
void *kzalloc(size_t n) { return n ? calloc(1, n) : NULL; }
void kfree(void *p) { free(p); }
uint64_t spin_lock_irqsave(spinlock_t *l) { l->locked = 1; return 0; }
void spin_unlock_irqrestore(spinlock_t *l, uint64_t f) { (void)f; l->locked = 0; }
#include "../../kernel/net/pkt.c"
#include "../../kernel/net/checksum.c"
#include "../../kernel/net/udp.c"

/* ---- captured output ---- */
static struct pkt *sent[8];
static struct net_addr sent_src[8], sent_dst[8];
static int nsent;
static int out_result;
static int fake_output(struct pkt *p, const struct net_addr *src, const struct net_addr *dst,
                       uint8_t proto, struct netif *nif) {
    assert_int_equal(proto, 17);
    if (out_result < 0) { pkt_free(p); return out_result; }
    assert_true(nsent < 8);
    sent_src[nsent] = *src;
    sent_dst[nsent] = *dst;
    sent[nsent++] = p;
    return 0;
}
static int fake_select(const struct net_addr *dst, struct netif *nif, struct net_addr *src) {
    if (dst->family == NET_AF_INET) *src = net_addr4(0x0a00020f);
    else { memset(src, 0, sizeof *src); src->family = NET_AF_INET6; src->v6[0] = 0xfe; src->v6[1] = 0x80; src->v6[15] = 1; }
    return 0;
}
static const struct udp_ip_ops fake_ops = {fake_output, fake_select};

static int setup(void **st) {
    (void)st;
    udp_init();
    udp_set_ip_ops(&fake_ops);
    nsent = 0;
    out_result = 0;
    udp_no_port_hook = NULL;
    return 0;
}
static int teardown(void **st) {
    (void)st;
    for (int i = 0; i < nsent; i++) pkt_free(sent[i]);
    nsent = 0;
    return 0;
}

static struct net_addr a6(uint8_t last) {
    struct net_addr a = {0};
    a.family = NET_AF_INET6;
    a.v6[0] = 0xfe; a.v6[1] = 0x80; a.v6[15] = last;
    return a;
}

/* A packet holding seg after `headroom` bytes of fake lower headers. */
static struct pkt *mkpkt(const uint8_t *seg, uint32_t len) {
    struct pkt *p = pkt_alloc(len);
    assert_non_null(p);
    memcpy(pkt_put(p, len), seg, len);
    return p;
}

/* Builds a UDP segment with a correct checksum (or `csum` forced when >= 0). */
static uint32_t mkseg(uint8_t *buf, const struct net_addr *s, const struct net_addr *d, uint16_t sp, uint16_t dp,
                      const char *payload, int csum) {
    uint32_t n = (uint32_t)strlen(payload) + 8;
    net_put16(buf, sp); net_put16(buf + 2, dp); net_put16(buf + 4, (uint16_t)n); net_put16(buf + 6, 0);
    memcpy(buf + 8, payload, n - 8);
    uint16_t c = udp_checksum(s, d, buf, n);
    net_put16(buf + 6, csum >= 0 ? (uint16_t)csum : (c ? c : 0xffff));
    return n;
}

static void test_bind_conflicts(void **st) {
    struct udp_sock a = {.family = NET_AF_INET}, b = {.family = NET_AF_INET}, c = {.family = NET_AF_INET},
                    d = {.family = NET_AF_INET6, .v6only = true}, e = {.family = NET_AF_INET6};
    struct net_addr lo = net_addr4(0x7f000001), me = net_addr4(0x0a00020f);
    assert_int_equal(udp_bind(&a, &lo, 53), 0);
    assert_int_equal(udp_bind(&a, &lo, 54), -KEINVAL);           /* already bound */
    assert_int_equal(udp_bind(&b, &lo, 53), -KEADDRINUSE);       /* same address */
    assert_int_equal(udp_bind(&b, NULL, 53), -KEADDRINUSE);      /* wildcard overlaps */
    assert_int_equal(udp_bind(&b, &me, 53), 0);                  /* other address: fine */
    assert_int_equal(udp_bind(&d, NULL, 53), 0);                 /* v6-only: other family */
    assert_int_equal(udp_bind(&e, NULL, 53), -KEADDRINUSE);      /* dual stack overlaps v4 */
    assert_int_equal(udp_bind(&c, &lo, 0), 0);
    assert_true(c.port >= UDP_EPHEMERAL_MIN);
    struct net_addr v6 = a6(1);
    struct udp_sock f = {.family = NET_AF_INET};
    assert_int_equal(udp_bind(&f, &v6, 7), -KEINVAL);            /* family mismatch */
    struct udp_sock g = {.family = 99};
    assert_int_equal(udp_bind(&g, NULL, 7), -KEINVAL);
    assert_int_equal(udp_bind(NULL, NULL, 7), -KEINVAL);
    udp_unbind(&a);
    assert_int_equal(udp_bind(&a, &lo, 53), 0);                  /* free again */
    udp_unbind(&a); udp_unbind(&a); udp_unbind(&b); udp_unbind(&c); udp_unbind(&d);
    udp_unbind(&e);                                              /* never bound: no-op */
}

static void test_ephemeral_exhaustion(void **st) {
    enum { N = UDP_EPHEMERAL_MAX - UDP_EPHEMERAL_MIN + 1 };
    struct udp_sock *s = calloc(N + 1, sizeof *s);
    static uint8_t seen[65536];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < N; i++) {
        s[i].family = NET_AF_INET;
        assert_int_equal(udp_bind(&s[i], NULL, 0), 0);
        assert_true(s[i].port >= UDP_EPHEMERAL_MIN);
        assert_false(seen[s[i].port]);
        seen[s[i].port] = 1;
    }
    s[N].family = NET_AF_INET;
    assert_int_equal(udp_bind(&s[N], NULL, 0), -KEADDRINUSE);
    uint16_t freed = s[1234].port;
    udp_unbind(&s[1234]);
    assert_int_equal(udp_bind(&s[N], NULL, 0), 0);
    assert_int_equal(s[N].port, freed);
    for (int i = 0; i <= N; i++) udp_unbind(&s[i]);
    free(s);
}

/* A known datagram: 10.0.2.15:49152 -> 10.0.2.3:53, payload "abc", checksum computed by
 * hand per RFC 768: pseudo 0a00+020f+0a00+0203+0011+000b, header c000+0035+000b, data
 * 6162+6300 = 0x19cd0 -> folded 0x9cd1, complement 0x632e. */
static void test_known_checksum(void **st) {
    uint8_t seg[11] = {0xc0, 0x00, 0x00, 0x35, 0x00, 0x0b, 0x63, 0x2e, 'a', 'b', 'c'};
    struct net_addr s = net_addr4(0x0a00020f), d = net_addr4(0x0a000203);
    assert_int_equal(udp_checksum(&s, &d, seg, 11), 0);
    seg[9] ^= 1;
    assert_int_not_equal(udp_checksum(&s, &d, seg, 11), 0);
}

static void test_demux_and_queue(void **st) {
    struct net_addr cli = net_addr4(0x0a000202), me = net_addr4(0x0a00020f), other = net_addr4(0x0a000210);
    struct udp_sock wild = {.family = NET_AF_INET}, exact = {.family = NET_AF_INET, .rx_limit = 3};
    assert_int_equal(udp_bind(&wild, &(struct net_addr){.family = NET_AF_INET}, 5000), 0);   /* explicit any address */
    udp_unbind(&wild);
    assert_int_equal(udp_bind(&exact, &me, 5000), 0);
    /* wildcard would conflict with the exact one: bind it on another address set instead */
    assert_int_equal(udp_bind(&wild, NULL, 5000), -KEADDRINUSE);
    uint8_t seg[64];
    for (int i = 0; i < 5; i++) {
        uint32_t n = mkseg(seg, &cli, &me, 1111, 5000, "hello", -1);
        udp_input(mkpkt(seg, n), &cli, &me);
    }
    assert_int_equal(udp_pending(&exact), 3);
    assert_int_equal(exact.rx_dropped, 2);
    assert_int_equal(udp_stats.queue_full, 2);
    struct udp_rxinfo info;
    struct pkt *p = udp_recv(&exact, &info);
    assert_non_null(p);
    assert_int_equal(p->len, 5);
    assert_memory_equal(p->data, "hello", 5);
    assert_int_equal(info.sport, 1111);
    assert_int_equal(info.dport, 5000);
    assert_memory_equal(info.src.v4, cli.v4, 4);
    assert_memory_equal(info.dst.v4, me.v4, 4);
    pkt_free(p);
    /* to another local address on the same port: nobody listens */
    uint32_t n = mkseg(seg, &cli, &other, 1111, 5000, "x", -1);
    udp_input(mkpkt(seg, n), &cli, &other);
    assert_int_equal(udp_stats.no_port, 1);
    udp_unbind(&exact);  /* frees the two still queued */
    assert_null(exact.rx_head);
}

static struct pkt *hooked;
static void hook(struct pkt *p, const struct net_addr *s, const struct net_addr *d) { hooked = p; }

static void test_exact_beats_wildcard_and_dualstack(void **st) {
    struct net_addr cli = net_addr4(0x0a000202), me = net_addr4(0x0a00020f);
    struct udp_sock v6 = {.family = NET_AF_INET6}, v4 = {.family = NET_AF_INET};
    struct udp_sock only6 = {.family = NET_AF_INET6, .v6only = true}, v4b = {.family = NET_AF_INET};
    assert_int_equal(udp_bind(&v6, NULL, 7000), 0);   /* dual stack wildcard */
    uint8_t seg[64];
    uint32_t n = mkseg(seg, &cli, &me, 1, 7000, "four", -1);
    udp_input(mkpkt(seg, n), &cli, &me);
    assert_int_equal(udp_pending(&v6), 1);            /* IPv4 reaches a dual-stack socket */
    udp_unbind(&v6);
    assert_int_equal(udp_bind(&only6, NULL, 7000), 0);
    assert_int_equal(udp_bind(&v4, &me, 7000), 0);
    assert_int_equal(udp_bind(&v4b, NULL, 7001), 0);
    udp_input(mkpkt(seg, n), &cli, &me);
    assert_int_equal(udp_pending(&v4), 1);
    assert_int_equal(udp_pending(&only6), 0);
    /* IPv6 to port 7000 */
    struct net_addr c6 = a6(2), m6 = a6(1);
    n = mkseg(seg, &c6, &m6, 9, 7000, "six", -1);
    udp_input(mkpkt(seg, n), &c6, &m6);
    assert_int_equal(udp_pending(&only6), 1);
    /* IPv6 to 7001 (IPv4-only socket): no port, hook gets it */
    udp_no_port_hook = hook;
    hooked = NULL;
    n = mkseg(seg, &c6, &m6, 9, 7001, "six", -1);
    udp_input(mkpkt(seg, n), &c6, &m6);
    assert_non_null(hooked);
    pkt_free(hooked);
    udp_unbind(&only6); udp_unbind(&v4); udp_unbind(&v4b);
}

static void test_checksum_rules(void **st) {
    struct net_addr cli = net_addr4(0x0a000202), me = net_addr4(0x0a00020f), c6 = a6(2), m6 = a6(1);
    struct udp_sock s4 = {.family = NET_AF_INET}, s6 = {.family = NET_AF_INET6, .v6only = true};
    assert_int_equal(udp_bind(&s4, NULL, 68), 0);
    assert_int_equal(udp_bind(&s6, NULL, 68), 0);
    uint8_t seg[64];
    uint32_t n = mkseg(seg, &cli, &me, 67, 68, "zero", 0);     /* IPv4: zero = no checksum */
    udp_input(mkpkt(seg, n), &cli, &me);
    assert_int_equal(udp_pending(&s4), 1);
    n = mkseg(seg, &c6, &m6, 67, 68, "zero", 0);               /* IPv6: zero is invalid */
    udp_input(mkpkt(seg, n), &c6, &m6);
    assert_int_equal(udp_pending(&s6), 0);
    assert_int_equal(udp_stats.bad_checksum, 1);
    n = mkseg(seg, &cli, &me, 67, 68, "bad", 0x1234);
    udp_input(mkpkt(seg, n), &cli, &me);
    assert_int_equal(udp_stats.bad_checksum, 2);
    n = mkseg(seg, &c6, &m6, 67, 68, "good", -1);
    udp_input(mkpkt(seg, n), &c6, &m6);
    assert_int_equal(udp_pending(&s6), 1);
    /* checksummed against the wrong pseudo header (other destination) */
    n = mkseg(seg, &cli, &me, 67, 68, "wrongdst", -1);
    struct net_addr bc = net_addr4(0xffffffff);
    udp_input(mkpkt(seg, n), &cli, &bc);
    assert_int_equal(udp_stats.bad_checksum, 3);
    udp_unbind(&s4); udp_unbind(&s6);
}

static void test_truncated_and_lengths(void **st) {
    struct net_addr cli = net_addr4(0x0a000202), me = net_addr4(0x0a00020f);
    struct udp_sock s = {.family = NET_AF_INET};
    assert_int_equal(udp_bind(&s, NULL, 9), 0);
    uint8_t seg[64];
    uint32_t n = mkseg(seg, &cli, &me, 1, 9, "payload", -1);
    for (uint32_t cut = 0; cut < n; cut++)     /* every truncation of a valid datagram */
        udp_input(mkpkt(seg, cut), &cli, &me);
    assert_int_equal(udp_pending(&s), 0);
    assert_int_equal(udp_stats.truncated, n);
    /* length field smaller than the header */
    net_put16(seg + 4, 7);
    udp_input(mkpkt(seg, n), &cli, &me);
    assert_int_equal(udp_stats.truncated, n + 1);
    /* IP payload longer than the UDP length (padding): trimmed, accepted */
    n = mkseg(seg, &cli, &me, 1, 9, "pad", -1);
    memset(seg + n, 0xee, 10);
    udp_input(mkpkt(seg, n + 10), &cli, &me);
    struct pkt *p = udp_recv(&s, NULL);
    assert_non_null(p);
    assert_int_equal(p->len, 3);
    pkt_free(p);
    /* empty payload */
    n = mkseg(seg, &cli, &me, 1, 9, "", -1);
    udp_input(mkpkt(seg, n), &cli, &me);
    p = udp_recv(&s, NULL);
    assert_non_null(p);
    assert_int_equal(p->len, 0);
    pkt_free(p);
    assert_null(udp_recv(&s, NULL));
    udp_unbind(&s);
}

static void test_no_headroom_copy(void **st) {
    struct net_addr cli = net_addr4(0x0a000202), me = net_addr4(0x0a00020f);
    struct udp_sock s = {.family = NET_AF_INET};
    assert_int_equal(udp_bind(&s, NULL, 9), 0);
    uint8_t seg[64];
    uint32_t n = mkseg(seg, &cli, &me, 1, 9, "tight", -1);
    struct pkt *p = pkt_alloc(n);
    p->data = p->head;      /* frame placed at the very start of the buffer */
    memcpy(pkt_put(p, n), seg, n);
    udp_input(p, &cli, &me);
    struct udp_rxinfo info;
    p = udp_recv(&s, &info);
    assert_non_null(p);
    assert_memory_equal(p->data, "tight", 5);
    assert_int_equal(info.sport, 1);
    pkt_free(p);
    udp_unbind(&s);
}

static void test_send(void **st) {
    struct udp_sock s = {.family = NET_AF_INET};
    struct net_addr dns = net_addr4(0x0a000203);
    assert_int_equal(udp_sendto(&s, &dns, 53, "abc", 3, NULL), 3);
    assert_true(s.bound);                       /* auto-bound to an ephemeral port */
    assert_int_equal(nsent, 1);
    struct pkt *p = sent[0];
    assert_int_equal(p->len, 11);
    assert_int_equal(net_get16(p->data), s.port);
    assert_int_equal(net_get16(p->data + 2), 53);
    assert_int_equal(net_get16(p->data + 4), 11);
    assert_int_equal(udp_checksum(&sent_src[0], &sent_dst[0], p->data, 11), 0);
    assert_int_equal(net_get32(sent_src[0].v4), 0x0a00020f);
    /* errors */
    assert_int_equal(udp_sendto(&s, &dns, 0, "a", 1, NULL), -KEINVAL);
    assert_int_equal(udp_sendto(&s, &dns, 53, NULL, 1, NULL), -KEINVAL);
    struct net_addr v6 = a6(3);
    assert_int_equal(udp_sendto(&s, &v6, 53, "a", 1, NULL), -KEINVAL);
    assert_int_equal(udp_sendto(&s, &dns, 53, "a", UDP_MAX_PAYLOAD4 + 1, NULL), -KEMSGSIZE);
    out_result = -KEAGAIN;
    assert_int_equal(udp_sendto(&s, &dns, 53, "a", 1, NULL), -KEAGAIN);
    out_result = 0;
    /* IPv6, maximum-size datagram */
    struct udp_sock s6 = {.family = NET_AF_INET6};
    static uint8_t big[UDP_MAX_PAYLOAD4];
    memset(big, 0x5a, sizeof big);
    assert_int_equal(udp_sendto(&s6, &v6, 53, big, sizeof big, NULL), (int)sizeof big);
    assert_int_equal(udp_checksum(&sent_src[1], &sent_dst[1], sent[1]->data, sent[1]->len), 0);
    udp_unbind(&s); udp_unbind(&s6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ephemeral_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demux_and_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_beats_wildcard_and_dualstack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_headroom_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
