/* httpd: SABOS's HTTP/1.1 origin server (RFC 9110 semantics, RFC 9112 message syntax, RFC 3986
 * percent-encoding, RFC 9110 §14 Range), serving files read-only. A plain POSIX/Linux program:
 * the same static binary runs on SABOS (/sbin/httpd) and on the host (the tests).
 *
 *   httpd [-p PORT]... [-r DOCROOT] [-a URLPREFIX=DIR]... [-l LOGFILE] [-q]
 *         [-t IDLE_SECS] [-T HEAD_SECS] [-c MAXCONN]
 *
 *   -p PORT         listen on PORT, IPv4 and IPv6 (repeatable; default: 80 and 8080). A port
 *                   that cannot be bound is reported and skipped; none at all is fatal.
 *   -r DOCROOT      the document root (default /www)
 *   -a PREFIX=DIR   serve URL PREFIX and PREFIX/... from DIR (repeatable), e.g. -a /9p=/9p
 *   -l LOGFILE      append the access log (Common Log Format) to LOGFILE instead of stdout
 *   -q              no access log and no start-up line
 *   -t SECS         keep-alive idle timeout, also the limit on a stalled answer (default 15)
 *   -T SECS         the whole request head must arrive within SECS, else 408 (default 10)
 *   -c MAXCONN      connections at once (default 1000, at most the descriptor limit allows);
 *                   beyond it a new connection gets 503 and is closed at once
 *
 * Behaviour: GET and HEAD (other methods 405 with Allow, or 501 when unknown); persistent
 * connections and pipelined requests answered in order, one at a time (RFC 9112 §9.3); request
 * head limits and error statuses in request.c; file, directory, Range and conditional answers
 * in respond.c; path safety in path.c. One process, one poll(2) loop, non-blocking sockets; a
 * file body is read FILE_CHUNK bytes at a time as the socket accepts them, so memory stays
 * bounded whatever the file size. After an answer that closes the connection the write side is
 * shut and the input drained for a moment (RFC 9112 §9.6), so that the client reads the answer
 * rather than a reset. Timeouts: a connection that has not sent a complete request head within
 * -T seconds gets 408 and is closed (slowloris); an idle keep-alive connection is closed after
 * -t seconds; an answer the client does not read for -t seconds is abandoned.
 * Exit status: 2 for a bad command line, 1 when nothing can be listened on. */
#include "httpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "ulib.h"

#define USAGE                                                                                  \
    "[-p PORT]... [-r DOCROOT] [-a URLPREFIX=DIR]... [-l LOGFILE] [-q] [-t IDLE_SECS] "       \
    "[-T HEAD_SECS] [-c MAXCONN]"
#define LINGER_MS 2000   /* draining input after a closing answer */
#define ACCEPT_BURST 64  /* connections accepted per loop turn and listener */
#define READ_CHUNK 16384

struct config cfg;

static int listeners[PORTS_MAX];
static int nlisteners;
static struct conn **conns;
static int nconns;
static struct pollfd *pfds;
static int64_t accept_paused_until;

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses a whole decimal number in [lo, hi] or exits with a usage message. */
static int number_arg(const char *s, int lo, int hi, const char *what) {
    long long v;
    if (!uparse_ll(s, &v) || v < lo || v > hi) {
        uwarnx("bad %s '%s' (%d-%d)", what, s, lo, hi);
        uusage(USAGE);
    }
    return (int)v;
}

/* Adds a -a PREFIX=DIR mount, or exits with a usage message. */
static void add_mount(char *spec) {
    char *eq = strchr(spec, '=');
    if (!eq || spec[0] != '/' || !eq[1] || cfg.nmounts == MOUNTS_MAX) {
        uwarnx("bad -a '%s' (URLPREFIX=DIR, URLPREFIX starting with '/', at most %d)", spec,
               MOUNTS_MAX - 1);
        uusage(USAGE);
    }
    *eq = '\0';
    size_t n = strlen(spec);
    while (n > 1 && spec[n - 1] == '/') spec[--n] = '\0';
    if (n == 1 || strstr(spec, "//") || strstr(spec, "/./") || strstr(spec, "/../") ||
        strcmp(spec + n - 2, "/.") == 0 || (n >= 3 && strcmp(spec + n - 3, "/..") == 0)) {
        uwarnx("bad URL prefix '%s' (a normalised path other than /)", spec);
        uusage(USAGE);
    }
    struct mount *m = &cfg.mounts[cfg.nmounts++];
    m->prefix = spec;
    m->prefix_len = n;
    m->dir = eq + 1;
}

static void parse_args(int argc, char **argv) {
    cfg.mounts[0] = (struct mount){.prefix = "", .dir = "/www"};
    cfg.nmounts = 1;
    cfg.idle_timeout_s = 15;
    cfg.head_timeout_s = 10;
    cfg.max_conns = 1000;
    int c;
    while ((c = ugetopt(argc, argv, "p:r:a:l:qt:T:c:")) != -1) {
        switch (c) {
        case 'p':
            if (cfg.nports == PORTS_MAX) {
                uwarnx("at most %d ports", PORTS_MAX);
                uusage(USAGE);
            }
            cfg.ports[cfg.nports++] = number_arg(optarg, 1, 65535, "port");
            break;
        case 'r': cfg.mounts[0].dir = optarg; break;
        case 'a': add_mount(optarg); break;
        case 'l': cfg.log_path = optarg; break;
        case 'q': cfg.quiet = true; break;
        case 't': cfg.idle_timeout_s = number_arg(optarg, 1, 86400, "idle timeout"); break;
        case 'T': cfg.head_timeout_s = number_arg(optarg, 1, 86400, "request timeout"); break;
        case 'c': cfg.max_conns = number_arg(optarg, 1, 65536, "connection limit"); break;
        default: uusage(USAGE);
        }
    }
    if (optind != argc) uusage(USAGE);
    if (cfg.nports == 0) {
        cfg.ports[0] = 80;
        cfg.ports[1] = 8080;
        cfg.nports = 2;
    }
}

/* A non-blocking listening socket on port: IPv6 with IPV6_V6ONLY off, which takes IPv4 as
 * well (as IPv4-mapped addresses), else IPv4 alone; -1 (reported) when neither binds. One
 * dual-stack socket rather than two: SABOS counts a wildcard listener for both families. */
static int listen_on(int port) {
    int fd = -1;
    for (int family = AF_INET6; fd < 0; family = AF_INET) {
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_storage ss = {0};
        socklen_t len;
        int one = 1, zero = 0;
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (family == AF_INET6) {
            if (fd >= 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)port);
            a6->sin6_addr = in6addr_any;
            len = sizeof *a6;
        } else {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)port);
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
            len = sizeof *a4;
        }
        if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 128) == 0) break;
        int err = errno;
        if (fd >= 0) close(fd);
        fd = -1;
        if (family == AF_INET) {
            uwarnx("port %d: %s", port, strerror(err));
            break;
        }
    }
    return fd;
}

/* The client's address as text; IPv4-mapped IPv6 addresses in the IPv4 form. */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t cap) {
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], out, (socklen_t)cap);
        else inet_ntop(AF_INET6, &a6->sin6_addr, out, (socklen_t)cap);
    } else if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)cap);
    } else {
        snprintf(out, cap, "-");
    }
}

/* Closes the connection (logging an answer cut short) and marks it for removal. */
static void conn_close(struct conn *c) {
    if (c->state == CONN_SEND && !cfg.quiet) log_access(c);
    if (c->file_fd >= 0) close(c->file_fd);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c->log_request);
    c->log_request = NULL;
    c->file_fd = -1;
    c->state = CONN_CLOSED;
}

/* Accepts what is pending on listener lfd. */
static void accept_from(int lfd, int64_t now) {
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                accept_paused_until = now + 200; /* until descriptors are freed */
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            return; /* EAGAIN and the rest */
        }
        struct conn *c = nconns < cfg.max_conns ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            char busy[512];
            size_t n = respond_busy(busy, sizeof busy);
            if (n) send(fd, busy, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (!cfg.quiet) {
                struct conn refused = {.status = 503};
                peer_text(&ss, refused.peer, sizeof refused.peer);
                log_access(&refused);
            }
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->file_fd = -1;
        c->state = CONN_READ;
        peer_text(&ss, c->peer, sizeof c->peer);
        c->head_deadline_ms = c->deadline_ms = now + cfg.head_timeout_s * 1000LL;
        conns[nconns++] = c;
    }
}

/* Drops n bytes from the front of the input. */
static void consume(struct conn *c, size_t n) {
    if (n == 0) return;
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
}

/* The answer is sent: log it, then wait for the next request or shut the connection. */
static void answer_done(struct conn *c, int64_t now) {
    if (!cfg.quiet) log_access(c);
    if (c->file_fd >= 0) close(c->file_fd);
    c->file_fd = -1;
    if (c->out.cap > 16384) buf_free(&c->out); /* no file-sized buffer kept while idle */
    c->out.len = c->out_off = 0;
    if (c->close_after) {
        shutdown(c->fd, SHUT_WR);
        c->state = CONN_LINGER;
        int64_t linger = cfg.idle_timeout_s * 1000LL < LINGER_MS ? cfg.idle_timeout_s * 1000LL : LINGER_MS;
        c->deadline_ms = now + linger;
        buf_free(&c->in);
        return;
    }
    c->state = CONN_READ;
    c->head_deadline_ms = 0;
    c->deadline_ms = now + cfg.idle_timeout_s * 1000LL;
}

/* Moves the unsent bytes of the answer to the front and appends the next piece of the file;
 * false when the file cannot be read (or shrank: the promised length cannot be kept) or
 * memory ran out. */
static bool refill_from_file(struct conn *c) {
    size_t pending = c->out.len - c->out_off;
    if (pending) memmove(c->out.data, c->out.data + c->out_off, pending);
    c->out.len = pending;
    c->out_off = 0;
    if (!buf_reserve(&c->out, FILE_CHUNK)) return false;
    off_t want = c->file_end - c->file_off;
    if (want > FILE_CHUNK) want = FILE_CHUNK;
    ssize_t n;
    do n = pread(c->file_fd, c->out.data + pending, (size_t)want, c->file_off);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    c->out.len += (size_t)n;
    c->file_off += n;
    return true;
}

/* Sends what the socket takes of the answer, reading the file as it goes. */
static void conn_send(struct conn *c, int64_t now) {
    for (;;) {
        size_t pending = c->out.len - c->out_off;
        if (pending < FILE_CHUNK / 4 && c->file_fd >= 0 && c->file_off < c->file_end) {
            if (!refill_from_file(c)) return conn_close(c);
            pending = c->out.len;
        }
        if (pending == 0) return answer_done(c, now);
        ssize_t n = send(c->fd, c->out.data + c->out_off, pending, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            return conn_close(c);
        }
        c->out_off += (size_t)n;
        c->sent += n;
        c->deadline_ms = now + cfg.idle_timeout_s * 1000LL;
    }
}

/* Answers the complete requests in the input, in order, while the socket takes the answers. */
static void conn_serve(struct conn *c, int64_t now, bool peer_eof) {
    while (c->state == CONN_READ) {
        if (c->discard > 0) {
            size_t n = c->in.len < (size_t)c->discard ? c->in.len : (size_t)c->discard;
            consume(c, n);
            c->discard -= (long long)n;
            if (c->discard > 0) break;
        }
        size_t skip = 0; /* empty lines before a request line (RFC 9112 §2.2) */
        while (skip < c->in.len && (c->in.data[skip] == '\r' || c->in.data[skip] == '\n')) skip++;
        consume(c, skip);
        if (c->in.len == 0) {
            if (peer_eof) return conn_close(c);
            break; /* idle: the deadline is the one set when the last answer ended */
        }
        if (c->head_deadline_ms == 0) c->head_deadline_ms = now + cfg.head_timeout_s * 1000LL;
        c->deadline_ms = c->head_deadline_ms;
        struct request req;
        int st = request_parse(c->in.data, c->in.len, &req);
        if (st == PARSE_MORE) {
            if (peer_eof) return conn_close(c);
            break;
        }
        if (st < 0) {
            respond_error(c, -st, req.line, true);
            c->in.len = 0;
        } else {
            c->close_after = peer_eof;
            respond(c, &req);
            c->discard = req.content_length;
            consume(c, (size_t)st);
        }
        c->served_one = true;
        c->state = CONN_SEND;
        c->deadline_ms = now + cfg.idle_timeout_s * 1000LL;
        conn_send(c, now);
    }
}

/* Reads what the socket has (the input is bounded by HEAD_MAX plus a request body to drop). */
static void conn_read(struct conn *c, int64_t now) {
    bool eof = false;
    size_t limit = HEAD_MAX + 1 + (size_t)c->discard;
    while (c->in.len < limit) {
        if (!buf_reserve(&c->in, READ_CHUNK)) return conn_close(c);
        size_t room = c->in.cap - c->in.len;
        if (room > limit - c->in.len) room = limit - c->in.len;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, room, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return conn_close(c);
        }
        if (n == 0) {
            eof = true;
            break;
        }
        c->in.len += (size_t)n;
        if ((size_t)n < room) break;
    }
    conn_serve(c, now, eof);
}

/* Drains input after a closing answer; the connection ends at EOF, an error or the deadline. */
static void conn_drain(struct conn *c) {
    char scratch[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        return conn_close(c);
    }
}

/* Handles c's deadline having passed. */
static void conn_timeout(struct conn *c, int64_t now) {
    switch (c->state) {
    case CONN_READ:
        if (c->served_one && c->in.len == 0 && c->head_deadline_ms == 0) return conn_close(c);
        /* the request head did not arrive in time (RFC 9110 §15.5.9) */
        respond_error(c, 408, NULL, true);
        c->in.len = 0;
        c->state = CONN_SEND;
        c->deadline_ms = now + cfg.idle_timeout_s * 1000LL;
        return conn_send(c, now);
    default: return conn_close(c);
    }
}

/* Limits the connections to what the descriptor limit allows (raising it as far as allowed). */
static void fit_descriptor_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* stdio, the log, listeners, one file and one directory per answer being built */
    long long spare = (long long)rl.rlim_cur - nlisteners - 16;
    if (spare < 1) spare = 1;
    if (cfg.max_conns > spare) cfg.max_conns = (int)spare;
}

int main(int argc, char **argv) {
    ulib_prog = "httpd";
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if (!cfg.quiet && !log_open(cfg.log_path)) {
        uerr(cfg.log_path);
        return 1;
    }
    for (int i = 0; i < cfg.nmounts; i++) {
        struct mount *m = &cfg.mounts[i];
        m->real = realpath(m->dir, NULL);
        if (!m->real) uwarnx("%s: %s (tried again at each request)", m->dir, strerror(errno));
    }
    for (int i = 0; i < cfg.nports; i++) {
        int fd = listen_on(cfg.ports[i]);
        if (fd >= 0) listeners[nlisteners++] = fd;
    }
    if (nlisteners == 0) {
        uwarnx("no port to listen on");
        return 1;
    }
    fit_descriptor_limit();
    conns = calloc((size_t)cfg.max_conns, sizeof *conns);
    pfds = calloc((size_t)cfg.max_conns + (size_t)nlisteners, sizeof *pfds);
    if (!conns || !pfds) {
        uerr("memory");
        return 1;
    }
    if (!cfg.quiet) {
        fprintf(stderr, "httpd: serving %s on port", cfg.mounts[0].dir);
        for (int i = 0; i < cfg.nports; i++) fprintf(stderr, " %d", cfg.ports[i]);
        for (int i = 1; i < cfg.nmounts; i++)
            fprintf(stderr, ", %s from %s", cfg.mounts[i].prefix, cfg.mounts[i].dir);
        fprintf(stderr, " (at most %d connections)\n", cfg.max_conns);
    }

    for (;;) {
        int64_t now = now_ms();
        bool accepting = now >= accept_paused_until;
        int np = 0;
        for (int i = 0; i < nlisteners; i++)
            pfds[np++] = (struct pollfd){.fd = listeners[i], .events = accepting ? POLLIN : 0};
        int64_t next = now + 60000;
        if (!accepting && accept_paused_until < next) next = accept_paused_until;
        int polled = nconns;
        for (int i = 0; i < polled; i++) {
            struct conn *c = conns[i];
            short ev = c->state == CONN_SEND ? POLLOUT : POLLIN;
            pfds[np++] = (struct pollfd){.fd = c->fd, .events = ev};
            if (c->deadline_ms < next) next = c->deadline_ms;
        }
        int wait = next > now ? (int)(next - now) : 0;
        int n = poll(pfds, (nfds_t)np, wait);
        if (n < 0 && errno != EINTR) {
            uerr("poll");
            return 1;
        }
        now = now_ms();
        for (int i = 0; n > 0 && i < nlisteners; i++)
            if (pfds[i].revents & POLLIN) accept_from(listeners[i], now);
        for (int i = 0; i < polled; i++) {
            struct conn *c = conns[i];
            short re = n > 0 ? pfds[nlisteners + i].revents : 0;
            if (re) {
                if (c->state == CONN_SEND) {
                    conn_send(c, now);
                    if (c->state == CONN_READ) conn_serve(c, now, false);
                } else if (c->state == CONN_READ) {
                    conn_read(c, now);
                } else if (c->state == CONN_LINGER) {
                    conn_drain(c);
                }
            }
            if (c->state != CONN_CLOSED && now >= c->deadline_ms) conn_timeout(c, now);
        }
        int kept = 0;
        for (int i = 0; i < nconns; i++) {
            if (conns[i]->state == CONN_CLOSED) free(conns[i]);
            else conns[kept++] = conns[i];
        }
        nconns = kept;
    }
}
