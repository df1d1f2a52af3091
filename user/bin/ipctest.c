/* ipctest: checks SABOS's IPC contract (docs/ipc.md) from user space, with forked processes
 * as peers. One line per check, "ipctest: PASS name ..." or "ipctest: FAIL name: why", then
 * "ipctest: N passed, N failed"; exit status 0 only when everything passed. Every wait is
 * bounded (receive timeouts, an alarm around the one receive without a deadline).
 *
 * Checks: stat of a fresh queue; ping-pong with an echoing child (200 messages of varying
 * size, intact and in order); timeout 0 returns -EAGAIN at once; a 100 ms timeout returns
 * -ETIMEDOUT after at least 100 ms; receive-from and by-type filtering leave other messages
 * queued in order; a full queue gives -EAGAIN; a too-small buffer gives -EMSGSIZE and leaves
 * the message queued; bad arguments and pointers give clear errors; a signal ends a blocked
 * receive with -EINTR even with SA_RESTART; a receive without deadline gets a late message;
 * a process that exits with a full queue gives the memory back (sabos_meminfo). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sabos.h"

#define MS 1000000ull
#define T_DATA 1
#define T_QUIT 2
#define T_OTHER 7

static int passed, failed;
static unsigned char sbuf[SABOS_IPC_MSG_MAX + 1], rbuf[SABOS_IPC_MSG_MAX + 1];

static void result(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(const char *name, bool ok, const char *fmt, ...) {
    char why[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (ok) passed++;
    else failed++;
    printf("ipctest: %s %s%s%s\n", ok ? "PASS" : "FAIL", name, why[0] ? (ok ? " " : ": ") : "", why);
    fflush(stdout);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* Takes everything left in our queue (so one check cannot confuse the next). */
static void drain(void) {
    struct sabos_msg_hdr h;
    while (sabos_ipc_try_recv(SABOS_IPC_ANY, &h, rbuf, sizeof(rbuf)) >= 0) {}
}

static const char *err(long r) { return r < 0 ? strerror((int)-r) : "no error"; }

static int reap(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return st;
}

/* Child: echoes messages from the parent until T_QUIT or 5 s of silence. */
static void echo_child(pid_t parent) {
    for (;;) {
        struct sabos_msg_hdr h;
        long n = sabos_ipc_recv(parent, &h, rbuf, sizeof(rbuf), 5000 * MS);
        if (n < 0 || h.type == T_QUIT) _exit(n < 0 ? 1 : 0);
        if (sabos_ipc_send(parent, h.type, rbuf, (size_t)n) < 0) _exit(2);
    }
}

static void check_stat(void) {
    struct sabos_ipc_stat st = {0};
    long r = sabos_ipc_stat(&st);
    result("stat", r == 0 && st.queued == 0 && st.capacity == SABOS_IPC_QUEUE_MAX &&
                       st.msg_max == SABOS_IPC_MSG_MAX,
           "r=%ld queued=%u capacity=%u msg_max=%u", r, st.queued, st.capacity, st.msg_max);
    long bad = sabos_ipc_stat((struct sabos_ipc_stat *)8);
    result("stat_bad_pointer", bad == -EFAULT, "stat(0x8) = %ld (%s)", bad, err(bad));
}

static void check_ping_pong(void) {
    pid_t me = getpid(), child = fork();
    if (child == 0) echo_child(me);
    if (child < 0) {
        result("ping_pong", false, "fork: %s", strerror(errno));
        return;
    }
    int bad = 0, first = -1;
    long r = 0;
    uint64_t t0 = now_ns();
    int i;
    for (i = 0; i < 200; i++) {
        size_t len = 1 + (size_t)(i * 97) % SABOS_IPC_MSG_MAX;
        for (size_t k = 0; k < len; k++) sbuf[k] = (unsigned char)(i + k * 3);
        if ((r = sabos_ipc_send(child, T_DATA, sbuf, len)) < 0) break;
        struct sabos_msg_hdr h;
        if ((r = sabos_ipc_recv(child, &h, rbuf, sizeof(rbuf), 5000 * MS)) < 0) break;
        if ((size_t)r != len || h.len != len || h.sender != child || h.type != T_DATA ||
            memcmp(sbuf, rbuf, len) != 0) {
            if (!bad++) first = i;
        }
        r = 0;
    }
    uint64_t dt = now_ns() - t0;
    sabos_ipc_send(child, T_QUIT, NULL, 0);
    int st = reap(child);
    result("ping_pong", r == 0 && bad == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "%d round trips, %d bad (first %d), last error %s, child status 0x%x, %llu us each", i, bad, first,
           err(r), st, i ? (unsigned long long)(dt / (uint64_t)i / 1000) : 0ull);
}

static void check_timeout_zero(void) {
    drain();
    uint64_t best = UINT64_MAX;
    long r = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = now_ns();
        r = sabos_ipc_recv(SABOS_IPC_ANY, NULL, rbuf, sizeof(rbuf), 0);
        uint64_t dt = now_ns() - t0;
        if (dt < best) best = dt;
        if (r != -EAGAIN) break;
    }
    result("timeout_zero", r == -EAGAIN && best < MS, "recv = %ld (%s) in %llu ns", r, err(r),
           (unsigned long long)best);
}

static void check_timeout_100ms(void) {
    drain();
    uint64_t t0 = now_ns();
    long r = sabos_ipc_recv(SABOS_IPC_ANY, NULL, rbuf, sizeof(rbuf), 100 * MS);
    uint64_t dt = now_ns() - t0;
    result("timeout_100ms", r == -ETIMEDOUT && dt >= 100 * MS && dt < 5000 * MS, "recv = %ld (%s) after %llu us",
           r, err(r), (unsigned long long)(dt / 1000));
}

/* Child: sends `count` one-byte messages c, c+1, ... to the parent, then exits. */
static pid_t sender_child(char c, int count, uint32_t type) {
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        for (int i = 0; i < count; i++) {
            char v = (char)(c + i);
            if (sabos_ipc_send(parent, type, &v, 1) < 0) _exit(1);
        }
        _exit(0);
    }
    return pid;
}

static void check_recv_from(void) {
    drain();
    /* A sends a b c, then B sends p q r; both are done (reaped) before we look. */
    pid_t a = sender_child('a', 3, T_DATA);
    int sa = a > 0 ? reap(a) : -1;
    pid_t b = sender_child('p', 3, T_DATA);
    int sb = b > 0 ? reap(b) : -1;
    if (a <= 0 || b <= 0 || sa != 0 || sb != 0) {
        result("recv_from", false, "senders: pids %d %d, status 0x%x 0x%x", (int)a, (int)b, sa, sb);
        drain();
        return;
    }
    char got[8] = {0};
    int n = 0;
    struct sabos_msg_hdr h;
    bool senders_ok = true;
    for (int i = 0; i < 3; i++) {
        long r = sabos_ipc_recv(b, &h, &got[n], 1, 0);
        if (r == 1) n++;
        senders_ok &= h.sender == b;
    }
    long none = sabos_ipc_recv(b, &h, rbuf, 1, 0);
    struct sabos_ipc_stat st = {0};
    sabos_ipc_stat(&st);
    for (int i = 0; i < 3; i++) {
        long r = sabos_ipc_recv(SABOS_IPC_ANY, &h, &got[n], 1, 0);
        if (r == 1) n++;
        senders_ok &= h.sender == a;
    }
    result("recv_from", n == 6 && memcmp(got, "pqrabc", 6) == 0 && senders_ok && none == -EAGAIN && st.queued == 3,
           "order %.6s (want pqrabc), senders %s, from-drained = %ld, %u left after B", got,
           senders_ok ? "right" : "wrong", none, st.queued);

    /* by type: one type overtakes the other, the other keeps its order */
    pid_t c = sender_child('x', 2, T_DATA), d;
    int sc = c > 0 ? reap(c) : -1;
    d = sender_child('z', 1, T_OTHER);
    int sd = d > 0 ? reap(d) : -1;
    memset(got, 0, sizeof(got));
    long r1 = sabos_ipc_recv_typed(SABOS_IPC_ANY, T_OTHER, &h, &got[0], 1, 0);
    long r2 = sabos_ipc_recv_typed(SABOS_IPC_ANY, T_DATA, &h, &got[1], 1, 0);
    long r3 = sabos_ipc_recv(SABOS_IPC_ANY, &h, &got[2], 1, 0);
    result("recv_by_type", sc == 0 && sd == 0 && r1 == 1 && r2 == 1 && r3 == 1 && memcmp(got, "zxy", 3) == 0,
           "order %.3s (want zxy), results %ld %ld %ld", got, r1, r2, r3);
    drain();
}

static void check_full_queue(void) {
    drain();
    pid_t me = getpid();
    int ok = 0;
    for (unsigned i = 0; i < SABOS_IPC_QUEUE_MAX; i++)
        if (sabos_ipc_send(me, T_DATA, &i, sizeof(i)) == 0) ok++;
    uint64_t t0 = now_ns();
    long full = sabos_ipc_send(me, T_DATA, "z", 1);
    uint64_t dt = now_ns() - t0;
    unsigned v = 99;
    long first = sabos_ipc_recv(SABOS_IPC_ANY, NULL, &v, sizeof(v), 0);
    long again = sabos_ipc_send(me, T_DATA, "z", 1);
    result("full_queue", ok == (int)SABOS_IPC_QUEUE_MAX && full == -EAGAIN && dt < 50 * MS && first == 4 && v == 0 &&
                             again == 0,
           "%d sends fitted, next = %ld (%s) in %llu ns, first back %ld/%u, send after = %ld", ok, full, err(full),
           (unsigned long long)dt, first, v, again);
    drain();
}

static void check_emsgsize(void) {
    drain();
    pid_t me = getpid();
    memset(sbuf, 0x6b, sizeof(sbuf));
    long big = sabos_ipc_send(me, T_DATA, sbuf, SABOS_IPC_MSG_MAX + 1);
    long huge = sabos_ipc_send(me, T_DATA, sbuf, (size_t)-1);
    long s = sabos_ipc_send(me, T_DATA, sbuf, 100);
    struct sabos_msg_hdr h = {0};
    long small = sabos_ipc_recv(SABOS_IPC_ANY, &h, rbuf, 10, 0);
    uint32_t hlen = h.len;
    long full = sabos_ipc_recv(SABOS_IPC_ANY, &h, rbuf, 100, 0);
    result("emsgsize", big == -EMSGSIZE && huge == -EMSGSIZE && s == 0 && small == -EMSGSIZE && hlen == 100 &&
                           full == 100 && memcmp(rbuf, sbuf, 100) == 0,
           "send 4097 = %ld, send -1 = %ld, 10-byte buffer = %ld (hdr len %u), then %ld", big, huge, small, hlen,
           full);
}

static void check_bad_arguments(void) {
    drain();
    pid_t me = getpid();
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    if (gone > 0) reap(gone);
    long esrch = gone > 0 ? sabos_ipc_send(gone, T_DATA, "x", 1) : -1;
    long esrch2 = sabos_ipc_send(0x3ffffff0, T_DATA, "x", 1);
    long einval_pid = sabos_ipc_send(0, T_DATA, "x", 1);
    long einval_neg = sabos_ipc_send(-1, T_DATA, "x", 1);
    long einval_type = sabos_ipc_send(me, 0, "x", 1);
    long efault = sabos_ipc_send(me, T_DATA, (void *)8, 16);
    long efault_k = sabos_ipc_send(me, T_DATA, (void *)0xffff800000000000ull, 16);
    long einval_from = sabos_ipc_recv(-5, NULL, rbuf, 1, 0);
    result("bad_send_arguments",
           esrch == -ESRCH && esrch2 == -ESRCH && einval_pid == -EINVAL && einval_neg == -EINVAL &&
               einval_type == -EINVAL && efault == -EFAULT && efault_k == -EFAULT && einval_from == -EINVAL,
           "dead pid %ld, unused pid %ld, pid 0 %ld, pid -1 %ld, type 0 %ld, buf 0x8 %ld, kernel buf %ld, from -5 %ld",
           esrch, esrch2, einval_pid, einval_neg, einval_type, efault, efault_k, einval_from);

    /* a bad receive buffer: -EFAULT and the message is still there */
    long s = sabos_ipc_send(me, T_DATA, "keep", 4);
    struct sabos_msg_hdr h;
    long f1 = sabos_ipc_recv(SABOS_IPC_ANY, &h, (void *)8, 16, 0);
    long f2 = sabos_ipc_recv(SABOS_IPC_ANY, (struct sabos_msg_hdr *)8, rbuf, 16, 0);
    struct sabos_ipc_stat st = {0};
    sabos_ipc_stat(&st);
    long ok = sabos_ipc_recv(SABOS_IPC_ANY, &h, rbuf, 16, 0);
    result("bad_recv_pointers_keep_message",
           s == 0 && f1 == -EFAULT && f2 == -EFAULT && st.queued == 1 && ok == 4 && memcmp(rbuf, "keep", 4) == 0,
           "bad buf %ld, bad hdr %ld, queued after %u, then %ld", f1, f2, st.queued, ok);
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

static void check_eintr(void) {
    drain();
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* the receive must still end with -EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    got_signal = 0;
    pid_t parent = getpid(), child = fork();
    if (child == 0) {
        sleep_ms(100);
        kill(parent, SIGUSR1);
        _exit(0);
    }
    uint64_t t0 = now_ns();
    long r = child > 0 ? sabos_ipc_recv(SABOS_IPC_ANY, NULL, rbuf, sizeof(rbuf), 5000 * MS) : -1;
    uint64_t dt = now_ns() - t0;
    if (child > 0) reap(child);
    signal(SIGUSR1, SIG_DFL);
    result("signal_is_eintr", r == -EINTR && got_signal == SIGUSR1, "recv = %ld (%s) after %llu ms, handler %s", r,
           err(r), (unsigned long long)(dt / MS), got_signal ? "ran" : "did not run");
}

static void check_forever(void) {
    drain();
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    got_signal = 0;
    pid_t parent = getpid(), child = fork();
    if (child == 0) {
        sleep_ms(200);
        _exit(sabos_ipc_send(parent, T_DATA, "late", 4) == 0 ? 0 : 1);
    }
    alarm(10); /* the guard: a lost wake-up ends as -EINTR, not a hang */
    struct sabos_msg_hdr h = {0};
    uint64_t t0 = now_ns();
    long r = child > 0 ? sabos_ipc_recv(SABOS_IPC_ANY, &h, rbuf, sizeof(rbuf), SABOS_IPC_FOREVER) : -1;
    uint64_t dt = now_ns() - t0;
    alarm(0);
    if (child > 0) reap(child);
    signal(SIGALRM, SIG_DFL);
    result("forever_gets_late_message", r == 4 && h.sender == child && memcmp(rbuf, "late", 4) == 0,
           "recv = %ld (%s) after %llu ms", r, err(r), (unsigned long long)(dt / MS));
}

/* A process that exits with 63 full messages queued gives their memory back. */
static void check_exit_frees_queue(void) {
    drain();
    pid_t me = getpid(), child = fork();
    if (child == 0) {
        struct sabos_msg_hdr h;
        long r = sabos_ipc_recv_typed(me, T_QUIT, &h, rbuf, sizeof(rbuf), 5000 * MS);
        _exit(r == 0 ? 0 : 1);
    }
    if (child < 0) {
        result("exit_frees_queue", false, "fork: %s", strerror(errno));
        return;
    }
    struct sabos_meminfo m0 = {0}, m1 = {0}, m2 = {0};
    long g0 = sabos_meminfo(&m0);
    int sent = 0;
    memset(sbuf, 0x33, SABOS_IPC_MSG_MAX);
    for (unsigned i = 0; i + 1 < SABOS_IPC_QUEUE_MAX; i++)
        if (sabos_ipc_send(child, T_DATA, sbuf, SABOS_IPC_MSG_MAX) == 0) sent++;
    sabos_meminfo(&m1);
    long q = sabos_ipc_send(child, T_QUIT, NULL, 0);
    int st = reap(child);
    long g2 = sabos_meminfo(&m2);
    long gone = sabos_ipc_send(child, T_DATA, "x", 1);
    long long grew = (long long)m1.heap_bytes - (long long)m0.heap_bytes;
    long long left = (long long)m2.heap_bytes - (long long)m0.heap_bytes;
    result("exit_frees_queue",
           g0 == 0 && g2 == 0 && sent == 63 && q == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
               grew >= 63 * (long long)SABOS_IPC_MSG_MAX && left < 64 * 1024 && gone == -ESRCH,
           "%d sent, heap +%lld bytes while queued, %+lld after the exit, child status 0x%x, send after = %ld", sent,
           grew, left, st, gone);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_stat();
    check_ping_pong();
    check_timeout_zero();
    check_timeout_100ms();
    check_recv_from();
    check_full_queue();
    check_emsgsize();
    check_bad_arguments();
    check_eintr();
    check_forever();
    check_exit_frees_queue();
    printf("ipctest: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
