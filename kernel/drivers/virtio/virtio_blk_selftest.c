/* virtio_blk_selftest.c: self-tests of the virtio-blk driver (group `virtio_blk`) on the disks
 * scripts/qemu.sh attaches (docs/storage.md): vda is build/disk0.img, whose last 8 MiB hold
 * the test region (header "SABOSBLK", 512 data sectors, their CRC32 computed on the host) and
 * the 4 MiB scratch region. VIRTIO 1.2 §5.2 (block device), §2.7 (split virtqueues).
 *
 * The scattered-buffer tests map separately allocated frames, in an order where no two
 * neighbours are physically adjacent, into a private virtual window, so a request really
 * becomes one descriptor per page. The scratch test puts the original bytes back, so the
 * blk_persist pattern the host checks survives whatever order the groups run in (the NVMe
 * write test does the same on its disk). The last two tests use vdc (build/part-gpt.img),
 * not the boot disk: resets from two tasks at once during I/O, and a reset the device does
 * not acknowledge (injected), which takes the device out of service until a working reset. */
#include "types.h"
#include "selftest.h"
#include "block.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "pci.h"
#include "cpu.h"
#include "mm.h"
#include "sched.h"
#include "wait.h"
#include "time.h"
#include "printk.h"
#include "kprintf.h"
#include "kstring.h"
#include "kerrno.h"

#define TEST_REGION_FROM_END 16384u /* sectors: the header sits at capacity - 16384 */
#define SCRATCH_FROM_END 8192u
#define TEST_DATA_BYTES (512u * 512u)
/* A virtual window used by these tests only (outside the direct map, the image and the task
 * stacks, see docs/memory.md). */
#define VBLK_TEST_WINDOW 0xffffcf8000000000ull
#define SCATTER_MAX_PAGES 160

static struct blk_device *vda(struct selftest_ctx *t) {
    struct blk_device *d = blk_find("vda");
    if (!d)
        selftest_fail(t, "no device vda");
    else if (!d->driver || strcmp(d->driver, "virtio-blk") != 0)
        selftest_fail(t, "vda is driven by %s, not virtio-blk", d->driver ? d->driver : "(none)");
    else
        return d;
    return NULL;
}

/* Reads the test region header: data sectors and CRC; false (test failed) if malformed. */
static bool read_region_header(struct selftest_ctx *t, struct blk_device *d, uint64_t *first_data, uint32_t *crc) {
    uint8_t *hdr = kmalloc(d->sector_size);
    if (!hdr) {
        selftest_fail(t, "no memory");
        return false;
    }
    uint64_t s = d->sectors - TEST_REGION_FROM_END;
    int r = blk_read(d, s, 1, hdr);
    uint32_t n = 0;
    bool ok = r == 0 && memcmp(hdr, "SABOSBLK", 8) == 0;
    if (ok) {
        memcpy(&n, hdr + 8, 4);
        memcpy(crc, hdr + 12, 4);
        ok = n == TEST_DATA_BYTES / 512;
    }
    if (!ok)
        selftest_fail(t, "test region header at sector %llu: read %d, magic %.8s, %u sectors",
                      (unsigned long long)s, r, r == 0 ? (const char *)hdr : "?", n);
    kfree(hdr);
    *first_data = s + 1;
    return ok;
}

/* ---- a virtually contiguous buffer of physically scattered frames ---- */

struct scattered {
    uint8_t *va;
    phys_addr_t pages[SCATTER_MAX_PAGES];
    unsigned n;
};

static void scattered_free(struct scattered *s) {
    for (unsigned i = 0; i < s->n; i++) {
        vmm_unmap_kernel_page(VBLK_TEST_WINDOW + (uint64_t)i * PAGE_SIZE);
        pmm_free(s->pages[i]);
    }
    s->n = 0;
}

/* Maps npages frames at VBLK_TEST_WINDOW, choosing each next frame so that it does not
 * follow the previous one physically. False when memory is short. */
static bool scattered_map(struct scattered *s, unsigned npages) {
    phys_addr_t pool[SCATTER_MAX_PAGES];
    bool used[SCATTER_MAX_PAGES] = {0};
    s->n = 0;
    s->va = (uint8_t *)(uintptr_t)VBLK_TEST_WINDOW;
    for (unsigned i = 0; i < npages; i++) {
        pool[i] = pmm_alloc();
        if (!pool[i]) {
            for (unsigned k = 0; k < i; k++)
                pmm_free(pool[k]);
            return false;
        }
    }
    phys_addr_t prev = 0;
    for (unsigned j = 0; j < npages; j++) {
        unsigned pick = npages;
        for (unsigned i = 0; i < npages && pick == npages; i++)
            if (!used[i] && (j == 0 || pool[i] != prev + PAGE_SIZE))
                pick = i;
        for (unsigned i = 0; i < npages && pick == npages; i++) /* only an adjacent one is left */
            if (!used[i])
                pick = i;
        used[pick] = true;
        prev = pool[pick];
        s->pages[j] = pool[pick];
        vmm_map_kernel_page(VBLK_TEST_WINDOW + (uint64_t)j * PAGE_SIZE, pool[pick]);
        s->n = j + 1;
    }
    return true;
}

/* ---- tests ---- */

/* Index in pci_bus of the function at bus:dev.fn, or -1. */
static int pci_index(uint8_t bus, uint8_t dev, uint8_t fn) {
    for (int i = 0; i < pci_bus.count; i++)
        if (pci_bus.devs[i].bus == bus && pci_bus.devs[i].dev == dev && pci_bus.devs[i].fn == fn)
            return i;
    return -1;
}

SELFTEST(virtio_blk, devices_named_in_pci_order) {
    /* vda, vdb, ... are consecutive names on virtio-blk functions in increasing PCI order */
    int k = 0, prev = -1;
    for (; k < 26; k++) {
        char name[8];
        ksnprintf(name, sizeof(name), "vd%c", 'a' + k);
        struct blk_device *d = blk_find(name);
        if (!d)
            break;
        struct virtio_blk_info info;
        ST_ASSERT(t, virtio_blk_get_info(d, &info), "%s is not a virtio-blk device", name);
        int at = pci_index(info.pci_bus, info.pci_dev, info.pci_fn);
        ST_ASSERT(t, at > prev, "%s is %02x:%02x.%x, which comes before the previous vd device in PCI order",
                  name, info.pci_bus, info.pci_dev, info.pci_fn);
        const struct pci_device *p = &pci_bus.devs[at];
        ST_ASSERT(t, p->vendor == VIRTIO_PCI_VENDOR && (p->device == 0x1042 || p->device == 0x1001),
                  "%s sits on %04x:%04x", name, p->vendor, p->device);
        ST_ASSERT(t, d->sectors > 0 && d->sector_size >= 512 && d->max_sectors > 0,
                  "%s: %llu sectors of %u, max %u", name, (unsigned long long)d->sectors, d->sector_size,
                  d->max_sectors);
        prev = at;
    }
    ST_ASSERT(t, k >= 1, "no vda");
    /* every modern virtio-blk function got one of those names */
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (p->vendor != VIRTIO_PCI_VENDOR || p->device != 0x1042)
            continue;
        bool named = false;
        for (int j = 0; j < k && !named; j++) {
            char name[8];
            ksnprintf(name, sizeof(name), "vd%c", 'a' + j);
            struct virtio_blk_info info;
            named = virtio_blk_get_info(blk_find(name), &info) && info.pci_bus == p->bus &&
                    info.pci_dev == p->dev && info.pci_fn == p->fn;
        }
        ST_ASSERT(t, named, "virtio-blk function %02x:%02x.%x has no vd device", p->bus, p->dev, p->fn);
    }
}

SELFTEST(virtio_blk, sector0_ends_in_55aa) {
    struct blk_device *d = vda(t);
    if (!d) return;
    uint8_t *buf = kzalloc(d->sector_size);
    ST_ASSERT(t, buf, "no memory");
    int r = blk_read(d, 0, 1, buf);
    uint8_t a = buf[510], b = buf[511];
    kfree(buf);
    ST_ASSERT(t, r == 0, "read of sector 0 failed: %d", r);
    ST_ASSERT(t, a == 0x55 && b == 0xaa, "sector 0 ends in %02x %02x", a, b);
}

SELFTEST(virtio_blk, read_256k_at_odd_offset_matches_host_crc) {
    struct blk_device *d = vda(t);
    if (!d) return;
    uint64_t first;
    uint32_t crc;
    if (!read_region_header(t, d, &first, &crc)) return;
    uint8_t *mem = kmalloc(TEST_DATA_BYTES + PAGE_SIZE);
    ST_ASSERT(t, mem, "no memory");
    uint8_t *buf = mem + 512; /* every page boundary falls inside a sector */
    memset(buf, 0, TEST_DATA_BYTES);
    uint64_t t0 = time_ns();
    int r = blk_read(d, first, TEST_DATA_BYTES / 512, buf);
    uint64_t ns = time_ns() - t0;
    uint32_t got = crc32_ieee(buf, TEST_DATA_BYTES, 0);
    kfree(mem);
    ST_ASSERT(t, r == 0, "read failed: %d", r);
    ST_ASSERT(t, got == crc, "crc32 %08x, the host computed %08x", got, crc);
    pr_info("virtio_blk: 256 KiB read (heap buffer) in %llu us\n", (unsigned long long)(ns / 1000));
}

SELFTEST(virtio_blk, read_256k_into_scattered_pages_matches_host_crc) {
    struct blk_device *d = vda(t);
    if (!d) return;
    uint64_t first;
    uint32_t crc;
    if (!read_region_header(t, d, &first, &crc)) return;
    static struct scattered s;
    unsigned npages = TEST_DATA_BYTES / PAGE_SIZE + 1;
    ST_ASSERT(t, scattered_map(&s, npages), "no memory for %u pages", npages);
    uint8_t *buf = s.va + 512;
    struct dma_seg segs[SCATTER_MAX_PAGES];
    int nsegs = blk_dma_segments(buf, TEST_DATA_BYTES, segs, SCATTER_MAX_PAGES);
    struct virtio_blk_info before, after;
    virtio_blk_get_info(d, &before);
    memset(buf, 0, TEST_DATA_BYTES);
    uint64_t t0 = time_ns();
    int r = blk_read(d, first, TEST_DATA_BYTES / 512, buf);
    uint64_t ns = time_ns() - t0;
    virtio_blk_get_info(d, &after);
    uint32_t got = crc32_ieee(buf, TEST_DATA_BYTES, 0);
    scattered_free(&s);
    ST_ASSERT(t, nsegs >= (int)npages - 1, "the buffer is only %d physical segments (wanted ~%u)", nsegs, npages);
    ST_ASSERT(t, r == 0, "read failed: %d", r);
    ST_ASSERT(t, got == crc, "crc32 %08x, the host computed %08x", got, crc);
    uint64_t want_requests = (TEST_DATA_BYTES / d->sector_size + d->max_sectors - 1) / d->max_sectors;
    ST_ASSERT(t, after.requests - before.requests == want_requests,
              "%llu device requests for 512 sectors with max_sectors %u (expected %llu)",
              (unsigned long long)(after.requests - before.requests), d->max_sectors,
              (unsigned long long)want_requests);
    pr_info("virtio_blk: 256 KiB read into %d scattered segments in %llu us\n", nsegs,
            (unsigned long long)(ns / 1000));
}

SELFTEST(virtio_blk, largest_request_fits_at_worst_alignment) {
    struct blk_device *d = vda(t);
    if (!d) return;
    uint32_t bytes = d->max_sectors * d->sector_size;
    unsigned npages = bytes / PAGE_SIZE + 2;
    ST_ASSERT(t, npages <= SCATTER_MAX_PAGES, "max_sectors %u is larger than this test handles", d->max_sectors);
    static struct scattered s;
    ST_ASSERT(t, scattered_map(&s, npages), "no memory for %u pages", npages);
    uint8_t *buf = s.va + PAGE_SIZE - 512; /* first sector alone on its page: most segments */
    uint8_t *ref = kmalloc(bytes);
    int r = ref ? blk_read(d, 0, d->max_sectors, buf) : -KENOMEM;
    int r2 = ref ? blk_read(d, 0, d->max_sectors, ref) : -KENOMEM;
    bool same = r == 0 && r2 == 0 && memcmp(buf, ref, bytes) == 0;
    kfree(ref);
    scattered_free(&s);
    ST_ASSERT(t, r == 0 && r2 == 0, "reads of %u sectors failed: %d (scattered), %d (heap)", d->max_sectors, r, r2);
    ST_ASSERT(t, same, "scattered and heap reads of the same %u sectors differ", d->max_sectors);
}

SELFTEST(virtio_blk, scratch_write_flush_read_back) {
    struct blk_device *d = vda(t);
    if (!d) return;
    const uint32_t count = 128; /* 64 KiB */
    uint64_t lba = d->sectors - SCRATCH_FROM_END + 1000;
    uint32_t bytes = count * d->sector_size;
    uint8_t *orig = kmalloc(bytes), *pat = kmalloc(bytes), *back = kmalloc(bytes);
    int r_save = -KENOMEM, r_w = -1, r_f = -1, r_r = -1, r_restore = -1;
    bool same = false;
    struct virtio_blk_info before, after;
    virtio_blk_get_info(d, &before);
    if (orig && pat && back) {
        uint32_t seed = (uint32_t)time_ns() | 1;
        for (uint32_t i = 0; i < bytes; i++) {
            seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
            pat[i] = (uint8_t)seed;
        }
        memset(back, 0, bytes);
        r_save = blk_read(d, lba, count, orig);
        if (r_save == 0) {
            r_w = blk_write(d, lba, count, pat);
            r_f = blk_flush(d);
            r_r = blk_read(d, lba, count, back);
            same = memcmp(pat, back, bytes) == 0;
            r_restore = blk_write(d, lba, count, orig);
            blk_flush(d);
        }
    }
    virtio_blk_get_info(d, &after);
    kfree(orig);
    kfree(pat);
    kfree(back);
    ST_ASSERT(t, r_save == 0, "saving the scratch sectors failed: %d", r_save);
    ST_ASSERT(t, r_w == 0 && r_f == 0 && r_r == 0, "write %d, flush %d, read back %d", r_w, r_f, r_r);
    ST_ASSERT(t, same, "the sectors read back differ from the pattern written");
    ST_ASSERT(t, r_restore == 0, "restoring the scratch sectors failed: %d", r_restore);
    if (after.flush)
        ST_ASSERT(t, after.flushes >= before.flushes + 2, "flush was negotiated but %llu flush requests reached the device",
                  (unsigned long long)(after.flushes - before.flushes));
}

SELFTEST(virtio_blk, read_past_end_is_einval) {
    struct blk_device *d = vda(t);
    if (!d) return;
    uint8_t *buf = kmalloc(2 * d->sector_size);
    ST_ASSERT(t, buf, "no memory");
    int r1 = blk_read(d, d->sectors, 1, buf);
    int r2 = blk_read(d, d->sectors - 1, 2, buf);
    int r3 = blk_read(d, UINT64_MAX, 1, buf);
    int r4 = blk_read(d, d->sectors - 1, 1, buf); /* the last sector itself is fine */
    kfree(buf);
    ST_ASSERT(t, r1 == -KEINVAL && r2 == -KEINVAL && r3 == -KEINVAL,
              "past the end gave %d, %d, %d (expected %d)", r1, r2, r3, -KEINVAL);
    ST_ASSERT(t, r4 == 0, "reading the last sector gave %d", r4);
}

SELFTEST(virtio_blk, completions_come_by_msix_interrupt) {
    struct blk_device *d = vda(t);
    if (!d) return;
    struct virtio_blk_info info;
    virtio_blk_get_info(d, &info);
    ST_ASSERT(t, info.msix && info.msix_entry > 0, "the request queue has no MSI-X vector of its own (entry %d)",
              info.msix_entry);
    uint8_t *buf = kmalloc(4096);
    ST_ASSERT(t, buf, "no memory");
    uint64_t before = d->interrupts;
    int r = 0;
    for (int i = 0; i < 4 && r == 0; i++)
        r = blk_read(d, (uint64_t)i * 8, 8, buf);
    uint64_t after = d->interrupts;
    kfree(buf);
    ST_ASSERT(t, r == 0, "read failed: %d", r);
    ST_ASSERT(t, after >= before + 4, "interrupt-side completions went from %llu to %llu over 4 reads",
              (unsigned long long)before, (unsigned long long)after);
}

/* Waits (bounded) for req to complete; the request's wait queue is wq. */
static bool wait_done(struct wait_queue *wq, struct blk_request *req, uint64_t timeout_ns) {
    return wait_event_timeout(wq, __atomic_load_n(&req->done, __ATOMIC_ACQUIRE), timeout_ns) == 1;
}

static bool log_contains(const char *needle) {
    char *log = kmalloc(KLOG_SIZE + 1);
    if (!log)
        return false;
    size_t n = klog_read(log, KLOG_SIZE + 1);
    size_t len = strlen(needle);
    bool found = false;
    for (size_t i = 0; i + len <= n && !found; i++)
        found = memcmp(log + i, needle, len) == 0;
    kfree(log);
    return found;
}

SELFTEST(virtio_blk, out_of_range_lba_from_device_is_eio_with_status_logged) {
    struct blk_device *d = vda(t);
    if (!d) return;
    uint8_t *buf = kmalloc(d->sector_size);
    ST_ASSERT(t, buf, "no memory");
    struct wait_queue wq;
    wait_queue_init(&wq, "st-vblk-eio");
    struct blk_request req = {0};
    req.op = BLK_OP_READ;
    req.lba = d->sectors + 8; /* past the end: bypasses the block layer's check */
    req.count = 1;
    req.buf = buf;
    req.waiters = &wq;
    int r = d->ops->submit(d, &req);
    bool done = r == 0 && wait_done(&wq, &req, 2000000000ull);
    if (r == 0 && !done)
        d->ops->reset(d); /* the request lives on this stack: make the driver forget it */
    kfree(buf);
    ST_ASSERT(t, r == 0, "submit returned %d", r);
    ST_ASSERT(t, done, "the device never answered within 2 s");
    ST_ASSERT(t, req.status == -KEIO, "status %d, expected %d", req.status, -KEIO);
    char needle[80];
    ksnprintf(needle, sizeof(needle), "at sector %llu failed: device status IOERR",
              (unsigned long long)req.lba);
    ST_ASSERT(t, log_contains(needle), "the log has no line with \"%s\"", needle);
}

/* ---- a full queue: the submitter sleeps until completions free descriptors ---- */

#define FLOOD_REQUESTS 160 /* more than the 128 slots / 85 three-descriptor chains of a queue */

struct flood {
    struct blk_device *dev;
    struct blk_request reqs[FLOOD_REQUESTS];
    struct wait_queue wq;
    uint8_t *buf;
    volatile int submitted;
    int submit_error;
};

static int64_t flood_task(void *arg) {
    struct flood *f = arg;
    for (int i = 0; i < FLOOD_REQUESTS; i++) {
        struct blk_request *q = &f->reqs[i];
        *q = (struct blk_request){0};
        q->op = BLK_OP_READ;
        q->lba = (uint64_t)i;
        q->count = 1;
        q->buf = f->buf + (size_t)i * 512;
        q->waiters = &f->wq;
        int r = f->dev->ops->submit(f->dev, q);
        if (r) {
            f->submit_error = r;
            return r;
        }
        f->submitted = i + 1;
    }
    return 0;
}

static bool flood_all_done(struct flood *f) {
    for (int i = 0; i < f->submitted; i++)
        if (!__atomic_load_n(&f->reqs[i].done, __ATOMIC_ACQUIRE))
            return false;
    return f->submitted == FLOOD_REQUESTS;
}

static volatile uint32_t *queue_msix_entry(const struct virtio_blk_info *info) {
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (p->bus == info->pci_bus && p->dev == info->pci_dev && p->fn == info->pci_fn)
            return pci_msix_entry(p, (unsigned)info->msix_entry);
    }
    return NULL;
}

SELFTEST_TIMEOUT(virtio_blk, full_queue_sleeps_until_completions_free_space, 15000) {
    struct blk_device *d = vda(t);
    if (!d) return;
    struct virtio_blk_info info;
    virtio_blk_get_info(d, &info);
    ST_ASSERT(t, info.msix && info.msix_entry > 0, "needs the queue's own MSI-X entry");
    volatile uint32_t *entry = queue_msix_entry(&info);
    ST_ASSERT(t, entry, "cannot reach MSI-X entry %d", info.msix_entry);
    struct flood *f = kzalloc(sizeof(*f));
    uint8_t *ref = kmalloc(FLOOD_REQUESTS * 512);
    if (f)
        f->buf = kzalloc(FLOOD_REQUESTS * 512);
    if (!f || !ref || !f->buf) {
        if (f) kfree(f->buf);
        kfree(f);
        kfree(ref);
        ST_ASSERT(t, false, "no memory");
    }
    f->dev = d;
    wait_queue_init(&f->wq, "st-vblk-flood");
    int rref = blk_read(d, 0, FLOOD_REQUESTS, ref);

    /* Hold the queue's interrupt back (the MSI-X vector mask keeps it pending), so nothing
     * frees descriptors until the submitter has run out of them. */
    uint64_t waits_before = info.queue_full_waits;
    mmio_write32(&entry[3], mmio_read32(&entry[3]) | 1u);
    tid_t tid = task_create("st-vblk-flood", flood_task, f, PRIO_NORMAL);
    bool blocked = false;
    int stuck_at = 0;
    uint64_t deadline = time_ns() + 2000000000ull;
    while (tid >= 0 && time_ns() < deadline) {
        struct virtio_blk_info now;
        virtio_blk_get_info(d, &now);
        if (now.queue_full_waits > waits_before) {
            task_sleep_ns(20000000); /* let it settle into the wait */
            stuck_at = f->submitted;
            blocked = stuck_at < FLOOD_REQUESTS;
            break;
        }
        task_sleep_ns(1000000);
    }
    mmio_write32(&entry[3], mmio_read32(&entry[3]) & ~1u); /* the pending interrupt fires now */
    bool all = wait_event_timeout(&f->wq, flood_all_done(f), 5000000000ull) == 1;
    if (!all && f->submitted > 0)
        d->ops->reset(d); /* requests on our heap must be forgotten before it is freed */
    int64_t exit_value = -1;
    if (tid >= 0)
        task_join(tid, &exit_value);
    int bad = -1;
    bool same = false;
    if (all) {
        bad = 0;
        for (int i = 0; i < FLOOD_REQUESTS; i++)
            if (f->reqs[i].status != 0)
                bad++;
        same = memcmp(f->buf, ref, FLOOD_REQUESTS * 512) == 0;
    }
    int submit_error = f->submit_error;
    kfree(f->buf);
    kfree(f);
    kfree(ref);
    ST_ASSERT(t, tid >= 0, "task_create failed: %d", tid);
    ST_ASSERT(t, rref == 0, "reference read failed: %d", rref);
    ST_ASSERT(t, blocked, "the submitter never waited for space (%d submitted)", stuck_at);
    ST_ASSERT(t, stuck_at < FLOOD_REQUESTS && stuck_at >= 1, "stuck after %d requests", stuck_at);
    ST_ASSERT(t, submit_error == 0 && exit_value == 0, "submit failed: %d", submit_error);
    ST_ASSERT(t, all, "not every request completed after the interrupt was unmasked");
    ST_ASSERT(t, bad == 0, "%d requests failed", bad);
    ST_ASSERT(t, same, "the data of the flood differs from a plain read of the same sectors");
    pr_info("virtio_blk: the submitter slept after %d requests in flight\n", stuck_at);
}

SELFTEST(virtio_blk, reset_fails_inflight_requests_and_device_recovers) {
    struct blk_device *d = vda(t);
    if (!d) return;
    struct virtio_blk_info info, after;
    virtio_blk_get_info(d, &info);
    ST_ASSERT(t, info.msix && info.msix_entry > 0, "needs the queue's own MSI-X entry");
    volatile uint32_t *entry = queue_msix_entry(&info);
    ST_ASSERT(t, entry, "cannot reach MSI-X entry %d", info.msix_entry);
    uint8_t *buf = kmalloc(4096), *buf2 = kzalloc(512);
    if (!buf || !buf2) {
        kfree(buf);
        kfree(buf2);
        ST_ASSERT(t, false, "no memory");
    }
    struct wait_queue wq;
    wait_queue_init(&wq, "st-vblk-reset");
    struct blk_request reqs[2] = {0};
    int r[2];
    /* With the interrupt held back the requests cannot complete, whatever the device did. */
    mmio_write32(&entry[3], mmio_read32(&entry[3]) | 1u);
    for (int i = 0; i < 2; i++) {
        reqs[i].op = BLK_OP_READ;
        reqs[i].lba = (uint64_t)i * 8;
        reqs[i].count = 8;
        reqs[i].buf = buf;
        reqs[i].waiters = &wq;
        r[i] = d->ops->submit(d, &reqs[i]);
    }
    task_sleep_ns(10000000);
    bool early = reqs[0].done || reqs[1].done;
    d->ops->reset(d);
    mmio_write32(&entry[3], mmio_read32(&entry[3]) & ~1u);
    bool done = reqs[0].done && reqs[1].done;
    virtio_blk_get_info(d, &after);
    uint64_t irq_before = d->interrupts;
    int rr = blk_read(d, 0, 1, buf2);
    uint64_t irq_after = d->interrupts;
    bool sig = buf2[510] == 0x55 && buf2[511] == 0xaa;
    kfree(buf);
    kfree(buf2);
    ST_ASSERT(t, r[0] == 0 && r[1] == 0, "submit returned %d, %d", r[0], r[1]);
    ST_ASSERT(t, !early, "a request completed while its interrupt was masked");
    ST_ASSERT(t, done, "reset left requests in flight");
    ST_ASSERT(t, reqs[0].status == -KEIO && reqs[1].status == -KEIO, "in-flight requests got %d, %d (expected %d)",
              reqs[0].status, reqs[1].status, -KEIO);
    ST_ASSERT(t, after.resets == info.resets + 1, "reset count %llu -> %llu", (unsigned long long)info.resets,
              (unsigned long long)after.resets);
    ST_ASSERT(t, rr == 0 && sig, "after the reset, sector 0 read %d with signature %s", rr, sig ? "ok" : "wrong");
    ST_ASSERT(t, irq_after > irq_before, "after the reset the completion did not come by interrupt");
}

/* ---- resets that overlap, and a device that does not acknowledge its reset (vdc) ---- */

/* vdc (build/part-gpt.img): these tests take a device out of service for a moment, and it
 * is better that this is not the boot disk. */
static struct blk_device *vdc(struct selftest_ctx *t) {
    struct blk_device *d = blk_find("vdc");
    if (!d)
        selftest_fail(t, "no device vdc");
    else if (!d->driver || strcmp(d->driver, "virtio-blk") != 0)
        selftest_fail(t, "vdc is driven by %s, not virtio-blk", d->driver ? d->driver : "(none)");
    else
        return d;
    return NULL;
}

static uint16_t command_register(const struct virtio_blk_info *info) {
    return pci_read16(pci_ops, info->pci_bus, info->pci_dev, info->pci_fn, 0x04);
}

#define STORM_RESETS 5 /* per resetting task */

struct reset_storm {
    struct blk_device *dev;
    volatile bool stop;
    int reads, ok, eio, other, other_status;
};

static int64_t storm_reset_task(void *arg) {
    struct reset_storm *s = arg;
    for (int i = 0; i < STORM_RESETS; i++) {
        s->dev->ops->reset(s->dev);
        task_sleep_ns(1000000);
    }
    return 0;
}

static int64_t storm_read_task(void *arg) {
    struct reset_storm *s = arg;
    uint8_t *buf = kmalloc(4096);
    if (!buf)
        return -KENOMEM;
    for (uint64_t lba = 0; !s->stop; lba = (lba + 8) % 512) {
        int r = blk_read(s->dev, lba, 8, buf);
        s->reads++;
        if (r == 0) {
            s->ok++;
        } else if (r == -KEIO) {
            s->eio++; /* failed by a reset three times in a row: allowed */
        } else {
            s->other++;
            s->other_status = r;
        }
    }
    kfree(buf);
    return 0;
}

/* Two tasks reset the device at the same time while a third reads. Resets are serialised, so
 * none wipes a chain posted after another finished: every read ends with 0 or -KEIO (never a
 * timeout from a lost chain), and afterwards every slot and descriptor is free again. */
SELFTEST_TIMEOUT(virtio_blk, concurrent_resets_during_io_lose_no_request, 20000) {
    struct blk_device *d = vdc(t);
    if (!d) return;
    struct virtio_blk_info info, after;
    virtio_blk_get_info(d, &info);
    struct reset_storm *s = kzalloc(sizeof(*s));
    ST_ASSERT(t, s, "no memory");
    s->dev = d;
    tid_t reader = task_create("st-vblk-storm-rd", storm_read_task, s, PRIO_NORMAL);
    task_sleep_ns(2000000);
    tid_t r1 = task_create("st-vblk-storm-r1", storm_reset_task, s, PRIO_NORMAL);
    tid_t r2 = task_create("st-vblk-storm-r2", storm_reset_task, s, PRIO_NORMAL);
    int64_t v1 = -1, v2 = -1, vr = -1;
    if (r1 >= 0)
        task_join(r1, &v1);
    if (r2 >= 0)
        task_join(r2, &v2);
    task_sleep_ns(2000000);
    s->stop = true;
    if (reader >= 0)
        task_join(reader, &vr);
    virtio_blk_get_info(d, &after);
    uint8_t *sec = kzalloc(512);
    int rr = sec ? blk_read(d, 0, 1, sec) : -KENOMEM;
    bool sig = sec && sec[510] == 0x55 && sec[511] == 0xaa;
    kfree(sec);
    struct reset_storm res = *s;
    kfree(s);
    pr_info("virtio_blk: %d reads during %d concurrent resets: %d ok, %d failed by a reset\n", res.reads,
            2 * STORM_RESETS, res.ok, res.eio);
    ST_ASSERT(t, reader >= 0 && r1 >= 0 && r2 >= 0, "task_create failed");
    ST_ASSERT(t, vr == 0, "the reader task ended with %lld", (long long)vr);
    ST_ASSERT(t, res.reads > 0, "no read ran during the resets");
    ST_ASSERT(t, res.other == 0, "%d reads ended with neither 0 nor -KEIO (last %d)", res.other, res.other_status);
    ST_ASSERT(t, after.resets == info.resets + 2 * STORM_RESETS, "reset count %llu -> %llu",
              (unsigned long long)info.resets, (unsigned long long)after.resets);
    ST_ASSERT(t, !after.dead, "the device is out of service after the resets");
    ST_ASSERT(t, after.inflight == 0 && after.free_slots == after.slots, "%u chains in flight, %u of %u slots free",
              after.inflight, after.free_slots, after.slots);
    ST_ASSERT(t, after.free_descriptors == after.queue_size, "%u of %u descriptors free", after.free_descriptors,
              (unsigned)after.queue_size);
    ST_ASSERT(t, rr == 0 && sig, "after the resets, sector 0 read %d with signature %s", rr, sig ? "ok" : "wrong");
}

/* A reset the device does not acknowledge (injected: virtio_reset "times out") must not hand
 * back the memory of requests the device still holds: the request stays not completed, the
 * device is marked dead with bus mastering off, and new I/O fails with -KEIO at once. A later
 * reset that works brings the device back, releases the slot without completing the request
 * (its owner was told it timed out), and I/O works again by interrupt. */
SELFTEST(virtio_blk, unacknowledged_reset_keeps_requests_and_fails_new_io) {
    struct blk_device *d = vdc(t);
    if (!d) return;
    struct virtio_blk_info info, dead, back;
    virtio_blk_get_info(d, &info);
    ST_ASSERT(t, info.msix && info.msix_entry > 0, "needs the queue's own MSI-X entry");
    volatile uint32_t *entry = queue_msix_entry(&info);
    ST_ASSERT(t, entry, "cannot reach MSI-X entry %d", info.msix_entry);
    /* On the heap: the request must outlive this function's view of it while the dead device
     * holds it; it is freed only after the device has really been reset. */
    struct blk_request *req = kzalloc(sizeof(*req)), *req2 = kzalloc(sizeof(*req2));
    struct wait_queue *wq = kmalloc(sizeof(*wq));
    uint8_t *buf = kmalloc(4096), *sec = kzalloc(512);
    if (!req || !req2 || !wq || !buf || !sec) {
        kfree(req); kfree(req2); kfree(wq); kfree(buf); kfree(sec);
        ST_ASSERT(t, false, "no memory");
    }
    wait_queue_init(wq, "st-vblk-dead");
    *req = (struct blk_request){.op = BLK_OP_READ, .lba = 0, .count = 8, .buf = buf, .waiters = wq};
    *req2 = (struct blk_request){.op = BLK_OP_READ, .lba = 8, .count = 1, .buf = sec, .waiters = wq};
    mmio_write32(&entry[3], mmio_read32(&entry[3]) | 1u); /* the completion cannot be reaped */
    int rs = d->ops->submit(d, req);
    task_sleep_ns(20000000); /* the device has long finished it; only the interrupt is held */
    bool early = req->done;
    virtio_blk_inject_reset_failure(d);
    d->ops->reset(d);
    virtio_blk_get_info(d, &dead);
    bool held = !__atomic_load_n(&req->done, __ATOMIC_ACQUIRE);
    bool bm_off = !(command_register(&info) & PCI_CMD_BUS_MASTER);
    int rd = blk_read(d, 0, 1, sec);
    int rd_direct = d->ops->submit(d, req2);
    bool logged = log_contains("did not acknowledge the reset");
    /* A real reset now: the device acknowledges it and comes back. */
    d->ops->reset(d);
    mmio_write32(&entry[3], mmio_read32(&entry[3]) & ~1u); /* the stale pending interrupt finds nothing */
    virtio_blk_get_info(d, &back);
    bool never_completed = !__atomic_load_n(&req->done, __ATOMIC_ACQUIRE);
    bool bm_on = command_register(&info) & PCI_CMD_BUS_MASTER;
    memset(sec, 0, 512);
    uint64_t irq_before = d->interrupts;
    int rr = blk_read(d, 0, 1, sec);
    uint64_t irq_after = d->interrupts;
    bool sig = sec[510] == 0x55 && sec[511] == 0xaa;
    kfree(req); kfree(req2); kfree(wq); kfree(buf); kfree(sec);
    ST_ASSERT(t, rs == 0, "submit returned %d", rs);
    ST_ASSERT(t, !early, "the request completed while its interrupt was masked");
    ST_ASSERT(t, dead.dead, "the device is not marked dead after an unacknowledged reset");
    ST_ASSERT(t, held, "the request the device still holds was completed by the failed reset");
    ST_ASSERT(t, dead.stranded == 1 && dead.inflight == 1, "dead device holds %u requests (%u chains), expected 1",
              dead.stranded, dead.inflight);
    ST_ASSERT(t, bm_off, "bus mastering is still on for the dead device");
    ST_ASSERT(t, rd == -KEIO && rd_direct == -KEIO, "I/O to the dead device gave %d (blk_read) and %d (submit), "
              "expected %d", rd, rd_direct, -KEIO);
    ST_ASSERT(t, logged, "the log does not say the device did not acknowledge the reset");
    ST_ASSERT(t, !back.dead && bm_on, "after a working reset: dead %d, bus mastering %s", back.dead,
              bm_on ? "on" : "off");
    ST_ASSERT(t, never_completed, "the held request was completed when the device came back");
    ST_ASSERT(t, back.inflight == 0 && back.free_slots == back.slots && back.stranded == 0,
              "after the device came back: %u chains in flight, %u of %u slots free, %u stranded", back.inflight,
              back.free_slots, back.slots, back.stranded);
    ST_ASSERT(t, rr == 0 && sig, "after the device came back, sector 0 read %d with signature %s", rr,
              sig ? "ok" : "wrong");
    ST_ASSERT(t, irq_after > irq_before, "the read after recovery did not complete by interrupt");
}
