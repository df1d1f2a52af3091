/* exec.c: execve and the kernel's own ways of starting user programs (init, tests).
 *
 * POSIX.1-2017 XSH exec (the new image replaces the old one; descriptors with FD_CLOEXEC are
 * closed; caught signals are reset to SIG_DFL, ignored ones stay ignored; the signal mask,
 * pid, parent, process group, session, cwd and umask are kept) and Linux execve(2) (E2BIG,
 * ENOEXEC, EFAULT, ENAMETOOLONG; other threads end). The image itself is built by
 * exec_image_build (elf.h). */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "elf.h"
#include "sched.h"
#include "kstring.h"
#include "printk.h"
#include "mm.h"
#include "cpu.h"
#include "tty.h"

#define EXEC_ARG_BYTES EXEC_ARG_MAX     /* argv + envp bytes (elf.h) */
#define EXEC_VECTOR_MAX EXEC_STRINGS_MAX /* strings in argv or envp (elf.h) */
#define MSR_FS_BASE 0xc0000100

struct exec_args {
    char path[VFS_PATH_MAX];
    const char *argv[EXEC_VECTOR_MAX + 1];
    const char *envp[EXEC_VECTOR_MAX + 1];
    int argc, envc;
    size_t used;
    char strings[EXEC_ARG_BYTES];
};

/* Copies a user NULL-terminated vector of strings into a (kernel) exec_args. */
static int copy_vector(struct exec_args *a, uint64_t uvec, const char **out, int *count) {
    *count = 0;
    if (!uvec) {
        out[0] = NULL;
        return 0;
    }
    for (int i = 0;; i++) {
        uint64_t up;
        if (get_user_u64(&up, (const void *)(uintptr_t)(uvec + (uint64_t)i * 8))) return -KEFAULT;
        if (!up) break;
        if (i >= EXEC_VECTOR_MAX) return -KE2BIG;
        size_t room = EXEC_ARG_BYTES - a->used;
        if (room == 0) return -KE2BIG;
        int64_t n = strncpy_from_user(a->strings + a->used, (const char *)(uintptr_t)up, room);
        if (n == -KENAMETOOLONG) return -KE2BIG;
        if (n < 0) return (int)n;
        out[i] = a->strings + a->used;
        a->used += (size_t)n + 1;
        *count = i + 1;
    }
    out[*count] = NULL;
    return 0;
}

/* The last component of a path, for the process name. */
static const char *base_name(const char *path) {
    const char *b = path;
    for (const char *s = path; *s; s++)
        if (*s == '/' && s[1]) b = s + 1;
    return b;
}

/* Opens path as an executable and builds its image. */
static int load_image(const struct vfs_ctx *ctx, const char *path, const struct exec_args *a,
                      struct exec_image *img) {
    struct vfs_file *f;
    int r = vfs_open(ctx, path, O_RDONLY, 0, &f);
    if (r < 0) return r;
    struct vfs_stat st;
    r = vfs_fstat(f, &st);
    if (r == 0 && VFS_ISDIR(st.mode)) r = -KEACCES;
    if (r == 0) r = exec_image_build(f, path, a->argv, a->argc, a->envp, a->envc, img);
    vfs_close(f);
    return r;
}

/* Ends every other thread of the caller's process and waits until they are gone. 0, or
 * -KEINTR when the caller itself is killed meanwhile (another thread's exit_group, execve or
 * a SIGKILL), in which case the exec is abandoned. */
static int kill_other_threads(struct process *p, struct uthread *me) {
    struct task *self = task_current();
    for (;;) {
        if (self->killed || p->exiting) return -KEINTR;
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        int others = 0;
        for (struct uthread *u = p->threads; u; u = u->next_thread) {
            if (u == me || !u->task) continue;
            others++;
            u->task->killed = true;
            sched_wake(u->task);
        }
        spin_unlock_irqrestore(&proc_lock, fl);
        if (!others) return 0;
        task_sleep_ns(1000000);
    }
}

SYSCALL(SYS_execve, execve) {
    struct process *p = proc_current();
    struct uthread *ut = uthread_current();
    struct exec_args *a = kmalloc(sizeof(*a));
    if (!a) return -KENOMEM;
    a->used = 0;
    int64_t n = strncpy_from_user(a->path, (const char *)(uintptr_t)a0, sizeof a->path);
    int r = n < 0 ? (int)n : 0;
    if (r == 0 && n == 0) r = -KENOENT;
    if (r == 0) r = copy_vector(a, a1, a->argv, &a->argc);
    if (r == 0) r = copy_vector(a, a2, a->envp, &a->envc);
    struct exec_image img;
    if (r == 0) r = load_image(&p->fs, a->path, a, &img);
    if (r < 0) {
        kfree(a);
        return r;
    }
    if (p->nthreads > 1 && kill_other_threads(p, ut) < 0) {
        uvm_put(img.vm);
        return -KEINTR;
    }
    /* The point of no return. */
    struct uvm *old = p->vm;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    p->vm = img.vm;
    uvm_activate(img.vm);
    spin_unlock_irqrestore(&proc_lock, fl);
    uvm_put(old);
    strlcpy(p->name, base_name(a->path), sizeof p->name);
    kfree(a);
    fd_table_close_on_exec(p->fds);
    signal_reset_on_exec(p);
    p->did_exec = true;
    ut->fs_base = 0;
    wrmsr(MSR_FS_BASE, 0);
    ut->clear_child_tid = 0;
    sched_fpu_reset_current();
    struct uthread *w = ut->vfork_waiter;
    if (w) {
        ut->vfork_waiter = NULL;
        w->vfork_pending = false;
        sched_wake(w->task);
    }
    proc_initial_frame(syscall_user_frame(), img.entry, img.sp);
    return 0;
}

/* ---- started by the kernel ---- */

int proc_spawn(const char *path, const char *const argv[], const char *const envp[], struct vfs_file *stdio[3]) {
    struct exec_args *a = kmalloc(sizeof(*a));
    if (!a) return -KENOMEM;
    a->argc = a->envc = 0;
    a->used = 0;
    for (; argv && argv[a->argc] && a->argc < EXEC_VECTOR_MAX; a->argc++) a->argv[a->argc] = argv[a->argc];
    a->argv[a->argc] = NULL;
    for (; envp && envp[a->envc] && a->envc < EXEC_VECTOR_MAX; a->envc++) a->envp[a->envc] = envp[a->envc];
    a->envp[a->envc] = NULL;
    struct exec_image img;
    int r = load_image(NULL, path, a, &img);
    kfree(a);
    if (r < 0) return r;
    struct process *p = proc_alloc();
    if (!p) {
        uvm_put(img.vm);
        return -KEAGAIN;
    }
    p->vm = img.vm;
    p->fds = fd_table_create();
    struct uthread *ut = p->fds ? uthread_alloc(p, p->pid) : NULL;
    if (!ut) {
        if (p->fds) fd_table_put(p->fds);
        uvm_put(p->vm);
        proc_free(p);
        return -KENOMEM;
    }
    strlcpy(p->name, base_name(path), sizeof p->name);
    for (int i = 0; i < 3; i++) {
        struct vfs_file *f = stdio ? stdio[i] : NULL;
        if (!f && vfs_open(NULL, "/dev/null", O_RDWR, 0, &f) < 0) f = NULL;
        else if (f) f = vfs_file_get(f);
        p->fds->files[i] = f;
    }
    proc_link_child(NULL, p);
    struct irq_frame frame;
    proc_initial_frame(&frame, img.entry, img.sp);
    pid_k pid = p->pid;
    if (task_create_user(p->name, &frame, ut) < 0) {
        uthread_unlink(ut);
        kfree(ut);
        fd_table_put(p->fds);
        uvm_put(p->vm);
        proc_free(p);
        return -KENOMEM;
    }
    return pid;
}

int proc_spawn_init(const char *path, const char *const argv[]) {
    static const char *const envp[] = {"PATH=/bin:/sbin", "HOME=/", "TERM=vt100", NULL};
    struct vfs_file *con = NULL;
    int r = tty_open_console(O_RDWR, &con);
    if (r < 0) return r;
    struct vfs_file *stdio[3] = {con, con, con};
    r = proc_spawn(path, argv, envp, stdio);
    vfs_close(con);
    if (r < 0) return r;
    struct process *p = proc_find(r);
    /* pid 1: proc_spawn handed out the first pid, since nothing ran before. */
    init_process = p;
    return r;
}
