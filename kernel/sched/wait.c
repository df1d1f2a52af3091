/* wait.c: wait queues (the contract is in wait.h). A waiter puts itself on the queue and
 * marks itself sleeping before it checks its condition (wait_prepare), so a wake_up that
 * comes between the check and the sleep finds it sleeping and makes it runnable: no lost
 * wake-ups. wait_finish takes it off the queue on every exit path. */
#include "types.h"
#include "wait.h"
#include "sched.h"

void sched_set_sleeping(void);
void sched_set_running(void);

void wait_queue_init(struct wait_queue *wq, const char *name) {
    spin_init(&wq->lock, name);
    wq->head = wq->tail = NULL;
    wq->name = name;
}

void wait_prepare(struct wait_queue *wq, struct wait_entry *e) {
    e->task = task_current();
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    if (!e->queued) {
        e->next = NULL;
        e->prev = wq->tail;
        if (wq->tail) wq->tail->next = e;
        else wq->head = e;
        wq->tail = e;
        e->queued = true;
    }
    e->task->wait_entry = e;
    spin_unlock_irqrestore(&wq->lock, flags);
    sched_set_sleeping();
}

void wait_finish(struct wait_queue *wq, struct wait_entry *e) {
    sched_set_running();
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    if (e->queued) {
        if (e->prev) e->prev->next = e->next;
        else wq->head = e->next;
        if (e->next) e->next->prev = e->prev;
        else wq->tail = e->prev;
        e->next = e->prev = NULL;
        e->queued = false;
    }
    if (e->task && e->task->wait_entry == e) e->task->wait_entry = NULL;
    spin_unlock_irqrestore(&wq->lock, flags);
}

int wake_up_all_locked(struct wait_queue *wq) {
    int n = 0;
    for (struct wait_entry *e = wq->head; e; e = e->next)
        if (sched_wake(e->task)) n++;
    return n;
}

int wake_up_all(struct wait_queue *wq) {
    int n = 0;
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    for (struct wait_entry *e = wq->head; e; e = e->next)
        if (sched_wake(e->task)) n++;
    spin_unlock_irqrestore(&wq->lock, flags);
    sched_preempt_check(); /* a woken task of higher priority runs now */
    return n;
}

/* Wakes the first waiter that is really asleep: one already made runnable (by an earlier
 * wake, a timeout or a kill) must not absorb the wake-up meant for the next one. */
int wake_up_one(struct wait_queue *wq) {
    int n = 0;
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    for (struct wait_entry *e = wq->head; e && !n; e = e->next)
        if (sched_wake(e->task)) n = 1;
    spin_unlock_irqrestore(&wq->lock, flags);
    sched_preempt_check();
    return n;
}

int wait_queue_length(struct wait_queue *wq) {
    int n = 0;
    uint64_t flags = spin_lock_irqsave(&wq->lock);
    for (struct wait_entry *e = wq->head; e; e = e->next) n++;
    spin_unlock_irqrestore(&wq->lock, flags);
    return n;
}
