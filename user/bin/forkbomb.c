/* forkbomb: the process limit holds and the system recovers (POSIX.1-2017 fork: EAGAIN when
 * the system-wide or per-user process limit is reached, ENOMEM when memory is short).
 *
 * forkbomb [-c CAP] [-l NPROC]: forks children (each blocks reading a pipe, so all stay alive)
 * until fork fails or CAP children exist (default 1000), then releases them all at once (the
 * pipe's write end is closed: each sees end of file and exits), reaps every one, and checks
 * that fork works again. -l sets RLIMIT_NPROC first (Linux ignores it for root; the cap still
 * bounds a host run). Prints:
 *   "forkbomb: reached N processes (fork failed: EAGAIN)" or "... (cap reached)"
 *   "PASS limit"       fork failed with EAGAIN or ENOMEM, or the cap was reached
 *   "PASS reaped"      all N children were reaped with exit code 0, then wait gives ECHILD
 *   "PASS recovered"   a fork after the release works
 * and exits 0 only when all passed. On SABOS the limit is PROC_MAX (256) live processes. On a
 * Linux host run it as an unprivileged user with -l (e.g. -l 200) or rely on the cap. */
#include "ulib.h"
#include "utest.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

int main(int argc, char **argv) {
    ulib_prog = "forkbomb";
    long long cap = 1000, nproc = -1;
    int c;
    while ((c = ugetopt(argc, argv, "c:l:")) != -1) {
        if (c == 'c' && uparse_ll(optarg, &cap) && cap > 0 && cap <= 100000) continue;
        if (c == 'l' && uparse_ll(optarg, &nproc) && nproc > 0) continue;
        uusage("[-c CAP] [-l NPROC]");
    }
    if (optind < argc) uusage("[-c CAP] [-l NPROC]");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (nproc > 0) {
        struct rlimit rl = {(rlim_t)nproc, (rlim_t)nproc};
        if (setrlimit(RLIMIT_NPROC, &rl) < 0) uerr("setrlimit(RLIMIT_NPROC)");
    }
    int gate[2];
    if (pipe(gate) < 0) {
        uerr("pipe");
        return 1;
    }
    signal(SIGCHLD, SIG_DFL);
    long long n = 0;
    int fork_errno = 0;
    while (n < cap) {
        pid_t p = fork();
        if (p == 0) {
            close(gate[1]);
            char ch;
            ssize_t r;
            while ((r = read(gate[0], &ch, 1)) < 0 && errno == EINTR) {}
            _exit(r == 0 ? 0 : 1);
        }
        if (p < 0) {
            fork_errno = errno;
            break;
        }
        n++;
    }
    close(gate[0]);
    if (fork_errno)
        printf("forkbomb: reached %lld processes (fork failed: %s)\n", n,
               fork_errno == EAGAIN ? "EAGAIN" : fork_errno == ENOMEM ? "ENOMEM" : strerror(fork_errno));
    else printf("forkbomb: reached %lld processes (cap reached)\n", n);
    if (fork_errno == 0 || fork_errno == EAGAIN || fork_errno == ENOMEM) pass("limit");
    else fail("limit", "fork failed with %s, expected EAGAIN or ENOMEM", strerror(fork_errno));

    close(gate[1]); /* every child reads end of file now */
    long long reaped = 0, bad = 0;
    for (;;) {
        int st;
        pid_t r = waitpid(-1, &st, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        reaped++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    int e = errno;
    if (reaped == n && bad == 0 && e == ECHILD) pass("reaped");
    else fail("reaped", "%lld of %lld reaped, %lld with a bad status, last wait: %s", reaped, n, bad,
              strerror(e));

    /* Right after the release the system may still be tearing processes down: a few tries. */
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) {
        pid_t p = fork();
        if (p == 0) _exit(7);
        int st;
        if (p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7) ok = true;
        else {
            struct timespec t = {0, 20 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }
    if (ok) pass("recovered");
    else fail("recovered", "fork still fails after the release");
    printf("forkbomb: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
