/* fat32.c: FAT32 engine, volume and data part: boot sector / BPB validation (fatgen103 §3),
 * FSInfo (§5), FAT entries and cluster chains (§4), file data read/write/truncate.
 * Directory entries and long names are in fat32_dir.c. */
#include "fat32_internal.h"
#include "mm.h"

static int dev_read(struct fat32_volume *vol, uint64_t lba, uint32_t n, void *buf) {
    if (lba + n > vol->dev_sectors && vol->mounted) return -KEIO;
    int rc = vol->ops->read_sectors(vol->dev_ctx, lba, n, buf);
    return rc < 0 ? -KEIO : 0;
}

static int dev_write(struct fat32_volume *vol, uint64_t lba, uint32_t n, const void *buf) {
    if (lba + n > vol->dev_sectors) return -KEIO;
    if (vol->sec_valid && vol->sec_lba >= lba && vol->sec_lba < lba + n) vol->sec_valid = false;
    int rc = vol->ops->write_sectors(vol->dev_ctx, lba, n, buf);
    return rc < 0 ? -KEIO : 0;
}

uint8_t *fat32i_sector(struct fat32_volume *vol, uint64_t lba, int *err) {
    if (vol->sec_valid && vol->sec_lba == lba) return vol->secbuf;
    vol->sec_valid = false;
    int rc = dev_read(vol, lba, 1, vol->secbuf);
    if (rc < 0) { *err = rc; return NULL; }
    vol->sec_lba = lba;
    vol->sec_valid = true;
    return vol->secbuf;
}

int fat32i_sector_write(struct fat32_volume *vol) {
    if (!vol->sec_valid) return -KEIO;
    uint64_t lba = vol->sec_lba;
    int rc = dev_write(vol, lba, 1, vol->secbuf);
    vol->sec_lba = lba;
    vol->sec_valid = rc == 0;
    return rc;
}

uint64_t fat32i_cluster_lba(const struct fat32_volume *vol, uint32_t cl) {
    return vol->first_data_sector + (uint64_t)(cl - 2) * vol->sectors_per_cluster;
}

bool fat32i_cluster_ok(const struct fat32_volume *vol, uint32_t cl) {
    return cl >= 2 && cl <= vol->max_cluster;
}

int fat32i_zero_cluster(struct fat32_volume *vol, uint32_t cl) {
    uint64_t lba = fat32i_cluster_lba(vol, cl);
    vol->sec_valid = false;
    memset(vol->secbuf, 0, vol->bytes_per_sector);
    for (uint32_t i = 0; i < vol->sectors_per_cluster; i++) {
        int rc = dev_write(vol, lba + i, 1, vol->secbuf);
        if (rc < 0) return rc;
    }
    return 0;
}

void fat32i_now(struct fat32_volume *vol, uint16_t *date, uint16_t *time) {
    struct fat32_time t = { 1980, 1, 1, 0, 0, 0 };
    if (vol->clock) vol->clock(vol->clock_ctx, &t);
    if (t.year < 1980) t.year = 1980;
    if (t.year > 2107) t.year = 2107;
    if (t.month < 1 || t.month > 12) t.month = 1;
    if (t.day < 1 || t.day > 31) t.day = 1;
    *date = (uint16_t)(((t.year - 1980) << 9) | (t.month << 5) | t.day);
    *time = (uint16_t)(((t.hour % 24) << 11) | ((t.minute % 60) << 5) | ((t.second % 60) / 2));
}

/* ---- FAT access (§4) ---- */

static int fat_load(struct fat32_volume *vol, uint64_t lba) {
    if (vol->fat_valid && vol->fat_lba == lba) return 0;
    int rc = fat32i_fat_flush(vol);
    if (rc < 0) return rc;
    vol->fat_valid = false;
    rc = dev_read(vol, lba, 1, vol->fatbuf);
    if (rc < 0) return rc;
    vol->fat_lba = lba;
    vol->fat_valid = true;
    return 0;
}

/* Writes the cached FAT sector to every FAT copy (or the active one when mirroring is off). */
int fat32i_fat_flush(struct fat32_volume *vol) {
    if (!vol->fat_valid || !vol->fat_dirty) return 0;
    uint64_t rel = vol->fat_lba - vol->reserved_sectors - (uint64_t)vol->active_fat * vol->fat_sectors;
    for (uint32_t f = 0; f < vol->num_fats; f++) {
        if (!vol->fat_mirrored && f != vol->active_fat) continue;
        uint64_t lba = vol->reserved_sectors + (uint64_t)f * vol->fat_sectors + rel;
        int rc = dev_write(vol, lba, 1, vol->fatbuf);
        if (rc < 0) return rc;
    }
    vol->fat_dirty = false;
    return 0;
}

static int fat_entry_pos(struct fat32_volume *vol, uint32_t cl, uint64_t *lba, uint32_t *off) {
    if (cl > vol->max_cluster) return -KEIO;
    uint64_t byte = (uint64_t)cl * 4;
    *lba = vol->reserved_sectors + (uint64_t)vol->active_fat * vol->fat_sectors +
           byte / vol->bytes_per_sector;
    *off = (uint32_t)(byte % vol->bytes_per_sector);
    return 0;
}

static int fat_get(struct fat32_volume *vol, uint32_t cl, uint32_t *val) {
    uint64_t lba;
    uint32_t off;
    int rc = fat_entry_pos(vol, cl, &lba, &off);
    if (rc == 0) rc = fat_load(vol, lba);
    if (rc < 0) return rc;
    *val = fat_rd32(vol->fatbuf + off) & FAT_MASK;
    return 0;
}

/* Sets entry cl, keeping the upper 4 reserved bits (§4). */
int fat32i_set(struct fat32_volume *vol, uint32_t cl, uint32_t val) {
    uint64_t lba;
    uint32_t off;
    if (!fat32i_cluster_ok(vol, cl)) return -KEIO;
    int rc = fat_entry_pos(vol, cl, &lba, &off);
    if (rc == 0) rc = fat_load(vol, lba);
    if (rc < 0) return rc;
    uint32_t old = fat_rd32(vol->fatbuf + off);
    fat_wr32(vol->fatbuf + off, (old & ~FAT_MASK) | (val & FAT_MASK));
    vol->fat_dirty = true;
    return 0;
}

int fat32i_next(struct fat32_volume *vol, uint32_t cl, uint32_t *next) {
    uint32_t v;
    if (!fat32i_cluster_ok(vol, cl)) {
        printk(LOG_WARN, "fat32: cluster %u out of range\n", cl);
        return -KEIO;
    }
    int rc = fat_get(vol, cl, &v);
    if (rc < 0) return rc;
    if (v >= FAT_EOC) { *next = 0; return 0; }
    if (!fat32i_cluster_ok(vol, v)) {
        printk(LOG_WARN, "fat32: cluster %u links to %s cluster %#x\n", cl,
               v == 0 ? "free" : v == FAT_BAD ? "bad" : "invalid", v);
        return -KEIO;
    }
    *next = v;
    return 0;
}

int fat32i_chain_length(struct fat32_volume *vol, uint32_t first, uint32_t *len, uint32_t *last) {
    uint32_t n = 0, cl = first, prev = 0;
    while (cl != 0) {
        if (++n > vol->cluster_count) {
            printk(LOG_WARN, "fat32: cluster chain from %u loops\n", first);
            return -KEIO;
        }
        prev = cl;
        int rc = fat32i_next(vol, cl, &cl);
        if (rc < 0) return rc;
    }
    *len = n;
    if (last) *last = prev;
    return 0;
}

int fat32i_free_chain(struct fat32_volume *vol, uint32_t first) {
    uint32_t len, cl = first;
    if (first == 0) return 0;
    int rc = fat32i_chain_length(vol, first, &len, NULL);
    if (rc < 0) return rc;
    vol->free_gen++;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t next;
        rc = fat32i_next(vol, cl, &next);
        if (rc == 0) rc = fat32i_set(vol, cl, 0);
        if (rc < 0) return rc;
        vol->free_count++;
        if (cl < vol->next_free) vol->next_free = cl;
        cl = next;
    }
    vol->fsinfo_dirty = true;
    return fat32i_fat_flush(vol);
}

int fat32i_alloc_chain(struct fat32_volume *vol, uint32_t n, uint32_t *first, uint32_t *last) {
    uint32_t head = 0, tail = 0, got = 0;
    uint32_t cl = vol->next_free;
    if (n > vol->free_count) return -KENOSPC;
    for (uint32_t scanned = 0; got < n && scanned < vol->cluster_count; scanned++, cl++) {
        if (!fat32i_cluster_ok(vol, cl)) cl = 2;
        uint32_t v;
        int rc = fat_get(vol, cl, &v);
        if (rc < 0) goto fail_rc;
        if (v != 0) continue;
        rc = fat32i_set(vol, cl, FAT_MASK);
        if (rc == 0 && tail) rc = fat32i_set(vol, tail, cl);
        if (rc < 0) goto fail_rc;
        if (!head) head = cl;
        tail = cl;
        got++;
        vol->free_count--;
        continue;
    fail_rc:
        if (head) fat32i_free_chain(vol, head);
        return rc;
    }
    if (got < n) {
        printk(LOG_WARN, "fat32: free count said %u free, found fewer\n", vol->free_count + got);
        if (head) fat32i_free_chain(vol, head);
        vol->free_count = 0;
        return -KENOSPC;
    }
    vol->next_free = fat32i_cluster_ok(vol, tail + 1) ? tail + 1 : 2;
    vol->fsinfo_dirty = true;
    *first = head;
    if (last) *last = tail;
    return fat32i_fat_flush(vol);
}

/* ---- mount, sync ---- */

static int bad(const char *why) {
    printk(LOG_WARN, "fat32: not a valid FAT32 volume: %s\n", why);
    return -KEINVAL;
}

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

/* Counts the free entries of the active FAT (clusters 2..max_cluster) and finds the first free
 * one. Reads the FAT in requests of up to FAT_SCAN_BYTES: one request per sector made each
 * mount of a 64 MiB volume cost about 15 ms under TCG. Falls back to single sectors (secbuf)
 * when memory is short. */
#define FAT_SCAN_BYTES 32768u
static int count_free_clusters(struct fat32_volume *vol, uint32_t *free, uint32_t *first_free) {
    uint32_t bps = vol->bytes_per_sector, per_sector = bps / 4;
    uint64_t fat_start = vol->reserved_sectors + (uint64_t)vol->active_fat * vol->fat_sectors;
    uint32_t sectors = vol->max_cluster / per_sector + 1;        /* the FAT sectors in use */
    uint8_t *buf = kmalloc(FAT_SCAN_BYTES);
    uint32_t chunk = buf ? FAT_SCAN_BYTES / bps : 1;
    if (!buf) buf = vol->secbuf;
    int rc = 0;
    uint32_t cl = 0;
    for (uint32_t s = 0; s < sectors && rc == 0; s += chunk) {
        uint32_t n = sectors - s < chunk ? sectors - s : chunk;
        rc = dev_read(vol, fat_start + s, n, buf);
        for (uint32_t i = 0; rc == 0 && i < n * per_sector && cl <= vol->max_cluster; i++, cl++) {
            if (cl >= 2 && (fat_rd32(buf + i * 4) & FAT_MASK) == 0) {
                (*free)++;
                if (!*first_free) *first_free = cl;
            }
        }
    }
    if (buf != vol->secbuf) kfree(buf);
    return rc;
}

int fat32_mount(struct fat32_volume *vol, const struct fat32_dev_ops *ops, void *dev_ctx,
                uint64_t dev_sectors, fat32_clock_fn clock, void *clock_ctx) {
    if (!vol || !ops || !ops->read_sectors || !ops->write_sectors) return -KEINVAL;
    memset(vol, 0, sizeof(*vol));
    vol->ops = ops;
    vol->dev_ctx = dev_ctx;
    vol->dev_sectors = dev_sectors;
    vol->clock = clock;
    vol->clock_ctx = clock_ctx;
    if (dev_sectors == 0) return bad("empty device");
    int rc = dev_read(vol, 0, 1, vol->secbuf);
    if (rc < 0) return rc;
    const uint8_t *b = vol->secbuf;
    if (b[510] != 0x55 || b[511] != 0xAA) return bad("no boot signature 55 AA");
    if (b[0] != 0xEB && b[0] != 0xE9) return bad("no jump instruction");
    uint32_t bps = fat_rd16(b + 11), spc = b[13], rsvd = fat_rd16(b + 14), nfats = b[16];
    uint32_t root_ents = fat_rd16(b + 17), tot16 = fat_rd16(b + 19), fatsz16 = fat_rd16(b + 22);
    uint32_t tot32 = fat_rd32(b + 32), fatsz = fat_rd32(b + 36), ext = fat_rd16(b + 40);
    uint32_t fsver = fat_rd16(b + 42), root = fat_rd32(b + 44), fsinfo = fat_rd16(b + 48);
    if (bps < 512 || bps > 4096 || !pow2(bps)) return bad("bytes per sector");
    if (!pow2(spc) || spc > 128) return bad("sectors per cluster");
    if (bps * spc > 65536) return bad("cluster larger than 64 KiB");
    if (rsvd < 2) return bad("reserved sector count");
    if (nfats < 1 || nfats > 2) return bad("FAT count");
    if (root_ents != 0 || fatsz16 != 0) return bad("FAT12/16 fields set");
    /* mkfs.fat puts small totals in the 16-bit field; accept it when the two agree. */
    if (tot16 != 0 && tot32 != 0 && tot16 != tot32) return bad("total sector fields disagree");
    if (tot32 == 0) tot32 = tot16;
    if (fatsz == 0) return bad("FAT size");
    if (fsver != 0) return bad("file system version");
    if (tot32 == 0 || tot32 > dev_sectors) return bad("total sectors exceed the device");
    uint64_t data_start = rsvd + (uint64_t)nfats * fatsz;
    if (data_start >= tot32) return bad("FATs larger than the volume");
    uint64_t clusters = (tot32 - data_start) / spc;
    if (clusters < 1) return bad("no data clusters");
    if (clusters > 0x0FFFFFF5u) return bad("too many clusters");
    if ((uint64_t)fatsz * bps / 4 < clusters + 2) return bad("FAT too small for the clusters");
    if (root < 2 || root > clusters + 1) return bad("root cluster out of range");
    if (fsinfo < 1 || fsinfo >= rsvd) return bad("FSInfo sector");
    vol->bytes_per_sector = bps;
    vol->sectors_per_cluster = spc;
    vol->cluster_bytes = bps * spc;
    vol->reserved_sectors = rsvd;
    vol->num_fats = nfats;
    vol->fat_sectors = fatsz;
    vol->fat_mirrored = !(ext & 0x80);
    vol->active_fat = vol->fat_mirrored ? 0 : (ext & 0x0F);
    if (vol->active_fat >= nfats) return bad("active FAT");
    vol->first_data_sector = (uint32_t)data_start;
    vol->cluster_count = (uint32_t)clusters;
    vol->max_cluster = (uint32_t)clusters + 1;
    vol->root_cluster = root;
    vol->fsinfo_sector = fsinfo;
    vol->dev_sectors = tot32;
    rc = dev_read(vol, fsinfo, 1, vol->secbuf);
    if (rc < 0) return rc;
    if (fat_rd32(b + 0) != 0x41615252 || fat_rd32(b + 484) != 0x61417272 ||
        fat_rd32(b + 508) != 0xAA550000)
        return bad("FSInfo signatures");
    uint32_t hint = fat_rd32(b + 492), fsinfo_free = fat_rd32(b + 488);
    /* Count free clusters from the FAT so the count is exact whatever FSInfo says. */
    uint32_t free = 0, first_free = 0;
    rc = count_free_clusters(vol, &free, &first_free);
    if (rc < 0) return rc;
    uint32_t root_len;
    vol->mounted = true;
    vol->free_count = free;
    vol->next_free = fat32i_cluster_ok(vol, hint) ? hint : (first_free ? first_free : 2);
    rc = fat32i_chain_length(vol, root, &root_len, NULL);
    if (rc < 0) {
        vol->mounted = false;
        printk(LOG_WARN, "fat32: root directory chain is damaged\n");
        return rc;
    }
    if (fsinfo_free != free) vol->fsinfo_dirty = true;
    return 0;
}

int fat32_sync(struct fat32_volume *vol) {
    if (!vol || !vol->mounted) return -KEINVAL;
    int rc = fat32i_fat_flush(vol);
    if (rc < 0) return rc;
    if (vol->fsinfo_dirty) {
        int err = 0;
        uint8_t *s = fat32i_sector(vol, vol->fsinfo_sector, &err);
        if (!s) return err;
        if (fat_rd32(s) != 0x41615252 || fat_rd32(s + 484) != 0x61417272) return -KEIO;
        fat_wr32(s + 488, vol->free_count);
        fat_wr32(s + 492, vol->next_free);
        rc = fat32i_sector_write(vol);
        if (rc < 0) return rc;
        vol->fsinfo_dirty = false;
    }
    if (vol->ops->flush && vol->ops->flush(vol->dev_ctx) < 0) return -KEIO;
    return 0;
}

int fat32_unmount(struct fat32_volume *vol) {
    int rc = fat32_sync(vol);
    if (vol) vol->mounted = false;
    return rc;
}

uint32_t fat32_free_clusters(const struct fat32_volume *vol) { return vol->free_count; }

/* ---- file data ---- */

/* Finds the cluster holding file cluster number idx (bounded walk, cached hint). */
static int file_cluster(struct fat32_volume *vol, struct fat32_node *node, uint32_t idx,
                        uint32_t *out) {
    uint32_t cl = node->first_cluster, at = 0;
    if (node->hint_cluster && node->hint_gen == vol->free_gen && node->hint_index <= idx) {
        cl = node->hint_cluster;
        at = node->hint_index;
    }
    if (idx >= vol->cluster_count) return -KEIO;
    while (at < idx) {
        if (cl == 0) return -KEIO;
        int rc = fat32i_next(vol, cl, &cl);
        if (rc < 0) return rc;
        at++;
    }
    if (!fat32i_cluster_ok(vol, cl)) {
        printk(LOG_WARN, "fat32: file chain shorter than its size\n");
        return -KEIO;
    }
    node->hint_index = idx;
    node->hint_cluster = cl;
    node->hint_gen = vol->free_gen;
    *out = cl;
    return 0;
}

/* Copies between buf and the file's existing clusters; write=false reads. */
static int64_t data_io(struct fat32_volume *vol, struct fat32_node *node, uint64_t off,
                       uint8_t *rbuf, const uint8_t *wbuf, size_t len) {
    size_t done = 0;
    uint32_t bps = vol->bytes_per_sector;
    while (done < len) {
        uint64_t pos = off + done;
        uint32_t cl;
        int rc = file_cluster(vol, node, (uint32_t)(pos / vol->cluster_bytes), &cl);
        if (rc < 0) return rc;
        uint32_t in_cl = (uint32_t)(pos % vol->cluster_bytes);
        uint64_t lba = fat32i_cluster_lba(vol, cl) + in_cl / bps;
        uint32_t in_sec = in_cl % bps;
        size_t left = len - done;
        if (in_sec == 0 && left >= bps) {
            uint32_t n = (uint32_t)MIN(left / bps, (uint64_t)(vol->cluster_bytes - in_cl) / bps);
            if (wbuf) rc = dev_write(vol, lba, n, wbuf + done);
            else {
                rc = dev_read(vol, lba, n, rbuf + done);
                if (vol->sec_valid && vol->sec_lba >= lba && vol->sec_lba < lba + n)
                    vol->sec_valid = false;
            }
            if (rc < 0) return rc;
            done += (size_t)n * bps;
            continue;
        }
        size_t chunk = MIN(left, (size_t)(bps - in_sec));
        uint8_t *s = fat32i_sector(vol, lba, &rc);
        if (!s) return rc;
        if (wbuf) {
            memcpy(s + in_sec, wbuf + done, chunk);
            rc = fat32i_sector_write(vol);
            if (rc < 0) return rc;
        } else {
            memcpy(rbuf + done, s + in_sec, chunk);
        }
        done += chunk;
    }
    return (int64_t)done;
}

int64_t fat32_read(struct fat32_volume *vol, struct fat32_node *node, uint64_t off, void *buf,
                   size_t len) {
    if (!vol || !vol->mounted || !node) return -KEINVAL;
    if (node->attr & FAT32_ATTR_DIRECTORY) return -KEISDIR;
    if (off >= node->size) return 0;
    len = (size_t)MIN((uint64_t)len, node->size - off);
    if (len > 0x40000000) len = 0x40000000;
    return data_io(vol, node, off, buf, NULL, len);
}

static const uint8_t zeros[4096];

/* Makes the chain long enough for new_size bytes; all or nothing. Clusters implied by the
 * current size are taken as present (data_io checks them as it goes); beyond that the chain is
 * walked to its end, from the cached position when there is one, bounded by the cluster count. */
static int grow_chain(struct fat32_volume *vol, struct fat32_node *node, uint64_t new_size) {
    uint64_t need = (new_size + vol->cluster_bytes - 1) / vol->cluster_bytes;
    uint64_t implied = ((uint64_t)node->size + vol->cluster_bytes - 1) / vol->cluster_bytes;
    if (need <= implied) return 0;
    uint32_t have = 0, last = 0, cl = node->first_cluster;
    if (node->hint_cluster && node->hint_gen == vol->free_gen) {
        cl = node->hint_cluster;
        have = node->hint_index;
    }
    while (cl != 0) {
        if (++have > vol->cluster_count) {
            printk(LOG_WARN, "fat32: cluster chain of a file loops\n");
            return -KEIO;
        }
        last = cl;
        int rc = fat32i_next(vol, cl, &cl);
        if (rc < 0) return rc;
    }
    int rc;
    if (need <= have) return 0;
    uint32_t first, tail;
    rc = fat32i_alloc_chain(vol, (uint32_t)(need - have), &first, &tail);
    if (rc < 0) return rc;
    if (node->first_cluster == 0) {
        node->first_cluster = first;
        rc = fat32i_node_store(vol, node);
        if (rc < 0) {
            node->first_cluster = 0;
            fat32i_free_chain(vol, first);
            return rc;
        }
    } else {
        rc = fat32i_set(vol, last, first);
        if (rc == 0) rc = fat32i_fat_flush(vol);
        if (rc < 0) return rc;
    }
    return 0;
}

int64_t fat32_write(struct fat32_volume *vol, struct fat32_node *node, uint64_t off,
                    const void *buf, size_t len) {
    if (!vol || !vol->mounted || !node || (!buf && len)) return -KEINVAL;
    if (node->attr & FAT32_ATTR_DIRECTORY) return -KEISDIR;
    uint64_t end = off + len;
    if (end > 0xFFFFFFFFull || end < off) return -KEINVAL;
    if (len == 0 && off <= node->size) return 0;
    int rc = grow_chain(vol, node, MAX(end, (uint64_t)node->size));
    if (rc < 0) return rc;
    uint64_t pos = node->size;
    while (pos < off) { /* zero the gap between the old end and off */
        size_t n = (size_t)MIN(off - pos, (uint64_t)sizeof(zeros));
        int64_t w = data_io(vol, node, pos, NULL, zeros, n);
        if (w < 0) return w;
        pos += n;
    }
    int64_t w = data_io(vol, node, off, NULL, buf, len);
    if (w < 0) return w;
    if (end > node->size) node->size = (uint32_t)end;
    fat32i_now(vol, &node->mdate, &node->mtime);
    node->adate = node->mdate;
    node->attr |= FAT32_ATTR_ARCHIVE;
    rc = fat32i_node_store(vol, node);
    return rc < 0 ? rc : (int64_t)len;
}

int fat32_truncate(struct fat32_volume *vol, struct fat32_node *node, uint64_t size) {
    if (!vol || !vol->mounted || !node) return -KEINVAL;
    if (node->attr & FAT32_ATTR_DIRECTORY) return -KEISDIR;
    if (size > 0xFFFFFFFFull) return -KEINVAL;
    if (size > node->size) {
        int64_t w = fat32_write(vol, node, size, "", 0);
        return w < 0 ? (int)w : 0;
    }
    uint32_t keep = (uint32_t)((size + vol->cluster_bytes - 1) / vol->cluster_bytes);
    uint32_t have, last;
    int rc = fat32i_chain_length(vol, node->first_cluster, &have, &last);
    if (rc < 0) return rc;
    node->hint_index = node->hint_cluster = 0;
    uint32_t old_first = node->first_cluster, to_free = 0;
    if (keep == 0) {
        to_free = old_first;
        node->first_cluster = 0;
    } else if (keep < have) {
        uint32_t cl;
        rc = file_cluster(vol, node, keep - 1, &cl);
        if (rc == 0) rc = fat32i_next(vol, cl, &to_free);
        if (rc == 0) rc = fat32i_set(vol, cl, FAT_MASK);
        if (rc == 0) rc = fat32i_fat_flush(vol);
        if (rc < 0) return rc;
        node->hint_index = node->hint_cluster = 0;
    }
    node->size = (uint32_t)size;
    fat32i_now(vol, &node->mdate, &node->mtime);
    rc = fat32i_node_store(vol, node);
    if (rc < 0) return rc;
    return fat32i_free_chain(vol, to_free);
}
