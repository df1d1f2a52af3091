/* vfs_file.c: open-file objects of the VFS: open with O_* flags, read/write at the offset,
 * positioned I/O, lseek, directory iteration, fstat, close with reference counts.
 * Follows POSIX.1-2017 XSH open(), read(), write(), lseek(), close() with the Linux flag
 * values and error numbers (see vfs.h). */
#include "vfs.h"
#include "kstring.h"
#include "mm.h"
#include "spinlock.h"
#include "sync.h"

static spinlock_t file_ref_lock = SPINLOCK_INIT("vfs-file-refs");

int vfs_file_from_vnode(struct vnode *vn, uint32_t flags, const struct vfs_file_ops *fops, void *priv,
                        struct vfs_file **out) {
    struct vfs_file *f = kzalloc(sizeof(*f));
    if (!f) return -KENOMEM;
    f->vn = vn;
    mutex_init(&f->pos_lock, "vfs-file-pos");
    f->flags = flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC);
    f->refs = 1;
    f->fops = fops;
    f->priv = priv;
    *out = f;
    return 0;
}

int vfs_open(const struct vfs_ctx *ctx, const char *path, uint32_t flags, uint32_t mode, struct vfs_file **out) {
    uint32_t acc = flags & O_ACCMODE_K;
    if (acc == O_ACCMODE_K) return -KEINVAL;
    struct vnode *vn;
    int r = vfs_open_vnode(ctx, path, flags, mode, &vn);
    if (r < 0) return r;
    if ((flags & O_DIRECTORY) && !VFS_ISDIR(vn->mode)) r = -KENOTDIR;
    else if (VFS_ISDIR(vn->mode) && acc != O_RDONLY) r = -KEISDIR;
    else if ((flags & O_TRUNC) && acc != O_RDONLY && VFS_ISREG(vn->mode))
        r = vn->ops->truncate ? vn->ops->truncate(vn, 0) : -KENOSYS;
    if (r == 0) r = vfs_file_from_vnode(vn, flags, NULL, NULL, out);
    if (r == 0 && vn->ops->open) {
        r = vn->ops->open(vn, *out);
        if (r < 0) kfree(*out);
    }
    if (r < 0) vnode_put(vn);
    return r;
}

static bool can_read(const struct vfs_file *f) { return (f->flags & O_ACCMODE_K) != O_WRONLY; }
static bool can_write(const struct vfs_file *f) { return (f->flags & O_ACCMODE_K) != O_RDONLY; }

/* Checks a regular-file data transfer before it reaches the engine. */
static int check_io(struct vfs_file *f, bool write) {
    if (write ? !can_write(f) : !can_read(f)) return -KEBADF;
    if (VFS_ISDIR(f->vn->mode)) return -KEISDIR;
    if (write ? !f->vn->ops->write : !f->vn->ops->read) return -KEINVAL;
    return 0;
}

int64_t vfs_read(struct vfs_file *f, void *buf, size_t len) {
    if (f->fops && f->fops->read) return can_read(f) ? f->fops->read(f, buf, len) : -KEBADF;
    int r = check_io(f, false);
    if (r < 0) return r;
    if (mutex_lock(&f->pos_lock) < 0) return -KEINTR;
    int64_t n = f->vn->ops->read(f->vn, f->offset, buf, len);
    if (n > 0) f->offset += (uint64_t)n;
    mutex_unlock(&f->pos_lock);
    return n;
}

int64_t vfs_write(struct vfs_file *f, const void *buf, size_t len) {
    if (f->fops && f->fops->write) return can_write(f) ? f->fops->write(f, buf, len) : -KEBADF;
    int r = check_io(f, true);
    if (r < 0) return r;
    if (mutex_lock(&f->pos_lock) < 0) return -KEINTR;
    int64_t n = 0;
    if (f->flags & O_APPEND) {
        /* the size and the write are two engine calls: appends through different open
         * files of one vnode may still overwrite each other (no vnode lock yet) */
        struct vfs_stat st;
        n = vfs_fstat(f, &st);
        if (n == 0) f->offset = st.size;
    }
    if (n == 0 && f->offset + len < f->offset) n = -KEINVAL;
    if (n == 0) n = f->vn->ops->write(f->vn, f->offset, buf, len);
    if (n > 0) f->offset += (uint64_t)n;
    mutex_unlock(&f->pos_lock);
    return n;
}

int64_t vfs_pread(struct vfs_file *f, void *buf, size_t len, uint64_t off) {
    if (f->fops) return -KESPIPE;
    int r = check_io(f, false);
    return r < 0 ? r : f->vn->ops->read(f->vn, off, buf, len);
}

int64_t vfs_pwrite(struct vfs_file *f, const void *buf, size_t len, uint64_t off) {
    if (f->fops) return -KESPIPE;
    int r = check_io(f, true);
    if (r < 0) return r;
    if (off + len < off) return -KEINVAL;
    return f->vn->ops->write(f->vn, off, buf, len);
}

int64_t vfs_lseek(struct vfs_file *f, int64_t off, int whence) {
    if (f->fops || (f->vn->mode & S_IFMT) == S_IFIFO) return -KESPIPE;
    int64_t base;
    if (whence == SEEK_SET) {
        base = 0;
    } else if (whence == SEEK_CUR) {
        base = (int64_t)f->offset;
    } else if (whence == SEEK_END) {
        struct vfs_stat st;
        int r = vfs_fstat(f, &st);
        if (r < 0) return r;
        base = (int64_t)st.size;
    } else {
        return -KEINVAL;
    }
    if (mutex_lock(&f->pos_lock) < 0) return -KEINTR;
    int64_t pos;
    if (whence == SEEK_CUR) base = (int64_t)f->offset;
    if (__builtin_add_overflow(base, off, &pos) || pos < 0) {
        pos = -KEINVAL;
    } else if (VFS_ISDIR(f->vn->mode)) {
        if (pos != 0) pos = -KEINVAL; /* directories rewind only */
        else f->dir_cookie = 0;
    }
    if (pos >= 0) f->offset = (uint64_t)pos;
    mutex_unlock(&f->pos_lock);
    return pos;
}

int vfs_readdir(struct vfs_file *f, struct vfs_dirent *out) {
    if (!VFS_ISDIR(f->vn->mode)) return -KENOTDIR;
    if (!f->vn->ops->readdir) return -KENOSYS;
    if (mutex_lock(&f->pos_lock) < 0) return -KEINTR;
    int r = f->vn->ops->readdir(f->vn, &f->dir_cookie, out);
    mutex_unlock(&f->pos_lock);
    return r;
}

int vfs_fstat(struct vfs_file *f, struct vfs_stat *st) {
    memset(st, 0, sizeof(*st));
    if (!f->vn->ops->getattr) return -KENOSYS;
    int r = f->vn->ops->getattr(f->vn, st);
    if (f->vn->mount) st->dev = f->vn->mount->id;
    return r;
}

int vfs_ftruncate(struct vfs_file *f, uint64_t size) {
    if (!can_write(f) || f->fops) return -KEINVAL;
    if (!VFS_ISREG(f->vn->mode)) return VFS_ISDIR(f->vn->mode) ? -KEISDIR : -KEINVAL;
    return f->vn->ops->truncate ? f->vn->ops->truncate(f->vn, size) : -KENOSYS;
}

int vfs_fsync(struct vfs_file *f) {
    if (f->fops || !f->vn->ops->sync) return 0;
    return f->vn->ops->sync(f->vn);
}

void vfs_file_set_flags(struct vfs_file *f, uint32_t flags) {
    uint32_t changeable = O_APPEND | O_NONBLOCK;
    __atomic_store_n(&f->flags, (f->flags & ~changeable) | (flags & changeable), __ATOMIC_RELAXED);
}

struct vfs_file *vfs_file_get(struct vfs_file *f) {
    uint64_t fl = spin_lock_irqsave(&file_ref_lock);
    f->refs++;
    spin_unlock_irqrestore(&file_ref_lock, fl);
    return f;
}

void vfs_close(struct vfs_file *f) {
    if (!f) return;
    uint64_t fl = spin_lock_irqsave(&file_ref_lock);
    bool last = --f->refs == 0;
    spin_unlock_irqrestore(&file_ref_lock, fl);
    if (!last) return;
    if (f->fops && f->fops->close) f->fops->close(f);
    vnode_put(f->vn);
    kfree(f);
}
