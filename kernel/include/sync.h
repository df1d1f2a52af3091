/* sync.h: sleeping mutexes and counting semaphores (kernel/sched/sync.c), built on wait
 * queues. Both may only be used from tasks, never from interrupt handlers (use a spinlock
 * there). */
#pragma once
#include "types.h"
#include "wait.h"

struct mutex {
    spinlock_t lock;
    struct task *owner;
    struct wait_queue waiters;
};
#define MUTEX_INIT(n) {SPINLOCK_INIT(n), NULL, WAIT_QUEUE_INIT(n)}
void mutex_init(struct mutex *m, const char *name);
/* Sleeps until the mutex is free and takes it; always returns 0 (neither a kill nor a signal
 * ends the wait: callers may rely on holding the lock afterwards). */
int mutex_lock(struct mutex *m);
/* Like mutex_lock, but a killed task stops waiting: 0, or -KEINTR without the lock. For
 * callers that check the result and back out. */
__attribute__((warn_unused_result)) int mutex_lock_killable(struct mutex *m);
/* Takes the mutex if free; true on success. Never sleeps. */
bool mutex_trylock(struct mutex *m);
/* Releases a mutex the caller holds (releasing someone else's is reported and ignored). */
void mutex_unlock(struct mutex *m);

struct semaphore {
    spinlock_t lock;
    int64_t count;
    struct wait_queue waiters;
};
void sem_init(struct semaphore *s, int64_t count, const char *name);
/* Takes one unit, waiting up to timeout_ns (0 = never wait, WAIT_FOREVER = no deadline).
 * 1 when taken, 0 on timeout, -KEINTR when killed. */
int sem_down_timeout(struct semaphore *s, uint64_t timeout_ns);
/* Gives one unit back and wakes a waiter. Safe from interrupt handlers. */
void sem_up(struct semaphore *s);
