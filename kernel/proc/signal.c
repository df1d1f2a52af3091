/* signal.c: POSIX signals with Linux's numbers, structures and frame layout.
 *
 * POSIX.1-2017 XSH 2.4 (signal concepts: generation, delivery, masks, default actions), the
 * Linux man pages signal(7), rt_sigaction(2), rt_sigprocmask(2), sigaltstack(2), and the
 * x86-64 signal frame Linux builds (struct rt_sigframe: restorer address, ucontext with the
 * sigcontext register order musl's ucontext_t uses, siginfo_t, FXSAVE area).
 *
 * Signals are process-directed (kill: p->sig_pending, taken by any thread that does not block
 * them) or thread-directed (tgkill, faults: ut->sig_pending). Posting one sets the chosen
 * thread's task->sigpending and wakes it, so its interruptible waits return -KEINTR. Delivery
 * happens on the way back to user mode (signal_deliver): default actions (terminate, stop,
 * ignore) or a handler frame on the user stack; interrupted system calls are restarted when
 * the handler has SA_RESTART (or no handler ran) and the call allows it. */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "sched.h"
#include "kstring.h"
#include "printk.h"
#include "cpu.h"

#define SIG_DFL_K 0
#define SIG_IGN_K 1
#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define MINSIGSTKSZ 2048
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
#define SI_USER 0
#define SI_TKILL (-6)

bool syscall_restartable(int64_t nr); /* syscall.c */

enum dfl { DFL_TERM, DFL_CORE, DFL_IGNORE, DFL_STOP };

static enum dfl default_action(int sig) {
    switch (sig) {
    case SIGCHLD: case SIGCONT: case 23 /* SIGURG */: case SIGWINCH: return DFL_IGNORE;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return DFL_STOP;
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case 24 /* SIGXCPU */: case 25 /* SIGXFSZ */: case SIGSYS: return DFL_CORE;
    default: return DFL_TERM;
    }
}

static const char *const sig_names[32] = {
    "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
    "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"};

/* Name of a signal number ("SIGSEGV"), or "SIGRT" for real-time ones. */
const char *signal_name(int sig) { return sig > 0 && sig < 32 ? sig_names[sig] : "SIGRT"; }

/* Is sig discarded at generation: ignored explicitly or by default (proc_lock held)? */
static bool ignored(struct process *p, int sig) {
    uint64_t h = p->sigactions[sig - 1].handler;
    if (sig == SIGKILL || sig == SIGSTOP) return false;
    return h == SIG_IGN_K || (h == SIG_DFL_K && default_action(sig) == DFL_IGNORE);
}

/* Recomputes whether t has something to take (proc_lock held or interrupts off). */
void signal_recalc(struct task *t) {
    struct uthread *ut = t->ut;
    if (!ut) return;
    uint64_t pend = (ut->sig_pending | ut->proc->sig_pending) & ~(ut->sig_blocked & ~UNBLOCKABLE);
    t->sigpending = pend != 0;
}

/* Wakes a thread of p that can take sig (proc_lock held). */
static void wake_taker(struct process *p, int sig) {
    for (struct uthread *u = p->threads; u; u = u->next_thread) {
        if (!u->task) continue;
        if (sig == SIGKILL || !(u->sig_blocked & SIGBIT(sig))) {
            u->task->sigpending = true;
            sched_wake(u->task);
            if (sig != SIGKILL) return;
        }
    }
}

static void signal_locked(struct process *p, int sig);

/* SIGCONT's effect at generation: resume a stopped process (proc_lock held). */
static void continue_locked(struct process *p) {
    p->sig_pending &= ~(SIGBIT(SIGSTOP) | SIGBIT(SIGTSTP) | SIGBIT(SIGTTIN) | SIGBIT(SIGTTOU));
    if (p->stopped) {
        p->stopped = false;
        p->cont_reported = false; /* for wait4(WCONTINUED) */
        wake_up_all(&p->stop_wq);
        struct process *parent = p->parent;
        if (parent) {
            parent->child_events++;
            wake_up_all(&parent->child_wq);
            /* SIGCHLD (CLD_CONTINUED) unless the parent asked for none with SA_NOCLDSTOP. */
            if (!(parent->sigactions[SIGCHLD - 1].flags & SA_NOCLDSTOP)) signal_locked(parent, SIGCHLD);
        }
    }
}

/* Generates sig for process p (proc_lock held). */
static void signal_locked(struct process *p, int sig) {
    if (p->state != PROC_ALIVE) return;
    /* init (pid 1) gets only the signals it has a handler for, as on Linux: nothing can take
     * down the process that reaps orphans. */
    if (p->pid == 1 && p->sigactions[sig - 1].handler <= SIG_IGN_K) return;
    if (sig == SIGCONT) continue_locked(p);
    if (default_action(sig) == DFL_STOP) p->sig_pending &= ~SIGBIT(SIGCONT);
    if (ignored(p, sig)) return;
    p->sig_pending |= SIGBIT(sig);
    if (sig == SIGKILL) {
        if (!p->exiting) {
            p->exiting = true;
            p->exit_status = SIGKILL;
        }
        for (struct uthread *u = p->threads; u; u = u->next_thread)
            if (u->task) u->task->killed = true;
        p->stopped = false;
        wake_up_all(&p->stop_wq);
    }
    wake_taker(p, sig);
}

int proc_signal(struct process *p, int sig) {
    if (sig < 0 || sig > NSIG_K) return -KEINVAL;
    if (sig == 0) return 0;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    signal_locked(p, sig);
    spin_unlock_irqrestore(&proc_lock, fl);
    return 0;
}

int proc_signal_pid(pid_k pid, int sig) {
    if (sig < 0 || sig > NSIG_K) return -KEINVAL;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    struct process *p = NULL;
    for (struct process *q = proc_first_locked(); q && !p; q = q->all_next)
        if (q->pid == pid) p = q;
    if (p && sig) signal_locked(p, sig);
    spin_unlock_irqrestore(&proc_lock, fl);
    return p ? 0 : -KESRCH;
}

int proc_signal_pgrp(pid_k pgid, int sig) {
    if (sig < 0 || sig > NSIG_K) return -KEINVAL;
    int found = 0;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (struct process *p = proc_first_locked(); p; p = p->all_next) {
        if (p->pgid != pgid || p->state != PROC_ALIVE) continue;
        found++;
        if (sig) signal_locked(p, sig);
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    return found ? 0 : -KESRCH;
}

/* Generates sig for one thread (proc_lock held). SIGKILL and SIGCONT act on the whole
 * process, as they do on Linux. */
static void thread_signal_locked(struct task *t, int sig) {
    struct process *p = t->ut->proc;
    if (sig == SIGKILL || sig == SIGCONT) {
        signal_locked(p, sig);
        return;
    }
    if (p->state != PROC_ALIVE || ignored(p, sig)) return;
    t->ut->sig_pending |= SIGBIT(sig);
    if (!(t->ut->sig_blocked & SIGBIT(sig))) {
        t->sigpending = true;
        sched_wake(t);
    }
}

int thread_signal(struct task *t, int sig) {
    if (sig < 1 || sig > NSIG_K || !t->ut) return -KEINVAL;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    thread_signal_locked(t, sig);
    spin_unlock_irqrestore(&proc_lock, fl);
    return 0;
}

bool signal_pending_task(const struct task *t) { return t->sigpending; }
bool signal_pending_current(void) { return task_current()->sigpending; }

/* Delivery of a fault signal cannot be blocked or ignored (Linux force_sig): the default
 * action comes back and the signal is unblocked. */
static void force_signal(struct task *t, int sig) {
    struct uthread *ut = t->ut;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    struct k_sigaction *a = &ut->proc->sigactions[sig - 1];
    if (a->handler == SIG_IGN_K || (ut->sig_blocked & SIGBIT(sig))) {
        a->handler = SIG_DFL_K;
        ut->sig_blocked &= ~SIGBIT(sig);
    }
    ut->sig_pending |= SIGBIT(sig);
    t->sigpending = true;
    spin_unlock_irqrestore(&proc_lock, fl);
}

void proc_user_fault(struct irq_frame *f, int sig, int si_code, uint64_t addr) {
    struct task *t = task_current();
    struct uthread *ut = t->ut;
    ut->fault_sig = sig;
    ut->fault_code = si_code;
    ut->fault_addr = addr;
    ut->fault_rip = f->rip;
    force_signal(t, sig);
}

/* ---- the frame on the user stack (Linux x86-64 struct rt_sigframe) ---- */

struct sigcontext_k {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2;
    uint64_t fpstate;
    uint64_t reserved1[8];
};
struct ucontext_k {
    uint64_t uc_flags, uc_link;
    uint64_t ss_sp;
    int32_t ss_flags, ss_pad;
    uint64_t ss_size;
    struct sigcontext_k mc;
    uint64_t uc_sigmask;
};
struct siginfo_k {
    int32_t si_signo, si_errno, si_code, pad;
    union {
        struct { int32_t pid; uint32_t uid; int32_t status; int32_t pad; int64_t utime, stime; } kill;
        uint64_t addr;
        uint8_t raw[112];
    };
};
struct rt_sigframe {
    uint64_t pretcode;
    struct ucontext_k uc;
    struct siginfo_k info;
};
_Static_assert(sizeof(struct sigcontext_k) == 256, "sigcontext layout");
_Static_assert(sizeof(struct siginfo_k) == 128, "siginfo layout");

static bool on_altstack(struct uthread *ut, uint64_t sp) {
    return ut->altstack_size && sp > ut->altstack_sp && sp <= ut->altstack_sp + ut->altstack_size;
}

/* Builds the handler frame and points f at the handler. 0 or -KEFAULT. */
static int setup_frame(struct irq_frame *f, int sig, const struct k_sigaction *act, uint64_t old_mask) {
    struct uthread *ut = task_current()->ut;
    uint64_t sp = f->rsp;
    if ((act->flags & SA_ONSTACK) && ut->altstack_size && !(ut->altstack_flags & SS_DISABLE) &&
        !on_altstack(ut, sp))
        sp = ut->altstack_sp + ut->altstack_size;
    else
        sp -= 128; /* the red zone of the interrupted code (System V ABI §3.2.2) */
    uint8_t fxbuf[512] __attribute__((aligned(16))); /* per call: copies may sleep */
    uint64_t fpstate = 0;
    if (sched_fpu_save_current(fxbuf)) {
        sp = (sp - 512) & ~63ull;
        fpstate = sp;
        if (copy_to_user((void *)(uintptr_t)fpstate, fxbuf, 512)) return -KEFAULT;
    }
    uint64_t frame_addr = ((sp - sizeof(struct rt_sigframe)) & ~15ull) - 8;
    struct rt_sigframe fr;
    memset(&fr, 0, sizeof fr);
    fr.pretcode = act->restorer;
    fr.uc.ss_sp = ut->altstack_sp;
    fr.uc.ss_size = ut->altstack_size;
    fr.uc.ss_flags = ut->altstack_size ? (on_altstack(ut, f->rsp) ? SS_ONSTACK : 0) : SS_DISABLE;
    struct sigcontext_k *mc = &fr.uc.mc;
    mc->r8 = f->r8; mc->r9 = f->r9; mc->r10 = f->r10; mc->r11 = f->r11;
    mc->r12 = f->r12; mc->r13 = f->r13; mc->r14 = f->r14; mc->r15 = f->r15;
    mc->rdi = f->rdi; mc->rsi = f->rsi; mc->rbp = f->rbp; mc->rbx = f->rbx;
    mc->rdx = f->rdx; mc->rax = f->rax; mc->rcx = f->rcx; mc->rsp = f->rsp;
    mc->rip = f->rip; mc->eflags = f->rflags;
    mc->cs = 0x23; mc->ss = 0x1b;
    mc->fpstate = fpstate;
    mc->oldmask = old_mask;
    fr.uc.uc_sigmask = old_mask;
    fr.info.si_signo = sig;
    if (ut->fault_sig == sig) {
        fr.info.si_code = ut->fault_code;
        fr.info.addr = ut->fault_addr;
        mc->cr2 = ut->fault_addr;
        mc->trapno = f->vector < 32 ? f->vector : 0;
        mc->err = f->vector < 32 ? f->error_code : 0; /* #PF: the W/R, U/S, P bits (REG_ERR) */
        ut->fault_sig = 0;
    } else {
        fr.info.si_code = SI_USER;
    }
    if (copy_to_user((void *)(uintptr_t)frame_addr, &fr, sizeof fr)) return -KEFAULT;
    f->rip = act->handler;
    f->rsp = frame_addr;
    f->rdi = (uint64_t)sig;
    f->rsi = frame_addr + offsetof(struct rt_sigframe, info);
    f->rdx = frame_addr + offsetof(struct rt_sigframe, uc);
    f->rax = 0;
    f->rflags &= ~((1ull << 8) | (1ull << 10) | (1ull << 16)); /* TF, DF, RF */
    f->cs = 0x23;
    f->ss = 0x1b;
    return 0;
}

/* Default stop action, second half: the stop was recorded when the signal was taken (under
 * proc_lock, so a SIGCONT cannot slip in between); tell the parent and sleep until SIGCONT or
 * SIGKILL. */
static void do_stop(struct process *p) {
    struct task *t = task_current();
    proc_notify_parent(p, SIGCHLD);
    wait_event_timeout_nokill(&p->stop_wq, !p->stopped || t->killed || p->exiting, WAIT_FOREVER);
}

/* Prints the message the issue asks for when a fault ends a process. */
static void report_fatal_fault(struct process *p, struct uthread *ut, int sig) {
    if (ut->fault_sig != sig) return;
    printk(LOG_WARN, "pid %d (%s): %s at %016lx (rip %016lx): process killed\n", p->pid, p->name,
           signal_name(sig), (unsigned long)ut->fault_addr, (unsigned long)ut->fault_rip);
}

/* A handler or return address outside the lower half cannot be returned to (IRETQ would
 * fault in kernel mode): the thread gets SIGSEGV with its default action instead. */
static void force_segv_default(struct task *t, struct irq_frame *f, uint64_t addr) {
    struct uthread *ut = t->ut;
    ut->fault_sig = SIGSEGV;
    ut->fault_code = 0x80; /* SI_KERNEL */
    ut->fault_addr = addr;
    ut->fault_rip = f->rip;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    ut->proc->sigactions[SIGSEGV - 1].handler = SIG_DFL_K;
    ut->sig_blocked &= ~SIGBIT(SIGSEGV);
    ut->sig_pending |= SIGBIT(SIGSEGV);
    t->sigpending = true;
    spin_unlock_irqrestore(&proc_lock, fl);
}

void signal_deliver(struct irq_frame *f, int64_t syscall_result) {
    struct task *t = task_current();
    struct uthread *ut = t->ut;
    if (!ut) return;
    struct process *p = ut->proc;
    if (!t->sigpending && !t->killed && !p->exiting && !ut->restore_sigmask && syscall_result != -KEINTR &&
        f->rip < USER_TOP)
        return;
    bool handled = false;
    for (;;) {
        /* exit_group, a fatal signal or another thread's execve: this thread ends here. */
        if (p->exiting || t->killed) uthread_exit();
        if (f->rip >= USER_TOP && !(ut->sig_pending & SIGBIT(SIGSEGV))) force_segv_default(t, f, f->rip);
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        uint64_t pend = (ut->sig_pending | p->sig_pending) & ~(ut->sig_blocked & ~UNBLOCKABLE);
        if (!pend) {
            t->sigpending = false;
            spin_unlock_irqrestore(&proc_lock, fl);
            break;
        }
        int sig = __builtin_ctzll(pend) + 1;
        uint64_t bit = SIGBIT(sig);
        if (ut->sig_pending & bit) ut->sig_pending &= ~bit;
        else p->sig_pending &= ~bit;
        struct k_sigaction act = p->sigactions[sig - 1];
        if (sig == SIGKILL || sig == SIGSTOP) act.handler = SIG_DFL_K;
        if (act.handler > SIG_IGN_K && (act.flags & SA_RESETHAND)) p->sigactions[sig - 1].handler = SIG_DFL_K;
        bool stop = act.handler == SIG_DFL_K && default_action(sig) == DFL_STOP;
        if (stop) {
            p->stopped = true;
            p->stop_sig = sig;
            p->stop_reported = false;
        }
        spin_unlock_irqrestore(&proc_lock, fl);
        if (act.handler == SIG_IGN_K) continue;
        if (act.handler == SIG_DFL_K) {
            enum dfl d = default_action(sig);
            if (d == DFL_IGNORE) continue;
            if (stop) {
                do_stop(p);
                continue;
            }
            report_fatal_fault(p, ut, sig);
            proc_exit_group(sig | (d == DFL_CORE ? W_CORE : 0));
        }
        if (act.handler >= USER_TOP) {
            force_segv_default(t, f, act.handler);
            continue;
        }
        /* A handler. First decide about the interrupted system call. */
        if (syscall_result == -KEINTR && !handled) {
            if ((act.flags & SA_RESTART) && syscall_restartable(ut->syscall_nr)) {
                f->rax = (uint64_t)ut->syscall_nr;
                f->rip -= 2;
            } else {
                f->rax = (uint64_t)-KEINTR;
            }
        }
        uint64_t old_mask = ut->restore_sigmask ? ut->saved_sigmask : ut->sig_blocked;
        uint64_t cur_mask = ut->sig_blocked;
        if (setup_frame(f, sig, &act, old_mask) < 0) {
            /* No room for the frame (stack overflow, bad stack pointer): SIGSEGV it is. */
            force_segv_default(t, f, f->rsp);
            continue;
        }
        handled = true;
        ut->restore_sigmask = false;
        fl = spin_lock_irqsave(&proc_lock);
        ut->sig_blocked = (cur_mask | act.mask | ((act.flags & SA_NODEFER) ? 0 : bit)) & ~UNBLOCKABLE;
        signal_recalc(t);
        spin_unlock_irqrestore(&proc_lock, fl);
        return; /* one handler frame per return to user mode */
    }
    if (ut->restore_sigmask) {
        ut->restore_sigmask = false;
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        ut->sig_blocked = ut->saved_sigmask & ~UNBLOCKABLE;
        signal_recalc(t);
        spin_unlock_irqrestore(&proc_lock, fl);
    }
    /* Interrupted, but no handler ran (the signal was ignored, stopped and continued the
     * process, or is blocked again by now): the call starts over, as Linux's ERESTARTSYS. */
    if (syscall_result == -KEINTR && syscall_restartable(ut->syscall_nr)) {
        f->rax = (uint64_t)ut->syscall_nr;
        f->rip -= 2;
    }
}

void proc_return_to_user(struct irq_frame *f) {
    struct task *t = task_current();
    if (!t->ut) return;
    while (t->sigpending || t->killed || t->ut->proc->exiting) {
        sti();
        signal_deliver(f, INT64_MIN);
        cli();
        if (!t->sigpending) break;
    }
}

/* ---- system calls ---- */

SYSCALL(SYS_rt_sigaction, rt_sigaction) {
    int sig = (int)a0;
    if (sig < 1 || sig > NSIG_K || a3 != 8) return -KEINVAL;
    struct process *p = proc_current();
    struct k_sigaction nact, oact;
    if (a1) {
        if (sig == SIGKILL || sig == SIGSTOP) return -KEINVAL;
        if (copy_from_user(&nact, (const void *)(uintptr_t)a1, sizeof nact)) return -KEFAULT;
    }
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    oact = p->sigactions[sig - 1];
    if (a1) {
        nact.mask &= ~UNBLOCKABLE;
        p->sigactions[sig - 1] = nact;
        /* Setting SIG_IGN (or a default-ignore) discards what is pending (POSIX). */
        if (ignored(p, sig)) {
            p->sig_pending &= ~SIGBIT(sig);
            for (struct uthread *u = p->threads; u; u = u->next_thread) {
                u->sig_pending &= ~SIGBIT(sig);
                if (u->task) signal_recalc(u->task);
            }
        }
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    if (a2 && copy_to_user((void *)(uintptr_t)a2, &oact, sizeof oact)) return -KEFAULT;
    return 0;
}

SYSCALL(SYS_rt_sigprocmask, rt_sigprocmask) {
    struct uthread *ut = uthread_current();
    if (a3 != 8) return -KEINVAL;
    uint64_t set = 0, old = ut->sig_blocked;
    if (a1 && copy_from_user(&set, (const void *)(uintptr_t)a1, 8)) return -KEFAULT;
    if (a1) {
        uint64_t nb;
        switch (a0) {
        case SIG_BLOCK: nb = old | set; break;
        case SIG_UNBLOCK: nb = old & ~set; break;
        case SIG_SETMASK: nb = set; break;
        default: return -KEINVAL;
        }
        uint64_t fl = spin_lock_irqsave(&proc_lock);
        ut->sig_blocked = nb & ~UNBLOCKABLE;
        signal_recalc(task_current());
        spin_unlock_irqrestore(&proc_lock, fl);
    }
    if (a2 && copy_to_user((void *)(uintptr_t)a2, &old, 8)) return -KEFAULT;
    return 0;
}

SYSCALL(SYS_rt_sigpending, rt_sigpending) {
    struct uthread *ut = uthread_current();
    if (a1 != 8) return -KEINVAL;
    uint64_t pend = (ut->sig_pending | ut->proc->sig_pending) & ut->sig_blocked;
    return copy_to_user((void *)(uintptr_t)a0, &pend, 8) ? -KEFAULT : 0;
}

SYSCALL_FLAGS(SYS_rt_sigreturn, rt_sigreturn, SYSCALL_NORESTART) {
    struct irq_frame *f = syscall_user_frame();
    struct uthread *ut = uthread_current();
    struct ucontext_k uc;
    if (copy_from_user(&uc, (const void *)(uintptr_t)f->rsp, sizeof uc)) {
        proc_user_fault(f, SIGSEGV, 0x80, f->rsp);
        return -KEFAULT;
    }
    struct sigcontext_k *mc = &uc.mc;
    ut->syscall_nr = -1; /* whatever rax it restores, it is not an interrupted call */
    f->r8 = mc->r8; f->r9 = mc->r9; f->r10 = mc->r10; f->r11 = mc->r11;
    f->r12 = mc->r12; f->r13 = mc->r13; f->r14 = mc->r14; f->r15 = mc->r15;
    f->rdi = mc->rdi; f->rsi = mc->rsi; f->rbp = mc->rbp; f->rbx = mc->rbx;
    f->rdx = mc->rdx; f->rax = mc->rax; f->rcx = mc->rcx; f->rsp = mc->rsp; f->rip = mc->rip;
    /* User-changeable flags only (CF PF AF ZF SF TF DF OF AC); IF always on. */
    f->rflags = (mc->eflags & 0x40dd5ull) | 0x202;
    f->cs = 0x23;
    f->ss = 0x1b;
    if (mc->fpstate) {
        uint8_t fxbuf[512] __attribute__((aligned(16)));
        if (copy_from_user(fxbuf, (const void *)(uintptr_t)mc->fpstate, 512) == 0) sched_fpu_load_current(fxbuf);
    }
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    ut->sig_blocked = uc.uc_sigmask & ~UNBLOCKABLE;
    signal_recalc(task_current());
    spin_unlock_irqrestore(&proc_lock, fl);
    return (int64_t)f->rax;
}

SYSCALL(SYS_sigaltstack, sigaltstack) {
    struct uthread *ut = uthread_current();
    struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss, old;
    old.sp = ut->altstack_sp;
    old.size = ut->altstack_size;
    old.flags = ut->altstack_size ? (on_altstack(ut, syscall_user_frame()->rsp) ? SS_ONSTACK : 0) : SS_DISABLE;
    old.pad = 0;
    if (a0) {
        if (copy_from_user(&ss, (const void *)(uintptr_t)a0, sizeof ss)) return -KEFAULT;
        if (old.flags == SS_ONSTACK) return -KEPERM;
        if (ss.flags & ~SS_DISABLE) return -KEINVAL;
        if (ss.flags & SS_DISABLE) {
            ut->altstack_sp = ut->altstack_size = 0;
        } else {
            if (ss.size < MINSIGSTKSZ) return -KENOMEM;
            if (!user_range_ok(ss.sp, ss.size)) return -KEFAULT;
            ut->altstack_sp = ss.sp;
            ut->altstack_size = ss.size;
        }
        ut->altstack_flags = 0;
    }
    if (a1 && copy_to_user((void *)(uintptr_t)a1, &old, sizeof old)) return -KEFAULT;
    return 0;
}

/* Sleeps until a signal arrives (pause, sigsuspend): -EINTR after the handler ran. */
static int64_t wait_for_signal(void) {
    struct wait_queue wq = WAIT_QUEUE_INIT("pause");
    int r = wait_event_timeout(&wq, false, WAIT_FOREVER);
    (void)r;
    return -KEINTR;
}

SYSCALL_FLAGS(SYS_pause, pause, SYSCALL_NORESTART) { return wait_for_signal(); }

SYSCALL_FLAGS(SYS_rt_sigsuspend, rt_sigsuspend, SYSCALL_NORESTART) {
    struct uthread *ut = uthread_current();
    uint64_t mask;
    if (a1 != 8) return -KEINVAL;
    if (copy_from_user(&mask, (const void *)(uintptr_t)a0, 8)) return -KEFAULT;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    ut->saved_sigmask = ut->sig_blocked;
    ut->restore_sigmask = true;
    ut->sig_blocked = mask & ~UNBLOCKABLE;
    signal_recalc(task_current());
    spin_unlock_irqrestore(&proc_lock, fl);
    return wait_for_signal();
}

/* kill(2): pid > 0 one process, 0 the caller's group, -1 everyone but init and the caller,
 * < -1 the group -pid. */
SYSCALL(SYS_kill, kill) {
    int32_t pid = (int32_t)a0;
    int sig = (int)a1;
    if (sig < 0 || sig > NSIG_K) return -KEINVAL;
    struct process *self = proc_current();
    if (pid > 0) return proc_signal_pid(pid, sig);
    if (pid == 0) return proc_signal_pgrp(self->pgid, sig);
    if (pid == INT32_MIN) return -KESRCH; /* -pid would overflow */
    if (pid < -1) return proc_signal_pgrp(-pid, sig);
    /* -1: every process we may signal except init and ourselves. */
    int n = 0;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (struct process *p = proc_first_locked(); p; p = p->all_next) {
        if (p->pid == 1 || p == self || p->state != PROC_ALIVE) continue;
        n++;
        if (sig) signal_locked(p, sig);
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    return n ? 0 : -KESRCH;
}

/* Finds thread tid (of process tgid when tgid > 0) and sends it sig, in one hold of
 * proc_lock so the thread cannot be freed in between. 0 or -KESRCH. */
static int signal_thread_id(pid_k tgid, pid_k tid, int sig) {
    int r = -KESRCH;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (struct process *p = proc_first_locked(); p && r; p = p->all_next) {
        if ((tgid > 0 && p->pid != tgid) || p->state != PROC_ALIVE) continue;
        for (struct uthread *u = p->threads; u && r; u = u->next_thread) {
            if (u->tid != tid || !u->task) continue;
            if (sig) thread_signal_locked(u->task, sig);
            r = 0;
        }
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    return r;
}

SYSCALL(SYS_tgkill, tgkill) {
    int sig = (int)a2;
    if ((int32_t)a0 <= 0 || (int32_t)a1 <= 0 || sig < 0 || sig > NSIG_K) return -KEINVAL;
    return signal_thread_id((pid_k)a0, (pid_k)a1, sig);
}

SYSCALL(SYS_tkill, tkill) {
    int sig = (int)a1;
    if ((int32_t)a0 <= 0 || sig < 0 || sig > NSIG_K) return -KEINVAL;
    return signal_thread_id(0, (pid_k)a0, sig);
}

/* execve: handlers become SIG_DFL (ignored stays ignored), the alternate stack goes away. */
void signal_reset_on_exec(struct process *p) {
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    for (int i = 0; i < NSIG_K; i++) {
        if (p->sigactions[i].handler > SIG_IGN_K) p->sigactions[i].handler = SIG_DFL_K;
        p->sigactions[i].flags = 0;
        p->sigactions[i].mask = 0;
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    struct uthread *ut = uthread_current();
    ut->altstack_sp = ut->altstack_size = 0;
}
