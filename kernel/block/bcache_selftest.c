/* bcache_selftest.c: self-tests of the buffer cache (bcache.c) and of partition devices
 * (partition.c through blk_register), group `bcache`.
 *
 * They run on RAM-backed block devices registered here: a driver whose submit() copies to or
 * from memory and completes at once with blk_complete(), so every request still goes through
 * the block layer (range checks, splitting, retries, statistics). The driver logs the writes
 * it receives, counts reads and flushes, and can be told to fail any request touching one
 * chosen sector. The block layer has no unregister, so each device is created once and found
 * again by name when the tests run a second time (shell `selftest bcache`):
 *   ram0  2 MiB with a GPT written by the test (3 partitions: ram0p1-ram0p3)
 *   ram1  2 MiB with an MBR written by the test (2 partitions: ram1p1, ram1p2)
 *   ram2  8 MiB without a table, for the cache tests. */
#include "types.h"
#include "selftest.h"
#include "block.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "printk.h"
#include "sched.h"

#define RAM_SECTOR 512
#define RAM_WRITE_LOG 64
#define SPB (BCACHE_BLOCK / RAM_SECTOR)  /* sectors per cache block */

struct ram_disk {
    struct blk_device dev;
    uint8_t **pages;            /* 4 KiB pages (direct map) */
    uint64_t npages;
    uint64_t fail_sector;       /* requests covering it fail with -KEIO; UINT64_MAX = none */
    uint64_t reads, flushes, failures;
    uint64_t writes;            /* write requests; the first RAM_WRITE_LOG are logged */
    uint64_t write_lba[RAM_WRITE_LOG];
    uint32_t write_count[RAM_WRITE_LOG];
};

/* Copies between the disk and buf, page by page. */
static void ram_copy(struct ram_disk *rd, uint64_t lba, uint32_t count, uint8_t *buf, bool to_disk) {
    uint64_t off = lba * RAM_SECTOR, len = (uint64_t)count * RAM_SECTOR;
    while (len) {
        uint8_t *page = rd->pages[off / PAGE_SIZE];
        uint64_t in_page = off % PAGE_SIZE, n = MIN(len, PAGE_SIZE - in_page);
        if (to_disk) memcpy(page + in_page, buf, n);
        else memcpy(buf, page + in_page, n);
        off += n;
        buf += n;
        len -= n;
    }
}

/* The driver: does the request and completes it before returning. */
static int ram_submit(struct blk_device *dev, struct blk_request *req) {
    struct ram_disk *rd = dev->priv;
    int status = 0;
    if (req->op == BLK_OP_FLUSH) {
        rd->flushes++;
    } else if (req->lba >= dev->sectors || req->count > dev->sectors - req->lba) {
        status = -KEIO; /* the block layer should never let this through */
    } else if (rd->fail_sector >= req->lba && rd->fail_sector < req->lba + req->count) {
        rd->failures++;
        status = -KEIO;
    } else if (req->op == BLK_OP_READ) {
        rd->reads++;
        ram_copy(rd, req->lba, req->count, req->buf, false);
    } else {
        if (rd->writes < RAM_WRITE_LOG) {
            rd->write_lba[rd->writes] = req->lba;
            rd->write_count[rd->writes] = req->count;
        }
        rd->writes++;
        ram_copy(rd, req->lba, req->count, req->buf, true);
    }
    blk_complete(req, status);
    return 0;
}

static const struct blk_driver_ops ram_ops = {ram_submit, NULL};

/* Creates a RAM disk of mib MiB (zero-filled, not registered); NULL when memory is short. */
static struct ram_disk *ram_create(const char *name, uint64_t mib) {
    struct ram_disk *rd = kzalloc(sizeof *rd);
    if (!rd) return NULL;
    rd->npages = (mib << 20) / PAGE_SIZE;
    rd->pages = kzalloc(sizeof(uint8_t *) * rd->npages);
    if (!rd->pages) {
        kfree(rd);
        return NULL;
    }
    for (uint64_t i = 0; i < rd->npages; i++) {
        phys_addr_t pa = pmm_alloc();
        if (!pa) {
            for (uint64_t j = 0; j < i; j++) pmm_free(vmm_translate(rd->pages[j]));
            kfree(rd->pages);
            kfree(rd);
            return NULL;
        }
        rd->pages[i] = phys_to_virt(pa);
        memset(rd->pages[i], 0, PAGE_SIZE);
    }
    strlcpy(rd->dev.name, name, sizeof rd->dev.name);
    strlcpy(rd->dev.model, "RAM test disk", sizeof rd->dev.model);
    rd->dev.driver = "ram";
    rd->dev.sector_size = RAM_SECTOR;
    rd->dev.sectors = (mib << 20) / RAM_SECTOR;
    rd->dev.max_sectors = 128;
    rd->dev.ops = &ram_ops;
    rd->dev.priv = rd;
    rd->fail_sector = UINT64_MAX;
    return rd;
}

/* The RAM disk registered under name, or NULL. */
static struct ram_disk *ram_find(const char *name) {
    struct blk_device *d = blk_find(name);
    return d && d->ops == &ram_ops ? d->priv : NULL;
}

/* ram2, created and registered on first use, zeroed, with none of its blocks cached and its
 * counters cleared. */
static struct ram_disk *cache_disk(struct selftest_ctx *t) {
    struct ram_disk *rd = ram_find("ram2");
    if (!rd) {
        rd = ram_create("ram2", 8);
        if (!rd) {
            selftest_fail(t, "no memory for an 8 MiB RAM disk");
            return NULL;
        }
        int r = blk_register(&rd->dev);
        if (r < 0) {
            selftest_fail(t, "blk_register(ram2) = %d", r);
            return NULL;
        }
    }
    rd->fail_sector = UINT64_MAX;
    int r = bcache_sync(&rd->dev);
    if (r < 0) {
        selftest_fail(t, "bcache_sync(ram2) = %d before the test", r);
        return NULL;
    }
    bcache_invalidate(&rd->dev);
    /* Each test starts from a zeroed disk, also when the group runs again. */
    for (uint64_t i = 0; i < rd->npages; i++) memset(rd->pages[i], 0, PAGE_SIZE);
    rd->reads = rd->writes = rd->flushes = rd->failures = 0;
    return rd;
}

/* Fills a block's worth of the disk (not through the cache) with a byte. */
static void ram_fill_block(struct ram_disk *rd, uint64_t block, uint8_t value) {
    memset(rd->pages[block * BCACHE_BLOCK / PAGE_SIZE], value, BCACHE_BLOCK);
}
static const uint8_t *ram_block(struct ram_disk *rd, uint64_t block) {
    return rd->pages[block * BCACHE_BLOCK / PAGE_SIZE];
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return false;
    return true;
}

SELFTEST(bcache, get_reads_the_device) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    ram_fill_block(rd, 3, 0x3c);
    int err = 0;
    struct bcache_buf *b = bcache_get(&rd->dev, 3, &err);
    ST_ASSERT(t, b, "bcache_get failed: %d", err);
    bool ok = b->dev == &rd->dev && b->block == 3 && b->valid && !b->dirty && b->refs == 1 &&
              all_bytes(b->data, BCACHE_BLOCK, 0x3c);
    bcache_put(b);
    ST_ASSERT(t, ok, "the block does not hold the device's bytes (or its fields are wrong)");
    ST_ASSERT(t, rd->reads == 1, "%llu device reads for one block", (unsigned long long)rd->reads);
}

SELFTEST(bcache, second_get_is_a_hit) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    struct bcache_stats before, after;
    int err = 0;
    struct bcache_buf *a = bcache_get(&rd->dev, 5, &err);
    ST_ASSERT(t, a, "first get failed: %d", err);
    bcache_put(a);
    bcache_get_stats(&before);
    struct bcache_buf *b = bcache_get(&rd->dev, 5, &err);
    ST_ASSERT(t, b, "second get failed: %d", err);
    bcache_put(b);
    bcache_get_stats(&after);
    ST_ASSERT(t, a == b, "the second get returned another buffer");
    ST_ASSERT(t, rd->reads == 1, "the device was read %llu times", (unsigned long long)rd->reads);
    ST_ASSERT(t, after.hits == before.hits + 1 && after.misses == before.misses,
              "hits %llu -> %llu, misses %llu -> %llu", (unsigned long long)before.hits,
              (unsigned long long)after.hits, (unsigned long long)before.misses, (unsigned long long)after.misses);
}

SELFTEST(bcache, sync_writes_exactly_the_dirty_blocks) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    /* Load blocks 10-13; modify 13 and 11 (in that order); sync. */
    struct bcache_buf *b[4];
    for (int i = 0; i < 4; i++) {
        int err = 0;
        b[i] = bcache_get(&rd->dev, 10 + (uint64_t)i, &err);
        if (!b[i]) {
            for (int j = 0; j < i; j++) bcache_put(b[j]);
            ST_ASSERT(t, false, "get of block %d failed: %d", 10 + i, err);
        }
    }
    memset(b[3]->data, 0xd3, BCACHE_BLOCK);
    bcache_mark_dirty(b[3]);
    memset(b[1]->data, 0xd1, BCACHE_BLOCK);
    bcache_mark_dirty(b[1]);
    memset(b[2]->data, 0xee, 16); /* changed but never marked: must not be written */
    struct bcache_stats mid;
    bcache_get_stats(&mid);
    for (int i = 0; i < 4; i++) bcache_put(b[i]);
    ST_ASSERT(t, rd->writes == 0, "writes before sync: %llu", (unsigned long long)rd->writes);
    ST_ASSERT(t, mid.dirty >= 2, "stats show %llu dirty blocks", (unsigned long long)mid.dirty);
    int r = bcache_sync(&rd->dev);
    ST_ASSERT(t, r == 0, "bcache_sync = %d", r);
    ST_ASSERT(t, rd->writes == 2, "%llu write requests, expected 2", (unsigned long long)rd->writes);
    ST_ASSERT(t, rd->write_lba[0] == 11 * SPB && rd->write_lba[1] == 13 * SPB,
              "writes at sectors %llu, %llu; expected %u, %u (block order)", (unsigned long long)rd->write_lba[0],
              (unsigned long long)rd->write_lba[1], 11 * SPB, 13 * SPB);
    ST_ASSERT(t, rd->write_count[0] == SPB && rd->write_count[1] == SPB, "write sizes %u, %u sectors",
              rd->write_count[0], rd->write_count[1]);
    ST_ASSERT(t, rd->flushes == 1, "%llu flushes after sync", (unsigned long long)rd->flushes);
    ST_ASSERT(t, all_bytes(ram_block(rd, 11), BCACHE_BLOCK, 0xd1) && all_bytes(ram_block(rd, 13), BCACHE_BLOCK, 0xd3),
              "the device does not hold the modified data");
    ST_ASSERT(t, all_bytes(ram_block(rd, 12), 16, 0), "a block never marked dirty reached the device");
    /* Nothing dirty is left: a second sync writes nothing. */
    r = bcache_sync(&rd->dev);
    ST_ASSERT(t, r == 0 && rd->writes == 2, "second sync: %d, %llu writes", r, (unsigned long long)rd->writes);
}

SELFTEST(bcache, invalidate_then_get_reads_again) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    int err = 0;
    struct bcache_buf *b = bcache_get(&rd->dev, 20, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    bcache_put(b);
    /* Change the disk behind the cache: the cached copy is still served... */
    ram_fill_block(rd, 20, 0x77);
    b = bcache_get(&rd->dev, 20, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    bool stale = all_bytes(b->data, BCACHE_BLOCK, 0);
    bcache_put(b);
    ST_ASSERT(t, stale && rd->reads == 1, "a cached block was read again (%llu reads)", (unsigned long long)rd->reads);
    /* ...until sync + invalidate drop it. */
    ST_ASSERT(t, bcache_sync(&rd->dev) == 0, "sync failed");
    bcache_invalidate(&rd->dev);
    b = bcache_get(&rd->dev, 20, &err);
    ST_ASSERT(t, b, "get after invalidate failed: %d", err);
    bool fresh = all_bytes(b->data, BCACHE_BLOCK, 0x77);
    bcache_put(b);
    ST_ASSERT(t, fresh, "get after invalidate returned the old data");
    ST_ASSERT(t, rd->reads == 2, "%llu device reads, expected 2", (unsigned long long)rd->reads);
    /* A dirty block survives invalidate. */
    b = bcache_get(&rd->dev, 21, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    b->data[0] = 0x42;
    bcache_mark_dirty(b);
    bcache_put(b);
    bcache_invalidate(&rd->dev);
    b = bcache_get(&rd->dev, 21, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    bool kept = b->data[0] == 0x42;
    bcache_put(b);
    ST_ASSERT(t, kept, "invalidate dropped a dirty block");
    ST_ASSERT(t, bcache_sync(&rd->dev) == 0 && ram_block(rd, 21)[0] == 0x42, "the dirty block was not written by sync");
}

SELFTEST_TIMEOUT(bcache, eviction_writes_dirty_blocks_back, 30000) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    int err = 0;
    struct bcache_buf *b = bcache_get(&rd->dev, 100, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    memset(b->data, 0x5e, BCACHE_BLOCK);
    bcache_mark_dirty(b);
    bcache_put(b);
    struct bcache_stats before, after;
    bcache_get_stats(&before);
    /* Touch more blocks than the cache holds: block 100 becomes the least recently used. */
    for (uint64_t blk = 200; blk < 200 + 1100; blk++) {
        struct bcache_buf *x = bcache_get(&rd->dev, blk, &err);
        ST_ASSERT(t, x, "get of block %llu failed: %d", (unsigned long long)blk, err);
        bcache_put(x);
    }
    bcache_get_stats(&after);
    ST_ASSERT(t, after.blocks <= 1024, "the cache holds %llu blocks, above its limit", (unsigned long long)after.blocks);
    ST_ASSERT(t, after.evictions >= before.evictions + 1100 - 1024, "only %llu evictions",
              (unsigned long long)(after.evictions - before.evictions));
    ST_ASSERT(t, all_bytes(ram_block(rd, 100), BCACHE_BLOCK, 0x5e), "the evicted dirty block was not written back");
    ST_ASSERT(t, rd->writes == 1 && rd->write_lba[0] == 100 * SPB, "%llu writes (first at %llu)",
              (unsigned long long)rd->writes, (unsigned long long)rd->write_lba[0]);
    ST_ASSERT(t, after.writebacks >= before.writebacks + 1, "write-backs did not grow");
    /* Block 100 is gone from the cache: the next get reads the device. */
    uint64_t reads = rd->reads;
    b = bcache_get(&rd->dev, 100, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    bool same = all_bytes(b->data, BCACHE_BLOCK, 0x5e);
    bcache_put(b);
    ST_ASSERT(t, rd->reads == reads + 1, "block 100 was still cached");
    ST_ASSERT(t, same, "block 100 read back wrong");
}

SELFTEST_TIMEOUT(bcache, full_of_referenced_blocks_refuses, 30000) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    enum { HOLD = 1024 };
    struct bcache_buf **held = kmalloc(sizeof(*held) * HOLD);
    ST_ASSERT(t, held, "no memory");
    int n = 0, err = 0;
    for (; n < HOLD; n++) {
        held[n] = bcache_get(&rd->dev, (uint64_t)n, &err);
        if (!held[n]) break;
    }
    struct bcache_buf *extra = n == HOLD ? bcache_get(&rd->dev, 1500, &err) : NULL;
    int extra_err = err;
    for (int i = 0; i < n; i++) bcache_put(held[i]);
    if (extra) bcache_put(extra);
    kfree(held);
    ST_ASSERT(t, n == HOLD, "get %d of %d failed: %d", n, HOLD, err);
    ST_ASSERT(t, !extra && extra_err == -KENOMEM, "a get beyond the limit gave %p, error %d", (void *)extra, extra_err);
    /* After the puts the cache works again. */
    struct bcache_buf *b = bcache_get(&rd->dev, 1500, &err);
    ST_ASSERT(t, b, "get after releasing failed: %d", err);
    bcache_put(b);
}

SELFTEST(bcache, device_errors_propagate) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    /* A read error: the get fails with the device's error after the block layer's retries,
     * and nothing is cached. */
    rd->fail_sector = 30 * SPB + 3;
    int err = 0;
    struct bcache_buf *b = bcache_get(&rd->dev, 30, &err);
    if (b) bcache_put(b);
    ST_ASSERT(t, !b && err == -KEIO, "get of a failing block gave %p, error %d", (void *)b, err);
    ST_ASSERT(t, rd->failures == 1 + BLK_RETRIES, "%llu attempts, expected %d", (unsigned long long)rd->failures,
              1 + BLK_RETRIES);
    rd->fail_sector = UINT64_MAX;
    b = bcache_get(&rd->dev, 30, &err);
    ST_ASSERT(t, b, "get after the error cleared failed: %d", err);
    bcache_put(b);
    /* A write-back error: sync reports it and the block stays dirty until a sync succeeds. */
    b = bcache_get(&rd->dev, 31, &err);
    ST_ASSERT(t, b, "get failed: %d", err);
    memset(b->data, 0x31, BCACHE_BLOCK);
    bcache_mark_dirty(b);
    bcache_put(b);
    rd->fail_sector = 31 * SPB;
    int r = bcache_sync(&rd->dev);
    struct bcache_stats s;
    bcache_get_stats(&s);
    rd->fail_sector = UINT64_MAX;
    ST_ASSERT(t, r == -KEIO, "sync over a failing sector returned %d", r);
    ST_ASSERT(t, s.dirty >= 1 && b->dirty, "the block is no longer dirty after a failed write");
    r = bcache_sync(&rd->dev);
    ST_ASSERT(t, r == 0, "second sync returned %d", r);
    ST_ASSERT(t, all_bytes(ram_block(rd, 31), BCACHE_BLOCK, 0x31), "the data did not reach the device");
    /* Out of range: the last whole block works, the one after it is refused. */
    uint64_t last = rd->dev.sectors / SPB - 1;
    b = bcache_get(&rd->dev, last, &err);
    ST_ASSERT(t, b, "get of the last block failed: %d", err);
    bcache_put(b);
    b = bcache_get(&rd->dev, last + 1, &err);
    ST_ASSERT(t, !b && err == -KEINVAL, "get past the end gave error %d", err);
}

/* Sequential misses read ahead (one request for up to 16 blocks), random ones do not, and a
 * failing block inside the read-ahead range never fails the block that was asked for. */
SELFTEST(bcache, sequential_misses_read_ahead) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    int err = 0;
    bcache_invalidate(&rd->dev);
    for (uint64_t blk = 1500; blk < 1540; blk++) rd->pages[blk * BCACHE_BLOCK / PAGE_SIZE][0] = (uint8_t)blk;
    uint64_t reads = rd->reads;
    bool data_ok = true;
    for (uint64_t blk = 1500; blk < 1540; blk++) {
        struct bcache_buf *b = bcache_get(&rd->dev, blk, &err);
        ST_ASSERT(t, b, "get of block %llu failed: %d", (unsigned long long)blk, err);
        data_ok &= b->data[0] == (uint8_t)blk && b->block == blk;
        bcache_put(b);
    }
    ST_ASSERT(t, data_ok, "a block read ahead holds another block's data");
    ST_ASSERT(t, rd->reads - reads == 4, "40 sequential blocks took %llu requests, expected 1 + 16 + 16 + 7",
              (unsigned long long)(rd->reads - reads));
    reads = rd->reads;
    for (uint64_t blk = 1600; blk < 1700; blk += 10) {     /* no block follows a cached one */
        struct bcache_buf *b = bcache_get(&rd->dev, blk, &err);
        ST_ASSERT(t, b, "get of block %llu failed: %d", (unsigned long long)blk, err);
        bcache_put(b);
    }
    ST_ASSERT(t, rd->reads - reads == 10, "10 scattered blocks took %llu requests", (unsigned long long)(rd->reads - reads));
    /* Block 1701 follows cached 1700; block 1705 fails: 1701 must still be read. */
    struct bcache_buf *b = bcache_get(&rd->dev, 1700, &err);
    ST_ASSERT(t, b, "get of block 1700 failed: %d", err);
    bcache_put(b);
    rd->fail_sector = 1705 * SPB;
    b = bcache_get(&rd->dev, 1701, &err);
    rd->fail_sector = UINT64_MAX;
    ST_ASSERT(t, b && b->block == 1701, "a bad block in the read-ahead range failed the wanted one: %d", err);
    bcache_put(b);
}

/* ---- several tasks at once ---- */

#define WORKERS 4
#define WORKER_BLOCKS 16     /* worker w owns blocks w, w + WORKERS, ... */
#define SHARED_FIRST 64      /* blocks 64-127: read by everyone, never written */
#define SHARED_COUNT 64
#define WORKER_ROUNDS 300

struct worker {
    struct ram_disk *rd;
    int id;
    uint32_t increments[WORKER_BLOCKS];
    char error[96];
};

static uint8_t shared_byte(uint64_t block) { return (uint8_t)(0x80 | block); }

/* Bumps a counter in its own blocks (byte 4.. = the counter's low byte everywhere), reads
 * the shared blocks and syncs now and then, so gets, puts, sync and eviction interleave. */
static int64_t cache_worker(void *arg) {
    struct worker *w = arg;
    uint64_t rng = 0x2545f4914f6cdd1dull * (uint64_t)(w->id + 1);
    for (int round = 0; round < WORKER_ROUNDS; round++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int slot = (int)(rng % WORKER_BLOCKS);
        uint64_t block = (uint64_t)w->id + (uint64_t)slot * WORKERS;
        int err = 0;
        struct bcache_buf *b = bcache_get(&w->rd->dev, block, &err);
        if (!b) {
            ksnprintf(w->error, sizeof w->error, "get of block %llu: %d", (unsigned long long)block, err);
            return -1;
        }
        uint32_t count;
        memcpy(&count, b->data, 4);
        if (count != w->increments[slot]) {
            ksnprintf(w->error, sizeof w->error, "block %llu holds count %u, expected %u", (unsigned long long)block,
                      count, w->increments[slot]);
            bcache_put(b);
            return -1;
        }
        count++;
        memcpy(b->data, &count, 4);
        memset(b->data + 4, (uint8_t)count, BCACHE_BLOCK - 4);
        bcache_mark_dirty(b);
        bcache_put(b);
        w->increments[slot]++;

        uint64_t shared = SHARED_FIRST + (rng >> 20) % SHARED_COUNT;
        b = bcache_get(&w->rd->dev, shared, &err);
        if (!b) {
            ksnprintf(w->error, sizeof w->error, "get of shared block %llu: %d", (unsigned long long)shared, err);
            return -1;
        }
        bool ok = all_bytes(b->data, BCACHE_BLOCK, shared_byte(shared));
        bcache_put(b);
        if (!ok) {
            ksnprintf(w->error, sizeof w->error, "shared block %llu is wrong", (unsigned long long)shared);
            return -1;
        }
        if (round % 64 == 63 && (err = bcache_sync(&w->rd->dev)) < 0) {
            ksnprintf(w->error, sizeof w->error, "sync: %d", err);
            return -1;
        }
        if (round % 8 == 0) task_yield();
    }
    return 0;
}

/* Walks many other blocks so the cache evicts (and writes back) while the workers run. */
static int64_t cache_walker(void *arg) {
    struct worker *w = arg;
    for (uint64_t block = 256; block < 256 + 1400; block++) {
        int err = 0;
        struct bcache_buf *b = bcache_get(&w->rd->dev, block, &err);
        if (!b) {
            ksnprintf(w->error, sizeof w->error, "walker get of block %llu: %d", (unsigned long long)block, err);
            return -1;
        }
        bcache_put(b);
        if (block % 16 == 0) task_yield();
    }
    return 0;
}

SELFTEST_TIMEOUT(bcache, concurrent_tasks_stay_consistent, 60000) {
    struct ram_disk *rd = cache_disk(t);
    if (!rd) return;
    for (uint64_t b = 0; b < SHARED_FIRST; b++) ram_fill_block(rd, b, 0);
    for (uint64_t b = SHARED_FIRST; b < SHARED_FIRST + SHARED_COUNT; b++) ram_fill_block(rd, b, shared_byte(b));
    struct worker *w = kzalloc(sizeof(*w) * (WORKERS + 1));
    ST_ASSERT(t, w, "no memory");
    tid_t ids[WORKERS + 1];
    int started = 0;
    for (int i = 0; i <= WORKERS; i++) {
        w[i].rd = rd;
        w[i].id = i;
        ids[i] = task_create(i < WORKERS ? "bcache-worker" : "bcache-walker", i < WORKERS ? cache_worker : cache_walker,
                             &w[i], PRIO_NORMAL);
        if (ids[i] < 0) break;
        started++;
    }
    for (int i = 0; i < started; i++) task_join(ids[i], NULL);
    int r = bcache_sync(&rd->dev);
    char failure[128] = "";
    if (started != WORKERS + 1) ksnprintf(failure, sizeof failure, "could only start %d tasks", started);
    for (int i = 0; i <= WORKERS && !failure[0]; i++)
        if (w[i].error[0]) ksnprintf(failure, sizeof failure, "task %d: %s", i, w[i].error);
    if (!failure[0] && r < 0) ksnprintf(failure, sizeof failure, "final sync: %d", r);
    /* The device holds every worker's last count in each of its blocks. */
    for (int i = 0; i < WORKERS && !failure[0]; i++)
        for (int slot = 0; slot < WORKER_BLOCKS && !failure[0]; slot++) {
            uint64_t block = (uint64_t)i + (uint64_t)slot * WORKERS;
            const uint8_t *d = ram_block(rd, block);
            uint32_t count;
            memcpy(&count, d, 4);
            if (count != w[i].increments[slot] || (count && !all_bytes(d + 4, BCACHE_BLOCK - 4, (uint8_t)count)))
                ksnprintf(failure, sizeof failure, "block %llu on the device: count %u, expected %u",
                          (unsigned long long)block, count, w[i].increments[slot]);
        }
    kfree(w);
    ST_ASSERT(t, !failure[0], "%s", failure);
    ST_ASSERT(t, rd->writes > 0 && rd->flushes > 0, "no writes or flushes reached the device");
}

/* ---- partition devices ---- */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint8_t *ram_sector(struct ram_disk *rd, uint64_t lba) {
    return rd->pages[lba * RAM_SECTOR / PAGE_SIZE] + lba * RAM_SECTOR % PAGE_SIZE;
}

static void mbr_record(uint8_t *mbr, int slot, uint8_t type, uint32_t start, uint32_t sectors) {
    uint8_t *r = mbr + 446 + 16 * slot;
    r[4] = type;
    put_le32(r + 8, start);
    put_le32(r + 12, sectors);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
}

struct test_part { uint64_t start, sectors; const char *name; };

/* Writes a protective MBR and both GPT copies (UEFI 2.10 §5.3) with 128 entries. */
static void write_gpt(struct ram_disk *rd, const struct test_part *parts, int n) {
    uint64_t last = rd->dev.sectors - 1;
    const uint32_t entries = 128, entry_size = 128, array_sectors = entries * entry_size / RAM_SECTOR;
    mbr_record(ram_sector(rd, 0), 0, 0xee, 1, (uint32_t)last);
    static uint8_t table[128 * 128]; /* the entry array, copied to both places below */
    memset(table, 0, sizeof table);
    for (int i = 0; i < n; i++) {
        uint8_t *e = table + i * entry_size;
        memset(e, 0xa0 + i, 16);      /* type GUID */
        memset(e + 16, 0x50 + i, 16); /* unique GUID */
        put_le64(e + 32, parts[i].start);
        put_le64(e + 40, parts[i].start + parts[i].sectors - 1);
        for (int c = 0; parts[i].name[c] && c < 36; c++) e[56 + 2 * c] = (uint8_t)parts[i].name[c];
    }
    uint32_t array_crc = crc32_ieee(table, sizeof table, 0);
    for (int copy = 0; copy < 2; copy++) {
        uint64_t header_lba = copy ? last : 1, array_lba = copy ? last - array_sectors : 2;
        for (uint32_t s = 0; s < array_sectors; s++)
            memcpy(ram_sector(rd, array_lba + s), table + s * RAM_SECTOR, RAM_SECTOR);
        uint8_t *h = ram_sector(rd, header_lba);
        memset(h, 0, RAM_SECTOR);
        memcpy(h, "EFI PART", 8);
        put_le32(h + 8, 0x00010000);
        put_le32(h + 12, 92);
        put_le64(h + 24, header_lba);
        put_le64(h + 32, copy ? 1 : last);
        put_le64(h + 40, 2 + array_sectors);
        put_le64(h + 48, last - 1 - array_sectors);
        memset(h + 56, 0x33, 16);
        put_le64(h + 72, array_lba);
        put_le32(h + 80, entries);
        put_le32(h + 84, entry_size);
        put_le32(h + 88, array_crc);
        put_le32(h + 16, crc32_ieee(h, 92, 0));
    }
}

/* Finds or creates + registers a RAM disk whose table is written by write_table. */
static struct ram_disk *table_disk(struct selftest_ctx *t, const char *name, void (*write_table)(struct ram_disk *)) {
    struct ram_disk *rd = ram_find(name);
    if (rd) return rd;
    rd = ram_create(name, 2);
    if (!rd) {
        selftest_fail(t, "no memory for a RAM disk");
        return NULL;
    }
    write_table(rd);
    int r = blk_register(&rd->dev);
    if (r < 0) {
        selftest_fail(t, "blk_register(%s) = %d", name, r);
        return NULL;
    }
    return rd;
}

static const struct test_part gpt_layout[] = {
    {40, 960, "boot"},
    {1024, 2048, "root"},
    {3072, 960, "spare part"},
};
static const struct test_part mbr_layout[] = {
    {63, 1985, ""},
    {2048, 2048, ""},
};

static void write_gpt_table(struct ram_disk *rd) { write_gpt(rd, gpt_layout, 3); }
static void write_mbr_table(struct ram_disk *rd) {
    mbr_record(ram_sector(rd, 0), 0, 0x0c, (uint32_t)mbr_layout[0].start, (uint32_t)mbr_layout[0].sectors);
    mbr_record(ram_sector(rd, 0), 2, 0x83, (uint32_t)mbr_layout[1].start, (uint32_t)mbr_layout[1].sectors);
}

/* Every expected partition exists with its parent, number, start, size and name, and no more. */
static void check_partitions(struct selftest_ctx *t, struct ram_disk *rd, const struct test_part *want, int n) {
    for (int i = 0; i < n; i++) {
        char name[BLK_NAME_MAX];
        ksnprintf(name, sizeof name, "%sp%d", rd->dev.name, i + 1);
        struct blk_device *p = blk_find(name);
        ST_ASSERT(t, p, "%s was not registered", name);
        ST_ASSERT(t, p->parent == &rd->dev && p->partno == i + 1, "%s: wrong parent or number %d", name, p->partno);
        ST_ASSERT(t, p->start == want[i].start && p->sectors == want[i].sectors,
                  "%s: start %llu, %llu sectors; expected %llu, %llu", name, (unsigned long long)p->start,
                  (unsigned long long)p->sectors, (unsigned long long)want[i].start,
                  (unsigned long long)want[i].sectors);
        ST_ASSERT(t, strcmp(p->model, want[i].name) == 0, "%s: name '%s', expected '%s'", name, p->model, want[i].name);
    }
    char extra[BLK_NAME_MAX];
    ksnprintf(extra, sizeof extra, "%sp%d", rd->dev.name, n + 1);
    ST_ASSERT(t, !blk_find(extra), "an unexpected %s exists", extra);
}

SELFTEST(bcache, gpt_partitions_registered) {
    struct ram_disk *rd = table_disk(t, "ram0", write_gpt_table);
    if (!rd) return;
    check_partitions(t, rd, gpt_layout, 3);
}

SELFTEST(bcache, mbr_partitions_registered) {
    struct ram_disk *rd = table_disk(t, "ram1", write_mbr_table);
    if (!rd) return;
    check_partitions(t, rd, mbr_layout, 2);
}

SELFTEST(bcache, partition_io_through_the_cache) {
    struct ram_disk *rd = table_disk(t, "ram0", write_gpt_table);
    if (!rd) return;
    struct blk_device *p2 = blk_find("ram0p2");
    ST_ASSERT(t, p2, "ram0p2 missing");
    /* Block 1 of ram0p2 is sectors 1024 + 8 .. 1024 + 15 of ram0. */
    int err = 0;
    struct bcache_buf *b = bcache_get(p2, 1, &err);
    ST_ASSERT(t, b, "get on the partition failed: %d", err);
    for (int i = 0; i < BCACHE_BLOCK; i++) b->data[i] = (uint8_t)(i * 7 + 1);
    bcache_mark_dirty(b);
    bcache_put(b);
    int r = bcache_sync(p2);
    ST_ASSERT(t, r == 0, "sync of the partition = %d", r);
    const uint8_t *disk = ram_sector(rd, 1024 + SPB);
    for (int i = 0; i < BCACHE_BLOCK; i++)
        ST_ASSERT(t, disk[i] == (uint8_t)(i * 7 + 1), "byte %d of the block landed wrong on ram0", i);
    ST_ASSERT(t, all_bytes(ram_sector(rd, 1024 + SPB - 1), RAM_SECTOR, 0), "the sector before the block changed");
    /* The partition ends where the table says: its last whole block is refused after it. */
    b = bcache_get(p2, p2->sectors / SPB, &err);
    ST_ASSERT(t, !b && err == -KEINVAL, "a block past the partition's end gave error %d", err);
}
