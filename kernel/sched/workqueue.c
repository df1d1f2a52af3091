/* workqueue.c: deferred work. Interrupt handlers queue a struct work; the "kworker" task, at
 * high priority so it runs before background work, takes items in FIFO order and runs them
 * in task context, where they may sleep. */
#include "types.h"
#include "workqueue.h"
#include "sched.h"
#include "wait.h"
#include "printk.h"
#include "panic.h"

static spinlock_t lock = SPINLOCK_INIT("workqueue");
static struct work *head, *tail;
static struct wait_queue kworker_wq = WAIT_QUEUE_INIT("kworker");
static volatile uint64_t completed;

void work_init(struct work *w, void (*fn)(struct work *w)) {
    w->fn = fn;
    w->next = NULL;
    w->queued = false;
}

bool work_queue(struct work *w) {
    uint64_t flags = spin_lock_irqsave(&lock);
    bool now = !w->queued;
    if (now) {
        w->queued = true;
        w->next = NULL;
        if (tail) tail->next = w;
        else head = w;
        tail = w;
    }
    spin_unlock_irqrestore(&lock, flags);
    if (now) wake_up_one(&kworker_wq);
    return now;
}

static struct work *take(void) {
    uint64_t flags = spin_lock_irqsave(&lock);
    struct work *w = head;
    if (w) {
        head = w->next;
        if (!head) tail = NULL;
        w->next = NULL;
        w->queued = false; /* it may be queued again while it runs */
    }
    spin_unlock_irqrestore(&lock, flags);
    return w;
}

static int64_t kworker(void *arg) {
    (void)arg;
    for (;;) {
        struct work *w = NULL;
        wait_event(&kworker_wq, (w = take()) != NULL); /* evaluated once per wake-up */
        if (!w) continue; /* only when killed, which kworker never is */
        w->fn(w);
        completed++;
    }
    return 0;
}

uint64_t workqueue_completed(void) { return completed; }

void workqueue_init(void) {
    if (task_create_detached("kworker", kworker, NULL, PRIO_HIGH) < 0) panic("workqueue: cannot start kworker");
}
