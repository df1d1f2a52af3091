/* tcp.c: TCP connections, the user API, demultiplexing and timers, following RFC 9293
 * §3.10 (user calls OPEN/SEND/RECEIVE/CLOSE/ABORT, timeouts), RFC 6298 §5 (retransmission
 * timer with exponential back-off), RFC 1122 §4.2.2.17 (zero-window probes), §4.2.2.13
 * (TIME_WAIT for 2*MSL), §4.2.3.6 and RFC 9293 §3.8.4 (keep-alives: after the idle time a
 * probe with SEG.SEQ = SND.NXT - 1 and no data, repeated every interval; the count unanswered
 * ends the connection; idle time, interval and count as Linux's tcp(7) TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT) and RFC 6528 (ISN = a 4 µs clock + a keyed hash of the 4-tuple; the
 * hash is SipHash-2-4, written from Aumasson & Bernstein's paper). Segment arrival is in
 * tcp_in.c, output in tcp_out.c. See net_tcp.h for the contract. */
#include "tcp_priv.h"
#include "kstring.h"
#include "mm.h"
#include "spinlock.h"

int random_bytes(void *buf, size_t len);   /* declared in vfs.h; repeated to keep vfs.h out */

uint64_t tcp_msl_ns = 30000000000ull;
int (*tcp_ip_output)(const struct net_addr *src, const struct net_addr *dst, struct pkt *p);
static uint64_t no_clock(void) { return 0; }
uint64_t (*tcp_now)(void) = no_clock;
struct tcp_stats tcp_stats;
struct tcp_conn *tcp_conns;

static spinlock_t tcp_lock = SPINLOCK_INIT("tcp");
static uint16_t next_ephemeral = 49152;

#define LOCK() uint64_t lock_flags_ = spin_lock_irqsave(&tcp_lock)
#define UNLOCK() do { struct pkt *out_ = tcp_take_out(); spin_unlock_irqrestore(&tcp_lock, lock_flags_); \
                      tcp_send_list(out_); } while (0)

static const char *const state_names[] = {
    "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s) {
    return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

/* ---- RFC 6528 ISNs: SipHash-2-4 keyed with random bytes ---- */
static uint64_t isn_key[2];
static bool isn_keyed;

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
static void sip_round(uint64_t v[4]) {
    v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
    v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

/* SipHash-2-4 of n bytes (n a multiple of 8 here: the caller pads). */
static uint64_t siphash(const uint8_t *m, size_t n) {
    uint64_t v[4] = {isn_key[0] ^ 0x736f6d6570736575ull, isn_key[1] ^ 0x646f72616e646f6dull,
                     isn_key[0] ^ 0x6c7967656e657261ull, isn_key[1] ^ 0x7465646279746573ull};
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, m + i, 8);
        v[3] ^= w; sip_round(v); sip_round(v); v[0] ^= w;
    }
    uint64_t b = (uint64_t)(n & 0xff) << 56;
    v[3] ^= b; sip_round(v); sip_round(v); v[0] ^= b;
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint32_t tcp_isn(const struct tcp_conn *c, uint64_t now) {
    if (!isn_keyed) {
        random_bytes(isn_key, sizeof isn_key);
        isn_keyed = true;
    }
    uint8_t m[40] = {0};
    memcpy(m, c->local.v6, 16);
    memcpy(m + 16, c->remote.v6, 16);
    net_put16(m + 32, c->lport);
    net_put16(m + 34, c->rport);
    net_put16(m + 36, c->local.family);
    return (uint32_t)(now / 4000) + (uint32_t)siphash(m, sizeof m);
}

uint16_t tcp_our_mss(const struct tcp_conn *c) {
    return c->local.family == NET_AF_INET6 ? 1500 - 40 - 20 : 1500 - 20 - 20;
}

/* ---- connection blocks ---- */
struct tcp_conn *tcp_conn_new(bool bufs) {
    struct tcp_conn *c = kzalloc(sizeof *c);
    if (!c) return NULL;
    if (bufs) {
        c->sndbuf_size = c->rcvbuf_size = TCP_BUF_DEFAULT;
        c->sndbuf = kmalloc(c->sndbuf_size);
        c->rcvbuf = kmalloc(c->rcvbuf_size);
        if (!c->sndbuf || !c->rcvbuf) {
            kfree(c->sndbuf);
            kfree(c->rcvbuf);
            kfree(c);
            return NULL;
        }
        while ((65535u << c->rcv_wscale) < c->rcvbuf_size) c->rcv_wscale++;
    }
    c->rto = TCP_RTO_INIT_NS;
    c->mss = 536;
    c->keepidle_s = TCP_KEEPIDLE_DEFAULT;
    c->keepintvl_s = TCP_KEEPINTVL_DEFAULT;
    c->keepcnt = TCP_KEEPCNT_DEFAULT;
    c->next = tcp_conns;
    tcp_conns = c;
    return c;
}

static void conn_free(struct tcp_conn *c) {
    for (struct tcp_conn **pp = &tcp_conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) { *pp = c->next; break; }
    }
    kfree(c->sndbuf);
    kfree(c->rcvbuf);
    kfree(c);
}

/* Takes a not-yet-accepted child off its listener. */
static void unlink_child(struct tcp_conn *c) {
    struct tcp_conn *l = c->parent;
    for (struct tcp_conn **pp = &l->accept_head; *pp; pp = &(*pp)->accept_next) {
        if (*pp == c) { *pp = c->accept_next; break; }
    }
    l->n_pending--;
    c->parent = NULL;
}

void tcp_set_state(struct tcp_conn *c, enum tcp_state s) { c->state = s; }

void tcp_drop(struct tcp_conn *c, int err) {
    c->state = TCP_CLOSED;
    if (err && !c->error) c->error = err;
    c->rexmit_at = c->persist_at = c->delack_at = c->timewait_at = c->keepalive_at = 0;
    if (c->parent) {
        unlink_child(c);
        conn_free(c);
    } else if (c->user_closed) {
        conn_free(c);
    }
}

void tcp_enter_time_wait(struct tcp_conn *c, uint64_t now) {
    tcp_set_state(c, TCP_TIME_WAIT);
    c->rexmit_at = c->persist_at = c->keepalive_at = 0;
    c->timewait_at = now + 2 * tcp_msl_ns;
}

void tcp_child_established(struct tcp_conn *c) {
    struct tcp_conn *l = c->parent, **pp = &l->accept_head;
    while (*pp) pp = &(*pp)->accept_next;
    *pp = c;
    c->accept_next = NULL;
}

static bool port_used(uint16_t port) {
    for (struct tcp_conn *c = tcp_conns; c; c = c->next)
        if (c->lport == port) return true;
    return false;
}

/* ---- user API ---- */
struct tcp_conn *tcp_open_active(const struct net_addr *local, uint16_t lport,
                                 const struct net_addr *remote, uint16_t rport, int *err) {
    if (!local || !remote || rport == 0 || local->family != remote->family ||
        (remote->family != NET_AF_INET && remote->family != NET_AF_INET6)) {
        *err = -KEINVAL;
        return NULL;
    }
    uint64_t now = tcp_now();
    LOCK();
    struct tcp_conn *c = NULL;
    if (lport == 0) {
        for (int i = 0; i < 16384 && !lport; i++) {
            uint16_t p = next_ephemeral;
            next_ephemeral = next_ephemeral == 65535 ? 49152 : next_ephemeral + 1;
            if (!port_used(p)) lport = p;
        }
        if (!lport) { *err = -KEADDRINUSE; goto out; }
    } else {
        for (struct tcp_conn *o = tcp_conns; o; o = o->next) {
            if (o->lport == lport && o->rport == rport && o->state != TCP_LISTEN &&
                o->remote.family == remote->family && !memcmp(o->remote.v6, remote->v6, 16) &&
                !memcmp(o->local.v6, local->v6, 16)) {
                *err = -KEADDRINUSE;
                goto out;
            }
        }
    }
    c = tcp_conn_new(true);
    if (!c) { *err = -KENOMEM; goto out; }
    c->local = *local;
    c->remote = *remote;
    c->lport = lport;
    c->rport = rport;
    c->iss = tcp_isn(c, now);
    c->snd_una = c->snd_nxt = c->snd_max = c->recover = c->iss;
    c->snd_end = c->iss + 1;
    c->mss = tcp_our_mss(c);
    c->cwnd = 4u * c->mss;
    c->ssthresh = 1u << 30;
    c->state = TCP_SYN_SENT;
    tcp_stats.active_opens++;
    tcp_output(c, now);
    *err = 0;
out:
    UNLOCK();
    return c;
}

struct tcp_conn *tcp_listen(const struct net_addr *local, uint16_t lport, int backlog, int *err) {
    if (lport == 0) { *err = -KEINVAL; return NULL; }
    struct net_addr any = {0};
    if (!local) local = &any;
    LOCK();
    struct tcp_conn *c = NULL;
    for (struct tcp_conn *o = tcp_conns; o; o = o->next) {
        if (o->state == TCP_LISTEN && o->lport == lport &&
            (!o->local.family || !local->family ||
             (o->local.family == local->family &&
              (net_addr_is_any(&o->local) || net_addr_is_any(local) || !memcmp(o->local.v6, local->v6, 16))))) {
            *err = -KEADDRINUSE;
            goto out;
        }
    }
    c = tcp_conn_new(false);
    if (!c) { *err = -KENOMEM; goto out; }
    c->local = *local;
    c->lport = lport;
    c->backlog = MIN(MAX(backlog, 1), TCP_BACKLOG_MAX);
    c->state = TCP_LISTEN;
    *err = 0;
out:
    UNLOCK();
    return c;
}

struct tcp_conn *tcp_accept(struct tcp_conn *l, int *err) {
    LOCK();
    struct tcp_conn *c = NULL;
    if (l->state != TCP_LISTEN) {
        *err = -KEINVAL;
    } else if (!l->accept_head) {
        *err = -KEAGAIN;
    } else {
        c = l->accept_head;
        unlink_child(c);
        *err = 0;
    }
    UNLOCK();
    return c;
}

static uint32_t snd_used(const struct tcp_conn *c) {
    uint32_t start = SEQ_GT(c->snd_una, c->iss + 1) ? c->snd_una : c->iss + 1;
    return SEQ_LT(start, c->snd_end) ? c->snd_end - start : 0;
}

int64_t tcp_send(struct tcp_conn *c, const void *buf, size_t len) {
    int64_t r;
    LOCK();
    if (c->error) {
        r = c->error;
        c->error = 0;
    } else if (c->fin_queued) {
        r = -KEPIPE;
    } else if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
        r = -KEAGAIN;
    } else if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT) {
        r = c->state == TCP_CLOSED || c->state == TCP_LISTEN ? -KENOTCONN : -KEPIPE;
    } else {
        uint32_t room = c->sndbuf_size - snd_used(c);
        uint32_t n = (uint32_t)MIN(len, (size_t)room);
        if (n == 0) {
            r = len ? -KEAGAIN : 0;
        } else {
            uint32_t mask = c->sndbuf_size - 1, off = (c->snd_end - (c->iss + 1)) & mask;
            uint32_t first = MIN(n, c->sndbuf_size - off);
            memcpy(c->sndbuf + off, buf, first);
            if (first < n) memcpy(c->sndbuf, (const uint8_t *)buf + first, n - first);
            c->snd_end += n;
            tcp_output(c, tcp_now());
            r = n;
        }
    }
    UNLOCK();
    return r;
}

static uint32_t rcv_data(const struct tcp_conn *c) {
    if (!c->rcvbuf) return 0;
    return c->rcv_nxt - c->rcv_user - (c->rcv_fin ? 1 : 0);
}

/* tcp_recv and tcp_peek: copies up to len bytes; peek leaves them in the buffer. */
static int64_t recv_copy(struct tcp_conn *c, void *buf, size_t len, bool peek) {
    int64_t r;
    LOCK();
    uint32_t avail = rcv_data(c);
    if (avail == 0 || c->rd_shut) {
        if (c->error) { r = c->error; c->error = 0; }
        else if (c->rcv_fin || c->rd_shut || c->state == TCP_CLOSED) r = 0;
        else if (c->state == TCP_LISTEN) r = -KENOTCONN;
        else r = -KEAGAIN;
    } else {
        uint32_t n = (uint32_t)MIN((size_t)avail, len);
        uint32_t mask = c->rcvbuf_size - 1, off = (c->rcv_user - (c->irs + 1)) & mask;
        uint32_t first = MIN(n, c->rcvbuf_size - off);
        memcpy(buf, c->rcvbuf + off, first);
        if (first < n) memcpy((uint8_t *)buf + first, c->rcvbuf, n - first);
        r = n;
        if (peek) goto out;
        c->rcv_user += n;
        /* Window update when the window opens enough (RFC 9293 §3.8.6.2.2). */
        uint32_t edge = c->rcv_nxt + tcp_rcv_space(c);
        if (!c->rcv_fin && (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
                            c->state == TCP_FIN_WAIT_2) &&
            SEQ_GE(edge, c->rcv_adv + MIN(c->rcvbuf_size / 2, 2u * c->mss))) {
            c->ack_now = true;
            tcp_output(c, tcp_now());
        }
    }
out:
    UNLOCK();
    return r;
}

int64_t tcp_recv(struct tcp_conn *c, void *buf, size_t len) { return recv_copy(c, buf, len, false); }
int64_t tcp_peek(struct tcp_conn *c, void *buf, size_t len) { return recv_copy(c, buf, len, true); }

/* SHUT_WR with the lock held. */
static void shut_wr(struct tcp_conn *c, uint64_t now) {
    switch (c->state) {
    case TCP_SYN_RECEIVED: c->fin_queued = true; break;
    case TCP_ESTABLISHED: c->fin_queued = true; tcp_set_state(c, TCP_FIN_WAIT_1); break;
    case TCP_CLOSE_WAIT: c->fin_queued = true; tcp_set_state(c, TCP_LAST_ACK); break;
    default: return;
    }
    tcp_output(c, now);
}

int tcp_shutdown(struct tcp_conn *c, int how) {
    if (how < 0 || how > 2) return -KEINVAL;
    int r = 0;
    LOCK();
    if (c->state == TCP_LISTEN || c->state == TCP_CLOSED || c->state == TCP_SYN_SENT) {
        r = -KENOTCONN;
    } else {
        if (how != 1) c->rd_shut = true;
        if (how != 0) shut_wr(c, tcp_now());
    }
    UNLOCK();
    return r;
}

static void send_rst_for(struct tcp_conn *c) {
    if (c->state == TCP_SYN_SENT || c->state == TCP_CLOSED || c->state == TCP_LISTEN ||
        c->state == TCP_TIME_WAIT)
        return;
    tcp_send_reset(&c->local, &c->remote, c->lport, c->rport, c->snd_nxt, c->rcv_nxt, TCP_RST | TCP_ACK);
}

/* Frees a listener and resets its children (lock held). */
static void close_listener(struct tcp_conn *l) {
    for (struct tcp_conn *c = tcp_conns, *n; c; c = n) {
        n = c->next;
        if (c->parent == l) {
            send_rst_for(c);
            unlink_child(c);
            conn_free(c);
        }
    }
    conn_free(l);
}

void tcp_close(struct tcp_conn *c) {
    LOCK();
    uint64_t now = tcp_now();
    c->user_closed = true;
    if (c->state == TCP_LISTEN) {
        close_listener(c);
    } else if (c->state == TCP_CLOSED || c->state == TCP_SYN_SENT) {
        conn_free(c);
    } else if (rcv_data(c) > 0) {
        send_rst_for(c);                      /* unread data: abort (RFC 2525 §2.17) */
        conn_free(c);
    } else {
        shut_wr(c, now);
        if (c->state == TCP_FIN_WAIT_2 && !c->timewait_at) c->timewait_at = now + 2 * tcp_msl_ns;
    }
    UNLOCK();
}

void tcp_abort(struct tcp_conn *c) {
    LOCK();
    if (c->state == TCP_LISTEN) {
        close_listener(c);
    } else {
        send_rst_for(c);
        if (c->parent) unlink_child(c);
        conn_free(c);
    }
    UNLOCK();
}

bool tcp_readable(const struct tcp_conn *c) {
    if (c->state == TCP_LISTEN) return c->accept_head != NULL;
    return rcv_data(c) > 0 || c->rcv_fin || c->rd_shut || c->error || c->state == TCP_CLOSED;
}

bool tcp_send_done(const struct tcp_conn *c) {
    switch (c->state) {
    case TCP_CLOSED: case TCP_LISTEN: case TCP_FIN_WAIT_2: case TCP_TIME_WAIT: return true;
    case TCP_SYN_SENT: case TCP_SYN_RECEIVED: return false;
    default: return c->snd_una == c->snd_end + (c->fin_queued ? 1 : 0);
    }
}

bool tcp_writable(const struct tcp_conn *c) {
    if (c->error || c->state == TCP_CLOSED) return true;
    if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT) return false;
    return c->fin_queued || snd_used(c) < c->sndbuf_size;
}

void tcp_set_keepalive(struct tcp_conn *c, bool on, uint32_t idle_s, uint32_t intvl_s, uint32_t cnt) {
    LOCK();
    uint64_t now = tcp_now();
    c->keepidle_s = (uint16_t)(idle_s ? MIN(idle_s, (uint32_t)TCP_KEEPIDLE_MAX) : TCP_KEEPIDLE_DEFAULT);
    c->keepintvl_s = (uint16_t)(intvl_s ? MIN(intvl_s, (uint32_t)TCP_KEEPIDLE_MAX) : TCP_KEEPINTVL_DEFAULT);
    c->keepcnt = (uint8_t)(cnt ? MIN(cnt, (uint32_t)TCP_KEEPCNT_MAX) : TCP_KEEPCNT_DEFAULT);
    if (!on || c->state == TCP_LISTEN || c->state == TCP_CLOSED || c->state == TCP_TIME_WAIT) {
        c->keepalive_at = 0;               /* a listener only hands the settings on */
        c->keep_probes = 0;
    } else {
        if (!c->keepalive) c->idle_since = now;            /* switched on: a full idle time */
        if (c->keep_probes == 0) c->keepalive_at = c->idle_since + c->keepidle_s * 1000000000ull;
    }
    c->keepalive = on;
    UNLOCK();
}

int tcp_error(struct tcp_conn *c, bool clear) {
    int e = c->error;
    if (clear) c->error = 0;
    return e;
}

uint32_t tcp_rcv_queued(const struct tcp_conn *c) { return rcv_data(c); }
uint32_t tcp_snd_queued(const struct tcp_conn *c) { return snd_used(c); }

/* ---- input ---- */
static bool addr_match(const struct net_addr *a, const struct net_addr *b) {
    return a->family == b->family && !memcmp(a->v6, b->v6, a->family == NET_AF_INET ? 4 : 16);
}

void tcp_input(struct pkt *p, const struct net_addr *src, const struct net_addr *dst) {
    uint64_t now = tcp_now();
    LOCK();
    tcp_stats.in_segs++;
    if (p->len >= TCP_HLEN) {
        uint16_t sport = net_get16(p->data), dport = net_get16(p->data + 2);
        struct tcp_conn *c = NULL, *wild = NULL;
        int wild_rank = 0;
        for (struct tcp_conn *o = tcp_conns; o; o = o->next) {
            if (o->lport != dport) continue;
            if (o->state == TCP_LISTEN) {   /* the most specific listener: address, family, any */
                int rank = o->local.family == 0 ? 1 : o->local.family != dst->family ? 0
                         : net_addr_is_any(&o->local) ? 2 : addr_match(&o->local, dst) ? 3 : 0;
                if (rank > wild_rank) { wild = o; wild_rank = rank; }
            } else if (o->state != TCP_CLOSED && o->rport == sport && addr_match(&o->remote, src) &&
                       addr_match(&o->local, dst)) {
                c = o;
                break;
            }
        }
        if (!c) c = wild;
        if (c) {
            tcp_segment_arrives(c, p, src, dst, now);
        } else {
            /* No connection (RFC 9293 §3.10.7.1): answer with RST unless it is one. */
            const uint8_t *h = p->data;
            uint32_t hl = (uint32_t)(h[12] >> 4) * 4;
            uint32_t sum = net_csum_pseudo(src, dst, IPPROTO_TCP, p->len);
            if (hl < TCP_HLEN || hl > p->len) {
                tcp_stats.bad_header++;
            } else if (net_csum_fold(net_csum_add(sum, h, p->len)) != 0) {
                tcp_stats.bad_csum++;
            } else if (!(h[13] & TCP_RST)) {
                tcp_stats.no_socket++;
                uint32_t seq = net_get32(h + 4), ack = net_get32(h + 8);
                uint32_t seglen = p->len - hl + !!(h[13] & TCP_SYN) + !!(h[13] & TCP_FIN);
                if (h[13] & TCP_ACK)
                    tcp_send_reset(dst, src, dport, sport, ack, 0, TCP_RST);
                else
                    tcp_send_reset(dst, src, dport, sport, 0, seq + seglen, TCP_RST | TCP_ACK);
            }
        }
    } else {
        tcp_stats.bad_header++;
    }
    UNLOCK();
    pkt_free(p);
}

/* ---- timers ---- */
/* false when the connection was dropped (and maybe freed). */
static bool rexmit_timeout(struct tcp_conn *c, uint64_t now) {
    c->rexmit_at = 0;
    int limit = (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) ? TCP_SYN_RETRIES : TCP_MAX_RETRIES;
    if (++c->retries > limit) {
        tcp_stats.timeouts++;
        send_rst_for(c);
        tcp_drop(c, -KETIMEDOUT);
        return false;
    }
    tcp_stats.rto_expiries++;
    c->rto = MIN(c->rto * 2, TCP_RTO_MAX_NS);           /* back off (RFC 6298 §5.5) */
    if (c->state != TCP_SYN_SENT && c->state != TCP_SYN_RECEIVED) {
        uint32_t flight = c->snd_max - c->snd_una;       /* RFC 5681 §3.1, equation 4 */
        c->ssthresh = MAX(flight / 2, 2u * c->mss);
        c->cwnd = c->mss;
        c->in_recovery = false;
        c->recover = c->snd_max;
        c->dupacks = 0;
    }
    /* A second timeout in a row: the peer may have reneged on what it SACKed (RFC 2018 §8),
     * so resend everything. */
    if (c->retries >= 2) c->n_sacked = 0;
    c->snd_nxt = c->snd_una;
    c->rtt_active = false;
    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) c->snd_nxt = c->iss;
    tcp_output(c, now);
    tcp_rexmit_arm(c, now, false);
    return true;
}

static void persist_timeout(struct tcp_conn *c, uint64_t now) {
    c->persist_at = 0;
    if (c->snd_wnd || !SEQ_LT(c->snd_una, c->snd_end)) { tcp_output(c, now); return; }
    /* Probe with one byte beyond the window (RFC 1122 §4.2.2.17), backing off to 60 s. */
    tcp_send_seg(c, c->snd_una, TCP_ACK, 1, now);
    if (c->snd_nxt == c->snd_una) c->snd_nxt++;
    if (SEQ_LT(c->snd_max, c->snd_una + 1)) c->snd_max = c->snd_una + 1;
    if (c->persist_shift < 16) c->persist_shift++;
    uint64_t t = c->rto << c->persist_shift;
    c->persist_at = now + MIN(MAX(t, TCP_RTO_MIN_NS), TCP_RTO_MAX_NS);
}

/* The keep-alive timer (RFC 1122 §4.2.3.6; the sequence of events is Linux's, tcp(7)).
 * May drop (and free) c. */
static void keepalive_timeout(struct tcp_conn *c, uint64_t now) {
    uint64_t idle = c->keepidle_s * 1000000000ull, intvl = c->keepintvl_s * 1000000000ull;
    c->keepalive_at = 0;
    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
        c->keepalive_at = now + idle;      /* not open yet: the SYN timer watches the peer */
        return;
    }
    if (c->snd_una != c->snd_max || SEQ_LT(c->snd_max, c->snd_end + (c->fin_queued ? 1 : 0))) {
        c->keepalive_at = now + intvl;     /* not idle: retransmission or persist timer at work */
        return;
    }
    if (c->keep_probes == 0 && now - c->idle_since < idle) {
        c->keepalive_at = c->idle_since + idle;   /* the peer spoke since: a new idle period */
        return;
    }
    if (c->keep_probes >= c->keepcnt) {    /* the peer is gone (or unreachable) */
        tcp_stats.timeouts++;
        send_rst_for(c);
        tcp_drop(c, -KETIMEDOUT);
        return;
    }
    /* A probe the peer must answer with an ACK: one sequence number below what it expects
     * and no data (RFC 9293 §3.10.7.4: an unacceptable segment is answered by an ACK). */
    tcp_send_seg(c, c->snd_nxt - 1, TCP_ACK, 0, now);
    tcp_stats.keepalive_probes++;
    c->keep_probes++;
    c->keepalive_at = now + intvl;
}

void tcp_timer_tick(uint64_t now_ns) {
    LOCK();
    for (struct tcp_conn *c = tcp_conns, *n; c; c = n) {
        n = c->next;
        if (c->timewait_at && now_ns >= c->timewait_at) {
            tcp_drop(c, 0);                   /* TIME_WAIT over, or an orphan FIN_WAIT_2 */
            continue;
        }
        if (c->rexmit_at && now_ns >= c->rexmit_at) {
            if (!rexmit_timeout(c, now_ns)) continue;   /* may be freed: n was saved */
        }
        if (c->persist_at && now_ns >= c->persist_at) persist_timeout(c, now_ns);
        if (c->delack_at && now_ns >= c->delack_at) tcp_send_ack(c, now_ns);
        if (c->keepalive_at && now_ns >= c->keepalive_at) keepalive_timeout(c, now_ns);
    }
    UNLOCK();
}

#ifndef HOST_TEST
#include "time.h"
static struct net_timer_hook tcp_hook = {.fn = tcp_timer_tick, .period_ms = 10};

/* Kernel start-up (net_init or the IP layer calls it once): the clock and the 10 ms timer. */
void tcp_init(void) {
    tcp_now = time_ns;
    net_register_timer(&tcp_hook);
}
#endif

void tcp_for_each(void (*fn)(const struct tcp_conn *c, void *ctx), void *ctx) {
    LOCK();
    for (struct tcp_conn *c = tcp_conns; c; c = c->next) fn(c, ctx);
    UNLOCK();
}

void tcp_reset_all(void) {
    LOCK();
    while (tcp_conns) conn_free(tcp_conns);
    UNLOCK();
}
