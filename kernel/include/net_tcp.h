/* net_tcp.h: the TCP protocol core (kernel/net/tcp.c), following RFC 9293 (TCP), RFC 7323
 * (window scale), RFC 2018 (SACK) with RFC 6675 (SACK-based loss recovery), RFC 3042 (limited
 * transmit), RFC 5827 (early retransmit), RFC 6298 (retransmission timer), RFC 5681 /
 * RFC 6582 (congestion control, NewReno), RFC 1122 (delayed ACK, zero-window probes,
 * keep-alives §4.2.3.6 with Linux tcp(7)'s TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT),
 * RFC 5961 (RST/SYN/ACK checks) and RFC 6528 (initial sequence numbers). See docs/network.md,
 * section "TCP".
 *
 * The core is a state machine with no sleeping and no hardware access, so host tests drive it:
 * - input: the IP layer calls tcp_input() with the TCP header at p->data;
 * - output: every segment leaves through the tcp_ip_output function pointer (after TCP has
 *   released its lock, so the IP layer may loop a segment straight back into tcp_input);
 * - time: tcp_timer_tick(now_ns) every ~10 ms (a net_timer_hook), and tcp_now() for the
 *   current time inside the API calls.
 * The socket layer waits (wait_net_condition) on tcp_readable / tcp_writable / tcp_error.
 *
 * Ownership: a struct tcp_conn returned by tcp_open_active, tcp_listen or tcp_accept belongs
 * to its user until tcp_close or tcp_abort; after that the user must not touch it (TCP frees
 * it when the connection has finished closing). Every function takes the TCP lock itself. */
#pragma once
#include "types.h"
#include "kerrno.h"
#include "net.h"

#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif

/* The eleven states of RFC 9293 §3.3.2. */
enum tcp_state {
    TCP_CLOSED = 0, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_ESTABLISHED,
    TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
};

/* Header flags (RFC 9293 §3.1). */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_HLEN 20

/* Tunables (the defaults; tests change the variables below). */
#define TCP_BUF_DEFAULT 65536u        /* send and receive buffer (power of two) */
#define TCP_OOO_MAX 16                /* out-of-order ranges kept */
#define TCP_SACK_SEND 4               /* SACK blocks per ACK (RFC 2018 §3: 4 fit without timestamps) */
#define TCP_SCORE_MAX 16              /* SACKed ranges the sender remembers (the scoreboard) */
#define TCP_RTO_INIT_NS 1000000000ull /* RFC 6298 §2.1: 1 s */
#define TCP_RTO_MIN_NS 200000000ull   /* 200 ms */
#define TCP_RTO_MAX_NS 60000000000ull /* 60 s */
#define TCP_DELACK_NS 40000000ull     /* delayed ACK (RFC 1122: at most 500 ms; we use 40 ms) */
#define TCP_MAX_RETRIES 8             /* data retransmissions before ETIMEDOUT */
#define TCP_SYN_RETRIES 5             /* SYN / SYN-ACK retransmissions */
#define TCP_BACKLOG_MAX 128

/* Keep-alives (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) with Linux's defaults and limits (tcp(7)):
 * after TCP_KEEPIDLE seconds without an acceptable segment from the peer, a probe every
 * TCP_KEEPINTVL seconds; TCP_KEEPCNT unanswered probes end the connection with ETIMEDOUT. */
#define TCP_KEEPIDLE_K 4              /* setsockopt names at level IPPROTO_TCP (Linux values) */
#define TCP_KEEPINTVL_K 5
#define TCP_KEEPCNT_K 6
#define TCP_KEEPIDLE_DEFAULT 7200     /* seconds */
#define TCP_KEEPINTVL_DEFAULT 75      /* seconds */
#define TCP_KEEPCNT_DEFAULT 9
#define TCP_KEEPIDLE_MAX 32767        /* Linux MAX_TCP_KEEPIDLE; also the interval's limit */
#define TCP_KEEPCNT_MAX 127

/* Maximum segment lifetime; TIME_WAIT lasts 2 * tcp_msl_ns (default 30 s). */
extern uint64_t tcp_msl_ns;

/* Provided by the IP layer (or a test): sends one TCP segment (header at p->data, checksum
 * filled in) from src to dst. Takes ownership of p. */
extern int (*tcp_ip_output)(const struct net_addr *src, const struct net_addr *dst, struct pkt *p);
/* The monotonic clock in ns (the kernel sets it to its clock; tests to a fake one). */
extern uint64_t (*tcp_now)(void);

/* Counters for /proc/net. */
struct tcp_stats {
    uint64_t in_segs, out_segs, retrans_segs, bad_csum, bad_header, no_socket, backlog_full,
        resets_sent, resets_received, active_opens, passive_opens, timeouts, keepalive_probes,
        rto_expiries, fast_recoveries;   /* retransmission timer expiries; fast retransmits */
};
extern struct tcp_stats tcp_stats;

struct tcp_ooo { uint32_t start, end; };   /* an out-of-order range [start, end) of sequence space */

struct tcp_conn {
    enum tcp_state state;
    struct net_addr local, remote;
    uint16_t lport, rport;                 /* host order */
    int error;                             /* pending error (-KE*), 0 = none */
    bool user_closed;                      /* tcp_close called: free when done */
    bool nodelay;                          /* TCP_NODELAY: no Nagle */
    bool passive;                          /* created by a listener */
    bool rcv_fin;                          /* the peer's FIN was received (EOF after the data) */
    bool rd_shut;                          /* tcp_shutdown(read): recv returns 0 */
    bool fin_queued;                       /* tcp_shutdown(write) / close: send FIN after the data */
    bool ws_ok;                            /* both sides sent the window scale option */
    bool ack_now;                          /* an ACK must go out at the next output */
    bool sack_ok;                          /* both sides sent SACK-permitted (RFC 2018 §2) */
    uint16_t owner_family;                 /* the owning socket's family (/proc/net/tcp or tcp6;
                                            * children inherit it); 0 = local.family */
    uint8_t snd_wscale, rcv_wscale;
    /* send side (RFC 9293 §3.3.1) */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
    uint32_t snd_end;                      /* sequence number after the last byte written */
    uint16_t mss;                          /* what we send per segment */
    uint8_t *sndbuf; uint32_t sndbuf_size;
    /* receive side */
    uint32_t irs, rcv_nxt, rcv_adv;        /* rcv_adv: right edge of the advertised window */
    uint32_t rcv_user;                     /* sequence number of the next byte tcp_recv returns */
    uint8_t *rcvbuf; uint32_t rcvbuf_size;
    struct tcp_ooo ooo[TCP_OOO_MAX]; int n_ooo;
    bool ooo_fin; uint32_t ooo_fin_seq;    /* a FIN seen beyond a hole */
    uint32_t ooo_last;                     /* start of the latest out-of-order segment: its range
                                            * is the first SACK block (RFC 2018 §4) */
    int unacked_segs;                      /* in-order segments received since our last ACK */
    /* RTO (RFC 6298); times in ns, 0 = timer off */
    uint64_t srtt, rttvar, rto;
    bool rtt_active; uint32_t rtt_seq; uint64_t rtt_start;
    uint64_t rexmit_at, persist_at, delack_at, timewait_at;
    int retries, persist_shift;
    /* keep-alive (RFC 1122 §4.2.3.6); a listener's settings are copied to its children */
    bool keepalive;                        /* SO_KEEPALIVE */
    uint16_t keepidle_s, keepintvl_s;      /* seconds, 1..TCP_KEEPIDLE_MAX */
    uint8_t keepcnt, keep_probes;          /* probe limit; probes sent since the peer's last word */
    uint64_t idle_since;                   /* last acceptable segment (or keep-alive switched on) */
    uint64_t keepalive_at;                 /* keep-alive timer, 0 = off */
    /* congestion control (RFC 5681 / 6582) */
    uint32_t cwnd, ssthresh, recover; int dupacks; bool in_recovery;
    /* SACK scoreboard (RFC 6675 §3): sorted, disjoint ranges within (SND.UNA, SND.MAX] the peer
     * reported; high_rxt: HighRxt, the end of the last hole retransmitted in this recovery */
    struct tcp_ooo sacked[TCP_SCORE_MAX]; int n_sacked;
    uint32_t high_rxt;
    bool una_rxt;                          /* the segment at SND.UNA was retransmitted ... */
    uint32_t una_rxt_max;                  /* ... when SND.MAX was this: SACKs for more than
                                            * 2 MSS sent after it mean the resend was lost */
    /* listening */
    int backlog, n_pending;                /* pending: children not yet accepted */
    struct tcp_conn *parent;               /* a child's listener (NULL once accepted) */
    struct tcp_conn *accept_next;          /* listener's queue of established children */
    struct tcp_conn *accept_head;
    struct tcp_conn *next;                 /* all connections */
};

/* Active open (connect): from local:lport (lport 0 = an ephemeral port) to remote:rport.
 * Sends the SYN. Returns the connection, or NULL with *err = -KENOMEM / -KEADDRINUSE / -KEINVAL. */
struct tcp_conn *tcp_open_active(const struct net_addr *local, uint16_t lport,
                                 const struct net_addr *remote, uint16_t rport, int *err);
/* Passive open: listens on local:lport (local->family 0 = any address of any family) with up to
 * backlog connections not yet accepted (SYNs beyond it are dropped). NULL with *err on error. */
struct tcp_conn *tcp_listen(const struct net_addr *local, uint16_t lport, int backlog, int *err);
/* Pops an established connection from a listener; NULL with *err = -KEAGAIN when none, or
 * -KEINVAL when l is not listening. Never blocks. */
struct tcp_conn *tcp_accept(struct tcp_conn *l, int *err);
/* Copies up to len bytes into the send buffer and sends what the windows allow. Returns the
 * bytes accepted (0 < n <= len), -KEAGAIN when the buffer is full, -KEPIPE after shutdown or
 * close, the pending error (-KECONNRESET...), -KEAGAIN while connecting, -KENOTCONN if not connected. */
int64_t tcp_send(struct tcp_conn *c, const void *buf, size_t len);
/* Copies up to len received bytes into buf. Returns n > 0, 0 at end of stream (FIN received
 * and all data read), -KEAGAIN when nothing is there yet, or the pending error. */
int64_t tcp_recv(struct tcp_conn *c, void *buf, size_t len);
/* Like tcp_recv, but leaves the bytes in the receive buffer (MSG_PEEK). */
int64_t tcp_peek(struct tcp_conn *c, void *buf, size_t len);
/* how: 0 = SHUT_RD, 1 = SHUT_WR (send FIN after the data), 2 = both. 0 or -KENOTCONN. */
int tcp_shutdown(struct tcp_conn *c, int how);
/* The user is done: graceful close (FIN), or RST if received data was left unread
 * (RFC 2525 §2.17). TCP frees c later; the caller must not use it again. */
void tcp_close(struct tcp_conn *c);
/* Sends RST (when synchronized) and frees c at once. */
void tcp_abort(struct tcp_conn *c);
/* True when everything written, FIN included once queued, has been acknowledged, or the
 * connection is over (SO_LINGER waits for this before tcp_close). */
bool tcp_send_done(const struct tcp_conn *c);
/* For poll: data or EOF or an error to read / a connection to accept. */
bool tcp_readable(const struct tcp_conn *c);
/* For poll: connected and room in the send buffer (or an error that makes send return). */
bool tcp_writable(const struct tcp_conn *c);
/* SO_KEEPALIVE and TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT: idle_s and intvl_s in seconds,
 * 0 = Linux's default (7200, 75, 9), larger values capped at TCP_KEEPIDLE_MAX / TCP_KEEPCNT_MAX
 * (the socket layer rejects them first). Switching it on starts the idle clock afresh; new
 * times apply to the current idle period. A listener passes its settings to new children. */
void tcp_set_keepalive(struct tcp_conn *c, bool on, uint32_t idle_s, uint32_t intvl_s, uint32_t cnt);
/* The pending error (negative), 0 if none; clear=true resets it (SO_ERROR). */
int tcp_error(struct tcp_conn *c, bool clear);
/* Bytes waiting in the receive buffer (FIONREAD). */
uint32_t tcp_rcv_queued(const struct tcp_conn *c);
/* Bytes written and not yet acknowledged (the SYN and FIN not counted). */
uint32_t tcp_snd_queued(const struct tcp_conn *c);
const char *tcp_state_name(enum tcp_state s);

/* Input from the IP layer: one segment, TCP header at p->data, p->len the TCP length (IP
 * padding already trimmed). Verifies the checksum with the pseudo-header. Takes ownership. */
void tcp_input(struct pkt *p, const struct net_addr *src, const struct net_addr *dst);
/* Runs the timers (retransmission, persist, delayed ACK, keep-alive, TIME_WAIT). net_poller calls it
 * every ~10 ms through a net_timer_hook; tests call it with a fake clock. */
void tcp_timer_tick(uint64_t now_ns);
/* Kernel only: sets tcp_now to the monotonic clock and registers the 10 ms timer hook with
 * net_poller. Call once at network start-up, before the IP layer delivers segments. */
void tcp_init(void);
/* Calls fn for every connection (for /proc/net and netstat); under the TCP lock. */
void tcp_for_each(void (*fn)(const struct tcp_conn *c, void *ctx), void *ctx);
/* Frees every connection (host tests: leak checking). */
void tcp_reset_all(void);
