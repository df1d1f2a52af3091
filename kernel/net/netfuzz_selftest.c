/* netfuzz_selftest.c: the frame fuzzer in the guest (group "netfuzz"): 100,000 random and
 * mutated Ethernet frames (ARP, IPv4 with ICMP/UDP/TCP and fragments, IPv6 with ICMPv6 and
 * neighbour discovery, random bytes) go through netif_receive on the loopback interface, the
 * same entry the drivers use. The kernel must stay up, and the heap must come back to where it
 * was (every packet freed, nothing left in a queue that the fuzzer's traffic created). The host
 * tests run the same kind of fuzzer per protocol under ASan (tests/host/test_*.c). */
#include "selftest.h"
#include "net.h"
#include "mm.h"
#include "kstring.h"
#include "sched.h"
#include "time.h"
#include "printk.h"

#define FRAMES 100000

static uint32_t rng_state;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Writes an IPv4 header for a payload of plen bytes with protocol proto; returns its length. */
static uint32_t ip4_header(uint8_t *h, uint8_t proto, uint32_t plen, uint16_t frag) {
    memset(h, 0, 20);
    h[0] = 0x45;
    net_put16(h + 2, (uint16_t)(20 + plen));
    net_put16(h + 4, (uint16_t)rnd());
    net_put16(h + 6, frag);
    h[8] = 64;
    h[9] = proto;
    static const uint8_t src[4] = {10, 0, 2, 2}, dst[4] = {127, 0, 0, 1};
    memcpy(h + 12, src, 4);
    memcpy(h + 16, dst, 4);
    net_put16(h + 10, net_csum_fold(net_csum_add(0, h, 20)));
    return 20;
}

/* Builds one frame of a random kind into f; returns its length. */
static uint32_t build_frame(uint8_t *f, const uint8_t mac[6]) {
    memcpy(f, mac, 6);
    static const uint8_t peer[6] = {0x52, 0x54, 0x00, 0x12, 0x35, 0x02};
    memcpy(f + 6, peer, 6);
    uint32_t kind = rnd() % 8, len = ETH_HLEN;
    uint8_t *l3 = f + ETH_HLEN;
    switch (kind) {
    case 0: /* ARP request or reply */
        net_put16(f + 12, ETH_P_ARP);
        net_put16(l3, 1); net_put16(l3 + 2, ETH_P_IP); l3[4] = 6; l3[5] = 4;
        net_put16(l3 + 6, (uint16_t)(1 + rnd() % 2));
        memcpy(l3 + 8, peer, 6);
        l3[14] = 10; l3[15] = 0; l3[16] = 2; l3[17] = (uint8_t)rnd();
        memset(l3 + 18, 0, 6);
        l3[24] = 127; l3[25] = 0; l3[26] = 0; l3[27] = 1;
        len += 28;
        break;
    case 1: case 2: case 3: { /* IPv4: ICMP echo, UDP, TCP */
        net_put16(f + 12, ETH_P_IP);
        uint8_t proto = kind == 1 ? 1 : kind == 2 ? 17 : 6;
        uint32_t plen = 8 + rnd() % 200;
        uint8_t *l4 = l3 + 20;
        for (uint32_t i = 0; i < plen; i++) l4[i] = (uint8_t)rnd();
        if (proto == 1) { l4[0] = 8; l4[1] = 0; }
        if (proto == 6 && plen < 20) plen = 20;
        if (proto == 6) { l4[12] = 0x50; }
        len += ip4_header(l3, proto, plen, (rnd() % 8 == 0) ? (uint16_t)(0x2000 | (rnd() % 64)) : 0) + plen;
        break;
    }
    case 4: case 5: { /* IPv6: ICMPv6 echo / neighbour solicitation / random next header */
        net_put16(f + 12, ETH_P_IPV6);
        uint32_t plen = 8 + rnd() % 200;
        memset(l3, 0, 40);
        l3[0] = 0x60;
        net_put16(l3 + 4, (uint16_t)plen);
        l3[6] = kind == 4 ? 58 : (uint8_t)rnd();
        l3[7] = 255;
        l3[8] = 0xfe; l3[9] = 0x80; l3[23] = 2;
        l3[24] = 0xfe; l3[25] = 0x80; l3[39] = 1;
        for (uint32_t i = 0; i < plen; i++) l3[40 + i] = (uint8_t)rnd();
        if (kind == 4) l3[40] = (uint8_t)(128 + rnd() % 10); /* echo, RS, RA, NS, NA, redirect */
        len += 40 + plen;
        break;
    }
    default: /* random bytes with a random or a real ethertype */
        net_put16(f + 12, (rnd() & 1) ? (uint16_t)rnd() : (rnd() & 1) ? ETH_P_IP : ETH_P_IPV6);
        for (uint32_t i = 0; i < 200; i++) l3[i] = (uint8_t)rnd();
        len += rnd() % 200;
        break;
    }
    /* Mutate a few bytes of most frames, and truncate some. */
    if (rnd() % 4) {
        int flips = 1 + (int)(rnd() % 4);
        for (int i = 0; i < flips; i++) f[ETH_HLEN + rnd() % (len - ETH_HLEN + 1)] ^= (uint8_t)(1u << (rnd() % 8));
    }
    if (rnd() % 8 == 0) len = ETH_HLEN + rnd() % (len - ETH_HLEN + 1);
    return len;
}

SELFTEST_TIMEOUT(netfuzz, hundred_thousand_frames, 120000) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo, "no loopback interface");
    rng_state = 0x5ab05ab0u;
    static uint8_t frame[PKT_MAX_FRAME];
    struct heap_stats h0, h1;
    /* Let what the boot started settle, then measure. */
    task_sleep_ns(200000000);
    heap_get_stats(&h0);
    uint64_t rx0 = lo->stats.rx_packets, tx0 = lo->stats.tx_packets;
    int built = 0;
    for (int i = 0; i < FRAMES; i++) {
        uint32_t len = build_frame(frame, lo->mac);
        struct pkt *p = pkt_alloc(len);
        ST_ASSERT(t, p, "no memory for frame %d", i);
        memcpy(pkt_put(p, len), frame, len);
        p->netif = lo;
        netif_receive(lo, p);
        built++;
        if ((i & 1023) == 0) task_yield(); /* let net_poller drain what the replies queued */
    }
    /* Replies to the fuzz traffic (ICMP errors, ARP replies) went to the loopback queue and
     * come back through net_poller; give it time to drain, and fragments time to expire. */
    uint64_t deadline = time_ns() + 40000000000ull;
    for (;;) {
        task_sleep_ns(100000000);
        heap_get_stats(&h1);
        if (h1.allocations <= h0.allocations + 16 || time_ns() > deadline) break;
    }
    ST_ASSERT(t, built == FRAMES, "only %d frames fed", built);
    uint64_t rx = lo->stats.rx_packets - rx0, tx = lo->stats.tx_packets - tx0;
    printk(LOG_INFO, "netfuzz: %d frames fed, lo received %lu and sent %lu (answers to the valid ones)\n", built,
           (unsigned long)rx, (unsigned long)tx);
    /* The stack must have answered some of them (echo requests, ARP requests): the frames
     * really went through the protocols, not just into a drop counter at the door. */
    ST_ASSERT(t, rx >= FRAMES, "lo counted %lu received frames for %d fed", (unsigned long)rx, FRAMES);
    ST_ASSERT(t, tx > 0, "the stack answered none of the frames");
    ST_ASSERT(t, h1.allocations <= h0.allocations + 16,
              "heap allocations %lu before the fuzzer, %lu after (packets leaked or still queued)",
              (unsigned long)h0.allocations, (unsigned long)h1.allocations);
}
