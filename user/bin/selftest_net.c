/* selftest_net: the network self-tests of the original SABOS as a user program, written
 * against the Linux socket API (inet_pton/inet_ntop per POSIX and RFC 5952 for IPv6 text,
 * RFC 1035 §4 for the DNS message built and parsed by hand, RFC 9112 for the HTTP request,
 * RFC 4443 §4 for the ICMPv6 echo).
 *   selftest_net [-d NAME] [-u URL] [-s ADDR[#PORT]] [-q QNAME] [-p6 ADDR] [-T SECS]
 * Checks (one "PASS name" / "FAIL name: why" line each, user/include/utest.h):
 *   addr.*   inet_pton/inet_ntop for IPv4 and IPv6, special addresses, malformed input;
 *   dns      getaddrinfo(NAME) gives an address                     (needs -d);
 *   http     GET of URL (http://HOST[:PORT]/PATH): status 200, a body (needs -u);
 *   dnsraw   a DNS query for QNAME (default NAME, else "localhost") type A built by hand,
 *            sent over UDP to ADDR (port 53 or #PORT); the answer's ID, flags, question and
 *            A records are parsed with bounds checks                   (needs -s);
 *   ping6    an ICMPv6 echo to ADDR answered                         (needs -p6).
 * A check whose argument is missing prints "SKIP name". Every wait is bounded by -T (default
 * 5 s). Ends with "selftest_net: PASS" (exit 0) or "selftest_net: FAIL" (exit 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "utest.h"

static int timeout_ms = 5000;

/* Waits for fd to become readable within the timeout; false on timeout or error. */
static bool wait_in(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {}
    return n > 0;
}

static void check_pton(const char *name, int af, const char *text, int want_ret, const char *want_text) {
    uint8_t buf[16];
    char out[INET6_ADDRSTRLEN];
    int r = inet_pton(af, text, buf);
    if (r != want_ret) { fail(name, "inet_pton(\"%s\") = %d, want %d", text, r, want_ret); return; }
    if (r == 1 && want_text) {
        if (!inet_ntop(af, buf, out, sizeof(out))) { fail(name, "inet_ntop failed: %s", strerror(errno)); return; }
        if (strcmp(out, want_text) != 0) { fail(name, "\"%s\" -> \"%s\", want \"%s\"", text, out, want_text); return; }
    }
    pass(name);
}

static void test_addresses(void) {
    check_pton("addr.v4_basic", AF_INET, "192.168.1.10", 1, "192.168.1.10");
    check_pton("addr.v4_any", AF_INET, "0.0.0.0", 1, "0.0.0.0");
    check_pton("addr.v4_broadcast", AF_INET, "255.255.255.255", 1, "255.255.255.255");
    check_pton("addr.v4_octet_too_big", AF_INET, "256.1.1.1", 0, NULL);
    check_pton("addr.v4_too_few", AF_INET, "1.2.3", 0, NULL);
    check_pton("addr.v4_too_many", AF_INET, "1.2.3.4.5", 0, NULL);
    check_pton("addr.v4_garbage", AF_INET, "1.2.3.x", 0, NULL);
    check_pton("addr.v4_empty", AF_INET, "", 0, NULL);
    check_pton("addr.v6_loopback", AF_INET6, "::1", 1, "::1");
    check_pton("addr.v6_any", AF_INET6, "::", 1, "::");
    check_pton("addr.v6_compress", AF_INET6, "2001:db8:0:0:0:0:0:1", 1, "2001:db8::1");
    check_pton("addr.v6_lowercase", AF_INET6, "FE80::ABCD", 1, "fe80::abcd");
    check_pton("addr.v6_mapped", AF_INET6, "::ffff:10.0.0.1", 1, "::ffff:10.0.0.1");
    check_pton("addr.v6_two_gaps", AF_INET6, "1::2::3", 0, NULL);
    check_pton("addr.v6_group_too_long", AF_INET6, "12345::1", 0, NULL);
    check_pton("addr.v6_too_many_groups", AF_INET6, "1:2:3:4:5:6:7:8:9", 0, NULL);
    check_pton("addr.v6_garbage", AF_INET6, "fe80::g", 0, NULL);
    errno = 0;
    uint8_t buf[16];
    if (inet_pton(12345, "1.2.3.4", buf) == -1 && errno == EAFNOSUPPORT) pass("addr.bad_family");
    else fail("addr.bad_family", "inet_pton with an unknown family must fail with EAFNOSUPPORT");
    char small[4];
    struct in_addr a = {htonl(0x7f000001)};
    if (!inet_ntop(AF_INET, &a, small, sizeof(small)) && errno == ENOSPC) pass("addr.ntop_small_buffer");
    else fail("addr.ntop_small_buffer", "inet_ntop into 4 bytes must fail with ENOSPC");
    struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT, ll;
    inet_pton(AF_INET6, "fe80::1", &ll);
    if (IN6_IS_ADDR_LOOPBACK(&lo6) && IN6_IS_ADDR_LINKLOCAL(&ll) && !IN6_IS_ADDR_LINKLOCAL(&lo6))
        pass("addr.v6_classes");
    else fail("addr.v6_classes", "loopback / link-local classification wrong");
}

static void test_dns(const char *name) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int e = getaddrinfo(name, NULL, &hints, &res);
    if (e) { fail("dns", "getaddrinfo(%s): %s", name, gai_strerror(e)); return; }
    char a[INET6_ADDRSTRLEN] = "?";
    if (res->ai_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, a, sizeof(a));
    else inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, a, sizeof(a));
    printf("  %s -> %s\n", name, a);
    freeaddrinfo(res);
    pass("dns");
}

static void test_http(const char *url) {
    char host[256], port[8] = "80";
    const char *path;
    if (strncmp(url, "http://", 7) != 0) { fail("http", "URL must start with http://"); return; }
    const char *h = url + 7, *hend;
    if (*h == '[') {
        hend = strchr(h, ']');
        if (!hend) { fail("http", "bad IPv6 literal in URL"); return; }
        h++;
    } else hend = h + strcspn(h, ":/");
    if (hend == h || (size_t)(hend - h) >= sizeof(host)) { fail("http", "bad host in URL"); return; }
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    const char *p = hend + (*hend == ']');
    if (*p == ':') {
        size_t n = strspn(p + 1, "0123456789");
        if (n == 0 || n >= sizeof(port)) { fail("http", "bad port in URL"); return; }
        memcpy(port, p + 1, n);
        port[n] = 0;
        p += 1 + n;
    }
    path = *p == '/' ? p : "/";
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e) { fail("http", "getaddrinfo(%s): %s", host, gai_strerror(e)); return; }
    int s = socket(res->ai_family, SOCK_STREAM, 0);
    if (s < 0 || connect(s, res->ai_addr, res->ai_addrlen) != 0) {
        fail("http", "connect to %s port %s: %s", host, port, strerror(errno));
        freeaddrinfo(res);
        if (s >= 0) close(s);
        return;
    }
    freeaddrinfo(res);
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %.300s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    if (send(s, req, (size_t)n, MSG_NOSIGNAL) != n) { fail("http", "send: %s", strerror(errno)); close(s); return; }
    static char resp[65536];
    size_t got = 0;
    while (got < sizeof(resp) - 1) {
        if (!wait_in(s)) { fail("http", "no answer within %d ms (got %zu bytes)", timeout_ms, got); close(s); return; }
        ssize_t r = recv(s, resp + got, sizeof(resp) - 1 - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(s);
    resp[got] = 0;
    char *body = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.", 7) != 0 || strlen(resp) < 12) { fail("http", "not an HTTP response"); return; }
    if (strncmp(resp + 9, "200", 3) != 0) { fail("http", "status %.3s, want 200", resp + 9); return; }
    if (!body || got - (size_t)(body + 4 - resp) == 0) { fail("http", "no body"); return; }
    printf("  %zu bytes, body %zu bytes\n", got, got - (size_t)(body + 4 - resp));
    pass("http");
}

/* Skips a (possibly compressed) DNS name at off; returns the offset after it, or -1. */
static int skip_name(const uint8_t *m, int len, int off) {
    for (int labels = 0; labels < 128; labels++) {
        if (off >= len) return -1;
        uint8_t l = m[off];
        if (l == 0) return off + 1;
        if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : -1;
        if (l & 0xc0) return -1;
        off += 1 + l;
    }
    return -1;
}

static void test_dnsraw(const char *server, const char *qname) {
    char addr[INET6_ADDRSTRLEN + 8];
    snprintf(addr, sizeof(addr), "%s", server);
    int port = 53;
    char *hash = strchr(addr, '#');
    if (hash) {
        *hash = 0;
        port = atoi(hash + 1);
        if (port < 1 || port > 65535) { fail("dnsraw", "bad port in %s", server); return; }
    }
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else { fail("dnsraw", "server must be a numeric address: %s", server); return; }

    uint8_t q[512];
    uint16_t id = (uint16_t)(getpid() ^ time(NULL));
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8); q[1] = (uint8_t)id;
    q[2] = 0x01;              /* RD */
    q[5] = 1;                 /* QDCOUNT */
    int off = 12;
    for (const char *p = qname; *p;) {
        size_t l = strcspn(p, ".");
        if (l == 0 || l > 63 || off + 1 + (int)l > 255 + 12) { fail("dnsraw", "bad name %s", qname); return; }
        q[off++] = (uint8_t)l;
        memcpy(q + off, p, l);
        off += (int)l;
        p += l + (p[l] == '.');
    }
    q[off++] = 0;
    q[off++] = 0; q[off++] = 1;   /* QTYPE A */
    q[off++] = 0; q[off++] = 1;   /* QCLASS IN */
    int qlen = off;

    int s = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (s < 0) { fail("dnsraw", "socket: %s", strerror(errno)); return; }
    uint8_t r[1500];
    ssize_t n = -1;
    for (int attempt = 0; attempt < 2 && n < 0; attempt++) {
        if (sendto(s, q, (size_t)qlen, 0, (struct sockaddr *)&ss, sl) != qlen) {
            fail("dnsraw", "sendto: %s", strerror(errno));
            close(s);
            return;
        }
        while (wait_in(s)) {
            n = recv(s, r, sizeof(r), 0);
            if (n >= 12 && r[0] == q[0] && r[1] == q[1]) break; /* ours */
            n = -1;
        }
    }
    close(s);
    if (n < 0) { fail("dnsraw", "no answer from %s within 2 x %d ms", server, timeout_ms); return; }
    int len = (int)n;
    if (!(r[2] & 0x80)) { fail("dnsraw", "answer without the QR bit"); return; }
    if (r[3] & 0x0f) { fail("dnsraw", "RCODE %d", r[3] & 0x0f); return; }
    int qd = r[4] << 8 | r[5], an = r[6] << 8 | r[7];
    if (qd != 1 || len < qlen || memcmp(r + 12, q + 12, (size_t)(qlen - 12)) != 0) {
        fail("dnsraw", "question not echoed"); return;
    }
    off = qlen;
    int found = 0;
    for (int i = 0; i < an; i++) {
        off = skip_name(r, len, off);
        if (off < 0 || off + 10 > len) { fail("dnsraw", "answer %d truncated", i); return; }
        int type = r[off] << 8 | r[off + 1], rdlen = r[off + 8] << 8 | r[off + 9];
        off += 10;
        if (off + rdlen > len) { fail("dnsraw", "answer %d data truncated", i); return; }
        if (type == 1 && rdlen == 4) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, r + off, a, sizeof(a));
            printf("  %s A %s\n", qname, a);
            found++;
        }
        off += rdlen;
    }
    if (!found) { fail("dnsraw", "no A record in %d answers", an); return; }
    pass("dnsraw");
}

static void test_ping6(const char *target) {
    struct sockaddr_in6 dst = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET6, target, &dst.sin6_addr) != 1) { fail("ping6", "not an IPv6 address: %s", target); return; }
    bool raw = false;
    int s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
    if (s < 0) { s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6); raw = true; }
    if (s < 0) { fail("ping6", "socket: %s", strerror(errno)); return; }
    uint8_t pkt[64] = {128, 0, 0, 0, 0x5a, 0xb0, 0, 1};
    memcpy(pkt + 8, "sabos-selftest-net", 18);
    uint16_t ident = (uint16_t)(0x5ab0);
    if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) != sizeof(pkt)) {
        fail("ping6", "sendto: %s", strerror(errno)); close(s); return;
    }
    uint8_t r[1500];
    while (wait_in(s)) {
        ssize_t n = recv(s, r, sizeof(r), 0);
        if (n < 26 || r[0] != 129) continue;
        if (raw && (r[4] << 8 | r[5]) != ident) continue;
        if (memcmp(r + 8, "sabos-selftest-net", 18) != 0) continue;
        close(s);
        pass("ping6");
        return;
    }
    close(s);
    fail("ping6", "no echo reply from %s within %d ms", target, timeout_ms);
}

int main(int argc, char **argv) {
    const char *dname = NULL, *url = NULL, *server = NULL, *qname = NULL, *p6 = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc) { fprintf(stderr, "selftest_net: %s needs a value\n", o); return 2; }
        const char *v = argv[++i];
        if (!strcmp(o, "-d")) dname = v;
        else if (!strcmp(o, "-u")) url = v;
        else if (!strcmp(o, "-s")) server = v;
        else if (!strcmp(o, "-q")) qname = v;
        else if (!strcmp(o, "-p6")) p6 = v;
        else if (!strcmp(o, "-T")) {
            int t = atoi(v);
            if (t < 1 || t > 600) { fprintf(stderr, "selftest_net: bad -T %s\n", v); return 2; }
            timeout_ms = t * 1000;
        } else {
            fprintf(stderr, "usage: selftest_net [-d name] [-u url] [-s addr[#port]] [-q qname] [-p6 addr] [-T secs]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_addresses();
    if (dname) test_dns(dname); else printf("SKIP dns (no -d NAME)\n");
    if (url) test_http(url); else printf("SKIP http (no -u URL)\n");
    if (server) test_dnsraw(server, qname ? qname : dname ? dname : "localhost");
    else printf("SKIP dnsraw (no -s ADDR)\n");
    if (p6) test_ping6(p6); else printf("SKIP ping6 (no -p6 ADDR)\n");
    printf("selftest_net: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
