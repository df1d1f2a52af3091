/* proc.c: the process table, pids, process groups and sessions, and switching to user threads.
 *
 * POSIX.1-2017 XBD 3.296 (process group), 3.343 (session), XSH setpgid/setsid/getsid, with
 * Linux numbers. One spinlock (proc_lock) protects the process list, the tree (parent,
 * children, siblings), pids, process groups, sessions and process states. It is never held
 * while sleeping or copying user memory. */
#include "proc.h"
#include "uvm.h"
#include "uaccess.h"
#include "sched.h"
#include "syscall.h"
#include "kstring.h"
#include "printk.h"
#include "mm.h"
#include "cpu.h"
#include "time.h"
#include "proc_internal.h"
#include "ipc.h"

#define PID_LIMIT 32768
#define MSR_FS_BASE 0xc0000100

spinlock_t proc_lock = SPINLOCK_INIT("proc");
static struct process *all_procs;
static int nprocs;
static pid_k last_pid;
struct process *init_process;                 /* pid 1 once it runs */
struct wait_queue kernel_child_wq = WAIT_QUEUE_INIT("kernel_child"); /* parentless exits */

struct process *proc_current(void) {
    struct uthread *ut = task_current()->ut;
    return ut ? ut->proc : NULL;
}

struct uthread *uthread_current(void) { return task_current()->ut; }

const struct vfs_ctx *proc_vfs_ctx(void) {
    struct process *p = proc_current();
    return p ? &p->fs : NULL;
}

/* With proc_lock held. */
static struct process *find_locked(pid_k pid) {
    for (struct process *p = all_procs; p; p = p->all_next)
        if (p->pid == pid) return p;
    return NULL;
}

struct process *proc_find(pid_k pid) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    struct process *p = find_locked(pid);
    spin_unlock_irqrestore(&proc_lock, fl);
    return p;
}

void proc_for_each(void (*fn)(const struct process *p, void *ctx), void *ctx) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (struct process *p = all_procs; p; p = p->all_next) fn(p, ctx);
    spin_unlock_irqrestore(&proc_lock, fl);
}

int proc_count(void) { return nprocs; }

struct process *proc_first_locked(void) { return all_procs; }

/* True when pid is used by a process, a process group, a session or a thread (proc_lock held). */
static bool pid_in_use(pid_k pid) {
    for (struct process *p = all_procs; p; p = p->all_next) {
        if (p->pid == pid || p->pgid == pid || p->sid == pid) return true;
        for (struct uthread *u = p->threads; u; u = u->next_thread)
            if (u->tid == pid) return true;
    }
    return false;
}

/* Hands out the next free id for a process or thread (proc_lock held); 0 when none. */
pid_k proc_alloc_pid_locked(void) {
    for (int tries = 0; tries < PID_LIMIT; tries++) {
        pid_k pid = last_pid + 1;
        if (pid >= PID_LIMIT) pid = 2; /* 1 is init's forever */
        last_pid = pid;
        if (!pid_in_use(pid)) return pid;
    }
    return 0;
}

bool proc_pgrp_exists(pid_k pgid, pid_k sid) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    bool found = false;
    for (struct process *p = all_procs; p && !found; p = p->all_next)
        found = p->pgid == pgid && p->sid == sid && p->state == PROC_ALIVE;
    spin_unlock_irqrestore(&proc_lock, fl);
    return found;
}

/* Allocates a process with one reference-free struct: pid assigned, listed, no threads.
 * Returns NULL (-KEAGAIN) at PROC_MAX or when memory is short. */
struct process *proc_alloc(void) {
    struct process *p = kzalloc(sizeof(*p));
    if (!p) return NULL;
    wait_queue_init(&p->child_wq, "child");
    wait_queue_init(&p->stop_wq, "stop");
    p->umask = 022;
    p->rlimit_nofile = FD_MAX;
    p->start_ns = time_ns();
    p->exit_signal = SIGCHLD;
    p->cont_reported = true; /* nothing to report to wait4(WCONTINUED) until a SIGCONT */
    strlcpy(p->cwd_path, "/", sizeof p->cwd_path);
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    pid_k pid = nprocs < PROC_MAX ? proc_alloc_pid_locked() : 0;
    if (!pid) {
        spin_unlock_irqrestore(&proc_lock, fl);
        kfree(p);
        return NULL;
    }
    p->pid = p->pgid = p->sid = pid;
    p->all_next = all_procs;
    all_procs = p;
    nprocs++;
    spin_unlock_irqrestore(&proc_lock, fl);
    return p;
}

/* Takes a process out of the table and frees it (a reaped zombie, or a process that never
 * ran). Its resources were released already. */
void proc_free(struct process *p) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (struct process **pp = &all_procs; *pp; pp = &(*pp)->all_next) {
        if (*pp == p) {
            *pp = p->all_next;
            nprocs--;
            break;
        }
    }
    if (p->parent) {
        for (struct process **pp = &p->parent->children; *pp; pp = &(*pp)->next_sibling) {
            if (*pp == p) {
                *pp = p->next_sibling;
                break;
            }
        }
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    kfree(p);
}

/* Links child under parent (NULL: a kernel-spawned process nobody but the kernel waits for). */
void proc_link_child(struct process *parent, struct process *child) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    child->parent = parent;
    if (parent) {
        child->next_sibling = parent->children;
        parent->children = child;
    }
    spin_unlock_irqrestore(&proc_lock, fl);
}

/* A new thread of p (not yet running): tid assigned and linked into p's thread list. */
struct uthread *uthread_alloc(struct process *p, pid_k tid) {
    struct uthread *ut = kzalloc(sizeof(*ut));
    if (!ut) return NULL;
    ut->proc = p;
    ut->syscall_nr = -1;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    ut->tid = tid ? tid : proc_alloc_pid_locked();
    if (!ut->tid) {
        spin_unlock_irqrestore(&proc_lock, fl);
        kfree(ut);
        return NULL;
    }
    ut->next_thread = p->threads;
    p->threads = ut;
    p->nthreads++;
    spin_unlock_irqrestore(&proc_lock, fl);
    return ut;
}

/* Unlinks a thread from its process; returns the number of threads left. */
int uthread_unlink(struct uthread *ut) {
    struct process *p = ut->proc;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (struct uthread **pp = &p->threads; *pp; pp = &(*pp)->next_thread) {
        if (*pp == ut) {
            *pp = ut->next_thread;
            p->nthreads--;
            break;
        }
    }
    int left = p->nthreads;
    spin_unlock_irqrestore(&proc_lock, fl);
    return left;
}

void proc_switch_to(struct task *next) {
    struct uthread *ut = next->ut;
    uvm_activate(ut->proc->vm);
    sched_set_user_entry_stack(next->stack_base + KSTACK_SIZE);
    wrmsr(MSR_FS_BASE, ut->fs_base);
}

/* The frame a brand-new user thread starts from: entry point and stack, every register 0. */
void proc_initial_frame(struct irq_frame *f, uint64_t entry, uint64_t sp) {
    memset(f, 0, sizeof(*f));
    f->rip = entry;
    f->rsp = sp;
    f->cs = 0x23;
    f->ss = 0x1b;
    f->rflags = 0x202;
    f->vector = 256;
}

/* ---- self-test support ---- */

int proc_test_enter(void) {
    struct task *t = task_current();
    if (t->ut) return -KEINVAL;
    struct process *p = proc_alloc();
    if (!p) return -KENOMEM;
    strlcpy(p->name, "selftest", sizeof p->name);
    p->fds = fd_table_create();
    p->vm = uvm_create();
    struct uthread *ut = p->fds && p->vm ? uthread_alloc(p, p->pid) : NULL;
    if (!ut) {
        if (p->vm) uvm_put(p->vm);
        if (p->fds) fd_table_put(p->fds);
        proc_free(p);
        return -KENOMEM;
    }
    ut->task = t;
    uint64_t fl = irq_save();
    t->ut = ut;
    uvm_activate(p->vm);
    irq_restore(fl);
    return 0;
}

void proc_test_leave(void) {
    struct task *t = task_current();
    struct uthread *ut = t->ut;
    if (!ut) return;
    struct process *p = ut->proc;
    uint64_t fl = irq_save();
    t->ut = NULL;
    t->sigpending = false;
    irq_restore(fl);
    uthread_unlink(ut);
    kfree(ut);
    ipc_process_exit(p->pid);
    fd_table_put(p->fds);
    if (p->fs.cwd) vnode_put(p->fs.cwd);
    if (p->fs.root) vnode_put(p->fs.root);
    struct uvm *vm = p->vm;
    p->vm = NULL;
    uvm_activate(NULL);
    uvm_put(vm);
    proc_free(p);
}

extern NORETURN void user_enter_frame(struct irq_frame *f); /* syscall.S */

NORETURN void proc_enter_user(struct irq_frame *f) {
    cli();
    /* A signal sent to the process while this thread was being created is taken now. */
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    signal_recalc(task_current());
    spin_unlock_irqrestore(&proc_lock, fl);
    proc_return_to_user(f);
    user_enter_frame(f);
}
