/* host: DNS lookups for SABOS in the style of bind9's host(1), through the C library
 * resolver (POSIX getaddrinfo / getnameinfo; the resolver reads /etc/hosts and
 * /etc/resolv.conf, RFC 1035 / RFC 3596 for A and AAAA).
 *   host [-4|-6] NAME        prints "NAME has address A" then "NAME has IPv6 address AAAA"
 *   host ADDRESS             reverse lookup: "R.in-addr.arpa domain name pointer NAME."
 * -4 / -6 restrict the lookup to A / AAAA records. A SERVER argument is accepted like bind9's
 * but not used: the C library has no per-query server (documented limitation).
 * Exit status 0 when something was found, 1 otherwise ("Host NAME not found: 3(NXDOMAIN)"). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Prints the reverse-lookup name of an address (in-addr.arpa / ip6.arpa) into out. */
static void arpa_name(const struct sockaddr *sa, char *out, size_t max) {
    size_t n = 0;
    if (sa->sa_family == AF_INET) {
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        snprintf(out, max, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return;
    }
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    for (int i = 15; i >= 0 && n + 4 < max; i--)
        n += (size_t)snprintf(out + n, max - n, "%x.%x.", a[i] & 15, a[i] >> 4);
    snprintf(out + n, max - n, "ip6.arpa");
}

static int reverse(const char *arg, struct addrinfo *ai) {
    char name[NI_MAXHOST], arpa[80];
    arpa_name(ai->ai_addr, arpa, sizeof(arpa));
    int e = getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name), NULL, 0, NI_NAMEREQD);
    if (e) {
        printf("Host %s not found: 3(NXDOMAIN)\n", arpa);
        return 1;
    }
    printf("%s domain name pointer %s.\n", arpa, name);
    return 0;
}

int main(int argc, char **argv) {
    int family = AF_UNSPEC, c;
    while ((c = getopt(argc, argv, "46")) != -1) {
        if (c == '4') family = AF_INET;
        else if (c == '6') family = AF_INET6;
        else {
            fprintf(stderr, "usage: host [-4|-6] name [server]\n");
            return 1;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fprintf(stderr, "usage: host [-4|-6] name [server]\n");
        return 1;
    }
    const char *name = argv[optind];
    if (strlen(name) > 253) {
        fprintf(stderr, "host: '%.40s...' is not a legal name (name too long)\n", name);
        return 1;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(name, NULL, &hints, &res) == 0) {
        int rc = reverse(name, res);
        freeaddrinfo(res);
        return rc;
    }
    hints = (struct addrinfo){.ai_family = family, .ai_socktype = SOCK_STREAM};
    int e = getaddrinfo(name, NULL, &hints, &res);
    if (e == EAI_AGAIN) {
        printf(";; connection timed out; no servers could be reached\n");
        return 1;
    }
    if (e) {
        printf("Host %s not found: 3(NXDOMAIN)\n", name);
        return 1;
    }
    /* A records first, then AAAA, as bind9's host prints them. */
    for (int pass = 0; pass < 2; pass++) {
        int want = pass == 0 ? AF_INET : AF_INET6;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            if (ai->ai_family != want) continue;
            char a[INET6_ADDRSTRLEN];
            const void *p = want == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                            : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
            inet_ntop(want, p, a, sizeof(a));
            printf("%s has %saddress %s\n", name, want == AF_INET ? "" : "IPv6 ", a);
        }
    }
    freeaddrinfo(res);
    return 0;
}
