/* net_selftest.c: self-tests of the network core (group `net`): the virtio-net interface
 * with QEMU's MAC 52:54:00:12:34:56; an ARP request (RFC 826) for the user-network gateway
 * 10.0.2.2 from 10.0.2.15, sent with eth_output, whose reply must come back through
 * net_poller within 1 s; the loopback interface delivering a frame; counters moving;
 * 1000 frames sent on each interface without leaking packet memory (heap statistics);
 * net_timer_hooks running; wait_net_condition with timeout 0 returning at once; the fault
 * switch ("netem", docs/network.md): its ioctl through the real system calls with hostile
 * input (bad pointers, unknown or unterminated names, values > 1000, reserved bits), and on
 * "lo" the receive side alone (frames queued with the driver's transmit, so the transmit
 * switch is bypassed): 100 % loss drops, duplication delivers twice, reordering swaps two
 * frames, turning it off frees the held frame and restores normal delivery. */
#include "net.h"
#include "selftest.h"
#include "kstring.h"
#include "mm.h"
#include "time.h"
#include "sched.h"
#include "vfs.h"
#include "proc.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"

#define MS 1000000ull
#define TEST_ETHERTYPE 0x88b5 /* IEEE 802 local experimental ethertype 1 */

/* From ether.c and virtio_net.c (no header yet). */
extern bool (*volatile eth_test_hook)(struct pkt *p, uint16_t ethertype);
struct netif *virtio_net_netif(int i);

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static volatile bool arp_reply_seen;
static uint8_t arp_reply_mac[6];
static volatile int test_frames_seen;
static volatile uint32_t test_magic;

/* Runs in net_poller: takes ARP replies from 10.0.2.2 to 10.0.2.15, and our test frames. */
static bool capture(struct pkt *p, uint16_t type) {
    const uint8_t *a = p->data + ETH_HLEN;
    if (type == ETH_P_ARP && p->len >= ETH_HLEN + 28 && net_get16(a + 6) == 2 &&
        memcmp(a + 14, (const uint8_t[]){10, 0, 2, 2}, 4) == 0 &&
        memcmp(a + 24, (const uint8_t[]){10, 0, 2, 15}, 4) == 0) {
        memcpy(arp_reply_mac, a + 8, 6);
        arp_reply_seen = true;
        pkt_free(p);
        return true;
    }
    if (type == TEST_ETHERTYPE && p->len >= ETH_HLEN + 4 && net_get32(a) == test_magic) {
        test_frames_seen++;
        pkt_free(p);
        return true;
    }
    return false;
}

static struct pkt *test_frame(uint32_t magic, uint32_t len) {
    struct pkt *p = pkt_alloc(len);
    if (!p)
        return NULL;
    uint8_t *d = pkt_put(p, len);
    memset(d, 0x5a, len);
    net_put32(d, magic);
    return p;
}

SELFTEST(net, virtio_interface_has_qemu_mac) {
    struct netif *nif = virtio_net_netif(0);
    ST_ASSERT(t, nif != NULL, "no virtio-net interface (the launcher attaches one)");
    static const uint8_t qemu_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    const uint8_t *m = nif->mac;
    ST_ASSERT(t, memcmp(m, qemu_mac, 6) == 0, "MAC %02x:%02x:%02x:%02x:%02x:%02x, want 52:54:00:12:34:56",
              m[0], m[1], m[2], m[3], m[4], m[5]);
    ST_ASSERT(t, (nif->flags & NETIF_UP) && nif->mtu == 1500, "flags %x mtu %u", nif->flags, nif->mtu);
    ST_ASSERT(t, netif_find(nif->name) == nif, "netif_find(%s) does not find it", nif->name);
    ST_ASSERT(t, !nif->ops->link_up || nif->ops->link_up(nif), "link is down");
}

SELFTEST(net, arp_request_to_gateway_gets_reply) {
    struct netif *nif = virtio_net_netif(0);
    ST_ASSERT(t, nif != NULL, "no virtio-net interface");
    struct pkt *p = pkt_alloc(28);
    ST_ASSERT(t, p != NULL, "pkt_alloc failed");
    uint8_t *a = pkt_put(p, 28);
    net_put16(a, 1);          /* hardware: Ethernet */
    net_put16(a + 2, ETH_P_IP);
    a[4] = 6;
    a[5] = 4;
    net_put16(a + 6, 1);      /* request */
    memcpy(a + 8, nif->mac, 6);
    memcpy(a + 14, (const uint8_t[]){10, 0, 2, 15}, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, (const uint8_t[]){10, 0, 2, 2}, 4);
    uint64_t rx0 = nif->stats.rx_packets, tx0 = nif->stats.tx_packets, txb0 = nif->stats.tx_bytes;
    arp_reply_seen = false;
    eth_test_hook = capture;
    uint64_t t0 = time_ns();
    int r = eth_output(nif, p, bcast, ETH_P_ARP);
    int w = r == 0 ? wait_net_condition(arp_reply_seen, 1000 * MS) : 0;
    uint64_t el = time_ns() - t0;
    eth_test_hook = NULL;
    ST_ASSERT(t, r == 0, "eth_output = %d", r);
    ST_ASSERT(t, w == 1, "no ARP reply from 10.0.2.2 within 1 s (wait %d)", w);
    ST_ASSERT(t, arp_reply_mac[0] != 0xff && !(arp_reply_mac[0] & 1), "reply has a multicast MAC");
    ST_ASSERT(t, nif->stats.tx_packets == tx0 + 1 && nif->stats.tx_bytes == txb0 + 42,
              "tx counters: %llu packets (+%llu bytes)", (unsigned long long)(nif->stats.tx_packets - tx0),
              (unsigned long long)(nif->stats.tx_bytes - txb0));
    ST_ASSERT(t, nif->stats.rx_packets > rx0, "rx_packets did not move");
    (void)el;
}

SELFTEST(net, loopback_delivers_frame) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL && (lo->flags & NETIF_LOOPBACK), "no loopback interface");
    uint64_t rx0 = lo->stats.rx_packets, tx0 = lo->stats.tx_packets;
    test_magic = 0x10bac4a1;
    test_frames_seen = 0;
    eth_test_hook = capture;
    int r = eth_output(lo, test_frame(test_magic, 100), bcast, TEST_ETHERTYPE);
    int w = wait_net_condition(test_frames_seen == 1, 1000 * MS);
    eth_test_hook = NULL;
    ST_ASSERT(t, r == 0 && w == 1, "loopback frame not delivered (send %d, wait %d)", r, w);
    ST_ASSERT(t, lo->stats.rx_packets == rx0 + 1 && lo->stats.tx_packets == tx0 + 1,
              "lo counters rx +%llu tx +%llu", (unsigned long long)(lo->stats.rx_packets - rx0),
              (unsigned long long)(lo->stats.tx_packets - tx0));
}

/* Heap allocations come back to where they were (a little slack for other tasks). */
static bool heap_back(uint64_t base) {
    struct heap_stats hs;
    heap_get_stats(&hs);
    return hs.allocations <= base + 8;
}

SELFTEST_TIMEOUT(net, thousand_frames_no_leak, 30000) {
    struct netif *lo = netif_find("lo"), *eth = virtio_net_netif(0);
    ST_ASSERT(t, lo != NULL, "no loopback interface");
    struct heap_stats hs;
    heap_get_stats(&hs);
    uint64_t base = hs.allocations;
    /* loopback: every frame comes back and is freed by the hook */
    test_magic = 0x1eaf1eaf;
    test_frames_seen = 0;
    eth_test_hook = capture;
    int errs = 0;
    for (int i = 0; i < 1000; i++) {
        if (eth_output(lo, test_frame(test_magic, 64 + (uint32_t)i % 900), bcast, TEST_ETHERTYPE))
            errs++;
        if (i % 100 == 99)
            wait_net_condition(test_frames_seen >= i + 1 - errs, 1000 * MS);
    }
    int w = wait_net_condition(test_frames_seen == 1000 - errs, 2000 * MS);
    eth_test_hook = NULL;
    ST_ASSERT(t, errs == 0 && w == 1, "loopback: %d send errors, %d of 1000 came back", errs, test_frames_seen);
    ST_ASSERT(t, wait_net_condition(heap_back(base), 1000 * MS) == 1, "loopback leaked packet memory");
    if (!eth)
        return;
    /* the NIC: 1000 frames out (the ring reclaims completions); memory comes back */
    uint64_t tx0 = eth->stats.tx_packets;
    int full = 0;
    for (int i = 0; i < 1000; i++) {
        int r = eth_output(eth, test_frame(0x0eadbeef, 60 + (uint32_t)i % 1400), bcast, TEST_ETHERTYPE);
        if (r == -KENOSPC) {
            full++;
            task_sleep_ns(1 * MS); /* let net_poller reclaim */
        } else if (r) {
            errs++;
        }
    }
    ST_ASSERT(t, errs == 0, "%d errors sending on %s", errs, eth->name);
    ST_ASSERT(t, eth->stats.tx_packets - tx0 + (uint64_t)full == 1000, "tx_packets +%llu, %d ring-full drops",
              (unsigned long long)(eth->stats.tx_packets - tx0), full);
    w = wait_net_condition(heap_back(base), 2000 * MS);
    heap_get_stats(&hs);
    ST_ASSERT(t, w == 1, "%s: %llu allocations live after 1000 frames (before: %llu)", eth->name,
              (unsigned long long)hs.allocations, (unsigned long long)base);
}

static volatile int hook_runs;
static void count_hook(uint64_t now) { hook_runs++; }
static struct net_timer_hook test_timer = {.fn = count_hook, .period_ms = 10};

SELFTEST(net, timer_hook_runs) {
    hook_runs = 0;
    net_register_timer(&test_timer);
    task_sleep_ns(200 * MS);
    int n = hook_runs;
    test_timer.period_ms = 3600000; /* hooks stay registered: make it idle */
    ST_ASSERT(t, n >= 3, "a 10 ms hook ran %d times in 200 ms", n);
}

SELFTEST(net, zero_timeout_never_blocks) {
    uint64_t t0 = time_ns();
    int w = 0;
    for (int i = 0; i < 100; i++)
        w += wait_net_condition(false, 0);
    uint64_t el = time_ns() - t0;
    ST_ASSERT(t, w == 0, "a false condition returned %d", w);
    ST_ASSERT(t, el < 1 * MS, "100 zero-timeout waits took %llu us", (unsigned long long)(el / 1000));
    ST_ASSERT(t, wait_net_condition(true, 0) == 1, "a true condition with timeout 0 did not return 1");
}

/* /proc/net/dev: Linux's two header lines, then one line per interface with the counters. */
SELFTEST(net, proc_net_dev_lists_interfaces) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    ST_ASSERT(t, r == 0, "mounting procfs: %d", r);
    struct vfs_ctx ctx = {m->root, m->root};
    struct vfs_file *f = NULL;
    static char buf[4096];
    int64_t len = 0;
    r = vfs_open(&ctx, "/net/dev", O_RDONLY, 0, &f);
    while (r == 0 && len < (int64_t)sizeof(buf) - 1) {
        int64_t n = vfs_read(f, buf + len, sizeof(buf) - 1 - (size_t)len);
        if (n <= 0) break;
        len += n;
    }
    if (f) vfs_close(f);
    struct vfs_file *d = NULL;
    int rd = vfs_open(&ctx, "/net", O_RDONLY | O_DIRECTORY, 0, &d);
    if (d) vfs_close(d);
    vfs_umount(m);
    buf[len] = 0;
    ST_ASSERT(t, r == 0 && len > 0, "open /proc/net/dev: %d, %ld bytes", r, (long)len);
    ST_ASSERT(t, rd == 0, "/proc/net is not a directory (%d)", rd);
    ST_ASSERT(t, strncmp(buf, "Inter-|   Receive", 17) == 0, "header: %.40s", buf);
    bool lo = false, eth = false;
    for (char *p = buf; *p; p++) {
        if (strncmp(p, "    lo:", 7) == 0) lo = true;
        if (strncmp(p, "  eth0:", 7) == 0) eth = true;
    }
    ST_ASSERT(t, lo, "no lo line in:\n%s", buf);
    ST_ASSERT(t, eth || !virtio_net_netif(0), "no eth0 line in:\n%s", buf);
}

/* ---- the fault switch (netem) ---- */
#define NETEM_MAGIC 0x6e65746du /* "netm" */
static volatile int netem_seen;
static uint32_t netem_tags[8];

/* Runs in net_poller: records the tags of our netem test frames in arrival order. */
static bool netem_capture(struct pkt *p, uint16_t type) {
    const uint8_t *a = p->data + ETH_HLEN;
    if (type != TEST_ETHERTYPE || p->len < ETH_HLEN + 8 || net_get32(a) != NETEM_MAGIC)
        return false;
    if (netem_seen < 8)
        netem_tags[netem_seen] = net_get32(a + 4);
    netem_seen++;
    pkt_free(p);
    return true;
}

/* Queues a test frame with tag on lo through its driver, below netif_transmit: only the
 * receive side of the switch sees it. 0 or -errno. */
static int lo_inject(struct netif *lo, uint32_t tag) {
    struct pkt *p = test_frame(NETEM_MAGIC, 64);
    if (!p)
        return -KENOMEM;
    net_put32(p->data + 4, tag);
    uint8_t *h = pkt_push(p, ETH_HLEN);
    memcpy(h, bcast, 6);
    memcpy(h + 6, lo->mac, 6);
    net_put16(h + 12, TEST_ETHERTYPE);
    return lo->ops->transmit(lo, p);
}

static void netem_set(struct netif *nif, uint16_t loss, uint16_t dup, uint16_t reorder) {
    struct sabos_netem c = {.loss_permille = loss, .duplicate_permille = dup, .reorder_permille = reorder};
    netif_set_faults(nif, &c);
}

SELFTEST(net, netem_receive_loss_drops_frames) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL, "no loopback interface");
    uint64_t drop0 = lo->stats.rx_dropped;
    netem_seen = 0;
    eth_test_hook = netem_capture;
    netem_set(lo, 1000, 0, 0);
    int r = lo_inject(lo, 1);
    int w = wait_net_condition(loopback_queued() == 0 && lo->stats.rx_dropped > drop0, 1000 * MS);
    uint64_t dropped = lo->stats.rx_dropped - drop0;
    int seen = netem_seen;
    netem_set(lo, 0, 0, 0);
    int r2 = lo_inject(lo, 2);
    int w2 = wait_net_condition(netem_seen == 1, 1000 * MS);
    eth_test_hook = NULL;
    ST_ASSERT(t, r == 0 && r2 == 0, "lo transmit %d / %d", r, r2);
    ST_ASSERT(t, w == 1 && seen == 0 && dropped == 1, "100%% receive loss: %d frames delivered, rx_dropped +%llu",
              seen, (unsigned long long)dropped);
    ST_ASSERT(t, w2 == 1 && netem_tags[0] == 2, "after off: %d frames, first tag %u", netem_seen, netem_tags[0]);
}

SELFTEST(net, netem_receive_duplicates_arrive_twice) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL, "no loopback interface");
    uint64_t rx0 = lo->stats.rx_packets;
    netem_seen = 0;
    eth_test_hook = netem_capture;
    netem_set(lo, 0, 1000, 0);
    int r = lo_inject(lo, 7);
    int w = wait_net_condition(netem_seen >= 2, 1000 * MS);
    netem_set(lo, 0, 0, 0);
    task_sleep_ns(50 * MS); /* a third copy would have arrived by now */
    eth_test_hook = NULL;
    ST_ASSERT(t, r == 0 && w == 1, "duplicate: transmit %d, %d copies arrived", r, netem_seen);
    ST_ASSERT(t, netem_seen == 2 && netem_tags[0] == 7 && netem_tags[1] == 7, "%d copies (tags %u, %u)", netem_seen,
              netem_tags[0], netem_tags[1]);
    ST_ASSERT(t, lo->stats.rx_packets - rx0 >= 2, "rx_packets +%llu", (unsigned long long)(lo->stats.rx_packets - rx0));
}

SELFTEST(net, netem_receive_reorder_and_off_frees_held) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL, "no loopback interface");
    struct heap_stats hs;
    heap_get_stats(&hs);
    uint64_t base = hs.allocations;
    netem_seen = 0;
    eth_test_hook = netem_capture;
    /* reorder 100 %: frame 1 is held, frame 2 passes and frame 1 follows it */
    netem_set(lo, 0, 0, 1000);
    int r1 = lo_inject(lo, 1);
    int held1 = wait_net_condition(lo->faults.held_rx != NULL, 1000 * MS);
    int r2 = lo_inject(lo, 2);
    int w = wait_net_condition(netem_seen >= 2, 1000 * MS);
    /* a frame held when the switch goes off is freed, not delivered */
    int r3 = lo_inject(lo, 3);
    int held3 = wait_net_condition(lo->faults.held_rx != NULL, 1000 * MS);
    netem_set(lo, 0, 0, 0);
    bool freed = lo->faults.held_rx == NULL && lo->faults.held == NULL;
    int r4 = lo_inject(lo, 4);
    int w4 = wait_net_condition(netem_seen >= 3, 1000 * MS);
    task_sleep_ns(50 * MS);
    eth_test_hook = NULL;
    int back = wait_net_condition(heap_back(base), 1000 * MS);
    ST_ASSERT(t, r1 == 0 && r2 == 0 && r3 == 0 && r4 == 0, "lo transmit %d %d %d %d", r1, r2, r3, r4);
    ST_ASSERT(t, held1 == 1 && w == 1, "reorder: frame 1 held %d, %d frames arrived", held1, netem_seen);
    ST_ASSERT(t, netem_tags[0] == 2 && netem_tags[1] == 1, "order %u, %u (want 2, 1)", netem_tags[0], netem_tags[1]);
    ST_ASSERT(t, held3 == 1 && freed, "held frame not freed by off (held %d)", held3);
    ST_ASSERT(t, w4 == 1 && netem_seen == 3 && netem_tags[2] == 4, "after off: %d frames, third tag %u", netem_seen,
              netem_tags[2]);
    ST_ASSERT(t, back == 1, "packet memory leaked");
}

/* The ioctl through the system calls, as a program makes it. */
#define NETEM_SCRATCH 4096
#define BAD_USER_ADDR 0x400000ull            /* unmapped */
#define KERNEL_ADDR 0xffff800000100000ull    /* the kernel half */
static int64_t netem_sc(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2) { return syscall_invoke(nr, a0, a1, a2, 0, 0, 0); }

/* Writes an ifreq (name, data) at u and a sabos_netem at u + 64; returns the ifreq address. */
static uint64_t put_ifreq(uint64_t u, const char *name, size_t name_len, uint64_t data) {
    uint8_t ifr[40] = {0};
    memcpy(ifr, name, name_len);
    memcpy(ifr + 16, &data, 8);
    copy_to_user((void *)u, ifr, sizeof(ifr));
    return u;
}

SELFTEST(net, netem_ioctl_validates_input) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL, "no loopback interface");
    ST_ASSERT(t, proc_test_enter() == 0, "test process setup failed");
    uint64_t u = 0;
    int m = uvm_map(proc_current()->vm, &u, NETEM_SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    int fd = m == 0 ? (int)netem_sc(SYS_socket, 2, 2, 0) : -1; /* AF_INET, SOCK_DGRAM */
    int64_t res[12];
    struct sabos_netem cfg = {0}, got = {0};
    uint64_t ucfg = u + 64, uifr = u;
    if (fd >= 0) {
        struct sabos_netem c;
        /* pointers */
        res[0] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, BAD_USER_ADDR);
        res[1] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGABOSNETEM_K, KERNEL_ADDR);
        put_ifreq(uifr, "lo", 2, BAD_USER_ADDR);
        res[2] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, uifr);
        put_ifreq(uifr, "lo", 2, KERNEL_ADDR);
        res[3] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGABOSNETEM_K, uifr);
        /* names */
        c = (struct sabos_netem){.loss_permille = 1};
        copy_to_user((void *)ucfg, &c, sizeof(c));
        put_ifreq(uifr, "nosuch0", 7, ucfg);
        res[4] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, uifr);
        put_ifreq(uifr, "lolololololololo", 16, ucfg); /* no NUL in 16 bytes */
        res[5] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, uifr);
        /* values */
        put_ifreq(uifr, "lo", 2, ucfg);
        const struct sabos_netem bad[3] = {{.loss_permille = 1001}, {.reorder_permille = 0xffff}, {.reserved = 1}};
        for (int i = 0; i < 3; i++) {
            copy_to_user((void *)ucfg, &bad[i], sizeof(bad[i]));
            res[6 + i] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, uifr);
        }
        netif_get_faults(lo, &cfg); /* unchanged by the refused calls */
        /* a good setting (duplicate only: harmless to lo) read back, then off */
        c = (struct sabos_netem){.duplicate_permille = 1000, .seed = 42};
        copy_to_user((void *)ucfg, &c, sizeof(c));
        res[9] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, uifr);
        copy_to_user((void *)ucfg, &(struct sabos_netem){0}, sizeof(c));
        res[10] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGABOSNETEM_K, uifr);
        copy_from_user(&got, (const void *)ucfg, sizeof(got));
        copy_to_user((void *)ucfg, &(struct sabos_netem){0}, sizeof(c));
        res[11] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCSABOSNETEM_K, uifr);
        netem_sc(SYS_close, (uint64_t)fd, 0, 0);
    }
    proc_test_leave();
    netem_set(lo, 0, 0, 0);
    ST_ASSERT(t, m == 0 && fd >= 0, "scratch map %d, socket %d", m, fd);
    for (int i = 0; i < 4; i++)
        ST_ASSERT(t, res[i] == -KEFAULT, "bad pointer case %d: %lld, want -EFAULT", i, (long long)res[i]);
    ST_ASSERT(t, res[4] == -KENODEV && res[5] == -KENODEV, "unknown / unterminated name: %lld, %lld (want -ENODEV)",
              (long long)res[4], (long long)res[5]);
    for (int i = 6; i < 9; i++)
        ST_ASSERT(t, res[i] == -KEINVAL, "bad value case %d: %lld, want -EINVAL", i - 6, (long long)res[i]);
    ST_ASSERT(t, !cfg.loss_permille && !cfg.duplicate_permille && !cfg.reorder_permille,
              "a refused call changed the setting (%u/%u/%u)", cfg.loss_permille, cfg.duplicate_permille,
              cfg.reorder_permille);
    ST_ASSERT(t, res[9] == 0 && res[10] == 0 && res[11] == 0, "set %lld, get %lld, off %lld", (long long)res[9],
              (long long)res[10], (long long)res[11]);
    ST_ASSERT(t, got.duplicate_permille == 1000 && got.loss_permille == 0 && got.reorder_permille == 0 && got.reserved == 0,
              "read back %u/%u/%u reserved %u", got.loss_permille, got.duplicate_permille, got.reorder_permille, got.reserved);
}

/* ---- the interface ioctls of netdevice(7) (netif.c), through the system calls ---- */
#include "kprintf.h"
#define IFREQ_SIZE 40
#define SIOCGIFNAME_T 0x8910
#define SIOCGIFCONF_T 0x8912
#define SIOCGIFFLAGS_T 0x8913
#define SIOCGIFADDR_T 0x8915
#define SIOCGIFBRDADDR_T 0x8919
#define SIOCGIFNETMASK_T 0x891b
#define SIOCGIFMTU_T 0x8921
#define SIOCGIFHWADDR_T 0x8927
#define SIOCGIFINDEX_T 0x8933

/* A down Ethernet interface without IPv4, registered once and never removed (interfaces
 * are never unregistered): the EADDRNOTAVAIL and not-running cases. Sends nothing. */
static int ifq_transmit(struct netif *nif, struct pkt *p) { (void)nif; pkt_free(p); return 0; }
static int ifq_poll(struct netif *nif, int budget) { (void)nif; (void)budget; return 0; }
static const struct netif_ops ifq_ops = {.transmit = ifq_transmit, .poll = ifq_poll};
static struct netif ifq_netif = {.name = "ifqtest", .mac = {0x02, 0, 0, 0, 0x5e, 0x7f}, .mtu = 1280, .ops = &ifq_ops};

/* ioctl(fd, cmd, u) on a 40-byte ifreq at u naming name (name_len bytes, no NUL added) with
 * the 4-byte ivalue in its union; the answer is copied to out. */
static int64_t ifreq_call(int fd, uint32_t cmd, uint64_t u, const char *name, size_t name_len, int32_t ivalue,
                          uint8_t out[IFREQ_SIZE]) {
    uint8_t ifr[IFREQ_SIZE] = {0};
    memcpy(ifr, name, name_len);
    memcpy(ifr + 16, &ivalue, 4);
    copy_to_user((void *)u, ifr, sizeof(ifr));
    int64_t r = netem_sc(SYS_ioctl, (uint64_t)fd, cmd, u);
    copy_from_user(out, (const void *)u, IFREQ_SIZE);
    return r;
}

/* The sockaddr_in at ifr + 16 is AF_INET, port 0, address a. */
static bool ifreq_has_ip4(const uint8_t *ifr, const uint8_t a[4]) {
    static const uint8_t zero[10];
    return ifr[16] == NET_AF_INET && ifr[17] == 0 && !memcmp(ifr + 18, zero, 2) && !memcmp(ifr + 20, a, 4) &&
           !memcmp(ifr + 24, zero, 8);
}

SELFTEST(net, siocgif_ioctls_answer_as_linux) {
    struct netif *lo = netif_find("lo");
    ST_ASSERT(t, lo != NULL, "no loopback interface");
    int reg = netif_find("ifqtest") ? 0 : netif_register(&ifq_netif);
    ST_ASSERT(t, reg == 0, "registering the test interface: %d", reg);
    uint32_t ifq_index = netif_index(&ifq_netif);
    struct netif *eth = virtio_net_netif(0);
    ST_ASSERT(t, proc_test_enter() == 0, "test process setup failed");
    uint64_t u = 0;
    int m = uvm_map(proc_current()->vm, &u, NETEM_SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    int fd = m == 0 ? (int)netem_sc(SYS_socket, 10, 1, 0) : -1; /* AF_INET6, SOCK_STREAM: any socket will do */
    int64_t r[24];
    uint8_t lo_flags[IFREQ_SIZE], lo_addr[IFREQ_SIZE], lo_mask[IFREQ_SIZE], lo_brd[IFREQ_SIZE], lo_hw[IFREQ_SIZE],
        lo_mtu[IFREQ_SIZE], lo_idx[IFREQ_SIZE], name1[IFREQ_SIZE], q_flags[IFREQ_SIZE], q_hw[IFREQ_SIZE],
        q_idx[IFREQ_SIZE], q_name[IFREQ_SIZE], eth_flags[IFREQ_SIZE], eth_idx[IFREQ_SIZE], scratch[IFREQ_SIZE];
    uint32_t conf_len[4] = {0};
    uint8_t conf0[IFREQ_SIZE] = {0};
    for (int i = 0; i < 24; i++) r[i] = 1;
    if (fd >= 0) {
        r[0] = ifreq_call(fd, SIOCGIFFLAGS_T, u, "lo", 2, 0, lo_flags);
        r[1] = ifreq_call(fd, SIOCGIFADDR_T, u, "lo", 2, 0, lo_addr);
        r[2] = ifreq_call(fd, SIOCGIFNETMASK_T, u, "lo", 2, 0, lo_mask);
        r[3] = ifreq_call(fd, SIOCGIFBRDADDR_T, u, "lo", 2, 0, lo_brd);
        r[4] = ifreq_call(fd, SIOCGIFHWADDR_T, u, "lo", 2, 0, lo_hw);
        r[5] = ifreq_call(fd, SIOCGIFMTU_T, u, "lo", 2, 0, lo_mtu);
        r[6] = ifreq_call(fd, SIOCGIFINDEX_T, u, "lo", 2, 0, lo_idx);
        r[7] = ifreq_call(fd, SIOCGIFNAME_T, u, "", 0, 1, name1);
        /* the down interface without IPv4 */
        r[8] = ifreq_call(fd, SIOCGIFFLAGS_T, u, "ifqtest", 7, 0, q_flags);
        r[9] = ifreq_call(fd, SIOCGIFADDR_T, u, "ifqtest", 7, 0, scratch);
        r[10] = ifreq_call(fd, SIOCGIFNETMASK_T, u, "ifqtest", 7, 0, scratch);
        r[11] = ifreq_call(fd, SIOCGIFHWADDR_T, u, "ifqtest", 7, 0, q_hw);
        r[12] = ifreq_call(fd, SIOCGIFINDEX_T, u, "ifqtest", 7, 0, q_idx);
        r[13] = ifreq_call(fd, SIOCGIFNAME_T, u, "", 0, (int32_t)ifq_index, q_name);
        /* hostile input: unknown, unterminated names; unknown indexes; bad pointers */
        r[14] = ifreq_call(fd, SIOCGIFFLAGS_T, u, "nosuch0", 7, 0, scratch);
        r[15] = ifreq_call(fd, SIOCGIFMTU_T, u, "lolololololololo", 16, 0, scratch);
        r[16] = ifreq_call(fd, SIOCGIFNAME_T, u, "", 0, 0, scratch);
        r[17] = ifreq_call(fd, SIOCGIFNAME_T, u, "", 0, -1, scratch);
        r[18] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFADDR_T, BAD_USER_ADDR);
        r[19] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFINDEX_T, KERNEL_ADDR);
        /* SIOCGIFCONF: the length needed, a buffer for one entry and a bit, a negative
         * length, bad ifconf and buffer pointers */
        uint64_t conf = u + 256, buf = u + 512;
        struct { int32_t len; uint32_t pad; uint64_t buf; } c = {123, 0, 0};
        copy_to_user((void *)conf, &c, sizeof(c));
        r[20] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFCONF_T, conf);
        get_user_u32(&conf_len[0], (const void *)conf);
        c = (typeof(c)){IFREQ_SIZE + 10, 0, buf};
        copy_to_user((void *)conf, &c, sizeof(c));
        r[21] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFCONF_T, conf);
        get_user_u32(&conf_len[1], (const void *)conf);
        copy_from_user(conf0, (const void *)buf, IFREQ_SIZE);
        c = (typeof(c)){-40, 0, buf};
        copy_to_user((void *)conf, &c, sizeof(c));
        r[22] = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFCONF_T, conf);
        get_user_u32(&conf_len[2], (const void *)conf);
        c = (typeof(c)){IFREQ_SIZE * 4, 0, BAD_USER_ADDR};
        copy_to_user((void *)conf, &c, sizeof(c));
        int64_t bad_buf = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFCONF_T, conf);
        int64_t bad_conf = netem_sc(SYS_ioctl, (uint64_t)fd, SIOCGIFCONF_T, KERNEL_ADDR);
        r[23] = bad_buf == -KEFAULT && bad_conf == -KEFAULT ? 0 : (bad_buf ? bad_buf : bad_conf);
        if (eth) {
            ifreq_call(fd, SIOCGIFFLAGS_T, u, eth->name, strlen(eth->name), 0, eth_flags);
            ifreq_call(fd, SIOCGIFINDEX_T, u, eth->name, strlen(eth->name), 0, eth_idx);
        }
        netem_sc(SYS_close, (uint64_t)fd, 0, 0);
    }
    proc_test_leave();
    ST_ASSERT(t, m == 0 && fd >= 0, "scratch map %d, socket %d", m, fd);
    for (int i = 0; i < 9; i++)
        ST_ASSERT(t, r[i] == 0, "call %d on lo / ifqtest: %lld", i, (long long)r[i]);
    int16_t fl;
    memcpy(&fl, lo_flags + 16, 2);
    ST_ASSERT(t, fl == 0x49, "lo flags 0x%x, want UP|LOOPBACK|RUNNING (0x49)", fl);
    ST_ASSERT(t, ifreq_has_ip4(lo_addr, (const uint8_t[]){127, 0, 0, 1}), "lo address");
    ST_ASSERT(t, ifreq_has_ip4(lo_mask, (const uint8_t[]){255, 0, 0, 0}), "lo netmask");
    ST_ASSERT(t, ifreq_has_ip4(lo_brd, (const uint8_t[]){0, 0, 0, 0}), "lo broadcast (Linux: 0.0.0.0)");
    static const uint8_t zero_mac[6];
    ST_ASSERT(t, lo_hw[16] == (772 & 0xff) && lo_hw[17] == (772 >> 8) && !memcmp(lo_hw + 18, zero_mac, 6),
              "lo hwaddr family %u", lo_hw[16] | lo_hw[17] << 8);
    int32_t v;
    memcpy(&v, lo_mtu + 16, 4);
    ST_ASSERT(t, v == lo->mtu, "lo mtu %d, want %u", v, lo->mtu);
    memcpy(&v, lo_idx + 16, 4);
    ST_ASSERT(t, v == 1, "lo index %d, want 1", v);
    ST_ASSERT(t, !strncmp((const char *)name1, "lo", 16), "index 1 is '%.16s', want lo", (const char *)name1);
    memcpy(&fl, q_flags + 16, 2);
    ST_ASSERT(t, fl == 0x1002, "down Ethernet flags 0x%x, want BROADCAST|MULTICAST (0x1002)", fl);
    ST_ASSERT(t, r[9] == -KEADDRNOTAVAIL && r[10] == -KEADDRNOTAVAIL, "no IPv4: %lld, %lld (want -EADDRNOTAVAIL)",
              (long long)r[9], (long long)r[10]);
    ST_ASSERT(t, r[11] == 0 && r[12] == 0 && r[13] == 0, "ifqtest hwaddr %lld index %lld name %lld", (long long)r[11],
              (long long)r[12], (long long)r[13]);
    ST_ASSERT(t, q_hw[16] == 1 && q_hw[17] == 0 && !memcmp(q_hw + 18, ifq_netif.mac, 6), "ifqtest hwaddr");
    memcpy(&v, q_idx + 16, 4);
    ST_ASSERT(t, v >= 2 && (uint32_t)v == ifq_index, "ifqtest index %d (netif_index %u)", v, ifq_index);
    ST_ASSERT(t, !strncmp((const char *)q_name, "ifqtest", 16), "index %u is '%.16s'", ifq_index, (const char *)q_name);
    for (int i = 14; i < 18; i++)
        ST_ASSERT(t, r[i] == -KENODEV, "unknown name/index case %d: %lld, want -ENODEV", i - 14, (long long)r[i]);
    ST_ASSERT(t, r[18] == -KEFAULT && r[19] == -KEFAULT, "bad ifreq pointer: %lld, %lld", (long long)r[18],
              (long long)r[19]);
    ST_ASSERT(t, r[20] == 0 && conf_len[0] >= IFREQ_SIZE && conf_len[0] % IFREQ_SIZE == 0,
              "SIOCGIFCONF length query: %lld, ifc_len %u", (long long)r[20], conf_len[0]);
    ST_ASSERT(t, r[21] == 0 && conf_len[1] == IFREQ_SIZE, "SIOCGIFCONF one entry: %lld, ifc_len %u", (long long)r[21],
              conf_len[1]);
    struct netif *first = netif_find((const char *)conf0);
    ST_ASSERT(t, first && ifreq_has_ip4(conf0, first->ip4), "SIOCGIFCONF entry '%.16s'", (const char *)conf0);
    ST_ASSERT(t, r[22] == 0 && conf_len[2] == 0, "SIOCGIFCONF negative ifc_len: %lld, ifc_len %u (Linux: 0, 0)",
              (long long)r[22], conf_len[2]);
    ST_ASSERT(t, r[23] == 0, "SIOCGIFCONF bad pointers: %lld, want -EFAULT", (long long)r[23]);
    if (eth) {
        memcpy(&fl, eth_flags + 16, 2);
        ST_ASSERT(t, fl == 0x1043, "%s flags 0x%x, want UP|BROADCAST|RUNNING|MULTICAST", eth->name, fl);
        memcpy(&v, eth_idx + 16, 4);
        ST_ASSERT(t, v == 2, "%s (the first NIC) index %d, want 2", eth->name, v);
    }
}

/* buf contains the text s. */
static bool text_contains(const char *buf, const char *s) {
    size_t n = strlen(s);
    for (; *buf; buf++)
        if (strncmp(buf, s, n) == 0) return true;
    return false;
}

/* /proc/net/if_inet6 (proc(5)): lo's ::1 as Linux prints it, and the Ethernet interface's
 * link-local address with its index, prefix 64, scope 20 (link) and flags 80 (permanent). */
SELFTEST(net, proc_net_if_inet6_lists_addresses) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    ST_ASSERT(t, r == 0, "mounting procfs: %d", r);
    struct vfs_ctx ctx = {m->root, m->root};
    struct vfs_file *f = NULL;
    static char buf[2048];
    int64_t len = 0;
    r = vfs_open(&ctx, "/net/if_inet6", O_RDONLY, 0, &f);
    while (r == 0 && len < (int64_t)sizeof(buf) - 1) {
        int64_t n = vfs_read(f, buf + len, sizeof(buf) - 1 - (size_t)len);
        if (n <= 0) break;
        len += n;
    }
    if (f) vfs_close(f);
    vfs_umount(m);
    buf[len] = 0;
    ST_ASSERT(t, r == 0 && len > 0, "open /proc/net/if_inet6: %d, %ld bytes", r, (long)len);
    ST_ASSERT(t, text_contains(buf, "00000000000000000000000000000001 01 80 10 80       lo\n"), "no ::1 line for lo in:\n%s",
              buf);
    struct netif *eth = virtio_net_netif(0);
    if (eth && eth->ip6_ll_valid) {
        char want[64];
        int n = 0;
        for (int i = 0; i < 16; i++) n += ksnprintf(want + n, sizeof(want) - (size_t)n, "%02x", eth->ip6_ll[i]);
        ksnprintf(want + n, sizeof(want) - (size_t)n, " %02x 40 20 80 %8s\n", netif_index(eth), eth->name);
        ST_ASSERT(t, text_contains(buf, want), "no line '%s' in:\n%s", want, buf);
    }
}
