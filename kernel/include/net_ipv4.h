/* net_ipv4.h: ARP (RFC 826), IPv4 (RFC 791, RFC 815 reassembly, RFC 1122 host rules) and
 * ICMP (RFC 792) — kernel/net/arp.c, ipv4.c, icmp.c.
 *
 * Addresses are uint8_t[4] in wire order ({10,0,2,15}) or struct net_addr (net.h).
 * Packets follow net.h ownership: every function taking a struct pkt * consumes it.
 * Time: all three files read the monotonic clock through ip4_clock (time_ns in the kernel; a
 * host test points it at a fake clock). Periodic work (ARP retries/expiry, reassembly
 * timeouts) runs from net_timer_hooks that ipv4_init registers. Everything compiles with
 * -DHOST_TEST. */
#pragma once
#include "net.h"

#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
#define IP4_HLEN 20
#define IP4_DEFAULT_TTL 64

/* The clock (monotonic ns) used by ARP, IPv4 and ICMP. */
extern uint64_t (*ip4_clock)(void);

/* Registers the timer hooks and the ICMP handler. Idempotent; net_init calls it. */
void ipv4_init(void);

/* ---------------- ARP (kernel/net/arp.c) ---------------- */
#define ARP_CACHE_SIZE 64
#define ARP_QUEUE_MAX 8              /* packets waiting per unresolved address */
#define ARP_RETRIES 3                /* requests sent before giving up */
#define ARP_RETRY_NS 1000000000ull   /* 1 s between requests */
#define ARP_EXPIRY_NS 60000000000ull /* a resolved entry lives 60 s */

struct arp_stats {
    uint64_t rx_requests, rx_replies, rx_bad, tx_requests, tx_replies;
    uint64_t dropped_unresolved;     /* packets dropped after ARP_RETRIES unanswered requests */
    uint64_t dropped_queue_full;     /* packets dropped because ARP_QUEUE_MAX were waiting */
    uint64_t evictions;
};
extern struct arp_stats arp_stats;

/* Entry from eth_input (Ethernet header already pulled). Consumes p. Answers requests for
 * our address, learns the sender (RFC 826 merge), sends packets waiting for it. */
void arp_input(struct pkt *p);
/* Sends an IPv4 datagram (IP header at p->data) to next_hop on nif: at once when the MAC is
 * cached, else queued and an ARP request is sent. Broadcast next hops go to ff:ff:ff:ff:ff:ff.
 * Consumes p. 0 (sent or queued) or -errno (-KENOBUFS: queue full). */
int arp_output(struct netif *nif, const uint8_t next_hop[4], struct pkt *p);
/* Gratuitous ARP (RFC 5227 announcement): a request for our own address. */
void arp_announce(struct netif *nif);
/* Cached MAC of ip (resolved entries only): true and *mac filled, or false. */
bool arp_lookup(const uint8_t ip[4], uint8_t mac[6]);
/* Removes every entry (and drops queued packets) of nif, or of all interfaces for NULL. */
void arp_flush(struct netif *nif);
/* Retries requests, drops given-up queues, expires entries. Run by the timer hook. */
void arp_timer(uint64_t now_ns);

/* ---------------- IPv4 (kernel/net/ipv4.c) ---------------- */
struct ip4_stats {
    uint64_t rx_packets, rx_delivered;
    uint64_t rx_bad_header;    /* version, IHL, options length */
    uint64_t rx_bad_checksum;
    uint64_t rx_truncated;     /* total length larger than the frame, or below IHL */
    uint64_t rx_ttl_zero;
    uint64_t rx_bad_src;       /* broadcast/multicast source */
    uint64_t rx_not_for_us;
    uint64_t rx_no_proto;      /* no handler (a protocol unreachable is sent) */
    uint64_t frag_received, frag_reassembled, frag_timeout;
    uint64_t frag_bad;         /* overlapping, conflicting, misaligned fragments */
    uint64_t frag_too_big;     /* beyond 65535 bytes */
    uint64_t frag_no_slot;     /* too many reassemblies at once */
    uint64_t tx_packets, tx_no_route, tx_too_big, tx_errors;
};
extern struct ip4_stats ip4_stats;

/* An upper-layer handler: p->data at the transport header, p->len its length (padding cut),
 * p->l3_offset / l4_offset set. Consumes p. src/dst: the IP addresses. */
typedef void (*ip_proto_handler)(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);
/* Registers the handler of protocol proto (replaces any); NULL unregisters. */
void ip_register_protocol(uint8_t proto, ip_proto_handler h);

/* Entry from eth_input (Ethernet header pulled). Validates, filters, reassembles, delivers.
 * Consumes p. */
void ipv4_input(struct pkt *p);

/* Sends a transport payload (at p->data) to dst: picks the route, the source address (src
 * NULL or unspecified = the interface's), prepends the IP header (DF set, TTL 64), goes
 * through ARP. Never fragments: a datagram larger than the MTU is -KEMSGSIZE. Consumes p.
 * 0, -KENETUNREACH, -KEMSGSIZE, -KENOBUFS, -KEINVAL. */
int ipv4_output(const struct net_addr *src, const struct net_addr *dst, uint8_t proto, struct pkt *p);
/* The same through a given interface with the on-link next hop dst (DHCP before the
 * interface has an address: src 0.0.0.0, dst 255.255.255.255). */
int ipv4_output_if(struct netif *nif, const struct net_addr *src, const struct net_addr *dst,
                   uint8_t proto, struct pkt *p);

/* ---- routing table: longest prefix match ---- */
#define IP4_ROUTES_MAX 16
/* Adds (or replaces the same dst/prefix) a route. gw NULL or 0.0.0.0 = on-link.
 * 0, -KEINVAL (prefix > 32, NULL nif), -KENOSPC. */
int ip4_route_add(const uint8_t dst[4], uint8_t prefix_len, const uint8_t gw[4], struct netif *nif);
/* Removes the route dst/prefix_len: 0 or -KENOENT. */
int ip4_route_del(const uint8_t dst[4], uint8_t prefix_len);
/* Removes every route through nif. */
void ip4_route_flush(struct netif *nif);
/* Longest-prefix route for dst: fills *nif and next_hop (gateway or dst itself). 0 or
 * -KENETUNREACH. */
int ip4_route_lookup(const uint8_t dst[4], struct netif **nif, uint8_t next_hop[4]);
/* Sets the interface address, mask and gateway (static or DHCP): replaces its routes with the
 * connected subnet and, when gw is non-zero, the default route; sends a gratuitous ARP. */
void ip4_configure(struct netif *nif, const uint8_t ip[4], const uint8_t mask[4], const uint8_t gw[4]);
/* True when ip is the address of one of our interfaces. */
bool ip4_is_local(const uint8_t ip[4]);

/* ---- reassembly (RFC 791 §3.2, RFC 815) ---- */
#define IP4_REASM_MAX 8              /* datagrams reassembled at once */
#define IP4_REASM_FRAGS_MAX 64       /* fragments per datagram */
#define IP4_REASM_TIMEOUT_NS 30000000000ull
/* Drops reassemblies older than 30 s. Run by the timer hook. */
void ip4_reasm_timer(uint64_t now_ns);
/* Reassemblies in progress (for tests and /proc/net). */
int ip4_reasm_count(void);

/* ---------------- ICMP (kernel/net/icmp.c) ---------------- */
#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_UNREACH_PROTOCOL 2
#define ICMP_UNREACH_PORT 3
#define ICMP_ERRORS_PER_SEC 10       /* rate limit of generated errors */

struct icmp_stats {
    uint64_t rx_packets, rx_bad, rx_echo_requests, rx_echo_replies, rx_unreach;
    uint64_t tx_echo_replies, tx_echo_requests, tx_unreach, tx_rate_limited;
};
extern struct icmp_stats icmp_stats;

/* Protocol-1 handler (registered by ipv4_init). Consumes p. */
void icmp_input(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);
/* Sends an echo request with payload data[len]. 0 or -errno. */
int icmp_send_echo(const struct net_addr *dst, uint16_t id, uint16_t seq, const void *data, size_t len);
/* Called (from net_poller) for every echo reply received. */
typedef void (*icmp_echo_hook)(const struct net_addr *from, uint16_t id, uint16_t seq,
                               const uint8_t *data, size_t len, void *ctx);
#define ICMP_ECHO_HOOKS 4
/* 0, or -KENOSPC when ICMP_ECHO_HOOKS are registered. */
int icmp_register_echo_hook(icmp_echo_hook fn, void *ctx);
void icmp_unregister_echo_hook(icmp_echo_hook fn, void *ctx);
/* Sends destination unreachable (code) about the received datagram orig (l3_offset set by
 * ipv4_input), rate limited; never about ICMP errors, broadcasts or non-first fragments.
 * Does not consume orig. */
void icmp_send_unreachable(const struct pkt *orig, uint8_t code);
