/* bcache.c: the buffer cache (interface in block.h). It keeps BCACHE_BLOCK-byte blocks of
 * block devices in memory, keyed by (device, block number), write-back: a modified block is
 * written to the device at bcache_sync() or when it is evicted. No specification; the design
 * is the classic Unix buffer cache (hash table for lookup, LRU list for eviction).
 *
 * Locking, for several CPUs:
 * - cache_lock (a spinlock) protects the hash table, the LRU list, every block's refs and
 *   dirty flag and the counters. It is held for a few instructions, never across I/O.
 * - io_lock (a sleeping mutex) serialises everything that sleeps on the device: filling a
 *   block on a miss, writing a victim back before eviction, and bcache_sync(). A cache hit
 *   never waits for it. Two tasks missing on the same block cannot both read and insert it,
 *   because the second one looks again after taking io_lock.
 * - A block being written back is pinned with a reference for the duration; its dirty flag
 *   is cleared before the write, so a bcache_mark_dirty() during the write marks it again
 *   and it is written once more later instead of being lost.
 * The cache does not lock a block's data: tasks sharing one block coordinate themselves (a
 * file system holds its own lock around its metadata).
 *
 * A partition and its whole disk are different devices here: use one view of a disk. */
#include "types.h"
#include "block.h"
#include "kerrno.h"
#include "kstring.h"
#include "printk.h"
#include "mm.h"
#include "sync.h"
#include "spinlock.h"

#define BCACHE_MAX_BLOCKS 1024   /* 4 MiB of data at most */
#define BCACHE_HASH_SIZE 512     /* buckets, a power of two */
#define BCACHE_READAHEAD 16      /* blocks (64 KiB) one sequential miss reads at most */

static spinlock_t cache_lock = SPINLOCK_INIT("bcache");
static struct mutex io_lock = MUTEX_INIT("bcache-io");
static struct bcache_buf *hash_table[BCACHE_HASH_SIZE];
/* LRU list through lru_prev/lru_next: lru_head.lru_next is the most recently used block,
 * lru_head.lru_prev the least recently used one. */
static struct bcache_buf lru_head = {.lru_prev = &lru_head, .lru_next = &lru_head};
static struct bcache_stats stats; /* blocks and dirty are current counts */

static unsigned hash_of(const struct blk_device *dev, uint64_t block) {
    uint64_t h = (block ^ ((uintptr_t)dev >> 4)) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> 40) & (BCACHE_HASH_SIZE - 1);
}

/* ---- list helpers (cache_lock held) ---- */

static struct bcache_buf *hash_lookup(const struct blk_device *dev, uint64_t block) {
    for (struct bcache_buf *b = hash_table[hash_of(dev, block)]; b; b = b->hash_next)
        if (b->dev == dev && b->block == block) return b;
    return NULL;
}

static void hash_insert(struct bcache_buf *b) {
    unsigned h = hash_of(b->dev, b->block);
    b->hash_next = hash_table[h];
    hash_table[h] = b;
}

static void hash_remove(struct bcache_buf *b) {
    struct bcache_buf **pp = &hash_table[hash_of(b->dev, b->block)];
    while (*pp && *pp != b) pp = &(*pp)->hash_next;
    if (*pp) *pp = b->hash_next;
    b->hash_next = NULL;
}

static void lru_unlink(struct bcache_buf *b) {
    b->lru_prev->lru_next = b->lru_next;
    b->lru_next->lru_prev = b->lru_prev;
    b->lru_prev = b->lru_next = NULL;
}

static void lru_push_front(struct bcache_buf *b) {
    b->lru_next = lru_head.lru_next;
    b->lru_prev = &lru_head;
    lru_head.lru_next->lru_prev = b;
    lru_head.lru_next = b;
}

static void set_dirty(struct bcache_buf *b, bool dirty) {
    if (b->dirty == dirty) return;
    b->dirty = dirty;
    if (dirty) stats.dirty++;
    else stats.dirty--;
}

/* ---- device access (io_lock held, cache_lock not held) ---- */

static uint32_t sectors_per_block(const struct blk_device *dev) { return BCACHE_BLOCK / dev->sector_size; }

/* Writes a pinned block back; on failure it is marked dirty again so nothing is lost. */
static int write_back(struct bcache_buf *b) {
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    set_dirty(b, false);
    spin_unlock_irqrestore(&cache_lock, flags);
    uint32_t spb = sectors_per_block(b->dev);
    int r = blk_write(b->dev, b->block * spb, spb, b->data);
    flags = spin_lock_irqsave(&cache_lock);
    if (r < 0) set_dirty(b, true);
    else stats.writebacks++;
    spin_unlock_irqrestore(&cache_lock, flags);
    if (r < 0)
        printk(LOG_ERR, "bcache: writing block %llu of %s back failed (error %d); it stays dirty\n",
               (unsigned long long)b->block, b->dev->name, r);
    return r;
}

/* Takes the least recently used unreferenced block out of the cache (writing it back first
 * when dirty) and returns its buffer for reuse (still counted in stats.blocks), or NULL with
 * *err: -KENOMEM when every block is in use, or the device's error when the write-back
 * failed (that block stays cached and dirty, moved to the front so the next eviction tries
 * another one). */
static struct bcache_buf *evict_one(int *err) {
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    /* Each retry follows a block that was used or dirtied again during its write-back. */
    for (int tries = 0; tries < 8; tries++) {
        struct bcache_buf *b = lru_head.lru_prev;
        while (b != &lru_head && b->refs > 0) b = b->lru_prev;
        if (b == &lru_head) break;
        if (b->dirty) {
            b->refs++; /* pinned while written */
            spin_unlock_irqrestore(&cache_lock, flags);
            int r = write_back(b);
            flags = spin_lock_irqsave(&cache_lock);
            b->refs--;
            if (r < 0) {
                lru_unlink(b);
                lru_push_front(b);
                spin_unlock_irqrestore(&cache_lock, flags);
                *err = r;
                return NULL;
            }
            if (b->refs > 0 || b->dirty) continue;
        }
        hash_remove(b);
        lru_unlink(b);
        stats.evictions++;
        spin_unlock_irqrestore(&cache_lock, flags);
        return b;
    }
    spin_unlock_irqrestore(&cache_lock, flags);
    printk(LOG_WARN, "bcache: all %d blocks are in use; cannot load another\n", BCACHE_MAX_BLOCKS);
    *err = -KENOMEM;
    return NULL;
}

/* A buffer for a new block: fresh while below the limit, else an evicted one. */
static struct bcache_buf *new_buffer(int *err) {
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    bool room = stats.blocks < BCACHE_MAX_BLOCKS;
    if (room) stats.blocks++; /* reserved; io_lock keeps other fillers out */
    spin_unlock_irqrestore(&cache_lock, flags);
    if (!room) return evict_one(err);
    struct bcache_buf *b = kzalloc(sizeof *b);
    uint8_t *data = b ? kmalloc(BCACHE_BLOCK) : NULL;
    if (!data) {
        kfree(b);
        flags = spin_lock_irqsave(&cache_lock);
        stats.blocks--;
        spin_unlock_irqrestore(&cache_lock, flags);
        *err = -KENOMEM;
        return NULL;
    }
    b->data = data;
    return b;
}

static void free_buffer(struct bcache_buf *b) {
    kfree(b->data);
    kfree(b);
}

/* Gives back a buffer from new_buffer that never held a block. */
static void drop_new_buffer(struct bcache_buf *b) {
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    stats.blocks--;
    spin_unlock_irqrestore(&cache_lock, flags);
    free_buffer(b);
}

/* How many blocks a miss on `block` reads (cache_lock held, io_lock held so nobody else
 * inserts): 1, or on sequential access (block - 1 is cached) also the following blocks that
 * are not cached, BCACHE_READAHEAD in all at most, within the device. */
static uint32_t readahead_span(struct blk_device *dev, uint64_t block) {
    if (block == 0 || !hash_lookup(dev, block - 1)) return 1;
    uint64_t end = dev->sectors / sectors_per_block(dev);
    uint32_t n = 1;
    while (n < BCACHE_READAHEAD && block + n < end && !hash_lookup(dev, block + n)) n++;
    return n;
}

/* Reads n consecutive blocks starting at `block` into the buffers in one device request
 * (through a bounce buffer; block by block when that cannot be had). */
static int read_blocks(struct blk_device *dev, uint64_t block, struct bcache_buf **bufs, uint32_t n) {
    uint32_t spb = sectors_per_block(dev);
    uint8_t *bounce = n > 1 ? kmalloc((size_t)n * BCACHE_BLOCK) : NULL;
    if (!bounce) {
        for (uint32_t i = 0; i < n; i++) {
            int r = blk_read(dev, (block + i) * spb, spb, bufs[i]->data);
            if (r < 0) return r;
        }
        return 0;
    }
    int r = blk_read(dev, block * spb, n * spb, bounce);
    for (uint32_t i = 0; r >= 0 && i < n; i++) memcpy(bufs[i]->data, bounce + (size_t)i * BCACHE_BLOCK, BCACHE_BLOCK);
    kfree(bounce);
    return r < 0 ? r : 0;
}

/* ---- the interface ---- */

/* Returns the block with a reference, from the cache or read from the device. */
struct bcache_buf *bcache_get(struct blk_device *dev, uint64_t block, int *err) {
    int dummy;
    if (!err) err = &dummy;
    if (!dev || dev->sector_size > BCACHE_BLOCK || BCACHE_BLOCK % dev->sector_size) {
        *err = -KEINVAL;
        return NULL;
    }
    uint32_t spb = sectors_per_block(dev);
    if (block >= dev->sectors / spb) { /* past the end, or a partial last block */
        *err = -KEINVAL;
        return NULL;
    }
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    struct bcache_buf *b = hash_lookup(dev, block);
    if (b) {
        b->refs++;
        lru_unlink(b);
        lru_push_front(b);
        stats.hits++;
        spin_unlock_irqrestore(&cache_lock, flags);
        return b;
    }
    spin_unlock_irqrestore(&cache_lock, flags);

    int r = mutex_lock(&io_lock);
    if (r < 0) {
        *err = r;
        return NULL;
    }
    /* Another task may have loaded it while this one waited for io_lock. */
    flags = spin_lock_irqsave(&cache_lock);
    b = hash_lookup(dev, block);
    if (b) {
        b->refs++;
        lru_unlink(b);
        lru_push_front(b);
        stats.hits++;
        spin_unlock_irqrestore(&cache_lock, flags);
        mutex_unlock(&io_lock);
        return b;
    }
    stats.misses++;
    uint32_t span = readahead_span(dev, block);
    spin_unlock_irqrestore(&cache_lock, flags);

    struct bcache_buf *fill[BCACHE_READAHEAD];
    uint32_t n = 0;
    int ahead_err = 0;     /* a buffer short for read-ahead only is no error of this get */
    while (n < span && (fill[n] = new_buffer(n ? &ahead_err : err)) != NULL) n++;
    r = n ? read_blocks(dev, block, fill, n) : *err;
    if (r < 0 && n > 1) {   /* a bad block ahead must not fail the requested one */
        while (n > 1) drop_new_buffer(fill[--n]);
        r = read_blocks(dev, block, fill, 1);
    }
    if (r < 0) {
        for (uint32_t i = 0; i < n; i++) drop_new_buffer(fill[i]);
        mutex_unlock(&io_lock);
        *err = r;
        return NULL;
    }
    flags = spin_lock_irqsave(&cache_lock);
    for (uint32_t i = n; i-- > 0;) {     /* the requested block ends up most recently used */
        b = fill[i];
        b->dev = dev;
        b->block = block + i;
        b->valid = true;
        b->dirty = false;
        b->refs = i == 0;
        hash_insert(b);
        lru_push_front(b);
    }
    stats.readahead += n - 1;
    spin_unlock_irqrestore(&cache_lock, flags);
    mutex_unlock(&io_lock);
    return b;
}

/* Marks a block the caller holds as modified. */
void bcache_mark_dirty(struct bcache_buf *b) {
    if (!b) return;
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    set_dirty(b, true);
    spin_unlock_irqrestore(&cache_lock, flags);
}

/* Drops the reference bcache_get gave. */
void bcache_put(struct bcache_buf *b) {
    if (!b) return;
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    bool underflow = b->refs <= 0;
    if (!underflow) b->refs--;
    spin_unlock_irqrestore(&cache_lock, flags);
    if (underflow)
        printk(LOG_ERR, "bcache: put of block %llu of %s without a reference; ignored\n",
               (unsigned long long)b->block, b->dev ? b->dev->name : "?");
}

/* Orders blocks by device, then block number (shell sort: at most BCACHE_MAX_BLOCKS). */
static bool buf_before(const struct bcache_buf *a, const struct bcache_buf *b) {
    if (a->dev != b->dev) return (uintptr_t)a->dev < (uintptr_t)b->dev;
    return a->block < b->block;
}

static void sort_blocks(struct bcache_buf **v, size_t n) {
    for (size_t gap = n / 2; gap > 0; gap /= 2)
        for (size_t i = gap; i < n; i++) {
            struct bcache_buf *x = v[i];
            size_t j = i;
            for (; j >= gap && buf_before(x, v[j - gap]); j -= gap) v[j] = v[j - gap];
            v[j] = x;
        }
}

/* Writes every dirty block of dev (all devices when NULL) in block order, then flushes the
 * devices written to (and dev itself). Returns 0 or the first error. */
int bcache_sync(struct blk_device *dev) {
    int r = mutex_lock(&io_lock);
    if (r < 0) return r;
    struct bcache_buf **list = kmalloc(sizeof(*list) * BCACHE_MAX_BLOCKS);
    if (!list) {
        mutex_unlock(&io_lock);
        return -KENOMEM;
    }
    size_t n = 0;
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    for (struct bcache_buf *b = lru_head.lru_next; b != &lru_head && n < BCACHE_MAX_BLOCKS; b = b->lru_next)
        if (b->dirty && (!dev || b->dev == dev)) {
            b->refs++; /* pinned until written */
            list[n++] = b;
        }
    spin_unlock_irqrestore(&cache_lock, flags);
    sort_blocks(list, n);

    int first_error = 0;
    for (size_t i = 0; i < n; i++) {
        int w = write_back(list[i]);
        if (w < 0 && !first_error) first_error = w;
    }
    /* Flush each device written to once (the list is grouped by device), and dev itself. */
    bool dev_flushed = false;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && list[i]->dev == list[i - 1]->dev) continue;
        int f = blk_flush(list[i]->dev);
        if (f < 0 && !first_error) first_error = f;
        if (list[i]->dev == dev) dev_flushed = true;
    }
    if (dev && !dev_flushed) {
        int f = blk_flush(dev);
        if (f < 0 && !first_error) first_error = f;
    }
    flags = spin_lock_irqsave(&cache_lock);
    for (size_t i = 0; i < n; i++) list[i]->refs--;
    spin_unlock_irqrestore(&cache_lock, flags);
    mutex_unlock(&io_lock);
    kfree(list);
    return first_error;
}

/* Drops every clean, unreferenced block of dev (every device when NULL). */
void bcache_invalidate(struct blk_device *dev) {
    struct bcache_buf *dropped = NULL;
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    for (struct bcache_buf *b = lru_head.lru_next, *next; b != &lru_head; b = next) {
        next = b->lru_next;
        if ((dev && b->dev != dev) || b->dirty || b->refs > 0) continue;
        hash_remove(b);
        lru_unlink(b);
        stats.blocks--;
        b->hash_next = dropped; /* freed below, outside the spinlock */
        dropped = b;
    }
    spin_unlock_irqrestore(&cache_lock, flags);
    while (dropped) {
        struct bcache_buf *next = dropped->hash_next;
        free_buffer(dropped);
        dropped = next;
    }
}

/* Copies the counters (hits, misses, write-backs, evictions) and current sizes. */
void bcache_get_stats(struct bcache_stats *out) {
    uint64_t flags = spin_lock_irqsave(&cache_lock);
    *out = stats;
    spin_unlock_irqrestore(&cache_lock, flags);
}
