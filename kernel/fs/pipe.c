/* pipe.c: pipes: a bounded ring buffer of PIPE_CAPACITY (64 KiB) bytes behind two open files,
 * a reading end and a writing end.
 * Follows POSIX.1-2017 XSH pipe(), read() and write() on pipes: a read returns what is
 * available (at least one byte) or waits; it returns 0 (end of file) once every writer has
 * closed; a write when every reader has closed fails with EPIPE; writes of at most PIPE_BUF
 * (4096) bytes are atomic (never interleaved with other writes); with O_NONBLOCK nothing
 * waits and EAGAIN is returned instead. Waiting uses wait queues (wait.h, the timeout
 * contract; a killed task gets EINTR). poll() readiness follows Linux's pipe_poll. */
#include "vfs.h"
#include "kstring.h"
#include "mm.h"
#include "sync.h"
#include "wait.h"

struct pipe {
    struct vnode vn;             /* S_IFIFO, VN_NOCACHE: freed when both ends are closed */
    struct mutex lock;           /* buffer and counts */
    uint8_t *buf;
    uint32_t head;               /* next byte to read */
    volatile uint32_t count;     /* bytes in the buffer */
    volatile int readers, writers;
    struct wait_queue readq;     /* readers waiting for data or EOF */
    struct wait_queue writeq;    /* writers waiting for space or for the readers to go */
    uint64_t ctime_ns, mtime_ns, atime_ns;
};

static struct pipe *pipe_of(struct vfs_file *f) { return f->priv; }

static int64_t pipe_read(struct vfs_file *f, void *buf, size_t len) {
    struct pipe *p = pipe_of(f);
    if (len == 0) return 0;
    for (;;) {
        mutex_lock(&p->lock);
        if (p->count > 0) {
            size_t n = MIN(len, (size_t)p->count);
            size_t first = MIN(n, (size_t)(PIPE_CAPACITY - p->head));
            memcpy(buf, p->buf + p->head, first);
            memcpy((uint8_t *)buf + first, p->buf, n - first);
            p->head = (uint32_t)((p->head + n) % PIPE_CAPACITY);
            p->count -= (uint32_t)n;
            p->atime_ns = vfs_now_ns();
            mutex_unlock(&p->lock);
            wake_up_all(&p->writeq);
            return (int64_t)n;
        }
        bool eof = p->writers == 0;
        mutex_unlock(&p->lock);
        if (eof) return 0;
        if (f->flags & O_NONBLOCK) return -KEAGAIN;
        int r = wait_event_timeout(&p->readq, p->count > 0 || p->writers == 0, WAIT_FOREVER);
        if (r < 0) return r;
    }
}

static int64_t pipe_write(struct vfs_file *f, const void *buf, size_t len) {
    struct pipe *p = pipe_of(f);
    size_t done = 0;
    /* A write of at most PIPE_BUF bytes waits for room for all of it and goes in one piece;
     * a larger one goes in as room appears. */
    bool atomic = len <= PIPE_BUF_SIZE;
    while (done < len) {
        size_t need = atomic ? len : 1;
        mutex_lock(&p->lock);
        if (p->readers == 0) {
            mutex_unlock(&p->lock);
            return done ? (int64_t)done : -KEPIPE;
        }
        size_t space = PIPE_CAPACITY - p->count;
        if (space >= need) {
            size_t n = MIN(space, len - done);
            size_t tail = (p->head + p->count) % PIPE_CAPACITY;
            size_t first = MIN(n, PIPE_CAPACITY - tail);
            memcpy(p->buf + tail, (const uint8_t *)buf + done, first);
            memcpy(p->buf, (const uint8_t *)buf + done + first, n - first);
            p->count += (uint32_t)n;
            p->mtime_ns = vfs_now_ns();
            done += n;
            mutex_unlock(&p->lock);
            wake_up_all(&p->readq);
            continue;
        }
        mutex_unlock(&p->lock);
        if (f->flags & O_NONBLOCK) return done ? (int64_t)done : -KEAGAIN;
        int r = wait_event_timeout(&p->writeq, PIPE_CAPACITY - p->count >= need || p->readers == 0, WAIT_FOREVER);
        if (r < 0) return done ? (int64_t)done : r;
    }
    return (int64_t)done;
}

static void pipe_close_read(struct vfs_file *f) {
    struct pipe *p = pipe_of(f);
    mutex_lock(&p->lock);
    p->readers--;
    mutex_unlock(&p->lock);
    wake_up_all(&p->writeq); /* writers now get EPIPE */
}

static void pipe_close_write(struct vfs_file *f) {
    struct pipe *p = pipe_of(f);
    mutex_lock(&p->lock);
    p->writers--;
    mutex_unlock(&p->lock);
    wake_up_all(&p->readq); /* readers now see EOF */
}

/* poll (vfs_file_ops.poll, Linux pipe_poll semantics): the reading end is POLLIN while data
 * waits and POLLHUP once every writer has gone; the writing end is POLLOUT while PIPE_BUF
 * bytes fit (a write of that size would not block) and POLLERR once every reader has gone.
 * Lock-free (the counts are read once each; poll must not sleep). Each end names the one
 * queue whose wake-ups change its answer: readq (data, last writer gone) for the reading end,
 * writeq (room, last reader gone) for the writing end. */
static uint32_t pipe_poll_read(struct vfs_file *f, struct wait_queue *wqs[2]) {
    struct pipe *p = pipe_of(f);
    wqs[0] = &p->readq;
    wqs[1] = NULL;
    uint32_t m = 0;
    if (p->count > 0) m |= VFS_POLLIN;
    if (p->writers == 0) m |= VFS_POLLHUP;
    return m;
}

static uint32_t pipe_poll_write(struct vfs_file *f, struct wait_queue *wqs[2]) {
    struct pipe *p = pipe_of(f);
    wqs[0] = &p->writeq;
    wqs[1] = NULL;
    uint32_t m = 0;
    if (PIPE_CAPACITY - p->count >= PIPE_BUF_SIZE) m |= VFS_POLLOUT;
    if (p->readers == 0) m |= VFS_POLLERR;
    return m;
}

static const struct vfs_file_ops pipe_read_fops = {
    .read = pipe_read, .write = NULL, .close = pipe_close_read, .poll = pipe_poll_read};
static const struct vfs_file_ops pipe_write_fops = {
    .read = NULL, .write = pipe_write, .close = pipe_close_write, .poll = pipe_poll_write};

static int pipe_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct pipe *p = container_of(vn, struct pipe, vn);
    mutex_lock(&p->lock);
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = 1;
    st->size = p->count;
    st->blksize = PIPE_BUF_SIZE;
    st->atime_ns = p->atime_ns;
    st->mtime_ns = p->mtime_ns;
    st->ctime_ns = p->ctime_ns;
    mutex_unlock(&p->lock);
    return 0;
}

/* Both ends are closed: free the pipe. */
static void pipe_release(struct vnode *vn) {
    struct pipe *p = container_of(vn, struct pipe, vn);
    kfree(p->buf);
    kfree(p);
}

static const struct vnode_ops pipe_vnode_ops = {.getattr = pipe_getattr, .release = pipe_release};

int vfs_pipe(struct vfs_file **rd, struct vfs_file **wr, uint32_t flags) {
    static uint64_t next_pipe_ino = 1;
    struct pipe *p = kzalloc(sizeof(*p));
    if (!p) return -KENOMEM;
    p->buf = kmalloc(PIPE_CAPACITY);
    if (!p->buf) {
        kfree(p);
        return -KENOMEM;
    }
    vnode_init(&p->vn, &pipe_vnode_ops, NULL, S_IFIFO | 0600, __atomic_fetch_add(&next_pipe_ino, 1, __ATOMIC_RELAXED));
    p->vn.flags = VN_NOCACHE;
    mutex_init(&p->lock, "pipe");
    wait_queue_init(&p->readq, "pipe-read");
    wait_queue_init(&p->writeq, "pipe-write");
    p->readers = p->writers = 1;
    p->ctime_ns = p->mtime_ns = p->atime_ns = vfs_now_ns();
    uint32_t nb = flags & O_NONBLOCK;
    vnode_get(&p->vn);
    int r = vfs_file_from_vnode(&p->vn, O_RDONLY | nb, &pipe_read_fops, p, rd);
    if (r < 0) {
        vnode_put(&p->vn); /* count 0: releases the pipe */
        return r;
    }
    vnode_get(&p->vn);
    r = vfs_file_from_vnode(&p->vn, O_WRONLY | nb, &pipe_write_fops, p, wr);
    if (r < 0) {
        p->writers = 0;
        vfs_close(*rd); /* drops the reading end's reference; the put below releases */
        vnode_put(&p->vn);
        return r;
    }
    return 0;
}

int64_t pipe_bytes_available(struct vfs_file *f) {
    if (!f || (f->fops != &pipe_read_fops && f->fops != &pipe_write_fops)) return -KEINVAL;
    return pipe_of(f)->count;
}
