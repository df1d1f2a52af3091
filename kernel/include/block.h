/* block.h: the block layer (kernel/block/block.c, partition.c, bcache.c).
 *
 * Every storage driver (virtio-blk, AHCI, NVMe, ...) fills a struct blk_device and
 * implements one function, submit(): start a request and return; the device interrupt later
 * calls blk_complete(req, status). The block layer does everything else: names and the
 * registry (lsblk), bounds and alignment checks, splitting large requests to the driver's
 * limit, sleeping on completion (no busy polling), a timeout with driver reset, bounded
 * retries on -EIO, statistics, and MBR/GPT partitions as block devices of their own.
 *
 * Buffers may live anywhere in kernel memory (heap, direct map, a task stack): drivers turn
 * them into physical segments with blk_dma_segments(). */
#pragma once
#include "types.h"
#include "wait.h"

#define BLK_NAME_MAX 16
#define BLK_TIMEOUT_NS 5000000000ull  /* a request not completed by then is reported */
#define BLK_RETRIES 2                  /* extra attempts after -EIO */

enum blk_op { BLK_OP_READ = 0, BLK_OP_WRITE = 1, BLK_OP_FLUSH = 2 };

struct blk_request {
    uint8_t op;              /* enum blk_op */
    uint64_t lba;            /* first sector, on the device the driver registered */
    uint32_t count;          /* sectors (0 for a flush) */
    void *buf;               /* count * sector_size bytes */
    volatile int status;     /* 0 or -errno, set by blk_complete */
    volatile bool done;
    struct wait_queue *waiters;
    void *driver_priv;       /* for the driver's use (slot, command id, ...) */
    struct blk_request *next;/* for the driver's queues */
};

struct blk_device;

struct blk_driver_ops {
    /* Starts req (task context; may sleep briefly for a free slot). Returns 0 when the
     * request is in flight (blk_complete follows, normally from the interrupt handler), or
     * -errno when it could not be started. */
    int (*submit)(struct blk_device *dev, struct blk_request *req);
    /* Optional: called after a request timed out. Must abort every request in flight (each
     * gets blk_complete(-KEIO) or is forgotten) and bring the device back to a usable state;
     * after it returns, the driver never touches those requests again. */
    void (*reset)(struct blk_device *dev);
};

struct blk_stats {
    uint64_t reads, writes, flushes;         /* requests completed */
    uint64_t sectors_read, sectors_written;
    uint64_t errors, timeouts, retries;
};

struct blk_device {
    char name[BLK_NAME_MAX];   /* "vda", "sda", "nvme0n1", partitions "vda1", "nvme0n1p2" */
    char model[48];            /* for lsblk */
    const char *driver;        /* "virtio-blk", "ahci", "nvme", "partition" */
    uint32_t sector_size;      /* bytes, a power of two >= 512 */
    uint64_t sectors;          /* capacity */
    uint32_t max_sectors;      /* largest request the driver takes (the layer splits) */
    bool read_only;
    const struct blk_driver_ops *ops;
    void *priv;
    volatile uint64_t interrupts; /* completions the driver received by interrupt */
    uint64_t timeout_ns;       /* how long a request may take; 0 = BLK_TIMEOUT_NS */
    struct blk_device *parent; /* partitions: the whole disk */
    uint64_t start;            /* partitions: first sector on the parent */
    int partno;                /* partitions: 1.. */
    struct blk_stats stats;
    struct blk_device *next;   /* registry */
};

/* Adds a device (its name must be unique), then looks for an MBR/GPT partition table on it
 * and registers the partitions. Returns 0 or -KEEXIST/-KEINVAL. */
int blk_register(struct blk_device *dev);
/* Looks a device up by name; NULL if absent. */
struct blk_device *blk_find(const char *name);
/* Calls fn for each registered device, whole disks before their partitions. */
void blk_for_each(void (*fn)(struct blk_device *dev, void *ctx), void *ctx);
/* Synchronous I/O in sectors. -KEINVAL when lba + count runs past the end or count is 0,
 * -KEROFS for a write to a read-only device, -KEIO after the retries, -KETIMEDOUT when the
 * device never answered (it is reset and reported). Sleeps; task context only. A killed
 * caller still waits (bounded) for a request in flight, since the device may write its
 * buffer; it does not reset a device other tasks are using. */
int blk_read(struct blk_device *dev, uint64_t lba, uint32_t count, void *buf);
int blk_write(struct blk_device *dev, uint64_t lba, uint32_t count, const void *buf);
int blk_flush(struct blk_device *dev);
/* Byte-granular checks used by callers with byte offsets: -KEINVAL unless offset and length
 * are multiples of the sector size and inside the device. */
int blk_check_range(const struct blk_device *dev, uint64_t offset, uint64_t length);
/* Driver side: the request finished with status (0 or -errno). Safe from interrupt handlers.
 * The request may be gone as soon as this returns: the driver must not touch it afterwards. */
void blk_complete(struct blk_request *req, int status);

/* DMA help for drivers: splits [buf, buf + len) into physically contiguous segments (at most
 * max), each not crossing a page boundary unless physically contiguous. Returns the count, or
 * -KEINVAL if the memory is not mapped or there are more than max segments. */
struct dma_seg { phys_addr_t addr; uint32_t len; };
int blk_dma_segments(const void *buf, size_t len, struct dma_seg *segs, int max);

/* Partition tables (partition.c), pure and host-tested. */
struct part_entry { uint64_t start, sectors; uint8_t mbr_type; char name[37]; };
#define PART_MAX 16
/* Reads the partition table from sector 0 (MBR) and, for a protective MBR, the GPT at sector
 * 1 with its CRC32 checks. read_sector(ctx, lba, buf) reads one sector. Returns the number of
 * partitions (0 when there is no table), or -errno for a corrupt table. disk_sectors bounds
 * every entry. kind_out gets "mbr", "gpt" or "none". */
int part_scan(int (*read_sector)(void *ctx, uint64_t lba, void *buf), void *ctx, uint32_t sector_size,
              uint64_t disk_sectors, struct part_entry *out, int max, const char **kind_out);
uint32_t crc32_ieee(const void *data, size_t len, uint32_t crc);

/* Buffer cache (bcache.c): BCACHE_BLOCK-byte blocks of a device, write-back. */
#define BCACHE_BLOCK 4096
struct bcache_buf {
    struct blk_device *dev;
    uint64_t block;            /* in BCACHE_BLOCK units */
    uint8_t *data;
    bool valid, dirty;
    int refs;
    struct bcache_buf *hash_next, *lru_prev, *lru_next;
};
/* Returns the block, read from the device if not cached, with a reference; NULL + *err. */
struct bcache_buf *bcache_get(struct blk_device *dev, uint64_t block, int *err);
/* Marks it modified: written back at bcache_sync or when evicted. */
void bcache_mark_dirty(struct bcache_buf *b);
void bcache_put(struct bcache_buf *b);
/* Writes every dirty block (of dev, or of all devices when NULL) and flushes the devices.
 * Returns 0 or the first error. */
int bcache_sync(struct blk_device *dev);
/* Drops every clean unreferenced block of dev (after a test writes behind the cache). */
void bcache_invalidate(struct blk_device *dev);
struct bcache_stats { uint64_t hits, misses, readahead, writebacks, evictions, blocks, dirty; };  /* readahead: blocks read beyond a miss */
void bcache_get_stats(struct bcache_stats *out);

/* Starts every storage driver's probe (kmain): virtio-blk, AHCI, NVMe. */
void storage_init(void);
