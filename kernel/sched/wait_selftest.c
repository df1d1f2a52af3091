/* wait_selftest.c: self-tests of wait queues and the timeout contract of
 * wait_event_timeout (group `wait`), as kernel/include/wait.h states it and
 * ../shared/brief/system.md requires ("Timeout 0 means non-blocking, everywhere"):
 * timeout 0 never sleeps, a woken waiter sees its condition, a deadline gives "timed out",
 * wakes racing the check are never lost, a killed waiter returns -KEINTR, and the waiter is
 * off the queue on every one of these paths. */
#include "types.h"
#include "selftest.h"
#include "sched.h"
#include "wait.h"
#include "ktimer.h"
#include "kerrno.h"
#include "time.h"
#include "cpu.h"
#include "printk.h"

#define MS ((uint64_t)1000000)
#define US ((uint64_t)1000)

static uint64_t ns_since(uint64_t tsc0) { return tsc_to_ns(rdtsc() - tsc0); }

/* Sleeps in 1 ms steps until cond holds or ms milliseconds passed; evaluates to cond. */
#define POLL_UNTIL(cond, ms)                                                              \
    ({                                                                                     \
        uint64_t __end = time_ns() + (uint64_t)(ms) * MS;                                  \
        while (!(cond) && time_ns() < __end) task_sleep_ns(MS);                            \
        (bool)(cond);                                                                      \
    })

static struct wait_queue wq = WAIT_QUEUE_INIT("st-wait");
static volatile bool cond_flag;

/* ---- timeout 0 never sleeps ---- */
SELFTEST(wait, timeout_zero_false_returns_at_once) {
    cond_flag = false;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = rdtsc();
        int r = wait_event_timeout(&wq, cond_flag, 0);
        uint64_t dt = ns_since(t0);
        ST_ASSERT(t, r == 0, "returned %d with a false condition, expected 0", r);
        ST_ASSERT(t, dt < 100 * US, "took %lu ns (want < 100 us): it slept", dt);
        ST_ASSERT(t, wait_queue_length(&wq) == 0, "%d entries left on the queue", wait_queue_length(&wq));
    }
}

SELFTEST(wait, timeout_zero_true_returns_at_once) {
    cond_flag = true;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = rdtsc();
        int r = wait_event_timeout(&wq, cond_flag, 0);
        uint64_t dt = ns_since(t0);
        ST_ASSERT(t, r == 1, "returned %d with a true condition, expected 1", r);
        ST_ASSERT(t, dt < 100 * US, "took %lu ns (want < 100 us)", dt);
        ST_ASSERT(t, wait_queue_length(&wq) == 0, "%d entries left on the queue", wait_queue_length(&wq));
    }
    cond_flag = false;
}

/* ---- a waiter woken by another task sees the condition ---- */
static volatile uint64_t waiter_ns;
static int64_t waiter_task(void *arg) {
    uint64_t t0 = rdtsc();
    int r = wait_event_timeout(&wq, cond_flag, 2000 * MS);
    waiter_ns = ns_since(t0);
    return r;
}

SELFTEST(wait, woken_waiter_sees_condition) {
    cond_flag = false;
    tid_t id = task_create("st-waiter", waiter_task, NULL, PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    bool queued = POLL_UNTIL(wait_queue_length(&wq) == 1, 1000);
    task_sleep_ns(5 * MS); /* it stays asleep while the condition is false */
    int still = wait_queue_length(&wq);
    cond_flag = true;
    int woken = wake_up_one(&wq);
    int64_t v = -100;
    task_join(id, &v);
    int left = wait_queue_length(&wq);
    cond_flag = false;
    ST_ASSERT(t, queued && still == 1, "the waiter was not sleeping on the queue");
    ST_ASSERT(t, woken == 1, "wake_up_one woke %d waiters, expected 1", woken);
    ST_ASSERT(t, v == 1, "the waiter's wait returned %ld, expected 1", v);
    ST_ASSERT(t, waiter_ns < 1000 * MS, "the waiter took %lu ms: it was not woken", waiter_ns / MS);
    ST_ASSERT(t, left == 0, "%d entries left on the queue", left);
}

/* ---- a deadline that passes gives "timed out" and leaves the queue ---- */
static volatile int max_len_seen;
static volatile bool watch_stop;
static int64_t queue_watcher_task(void *arg) {
    while (!watch_stop) {
        int n = wait_queue_length(&wq);
        if (n > max_len_seen) max_len_seen = n;
        task_sleep_ns(2 * MS);
    }
    return 0;
}

SELFTEST(wait, deadline_passes_timed_out) {
    cond_flag = false;
    max_len_seen = 0;
    watch_stop = false;
    /* A second task checks that the waiter really is on the queue while it waits. */
    tid_t watcher = task_create("st-wq-watch", queue_watcher_task, NULL, PRIO_NORMAL);
    ST_ASSERT(t, watcher >= 0, "task_create = %d", watcher);
    uint64_t t0 = rdtsc();
    int r = wait_event_timeout(&wq, cond_flag, 30 * MS);
    uint64_t dt = ns_since(t0);
    int left = wait_queue_length(&wq);
    watch_stop = true;
    task_join(watcher, NULL);
    ST_ASSERT(t, r == 0, "returned %d, expected 0 (timed out)", r);
    ST_ASSERT(t, dt >= 30 * MS, "returned after %lu us, before the 30 ms deadline", dt / US);
    ST_ASSERT(t, dt < 500 * MS, "returned after %lu ms for a 30 ms timeout", dt / MS);
    ST_ASSERT(t, max_len_seen == 1, "the queue held %d entries during the wait, expected 1", max_len_seen);
    ST_ASSERT(t, left == 0, "%d entries left on the queue after the timeout", left);
}

/* ---- wakes racing the check are not lost ----
 * A timer callback (interrupt context) sets the flag and calls wake_up_one a random 0-40 us
 * after the consumer starts waiting, so the wake lands anywhere in wait_event_timeout:
 * before the first check, between the check and the sleep, or during the sleep. A lost wake
 * would leave the consumer asleep until its 1 s deadline (where the flag makes it return 1),
 * so every round's wait time is measured: more than 100 ms means the wake was lost. */
#define RACE_ROUNDS 2000
static volatile int race_round;
static volatile int race_produced;
static struct wait_queue race_wq = WAIT_QUEUE_INIT("st-race");
static void race_timer_fn(struct ktimer *k, void *arg) {
    race_produced = (int)(uintptr_t)arg;
    wake_up_one(&race_wq);
}

SELFTEST(wait, racing_wake_not_lost) {
    struct ktimer k = {0};
    uint64_t rng = rdtsc() | 1;
    uint64_t worst = 0;
    int lost_round = -1, bad_r = 1;
    race_produced = 0;
    for (int i = 1; i <= RACE_ROUNDS; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint64_t delay = rng % (40 * US);
        race_round = i;
        ktimer_start(&k, time_ns() + delay, race_timer_fn, (void *)(uintptr_t)i);
        uint64_t t0 = rdtsc();
        int r = wait_event_timeout(&race_wq, race_produced == i, 1000 * MS);
        uint64_t dt = ns_since(t0);
        if (dt > worst) worst = dt;
        if (r != 1 || dt > 100 * MS) {
            lost_round = i;
            bad_r = r;
            break;
        }
    }
    ktimer_cancel(&k);
    int left = wait_queue_length(&race_wq);
    pr_info("wait: %d racing wakes, longest wait %lu us\n", RACE_ROUNDS, worst / US);
    ST_ASSERT(t, lost_round < 0, "round %d: wait returned %d after %lu us: the wake was lost", lost_round,
              bad_r, worst / US);
    ST_ASSERT(t, left == 0, "%d entries left on the queue", left);
}

/* ---- a killed waiter returns -KEINTR, exits, and leaves the queue ---- */
static volatile int killed_wait_result;
static int64_t forever_waiter_task(void *arg) {
    int r = wait_event(&wq, cond_flag); /* WAIT_FOREVER */
    killed_wait_result = r;
    return r;
}

SELFTEST(wait, killed_waiter_removed) {
    cond_flag = false;
    killed_wait_result = 12345;
    tid_t id = task_create("st-kill-waiter", forever_waiter_task, NULL, PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    /* WAIT_FOREVER must sleep (it is not 0): the task is still queued 20 ms later. */
    bool queued = POLL_UNTIL(wait_queue_length(&wq) == 1, 1000);
    task_sleep_ns(20 * MS);
    int still = wait_queue_length(&wq);
    int k = task_kill(id);
    int64_t v = 0;
    int j = task_join(id, &v);
    int left = wait_queue_length(&wq);
    if (left) { /* do not leave a stale entry behind for the next test */
        cond_flag = true;
        wake_up_all(&wq);
        cond_flag = false;
    }
    ST_ASSERT(t, queued && still == 1, "the WAIT_FOREVER waiter was not sleeping on the queue");
    ST_ASSERT(t, k == 0, "task_kill = %d", k);
    ST_ASSERT(t, j == 0, "task_join = %d", j);
    ST_ASSERT(t, v == -KEINTR, "exit value %ld, expected -KEINTR", v);
    ST_ASSERT(t, killed_wait_result == -KEINTR, "the wait returned %d, expected -KEINTR (12345: it never returned)",
              killed_wait_result);
    ST_ASSERT(t, left == 0, "%d entries left on the queue after the kill", left);
}

/* ---- wake_up_all / wake_up_one counts ---- */
#define MANY_WAITERS 5
SELFTEST(wait, wake_up_all_wakes_every_waiter) {
    cond_flag = false;
    tid_t ids[MANY_WAITERS];
    int created = 0;
    for (int i = 0; i < MANY_WAITERS; i++) {
        ids[i] = task_create("st-waiter-n", waiter_task, NULL, PRIO_NORMAL);
        if (ids[i] >= 0) created++;
    }
    bool queued = POLL_UNTIL(wait_queue_length(&wq) == created, 1000);
    cond_flag = true;
    int woken = wake_up_all(&wq);
    int ok = 0;
    for (int i = 0; i < MANY_WAITERS; i++) {
        int64_t v = 0;
        if (ids[i] >= 0 && task_join(ids[i], &v) == 0 && v == 1) ok++;
    }
    int left = wait_queue_length(&wq);
    cond_flag = false;
    ST_ASSERT(t, created == MANY_WAITERS, "only %d tasks created", created);
    ST_ASSERT(t, queued, "the waiters did not all reach the queue");
    ST_ASSERT(t, woken == MANY_WAITERS, "wake_up_all woke %d, expected %d", woken, MANY_WAITERS);
    ST_ASSERT(t, ok == MANY_WAITERS, "%d of %d waiters returned 1", ok, MANY_WAITERS);
    ST_ASSERT(t, left == 0, "%d entries left on the queue", left);
}

static volatile int one_done;
static int64_t counting_waiter_task(void *arg) {
    int r = wait_event_timeout(&wq, cond_flag, 2000 * MS);
    __atomic_fetch_add(&one_done, 1, __ATOMIC_RELAXED);
    return r;
}

SELFTEST(wait, wake_up_one_wakes_exactly_one) {
    cond_flag = false;
    one_done = 0;
    tid_t ids[3];
    int created = 0;
    for (int i = 0; i < 3; i++) {
        ids[i] = task_create("st-waiter-1", counting_waiter_task, NULL, PRIO_NORMAL);
        if (ids[i] >= 0) created++;
    }
    bool queued = POLL_UNTIL(wait_queue_length(&wq) == created, 1000);
    /* The condition is true for all, but only one is woken: the others stay asleep. */
    cond_flag = true;
    int woken = wake_up_one(&wq);
    POLL_UNTIL(one_done >= 1, 500);
    task_sleep_ns(20 * MS);
    int done_after_one = one_done, len_after_one = wait_queue_length(&wq);
    int rest = wake_up_all(&wq);
    int ok = 0;
    for (int i = 0; i < 3; i++) {
        int64_t v = 0;
        if (ids[i] >= 0 && task_join(ids[i], &v) == 0 && v == 1) ok++;
    }
    cond_flag = false;
    ST_ASSERT(t, created == 3 && queued, "%d waiters created, queued: %d", created, queued);
    ST_ASSERT(t, woken == 1, "wake_up_one returned %d", woken);
    ST_ASSERT(t, done_after_one == 1, "%d waiters ran after one wake_up_one", done_after_one);
    ST_ASSERT(t, len_after_one == 2, "%d left on the queue after one wake, expected 2", len_after_one);
    ST_ASSERT(t, rest == 2, "wake_up_all woke %d of the remaining 2", rest);
    ST_ASSERT(t, ok == 3, "%d of 3 waiters returned 1", ok);
    ST_ASSERT(t, wait_queue_length(&wq) == 0, "entries left on the queue");
}
