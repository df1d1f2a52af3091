/* virtio_blk.c: the virtio block device driver (VIRTIO 1.2 §5.2) behind the block layer.
 *
 *   §5.2.3 features: SIZE_MAX, SEG_MAX, BLK_SIZE, RO and FLUSH are negotiated when offered.
 *   §5.2.4 configuration: capacity (in 512-byte sectors, always), size_max, seg_max, blk_size,
 *          read with the generation check of the transport.
 *   §5.2.6 requests: a 16-byte device-readable header {type, reserved, sector}, the data
 *          buffers (device-readable for OUT, device-writable for IN), and a one-byte
 *          device-writable status (OK 0, IOERR 1, UNSUPP 2). FLUSH carries no data. The
 *          sector field counts 512-byte units whatever blk_size says.
 * One request queue (queue 0) with an MSI-X vector of its own; the interrupt collects used
 * entries and calls blk_complete. Headers and status bytes live in a per-device DMA page,
 * one slot per request in flight. A full queue puts the submitter to sleep until
 * completions free descriptors. ops->reset resets the device and fails what was in flight.
 * Resets are serialised by a mutex (two requests timing out together must not interleave:
 * one reset's ring wipe would lose a chain posted after the other finished). A device that
 * does not acknowledge the reset (§4.1.4.3.2: status never reads back 0) may still write into
 * the buffers of the requests it holds: it is marked dead, bus mastering is switched off, and
 * those requests are neither completed nor forgotten (their slots and descriptors stay taken);
 * new requests fail with -KEIO. A later reset that the device does acknowledge brings it back
 * and only then forgets them (their owners have long given up on them). */
#include "virtio.h"
#include "virtio_blk.h"
#include "block.h"
#include "pci.h"
#include "mm.h"
#include "sync.h"
#include "wait.h"
#include "printk.h"
#include "kprintf.h"
#include "kstring.h"
#include "kerrno.h"
#include "sched.h"

/* feature bits (§5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
/* configuration offsets (§5.2.4) */
#define CFG_CAPACITY 0x00
#define CFG_SIZE_MAX 0x08
#define CFG_SEG_MAX 0x0c
#define CFG_BLK_SIZE 0x14
/* request types and status (§5.2.6) */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define STATUS_UNWRITTEN 0xff /* set before posting: a device that never wrote it is caught */

#define VBLK_QUEUE_SIZE 256
#define VBLK_MAX_DATA_SEGS 256 /* cap on data descriptors per request (scratch arrays) */
#define VBLK_MAX_SLOTS 128
#define VBLK_MAX_DEVICES 26

struct vblk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* Per-slot DMA memory: the header the device reads, the status byte it writes. */
struct vblk_dma_slot {
    struct vblk_req_hdr hdr;
    volatile uint8_t status;
    uint8_t pad[15];
};
_Static_assert(sizeof(struct vblk_dma_slot) == 32, "slots must not straddle pages");

struct vblk;
struct vblk_slot {
    struct vblk *dev;
    struct blk_request *req;
    uint16_t index;
};

struct vblk {
    struct blk_device blk;
    struct virtio_device vd;
    struct virtqueue *vq;
    spinlock_t lock;               /* slots and the resetting flag */
    struct wait_queue space_wq;    /* submitters waiting for a slot or descriptors */
    struct mutex submit_mutex;     /* one submitter builds a chain at a time (scratch) */
    struct mutex reset_mutex;      /* one reset at a time */
    struct vblk_slot *slots;
    uint16_t *free_slots;
    unsigned nslots, nfree;
    struct vblk_dma_slot *dma;
    phys_addr_t dma_phys;
    size_t dma_pages;
    struct dma_seg *segs;          /* scratch for blk_dma_segments */
    struct virtq_seg *chain;       /* scratch: header, data..., status */
    unsigned max_data_segs;
    uint32_t size_max;
    unsigned lba_shift;            /* log2(sector_size / 512) */
    bool flush;
    bool resetting;
    bool dead;                     /* a reset failed: every request fails */
    bool inject_reset_failure;     /* self-tests: the next reset acts as if unacknowledged */
    unsigned stranded;             /* requests held by a dead device (never completed) */
    uint64_t requests, flushes, errors, queue_full_waits, resets;
};

static int vblk_count; /* devices registered: the next name is vd('a' + vblk_count) */

static const char *op_name(uint8_t op) {
    return op == BLK_OP_READ ? "read" : op == BLK_OP_WRITE ? "write" : "flush";
}

static void put_slot_locked(struct vblk *d, struct vblk_slot *s) {
    s->req = NULL;
    d->free_slots[d->nfree++] = s->index;
}

static void put_slot(struct vblk *d, struct vblk_slot *s) {
    uint64_t fl = spin_lock_irqsave(&d->lock);
    put_slot_locked(d, s);
    spin_unlock_irqrestore(&d->lock, fl);
}

/* Queue event (MSI-X interrupt, or the polling fallback): completes every finished request. */
static void vblk_event(struct virtqueue *vq, void *arg) {
    struct vblk *d = arg;
    struct virtq_completion c;
    int r;
    bool freed = false;
    /* A dead device's requests belong to callers that were told they timed out: whatever it
     * claims to have finished is not completed (their memory may be gone). */
    if (__atomic_load_n(&d->dead, __ATOMIC_ACQUIRE))
        return;
    while ((r = virtq_get_used(vq, &c)) != 0) {
        if (r < 0)
            continue; /* reported by the virtqueue; nothing to complete */
        struct vblk_slot *s = c.cookie;
        struct blk_request *req = s->req;
        uint8_t status = d->dma[s->index].status;
        int result = 0;
        if (c.status < 0) {
            pr_err("%s: device returned an impossible length for a %s at sector %llu\n", d->blk.name,
                   op_name(req->op), (unsigned long long)req->lba);
            result = -KEIO;
        } else if (status != VIRTIO_BLK_S_OK) {
            const char *what = status == VIRTIO_BLK_S_IOERR ? "IOERR"
                             : status == VIRTIO_BLK_S_UNSUPP ? "UNSUPP"
                             : status == STATUS_UNWRITTEN ? "never written" : "invalid";
            pr_err("%s: %s of %u sectors at sector %llu failed: device status %s (%u)\n", d->blk.name,
                   op_name(req->op), (unsigned)req->count, (unsigned long long)req->lba, what,
                   (unsigned)status);
            result = -KEIO;
        }
        if (result)
            d->errors++;
        if (d->vd.msix)
            d->blk.interrupts++;
        put_slot(d, s);
        freed = true;
        blk_complete(req, result);
    }
    if (freed)
        wake_up_all(&d->space_wq);
}

/* Takes a slot and posts the chain (chain[0] and chain[n-1] are filled here). -KENOSPC
 * when there is no slot or not enough descriptors (the caller sleeps and retries). */
static int try_post(struct vblk *d, struct blk_request *req, unsigned n, unsigned n_out, uint32_t type) {
    uint64_t fl = spin_lock_irqsave(&d->lock);
    if (d->dead) {
        spin_unlock_irqrestore(&d->lock, fl);
        return -KEIO;
    }
    if (d->resetting || d->nfree == 0 || virtq_num_free(d->vq) < n) {
        spin_unlock_irqrestore(&d->lock, fl);
        return -KENOSPC;
    }
    struct vblk_slot *s = &d->slots[d->free_slots[--d->nfree]];
    s->req = req;
    struct vblk_dma_slot *ds = &d->dma[s->index];
    ds->hdr.type = type;
    ds->hdr.reserved = 0;
    ds->hdr.sector = type == VIRTIO_BLK_T_FLUSH ? 0 : req->lba << d->lba_shift;
    ds->status = STATUS_UNWRITTEN;
    phys_addr_t pa = d->dma_phys + (phys_addr_t)s->index * sizeof(*ds);
    d->chain[0] = (struct virtq_seg){pa + offsetof(struct vblk_dma_slot, hdr), sizeof(ds->hdr)};
    d->chain[n - 1] = (struct virtq_seg){pa + offsetof(struct vblk_dma_slot, status), 1};
    /* Posting under d->lock: a reset cannot slip in between taking the slot and posting. */
    int r = virtq_add(d->vq, d->chain, n_out, d->chain + n_out, n - n_out, s);
    if (r)
        put_slot_locked(d, s);
    spin_unlock_irqrestore(&d->lock, fl);
    return r;
}

/* Splits the data segments into descriptors of at most size_max bytes, after chain[0].
 * Returns the number of data descriptors or -KEINVAL when there would be too many. */
static int build_data(struct vblk *d, int nsegs) {
    unsigned n = 0;
    for (int i = 0; i < nsegs; i++) {
        phys_addr_t a = d->segs[i].addr;
        uint32_t left = d->segs[i].len;
        while (left) {
            uint32_t piece = d->size_max && left > d->size_max ? d->size_max : left;
            if (n >= d->max_data_segs)
                return -KEINVAL;
            d->chain[1 + n++] = (struct virtq_seg){a, piece};
            a += piece;
            left -= piece;
        }
    }
    return (int)n;
}

static int vblk_submit(struct blk_device *bd, struct blk_request *req) {
    struct vblk *d = bd->priv;
    uint32_t type;
    if (__atomic_load_n(&d->dead, __ATOMIC_ACQUIRE))
        return -KEIO;
    switch (req->op) {
    case BLK_OP_READ: type = VIRTIO_BLK_T_IN; break;
    case BLK_OP_WRITE: type = VIRTIO_BLK_T_OUT; break;
    case BLK_OP_FLUSH:
        if (!d->flush) { /* no volatile cache to write back (§5.2.5) */
            blk_complete(req, 0);
            return 0;
        }
        type = VIRTIO_BLK_T_FLUSH;
        break;
    default: return -KEINVAL;
    }
    if (type != VIRTIO_BLK_T_FLUSH && (req->count == 0 || req->count > bd->max_sectors || !req->buf))
        return -KEINVAL;
    if (type == VIRTIO_BLK_T_OUT && bd->read_only)
        return -KEROFS;
    if (mutex_lock(&d->submit_mutex))
        return -KEINTR;
    unsigned n = 2, n_out = 1;
    if (type != VIRTIO_BLK_T_FLUSH) {
        int nsegs = blk_dma_segments(req->buf, (size_t)req->count * bd->sector_size, d->segs,
                                     (int)d->max_data_segs);
        int ndata = nsegs < 0 ? nsegs : build_data(d, nsegs);
        if (ndata < 0) {
            mutex_unlock(&d->submit_mutex);
            pr_err("%s: %s buffer %p (%u sectors) does not fit in %u descriptors\n", bd->name,
                   op_name(req->op), req->buf, (unsigned)req->count, d->max_data_segs);
            return -KEINVAL;
        }
        n += (unsigned)ndata;
        if (type == VIRTIO_BLK_T_OUT)
            n_out += (unsigned)ndata;
    }
    int r = try_post(d, req, n, n_out, type);
    if (r == -KENOSPC) {
        d->queue_full_waits++;
        int w = wait_event_killable_timeout(&d->space_wq, (r = try_post(d, req, n, n_out, type)) != -KENOSPC,
                                   BLK_TIMEOUT_NS);
        if (w == 0) {
            pr_err("%s: no free descriptors for %llu ms\n", bd->name,
                   (unsigned long long)(BLK_TIMEOUT_NS / 1000000));
            r = -KETIMEDOUT;
        } else if (w < 0) {
            r = w;
        }
    }
    if (r == 0) {
        d->requests++;
        if (type == VIRTIO_BLK_T_FLUSH)
            d->flushes++;
        virtio_kick(d->vq);
    }
    mutex_unlock(&d->submit_mutex);
    return r;
}

static void fail_inflight(void *cookie, void *arg) {
    struct vblk *d = arg;
    struct vblk_slot *s = cookie;
    struct blk_request *req = s->req;
    put_slot(d, s);
    d->errors++;
    blk_complete(req, -KEIO);
}

/* Drain callback after a dead device finally reset: its requests' owners gave up on them
 * long ago (the block layer reported a timeout), so they are released without a word. */
static void forget_stranded(void *cookie, void *arg) {
    struct vblk *d = arg;
    put_slot(d, cookie);
}

/* PCI command register (PCI 3.0 §6.2.2): bus mastering on or off. */
static void set_bus_master(struct vblk *d, bool on) {
    const struct pci_device *p = d->vd.pci;
    if (on) {
        pci_enable_command(p, PCI_CMD_BUS_MASTER);
        return;
    }
    if (!pci_ops)
        return;
    uint16_t cmd = pci_read16(pci_ops, p->bus, p->dev, p->fn, 0x04);
    pci_write16(pci_ops, p->bus, p->dev, p->fn, 0x04, (uint16_t)(cmd & ~PCI_CMD_BUS_MASTER));
}

static void vblk_reset(struct blk_device *bd) {
    struct vblk *d = bd->priv;
    /* Not interruptible: the caller's request must be settled before we return, killed or
     * not. A killed task's sleep returns at once, so it yields instead of spinning. */
    while (!mutex_trylock(&d->reset_mutex))
        if (task_sleep_ns(1000000) < 0)
            task_yield();
    bool was_dead = d->dead;
    uint64_t fl = spin_lock_irqsave(&d->lock);
    d->resetting = true;
    spin_unlock_irqrestore(&d->lock, fl);
    d->resets++;
    unsigned inflight = virtq_inflight(d->vq);
    if (was_dead)
        pr_warn("%s: trying to reset the dead device again (%u requests still held by it)\n", bd->name,
                d->stranded);
    else
        pr_warn("%s: resetting the device (%u requests in flight)\n", bd->name, inflight);
    int r;
    if (d->inject_reset_failure) {
        d->inject_reset_failure = false;
        r = -KETIMEDOUT;
        pr_err("%s: (self-test) the device reset is treated as unacknowledged\n", bd->name);
    } else {
        r = virtio_reset(&d->vd); /* the device stops using the rings */
    }
    if (r) {
        /* The device may still read the rings and write into the buffers of every chain it
         * holds: completing or forgetting them would hand that memory back while it can still
         * be written. Keep their slots and descriptors, cut the device off the bus, and fail
         * everything new. */
        set_bus_master(d, false);
        fl = spin_lock_irqsave(&d->lock);
        __atomic_store_n(&d->dead, true, __ATOMIC_RELEASE);
        d->resetting = false;
        spin_unlock_irqrestore(&d->lock, fl);
        d->stranded = virtq_inflight(d->vq); /* fixed from now on: nothing completes or posts */
        pr_err("%s: the device did not acknowledge the reset (error %d): it is out of service, bus mastering "
               "is off, and the %u requests it holds are kept, never completed; new requests fail with EIO\n",
               bd->name, r, d->stranded);
        wake_up_all(&d->space_wq);
        mutex_unlock(&d->reset_mutex);
        return;
    }
    if (was_dead) {
        /* The device acknowledged this time: it no longer touches memory, so the chains it
         * held can be released (not completed: their owners were told of the timeout). */
        set_bus_master(d, true);
        virtq_drain(d->vq, forget_stranded, d);
        pr_warn("%s: the device acknowledged the reset; released the %u requests it held\n", bd->name,
                d->stranded);
    } else {
        int failed = virtq_drain(d->vq, fail_inflight, d);
        if (failed)
            pr_warn("%s: failed %d request%s in flight with EIO\n", bd->name, failed, failed == 1 ? "" : "s");
    }
    r = virtio_restart(&d->vd);
    fl = spin_lock_irqsave(&d->lock);
    d->resetting = false;
    d->stranded = 0;
    /* If the restart failed the device was still reset: nothing is in flight, so marking it
     * dead here strands nothing, and a later reset may try again. */
    __atomic_store_n(&d->dead, r != 0, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&d->lock, fl);
    if (r)
        pr_err("%s: the device did not come back after reset (%d); it is out of service\n", bd->name, r);
    else if (was_dead)
        pr_info("%s: the device is back in service\n", bd->name);
    wake_up_all(&d->space_wq);
    mutex_unlock(&d->reset_mutex);
}

static const struct blk_driver_ops vblk_ops = {
    .submit = vblk_submit,
    .reset = vblk_reset,
};

/* Largest request (in sectors) whose data fits in `limit` descriptors wherever the buffer
 * starts: a buffer of B bytes touches at most (B - 1) / 4096 + 2 pages, and segments longer
 * than size_max split further. Rounded down to a power of two. */
static uint32_t compute_max_sectors(unsigned limit, uint32_t size_max, uint32_t sector_size) {
    uint64_t bytes = (uint64_t)(limit - 1) * PAGE_SIZE;
    for (; bytes >= sector_size; bytes -= sector_size) {
        uint64_t pages = (bytes - 1) / PAGE_SIZE + 2;
        uint64_t pieces = size_max && size_max < PAGE_SIZE ? (bytes + size_max - 1) / size_max + pages : pages;
        if (pieces <= limit)
            break;
    }
    uint32_t sectors = (uint32_t)MIN(bytes / sector_size, (uint64_t)1 << 30);
    uint32_t p2 = 1;
    while (p2 * 2 <= sectors)
        p2 *= 2;
    return sectors ? p2 : 0;
}


/* After the queue exists its interrupt handler points at d: stop the device and keep d. */
static int abandon(struct vblk *d, int r) {
    virtio_reset(&d->vd);
    virtio_fail(&d->vd);
    return r;
}

static int vblk_probe(const struct pci_device *pci, const char *name) {
    struct vblk *d = kzalloc(sizeof(*d));
    if (!d)
        return -KENOMEM;
    spin_init(&d->lock, "virtio-blk");
    wait_queue_init(&d->space_wq, "virtio-blk-space");
    mutex_init(&d->submit_mutex, "virtio-blk-submit");
    mutex_init(&d->reset_mutex, "virtio-blk-reset");
    int r = virtio_pci_open(&d->vd, pci, name);
    if (r == 0 && d->vd.device_id != VIRTIO_ID_BLOCK) {
        pr_err("%s: virtio device %04x is not a block device (type %u)\n", name, pci->device,
               (unsigned)d->vd.device_id);
        r = -KENODEV;
    }
    if (r == 0)
        r = virtio_begin_init(&d->vd);
    if (r == 0)
        r = virtio_negotiate(&d->vd, VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
                                         VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
                                         VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    uint64_t capacity = 0;
    uint32_t seg_max = 0, size_max = 0, blk_size = 512;
    if (r == 0)
        r = virtio_config_read(&d->vd, CFG_CAPACITY, &capacity, 8);
    if (r == 0 && virtio_has_feature(&d->vd, VIRTIO_BLK_F_SEG_MAX))
        r = virtio_config_read(&d->vd, CFG_SEG_MAX, &seg_max, 4);
    if (r == 0 && virtio_has_feature(&d->vd, VIRTIO_BLK_F_SIZE_MAX))
        r = virtio_config_read(&d->vd, CFG_SIZE_MAX, &size_max, 4);
    if (r == 0 && virtio_has_feature(&d->vd, VIRTIO_BLK_F_BLK_SIZE))
        r = virtio_config_read(&d->vd, CFG_BLK_SIZE, &blk_size, 4);
    if (r) {
        if (d->vd.common)
            virtio_fail(&d->vd);
        kfree(d);
        return r;
    }
    if (blk_size < 512 || blk_size > 65536 || (blk_size & (blk_size - 1))) {
        pr_warn("%s: ignoring odd blk_size %u; using 512-byte sectors\n", name, blk_size);
        blk_size = 512;
    }
    if (size_max && size_max < 512) {
        pr_warn("%s: ignoring size_max %u (below one sector)\n", name, size_max);
        size_max = 0;
    }
    d->size_max = size_max;
    d->flush = virtio_has_feature(&d->vd, VIRTIO_BLK_F_FLUSH);
    for (d->lba_shift = 0; (512u << d->lba_shift) < blk_size; d->lba_shift++) {}

    d->vq = virtio_queue_create(&d->vd, 0, VBLK_QUEUE_SIZE, vblk_event, d);
    if (!d->vq)
        return abandon(d, -KENODEV);
    unsigned limit = d->vq->size > 2 ? d->vq->size - 2u : 0;
    if (seg_max)
        limit = MIN(limit, seg_max);
    limit = MIN(limit, (unsigned)VBLK_MAX_DATA_SEGS);
    uint32_t max_sectors = limit >= 2 ? compute_max_sectors(limit, size_max, blk_size) : 0;
    if (max_sectors == 0) {
        pr_err("%s: a request cannot carry even one sector (queue %u, seg_max %u, size_max %u)\n",
               name, (unsigned)d->vq->size, seg_max, size_max);
        return abandon(d, -KENODEV);
    }
    d->max_data_segs = limit;
    d->nslots = MIN((unsigned)d->vq->size / 2, (unsigned)VBLK_MAX_SLOTS);
    if (d->nslots == 0)
        d->nslots = 1;
    d->dma_pages = ALIGN_UP(d->nslots * sizeof(struct vblk_dma_slot), PAGE_SIZE) / PAGE_SIZE;
    d->dma_phys = pmm_alloc_contig(d->dma_pages, PAGE_SIZE);
    d->slots = kzalloc(d->nslots * sizeof(*d->slots));
    d->free_slots = kzalloc(d->nslots * sizeof(*d->free_slots));
    d->segs = kzalloc(limit * sizeof(*d->segs));
    d->chain = kzalloc((limit + 2) * sizeof(*d->chain));
    if (!d->dma_phys || !d->slots || !d->free_slots || !d->segs || !d->chain) {
        pr_err("%s: out of memory\n", name);
        return abandon(d, -KENOMEM);
    }
    d->dma = phys_to_virt(d->dma_phys);
    memset(d->dma, 0, d->dma_pages * PAGE_SIZE);
    for (unsigned i = 0; i < d->nslots; i++) {
        d->slots[i] = (struct vblk_slot){d, NULL, (uint16_t)i};
        d->free_slots[i] = (uint16_t)(d->nslots - 1 - i);
    }
    d->nfree = d->nslots;
    r = virtio_driver_ok(&d->vd);
    if (r)
        return abandon(d, r);

    struct blk_device *b = &d->blk;
    strlcpy(b->name, name, sizeof(b->name));
    ksnprintf(b->model, sizeof(b->model), "virtio-blk %02x:%02x.%x", pci->bus, pci->dev, pci->fn);
    b->driver = "virtio-blk";
    b->sector_size = blk_size;
    b->sectors = capacity >> d->lba_shift;
    b->max_sectors = max_sectors;
    b->read_only = virtio_has_feature(&d->vd, VIRTIO_BLK_F_RO);
    b->ops = &vblk_ops;
    b->priv = d;
    r = blk_register(b);
    if (r) {
        pr_err("%s: block layer refused the device (%d)\n", name, r);
        return abandon(d, r);
    }
    pr_info("%s: virtio-blk %02x:%02x.%x, %llu sectors of %u bytes (%llu MiB)%s, queue %u, "
            "%u segs/request, max %u sectors, flush %s, %s\n", name, pci->bus, pci->dev, pci->fn,
            (unsigned long long)b->sectors, blk_size,
            (unsigned long long)((b->sectors * blk_size) >> 20), b->read_only ? " read-only" : "",
            (unsigned)d->vq->size, limit, max_sectors, d->flush ? "yes" : "no",
            d->vd.msix ? "MSI-X" : "polled");
    return 0;
}

static bool is_virtio_blk(const struct pci_device *p) {
    if (p->vendor != VIRTIO_PCI_VENDOR)
        return false;
    if (p->device == VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_BLOCK)
        return true;
    return p->device == VIRTIO_PCI_LEGACY_FIRST + 1; /* transitional block device */
}

void virtio_blk_init(void) {
    int found = 0;
    for (int i = 0; i < pci_bus.count && vblk_count < VBLK_MAX_DEVICES; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (!is_virtio_blk(p))
            continue;
        found++;
        char name[8];
        ksnprintf(name, sizeof(name), "vd%c", 'a' + vblk_count);
        if (vblk_probe(p, name) == 0)
            vblk_count++;
    }
    if (found == 0)
        pr_info("virtio-blk: no virtio block devices\n");
    else if (vblk_count < found)
        pr_warn("virtio-blk: %d of %d devices could not be used\n", found - vblk_count, found);
}

bool virtio_blk_get_info(const struct blk_device *dev, struct virtio_blk_info *out) {
    if (!dev || dev->ops != &vblk_ops)
        return false;
    struct vblk *d = dev->priv;
    *out = (struct virtio_blk_info){
        .queue_size = d->vq->size,
        .max_data_segs = d->max_data_segs,
        .size_max = d->size_max,
        .flush = d->flush,
        .msix = d->vd.msix,
        .msix_entry = d->vq->msix_entry,
        .requests = d->requests,
        .flushes = d->flushes,
        .errors = d->errors,
        .queue_full_waits = d->queue_full_waits,
        .resets = d->resets,
        .dead = d->dead,
        .stranded = d->stranded,
        .slots = d->nslots,
        .free_slots = d->nfree,
        .free_descriptors = virtq_num_free(d->vq),
        .inflight = virtq_inflight(d->vq),
        .pci_bus = d->vd.pci->bus,
        .pci_dev = d->vd.pci->dev,
        .pci_fn = d->vd.pci->fn,
    };
    return true;
}

void virtio_blk_inject_reset_failure(struct blk_device *dev) {
    if (!dev || dev->ops != &vblk_ops)
        return;
    struct vblk *d = dev->priv;
    d->inject_reset_failure = true;
}
