/* ktimer.c: kernel timers and the one-shot timer interrupt (docs/scheduler.md).
 *
 * Pending timers are kept in deadline order (a sorted list: O(n) insertion, O(1) expiry,
 * fine for the few dozen timers a kernel of this size has; a timer wheel can replace it
 * when the network stack brings thousands). After every change, and after every timer
 * interrupt, the LAPIC timer is programmed one-shot for the earliest of the next timer
 * deadline and the running task's slice end; with neither, it is stopped, so an idle CPU
 * takes no timer interrupts at all. Without a LAPIC timer the PIT ticks at 1 kHz and every
 * tick checks the list. Callbacks run in interrupt context, outside the list lock. */
#include "types.h"
#include "cpu.h"
#include "ktimer.h"
#include "spinlock.h"
#include "time.h"
#include "irq.h"
#include "printk.h"

void sched_timer_tick(uint64_t now_ns);
uint64_t sched_next_deadline(void);
void sched_irq_exit(void);

struct timer_base {
    spinlock_t lock;
    struct ktimer *head;
};

static struct timer_base base = {SPINLOCK_INIT("ktimer"), NULL}; /* one list; one per CPU with SMP */
static volatile uint64_t interrupts;
static bool started;

static void remove_locked(struct ktimer *t) {
    for (struct ktimer **pp = &base.head; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->next = NULL;
    t->pending = false;
}

void ktimer_reprogram(void) {
    if (!started) return;
    /* Read the earliest deadline and program the hardware as one step under the lock: an
     * interrupt in between could otherwise program an earlier deadline that this call would
     * then overwrite with a stale later one. */
    uint64_t flags = spin_lock_irqsave(&base.lock);
    uint64_t next = base.head ? base.head->deadline_ns : UINT64_MAX;
    uint64_t slice = sched_next_deadline();
    if (slice < next) next = slice;
    if (next == UINT64_MAX) {
        time_program_event(UINT64_MAX);
    } else {
        uint64_t now = time_ns();
        time_program_event(next > now ? next - now : 0);
    }
    spin_unlock_irqrestore(&base.lock, flags);
}

void ktimer_start(struct ktimer *t, uint64_t deadline_ns, void (*fn)(struct ktimer *, void *), void *arg) {
    uint64_t flags = spin_lock_irqsave(&base.lock);
    if (t->pending) remove_locked(t);
    t->deadline_ns = deadline_ns;
    t->fn = fn;
    t->arg = arg;
    struct ktimer **pp = &base.head;
    while (*pp && (*pp)->deadline_ns <= deadline_ns) pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->pending = true;
    bool first = base.head == t;
    spin_unlock_irqrestore(&base.lock, flags);
    if (first) ktimer_reprogram();
}

bool ktimer_cancel(struct ktimer *t) {
    uint64_t flags = spin_lock_irqsave(&base.lock);
    bool was = t->pending;
    if (was) remove_locked(t);
    spin_unlock_irqrestore(&base.lock, flags);
    return was;
}

int ktimer_pending_count(void) {
    uint64_t flags = spin_lock_irqsave(&base.lock);
    int n = 0;
    for (struct ktimer *t = base.head; t; t = t->next) n++;
    spin_unlock_irqrestore(&base.lock, flags);
    return n;
}

uint64_t ktimer_interrupts(void) { return interrupts; }

/* The timer interrupt: runs every expired timer, lets the scheduler end a slice, re-arms. */
static void timer_interrupt(struct irq_frame *f, void *arg) {
    (void)f;
    (void)arg;
    interrupts++;
    uint64_t now = time_ns();
    for (;;) {
        spin_lock(&base.lock);
        struct ktimer *t = base.head;
        if (!t || t->deadline_ns > now) {
            spin_unlock(&base.lock);
            break;
        }
        base.head = t->next;
        t->next = NULL;
        t->pending = false;
        spin_unlock(&base.lock);
        t->fn(t, t->arg);
    }
    sched_timer_tick(now);
    ktimer_reprogram();
}

void ktimer_init(void) {
    started = true;
    time_set_event_mode(timer_interrupt, ktimer_reprogram);
    printk(LOG_INFO, "ktimer: timer events from the %s\n", time_tick_source());
}
