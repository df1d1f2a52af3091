/* tty.c: terminal devices (see tty.h and docs/tty.md): the console terminal and private ones,
 * their file operations (read, write, poll, ioctl), the console's input task, and job control.
 *
 * Follows POSIX.1-2017 XBD ch. 11: 11.1.2 process groups and 11.1.3 the controlling terminal
 * (a session leader without one that opens a terminal acquires it unless O_NOCTTY; the
 * session and foreground process group belong to the terminal), 11.1.4 terminal access
 * control (a background process group reading gets SIGTTIN, or EIO when SIGTTIN is ignored or
 * blocked; writing with TOSTOP and changing the terminal get SIGTTOU unless it is ignored or
 * blocked), 11.1.7 non-canonical reads (MIN/TIME), and the Linux ioctls of tty_ioctl(4)
 * (TCGETS ... TIOCGSID) with their errors. Signals from ISIG characters go to the foreground
 * process group as the byte arrives.
 *
 * Locking: t->lock (a spinlock) guards the line discipline; it is held for bounded work only
 * (one input batch, one 256-byte output chunk, one read copy). Echo and output go to the
 * sink under it. Signals noted by the line discipline are sent after it is dropped.
 * t->jc_lock (a mutex) serialises session and foreground-group changes, which look at the
 * process table; session and pgrp are read without it (single aligned words). */
#include "tty.h"
#include "proc.h"
#include "uaccess.h"
#include "console_input.h"
#include "printk.h"
#include "sched.h"
#include "kstring.h"
#include "mm.h"
#include "cpu.h"

#define OUT_CHUNK 256   /* bytes of a write processed per lock hold */
#define IN_CHUNK 256    /* bytes of injected input per lock hold */

struct tty {
    spinlock_t lock;
    struct tty_ldisc ld;
    struct wait_queue read_wq;      /* readers and pollers: input arrived, modes changed */
    struct mutex jc_lock;
    volatile pid_k session;         /* 0: no session has it as controlling terminal */
    volatile pid_k pgrp;            /* foreground process group, 0: none */
    struct kwinsize ws;
    uint32_t pending_sigs;          /* bit per signal noted by the line discipline */
    struct vnode vn;                /* the node behind files from tty_open */
    tty_out_fn sink;
    void *sink_ctx;
    int (*sig_hook)(int pgrp, int sig, void *ctx);
    void *sig_ctx;
    bool is_console;
    char name[16];
};

static const struct vfs_file_ops tty_fops;
static struct tty console_tty;
static volatile int console_state;     /* 0 not set up, 1 being set up, 2 ready */
static volatile bool console_started;
static volatile tid_t console_input_tid;

/* ---- set-up ---- */

static void ld_out(void *ctx, const char *s, size_t n) {
    struct tty *t = ctx;
    if (t->sink) t->sink(t->sink_ctx, s, n);
}

static void ld_sig(void *ctx, int sig) {
    struct tty *t = ctx;
    if (sig > 0 && sig < 32) t->pending_sigs |= 1u << sig;
}

static int tty_getattr(struct vnode *vn, struct vfs_stat *st) {
    memset(st, 0, sizeof(*st));
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = 1;
    st->blksize = 1024;
    return 0;
}

static const struct vnode_ops tty_vnode_ops = {.getattr = tty_getattr};

static void tty_setup(struct tty *t, const char *name, tty_out_fn sink, void *ctx) {
    static uint64_t next_ino = 1;
    memset(t, 0, sizeof(*t));
    spin_init(&t->lock, "tty");
    tty_ldisc_init(&t->ld, ld_out, ld_sig, t);
    wait_queue_init(&t->read_wq, "tty-read");
    mutex_init(&t->jc_lock, "tty-jobctl");
    t->ws = (struct kwinsize){.ws_row = 24, .ws_col = 80};
    vnode_init(&t->vn, &tty_vnode_ops, NULL, S_IFCHR | 0620, __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED));
    t->sink = sink;
    t->sink_ctx = ctx;
    strlcpy(t->name, name, sizeof t->name);
}

/* The console's sink: every kernel console. Those turn "\n" into CR LF themselves (the
 * serial driver sends CR before LF), so the CR of an ONLCR "\r\n" is left out; the line
 * discipline never splits a "\r\n" between two calls. */
static void console_sink(void *ctx, const char *s, size_t n) {
    char tmp[64];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') continue;
        tmp[m++] = s[i];
        if (m == sizeof tmp) {
            console_write(tmp, m);
            m = 0;
        }
    }
    console_write(tmp, m);
}

void tty_init(void) {
    int expected = 0;
    if (__atomic_compare_exchange_n(&console_state, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        tty_setup(&console_tty, "console", console_sink, NULL);
        console_tty.is_console = true;
        __atomic_store_n(&console_state, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&console_state, __ATOMIC_ACQUIRE) != 2) cpu_relax();
}

struct tty *tty_console(void) {
    if (__atomic_load_n(&console_state, __ATOMIC_ACQUIRE) != 2) tty_init();
    return &console_tty;
}

struct tty *tty_create(const char *name, tty_out_fn sink, void *ctx) {
    struct tty *t = kmalloc(sizeof(*t));
    if (t) tty_setup(t, name, sink, ctx);
    return t;
}

int tty_destroy(struct tty *t) {
    if (!t || t == &console_tty) return -KEBUSY;
    if (__atomic_load_n(&t->vn.refs, __ATOMIC_ACQUIRE) > 0 || t->session) return -KEBUSY;
    kfree(t);
    return 0;
}

void tty_set_signal_hook(struct tty *t, int (*fn)(int pgrp, int sig, void *ctx), void *ctx) {
    t->sig_ctx = ctx;
    t->sig_hook = fn;
}

int tty_session(const struct tty *t) { return t->session; }
int tty_fg_pgrp(const struct tty *t) { return t->pgrp; }
const char *tty_name(const struct tty *t) { return t->name; }

/* ---- signals and job control ---- */

static int send_sig(struct tty *t, pid_k pgrp, int sig) {
    if (pgrp <= 0) return -KESRCH;
    if (t->sig_hook) return t->sig_hook(pgrp, sig, t->sig_ctx);
    return proc_signal_pgrp(pgrp, sig);
}

/* True when t is p's controlling terminal now (p->ctty may be stale after the session lost
 * the terminal: the terminal's session decides). */
static bool is_ctty(const struct process *p, const struct tty *t) {
    return p->ctty == t && t->session != 0 && t->session == p->sid;
}

struct leader_query {
    pid_k sid;
    bool alive;
};
static void leader_cb(const struct process *p, void *ctx) {
    struct leader_query *q = ctx;
    if (p->pid == q->sid && p->sid == q->sid && p->state == PROC_ALIVE) q->alive = true;
}

/* True when no live session holds t (its session leader is gone counts as free). */
static bool session_free(struct tty *t) {
    if (t->session == 0) return true;
    struct leader_query q = {t->session, false};
    proc_for_each(leader_cb, &q);
    return !q.alive;
}

/* Makes t the controlling terminal of p's session, p its leader. jc_lock held. */
static void set_ctty(struct tty *t, struct process *p) {
    t->session = p->sid;
    t->pgrp = p->pgid;
    p->ctty = t;
}

/* The open-time rule of POSIX 11.1.3. */
static void maybe_acquire_ctty(struct tty *t, uint32_t flags) {
    struct process *p = proc_current();
    if (!p || (flags & O_NOCTTY) || p->sid != p->pid) return;
    if (p->ctty && is_ctty(p, p->ctty)) return;
    if (mutex_lock(&t->jc_lock) < 0) return;
    if (session_free(t)) set_ctty(t, p);
    mutex_unlock(&t->jc_lock);
}

/* The terminal loses its session: SIGHUP and SIGCONT to the foreground group. */
static void disassociate(struct tty *t) {
    bool locked = mutex_lock(&t->jc_lock) == 0; /* fails only for a killed task: go on */
    pid_k fg = t->pgrp;
    t->session = 0;
    t->pgrp = 0;
    if (locked) mutex_unlock(&t->jc_lock);
    if (fg > 0) {
        send_sig(t, fg, SIGHUP);
        send_sig(t, fg, SIGCONT);
    }
    wake_up_all(&t->read_wq);
}

/* Terminal access control (POSIX 11.1.4) for the caller on t with sig SIGTTIN (reads) or
 * SIGTTOU (writes with TOSTOP, mode and foreground changes): 0 to go ahead, -KEIO (a
 * background read with SIGTTIN ignored or blocked) or -KEINTR after signalling the caller's
 * process group (the call is restarted once the group is continued). Orphaned process
 * groups are not detected (they would get EIO on Linux). */
static int job_check(struct tty *t, int sig) {
    struct process *p = proc_current();
    if (!p || !is_ctty(p, t)) return 0;
    pid_k fg = t->pgrp;
    if (fg == 0 || p->pgid == fg) return 0;
    struct uthread *ut = uthread_current();
    bool ignored = p->sigactions[sig - 1].handler == 1 || (ut && (ut->sig_blocked & SIGBIT(sig)));
    if (ignored) return sig == SIGTTIN ? -KEIO : 0;
    send_sig(t, p->pgid, sig);
    return -KEINTR;
}

void tty_session_leader_exit(struct process *p) {
    struct tty *t = p->ctty;
    if (!t || p->sid != p->pid || !is_ctty(p, t)) return;
    disassociate(t);
    p->ctty = NULL;
}

struct tty *tty_current_ctty(void) {
    struct process *p = proc_current();
    return p && p->ctty && is_ctty(p, p->ctty) ? p->ctty : NULL;
}

/* ---- input ---- */

void tty_inject_input(struct tty *t, const char *s, size_t n) {
    while (n) {
        size_t chunk = MIN(n, (size_t)IN_CHUNK);
        uint64_t fl = spin_lock_irqsave(&t->lock);
        tty_ldisc_input(&t->ld, (const uint8_t *)s, chunk);
        uint32_t sigs = t->pending_sigs;
        t->pending_sigs = 0;
        spin_unlock_irqrestore(&t->lock, fl);
        wake_up_all(&t->read_wq);
        for (int sig = 1; sigs; sig++) {
            if (!(sigs & (1u << sig))) continue;
            sigs &= ~(1u << sig);
            send_sig(t, t->pgrp, sig);
        }
        s += chunk;
        n -= chunk;
    }
}

/* The console's input task: console input queue -> line discipline. */
static int64_t console_input_task(void *arg) {
    struct tty *t = arg;
    char buf[64];
    for (;;) {
        int c = console_getchar(WAIT_FOREVER);
        if (c == -KEINTR) return 0;
        if (c < 0) continue;
        size_t n = 0;
        buf[n++] = (char)c;
        while (n < sizeof buf && (c = console_getchar(0)) >= 0) buf[n++] = (char)c;
        tty_inject_input(t, buf, n);
    }
}

int tty_console_start(void) {
    struct tty *t = tty_console();
    if (__atomic_exchange_n(&console_started, true, __ATOMIC_ACQ_REL)) return 0;
    console_input_init();
    tid_t id = task_create_detached("tty-input", console_input_task, t, PRIO_HIGH);
    if (id < 0) {
        __atomic_store_n(&console_started, false, __ATOMIC_RELEASE);
        return id;
    }
    console_input_tid = id;
    return 0;
}

void tty_console_stop(void) {
    if (!__atomic_exchange_n(&console_started, false, __ATOMIC_ACQ_REL)) return;
    tid_t id = console_input_tid;
    console_input_tid = 0;
    if (id > 0) task_kill(id); /* its console_getchar returns -KEINTR and the task ends */
}

bool tty_console_started(void) { return __atomic_load_n(&console_started, __ATOMIC_ACQUIRE); }

/* ---- read and write ---- */

static bool has_input(struct tty *t) {
    return __atomic_load_n(&t->ld.canon, __ATOMIC_ACQUIRE) != __atomic_load_n(&t->ld.rd, __ATOMIC_ACQUIRE);
}

/* The console before tty_console_start: the kernel shell owns the input and a read takes
 * bytes straight from the queue, up to a line end (no echo, no editing). */
static int64_t console_direct_read(uint8_t *p, size_t len) {
    size_t got = 0;
    while (got < len) {
        int c = console_getchar(got ? 0 : WAIT_FOREVER);
        if (c == -KEINTR) return got ? (int64_t)got : -KEINTR;
        if (c < 0) break;
        p[got++] = (uint8_t)c;
        if (c == '\n' || c == '\r') break;
    }
    return (int64_t)got;
}

static int64_t tty_do_read(struct tty *t, uint8_t *buf, size_t len, bool nonblock) {
    int r = job_check(t, SIGTTIN);
    if (r) return r;
    if (len == 0) return 0;
    if (t->is_console && !tty_console_started()) return console_direct_read(buf, len);
    size_t done = 0;
    uint64_t deadline = 0;
    bool timer_set = false;
    for (;;) {
        uint64_t fl = spin_lock_irqsave(&t->lock);
        bool canon = t->ld.tio.c_lflag & ICANON;
        struct tty_raw_plan plan;
        tty_raw_plan(&t->ld.tio, len, &plan);
        int64_t n = tty_ldisc_read(&t->ld, buf + done, len - done);
        spin_unlock_irqrestore(&t->lock, fl);
        if (canon) {
            if (n >= 0) return (int64_t)done + n;
            if (done) return (int64_t)done; /* the mode changed under a raw read */
        } else {
            done += (size_t)n;
            if (done >= plan.want) return (int64_t)done;
        }
        if (nonblock) return done ? (int64_t)done : -KEAGAIN;
        uint64_t timeout = WAIT_FOREVER;
        if (!canon) {
            if (!timer_set) {
                deadline = plan.first_ns == WAIT_FOREVER ? WAIT_FOREVER : wait_deadline(plan.first_ns);
                timer_set = true;
            }
            if (n > 0 && plan.inter_ns) deadline = wait_deadline(plan.inter_ns);
            if (deadline != WAIT_FOREVER) {
                uint64_t now = time_ns();
                if (now >= deadline) return (int64_t)done;
                timeout = deadline - now;
            }
        }
        int w = wait_event_timeout(&t->read_wq, has_input(t), timeout);
        if (w < 0) return done ? (int64_t)done : -KEINTR;
        if (w == 0) return (int64_t)done;
    }
}

static int64_t tty_do_write(struct tty *t, const uint8_t *buf, size_t len) {
    if (t->ld.tio.c_lflag & TOSTOP) {
        int r = job_check(t, SIGTTOU);
        if (r) return r;
    }
    size_t done = 0;
    while (done < len) {
        size_t n = MIN(len - done, (size_t)OUT_CHUNK);
        uint64_t fl = spin_lock_irqsave(&t->lock);
        tty_ldisc_write(&t->ld, buf + done, n);
        spin_unlock_irqrestore(&t->lock, fl);
        done += n;
        if (done < len && task_interrupted(task_current())) break;
    }
    return (int64_t)done;
}

int64_t tty_read_kernel(struct tty *t, void *buf, size_t len) { return tty_do_read(t, buf, len, false); }
int64_t tty_write_kernel(struct tty *t, const void *buf, size_t len) { return tty_do_write(t, buf, len); }

/* ---- file operations ---- */

static int64_t fop_read(struct vfs_file *f, void *buf, size_t len) {
    return tty_do_read(f->priv, buf, len, f->flags & O_NONBLOCK);
}

static int64_t fop_write(struct vfs_file *f, const void *buf, size_t len) {
    return tty_do_write(f->priv, buf, len);
}

static uint32_t fop_poll(struct vfs_file *f, struct wait_queue *wqs[2]) {
    struct tty *t = f->priv;
    wqs[0] = &t->read_wq;
    wqs[1] = NULL;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    bool ready = tty_ldisc_poll_ready(&t->ld);
    spin_unlock_irqrestore(&t->lock, fl);
    return VFS_POLLOUT | (ready ? VFS_POLLIN : 0);
}

static int arg_out(bool user, uint64_t arg, const void *src, size_t n) {
    if (user) return copy_to_user((void *)arg, src, n) ? -KEFAULT : 0;
    if (!arg) return -KEFAULT;
    memcpy((void *)arg, src, n);
    return 0;
}

static int arg_in(bool user, void *dst, uint64_t arg, size_t n) {
    if (user) return copy_from_user(dst, (const void *)arg, n) ? -KEFAULT : 0;
    if (!arg) return -KEFAULT;
    memcpy(dst, (const void *)arg, n);
    return 0;
}

static int ioctl_setpgrp(struct tty *t, struct process *p, int pgrp) {
    if (p && !is_ctty(p, t)) return -KENOTTY;
    int r = job_check(t, SIGTTOU);
    if (r) return r;
    if (pgrp <= 0) return -KEINVAL;
    if (p && !proc_pgrp_exists(pgrp, p->sid)) return -KEPERM;
    t->pgrp = pgrp;
    return 0;
}

static int ioctl_sctty(struct tty *t, struct process *p, uint64_t arg) {
    if (!p || p->sid != p->pid) return -KEPERM;
    if (p->ctty && is_ctty(p, p->ctty)) return p->ctty == t ? 0 : -KEPERM;
    if (mutex_lock(&t->jc_lock) < 0) return -KEINTR;
    int r = 0;
    if (!session_free(t) && arg != 1) r = -KEPERM; /* arg 1 steals it (everyone is root) */
    else set_ctty(t, p);
    mutex_unlock(&t->jc_lock);
    return r;
}

static int ioctl_notty(struct tty *t, struct process *p) {
    if (!p || !is_ctty(p, t)) return -KENOTTY;
    if (p->sid == p->pid) disassociate(t);
    p->ctty = NULL;
    return 0;
}

static int64_t tty_ioctl_common(struct vfs_file *f, uint32_t cmd, uint64_t arg, bool user) {
    struct tty *t = f->priv;
    struct process *p = proc_current();
    int v, r;
    uint64_t fl;
    switch (cmd) {
    case TCGETS: {
        struct ktermios k;
        fl = spin_lock_irqsave(&t->lock);
        k = t->ld.tio;
        spin_unlock_irqrestore(&t->lock, fl);
        return arg_out(user, arg, &k, sizeof k);
    }
    case TCSETS:
    case TCSETSW: /* output is written synchronously: nothing to drain */
    case TCSETSF: {
        struct ktermios k;
        if ((r = arg_in(user, &k, arg, sizeof k))) return r;
        if ((r = job_check(t, SIGTTOU))) return r;
        fl = spin_lock_irqsave(&t->lock);
        if (cmd == TCSETSF) tty_ldisc_flush_input(&t->ld);
        tty_ldisc_set_termios(&t->ld, &k);
        spin_unlock_irqrestore(&t->lock, fl);
        wake_up_all(&t->read_wq);
        return 0;
    }
    case TCSBRK:
    case TCSBRKP: return 0; /* tcdrain / tcsendbreak: nothing is queued, no line to break */
    case TCXONC: return arg <= 3 ? 0 : -KEINVAL;
    case TCFLSH:
        if (arg > TCIOFLUSH) return -KEINVAL;
        if (arg != TCOFLUSH) {
            fl = spin_lock_irqsave(&t->lock);
            tty_ldisc_flush_input(&t->ld);
            spin_unlock_irqrestore(&t->lock, fl);
        }
        return 0;
    case FIONREAD:
        fl = spin_lock_irqsave(&t->lock);
        v = (int)tty_ldisc_avail(&t->ld);
        spin_unlock_irqrestore(&t->lock, fl);
        return arg_out(user, arg, &v, sizeof v);
    case TIOCOUTQ:
        v = 0;
        return arg_out(user, arg, &v, sizeof v);
    case FIONBIO:
        if ((r = arg_in(user, &v, arg, sizeof v))) return r;
        vfs_file_set_flags(f, v ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK);
        return 0;
    case TIOCGWINSZ: {
        struct kwinsize ws = t->ws;
        return arg_out(user, arg, &ws, sizeof ws);
    }
    case TIOCSWINSZ: {
        struct kwinsize ws;
        if ((r = arg_in(user, &ws, arg, sizeof ws))) return r;
        bool changed = memcmp(&ws, &t->ws, sizeof ws) != 0;
        t->ws = ws;
        if (changed && t->pgrp > 0) send_sig(t, t->pgrp, SIGWINCH);
        return 0;
    }
    case TIOCGPGRP:
        if (p && !is_ctty(p, t)) return -KENOTTY;
        v = t->pgrp;
        return arg_out(user, arg, &v, sizeof v);
    case TIOCSPGRP:
        if ((r = arg_in(user, &v, arg, sizeof v))) return r;
        if (mutex_lock(&t->jc_lock) < 0) return -KEINTR;
        r = ioctl_setpgrp(t, p, v);
        mutex_unlock(&t->jc_lock);
        return r;
    case TIOCGSID:
        if ((p && !is_ctty(p, t)) || t->session == 0) return -KENOTTY;
        v = t->session;
        return arg_out(user, arg, &v, sizeof v);
    case TIOCSCTTY: return ioctl_sctty(t, p, arg);
    case TIOCNOTTY: return ioctl_notty(t, p);
    default: return -KENOTTY;
    }
}

static int64_t fop_ioctl(struct vfs_file *f, uint32_t cmd, uint64_t arg) { return tty_ioctl_common(f, cmd, arg, true); }

int64_t tty_ioctl_kernel(struct vfs_file *f, uint32_t cmd, uint64_t arg) {
    if (!tty_from_file(f)) return -KENOTTY;
    return tty_ioctl_common(f, cmd, arg, false);
}

static const struct vfs_file_ops tty_fops = {
    .read = fop_read,
    .write = fop_write,
    .poll = fop_poll,
    .ioctl = fop_ioctl,
};

struct tty *tty_from_file(const struct vfs_file *f) { return f && f->fops == &tty_fops ? f->priv : NULL; }

/* ---- opening ---- */

int tty_attach_file(struct tty *t, struct vfs_file *f) {
    f->fops = &tty_fops;
    f->priv = t;
    maybe_acquire_ctty(t, f->flags);
    return 0;
}

int tty_open(struct tty *t, uint32_t flags, struct vfs_file **out) {
    if ((flags & O_ACCMODE_K) == O_ACCMODE_K) return -KEINVAL;
    vnode_get(&t->vn);
    struct vfs_file *f;
    int r = vfs_file_from_vnode(&t->vn, flags, &tty_fops, t, &f);
    if (r < 0) {
        vnode_put(&t->vn);
        return r;
    }
    maybe_acquire_ctty(t, f->flags);
    *out = f;
    return 0;
}

int tty_open_console(uint32_t flags, struct vfs_file **out) { return tty_open(tty_console(), flags, out); }
