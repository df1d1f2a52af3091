/* sys_file.c: the file-descriptor system calls of the Linux x86-64 ABI: read write readv
 * writev pread64 pwrite64 open openat creat close lseek dup dup2 dup3 pipe pipe2 fcntl ioctl
 * ftruncate truncate fsync fdatasync sync.
 *
 * Semantics follow the Linux man-pages (man 2 read, write, readv, pread, open, close, lseek,
 * dup, pipe, fcntl, ioctl, truncate, fsync, sync) with the values of asm-generic/fcntl.h and
 * asm-generic/ioctls.h:
 * - Data moves through a kernel bounce buffer of at most IO_CHUNK bytes (never an allocation
 *   sized by the caller); a transfer is limited to MAX_RW_COUNT bytes as on Linux. The whole
 *   user range is checked first (-EFAULT without touching the file); a fault in the middle
 *   returns the bytes already done (a regular file's offset is moved back past the bytes
 *   that did not arrive). Data read from a pipe or tty just before such a fault is lost (the
 *   caller passed a bad buffer).
 * - Reads from files with their own operations (pipes, ttys) make one call and return what it
 *   gives; regular files are read in chunks until the count or the end of the file.
 * - readv/writev: at most UIO_MAXIOV (1024) segments, a negative length or a total beyond
 *   SSIZE_MAX is -EINVAL. writev gathers segments into one buffer so that a small writev
 *   reaches a pipe or tty as one write.
 * - A write that fails with EPIPE also sends SIGPIPE to the calling thread.
 * - open: O_CLOEXEC, O_NOCTTY, O_NOFOLLOW (no symlinks yet), O_LARGEFILE, O_SYNC, O_DSYNC,
 *   O_DIRECT, O_NOATIME are accepted; O_PATH opens for fstat, fchdir and the *at calls
 *   only; O_TMPFILE is -EOPNOTSUPP; O_CREAT|O_DIRECTORY is -EINVAL (Linux 6.4+). The mode
 *   of a new file is masked with the umask. (A file may be created before the descriptor
 *   table is found full: -EMFILE then leaves the new, empty file behind.)
 * - fcntl: F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL; others -EINVAL.
 * - ioctl: FIONBIO, FIOCLEX, FIONCLEX here; FIONREAD for pipes; everything else goes to the
 *   file's ioctl operation, or -ENOTTY. */
#include "proc.h"
#include "syscall.h"
#include "uaccess.h"
#include "vfs.h"
#include "mm.h"
#include "kstring.h"
#include "sched.h"

#define AT_FDCWD (-100)
#define O_NOCTTY 0400
#define O_DSYNC 010000
#define O_DIRECT 040000
#define O_LARGEFILE 0100000
#define O_NOFOLLOW 0400000
#define O_NOATIME 01000000
#define O_CLOEXEC_K 02000000
#define O_PATH_K 010000000
#define O_TMPFILE_K 020000000
#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1
#define FIONREAD 0x541B
#define FIONBIO 0x5421
#define FIONCLEX 0x5450
#define FIOCLEX 0x5451

#define IO_CHUNK (64 * 1024)         /* largest bounce buffer */
#define IO_SMALL 256                 /* transfers this small use the stack */
#define MAX_RW_COUNT 0x7ffff000ull   /* Linux: INT_MAX rounded down to a page */
#define UIO_MAXIOV 1024
#define IOV_STACK 8

/* From sys_path.c. */
int64_t sys_path_from_user(uint64_t upath, char **out);
int sys_at_ctx(int dirfd, const char *path, struct vfs_ctx *ctx, struct vfs_file **dir);

struct iovec_k {
    uint64_t base;
    uint64_t len;
};

/* Position in a list of user segments. */
struct uio {
    const struct iovec_k *iov;
    int cnt, idx;
    uint64_t off; /* within iov[idx] */
};

/* Copies the next len bytes of the segments into kbuf (writes). Returns the bytes copied
 * from whole pieces; a fault stops it early (*fault set). */
static size_t uio_gather(struct uio *u, uint8_t *kbuf, size_t len, bool *fault) {
    size_t got = 0;
    while (got < len && u->idx < u->cnt) {
        const struct iovec_k *v = &u->iov[u->idx];
        size_t n = (size_t)MIN(v->len - u->off, (uint64_t)(len - got));
        if (n && copy_from_user(kbuf + got, (const void *)(v->base + u->off), n) < 0) {
            *fault = true;
            return got;
        }
        got += n;
        u->off += n;
        if (u->off == v->len) {
            u->idx++;
            u->off = 0;
        }
    }
    return got;
}

/* Copies len bytes from kbuf into the next segments (reads): 0 or -KEFAULT. */
static int uio_scatter(struct uio *u, const uint8_t *kbuf, size_t len) {
    size_t put = 0;
    while (put < len && u->idx < u->cnt) {
        const struct iovec_k *v = &u->iov[u->idx];
        size_t n = (size_t)MIN(v->len - u->off, (uint64_t)(len - put));
        if (n && copy_to_user((void *)(v->base + u->off), kbuf + put, n) < 0) return -KEFAULT;
        put += n;
        u->off += n;
        if (u->off == v->len) {
            u->idx++;
            u->off = 0;
        }
    }
    return 0;
}

/* Moves total bytes between f and the user segments. pos < 0: at the file offset (which
 * moves); else positioned I/O at pos. Returns the bytes moved or -errno. */
static int64_t do_io(struct vfs_file *f, const struct iovec_k *iov, int cnt, uint64_t total, bool write, int64_t pos) {
    if (f->flags & O_PATH_K) return -KEBADF;
    uint8_t small[IO_SMALL];
    size_t bufsize = total <= IO_SMALL ? IO_SMALL : (size_t)MIN(total, (uint64_t)IO_CHUNK);
    uint8_t *kbuf = bufsize <= IO_SMALL ? small : kmalloc(bufsize);
    if (!kbuf) return -KENOMEM;
    struct uio u = {iov, cnt, 0, 0};
    bool loop = write || !f->fops; /* a pipe or tty read returns what one call gives */
    uint64_t done = 0;
    int64_t err = 0;
    do {
        size_t chunk = (size_t)MIN(total - done, (uint64_t)bufsize);
        bool fault = false;
        int64_t n;
        if (write) {
            size_t got = uio_gather(&u, kbuf, chunk, &fault);
            if (fault && got == 0) {
                err = -KEFAULT;
                break;
            }
            chunk = got;
            n = pos < 0 ? vfs_write(f, kbuf, chunk) : vfs_pwrite(f, kbuf, chunk, (uint64_t)pos + done);
        } else {
            n = pos < 0 ? vfs_read(f, kbuf, chunk) : vfs_pread(f, kbuf, chunk, (uint64_t)pos + done);
            if (n > 0 && uio_scatter(&u, kbuf, (size_t)n) < 0) {
                /* a seekable file gives the bytes back: its offset stays after the last byte
                 * that reached the caller */
                if (pos < 0 && !f->fops) vfs_lseek(f, -n, SEEK_CUR);
                err = -KEFAULT;
                break;
            }
        }
        if (n < 0) {
            err = n;
            break;
        }
        done += (uint64_t)n;
        if ((size_t)n < chunk || fault || !loop) break;
    } while (done < total);
    if (kbuf != small) kfree(kbuf);
    if (err == -KEPIPE) thread_signal(task_current(), SIGPIPE); /* even after a partial write, as Linux */
    return done > 0 ? (int64_t)done : err;
}

/* read/write/pread64/pwrite64 on one user buffer. */
static int64_t rw_one(int fd, uint64_t ubuf, uint64_t count, bool write, int64_t pos) {
    struct vfs_file *f = fd_get(fd);
    if (!f) return -KEBADF;
    int64_t r;
    if (!user_range_ok(ubuf, count)) {
        r = -KEFAULT;
    } else {
        struct iovec_k v = {ubuf, MIN(count, MAX_RW_COUNT)};
        r = do_io(f, &v, 1, v.len, write, pos);
    }
    vfs_close(f);
    return r;
}

SYSCALL(SYS_read, read) { return rw_one((int)a0, a1, a2, false, -1); }
SYSCALL(SYS_write, write) { return rw_one((int)a0, a1, a2, true, -1); }

SYSCALL(SYS_pread64, pread64) {
    if ((int64_t)a3 < 0) return -KEINVAL;
    return rw_one((int)a0, a1, a2, false, (int64_t)a3);
}

SYSCALL(SYS_pwrite64, pwrite64) {
    if ((int64_t)a3 < 0) return -KEINVAL;
    return rw_one((int)a0, a1, a2, true, (int64_t)a3);
}

/* readv/writev: copies and checks the segment list, then one do_io over all of it. */
static int64_t rw_vec(int fd, uint64_t uiov, uint64_t iovcnt, bool write) {
    struct vfs_file *f = fd_get(fd);
    if (!f) return -KEBADF;
    if (iovcnt > UIO_MAXIOV) {
        vfs_close(f);
        return -KEINVAL;
    }
    int cnt = (int)iovcnt;
    struct iovec_k stack_iov[IOV_STACK];
    struct iovec_k *iov = cnt <= IOV_STACK ? stack_iov : kmalloc((size_t)cnt * sizeof(*iov));
    int64_t r = iov ? 0 : -KENOMEM;
    if (r == 0 && copy_from_user(iov, (const void *)uiov, (size_t)cnt * sizeof(*iov)) < 0) r = -KEFAULT;
    uint64_t total = 0;
    for (int i = 0; r == 0 && i < cnt; i++) {
        if ((int64_t)iov[i].len < 0 || total + iov[i].len > (uint64_t)INT64_MAX) r = -KEINVAL;
        else total += iov[i].len;
    }
    for (int i = 0; r == 0 && i < cnt; i++)
        if (!user_range_ok(iov[i].base, iov[i].len)) r = -KEFAULT;
    if (r == 0) {
        /* clamp to MAX_RW_COUNT by shortening the segments at the end */
        uint64_t left = MAX_RW_COUNT;
        for (int i = 0; i < cnt; i++) {
            if (iov[i].len > left) iov[i].len = left;
            left -= iov[i].len;
        }
        r = do_io(f, iov, cnt, MIN(total, MAX_RW_COUNT), write, -1);
    }
    if (iov != stack_iov) kfree(iov);
    vfs_close(f);
    return r;
}

SYSCALL(SYS_readv, readv) { return rw_vec((int)a0, a1, a2, false); }
SYSCALL(SYS_writev, writev) { return rw_vec((int)a0, a1, a2, true); }

/* ---- opening and closing ---- */

static int64_t do_openat(int dirfd, uint64_t upath, uint32_t flags, uint32_t mode) {
    if (flags & O_TMPFILE_K) return -KEOPNOTSUPP;
    if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY)) return -KEINVAL;
    bool cloexec = flags & O_CLOEXEC_K;
    if (flags & O_PATH_K) flags = O_RDONLY | O_PATH_K | (flags & (O_DIRECTORY | O_NOFOLLOW));
    flags &= ~(uint32_t)O_CLOEXEC_K;
    if (flags & O_CREAT) {
        struct process *p = proc_current();
        mode &= ~(p ? p->umask : 022) & 07777;
    }
    char *path;
    int64_t n = sys_path_from_user(upath, &path);
    if (n < 0) return n;
    struct vfs_ctx ctx;
    struct vfs_file *dir, *f;
    int r = sys_at_ctx(dirfd, path, &ctx, &dir);
    if (r == 0) r = vfs_open(&ctx, path, flags, mode, &f);
    vfs_close(dir);
    kfree(path);
    if (r < 0) return r;
    int fd = fd_install(f, 0, cloexec);
    if (fd < 0) vfs_close(f);
    return fd;
}

SYSCALL(SYS_openat, openat) { return do_openat((int)a0, a1, (uint32_t)a2, (uint32_t)a3); }
SYSCALL(SYS_open, open) { return do_openat(AT_FDCWD, a0, (uint32_t)a1, (uint32_t)a2); }
SYSCALL(SYS_creat, creat) { return do_openat(AT_FDCWD, a0, O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a1); }

SYSCALL(SYS_close, close) { return fd_close((int)a0); }

SYSCALL(SYS_lseek, lseek) {
    struct vfs_file *f = fd_get((int)a0);
    if (!f) return -KEBADF;
    int64_t r = (f->flags & O_PATH_K) ? -KEBADF : vfs_lseek(f, (int64_t)a1, (int)a2);
    vfs_close(f);
    return r;
}

/* ---- duplicating ---- */

static int64_t dup_from(int oldfd, int min_fd, bool cloexec) {
    struct vfs_file *f = fd_get(oldfd);
    if (!f) return -KEBADF;
    int fd = fd_install(f, min_fd, cloexec);
    if (fd < 0) vfs_close(f);
    return fd;
}

static int64_t dup_to(int oldfd, int newfd, bool cloexec) {
    struct vfs_file *f = fd_get(oldfd);
    if (!f) return -KEBADF;
    int r = fd_install_at(f, newfd, cloexec);
    if (r < 0) {
        vfs_close(f);
        return r;
    }
    return newfd;
}

SYSCALL(SYS_dup, dup) { return dup_from((int)a0, 0, false); }

SYSCALL(SYS_dup2, dup2) {
    int oldfd = (int)a0, newfd = (int)a1;
    if (oldfd == newfd) return fd_get_cloexec(oldfd) < 0 ? -KEBADF : newfd;
    return dup_to(oldfd, newfd, false);
}

SYSCALL(SYS_dup3, dup3) {
    int oldfd = (int)a0, newfd = (int)a1;
    uint32_t flags = (uint32_t)a2;
    if (flags & ~(uint32_t)O_CLOEXEC_K) return -KEINVAL;
    if (oldfd == newfd) return -KEINVAL;
    return dup_to(oldfd, newfd, flags & O_CLOEXEC_K);
}

/* ---- pipes ---- */

static int64_t do_pipe2(uint64_t ufds, uint32_t flags) {
    if (flags & ~(uint32_t)(O_CLOEXEC_K | O_NONBLOCK)) return -KEINVAL;
    if (!user_range_ok(ufds, 8)) return -KEFAULT;
    struct vfs_file *rd, *wr;
    int r = vfs_pipe(&rd, &wr, flags & O_NONBLOCK);
    if (r < 0) return r;
    bool cloexec = flags & O_CLOEXEC_K;
    int fds[2];
    fds[0] = fd_install(rd, 0, cloexec);
    if (fds[0] < 0) {
        vfs_close(rd);
        vfs_close(wr);
        return fds[0];
    }
    fds[1] = fd_install(wr, 0, cloexec);
    if (fds[1] < 0) {
        vfs_close(wr);
        fd_close(fds[0]);
        return fds[1];
    }
    if (copy_to_user((void *)ufds, fds, sizeof(fds)) < 0) {
        fd_close(fds[0]);
        fd_close(fds[1]);
        return -KEFAULT;
    }
    return 0;
}

SYSCALL(SYS_pipe2, pipe2) { return do_pipe2(a0, (uint32_t)a1); }
SYSCALL(SYS_pipe, pipe) { return do_pipe2(a0, 0); }

/* ---- control ---- */

SYSCALL(SYS_fcntl, fcntl) {
    int fd = (int)a0, cmd = (int)a1;
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int min_fd = (int)a2;
        struct process *p = proc_current();
        uint64_t limit = p && p->rlimit_nofile > 0 && p->rlimit_nofile < FD_MAX ? p->rlimit_nofile : FD_MAX;
        if (fd_get_cloexec(fd) < 0) return -KEBADF;
        if (min_fd < 0 || (uint64_t)min_fd >= limit) return -KEINVAL;
        return dup_from(fd, min_fd, cmd == F_DUPFD_CLOEXEC);
    }
    case F_GETFD: {
        int r = fd_get_cloexec(fd);
        return r < 0 ? r : (r ? FD_CLOEXEC : 0);
    }
    case F_SETFD:
        return fd_set_cloexec(fd, (a2 & FD_CLOEXEC) != 0);
    case F_GETFL:
    case F_SETFL: {
        struct vfs_file *f = fd_get(fd);
        if (!f) return -KEBADF;
        int64_t r = 0;
        if (cmd == F_GETFL)
            r = (f->flags & ~(uint32_t)(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC_K)) | O_LARGEFILE;
        else if (f->flags & O_PATH_K)
            r = -KEBADF;
        else
            vfs_file_set_flags(f, (uint32_t)a2);
        vfs_close(f);
        return r;
    }
    default:
        return fd_get_cloexec(fd) < 0 ? -KEBADF : -KEINVAL;
    }
}

SYSCALL(SYS_ioctl, ioctl) {
    int fd = (int)a0;
    uint32_t cmd = (uint32_t)a1;
    struct vfs_file *f = fd_get(fd);
    if (!f) return -KEBADF;
    int64_t r;
    if (f->flags & O_PATH_K) {
        r = -KEBADF;
    } else if (cmd == FIOCLEX || cmd == FIONCLEX) {
        r = fd_set_cloexec(fd, cmd == FIOCLEX);
    } else if (cmd == FIONBIO) {
        int on;
        r = copy_from_user(&on, (const void *)a2, sizeof(on));
        if (r == 0) vfs_file_set_flags(f, on ? (f->flags | O_NONBLOCK) : (f->flags & ~(uint32_t)O_NONBLOCK));
    } else {
        r = (f->fops && f->fops->ioctl) ? f->fops->ioctl(f, cmd, a2) : -KENOTTY;
        if (r == -KENOTTY && cmd == FIONREAD) {
            int64_t avail = pipe_bytes_available(f);
            if (avail >= 0) {
                int v = (int)avail;
                r = copy_to_user((void *)a2, &v, sizeof(v));
            }
        }
    }
    vfs_close(f);
    return r;
}

/* ---- size and durability ---- */

SYSCALL(SYS_ftruncate, ftruncate) {
    if ((int64_t)a1 < 0) return -KEINVAL;
    struct vfs_file *f = fd_get((int)a0);
    if (!f) return -KEBADF;
    int64_t r = (f->flags & O_PATH_K) ? -KEBADF : vfs_ftruncate(f, a1);
    vfs_close(f);
    return r;
}

SYSCALL(SYS_truncate, truncate) {
    if ((int64_t)a1 < 0) return -KEINVAL;
    char *path;
    int64_t n = sys_path_from_user(a0, &path);
    if (n < 0) return n;
    struct vfs_ctx ctx;
    struct vfs_file *dir;
    int r = sys_at_ctx(AT_FDCWD, path, &ctx, &dir);
    if (r == 0) r = vfs_truncate(&ctx, path, a1);
    vfs_close(dir);
    kfree(path);
    return r;
}

/* fsync/fdatasync: pipes and ttys cannot be synchronised (-EINVAL, as Linux). */
static int64_t do_fsync(int fd) {
    struct vfs_file *f = fd_get(fd);
    if (!f) return -KEBADF;
    int64_t r = (f->flags & O_PATH_K) ? -KEBADF : f->fops ? -KEINVAL : vfs_fsync(f);
    vfs_close(f);
    return r;
}

SYSCALL(SYS_fsync, fsync) { return do_fsync((int)a0); }
SYSCALL(SYS_fdatasync, fdatasync) { return do_fsync((int)a0); }

SYSCALL(SYS_sync, sync) {
    vfs_sync_all();
    return 0;
}
