/* test_dns.c: host unit tests for the DNS resolver (kernel/net/dns.c): RFC 1035 messages
 * assembled by hand byte by byte (header, question, RRs, §4.1.4 compression), AAAA (RFC
 * 3596), CNAME chains and loops, hostile names (pointer to itself, forward pointers, pointer
 * cycles, labels over 63, names over 255, reserved label types), every truncation of a valid
 * answer, wrong counts, the resolver's retries and server rotation on a fake clock, hosts and
 * resolv.conf parsing, and a fuzzer of 100,000 mutated messages (run under ASan). */
#include "host_stubs.h"
#include <string.h>
#include "kstring.h"
size_t strlcpy(char *d, const char *s, size_t n) {
    size_t l = strlen(s);
    if (n) { size_t c = l < n - 1 ? l : n - 1; memcpy(d, s, c); d[c] = 0; }
    return l;
}
#include "../../kernel/net/dns.c"

/* A captured-style answer: id 0x1234, "example.com" A, one answer via pointer 0xc00c,
 * TTL 3600, 93.184.216.34. */
static const uint8_t example_a[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, 93, 184, 216, 34,
};

/* "www.test" AAAA -> CNAME "host.test" (compressed: 4host + ptr to "test") -> AAAA 2001:db8::1 */
static const uint8_t cname_aaaa[] = {
    0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0, 0x00, 0x1c, 0x00, 0x01,
    /* @26 */ 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x07,
    /* @38 */ 4, 'h', 'o', 's', 't', 0xc0, 0x10,
    /* @45 */ 0xc0, 0x26, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static void test_build_query(void **st) {
    uint8_t b[512];
    int n = dns_build_query(b, sizeof b, 0x1234, "example.com.", DNS_TYPE_A);
    assert_int_equal(n, 29);
    uint8_t want[29];
    memcpy(want, example_a, 29);
    want[2] = 0x01; want[3] = 0x00; want[7] = 0;   /* RD only, no answers */
    assert_memory_equal(b, want, 29);
    assert_int_equal(dns_build_query(b, sizeof b, 1, "", 1), -KEINVAL);
    assert_int_equal(dns_build_query(b, sizeof b, 1, ".", 1), -KEINVAL);
    assert_int_equal(dns_build_query(b, sizeof b, 1, "a..b", 1), -KEINVAL);
    assert_int_equal(dns_build_query(b, sizeof b, 1, ".a", 1), -KEINVAL);
    assert_int_equal(dns_build_query(b, sizeof b, 1, "a b", 1), -KEINVAL);
    char lab[80];
    memset(lab, 'x', 64); lab[64] = 0;
    assert_int_equal(dns_build_query(b, sizeof b, 1, lab, 1), -KENAMETOOLONG);
    lab[63] = 0;
    assert_true(dns_build_query(b, sizeof b, 1, lab, 1) > 0);
    char big[300];
    for (int i = 0; i < 299; i++) big[i] = (i % 2) ? '.' : 'a';
    big[253] = 0;          /* 253 chars: "a.a....a" fits exactly */
    assert_true(dns_build_query(b, sizeof b, 1, big, 1) > 0);
    big[253] = '.'; big[254] = 'a'; big[255] = 0;
    assert_int_equal(dns_build_query(b, sizeof b, 1, big, 1), -KENAMETOOLONG);
    assert_int_equal(dns_build_query(b, 20, 1, "example.com", 1), -KENOSPC);
}

static void test_parse_example(void **st) {
    struct dns_result r;
    assert_int_equal(dns_parse_response(example_a, sizeof example_a, 0x1234, "EXAMPLE.com.", DNS_TYPE_A, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.addrs[0].family, NET_AF_INET);
    assert_int_equal(net_get32(r.addrs[0].v4), 0x5db8d822);
    assert_int_equal(r.ttl, 3600);
    assert_string_equal(r.canon, "example.com");
    /* wrong id, wrong name, wrong type */
    assert_int_equal(dns_parse_response(example_a, sizeof example_a, 0x1235, "example.com", 1, &r), -KEPROTO);
    assert_int_equal(dns_parse_response(example_a, sizeof example_a, 0x1234, "example.org", 1, &r), -KEPROTO);
    assert_int_equal(dns_parse_response(example_a, sizeof example_a, 0x1234, "example.com", 28, &r), -KEPROTO);
}

static void test_every_truncation(void **st) {
    struct dns_result r;
    for (size_t n = 0; n < sizeof example_a; n++)
        assert_int_equal(dns_parse_response(example_a, n, 0x1234, "example.com", 1, &r), -KEPROTO);
    for (size_t n = 0; n < sizeof cname_aaaa; n++)
        assert_int_equal(dns_parse_response(cname_aaaa, n, 0xbeef, "www.test", 28, &r), -KEPROTO);
}

static void test_flags_and_counts(void **st) {
    uint8_t m[sizeof example_a];
    struct dns_result r;
#define RESET() memcpy(m, example_a, sizeof m)
    RESET(); m[2] = 0x01;                 /* QR clear: a query, not a response */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[2] = 0x83;                 /* TC */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEMSGSIZE);
    RESET(); m[3] = 0x83;                 /* NXDOMAIN */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KENOENT);
    RESET(); m[3] = 0x82;                 /* SERVFAIL */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEAGAIN);
    RESET(); m[3] = 0x84;                 /* NOTIMP */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[5] = 0;                    /* qdcount 0 */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[5] = 2;                    /* qdcount 2 */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[7] = 2;                    /* ancount larger than the records present */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[6] = 0xff; m[7] = 0xff;
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[7] = 0;                    /* no answers: no data */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KENODATA);
    RESET(); m[40] = 5;                   /* A rdlength 5 */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
    RESET(); m[40] = 3;                   /* A rdlength 3: trailing byte -> count fine? no, 3 != 4 */
    assert_int_equal(dns_parse_response(m, sizeof m, 0x1234, "example.com", 1, &r), -KEPROTO);
}

static void test_names_hostile(void **st) {
    char out[DNS_MAX_TEXT];
    size_t off;
    /* pointer to itself */
    uint8_t self[] = {0, 0, 0xc0, 0x02};
    off = 2; assert_int_equal(dns_read_name(self, sizeof self, &off, out, sizeof out), -KEPROTO);
    /* pointer forward (to a later offset) */
    uint8_t fwd[] = {0xc0, 0x02, 1, 'a', 0};
    off = 0; assert_int_equal(dns_read_name(fwd, sizeof fwd, &off, out, sizeof out), -KEPROTO);
    /* cycle through a label: @0 "1a" then pointer to 0 */
    uint8_t cyc[] = {1, 'a', 0xc0, 0x00};
    off = 0; assert_int_equal(dns_read_name(cyc, sizeof cyc, &off, out, sizeof out), -KEPROTO);
    /* two pointers to each other */
    uint8_t pp[] = {0xc0, 0x02, 0xc0, 0x00};
    off = 2; assert_int_equal(dns_read_name(pp, sizeof pp, &off, out, sizeof out), -KEPROTO);
    /* pointer past the end */
    uint8_t past[] = {1, 'a', 0, 0xc0 | 0x3f, 0xff};
    off = 3; assert_int_equal(dns_read_name(past, sizeof past, &off, out, sizeof out), -KEPROTO);
    /* half a pointer at the end */
    uint8_t half[] = {1, 'a', 0, 0xc0};
    off = 3; assert_int_equal(dns_read_name(half, sizeof half, &off, out, sizeof out), -KEPROTO);
    /* reserved label types 0x40 and 0x80 */
    uint8_t r40[] = {0x41, 'a', 0}, r80[] = {0x81, 'a', 0};
    off = 0; assert_int_equal(dns_read_name(r40, sizeof r40, &off, out, sizeof out), -KEPROTO);
    off = 0; assert_int_equal(dns_read_name(r80, sizeof r80, &off, out, sizeof out), -KEPROTO);
    /* label running past the end, missing root */
    uint8_t run[] = {5, 'a', 'b'}, noroot[] = {1, 'a'};
    off = 0; assert_int_equal(dns_read_name(run, sizeof run, &off, out, sizeof out), -KEPROTO);
    off = 0; assert_int_equal(dns_read_name(noroot, sizeof noroot, &off, out, sizeof out), -KEPROTO);
    /* a dot or NUL inside a label */
    uint8_t dot[] = {3, 'a', '.', 'b', 0};
    off = 0; assert_int_equal(dns_read_name(dot, sizeof dot, &off, out, sizeof out), -KEPROTO);
    /* name over 255 bytes through a chain of backward pointers: 5 x (63-byte label) */
    uint8_t longn[5 * 66 + 2];
    size_t o = 0, prev = 0;
    for (int i = 0; i < 5; i++) {
        size_t start = o;
        longn[o++] = 63;
        memset(longn + o, 'a' + i, 63); o += 63;
        if (i == 0) longn[o++] = 0;
        else { longn[o++] = 0xc0 | (uint8_t)(prev >> 8); longn[o++] = (uint8_t)prev; }
        prev = start;
    }
    off = prev; assert_int_equal(dns_read_name(longn, o, &off, out, sizeof out), -KENAMETOOLONG);
    off = 0; assert_int_equal(dns_read_name(longn, o, &off, out, sizeof out), 0);
    assert_int_equal(strlen(out), 63);
    /* the walk ends after a pointer: offset is just past the first pointer */
    off = 26 + 12; /* cname target "host" + ptr inside cname_aaaa */
    assert_int_equal(dns_read_name(cname_aaaa, sizeof cname_aaaa, &off, out, sizeof out), 0);
    assert_string_equal(out, "host.test");
    assert_int_equal(off, 45);
    /* small output buffer */
    off = 0; assert_int_equal(dns_read_name(example_a + 0, sizeof example_a, &(size_t){12}, out, 5), -KENOSPC);
    (void)off;
}

static void test_cname_aaaa(void **st) {
    struct dns_result r;
    assert_int_equal(dns_parse_response(cname_aaaa, sizeof cname_aaaa, 0xbeef, "www.test", 28, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.addrs[0].family, NET_AF_INET6);
    assert_int_equal(r.addrs[0].v6[0], 0x20);
    assert_int_equal(r.addrs[0].v6[15], 1);
    assert_int_equal(r.cnames, 1);
    assert_string_equal(r.canon, "host.test");
    assert_int_equal(r.ttl, 60);
}

/* Builds a response for "a0" A whose answers are CNAME a<i> -> a<i+1> for i < links, and
 * then (if addr) an A record for the last name, or a CNAME back to a0 when loop. */
static size_t chain_msg(uint8_t *m, int links, bool addr, bool loop) {
    size_t o = 0;
    uint8_t h[12] = {0, 7, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(m, h, 12); o = 12;
    m[o++] = 2; m[o++] = 'a'; m[o++] = '0'; m[o++] = 0;
    m[o++] = 0; m[o++] = 1; m[o++] = 0; m[o++] = 1;
    int an = 0;
    for (int i = 0; i < links; i++, an++) {
        m[o++] = 2; m[o++] = 'a'; m[o++] = (uint8_t)('0' + i); m[o++] = 0;
        uint8_t f[10] = {0, 5, 0, 1, 0, 0, 0, 9, 0, 4};
        memcpy(m + o, f, 10); o += 10;
        int t = (loop && i == links - 1) ? 0 : i + 1;
        m[o++] = 2; m[o++] = 'a'; m[o++] = (uint8_t)('0' + t); m[o++] = 0;
    }
    if (addr) {
        m[o++] = 2; m[o++] = 'a'; m[o++] = (uint8_t)('0' + links); m[o++] = 0;
        uint8_t f[14] = {0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1};
        memcpy(m + o, f, 14); o += 14;
        an++;
    }
    m[7] = (uint8_t)an;
    return o;
}

static void test_cname_chains(void **st) {
    uint8_t m[512];
    struct dns_result r;
    size_t n = chain_msg(m, 8, true, false);          /* 8 links: allowed */
    assert_int_equal(dns_parse_response(m, n, 7, "a0", 1, &r), 0);
    assert_int_equal(r.cnames, 8);
    assert_string_equal(r.canon, "a8");
    assert_int_equal(r.ttl, 5);
    n = chain_msg(m, 9, true, false);                 /* 9 links: too long */
    assert_int_equal(dns_parse_response(m, n, 7, "a0", 1, &r), -KELOOP);
    n = chain_msg(m, 2, false, true);                 /* a0 -> a1 -> a0 */
    assert_int_equal(dns_parse_response(m, n, 7, "a0", 1, &r), -KELOOP);
    n = chain_msg(m, 3, false, false);                /* dangling chain: no data */
    assert_int_equal(dns_parse_response(m, n, 7, "a0", 1, &r), -KENODATA);
}

static void test_addr_text(void **st) {
    uint8_t a[16];
    assert_true(dns_parse_ip4("10.0.2.3", 8, a));
    assert_int_equal(net_get32(a), 0x0a000203);
    const char *bad4[] = {"", "1.2.3", "1.2.3.4.", "1.2.3.256", "1..2.3", "a.b.c.d", "1.2.3.4 ", "0001.2.3.4"};
    for (size_t i = 0; i < sizeof bad4 / sizeof *bad4; i++) assert_false(dns_parse_ip4(bad4[i], strlen(bad4[i]), a));
    assert_true(dns_parse_ip6("::", 2, a));
    for (int i = 0; i < 16; i++) assert_int_equal(a[i], 0);
    assert_true(dns_parse_ip6("::1", 3, a));
    assert_int_equal(a[15], 1);
    assert_true(dns_parse_ip6("fe80::1:2", 9, a));
    assert_int_equal(net_get16(a), 0xfe80); assert_int_equal(net_get16(a + 12), 1); assert_int_equal(net_get16(a + 14), 2);
    assert_true(dns_parse_ip6("2001:DB8:0:0:0:0:0:1", 20, a));
    assert_int_equal(net_get16(a + 2), 0xdb8);
    assert_true(dns_parse_ip6("::ffff:10.0.2.2", 15, a));
    assert_int_equal(net_get16(a + 10), 0xffff); assert_int_equal(a[12], 10); assert_int_equal(a[15], 2);
    assert_true(dns_parse_ip6("1::", 3, a));
    assert_int_equal(net_get16(a), 1);
    const char *bad6[] = {"", ":", ":::", "1:2", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::",
                          ":1::", "1:", "1:2:3:4:5:6:7::8", "::1.2.3", "1.2.3.4::"};
    for (size_t i = 0; i < sizeof bad6 / sizeof *bad6; i++) assert_false(dns_parse_ip6(bad6[i], strlen(bad6[i]), a));
}

static void test_hosts_resolvconf(void **st) {
    const char *hosts = "# comment line\n127.0.0.1\tlocalhost   LoopBack # trailing\n"
                        "::1 localhost ip6-localhost\n  junk line here\n999.1.1.1 broken\n"
                        "10.0.2.2 gateway\n10.0.2.22 gateway\n\n#10.9.9.9 commented";
    struct net_addr out[4];
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "localhost", NET_AF_INET, out, 4), 1);
    assert_int_equal(net_get32(out[0].v4), 0x7f000001);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "LOCALHOST.", NET_AF_INET6, out, 4), 1);
    assert_int_equal(out[0].v6[15], 1);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "localhost", 0, out, 4), 2);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "loopback", NET_AF_INET, out, 4), 1);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "gateway", NET_AF_INET, out, 4), 2);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "gateway", NET_AF_INET, out, 1), 1);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "broken", 0, out, 4), 0);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "commented", 0, out, 4), 0);
    assert_int_equal(dns_hosts_lookup(hosts, strlen(hosts), "junk", 0, out, 4), 0);
    assert_int_equal(dns_hosts_lookup(hosts, 20, "localhost", 0, out, 4), 0);  /* cut mid-line */
    const char *rc = "; comment\n# another\nsearch example.com\nnameserver 10.0.2.3\n"
                     "nameserver   fe80::1  # v6\nnameserver bogus\nnameservers 1.1.1.1\n"
                     "  nameserver\t8.8.8.8\nnameserver 9.9.9.9\nnameserver";
    struct net_addr s[3];
    assert_int_equal(dns_parse_resolv_conf(rc, strlen(rc), s, 3), 3);
    assert_int_equal(net_get32(s[0].v4), 0x0a000203);
    assert_int_equal(s[1].family, NET_AF_INET6);
    assert_int_equal(net_get32(s[2].v4), 0x08080808);
}

/* ---- resolver with a fake network and clock ---- */
static struct net_addr sent_to[32];
static uint8_t last_q[512];
static size_t last_len;
static int nsent;
static uint16_t next_id = 100;
static int fake_send(void *ctx, const struct net_addr *srv, const uint8_t *m, size_t len) {
    if (nsent < 32) sent_to[nsent] = *srv;
    nsent++;
    memcpy(last_q, m, len);
    last_len = len;
    return 0;
}
static uint16_t fake_rand(void *ctx) { return next_id++; }

static void init_resolver(struct dns_resolver *r, int nservers) {
    memset(r, 0, sizeof *r);
    r->ops.send = fake_send;
    r->ops.rand16 = fake_rand;
    for (int i = 0; i < nservers; i++) r->servers[i] = net_addr4(0x0a000201 + (uint32_t)i);
    r->nservers = nservers;
    r->timeout_ns = 1000;
    nsent = 0;
}

/* The example answer rewritten for the resolver's current query. */
static size_t answer_for(const uint8_t *q, uint8_t *m) {
    memcpy(m, example_a, sizeof example_a);
    m[0] = q[0]; m[1] = q[1];
    return sizeof example_a;
}

static void test_resolver_rotation(void **st) {
    struct dns_resolver r;
    init_resolver(&r, 3);
    assert_int_equal(dns_resolver_start(&r, "example.com", DNS_TYPE_A, NULL, 0, 0), 0);
    assert_int_equal(nsent, 1);
    assert_int_equal(net_get32(sent_to[0].v4), 0x0a000201);
    assert_int_equal(dns_resolver_tick(&r, 999), 0);
    assert_int_equal(nsent, 1);
    assert_int_equal(dns_resolver_tick(&r, 1000), 0);     /* timeout: server 2 */
    assert_int_equal(nsent, 2);
    assert_int_equal(net_get32(sent_to[1].v4), 0x0a000202);
    assert_int_not_equal(net_get16(last_q), 100);         /* a fresh id per try */
    uint8_t m[512];
    size_t n = answer_for(last_q, m);
    /* spoofs: wrong server, wrong port, wrong id */
    struct net_addr s1 = net_addr4(0x0a000201), s2 = net_addr4(0x0a000202);
    assert_int_equal(dns_resolver_input(&r, &s1, 53, m, n, 1500), 0);
    assert_int_equal(dns_resolver_input(&r, &s2, 5353, m, n, 1500), 0);
    m[1] ^= 1;
    assert_int_equal(dns_resolver_input(&r, &s2, 53, m, n, 1500), 0);
    m[1] ^= 1;
    /* garbage with the right id: ignored, still waiting */
    assert_int_equal(dns_resolver_input(&r, &s2, 53, m, 20, 1500), 0);
    assert_int_equal(r.state, DNS_WAITING);
    assert_int_equal(dns_resolver_input(&r, &s2, 53, m, n, 1600), 1);
    assert_int_equal(r.state, DNS_DONE);
    assert_int_equal(net_get32(r.result.addrs[0].v4), 0x5db8d822);
}

static void test_resolver_timeout_and_servfail(void **st) {
    struct dns_resolver r;
    init_resolver(&r, 2);
    r.attempts = 2;
    assert_int_equal(dns_resolver_start(&r, "example.com", DNS_TYPE_A, NULL, 0, 0), 0);
    uint64_t t = 0;
    int done = 0;
    for (int i = 0; i < 10 && !done; i++) { t += 1000; done = dns_resolver_tick(&r, t); }
    assert_int_equal(done, 1);
    assert_int_equal(nsent, 4);                           /* 2 servers x 2 rounds */
    assert_int_equal(net_get32(sent_to[2].v4), 0x0a000201);
    assert_int_equal(r.state, DNS_FAILED);
    assert_int_equal(r.error, -KETIMEDOUT);
    /* SERVFAIL moves on at once; the final error is the server's */
    init_resolver(&r, 2);
    r.attempts = 1;
    dns_resolver_start(&r, "example.com", DNS_TYPE_A, NULL, 0, 0);
    uint8_t m[512];
    size_t n = answer_for(last_q, m);
    m[3] = 0x82;
    assert_int_equal(dns_resolver_input(&r, &r.servers[0], 53, m, n, 10), 0);
    assert_int_equal(nsent, 2);
    n = answer_for(last_q, m);
    m[3] = 0x82;
    assert_int_equal(dns_resolver_input(&r, &r.servers[1], 53, m, n, 20), 1);
    assert_int_equal(r.error, -KEAGAIN);
    /* NXDOMAIN is final */
    init_resolver(&r, 2);
    dns_resolver_start(&r, "example.com", DNS_TYPE_A, NULL, 0, 0);
    n = answer_for(last_q, m);
    m[3] = 0x83;
    assert_int_equal(dns_resolver_input(&r, &r.servers[0], 53, m, n, 10), 1);
    assert_int_equal(r.error, -KENOENT);
    assert_int_equal(nsent, 1);
}

static void test_resolver_shortcuts(void **st) {
    struct dns_resolver r;
    init_resolver(&r, 1);
    const char *hosts = "10.1.2.3 example.com\n";
    assert_int_equal(dns_resolver_start(&r, "example.com", DNS_TYPE_A, hosts, strlen(hosts), 0), 1);
    assert_int_equal(nsent, 0);                           /* hosts first, no query */
    assert_int_equal(net_get32(r.result.addrs[0].v4), 0x0a010203);
    assert_int_equal(dns_resolver_start(&r, "10.9.8.7", DNS_TYPE_A, NULL, 0, 0), 1);
    assert_int_equal(net_get32(r.result.addrs[0].v4), 0x0a090807);
    assert_int_equal(dns_resolver_start(&r, "::1", DNS_TYPE_A, NULL, 0, 0), -KENODATA);
    assert_int_equal(dns_resolver_start(&r, "a..b", DNS_TYPE_A, NULL, 0, 0), -KEINVAL);
    assert_int_equal(dns_resolver_start(&r, "x", 99, NULL, 0, 0), -KEINVAL);
    init_resolver(&r, 0);
    assert_int_equal(dns_resolver_start(&r, "example.com", DNS_TYPE_A, NULL, 0, 0), -KEINVAL);
    assert_int_equal(r.state, DNS_FAILED);
}

static uint32_t rnd(uint32_t *s) { *s = *s * 1103515245u + 12345u; return *s >> 8; }

/* 100,000 mutated messages: random byte flips, truncations, splices and count changes of
 * the valid answers; the parser must return without crashing (ASan/UBSan watch). */
static void test_fuzz(void **st) {
    uint32_t seed = 12345;
#define RND() rnd(&seed)
    const uint8_t *base[] = {example_a, cname_aaaa};
    const size_t blen[] = {sizeof example_a, sizeof cname_aaaa};
    int ok = 0;
    for (int it = 0; it < 100000; it++) {
        int b = (int)(RND() & 1);
        uint8_t m[600];
        size_t n = blen[b];
        memcpy(m, base[b], n);
        int muts = 1 + (int)(RND() % 6);
        for (int k = 0; k < muts; k++) {
            switch (RND() % 5) {
            case 0: { size_t i = RND() % n; m[i] = (uint8_t)RND(); } break;
            case 1: { size_t i = RND() % n; m[i] ^= (uint8_t)(1u << (RND() % 8)); } break;
            case 2: n = RND() % (n + 1); if (!n) n = 1; break;
            case 3: { size_t i = 12 + RND() % (n > 12 ? n - 12 : 1); m[i] = (uint8_t)(0xc0 | (RND() & 1)); } break;
            case 4: if (n + 40 < sizeof m) { for (int j = 0; j < 40; j++) m[n + j] = (uint8_t)RND(); n += 40; } break;
            }
        }
        struct dns_result r;
        int e = dns_parse_response(m, n, net_get16(m), b ? "www.test" : "example.com", b ? 28 : 1, &r);
        if (e == 0) { ok++; assert_true(r.count >= 1 && r.count <= DNS_MAX_ADDRS); }
        char out[DNS_MAX_TEXT];
        size_t off = RND() % n;
        if (dns_read_name(m, n, &off, out, sizeof out) == 0) assert_true(strlen(out) <= 253 && off <= n);
    }
    assert_true(ok > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_query),
        cmocka_unit_test(test_parse_example),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_flags_and_counts),
        cmocka_unit_test(test_names_hostile),
        cmocka_unit_test(test_cname_aaaa),
        cmocka_unit_test(test_cname_chains),
        cmocka_unit_test(test_addr_text),
        cmocka_unit_test(test_hosts_resolvconf),
        cmocka_unit_test(test_resolver_rotation),
        cmocka_unit_test(test_resolver_timeout_and_servfail),
        cmocka_unit_test(test_resolver_shortcuts),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
