/* path.c: from a request-target to a file that is certainly below the document root (or below
 * a -a prefix's directory).
 *
 * RFC 9112 §3.2: origin-form ("/path?query") and absolute-form ("http://host/path"); the
 * query is not used. RFC 3986 §2.1 percent-decoding happens exactly once, segment by segment,
 * so "%252e" stays the literal name "%2e"; a decoded NUL, '/' ("%2f") or '\' is refused (400),
 * as are raw controls, spaces, backslashes, '#' and bytes above 0x7e. Dot segments are then
 * removed (§5.2.4) on the decoded segments, so "%2e%2e" counts as ".."; a ".." above the root
 * is refused (400). The file path is the mount's directory plus the normalised path, with
 * symbolic links resolved by realpath(3) and required to stay inside the mount's (resolved)
 * directory (403 otherwise). */
#include "httpd.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static int hex_value(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Whether a raw byte may appear in the path of a request-target as we accept it. */
static bool raw_ok(unsigned char ch) {
    return ch > ' ' && ch < 0x7f && ch != '\\' && ch != '#';
}

/* The mount serving url (a normalised path): the longest prefix that is the whole path or
 * followed by '/'; mounts[0] (the document root, prefix "") otherwise. */
static struct mount *mount_for(const char *url) {
    struct mount *best = &cfg.mounts[0];
    for (int i = 1; i < cfg.nmounts; i++) {
        struct mount *m = &cfg.mounts[i];
        if (m->prefix_len > best->prefix_len && strncmp(url, m->prefix, m->prefix_len) == 0 &&
            (url[m->prefix_len] == '/' || url[m->prefix_len] == '\0'))
            best = m;
    }
    return best;
}

/* Status for a failed realpath/open. */
static int errno_status(int err) {
    switch (err) {
    case ENOENT:
    case ENOTDIR: return 404;
    case EACCES:
    case EPERM:
    case ELOOP: return 403;
    case ENAMETOOLONG: return 414;
    default: return 500;
    }
}

int path_resolve(const char *target, size_t target_len, struct resolved *out, char *url_path,
                 size_t url_cap) {
    const char *p = target, *end = target + target_len;
    if (target_len >= 7 && strncasecmp(p, "http://", 7) == 0) {
        p += 7;
        while (p < end && *p != '/' && *p != '?') p++;
        if (p == target + 7) return 400; /* no authority */
    } else if (p == end || *p != '/') {
        return 400;
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    if (q) end = q;

    /* url_path is built segment by segment; len is its length, "/" when empty. */
    size_t len = 0;
    bool trailing_slash = true;
    while (p < end) {
        if (*p == '/') {
            p++;
            trailing_slash = true;
            continue;
        }
        char seg[NAME_MAX + 1];
        size_t sl = 0;
        for (; p < end && *p != '/'; p++) {
            unsigned char ch = (unsigned char)*p;
            if (!raw_ok(ch)) return 400;
            if (ch == '%') {
                int hi = end - p >= 3 ? hex_value((unsigned char)p[1]) : -1;
                int lo = end - p >= 3 ? hex_value((unsigned char)p[2]) : -1;
                if (hi < 0 || lo < 0) return 400;
                ch = (unsigned char)(hi * 16 + lo);
                if (ch == 0 || ch == '/' || ch == '\\') return 400;
                p += 2;
            }
            if (sl >= NAME_MAX) return 414;
            seg[sl++] = (char)ch;
        }
        trailing_slash = false;
        if (sl == 1 && seg[0] == '.') {
            trailing_slash = true;
            continue;
        }
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (len == 0) return 400;
            while (len > 0 && url_path[len - 1] != '/') len--;
            len--; /* the '/' before the segment */
            trailing_slash = true;
            continue;
        }
        if (len + 1 + sl + 2 > url_cap) return 414;
        url_path[len++] = '/';
        memcpy(url_path + len, seg, sl);
        len += sl;
    }
    if (len == 0 || trailing_slash) url_path[len++] = '/';
    url_path[len] = '\0';

    struct mount *m = mount_for(url_path);
    if (!m->real) {
        m->real = realpath(m->dir, NULL);
        if (!m->real) return 404;
    }
    const char *rest = url_path + m->prefix_len;
    size_t rl = strlen(m->real);
    char candidate[PATH_MAX];
    if (rl + strlen(rest) + 2 > sizeof candidate) return 414;
    memcpy(candidate, m->real, rl);
    candidate[rl] = '/';
    strcpy(candidate + rl + 1, rest);
    if (!realpath(candidate, out->path)) return errno_status(errno);
    bool root_is_slash = rl == 1 && m->real[0] == '/';
    if (!root_is_slash &&
        (strncmp(out->path, m->real, rl) != 0 || (out->path[rl] != '/' && out->path[rl] != '\0')))
        return 403;
    return 0;
}

bool path_encode(struct buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || strchr("-._~/!$()*+,;=:@", ch);
        if (keep) {
            if (!buf_add(b, s, 1)) return false;
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            if (!buf_add(b, enc, 3)) return false;
        }
    }
    return true;
}
