/* forktest: process creation and reaping (POSIX.1-2017 fork, vfork, execv, posix_spawn,
 * waitpid; Linux wait4), for SABOS and Linux alike.
 *
 * forktest [-m KB]: prints "PASS name" or "FAIL name: details" per check and exits 0 only when
 * all passed:
 *   fork-100       100 children exit with distinct codes; wait4 reaps each with its code and pid
 *   no-zombies     then wait4 and waitpid(WNOHANG) fail with ECHILD (nothing left over)
 *   getppid        a child sees the parent's pid
 *   cow            parent and child write the same global, heap, stack and 1 MiB buffer and each
 *                  sees only its own values (copy-on-write)
 *   wait-nohang    waitpid(WNOHANG) returns 0 for a running child, the pid once it has exited
 *   vfork-exec     vfork then execv of this program, exit code seen by the parent
 *   posix-spawn    posix_spawn of this program, exit code seen by the parent
 *   memory-returned (only with -m KB) MemFree (/proc/meminfo) after the fork phase is at most KB
 *                  below its value before (frames of the children are given back)
 * Children re-run this program as "forktest --child-exit N" (path: see ufind_self in ulib.h).
 * Every wait is bounded: children end by themselves within seconds. */
#include "ulib.h"
#include "utest.h"
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static char self[PATH_MAX];

static long long memfree_kb(void) {
    char text[8192];
    if (uread_file("/proc/meminfo", text, sizeof text) < 0) return -1;
    char *p = strstr(text, "MemFree:");
    return p ? strtoll(p + 8, NULL, 10) : -1;
}

/* Waits for pid (EINTR retried); true when it exited with code. */
static bool wait_exit(pid_t pid, int code, const char *name) {
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
    if (r != pid) {
        fail(name, "waitpid(%d) returned %d: %s", (int)pid, (int)r, strerror(errno));
        return false;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != code) {
        fail(name, "status %#x, expected exit code %d", st, code);
        return false;
    }
    return true;
}

static void test_fork_many(void) {
    enum { N = 100 };
    pid_t pids[N + 1];
    int forked = 0;
    for (int i = 1; i <= N; i++) {
        pid_t p = fork();
        if (p == 0) _exit(i);
        if (p < 0) {
            fail("fork-100", "fork %d failed: %s", i, strerror(errno));
            break;
        }
        pids[i] = p;
        forked++;
    }
    bool seen[N + 1] = {false};
    int reaped = 0, bad = 0;
    for (;;) {
        int st;
        struct rusage ru;
        pid_t r = wait4(-1, &st, 0, &ru);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        reaped++;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (code < 1 || code > N || seen[code] || pids[code] != r) {
            if (bad++ < 5) fail("fork-100", "pid %d: status %#x unexpected", (int)r, st);
            continue;
        }
        seen[code] = true;
    }
    int e = errno;
    if (forked == N && reaped == N && bad == 0) pass("fork-100");
    else if (bad == 0) fail("fork-100", "forked %d, reaped %d", forked, reaped);
    int st;
    if (e == ECHILD && wait4(-1, &st, WNOHANG, NULL) < 0 && errno == ECHILD &&
        waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD)
        pass("no-zombies");
    else fail("no-zombies", "wait after reaping: %s", strerror(e));
}

static void test_getppid(void) {
    pid_t me = getpid();
    pid_t p = fork();
    if (p == 0) _exit(getppid() == me ? 0 : 1);
    if (p < 0) fail("getppid", "fork: %s", strerror(errno));
    else if (wait_exit(p, 0, "getppid")) pass("getppid");
}

static int g_value = 1;

static void test_cow(void) {
    enum { BIG = 1 << 20 };
    int *h = malloc(sizeof *h);
    unsigned char *big = malloc(BIG);
    if (!h || !big) {
        fail("cow", "malloc failed");
        return;
    }
    volatile int s = 3;
    *h = 2;
    g_value = 1;
    memset(big, 0xaa, BIG);
    int fds[2];
    if (pipe(fds) < 0) {
        fail("cow", "pipe: %s", strerror(errno));
        return;
    }
    pid_t p = fork();
    if (p == 0) {
        close(fds[1]);
        int code = 0;
        if (g_value != 1 || *h != 2 || s != 3 || big[0] != 0xaa) code |= 1; /* pre-fork values */
        g_value = 10;
        *h = 20;
        s = 30;
        for (size_t i = 0; i < BIG; i += 4096) big[i] = 0x55;
        char c;
        while (read(fds[0], &c, 1) < 0 && errno == EINTR) {} /* parent has written its values */
        if (g_value != 10 || *h != 20 || s != 30) code |= 2;
        for (size_t i = 0; i < BIG; i += 4096)
            if (big[i] != 0x55 || big[i + 1] != 0xaa) code |= 4;
        _exit(code);
    }
    close(fds[0]);
    if (p < 0) {
        fail("cow", "fork: %s", strerror(errno));
        close(fds[1]);
        return;
    }
    g_value = 100;
    *h = 200;
    s = 300;
    for (size_t i = 0; i < BIG; i += 4096) big[i + 1] = 0x11;
    close(fds[1]); /* lets the child check */
    int st;
    pid_t r;
    while ((r = waitpid(p, &st, 0)) < 0 && errno == EINTR) {}
    bool mine = g_value == 100 && *h == 200 && s == 300;
    for (size_t i = 0; i < BIG; i += 4096)
        if (big[i] != 0xaa || big[i + 1] != 0x11) mine = false;
    if (r != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("cow", "child saw wrong values (status %#x: 1 pre-fork, 2 own, 4 buffer)", st);
    else if (!mine) fail("cow", "the parent's values changed");
    else pass("cow");
    free(h);
    free(big);
}

static void test_wait_nohang(void) {
    int fds[2];
    if (pipe(fds) < 0) {
        fail("wait-nohang", "pipe: %s", strerror(errno));
        return;
    }
    pid_t p = fork();
    if (p == 0) {
        close(fds[1]);
        char c;
        ssize_t n;
        while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR) {} /* EOF when the parent closes */
        _exit(n == 0 ? 5 : 6);
    }
    close(fds[0]);
    int st;
    pid_t r = waitpid(p, &st, WNOHANG);
    close(fds[1]);
    if (p < 0) fail("wait-nohang", "fork: %s", strerror(errno));
    else if (r != 0) fail("wait-nohang", "WNOHANG on a running child returned %d", (int)r);
    else if (wait_exit(p, 5, "wait-nohang")) pass("wait-nohang");
}

static void test_vfork(void) {
    char *av[] = {self, "--child-exit", "42", NULL};
    pid_t p = vfork();
    if (p == 0) {
        execv(self, av);
        _exit(127);
    }
    if (p < 0) fail("vfork-exec", "vfork: %s", strerror(errno));
    else if (wait_exit(p, 42, "vfork-exec")) pass("vfork-exec");
}

static void test_spawn(void) {
    char *av[] = {self, "--child-exit", "43", NULL};
    pid_t p;
    int r = posix_spawn(&p, self, NULL, NULL, av, environ);
    if (r != 0) fail("posix-spawn", "%s", strerror(r));
    else if (wait_exit(p, 43, "posix-spawn")) pass("posix-spawn");
    char *bad[] = {"/nonexistent/program", NULL};
    r = posix_spawn(&p, bad[0], NULL, NULL, bad, environ);
    if (r == 0) { /* some implementations report exec failure as exit 127 */
        if (wait_exit(p, 127, "posix-spawn-missing")) pass("posix-spawn-missing");
    } else if (r == ENOENT) {
        pass("posix-spawn-missing");
    } else {
        fail("posix-spawn-missing", "error %s, expected ENOENT", strerror(r));
    }
}

int main(int argc, char **argv) {
    ulib_prog = "forktest";
    if (argc == 3 && !strcmp(argv[1], "--child-exit")) return atoi(argv[2]);
    long long slack = -1;
    int c;
    while ((c = ugetopt(argc, argv, "m:")) != -1) {
        if (c == 'm' && uparse_ll(optarg, &slack) && slack >= 0) continue;
        uusage("[-m KB]");
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!ufind_self(argv[0], self, sizeof self)) {
        fail("self-path", "cannot find this program to re-run it");
        return 1;
    }
    long long before = memfree_kb();
    test_fork_many();
    test_getppid();
    test_cow();
    test_wait_nohang();
    long long after = memfree_kb();
    test_vfork();
    test_spawn();
    if (slack >= 0) {
        if (before < 0 || after < 0) fail("memory-returned", "cannot read MemFree");
        else if (before - after > slack)
            fail("memory-returned", "MemFree %lld kB before, %lld kB after (more than %lld kB gone)",
                 before, after, slack);
        else pass("memory-returned");
        printf("info: MemFree %lld kB before the fork tests, %lld kB after\n", before, after);
    }
    printf("forktest: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
