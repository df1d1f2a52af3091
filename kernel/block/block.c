/* block.c: the block layer (the contract is in block.h; docs/storage.md).
 *
 * One synchronous entry point per operation: blk_read, blk_write, blk_flush. They check the
 * range, split the transfer into requests no larger than the driver's max_sectors, hand each
 * to the driver's submit(), and sleep on the request's wait queue until blk_complete() is
 * called from the device interrupt. A request that does not complete within BLK_TIMEOUT_NS is
 * reported, the driver's reset() aborts everything in flight, and the caller gets
 * -KETIMEDOUT. -KEIO is retried BLK_RETRIES times. Partitions are block devices whose submit()
 * forwards to the parent with the partition's start added. */
#include "types.h"
#include "block.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "mm.h"
#include "sync.h"
#include "spinlock.h"

static struct mutex registry_lock = MUTEX_INIT("blk-registry");
static struct blk_device *devices;

/* ---- registry ---- */

struct blk_device *blk_find(const char *name) {
    for (struct blk_device *d = devices; d; d = d->next)
        if (strcmp(d->name, name) == 0) return d;
    return NULL;
}

void blk_for_each(void (*fn)(struct blk_device *dev, void *ctx), void *ctx) {
    for (struct blk_device *d = devices; d; d = d->next) fn(d, ctx);
}

/* Appends at the end, so disks are listed before the partitions registered after them. */
static void append(struct blk_device *dev) {
    dev->next = NULL;
    struct blk_device **pp = &devices;
    while (*pp) pp = &(*pp)->next;
    *pp = dev;
}

static bool valid_sector_size(uint32_t s) { return s >= 512 && s <= 65536 && (s & (s - 1)) == 0; }

static void scan_partitions(struct blk_device *dev);

int blk_register(struct blk_device *dev) {
    if (!dev || !dev->name[0] || !dev->ops || !dev->ops->submit || !valid_sector_size(dev->sector_size))
        return -KEINVAL;
    if (dev->max_sectors == 0) dev->max_sectors = 128;
    mutex_lock(&registry_lock);
    if (blk_find(dev->name)) {
        mutex_unlock(&registry_lock);
        printk(LOG_ERR, "blk: a device named %s exists already\n", dev->name);
        return -KEEXIST;
    }
    append(dev);
    mutex_unlock(&registry_lock);
    printk(LOG_INFO, "blk: %s: %llu sectors of %u bytes (%llu MiB), %s%s%s\n", dev->name,
           (unsigned long long)dev->sectors, dev->sector_size,
           (unsigned long long)(dev->sectors * dev->sector_size >> 20), dev->driver ? dev->driver : "?",
           dev->model[0] ? ", " : "", dev->model);
    if (!dev->parent) scan_partitions(dev);
    return 0;
}

/* ---- requests ---- */

/* The request and its wait queue live on the waiting caller's stack. Everything here happens
 * under the queue's lock, and the caller takes that lock once before it returns (finish()),
 * so the completer is done with both before they go away. */
void blk_complete(struct blk_request *req, int status) {
    struct wait_queue *wq = req->waiters;
    if (!wq) {
        req->status = status;
        __atomic_store_n(&req->done, true, __ATOMIC_RELEASE);
        return;
    }
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    req->status = status;
    __atomic_store_n(&req->done, true, __ATOMIC_RELEASE);
    wake_up_all_locked(wq);
    spin_unlock_irqrestore(&wq->lock, flags);
}

/* Waits until a completer that set `done` has also left blk_complete. */
static void finish(struct wait_queue *wq) {
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    spin_unlock_irqrestore(&wq->lock, flags);
}

int blk_check_range(const struct blk_device *dev, uint64_t offset, uint64_t length) {
    if (!dev || length == 0) return -KEINVAL;
    if (offset % dev->sector_size || length % dev->sector_size) return -KEINVAL;
    uint64_t end = offset + length;
    if (end < offset || end > dev->sectors * dev->sector_size) return -KEINVAL;
    return 0;
}

static const char *op_name(int op) { return op == BLK_OP_READ ? "read" : op == BLK_OP_WRITE ? "write" : "flush"; }

/* One request, start to finish: submit, sleep until done or the deadline, reset on timeout. */
static int do_request(struct blk_device *dev, int op, uint64_t lba, uint32_t count, void *buf) {
    struct wait_queue wq;
    wait_queue_init(&wq, dev->name);
    struct blk_request req = {0};
    req.op = (uint8_t)op;
    req.lba = lba;
    req.count = count;
    req.buf = buf;
    req.waiters = &wq;
    int r = dev->ops->submit(dev, &req);
    if (r < 0) return r;
    uint64_t timeout = dev->timeout_ns ? dev->timeout_ns : BLK_TIMEOUT_NS;
    int w = wait_event_killable_timeout(&wq, __atomic_load_n(&req.done, __ATOMIC_ACQUIRE), timeout);
    if (w < 0) {
        /* The caller was killed, but the device may still write its buffer: wait for the
         * request itself (bounded) instead of resetting a device other tasks are using. */
        w = wait_event_timeout_nokill(&wq, __atomic_load_n(&req.done, __ATOMIC_ACQUIRE), timeout);
    }
    if (w == 1) {
        finish(&wq);
        return req.status;
    }
    dev->stats.timeouts++;
    printk(LOG_ERR, "blk: %s: %s of %u sectors at %llu did not complete within %llu ms; resetting the device\n",
           dev->name, op_name(op), count, (unsigned long long)lba, (unsigned long long)(timeout / 1000000));
    /* The request lives on this stack: reset() makes the driver forget it for good. */
    if (dev->ops->reset) {
        dev->ops->reset(dev);
    } else {
        /* A driver without reset() might still complete it: wait once more (bounded). */
        printk(LOG_ERR, "blk: %s: the driver has no reset; waiting for the late completion\n", dev->name);
        wait_event_timeout_nokill(&wq, __atomic_load_n(&req.done, __ATOMIC_ACQUIRE), timeout);
    }
    finish(&wq);
    return -KETIMEDOUT;
}

/* A request with the retry policy: -KEIO is tried again up to BLK_RETRIES times. */
static int request_with_retries(struct blk_device *dev, int op, uint64_t lba, uint32_t count, void *buf) {
    int r = 0;
    for (int attempt = 0; attempt <= BLK_RETRIES; attempt++) {
        if (attempt) {
            dev->stats.retries++;
            printk(LOG_WARN, "blk: %s: retrying %s at %llu (attempt %d)\n", dev->name, op_name(op),
                   (unsigned long long)lba, attempt + 1);
        }
        r = do_request(dev, op, lba, count, buf);
        if (r != -KEIO) break;
    }
    if (r == 0) {
        if (op == BLK_OP_READ) { dev->stats.reads++; dev->stats.sectors_read += count; }
        else if (op == BLK_OP_WRITE) { dev->stats.writes++; dev->stats.sectors_written += count; }
        else dev->stats.flushes++;
    } else {
        dev->stats.errors++;
    }
    return r;
}

static int transfer(struct blk_device *dev, int op, uint64_t lba, uint32_t count, void *buf) {
    if (!dev || !buf || count == 0) return -KEINVAL;
    if (lba >= dev->sectors || count > dev->sectors - lba) return -KEINVAL;
    if (op == BLK_OP_WRITE && dev->read_only) return -KEROFS;
    uint8_t *p = buf;
    while (count) {
        uint32_t n = MIN(count, dev->max_sectors);
        int r = request_with_retries(dev, op, lba, n, p);
        if (r < 0) return r;
        lba += n;
        count -= n;
        p += (uint64_t)n * dev->sector_size;
    }
    return 0;
}

int blk_read(struct blk_device *dev, uint64_t lba, uint32_t count, void *buf) {
    return transfer(dev, BLK_OP_READ, lba, count, buf);
}

int blk_write(struct blk_device *dev, uint64_t lba, uint32_t count, const void *buf) {
    return transfer(dev, BLK_OP_WRITE, lba, count, (void *)(uintptr_t)buf);
}

int blk_flush(struct blk_device *dev) {
    if (!dev) return -KEINVAL;
    if (dev->read_only) return 0;
    return request_with_retries(dev, BLK_OP_FLUSH, 0, 0, NULL);
}

/* ---- DMA segments ---- */

int blk_dma_segments(const void *buf, size_t len, struct dma_seg *segs, int max) {
    int n = 0;
    uint64_t va = (uint64_t)(uintptr_t)buf, end = va + len;
    while (va < end) {
        phys_addr_t pa = vmm_translate((const void *)(uintptr_t)va);
        if (!pa) return -KEINVAL;
        uint64_t chunk = MIN(PAGE_SIZE - (va & (PAGE_SIZE - 1)), end - va);
        if (n > 0 && segs[n - 1].addr + segs[n - 1].len == pa && segs[n - 1].len + chunk <= 0x400000) {
            segs[n - 1].len += (uint32_t)chunk;
        } else {
            if (n == max) return -KEINVAL;
            segs[n].addr = pa;
            segs[n].len = (uint32_t)chunk;
            n++;
        }
        va += chunk;
    }
    return n;
}

/* ---- partitions ---- */

struct partition {
    struct blk_device dev;
    struct part_entry entry;
};

/* A partition's requests go to the whole disk, shifted by its start; the disk's driver
 * completes them directly (the request is the caller's). */
static int partition_submit(struct blk_device *dev, struct blk_request *req) {
    struct blk_device *disk = dev->parent;
    req->lba += dev->start;
    int r = disk->ops->submit(disk, req);
    if (r < 0) req->lba -= dev->start;
    return r;
}

static void partition_reset(struct blk_device *dev) {
    if (dev->parent->ops->reset) dev->parent->ops->reset(dev->parent);
}

static const struct blk_driver_ops partition_ops = {partition_submit, partition_reset};

static int read_sector_cb(void *ctx, uint64_t lba, void *buf) { return blk_read(ctx, lba, 1, buf); }

static void scan_partitions(struct blk_device *disk) {
    struct part_entry parts[PART_MAX];
    const char *kind = "none";
    int n = part_scan(read_sector_cb, disk, disk->sector_size, disk->sectors, parts, PART_MAX, &kind);
    if (n < 0) {
        printk(LOG_WARN, "blk: %s: corrupt %s partition table (error %d), using the whole disk only\n",
               disk->name, kind, n);
        return;
    }
    if (n == 0) return;
    size_t len = strlen(disk->name);
    bool digit = len && disk->name[len - 1] >= '0' && disk->name[len - 1] <= '9';
    printk(LOG_INFO, "blk: %s: %s partition table with %d partition%s\n", disk->name, kind, n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        struct partition *p = kzalloc(sizeof(*p));
        if (!p) {
            printk(LOG_ERR, "blk: %s: out of memory for partition %d\n", disk->name, i + 1);
            return;
        }
        p->entry = parts[i];
        ksnprintf(p->dev.name, sizeof(p->dev.name), "%s%s%d", disk->name, digit ? "p" : "", i + 1);
        strlcpy(p->dev.model, parts[i].name, sizeof(p->dev.model));
        p->dev.driver = "partition";
        p->dev.sector_size = disk->sector_size;
        p->dev.sectors = parts[i].sectors;
        p->dev.max_sectors = disk->max_sectors;
        p->dev.read_only = disk->read_only;
        p->dev.ops = &partition_ops;
        p->dev.parent = disk;
        p->dev.start = parts[i].start;
        p->dev.partno = i + 1;
        if (blk_register(&p->dev) < 0) kfree(p);
    }
}
