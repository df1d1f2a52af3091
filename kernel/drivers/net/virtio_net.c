/* virtio_net.c: the virtio network device driver (VIRTIO 1.2 §5.1) behind struct netif.
 *
 *   §5.1.3 features: VIRTIO_NET_F_MAC (5), VIRTIO_NET_F_STATUS (16), and VIRTIO_F_VERSION_1
 *          (asked for by the transport). No offloads, no mergeable buffers, no control queue.
 *   §5.1.4 configuration: mac[6] at 0, status (le16, bit 0 LINK_UP) at 6.
 *   §5.1.6 every frame is preceded by struct virtio_net_hdr, 12 bytes with VERSION_1
 *          (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers); we
 *          send it zeroed (no checksum offload, no GSO) and skip it on receive.
 *   §5.1.6.3 receive buffers: without VIRTIO_NET_F_MRG_RXBUF / GUEST_TSO each must hold the
 *          header and a 1514-byte frame. Queue 0 (receiveq1) is kept full with up to
 *          VNET_RX_BUFFERS packet buffers; queue 1 (transmitq1) carries outgoing frames.
 * Interrupts (MSI-X, one vector per queue) only call netif_rx_ready; the RX interrupt also
 * suppresses further RX interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT, §2.7.7) until net_poller's
 * poll finds the ring empty. poll (net_poller only) hands received frames up, refills the
 * ring and frees completed transmit buffers; transmit also reclaims when the ring is full.
 * No memory is freed in interrupt context. */
#include "net.h"
#include "virtio.h"
#include "pci.h"
#include "mm.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "time.h"

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define CFG_MAC 0
#define CFG_STATUS 6
#define VNET_HDR_LEN 12
#define VNET_RX_BUFFERS 256
#define VNET_TX_SIZE 256
#define VNET_RX_BUF (VNET_HDR_LEN + PKT_MAX_FRAME)
#define VNET_MAX_DEVICES 4

struct vnet {
    struct netif nif;
    struct virtio_device vd;
    struct virtqueue *rxq, *txq;
    volatile bool link;
    bool has_status;
    uint64_t rx_refill_failures, tx_ring_full;
};

static int vnet_count;
static struct vnet *vnet_devs[VNET_MAX_DEVICES]; /* registered devices, in order */

/* Splits [va, va+len) into physically contiguous pieces (at most max). 0 when it does not fit. */
static int dma_segs(const void *va, uint32_t len, struct virtq_seg *segs, int max) {
    int n = 0;
    uintptr_t a = (uintptr_t)va;
    while (len) {
        uint32_t piece = (uint32_t)MIN((uint64_t)len, PAGE_SIZE - (a & (PAGE_SIZE - 1)));
        phys_addr_t pa = virt_to_phys((const void *)a);
        if (n && segs[n - 1].addr + segs[n - 1].len == pa) {
            segs[n - 1].len += piece;
        } else {
            if (n == max)
                return 0;
            segs[n++] = (struct virtq_seg){pa, piece};
        }
        a += piece;
        len -= piece;
    }
    return n;
}

/* Posts one receive buffer (p, or a new one). false when none could be posted. */
static bool rx_post(struct vnet *d, struct pkt *p) {
    if (!p)
        p = pkt_alloc(VNET_RX_BUF);
    if (!p)
        return false;
    p->data = p->head + PKT_HEADROOM;
    p->len = 0;
    p->l3_offset = p->l4_offset = 0;
    struct virtq_seg segs[2];
    int n = dma_segs(p->data, VNET_RX_BUF, segs, 2);
    if (n == 0 || virtq_add(d->rxq, NULL, 0, segs, (unsigned)n, p) != 0) {
        pkt_free(p);
        return false;
    }
    return true;
}

static void rx_fill(struct vnet *d) {
    bool any = false;
    while (virtq_inflight(d->rxq) < VNET_RX_BUFFERS && virtq_num_free(d->rxq) >= 1) {
        if (!rx_post(d, NULL)) { /* no memory, or a buffer needing two descriptors */
            if (virtq_num_free(d->rxq) > 1)
                d->rx_refill_failures++;
            break;
        }
        any = true;
    }
    if (any)
        virtio_kick(d->rxq);
}

/* Frees the transmit buffers the device is done with. */
static void tx_reclaim(struct vnet *d) {
    struct virtq_completion c;
    int r;
    while ((r = virtq_get_used(d->txq, &c)) != 0)
        if (r > 0)
            pkt_free(c.cookie);
}

static void rx_event(struct virtqueue *vq, void *arg) {
    struct vnet *d = arg;
    vq->avail->flags |= VIRTQ_AVAIL_F_NO_INTERRUPT; /* poll re-enables when drained */
    netif_rx_ready(&d->nif);
}

static void tx_event(struct virtqueue *vq, void *arg) {
    struct vnet *d = arg;
    netif_rx_ready(&d->nif); /* net_poller reclaims the buffers (no kfree in interrupts) */
}

static void config_event(struct virtio_device *vd) {
    struct vnet *d = (struct vnet *)((char *)vd - offsetof(struct vnet, vd));
    uint16_t st = 0;
    if (d->has_status && virtio_config_read(vd, CFG_STATUS, &st, 2) == 0) {
        bool up = st & VIRTIO_NET_S_LINK_UP;
        if (up != d->link)
            pr_info("%s: link %s\n", d->nif.name, up ? "up" : "down");
        d->link = up;
    }
}

static int vnet_poll(struct netif *nif, int budget) {
    struct vnet *d = nif->priv;
    int n = 0;
    tx_reclaim(d);
    for (;;) {
        struct virtq_completion c;
        int r = 0;
        if (n < budget)
            r = virtq_get_used(d->rxq, &c);
        if (r < 0)
            continue; /* a bad entry, logged by the virtqueue */
        if (r == 0) {
            if (n >= budget)
                break;
            /* Drained: re-arm the interrupt, then look once more so nothing slips between. */
            d->rxq->avail->flags &= (uint16_t)~VIRTQ_AVAIL_F_NO_INTERRUPT;
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            if (!virtq_has_used(d->rxq))
                break;
            d->rxq->avail->flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
            continue;
        }
        struct pkt *p = c.cookie;
        if (c.status < 0 || c.len < VNET_HDR_LEN + ETH_HLEN) {
            nif->stats.rx_errors++;
            if (!rx_post(d, p))
                d->rx_refill_failures++;
            continue;
        }
        if (!rx_post(d, NULL)) { /* no memory: keep the ring full, lose this frame */
            nif->stats.rx_dropped++;
            if (!rx_post(d, p))
                d->rx_refill_failures++;
            continue;
        }
        p->len = c.len;
        pkt_pull(p, VNET_HDR_LEN);
        p->timestamp_ns = time_ns();
        netif_receive(nif, p);
        n++;
    }
    rx_fill(d); /* tops up after earlier refill failures; kicks when it posted */
    if (n)
        virtio_kick(d->rxq);
    return n;
}

static int vnet_transmit(struct netif *nif, struct pkt *p) {
    struct vnet *d = nif->priv;
    uint32_t len = p->len;
    uint32_t padded = len < 60 ? 60 : len;
    bool room = (uint32_t)(p->data - p->head) >= VNET_HDR_LEN &&
                p->size - (uint32_t)(p->data - p->head) >= padded;
    if (!room) { /* a packet without headroom or tailroom: copy it */
        struct pkt *c = pkt_alloc(padded);
        if (!c) {
            pkt_free(p);
            return -KENOMEM;
        }
        memcpy(pkt_put(c, len), p->data, len);
        pkt_free(p);
        p = c;
    }
    if (len < 60)
        memset(pkt_put(p, 60 - len), 0, 60 - len);
    memset(pkt_push(p, VNET_HDR_LEN), 0, VNET_HDR_LEN);
    struct virtq_seg segs[2];
    int n = dma_segs(p->data, p->len, segs, 2);
    int r = n ? virtq_add(d->txq, segs, (unsigned)n, NULL, 0, p) : -KEINVAL;
    if (r == -KENOSPC) {
        tx_reclaim(d);
        r = virtq_add(d->txq, segs, (unsigned)n, NULL, 0, p);
        if (r == -KENOSPC)
            d->tx_ring_full++;
    }
    if (r) {
        pkt_free(p);
        return r;
    }
    virtio_kick(d->txq);
    return 0;
}

static bool vnet_link_up(struct netif *nif) {
    struct vnet *d = nif->priv;
    return d->link;
}

static const struct netif_ops vnet_ops = {
    .transmit = vnet_transmit,
    .poll = vnet_poll,
    .link_up = vnet_link_up,
};

/* After a queue exists its interrupt points at d: stop the device and keep d. */
static int abandon(struct vnet *d, int r) {
    virtio_reset(&d->vd);
    virtio_fail(&d->vd);
    return r;
}

static int vnet_probe(const struct pci_device *pci) {
    struct vnet *d = kzalloc(sizeof(*d));
    if (!d)
        return -KENOMEM;
    char name[NETIF_NAME_MAX];
    for (int i = 0; i < 16; i++) { /* the first free ethN (other NIC drivers use them too) */
        ksnprintf(name, sizeof(name), "eth%d", i);
        if (!netif_find(name))
            break;
    }
    int r = virtio_pci_open(&d->vd, pci, name);
    if (r == 0 && d->vd.device_id != VIRTIO_ID_NET) {
        pr_err("%s: virtio device %04x is not a network device\n", name, pci->device);
        r = -KENODEV;
    }
    if (r == 0)
        r = virtio_begin_init(&d->vd);
    if (r == 0)
        r = virtio_negotiate(&d->vd, VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS));
    if (r == 0 && virtio_has_feature(&d->vd, VIRTIO_NET_F_MAC))
        for (int i = 0; i < 6 && r == 0; i++)
            r = virtio_config_read(&d->vd, CFG_MAC + (uint32_t)i, &d->nif.mac[i], 1);
    d->has_status = virtio_has_feature(&d->vd, VIRTIO_NET_F_STATUS);
    uint16_t st = VIRTIO_NET_S_LINK_UP;
    if (r == 0 && d->has_status)
        r = virtio_config_read(&d->vd, CFG_STATUS, &st, 2);
    if (r) {
        if (d->vd.common)
            virtio_fail(&d->vd);
        kfree(d);
        return r;
    }
    if (!virtio_has_feature(&d->vd, VIRTIO_NET_F_MAC)) {
        /* No MAC from the device: a locally administered one (IEEE 802: bit 1 of byte 0). */
        static const uint8_t local[6] = {0x02, 0x53, 0x41, 0x42, 0x4f, 0x00};
        memcpy(d->nif.mac, local, 6);
        d->nif.mac[5] = (uint8_t)vnet_count;
    }
    d->link = st & VIRTIO_NET_S_LINK_UP;
    d->vd.config_changed = config_event;
    d->rxq = virtio_queue_create(&d->vd, 0, VNET_RX_BUFFERS, rx_event, d);
    if (!d->rxq)
        return abandon(d, -KENODEV);
    d->txq = virtio_queue_create(&d->vd, 1, VNET_TX_SIZE, tx_event, d);
    if (!d->txq)
        return abandon(d, -KENODEV);
    strlcpy(d->nif.name, name, sizeof(d->nif.name));
    d->nif.mtu = 1500;
    d->nif.flags = NETIF_UP;
    d->nif.ops = &vnet_ops;
    d->nif.priv = d;
    rx_fill(d);
    r = virtio_driver_ok(&d->vd);
    if (r)
        return abandon(d, r);
    if (virtq_inflight(d->rxq) == 0) {
        pr_err("%s: no receive buffers could be posted\n", name);
        return abandon(d, -KENOMEM);
    }
    r = netif_register(&d->nif);
    if (r) {
        pr_err("%s: interface not registered (%d)\n", name, r);
        return abandon(d, r);
    }
    vnet_devs[vnet_count] = d;
    const uint8_t *m = d->nif.mac;
    pr_info("%s: virtio-net %02x:%02x.%x, MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s, %u RX buffers, %s\n",
            name, pci->bus, pci->dev, pci->fn, m[0], m[1], m[2], m[3], m[4], m[5],
            d->link ? "up" : "down", virtq_inflight(d->rxq), d->vd.msix ? "MSI-X" : "polled");
    return 0;
}

static bool is_virtio_net(const struct pci_device *p) {
    return p->vendor == VIRTIO_PCI_VENDOR &&
           (p->device == VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_NET || p->device == VIRTIO_PCI_LEGACY_FIRST);
}

/* Finds every virtio network function on the PCI bus and registers an interface for each
 * ("ethN"). A machine without one says so in one line. After pci_init, before net_init. */
void virtio_net_init(void) {
    int found = 0;
    for (int i = 0; i < pci_bus.count && vnet_count < VNET_MAX_DEVICES; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (!is_virtio_net(p))
            continue;
        found++;
        if (vnet_probe(p) == 0)
            vnet_count++;
    }
    if (found == 0)
        pr_info("virtio-net: no virtio network device\n");
    else if (vnet_count < found)
        pr_warn("virtio-net: %d of %d devices could not be used\n", found - vnet_count, found);
}

/* The i-th virtio-net interface, or NULL (self-tests). */
struct netif *virtio_net_netif(int i);
struct netif *virtio_net_netif(int i) {
    return i >= 0 && i < VNET_MAX_DEVICES && vnet_devs[i] ? &vnet_devs[i]->nif : NULL;
}
