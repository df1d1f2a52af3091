/* vfs.c: the virtual file system core: vnode reference counts, file-system types, the mount
 * table, path resolution (absolute and relative, ".", "..", mount crossing both ways) and
 * the operations on paths. Open files are in vfs_file.c.
 * Follows POSIX.1-2017 XBD 4.13 (pathname resolution) and XSH mkdir/rmdir/unlink/rename with
 * Linux error numbers (see vfs.h). */
#include "vfs.h"
#include "kstring.h"
#include "mm.h"
#include "spinlock.h"
#include "sync.h"
#include "time.h"
#include "printk.h"

static spinlock_t vnode_ref_lock = SPINLOCK_INIT("vnode-refs");
static struct mutex mount_lock = MUTEX_INIT("vfs-mounts");
static struct vfs_fs_type *fs_types;
static struct vfs_mount *mount_list;
static struct vfs_mount *global_root;
static uint32_t next_mount_id = 1;

/* ---- vnodes ---- */

void vnode_init(struct vnode *vn, const struct vnode_ops *ops, struct vfs_mount *m, uint32_t mode, uint64_t ino) {
    memset(vn, 0, sizeof(*vn));
    vn->ops = ops;
    vn->mount = m;
    vn->mode = mode;
    vn->ino = ino;
}

void vnode_get(struct vnode *vn) {
    uint64_t fl = spin_lock_irqsave(&vnode_ref_lock);
    vn->refs++;
    if (vn->mount) vn->mount->vnode_refs++;
    spin_unlock_irqrestore(&vnode_ref_lock, fl);
}

bool vnode_tryget(struct vnode *vn) {
    bool ok = true;
    uint64_t fl = spin_lock_irqsave(&vnode_ref_lock);
    if (vn->refs == 0 && (vn->flags & (VN_NOCACHE | VN_DEAD))) {
        ok = false;
    } else {
        vn->refs++;
        if (vn->mount) vn->mount->vnode_refs++;
    }
    spin_unlock_irqrestore(&vnode_ref_lock, fl);
    return ok;
}

void vnode_put(struct vnode *vn) {
    if (!vn) return;
    bool release = false;
    uint64_t fl = spin_lock_irqsave(&vnode_ref_lock);
    if (vn->refs <= 0) {
        spin_unlock_irqrestore(&vnode_ref_lock, fl);
        printk(LOG_ERR, "vfs: vnode_put on vnode %lu with no reference\n", (unsigned long)vn->ino);
        return;
    }
    vn->refs--;
    if (vn->mount) vn->mount->vnode_refs--;
    if (vn->refs == 0 && (vn->flags & (VN_DEAD | VN_NOCACHE))) release = true;
    spin_unlock_irqrestore(&vnode_ref_lock, fl);
    if (release && vn->ops->release) vn->ops->release(vn);
}

bool vnode_mark_dead(struct vnode *vn) {
    uint64_t fl = spin_lock_irqsave(&vnode_ref_lock);
    vn->flags |= VN_DEAD;
    bool free_now = vn->refs == 0;
    spin_unlock_irqrestore(&vnode_ref_lock, fl);
    return free_now;
}

uint64_t vfs_now_ns(void) {
    static int64_t epoch_offset_ns; /* wall time - monotonic time */
    static bool have_epoch;
    if (!have_epoch) {
        struct rtc_time rt;
        if (rtc_read(&rt) == 0) {
            int64_t secs = rtc_to_unix(&rt);
            if (secs > 0) epoch_offset_ns = secs * 1000000000ll - (int64_t)time_ns();
        }
        have_epoch = true;
    }
    return (uint64_t)((int64_t)time_ns() + epoch_offset_ns);
}

/* ---- path resolution ---- */

static bool is_dot(const char *n, size_t len) { return len == 1 && n[0] == '.'; }
static bool is_dotdot(const char *n, size_t len) { return len == 2 && n[0] == '.' && n[1] == '.'; }

static struct vnode *ctx_root(const struct vfs_ctx *ctx) {
    if (ctx && ctx->root) return ctx->root;
    return global_root ? global_root->root : NULL;
}

/* Follows mounts stacked on vn: returns the top root (referenced), consuming vn's reference. */
static struct vnode *cross_down(struct vnode *vn) {
    mutex_lock(&mount_lock);
    while (vn->covered_by) {
        struct vnode *top = vn->covered_by->root;
        vnode_get(top);
        vnode_put(vn);
        vn = top;
    }
    mutex_unlock(&mount_lock);
    return vn;
}

/* One step of resolution from directory cur (referenced by the caller, not consumed) by the
 * component (name, len); stores the referenced result in *out. */
static int walk_step(struct vnode *cur, struct vnode *root, const char *name, size_t len, struct vnode **out) {
    if (!VFS_ISDIR(cur->mode)) return -KENOTDIR;
    if (is_dot(name, len)) {
        vnode_get(cur);
        *out = cur;
        return 0;
    }
    vnode_get(cur);
    if (is_dotdot(name, len)) {
        /* At a mount root, ".." belongs to the directory the mount covers (repeatedly for
         * stacked mounts); the name-space root is its own parent. */
        mutex_lock(&mount_lock);
        while (cur != root && cur->mount && cur == cur->mount->root && cur->mount->covered) {
            struct vnode *under = cur->mount->covered;
            vnode_get(under);
            vnode_put(cur);
            cur = under;
        }
        mutex_unlock(&mount_lock);
        if (cur == root) {
            *out = cur;
            return 0;
        }
    }
    if (!cur->ops->lookup) {
        vnode_put(cur);
        return -KENOSYS;
    }
    struct vnode *next = NULL;
    int r = cur->ops->lookup(cur, name, len, &next);
    vnode_put(cur);
    if (r < 0) return r;
    *out = cross_down(next);
    return 0;
}

/* Resolves path. With want_parent, stops before the last component: *out is its directory
 * and (*last, *last_len) the component (last_len 0 when the path names only "/"). */
static int walk(const struct vfs_ctx *ctx, const char *path, bool want_parent, struct vnode **out,
                const char **last, size_t *last_len) {
    int r = vfs_path_check(path);
    if (r < 0) return r;
    struct vnode *root = ctx_root(ctx);
    if (!root) return -KENOENT;
    struct vnode *cur = (path[0] != '/' && ctx && ctx->cwd) ? ctx->cwd : root;
    vnode_get(cur);
    if (want_parent) *last_len = 0;
    const char *p = path, *name;
    size_t len;
    while ((r = vfs_path_next(&p, &name, &len)) == 1) {
        if (want_parent && vfs_path_at_end(p)) {
            if (!VFS_ISDIR(cur->mode)) {
                vnode_put(cur);
                return -KENOTDIR;
            }
            *last = name;
            *last_len = len;
            break;
        }
        struct vnode *next;
        r = walk_step(cur, root, name, len, &next);
        vnode_put(cur);
        if (r < 0) return r;
        cur = next;
    }
    if (r < 0) {
        vnode_put(cur);
        return r;
    }
    if (!want_parent && vfs_path_trailing_slash(path) && !VFS_ISDIR(cur->mode)) {
        vnode_put(cur);
        return -KENOTDIR;
    }
    *out = cur;
    return 0;
}

int vfs_lookup(const struct vfs_ctx *ctx, const char *path, struct vnode **out) {
    return walk(ctx, path, false, out, NULL, NULL);
}

/* The directory-entry step used by create-type operations: looks name up in dir without
 * crossing into a mount on it. */
static int lookup_raw(struct vnode *dir, const char *name, size_t len, struct vnode **out) {
    if (!dir->ops->lookup) return -KENOSYS;
    return dir->ops->lookup(dir, name, len, out);
}

int vfs_stat(const struct vfs_ctx *ctx, const char *path, struct vfs_stat *st) {
    struct vnode *vn;
    int r = vfs_lookup(ctx, path, &vn);
    if (r < 0) return r;
    memset(st, 0, sizeof(*st));
    r = vn->ops->getattr ? vn->ops->getattr(vn, st) : -KENOSYS;
    if (vn->mount) st->dev = vn->mount->id;
    vnode_put(vn);
    return r;
}

int vfs_mkdir(const struct vfs_ctx *ctx, const char *path, uint32_t mode) {
    struct vnode *dir, *vn;
    const char *name;
    size_t len;
    int r = walk(ctx, path, true, &dir, &name, &len);
    if (r < 0) return r;
    if (len == 0 || is_dot(name, len) || is_dotdot(name, len)) r = -KEEXIST;
    else if (!dir->ops->mkdir) r = -KENOSYS;
    else r = dir->ops->mkdir(dir, name, len, mode & 07777, &vn);
    if (r == 0) vnode_put(vn);
    vnode_put(dir);
    return r;
}

int vfs_rmdir(const struct vfs_ctx *ctx, const char *path) {
    struct vnode *dir, *vn;
    const char *name;
    size_t len;
    int r = walk(ctx, path, true, &dir, &name, &len);
    if (r < 0) return r;
    if (len == 0) r = -KEBUSY;
    else if (is_dot(name, len)) r = -KEINVAL;
    else if (is_dotdot(name, len)) r = -KENOTEMPTY;
    else if ((r = lookup_raw(dir, name, len, &vn)) == 0) {
        if (!VFS_ISDIR(vn->mode)) r = -KENOTDIR;
        else if (vn->covered_by) r = -KEBUSY;
        vnode_put(vn);
        if (r == 0) r = dir->ops->rmdir ? dir->ops->rmdir(dir, name, len) : -KENOSYS;
    }
    vnode_put(dir);
    return r;
}

int vfs_unlink(const struct vfs_ctx *ctx, const char *path) {
    struct vnode *dir, *vn;
    const char *name;
    size_t len;
    int r = walk(ctx, path, true, &dir, &name, &len);
    if (r < 0) return r;
    if (len == 0 || is_dot(name, len) || is_dotdot(name, len)) r = -KEISDIR;
    else if ((r = lookup_raw(dir, name, len, &vn)) == 0) {
        if (VFS_ISDIR(vn->mode)) r = -KEISDIR;
        else if (vfs_path_trailing_slash(path)) r = -KENOTDIR;
        vnode_put(vn);
        if (r == 0) r = dir->ops->unlink ? dir->ops->unlink(dir, name, len) : -KENOSYS;
    }
    vnode_put(dir);
    return r;
}

int vfs_rename(const struct vfs_ctx *ctx, const char *old_path, const char *new_path) {
    struct vnode *odir, *ndir, *vn;
    const char *oname, *nname;
    size_t olen, nlen;
    int r = walk(ctx, old_path, true, &odir, &oname, &olen);
    if (r < 0) return r;
    r = walk(ctx, new_path, true, &ndir, &nname, &nlen);
    if (r < 0) {
        vnode_put(odir);
        return r;
    }
    if (olen == 0 || nlen == 0 || is_dot(oname, olen) || is_dotdot(oname, olen) || is_dot(nname, nlen) ||
        is_dotdot(nname, nlen)) {
        r = -KEBUSY;
    } else if (odir->mount != ndir->mount) {
        r = -KEXDEV;
    } else if ((r = lookup_raw(odir, oname, olen, &vn)) == 0) {
        if (vn->covered_by) r = -KEBUSY;
        else if (!VFS_ISDIR(vn->mode) && (vfs_path_trailing_slash(old_path) || vfs_path_trailing_slash(new_path)))
            r = -KENOTDIR;
        vnode_put(vn);
        if (r == 0) r = odir->ops->rename ? odir->ops->rename(odir, oname, olen, ndir, nname, nlen) : -KENOSYS;
    }
    vnode_put(odir);
    vnode_put(ndir);
    return r;
}

int vfs_truncate(const struct vfs_ctx *ctx, const char *path, uint64_t size) {
    struct vnode *vn;
    int r = vfs_lookup(ctx, path, &vn);
    if (r < 0) return r;
    if (VFS_ISDIR(vn->mode)) r = -KEISDIR;
    else if (!VFS_ISREG(vn->mode)) r = -KEINVAL;
    else r = vn->ops->truncate ? vn->ops->truncate(vn, size) : -KENOSYS;
    vnode_put(vn);
    return r;
}

/* Opens or creates the vnode for vfs_open (file objects are in vfs_file.c). */
int vfs_open_vnode(const struct vfs_ctx *ctx, const char *path, uint32_t flags, uint32_t mode, struct vnode **out) {
    if (!(flags & O_CREAT)) return vfs_lookup(ctx, path, out);
    struct vnode *dir;
    const char *name;
    size_t len;
    int r = walk(ctx, path, true, &dir, &name, &len);
    if (r < 0) return r;
    if (len == 0 || is_dot(name, len) || is_dotdot(name, len)) {
        vnode_put(dir);
        return (flags & O_EXCL) ? -KEEXIST : -KEISDIR;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        r = walk_step(dir, ctx_root(ctx), name, len, out);
        if (r == 0) {
            vnode_put(dir);
            if (flags & O_EXCL) {
                vnode_put(*out);
                return -KEEXIST;
            }
            if (VFS_ISDIR((*out)->mode) || vfs_path_trailing_slash(path)) {
                /* O_CREAT on a directory is EISDIR; "file/" is ENOTDIR */
                r = VFS_ISDIR((*out)->mode) ? -KEISDIR : -KENOTDIR;
                vnode_put(*out);
                return r;
            }
            return 0;
        }
        if (r != -KENOENT) break;
        if (vfs_path_trailing_slash(path)) {
            r = -KEISDIR;
            break;
        }
        r = dir->ops->create ? dir->ops->create(dir, name, len, mode & 07777, out) : -KENOSYS;
        if (r != -KEEXIST || (flags & O_EXCL)) break; /* lost a race: look it up again */
    }
    vnode_put(dir);
    return r;
}

/* ---- file-system types and mounts ---- */

int vfs_register_fs(struct vfs_fs_type *type) {
    mutex_lock(&mount_lock);
    for (struct vfs_fs_type *t = fs_types; t; t = t->next) {
        if (t == type) {
            mutex_unlock(&mount_lock);
            return 0;
        }
        if (strcmp(t->name, type->name) == 0) {
            mutex_unlock(&mount_lock);
            return -KEEXIST;
        }
    }
    type->next = fs_types;
    fs_types = type;
    mutex_unlock(&mount_lock);
    return 0;
}

static struct vfs_fs_type *find_type(const char *name) {
    for (struct vfs_fs_type *t = fs_types; t; t = t->next)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

int vfs_mount(const struct vfs_ctx *ctx, const char *target, const char *fstype, const char *source,
              const char *options, struct vfs_mount **out) {
    mutex_lock(&mount_lock);
    struct vfs_fs_type *type = find_type(fstype);
    mutex_unlock(&mount_lock);
    if (!type) return -KENODEV;
    bool as_global_root = target && !(ctx && ctx->root) && target[0] == '/' && vfs_path_at_end(target);
    struct vnode *covered = NULL;
    if (target && !as_global_root) {
        int r = vfs_lookup(ctx, target, &covered);
        if (r < 0) return r;
        if (!VFS_ISDIR(covered->mode)) {
            vnode_put(covered);
            return -KENOTDIR;
        }
    }
    struct vfs_mount *m = kzalloc(sizeof(*m));
    if (!m) {
        vnode_put(covered);
        return -KENOMEM;
    }
    m->type = type;
    /* the mount table shows absolute targets normalised ("/a//b/" -> "/a/b") */
    if (target && (target[0] != '/' || vfs_path_normalize(target, m->path, sizeof(m->path)) < 0))
        strlcpy(m->path, target, sizeof(m->path));
    if (source) strlcpy(m->source, source, sizeof(m->source));
    struct vnode *root = NULL;
    int r = type->mount(m, source, options, &root);
    if (r < 0) {
        vnode_put(covered);
        kfree(m);
        return r;
    }
    m->root = root;
    mutex_lock(&mount_lock);
    /* one file system per mount point: a directory already covered, or the root of a
     * mount (which is what a path to a mount point resolves to), is refused */
    if ((as_global_root && global_root) ||
        (covered && (covered->covered_by || (covered->mount && covered == covered->mount->root)))) {
        mutex_unlock(&mount_lock);
        vnode_put(covered);
        vnode_put(root);
        type->unmount(m);
        kfree(m);
        return -KEBUSY;
    }
    m->id = next_mount_id++;
    if (covered) {
        m->covered = covered;
        m->parent = covered->mount;
        covered->covered_by = m;
    }
    if (as_global_root) global_root = m;
    m->next = mount_list;
    mount_list = m;
    mutex_unlock(&mount_lock);
    if (out) *out = m;
    return 0;
}

int vfs_umount(struct vfs_mount *m) {
    mutex_lock(&mount_lock);
    for (struct vfs_mount *o = mount_list; o; o = o->next) {
        if (o->parent == m) {
            mutex_unlock(&mount_lock);
            return -KEBUSY;
        }
    }
    uint64_t fl = spin_lock_irqsave(&vnode_ref_lock);
    bool busy = m->vnode_refs != 1;
    spin_unlock_irqrestore(&vnode_ref_lock, fl);
    if (busy) {
        mutex_unlock(&mount_lock);
        return -KEBUSY;
    }
    struct vfs_mount **pp = &mount_list;
    while (*pp && *pp != m) pp = &(*pp)->next;
    if (*pp) *pp = m->next;
    if (global_root == m) global_root = NULL;
    if (m->covered) m->covered->covered_by = NULL;
    mutex_unlock(&mount_lock);
    if (m->type->sync) m->type->sync(m);
    vnode_put(m->covered);
    vnode_put(m->root);
    int r = m->type->unmount(m);
    kfree(m);
    return r;
}

void vfs_mount_for_each(void (*fn)(const struct vfs_mount *m, void *arg), void *arg) {
    mutex_lock(&mount_lock);
    for (struct vfs_mount *m = mount_list; m; m = m->next) fn(m, arg);
    mutex_unlock(&mount_lock);
}

int vfs_statfs(struct vfs_mount *m, uint64_t *total_bytes, uint64_t *free_bytes) {
    if (!m->type->statfs) return -KENOSYS;
    return m->type->statfs(m, total_bytes, free_bytes);
}

int vfs_sync_all(void) {
    int first = 0;
    mutex_lock(&mount_lock);
    for (struct vfs_mount *m = mount_list; m; m = m->next) {
        if (!m->type->sync) continue;
        int r = m->type->sync(m);
        if (r < 0 && first == 0) first = r;
    }
    mutex_unlock(&mount_lock);
    return first;
}
