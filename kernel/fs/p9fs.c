/* p9fs.c: the "9p" file-system type: a host directory shared over virtio-9p, reached through
 * the 9P2000.L client of p9.h (kernel/fs/p9_client.c) and implementing the VFS engine
 * interface of vfs.h.
 *
 * Follows 9P2000.L as QEMU's virtio-9p server speaks it (Linux v9fs conventions; p9.h lists
 * the messages): every vnode holds one fid walked from its parent's fid (walk(5)); files get a
 * second, opened fid for I/O on first use (Tlopen, Linux open(2) flags); directories one for
 * Treaddir. Vnode identity is qid.path: a table of live vnodes (VN_NOCACHE, vnode_tryget)
 * maps qid.path to the vnode, and release clunks the vnode's fids. The client carries one
 * request at a time, so one mutex (p9fs_lock) is held around every p9_client_* call. */
#include "vfs.h"
#include "p9.h"
#include "virtio_9p.h"
#include "kstring.h"
#include "mm.h"
#include "sync.h"
#include "printk.h"

#define DIRBUF_SIZE 4096u /* bytes asked per Treaddir */

struct p9fs;

struct p9fs_node {
    struct vnode vn;
    struct p9fs *fs;
    uint32_t fid;            /* walked, not opened */
    uint32_t io_fid;         /* opened (files: O_RDWR or O_RDONLY; dirs: O_RDONLY) or NOFID */
    bool io_writable;
    bool gone;               /* its name was removed: lookups must not return it */
    uint32_t iounit;
    uint64_t qpath;
    struct p9fs_node *next;  /* the instance's table */
    /* directories: the last Treaddir reply, copied (entry k starts at offset dir_off for
     * k = 0, else at entry k-1's offset field) */
    uint8_t *dirbuf;
    uint32_t dirbuf_len;
    uint64_t dir_off;
    bool dirbuf_valid;
};

struct p9fs {
    struct p9_client *c;
    struct vfs_mount *mount;
    struct p9fs_node *nodes;
};

/* One lock for every 9P client (there is one share in practice): the client is single-request
 * and its readdir data lives in its receive buffer until the next request. */
static struct mutex p9fs_lock;
static bool p9fs_lock_ready;

static const struct vnode_ops p9fs_vnode_ops;

static struct p9fs_node *node_of(struct vnode *vn) { return container_of(vn, struct p9fs_node, vn); }

/* Copies a (name, len) pair into a NUL-terminated buffer of VFS_NAME_MAX + 1 bytes. */
static int name_copy(char *dst, const char *name, size_t len) {
    if (len == 0 || len > VFS_NAME_MAX) return -KENAMETOOLONG;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || name[i] == '\0') return -KEINVAL;
    memcpy(dst, name, len);
    dst[len] = '\0';
    return 0;
}

static uint32_t mode_from_qid(const struct p9_qid *q) {
    return (q->type & P9_QTDIR) ? (S_IFDIR | 0755) : (S_IFREG | 0644);
}

/* Locked. Returns the live vnode for walked fid/qid with a reference: an existing one (the
 * new fid is then clunked) or a new one owning fid. */
static int node_for_fid(struct p9fs *fs, uint32_t fid, const struct p9_qid *q, struct vnode **out) {
    for (struct p9fs_node *n = fs->nodes; n; n = n->next) {
        if (n->qpath == q->path && !n->gone && vnode_tryget(&n->vn)) {
            p9_client_clunk(fs->c, fid);
            *out = &n->vn;
            return 0;
        }
    }
    struct p9fs_node *n = kzalloc(sizeof(*n));
    if (!n) {
        p9_client_clunk(fs->c, fid);
        return -KENOMEM;
    }
    vnode_init(&n->vn, &p9fs_vnode_ops, fs->mount, mode_from_qid(q), q->path);
    n->vn.flags |= VN_NOCACHE;
    n->vn.fs_data = n;
    n->fs = fs;
    n->fid = fid;
    n->io_fid = P9_NOFID;
    n->qpath = q->path;
    n->next = fs->nodes;
    fs->nodes = n;
    vnode_get(&n->vn);
    *out = &n->vn;
    return 0;
}

/* Locked. Marks the live vnodes of qpath as removed from the name space. */
static void mark_gone(struct p9fs *fs, uint64_t qpath) {
    for (struct p9fs_node *n = fs->nodes; n; n = n->next)
        if (n->qpath == qpath) n->gone = true;
}

/* Locked. Walks name in dir into a fresh fid. */
static int walk_name(struct p9fs_node *dir, const char *name, uint32_t *fid, struct p9_qid *q) {
    return p9_client_walk(dir->fs->c, dir->fid, name, fid, q);
}

/* Locked. The qid of name in dir (no fid kept). */
static int qid_of(struct p9fs_node *dir, const char *name, struct p9_qid *q) {
    uint32_t fid;
    int r = walk_name(dir, name, &fid, q);
    if (r == 0) p9_client_clunk(dir->fs->c, fid);
    return r;
}

/* Locked. Opens the node's I/O fid: a clone of its fid opened with Tlopen. */
static int ensure_io(struct p9fs_node *n, bool want_write) {
    struct p9_client *c = n->fs->c;
    if (n->io_fid != P9_NOFID && (n->io_writable || !want_write)) return 0;
    if (n->io_fid != P9_NOFID) { /* read-only so far: try again for writing */
        p9_client_clunk(c, n->io_fid);
        n->io_fid = P9_NOFID;
    }
    bool dir = VFS_ISDIR(n->vn.mode);
    uint32_t fid;
    int r = p9_client_walk(c, n->fid, "", &fid, NULL);
    if (r < 0) return r;
    uint32_t iounit = 0;
    if (dir) {
        r = p9_client_lopen(c, fid, P9_O_RDONLY | P9_O_DIRECTORY, NULL, &iounit);
    } else {
        r = p9_client_lopen(c, fid, P9_O_RDWR, NULL, &iounit);
        if (r == 0) {
            n->io_writable = true;
        } else if (!want_write && (r == -KEACCES || r == -KEPERM || r == -KEROFS)) {
            r = p9_client_lopen(c, fid, P9_O_RDONLY, NULL, &iounit);
            n->io_writable = false;
        }
    }
    if (r < 0) {
        p9_client_clunk(c, fid);
        return r;
    }
    n->io_fid = fid;
    n->iounit = iounit;
    return 0;
}

static void dir_changed(struct p9fs_node *dir) { dir->dirbuf_valid = false; }

static int p9fs_lookup(struct vnode *dvn, const char *name, size_t len, struct vnode **out) {
    struct p9fs_node *dir = node_of(dvn);
    char nm[VFS_NAME_MAX + 1];
    int r = name_copy(nm, name, len);
    if (r < 0) return r;
    mutex_lock(&p9fs_lock);
    uint32_t fid;
    struct p9_qid q;
    r = walk_name(dir, nm, &fid, &q);
    if (r == 0) r = node_for_fid(dir->fs, fid, &q, out);
    mutex_unlock(&p9fs_lock);
    return r;
}

static int p9fs_create(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    struct p9fs_node *dir = node_of(dvn);
    struct p9_client *c = dir->fs->c;
    char nm[VFS_NAME_MAX + 1];
    int r = name_copy(nm, name, len);
    if (r < 0) return r;
    mutex_lock(&p9fs_lock);
    uint32_t open_fid, fid;
    struct p9_qid q;
    uint32_t iounit = 0;
    r = p9_client_walk(c, dir->fid, "", &open_fid, NULL);
    if (r == 0) {
        /* Tlcreate turns the directory clone into the new file, opened */
        r = p9_client_lcreate(c, open_fid, nm, P9_O_RDWR | P9_O_CREAT | P9_O_EXCL, mode & 07777, 0, &q, &iounit);
        if (r < 0) p9_client_clunk(c, open_fid);
    }
    if (r == 0) {
        dir_changed(dir);
        r = walk_name(dir, nm, &fid, &q);
        if (r < 0) p9_client_clunk(c, open_fid);
    }
    if (r == 0) {
        r = node_for_fid(dir->fs, fid, &q, out);
        struct p9fs_node *n = r == 0 ? node_of(*out) : NULL;
        if (n && n->io_fid == P9_NOFID) {
            n->io_fid = open_fid;
            n->io_writable = true;
            n->iounit = iounit;
        } else {
            p9_client_clunk(c, open_fid);
        }
    }
    mutex_unlock(&p9fs_lock);
    return r;
}

static int p9fs_mkdir(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    struct p9fs_node *dir = node_of(dvn);
    char nm[VFS_NAME_MAX + 1];
    int r = name_copy(nm, name, len);
    if (r < 0) return r;
    mutex_lock(&p9fs_lock);
    struct p9_qid q;
    uint32_t fid;
    r = p9_client_mkdir(dir->fs->c, dir->fid, nm, mode & 07777, 0, &q);
    if (r == 0) {
        dir_changed(dir);
        r = walk_name(dir, nm, &fid, &q);
    }
    if (r == 0) r = node_for_fid(dir->fs, fid, &q, out);
    mutex_unlock(&p9fs_lock);
    return r;
}

/* unlink (want_dir false) and rmdir (true). */
static int remove_name(struct vnode *dvn, const char *name, size_t len, bool want_dir) {
    struct p9fs_node *dir = node_of(dvn);
    char nm[VFS_NAME_MAX + 1];
    int r = name_copy(nm, name, len);
    if (r < 0) return r;
    mutex_lock(&p9fs_lock);
    struct p9_qid q;
    r = qid_of(dir, nm, &q);
    if (r == 0) {
        bool is_dir = (q.type & P9_QTDIR) != 0;
        if (want_dir && !is_dir) r = -KENOTDIR;
        else if (!want_dir && is_dir) r = -KEISDIR;
    }
    if (r == 0) r = p9_client_unlinkat(dir->fs->c, dir->fid, nm, want_dir ? P9_AT_REMOVEDIR : 0);
    if (r == 0) {
        mark_gone(dir->fs, q.path);
        dir_changed(dir);
    }
    mutex_unlock(&p9fs_lock);
    return r;
}

static int p9fs_unlink(struct vnode *dvn, const char *name, size_t len) { return remove_name(dvn, name, len, false); }
static int p9fs_rmdir(struct vnode *dvn, const char *name, size_t len) { return remove_name(dvn, name, len, true); }

static int p9fs_rename(struct vnode *odvn, const char *oname, size_t olen, struct vnode *ndvn, const char *nname,
                       size_t nlen) {
    struct p9fs_node *odir = node_of(odvn), *ndir = node_of(ndvn);
    char on[VFS_NAME_MAX + 1], nn[VFS_NAME_MAX + 1];
    int r = name_copy(on, oname, olen);
    if (r == 0) r = name_copy(nn, nname, nlen);
    if (r < 0) return r;
    mutex_lock(&p9fs_lock);
    struct p9_qid oq, tq;
    r = qid_of(odir, on, &oq);
    bool have_target = r == 0 && qid_of(ndir, nn, &tq) == 0;
    if (r == 0 && have_target && tq.path == oq.path) {
        mutex_unlock(&p9fs_lock);
        return 0; /* both names are the same file */
    }
    if (r == 0) r = p9_client_renameat(odir->fs->c, odir->fid, on, ndir->fid, nn);
    if (r == 0) {
        if (have_target) mark_gone(odir->fs, tq.path);
        dir_changed(odir);
        dir_changed(ndir);
    }
    mutex_unlock(&p9fs_lock);
    return r;
}

static int64_t p9fs_read(struct vnode *vn, uint64_t off, void *buf, size_t len) {
    struct p9fs_node *n = node_of(vn);
    mutex_lock(&p9fs_lock);
    int64_t r = ensure_io(n, false);
    if (r == 0) r = p9_client_read(n->fs->c, n->io_fid, n->iounit, off, buf, len);
    mutex_unlock(&p9fs_lock);
    return r;
}

static int64_t p9fs_write(struct vnode *vn, uint64_t off, const void *buf, size_t len) {
    struct p9fs_node *n = node_of(vn);
    mutex_lock(&p9fs_lock);
    int64_t r = ensure_io(n, true);
    if (r == 0 && !n->io_writable) r = -KEACCES;
    if (r == 0) r = p9_client_write(n->fs->c, n->io_fid, n->iounit, off, buf, len);
    mutex_unlock(&p9fs_lock);
    return r;
}

/* Locked. Tsetattr on the node (its open fid when it has one: an unlinked file has no path). */
static int setattr_locked(struct p9fs_node *n, const struct p9_setattr *a) {
    uint32_t fid = n->io_fid != P9_NOFID ? n->io_fid : n->fid;
    return p9_client_setattr(n->fs->c, fid, a);
}

static int p9fs_truncate(struct vnode *vn, uint64_t size) {
    struct p9fs_node *n = node_of(vn);
    struct p9_setattr a;
    memset(&a, 0, sizeof(a));
    a.valid = P9_SETATTR_SIZE;
    a.size = size;
    mutex_lock(&p9fs_lock);
    int r = setattr_locked(n, &a);
    mutex_unlock(&p9fs_lock);
    return r;
}

static int p9fs_setattr(struct vnode *vn, const struct vfs_setattr *va) {
    struct p9fs_node *n = node_of(vn);
    struct p9_setattr a;
    memset(&a, 0, sizeof(a));
    if (va->mask & VFS_ATTR_MODE) {
        a.valid |= P9_SETATTR_MODE;
        a.mode = va->mode & 07777;
    }
    if (va->mask & VFS_ATTR_SIZE) {
        if (!VFS_ISREG(vn->mode)) return VFS_ISDIR(vn->mode) ? -KEISDIR : -KEINVAL;
        a.valid |= P9_SETATTR_SIZE;
        a.size = va->size;
    }
    if (va->mask & VFS_ATTR_ATIME) {
        a.valid |= P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET;
        a.atime_sec = va->atime_ns / 1000000000ull;
        a.atime_nsec = va->atime_ns % 1000000000ull;
    }
    if (va->mask & VFS_ATTR_MTIME) {
        a.valid |= P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
        a.mtime_sec = va->mtime_ns / 1000000000ull;
        a.mtime_nsec = va->mtime_ns % 1000000000ull;
    }
    if (!a.valid) return 0;
    mutex_lock(&p9fs_lock);
    int r = setattr_locked(n, &a);
    mutex_unlock(&p9fs_lock);
    return r;
}

static void fill_dirent(struct vfs_dirent *out, const char *name, size_t len, uint64_t ino, uint32_t type) {
    out->ino = ino;
    out->type = type;
    out->name_len = (uint16_t)len;
    memcpy(out->name, name, len);
    out->name[len] = '\0';
}

/* Locked. Finds the entry starting at server offset off in the cached reply: 1 = found (its
 * next offset in *next), 0 = not in the cache, -KEPROTO = malformed. */
static int dirbuf_find(struct p9fs_node *d, uint64_t off, struct p9_dirent *ent) {
    if (!d->dirbuf_valid) return 0;
    uint64_t start = d->dir_off;
    size_t pos = 0;
    for (;;) {
        int r = p9_dirent_next(d->dirbuf, d->dirbuf_len, &pos, ent);
        if (r <= 0) return r;
        if (start == off) return 1;
        start = ent->offset;
    }
}

/* Cookie: 0 = ".", 1 = "..", 2 + o = the server's entry starting at offset o, and
 * UINT64_MAX = past the end (a server offset too large to carry). */
static int p9fs_readdir(struct vnode *dvn, uint64_t *cookie, struct vfs_dirent *out) {
    struct p9fs_node *d = node_of(dvn);
    if (*cookie == 0) {
        fill_dirent(out, ".", 1, dvn->ino, S_IFDIR);
        *cookie = 1;
        return 1;
    }
    if (*cookie == 1) {
        fill_dirent(out, "..", 2, dvn->ino, S_IFDIR);
        *cookie = 2;
        return 1;
    }
    if (*cookie == UINT64_MAX) return 0;
    mutex_lock(&p9fs_lock);
    int r = ensure_io(d, false);
    if (r == 0 && !d->dirbuf) {
        d->dirbuf = kmalloc(DIRBUF_SIZE);
        if (!d->dirbuf) r = -KENOMEM;
    }
    for (int guard = 0; r == 0; guard++) {
        uint64_t off = *cookie - 2;
        struct p9_dirent ent;
        int f = off == 0 && guard == 0 ? 0 : dirbuf_find(d, off, &ent); /* restart: refetch */
        if (f == 0) {
            if (guard > 1) {
                r = -KEPROTO; /* the server gave nothing usable at this offset twice */
                break;
            }
            const uint8_t *data;
            uint32_t data_len;
            uint32_t want = MIN(DIRBUF_SIZE, p9_io_chunk(d->fs->c, 0));
            r = p9_client_readdir(d->fs->c, d->io_fid, off, want, &data, &data_len);
            if (r < 0) break;
            if (data_len == 0) {
                d->dirbuf_valid = false;
                r = 0; /* the end */
                break;
            }
            memcpy(d->dirbuf, data, MIN(data_len, DIRBUF_SIZE));
            d->dirbuf_len = MIN(data_len, DIRBUF_SIZE);
            d->dir_off = off;
            d->dirbuf_valid = true;
            continue;
        }
        if (f < 0) {
            r = f;
            break;
        }
        *cookie = ent.offset < UINT64_MAX - 2 ? ent.offset + 2 : UINT64_MAX;
        guard = 0;
        if ((ent.name.len == 1 && ent.name.s[0] == '.') ||
            (ent.name.len == 2 && ent.name.s[0] == '.' && ent.name.s[1] == '.'))
            continue;
        if (ent.name.len == 0 || ent.name.len > VFS_NAME_MAX) continue;
        fill_dirent(out, ent.name.s, ent.name.len, ent.qid.path, (uint32_t)ent.type << 12);
        r = 1;
        break;
    }
    mutex_unlock(&p9fs_lock);
    return r;
}

static int p9fs_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct p9fs_node *n = node_of(vn);
    struct p9_attr a;
    mutex_lock(&p9fs_lock);
    uint32_t fid = n->io_fid != P9_NOFID ? n->io_fid : n->fid;
    int r = p9_client_getattr(n->fs->c, fid, P9_GETATTR_BASIC, &a);
    mutex_unlock(&p9fs_lock);
    if (r < 0) return r;
    memset(st, 0, sizeof(*st));
    st->ino = n->qpath;
    st->mode = (a.valid & P9_GETATTR_MODE) ? a.mode : vn->mode;
    st->nlink = (uint32_t)a.nlink;
    st->size = a.size;
    st->blocks = a.blocks;
    st->blksize = a.blksize ? (uint32_t)a.blksize : 4096;
    st->dev = vn->mount ? vn->mount->id : 0;
    st->atime_ns = a.atime_sec * 1000000000ull + a.atime_nsec;
    st->mtime_ns = a.mtime_sec * 1000000000ull + a.mtime_nsec;
    st->ctime_ns = a.ctime_sec * 1000000000ull + a.ctime_nsec;
    return 0;
}

/* The last reference went: clunk the fids and free the node. */
static void p9fs_release(struct vnode *vn) {
    struct p9fs_node *n = node_of(vn);
    struct p9fs *fs = n->fs;
    mutex_lock(&p9fs_lock);
    for (struct p9fs_node **link = &fs->nodes; *link; link = &(*link)->next) {
        if (*link == n) {
            *link = n->next;
            break;
        }
    }
    if (n->io_fid != P9_NOFID) p9_client_clunk(fs->c, n->io_fid);
    p9_client_clunk(fs->c, n->fid);
    mutex_unlock(&p9fs_lock);
    kfree(n->dirbuf);
    kfree(n);
}

static const struct vnode_ops p9fs_vnode_ops = {
    .lookup = p9fs_lookup,
    .create = p9fs_create,
    .mkdir = p9fs_mkdir,
    .unlink = p9fs_unlink,
    .rmdir = p9fs_rmdir,
    .rename = p9fs_rename,
    .read = p9fs_read,
    .write = p9fs_write,
    .truncate = p9fs_truncate,
    .readdir = p9fs_readdir,
    .getattr = p9fs_getattr,
    .setattr = p9fs_setattr,
    .sync = NULL,
    .release = p9fs_release,
};

/* source: the mount tag. The client is attached once (uname "root", the share's root); every
 * mount's root vnode holds a clone of the attach fid. */
static int p9fs_mount(struct vfs_mount *m, const char *source, const char *options, struct vnode **root) {
    (void)options;
    if (!source || !*source) return -KEINVAL;
    virtio_9p_init();
    struct p9_client *c = virtio_9p_client(source);
    if (!c) return -KENODEV;
    struct p9fs *fs = kzalloc(sizeof(*fs));
    if (!fs) return -KENOMEM;
    fs->c = c;
    fs->mount = m;
    mutex_lock(&p9fs_lock);
    int r = 0;
    if (c->state == P9_CLIENT_VERSIONED) r = p9_client_attach(c, "root", "", 0);
    else if (c->state != P9_CLIENT_ATTACHED || c->root_fid == P9_NOFID) r = -KEIO;
    uint32_t fid;
    if (r == 0) r = p9_client_walk(c, c->root_fid, "", &fid, NULL);
    if (r == 0) {
        struct p9_qid q = c->root_qid;
        r = node_for_fid(fs, fid, &q, root);
    }
    mutex_unlock(&p9fs_lock);
    if (r < 0) {
        kfree(fs);
        return r;
    }
    m->fs_priv = fs;
    return 0;
}

static int p9fs_unmount(struct vfs_mount *m) {
    struct p9fs *fs = m->fs_priv;
    /* every vnode is released by now (the VFS checked), so the table is empty */
    kfree(fs);
    m->fs_priv = NULL;
    return 0;
}

static struct vfs_fs_type p9fs_type = {
    .name = "9p",
    .mount = p9fs_mount,
    .unmount = p9fs_unmount,
    .sync = NULL,
    .statfs = NULL,
};

/* Registers the "9p" file-system type (called once by fs_boot_mounts). */
void p9fs_init(void) {
    if (!p9fs_lock_ready) {
        mutex_init(&p9fs_lock, "p9fs");
        p9fs_lock_ready = true;
    }
    vfs_register_fs(&p9fs_type);
}
