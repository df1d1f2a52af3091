/* session.c: one telnet connection of /sbin/telnetd: its non-blocking socket, its
 * pseudo-terminal and its shell, and the two bounded buffers between them.
 *
 * Pseudo-terminal per the Linux ABI (posix_openpt(3), grantpt(3), unlockpt(3), ptsname(3),
 * pty(7); TIOCSWINSZ, TIOCSCTTY in tty_ioctl(4)); the shell gets a new session (setsid(2))
 * whose controlling terminal is the slave (POSIX.1-2017 XBD 11.1.3), on fds 0, 1 and 2.
 *
 * Flow: client -> telnet_input -> to_pty -> master (the shell's input), and master (the
 * shell's output) -> telnet_output -> to_net -> client. A side is read only while the buffer
 * it feeds has room for the worst case of what the bytes become (back-pressure: a client
 * that does not read stops the shell's output, a shell that does not read stops the client).
 *
 * Life: NEGOTIATING (the pty exists; the shell starts as soon as the client told its
 * terminal type or refused to, at the latest after SESSION_NEGOTIATE_MS, so that TERM can be
 * set) -> RUNNING -> CLOSING when every slave fd is closed or the shell was reaped (the
 * master is read empty and closed, which hangs up what still holds the slave; the rest of
 * the output goes to the client within SESSION_FLUSH_MS) -> DONE. A client that leaves (end
 * of stream, an error, POLLRDHUP) ends the session at once: closing the master sends SIGHUP
 * to the shell's session, and main.c reaps the shell. */
#include "telnetd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *session_shell = "/bin/tsh";
bool session_quiet;

/* The terminal type when the client does not tell one. */
#define DEFAULT_TERM "vt100"
/* Bytes moved per read(2)/recv(2). */
#define IO_CHUNK 4096

static void session_log(const struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void session_log(const struct session *s, const char *fmt, ...) {
    if (session_quiet) return;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "telnetd: %s: %s\n", s->peer, msg);
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

struct session *session_new(int sock, const char *peer, long long now_ms) {
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "telnetd: %s: out of memory\n", peer);
        close(sock);
        return NULL;
    }
    s->sock = sock;
    s->sock_pi = s->master_pi = -1;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    s->master = posix_openpt(O_RDWR | O_NOCTTY);
    const char *name = NULL;
    if (s->master < 0 || grantpt(s->master) < 0 || unlockpt(s->master) < 0 ||
        !(name = ptsname(s->master)) || strlen(name) >= sizeof s->slave_path ||
        fcntl(s->master, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(s->master, F_SETFL, O_NONBLOCK) < 0) {
        int err = errno;
        fprintf(stderr, "telnetd: %s: no pseudo-terminal: %s\n", peer, strerror(err));
        static const char msg[] = "telnetd: no pseudo-terminal available\r\n";
        send(sock, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        close_fd(&s->master);
        close(sock);
        free(s);
        return NULL;
    }
    snprintf(s->slave_path, sizeof s->slave_path, "%s", name);
    s->phase = SESSION_NEGOTIATING;
    s->deadline_ms = now_ms + SESSION_NEGOTIATE_MS;
    telnet_start(&s->tn, &s->to_net);
    session_log(s, "connected, %s", s->slave_path);
    return s;
}

/* The shell's side of the fork: a new session with the slave as controlling terminal on fds
 * 0-2, default signal dispositions, TERM, then the shell. Never returns. */
static void __attribute__((noreturn)) exec_shell(const struct session *s) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL); /* telnetd ignores it; exec keeps an ignored signal ignored */
    setsid();
    int fd = open(s->slave_path, O_RDWR);
    if (fd < 0) _exit(127);
    ioctl(fd, TIOCSCTTY, 0); /* already the controlling terminal where open gave it */
    for (int i = 0; i < 3; i++)
        if (fd != i) dup2(fd, i);
    if (fd > 2) close(fd);
    setenv("TERM", s->tn.ttype[0] ? s->tn.ttype : DEFAULT_TERM, 1);
    char *argv[] = {(char *)session_shell, NULL};
    execv(session_shell, argv);
    dprintf(2, "telnetd: cannot run %s: %s\n", session_shell, strerror(errno));
    _exit(127);
}

/* The session ends now: its output is dropped. */
static void session_end(struct session *s) {
    close_fd(&s->master);
    close_fd(&s->sock);
    s->phase = SESSION_DONE;
}

/* Every slave fd is closed or the shell is gone: hang up the master, send what is left. */
static void begin_closing(struct session *s, long long now_ms) {
    close_fd(&s->master);
    s->phase = SESSION_CLOSING;
    s->deadline_ms = now_ms + SESSION_FLUSH_MS;
}

/* Starts the shell on the slave (the parent holds the slave open across the fork, so the
 * master never sees a hang-up before the child opened it). */
static void start_shell(struct session *s, long long now_ms) {
    if (s->tn.winsize_changed) {
        struct winsize ws = {.ws_row = s->tn.rows, .ws_col = s->tn.cols};
        ioctl(s->master, TIOCSWINSZ, &ws);
        s->tn.winsize_changed = false;
    }
    int slave = open(s->slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    pid_t pid = slave < 0 ? -1 : fork();
    if (pid == 0) exec_shell(s);
    int err = errno;
    if (slave >= 0) close(slave);
    if (pid < 0) {
        session_log(s, "cannot start a shell: %s", strerror(err));
        static const char msg[] = "telnetd: cannot start a shell\r\n";
        buf_put(&s->to_net, msg, sizeof msg - 1);
        begin_closing(s, now_ms);
        return;
    }
    s->shell_pid = pid;
    s->phase = SESSION_RUNNING;
    session_log(s, "shell %s pid %d, TERM=%s", session_shell, (int)pid,
                s->tn.ttype[0] ? s->tn.ttype : DEFAULT_TERM);
}

/* How many bytes the client may send now: what fits in to_pty, and the room for the
 * protocol's replies in to_net. */
static size_t net_read_budget(const struct session *s) {
    size_t pty_room = buf_room(&s->to_pty), net_room = buf_room(&s->to_net);
    if (pty_room < 2 || net_room < TN_REPLY_SLACK + TN_REPLY_PER_BYTE) return 0;
    size_t n = pty_room - 1;
    if (n > (net_room - TN_REPLY_SLACK) / TN_REPLY_PER_BYTE)
        n = (net_room - TN_REPLY_SLACK) / TN_REPLY_PER_BYTE;
    return n < IO_CHUNK ? n : IO_CHUNK;
}

/* How many bytes of terminal output fit in to_net once escaped. */
static size_t pty_read_budget(const struct session *s) {
    size_t room = buf_room(&s->to_net);
    size_t n = room < 1 ? 0 : (room - 1) / 2;
    return n < IO_CHUNK ? n : IO_CHUNK;
}

/* Sends what to_net holds, as far as the socket takes it. False when the client is gone. */
static bool flush_net(struct session *s) {
    while (buf_len(&s->to_net) > 0) {
        ssize_t n = send(s->sock, s->to_net.data + s->to_net.start, buf_len(&s->to_net),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf_drop(&s->to_net, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
}

/* Writes what to_pty holds to the master, as far as the terminal takes it. */
static void flush_pty(struct session *s) {
    while (s->master >= 0 && buf_len(&s->to_pty) > 0) {
        ssize_t n = write(s->master, s->to_pty.data + s->to_pty.start, buf_len(&s->to_pty));
        if (n > 0) {
            buf_drop(&s->to_pty, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { /* EIO: the slave is gone */
            buf_drop(&s->to_pty, buf_len(&s->to_pty));
            s->master_hup = true;
        }
        return;
    }
}

/* Reads one chunk from the client. False when the client is gone. */
static bool read_net(struct session *s) {
    unsigned char in[IO_CHUNK];
    size_t want = net_read_budget(s);
    if (want == 0) return true;
    ssize_t n = recv(s->sock, in, want, MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    telnet_input(&s->tn, in, (size_t)n, &s->to_pty, &s->to_net);
    if (s->tn.winsize_changed && s->phase == SESSION_RUNNING) {
        struct winsize ws = {.ws_row = s->tn.rows, .ws_col = s->tn.cols};
        ioctl(s->master, TIOCSWINSZ, &ws); /* the slave's foreground group gets SIGWINCH */
        s->tn.winsize_changed = false;
    }
    return true;
}

/* Reads the shell's output while to_net has room. Returns true when every slave fd is
 * closed (EIO, or end of file on systems that give it), or, once the shell was reaped, when
 * nothing more is pending: what still holds the slave then is hung up with the master. */
static bool drain_master(struct session *s) {
    unsigned char out[IO_CHUNK];
    for (;;) {
        size_t want = pty_read_budget(s);
        if (want == 0) return false;
        ssize_t n = read(s->master, out, want);
        if (n > 0) {
            telnet_output(&s->tn, out, (size_t)n, &s->to_net);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return s->shell_exited;
        return true;
    }
}

int session_poll_fds(struct session *s, struct pollfd *pfd, int first_index) {
    int used = 0;
    s->sock_pi = s->master_pi = -1;
    if (s->sock >= 0) {
        short ev = POLLRDHUP;
        if (s->phase != SESSION_CLOSING && net_read_budget(s) > 0) ev |= POLLIN;
        if (buf_len(&s->to_net) > 0) ev |= POLLOUT;
        pfd[used] = (struct pollfd){.fd = s->sock, .events = ev};
        s->sock_pi = first_index + used++;
    }
    if (s->master >= 0 && s->phase == SESSION_RUNNING) {
        /* A hang-up is reported whatever the events: while there is no room for the output,
         * the master is left out, or poll would return at once again and again. */
        short ev = 0;
        if (pty_read_budget(s) > 0) ev |= POLLIN;
        if (buf_len(&s->to_pty) > 0 && !s->master_hup) ev |= POLLOUT;
        if (ev) {
            pfd[used] = (struct pollfd){.fd = s->master, .events = ev};
            s->master_pi = first_index + used++;
        }
    }
    return used;
}

void session_handle(struct session *s, const struct pollfd *pfd, long long now_ms) {
    short sock_ev = s->sock_pi >= 0 ? pfd[s->sock_pi].revents : 0;
    short master_ev = s->master_pi >= 0 ? pfd[s->master_pi].revents : 0;

    if (sock_ev & (POLLERR | POLLHUP | POLLRDHUP)) {
        session_log(s, "client left");
        session_end(s);
        return;
    }
    if ((sock_ev & POLLIN) && !read_net(s)) {
        session_log(s, "client left");
        session_end(s);
        return;
    }
    if (s->phase == SESSION_NEGOTIATING &&
        (s->tn.ttype_settled || now_ms >= s->deadline_ms))
        start_shell(s, now_ms);

    if (s->phase == SESSION_RUNNING) {
        if (master_ev & (POLLHUP | POLLERR)) s->master_hup = true;
        flush_pty(s);
        if (((master_ev & (POLLIN | POLLHUP | POLLERR)) || s->shell_exited) &&
            drain_master(s))
            begin_closing(s, now_ms);
    }
    if (!flush_net(s)) {
        session_log(s, "client left");
        session_end(s);
        return;
    }
    if (s->phase == SESSION_CLOSING &&
        (buf_len(&s->to_net) == 0 || now_ms >= s->deadline_ms)) {
        session_log(s, "session ended");
        session_end(s);
    }
}

void session_shell_reaped(struct session *s, int status) {
    s->shell_exited = true;
    if (WIFSIGNALED(status))
        session_log(s, "shell pid %d killed by signal %d", (int)s->shell_pid, WTERMSIG(status));
    else
        session_log(s, "shell pid %d exited with status %d", (int)s->shell_pid,
                    WEXITSTATUS(status));
    s->shell_pid = 0;
}

void session_free(struct session *s) {
    close_fd(&s->master);
    close_fd(&s->sock);
    free(s);
}

long long telnetd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
