/* sched.c: the preemptive scheduler (docs/scheduler.md).
 *
 * Per-CPU state (struct cpu) is reached through the GS base (Intel SDM vol. 3A §3.4.4,
 * IA32_GS_BASE), so each CPU finds its own run queues without a lock. A run queue holds one
 * FIFO list per priority; the highest non-empty priority runs, round robin inside it with
 * SCHED_SLICE_NS slices enforced by the one-shot timer (ktimer.c). The idle task runs when
 * nothing else can, halting the CPU until the next interrupt.
 *
 * Locking: cpu->rq_lock protects the run queues, the task states and on_rq/on_cpu. It is
 * taken with interrupts off and held across context_switch(); the task switched to releases
 * it in sched_finish_switch(). A task that is preempted while it prepares to sleep (state
 * already TASK_SLEEPING) stays on the run queue, so it can never miss its wake-up.
 *
 * FPU/SSE state is switched lazily (SDM vol. 3A §13.4 and the #NM exception): CR0.TS is set
 * whenever the CPU switches to a task that does not own the FPU registers; that task's first
 * FPU/SSE instruction raises #NM, and sched_fpu_trap() saves the owner's registers with
 * FXSAVE and loads the new owner's. Kernel code is built without SSE, so only tasks that use
 * it explicitly (and later user processes) pay for it. */
#include "types.h"
#include "cpu.h"
#include "sched.h"
#include "ktimer.h"
#include "printk.h"
#include "panic.h"
#include "kerrno.h"
#include "kstring.h"
#include "mm.h"
#include "time.h"
#include "wait.h"
#include "proc.h"
#include "arch.h"

#define MSR_GS_BASE 0xc0000101
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_NE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)

struct fpu_area {
    uint8_t fxsave[512];
} __attribute__((aligned(16)));

struct percpu {
    struct percpu *self; /* %gs:0 */
    uint64_t user_rsp;   /* %gs:8: syscall_entry keeps the user stack pointer here */
    uint64_t kernel_rsp; /* %gs:16: kernel stack top of the running user thread */
    struct cpu cpu;
};

static struct percpu boot_percpu;
static struct task *fpu_owner;      /* whose registers are in the FPU now (per CPU with SMP) */
static bool sched_running;

struct task *context_switch(uint64_t *save_rsp, uint64_t new_rsp, struct task *prev);
void task_free(struct task *t);      /* task.c */
extern struct wait_queue task_exit_wq; /* task.c: joiners wait here */

struct cpu *this_cpu(void) {
    struct percpu *p;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(p));
    return &p->cpu;
}

struct task *task_current(void) { return this_cpu()->current; }

/* Sets where the CPU switches stacks on entry from user mode: TSS.RSP0 for interrupts and
 * the per-CPU slot syscall_entry loads. */
void sched_set_user_entry_stack(uint64_t top) {
    struct percpu *p;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(p));
    p->kernel_rsp = top;
    tss_set_kernel_stack(top);
}

void preempt_disable(void) {
    __atomic_add_fetch(&this_cpu()->preempt_count, 1, __ATOMIC_RELAXED);
}

void preempt_enable(void) {
    if (__atomic_sub_fetch(&this_cpu()->preempt_count, 1, __ATOMIC_RELAXED) == 0) sched_preempt_check();
}

uint64_t sched_context_switches(void) { return this_cpu()->context_switches; }

/* ---- run queue (rq_lock held) ---- */

static void rq_push(struct cpu *c, struct task *t) {
    t->rq_next = NULL;
    if (c->rq_tail[t->prio])
        c->rq_tail[t->prio]->rq_next = t;
    else
        c->rq_head[t->prio] = t;
    c->rq_tail[t->prio] = t;
    t->on_rq = true;
    c->rq_len++;
}

static struct task *rq_pop(struct cpu *c) {
    for (int p = 0; p < PRIO_COUNT; p++) {
        struct task *t = c->rq_head[p];
        if (!t) continue;
        c->rq_head[p] = t->rq_next;
        if (!c->rq_head[p]) c->rq_tail[p] = NULL;
        t->rq_next = NULL;
        t->on_rq = false;
        c->rq_len--;
        return t;
    }
    return NULL;
}

/* True when a task of priority prio or better is waiting to run. */
static bool rq_has(struct cpu *c, int prio) {
    for (int p = 0; p <= prio && p < PRIO_COUNT; p++)
        if (c->rq_head[p]) return true;
    return false;
}

/* Enqueues a task that has become runnable; asks for a switch when it should preempt. */
static void make_runnable_locked(struct cpu *c, struct task *t) {
    t->state = TASK_RUNNABLE;
    if (t == c->current || t->on_rq) return;
    rq_push(c, t);
    struct task *cur = c->current;
    if (cur == c->idle || t->prio < cur->prio) {
        c->need_resched = true;
    } else if (t->prio == cur->prio && cur->slice_end_ns == UINT64_MAX) {
        /* The running task had the CPU to itself: now it shares, so its slice starts. */
        cur->slice_end_ns = time_ns() + SCHED_SLICE_NS;
        ktimer_reprogram();
    }
}

bool sched_wake(struct task *t) {
    struct cpu *c = t->cpu;
    uint64_t flags = spin_lock_irqsave(&c->rq_lock);
    bool was_asleep = t->state == TASK_SLEEPING;
    if (was_asleep) make_runnable_locked(c, t);
    spin_unlock_irqrestore(&c->rq_lock, flags);
    sched_preempt_check();
    return was_asleep;
}

void sched_preempt_check(void) {
    if (!sched_running) return;
    struct cpu *c = this_cpu();
    if (!c->need_resched || c->irq_depth > 0 || c->preempt_count > 0) return;
    if (!(read_rflags() & (1u << 9))) return; /* inside a spinlock or an irq-off section */
    task_yield();
}

void sched_irq_enter(void) {
    if (sched_running) this_cpu()->irq_depth++;
}

/* Adds a new task to this CPU's run queue (task.c). */
void sched_add_new(struct task *t) {
    struct cpu *c = this_cpu();
    t->cpu = c;
    uint64_t flags = spin_lock_irqsave(&c->rq_lock);
    make_runnable_locked(c, t);
    spin_unlock_irqrestore(&c->rq_lock, flags);
    sched_preempt_check(); /* a new task of higher priority runs at once */
}

/* Marks the calling task as about to sleep (wait.c, task_sleep_until). */
void sched_set_sleeping(void) {
    struct cpu *c = this_cpu();
    uint64_t flags = spin_lock_irqsave(&c->rq_lock);
    c->current->state = TASK_SLEEPING;
    spin_unlock_irqrestore(&c->rq_lock, flags);
}

/* Marks the calling task runnable again without switching (a wait that ends on its own). */
void sched_set_running(void) {
    struct cpu *c = this_cpu();
    uint64_t flags = spin_lock_irqsave(&c->rq_lock);
    c->current->state = TASK_RUNNABLE;
    spin_unlock_irqrestore(&c->rq_lock, flags);
}

/* ---- switching ---- */

static void fpu_prepare_for(struct task *next) {
    uint64_t cr0 = read_cr0();
    uint64_t want = next == fpu_owner ? (cr0 & ~CR0_TS) : (cr0 | CR0_TS);
    if (want != cr0) write_cr0(want);
}

/* Runs on the new task's stack right after context_switch, with rq_lock held and interrupts
 * off. Also the first thing a new task does (switch.S). */
void sched_finish_switch(struct task *prev) {
    struct cpu *c = this_cpu();
    prev->on_cpu = false;
    bool reap = prev->state == TASK_ZOMBIE && prev->detached;
    bool notify = prev->state == TASK_ZOMBIE && !prev->detached;
    spin_unlock(&c->rq_lock);
    if (reap) task_free(prev);
    if (notify) wake_up_all(&task_exit_wq); /* joiners wait for on_cpu to clear */
}

/* The core of schedule(): with interrupts off. preempted: the task did not choose to stop
 * (timer or wake-up of a more urgent task), so it stays runnable whatever its state says. */
static void schedule_locked_switch(bool preempted) {
    struct cpu *c = this_cpu();
    spin_lock(&c->rq_lock);
    struct task *prev = c->current;
    if (prev != c->idle && !prev->on_rq &&
        (prev->state == TASK_RUNNABLE || (preempted && prev->state == TASK_SLEEPING)))
        rq_push(c, prev);
    struct task *next = rq_pop(c);
    if (!next) next = c->idle;
    c->need_resched = false;
    if (next == prev) {
        spin_unlock(&c->rq_lock);
        return;
    }
    uint64_t now_tsc = rdtsc();
    uint64_t ran_ns = tsc_to_ns(now_tsc - prev->switched_in_tsc);
    prev->cpu_time_ns += ran_ns;
    if (prev == c->idle) c->idle_ns += ran_ns;
    next->switched_in_tsc = now_tsc;
    next->on_cpu = true;
    next->switches++;
    next->slice_end_ns = (next != c->idle && rq_has(c, next->prio)) ? time_ns() + SCHED_SLICE_NS : UINT64_MAX;
    c->current = next;
    c->context_switches++;
    fpu_prepare_for(next);
    if (next->ut) proc_switch_to(next);
    ktimer_reprogram();
    struct task *from = context_switch(&prev->saved_rsp, next->saved_rsp, prev);
    sched_finish_switch(from);
}

void schedule(void) {
    uint64_t flags = irq_save();
    schedule_locked_switch(false);
    irq_restore(flags);
    sched_preempt_check(); /* a wake-up made while interrupts were off */
}

void task_yield(void) {
    uint64_t flags = irq_save();
    schedule_locked_switch(true);
    irq_restore(flags);
    sched_preempt_check();
}

/* Called at the end of every interrupt (idt.c), with interrupts off, on the interrupted
 * task's stack: the place where preemption happens. */
void sched_irq_exit(void) {
    if (!sched_running) return;
    struct cpu *c = this_cpu();
    c->irq_depth--;
    if (!c->need_resched || c->preempt_count > 0) return;
    schedule_locked_switch(true);
}

/* Ends the calling task: it becomes a zombie and the CPU switches away for good
 * (task_exit in task.c). Called with interrupts in any state. */
NORETURN void sched_exit_current(void) {
    cli();
    struct cpu *c = this_cpu();
    spin_lock(&c->rq_lock);
    c->current->state = TASK_ZOMBIE;
    spin_unlock(&c->rq_lock);
    schedule_locked_switch(false);
    panic("sched: a zombie task was switched back in");
}

/* Called by the timer interrupt (ktimer.c): the running task's slice is over when its end
 * has passed and others of its priority wait. */
void sched_timer_tick(uint64_t now_ns) {
    struct cpu *c = this_cpu();
    struct task *cur = c->current;
    if (!cur || cur == c->idle) {
        if (c->rq_len) c->need_resched = true;
        return;
    }
    if (now_ns >= cur->slice_end_ns) {
        spin_lock(&c->rq_lock);
        if (rq_has(c, cur->prio))
            c->need_resched = true;
        else
            cur->slice_end_ns = UINT64_MAX; /* alone at its priority: no slice to enforce */
        spin_unlock(&c->rq_lock);
    }
}

/* The deadline the timer must also honour for the scheduler (the running slice's end). */
uint64_t sched_next_deadline(void) {
    struct task *cur = this_cpu()->current;
    return cur ? cur->slice_end_ns : UINT64_MAX;
}

/* ---- idle ---- */

static int64_t idle_task_fn(void *arg) {
    (void)arg;
    for (;;) {
        cli();
        if (this_cpu()->need_resched || this_cpu()->rq_len) {
            sti();
            task_yield();
        } else {
            __asm__ volatile("sti; hlt" ::: "memory"); /* no wake-up lost between the two */
        }
    }
    return 0;
}

/* ---- FPU ---- */

/* #NM handler: gives the FPU registers to the current task. True when the trap was ours. */
bool sched_fpu_trap(void) {
    if (!sched_running || !(read_cr0() & CR0_TS)) return false;
    struct task *cur = task_current();
    __asm__ volatile("clts");
    if (fpu_owner == cur) return true;
    if (fpu_owner && fpu_owner->fpu) __asm__ volatile("fxsave64 (%0)" ::"r"(fpu_owner->fpu) : "memory");
    if (!cur->fpu) {
        cur->fpu = kzalloc(sizeof(struct fpu_area));
        if (!cur->fpu) {
            printk(LOG_ERR, "sched: no memory for the FPU state of task %s (id %d)\n", cur->name, cur->id);
            fpu_owner = NULL;
            write_cr0(read_cr0() | CR0_TS);
            return false;
        }
        uint32_t mxcsr = 0x1f80; /* all SIMD exceptions masked, round to nearest */
        __asm__ volatile("fninit; ldmxcsr %0" ::"m"(mxcsr));
    } else {
        __asm__ volatile("fxrstor64 (%0)" ::"r"(cur->fpu) : "memory");
    }
    fpu_owner = cur;
    return true;
}

/* Forgets a task's FPU state when it ends (task.c). */
void sched_fpu_release(struct task *t) {
    uint64_t flags = irq_save();
    if (fpu_owner == t) fpu_owner = NULL;
    irq_restore(flags);
    kfree(t->fpu);
    t->fpu = NULL;
}

/* Forgets the calling task's FPU/SSE state (execve): its next FPU instruction starts from
 * the reset state. */
void sched_fpu_reset_current(void) {
    struct task *cur = task_current();
    uint64_t flags = irq_save();
    if (fpu_owner == cur) fpu_owner = NULL;
    write_cr0(read_cr0() | CR0_TS);
    irq_restore(flags);
    kfree(cur->fpu);
    cur->fpu = NULL;
}

/* Copies the calling task's FPU/SSE state (FXSAVE image, 512 bytes) into buf; false when the
 * task never used the FPU (buf untouched). For signal frames. */
bool sched_fpu_save_current(void *buf) {
    struct task *cur = task_current();
    uint64_t flags = irq_save();
    bool have = true;
    if (fpu_owner == cur) {
        __asm__ volatile("clts; fxsave64 (%0)" ::"r"(cur->fpu) : "memory");
        write_cr0(read_cr0() & ~CR0_TS);
    }
    if (cur->fpu) memcpy(buf, cur->fpu, 512);
    else have = false;
    irq_restore(flags);
    return have;
}

/* Replaces the calling task's FPU/SSE state with the FXSAVE image in buf (sigreturn). MXCSR
 * reserved bits are cleared first so FXRSTOR cannot fault. */
void sched_fpu_load_current(const void *buf) {
    struct task *cur = task_current();
    if (!cur->fpu) {
        cur->fpu = kzalloc(sizeof(struct fpu_area));
        if (!cur->fpu) return;
    }
    uint64_t flags = irq_save();
    memcpy(cur->fpu, buf, 512);
    uint32_t *mxcsr = (uint32_t *)(void *)&cur->fpu->fxsave[24];
    *mxcsr &= 0xffff;
    /* The registers are reloaded from cur->fpu on the next FPU instruction. */
    if (fpu_owner == cur) fpu_owner = NULL;
    write_cr0(read_cr0() | CR0_TS);
    irq_restore(flags);
}

/* ---- setup ---- */

struct task *task_setup_boot(struct cpu *c, int64_t (*idle_fn)(void *)); /* task.c */

void sched_init(void) {
    struct percpu *p = &boot_percpu;
    p->self = p;
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)p);
    struct cpu *c = &p->cpu;
    c->id = 0;
    spin_init(&c->rq_lock, "runqueue");
    /* SSE for tasks that use it: enable FXSAVE/SSE, trap the first use with CR0.TS. */
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    write_cr0((read_cr0() & ~CR0_EM) | CR0_MP | CR0_NE | CR0_TS);
    c->idle = task_setup_boot(c, idle_task_fn);
    sched_running = true;
    printk(LOG_INFO, "sched: preemptive, %d priorities, %llu ms slices, lazy FPU switching\n", PRIO_COUNT,
           (unsigned long long)(SCHED_SLICE_NS / 1000000));
}
