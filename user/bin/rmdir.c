/* rmdir: remove empty directories (POSIX.1-2017 XCU "rmdir").
 *
 * rmdir DIR...: removes each DIR; "rmdir: DIR: strerror" and exit status 1 for one that
 * cannot be removed (not empty, not a directory, missing); usage errors 2. */
#include "ulib.h"

int main(int argc, char **argv) {
    ulib_prog = "rmdir";
    int first = 1;
    if (first < argc && !strcmp(argv[first], "--")) first++;
    else if (first < argc && argv[first][0] == '-' && argv[first][1]) uusage("DIR...");
    if (first >= argc) uusage("DIR...");
    int rc = 0;
    for (int i = first; i < argc; i++) {
        if (rmdir(argv[i]) < 0) {
            uerr(argv[i]);
            rc = 1;
        }
    }
    return rc;
}
