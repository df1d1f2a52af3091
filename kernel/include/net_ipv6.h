/* net_ipv6.h: IPv6 (RFC 8200), ICMPv6 (RFC 4443), neighbour discovery (RFC 4861) and
 * stateless address autoconfiguration (RFC 4862) with addresses per RFC 4291.
 * Files: kernel/net/ipv6.c, kernel/net/icmpv6.c, kernel/net/ndp.c.
 *
 * Context: ipv6_input and the ND timer run in net_poller; ipv6_output and the ICMPv6 echo
 * sender may be called from any task. The neighbour cache is protected by a spinlock that
 * is never held while a frame is transmitted. Time comes from ipv6_clock (host tests
 * replace it) or, for the periodic work, from the net_timer_hook argument.
 * Addresses are 16-byte arrays as on the wire. */
#pragma once
#include "net.h"

#define IPV6_HLEN 40
#define IPV6_MIN_MTU 1280
#define IPV6_DEFAULT_HOP_LIMIT 64

/* Next-header values (IANA) */
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_TCP 6
#define IPV6_NH_UDP 17
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_ICMPV6 58
#define IPV6_NH_NONE 59
#define IPV6_NH_DSTOPTS 60

/* How many extension headers ipv6_input walks before giving up (a hostile chain). */
#define IPV6_MAX_EXT_HDRS 8

/* What an upper-layer handler learns about a received datagram. */
struct ipv6_rx_info {
    struct netif *nif;
    uint8_t src[16], dst[16];
    uint8_t hop_limit;
    uint8_t next_header;   /* of the upper layer */
    uint16_t l3_offset;    /* offset of the IPv6 header from p->head */
};

/* An upper-layer handler: p->data is the upper-layer header, p->len its length (IPv6
 * payload minus extension headers). Takes ownership of p. */
typedef void (*ipv6_handler_t)(struct pkt *p, const struct ipv6_rx_info *info);

/* Counters (drops by reason), also for /proc/net. */
struct ipv6_stats {
    uint64_t rx_packets, rx_delivered;
    uint64_t rx_truncated, rx_bad_version, rx_bad_length, rx_bad_ext, rx_not_ours;
    uint64_t rx_frag_dropped, rx_no_proto, rx_bad_src;
    uint64_t tx_packets, tx_no_route, tx_no_mem, tx_nd_failed, tx_too_big;
    uint64_t icmp_rx, icmp_bad_csum, icmp_bad, icmp_echo_replies_sent, icmp_errors_sent;
    uint64_t nd_ns_rx, nd_na_rx, nd_rs_tx, nd_ra_rx, nd_bad, nd_queue_dropped;
};
extern struct ipv6_stats ipv6_stats;

/* ---- address helpers (RFC 4291) ---- */
static inline bool ip6_is_unspecified(const uint8_t a[16]) {
    for (int i = 0; i < 16; i++) if (a[i]) return false;
    return true;
}
static inline bool ip6_is_multicast(const uint8_t a[16]) { return a[0] == 0xff; }
static inline bool ip6_is_linklocal(const uint8_t a[16]) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
static inline bool ip6_is_loopback(const uint8_t a[16]) {
    for (int i = 0; i < 15; i++) if (a[i]) return false;
    return a[15] == 1;
}
static inline bool ip6_equal(const uint8_t a[16], const uint8_t b[16]) {
    for (int i = 0; i < 16; i++) if (a[i] != b[i]) return false;
    return true;
}
/* ff02::1:ffXX:XXXX for addr (RFC 4291 §2.7.1). */
void ip6_solicited_node(const uint8_t addr[16], uint8_t out[16]);
/* 33:33 + the last 32 bits of a multicast address (RFC 2464 §7). */
void ip6_multicast_mac(const uint8_t addr[16], uint8_t mac[6]);
/* The modified EUI-64 interface identifier from a MAC (RFC 4291 §2.5.1, appendix A). */
void ip6_eui64(const uint8_t mac[6], uint8_t iid[8]);
/* fe80::IID for a MAC. */
void ip6_linklocal_from_mac(const uint8_t mac[6], uint8_t out[16]);
/* Formats an address (RFC 5952 short form) into buf (at least 40 bytes); returns buf. */
char *ip6_format(const uint8_t a[16], char *buf);

/* ---- IPv6 (kernel/net/ipv6.c) ---- */
/* The clock (ns, monotonic) used by input and output paths; host tests replace it. */
extern uint64_t (*ipv6_clock)(void);
/* Sets up IPv6: ICMPv6 handler, ND timer, link-local address and router solicitation on
 * every interface already registered. Idempotent. */
void ipv6_init(void);
/* An interface came up (or was registered after ipv6_init): assigns its link-local address,
 * starts DAD (simplified) and router solicitation. */
void ipv6_netif_up(struct netif *nif);
/* Registers the handler for an upper-layer protocol; 0, -KEEXIST, -KEINVAL. */
int ipv6_register_protocol(uint8_t next_header, ipv6_handler_t handler);
/* Entry from eth_input: p->data is the IPv6 header. Takes ownership. */
void ipv6_input(struct pkt *p);
/* Route selection for a datagram to dst (RFC 4861 §5.2, source per RFC 6724 §5):
 * - dst one of ours (ipv6_is_local_addr), or *nif the loopback interface: "lo", source src or
 *   dst itself;
 * - else the interface: *nif when given; else the interface holding src when src is one of
 *   our addresses (a bound socket sends from its address's interface); else for a global
 *   unicast dst ndp_route (on-link prefix, then default router); for link-local and multicast
 *   dst without an interface the first interface with IPv6 up;
 * - the source: src when given, else the interface's link-local address for link-local and
 *   link-scope multicast destinations (or when it has no global one), else its global address.
 * *nif and src_out are filled; 0 or -KENETUNREACH. The next hop is ndp_next_hop's. */
int ipv6_route(const uint8_t dst[16], const uint8_t *src, struct netif **nif, uint8_t src_out[16]);
/* Sends p (p->data = upper-layer header, at least IPV6_HLEN + ETH_HLEN of headroom) to dst
 * through the interface and source ipv6_route chooses (nif and src NULL = choose), like
 * IPv4's 127/8 through "lo" for our own addresses (back through ipv6_input). hop_limit 0 =
 * default (255 is used for ND). Takes ownership. 0 (sent or queued for neighbour
 * resolution), -KENETUNREACH (no route), -KEHOSTUNREACH, -KEMSGSIZE, -KENOBUFS, -KEINVAL. */
int ipv6_output(struct netif *nif, const uint8_t *src, const uint8_t dst[16], uint8_t next_header,
                uint8_t hop_limit, struct pkt *p);
/* Is addr one of this host's unicast addresses: ::1 or an address of any interface? */
bool ipv6_is_local_addr(const uint8_t addr[16]);
/* Is addr one of ours on nif (unicast) or a multicast group nif listens to? */
bool ipv6_is_our_unicast(const struct netif *nif, const uint8_t addr[16]);
bool ipv6_accepts_multicast(const struct netif *nif, const uint8_t addr[16]);
/* The upper-layer checksum over src, dst, nh and len bytes at data (RFC 8200 §8.1); 0 when valid. */
uint16_t ipv6_upper_csum(const uint8_t src[16], const uint8_t dst[16], uint8_t nh, const void *data,
                         uint32_t len);

/* ---- ICMPv6 (kernel/net/icmpv6.c) ---- */
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PACKET_TOO_BIG 2
#define ICMPV6_TIME_EXCEEDED 3
#define ICMPV6_PARAM_PROBLEM 4
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
#define ICMPV6_RS 133
#define ICMPV6_RA 134
#define ICMPV6_NS 135
#define ICMPV6_NA 136
#define ICMPV6_REDIRECT 137
/* Destination unreachable codes */
#define ICMPV6_DU_NOROUTE 0
#define ICMPV6_DU_ADDR 3
#define ICMPV6_DU_PORT 4

/* The ICMPv6 upper-layer handler (registered by ipv6_init). */
void icmpv6_input(struct pkt *p, const struct ipv6_rx_info *info);
/* Sends an ICMPv6 error about the received datagram p (p->head + info->l3_offset is its IPv6
 * header; p is not consumed). Never answers errors, multicast destinations (except
 * parameter problem code 2) or unspecified/multicast sources (RFC 4443 §2.4 e). */
void icmpv6_send_error(const struct pkt *p, const struct ipv6_rx_info *info, uint8_t type, uint8_t code,
                       uint32_t param);
/* Sends an echo request; 0 or -errno. */
int icmpv6_send_echo(const uint8_t dst[16], uint16_t id, uint16_t seq, const void *data, uint32_t len);
/* Has an echo reply with id/seq arrived (from any source; src gets the sender if non-NULL)?
 * Remembers the last few replies. */
bool icmpv6_echo_reply_seen(uint16_t id, uint16_t seq, uint8_t *src);
/* Optional: called for every echo reply (for ICMP sockets). */
extern void (*icmpv6_echo_reply_hook)(const struct ipv6_rx_info *info, uint16_t id, uint16_t seq,
                                      const uint8_t *data, uint32_t len);

/* ---- neighbour discovery and SLAAC (kernel/net/ndp.c) ---- */
enum nd_state { ND_NONE = 0, ND_INCOMPLETE, ND_REACHABLE, ND_STALE, ND_DELAY, ND_PROBE };
/* RFC 4861 §10 constants */
#define ND_MAX_MULTICAST_SOLICIT 3
#define ND_MAX_UNICAST_SOLICIT 3
#define ND_RETRANS_TIMER_NS 1000000000ull
#define ND_REACHABLE_TIME_NS 30000000000ull
#define ND_DELAY_FIRST_PROBE_NS 5000000000ull
#define ND_MAX_RTR_SOLICITATIONS 3
#define ND_RTR_SOLICITATION_INTERVAL_NS 4000000000ull
#define ND_CACHE_SIZE 32
#define ND_QUEUE_MAX 3          /* packets waiting per INCOMPLETE entry */

/* Handles NS/NA/RS/RA/redirect (called by icmpv6_input after the checksum passed);
 * icmp points at the ICMPv6 header, len bytes. */
void ndp_input(const struct ipv6_rx_info *info, const uint8_t *icmp, uint32_t len, uint64_t now_ns);
/* Next-hop resolution for ipv6_output: 1 and mac filled (send now), 0 (p queued until the
 * neighbour answers; ownership taken), or -errno (p freed). */
int ndp_resolve(struct netif *nif, const uint8_t nexthop[16], struct pkt *p, uint8_t mac[6], uint64_t now_ns);
/* Chooses the next hop for dst on nif: dst itself when it is link-local, multicast or inside
 * an on-link prefix of nif (RA prefixes with the L flag, the SLAAC /64), else nif's default
 * router. 0 and nexthop filled, or -KENETUNREACH. */
int ndp_next_hop(struct netif *nif, const uint8_t dst[16], uint8_t nexthop[16], uint64_t now_ns);
/* The interface for a global unicast dst when none is given (RFC 4861 §5.2): the up interface
 * with the longest on-link prefix holding dst; else one with a live default router (routers
 * not known unreachable first, then the interface that came up first: eth0). NULL: no route. */
struct netif *ndp_route(const uint8_t dst[16], uint64_t now_ns);
/* Periodic work (retransmissions, state timeouts, lifetimes); run from a net_timer_hook. */
void ndp_timer(uint64_t now_ns);
/* Interface up: link-local address, DAD probe, first router solicitation. */
void ndp_netif_up(struct netif *nif, uint64_t now_ns);
/* Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. from TCP. */
void ndp_confirm(struct netif *nif, const uint8_t addr[16], uint64_t now_ns);
/* State of a neighbour (ND_NONE when not in the cache); mac filled when known. */
enum nd_state ndp_lookup(const struct netif *nif, const uint8_t addr[16], uint8_t mac[6]);
/* The current default router (true and addr filled) for nif. */
bool ndp_default_router(const struct netif *nif, uint8_t addr[16]);
/* Forgets everything (host tests). */
void ndp_reset(void);
