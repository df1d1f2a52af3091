/* uname: return system name (POSIX.1-2017 XCU "uname", options -a -s -n -r -v -m).
 *
 * uname [-a] [-s] [-n] [-r] [-v] [-m]: the fields of uname(2) the options select, in the order
 * sysname, nodename, release, version, machine, separated by spaces; -s when none is given, all
 * five with -a. Usage errors exit 2. */
#include "ulib.h"
#include <sys/utsname.h>

int main(int argc, char **argv) {
    ulib_prog = "uname";
    bool s = false, n = false, r = false, v = false, m = false;
    int c;
    while ((c = ugetopt(argc, argv, "asnrvm")) != -1) {
        switch (c) {
        case 'a': s = n = r = v = m = true; break;
        case 's': s = true; break;
        case 'n': n = true; break;
        case 'r': r = true; break;
        case 'v': v = true; break;
        case 'm': m = true; break;
        default: uusage("[-a] [-s] [-n] [-r] [-v] [-m]");
        }
    }
    if (optind < argc) uusage("[-a] [-s] [-n] [-r] [-v] [-m]");
    if (!s && !n && !r && !v && !m) s = true;
    struct utsname u;
    if (uname(&u) < 0) {
        uerr("uname");
        return 1;
    }
    const char *f[5];
    int k = 0;
    if (s) f[k++] = u.sysname;
    if (n) f[k++] = u.nodename;
    if (r) f[k++] = u.release;
    if (v) f[k++] = u.version;
    if (m) f[k++] = u.machine;
    for (int i = 0; i < k; i++) printf("%s%s", i ? " " : "", f[i]);
    putchar('\n');
    return fflush(stdout) ? 1 : 0;
}
