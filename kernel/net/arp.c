/* arp.c: the Address Resolution Protocol for IPv4 over Ethernet (RFC 826), with the host
 * requirements of RFC 1122 §2.3.2 (cache timeout, bounded retransmission of requests, a
 * bounded queue of packets waiting for resolution) and gratuitous ARP (RFC 5227 §2.3).
 *
 * The cache is a fixed table keyed by (interface, IPv4 address). An entry is INCOMPLETE while
 * requests are outstanding (at most ARP_RETRIES, ARP_RETRY_NS apart, then its queue is dropped
 * and counted) and RESOLVED for ARP_EXPIRY_NS after the last update. Frames are never sent
 * while arp_lock is held: packets to send or free are collected first. */
#include "net_ipv4.h"
#include "kstring.h"
#include "spinlock.h"

#define ARP_HDR_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_RESOLVED };

struct arp_entry {
    uint8_t state;
    uint8_t retries;             /* requests sent (INCOMPLETE) */
    uint8_t qlen;
    uint8_t ip[4];
    uint8_t mac[6];
    struct netif *nif;
    uint64_t deadline_ns;        /* RESOLVED: expiry; INCOMPLETE: next retry */
    struct pkt *qhead, *qtail;   /* waiting datagrams */
};

struct arp_stats arp_stats;
static struct arp_entry arp_cache[ARP_CACHE_SIZE];
static spinlock_t arp_lock = SPINLOCK_INIT("arp");

static const uint8_t mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static uint64_t arp_now(void) { return ip4_clock ? ip4_clock() : 0; }

static struct arp_entry *arp_find(struct netif *nif, const uint8_t ip[4]) {
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->state != ARP_FREE && e->nif == nif && memcmp(e->ip, ip, 4) == 0) return e;
    }
    return NULL;
}

/* Detaches the queue of e onto *drop (to free after unlocking) and frees the slot. */
static void arp_release(struct arp_entry *e, struct pkt **drop, bool count) {
    while (e->qhead) {
        struct pkt *p = e->qhead;
        e->qhead = p->next;
        p->next = *drop;
        *drop = p;
        if (count) arp_stats.dropped_unresolved++;
    }
    memset(e, 0, sizeof(*e));
}

/* A slot for a new entry: a free one, else the resolved entry closest to expiry, else the
 * oldest incomplete one (its queue goes to *drop). */
static struct arp_entry *arp_alloc(struct pkt **drop) {
    struct arp_entry *best = NULL;
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->state == ARP_FREE) return e;
        if (!best || (e->state == ARP_RESOLVED && best->state != ARP_RESOLVED) ||
            (e->state == best->state && e->deadline_ns < best->deadline_ns))
            best = e;
    }
    arp_stats.evictions++;
    arp_release(best, drop, true);
    return best;
}

static void arp_free_list(struct pkt *p) {
    while (p) {
        struct pkt *n = p->next;
        p->next = NULL;
        pkt_free(p);
        p = n;
    }
}

/* Sends the queued datagrams of a list to mac. */
static void arp_send_list(struct netif *nif, struct pkt *p, const uint8_t mac[6]) {
    while (p) {
        struct pkt *n = p->next;
        p->next = NULL;
        eth_output(nif, p, mac, ETH_P_IP);
        p = n;
    }
}

/* Builds and sends one ARP packet. */
static void arp_send(struct netif *nif, uint16_t op, const uint8_t dst_mac[6], const uint8_t tha[6],
                     const uint8_t tpa[4], const uint8_t spa[4]) {
    struct pkt *p = pkt_alloc(ARP_HDR_LEN);
    if (!p) return;
    uint8_t *h = pkt_put(p, ARP_HDR_LEN);
    if (!h) {
        pkt_free(p);
        return;
    }
    net_put16(h, 1);                 /* hardware: Ethernet */
    net_put16(h + 2, ETH_P_IP);
    h[4] = 6;
    h[5] = 4;
    net_put16(h + 6, op);
    memcpy(h + 8, nif->mac, 6);
    memcpy(h + 14, spa, 4);
    memcpy(h + 18, tha, 6);
    memcpy(h + 24, tpa, 4);
    p->netif = nif;
    if (op == ARP_OP_REQUEST) arp_stats.tx_requests++;
    else arp_stats.tx_replies++;
    eth_output(nif, p, dst_mac, ETH_P_ARP);
}

static void arp_request(struct netif *nif, const uint8_t ip[4]) {
    static const uint8_t zero_mac[6];
    arp_send(nif, ARP_OP_REQUEST, mac_bcast, zero_mac, ip, nif->ip4);
}

void arp_announce(struct netif *nif) {
    static const uint8_t zero_mac[6];
    if (!nif || !(nif->ip4[0] | nif->ip4[1] | nif->ip4[2] | nif->ip4[3])) return;
    arp_send(nif, ARP_OP_REQUEST, mac_bcast, zero_mac, nif->ip4, nif->ip4);
}

void arp_input(struct pkt *p) {
    struct netif *nif = p->netif;
    const uint8_t *h = p->data;
    if (!nif || p->len < ARP_HDR_LEN || net_get16(h) != 1 || net_get16(h + 2) != ETH_P_IP || h[4] != 6 ||
        h[5] != 4 || (net_get16(h + 6) != ARP_OP_REQUEST && net_get16(h + 6) != ARP_OP_REPLY) ||
        (h[8] & 1)) {  /* a multicast/broadcast sender MAC is forged */
        arp_stats.rx_bad++;
        pkt_free(p);
        return;
    }
    uint16_t op = net_get16(h + 6);
    uint8_t sha[6], spa[4], tpa[4];
    memcpy(sha, h + 8, 6);
    memcpy(spa, h + 14, 4);
    memcpy(tpa, h + 24, 4);
    pkt_free(p);
    if (op == ARP_OP_REQUEST) arp_stats.rx_requests++;
    else arp_stats.rx_replies++;

    bool have_ip = (nif->ip4[0] | nif->ip4[1] | nif->ip4[2] | nif->ip4[3]) != 0;
    bool for_us = have_ip && memcmp(tpa, nif->ip4, 4) == 0;
    bool sender_ok = (spa[0] | spa[1] | spa[2] | spa[3]) != 0 && spa[0] < 224 &&
                     !(have_ip && memcmp(spa, nif->ip4, 4) == 0);
    struct pkt *send = NULL, *drop = NULL;
    if (sender_ok) {
        uint64_t flags = spin_lock_irqsave(&arp_lock);
        struct arp_entry *e = arp_find(nif, spa);          /* RFC 826: merge */
        if (!e && for_us) {
            e = arp_alloc(&drop);
            e->nif = nif;
            memcpy(e->ip, spa, 4);
        }
        if (e) {
            memcpy(e->mac, sha, 6);
            e->state = ARP_RESOLVED;
            e->deadline_ns = arp_now() + ARP_EXPIRY_NS;
            e->retries = 0;
            send = e->qhead;
            e->qhead = e->qtail = NULL;
            e->qlen = 0;
        }
        spin_unlock_irqrestore(&arp_lock, flags);
    }
    arp_free_list(drop);
    arp_send_list(nif, send, sha);
    if (for_us && op == ARP_OP_REQUEST)
        arp_send(nif, ARP_OP_REPLY, sha, sha, spa, nif->ip4);  /* probes (spa 0) are answered too */
}

/* The Ethernet multicast address of an IPv4 multicast group (RFC 1112 §6.4). */
static void ip4_mcast_mac(const uint8_t ip[4], uint8_t mac[6]) {
    mac[0] = 0x01; mac[1] = 0x00; mac[2] = 0x5e;
    mac[3] = ip[1] & 0x7f; mac[4] = ip[2]; mac[5] = ip[3];
}

int arp_output(struct netif *nif, const uint8_t next_hop[4], struct pkt *p) {
    if (!nif || !p) {
        if (p) pkt_free(p);
        return -KEINVAL;
    }
    p->netif = nif;
    p->next = NULL;
    if (nif->flags & NETIF_LOOPBACK) {
        static const uint8_t zero_mac[6];
        return eth_output(nif, p, zero_mac, ETH_P_IP);
    }
    bool bcast = memcmp(next_hop, mac_bcast, 4) == 0;
    uint32_t mask = net_get32(nif->netmask4), ip = net_get32(nif->ip4), nh = net_get32(next_hop);
    if (mask && mask != 0xffffffffu && ip && (nh & mask) == (ip & mask) && (nh | mask) == 0xffffffffu) bcast = true;
    if (bcast) return eth_output(nif, p, mac_bcast, ETH_P_IP);
    if (next_hop[0] >= 224 && next_hop[0] < 240) {
        uint8_t mac[6];
        ip4_mcast_mac(next_hop, mac);
        return eth_output(nif, p, mac, ETH_P_IP);
    }
    uint64_t now = arp_now();
    struct pkt *drop = NULL;
    uint8_t mac[6];
    int ret = 0;
    bool request = false;
    uint64_t flags = spin_lock_irqsave(&arp_lock);
    struct arp_entry *e = arp_find(nif, next_hop);
    if (e && e->state == ARP_RESOLVED && now < e->deadline_ns) {
        memcpy(mac, e->mac, 6);
        spin_unlock_irqrestore(&arp_lock, flags);
        return eth_output(nif, p, mac, ETH_P_IP);
    }
    if (!e) {
        e = arp_alloc(&drop);
        e->nif = nif;
        memcpy(e->ip, next_hop, 4);
    }
    if (e->state != ARP_INCOMPLETE) {   /* new or expired: start resolving */
        e->state = ARP_INCOMPLETE;
        e->retries = 1;
        e->deadline_ns = now + ARP_RETRY_NS;
        request = true;
    }
    if (e->qlen >= ARP_QUEUE_MAX) {
        arp_stats.dropped_queue_full++;
        p->next = drop;
        drop = p;
        ret = -KENOBUFS;
    } else {
        if (e->qtail) e->qtail->next = p;
        else e->qhead = p;
        e->qtail = p;
        e->qlen++;
    }
    spin_unlock_irqrestore(&arp_lock, flags);
    arp_free_list(drop);
    if (request) arp_request(nif, next_hop);
    return ret;
}

bool arp_lookup(const uint8_t ip[4], uint8_t mac[6]) {
    bool found = false;
    uint64_t now = arp_now();
    uint64_t flags = spin_lock_irqsave(&arp_lock);
    for (int i = 0; i < ARP_CACHE_SIZE && !found; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->state == ARP_RESOLVED && now < e->deadline_ns && memcmp(e->ip, ip, 4) == 0) {
            memcpy(mac, e->mac, 6);
            found = true;
        }
    }
    spin_unlock_irqrestore(&arp_lock, flags);
    return found;
}

void arp_flush(struct netif *nif) {
    struct pkt *drop = NULL;
    uint64_t flags = spin_lock_irqsave(&arp_lock);
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (arp_cache[i].state != ARP_FREE && (!nif || arp_cache[i].nif == nif))
            arp_release(&arp_cache[i], &drop, true);
    spin_unlock_irqrestore(&arp_lock, flags);
    arp_free_list(drop);
}

void arp_timer(uint64_t now_ns) {
    struct { struct netif *nif; uint8_t ip[4]; } req[ARP_CACHE_SIZE];
    int nreq = 0;
    struct pkt *drop = NULL;
    uint64_t flags = spin_lock_irqsave(&arp_lock);
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->state == ARP_FREE || now_ns < e->deadline_ns) continue;
        if (e->state == ARP_RESOLVED || e->retries >= ARP_RETRIES) {
            arp_release(e, &drop, true);
            continue;
        }
        e->retries++;
        e->deadline_ns = now_ns + ARP_RETRY_NS;
        req[nreq].nif = e->nif;
        memcpy(req[nreq].ip, e->ip, 4);
        nreq++;
    }
    spin_unlock_irqrestore(&arp_lock, flags);
    arp_free_list(drop);
    for (int i = 0; i < nreq; i++) arp_request(req[i].nif, req[i].ip);
}
