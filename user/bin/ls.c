/* ls: list directory contents (POSIX.1-2017 XCU "ls", the -l, -a options; -1 accepted).
 *
 * ls [-l] [-a] [-1] [PATH...]: names sorted by byte value (the POSIX locale), one per line;
 * operands that are not directories first, then each directory's contents (with a "PATH:"
 * heading when there is more than one operand). -l: mode string, link count, size, mtime (UTC,
 * "YYYY-MM-DD HH:MM") and the name ("-> target" for a symbolic link). -a: names starting with
 * '.' too. Errors: "ls: PATH: strerror", exit status 1; usage errors 2. */
#include "ulib.h"
#include <dirent.h>
#include <time.h>

static bool opt_long, opt_all;

struct entry {
    char *name;      /* as shown */
    char *path;      /* for lstat/readlink */
    struct stat st;
    bool have_st;
};

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void mode_string(mode_t m, char out[11]) {
    char t = '-';
    if (S_ISDIR(m)) t = 'd';
    else if (S_ISLNK(m)) t = 'l';
    else if (S_ISCHR(m)) t = 'c';
    else if (S_ISBLK(m)) t = 'b';
    else if (S_ISFIFO(m)) t = 'p';
    else if (S_ISSOCK(m)) t = 's';
    out[0] = t;
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++) out[1 + i] = (m & (0400 >> i)) ? rwx[i] : '-';
    if (m & S_ISUID) out[3] = (m & S_IXUSR) ? 's' : 'S';
    if (m & S_ISGID) out[6] = (m & S_IXGRP) ? 's' : 'S';
    if (m & S_ISVTX) out[9] = (m & S_IXOTH) ? 't' : 'T';
    out[10] = '\0';
}

static int digits(unsigned long long v) {
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Prints a sorted list of entries (stat'ed already in long mode). */
static void print_entries(struct entry *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_entry);
    int wl = 1, ws = 1;
    if (opt_long) {
        for (size_t i = 0; i < n; i++) {
            if (!v[i].have_st) continue;
            int a = digits((unsigned long long)v[i].st.st_nlink);
            int b = digits((unsigned long long)v[i].st.st_size);
            if (a > wl) wl = a;
            if (b > ws) ws = b;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!opt_long) {
            printf("%s\n", v[i].name);
            continue;
        }
        if (!v[i].have_st) {
            printf("?????????? %*s %*s %16s %s\n", wl, "?", ws, "?", "?", v[i].name);
            continue;
        }
        char ms[11], tb[32];
        mode_string(v[i].st.st_mode, ms);
        time_t t = v[i].st.st_mtime;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(tb, sizeof tb, "%Y-%m-%d %H:%M", &tm))
            strcpy(tb, "?");
        printf("%s %*llu %*lld %s %s", ms, wl, (unsigned long long)v[i].st.st_nlink, ws,
               (long long)v[i].st.st_size, tb, v[i].name);
        if (S_ISLNK(v[i].st.st_mode)) {
            char target[PATH_MAX];
            ssize_t k = readlink(v[i].path, target, sizeof target - 1);
            if (k >= 0) {
                target[k] = '\0';
                printf(" -> %s", target);
            }
        }
        putchar('\n');
    }
}

static void free_entries(struct entry *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        if (v[i].path != v[i].name) free(v[i].path);
    }
    free(v);
}

/* Lists one directory; returns 0 or 1 (error printed). */
static int list_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        uerr(path);
        return 1;
    }
    size_t n = 0, cap = 64;
    struct entry *v = malloc(cap * sizeof *v);
    if (!v) {
        uerr(path);
        closedir(d);
        return 1;
    }
    int rc = 0;
    struct dirent *e;
    while ((errno = 0, e = readdir(d)) != NULL) {
        if (!opt_all && e->d_name[0] == '.') continue;
        if (n == cap) {
            struct entry *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                errno = ENOMEM;
                break;
            }
            v = nv;
            cap *= 2;
        }
        struct entry *en = &v[n];
        en->name = strdup(e->d_name);
        en->path = NULL;
        en->have_st = false;
        if (!en->name) {
            errno = ENOMEM;
            break;
        }
        if (opt_long) {
            size_t len = strlen(path) + strlen(e->d_name) + 2;
            en->path = malloc(len);
            if (!en->path) {
                free(en->name);
                errno = ENOMEM;
                break;
            }
            ujoin(en->path, len, path, e->d_name);
            if (lstat(en->path, &en->st) == 0) en->have_st = true;
            else {
                uerr(en->path);
                rc = 1;
            }
        } else {
            en->path = en->name;
        }
        n++;
    }
    if (errno) {
        uerr(path);
        rc = 1;
    }
    closedir(d);
    print_entries(v, n);
    free_entries(v, n);
    return rc;
}

int main(int argc, char **argv) {
    ulib_prog = "ls";
    int c;
    while ((c = ugetopt(argc, argv, "la1")) != -1) {
        switch (c) {
        case 'l': opt_long = true; break;
        case 'a': opt_all = true; break;
        case '1': break;
        default: uusage("[-l] [-a] [-1] [PATH...]");
        }
    }
    char *dot[] = {".", NULL};
    char **ops = optind < argc ? argv + optind : dot;
    int nops = optind < argc ? argc - optind : 1;

    int rc = 0;
    struct entry *files = calloc((size_t)nops, sizeof *files);
    struct entry *dirs = calloc((size_t)nops, sizeof *dirs);
    if (!files || !dirs) {
        uerr("memory");
        return 1;
    }
    size_t nf = 0, nd = 0;
    for (int i = 0; i < nops; i++) {
        struct stat st;
        /* Operands are followed (a link to a directory lists it) except in long mode. */
        int r = opt_long ? lstat(ops[i], &st) : stat(ops[i], &st);
        if (r < 0 && !opt_long && errno == ENOENT) r = lstat(ops[i], &st); /* dangling link */
        if (r < 0) {
            uerr(ops[i]);
            rc = 1;
            continue;
        }
        struct entry *en = S_ISDIR(st.st_mode) ? &dirs[nd++] : &files[nf++];
        en->name = en->path = ops[i];
        en->st = st;
        en->have_st = true;
    }
    qsort(files, nf, sizeof *files, cmp_entry);
    print_entries(files, nf);
    qsort(dirs, nd, sizeof *dirs, cmp_entry);
    for (size_t i = 0; i < nd; i++) {
        if (nops > 1) printf("%s%s:\n", (nf > 0 || i > 0) ? "\n" : "", dirs[i].name);
        rc |= list_dir(dirs[i].name);
    }
    free(files);
    free(dirs);
    if (fflush(stdout) != 0) {
        uerr("stdout");
        rc = 1;
    }
    return rc;
}
