/* sync.c: sleeping mutexes and counting semaphores on top of wait queues (sync.h). The
 * acquire step is a condition of wait_event_timeout, so the timeout contract (0 never
 * sleeps, WAIT_FOREVER has no deadline, a killed task gets -KEINTR) carries over. */
#include "types.h"
#include "sync.h"
#include "printk.h"

void mutex_init(struct mutex *m, const char *name) {
    spin_init(&m->lock, name);
    m->owner = NULL;
    wait_queue_init(&m->waiters, name);
}

bool mutex_trylock(struct mutex *m) {
    uint64_t flags = spin_lock_irqsave(&m->lock);
    bool got = m->owner == NULL;
    if (got) m->owner = task_current();
    spin_unlock_irqrestore(&m->lock, flags);
    return got;
}

int mutex_lock(struct mutex *m) {
    (void)wait_event_timeout_nokill(&m->waiters, mutex_trylock(m), WAIT_FOREVER);
    return 0;
}

int mutex_lock_killable(struct mutex *m) {
    int r = wait_event_killable_timeout(&m->waiters, mutex_trylock(m), WAIT_FOREVER);
    return r == 1 ? 0 : r;
}

void mutex_unlock(struct mutex *m) {
    uint64_t flags = spin_lock_irqsave(&m->lock);
    if (m->owner != task_current()) {
        spin_unlock_irqrestore(&m->lock, flags);
        printk(LOG_ERR, "mutex %s: unlock by task %s, which does not hold it; ignored\n",
               m->lock.name ? m->lock.name : "?", task_current()->name);
        return;
    }
    m->owner = NULL;
    spin_unlock_irqrestore(&m->lock, flags);
    wake_up_one(&m->waiters);
}

void sem_init(struct semaphore *s, int64_t count, const char *name) {
    spin_init(&s->lock, name);
    s->count = count;
    wait_queue_init(&s->waiters, name);
}

static bool sem_try(struct semaphore *s) {
    uint64_t flags = spin_lock_irqsave(&s->lock);
    bool got = s->count > 0;
    if (got) s->count--;
    spin_unlock_irqrestore(&s->lock, flags);
    return got;
}

int sem_down_timeout(struct semaphore *s, uint64_t timeout_ns) {
    return wait_event_killable_timeout(&s->waiters, sem_try(s), timeout_ns);
}

void sem_up(struct semaphore *s) {
    uint64_t flags = spin_lock_irqsave(&s->lock);
    s->count++;
    spin_unlock_irqrestore(&s->lock, flags);
    wake_up_one(&s->waiters);
}
