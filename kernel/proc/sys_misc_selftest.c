/* sys_misc_selftest.c: self-tests (group `sys_misc`) of the time, information, randomness and
 * futex system calls (sys_time.c, sys_info.c, futex.c) and of procfs's per-process entries,
 * against the Linux man-pages semantics they follow (clock_gettime(2), nanosleep(2),
 * clock_nanosleep(2), uname(2), sysinfo(2), getrandom(2), getrlimit(2), futex(2), proc(5)).
 *
 * Each test runs as a process (proc_test_enter) with a user buffer mapped by uvm_map and calls
 * the system calls through syscall_invoke, as user code would, bad pointers and hostile
 * arguments included. A second "thread" of the test process, where a test needs one, is a
 * kernel task given a struct uthread of that process. */
#include "selftest.h"
#include "syscall.h"
#include "proc.h"
#include "proc_internal.h"
#include "futex.h"
#include "uvm.h"
#include "uaccess.h"
#include "vfs.h"
#include "sched.h"
#include "time.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "cpu.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define UBUF_LEN (64 * 1024)
#define BAD_LOW 0x1000ull                /* below USER_MIN: never mapped */
#define BAD_KERNEL 0xffffffff80000000ull /* the kernel image */
#define BAD_NONCANON 0x0000800000000000ull

struct kts {
    int64_t sec, nsec;
};

static int64_t sc(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    return syscall_invoke(nr, a0, a1, a2, a3, a4, a5);
}
#define SC0(nr) sc(nr, 0, 0, 0, 0, 0, 0)
#define SC1(nr, a) sc(nr, (uint64_t)(a), 0, 0, 0, 0, 0)
#define SC2(nr, a, b) sc(nr, (uint64_t)(a), (uint64_t)(b), 0, 0, 0, 0)
#define SC3(nr, a, b, c) sc(nr, (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), 0, 0, 0)
#define SC4(nr, a, b, c, d) sc(nr, (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), 0, 0)
#define SC6(nr, a, b, c, d, e, f)                                                                       \
    sc(nr, (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), (uint64_t)(e), (uint64_t)(f))

static void uput(uint64_t u, const void *src, size_t n) { copy_to_user((void *)(uintptr_t)u, src, n); }
static void uget(void *dst, uint64_t u, size_t n) { copy_from_user(dst, (const void *)(uintptr_t)u, n); }
static void uput_ts(uint64_t u, int64_t sec, int64_t nsec) {
    struct kts ts = {sec, nsec};
    uput(u, &ts, sizeof ts);
}

/* Enters a test process with UBUF_LEN bytes of user memory at *u (zeroed). */
static bool enter(struct selftest_ctx *t, uint64_t *u) {
    int r = proc_test_enter();
    if (r < 0) {
        selftest_fail(t, "proc_test_enter = %d", r);
        return false;
    }
    *u = 0;
    struct uvm *vm = proc_current()->vm;
    r = uvm_map(vm, u, UBUF_LEN + PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    if (r == 0) r = uvm_unmap(vm, *u + UBUF_LEN, PAGE_SIZE); /* a hole right after the buffer */
    if (r < 0) {
        proc_test_leave();
        selftest_fail(t, "uvm_map of the test buffer = %d", r);
        return false;
    }
    return true;
}

/* A test body runs between enter and proc_test_leave, whatever it asserts. */
#define SYS_TEST_TIMEOUT(name, ms)                                                           \
    static void body_##name(struct selftest_ctx *t, uint64_t u);                             \
    SELFTEST_TIMEOUT(sys_misc, name, ms) {                                                   \
        uint64_t u;                                                                          \
        if (!enter(t, &u)) return;                                                           \
        body_##name(t, u);                                                                   \
        proc_test_leave();                                                                   \
    }                                                                                        \
    static void body_##name(struct selftest_ctx *t, uint64_t u)
#define SYS_TEST(name) SYS_TEST_TIMEOUT(name, 0)

/* Makes the calling kernel task a second thread of process p (its address space loaded). */
static struct uthread *thread_join_process(struct process *p) {
    struct uthread *ut = uthread_alloc(p, 0);
    if (!ut) return NULL;
    struct task *self = task_current();
    ut->task = self;
    uint64_t fl = irq_save();
    self->ut = ut;
    uvm_activate(p->vm);
    irq_restore(fl);
    return ut;
}

static void thread_leave_process(struct uthread *ut) {
    struct task *self = task_current();
    uint64_t fl = irq_save();
    self->ut = NULL;
    self->sigpending = false;
    irq_restore(fl);
    uthread_unlink(ut);
    kfree(ut);
}

/* ---- clocks ---- */

SYS_TEST(clock_gettime_monotonic_and_realtime) {
    struct kts a, b, r;
    int64_t r1 = SC2(SYS_clock_gettime, 1, u);
    uget(&a, u, sizeof a);
    for (volatile int i = 0; i < 10000; i++) {}
    int64_t r2 = SC2(SYS_clock_gettime, 1, u);
    uget(&b, u, sizeof b);
    int64_t r3 = SC2(SYS_clock_gettime, 0, u);
    uget(&r, u, sizeof r);
    ST_ASSERT(t, r1 == 0 && r2 == 0 && r3 == 0, "clock_gettime = %ld %ld %ld", (long)r1, (long)r2, (long)r3);
    ST_ASSERT(t, a.nsec >= 0 && a.nsec < (int64_t)SEC && b.nsec >= 0 && b.nsec < (int64_t)SEC, "tv_nsec out of range");
    ST_ASSERT(t, b.sec > a.sec || (b.sec == a.sec && b.nsec > a.nsec), "monotonic did not increase: %ld.%09ld -> %ld.%09ld",
              (long)a.sec, (long)a.nsec, (long)b.sec, (long)b.nsec);
    ST_ASSERT(t, r.sec > 1704067200, "realtime %ld is before 2024", (long)r.sec);
    static const int32_t good[] = {2, 3, 4, 5, 6, 7};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        int64_t g = SC2(SYS_clock_gettime, good[i], u);
        ST_ASSERT(t, g == 0, "clock %d: %ld", good[i], (long)g);
    }
    struct kts cpu;
    SC2(SYS_clock_gettime, 3, u);
    uget(&cpu, u, sizeof cpu);
    ST_ASSERT(t, cpu.sec > 0 || cpu.nsec > 0, "thread CPU time is zero");
    int32_t pid = proc_current()->pid;
    int32_t own_id = (int32_t)(((uint32_t)~pid << 3) | 2); /* clock_getcpuclockid(pid) */
    int32_t other_id = (int32_t)(((uint32_t)~99999 << 3) | 2);
    int64_t own = SC2(SYS_clock_gettime, (uint64_t)(int64_t)own_id, u);
    int64_t other = SC2(SYS_clock_gettime, (uint64_t)(int64_t)other_id, u);
    int64_t fd = SC2(SYS_clock_gettime, (uint64_t)(int64_t)-1, u); /* which = 3: a CLOCKFD id */
    ST_ASSERT(t, own == 0 && other == -KEINVAL && fd == -KEINVAL, "CPU clock ids: own %ld, no such pid %ld, fd %ld",
              (long)own, (long)other, (long)fd);
    int64_t bad8 = SC2(SYS_clock_gettime, 8, u), bad99 = SC2(SYS_clock_gettime, 99, u);
    ST_ASSERT(t, bad8 == -KEINVAL && bad99 == -KEINVAL, "unknown clocks: %ld %ld", (long)bad8, (long)bad99);
    int64_t f1 = SC2(SYS_clock_gettime, 1, 0), f2 = SC2(SYS_clock_gettime, 1, BAD_KERNEL);
    int64_t f3 = SC2(SYS_clock_gettime, 0, BAD_NONCANON - 8), f4 = SC2(SYS_clock_gettime, 1, BAD_LOW);
    ST_ASSERT(t, f1 == -KEFAULT && f2 == -KEFAULT && f3 == -KEFAULT && f4 == -KEFAULT, "bad pointers: %ld %ld %ld %ld",
              (long)f1, (long)f2, (long)f3, (long)f4);
    uput_ts(u, 7, 7);
    int64_t res = SC2(SYS_clock_getres, 1, u), resnull = SC2(SYS_clock_getres, 0, 0), resbad = SC2(SYS_clock_getres, 42, u);
    uget(&a, u, sizeof a);
    ST_ASSERT(t, res == 0 && a.sec == 0 && a.nsec == 1, "clock_getres = %ld {%ld, %ld}", (long)res, (long)a.sec, (long)a.nsec);
    ST_ASSERT(t, resnull == 0 && resbad == -KEINVAL, "clock_getres NULL %ld, bad clock %ld", (long)resnull, (long)resbad);
}

SYS_TEST(gettimeofday_and_time_agree) {
    int64_t r = SC2(SYS_gettimeofday, u, u + 16);
    struct kts tv;
    int32_t tz[2] = {5, 5};
    uget(&tv, u, sizeof tv);
    uget(tz, u + 16, sizeof tz);
    int64_t secs = SC1(SYS_time, 0);
    int64_t secs2 = SC1(SYS_time, u + 32);
    uint64_t stored = 0;
    uget(&stored, u + 32, 8);
    ST_ASSERT(t, r == 0 && tv.nsec >= 0 && tv.nsec < 1000000, "gettimeofday = %ld, usec %ld", (long)r, (long)tv.nsec);
    ST_ASSERT(t, tz[0] == 0 && tz[1] == 0, "timezone not zeroed: %d %d", tz[0], tz[1]);
    ST_ASSERT(t, secs >= tv.sec && secs - tv.sec <= 2, "time() %ld vs gettimeofday %ld", (long)secs, (long)tv.sec);
    ST_ASSERT(t, secs2 >= secs && (int64_t)stored == secs2, "time(tloc) returned %ld, stored %lu", (long)secs2,
              (unsigned long)stored);
    int64_t both_null = SC2(SYS_gettimeofday, 0, 0);
    int64_t bad_tv = SC2(SYS_gettimeofday, BAD_KERNEL, 0), bad_tz = SC2(SYS_gettimeofday, u, BAD_LOW);
    int64_t bad_t = SC1(SYS_time, BAD_KERNEL);
    ST_ASSERT(t, both_null == 0 && bad_tv == -KEFAULT && bad_tz == -KEFAULT && bad_t == -KEFAULT,
              "NULL/bad pointers: %ld %ld %ld %ld", (long)both_null, (long)bad_tv, (long)bad_tz, (long)bad_t);
}

/* ---- sleeping ---- */

SYS_TEST(nanosleep_20ms_sleeps_at_least_20ms) {
    uput_ts(u, 0, 20 * (int64_t)MS);
    uput_ts(u + 16, 99, 99);
    uint64_t t0 = time_ns();
    int64_t r = SC2(SYS_nanosleep, u, u + 16);
    uint64_t dt = time_ns() - t0;
    struct kts rem;
    uget(&rem, u + 16, sizeof rem);
    ST_ASSERT(t, r == 0, "nanosleep = %ld", (long)r);
    ST_ASSERT(t, dt >= 20 * MS, "slept only %lu us", (unsigned long)(dt / 1000));
    ST_ASSERT(t, dt < 2 * SEC, "slept %lu ms for 20 ms", (unsigned long)(dt / MS));
    ST_ASSERT(t, rem.sec == 99 && rem.nsec == 99, "rem written after a full sleep");
    uput_ts(u, 0, 0);
    ST_ASSERT(t, SC2(SYS_nanosleep, u, 0) == 0, "nanosleep(0) failed");
    /* clock_nanosleep: relative on CLOCK_MONOTONIC, and absolute (past and near future) */
    uput_ts(u, 0, 20 * (int64_t)MS);
    t0 = time_ns();
    r = SC4(SYS_clock_nanosleep, 1, 0, u, 0);
    dt = time_ns() - t0;
    ST_ASSERT(t, r == 0 && dt >= 20 * MS, "clock_nanosleep relative: %ld after %lu us", (long)r, (unsigned long)(dt / 1000));
    uint64_t target = time_ns() + 20 * MS;
    uput_ts(u, (int64_t)(target / SEC), (int64_t)(target % SEC));
    r = SC4(SYS_clock_nanosleep, 1, 1 /* TIMER_ABSTIME */, u, 0);
    uint64_t now = time_ns();
    ST_ASSERT(t, r == 0 && now >= target, "clock_nanosleep absolute: %ld, woke %ld us early", (long)r,
              (long)((int64_t)(target - now) / 1000));
    uput_ts(u, 0, 1);
    t0 = time_ns();
    r = SC4(SYS_clock_nanosleep, 0, 1, u, 0); /* 1970 on the realtime clock: at once */
    dt = time_ns() - t0;
    ST_ASSERT(t, r == 0 && dt < 50 * MS, "absolute realtime deadline in the past: %ld after %lu us", (long)r,
              (unsigned long)(dt / 1000));
}

SYS_TEST(nanosleep_bad_arguments) {
    static const struct kts bad[] = {{0, 1000000000}, {0, -1}, {-1, 0}, {1, INT64_MAX}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uput(u, &bad[i], sizeof bad[i]);
        int64_t r = SC2(SYS_nanosleep, u, 0), r2 = SC4(SYS_clock_nanosleep, 1, 0, u, 0);
        ST_ASSERT(t, r == -KEINVAL && r2 == -KEINVAL, "timespec {%ld, %ld}: nanosleep %ld, clock_nanosleep %ld",
                  (long)bad[i].sec, (long)bad[i].nsec, (long)r, (long)r2);
    }
    int64_t n = SC2(SYS_nanosleep, 0, 0), k = SC2(SYS_nanosleep, BAD_KERNEL, 0), l = SC2(SYS_nanosleep, BAD_LOW, 0);
    int64_t x = SC2(SYS_nanosleep, BAD_NONCANON - 8, 0);
    ST_ASSERT(t, n == -KEFAULT && k == -KEFAULT && l == -KEFAULT && x == -KEFAULT, "bad req pointers: %ld %ld %ld %ld",
              (long)n, (long)k, (long)l, (long)x);
    uput_ts(u, 0, 1000);
    int64_t c1 = SC4(SYS_clock_nanosleep, 3, 0, u, 0);  /* the calling thread's CPU clock */
    int64_t c2 = SC4(SYS_clock_nanosleep, 77, 0, u, 0);
    int64_t c3 = SC4(SYS_clock_nanosleep, 2, 0, u, 0);  /* process CPU clock: not supported */
    int64_t c4 = SC4(SYS_clock_nanosleep, 1, 0, BAD_KERNEL, 0);
    ST_ASSERT(t, c1 == -KEINVAL && c2 == -KEINVAL && c3 == -KENOTSUP && c4 == -KEFAULT,
              "clock_nanosleep bad clocks/pointer: %ld %ld %ld %ld", (long)c1, (long)c2, (long)c3, (long)c4);
}

static void clear_signals(struct process *p) {
    uint64_t fl = spin_lock_irqsave(&proc_lock); /* nothing delivers signals to a test task */
    uthread_current()->sig_pending = 0;
    p->sig_pending = 0;
    task_current()->sigpending = false;
    spin_unlock_irqrestore(&proc_lock, fl);
}

static int64_t signal_later(void *arg) {
    task_sleep_ns(30 * MS);
    return thread_signal(arg, SIGUSR1);
}

SYS_TEST(nanosleep_interrupted_writes_remaining_time) {
    struct process *p = proc_current();
    p->sigactions[SIGUSR1 - 1].handler = 0x10000; /* caught: the signal is posted, not discarded */
    tid_t id = task_create("st-sig-later", signal_later, task_current(), PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    uput_ts(u, 5, 0);
    uint64_t t0 = time_ns();
    int64_t r = SC2(SYS_nanosleep, u, u + 16);
    uint64_t dt = time_ns() - t0;
    int64_t ex = -1;
    task_join(id, &ex);
    struct kts rem;
    uget(&rem, u + 16, sizeof rem);
    clear_signals(p);
    ST_ASSERT(t, ex == 0, "thread_signal = %ld", (long)ex);
    ST_ASSERT(t, r == -KEINTR, "interrupted nanosleep = %ld after %lu ms", (long)r, (unsigned long)(dt / MS));
    ST_ASSERT(t, dt < 4 * SEC, "the signal did not end the sleep early (%lu ms)", (unsigned long)(dt / MS));
    int64_t left = rem.sec * (int64_t)SEC + rem.nsec;
    ST_ASSERT(t, left > 0 && left <= 5 * (int64_t)SEC && left >= 5 * (int64_t)SEC - (int64_t)dt - 50 * (int64_t)MS,
              "rem = %ld.%09ld after %lu ms of a 5 s sleep", (long)rem.sec, (long)rem.nsec, (unsigned long)(dt / MS));
}

/* ---- information ---- */

SYS_TEST(uname_fields) {
    char un[390];
    memset(un, 'x', sizeof un);
    uput(u, un, sizeof un);
    int64_t r = SC1(SYS_uname, u);
    uget(un, u, sizeof un);
    ST_ASSERT(t, r == 0, "uname = %ld", (long)r);
    ST_ASSERT(t, strcmp(un, "SABOS") == 0, "sysname '%.20s'", un);
    ST_ASSERT(t, strcmp(un + 65, "sabos") == 0, "nodename '%.20s'", un + 65);
    ST_ASSERT(t, strcmp(un + 130, "0.6.0") == 0, "release '%.20s'", un + 130);
    ST_ASSERT(t, un[195] != 0 && strnlen(un + 195, 65) < 65, "version empty or unterminated");
    ST_ASSERT(t, strcmp(un + 260, "x86_64") == 0, "machine '%.20s'", un + 260);
    ST_ASSERT(t, strcmp(un + 325, "(none)") == 0, "domainname '%.20s'", un + 325);
    int64_t b1 = SC1(SYS_uname, 0), b2 = SC1(SYS_uname, BAD_KERNEL), b3 = SC1(SYS_uname, u + UBUF_LEN - 100);
    ST_ASSERT(t, b1 == -KEFAULT && b2 == -KEFAULT && b3 == -KEFAULT, "bad pointers: %ld %ld %ld", (long)b1, (long)b2,
              (long)b3);
}

SYS_TEST(sysinfo_is_sane) {
    uint8_t si[112];
    memset(si, 0xee, sizeof si);
    uput(u, si, sizeof si);
    int64_t r = SC1(SYS_sysinfo, u);
    uget(si, u, sizeof si);
    int64_t uptime;
    uint64_t total, freeram;
    uint16_t procs;
    uint32_t unit;
    memcpy(&uptime, si, 8);
    memcpy(&total, si + 32, 8);
    memcpy(&freeram, si + 40, 8);
    memcpy(&procs, si + 80, 2);
    memcpy(&unit, si + 104, 4);
    ST_ASSERT(t, r == 0, "sysinfo = %ld", (long)r);
    ST_ASSERT(t, uptime >= 0 && (uint64_t)uptime <= time_ns() / SEC + 1, "uptime %ld", (long)uptime);
    ST_ASSERT(t, unit == 1 && total >= 16 * 1024 * 1024 && freeram > 0 && freeram <= total,
              "memory: total %lu free %lu unit %u", (unsigned long)total, (unsigned long)freeram, unit);
    ST_ASSERT(t, procs >= 1, "procs = %u", procs);
    ST_ASSERT(t, si[108] == 0 && si[111] == 0, "padding not zeroed");
    ST_ASSERT(t, SC1(SYS_sysinfo, BAD_LOW) == -KEFAULT && SC1(SYS_sysinfo, 0) == -KEFAULT, "bad pointer not EFAULT");
    /* sabos_meminfo agrees with sysinfo */
    uint64_t mi[4];
    r = SC1(SYS_sabos_meminfo, u);
    uget(mi, u, sizeof mi);
    ST_ASSERT(t, r == 0 && mi[0] * PAGE_SIZE == total && mi[1] > 0 && mi[2] > 0 && mi[3] > 0,
              "sabos_meminfo = %ld: %lu %lu %lu %lu", (long)r, (unsigned long)mi[0], (unsigned long)mi[1],
              (unsigned long)mi[2], (unsigned long)mi[3]);
    ST_ASSERT(t, SC1(SYS_sabos_meminfo, BAD_KERNEL) == -KEFAULT, "sabos_meminfo bad pointer");
}

SYS_TEST(getrandom_fills_and_checks) {
    uint8_t a[256], b[256], zero[256];
    memset(zero, 0, sizeof zero);
    uput(u, zero, sizeof zero);
    uput(u + 256, zero, sizeof zero);
    int64_t r1 = SC3(SYS_getrandom, u, 256, 0), r2 = SC3(SYS_getrandom, u + 256, 256, 1 /* GRND_NONBLOCK */);
    uget(a, u, sizeof a);
    uget(b, u + 256, sizeof b);
    ST_ASSERT(t, r1 == 256 && r2 == 256, "getrandom = %ld, %ld", (long)r1, (long)r2);
    ST_ASSERT(t, memcmp(a, zero, sizeof a) != 0, "all zero");
    ST_ASSERT(t, memcmp(a, b, sizeof a) != 0, "two calls gave the same bytes");
    int64_t big = SC3(SYS_getrandom, u, 20000, 4 /* GRND_INSECURE */);
    ST_ASSERT(t, big == 20000, "20000 bytes: %ld", (long)big);
    ST_ASSERT(t, SC3(SYS_getrandom, u, 0, 0) == 0, "len 0");
    ST_ASSERT(t, SC3(SYS_getrandom, u, 16, 2) == 16, "GRND_RANDOM refused");
    int64_t f1 = SC3(SYS_getrandom, u, 16, 8), f2 = SC3(SYS_getrandom, u, 16, 6), f3 = SC3(SYS_getrandom, u, 16, 1u << 31);
    int64_t f4 = SC3(SYS_getrandom, u, 16, 1ull << 32); /* flags is an unsigned int: upper half ignored */
    ST_ASSERT(t, f1 == -KEINVAL && f2 == -KEINVAL && f3 == -KEINVAL && f4 == 16, "bad flags: %ld %ld %ld %ld", (long)f1,
              (long)f2, (long)f3, (long)f4);
    int64_t p1 = SC3(SYS_getrandom, 0, 16, 0), p2 = SC3(SYS_getrandom, BAD_KERNEL, 16, 0);
    int64_t p3 = SC3(SYS_getrandom, BAD_NONCANON - 8, 16, 0); /* crosses USER_TOP */
    ST_ASSERT(t, p1 == -KEFAULT && p2 == -KEFAULT && p3 == -KEFAULT, "bad buffers: %ld %ld %ld", (long)p1, (long)p2, (long)p3);
    /* a huge length is capped, and the bytes up to the unmapped page are returned */
    int64_t huge = SC3(SYS_getrandom, u, ~0ull, 0);
    ST_ASSERT(t, huge == UBUF_LEN, "getrandom(len ~0) up to the end of the mapping = %ld", (long)huge);
    /* the end of the mapping: the first chunk fails, so nothing is returned */
    int64_t edge = SC3(SYS_getrandom, u + UBUF_LEN - 16, 64, 0);
    ST_ASSERT(t, edge == -KEFAULT, "buffer running off the mapping: %ld", (long)edge);
}

SYS_TEST(prlimit_nofile_get_and_set) {
    uint64_t rl[2] = {0, 0};
    int64_t r = SC4(SYS_prlimit64, 0, 7 /* RLIMIT_NOFILE */, 0, u);
    uget(rl, u, sizeof rl);
    ST_ASSERT(t, r == 0 && rl[0] == FD_MAX && rl[1] == FD_MAX, "NOFILE = %ld {%lu, %lu}", (long)r, (unsigned long)rl[0],
              (unsigned long)rl[1]);
    uint64_t nl[2] = {64, FD_MAX};
    uput(u + 16, nl, sizeof nl);
    r = SC4(SYS_prlimit64, proc_current()->pid, 7, u + 16, u);
    uget(rl, u, sizeof rl);
    ST_ASSERT(t, r == 0 && rl[0] == FD_MAX, "set NOFILE 64: %ld, old cur %lu", (long)r, (unsigned long)rl[0]);
    ST_ASSERT(t, proc_current()->rlimit_nofile == 64, "rlimit_nofile = %lu", (unsigned long)proc_current()->rlimit_nofile);
    r = SC2(SYS_getrlimit, 7, u);
    uget(rl, u, sizeof rl);
    ST_ASSERT(t, r == 0 && rl[0] == 64 && rl[1] == FD_MAX, "getrlimit after set: %ld {%lu, %lu}", (long)r,
              (unsigned long)rl[0], (unsigned long)rl[1]);
    uint64_t too_big[2] = {FD_MAX + 1, FD_MAX + 1}, inverted[2] = {10, 5}, inf[2] = {~0ull, ~0ull};
    uput(u + 16, too_big, 16);
    int64_t e1 = SC2(SYS_setrlimit, 7, u + 16);
    uput(u + 16, inverted, 16);
    int64_t e2 = SC2(SYS_setrlimit, 7, u + 16);
    uput(u + 16, inf, 16);
    int64_t e3 = SC2(SYS_setrlimit, 3 /* STACK */, u + 16);
    int64_t e4 = SC2(SYS_getrlimit, 16, u), e5 = SC2(SYS_getrlimit, 7, BAD_KERNEL), e6 = SC2(SYS_setrlimit, 7, BAD_LOW);
    int64_t e7 = SC4(SYS_prlimit64, 999999, 7, 0, u);
    ST_ASSERT(t, e1 == -KEPERM && e2 == -KEINVAL && e3 == -KEPERM, "bad sets: %ld %ld %ld", (long)e1, (long)e2, (long)e3);
    ST_ASSERT(t, e4 == -KEINVAL && e5 == -KEFAULT && e6 == -KEFAULT && e7 == -KESRCH, "bad args: %ld %ld %ld %ld",
              (long)e4, (long)e5, (long)e6, (long)e7);
    r = SC2(SYS_getrlimit, 3, u);
    uget(rl, u, sizeof rl);
    ST_ASSERT(t, r == 0 && rl[0] == 8ull << 20, "STACK = %ld {%lu}", (long)r, (unsigned long)rl[0]);
    r = SC2(SYS_getrlimit, 9 /* AS */, u);
    uget(rl, u, sizeof rl);
    ST_ASSERT(t, r == 0 && rl[0] == ~0ull && rl[1] == ~0ull, "AS not infinite");
}

SYS_TEST(times_getrusage_sched_yield) {
    ST_ASSERT(t, SC0(SYS_sched_yield) == 0, "sched_yield");
    int64_t ticks = SC1(SYS_times, u);
    int64_t tms[4];
    uget(tms, u, sizeof tms);
    ST_ASSERT(t, ticks >= 0 && (uint64_t)ticks <= time_ns() / (SEC / 100), "times = %ld", (long)ticks);
    ST_ASSERT(t, tms[0] >= 0 && tms[1] >= 0 && tms[2] == 0 && tms[3] == 0, "tms %ld %ld %ld %ld", (long)tms[0],
              (long)tms[1], (long)tms[2], (long)tms[3]);
    ST_ASSERT(t, SC1(SYS_times, 0) >= 0 && SC1(SYS_times, BAD_KERNEL) == -KEFAULT, "times NULL/bad");
    int64_t ru[18];
    int64_t r = SC2(SYS_getrusage, 0, u);
    uget(ru, u, sizeof ru);
    ST_ASSERT(t, r == 0 && (ru[0] > 0 || ru[1] > 0) && ru[1] < 1000000, "getrusage = %ld utime %ld.%06ld", (long)r,
              (long)ru[0], (long)ru[1]);
    int64_t c = SC2(SYS_getrusage, -1, u), th = SC2(SYS_getrusage, 1, u);
    int64_t bad = SC2(SYS_getrusage, 5, u), badp = SC2(SYS_getrusage, 0, BAD_LOW);
    ST_ASSERT(t, c == 0 && th == 0 && bad == -KEINVAL && badp == -KEFAULT, "getrusage who/pointers: %ld %ld %ld %ld",
              (long)c, (long)th, (long)bad, (long)badp);
}

/* ---- futex ---- */

#define FW(op) ((uint64_t)(op) | FUTEX_PRIVATE_FLAG)

SYS_TEST(futex_wait_value_mismatch_is_eagain) {
    uint32_t v = 5;
    uput(u + 64, &v, 4);
    uint64_t t0 = time_ns();
    int64_t r = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 6, 0);
    uint64_t dt = time_ns() - t0;
    ST_ASSERT(t, r == -KEAGAIN, "FUTEX_WAIT with a different value = %ld", (long)r);
    ST_ASSERT(t, dt < 100 * MS, "took %lu ms", (unsigned long)(dt / MS));
    ST_ASSERT(t, futex_waiter_count() == 0, "a waiter was left queued");
}

SYS_TEST(futex_wait_timeout_is_etimedout) {
    uint32_t v = 5;
    uput(u + 64, &v, 4);
    uput_ts(u, 0, 30 * (int64_t)MS);
    uint64_t t0 = time_ns();
    int64_t r = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 5, u);
    uint64_t dt = time_ns() - t0;
    ST_ASSERT(t, r == -KETIMEDOUT, "FUTEX_WAIT 30 ms = %ld", (long)r);
    ST_ASSERT(t, dt >= 30 * MS && dt < 2 * SEC, "timed out after %lu us", (unsigned long)(dt / 1000));
    /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline: one in the past times out at once */
    uput_ts(u, 0, 1);
    r = SC6(SYS_futex, u + 64, FW(FUTEX_WAIT_BITSET), 5, u, 0, FUTEX_BITSET_MATCH_ANY);
    ST_ASSERT(t, r == -KETIMEDOUT, "WAIT_BITSET with a past deadline = %ld", (long)r);
    uint64_t target = time_ns() + 20 * MS;
    uput_ts(u, (int64_t)(target / SEC), (int64_t)(target % SEC));
    r = SC6(SYS_futex, u + 64, FW(FUTEX_WAIT_BITSET), 5, u, 0, FUTEX_BITSET_MATCH_ANY);
    ST_ASSERT(t, r == -KETIMEDOUT && time_ns() >= target, "WAIT_BITSET absolute 20 ms = %ld", (long)r);
    ST_ASSERT(t, futex_waiter_count() == 0, "a waiter was left queued");
}

SYS_TEST(futex_bad_arguments) {
    uint32_t v = 5;
    uput(u + 64, &v, 4);
    int64_t w0 = SC3(SYS_futex, u + 64, FW(FUTEX_WAKE), 1);
    int64_t m1 = SC4(SYS_futex, u + 66, FW(FUTEX_WAIT), 5, 0), m2 = SC3(SYS_futex, u + 65, FW(FUTEX_WAKE), 1);
    ST_ASSERT(t, w0 == 0, "WAKE without waiters = %ld", (long)w0);
    ST_ASSERT(t, m1 == -KEINVAL && m2 == -KEINVAL, "misaligned: %ld %ld", (long)m1, (long)m2);
    int64_t o1 = SC3(SYS_futex, u + 64, 99, 1), o2 = SC3(SYS_futex, u + 64, FUTEX_LOCK_PI, 1);
    int64_t o3 = SC3(SYS_futex, u + 64, FUTEX_FD, 1), o4 = SC3(SYS_futex, u + 64, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1);
    ST_ASSERT(t, o1 == -KENOSYS && o2 == -KENOSYS && o3 == -KENOSYS && o4 == -KENOSYS, "bad ops: %ld %ld %ld %ld",
              (long)o1, (long)o2, (long)o3, (long)o4);
    int64_t b1 = SC6(SYS_futex, u + 64, FW(FUTEX_WAIT_BITSET), 5, 0, 0, 0);
    int64_t b2 = SC6(SYS_futex, u + 64, FW(FUTEX_WAKE_BITSET), 1, 0, 0, 0);
    ST_ASSERT(t, b1 == -KEINVAL && b2 == -KEINVAL, "bitset 0: %ld %ld", (long)b1, (long)b2);
    int64_t f1 = SC4(SYS_futex, BAD_LOW, FW(FUTEX_WAIT), 5, 0), f2 = SC4(SYS_futex, BAD_KERNEL, FW(FUTEX_WAIT), 5, 0);
    int64_t f3 = SC4(SYS_futex, u + UBUF_LEN + 0x100000, FW(FUTEX_WAIT), 0, 0); /* in range, unmapped */
    int64_t f4 = SC3(SYS_futex, BAD_KERNEL, FW(FUTEX_WAKE), 1);
    ST_ASSERT(t, f1 == -KEFAULT && f2 == -KEFAULT && f3 == -KEFAULT && f4 == -KEFAULT, "bad addresses: %ld %ld %ld %ld",
              (long)f1, (long)f2, (long)f3, (long)f4);
    uput_ts(u, 0, 1000000000);
    int64_t t1 = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 5, u), t2 = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 5, BAD_KERNEL);
    uput_ts(u, -1, 0);
    int64_t t3 = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 5, u);
    ST_ASSERT(t, t1 == -KEINVAL && t2 == -KEFAULT && t3 == -KEINVAL, "bad timeouts: %ld %ld %ld", (long)t1, (long)t2, (long)t3);
    int64_t q1 = SC6(SYS_futex, u + 64, FW(FUTEX_CMP_REQUEUE), 1, 1, u + 128, 4); /* *uaddr is 5, not 4 */
    int64_t q2 = SC6(SYS_futex, u + 64, FW(FUTEX_REQUEUE), 1, 1, u + 130, 0);
    int64_t q3 = SC6(SYS_futex, u + 64, FW(FUTEX_REQUEUE), (uint64_t)-1, 1, u + 128, 0);
    int64_t q4 = SC6(SYS_futex, u + 64, FW(FUTEX_CMP_REQUEUE), 1, 1, u + 128, 5);
    ST_ASSERT(t, q1 == -KEAGAIN && q2 == -KEINVAL && q3 == -KEINVAL && q4 == 0, "requeue checks: %ld %ld %ld %ld",
              (long)q1, (long)q2, (long)q3, (long)q4);
    ST_ASSERT(t, futex_waiter_count() == 0, "a waiter was left queued");
}

SYS_TEST(futex_wake_op_updates_word) {
    uint32_t w1 = 0, w2 = 10;
    uput(u + 64, &w1, 4);
    uput(u + 128, &w2, 4);
    /* op ADD 5, compare old == 10: *uaddr2 becomes 15, no waiters to wake */
    uint32_t enc = (1u << 28) | (0u << 24) | (5u << 12) | 10u;
    int64_t r = SC6(SYS_futex, u + 64, FW(FUTEX_WAKE_OP), 1, 1, u + 128, enc);
    uget(&w2, u + 128, 4);
    ST_ASSERT(t, r == 0 && w2 == 15, "WAKE_OP ADD: %ld, word %u", (long)r, w2);
    enc = (4u << 28) | (9u << 24); /* cmp 9: unknown */
    r = SC6(SYS_futex, u + 64, FW(FUTEX_WAKE_OP), 1, 1, u + 128, enc);
    ST_ASSERT(t, r == -KENOSYS, "WAKE_OP with a bad comparison = %ld", (long)r);
    r = SC6(SYS_futex, u + 64, FW(FUTEX_WAKE_OP), 1, 1, BAD_KERNEL, 0);
    ST_ASSERT(t, r == -KEFAULT, "WAKE_OP with a bad uaddr2 = %ld", (long)r);
}

SYS_TEST(futex_wait_interrupted_by_signal) {
    struct process *p = proc_current();
    p->sigactions[SIGUSR1 - 1].handler = 0x10000;
    uint32_t v = 3;
    uput(u + 64, &v, 4);
    tid_t id = task_create("st-sig-later", signal_later, task_current(), PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    uput_ts(u, 5, 0);
    uint64_t t0 = time_ns();
    int64_t r = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 3, u);
    uint64_t dt = time_ns() - t0;
    task_join(id, NULL);
    int queued = futex_waiter_count();
    /* a signal already pending: the wait and a sleep end at once */
    t0 = time_ns();
    int64_t r2 = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 3, 0);
    int64_t r3 = SC2(SYS_nanosleep, u, u + 16);
    uint64_t dt2 = time_ns() - t0;
    struct kts rem;
    uget(&rem, u + 16, sizeof rem);
    clear_signals(p);
    ST_ASSERT(t, r == -KEINTR && dt < 4 * SEC, "FUTEX_WAIT interrupted = %ld after %lu ms", (long)r,
              (unsigned long)(dt / MS));
    ST_ASSERT(t, queued == 0, "the interrupted waiter is still queued");
    ST_ASSERT(t, r2 == -KEINTR && r3 == -KEINTR && dt2 < SEC, "with a signal pending: futex %ld, nanosleep %ld, %lu ms",
              (long)r2, (long)r3, (unsigned long)(dt2 / MS));
    ST_ASSERT(t, rem.sec == 4 || rem.sec == 5, "rem after an at-once interruption = %ld.%09ld", (long)rem.sec,
              (long)rem.nsec);
}

struct waker_arg {
    struct uvm *vm;
    uint64_t uaddr;
    int woken;
};

static int64_t wake_later(void *arg) {
    struct waker_arg *w = arg;
    uint64_t end = time_ns() + 2 * SEC;
    while (futex_waiter_count() == 0 && time_ns() < end) task_sleep_ns(MS);
    task_sleep_ns(10 * MS);
    w->woken = futex_wake(w->vm, w->uaddr, 1);
    return 0;
}

SYS_TEST(futex_wake_wakes_a_waiter) {
    uint32_t v = 1;
    uput(u + 64, &v, 4);
    struct waker_arg wa = {proc_current()->vm, u + 64, -99};
    tid_t id = task_create("st-futex-wake", wake_later, &wa, PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    uput_ts(u, 3, 0);
    uint64_t t0 = time_ns();
    int64_t r = SC4(SYS_futex, u + 64, FW(FUTEX_WAIT), 1, u);
    uint64_t dt = time_ns() - t0;
    task_join(id, NULL);
    ST_ASSERT(t, wa.woken == 1, "futex_wake woke %d", wa.woken);
    ST_ASSERT(t, r == 0 && dt < 3 * SEC, "FUTEX_WAIT = %ld after %lu ms", (long)r, (unsigned long)(dt / MS));
    ST_ASSERT(t, futex_wake(wa.vm, u + 64, 1) == 0 && futex_wake(wa.vm, u + 66, 1) == -KEINVAL, "futex_wake afterwards");
    ST_ASSERT(t, futex_waiter_count() == 0, "a waiter was left queued");
}

/* A second thread of the test process that waits on a futex through the system call. */
struct waiter_arg {
    struct process *p;
    uint64_t uaddr, uts;
    uint32_t val;
    int64_t result;
};

static int64_t wait_thread(void *arg) {
    struct waiter_arg *w = arg;
    struct uthread *ut = thread_join_process(w->p);
    if (!ut) return -KENOMEM;
    w->result = syscall_invoke(SYS_futex, w->uaddr, FW(FUTEX_WAIT), w->val, w->uts, 0, 0);
    thread_leave_process(ut);
    return 0;
}

static bool wait_for_waiters(int n) {
    uint64_t end = time_ns() + 2 * SEC;
    while (futex_waiter_count() < n && time_ns() < end) task_sleep_ns(MS);
    return futex_waiter_count() >= n;
}

SYS_TEST_TIMEOUT(futex_requeue_moves_waiters, 20000) {
    uint32_t a = 7, b = 0;
    uput(u + 64, &a, 4);
    uput(u + 128, &b, 4);
    uput_ts(u, 5, 0);
    struct waiter_arg w1 = {proc_current(), u + 64, u, 7, -99}, w2 = w1;
    tid_t id1 = task_create("st-futex-w1", wait_thread, &w1, PRIO_NORMAL);
    tid_t id2 = task_create("st-futex-w2", wait_thread, &w2, PRIO_NORMAL);
    bool queued = wait_for_waiters(2);
    /* wake none, move both to u+128 (CMP_REQUEUE: returns woken + requeued) */
    int64_t moved = SC6(SYS_futex, u + 64, FW(FUTEX_CMP_REQUEUE), 0, 2, u + 128, 7);
    int64_t on_a = SC3(SYS_futex, u + 64, FW(FUTEX_WAKE), 10);
    int64_t woke1 = SC3(SYS_futex, u + 128, FW(FUTEX_WAKE), 1);
    /* the second one: REQUEUE back to u+64 and wake it there through the bitset call */
    task_sleep_ns(5 * MS);
    int64_t rq = SC6(SYS_futex, u + 128, FW(FUTEX_REQUEUE), 0, 1, u + 64, 0);
    int64_t woke2 = SC6(SYS_futex, u + 64, FW(FUTEX_WAKE_BITSET), 5, 0, 0, FUTEX_BITSET_MATCH_ANY);
    if (id1 >= 0) task_join(id1, NULL);
    if (id2 >= 0) task_join(id2, NULL);
    ST_ASSERT(t, id1 >= 0 && id2 >= 0, "task_create = %d %d", id1, id2);
    ST_ASSERT(t, queued, "the waiter threads never queued");
    ST_ASSERT(t, moved == 2 && on_a == 0, "CMP_REQUEUE = %ld, then WAKE on the old word = %ld", (long)moved, (long)on_a);
    ST_ASSERT(t, woke1 == 1 && rq == 0 && woke2 == 1, "wake on new word %ld, REQUEUE back %ld, WAKE_BITSET %ld",
              (long)woke1, (long)rq, (long)woke2);
    ST_ASSERT(t, w1.result == 0 && w2.result == 0, "waiters returned %ld %ld", (long)w1.result, (long)w2.result);
    ST_ASSERT(t, futex_waiter_count() == 0, "a waiter was left queued");
}

/* ---- procfs: the test process's own entries ---- */

static bool contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0) return true;
    return false;
}

static int64_t read_file(const struct vfs_ctx *ctx, const char *path, char *buf, size_t cap) {
    struct vfs_file *f;
    int r = vfs_open(ctx, path, O_RDONLY, 0, &f);
    if (r < 0) return r;
    int64_t len = 0;
    while ((size_t)len + 1 < cap) {
        int64_t n = vfs_read(f, buf + len, MIN((size_t)37, cap - 1 - (size_t)len)); /* odd-sized reads */
        if (n < 0) {
            vfs_close(f);
            return n;
        }
        if (n == 0) break;
        len += n;
    }
    vfs_close(f);
    buf[len] = 0;
    return len;
}

/* Splits /proc/PID/stat: "pid (comm) state f4 ... f52". Returns the number of fields, with
 * the comm and the fields after it (as numbers) in out (out[0] = field 3's char). */
static int parse_stat(const char *s, char *comm, size_t comm_cap, int64_t *out, int max) {
    const char *open = strchr(s, '('), *close = NULL;
    for (const char *p = s; *p; p++)
        if (*p == ')') close = p;
    if (!open || !close || close < open || close[1] != ' ') return -1;
    size_t n = MIN((size_t)(close - open - 1), comm_cap - 1);
    memcpy(comm, open + 1, n);
    comm[n] = 0;
    int fields = 2;
    const char *p = close + 2;
    out[0] = *p;
    if (!*p) return -1;
    p++;
    fields++;
    while (*p == ' ') {
        p++;
        bool neg = *p == '-';
        if (neg) p++;
        if (*p < '0' || *p > '9') return -1;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
        if (fields - 2 < max) out[fields - 2] = neg ? -v : v;
        fields++;
    }
    return *p == '\n' && p[1] == 0 ? fields : -1;
}

SYS_TEST(procfs_pid_stat_status_and_readdir) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    ST_ASSERT(t, r == 0, "mounting procfs: %d", r);
    struct vfs_ctx ctx = {m->root, m->root};
    struct process *p = proc_current();
    uint8_t touch = 1;
    uput(u, &touch, 1); /* one resident page at least */
    char path[32], *buf = kmalloc(4096);
    char comm[32];
    int64_t f[64];
    ksnprintf(path, sizeof path, "/%d/stat", p->pid);
    int64_t n = buf ? read_file(&ctx, path, buf, 4096) : -KENOMEM;
    int fields = n > 0 ? parse_stat(buf, comm, sizeof comm, f, 64) : -1;
#define FIELD(n) f[(n) - 3] /* proc(5) numbers fields from 1; f[0] is field 3, the state */
    bool stat_ok = fields == 52 && strcmp(comm, "selftest") == 0 && (FIELD(3) == 'R' || FIELD(3) == 'S') &&
                   FIELD(5) == p->pgid && FIELD(6) == p->sid && FIELD(20) == 1 && FIELD(8) == -1;
    char self_stat[512] = "";
    int64_t n2 = buf ? read_file(&ctx, "/self/stat", self_stat, sizeof self_stat) : -1;
    bool self_same = n2 > 0 && strncmp(self_stat, buf, 16) == 0;
    int64_t n3 = buf ? read_file(&ctx, "/self/status", buf, 4096) : -1;
    char want[64];
    ksnprintf(want, sizeof want, "\nPid:\t%d\nPPid:\t", p->pid);
    bool status_ok = n3 > 0 && strncmp(buf, "Name:\tselftest\n", 15) == 0 && contains(buf, want) &&
                     contains(buf, "\nVmRSS:\t") && contains(buf, "\nState:\t");
    int64_t cl = buf ? read_file(&ctx, "/self/cmdline", buf, 4096) : -1;
    bool cmdline_ok = cl == 9 && memcmp(buf, "selftest", 9) == 0;
    struct vnode *vn = NULL;
    int missing = vfs_lookup(&ctx, "/999999/stat", &vn), leading0 = -1, bad_file = -1;
    if (missing == 0) vnode_put(vn);
    ksnprintf(path, sizeof path, "/0%d", p->pid);
    leading0 = vfs_lookup(&ctx, path, &vn);
    if (leading0 == 0) vnode_put(vn);
    bad_file = vfs_lookup(&ctx, "/self/nope", &vn);
    if (bad_file == 0) vnode_put(vn);
    /* readdir of /proc lists the pid and "self"; readdir of /proc/self lists stat */
    bool saw_pid = false, saw_self = false, saw_meminfo = false, saw_stat = false;
    char pidname[16];
    ksnprintf(pidname, sizeof pidname, "%d", p->pid);
    struct vfs_file *d = NULL;
    struct vfs_dirent *de = kmalloc(sizeof *de);
    int entries = 0;
    if (de && vfs_open(&ctx, "/", O_RDONLY | O_DIRECTORY, 0, &d) == 0) {
        while (vfs_readdir(d, de) == 1 && entries++ < 1000) {
            if (strcmp(de->name, pidname) == 0) saw_pid = de->type == S_IFDIR;
            if (strcmp(de->name, "self") == 0) saw_self = true;
            if (strcmp(de->name, "meminfo") == 0) saw_meminfo = true;
        }
        vfs_close(d);
    }
    if (de && vfs_open(&ctx, "/self", O_RDONLY | O_DIRECTORY, 0, &d) == 0) {
        while (vfs_readdir(d, de) == 1)
            if (strcmp(de->name, "stat") == 0) saw_stat = true;
        vfs_close(d);
    }
    kfree(de);
    char stat_copy[200];
    strlcpy(stat_copy, buf ? self_stat : "", sizeof stat_copy);
    kfree(buf);
    int um = vfs_umount(m);
    ST_ASSERT(t, n > 0, "reading %s: %ld", path, (long)n);
    ST_ASSERT(t, stat_ok, "stat has %d fields (want 52), comm '%s': %s", fields, comm, stat_copy);
    ST_ASSERT(t, self_same, "/self/stat differs from /PID/stat (%ld)", (long)n2);
    ST_ASSERT(t, status_ok, "status lacks Name/Pid/PPid/VmRSS/State (%ld)", (long)n3);
    ST_ASSERT(t, cmdline_ok, "cmdline = %ld bytes", (long)cl);
    ST_ASSERT(t, missing == -KENOENT && leading0 == -KENOENT && bad_file == -KENOENT, "lookups: %d %d %d", missing,
              leading0, bad_file);
    ST_ASSERT(t, saw_pid && saw_self && saw_meminfo, "readdir of /proc: pid %d self %d meminfo %d", saw_pid, saw_self,
              saw_meminfo);
    ST_ASSERT(t, saw_stat, "readdir of /proc/self has no stat");
    ST_ASSERT(t, um == 0, "umount = %d (a per-process vnode leaked?)", um);
}

/* ---- end to end: the musl programs that read these calls and files ---- */

static char e2e_out[8192];

/* Runs path with argv (stdout and stderr into a pipe) and waits for it (bounded); returns the
 * wait status or a negative error; the output lands in e2e_out. */
static int run_user(const char *path, const char *const argv[]) {
    static const char *const envp[] = {"PATH=/bin", "HOME=/", NULL};
    int status = -1;
    int r = proc_run_capture(path, argv, envp, e2e_out, sizeof e2e_out, NULL, 30 * SEC, &status);
    return r < 0 ? r : status;
}

SELFTEST_TIMEOUT(sys_misc, user_programs_use_them, 120000) {
    const char *un[] = {"uname", "-a", NULL};
    int s = run_user("/bin/uname", un);
    ST_ASSERT(t, s == 0 && strncmp(e2e_out, "SABOS sabos 0.6.0 #1", 20) == 0 && contains(e2e_out, " x86_64\n"),
              "uname -a: status %#x, output '%s'", s, e2e_out);
    const char *dt[] = {"date", "+%Y", NULL};
    s = run_user("/bin/date", dt);
    ST_ASSERT(t, s == 0 && strncmp(e2e_out, "20", 2) == 0 && strcmp(e2e_out, "2024\n") >= 0,
              "date +%%Y: status %#x, output '%s'", s, e2e_out);
    const char *sl[] = {"sleep", "0.05", NULL};
    uint64_t t0 = time_ns();
    s = run_user("/bin/sleep", sl);
    uint64_t dt_ns = time_ns() - t0;
    ST_ASSERT(t, s == 0 && dt_ns >= 50 * MS, "sleep 0.05: status %#x after %lu ms, output '%s'", s,
              (unsigned long)(dt_ns / MS), e2e_out);
    const char *fr[] = {"free", NULL};
    s = run_user("/bin/free", fr);
    ST_ASSERT(t, s == 0 && contains(e2e_out, "\nMem:") && contains(e2e_out, "\nSwap:"), "free: status %#x, output '%s'", s,
              e2e_out);
    const char *up[] = {"uptime", NULL};
    s = run_user("/bin/uptime", up);
    ST_ASSERT(t, s == 0 && contains(e2e_out, " up "), "uptime: status %#x, output '%s'", s, e2e_out);
    const char *mt[] = {"mount", NULL};
    s = run_user("/bin/mount", mt);
    ST_ASSERT(t, s == 0 && contains(e2e_out, " on /proc type procfs (rw)\n"), "mount: status %#x, output '%s'", s, e2e_out);
    const char *ps[] = {"ps", NULL};
    s = run_user("/bin/ps", ps);
    ST_ASSERT(t, s == 0 && contains(e2e_out, "PID") && contains(e2e_out, " ps\n") && !contains(e2e_out, "malformed"),
              "ps: status %#x, output '%s'", s, e2e_out);
    const char *df[] = {"df", NULL};
    s = run_user("/bin/df", df);
    ST_ASSERT(t, s == 0 && contains(e2e_out, " /tmp\n"), "df: status %#x, output '%s'", s, e2e_out);
}
