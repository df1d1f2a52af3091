/* tmpfs.c: an in-memory file system implementing the VFS engine interface (vfs.h).
 * Files keep their data in page-sized chunks from kmalloc (a NULL chunk is a hole that reads
 * as zeros); directories keep their entries in a list. Memory is freed exactly when a file is
 * gone: its last name removed and its last reference dropped. One mutex per instance
 * serialises every operation. Semantics follow POSIX.1-2017 XSH (read, write, ftruncate,
 * rename, rmdir, unlink) with Linux error numbers. */
#include "vfs.h"
#include "kstring.h"
#include "mm.h"
#include "sync.h"

#define CHUNK PAGE_SIZE

struct tmpfs_node;

struct tmpfs_entry {
    struct tmpfs_entry *next;
    struct tmpfs_node *node;
    uint16_t len;
    char name[];
};

struct tmpfs {
    struct mutex lock;
    struct vfs_mount *mount;
    uint64_t next_ino;
    uint64_t bytes_used;   /* data chunks held */
    uint64_t size_limit;   /* 0 = no limit */
    struct tmpfs_node *root;
};

struct tmpfs_node {
    struct vnode vn;       /* vn.mode holds the type and permission bits */
    struct tmpfs *fs;
    uint32_t nlink;
    uint64_t size;
    uint64_t atime_ns, mtime_ns, ctime_ns;
    struct tmpfs_node *parent;     /* directories: the directory holding it (root: itself) */
    struct tmpfs_entry *entries;   /* directories */
    uint32_t entry_count;
    uint8_t **chunks;              /* files: chunk_slots pointers */
    size_t chunk_slots;
};

static const struct vnode_ops tmpfs_vnode_ops;

static struct tmpfs_node *node_of(struct vnode *vn) { return container_of(vn, struct tmpfs_node, vn); }

static struct tmpfs_node *node_new(struct tmpfs *fs, uint32_t mode) {
    struct tmpfs_node *n = kzalloc(sizeof(*n));
    if (!n) return NULL;
    vnode_init(&n->vn, &tmpfs_vnode_ops, fs->mount, mode, fs->next_ino++);
    n->vn.fs_data = n;
    n->fs = fs;
    n->atime_ns = n->mtime_ns = n->ctime_ns = vfs_now_ns();
    return n;
}

/* Frees a node whose last name and last reference are gone (directories are empty). */
static void node_free(struct tmpfs_node *n) {
    for (size_t i = 0; i < n->chunk_slots; i++) {
        if (n->chunks[i]) {
            kfree(n->chunks[i]);
            n->fs->bytes_used -= CHUNK;
        }
    }
    kfree(n->chunks);
    kfree(n);
}

static struct tmpfs_entry *find_entry(struct tmpfs_node *dir, const char *name, size_t len,
                                      struct tmpfs_entry ***link_out) {
    struct tmpfs_entry **link = &dir->entries;
    for (; *link; link = &(*link)->next) {
        if ((*link)->len == len && memcmp((*link)->name, name, len) == 0) {
            if (link_out) *link_out = link;
            return *link;
        }
    }
    return NULL;
}

static struct tmpfs_entry *entry_new(const char *name, size_t len, struct tmpfs_node *node) {
    struct tmpfs_entry *e = kmalloc(sizeof(*e) + len);
    if (!e) return NULL;
    e->next = NULL;
    e->node = node;
    e->len = (uint16_t)len;
    memcpy(e->name, name, len);
    return e;
}

static void entry_link(struct tmpfs_node *dir, struct tmpfs_entry *e) {
    e->next = dir->entries;
    dir->entries = e;
    dir->entry_count++;
    dir->mtime_ns = dir->ctime_ns = vfs_now_ns();
}

static void entry_unlink(struct tmpfs_node *dir, struct tmpfs_entry **link) {
    struct tmpfs_entry *e = *link;
    *link = e->next;
    dir->entry_count--;
    dir->mtime_ns = dir->ctime_ns = vfs_now_ns();
    kfree(e);
}

/* Drops one name of n (already taken out of its directory); frees it when unreferenced. */
static void node_drop_name(struct tmpfs_node *n) {
    if (VFS_ISDIR(n->vn.mode)) n->nlink = 0;
    else n->nlink--;
    n->ctime_ns = vfs_now_ns();
    if (n->nlink == 0 && vnode_mark_dead(&n->vn)) node_free(n);
}

static int tmpfs_lookup(struct vnode *dvn, const char *name, size_t len, struct vnode **out) {
    struct tmpfs_node *dir = node_of(dvn);
    int r = 0;
    mutex_lock(&dir->fs->lock);
    if (dir->nlink == 0) {
        r = -KENOENT; /* removed while still referenced: empty, and its parent may be gone */
    } else if (len == 2 && name[0] == '.' && name[1] == '.') {
        *out = &dir->parent->vn;
    } else {
        struct tmpfs_entry *e = find_entry(dir, name, len, NULL);
        if (e) *out = &e->node->vn;
        else r = -KENOENT;
    }
    if (r == 0) vnode_get(*out);
    mutex_unlock(&dir->fs->lock);
    return r;
}

/* create and mkdir. */
static int make_node(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    struct tmpfs_node *dir = node_of(dvn);
    struct tmpfs *fs = dir->fs;
    int r = 0;
    mutex_lock(&fs->lock);
    if (dir->nlink == 0) {
        r = -KENOENT; /* the directory was removed */
    } else if (find_entry(dir, name, len, NULL)) {
        r = -KEEXIST;
    } else {
        struct tmpfs_node *n = node_new(fs, mode);
        struct tmpfs_entry *e = n ? entry_new(name, len, n) : NULL;
        if (!e) {
            kfree(n);
            r = -KENOSPC;
        } else {
            if (VFS_ISDIR(mode)) {
                n->nlink = 2;
                n->parent = dir;
                dir->nlink++;
            } else {
                n->nlink = 1;
            }
            entry_link(dir, e);
            vnode_get(&n->vn);
            *out = &n->vn;
        }
    }
    mutex_unlock(&fs->lock);
    return r;
}

static int tmpfs_create(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    return make_node(dvn, name, len, S_IFREG | (mode & 07777), out);
}

static int tmpfs_mkdir(struct vnode *dvn, const char *name, size_t len, uint32_t mode, struct vnode **out) {
    return make_node(dvn, name, len, S_IFDIR | (mode & 07777), out);
}

/* unlink (want_dir false) and rmdir (true). */
static int remove_name(struct vnode *dvn, const char *name, size_t len, bool want_dir) {
    struct tmpfs_node *dir = node_of(dvn);
    struct tmpfs_entry **link;
    int r = 0;
    mutex_lock(&dir->fs->lock);
    struct tmpfs_entry *e = find_entry(dir, name, len, &link);
    if (!e) {
        r = -KENOENT;
    } else {
        struct tmpfs_node *n = e->node;
        bool is_dir = VFS_ISDIR(n->vn.mode);
        if (want_dir && !is_dir) r = -KENOTDIR;
        else if (!want_dir && is_dir) r = -KEISDIR;
        else if (is_dir && n->entries) r = -KENOTEMPTY;
        if (r == 0) {
            entry_unlink(dir, link);
            if (is_dir) dir->nlink--;
            node_drop_name(n);
        }
    }
    mutex_unlock(&dir->fs->lock);
    return r;
}

static int tmpfs_unlink(struct vnode *dvn, const char *name, size_t len) { return remove_name(dvn, name, len, false); }
static int tmpfs_rmdir(struct vnode *dvn, const char *name, size_t len) { return remove_name(dvn, name, len, true); }

static int tmpfs_rename(struct vnode *odvn, const char *oname, size_t olen, struct vnode *ndvn, const char *nname,
                        size_t nlen) {
    struct tmpfs_node *odir = node_of(odvn), *ndir = node_of(ndvn);
    struct tmpfs *fs = odir->fs;
    struct tmpfs_entry **olink, **nlink;
    int r = 0;
    mutex_lock(&fs->lock);
    struct tmpfs_entry *oe = find_entry(odir, oname, olen, &olink);
    if (!oe) {
        mutex_unlock(&fs->lock);
        return -KENOENT;
    }
    struct tmpfs_node *n = oe->node;
    bool is_dir = VFS_ISDIR(n->vn.mode);
    if (ndir->nlink == 0) r = -KENOENT;
    if (r == 0 && is_dir) {
        /* A directory must not move into itself or below itself. */
        for (struct tmpfs_node *a = ndir;; a = a->parent) {
            if (a == n) {
                r = -KEINVAL;
                break;
            }
            if (a->parent == a) break;
        }
    }
    struct tmpfs_entry *ne = r == 0 ? find_entry(ndir, nname, nlen, &nlink) : NULL;
    if (ne && ne->node == n) {
        mutex_unlock(&fs->lock);
        return 0; /* both names are the same file: nothing to do */
    }
    if (r == 0 && ne) {
        bool t_dir = VFS_ISDIR(ne->node->vn.mode);
        if (is_dir && !t_dir) r = -KENOTDIR;
        else if (!is_dir && t_dir) r = -KEISDIR;
        else if (t_dir && ne->node->entries) r = -KENOTEMPTY;
    }
    struct tmpfs_entry *moved = r == 0 ? entry_new(nname, nlen, n) : NULL;
    if (r == 0 && !moved) r = -KENOSPC;
    if (r == 0) {
        if (ne) { /* replace the target */
            struct tmpfs_node *victim = ne->node;
            entry_unlink(ndir, nlink);
            if (VFS_ISDIR(victim->vn.mode)) ndir->nlink--;
            node_drop_name(victim);
            /* the unlink may have changed the old list's links: look the old entry up again */
            oe = find_entry(odir, oname, olen, &olink);
        }
        entry_unlink(odir, olink);
        entry_link(ndir, moved);
        if (is_dir) {
            n->parent = ndir;
            odir->nlink--;
            ndir->nlink++;
        }
        n->ctime_ns = vfs_now_ns();
    }
    mutex_unlock(&fs->lock);
    return r;
}

/* Makes room for at least slots chunk pointers. */
static int ensure_slots(struct tmpfs_node *n, size_t slots) {
    if (slots <= n->chunk_slots) return 0;
    size_t cap = n->chunk_slots ? n->chunk_slots : 4;
    while (cap < slots) cap *= 2;
    uint8_t **arr = kzalloc(cap * sizeof(*arr));
    if (!arr) return -KENOSPC;
    if (n->chunks) memcpy(arr, n->chunks, n->chunk_slots * sizeof(*arr));
    kfree(n->chunks);
    n->chunks = arr;
    n->chunk_slots = cap;
    return 0;
}

static int64_t tmpfs_read(struct vnode *vn, uint64_t off, void *buf, size_t len) {
    struct tmpfs_node *n = node_of(vn);
    mutex_lock(&n->fs->lock);
    size_t done = 0;
    if (off < n->size) {
        size_t todo = (size_t)MIN((uint64_t)len, n->size - off);
        while (done < todo) {
            uint64_t pos = off + done;
            size_t in = (size_t)(pos % CHUNK), piece = MIN(todo - done, (size_t)(CHUNK - in));
            uint8_t *c = n->chunks && pos / CHUNK < n->chunk_slots ? n->chunks[pos / CHUNK] : NULL;
            if (c) memcpy((uint8_t *)buf + done, c + in, piece);
            else memset((uint8_t *)buf + done, 0, piece);
            done += piece;
        }
    }
    mutex_unlock(&n->fs->lock);
    return (int64_t)done;
}

static int64_t tmpfs_write(struct vnode *vn, uint64_t off, const void *buf, size_t len) {
    struct tmpfs_node *n = node_of(vn);
    struct tmpfs *fs = n->fs;
    mutex_lock(&fs->lock);
    size_t done = 0;
    int r = 0;
    if (len && ensure_slots(n, (size_t)((off + len + CHUNK - 1) / CHUNK)) < 0) r = -KENOSPC;
    while (r == 0 && done < len) {
        uint64_t pos = off + done;
        size_t in = (size_t)(pos % CHUNK), piece = MIN(len - done, (size_t)(CHUNK - in));
        uint8_t **slot = &n->chunks[pos / CHUNK];
        if (!*slot) {
            if (fs->size_limit && fs->bytes_used + CHUNK > fs->size_limit) {
                r = -KENOSPC;
                break;
            }
            *slot = kzalloc(CHUNK);
            if (!*slot) {
                r = -KENOSPC;
                break;
            }
            fs->bytes_used += CHUNK;
        }
        memcpy(*slot + in, (const uint8_t *)buf + done, piece);
        done += piece;
    }
    if (done) {
        if (off + done > n->size) n->size = off + done;
        n->mtime_ns = n->ctime_ns = vfs_now_ns();
    }
    mutex_unlock(&fs->lock);
    return done ? (int64_t)done : r;
}

static int truncate_locked(struct tmpfs_node *n, uint64_t size) {
    if (size < n->size) {
        size_t keep = (size_t)((size + CHUNK - 1) / CHUNK);
        for (size_t i = keep; i < n->chunk_slots; i++) {
            if (n->chunks[i]) {
                kfree(n->chunks[i]);
                n->chunks[i] = NULL;
                n->fs->bytes_used -= CHUNK;
            }
        }
        /* zero the tail of the last kept chunk, so growing again reads zeros */
        if (size % CHUNK && size / CHUNK < n->chunk_slots && n->chunks[size / CHUNK])
            memset(n->chunks[size / CHUNK] + size % CHUNK, 0, (size_t)(CHUNK - size % CHUNK));
        if (keep == 0) {
            kfree(n->chunks);
            n->chunks = NULL;
            n->chunk_slots = 0;
        }
    }
    n->size = size;
    n->mtime_ns = n->ctime_ns = vfs_now_ns();
    return 0;
}

static int tmpfs_truncate(struct vnode *vn, uint64_t size) {
    struct tmpfs_node *n = node_of(vn);
    mutex_lock(&n->fs->lock);
    int r = truncate_locked(n, size);
    mutex_unlock(&n->fs->lock);
    return r;
}

static void fill_dirent(struct vfs_dirent *out, const char *name, size_t len, struct tmpfs_node *n) {
    out->ino = n->vn.ino;
    out->type = n->vn.mode & S_IFMT;
    out->name_len = (uint16_t)len;
    memcpy(out->name, name, len);
    out->name[len] = '\0';
}

static int tmpfs_readdir(struct vnode *dvn, uint64_t *cookie, struct vfs_dirent *out) {
    struct tmpfs_node *dir = node_of(dvn);
    int r = 0;
    mutex_lock(&dir->fs->lock);
    if (dir->nlink == 0) {
        r = 0; /* removed: no entries, not even "." and ".." */
    } else if (*cookie == 0) {
        fill_dirent(out, ".", 1, dir);
        r = 1;
    } else if (*cookie == 1) {
        fill_dirent(out, "..", 2, dir->parent);
        r = 1;
    } else {
        struct tmpfs_entry *e = dir->entries;
        for (uint64_t i = 2; e && i < *cookie; i++) e = e->next;
        if (e) {
            fill_dirent(out, e->name, e->len, e->node);
            r = 1;
        }
    }
    if (r) (*cookie)++;
    mutex_unlock(&dir->fs->lock);
    return r;
}

static int tmpfs_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct tmpfs_node *n = node_of(vn);
    mutex_lock(&n->fs->lock);
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = n->nlink;
    st->size = VFS_ISDIR(vn->mode) ? (uint64_t)n->entry_count * 32 : n->size;
    uint64_t held = 0;
    for (size_t i = 0; i < n->chunk_slots; i++) held += n->chunks[i] ? CHUNK : 0;
    st->blocks = held / 512;
    st->blksize = CHUNK;
    st->atime_ns = n->atime_ns;
    st->mtime_ns = n->mtime_ns;
    st->ctime_ns = n->ctime_ns;
    mutex_unlock(&n->fs->lock);
    return 0;
}

static int tmpfs_setattr(struct vnode *vn, const struct vfs_setattr *a) {
    struct tmpfs_node *n = node_of(vn);
    int r = 0;
    mutex_lock(&n->fs->lock);
    if ((a->mask & VFS_ATTR_SIZE) && !VFS_ISREG(vn->mode)) r = VFS_ISDIR(vn->mode) ? -KEISDIR : -KEINVAL;
    if (r == 0 && (a->mask & VFS_ATTR_SIZE)) r = truncate_locked(n, a->size);
    if (r == 0) {
        if (a->mask & VFS_ATTR_MODE) vn->mode = (vn->mode & S_IFMT) | (a->mode & 07777);
        if (a->mask & VFS_ATTR_ATIME) n->atime_ns = a->atime_ns;
        if (a->mask & VFS_ATTR_MTIME) n->mtime_ns = a->mtime_ns;
        n->ctime_ns = vfs_now_ns();
    }
    mutex_unlock(&n->fs->lock);
    return r;
}

/* The last reference to a removed node went away. */
static void tmpfs_release(struct vnode *vn) {
    struct tmpfs_node *n = node_of(vn);
    struct tmpfs *fs = n->fs;
    mutex_lock(&fs->lock);
    node_free(n);
    mutex_unlock(&fs->lock);
}

static const struct vnode_ops tmpfs_vnode_ops = {
    .lookup = tmpfs_lookup,
    .create = tmpfs_create,
    .mkdir = tmpfs_mkdir,
    .unlink = tmpfs_unlink,
    .rmdir = tmpfs_rmdir,
    .rename = tmpfs_rename,
    .read = tmpfs_read,
    .write = tmpfs_write,
    .truncate = tmpfs_truncate,
    .readdir = tmpfs_readdir,
    .getattr = tmpfs_getattr,
    .setattr = tmpfs_setattr,
    .sync = NULL,
    .release = tmpfs_release,
};

/* Parses "size=BYTES" (optionally with a K/M/G suffix). */
static int parse_options(const char *opt, uint64_t *limit) {
    *limit = 0;
    if (!opt || !*opt) return 0;
    if (strncmp(opt, "size=", 5) != 0) return -KEINVAL;
    const char *p = opt + 5;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') return -KEINVAL;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return -KEINVAL;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    unsigned shift = *p == 'K' ? 10 : *p == 'M' ? 20 : *p == 'G' ? 30 : 0;
    if (shift) p++;
    if (*p || v > (UINT64_MAX >> shift)) return -KEINVAL;
    *limit = v << shift;
    return 0;
}

static int tmpfs_mount(struct vfs_mount *m, const char *source, const char *options, struct vnode **root) {
    (void)source;
    uint64_t limit;
    int r = parse_options(options, &limit);
    if (r < 0) return r;
    struct tmpfs *fs = kzalloc(sizeof(*fs));
    if (!fs) return -KENOMEM;
    mutex_init(&fs->lock, "tmpfs");
    fs->mount = m;
    fs->next_ino = 1;
    fs->size_limit = limit;
    struct tmpfs_node *rn = node_new(fs, S_IFDIR | 0755);
    if (!rn) {
        kfree(fs);
        return -KENOMEM;
    }
    rn->nlink = 2;
    rn->parent = rn;
    fs->root = rn;
    m->fs_priv = fs;
    vnode_get(&rn->vn);
    *root = &rn->vn;
    return 0;
}

/* Frees the whole tree without recursion (depth is unbounded). */
static int tmpfs_unmount(struct vfs_mount *m) {
    struct tmpfs *fs = m->fs_priv;
    struct tmpfs_node *cur = fs->root;
    for (;;) {
        struct tmpfs_entry *e = cur->entries;
        if (!e) {
            if (cur == fs->root) break;
            cur = cur->parent;
            continue;
        }
        struct tmpfs_node *child = e->node;
        if (VFS_ISDIR(child->vn.mode) && child->entries) {
            cur = child;
            continue;
        }
        cur->entries = e->next;
        kfree(e);
        if (VFS_ISDIR(child->vn.mode) || --child->nlink == 0) node_free(child);
    }
    node_free(fs->root);
    kfree(fs);
    m->fs_priv = NULL;
    return 0;
}

static int tmpfs_statfs(struct vfs_mount *m, uint64_t *total, uint64_t *free_bytes) {
    struct tmpfs *fs = m->fs_priv;
    struct heap_stats hs;
    heap_get_stats(&hs);
    mutex_lock(&fs->lock);
    *total = fs->size_limit ? fs->size_limit : fs->bytes_used + hs.pages_held * PAGE_SIZE;
    *free_bytes = *total > fs->bytes_used ? *total - fs->bytes_used : 0;
    mutex_unlock(&fs->lock);
    return 0;
}

struct vfs_fs_type tmpfs_type = {
    .name = "tmpfs",
    .mount = tmpfs_mount,
    .unmount = tmpfs_unmount,
    .sync = NULL,
    .statfs = tmpfs_statfs,
};

void tmpfs_init(void) { vfs_register_fs(&tmpfs_type); }
