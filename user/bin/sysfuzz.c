/* sysfuzz: a system-call fuzzer for the Linux x86-64 system-call ABI (the calls SABOS implements,
 * kernel/include/syscall.h; semantics from the Linux man-pages section 2), for SABOS and Linux.
 *
 * sysfuzz [-n CALLS] [-s SEED] [-b BATCH] [-t SECONDS] [-v]
 *   Makes CALLS (default 100000) raw system calls through syscall(2) with random and hostile
 *   arguments: NULL, kernel addresses, non-canonical addresses, unmapped and read-only user
 *   ranges, buffers that run into a guard page, huge lengths (2^63, -1), bad descriptors, bad
 *   flags, mixed with valid small buffers, descriptors and paths.
 *
 * Containment. The calls run in child processes, BATCH (default 1000) calls each. The parent
 * polls each child (waitpid WNOHANG + nanosleep) and kills one that makes no progress for
 * SECONDS (default 20): "child stuck on syscall N" is a failure, and so is a child killed by a
 * signal or one whose memory outside the fuzzed buffers changed. A shared page (MAP_SHARED |
 * MAP_ANONYMOUS) carries the call in progress, the count and the errno values seen.
 *
 * Safety (it also runs on a Linux host, as root too): every argument that could reach outside
 * the child is constructed, never random:
 *   - paths are relative names without "." or ".." components or '/' at the start (a pool of
 *     fixed names or fresh random bytes without '/' and '.'), or hostile pointers; the child
 *     runs in a scratch directory $TMPDIR/sysfuzz.PID/bN (default /tmp) that the parent removes;
 *     descriptors 0-2 are scratch files, and no descriptor outside the scratch directory is open
 *   - kill/tkill/tgkill only to itself with signal 0 or an invalid signal; setpgid, prlimit64
 *     and the SABOS IPC send only to itself or to pids that cannot exist
 *   - ioctl, fcntl, madvise, arch_prctl, socket: whitelisted requests only (no F_SETOWN, no
 *     TIOCSTI, no interface ioctls, no MADV_HWPOISON, no raw or packet sockets)
 *   - mmap(MAP_FIXED), munmap, mprotect, mremap, madvise: only inside a 1 MiB playground mapping
 *     (or at kernel/non-canonical addresses); brk only grows; no MAP_POPULATE/MAP_LOCKED
 *   - rlimits that could kill or starve the child (CPU, FSIZE, DATA, STACK, AS, RTTIME) are only
 *     raised; signal actions are only SIG_IGN (SIGPIPE is ignored)
 *   - nothing blocks: every timeout is at most 2 ms (never NULL/infinite for poll, select,
 *     futex waits, rt_sigtimedwait, IPC receive), pipes and sockets are made O_NONBLOCK and
 *     fcntl cannot clear it; excluded: exit, exit_group, clone, fork, vfork, pause,
 *     rt_sigsuspend, rt_sigreturn, and execve except with hostile pointers
 *   - unknown numbers are only ones far above Linux's table (1003-1009, 1011-1099, 1100, 2000,
 *     5000, 100000, -1; not the gap 335-423: Linux 6.11+ put uretprobe at 335, which raises
 *     SIGILL), never with bits above 31 set (Linux ignores them)
 * Output: failures as they happen, then "sysfuzz: N calls, M distinct errnos, seed S", the errno
 * values, and "sysfuzz: PASS" (exit 0) or "sysfuzz: FAIL ..." (exit 1). */
#include "ulib.h"
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* ---- random numbers (splitmix64 for seeds, xorshift64* for the stream) ---- */

static uint64_t rng;

static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t r64(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static uint64_t rn(uint64_t n) { return n ? r64() % n : 0; }
static bool chance(unsigned pct) { return rn(100) < pct; }

/* ---- the call table ---- */

struct sc {
    long nr;
    const char *name;
};

/* Linux numbers (asm/unistd_64.h) and SABOS's own; see syscall.h. */
static const struct sc calls[] = {
    {0, "read"}, {1, "write"}, {2, "open"}, {3, "close"}, {4, "stat"}, {5, "fstat"},
    {6, "lstat"}, {7, "poll"}, {8, "lseek"}, {9, "mmap"}, {10, "mprotect"}, {11, "munmap"},
    {12, "brk"}, {13, "rt_sigaction"}, {14, "rt_sigprocmask"}, {16, "ioctl"}, {17, "pread64"},
    {18, "pwrite64"}, {19, "readv"}, {20, "writev"}, {21, "access"}, {22, "pipe"},
    {23, "select"}, {24, "sched_yield"}, {25, "mremap"}, {28, "madvise"}, {32, "dup"},
    {33, "dup2"}, {35, "nanosleep"}, {39, "getpid"}, {41, "socket"}, {59, "execve"},
    {61, "wait4"}, {62, "kill"}, {63, "uname"}, {72, "fcntl"}, {74, "fsync"},
    {75, "fdatasync"}, {76, "truncate"}, {77, "ftruncate"}, {78, "getdents"}, {79, "getcwd"},
    {80, "chdir"}, {81, "fchdir"}, {82, "rename"}, {83, "mkdir"}, {84, "rmdir"}, {85, "creat"},
    {86, "link"}, {87, "unlink"}, {88, "symlink"}, {89, "readlink"}, {90, "chmod"},
    {91, "fchmod"}, {95, "umask"}, {96, "gettimeofday"}, {97, "getrlimit"}, {98, "getrusage"},
    {99, "sysinfo"}, {100, "times"}, {102, "getuid"}, {104, "getgid"}, {105, "setuid"},
    {106, "setgid"}, {107, "geteuid"}, {108, "getegid"}, {109, "setpgid"}, {110, "getppid"},
    {111, "getpgrp"}, {112, "setsid"}, {121, "getpgid"}, {124, "getsid"},
    {127, "rt_sigpending"}, {128, "rt_sigtimedwait"}, {131, "sigaltstack"}, {137, "statfs"},
    {138, "fstatfs"}, {158, "arch_prctl"}, {160, "setrlimit"}, {162, "sync"}, {186, "gettid"},
    {200, "tkill"}, {201, "time"}, {202, "futex"}, {217, "getdents64"},
    {218, "set_tid_address"}, {228, "clock_gettime"}, {229, "clock_getres"},
    {230, "clock_nanosleep"}, {234, "tgkill"}, {247, "waitid"}, {257, "openat"},
    {258, "mkdirat"}, {262, "newfstatat"}, {263, "unlinkat"}, {264, "renameat"},
    {267, "readlinkat"}, {269, "faccessat"}, {270, "pselect6"}, {271, "ppoll"},
    {273, "set_robust_list"}, {292, "dup3"}, {293, "pipe2"}, {302, "prlimit64"},
    {318, "getrandom"}, {332, "statx"}, {334, "rseq"}, {439, "faccessat2"},
    {1000, "sabos_ipc_send"}, {1001, "sabos_ipc_recv"}, {1002, "sabos_ipc_stat"},
    {1010, "sabos_meminfo"}, {-2, "(unknown number)"},
};
#define NCALLS ((int)(sizeof calls / sizeof calls[0]))

static const char *call_name(long nr) {
    for (int i = 0; i < NCALLS; i++)
        if (calls[i].nr == nr) return calls[i].name;
    return "(unknown number)";
}

/* ---- memory layout (made by the parent, inherited by every child) ----
 *   guard (PROT_NONE) | playground 1 MiB (fuzzed: mprotect/munmap/mmap FIXED allowed) |
 *   guard | canary page (never passed) | data 64 KiB (buffers, structs) | names page (fresh
 *   random names) | pool 16 KiB (read-only path strings) | guard */
#define PG 4096ul
#define PLAY_SIZE (256 * PG)
#define DATA_SIZE (16 * PG)
#define POOL_SIZE (4 * PG)
static unsigned char *arena, *play, *canary, *data, *names, *pool;
static uint64_t hole;         /* an address range that was mapped and then unmapped */

struct shared {
    volatile uint64_t calls_done;  /* in this batch */
    volatile int64_t cur_nr;       /* the call being made */
    volatile uint64_t cur_args[6];
    volatile uint32_t errnos[4096 / 32];
    volatile int64_t odd_nr;       /* first call that failed with an errno Linux does not have */
    volatile int odd_errno;
    volatile uint64_t odd_args[6];
};
static struct shared *sh;

/* Pool of path strings (offsets into the read-only pool region). */
static const char *pool_paths[20];
static int npool_paths;

static const uint64_t kernel_addrs[] = {
    0xffff800000000000ull, 0xffffffff80000000ull, 0xfffffffffffff000ull, 0xfffffffffffffff8ull,
    0xffff888000000000ull, 0xffffffffff600000ull,
};
static const uint64_t noncanon_addrs[] = {
    0x0000800000000000ull, 0x8000000000000000ull, 0x00ff000000000000ull, 0x7fff000000000000ull,
};

/* ---- argument generators ---- */

static pid_t self_pid, self_tid;
static int fd_pool[24];
static int nfd_pool;
static uint64_t brk_now;

static void add_fd(int fd) {
    if (fd < 0) return;
    if (nfd_pool < (int)(sizeof fd_pool / sizeof fd_pool[0])) fd_pool[nfd_pool++] = fd;
    else fd_pool[6 + rn(sizeof fd_pool / sizeof fd_pool[0] - 6)] = fd;
}

/* A pointer nothing may be read from or written to: NULL (page), kernel and non-canonical
 * addresses, the PROT_NONE guard pages (permanent: the fuzzer cannot map over them), or a
 * random address in the upper half. Used for paths and for inputs whose contents matter
 * (timeouts, signal actions, limits): never memory with meaningful bytes. */
static uint64_t g_bad_ptr(void) {
    switch (rn(6)) {
    case 0: return 0;
    case 1: return kernel_addrs[rn(sizeof kernel_addrs / sizeof kernel_addrs[0])];
    case 2: return noncanon_addrs[rn(sizeof noncanon_addrs / sizeof noncanon_addrs[0])];
    case 3: return (uint64_t)(arena + rn(16 * PG));
    case 4: return 1 + rn(0xfff);
    default: return r64() | (1ull << 63);
    }
}

/* Hostile pointers for outputs and harmless inputs: the above, plus an unmapped hole, a buffer
 * running into a guard page, read-only memory. */
static uint64_t g_hostile(void) {
    switch (rn(9)) {
    case 0: return 0;
    case 1: return kernel_addrs[rn(sizeof kernel_addrs / sizeof kernel_addrs[0])];
    case 2: return noncanon_addrs[rn(sizeof noncanon_addrs / sizeof noncanon_addrs[0])];
    case 3: return hole + rn(PG);                            /* unmapped user memory */
    case 4: return (uint64_t)(arena + rn(16 * PG));          /* PROT_NONE guard */
    case 5: return (uint64_t)(play + PLAY_SIZE - 1 - rn(16)); /* runs into the guard */
    case 6: return 1 + rn(0xfff);                            /* the NULL page */
    case 7: return (uint64_t)(pool + rn(POOL_SIZE));         /* read-only */
    default: return g_bad_ptr();
    }
}

/* A pointer for a buffer the kernel writes (size bytes wanted when valid). */
static uint64_t g_obuf(size_t size) {
    if (size > DATA_SIZE / 2) size = DATA_SIZE / 2;
    unsigned k = (unsigned)rn(100);
    if (k < 20) return g_hostile();
    if (k < 30) return (uint64_t)(uintptr_t)&g_hostile; /* read-only text */
    if (k < 85) return (uint64_t)(data + (rn(DATA_SIZE - size) & ~7ul));
    return (uint64_t)(play + rn(PLAY_SIZE));
}

/* Inputs of one call are laid out one after the other from a random place in the first half
 * of the data area, so that filling one never overwrites another (a timeout must stay short). */
static size_t bump;
static void *g_struct(size_t size) {
    size = (size + 15) & ~15ul;
    if (bump + size > DATA_SIZE) bump = 0; /* cannot happen: a call needs a few KiB at most */
    void *p = data + bump;
    bump += size;
    return p;
}

/* A pointer to size bytes of random input (size <= 512 are filled with fresh bytes). */
static uint64_t g_ibuf(size_t size) {
    if (chance(20)) return g_hostile();
    if (chance(10)) return (uint64_t)(play + rn(PLAY_SIZE));
    if (size > 512) size = 512;
    unsigned char *p = g_struct(size);
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = r64();
        memcpy(p + i, &v, size - i < 8 ? size - i : 8);
    }
    return (uint64_t)p;
}

static uint64_t g_len(void) {
    static const uint64_t huge[] = {1ull << 31, 1ull << 32, 1ull << 63, ~0ull, 0x7fffffffull,
                                    ~0ull >> 1, ~0ull - 4095, 1ull << 40};
    switch (rn(10)) {
    case 0: case 1: case 2: return rn(257);
    case 3: case 4: return 1 + rn(4096);
    case 5: return chance(50) ? 4096 : 65536;
    case 6: case 7: return huge[rn(sizeof huge / sizeof huge[0])];
    case 8: return rn(1 << 20);
    default: return r64();
    }
}

static uint64_t g_int(void) {
    switch (rn(10)) {
    case 0: case 1: return 0;
    case 2: case 3: return rn(65);
    case 4: case 5: return 1ull << rn(32);
    case 6: case 7: return (uint32_t)r64();
    case 8: return ~0ull;
    default: return r64();
    }
}

/* File offsets: small or absurd, never medium-large (a FAT32 file grown to gigabytes would be
 * written out as zeros). */
static uint64_t g_off(void) {
    static const uint64_t huge[] = {1ull << 40, 1ull << 62, ~0ull >> 1, ~0ull, (uint64_t)-4096,
                                    1ull << 63};
    switch (rn(10)) {
    case 0: case 1: case 2: return 0;
    case 3: case 4: case 5: case 6: return rn(1 << 20);
    case 7: case 8: return huge[rn(sizeof huge / sizeof huge[0])];
    default: return (uint64_t)-(int64_t)(1 + rn(1 << 20));
    }
}

static uint64_t g_fd(void) {
    static const uint64_t bad[] = {(uint64_t)-1, 1ull << 30, 0x7fffffff, (uint64_t)-100, 255,
                                   256, 1023, 1024, 0x100000003ull, (uint64_t)INT32_MIN};
    unsigned k = (unsigned)rn(100);
    if (k < 50 && nfd_pool > 0) return (uint64_t)fd_pool[rn((uint64_t)nfd_pool)];
    if (k < 75) return rn(40);
    if (k < 95) return bad[rn(sizeof bad / sizeof bad[0])];
    return r64();
}
static uint64_t g_dirfd(void) { return chance(50) ? (uint64_t)-100 /* AT_FDCWD */ : g_fd(); }

/* A fresh random name in the names page: 1..300 bytes, none of them '/', '.' or NUL. */
static uint64_t g_random_name(void) {
    size_t len = chance(90) ? 1 + rn(24) : 1 + rn(300);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)(chance(70) ? 'a' + rn(26) : 1 + rn(255));
        if (c == '/' || c == '.') c = '_';
        names[i] = c;
    }
    names[len] = '\0';
    return (uint64_t)names;
}

static uint64_t g_path(void) {
    unsigned k = (unsigned)rn(100);
    if (k < 10) return g_bad_ptr();
    if (k < 60) return (uint64_t)pool_paths[rn((uint64_t)npool_paths)];
    return g_random_name();
}

static uint64_t g_mode(void) { return chance(85) ? rn(010000) : (uint32_t)r64(); }

static uint64_t g_clock(void) {
    switch (rn(4)) {
    case 0: case 1: return rn(12);
    case 2: return chance(50) ? (uint64_t)-1 : 1000;
    default: return r64();
    }
}

/* A timespec of at most 2 ms (or an invalid one, or a hostile pointer); never NULL. */
static uint64_t g_ts(void) {
    unsigned k = (unsigned)rn(100);
    if (k < 10) {
        uint64_t h = g_bad_ptr();
        return h ? h : (uint64_t)kernel_addrs[0];
    }
    struct timespec *t = g_struct(sizeof *t);
    t->tv_sec = 0;
    t->tv_nsec = (long)rn(2000001);
    if (k < 20) {
        if (chance(50)) t->tv_nsec = 1000000000 + (long)rn(1000);
        else t->tv_sec = -1 - (long)rn(100);
    }
    return (uint64_t)t;
}

static uint64_t g_tv(void) {
    if (chance(10)) {
        uint64_t h = g_bad_ptr();
        return h ? h : (uint64_t)kernel_addrs[0];
    }
    struct timeval *t = g_struct(sizeof *t);
    t->tv_sec = 0;
    t->tv_usec = (long)rn(2001);
    if (chance(10)) t->tv_usec = -1 - (long)rn(1000); /* invalid (a large one would be normalised) */
    return (uint64_t)t;
}

/* An iovec array of up to 8 entries (bases valid, hostile or in the playground). */
static uint64_t g_iov(bool out) {
    if (chance(10)) return g_bad_ptr();
    struct iovec *v = g_struct(8 * sizeof *v);
    for (int i = 0; i < 8; i++) {
        v[i].iov_base = (void *)(uintptr_t)(out ? g_obuf(4096) : g_ibuf(64));
        v[i].iov_len = chance(80) ? rn(4097) : g_len();
    }
    return (uint64_t)v;
}

static uint64_t g_iovcnt(void) { return chance(85) ? rn(9) : (chance(50) ? 1025 : r64()); }

/* pollfd array of up to 8 entries. */
static uint64_t g_pollfds(void) {
    if (chance(10)) return g_hostile();
    struct { int fd; short events, revents; } *p = g_struct(8 * 8);
    for (int i = 0; i < 8; i++) {
        p[i].fd = (int)g_fd();
        p[i].events = (short)r64();
        p[i].revents = 0;
    }
    return (uint64_t)p;
}

/* An address in the playground (page aligned mostly) and a length that stays inside it. */
static void g_play_range(uint64_t *addr, uint64_t *len) {
    uint64_t off = rn(PLAY_SIZE / PG) * PG + (chance(10) ? 1 + rn(PG - 1) : 0);
    if (off >= PLAY_SIZE) off = PLAY_SIZE - PG;
    uint64_t room = PLAY_SIZE - off;
    *addr = (uint64_t)(play + off);
    *len = chance(10) ? 0 : 1 + rn(room);
}

/* For munmap/mprotect/madvise/mremap: a playground range, or a kernel/non-canonical address
 * (any length), or the NULL page with a length that stays below 64 KiB. */
static void g_mm_range(uint64_t *addr, uint64_t *len) {
    unsigned k = (unsigned)rn(100);
    if (k < 75) {
        g_play_range(addr, len);
    } else if (k < 90) {
        *addr = chance(50) ? kernel_addrs[rn(sizeof kernel_addrs / sizeof kernel_addrs[0])]
                           : noncanon_addrs[rn(sizeof noncanon_addrs / sizeof noncanon_addrs[0])];
        *len = g_len();
    } else {
        *addr = rn(16) * PG;
        *len = rn(0x10000 - *addr);
    }
}

static uint64_t g_sigsetsize(void) { return chance(85) ? 8 : g_len(); }

/* A pid that names no other process: 0, itself, or one that cannot exist. */
static uint64_t g_safe_pid(void) {
    static const uint64_t none[] = {0x7fffffff, 0x7ffffffe, 4194304 + 1};
    switch (rn(4)) {
    case 0: return 0;
    case 1: return (uint64_t)self_pid;
    case 2: return none[rn(3)];
    default: return (uint64_t)(int64_t)-1 - rn(2);
    }
}
/* Same, for calls where a negative pid or 0 would reach others (kill). */
static uint64_t g_lone_pid(void) { return chance(60) ? (uint64_t)self_pid : 0x7fffffff - rn(2); }

/* An invalid signal number (nothing is delivered). */
static uint64_t g_bad_sig(void) {
    static const uint64_t bad[] = {65, 100, (uint64_t)-1, 0x80000000ull, 1000};
    return bad[rn(5)];
}

/* ---- one call ---- */

/* Builds the arguments of calls[idx] in a[] (returns the number to call). */
static long build(int idx, uint64_t a[6]) {
    long nr = calls[idx].nr;
    for (int i = 0; i < 6; i++) a[i] = 0;
    bump = rn(DATA_SIZE / 2) & ~15ul;
    switch (nr) {
    case 0: a[0] = g_fd(); a[1] = g_obuf(4096); a[2] = g_len(); break;                /* read */
    case 1: a[0] = g_fd(); a[1] = g_ibuf(64); a[2] = g_len(); break;                  /* write */
    case 2: a[0] = g_path(); a[1] = g_int(); a[2] = g_mode(); break;                  /* open */
    case 3: a[0] = g_fd(); break;                                                     /* close */
    case 4: case 6: a[0] = g_path(); a[1] = g_obuf(144); break;                       /* stat */
    case 5: a[0] = g_fd(); a[1] = g_obuf(144); break;
    case 7: a[0] = g_pollfds(); a[1] = chance(85) ? rn(9) : g_len(); a[2] = rn(3); break; /* poll */
    case 8: a[0] = g_fd(); a[1] = g_off(); a[2] = chance(80) ? rn(5) : g_int(); break; /* lseek */
    case 9: { /* mmap */
        uint64_t flags;
        switch (rn(5)) {
        case 0: flags = MAP_PRIVATE | MAP_ANONYMOUS; break;
        case 1: flags = MAP_SHARED | MAP_ANONYMOUS; break;
        case 2: flags = MAP_PRIVATE; break;
        case 3: flags = MAP_SHARED; break;
        default: flags = (uint32_t)r64(); break;
        }
        if (chance(30)) flags |= chance(50) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
        flags &= ~(uint64_t)(MAP_POPULATE | MAP_LOCKED | MAP_HUGETLB | (0x3full << 26));
        uint64_t addr, len;
        if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
            g_play_range(&addr, &len);
        } else {
            addr = chance(50) ? 0 : g_hostile();
            len = chance(80) ? 1 + rn(64 * PG) : g_len();
        }
        a[0] = addr; a[1] = len; a[2] = chance(85) ? rn(8) : (uint32_t)r64(); a[3] = flags;
        a[4] = (flags & MAP_ANONYMOUS) && chance(70) ? (uint64_t)-1 : g_fd();
        a[5] = chance(70) ? rn(16) * PG : g_off();
        break;
    }
    case 10: g_mm_range(&a[0], &a[1]); a[2] = chance(85) ? rn(8) : (uint32_t)r64(); break;
    case 11: g_mm_range(&a[0], &a[1]); break;
    case 12: /* brk: ask, grow a little, or absurd values */
        switch (rn(3)) {
        case 0: a[0] = 0; break;
        case 1: a[0] = brk_now + rn(1 << 20); break;
        default: a[0] = chance(50) ? kernel_addrs[rn(6)] : noncanon_addrs[rn(4)]; break;
        }
        break;
    case 13: { /* rt_sigaction: only SIG_IGN */
        a[0] = chance(90) ? rn(66) : g_int();
        unsigned k = (unsigned)rn(10);
        if (k < 3) a[1] = 0;
        else if (k < 5) a[1] = g_bad_ptr() | 1; /* unreadable */
        else {
            uint64_t *act = g_struct(32);
            act[0] = 1; /* SIG_IGN */
            act[1] = g_int();
            act[2] = r64();
            act[3] = r64();
            a[1] = (uint64_t)act;
        }
        a[2] = chance(50) ? 0 : g_obuf(32);
        a[3] = g_sigsetsize();
        break;
    }
    case 14: /* rt_sigprocmask */
        a[0] = chance(85) ? rn(4) : g_int();
        a[1] = chance(30) ? 0 : g_ibuf(8);
        a[2] = chance(50) ? 0 : g_obuf(8);
        a[3] = g_sigsetsize();
        break;
    case 16: { /* ioctl: whitelisted requests */
        static const uint64_t req[] = {0x5401, 0x5402, 0x5403, 0x540F, 0x5413, 0x5414, 0x541B,
                                       0x5450, 0x5451, 0x5429, 0, 0xdeadbeef, 0x80045430,
                                       0x40045431};
        a[0] = g_fd();
        a[1] = req[rn(sizeof req / sizeof req[0])];
        a[2] = chance(70) ? g_obuf(64) : g_hostile();
        break;
    }
    case 17: a[0] = g_fd(); a[1] = g_obuf(4096); a[2] = g_len(); a[3] = g_off(); break;
    case 18: a[0] = g_fd(); a[1] = g_ibuf(64); a[2] = chance(80) ? rn(8193) : g_len(); a[3] = g_off(); break;
    case 19: a[0] = g_fd(); a[1] = g_iov(true); a[2] = g_iovcnt(); break;
    case 20: a[0] = g_fd(); a[1] = g_iov(false); a[2] = g_iovcnt(); break;
    case 21: a[0] = g_path(); a[1] = chance(80) ? rn(8) : g_int(); break;
    case 22: a[0] = chance(80) ? g_obuf(8) : g_hostile(); break;
    case 23: /* select */
        a[0] = chance(80) ? rn(65) : g_int();
        for (int i = 1; i <= 3; i++) a[i] = chance(30) ? 0 : g_ibuf(128);
        a[4] = g_tv();
        break;
    case 24: case 39: case 102: case 104: case 107: case 108: case 110: case 111: case 112:
    case 186:
        break;
    case 25: { /* mremap */
        g_play_range(&a[0], &a[1]);
        a[2] = chance(80) ? 1 + rn(PLAY_SIZE) : g_len();
        a[3] = chance(80) ? rn(8) : (uint32_t)r64();
        if (a[3] & 2) { /* MREMAP_FIXED: the new place is in the playground too */
            uint64_t len;
            g_play_range(&a[4], &len);
            if (a[2] > len) a[2] = len ? len : PG;
            if (a[4] + a[2] > (uint64_t)(play + PLAY_SIZE)) a[2] = (uint64_t)(play + PLAY_SIZE) - a[4];
        } else {
            a[4] = g_hostile();
        }
        break;
    }
    case 28: { /* madvise */
        static const uint64_t adv[] = {0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                                       18, 19, 20, 21, 5, 6, 7, 999, (uint64_t)-1};
        g_mm_range(&a[0], &a[1]);
        a[2] = adv[rn(sizeof adv / sizeof adv[0])];
        break;
    }
    case 32: a[0] = g_fd(); break;
    case 33: a[0] = g_fd(); a[1] = g_fd(); break;
    case 35: a[0] = g_ts(); a[1] = chance(50) ? 0 : g_obuf(16); break;
    case 41: { /* socket: unix, inet, inet6 stream/dgram only */
        static const uint64_t dom[] = {1, 2, 10, 0, 9999, (uint64_t)-1};
        static const uint64_t typ[] = {1, 2, 5, 99, (uint64_t)-1};
        a[0] = dom[rn(6)];
        a[1] = typ[rn(5)] | (chance(30) ? (uint64_t)(04000 | 02000000) & r64() : 0);
        if ((a[1] & 0xf) == 3 || (a[1] & 0xf) == 10) a[1] = 2; /* no SOCK_RAW / SOCK_PACKET */
        a[2] = chance(70) ? 0 : (chance(50) ? rn(20) : (uint64_t)-1);
        break;
    }
    case 59: /* execve: unreadable pointers only */
        a[0] = g_bad_ptr();
        a[1] = chance(50) ? 0 : g_bad_ptr();
        a[2] = chance(50) ? 0 : g_bad_ptr();
        break;
    case 61: a[0] = chance(50) ? (uint64_t)-1 : g_int(); a[1] = chance(50) ? 0 : g_obuf(4);
        a[2] = chance(50) ? 1 /* WNOHANG */ : g_int(); a[3] = chance(50) ? 0 : g_obuf(144); break;
    case 62: /* kill: itself with signal 0, or an invalid signal */
        a[0] = g_lone_pid();
        a[1] = chance(50) ? 0 : g_bad_sig();
        break;
    case 63: a[0] = g_obuf(390); break;
    case 72: { /* fcntl: whitelisted commands */
        static const uint64_t cmd[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 1030, 1031, 1032, 9999,
                                       (uint64_t)-1};
        a[0] = g_fd();
        a[1] = cmd[rn(sizeof cmd / sizeof cmd[0])];
        if (a[1] == 4) a[2] = (g_int() | O_NONBLOCK) & ~(uint64_t)O_ASYNC; /* F_SETFL */
        else if (a[1] >= 5 && a[1] <= 7) a[2] = chance(80) ? g_ibuf(32) : g_hostile(); /* locks */
        else a[2] = g_int();
        break;
    }
    case 74: case 75: case 81: a[0] = g_fd(); break;
    case 76: a[0] = g_path(); a[1] = g_off(); break;
    case 77: a[0] = g_fd(); a[1] = g_off(); break;
    case 78: case 217: a[0] = g_fd(); a[1] = g_obuf(4096); a[2] = g_len(); break;
    case 79: a[0] = g_obuf(256); a[1] = g_len(); break;
    case 80: case 84: case 87: a[0] = g_path(); break;
    case 82: case 86: case 88: a[0] = g_path(); a[1] = g_path(); break;
    case 83: case 85: case 90: a[0] = g_path(); a[1] = g_mode(); break;
    case 89: a[0] = g_path(); a[1] = g_obuf(256); a[2] = g_len(); break;
    case 91: a[0] = g_fd(); a[1] = g_mode(); break;
    case 95: a[0] = g_mode(); break;
    case 96: a[0] = chance(30) ? 0 : g_obuf(16); a[1] = chance(50) ? 0 : g_obuf(8); break;
    case 97: a[0] = chance(85) ? rn(17) : g_int(); a[1] = g_obuf(16); break;
    case 98: a[0] = chance(85) ? (uint64_t)(int64_t)(rn(4) - 2) : g_int(); a[1] = g_obuf(144); break;
    case 99: a[0] = g_obuf(112); break;
    case 100: a[0] = chance(20) ? 0 : g_obuf(32); break;
    case 105: case 106: a[0] = chance(50) ? (uint64_t)getuid() : g_int(); break;
    case 109: a[0] = g_safe_pid(); a[1] = chance(50) ? g_safe_pid() : g_int(); break;
    case 121: case 124: a[0] = chance(70) ? g_safe_pid() : g_int(); break;
    case 127: a[0] = g_obuf(8); a[1] = g_sigsetsize(); break;
    case 128: a[0] = g_ibuf(8); a[1] = chance(50) ? 0 : g_obuf(128); a[2] = g_ts(); a[3] = g_sigsetsize(); break;
    case 131: a[0] = chance(30) ? 0 : g_ibuf(24); a[1] = chance(50) ? 0 : g_obuf(24); break;
    case 137: a[0] = g_path(); a[1] = g_obuf(120); break;
    case 138: a[0] = g_fd(); a[1] = g_obuf(120); break;
    case 158: /* arch_prctl: SET_FS only with values no kernel may accept */
        switch (rn(5)) {
        case 0: a[0] = 0x1002; a[1] = chance(50) ? kernel_addrs[rn(6)] : noncanon_addrs[rn(4)]; break;
        case 1: a[0] = 0x1001; a[1] = chance(50) ? (uint64_t)(play + rn(PLAY_SIZE)) : g_hostile(); break;
        case 2: a[0] = 0x1003; a[1] = g_obuf(8); break;
        case 3: a[0] = 0x1004; a[1] = g_obuf(8); break;
        default: a[0] = chance(50) ? 0x9999 : (uint32_t)r64() | 0x10000; a[1] = g_obuf(8); break;
        }
        break;
    case 160: case 302: { /* setrlimit / prlimit64: limits that could hurt are only raised */
        uint64_t res = chance(85) ? rn(16) : (chance(50) ? 16 + rn(100) : 0xffffffffull);
        uint64_t lim;
        uint64_t *r = g_struct(16);
        bool dangerous = res == 0 || res == 1 || res == 2 || res == 3 || res == 9 || res == 15;
        if (dangerous) r[0] = r[1] = ~0ull;
        else {
            r[0] = chance(50) ? rn(2048) : ~0ull;
            r[1] = chance(50) ? rn(4096) : ~0ull;
        }
        lim = chance(15) ? g_bad_ptr() | 1 : (uint64_t)r;
        if (nr == 160) {
            a[0] = res;
            a[1] = lim;
        } else {
            a[0] = g_safe_pid();
            a[1] = res;
            a[2] = chance(30) ? 0 : lim;
            a[3] = chance(50) ? 0 : g_obuf(16);
        }
        break;
    }
    case 200: /* tkill */
        a[0] = chance(60) ? (uint64_t)self_tid : (chance(50) ? 0x7fffffff : (uint64_t)-1);
        a[1] = chance(50) ? 0 : g_bad_sig();
        break;
    case 234: /* tgkill */
        a[0] = chance(70) ? (uint64_t)self_pid : 0x7fffffff;
        a[1] = chance(70) ? (uint64_t)self_tid : (chance(50) ? 0x7fffffff : (uint64_t)-1);
        a[2] = chance(50) ? 0 : g_bad_sig();
        break;
    case 201: a[0] = chance(30) ? 0 : g_obuf(8); break;
    case 202: { /* futex: waits always get a short (or absurd) timeout */
        a[0] = chance(80) ? (uint64_t)(data + (rn(DATA_SIZE / 4) & ~3ul)) : g_hostile();
        uint64_t op = chance(85) ? rn(14) : (uint32_t)r64();
        if (chance(50)) op |= 128;  /* FUTEX_PRIVATE_FLAG */
        if (chance(20)) op |= 256;  /* FUTEX_CLOCK_REALTIME */
        uint32_t cmd = (uint32_t)op & 127;
        a[1] = op;
        bool in_data = a[0] >= (uint64_t)data && a[0] < (uint64_t)(data + DATA_SIZE);
        a[2] = in_data && chance(50) ? *(volatile uint32_t *)(uintptr_t)a[0] : g_int();
        bool waits = cmd == 0 || cmd == 6 || cmd == 9 || cmd == 11 || cmd == 13 || cmd > 13;
        a[3] = waits ? g_ts() : (chance(50) ? g_int() : g_ts());
        a[4] = chance(80) ? (uint64_t)(data + (rn(DATA_SIZE / 4) & ~3ul)) : g_hostile();
        a[5] = g_int();
        break;
    }
    case 218: a[0] = chance(80) ? g_obuf(4) : g_hostile(); break;
    case 228: case 229: a[0] = g_clock(); a[1] = chance(20) ? 0 : g_obuf(16); break;
    case 230: { /* clock_nanosleep: no CPU-time clocks (a sleeping process's never advances) */
        static const uint64_t clk[] = {0, 1, 7, 8, 9, 11, 3, 12, 1000, 0x7fffffff};
        a[0] = clk[rn(sizeof clk / sizeof clk[0])]; a[1] = chance(70) ? rn(2) : g_int(); a[2] = g_ts();
        a[3] = chance(50) ? 0 : g_obuf(16);
        break;
    }
    case 247: a[0] = chance(80) ? rn(4) : g_int(); a[1] = chance(50) ? g_safe_pid() : g_int();
        a[2] = chance(20) ? 0 : g_obuf(128); a[3] = chance(50) ? (1 | 4) : g_int();
        a[4] = chance(50) ? 0 : g_obuf(144); break;
    case 257: a[0] = g_dirfd(); a[1] = g_path(); a[2] = g_int(); a[3] = g_mode(); break;
    case 258: a[0] = g_dirfd(); a[1] = g_path(); a[2] = g_mode(); break;
    case 262: a[0] = g_dirfd(); a[1] = g_path(); a[2] = g_obuf(144); a[3] = chance(70) ? rn(2) * 0x100 | rn(2) * 0x1000 : g_int(); break;
    case 263: a[0] = g_dirfd(); a[1] = g_path(); a[2] = chance(70) ? rn(2) * 0x200 : g_int(); break;
    case 264: a[0] = g_dirfd(); a[1] = g_path(); a[2] = g_dirfd(); a[3] = g_path(); break;
    case 267: a[0] = g_dirfd(); a[1] = g_path(); a[2] = g_obuf(256); a[3] = g_len(); break;
    case 269: a[0] = g_dirfd(); a[1] = g_path(); a[2] = chance(80) ? rn(8) : g_int(); break;
    case 439: a[0] = g_dirfd(); a[1] = g_path(); a[2] = chance(80) ? rn(8) : g_int(); a[3] = g_int(); break;
    case 332: a[0] = g_dirfd(); a[1] = g_path(); a[2] = g_int(); a[3] = g_int(); a[4] = g_obuf(256); break;
    case 270: { /* pselect6 */
        a[0] = chance(80) ? rn(65) : g_int();
        for (int i = 1; i <= 3; i++) a[i] = chance(30) ? 0 : g_ibuf(128);
        a[4] = g_ts();
        if (chance(50)) {
            uint64_t *sm = g_struct(16);
            sm[0] = chance(70) ? g_ibuf(8) : g_bad_ptr();
            sm[1] = g_sigsetsize();
            a[5] = (uint64_t)sm;
        } else {
            a[5] = chance(50) ? 0 : g_hostile();
        }
        break;
    }
    case 271: a[0] = g_pollfds(); a[1] = chance(85) ? rn(9) : g_len(); a[2] = g_ts();
        a[3] = chance(50) ? 0 : g_ibuf(8); a[4] = g_sigsetsize(); break;
    case 273: a[0] = chance(70) ? g_ibuf(24) : g_hostile(); a[1] = chance(70) ? 24 : g_len(); break;
    case 292: a[0] = g_fd(); a[1] = g_fd(); a[2] = chance(70) ? rn(2) * 02000000 : g_int(); break;
    case 293: a[0] = chance(80) ? g_obuf(8) : g_hostile(); a[1] = g_int(); break;
    case 318: a[0] = g_obuf(256); a[1] = chance(80) ? rn(513) : g_len(); a[2] = chance(70) ? rn(8) : g_int(); break;
    case 334: /* rseq: never a registration (Linux takes any length >= 32; a registered area
               * the fuzzer then scribbles on would earn a legitimate SIGSEGV) */
        a[0] = chance(50) ? g_obuf(32) : g_hostile();
        a[1] = rn(32);
        a[2] = g_int();
        a[3] = g_int();
        break;
    case 1000: /* sabos_ipc_send: to itself or to nobody */
        a[0] = g_safe_pid(); a[1] = g_int(); a[2] = g_ibuf(64); a[3] = g_len(); break;
    case 1001: /* sabos_ipc_recv: timeout 0 or at most 2 ms */
        a[0] = chance(50) ? 0 : g_int(); a[1] = chance(80) ? g_obuf(64) : g_hostile();
        a[2] = g_obuf(256); a[3] = g_len(); a[4] = chance(50) ? 0 : rn(2000001); break;
    case 1002: case 1010: a[0] = chance(80) ? g_obuf(128) : g_hostile(); break;
    case -2: { /* numbers no Linux x86-64 call uses */
        static const long unknown[] = {1003, 1009, 1011, 1050, 1099, 1100, 2000, 5000, 100000, -1};
        nr = unknown[rn(sizeof unknown / sizeof unknown[0])];
        for (int i = 0; i < 6; i++) a[i] = r64();
        break;
    }
    default: for (int i = 0; i < 6; i++) a[i] = g_int(); break;
    }
    return nr;
}

/* After a call that made descriptors: pipes and sockets become non-blocking (a read on them
 * must never wait), and new descriptors join the pool. */
static void after(long nr, const uint64_t a[6], long r) {
    if (r < 0) return;
    if (nr == 22 || nr == 293) {
        int *fds = (int *)(uintptr_t)a[0];
        for (int i = 0; i < 2; i++) {
            fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
            add_fd(fds[i]);
        }
    } else if (nr == 41) {
        fcntl((int)r, F_SETFL, fcntl((int)r, F_GETFL) | O_NONBLOCK);
        add_fd((int)r);
    } else if (nr == 2 || nr == 257 || nr == 85 || nr == 32 || nr == 33 || nr == 292) {
        add_fd((int)r);
    }
}

/* ---- the child: one batch ---- */

static const char *const scratch_files[] = {"f0", "f1", "d0/f0", "d0/d1/f2"};

static void child_setup(void) {
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS && s != SIGILL &&
            s != SIGFPE && s != SIGTRAP && s != SIGABRT && s != SIGTERM && s != SIGINT)
            signal(s, SIG_IGN);
    mkdir("d0", 0755);
    mkdir("d0/d1", 0755);
    for (size_t i = 0; i < sizeof scratch_files / sizeof scratch_files[0]; i++) {
        int fd = open(scratch_files[i], O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            (void)!write(fd, "sysfuzz scratch file\n", 21);
            close(fd);
        }
    }
    (void)!symlink("f0", "l0");
    (void)!symlink("nosuch", "l1");
    (void)!symlink("d0", "l2");
    /* Standard descriptors: scratch files (no terminal, nothing outside the scratch). */
    int in = open("in", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (in < 0) _exit(70);
    (void)!write(in, "input\n", 6);
    lseek(in, 0, SEEK_SET);
    int out = open("out", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (out < 0) _exit(71);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    close(in);
    close(out);
    nfd_pool = 0;
    add_fd(0);
    add_fd(1);
    add_fd(open("f0", O_RDWR));
    add_fd(open(".", O_RDONLY | O_DIRECTORY));
    int p[2];
    if (pipe2(p, O_NONBLOCK) == 0) {
        add_fd(p[0]);
        add_fd(p[1]);
    }
    self_pid = getpid();
    self_tid = (pid_t)syscall(SYS_gettid);
    brk_now = (uint64_t)syscall(SYS_brk, 0);
}

static uint64_t canary_sum(void) {
    /* The canary page and the code that g_obuf offers as a (read-only) output buffer. */
    return ufnv1a(ufnv1a(UFNV_INIT, canary, PG), (const void *)(uintptr_t)&g_hostile, 256);
}
static uint64_t pool_sum(void) { return ufnv1a(UFNV_INIT, pool, POOL_SIZE); }

static void __attribute__((noreturn)) child_run(uint64_t seed, uint64_t count, uint64_t want_canary,
                                               uint64_t want_pool) {
    rng = splitmix(seed) | 1;
    child_setup();
    for (uint64_t i = 0; i < count; i++) {
        int idx = (int)rn(NCALLS);
        if (calls[idx].nr == 162 && !chance(10)) idx = 0; /* sync is slow on a busy host */
        uint64_t a[6];
        long nr = build(idx, a);
        sh->cur_nr = nr;
        for (int k = 0; k < 6; k++) sh->cur_args[k] = a[k];
        long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (r == -1 && errno > 0 && errno < 4096) {
            sh->errnos[errno / 32] |= 1u << (errno % 32);
            if (errno > 133 && !sh->odd_errno) { /* 133 = EHWPOISON, Linux's last */
                sh->odd_nr = nr;
                for (int k = 0; k < 6; k++) sh->odd_args[k] = a[k];
                sh->odd_errno = errno;
            }
        }
        after(nr, a, r);
        sh->calls_done = i + 1;
    }
    sh->cur_nr = -1000;
    if (canary_sum() != want_canary) _exit(80);
    if (pool_sum() != want_pool) _exit(81);
    _exit(0);
}

/* ---- the parent ---- */

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void nap_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

/* Removes everything below directory fd dfd (not following links), then closes it.
 * 0, or -1 when something could not be removed. */
static int clean_dir(int dfd, int depth) {
    if (depth > 200) {
        close(dfd);
        return -1;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -1;
    }
    int rc = 0;
    for (int round = 0; round < 100; round++) {
        rewinddir(d);
        struct dirent *e;
        int removed = 0, left = 0;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            left++;
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
            if (S_ISDIR(st.st_mode)) {
                fchmodat(dirfd(d), e->d_name, 0700, 0); /* a directory: no link is followed */
                int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                if (sub >= 0) rc |= clean_dir(sub, depth + 1);
                if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0) removed++;
            } else if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
                removed++;
            }
        }
        if (left == 0) break;
        if (removed == 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    return rc;
}

static int remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) chmod(path, 0700);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    int rc = clean_dir(fd, 0);
    if (rmdir(path) < 0) rc = -1;
    return rc;
}

static void setup_memory(void) {
    /* The shared page first: the hole made below must not be where it lands. */
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        uerr("mmap(MAP_SHARED | MAP_ANONYMOUS)");
        exit(1);
    }
    memset((void *)sh, 0, sizeof *sh);
    size_t total = 16 * PG + PLAY_SIZE + 16 * PG + PG + DATA_SIZE + PG + POOL_SIZE + 16 * PG;
    arena = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena == MAP_FAILED) {
        uerr("mmap");
        exit(1);
    }
    play = arena + 16 * PG;
    canary = play + PLAY_SIZE + 16 * PG;
    data = canary + PG;
    names = data + DATA_SIZE;
    pool = names + PG;
    if (mprotect(play, PLAY_SIZE, PROT_READ | PROT_WRITE) < 0 ||
        mprotect(canary, PG + DATA_SIZE + PG + POOL_SIZE, PROT_READ | PROT_WRITE) < 0) {
        uerr("mprotect");
        exit(1);
    }
    for (size_t i = 0; i < PG; i++) canary[i] = (unsigned char)(i * 13 + 7);
    /* The pool of paths: all relative, none with "." or "..". */
    static const char *fixed[] = {"f0", "f1", "d0", "d0/f0", "d0/d1", "d0/d1/f2", "l0", "l1",
                                  "l2", "l2/f0", "nosuch/x", "", "new0", "d0/new1"};
    char *p = (char *)pool;
    npool_paths = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        strcpy(p, fixed[i]);
        pool_paths[npool_paths++] = p;
        p += strlen(p) + 1;
    }
    pool_paths[npool_paths++] = p; /* a 256-byte name: ENAMETOOLONG */
    memset(p, 'n', 256);
    p += 257;
    pool_paths[npool_paths] = p; /* a 4200-byte path: ENAMETOOLONG */
    for (int i = 0; i < 2100; i++) memcpy(p + 2 * i, "a/", 2);
    p[4200] = '\0';
    npool_paths++;
    if (mprotect(pool, POOL_SIZE, PROT_READ) < 0) {
        uerr("mprotect");
        exit(1);
    }
    void *h = mmap(NULL, 16 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h != MAP_FAILED) {
        munmap(h, 16 * PG);
        hole = (uint64_t)h;
    } else {
        hole = 0x10000;
    }
}

/* SIGINT/SIGTERM: finish the current batch early, clean up, report. */
static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

static void print_args(const char *prefix) {
    printf("%s syscall %lld (%s) args %#llx %#llx %#llx %#llx %#llx %#llx\n", prefix,
           (long long)sh->cur_nr, call_name((long)sh->cur_nr),
           (unsigned long long)sh->cur_args[0], (unsigned long long)sh->cur_args[1],
           (unsigned long long)sh->cur_args[2], (unsigned long long)sh->cur_args[3],
           (unsigned long long)sh->cur_args[4], (unsigned long long)sh->cur_args[5]);
}

int main(int argc, char **argv) {
    ulib_prog = "sysfuzz";
    const char *usage = "[-n CALLS] [-s SEED] [-b BATCH] [-t SECONDS] [-v]";
    long long ncalls = 100000, batch = 1000, stuck_s = 20, seed_arg = -1;
    bool verbose = false;
    int c;
    while ((c = ugetopt(argc, argv, "n:s:b:t:v")) != -1) {
        switch (c) {
        case 'n': if (!uparse_ll(optarg, &ncalls) || ncalls < 0) uusage(usage); break;
        case 's': if (!uparse_ll(optarg, &seed_arg) || seed_arg < 0) uusage(usage); break;
        case 'b': if (!uparse_ll(optarg, &batch) || batch < 1) uusage(usage); break;
        case 't': if (!uparse_ll(optarg, &stuck_s) || stuck_s < 1) uusage(usage); break;
        case 'v': verbose = true; break;
        default: uusage(usage);
        }
    }
    if (optind < argc) uusage(usage);
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t seed;
    if (seed_arg >= 0) seed = (uint64_t)seed_arg;
    else {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        seed = splitmix((uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 20) ^ (uint64_t)getpid()) % 1000000000ull;
    }
    /* No descriptor of ours may reach the children except 0-2 (they replace those). */
    struct rlimit nofile;
    int maxfd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 1024 ? (int)nofile.rlim_cur : 1024;
    for (int fd = 3; fd < maxfd; fd++) close(fd);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const char *tmp = getenv("TMPDIR");
    char scratch[512], bdir[600];
    snprintf(scratch, sizeof scratch, "%s/sysfuzz.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (mkdir(scratch, 0700) < 0) {
        uerr(scratch);
        return 1;
    }
    setup_memory();
    uint64_t want_canary = canary_sum(), want_pool = pool_sum();

    int failures = 0;
    uint64_t total = 0;
    long long nbatches = (ncalls + batch - 1) / batch;
    for (long long b = 0; b < nbatches && failures < 10 && !interrupted; b++) {
        uint64_t count = (uint64_t)(b == nbatches - 1 ? ncalls - b * batch : batch);
        uint64_t bseed = splitmix(seed ^ ((uint64_t)b * 0x100000001b3ull));
        snprintf(bdir, sizeof bdir, "%s/b%lld", scratch, b);
        if (mkdir(bdir, 0700) < 0 || chmod(bdir, 0777) < 0) { /* 0777: also after setuid */
            uerr(bdir);
            failures++;
            break;
        }
        sh->calls_done = 0;
        sh->cur_nr = -1;
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            if (chdir(bdir) < 0) _exit(72);
            child_run(bseed, count, want_canary, want_pool);
        }
        if (pid < 0) {
            uerr("fork");
            failures++;
            break;
        }
        int64_t last_change = now_ms();
        uint64_t last_done = 0;
        long nap = 50;
        int st = 0;
        bool stuck = false;
        for (;;) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid) break;
            if (r < 0 && errno != EINTR) {
                uerr("waitpid");
                break;
            }
            uint64_t done = sh->calls_done;
            if (interrupted) {
                kill(pid, SIGKILL);
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
                st = 0;
                break;
            }
            if (done != last_done) {
                last_done = done;
                last_change = now_ms();
            } else if (now_ms() - last_change > stuck_s * 1000) {
                stuck = true;
                printf("sysfuzz: FAIL batch %lld (seed %llu): child stuck on syscall %lld (%s) at call %llu\n",
                       b, (unsigned long long)seed, (long long)sh->cur_nr, call_name((long)sh->cur_nr),
                       (unsigned long long)done);
                print_args("sysfuzz:   ");
                kill(pid, SIGKILL);
                int i = 0;
                while (waitpid(pid, &st, WNOHANG) == 0 && i++ < 1000) nap_us(10000);
                if (i >= 1000) {
                    printf("sysfuzz: FAIL: the stuck child did not die of SIGKILL within 10 s\n");
                    failures += 10;
                }
                break;
            }
            nap_us(nap);
            if (nap < 5000) nap *= 2;
        }
        total += sh->calls_done;
        if (stuck) {
            failures++;
        } else if (WIFSIGNALED(st)) {
            printf("sysfuzz: FAIL batch %lld (seed %llu): child killed by signal %d at call %llu\n", b,
                   (unsigned long long)seed, WTERMSIG(st), (unsigned long long)sh->calls_done);
            print_args("sysfuzz:   during or after");
            failures++;
        } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            int code = WEXITSTATUS(st);
            printf("sysfuzz: FAIL batch %lld (seed %llu): child exit code %d (%s)\n", b,
                   (unsigned long long)seed, code,
                   code == 80 ? "memory next to the buffers changed" :
                   code == 81 ? "the read-only path pool changed" : "setup failed");
            if (code == 80 || code == 81) print_args("sysfuzz:   last");
            failures++;
        }
        if (remove_tree(bdir) < 0) {
            printf("sysfuzz: FAIL batch %lld: cannot remove the scratch directory %s\n", b, bdir);
            failures++;
        }
        if (verbose) printf("sysfuzz: batch %lld: %llu calls\n", b, (unsigned long long)sh->calls_done);
    }

    /* The system still works: a file round trip and a child process. */
    snprintf(bdir, sizeof bdir, "%s/check", scratch);
    int fd = open(bdir, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char buf[8] = "";
    bool alive = fd >= 0 && write(fd, "alive", 5) == 5 && pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "alive", 5);
    if (fd >= 0) close(fd);
    unlink(bdir);
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st;
    alive = alive && p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!alive) {
        printf("sysfuzz: FAIL: file or process operations fail after fuzzing\n");
        failures++;
    }
    if (remove_tree(scratch) < 0) printf("sysfuzz: warning: could not remove %s\n", scratch);

    if (sh->odd_errno) {
        printf("sysfuzz: FAIL: syscall %lld (%s) failed with errno %d, which Linux does not have "
               "(a kernel-internal code leaked?) args %#llx %#llx %#llx %#llx %#llx %#llx\n",
               (long long)sh->odd_nr, call_name((long)sh->odd_nr), sh->odd_errno,
               (unsigned long long)sh->odd_args[0], (unsigned long long)sh->odd_args[1],
               (unsigned long long)sh->odd_args[2], (unsigned long long)sh->odd_args[3],
               (unsigned long long)sh->odd_args[4], (unsigned long long)sh->odd_args[5]);
        failures++;
    }
    int distinct = 0;
    char list[2048];
    size_t ll = 0;
    list[0] = '\0';
    for (int e = 1; e < 4096; e++)
        if (sh->errnos[e / 32] & (1u << (e % 32))) {
            distinct++;
            if (ll + 8 < sizeof list) ll += (size_t)snprintf(list + ll, sizeof list - ll, " %d", e);
        }
    printf("sysfuzz: %llu calls, %d distinct errnos, seed %llu\n", (unsigned long long)total, distinct,
           (unsigned long long)seed);
    printf("sysfuzz: errnos:%s\n", list);
    if (interrupted) printf("sysfuzz: FAIL (interrupted)\n");
    else if (failures) printf("sysfuzz: FAIL (%d)\n", failures);
    else printf("sysfuzz: PASS\n");
    return failures || interrupted ? 1 : 0;
}
