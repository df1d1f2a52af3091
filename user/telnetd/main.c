/* main.c: /sbin/telnetd, SABOS's telnet server: every connection gets its own shell on a new
 * pseudo-terminal; all sessions are served by one poll(2) loop over non-blocking sockets
 * and pty masters.
 *
 *   telnetd [-p PORT]... [-s SHELL] [-m MAX] [-q]
 *
 *   -p PORT   listen on TCP port PORT, IPv4 and IPv6 (repeatable, at most 8; default 23 and
 *             2323, the port SABOS's original telnet server used)
 *   -s SHELL  the program each connection runs (default /bin/tsh), as "SHELL" without
 *             arguments, with TERM from the client's TERMINAL-TYPE (default vt100)
 *   -m MAX    at most MAX sessions at a time, 1-256 (default 32); a connection beyond them
 *             gets the line "telnetd: too many sessions, try again later" and is closed
 *   -q        no log line per connection (start-up and errors are still logged)
 *
 * Logs go to stderr, each line starting "telnetd: ". Exit status 2 for a usage error, 1
 * when no port could be opened; otherwise telnetd runs until a signal ends it.
 *
 * Specifications: the TELNET protocol (RFC 854, 855, 857, 858, 1073, 1091, 1143) in
 * telnet.c; sockets, poll(2), waitpid(2) and signals per POSIX.1-2017 and the Linux
 * man-pages (IPV6_V6ONLY in ipv6(7), POLLRDHUP in poll(2), accept4(2)). A SIGCHLD handler
 * writes one byte into a pipe that the poll loop watches (the self-pipe), and the loop reaps
 * every exited child with waitpid(WNOHANG). */
#include "telnetd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ulib.h"

#define MAX_PORTS 8
#define MAX_SESSIONS_LIMIT 256
#define DEFAULT_MAX_SESSIONS 32
/* After accept fails for lack of resources (EMFILE, ENOBUFS...), pause accepting this long
 * instead of finding the listener readable again at once. */
#define ACCEPT_PAUSE_MS 1000

static int listeners[2 * MAX_PORTS];
static int nlisteners;
static struct session **sessions;
static int nsessions, max_sessions = DEFAULT_MAX_SESSIONS;
static int wake_pipe[2] = {-1, -1};

static void on_sigchld(int sig) {
    (void)sig;
    int saved = errno;
    char b = 0;
    if (write(wake_pipe[1], &b, 1) < 0) { /* full: a wake-up is already pending */ }
    errno = saved;
}

/* Opens a listening socket of family (AF_INET or AF_INET6, the latter IPv6 only) on port.
 * -1 (reason logged) when it cannot. */
static int listen_on(int family, unsigned port) {
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1; /* the family is not there: not worth a line */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof *a;
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_any;
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
        fprintf(stderr, "telnetd: port %u (%s): %s\n", port,
                family == AF_INET ? "IPv4" : "IPv6", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* "ADDR port PORT" of a peer address. */
static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap) {
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, "%s port %u", addr, port);
}

/* Accepts every pending connection of a listener. False when accepting should pause (the
 * process or the system is out of fds or memory). */
static bool accept_all(int lfd, long long now_ms) {
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            fprintf(stderr, "telnetd: accept: %s; pausing\n", strerror(errno));
            return false;
        }
        char peer[64];
        format_peer(&ss, peer, sizeof peer);
        if (nsessions >= max_sessions) {
            static const char msg[] = "telnetd: too many sessions, try again later\r\n";
            send(fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            if (!session_quiet)
                fprintf(stderr, "telnetd: %s: refused, %d sessions\n", peer, nsessions);
            continue;
        }
        int one = 1; /* keystrokes and echoes are small: no Nagle delay */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct session *s = session_new(fd, peer, now_ms);
        if (s) sessions[nsessions++] = s;
    }
}

/* Reaps every exited child and tells its session. */
static void reap_children(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < nsessions; i++) {
            if (sessions[i]->shell_pid == pid) {
                session_shell_reaped(sessions[i], status);
                break;
            }
        }
    }
}

/* The poll timeout: until the nearest session deadline, or -1 without one. */
static int poll_timeout(long long now_ms, long long accept_resume_ms) {
    long long next = accept_resume_ms > now_ms ? accept_resume_ms : -1;
    for (int i = 0; i < nsessions; i++) {
        const struct session *s = sessions[i];
        if (s->phase != SESSION_NEGOTIATING && s->phase != SESSION_CLOSING) continue;
        if (next < 0 || s->deadline_ms < next) next = s->deadline_ms;
    }
    if (next < 0) return -1;
    return next <= now_ms ? 0 : (int)(next - now_ms);
}

static void serve(void) {
    struct pollfd *pfd = calloc((size_t)(1 + nlisteners + 2 * max_sessions), sizeof *pfd);
    if (!pfd) {
        fprintf(stderr, "telnetd: out of memory\n");
        exit(1);
    }
    long long accept_resume_ms = 0;
    for (;;) {
        long long now = telnetd_now_ms();
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
        int first_listener = n;
        bool accepting = now >= accept_resume_ms;
        for (int i = 0; accepting && i < nlisteners; i++)
            pfd[n++] = (struct pollfd){.fd = listeners[i], .events = POLLIN};
        int after_listeners = n;
        for (int i = 0; i < nsessions; i++) n += session_poll_fds(sessions[i], pfd + n, n);

        if (poll(pfd, (nfds_t)n, poll_timeout(now, accept_resume_ms)) < 0) {
            if (errno != EINTR) {
                fprintf(stderr, "telnetd: poll: %s\n", strerror(errno));
                exit(1);
            }
            for (int i = 0; i < n; i++) pfd[i].revents = 0;
        }
        now = telnetd_now_ms();
        if (pfd[0].revents) {
            char drain[64];
            while (read(wake_pipe[0], drain, sizeof drain) > 0) {}
        }
        reap_children(); /* cheap, and a SIGCHLD between two polls is never missed */

        int kept = 0;
        for (int i = 0; i < nsessions; i++) {
            struct session *s = sessions[i];
            session_handle(s, pfd, now);
            if (s->phase == SESSION_DONE) session_free(s);
            else sessions[kept++] = s;
        }
        nsessions = kept;

        for (int i = first_listener; i < after_listeners; i++)
            if ((pfd[i].revents & POLLIN) && !accept_all(pfd[i].fd, now))
                accept_resume_ms = now + ACCEPT_PAUSE_MS;
    }
}

int main(int argc, char **argv) {
    ulib_prog = "telnetd";
    static const char usage[] = "[-p PORT]... [-s SHELL] [-m MAX] [-q]";
    unsigned ports[MAX_PORTS];
    int nports = 0;
    int c;
    while ((c = ugetopt(argc, argv, "p:s:m:q")) != -1) {
        long long v;
        switch (c) {
        case 'p':
            if (!uparse_ll(optarg, &v) || v < 1 || v > 65535) {
                uwarnx("bad port: %s", optarg);
                uusage(usage);
            }
            if (nports == MAX_PORTS) {
                uwarnx("at most %d ports", MAX_PORTS);
                uusage(usage);
            }
            ports[nports++] = (unsigned)v;
            break;
        case 's': session_shell = optarg; break;
        case 'm':
            if (!uparse_ll(optarg, &v) || v < 1 || v > MAX_SESSIONS_LIMIT) {
                uwarnx("bad session count (1-%d): %s", MAX_SESSIONS_LIMIT, optarg);
                uusage(usage);
            }
            max_sessions = (int)v;
            break;
        case 'q': session_quiet = true; break;
        default: uusage(usage);
        }
    }
    if (optind != argc) uusage(usage);
    if (nports == 0) {
        ports[nports++] = 23;
        ports[nports++] = 2323;
    }
    if (access(session_shell, X_OK) < 0) {
        uerr(session_shell);
        return 1;
    }

    sessions = calloc((size_t)max_sessions, sizeof *sessions);
    if (!sessions || pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        uerr("start-up");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    for (int i = 0; i < nports; i++) {
        int v4 = listen_on(AF_INET, ports[i]), v6 = listen_on(AF_INET6, ports[i]);
        if (v4 >= 0) listeners[nlisteners++] = v4;
        if (v6 >= 0) listeners[nlisteners++] = v6;
        if (v4 >= 0 || v6 >= 0)
            fprintf(stderr, "telnetd: listening on port %u (%s%s%s)\n", ports[i],
                    v4 >= 0 ? "IPv4" : "", v4 >= 0 && v6 >= 0 ? ", " : "",
                    v6 >= 0 ? "IPv6" : "");
    }
    if (nlisteners == 0) {
        fprintf(stderr, "telnetd: no port could be opened\n");
        return 1;
    }
    fprintf(stderr, "telnetd: shell %s, at most %d sessions\n", session_shell, max_sessions);
    serve();
}
