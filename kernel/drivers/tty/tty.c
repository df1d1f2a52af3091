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
 * Drivers (tty_internal.h): the console and the pseudo-terminal slaves (pty.c) share this
 * code and the line discipline; a driver bounds the output (writers block or get EAGAIN while
 * its sink is full), counts the files, and hangs the terminal up (Linux's vhangup: the
 * session leader gets SIGHUP and SIGCONT, reads give 0, writes and ioctls EIO).
 *
 * Locking: t->lock (a spinlock) guards the line discipline; it is held for bounded work only
 * (one input batch, one 256-byte output chunk, one read copy). Echo and output go to the
 * sink under it. Signals noted by the line discipline are sent after it is dropped.
 * t->jc_lock (a mutex) serialises session and foreground-group changes, which look at the
 * process table; session and pgrp are read without it (single aligned words). */
#include "tty_internal.h"
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

static const struct vfs_file_ops tty_fops;
static struct tty console_tty;
static struct tty_ldisc console_ld;
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

static int tty_vnode_open(struct vnode *vn, struct vfs_file *f) {
    return tty_attach_file(container_of(vn, struct tty, vn), f);
}

/* The terminal's own node: reached by tty_open and, for pty slaves, as /dev/pts/N. */
static const struct vnode_ops tty_vnode_ops = {.getattr = tty_getattr, .open = tty_vnode_open};

void tty_setup(struct tty *t, struct tty_ldisc *ld, const char *name, tty_out_fn sink, void *ctx) {
    static uint64_t next_ino = 1;
    memset(t, 0, sizeof(*t));
    spin_init(&t->lock, "tty");
    wait_queue_init(&t->read_wq, "tty-read");
    wait_queue_init(&t->write_wq, "tty-write");
    wait_queue_init(&t->input_wq, "tty-input");
    mutex_init(&t->jc_lock, "tty-jobctl");
    t->ws = (struct kwinsize){.ws_row = 24, .ws_col = 80};
    vnode_init(&t->vn, &tty_vnode_ops, NULL, S_IFCHR | 0620, __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED));
    t->ld = ld;
    tty_ldisc_init(ld, ld_out, ld_sig, t);
    t->sink = sink;
    t->sink_ctx = ctx;
    strlcpy(t->name, name, sizeof t->name);
}

void tty_reuse(struct tty *t, struct tty_ldisc *ld, tty_out_fn sink, void *ctx) {
    mutex_lock(&t->jc_lock);
    t->session = 0;
    t->pgrp = 0;
    mutex_unlock(&t->jc_lock);
    uint64_t fl = spin_lock_irqsave(&t->lock);
    tty_ldisc_init(ld, ld_out, ld_sig, t);
    t->ld = ld;
    t->sink = sink;
    t->sink_ctx = ctx;
    t->pending_sigs = 0;
    t->hung_up = false;
    spin_unlock_irqrestore(&t->lock, fl);
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
        tty_setup(&console_tty, &console_ld, "console", console_sink, NULL);
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

/* A private terminal and its line discipline, freed together by tty_destroy. */
struct private_tty {
    struct tty t;
    struct tty_ldisc ld;
};

struct tty *tty_create(const char *name, tty_out_fn sink, void *ctx) {
    struct private_tty *pt = kmalloc(sizeof(*pt));
    if (!pt) return NULL;
    tty_setup(&pt->t, &pt->ld, name, sink, ctx);
    return &pt->t;
}

int tty_destroy(struct tty *t) {
    if (!t || t == &console_tty || t->drv) return -KEBUSY;
    if (__atomic_load_n(&t->vn.refs, __ATOMIC_ACQUIRE) > 0 || t->session) return -KEBUSY;
    kfree(container_of(t, struct private_tty, t));
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

/* True when the leader of session sid is alive. */
static bool leader_alive(pid_k sid) {
    struct leader_query q = {sid, false};
    proc_for_each(leader_cb, &q);
    return q.alive;
}

/* True when no live session holds t (its session leader is gone counts as free). */
static bool session_free(struct tty *t) {
    return t->session == 0 || !leader_alive(t->session);
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

void tty_hangup(struct tty *t) {
    mutex_lock(&t->jc_lock);
    pid_k sid = t->session;
    t->session = 0;
    t->pgrp = 0;
    mutex_unlock(&t->jc_lock);
    uint64_t fl = spin_lock_irqsave(&t->lock);
    t->hung_up = true;
    spin_unlock_irqrestore(&t->lock, fl);
    /* Linux's tty_signal_session_leader: only the session leader is signalled */
    if (sid > 0 && leader_alive(sid)) {
        proc_signal_pid(sid, SIGHUP);
        proc_signal_pid(sid, SIGCONT);
    }
    wake_up_all(&t->read_wq);
    wake_up_all(&t->write_wq);
    wake_up_all(&t->input_wq);
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

/* Sends the signals the line discipline noted (t->lock not held). */
static void send_pending(struct tty *t, uint32_t sigs) {
    for (int sig = 1; sigs; sig++) {
        if (!(sigs & (1u << sig))) continue;
        sigs &= ~(1u << sig);
        send_sig(t, t->pgrp, sig);
    }
}

/* One batch of at most IN_CHUNK bytes of input; with bounded, no more than the input buffer
 * takes without dropping. Returns the bytes taken. */
static size_t input_batch(struct tty *t, const uint8_t *s, size_t n, bool bounded) {
    size_t chunk = MIN(n, (size_t)IN_CHUNK);
    uint64_t fl = spin_lock_irqsave(&t->lock);
    if (bounded) chunk = MIN(chunk, (size_t)tty_ldisc_input_room(t->ld));
    if (chunk) tty_ldisc_input(t->ld, s, chunk);
    uint32_t sigs = t->pending_sigs;
    t->pending_sigs = 0;
    spin_unlock_irqrestore(&t->lock, fl);
    if (chunk) wake_up_all(&t->read_wq);
    send_pending(t, sigs);
    return chunk;
}

void tty_inject_input(struct tty *t, const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    while (n) {
        size_t k = input_batch(t, p, n, false);
        p += k;
        n -= k;
    }
}

uint32_t tty_input_room(struct tty *t) {
    uint64_t fl = spin_lock_irqsave(&t->lock);
    uint32_t room = tty_ldisc_input_room(t->ld);
    spin_unlock_irqrestore(&t->lock, fl);
    return room;
}

static bool input_room_or_hangup(struct tty *t) { return t->hung_up || tty_input_room(t) > 0; }

int64_t tty_write_input(struct tty *t, const uint8_t *s, size_t n, bool nonblock) {
    size_t done = 0;
    while (done < n) {
        size_t k = input_batch(t, s + done, n - done, true);
        done += k;
        if (k) continue;
        if (t->hung_up) break;
        if (nonblock) return done ? (int64_t)done : -KEAGAIN;
        if (wait_event(&t->input_wq, input_room_or_hangup(t)) < 0) return done ? (int64_t)done : -KEINTR;
    }
    return (int64_t)done;
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
    return t->hung_up ||
           __atomic_load_n(&t->ld->canon, __ATOMIC_ACQUIRE) != __atomic_load_n(&t->ld->rd, __ATOMIC_ACQUIRE);
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
        if (t->hung_up) {
            spin_unlock_irqrestore(&t->lock, fl);
            return (int64_t)done; /* Linux's hung_up_tty_read: end of file */
        }
        bool canon = t->ld->tio.c_lflag & ICANON;
        struct tty_raw_plan plan;
        tty_raw_plan(&t->ld->tio, len, &plan);
        int64_t n = tty_ldisc_read(t->ld, buf + done, len - done);
        spin_unlock_irqrestore(&t->lock, fl);
        if (n > 0) wake_up_all(&t->input_wq); /* a pty master may write again */
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

/* Bytes of a write that fit the driver's sink now: a byte becomes at most two with ONLCR.
 * t->lock held. */
static size_t write_fits(struct tty *t, size_t want) {
    if (!t->drv || !t->drv->write_room) return want;
    const struct ktermios *k = &t->ld->tio;
    size_t per_byte = (k->c_oflag & OPOST) && (k->c_oflag & ONLCR) ? 2 : 1;
    return MIN(want, t->drv->write_room(t) / per_byte);
}

static bool can_write_or_hangup(struct tty *t) {
    uint64_t fl = spin_lock_irqsave(&t->lock);
    bool ok = t->hung_up || write_fits(t, 1) > 0;
    spin_unlock_irqrestore(&t->lock, fl);
    return ok;
}

static int64_t tty_do_write(struct tty *t, const uint8_t *buf, size_t len, bool nonblock) {
    if (t->hung_up) return -KEIO;
    if (t->ld->tio.c_lflag & TOSTOP) {
        int r = job_check(t, SIGTTOU);
        if (r) return r;
    }
    size_t done = 0;
    while (done < len) {
        uint64_t fl = spin_lock_irqsave(&t->lock);
        if (t->hung_up) {
            spin_unlock_irqrestore(&t->lock, fl);
            return done ? (int64_t)done : -KEIO;
        }
        size_t n = write_fits(t, MIN(len - done, (size_t)OUT_CHUNK));
        if (n) tty_ldisc_write(t->ld, buf + done, n);
        spin_unlock_irqrestore(&t->lock, fl);
        done += n;
        if (n == 0) {
            if (nonblock) return done ? (int64_t)done : -KEAGAIN;
            if (wait_event(&t->write_wq, can_write_or_hangup(t)) < 0) return done ? (int64_t)done : -KEINTR;
            continue;
        }
        if (done < len && task_interrupted(task_current())) break;
    }
    return (int64_t)done;
}

int64_t tty_read_kernel(struct tty *t, void *buf, size_t len) { return tty_do_read(t, buf, len, false); }
int64_t tty_write_kernel(struct tty *t, const void *buf, size_t len) { return tty_do_write(t, buf, len, false); }

/* ---- file operations ---- */

static int64_t fop_read(struct vfs_file *f, void *buf, size_t len) {
    return tty_do_read(f->priv, buf, len, f->flags & O_NONBLOCK);
}

static int64_t fop_write(struct vfs_file *f, const void *buf, size_t len) {
    return tty_do_write(f->priv, buf, len, f->flags & O_NONBLOCK);
}

static uint32_t fop_poll(struct vfs_file *f, struct wait_queue *wqs[2]) {
    struct tty *t = f->priv;
    wqs[0] = &t->read_wq;
    wqs[1] = t->drv ? &t->write_wq : NULL;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    if (t->hung_up) {
        spin_unlock_irqrestore(&t->lock, fl);
        return VFS_POLLIN | VFS_POLLOUT | VFS_POLLERR | VFS_POLLHUP; /* Linux's hung_up_tty_poll */
    }
    bool readable = tty_ldisc_poll_ready(t->ld);
    bool writable = write_fits(t, 1) > 0;
    spin_unlock_irqrestore(&t->lock, fl);
    return (writable ? VFS_POLLOUT : 0) | (readable ? VFS_POLLIN : 0);
}

static void fop_close(struct vfs_file *f) {
    struct tty *t = f->priv;
    if (t->drv && t->drv->close) t->drv->close(t, f);
}

int tty_arg_out(bool user, uint64_t arg, const void *src, size_t n) {
    if (user) return copy_to_user((void *)arg, src, n) ? -KEFAULT : 0;
    if (!arg) return -KEFAULT;
    memcpy((void *)arg, src, n);
    return 0;
}

int tty_arg_in(bool user, void *dst, uint64_t arg, size_t n) {
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

/* The ioctls of terminal t through file f (a file of t, or of its pty master: from_master
 * lifts the controlling-terminal condition of TIOCGPGRP and TIOCGSID, as Linux). */
static int64_t tty_ioctl_common(struct tty *t, struct vfs_file *f, uint32_t cmd, uint64_t arg, bool user,
                                bool from_master) {
    struct process *p = proc_current();
    int v, r;
    uint64_t fl;
    if (t->hung_up) return cmd == TIOCSPGRP ? -KENOTTY : -KEIO; /* Linux's hung_up_tty_ioctl */
    switch (cmd) {
    case TCGETS: {
        struct ktermios k;
        fl = spin_lock_irqsave(&t->lock);
        k = t->ld->tio;
        spin_unlock_irqrestore(&t->lock, fl);
        return tty_arg_out(user, arg, &k, sizeof k);
    }
    case TCSETS:
    case TCSETSW: /* output is written synchronously: nothing to drain */
    case TCSETSF: {
        struct ktermios k;
        if ((r = tty_arg_in(user, &k, arg, sizeof k))) return r;
        if ((r = job_check(t, SIGTTOU))) return r;
        fl = spin_lock_irqsave(&t->lock);
        if (cmd == TCSETSF) tty_ldisc_flush_input(t->ld);
        tty_ldisc_set_termios(t->ld, &k);
        spin_unlock_irqrestore(&t->lock, fl);
        wake_up_all(&t->read_wq);
        wake_up_all(&t->write_wq);  /* ONLCR may have changed what fits */
        if (cmd == TCSETSF) wake_up_all(&t->input_wq);
        return 0;
    }
    case TCSBRK:
    case TCSBRKP: return 0; /* tcdrain / tcsendbreak: nothing is queued, no line to break */
    case TCXONC: return arg <= 3 ? 0 : -KEINVAL;
    case TCFLSH:
        if (arg > TCIOFLUSH) return -KEINVAL;
        if (arg != TCOFLUSH) {
            fl = spin_lock_irqsave(&t->lock);
            tty_ldisc_flush_input(t->ld);
            spin_unlock_irqrestore(&t->lock, fl);
            wake_up_all(&t->input_wq);
        }
        return 0;
    case FIONREAD:
        fl = spin_lock_irqsave(&t->lock);
        v = (int)tty_ldisc_avail(t->ld);
        spin_unlock_irqrestore(&t->lock, fl);
        return tty_arg_out(user, arg, &v, sizeof v);
    case TIOCOUTQ:
        v = 0;
        return tty_arg_out(user, arg, &v, sizeof v);
    case FIONBIO:
        if ((r = tty_arg_in(user, &v, arg, sizeof v))) return r;
        vfs_file_set_flags(f, v ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK);
        return 0;
    case TIOCGWINSZ: {
        fl = spin_lock_irqsave(&t->lock);
        struct kwinsize ws = t->ws;
        spin_unlock_irqrestore(&t->lock, fl);
        return tty_arg_out(user, arg, &ws, sizeof ws);
    }
    case TIOCSWINSZ: {
        struct kwinsize ws;
        if ((r = tty_arg_in(user, &ws, arg, sizeof ws))) return r;
        fl = spin_lock_irqsave(&t->lock);
        bool changed = memcmp(&ws, &t->ws, sizeof ws) != 0;
        t->ws = ws;
        spin_unlock_irqrestore(&t->lock, fl);
        if (changed && t->pgrp > 0) send_sig(t, t->pgrp, SIGWINCH);
        return 0;
    }
    case TIOCGPGRP:
        if (p && !from_master && !is_ctty(p, t)) return -KENOTTY;
        v = t->pgrp;
        return tty_arg_out(user, arg, &v, sizeof v);
    case TIOCSPGRP:
        if ((r = tty_arg_in(user, &v, arg, sizeof v))) return r;
        if (mutex_lock(&t->jc_lock) < 0) return -KEINTR;
        r = ioctl_setpgrp(t, p, v);
        mutex_unlock(&t->jc_lock);
        return r;
    case TIOCGSID:
        if ((p && !from_master && !is_ctty(p, t)) || t->session == 0) return -KENOTTY;
        v = t->session;
        return tty_arg_out(user, arg, &v, sizeof v);
    case TIOCSCTTY: return ioctl_sctty(t, p, arg);
    case TIOCNOTTY: return ioctl_notty(t, p);
    default: return -KENOTTY;
    }
}

static int64_t fop_ioctl(struct vfs_file *f, uint32_t cmd, uint64_t arg) {
    return tty_ioctl_common(f->priv, f, cmd, arg, true, false);
}

int64_t tty_ioctl_kernel(struct vfs_file *f, uint32_t cmd, uint64_t arg) {
    if (pty_master_index(f) >= 0) return pty_ioctl_kernel(f, cmd, arg);
    if (!tty_from_file(f)) return -KENOTTY;
    return tty_ioctl_common(f->priv, f, cmd, arg, false, false);
}

int64_t tty_ioctl_master(struct tty *t, struct vfs_file *f, uint32_t cmd, uint64_t arg, bool user) {
    switch (cmd) {
    case TCGETS: case TCSETS: case TCSETSW: case TCSETSF: case TCSBRK: case TCSBRKP: case TCXONC:
    case TIOCGWINSZ: case TIOCSWINSZ: case TIOCGPGRP: case TIOCSPGRP: case TIOCGSID: case TIOCSCTTY:
        return tty_ioctl_common(t, f, cmd, arg, user, true);
    default: return -KENOTTY;
    }
}

static const struct vfs_file_ops tty_fops = {
    .read = fop_read,
    .write = fop_write,
    .close = fop_close,
    .poll = fop_poll,
    .ioctl = fop_ioctl,
};

struct tty *tty_from_file(const struct vfs_file *f) { return f && f->fops == &tty_fops ? f->priv : NULL; }

/* ---- opening ---- */

int tty_attach_file(struct tty *t, struct vfs_file *f) {
    if (t->drv && t->drv->open) {
        int r = t->drv->open(t, f);
        if (r < 0) return r;
    }
    f->fops = &tty_fops;
    f->priv = t;
    maybe_acquire_ctty(t, f->flags);
    return 0;
}

int tty_open(struct tty *t, uint32_t flags, struct vfs_file **out) {
    if ((flags & O_ACCMODE_K) == O_ACCMODE_K) return -KEINVAL;
    vnode_get(&t->vn);
    struct vfs_file *f;
    int r = vfs_file_from_vnode(&t->vn, flags, NULL, NULL, &f);
    if (r == 0) {
        r = tty_attach_file(t, f);
        if (r < 0) kfree(f); /* as vfs_open: never a terminal file, nothing to close */
    }
    if (r < 0) {
        vnode_put(&t->vn);
        return r;
    }
    *out = f;
    return 0;
}

int tty_open_console(uint32_t flags, struct vfs_file **out) { return tty_open(tty_console(), flags, out); }
