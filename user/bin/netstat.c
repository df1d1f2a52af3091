/* netstat: lists TCP and UDP sockets for SABOS in the layout of net-tools netstat(8), from
 * /proc/net/tcp, /proc/net/tcp6, /proc/net/udp and /proc/net/udp6 in Linux's format (proc(5);
 * Documentation/networking/proc_net_tcp.rst): after a header line, one socket per line,
 *   "sl: LOCAL_HEX:PORT REMOTE_HEX:PORT ST TXQ:RXQ ...", where an IPv4 address is the 32-bit
 * network-order word printed as a native (little-endian) hex number, an IPv6 address four such
 * words, the port a plain hex number and ST the TCP state number (01 ESTABLISHED ... 0B CLOSING).
 *   netstat [-t] [-u] [-l] [-a] [-n]
 * -t / -u choose TCP / UDP (both by default); without -l or -a only non-listening sockets are
 * shown, -l shows only listening ones (TCP LISTEN, unconnected UDP), -a all. Addresses are
 * always numeric; without -n ports are named from /etc/services when possible.
 * Malformed lines are skipped. Exit status 0, or 1 when no table could be read. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool numeric, show_listen, show_other = true;

static const char *const states[] = {"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
                                     "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"};

/* Parses "HEX:PORT" with 8 (v4) or 32 (v6) hex digits into text "addr:port"; false if malformed. */
static bool format_addr(const char *s, bool v6, const char *proto, char *out, size_t max) {
    size_t digits = v6 ? 32 : 8;
    uint8_t a[16];
    for (size_t w = 0; w < digits / 8; w++) {
        char word[9];
        memcpy(word, s + w * 8, 8);
        word[8] = 0;
        for (int i = 0; i < 8; i++)
            if (!word[i] || !strchr("0123456789abcdefABCDEF", word[i])) return false;
        uint32_t v = (uint32_t)strtoul(word, NULL, 16);
        memcpy(a + w * 4, &v, 4); /* native order, as the kernel printed it */
    }
    if (s[digits] != ':') return false;
    char *end;
    unsigned long port = strtoul(s + digits + 1, &end, 16);
    if (end == s + digits + 1 || port > 65535) return false;
    char host[INET6_ADDRSTRLEN], ps[32];
    static const uint8_t zero[16];
    if (memcmp(a, zero, digits / 2) == 0) strcpy(host, v6 ? "::" : "0.0.0.0");
    else inet_ntop(v6 ? AF_INET6 : AF_INET, a, host, sizeof(host));
    struct servent *se = NULL;
    if (port == 0) strcpy(ps, "*");
    else if (!numeric && (se = getservbyport(htons((uint16_t)port), proto)) != NULL)
        snprintf(ps, sizeof(ps), "%s", se->s_name);
    else snprintf(ps, sizeof(ps), "%lu", port);
    snprintf(out, max, "%s:%s", host, ps);
    return true;
}

/* Prints the sockets of one /proc/net table; returns false when the file cannot be opened. */
static bool table(const char *path, const char *proto, bool v6, bool tcp) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512];
    bool first = true;
    while (fgets(line, sizeof(line), f)) {
        if (first) { first = false; continue; } /* header */
        char local[80], remote[80];
        unsigned st, txq, rxq;
        char la[64], ra[64];
        if (sscanf(line, " %*[0-9]: %79s %79s %x %x:%x", local, remote, &st, &txq, &rxq) != 5) continue;
        if (!format_addr(local, v6, proto, la, sizeof(la)) || !format_addr(remote, v6, proto, ra, sizeof(ra)))
            continue;
        bool listening = tcp ? st == 10 : st == 7;
        if (listening ? !show_listen : !show_other) continue;
        const char *state = tcp ? (st < 12 ? states[st] : "UNKNOWN") : (st == 1 ? "ESTABLISHED" : "");
        printf("%-5s %6u %6u %-23s %-23s %s\n", proto[0] == 't' ? (v6 ? "tcp6" : "tcp") : (v6 ? "udp6" : "udp"),
               rxq, txq, la, ra, state);
    }
    fclose(f);
    return true;
}

int main(int argc, char **argv) {
    bool tcp = false, udp = false, listen_only = false, all = false;
    int c;
    while ((c = getopt(argc, argv, "tulan")) != -1) {
        switch (c) {
        case 't': tcp = true; break;
        case 'u': udp = true; break;
        case 'l': listen_only = true; break;
        case 'a': all = true; break;
        case 'n': numeric = true; break;
        default:
            fprintf(stderr, "usage: netstat [-t] [-u] [-l] [-a] [-n]\n");
            return 1;
        }
    }
    if (!tcp && !udp) tcp = udp = true;
    if (all) show_listen = show_other = true;
    else if (listen_only) { show_listen = true; show_other = false; }
    printf("Active Internet connections (%s)\n",
           all ? "servers and established" : listen_only ? "only servers" : "w/o servers");
    printf("Proto Recv-Q Send-Q Local Address           Foreign Address         State\n");
    int ok = 0;
    if (tcp) ok += table("/proc/net/tcp", "tcp", false, true) + table("/proc/net/tcp6", "tcp", true, true);
    if (udp) ok += table("/proc/net/udp", "udp", false, false) + table("/proc/net/udp6", "udp", true, false);
    if (!ok) {
        fprintf(stderr, "netstat: no socket tables in /proc/net\n");
        return 1;
    }
    return 0;
}
