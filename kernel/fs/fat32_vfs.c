/* fat32_vfs.c: the FAT32 engine (fat32.h) behind the VFS engine interface (vfs.h), as the
 * file-system type "fat32". The source of a mount is a block device name (block.h); the
 * engine's sectors go through the buffer cache (the volume's BPB sector size must be a
 * multiple of the device's sector size, and the device's sector size at most BCACHE_BLOCK).
 *
 * FAT32 nodes are not kept in memory, so each instance keeps a table of live vnodes (vfs.h,
 * "Vnode identity"): a node is identified by its first cluster (fatgen103 §6: DIR_FstClusHI/
 * LO), or, for an empty file without clusters, by the position of its short directory entry.
 * Vnodes are VN_NOCACHE: release removes them from the table. One mutex per volume is held
 * around every engine call (the engine is not thread safe). Unlike POSIX, a file whose name is
 * removed while open does not live on: the engine frees its clusters at once, so its vnode
 * reads as empty and refuses writes. An empty file's inode number is its entry position until
 * it gets a first cluster. Times: FAT stores local time
 * (fatgen103 §6.1); the kernel treats it as UTC. */
#include "vfs.h"
#include "fat32.h"
#include "block.h"
#include "kstring.h"
#include "mm.h"
#include "printk.h"
#include "sync.h"
#include "kernel.h"

#define FATVFS_NAME_BUF 256
#define FATVFS_EFBIG 27 /* Linux EFBIG (kerrno.h has no name for it yet): past the 4 GiB FAT file limit */

struct fatfs;

struct fatvn {
    struct vnode vn;
    struct fatfs *fs;
    struct fat32_node node;  /* the engine's node (kept current across rename and writes) */
    bool gone;               /* its directory entry was removed: no longer matched or usable */
    struct fatvn *next;      /* the instance's live table */
};

struct fatfs {
    struct mutex lock;
    struct fat32_volume vol;
    struct blk_device *dev;
    uint32_t factor;         /* device sectors per volume sector */
    struct vfs_mount *mount;
    struct fatvn *live;
};

static const struct vnode_ops fatvfs_vnode_ops;

static struct fatvn *fv_of(struct vnode *vn) { return container_of(vn, struct fatvn, vn); }

/* ---- device and clock callbacks for the engine ---- */

/* Every transfer goes through the buffer cache (block.h): the engine reads one sector at a
 * time (FAT scans, directories), so 4 KiB blocks save most device requests, and one path for
 * all I/O keeps the cache coherent. Writes are write-back; the engine's flush is bcache_sync. */
static int cache_io(struct fatfs *fs, uint64_t lba, uint32_t count, uint8_t *rbuf, const uint8_t *wbuf) {
    uint64_t bps = (uint64_t)fs->dev->sector_size * fs->factor;
    uint64_t pos = lba * bps, end = pos + (uint64_t)count * bps;
    size_t done = 0;
    while (pos < end) {
        uint64_t block = pos / BCACHE_BLOCK;
        size_t in = (size_t)(pos % BCACHE_BLOCK), piece = (size_t)MIN((uint64_t)(BCACHE_BLOCK - in), end - pos);
        int err = 0;
        struct bcache_buf *b = bcache_get(fs->dev, block, &err);
        if (!b) return err ? err : -KEIO;
        if (rbuf) {
            memcpy(rbuf + done, b->data + in, piece);
        } else {
            memcpy(b->data + in, wbuf + done, piece);
            bcache_mark_dirty(b);
        }
        bcache_put(b);
        pos += piece;
        done += piece;
    }
    return 0;
}

static int dev_read(void *ctx, uint64_t lba, uint32_t count, void *buf) {
    return cache_io(ctx, lba, count, buf, NULL);
}

static int dev_write(void *ctx, uint64_t lba, uint32_t count, const void *buf) {
    return cache_io(ctx, lba, count, NULL, buf);
}

static int dev_flush(void *ctx) {
    struct fatfs *fs = ctx;
    return bcache_sync(fs->dev);
}

static const struct fat32_dev_ops fatvfs_dev_ops = {dev_read, dev_write, dev_flush};

/* Days since 1970-01-01 of a proleptic Gregorian date (civil calendar arithmetic). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The date of a day count since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void fatvfs_clock(void *ctx, struct fat32_time *out) {
    (void)ctx;
    uint64_t secs = vfs_now_ns() / 1000000000ull;
    int64_t y;
    unsigned m, d;
    civil_from_days((int64_t)(secs / 86400), &y, &m, &d);
    if (y < 1980) { y = 1980; m = 1; d = 1; secs = 0; }
    if (y > 2107) { y = 2107; m = 12; d = 31; secs = 86399; }
    uint64_t tod = secs % 86400;
    out->year = (uint16_t)y;
    out->month = (uint8_t)m;
    out->day = (uint8_t)d;
    out->hour = (uint8_t)(tod / 3600);
    out->minute = (uint8_t)(tod / 60 % 60);
    out->second = (uint8_t)(tod % 60);
}

static uint64_t time_to_ns(const struct fat32_time *t) {
    if (t->year < 1970 || t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31) return 0;
    int64_t days = days_from_civil(t->year, t->month, t->day);
    uint64_t secs = (uint64_t)days * 86400 + (uint64_t)t->hour * 3600 + (uint64_t)t->minute * 60 + t->second;
    return secs * 1000000000ull;
}

/* ---- the live vnode table ---- */

/* True when a and b are the same file (see the header comment). */
static bool same_file(const struct fat32_node *a, const struct fat32_node *b) {
    if (a->is_root || b->is_root) return a->is_root && b->is_root;
    if (a->first_cluster || b->first_cluster) return a->first_cluster == b->first_cluster;
    return a->parent_cluster == b->parent_cluster && a->entry_index == b->entry_index;
}

static bool node_is_dir(const struct fat32_node *n) { return n->is_root || (n->attr & FAT32_ATTR_DIRECTORY); }

/* A stable inode number: the first cluster, else the entry position (high bit set). */
static uint64_t node_ino(const struct fat32_node *n) {
    if (n->first_cluster) return n->first_cluster;
    return (1ull << 63) | ((uint64_t)n->parent_cluster << 32) | n->entry_index;
}

/* The live vnode of a node (lock held), or NULL. With take, a reference is taken. */
static struct fatvn *live_find(struct fatfs *fs, const struct fat32_node *n, bool take) {
    for (struct fatvn *v = fs->live; v; v = v->next) {
        if (v->gone || !same_file(&v->node, n)) continue;
        if (!take) return v;
        if (vnode_tryget(&v->vn)) return v;
    }
    return NULL;
}

/* Returns the referenced vnode of node n (lock held): the live one or a new one. */
static int vnode_for(struct fatfs *fs, const struct fat32_node *n, struct vnode **out) {
    struct fatvn *v = live_find(fs, n, true);
    if (!v) {
        v = kzalloc(sizeof(*v));
        if (!v) return -KENOMEM;
        uint32_t mode = node_is_dir(n) ? (S_IFDIR | 0755) : (S_IFREG | 0755);
        vnode_init(&v->vn, &fatvfs_vnode_ops, fs->mount, mode, node_ino(n));
        v->vn.flags |= VN_NOCACHE;
        v->vn.fs_data = v;
        v->fs = fs;
        v->node = *n;
        v->next = fs->live;
        fs->live = v;
        vnode_get(&v->vn);
    }
    *out = &v->vn;
    return 0;
}

/* Copies (name, len) into buf as a C string. */
static int name_copy(char *buf, const char *name, size_t len) {
    if (len == 0 || len >= FATVFS_NAME_BUF) return -KENAMETOOLONG;
    memcpy(buf, name, len);
    buf[len] = '\0';
    return 0;
}

/* ---- vnode operations ---- */

static int fatvfs_lookup(struct vnode *dvn, const char *name, size_t len, struct vnode **out) {
    struct fatvn *dir = fv_of(dvn);
    struct fatfs *fs = dir->fs;
    char buf[FATVFS_NAME_BUF];
    struct fat32_node n;
    int r = name_copy(buf, name, len);
    if (r < 0) return r;
    mutex_lock(&fs->lock);
    if (dir->gone) r = -KENOENT;
    else if (dir->node.is_root && len == 2 && name[0] == '.' && name[1] == '.') fat32_root(&fs->vol, &n);
    else r = fat32_lookup(&fs->vol, &dir->node, buf, &n);
    if (r == 0) r = vnode_for(fs, &n, out);
    mutex_unlock(&fs->lock);
    return r;
}

/* create (dir false) and mkdir (dir true). */
static int make_node(struct vnode *dvn, const char *name, size_t len, bool want_dir, struct vnode **out) {
    struct fatvn *dir = fv_of(dvn);
    struct fatfs *fs = dir->fs;
    char buf[FATVFS_NAME_BUF];
    struct fat32_node n;
    int r = name_copy(buf, name, len);
    if (r < 0) return r;
    mutex_lock(&fs->lock);
    if (dir->gone) r = -KENOENT;
    else if (want_dir) r = fat32_mkdir(&fs->vol, &dir->node, buf, &n);
    else r = fat32_create(&fs->vol, &dir->node, buf, &n);
    if (r == 0) r = vnode_for(fs, &n, out);
    mutex_unlock(&fs->lock);
    return r;
}

static int fatvfs_create(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    (void)mode;
    return make_node(dvn, name, len, false, out);
}

static int fatvfs_mkdir(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    (void)mode;
    return make_node(dvn, name, len, true, out);
}

/* Marks the live vnode of node n as gone (lock held), after its entry was removed. */
static void mark_gone_node(struct fatfs *fs, const struct fat32_node *n) {
    for (struct fatvn *v = fs->live; v; v = v->next)
        if (!v->gone && same_file(&v->node, n)) v->gone = true;
}

/* unlink (want_dir false) and rmdir (true). */
static int remove_name(struct vnode *dvn, const char *name, size_t len, bool want_dir) {
    struct fatvn *dir = fv_of(dvn);
    struct fatfs *fs = dir->fs;
    char buf[FATVFS_NAME_BUF];
    struct fat32_node n;
    int r = name_copy(buf, name, len);
    if (r < 0) return r;
    mutex_lock(&fs->lock);
    if (dir->gone) r = -KENOENT;
    else r = fat32_lookup(&fs->vol, &dir->node, buf, &n);
    if (r == 0) {
        if (want_dir) r = fat32_rmdir(&fs->vol, &dir->node, buf);
        else r = fat32_unlink(&fs->vol, &dir->node, buf);
    }
    if (r == 0) mark_gone_node(fs, &n);
    mutex_unlock(&fs->lock);
    return r;
}

static int fatvfs_unlink(struct vnode *dvn, const char *name, size_t len) { return remove_name(dvn, name, len, false); }
static int fatvfs_rmdir(struct vnode *dvn, const char *name, size_t len) { return remove_name(dvn, name, len, true); }

static int fatvfs_rename(struct vnode *odvn, const char *oname, size_t olen, struct vnode *ndvn, const char *nname,
                         size_t nlen) {
    struct fatvn *odir = fv_of(odvn), *ndir = fv_of(ndvn);
    struct fatfs *fs = odir->fs;
    char obuf[FATVFS_NAME_BUF], nbuf[FATVFS_NAME_BUF];
    struct fat32_node src, dst, moved;
    int r = name_copy(obuf, oname, olen);
    if (r == 0) r = name_copy(nbuf, nname, nlen);
    if (r < 0) return r;
    mutex_lock(&fs->lock);
    if (odir->gone || ndir->gone) r = -KENOENT;
    if (r == 0) r = fat32_lookup(&fs->vol, &odir->node, obuf, &src);
    bool have_dst = r == 0 && fat32_lookup(&fs->vol, &ndir->node, nbuf, &dst) == 0;
    if (have_dst && same_file(&src, &dst)) have_dst = false; /* a change of spelling only */
    if (r == 0) r = fat32_rename(&fs->vol, &odir->node, obuf, &ndir->node, nbuf);
    if (r == 0) {
        if (have_dst) mark_gone_node(fs, &dst);
        /* the moved file's vnodes (a dying one too) follow its entry to the new position */
        if (fat32_lookup(&fs->vol, &ndir->node, nbuf, &moved) == 0) {
            for (struct fatvn *mv = fs->live; mv; mv = mv->next) {
                if (mv->gone || !same_file(&mv->node, &src)) continue;
                mv->node.parent_cluster = moved.parent_cluster;
                mv->node.entry_index = moved.entry_index;
                mv->node.first_entry_index = moved.first_entry_index;
            }
        }
    }
    mutex_unlock(&fs->lock);
    return r;
}

static int64_t fatvfs_read(struct vnode *vn, uint64_t off, void *buf, size_t len) {
    struct fatvn *v = fv_of(vn);
    mutex_lock(&v->fs->lock);
    int64_t r = v->gone ? 0 : fat32_read(&v->fs->vol, &v->node, off, buf, len);
    mutex_unlock(&v->fs->lock);
    return r;
}

static int64_t fatvfs_write(struct vnode *vn, uint64_t off, const void *buf, size_t len) {
    struct fatvn *v = fv_of(vn);
    if (off >= 0xFFFFFFFFull || len > 0xFFFFFFFFull - off) return -FATVFS_EFBIG;
    mutex_lock(&v->fs->lock);
    int64_t r = v->gone ? -KENOENT : fat32_write(&v->fs->vol, &v->node, off, buf, len);
    mutex_unlock(&v->fs->lock);
    return r;
}

static int fatvfs_truncate(struct vnode *vn, uint64_t size) {
    struct fatvn *v = fv_of(vn);
    if (size > 0xFFFFFFFFull) return -FATVFS_EFBIG;
    mutex_lock(&v->fs->lock);
    int r = v->gone ? -KENOENT : fat32_truncate(&v->fs->vol, &v->node, size);
    mutex_unlock(&v->fs->lock);
    return r;
}

static void fill_dirent(struct vfs_dirent *out, const char *name, size_t len, const struct fat32_node *n) {
    out->ino = node_ino(n);
    out->type = node_is_dir(n) ? S_IFDIR : S_IFREG;
    out->name_len = (uint16_t)len;
    memcpy(out->name, name, len);
    out->name[len] = '\0';
}

/* Cookie: 0 = ".", 1 = "..", else the engine's position: next_index + 2 in the low half and
 * the cluster holding it in the high half. */
static int fatvfs_readdir(struct vnode *dvn, uint64_t *cookie, struct vfs_dirent *out) {
    struct fatvn *dir = fv_of(dvn);
    struct fatfs *fs = dir->fs;
    if (*cookie == 0) {
        fill_dirent(out, ".", 1, &dir->node);
        *cookie = 1;
        return 1;
    }
    struct fat32_dirent *de = kmalloc(sizeof(*de));
    if (!de) return -KENOMEM;
    int r = 0;
    mutex_lock(&fs->lock);
    if (dir->gone) {
        r = 0;
    } else if (*cookie == 1) {
        struct fat32_node parent;
        if (dir->node.is_root) fat32_root(&fs->vol, &parent);
        else if (fat32_lookup(&fs->vol, &dir->node, "..", &parent) < 0) parent = dir->node;
        fill_dirent(out, "..", 2, &parent);
        *cookie = 2;
        r = 1;
    } else {
        struct fat32_dir_iter it;
        r = fat32_dir_open(&fs->vol, &dir->node, &it);
        if (r == 0) {
            it.next_index = (uint32_t)(*cookie & 0xFFFFFFFFu) - 2;
            it.cluster = (uint32_t)(*cookie >> 32);
            for (;;) {
                r = fat32_readdir(&fs->vol, &it, de);
                if (r <= 0) break;
                size_t nl = strlen(de->name);
                if ((nl == 1 && de->name[0] == '.') || (nl == 2 && de->name[0] == '.' && de->name[1] == '.'))
                    continue;
                if (nl == 0 || nl > VFS_NAME_MAX) {
                    printk(LOG_WARN, "fat32: skipping an entry whose name has %zu bytes\n", nl);
                    continue;
                }
                fill_dirent(out, de->name, nl, &de->node);
                break;
            }
            if (r == 1) *cookie = ((uint64_t)it.cluster << 32) | (uint64_t)(it.next_index + 2);
        }
    }
    mutex_unlock(&fs->lock);
    kfree(de);
    return r;
}

static int fatvfs_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct fatvn *v = fv_of(vn);
    struct fat32_stat fst;
    mutex_lock(&v->fs->lock);
    fat32_stat(&v->node, &fst);
    uint32_t cb = v->fs->vol.cluster_bytes;
    mutex_unlock(&v->fs->lock);
    memset(st, 0, sizeof(*st));
    st->ino = vn->ino;
    st->mode = fst.is_dir ? (S_IFDIR | 0755) : (S_IFREG | 0755);
    st->nlink = 1;
    st->size = fst.size;
    st->blocks = ((uint64_t)fst.size + cb - 1) / cb * cb / 512;
    st->blksize = cb;
    st->dev = vn->mount ? vn->mount->id : 0;
    st->atime_ns = time_to_ns(&fst.atime);
    st->mtime_ns = time_to_ns(&fst.mtime);
    st->ctime_ns = time_to_ns(&fst.ctime);
    return 0;
}

/* Only the size can change (FAT has no permission bits; times follow the engine's clock). */
static int fatvfs_setattr(struct vnode *vn, const struct vfs_setattr *a) {
    if (!(a->mask & VFS_ATTR_SIZE)) return 0;
    if (!VFS_ISREG(vn->mode)) return VFS_ISDIR(vn->mode) ? -KEISDIR : -KEINVAL;
    return fatvfs_truncate(vn, a->size);
}

static int fatvfs_vsync(struct vnode *vn) {
    struct fatfs *fs = fv_of(vn)->fs;
    mutex_lock(&fs->lock);
    int r = fat32_sync(&fs->vol);
    mutex_unlock(&fs->lock);
    int r2 = bcache_sync(fs->dev);
    return r < 0 ? r : r2;
}

/* The last reference went: take the vnode out of the table and free it. */
static void fatvfs_release(struct vnode *vn) {
    struct fatvn *v = fv_of(vn);
    struct fatfs *fs = v->fs;
    mutex_lock(&fs->lock);
    for (struct fatvn **link = &fs->live; *link; link = &(*link)->next) {
        if (*link == v) {
            *link = v->next;
            break;
        }
    }
    mutex_unlock(&fs->lock);
    kfree(v);
}

static const struct vnode_ops fatvfs_vnode_ops = {
    .lookup = fatvfs_lookup,
    .create = fatvfs_create,
    .mkdir = fatvfs_mkdir,
    .unlink = fatvfs_unlink,
    .rmdir = fatvfs_rmdir,
    .rename = fatvfs_rename,
    .read = fatvfs_read,
    .write = fatvfs_write,
    .truncate = fatvfs_truncate,
    .readdir = fatvfs_readdir,
    .getattr = fatvfs_getattr,
    .setattr = fatvfs_setattr,
    .sync = fatvfs_vsync,
    .release = fatvfs_release,
};

/* ---- the file-system type ---- */

static int fatvfs_mount(struct vfs_mount *m, const char *source, const char *options, struct vnode **root) {
    (void)options;
    if (!source) return -KEINVAL;
    struct blk_device *dev = blk_find(source);
    if (!dev) return -KENODEV;
    uint8_t *boot = kmalloc(dev->sector_size < 512 ? 512 : dev->sector_size);
    if (!boot) return -KENOMEM;
    int r = blk_read(dev, 0, 1, boot);
    uint32_t bps = (uint32_t)boot[11] | ((uint32_t)boot[12] << 8);
    kfree(boot);
    if (r < 0) return r;
    if (bps < 512 || bps > FAT32_MAX_SECTOR || (bps & (bps - 1)) || bps % dev->sector_size ||
        dev->sector_size > BCACHE_BLOCK) {
        printk(LOG_WARN, "fat32: %s: %u-byte volume sectors do not fit %u-byte device sectors\n", source, bps,
               dev->sector_size);
        return -KEINVAL;
    }
    struct fatfs *fs = kzalloc(sizeof(*fs));
    if (!fs) return -KENOMEM;
    mutex_init(&fs->lock, "fat32");
    fs->dev = dev;
    fs->factor = bps / dev->sector_size;
    fs->mount = m;
    r = fat32_mount(&fs->vol, &fatvfs_dev_ops, fs, dev->sectors / fs->factor, fatvfs_clock, NULL);
    if (r < 0) {
        kfree(fs);
        return r;
    }
    struct fat32_node rn;
    fat32_root(&fs->vol, &rn);
    mutex_lock(&fs->lock);
    r = vnode_for(fs, &rn, root);
    mutex_unlock(&fs->lock);
    if (r < 0) {
        fat32_unmount(&fs->vol);
        kfree(fs);
        return r;
    }
    m->fs_priv = fs;
    return 0;
}

static int fatvfs_unmount(struct vfs_mount *m) {
    struct fatfs *fs = m->fs_priv;
    mutex_lock(&fs->lock);
    int r = fat32_unmount(&fs->vol);
    while (fs->live) { /* nothing should be left: the VFS checked the references */
        struct fatvn *v = fs->live;
        fs->live = v->next;
        kfree(v);
    }
    mutex_unlock(&fs->lock);
    int r2 = bcache_sync(fs->dev);
    kfree(fs);
    m->fs_priv = NULL;
    return r < 0 ? r : r2;
}

static int fatvfs_sync(struct vfs_mount *m) {
    struct fatfs *fs = m->fs_priv;
    mutex_lock(&fs->lock);
    int r = fat32_sync(&fs->vol);
    mutex_unlock(&fs->lock);
    int r2 = bcache_sync(fs->dev);
    return r < 0 ? r : r2;
}

static int fatvfs_statfs(struct vfs_mount *m, uint64_t *total, uint64_t *free_bytes) {
    struct fatfs *fs = m->fs_priv;
    mutex_lock(&fs->lock);
    *total = (uint64_t)fs->vol.cluster_count * fs->vol.cluster_bytes;
    *free_bytes = (uint64_t)fat32_free_clusters(&fs->vol) * fs->vol.cluster_bytes;
    mutex_unlock(&fs->lock);
    return 0;
}

static struct vfs_fs_type fat32_fs_type = {
    .name = "fat32",
    .mount = fatvfs_mount,
    .unmount = fatvfs_unmount,
    .sync = fatvfs_sync,
    .statfs = fatvfs_statfs,
};

/* Registers the "fat32" file-system type (mounts.c calls it at boot; idempotent). */
void fat32_vfs_init(void) {
    vfs_register_fs(&fat32_fs_type);
}
