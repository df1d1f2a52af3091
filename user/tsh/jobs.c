/* jobs.c: tsh's job table, waiting and the terminal, following the job-control model of
 * POSIX.1-2017 (XBD 11.1.4 terminal access control, XCU 2.11 signals and error handling,
 * and the jobs/fg/bg/wait utilities of XCU) and the Linux man pages setpgid(2),
 * tcsetpgrp(3), wait4(2).
 *
 * Every pipeline is a job in its own process group (when job control is on). The shell gives
 * the terminal to a foreground job and takes it back when the job ends or stops. Children
 * are reaped with waitpid(-1): whichever child it reports, its job is updated, so a
 * background job that ends while a foreground job runs is remembered and reported before
 * the next prompt. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "tsh.h"

bool job_control;
bool fg_interrupted;
pid_t shell_pgid;
static struct termios shell_tmodes;
static bool have_tmodes;

struct proc {
    pid_t pid;
    int status;
    bool done, stopped;
    char *name;
};

struct job {
    int id;
    pid_t pgid;
    int nprocs;
    struct proc procs[TSH_PIPE_MAX];
    char *text;
    bool background;   /* started with & or continued with bg */
    bool notified;     /* its stop was reported */
    unsigned long seq; /* recency, for the current (+) and previous (-) job */
    struct termios tmodes;
    bool have_tmodes;
};

static struct job *jobs[TSH_JOBS_MAX + 1]; /* by id; 0 unused */
static unsigned long job_seq;

static const char *const signames[] = {
    NULL, "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
};

const char *signal_name(int sig) {
    if (sig > 0 && sig < (int)(sizeof signames / sizeof signames[0])) return signames[sig];
    return NULL;
}

static const int job_signals[] = {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGTERM};

void signals_child_defaults(bool ignore_int) {
    for (size_t i = 0; i < sizeof job_signals / sizeof job_signals[0]; i++) {
        int s = job_signals[i];
        signal(s, ignore_int && (s == SIGINT || s == SIGQUIT) ? SIG_IGN : SIG_DFL);
    }
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void jobs_init(void) {
    shell_pgid = getpgrp();
    pid_t fg = -1;
    /* Wait to be in the foreground (a shell started in the background stops itself). */
    for (int tries = 0; tries < 20; tries++) {
        fg = tcgetpgrp(0);
        if (fg < 0 || fg == shell_pgid) break;
        kill(-shell_pgid, SIGTTIN);
        shell_pgid = getpgrp();
    }
    for (size_t i = 0; i < sizeof job_signals / sizeof job_signals[0]; i++)
        signal(job_signals[i], SIG_IGN);
    if (fg < 0) {
        dprintf(2, "tsh: no job control: the terminal is not this session's controlling terminal\n");
        return;
    }
    if (fg != shell_pgid) {
        dprintf(2, "tsh: no job control: cannot get the terminal's foreground\n");
        return;
    }
    if (shell_pgid != getpid() && setpgid(0, 0) == 0) shell_pgid = getpid();
    if (tcsetpgrp(0, shell_pgid) < 0) {
        dprintf(2, "tsh: no job control: tcsetpgrp: %s\n", strerror(errno));
        return;
    }
    have_tmodes = tcgetattr(0, &shell_tmodes) == 0;
    job_control = true;
}

/* ---- the table ---- */

struct job *job_new(const char *text) {
    for (int id = 1; id <= TSH_JOBS_MAX; id++) {
        if (jobs[id]) continue;
        struct job *j = calloc(1, sizeof *j);
        char *t = strdup(text);
        if (!j || !t) {
            free(j);
            free(t);
            dprintf(2, "tsh: out of memory\n");
            return NULL;
        }
        j->id = id;
        j->text = t;
        j->seq = ++job_seq;
        jobs[id] = j;
        return j;
    }
    dprintf(2, "tsh: too many jobs (limit %d)\n", TSH_JOBS_MAX);
    return NULL;
}

static void job_delete(struct job *j) {
    jobs[j->id] = NULL;
    for (int i = 0; i < j->nprocs; i++) free(j->procs[i].name);
    free(j->text);
    free(j);
}

void job_discard(struct job *j) { job_delete(j); }

void job_add_proc(struct job *j, pid_t pid, const char *name) {
    if (j->nprocs >= TSH_PIPE_MAX) return;
    struct proc *p = &j->procs[j->nprocs++];
    p->pid = pid;
    p->name = strdup(name ? name : "?");
    if (!j->pgid) j->pgid = job_control ? pid : shell_pgid;
}

pid_t job_pgid(const struct job *j) { return j->pgid; }

static bool job_running(const struct job *j) {
    for (int i = 0; i < j->nprocs; i++)
        if (!j->procs[i].done && !j->procs[i].stopped) return true;
    return false;
}

static bool job_done(const struct job *j) {
    for (int i = 0; i < j->nprocs; i++)
        if (!j->procs[i].done) return false;
    return true;
}

/* $? of a job: the last process's exit status, or 128 + the signal that ended or stopped it. */
static int job_status(const struct job *j) {
    if (!j->nprocs) return 0;
    const struct proc *p = &j->procs[j->nprocs - 1];
    for (int i = 0; i < j->nprocs; i++)
        if (j->procs[i].stopped && !j->procs[i].done) return 128 + WSTOPSIG(j->procs[i].status);
    if (WIFSIGNALED(p->status)) return 128 + WTERMSIG(p->status);
    return WEXITSTATUS(p->status);
}

/* Records what waitpid reported for pid. */
static void record(pid_t pid, int status) {
    for (int id = 1; id <= TSH_JOBS_MAX; id++) {
        struct job *j = jobs[id];
        if (!j) continue;
        for (int i = 0; i < j->nprocs; i++) {
            struct proc *p = &j->procs[i];
            if (p->pid != pid) continue;
            p->status = status;
            if (WIFSTOPPED(status)) {
                p->stopped = true;
                j->notified = false;
            } else if (WIFCONTINUED(status)) {
                p->stopped = false;
            } else {
                p->done = true;
                p->stopped = false;
            }
            return;
        }
    }
}

/* No child is left to wait for: whatever the table still expects has gone. */
static void forget_all(void) {
    for (int id = 1; id <= TSH_JOBS_MAX; id++)
        for (int i = 0; jobs[id] && i < jobs[id]->nprocs; i++) {
            if (!jobs[id]->procs[i].done) jobs[id]->procs[i].status = 0;
            jobs[id]->procs[i].done = true;
        }
}

/* Reaps one child; blocking unless nohang. Returns false when nothing was reaped. */
static bool reap(bool nohang) {
    int status;
    int flags = (job_control ? WUNTRACED : 0) | (nohang ? WNOHANG : 0);
    pid_t pid = waitpid(-1, &status, flags);
    if (pid > 0) {
        record(pid, status);
        return true;
    }
    if (pid < 0 && errno == ECHILD) forget_all();
    return false;
}

static char job_mark(const struct job *j) {
    unsigned long best = 0, second = 0;
    for (int id = 1; id <= TSH_JOBS_MAX; id++) {
        if (!jobs[id]) continue;
        unsigned long s = jobs[id]->seq;
        if (s > best) {
            second = best;
            best = s;
        } else if (s > second) {
            second = s;
        }
    }
    return j->seq == best ? '+' : j->seq == second ? '-' : ' ';
}

static void describe(const struct job *j, char *buf, size_t len) {
    const struct proc *p = &j->procs[j->nprocs - 1];
    if (!job_done(j)) {
        snprintf(buf, len, job_running(j) ? "Running" : "Stopped");
    } else if (WIFSIGNALED(p->status)) {
        const char *n = signal_name(WTERMSIG(p->status));
        if (n) snprintf(buf, len, "Killed by SIG%s", n);
        else snprintf(buf, len, "Killed by signal %d", WTERMSIG(p->status));
    } else if (WEXITSTATUS(p->status)) {
        snprintf(buf, len, "Exit %d", WEXITSTATUS(p->status));
    } else {
        snprintf(buf, len, "Done");
    }
}

static void print_job(const struct job *j) {
    char state[64];
    describe(j, state, sizeof state);
    dprintf(2, "[%d]%c %s  %s\n", j->id, job_mark(j), state, j->text);
}

void job_background(struct job *j) {
    j->background = true;
    j->seq = ++job_seq;
    if (j->nprocs) last_bg_pid = j->procs[j->nprocs - 1].pid;
    if (interactive) dprintf(2, "[%d] %d\n", j->id, (int)last_bg_pid);
}

/* The terminal goes back to the shell, in the shell's modes. */
static void take_terminal(struct job *j) {
    if (!job_control) return;
    tcsetpgrp(0, shell_pgid);
    if (j && !job_done(j)) j->have_tmodes = tcgetattr(0, &j->tmodes) == 0;
    if (have_tmodes) tcsetattr(0, TCSANOW, &shell_tmodes);
}

int job_wait_fg(struct job *j) {
    j->background = false;
    while (job_running(j))
        if (!reap(false) && errno != EINTR) break;
    take_terminal(j);
    int status = job_status(j);
    if (!job_done(j)) { /* stopped */
        j->seq = ++job_seq;
        j->notified = true;
        dprintf(2, "\n");
        print_job(j);
        return status;
    }
    bool newline = false;
    for (int i = 0; i < j->nprocs; i++) {
        const struct proc *p = &j->procs[i];
        if (!WIFSIGNALED(p->status)) continue;
        int sig = WTERMSIG(p->status);
        if (sig == SIGINT) {
            newline = true;
            fg_interrupted = true;
        } else if (sig != SIGPIPE) {
            const char *n = signal_name(sig);
            dprintf(2, "tsh: %d (%s) killed by SIG%s%s\n", (int)p->pid, p->name, n ? n : "?",
                    WCOREDUMP(p->status) ? " (core dumped)" : "");
        }
    }
    if (newline && interactive) dprintf(2, "\n");
    job_delete(j);
    return status;
}

void jobs_notify(void) {
    while (reap(true)) {
    }
    for (int id = 1; id <= TSH_JOBS_MAX; id++) {
        struct job *j = jobs[id];
        if (!j || !j->nprocs) continue;
        if (job_done(j)) {
            if (interactive && j->background) print_job(j);
            job_delete(j);
        } else if (!job_running(j) && !j->notified) {
            j->notified = true;
            if (interactive) print_job(j);
        }
    }
}

bool jobs_any_stopped(void) {
    for (int id = 1; id <= TSH_JOBS_MAX; id++)
        if (jobs[id] && !job_done(jobs[id]) && !job_running(jobs[id])) return true;
    return false;
}

void jobs_hangup_stopped(void) {
    if (!job_control) return;
    for (int id = 1; id <= TSH_JOBS_MAX; id++) {
        struct job *j = jobs[id];
        if (j && j->pgid > 0 && !job_done(j) && !job_running(j)) {
            kill(-j->pgid, SIGHUP);
            kill(-j->pgid, SIGCONT);
        }
    }
}

/* ---- builtins ---- */

/* %n, n, %%, %+, %-, or nothing (the current job). */
static struct job *find_job(const char *who, const char *spec) {
    struct job *best = NULL, *second = NULL;
    for (int id = 1; id <= TSH_JOBS_MAX; id++) {
        struct job *j = jobs[id];
        if (!j) continue;
        if (!best || j->seq > best->seq) {
            second = best;
            best = j;
        } else if (!second || j->seq > second->seq) {
            second = j;
        }
    }
    if (!spec || !strcmp(spec, "%") || !strcmp(spec, "%%") || !strcmp(spec, "%+")) {
        if (!best) dprintf(2, "tsh: %s: no current job\n", who);
        return best;
    }
    if (!strcmp(spec, "%-")) {
        if (!second) dprintf(2, "tsh: %s: no previous job\n", who);
        return second;
    }
    const char *s = spec[0] == '%' ? spec + 1 : spec;
    char *end;
    long id = strtol(s, &end, 10);
    if (*s && !*end && id >= 1 && id <= TSH_JOBS_MAX && jobs[id]) return jobs[id];
    dprintf(2, "tsh: %s: %s: no such job\n", who, spec);
    return NULL;
}

int builtin_jobs(int argc, char **argv) {
    jobs_notify();
    for (int id = 1; id <= TSH_JOBS_MAX; id++)
        if (jobs[id] && jobs[id]->nprocs) {
            char state[64];
            describe(jobs[id], state, sizeof state);
            dprintf(1, "[%d]%c %s  %s\n", id, job_mark(jobs[id]), state, jobs[id]->text);
        }
    return 0;
}

static void continue_job(struct job *j) {
    for (int i = 0; i < j->nprocs; i++) j->procs[i].stopped = false;
    j->seq = ++job_seq;
    if (j->pgid > 0) kill(-j->pgid, SIGCONT);
}

int builtin_fg(int argc, char **argv) {
    if (!job_control) {
        dprintf(2, "tsh: fg: no job control\n");
        return 1;
    }
    if (argc > 2) {
        dprintf(2, "tsh: usage: fg [%%n]\n");
        return 2;
    }
    struct job *j = find_job("fg", argc > 1 ? argv[1] : NULL);
    if (!j) return 1;
    dprintf(2, "%s\n", j->text);
    tcsetpgrp(0, j->pgid);
    if (j->have_tmodes) tcsetattr(0, TCSANOW, &j->tmodes);
    continue_job(j);
    return job_wait_fg(j);
}

int builtin_bg(int argc, char **argv) {
    if (!job_control) {
        dprintf(2, "tsh: bg: no job control\n");
        return 1;
    }
    if (argc > 2) {
        dprintf(2, "tsh: usage: bg [%%n]\n");
        return 2;
    }
    struct job *j = find_job("bg", argc > 1 ? argv[1] : NULL);
    if (!j) return 1;
    if (job_done(j)) {
        dprintf(2, "tsh: bg: job %d has already ended\n", j->id);
        return 1;
    }
    continue_job(j);
    j->background = true;
    dprintf(2, "[%d]%c %s &\n", j->id, job_mark(j), j->text);
    return 0;
}

static volatile sig_atomic_t wait_interrupted;
static void on_wait_sigint(int sig) { wait_interrupted = 1; }

/* Waits until the job is no longer running; false when ^C interrupted the wait. */
static bool wait_job(struct job *j) {
    while (job_running(j) && !wait_interrupted)
        if (!reap(false) && errno != EINTR) break;
    return !wait_interrupted;
}

int builtin_wait(int argc, char **argv) {
    struct sigaction sa = {.sa_handler = on_wait_sigint}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old); /* no SA_RESTART: ^C ends the wait */
    wait_interrupted = 0;
    int status = 0;
    if (argc < 2) {
        for (int id = 1; id <= TSH_JOBS_MAX && !wait_interrupted; id++)
            if (jobs[id] && jobs[id]->nprocs && wait_job(jobs[id])) status = 0;
    } else {
        for (int i = 1; i < argc && !wait_interrupted; i++) {
            struct job *j = NULL;
            if (argv[i][0] == '%') {
                j = find_job("wait", argv[i]);
            } else {
                char *end;
                long pid = strtol(argv[i], &end, 10);
                for (int id = 1; id <= TSH_JOBS_MAX && !j && !*end && pid > 0; id++)
                    for (int k = 0; jobs[id] && k < jobs[id]->nprocs; k++)
                        if (jobs[id]->procs[k].pid == pid) j = jobs[id];
                if (!j) dprintf(2, "tsh: wait: %s: not a child of this shell\n", argv[i]);
            }
            if (!j) {
                status = 127;
                continue;
            }
            if (wait_job(j)) {
                status = job_status(j);
                j->background = false; /* waited for: no "Done" report */
            }
        }
    }
    sigaction(SIGINT, &old, NULL);
    if (wait_interrupted) return 130;
    jobs_notify();
    return status;
}
