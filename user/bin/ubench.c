/* ubench: user-space micro-benchmarks for `make bench`. Prints "BENCH name value" lines
 * (integers) that scripts/bench.sh turns into a table. The same static binary runs on the host
 * Linux, so the figures can be set side by side.
 *
 *   getpid_ns            one getpid system call, round trip
 *   fork_exit_wait_us    fork, the child _exits at once, the parent waits for it
 *   execve_hellostd_us   fork + execve("/bin/hellostd --child exec") + wait, minus the figure
 *                        above: the cost of execve and of a tiny program start
 *   pipe_mbps            64 MiB from a child to its parent through a pipe, 64 KiB writes
 *   ipc_rtt_us           SABOS only (IPC system calls): one message there and back
 *
 * Usage: ubench [HELLOSTD_PATH]   (default /bin/hellostd) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sabos.h"

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void report(const char *name, uint64_t v) { printf("BENCH %s %llu\n", name, (unsigned long long)v); }

static uint64_t bench_getpid(void) {
    enum { N = 20000 };
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++) syscall(SYS_getpid);
    return (now_ns() - t0) / N;
}

static int wait_ok(pid_t p) {
    int st;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return st;
}

static uint64_t bench_fork(void) {
    enum { N = 200 };
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        if (p < 0 || wait_ok(p) != 0) return 0;
    }
    return (now_ns() - t0) / N / 1000;
}

static uint64_t bench_exec(const char *path) {
    enum { N = 50 };
    int devnull = open("/dev/null", O_WRONLY);
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++) {
        pid_t p = fork();
        if (p == 0) {
            if (devnull >= 0) dup2(devnull, 1);
            char *argv[] = {"hellostd", "--child", "exec", NULL};
            execv(path, argv);
            _exit(127);
        }
        int st = p < 0 ? -1 : wait_ok(p);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 9) {
            fprintf(stderr, "ubench: %s --child exec ended with status %#x\n", path, st);
            return 0;
        }
    }
    if (devnull >= 0) close(devnull);
    return (now_ns() - t0) / N / 1000;
}

static uint64_t bench_pipe(void) {
    enum { TOTAL = 64 << 20, CHUNK = 64 << 10 };
    static char buf[CHUNK];
    int fds[2];
    if (pipe(fds) < 0) return 0;
    uint64_t t0 = now_ns();
    pid_t p = fork();
    if (p == 0) {
        close(fds[0]);
        memset(buf, 'p', sizeof buf);
        for (size_t done = 0; done < TOTAL;) {
            ssize_t n = write(fds[1], buf, CHUNK);
            if (n <= 0) _exit(1);
            done += (size_t)n;
        }
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    int st = wait_ok(p);
    uint64_t ns = now_ns() - t0;
    if (got != TOTAL || st != 0 || !ns) return 0;
    return (uint64_t)TOTAL * 1000ull / ns; /* bytes per µs = MB/s */
}

static uint64_t bench_ipc(void) {
    enum { N = 2000 };
    struct sabos_ipc_stat probe;
    if (sabos_ipc_stat(&probe) < 0) return 0; /* not SABOS */
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
        char b[64];
        for (int i = 0; i < N; i++) {
            struct sabos_msg_hdr h;
            long n = sabos_ipc_recv(parent, &h, b, sizeof b, SABOS_IPC_FOREVER);
            if (n < 0 || sabos_ipc_send(parent, h.type, b, (size_t)n) < 0) _exit(1);
        }
        _exit(0);
    }
    char b[64] = "ping";
    /* The child's mailbox appears when it first receives: retry the first send briefly. */
    uint64_t t0 = 0;
    for (int i = 0; i < N; i++) {
        struct sabos_msg_hdr h;
        long s;
        int tries = 0;
        while ((s = sabos_ipc_send(p, 1, b, 8)) < 0 && tries++ < 1000) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (s < 0) return 0;
        if (i == 0) t0 = now_ns();
        if (sabos_ipc_recv(p, &h, b, sizeof b, SABOS_IPC_FOREVER) < 0) return 0;
    }
    uint64_t ns = now_ns() - t0;
    if (wait_ok(p) != 0) return 0;
    return ns / (N - 1) / 1000 ? ns / (N - 1) / 1000 : 1;
}

int main(int argc, char **argv) {
    const char *hellostd = argc > 1 ? argv[1] : "/bin/hellostd";
    setvbuf(stdout, NULL, _IOLBF, 0);
    report("getpid_ns", bench_getpid());
    uint64_t fork_us = bench_fork();
    report("fork_exit_wait_us", fork_us);
    uint64_t exec_us = bench_exec(hellostd);
    report("fork_execve_wait_us", exec_us);
    report("execve_hellostd_us", exec_us > fork_us ? exec_us - fork_us : 0);
    report("pipe_mbps", bench_pipe());
    uint64_t ipc = bench_ipc();
    if (ipc) report("ipc_rtt_us", ipc);
    return 0;
}
