/* exit.c: thread and process exit, zombies, reaping and re-parenting.
 *
 * POSIX.1-2017 XSH _exit (consequences of process termination: descriptors closed, children
 * re-parented to an implementation-defined process (init, pid 1), SIGCHLD to the parent,
 * status available to wait), XSH wait/waitpid/waitid, and Linux's wait4(2) with its W*
 * status encoding and options WNOHANG 1, WUNTRACED 2, WCONTINUED 8 (waitid: WEXITED 4,
 * WSTOPPED 2, WNOWAIT 0x01000000). */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "sched.h"
#include "kstring.h"
#include "printk.h"
#include "mm.h"
#include "cpu.h"
#include "ipc.h"
#include "futex.h"
#include "tty.h"

#define WNOHANG 1
#define WUNTRACED 2
#define WSTOPPED_W 2
#define WEXITED 4
#define WCONTINUED 8
#define WNOWAIT 0x01000000
#define P_ALL 0
#define P_PID 1
#define P_PGID 2
#define CLD_EXITED 1
#define CLD_KILLED 2
#define CLD_DUMPED 3
#define CLD_STOPPED 5
#define CLD_CONTINUED 6


void proc_notify_parent(struct process *p, int sig) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    struct process *parent = p->parent;
    pid_k ppid = 0;
    if (parent) {
        parent->child_events++;
        wake_up_all(&parent->child_wq);
        /* SA_NOCLDSTOP: no SIGCHLD for stops and continues. */
        if (sig && !(p->state == PROC_ALIVE && (parent->sigactions[SIGCHLD - 1].flags & SA_NOCLDSTOP)))
            ppid = parent->pid;
    } else {
        wake_up_all(&kernel_child_wq);
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    /* By pid: the parent may be gone by now, and then nobody is signalled. */
    if (ppid) proc_signal_pid(ppid, sig);
}

/* Releases what a dead process holds (its last thread calls this). */
static void release_resources(struct process *p) {
    itimer_stop(p);
    /* A controlling process ends: its terminal hangs up and is free for a new session. */
    if (p->sid == p->pid && p->ctty) tty_session_leader_exit(p);
    struct fd_table *fds = p->fds;
    p->fds = NULL;
    if (fds) fd_table_put(fds);
    if (p->fs.cwd) vnode_put(p->fs.cwd);
    if (p->fs.root) vnode_put(p->fs.root);
    p->fs.cwd = p->fs.root = NULL;
    struct uvm *vm = p->vm;
    uint64_t fl = spin_lock_irqsave(&proc_lock); /* procfs takes vm references under it */
    p->vm = NULL;          /* the scheduler hook loads the kernel's tables from now on */
    uvm_activate(NULL);
    spin_unlock_irqrestore(&proc_lock, fl);
    if (vm) uvm_put(vm);
    ipc_process_exit(p->pid);
}

/* Gives p's children to init (or to nobody: the kernel reaps), waking the new parent when a
 * zombie arrives (proc_lock held). */
static void reparent_children(struct process *p) {
    struct process *heir = init_process && init_process != p ? init_process : NULL;
    bool zombies = false;
    while (p->children) {
        struct process *c = p->children;
        p->children = c->next_sibling;
        c->parent = heir;
        if (heir) {
            c->next_sibling = heir->children;
            heir->children = c;
        } else {
            c->next_sibling = NULL;
        }
        if (c->state == PROC_ZOMBIE) zombies = true;
    }
    if (zombies) {
        if (heir) {
            heir->child_events++;
            wake_up_all(&heir->child_wq);
        } else {
            wake_up_all(&kernel_child_wq);
        }
    }
}

/* Whether the parent asked not to keep zombies (SIGCHLD ignored or SA_NOCLDWAIT). */
static bool autoreap(struct process *p) {
    struct process *parent = p->parent;
    if (!parent) return false;
    struct k_sigaction *a = &parent->sigactions[SIGCHLD - 1];
    return a->handler == 1 || (a->flags & SA_NOCLDWAIT);
}

static void wake_vfork_parent(struct uthread *ut) {
    struct uthread *w = ut->vfork_waiter;
    if (!w) return;
    ut->vfork_waiter = NULL;
    w->vfork_pending = false;
    sched_wake(w->task);
}

NORETURN void uthread_exit(void) {
    struct task *t = task_current();
    struct uthread *ut = t->ut;
    struct process *p = ut->proc;
    /* set_tid_address / CLONE_CHILD_CLEARTID: 0 there and a futex wake (pthread_join). */
    if (ut->clear_child_tid && p->vm) {
        uint32_t zero = 0;
        if (copy_to_user((void *)(uintptr_t)ut->clear_child_tid, &zero, 4) == 0)
            futex_wake(p->vm, ut->clear_child_tid, 1);
    }
    wake_vfork_parent(ut);
    p->utime_ns += t->cpu_time_ns;
    int left = uthread_unlink(ut);
    if (left == 0) {
        if (!p->exiting) p->exit_status = 0;
        release_resources(p);
        if (p == init_process)
            printk(LOG_ERR, "init (pid 1) exited with status %#x: no process reaps orphans now\n", p->exit_status);
        /* Publish the zombie in one step under proc_lock: from the moment the lock drops, the
         * parent (or the kernel's waiter) may reap and free p, so p is not touched after it,
         * except to free it ourselves when nobody will wait for it. */
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        reparent_children(p);
        struct process *parent = p->parent;
        bool reap = autoreap(p);
        if (reap) {
            for (struct process **pp = &parent->children; *pp; pp = &(*pp)->next_sibling) {
                if (*pp == p) {
                    *pp = p->next_sibling;
                    break;
                }
            }
            p->parent = NULL;
        }
        p->state = PROC_ZOMBIE;
        pid_k ppid = parent ? parent->pid : 0;
        int sig = p->exit_signal;
        if (parent) {
            parent->child_events++;
            wake_up_all(&parent->child_wq);
        } else {
            wake_up_all(&kernel_child_wq);
        }
        spin_unlock_irqrestore(&proc_lock, fl);
        if (ppid && sig) proc_signal_pid(ppid, sig);
        if (reap) proc_free(p);
    }
    uint64_t fl = irq_save();
    t->ut = NULL;
    t->sigpending = false;
    irq_restore(fl);
    kfree(ut);
    task_exit(0);
}

NORETURN void proc_exit_group(int wait_status) {
    struct uthread *self = uthread_current();
    struct process *p = self->proc;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    if (!p->exiting) {
        p->exiting = true;
        p->exit_status = wait_status;
        for (struct uthread *u = p->threads; u; u = u->next_thread) {
            if (u == self || !u->task) continue;
            u->task->killed = true;
            sched_wake(u->task);
        }
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    uthread_exit();
}

SYSCALL(SYS_exit, exit) {
    struct process *p = proc_current();
    if (p->nthreads == 1) proc_exit_group(W_EXITCODE((int)a0, 0));
    uthread_exit();
}

SYSCALL(SYS_exit_group, exit_group) { proc_exit_group(W_EXITCODE((int)a0, 0)); }

/* Does child c match wait4's pid argument for the caller p? */
static bool matches(const struct process *p, const struct process *c, int32_t pid) {
    if (pid > 0) return c->pid == pid;
    if (pid == 0) return c->pgid == p->pgid;
    if (pid < -1) return c->pgid == -pid;
    return true;
}

struct wait_result {
    pid_k pid;
    int status;      /* W* encoding */
    int code;        /* CLD_* for waitid */
    int si_status;
    uint64_t utime_ns;
};

/* One scan of p's children (proc_lock held). Returns 1 with *r filled (and a zombie taken out
 * of the tree into *reap unless WNOWAIT), 0 when children match but none changed, -KECHILD
 * when none match. */
static int scan_children(struct process *p, int32_t pid, int options, struct wait_result *r,
                         struct process **reap) {
    bool any = false;
    for (struct process **pp = &p->children; *pp; pp = &(*pp)->next_sibling) {
        struct process *c = *pp;
        if (!matches(p, c, pid)) continue;
        any = true;
        if (c->state == PROC_ZOMBIE && (options & WEXITED)) {
            r->pid = c->pid;
            r->status = c->exit_status;
            int sig = c->exit_status & 0x7f;
            r->code = sig ? ((c->exit_status & W_CORE) ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED;
            r->si_status = sig ? sig : (c->exit_status >> 8) & 0xff;
            r->utime_ns = c->utime_ns;
            if (!(options & WNOWAIT)) {
                *pp = c->next_sibling;
                c->parent = NULL;
                *reap = c;
            }
            return 1;
        }
        if (c->state == PROC_ALIVE && c->stopped && !c->stop_reported && (options & WSTOPPED_W)) {
            if (!(options & WNOWAIT)) c->stop_reported = true;
            r->pid = c->pid;
            r->status = W_STOPCODE(c->stop_sig);
            r->code = CLD_STOPPED;
            r->si_status = c->stop_sig;
            return 1;
        }
        if (c->state == PROC_ALIVE && !c->stopped && !c->cont_reported && (options & WCONTINUED)) {
            if (!(options & WNOWAIT)) c->cont_reported = true;
            r->pid = c->pid;
            r->status = 0xffff;
            r->code = CLD_CONTINUED;
            r->si_status = SIGCONT;
            return 1;
        }
    }
    return any ? 0 : -KECHILD;
}

/* The common wait loop: 1 (a result), 0 (WNOHANG, nothing yet), -KECHILD, -KEINTR. */
static int do_wait(int32_t pid, int options, struct wait_result *r) {
    struct process *p = proc_current();
    for (;;) {
        uint32_t seen = p->child_events;
        struct process *reap = NULL;
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        int s = scan_children(p, pid, options, r, &reap);
        spin_unlock_irqrestore(&proc_lock, fl);
        if (reap) {
            p->utime_ns += reap->utime_ns;
            proc_free(reap);
        }
        if (s != 0) return s;
        if (options & WNOHANG) return 0;
        int w = wait_event_timeout(&p->child_wq, p->child_events != seen, WAIT_FOREVER);
        if (w < 0) return w;
    }
}

SYSCALL(SYS_wait4, wait4) {
    int options = (int)a2;
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | 0x40000000 | 0x80000000 | 0x20000000)) return -KEINVAL;
    struct wait_result r;
    int s = do_wait((int32_t)a0, (options & (WNOHANG | WCONTINUED)) | WEXITED | ((options & WUNTRACED) ? WSTOPPED_W : 0), &r);
    if (s <= 0) return s;
    if (a1 && copy_to_user((void *)(uintptr_t)a1, &r.status, 4)) return -KEFAULT;
    if (a3) {
        uint64_t ru[18] = {0}; /* struct rusage: utime and stime timevals first */
        ru[0] = r.utime_ns / 1000000000ull;
        ru[1] = (r.utime_ns / 1000) % 1000000;
        if (copy_to_user((void *)(uintptr_t)a3, ru, sizeof ru)) return -KEFAULT;
    }
    return r.pid;
}

SYSCALL(SYS_waitid, waitid) {
    int idtype = (int)a0;
    int32_t id = (int32_t)a1, pid;
    int options = (int)a3;
    if (idtype == P_ALL) pid = -1;
    else if (idtype == P_PID) pid = id > 0 ? id : -1;
    else if (idtype == P_PGID) pid = id > 0 ? -id : 0;
    else return -KEINVAL;
    if (idtype == P_PID && id <= 0) return -KEINVAL;
    if (!(options & (WEXITED | WSTOPPED_W | WCONTINUED))) return -KEINVAL;
    if (options & ~(WNOHANG | WSTOPPED_W | WEXITED | WCONTINUED | WNOWAIT)) return -KEINVAL;
    struct wait_result r;
    memset(&r, 0, sizeof r);
    int s = do_wait(pid, options, &r);
    if (s < 0) return s;
    if (a2) {
        int32_t info[32] = {0}; /* siginfo_t: signo, errno, code, pad, pid, uid, status */
        if (s == 1) {
            info[0] = SIGCHLD;
            info[2] = r.code;
            info[4] = r.pid;
            info[6] = r.si_status;
        }
        if (copy_to_user((void *)(uintptr_t)a2, info, sizeof info)) return -KEFAULT;
    }
    return 0;
}

int proc_wait_spawned(pid_k pid, int *status, uint64_t timeout_ns) {
    struct process *p = proc_find(pid);
    if (!p || p->parent) return -KECHILD;
    int w = wait_event_timeout(&kernel_child_wq, p->state == PROC_ZOMBIE, timeout_ns);
    if (w < 0) return w;
    if (w == 0) return -KETIMEDOUT;
    if (status) *status = p->exit_status;
    proc_free(p);
    return 0;
}
