/* respond.c: building the answers of RFC 9110 / RFC 9112 for GET and HEAD.
 *
 * Every answer has a status line "HTTP/1.1 CODE REASON", Date (§6.6.1), Server, Content-Length
 * (§8.6; also on HEAD, where it is the GET's length) and, when the connection closes after it,
 * Connection: close (RFC 9112 §9.6; an HTTP/1.0 keep-alive gets Connection: keep-alive).
 * - A regular file: 200 with Content-Type (mime.c), Last-Modified (§8.8.2) and
 *   Accept-Ranges: bytes. Conditionals (§13.2.2): If-None-Match "*" -> 304 (no entity tags
 *   otherwise, so any other list does not match, and then If-Modified-Since is ignored);
 *   If-Modified-Since with a valid HTTP-date not older than the file -> 304 (no body).
 *   Range (§14.2, GET only): one "bytes=" range-spec (a-b, a-, -n) -> 206 with Content-Range;
 *   a valid but unsatisfiable one (first byte at or beyond the end, -0, an empty file) -> 416
 *   with Content-Range: bytes * /LENGTH; a syntactically invalid Range, another unit or several
 *   ranges are ignored (200). If-Range (§13.1.5) with a date that is not the Last-Modified, or
 *   with an entity tag, makes the Range ignored.
 * - A directory: without the trailing '/' -> 301 to the path with it (so relative links work);
 *   with it, DIR/index.html when that is a regular file, else an HTML listing, sorted by name,
 *   names escaped for HTML and percent-encoded in links.
 * - Errors: a small HTML body naming the status; 405 has Allow: GET, HEAD (§15.5.6), 503 has
 *   Retry-After. Other file types (devices, fifos) -> 403.
 * The file body is not read here: c->file_fd/file_off/file_end tell main.c's sending loop. */
#include "httpd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>


bool buf_reserve(struct buf *b, size_t need) {
    if (b->cap - b->len >= need) return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return false;
    b->data = p;
    b->cap = cap;
    return true;
}

bool buf_add(struct buf *b, const void *p, size_t len) {
    if (!buf_reserve(b, len)) return false;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return true;
}

bool buf_printf(struct buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1)) return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

bool buf_puts(struct buf *b, const char *s) { return buf_add(b, s, strlen(s)); }

void buf_free(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* The current time as an IMF-fixdate, formatted once per second. */
static const char *date_now(void) {
    static char text[30];
    static time_t last = -1;
    time_t t = time(NULL);
    if (t != last) {
        http_date_format(t, text);
        last = t;
    }
    return text;
}

/* Starts the answer: status line, Date, Server. */
static bool head_begin(struct buf *b, int status) {
    return buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: sabos-httpd\r\n", status,
                      reason(status), date_now());
}

/* Ends the head: Connection (when not the default of HTTP/1.1) and the empty line. */
static bool head_end(struct buf *b, bool close, bool http10_keep_alive) {
    if (close) return buf_puts(b, "Connection: close\r\n\r\n");
    if (http10_keep_alive) return buf_puts(b, "Connection: keep-alive\r\n\r\n");
    return buf_puts(b, "\r\n");
}

/* The error page for status into b: head (extra: more header lines, or "") and body unless
 * head_only. *head_len gets the head's length. */
static bool error_answer(struct buf *b, int status, const char *extra, bool close,
                         bool http10_keep_alive, bool head_only, size_t *head_len) {
    char page[256];
    int n = snprintf(page, sizeof page,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, reason(status), status, reason(status));
    bool ok = head_begin(b, status) &&
              buf_printf(b, "Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n%s%s%s",
                         n, extra, status == 405 ? "Allow: GET, HEAD\r\n" : "",
                         status == 503 ? "Retry-After: 1\r\n" : "") &&
              head_end(b, close, http10_keep_alive);
    *head_len = b->len;
    return ok && (head_only || buf_add(b, page, (size_t)n));
}

/* Replaces the answer being built with an error answer (keeping the connection's keep-alive
 * choice; closing it when even that cannot be built). */
static void fail_with(struct conn *c, int status, const char *extra, bool head_only) {
    c->out.len = 0;
    if (!error_answer(&c->out, status, extra, c->close_after, c->http10_keep_alive, head_only,
                      &c->head_len)) {
        c->out.len = c->head_len = 0;
        c->close_after = true;
    }
    c->status = status;
}
static void fail(struct conn *c, int status, bool head_only) { fail_with(c, status, "", head_only); }

/* Ends the head of a successful answer; on failure answers 500 instead. */
static bool finish_head(struct conn *c, bool ok, int status, bool head_only) {
    ok = ok && head_end(&c->out, c->close_after, c->http10_keep_alive);
    if (!ok) {
        fail(c, 500, head_only);
        return false;
    }
    c->status = status;
    c->head_len = c->out.len;
    return true;
}

/* Prepares c for a new answer: empties the output, notes the request line for the log. */
static void answer_reset(struct conn *c, const char *line) {
    c->out.len = 0;
    c->out_off = 0;
    free(c->log_request);
    c->log_request = line ? strdup(line) : NULL;
    c->head_len = 0;
    c->sent = 0;
    c->http10_keep_alive = false;
}

void respond_error(struct conn *c, int status, const char *line, bool close) {
    answer_reset(c, line);
    c->close_after = c->close_after || close;
    fail(c, status, false);
}

size_t respond_busy(char *out, size_t cap) {
    struct buf b = {0};
    size_t head_len, n = 0;
    if (error_answer(&b, 503, "", true, false, false, &head_len) && b.len <= cap) {
        memcpy(out, b.data, b.len);
        n = b.len;
    }
    buf_free(&b);
    return n;
}

/* Range handling for a file of size bytes. */
enum range_kind { RANGE_IGNORE, RANGE_OK, RANGE_UNSATISFIABLE };

/* Reads 1*DIGIT at *p, saturating at LLONG_MAX/16; -1 when there are no digits. */
static long long range_number(const char **p) {
    if (**p < '0' || **p > '9') return -1;
    long long v = 0;
    while (**p >= '0' && **p <= '9') {
        if (v < (1LL << 58)) v = v * 10 + (**p - '0');
        (*p)++;
    }
    return v;
}

/* Parses a Range value (RFC 9110 §14.1.2) with one range-spec for a representation of size
 * bytes; on RANGE_OK, [*first, *last] is the byte range. */
static enum range_kind range_parse(const char *v, long long size, long long *first,
                                   long long *last) {
    if (strncasecmp(v, "bytes", 5) != 0) return RANGE_IGNORE;
    const char *p = v + 5;
    while (*p == ' ' || *p == '\t') p++;
    if (*p++ != '=') return RANGE_IGNORE;
    while (*p == ' ' || *p == '\t') p++;
    long long a = -1, b = -1;
    if (*p == '-') { /* suffix-range */
        p++;
        if ((b = range_number(&p)) < 0) return RANGE_IGNORE;
    } else {
        if ((a = range_number(&p)) < 0 || *p++ != '-') return RANGE_IGNORE;
        if (*p >= '0' && *p <= '9') {
            b = range_number(&p);
            if (b < a) return RANGE_IGNORE;
        }
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p) return RANGE_IGNORE; /* several ranges or junk: send the whole file */
    if (a < 0) { /* last b bytes */
        if (b == 0 || size == 0) return RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_OK;
    }
    if (a >= size) return RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return RANGE_OK;
}

/* Whether the conditional fields make this a 304 (§13.2.2 steps 3 and 4). */
static bool not_modified(const struct request *r, time_t mtime) {
    if (r->if_none_match) return strcmp(r->if_none_match, "*") == 0;
    time_t since;
    return r->if_modified_since && http_date_parse(r->if_modified_since, &since) && mtime <= since;
}

/* The answer for an open regular file. Takes fd. */
static void serve_file(struct conn *c, const struct request *r, int fd, const struct stat *st,
                       const char *name) {
    long long size = st->st_size, first = 0, last = size - 1;
    int status = 200;
    if (not_modified(r, st->st_mtime)) {
        status = 304;
    } else if (r->method == METHOD_GET && r->range) {
        time_t when;
        bool range_applies = !r->if_range || (http_date_parse(r->if_range, &when) &&
                                              when == st->st_mtime);
        if (range_applies) {
            enum range_kind k = range_parse(r->range, size, &first, &last);
            if (k == RANGE_UNSATISFIABLE) {
                close(fd);
                char extra[64];
                snprintf(extra, sizeof extra, "Content-Range: bytes */%lld\r\n", size);
                return fail_with(c, 416, extra, false);
            }
            if (k == RANGE_OK) status = 206;
        }
    }
    char modified[30];
    http_date_format(st->st_mtime, modified);
    struct buf *b = &c->out;
    bool ok = head_begin(b, status) &&
              buf_printf(b, "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n", modified);
    if (ok && status != 304) {
        ok = buf_printf(b, "Content-Type: %s\r\nContent-Length: %lld\r\n", mime_type(name),
                        last - first + 1);
        if (ok && status == 206)
            ok = buf_printf(b, "Content-Range: bytes %lld-%lld/%lld\r\n", first, last, size);
    }
    if (!finish_head(c, ok, status, r->method == METHOD_HEAD) || status == 304 || r->method == METHOD_HEAD || last < first) {
        close(fd);
        return;
    }
    c->file_fd = fd;
    c->file_off = first;
    c->file_end = last + 1;
}

static int name_order(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends s with HTML's special characters as character references. */
static bool html_escape(struct buf *b, const char *s) {
    for (; *s; s++) {
        bool ok;
        switch (*s) {
        case '&': ok = buf_puts(b, "&amp;"); break;
        case '<': ok = buf_puts(b, "&lt;"); break;
        case '>': ok = buf_puts(b, "&gt;"); break;
        case '"': ok = buf_puts(b, "&quot;"); break;
        case '\'': ok = buf_puts(b, "&#39;"); break;
        default: ok = buf_add(b, s, 1);
        }
        if (!ok) return false;
    }
    return true;
}

/* The body of a listing of the open directory fd (taken) for url (ends with '/') into body. */
static bool listing(struct buf *body, int fd, const char *url) {
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = realloc(names, cap * sizeof *names);
            if (!more) ok = false;
            else names = more;
        }
        if (ok && !(names[n++] = strdup(e->d_name))) ok = false, n--;
    }
    if (ok) qsort(names, n, sizeof *names, name_order);
    ok = ok && buf_puts(body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ") &&
         html_escape(body, url) && buf_puts(body, "</title></head>\n<body><h1>Index of ") &&
         html_escape(body, url) && buf_puts(body, "</h1>\n<pre>\n");
    if (ok && strcmp(url, "/") != 0) ok = buf_puts(body, "<a href=\"../\">../</a>\n");
    for (size_t i = 0; ok && i < n; i++) {
        struct stat st;
        bool have = fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0;
        bool is_dir = have && S_ISDIR(st.st_mode);
        const char *slash = is_dir ? "/" : "";
        ok = buf_puts(body, "<a href=\"") && path_encode(body, names[i]) &&
             buf_printf(body, "%s\">", slash) && html_escape(body, names[i]) &&
             buf_printf(body, "%s</a>", slash);
        if (ok && have) {
            char when[32];
            struct tm tm;
            gmtime_r(&st.st_mtime, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
            if (is_dir) ok = buf_printf(body, "  %s  -\n", when);
            else ok = buf_printf(body, "  %s  %lld\n", when, (long long)st.st_size);
        } else if (ok) {
            ok = buf_puts(body, "\n");
        }
    }
    ok = ok && buf_puts(body, "</pre>\n</body></html>\n");
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(d);
    return ok;
}

/* The answer for the directory fd (taken) at url, fs path path. */
static void serve_directory(struct conn *c, const struct request *r, int fd, const char *path,
                            const char *url) {
    struct buf *b = &c->out;
    size_t ul = strlen(url);
    if (url[ul - 1] != '/') {
        close(fd);
        bool ok = head_begin(b, 301) && buf_puts(b, "Location: ") && path_encode(b, url) &&
                  buf_puts(b, "/\r\nContent-Length: 0\r\n");
        finish_head(c, ok, 301, r->method == METHOD_HEAD);
        return;
    }
    char index[4096 + 16];
    snprintf(index, sizeof index, "%s/index.html", path);
    int ifd = open(index, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (ifd >= 0 && fstat(ifd, &st) == 0 && S_ISREG(st.st_mode)) {
        close(fd);
        return serve_file(c, r, ifd, &st, index);
    }
    if (ifd >= 0) close(ifd);
    struct buf body = {0};
    if (!listing(&body, fd, url)) {
        buf_free(&body);
        return fail(c, 500, r->method == METHOD_HEAD);
    }
    bool ok = head_begin(b, 200) &&
              buf_printf(b, "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n",
                         body.len);
    if (finish_head(c, ok, 200, r->method == METHOD_HEAD) && r->method == METHOD_GET &&
        !buf_add(b, body.data, body.len))
        fail(c, 500, false);
    buf_free(&body);
}

void respond(struct conn *c, const struct request *r) {
    answer_reset(c, r->line);
    c->close_after = c->close_after || !r->keep_alive;
    c->http10_keep_alive = r->minor == 0 && !c->close_after;
    bool head_only = r->method == METHOD_HEAD;
    struct resolved res;
    char url[4096];
    int st = path_resolve(r->target, r->target_len, &res, url, sizeof url);
    if (st) return fail(c, st, head_only);
    int fd = open(res.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return fail(c, err == ENOENT || err == ENOTDIR ? 404 : err == EACCES ? 403 : 500,
                    head_only);
    }
    if (S_ISDIR(sb.st_mode)) return serve_directory(c, r, fd, res.path, url);
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(c, 403, head_only);
    }
    serve_file(c, r, fd, &sb, res.path);
}
