/* pty.c: pseudo-terminals (see tty.h and docs/tty.md), Linux's Unix 98 ABI as in pty(7),
 * posix_openpt(3), unlockpt(3), ptsname(3) and tty_ioctl(2)/ioctl_tty(2):
 *
 * - Each open of /dev/ptmx makes a pair with the lowest free number N (at most PTY_MAX:
 *   then ENOSPC, as Linux's devpts); the open file is the master. The slave is /dev/pts/N,
 *   listed in /dev/pts while the master is open, locked until TIOCSPTLCK 0 (an open of a
 *   locked slave fails with EIO). TIOCGPTN gives N, TIOCGPTLCK the lock, TIOCSIG sends
 *   SIGINT, SIGQUIT or SIGTSTP to the slave's foreground group.
 * - The slave is a terminal of tty.c with the shared line discipline: what the master writes
 *   is typed input (echo, editing, signals, MIN/TIME); what the slave outputs (echo and
 *   written data after output processing) the master reads. termios, window size and job
 *   control ioctls on the master act on the slave (Linux's tty_pair_get_tty); TIOCGPGRP and
 *   TIOCGSID on the master need no controlling terminal.
 * - Bounded both ways: the slave's output waits in PTY_BUF_SIZE bytes (a slave writer blocks
 *   or gets EAGAIN while it is full; echo beyond it is dropped), the master's writes wait for
 *   room in the slave's input buffer (TTY_INPUT_SIZE).
 * - Once every slave file is closed, a master read gives what was buffered, then EIO, and
 *   poll reports POLLHUP. Closing the master hangs the slave up (tty_hangup: its session
 *   leader gets SIGHUP and SIGCONT, slave reads give 0, writes and ioctls EIO) and removes
 *   /dev/pts/N. When both sides are closed the pair is freed and N can be used again.
 *
 * Lifetime: the struct tty of a number is made at its first use and kept (a few hundred bytes;
 * processes' controlling-terminal pointers may still name it after the pair is gone, and
 * they only compare its session, which the hang-up cleared). Everything else of a pair
 * (its line discipline and output buffer) is freed with the pair.
 *
 * Locking: pty_lock (a mutex) guards the table and each pair's open counts and state; it is
 * taken before a terminal's jc_lock and t->lock. A pair's output buffer is under the slave's
 * t->lock (the line discipline fills it from inside tty.c). */
#include "tty_internal.h"
#include "proc.h"
#include "mm.h"
#include "kstring.h"
#include "kprintf.h"

struct pty {
    int index;
    struct tty *tty;                /* the slave */
    struct tty_ldisc ld;            /* the slave's line discipline */
    struct wait_queue master_wq;    /* master readers and pollers: output arrived, slave closed */
    uint32_t out_rd, out_wr;        /* free-running positions in out (t->lock) */
    bool master_open;               /* pty_lock */
    int slave_files;                /* open slave files (pty_lock) */
    volatile bool slave_closed;     /* the last slave file closed (after one was opened) */
    volatile bool locked;           /* TIOCSPTLCK: slave opens fail with EIO */
    uint8_t out[PTY_BUF_SIZE];      /* slave output the master has not read */
};
_Static_assert((PTY_BUF_SIZE & (PTY_BUF_SIZE - 1)) == 0, "PTY_BUF_SIZE must be a power of two");

static struct mutex pty_lock = MUTEX_INIT("pty");
static struct tty *slot_tty[PTY_MAX];   /* made at first use, kept */
static struct pty *slot_pair[PTY_MAX];  /* the live pair of each number */
static int pair_count;

static const struct vfs_file_ops master_fops;

/* ---- the slave's output buffer (t->lock held) ---- */

static uint32_t out_room(const struct pty *p) { return PTY_BUF_SIZE - (p->out_wr - p->out_rd); }

/* The slave's sink: output after processing goes to the buffer; what does not fit (echo
 * while the master does not read; writes never exceed the room) is dropped. */
static void slave_sink(void *ctx, const char *s, size_t n) {
    struct pty *p = ctx;
    n = MIN(n, (size_t)out_room(p));
    for (size_t i = 0; i < n;) {
        uint32_t at = p->out_wr & (PTY_BUF_SIZE - 1);
        size_t k = MIN(n - i, (size_t)(PTY_BUF_SIZE - at));
        memcpy(p->out + at, s + i, k);
        p->out_wr += (uint32_t)k;
        i += k;
    }
    if (n) wake_up_all(&p->master_wq);
}

/* Takes up to len bytes of slave output into buf. */
static size_t out_take(struct pty *p, uint8_t *buf, size_t len) {
    uint64_t fl = spin_lock_irqsave(&p->tty->lock);
    size_t n = MIN(len, (size_t)(p->out_wr - p->out_rd));
    for (size_t i = 0; i < n;) {
        uint32_t at = p->out_rd & (PTY_BUF_SIZE - 1);
        size_t k = MIN(n - i, (size_t)(PTY_BUF_SIZE - at));
        memcpy(buf + i, p->out + at, k);
        p->out_rd += (uint32_t)k;
        i += k;
    }
    spin_unlock_irqrestore(&p->tty->lock, fl);
    return n;
}

static uint32_t out_avail(struct pty *p) {
    return __atomic_load_n(&p->out_wr, __ATOMIC_ACQUIRE) - __atomic_load_n(&p->out_rd, __ATOMIC_ACQUIRE);
}

/* ---- the slave driver (tty_internal.h) ---- */

static int slot_of(const struct tty *t) { return (int)(uintptr_t)t->drv_ctx; }

static size_t slave_write_room(struct tty *t) { return out_room(t->sink_ctx); }

static int slave_open(struct tty *t, struct vfs_file *f) {
    (void)f;
    mutex_lock(&pty_lock);
    struct pty *p = slot_pair[slot_of(t)];
    int r = 0;
    if (!p || !p->master_open || p->locked) {
        r = -KEIO; /* Linux's pty_open: the master is gone, or the slave is locked */
    } else {
        p->slave_files++;
        p->slave_closed = false;
    }
    mutex_unlock(&pty_lock);
    return r;
}

/* Frees a pair whose sides are both closed. pty_lock held. */
static void free_pair(struct pty *p) {
    uint64_t fl = spin_lock_irqsave(&p->tty->lock);
    p->tty->ld = NULL; /* a stale use faults loudly instead of reading freed memory */
    spin_unlock_irqrestore(&p->tty->lock, fl);
    slot_pair[p->index] = NULL;
    pair_count--;
    kfree(p);
}

static void slave_close(struct tty *t, struct vfs_file *f) {
    (void)f;
    mutex_lock(&pty_lock);
    struct pty *p = slot_pair[slot_of(t)];
    if (--p->slave_files == 0) {
        p->slave_closed = true;
        wake_up_all(&p->master_wq);
        if (!p->master_open) free_pair(p);
    }
    mutex_unlock(&pty_lock);
}

static const struct tty_driver slave_driver = {
    .write_room = slave_write_room,
    .open = slave_open,
    .close = slave_close,
};

/* ---- the master ---- */

int pty_open_master(struct vfs_file *f) {
    mutex_lock(&pty_lock);
    int i = 0;
    while (i < PTY_MAX && slot_pair[i]) i++;
    int r = 0;
    struct pty *p = NULL;
    if (i == PTY_MAX) {
        r = -KENOSPC;
        goto out;
    }
    p = kzalloc(sizeof(*p));
    struct tty *t = slot_tty[i];
    if (!t) t = kmalloc(sizeof(*t));
    if (!p || !t) {
        if (t != slot_tty[i]) kfree(t);
        kfree(p);
        r = -KENOMEM;
        goto out;
    }
    if (!slot_tty[i]) {
        char name[16];
        ksnprintf(name, sizeof name, "pts/%d", i);
        tty_setup(t, &p->ld, name, slave_sink, p);
        t->drv = &slave_driver;
        t->drv_ctx = (void *)(uintptr_t)i;
        slot_tty[i] = t;
    } else {
        tty_reuse(t, &p->ld, slave_sink, p);
    }
    t->ws = (struct kwinsize){0}; /* as Linux: a new pty has no size */
    p->index = i;
    p->tty = t;
    wait_queue_init(&p->master_wq, "pty-master");
    p->master_open = true;
    p->locked = true;
    slot_pair[i] = p;
    pair_count++;
    f->fops = &master_fops;
    f->priv = p;
out:
    mutex_unlock(&pty_lock);
    return r;
}

static bool master_readable(struct pty *p) { return out_avail(p) > 0 || p->slave_closed; }

static int64_t master_read(struct vfs_file *f, void *buf, size_t len) {
    struct pty *p = f->priv;
    if (len == 0) return 0;
    for (;;) {
        size_t n = out_take(p, buf, len);
        if (n) {
            wake_up_all(&p->tty->write_wq);
            return (int64_t)n;
        }
        if (p->slave_closed) return -KEIO; /* Linux: TTY_OTHER_CLOSED, after the data */
        if (f->flags & O_NONBLOCK) return -KEAGAIN;
        if (wait_event(&p->master_wq, master_readable(p)) < 0) return -KEINTR;
    }
}

static int64_t master_write(struct vfs_file *f, const void *buf, size_t len) {
    struct pty *p = f->priv;
    return tty_write_input(p->tty, buf, len, f->flags & O_NONBLOCK);
}

static uint32_t master_poll(struct vfs_file *f, struct wait_queue *wqs[2]) {
    struct pty *p = f->priv;
    wqs[0] = &p->master_wq;
    wqs[1] = &p->tty->input_wq;
    uint32_t m = 0;
    if (out_avail(p)) m |= VFS_POLLIN;
    if (p->slave_closed) m |= VFS_POLLHUP;
    if (tty_input_room(p->tty)) m |= VFS_POLLOUT;
    return m;
}

/* The master's ioctls; user: arg points to user space (else kernel memory). */
static int64_t master_ioctl_common(struct vfs_file *f, uint32_t cmd, uint64_t arg, bool user) {
    struct pty *p = f->priv;
    struct tty *t = p->tty;
    int v, r;
    uint64_t fl;
    switch (cmd) {
    case TIOCGPTN: {
        uint32_t n = (uint32_t)p->index;
        return tty_arg_out(user, arg, &n, sizeof n);
    }
    case TIOCSPTLCK:
        if ((r = tty_arg_in(user, &v, arg, sizeof v))) return r;
        p->locked = v != 0;
        return 0;
    case TIOCGPTLCK:
        v = p->locked;
        return tty_arg_out(user, arg, &v, sizeof v);
    case TIOCSIG: /* Linux's pty_signal: the argument is the signal itself */
        if (arg != SIGINT && arg != SIGQUIT && arg != SIGTSTP) return -KEINVAL;
        if (t->pgrp > 0) proc_signal_pgrp(t->pgrp, (int)arg);
        return 0;
    case FIONREAD:
        v = (int)out_avail(p);
        return tty_arg_out(user, arg, &v, sizeof v);
    case TIOCOUTQ:
        v = 0;
        return tty_arg_out(user, arg, &v, sizeof v);
    case TCFLSH: /* input: the slave's unread output; output: the slave's unread input */
        if (arg > TCIOFLUSH) return -KEINVAL;
        fl = spin_lock_irqsave(&t->lock);
        if (arg != TCOFLUSH) p->out_rd = p->out_wr;
        if (arg != TCIFLUSH) tty_ldisc_flush_input(t->ld);
        spin_unlock_irqrestore(&t->lock, fl);
        wake_up_all(&t->write_wq);
        wake_up_all(&t->input_wq);
        return 0;
    case FIONBIO:
        if ((r = tty_arg_in(user, &v, arg, sizeof v))) return r;
        vfs_file_set_flags(f, v ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK);
        return 0;
    default: return tty_ioctl_master(t, f, cmd, arg, user); /* TIOCNOTTY among the others: ENOTTY */
    }
}

static int64_t master_ioctl(struct vfs_file *f, uint32_t cmd, uint64_t arg) {
    return master_ioctl_common(f, cmd, arg, true);
}

int64_t pty_ioctl_kernel(struct vfs_file *f, uint32_t cmd, uint64_t arg) {
    return master_ioctl_common(f, cmd, arg, false);
}

static void master_close(struct vfs_file *f) {
    struct pty *p = f->priv;
    mutex_lock(&pty_lock);
    p->master_open = false;
    tty_hangup(p->tty); /* under pty_lock: the number cannot be reused meanwhile */
    if (p->slave_files == 0) free_pair(p);
    mutex_unlock(&pty_lock);
}

static const struct vfs_file_ops master_fops = {
    .read = master_read,
    .write = master_write,
    .close = master_close,
    .poll = master_poll,
    .ioctl = master_ioctl,
};

int pty_master_index(const struct vfs_file *f) {
    return f && f->fops == &master_fops ? ((const struct pty *)f->priv)->index : -1;
}

/* ---- /dev/pts ---- */

int pty_lookup(const char *name, size_t len, struct vnode **out) {
    if (len == 0 || len > 3 || (len > 1 && name[0] == '0')) return -KENOENT;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9') return -KENOENT;
        n = n * 10 + (name[i] - '0');
    }
    if (n >= PTY_MAX) return -KENOENT;
    mutex_lock(&pty_lock);
    struct pty *p = slot_pair[n];
    int r = -KENOENT;
    if (p && p->master_open) {
        vnode_get(&p->tty->vn);
        *out = &p->tty->vn;
        r = 0;
    }
    mutex_unlock(&pty_lock);
    return r;
}

int pty_readdir(uint64_t *pos, struct vfs_dirent *out) {
    mutex_lock(&pty_lock);
    int found = 0;
    for (uint64_t i = *pos; i < PTY_MAX && !found; i++) {
        struct pty *p = slot_pair[i];
        if (!p || !p->master_open) continue;
        out->ino = p->tty->vn.ino;
        out->type = S_IFCHR;
        out->name_len = (uint16_t)ksnprintf(out->name, sizeof out->name, "%d", (int)i);
        *pos = i + 1;
        found = 1;
    }
    mutex_unlock(&pty_lock);
    return found;
}

int pty_count(void) {
    mutex_lock(&pty_lock);
    int n = pair_count;
    mutex_unlock(&pty_lock);
    return n;
}
