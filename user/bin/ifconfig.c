/* ifconfig: lists network interfaces for SABOS in the layout of net-tools ifconfig(8), the way
 * net-tools gets its data on Linux, so the same program works on SABOS and on a Linux host:
 * names and counters from /proc/net/dev in Linux's format (two header lines, then
 * "NAME: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed rx_multicast
 *  tx_bytes tx_packets tx_errs tx_drop tx_fifo tx_colls tx_carrier tx_compressed", see
 * proc(5)); flags, IPv4 address, netmask, broadcast address, MAC and MTU from the
 * SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFHWADDR and SIOCGIFMTU
 * ioctls (netdevice(7)); IPv6 addresses from /proc/net/if_inet6 (proc(5): "ADDRESS(32 hex)
 * IFINDEX PREFIXLEN SCOPE FLAGS NAME"). musl's getifaddrs needs netlink, which SABOS does not
 * have, so it is not used.
 *   ifconfig [-a] [IFACE]
 *   ifconfig IFACE netem [loss PCT] [duplicate PCT] [reorder PCT] [seed N]
 *   ifconfig IFACE netem off
 * The netem forms set SABOS's fault injection on IFACE (both directions; docs/network.md,
 * "Fault injection (netem)") through the SIOCSABOSNETEM ioctl of sabos.h: PCT is "5", "5%" or
 * "0.5%" (steps of 0.1 %, at most 100); what is not named is 0; "off" sets everything to 0.
 * The listing shows "netem loss L% duplicate D% reorder R%" while any is non-zero.
 * Exit status 0, or 1 when /proc/net/dev cannot be read, IFACE does not exist, the netem
 * arguments are bad or the kernel refuses them. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sabos.h"

static void print_flags(unsigned f) {
    static const struct { unsigned bit; const char *name; } names[] = {
        {IFF_UP, "UP"}, {IFF_BROADCAST, "BROADCAST"}, {IFF_LOOPBACK, "LOOPBACK"},
        {IFF_POINTOPOINT, "POINTOPOINT"}, {IFF_RUNNING, "RUNNING"}, {IFF_NOARP, "NOARP"},
        {IFF_PROMISC, "PROMISC"}, {IFF_MULTICAST, "MULTICAST"}};
    f &= 0xffff; /* the classic SIOCGIFFLAGS bits, as net-tools prints them */
    printf("flags=%u<", f);
    bool first = true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & names[i].bit) {
            printf("%s%s", first ? "" : ",", names[i].name);
            first = false;
        }
    printf(">");
}

/* *ifr zeroed, naming interface name. */
static void ifreq_named(struct ifreq *ifr, const char *name) {
    memset(ifr, 0, sizeof(*ifr));
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

/* The ioctl cmd about interface name into *ifr: 0, or -1 with errno set. */
static int if_ioctl(int sock, unsigned long cmd, const char *name, struct ifreq *ifr) {
    ifreq_named(ifr, name);
    return ioctl(sock, cmd, ifr);
}

/* The SIOCGABOSNETEM answer for interface name: 0, or -1 with errno set. */
static int get_netem(int sock, const char *name, struct sabos_netem *out) {
    struct ifreq ifr;
    memset(out, 0, sizeof(*out));
    ifreq_named(&ifr, name);
    ifr.ifr_data = (char *)out;
    return ioctl(sock, SIOCGABOSNETEM, &ifr);
}

/* A percentage "5", "5%" or "0.5%" (one decimal at most, 0..100) in parts per thousand. */
static bool parse_percent(const char *s, uint16_t *permille) {
    unsigned whole = 0, tenth = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        whole = whole * 10 + (unsigned)(*s - '0');
        if (whole > 100) return false;
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9') return false;
        tenth = (unsigned)(*s++ - '0');
        digits++;
    }
    if (*s == '%') s++;
    if (*s || digits == 0 || whole * 10 + tenth > 1000) return false;
    *permille = (uint16_t)(whole * 10 + tenth);
    return true;
}

/* "ifconfig IFACE netem ...": args are the words after "netem". Exit status. */
static int set_netem(const char *name, int argc, char **args) {
    static const char usage[] = "usage: ifconfig IFACE netem [loss PCT] [duplicate PCT] [reorder PCT] [seed N]\n"
                                "       ifconfig IFACE netem off\n";
    struct sabos_netem ne = {0};
    if (argc == 0 || (strcmp(args[0], "off") == 0 && argc != 1)) {
        fputs(usage, stderr);
        return 1;
    }
    for (int i = 0; strcmp(args[0], "off") != 0 && i < argc; i += 2) {
        uint16_t *field = strcmp(args[i], "loss") == 0        ? &ne.loss_permille
                          : strcmp(args[i], "duplicate") == 0 ? &ne.duplicate_permille
                          : strcmp(args[i], "reorder") == 0   ? &ne.reorder_permille
                                                              : NULL;
        if (i + 1 >= argc || (!field && strcmp(args[i], "seed") != 0)) {
            fprintf(stderr, "ifconfig: netem: %s '%s'\n", i + 1 >= argc ? "missing value after" : "unknown word", args[i]);
            fputs(usage, stderr);
            return 1;
        }
        if (field && !parse_percent(args[i + 1], field)) {
            fprintf(stderr, "ifconfig: netem: bad percentage '%s' (0 to 100, steps of 0.1)\n", args[i + 1]);
            return 1;
        }
        if (!field) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(args[i + 1], &end, 0);
            if (errno || end == args[i + 1] || *end || v > UINT32_MAX || args[i + 1][0] == '-') {
                fprintf(stderr, "ifconfig: netem: bad seed '%s'\n", args[i + 1]);
                return 1;
            }
            ne.seed = (uint32_t)v;
        }
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        perror("ifconfig: socket");
        return 1;
    }
    struct ifreq ifr;
    if (strlen(name) >= sizeof(ifr.ifr_name)) {
        fprintf(stderr, "%s: error fetching interface information: Device not found\n", name);
        close(sock);
        return 1;
    }
    ifreq_named(&ifr, name);
    ifr.ifr_data = (char *)&ne;
    int r = ioctl(sock, SIOCSABOSNETEM, &ifr);
    int err = errno;
    close(sock);
    if (r != 0) {
        fprintf(stderr, "ifconfig: %s: netem: %s\n", name, err == ENODEV ? "Device not found" : strerror(err));
        return 1;
    }
    return 0;
}

/* The IPv4 address in the sockaddr_in an ioctl returned, as text in buf. */
static const char *ip4_text(const struct sockaddr *sa, char buf[INET_ADDRSTRLEN]) {
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, INET_ADDRSTRLEN);
}

/* The "inet6" lines of interface name from /proc/net/if_inet6 (nothing when it is absent). */
static void show_inet6(const char *name) {
    FILE *f = fopen("/proc/net/if_inet6", "r");
    if (!f) return;
    char hex[33], ifname[IFNAMSIZ];
    unsigned ifindex, prefix, scope, flags;
    while (fscanf(f, "%32s %x %x %x %x %15s", hex, &ifindex, &prefix, &scope, &flags, ifname) == 6) {
        if (strcmp(ifname, name) != 0 || strlen(hex) != 32) continue;
        struct in6_addr a;
        bool ok = true;
        for (int i = 0; i < 16 && ok; i++) {
            unsigned byte;
            ok = sscanf(hex + 2 * i, "%2x", &byte) == 1;
            a.s6_addr[i] = (uint8_t)byte;
        }
        char text[INET6_ADDRSTRLEN];
        if (!ok || !inet_ntop(AF_INET6, &a, text, sizeof(text))) continue;
        const char *scope_name = scope == 0x10 ? "host" : scope == 0x20 ? "link" : scope == 0 ? "global" : "";
        printf("        inet6 %s  prefixlen %u  scopeid 0x%x<%s>\n", text, prefix, scope, scope_name);
    }
    fclose(f);
}

static void show(const char *name, const unsigned long long v[16], int sock) {
    struct ifreq ifr;
    unsigned flags = 0;
    printf("%s: ", name);
    if (sock >= 0 && if_ioctl(sock, SIOCGIFFLAGS, name, &ifr) == 0) {
        flags = (unsigned short)ifr.ifr_flags;
        print_flags(flags);
    }
    if (sock >= 0 && if_ioctl(sock, SIOCGIFMTU, name, &ifr) == 0) printf("  mtu %d", ifr.ifr_mtu);
    printf("\n");
    char a[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    if (sock >= 0 && if_ioctl(sock, SIOCGIFADDR, name, &ifr) == 0 && ip4_text(&ifr.ifr_addr, a)) {
        printf("        inet %s", a);
        if (if_ioctl(sock, SIOCGIFNETMASK, name, &ifr) == 0 && ip4_text(&ifr.ifr_netmask, m))
            printf("  netmask %s", m);
        if ((flags & IFF_BROADCAST) && if_ioctl(sock, SIOCGIFBRDADDR, name, &ifr) == 0 &&
            ip4_text(&ifr.ifr_broadaddr, b))
            printf("  broadcast %s", b);
        printf("\n");
    }
    show_inet6(name);
    if (sock >= 0 && if_ioctl(sock, SIOCGIFHWADDR, name, &ifr) == 0) {
        const unsigned char *mac = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
        if (ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER)
            printf("        ether %02x:%02x:%02x:%02x:%02x:%02x  (Ethernet)\n", mac[0], mac[1], mac[2], mac[3], mac[4],
                   mac[5]);
        else if (ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK)
            printf("        loop  (Local Loopback)\n");
    }
    struct sabos_netem ne;
    if (sock >= 0 && get_netem(sock, name, &ne) == 0 && (ne.loss_permille || ne.duplicate_permille || ne.reorder_permille))
        printf("        netem loss %u.%u%% duplicate %u.%u%% reorder %u.%u%%\n", ne.loss_permille / 10,
               ne.loss_permille % 10, ne.duplicate_permille / 10, ne.duplicate_permille % 10, ne.reorder_permille / 10,
               ne.reorder_permille % 10);
    printf("        RX packets %llu  bytes %llu\n", v[1], v[0]);
    printf("        RX errors %llu  dropped %llu  overruns %llu  frame %llu\n", v[2], v[3], v[4], v[5]);
    printf("        TX packets %llu  bytes %llu\n", v[9], v[8]);
    printf("        TX errors %llu  dropped %llu overruns %llu  carrier %llu  collisions %llu\n\n", v[10], v[11],
           v[12], v[14], v[13]);
}

int main(int argc, char **argv) {
    const char *only = NULL;
    if (argc >= 3 && strcmp(argv[2], "netem") == 0) return set_netem(argv[1], argc - 3, argv + 3);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-a") == 0) continue;
        if (argv[i][0] == '-' || only) {
            fprintf(stderr, "usage: ifconfig [-a] [interface]\n       ifconfig IFACE netem [loss PCT] [duplicate PCT] [reorder PCT] [seed N] | off\n");
            return 1;
        }
        only = argv[i];
    }
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f) {
        perror("ifconfig: /proc/net/dev");
        return 1;
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* for the ioctls: any socket will do */
    char line[512];
    int lineno = 0;
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        if (++lineno <= 2) continue; /* the two header lines */
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *name = line;
        while (*name == ' ') name++;
        if (!*name || strlen(name) >= IFNAMSIZ) continue;
        unsigned long long v[16] = {0};
        char *p = colon + 1, *end;
        int n = 0;
        for (; n < 16; n++) {
            v[n] = strtoull(p, &end, 10);
            if (end == p) break;
            p = end;
        }
        if (n < 16) {
            fprintf(stderr, "ifconfig: /proc/net/dev: malformed line for %s\n", name);
            continue;
        }
        if (only && strcmp(only, name) != 0) continue;
        found = true;
        show(name, v, sock);
    }
    fclose(f);
    if (sock >= 0) close(sock);
    if (only && !found) {
        fprintf(stderr, "%s: error fetching interface information: Device not found\n", only);
        return 1;
    }
    return 0;
}
