/* httpd.h: the pieces of /sbin/httpd (an HTTP/1.1 origin server, RFC 9110 and RFC 9112) and
 * how they talk to each other:
 *   main.c     command line, listening sockets, the poll(2) loop, connections and timeouts
 *   request.c  the request head: request line, header fields, limits (RFC 9112 §2-§6)
 *   respond.c  answers: files, Range (RFC 9110 §14), conditionals (§13), listings, errors
 *   path.c     request-target -> file path: percent-decoding (RFC 3986 §2.1), dot segments,
 *              prefixes (-a), confinement to the document root
 *   mime.c     Content-Type by file name extension
 *   date.c     HTTP-date (RFC 9110 §5.6.7) and the Common Log Format time
 *   log.c      the access log in Common Log Format
 * See main.c's header for the command line and the behaviour as a whole. */
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Limits on what a client may send (RFC 9112 §3 and §5: a server sets its own). */
#define REQ_LINE_MAX 8192      /* request line, CRLF included: longer -> 414 */
#define FIELDS_MAX 16384       /* all header field lines together: more -> 431 */
#define FIELD_COUNT_MAX 100    /* header field lines: more -> 431 */
#define BODY_MAX 65536         /* a request body (read and dropped): larger -> 413 */
#define HEAD_MAX (REQ_LINE_MAX + FIELDS_MAX + 2) /* the largest request head accepted */
#define FILE_CHUNK 65536       /* a file body is read and sent this much at a time */

/* A growable byte buffer. */
struct buf {
    char *data;
    size_t len, cap;
};
/* Appends len bytes; false when memory ran out (the buffer is unchanged). */
bool buf_add(struct buf *b, const void *p, size_t len);
/* Appends the string s. */
bool buf_puts(struct buf *b, const char *s);
/* Appends a formatted string; false when memory ran out. */
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for at least need more bytes; false when memory ran out. */
bool buf_reserve(struct buf *b, size_t need);
/* Frees the buffer's memory. */
void buf_free(struct buf *b);

/* A URL prefix served from a directory: prefix "" is the document root, "/9p" (from -a) maps
 * /9p/... onto its directory. real is the directory with symbolic links resolved, found when
 * the server starts or, while the directory does not exist yet, at the next request. */
struct mount {
    const char *prefix;
    size_t prefix_len;
    const char *dir;
    char *real;
};

#define MOUNTS_MAX 16
#define PORTS_MAX 16

/* The configuration from the command line. */
struct config {
    int ports[PORTS_MAX];
    int nports;
    struct mount mounts[MOUNTS_MAX]; /* mounts[0] is the document root */
    int nmounts;
    const char *log_path;            /* NULL: stdout */
    bool quiet;                      /* no access log */
    int idle_timeout_s;              /* keep-alive idle and stalled sending */
    int head_timeout_s;              /* the whole request head must arrive within this */
    int max_conns;
};
extern struct config cfg;

enum method { METHOD_GET, METHOD_HEAD };

/* A parsed request head. The strings point into the connection's input buffer (NUL-ended
 * in place) and stay valid until the answer is built. */
struct request {
    enum method method;
    const char *line;              /* the request line, for the log */
    const char *target;            /* the request-target as sent (not NUL-ended) */
    size_t target_len;
    int minor;                     /* HTTP/1.minor */
    bool keep_alive;               /* the connection persists after the answer (§9.3) */
    long long content_length;      /* request body length (dropped), 0 when none */
    const char *if_modified_since, *if_none_match, *range, *if_range;
};

/* Outcome of request_parse when it is not a complete request: more bytes are needed. */
#define PARSE_MORE 0

/* Parses the request head at the start of buf (len bytes; leading empty lines already
 * removed). Returns the head's length (> 0) with *r filled, PARSE_MORE when the head is
 * incomplete and within the limits, or the negative HTTP status to answer (-400, -405, -413,
 * -414, -431, -501, -505) for a request that cannot be served; for -405 and -501 r->line is
 * set. Modifies buf in place only for a complete head. */
int request_parse(char *buf, size_t len, struct request *r);

/* A connection and the answer it is sending. */
enum conn_state {
    CONN_READ,    /* waiting for (the rest of) a request head */
    CONN_SEND,    /* sending an answer */
    CONN_LINGER,  /* answer sent, write side shut: reading and dropping until EOF */
    CONN_CLOSED,
};
struct conn {
    int fd;
    enum conn_state state;
    char peer[64];            /* client address, for the log */
    struct buf in;            /* received bytes not yet consumed */
    long long discard;        /* request body bytes still to drop */
    bool served_one;          /* a request was answered on this connection */
    int64_t deadline_ms;      /* when the current wait times out (monotonic) */
    int64_t head_deadline_ms; /* when the request head being received must be complete */
    /* the answer */
    struct buf out;           /* bytes to send: head, small body, the current file chunk */
    size_t out_off;           /* bytes of out already sent */
    int file_fd;              /* file body still to read, or -1 */
    off_t file_off, file_end; /* its next byte and end */
    bool close_after;         /* close the connection once the answer is sent */
    bool http10_keep_alive;   /* an HTTP/1.0 request asked for keep-alive */
    size_t head_len;          /* bytes of out that are the answer's head */
    long long sent;           /* bytes of the answer sent so far */
    /* for the log line */
    char *log_request;        /* the request line, or NULL */
    int status;
};

/* Builds the answer to a parsed request into c (status, head, body or file), following the
 * request's keep-alive. */
void respond(struct conn *c, const struct request *r);
/* Builds an error answer with a small HTML body; close: close the connection afterwards.
 * line is the request line for the log (NULL when there is none). */
void respond_error(struct conn *c, int status, const char *line, bool close);
/* A complete "503 Service Unavailable" answer (closing) into out; its length, 0 if it does not
 * fit. For connections beyond the limit, which get no struct conn. */
size_t respond_busy(char *out, size_t cap);

/* Result of path_resolve. */
struct resolved {
    char path[4096]; /* the file system path, symbolic links resolved */
};
/* Maps a request-target (origin-form or absolute-form; query removed) onto a file below a
 * mount, never outside it. Returns 0, or the HTTP status to answer: 400 (bad encoding, NUL,
 * an encoded '/' or a backslash, ".." above the root), 403 (leaves the mount through a
 * symbolic link), 404, 414 (too long), 500. *url_path gets the decoded, normalised path
 * (for listings and redirects; at least 4096 bytes). */
int path_resolve(const char *target, size_t target_len, struct resolved *out, char *url_path,
                 size_t url_cap);
/* Appends s to b percent-encoded for a URL path (RFC 3986 §2.1: everything but unreserved
 * characters, '/' and a few sub-delims). */
bool path_encode(struct buf *b, const char *s);

/* The Content-Type for a file name (by its extension); application/octet-stream otherwise. */
const char *mime_type(const char *name);

/* Formats t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); out has 30 bytes. */
void http_date_format(time_t t, char out[30]);
/* Parses an HTTP-date in any of the three forms of RFC 9110 §5.6.7; false when invalid. */
bool http_date_parse(const char *s, time_t *out);
/* Formats t for the Common Log Format ("10/Oct/2000:13:55:36 +0000", UTC); out has 32 bytes. */
void clf_date_format(time_t t, char out[32]);

/* Opens the access log (path NULL: stdout). false with errno set when it cannot be opened. */
bool log_open(const char *path);
/* Writes the CLF line for the answer c has just finished (or abandoned). */
void log_access(const struct conn *c);

/* Milliseconds of the monotonic clock. */
int64_t now_ms(void);
