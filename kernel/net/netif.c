/* netif.c: network interfaces (net.h): registration, the receive entry netif_receive and the
 * transmit path netif_transmit with counters and fault injection. Our own design; the
 * counters follow the meaning of Linux's /proc/net/dev columns (proc(5)); the netem ioctl
 * takes a struct ifreq as netdevice(7) describes it.
 *
 * Fault injection (struct netif_faults, for tests: the host has no netem) works the same in
 * both directions, each with its own held frame: every frame that leaves through
 * netif_transmit or arrives through netif_receive draws from one xorshift32 generator per
 * interface (Marsaglia, "Xorshift RNGs", 2003) seeded by faults.seed: with drop_permille it
 * is lost (counted in tx_dropped / rx_dropped; a sender is told it went, as a wire would),
 * with duplicate_permille it is passed on twice, with reorder_permille it is held back and
 * passed on right after the next frame of its direction. Turning the switch off frees the
 * held frames. Interfaces are never unregistered (so there is no teardown that could hold a
 * frame), the list is append-only and readers walk it without a lock. No scheduler or
 * hardware access here: host tests build this file as it is, without the ioctls.
 *
 * Interface indexes (netdevice(7) ifr_ifindex): "lo" is 1, the other interfaces follow from
 * 2 in registration order. The list is append-only and there is one loopback interface, so
 * an index never changes; it is computed from the list (at most a handful of interfaces)
 * rather than stored.
 *
 * The interface ioctls of netdevice(7) with Linux's numbers and struct ifreq (16-byte name,
 * 24-byte union; net-tools ifconfig uses them): SIOCGIFCONF (the IPv4 address of each
 * interface that has one; a NULL buffer asks for the length needed), SIOCGIFFLAGS,
 * SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFHWADDR, SIOCGIFMTU, SIOCGIFINDEX,
 * SIOCGIFNAME. Errors as Linux: -EFAULT (bad pointer), -ENODEV (no such name or index; the
 * name is cut at 15 characters as Linux does), -EADDRNOTAVAIL (an IPv4 query on an interface
 * without IPv4). Addresses are read without a lock, as a snapshot for display. */
#include "net.h"
#include "kstring.h"
#include "spinlock.h"
#include "printk.h"
#ifndef HOST_TEST
#include "uaccess.h"
#endif

static struct netif *netif_list;
static spinlock_t netif_lock = SPINLOCK_INIT("netif");

/* Adds nif at the end of the list after checking its name and operations. */
int netif_register(struct netif *nif) {
    if (!nif || !nif->ops || !nif->ops->transmit || !nif->ops->poll)
        return -KEINVAL;
    size_t n = strnlen(nif->name, NETIF_NAME_MAX);
    if (n == 0 || n == NETIF_NAME_MAX)
        return -KEINVAL;
    uint64_t fl = spin_lock_irqsave(&netif_lock);
    struct netif **pp = &netif_list;
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == nif || strcmp((*pp)->name, nif->name) == 0) {
            spin_unlock_irqrestore(&netif_lock, fl);
            return -KEEXIST;
        }
    }
    nif->next = NULL;
    nif->rx_pending = false;
    nif->faults.held = nif->faults.held_rx = NULL;
    __atomic_store_n(pp, nif, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&netif_lock, fl);
    return 0;
}

/* The interface called name, or NULL. */
struct netif *netif_find(const char *name) {
    if (!name)
        return NULL;
    for (struct netif *n = __atomic_load_n(&netif_list, __ATOMIC_ACQUIRE); n;
         n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE))
        if (strncmp(n->name, name, NETIF_NAME_MAX) == 0)
            return n;
    return NULL;
}

/* Calls fn for every registered interface, in registration order. */
void netif_for_each(void (*fn)(struct netif *nif, void *ctx), void *ctx) {
    for (struct netif *n = __atomic_load_n(&netif_list, __ATOMIC_ACQUIRE); n;
         n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE))
        fn(n, ctx);
}

/* nif's interface index: 1 for the loopback interface, else 2 + the number of other
 * non-loopback interfaces registered before it; 0 when nif is not registered. */
uint32_t netif_index(const struct netif *nif) {
    if (!nif)
        return 0;
    if (nif->flags & NETIF_LOOPBACK)
        return 1;
    uint32_t index = 2;
    for (struct netif *n = __atomic_load_n(&netif_list, __ATOMIC_ACQUIRE); n;
         n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE)) {
        if (n == nif)
            return index;
        if (!(n->flags & NETIF_LOOPBACK))
            index++;
    }
    return 0;
}

/* The interface whose netif_index is index, or NULL. */
struct netif *netif_by_index(uint32_t index) {
    for (struct netif *n = __atomic_load_n(&netif_list, __ATOMIC_ACQUIRE); n;
         n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE))
        if (index != 0 && netif_index(n) == index)
            return n;
    return NULL;
}

static inline void stat_add(uint64_t *c, uint64_t v) { __atomic_fetch_add(c, v, __ATOMIC_RELAXED); }

/* xorshift32: the next value of the fault generator (a zero seed is replaced). */
static uint32_t fault_rand(struct netif_faults *f) {
    uint32_t x = f->seed ? f->seed : 0x2545f491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->seed = x;
    return x;
}

static inline bool faults_on(const struct netif_faults *f) {
    return f->drop_permille || f->duplicate_permille || f->reorder_permille;
}

/* What the switch does with one frame. */
enum fault_verdict { FAULT_PASS, FAULT_DROP, FAULT_HOLD };

/* Decides the fate of p in the direction whose held frame is *held. FAULT_PASS: pass p on,
 * twice when *duplicate, then *after (the frame held before, or NULL); FAULT_HOLD: p is now
 * the held frame; FAULT_DROP: the caller frees p. The generator and the held frames are
 * shared with other tasks: decided under netif_lock. */
static enum fault_verdict fault_decide(struct netif *nif, struct pkt **held, struct pkt *p, bool *duplicate,
                                       struct pkt **after) {
    struct netif_faults *f = &nif->faults;
    enum fault_verdict v = FAULT_PASS;
    *duplicate = false;
    *after = NULL;
    uint64_t fl = spin_lock_irqsave(&netif_lock);
    if (f->drop_permille && fault_rand(f) % 1000 < f->drop_permille) {
        v = FAULT_DROP;
    } else {
        *duplicate = f->duplicate_permille && fault_rand(f) % 1000 < f->duplicate_permille;
        if (f->reorder_permille && !*held && fault_rand(f) % 1000 < f->reorder_permille) {
            *held = p;
            v = FAULT_HOLD;
        } else {
            *after = *held;
            *held = NULL;
        }
    }
    spin_unlock_irqrestore(&netif_lock, fl);
    return v;
}

/* One received frame counted and handed to the Ethernet layer. */
static void rx_one(struct netif *nif, struct pkt *p) {
    stat_add(&nif->stats.rx_packets, 1);
    stat_add(&nif->stats.rx_bytes, p->len);
    if (p->len < ETH_HLEN) {
        stat_add(&nif->stats.rx_errors, 1);
        pkt_free(p);
        return;
    }
    eth_input(p);
}

/* A received frame from a driver's poll: through the fault switch, counted, to Ethernet. */
void netif_receive(struct netif *nif, struct pkt *p) {
    if (!p)
        return;
    if (!nif) {
        pkt_free(p);
        return;
    }
    p->netif = nif;
    p->next = NULL;
    struct netif_faults *f = &nif->faults;
    if (!faults_on(f) && !f->held_rx) {
        rx_one(nif, p);
        return;
    }
    bool duplicate;
    struct pkt *after;
    switch (fault_decide(nif, &f->held_rx, p, &duplicate, &after)) {
    case FAULT_DROP:
        stat_add(&nif->stats.rx_dropped, 1);
        pkt_free(p);
        return;
    case FAULT_HOLD:
        return;
    case FAULT_PASS:
        break;
    }
    struct pkt *dup = duplicate ? pkt_clone(p) : NULL;
    rx_one(nif, p);
    if (dup)
        rx_one(nif, dup);
    if (after)
        rx_one(nif, after);
}

/* One frame to the driver, counted. */
static int xmit_one(struct netif *nif, struct pkt *p) {
    uint32_t len = p->len;
    int r = nif->ops->transmit(nif, p);
    if (r == 0) {
        stat_add(&nif->stats.tx_packets, 1);
        stat_add(&nif->stats.tx_bytes, len);
    } else {
        stat_add(&nif->stats.tx_dropped, 1);
    }
    return r;
}

/* Sends p through nif (takes ownership) with the fault injection of nif->faults. */
int netif_transmit(struct netif *nif, struct pkt *p) {
    if (!p)
        return -KEINVAL;
    if (!nif || !nif->ops) {
        pkt_free(p);
        return -KEINVAL;
    }
    p->netif = nif;
    p->next = NULL;
    if (!(nif->flags & NETIF_UP) || (nif->ops->link_up && !nif->ops->link_up(nif))) {
        stat_add(&nif->stats.tx_dropped, 1);
        pkt_free(p);
        return -KEIO;
    }
    if (p->len < ETH_HLEN || p->len > (uint32_t)nif->mtu + ETH_HLEN) {
        stat_add(&nif->stats.tx_errors, 1);
        pkt_free(p);
        return -KEMSGSIZE;
    }
    struct netif_faults *f = &nif->faults;
    if (!faults_on(f) && !f->held)
        return xmit_one(nif, p);
    bool duplicate;
    struct pkt *after;
    switch (fault_decide(nif, &f->held, p, &duplicate, &after)) {
    case FAULT_DROP:
        stat_add(&nif->stats.tx_dropped, 1);
        pkt_free(p);
        return 0; /* lost on the wire: the sender does not know */
    case FAULT_HOLD:
        return 0; /* goes out after the next frame */
    case FAULT_PASS:
        break;
    }
    struct pkt *dup = duplicate ? pkt_clone(p) : NULL;
    int r = xmit_one(nif, p);
    if (dup)
        xmit_one(nif, dup);
    if (after)
        xmit_one(nif, after);
    return r;
}

/* Validates and applies cfg; frees both held frames when everything is off. */
int netif_set_faults(struct netif *nif, const struct sabos_netem *cfg) {
    if (!nif || !cfg || cfg->loss_permille > 1000 || cfg->duplicate_permille > 1000 ||
        cfg->reorder_permille > 1000 || cfg->reserved != 0)
        return -KEINVAL;
    struct netif_faults *f = &nif->faults;
    struct pkt *held_tx = NULL, *held_rx = NULL;
    uint64_t fl = spin_lock_irqsave(&netif_lock);
    f->drop_permille = cfg->loss_permille;
    f->duplicate_permille = cfg->duplicate_permille;
    f->reorder_permille = cfg->reorder_permille;
    f->seed = cfg->seed;
    if (!faults_on(f)) {
        held_tx = f->held;
        held_rx = f->held_rx;
        f->held = f->held_rx = NULL;
    }
    spin_unlock_irqrestore(&netif_lock, fl);
    pkt_free(held_tx);
    pkt_free(held_rx);
    return 0;
}

/* Reads nif's fault setting under the lock. */
void netif_get_faults(struct netif *nif, struct sabos_netem *out) {
    const struct netif_faults *f = &nif->faults;
    uint64_t fl = spin_lock_irqsave(&netif_lock);
    *out = (struct sabos_netem){.loss_permille = f->drop_permille,
                                .duplicate_permille = f->duplicate_permille,
                                .reorder_permille = f->reorder_permille,
                                .seed = f->seed};
    spin_unlock_irqrestore(&netif_lock, fl);
}

#ifndef HOST_TEST
/* struct ifreq (netdevice(7); Linux's layout on x86-64: 40 bytes). */
#define IFREQ_NAME_SIZE 16
struct sockaddr_k {
    uint16_t family;
    uint8_t data[14];            /* sockaddr_in: port (2), address (4), zero (8) */
};
struct ifreq_k {
    char name[IFREQ_NAME_SIZE];
    union {
        struct sockaddr_k addr;  /* ifr_addr, ifr_netmask, ifr_broadaddr, ifr_hwaddr */
        int16_t flags;           /* ifr_flags */
        int32_t ivalue;          /* ifr_ifindex, ifr_mtu */
        uint64_t data;           /* ifr_data (a user pointer) */
        uint8_t raw[24];
    };
};
_Static_assert(sizeof(struct ifreq_k) == 40, "struct ifreq is 40 bytes");
/* struct ifconf: ifc_len, then (aligned) the ifc_buf / ifc_req pointer. */
struct ifconf_k {
    int32_t len;
    uint32_t pad;
    uint64_t buf;
};

/* Linux's numbers (include/uapi/linux/sockios.h, if.h, if_arp.h). */
#define SIOCGIFNAME_K 0x8910
#define SIOCGIFCONF_K 0x8912
#define SIOCGIFFLAGS_K 0x8913
#define SIOCGIFADDR_K 0x8915
#define SIOCGIFBRDADDR_K 0x8919
#define SIOCGIFNETMASK_K 0x891b
#define SIOCGIFMTU_K 0x8921
#define SIOCGIFHWADDR_K 0x8927
#define SIOCGIFINDEX_K 0x8933
#define IFF_UP_K 0x1
#define IFF_BROADCAST_K 0x2
#define IFF_LOOPBACK_K 0x8
#define IFF_RUNNING_K 0x40
#define IFF_MULTICAST_K 0x1000
#define ARPHRD_ETHER_K 1
#define ARPHRD_LOOPBACK_K 772

/* The interface req names (the name cut at 15 characters, as Linux does), or NULL. */
static struct netif *ifreq_netif(struct ifreq_k *req) {
    req->name[IFREQ_NAME_SIZE - 1] = '\0';
    return strnlen(req->name, IFREQ_NAME_SIZE) < NETIF_NAME_MAX ? netif_find(req->name) : NULL;
}

static bool has_ip4(const struct netif *nif) { return (nif->ip4[0] | nif->ip4[1] | nif->ip4[2] | nif->ip4[3]) != 0; }

/* A sockaddr_in (AF_INET, port 0) holding the IPv4 address a (network order). */
static void put_sockaddr_in(struct sockaddr_k *sa, const uint8_t a[4]) {
    memset(sa, 0, sizeof(*sa));
    sa->family = NET_AF_INET;
    memcpy(sa->data + 2, a, 4);
}

/* SIOCGIFCONF: one ifreq (name, IPv4 address) per interface with an address, as many as
 * fit in ifc_len (a negative ifc_len fits none, as in Linux); with a NULL buffer, the length
 * all of them need. ifc_len is set to the bytes written (or needed). */
static int64_t ifconf_ioctl(uint64_t arg) {
    struct ifconf_k conf;
    if (copy_from_user(&conf, (const void *)arg, sizeof(conf)))
        return -KEFAULT;
    int64_t total = 0;
    for (struct netif *n = __atomic_load_n(&netif_list, __ATOMIC_ACQUIRE); n;
         n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE)) {
        if (!has_ip4(n))
            continue;
        if (conf.buf) {
            if ((int64_t)conf.len - total < (int64_t)sizeof(struct ifreq_k))
                break;
            struct ifreq_k req = {0};
            memcpy(req.name, n->name, NETIF_NAME_MAX);
            uint8_t ip[4];
            memcpy(ip, n->ip4, 4);
            put_sockaddr_in(&req.addr, ip);
            if (copy_to_user((void *)(conf.buf + (uint64_t)total), &req, sizeof(req)))
                return -KEFAULT;
        }
        total += sizeof(struct ifreq_k);
    }
    return put_user_u32((void *)arg, (uint32_t)total) ? -KEFAULT : 0;
}

/* The SIOCGIF* ioctls of netdevice(7) on any socket (sock_ioctl calls it); -KENOTTY for
 * every other cmd. */
int64_t netif_ifreq_ioctl(uint32_t cmd, uint64_t arg) {
    switch (cmd) {
    case SIOCGIFCONF_K:
        return ifconf_ioctl(arg);
    case SIOCGIFNAME_K: case SIOCGIFFLAGS_K: case SIOCGIFADDR_K: case SIOCGIFBRDADDR_K: case SIOCGIFNETMASK_K:
    case SIOCGIFMTU_K: case SIOCGIFHWADDR_K: case SIOCGIFINDEX_K:
        break;
    default:
        return -KENOTTY;
    }
    struct ifreq_k req;
    if (copy_from_user(&req, (const void *)arg, sizeof(req)))
        return -KEFAULT;
    struct netif *nif = cmd == SIOCGIFNAME_K ? netif_by_index((uint32_t)req.ivalue) : ifreq_netif(&req);
    if (!nif)
        return -KENODEV;
    uint8_t ip[4], mask[4];
    memcpy(ip, nif->ip4, 4);
    memcpy(mask, nif->netmask4, 4);
    bool loopback = nif->flags & NETIF_LOOPBACK;
    switch (cmd) {
    case SIOCGIFNAME_K:
        memset(req.name, 0, sizeof(req.name));
        memcpy(req.name, nif->name, NETIF_NAME_MAX);
        break;
    case SIOCGIFFLAGS_K: {
        bool up = nif->flags & NETIF_UP;
        bool running = up && (!nif->ops->link_up || nif->ops->link_up(nif));
        req.flags = (int16_t)((up ? IFF_UP_K : 0) | (running ? IFF_RUNNING_K : 0) |
                              (loopback ? IFF_LOOPBACK_K : IFF_BROADCAST_K | IFF_MULTICAST_K));
        break;
    }
    case SIOCGIFADDR_K:
    case SIOCGIFNETMASK_K:
    case SIOCGIFBRDADDR_K:
        if (!has_ip4(nif))
            return -KEADDRNOTAVAIL;
        if (cmd == SIOCGIFBRDADDR_K) {  /* lo has none (0.0.0.0), as in Linux */
            for (int i = 0; i < 4; i++)
                ip[i] = loopback ? 0 : (uint8_t)(ip[i] | ~mask[i]);
        }
        put_sockaddr_in(&req.addr, cmd == SIOCGIFNETMASK_K ? mask : ip);
        break;
    case SIOCGIFHWADDR_K:
        memset(&req.addr, 0, sizeof(req.addr));
        req.addr.family = loopback ? ARPHRD_LOOPBACK_K : ARPHRD_ETHER_K;
        memcpy(req.addr.data, nif->mac, 6);
        break;
    case SIOCGIFMTU_K:
        req.ivalue = nif->mtu;
        break;
    case SIOCGIFINDEX_K:
        req.ivalue = (int32_t)netif_index(nif);
        break;
    }
    return copy_to_user((void *)arg, &req, sizeof(req)) ? -KEFAULT : 0;
}

/* SIOCSABOSNETEM / SIOCGABOSNETEM: arg is a user struct ifreq naming the interface. */
int64_t netif_netem_ioctl(uint32_t cmd, uint64_t arg) {
    if (cmd != SIOCSABOSNETEM_K && cmd != SIOCGABOSNETEM_K)
        return -KENOTTY;
    struct ifreq_k req;
    if (copy_from_user(&req, (const void *)arg, sizeof(req)))
        return -KEFAULT;
    struct netif *nif = ifreq_netif(&req);
    if (!nif)
        return -KENODEV;
    struct sabos_netem cfg;
    if (cmd == SIOCGABOSNETEM_K) {
        netif_get_faults(nif, &cfg);
        return copy_to_user((void *)req.data, &cfg, sizeof(cfg)) ? -KEFAULT : 0;
    }
    if (copy_from_user(&cfg, (const void *)req.data, sizeof(cfg)))
        return -KEFAULT;
    return netif_set_faults(nif, &cfg);
}
#endif
