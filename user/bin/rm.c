/* rm: remove directory entries (POSIX.1-2017 XCU "rm", options -r/-R and -f).
 *
 * rm [-r] [-f] PATH...: unlinks each PATH; a directory only with -r, whose contents are removed
 * first (symbolic links are removed, never followed). -f: a missing PATH is no error and no
 * operand is required. ".", ".." and "/" are refused. Errors: "rm: PATH: strerror", exit
 * status 1; usage errors 2. */
#include "ulib.h"
#include <dirent.h>

static bool opt_r, opt_f;

static int remove_path(const char *path);

/* Removes everything inside directory path (names read first, then removed), then path. */
static int remove_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        uerr(path);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((errno = 0, e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nv = realloc(names, nc * sizeof *names);
            if (!nv) {
                errno = ENOMEM;
                break;
            }
            names = nv;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) {
            errno = ENOMEM;
            break;
        }
        n++;
    }
    if (errno) {
        uerr(path);
        rc = 1;
    }
    closedir(d);
    char sub[PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        if (!ujoin(sub, sizeof sub, path, names[i])) {
            uwarnx("%s/%s: %s", path, names[i], strerror(ENAMETOOLONG));
            rc = 1;
        } else {
            rc |= remove_path(sub);
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0 && rmdir(path) < 0) {
        uerr(path);
        rc = 1;
    }
    return rc;
}

static int remove_path(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (opt_f && errno == ENOENT) return 0;
        uerr(path);
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!opt_r) {
            uerr_at(path, EISDIR);
            return 1;
        }
        return remove_dir(path);
    }
    if (unlink(path) < 0) {
        if (opt_f && errno == ENOENT) return 0;
        uerr(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    ulib_prog = "rm";
    int c;
    while ((c = ugetopt(argc, argv, "rRf")) != -1) {
        switch (c) {
        case 'r':
        case 'R': opt_r = true; break;
        case 'f': opt_f = true; break;
        default: uusage("[-r] [-f] PATH...");
        }
    }
    if (optind >= argc) {
        if (opt_f) return 0;
        uusage("[-r] [-f] PATH...");
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        const char *b = ubasename(argv[i]);
        if (!strcmp(b, ".") || !strcmp(b, "..") || !strcmp(b, "/")) {
            uwarnx("%s: refusing to remove '.', '..' or '/'", argv[i]);
            rc = 1;
            continue;
        }
        rc |= remove_path(argv[i]);
    }
    return rc;
}
