/* test_net_core.c: host unit tests for the network core (kernel/net/pkt.c, checksum.c,
 * netif.c, ether.c, loopback.c): packet push/pull/put bounds and clones; the RFC 1071
 * checksum against the RFC's own example, a known IPv4 header, known UDP and TCP segments
 * (odd lengths, pseudo-headers), all-ones and zero data, and a plain reference sum over
 * random buffers; fault injection rates over 100,000 frames with a fixed seed (drop,
 * duplicate, reorder, nothing lost otherwise, deterministic); interface registration
 * errors; Ethernet framing and filtering with hostile frames; the loopback path and its
 * bound. Every test ends with no packet memory live. */
#include "host_stubs.h"
#include <string.h>
#include "net.h"
#include "spinlock.h"

/* ---- stubs for the kernel services the core uses ---- */
static long live_allocs;
static bool fail_alloc;
void *kmalloc(size_t n) {
    if (fail_alloc || n == 0)
        return NULL;
    void *p = malloc(n);
    if (p)
        live_allocs++;
    return p;
}
void *kzalloc(size_t n) {
    void *p = kmalloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}
void kfree(void *p) {
    if (p) {
        live_allocs--;
        free(p);
    }
}
static int lock_depth;
uint64_t spin_lock_irqsave(spinlock_t *l) {
    assert_int_equal(l->locked, 0); /* no recursion, no leaked lock */
    l->locked = 1;
    lock_depth++;
    return 0;
}
void spin_unlock_irqrestore(spinlock_t *l, uint64_t f) {
    (void)f;
    assert_int_equal(l->locked, 1);
    l->locked = 0;
    lock_depth--;
}
static int rx_ready_calls;
void netif_rx_ready(struct netif *nif) {
    nif->rx_pending = true;
    rx_ready_calls++;
}

#include "../../kernel/net/pkt.c"
#include "../../kernel/net/checksum.c"
#include "../../kernel/net/netif.c"
#include "../../kernel/net/ether.c"
/* The protocols are tested in their own host tests: here they only take the packet. */
void arp_input(struct pkt *p) { pkt_free(p); }
void ipv4_input(struct pkt *p) { pkt_free(p); }
void ipv6_input(struct pkt *p) { pkt_free(p); }
#include "../../kernel/net/loopback.c"

static int teardown(void **state) {
    (void)state;
    assert_int_equal(live_allocs, 0);
    assert_int_equal(lock_depth, 0);
    return 0;
}

/* ---- packets ---- */

static void test_pkt_bounds(void **state) {
    (void)state;
    struct pkt *p = pkt_alloc(100);
    assert_non_null(p);
    assert_int_equal(p->len, 0);
    assert_int_equal(p->data - p->head, PKT_HEADROOM);
    assert_null(pkt_pull(p, 1));                 /* nothing to strip */
    assert_non_null(pkt_put(p, 100));            /* exactly the room */
    assert_null(pkt_put(p, 1));                  /* one more: no */
    assert_null(pkt_put(p, UINT32_MAX));         /* huge: no wrap-around */
    assert_int_equal(p->len, 100);
    assert_non_null(pkt_push(p, PKT_HEADROOM));  /* all the headroom */
    assert_null(pkt_push(p, 1));
    assert_null(pkt_push(p, UINT32_MAX));
    assert_int_equal(p->len, 100 + PKT_HEADROOM);
    assert_null(pkt_pull(p, p->len + 1));
    assert_null(pkt_pull(p, UINT32_MAX));
    assert_non_null(pkt_pull(p, PKT_HEADROOM + 60));
    assert_int_equal(p->len, 40);
    pkt_trim(p, 1000);                           /* longer than len: no change */
    assert_int_equal(p->len, 40);
    pkt_trim(p, 10);
    assert_int_equal(p->len, 10);
    pkt_free(p);
    pkt_free(NULL);
    assert_null(pkt_alloc(UINT32_MAX));          /* absurd sizes refused, no overflow */
    assert_null(pkt_alloc(UINT32_MAX - PKT_HEADROOM + 1));
    fail_alloc = true;
    assert_null(pkt_alloc(10));
    fail_alloc = false;
}

static void test_pkt_clone(void **state) {
    (void)state;
    struct pkt *p = pkt_alloc(64);
    memcpy(pkt_put(p, 5), "hello", 5);
    pkt_push(p, 3)[0] = 'x';
    p->l3_offset = 7;
    struct pkt *c = pkt_clone(p);
    assert_non_null(c);
    assert_int_equal(c->len, p->len);
    assert_int_equal(c->data - c->head, p->data - p->head);
    assert_int_equal(c->l3_offset, 7);
    assert_memory_equal(c->data, p->data, p->len);
    c->data[3] = 'J';                            /* independent copies */
    assert_int_equal(p->data[3], 'h');
    assert_non_null(pkt_put(c, 64 - 5));         /* the same room remains */
    assert_null(pkt_put(c, 1));
    assert_null(pkt_clone(NULL));
    pkt_free(p);
    pkt_free(c);
}

/* ---- checksums ---- */

static uint16_t ref_csum(const uint8_t *b, size_t n) { /* RFC 1071 §4.1, literally */
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if (n & 1)
        sum += (uint32_t)b[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void hex(uint8_t *out, const char *s) {
    for (size_t i = 0; s[2 * i]; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void test_checksum_rfc1071(void **state) {
    (void)state;
    /* RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, so the checksum is 220d */
    static const uint8_t ex[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(net_csum_fold(net_csum_add(0, ex, sizeof ex)), 0x220d);
    /* split at even boundaries: the same */
    uint32_t s = net_csum_add(net_csum_add(net_csum_add(0, ex, 2), ex + 2, 4), ex + 6, 2);
    assert_int_equal(net_csum_fold(s), 0x220d);
    /* odd lengths: the last byte is padded with zero on the right */
    static const uint8_t one[] = {0x01};
    assert_int_equal(net_csum_fold(net_csum_add(0, one, 1)), 0xfeff);
    assert_int_equal(net_csum_fold(net_csum_add(0, ex, 7)), ref_csum(ex, 7));
    /* empty and all-zero data: 0xffff; all ones: 0 (one's-complement negative zero) */
    assert_int_equal(net_csum_fold(net_csum_add(0, ex, 0)), 0xffff);
    uint8_t buf[4096];
    memset(buf, 0, sizeof buf);
    assert_int_equal(net_csum_fold(net_csum_add(0, buf, sizeof buf)), 0xffff);
    memset(buf, 0xff, sizeof buf);
    for (size_t n = 2; n <= sizeof buf; n += 2)
        assert_int_equal(net_csum_fold(net_csum_add(0, buf, n)), 0x0000);
    assert_int_equal(net_csum_fold(net_csum_add(0, buf, 3)), ref_csum(buf, 3));
}

static void test_checksum_random_vs_reference(void **state) {
    (void)state;
    static uint8_t buf[70000]; /* longer than any datagram: carries across many folds */
    uint32_t x = 99;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t n = 0; n < 3000; n++)
        assert_int_equal(net_csum_fold(net_csum_add(0, buf + (n % 7), n)), ref_csum(buf + (n % 7), n));
    assert_int_equal(net_csum_fold(net_csum_add(0, buf, sizeof buf)), ref_csum(buf, sizeof buf));
    assert_int_equal(net_csum_fold(net_csum_add(0, buf, sizeof buf - 1)), ref_csum(buf, sizeof buf - 1));
}

static void test_checksum_known_packets(void **state) {
    (void)state;
    uint8_t b[64];
    /* IPv4 header (the classic 192.168.0.1 -> 192.168.0.199 UDP example): b861 */
    hex(b, "450000730000400040110000c0a80001c0a800c7");
    assert_int_equal(net_csum_fold(net_csum_add(0, b, 20)), 0xb861);
    net_put16(b + 10, 0xb861);
    assert_int_equal(net_csum_fold(net_csum_add(0, b, 20)), 0); /* verifies to zero */
    /* UDP DNS query 10.0.2.15:40000 -> 10.0.2.3:53, 37 bytes (odd): 697b */
    struct net_addr a15 = net_addr4(0x0a00020f), a3 = net_addr4(0x0a000203), a2 = net_addr4(0x0a000202);
    hex(b, "9c40003500250000123401000001000000000000076578616d706c6503636f6d0000010001");
    uint32_t s = net_csum_add(net_csum_pseudo(&a15, &a3, 17, 37), b, 37);
    assert_int_equal(net_csum_fold(s), 0x697b);
    net_put16(b + 6, 0x697b);
    assert_int_equal(net_csum_fold(net_csum_add(net_csum_pseudo(&a15, &a3, 17, 37), b, 37)), 0);
    /* TCP SYN-ACK 10.0.2.2:80 -> 10.0.2.15:49152 with MSS 1460 and 5 data bytes: 6a89 */
    hex(b, "0050c00011223344556677886012ffff00000000020405b468656c6c6f");
    assert_int_equal(net_csum_fold(net_csum_add(net_csum_pseudo(&a2, &a15, 6, 29), b, 29)), 0x6a89);
    /* IPv6 pseudo-header: same as summing the 40-byte layout of RFC 8200 §8.1 */
    struct net_addr s6 = {.family = NET_AF_INET6}, d6 = {.family = NET_AF_INET6};
    s6.v6[0] = 0xfe; s6.v6[1] = 0x80; s6.v6[15] = 1;
    d6.v6[0] = 0xff; d6.v6[1] = 0x02; d6.v6[15] = 0xff;
    uint8_t ph[40] = {0};
    memcpy(ph, s6.v6, 16);
    memcpy(ph + 16, d6.v6, 16);
    net_put32(ph + 32, 70000);
    ph[39] = 58;
    assert_int_equal(net_csum_fold(net_csum_pseudo(&s6, &d6, 58, 70000)), ref_csum(ph, 40));
}

/* ---- interfaces ---- */

struct sent {
    int count;
    uint32_t seq[200000];
};
static struct sent *sent;
static int fake_tx_result;

static int fake_transmit(struct netif *nif, struct pkt *p) {
    (void)nif;
    if (fake_tx_result) {
        pkt_free(p);
        return fake_tx_result;
    }
    if (sent && sent->count < 200000 && p->len >= ETH_HLEN + 4)
        sent->seq[sent->count++] = net_get32(p->data + ETH_HLEN);
    pkt_free(p);
    return 0;
}
static int fake_poll(struct netif *nif, int budget) { (void)nif; (void)budget; return 0; }
static const struct netif_ops fake_ops = {.transmit = fake_transmit, .poll = fake_poll};
static const struct netif_ops no_tx_ops = {.poll = fake_poll};
static const struct netif_ops no_poll_ops = {.transmit = fake_transmit};

static void count_cb(struct netif *nif, void *ctx) { (void)nif; (*(int *)ctx)++; }

static void test_netif_register_errors(void **state) {
    (void)state;
    static struct netif a = {.name = "regA", .ops = &fake_ops, .mtu = 1500};
    static struct netif a2 = {.name = "regA", .ops = &fake_ops};
    static struct netif b = {.name = "regB", .ops = &fake_ops};
    static struct netif noops = {.name = "x1"}, notx = {.name = "x2", .ops = &no_tx_ops},
                        nopoll = {.name = "x3", .ops = &no_poll_ops}, noname = {.ops = &fake_ops};
    static struct netif longname = {.ops = &fake_ops};
    memcpy(longname.name, "12345678", 8); /* no room for the NUL */
    int before = 0;
    netif_for_each(count_cb, &before);
    assert_int_equal(netif_register(NULL), -KEINVAL);
    assert_int_equal(netif_register(&noops), -KEINVAL);
    assert_int_equal(netif_register(&notx), -KEINVAL);
    assert_int_equal(netif_register(&nopoll), -KEINVAL);
    assert_int_equal(netif_register(&noname), -KEINVAL);
    assert_int_equal(netif_register(&longname), -KEINVAL);
    assert_int_equal(netif_register(&a), 0);
    assert_int_equal(netif_register(&a), -KEEXIST);  /* the same one twice */
    assert_int_equal(netif_register(&a2), -KEEXIST); /* the same name */
    assert_int_equal(netif_register(&b), 0);
    assert_ptr_equal(netif_find("regA"), &a);
    assert_ptr_equal(netif_find("regB"), &b);
    assert_null(netif_find("reg"));
    assert_null(netif_find(""));
    assert_null(netif_find(NULL));
    assert_null(netif_find("x1"));
    int after = 0;
    netif_for_each(count_cb, &after);
    assert_int_equal(after, before + 2);
}

static struct pkt *frame_with_seq(uint32_t seq) {
    struct pkt *p = pkt_alloc(64);
    uint8_t *d = pkt_put(p, 4);
    net_put32(d, seq);
    return p;
}

struct fault_result {
    int sent, dups, reordered;
};

static struct fault_result run_faults(struct netif *nif, uint32_t seed, int frames) {
    static const uint8_t dst[6] = {1, 2, 3, 4, 5, 6};
    nif->faults.seed = seed;
    sent->count = 0;
    for (int i = 0; i < frames; i++)
        assert_int_equal(eth_output(nif, frame_with_seq((uint32_t)i), dst, 0x88b5), 0);
    /* flush a held frame: turn faults off and send one more */
    nif->faults.drop_permille = nif->faults.duplicate_permille = nif->faults.reorder_permille = 0;
    assert_int_equal(eth_output(nif, frame_with_seq((uint32_t)frames), dst, 0x88b5), 0);
    assert_null(nif->faults.held);
    struct fault_result r = {sent->count, 0, 0};
    static uint8_t seen[100001];
    memset(seen, 0, sizeof seen);
    uint32_t high = 0;
    for (int i = 0; i < sent->count; i++) {
        uint32_t s = sent->seq[i];
        assert_true(s <= (uint32_t)frames);
        if (seen[s]++)
            r.dups++;
        else if (s < high)
            r.reordered++;
        if (s > high)
            high = s;
    }
    assert_int_equal(seen[frames], 1);
    return r;
}

static void test_fault_injection_rates(void **state) {
    (void)state;
    static struct netif f = {.name = "fault0", .ops = &fake_ops, .mtu = 1500, .flags = NETIF_UP};
    assert_int_equal(netif_register(&f), 0);
    sent = calloc(1, sizeof(*sent));
    /* off: everything in order, exactly once */
    struct fault_result r = run_faults(&f, 1, 1000);
    assert_int_equal(r.sent, 1001);
    assert_int_equal(r.dups + r.reordered, 0);
    /* drop 5 %, duplicate 3 %, reorder 2 % over 100,000 frames */
    const int N = 100000;
    f.faults = (struct netif_faults){.drop_permille = 50, .duplicate_permille = 30, .reorder_permille = 20};
    uint64_t dropped0 = f.stats.tx_dropped;
    r = run_faults(&f, 12345, N);
    uint64_t dropped = f.stats.tx_dropped - dropped0;
    fprintf(stderr, "faults: dropped %lu dups %d reordered %d sent %d\n", (unsigned long)dropped, r.dups, r.reordered, r.sent);
    assert_true(dropped > 4500 && dropped < 5500);               /* 5 % +- 0.5 % */
    assert_true(r.dups > 2400 && r.dups < 3300);                  /* 3 % of the ~95 % kept */
    assert_true(r.reordered > 1400 && r.reordered < 2200);        /* ~2 % of the survivors */
    /* every frame not dropped arrived: distinct = N + 1 - dropped */
    assert_int_equal(r.sent - r.dups, N + 1 - (int)dropped);
    /* deterministic for a fixed seed */
    f.faults = (struct netif_faults){.drop_permille = 50, .duplicate_permille = 30, .reorder_permille = 20};
    struct fault_result r2 = run_faults(&f, 12345, N);
    assert_int_equal(r2.sent, r.sent);
    assert_int_equal(r2.dups, r.dups);
    assert_int_equal(r2.reordered, r.reordered);
    /* drop everything */
    f.faults = (struct netif_faults){.drop_permille = 1000};
    r = run_faults(&f, 7, 500);
    assert_int_equal(r.sent, 1); /* only the flush frame */
    free(sent);
    sent = NULL;
}

static void test_transmit_errors(void **state) {
    (void)state;
    static struct netif t = {.name = "txe0", .ops = &fake_ops, .mtu = 100, .flags = NETIF_UP,
                             .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
    assert_int_equal(netif_register(&t), 0);
    static const uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    sent = calloc(1, sizeof(*sent));
    struct pkt *p = pkt_alloc(200);
    pkt_put(p, 101);
    assert_int_equal(eth_output(&t, p, dst, ETH_P_IP), -KEMSGSIZE); /* above the MTU */
    p = pkt_alloc(200);
    pkt_put(p, 100);
    assert_int_equal(eth_output(&t, p, dst, ETH_P_IP), 0);         /* exactly the MTU */
    assert_int_equal(t.stats.tx_packets, 1);
    assert_int_equal(t.stats.tx_bytes, 114);
    p = pkt_alloc(10);
    p->data = p->head; /* no headroom */
    pkt_put(p, 4);
    assert_int_equal(eth_output(&t, p, dst, ETH_P_IP), -KENOSPC);
    assert_int_equal(eth_output(&t, NULL, dst, ETH_P_IP), -KEINVAL);
    assert_int_equal(eth_output(NULL, pkt_alloc(4), dst, ETH_P_IP), -KEINVAL);
    assert_int_equal(eth_output(&t, pkt_alloc(4), NULL, ETH_P_IP), -KEINVAL);
    p = pkt_alloc(10);
    pkt_put(p, 5);
    assert_int_equal(netif_transmit(&t, p), -KEMSGSIZE);           /* shorter than a header */
    assert_int_equal(netif_transmit(NULL, pkt_alloc(4)), -KEINVAL);
    assert_int_equal(netif_transmit(&t, NULL), -KEINVAL);
    t.flags = 0;                                                   /* down */
    p = pkt_alloc(64);
    pkt_put(p, 20);
    assert_int_equal(eth_output(&t, p, dst, ETH_P_IP), -KEIO);
    t.flags = NETIF_UP;
    fake_tx_result = -KENOSPC;                                     /* ring full */
    uint64_t drops = t.stats.tx_dropped;
    p = pkt_alloc(64);
    pkt_put(p, 20);
    assert_int_equal(eth_output(&t, p, dst, ETH_P_IP), -KENOSPC);
    assert_int_equal(t.stats.tx_dropped, drops + 1);
    fake_tx_result = 0;
    assert_int_equal(t.stats.tx_packets, 1);
    free(sent);
    sent = NULL;
}

/* ---- Ethernet input ---- */

static int hook_calls;
static uint16_t hook_type;
static bool hook_take;
static bool test_hook(struct pkt *p, uint16_t type) {
    hook_calls++;
    hook_type = type;
    if (hook_take)
        pkt_free(p);
    return hook_take;
}

static struct pkt *raw_frame(const uint8_t dst[6], uint16_t type, uint32_t len) {
    struct pkt *p = pkt_alloc(len < 14 ? 14 : len);
    uint8_t *d = pkt_put(p, len);
    memset(d, 0xab, len);
    if (len >= 14) {
        memcpy(d, dst, 6);
        net_put16(d + 12, type);
    }
    return p;
}

static void test_eth_input_filtering(void **state) {
    (void)state;
    static struct netif e = {.name = "ein0", .ops = &fake_ops, .mtu = 1500, .flags = NETIF_UP,
                             .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
    assert_int_equal(netif_register(&e), 0);
    static const uint8_t other[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x57}, mcast[6] = {0x33, 0x33, 0, 0, 0, 1};
    /* truncated frames: errors, freed */
    for (uint32_t len = 0; len < 14; len++)
        netif_receive(&e, raw_frame(e.mac, 0, len));
    assert_int_equal(e.stats.rx_errors, 14);
    assert_int_equal(e.stats.rx_packets, 14);
    /* ours / broadcast / multicast go to the (weak, dropping) protocols; others dropped */
    netif_receive(&e, raw_frame(e.mac, ETH_P_ARP, 42));
    netif_receive(&e, raw_frame(eth_broadcast, ETH_P_IP, 60));
    netif_receive(&e, raw_frame(mcast, ETH_P_IPV6, 80));
    netif_receive(&e, raw_frame(other, ETH_P_IP, 60));   /* not ours */
    netif_receive(&e, raw_frame(e.mac, 0x05dc, 60));     /* 802.3 length */
    netif_receive(&e, raw_frame(e.mac, 0x1234, 60));     /* unknown type */
    assert_int_equal(e.stats.rx_packets, 20);
    assert_int_equal(e.stats.rx_bytes, 42 + 60 + 80 + 60 + 60 + 60 + (0 + 13) * 14 / 2);
    /* the weak protocol entries drop silently (not counted); the three bad ones count */
    assert_int_equal(e.stats.rx_dropped, 3);
    /* the test hook sees frames first, with the ethertype */
    eth_test_hook = test_hook;
    hook_take = true;
    netif_receive(&e, raw_frame(e.mac, ETH_P_ARP, 42));
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_type, ETH_P_ARP);
    hook_take = false;
    netif_receive(&e, raw_frame(e.mac, 0x4242, 42));
    assert_int_equal(hook_calls, 2);
    assert_int_equal(e.stats.rx_dropped, 4);
    eth_test_hook = NULL;
    netif_receive(NULL, raw_frame(e.mac, ETH_P_IP, 60)); /* no interface: freed */
    netif_receive(&e, NULL);
    eth_input(NULL);
    /* random garbage of every length never crashes and never leaks */
    uint32_t x = 5;
    for (int i = 0; i < 20000; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t len = x % 1600;
        struct pkt *p = pkt_alloc(len);
        for (uint32_t k = 0; k < len; k++)
            pkt_put(p, 1)[0] = (uint8_t)((x >> (k % 24)) + k);
        if (len >= 6 && (x & 3) == 0)
            memcpy(p->data, e.mac, 6);
        netif_receive(&e, p);
    }
}

/* ---- loopback ---- */

static void test_loopback(void **state) {
    (void)state;
    assert_int_equal(loopback_init(), 0);
    struct netif *lo = netif_find("lo");
    assert_non_null(lo);
    assert_true(lo->flags & NETIF_LOOPBACK);
    assert_int_equal(loopback_init(), -KEEXIST);
    static const uint8_t zero[6] = {0};
    eth_test_hook = test_hook;
    hook_take = true;
    hook_calls = 0;
    rx_ready_calls = 0;
    struct pkt *p = pkt_alloc(64);
    memcpy(pkt_put(p, 5), "ping!", 5);
    assert_int_equal(eth_output(lo, p, zero, 0x88b5), 0);
    assert_true(lo->rx_pending);
    assert_int_equal(rx_ready_calls, 1);
    assert_int_equal(hook_calls, 0);              /* nothing until the poller polls */
    assert_int_equal(lo->ops->poll(lo, 64), 1);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_type, 0x88b5);
    assert_int_equal(lo->ops->poll(lo, 64), 0);
    assert_int_equal(lo->stats.tx_packets, 1);
    assert_int_equal(lo->stats.rx_packets, 1);
    /* bounded queue: LO_QUEUE_MAX frames, then drops */
    for (int i = 0; i < LO_QUEUE_MAX; i++) {
        p = pkt_alloc(16);
        pkt_put(p, 16);
        assert_int_equal(eth_output(lo, p, zero, 0x88b5), 0);
    }
    p = pkt_alloc(16);
    pkt_put(p, 16);
    assert_int_equal(eth_output(lo, p, zero, 0x88b5), -KENOSPC);
    assert_int_equal(loopback_queued(), LO_QUEUE_MAX);
    /* the budget is respected */
    assert_int_equal(lo->ops->poll(lo, 10), 10);
    int total = 10, n;
    while ((n = lo->ops->poll(lo, 64)) > 0)
        total += n;
    assert_int_equal(total, LO_QUEUE_MAX);
    assert_int_equal(hook_calls, 1 + LO_QUEUE_MAX);
    eth_test_hook = NULL;
    hook_take = false;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pkt_bounds, teardown),
        cmocka_unit_test_teardown(test_pkt_clone, teardown),
        cmocka_unit_test_teardown(test_checksum_rfc1071, teardown),
        cmocka_unit_test_teardown(test_checksum_random_vs_reference, teardown),
        cmocka_unit_test_teardown(test_checksum_known_packets, teardown),
        cmocka_unit_test_teardown(test_netif_register_errors, teardown),
        cmocka_unit_test_teardown(test_fault_injection_rates, teardown),
        cmocka_unit_test_teardown(test_transmit_errors, teardown),
        cmocka_unit_test_teardown(test_eth_input_filtering, teardown),
        cmocka_unit_test_teardown(test_loopback, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
