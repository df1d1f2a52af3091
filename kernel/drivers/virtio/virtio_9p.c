/* virtio_9p.c: the virtio-9p transport (VIRTIO 1.2 §5.11) under the 9P2000.L client of
 * kernel/fs/p9_client.c.
 *
 *   §5.11.3 feature VIRTIO_9P_F_MOUNT_TAG (bit 0): the configuration holds the tag;
 *   §5.11.4 configuration: le16 tag_len, then tag_len bytes of tag (not NUL-terminated);
 *   §5.11.6 one request queue (queue 0): each request is a chain of a device-readable
 *           buffer holding one T-message and a device-writable buffer for the R-message;
 *           the used length is the size of the reply.
 * One request at a time per device: a mutex serialises them, the queue's event (MSI-X or
 * the transport's polling fallback) marks the request done and wakes the sender. A request
 * not answered within VIRTIO_9P_TIMEOUT_NS marks the device dead (it still owns our buffers,
 * which therefore are never reused); every later request fails with -KEIO. */
#include "virtio.h"
#include "virtio_9p.h"
#include "p9.h"
#include "pci.h"
#include "mm.h"
#include "sync.h"
#include "wait.h"
#include "printk.h"
#include "kprintf.h"
#include "kstring.h"
#include "kerrno.h"

#define VIRTIO_9P_F_MOUNT_TAG 0
#define V9P_QUEUE_SIZE 16
#define V9P_TAG_MAX 64

struct v9p {
    struct virtio_device vd;
    struct virtqueue *vq;
    struct mutex rpc_mutex;
    struct wait_queue done_wq;
    bool done;                 /* the posted request came back (set by the event) */
    bool dead;
    uint32_t used_len;
    int used_status;
    uint8_t *tx, *rx;          /* VIRTIO_9P_MSIZE bytes each, physically contiguous */
    phys_addr_t tx_phys, rx_phys;
    char tag[V9P_TAG_MAX + 1];
    struct p9_client client;
    bool client_ready;         /* Tversion succeeded */
};

static struct v9p *v9p_devs[VIRTIO_9P_MAX_DEVICES];
static int v9p_count = -1;     /* -1: not probed yet */
static struct mutex v9p_init_mutex = MUTEX_INIT("virtio-9p-init");

/* Queue event (interrupt or polling fallback): the one request in flight is done. */
static void v9p_event(struct virtqueue *vq, void *arg) {
    struct v9p *d = arg;
    struct virtq_completion c;
    int r;
    while ((r = virtq_get_used(vq, &c)) != 0) {
        if (r < 0 || c.cookie != d)
            continue; /* reported by the virtqueue */
        d->used_len = c.len;
        d->used_status = c.status;
        __atomic_store_n(&d->done, true, __ATOMIC_RELEASE);
        wake_up_all(&d->done_wq);
    }
}

/* p9_rpc_fn: sends req (in d->tx) and receives the reply into d->rx. */
static int v9p_rpc(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                   size_t resp_cap, size_t *resp_len) {
    struct v9p *d = ctx;
    if (req != d->tx || resp != d->rx || req_len == 0 || req_len > VIRTIO_9P_MSIZE ||
        resp_cap == 0 || resp_cap > VIRTIO_9P_MSIZE)
        return -KEINVAL;
    if (mutex_lock(&d->rpc_mutex) != 0)
        return -KEINTR;
    int rc = 0;
    if (d->dead) {
        rc = -KEIO;
        goto out;
    }
    struct virtq_seg out = { d->tx_phys, (uint32_t)req_len };
    struct virtq_seg in = { d->rx_phys, (uint32_t)resp_cap };
    __atomic_store_n(&d->done, false, __ATOMIC_RELEASE);
    rc = virtq_add(d->vq, &out, 1, &in, 1, d);
    if (rc)
        goto out;
    virtio_kick(d->vq);
    int w = wait_event_timeout_nokill(&d->done_wq, __atomic_load_n(&d->done, __ATOMIC_ACQUIRE),
                                      VIRTIO_9P_TIMEOUT_NS);
    if (w != 1) {
        d->dead = true;
        pr_err("9p %s: no reply within %llu ms; device taken out of service\n", d->tag,
               (unsigned long long)(VIRTIO_9P_TIMEOUT_NS / 1000000));
        rc = -KETIMEDOUT;
        goto out;
    }
    if (d->used_status < 0) {
        rc = -KEIO;
        goto out;
    }
    *resp_len = d->used_len;
out:
    mutex_unlock(&d->rpc_mutex);
    return rc;
}

/* Reads the mount tag from the configuration (§5.11.4). */
static int v9p_read_tag(struct v9p *d) {
    uint16_t len = 0;
    int r = virtio_config_read(&d->vd, 0, &len, 2);
    if (r)
        return r;
    if (len == 0 || len > V9P_TAG_MAX) {
        pr_err("%s: mount tag length %u not supported\n", d->vd.name, (unsigned)len);
        return -KENODEV;
    }
    for (uint16_t i = 0; i < len; i++) {
        uint8_t ch;
        r = virtio_config_read(&d->vd, 2u + i, &ch, 1);
        if (r)
            return r;
        d->tag[i] = (char)ch;
    }
    d->tag[len] = '\0';
    return 0;
}

static int v9p_abandon(struct v9p *d, int r) {
    virtio_reset(&d->vd);
    virtio_fail(&d->vd);
    return r; /* d stays allocated: the queue's handler may still point at it */
}

static int v9p_probe(const struct pci_device *pci, const char *name, struct v9p **out) {
    struct v9p *d = kzalloc(sizeof(*d));
    if (!d)
        return -KENOMEM;
    mutex_init(&d->rpc_mutex, "virtio-9p");
    wait_queue_init(&d->done_wq, "virtio-9p-done");
    int r = virtio_pci_open(&d->vd, pci, name);
    if (r == 0 && d->vd.device_id != VIRTIO_ID_9P)
        r = -KENODEV;
    if (r == 0)
        r = virtio_begin_init(&d->vd);
    if (r == 0)
        r = virtio_negotiate(&d->vd, VIRTIO_BIT(VIRTIO_9P_F_MOUNT_TAG));
    if (r == 0 && !virtio_has_feature(&d->vd, VIRTIO_9P_F_MOUNT_TAG)) {
        pr_err("%s: virtio-9p device without a mount tag\n", name);
        r = -KENODEV;
    }
    if (r == 0)
        r = v9p_read_tag(d);
    if (r) {
        if (d->vd.common)
            virtio_fail(&d->vd);
        kfree(d);
        return r;
    }
    size_t pages = VIRTIO_9P_MSIZE / PAGE_SIZE;
    d->tx_phys = pmm_alloc_contig(pages, PAGE_SIZE);
    d->rx_phys = pmm_alloc_contig(pages, PAGE_SIZE);
    if (!d->tx_phys || !d->rx_phys) {
        pr_err("%s: out of memory for 9P buffers\n", name);
        if (d->vd.common)
            virtio_fail(&d->vd);
        return -KENOMEM; /* the pages (if any) stay: rare, and nothing else holds them */
    }
    d->tx = phys_to_virt(d->tx_phys);
    d->rx = phys_to_virt(d->rx_phys);
    d->vq = virtio_queue_create(&d->vd, 0, V9P_QUEUE_SIZE, v9p_event, d);
    if (!d->vq)
        return v9p_abandon(d, -KENODEV);
    r = virtio_driver_ok(&d->vd);
    if (r)
        return v9p_abandon(d, r);
    p9_client_init(&d->client, v9p_rpc, d, d->tx, d->rx, VIRTIO_9P_MSIZE);
    r = p9_client_version(&d->client);
    if (r) {
        pr_err("%s: 9P2000.L version negotiation with '%s' failed (%d)\n", name, d->tag, r);
        return v9p_abandon(d, r);
    }
    d->client_ready = true;
    pr_info("%s: virtio-9p %02x:%02x.%x, tag '%s', msize %u, %s\n", name, pci->bus, pci->dev,
            pci->fn, d->tag, d->client.msize, d->vd.msix ? "MSI-X" : "polled");
    *out = d;
    return 0;
}

static bool is_virtio_9p(const struct pci_device *p) {
    if (p->vendor != VIRTIO_PCI_VENDOR)
        return false;
    return p->device == VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_9P ||
           p->device == VIRTIO_PCI_LEGACY_FIRST + 9; /* transitional 9p device */
}

int virtio_9p_init(void) {
    mutex_lock(&v9p_init_mutex);
    if (v9p_count >= 0) {
        mutex_unlock(&v9p_init_mutex);
        return v9p_count;
    }
    int found = 0, ok = 0;
    for (int i = 0; i < pci_bus.count && ok < (int)VIRTIO_9P_MAX_DEVICES; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (!is_virtio_9p(p))
            continue;
        found++;
        char name[8];
        ksnprintf(name, sizeof(name), "9p%d", ok);
        struct v9p *d = NULL;
        if (v9p_probe(p, name, &d) == 0)
            v9p_devs[ok++] = d;
    }
    if (found == 0)
        pr_info("virtio-9p: no virtio-9p devices\n");
    else if (ok < found)
        pr_warn("virtio-9p: %d of %d devices could not be used\n", found - ok, found);
    v9p_count = ok;
    mutex_unlock(&v9p_init_mutex);
    return ok;
}

struct p9_client *virtio_9p_client(const char *mount_tag) {
    virtio_9p_init();
    for (int i = 0; i < v9p_count; i++)
        if (v9p_devs[i]->client_ready && strcmp(v9p_devs[i]->tag, mount_tag) == 0)
            return &v9p_devs[i]->client;
    return NULL;
}

bool virtio_9p_tag(int i, char *buf, size_t size) {
    virtio_9p_init();
    if (i < 0 || i >= v9p_count)
        return false;
    strlcpy(buf, v9p_devs[i]->tag, size);
    return true;
}
