/* nc: netcat for SABOS, written against the Linux socket API (socket(2), connect(2), bind(2),
 * listen(2), accept(2), poll(2), shutdown(2) in the Linux man-pages; POSIX getaddrinfo).
 * Behaviour follows OpenBSD netcat's nc(1):
 *   nc [-46uN] [-w SECS] HOST PORT        client: connect, then copy stdin -> socket -> stdout
 *   nc -l [-46uN] [-w SECS] [-p] PORT      server: accept one peer (TCP) or take the first
 *                                          datagram's sender as the peer (UDP), then copy
 *   nc -l ... [ADDR] [-p] PORT             the same, bound to ADDR
 * -w bounds the connect and any idle wait (no data either way for SECS seconds ends nc);
 * -N shuts the socket down for writing when stdin reaches end of file (TCP). Without -N a TCP
 * nc keeps reading the socket after stdin's end, like OpenBSD nc; a UDP nc whose stdin ended
 * stops after -w seconds of silence (without -w it keeps listening, as the original does).
 * Exit status 0 on success, 1 on any error, with a message "nc: WHAT: REASON" on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int family = AF_UNSPEC;
static bool udp, listen_mode, shut_on_eof;
static int wait_ms = -1; /* -w in milliseconds, -1: no limit */

static void usage(void) {
    fprintf(stderr, "usage: nc [-46uN] [-w secs] host port\n"
                    "       nc -l [-46uN] [-w secs] [addr] [-p] port\n");
    exit(1);
}

/* Returns the port 1..65535 in text, or exits with a message. */
static const char *check_port(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > 65535) {
        fprintf(stderr, "nc: port number invalid: %s\n", s);
        exit(1);
    }
    return s;
}

/* Waits until fd is ready for `ev` or the -w time passes; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short ev) {
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        int n = poll(&p, 1, wait_ms);
        if (n >= 0) return n;
        if (errno != EINTR) return -1;
    }
}

/* Connects s to sa, bounded by -w when given. Returns 0 or an errno value. */
static int connect_timed(int s, const struct sockaddr *sa, socklen_t len) {
    if (wait_ms < 0) return connect(s, sa, len) == 0 ? 0 : errno;
    int fl = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, fl | O_NONBLOCK);
    int err = 0;
    if (connect(s, sa, len) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            int r = wait_fd(s, POLLOUT);
            if (r == 0) err = ETIMEDOUT;
            else if (r < 0) err = errno;
            else {
                socklen_t el = sizeof(err);
                if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
            }
        }
    }
    fcntl(s, F_SETFL, fl);
    return err;
}

static int client(const char *host, const char *port) {
    struct addrinfo hints = {.ai_family = family, .ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e) {
        fprintf(stderr, "nc: getaddrinfo for host \"%s\" port %s: %s\n", host, port, gai_strerror(e));
        exit(1);
    }
    int s = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0) { err = errno; continue; }
        err = connect_timed(s, ai->ai_addr, ai->ai_addrlen);
        if (!err) break;
        close(s);
        s = -1;
    }
    freeaddrinfo(res);
    if (s < 0) {
        fprintf(stderr, "nc: connect to %s port %s (%s) failed: %s\n", host, port, udp ? "udp" : "tcp",
                strerror(err));
        exit(1);
    }
    return s;
}

static int server(const char *addr, const char *port) {
    struct addrinfo hints = {.ai_family = family == AF_UNSPEC ? (addr ? AF_UNSPEC : AF_INET) : family,
                             .ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int e = getaddrinfo(addr, port, &hints, &res);
    if (e) {
        fprintf(stderr, "nc: getaddrinfo: %s\n", gai_strerror(e));
        exit(1);
    }
    int s = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (s < 0) { perror("nc: socket"); exit(1); }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, res->ai_addr, res->ai_addrlen) != 0) { perror("nc: bind"); exit(1); }
    freeaddrinfo(res);
    if (udp) {
        /* The first datagram's sender becomes the peer; the datagram goes to stdout. */
        char buf[65536];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n;
        for (;;) {
            n = recvfrom(s, buf, sizeof(buf), MSG_PEEK, (struct sockaddr *)&from, &fl);
            if (n >= 0 || errno != EINTR) break;
        }
        if (n < 0) { perror("nc: recvfrom"); exit(1); }
        if (connect(s, (struct sockaddr *)&from, fl) != 0) { perror("nc: connect"); exit(1); }
        return s;
    }
    if (listen(s, 1) != 0) { perror("nc: listen"); exit(1); }
    int c;
    for (;;) {
        c = accept(s, NULL, NULL);
        if (c >= 0 || errno != EINTR) break;
    }
    if (c < 0) { perror("nc: accept"); exit(1); }
    close(s);
    return c;
}

/* Writes all of buf to fd; false on error. */
static bool write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

/* Copies stdin to s and s to stdout until the peer ends (or -w passes in silence). */
static int copy_loop(int s) {
    static char buf[65536];
    struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = s, .events = POLLIN}};
    bool in_open = true;
    for (;;) {
        p[0].fd = in_open ? 0 : -1;
        int n = poll(p, 2, wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("nc: poll");
            return 1;
        }
        if (n == 0) return 0; /* -w idle time passed */
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(s, buf, sizeof(buf), 0);
            if (r < 0 && errno != EINTR) {
                if (udp && errno == ECONNREFUSED) continue; /* ICMP port unreachable: keep going */
                fprintf(stderr, "nc: read from socket: %s\n", strerror(errno));
                return 1;
            }
            if (r == 0 && !udp) return 0; /* peer closed */
            if (r > 0 && !write_all(1, buf, (size_t)r)) { perror("nc: write to stdout"); return 1; }
        }
        if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(0, buf, sizeof(buf));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                in_open = false;
                if (shut_on_eof && !udp) shutdown(s, SHUT_WR);
                continue;
            }
            if (!write_all(s, buf, (size_t)r)) {
                fprintf(stderr, "nc: write to socket: %s\n", strerror(errno));
                return 1;
            }
        }
    }
}

int main(int argc, char **argv) {
    const char *port_opt = NULL;
    int c;
    while ((c = getopt(argc, argv, "46lNup:w:vnh")) != -1) {
        switch (c) {
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 'l': listen_mode = true; break;
        case 'N': shut_on_eof = true; break;
        case 'u': udp = true; break;
        case 'p': port_opt = optarg; break;
        case 'v': case 'n': break;
        case 'w': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 86400) {
                fprintf(stderr, "nc: timeout invalid: %s\n", optarg);
                return 1;
            }
            wait_ms = (int)v * 1000;
            break;
        }
        default: usage();
        }
    }
    int rest = argc - optind;
    char **a = argv + optind;
    int s;
    if (listen_mode) {
        const char *addr = NULL, *port = port_opt;
        if (!port && rest == 1) port = a[0];
        else if (!port && rest == 2) { addr = a[0]; port = a[1]; }
        else if (port && rest == 1) addr = a[0];
        else if (!(port && rest == 0)) usage();
        s = server(addr, check_port(port));
    } else {
        if (rest != 2) usage();
        s = client(a[0], check_port(a[1]));
    }
    int rc = copy_loop(s);
    close(s);
    return rc;
}
