/* dhcp_client.c: runs the DHCPv4 client state machine (dhcp.c, RFC 2131) on every Ethernet
 * interface: a UDP socket on port 68, driven from a net_poller timer hook (so it never sleeps
 * and never touches a ring itself). A lease configures the interface (ip4_configure: address,
 * subnet route, default route). Whenever a lease comes, goes or changes its DNS servers,
 * /etc/resolv.conf is rewritten with every interface's servers (eth0's first, no duplicates,
 * at most three: dhcp_resolv_conf) by the work queue (file writes may sleep; net_poller must
 * not); a renewal that changes nothing leaves the file alone. The lease is logged at debug level
 * (dmesg): it arrives while the console may be in use, and must not cut into a prompt. */
#include "net.h"
#include "net_dhcp.h"
#include "net_udp.h"
#include "net_ipv4.h"
#include "vfs.h"
#include "workqueue.h"
#include "kstring.h"
#include "printk.h"
#include "kprintf.h"
#include "time.h"
#include "mm.h"
#include "spinlock.h"

#define DHCP_MAX_IFS 4
#define DHCP_CLIENT_PORT 68

struct dhcp_if {
    struct netif *nif;
    struct dhcp_client client;
    bool started;
    bool leased;                /* lease holds the interface's current lease */
    struct dhcp_lease lease;
};

static struct dhcp_if ifs[DHCP_MAX_IFS];  /* in interface order: eth0 first */
static struct udp_sock sock68; /* port 68 on any address, shared by every interface */
static int nifs;
static struct work resolv_work;
/* The text for /etc/resolv.conf: built in net_poller, written by the work queue. */
static spinlock_t resolv_lock = SPINLOCK_INIT("resolv");
static char resolv_text[DHCP_RESOLV_TEXT_MAX];
static size_t resolv_len;

static int send_msg(void *ctx, const uint8_t *msg, size_t len, const uint8_t dst[4]) {
    struct dhcp_if *d = ctx;
    struct net_addr to = {0};
    to.family = NET_AF_INET;
    memcpy(to.v4, dst, 4);
    int r = udp_sendto(&sock68, &to, 67, msg, len, d->nif);
    return r < 0 ? r : 0;
}

/* Writes the latest text to /etc/resolv.conf (kworker context). */
static void write_resolv(struct work *w) {
    (void)w;
    char text[DHCP_RESOLV_TEXT_MAX];
    uint64_t fl = spin_lock_irqsave(&resolv_lock);
    size_t n = resolv_len;
    memcpy(text, resolv_text, n);
    spin_unlock_irqrestore(&resolv_lock, fl);
    struct vfs_file *f;
    int r = vfs_open(NULL, "/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (r < 0) {
        printk(LOG_WARN, "dhcp: cannot write /etc/resolv.conf (error %d)\n", -r);
        return;
    }
    vfs_write(f, text, n);
    vfs_close(f);
}

/* Rebuilds the resolv.conf text from every interface's lease; queues the write when it
 * changed (net_poller). */
static void update_resolv(void) {
    const struct dhcp_lease *leases[DHCP_MAX_IFS];
    for (int i = 0; i < nifs; i++) leases[i] = ifs[i].leased ? &ifs[i].lease : NULL;
    char text[DHCP_RESOLV_TEXT_MAX];
    size_t n = dhcp_resolv_conf(leases, nifs, text, sizeof text);
    uint64_t fl = spin_lock_irqsave(&resolv_lock);
    bool changed = n != resolv_len || memcmp(text, resolv_text, n) != 0;
    if (changed) {
        memcpy(resolv_text, text, n);
        resolv_len = n;
    }
    spin_unlock_irqrestore(&resolv_lock, fl);
    if (changed) work_queue(&resolv_work);
}

static void configure(void *ctx, const struct dhcp_lease *lease) {
    struct dhcp_if *d = ctx;
    if (!lease) {
        static const uint8_t zero[4];
        ip4_configure(d->nif, zero, zero, zero);
        printk(LOG_DEBUG, "dhcp: %s: lease withdrawn\n", d->nif->name);
        d->leased = false;
        update_resolv();
        return;
    }
    ip4_configure(d->nif, lease->ip, lease->mask, lease->router);
    printk(LOG_DEBUG, "dhcp: %s: %u.%u.%u.%u/%u.%u.%u.%u gateway %u.%u.%u.%u, lease %u s\n", d->nif->name,
           lease->ip[0], lease->ip[1], lease->ip[2], lease->ip[3], lease->mask[0], lease->mask[1], lease->mask[2],
           lease->mask[3], lease->router[0], lease->router[1], lease->router[2], lease->router[3], lease->lease_s);
    d->lease = *lease;
    d->leased = true;
    update_resolv();
}

static uint32_t rand32(void *ctx) {
    (void)ctx;
    uint32_t v = 0;
    random_bytes(&v, sizeof v);
    return v;
}

/* net_poller's hook: received datagrams, then the state machine's timers. */
static void dhcp_hook(uint64_t now_ns) {
    struct udp_rxinfo info;
    struct pkt *p;
    while ((p = udp_recv(&sock68, &info)) != NULL) {
        for (int i = 0; i < nifs; i++)
            if (ifs[i].nif == info.netif && ifs[i].started) dhcp_input(&ifs[i].client, p->data, p->len, now_ns);
        pkt_free(p);
    }
    for (int i = 0; i < nifs; i++) {
        struct dhcp_if *d = &ifs[i];
        if (!d->started) {
            if (d->nif->ops->link_up && !d->nif->ops->link_up(d->nif)) continue;
            d->started = true;
            dhcp_start(&d->client, now_ns);
        }
        dhcp_tick(&d->client, now_ns);
    }
}

static struct net_timer_hook hook = {dhcp_hook, 100, 0, NULL};

static void add_if(struct netif *nif, void *ctx) {
    (void)ctx;
    if ((nif->flags & NETIF_LOOPBACK) || nifs >= DHCP_MAX_IFS) return;
    struct dhcp_if *d = &ifs[nifs++];
    memset(d, 0, sizeof *d);
    d->nif = nif;
    memcpy(d->client.mac, nif->mac, 6);
    d->client.ops = (struct dhcp_client_ops){send_msg, configure, rand32, d};
}

/* Starts DHCP on every Ethernet interface (called by net_init after the protocols). */
void dhcp_client_init(void) {
    work_init(&resolv_work, write_resolv);
    resolv_len = dhcp_resolv_conf(NULL, 0, resolv_text, sizeof resolv_text);  /* no servers yet: no write */
    netif_for_each(add_if, NULL);
    if (nifs == 0) return;
    sock68.family = NET_AF_INET;
    if (udp_bind(&sock68, NULL, DHCP_CLIENT_PORT) < 0) {
        printk(LOG_WARN, "dhcp: port 68 is taken: no DHCP\n");
        nifs = 0;
        return;
    }
    net_register_timer(&hook);
}

/* True when interface nif holds a DHCP lease (tests). */
bool dhcp_client_bound(const struct netif *nif) {
    for (int i = 0; i < nifs; i++)
        if (ifs[i].nif == nif) return ifs[i].client.state == DHCP_BOUND;
    return false;
}
