/* ether.c: Ethernet II framing (IEEE 802.3 clause 3.2.6 "Length/Type" >= 0x0600 is a type;
 * RFC 894 for IPv4 over Ethernet, RFC 826 ARP, RFC 2464 IPv6). eth_input checks the
 * destination (ours, broadcast or multicast; a loopback interface takes everything), strips
 * the header and dispatches by ethertype; eth_output prepends the header and sends.
 *
 * arp_input, ipv4_input and ipv6_input (arp.c, ipv4.c, ipv6.c; declared in net.h) receive the
 * packet with p->data at their header (the Ethernet header pulled, p->l3_offset set) and take
 * ownership.
 *
 * eth_test_hook: a self-test may set it to see received frames first (p->data at the
 * Ethernet header); returning true means the hook took the packet. */
#include "net.h"
#include "kstring.h"

/* Test hook (see above); NULL normally. */
bool (*volatile eth_test_hook)(struct pkt *p, uint16_t ethertype);

static const uint8_t eth_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void drop(struct pkt *p) {
    if (p->netif)
        __atomic_fetch_add(&p->netif->stats.rx_dropped, 1, __ATOMIC_RELAXED);
    pkt_free(p);
}

/* A received frame (Ethernet header at p->data): filter, strip, dispatch. */
void eth_input(struct pkt *p) {
    if (!p)
        return;
    if (p->len < ETH_HLEN) {
        drop(p);
        return;
    }
    const uint8_t *h = p->data;
    uint16_t type = net_get16(h + 12);
    struct netif *nif = p->netif;
    bool loop = nif && (nif->flags & NETIF_LOOPBACK);
    bool for_us = loop || (h[0] & 1) /* broadcast or multicast */ || (nif && memcmp(h, nif->mac, 6) == 0);
    bool (*hook)(struct pkt *, uint16_t) = eth_test_hook;
    if (hook && hook(p, type))
        return;
    if (!for_us || type < 0x0600) { /* someone else's, or an 802.3 length field */
        drop(p);
        return;
    }
    pkt_pull(p, ETH_HLEN);
    p->l3_offset = (uint16_t)(p->data - p->head);
    switch (type) {
    case ETH_P_ARP: arp_input(p); break;
    case ETH_P_IP: ipv4_input(p); break;
    case ETH_P_IPV6: ipv6_input(p); break;
    default: drop(p); break;
    }
}

/* Prepends dst, nif's MAC and the type; sends through netif_transmit (takes ownership). */
int eth_output(struct netif *nif, struct pkt *p, const uint8_t dst_mac[6], uint16_t ethertype) {
    if (!p)
        return -KEINVAL;
    if (!nif || !dst_mac) {
        pkt_free(p);
        return -KEINVAL;
    }
    if (p->len > nif->mtu) {
        __atomic_fetch_add(&nif->stats.tx_errors, 1, __ATOMIC_RELAXED);
        pkt_free(p);
        return -KEMSGSIZE;
    }
    uint8_t *h = pkt_push(p, ETH_HLEN);
    if (!h) {
        __atomic_fetch_add(&nif->stats.tx_errors, 1, __ATOMIC_RELAXED);
        pkt_free(p);
        return -KENOSPC;
    }
    memcpy(h, dst_mac, 6);
    memcpy(h + 6, nif->mac, 6);
    net_put16(h + 12, ethertype);
    return netif_transmit(nif, p);
}

/* The broadcast address, for ARP and DHCP. */
const uint8_t *eth_broadcast_addr(void) { return eth_broadcast; }
