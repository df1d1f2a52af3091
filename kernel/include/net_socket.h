/* net_socket.h: BSD sockets on the Linux x86-64 ABI (kernel/net/socket.c, sys_socket.c) and the
 * glue between the transports and the IP layers (kernel/net/inet.c).
 *
 * Follows the Linux man-pages socket(2), bind(2), listen(2), accept(2), connect(2), send(2),
 * recv(2), shutdown(2), getsockopt(2), socket(7), ip(7), ipv6(7), tcp(7), udp(7) and POSIX.1-2017
 * XSH 2.10 (Sockets) for the semantics, with Linux's numeric values.
 *
 * A socket is an open file (struct vfs_file, fops = the socket operations) whose vnode is
 * embedded in struct socket (S_IFSOCK). The functions below take kernel buffers and kernel
 * addresses; sys_socket.c copies from and to user space. Every blocking wait is
 * wait_net_condition (net.h): O_NONBLOCK / MSG_DONTWAIT never wait (-KEAGAIN at once),
 * SO_RCVTIMEO / SO_SNDTIMEO bound the waits (-KEAGAIN at expiry), a signal ends a wait with
 * -KEINTR. Addresses are struct net_addr plus a host-order port. */
#pragma once
#include "net.h"
#include "vfs.h"

/* Linux values (linux/socket.h, linux/net.h, linux/in.h, linux/in6.h, asm-generic/socket.h) */
#define SOCK_STREAM_K 1
#define SOCK_DGRAM_K 2
#define SOCK_RAW_K 3
#define SOCK_RDM_K 4
#define SOCK_SEQPACKET_K 5
#define SOCK_NONBLOCK_K 04000
#define SOCK_CLOEXEC_K 02000000
#define SOCK_TYPE_MASK_K 0xf

#define IPPROTO_IP_K 0
#define IPPROTO_ICMP_K 1
#define IPPROTO_TCP_K 6
#define IPPROTO_UDP_K 17
#define IPPROTO_IPV6_K 41
#define IPPROTO_ICMPV6_K 58

#define SOL_SOCKET_K 1
#define SO_REUSEADDR_K 2
#define SO_TYPE_K 3
#define SO_ERROR_K 4
#define SO_SNDBUF_K 7
#define SO_RCVBUF_K 8
#define SO_KEEPALIVE_K 9
#define SO_LINGER_K 13
#define SO_RCVTIMEO_K 20
#define SO_SNDTIMEO_K 21
#define SO_ACCEPTCONN_K 30
#define SO_PROTOCOL_K 38
#define SO_DOMAIN_K 39
#define TCP_NODELAY_K 1
#define IPV6_V6ONLY_K 26

#define MSG_PEEK_K 0x2
#define MSG_TRUNC_K 0x20
#define MSG_DONTWAIT_K 0x40
#define MSG_WAITALL_K 0x100
#define MSG_NOSIGNAL_K 0x4000

#define SHUT_RD_K 0
#define SHUT_WR_K 1
#define SHUT_RDWR_K 2

struct udp_sock;
struct tcp_conn;

/* ---- socket.c ---- */
/* Creates a socket file: domain AF_INET/AF_INET6, type SOCK_STREAM/SOCK_DGRAM possibly with
 * SOCK_NONBLOCK (the file gets O_NONBLOCK; SOCK_CLOEXEC is the caller's business), protocol 0
 * or the matching IPPROTO_*. -KEAFNOSUPPORT, -KESOCKTNOSUPPORT (raw, seqpacket),
 * -KEPROTONOSUPPORT, -KEINVAL (unknown type or flags), -KENOMEM. */
int sock_create(int domain, int type, int protocol, struct vfs_file **out);
/* True when f is a socket. */
bool sock_is_socket(const struct vfs_file *f);
/* The socket's domain (NET_AF_INET / NET_AF_INET6); f must be a socket. */
int sock_domain(const struct vfs_file *f);
/* bind(2): addr->family must be the socket's (an AF_INET6 socket without IPV6_V6ONLY also
 * takes IPv4 addresses from v4-mapped input, converted by the caller). Port 0 = ephemeral.
 * 0, -KEINVAL (already bound), -KEADDRINUSE, -KEADDRNOTAVAIL, -KEAFNOSUPPORT. */
int sock_bind(struct vfs_file *f, const struct net_addr *addr, uint16_t port);
/* listen(2) (TCP): binds an ephemeral port when unbound. 0, -KEOPNOTSUPP (UDP), -KEINVAL. */
int sock_listen(struct vfs_file *f, int backlog);
/* accept4(2): the next connection as a new socket file (flags: SOCK_NONBLOCK); peer filled
 * when non-NULL. -KEAGAIN (non-blocking, nothing pending), -KEINVAL (not listening), -KEINTR. */
int sock_accept(struct vfs_file *f, int flags, struct vfs_file **out, struct net_addr *peer, uint16_t *pport);
/* connect(2). TCP: blocking waits for the handshake (-KECONNREFUSED, -KETIMEDOUT...);
 * non-blocking returns -KEINPROGRESS (then poll POLLOUT and SO_ERROR); -KEALREADY while a
 * connect is in progress; -KEISCONN when connected. UDP: sets the default peer. */
int sock_connect(struct vfs_file *f, const struct net_addr *addr, uint16_t port);
/* sendto(2)/send(2): dst NULL = the connected peer. Returns bytes sent or -errno (TCP:
 * -KEPIPE with SIGPIPE unless MSG_NOSIGNAL). */
int64_t sock_sendto(struct vfs_file *f, const void *buf, size_t len, int flags, const struct net_addr *dst,
                    uint16_t dport);
/* recvfrom(2): src/sport filled when non-NULL (UDP: the sender; TCP: the peer). *msg_flags
 * (may be NULL) gets MSG_TRUNC for a cut datagram. With MSG_TRUNC in flags a datagram's full
 * length is returned. */
int64_t sock_recvfrom(struct vfs_file *f, void *buf, size_t len, int flags, struct net_addr *src,
                      uint16_t *sport, int *msg_flags);
/* shutdown(2): 0, -KENOTCONN, -KEINVAL. */
int sock_shutdown(struct vfs_file *f, int how);
/* getsockname(2) (peer false) / getpeername(2) (peer true, -KENOTCONN when none). */
int sock_getname(struct vfs_file *f, bool peer, struct net_addr *addr, uint16_t *port);
/* setsockopt(2) with a kernel copy of the value: 0, -KENOPROTOOPT, -KEINVAL. */
int sock_setopt(struct vfs_file *f, int level, int name, const void *val, size_t len);
/* getsockopt(2): fills val (*len: room in, bytes out). 0, -KENOPROTOOPT, -KEINVAL. */
int sock_getopt(struct vfs_file *f, int level, int name, void *val, size_t *len);
/* Sockets alive (tests: nothing leaks). */
int sock_count(void);

/* ---- inet.c ---- */
/* Registers UDP and TCP with IPv4 and IPv6, points the transports' output hooks at the IP
 * layers and starts TCP's clock and timer. net_init calls it once after ipv4_init/ipv6_init. */
void inet_init(void);
/* The source address the stack uses towards dst (through nif when non-NULL): 0, or
 * -KENETUNREACH. */
int inet_select_src(const struct net_addr *dst, struct netif *nif, struct net_addr *src);
/* True when addr is one of this host's addresses (127/8, ::1, an interface address). */
bool inet_addr_is_local(const struct net_addr *addr);
