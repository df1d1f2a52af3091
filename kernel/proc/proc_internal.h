/* proc_internal.h: shared between the files of kernel/proc/ (not for other subsystems). */
#pragma once
#include "proc.h"

extern spinlock_t proc_lock;
extern struct process *init_process;
extern struct wait_queue kernel_child_wq;

struct process *proc_alloc(void);
void proc_free(struct process *p);
void proc_link_child(struct process *parent, struct process *child);
pid_k proc_alloc_pid_locked(void);
struct uthread *uthread_alloc(struct process *p, pid_k tid);
int uthread_unlink(struct uthread *ut);
void proc_initial_frame(struct irq_frame *f, uint64_t entry, uint64_t sp);
/* Ends the calling user thread; the last thread of a process makes it a zombie (exit.c). */
NORETURN void uthread_exit(void);
/* Signals (signal.c): default-action tables and the per-thread pending recomputation. */
void signal_recalc(struct task *t);
void signal_reset_on_exec(struct process *p);
/* Makes the caller's parent (or the kernel) notice a child state change (exit.c). */
void proc_notify_parent(struct process *p, int sig);
/* First process of the table (proc_lock held; follow all_next). */
struct process *proc_first_locked(void);
/* Stops the process's interval timer (exit). */
void itimer_stop(struct process *p);
