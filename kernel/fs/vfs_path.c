/* vfs_path.c: pure path-string helpers of the VFS (component iteration, length checks,
 * lexical normalisation, splitting). No file-system access, so tests/host/test_vfs_path.c
 * compiles this file directly.
 * Follows POSIX.1-2017 XBD 3.271 (pathname), 4.13 (pathname resolution: consecutive slashes
 * count as one, a trailing slash requires a directory) and the Linux limits NAME_MAX = 255,
 * PATH_MAX = 4096 (including the NUL). */
#include "vfs.h"
#include "kstring.h"

int vfs_path_check(const char *path) {
    if (!path) return -KEINVAL;
    size_t n = strnlen(path, VFS_PATH_MAX);
    if (n == 0) return -KENOENT;
    if (n >= VFS_PATH_MAX) return -KENAMETOOLONG;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (path[i] == '/') {
            run = 0;
        } else if (++run > VFS_NAME_MAX) {
            return -KENAMETOOLONG;
        }
    }
    return 0;
}

int vfs_path_next(const char **p, const char **name, size_t *len) {
    const char *s = *p;
    while (*s == '/') s++;
    if (*s == '\0') {
        *p = s;
        return 0;
    }
    const char *start = s;
    while (*s && *s != '/') s++;
    size_t n = (size_t)(s - start);
    *p = s;
    if (n > VFS_NAME_MAX) return -KENAMETOOLONG;
    *name = start;
    *len = n;
    return 1;
}

bool vfs_path_at_end(const char *p) {
    while (*p == '/') p++;
    return *p == '\0';
}

bool vfs_path_trailing_slash(const char *path) {
    size_t n = strlen(path);
    if (n == 0 || path[n - 1] != '/') return false;
    for (size_t i = 0; i < n; i++)
        if (path[i] != '/') return true; /* some component before the final slash */
    return false;                        /* "/" or "///" alone */
}

/* Appends one component to out (length *olen), handling "." and "..". */
static int norm_push(char *out, size_t out_size, size_t *olen, const char *name, size_t len) {
    if (len == 1 && name[0] == '.') return 0;
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        while (*olen > 1 && out[*olen - 1] != '/') (*olen)--;
        if (*olen > 1) (*olen)--; /* drop the slash too, but keep the leading "/" */
        out[*olen] = '\0';
        return 0;
    }
    size_t need = *olen + (*olen > 1 ? 1 : 0) + len + 1;
    if (need > out_size || need > VFS_PATH_MAX) return -KENAMETOOLONG;
    if (*olen > 1) out[(*olen)++] = '/';
    memcpy(out + *olen, name, len);
    *olen += len;
    out[*olen] = '\0';
    return 0;
}

/* Normalises the components of path onto out, which already holds a normalised absolute
 * path of length *olen. */
static int norm_components(const char *path, char *out, size_t out_size, size_t *olen) {
    const char *p = path, *name;
    size_t len;
    int r;
    while ((r = vfs_path_next(&p, &name, &len)) == 1) {
        r = norm_push(out, out_size, olen, name, len);
        if (r < 0) return r;
    }
    return r;
}

int vfs_path_normalize(const char *in, char *out, size_t out_size) {
    if (!in || !out || out_size < 2) return -KEINVAL;
    int r = vfs_path_check(in);
    if (r < 0) return r;
    if (in[0] != '/') return -KEINVAL;
    size_t olen = 1;
    out[0] = '/';
    out[1] = '\0';
    r = norm_components(in, out, out_size, &olen);
    return r < 0 ? r : (int)olen;
}

int vfs_path_join(const char *base, const char *path, char *out, size_t out_size) {
    if (!base || !path) return -KEINVAL;
    int r = vfs_path_check(path);
    if (r < 0) return r;
    if (path[0] == '/') return vfs_path_normalize(path, out, out_size);
    r = vfs_path_normalize(base, out, out_size);
    if (r < 0) return r;
    size_t olen = (size_t)r;
    r = norm_components(path, out, out_size, &olen);
    return r < 0 ? r : (int)olen;
}

int vfs_path_split(const char *path, char *parent, size_t parent_size, char *name, size_t name_size) {
    int r = vfs_path_check(path);
    if (r < 0) return r;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--; /* ignore trailing slashes */
    if (n == 1 && path[0] == '/') return -KEINVAL;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t name_len = n - start;
    if (name_len + 1 > name_size) return -KENAMETOOLONG;
    memcpy(name, path + start, name_len);
    name[name_len] = '\0';
    size_t plen = start;
    while (plen > 1 && path[plen - 1] == '/') plen--; /* "a//b" -> parent "a" */
    if (plen == 0) {
        if (parent_size < 2) return -KENAMETOOLONG;
        parent[0] = '.';
        parent[1] = '\0';
    } else {
        if (plen + 1 > parent_size) return -KENAMETOOLONG;
        memcpy(parent, path, plen);
        parent[plen] = '\0';
    }
    return 0;
}
