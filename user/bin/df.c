/* df: report free file-system space (POSIX.1-2017 XCU "df" -k style output), over the mounts
 * listed in /proc/mounts (proc(5)), with statfs(2).
 *
 * df [PATH...]: one line per mount (or per PATH's file system): "Filesystem 1K-blocks Used
 * Available Use% Mounted on". Mounts reporting zero blocks (proc, sysfs, ...) are left out when
 * no PATH is given. Octal escapes (\040) in /proc/mounts are decoded. */
#include "ulib.h"
#include <sys/statfs.h>

/* Decodes \NNN octal escapes of a /proc/mounts field in place. */
static void unescape(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static int show(const char *dev, const char *dir, const char *query, bool skip_empty) {
    struct statfs sf;
    if (statfs(query, &sf) < 0) {
        uerr(query);
        return 1;
    }
    if (skip_empty && sf.f_blocks == 0) return 0;
    unsigned long long bs = (unsigned long long)(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
    unsigned long long total = sf.f_blocks * bs / 1024, avail = sf.f_bavail * bs / 1024;
    unsigned long long used = (sf.f_blocks - sf.f_bfree) * bs / 1024;
    char pct[8] = "-";
    if (used + avail > 0)
        snprintf(pct, sizeof pct, "%llu%%", (used * 100 + used + avail - 1) / (used + avail));
    printf("%-15s %10llu %10llu %10llu %4s %s\n", dev, total, used, avail, pct, dir);
    return 0;
}

int main(int argc, char **argv) {
    ulib_prog = "df";
    if (argc > 1 && argv[1][0] == '-' && argv[1][1]) uusage("[PATH...]");
    static char text[65536];
    if (uread_file("/proc/mounts", text, sizeof text) < 0) {
        uerr("/proc/mounts");
        return 1;
    }
    printf("%-15s %10s %10s %10s %4s %s\n", "Filesystem", "1K-blocks", "Used", "Available", "Use%",
           "Mounted on");
    int rc = 0;
    if (argc > 1) {
        /* For each PATH: the mount with the longest prefix of its real path. */
        for (int i = 1; i < argc; i++) {
            char real[PATH_MAX];
            if (!realpath(argv[i], real)) {
                uerr(argv[i]);
                rc = 1;
                continue;
            }
            char best_dev[256] = "-", best_dir[PATH_MAX] = "/";
            size_t best = 0;
            char *save, *copy = strdup(text);
            for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                char dev[256], dir[PATH_MAX];
                if (sscanf(line, "%255s %4095s", dev, dir) != 2) continue;
                unescape(dev);
                unescape(dir);
                size_t dl = strlen(dir);
                bool prefix = !strcmp(dir, "/") ||
                              (!strncmp(real, dir, dl) && (real[dl] == '/' || real[dl] == '\0'));
                if (prefix && dl >= best) {
                    best = dl;
                    snprintf(best_dev, sizeof best_dev, "%s", dev);
                    snprintf(best_dir, sizeof best_dir, "%s", dir);
                }
            }
            free(copy);
            rc |= show(best_dev, best_dir, argv[i], false);
        }
        return rc | (fflush(stdout) ? 1 : 0);
    }
    char *save;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char dev[256], dir[PATH_MAX];
        if (sscanf(line, "%255s %4095s", dev, dir) != 2) continue;
        unescape(dev);
        unescape(dir);
        rc |= show(dev, dir, dir, true);
    }
    return rc | (fflush(stdout) ? 1 : 0);
}
