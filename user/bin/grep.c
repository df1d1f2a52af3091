/* grep: search files for a pattern (POSIX.1-2017 XCU "grep"; patterns are POSIX basic regular
 * expressions through regcomp(3), XBD 9.3; -E extended, -F fixed strings).
 *
 * grep [-v] [-i] [-c] [-n] [-E | -F] PATTERN [FILE...]: prints the lines of each FILE (or of
 * standard input) that match (-v: that do not), prefixed "FILE:" when there are several files
 * and "N:" (the line number) with -n; -c prints only the count of selected lines; -i ignores
 * case. Exit status 0 when a line was selected, 1 when none, 2 on an error (a bad pattern, an
 * unreadable file: "grep: FILE: strerror"). */
#include "ulib.h"
#include <ctype.h>
#include <regex.h>

static bool opt_v, opt_i, opt_c, opt_n, opt_F;
static regex_t re;
static const char *fixed;
static size_t fixed_len;

/* Fixed-string search, ASCII case folded with -i. */
static bool match_fixed(const char *line, size_t len) {
    if (fixed_len == 0) return true;
    if (len < fixed_len) return false;
    for (size_t i = 0; i + fixed_len <= len; i++) {
        size_t k = 0;
        if (opt_i) {
            while (k < fixed_len && tolower((unsigned char)line[i + k]) == tolower((unsigned char)fixed[k])) k++;
        } else {
            while (k < fixed_len && line[i + k] == fixed[k]) k++;
        }
        if (k == fixed_len) return true;
    }
    return false;
}

/* Searches one stream; returns the number of selected lines, or -1 on a read error. */
static long long grep_stream(FILE *f, const char *name, const char *prefix) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long selected = 0, lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t l = (size_t)len;
        if (l > 0 && line[l - 1] == '\n') line[--l] = '\0';
        bool m = opt_F ? match_fixed(line, l) : regexec(&re, line, 0, NULL, 0) == 0;
        if (m == opt_v) continue;
        selected++;
        if (opt_c) continue;
        if (prefix) printf("%s:", prefix);
        if (opt_n) printf("%lld:", lineno);
        fwrite(line, 1, l, stdout);
        putchar('\n');
    }
    bool err = ferror(f);
    free(line);
    if (err) {
        uerr(name);
        return -1;
    }
    if (opt_c) {
        if (prefix) printf("%s:", prefix);
        printf("%lld\n", selected);
    }
    return selected;
}

int main(int argc, char **argv) {
    ulib_prog = "grep";
    const char *usage = "[-v] [-i] [-c] [-n] [-E | -F] PATTERN [FILE...]";
    bool ext = false;
    int c;
    while ((c = ugetopt(argc, argv, "vicnEF")) != -1) {
        switch (c) {
        case 'v': opt_v = true; break;
        case 'i': opt_i = true; break;
        case 'c': opt_c = true; break;
        case 'n': opt_n = true; break;
        case 'E': ext = true; break;
        case 'F': opt_F = true; break;
        default: uusage(usage);
        }
    }
    if (optind >= argc) uusage(usage);
    const char *pattern = argv[optind++];
    if (opt_F) {
        fixed = pattern;
        fixed_len = strlen(pattern);
    } else {
        int flags = REG_NOSUB | (ext ? REG_EXTENDED : 0) | (opt_i ? REG_ICASE : 0);
        int r = regcomp(&re, pattern, flags);
        if (r != 0) {
            char msg[256];
            regerror(r, &re, msg, sizeof msg);
            uwarnx("%s: %s", pattern, msg);
            return 2;
        }
    }
    long long total = 0;
    bool error = false;
    int nfiles = argc - optind;
    if (nfiles == 0) {
        long long r = grep_stream(stdin, "stdin", NULL);
        if (r < 0) error = true;
        else total += r;
    }
    for (int i = optind; i < argc; i++) {
        bool is_stdin = !strcmp(argv[i], "-");
        FILE *f = is_stdin ? stdin : fopen(argv[i], "r");
        if (!f) {
            uerr(argv[i]);
            error = true;
            continue;
        }
        long long r = grep_stream(f, argv[i], nfiles > 1 ? (is_stdin ? "(standard input)" : argv[i]) : NULL);
        if (r < 0) error = true;
        else total += r;
        if (!is_stdin) fclose(f);
    }
    if (fflush(stdout) != 0) {
        uerr("stdout");
        error = true;
    }
    if (error) return 2;
    return total > 0 ? 0 : 1;
}
