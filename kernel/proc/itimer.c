/* itimer.c: the real-time interval timer: alarm(2), setitimer(2)/getitimer(2) with
 * ITIMER_REAL (SIGALRM to the process when it expires, reloaded from it_interval).
 * ITIMER_VIRTUAL and ITIMER_PROF are not supported (EINVAL). */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "time.h"

#define ITIMER_REAL 0
#define NS 1000000000ull

struct k_timeval { int64_t sec, usec; };
struct k_itimerval { struct k_timeval interval, value; };

static void expired(struct ktimer *t, void *arg) {
    struct process *p = arg;
    if (p->itimer_interval_ns) ktimer_start(t, time_ns() + p->itimer_interval_ns, expired, p);
    proc_signal(p, SIGALRM);
}

void itimer_stop(struct process *p) {
    ktimer_cancel(&p->itimer_real);
    p->itimer_interval_ns = 0;
}

static uint64_t remaining_ns(struct process *p) {
    if (!p->itimer_real.pending) return 0;
    uint64_t now = time_ns();
    return p->itimer_real.deadline_ns > now ? p->itimer_real.deadline_ns - now : 1;
}

/* Arms (value_ns > 0) or stops the timer; returns the time that was left. */
#define ITIMER_MIN_NS 100000ull /* 100 us: shorter intervals would flood the CPU with timer work */

static uint64_t arm(struct process *p, uint64_t value_ns, uint64_t interval_ns) {
    uint64_t left = remaining_ns(p);
    if (interval_ns && interval_ns < ITIMER_MIN_NS) interval_ns = ITIMER_MIN_NS;
    ktimer_cancel(&p->itimer_real);
    p->itimer_interval_ns = value_ns ? interval_ns : 0;
    if (value_ns) ktimer_start(&p->itimer_real, time_ns() + value_ns, expired, p);
    return left;
}

static int to_ns(const struct k_timeval *tv, uint64_t *out) {
    if (tv->sec < 0 || tv->usec < 0 || tv->usec >= 1000000 || tv->sec > (int64_t)(UINT64_MAX / NS / 2)) return -KEINVAL;
    *out = (uint64_t)tv->sec * NS + (uint64_t)tv->usec * 1000;
    return 0;
}

static struct k_timeval from_ns(uint64_t ns) {
    struct k_timeval tv = {(int64_t)(ns / NS), (int64_t)((ns % NS + 999) / 1000)};
    if (tv.usec == 1000000) { tv.sec++; tv.usec = 0; }
    return tv;
}

SYSCALL(SYS_alarm, alarm) {
    uint64_t secs = (uint32_t)a0;
    uint64_t left = arm(proc_current(), secs * NS, 0);
    return (int64_t)((left + NS / 2) / NS) + (left && left < NS / 2 ? 1 : 0);
}

SYSCALL(SYS_getitimer, getitimer) {
    if (a0 != ITIMER_REAL) return -KEINVAL;
    struct process *p = proc_current();
    struct k_itimerval v = {from_ns(p->itimer_interval_ns), from_ns(remaining_ns(p))};
    return copy_to_user((void *)(uintptr_t)a1, &v, sizeof v) ? -KEFAULT : 0;
}

SYSCALL(SYS_setitimer, setitimer) {
    if (a0 != ITIMER_REAL) return -KEINVAL;
    struct process *p = proc_current();
    struct k_itimerval nv, ov;
    if (copy_from_user(&nv, (const void *)(uintptr_t)a1, sizeof nv)) return -KEFAULT;
    uint64_t value, interval;
    if (to_ns(&nv.value, &value) < 0 || to_ns(&nv.interval, &interval) < 0) return -KEINVAL;
    ov.interval = from_ns(p->itimer_interval_ns);
    ov.value = from_ns(arm(p, value, interval));
    if (a2 && copy_to_user((void *)(uintptr_t)a2, &ov, sizeof ov)) return -KEFAULT;
    return 0;
}
