/* wait.h: wait queues and the timeout contract (kernel/sched/wait.c).
 *
 *   int r = wait_event_timeout(&wq, condition, timeout_ns);
 *
 * - The condition is checked first; if it holds, the call returns 1 without sleeping.
 * - timeout_ns == 0 never sleeps: it returns 1 if the condition holds, else 0 at once.
 * - WAIT_FOREVER (not 0) waits without a deadline.
 * - Otherwise the task sleeps until woken with the condition true (returns 1), the deadline
 *   passes (returns 0, "timed out") or the task is killed (returns -KEINTR).
 * - No lost wake-ups: the task is on the queue and marked sleeping before the condition is
 *   checked again, so a wake_up between the check and the sleep makes it runnable.
 * - The waiter is removed from the queue on every exit path.
 * The condition is evaluated once per wake-up (so a condition that takes something, like
 * mutex_trylock, is safe); it must be cheap and must not sleep. */
#pragma once
#include "types.h"
#include "spinlock.h"
#include "sched.h"
#include "kerrno.h"

#define WAIT_FOREVER UINT64_MAX

struct wait_entry {
    struct task *task;
    struct wait_entry *next, *prev;
    bool queued;
};

struct wait_queue {
    spinlock_t lock;
    struct wait_entry *head, *tail;
    const char *name;
};

#define WAIT_QUEUE_INIT(n) {SPINLOCK_INIT(n), NULL, NULL, n}
void wait_queue_init(struct wait_queue *wq, const char *name);

/* Low-level steps behind wait_event_timeout (usable directly for complex conditions). */
void wait_prepare(struct wait_queue *wq, struct wait_entry *e); /* enqueue + mark sleeping */
void wait_finish(struct wait_queue *wq, struct wait_entry *e);  /* dequeue + mark runnable */
/* Sleeps until woken or the absolute deadline (WAIT_FOREVER = none). 0, or -KEINTR if killed or a signal is pending. */
int wait_sleep_until(uint64_t deadline_ns);

/* Wakes every waiter / the first waiter; returns how many were woken. Safe from interrupt
 * handlers. */
int wake_up_all(struct wait_queue *wq);
/* wake_up_all for a caller that already holds wq->lock (interrupts off). */
int wake_up_all_locked(struct wait_queue *wq);
int wake_up_one(struct wait_queue *wq);
/* Number of entries on the queue (tests and diagnostics). */
int wait_queue_length(struct wait_queue *wq);

uint64_t time_ns(void);
static inline uint64_t wait_deadline(uint64_t timeout_ns) {
    if (timeout_ns == WAIT_FOREVER) return WAIT_FOREVER;
    uint64_t now = time_ns();
    return now + timeout_ns < now ? WAIT_FOREVER - 1 : now + timeout_ns;
}

/* The body of wait_event_timeout; interruptible: 2 = killed or a pending signal ends the wait,
 * 1 = only killed, 0 = nothing (for waits that must end with the condition or the deadline,
 * such as a DMA the caller's memory is under). */
#define __wait_event_timeout(wq, condition, timeout_ns, interruptible)                     \
    ({                                                                                     \
        int __wr;                                                                          \
        uint64_t __to = (timeout_ns);                                                      \
        if (condition) {                                                                   \
            __wr = 1;                                                                      \
        } else if (__to == 0) {                                                            \
            __wr = 0;                                                                      \
        } else {                                                                           \
            uint64_t __dl = wait_deadline(__to);                                           \
            struct wait_entry __we = {0};                                                  \
            for (;;) {                                                                     \
                wait_prepare((wq), &__we);                                                 \
                if (condition) { __wr = 1; break; }                                        \
                if ((interruptible) == 2 ? task_interrupted(task_current())                  \
                    : (interruptible) == 1 ? task_current()->killed : false) {                \
                    __wr = -KEINTR;                                                           \
                    break;                                                                    \
                }                                                                             \
                if (__dl != WAIT_FOREVER && time_ns() >= __dl) { __wr = 0; break; }        \
                wait_sleep_until(__dl);                                                    \
            }                                                                              \
            wait_finish((wq), &__we);                                                      \
        }                                                                                  \
        __wr;                                                                              \
    })
/* Ends with -KEINTR when the task is killed or (a user thread) has a signal to take: for
 * waits a user program may sit in (pipes, ttys, IPC, wait4, futex). */
#define wait_event_timeout(wq, condition, timeout_ns) __wait_event_timeout(wq, condition, timeout_ns, 2)
/* Ends with -KEINTR only when the task is killed, never for a signal: for waits inside kernel
 * machinery that must not fail half-way because a signal arrived (mutexes, semaphores, block
 * requests). */
#define wait_event_killable_timeout(wq, condition, timeout_ns) __wait_event_timeout(wq, condition, timeout_ns, 1)
/* Like wait_event_timeout, but a killed task keeps waiting (1 or 0, never -KEINTR). */
#define wait_event_timeout_nokill(wq, condition, timeout_ns) __wait_event_timeout(wq, condition, timeout_ns, 0)
#define wait_event(wq, condition) wait_event_timeout(wq, condition, WAIT_FOREVER)
