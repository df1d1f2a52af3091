/* test_dhcp.c: host unit tests for the DHCPv4 client (kernel/net/dhcp.c, RFC 2131/2132):
 * the message builder's layout, a full DISCOVER/OFFER/REQUEST/ACK exchange with a scripted
 * server, NAK, retransmission back-off, renewal at T1 (unicast), rebinding at T2
 * (broadcast), lease expiry, foreign xids and MACs, hostile options (length running past
 * the end, no end option, long pad runs, wrong lengths), the /etc/resolv.conf text from
 * several interfaces' leases (order, duplicates, the three-server limit, hostile counts and
 * small buffers) and a fuzzer of 100,000 mutated packets (run under ASan). */
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/lib/printf.c"
#include "../../kernel/net/dhcp.c"

#define SEC 1000000000ull
static const uint8_t MAC[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};

struct sent { uint8_t msg[DHCP_MSG_MAX]; size_t len; uint8_t dst[4]; };
static struct sent out[64];
static int nout, nconf, nunconf;
static struct dhcp_lease last_lease;
static uint32_t xid_seq = 0x1000;

static int fake_send(void *ctx, const uint8_t *m, size_t len, const uint8_t dst[4]) {
    assert_true(len <= DHCP_MSG_MAX);
    if (nout < 64) { memcpy(out[nout].msg, m, len); out[nout].len = len; memcpy(out[nout].dst, dst, 4); }
    nout++;
    return 0;
}
static void fake_conf(void *ctx, const struct dhcp_lease *l) {
    if (l) { nconf++; last_lease = *l; } else nunconf++;
}
static uint32_t fake_rand(void *ctx) { return xid_seq++; }

static void init_client(struct dhcp_client *c) {
    memset(c, 0, sizeof *c);
    c->ops.send = fake_send;
    c->ops.configure = fake_conf;
    c->ops.rand32 = fake_rand;
    memcpy(c->mac, MAC, 6);
    nout = nconf = nunconf = 0;
}

/* The scripted server: a reply to the last client message. */
static size_t server_reply(const struct sent *req, uint8_t type, uint8_t *b, uint32_t lease, uint32_t t1, uint32_t t2) {
    memset(b, 0, 400);
    b[0] = 2; b[1] = 1; b[2] = 6;
    memcpy(b + 4, req->msg + 4, 4);                 /* xid */
    uint8_t yi[4] = {10, 0, 2, 15};
    if (type != DHCPNAK) memcpy(b + 16, yi, 4);
    memcpy(b + 28, req->msg + 28, 6);
    memcpy(b + 236, magic, 4);
    size_t i = 240;
    b[i++] = 53; b[i++] = 1; b[i++] = type;
    b[i++] = 54; b[i++] = 4; b[i++] = 10; b[i++] = 0; b[i++] = 2; b[i++] = 2;
    if (type != DHCPNAK) {
        b[i++] = 1; b[i++] = 4; b[i++] = 255; b[i++] = 255; b[i++] = 255; b[i++] = 0;
        b[i++] = 3; b[i++] = 8; b[i++] = 10; b[i++] = 0; b[i++] = 2; b[i++] = 2; i += 4;
        b[i++] = 6; b[i++] = 8; b[i++] = 10; b[i++] = 0; b[i++] = 2; b[i++] = 3; b[i++] = 8; b[i++] = 8; b[i++] = 8; b[i++] = 8;
        if (lease) { b[i++] = 51; b[i++] = 4; net_put32(b + i, lease); i += 4; }
        if (t1) { b[i++] = 58; b[i++] = 4; net_put32(b + i, t1); i += 4; }
        if (t2) { b[i++] = 59; b[i++] = 4; net_put32(b + i, t2); i += 4; }
    }
    b[i++] = 255;
    return i < 300 ? 300 : i;
}

static uint8_t msg_type(const struct sent *s) {
    struct dhcp_info in;
    /* client messages are BOOTREQUESTs: parse them with the same parser */
    assert_int_equal(dhcp_parse(s->msg, s->len, &in), 0);
    assert_int_equal(in.op, 1);
    return in.type;
}

static bool opt_present(const struct sent *s, uint8_t code, uint8_t *val) {
    for (size_t i = 240; i < s->len && s->msg[i] != 255;) {
        if (s->msg[i] == 0) { i++; continue; }
        if (s->msg[i] == code) { if (val) memcpy(val, s->msg + i + 2, s->msg[i + 1]); return true; }
        i += 2 + s->msg[i + 1];
    }
    return false;
}

static void full_exchange(struct dhcp_client *c, uint64_t t, uint32_t lease, uint32_t t1, uint32_t t2) {
    uint8_t b[600];
    dhcp_start(c, t);
    assert_int_equal(nout, 1);
    assert_int_equal(msg_type(&out[0]), DHCPDISCOVER);
    assert_memory_equal(out[0].dst, bcast, 4);
    size_t n = server_reply(&out[0], DHCPOFFER, b, lease, t1, t2);
    assert_int_equal(dhcp_input(c, b, n, t + SEC / 10), 1);
    assert_int_equal(c->state, DHCP_REQUESTING);
    assert_int_equal(nout, 2);
    assert_int_equal(msg_type(&out[1]), DHCPREQUEST);
    uint8_t v[4];
    assert_true(opt_present(&out[1], 50, v));
    assert_int_equal(net_get32(v), 0x0a00020f);
    assert_true(opt_present(&out[1], 54, v));
    assert_int_equal(net_get32(v), 0x0a000202);
    n = server_reply(&out[1], DHCPACK, b, lease, t1, t2);
    assert_int_equal(dhcp_input(c, b, n, t + SEC / 5), 1);
    assert_int_equal(c->state, DHCP_BOUND);
}

static void test_build_layout(void **st) {
    uint8_t b[DHCP_MSG_MAX];
    uint8_t ip[4] = {10, 0, 2, 15}, sid[4] = {10, 0, 2, 2};
    int n = dhcp_build(b, sizeof b, DHCPREQUEST, 0xdeadbeef, MAC, 7, NULL, ip, sid, true);
    assert_int_equal(n, 300);
    assert_int_equal(b[0], 1);
    assert_int_equal(net_get32(b + 4), 0xdeadbeef);
    assert_int_equal(net_get16(b + 8), 7);
    assert_int_equal(net_get16(b + 10), 0x8000);
    assert_memory_equal(b + 28, MAC, 6);
    assert_memory_equal(b + 236, magic, 4);
    assert_int_equal(dhcp_build(b, 299, DHCPREQUEST, 1, MAC, 0, NULL, NULL, NULL, true), -KENOSPC);
    assert_int_equal(dhcp_build(b, sizeof b, 0, 1, MAC, 0, NULL, NULL, NULL, true), -KEINVAL);
    assert_int_equal(dhcp_build(b, sizeof b, 9, 1, MAC, 0, NULL, NULL, NULL, true), -KEINVAL);
}

static void test_full_exchange(void **st) {
    struct dhcp_client c;
    init_client(&c);
    full_exchange(&c, 0, 3600, 0, 0);
    assert_int_equal(nconf, 1);
    assert_int_equal(net_get32(last_lease.ip), 0x0a00020f);
    assert_int_equal(net_get32(last_lease.mask), 0xffffff00);
    assert_int_equal(net_get32(last_lease.router), 0x0a000202);
    assert_int_equal(last_lease.ndns, 2);
    assert_int_equal(net_get32(last_lease.dns[1]), 0x08080808);
    assert_int_equal(last_lease.t1_s, 1800);                  /* defaults: 0.5 and 0.875 */
    assert_int_equal(last_lease.t2_s, 3150);
    assert_int_equal(dhcp_next_event(&c), SEC / 10 + 1800 * SEC);
}

static void test_retransmit_backoff(void **st) {
    struct dhcp_client c;
    init_client(&c);
    dhcp_start(&c, 0);
    uint64_t t = 0;
    uint64_t expect[] = {4, 8, 16, 32, 64, 64};
    for (int i = 0; i < 6; i++) {
        dhcp_tick(&c, t + expect[i] * SEC - 1);
        assert_int_equal(nout, i + 1);
        t += expect[i] * SEC;
        dhcp_tick(&c, t);
        assert_int_equal(nout, i + 2);
        assert_int_equal(msg_type(&out[i + 1]), DHCPDISCOVER);
        assert_int_equal(net_get32(out[i + 1].msg + 4), net_get32(out[0].msg + 4));   /* same xid */
    }
    /* REQUESTING without answers returns to INIT after 4 retransmissions */
    uint8_t b[600];
    size_t n = server_reply(&out[nout - 1], DHCPOFFER, b, 60, 0, 0);
    assert_int_equal(dhcp_input(&c, b, n, t), 1);
    for (int i = 0; i < 5; i++) { t += 64 * SEC; dhcp_tick(&c, t); }
    assert_int_equal(c.state, DHCP_SELECTING);
    assert_int_equal(msg_type(&out[nout - 1]), DHCPDISCOVER);
}

static void test_nak(void **st) {
    struct dhcp_client c;
    init_client(&c);
    uint8_t b[600];
    dhcp_start(&c, 0);
    size_t n = server_reply(&out[0], DHCPOFFER, b, 60, 0, 0);
    dhcp_input(&c, b, n, 1);
    n = server_reply(&out[1], DHCPNAK, b, 0, 0, 0);
    assert_int_equal(dhcp_input(&c, b, n, 2), 1);
    assert_int_equal(c.state, DHCP_INIT);
    assert_int_equal(nconf, 0);
    dhcp_tick(&c, 3);
    assert_int_equal(c.state, DHCP_SELECTING);
    assert_int_equal(msg_type(&out[nout - 1]), DHCPDISCOVER);
    /* NAK while renewing withdraws the address */
    init_client(&c);
    full_exchange(&c, 0, 100, 0, 0);
    dhcp_tick(&c, 51 * SEC);                                  /* T1 = 50 s after the REQUEST */
    assert_int_equal(c.state, DHCP_RENEWING);
    n = server_reply(&out[nout - 1], DHCPNAK, b, 0, 0, 0);
    assert_int_equal(dhcp_input(&c, b, n, 52 * SEC), 1);
    assert_int_equal(nunconf, 1);
    assert_int_equal(c.state, DHCP_INIT);
}

static void test_renew_rebind_expire(void **st) {
    struct dhcp_client c;
    init_client(&c);
    full_exchange(&c, 0, 1000, 400, 800);
    uint64_t req = SEC / 10;                                  /* REQUEST time = lease base */
    dhcp_tick(&c, req + 399 * SEC);
    assert_int_equal(c.state, DHCP_BOUND);
    int before = nout;
    dhcp_tick(&c, req + 400 * SEC);                           /* T1 */
    assert_int_equal(c.state, DHCP_RENEWING);
    assert_int_equal(nout, before + 1);
    assert_int_equal(msg_type(&out[nout - 1]), DHCPREQUEST);
    assert_int_equal(net_get32(out[nout - 1].dst), 0x0a000202); /* unicast to the server */
    assert_int_equal(net_get32(out[nout - 1].msg + 12), 0x0a00020f); /* ciaddr */
    assert_false(opt_present(&out[nout - 1], 50, NULL));      /* no requested-ip when renewing */
    assert_false(opt_present(&out[nout - 1], 54, NULL));
    /* retransmit after half the time to T2 (200 s) */
    dhcp_tick(&c, req + 599 * SEC);
    assert_int_equal(nout, before + 1);
    dhcp_tick(&c, req + 600 * SEC);
    assert_int_equal(nout, before + 2);
    dhcp_tick(&c, req + 800 * SEC);                           /* T2 */
    assert_int_equal(c.state, DHCP_REBINDING);
    assert_memory_equal(out[nout - 1].dst, bcast, 4);
    /* an ACK while rebinding renews the lease */
    uint8_t b[600];
    size_t n = server_reply(&out[nout - 1], DHCPACK, b, 1000, 0, 0);
    assert_int_equal(dhcp_input(&c, b, n, req + 801 * SEC), 1);
    assert_int_equal(c.state, DHCP_BOUND);
    assert_int_equal(nconf, 2);
    assert_int_equal(c.expire_ns, req + 800 * SEC + 1000 * SEC);
    /* now let it run out: renew, rebind, expire without answers */
    uint64_t base = req + 800 * SEC;
    for (uint64_t t = base; t <= base + 1000 * SEC; t += 10 * SEC) dhcp_tick(&c, t);
    assert_int_equal(nunconf, 1);
    assert_int_equal(c.state, DHCP_SELECTING);
    assert_int_equal(msg_type(&out[(nout - 1) % 64]), DHCPDISCOVER);
}

static void test_infinite_lease(void **st) {
    struct dhcp_client c;
    init_client(&c);
    full_exchange(&c, 0, 0xffffffffu, 0, 0);
    assert_int_equal(dhcp_next_event(&c), UINT64_MAX);
    dhcp_tick(&c, UINT64_MAX - 1);
    assert_int_equal(c.state, DHCP_BOUND);
}

static void test_foreign_and_wrong_state(void **st) {
    struct dhcp_client c;
    init_client(&c);
    uint8_t b[600];
    dhcp_start(&c, 0);
    size_t n = server_reply(&out[0], DHCPOFFER, b, 60, 0, 0);
    b[7] ^= 1;                                                /* other xid */
    assert_int_equal(dhcp_input(&c, b, n, 1), 0);
    b[7] ^= 1; b[33] ^= 1;                                    /* other MAC */
    assert_int_equal(dhcp_input(&c, b, n, 1), 0);
    b[33] ^= 1; b[0] = 1;                                     /* a BOOTREQUEST */
    assert_int_equal(dhcp_input(&c, b, n, 1), 0);
    n = server_reply(&out[0], DHCPACK, b, 60, 0, 0);          /* ACK while selecting */
    assert_int_equal(dhcp_input(&c, b, n, 1), 0);
    n = server_reply(&out[0], DHCPOFFER, b, 60, 0, 0);
    memset(b + 16, 0, 4);                                     /* offer of 0.0.0.0 */
    assert_int_equal(dhcp_input(&c, b, n, 1), 0);
    assert_int_equal(c.state, DHCP_SELECTING);
    n = server_reply(&out[0], DHCPOFFER, b, 60, 0, 0);
    assert_int_equal(dhcp_input(&c, b, n, 1), 1);
    /* ACK without lease time: ignored */
    n = server_reply(&out[1], DHCPACK, b, 0, 0, 0);
    assert_int_equal(dhcp_input(&c, b, n, 2), 0);
    /* ACK from another server while requesting: ignored */
    n = server_reply(&out[1], DHCPACK, b, 60, 0, 0);
    b[248] = 9;
    assert_int_equal(dhcp_input(&c, b, n, 2), 0);
    assert_int_equal(c.state, DHCP_REQUESTING);
    /* bad T1/T2 (T1 > T2 > lease) are replaced by the defaults */
    n = server_reply(&out[1], DHCPACK, b, 100, 500, 400);
    assert_int_equal(dhcp_input(&c, b, n, 2), 1);
    assert_int_equal(last_lease.t1_s, 50);
    assert_int_equal(last_lease.t2_s, 87);
    assert_true(c.bad_msgs >= 6);
}

static void test_hostile_options(void **st) {
    struct dhcp_client c;
    init_client(&c);
    dhcp_start(&c, 0);
    uint8_t b[600];
    struct dhcp_info in;
    size_t n = server_reply(&out[0], DHCPOFFER, b, 60, 0, 0);
    assert_int_equal(dhcp_parse(b, n, &in), 0);
    /* every truncation up to the end option must fail cleanly */
    size_t endpos = 240;
    while (b[endpos] != 255) endpos += b[endpos] ? 2u + b[endpos + 1] : 1u;
    for (size_t k = 0; k <= endpos; k++) assert_int_equal(dhcp_parse(b, k, &in), -KEPROTO);
    /* length running past the end */
    uint8_t h[300];
    memcpy(h, b, 300);
    h[240] = 12; h[241] = 200;
    assert_int_equal(dhcp_parse(h, 300, &in), -KEPROTO);
    h[241] = 255;
    assert_int_equal(dhcp_parse(h, 300, &in), -KEPROTO);
    /* no end option: all pads to the end */
    memset(h + 240, 0, 60);
    assert_int_equal(dhcp_parse(h, 300, &in), -KEPROTO);
    /* a long pad run then end: fine */
    h[299] = 255;
    assert_int_equal(dhcp_parse(h, 300, &in), 0);
    /* wrong lengths of known options */
    uint8_t bad[][3] = {{1, 3, 0}, {51, 2, 0}, {53, 2, 0}, {54, 0, 0}, {6, 5, 0}, {3, 2, 0}, {58, 8, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        memset(h + 240, 0, 60);
        h[240] = bad[k][0]; h[241] = bad[k][1]; h[299] = 255;
        assert_int_equal(dhcp_parse(h, 300, &in), -KEPROTO);
    }
    /* many DNS servers: only the first four kept */
    memset(h + 240, 0, 60);
    h[240] = 6; h[241] = 40; h[282] = 255;
    assert_int_equal(dhcp_parse(h, 300, &in), 0);
    assert_int_equal(in.ndns, DHCP_MAX_DNS);
    /* bad cookie, short, hlen */
    memcpy(h, b, 300); h[236] = 0;
    assert_int_equal(dhcp_parse(h, 300, &in), -KEPROTO);
    memcpy(h, b, 300); h[2] = 16;
    assert_int_equal(dhcp_parse(h, 300, &in), -KEPROTO);
    assert_int_equal(dhcp_parse(b, 239, &in), -KEPROTO);
    assert_int_equal(dhcp_parse(NULL, 300, &in), -KEINVAL);
}

static uint32_t rnd(uint32_t *s) { *s = *s * 1103515245u + 12345u; return *s >> 8; }

/* 100,000 mutated server messages fed to the parser and to a client in every state. */
static struct dhcp_lease lease_with(int ndns, const uint8_t (*dns)[4]) {
    struct dhcp_lease l;
    memset(&l, 0, sizeof l);
    l.ndns = ndns;
    for (int i = 0; i < ndns && i < DHCP_MAX_DNS; i++) memcpy(l.dns[i], dns[i], 4);
    return l;
}

static void test_resolv_conf_from_leases(void **st) {
    (void)st;
    static const char hdr[] = "# written by the SABOS DHCP client\n";
    char buf[DHCP_RESOLV_TEXT_MAX];
    static const uint8_t eth0_dns[1][4] = {{10, 0, 2, 3}};
    static const uint8_t eth1_dns[2][4] = {{10, 0, 9, 1}, {10, 0, 2, 3}};   /* one shared with eth0 */
    struct dhcp_lease l0 = lease_with(1, eth0_dns), l1 = lease_with(2, eth1_dns);
    /* both interfaces: eth0's first, then eth1's, the duplicate once */
    const struct dhcp_lease *both[2] = {&l0, &l1};
    size_t n = dhcp_resolv_conf(both, 2, buf, sizeof buf);
    assert_string_equal(buf, "# written by the SABOS DHCP client\nnameserver 10.0.2.3\nnameserver 10.0.9.1\n");
    assert_int_equal(n, strlen(buf));
    /* eth0 without a lease: eth1's servers alone */
    const struct dhcp_lease *only1[2] = {NULL, &l1};
    dhcp_resolv_conf(only1, 2, buf, sizeof buf);
    assert_string_equal(buf, "# written by the SABOS DHCP client\nnameserver 10.0.9.1\nnameserver 10.0.2.3\n");
    /* no lease at all: the comment only */
    const struct dhcp_lease *none[2] = {NULL, NULL};
    assert_int_equal(dhcp_resolv_conf(none, 2, buf, sizeof buf), strlen(hdr));
    assert_string_equal(buf, hdr);
    assert_int_equal(dhcp_resolv_conf(NULL, 0, buf, sizeof buf), strlen(hdr));
    /* at most three nameserver lines (resolv.conf(5) MAXNS), longest addresses fit */
    static const uint8_t many[4][4] = {{255, 255, 255, 254}, {200, 200, 200, 200}, {1, 2, 3, 4}, {5, 6, 7, 8}};
    struct dhcp_lease lm = lease_with(4, many), lm2 = lease_with(4, many);
    const struct dhcp_lease *full[3] = {&lm, &l0, &lm2};
    n = dhcp_resolv_conf(full, 3, buf, sizeof buf);
    assert_string_equal(buf, "# written by the SABOS DHCP client\nnameserver 255.255.255.254\n"
                             "nameserver 200.200.200.200\nnameserver 1.2.3.4\n");
    assert_true(n < DHCP_RESOLV_TEXT_MAX);
    /* hostile leases: 0.0.0.0 and the broadcast address are no servers, a count beyond the
     * array or negative reads nothing outside it */
    static const uint8_t bad[3][4] = {{0, 0, 0, 0}, {255, 255, 255, 255}, {10, 0, 9, 1}};
    struct dhcp_lease lb = lease_with(3, bad);
    const struct dhcp_lease *hostile[1] = {&lb};
    dhcp_resolv_conf(hostile, 1, buf, sizeof buf);
    assert_string_equal(buf, "# written by the SABOS DHCP client\nnameserver 10.0.9.1\n");
    lb.ndns = 1000;
    dhcp_resolv_conf(hostile, 1, buf, sizeof buf);
    assert_string_equal(buf, "# written by the SABOS DHCP client\nnameserver 10.0.9.1\n");
    lb.ndns = -5;
    dhcp_resolv_conf(hostile, 1, buf, sizeof buf);
    assert_string_equal(buf, hdr);
    /* a small buffer: only whole lines, always terminated; too small for the comment: 0 */
    char small[50];   /* the comment (35) fits, a nameserver line (20) more does not */
    memset(small, 'x', sizeof small);
    n = dhcp_resolv_conf(both, 2, small, sizeof small);
    assert_string_equal(small, "# written by the SABOS DHCP client\n");
    assert_int_equal(n, strlen(hdr));
    assert_int_equal(dhcp_resolv_conf(both, 2, small, 10), 0);
    assert_int_equal(dhcp_resolv_conf(both, 2, NULL, 100), 0);
}

static void test_fuzz(void **st) {
    struct dhcp_client c;
    init_client(&c);
    uint8_t base[600];
    dhcp_start(&c, 0);
    size_t blen = server_reply(&out[0], DHCPOFFER, base, 3600, 0, 0);
    uint32_t seed = 777;
    uint64_t t = 0;
    int seen[6] = {0};
    for (int it = 0; it < 100000; it++) {
        uint8_t m[600];
        size_t n = blen;
        memcpy(m, base, n);
        m[242] = (uint8_t)(1 + rnd(&seed) % 8);               /* any message type */
        memcpy(m + 4, &(uint32_t){net_htonl(c.xid)}, 4);      /* mostly our xid */
        int muts = (int)(rnd(&seed) % 6);
        for (int k = 0; k < muts && n > 237; k++) {
            size_t i = 236 + rnd(&seed) % (n - 236);
            switch (rnd(&seed) % 4) {
            case 0: m[i] = (uint8_t)rnd(&seed); break;
            case 1: m[i] = (uint8_t)(rnd(&seed) & 1 ? 255 : 0); break;
            case 2: n = 200 + rnd(&seed) % (n - 199); break;
            case 3: if (i + 1 < n) m[i + 1] = (uint8_t)rnd(&seed); break;
            }
        }
        t += SEC * (rnd(&seed) % 200);
        dhcp_input(&c, m, n, t);
        dhcp_tick(&c, t);
        assert_true(c.state <= DHCP_REBINDING);
        seen[c.state]++;
    }
    for (int k = DHCP_SELECTING; k <= DHCP_REBINDING; k++) assert_true(seen[k] > 0);  /* every state visited */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_layout),
        cmocka_unit_test(test_full_exchange),
        cmocka_unit_test(test_retransmit_backoff),
        cmocka_unit_test(test_nak),
        cmocka_unit_test(test_renew_rebind_expire),
        cmocka_unit_test(test_infinite_lease),
        cmocka_unit_test(test_foreign_and_wrong_state),
        cmocka_unit_test(test_hostile_options),
        cmocka_unit_test(test_resolv_conf_from_leases),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
