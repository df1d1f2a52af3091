/* ipcpong: the echo half of SABOS's IPC demo (docs/ipc.md). Receives messages from anyone and
 * sends each one back to its sender unchanged (same type, same payload) until a message of
 * type IPCDEMO_QUIT arrives or nothing arrives for the idle timeout.
 *
 *   ipcpong [-t IDLE_SECONDS]     (default 30; 0 = wait forever)
 *
 * Pairs with ipcping, which sends IPCDEMO_PING messages and times the round trips. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "sabos.h"

#define IPCDEMO_PING 1
#define IPCDEMO_QUIT 2

static unsigned char buf[SABOS_IPC_MSG_MAX];

int main(int argc, char **argv) {
    uint64_t idle_ns = 30ull * 1000000000ull;
    int opt;
    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt == 't') {
            long s = atol(optarg);
            idle_ns = s <= 0 ? SABOS_IPC_FOREVER : (uint64_t)s * 1000000000ull;
        } else {
            fprintf(stderr, "usage: ipcpong [-t IDLE_SECONDS]\n");
            return 2;
        }
    }
    printf("ipcpong: pid %d ready\n", (int)getpid());
    fflush(stdout);
    long echoed = 0;
    for (;;) {
        struct sabos_msg_hdr h;
        long n = sabos_ipc_recv(SABOS_IPC_ANY, &h, buf, sizeof(buf), idle_ns);
        if (n == -EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "ipcpong: receive: %s\n", strerror((int)-n));
            return 1;
        }
        if (h.type == IPCDEMO_QUIT) break;
        long r;
        /* The sender's queue may be full for a moment: retry briefly, then drop it. */
        for (int tries = 0; (r = sabos_ipc_send(h.sender, h.type, buf, (size_t)n)) == -EAGAIN && tries < 1000;
             tries++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (r < 0) fprintf(stderr, "ipcpong: reply to %d: %s\n", h.sender, strerror((int)-r));
        else echoed++;
    }
    printf("ipcpong: echoed %ld messages\n", echoed);
    return 0;
}
