/* poller.c: net_poller, the one task that receives and handles frames (system.md,
 * "Network"). It sleeps until a driver calls netif_rx_ready or the next protocol timer is
 * due, polls every interface marked ready with a budget, runs the due net_timer_hooks, and
 * then wakes every task waiting in wait_net_condition (net_event_wq). Nothing else reads a
 * receive ring: system calls only wait for the conditions this task makes true. Our own
 * design. */
#include "net.h"
#include "net_dhcp.h"
#include "net_ipv4.h"
#include "net_ipv6.h"
#include "net_socket.h"
#include "sched.h"
#include "wait.h"
#include "time.h"
#include "spinlock.h"
#include "printk.h"

#define POLL_BUDGET 64                 /* frames per interface per pass */
#define IDLE_SLEEP_NS 1000000000ull    /* wake at least once a second without timers */
#define NS_PER_MS 1000000ull

int loopback_init(void);

struct wait_queue net_event_wq = WAIT_QUEUE_INIT("net_event");
static struct wait_queue poller_wq = WAIT_QUEUE_INIT("net_poller");
static volatile bool poller_kick;
static struct net_timer_hook *timer_list;
static spinlock_t timer_lock = SPINLOCK_INIT("net_timers");
static bool net_started;
static uint64_t poller_batches;

/* A driver's interrupt (or the loopback transmit): frames are waiting on nif. */
void netif_rx_ready(struct netif *nif) {
    if (nif)
        nif->rx_pending = true;
    __atomic_store_n(&poller_kick, true, __ATOMIC_RELEASE);
    wake_up_all(&poller_wq);
}

/* Adds a periodic hook; it first runs on the next pass. */
void net_register_timer(struct net_timer_hook *h) {
    if (!h || !h->fn)
        return;
    if (h->period_ms == 0)
        h->period_ms = 1;
    h->next_ns = 0;
    uint64_t fl = spin_lock_irqsave(&timer_lock);
    h->next = timer_list;
    timer_list = h;
    spin_unlock_irqrestore(&timer_lock, fl);
    __atomic_store_n(&poller_kick, true, __ATOMIC_RELEASE);
    wake_up_all(&poller_wq);
}

/* Runs the due hooks; returns the earliest next deadline. Hooks are never removed, so the
 * list is walked without the lock after reading its head. */
static uint64_t run_timers(uint64_t now) {
    uint64_t fl = spin_lock_irqsave(&timer_lock);
    struct net_timer_hook *h = timer_list;
    spin_unlock_irqrestore(&timer_lock, fl);
    uint64_t next = now + IDLE_SLEEP_NS;
    for (; h; h = h->next) {
        if (h->next_ns <= now) {
            h->fn(now);
            h->next_ns = now + (uint64_t)h->period_ms * NS_PER_MS;
        }
        if (h->next_ns < next)
            next = h->next_ns;
    }
    return next;
}

struct poll_pass {
    bool more;
};

static void poll_one(struct netif *nif, void *ctx) {
    struct poll_pass *pp = ctx;
    if (!nif->rx_pending)
        return;
    nif->rx_pending = false; /* before polling: an interrupt during poll sets it again */
    int n = nif->ops->poll(nif, POLL_BUDGET);
    if (n >= POLL_BUDGET) {  /* budget used up: come back after the other interfaces */
        nif->rx_pending = true;
        pp->more = true;
    }
}

static int64_t net_poller(void *arg) {
    uint64_t next_timer = 0;
    for (;;) {
        uint64_t now = time_ns();
        if (next_timer > now) {
            int w = wait_event_timeout(&poller_wq, __atomic_load_n(&poller_kick, __ATOMIC_ACQUIRE),
                                       next_timer - now);
            if (w < 0 && task_should_stop())
                return 0;
        }
        __atomic_store_n(&poller_kick, false, __ATOMIC_RELEASE);
        struct poll_pass pp = {false};
        netif_for_each(poll_one, &pp);
        now = time_ns();
        next_timer = run_timers(now);
        if (pp.more) {
            __atomic_store_n(&poller_kick, true, __ATOMIC_RELEASE);
        }
        poller_batches++;
        wake_up_all(&net_event_wq);
        if (pp.more)
            task_yield(); /* let same-priority work run between full batches */
    }
}

/* Registers the loopback interface and starts net_poller at PRIO_HIGH (once). */
void net_init(void) {
    if (net_started)
        return;
    net_started = true;
    int r = loopback_init();
    if (r)
        pr_err("net: loopback interface not registered (%d)\n", r);
    ipv4_init(); /* ARP, IPv4, ICMP and their timers; 127.0.0.0/8 via lo */
    ipv6_init(); /* ICMPv6, neighbour discovery, link-local addresses, router solicitation */
    inet_init(); /* UDP and TCP over both, the IPv6 loopback path */
    dhcp_client_init(); /* a DHCPv4 client on every Ethernet interface */
    tid_t id = task_create_detached("net_poller", net_poller, NULL, PRIO_HIGH);
    if (id < 0) {
        pr_err("net: cannot start net_poller (%d): no networking\n", (int)id);
        return;
    }
    pr_info("net: net_poller started\n");
}

/* Batches net_poller has handled (tests, /proc). */
uint64_t net_poller_batches(void) { return __atomic_load_n(&poller_batches, __ATOMIC_RELAXED); }
