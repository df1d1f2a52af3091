/* sys_time.c: clock and sleep system calls: clock_gettime, clock_getres, gettimeofday, time,
 * nanosleep, clock_nanosleep.
 *
 * Follows Linux man-pages clock_gettime(2), clock_getres(2), gettimeofday(2), time(2),
 * nanosleep(2), clock_nanosleep(2) with Linux x86-64 structures (struct timespec {i64 tv_sec;
 * i64 tv_nsec}, struct timeval {i64 tv_sec; i64 tv_usec}) and clock ids (linux/time.h),
 * including the CPU-time clock ids of clock_getcpuclockid(3) / pthread_getcpuclockid(3)
 * (negative: ~pid << 3 | which, bit 2 = per thread).
 *
 * Clocks: the monotonic family (MONOTONIC, MONOTONIC_RAW, MONOTONIC_COARSE, BOOTTIME) is
 * time_ns() (time.h: nanoseconds since boot, from the TSC; nothing suspends, so BOOTTIME is
 * the same). The realtime family is vfs_now_ns() (RTC at first use plus the monotonic clock).
 * The CPU-time clocks count the time tasks spent on the CPU (sched.h cpu_time_ns plus the
 * running slice); user and system time are not told apart.
 *
 * Sleeps sleep on a private wait queue with wait_sleep_until (wait.h), so whatever ends a
 * wait with -KEINTR (a kill, a signal) ends them too: they then store the remaining time in
 * rem and return -EINTR. They are registered SYSCALL_NORESTART (Linux restarts them through
 * restart_syscall; here the caller sees EINTR, which POSIX allows). */
#include "syscall.h"
#include "proc.h"
#include "uaccess.h"
#include "wait.h"
#include "sched.h"
#include "time.h"
#include "cpu.h"
#include "vfs.h"
#include "kerrno.h"
#include "proc_internal.h"

#define NSEC_PER_SEC 1000000000ull
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define TIMER_ABSTIME 1

struct k_timespec {
    int64_t tv_sec, tv_nsec;
};
struct k_timeval {
    int64_t tv_sec, tv_usec;
};
_Static_assert(sizeof(struct k_timespec) == 16, "struct timespec is 16 bytes on x86-64");

/* CPU time of one task, including the slice it is running now. */
static uint64_t task_cpu_ns(const struct task *t) {
    uint64_t ns = t->cpu_time_ns;
    if (t == task_current()) ns += tsc_to_ns(rdtsc() - t->switched_in_tsc);
    return ns;
}

/* CPU time of a process: its exited threads plus the live ones (proc_lock held: it guards
 * the thread list). */
static uint64_t process_cpu_ns_locked(const struct process *p) {
    uint64_t ns = p->utime_ns + p->stime_ns;
    for (const struct uthread *u = p->threads; u; u = u->next_thread)
        if (u->task) ns += task_cpu_ns(u->task);
    return ns;
}

enum clock_kind { CK_INVALID, CK_REAL, CK_MONO, CK_PROC_CPU, CK_THREAD_CPU };

/* Classifies a clock id; *pid receives the process of a CPU-time clock (0 = the caller). */
static enum clock_kind clock_kind(int32_t id, int32_t *pid) {
    *pid = 0;
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        return CK_REAL;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
        return CK_MONO;
    case CLOCK_PROCESS_CPUTIME_ID:
        return CK_PROC_CPU;
    case CLOCK_THREAD_CPUTIME_ID:
        return CK_THREAD_CPU;
    }
    if (id >= 0 || (id & 3) == 3) return CK_INVALID; /* which = 3 is CLOCKFD: not supported */
    *pid = ~(id >> 3);
    return (id & 4) ? CK_THREAD_CPU : CK_PROC_CPU;
}

/* Reads a clock: 0 with *ns, or -KEINVAL (unknown clock, or a CPU clock of a process or
 * thread that does not exist or that the caller cannot see). */
static int clock_read(int32_t id, uint64_t *ns) {
    int32_t pid;
    switch (clock_kind(id, &pid)) {
    case CK_REAL:
        *ns = vfs_now_ns();
        return 0;
    case CK_MONO:
        *ns = time_ns();
        return 0;
    case CK_THREAD_CPU: {
        struct uthread *ut = uthread_current();
        if (pid == 0 || (ut && ut->tid == pid)) {
            *ns = task_cpu_ns(task_current());
            return 0;
        }
        if (!ut) return -KEINVAL;
        bool found = false; /* another thread of the caller's process (pthread_getcpuclockid) */
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        for (const struct uthread *u = ut->proc->threads; u && !found; u = u->next_thread) {
            if (u->tid == pid && u->task) {
                *ns = task_cpu_ns(u->task);
                found = true;
            }
        }
        spin_unlock_irqrestore(&proc_lock, fl);
        return found ? 0 : -KEINVAL;
    }
    case CK_PROC_CPU: {
        struct process *self = proc_current();
        if (!self) {
            if (pid != 0) return -KEINVAL;
            *ns = task_cpu_ns(task_current());
            return 0;
        }
        if (pid == 0) pid = self->pid;
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        struct process *p = proc_first_locked();
        while (p && p->pid != pid) p = p->all_next;
        if (p) *ns = process_cpu_ns_locked(p);
        spin_unlock_irqrestore(&proc_lock, fl);
        return p ? 0 : -KEINVAL;
    }
    default:
        return -KEINVAL;
    }
}

static struct k_timespec ns_to_timespec(uint64_t ns) {
    return (struct k_timespec){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC)};
}

/* Copies in and checks a timespec: 0 with *ns (saturated to WAIT_FOREVER - 1), -KEFAULT,
 * -KEINVAL (tv_nsec outside [0, 1e9) or tv_sec < 0). */
static int timespec_in(uint64_t uts, uint64_t *ns) {
    struct k_timespec ts;
    if (copy_from_user(&ts, (const void *)(uintptr_t)uts, sizeof ts) < 0) return -KEFAULT;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= (int64_t)NSEC_PER_SEC) return -KEINVAL;
    if ((uint64_t)ts.tv_sec >= (WAIT_FOREVER - 1) / NSEC_PER_SEC) *ns = WAIT_FOREVER - 1;
    else *ns = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
    return 0;
}

/* clock_gettime(clockid, struct timespec *tp) */
SYSCALL(SYS_clock_gettime, clock_gettime) {
    uint64_t ns;
    int r = clock_read((int32_t)a0, &ns);
    if (r < 0) return r;
    struct k_timespec ts = ns_to_timespec(ns);
    return copy_to_user((void *)(uintptr_t)a1, &ts, sizeof ts) < 0 ? -KEFAULT : 0;
}

/* clock_getres(clockid, struct timespec *res): every clock counts nanoseconds. */
SYSCALL(SYS_clock_getres, clock_getres) {
    uint64_t ns;
    int r = clock_read((int32_t)a0, &ns); /* validates the id (and a CPU clock's owner) */
    if (r < 0) return r;
    if (!a1) return 0;
    struct k_timespec ts = {0, 1};
    return copy_to_user((void *)(uintptr_t)a1, &ts, sizeof ts) < 0 ? -KEFAULT : 0;
}

/* gettimeofday(struct timeval *tv, struct timezone *tz): either may be NULL; the time zone
 * is always UTC (minuteswest 0, dsttime 0). */
SYSCALL(SYS_gettimeofday, gettimeofday) {
    if (a0) {
        uint64_t ns = vfs_now_ns();
        struct k_timeval tv = {(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000)};
        if (copy_to_user((void *)(uintptr_t)a0, &tv, sizeof tv) < 0) return -KEFAULT;
    }
    if (a1) {
        int32_t tz[2] = {0, 0};
        if (copy_to_user((void *)(uintptr_t)a1, tz, sizeof tz) < 0) return -KEFAULT;
    }
    return 0;
}

/* time(time_t *tloc): seconds since the epoch, also stored at tloc when not NULL. */
SYSCALL(SYS_time, time) {
    int64_t secs = (int64_t)(vfs_now_ns() / NSEC_PER_SEC);
    if (a0 && put_user_u64((void *)(uintptr_t)a0, (uint64_t)secs) < 0) return -KEFAULT;
    return secs;
}

/* Sleeps until deadline (time_ns clock). 0, or -KEINTR when a kill or signal ended it. */
static int sleep_until(uint64_t deadline) {
    struct wait_queue wq;
    struct wait_entry e = {0};
    wait_queue_init(&wq, "nanosleep");
    for (;;) {
        if (time_ns() >= deadline) return 0;
        if (task_interrupted(task_current())) return -KEINTR;
        wait_prepare(&wq, &e);
        int r = wait_sleep_until(deadline);
        wait_finish(&wq, &e);
        if (r < 0) return time_ns() >= deadline ? 0 : -KEINTR;
    }
}

/* The end of an interrupted relative sleep: writes the time left to urem (if not NULL). */
static int64_t sleep_interrupted(uint64_t deadline, uint64_t urem) {
    if (urem) {
        uint64_t now = time_ns();
        struct k_timespec left = ns_to_timespec(deadline > now ? deadline - now : 0);
        if (copy_to_user((void *)(uintptr_t)urem, &left, sizeof left) < 0) return -KEFAULT;
    }
    return -KEINTR;
}

/* nanosleep(const struct timespec *req, struct timespec *rem) */
SYSCALL_FLAGS(SYS_nanosleep, nanosleep, SYSCALL_NORESTART) {
    uint64_t ns;
    int r = timespec_in(a0, &ns);
    if (r < 0) return r;
    uint64_t deadline = wait_deadline(ns);
    if (sleep_until(deadline) < 0) return sleep_interrupted(deadline, a1);
    return 0;
}

/* clock_nanosleep(clockid, flags, const struct timespec *req, struct timespec *rem):
 * TIMER_ABSTIME sleeps until req on that clock (rem untouched). Realtime deadlines are
 * converted once to the monotonic clock (the wall clock is never set, so they agree). */
SYSCALL_FLAGS(SYS_clock_nanosleep, clock_nanosleep, SYSCALL_NORESTART) {
    int32_t id = (int32_t)a0, pid;
    bool abs = (a1 & TIMER_ABSTIME) != 0; /* other flag bits are ignored, as on Linux */
    enum clock_kind kind = clock_kind(id, &pid);
    if (kind == CK_INVALID || kind == CK_THREAD_CPU) return -KEINVAL;
    if (kind == CK_PROC_CPU || id == CLOCK_MONOTONIC_RAW || id == CLOCK_MONOTONIC_COARSE ||
        id == CLOCK_REALTIME_COARSE)
        return -KENOTSUP;
    uint64_t ns;
    int r = timespec_in(a2, &ns);
    if (r < 0) return r;
    uint64_t deadline;
    if (!abs) {
        deadline = wait_deadline(ns);
    } else if (kind == CK_REAL) {
        uint64_t now_real = vfs_now_ns();
        deadline = ns <= now_real ? 0 : wait_deadline(ns - now_real);
    } else {
        deadline = ns;
    }
    if (sleep_until(deadline) < 0) return abs ? -KEINTR : sleep_interrupted(deadline, a3);
    return 0;
}
