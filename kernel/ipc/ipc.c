/* ipc.c: SABOS message queues, the core shared by the system calls and kernel users.
 * The contract is in ipc.h and docs/ipc.md; the timeout rules are wait.h's.
 *
 * Mailboxes sit in a hash table keyed by id under one spinlock (table_lock). A mailbox is
 * reference-counted: the table holds one reference while it is linked, and every sender or
 * receiver that works on it holds one, so closing a mailbox (or a process exit) never frees
 * it under a task that is waiting on it. The message queue of a mailbox is protected by the
 * lock of its wait queue (mb->wq.lock): a receiver's wait condition takes that lock to look for
 * a matching message, and a sender enqueues and wakes the receivers under the same lock
 * (wake_up_all_locked), so no wake-up is lost and the hot path takes one lock per message.
 *
 * Process mailboxes are created lazily. A send to a pid whose process is exiting must not
 * leave a mailbox behind (a later process with the same pid would receive stale messages):
 * ipc_process_exit bumps exit_seq under table_lock, and a creator that saw the process alive
 * inserts the new mailbox only if exit_seq has not moved since, else it looks again. */
#include "ipc.h"
#include "wait.h"
#include "sched.h"
#include "mm.h"
#include "kstring.h"
#include "spinlock.h"

struct ipc_msg {
    struct ipc_msg *next;
    int32_t sender;
    uint32_t type;
    uint32_t len;
    uint32_t seq;            /* arrival order in its mailbox (wraps; compared by difference) */
    uint8_t data[];
};

struct mailbox {
    int32_t id;
    int32_t refs;            /* atomic; the table's link counts as one */
    struct mailbox *hnext;   /* hash chain (table_lock) */
    struct wait_queue wq;    /* receivers; wq.lock also guards everything below */
    struct ipc_msg *head, *tail;
    uint32_t count;
    uint32_t next_seq;
    bool dead;               /* closed: receivers leave with -KESRCH, sends fail */
};

#define IPC_BUCKETS 64u
static spinlock_t table_lock = SPINLOCK_INIT("ipc_table");
static struct mailbox *buckets[IPC_BUCKETS];
static uint64_t exit_seq;    /* bumped by every ipc_process_exit (table_lock) */
static int open_count;

static inline uint32_t bucket_of(int32_t id) { return ((uint32_t)id * 2654435761u) >> 26; }

/* Finds mailbox id with table_lock held; NULL when none. */
static struct mailbox *table_find_locked(int32_t id) {
    for (struct mailbox *mb = buckets[bucket_of(id)]; mb; mb = mb->hnext)
        if (mb->id == id) return mb;
    return NULL;
}

static void mb_get(struct mailbox *mb) { __atomic_add_fetch(&mb->refs, 1, __ATOMIC_RELAXED); }

static void free_chain(struct ipc_msg *m) {
    while (m) {
        struct ipc_msg *n = m->next;
        kfree(m);
        m = n;
    }
}

/* Drops a reference; the last one frees the (already unlinked) mailbox and its messages. */
static void mb_put(struct mailbox *mb) {
    if (__atomic_sub_fetch(&mb->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    free_chain(mb->head);
    kfree(mb);
}

/* The mailbox id with a new reference, or NULL. */
static struct mailbox *mb_lookup(int32_t id) {
    uint64_t fl = spin_lock_irqsave(&table_lock);
    struct mailbox *mb = table_find_locked(id);
    if (mb) mb_get(mb);
    spin_unlock_irqrestore(&table_lock, fl);
    return mb;
}

static struct mailbox *mb_new(int32_t id) {
    struct mailbox *mb = kzalloc(sizeof(*mb));
    if (!mb) return NULL;
    mb->id = id;
    mb->refs = 1; /* the table's */
    wait_queue_init(&mb->wq, "ipc_mailbox");
    return mb;
}

/* Inserts mb (refs 1 = the table's) with table_lock held. */
static void table_insert_locked(struct mailbox *mb) {
    uint32_t b = bucket_of(mb->id);
    mb->hnext = buckets[b];
    buckets[b] = mb;
    open_count++;
}

/* Unlinks mailbox id with table_lock held; returns it (still holding the table's reference). */
static struct mailbox *table_remove_locked(int32_t id) {
    for (struct mailbox **pp = &buckets[bucket_of(id)]; *pp; pp = &(*pp)->hnext) {
        struct mailbox *mb = *pp;
        if (mb->id != id) continue;
        *pp = mb->hnext;
        mb->hnext = NULL;
        open_count--;
        return mb;
    }
    return NULL;
}

/* True when pid is a live process. A process whose last thread has gone (nthreads 0) counts
 * as dead: the exit path calls ipc_process_exit after that, before it marks the zombie. */
static bool pid_alive(int32_t pid) {
    struct process *p = proc_find(pid);
    return p && p->state == PROC_ALIVE && p->nthreads > 0;
}

/* The mailbox of a live process with a reference, created when missing. -KESRCH when the
 * process is not alive, -KENOMEM, or -KEAGAIN when processes kept exiting under us. */
static int mb_get_or_create_pid(int32_t pid, struct mailbox **out) {
    if (pid <= 0 || pid >= IPC_KERNEL_ID_BASE) return -KESRCH; /* never a process's */
    struct mailbox *fresh = NULL;
    for (int tries = 0; tries < 16; tries++) {
        uint64_t fl = spin_lock_irqsave(&table_lock);
        struct mailbox *mb = table_find_locked(pid);
        if (mb) mb_get(mb);
        uint64_t seq = exit_seq;
        spin_unlock_irqrestore(&table_lock, fl);
        if (mb) {
            if (fresh) mb_put(fresh);
            *out = mb;
            return 0;
        }
        if (!pid_alive(pid)) {
            if (fresh) mb_put(fresh);
            return -KESRCH;
        }
        if (!fresh && !(fresh = mb_new(pid))) return -KENOMEM;
        fl = spin_lock_irqsave(&table_lock);
        if (exit_seq == seq && !table_find_locked(pid)) {
            table_insert_locked(fresh);
            mb_get(fresh);
            spin_unlock_irqrestore(&table_lock, fl);
            *out = fresh;
            return 0;
        }
        spin_unlock_irqrestore(&table_lock, fl); /* an exit or a creator raced: look again */
    }
    if (fresh) mb_put(fresh);
    return -KEAGAIN;
}

/* Marks mb dead, takes its messages off and wakes its receivers; frees the messages and
 * drops the table's reference. mb is already unlinked. */
static void mb_kill(struct mailbox *mb) {
    uint64_t fl = spin_lock_irqsave(&mb->wq.lock);
    mb->dead = true;
    struct ipc_msg *chain = mb->head;
    mb->head = mb->tail = NULL;
    mb->count = 0;
    wake_up_all_locked(&mb->wq);
    spin_unlock_irqrestore(&mb->wq.lock, fl);
    free_chain(chain);
    mb_put(mb);
}

int ipc_mailbox_open(int32_t id) {
    if (id <= 0) return -KEINVAL;
    struct mailbox *mb = mb_new(id);
    if (!mb) return -KENOMEM;
    uint64_t fl = spin_lock_irqsave(&table_lock);
    bool exists = table_find_locked(id) != NULL;
    if (!exists) table_insert_locked(mb);
    spin_unlock_irqrestore(&table_lock, fl);
    if (exists) {
        kfree(mb);
        return -KEEXIST;
    }
    return 0;
}

int ipc_mailbox_close(int32_t id) {
    uint64_t fl = spin_lock_irqsave(&table_lock);
    struct mailbox *mb = id > 0 ? table_remove_locked(id) : NULL;
    spin_unlock_irqrestore(&table_lock, fl);
    if (!mb) return -KESRCH;
    mb_kill(mb);
    return 0;
}

void ipc_process_exit(pid_k pid) {
    uint64_t fl = spin_lock_irqsave(&table_lock);
    exit_seq++;
    struct mailbox *mb = pid > 0 ? table_remove_locked(pid) : NULL;
    spin_unlock_irqrestore(&table_lock, fl);
    if (mb) mb_kill(mb);
}

int ipc_mailbox_count(void) {
    uint64_t fl = spin_lock_irqsave(&table_lock);
    int n = open_count;
    spin_unlock_irqrestore(&table_lock, fl);
    return n;
}

struct ipc_msg *ipc_msg_alloc(size_t len, void **payload) {
    if (len > IPC_MSG_MAX) return NULL;
    struct ipc_msg *m = kmalloc(sizeof(*m) + (len ? len : 1));
    if (!m) return NULL;
    *payload = m->data;
    return m;
}

void ipc_msg_free(struct ipc_msg *m) { kfree(m); }

const void *ipc_msg_payload(const struct ipc_msg *m) { return m->data; }

/* Appends m to mb and wakes its receivers: 0, -KEAGAIN (full) or -KESRCH (closed). */
static int mb_enqueue(struct mailbox *mb, struct ipc_msg *m) {
    uint64_t fl = spin_lock_irqsave(&mb->wq.lock);
    int r = 0;
    if (mb->dead) {
        r = -KESRCH;
    } else if (mb->count >= IPC_QUEUE_MAX) {
        r = -KEAGAIN;
    } else {
        m->next = NULL;
        m->seq = mb->next_seq++;
        if (mb->tail) mb->tail->next = m;
        else mb->head = m;
        mb->tail = m;
        mb->count++;
        if (mb->wq.head) wake_up_all_locked(&mb->wq);
    }
    spin_unlock_irqrestore(&mb->wq.lock, fl);
    if (r == 0) sched_preempt_check();
    return r;
}

int ipc_send_msg(int32_t from, int32_t to, uint32_t type, struct ipc_msg *m, size_t len,
                 bool create_for_pid) {
    int r;
    struct mailbox *mb = NULL;
    if (to <= 0) r = -KEINVAL;
    else if (type == 0) r = -KEINVAL;
    else if (len > IPC_MSG_MAX) r = -KEMSGSIZE;
    else if (create_for_pid) r = mb_get_or_create_pid(to, &mb);
    else r = (mb = mb_lookup(to)) ? 0 : -KESRCH;
    if (r == 0) {
        m->sender = from;
        m->type = type;
        m->len = (uint32_t)len;
        r = mb_enqueue(mb, m);
        mb_put(mb);
        if (r == 0) return 0;
    }
    ipc_msg_free(m);
    return r;
}

int ipc_send_k(int32_t from, int32_t to, uint32_t type, const void *kbuf, size_t len) {
    if (type == 0 || to <= 0) return -KEINVAL;
    if (len > IPC_MSG_MAX) return -KEMSGSIZE;
    void *payload;
    struct ipc_msg *m = ipc_msg_alloc(len, &payload);
    if (!m) return -KENOMEM;
    if (len) memcpy(payload, kbuf, len);
    return ipc_send_msg(from, to, type, m, len, false);
}

/* What a receive looks for and what it found (the wait condition fills it in). */
struct recv_req {
    int32_t from;
    uint32_t type;
    size_t len;
    struct ipc_msg *msg;      /* taken off the queue */
    struct ipc_msg_hdr hdr;
    int64_t result;
};

/* The wait condition: true when the receive is decided (a message taken, a message too long
 * for the buffer, or the mailbox closed). Cheap, never sleeps: at most IPC_QUEUE_MAX steps. */
static bool try_take(struct mailbox *mb, struct recv_req *rq) {
    uint64_t fl = spin_lock_irqsave(&mb->wq.lock);
    bool done = false;
    if (mb->dead) {
        rq->result = -KESRCH;
        done = true;
    } else {
        struct ipc_msg *prev = NULL, *m = mb->head;
        for (; m; prev = m, m = m->next)
            if ((!rq->from || m->sender == rq->from) && (!rq->type || m->type == rq->type)) break;
        if (m) {
            rq->hdr = (struct ipc_msg_hdr){m->sender, m->type, m->len, 0};
            done = true;
            if (m->len > rq->len) {
                rq->result = -KEMSGSIZE; /* stays queued */
            } else {
                if (prev) prev->next = m->next;
                else mb->head = m->next;
                if (mb->tail == m) mb->tail = prev;
                m->next = NULL;
                mb->count--;
                rq->msg = m;
                rq->result = m->len;
            }
        }
    }
    spin_unlock_irqrestore(&mb->wq.lock, fl);
    return done;
}

/* Waits on mb (referenced; the reference is dropped here) for the message rq asks for. */
static int64_t recv_wait(struct mailbox *mb, struct recv_req *rq, uint64_t timeout_ns) {
    int w = wait_event_timeout(&mb->wq, try_take(mb, rq), timeout_ns);
    mb_put(mb);
    if (w == 0) return timeout_ns == 0 ? -KEAGAIN : -KETIMEDOUT;
    if (w < 0) return w;
    return rq->result;
}

int64_t ipc_recv_msg(int32_t self, int32_t from, uint32_t type, struct ipc_msg_hdr *hdr,
                     size_t len, uint64_t timeout_ns, struct ipc_msg **out) {
    *out = NULL;
    if (from < 0) return -KEINVAL;
    struct mailbox *mb;
    int r = mb_get_or_create_pid(self, &mb);
    if (r < 0) return r;
    struct recv_req rq = {.from = from, .type = type, .len = len};
    int64_t res = recv_wait(mb, &rq, timeout_ns);
    if (res >= 0 || res == -KEMSGSIZE) {
        if (hdr) *hdr = rq.hdr;
        *out = rq.msg;
    }
    return res;
}

int64_t ipc_recv_k(int32_t self, int32_t from, uint32_t type, struct ipc_msg_hdr *hdr, void *kbuf,
                   size_t len, uint64_t timeout_ns) {
    if (from < 0 || self <= 0) return -KEINVAL;
    struct mailbox *mb = mb_lookup(self);
    if (!mb) return -KESRCH;
    struct recv_req rq = {.from = from, .type = type, .len = len};
    int64_t res = recv_wait(mb, &rq, timeout_ns);
    if (res >= 0 || res == -KEMSGSIZE) {
        if (hdr) *hdr = rq.hdr;
        if (rq.msg) {
            if (rq.msg->len) memcpy(kbuf, rq.msg->data, rq.msg->len);
            ipc_msg_free(rq.msg);
        }
    }
    return res;
}

void ipc_msg_requeue(int32_t self, struct ipc_msg *m) {
    struct mailbox *mb = mb_lookup(self);
    if (!mb) {
        ipc_msg_free(m);
        return;
    }
    uint64_t fl = spin_lock_irqsave(&mb->wq.lock);
    bool dead = mb->dead;
    if (!dead) {
        /* Back where it was in arrival order, so every order a receiver can observe holds.
         * The queue may exceed IPC_QUEUE_MAX by the messages put back this way. */
        struct ipc_msg *prev = NULL, *cur = mb->head;
        while (cur && (int32_t)(cur->seq - m->seq) < 0) {
            prev = cur;
            cur = cur->next;
        }
        m->next = cur;
        if (prev) prev->next = m;
        else mb->head = m;
        if (!cur) mb->tail = m;
        mb->count++;
        if (mb->wq.head) wake_up_all_locked(&mb->wq);
    }
    spin_unlock_irqrestore(&mb->wq.lock, fl);
    if (dead) ipc_msg_free(m);
    mb_put(mb);
}

int ipc_stat_k(int32_t id, struct ipc_stat *out) {
    if (id <= 0) return -KEINVAL;
    *out = (struct ipc_stat){0, IPC_QUEUE_MAX, IPC_MSG_MAX, 0};
    struct mailbox *mb = mb_lookup(id);
    if (!mb) return 0;
    uint64_t fl = spin_lock_irqsave(&mb->wq.lock);
    out->queued = mb->count;
    for (struct wait_entry *e = mb->wq.head; e; e = e->next) out->waiters++;
    spin_unlock_irqrestore(&mb->wq.lock, fl);
    mb_put(mb);
    return 0;
}
