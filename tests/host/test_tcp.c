/* test_tcp.c: host tests of the TCP core (kernel/net/tcp*.c) against a scripted peer, per
 * RFC 9293 (states, sequence checks), RFC 5961 (RST/SYN challenge ACKs), RFC 6298 (RTO),
 * RFC 5681/6582 (fast retransmit, NewReno), RFC 7323 (window scale), RFC 1122 (delayed ACK,
 * zero-window probes, keep-alives §4.2.3.6 with tcp(7)'s TCP_KEEPIDLE/INTVL/CNT). The peer injects segments with tcp_input and asserts the exact
 * segments TCP emits (flags, seq, ack, window, options) through a fake tcp_ip_output and a
 * fake clock. Also: a lossy back-to-back 10 MiB transfer and a 100,000-segment fuzzer. */
#include "host_stubs.h"
#include <string.h>
#include "net_tcp.h"

/* ---- stubs for the rest of the kernel ---- */
void *kmalloc(size_t n) { return malloc(n); }
void *kzalloc(size_t n) { return calloc(1, n); }
void kfree(void *p) { free(p); }
static bool lock_held;
uint64_t spin_lock_irqsave(spinlock_t *l) { (void)l; assert_false(lock_held); lock_held = true; return 0; }
void spin_unlock_irqrestore(spinlock_t *l, uint64_t f) { (void)l; (void)f; assert_true(lock_held); lock_held = false; }
int random_bytes(void *buf, size_t len) { memset(buf, 0x5a, len); return 0; }
struct pkt *pkt_alloc(uint32_t room) {
    struct pkt *p = calloc(1, sizeof *p);
    p->size = PKT_HEADROOM + room;
    p->head = malloc(p->size);
    p->data = p->head + PKT_HEADROOM;
    return p;
}
void pkt_free(struct pkt *p) { if (p) { free(p->head); free(p); } }

#include "../../kernel/net/checksum.c"
#include "../../kernel/net/tcp.c"
#include "../../kernel/net/tcp_in.c"
#include "../../kernel/net/tcp_out.c"

/* ---- the scripted peer ---- */
static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

struct seg_out {
    struct net_addr src, dst;
    uint16_t sport, dport, win;
    uint32_t seq, ack;
    uint8_t flags;
    int mss, ws;            /* -1 = option absent */
    bool sack_perm;
    int nsack;              /* SACK blocks, in option order */
    uint32_t sack[4][2];
    uint32_t len;
    uint8_t data[1600];
};
#define OUTQ 512
static struct seg_out outq[OUTQ];
static int out_n, out_r;
static bool capture_raw;    /* back-to-back mode: packets go to the fake network instead */
static int (*raw_sink)(const struct net_addr *, const struct net_addr *, struct pkt *);

static int capture(const struct net_addr *src, const struct net_addr *dst, struct pkt *p) {
    if (capture_raw) return raw_sink(src, dst, p);
    assert_true(out_n < OUTQ);
    struct seg_out *s = &outq[out_n++];
    const uint8_t *h = p->data;
    assert_true(p->len >= TCP_HLEN);
    /* every segment TCP emits has a valid checksum */
    assert_int_equal(net_csum_fold(net_csum_add(net_csum_pseudo(src, dst, 6, p->len), h, p->len)), 0);
    s->src = *src; s->dst = *dst;
    s->sport = net_get16(h); s->dport = net_get16(h + 2);
    s->seq = net_get32(h + 4); s->ack = net_get32(h + 8);
    s->flags = h[13]; s->win = net_get16(h + 14);
    uint32_t hl = (h[12] >> 4) * 4u;
    s->mss = s->ws = -1;
    s->sack_perm = false;
    s->nsack = 0;
    assert_true(hl <= 60);
    for (uint32_t i = TCP_HLEN; i < hl;) {
        if (h[i] == 0) break;
        if (h[i] == 1) { i++; continue; }
        assert_true(i + 1 < hl && h[i + 1] >= 2 && i + h[i + 1] <= hl);
        if (h[i] == 2) s->mss = net_get16(h + i + 2);
        if (h[i] == 3) s->ws = h[i + 2];
        if (h[i] == 4) { assert_int_equal(h[i + 1], 2); s->sack_perm = true; }
        if (h[i] == 5) {
            assert_int_equal((h[i + 1] - 2) % 8, 0);
            s->nsack = (h[i + 1] - 2) / 8;
            assert_true(s->nsack >= 1 && s->nsack <= 4);
            for (int k = 0; k < s->nsack; k++) {
                s->sack[k][0] = net_get32(h + i + 2 + 8 * k);
                s->sack[k][1] = net_get32(h + i + 6 + 8 * k);
            }
        }
        i += h[i + 1];
    }
    s->len = p->len - hl;
    assert_true(s->len <= sizeof s->data);
    memcpy(s->data, h + hl, s->len);
    pkt_free(p);
    return 0;
}

static struct net_addr A, B;        /* A: us, B: the peer */
#define AP 1000                     /* our port */
#define BP 2000                     /* the peer's port */

static void reset_world(void) {
    tcp_reset_all();
    memset(&tcp_stats, 0, sizeof tcp_stats);
    out_n = out_r = 0;
    fake_now = 1000000000ull;
    tcp_now = fake_clock;
    tcp_ip_output = capture;
    capture_raw = false;
    tcp_msl_ns = 30000000000ull;
    A = net_addr4(0x0a000001);
    B = net_addr4(0x0a000002);
}

static int setup(void **st) { (void)st; reset_world(); return 0; }
static int teardown(void **st) { (void)st; tcp_reset_all(); return 0; }

/* Builds and injects one segment from B:sport to A:dport; opts/optlen raw options. */
static void inject_full(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                        uint16_t win, const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len) {
    struct pkt *p = pkt_alloc(TCP_HLEN + optlen + len);
    uint8_t *h = pkt_put(p, TCP_HLEN + optlen + len);
    memset(h, 0, TCP_HLEN);
    net_put16(h, sport); net_put16(h + 2, dport);
    net_put32(h + 4, seq); net_put32(h + 8, ack);
    h[12] = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    h[13] = flags;
    net_put16(h + 14, win);
    if (optlen) memcpy(h + TCP_HLEN, opts, optlen);
    if (len) memcpy(h + TCP_HLEN + optlen, data, len);
    net_put16(h + 16, net_csum_fold(net_csum_add(net_csum_pseudo(&B, &A, 6, p->len), h, p->len)));
    tcp_input(p, &B, &A);
}
static void inject(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win, const void *data, uint32_t len) {
    inject_full(BP, AP, seq, ack, flags, win, NULL, 0, data, len);
}
static const uint8_t SYN_OPTS[] = {2, 4, 0x03, 0xe8, 1, 3, 3, 2};   /* MSS 1000, WS 2 */

static struct seg_out *next_out_at(int line) {
    if (out_r >= out_n) fail_msg("line %d: expected a segment, TCP sent none", line);
    return &outq[out_r++];
}
static void expect_none_at(int line) {
    if (out_r < out_n)
        fail_msg("line %d: unexpected segment flags %#x seq %u ack %u len %u", line, outq[out_r].flags,
                 outq[out_r].seq, outq[out_r].ack, outq[out_r].len);
}
static struct seg_out *expect_at(int line, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len) {
    struct seg_out *s = next_out_at(line);
    if (s->flags != flags || s->seq != seq || ((flags & TCP_ACK) && s->ack != ack) || s->len != len)
        fail_msg("line %d: segment flags %#x seq %u ack %u len %u, wanted flags %#x seq %u ack %u len %u",
                 line, s->flags, s->seq, s->ack, s->len, flags, seq, ack, len);
    return s;
}
#define next_out() next_out_at(__LINE__)
#define expect_none() expect_none_at(__LINE__)
#define expect(...) expect_at(__LINE__, __VA_ARGS__)
static void tick_to(uint64_t t) {
    while (fake_now < t) {
        fake_now = MIN(fake_now + 10000000ull, t);
        tcp_timer_tick(fake_now);
    }
}

/* Establishes an active connection with peer ISN 5000, MSS 1000, WS 2, window win. */
#define PISN 5000u
static const uint8_t SYN_OPTS_SACK[] = {2, 4, 0x03, 0xe8, 1, 3, 3, 2, 1, 1, 4, 2};   /* + SACK-permitted */
static struct tcp_conn *open_est_opts(uint16_t win, const uint8_t *opts, uint32_t optlen) {
    int err;
    struct tcp_conn *c = tcp_open_active(&A, AP, &B, BP, &err);
    assert_non_null(c);
    struct seg_out *s = expect(TCP_SYN, c->iss, 0, 0);
    assert_int_equal(s->mss, 1460);
    assert_int_equal(s->ws, c->rcv_wscale);
    assert_true(s->sack_perm);                        /* always offered (RFC 2018 §2) */
    inject_full(BP, AP, PISN, c->iss + 1, TCP_SYN | TCP_ACK, win, opts, optlen, NULL, 0);
    expect(TCP_ACK, c->iss + 1, PISN + 1, 0);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    assert_int_equal(c->mss, 1000);
    expect_none();
    /* a window update from the peer with its scale applied */
    inject(PISN + 1, c->iss + 1, TCP_ACK, win, NULL, 0);
    expect_none();
    return c;
}
static struct tcp_conn *open_est(uint16_t win) { return open_est_opts(win, SYN_OPTS, sizeof SYN_OPTS); }

/* ---- tests ---- */
static void test_active_open(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    assert_int_equal(c->snd_wnd, 4000);               /* 1000 << 2 */
    assert_int_equal(c->snd_wscale, 2);
    assert_true(tcp_writable(c));
    assert_false(tcp_readable(c));
    uint32_t iss = c->iss;
    tcp_abort(c);
    expect(TCP_RST | TCP_ACK, iss + 1, PISN + 1, 0);
}

static void test_passive_open(void **st) {
    (void)st;
    int err;
    struct tcp_conn *l = tcp_listen(NULL, AP, 4, &err);
    assert_non_null(l);
    assert_null(tcp_accept(l, &err));
    assert_int_equal(err, -KEAGAIN);
    inject_full(BP, AP, 777, 0, TCP_SYN, 8192, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
    struct seg_out *s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_int_equal(s->ack, 778);
    assert_int_equal(s->mss, 1460);
    assert_int_equal(s->ws, 1);
    uint32_t iss = s->seq;
    assert_false(tcp_readable(l));
    /* a retransmitted SYN gets the SYN-ACK again */
    inject_full(BP, AP, 777, 0, TCP_SYN, 8192, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
    expect(TCP_SYN | TCP_ACK, iss, 778, 0);
    inject(778, iss + 1, TCP_ACK, 100, NULL, 0);
    expect_none();
    assert_true(tcp_readable(l));
    struct tcp_conn *c = tcp_accept(l, &err);
    assert_non_null(c);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    assert_int_equal(c->snd_wnd, 400);
    /* a SYN without options: no window scale in the SYN-ACK, MSS 536 assumed */
    inject_full(BP + 1, AP, 900, 0, TCP_SYN, 8192, NULL, 0, NULL, 0);
    s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_int_equal(s->ws, -1);
    assert_int_equal(s->mss, 1460);
    /* an ACK to a listener with no connection: RST with seq = ack */
    inject_full(BP + 2, AP, 1, 4242, TCP_ACK, 100, NULL, 0, NULL, 0);
    expect(TCP_RST, 4242, 0, 0);
    tcp_close(c);
    tcp_close(l);
}

static void test_data_both_ways(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(2000);                 /* window 8000 */
    uint32_t i1 = c->iss + 1;
    uint8_t buf[3000], rb[3000];
    for (int i = 0; i < 3000; i++) buf[i] = (uint8_t)(i * 7);
    assert_int_equal(tcp_send(c, buf, 3000), 3000);
    /* cwnd 4*1000: three segments, the last one PSH */
    expect(TCP_ACK, i1, PISN + 1, 1000);
    expect(TCP_ACK, i1 + 1000, PISN + 1, 1000);
    struct seg_out *s = expect(TCP_ACK | TCP_PSH, i1 + 2000, PISN + 1, 1000);
    assert_memory_equal(s->data, buf + 2000, 1000);
    expect_none();
    inject(PISN + 1, i1 + 3000, TCP_ACK, 2000, NULL, 0);
    expect_none();
    assert_int_equal(c->snd_una, i1 + 3000);
    assert_int_equal(c->rexmit_at, 0);
    /* peer -> us: one segment is ACKed after the delayed-ACK time, two at once */
    inject(PISN + 1, i1 + 3000, TCP_ACK, 2000, buf, 500);
    expect_none();
    tick_to(fake_now + TCP_DELACK_NS);
    s = expect(TCP_ACK, i1 + 3000, PISN + 501, 0);
    uint16_t w1 = s->win;
    assert_int_equal(w1, (65536 - 500) >> 1);
    inject(PISN + 501, i1 + 3000, TCP_ACK, 2000, buf + 500, 500);
    expect_none();
    inject(PISN + 1001, i1 + 3000, TCP_ACK, 2000, buf + 1000, 500);
    expect(TCP_ACK, i1 + 3000, PISN + 1501, 0);
    assert_true(tcp_readable(c));
    assert_int_equal(tcp_rcv_queued(c), 1500);
    assert_int_equal(tcp_recv(c, rb, sizeof rb), 1500);
    assert_memory_equal(rb, buf, 1500);
    assert_int_equal(tcp_recv(c, rb, sizeof rb), -KEAGAIN);
    /* fill the window to zero, then reading opens it with a window update */
    static uint8_t big[65536];
    uint32_t seq = PISN + 1501;
    for (int k = 0; k < 65; k++) {
        inject(seq, i1 + 3000, TCP_ACK, 2000, big, 1000);
        seq += 1000;
    }
    out_r = out_n;
    inject(seq, i1 + 3000, TCP_ACK, 2000, big, 536);     /* exactly fills 65536 */
    s = next_out();
    assert_int_equal(s->win, 0);
    assert_int_equal(s->ack, seq + 536);
    seq += 536;
    inject(seq, i1 + 3000, TCP_ACK, 2000, big, 100);     /* beyond a zero window: dropped, ACKed */
    s = expect(TCP_ACK, i1 + 3000, seq, 0);
    assert_int_equal(s->win, 0);
    assert_int_equal(tcp_recv(c, big, 1000), 1000);
    expect_none();                                       /* not enough to be worth a window update */
    assert_int_equal(tcp_recv(c, big, 40000), 40000);
    s = expect(TCP_ACK, i1 + 3000, seq, 0);
    assert_int_equal(s->win, 41000 >> 1);
    tcp_abort(c);
}

static void test_active_close(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    assert_int_equal(tcp_shutdown(c, 1), 0);
    expect(TCP_ACK | TCP_FIN, i1, PISN + 1, 0);
    assert_int_equal(c->state, TCP_FIN_WAIT_1);
    assert_int_equal(tcp_send(c, "x", 1), -KEPIPE);
    inject(PISN + 1, i1 + 1, TCP_ACK, 1000, NULL, 0);
    assert_int_equal(c->state, TCP_FIN_WAIT_2);
    inject(PISN + 1, i1 + 1, TCP_ACK, 1000, "hi", 2);    /* data still flows in FIN_WAIT_2 */
    inject(PISN + 3, i1 + 1, TCP_ACK | TCP_FIN, 1000, NULL, 0);
    expect(TCP_ACK, i1 + 1, PISN + 4, 0);
    assert_int_equal(c->state, TCP_TIME_WAIT);
    char b[8];
    assert_int_equal(tcp_recv(c, b, 8), 2);
    assert_int_equal(tcp_recv(c, b, 8), 0);
    /* a retransmitted FIN is ACKed again and restarts 2*MSL */
    tick_to(fake_now + 30000000000ull);
    inject(PISN + 3, i1 + 1, TCP_ACK | TCP_FIN, 1000, NULL, 0);
    expect(TCP_ACK, i1 + 1, PISN + 4, 0);
    tick_to(fake_now + 59000000000ull);
    assert_int_equal(c->state, TCP_TIME_WAIT);
    tick_to(fake_now + 1100000000ull);
    assert_int_equal(c->state, TCP_CLOSED);
    assert_int_equal(tcp_error(c, false), 0);
    tcp_close(c);
}

static void test_fin_ack_together_and_short_msl(void **st) {
    (void)st;
    tcp_msl_ns = 1000000000ull;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    tcp_close(c);                                        /* the user is gone; TCP frees it */
    expect(TCP_ACK | TCP_FIN, i1, PISN + 1, 0);
    inject(PISN + 1, i1 + 1, TCP_ACK | TCP_FIN, 1000, NULL, 0);   /* FIN_WAIT_1 -> TIME_WAIT */
    expect(TCP_ACK, i1 + 1, PISN + 2, 0);
    assert_int_equal(c->state, TCP_TIME_WAIT);
    tick_to(fake_now + 2100000000ull);
    assert_null(tcp_conns);                              /* freed after 2*MSL */
    /* a segment for it now gets a RST */
    inject(PISN + 2, i1 + 1, TCP_ACK, 1000, NULL, 0);
    expect(TCP_RST, i1 + 1, 0, 0);
}

static void test_orphan_fin_wait_2(void **st) {
    (void)st;
    tcp_msl_ns = 1000000000ull;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    tcp_close(c);
    expect(TCP_ACK | TCP_FIN, i1, PISN + 1, 0);
    inject(PISN + 1, i1 + 1, TCP_ACK, 1000, NULL, 0);
    assert_int_equal(c->state, TCP_FIN_WAIT_2);
    tick_to(fake_now + 1900000000ull);
    assert_non_null(tcp_conns);
    tick_to(fake_now + 200000000ull);
    assert_null(tcp_conns);                              /* the peer never closed: dropped */
    /* a RST to a listener is ignored, nothing answered */
    int err;
    struct tcp_conn *l = tcp_listen(&A, AP, 1, &err);
    inject(1, 0, TCP_RST, 0, NULL, 0);
    expect_none();
    assert_int_equal(l->state, TCP_LISTEN);
    tcp_close(l);
}

static void test_passive_close(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    inject(PISN + 1, i1, TCP_ACK | TCP_FIN, 1000, NULL, 0);
    expect(TCP_ACK, i1, PISN + 2, 0);
    assert_int_equal(c->state, TCP_CLOSE_WAIT);
    assert_true(tcp_readable(c));
    char b[4];
    assert_int_equal(tcp_recv(c, b, 4), 0);
    assert_int_equal(tcp_send(c, "abc", 3), 3);          /* still allowed in CLOSE_WAIT */
    expect(TCP_ACK | TCP_PSH, i1, PISN + 2, 3);
    tcp_close(c);
    assert_int_equal(c->state, TCP_LAST_ACK);
    expect(TCP_ACK | TCP_FIN, i1 + 3, PISN + 2, 0);     /* the FIN follows the data at once */
    expect_none();
}

static void test_passive_close_last_ack(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    inject(PISN + 1, i1, TCP_ACK | TCP_FIN, 1000, NULL, 0);
    expect(TCP_ACK, i1, PISN + 2, 0);
    tcp_close(c);
    expect(TCP_ACK | TCP_FIN, i1, PISN + 2, 0);
    assert_int_equal(c->state, TCP_LAST_ACK);
    inject(PISN + 2, i1 + 1, TCP_ACK, 1000, NULL, 0);
    assert_null(tcp_conns);
}

static void test_simultaneous_close(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    tcp_shutdown(c, 1);
    expect(TCP_ACK | TCP_FIN, i1, PISN + 1, 0);
    inject(PISN + 1, i1, TCP_ACK | TCP_FIN, 1000, NULL, 0);   /* their FIN, not acking ours */
    expect(TCP_ACK, i1 + 1, PISN + 2, 0);
    assert_int_equal(c->state, TCP_CLOSING);
    inject(PISN + 2, i1 + 1, TCP_ACK, 1000, NULL, 0);
    assert_int_equal(c->state, TCP_TIME_WAIT);
    tcp_close(c);
}

static void test_simultaneous_open(void **st) {
    (void)st;
    int err;
    struct tcp_conn *c = tcp_open_active(&A, AP, &B, BP, &err);
    expect(TCP_SYN, c->iss, 0, 0);
    inject_full(BP, AP, PISN, 0, TCP_SYN, 1000, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
    struct seg_out *s = expect(TCP_SYN | TCP_ACK, c->iss, PISN + 1, 0);
    assert_int_equal(s->ws, c->rcv_wscale);
    assert_int_equal(c->state, TCP_SYN_RECEIVED);
    inject_full(BP, AP, PISN, c->iss + 1, TCP_SYN | TCP_ACK, 1000, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
    /* their SYN-ACK: the SYN is old (challenge-style ACK), the ACK establishes */
    assert_true(out_r < out_n);
    out_r = out_n;
    inject(PISN + 1, c->iss + 1, TCP_ACK, 1000, NULL, 0);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    tcp_abort(c);
}

static void test_rst_states(void **st) {
    (void)st;
    int err;
    /* SYN_SENT: RST without ACK ignored; with an acceptable ACK: refused */
    struct tcp_conn *c = tcp_open_active(&A, AP, &B, BP, &err);
    expect(TCP_SYN, c->iss, 0, 0);
    inject(0, 0, TCP_RST, 0, NULL, 0);
    assert_int_equal(c->state, TCP_SYN_SENT);
    inject(0, c->iss + 5, TCP_RST | TCP_ACK, 0, NULL, 0);  /* unacceptable ACK */
    assert_int_equal(c->state, TCP_SYN_SENT);
    inject(0, c->iss + 1, TCP_RST | TCP_ACK, 0, NULL, 0);
    assert_int_equal(c->state, TCP_CLOSED);
    assert_int_equal(tcp_error(c, true), -KECONNREFUSED);
    assert_true(tcp_readable(c) && tcp_writable(c));
    tcp_close(c);
    expect_none();
    /* synchronized states: out of window ignored, in window not exact -> challenge ACK,
     * exact -> reset */
    enum tcp_state want[] = {TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT,
                             TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT};
    for (unsigned k = 0; k < ARRAY_SIZE(want); k++) {
        reset_world();
        c = open_est(1000);
        uint32_t i1 = c->iss + 1, r = PISN + 1;
        switch (want[k]) {
        case TCP_FIN_WAIT_1: tcp_shutdown(c, 1); break;
        case TCP_FIN_WAIT_2: tcp_shutdown(c, 1); inject(r, i1 + 1, TCP_ACK, 1000, NULL, 0); break;
        case TCP_CLOSE_WAIT: inject(r, i1, TCP_ACK | TCP_FIN, 1000, NULL, 0); r++; break;
        case TCP_CLOSING: tcp_shutdown(c, 1); inject(r, i1, TCP_ACK | TCP_FIN, 1000, NULL, 0); r++; break;
        case TCP_LAST_ACK: inject(r, i1, TCP_ACK | TCP_FIN, 1000, NULL, 0); r++; tcp_shutdown(c, 1); break;
        case TCP_TIME_WAIT:
            tcp_shutdown(c, 1); inject(r, i1 + 1, TCP_ACK | TCP_FIN, 1000, NULL, 0); r++; break;
        default: break;
        }
        assert_int_equal(c->state, want[k]);
        out_r = out_n;
        inject(r + 100000, 0, TCP_RST, 0, NULL, 0);         /* out of window */
        expect_none();
        assert_int_equal(c->state, want[k]);
        if (want[k] != TCP_TIME_WAIT) {                      /* TIME_WAIT's window is the buffer too */
            inject(r + 10, 0, TCP_RST, 0, NULL, 0);          /* in window, not exact */
            struct seg_out *s = next_out();
            assert_int_equal(s->flags & (TCP_ACK | TCP_RST), TCP_ACK);
            assert_int_equal(s->ack, r);
            assert_int_equal(c->state, want[k]);
        }
        inject(r, 0, TCP_RST, 0, NULL, 0);
        assert_int_equal(c->state, TCP_CLOSED);
        int e = tcp_error(c, true);
        bool had_err = want[k] == TCP_ESTABLISHED || want[k] == TCP_FIN_WAIT_1 ||
                       want[k] == TCP_FIN_WAIT_2 || want[k] == TCP_CLOSE_WAIT;
        assert_int_equal(e, had_err ? -KECONNRESET : 0);
        assert_int_equal(tcp_stats.resets_received, 1);
        tcp_close(c);
    }
    /* SYN_RECEIVED (passive): an exact RST removes the embryonic child silently */
    reset_world();
    struct tcp_conn *l = tcp_listen(&A, AP, 2, &err);
    inject_full(BP, AP, 10, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);
    next_out();
    assert_int_equal(l->n_pending, 1);
    inject(11, 0, TCP_RST, 0, NULL, 0);
    assert_int_equal(l->n_pending, 0);
    assert_true(tcp_conns == l && l->next == NULL);
    tcp_close(l);
}

static void test_syn_in_established_challenge(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    inject(PISN + 50, 0, TCP_SYN, 1000, NULL, 0);
    expect(TCP_ACK, c->iss + 1, PISN + 1, 0);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    /* an ACK for data never sent: ACK back, dropped */
    inject(PISN + 1, c->iss + 100, TCP_ACK, 1000, "zz", 2);
    expect(TCP_ACK, c->iss + 1, PISN + 1, 0);
    assert_int_equal(tcp_rcv_queued(c), 0);
    tcp_abort(c);
}

static void test_syn_retransmit_and_timeout(void **st) {
    (void)st;
    int err;
    struct tcp_conn *c = tcp_open_active(&A, AP, &B, BP, &err);
    uint64_t t0 = fake_now;
    expect(TCP_SYN, c->iss, 0, 0);
    uint64_t rto = TCP_RTO_INIT_NS, at = t0;
    for (int i = 0; i < TCP_SYN_RETRIES; i++) {
        at += rto;
        tick_to(at - 10000000ull);
        expect_none();
        tick_to(at);
        expect(TCP_SYN, c->iss, 0, 0);
        rto *= 2;
    }
    tick_to(at + rto);
    assert_int_equal(c->state, TCP_CLOSED);
    assert_int_equal(tcp_error(c, false), -KETIMEDOUT);
    assert_int_equal(tcp_send(c, "a", 1), -KETIMEDOUT);
    tcp_close(c);
}

static void test_data_rto_karn(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    /* an RTT sample of 100 ms: SRTT 100, RTTVAR 50 -> RTO = max(200 ms, 300 ms) = 300 ms */
    tcp_send(c, "a", 1);
    expect(TCP_ACK | TCP_PSH, i1, PISN + 1, 1);
    fake_now += 100000000ull;
    inject(PISN + 1, i1 + 1, TCP_ACK, 1000, NULL, 0);
    /* (the SYN gave a first sample of 0 ms; this one changes SRTT/RTTVAR) */
    uint64_t rto = c->rto;
    assert_true(rto >= TCP_RTO_MIN_NS && rto <= TCP_RTO_INIT_NS);
    tcp_send(c, "b", 1);
    uint64_t t0 = fake_now;
    expect(TCP_ACK | TCP_PSH, i1 + 1, PISN + 1, 1);
    tick_to(t0 + rto);
    expect(TCP_ACK | TCP_PSH, i1 + 1, PISN + 1, 1);      /* first retransmission */
    assert_int_equal(c->rto, MIN(rto * 2, TCP_RTO_MAX_NS));
    assert_int_equal(c->cwnd, c->mss);
    tick_to(t0 + rto + 2 * rto);
    expect(TCP_ACK | TCP_PSH, i1 + 1, PISN + 1, 1);      /* doubled */
    assert_int_equal(c->rto, 4 * rto);
    /* the ACK of a retransmitted segment gives no sample (Karn): RTO stays backed off */
    fake_now += 1000000ull;
    inject(PISN + 1, i1 + 2, TCP_ACK, 1000, NULL, 0);
    assert_int_equal(c->rto, 4 * rto);
    assert_int_equal(c->rexmit_at, 0);
    /* the next fresh segment gives a sample and recomputes RTO */
    tcp_send(c, "c", 1);
    expect(TCP_ACK | TCP_PSH, i1 + 2, PISN + 1, 1);
    fake_now += 50000000ull;
    inject(PISN + 1, i1 + 3, TCP_ACK, 1000, NULL, 0);
    assert_true(c->rto < 4 * rto);
    /* give up after TCP_MAX_RETRIES with ETIMEDOUT and a RST */
    tcp_send(c, "d", 1);
    out_r = out_n;
    tick_to(fake_now + 400000000000ull);
    assert_int_equal(c->state, TCP_CLOSED);
    assert_int_equal(tcp_error(c, false), -KETIMEDOUT);
    assert_int_equal(c->rto, TCP_RTO_MAX_NS);                /* the back-off stops at 60 s */
    assert_int_equal(out_n - out_r, TCP_MAX_RETRIES + 1);   /* the retransmissions and a RST */
    assert_true(outq[out_n - 1].flags & TCP_RST);
    tcp_close(c);
}

static void test_fast_retransmit_newreno(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(16000);                 /* window 64000 */
    uint32_t i1 = c->iss + 1;
    c->cwnd = 10000;
    static uint8_t buf[20000];
    for (int i = 0; i < 20000; i++) buf[i] = (uint8_t)i;
    assert_int_equal(tcp_send(c, buf, 10000), 10000);
    for (int i = 0; i < 10; i++) expect(TCP_ACK | (i == 9 ? TCP_PSH : 0), i1 + 1000 * i, PISN + 1, 1000);
    /* segment 0 lost: three duplicate ACKs for i1 */
    inject(PISN + 1, i1, TCP_ACK, 16000, NULL, 0);
    inject(PISN + 1, i1, TCP_ACK, 16000, NULL, 0);
    expect_none();
    inject(PISN + 1, i1, TCP_ACK, 16000, NULL, 0);
    struct seg_out *s = expect(TCP_ACK, i1, PISN + 1, 1000);
    assert_memory_equal(s->data, buf, 1000);
    assert_true(c->in_recovery);
    assert_int_equal(c->ssthresh, 5000);
    assert_int_equal(c->cwnd, 8000);
    /* more dup ACKs inflate cwnd: new data goes out once cwnd allows */
    assert_int_equal(tcp_send(c, buf + 10000, 3000), 3000);
    expect_none();
    for (int i = 0; i < 3; i++) inject(PISN + 1, i1, TCP_ACK, 16000, NULL, 0);
    assert_int_equal(c->cwnd, 11000);
    expect(TCP_ACK, i1 + 10000, PISN + 1, 1000);
    /* partial ACK (segment 5 lost too): retransmit it at once, stay in recovery */
    inject(PISN + 1, i1 + 5000, TCP_ACK, 16000, NULL, 0);
    s = expect(TCP_ACK, i1 + 5000, PISN + 1, 1000);
    assert_memory_equal(s->data, buf + 5000, 1000);
    assert_true(c->in_recovery);
    /* full ACK: recovery ends with cwnd <= ssthresh */
    inject(PISN + 1, i1 + 11000, TCP_ACK, 16000, NULL, 0);
    assert_false(c->in_recovery);
    assert_true(c->cwnd <= 5000);
    out_r = out_n;
    tcp_abort(c);
}

static void test_out_of_order(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1, r = PISN + 1;
    char d[4000];
    for (int i = 0; i < 4000; i++) d[i] = (char)(i % 251);
    inject(r + 3000, i1, TCP_ACK | TCP_FIN, 1000, d + 3000, 1000);   /* last, with FIN */
    expect(TCP_ACK, i1, r, 0);                                       /* duplicate ACK at once */
    inject(r + 1000, i1, TCP_ACK, 1000, d + 1000, 1000);
    expect(TCP_ACK, i1, r, 0);
    inject(r + 1500, i1, TCP_ACK, 1000, d + 1500, 1000);              /* overlapping */
    expect(TCP_ACK, i1, r, 0);
    assert_int_equal(c->n_ooo, 2);                                   /* [1000,2500) [3000,4000) */
    inject(r + 2000, i1, TCP_ACK, 1000, d + 2000, 1000);              /* joins both ranges */
    expect(TCP_ACK, i1, r, 0);
    assert_int_equal(c->n_ooo, 1);
    assert_int_equal(tcp_rcv_queued(c), 0);
    inject(r, i1, TCP_ACK, 1000, d, 1000);                          /* fills the hole */
    expect(TCP_ACK, i1, r + 4001, 0);
    assert_int_equal(c->state, TCP_CLOSE_WAIT);
    char out[5000];
    assert_int_equal(tcp_recv(c, out, sizeof out), 4000);
    assert_memory_equal(out, d, 4000);
    assert_int_equal(tcp_recv(c, out, sizeof out), 0);
    /* the out-of-order list is bounded: many separate holes do not grow it */
    tcp_abort(c);
    reset_world();
    c = open_est(1000);
    i1 = c->iss + 1;
    for (int k = 0; k < 40; k++) inject(r + 100 + 200 * k, i1, TCP_ACK, 1000, d, 10);
    assert_int_equal(c->n_ooo, TCP_OOO_MAX);
    tcp_abort(c);
}

static void test_zero_window_probe(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    inject(PISN + 1, i1, TCP_ACK, 0, NULL, 0);            /* window closes */
    assert_int_equal(c->snd_wnd, 0);
    assert_int_equal(tcp_send(c, "hello", 5), 5);
    expect_none();
    assert_true(c->persist_at != 0);
    uint64_t t = c->persist_at;
    uint64_t gap = t - fake_now;
    tick_to(t);
    expect(TCP_ACK, i1, PISN + 1, 1);                      /* a one-byte probe */
    /* the peer still has no room: the probe interval doubles, with no ETIMEDOUT */
    for (int k = 0; k < 12; k++) {
        inject(PISN + 1, i1, TCP_ACK, 0, NULL, 0);
        uint64_t next = c->persist_at;
        assert_true(next - fake_now <= TCP_RTO_MAX_NS);
        if (k == 0) assert_int_equal(next - fake_now, 2 * gap);
        tick_to(next);
        expect(TCP_ACK, i1, PISN + 1, 1);
    }
    assert_int_equal(c->state, TCP_ESTABLISHED);
    /* the window opens and the probe byte is accepted: the rest flows */
    inject(PISN + 1, i1 + 1, TCP_ACK, 1000, NULL, 0);
    expect(TCP_ACK | TCP_PSH, i1 + 1, PISN + 1, 4);
    assert_int_equal(c->persist_at, 0);
    inject(PISN + 1, i1 + 5, TCP_ACK, 1000, NULL, 0);
    tick_to(fake_now + 1000000000ull);
    expect_none();
    tcp_abort(c);
}

#define SEC 1000000000ull

/* Keep-alive probes start after the idle time, have SEG.SEQ = SND.NXT - 1 and no data, are
 * answered, and an answered probe starts a new idle period: the connection lives. */
static void test_keepalive_answered(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    tcp_set_keepalive(c, true, 10, 2, 3);
    uint64_t t0 = fake_now;
    for (int k = 0; k < 5; k++) {
        tick_to(t0 + 10 * SEC - 10000000ull);
        expect_none();
        tick_to(t0 + 10 * SEC);
        struct seg_out *s = expect(TCP_ACK, i1 - 1, PISN + 1, 0);   /* SND.NXT - 1, no data */
        assert_false(s->flags & (TCP_PSH | TCP_FIN | TCP_SYN | TCP_RST));
        fake_now += 30000000ull;                                  /* 30 ms round trip */
        inject(PISN + 1, i1, TCP_ACK, 1000, NULL, 0);             /* the peer's ACK */
        expect_none();
        assert_int_equal(c->keep_probes, 0);
        t0 = fake_now;
    }
    assert_int_equal(tcp_stats.keepalive_probes, 5);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    assert_int_equal(tcp_error(c, false), 0);
    /* switched off: no more probes */
    tcp_set_keepalive(c, false, 10, 2, 3);
    tick_to(fake_now + 100 * SEC);
    expect_none();
    assert_int_equal(c->state, TCP_ESTABLISHED);
    tcp_abort(c);
}

/* Unanswered probes end the connection after idle + cnt * intvl with ETIMEDOUT and a RST. */
static void test_keepalive_timeout(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    tcp_set_keepalive(c, true, 10, 2, 3);
    uint64_t t0 = fake_now;
    for (int k = 0; k < 3; k++) {
        uint64_t at = t0 + 10 * SEC + (uint64_t)k * 2 * SEC;
        tick_to(at - 10000000ull);
        expect_none();
        tick_to(at);
        expect(TCP_ACK, i1 - 1, PISN + 1, 0);
    }
    tick_to(t0 + 16 * SEC - 10000000ull);
    expect_none();
    assert_int_equal(c->state, TCP_ESTABLISHED);
    tick_to(t0 + 16 * SEC);
    expect(TCP_RST | TCP_ACK, i1, PISN + 1, 0);
    expect_none();
    assert_int_equal(c->state, TCP_CLOSED);
    assert_true(tcp_readable(c));
    assert_true(tcp_writable(c));
    uint8_t b[4];
    assert_int_equal(tcp_recv(c, b, sizeof b), -KETIMEDOUT);   /* the error, once */
    assert_int_equal(tcp_recv(c, b, sizeof b), 0);
    assert_int_equal(tcp_stats.keepalive_probes, 3);
    assert_int_equal(tcp_stats.timeouts, 1);
    /* a late answer meets no connection: RST */
    inject(PISN + 1, i1, TCP_ACK, 1000, NULL, 0);
    expect(TCP_RST, i1, 0, 0);
    tcp_close(c);
    assert_null(tcp_conns);
}

/* Data from the peer restarts the idle clock, before and during probing; data in flight is the
 * retransmission timer's business (no probes while it runs). */
static void test_keepalive_peer_resets_clock(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    tcp_set_keepalive(c, true, 10, 2, 2);
    uint64_t t0 = fake_now;
    tick_to(t0 + 6 * SEC);
    inject(PISN + 1, i1, TCP_ACK, 1000, "x", 1);
    uint64_t t1 = fake_now;
    tick_to(t1 + TCP_DELACK_NS);
    expect(TCP_ACK, i1, PISN + 2, 0);                     /* the delayed ACK, no probe */
    tick_to(t1 + 10 * SEC - 10000000ull);
    expect_none();                                        /* not at t0 + 10 s */
    tick_to(t1 + 10 * SEC);
    expect(TCP_ACK, i1 - 1, PISN + 2, 0);                 /* first probe */
    tick_to(t1 + 12 * SEC);
    expect(TCP_ACK, i1 - 1, PISN + 2, 0);                 /* second, the last allowed */
    assert_int_equal(c->keep_probes, 2);
    tick_to(t1 + 13 * SEC);
    inject(PISN + 2, i1, TCP_ACK, 1000, "y", 1);          /* the peer speaks in time */
    uint64_t t2 = fake_now;
    assert_int_equal(c->keep_probes, 0);
    tick_to(t2 + 10 * SEC - 10000000ull);
    expect(TCP_ACK, i1, PISN + 3, 0);                     /* only the delayed ACK */
    expect_none();
    assert_int_equal(c->state, TCP_ESTABLISHED);
    /* an unacceptable segment (out of the window) is no sign of life */
    inject(PISN + 100000, i1, TCP_ACK, 1000, NULL, 0);
    expect(TCP_ACK, i1, PISN + 3, 0);
    tick_to(t2 + 10 * SEC);
    expect(TCP_ACK, i1 - 1, PISN + 3, 0);
    inject(PISN + 3, i1, TCP_ACK, 1000, NULL, 0);
    /* unacknowledged data: retransmissions, never a keep-alive probe */
    assert_int_equal(tcp_send(c, "z", 1), 1);
    expect(TCP_ACK | TCP_PSH, i1, PISN + 3, 1);
    uint64_t probes = tcp_stats.keepalive_probes;
    tick_to(fake_now + 20 * SEC);
    assert_true(out_n - out_r >= 3);
    for (; out_r < out_n; out_r++) {
        assert_int_equal(outq[out_r].seq, i1);
        assert_int_equal(outq[out_r].len, 1);
    }
    assert_int_equal(tcp_stats.keepalive_probes, probes);
    /* acknowledged: idle again, the probes come back (ack of the data is the last word) */
    inject(PISN + 3, i1 + 1, TCP_ACK, 1000, NULL, 0);
    uint64_t t3 = fake_now;
    tick_to(t3 + 10 * SEC - 10000000ull);
    expect_none();
    tick_to(t3 + 10 * SEC);
    expect(TCP_ACK, i1, PISN + 3, 0);                     /* SND.NXT - 1 is now i1 */
    tcp_abort(c);
}

/* The receiving side answers a keep-alive probe (one below RCV.NXT, empty or with one garbage
 * byte as old BSD stacks send) with an ACK (RFC 9293 §3.10.7.4), also with a zero window. */
static void test_keepalive_probe_answered_by_us(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    inject(PISN, i1, TCP_ACK, 1000, NULL, 0);
    expect(TCP_ACK, i1, PISN + 1, 0);
    inject(PISN, i1, TCP_ACK, 1000, "g", 1);
    expect(TCP_ACK, i1, PISN + 1, 0);
    assert_int_equal(tcp_rcv_queued(c), 0);               /* the garbage byte is old data */
    expect_none();
    tcp_abort(c);
}

/* Settings: defaults (7200 s, 75 s, 9), limits, a listener hands them to its children, and the
 * default schedule: the first probe after two hours, ETIMEDOUT after 7200 + 9 * 75 s. */
static void test_keepalive_settings(void **st) {
    (void)st;
    int err;
    struct tcp_conn *l = tcp_listen(NULL, AP, 4, &err);
    assert_int_equal(l->keepidle_s, TCP_KEEPIDLE_DEFAULT);
    assert_int_equal(l->keepintvl_s, TCP_KEEPINTVL_DEFAULT);
    assert_int_equal(l->keepcnt, TCP_KEEPCNT_DEFAULT);
    tcp_set_keepalive(l, true, 40000, 0, 200);            /* capped; 0 = default */
    assert_int_equal(l->keepidle_s, TCP_KEEPIDLE_MAX);
    assert_int_equal(l->keepintvl_s, TCP_KEEPINTVL_DEFAULT);
    assert_int_equal(l->keepcnt, TCP_KEEPCNT_MAX);
    assert_int_equal(l->keepalive_at, 0);                 /* a listener never probes */
    tcp_set_keepalive(l, true, 0, 0, 0);
    inject_full(BP, AP, 777, 0, TCP_SYN, 8192, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
    uint32_t iss = next_out()->seq;
    inject(778, iss + 1, TCP_ACK, 1000, NULL, 0);
    struct tcp_conn *c = tcp_accept(l, &err);
    assert_non_null(c);
    assert_true(c->keepalive);
    uint64_t t0 = fake_now;
    tick_to(t0 + 7200 * SEC - 10000000ull);
    expect_none();
    tick_to(t0 + 7200 * SEC);
    expect(TCP_ACK, iss, 778, 0);
    for (int k = 1; k < 9; k++) {
        tick_to(t0 + (7200 + 75 * (uint64_t)k) * SEC);
        expect(TCP_ACK, iss, 778, 0);
    }
    tick_to(t0 + (7200 + 9 * 75) * SEC - 10000000ull);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    tick_to(t0 + (7200 + 9 * 75) * SEC);
    expect(TCP_RST | TCP_ACK, iss + 1, 778, 0);
    assert_int_equal(tcp_error(c, true), -KETIMEDOUT);
    tcp_close(c);
    tcp_close(l);
    assert_null(tcp_conns);
}

static void test_backlog_full(void **st) {
    (void)st;
    int err;
    struct tcp_conn *l = tcp_listen(&A, AP, 2, &err);
    for (int k = 0; k < 4; k++) inject_full(BP + k, AP, 100, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);
    assert_int_equal(out_n - out_r, 2);                   /* two SYN-ACKs, two SYNs dropped */
    assert_int_equal(tcp_stats.backlog_full, 2);
    assert_int_equal(l->n_pending, 2);
    /* the embryonic ones time out: SYN-ACK retransmitted, then freed */
    tick_to(fake_now + 120000000000ull);
    assert_int_equal(l->n_pending, 0);
    assert_true(tcp_conns == l && !l->next);
    /* a second listener on the same port is refused; closing frees children with RST */
    assert_null(tcp_listen(&A, AP, 1, &err));
    assert_int_equal(err, -KEADDRINUSE);
    tcp_close(l);
    assert_null(tcp_conns);
}

/* A full backlog of half-open children: a new SYN replaces the oldest child whose SYN-ACK has
 * gone unanswered for an RTO, never a fresh one; the replaced peer's late ACK gets a RST. */
static void test_backlog_stale_half_open_replaced(void **st) {
    (void)st;
    int err;
    struct tcp_conn *l = tcp_listen(&A, AP, 2, &err);
    inject_full(BP, AP, 100, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);
    uint32_t iss0 = next_out()->seq;
    fake_now += 300000000ull;
    inject_full(BP + 1, AP, 200, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);
    next_out();
    inject_full(BP + 2, AP, 300, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);   /* both children fresh */
    expect_none();
    assert_int_equal(tcp_stats.backlog_full, 1);
    tick_to(fake_now + 800000000ull);          /* the first child's SYN-ACK is retransmitted */
    expect(TCP_SYN | TCP_ACK, iss0, 101, 0);
    expect_none();
    inject_full(BP + 2, AP, 300, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);   /* replaces the first */
    uint32_t iss2 = next_out()->seq;
    assert_int_equal(tcp_stats.backlog_full, 2);
    assert_int_equal(l->n_pending, 2);
    inject_full(BP, AP, 101, iss0 + 1, TCP_ACK, 1000, NULL, 0, NULL, 0);  /* too late */
    expect(TCP_RST, iss0 + 1, 0, 0);
    inject_full(BP + 2, AP, 301, iss2 + 1, TCP_ACK, 1000, NULL, 0, NULL, 0);
    struct tcp_conn *c = tcp_accept(l, &err);
    assert_non_null(c);
    assert_int_equal(c->rport, BP + 2);
    tcp_close(c);
    tcp_close(l);
}

static void test_hostile_segments(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);
    uint32_t i1 = c->iss + 1;
    /* bad checksum */
    struct pkt *p = pkt_alloc(40);
    uint8_t *h = pkt_put(p, 24);
    memset(h, 0, 24);
    net_put16(h, BP); net_put16(h + 2, AP); net_put32(h + 4, PISN + 1); net_put32(h + 8, i1);
    h[12] = 5 << 4; h[13] = TCP_ACK | TCP_FIN; net_put16(h + 16, 0x1234);
    tcp_input(p, &B, &A);
    assert_int_equal(tcp_stats.bad_csum, 1);
    assert_int_equal(c->state, TCP_ESTABLISHED);
    /* data offset too small, too large; truncated header */
    uint8_t raw[60];
    int cases[] = {3 << 4, 15 << 4};
    for (int k = 0; k < 2; k++) {
        p = pkt_alloc(60);
        h = pkt_put(p, 24);
        memset(h, 0, 24);
        net_put16(h, BP); net_put16(h + 2, AP);
        h[12] = (uint8_t)cases[k]; h[13] = TCP_ACK;
        net_put16(h + 16, net_csum_fold(net_csum_add(net_csum_pseudo(&B, &A, 6, 24), h, 24)));
        tcp_input(p, &B, &A);
    }
    p = pkt_alloc(10);
    pkt_put(p, 10);
    memset(p->data, 0, 10);
    tcp_input(p, &B, &A);
    assert_int_equal(tcp_stats.bad_header, 3);
    /* options truncated: a length running past the header, a length of 0 */
    uint8_t o1[] = {2, 8, 0, 0}, o2[] = {1, 3, 0, 0};
    inject_full(BP, AP, PISN + 1, i1, TCP_ACK | TCP_FIN, 1000, o1, 4, NULL, 0);
    inject_full(BP, AP, PISN + 1, i1, TCP_ACK | TCP_FIN, 1000, o2, 4, NULL, 0);
    assert_int_equal(tcp_stats.bad_header, 5);
    /* SYN+FIN, SYN+RST */
    inject(PISN + 1, i1, TCP_SYN | TCP_FIN | TCP_ACK, 1000, NULL, 0);
    inject(PISN + 1, i1, TCP_SYN | TCP_RST, 1000, NULL, 0);
    assert_int_equal(tcp_stats.bad_header, 7);
    expect_none();
    assert_int_equal(c->state, TCP_ESTABLISHED);
    /* a huge window with the maximal scale is clamped */
    (void)raw;
    c->snd_wscale = 14;
    inject(PISN + 1, i1, TCP_ACK, 65535, NULL, 0);
    assert_int_equal(c->snd_wnd, 65535u << 14);
    /* MSS 0 in a SYN is clamped, port 0 dropped */
    tcp_abort(c);
    reset_world();
    int err;
    struct tcp_conn *l = tcp_listen(NULL, AP, 4, &err);
    uint8_t o3[] = {2, 4, 0, 0, 3, 3, 200, 0};
    inject_full(BP, AP, 1, 0, TCP_SYN, 1000, o3, 8, NULL, 0);
    struct seg_out *s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_true(l->n_pending == 1);
    struct tcp_conn *ch = tcp_conns;
    assert_true(ch->mss >= 64);
    assert_int_equal(ch->snd_wscale, 14);
    inject_full(0, AP, 1, 0, TCP_SYN, 1000, NULL, 0, NULL, 0);
    expect_none();
    tcp_close(l);
    out_r = out_n;
}

static void test_api_errors(void **st) {
    (void)st;
    int err;
    struct net_addr v6 = {0};
    v6.family = NET_AF_INET6;
    assert_null(tcp_open_active(&A, 0, &v6, BP, &err));
    assert_int_equal(err, -KEINVAL);
    assert_null(tcp_open_active(&A, 0, &B, 0, &err));
    assert_int_equal(err, -KEINVAL);
    struct tcp_conn *c = tcp_open_active(&A, 0, &B, BP, &err);
    assert_true(c->lport >= 49152);
    assert_int_equal(tcp_send(c, "x", 1), -KEAGAIN);
    char b[2];
    assert_int_equal(tcp_recv(c, b, 2), -KEAGAIN);
    assert_false(tcp_writable(c));
    assert_int_equal(tcp_shutdown(c, 7), -KEINVAL);
    struct tcp_conn *l = tcp_listen(&A, AP, 1, &err);
    assert_null(tcp_accept(c, &err));
    assert_int_equal(err, -KEINVAL);
    assert_int_equal(tcp_send(l, "x", 1), -KENOTCONN);
    assert_int_equal(tcp_recv(l, b, 1), -KENOTCONN);
    assert_string_equal(tcp_state_name(c->state), "SYN_SENT");
    tcp_close(c);
    tcp_close(l);
    out_r = out_n;
}

static void test_ipv6_open(void **st) {
    (void)st;
    struct net_addr a6 = {0}, b6 = {0};
    a6.family = b6.family = NET_AF_INET6;
    a6.v6[0] = 0xfe; a6.v6[1] = 0x80; a6.v6[15] = 1;
    b6.v6[0] = 0xfe; b6.v6[1] = 0x80; b6.v6[15] = 2;
    int err;
    struct tcp_conn *l = tcp_listen(NULL, AP, 4, &err);
    struct pkt *p = pkt_alloc(28);
    uint8_t *h = pkt_put(p, 28);
    memset(h, 0, 28);
    net_put16(h, BP); net_put16(h + 2, AP); net_put32(h + 4, 50);
    h[12] = 7 << 4; h[13] = TCP_SYN; net_put16(h + 14, 1000);
    h[20] = 2; h[21] = 4; net_put16(h + 22, 1440); h[24] = 1; h[25] = 3; h[26] = 3; h[27] = 0;
    net_put16(h + 16, net_csum_fold(net_csum_add(net_csum_pseudo(&b6, &a6, 6, 28), h, 28)));
    tcp_input(p, &b6, &a6);
    struct seg_out *s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_int_equal(s->mss, 1440);
    assert_int_equal(s->dst.family, NET_AF_INET6);
    assert_memory_equal(s->dst.v6, b6.v6, 16);
    tcp_close(l);
    out_r = out_n;
}

/* ---- SACK (RFC 2018, RFC 6675) ---- */
static void test_sack_negotiation(void **st) {
    (void)st;
    struct tcp_conn *c = open_est(1000);               /* the peer did not offer it */
    assert_false(c->sack_ok);
    tcp_abort(c);
    reset_world();
    c = open_est_opts(1000, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK);
    assert_true(c->sack_ok);
    tcp_abort(c);
    reset_world();
    /* passive: SACK-permitted in the SYN-ACK only when the SYN had it */
    int err;
    struct tcp_conn *l = tcp_listen(NULL, AP, 4, &err);
    inject_full(BP, AP, 777, 0, TCP_SYN, 8192, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
    struct seg_out *s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_false(s->sack_perm);
    inject_full(BP + 1, AP, 900, 0, TCP_SYN, 8192, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK, NULL, 0);
    s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_true(s->sack_perm);
    assert_int_equal(s->mss, 1460);
    assert_int_equal(s->ws, 1);
    /* a SACK-permitted option with a wrong length is not SACK-permitted */
    static const uint8_t bad[] = {2, 4, 0x03, 0xe8, 1, 1, 4, 3, 0, 0, 0, 0};
    inject_full(BP + 2, AP, 950, 0, TCP_SYN, 8192, bad, sizeof bad, NULL, 0);
    s = next_out();
    assert_int_equal(s->flags, TCP_SYN | TCP_ACK);
    assert_false(s->sack_perm);
    tcp_close(l);
}

static void test_sack_blocks_from_ooo_queue(void **st) {
    (void)st;
    struct tcp_conn *c = open_est_opts(1000, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK);
    uint32_t i1 = c->iss + 1, r = PISN + 1;
    char d[1000] = {0};
    inject(r + 1000, i1, TCP_ACK, 1000, d, 500);
    struct seg_out *s = expect(TCP_ACK, i1, r, 0);
    assert_int_equal(s->nsack, 1);
    assert_int_equal(s->sack[0][0], r + 1000);
    assert_int_equal(s->sack[0][1], r + 1500);
    inject(r + 3000, i1, TCP_ACK, 1000, d, 500);
    s = expect(TCP_ACK, i1, r, 0);
    assert_int_equal(s->nsack, 2);                     /* the latest block first */
    assert_int_equal(s->sack[0][0], r + 3000);
    assert_int_equal(s->sack[1][0], r + 1000);
    inject(r + 1500, i1, TCP_ACK, 1000, d, 500);       /* extends the first range */
    s = expect(TCP_ACK, i1, r, 0);
    assert_int_equal(s->nsack, 2);
    assert_int_equal(s->sack[0][0], r + 1000);
    assert_int_equal(s->sack[0][1], r + 2000);
    assert_int_equal(s->sack[1][0], r + 3000);
    assert_int_equal(s->sack[1][1], r + 3500);
    for (int k = 0; k < 4; k++) {                      /* six ranges: at most four blocks */
        inject(r + 5000 + 1000 * k, i1, TCP_ACK, 1000, d, 100);
        s = expect(TCP_ACK, i1, r, 0);
    }
    assert_int_equal(s->nsack, 4);
    assert_int_equal(s->sack[0][0], r + 8000);
    assert_int_equal(s->sack[1][0], r + 1000);
    assert_int_equal(s->sack[2][0], r + 3000);
    inject(r, i1, TCP_ACK, 1000, d, 1000);             /* fills the first hole */
    s = expect(TCP_ACK, i1, r + 2000, 0);
    assert_int_equal(s->nsack, 4);
    assert_int_equal(s->sack[0][0], r + 8000);         /* still the latest segment's range */
    assert_int_equal(s->sack[1][0], r + 3000);
    tcp_abort(c);
}

/* An ACK from the peer carrying nblocks SACK blocks (pairs of relative offsets from base). */
static void inject_sack(uint32_t ack, uint32_t base, const uint32_t (*b)[2], int nblocks) {
    uint8_t o[40] = {1, 1, 5, (uint8_t)(2 + 8 * nblocks)};
    for (int k = 0; k < nblocks; k++) {
        net_put32(o + 4 + 8 * k, base + b[k][0]);
        net_put32(o + 8 + 8 * k, base + b[k][1]);
    }
    inject_full(BP, AP, PISN + 1, ack, TCP_ACK, 1000, o, 4 + 8u * (uint32_t)nblocks, NULL, 0);
}

static void check_scoreboard(const struct tcp_conn *c) {
    assert_true(c->n_sacked >= 0 && c->n_sacked <= TCP_SCORE_MAX);
    for (int k = 0; k < c->n_sacked; k++) {
        assert_true(SEQ_LT(c->sacked[k].start, c->sacked[k].end));
        assert_true(SEQ_GE(c->sacked[k].start, c->snd_una) && SEQ_LE(c->sacked[k].end, c->snd_max));
        if (k) assert_true(SEQ_GT(c->sacked[k].start, c->sacked[k - 1].end));
    }
}

static void test_sack_hostile_blocks(void **st) {
    (void)st;
    struct tcp_conn *c = open_est_opts(1000, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK);
    uint32_t i1 = c->iss + 1;
    char d[3000] = {0};
    assert_int_equal(tcp_send(c, d, 3000), 3000);     /* 3 segments in flight (cwnd 4000) */
    for (int k = 0; k < 3; k++) expect(TCP_ACK | (k == 2 ? TCP_PSH : 0), i1 + 1000u * k, PISN + 1, 1000);
    static const uint32_t hostile[][2] = {
        {5000, 6000},              /* beyond SND.MAX */
        {2000, 1000},              /* reversed */
        {1500, 1500},              /* empty */
        {-1000u, 500},             /* starts below SND.UNA */
    };
    inject_sack(i1, i1, hostile, 4);
    check_scoreboard(c);
    assert_int_equal(c->n_sacked, 0);
    assert_int_equal(c->dupacks, 0);
    expect_none();
    static const uint32_t overlap[][2] = {{1000, 2000}, {1500, 2500}, {1200, 1300}, {2500, 3000}};
    inject_sack(i1, i1, overlap, 4);
    check_scoreboard(c);
    assert_int_equal(c->n_sacked, 1);                  /* merged into [1000, 3000) */
    assert_int_equal(c->sacked[0].start, i1 + 1000);
    assert_int_equal(c->sacked[0].end, i1 + 3000);
    /* the same ACK again (a duplicated segment) SACKs nothing new: not a duplicate ACK */
    int dup = c->dupacks;
    inject_sack(i1, i1, overlap, 4);
    assert_int_equal(c->dupacks, dup);
    /* malformed SACK options: a length not 2 + 8n is ignored; one past the header drops the segment */
    static const uint8_t odd[] = {1, 1, 5, 7, 0, 0, 0, 1, 0, 0, 0, 0};
    inject_full(BP, AP, PISN + 1, i1, TCP_ACK, 1000, odd, sizeof odd, NULL, 0);
    uint64_t bad = tcp_stats.bad_header;
    static const uint8_t over[] = {1, 1, 5, 34, 0, 0, 0, 1};
    inject_full(BP, AP, PISN + 1, i1, TCP_ACK, 1000, over, sizeof over, NULL, 0);
    assert_int_equal(tcp_stats.bad_header, bad + 1);
    check_scoreboard(c);
    /* a cumulative ACK trims the scoreboard */
    out_r = out_n;
    inject(PISN + 1, i1 + 2000, TCP_ACK, 1000, NULL, 0);
    check_scoreboard(c);
    assert_int_equal(c->n_sacked, 1);
    assert_int_equal(c->sacked[0].start, i1 + 2000);
    /* a scoreboard full of ranges: more blocks never overflow it */
    tcp_abort(c);
    reset_world();
    c = open_est_opts(65535, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK);
    i1 = c->iss + 1;
    c->cwnd = 1u << 20;
    static char big[60000];
    assert_int_equal(tcp_send(c, big, sizeof big), (int64_t)sizeof big);
    out_r = out_n;
    for (uint32_t k = 0; k < 40; k++) {
        uint32_t b[1][2] = {{59000 - 1000 * k, 59000 - 1000 * k + 10}};
        inject_sack(i1, i1, b, 1);
        check_scoreboard(c);
    }
    assert_int_equal(c->n_sacked, TCP_SCORE_MAX);
    tcp_abort(c);
}

static void test_sack_hole_retransmit(void **st) {
    (void)st;
    struct tcp_conn *c = open_est_opts(1000, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK);
    uint32_t i1 = c->iss + 1;
    char d[4000];
    for (int i = 0; i < 4000; i++) d[i] = (char)i;
    assert_int_equal(tcp_send(c, d, 4000), 4000);
    for (int k = 0; k < 4; k++) expect(TCP_ACK | (k == 3 ? TCP_PSH : 0), i1 + 1000u * k, PISN + 1, 1000);
    /* the second segment is lost: the peer SACKs the third and the fourth */
    inject(PISN + 1, i1 + 1000, TCP_ACK, 1000, NULL, 0);   /* the first arrives */
    expect_none();
    static const uint32_t b2[][2] = {{2000, 3000}};
    inject_sack(i1 + 1000, i1, b2, 1);
    expect_none();                                     /* one duplicate ACK, nothing new to send */
    static const uint32_t b3[][2] = {{2000, 4000}};
    inject_sack(i1 + 1000, i1, b3, 1);                 /* early retransmit: 3 outstanding, 2 dup ACKs */
    struct seg_out *s = expect(TCP_ACK, i1 + 1000, PISN + 1, 1000);
    assert_memory_equal(s->data, d + 1000, 1000);
    assert_true(c->in_recovery);
    expect_none();                                     /* only the hole: SACKed data is not resent */
    inject_sack(i1 + 1000, i1, b3, 1);                 /* a duplicated ACK: nothing */
    expect_none();
    inject(PISN + 1, i1 + 4000, TCP_ACK, 1000, NULL, 0);
    assert_false(c->in_recovery);
    assert_int_equal(c->n_sacked, 0);
    expect_none();
    /* after a timeout, the go-back-N resend skips SACKed ranges */
    assert_int_equal(tcp_send(c, d, 4000), 4000);
    c->cwnd = 8000;
    tcp_output(c, fake_now);
    out_r = out_n;
    static const uint32_t b4[][2] = {{1000, 2000}, {3000, 4000}};
    inject_sack(i1 + 4000, i1 + 4000, b4, 2);
    out_r = out_n;
    assert_false(c->in_recovery);                      /* 1 duplicate ACK, 2 MSS SACKed */
    tick_to(c->rexmit_at);
    expect(TCP_ACK, i1 + 4000, PISN + 1, 1000);        /* the RTO resends [0, 1000) ... */
    expect_none();                                     /* (cwnd 1 MSS) */
    c->cwnd = 8000;
    inject(PISN + 1, i1 + 5000, TCP_ACK, 1000, NULL, 0);
    expect(TCP_ACK, i1 + 6000, PISN + 1, 1000);        /* ... then [2000, 3000), not [1000, 2000) */
    expect_none();
    tcp_abort(c);
}

/* ---- back to back through a lossy network ---- */
struct wire { struct net_addr src, dst; struct pkt *p; };
#define WIRE_MAX 4096
static struct wire wire[WIRE_MAX];
static int wire_n;
static uint32_t rng = 12345;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }
static int lossy_permille = 50;

static int wire_out(const struct net_addr *src, const struct net_addr *dst, struct pkt *p) {
    uint32_t r = rnd() % 1000;
    if ((int)r < lossy_permille || wire_n >= WIRE_MAX - 2) { pkt_free(p); return 0; }
    int copies = (int)(rnd() % 1000) < lossy_permille ? 2 : 1;       /* 5 % duplicated */
    for (int k = 0; k < copies; k++) {
        struct pkt *q = p;
        if (k) {
            q = pkt_alloc(p->len);
            memcpy(pkt_put(q, p->len), p->data, p->len);
        }
        wire[wire_n++] = (struct wire){*src, *dst, q};
        if ((int)(rnd() % 1000) < lossy_permille && wire_n >= 2) {   /* 5 % reordered */
            struct wire t = wire[wire_n - 1];
            wire[wire_n - 1] = wire[wire_n - 2];
            wire[wire_n - 2] = t;
        }
    }
    return 0;
}

static void deliver_all(void) {
    while (wire_n) {
        int n = wire_n;
        static struct wire batch[WIRE_MAX];
        memcpy(batch, wire, sizeof(struct wire) * (size_t)n);
        wire_n = 0;
        for (int i = 0; i < n; i++) tcp_input(batch[i].p, &batch[i].src, &batch[i].dst);
    }
}

static void test_lossy_10mib(void **st) {
    (void)st;
    capture_raw = true;
    raw_sink = wire_out;
    int err;
    struct tcp_conn *l = tcp_listen(&B, BP, 4, &err);
    struct tcp_conn *c = tcp_open_active(&A, AP, &B, BP, &err);
    struct tcp_conn *s = NULL;
    const uint32_t total = 10u << 20, back_total = 1u << 20;
    uint32_t sent = 0, got = 0, sum_tx = 0, sum_rx = 0, back_sent = 0, back_got = 0;
    static uint8_t buf[16384], rb[16384];
    uint64_t deadline = fake_now + 3600000000000ull;
    bool closed = false;
    while (fake_now < deadline) {
        deliver_all();
        if (!s) s = tcp_accept(l, &err);
        if (c->state == TCP_ESTABLISHED && sent < total) {
            uint32_t n = MIN(total - sent, (uint32_t)sizeof buf);
            for (uint32_t i = 0; i < n; i++) buf[i] = (uint8_t)((sent + i) * 2654435761u >> 24);
            int64_t r = tcp_send(c, buf, n);
            if (r > 0) {
                for (int64_t i = 0; i < r; i++) sum_tx = sum_tx * 31 + buf[i];
                sent += (uint32_t)r;
            }
        }
        if (sent == total && !closed) { tcp_shutdown(c, 1); closed = true; }
        if (s && back_sent < back_total) {             /* the other direction at the same time */
            uint32_t n = MIN(back_total - back_sent, 3000u);
            for (uint32_t i = 0; i < n; i++) buf[i] = (uint8_t)(back_sent + i);
            int64_t r = tcp_send(s, buf, n);
            if (r > 0) back_sent += (uint32_t)r;
        }
        {
            int64_t r;
            while ((r = tcp_recv(c, rb, sizeof rb)) > 0) {
                for (int64_t i = 0; i < r; i++) assert_int_equal(rb[i], (uint8_t)(back_got + i));
                back_got += (uint32_t)r;
            }
        }
        if (s) {
            int64_t r;
            while ((r = tcp_recv(s, rb, sizeof rb)) > 0) {
                for (int64_t i = 0; i < r; i++) {
                    assert_int_equal(rb[i], (uint8_t)((got + i) * 2654435761u >> 24));
                    sum_rx = sum_rx * 31 + rb[i];
                }
                got += (uint32_t)r;
            }
            if (r == 0 && back_got == back_total) break;
        }
        deliver_all();
        fake_now += 10000000ull;
        tcp_timer_tick(fake_now);
    }
    if (got != total || back_got != back_total) {
        struct tcp_conn *x[2] = {c, s};
        for (int k = 0; k < 2; k++) if (x[k])
            fprintf(stderr, "%s una %u nxt %u max %u end %u wnd %u cwnd %u rcv_nxt %u adv %u user %u ooo %d "
                    "rexmit %lu persist %lu rto %lu retries %d fin %d\n", tcp_state_name(x[k]->state),
                    x[k]->snd_una, x[k]->snd_nxt, x[k]->snd_max, x[k]->snd_end, x[k]->snd_wnd, x[k]->cwnd,
                    x[k]->rcv_nxt, x[k]->rcv_adv, x[k]->rcv_user, x[k]->n_ooo, (unsigned long)x[k]->rexmit_at,
                    (unsigned long)x[k]->persist_at, (unsigned long)x[k]->rto, x[k]->retries, x[k]->fin_queued);
        fprintf(stderr, "sent %u got %u back %u/%u now %lu\n", sent, got, back_sent, back_got, (unsigned long)fake_now);
    }
    assert_int_equal(got, total);
    assert_int_equal(sum_rx, sum_tx);
    assert_non_null(s);
    assert_int_equal(s->state, TCP_CLOSE_WAIT);
    fprintf(stderr, "lossy 10 MiB: %.1f s of fake time, %lu retransmissions\n",
            (double)(fake_now - 1000000000ull) / 1e9, (unsigned long)tcp_stats.retrans_segs);
    assert_int_equal(back_got, back_total);
    /* both sides close through the lossy network and are freed after TIME_WAIT */
    tcp_msl_ns = 5000000000ull;
    tcp_close(s);
    tcp_close(c);
    tcp_close(l);
    for (int i = 0; i < 30000 && tcp_conns; i++) {
        deliver_all();
        fake_now += 10000000ull;
        tcp_timer_tick(fake_now);
    }
    assert_null(tcp_conns);
    for (int i = 0; i < wire_n; i++) pkt_free(wire[i].p);
    wire_n = 0;
}

/* ---- measurement: a timed lossy wire (make bench style figures, never asserted) ----
 * Each segment takes 1 ms each way (RTT 2 ms); 5 % are lost, 2 % duplicated and 2 % held back
 * by a further 1.5 ms so that later ones overtake them. The TCP timers run every 10 ms as under
 * net_poller. One direction moves `total` bytes from an active opener to an accepted socket;
 * prints the simulated time, the throughput and the retransmissions. */
struct timed_seg { uint64_t at; struct net_addr src, dst; struct pkt *p; };
#define TWIRE_MAX 2048
static struct timed_seg twire[TWIRE_MAX];
static int twire_n;

static int timed_wire_out(const struct net_addr *src, const struct net_addr *dst, struct pkt *p) {
    if (rnd() % 1000 < 50 || twire_n >= TWIRE_MAX - 2) { pkt_free(p); return 0; }
    int copies = rnd() % 1000 < 20 ? 2 : 1;
    for (int k = 0; k < copies; k++) {
        struct pkt *q = p;
        if (k) {
            q = pkt_alloc(p->len);
            memcpy(pkt_put(q, p->len), p->data, p->len);
        }
        uint64_t delay = 1000000ull + (rnd() % 1000 < 20 ? 1500000ull : 0);
        twire[twire_n++] = (struct timed_seg){fake_now + delay, *src, *dst, q};
    }
    return 0;
}

/* Delivers every segment due by now, earliest first (equal times in sending order). */
static void timed_deliver(void) {
    for (;;) {
        int best = -1;
        for (int i = 0; i < twire_n; i++)
            if (twire[i].at <= fake_now && (best < 0 || twire[i].at < twire[best].at)) best = i;
        if (best < 0) return;
        struct timed_seg t = twire[best];
        memmove(twire + best, twire + best + 1, sizeof twire[0] * (size_t)(twire_n - best - 1));
        twire_n--;
        tcp_input(t.p, &t.src, &t.dst);
    }
}

/* Moves total bytes through the timed wire; returns the simulated seconds. */
static double timed_transfer(uint32_t total, uint64_t *rexmits, uint64_t *rtos, uint64_t *recoveries) {
    reset_world();
    capture_raw = true;
    raw_sink = timed_wire_out;
    int err;
    struct tcp_conn *l = tcp_listen(&B, BP, 4, &err);
    struct tcp_conn *c = tcp_open_active(&A, AP, &B, BP, &err), *s = NULL;
    static uint8_t buf[16384];
    uint32_t sent = 0, got = 0;
    uint64_t start = fake_now, deadline = fake_now + 3600000000000ull, next_tick = fake_now;
    while (fake_now < deadline && got < total) {
        timed_deliver();
        if (!s) s = tcp_accept(l, &err);
        if (c->state == TCP_ESTABLISHED && sent < total) {
            uint32_t n = MIN(total - sent, (uint32_t)sizeof buf);
            for (uint32_t i = 0; i < n; i++) buf[i] = (uint8_t)((sent + i) * 2654435761u >> 24);
            int64_t r = tcp_send(c, buf, n);
            if (r > 0) sent += (uint32_t)r;
        }
        int64_t r;
        while (s && (r = tcp_recv(s, buf, sizeof buf)) > 0) {
            for (int64_t i = 0; i < r; i++) assert_int_equal(buf[i], (uint8_t)((got + i) * 2654435761u >> 24));
            got += (uint32_t)r;
        }
        fake_now += 100000ull;                       /* 0.1 ms steps */
        if (fake_now >= next_tick) { next_tick += 10000000ull; tcp_timer_tick(fake_now); }
    }
    assert_int_equal(got, total);
    *rexmits = tcp_stats.retrans_segs;
    *rtos = tcp_stats.rto_expiries;
    *recoveries = tcp_stats.fast_recoveries;
    tcp_abort(s);
    tcp_abort(c);
    tcp_close(l);
    for (int i = 0; i < twire_n; i++) pkt_free(twire[i].p);
    twire_n = 0;
    return (double)(fake_now - start) / 1e9;
}

static void test_lossy_timed_measure(void **st) {
    (void)st;
    rng = 4242;
    uint64_t rx, rtos, recs;
    uint32_t total = 8u << 20;
    double t = timed_transfer(total, &rx, &rtos, &recs);
    fprintf(stderr, "timed lossy wire (RTT 2 ms, 5 %% loss, 2 %% dup, 2 %% reorder): %u MiB in %.2f s "
            "(%.2f MB/s), %lu retransmissions, %lu timeouts, %lu fast recoveries\n", total >> 20, t,
            total / t / 1e6, (unsigned long)rx, (unsigned long)rtos, (unsigned long)recs);
}

/* ---- fuzzer ---- */
static int drop_out(const struct net_addr *src, const struct net_addr *dst, struct pkt *p) {
    (void)src; (void)dst;
    pkt_free(p);
    return 0;
}

static void test_fuzz(void **st) {
    (void)st;
    capture_raw = true;
    raw_sink = drop_out;
    int err;
    rng = 987654321;
    for (int round = 0; round < 10; round++) {
        reset_world();
        capture_raw = true;
        raw_sink = drop_out;
        struct tcp_conn *l = tcp_listen(NULL, AP, 8, &err);
        struct tcp_conn *c = tcp_open_active(&A, AP + 1, &B, BP, &err);
        if (round % 2)                                    /* odd rounds: with SACK */
            inject_full(BP, AP + 1, PISN, c->iss + 1, TCP_SYN | TCP_ACK, 1000, SYN_OPTS_SACK, sizeof SYN_OPTS_SACK, NULL, 0);
        else
            inject_full(BP, AP + 1, PISN, c->iss + 1, TCP_SYN | TCP_ACK, 1000, SYN_OPTS, sizeof SYN_OPTS, NULL, 0);
        uint32_t rseq = PISN + 1;
        for (int i = 0; i < 10000; i++) {
            uint8_t seg[200];
            uint32_t len = 20 + rnd() % 180;
            for (uint32_t k = 0; k < len; k++) seg[k] = (uint8_t)rnd();
            uint32_t mode = rnd() % 4;
            if (mode) {                                   /* mostly plausible segments */
                net_put16(seg, BP);
                net_put16(seg + 2, (uint16_t)(rnd() % 2 ? AP : AP + 1));
                if (mode >= 2) net_put32(seg + 4, rseq + (rnd() % 4000) - 2000);
                if (mode == 3) net_put32(seg + 8, c->snd_una + (rnd() % 4000) - 2000);
                seg[12] = (uint8_t)((5 + rnd() % 3) << 4);
                if (mode == 3 && len >= 32 && rnd() % 2) {   /* a SACK block near the live data */
                    uint32_t st = c->snd_una + rnd() % 8000 - 2000;
                    static const uint8_t sk[4] = {1, 1, 5, 10};
                    memcpy(seg + 20, sk, 4);
                    net_put32(seg + 24, st);
                    net_put32(seg + 28, st + rnd() % 4000 - 1000);
                    seg[12] = 8 << 4;
                }
                seg[13] &= (uint8_t)(rnd() % 8 ? ~(TCP_SYN | TCP_RST) : 0xff);
                net_put16(seg + 16, 0);
                net_put16(seg + 16, net_csum_fold(net_csum_add(net_csum_pseudo(&B, &A, 6, len), seg, len)));
            }
            struct pkt *p = pkt_alloc(len);
            memcpy(pkt_put(p, len), seg, len);
            tcp_input(p, &B, &A);
            if (i % 50 == 0) {
                fake_now += 50000000ull;
                tcp_timer_tick(fake_now);
                char sink[512];
                if (c->state != TCP_CLOSED) { tcp_send(c, seg, len); tcp_recv(c, sink, sizeof sink); }
                struct tcp_conn *a = tcp_accept(l, &err);
                if (a) { tcp_recv(a, sink, sizeof sink); if (rnd() % 2) tcp_close(a); else tcp_abort(a); }
            }
        }
        tcp_close(c);
        tcp_close(l);
        tcp_reset_all();                                  /* whatever is left; ASan checks leaks */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_active_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passive_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fin_ack_together_and_short_msl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphan_fin_wait_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passive_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passive_close_last_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rst_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syn_in_established_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syn_retransmit_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_rto_karn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_retransmit_newreno, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_window_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sack_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sack_blocks_from_ooo_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sack_hostile_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sack_hole_retransmit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_peer_resets_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_probe_answered_by_us, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_stale_half_open_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lossy_10mib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lossy_timed_measure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
