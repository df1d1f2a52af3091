/* free: amount of free and used memory, from /proc/meminfo (proc(5)), laid out like procps-ng
 * free 4.x.
 *
 * free [-k | -m | -b]: kibibytes by default. Columns total, used (MemTotal - MemAvailable),
 * free, shared (Shmem), buff/cache (Buffers + Cached + SReclaimable), available (MemAvailable,
 * or free + buff/cache when the kernel does not report it); then the Swap line. Fields the
 * kernel does not report count as 0. */
#include "ulib.h"

static unsigned long long field(const char *text, const char *name, bool *found) {
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, name, nl) && p[nl] == ':') {
            if (found) *found = true;
            return strtoull(p + nl + 1, NULL, 10);
        }
    }
    if (found) *found = false;
    return 0;
}

int main(int argc, char **argv) {
    ulib_prog = "free";
    unsigned long long mul = 1024, div = 1024; /* bytes = kB * 1024; shown = bytes / div */
    int c;
    while ((c = ugetopt(argc, argv, "kmb")) != -1) {
        switch (c) {
        case 'k': div = 1024; break;
        case 'm': div = 1024 * 1024; break;
        case 'b': div = 1; break;
        default: uusage("[-k | -m | -b]");
        }
    }
    if (optind < argc) uusage("[-k | -m | -b]");
    static char text[16384];
    if (uread_file("/proc/meminfo", text, sizeof text) < 0) {
        uerr("/proc/meminfo");
        return 1;
    }
    bool have_total, have_avail;
    unsigned long long total = field(text, "MemTotal", &have_total);
    if (!have_total) {
        uwarnx("/proc/meminfo: no MemTotal line");
        return 1;
    }
    unsigned long long mfree = field(text, "MemFree", NULL);
    unsigned long long cache = field(text, "Buffers", NULL) + field(text, "Cached", NULL) +
                               field(text, "SReclaimable", NULL);
    unsigned long long avail = field(text, "MemAvailable", &have_avail);
    if (!have_avail) avail = mfree + cache;
    if (avail > total) avail = total;
    unsigned long long used = total - avail;
    unsigned long long shared = field(text, "Shmem", NULL);
    unsigned long long stotal = field(text, "SwapTotal", NULL), sfree = field(text, "SwapFree", NULL);
#define V(x) ((unsigned long long)(x) * mul / div)
    printf("%s\n", "               total        used        free      shared  buff/cache   available");
    printf("Mem:    %12llu%12llu%12llu%12llu%12llu%12llu\n", V(total), V(used), V(mfree),
           V(shared), V(cache), V(avail));
    printf("Swap:   %12llu%12llu%12llu\n", V(stotal), V(stotal > sfree ? stotal - sfree : 0), V(sfree));
    return fflush(stdout) ? 1 : 0;
}
