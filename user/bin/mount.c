/* mount: list mounted file systems from /proc/mounts (proc(5)), in util-linux's format
 * "DEVICE on DIR type TYPE (OPTIONS)". Mounting itself is not provided: any operand is a
 * usage error (exit 2). */
#include "ulib.h"

int main(int argc, char **argv) {
    ulib_prog = "mount";
    if (argc > 1) uusage("(lists /proc/mounts; mounting is not supported)");
    static char text[65536];
    if (uread_file("/proc/mounts", text, sizeof text) < 0) {
        uerr("/proc/mounts");
        return 1;
    }
    char *save;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char dev[256], dir[4096], type[64], opts[1024];
        int n = sscanf(line, "%255s %4095s %63s %1023s", dev, dir, type, opts);
        if (n < 3) continue;
        if (n == 3) strcpy(opts, "rw");
        printf("%s on %s type %s (%s)\n", dev, dir, type, opts);
    }
    return fflush(stdout) ? 1 : 0;
}
