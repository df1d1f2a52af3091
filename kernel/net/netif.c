/* netif.c: network interfaces (net.h): registration, the receive entry netif_receive and the
 * transmit path netif_transmit with counters and fault injection. Our own design; the
 * counters follow the meaning of Linux's /proc/net/dev columns (proc(5)).
 *
 * Fault injection (struct netif_faults, for tests: the host has no netem): every frame that
 * leaves through netif_transmit draws from a xorshift32 generator (Marsaglia, "Xorshift
 * RNGs", 2003) seeded by faults.seed: with drop_permille it is lost (counted in tx_dropped,
 * reported as sent, as a wire would), with duplicate_permille it goes out twice, with
 * reorder_permille it is held back and sent right after the next frame. Interfaces are
 * never unregistered, so the list is append-only and readers walk it without a lock. No
 * scheduler or hardware access here: host tests build this file as it is. */
#include "net.h"
#include "kstring.h"
#include "spinlock.h"
#include "printk.h"

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
    nif->faults.held = NULL;
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

/* A received frame from a driver's poll: count it and hand it to the Ethernet layer. */
void netif_receive(struct netif *nif, struct pkt *p) {
    if (!p)
        return;
    if (!nif) {
        pkt_free(p);
        return;
    }
    p->netif = nif;
    p->next = NULL;
    stat_add(&nif->stats.rx_packets, 1);
    stat_add(&nif->stats.rx_bytes, p->len);
    if (p->len < ETH_HLEN) {
        stat_add(&nif->stats.rx_errors, 1);
        pkt_free(p);
        return;
    }
    eth_input(p);
}

/* xorshift32: the next value of the fault generator (a zero seed is replaced). */
static uint32_t fault_rand(struct netif_faults *f) {
    uint32_t x = f->seed ? f->seed : 0x2545f491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->seed = x;
    return x;
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
    if (!f->drop_permille && !f->duplicate_permille && !f->reorder_permille && !f->held)
        return xmit_one(nif, p);

    /* Decide under the lock (the generator and the held frame are shared), send outside. */
    struct pkt *dup = NULL, *after = NULL;
    uint64_t fl = spin_lock_irqsave(&netif_lock);
    if (f->drop_permille && fault_rand(f) % 1000 < f->drop_permille) {
        spin_unlock_irqrestore(&netif_lock, fl);
        stat_add(&nif->stats.tx_dropped, 1);
        pkt_free(p);
        return 0; /* lost on the wire: the sender does not know */
    }
    bool duplicate = f->duplicate_permille && fault_rand(f) % 1000 < f->duplicate_permille;
    if (f->reorder_permille && !f->held && fault_rand(f) % 1000 < f->reorder_permille) {
        f->held = p; /* goes out after the next frame */
        spin_unlock_irqrestore(&netif_lock, fl);
        return 0;
    }
    after = f->held;
    f->held = NULL;
    spin_unlock_irqrestore(&netif_lock, fl);
    if (duplicate)
        dup = pkt_clone(p);
    int r = xmit_one(nif, p);
    if (dup)
        xmit_one(nif, dup);
    if (after)
        xmit_one(nif, after);
    return r;
}
