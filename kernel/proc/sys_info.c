/* sys_info.c: information and resource system calls: uname, sysinfo, getrlimit, setrlimit,
 * prlimit64, getrandom, getrusage, times, sched_yield, and SABOS's sabos_meminfo.
 *
 * Follows Linux man-pages uname(2), sysinfo(2), getrlimit(2) (prlimit64), getrandom(2),
 * getrusage(2), times(2), sched_yield(2) with the Linux x86-64 structure layouts
 * (linux/utsname.h new_utsname, linux/sysinfo.h, asm-generic/resource.h, linux/resource.h
 * struct rusage, linux/times.h struct tms with USER_HZ = 100).
 *
 * Resource limits are fixed by the kernel's tables (FD_MAX, PROC_MAX, the 8 MiB stack, no
 * core dumps); only RLIMIT_NOFILE can be changed (process->rlimit_nofile, up to FD_MAX).
 * Lowering another limit is accepted and has no effect; raising one above the table is
 * -EPERM.
 *
 * sabos_meminfo (SYS_sabos_meminfo = 1010) fills
 *     struct sabos_meminfo { uint64_t total_frames, free_frames, heap_bytes, heap_allocations; }
 * (4 KiB frames from the physical allocator, bytes and live allocations of the kernel heap),
 * so user tests can check that a run leaks nothing. */
#include "syscall.h"
#include "proc.h"
#include "uaccess.h"
#include "uvm.h"
#include "sched.h"
#include "time.h"
#include "cpu.h"
#include "mm.h"
#include "vfs.h"
#include "kstring.h"
#include "kerrno.h"
#include "proc_internal.h"

#define NSEC_PER_SEC 1000000000ull
#define USER_HZ 100ull /* clock ticks of times() and /proc/PID/stat (sysconf(_SC_CLK_TCK)) */

/* ---- uname ---- */

#define UTS_LEN 65
struct k_utsname {
    char sysname[UTS_LEN], nodename[UTS_LEN], release[UTS_LEN], version[UTS_LEN], machine[UTS_LEN],
        domainname[UTS_LEN];
};
_Static_assert(sizeof(struct k_utsname) == 390, "struct new_utsname is 6 x 65 bytes");

/* uname(struct utsname *buf) */
SYSCALL(SYS_uname, uname) {
    struct k_utsname u;
    memset(&u, 0, sizeof u);
    strlcpy(u.sysname, "SABOS", UTS_LEN);
    strlcpy(u.nodename, "sabos", UTS_LEN);
    strlcpy(u.release, "0.6.0", UTS_LEN);
    strlcpy(u.version, "#1 SABOS-C " __DATE__ " " __TIME__, UTS_LEN);
    strlcpy(u.machine, "x86_64", UTS_LEN);
    strlcpy(u.domainname, "(none)", UTS_LEN);
    return copy_to_user((void *)(uintptr_t)a0, &u, sizeof u) < 0 ? -KEFAULT : 0;
}

/* ---- sysinfo ---- */

struct k_sysinfo {
    int64_t uptime;
    uint64_t loads[3];
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs, pad;
    uint32_t pad2;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char _f[4];
};
_Static_assert(sizeof(struct k_sysinfo) == 112, "struct sysinfo is 112 bytes on x86-64");

/* sysinfo(struct sysinfo *info): memory in bytes (mem_unit 1), no swap, load averages 0. */
SYSCALL(SYS_sysinfo, sysinfo) {
    struct pmm_stats ps;
    pmm_get_stats(&ps);
    struct k_sysinfo si;
    memset(&si, 0, sizeof si);
    uint64_t now = time_ns();
    si.uptime = (int64_t)(now / NSEC_PER_SEC + (now % NSEC_PER_SEC ? 1 : 0)); /* rounded up, as Linux */
    si.totalram = ps.total_frames * PAGE_SIZE;
    si.freeram = ps.free_frames * PAGE_SIZE;
    int n = proc_count();
    si.procs = (uint16_t)(n > 0xffff ? 0xffff : n);
    si.mem_unit = 1;
    return copy_to_user((void *)(uintptr_t)a0, &si, sizeof si) < 0 ? -KEFAULT : 0;
}

/* ---- resource limits ---- */

#define RLIMIT_CPU 0
#define RLIMIT_FSIZE 1
#define RLIMIT_DATA 2
#define RLIMIT_STACK 3
#define RLIMIT_CORE 4
#define RLIMIT_NPROC 6
#define RLIMIT_NOFILE 7
#define RLIMIT_AS 9
#define RLIMIT_SIGPENDING 11
#define RLIMIT_NICE 13
#define RLIMIT_RTPRIO 14
#define RLIM_NLIMITS 16
#define RLIM_INFINITY (~0ull)

struct k_rlimit {
    uint64_t cur, max;
};

/* The limits of p for resource res: 0, or -KEINVAL for an unknown resource. */
static int rlimit_get(const struct process *p, uint32_t res, struct k_rlimit *out) {
    if (res >= RLIM_NLIMITS) return -KEINVAL;
    switch (res) {
    case RLIMIT_NOFILE:
        out->max = FD_MAX;
        out->cur = p->rlimit_nofile && p->rlimit_nofile < FD_MAX ? p->rlimit_nofile : FD_MAX;
        break;
    case RLIMIT_STACK: out->cur = out->max = USER_STACK_MAX; break;
    case RLIMIT_NPROC: out->cur = out->max = PROC_MAX; break;
    case RLIMIT_SIGPENDING: out->cur = out->max = NSIG_K; break;
    case RLIMIT_CORE:
    case RLIMIT_NICE:
    case RLIMIT_RTPRIO: out->cur = out->max = 0; break;
    default: out->cur = out->max = RLIM_INFINITY; break; /* CPU, FSIZE, DATA, AS, MEMLOCK, ... */
    }
    return 0;
}

/* Applies new limits to p: 0, -KEINVAL (cur > max), -KEPERM (above what the kernel has). */
static int rlimit_set(struct process *p, uint32_t res, const struct k_rlimit *nl) {
    struct k_rlimit old;
    int r = rlimit_get(p, res, &old);
    if (r < 0) return r;
    if (nl->cur > nl->max) return -KEINVAL;
    if (res == RLIMIT_NOFILE) {
        if (nl->max > FD_MAX) return -KEPERM;
        p->rlimit_nofile = nl->cur;
        return 0;
    }
    if (nl->cur > old.max || nl->max > old.max) return -KEPERM;
    return 0; /* lower than the kernel's own limit: accepted, not enforced */
}

/* prlimit64 for pid (0 = the caller): new limits from unew (may be 0), old ones to uold. */
static int64_t do_prlimit(int32_t pid, uint32_t res, uint64_t unew, uint64_t uold) {
    struct k_rlimit nl, old;
    if (res >= RLIM_NLIMITS) return -KEINVAL;
    if (unew && copy_from_user(&nl, (const void *)(uintptr_t)unew, sizeof nl) < 0) return -KEFAULT;
    struct process *self = proc_current();
    if (!self) return -KESRCH;
    int r = 0;
    if (pid == 0) pid = self->pid;
    if (pid < 0) return -KESRCH;
    uint64_t fl = spin_lock_irqsave(&proc_lock); /* keeps the process from being reaped */
    struct process *p = proc_first_locked();
    while (p && p->pid != pid) p = p->all_next;
    if (!p || p->state != PROC_ALIVE) r = -KESRCH;
    if (r == 0) r = rlimit_get(p, res, &old);
    if (r == 0 && unew) r = rlimit_set(p, res, &nl);
    spin_unlock_irqrestore(&proc_lock, fl);
    if (r < 0) return r;
    if (uold && copy_to_user((void *)(uintptr_t)uold, &old, sizeof old) < 0) return -KEFAULT;
    return 0;
}

/* prlimit64(pid, resource, const struct rlimit64 *new, struct rlimit64 *old) */
SYSCALL(SYS_prlimit64, prlimit64) { return do_prlimit((int32_t)a0, (uint32_t)a1, a2, a3); }

/* getrlimit(resource, struct rlimit *rlim) */
SYSCALL(SYS_getrlimit, getrlimit) {
    if (!a1) return -KEFAULT;
    return do_prlimit(0, (uint32_t)a0, 0, a1);
}

/* setrlimit(resource, const struct rlimit *rlim) */
SYSCALL(SYS_setrlimit, setrlimit) {
    if (!a1) return -KEFAULT;
    return do_prlimit(0, (uint32_t)a0, a1, 0);
}

/* ---- randomness ---- */

#define GRND_NONBLOCK 1u
#define GRND_RANDOM 2u
#define GRND_INSECURE 4u
#define GETRANDOM_MAX 33554431u /* a single call returns at most 32 MiB - 1, as Linux's */

/* getrandom(void *buf, size_t len, unsigned flags): the kernel CSPRNG (seeded at boot, so it
 * never blocks). Returns the bytes written: fewer than asked when the call is capped, hits an
 * unmapped page after some bytes, or the caller is killed meanwhile. */
SYSCALL(SYS_getrandom, getrandom) {
    uint32_t flags = (uint32_t)a2; /* an unsigned int: the register's upper half is ignored, as on Linux */
    if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -KEINVAL;
    if ((flags & (GRND_RANDOM | GRND_INSECURE)) == (GRND_RANDOM | GRND_INSECURE)) return -KEINVAL;
    size_t len = a1 > GETRANDOM_MAX ? GETRANDOM_MAX : (size_t)a1;
    if (len == 0) return 0;
    if (!user_range_ok(a0, len)) return -KEFAULT;
    uint8_t chunk[512];
    size_t done = 0;
    int64_t r = 0;
    while (done < len) {
        size_t n = MIN(len - done, sizeof chunk);
        if (done && task_interrupted(task_current())) break; /* a signal: return what we have */
        if (random_bytes(chunk, n) < 0) {
            r = -KEINTR;
            break;
        }
        if (copy_to_user((void *)(uintptr_t)(a0 + done), chunk, n) < 0) {
            r = -KEFAULT;
            break;
        }
        done += n;
    }
    memset(chunk, 0, sizeof chunk); /* random output must not linger on the stack */
    return done ? (int64_t)done : r;
}

/* ---- CPU time ---- */

static uint64_t task_cpu_ns(const struct task *t) {
    uint64_t ns = t->cpu_time_ns;
    if (t == task_current()) ns += tsc_to_ns(rdtsc() - t->switched_in_tsc);
    return ns;
}

struct cpu_usage {
    uint64_t utime_ns, stime_ns, switches;
};

/* CPU time of p's live threads (as user time) and of its exited ones (proc_lock guards the
 * thread list). */
static struct cpu_usage process_usage(const struct process *p) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    struct cpu_usage u = {p->utime_ns, p->stime_ns, 0};
    for (const struct uthread *t = p->threads; t; t = t->next_thread) {
        if (!t->task) continue;
        u.utime_ns += task_cpu_ns(t->task);
        u.switches += t->task->switches;
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    return u;
}

#define RUSAGE_SELF 0
#define RUSAGE_CHILDREN (-1)
#define RUSAGE_THREAD 1

struct k_rusage {
    int64_t utime_sec, utime_usec, stime_sec, stime_usec;
    int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv, nsignals,
        nvcsw, nivcsw;
};
_Static_assert(sizeof(struct k_rusage) == 144, "struct rusage is 144 bytes on x86-64");

/* getrusage(who, struct rusage *usage): CPU time (all of it counted as user time for live
 * threads), the current resident set as ru_maxrss, context switches as ru_nvcsw. Children's
 * usage is not recorded yet: RUSAGE_CHILDREN reports zeros. */
SYSCALL(SYS_getrusage, getrusage) {
    int32_t who = (int32_t)a0;
    struct process *p = proc_current();
    if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD) return -KEINVAL;
    struct k_rusage ru;
    memset(&ru, 0, sizeof ru);
    struct cpu_usage u = {0, 0, 0};
    if (who == RUSAGE_THREAD || (who == RUSAGE_SELF && !p)) {
        u.utime_ns = task_cpu_ns(task_current());
        u.switches = task_current()->switches;
    } else if (who == RUSAGE_SELF) {
        u = process_usage(p);
    }
    if (who != RUSAGE_CHILDREN && p && p->vm) ru.maxrss = (int64_t)(uvm_resident_pages(p->vm) * (PAGE_SIZE / 1024));
    ru.utime_sec = (int64_t)(u.utime_ns / NSEC_PER_SEC);
    ru.utime_usec = (int64_t)(u.utime_ns % NSEC_PER_SEC / 1000);
    ru.stime_sec = (int64_t)(u.stime_ns / NSEC_PER_SEC);
    ru.stime_usec = (int64_t)(u.stime_ns % NSEC_PER_SEC / 1000);
    ru.nvcsw = (int64_t)u.switches;
    return copy_to_user((void *)(uintptr_t)a1, &ru, sizeof ru) < 0 ? -KEFAULT : 0;
}

/* times(struct tms *buf): CPU times in clock ticks (USER_HZ); buf may be NULL. Returns the
 * ticks since boot. Children's times are not recorded yet (zeros). */
SYSCALL(SYS_times, times) {
    if (a0) {
        struct process *p = proc_current();
        struct cpu_usage u = p ? process_usage(p) : (struct cpu_usage){task_cpu_ns(task_current()), 0, 0};
        int64_t tms[4] = {(int64_t)(u.utime_ns / (NSEC_PER_SEC / USER_HZ)),
                          (int64_t)(u.stime_ns / (NSEC_PER_SEC / USER_HZ)), 0, 0};
        if (copy_to_user((void *)(uintptr_t)a0, tms, sizeof tms) < 0) return -KEFAULT;
    }
    return (int64_t)(time_ns() / (NSEC_PER_SEC / USER_HZ));
}

/* sched_yield(void) */
SYSCALL(SYS_sched_yield, sched_yield) {
    task_yield();
    return 0;
}

/* ---- SABOS: memory figures for tests ---- */

struct sabos_meminfo_k {
    uint64_t total_frames, free_frames, heap_bytes, heap_allocations;
};

/* sabos_meminfo(struct sabos_meminfo *out) */
SYSCALL(SYS_sabos_meminfo, sabos_meminfo) {
    struct pmm_stats ps;
    struct heap_stats hs;
    pmm_get_stats(&ps);
    heap_get_stats(&hs);
    struct sabos_meminfo_k mi = {ps.total_frames, ps.free_frames, hs.bytes_in_use, hs.allocations};
    return copy_to_user((void *)(uintptr_t)a0, &mi, sizeof mi) < 0 ? -KEFAULT : 0;
}
