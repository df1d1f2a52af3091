/* faulttest: CPU faults become signals to the faulting process only, and signal delivery works
 * (Intel SDM vol. 3A ch. 6 exceptions #DE #UD #GP #PF #BP; POSIX.1-2017 XSH 2.4 signal
 * concepts, sigaction, sigprocmask, sigsetjmp/siglongjmp, sigaltstack, kill; Linux siginfo
 * si_code values), for SABOS and Linux alike.
 *
 * faulttest: prints "PASS name" / "FAIL name: details" and exits 0 only when all passed.
 * Each check runs in a child process of its own; the parent waits for it with a deadline (a
 * WNOHANG poll with nanosleep; a child that overruns is killed and the check fails):
 *   null-read null-write kernel-read noncanonical write-rodata write-text exec-nx exec-stack
 *   use-after-munmap hlt stack-overflow    -> the child ends by SIGSEGV
 *   ud2 -> SIGILL, div0 -> SIGFPE, int3 -> SIGTRAP, abort -> SIGABRT
 *   segv-siginfo   SA_SIGINFO handler sees si_addr and SEGV_MAPERR / SEGV_ACCERR, leaves with
 *                  siglongjmp, and a second fault is caught again (the mask was restored)
 *   fpe-siginfo ill-siginfo  FPE_INTDIV and ILL_ILLOPN with si_addr at the instruction
 *   segv-altstack  a stack overflow is caught by a handler running on a sigaltstack
 *   sigreturn-state a handler that uses integer and SSE registers returns to unchanged state
 *   sigchld        a SIGCHLD handler runs when a child exits
 *   sa-restart     a read interrupted by a SA_RESTART handler goes on and returns the data
 *   eintr          without SA_RESTART the read fails with EINTR
 *   sigprocmask    a blocked signal stays pending and is delivered when unblocked
 *   kill-pgrp      kill(-pgid) ends every process of the group, and only those
 *   stop-cont      SIGSTOP / SIGCONT reported by waitpid WUNTRACED / WCONTINUED
 *   sigkill-blocked SIGKILL ends a process that blocks and ignores everything else
 *   parent-alive   the parent still runs fine after all that
 * Core dumps are disabled (RLIMIT_CORE 0) so that the host run leaves nothing behind. */
#include "ulib.h"
#include "utest.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {}
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* waitpid with a deadline: polls WNOHANG with growing sleeps; after limit_ms kills the child
 * (SIGKILL) and returns -2 (still reaping it, bounded). Returns the pid or -1. */
static pid_t wait_deadline(pid_t pid, int *st, int options, long limit_ms) {
    int64_t end = now_ms() + limit_ms;
    long nap = 1;
    for (;;) {
        pid_t r = waitpid(pid, st, options | WNOHANG);
        if (r != 0) {
            if (r < 0 && errno == EINTR) continue;
            return r;
        }
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            for (int i = 0; i < 500 && waitpid(pid, st, WNOHANG) == 0; i++) sleep_ms(10);
            return -2;
        }
        sleep_ms(nap);
        if (nap < 50) nap *= 2;
    }
}

/* Runs fn in a child; its status, or -1 (fork failed) / -2 (deadline). */
static int run_child(void (*fn)(void), long limit_ms) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        fn();
        _exit(0);
    }
    if (p < 0) return -1;
    int st = 0;
    pid_t r = wait_deadline(p, &st, 0, limit_ms);
    if (r == -2) return -2;
    if (r != p) return -1;
    return st;
}

static const char *status_text(int st) {
    static char buf[64];
    if (st == -1) return "fork or wait failed";
    if (st == -2) return "did not finish in time (killed)";
    if (WIFEXITED(st)) snprintf(buf, sizeof buf, "exited with code %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
    else snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

/* ---- faults ---- */

static void *page_with(int prot, unsigned char byte) {
    unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(90);
    memset(p, byte, 4096);
    if (mprotect(p, 4096, prot) < 0) _exit(91);
    return p;
}

static void f_null_read(void) { (void)*(volatile int *)0; }
static void f_null_write(void) { *(volatile int *)0 = 1; }
static void f_kernel_read(void) { (void)*(volatile long *)0xffff800000000000ull; }
static void f_noncanonical(void) { (void)*(volatile long *)0x0000800000000000ull; }
static void f_write_rodata(void) {
    volatile char *p = page_with(PROT_READ, 0);
    p[8] = 1;
}
static void f_write_text(void) { *(volatile unsigned char *)(uintptr_t)&f_null_read = 0xc3; }
static void f_exec_nx(void) {
    void (*fn)(void) = (void (*)(void))page_with(PROT_READ | PROT_WRITE, 0xc3); /* ret */
    fn();
}
static void f_exec_stack(void) {
    volatile unsigned char code[16];
    for (int i = 0; i < 16; i++) code[i] = 0xc3;
    ((void (*)(void))(uintptr_t)code)();
}
static void f_after_munmap(void) {
    volatile int *p = page_with(PROT_READ | PROT_WRITE, 1);
    if (*p != 0x01010101) _exit(92);
    munmap((void *)p, 4096);
    *p = 2;
}
static void f_hlt(void) { __asm__ volatile("hlt"); }
static void f_ud2(void) { __asm__ volatile("ud2"); }
static void f_div0(void) {
    __asm__ volatile("xorl %%ecx, %%ecx\n\tmovl $1, %%eax\n\tcltd\n\tidivl %%ecx" ::: "eax", "ecx", "edx");
}
static void f_int3(void) { __asm__ volatile("int3"); }
static void f_abort(void) { abort(); }

static int depth_sink(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    pad[1023] = (char)n;
    return n > 1000000000 ? pad[0] : depth_sink(n + 1) + pad[1023];
}
static void limit_stack(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8u << 20))) {
        rl.rlim_cur = 8u << 20;
        setrlimit(RLIMIT_STACK, &rl);
    }
}
static void f_stack_overflow(void) {
    limit_stack();
    depth_sink(0);
}

struct fault_case {
    const char *name;
    void (*fn)(void);
    int sig;
};

static const struct fault_case faults[] = {
    {"null-read", f_null_read, SIGSEGV},       {"null-write", f_null_write, SIGSEGV},
    {"kernel-read", f_kernel_read, SIGSEGV},   {"noncanonical", f_noncanonical, SIGSEGV},
    {"write-rodata", f_write_rodata, SIGSEGV}, {"write-text", f_write_text, SIGSEGV},
    {"exec-nx", f_exec_nx, SIGSEGV},           {"exec-stack", f_exec_stack, SIGSEGV},
    {"use-after-munmap", f_after_munmap, SIGSEGV}, {"hlt", f_hlt, SIGSEGV},
    {"stack-overflow", f_stack_overflow, SIGSEGV}, {"ud2", f_ud2, SIGILL},
    {"div0", f_div0, SIGFPE},                  {"int3", f_int3, SIGTRAP},
    {"abort", f_abort, SIGABRT},
};

/* ---- handlers ---- */

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code, handler_calls;
static void *volatile got_addr;
static void *volatile stack_probe;

static void info_handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    volatile char here;
    stack_probe = (void *)&here;
    siglongjmp(jb, 1);
}

static void catch_with(int sig, int flags) {
    struct sigaction sa = {0};
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) _exit(93);
}

static void t_segv_siginfo(void) {
    catch_with(SIGSEGV, 0);
    if (!sigsetjmp(jb, 1)) *(volatile int *)0x1234 = 1;
    if (got_sig != SIGSEGV || got_addr != (void *)0x1234 || got_code != SEGV_MAPERR) {
        printf("  segv-siginfo: signal %d addr %p code %d (expected %d 0x1234 SEGV_MAPERR)\n",
               (int)got_sig, got_addr, (int)got_code, SIGSEGV);
        _exit(1);
    }
    char *ro = page_with(PROT_READ, 0);
    got_sig = 0;
    if (!sigsetjmp(jb, 1)) ro[100] = 1; /* SIGSEGV must not still be blocked */
    if (got_sig != SIGSEGV || got_addr != ro + 100 || got_code != SEGV_ACCERR) {
        printf("  segv-siginfo: second fault: signal %d addr %p code %d (expected %p SEGV_ACCERR)\n",
               (int)got_sig, got_addr, (int)got_code, (void *)(ro + 100));
        _exit(2);
    }
}

void ud2_here(void);
__asm__(".text\n.globl ud2_here\nud2_here:\n\tud2\n\tret\n");

static void t_fpe_siginfo(void) {
    catch_with(SIGFPE, 0);
    if (!sigsetjmp(jb, 1)) f_div0();
    if (got_sig != SIGFPE || got_code != FPE_INTDIV) {
        printf("  fpe-siginfo: signal %d code %d (expected %d FPE_INTDIV)\n", (int)got_sig,
               (int)got_code, SIGFPE);
        _exit(1);
    }
}

static void t_ill_siginfo(void) {
    catch_with(SIGILL, 0);
    if (!sigsetjmp(jb, 1)) ud2_here();
    if (got_sig != SIGILL || got_code != ILL_ILLOPN || got_addr != (void *)(uintptr_t)ud2_here) {
        printf("  ill-siginfo: signal %d code %d addr %p (expected %d ILL_ILLOPN %p)\n",
               (int)got_sig, (int)got_code, got_addr, SIGILL, (void *)(uintptr_t)ud2_here);
        _exit(1);
    }
}

static void t_segv_altstack(void) {
    limit_stack();
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) < 0) _exit(94);
    catch_with(SIGSEGV, SA_ONSTACK);
    if (!sigsetjmp(jb, 1)) depth_sink(0);
    char *probe = stack_probe;
    if (got_sig != SIGSEGV || probe < alt || probe >= alt + sizeof alt) {
        printf("  segv-altstack: signal %d, handler stack %p outside [%p, %p)\n", (int)got_sig,
               (void *)probe, (void *)alt, (void *)(alt + sizeof alt));
        _exit(1);
    }
}

static volatile double hd;
static void usr1_math(int sig) {
    (void)sig;
    handler_calls++;
    volatile double a = 1.25;
    hd = a * 3.0 + hd / 7.0; /* uses SSE registers */
}

static void t_sigreturn_state(void) {
    struct sigaction sa = {0};
    sa.sa_handler = usr1_math;
    sigaction(SIGUSR1, &sa, NULL);
    double x = 1.5;
    uint64_t k = 0x123456789abcdefull;
    for (int i = 0; i < 100; i++) {
        double before = x * 2.0;
        uint64_t kb = k ^ (uint64_t)i;
        raise(SIGUSR1);
        if (before != x * 2.0 || kb != (k ^ (uint64_t)i)) _exit(1);
        x += 0.5;
        k = k * 3 + 1;
    }
    if (handler_calls != 100) {
        printf("  sigreturn-state: handler ran %d times of 100\n", (int)handler_calls);
        _exit(2);
    }
}

static void count_handler(int sig) {
    (void)sig;
    handler_calls++;
}

static void t_sigchld(void) {
    struct sigaction sa = {0};
    sa.sa_handler = count_handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    pid_t p = fork();
    if (p == 0) _exit(0);
    for (int i = 0; i < 500 && !handler_calls; i++) sleep_ms(10);
    int st;
    waitpid(p, &st, 0);
    if (!handler_calls) {
        printf("  sigchld: no SIGCHLD handler call within 5 s\n");
        _exit(1);
    }
}

/* A grandchild that sends SIGUSR1 to its parent, waits, then writes one byte to fd. */
static pid_t signal_then_write(int fd) {
    pid_t p = fork();
    if (p == 0) {
        sleep_ms(200);
        kill(getppid(), SIGUSR1);
        sleep_ms(200);
        (void)!write(fd, "x", 1);
        _exit(0);
    }
    return p;
}

static void t_restart(bool restart) {
    struct sigaction sa = {0};
    sa.sa_handler = count_handler;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    int fds[2];
    if (pipe(fds) < 0) _exit(95);
    pid_t p = signal_then_write(fds[1]);
    char c = 0;
    errno = 0;
    ssize_t n = read(fds[0], &c, 1);
    int e = errno;
    int st;
    waitpid(p, &st, 0);
    if (handler_calls != 1) {
        printf("  %s: handler ran %d times\n", restart ? "sa-restart" : "eintr", (int)handler_calls);
        _exit(1);
    }
    if (restart && (n != 1 || c != 'x')) {
        printf("  sa-restart: read returned %zd (errno %d), expected the byte\n", n, e);
        _exit(2);
    }
    if (!restart && (n != -1 || e != EINTR)) {
        printf("  eintr: read returned %zd errno %d, expected -1 EINTR\n", n, e);
        _exit(3);
    }
}
static void t_sa_restart(void) { t_restart(true); }
static void t_eintr(void) { t_restart(false); }

static void t_sigprocmask(void) {
    struct sigaction sa = {0};
    sa.sa_handler = count_handler;
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &old);
    kill(getpid(), SIGUSR2);
    sleep_ms(20);
    sigpending(&pend);
    if (handler_calls != 0 || !sigismember(&pend, SIGUSR2)) {
        printf("  sigprocmask: blocked signal delivered (%d) or not pending\n", (int)handler_calls);
        _exit(1);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (handler_calls != 1) {
        printf("  sigprocmask: %d deliveries after unblocking, expected 1\n", (int)handler_calls);
        _exit(2);
    }
    sigpending(&pend);
    if (sigismember(&pend, SIGUSR2)) _exit(3);
}

static void bounded_idle(void) {
    for (int i = 0; i < 1000; i++) sleep_ms(10); /* 10 s at most */
    _exit(99);
}

static void t_kill_pgrp(void) {
    pid_t g[3];
    for (int i = 0; i < 3; i++) {
        g[i] = fork();
        if (g[i] == 0) {
            setpgid(0, i == 0 ? 0 : g[0]);
            bounded_idle();
        }
        if (g[i] < 0) _exit(96);
        setpgid(g[i], g[0]); /* also from this side: no race with the kill below */
    }
    pid_t bystander = fork();
    if (bystander == 0) bounded_idle();
    if (kill(-g[0], SIGTERM) < 0) {
        printf("  kill-pgrp: kill(-%d): %s\n", (int)g[0], strerror(errno));
        _exit(1);
    }
    int code = 0;
    for (int i = 0; i < 3; i++) {
        int st;
        if (wait_deadline(g[i], &st, 0, 5000) != g[i] || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
            printf("  kill-pgrp: group member %d: %s\n", i, status_text(st));
            code = 2;
        }
    }
    int st;
    if (waitpid(bystander, &st, WNOHANG) != 0) {
        printf("  kill-pgrp: the process outside the group ended too\n");
        code = 3;
    }
    kill(bystander, SIGKILL);
    wait_deadline(bystander, &st, 0, 5000);
    if (kill(-g[0], 0) == 0 || errno != ESRCH) {
        printf("  kill-pgrp: the empty group still takes signals\n");
        code = 4;
    }
    _exit(code);
}

static void t_stop_cont(void) {
    pid_t p = fork();
    if (p == 0) bounded_idle();
    int st = 0;
    kill(p, SIGSTOP);
    pid_t r = wait_deadline(p, &st, WUNTRACED, 5000);
    if (r != p || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) {
        printf("  stop-cont: after SIGSTOP: %s\n", r == -2 ? "no report" : status_text(st));
        kill(p, SIGKILL);
        _exit(1);
    }
    kill(p, SIGCONT);
    r = wait_deadline(p, &st, WCONTINUED, 5000);
    if (r != p || !WIFCONTINUED(st)) {
        printf("  stop-cont: after SIGCONT: %s\n", r == -2 ? "no report" : status_text(st));
        kill(p, SIGKILL);
        _exit(2);
    }
    kill(p, SIGKILL);
    r = wait_deadline(p, &st, 0, 5000);
    if (r != p || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) _exit(3);
}

static void t_sigkill_blocked(void) {
    pid_t p = fork();
    if (p == 0) {
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        signal(SIGTERM, SIG_IGN);
        bounded_idle();
    }
    sleep_ms(20);
    kill(p, SIGTERM);
    kill(p, SIGKILL);
    int st = 0;
    if (wait_deadline(p, &st, 0, 5000) != p || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        printf("  sigkill-blocked: %s\n", status_text(st));
        _exit(1);
    }
}

struct handler_case {
    const char *name;
    void (*fn)(void);
};

static const struct handler_case handler_cases[] = {
    {"segv-siginfo", t_segv_siginfo},   {"fpe-siginfo", t_fpe_siginfo},
    {"ill-siginfo", t_ill_siginfo},     {"segv-altstack", t_segv_altstack},
    {"sigreturn-state", t_sigreturn_state}, {"sigchld", t_sigchld},
    {"sa-restart", t_sa_restart},       {"eintr", t_eintr},
    {"sigprocmask", t_sigprocmask},     {"kill-pgrp", t_kill_pgrp},
    {"stop-cont", t_stop_cont},         {"sigkill-blocked", t_sigkill_blocked},
};

int main(int argc, char **argv) {
    ulib_prog = "faulttest";
    if (argc > 1) uusage("(no arguments)");
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        int st = run_child(faults[i].fn, 30000);
        if (st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == faults[i].sig) pass(faults[i].name);
        else fail(faults[i].name, "%s, expected signal %d", status_text(st), faults[i].sig);
    }
    for (size_t i = 0; i < sizeof handler_cases / sizeof handler_cases[0]; i++) {
        int st = run_child(handler_cases[i].fn, 30000);
        if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) pass(handler_cases[i].name);
        else fail(handler_cases[i].name, "%s", status_text(st));
    }
    /* The parent itself: still able to compute, allocate, create processes. */
    char *m = malloc(1 << 16);
    uint64_t h = m ? ufnv1a(UFNV_INIT, memset(m, 7, 1 << 16), 1 << 16) : 0;
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st;
    if (m && h != 0 && p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st)) pass("parent-alive");
    else fail("parent-alive", "the parent cannot work normally any more");
    free(m);
    printf("faulttest: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
