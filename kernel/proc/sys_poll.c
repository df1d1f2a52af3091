/* sys_poll.c: I/O multiplexing system calls of the Linux x86-64 ABI: poll, ppoll, select,
 * pselect6.
 *
 * Follows POSIX.1-2017 XSH poll() and pselect()/select() and the Linux man-pages (man 2 poll,
 * select): struct pollfd {int fd; short events; short revents}; a negative fd is skipped
 * (revents 0); a descriptor that is not open (or opened with O_PATH) gives POLLNVAL in poll
 * and -EBADF in select; POLLERR, POLLHUP and POLLNVAL are reported even when not asked for;
 * fd_set is a bit array in 64-bit words; select counts the bits it leaves set. A file
 * without a poll operation (regular files, directories) is always readable and writable.
 *
 * Timeouts use the monotonic clock: 0 never sleeps; a negative poll timeout or a NULL
 * timeval/timespec waits without a deadline; an invalid timeval/timespec is -EINVAL. select,
 * pselect6 and ppoll write the time left back, as Linux does (errors there are ignored).
 * Waiting: each file's poll operation names up to two wait queues; the caller is queued on
 * all of them at once (one struct wait_entry per queue) and marked sleeping before the files
 * are polled again, so a wake-up between the check and the sleep is never lost. A signal (or
 * kill) ends the wait with -EINTR; these calls are never restarted (SYSCALL_NORESTART).
 * ppoll/pselect6 install the given signal mask for the wait; when the call ends with EINTR
 * the old mask comes back after the handler runs (saved_sigmask), otherwise at once.
 *
 * The pure parts (timeout conversion, fd_set words, select event classes) come first and
 * compile on the host (tests/host/test_sys_poll.c, -DHOST_TEST). */
#include "vfs.h"
#include "kstring.h"

#define POLLRDNORM 0x040u
#define POLLRDBAND 0x080u
#define POLLWRNORM 0x100u
#define POLLWRBAND 0x200u
/* What select's three sets mean in poll bits (as Linux's POLLIN_SET / POLLOUT_SET / POLLEX_SET). */
#define SEL_IN (VFS_POLLIN | POLLRDNORM | POLLRDBAND | VFS_POLLHUP | VFS_POLLERR)
#define SEL_OUT (VFS_POLLOUT | POLLWRNORM | POLLWRBAND | VFS_POLLERR)
#define SEL_EX VFS_POLLPRI
#define NS_PER_S 1000000000ull
#define POLL_NO_DEADLINE UINT64_MAX

/* A poll(2) timeout in milliseconds to nanoseconds; negative = no deadline. */
uint64_t sys_poll_ms_to_ns(int32_t ms) {
    return ms < 0 ? POLL_NO_DEADLINE : (uint64_t)ms * 1000000ull;
}

/* A (sec, frac) timeout to nanoseconds, frac in units of unit_ns (1 for timespec, 1000 for
 * timeval): 0, or -KEINVAL for a negative or unnormalised value. Huge values saturate just
 * below POLL_NO_DEADLINE. */
int sys_time_to_ns(int64_t sec, int64_t frac, uint64_t unit_ns, uint64_t *out) {
    if (sec < 0 || frac < 0 || (uint64_t)frac >= NS_PER_S / unit_ns) return -KEINVAL;
    uint64_t ns;
    if (__builtin_mul_overflow((uint64_t)sec, NS_PER_S, &ns) || __builtin_add_overflow(ns, (uint64_t)frac * unit_ns, &ns) ||
        ns >= POLL_NO_DEADLINE)
        ns = POLL_NO_DEADLINE - 1;
    *out = ns;
    return 0;
}

/* Bytes of an fd_set covering n descriptors (whole 64-bit words, as Linux copies them). */
size_t sys_fdset_bytes(int n) { return n <= 0 ? 0 : (size_t)((n + 63) / 64) * 8; }

bool sys_fdset_test(const uint64_t *set, int fd) { return set && (set[fd / 64] >> (fd % 64)) & 1; }
void sys_fdset_set(uint64_t *set, int fd) { set[fd / 64] |= 1ull << (fd % 64); }

/* Poll bits to ask a file for when fd is in the given select sets. */
uint32_t sys_select_events(bool in, bool out, bool ex) {
    return (in ? SEL_IN : 0) | (out ? SEL_OUT : 0) | (ex ? SEL_EX : 0);
}

/* Adds the *NORM twins to a file's readiness (POLLIN -> POLLRDNORM, POLLOUT -> POLLWRNORM). */
uint32_t sys_poll_norm(uint32_t mask) {
    if (mask & VFS_POLLIN) mask |= POLLRDNORM;
    if (mask & VFS_POLLOUT) mask |= POLLWRNORM;
    return mask;
}

#ifndef HOST_TEST
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "mm.h"
#include "sched.h"

#define POLL_NFDS_MAX (FD_MAX * 4)
#define O_PATH_K 010000000
#define SLOTS_STACK 8
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))

struct pollfd_k {
    int32_t fd;
    int16_t events;
    int16_t revents;
};

/* One file being waited for. */
struct poll_slot {
    struct vfs_file *f;          /* referenced, or NULL (skipped / not open) */
    uint32_t events;             /* reported when they hold (poll adds POLLERR|POLLHUP) */
    uint32_t revents;            /* result */
    struct wait_queue *wq[2];    /* queues we are on */
    struct wait_entry we[2];
};

static uint32_t file_poll(struct vfs_file *f, struct wait_queue *wqs[2]) {
    wqs[0] = wqs[1] = NULL;
    if (!f->fops || !f->fops->poll) return sys_poll_norm(VFS_POLLIN | VFS_POLLOUT);
    return sys_poll_norm(f->fops->poll(f, wqs));
}

/* Queues the caller on wq for slot s unless already there; true when newly queued. */
static bool slot_register(struct poll_slot *s, struct wait_queue *wq) {
    if (!wq || s->wq[0] == wq || s->wq[1] == wq) return false;
    int i = s->wq[0] ? 1 : 0;
    if (s->wq[i]) return false; /* a file that names more than two queues over time: keep the first two */
    s->wq[i] = wq;
    memset(&s->we[i], 0, sizeof(s->we[i]));
    wait_prepare(wq, &s->we[i]);
    return true;
}

/* Polls the slots until one is ready, the deadline passes (absolute ns; 0 = do not wait,
 * POLL_NO_DEADLINE = none) or a signal arrives. Returns the number of ready slots (revents
 * set), 0 on timeout, -KEINTR. Slots preset with revents (POLLNVAL) count as ready. */
static int poll_slots(struct poll_slot *s, int n, uint64_t deadline) {
    bool wait = deadline != 0, registered = false;
    int ready, r = 0;
    for (;;) {
        /* Mark ourselves sleeping on every queue we are already on, then look: a wake-up
         * from now on makes us runnable again. */
        if (registered)
            for (int i = 0; i < n; i++)
                for (int k = 0; k < 2; k++)
                    if (s[i].wq[k]) wait_prepare(s[i].wq[k], &s[i].we[k]);
        bool fresh = false;
        ready = 0;
        for (int i = 0; i < n; i++) {
            if (!s[i].f) {
                ready += s[i].revents != 0;
                continue;
            }
            struct wait_queue *wqs[2];
            uint32_t m = file_poll(s[i].f, wqs);
            if (wait) {
                fresh |= slot_register(&s[i], wqs[0]);
                fresh |= slot_register(&s[i], wqs[1]);
            }
            s[i].revents = m & s[i].events;
            ready += s[i].revents != 0;
        }
        registered |= fresh;
        if (ready || !wait) break;
        if (fresh) continue; /* queued after that look: look again before sleeping */
        if (task_interrupted(task_current())) {
            r = -KEINTR;
            break;
        }
        if (deadline != POLL_NO_DEADLINE && time_ns() >= deadline) break;
        if (!registered) {
            /* nothing to be woken by (no files, or none that can change): just sleep */
            if (task_sleep_until_interruptible(deadline == POLL_NO_DEADLINE ? WAIT_FOREVER : deadline) < 0) {
                r = -KEINTR;
                break;
            }
            continue;
        }
        wait_sleep_until(deadline == POLL_NO_DEADLINE ? WAIT_FOREVER : deadline);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if (s[i].wq[k]) wait_finish(s[i].wq[k], &s[i].we[k]);
    return r < 0 ? r : ready;
}

/* The open file behind fd for polling: NULL when fd is not open or is an O_PATH descriptor
 * (Linux answers POLLNVAL / EBADF for those too). */
static struct vfs_file *poll_file(int fd) {
    struct vfs_file *f = fd_get(fd);
    if (f && (f->flags & O_PATH_K)) {
        vfs_close(f);
        f = NULL;
    }
    return f;
}

static void put_slots(struct poll_slot *s, int n) {
    for (int i = 0; i < n; i++) vfs_close(s[i].f);
}

static uint64_t deadline_from(uint64_t timeout_ns) {
    if (timeout_ns == 0) return 0;
    if (timeout_ns == POLL_NO_DEADLINE) return POLL_NO_DEADLINE;
    uint64_t now = time_ns();
    return now + timeout_ns < now || now + timeout_ns == POLL_NO_DEADLINE ? POLL_NO_DEADLINE - 1 : now + timeout_ns;
}

static uint64_t time_left(uint64_t deadline) {
    uint64_t now = time_ns();
    return deadline > now ? deadline - now : 0;
}

/* ---- temporary signal masks (ppoll, pselect6) ---- */

/* Reads the user mask (8 bytes) and makes it the thread's mask until the call ends. 0,
 * -KEINVAL (size), -KEFAULT. A NULL mask pointer changes nothing. */
static int sigmask_begin(uint64_t umask, uint64_t size, bool *applied) {
    *applied = false;
    if (!umask) return 0;
    if (size != 8) return -KEINVAL;
    uint64_t mask;
    if (copy_from_user(&mask, (const void *)umask, 8) < 0) return -KEFAULT;
    struct uthread *ut = uthread_current();
    if (!ut) return 0;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    ut->saved_sigmask = ut->sig_blocked;
    ut->restore_sigmask = true;
    ut->sig_blocked = mask & ~UNBLOCKABLE;
    signal_recalc(task_current());
    spin_unlock_irqrestore(&proc_lock, fl);
    *applied = true;
    return 0;
}

/* Unless the call was interrupted (then signal delivery restores the mask after the handler
 * frame is built), puts the old mask back now. */
static void sigmask_end(bool applied, int64_t result) {
    struct uthread *ut = uthread_current();
    if (!applied || !ut || result == -KEINTR) return;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    ut->restore_sigmask = false;
    ut->sig_blocked = ut->saved_sigmask & ~UNBLOCKABLE;
    signal_recalc(task_current());
    spin_unlock_irqrestore(&proc_lock, fl);
}

/* Reads an optional struct timespec / timeval: *ns = the timeout (POLL_NO_DEADLINE for NULL). */
static int get_timeout(uint64_t uaddr, bool timeval, uint64_t *ns) {
    if (!uaddr) {
        *ns = POLL_NO_DEADLINE;
        return 0;
    }
    int64_t t[2];
    if (copy_from_user(t, (const void *)uaddr, sizeof(t)) < 0) return -KEFAULT;
    return sys_time_to_ns(t[0], t[1], timeval ? 1000 : 1, ns);
}

static void put_time_left(uint64_t uaddr, bool timeval, uint64_t deadline) {
    if (!uaddr || deadline == POLL_NO_DEADLINE) return;
    uint64_t left = deadline ? time_left(deadline) : 0;
    int64_t t[2] = {(int64_t)(left / NS_PER_S), (int64_t)(left % NS_PER_S) / (timeval ? 1000 : 1)};
    (void)copy_to_user((void *)uaddr, t, sizeof(t));
}

/* ---- poll ---- */

static int64_t do_poll(uint64_t ufds, uint64_t nfds, uint64_t timeout_ns, uint64_t *deadline_out) {
    if (nfds > POLL_NFDS_MAX) return -KEINVAL;
    int n = (int)nfds;
    if (!user_range_ok(ufds, (size_t)n * sizeof(struct pollfd_k))) return -KEFAULT;
    struct pollfd_k pstack[SLOTS_STACK];
    struct poll_slot sstack[SLOTS_STACK];
    struct pollfd_k *pfd = n <= SLOTS_STACK ? pstack : kmalloc((size_t)n * sizeof(*pfd));
    struct poll_slot *s = n <= SLOTS_STACK ? sstack : kzalloc((size_t)n * sizeof(*s));
    int64_t r = 0;
    if (!pfd || !s) r = -KENOMEM;
    else if (n && copy_from_user(pfd, (const void *)ufds, (size_t)n * sizeof(*pfd)) < 0) r = -KEFAULT;
    if (r == 0) {
        if (n <= SLOTS_STACK) memset(sstack, 0, sizeof(sstack));
        for (int i = 0; i < n; i++) {
            if (pfd[i].fd < 0) continue;
            s[i].f = poll_file(pfd[i].fd);
            s[i].events = (uint16_t)pfd[i].events | VFS_POLLERR | VFS_POLLHUP;
            if (!s[i].f) s[i].revents = VFS_POLLNVAL;
        }
        uint64_t deadline = deadline_from(timeout_ns);
        *deadline_out = deadline;
        r = poll_slots(s, n, deadline);
        put_slots(s, n);
        if (r >= 0) {
            for (int i = 0; i < n; i++) pfd[i].revents = (int16_t)s[i].revents;
            if (n && copy_to_user((void *)ufds, pfd, (size_t)n * sizeof(*pfd)) < 0) r = -KEFAULT;
        }
    }
    if (pfd && pfd != pstack) kfree(pfd);
    if (s && s != sstack) kfree(s);
    return r;
}

SYSCALL_FLAGS(SYS_poll, poll, SYSCALL_NORESTART) {
    uint64_t deadline;
    return do_poll(a0, (uint32_t)a1, sys_poll_ms_to_ns((int32_t)a2), &deadline);
}

/* ppoll(fds, nfds, const struct timespec *tmo, const sigset_t *mask, size_t sigsetsize) */
SYSCALL_FLAGS(SYS_ppoll, ppoll, SYSCALL_NORESTART) {
    uint64_t timeout, deadline = POLL_NO_DEADLINE;
    int r = get_timeout(a2, false, &timeout);
    if (r < 0) return r;
    bool applied;
    r = sigmask_begin(a3, a4, &applied);
    if (r < 0) return r;
    int64_t res = do_poll(a0, (uint32_t)a1, timeout, &deadline);
    sigmask_end(applied, res);
    put_time_left(a2, false, deadline);
    return res;
}

/* ---- select ---- */

/* select over nfds descriptors with the three optional user sets. */
static int64_t do_select(int64_t nfds, uint64_t uin, uint64_t uout, uint64_t uex, uint64_t timeout_ns,
                         uint64_t *deadline_out) {
    if (nfds < 0 || nfds > INT32_MAX) return -KEINVAL;
    int n = (int)MIN(nfds, (int64_t)FD_MAX); /* descriptors above FD_MAX cannot be open */
    size_t bytes = sys_fdset_bytes(n);
    uint64_t sets[3][FD_MAX / 64], out[3][FD_MAX / 64];
    const uint64_t uset[3] = {uin, uout, uex};
    memset(sets, 0, sizeof(sets));
    memset(out, 0, sizeof(out));
    for (int k = 0; k < 3; k++)
        if (uset[k] && bytes && copy_from_user(sets[k], (const void *)uset[k], bytes) < 0) return -KEFAULT;
    /* one slot per descriptor named in any set */
    int count = 0;
    for (int fd = 0; fd < n; fd++)
        count += sys_fdset_test(sets[0], fd) || sys_fdset_test(sets[1], fd) || sys_fdset_test(sets[2], fd);
    struct poll_slot sstack[SLOTS_STACK];
    struct poll_slot *s = count <= SLOTS_STACK ? sstack : kzalloc((size_t)count * sizeof(*s));
    if (!s) return -KENOMEM;
    if (s == sstack) memset(sstack, 0, sizeof(sstack));
    int16_t fds_stack[SLOTS_STACK];
    int16_t *fds = count <= SLOTS_STACK ? fds_stack : kmalloc((size_t)count * sizeof(*fds));
    int64_t r = fds ? 0 : -KENOMEM;
    for (int fd = 0, i = 0; r == 0 && fd < n; fd++) {
        bool in = sys_fdset_test(sets[0], fd), o = sys_fdset_test(sets[1], fd), ex = sys_fdset_test(sets[2], fd);
        if (!in && !o && !ex) continue;
        fds[i] = (int16_t)fd;
        s[i].events = sys_select_events(in, o, ex);
        s[i].f = poll_file(fd);
        if (!s[i++].f) r = -KEBADF;
    }
    if (r == 0) {
        uint64_t deadline = deadline_from(timeout_ns);
        *deadline_out = deadline;
        r = poll_slots(s, count, deadline);
    }
    put_slots(s, count);
    if (r >= 0) {
        int bits = 0;
        for (int i = 0; i < count; i++) {
            uint32_t m = s[i].revents;
            int fd = fds[i];
            if ((m & SEL_IN) && sys_fdset_test(sets[0], fd)) sys_fdset_set(out[0], fd), bits++;
            if ((m & SEL_OUT) && sys_fdset_test(sets[1], fd)) sys_fdset_set(out[1], fd), bits++;
            if ((m & SEL_EX) && sys_fdset_test(sets[2], fd)) sys_fdset_set(out[2], fd), bits++;
        }
        for (int k = 0; k < 3 && r >= 0; k++)
            if (uset[k] && bytes && copy_to_user((void *)uset[k], out[k], bytes) < 0) r = -KEFAULT;
        if (r >= 0) r = bits;
    }
    if (s != sstack) kfree(s);
    if (fds && fds != fds_stack) kfree(fds);
    return r;
}

SYSCALL_FLAGS(SYS_select, select, SYSCALL_NORESTART) {
    uint64_t timeout, deadline = POLL_NO_DEADLINE;
    int r = get_timeout(a4, true, &timeout);
    if (r < 0) return r;
    int64_t res = do_select((int32_t)a0, a1, a2, a3, timeout, &deadline);
    put_time_left(a4, true, deadline);
    return res;
}

/* pselect6(nfds, in, out, ex, const struct timespec *tmo, {const sigset_t *ss; size_t len} *) */
SYSCALL_FLAGS(SYS_pselect6, pselect6, SYSCALL_NORESTART) {
    uint64_t timeout, deadline = POLL_NO_DEADLINE;
    int r = get_timeout(a4, false, &timeout);
    if (r < 0) return r;
    uint64_t sig[2] = {0, 0};
    if (a5 && copy_from_user(sig, (const void *)a5, sizeof(sig)) < 0) return -KEFAULT;
    bool applied;
    r = sigmask_begin(sig[0], sig[1], &applied);
    if (r < 0) return r;
    int64_t res = do_select((int32_t)a0, a1, a2, a3, timeout, &deadline);
    sigmask_end(applied, res);
    put_time_left(a4, false, deadline);
    return res;
}
#endif /* !HOST_TEST */
