/* ipv6_selftest.c: in-guest tests of IPv6 over QEMU user networking (slirp): the link-local
 * address from the MAC (RFC 4291 §2.5.1), SLAAC from slirp's router advertisement (prefix
 * fec0::/64, RFC 4862) within 3 s, and an ICMPv6 echo (RFC 4443 §4) to slirp's fec0::2.
 * The launcher always attaches eth0; a missing one fails the tests. */
#include "net_ipv6.h"
#include "selftest.h"
#include "printk.h"
#include "kstring.h"

static struct netif *eth0(void) {
    ipv6_init();  /* idempotent; until net_init calls it */
    return netif_find("eth0");
}

SELFTEST(ipv6, link_local) {
    struct netif *nif = eth0();
    ST_ASSERT(t, nif, "no eth0 (the launcher always attaches one)");
    uint8_t want[16];
    ip6_linklocal_from_mac(nif->mac, want);
    ST_ASSERT(t, nif->ip6_ll_valid, "no link-local address");
    ST_ASSERT(t, ip6_equal(want, nif->ip6_ll), "link-local is not fe80::EUI-64");
    char b[48];
    printk(LOG_INFO, "ipv6: %s link-local %s\n", nif->name, ip6_format(nif->ip6_ll, b));
}

SELFTEST_TIMEOUT(ipv6, slaac, 8000) {
    struct netif *nif = eth0();
    ST_ASSERT(t, nif, "no eth0 (the launcher always attaches one)");
    int r = wait_net_condition(nif->ip6_global_valid, 3000000000ull);
    ST_ASSERT(t, r == 1, "no SLAAC address within 3 s (RAs received: %u)", (unsigned)ipv6_stats.nd_ra_rx);
    static const uint8_t fec0[8] = {0xfe, 0xc0};
    ST_ASSERT(t, memcmp(nif->ip6_global, fec0, 8) == 0, "global address not in fec0::/64");
    ST_ASSERT(t, memcmp(nif->ip6_global + 8, nif->ip6_ll + 8, 8) == 0, "interface id differs from the MAC's");
    uint8_t rtr[16];
    ST_ASSERT(t, ndp_default_router(nif, rtr), "no default router");
    char b[48], c[48];
    printk(LOG_INFO, "ipv6: %s global %s, router %s\n", nif->name, ip6_format(nif->ip6_global, b),
           ip6_format(rtr, c));
}

SELFTEST_TIMEOUT(ipv6, ping_router, 8000) {
    struct netif *nif = eth0();
    ST_ASSERT(t, nif, "no eth0 (the launcher always attaches one)");
    static const uint8_t dst[16] = {0xfe, 0xc0, [15] = 2};
    if (!nif->ip6_global_valid) wait_net_condition(nif->ip6_global_valid, 3000000000ull);
    int got = 0;
    for (uint16_t seq = 1; seq <= 3 && !got; seq++) {
        int e = icmpv6_send_echo(dst, 0x5ab0, seq, "sabos-ping6", 11);
        ST_ASSERT(t, e == 0, "send failed: %d", e);
        got = wait_net_condition(icmpv6_echo_reply_seen(0x5ab0, seq, NULL), 1000000000ull) == 1;
    }
    ST_ASSERT(t, got, "no echo reply from fec0::2 (NS rx %u, NA rx %u, nd failures %u)",
              (unsigned)ipv6_stats.nd_ns_rx, (unsigned)ipv6_stats.nd_na_rx, (unsigned)ipv6_stats.tx_nd_failed);
}

SELFTEST(ipv6, hostile_input) {
    /* a truncated and a bad-version datagram are dropped and counted, never a crash */
    struct netif *nif = eth0();
    ST_ASSERT(t, nif, "no eth0 (the launcher always attaches one)");
    uint64_t trunc = ipv6_stats.rx_truncated, badv = ipv6_stats.rx_bad_version;
    struct pkt *p = pkt_alloc(64);
    ST_ASSERT(t, p, "no memory");
    memset(pkt_put(p, 20), 0x60, 20);
    p->netif = nif;
    ipv6_input(p);
    p = pkt_alloc(64);
    ST_ASSERT(t, p, "no memory");
    memset(pkt_put(p, 48), 0x45, 48);
    p->netif = nif;
    ipv6_input(p);
    ST_ASSERT(t, ipv6_stats.rx_truncated == trunc + 1, "truncated not counted");
    ST_ASSERT(t, ipv6_stats.rx_bad_version == badv + 1, "bad version not counted");
}
