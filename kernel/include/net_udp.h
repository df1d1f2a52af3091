/* net_udp.h: UDP (RFC 768) over IPv4 and IPv6 (RFC 8200 §8.1 pseudo header).
 *
 * A struct udp_sock is owned by its user (the socket layer, the DHCP client, the resolver):
 * udp_bind puts it in the port table, udp_unbind takes it out and frees what is queued.
 * udp_input (called by the IP layers with the UDP header at p->data) checks the length and
 * checksum and appends the datagram to the receive queue of the matching socket; the queue is
 * bounded (rx_limit datagrams) and overflow is counted, never blocks. Readers take datagrams
 * with udp_recv; waking them is net_poller's job (net_event_wq after each batch).
 * Output goes through the IP layer's function pointers (udp_set_ip_ops) so host tests can
 * capture it. Ports are host order in this API. */
#pragma once
#include "net.h"


#define IPPROTO_UDP_NUM 17
#define UDP_HLEN 8
#define UDP_EPHEMERAL_MIN 49152u     /* RFC 6335 dynamic ports */
#define UDP_EPHEMERAL_MAX 65535u
#define UDP_RX_LIMIT_DEFAULT 64      /* datagrams queued per socket */
#define UDP_MAX_PAYLOAD4 65507u      /* 65535 - 20 (IPv4) - 8 */
#define UDP_MAX_PAYLOAD6 65527u      /* 65535 - 8 (jumbograms not supported) */

struct udp_sock {
    uint16_t family;             /* NET_AF_INET or NET_AF_INET6 */
    bool v6only;                 /* AF_INET6 only: false = also receives IPv4 (IPV6_V6ONLY) */
    bool bound;
    uint16_t port;               /* local port, host order (valid when bound) */
    struct net_addr local;       /* local address; all-zero bytes = any */
    struct pkt *rx_head, *rx_tail;
    uint32_t rx_count, rx_limit; /* rx_limit 0 at bind = UDP_RX_LIMIT_DEFAULT */
    uint64_t rx_dropped;         /* datagrams dropped because the queue was full */
    struct udp_sock *next;       /* port table chain */
};

/* What udp_recv reports about a datagram. */
struct udp_rxinfo {
    struct net_addr src, dst;
    uint16_t sport, dport;       /* host order */
    struct netif *netif;         /* where it arrived */
};

struct udp_stats {
    uint64_t in_datagrams, out_datagrams;
    uint64_t no_port;            /* no socket bound to the destination port */
    uint64_t truncated;          /* shorter than the header or its length field */
    uint64_t bad_checksum;
    uint64_t queue_full;         /* receive queue at its limit */
    uint64_t out_errors;
};
extern struct udp_stats udp_stats;

/* The IP layer's side, set once by IPv4/IPv6 init (or a host test).
 * output: sends one transport segment (p->data at the UDP header) with protocol 17 from src
 *   to dst, through nif when non-NULL (DHCP from 0.0.0.0) else by routing. Takes ownership.
 * select_src: the source address the stack would use towards dst (for the checksum);
 *   0 or -KENETUNREACH-style error. */
struct udp_ip_ops {
    int (*output)(struct pkt *p, const struct net_addr *src, const struct net_addr *dst,
                  uint8_t proto, struct netif *nif);
    int (*select_src)(const struct net_addr *dst, struct netif *nif, struct net_addr *src);
};
void udp_set_ip_ops(const struct udp_ip_ops *ops);
/* Optional: called with datagrams no socket wants (ICMP port unreachable), ownership passes.
 * NULL = they are freed. */
extern void (*udp_no_port_hook)(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);

/* Resets the port table and counters (init and host tests; frees nothing). */
void udp_init(void);
/* Binds s (family and v6only set by the caller) to local/port; port 0 picks a free
 * ephemeral port (49152-65535). local NULL = any. 0, -KEINVAL (already bound, bad family or
 * address family mismatch), -KEADDRINUSE (port taken, or no ephemeral port left). */
int udp_bind(struct udp_sock *s, const struct net_addr *local, uint16_t port);
/* Removes s from the port table and frees its queued datagrams. Safe on an unbound socket. */
void udp_unbind(struct udp_sock *s);
/* Called by IPv4/IPv6 with p->data at the UDP header and p->len the IP payload length.
 * Takes ownership. */
void udp_input(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);
/* Takes the oldest queued datagram (p->data at the payload, p->len its length) and fills
 * info (may be NULL); NULL when the queue is empty. The caller frees it. */
struct pkt *udp_recv(struct udp_sock *s, struct udp_rxinfo *info);
/* Copies up to len payload bytes of the oldest queued datagram into buf without taking it off
 * the queue (MSG_PEEK) and fills info (may be NULL). Returns the datagram's whole length, or
 * -KEAGAIN when the queue is empty. */
int64_t udp_peek(struct udp_sock *s, void *buf, size_t len, struct udp_rxinfo *info);
/* Datagrams waiting on s (for poll). */
uint32_t udp_pending(const struct udp_sock *s);
/* Calls fn for every bound socket, under the UDP lock (for /proc/net/udp): fn must not
 * sleep or call back into UDP. */
void udp_for_each(void (*fn)(const struct udp_sock *s, void *ctx), void *ctx);
/* Sends len bytes to dst:dport from s (bound first to an ephemeral port if unbound).
 * nif: force this interface (NULL = route). Returns len, or -KEINVAL (bad args, family),
 * -KEMSGSIZE (too long), -KENOBUFS (no memory), or the IP layer's error. */
int udp_sendto(struct udp_sock *s, const struct net_addr *dst, uint16_t dport,
               const void *data, size_t len, struct netif *nif);
/* The UDP checksum of a whole segment (header + payload, checksum field included) over the
 * pseudo header: 0 means the checksum verifies. Exposed for tests. */
uint16_t udp_checksum(const struct net_addr *src, const struct net_addr *dst, const uint8_t *seg, uint32_t len);
