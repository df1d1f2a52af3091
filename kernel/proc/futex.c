/* futex.c: the futex(2) system call (futex.h).
 *
 * Follows Linux futex(2) (man-pages: FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE,
 * FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET; errors EAGAIN, EFAULT, EINTR, EINVAL,
 * ENOSYS, ETIMEDOUT).
 *
 * Waiters hang in a hash table of buckets keyed by (address space, user address); each bucket
 * is a spinlock and a list. A waiter puts itself on its bucket's list FIRST and reads the user
 * word AFTER that (the read may fault and sleep, so it cannot happen under a spinlock). That
 * order is what makes the compare-and-sleep atomic with respect to wakers: a thread that
 * changes the word and then calls FUTEX_WAKE either changed it before the waiter's read (the
 * waiter sees the new value: -EAGAIN) or finds the waiter on the list and wakes it. A waiter
 * that was woken while it was still checking returns 0 (a legal spurious wake-up) so that the
 * wake it consumed is never lost.
 *
 * Each waiter sleeps on a private wait queue (on its stack). A waker unlinks it, sets woken and
 * wakes it, all under the bucket lock; the waiter always takes its bucket lock once more
 * before it returns, so no waker can touch the waiter's stack after it has gone. Requeueing
 * moves a waiter to another bucket under both locks (taken in address order). */
#include "futex.h"
#include "proc.h"
#include "uaccess.h"
#include "syscall.h"
#include "wait.h"
#include "spinlock.h"
#include "sched.h"
#include "time.h"
#include "kerrno.h"

#define FUTEX_BUCKETS 64
#define NSEC_PER_SEC 1000000000ll

struct futex_waiter {
    struct uvm *vm;
    volatile uint64_t uaddr;      /* changes on requeue (both bucket locks held) */
    uint32_t bitset;
    volatile bool woken;          /* set by the waker, under the bucket lock */
    struct futex_waiter *next, *prev;
    struct wait_queue wq;         /* only this waiter sleeps here */
};

struct futex_bucket {
    spinlock_t lock;
    struct futex_waiter *head;
};

static struct futex_bucket buckets[FUTEX_BUCKETS] = {
    [0 ... FUTEX_BUCKETS - 1] = {SPINLOCK_INIT("futex"), NULL},
};

static struct futex_bucket *bucket_for(const struct uvm *vm, uint64_t uaddr) {
    uint64_t h = ((uint64_t)(uintptr_t)vm >> 4) ^ (uaddr >> 2);
    h *= 0x9e3779b97f4a7c15ull;
    return &buckets[h >> 58]; /* top 6 bits: 64 buckets */
}

static void list_add(struct futex_bucket *b, struct futex_waiter *w) {
    w->prev = NULL;
    w->next = b->head;
    if (b->head) b->head->prev = w;
    b->head = w;
}

static void list_del(struct futex_bucket *b, struct futex_waiter *w) {
    if (w->prev) w->prev->next = w->next;
    else b->head = w->next;
    if (w->next) w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

/* Locks the bucket the waiter is on now (a requeue may move it while we wait for the lock). */
static struct futex_bucket *lock_waiter_bucket(struct futex_waiter *w, uint64_t *flags) {
    for (;;) {
        struct futex_bucket *b = bucket_for(w->vm, w->uaddr);
        *flags = spin_lock_irqsave(&b->lock);
        if (b == bucket_for(w->vm, w->uaddr)) return b;
        spin_unlock_irqrestore(&b->lock, *flags);
    }
}

/* Locks two buckets in a fixed order (one lock when they are the same). */
static uint64_t lock_two(struct futex_bucket *a, struct futex_bucket *b) {
    if (a == b) return spin_lock_irqsave(&a->lock);
    if (a > b) {
        struct futex_bucket *t = a;
        a = b;
        b = t;
    }
    uint64_t flags = spin_lock_irqsave(&a->lock);
    spin_lock(&b->lock);
    return flags;
}

static void unlock_two(struct futex_bucket *a, struct futex_bucket *b, uint64_t flags) {
    if (a != b) spin_unlock(a > b ? &a->lock : &b->lock);
    spin_unlock_irqrestore(a > b ? &b->lock : &a->lock, flags);
}

/* Wakes up to count waiters on (vm, uaddr) whose bitset meets bitset; bucket b locked. */
static int wake_locked(struct futex_bucket *b, struct uvm *vm, uint64_t uaddr, uint32_t bitset, int count) {
    int n = 0;
    struct futex_waiter *next;
    for (struct futex_waiter *w = b->head; w && n < count; w = next) {
        next = w->next;
        if (w->vm != vm || w->uaddr != uaddr || !(w->bitset & bitset)) continue;
        list_del(b, w);
        w->woken = true;
        wake_up_all(&w->wq); /* w stays valid: its owner takes b's lock before returning */
        n++;
    }
    return n;
}

int futex_wake(struct uvm *vm, uint64_t uaddr, int count) {
    if (uaddr & 3) return -KEINVAL;
    if (count <= 0) return 0;
    struct futex_bucket *b = bucket_for(vm, uaddr);
    uint64_t flags = spin_lock_irqsave(&b->lock);
    int n = wake_locked(b, vm, uaddr, FUTEX_BITSET_MATCH_ANY, count);
    spin_unlock_irqrestore(&b->lock, flags);
    if (n) sched_preempt_check();
    return n;
}

int futex_waiter_count(void) {
    int n = 0;
    for (int i = 0; i < FUTEX_BUCKETS; i++) {
        uint64_t flags = spin_lock_irqsave(&buckets[i].lock);
        for (struct futex_waiter *w = buckets[i].head; w; w = w->next) n++;
        spin_unlock_irqrestore(&buckets[i].lock, flags);
    }
    return n;
}

/* Sleeps until woken, the deadline (time_ns clock) or a kill/signal. 0, -KETIMEDOUT, -KEINTR. */
static int futex_sleep(struct futex_waiter *w, uint64_t deadline) {
    struct wait_entry e = {0};
    int r;
    for (;;) {
        wait_prepare(&w->wq, &e);
        if (w->woken) { r = 0; break; }
        if (task_interrupted(task_current())) { r = -KEINTR; break; }
        if (deadline != WAIT_FOREVER && time_ns() >= deadline) { r = -KETIMEDOUT; break; }
        if (wait_sleep_until(deadline) < 0) { r = -KEINTR; break; }
    }
    wait_finish(&w->wq, &e);
    return r;
}

/* FUTEX_WAIT(_BITSET): sleeps while *uaddr == val. deadline on the time_ns() clock. */
static int futex_wait(struct uvm *vm, uint64_t uaddr, uint32_t val, uint32_t bitset, uint64_t deadline) {
    struct futex_waiter w = {.vm = vm, .uaddr = uaddr, .bitset = bitset};
    wait_queue_init(&w.wq, "futex");
    struct futex_bucket *b = bucket_for(vm, uaddr);
    uint64_t flags = spin_lock_irqsave(&b->lock);
    list_add(b, &w);
    spin_unlock_irqrestore(&b->lock, flags);

    uint32_t cur;
    int r = get_user_u32(&cur, (const void *)(uintptr_t)uaddr);
    if (r == 0 && cur != val) r = -KEAGAIN;
    if (r == 0) r = futex_sleep(&w, deadline);

    b = lock_waiter_bucket(&w, &flags);
    if (w.woken) r = 0; /* a wake-up that arrived is never lost, whatever else happened */
    else list_del(b, &w);
    spin_unlock_irqrestore(&b->lock, flags);
    return r;
}

/* FUTEX_REQUEUE / FUTEX_CMP_REQUEUE. */
static int64_t futex_requeue(struct uvm *vm, uint64_t uaddr, uint64_t uaddr2, int nr_wake, int nr_requeue,
                             bool cmp, uint32_t cmpval) {
    if (nr_wake < 0 || nr_requeue < 0) return -KEINVAL;
    if (uaddr2 & 3) return -KEINVAL;
    if (!user_range_ok(uaddr2, 4)) return -KEFAULT;
    if (cmp) {
        uint32_t cur;
        if (get_user_u32(&cur, (const void *)(uintptr_t)uaddr) < 0) return -KEFAULT;
        if (cur != cmpval) return -KEAGAIN;
    }
    struct futex_bucket *b1 = bucket_for(vm, uaddr), *b2 = bucket_for(vm, uaddr2);
    uint64_t flags = lock_two(b1, b2);
    int woken = wake_locked(b1, vm, uaddr, FUTEX_BITSET_MATCH_ANY, nr_wake);
    int moved = 0;
    struct futex_waiter *next;
    for (struct futex_waiter *w = b1->head; w && moved < nr_requeue; w = next) {
        next = w->next;
        if (w->vm != vm || w->uaddr != uaddr) continue;
        if (b1 != b2) {
            list_del(b1, w);
            list_add(b2, w);
        }
        w->uaddr = uaddr2;
        moved++;
    }
    unlock_two(b1, b2, flags);
    if (woken) sched_preempt_check();
    return cmp ? woken + moved : woken;
}

static int32_t sign_extend12(uint32_t v) { return (int32_t)(v << 20) >> 20; }

/* FUTEX_WAKE_OP: *uaddr2 = *uaddr2 OP oparg atomically, wake nr_wake on uaddr, and nr_wake2
 * on uaddr2 when (old value CMP cmparg). */
static int64_t futex_wake_op(struct uvm *vm, uint64_t uaddr, uint64_t uaddr2, int nr_wake, int nr_wake2,
                             uint32_t encoded) {
    uint32_t op = (encoded >> 28) & 0xf, cmp = (encoded >> 24) & 0xf;
    int32_t oparg = sign_extend12((encoded >> 12) & 0xfff), cmparg = sign_extend12(encoded & 0xfff);
    if (op & 8) oparg = (int32_t)(1u << (oparg & 31)); /* FUTEX_OP_OPARG_SHIFT */
    op &= 7;
    if (op > 4 || cmp > 5) return -KENOSYS;
    if (uaddr2 & 3) return -KEINVAL;
    uint32_t old, want, seen;
    if (get_user_u32(&old, (const void *)(uintptr_t)uaddr2) < 0) return -KEFAULT;
    for (int tries = 0;; tries++) {
        switch (op) {
        case 0: want = (uint32_t)oparg; break;           /* SET */
        case 1: want = old + (uint32_t)oparg; break;     /* ADD */
        case 2: want = old | (uint32_t)oparg; break;     /* OR */
        case 3: want = old & ~(uint32_t)oparg; break;    /* ANDN */
        default: want = old ^ (uint32_t)oparg; break;    /* XOR */
        }
        if (user_cmpxchg_u32((void *)(uintptr_t)uaddr2, old, want, &seen) < 0) return -KEFAULT;
        if (seen == old) break;
        old = seen;
        if (tries > 10000) return -KEAGAIN; /* bounded: other threads keep changing the word */
    }
    int32_t o = (int32_t)old;
    bool hit;
    switch (cmp) {
    case 0: hit = o == cmparg; break;
    case 1: hit = o != cmparg; break;
    case 2: hit = o < cmparg; break;
    case 3: hit = o <= cmparg; break;
    case 4: hit = o > cmparg; break;
    default: hit = o >= cmparg; break;
    }
    struct futex_bucket *b1 = bucket_for(vm, uaddr), *b2 = bucket_for(vm, uaddr2);
    uint64_t flags = lock_two(b1, b2);
    int n = nr_wake > 0 ? wake_locked(b1, vm, uaddr, FUTEX_BITSET_MATCH_ANY, nr_wake) : 0;
    if (hit && nr_wake2 > 0) n += wake_locked(b2, vm, uaddr2, FUTEX_BITSET_MATCH_ANY, nr_wake2);
    unlock_two(b1, b2, flags);
    if (n) sched_preempt_check();
    return n;
}

/* Reads a struct timespec {i64 sec, i64 nsec} and checks it: 0, -KEFAULT, -KEINVAL. */
static int get_timespec_ns(uint64_t uts, uint64_t *ns_out) {
    int64_t ts[2];
    if (copy_from_user(ts, (const void *)(uintptr_t)uts, sizeof ts) < 0) return -KEFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= NSEC_PER_SEC) return -KEINVAL;
    if ((uint64_t)ts[0] >= (WAIT_FOREVER - 1) / NSEC_PER_SEC) *ns_out = WAIT_FOREVER - 1;
    else *ns_out = (uint64_t)ts[0] * NSEC_PER_SEC + (uint64_t)ts[1];
    return 0;
}

/* futex(uaddr, op, val, timeout or val2, uaddr2, val3). */
SYSCALL(SYS_futex, futex) {
    uint64_t uaddr = a0, uaddr2 = a4;
    int op = (int)a1;
    int cmd = op & FUTEX_CMD_MASK;
    uint32_t val = (uint32_t)a2, val3 = (uint32_t)a5;
    int val2 = (int)(uint32_t)a3; /* REQUEUE, CMP_REQUEUE, WAKE_OP pass a count in timeout */
    struct process *p = proc_current();
    if (!p || !p->vm) return -KEPERM;
    struct uvm *vm = p->vm;

    if ((op & FUTEX_CLOCK_REALTIME) && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET) return -KENOSYS;
    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_WAKE_OP:
        break;
    default:
        return -KENOSYS; /* FUTEX_FD, the PI operations, unknown commands */
    }
    if (uaddr & 3) return -KEINVAL;
    if (!user_range_ok(uaddr, 4)) return -KEFAULT;

    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
        uint32_t bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3;
        if (!bitset) return -KEINVAL;
        uint64_t deadline = WAIT_FOREVER;
        if (a3) {
            uint64_t ns;
            int r = get_timespec_ns(a3, &ns);
            if (r < 0) return r;
            if (cmd == FUTEX_WAIT) {
                deadline = wait_deadline(ns); /* relative, on the monotonic clock */
            } else if (op & FUTEX_CLOCK_REALTIME) {
                uint64_t now_real = vfs_now_ns(), now = time_ns();
                deadline = ns <= now_real ? now : wait_deadline(ns - now_real);
            } else {
                deadline = ns; /* absolute CLOCK_MONOTONIC = time_ns() */
            }
        }
        return futex_wait(vm, uaddr, val, bitset, deadline);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
        uint32_t bitset = cmd == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3;
        if (!bitset) return -KEINVAL;
        if ((int)val <= 0) return 0;
        struct futex_bucket *b = bucket_for(vm, uaddr);
        uint64_t flags = spin_lock_irqsave(&b->lock);
        int n = wake_locked(b, vm, uaddr, bitset, (int)val);
        spin_unlock_irqrestore(&b->lock, flags);
        if (n) sched_preempt_check();
        return n;
    }
    case FUTEX_REQUEUE:
        return futex_requeue(vm, uaddr, uaddr2, (int)val, val2, false, 0);
    case FUTEX_CMP_REQUEUE:
        return futex_requeue(vm, uaddr, uaddr2, (int)val, val2, true, val3);
    default: /* FUTEX_WAKE_OP */
        return futex_wake_op(vm, uaddr, uaddr2, (int)val, val2, val3);
    }
}
