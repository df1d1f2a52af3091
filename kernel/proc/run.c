/* run.c: running a user program from a kernel task and collecting what it prints (self-tests
 * of the process, file and time calls, and the user-space benchmarks). Builds on proc_spawn
 * and proc_wait_spawned (exec.c, exit.c) and a pipe (kernel/fs/pipe.c); the read end is polled
 * through its wait queue, so a program that hangs costs the caller its timeout, not a hang. */
#include "proc.h"
#include "vfs.h"
#include "time.h"
#include "kstring.h"

/* True when the read end has data or every writer is gone (read would not block). */
static bool readable(struct vfs_file *f) {
    struct wait_queue *wqs[2] = {NULL, NULL};
    return (f->fops->poll(f, wqs) & (VFS_POLLIN | VFS_POLLHUP)) != 0;
}

int proc_run_capture(const char *path, const char *const argv[], const char *const envp[], char *out, size_t cap,
                     size_t *out_len, uint64_t timeout_ns, int *status) {
    size_t len = 0;
    if (out && cap) out[0] = 0;
    struct vfs_file *rd, *wr;
    int r = vfs_pipe(&rd, &wr, O_NONBLOCK);
    if (r < 0) return r;
    struct vfs_file *stdio[3] = {NULL, wr, wr};
    int pid = proc_spawn(path, argv, envp, stdio);
    vfs_close(wr); /* the program (and its children) hold the only writers now: EOF when they end */
    if (pid < 0) {
        vfs_close(rd);
        return pid;
    }
    uint64_t deadline = time_ns() + timeout_ns;
    bool late = false;
    char chunk[512];
    for (;;) {
        int64_t n = vfs_read(rd, chunk, sizeof chunk);
        if (n > 0) { /* keep what fits; read the rest anyway so the program never blocks on us */
            size_t take = out && cap ? MIN((size_t)n, cap - 1 - len) : 0;
            memcpy(out + len, chunk, take);
            len += take;
            continue;
        }
        if (n != -KEAGAIN) break; /* 0: EOF */
        uint64_t now = time_ns();
        if (now >= deadline) {
            late = true;
            break;
        }
        struct wait_queue *wqs[2] = {NULL, NULL};
        rd->fops->poll(rd, wqs);
        if (wqs[0]) wait_event_timeout(wqs[0], readable(rd), deadline - now);
        else task_sleep_ns(1000000);
    }
    if (out && cap) out[len] = 0;
    if (out_len) *out_len = len;
    vfs_close(rd);
    uint64_t now = time_ns();
    int w = late ? -KETIMEDOUT : proc_wait_spawned(pid, status, now < deadline ? deadline - now : 1);
    if (w < 0) { /* hung: end it and reap it, and say so */
        proc_signal_pid(pid, SIGKILL);
        proc_wait_spawned(pid, status, 5000000000ull);
        return -KETIMEDOUT;
    }
    return 0;
}
