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
 * hardware access here: host tests build this file as it is, without netif_netem_ioctl. */
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
/* The start of a struct ifreq (netdevice(7)): the name, then the ifr_data pointer. */
#define IFREQ_NAME_SIZE 16
struct ifreq_netem {
    char name[IFREQ_NAME_SIZE];
    uint64_t data;
};

/* SIOCSABOSNETEM / SIOCGABOSNETEM: arg is a user struct ifreq naming the interface. */
int64_t netif_netem_ioctl(uint32_t cmd, uint64_t arg) {
    if (cmd != SIOCSABOSNETEM_K && cmd != SIOCGABOSNETEM_K)
        return -KENOTTY;
    struct ifreq_netem req;
    if (copy_from_user(&req, (const void *)arg, sizeof(req)))
        return -KEFAULT;
    req.name[IFREQ_NAME_SIZE - 1] = '\0'; /* as Linux does with ifr_name */
    struct netif *nif = strnlen(req.name, IFREQ_NAME_SIZE) < NETIF_NAME_MAX ? netif_find(req.name) : NULL;
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
