/* ipcping: the timing half of SABOS's IPC demo (docs/ipc.md). Sends COUNT messages of SIZE
 * bytes (type IPCDEMO_PING) to an ipcpong process, waits for each echo from that pid, checks
 * it (type, length, payload) and reports the round-trip times.
 *
 *   ipcping [-n COUNT] [-s SIZE] [PONG_PID]
 *
 * Without PONG_PID it starts ipcpong itself (posix_spawn; from the directory ipcping was run
 * from, else /bin), tells it to quit at the end and waits for it. Exit status 0 when every
 * echo came back intact. */
#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sabos.h"

#define IPCDEMO_PING 1
#define IPCDEMO_QUIT 2
#define REPLY_TIMEOUT_NS (5ull * 1000000000ull)

extern char **environ;
static unsigned char out[SABOS_IPC_MSG_MAX], in[SABOS_IPC_MSG_MAX];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Starts ipcpong next to argv0 (or /bin/ipcpong); its pid, or -1. */
static pid_t spawn_pong(const char *argv0) {
    char path[256] = "/bin/ipcpong";
    const char *slash = strrchr(argv0, '/');
    if (slash && (size_t)(slash - argv0) + sizeof("/ipcpong") <= sizeof(path))
        snprintf(path, sizeof(path), "%.*s/ipcpong", (int)(slash - argv0), argv0);
    char *args[] = {path, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, path, NULL, NULL, args, environ);
    if (e != 0) {
        fprintf(stderr, "ipcping: cannot start %s: %s\n", path, strerror(e));
        return -1;
    }
    return pid;
}

int main(int argc, char **argv) {
    long count = 1000, size = 64;
    int opt;
    while ((opt = getopt(argc, argv, "n:s:")) != -1) {
        if (opt == 'n') count = atol(optarg);
        else if (opt == 's') size = atol(optarg);
        else goto usage;
    }
    if (count <= 0 || size < 4 || size > (long)SABOS_IPC_MSG_MAX) goto usage;
    pid_t pong = optind < argc ? (pid_t)atol(argv[optind]) : spawn_pong(argv[0]);
    if (pong <= 0) return 1;
    bool spawned = optind >= argc;

    uint64_t min = UINT64_MAX, max = 0, total = 0;
    long done = 0, bad = 0;
    int status = 0;
    for (long i = 0; i < count; i++) {
        for (long k = 0; k < size; k++) out[k] = (unsigned char)(i * 31 + k);
        memcpy(out, &i, sizeof(int32_t));
        uint64_t t0 = now_ns();
        long r = sabos_ipc_send(pong, IPCDEMO_PING, out, (size_t)size);
        if (r < 0) {
            fprintf(stderr, "ipcping: send %ld to %d: %s\n", i, (int)pong, strerror((int)-r));
            status = 1;
            break;
        }
        struct sabos_msg_hdr h;
        long n;
        do n = sabos_ipc_recv(pong, &h, in, sizeof(in), REPLY_TIMEOUT_NS);
        while (n == -EINTR);
        uint64_t dt = now_ns() - t0;
        if (n < 0) {
            fprintf(stderr, "ipcping: reply %ld: %s\n", i, strerror((int)-n));
            status = 1;
            break;
        }
        if (n != size || h.type != IPCDEMO_PING || h.sender != pong || memcmp(in, out, (size_t)size) != 0)
            bad++;
        done++;
        total += dt;
        if (dt < min) min = dt;
        if (dt > max) max = dt;
    }
    if (spawned) {
        sabos_ipc_send(pong, IPCDEMO_QUIT, NULL, 0);
        int ws;
        waitpid(pong, &ws, 0);
    }
    if (done)
        printf("ipcping: %ld round trips of %ld bytes with pid %d: min %.1f us, avg %.1f us, max %.1f us, %ld bad\n",
               done, size, (int)pong, min / 1e3, (double)total / done / 1e3, max / 1e3, bad);
    return status || bad || done != count;
usage:
    fprintf(stderr, "usage: ipcping [-n COUNT] [-s SIZE (4-%u)] [PONG_PID]\n", SABOS_IPC_MSG_MAX);
    return 2;
}
