/* mv: move files (POSIX.1-2017 XCU "mv").
 *
 * mv SRC DST and mv SRC... DIR: renames each SRC (to DIR/basename(SRC) when the last operand is
 * a directory). Across mounts (rename fails with EXDEV) the tree is copied, as cp -r does, and
 * the source removed once the copy succeeded. Errors: "mv: PATH: strerror", exit status 1;
 * usage errors 2. */
#define ULIB_COPY
#include "ulib.h"
#include <dirent.h>

/* Removes path and everything below it (no links followed). 0 or -1 (error printed). */
static int remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        uerr(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0) {
            uerr(path);
            return -1;
        }
        return 0;
    }
    int rc = 0;
    /* Read a batch of names, remove them, start over: no removal while a listing is open. */
    for (;;) {
        DIR *d = opendir(path);
        if (!d) {
            uerr(path);
            return -1;
        }
        char names[16][256];
        int n = 0;
        struct dirent *e;
        while (n < 16 && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
        }
        closedir(d);
        if (n == 0) break;
        char sub[PATH_MAX];
        for (int i = 0; i < n; i++) {
            if (!ujoin(sub, sizeof sub, path, names[i]) || remove_tree(sub) < 0) return -1;
        }
    }
    if (rmdir(path) < 0) {
        uerr(path);
        rc = -1;
    }
    return rc;
}

static int move_one(const char *src, const char *dst);

static int move_op(const char *src, const char *dst, void *ctx) { return move_one(src, dst); }

static int move_one(const char *src, const char *dst) {
    if (rename(src, dst) == 0) return 0;
    if (errno != EXDEV) {
        int e = errno;
        struct stat st;
        uerr_at(lstat(src, &st) < 0 ? src : dst, e);
        return 1;
    }
    struct stat st;
    if (lstat(dst, &st) == 0) {
        /* rename would replace dst: do the same (an empty directory or a non-directory). */
        if (S_ISDIR(st.st_mode) ? rmdir(dst) < 0 : unlink(dst) < 0) {
            uerr(dst);
            return 1;
        }
    }
    if (ucopy_tree(src, dst, true, 0, 0) < 0) return 1;
    return remove_tree(src) < 0;
}

int main(int argc, char **argv) {
    ulib_prog = "mv";
    int first = 1;
    if (first < argc && !strcmp(argv[first], "--")) first++;
    else if (first < argc && argv[first][0] == '-' && argv[first][1]) uusage("SRC DST | SRC... DIR");
    int n = argc - first;
    if (n < 2) uusage("SRC DST | SRC... DIR");
    return ufor_each_dest(first, argc, argv, move_op, NULL);
}
