/* ps: report process status, from Linux-format procfs (proc(5): /proc/[pid]/stat, cmdline).
 *
 * ps: one line per process, sorted by pid, under the heading "PID PPID PGID STAT TIME CMD":
 * the pid, parent pid and process group (stat fields 1, 4, 5), the state letter (field 3),
 * the CPU time utime+stime (fields 14, 15, in sysconf(_SC_CLK_TCK) ticks) as [DD-]HH:MM:SS,
 * and the command line from /proc/[pid]/cmdline (the "comm" name in brackets when that is
 * empty or missing). A process that ends while ps reads it is skipped. */
#include "ulib.h"
#include <dirent.h>
#include <ctype.h>

struct proc_row {
    long pid, ppid, pgid;
    char state;
    unsigned long long ticks;
    char cmd[256];
};

static int cmp_row(const void *a, const void *b) {
    long x = ((const struct proc_row *)a)->pid, y = ((const struct proc_row *)b)->pid;
    return (x > y) - (x < y);
}

/* Parses /proc/PID/stat text into r; false when malformed. The comm field may hold spaces and
 * parentheses: it ends at the last ')'. */
static bool parse_stat(char *text, struct proc_row *r, char *comm, size_t comm_cap) {
    char *open = strchr(text, '(');
    char *close = strrchr(text, ')');
    if (!open || !close || close < open) return false;
    size_t cl = (size_t)(close - open - 1);
    if (cl >= comm_cap) cl = comm_cap - 1;
    memcpy(comm, open + 1, cl);
    comm[cl] = '\0';
    r->pid = strtol(text, NULL, 10);
    /* Fields from 3 on, space separated. */
    char *p = close + 1;
    unsigned long long f[16] = {0};
    char st = '?';
    int field = 3;
    while (*p && field <= 15) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (field == 3) {
            st = *p;
            while (*p && *p != ' ') p++;
        } else {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p) return false;
            f[field] = (unsigned long long)v;
            p = end;
        }
        field++;
    }
    if (field <= 15) return false;
    r->state = st;
    r->ppid = (long)f[4];
    r->pgid = (long)f[5];
    r->ticks = f[14] + f[15];
    return true;
}

static void read_cmdline(long pid, const char *comm, char *out, size_t cap) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    ssize_t n = uread_file(path, buf, sizeof buf);
    if (n > 0) {
        while (n > 0 && buf[n - 1] == '\0') n--;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\0' || !isprint((unsigned char)buf[i])) buf[i] = buf[i] ? '?' : ' ';
        buf[n] = '\0';
        if (n > 0) {
            snprintf(out, cap, "%s", buf);
            return;
        }
    }
    snprintf(out, cap, "[%s]", comm);
}

int main(int argc, char **argv) {
    ulib_prog = "ps";
    if (argc > 1) uusage("(no options)");
    DIR *d = opendir("/proc");
    if (!d) {
        uerr("/proc");
        return 1;
    }
    size_t n = 0, cap = 64;
    struct proc_row *rows = malloc(cap * sizeof *rows);
    if (!rows) {
        uerr("memory");
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[300], text[1024], comm[64];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if (uread_file(path, text, sizeof text) <= 0) continue; /* gone meanwhile */
        if (n == cap) {
            struct proc_row *nr = realloc(rows, 2 * cap * sizeof *rows);
            if (!nr) break;
            rows = nr;
            cap *= 2;
        }
        if (!parse_stat(text, &rows[n], comm, sizeof comm)) {
            uwarnx("%s: malformed", path);
            continue;
        }
        read_cmdline(rows[n].pid, comm, rows[n].cmd, sizeof rows[n].cmd);
        n++;
    }
    closedir(d);
    qsort(rows, n, sizeof *rows, cmp_row);
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    printf("%5s %5s %5s %-4s %11s %s\n", "PID", "PPID", "PGID", "STAT", "TIME", "CMD");
    for (size_t i = 0; i < n; i++) {
        unsigned long long s = rows[i].ticks / (unsigned long long)hz;
        char tb[32];
        if (s >= 86400)
            snprintf(tb, sizeof tb, "%llu-%02llu:%02llu:%02llu", s / 86400, s / 3600 % 24,
                     s / 60 % 60, s % 60);
        else
            snprintf(tb, sizeof tb, "%02llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
        printf("%5ld %5ld %5ld %-4c %11s %s\n", rows[i].pid, rows[i].ppid, rows[i].pgid,
               rows[i].state, tb, rows[i].cmd);
    }
    free(rows);
    return fflush(stdout) ? 1 : 0;
}
