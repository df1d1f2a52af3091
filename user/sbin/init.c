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
 * it keeps failing; the delay returns to 1 s once a run lasted 10 s or more. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_sigchld(int sig) { (void)sig; } /* only interrupts a sleep */

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
    if (!sv->respawn) {
        dprintf(2, "init: %s %s\n", sv->name, how);
        return;
    }
    if (now - sv->started_ms >= STABLE_RUN_MS || sv->delay_s == 0) sv->delay_s = 1;
    dprintf(2, "init: %s %s, restarting in %u s\n", sv->name, how, sv->delay_s);
    sv->restart_at_ms = now + sv->delay_s * 1000LL;
    sv->delay_s = sv->delay_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : sv->delay_s * 2;
}

static void sleep_ms(long long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL); /* SIGCHLD cuts it short */
}

int main(int argc, char **argv) {
    const char *config = "/etc/init.conf";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) console = argv[++i];
        else dprintf(2, "init: ignoring argument '%s' (usage: init [-f CONFIG] [-t CONSOLE])\n", argv[i]);
    }
    /* Signals that would end or stop init are ignored; SIGCHLD wakes the main loop. */
    static const int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sigchld};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL); /* no SA_RESTART */

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
        long long now = now_ms(), next = -1;
        for (int i = 0; i < nservices; i++) {
            struct service *sv = &services[i];
            if (!sv->restart_at_ms) continue;
            if (sv->restart_at_ms <= now) start(sv);
            else if (next < 0 || sv->restart_at_ms - now < next) next = sv->restart_at_ms - now;
        }
        int status;
        pid_t pid = waitpid(-1, &status, next < 0 ? 0 : WNOHANG);
        if (pid == 0 || (pid < 0 && errno == ECHILD)) {
            /* Nothing to reap now: sleep until the next restart (or a minute); SIGCHLD
             * (a new orphan ending) cuts the sleep short. */
            sleep_ms(next < 0 ? 60000 : next);
            continue;
        }
        if (pid < 0) continue; /* EINTR */
        for (int i = 0; i < nservices; i++)
            if (services[i].pid == pid && (WIFEXITED(status) || WIFSIGNALED(status)))
                ended(&services[i], status);
    }
}
