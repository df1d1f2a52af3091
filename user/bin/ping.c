/* ping: ICMP / ICMPv6 echo for SABOS (RFC 792 echo request/reply; RFC 4443 §4.1-4.2 for
 * ICMPv6 echo; RFC 1071 checksum), written against the Linux socket API. Output and exit
 * status follow iputils ping(8):
 *   ping [-4|-6] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] [-q] HOST
 * It first opens an unprivileged "ping socket" (SOCK_DGRAM with IPPROTO_ICMP / IPPROTO_ICMPV6,
 * allowed on Linux by /proc/sys/net/ipv4/ping_group_range; the kernel then chooses the echo
 * identifier, filters replies and strips the IP header) and falls back to SOCK_RAW (root).
 * INTERVAL and TIMEOUT are seconds with up to three decimals ("0.2"); all arithmetic is in
 * integers (microseconds). A reply is awaited up to TIMEOUT (default 10 s) after the last
 * request. Exit status: 0 when a reply came, 1 when none did, 2 on errors. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void on_int(int sig) { interrupted = 1; }

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Parses "S", "S.F", ".F" seconds (three decimals at most) into microseconds; -1 if invalid. */
static int64_t parse_secs(const char *s) {
    int64_t v = 0, frac = 0, scale = 100000;
    const char *p = s;
    if (!*p) return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > 100000) return -1;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (scale >= 1000) frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p || p == s) return -1;
    return v * 1000000 + frac;
}

static uint16_t cksum(const void *data, size_t len) {
    const uint8_t *b = data;
    uint32_t sum = 0;
    for (; len > 1; len -= 2, b += 2) sum += (uint32_t)(b[0] << 8 | b[1]);
    if (len) sum += (uint32_t)(b[0] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

static uint64_t isqrt(uint64_t n) {
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > n) bit >>= 2;
    for (; bit; bit >>= 2) {
        if (n >= r + bit) { n -= r + bit; r = (r >> 1) + bit; }
        else r >>= 1;
    }
    return r;
}

static void usage(void) {
    fprintf(stderr, "usage: ping [-4|-6] [-c count] [-i interval] [-W timeout] [-s size] [-q] host\n");
    exit(2);
}

int main(int argc, char **argv) {
    int family = AF_UNSPEC, c;
    long count = -1, size = 56;
    int64_t interval = 1000000, timeout = 10000000;
    bool quiet = false;
    while ((c = getopt(argc, argv, "46c:i:W:s:q")) != -1) {
        char *e;
        switch (c) {
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 'q': quiet = true; break;
        case 'c':
            count = strtol(optarg, &e, 10);
            if (!*optarg || *e || count < 1 || count > 1000000000) {
                fprintf(stderr, "ping: invalid argument: '%s'\n", optarg);
                return 2;
            }
            break;
        case 's':
            size = strtol(optarg, &e, 10);
            if (!*optarg || *e || size < 16 || size > 65000) {
                fprintf(stderr, "ping: invalid packet size: '%s' (16..65000)\n", optarg);
                return 2;
            }
            break;
        case 'i': case 'W': {
            int64_t v = parse_secs(optarg);
            if (v < 0 || (c == 'i' && v < 1000)) {
                fprintf(stderr, "ping: bad %s: '%s'\n", c == 'i' ? "timing interval" : "linger time", optarg);
                return 2;
            }
            if (c == 'i') interval = v;
            else timeout = v;
            break;
        }
        default: usage();
        }
    }
    if (optind != argc - 1) usage();
    const char *host = argv[optind];

    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM}, *res;
    int e = getaddrinfo(host, NULL, &hints, &res);
    if (e) {
        fprintf(stderr, "ping: %s: %s\n", host, gai_strerror(e));
        return 2;
    }
    struct sockaddr_storage dst;
    socklen_t dlen = res->ai_addrlen;
    memcpy(&dst, res->ai_addr, dlen);
    family = res->ai_family;
    freeaddrinfo(res);
    bool v6 = family == AF_INET6;
    int proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;

    bool raw = false;
    int s = socket(family, SOCK_DGRAM, proto);
    if (s < 0) {
        int err = errno;
        s = socket(family, SOCK_RAW, proto);
        if (s < 0) {
            fprintf(stderr, "ping: socket: %s (ping sockets: %s; raw sockets need root)\n",
                    strerror(errno), strerror(err));
            return 2;
        }
        raw = true;
    }
    int one = 1;
    if (v6) setsockopt(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one));
    else setsockopt(s, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one));

    char addr[INET6_ADDRSTRLEN];
    if (v6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&dst)->sin6_addr, addr, sizeof(addr));
    else inet_ntop(AF_INET, &((struct sockaddr_in *)&dst)->sin_addr, addr, sizeof(addr));
    if (v6) printf("PING %s (%s) %ld data bytes\n", host, addr, size);
    else printf("PING %s (%s) %ld(%ld) bytes of data.\n", host, addr, size, size + 28);
    fflush(stdout);

    struct sigaction sa = {.sa_handler = on_int};
    sigaction(SIGINT, &sa, NULL);

    uint16_t ident = (uint16_t)getpid();
    size_t plen = 8 + (size_t)size;
    uint8_t *pkt = calloc(1, plen), *rx = malloc(65536 + 60);
    if (!pkt || !rx) { fprintf(stderr, "ping: out of memory\n"); return 2; }
    long sent = 0, received = 0;
    int64_t start = now_us(), next = start, last_send = start;
    uint64_t sum = 0, sum2 = 0, tmin = UINT64_MAX, tmax = 0;
    bool err_reported = false;

    while (!interrupted) {
        int64_t t = now_us();
        if ((count < 0 || sent < count) && t >= next) {
            sent++;
            memset(pkt, 0, 8);
            pkt[0] = v6 ? 128 : 8;
            pkt[4] = (uint8_t)(ident >> 8); pkt[5] = (uint8_t)ident;
            pkt[6] = (uint8_t)(sent >> 8);  pkt[7] = (uint8_t)sent;
            memcpy(pkt + 8, &t, sizeof(t));
            for (size_t i = 8 + sizeof(t); i < plen; i++) pkt[i] = (uint8_t)i;
            if (!v6) { uint16_t ck = cksum(pkt, plen); memcpy(pkt + 2, &ck, 2); }
            if (sendto(s, pkt, plen, 0, (struct sockaddr *)&dst, dlen) < 0 && !err_reported) {
                fprintf(stderr, "ping: sendmsg: %s\n", strerror(errno));
                err_reported = true;
            }
            last_send = t;
            next = t + interval;
            continue;
        }
        if (count >= 0 && sent >= count && (received >= count || t >= last_send + timeout)) break;
        int64_t until = (count >= 0 && sent >= count) ? last_send + timeout : next;
        int wait = (int)((until - t + 999) / 1000);
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, wait < 0 ? 0 : wait) <= 0) continue;

        char cbuf[256];
        struct sockaddr_storage from;
        struct iovec iov = {.iov_base = rx, .iov_len = 65536 + 60};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                           .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n = recvmsg(s, &m, MSG_DONTWAIT);
        int64_t arrive = now_us();
        if (n < 0) continue;
        uint8_t *icmp = rx;
        int ttl = -1;
        if (raw && !v6) { /* raw IPv4 sockets deliver the IP header */
            if (n < 20 || (rx[0] >> 4) != 4) continue;
            size_t ihl = (size_t)(rx[0] & 15) * 4;
            if (ihl < 20 || (size_t)n < ihl) continue;
            ttl = rx[8];
            icmp = rx + ihl;
            n -= (ssize_t)ihl;
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
            if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) ||
                (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT))
                memcpy(&ttl, CMSG_DATA(cm), sizeof(int));
        if (n < 8 + (ssize_t)sizeof(int64_t)) continue;
        if (icmp[0] != (v6 ? 129 : 0)) continue;
        if (raw && (icmp[4] << 8 | icmp[5]) != ident) continue;
        uint16_t seq = (uint16_t)(icmp[6] << 8 | icmp[7]);
        int64_t ts;
        memcpy(&ts, icmp + 8, sizeof(ts));
        if (ts < start || ts > arrive) continue; /* not one of ours */
        uint64_t rtt = (uint64_t)(arrive - ts);
        received++;
        sum += rtt;
        sum2 += rtt * rtt;
        if (rtt < tmin) tmin = rtt;
        if (rtt > tmax) tmax = rtt;
        char fa[INET6_ADDRSTRLEN] = "?";
        if (from.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, fa, sizeof(fa));
        else if (from.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, fa, sizeof(fa));
        if (!quiet) {
            printf("%zd bytes from %s: icmp_seq=%u", n, fa, seq);
            if (ttl >= 0) printf(" ttl=%d", ttl);
            printf(" time=%llu.%03llu ms\n", (unsigned long long)(rtt / 1000), (unsigned long long)(rtt % 1000));
            fflush(stdout);
        }
    }
    int64_t total = (now_us() - start) / 1000;
    printf("\n--- %s ping statistics ---\n", host);
    long loss = sent ? (sent - received) * 100 / sent : 0;
    printf("%ld packets transmitted, %ld received, %ld%% packet loss, time %lldms\n", sent, received, loss,
           (long long)total);
    if (received) {
        uint64_t avg = sum / (uint64_t)received;
        uint64_t var = sum2 / (uint64_t)received - avg * avg;
        uint64_t mdev = isqrt(var);
        printf("rtt min/avg/max/mdev = %llu.%03llu/%llu.%03llu/%llu.%03llu/%llu.%03llu ms\n",
               (unsigned long long)(tmin / 1000), (unsigned long long)(tmin % 1000),
               (unsigned long long)(avg / 1000), (unsigned long long)(avg % 1000),
               (unsigned long long)(tmax / 1000), (unsigned long long)(tmax % 1000),
               (unsigned long long)(mdev / 1000), (unsigned long long)(mdev % 1000));
    }
    return received ? 0 : 1;
}
