/* workqueue.h: deferred work (kernel/sched/workqueue.c). Interrupt handlers do the minimum
 * and queue a work item; a high-priority kernel task ("kworker") runs the items in order. */
#pragma once
#include "types.h"

struct work {
    void (*fn)(struct work *w);
    struct work *next;
    volatile bool queued;
};

/* Sets up the work item (does not queue it). */
void work_init(struct work *w, void (*fn)(struct work *w));
/* Queues w unless it is already queued; safe from interrupt handlers. True if queued now. */
bool work_queue(struct work *w);
/* Starts the kworker task. Needs sched_init. */
void workqueue_init(void);
/* Items run since boot. */
uint64_t workqueue_completed(void);
