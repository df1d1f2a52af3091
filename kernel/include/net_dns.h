/* net_dns.h: the DNS stub resolver (RFC 1035 messages; RFC 3596 AAAA; RFC 2181 §10.1 CNAME).
 *
 * Pure parts: the query encoder, the response decoder (name compression with loop and
 * bounds protection, CNAME chains of at most DNS_MAX_CNAME links), /etc/hosts and
 * /etc/resolv.conf parsers over a text buffer, and IPv4/IPv6 text address parsers.
 * The resolver is a state machine without sleeping: the caller starts it, feeds it received
 * datagrams (dns_resolver_input) and the clock (dns_resolver_tick), and it sends through a
 * function pointer. Errors are negative KE* values:
 *   -KENOENT NXDOMAIN or not in hosts; -KENODATA the name exists without such records;
 *   -KEPROTO malformed or mismatched answer; -KEMSGSIZE truncated (TC) answer;
 *   -KELOOP CNAME chain too long or looping; -KEAGAIN server failure (SERVFAIL/REFUSED);
 *   -KETIMEDOUT no server answered; -KENAMETOOLONG / -KEINVAL bad name. */
#pragma once
#include "net.h"


#define DNS_PORT 53
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_MAX_NAME 255         /* wire form, RFC 1035 §2.3.4 */
#define DNS_MAX_TEXT 254         /* dotted text incl. NUL (253 chars) */
#define DNS_MAX_LABEL 63
#define DNS_MAX_CNAME 8
#define DNS_MAX_ADDRS 8
#define DNS_MAX_SERVERS 3        /* resolv.conf MAXNS */
#define DNS_MAX_MSG 512          /* UDP message limit without EDNS */

struct dns_result {
    int count;                           /* addresses found */
    struct net_addr addrs[DNS_MAX_ADDRS];
    uint32_t ttl;                        /* smallest TTL along the chain */
    char canon[DNS_MAX_TEXT];            /* canonical name (end of the CNAME chain) */
    int cnames;                          /* CNAME links followed */
};

/* Encodes a standard recursive query for name (dotted, optional trailing dot) into buf.
 * Returns the length, -KEINVAL (empty label, bad characters), -KENAMETOOLONG, -KENOSPC. */
int dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype);
/* Decodes the (possibly compressed) name at *off in msg[0..len) into out (dotted text,
 * NUL-terminated, cap >= DNS_MAX_TEXT recommended) and advances *off past it in the
 * original position. -KEPROTO on bounds, loops (pointers must go strictly backwards),
 * reserved label types; -KENAMETOOLONG over 255 bytes; -KENOSPC when out is too small. */
int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap);
/* Checks a response to query (id, name, qtype) and extracts the addresses at the end of
 * the CNAME chain. 0 with res->count >= 1, or an error above. */
int dns_parse_response(const uint8_t *msg, size_t len, uint16_t id, const char *name, uint16_t qtype,
                       struct dns_result *res);

/* Parses dotted-quad IPv4 "a.b.c.d" (exactly n chars); true on success. */
bool dns_parse_ip4(const char *s, size_t n, uint8_t out[4]);
/* Parses RFC 4291 §2.2 IPv6 text (with "::" and a trailing dotted quad); true on success. */
bool dns_parse_ip6(const char *s, size_t n, uint8_t out[16]);
/* Looks name up in an /etc/hosts text (address then names per line, '#' comments):
 * fills up to max addresses of family (NET_AF_INET/NET_AF_INET6, 0 = both); returns the
 * count (0 = not found). Case-insensitive. */
int dns_hosts_lookup(const char *text, size_t len, const char *name, uint16_t family,
                     struct net_addr *out, int max);
/* Collects "nameserver ADDR" lines of a resolv.conf text ('#' and ';' comments, junk lines
 * ignored), at most max; returns the count. */
int dns_parse_resolv_conf(const char *text, size_t len, struct net_addr *servers, int max);

/* ---- the resolver state machine ---- */
enum dns_state { DNS_IDLE, DNS_WAITING, DNS_DONE, DNS_FAILED };

struct dns_resolver_ops {
    /* Sends msg to server:53 (the caller's UDP socket); 0 or -errno. */
    int (*send)(void *ctx, const struct net_addr *server, const uint8_t *msg, size_t len);
    /* 16 random bits for the query id (RFC 5452 §9.2). */
    uint16_t (*rand16)(void *ctx);
    void *ctx;
};

struct dns_resolver {
    struct dns_resolver_ops ops;
    struct net_addr servers[DNS_MAX_SERVERS];
    int nservers;
    uint64_t timeout_ns;        /* per try (0 = 2 s) */
    int attempts;               /* rounds over all servers (0 = 2) */
    /* state */
    enum dns_state state;
    char name[DNS_MAX_TEXT];
    uint16_t qtype, id;
    int server, round;
    uint64_t deadline_ns;
    int error;                  /* DNS_FAILED: the reason */
    int last_error;             /* worst answer seen so far (SERVFAIL...) */
    struct dns_result result;   /* DNS_DONE */
    uint8_t msg[DNS_MAX_MSG];
    size_t msg_len;
};

/* Starts resolving name for qtype (A or AAAA). Order: an address literal, then the hosts
 * text (may be NULL), then the servers. Returns 0 when a query was sent (DNS_WAITING),
 * 1 when answered at once (DNS_DONE), or an error (DNS_FAILED). */
int dns_resolver_start(struct dns_resolver *r, const char *name, uint16_t qtype,
                       const char *hosts, size_t hosts_len, uint64_t now_ns);
/* A datagram from from:sport. Ignored unless it answers the current query from the server
 * asked (anti-spoofing). Returns 1 when the resolver finished (DONE or FAILED), 0 otherwise. */
int dns_resolver_input(struct dns_resolver *r, const struct net_addr *from, uint16_t sport,
                       const uint8_t *msg, size_t len, uint64_t now_ns);
/* Handles timeouts: the next server, the next round, or -KETIMEDOUT. Returns 1 when it
 * finished, 0 otherwise. */
int dns_resolver_tick(struct dns_resolver *r, uint64_t now_ns);
