/* tcp_priv.h: internals shared by tcp.c (connections, API, timers), tcp_in.c (segment
 * arrival, RFC 9293 §3.10.7) and tcp_out.c (segment output, RFC 9293 §3.10 / RFC 5681).
 * Not for other files: use net_tcp.h. */
#pragma once
#include "net_tcp.h"

/* Sequence-space comparisons (RFC 9293 §3.4), modulo 2^32. */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GE(a, b) SEQ_LE(b, a)

/* The connection list; every function below runs with the TCP lock held. */
extern struct tcp_conn *tcp_conns;

/* ---- tcp.c ---- */
/* The state changes; err (negative) is recorded for the user when the connection dies. */
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);
/* The connection is over (CLOSED): records err, stops timers, frees it if nobody holds it. */
void tcp_drop(struct tcp_conn *c, int err);
/* Enters TIME_WAIT (2 * MSL from now). */
void tcp_enter_time_wait(struct tcp_conn *c, uint64_t now);
/* A new connection block (buffers allocated when bufs), linked into the list; NULL if short of memory. */
struct tcp_conn *tcp_conn_new(bool bufs);
/* An RFC 6528 initial sequence number for the 4-tuple at time now. */
uint32_t tcp_isn(const struct tcp_conn *c, uint64_t now);
/* Our MSS for this connection's address family (MTU 1500). */
uint16_t tcp_our_mss(const struct tcp_conn *c);
/* A listener child became established: moves it to the listener's accept queue. */
void tcp_child_established(struct tcp_conn *c);

/* ---- tcp_out.c ---- */
/* Sends whatever the state, windows and Nagle allow, and a pending ACK. */
void tcp_output(struct tcp_conn *c, uint64_t now);
/* Sends one segment of this connection: seq, flags, len bytes of send-buffer data at seq. */
void tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t len, uint64_t now);
/* An ACK now (also the RFC 5961 challenge ACK). */
void tcp_send_ack(struct tcp_conn *c, uint64_t now);
/* A RST answering a segment that has no connection (RFC 9293 §3.10.7.1). */
void tcp_send_reset(const struct net_addr *src, const struct net_addr *dst, uint16_t sport,
                    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags);
/* The receive window we can offer now (bytes, before scaling). */
uint32_t tcp_rcv_space(const struct tcp_conn *c);
/* Queues a built segment for transmission after the lock is released. */
void tcp_queue_out(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);
/* Detaches the queued segments (under the lock) ... */
struct pkt *tcp_take_out(void);
/* ... and sends them through tcp_ip_output once the lock is released. */
void tcp_send_list(struct pkt *p);
/* The retransmission timer (RFC 6298 §5): start if off, restart, stop. */
void tcp_rexmit_arm(struct tcp_conn *c, uint64_t now, bool restart);
/* RFC 6675 §4 IsLost as a boundary: every unSACKed byte below it counts as lost (more than
 * 2 * MSS SACKed above it); SND.UNA when nothing is lost. */
uint32_t tcp_sack_lost_edge(const struct tcp_conn *c);

/* ---- tcp_in.c ---- */
/* Processes one segment for a connection found by the demultiplexer. */
void tcp_segment_arrives(struct tcp_conn *c, struct pkt *p, const struct net_addr *src,
                         const struct net_addr *dst, uint64_t now);
