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
