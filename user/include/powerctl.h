/* powerctl.h: the body shared by poweroff, reboot and halt (user/bin/poweroff.c, reboot.c,
 * halt.c), which behave like busybox's commands of those names:
 *
 *   poweroff|reboot|halt [-f] [-n]
 *     (no option)  asks init (process 1) with its shutdown signal: SIGUSR2 power off, SIGTERM
 *                  reboot, SIGUSR1 halt; init (user/sbin/init.c) stops every process, syncs
 *                  the file systems and calls reboot(2) itself
 *     -f           without init: sync(2), then reboot(2) at once (processes are not stopped)
 *     -n           with -f: no sync(2) first
 *
 * Follows Linux man-pages kill(2), sync(2) and reboot(2) (musl's reboot(RB_*) wrapper).
 * Errors: "PROG: cannot signal init (pid 1): strerror" or "PROG: reboot(2) failed: strerror",
 * exit status 1; an unknown option is a usage error (exit 2). Run as root on a Linux host,
 * these commands really shut it down, like any poweroff. */
#pragma once
#include "ulib.h"
#include <signal.h>
#include <sys/reboot.h>

/* main() of the command named prog: init_signal is what init is sent, reboot_cmd the
 * RB_* value for -f. Returns the exit status (only on failure when -f is given). */
static int powerctl_main(int argc, char **argv, const char *prog, int init_signal, int reboot_cmd) {
    ulib_prog = prog;
    bool force = false, no_sync = false;
    int c;
    while ((c = ugetopt(argc, argv, "fn")) != -1) {
        if (c == 'f') force = true;
        else if (c == 'n') no_sync = true;
        else uusage("[-f] [-n]");
    }
    if (optind < argc) uusage("[-f] [-n]");
    if (!force) {
        if (kill(1, init_signal) < 0) {
            uerr("cannot signal init (pid 1)");
            return 1;
        }
        return 0;
    }
    if (!no_sync) sync();
    reboot(reboot_cmd);
    uerr("reboot(2) failed");
    return 1;
}
