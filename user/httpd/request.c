/* request.c: the request head of HTTP/1.1 (RFC 9112 §2-§6, field syntax RFC 9110 §5).
 *
 *   request-line = method SP request-target SP HTTP-version CRLF       (§3)
 *   field-line   = field-name ":" OWS field-value OWS CRLF             (§5)
 * A bare LF ends a line as well (§2.2). Strict where the RFC lets a server reject: one SP
 * between the parts, no whitespace before the colon, no obs-fold (§5.2), no CTL or NUL in a
 * value (RFC 9110 §5.5), exactly one Host in HTTP/1.1 (RFC 9112 §3.2), Content-Length digits
 * only and not combined with Transfer-Encoding (§6.3). A request with Transfer-Encoding is
 * refused with 501 (§6.1: this server reads no transfer codings) and its connection closed.
 * Limits: REQ_LINE_MAX for the request line (414), FIELDS_MAX bytes and FIELD_COUNT_MAX lines
 * of fields (431), BODY_MAX of body (413). */
#include "httpd.h"

#include <string.h>
#include <strings.h>


/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char ch) {
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* The end of the line starting at p (the LF), or NULL when there is none before end. */
static char *line_end(char *p, char *end) { return memchr(p, '\n', (size_t)(end - p)); }

/* Length of the line [p, lf) without a CR before the LF. */
static size_t line_len(const char *p, const char *lf) {
    size_t n = (size_t)(lf - p);
    return n && p[n - 1] == '\r' ? n - 1 : n;
}

/* Methods RFC 9110 §9 (and PATCH, RFC 5789) defines: recognised, answered with 405. */
static bool is_known_method(const char *m, size_t n) {
    static const char *const known[] = {"POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                                        "PATCH"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0) return true;
    return false;
}

/* Whether the comma-separated list value has the token tok (case-insensitive, §5.6.1). */
static bool list_has(const char *value, const char *tok) {
    size_t tl = strlen(tok);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *s = p;
        while (*p && *p != ',') p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0) return true;
    }
    return false;
}

/* Parses a Content-Length value (RFC 9110 §8.6): 1*DIGIT, or a list of equal such values.
 * Returns the value, or -1 when invalid. Values beyond 10^15 count as 10^15 (too large). */
static long long parse_content_length(const char *v) {
    long long result = -1;
    const char *p = v;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p < '0' || *p > '9') return -1;
        long long n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 1000000000000000LL) n = n * 10 + (*p - '0');
            p++;
        }
        if (result >= 0 && n != result) return -1;
        result = n;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) return result;
        if (*p++ != ',') return -1;
    }
}

/* Validates the request line [p, p+n) and fills r; returns 0 or a negative status. */
static int parse_request_line(char *p, size_t n, struct request *r) {
    char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p) return -400;
    char *sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
    if (!sp2 || sp2 == sp1 + 1) return -400;
    const char *version = sp2 + 1;
    size_t vlen = n - (size_t)(version - p);
    for (const char *m = p; m < sp1; m++)
        if (!is_tchar((unsigned char)*m)) return -400;
    for (const char *t = sp1 + 1; t < sp2; t++)
        if ((unsigned char)*t <= ' ' || (unsigned char)*t == 0x7f) return -400;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT (§2.3) */
    if (vlen != 8 || memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
        version[6] != '.' || version[7] < '0' || version[7] > '9')
        return -400;
    if (version[5] != '1') return -505;
    r->minor = version[7] - '0';
    r->target = sp1 + 1;
    r->target_len = (size_t)(sp2 - sp1 - 1);
    size_t mlen = (size_t)(sp1 - p);
    if (mlen == 3 && memcmp(p, "GET", 3) == 0) r->method = METHOD_GET;
    else if (mlen == 4 && memcmp(p, "HEAD", 4) == 0) r->method = METHOD_HEAD;
    else return is_known_method(p, mlen) ? -405 : -501;
    return 0;
}

/* Checks the limits on an incomplete head: -414/-431, or PARSE_MORE. Also answers 400 early
 * for a method that is not a token, so that binary garbage is refused before the limits. */
static int incomplete(const char *buf, size_t len) {
    for (size_t i = 0; i < len && buf[i] != ' '; i++) {
        if (buf[i] == '\r' || buf[i] == '\n') break;
        if (!is_tchar((unsigned char)buf[i])) return -400;
    }
    return PARSE_MORE;
}

int request_parse(char *buf, size_t len, struct request *r) {
    memset(r, 0, sizeof *r);
    char *end = buf + len;
    char *lf = line_end(buf, buf + (len < REQ_LINE_MAX ? len : REQ_LINE_MAX));
    if (!lf) {
        int early = incomplete(buf, len);
        return early ? early : len >= REQ_LINE_MAX ? -414 : PARSE_MORE;
    }
    /* Find the empty line ending the head, within the limits, before touching anything. */
    char *fields = lf + 1, *p = fields, *e;
    int count = 0;
    for (;;) {
        e = line_end(p, end);
        if (!e) {
            if ((size_t)(end - fields) > FIELDS_MAX) return -431;
            int early = incomplete(buf, len);
            return early ? early : PARSE_MORE;
        }
        if (line_len(p, e) == 0) break;
        if (++count > FIELD_COUNT_MAX || (size_t)(e + 1 - fields) > FIELDS_MAX) return -431;
        p = e + 1;
    }
    char *head_end = e + 1;

    size_t rl = line_len(buf, lf);
    buf[rl] = '\0';
    r->line = buf;
    int st = parse_request_line(buf, rl, r);
    if (st) return st;

    int hosts = 0;
    bool has_te = false, has_cl = false, conn_close = false, conn_keep = false;
    for (p = fields;;) {
        e = line_end(p, end);
        size_t n = line_len(p, e);
        if (n == 0) break;
        p[n] = '\0';
        if (*p == ' ' || *p == '\t') return -400; /* obs-fold */
        char *colon = memchr(p, ':', n);
        if (!colon || colon == p) return -400;
        for (char *q = p; q < colon; q++)
            if (!is_tchar((unsigned char)*q)) return -400;
        *colon = '\0';
        char *v = colon + 1, *ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        for (char *q = v; q < ve; q++)
            if (((unsigned char)*q < ' ' && *q != '\t') || *q == 0x7f) return -400;
        *ve = '\0';
        const char *name = p;
        if (strcasecmp(name, "Host") == 0) hosts++;
        else if (strcasecmp(name, "Connection") == 0) {
            conn_close |= list_has(v, "close");
            conn_keep |= list_has(v, "keep-alive");
        } else if (strcasecmp(name, "Content-Length") == 0) {
            long long cl = parse_content_length(v);
            if (cl < 0 || (has_cl && cl != r->content_length)) return -400;
            has_cl = true;
            r->content_length = cl;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) has_te = true;
        else if (strcasecmp(name, "If-Modified-Since") == 0 && !r->if_modified_since)
            r->if_modified_since = v;
        else if (strcasecmp(name, "If-None-Match") == 0 && !r->if_none_match) r->if_none_match = v;
        else if (strcasecmp(name, "Range") == 0 && !r->range) r->range = v;
        else if (strcasecmp(name, "If-Range") == 0 && !r->if_range) r->if_range = v;
        p = e + 1;
    }
    if (hosts > 1 || (r->minor >= 1 && hosts == 0)) return -400;
    if (has_te) return has_cl || r->minor == 0 ? -400 : -501;
    if (r->content_length > BODY_MAX) return -413;
    r->keep_alive = r->minor >= 1 ? !conn_close : conn_keep && !conn_close;
    return (int)(head_end - buf);
}
