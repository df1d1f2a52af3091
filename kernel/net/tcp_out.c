/* tcp_out.c: TCP segment output, following RFC 9293 §3.1 (header format), §3.2 (MSS and
 * window scale options, with RFC 7323 §2), §3.8.6 (window management: receiver and sender
 * silly window avoidance, Nagle per RFC 1122 §4.2.3.4), RFC 5681 (the congestion window
 * limits what is sent; RFC 3042 limited transmit on the first two duplicate ACKs), RFC 6298 §5
 * (the retransmission timer), RFC 2018 (SACK-permitted on SYNs; SACK blocks in pure ACKs, the
 * block holding the latest out-of-order segment first) and RFC 6675 (SACK-based loss recovery:
 * the pipe estimate, NextSeg rules 1 and 2; after a timeout SACKed ranges are not resent).
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

/* The SACK option (RFC 2018 §3-4) with n blocks from the out-of-order queue: first the range
 * holding the latest out-of-order segment, then the others from the lowest up (the holes next
 * to RCV.NXT are the ones the sender must repair first). */
static void put_sack_blocks(const struct tcp_conn *c, uint8_t *o, int n) {
    int first = 0;
    for (int i = 0; i < c->n_ooo; i++)
        if (SEQ_LE(c->ooo[i].start, c->ooo_last) && SEQ_LT(c->ooo_last, c->ooo[i].end)) first = i;
    o[0] = 1; o[1] = 1; o[2] = 5; o[3] = (uint8_t)(2 + 8 * n);
    uint8_t *b = o + 4;
    net_put32(b, c->ooo[first].start);
    net_put32(b + 4, c->ooo[first].end);
    for (int i = 0, k = 1; k < n; i++) {
        if (i == first) continue;
        net_put32(b + 8 * k, c->ooo[i].start);
        net_put32(b + 8 * k + 4, c->ooo[i].end);
        k++;
    }
}

void tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t len, uint64_t now) {
    (void)now;
    uint32_t optlen = 0;
    bool ws = false, sack_perm = false;
    int nsack = 0;
    if (flags & TCP_SYN) {
        optlen = 4;                                   /* MSS */
        ws = !(flags & TCP_ACK) || c->ws_ok;          /* SYN-ACK only if the peer offered it */
        if (ws) optlen += 4;                          /* NOP + window scale */
        sack_perm = !(flags & TCP_ACK) || c->sack_ok; /* the same rule (RFC 2018 §2) */
        if (sack_perm) optlen += 4;                   /* NOP NOP + SACK-permitted */
    } else if ((flags & TCP_ACK) && len == 0 && c->sack_ok && c->n_ooo) {
        nsack = MIN(c->n_ooo, TCP_SACK_SEND);
        optlen = 4 + 8u * (uint32_t)nsack;            /* NOP NOP + SACK blocks */
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
        if (ws) { o[4] = 1; o[5] = 3; o[6] = 3; o[7] = c->rcv_wscale; o += 4; }
        if (sack_perm) { o[4] = 1; o[5] = 1; o[6] = 4; o[7] = 2; }
    } else if (nsack) {
        put_sack_blocks(c, o, nsack);
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

/* UnSACKed bytes in [SND.UNA, x). */
static uint32_t holes_below(const struct tcp_conn *c, uint32_t x) {
    if (!SEQ_GT(x, c->snd_una)) return 0;
    uint32_t n = x - c->snd_una;
    for (int k = 0; k < c->n_sacked && SEQ_LT(c->sacked[k].start, x); k++)
        n -= (SEQ_LT(c->sacked[k].end, x) ? c->sacked[k].end : x) - c->sacked[k].start;
    return n;
}

uint32_t tcp_sack_lost_edge(const struct tcp_conn *c) {
    uint32_t above = 0;
    for (int k = c->n_sacked - 1; k >= 0; k--) {
        above += c->sacked[k].end - c->sacked[k].start;
        if (above > 2u * c->mss) return c->sacked[k].start;
    }
    return c->snd_una;
}

/* The first unSACKed range at or after from and below limit: [*seq, *end); false if none. */
static bool next_hole(const struct tcp_conn *c, uint32_t from, uint32_t limit, uint32_t *seq, uint32_t *end) {
    uint32_t x = SEQ_GT(from, c->snd_una) ? from : c->snd_una, e = c->snd_max;
    for (int k = 0; k < c->n_sacked; k++) {
        if (SEQ_LE(c->sacked[k].end, x)) continue;
        if (SEQ_LE(c->sacked[k].start, x)) { x = c->sacked[k].end; continue; }
        e = c->sacked[k].start;
        break;
    }
    if (SEQ_GT(e, limit)) e = limit;
    *seq = x;
    *end = e;
    return SEQ_LT(x, e);
}

/* Retransmits len sequence numbers from seq (data, and the FIN when the range covers it). */
static void resend_range(struct tcp_conn *c, uint32_t seq, uint32_t len, uint64_t now) {
    uint32_t data = SEQ_LT(seq, c->snd_end) ? MIN(len, c->snd_end - seq) : 0;
    bool fin = c->fin_queued && SEQ_GT(seq + len, c->snd_end);
    tcp_send_seg(c, seq, TCP_ACK | (fin ? TCP_FIN : 0), data, now);
    tcp_stats.retrans_segs++;
    if (seq == c->snd_una) {
        c->una_rxt = true;
        c->una_rxt_max = c->snd_max;
    }
}

/* SACK-based loss recovery's transmissions (RFC 6675 §5 step C): while cwnd - pipe >= 1 MSS,
 * the next lost hole above HighRxt (rule 1), else new data (rule 2). pipe counts the unSACKed
 * bytes not deemed lost plus those retransmitted (RFC 6675 §4 SetPipe, by byte ranges). */
static void sack_recovery_output(struct tcp_conn *c, uint64_t now) {
    uint32_t lost = tcp_sack_lost_edge(c), seq, end, len;
    /* The first hole counts as lost until retransmitted: recovery began on duplicate ACKs
     * (RFC 6675 §5 step 4.3), or a partial ACK left it at SND.UNA (as RFC 6582 §3.2). */
    if (SEQ_LE(c->high_rxt, c->snd_una) && next_hole(c, c->snd_una, c->snd_max, &seq, &end)) {
        end = SEQ_LT(end, seq + c->mss) ? end : seq + c->mss;
        if (SEQ_LT(lost, end)) lost = end;
    }
    uint32_t rxt = SEQ_LT(c->high_rxt, lost) ? c->high_rxt : lost;
    uint32_t pipe = holes_below(c, c->snd_max) - holes_below(c, lost) + holes_below(c, rxt);
    while (c->cwnd >= pipe + c->mss) {
        if (next_hole(c, c->high_rxt, lost, &seq, &end)) {
            len = MIN(end - seq, (uint32_t)c->mss);
            resend_range(c, seq, len, now);
            c->high_rxt = seq + len;
        } else if (c->snd_nxt == c->snd_max && SEQ_LT(c->snd_nxt, c->snd_end) &&
                   SEQ_LT(c->snd_nxt, c->snd_una + c->snd_wnd)) {
            len = MIN(MIN(c->snd_end - c->snd_nxt, c->snd_una + c->snd_wnd - c->snd_nxt), (uint32_t)c->mss);
            if (len < c->mss && len < c->snd_end - c->snd_nxt) break;   /* sender SWS avoidance */
            tcp_send_seg(c, c->snd_nxt, TCP_ACK | (len == c->snd_end - c->snd_nxt ? TCP_PSH : 0), len, now);
            c->snd_nxt = c->snd_max = c->snd_nxt + len;
        } else {
            break;
        }
        pipe += len;
        tcp_rexmit_arm(c, now, false);
    }
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
    bool sack_recovery = c->in_recovery && c->sack_ok;
    if (sack_recovery) sack_recovery_output(c, now);
    /* Limited transmit (RFC 3042): a new segment beyond cwnd on each of the first two dup ACKs. */
    uint32_t extra = !c->in_recovery && c->dupacks > 0 && c->dupacks < 3 ? (uint32_t)c->dupacks * c->mss : 0;
    for (;;) {
        if (sack_recovery && SEQ_LT(c->snd_nxt, c->snd_end)) break;   /* only a FIN is left here */
        uint32_t limit = c->snd_end;
        if (c->n_sacked && SEQ_LT(c->snd_nxt, c->snd_max)) {
            /* Resending after a timeout: skip what the peer SACKed (RFC 6675 §5.1). */
            uint32_t seq, end;
            if (next_hole(c, c->snd_nxt, c->snd_max, &seq, &end)) {
                c->snd_nxt = seq;
                if (SEQ_LT(end, limit)) limit = end;
            } else {
                c->snd_nxt = c->snd_max;
            }
        }
        uint32_t avail = SEQ_LT(c->snd_nxt, limit) ? limit - c->snd_nxt : 0;
        uint32_t wnd = MIN(c->snd_wnd, c->cwnd + extra);
        uint32_t inflight = c->snd_nxt - c->snd_una;
        uint32_t usable = wnd > inflight ? wnd - inflight : 0;
        if (extra && usable && usable < c->mss && SEQ_LE(c->snd_nxt + c->mss, c->snd_una + c->snd_wnd))
            usable = c->mss;     /* limited transmit counts whole segments (RFC 3042 §2) */
        uint32_t len = MIN(MIN(avail, usable), (uint32_t)c->mss);
        bool fin = c->fin_queued && fin_state && len == avail && limit == c->snd_end &&
                   SEQ_LE(c->snd_nxt, c->snd_end);
        if (len == 0 && !fin) break;
        bool rexmit = SEQ_LT(c->snd_nxt, c->snd_max);
        if (len < c->mss && !fin && inflight > 0 && !rexmit) {
            /* Nagle (RFC 1122 §4.2.3.4) and sender SWS avoidance (§4.2.3.4): a short segment
             * waits while data is unacknowledged, unless TCP_NODELAY and it ends the data. */
            if (!c->nodelay || len < avail) break;
        }
        uint8_t flags = TCP_ACK;
        if (fin) flags |= TCP_FIN;
        if (len && c->snd_nxt + len == c->snd_end) flags |= TCP_PSH;
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
