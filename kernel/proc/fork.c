/* fork.c: fork, vfork and clone (POSIX.1-2017 XSH fork; Linux clone(2) for the flags musl
 * uses: posix_spawn's CLONE_VM|CLONE_VFORK and pthread_create's CLONE_VM|CLONE_FS|CLONE_FILES|
 * CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|
 * CLONE_CHILD_CLEARTID|CLONE_DETACHED).
 *
 * x86-64 argument order: clone(flags, newsp, parent_tid, child_tid, tls). The child returns 0
 * from the call with the parent's registers otherwise (and newsp as its stack if given). A new
 * process gets a copy-on-write copy of the address space (uvm_fork) unless CLONE_VM shares it,
 * a copy of the descriptor table unless CLONE_FILES shares it, the cwd, umask, signal
 * dispositions and mask. The child starts with a fresh FPU state. */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "sched.h"
#include "kstring.h"
#include "printk.h"
#include "mm.h"

void sched_set_sleeping(void); /* sched.c */
void sched_set_running(void);

#define CLONE_VM 0x00000100ull
#define CLONE_FS 0x00000200ull
#define CLONE_FILES 0x00000400ull
#define CLONE_SIGHAND 0x00000800ull
#define CLONE_PIDFD 0x00001000ull
#define CLONE_PTRACE 0x00002000ull
#define CLONE_VFORK 0x00004000ull
#define CLONE_PARENT 0x00008000ull
#define CLONE_THREAD 0x00010000ull
#define CLONE_NEWNS 0x00020000ull
#define CLONE_SYSVSEM 0x00040000ull
#define CLONE_SETTLS 0x00080000ull
#define CLONE_PARENT_SETTID 0x00100000ull
#define CLONE_CHILD_CLEARTID 0x00200000ull
#define CLONE_DETACHED 0x00400000ull
#define CLONE_UNTRACED 0x00800000ull
#define CLONE_CHILD_SETTID 0x01000000ull
#define CLONE_SUPPORTED (0xffull | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_VFORK | \
                         CLONE_PARENT | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |                \
                         CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_DETACHED |               \
                         CLONE_UNTRACED | CLONE_CHILD_SETTID)

/* A new process sharing or copying the caller's resources; NULL with *err set. */
static struct process *copy_process(struct process *parent, uint64_t flags, int *err) {
    struct process *c = proc_alloc();
    if (!c) {
        *err = -KEAGAIN;
        return NULL;
    }
    *err = -KENOMEM;
    if (flags & CLONE_VM) {
        uvm_get(parent->vm);
        c->vm = parent->vm;
    } else {
        c->vm = uvm_fork(parent->vm);
    }
    if (flags & CLONE_FILES) {
        fd_table_get(parent->fds);
        c->fds = parent->fds;
    } else {
        c->fds = fd_table_copy(parent->fds);
    }
    if (!c->vm || !c->fds) {
        if (c->vm) uvm_put(c->vm);
        if (c->fds) fd_table_put(c->fds);
        proc_free(c);
        return NULL;
    }
    c->fs = parent->fs;
    if (c->fs.cwd) vnode_get(c->fs.cwd);
    if (c->fs.root) vnode_get(c->fs.root);
    memcpy(c->cwd_path, parent->cwd_path, sizeof c->cwd_path);
    memcpy(c->name, parent->name, sizeof c->name);
    c->umask = parent->umask;
    c->rlimit_nofile = parent->rlimit_nofile;
    memcpy(c->sigactions, parent->sigactions, sizeof c->sigactions);
    c->exit_signal = (int)(flags & 0xff);
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    c->pgid = parent->pgid;
    c->sid = parent->sid;
    c->ctty = parent->ctty;
    spin_unlock_irqrestore(&proc_lock, fl);
    proc_link_child((flags & CLONE_PARENT) && parent->parent ? parent->parent : parent, c);
    return c;
}

/* Undoes copy_process for a child that never ran. */
static void discard_process(struct process *c) {
    fd_table_put(c->fds);
    if (c->fs.cwd) vnode_put(c->fs.cwd);
    if (c->fs.root) vnode_put(c->fs.root);
    uvm_put(c->vm);
    proc_free(c);
}

static int64_t do_clone(uint64_t flags, uint64_t newsp, uint64_t parent_tid, uint64_t child_tid, uint64_t tls) {
    struct process *self = proc_current();
    struct uthread *me = uthread_current();
    if (flags & ~CLONE_SUPPORTED) return -KEINVAL;
    if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return -KEINVAL;
    if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return -KEINVAL;
    /* The TLS base goes into MSR_FS_BASE at every switch: a non-canonical one would fault in
     * the scheduler (arch_prctl refuses it the same way). */
    if ((flags & CLONE_SETTLS) && tls >= USER_TOP) return -KEPERM;
    if ((flags & CLONE_THREAD) && (flags & CLONE_VFORK)) return -KEINVAL;
    struct irq_frame child_frame = *syscall_user_frame();
    child_frame.rax = 0;
    if (newsp) child_frame.rsp = newsp;
    struct process *target;
    struct uthread *ut;
    if (flags & CLONE_THREAD) {
        if (self->nthreads >= PROC_THREADS_MAX) return -KEAGAIN;
        target = self;
        ut = uthread_alloc(self, 0);
        if (!ut) return -KEAGAIN;
    } else {
        int err;
        target = copy_process(self, flags, &err);
        if (!target) return err;
        ut = uthread_alloc(target, target->pid);
        if (!ut) {
            discard_process(target);
            return -KENOMEM;
        }
    }
    ut->sig_blocked = me->sig_blocked;
    if (!(flags & CLONE_VM) || !(flags & CLONE_THREAD)) {
        /* fork keeps the alternate signal stack (sigaltstack(2)); a new thread starts without. */
        ut->altstack_sp = me->altstack_sp;
        ut->altstack_size = me->altstack_size;
    }
    ut->fs_base = (flags & CLONE_SETTLS) ? tls : me->fs_base;
    if (flags & CLONE_CHILD_CLEARTID) ut->clear_child_tid = child_tid;
    pid_k tid = ut->tid;
    if ((flags & CLONE_PARENT_SETTID) && put_user_u32((void *)(uintptr_t)parent_tid, (uint32_t)tid)) {
        /* Linux writes it before the child runs and ignores failure; we report -EFAULT
         * before anything is started. */
        uthread_unlink(ut);
        kfree(ut);
        if (target != self) discard_process(target);
        return -KEFAULT;
    }
    if (flags & CLONE_CHILD_SETTID) {
        /* In the child's memory: the same as ours when CLONE_VM, else the COW copy. */
        if (flags & CLONE_VM) put_user_u32((void *)(uintptr_t)child_tid, (uint32_t)tid);
        else uvm_write(target->vm, child_tid, &tid, sizeof tid);
    }
    bool vfork = (flags & CLONE_VFORK) != 0;
    if (vfork) {
        ut->vfork_waiter = me;
        me->vfork_pending = true;
    }
    if (task_create_user(target->name, &child_frame, ut) < 0) {
        me->vfork_pending = false;
        uthread_unlink(ut);
        kfree(ut);
        if (target != self) discard_process(target);
        return -KENOMEM;
    }
    if (vfork) {
        /* Until the child execs or exits it runs on our memory and stack (vfork(2)). */
        /* A kill (SIGKILL, exit_group, execve in another thread) ends the wait; the child
         * keeps its own reference to the address space. */
        struct task *self = task_current();
        while (me->vfork_pending && !self->killed) {
            sched_set_sleeping();
            if (me->vfork_pending && !self->killed) schedule();
            else sched_set_running();
        }
    }
    return tid;
}

SYSCALL(SYS_clone, clone) { return do_clone(a0, a1, a2, a3, a4); }
SYSCALL(SYS_fork, fork) { return do_clone(SIGCHLD, 0, 0, 0, 0); }
SYSCALL(SYS_vfork, vfork) { return do_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0); }
