/* block_selftest.c: self-tests of the block layer on the disks the launcher attaches
 * (docs/storage.md): the MBR and GPT test images show their partitions with the exact
 * offsets and sizes scripts/mkdisks.sh gave them (group `blk`), bad ranges are refused, DMA
 * segments follow physical pages; and group `blk_persist` leaves a known pattern in the
 * scratch region of every whole disk, which the host checks in the image files afterwards. */
#include "types.h"
#include "selftest.h"
#include "block.h"
#include "blk_pattern.h"
#include "kerrno.h"
#include "kstring.h"
#include "mm.h"
#include "printk.h"
#include "kprintf.h"
#include "time.h"
#include "cpu.h"

struct expected_part {
    const char *name;
    uint64_t start, sectors;
    const char *label;
};

/* The layouts written by scripts/mkdisks.sh with sfdisk. */
static const struct expected_part mbr_parts[] = {
    {"vdb1", 2048, 8192, ""},
    {"vdb2", 10240, 16384, ""},
};
static const struct expected_part gpt_parts[] = {
    {"vdc1", 2048, 4096, "alpha"},
    {"vdc2", 6144, 8192, "beta"},
    {"vdc3", 14336, 2048, "gamma"},
};

static void check_parts(struct selftest_ctx *t, const char *disk_name, const struct expected_part *want, int n) {
    struct blk_device *disk = blk_find(disk_name);
    if (!disk) {
        selftest_fail(t, "no device %s", disk_name);
        return;
    }
    for (int i = 0; i < n; i++) {
        struct blk_device *p = blk_find(want[i].name);
        if (!p) {
            selftest_fail(t, "partition %s not found", want[i].name);
            return;
        }
        if (p->parent != disk || p->start != want[i].start || p->sectors != want[i].sectors ||
            p->partno != i + 1) {
            selftest_fail(t, "%s: start %llu, %llu sectors, partition %d; expected %llu, %llu, %d", want[i].name,
                          (unsigned long long)p->start, (unsigned long long)p->sectors, p->partno,
                          (unsigned long long)want[i].start, (unsigned long long)want[i].sectors, i + 1);
            return;
        }
        if (strcmp(p->model, want[i].label) != 0) {
            selftest_fail(t, "%s: name '%s', expected '%s'", want[i].name, p->model, want[i].label);
            return;
        }
    }
    char extra[BLK_NAME_MAX];
    ksnprintf(extra, sizeof(extra), "%s%d", disk_name, n + 1);
    if (blk_find(extra)) selftest_fail(t, "an unexpected partition %s exists", extra);
}

SELFTEST(blk, mbr_partitions_found) { check_parts(t, "vdb", mbr_parts, 2); }

SELFTEST(blk, gpt_partitions_found) { check_parts(t, "vdc", gpt_parts, 3); }

SELFTEST(blk, partition_reads_land_at_its_offset) {
    /* Sector 0 of vdc1 is sector 2048 of vdc: read both and compare. */
    struct blk_device *disk = blk_find("vdc"), *part = blk_find("vdc1");
    ST_ASSERT(t, disk && part, "vdc or vdc1 missing");
    uint8_t *a = kmalloc(1024);
    ST_ASSERT(t, a, "no memory");
    memset(a, 0x11, 512);
    memset(a + 512, 0x22, 512);
    int r1 = blk_read(part, 0, 1, a);
    int r2 = blk_read(disk, 2048, 1, a + 512);
    bool same = memcmp(a, a + 512, 512) == 0;
    kfree(a);
    ST_ASSERT(t, r1 == 0 && r2 == 0, "reads failed: %d %d", r1, r2);
    ST_ASSERT(t, same, "vdc1 sector 0 differs from vdc sector 2048");
}

SELFTEST(blk, bad_ranges_rejected) {
    struct blk_device *d = blk_find("vdb1");
    ST_ASSERT(t, d, "vdb1 missing");
    uint8_t *buf = kmalloc(1024);
    ST_ASSERT(t, buf, "no memory");
    int past_end = blk_read(d, d->sectors, 1, buf);
    int straddle = blk_read(d, d->sectors - 1, 2, buf);
    int zero = blk_read(d, 0, 0, buf);
    int wrap = blk_read(d, UINT64_MAX, 1, buf);
    kfree(buf);
    ST_ASSERT(t, past_end == -KEINVAL, "read at the end: %d", past_end);
    ST_ASSERT(t, straddle == -KEINVAL, "read across the end: %d", straddle);
    ST_ASSERT(t, zero == -KEINVAL, "read of 0 sectors: %d", zero);
    ST_ASSERT(t, wrap == -KEINVAL, "read at lba 2^64-1: %d", wrap);
    ST_ASSERT(t, blk_check_range(d, 1, 512) == -KEINVAL, "misaligned offset accepted");
    ST_ASSERT(t, blk_check_range(d, 0, 100) == -KEINVAL, "misaligned length accepted");
    ST_ASSERT(t, blk_check_range(d, 0, 512) == 0, "a valid range was refused");
    ST_ASSERT(t, blk_find("nosuchdisk") == NULL, "blk_find invented a device");
}

SELFTEST(blk, dma_segments_follow_pages) {
    /* A heap buffer of 3 pages + 1000 bytes starting 512 bytes into a page. */
    uint8_t *buf = kmalloc(5 * 4096);
    ST_ASSERT(t, buf, "no memory");
    uint8_t *start = (uint8_t *)ALIGN_UP((uintptr_t)buf, 4096) + 512;
    struct dma_seg segs[8];
    int n = blk_dma_segments(start, 3 * 4096 + 1000, segs, 8);
    size_t total = 0;
    bool ok = n > 0;
    for (int i = 0; ok && i < n; i++) {
        total += segs[i].len;
        if (segs[i].addr != vmm_translate(start + (total - segs[i].len))) ok = false;
    }
    int too_few = blk_dma_segments(start, 3 * 4096 + 1000, segs, 0);
    int unmapped = blk_dma_segments((const void *)0x1000, 512, segs, 8);
    kfree(buf);
    ST_ASSERT(t, ok && total == 3 * 4096 + 1000, "%d segments covering %zu bytes", n, total);
    ST_ASSERT(t, segs[0].len == 4096 - 512 || n == 1, "first segment %u bytes", segs[0].len);
    ST_ASSERT(t, too_few == -KEINVAL, "max 0 gave %d", too_few);
    ST_ASSERT(t, unmapped == -KEINVAL, "unmapped memory gave %d", unmapped);
}

/* ---- blk_persist: the guest's bytes, checked on the host (tests/tools/blktool check) ---- */

static const char *const persist_disks[] = {"vda", "sda", "nvme0n1"};

SELFTEST_TIMEOUT(blk_persist, scratch_pattern_written, 20000) {
    const uint32_t scratch_sectors = (4u << 20) / 512;
    uint8_t *buf = kmalloc(1 << 20);
    ST_ASSERT(t, buf, "no memory");
    for (unsigned i = 0; i < ARRAY_SIZE(persist_disks); i++) {
        struct blk_device *d = blk_find(persist_disks[i]);
        if (!d) {
            kfree(buf);
            ST_ASSERT(t, false, "no device %s", persist_disks[i]);
        }
        uint64_t first = d->sectors - scratch_sectors;
        for (uint32_t chunk = 0; chunk < 4; chunk++) {
            blk_pattern_fill(buf, 1 << 20, BLK_PERSIST_SEED + i, (uint64_t)chunk << 20);
            int r = blk_write(d, first + chunk * 2048, 2048, buf);
            if (r < 0) {
                kfree(buf);
                ST_ASSERT(t, false, "%s: write failed: %d", d->name, r);
            }
        }
        int r = blk_flush(d);
        if (r < 0) {
            kfree(buf);
            ST_ASSERT(t, false, "%s: flush failed: %d", d->name, r);
        }
        printk(LOG_INFO, "blk_persist: %s scratch sectors %llu-%llu hold seed %#x\n", d->name,
               (unsigned long long)first, (unsigned long long)(d->sectors - 1), BLK_PERSIST_SEED + i);
    }
    kfree(buf);
}

/* ---- a device that never answers: the timeout path ---- */

/* "hole0": accepts every request and never completes it; reset() fails what it holds. */
struct hole {
    struct blk_device dev;
    struct blk_request *held;
    int resets;
};

static int hole_submit(struct blk_device *dev, struct blk_request *req) {
    struct hole *h = (struct hole *)dev;
    h->held = req;
    return 0;
}

static void hole_reset(struct blk_device *dev) {
    struct hole *h = (struct hole *)dev;
    h->resets++;
    struct blk_request *r = h->held;
    h->held = NULL;
    if (r) blk_complete(r, -KEIO);
}

static const struct blk_driver_ops hole_ops = {hole_submit, hole_reset};

static struct hole *hole_device(void) {
    static struct hole *h;
    if (h) return h;
    h = kzalloc(sizeof(*h));
    if (!h) return NULL;
    strlcpy(h->dev.name, "hole0", sizeof(h->dev.name));
    strlcpy(h->dev.model, "never answers (test)", sizeof(h->dev.model));
    h->dev.driver = "test";
    h->dev.sector_size = 512;
    h->dev.sectors = 1024;
    h->dev.max_sectors = 8;
    h->dev.ops = &hole_ops;
    h->dev.timeout_ns = 100000000ull; /* 100 ms, so the test is quick */
    /* Not registered: blk_register would scan it for partitions, and that read would be the
     * first to time out. The layer's functions take the device directly. */
    return h;
}

SELFTEST(blk, unanswered_request_times_out_and_resets) {
    struct hole *h = hole_device();
    ST_ASSERT(t, h, "no memory");
    uint8_t *buf = kmalloc(512);
    ST_ASSERT(t, buf, "no memory");
    int resets0 = h->resets;
    uint64_t timeouts0 = h->dev.stats.timeouts;
    uint64_t t0 = rdtsc();
    int r = blk_read(&h->dev, 5, 1, buf);
    uint64_t took_ms = tsc_to_ns(rdtsc() - t0) / 1000000;
    kfree(buf);
    char log[2048];
    size_t n = klog_read(log, sizeof(log));
    bool logged = false;
    for (size_t i = 0; i + 12 < n && !logged; i++)
        if (memcmp(log + i, "hole0: read ", 12) == 0) logged = true;
    ST_ASSERT(t, r == -KETIMEDOUT, "blk_read returned %d, expected -KETIMEDOUT", r);
    ST_ASSERT(t, h->resets == resets0 + 1, "%d resets, expected exactly one", h->resets - resets0);
    ST_ASSERT(t, h->dev.stats.timeouts == timeouts0 + 1, "the timeout was not counted");
    ST_ASSERT(t, h->held == NULL, "the request is still held by the device after the reset");
    ST_ASSERT(t, took_ms >= 100 && took_ms < 1000, "took %llu ms for a 100 ms timeout", (unsigned long long)took_ms);
    ST_ASSERT(t, logged, "no 'hole0: read ... did not complete' line in the log");
}
