/* tcp_out.c: TCP segment output, following RFC 9293 §3.1 (header format), §3.2 (MSS and
 * window scale options, with RFC 7323 §2), §3.8.6 (window management: receiver and sender
 * silly window avoidance, Nagle per RFC 1122 §4.2.3.4), RFC 5681 (the congestion window
 * limits what is sent) and RFC 6298 §5 (the retransmission timer).
 *
 * Built segments are queued (their addresses stored in the headroom, which the IP layer
 * overwrites only after we copied them out) and handed to tcp_ip_output by tcp_flush_out
 * once the TCP lock is released, so the IP layer may loop a segment back into tcp_input. */
#include "tcp_priv.h"
#include "kstring.h"

struct out_addrs { struct net_addr src, dst; };
static struct pkt *out_head, *out_tail;

void tcp_queue_out(struct pkt *p, const struct net_addr *src, const struct net_addr *dst) {
    struct out_addrs a = {*src, *dst};
    memcpy(p->head, &a, sizeof a);   /* PKT_HEADROOM (128) > sizeof a; data starts after */
    p->next = NULL;
    if (out_tail) out_tail->next = p; else out_head = p;
    out_tail = p;
    tcp_stats.out_segs++;
}

/* Detaches the queue under the lock (tcp.c calls this); the caller sends after unlocking. */
struct pkt *tcp_take_out(void) {
    struct pkt *p = out_head;
    out_head = out_tail = NULL;
    return p;
}

/* Sends a detached queue (no lock held). */
void tcp_send_list(struct pkt *p) {
    while (p) {
        struct pkt *n = p->next;
        struct out_addrs a;
        memcpy(&a, p->head, sizeof a);
        p->next = NULL;
        if (tcp_ip_output) tcp_ip_output(&a.src, &a.dst, p);
        else pkt_free(p);
        p = n;
    }
}

/* Header fields, options and checksum; h points at TCP_HLEN + optlen + len bytes. */
static void fill_header(uint8_t *h, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                        uint8_t flags, uint16_t win, uint32_t optlen) {
    net_put16(h, sport);
    net_put16(h + 2, dport);
    net_put32(h + 4, seq);
    net_put32(h + 8, ack);
    h[12] = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    h[13] = flags;
    net_put16(h + 14, win);
    net_put16(h + 16, 0);
    net_put16(h + 18, 0);
}

static void finish_csum(uint8_t *h, uint32_t total, const struct net_addr *src, const struct net_addr *dst) {
    uint32_t sum = net_csum_pseudo(src, dst, IPPROTO_TCP, total);
    sum = net_csum_add(sum, h, total);
    net_put16(h + 16, net_csum_fold(sum));
}

uint32_t tcp_rcv_space(const struct tcp_conn *c) {
    uint32_t used = c->rcv_nxt - c->rcv_user;
    return used >= c->rcvbuf_size ? 0 : c->rcvbuf_size - used;
}

/* The window field for a non-SYN segment; moves rcv_adv (never backwards, RFC 9293 §3.8.6.2.2;
 * only by at least min(buffer / 2, MSS), the receiver's silly window avoidance). */
static uint16_t advertise(struct tcp_conn *c) {
    uint32_t space = tcp_rcv_space(c);
    uint32_t edge = c->rcv_nxt + space;
    uint32_t step = MIN(c->rcvbuf_size / 2, (uint32_t)c->mss);
    if (SEQ_GT(edge, c->rcv_adv) && (edge - c->rcv_adv >= step || SEQ_LE(c->rcv_adv, c->rcv_nxt)))
        c->rcv_adv = edge;
    if (SEQ_LT(c->rcv_adv, c->rcv_nxt)) c->rcv_adv = c->rcv_nxt;
    uint32_t win = (c->rcv_adv - c->rcv_nxt) >> c->rcv_wscale;
    return (uint16_t)MIN(win, 65535u);
}

void tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t len, uint64_t now) {
    (void)now;
    uint32_t optlen = 0;
    bool ws = false;
    if (flags & TCP_SYN) {
        optlen = 4;                                   /* MSS */
        ws = !(flags & TCP_ACK) || c->ws_ok;          /* SYN-ACK only if the peer offered it */
        if (ws) optlen += 4;                          /* NOP + window scale */
    }
    uint32_t total = TCP_HLEN + optlen + len;
    struct pkt *p = pkt_alloc(total);
    if (!p) return;
    uint8_t *h = pkt_put(p, total);
    if (!h) { pkt_free(p); return; }
    uint16_t win;
    if (flags & TCP_SYN) {
        uint32_t space = tcp_rcv_space(c);
        win = (uint16_t)MIN(space, 65535u);           /* never scaled in a SYN (RFC 7323 §2.2) */
        c->rcv_adv = c->rcv_nxt + win;
    } else {
        win = advertise(c);
    }
    fill_header(h, c->lport, c->rport, seq, (flags & TCP_ACK) ? c->rcv_nxt : 0, flags, win, optlen);
    uint8_t *o = h + TCP_HLEN;
    if (flags & TCP_SYN) {
        o[0] = 2; o[1] = 4; net_put16(o + 2, tcp_our_mss(c));
        if (ws) { o[4] = 1; o[5] = 3; o[6] = 3; o[7] = c->rcv_wscale; }
    }
    if (len) {
        uint32_t mask = c->sndbuf_size - 1;
        uint32_t off = (seq - (c->iss + 1)) & mask;
        uint32_t first = MIN(len, c->sndbuf_size - off);
        memcpy(h + TCP_HLEN + optlen, c->sndbuf + off, first);
        if (first < len) memcpy(h + TCP_HLEN + optlen + first, c->sndbuf, len - first);
    }
    finish_csum(h, total, &c->local, &c->remote);
    if (flags & TCP_ACK) {
        c->unacked_segs = 0;
        c->delack_at = 0;
        c->ack_now = false;
    }
    tcp_queue_out(p, &c->local, &c->remote);
}

void tcp_send_ack(struct tcp_conn *c, uint64_t now) {
    /* snd_max, not snd_nxt: after a timeout rewound snd_nxt, an ACK with an old sequence
     * number would be unacceptable to the peer (RFC 9293 §3.10.7.4) and never processed. */
    tcp_send_seg(c, c->snd_max, TCP_ACK, 0, now);
}

void tcp_send_reset(const struct net_addr *src, const struct net_addr *dst, uint16_t sport,
                    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags) {
    struct pkt *p = pkt_alloc(TCP_HLEN);
    if (!p) return;
    uint8_t *h = pkt_put(p, TCP_HLEN);
    if (!h) { pkt_free(p); return; }
    fill_header(h, sport, dport, seq, ack, flags, 0, 0);
    finish_csum(h, TCP_HLEN, src, dst);
    tcp_stats.resets_sent++;
    tcp_queue_out(p, src, dst);
}

void tcp_rexmit_arm(struct tcp_conn *c, uint64_t now, bool restart) {
    if (c->snd_max == c->snd_una || c->persist_at) {
        c->rexmit_at = 0;
        return;
    }
    if (restart || !c->rexmit_at) c->rexmit_at = now + c->rto;
}

void tcp_output(struct tcp_conn *c, uint64_t now) {
    switch (c->state) {
    case TCP_CLOSED:
    case TCP_LISTEN:
        return;
    case TCP_TIME_WAIT:
        if (c->ack_now) tcp_send_ack(c, now);
        return;
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        if (c->snd_nxt == c->iss) {
            bool first = c->snd_max == c->iss;
            uint8_t fl = TCP_SYN | (c->state == TCP_SYN_RECEIVED ? TCP_ACK : 0);
            tcp_send_seg(c, c->iss, fl, 0, now);
            if (first) {
                c->rtt_active = true;
                c->rtt_seq = c->iss + 1;
                c->rtt_start = now;
            } else {
                tcp_stats.retrans_segs++;
            }
            c->snd_nxt = c->snd_max = c->iss + 1;
            tcp_rexmit_arm(c, now, false);
        } else if (c->ack_now && c->state == TCP_SYN_RECEIVED) {
            tcp_send_seg(c, c->iss, TCP_SYN | TCP_ACK, 0, now);
        }
        return;
    default:
        break;
    }
    bool fin_state = c->state == TCP_FIN_WAIT_1 || c->state == TCP_CLOSING || c->state == TCP_LAST_ACK;
    for (;;) {
        uint32_t avail = SEQ_LT(c->snd_nxt, c->snd_end) ? c->snd_end - c->snd_nxt : 0;
        uint32_t wnd = MIN(c->snd_wnd, c->cwnd);
        uint32_t inflight = c->snd_nxt - c->snd_una;
        uint32_t usable = wnd > inflight ? wnd - inflight : 0;
        uint32_t len = MIN(MIN(avail, usable), (uint32_t)c->mss);
        bool fin = c->fin_queued && fin_state && len == avail && SEQ_LE(c->snd_nxt, c->snd_end);
        if (len == 0 && !fin) break;
        if (len < c->mss && !fin && inflight > 0) {
            /* Nagle (RFC 1122 §4.2.3.4) and sender SWS avoidance (§4.2.3.4): a short segment
             * waits while data is unacknowledged, unless TCP_NODELAY and it ends the data. */
            if (!c->nodelay || len < avail) break;
        }
        uint8_t flags = TCP_ACK;
        if (fin) flags |= TCP_FIN;
        if (len && len == avail) flags |= TCP_PSH;
        bool rexmit = SEQ_LT(c->snd_nxt, c->snd_max);
        tcp_send_seg(c, c->snd_nxt, flags, len, now);
        uint32_t end = c->snd_nxt + len + (fin ? 1 : 0);
        if (rexmit) {
            tcp_stats.retrans_segs++;
            c->rtt_active = false;                    /* Karn: no sample across a retransmission */
        } else if (!c->rtt_active) {
            c->rtt_active = true;
            c->rtt_seq = end;
            c->rtt_start = now;
        }
        c->snd_nxt = end;
        if (SEQ_GT(end, c->snd_max)) c->snd_max = end;
        tcp_rexmit_arm(c, now, false);
        if (fin) break;
    }
    /* Zero window with data waiting and nothing in flight: the persist timer probes. */
    if (c->snd_wnd == 0 && SEQ_LT(c->snd_una, c->snd_end) && c->snd_max == c->snd_una && !c->persist_at) {
        uint64_t t = c->rto << c->persist_shift;
        c->persist_at = now + MIN(MAX(t, TCP_RTO_MIN_NS), TCP_RTO_MAX_NS);
        c->rexmit_at = 0;
    }
    if (c->ack_now) tcp_send_ack(c, now);
}
