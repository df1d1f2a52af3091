/* tty_internal.h: what tty.c shares with the terminal drivers beside it (pty.c): the terminal
 * object and the driver hooks. Not for the rest of the kernel (that uses tty.h).
 *
 * One line discipline serves every terminal: the console and the pseudo-terminal slaves are
 * the same struct tty with different drivers. A driver bounds the output (write_room: the
 * writer blocks or gets EAGAIN while the sink is full), counts the files (open/close) and may
 * hang the terminal up (tty_hangup, as Linux's vhangup: reads give 0, writes EIO). */
#pragma once
#include "tty.h"
#include "proc.h"
#include "spinlock.h"
#include "sync.h"
#include "wait.h"

struct tty_driver {
    /* Bytes of output the sink takes now (t->lock held, must not sleep); NULL: unbounded. */
    size_t (*write_room)(struct tty *t);
    /* A new file of t (its devfs node or /dev/tty): 0, or -errno to refuse the open. Called
     * before the file becomes a terminal file; nothing else fails after it. */
    int (*open)(struct tty *t, struct vfs_file *f);
    /* The last reference to a file of t went away. */
    void (*close)(struct tty *t, struct vfs_file *f);
};

struct tty {
    spinlock_t lock;                /* the line discipline, hung_up, the driver's buffers */
    struct tty_ldisc *ld;
    struct wait_queue read_wq;      /* readers and pollers: input arrived, modes changed, hang-up */
    struct wait_queue write_wq;     /* writers: output room appeared (bounded sinks), hang-up */
    struct wait_queue input_wq;     /* input writers (pty master): input room appeared */
    struct mutex jc_lock;
    volatile pid_k session;         /* 0: no session has it as controlling terminal */
    volatile pid_k pgrp;            /* foreground process group, 0: none */
    struct kwinsize ws;
    uint32_t pending_sigs;          /* bit per signal noted by the line discipline */
    volatile bool hung_up;          /* reads give 0, writes -EIO, ioctls -EIO (tty_hangup) */
    struct vnode vn;                /* the node behind its files (tty_open, /dev/pts/N) */
    tty_out_fn sink;
    void *sink_ctx;
    const struct tty_driver *drv;   /* NULL: the console and private terminals */
    void *drv_ctx;
    int (*sig_hook)(int pgrp, int sig, void *ctx);
    void *sig_ctx;
    bool is_console;
    char name[16];
};

/* Sets up a terminal object once (locks, wait queues, vnode), with ld as its line discipline
 * (initialised here) and output to sink(ctx, ...). */
void tty_setup(struct tty *t, struct tty_ldisc *ld, const char *name, tty_out_fn sink, void *ctx);
/* Makes an object from tty_setup that nobody uses any more a fresh terminal again: a new
 * line discipline ld (initialised here), sink, no session, not hung up. The locks and wait
 * queues are kept (stale controlling-terminal pointers may still look at the session). */
void tty_reuse(struct tty *t, struct tty_ldisc *ld, tty_out_fn sink, void *ctx);
/* Input from a writer that waits for room (a pty master's write): up to n bytes into the
 * line discipline as typed, blocking while the input buffer is full (nonblock: -EAGAIN when
 * nothing fit). Returns the bytes taken, -KEAGAIN or -KEINTR. */
int64_t tty_write_input(struct tty *t, const uint8_t *s, size_t n, bool nonblock);
/* Bytes of input the line discipline takes now without dropping any. */
uint32_t tty_input_room(struct tty *t);
/* Hangs t up as Linux's vhangup: the session loses it, its leader gets SIGHUP and SIGCONT,
 * reads give 0 and writes -EIO from now on, every waiter is woken. */
void tty_hangup(struct tty *t);
/* The ioctls a pty master passes to its slave t (user: a user-space argument, else kernel
 * memory): termios, window size
 * and job control as on the slave, except that TIOCGPGRP and TIOCGSID need no controlling
 * terminal (Linux's tiocgpgrp/tiocgsid with tty != real_tty). Others: -KENOTTY. */
int64_t tty_ioctl_master(struct tty *t, struct vfs_file *f, uint32_t cmd, uint64_t arg, bool user);
/* tty_ioctl_kernel for a pty master file (pty_master_index(f) >= 0). */
int64_t pty_ioctl_kernel(struct vfs_file *f, uint32_t cmd, uint64_t arg);
/* Copies an ioctl result to user space (user) or kernel memory: 0 or -KEFAULT. */
int tty_arg_out(bool user, uint64_t arg, const void *src, size_t n);
/* Copies an ioctl argument from user space (user) or kernel memory: 0 or -KEFAULT. */
int tty_arg_in(bool user, void *dst, uint64_t arg, size_t n);
