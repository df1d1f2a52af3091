/* task.c: kernel tasks: creation, exit, join, kill, sleep, and their stacks
 * (docs/scheduler.md).
 *
 * Each task has a 16 KiB kernel stack at the top of a 32 KiB slot in the KSTACK_REGION
 * (mm.h); the 16 KiB below it stay unmapped, so running off the stack faults (a #DF, since
 * the CPU cannot push the #PF frame), and sched_handle_stack_overflow() reports it by the
 * task's name and ends that task only. The page tables of the region are built once at boot,
 * so creating and freeing tasks leaves the frame count exactly where it was. Stacks are
 * filled with a pattern at creation so `ps` can show how deep each one has been used. */
#include "types.h"
#include "cpu.h"
#include "sched.h"
#include "proc.h"
#include "wait.h"
#include "ktimer.h"
#include "mm.h"
#include "kerrno.h"
#include "kstring.h"
#include "printk.h"
#include "panic.h"

#define STACK_FILL 0xcd
#define STACK_ORDER 2 /* 2^2 frames = 16 KiB */

extern char boot_stack_guard[], boot_stack_bottom[];
extern void task_entry_trampoline(void);
void sched_add_new(struct task *t);
void sched_set_sleeping(void);
void sched_fpu_release(struct task *t);
NORETURN void sched_exit_current(void);

struct wait_queue task_exit_wq = WAIT_QUEUE_INIT("task-exit");

static spinlock_t tasks_lock = SPINLOCK_INIT("tasks");
static struct task *all_tasks;
static int live_tasks;
static tid_t next_id;
static uint64_t slot_bitmap[KSTACK_SLOTS / 64];
static struct task boot_task;

/* ---- stack slots (tasks_lock held) ---- */

static int slot_alloc(void) {
    for (int w = 0; w < KSTACK_SLOTS / 64; w++) {
        if (slot_bitmap[w] == ~0ull) continue;
        int b = __builtin_ctzll(~slot_bitmap[w]);
        slot_bitmap[w] |= 1ull << b;
        return w * 64 + b;
    }
    return -1;
}

static void slot_free(int slot) { slot_bitmap[slot / 64] &= ~(1ull << (slot % 64)); }

static uint64_t slot_stack_base(int slot) {
    return KSTACK_REGION + (uint64_t)slot * KSTACK_SLOT_SIZE + (KSTACK_SLOT_SIZE - KSTACK_SIZE);
}

/* Maps a fresh 16 KiB stack into the slot; false when memory is short. */
static bool stack_map(int slot) {
    phys_addr_t pa = pmm_alloc_order(STACK_ORDER);
    if (!pa) return false;
    uint64_t base = slot_stack_base(slot);
    for (uint64_t off = 0; off < KSTACK_SIZE; off += PAGE_SIZE) vmm_map_kernel_page(base + off, pa + off);
    memset((void *)(uintptr_t)base, STACK_FILL, KSTACK_SIZE);
    return true;
}

static void stack_unmap(int slot) {
    uint64_t base = slot_stack_base(slot);
    phys_addr_t pa = 0;
    uint64_t ps;
    uint64_t e = vmm_query(base, &ps);
    if (e) pa = e & 0x000ffffffffff000ull;
    for (uint64_t off = 0; off < KSTACK_SIZE; off += PAGE_SIZE) vmm_unmap_kernel_page(base + off);
    if (pa) pmm_free_order(pa, STACK_ORDER);
}

/* ---- lifetime ---- */

/* Runs the task's function and ends the task with its return value (switch.S). */
NORETURN void task_run_body(struct task *t) {
    int64_t value = t->fn(t->arg);
    task_exit(value);
}

/* Builds a task with its stack, ready to be switched to, but not yet listed or queued.
 * Returns NULL when memory or stack slots are short. */
static struct task *task_build(const char *name, int64_t (*fn)(void *), void *arg, int prio,
                               size_t reserve_top) {
    struct task *t = kzalloc(sizeof(*t));
    if (!t) return NULL;
    uint64_t flags = spin_lock_irqsave(&tasks_lock);
    int slot = slot_alloc();
    spin_unlock_irqrestore(&tasks_lock, flags);
    if (slot < 0 || !stack_map(slot)) {
        if (slot >= 0) {
            flags = spin_lock_irqsave(&tasks_lock);
            slot_free(slot);
            spin_unlock_irqrestore(&tasks_lock, flags);
        }
        kfree(t);
        return NULL;
    }
    strlcpy(t->name, name ? name : "task", sizeof(t->name));
    t->fn = fn;
    t->arg = arg;
    t->prio = (uint8_t)prio;
    t->stack_slot = slot;
    t->stack_base = slot_stack_base(slot);
    t->guard_base = t->stack_base - (KSTACK_SLOT_SIZE - KSTACK_SIZE);
    t->slice_end_ns = UINT64_MAX;
    /* The first switch to the task "returns" into the trampoline with R12 = the task; the
     * zero words above it end backtraces. RSP is 16-byte aligned after that return. */
    uint64_t *sp = (uint64_t *)(uintptr_t)(t->stack_base + KSTACK_SIZE - reserve_top - 16);
    sp[0] = 0;
    sp[1] = 0;
    *--sp = (uint64_t)(uintptr_t)task_entry_trampoline;
    *--sp = 0;                            /* rbp */
    *--sp = 0;                            /* rbx */
    *--sp = (uint64_t)(uintptr_t)t;       /* r12 */
    *--sp = 0;                            /* r13 */
    *--sp = 0;                            /* r14 */
    *--sp = 0;                            /* r15 */
    t->saved_rsp = (uint64_t)(uintptr_t)sp;
    return t;
}

/* Gives the task an id and puts it on the list of all tasks. */
static tid_t task_register(struct task *t) {
    uint64_t flags = spin_lock_irqsave(&tasks_lock);
    t->id = ++next_id;
    t->all_next = all_tasks;
    all_tasks = t;
    live_tasks++;
    spin_unlock_irqrestore(&tasks_lock, flags);
    return t->id;
}

static tid_t create(const char *name, int64_t (*fn)(void *), void *arg, int prio, bool detached) {
    if (!fn || prio < 0 || prio >= PRIO_COUNT) return -KEINVAL;
    struct task *t = task_build(name, fn, arg, prio, 0);
    if (!t) return -KENOMEM;
    t->detached = detached;
    tid_t id = task_register(t);
    sched_add_new(t); /* may run (and even end) before we return */
    return id;
}

tid_t task_create(const char *name, int64_t (*fn)(void *arg), void *arg, int prio) {
    return create(name, fn, arg, prio, false);
}

tid_t task_create_detached(const char *name, int64_t (*fn)(void *arg), void *arg, int prio) {
    return create(name, fn, arg, prio, true);
}

/* The first code of a user thread's task: the user frame sits at the top of its stack. */
static int64_t user_thread_body(void *arg) {
    struct task *t = task_current();
    proc_enter_user((struct irq_frame *)(uintptr_t)(t->stack_base + KSTACK_SIZE - sizeof(struct irq_frame)));
}

tid_t task_create_user(const char *name, const struct irq_frame *frame, struct uthread *ut) {
    struct task *t = task_build(name, user_thread_body, NULL, PRIO_NORMAL, sizeof(struct irq_frame));
    if (!t) return -KENOMEM;
    memcpy((void *)(uintptr_t)(t->stack_base + KSTACK_SIZE - sizeof(struct irq_frame)), frame, sizeof(*frame));
    t->detached = true;
    t->ut = ut;
    ut->task = t;
    tid_t id = task_register(t);
    sched_add_new(t);
    return id;
}

/* Frees a task that has switched away for the last time (sched.c for detached tasks,
 * task_join otherwise). */
void task_free(struct task *t) {
    uint64_t flags = spin_lock_irqsave(&tasks_lock);
    for (struct task **pp = &all_tasks; *pp; pp = &(*pp)->all_next) {
        if (*pp == t) {
            *pp = t->all_next;
            live_tasks--;
            break;
        }
    }
    spin_unlock_irqrestore(&tasks_lock, flags);
    sched_fpu_release(t);
    if (t->static_task) return;
    stack_unmap(t->stack_slot);
    flags = spin_lock_irqsave(&tasks_lock);
    slot_free(t->stack_slot);
    spin_unlock_irqrestore(&tasks_lock, flags);
    kfree(t);
}

NORETURN void task_exit(int64_t value) {
    struct task *t = task_current();
    t->exit_value = value;
    sched_exit_current();
}

/* Finds a task by id (tasks_lock held). */
static struct task *find(tid_t id) {
    for (struct task *t = all_tasks; t; t = t->all_next)
        if (t->id == id) return t;
    return NULL;
}

int task_join(tid_t id, int64_t *exit_value) {
    uint64_t flags = spin_lock_irqsave(&tasks_lock);
    struct task *t = find(id);
    int err = 0;
    if (!t) err = -KESRCH;
    else if (t == task_current() || t->detached || t->joining) err = -KEINVAL;
    else t->joining = true;
    spin_unlock_irqrestore(&tasks_lock, flags);
    if (err) return err;
    int r = wait_event_killable_timeout(&task_exit_wq, t->state == TASK_ZOMBIE && !t->on_cpu, WAIT_FOREVER);
    if (r < 0) {
        t->joining = false;
        return -KEINTR;
    }
    if (exit_value) *exit_value = t->exit_value;
    task_free(t);
    return 0;
}

int task_kill(tid_t id) {
    uint64_t flags = spin_lock_irqsave(&tasks_lock);
    struct task *t = find(id);
    int err = 0;
    if (!t) err = -KESRCH;
    else if (t == this_cpu()->idle || t->static_task) err = -KEPERM;
    else if (t->state != TASK_ZOMBIE) t->killed = true;
    /* Woken under tasks_lock, so the task cannot be joined and freed in between (lock order:
     * tasks_lock, then rq_lock). A sleeping task wakes and its wait returns -KEINTR. */
    if (!err && t != task_current()) sched_wake(t);
    spin_unlock_irqrestore(&tasks_lock, flags);
    if (err) return err;
    if (t == task_current()) task_exit(-KEINTR);
    return 0;
}

/* ---- sleeping ---- */

static void wake_timer_fn(struct ktimer *tm, void *arg) {
    (void)tm;
    sched_wake(arg);
}

bool task_should_stop(void) { return task_current()->killed; }

/* The sleep loop: ends early when killed, and with signals too when intr is set. */
static int sleep_until(uint64_t deadline_ns, bool intr) {
    struct task *self = task_current();
    struct ktimer tm = {0};
    for (;;) {
        if (intr ? task_interrupted(self) : self->killed) return -KEINTR;
        if (time_ns() >= deadline_ns) return 0;
        sched_set_sleeping();
        ktimer_start(&tm, deadline_ns, wake_timer_fn, self);
        schedule();
        ktimer_cancel(&tm);
    }
}

int task_sleep_until(uint64_t deadline_ns) { return sleep_until(deadline_ns, false); }
int task_sleep_until_interruptible(uint64_t deadline_ns) { return sleep_until(deadline_ns, true); }

int task_sleep_ns(uint64_t ns) {
    if (ns == 0) {
        task_yield();
        return task_current()->killed ? -KEINTR : 0;
    }
    uint64_t now = time_ns();
    return task_sleep_until(now + ns < now ? UINT64_MAX - 1 : now + ns);
}

/* Sleeps until woken by sched_wake or until the deadline (wait.c's low-level step; the
 * caller has already marked itself sleeping with wait_prepare). */
int wait_sleep_until(uint64_t deadline_ns) {
    struct task *self = task_current();
    struct ktimer tm = {0};
    if (deadline_ns != WAIT_FOREVER) ktimer_start(&tm, deadline_ns, wake_timer_fn, self);
    schedule();
    if (deadline_ns != WAIT_FOREVER) ktimer_cancel(&tm);
    return task_interrupted(self) ? -KEINTR : 0;
}

/* ---- information ---- */

size_t task_stack_used(const struct task *t) {
    const uint8_t *p = (const uint8_t *)(uintptr_t)t->stack_base;
    size_t size = t->static_task ? (size_t)(boot_stack_bottom + 65536 - (char *)p) : KSTACK_SIZE;
    size_t untouched = 0;
    while (untouched < size && p[untouched] == STACK_FILL) untouched++;
    return size - untouched;
}

void task_for_each(void (*fn)(const struct task *t, void *ctx), void *ctx) {
    uint64_t flags = spin_lock_irqsave(&tasks_lock);
    for (struct task *t = all_tasks; t; t = t->all_next) fn(t, ctx);
    spin_unlock_irqrestore(&tasks_lock, flags);
}

int task_count(void) { return live_tasks; }

const char *task_state_name(int state) {
    switch (state) {
    case TASK_RUNNABLE: return "runnable";
    case TASK_SLEEPING: return "sleeping";
    case TASK_ZOMBIE: return "zombie";
    default: return "?";
    }
}

/* ---- stack overflow ---- */

bool sched_handle_stack_overflow(uint64_t fault_addr, uint64_t rsp, uint64_t rflags) {
    struct task *t = task_current();
    if (!t) return false;
    bool in_guard = (fault_addr >= t->guard_base && fault_addr < t->stack_base) ||
                    (rsp >= t->guard_base && rsp < t->stack_base);
    if (!in_guard) return false;
    printk(LOG_ERR, "kernel stack overflow in task %s (id %d): fault at %016llx, stack %016llx-%016llx\n",
           t->name, t->id, (unsigned long long)fault_addr, (unsigned long long)t->stack_base,
           (unsigned long long)(t->stack_base + KSTACK_SIZE));
    if (t->static_task || t == this_cpu()->idle) return false; /* cannot end these: panic */
    /* Ending the task is only safe where it could have been preempted: interrupts on (so no
     * spinlock held), not inside an interrupt handler, preemption allowed. Otherwise a lock,
     * an unfinished interrupt or the scheduler itself would be left broken: panic instead. */
    struct cpu *c = this_cpu();
    if (!(rflags & (1u << 9)) || c->irq_depth > 0 || c->preempt_count > 0) {
        printk(LOG_ERR, "the overflow happened with interrupts off or inside an interrupt handler: cannot recover\n");
        return false;
    }
    task_exit(-KEFAULT);
}

/* ---- boot ---- */

/* Makes the boot flow task 0 ("kmain") and creates the idle task (sched.c). */
struct task *task_setup_boot(struct cpu *c, int64_t (*idle_fn)(void *)) {
    struct task *b = &boot_task;
    strlcpy(b->name, "kmain", sizeof(b->name));
    b->id = 0;
    b->state = TASK_RUNNABLE;
    b->prio = PRIO_NORMAL;
    b->on_cpu = true;
    b->static_task = true;
    b->detached = true;
    b->stack_slot = -1;
    b->stack_base = (uint64_t)(uintptr_t)boot_stack_bottom;
    b->guard_base = (uint64_t)(uintptr_t)boot_stack_guard;
    b->slice_end_ns = UINT64_MAX;
    b->switched_in_tsc = rdtsc();
    b->cpu = c;
    /* Mark the untouched part of the boot stack so its high-water mark can be measured. */
    uint8_t *sp = __builtin_frame_address(0);
    memset(boot_stack_bottom, STACK_FILL, (size_t)(sp - 1024 - (uint8_t *)boot_stack_bottom));
    all_tasks = b;
    live_tasks = 1;
    c->current = b;
    vmm_prepare_kernel_range(KSTACK_REGION, (uint64_t)KSTACK_SLOTS * KSTACK_SLOT_SIZE);

    /* The idle task: built like any other, but never queued; the scheduler picks it when
     * the run queues are empty. */
    struct task *idle = task_build("idle", idle_fn, NULL, PRIO_NORMAL, 0);
    if (!idle) panic("sched: no memory for the idle task");
    idle->cpu = c;
    task_register(idle);
    return idle;
}
