/* ahci_selftest.c: self-tests of the AHCI driver (group "ahci"), run against the first AHCI
 * disk (sda, build/ahci.img on port 1 under scripts/qemu.sh; docs/storage.md).
 *
 * They check the driver through the block layer and directly through its submit(): the MBR
 * signature of sector 0; the 256 KiB test region the build wrote (header "SABOSBLK" at
 * capacity - 16384, CRC32 computed on the host) read into a contiguous buffer and into a
 * buffer of scattered physical pages at an odd offset, so each command carries a
 * multi-entry PRDT (AHCI 1.3.1 §4.2.3.3); a pattern written to the scratch region (the last
 * 4 MiB), flushed (FLUSH CACHE EXT) and read back; -KEINVAL past the end; completion by
 * MSI; several command slots in flight at once; a READ DMA EXT past the end of the disk
 * sent straight to submit() failing with -KEIO and a logged task-file status, after which
 * the port works again; and ops->reset (COMRESET) leaving no request behind. */
#include "types.h"
#include "selftest.h"
#include "block.h"
#include "blk_pattern.h"
#include "ahci.h"
#include "mm.h"
#include "cpu.h"
#include "wait.h"
#include "kerrno.h"
#include "kstring.h"
#include "printk.h"

#define REGION_SECTORS 16384u  /* the test region: the last 8 MiB */
#define SCRATCH_SECTORS 8192u  /* the scratch region: the last 4 MiB */
#define DATA_BYTES (BLK_TEST_DATA_SECTORS * 512u)

/* A virtual window for buffers made of scattered physical pages (nothing else maps here:
 * 7 GiB above the task-stack slots, which use the first 128 MiB of KSTACK_REGION). */
#define SCATTER_VA (KSTACK_REGION + 7ull * 1024 * 1024 * 1024)
#define SCATTER_MAX_PAGES 72

struct scatter_buf {
    uint8_t *va;
    unsigned pages;
    phys_addr_t frames[SCATTER_MAX_PAGES];
};

static void find_ahci(struct blk_device *dev, void *ctx) {
    struct blk_device **out = ctx;
    if (!*out && !dev->parent && dev->driver && strcmp(dev->driver, "ahci") == 0) *out = dev;
}

/* The first AHCI disk, or NULL (the test then fails saying so). */
static struct blk_device *ahci_disk(void) {
    struct blk_device *dev = NULL;
    blk_for_each(find_ahci, &dev);
    return dev;
}

#define NEED_DISK(t, dev)                                                                      \
    struct blk_device *dev = ahci_disk();                                                      \
    ST_ASSERT(t, dev, "no AHCI disk is registered (ahci_init found %d)", ahci_disk_count())

/* Maps pages frames, every other one of 2 * pages allocations, so that no two neighbours
 * are physically adjacent whatever order the allocator hands them out in. */
static bool scatter_map(struct scatter_buf *s, unsigned pages) {
    memset(s, 0, sizeof(*s));
    if (pages > SCATTER_MAX_PAGES || vmm_translate((void *)SCATTER_VA)) return false;
    phys_addr_t spare[SCATTER_MAX_PAGES];
    unsigned got = 0;
    for (; got < pages; got++) {
        s->frames[got] = pmm_alloc();
        spare[got] = pmm_alloc();
        if (!s->frames[got] || !spare[got]) break;
    }
    for (unsigned i = 0; i <= got && i < pages; i++)
        if (spare[i]) pmm_free(spare[i]);
    if (got < pages) {
        for (unsigned i = 0; i <= got && i < pages; i++)
            if (s->frames[i]) pmm_free(s->frames[i]);
        return false;
    }
    for (unsigned i = 0; i < pages; i++) vmm_map_kernel_page(SCATTER_VA + i * PAGE_SIZE, s->frames[i]);
    s->va = (uint8_t *)SCATTER_VA;
    s->pages = pages;
    return true;
}

static void scatter_unmap(struct scatter_buf *s) {
    for (unsigned i = 0; i < s->pages; i++) {
        vmm_unmap_kernel_page(SCATTER_VA + i * PAGE_SIZE);
        pmm_free(s->frames[i]);
    }
    s->pages = 0;
}

/* Reads and checks the test region's header; returns the first data sector or 0. */
static uint64_t test_region(struct selftest_ctx *t, struct blk_device *dev, uint32_t *crc) {
    uint8_t *hdr = kmalloc(dev->sector_size);
    if (!hdr) return 0;
    uint64_t s = dev->sectors - REGION_SECTORS;
    int r = blk_read(dev, s, 1, hdr);
    uint32_t sectors = 0;
    memcpy(&sectors, hdr + 8, 4);
    memcpy(crc, hdr + 12, 4);
    bool ok = r == 0 && memcmp(hdr, "SABOSBLK", 8) == 0 && sectors == BLK_TEST_DATA_SECTORS;
    if (!ok) selftest_fail(t, "test region header at sector %llu: read %d, magic %.8s, %u sectors",
                           (unsigned long long)s, r, (const char *)hdr, sectors);
    kfree(hdr);
    return ok ? s + 1 : 0;
}

SELFTEST(ahci, sector0_ends_in_55aa) {
    NEED_DISK(t, dev);
    uint8_t *buf = kmalloc(dev->sector_size);
    ST_ASSERT(t, buf, "no memory");
    memset(buf, 0, dev->sector_size);
    int r = blk_read(dev, 0, 1, buf);
    uint8_t a = buf[510], b = buf[511];
    kfree(buf);
    ST_ASSERT(t, r == 0, "%s: reading sector 0 failed: %d", dev->name, r);
    ST_ASSERT(t, a == 0x55 && b == 0xaa, "%s: sector 0 ends in %02x %02x, not 55 aa", dev->name, a, b);
}

SELFTEST_TIMEOUT(ahci, read_256k_matches_host_crc, 4000) {
    NEED_DISK(t, dev);
    uint32_t want = 0;
    uint64_t data = test_region(t, dev, &want);
    if (!data) return;
    uint8_t *contig = kmalloc(DATA_BYTES);
    ST_ASSERT(t, contig, "no memory");
    int r = blk_read(dev, data, BLK_TEST_DATA_SECTORS, contig);
    uint32_t got = crc32_ieee(contig, DATA_BYTES, 0);
    kfree(contig);
    ST_ASSERT(t, r == 0, "contiguous 256 KiB read failed: %d", r);
    ST_ASSERT(t, got == want, "contiguous read: crc32 %08x, the host computed %08x", got, want);

    /* 256 KiB at offset 512 in scattered pages: 65 segments, so every command's PRDT has
     * many entries and each one crosses into a different physical page. */
    struct scatter_buf s;
    ST_ASSERT(t, scatter_map(&s, DATA_BYTES / PAGE_SIZE + 1), "cannot map the scattered buffer");
    uint8_t *buf = s.va + 512;
    struct dma_seg segs[80];
    int nseg = blk_dma_segments(buf, DATA_BYTES, segs, 80);
    memset(buf, 0, DATA_BYTES);
    r = blk_read(dev, data, BLK_TEST_DATA_SECTORS, buf);
    got = crc32_ieee(buf, DATA_BYTES, 0);
    scatter_unmap(&s);
    ST_ASSERT(t, nseg >= 60, "the scattered buffer has only %d physical segments", nseg);
    ST_ASSERT(t, r == 0, "scattered 256 KiB read failed: %d", r);
    ST_ASSERT(t, got == want, "scattered read (%d segments): crc32 %08x, the host computed %08x", nseg, got, want);
}

SELFTEST_TIMEOUT(ahci, write_flush_readback, 4000) {
    NEED_DISK(t, dev);
    const uint32_t count = 256; /* 128 KiB */
    uint64_t lba = dev->sectors - SCRATCH_SECTORS + 512;
    uint32_t bytes = count * dev->sector_size;
    struct scatter_buf s;
    ST_ASSERT(t, scatter_map(&s, bytes / PAGE_SIZE + 1), "cannot map the scattered buffer");
    uint8_t *out = s.va + 1024, *in = kmalloc(bytes);
    if (!in) scatter_unmap(&s);
    ST_ASSERT(t, in, "no memory");
    uint32_t seed = 0xa4c10000u ^ (uint32_t)time_ns();
    blk_pattern_fill(out, bytes, seed, 0);
    memset(in, 0, bytes);
    int w = blk_write(dev, lba, count, out);
    int f = blk_flush(dev);
    int r = blk_read(dev, lba, count, in);
    bool same = memcmp(in, out, bytes) == 0;
    kfree(in);
    scatter_unmap(&s);
    ST_ASSERT(t, w == 0, "write to the scratch region failed: %d", w);
    ST_ASSERT(t, f == 0, "flush failed: %d", f);
    ST_ASSERT(t, r == 0, "read back failed: %d", r);
    ST_ASSERT(t, same, "the bytes read back differ from the pattern written (seed %#x)", seed);
}

SELFTEST(ahci, read_past_end_einval) {
    NEED_DISK(t, dev);
    uint8_t *buf = kmalloc(2 * dev->sector_size);
    ST_ASSERT(t, buf, "no memory");
    int r1 = blk_read(dev, dev->sectors - 1, 2, buf);
    int r2 = blk_read(dev, dev->sectors, 1, buf);
    int r3 = blk_read(dev, dev->sectors - 1, 1, buf);
    kfree(buf);
    ST_ASSERT(t, r1 == -KEINVAL, "2 sectors at the last sector: %d, want -KEINVAL", r1);
    ST_ASSERT(t, r2 == -KEINVAL, "1 sector at the capacity: %d, want -KEINVAL", r2);
    ST_ASSERT(t, r3 == 0, "the last sector itself: %d, want 0", r3);
}

SELFTEST(ahci, completions_by_interrupt) {
    NEED_DISK(t, dev);
    struct ahci_port_stats st;
    ST_ASSERT(t, ahci_get_port_stats(dev, &st) == 0, "no driver statistics for %s", dev->name);
    ST_ASSERT(t, st.msi, "%s completes by polling: the controller gave no MSI", dev->name);
    uint8_t *buf = kmalloc(8 * dev->sector_size);
    ST_ASSERT(t, buf, "no memory");
    uint64_t before = dev->interrupts;
    int r = blk_read(dev, 0, 8, buf);
    int f = blk_flush(dev);
    uint64_t after = dev->interrupts;
    kfree(buf);
    ST_ASSERT(t, r == 0 && f == 0, "read %d, flush %d", r, f);
    ST_ASSERT(t, after >= before + 2, "interrupt completions went from %llu to %llu for 2 requests",
              (unsigned long long)before, (unsigned long long)after);
}

static bool request_done(struct blk_request *req) { return __atomic_load_n(&req->done, __ATOMIC_ACQUIRE); }

/* Waits up to 2 s for each of n requests sent straight to submit(). When one is late (or
 * the wait is interrupted) the port is reset: ops->reset fails everything in flight and the
 * driver never touches those requests again, so the caller may then free their buffers and
 * the requests themselves (which live on its stack). Returns true when all completed in
 * time by themselves. */
static bool wait_all_or_reset(struct blk_device *dev, struct wait_queue *wq, struct blk_request *reqs, int n) {
    bool all = true;
    for (int i = 0; i < n && all; i++)
        if (wait_event_timeout(wq, request_done(&reqs[i]), 2000000000ull) != 1) all = false;
    if (!all) {
        printk(LOG_WARN, "ahci selftest: a request is still in flight after 2 s; resetting %s before its "
               "buffer is freed\n", dev->name);
        dev->ops->reset(dev);
    }
    return all;
}

SELFTEST_TIMEOUT(ahci, several_slots_in_flight, 4000) {
    NEED_DISK(t, dev);
    uint32_t crc;
    uint64_t data = test_region(t, dev, &crc);
    if (!data) return;
    enum { N = 8, COUNT = 64 };
    uint8_t *buf = kmalloc(N * COUNT * 512);
    ST_ASSERT(t, buf && dev->sector_size == 512, "no memory or not 512-byte sectors");
    struct wait_queue wq;
    wait_queue_init(&wq, "ahci-test");
    struct blk_request reqs[N];
    memset(reqs, 0, sizeof(reqs));
    ahci_clear_max_in_flight(dev);
    int submitted = 0, err = 0;
    /* The burst goes out with this CPU's interrupts held off (the AHCI MSI is routed to it):
     * no completion can be handled before all N commands are in PxCI, so the driver really
     * has N slots outstanding at once however fast the device is, and the handler then finds
     * several finished slots per interrupt. submit() does not sleep while slots are free. */
    uint64_t flags = irq_save();
    for (int i = 0; i < N; i++) {
        /* In reverse order, so the device sees them out of LBA order. */
        struct blk_request *q = &reqs[i];
        q->op = BLK_OP_READ;
        q->lba = data + (uint64_t)(N - 1 - i) * COUNT;
        q->count = COUNT;
        q->buf = buf + (size_t)(N - 1 - i) * COUNT * 512;
        q->waiters = &wq;
        err = dev->ops->submit(dev, q);
        if (err < 0) break;
        submitted++;
    }
    irq_restore(flags);
    bool all = wait_all_or_reset(dev, &wq, reqs, submitted);
    struct ahci_port_stats st;
    ahci_get_port_stats(dev, &st);
    int bad = -1;
    for (int i = 0; i < submitted; i++)
        if (!reqs[i].done || reqs[i].status != 0) bad = i;
    uint32_t got = crc32_ieee(buf, N * COUNT * 512, 0);
    kfree(buf);
    ST_ASSERT(t, submitted == N, "submit %d failed: %d", submitted, err);
    ST_ASSERT(t, all, "a request did not complete within 2 s");
    ST_ASSERT(t, bad < 0, "request %d ended with %d", bad, reqs[bad].status);
    ST_ASSERT(t, got == crc, "data read by 8 concurrent requests: crc32 %08x, the host computed %08x", got, crc);
    ST_ASSERT(t, st.max_in_flight >= 2, "at most %u command was outstanding at once (of %u slots)",
              st.max_in_flight, st.slots);
}

/* True when text contains word. */
static bool contains(const char *text, size_t len, const char *word) {
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(text + i, word, n) == 0) return true;
    return false;
}

SELFTEST_TIMEOUT(ahci, lba_past_end_is_eio_and_port_recovers, 4000) {
    NEED_DISK(t, dev);
    struct ahci_port_stats before, after;
    ahci_get_port_stats(dev, &before);
    uint8_t *buf = kmalloc(4 * dev->sector_size);
    ST_ASSERT(t, buf, "no memory");
    struct wait_queue wq;
    wait_queue_init(&wq, "ahci-test");
    struct blk_request req = {0};
    req.op = BLK_OP_READ;
    req.lba = dev->sectors + 64; /* past the end: only the device can refuse it now */
    req.count = 4;
    req.buf = buf;
    req.waiters = &wq;
    int s = dev->ops->submit(dev, &req);
    bool w = s == 0 && wait_all_or_reset(dev, &wq, &req, 1);
    ahci_get_port_stats(dev, &after);
    char *log = kmalloc(4097);
    size_t len = log ? klog_read(log, 4097) : 0;
    bool logged = log && contains(log, len, "ATA error: status");
    kfree(log);
    /* The port must work again after its recovery. */
    int r = blk_read(dev, 0, 1, buf);
    bool sig = buf[510] == 0x55 && buf[511] == 0xaa;
    kfree(buf);
    ST_ASSERT(t, s == 0, "submit refused the request: %d", s);
    ST_ASSERT(t, w, "the request past the end did not complete within 2 s");
    ST_ASSERT(t, req.status == -KEIO, "status %d, want -KEIO", req.status);
    ST_ASSERT(t, after.ata_errors > before.ata_errors, "no ATA error was counted");
    ST_ASSERT(t, logged, "no \"ATA error: status ...\" line in the log");
    ST_ASSERT(t, r == 0 && sig, "the port does not work after the error: read %d", r);
}

SELFTEST_TIMEOUT(ahci, reset_leaves_no_request_and_port_works, 4000) {
    NEED_DISK(t, dev);
    struct ahci_port_stats before, after;
    ahci_get_port_stats(dev, &before);
    uint32_t count = dev->max_sectors;
    uint8_t *buf = kmalloc((size_t)count * dev->sector_size);
    ST_ASSERT(t, buf, "no memory");
    struct wait_queue wq;
    wait_queue_init(&wq, "ahci-test");
    struct blk_request req = {0};
    req.op = BLK_OP_READ;
    req.lba = 0;
    req.count = count;
    req.buf = buf;
    req.waiters = &wq;
    int s = dev->ops->submit(dev, &req);
    if (s == 0) dev->ops->reset(dev);
    bool done = request_done(&req);
    int status = req.status;
    ahci_get_port_stats(dev, &after);
    memset(buf, 0, dev->sector_size);
    int r = blk_read(dev, 0, 1, buf);
    bool sig = buf[510] == 0x55 && buf[511] == 0xaa;
    kfree(buf);
    ST_ASSERT(t, s == 0, "submit refused the request: %d", s);
    ST_ASSERT(t, done, "the request was still in flight after reset() returned");
    ST_ASSERT(t, status == 0 || status == -KEIO, "status %d after reset, want 0 or -KEIO", status);
    ST_ASSERT(t, after.comresets > before.comresets, "reset() sent no COMRESET");
    ST_ASSERT(t, r == 0 && sig, "the port does not work after the reset: read %d", r);
}

SELFTEST_TIMEOUT(ahci, error_among_several_keeps_the_others, 4000) {
    NEED_DISK(t, dev);
    uint32_t crc;
    uint64_t data = test_region(t, dev, &crc);
    if (!data) return;
    enum { N = 6, COUNT = 32, BAD = 2 };
    size_t chunk = COUNT * 512;
    uint8_t *buf = kmalloc(N * chunk), *want = kmalloc(chunk);
    if (!buf || !want) {
        kfree(buf);
        kfree(want);
    }
    ST_ASSERT(t, buf && want && dev->sector_size == 512, "no memory or not 512-byte sectors");
    struct ahci_port_stats before, after;
    ahci_get_port_stats(dev, &before);
    struct wait_queue wq;
    wait_queue_init(&wq, "ahci-test");
    struct blk_request reqs[N];
    memset(reqs, 0, sizeof(reqs));
    int submitted = 0, err = 0;
    /* One request past the end in the middle of a burst (interrupts held off as above, so
     * they are all outstanding together): it alone must fail; the port is recovered and the
     * commands behind it are reissued and complete with the right data. */
    uint64_t flags = irq_save();
    for (int i = 0; i < N; i++) {
        struct blk_request *q = &reqs[i];
        q->op = BLK_OP_READ;
        q->lba = i == BAD ? dev->sectors + 1000 : data + (uint64_t)i * COUNT;
        q->count = COUNT;
        q->buf = buf + (size_t)i * chunk;
        q->waiters = &wq;
        err = dev->ops->submit(dev, q);
        if (err < 0) break;
        submitted++;
    }
    irq_restore(flags);
    bool all = wait_all_or_reset(dev, &wq, reqs, submitted);
    ahci_get_port_stats(dev, &after);
    int wrong_status = -1, wrong_data = -1;
    for (int i = 0; i < submitted; i++) {
        if (reqs[i].status != (i == BAD ? -KEIO : 0)) wrong_status = i;
        if (i == BAD) continue;
        blk_pattern_fill(want, chunk, BLK_TEST_DATA_SEED, (uint64_t)i * chunk);
        if (memcmp(want, buf + (size_t)i * chunk, chunk) != 0) wrong_data = i;
    }
    kfree(buf);
    kfree(want);
    ST_ASSERT(t, submitted == N, "submit %d failed: %d", submitted, err);
    ST_ASSERT(t, all, "a request did not complete within 2 s");
    ST_ASSERT(t, wrong_status < 0, "request %d ended with %d (the bad one is %d)", wrong_status,
              reqs[wrong_status].status, BAD);
    ST_ASSERT(t, wrong_data < 0, "request %d read the wrong bytes", wrong_data);
    ST_ASSERT(t, after.recoveries > before.recoveries, "the port was not recovered after the error");
}
