/* mkdir: make directories (POSIX.1-2017 XCU "mkdir", option -p).
 *
 * mkdir [-p] DIR...: creates each DIR (mode 0777 less the umask). -p creates missing parents
 * too and is quiet when DIR already exists as a directory. Errors: "mkdir: DIR: strerror",
 * exit status 1 (the other operands are still made); usage errors 2. */
#include "ulib.h"

/* mkdir -p: each prefix of path in turn. 0 or -1 (errno set for the part that failed). */
static int make_parents(const char *path) {
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        if (buf[i - 1] == '/') continue; /* "//" or a trailing '/' */
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) < 0) {
            int e = errno;
            struct stat st;
            if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
                errno = (e == EEXIST) ? ENOTDIR : e;
                return -1;
            }
        }
        buf[i] = saved;
    }
    return 0;
}

int main(int argc, char **argv) {
    ulib_prog = "mkdir";
    bool parents = false;
    int c;
    while ((c = ugetopt(argc, argv, "p")) != -1) {
        if (c == 'p') parents = true;
        else uusage("[-p] DIR...");
    }
    if (optind >= argc) uusage("[-p] DIR...");
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        int r = parents ? make_parents(argv[i]) : mkdir(argv[i], 0777);
        if (r < 0) {
            uerr(argv[i]);
            rc = 1;
        }
    }
    return rc;
}
