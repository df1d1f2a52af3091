/* sigstress: regression checks for asynchronous signal delivery (found in review of the
 * kernel's signal code). Prints "PASS name" / "FAIL name: why" and "sigstress: PASS" when all
 * passed (exit 0). Runs on Linux too.
 *   regs       SIGALRM every 2 ms while a loop keeps known values in rax, rcx and r11: after
 *              the handlers return, all three still hold them (sigreturn goes back with every
 *              register, not through SYSRET's rcx/r11)
 *   restart    a handler that raises a second signal (blocked during the first, SA_RESTART)
 *              while rax holds -4 (-EINTR) never moves the program counter
 *   fpu        three processes, each with its own value in xmm0, take SIGALRM every 200 us for
 *              2 s: none ever sees another one's xmm0
 *   bad-tls    clone with a non-canonical CLONE_SETTLS base fails with EPERM
 *   bad-handler a handler address in the kernel half ends the process with SIGSEGV */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "utest.h"

static volatile long alarms, usr2s;
static int raise_usr2;

static void on_alarm(int s) {
    (void)s;
    alarms++;
    if (raise_usr2) raise(SIGUSR2);
}
static void on_usr2(int s) { (void)s; usr2s++; }

static void set_timer(long usec) {
    struct itimerval it = {{0, usec}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void handle(int sig, void (*fn)(int), int flags, int also_block) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (also_block) sigaddset(&sa.sa_mask, also_block);
    sigaction(sig, &sa, NULL);
}

/* Spins with rax = -4, rcx = 0x1111, r11 = 0x2222; returns a mask of registers that changed. */
static int spin_with_known_registers(long iters) {
    long rax, rcx, r11;
    __asm__ volatile("mov $-4, %%rax\n"
                     "mov $0x1111, %%rcx\n"
                     "mov $0x2222, %%r11\n"
                     "1: .rept 32\n nop\n .endr\n"
                     "dec %3\n"
                     "jnz 1b\n"
                     "mov %%r11, %2\n"
                     : "=a"(rax), "=c"(rcx), "=r"(r11), "+r"(iters)
                     :
                     : "r11", "memory", "cc");
    return (rax != -4) | (rcx != 0x1111) << 1 | (r11 != 0x2222) << 2;
}

static void t_regs(int mode) {
    const char *name = mode ? "restart" : "regs";
    raise_usr2 = mode;
    alarms = usr2s = 0;
    handle(SIGALRM, on_alarm, 0, SIGUSR2);
    handle(SIGUSR2, on_usr2, SA_RESTART, 0);
    set_timer(2000);
    int bad = 0, first = 0;
    for (int i = 0; i < 100; i++) {
        int b = spin_with_known_registers(100000);
        if (b && !bad) first = b;
        bad += b != 0;
    }
    set_timer(0);
    if (bad) fail(name, "%d of 100 loops saw changed registers (mask %#x: 1 rax, 2 rcx, 4 r11)", bad, first);
    else if (!alarms) fail(name, "no SIGALRM arrived");
    else pass(name);
}

/* Counts the times xmm0 did not hold pattern after a short spin. */
static long xmm0_mismatches(long pattern, long rounds) {
    long bad = 0;
    __asm__ volatile("movq %[pat], %%xmm0\n"
                     "2: mov $2000, %%r8\n"
                     "1: dec %%r8\n jnz 1b\n"
                     "movq %%xmm0, %%r9\n"
                     "cmp %[pat], %%r9\n"
                     "je 3f\n inc %[bad]\n movq %[pat], %%xmm0\n"
                     "3: dec %[n]\n jnz 2b\n"
                     : [bad] "+r"(bad), [n] "+r"(rounds)
                     : [pat] "r"(pattern)
                     : "r8", "r9", "xmm0", "memory", "cc");
    return bad;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static volatile double sink;
static void on_alarm_fpu(int s) { sink = sink * 1.5 + s; } /* the handler uses the SSE registers too */

static void t_fpu(void) {
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            handle(SIGALRM, on_alarm_fpu, SA_RESTART, 0);
            set_timer(200);
            long bad = 0, pattern = 0x1111111111111111L * (k + 1);
            double end = seconds() + 2;
            while (seconds() < end) bad += xmm0_mismatches(pattern, 50);
            set_timer(0);
            _exit(bad ? 1 : 0);
        }
    }
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        int st = 0;
        if (kids[k] < 0 || waitpid(kids[k], &st, 0) != kids[k] || !WIFEXITED(st) || WEXITSTATUS(st)) bad++;
    }
    if (bad) fail("fpu", "%d of 3 processes saw a foreign xmm0 value", bad);
    else pass("fpu");
}

static void t_bad_tls(void) {
    long r = syscall(SYS_clone, SIGCHLD | CLONE_SETTLS, 0, 0, 0, 0x8000000000000000ul);
    if (r == 0) syscall(SYS_exit, 0);
    int e = errno;
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    if (r != -1 || e != EPERM) fail("bad-tls", "clone returned %ld (errno %d), expected EPERM", r, e);
    else pass("bad-tls");
}

struct kernel_sigaction { unsigned long handler, flags, restorer, mask; };

static void t_bad_handler(void) {
    pid_t p = fork();
    if (p == 0) {
        struct kernel_sigaction a = {0x8000000000001000ul, 0x04000000ul /* SA_RESTORER */, 0, 0};
        syscall(SYS_rt_sigaction, SIGUSR1, &a, NULL, 8);
        kill(getpid(), SIGUSR1);
        _exit(0);
    }
    int st = 0;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
        fail("bad-handler", "the child ended with status %#x, expected SIGSEGV", st);
    else
        pass("bad-handler");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    t_regs(0);
    t_regs(1);
    t_fpu();
    t_bad_tls();
    t_bad_handler();
    printf("sigstress: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
