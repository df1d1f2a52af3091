/* timer_selftest.c: self-tests of kernel timers (group `ktimer`), against
 * kernel/include/ktimer.h: callbacks fire once, in deadline order, never before their
 * deadline; ktimer_cancel stops a pending callback; re-arming moves the deadline; a thousand
 * random timers all fire exactly once. Every test cancels what it started. */
#include "types.h"
#include "selftest.h"
#include "sched.h"
#include "ktimer.h"
#include "time.h"
#include "cpu.h"
#include "mm.h"
#include "kstring.h"

#define MS ((uint64_t)1000000)
#define US ((uint64_t)1000)

#define POLL_UNTIL(cond, ms)                                                              \
    ({                                                                                     \
        uint64_t __end = time_ns() + (uint64_t)(ms) * MS;                                  \
        while (!(cond) && time_ns() < __end) task_sleep_ns(MS);                            \
        (bool)(cond);                                                                      \
    })

/* ---- deadline order ---- */
#define ORDER_TIMERS 5
static volatile int order_seq;
static volatile int fired_rank[ORDER_TIMERS];
static volatile uint64_t fired_at[ORDER_TIMERS];
static void order_fn(struct ktimer *k, void *arg) {
    int i = (int)(uintptr_t)arg;
    fired_at[i] = time_ns();
    fired_rank[i] = order_seq++;
}

SELFTEST(ktimer, callbacks_in_deadline_order) {
    static const uint64_t offsets_ms[ORDER_TIMERS] = {50, 10, 30, 20, 40}; /* started out of order */
    static const int expected_rank[ORDER_TIMERS] = {4, 0, 2, 1, 3};
    struct ktimer k[ORDER_TIMERS];
    memset(k, 0, sizeof(k));
    uint64_t deadline[ORDER_TIMERS];
    int pending0 = ktimer_pending_count();
    order_seq = 0;
    uint64_t now = time_ns();
    for (int i = 0; i < ORDER_TIMERS; i++) {
        fired_rank[i] = -1;
        fired_at[i] = 0;
        deadline[i] = now + offsets_ms[i] * MS;
        ktimer_start(&k[i], deadline[i], order_fn, (void *)(uintptr_t)i);
    }
    int pending_armed = ktimer_pending_count();
    bool all = POLL_UNTIL(order_seq == ORDER_TIMERS, 1000);
    for (int i = 0; i < ORDER_TIMERS; i++) ktimer_cancel(&k[i]);
    ST_ASSERT(t, pending_armed == pending0 + ORDER_TIMERS, "%d pending after arming 5 (was %d)", pending_armed,
              pending0);
    ST_ASSERT(t, all, "only %d of %d callbacks ran within 1 s", order_seq, ORDER_TIMERS);
    for (int i = 0; i < ORDER_TIMERS; i++) {
        ST_ASSERT(t, fired_rank[i] == expected_rank[i], "the %lu ms timer fired %d-th, expected %d-th",
                  offsets_ms[i], fired_rank[i] + 1, expected_rank[i] + 1);
        ST_ASSERT(t, fired_at[i] >= deadline[i], "the %lu ms timer fired %lu ns early", offsets_ms[i],
                  deadline[i] - fired_at[i]);
    }
    ST_ASSERT(t, ktimer_pending_count() == pending0, "%d pending afterwards, %d before",
              ktimer_pending_count(), pending0);
}

/* ---- cancel ---- */
static volatile int cancel_hits;
static void count_fn(struct ktimer *k, void *arg) { cancel_hits++; }

SELFTEST(ktimer, cancel_prevents_callback) {
    struct ktimer k = {0};
    cancel_hits = 0;
    int pending0 = ktimer_pending_count();
    ktimer_start(&k, time_ns() + 20 * MS, count_fn, NULL);
    bool was_pending = ktimer_cancel(&k);
    bool again = ktimer_cancel(&k);
    task_sleep_ns(40 * MS);
    ST_ASSERT(t, was_pending, "ktimer_cancel of a pending timer returned false");
    ST_ASSERT(t, !again, "a second ktimer_cancel returned true");
    ST_ASSERT(t, cancel_hits == 0, "the cancelled callback ran %d times", cancel_hits);
    ST_ASSERT(t, ktimer_pending_count() == pending0, "%d pending, %d before", ktimer_pending_count(), pending0);
    /* After it has fired, cancel reports it was no longer pending. */
    ktimer_start(&k, time_ns() + 2 * MS, count_fn, NULL);
    bool fired = POLL_UNTIL(cancel_hits == 1, 500);
    bool late = ktimer_cancel(&k);
    ST_ASSERT(t, fired, "an uncancelled timer did not fire");
    ST_ASSERT(t, !late, "ktimer_cancel after the callback ran returned true");
}

/* ---- re-arming a pending timer moves it ---- */
static volatile uint64_t rearm_fired_at;
static volatile int rearm_hits;
static void rearm_fn(struct ktimer *k, void *arg) {
    rearm_fired_at = time_ns();
    rearm_hits++;
}

SELFTEST(ktimer, rearm_moves_deadline) {
    struct ktimer k = {0};
    rearm_hits = 0;
    rearm_fired_at = 0;
    ktimer_start(&k, time_ns() + 10 * MS, rearm_fn, NULL);
    uint64_t late_deadline = time_ns() + 40 * MS;
    ktimer_start(&k, late_deadline, rearm_fn, NULL); /* still pending: re-armed later */
    task_sleep_ns(25 * MS);
    int hits_early = rearm_hits;
    bool fired = POLL_UNTIL(rearm_hits >= 1, 500);
    task_sleep_ns(5 * MS);
    ktimer_cancel(&k);
    ST_ASSERT(t, hits_early == 0, "the callback ran at the first (replaced) deadline");
    ST_ASSERT(t, fired && rearm_hits == 1, "the re-armed timer ran %d times, expected 1", rearm_hits);
    ST_ASSERT(t, rearm_fired_at >= late_deadline, "fired %lu ns before the new deadline",
              late_deadline - rearm_fired_at);
}

/* ---- 1000 timers with random deadlines ---- */
#define MANY_TIMERS 1000
struct many_timer {
    struct ktimer k;
    uint64_t deadline;
    volatile uint64_t fired_at;
    volatile int hits;
};
static volatile int many_fired;
static void many_fn(struct ktimer *k, void *arg) {
    struct many_timer *m = arg;
    m->fired_at = time_ns();
    m->hits++;
    many_fired++;
}

SELFTEST(ktimer, thousand_random_timers_fire_once) {
    struct many_timer *m = kzalloc(MANY_TIMERS * sizeof(*m));
    ST_ASSERT(t, m, "no memory for %d timers", MANY_TIMERS);
    int pending0 = ktimer_pending_count();
    many_fired = 0;
    uint64_t rng = rdtsc() | 1, now = time_ns(), last = 0;
    for (int i = 0; i < MANY_TIMERS; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        m[i].deadline = now + rng % (200 * MS);
        if (m[i].deadline > last) last = m[i].deadline;
        ktimer_start(&m[i].k, m[i].deadline, many_fn, &m[i]);
    }
    /* The earliest deadlines may pass while the rest are being armed: count those too. */
    uint64_t irqf = irq_save();
    int armed = ktimer_pending_count() + many_fired;
    irq_restore(irqf);
    bool all = POLL_UNTIL(many_fired >= MANY_TIMERS, 1500);
    task_sleep_ns(10 * MS); /* a duplicate firing would show up here */
    int early = -1, wrong = -1;
    for (int i = 0; i < MANY_TIMERS; i++) {
        ktimer_cancel(&m[i].k);
        if (m[i].hits != 1 && wrong < 0) wrong = i;
        if (m[i].hits && m[i].fired_at < m[i].deadline && early < 0) early = i;
    }
    int hits_wrong = wrong >= 0 ? m[wrong].hits : 0;
    uint64_t early_by = early >= 0 ? m[early].deadline - m[early].fired_at : 0;
    int fired = many_fired;
    kfree(m);
    ST_ASSERT(t, armed == pending0 + MANY_TIMERS, "%d pending or fired after arming %d (%d pending before)", armed, MANY_TIMERS,
              pending0);
    ST_ASSERT(t, all, "%d of %d callbacks ran", fired, MANY_TIMERS);
    ST_ASSERT(t, wrong < 0, "timer %d ran %d times", wrong, hits_wrong);
    ST_ASSERT(t, early < 0, "timer %d fired %lu ns before its deadline", early, early_by);
    ST_ASSERT(t, fired == MANY_TIMERS, "%d callbacks for %d timers", fired, MANY_TIMERS);
    ST_ASSERT(t, ktimer_pending_count() == pending0, "%d pending afterwards, %d before",
              ktimer_pending_count(), pending0);
}

/* ---- the timer interrupt keeps time while tasks sleep ---- */
SELFTEST(ktimer, interrupts_counted) {
    uint64_t before = ktimer_interrupts();
    struct ktimer k = {0};
    cancel_hits = 0;
    ktimer_start(&k, time_ns() + 5 * MS, count_fn, NULL);
    bool fired = POLL_UNTIL(cancel_hits == 1, 500);
    ktimer_cancel(&k);
    uint64_t after = ktimer_interrupts();
    ST_ASSERT(t, fired, "the timer did not fire");
    ST_ASSERT(t, after > before, "ktimer_interrupts did not advance across a timer expiry (%lu)", after);
}
