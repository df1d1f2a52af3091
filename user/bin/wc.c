/* wc: word, line and byte count (POSIX.1-2017 XCU "wc", options -l -w -c).
 *
 * wc [-l] [-w] [-c] [FILE...]: for each FILE (or standard input) the newline count, the word
 * count (maximal runs of non-white-space bytes, POSIX locale) and the byte count, in that order,
 * each right-aligned in 7 columns, then the file name; the options choose columns (all three
 * when none is given); a "total" line follows when there are several files. Errors:
 * "wc: FILE: strerror", exit status 1; usage errors 2. */
#include "ulib.h"

static bool show_l, show_w, show_c;
static char buf[65536];

struct counts {
    unsigned long long l, w, c;
};

static int count_fd(int fd, const char *name, struct counts *k) {
    bool in_word = false;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            return 1;
        }
        if (n == 0) return 0;
        k->c += (unsigned long long)n;
        for (ssize_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)buf[i];
            bool sp = ch == ' ' || (ch >= '\t' && ch <= '\r');
            if (ch == '\n') k->l++;
            if (sp) in_word = false;
            else if (!in_word) {
                in_word = true;
                k->w++;
            }
        }
    }
}

static void print_counts(const struct counts *k, const char *name) {
    const char *sep = "";
    if (show_l) {
        printf("%7llu", k->l);
        sep = " ";
    }
    if (show_w) {
        printf("%s%7llu", sep, k->w);
        sep = " ";
    }
    if (show_c) printf("%s%7llu", sep, k->c);
    if (name) printf(" %s", name);
    putchar('\n');
}

int main(int argc, char **argv) {
    ulib_prog = "wc";
    int c;
    while ((c = ugetopt(argc, argv, "lwc")) != -1) {
        switch (c) {
        case 'l': show_l = true; break;
        case 'w': show_w = true; break;
        case 'c': show_c = true; break;
        default: uusage("[-l] [-w] [-c] [FILE...]");
        }
    }
    if (!show_l && !show_w && !show_c) show_l = show_w = show_c = true;
    int rc = 0;
    if (optind >= argc) {
        struct counts k = {0, 0, 0};
        rc = count_fd(0, "stdin", &k);
        print_counts(&k, NULL);
        return rc | (fflush(stdout) ? 1 : 0);
    }
    struct counts total = {0, 0, 0};
    for (int i = optind; i < argc; i++) {
        bool is_stdin = !strcmp(argv[i], "-");
        int fd = is_stdin ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            uerr(argv[i]);
            rc = 1;
            continue;
        }
        struct counts k = {0, 0, 0};
        if (count_fd(fd, argv[i], &k)) rc = 1;
        else print_counts(&k, argv[i]);
        if (!is_stdin) close(fd);
        total.l += k.l;
        total.w += k.w;
        total.c += k.c;
    }
    if (argc - optind > 1) print_counts(&total, "total");
    return rc | (fflush(stdout) ? 1 : 0);
}
