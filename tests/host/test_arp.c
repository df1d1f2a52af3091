/* test_arp.c: host unit tests for kernel/net/arp.c (RFC 826, RFC 1122 §2.3.2.1-2, RFC 5227):
 * answering requests for our address (exact reply bytes), learning only what RFC 826 allows,
 * resolution with a queue of waiting packets, the queue bound, three requests 1 s apart then
 * the queue dropped and counted, 60 s expiry, hostile packets (wrong htype/ptype/hlen/plen/
 * operation, truncated, multicast sender) and gratuitous ARP. The stubs come from
 * test_ipv4.c. */
#define NET_STUBS_ONLY
#include "test_ipv4.c"

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ZMAC[6];

static void test_reply_exact(void **state) {
    (void)state;
    uint8_t a[28];
    mk_arp(a, 1, PEER_MAC, PEER_IP, ZMAC, OUR_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].type, ETH_P_ARP);
    assert_memory_equal(sent[0].dst, PEER_MAC, 6);
    uint8_t expect[28];
    mk_arp(expect, 2, test_nif.mac, OUR_IP, PEER_MAC, PEER_IP);
    assert_int_equal(sent[0].len, 28);
    assert_memory_equal(sent[0].data, expect, 28);
    uint8_t mac[6];
    assert_true(arp_lookup(PEER_IP, mac));                 /* the requester was learned */
    assert_memory_equal(mac, PEER_MAC, 6);
    /* a request for someone else: no answer, nothing learned */
    mk_arp(a, 1, GW_MAC, GW, ZMAC, (const uint8_t[4]){10, 0, 2, 77});
    arp_input(rx_pkt(&test_nif, a, 28));
    assert_int_equal(nsent, 1);
    assert_false(arp_lookup(GW, mac));
    /* padded frame (60 bytes) is fine */
    uint8_t pad[46] = {0};
    mk_arp(pad, 1, GW_MAC, GW, ZMAC, OUR_IP);
    arp_input(rx_pkt(&test_nif, pad, 46));
    assert_int_equal(nsent, 2);
    assert_int_equal(arp_stats.rx_requests, 3);
}

static struct pkt *udp_like(uint32_t n) {
    struct pkt *p = pkt_alloc(n);
    memset(pkt_put(p, n), 0x11, n);
    return p;
}

static void test_resolve_queue(void **state) {
    (void)state;
    struct net_addr d = net_addr4(0x0a000203);            /* PEER_IP, on-link */
    for (int i = 0; i < ARP_QUEUE_MAX; i++) assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(10 + i)), 0);
    assert_int_equal(nsent, 1);                            /* one request, not eight */
    assert_int_equal(sent[0].type, ETH_P_ARP);
    assert_memory_equal(sent[0].dst, BCAST, 6);
    uint8_t expect[28];
    mk_arp(expect, 1, test_nif.mac, OUR_IP, ZMAC, PEER_IP);
    assert_memory_equal(sent[0].data, expect, 28);
    assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(5)), -KENOBUFS);   /* queue bound */
    assert_int_equal(arp_stats.dropped_queue_full, 1);
    uint8_t a[28];
    mk_arp(a, 2, PEER_MAC, PEER_IP, test_nif.mac, OUR_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    assert_int_equal(nsent, 1 + ARP_QUEUE_MAX);
    for (int i = 0; i < ARP_QUEUE_MAX; i++) {              /* in order, to the learned MAC */
        assert_int_equal(sent[1 + i].type, ETH_P_IP);
        assert_memory_equal(sent[1 + i].dst, PEER_MAC, 6);
        assert_int_equal(sent[1 + i].len, 20 + 10 + i);
    }
    assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(5)), 0);           /* cached now */
    assert_int_equal(nsent, 2 + ARP_QUEUE_MAX);
}

static void test_retries_then_drop(void **state) {
    (void)state;
    struct net_addr d = net_addr4(0x0a000209);
    assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(10)), 0);
    assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(10)), 0);
    assert_int_equal(nsent, 1);
    fake_now += ARP_RETRY_NS / 2;
    arp_timer(fake_now);
    assert_int_equal(nsent, 1);                            /* not yet */
    fake_now += ARP_RETRY_NS / 2;
    arp_timer(fake_now);
    assert_int_equal(nsent, 2);
    fake_now += ARP_RETRY_NS;
    arp_timer(fake_now);
    assert_int_equal(nsent, 3);
    assert_int_equal(arp_stats.tx_requests, 1 + 3);      /* + the announcement of net_setup */
    assert_int_equal(live_pkts, 2);
    fake_now += ARP_RETRY_NS;
    arp_timer(fake_now);
    assert_int_equal(nsent, 3);                            /* no fourth request */
    assert_int_equal(arp_stats.dropped_unresolved, 2);
    assert_int_equal(live_pkts, 0);
    /* a later packet starts over */
    assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(10)), 0);
    assert_int_equal(nsent, 4);
}

static void test_expiry(void **state) {
    (void)state;
    uint8_t a[28], mac[6];
    mk_arp(a, 1, PEER_MAC, PEER_IP, ZMAC, OUR_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    fake_now += ARP_EXPIRY_NS - 1;
    arp_timer(fake_now);
    assert_true(arp_lookup(PEER_IP, mac));
    fake_now += 1;
    assert_false(arp_lookup(PEER_IP, mac));                /* expired even before the timer */
    arp_timer(fake_now);
    assert_false(arp_lookup(PEER_IP, mac));
    /* sending now asks again */
    nsent = 0;
    struct net_addr d = net_addr4(0x0a000203);
    assert_int_equal(ipv4_output(NULL, &d, 17, udp_like(10)), 0);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].type, ETH_P_ARP);
}

static void test_hostile(void **state) {
    (void)state;
    uint8_t a[28], mac[6];
    struct { int off; uint8_t val; } bad[] = {{1, 6}, {3, 0xdd}, {4, 8}, {5, 16}, {7, 3}, {7, 0}, {8, 0x01}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        mk_arp(a, 1, PEER_MAC, PEER_IP, ZMAC, OUR_IP);
        a[bad[i].off] = bad[i].val;
        arp_input(rx_pkt(&test_nif, a, 28));
    }
    mk_arp(a, 1, PEER_MAC, PEER_IP, ZMAC, OUR_IP);
    for (uint32_t len = 0; len < 28; len++) arp_input(rx_pkt(&test_nif, a, len));   /* truncated */
    assert_int_equal(arp_stats.rx_bad, ARRAY_SIZE(bad) + 28);
    assert_int_equal(nsent, 0);
    assert_false(arp_lookup(PEER_IP, mac));
    /* a sender claiming our own address or a broadcast one is not learned */
    mk_arp(a, 2, PEER_MAC, OUR_IP, test_nif.mac, OUR_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    mk_arp(a, 2, PEER_MAC, (const uint8_t[4]){255, 255, 255, 255}, test_nif.mac, OUR_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    assert_false(arp_lookup(OUR_IP, mac));
    assert_false(arp_lookup((const uint8_t[4]){255, 255, 255, 255}, mac));
    /* a flood of requests from many senders never overflows the cache */
    for (int i = 0; i < 3 * ARP_CACHE_SIZE; i++) {
        mk_arp(a, 1, PEER_MAC, (const uint8_t[4]){10, 0, (uint8_t)(i >> 8), (uint8_t)i}, ZMAC, OUR_IP);
        arp_input(rx_pkt(&test_nif, a, 28));
    }
    assert_true(arp_stats.evictions > 0);
}

static void test_gratuitous(void **state) {
    (void)state;
    arp_announce(&test_nif);
    assert_int_equal(nsent, 1);
    assert_memory_equal(sent[0].dst, BCAST, 6);
    uint8_t expect[28], a[28], mac[6];
    mk_arp(expect, 1, test_nif.mac, OUR_IP, ZMAC, OUR_IP);
    assert_memory_equal(sent[0].data, expect, 28);
    arp_announce(&test_nif2);                              /* no address: silent */
    assert_int_equal(nsent, 1);
    /* a peer's gratuitous ARP updates an existing entry (new MAC) but creates none */
    mk_arp(a, 1, PEER_MAC, PEER_IP, ZMAC, OUR_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    mk_arp(a, 1, GW_MAC, PEER_IP, ZMAC, PEER_IP);
    arp_input(rx_pkt(&test_nif, a, 28));
    assert_true(arp_lookup(PEER_IP, mac));
    assert_memory_equal(mac, GW_MAC, 6);
    mk_arp(a, 1, GW_MAC, (const uint8_t[4]){10, 0, 2, 50}, ZMAC, (const uint8_t[4]){10, 0, 2, 50});
    arp_input(rx_pkt(&test_nif, a, 28));
    assert_false(arp_lookup((const uint8_t[4]){10, 0, 2, 50}, mac));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_exact, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_resolve_queue, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_retries_then_drop, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_hostile, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_gratuitous, net_setup, net_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
