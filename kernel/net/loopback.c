/* loopback.c: the loopback interface "lo" (as Linux's: 127.0.0.1/8, ::1). Frames carry an
 * Ethernet header like every other interface, so the stack has one receive path: transmit
 * queues the frame and marks the interface ready; net_poller's poll hands it back to
 * netif_receive. The queue is bounded (LO_QUEUE_MAX frames; beyond it a frame is dropped
 * with -KENOSPC). Our own design. */
#include "net.h"
#include "spinlock.h"
#include "kstring.h"

#define LO_QUEUE_MAX 1024
#define LO_MTU 16384 /* smaller than Linux's 65536: keeps every packet one modest kmalloc */

static spinlock_t lo_lock = SPINLOCK_INIT("loopback");
static struct pkt *lo_head, *lo_tail;
static unsigned lo_count;

static int lo_transmit(struct netif *nif, struct pkt *p) {
    uint64_t fl = spin_lock_irqsave(&lo_lock);
    if (lo_count >= LO_QUEUE_MAX) {
        spin_unlock_irqrestore(&lo_lock, fl);
        pkt_free(p);
        return -KENOSPC;
    }
    p->next = NULL;
    if (lo_tail)
        lo_tail->next = p;
    else
        lo_head = p;
    lo_tail = p;
    lo_count++;
    spin_unlock_irqrestore(&lo_lock, fl);
    netif_rx_ready(nif);
    return 0;
}

static int lo_poll(struct netif *nif, int budget) {
    int n = 0;
    while (n < budget) {
        uint64_t fl = spin_lock_irqsave(&lo_lock);
        struct pkt *p = lo_head;
        if (p) {
            lo_head = p->next;
            if (!lo_head)
                lo_tail = NULL;
            lo_count--;
        }
        spin_unlock_irqrestore(&lo_lock, fl);
        if (!p)
            break;
        p->next = NULL;
        /* A frame sent to ourselves: headers are re-parsed from the start. */
        p->l3_offset = p->l4_offset = 0;
        netif_receive(nif, p);
        n++;
    }
    return n;
}

static const struct netif_ops lo_ops = {.transmit = lo_transmit, .poll = lo_poll};

static struct netif lo_netif = {
    .name = "lo",
    .mtu = LO_MTU,
    .flags = NETIF_UP | NETIF_LOOPBACK,
    .ops = &lo_ops,
    .ip4 = {127, 0, 0, 1},
    .netmask4 = {255, 0, 0, 0},
};

/* Registers "lo" (net_init calls it once). 0 or -errno. */
int loopback_init(void) {
    lo_netif.ip6_global[15] = 1; /* ::1 */
    lo_netif.ip6_global_prefix_len = 128;
    lo_netif.ip6_global_valid = true;
    return netif_register(&lo_netif);
}

/* Frames queued on lo and not yet handed up (tests). */
unsigned loopback_queued(void) { return __atomic_load_n(&lo_count, __ATOMIC_RELAXED); }
