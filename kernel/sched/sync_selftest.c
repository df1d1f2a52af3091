/* sync_selftest.c: self-tests of sleeping mutexes and counting semaphores (group `sync`),
 * against kernel/include/sync.h: mutual exclusion under contention and preemption,
 * mutex_trylock, a semaphore admitting exactly its count, and the semaphore's timeout
 * contract (0 never waits, a deadline gives 0). */
#include "types.h"
#include "selftest.h"
#include "sched.h"
#include "sync.h"
#include "kerrno.h"
#include "time.h"
#include "cpu.h"

#define MS ((uint64_t)1000000)
#define US ((uint64_t)1000)

static uint64_t ns_since(uint64_t tsc0) { return tsc_to_ns(rdtsc() - tsc0); }

#define POLL_UNTIL(cond, ms)                                                              \
    ({                                                                                     \
        uint64_t __end = time_ns() + (uint64_t)(ms) * MS;                                  \
        while (!(cond) && time_ns() < __end) task_sleep_ns(MS);                            \
        (bool)(cond);                                                                      \
    })

/* ---- 8 tasks x 10,000 increments under a mutex ---- */
#define MUTEX_TASKS 8
#define MUTEX_ITERS 10000
static struct mutex counter_mutex = MUTEX_INIT("st-counter");
static volatile uint64_t shared_counter;
static volatile int inside; /* tasks inside the critical section right now */
static volatile int overlap_seen;

/* Increments shared_counter with a plain read-modify-write; every 64th time it yields between
 * the read and the write, and every 7th it spins a little, so that without mutual exclusion
 * updates would be lost. */
static int64_t mutex_worker(void *arg) {
    for (int i = 0; i < MUTEX_ITERS; i++) {
        int r = mutex_lock(&counter_mutex);
        if (r != 0) return r;
        if (++inside != 1) overlap_seen = 1;
        uint64_t v = shared_counter;
        if (i % 64 == 0) {
            task_yield();
        } else if (i % 7 == 0) {
            for (int s = 0; s < 50; s++) cpu_relax();
        }
        shared_counter = v + 1;
        inside--;
        mutex_unlock(&counter_mutex);
    }
    return 0;
}

SELFTEST(sync, mutex_8_tasks_80000_increments) {
    shared_counter = 0;
    inside = 0;
    overlap_seen = 0;
    tid_t ids[MUTEX_TASKS];
    int bad_exit = 0;
    for (int i = 0; i < MUTEX_TASKS; i++) ids[i] = task_create("st-mutex", mutex_worker, NULL, PRIO_NORMAL);
    for (int i = 0; i < MUTEX_TASKS; i++) {
        int64_t v = -1;
        if (ids[i] >= 0 && (task_join(ids[i], &v) != 0 || v != 0)) bad_exit++;
    }
    for (int i = 0; i < MUTEX_TASKS; i++) ST_ASSERT(t, ids[i] >= 0, "task_create %d = %d", i, ids[i]);
    ST_ASSERT(t, bad_exit == 0, "%d workers failed (mutex_lock error)", bad_exit);
    ST_ASSERT(t, shared_counter == MUTEX_TASKS * MUTEX_ITERS, "counter %lu, expected %d", shared_counter,
              MUTEX_TASKS * MUTEX_ITERS);
    ST_ASSERT(t, !overlap_seen, "two tasks were inside the critical section at once");
    ST_ASSERT(t, counter_mutex.owner == NULL, "the mutex is still owned");
    ST_ASSERT(t, wait_queue_length(&counter_mutex.waiters) == 0, "waiters left on the mutex");
}

/* ---- mutex_trylock ---- */
static struct mutex try_mutex = MUTEX_INIT("st-try");
static int64_t trylock_task(void *arg) {
    if (!mutex_trylock(&try_mutex)) return 0;
    struct task *owner = try_mutex.owner;
    mutex_unlock(&try_mutex);
    return owner == task_current() ? 1 : 2;
}

SELFTEST(sync, mutex_trylock) {
    ST_ASSERT(t, mutex_trylock(&try_mutex), "trylock of a free mutex failed");
    ST_ASSERT(t, try_mutex.owner == task_current(), "owner is not the caller after trylock");
    /* Held by us: another task's trylock fails without sleeping. */
    uint64_t t0 = rdtsc();
    tid_t id = task_create("st-trylock", trylock_task, NULL, PRIO_NORMAL);
    int64_t v = -1;
    if (id >= 0) task_join(id, &v);
    uint64_t dt = ns_since(t0);
    mutex_unlock(&try_mutex);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    ST_ASSERT(t, v == 0, "trylock of a held mutex by another task returned %s",
              v == 1 || v == 2 ? "true" : "an error");
    ST_ASSERT(t, dt < 500 * MS, "the failing trylock took %lu ms", dt / MS);
    ST_ASSERT(t, try_mutex.owner == NULL, "unlock left an owner");
    /* Free again: the other task takes it, owns it, and gives it back. */
    id = task_create("st-trylock2", trylock_task, NULL, PRIO_NORMAL);
    v = -1;
    if (id >= 0) task_join(id, &v);
    ST_ASSERT(t, v == 1, "trylock of a free mutex by a task: result %ld (1 = taken and owned)", v);
    ST_ASSERT(t, mutex_trylock(&try_mutex), "the mutex is not free at the end");
    mutex_unlock(&try_mutex);
}

/* ---- a semaphore with count 2 admits 2 of 4 tasks ---- */
static struct semaphore gate;
static struct wait_queue release_wq = WAIT_QUEUE_INIT("st-release");
static volatile bool released;
static volatile int entered;
static int64_t gate_task(void *arg) {
    int r = sem_down_timeout(&gate, 2000 * MS);
    if (r != 1) return r == 0 ? -KETIMEDOUT : r;
    __atomic_fetch_add(&entered, 1, __ATOMIC_RELAXED);
    int w = wait_event_timeout(&release_wq, released, 2000 * MS);
    return w == 1 ? 0 : -KETIMEDOUT;
}

SELFTEST(sync, semaphore_count_2_admits_2_of_4) {
    sem_init(&gate, 2, "st-gate");
    entered = 0;
    released = false;
    tid_t ids[4];
    for (int i = 0; i < 4; i++) ids[i] = task_create("st-sem", gate_task, NULL, PRIO_NORMAL);
    bool two_in = POLL_UNTIL(entered == 2, 500);
    task_sleep_ns(20 * MS); /* the other two must stay out */
    int in_before_up = entered, sem_waiters = wait_queue_length(&gate.waiters);
    sem_up(&gate);
    sem_up(&gate);
    bool all_in = POLL_UNTIL(entered == 4, 500);
    int64_t count_after = gate.count;
    released = true;
    wake_up_all(&release_wq);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        int64_t v = -1;
        if (ids[i] >= 0 && (task_join(ids[i], &v) != 0 || v != 0)) bad++;
    }
    for (int i = 0; i < 4; i++) ST_ASSERT(t, ids[i] >= 0, "task_create %d = %d", i, ids[i]);
    ST_ASSERT(t, two_in && in_before_up == 2, "%d tasks got in with count 2", in_before_up);
    ST_ASSERT(t, sem_waiters == 2, "%d tasks waiting on the semaphore, expected 2", sem_waiters);
    ST_ASSERT(t, all_in, "after two sem_up, %d of 4 tasks got in", entered);
    ST_ASSERT(t, count_after == 0, "count %ld after all took a unit, expected 0", count_after);
    ST_ASSERT(t, bad == 0, "%d tasks ended with an error", bad);
    ST_ASSERT(t, sem_down_timeout(&gate, 0) == 0, "a unit was left over");
}

/* ---- sem_down_timeout's timeout contract ---- */
SELFTEST(sync, semaphore_timeout_zero_never_waits) {
    struct semaphore s;
    sem_init(&s, 0, "st-sem0");
    uint64_t t0 = rdtsc();
    int r = sem_down_timeout(&s, 0);
    uint64_t dt = ns_since(t0);
    ST_ASSERT(t, r == 0, "sem_down_timeout(0) on count 0 = %d, expected 0", r);
    ST_ASSERT(t, dt < 100 * US, "took %lu ns (want < 100 us)", dt);
    ST_ASSERT(t, s.count == 0 && wait_queue_length(&s.waiters) == 0, "count %ld, %d waiters", s.count,
              wait_queue_length(&s.waiters));
    sem_up(&s);
    t0 = rdtsc();
    r = sem_down_timeout(&s, 0);
    dt = ns_since(t0);
    ST_ASSERT(t, r == 1, "sem_down_timeout(0) on count 1 = %d, expected 1", r);
    ST_ASSERT(t, dt < 100 * US, "took %lu ns (want < 100 us)", dt);
    ST_ASSERT(t, s.count == 0, "count %ld after taking the unit", s.count);
}

SELFTEST(sync, semaphore_deadline_times_out) {
    struct semaphore s;
    sem_init(&s, 0, "st-semdl");
    uint64_t t0 = rdtsc();
    int r = sem_down_timeout(&s, 20 * MS);
    uint64_t dt = ns_since(t0);
    ST_ASSERT(t, r == 0, "sem_down_timeout(20 ms) on count 0 = %d, expected 0", r);
    ST_ASSERT(t, dt >= 20 * MS && dt < 500 * MS, "returned after %lu us for a 20 ms timeout", dt / US);
    ST_ASSERT(t, s.count == 0, "count %ld after a timeout", s.count);
    ST_ASSERT(t, wait_queue_length(&s.waiters) == 0, "the timed-out waiter is still queued");
}

/* ---- mutex_lock sleeps until the holder unlocks ---- */
static struct mutex handoff_mutex = MUTEX_INIT("st-handoff");
static volatile uint64_t handoff_got_tsc;
static int64_t mutex_sleeper_task(void *arg) {
    int r = mutex_lock(&handoff_mutex);
    handoff_got_tsc = rdtsc();
    if (r == 0) mutex_unlock(&handoff_mutex);
    return r;
}

SELFTEST(sync, mutex_lock_waits_for_unlock) {
    handoff_got_tsc = 0;
    int r = mutex_lock(&handoff_mutex);
    ST_ASSERT(t, r == 0, "mutex_lock of a free mutex = %d", r);
    tid_t id = task_create("st-mutex-wait", mutex_sleeper_task, NULL, PRIO_NORMAL);
    bool queued = id >= 0 && POLL_UNTIL(wait_queue_length(&handoff_mutex.waiters) == 1, 1000);
    task_sleep_ns(10 * MS);
    bool got_early = handoff_got_tsc != 0;
    uint64_t unlock_tsc = rdtsc();
    mutex_unlock(&handoff_mutex);
    int64_t v = -1;
    if (id >= 0) task_join(id, &v);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    ST_ASSERT(t, queued, "the second locker did not sleep on the mutex");
    ST_ASSERT(t, !got_early, "the second locker got the mutex while it was held");
    ST_ASSERT(t, v == 0 && handoff_got_tsc > unlock_tsc, "mutex_lock returned %ld, got it %s the unlock", v,
              handoff_got_tsc > unlock_tsc ? "after" : "before");
    ST_ASSERT(t, handoff_mutex.owner == NULL, "the mutex is still owned");
}
