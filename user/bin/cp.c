/* cp: copy files (POSIX.1-2017 XCU "cp", option -r/-R).
 *
 * cp [-r] SRC DST and cp [-r] SRC... DIR: copies regular files by reading and writing (so a
 * copy works across mounts), keeping the permission bits; with -r, directories are copied
 * recursively and symbolic links inside them are copied as links. When DST (or the last
 * operand) is a directory, each SRC goes to DIR/basename(SRC). Copying a file onto itself and a
 * directory into itself are refused. Errors: "cp: PATH: strerror", exit status 1; usage 2. */
#define ULIB_COPY
#include "ulib.h"

static bool same_file(const struct stat *a, const struct stat *b) {
    return a->st_ino != 0 && a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Copies one operand to the destination path dst. */
static int copy_one(const char *src, const char *dst, bool recurse);

static int copy_op(const char *src, const char *dst, void *ctx) { return copy_one(src, dst, *(bool *)ctx); }

static int copy_one(const char *src, const char *dst, bool recurse) {
    struct stat ss, ds;
    if (stat(src, &ss) < 0 && lstat(src, &ss) < 0) {
        uerr(src);
        return 1;
    }
    if (stat(dst, &ds) == 0 && same_file(&ss, &ds)) {
        uwarnx("%s and %s are the same file", src, dst);
        return 1;
    }
    if (S_ISDIR(ss.st_mode)) {
        if (!recurse) {
            uwarnx("%s: is a directory (use -r)", src);
            return 1;
        }
        /* A copy of a directory into a place below itself would never end. */
        char buf[PATH_MAX];
        if (realpath(src, buf)) {
            char parent[PATH_MAX];
            size_t sl = strlen(buf);
            snprintf(parent, sizeof parent, "%s", dst);
            char *slash = strrchr(parent, '/');
            if (slash) *slash = '\0';
            else strcpy(parent, ".");
            if (!parent[0]) strcpy(parent, "/");
            char rp[PATH_MAX];
            if (realpath(parent, rp) && !strncmp(rp, buf, sl) && (rp[sl] == '/' || !rp[sl])) {
                uwarnx("%s: cannot copy a directory into itself (%s)", src, dst);
                return 1;
            }
        }
        return ucopy_tree(src, dst, true, 0, 0) < 0;
    }
    /* Operands are followed: cp of a link to a file copies the file. */
    return ucopy_file(src, dst, &ss) < 0;
}

int main(int argc, char **argv) {
    ulib_prog = "cp";
    bool recurse = false;
    int c;
    while ((c = ugetopt(argc, argv, "rR")) != -1) {
        if (c == 'r' || c == 'R') recurse = true;
        else uusage("[-r] SRC DST | [-r] SRC... DIR");
    }
    int n = argc - optind;
    if (n < 2) uusage("[-r] SRC DST | [-r] SRC... DIR");
    return ufor_each_dest(optind, argc, argv, copy_op, &recurse);
}
