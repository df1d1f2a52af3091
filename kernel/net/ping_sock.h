/* ping_sock.h: Linux "ping sockets" (SOCK_DGRAM with IPPROTO_ICMP / IPPROTO_ICMPV6), the
 * protocol half used by socket.c. Semantics of Linux net/ipv4/ping.c as described in
 * icmp(7) / ipv6(7): the socket's "port" is the echo identifier. Private to kernel/net
 * (the lead may move these declarations into net_socket.h). */
#pragma once
#include "net.h"

struct ping_sock;
/* A ping socket of domain NET_AF_INET / NET_AF_INET6 (registers the echo-reply hooks on first
 * use). NULL when memory is short. */
struct ping_sock *ping_sock_create(int domain);
/* Unlinks ps from reply delivery, drops its queued replies and frees it. */
void ping_sock_destroy(struct ping_sock *ps);
/* Sets the identifier (ident 0 = an automatic one); a no-op returning 0 when one is already
 * set and ident is 0. 0, -KEINVAL (already bound to another), -KEADDRINUSE. */
int ping_sock_bind(struct ping_sock *ps, uint16_t ident);
/* The identifier (0 = none yet). */
uint16_t ping_sock_ident(const struct ping_sock *ps);
/* Sends buf[len] (an ICMP echo request header + payload from the user) to dst: checks type
 * (8 / 128) and code 0, sets the identifier, the kernel computes the checksum. Binds an
 * automatic identifier first. len or -KEINVAL, -KEMSGSIZE, -KEAFNOSUPPORT, -KENETUNREACH... */
int64_t ping_sock_send(struct ping_sock *ps, const struct net_addr *dst, const void *buf, size_t len);
/* The next queued echo reply (ICMP header + data, no IP header) or NULL; *src = the sender. */
struct pkt *ping_sock_recv(struct ping_sock *ps, struct net_addr *src);
/* Copies up to len bytes of the next queued reply into buf and sets *src without dequeuing it
 * (MSG_PEEK). The reply's whole length, or -KEAGAIN when none is queued. */
int64_t ping_sock_peek(struct ping_sock *ps, void *buf, size_t len, struct net_addr *src);
/* Replies queued (a racy hint for poll and waits). */
uint32_t ping_sock_pending(const struct ping_sock *ps);
