/* nvme_selftest.c: self-tests of the NVMe driver (group "nvme") on the disk the launcher
 * attaches: namespace 1 of the controller with serial SABOSNVME = build/nvme.img, a 64 MiB
 * FAT32 image whose last 8 MiB hold the storage test region (docs/storage.md): at sector
 * capacity-16384 a header "SABOSBLK", uint32 data_sectors, uint32 CRC-32 (IEEE) of the data
 * that follows; the last 4 MiB are scratch space for write tests.
 * They exercise the PRP shapes of NVM Express Base 2.0 §4.3 (PRP1 with an offset, PRP2 direct,
 * PRP lists), completion by MSI-X interrupt, the decoded error status of an LBA past the end
 * (NVM Command Set 1.0: LBA Out of Range), a full submission queue, and controller reset both
 * while commands are running (they finish in the drain window) and with completions posted
 * but held back by a masked MSI-X vector (the abort path: each fails with -KEIO). A test whose
 * wait for a request times out resets the controller before freeing the request's memory.
 * The write test restores the scratch sectors it overwrote. */
#include "types.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "mm.h"
#include "time.h"
#include "wait.h"
#include "sched.h"
#include "cpu.h"
#include "block.h"
#include "nvme.h"
#include "selftest.h"

#define TEST_REGION_SECTORS 16384 /* header at capacity - this */
#define SCRATCH_SECTORS 8192      /* the last 4 MiB */
#define WAIT_NS 2000000000ull

static struct blk_device *nvme_disk(void) { return blk_find("nvme0n1"); }

static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* True when needle occurs in haystack[0..len). */
static bool contains(const char *haystack, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(haystack + i, needle, n) == 0)
            return true;
    return false;
}

/* A request handed to the driver's submit() directly, bypassing the block layer's checks. */
struct direct_req {
    struct blk_request req;
    struct wait_queue wq;
};

static int direct_submit(struct blk_device *d, struct direct_req *r, int op, uint64_t lba, uint32_t count,
                         void *buf) {
    memset(r, 0, sizeof(*r));
    wait_queue_init(&r->wq, "nvme-test");
    r->req.op = (uint8_t)op;
    r->req.lba = lba;
    r->req.count = count;
    r->req.buf = buf;
    r->req.waiters = &r->wq;
    return d->ops->submit(d, &r->req);
}

static bool direct_wait(struct direct_req *r) {
    return wait_event_timeout(&r->wq, __atomic_load_n(&r->req.done, __ATOMIC_ACQUIRE), WAIT_NS) == 1;
}

SELFTEST(nvme, controller_identified) {
    const struct nvme_ctrl_info *ci = nvme_controller_info(0);
    ST_ASSERT(t, ci, "no NVMe controller was initialised");
    ST_ASSERT(t, strcmp(ci->serial, "SABOSNVME") == 0, "Identify Controller serial is '%s', expected SABOSNVME",
              ci->serial);
    ST_ASSERT(t, ci->model[0], "Identify Controller gave an empty model");
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    ST_ASSERT(t, strcmp(d->driver, "nvme") == 0 && strcmp(d->model, ci->model) == 0, "driver/model not set");
    /* build/nvme.img is 64 MiB of 512-byte blocks (NSZE from Identify Namespace). */
    ST_ASSERT(t, d->sector_size == 512, "sector size %u, expected 512", d->sector_size);
    ST_ASSERT(t, d->sectors * d->sector_size == MiB(64), "capacity %llu sectors, expected 64 MiB",
              (unsigned long long)d->sectors);
    ST_ASSERT(t, d->max_sectors >= 8 && (uint64_t)d->max_sectors * d->sector_size <= KiB(512),
              "max_sectors %u outside 4 KiB..512 KiB", d->max_sectors);
}

SELFTEST(nvme, sector0_signature) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint8_t *buf = kmalloc(512);
    ST_ASSERT(t, buf, "out of memory");
    memset(buf, 0, 512);
    int r = blk_read(d, 0, 1, buf);
    bool ok = buf[510] == 0x55 && buf[511] == 0xaa;
    uint8_t b510 = buf[510], b511 = buf[511];
    kfree(buf);
    ST_ASSERT(t, r == 0, "blk_read of sector 0 returned %d", r);
    ST_ASSERT(t, ok, "sector 0 ends in %02x %02x, expected 55 aa", b510, b511);
}

/* Reads the test-region header; returns the data's first sector, or 0 with the test failed. */
static uint64_t read_test_header(struct selftest_ctx *t, struct blk_device *d, uint32_t *sectors, uint32_t *crc) {
    uint64_t hdr = d->sectors - TEST_REGION_SECTORS;
    uint8_t *buf = kmalloc(512);
    if (!buf) {
        selftest_fail(t, "out of memory");
        return 0;
    }
    int r = blk_read(d, hdr, 1, buf);
    bool magic = memcmp(buf, "SABOSBLK", 8) == 0;
    *sectors = get_le32(buf + 8);
    *crc = get_le32(buf + 12);
    kfree(buf);
    if (r != 0 || !magic || *sectors != 512) {
        selftest_fail(t, "test-region header at %llu: read %d, magic %s, %u data sectors",
                      (unsigned long long)hdr, r, magic ? "ok" : "missing", *sectors);
        return 0;
    }
    return hdr + 1;
}

SELFTEST(nvme, read_256k_matches_host_crc) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint32_t sectors = 0, crc = 0;
    uint64_t lba = read_test_header(t, d, &sectors, &crc);
    if (!lba)
        return;
    size_t len = (size_t)sectors * 512;
    uint8_t *raw = kmalloc(len + PAGE_SIZE);
    ST_ASSERT(t, raw, "out of memory");
    /* Page-aligned buffer first, then one 512 bytes into a page: every command then has
     * PRP1 with an offset and a PRP list whose entries all cross into the next page. */
    uint8_t *aligned = (uint8_t *)ALIGN_UP((uintptr_t)raw, PAGE_SIZE);
    memset(raw, 0, len + PAGE_SIZE);
    int r1 = blk_read(d, lba, sectors, aligned);
    uint32_t c1 = crc32_ieee(aligned, len, 0);
    uint8_t *odd = raw + 512;
    memset(raw, 0, len + PAGE_SIZE);
    int r2 = blk_read(d, lba, sectors, odd);
    uint32_t c2 = crc32_ieee(odd, len, 0);
    kfree(raw);
    ST_ASSERT(t, r1 == 0 && r2 == 0, "blk_read returned %d (aligned) and %d (offset 512)", r1, r2);
    ST_ASSERT(t, c1 == crc, "CRC of the page-aligned read %08x, host wrote %08x", c1, crc);
    ST_ASSERT(t, c2 == crc, "CRC of the read at page offset 512 %08x, host wrote %08x", c2, crc);
}

SELFTEST(nvme, prp_shapes_agree) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint64_t lba = d->sectors - TEST_REGION_SECTORS + 1;
    uint8_t *ref = kmalloc(3 * PAGE_SIZE), *raw = kmalloc(5 * PAGE_SIZE);
    if (!ref || !raw) {
        kfree(ref);
        kfree(raw);
        ST_ASSERT(t, false, "out of memory");
    }
    uint8_t *page = (uint8_t *)ALIGN_UP((uintptr_t)raw, PAGE_SIZE);
    int r = blk_read(d, lba, 16, ref); /* 8 KiB */
    /* offset, sectors: one page with an offset; two pages (PRP2 direct) aligned and with an
     * offset; three pages (a PRP list) with a dword offset and one 4 bytes before the end. */
    static const struct { uint32_t offset, count; } shapes[] = {
        {512, 1}, {3584, 2}, {0, 16}, {4, 8}, {512, 16}, {4092, 16},
    };
    const char *bad = NULL;
    int bad_r = 0;
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(shapes) && !bad; i++) {
        memset(page, 0xcc, 4 * PAGE_SIZE);
        bad_r = blk_read(d, lba, shapes[i].count, page + shapes[i].offset);
        if (bad_r != 0 || memcmp(page + shapes[i].offset, ref, shapes[i].count * 512u) != 0)
            bad = i == 0 ? "1 page at offset 512" : i == 1 ? "2 pages at offset 3584" : i == 2 ? "2 aligned pages"
                : i == 3 ? "3 pages at offset 4" : i == 4 ? "3 pages at offset 512" : "3 pages at offset 4092";
        else if (page[shapes[i].offset + shapes[i].count * 512u] != 0xcc || (shapes[i].offset && page[shapes[i].offset - 1] != 0xcc))
            bad = "a write outside the buffer";
    }
    kfree(ref);
    kfree(raw);
    ST_ASSERT(t, r == 0, "reference read returned %d", r);
    ST_ASSERT(t, !bad, "read with %s differs from the reference (blk_read %d)", bad, bad_r);
}

SELFTEST(nvme, write_flush_readback) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    const uint32_t count = 96; /* 48 KiB: a PRP list on both the write and the read */
    uint64_t lba = d->sectors - SCRATCH_SECTORS + 40;
    size_t len = count * 512u;
    uint8_t *out = kmalloc(len + PAGE_SIZE), *in = kmalloc(len + PAGE_SIZE), *orig = kmalloc(len);
    if (!out || !in || !orig) {
        kfree(out);
        kfree(in);
        kfree(orig);
        ST_ASSERT(t, false, "out of memory");
    }
    /* A pattern that differs from run to run, so stale data from an earlier run cannot pass. */
    uint32_t x = (uint32_t)time_ns() | 1;
    uint8_t *src = out + 1024;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        src[i] = (uint8_t)x;
    }
    memset(in, 0, len + PAGE_SIZE);
    /* The scratch bytes are put back at the end, so whatever another test or the host keeps
     * there (the blk_persist pattern) survives this test, in any order of the groups. */
    int s = blk_read(d, lba, count, orig);
    int w = -1, f = -1, r = -1, restore = -1, f2 = -1;
    bool same = false;
    if (s == 0) {
        w = blk_write(d, lba, count, src);
        f = blk_flush(d);
        r = blk_read(d, lba, count, in + 512);
        same = memcmp(src, in + 512, len) == 0;
        restore = blk_write(d, lba, count, orig);
        f2 = blk_flush(d);
    }
    kfree(out);
    kfree(in);
    kfree(orig);
    ST_ASSERT(t, s == 0, "saving the scratch sectors failed: %d", s);
    ST_ASSERT(t, w == 0 && f == 0 && r == 0, "write %d, flush %d, read %d", w, f, r);
    ST_ASSERT(t, same, "the data read back differs from the pattern written");
    ST_ASSERT(t, restore == 0 && f2 == 0, "restoring the scratch sectors: write %d, flush %d", restore, f2);
}

SELFTEST(nvme, read_past_end_is_einval) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint8_t *buf = kmalloc(1024);
    ST_ASSERT(t, buf, "out of memory");
    int a = blk_read(d, d->sectors, 1, buf);
    int b = blk_read(d, d->sectors - 1, 2, buf);
    int c = blk_read(d, d->sectors - 1, 1, buf);
    kfree(buf);
    ST_ASSERT(t, a == -KEINVAL, "read at the capacity returned %d, expected -KEINVAL", a);
    ST_ASSERT(t, b == -KEINVAL, "read crossing the end returned %d, expected -KEINVAL", b);
    ST_ASSERT(t, c == 0, "read of the last sector returned %d", c);
}

SELFTEST(nvme, completion_by_interrupt) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint8_t *buf = kmalloc(4096);
    ST_ASSERT(t, buf, "out of memory");
    uint64_t before = d->interrupts;
    int r = blk_read(d, 8, 8, buf);
    int r2 = blk_read(d, 16, 1, buf);
    uint64_t after = d->interrupts;
    kfree(buf);
    ST_ASSERT(t, r == 0 && r2 == 0, "blk_read returned %d, %d", r, r2);
    ST_ASSERT(t, after >= before + 2, "interrupt completions went from %llu to %llu for two reads",
              (unsigned long long)before, (unsigned long long)after);
}

SELFTEST(nvme, lba_out_of_range_is_eio_with_status) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint8_t *buf = kmalloc(512);
    struct direct_req *r = kmalloc(sizeof(*r));
    char *log = kmalloc(KLOG_SIZE + 1);
    if (!buf || !r || !log) {
        kfree(buf);
        kfree(r);
        kfree(log);
        ST_ASSERT(t, false, "out of memory");
    }
    uint64_t lba = d->sectors + 5; /* past the end: only the device can refuse it now */
    int s = direct_submit(d, r, BLK_OP_READ, lba, 1, buf);
    bool done = s == 0 && direct_wait(r);
    if (s == 0 && !done)
        d->ops->reset(d); /* r and buf are freed below: the driver must forget the request first */
    int status = r->req.status;
    char expect[96];
    ksnprintf(expect, sizeof(expect), "nvme0n1: LBA Out of Range (SCT 0 SC 0x80) on Read lba %llu",
              (unsigned long long)lba);
    size_t n = klog_read(log, KLOG_SIZE + 1);
    bool logged = contains(log, n, expect);
    kfree(buf);
    kfree(r);
    kfree(log);
    ST_ASSERT(t, s == 0, "submit returned %d", s);
    ST_ASSERT(t, done, "the request did not complete within 2 s");
    ST_ASSERT(t, status == -KEIO, "status %d, expected -KEIO", status);
    ST_ASSERT(t, logged, "the log does not contain '%s'", expect);
}

SELFTEST(nvme, full_queue_submit_waits_for_slot) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    enum { N = 160 }; /* more than the 63 command ids of a 64-entry queue, twice over */
    uint64_t lba = d->sectors - TEST_REGION_SECTORS + 1;
    struct direct_req *reqs = kzalloc(N * sizeof(*reqs));
    uint8_t *data = kmalloc(N * 512), *ref = kmalloc(N * 512);
    if (!reqs || !data || !ref) {
        kfree(reqs);
        kfree(data);
        kfree(ref);
        ST_ASSERT(t, false, "out of memory");
    }
    memset(data, 0, N * 512);
    int rr = blk_read(d, lba, N, ref);
    int submitted = 0, sub_err = 0;
    for (int i = 0; i < N && rr == 0; i++) {
        sub_err = direct_submit(d, &reqs[i], BLK_OP_READ, lba + (uint64_t)i, 1, data + i * 512);
        if (sub_err)
            break;
        submitted++;
    }
    /* One deadline for all of them: a hung device costs 2 s, not 2 s per request. */
    int done = 0, failed = 0;
    uint64_t deadline = time_ns() + WAIT_NS;
    for (int i = 0; i < submitted; i++) {
        uint64_t now = time_ns();
        struct direct_req *q = &reqs[i];
        if (wait_event_timeout(&q->wq, __atomic_load_n(&q->req.done, __ATOMIC_ACQUIRE),
                               now < deadline ? deadline - now : 0) == 1)
            done++;
    }
    if (done < submitted)
        d->ops->reset(d); /* reqs and data are freed below: nothing may stay in flight */
    for (int i = 0; i < submitted; i++)
        if (reqs[i].req.done && reqs[i].req.status != 0)
            failed++;
    bool same = rr == 0 && memcmp(data, ref, N * 512) == 0;
    kfree(reqs);
    kfree(data);
    kfree(ref);
    ST_ASSERT(t, rr == 0, "reference read returned %d", rr);
    ST_ASSERT(t, submitted == N, "submit %d returned %d instead of waiting for a free slot", submitted, sub_err);
    ST_ASSERT(t, done == N && failed == 0, "%d of %d completed, %d failed", done, N, failed);
    ST_ASSERT(t, same, "sectors read one by one differ from one large read");
}

SELFTEST(nvme, reset_completes_inflight_and_recovers) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    enum { N = 8 };
    uint32_t count = d->max_sectors;
    struct direct_req *reqs = kzalloc(N * sizeof(*reqs));
    uint8_t *buf = kmalloc((size_t)count * d->sector_size), *sec = kmalloc(512);
    if (!reqs || !buf || !sec) {
        kfree(reqs);
        kfree(buf);
        kfree(sec);
        ST_ASSERT(t, false, "out of memory");
    }
    uint64_t resets = nvme_controller_resets(0);
    int submitted = 0;
    for (int i = 0; i < N; i++) /* all into one buffer: only the completions matter here */
        if (direct_submit(d, &reqs[i], BLK_OP_READ, (uint64_t)i * count, count, buf) == 0)
            submitted++;
    d->ops->reset(d);
    /* On return every request has been completed (by the device or failed with -KEIO). */
    int not_done = 0, bad_status = 0, failed = 0;
    for (int i = 0; i < submitted; i++) {
        if (!__atomic_load_n(&reqs[i].req.done, __ATOMIC_ACQUIRE))
            not_done++;
        else if (reqs[i].req.status == -KEIO)
            failed++;
        else if (reqs[i].req.status != 0)
            bad_status++;
    }
    memset(sec, 0, 512);
    int r = blk_read(d, 0, 1, sec);
    bool sig = sec[510] == 0x55 && sec[511] == 0xaa;
    kfree(reqs);
    kfree(buf);
    kfree(sec);
    pr_info("nvme selftest: reset with reads running: %d of %d finished normally, %d failed\n",
            submitted - failed - not_done - bad_status, submitted, failed);
    ST_ASSERT(t, submitted == N, "only %d of %d submits succeeded", submitted, N);
    ST_ASSERT(t, nvme_controller_resets(0) == resets + 1, "the controller reset count did not grow by one");
    ST_ASSERT(t, not_done == 0, "%d requests were neither completed nor failed by the reset", not_done);
    ST_ASSERT(t, bad_status == 0, "%d requests ended with a status other than 0 or -KEIO", bad_status);
    ST_ASSERT(t, r == 0 && sig, "I/O after the reset: read %d, signature %s", r, sig ? "ok" : "wrong");
}

/* Controller reset with commands whose completions the driver never saw: the I/O completion
 * queue's MSI-X entry is masked, so QEMU finishes the reads and posts their completions into
 * the queue memory while the interrupt stays pending and nothing reaps them. Only once every
 * completion is posted (nothing left inside QEMU, whose 7.2 NVMe model crashes when it is
 * disabled with reads in flight) does the test reset: the driver's drain window passes with
 * all N still in flight, the controller is disabled, and every request must come back -KEIO
 * (the abort path of ops->reset). Unmasked again, I/O must work and complete by interrupt. */
SELFTEST(nvme, reset_aborts_unreaped_commands_with_eio) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    volatile uint32_t *entry = nvme_io_msix_entry(0);
    ST_ASSERT(t, entry, "the I/O completion queue has no MSI-X entry to hold back");
    enum { N = 8, COUNT = 8 };
    uint64_t lba = d->sectors - TEST_REGION_SECTORS + 1;
    struct direct_req *reqs = kzalloc(N * sizeof(*reqs));
    uint8_t *buf = kmalloc(N * COUNT * 512), *sec = kmalloc(512);
    if (!reqs || !buf || !sec) {
        kfree(reqs);
        kfree(buf);
        kfree(sec);
        ST_ASSERT(t, false, "out of memory");
    }
    uint64_t resets = nvme_controller_resets(0);
    int leftover = nvme_io_cq_unreaped(0);
    mmio_write32(&entry[3], mmio_read32(&entry[3]) | 1u); /* mask: the device keeps it pending */
    int submitted = 0, sub_err = 0;
    for (int i = 0; i < N; i++) {
        sub_err = direct_submit(d, &reqs[i], BLK_OP_READ, lba + (uint64_t)i * COUNT, COUNT, buf + i * COUNT * 512);
        if (sub_err)
            break;
        submitted++;
    }
    /* Bounded wait until the controller has written every completion into the queue. */
    uint64_t deadline = time_ns() + WAIT_NS;
    int posted = nvme_io_cq_unreaped(0);
    while (posted >= 0 && posted < submitted && time_ns() < deadline) {
        task_sleep_ns(1000000);
        posted = nvme_io_cq_unreaped(0);
    }
    int early = 0;
    for (int i = 0; i < submitted; i++)
        if (__atomic_load_n(&reqs[i].req.done, __ATOMIC_ACQUIRE))
            early++;
    bool all_posted = posted == submitted && submitted > 0;
    if (all_posted) {
        d->ops->reset(d);
        mmio_write32(&entry[3], mmio_read32(&entry[3]) & ~1u); /* the stale pending interrupt finds nothing */
    } else {
        /* Reads may still be inside QEMU: do not disable it under them. Let the interrupt
         * through, wait (bounded), and reset only for what still did not finish. */
        mmio_write32(&entry[3], mmio_read32(&entry[3]) & ~1u);
        int done = 0;
        for (int i = 0; i < submitted; i++) {
            uint64_t now = time_ns(), left = now < deadline + WAIT_NS ? deadline + WAIT_NS - now : 0;
            if (wait_event_timeout(&reqs[i].wq, __atomic_load_n(&reqs[i].req.done, __ATOMIC_ACQUIRE), left) == 1)
                done++;
        }
        if (done < submitted)
            d->ops->reset(d); /* reqs and buf are freed below */
    }
    int not_done = 0, failed = 0, other = 0;
    for (int i = 0; i < submitted; i++) {
        if (!__atomic_load_n(&reqs[i].req.done, __ATOMIC_ACQUIRE))
            not_done++;
        else if (reqs[i].req.status == -KEIO)
            failed++;
        else
            other++;
    }
    memset(sec, 0, 512);
    uint64_t irq_before = d->interrupts;
    int r = blk_read(d, 0, 1, sec);
    uint64_t irq_after = d->interrupts;
    bool sig = sec[510] == 0x55 && sec[511] == 0xaa;
    kfree(reqs);
    kfree(buf);
    kfree(sec);
    pr_info("nvme selftest: %d of %d completions posted but not reaped; the reset failed %d with -KEIO\n", posted,
            submitted, failed);
    ST_ASSERT(t, leftover == 0, "%d completions were already waiting in the queue before the test", leftover);
    ST_ASSERT(t, submitted == N, "submit %d returned %d", submitted, sub_err);
    ST_ASSERT(t, all_posted, "only %d of %d completions were posted within %llu ms", posted, submitted,
              (unsigned long long)(WAIT_NS / 1000000));
    ST_ASSERT(t, early == 0, "%d requests completed while their interrupt was masked", early);
    ST_ASSERT(t, nvme_controller_resets(0) == resets + 1, "the controller reset count did not grow by one");
    ST_ASSERT(t, not_done == 0, "%d requests were neither completed nor failed by the reset", not_done);
    ST_ASSERT(t, failed == N && other == 0, "the reset failed %d of %d requests with -KEIO (%d ended otherwise)",
              failed, N, other);
    ST_ASSERT(t, r == 0 && sig, "I/O after the reset: read %d, signature %s", r, sig ? "ok" : "wrong");
    ST_ASSERT(t, irq_after > irq_before, "the read after the reset did not complete by interrupt");
}

struct ns_check {
    struct selftest_ctx *t;
    int checked;
};

/* Reads the first and last block of one NVMe namespace and checks the end is enforced. */
static void check_namespace(struct blk_device *d, void *ctx) {
    struct ns_check *c = ctx;
    if (d->parent || !d->driver || strcmp(d->driver, "nvme") != 0 || c->t->failed)
        return;
    uint8_t *buf = kmalloc(2 * (size_t)d->sector_size);
    if (!buf) {
        selftest_fail(c->t, "out of memory");
        return;
    }
    int first = blk_read(d, 0, 1, buf);
    int last = blk_read(d, d->sectors - 1, 1, buf);
    int past = blk_read(d, d->sectors - 1, 2, buf);
    kfree(buf);
    if (first || last || past != -KEINVAL)
        selftest_fail(c->t, "%s (%u-byte blocks): first %d, last %d, past the end %d", d->name, d->sector_size,
                      first, last, past);
    c->checked++;
}

SELFTEST(nvme, every_namespace_reads_first_and_last) {
    struct ns_check c = {t, 0};
    blk_for_each(check_namespace, &c);
    if (t->failed)
        return;
    ST_ASSERT(t, c.checked >= 1, "no NVMe namespace registered");
}

SELFTEST(nvme, buffer_not_dword_aligned_rejected) {
    struct blk_device *d = nvme_disk();
    ST_ASSERT(t, d, "nvme0n1 is not registered");
    uint8_t *buf = kmalloc(2048);
    ST_ASSERT(t, buf, "out of memory");
    memset(buf, 0x5a, 2048);
    /* PRP1 must be dword aligned (§4.3): the driver refuses rather than sending a bad PRP. */
    int r = blk_read(d, 0, 1, buf + 2);
    bool untouched = buf[2] == 0x5a && buf[513] == 0x5a;
    int ok = blk_read(d, 0, 1, buf + 4);
    kfree(buf);
    ST_ASSERT(t, r == -KEINVAL, "read into buf + 2 returned %d, expected -KEINVAL", r);
    ST_ASSERT(t, untouched, "the refused read wrote into the buffer");
    ST_ASSERT(t, ok == 0, "read into buf + 4 (dword aligned) returned %d", ok);
}
