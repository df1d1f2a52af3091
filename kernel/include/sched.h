/* sched.h: kernel tasks and the preemptive scheduler (kernel/sched/task.c, sched.c,
 * switch.S). See docs/scheduler.md.
 *
 * A task runs fn(arg) on its own 16 KiB kernel stack, which has an unmapped guard page below
 * it; a stack overflow is reported as "kernel stack overflow in task NAME" and kills only
 * that task. Tasks have ids, names, a priority and a state. Exit values are int64_t.
 * Preemption: the timer ends a task's slice (SCHED_SLICE_NS) when another task of the same
 * priority is runnable; a woken task of higher priority runs at once. */
#pragma once
#include "types.h"
#include "spinlock.h"

typedef int32_t tid_t;

enum task_state {
    TASK_RUNNABLE = 0, /* on a run queue or running */
    TASK_SLEEPING = 1, /* waiting: on a wait queue and/or a timer */
    TASK_ZOMBIE = 2,   /* exited, not yet joined */
};

enum task_prio {
    PRIO_HIGH = 0,   /* net_poller, bottom halves, work queues */
    PRIO_NORMAL = 1, /* everything else */
    PRIO_COUNT = 2,
};

#define SCHED_SLICE_NS 10000000ull /* 10 ms */
#define TASK_NAME_MAX 24
#define KSTACK_SIZE 16384ull

struct fpu_area; /* 512-byte FXSAVE image, allocated on first use */
struct cpu;

struct task {
    tid_t id;
    char name[TASK_NAME_MAX];
    volatile int state;          /* enum task_state */
    uint8_t prio;                /* enum task_prio */
    volatile bool on_cpu;        /* running now, or not yet fully switched away from */
    bool on_rq;                  /* queued on a run queue (rq_lock) */
    bool joining;                /* someone is in task_join for it */
    bool static_task;            /* the boot flow's task: its stack and struct are not freed */
    volatile bool killed;        /* task_kill: waits return -KEINTR, task_should_stop() */
    volatile bool sigpending;    /* a user thread has a deliverable signal: waits return -KEINTR */
    bool detached;               /* freed when it exits instead of by task_join */
    uint64_t saved_rsp;          /* switch.S saves the stack pointer here */
    uint64_t stack_base;         /* lowest usable address of the kernel stack */
    uint64_t guard_base;         /* the unmapped guard below it: [guard_base, stack_base) */
    int stack_slot;
    int64_t exit_value;
    uint64_t cpu_time_ns;        /* time spent running */
    uint64_t switched_in_tsc;
    uint64_t slice_end_ns;
    uint64_t switches;           /* times it was switched in */
    struct fpu_area *fpu;        /* NULL until the task first uses the FPU/SSE */
    int64_t (*fn)(void *arg);
    void *arg;
    struct task *rq_next;        /* run queue link */
    struct task *all_next;       /* list of all tasks */
    struct cpu *cpu;
    void *wait_entry;            /* the wait-queue entry it sleeps on, if any (diagnostics) */
    struct uthread *ut;          /* user thread state (proc.h), NULL for a kernel task */
};

/* Per-CPU scheduler state (one CPU runs tasks until SMP arrives; the layout is per CPU). */
struct cpu {
    uint32_t id;
    spinlock_t rq_lock;
    struct task *rq_head[PRIO_COUNT], *rq_tail[PRIO_COUNT];
    uint32_t rq_len;
    struct task *current;
    struct task *idle;
    volatile bool need_resched;
    int preempt_count;           /* > 0: no preemption (scheduler internals) */
    int irq_depth;               /* > 0: inside an interrupt handler */
    uint64_t context_switches;
    uint64_t idle_ns;
};

/* Creates a runnable task; returns its id, or -KENOMEM (no memory, no stack slot) or
 * -KEINVAL (no function, bad priority). The task ends by returning or by task_exit. */
tid_t task_create(const char *name, int64_t (*fn)(void *arg), void *arg, int prio);
/* Like task_create, but nobody joins it: its memory is freed when it ends. */
tid_t task_create_detached(const char *name, int64_t (*fn)(void *arg), void *arg, int prio);
/* Ends the calling task with an exit value. */
NORETURN void task_exit(int64_t value);
/* Waits until task id ends, stores its exit value, frees it. 0, -KESRCH (no such task or
 * already joined), -KEINVAL (joining itself or a detached task), -KEINTR (caller killed). */
int task_join(tid_t id, int64_t *exit_value);
/* Asks task id to end: it is woken if sleeping, and from then on its waits and sleeps
 * return -KEINTR and task_should_stop() is true; the task ends through its own code, at a
 * safe point (never in the middle of a critical section). A task that never waits must poll
 * task_should_stop(). Killing the calling task ends it at once. 0 or -KESRCH; killing the
 * idle task or the boot task is -KEPERM. */
int task_kill(tid_t id);
/* True when a wait of t must end with -KEINTR: killed, or a signal to deliver (user threads). */
static inline bool task_interrupted(const struct task *t) { return t->killed || t->sigpending; }
/* True once the calling task has been killed: it should clean up and return. */
bool task_should_stop(void);
/* Gives up the CPU to another runnable task of the same or higher priority. */
void task_yield(void);
/* The running task (never NULL after sched_init). */
struct task *task_current(void);
/* Sleeps for at least ns nanoseconds (0 = just yield). Returns 0, or -KEINTR when killed. */
int task_sleep_ns(uint64_t ns);
int task_sleep_until(uint64_t deadline_ns);
/* Like task_sleep_until, but a pending signal of a user thread also ends it (-KEINTR). */
int task_sleep_until_interruptible(uint64_t deadline_ns);
/* Bytes of the task's kernel stack ever used (high-water mark from the fill pattern). */
size_t task_stack_used(const struct task *t);
/* Calls fn for every task (under the task-list lock: fn must not sleep or create tasks). */
void task_for_each(void (*fn)(const struct task *t, void *ctx), void *ctx);
/* Number of live tasks (including zombies and the idle task). */
int task_count(void);
const char *task_state_name(int state);

/* Makes a sleeping task runnable (used by wait queues and timers). True if it was asleep. */
bool sched_wake(struct task *t);
/* Picks the next task and switches to it; the caller has set its own state first. */
void schedule(void);
/* Sets up the boot CPU: the current flow of control becomes task 0 "kmain", an idle task is
 * created, the stack region is prepared. Needs the heap and the timer. */
void sched_init(void);
/* Preemption control for short sections that must not be switched away from. */
void preempt_disable(void);
void preempt_enable(void);
/* The calling CPU's scheduler state. */
struct cpu *this_cpu(void);
/* Called from the interrupt path (idt.c): sched_irq_enter before the handler, and
 * sched_irq_exit after eoi(), which switches task if one is due. */
void sched_irq_enter(void);
void sched_irq_exit(void);
/* Switches now if a wake-up made a more urgent task runnable and the caller may be
 * preempted (task context, interrupts on, no preempt_disable). Called after wake-ups. */
void sched_preempt_check(void);
/* Called by the #DF handler: when the fault is a kernel stack overflow of the current task,
 * reports it by name and, if the task was at a point where it could be preempted (rflags of
 * the faulting context has IF, not in an interrupt handler), ends it with -KEFAULT. Returns
 * false when it is not a task-stack overflow or it cannot be recovered (then: panic). */
bool sched_handle_stack_overflow(uint64_t fault_addr, uint64_t rsp, uint64_t rflags);
/* The #NM handler's half of lazy FPU switching; true when the trap was handled. */
bool sched_fpu_trap(void);
/* Sets the kernel stack used on entry from user mode (TSS.RSP0 and syscall_entry's). */
void sched_set_user_entry_stack(uint64_t top);
/* Creates a detached task that runs user thread ut: frame (the user registers) is copied to
 * the top of its kernel stack and the task enters user mode with it (proc_enter_user).
 * ut->task is set before the task can run. Returns the task id or -KENOMEM. */
struct irq_frame;
struct uthread;
tid_t task_create_user(const char *name, const struct irq_frame *frame, struct uthread *ut);
/* FPU state of the calling task: reset (execve), save a 512-byte FXSAVE image into buf (false
 * when it never used the FPU), load one (sigreturn). */
void sched_fpu_reset_current(void);
bool sched_fpu_save_current(void *buf);
void sched_fpu_load_current(const void *buf);
/* Statistics for the shell and benchmarks. */
uint64_t sched_context_switches(void);
