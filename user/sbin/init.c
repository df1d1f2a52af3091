/* init.c: SABOS's first user process (PID 1): starts the services of /etc/init.conf, keeps
 * the `respawn` ones running with an exponential back-off, and reaps every orphan.
 *
 * Follows the Linux/POSIX process model: setsid(2) and the controlling-terminal rules of
 * POSIX.1-2017 XBD 11.1.3 (a session leader without a controlling terminal acquires the
 * terminal it opens; TIOCSCTTY in Linux tty_ioctl(4)), wait4(2)/waitpid(2) for reaping.
 *
 *   init [-f CONFIG] [-t CONSOLE]     (defaults /etc/init.conf and /dev/console)
 *
 * CONFIG has one service per line, '#' starts a comment:
 *   NAME  RESTART[,tty]  COMMAND [ARG...]
 * NAME is 1-31 characters of [A-Za-z0-9_.-]; RESTART is `respawn` (start again whenever it
 * ends) or `once`; `,tty` gives the service the console as its controlling terminal (a new
 * session, the console on fds 0-2, the service in the foreground), which is what an
 * interactive shell needs. Other services get a new session without a terminal, /dev/null
 * as stdin and init's stdout/stderr (the console). Words are split at blanks, without quotes.
 * A malformed line is reported with its number and skipped. Without a CONFIG, init starts
 * /bin/tsh on the console as `console respawn,tty /bin/tsh`.
 *
 * Only the console service may own the terminal, and POSIX gives a terminal to one session
 * at a time: init therefore opens the console with O_NOCTTY and gives up a controlling
 * terminal it was started with (TIOCNOTTY), so that the console service's session gets it.
 *
 * Back-off: a respawn service is started again after 1 s, then 2, 4, 8 ... up to 30 s while
 * it keeps failing; the delay returns to 1 s once a run lasted 10 s or more.
 *
 * Shutdown, with busybox init's signals: SIGUSR2 powers off, SIGTERM reboots, SIGUSR1 halts.
 * init stops respawning, sends SIGTERM, SIGHUP (an interactive shell ignores SIGTERM but ends
 * when its terminal hangs up) and SIGCONT (so that stopped jobs act on them) to every process
 * (kill(-1), which spares init; each service's process group when init is not process 1),
 * waits up to 3 s for its children to end, sends SIGKILL to whatever is left and waits up to
 * 1 s more, calls sync(2), then reboot(2) (Linux man-pages reboot(2): RB_POWER_OFF,
 * RB_AUTOBOOT, RB_HALT_SYSTEM). Every step is logged on the console. Only process 1 calls
 * reboot(2); an init started by hand (a test on the host) exits with status 0 instead.
 *
 * Signals arrive only while init sleeps: SIGCHLD and the shutdown signals are blocked, and
 * the one wait, ppoll(2) with no descriptors, unblocks them for its duration, so a child that
 * ends between a check and the sleep still cuts the sleep short. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVICES 16
#define MAX_ARGS 16
#define MAX_LINE 512
#define MAX_CONFIG 65536
#define BACKOFF_MAX_S 30
#define STABLE_RUN_MS 10000
#define SHUTDOWN_TERM_WAIT_MS 3000 /* after SIGTERM/SIGHUP, before SIGKILL */
#define SHUTDOWN_KILL_WAIT_MS 1000 /* after SIGKILL, before sync and reboot(2) */

struct service {
    char name[32];
    bool respawn, tty;
    char *argv[MAX_ARGS + 1];
    pid_t pid;               /* running as pid, or 0 */
    long long started_ms;    /* when the current run started */
    long long restart_at_ms; /* start again at this time, or 0 */
    unsigned delay_s;        /* the next back-off */
};

static struct service services[MAX_SERVICES];
static int nservices;
static const char *console = "/dev/console";
static volatile sig_atomic_t shutdown_signal; /* SIGUSR2, SIGTERM or SIGUSR1 once asked */
static bool shutting_down;                    /* no more starts or restarts */
static sigset_t wait_mask;                    /* the signal mask while init sleeps */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_sigchld(int sig) { (void)sig; } /* only interrupts the sleep */
static void on_shutdown(int sig) {
    if (!shutdown_signal) shutdown_signal = sig;
}

static const char *signame(int sig) {
    static const char *const names[] = {
        "0", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
        "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP",
        "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    };
    return sig > 0 && sig < (int)(sizeof names / sizeof names[0]) ? names[sig] : "?";
}

/* ---- configuration ---- */

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 31) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Parses "respawn", "once", optionally with ",tty"; false when malformed. */
static bool parse_restart(char *s, struct service *sv) {
    int modes = 0;
    for (char *save = NULL, *item = strtok_r(s, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (!strcmp(item, "respawn")) { sv->respawn = true; modes++; }
        else if (!strcmp(item, "once")) { sv->respawn = false; modes++; }
        else if (!strcmp(item, "tty")) sv->tty = true;
        else return false;
    }
    return modes == 1;
}

/* One line, modified in place; returns NULL when fine, or why it is malformed. */
static const char *parse_line(char *line, struct service *sv) {
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *words[MAX_ARGS + 3];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
        if (n == MAX_ARGS + 2) return "too many words (a command has at most 16)";
        words[n++] = w;
    }
    if (n == 0) return ""; /* blank or comment */
    if (n < 3) return "expected NAME RESTART COMMAND [ARG...]";
    if (!valid_name(words[0])) return "bad service name (1-31 of A-Z a-z 0-9 _ - .)";
    memset(sv, 0, sizeof *sv);
    strcpy(sv->name, words[0]);
    if (!parse_restart(words[1], sv)) return "RESTART must be respawn or once, optionally with ,tty";
    for (int i = 2; i < n; i++) {
        sv->argv[i - 2] = strdup(words[i]);
        if (!sv->argv[i - 2]) return "out of memory";
    }
    for (int i = 0; i < nservices; i++)
        if (!strcmp(services[i].name, sv->name)) return "a service of that name is already listed";
    return NULL;
}

static void add_default(void) {
    struct service *sv = &services[nservices++];
    memset(sv, 0, sizeof *sv);
    strcpy(sv->name, "console");
    sv->respawn = sv->tty = true;
    sv->argv[0] = "/bin/tsh";
}

static void read_config(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dprintf(2, "init: %s: %s; starting /bin/tsh on the console\n", path, strerror(errno));
        add_default();
        return;
    }
    static char text[MAX_CONFIG + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, text + len, MAX_CONFIG - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == MAX_CONFIG) {
            dprintf(2, "init: %s: longer than %d bytes, the rest is ignored\n", path, MAX_CONFIG);
            break;
        }
    }
    close(fd);
    text[len] = 0;
    bool has_nul = strlen(text) != len;
    int lineno = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        const char *why = NULL;
        struct service sv;
        if (strlen(line) > MAX_LINE) why = "line too long";
        else why = parse_line(line, &sv);
        if (why && *why) {
            dprintf(2, "init: %s:%d: %s; line skipped\n", path, lineno, why);
        } else if (!why) {
            if (nservices == MAX_SERVICES) dprintf(2, "init: %s:%d: more than %d services; line skipped\n", path, lineno, MAX_SERVICES);
            else services[nservices++] = sv;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (has_nul) dprintf(2, "init: %s: NUL byte; the rest of the file is ignored\n", path);
    if (nservices == 0) dprintf(2, "init: %s lists no service; only reaping orphans\n", path);
}

/* ---- services ---- */

/* In the child: the console becomes fds 0-2 and the controlling terminal of this session.
 * When CONSOLE cannot be opened as a terminal, the terminal init was given on fd 0 (if it
 * is one) is used instead. */
static void take_console(void) {
    int fd = open(console, O_RDWR);
    if (fd >= 0 && !isatty(fd)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        if (!isatty(0)) {
            dprintf(2, "init: %s is not a terminal; keeping init's descriptors\n", console);
            return;
        }
        fd = dup(0);
    }
    if (tcgetsid(fd) != getsid(0) && ioctl(fd, TIOCSCTTY, 0) < 0)
        ioctl(fd, TIOCSCTTY, 1); /* steal it from a session that no longer uses it */
    for (int i = 0; i < 3; i++)
        if (fd != i) dup2(fd, i);
    if (fd > 2) close(fd);
    tcsetpgrp(0, getpid());
}

static void start(struct service *sv) {
    sv->restart_at_ms = 0;
    pid_t pid = fork();
    if (pid < 0) {
        dprintf(2, "init: %s: fork: %s; trying again in %u s\n", sv->name, strerror(errno), sv->delay_s);
        sv->restart_at_ms = now_ms() + sv->delay_s * 1000LL;
        if (sv->delay_s < BACKOFF_MAX_S) sv->delay_s = sv->delay_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : sv->delay_s * 2;
        return;
    }
    if (pid == 0) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        for (int s = 1; s < 32; s++) sigaction(s, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        if (sv->tty) {
            take_console();
        } else {
            int fd = open("/dev/null", O_RDONLY);
            if (fd > 0) {
                dup2(fd, 0);
                close(fd);
            }
        }
        execvp(sv->argv[0], sv->argv);
        dprintf(2, "init: %s: cannot run %s: %s\n", sv->name, sv->argv[0], strerror(errno));
        _exit(127);
    }
    sv->pid = pid;
    sv->started_ms = now_ms();
    char cmd[256];
    size_t used = 0;
    cmd[0] = 0;
    for (int i = 0; sv->argv[i] && used < sizeof cmd; i++)
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", sv->argv[i]);
    dprintf(2, "init: starting %s (pid %d): %s\n", sv->name, (int)pid, cmd);
}

static void ended(struct service *sv, int status) {
    long long now = now_ms();
    char how[64];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d (SIG%s)", WTERMSIG(status), signame(WTERMSIG(status)));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    sv->pid = 0;
    if (!sv->respawn || shutting_down) {
        dprintf(2, "init: %s %s\n", sv->name, how);
        return;
    }
    if (now - sv->started_ms >= STABLE_RUN_MS || sv->delay_s == 0) sv->delay_s = 1;
    dprintf(2, "init: %s %s, restarting in %u s\n", sv->name, how, sv->delay_s);
    sv->restart_at_ms = now + sv->delay_s * 1000LL;
    sv->delay_s = sv->delay_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : sv->delay_s * 2;
}

/* Sleeps until a signal init handles arrives (SIGCHLD included) or ms milliseconds pass
 * (ms < 0: no limit). */
static void wait_for_signal(long long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    ppoll(NULL, 0, ms < 0 ? NULL : &ts, &wait_mask);
}

/* Reaps every child that has ended, reporting services. Returns false when init has no
 * child left at all. */
static bool reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) return true;
        if (pid < 0) return errno != ECHILD;
        for (int i = 0; i < nservices; i++)
            if (services[i].pid == pid && (WIFEXITED(status) || WIFSIGNALED(status))) ended(&services[i], status);
    }
}

/* Starts the services whose restart time has come; returns the milliseconds until the next
 * one is due, or -1 when none is waiting. */
static long long start_due(void) {
    long long now = now_ms(), next = -1;
    for (int i = 0; i < nservices; i++) {
        struct service *sv = &services[i];
        if (!sv->restart_at_ms) continue;
        if (sv->restart_at_ms <= now) start(sv);
        if (sv->restart_at_ms && (next < 0 || sv->restart_at_ms - now < next))
            next = sv->restart_at_ms > now ? sv->restart_at_ms - now : 0;
    }
    return next;
}

/* Reaps until no child is left (true) or ms milliseconds have passed (false). */
static bool reap_all_within(long long ms) {
    long long deadline = now_ms() + ms;
    for (;;) {
        if (!reap()) return true;
        long long left = deadline - now_ms();
        if (left <= 0) return false;
        wait_for_signal(left);
    }
}

/* Sends sig to every process but init: kill(-1) as process 1, else (init started by hand)
 * each running service's process group. */
static void signal_all(int sig) {
    if (getpid() == 1) {
        kill(-1, sig);
        return;
    }
    for (int i = 0; i < nservices; i++)
        if (services[i].pid > 0 && kill(-services[i].pid, sig) < 0) kill(services[i].pid, sig);
}

/* Stops every process, syncs the file systems and calls reboot(2) for the shutdown signal
 * sig. Returns only when reboot(2) failed (the services stay stopped); an init that is not
 * process 1 exits instead of calling reboot(2). */
static void shut_down(int sig) {
    const char *what = sig == SIGTERM ? "reboot" : sig == SIGUSR1 ? "halt" : "power off";
    int how = sig == SIGTERM ? RB_AUTOBOOT : sig == SIGUSR1 ? RB_HALT_SYSTEM : RB_POWER_OFF;
    shutting_down = true;
    for (int i = 0; i < nservices; i++) services[i].restart_at_ms = 0;
    dprintf(2, "init: SIG%s received: shutting down for %s\n", signame(sig), what);
    dprintf(2, "init: sending SIGTERM, SIGHUP and SIGCONT to all processes\n");
    signal_all(SIGTERM);
    signal_all(SIGHUP);
    signal_all(SIGCONT);
    bool all_ended = reap_all_within(SHUTDOWN_TERM_WAIT_MS);
    if (!all_ended) {
        dprintf(2, "init: processes still running after %d s: sending SIGKILL\n", SHUTDOWN_TERM_WAIT_MS / 1000);
        signal_all(SIGKILL);
        all_ended = reap_all_within(SHUTDOWN_KILL_WAIT_MS);
    }
    dprintf(2, all_ended ? "init: all processes have ended\n" : "init: some processes have not ended; going on\n");
    dprintf(2, "init: syncing file systems\n");
    sync();
    if (getpid() != 1) {
        dprintf(2, "init: not process 1, so no %s: exiting\n", what);
        exit(0);
    }
    dprintf(2, "init: calling reboot(2) for %s\n", what);
    reboot(how);
    dprintf(2, "init: reboot(2) for %s failed: %s; the services stay stopped\n", what, strerror(errno));
}

int main(int argc, char **argv) {
    const char *config = "/etc/init.conf";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) console = argv[++i];
        else dprintf(2, "init: ignoring argument '%s' (usage: init [-f CONFIG] [-t CONSOLE])\n", argv[i]);
    }
    /* Signals that would end or stop init are ignored. SIGCHLD and the shutdown signals have
     * handlers and stay blocked except while init sleeps in wait_for_signal. */
    static const int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
    static const int handled[] = {SIGCHLD, SIGUSR2, SIGTERM, SIGUSR1};
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) sigaddset(&block, handled[i]);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        sigdelset(&wait_mask, handled[i]);
        struct sigaction sa = {.sa_handler = handled[i] == SIGCHLD ? on_sigchld : on_shutdown, .sa_mask = block};
        sigaction(handled[i], &sa, NULL); /* no SA_RESTART */
    }

    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) continue;
        int c = open(console, O_RDWR | O_NOCTTY);
        if (c < 0) c = open("/dev/null", O_RDWR);
        if (c >= 0 && c != fd) {
            dup2(c, fd);
            close(c);
        }
    }
    setsid();
    if (isatty(0) && tcgetsid(0) == getsid(0)) ioctl(0, TIOCNOTTY); /* for the console service */
    setenv("PATH", "/bin:/sbin", 1);
    setenv("HOME", "/", 1);
    setenv("TERM", "vt100", 1);
    if (chdir("/") < 0) dprintf(2, "init: chdir /: %s\n", strerror(errno));
    dprintf(2, "init: started\n");

    read_config(config);
    for (int i = 0; i < nservices; i++) {
        services[i].delay_s = 1;
        start(&services[i]);
    }
    for (;;) {
        reap();
        if (shutdown_signal) {
            shut_down(shutdown_signal);
            shutdown_signal = 0; /* reboot(2) failed: a new request tries again */
        }
        long long next = shutting_down ? -1 : start_due();
        /* Sleep until the next restart; a child ending or a shutdown request cuts it short. */
        wait_for_signal(next);
    }
}
