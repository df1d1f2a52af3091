/* wget: HTTP/1.1 GET for SABOS (RFC 9112 message syntax: status line, header fields,
 * Content-Length, chunked transfer coding §7.1; RFC 3986 for the URL), written against the
 * Linux socket API and getaddrinfo.
 *   wget [-q] [-O FILE|-] [-T SECS] http://HOST[:PORT][/PATH]
 * HOST may be an IPv6 literal in brackets. The body goes to FILE, to stdout with -O -, or by
 * default to the last path component (index.html when there is none). Every wait is bounded
 * by -T (default 30 s). A response is rejected with a clear message when the header is longer
 * than 16 KiB or never ends, when the status line or Content-Length is malformed, when a chunk
 * size is not hexadecimal or too large, or when the body ends early.
 * Exit status like GNU wget: 0 success, 1 network or protocol failure, 2 bad command line,
 * 3 file error, 8 the server answered with an error status (>= 400). Redirects are not
 * followed (a 3xx is reported and exits 8). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR_MAX 16384

static bool quiet;
static int timeout_ms = 30000;
static int sock = -1;
static char rbuf[65536];
static size_t rpos, rlen;

static void __attribute__((noreturn, format(printf, 2, 3))) die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wget: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* Refills rbuf from the socket; returns bytes read, 0 at end of stream. Dies on timeout. */
static size_t fill(void) {
    struct pollfd p = {.fd = sock, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die(1, "poll: %s", strerror(errno));
        if (n == 0) die(1, "read error: timed out after %d s", timeout_ms / 1000);
        ssize_t r = recv(sock, rbuf, sizeof(rbuf), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die(1, "read error: %s", strerror(errno));
        rpos = 0;
        rlen = (size_t)r;
        return rlen;
    }
}

/* Reads one CRLF- (or LF-) terminated line of at most max-1 bytes into out, without the
 * terminator. Returns false at end of stream before any byte; dies when the line is too long. */
static bool read_line(char *out, size_t max, const char *what) {
    size_t n = 0;
    for (;;) {
        if (rpos == rlen && fill() == 0) {
            if (n == 0) return false;
            die(1, "malformed response: %s ends without end of line", what);
        }
        char ch = rbuf[rpos++];
        if (ch == '\n') break;
        if (n + 1 >= max) die(1, "malformed response: %s longer than %zu bytes", what, max - 1);
        out[n++] = ch;
    }
    if (n && out[n - 1] == '\r') n--;
    out[n] = 0;
    return true;
}

/* Copies exactly len body bytes (or until end of stream when len is UINT64_MAX) to out. */
static uint64_t copy_body(FILE *out, uint64_t len) {
    uint64_t done = 0;
    while (done < len) {
        if (rpos == rlen && fill() == 0) {
            if (len == UINT64_MAX) break;
            die(1, "connection closed early: got %llu of %llu bytes", (unsigned long long)done,
                (unsigned long long)len);
        }
        size_t n = rlen - rpos;
        if ((uint64_t)n > len - done) n = (size_t)(len - done);
        if (fwrite(rbuf + rpos, 1, n, out) != n) die(3, "write error: %s", strerror(errno));
        rpos += n;
        done += n;
    }
    return done;
}

/* Decodes the chunked transfer coding (RFC 9112 §7.1) to out; returns the body length. */
static uint64_t copy_chunked(FILE *out) {
    char line[1024];
    uint64_t total = 0;
    for (;;) {
        if (!read_line(line, sizeof(line), "chunk size line"))
            die(1, "malformed response: connection closed before the last chunk");
        uint64_t size = 0;
        int digits = 0;
        const char *p = line;
        for (; isxdigit((unsigned char)*p); p++) {
            if (++digits > 15) die(1, "malformed response: chunk size too large: %.40s", line);
            size = size * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
        }
        while (*p == ' ' || *p == '\t') p++;
        if (digits == 0 || (*p && *p != ';')) die(1, "malformed response: bad chunk size: \"%.40s\"", line);
        if (size == 0) break;
        copy_body(out, size);
        total += size;
        if (!read_line(line, sizeof(line), "chunk end") || line[0])
            die(1, "malformed response: chunk data not followed by CRLF");
    }
    /* Trailer fields up to the empty line; a server that closes instead is tolerated. */
    for (int i = 0; i < 100; i++)
        if (!read_line(line, sizeof(line), "trailer") || !line[0]) return total;
    die(1, "malformed response: too many trailer fields");
}

struct url {
    char host[256], port[6], path[2048], hostport[300];
};

static void parse_url(const char *u, struct url *out) {
    if (strncasecmp(u, "http://", 7) != 0) die(1, "%s: unsupported scheme (only http://)", u);
    const char *h = u + 7, *end;
    const char *slash = strchr(h, '/');
    size_t hplen = slash ? (size_t)(slash - h) : strlen(h);
    if (hplen == 0 || hplen >= sizeof(out->hostport)) die(1, "%s: invalid host name", u);
    memcpy(out->hostport, h, hplen);
    out->hostport[hplen] = 0;
    const char *port = NULL;
    if (h[0] == '[') {
        end = memchr(h, ']', hplen);
        if (!end) die(1, "%s: invalid IPv6 address", u);
        if ((size_t)(end - h - 1) >= sizeof(out->host)) die(1, "%s: invalid host name", u);
        memcpy(out->host, h + 1, (size_t)(end - h - 1));
        out->host[end - h - 1] = 0;
        if (end + 1 < h + hplen) {
            if (end[1] != ':') die(1, "%s: invalid host name", u);
            port = end + 2;
        }
    } else {
        end = memchr(h, ':', hplen);
        size_t hl = end ? (size_t)(end - h) : hplen;
        if (hl == 0 || hl >= sizeof(out->host)) die(1, "%s: invalid host name", u);
        memcpy(out->host, h, hl);
        out->host[hl] = 0;
        if (end) port = end + 1;
    }
    strcpy(out->port, "80");
    if (port) {
        size_t pl = (size_t)(h + hplen - port);
        unsigned long v = 0;
        if (pl == 0 || pl > 5) die(1, "%s: invalid port number", u);
        for (size_t i = 0; i < pl; i++) {
            if (!isdigit((unsigned char)port[i])) die(1, "%s: invalid port number", u);
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (v < 1 || v > 65535) die(1, "%s: invalid port number", u);
        snprintf(out->port, sizeof(out->port), "%lu", v);
    }
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof(out->path)) die(1, "%s: URL too long", u);
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) die(1, "%s: invalid character in path", u);
    strcpy(out->path, path);
}

/* Connects to host:port with the -T bound; dies with "wget: ..." on failure. */
static void connect_to(const struct url *u) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int e = getaddrinfo(u->host, u->port, &hints, &res);
    if (e) die(1, "unable to resolve host address '%s': %s", u->host, gai_strerror(e));
    int err = 0;
    for (struct addrinfo *ai = res; ai && sock < 0; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
        if (s < 0) { err = errno; continue; }
        if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) err = 0;
        else if ((err = errno) == EINPROGRESS) {
            struct pollfd p = {.fd = s, .events = POLLOUT};
            int n;
            while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {}
            if (n == 0) err = ETIMEDOUT;
            else if (n < 0) err = errno;
            else {
                socklen_t l = sizeof(err);
                if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
            }
        }
        if (err) { close(s); continue; }
        fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
        sock = s;
    }
    freeaddrinfo(res);
    if (sock < 0) die(1, "unable to connect to %s:%s: %s", u->host, u->port, strerror(err));
}

int main(int argc, char **argv) {
    const char *outname = NULL;
    int c;
    while ((c = getopt(argc, argv, "qO:T:")) != -1) {
        switch (c) {
        case 'q': quiet = true; break;
        case 'O': outname = optarg; break;
        case 'T': {
            char *e;
            long v = strtol(optarg, &e, 10);
            if (!*optarg || *e || v < 1 || v > 3600) die(2, "invalid timeout: %s", optarg);
            timeout_ms = (int)v * 1000;
            break;
        }
        default:
            fprintf(stderr, "usage: wget [-q] [-O file] [-T secs] http://host[:port]/path\n");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: wget [-q] [-O file] [-T secs] http://host[:port]/path\n");
        return 2;
    }
    static struct url u;
    parse_url(argv[optind], &u);
    if (!quiet) fprintf(stderr, "Connecting to %s:%s... ", u.host, u.port);
    connect_to(&u);
    if (!quiet) fprintf(stderr, "connected.\n");

    static char req[4096];
    int rl = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Wget/1.21 (SABOS)\r\nAccept: */*\r\n"
                      "Connection: close\r\n\r\n", u.path, u.hostport);
    for (int off = 0; off < rl;) {
        ssize_t w = send(sock, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die(1, "write error: %s", strerror(errno));
        off += (int)w;
    }

    /* Status line and header fields, at most HDR_MAX bytes in all. */
    static char line[HDR_MAX];
    if (!read_line(line, sizeof(line), "status line")) die(1, "no response: connection closed by server");
    int status = 0;
    char *sp = strchr(line, ' ');
    if (strncmp(line, "HTTP/1.", 7) != 0 || !sp || !isdigit((unsigned char)sp[1]) ||
        !isdigit((unsigned char)sp[2]) || !isdigit((unsigned char)sp[3]) || (sp[4] && sp[4] != ' '))
        die(1, "malformed status line: \"%.80s\"", line);
    status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    if (!quiet) fprintf(stderr, "HTTP request sent, awaiting response... %s\n", sp + 1);
    uint64_t clen = UINT64_MAX;
    bool chunked = false;
    size_t hdr_total = strlen(line);
    for (;;) {
        if (!read_line(line, sizeof(line), "header"))
            die(1, "malformed response: connection closed inside the header");
        hdr_total += strlen(line) + 2;
        if (hdr_total > HDR_MAX) die(1, "malformed response: header longer than %d bytes", HDR_MAX);
        if (!line[0]) break;
        char *colon = strchr(line, ':');
        if (!colon) die(1, "malformed header line: \"%.80s\"", line);
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        if (strcasecmp(line, "Content-Length") == 0) {
            uint64_t n = 0;
            char *p = v;
            for (; isdigit((unsigned char)*p); p++) {
                if (n > (UINT64_MAX - 9) / 10) die(1, "malformed response: Content-Length too large");
                n = n * 10 + (uint64_t)(*p - '0');
            }
            while (*p == ' ' || *p == '\t') p++;
            if (p == v || *p) die(1, "malformed response: bad Content-Length \"%.40s\"", v);
            if (clen != UINT64_MAX && clen != n) die(1, "malformed response: conflicting Content-Length");
            clen = n;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            if (strcasestr(v, "chunked")) chunked = true;
            else die(1, "unsupported Transfer-Encoding: %.40s", v);
        }
    }
    if (status >= 300) {
        fprintf(stderr, "wget: server returned error: HTTP %d\n", status);
        return 8;
    }
    FILE *out = stdout;
    if (!outname) {
        const char *base = strrchr(u.path, '/');
        base = base ? base + 1 : u.path;
        static char name[256];
        size_t n = strcspn(base, "?#");
        if (n == 0 || n >= sizeof(name)) outname = "index.html";
        else {
            memcpy(name, base, n);
            name[n] = 0;
            outname = name;
        }
    }
    if (strcmp(outname, "-") != 0) {
        out = fopen(outname, "w");
        if (!out) die(3, "%s: %s", outname, strerror(errno));
    }
    uint64_t got;
    if (status == 204 || status == 304 || (status >= 100 && status < 200)) got = 0;
    else if (chunked) got = copy_chunked(out);
    else got = copy_body(out, clen);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) die(3, "write error: %s", strerror(errno));
    if (!quiet) fprintf(stderr, "saved %llu bytes to %s\n", (unsigned long long)got, out == stdout ? "stdout" : outname);
    close(sock);
    return 0;
}
