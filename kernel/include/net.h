/* net.h: the network core shared by drivers and protocols (kernel/net/). See docs/network.md.
 *
 * Objects:
 * - struct pkt: one frame or datagram in a contiguous buffer with room in front for headers.
 *   Layers prepend (pkt_push) on the way out and strip (pkt_pull) on the way in. One owner at
 *   a time: whoever holds the pointer frees it or passes it on (transmit, input functions and
 *   queues take ownership).
 * - struct netif: one network interface (virtio-net, e1000e, loopback) with its MAC, MTU,
 *   addresses, counters and driver operations.
 *
 * The receive path (system.md, "Network"): a driver's interrupt only calls netif_rx_ready();
 * the one kernel task net_poller calls each interface's poll(), which hands every received
 * frame to netif_receive() -> eth_input() -> the protocols; after each batch net_poller runs
 * the protocol timers and wakes every task waiting for a network event (net_event_wq).
 * Nothing else reads an RX ring. System calls wait with wait_net_condition().
 *
 * Addresses and ports are kept in network byte order in headers and in host order in
 * struct net_addr unless a field says otherwise. Everything here compiles for host tests
 * (HOST_TEST) too. */
#pragma once
#include "types.h"
#include "kerrno.h"
#include "wait.h"

/* ---- byte order (the stack runs on little-endian x86-64) ---- */
static inline uint16_t net_htons(uint16_t v) { return (uint16_t)((v << 8) | (v >> 8)); }
static inline uint16_t net_ntohs(uint16_t v) { return net_htons(v); }
static inline uint32_t net_htonl(uint32_t v) { return __builtin_bswap32(v); }
static inline uint32_t net_ntohl(uint32_t v) { return __builtin_bswap32(v); }
/* Unaligned big-endian loads and stores for header fields. */
static inline uint16_t net_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t net_get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void net_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void net_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- addresses ---- */
#define NET_AF_INET 2    /* Linux AF_INET */
#define NET_AF_INET6 10  /* Linux AF_INET6 */
struct net_addr {
    uint16_t family;     /* NET_AF_INET or NET_AF_INET6 (0 = none) */
    union {
        uint8_t v4[4];   /* as on the wire: 10.0.2.15 is {10, 0, 2, 15} */
        uint8_t v6[16];
    };
};
/* The any address of its family (0.0.0.0 or ::; all address bytes zero). */
static inline bool net_addr_is_any(const struct net_addr *a) {
    unsigned n = a->family == NET_AF_INET ? 4 : 16;
    for (unsigned i = 0; i < n; i++)
        if (a->v6[i]) return false;
    return true;
}
/* Builds an IPv4 net_addr from a host-order value (0x0a00020f = 10.0.2.15). */
static inline struct net_addr net_addr4(uint32_t host_order) {
    struct net_addr a = {0};
    a.family = NET_AF_INET;
    net_put32(a.v4, host_order);
    return a;
}

/* ---- packet buffers (kernel/net/pkt.c) ---- */
#define PKT_HEADROOM 128     /* room for Ethernet + IPv6 + TCP headers with options */
#define PKT_MAX_FRAME 1514   /* Ethernet frame without FCS at MTU 1500 */

struct netif;
struct pkt {
    uint8_t *head;           /* the buffer */
    uint32_t size;           /* its size */
    uint8_t *data;           /* first valid byte */
    uint32_t len;            /* valid bytes */
    struct netif *netif;     /* receive: where it arrived; transmit: where it goes */
    struct pkt *next;        /* for queues (one queue at a time) */
    uint64_t timestamp_ns;   /* receive time, or when it was queued */
    uint16_t l3_offset;      /* receive: offset of the network header from head (0 = unset) */
    uint16_t l4_offset;      /* receive: offset of the transport header from head */
};

/* A packet with `room` bytes of space after PKT_HEADROOM bytes of headroom, len 0.
 * NULL when memory is short. */
struct pkt *pkt_alloc(uint32_t room);
void pkt_free(struct pkt *p);
/* A copy with the same headroom (duplication for fault injection, retransmission). */
struct pkt *pkt_clone(const struct pkt *p);
/* Prepends n bytes (a header) and returns where they start; NULL when the headroom is short. */
static inline uint8_t *pkt_push(struct pkt *p, uint32_t n) {
    if ((uint32_t)(p->data - p->head) < n) return NULL;
    p->data -= n;
    p->len += n;
    return p->data;
}
/* Strips n bytes from the front and returns where they were; NULL when len < n. */
static inline uint8_t *pkt_pull(struct pkt *p, uint32_t n) {
    if (p->len < n) return NULL;
    uint8_t *old = p->data;
    p->data += n;
    p->len -= n;
    return old;
}
/* Appends n bytes at the end and returns where they start; NULL when there is no room. */
static inline uint8_t *pkt_put(struct pkt *p, uint32_t n) {
    uint32_t used = (uint32_t)(p->data - p->head) + p->len;
    if (p->size - used < n) return NULL;
    uint8_t *t = p->data + p->len;
    p->len += n;
    return t;
}
/* Cuts the packet down to len bytes (padding after an IP datagram). */
static inline void pkt_trim(struct pkt *p, uint32_t len) { if (len < p->len) p->len = len; }

/* ---- checksums (kernel/net/checksum.c; RFC 1071) ---- */
/* Adds len bytes to a running one's-complement sum (not yet folded). */
uint32_t net_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds a running sum into the 16-bit checksum to store (in host order: store with net_put16). */
uint16_t net_csum_fold(uint32_t sum);
/* The pseudo-header sum for TCP/UDP checksums over IPv4 (RFC 793 §3.1) or IPv6 (RFC 8200
 * §8.1). len: the transport length. */
uint32_t net_csum_pseudo(const struct net_addr *src, const struct net_addr *dst, uint8_t proto, uint32_t len);

/* ---- interfaces (kernel/net/netif.c) ---- */
#define NETIF_UP 1u
#define NETIF_LOOPBACK 2u
#define NETIF_NAME_MAX 8

struct netif_ops {
    /* Sends one frame (Ethernet header included; the driver pads to 60 bytes). Takes
     * ownership of p. 0, or -errno when the frame was dropped (ring full, link down). */
    int (*transmit)(struct netif *nif, struct pkt *p);
    /* Called by net_poller only: hands up to budget received frames to netif_receive and
     * re-arms the receive interrupt when the ring is empty. Returns the number handed up. */
    int (*poll)(struct netif *nif, int budget);
    /* Optional: link state (NULL = always up). */
    bool (*link_up)(struct netif *nif);
};

struct netif_stats {
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
};

/* Fault injection for tests ("netem"; the host has no netem): each frame leaving through
 * netif_transmit and each frame arriving through netif_receive is dropped, duplicated or held
 * back and passed on right after the next one in the same direction, with these
 * probabilities in parts per thousand. All 0 = off. Set through netif_set_faults (which frees
 * the held frames when the switch goes off) or the SIOCSABOSNETEM ioctl. On "lo" a frame
 * passes the switch twice (sent, then received). */
struct netif_faults {
    uint16_t drop_permille, duplicate_permille, reorder_permille;
    uint32_t seed;           /* the xorshift32 generator's state (0: a fixed start) */
    struct pkt *held;        /* transmit: the frame held back for reordering */
    struct pkt *held_rx;     /* receive: the frame held back for reordering */
};

/* The netem ioctls on any socket (SIOCDEVPRIVATE range, netdevice(7)): the argument is a
 * struct ifreq (ifr_name[16], then ifr_data, a pointer to a struct sabos_netem). */
#define SIOCSABOSNETEM_K 0x89F0  /* set */
#define SIOCGABOSNETEM_K 0x89F1  /* get */
/* The ioctls' argument (the ABI; user/include/sabos.h has the same). */
struct sabos_netem {
    uint16_t loss_permille, duplicate_permille, reorder_permille, reserved;
    uint32_t seed;
};
/* Sets nif's faults from cfg: -KEINVAL (a value > 1000, reserved != 0) or 0. Turning all
 * three off frees the frames held back in both directions. */
int netif_set_faults(struct netif *nif, const struct sabos_netem *cfg);
/* The current setting of nif's faults (seed: the generator's state now). */
void netif_get_faults(struct netif *nif, struct sabos_netem *out);
/* SIOCSABOSNETEM / SIOCGABOSNETEM with the user address arg (sock_ioctl calls it): 0,
 * -KEFAULT (bad ifreq or ifr_data), -KENODEV (no such interface), -KEINVAL. Not in
 * HOST_TEST builds (it copies from user memory). */
int64_t netif_netem_ioctl(uint32_t cmd, uint64_t arg);
/* Interface indexes (netdevice(7) ifr_ifindex): lo is 1, the others 2, 3, ... in
 * registration order; never change. netif_index: 0 when nif is not registered. */
uint32_t netif_index(const struct netif *nif);
/* The interface with this index, or NULL. */
struct netif *netif_by_index(uint32_t index);
/* The SIOCGIF* ioctls of netdevice(7) with the user address arg (sock_ioctl calls it):
 * 0, -KEFAULT, -KENODEV, -KEADDRNOTAVAIL, or -KENOTTY for any other cmd. Not in HOST_TEST. */
int64_t netif_ifreq_ioctl(uint32_t cmd, uint64_t arg);

struct netif {
    char name[NETIF_NAME_MAX];   /* "eth0", "eth1", "lo" */
    uint8_t mac[6];
    uint16_t mtu;                /* IP MTU: 1500 for Ethernet */
    uint32_t flags;              /* NETIF_* */
    const struct netif_ops *ops;
    void *priv;                  /* the driver's */
    struct netif_stats stats;
    struct netif_faults faults;
    /* IPv4 configuration (DHCP or static), network order as on the wire */
    uint8_t ip4[4], netmask4[4], gateway4[4];
    /* IPv6: link-local (from the MAC) and one global address (SLAAC); prefix lengths */
    uint8_t ip6_ll[16], ip6_global[16];
    uint8_t ip6_global_prefix_len;
    bool ip6_ll_valid, ip6_global_valid;
    volatile bool rx_pending;    /* set by netif_rx_ready, cleared by net_poller */
    struct netif *next;
};

/* Adds an interface (the name must be unique); 0, -KEEXIST, -KEINVAL. */
int netif_register(struct netif *nif);
/* The interface with this name, or NULL. */
struct netif *netif_find(const char *name);
/* Calls fn for each interface. */
void netif_for_each(void (*fn)(struct netif *nif, void *ctx), void *ctx);
/* Driver interrupt handlers call this: the interface has received frames. Wakes net_poller.
 * Safe from interrupt context. */
void netif_rx_ready(struct netif *nif);
/* Drivers' poll calls this for each received frame (takes ownership): counts it and passes
 * it to eth_input (or to the loopback path). */
void netif_receive(struct netif *nif, struct pkt *p);
/* The stack sends a frame through an interface, with fault injection and counters. Takes
 * ownership of p. 0 or -errno. */
int netif_transmit(struct netif *nif, struct pkt *p);

/* Loopback "lo" (loopback.c): registered by net_init; frames queued, handed back by poll. */
int loopback_init(void);
unsigned loopback_queued(void);
/* virtio-net (kernel/drivers/net/virtio_net.c): finds the devices, registers eth0... */
void virtio_net_init(void);
struct netif *virtio_net_netif(int i);

/* ---- the poller (kernel/net/poller.c; netif_rx_ready lives there too) ---- */
/* Woken after every batch net_poller handled: every task waiting for a network event sleeps
 * here (through wait_net_condition). */
extern struct wait_queue net_event_wq;
/* wait_net_condition (system.md): checks cond once and returns 1 if it holds; with timeout 0
 * returns 0 at once; otherwise sleeps until cond holds (1), the timeout passes (0) or a
 * signal/kill ends the wait (-KEINTR). cond is re-checked after every net_poller batch. */
#define wait_net_condition(cond, timeout_ns) wait_event_timeout(&net_event_wq, (cond), (timeout_ns))
/* Starts net_poller (after the NIC drivers registered their interfaces) and the protocols. */
void net_init(void);
/* Batches net_poller has handled (tests, /proc). */
uint64_t net_poller_batches(void);
/* A protocol's periodic work, run by net_poller at most every period_ms (ARP expiry, TCP
 * timers, DHCP renewal...). now_ns: the monotonic clock. Register at init. */
struct net_timer_hook {
    void (*fn)(uint64_t now_ns);
    uint32_t period_ms;
    uint64_t next_ns;
    struct net_timer_hook *next;
};
void net_register_timer(struct net_timer_hook *h);

/* ---- Ethernet (kernel/net/ether.c) ---- */
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86dd
/* Entry of the protocol stack for a received frame (Ethernet header at p->data). */
void eth_input(struct pkt *p);
/* Prepends the Ethernet header and sends through nif. Takes ownership. */
int eth_output(struct netif *nif, struct pkt *p, const uint8_t dst_mac[6], uint16_t ethertype);
/* ff:ff:ff:ff:ff:ff */
const uint8_t *eth_broadcast_addr(void);
/* Self-tests: sees every received frame first; returning true consumes it. */
extern bool (*volatile eth_test_hook)(struct pkt *p, uint16_t ethertype);
/* The protocols' entry points (arp.c, ipv4.c, ipv6.c): p->data at the network header,
 * l3_offset set; they take ownership. */
void arp_input(struct pkt *p);
void ipv4_input(struct pkt *p);
void ipv6_input(struct pkt *p);
