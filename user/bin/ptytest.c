/* ptytest: pseudo-terminals through the real system calls, for SABOS and Linux alike: the
 * Unix 98 pty ABI of Linux's pty(7), posix_openpt(3), unlockpt(3), ptsname(3), termios(3),
 * ioctl_tty(2) (TIOCGPTN, TIOCSPTLCK, TIOCSIG, TIOCSWINSZ/TIOCGWINSZ, TIOCSCTTY, TIOCGPGRP)
 * and POSIX.1-2017 XBD ch. 11 (canonical input, echo, special characters, job control).
 *
 * ptytest [-s KIB]: prints "PASS name" / "FAIL name: details" and exits 0 only when all
 * passed:
 *   open       posix_openpt, unlockpt, ptsname = /dev/pts/N = TIOCGPTN; the slave locked
 *              before unlockpt (EIO); both ends are terminals; N is listed in /dev/pts
 *   canon      lines through the slave's canonical mode with the exact echo the master
 *              reads: ERASE, KILL, WERASE, ^D at the start of a line (end of file)
 *   poll       both sides: not readable when empty, POLLIN once the other side wrote,
 *              POLLOUT while there is room
 *   raw        cfmakeraw: bytes pass unchanged both ways (no ^C, no CR/NL mapping); VMIN=0
 *              VTIME=2 returns 0 after the timer
 *   session    a child in its own session takes the slave with TIOCSCTTY; /dev/tty is the
 *              slave; a background group reading gets SIGTTIN (EINTR); ^C ^\ ^Z from the
 *              master reach the foreground group (SIGINT, SIGQUIT, SIGTSTP) and not the
 *              session leader; TIOCGPGRP/TIOCGSID on the master see the foreground group
 *   winsize    TIOCSWINSZ on the master sends SIGWINCH to the slave's foreground group, and
 *              the slave reads the new size
 *   eio        once the slave is closed, the master reads the data written before, then EIO,
 *              and poll reports POLLHUP
 *   hangup     closing the master: the session leader on the slave gets SIGHUP and SIGCONT,
 *              its reads give 0, writes EIO; /dev/pts/N is gone
 *   nonblock   O_NONBLOCK on both sides: EAGAIN when empty; writers fill a bounded buffer,
 *              then EAGAIN; everything written is read back
 *   bulk       KIB (default 1024) KiB each way at once (four processes), verified byte for byte
 *   errors     bad ioctls and arguments: ENOTTY, EFAULT, EINVAL, ENOENT, EIO
 *   reuse      100 pairs opened and closed: numbers are reused, no descriptor is left
 * Every child process has an alarm, so nothing hangs. */
#include "ulib.h"
#include "utest.h"
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/param.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#define CHILD_ALARM 30 /* seconds any child may take */
#define WAIT_MS 5000   /* the longest a parent waits for expected output */

static pid_t reap(pid_t pid, int *st) {
    pid_t r;
    while ((r = waitpid(pid, st, 0)) < 0 && errno == EINTR) {}
    return r;
}

/* Forks a child that runs fn(arg) and _exits with its result (alarm set). */
static pid_t spawn(int (*fn)(void *), void *arg) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        alarm(CHILD_ALARM);
        _exit(fn(arg));
    }
    return p;
}

/* The exit code of a child, or -1 (killed, not reaped). */
static int child_code(pid_t p) {
    int st;
    if (p < 0 || reap(p, &st) != p) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1 - (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* A new pair: master fd (O_NOCTTY), slave path in name. -1 on failure (reported). */
static int open_pair(const char *test, char *name, size_t cap, int extra_flags) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | extra_flags);
    if (m < 0) {
        fail(test, "posix_openpt: %s", strerror(errno));
        return -1;
    }
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, cap) != 0) {
        fail(test, "grantpt/unlockpt/ptsname: %s", strerror(errno));
        close(m);
        return -1;
    }
    return m;
}

/* Reads from fd until want bytes arrived or WAIT_MS passed; returns the bytes read. */
static size_t read_some(int fd, char *buf, size_t want) {
    size_t got = 0;
    while (got < want) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, WAIT_MS) <= 0 || !(p.revents & POLLIN)) break;
        ssize_t n = read(fd, buf + got, want - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got;
}

/* True when fd yields exactly the bytes of want (waiting up to WAIT_MS); says why not. */
static bool expect_bytes(const char *test, const char *what, int fd, const char *want, size_t len) {
    char buf[256];
    size_t got = read_some(fd, buf, len);
    if (got == len && memcmp(buf, want, len) == 0) return true;
    fail(test, "%s: got %zu bytes \"%.*s\", expected %zu", what, got, (int)got, buf, len);
    return false;
}
#define EXPECT(test, what, fd, lit) expect_bytes(test, what, fd, lit, sizeof(lit) - 1)

/* True when nothing is readable from fd within ms. */
static bool quiet(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 0;
}

static bool set_raw(int fd, int vmin, int vtime) {
    struct termios t;
    if (tcgetattr(fd, &t) < 0) return false;
    cfmakeraw(&t);
    t.c_cc[VMIN] = (cc_t)vmin;
    t.c_cc[VTIME] = (cc_t)vtime;
    return tcsetattr(fd, TCSANOW, &t) == 0;
}

static bool listed_in_dev_pts(const char *name) {
    const char *base = strrchr(name, '/') + 1;
    DIR *d = opendir("/dev/pts");
    if (!d) return false;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, base) == 0) found = true;
    closedir(d);
    return found;
}

/* ---- open ---- */

static void test_open(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) {
        fail("open", "posix_openpt: %s", strerror(errno));
        return;
    }
    unsigned n = ~0u;
    char name[64], want[64];
    bool ok = true;
    if (ioctl(m, TIOCGPTN, &n) < 0) ok = false, fail("open", "TIOCGPTN: %s", strerror(errno));
    snprintf(want, sizeof want, "/dev/pts/%u", n);
    if (ok && (ptsname_r(m, name, sizeof name) != 0 || strcmp(name, want) != 0))
        ok = false, fail("open", "ptsname %s, TIOCGPTN %u", name, n);
    int lock = -1;
    if (ok && (ioctl(m, TIOCGPTLCK, &lock) < 0 || lock != 1)) ok = false, fail("open", "TIOCGPTLCK %d", lock);
    errno = 0;
    int s = ok ? open(name, O_RDWR | O_NOCTTY) : -1;
    if (ok && (s >= 0 || errno != EIO)) ok = false, fail("open", "locked slave opened: %d errno %d", s, errno);
    if (s >= 0) close(s);
    if (ok && (grantpt(m) < 0 || unlockpt(m) < 0)) ok = false, fail("open", "unlockpt: %s", strerror(errno));
    s = ok ? open(name, O_RDWR | O_NOCTTY) : -1;
    if (ok && s < 0) ok = false, fail("open", "open %s: %s", name, strerror(errno));
    if (ok && (!isatty(m) || !isatty(s))) ok = false, fail("open", "isatty master %d slave %d", isatty(m), isatty(s));
    struct stat st;
    if (ok && (fstat(s, &st) < 0 || !S_ISCHR(st.st_mode))) ok = false, fail("open", "the slave is not a character device");
    if (ok && !listed_in_dev_pts(name)) ok = false, fail("open", "%s not listed in /dev/pts", name);
    if (ok) pass("open");
    if (s >= 0) close(s);
    close(m);
}

/* ---- canonical mode and echo ---- */

static void test_canon(void) {
    char name[64];
    int m = open_pair("canon", name, sizeof name, 0);
    if (m < 0) return;
    int s = open(name, O_RDWR | O_NOCTTY);
    bool ok = s >= 0;
    if (!ok) fail("canon", "open %s: %s", name, strerror(errno));
    char buf[64];
    ssize_t n;
    if (ok) {
        write(m, "hello\n", 6);
        ok = EXPECT("canon", "echo of hello", m, "hello\r\n");
        n = read(s, buf, sizeof buf);
        if (ok && (n != 6 || memcmp(buf, "hello\n", 6) != 0)) ok = false, fail("canon", "line read %zd", n);
    }
    if (ok) { /* ERASE (DEL) with ECHOE */
        write(m, "abx\x7f" "c\n", 6);
        ok = EXPECT("canon", "echo of erase", m, "abx\b \bc\r\n");
        n = read(s, buf, sizeof buf);
        if (ok && (n != 4 || memcmp(buf, "abc\n", 4) != 0)) ok = false, fail("canon", "erase: read %zd \"%.*s\"", n, (int)(n > 0 ? n : 0), buf);
    }
    if (ok) { /* KILL and WERASE */
        write(m, "junk\x15one two\x17three\n", 19);
        n = read(s, buf, sizeof buf);
        if (n != 10 || memcmp(buf, "one three\n", 10) != 0)
            ok = false, fail("canon", "kill/werase: read %zd \"%.*s\"", n, (int)(n > 0 ? n : 0), buf);
        if (ok) ok = EXPECT("canon", "echo of kill and werase", m,
                            "junk\b \b\b \b\b \b\b \bone two\b \b\b \b\b \bthree\r\n");
    }
    if (ok) { /* a line in two reads: the rest stays; ^D on an empty line: end of file */
        write(m, "abcdef\n\x04", 8);
        ssize_t a = read(s, buf, 3), b = read(s, buf + 3, sizeof buf - 3), c = read(s, buf, sizeof buf);
        if (a != 3 || b != 4 || memcmp(buf, "abcdef\n", 7) != 0 || c != 0)
            ok = false, fail("canon", "partial reads %zd %zd, eof read %zd", a, b, c);
    }
    if (ok) pass("canon");
    if (s >= 0) close(s);
    close(m);
}

/* ---- poll ---- */

static short poll_once(int fd, short events, int ms) {
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, ms) < 0 ? -1 : p.revents;
}

static void test_poll(void) {
    char name[64];
    int m = open_pair("poll", name, sizeof name, 0);
    if (m < 0) return;
    int s = open(name, O_RDWR | O_NOCTTY);
    bool ok = s >= 0 && set_raw(s, 1, 0);
    if (!ok) fail("poll", "slave %s: %s", name, strerror(errno));
    short rm = ok ? poll_once(m, POLLIN | POLLOUT, 0) : 0, rs = ok ? poll_once(s, POLLIN | POLLOUT, 0) : 0;
    if (ok && (rm != POLLOUT || rs != POLLOUT)) ok = false, fail("poll", "empty: master %#x slave %#x", rm, rs);
    if (ok) {
        write(m, "x", 1);
        rs = poll_once(s, POLLIN, WAIT_MS);
        if (rs != POLLIN) ok = false, fail("poll", "slave after master write: %#x", rs);
        char c;
        if (ok && (read(s, &c, 1) != 1 || c != 'x')) ok = false, fail("poll", "slave read");
    }
    if (ok) {
        write(s, "y", 1);
        rm = poll_once(m, POLLIN, WAIT_MS);
        if (rm != POLLIN) ok = false, fail("poll", "master after slave write: %#x", rm);
    }
    if (ok) pass("poll");
    if (s >= 0) close(s);
    close(m);
}

/* ---- raw mode ---- */

static void test_raw(void) {
    char name[64];
    int m = open_pair("raw", name, sizeof name, 0);
    if (m < 0) return;
    int s = open(name, O_RDWR | O_NOCTTY);
    bool ok = s >= 0 && set_raw(s, 1, 0);
    if (!ok) fail("raw", "slave %s: %s", name, strerror(errno));
    char buf[64];
    if (ok) {
        write(m, "a\rb\x03\x7f\n", 6);
        size_t got = read_some(s, buf, 6);
        if (got != 6 || memcmp(buf, "a\rb\x03\x7f\n", 6) != 0) ok = false, fail("raw", "slave read %zu bytes", got);
        if (ok && !quiet(m, 100)) ok = false, fail("raw", "raw input was echoed");
    }
    if (ok) {
        write(s, "x\ny\r", 4);
        ok = EXPECT("raw", "slave output", m, "x\ny\r");
    }
    if (ok && set_raw(s, 0, 2)) { /* MIN 0, TIME 2: one byte or 0.2 s */
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ssize_t n = read(s, buf, sizeof buf);
        clock_gettime(CLOCK_MONOTONIC, &b);
        long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
        if (n != 0 || ms < 150) ok = false, fail("raw", "VTIME read %zd after %ld ms", n, ms);
    }
    if (ok) pass("raw");
    if (s >= 0) close(s);
    close(m);
}

/* ---- sessions, job control, signals from the master ---- */

static volatile sig_atomic_t got_sigs; /* bit per signal caught */
static void on_sig(int sig) { got_sigs |= 1 << sig; }

static void catch(int sig, bool restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(sig, &sa, NULL);
}

/* Waits (up to the alarm) until every signal of mask was caught. */
static bool wait_sigs(int mask) {
    sigset_t none;
    sigemptyset(&none);
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGALRM);
    sigprocmask(SIG_BLOCK, &all, &old);
    while ((got_sigs & mask) != mask) sigsuspend(&none);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return true;
}

struct session_arg {
    const char *slave;
    int ready;      /* write end: the child reports here that it is ready */
    int master;     /* the parent's master: the child closes its copy */
};

/* Bit of the session child's exit code per failed step. */
enum { S_CTTY = 1, S_DEVTTY = 2, S_TTIN = 4, S_FG = 8, S_SIGS = 16, S_LEADER = 32 };

static int ttin_child(void *arg) {
    int fd = *(int *)arg;
    setpgid(0, 0);
    catch(SIGTTIN, false);
    char c;
    errno = 0;
    ssize_t n = read(fd, &c, 1);
    return n < 0 && errno == EINTR && (got_sigs & (1 << SIGTTIN)) ? 0 : 1;
}

static int fg_child(void *arg) {
    (void)arg;
    setpgid(0, 0);
    wait_sigs(1 << SIGINT | 1 << SIGQUIT | 1 << SIGTSTP);
    return 0;
}

static int session_child(void *varg) {
    struct session_arg *a = varg;
    close(a->master);
    int code = 0;
    setsid();
    int fd = open(a->slave, O_RDWR | O_NOCTTY);
    if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0 || tcgetpgrp(fd) != getpid() || tcgetsid(fd) != getpid())
        return S_CTTY;
    int t = open("/dev/tty", O_RDWR);
    if (t < 0 || write(t, "via /dev/tty\n", 13) != 13) code |= S_DEVTTY;
    if (t >= 0) close(t);
    /* a background group reads: SIGTTIN, the read fails with EINTR */
    pid_t g = spawn(ttin_child, &fd);
    if (child_code(g) != 0) code |= S_TTIN;
    /* a foreground group gets the ISIG signals; the leader (background then) does not */
    catch(SIGINT, true);
    catch(SIGQUIT, true);
    catch(SIGTSTP, true);
    signal(SIGTTOU, SIG_IGN);
    got_sigs = 0;
    g = spawn(fg_child, NULL);
    setpgid(g, g);
    if (tcsetpgrp(fd, g) < 0 || tcgetpgrp(fd) != g) code |= S_FG;
    write(a->ready, &g, sizeof g);
    if (child_code(g) != 0) code |= S_SIGS;
    if (got_sigs) code |= S_LEADER;
    tcsetpgrp(fd, getpid());
    close(fd);
    return code;
}

/* Starts fn in a child with the slave name and a pipe whose write end it reports on (a
 * struct session_arg); returns the child's pid and the pipe's read end in *ready, or -1 (the
 * check is failed, m closed). */
static pid_t spawn_session(const char *check, const char *name, int m, int (*fn)(void *), int *ready) {
    int p[2];
    if (pipe(p) < 0) {
        fail(check, "pipe: %s", strerror(errno));
        close(m);
        return -1;
    }
    struct session_arg a = {name, p[1], m};
    pid_t c = spawn(fn, &a);
    close(p[1]);
    *ready = p[0];
    return c;
}

static void test_session(void) {
    char name[64];
    int m = open_pair("session", name, sizeof name, 0);
    if (m < 0) return;
    int ready;
    pid_t c = spawn_session("session", name, m, session_child, &ready);
    if (c < 0) return;
    bool ok = EXPECT("session", "output through /dev/tty", m, "via /dev/tty\r\n");
    pid_t fg = 0;
    if (read(ready, &fg, sizeof fg) != sizeof fg) ok = false, fail("session", "no foreground group");
    pid_t pg = 0, sid = 0;
    if (ok && (ioctl(m, TIOCGPGRP, &pg) < 0 || pg != fg)) ok = false, fail("session", "TIOCGPGRP on the master: %d, expected %d", pg, fg);
    if (ok && (ioctl(m, TIOCGSID, &sid) < 0 || sid != c)) ok = false, fail("session", "TIOCGSID on the master: %d, expected %d", sid, c);
    write(m, "\x03\x1c\x1a", 3);
    int code = child_code(c);
    if (code != 0) ok = false, fail("session", "child code %d (1 ctty, 2 /dev/tty, 4 SIGTTIN, 8 tcsetpgrp, 16 ^C^\\^Z, 32 leader signalled)", code);
    if (ok) pass("session");
    close(ready);
    close(m);
}

/* ---- window size ---- */

static int winsize_child(void *varg) {
    struct session_arg *a = varg;
    close(a->master);
    setsid();
    catch(SIGWINCH, true);
    int fd = open(a->slave, O_RDWR); /* a session leader without a terminal takes it */
    if (fd < 0 || tcgetpgrp(fd) != getpid()) return 1;
    char c = 'r';
    write(a->ready, &c, 1);
    wait_sigs(1 << SIGWINCH);
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row != 30 || ws.ws_col != 100) return 2;
    return 0;
}

static void test_winsize(void) {
    char name[64];
    int m = open_pair("winsize", name, sizeof name, 0);
    if (m < 0) return;
    int ready;
    pid_t c = spawn_session("winsize", name, m, winsize_child, &ready);
    if (c < 0) return;
    char r;
    bool ok = read(ready, &r, 1) == 1;
    if (!ok) fail("winsize", "the child did not start");
    struct winsize ws = {.ws_row = 30, .ws_col = 100}, back;
    if (ok && ioctl(m, TIOCSWINSZ, &ws) < 0) ok = false, fail("winsize", "TIOCSWINSZ: %s", strerror(errno));
    if (ok && (ioctl(m, TIOCGWINSZ, &back) < 0 || back.ws_row != 30 || back.ws_col != 100))
        ok = false, fail("winsize", "TIOCGWINSZ on the master %ux%u", back.ws_col, back.ws_row);
    int code = child_code(c);
    if (code != 0) ok = false, fail("winsize", "child code %d (1 ctty, 2 size on the slave; killed: no SIGWINCH)", code);
    if (ok) pass("winsize");
    close(ready);
    close(m);
}

/* ---- EIO once the slave is closed ---- */

static void test_eio(void) {
    char name[64];
    int m = open_pair("eio", name, sizeof name, 0);
    if (m < 0) return;
    int s = open(name, O_RDWR | O_NOCTTY);
    bool ok = s >= 0;
    if (ok) {
        write(s, "bye\n", 4);
        close(s);
        ok = EXPECT("eio", "data before the close", m, "bye\r\n");
        short r = poll_once(m, POLLIN, WAIT_MS);
        if (ok && !(r & POLLHUP)) ok = false, fail("eio", "poll %#x, expected POLLHUP", r);
        char c;
        errno = 0;
        ssize_t n = read(m, &c, 1);
        if (ok && (n != -1 || errno != EIO)) ok = false, fail("eio", "master read %zd errno %d, expected EIO", n, errno);
    } else {
        fail("eio", "open %s: %s", name, strerror(errno));
    }
    if (ok) pass("eio");
    close(m);
}

/* ---- hang-up when the master closes ---- */

enum { H_OPEN = 1, H_SIGHUP = 2, H_READ = 4, H_WRITE = 8, H_CTTY = 16 };

static int hangup_child(void *varg) {
    struct session_arg *a = varg;
    close(a->master);
    setsid();
    catch(SIGHUP, true);
    catch(SIGCONT, true);
    int fd = open(a->slave, O_RDWR);
    if (fd < 0) return H_OPEN;
    char c = 'r';
    write(a->ready, &c, 1);
    wait_sigs(1 << SIGHUP | 1 << SIGCONT);
    int code = 0;
    if (read(fd, &c, 1) != 0) code |= H_READ;
    errno = 0;
    if (write(fd, "x", 1) != -1 || errno != EIO) code |= H_WRITE;
    errno = 0;
    int t = open("/dev/tty", O_RDWR);
    if (t >= 0) code |= H_CTTY, close(t);
    close(fd);
    return code;
}

static void test_hangup(void) {
    char name[64];
    int m = open_pair("hangup", name, sizeof name, 0);
    if (m < 0) return;
    int ready;
    pid_t c = spawn_session("hangup", name, m, hangup_child, &ready);
    if (c < 0) return;
    char r;
    bool ok = read(ready, &r, 1) == 1;
    if (!ok) fail("hangup", "the child did not start");
    close(m);
    struct stat st;
    errno = 0;
    if (ok && (stat(name, &st) == 0 || errno != ENOENT)) ok = false, fail("hangup", "%s still exists (errno %d)", name, errno);
    int code = child_code(c);
    if (code != 0) ok = false, fail("hangup", "child code %d (1 open, 4 read not 0, 8 write not EIO, 16 /dev/tty; killed: no SIGHUP)", code);
    if (ok) pass("hangup");
    close(ready);
}

/* ---- O_NONBLOCK ---- */

/* Writes chunks to fd until EAGAIN; returns the total (bounded: at most limit). */
static size_t fill(int fd, size_t limit) {
    static char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    size_t total = 0;
    while (total < limit) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        total += (size_t)n;
    }
    return total;
}

/* Reads fd (non-blocking) until EAGAIN twice in a row, 50 ms apart; returns the total. */
static size_t drain(int fd) {
    static char buf[4096];
    size_t total = 0;
    for (int idle = 0; idle < 2;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            total += (size_t)n;
            idle = 0;
        } else {
            idle++;
            poll_once(fd, POLLIN, 50);
        }
    }
    return total;
}

static void test_nonblock(void) {
    char name[64];
    int m = open_pair("nonblock", name, sizeof name, O_NONBLOCK);
    if (m < 0) return;
    char c;
    errno = 0;
    bool ok = true;
    if (read(m, &c, 1) != -1 || errno != EAGAIN) ok = false, fail("nonblock", "empty master read: errno %d", errno);
    int s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (s < 0 || !set_raw(s, 1, 0)) ok = false, fail("nonblock", "slave: %s", strerror(errno));
    errno = 0;
    if (ok && (read(s, &c, 1) != -1 || errno != EAGAIN)) ok = false, fail("nonblock", "empty slave read: errno %d", errno);
    const size_t limit = 4u << 20;
    if (ok) {
        size_t out = fill(s, limit);
        int e = errno;
        if (out == 0 || out >= limit || e != EAGAIN) ok = false, fail("nonblock", "slave wrote %zu bytes before errno %d", out, e);
        size_t back = drain(m);
        if (ok && back != out) ok = false, fail("nonblock", "slave wrote %zu, master read %zu", out, back);
        if (ok && !(poll_once(s, POLLOUT, WAIT_MS) & POLLOUT)) ok = false, fail("nonblock", "slave not writable after the drain");
    }
    if (ok) {
        size_t in = fill(m, limit);
        int e = errno;
        if (in == 0 || in >= limit || e != EAGAIN) ok = false, fail("nonblock", "master wrote %zu bytes before errno %d", in, e);
        size_t back = drain(s);
        if (ok && back != in) ok = false, fail("nonblock", "master wrote %zu, slave read %zu", in, back);
    }
    if (ok) pass("nonblock");
    if (s >= 0) close(s);
    close(m);
}

/* ---- bulk ---- */

static inline unsigned char pattern(uint64_t seed, uint64_t i) {
    uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ull + seed;
    x ^= x >> 29;
    return (unsigned char)(x >> ((i & 7) * 8));
}

struct bulk_arg {
    int fd;
    uint64_t seed, total;
};

static int bulk_writer(void *varg) {
    struct bulk_arg *a = varg;
    static unsigned char buf[8192];
    uint64_t off = 0, step = 1;
    while (off < a->total) {
        size_t n = (size_t)MIN((uint64_t)(step * 37 % sizeof buf) + 1, a->total - off);
        for (size_t i = 0; i < n; i++) buf[i] = pattern(a->seed, off + i);
        if (uwrite_all(a->fd, buf, n) < 0) return 1;
        off += n;
        step++;
    }
    return 0;
}

/* Reads total bytes from fd and compares them with the pattern: 0, 1 short, 2 mismatch. */
static int bulk_reader(void *varg) {
    struct bulk_arg *a = varg;
    static unsigned char buf[8192];
    uint64_t off = 0;
    while (off < a->total) {
        ssize_t n = read(a->fd, buf, (size_t)MIN((uint64_t)sizeof buf, a->total - off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(a->seed, off + (uint64_t)i)) return 2;
        off += (uint64_t)n;
    }
    return 0;
}

static void test_bulk(uint64_t total) {
    char name[64];
    int m = open_pair("bulk", name, sizeof name, 0);
    if (m < 0) return;
    int s = open(name, O_RDWR | O_NOCTTY);
    if (s < 0 || !set_raw(s, 1, 0)) {
        fail("bulk", "slave: %s", strerror(errno));
        if (s >= 0) close(s);
        close(m);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct bulk_arg to_slave_w = {m, 11, total}, to_slave_r = {s, 11, total};
    struct bulk_arg to_master_w = {s, 22, total}, to_master_r = {m, 22, total};
    pid_t p[4] = {spawn(bulk_writer, &to_slave_w), spawn(bulk_reader, &to_slave_r), spawn(bulk_writer, &to_master_w),
                  spawn(bulk_reader, &to_master_r)};
    static const char *const role[4] = {"master writer", "slave reader", "slave writer", "master reader"};
    bool ok = true;
    for (int i = 0; i < 4; i++) {
        int code = child_code(p[i]);
        if (code != 0) {
            if (ok) fail("bulk", "%s: code %d (1 short, 2 corrupt, <0 killed: deadlock or signal)", role[i], code);
            ok = false;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("info: bulk %llu KiB each way in %.2f s\n", (unsigned long long)(total >> 10), secs);
    if (ok) pass("bulk");
    close(s);
    close(m);
}

/* ---- bad arguments ---- */

static void test_errors(void) {
    char name[64];
    int m = open_pair("errors", name, sizeof name, 0);
    if (m < 0) return;
    int s = open(name, O_RDWR | O_NOCTTY);
    bool ok = s >= 0;
    unsigned n;
    struct { const char *what; int r, err, want; } c[10];
    int k = 0;
#define TRY(what_, call_, want_)                                                            \
    do {                                                                                    \
        errno = 0;                                                                          \
        int r_ = (call_);                                                                   \
        c[k++] = (typeof(c[0])){what_, r_, errno, want_};                                   \
    } while (0)
    TRY("unknown ioctl on the master", ioctl(m, 0x54ff, 0), ENOTTY);
    TRY("TIOCGWINSZ to a bad pointer", ioctl(m, TIOCGWINSZ, (void *)8), EFAULT);
    TRY("TIOCGPTN to a bad pointer", ioctl(m, TIOCGPTN, (void *)8), EFAULT);
    TRY("TIOCSIG with SIGKILL", ioctl(m, TIOCSIG, SIGKILL), EINVAL);
    TRY("TCFLSH 7", ioctl(m, TCFLSH, 7), EINVAL);
    TRY("TIOCGPTN on the slave", ioctl(s, TIOCGPTN, &n), ENOTTY);
    TRY("tcsetpgrp without a controlling terminal", tcsetpgrp(s, getpgrp()), ENOTTY);
    int pfd[2] = {-1, -1};
    if (pipe(pfd) < 0) ok = false;
    TRY("TIOCGPTN on a pipe", ioctl(pfd[0], TIOCGPTN, &n), ENOTTY);
    TRY("open of a missing pts", open("/dev/pts/999999", O_RDWR | O_NOCTTY), ENOENT);
    int m2 = posix_openpt(O_RDWR | O_NOCTTY); /* still locked */
    char name2[64] = "";
    if (m2 >= 0) ptsname_r(m2, name2, sizeof name2);
    TRY("open of a locked slave", open(name2, O_RDWR | O_NOCTTY), EIO);
#undef TRY
    for (int i = 0; ok && i < k; i++)
        if (c[i].r != -1 || c[i].err != c[i].want)
            ok = false, fail("errors", "%s: %d errno %d, expected errno %d", c[i].what, c[i].r, c[i].err, c[i].want);
    if (ok) pass("errors");
    if (m2 >= 0) close(m2);
    close(pfd[0]);
    close(pfd[1]);
    if (s >= 0) close(s);
    close(m);
}

/* ---- reuse ---- */

static void test_reuse(void) {
    int fd_before = dup(0);
    close(fd_before);
    int numbers[100], distinct = 0;
    bool ok = true;
    for (int i = 0; i < 100 && ok; i++) {
        char name[64];
        int m = open_pair("reuse", name, sizeof name, 0);
        if (m < 0) return;
        unsigned n;
        ioctl(m, TIOCGPTN, &n);
        numbers[i] = (int)n;
        int s = open(name, O_RDWR | O_NOCTTY);
        if (s < 0) ok = false, fail("reuse", "pair %d: open %s: %s", i, name, strerror(errno));
        else if (write(m, "q\n", 2) != 2 || read(s, name, sizeof name) != 2) ok = false, fail("reuse", "pair %d: no line", i);
        if (s >= 0) close(s);
        close(m);
        bool seen = false;
        for (int j = 0; j < i; j++) seen |= numbers[j] == numbers[i];
        distinct += !seen;
    }
    /* other programs may take numbers meanwhile (on a busy host), never one per pair */
    if (ok && distinct > 4) ok = false, fail("reuse", "%d different numbers for 100 pairs opened one after another", distinct);
    int fd_after = dup(0);
    close(fd_after);
    if (ok && fd_after != fd_before) ok = false, fail("reuse", "lowest free descriptor %d before, %d after", fd_before, fd_after);
    if (ok) pass("reuse");
}

int main(int argc, char **argv) {
    ulib_prog = "ptytest";
    long long kib = 1024;
    int c;
    while ((c = ugetopt(argc, argv, "s:")) != -1) {
        if (c == 's' && uparse_ll(optarg, &kib) && kib >= 0 && kib <= 1 << 20) continue;
        uusage("[-s KIB]");
    }
    if (optind < argc) uusage("[-s KIB]");
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_open();
    test_canon();
    test_poll();
    test_raw();
    test_session();
    test_winsize();
    test_eio();
    test_hangup();
    test_nonblock();
    test_bulk((uint64_t)kib << 10);
    test_errors();
    test_reuse();
    printf("ptytest: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
