/* fat32.h: a FAT32 file-system engine, independent of the VFS.
 * Follows the Microsoft FAT32 File System Specification 1.03 ("fatgen103"): §3 (boot sector and
 * BPB), §4 (FAT entries), §5 (FSInfo), §6 (directory entries, dates and times), §7 (long file
 * names, checksums and 8.3 alias generation).
 *
 * The engine reaches the disk only through struct fat32_dev_ops, so the kernel backs it with the
 * buffer cache and host tests back it with an image in memory. Every call returns 0 (or a byte
 * count) on success and a negative KE* value on failure. A damaged volume makes the one call
 * fail with -KEIO (damage found on disk) or -KEINVAL (bad argument / bad BPB), with a log line;
 * walks are bounded by the cluster count, so a corrupt chain never hangs. The engine is not
 * thread safe: the caller holds one lock per volume around every call. */
#pragma once
#include "types.h"

#define FAT32_MAX_SECTOR 4096
#define FAT32_NAME_MAX 255            /* UTF-16 units in a long name (§7) */
#define FAT32_NAME_UTF8_MAX (FAT32_NAME_MAX * 3 + 1)

#define FAT32_ATTR_READ_ONLY 0x01
#define FAT32_ATTR_HIDDEN 0x02
#define FAT32_ATTR_SYSTEM 0x04
#define FAT32_ATTR_VOLUME_ID 0x08
#define FAT32_ATTR_DIRECTORY 0x10
#define FAT32_ATTR_ARCHIVE 0x20

/* Disk access. Sectors are the volume's bytes-per-sector units; lba 0 is the boot sector.
 * Each callback returns 0 or a negative KE* value. flush may be NULL. */
struct fat32_dev_ops {
    int (*read_sectors)(void *ctx, uint64_t lba, uint32_t count, void *buf);
    int (*write_sectors)(void *ctx, uint64_t lba, uint32_t count, const void *buf);
    int (*flush)(void *ctx);
};

/* A broken-down local time (FAT stores local time, 2-second resolution, years 1980-2107). */
struct fat32_time {
    uint16_t year;
    uint8_t month, day, hour, minute, second;
};
/* Fills *out with the current time; used for creation/modification/access stamps. */
typedef void (*fat32_clock_fn)(void *ctx, struct fat32_time *out);

/* A file or directory: where its short directory entry lives plus a copy of its fields.
 * Obtained from fat32_root, fat32_lookup, fat32_readdir, fat32_create or fat32_mkdir; stays
 * valid until the entry is unlinked or renamed. */
struct fat32_node {
    bool is_root;
    uint8_t attr;
    uint32_t first_cluster;   /* 0 for an empty file */
    uint32_t size;            /* bytes; 0 for directories */
    uint32_t parent_cluster;  /* first cluster of the directory holding the entry */
    uint32_t entry_index;     /* index (32-byte units) of the short entry in that directory */
    uint32_t first_entry_index; /* index of the first LFN entry (== entry_index without LFN) */
    uint16_t cdate, ctime, mdate, mtime, adate;
    /* Cached position in the chain (0/0 = none); trusted only while hint_gen equals the
     * volume's free_gen, so a chain freed through another node never leaves a stale hint. */
    uint32_t hint_index, hint_cluster, hint_gen;
};

struct fat32_volume {
    const struct fat32_dev_ops *ops;
    void *dev_ctx;
    fat32_clock_fn clock;
    void *clock_ctx;
    uint64_t dev_sectors;
    uint32_t bytes_per_sector, sectors_per_cluster, cluster_bytes;
    uint32_t reserved_sectors, num_fats, fat_sectors, active_fat;
    bool fat_mirrored;
    uint32_t first_data_sector, cluster_count, max_cluster, root_cluster;
    uint32_t fsinfo_sector;
    uint32_t free_count, next_free;
    uint32_t free_gen;        /* bumped whenever clusters are freed (invalidates node hints) */
    bool fsinfo_dirty;
    bool mounted;
    /* One-sector caches: directory/data sectors and FAT sectors. */
    uint64_t sec_lba;
    bool sec_valid;
    uint64_t fat_lba;
    bool fat_valid, fat_dirty;
    uint8_t secbuf[FAT32_MAX_SECTOR];
    uint8_t fatbuf[FAT32_MAX_SECTOR];
};

struct fat32_stat {
    uint32_t size;
    uint8_t attr;
    bool is_dir;
    uint32_t first_cluster;
    struct fat32_time ctime, mtime, atime;
};

/* Directory iterator: zero it (or call fat32_dir_open) before the first fat32_readdir. */
struct fat32_dir_iter {
    uint32_t dir_cluster;
    uint32_t next_index;
    uint32_t cluster;   /* cluster holding next_index when known (0 = walk from the start) */
};

/* About 800 bytes: callers in the kernel should not keep several on the stack. */
struct fat32_dirent {
    char name[FAT32_NAME_UTF8_MAX];   /* long name if present, else the 8.3 name; UTF-8 */
    char short_name[13];              /* 8.3 form "NAME.EXT" */
    struct fat32_node node;
};

/* Validates the boot sector, BPB and FSInfo (fatgen103 §3, §5) and fills *vol. The ops work in
 * the volume's logical sectors (BPB bytes per sector, 512-4096); dev_sectors is the device size
 * in those sectors and must hold the BPB's total sector count. clock may be NULL (timestamps
 * then stay at 1980-01-01). Returns -KEINVAL with a log line for a volume
 * that is not a valid FAT32 volume, -KEIO on read errors or a FAT that cannot be read. The free
 * count is recomputed from the FAT so it is always exact. */
int fat32_mount(struct fat32_volume *vol, const struct fat32_dev_ops *ops, void *dev_ctx,
                uint64_t dev_sectors, fat32_clock_fn clock, void *clock_ctx);
/* Writes dirty FAT sectors and FSInfo (free count, next free) and flushes the device. */
int fat32_sync(struct fat32_volume *vol);
/* fat32_sync, then marks the volume unmounted; later calls fail with -KEINVAL. */
int fat32_unmount(struct fat32_volume *vol);
/* Number of free clusters (exact: counted from the FAT at mount, kept up to date since);
 * multiply by vol->cluster_bytes for bytes. */
uint32_t fat32_free_clusters(const struct fat32_volume *vol);

/* The root directory node. */
void fat32_root(struct fat32_volume *vol, struct fat32_node *out);
/* Looks name (UTF-8, one component) up in dir: case-insensitive, against the long name and the
 * 8.3 name. Returns 0, -KENOENT, -KENOTDIR, -KEINVAL (bad name) or -KEIO (damaged directory). */
int fat32_lookup(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                 struct fat32_node *out);
/* Starts iterating dir. Returns -KENOTDIR for a file. */
int fat32_dir_open(struct fat32_volume *vol, const struct fat32_node *dir, struct fat32_dir_iter *it);
/* Next entry (including "." and ".."; volume labels and deleted entries are skipped).
 * Returns 1 with *out filled, 0 at the end, or a negative error. */
int fat32_readdir(struct fat32_volume *vol, struct fat32_dir_iter *it, struct fat32_dirent *out);
/* Size, attributes and decoded times of node. */
void fat32_stat(const struct fat32_node *node, struct fat32_stat *out);

/* Reads up to len bytes at offset off; returns the bytes read (0 at/after end of file). */
int64_t fat32_read(struct fat32_volume *vol, struct fat32_node *node, uint64_t off, void *buf,
                   size_t len);
/* Writes len bytes at off, allocating clusters as needed; a gap between the old end of file and
 * off reads as zeros. All or nothing: -KENOSPC leaves the file and free count unchanged.
 * Updates the size and modification time in the directory entry. Returns len. */
int64_t fat32_write(struct fat32_volume *vol, struct fat32_node *node, uint64_t off,
                    const void *buf, size_t len);
/* Sets the size: shrinking frees clusters, growing appends zeros. */
int fat32_truncate(struct fat32_volume *vol, struct fat32_node *node, uint64_t size);

/* Creates an empty file name in dir (long name + generated 8.3 alias when needed).
 * -KEEXIST if the name exists, -KENOSPC when the directory cannot grow. */
int fat32_create(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                 struct fat32_node *out);
/* Creates a directory with "." and ".." entries. */
int fat32_mkdir(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                struct fat32_node *out);
/* Removes a file (-KEISDIR for a directory) and frees its clusters. */
int fat32_unlink(struct fat32_volume *vol, const struct fat32_node *dir, const char *name);
/* Removes an empty directory (-KENOTEMPTY otherwise, -KENOTDIR for a file). */
int fat32_rmdir(struct fat32_volume *vol, const struct fat32_node *dir, const char *name);
/* Renames/moves old_dir/old_name to new_dir/new_name, replacing an existing file (or empty
 * directory when the source is a directory). Moving a directory below itself is -KEINVAL. */
int fat32_rename(struct fat32_volume *vol, const struct fat32_node *old_dir, const char *old_name,
                 const struct fat32_node *new_dir, const char *new_name);
