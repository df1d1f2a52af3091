/* tcp_in.c: TCP segment arrival, following RFC 9293 §3.10.7 ("SEGMENT ARRIVES") step by
 * step, with RFC 5961 (§3 RST and §4 SYN challenge ACKs, §5 ACK range check), RFC 7323 §2
 * (window scale), RFC 6298 §2 (RTT samples, Karn's rule via tcp_out.c), RFC 5681 §3 (slow
 * start, congestion avoidance, fast retransmit on the third duplicate ACK) with RFC 6582
 * (NewReno partial ACKs), and RFC 1122 §4.2.3.2 (delayed ACK: every second segment) and
 * §4.2.3.6 (keep-alive: every acceptable segment restarts the idle clock; a probe, one below
 * RCV.NXT, is unacceptable and so answered with an ACK by the first step); RFC 2018 (SACK:
 * SACK-permitted on the SYNs, the peer's SACK blocks fill the scoreboard, each one checked
 * against SND.UNA..SND.MAX and the rest ignored) with RFC 6675 §5 (SACK-based loss recovery:
 * a duplicate ACK is one that newly SACKs data; recovery starts on the third or when the first
 * hole counts as lost) and RFC 5827 (early retransmit: a lower threshold with fewer than four
 * segments outstanding and nothing new to send). */
#include "tcp_priv.h"
#include "kstring.h"

struct seg {
    uint16_t sport, dport;
    uint32_t seq, ack, wnd;
    uint8_t flags;
    const uint8_t *data;
    uint32_t len;
    bool has_mss, has_ws, has_sack_perm;
    uint16_t mss;
    uint8_t ws;
    const uint8_t *sack;                       /* the SACK option's blocks (8 bytes each), unchecked */
    int n_sack;
};

/* Parses and validates the header; false for a segment to drop (counted). */
static bool parse(struct pkt *p, const struct net_addr *src, const struct net_addr *dst, struct seg *s) {
    if (p->len < TCP_HLEN) { tcp_stats.bad_header++; return false; }
    const uint8_t *h = p->data;
    uint32_t hlen = (uint32_t)(h[12] >> 4) * 4;
    if (hlen < TCP_HLEN || hlen > p->len) { tcp_stats.bad_header++; return false; }
    uint32_t sum = net_csum_pseudo(src, dst, IPPROTO_TCP, p->len);
    if (net_csum_fold(net_csum_add(sum, h, p->len)) != 0) { tcp_stats.bad_csum++; return false; }
    memset(s, 0, sizeof *s);
    s->sport = net_get16(h);
    s->dport = net_get16(h + 2);
    s->seq = net_get32(h + 4);
    s->ack = net_get32(h + 8);
    s->flags = h[13] & 0x3f;
    s->wnd = net_get16(h + 14);
    s->data = h + hlen;
    s->len = p->len - hlen;
    if ((s->flags & TCP_SYN) && (s->flags & (TCP_FIN | TCP_RST))) { tcp_stats.bad_header++; return false; }
    if (s->sport == 0 || s->dport == 0) { tcp_stats.bad_header++; return false; }
    const uint8_t *o = h + TCP_HLEN;
    uint32_t olen = hlen - TCP_HLEN;
    for (uint32_t i = 0; i < olen;) {
        uint8_t kind = o[i];
        if (kind == 0) break;
        if (kind == 1) { i++; continue; }
        if (i + 1 >= olen || o[i + 1] < 2 || i + o[i + 1] > olen) { tcp_stats.bad_header++; return false; }
        uint8_t l = o[i + 1];
        if (kind == 2 && l == 4) { s->has_mss = true; s->mss = net_get16(o + i + 2); }
        else if (kind == 3 && l == 3) { s->has_ws = true; s->ws = MIN(o[i + 2], 14); }
        else if (kind == 4 && l == 2) s->has_sack_perm = true;
        else if (kind == 5 && l >= 10 && (l - 2) % 8 == 0) { s->sack = o + i + 2; s->n_sack = (l - 2) / 8; }
        i += l;
    }
    return true;
}

/* MSS and window scale from the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2), and the initial
 * congestion window (RFC 5681 §3.1). */
static void apply_syn(struct tcp_conn *c, const struct seg *s) {
    uint16_t peer = s->has_mss ? s->mss : (c->remote.family == NET_AF_INET6 ? 1220 : 536);
    c->mss = (uint16_t)MAX(MIN(peer, tcp_our_mss(c)), 64);
    c->sack_ok = s->has_sack_perm;             /* we offer it on every SYN */
    if (s->has_ws) {
        c->ws_ok = true;
        c->snd_wscale = s->ws;
    } else {
        c->ws_ok = false;
        c->snd_wscale = 0;
        c->rcv_wscale = 0;
    }
    c->cwnd = c->mss > 2190 ? 2u * c->mss : c->mss > 1095 ? 3u * c->mss : 4u * c->mss;
    c->ssthresh = 1u << 30;
    c->snd_wnd = s->wnd;                       /* a SYN's window is never scaled */
    c->max_snd_wnd = s->wnd;
    c->snd_wl1 = s->seq;
}

static void rtt_sample(struct tcp_conn *c, uint64_t r) {
    if (!c->srtt) {
        c->srtt = r;
        c->rttvar = r / 2;
    } else {
        uint64_t d = c->srtt > r ? c->srtt - r : r - c->srtt;
        c->rttvar = (3 * c->rttvar + d) / 4;
        c->srtt = (7 * c->srtt + r) / 8;
    }
    uint64_t rto = c->srtt + MAX(10000000ull, 4 * c->rttvar);
    c->rto = MIN(MAX(rto, TCP_RTO_MIN_NS), TCP_RTO_MAX_NS);
}

/* With l's backlog full, drops its oldest half-open child whose SYN-ACK has gone unanswered
 * for a whole retransmission timeout (a peer that went away, or a SYN flood), so that a new
 * SYN can take its place, as BSD's SYN cache does; children still within their first RTO
 * are kept, so a burst of real connections does not push itself out. False when none. */
static bool drop_stale_half_open(struct tcp_conn *l) {
    struct tcp_conn *victim = NULL;
    for (struct tcp_conn *c = tcp_conns; c; c = c->next)   /* newest first: the last match is oldest */
        if (c->parent == l && c->state == TCP_SYN_RECEIVED && c->retries > 0) victim = c;
    if (!victim) return false;
    tcp_drop(victim, 0);
    return true;
}

static void listen_input(struct tcp_conn *l, const struct seg *s, const struct net_addr *src,
                         const struct net_addr *dst, uint64_t now) {
    if (s->flags & TCP_RST) return;
    if (s->flags & TCP_ACK) {
        tcp_send_reset(dst, src, s->dport, s->sport, s->ack, 0, TCP_RST);
        return;
    }
    if (!(s->flags & TCP_SYN)) return;
    if (l->n_pending >= l->backlog) {
        tcp_stats.backlog_full++;                 /* this SYN, or the stale child it replaces */
        if (!drop_stale_half_open(l)) return;
    }
    struct tcp_conn *c = tcp_conn_new(true);
    if (!c) { tcp_stats.backlog_full++; return; }
    c->local = *dst;
    c->remote = *src;
    c->lport = s->dport;
    c->rport = s->sport;
    c->passive = true;
    c->nodelay = l->nodelay;
    c->keepalive = l->keepalive;
    c->keepidle_s = l->keepidle_s;
    c->keepintvl_s = l->keepintvl_s;
    c->keepcnt = l->keepcnt;
    c->idle_since = now;
    if (c->keepalive) c->keepalive_at = now + c->keepidle_s * 1000000000ull;
    c->owner_family = l->owner_family;
    c->parent = l;
    l->n_pending++;
    c->state = TCP_SYN_RECEIVED;
    c->irs = s->seq;
    c->rcv_nxt = c->rcv_user = s->seq + 1;
    c->iss = tcp_isn(c, now);
    c->snd_una = c->snd_nxt = c->snd_max = c->recover = c->iss;
    c->snd_end = c->iss + 1;
    apply_syn(c, s);
    tcp_stats.passive_opens++;
    tcp_output(c, now);                       /* SYN-ACK (data on the SYN is not kept) */
}

static void syn_sent_input(struct tcp_conn *c, const struct seg *s, uint64_t now) {
    bool ack_ok = false;
    if (s->flags & TCP_ACK) {
        if (SEQ_LE(s->ack, c->iss) || SEQ_GT(s->ack, c->snd_max)) {
            if (!(s->flags & TCP_RST))
                tcp_send_reset(&c->local, &c->remote, c->lport, c->rport, s->ack, 0, TCP_RST);
            return;
        }
        ack_ok = true;
    }
    if (s->flags & TCP_RST) {
        if (ack_ok) { tcp_stats.resets_received++; tcp_drop(c, -KECONNREFUSED); }
        return;
    }
    if (!(s->flags & TCP_SYN)) return;
    c->irs = s->seq;
    c->rcv_nxt = c->rcv_user = c->rcv_adv = s->seq + 1;
    apply_syn(c, s);
    c->idle_since = now;
    if (ack_ok) {
        c->snd_una = s->ack;
        c->snd_wl2 = s->ack;
        if (c->rtt_active && SEQ_GE(s->ack, c->rtt_seq)) rtt_sample(c, now - c->rtt_start);
        c->rtt_active = false;
        c->retries = 0;
        tcp_set_state(c, c->fin_queued ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED);
        tcp_rexmit_arm(c, now, true);
        c->ack_now = true;
    } else {
        /* Simultaneous open (RFC 9293 §3.5, figure 7): SYN-ACK with our ISS. */
        tcp_set_state(c, TCP_SYN_RECEIVED);
        c->snd_nxt = c->iss;
        c->rexmit_at = 0;
    }
    tcp_output(c, now);
}

/* The segment's data (and FIN) once it is known to be in the window. */
static void take_text(struct tcp_conn *c, const struct seg *s, uint32_t seq, const uint8_t *data,
                      uint32_t len, bool fin, uint64_t now) {
    bool can_data = c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 || c->state == TCP_FIN_WAIT_2;
    (void)s;
    if (!can_data) { len = 0; if (c->rcv_fin) fin = false; }
    if (len && SEQ_GT(seq + len, c->rcv_user + c->rcvbuf_size)) {   /* never past the buffer */
        len = c->rcv_user + c->rcvbuf_size - seq;
        fin = false;
    }
    if (len) {
        uint32_t mask = c->rcvbuf_size - 1, off = (seq - (c->irs + 1)) & mask;
        uint32_t first = MIN(len, c->rcvbuf_size - off);
        if (seq == c->rcv_nxt) {
            memcpy(c->rcvbuf + off, data, first);
            if (first < len) memcpy(c->rcvbuf, data + first, len - first);
            c->rcv_nxt += len;
            if (c->n_ooo) {
                int k = 0;
                while (k < c->n_ooo && SEQ_LE(c->ooo[k].start, c->rcv_nxt)) {
                    if (SEQ_GT(c->ooo[k].end, c->rcv_nxt)) c->rcv_nxt = c->ooo[k].end;
                    k++;
                }
                memmove(c->ooo, c->ooo + k, (size_t)(c->n_ooo - k) * sizeof c->ooo[0]);
                c->n_ooo -= k;
                c->ack_now = true;            /* a hole was filled: ACK at once (RFC 5681 §4.2) */
            } else if (++c->unacked_segs >= 2) {
                c->ack_now = true;
            } else if (!c->delack_at) {
                c->delack_at = now + TCP_DELACK_NS;
            }
        } else {
            /* Out of order: keep it in place in the ring and remember the range (bounded). */
            uint32_t st = seq, en = seq + len;
            int i = 0;
            while (i < c->n_ooo && SEQ_LT(c->ooo[i].end, st)) i++;
            int j = i;
            while (j < c->n_ooo && SEQ_LE(c->ooo[j].start, en)) {
                if (SEQ_LT(c->ooo[j].start, st)) st = c->ooo[j].start;
                if (SEQ_GT(c->ooo[j].end, en)) en = c->ooo[j].end;
                j++;
            }
            if (j == i && c->n_ooo == TCP_OOO_MAX) {
                c->ack_now = true;            /* no room for another range: drop */
                return;
            }
            memcpy(c->rcvbuf + off, data, first);
            if (first < len) memcpy(c->rcvbuf, data + first, len - first);
            memmove(c->ooo + i + 1, c->ooo + j, (size_t)(c->n_ooo - j) * sizeof c->ooo[0]);
            c->n_ooo += 1 - (j - i);
            c->ooo[i].start = st;
            c->ooo[i].end = en;
            c->ooo_last = seq;
            c->ack_now = true;                /* duplicate ACK for fast retransmit */
            if (fin) { c->ooo_fin = true; c->ooo_fin_seq = seq + len; }
            return;
        }
    }
    if (!fin && c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt) fin = true;
    else if (fin && seq + len != c->rcv_nxt) {
        c->ooo_fin = true;
        c->ooo_fin_seq = seq + len;
        c->ack_now = true;
        return;
    }
    if (!fin || c->rcv_fin) return;
    /* FIN (RFC 9293 §3.10.7.4, eighth step). */
    c->ooo_fin = false;
    c->rcv_fin = true;
    c->rcv_nxt++;
    c->ack_now = true;
    switch (c->state) {
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED: tcp_set_state(c, TCP_CLOSE_WAIT); break;
    case TCP_FIN_WAIT_1:
        if (c->fin_queued && c->snd_una == c->snd_end + 1) tcp_enter_time_wait(c, now);
        else tcp_set_state(c, TCP_CLOSING);
        break;
    case TCP_FIN_WAIT_2: tcp_enter_time_wait(c, now); break;
    default: break;
    }
}

/* Drops the scoreboard ranges SND.UNA has passed. */
static void score_trim(struct tcp_conn *c) {
    int k = 0;
    while (k < c->n_sacked && SEQ_LE(c->sacked[k].end, c->snd_una)) k++;
    memmove(c->sacked, c->sacked + k, (size_t)(c->n_sacked - k) * sizeof c->sacked[0]);
    c->n_sacked -= k;
    if (c->n_sacked && SEQ_LT(c->sacked[0].start, c->snd_una)) c->sacked[0].start = c->snd_una;
}

/* Adds one SACK block from the peer to the scoreboard; true when it SACKs bytes not SACKed
 * before. Never trusted: an empty or reversed block, or one outside SND.UNA..SND.MAX (stale,
 * a D-SACK, or hostile), is ignored. With the scoreboard full, a block below the highest range
 * replaces that range (the lowest holes matter most); one above every range is ignored. */
static bool score_add(struct tcp_conn *c, uint32_t st, uint32_t en) {
    if (!SEQ_LT(st, en) || SEQ_LT(st, c->snd_una) || SEQ_GT(en, c->snd_max)) return false;
    int i = 0;
    while (i < c->n_sacked && SEQ_LT(c->sacked[i].end, st)) i++;
    if (i < c->n_sacked && SEQ_LE(c->sacked[i].start, st) && SEQ_GE(c->sacked[i].end, en)) return false;
    int j = i;
    while (j < c->n_sacked && SEQ_LE(c->sacked[j].start, en)) {
        if (SEQ_LT(c->sacked[j].start, st)) st = c->sacked[j].start;
        if (SEQ_GT(c->sacked[j].end, en)) en = c->sacked[j].end;
        j++;
    }
    if (j == i && c->n_sacked == TCP_SCORE_MAX) {
        if (i == c->n_sacked) return false;
        c->n_sacked--;
    }
    memmove(c->sacked + i + 1, c->sacked + j, (size_t)(c->n_sacked - j) * sizeof c->sacked[0]);
    c->n_sacked += 1 - (j - i);
    c->sacked[i].start = st;
    c->sacked[i].end = en;
    return true;
}

/* The duplicate-ACK threshold: 3, or with SACK, fewer than four segments outstanding and no
 * new data to send, one less than the segments outstanding (RFC 5827 §3.1). */
static int dup_thresh(const struct tcp_conn *c) {
    uint32_t out = c->snd_max - c->snd_una;
    if (!c->sack_ok || SEQ_LT(c->snd_max, c->snd_end) || out >= 4u * c->mss) return 3;
    return MAX((int)((out + c->mss - 1) / c->mss) - 1, 1);
}

/* Enters SACK-based loss recovery (RFC 6675 §5 steps 4.1-4.3): RecoveryPoint = SND.MAX,
 * cwnd = ssthresh = FlightSize / 2; tcp_output retransmits the first hole and goes on. */
static void sack_enter_recovery(struct tcp_conn *c) {
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = c->cwnd = MAX(flight / 2, 2u * c->mss);
    c->recover = c->snd_max;
    c->in_recovery = true;
    c->high_rxt = c->snd_una;
    c->rtt_active = false;
    tcp_stats.fast_recoveries++;
}

/* ACK processing for synchronized states (fifth step). ACK_GO: go on with the text;
 * ACK_STOP: stop after output; ACK_GONE: the connection was dropped (maybe freed). */
enum { ACK_GO, ACK_STOP, ACK_GONE };
static int take_ack(struct tcp_conn *c, const struct seg *s, uint64_t now) {
    if (c->state == TCP_SYN_RECEIVED) {
        if (!SEQ_GT(s->ack, c->snd_una) || SEQ_GT(s->ack, c->snd_max)) {
            tcp_send_reset(&c->local, &c->remote, c->lport, c->rport, s->ack, 0, TCP_RST);
            return ACK_STOP;
        }
        tcp_set_state(c, c->fin_queued ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED);
        c->snd_wnd = s->wnd << c->snd_wscale;
        c->snd_wl1 = s->seq;
        c->snd_wl2 = s->ack;
        if (c->parent) tcp_child_established(c);
    }
    if (SEQ_GT(s->ack, c->snd_max)) { c->ack_now = true; return ACK_STOP; }
    uint32_t mw = MAX(c->max_snd_wnd, 65535u);
    if (SEQ_LT(s->ack, c->snd_una - mw)) { c->ack_now = true; return ACK_STOP; }   /* RFC 5961 §5 */
    uint32_t wnd = s->wnd << c->snd_wscale;
    bool advanced = SEQ_GT(s->ack, c->snd_una);
    uint32_t acked = advanced ? s->ack - c->snd_una : 0;
    if (advanced) {
        if (c->rtt_active && SEQ_GE(s->ack, c->rtt_seq)) {
            rtt_sample(c, now - c->rtt_start);
            c->rtt_active = false;
        }
        c->retries = 0;
        c->snd_una = s->ack;
        if (SEQ_LT(c->snd_nxt, c->snd_una)) c->snd_nxt = c->snd_una;
        score_trim(c);
    }
    bool newly_sacked = false;
    if (c->sack_ok && SEQ_GE(s->ack, c->snd_una))
        for (int k = 0; k < MIN(s->n_sack, TCP_SACK_SEND); k++)
            newly_sacked |= score_add(c, net_get32(s->sack + 8 * k), net_get32(s->sack + 8 * k + 4));
    if (advanced) {
        if (c->in_recovery) {
            if (SEQ_GE(s->ack, c->recover)) {         /* full ACK (RFC 6582 §3.2 step 3) */
                uint32_t flight = c->snd_max - c->snd_una;
                c->cwnd = MIN(c->ssthresh, MAX(flight, (uint32_t)c->mss) + c->mss);
                c->in_recovery = false;
            } else if (!c->sack_ok) {                 /* partial ACK: resend the next hole */
                uint32_t l = SEQ_LT(c->snd_una, c->snd_end) ? MIN(c->snd_end - c->snd_una, (uint32_t)c->mss) : 0;
                tcp_send_seg(c, c->snd_una, TCP_ACK, l, now);
                tcp_stats.retrans_segs++;
                c->cwnd = (c->cwnd > acked ? c->cwnd - acked : 0) + c->mss;
                tcp_rexmit_arm(c, now, true);
            }                                          /* with SACK, tcp_output fills the holes */
        } else if (c->cwnd < c->ssthresh) {
            c->cwnd += MIN(acked, (uint32_t)c->mss);   /* slow start */
        } else {
            c->cwnd += MAX(1u, (uint32_t)c->mss * c->mss / c->cwnd);   /* congestion avoidance */
        }
        /* With SACK, an ACK that moves SND.UNA but still SACKs new data above a hole counts as
         * the first duplicate ACK (a delayed ACK often covers the segment before a loss), so
         * limited transmit keeps the ACK clock going in a small window. */
        c->dupacks = c->sack_ok && newly_sacked && c->n_sacked ? 1 : 0;
        c->una_rxt = false;
        tcp_rexmit_arm(c, now, true);
    } else if (c->sack_ok) {
        /* RFC 6675 §2: a duplicate ACK newly SACKs data (a duplicated segment's ACK does not). */
        if (s->ack == c->snd_una && newly_sacked && c->snd_max != c->snd_una) c->dupacks++;
    } else if (s->ack == c->snd_una && s->len == 0 && !(s->flags & (TCP_SYN | TCP_FIN)) &&
               c->snd_max != c->snd_una && wnd == c->snd_wnd && c->snd_wnd != 0) {
        /* A duplicate ACK (RFC 5681 §2). */
        if (++c->dupacks == 3 && !c->in_recovery && SEQ_GT(s->ack, c->recover - 1)) {
            uint32_t flight = c->snd_max - c->snd_una;
            c->ssthresh = MAX(flight / 2, 2u * c->mss);
            c->recover = c->snd_max;
            c->in_recovery = true;
            tcp_stats.fast_recoveries++;
            uint32_t l = SEQ_LT(c->snd_una, c->snd_end) ? MIN(c->snd_end - c->snd_una, (uint32_t)c->mss) : 0;
            tcp_send_seg(c, c->snd_una, TCP_ACK | (l == 0 && c->fin_queued ? TCP_FIN : 0), l, now);
            tcp_stats.retrans_segs++;
            c->rtt_active = false;
            c->cwnd = c->ssthresh + 3u * c->mss;
            tcp_rexmit_arm(c, now, true);
        } else if (c->dupacks > 3 && c->in_recovery) {
            c->cwnd += c->mss;                         /* inflate: another segment left */
        }
    }
    /* A lost retransmission (the segment at SND.UNA resent, then more than 2 MSS sent after it
     * SACKed while it is still missing): resend it at once rather than wait for the timeout,
     * with another halving of the window (a second congestion signal). */
    if (c->sack_ok && c->in_recovery && c->una_rxt && newly_sacked) {
        uint32_t after = 0;
        for (int k = 0; k < c->n_sacked; k++)
            if (SEQ_GT(c->sacked[k].end, c->una_rxt_max))
                after += c->sacked[k].end - (SEQ_GT(c->sacked[k].start, c->una_rxt_max) ? c->sacked[k].start : c->una_rxt_max);
        if (after > 2u * c->mss) {
            c->una_rxt = false;
            c->high_rxt = c->snd_una;
            c->ssthresh = c->cwnd = MAX(c->cwnd / 2, 2u * c->mss);
        }
    }
    /* SACK: recovery starts on the duplicate-ACK threshold or when the first hole counts as
     * lost (RFC 6675 §5 step 4, IsLost), not again before RecoveryPoint (as RFC 6582 §3.2). */
    if (c->sack_ok && !c->in_recovery && c->snd_max != c->snd_una && SEQ_GE(c->snd_una, c->recover) &&
        (c->dupacks >= dup_thresh(c) || SEQ_GT(tcp_sack_lost_edge(c), c->snd_una)))
        sack_enter_recovery(c);
    /* Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2 rule). */
    if (SEQ_LT(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && SEQ_LE(c->snd_wl2, s->ack))) {
        c->snd_wnd = MIN(wnd, 1u << 30);
        c->snd_wl1 = s->seq;
        c->snd_wl2 = s->ack;
        if (c->snd_wnd > c->max_snd_wnd) c->max_snd_wnd = c->snd_wnd;
        if (c->snd_wnd) {
            c->persist_at = 0;
            c->persist_shift = 0;
            tcp_rexmit_arm(c, now, false);
        } else {
            c->retries = 0;                            /* the peer is alive, only full */
        }
    }
    bool fin_acked = c->fin_queued && c->snd_una == c->snd_end + 1;
    switch (c->state) {
    case TCP_FIN_WAIT_1:
        if (fin_acked) {
            tcp_set_state(c, TCP_FIN_WAIT_2);
            if (c->user_closed) c->timewait_at = now + 2 * tcp_msl_ns;   /* orphan FIN_WAIT_2 limit */
        }
        break;
    case TCP_CLOSING:
        if (fin_acked) tcp_enter_time_wait(c, now);
        break;
    case TCP_LAST_ACK:
        if (fin_acked) { tcp_drop(c, 0); return ACK_GONE; }
        break;
    default: break;
    }
    return ACK_GO;
}

void tcp_segment_arrives(struct tcp_conn *c, struct pkt *p, const struct net_addr *src,
                         const struct net_addr *dst, uint64_t now) {
    struct seg s;
    if (!parse(p, src, dst, &s)) return;
    if (c->state == TCP_LISTEN) { listen_input(c, &s, src, dst, now); return; }
    if (c->state == TCP_SYN_SENT) { syn_sent_input(c, &s, now); return; }
    /* First: sequence number check (RFC 9293 §3.10.7.4). */
    uint32_t seglen = s.len + ((s.flags & TCP_SYN) ? 1 : 0) + ((s.flags & TCP_FIN) ? 1 : 0);
    uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    bool ok;
    if (seglen == 0)
        ok = wnd == 0 ? s.seq == c->rcv_nxt : SEQ_GE(s.seq, c->rcv_nxt) && SEQ_LT(s.seq, c->rcv_nxt + wnd);
    else
        ok = wnd != 0 && ((SEQ_GE(s.seq, c->rcv_nxt) && SEQ_LT(s.seq, c->rcv_nxt + wnd)) ||
                          (SEQ_GE(s.seq + seglen - 1, c->rcv_nxt) && SEQ_LT(s.seq + seglen - 1, c->rcv_nxt + wnd)));
    bool zero_wnd_ack = !ok && wnd == 0 && s.seq == c->rcv_nxt && (s.flags & TCP_ACK);
    if (!ok && !zero_wnd_ack) {
        if (s.flags & TCP_RST) return;
        if (c->state == TCP_SYN_RECEIVED && (s.flags & TCP_SYN) && s.seq == c->irs) {
            if (!(s.flags & TCP_ACK)) {
                tcp_send_seg(c, c->iss, TCP_SYN | TCP_ACK, 0, now);     /* our SYN-ACK was lost */
            } else {
                /* Simultaneous open (RFC 9293 §3.5, figure 7): the peer's SYN-ACK repeats the
                 * SYN we already took; answer with a plain ACK, whose arrival completes the
                 * handshake on both sides (also a socket connected to itself). */
                tcp_send_ack(c, now);
            }
            return;
        }
        c->ack_now = true;
        if (c->state == TCP_TIME_WAIT && (s.flags & TCP_FIN)) tcp_enter_time_wait(c, now);
        tcp_output(c, now);
        return;
    }
    c->idle_since = now;                     /* the peer is there (keep-alive) */
    c->keep_probes = 0;
    /* Second: RST (RFC 5961 §3.2: exact match resets, otherwise a challenge ACK). */
    if (s.flags & TCP_RST) {
        if (s.seq != c->rcv_nxt) { tcp_send_ack(c, now); return; }
        tcp_stats.resets_received++;
        switch (c->state) {
        case TCP_SYN_RECEIVED: tcp_drop(c, c->passive ? 0 : -KECONNREFUSED); break;
        case TCP_ESTABLISHED: case TCP_FIN_WAIT_1: case TCP_FIN_WAIT_2: case TCP_CLOSE_WAIT:
            tcp_drop(c, -KECONNRESET); break;
        default: tcp_drop(c, 0); break;
        }
        return;
    }
    /* Fourth: a SYN in a synchronized state gets a challenge ACK (RFC 5961 §4). */
    if (s.flags & TCP_SYN) { tcp_send_ack(c, now); return; }
    /* Fifth: ACK. */
    if (!(s.flags & TCP_ACK)) return;
    int r = take_ack(c, &s, now);
    if (r == ACK_GONE) return;
    if (r == ACK_STOP) { tcp_output(c, now); return; }
    if (zero_wnd_ack) {                      /* ACK processed; data beyond the window refused */
        if (seglen) c->ack_now = true;
        tcp_output(c, now);
        return;
    }
    /* Trim to the window, then text and FIN (seventh and eighth steps). */
    uint32_t seq = s.seq;
    const uint8_t *data = s.data;
    uint32_t len = s.len;
    bool fin = s.flags & TCP_FIN;
    if (SEQ_LT(seq, c->rcv_nxt)) {
        uint32_t cut = c->rcv_nxt - seq;
        if (cut > len) { fin = false; cut = len; }   /* the FIN too is old */
        data += cut; len -= cut; seq += cut;
    }
    if (SEQ_GT(seq + len, c->rcv_nxt + wnd)) {
        len = c->rcv_nxt + wnd - seq;
        fin = false;
    }
    if (c->state == TCP_TIME_WAIT) {
        if (fin) { c->ack_now = true; tcp_enter_time_wait(c, now); }
    } else {
        take_text(c, &s, seq, data, len, fin, now);
    }
    tcp_output(c, now);
}
