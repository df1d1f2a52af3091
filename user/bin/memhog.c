/* memhog: running out of memory must be an error for the program, never a kernel failure.
 *   memhog            huge requests: malloc and mmap of 1 TiB, brk far beyond RAM fail with
 *                     ENOMEM (prints PASS lines, "memhog: PASS", exit 0)
 *   memhog touch      maps 16 MiB at a time and touches every page until mmap fails (exit 0
 *                     with "memhog: ENOMEM after N MiB") or the kernel ends the process
 *                     (SIGKILL); the caller checks the system is still usable afterwards.
 * Runs on Linux too (the first mode; do not run "touch" on a host). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;

static void check(const char *name, int ok, const char *why) {
    if (ok) printf("PASS %s\n", name);
    else { printf("FAIL %s: %s (errno %s)\n", name, why, strerror(errno)); failures++; }
}

static int huge_requests(void) {
    errno = 0;
    void *p = malloc((size_t)1 << 40);
    check("malloc-1tib", p == NULL && errno == ENOMEM, "malloc of 1 TiB did not fail with ENOMEM");
    free(p);
    errno = 0;
    void *m = mmap(NULL, (size_t)1 << 47, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap-128tib", m == MAP_FAILED && errno == ENOMEM, "mmap of 128 TiB did not fail with ENOMEM");
    void *cur = sbrk(0);
    errno = 0;
    void *r = sbrk((intptr_t)1 << 46);
    check("sbrk-64tib", r == (void *)-1 && errno == ENOMEM && sbrk(0) == cur, "sbrk of 64 TiB did not fail");
    printf("memhog: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}

static int touch_until_failure(void) {
    size_t mib = 0;
    for (;;) {
        char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("memhog: ENOMEM after %zu MiB\n", mib);
            return errno == ENOMEM ? 0 : 1;
        }
        for (size_t off = 0; off < (16 << 20); off += 4096) p[off] = 1;
        mib += 16;
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "touch")) return touch_until_failure();
    return huge_requests();
}
