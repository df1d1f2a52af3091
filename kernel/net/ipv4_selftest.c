/* ipv4_selftest.c: in-guest tests of ARP, IPv4 and ICMP (RFC 826, RFC 791, RFC 792) against
 * QEMU user networking: with 10.0.2.15/24 gw 10.0.2.2 on eth0, an ICMP echo request to the
 * gateway (slirp answers it) must get its reply within 1 s, after ARP resolved the gateway. */
#include "net_ipv4.h"
#include "selftest.h"

static volatile int ping_replies;

static void ping_hook(const struct net_addr *from, uint16_t id, uint16_t seq, const uint8_t *data,
                      size_t len, void *ctx) {
    (void)ctx; (void)data;
    if (from->v4[0] == 10 && from->v4[3] == 2 && id == 0x5ab0 && seq == 1 && len == 32)
        __atomic_fetch_add(&ping_replies, 1, __ATOMIC_RELAXED);
}

SELFTEST(ipv4, ping_gateway) {
    net_init();
    ipv4_init();
    struct netif *nif = netif_find("eth0");
    ST_ASSERT(t, nif != NULL, "no eth0 interface");
    static const uint8_t ip[4] = {10, 0, 2, 15}, mask[4] = {255, 255, 255, 0}, gw[4] = {10, 0, 2, 2};
    ip4_configure(nif, ip, mask, gw);
    ping_replies = 0;
    ST_ASSERT(t, icmp_register_echo_hook(ping_hook, NULL) == 0, "no echo hook slot");
    uint8_t payload[32];
    for (int i = 0; i < 32; i++) payload[i] = (uint8_t)i;
    struct net_addr dst = net_addr4(0x0a000202);
    int r = icmp_send_echo(&dst, 0x5ab0, 1, payload, sizeof(payload));
    int w = r == 0 ? wait_net_condition(__atomic_load_n(&ping_replies, __ATOMIC_RELAXED) > 0, 1000000000ull) : 0;
    icmp_unregister_echo_hook(ping_hook, NULL);
    ST_ASSERT(t, r == 0, "icmp_send_echo: %d", r);
    ST_ASSERT(t, w == 1, "no echo reply from 10.0.2.2 within 1 s (arp tx %lu rx %lu, icmp rx %lu)",
              (unsigned long)arp_stats.tx_requests, (unsigned long)arp_stats.rx_replies,
              (unsigned long)icmp_stats.rx_packets);
    uint8_t mac[6];
    ST_ASSERT(t, arp_lookup(gw, mac), "gateway not in the ARP cache");
}

SELFTEST(ipv4, no_route) {
    ipv4_init();
    struct net_addr dst = net_addr4(0xc0a80101);
    struct netif *nif;
    uint8_t nh[4];
    /* with only eth0's routes, 192.168.1.1 goes through the default gateway or is unreachable */
    int r = ip4_route_lookup(dst.v4, &nif, nh);
    ST_ASSERT(t, r == 0 || r == -KENETUNREACH, "lookup: %d", r);
    ST_ASSERT(t, icmp_send_echo(&dst, 1, 1, &dst, 70000) == -KEMSGSIZE, "huge echo accepted");
}
