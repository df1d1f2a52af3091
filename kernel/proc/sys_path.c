/* sys_path.c: the path and metadata system calls of the Linux x86-64 ABI: stat fstat lstat
 * newfstatat statx getdents64 getdents mkdir mkdirat rmdir unlink unlinkat rename renameat
 * chdir fchdir getcwd umask access faccessat faccessat2 readlink readlinkat statfs fstatfs
 * chmod fchmod fchmodat link symlink.
 *
 * Semantics and structures follow the Linux man-pages (man 2 stat, statx, getdents, mkdir,
 * unlink, rename, chdir, getcwd, umask, access, readlink, statfs, chmod, link, symlink) and
 * the x86-64 layouts of struct stat (144 bytes), struct statx (256), struct linux_dirent64 /
 * linux_dirent and struct statfs (120). *at calls resolve a relative path from the
 * directory behind dirfd (AT_FDCWD = the cwd); an absolute path ignores dirfd, as on Linux.
 *
 * Every process runs as root (uid 0, gid 0): access() grants R and W always and X when any
 * execute bit is set or the file is a directory. There are no symbolic links yet: readlink
 * answers -EINVAL for any existing path (as Linux does for a non-link) and the lookup error
 * (-ENOENT, -ENOTDIR, ...) otherwise; AT_SYMLINK_NOFOLLOW and lstat behave like stat;
 * link and symlink check their arguments and then answer -EPERM (no links can be stored).
 *
 * The pure conversions (stat, statx, directory records) come first and compile on the host
 * (tests/host/test_sys_path.c, -DHOST_TEST). */
#include "vfs.h"
#include "kstring.h"

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_EACCESS 0x200
#define AT_NO_AUTOMOUNT 0x800
#define AT_EMPTY_PATH 0x1000
#define AT_STATX_SYNC_TYPE 0x6000
#define O_PATH_K 010000000
#define F_OK 0
#define X_OK 1
#define W_OK 2
#define R_OK 4

/* ---- Linux structures (x86-64) ---- */
struct linux_stat {
    uint64_t st_dev, st_ino, st_nlink;
    uint32_t st_mode, st_uid, st_gid, pad0;
    uint64_t st_rdev;
    int64_t st_size, st_blksize, st_blocks;
    int64_t st_atime_sec, st_atime_nsec, st_mtime_sec, st_mtime_nsec, st_ctime_sec, st_ctime_nsec;
    int64_t reserved[3];
};
_Static_assert(sizeof(struct linux_stat) == 144, "struct stat is 144 bytes on x86-64");

struct statx_ts {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct linux_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad0;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
_Static_assert(sizeof(struct linux_statx) == 256, "struct statx is 256 bytes");
#define STATX_BASIC_STATS 0x7ffu /* type, mode, nlink, uid, gid, atime, mtime, ctime, ino, size, blocks */

struct linux_statfs {
    int64_t f_type, f_bsize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};
_Static_assert(sizeof(struct linux_statfs) == 120, "struct statfs is 120 bytes on x86-64");

#define NS_PER_S 1000000000ull
#define DIRENT64_NAME_OFF 19 /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
#define DIRENT_NAME_OFF 18   /* d_ino 8, d_off 8, d_reclen 2 (d_type is the record's last byte) */
#define DIRENT_MAX_RECLEN 280

/* Fills a Linux struct stat from the VFS's attributes (everything owned by root). */
void sys_stat_to_linux(const struct vfs_stat *st, struct linux_stat *out) {
    memset(out, 0, sizeof(*out));
    out->st_dev = st->dev;
    out->st_ino = st->ino;
    out->st_nlink = st->nlink;
    out->st_mode = st->mode;
    out->st_size = (int64_t)st->size;
    out->st_blksize = st->blksize ? st->blksize : 4096;
    out->st_blocks = (int64_t)st->blocks;
    out->st_atime_sec = (int64_t)(st->atime_ns / NS_PER_S);
    out->st_atime_nsec = (int64_t)(st->atime_ns % NS_PER_S);
    out->st_mtime_sec = (int64_t)(st->mtime_ns / NS_PER_S);
    out->st_mtime_nsec = (int64_t)(st->mtime_ns % NS_PER_S);
    out->st_ctime_sec = (int64_t)(st->ctime_ns / NS_PER_S);
    out->st_ctime_nsec = (int64_t)(st->ctime_ns % NS_PER_S);
}

static struct statx_ts statx_time(uint64_t ns) {
    return (struct statx_ts){(int64_t)(ns / NS_PER_S), (uint32_t)(ns % NS_PER_S), 0};
}

/* Fills a Linux struct statx (the basic fields; no birth time). */
void sys_stat_to_statx(const struct vfs_stat *st, struct linux_statx *out) {
    memset(out, 0, sizeof(*out));
    out->stx_mask = STATX_BASIC_STATS;
    out->stx_blksize = st->blksize ? st->blksize : 4096;
    out->stx_nlink = st->nlink;
    out->stx_mode = (uint16_t)st->mode;
    out->stx_ino = st->ino;
    out->stx_size = st->size;
    out->stx_blocks = st->blocks;
    out->stx_atime = statx_time(st->atime_ns);
    out->stx_mtime = statx_time(st->mtime_ns);
    out->stx_ctime = statx_time(st->ctime_ns);
    out->stx_dev_minor = st->dev; /* major 0: like Linux's anonymous block devices */
}

/* Encodes one directory record into out (space bytes): a struct linux_dirent64 (is64) or the
 * old struct linux_dirent (d_type in the last byte), with d_reclen a multiple of 8. d_type
 * is the S_IFMT type >> 12 (DT_REG 8, DT_DIR 4, ...). Returns the record length, or -KEINVAL
 * when it does not fit in space. */
int sys_dirent_encode(bool is64, uint64_t ino, int64_t next_off, uint32_t mode, const char *name, size_t len,
                      uint8_t *out, size_t space) {
    size_t reclen = is64 ? ALIGN_UP(DIRENT64_NAME_OFF + len + 1, 8) : ALIGN_UP(DIRENT_NAME_OFF + len + 2, 8);
    if (reclen > space || len > VFS_NAME_MAX) return -KEINVAL;
    uint8_t type = (uint8_t)((mode & S_IFMT) >> 12);
    uint16_t rl = (uint16_t)reclen;
    memset(out, 0, reclen);
    memcpy(out, &ino, 8);
    memcpy(out + 8, &next_off, 8);
    memcpy(out + 16, &rl, 2);
    if (is64) {
        out[18] = type;
        memcpy(out + DIRENT64_NAME_OFF, name, len);
    } else {
        memcpy(out + DIRENT_NAME_OFF, name, len);
        out[reclen - 1] = type;
    }
    return (int)reclen;
}

/* Linux f_type magic numbers (linux/magic.h) for our file-system types. */
int64_t sys_statfs_magic(const char *fs_type) {
    static const struct { const char *name; int64_t magic; } map[] = {
        {"tmpfs", 0x01021994}, {"fat32", 0x4d44}, {"9p", 0x01021997}, {"procfs", 0x9fa0}, {"devfs", 0x1373},
    };
    if (!fs_type) return 0x50495045; /* PIPEFS_MAGIC: pipes have no mount */
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (strcmp(map[i].name, fs_type) == 0) return map[i].magic;
    return 0;
}

#ifndef HOST_TEST
#include "proc.h"
#include "syscall.h"
#include "uaccess.h"
#include "mm.h"

/* ---- helpers shared with sys_file.c (declared there) ---- */

/* Copies a user path into a kmalloc'd VFS_PATH_MAX buffer (*out; the caller kfrees it).
 * Returns the length or -KEFAULT / -KENAMETOOLONG / -KENOMEM. */
int64_t sys_path_from_user(uint64_t upath, char **out) {
    char *buf = kmalloc(VFS_PATH_MAX);
    if (!buf) return -KENOMEM;
    int64_t n = strncpy_from_user(buf, (const char *)upath, VFS_PATH_MAX);
    if (n < 0) {
        kfree(buf);
        return n;
    }
    *out = buf;
    return n;
}

/* The vfs_ctx for resolving path relative to dirfd: the process's root and cwd, or with cwd
 * = the directory open at dirfd (kept referenced in *dir until the caller vfs_closes it).
 * An absolute path ignores dirfd. -KENOENT (empty path), -KEBADF, -KENOTDIR. */
int sys_at_ctx(int dirfd, const char *path, struct vfs_ctx *ctx, struct vfs_file **dir) {
    const struct vfs_ctx *pc = proc_vfs_ctx();
    *dir = NULL;
    if (pc) *ctx = *pc;
    else ctx->root = ctx->cwd = NULL;
    if (!path[0]) return -KENOENT;
    if (path[0] == '/' || dirfd == AT_FDCWD) return 0;
    struct vfs_file *f = fd_get(dirfd);
    if (!f) return -KEBADF;
    if (!VFS_ISDIR(f->vn->mode)) {
        vfs_close(f);
        return -KENOTDIR;
    }
    ctx->cwd = f->vn;
    *dir = f;
    return 0;
}

/* A user path resolved against dirfd, ready for a vfs_* call. */
struct at_path {
    char *path;
    struct vfs_ctx ctx;
    struct vfs_file *dir;
};

static int at_begin(int dirfd, uint64_t upath, struct at_path *a) {
    a->path = NULL;
    a->dir = NULL;
    int64_t n = sys_path_from_user(upath, &a->path);
    if (n < 0) return (int)n;
    int r = sys_at_ctx(dirfd, a->path, &a->ctx, &a->dir);
    if (r < 0) {
        kfree(a->path);
        a->path = NULL;
    }
    return r;
}

static void at_end(struct at_path *a) {
    kfree(a->path);
    vfs_close(a->dir);
}

static uint32_t current_umask(void) {
    struct process *p = proc_current();
    return p ? p->umask : 022;
}

/* ---- stat family ---- */

/* Attributes of (dirfd, path) per the *at flags; AT_EMPTY_PATH with "" means dirfd itself. */
static int stat_at(int dirfd, uint64_t upath, uint32_t flags, struct vfs_stat *st) {
    if (flags & ~(uint32_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE))
        return -KEINVAL;
    char *path;
    int64_t n = sys_path_from_user(upath, &path);
    if (n < 0) return (int)n;
    int r;
    if (n == 0 && (flags & AT_EMPTY_PATH)) {
        if (dirfd == AT_FDCWD) {
            r = vfs_stat(proc_vfs_ctx(), ".", st);
        } else {
            struct vfs_file *f = fd_get(dirfd);
            r = f ? vfs_fstat(f, st) : -KEBADF;
            vfs_close(f);
        }
    } else {
        struct vfs_ctx ctx;
        struct vfs_file *dir;
        r = sys_at_ctx(dirfd, path, &ctx, &dir);
        if (r == 0) r = vfs_stat(&ctx, path, st);
        vfs_close(dir);
    }
    kfree(path);
    return r;
}

static int64_t put_stat(uint64_t ubuf, const struct vfs_stat *st) {
    struct linux_stat ls;
    sys_stat_to_linux(st, &ls);
    return copy_to_user((void *)ubuf, &ls, sizeof(ls));
}

SYSCALL(SYS_newfstatat, newfstatat) {
    struct vfs_stat st;
    int r = stat_at((int)a0, a1, (uint32_t)a3, &st);
    return r < 0 ? r : put_stat(a2, &st);
}

SYSCALL(SYS_stat, stat) {
    struct vfs_stat st;
    int r = stat_at(AT_FDCWD, a0, 0, &st);
    return r < 0 ? r : put_stat(a1, &st);
}

/* No symbolic links yet: lstat is stat. */
SYSCALL(SYS_lstat, lstat) {
    struct vfs_stat st;
    int r = stat_at(AT_FDCWD, a0, AT_SYMLINK_NOFOLLOW, &st);
    return r < 0 ? r : put_stat(a1, &st);
}

SYSCALL(SYS_fstat, fstat) {
    struct vfs_file *f = fd_get((int)a0);
    if (!f) return -KEBADF;
    struct vfs_stat st;
    int r = vfs_fstat(f, &st);
    vfs_close(f);
    return r < 0 ? r : put_stat(a1, &st);
}

/* statx(dirfd, path, flags, mask, buf): every basic field is always filled. */
SYSCALL(SYS_statx, statx) {
    if ((uint32_t)a3 & 0x80000000u) return -KEINVAL; /* STATX__RESERVED */
    struct vfs_stat st;
    int r = stat_at((int)a0, a1, (uint32_t)a2, &st);
    if (r < 0) return r;
    struct linux_statx sx;
    sys_stat_to_statx(&st, &sx);
    return copy_to_user((void *)a4, &sx, sizeof(sx));
}

/* ---- directory listing ---- */

/* getdents64 / getdents: as many whole records as fit in count bytes. The position (the
 * file's dir_cookie) advances only past records that reached the caller. 0 at the end;
 * -EINVAL when the next record does not fit into an empty buffer. */
static int64_t do_getdents(int fd, uint64_t udirp, uint64_t count, bool is64) {
    struct vfs_file *f = fd_get(fd);
    if (!f) return -KEBADF;
    int64_t r = 0;
    count = (uint32_t)count; /* unsigned int in the ABI */
    if (count > 0x7fffffffu) count = 0x7fffffffu;
    if (f->flags & O_PATH_K) r = -KEBADF;
    else if (!VFS_ISDIR(f->vn->mode)) r = -KENOTDIR;
    else if (!f->vn->ops->readdir) r = -KENOSYS;
    else if (!user_range_ok(udirp, count)) r = -KEFAULT;
    if (r < 0 || mutex_lock(&f->pos_lock) < 0) {
        vfs_close(f);
        return r < 0 ? r : -KEINTR;
    }
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    uint64_t done = 0;
    if (!de) r = -KENOMEM;
    while (de) {
        uint64_t cookie = f->dir_cookie;
        int got = f->vn->ops->readdir(f->vn, &cookie, de);
        if (got <= 0) {
            if (got < 0 && done == 0) r = got;
            break;
        }
        uint8_t rec[DIRENT_MAX_RECLEN];
        int len = sys_dirent_encode(is64, de->ino, (int64_t)cookie, de->type, de->name, de->name_len, rec,
                                    MIN(count - done, sizeof(rec)));
        if (len < 0) {
            if (done == 0) r = -KEINVAL;
            break;
        }
        if (copy_to_user((void *)(udirp + done), rec, (size_t)len) < 0) {
            if (done == 0) r = -KEFAULT;
            break;
        }
        f->dir_cookie = cookie;
        done += (uint64_t)len;
    }
    mutex_unlock(&f->pos_lock);
    kfree(de);
    vfs_close(f);
    return r < 0 ? r : (int64_t)done;
}

SYSCALL(SYS_getdents64, getdents64) { return do_getdents((int)a0, a1, a2, true); }
SYSCALL(SYS_getdents, getdents) { return do_getdents((int)a0, a1, a2, false); }

/* ---- creating and removing names ---- */

static int64_t do_mkdirat(int dirfd, uint64_t upath, uint32_t mode) {
    struct at_path a;
    int r = at_begin(dirfd, upath, &a);
    if (r < 0) return r;
    r = vfs_mkdir(&a.ctx, a.path, mode & ~current_umask() & 07777);
    at_end(&a);
    return r;
}

SYSCALL(SYS_mkdirat, mkdirat) { return do_mkdirat((int)a0, a1, (uint32_t)a2); }
SYSCALL(SYS_mkdir, mkdir) { return do_mkdirat(AT_FDCWD, a0, (uint32_t)a1); }

static int64_t do_unlinkat(int dirfd, uint64_t upath, uint32_t flags) {
    if (flags & ~(uint32_t)AT_REMOVEDIR) return -KEINVAL;
    struct at_path a;
    int r = at_begin(dirfd, upath, &a);
    if (r < 0) return r;
    r = (flags & AT_REMOVEDIR) ? vfs_rmdir(&a.ctx, a.path) : vfs_unlink(&a.ctx, a.path);
    at_end(&a);
    return r;
}

SYSCALL(SYS_unlinkat, unlinkat) { return do_unlinkat((int)a0, a1, (uint32_t)a2); }
SYSCALL(SYS_unlink, unlink) { return do_unlinkat(AT_FDCWD, a0, 0); }
SYSCALL(SYS_rmdir, rmdir) { return do_unlinkat(AT_FDCWD, a0, AT_REMOVEDIR); }

static bool dot_name(const char *n) { return (n[0] == '.' && !n[1]) || (n[0] == '.' && n[1] == '.' && !n[2]); }

/* Rename between two different directory contexts (renameat with two different dirfds):
 * vfs_rename takes one context, so the parents are resolved here and the engine called with
 * the same checks vfs_rename makes. To be replaced by a two-context VFS call. */
static int rename_two_ctx(const struct vfs_ctx *octx, const char *op, const struct vfs_ctx *nctx, const char *np) {
    char *buf = kmalloc(2 * (VFS_PATH_MAX + VFS_NAME_MAX + 1));
    if (!buf) return -KENOMEM;
    char *opar = buf, *oname = opar + VFS_PATH_MAX, *npar = oname + VFS_NAME_MAX + 1, *nname = npar + VFS_PATH_MAX;
    struct vnode *od = NULL, *nd = NULL, *vn;
    int r = vfs_path_split(op, opar, VFS_PATH_MAX, oname, VFS_NAME_MAX + 1);
    if (r == 0) r = vfs_path_split(np, npar, VFS_PATH_MAX, nname, VFS_NAME_MAX + 1);
    if (r == -KEINVAL) r = -KEBUSY; /* "/" */
    if (r == 0) r = vfs_lookup(octx, opar, &od);
    if (r == 0) r = vfs_lookup(nctx, npar, &nd);
    if (r == 0 && (!VFS_ISDIR(od->mode) || !VFS_ISDIR(nd->mode))) r = -KENOTDIR;
    if (r == 0 && (dot_name(oname) || dot_name(nname))) r = -KEBUSY;
    if (r == 0 && od->mount != nd->mount) r = -KEXDEV;
    if (r == 0 && !od->ops->lookup) r = -KENOSYS;
    if (r == 0 && (r = od->ops->lookup(od, oname, strlen(oname), &vn)) == 0) {
        if (vn->covered_by) r = -KEBUSY;
        else if (!VFS_ISDIR(vn->mode) && (vfs_path_trailing_slash(op) || vfs_path_trailing_slash(np)))
            r = -KENOTDIR;
        vnode_put(vn);
        if (r == 0)
            r = od->ops->rename ? od->ops->rename(od, oname, strlen(oname), nd, nname, strlen(nname)) : -KENOSYS;
    }
    if (od) vnode_put(od);
    if (nd) vnode_put(nd);
    kfree(buf);
    return r;
}

static int64_t do_renameat(int odirfd, uint64_t uold, int ndirfd, uint64_t unew) {
    struct at_path o, n;
    int r = at_begin(odirfd, uold, &o);
    if (r < 0) return r;
    r = at_begin(ndirfd, unew, &n);
    if (r < 0) {
        at_end(&o);
        return r;
    }
    if (o.path[0] == '/' || n.path[0] == '/' || o.ctx.cwd == n.ctx.cwd)
        r = vfs_rename(o.path[0] == '/' ? &n.ctx : &o.ctx, o.path, n.path);
    else
        r = rename_two_ctx(&o.ctx, o.path, &n.ctx, n.path);
    at_end(&n);
    at_end(&o);
    return r;
}

SYSCALL(SYS_renameat, renameat) { return do_renameat((int)a0, a1, (int)a2, a3); }
SYSCALL(SYS_rename, rename) { return do_renameat(AT_FDCWD, a0, AT_FDCWD, a1); }

/* ---- the working directory ---- */

/* Makes vn (referenced; consumed) the cwd with the given absolute path. */
static void set_cwd(struct process *p, struct vnode *vn, const char *path) {
    struct vnode *old = p->fs.cwd;
    p->fs.cwd = vn;
    strlcpy(p->cwd_path, path, sizeof(p->cwd_path));
    if (old) vnode_put(old);
}

SYSCALL(SYS_chdir, chdir) {
    struct process *p = proc_current();
    if (!p) return -KEPERM;
    struct at_path a;
    int r = at_begin(AT_FDCWD, a0, &a);
    if (r < 0) return r;
    char *joined = kmalloc(VFS_PATH_MAX);
    struct vnode *vn = NULL;
    if (!joined) r = -KENOMEM;
    if (r == 0) r = vfs_lookup(&a.ctx, a.path, &vn);
    if (r == 0 && !VFS_ISDIR(vn->mode)) r = -KENOTDIR;
    if (r == 0) r = vfs_path_join(p->cwd_path, a.path, joined, VFS_PATH_MAX);
    if (r >= 0) {
        set_cwd(p, vn, joined);
        r = 0;
    } else if (vn) {
        vnode_put(vn);
    }
    kfree(joined);
    at_end(&a);
    return r;
}

/* Finds the name under which dir holds the vnode child (a directory): first by inode
 * number, then by identity for every subdirectory (engines whose readdir inode numbers are
 * not their vnodes'). Stores it in de. 0 or -KENOENT. */
static int name_in_parent(struct vnode *dir, struct vnode *child, struct vfs_dirent *de) {
    for (int pass = 0; pass < 2; pass++) {
        uint64_t cookie = 0;
        int got;
        while ((got = dir->ops->readdir(dir, &cookie, de)) == 1) {
            if (dot_name(de->name) || (pass == 0 && de->ino != child->ino)) continue;
            if (pass == 1 && !VFS_ISDIR(de->type)) continue;
            struct vnode *vn;
            if (dir->ops->lookup(dir, de->name, de->name_len, &vn) < 0) continue;
            bool same = vn == child;
            vnode_put(vn);
            if (same) return 0;
        }
        if (got < 0) return got;
    }
    return -KENOENT;
}

/* Rebuilds the absolute path of directory vn (for fchdir) by walking ".." up to the
 * process's root, crossing mount points; out gets VFS_PATH_MAX bytes. 0 or -errno. */
static int dir_path(const struct vfs_ctx *ctx, struct vnode *vn, char *out) {
    struct vnode *root;
    int r = vfs_lookup(ctx, "/", &root);
    if (r < 0) return r;
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    if (!de) {
        vnode_put(root);
        return -KENOMEM;
    }
    size_t pos = VFS_PATH_MAX - 1;
    out[pos] = '\0';
    struct vnode *cur = vn;
    vnode_get(cur);
    for (int depth = 0; r == 0 && depth < VFS_PATH_MAX / 2; depth++) {
        while (cur != root && cur->mount && cur == cur->mount->root && cur->mount->covered) {
            struct vnode *under = cur->mount->covered;
            vnode_get(under);
            vnode_put(cur);
            cur = under;
        }
        if (cur == root) break;
        struct vnode *parent;
        if (!cur->ops->lookup || !cur->ops->readdir) r = -KENOSYS;
        else if ((r = cur->ops->lookup(cur, "..", 2, &parent)) == 0) {
            if (parent == cur) r = -KENOENT; /* the root of a detached mount */
            else if ((r = name_in_parent(parent, cur, de)) == 0) {
                if (de->name_len + 1 > pos) r = -KENAMETOOLONG;
                else {
                    pos -= de->name_len;
                    memcpy(out + pos, de->name, de->name_len);
                    out[--pos] = '/';
                }
            }
            vnode_put(cur);
            cur = parent;
        }
    }
    vnode_put(cur);
    vnode_put(root);
    kfree(de);
    if (r < 0) return r;
    if (pos == VFS_PATH_MAX - 1) out[--pos] = '/';
    memmove(out, out + pos, VFS_PATH_MAX - pos);
    return 0;
}

SYSCALL(SYS_fchdir, fchdir) {
    struct process *p = proc_current();
    if (!p) return -KEPERM;
    struct vfs_file *f = fd_get((int)a0);
    if (!f) return -KEBADF;
    int r = VFS_ISDIR(f->vn->mode) ? 0 : -KENOTDIR;
    char *path = r == 0 ? kmalloc(VFS_PATH_MAX) : NULL;
    if (r == 0 && !path) r = -KENOMEM;
    if (r == 0) r = dir_path(&p->fs, f->vn, path);
    if (r == 0) {
        vnode_get(f->vn);
        set_cwd(p, f->vn, path);
    }
    kfree(path);
    vfs_close(f);
    return r;
}

/* getcwd(buf, size): the length including the NUL, -ERANGE when size is too small. */
SYSCALL(SYS_getcwd, getcwd) {
    struct process *p = proc_current();
    const char *cwd = p ? p->cwd_path : "/";
    size_t len = strnlen(cwd, VFS_PATH_MAX - 1) + 1;
    if (a1 < len) return -KERANGE;
    int r = copy_to_user((void *)a0, cwd, len);
    return r < 0 ? r : (int64_t)len;
}

SYSCALL(SYS_umask, umask) {
    struct process *p = proc_current();
    if (!p) return 022;
    return __atomic_exchange_n(&p->umask, (uint32_t)a0 & 0777, __ATOMIC_RELAXED);
}

/* ---- permission bits, links ---- */

/* Sets the permission bits (07777) of vn. An engine without setattr cannot store them:
 * -EPERM, except for pipes (no mount), which accept and forget them. */
static int64_t chmod_vnode(struct vnode *vn, uint32_t mode) {
    if (!vn->ops->setattr) return vn->mount ? -KEPERM : 0;
    struct vfs_setattr a = {.mask = VFS_ATTR_MODE, .mode = mode & 07777};
    return vn->ops->setattr(vn, &a);
}

static int64_t do_fchmodat(int dirfd, uint64_t upath, uint32_t mode) {
    struct at_path a;
    int r = at_begin(dirfd, upath, &a);
    if (r < 0) return r;
    struct vnode *vn;
    r = vfs_lookup(&a.ctx, a.path, &vn);
    at_end(&a);
    if (r < 0) return r;
    int64_t res = chmod_vnode(vn, mode);
    vnode_put(vn);
    return res;
}

SYSCALL(SYS_fchmodat, fchmodat) { return do_fchmodat((int)a0, a1, (uint32_t)a2); }
SYSCALL(SYS_chmod, chmod) { return do_fchmodat(AT_FDCWD, a0, (uint32_t)a1); }

SYSCALL(SYS_fchmod, fchmod) {
    struct vfs_file *f = fd_get((int)a0);
    if (!f) return -KEBADF;
    int64_t r = (f->flags & O_PATH_K) ? -KEBADF : chmod_vnode(f->vn, (uint32_t)a1);
    vfs_close(f);
    return r;
}

/* link and symlink: no engine stores hard or symbolic links yet. After the checks Linux makes
 * first (bad pointers, a missing source for link, an existing destination: EEXIST), the
 * answer is -EPERM, Linux's error for a file system that cannot create them. */
static int64_t no_link(uint64_t uold, uint64_t unew, bool symbolic) {
    char *target;
    int64_t n = sys_path_from_user(uold, &target);
    if (n < 0) return n;
    int r = 0;
    struct vnode *vn;
    if (symbolic) {
        if (n == 0) r = -KENOENT;
    } else if ((r = vfs_lookup(proc_vfs_ctx(), target, &vn)) == 0) {
        if (VFS_ISDIR(vn->mode)) r = -KEPERM; /* hard links to directories never */
        vnode_put(vn);
    }
    kfree(target);
    if (r < 0) return r;
    struct at_path a;
    r = at_begin(AT_FDCWD, unew, &a);
    if (r < 0) return r;
    r = vfs_lookup(&a.ctx, a.path, &vn);
    if (r == 0) {
        vnode_put(vn);
        r = -KEEXIST;
    } else if (r == -KENOENT) {
        r = -KEPERM;
    }
    at_end(&a);
    return r;
}

SYSCALL(SYS_link, link) { return no_link(a0, a1, false); }
SYSCALL(SYS_symlink, symlink) { return no_link(a0, a1, true); }

/* ---- access, readlink, statfs ---- */

static int64_t do_faccessat(int dirfd, uint64_t upath, uint32_t mode, uint32_t flags) {
    if (mode & ~(uint32_t)(R_OK | W_OK | X_OK)) return -KEINVAL;
    if (flags & ~(uint32_t)(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -KEINVAL;
    struct vfs_stat st;
    int r = stat_at(dirfd, upath, flags & AT_EMPTY_PATH, &st);
    if (r < 0) return r;
    /* root: read and write always; execute when some x bit is set or it is a directory */
    if ((mode & X_OK) && !VFS_ISDIR(st.mode) && !(st.mode & 0111)) return -KEACCES;
    return 0;
}

SYSCALL(SYS_access, access) { return do_faccessat(AT_FDCWD, a0, (uint32_t)a1, 0); }
SYSCALL(SYS_faccessat, faccessat) { return do_faccessat((int)a0, a1, (uint32_t)a2, 0); }
SYSCALL(SYS_faccessat2, faccessat2) { return do_faccessat((int)a0, a1, (uint32_t)a2, (uint32_t)a3); }

static int64_t do_readlinkat(int dirfd, uint64_t upath, uint64_t ubuf, int64_t bufsiz) {
    if ((int32_t)bufsiz <= 0) return -KEINVAL;
    struct vfs_stat st;
    int r = stat_at(dirfd, upath, 0, &st);
    return r < 0 ? r : -KEINVAL; /* no symbolic links: an existing path is not one */
}

SYSCALL(SYS_readlinkat, readlinkat) { return do_readlinkat((int)a0, a1, a2, (int64_t)a3); }
SYSCALL(SYS_readlink, readlink) { return do_readlinkat(AT_FDCWD, a0, a1, (int64_t)a2); }

static int64_t put_statfs(struct vnode *vn, uint64_t ubuf) {
    struct linux_statfs sf;
    memset(&sf, 0, sizeof(sf));
    struct vfs_mount *m = vn->mount;
    sf.f_type = sys_statfs_magic(m ? m->type->name : NULL);
    sf.f_bsize = sf.f_frsize = 4096;
    sf.f_namelen = VFS_NAME_MAX;
    uint64_t total, free_bytes;
    if (m && vfs_statfs(m, &total, &free_bytes) == 0) {
        sf.f_blocks = total / 4096;
        sf.f_bfree = sf.f_bavail = free_bytes / 4096;
    }
    if (m) sf.f_fsid[0] = (int32_t)m->id;
    return copy_to_user((void *)ubuf, &sf, sizeof(sf));
}

SYSCALL(SYS_statfs, statfs) {
    struct at_path a;
    int r = at_begin(AT_FDCWD, a0, &a);
    if (r < 0) return r;
    struct vnode *vn;
    r = vfs_lookup(&a.ctx, a.path, &vn);
    at_end(&a);
    if (r < 0) return r;
    int64_t res = put_statfs(vn, a1);
    vnode_put(vn);
    return res;
}

SYSCALL(SYS_fstatfs, fstatfs) {
    struct vfs_file *f = fd_get((int)a0);
    if (!f) return -KEBADF;
    int64_t r = put_statfs(f->vn, a1);
    vfs_close(f);
    return r;
}
#endif /* !HOST_TEST */
