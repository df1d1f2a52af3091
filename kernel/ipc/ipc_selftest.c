/* ipc_selftest.c: self-tests of the IPC message queues (group `ipc`), against the contract in
 * ipc.h / docs/ipc.md, with kernel tasks as endpoints on kernel mailboxes: 1000 ping-pong
 * round trips intact and in order, timeout 0 returning at once, a 100 ms timeout, receive
 * filtered by sender and by type leaving the rest queued in order, a full queue, oversized
 * messages, bad arguments, a killed receiver, a closed mailbox waking its receiver, two
 * concurrent senders keeping their order, a message put back after a failed copy-out
 * returning to its place, and the memory of queued messages coming back on close. The system
 * calls are tested from a test process (proc_test_enter) with buffers in its user memory:
 * send and receive, stat, bad and read-only pointers (-EFAULT, the message stays queued),
 * argument errors, a user send never reaching a kernel mailbox, and -EPERM for kernel tasks. */
#include "ipc.h"
#include "selftest.h"
#include "sched.h"
#include "time.h"
#include "mm.h"
#include "kstring.h"
#include "printk.h"
#include "kprintf.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"

#define MS 1000000ull
#define ID_A (IPC_KERNEL_ID_BASE + 101)
#define ID_B (IPC_KERNEL_ID_BASE + 102)
#define ID_C (IPC_KERNEL_ID_BASE + 103)
#define PID_LIKE 0x3fff0001 /* a pid-range id no process has during the tests */
#define T_QUIT 0xdead

static uint8_t sbuf[IPC_MSG_MAX + 16], rbuf[IPC_MSG_MAX + 16];

/* Waits (bounded, 2 s) until n tasks block in a receive on mailbox id. */
static bool wait_for_waiters(int32_t id, uint32_t n) {
    for (int i = 0; i < 2000; i++) {
        struct ipc_stat st;
        if (ipc_stat_k(id, &st) == 0 && st.waiters >= n) return true;
        task_sleep_ns(MS);
    }
    return false;
}

/* ---- ping-pong ---- */
static uint8_t pong_buf[IPC_MSG_MAX];

/* Echoes every message on ID_B back to its sender until T_QUIT; exit value: messages echoed,
 * or a negative error. */
static int64_t pong_task(void *arg) {
    (void)arg;
    int64_t echoed = 0;
    for (;;) {
        struct ipc_msg_hdr h;
        int64_t n = ipc_recv_k(ID_B, 0, 0, &h, pong_buf, sizeof(pong_buf), 5000 * MS);
        if (n < 0) return n;
        if (h.type == T_QUIT) return echoed;
        int r = ipc_send_k(ID_B, h.sender, h.type, pong_buf, (size_t)n);
        if (r < 0) return r;
        echoed++;
    }
}

static size_t pp_len(int i) { return 4 + (size_t)(i * 37) % 509; }

SELFTEST_TIMEOUT(ipc, ping_pong_1000_in_order, 30000) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0 && ipc_mailbox_open(ID_B) == 0, "open failed");
    tid_t pong = task_create("st-ipc-pong", pong_task, NULL, PRIO_NORMAL);
    int bad = 0, first_bad = -1;
    int64_t err = 0;
    uint64_t t0 = time_ns();
    for (int i = 0; i < 1000 && pong >= 0 && !err; i++) {
        size_t len = pp_len(i);
        for (size_t k = 0; k < len; k++) sbuf[k] = (uint8_t)(i * 7 + k);
        int s = ipc_send_k(ID_A, ID_B, (uint32_t)i + 1, sbuf, len);
        struct ipc_msg_hdr h = {0};
        int64_t n = s < 0 ? s : ipc_recv_k(ID_A, ID_B, 0, &h, rbuf, sizeof(rbuf), 5000 * MS);
        if (n < 0) {
            err = n;
            first_bad = i;
        } else if ((size_t)n != len || h.len != len || h.sender != ID_B || h.type != (uint32_t)i + 1 ||
                   memcmp(sbuf, rbuf, len) != 0) {
            if (!bad++) first_bad = i;
        }
    }
    uint64_t dt = time_ns() - t0;
    if (pong >= 0) ipc_send_k(ID_A, ID_B, T_QUIT, NULL, 0);
    int64_t echoed = -1;
    if (pong >= 0) task_join(pong, &echoed);
    ipc_mailbox_close(ID_A);
    ipc_mailbox_close(ID_B);
    ST_ASSERT(t, pong >= 0, "task_create = %d", pong);
    ST_ASSERT(t, err == 0, "round trip %d failed with %ld", first_bad, (long)err);
    ST_ASSERT(t, bad == 0, "%d replies wrong, first at %d", bad, first_bad);
    ST_ASSERT(t, echoed == 1000, "pong echoed %ld", (long)echoed);
    printk(LOG_INFO, "ipc: 1000 round trips in %lu us (%lu ns each)\n", (unsigned long)(dt / 1000),
           (unsigned long)(dt / 1000));
}

SELFTEST(ipc, timeout_zero_returns_at_once) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    uint64_t best = UINT64_MAX;
    int64_t r[5];
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = time_ns();
        r[i] = ipc_recv_k(ID_A, 0, 0, NULL, rbuf, sizeof(rbuf), 0);
        uint64_t dt = time_ns() - t0;
        if (dt < best) best = dt;
    }
    ipc_send_k(ID_C, ID_A, 9, "x", 1);
    struct ipc_msg_hdr h;
    int64_t got = ipc_recv_k(ID_A, 0, 0, &h, rbuf, sizeof(rbuf), 0); /* something queued: taken */
    int64_t again = ipc_recv_k(ID_A, ID_C, 0, &h, rbuf, sizeof(rbuf), 0);
    ipc_mailbox_close(ID_A);
    for (int i = 0; i < 5; i++) ST_ASSERT(t, r[i] == -KEAGAIN, "try %d: %ld, want -EAGAIN", i, (long)r[i]);
    ST_ASSERT(t, best < MS, "timeout 0 took %lu ns (want well under 1 ms)", (unsigned long)best);
    ST_ASSERT(t, got == 1 && h.type == 9 && rbuf[0] == 'x', "queued message with timeout 0: %ld", (long)got);
    ST_ASSERT(t, again == -KEAGAIN, "second try = %ld", (long)again);
}

SELFTEST(ipc, timeout_100ms_is_etimedout) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    ipc_send_k(ID_C, ID_A, 1, "other", 5); /* from another sender: must not end the wait */
    uint64_t t0 = time_ns();
    int64_t r = ipc_recv_k(ID_A, ID_B, 0, NULL, rbuf, sizeof(rbuf), 100 * MS);
    uint64_t dt = time_ns() - t0;
    struct ipc_stat st;
    ipc_stat_k(ID_A, &st);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, r == -KETIMEDOUT, "recv = %ld, want -ETIMEDOUT", (long)r);
    ST_ASSERT(t, dt >= 100 * MS, "returned after %lu ns, before 100 ms", (unsigned long)dt);
    ST_ASSERT(t, dt < 5000 * MS, "returned after %lu ms", (unsigned long)(dt / MS));
    ST_ASSERT(t, st.queued == 1 && st.waiters == 0, "queued %u waiters %u", st.queued, st.waiters);
}

SELFTEST(ipc, recv_from_and_type_filters_keep_order) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    /* X = ID_B, Y = ID_C: x0 y0 x1 y1(type 7) x2 */
    static const struct { int32_t from; uint32_t type; char c; } seq[] = {
        {ID_B, 1, 'a'}, {ID_C, 1, 'p'}, {ID_B, 1, 'b'}, {ID_C, 7, 'q'}, {ID_B, 1, 'c'}};
    int sends = 0;
    for (size_t i = 0; i < ARRAY_SIZE(seq); i++)
        if (ipc_send_k(seq[i].from, ID_A, seq[i].type, &seq[i].c, 1) == 0) sends++;
    char got[8] = {0};
    struct ipc_msg_hdr h;
    int64_t r1 = ipc_recv_k(ID_A, ID_C, 0, &h, &got[0], 1, 0);
    int32_t s1 = h.sender;
    int64_t r2 = ipc_recv_k(ID_A, ID_C, 0, &h, &got[1], 1, 0);
    int64_t none = ipc_recv_k(ID_A, ID_C, 0, &h, &got[7], 1, 0);
    struct ipc_stat st;
    ipc_stat_k(ID_A, &st);
    int64_t r3 = ipc_recv_k(ID_A, 0, 0, &h, &got[2], 1, 0);
    int64_t r4 = ipc_recv_k(ID_A, 0, 0, &h, &got[3], 1, 0);
    int64_t r5 = ipc_recv_k(ID_A, 0, 0, &h, &got[4], 1, 0);
    /* by type: 7 jumps ahead of 1 */
    ipc_send_k(ID_B, ID_A, 1, "m", 1);
    ipc_send_k(ID_B, ID_A, 7, "n", 1);
    int64_t r6 = ipc_recv_k(ID_A, 0, 7, &h, &got[5], 1, 0);
    int64_t r7 = ipc_recv_k(ID_A, ID_B, 1, &h, &got[6], 1, 0);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, sends == 5, "%d of 5 sends succeeded", sends);
    ST_ASSERT(t, r1 == 1 && r2 == 1 && s1 == ID_C, "from Y: %ld %ld (sender %d)", (long)r1, (long)r2, s1);
    ST_ASSERT(t, none == -KEAGAIN, "Y drained, recv = %ld", (long)none);
    ST_ASSERT(t, st.queued == 3, "%u left queued, want 3", st.queued);
    ST_ASSERT(t, r3 == 1 && r4 == 1 && r5 == 1, "recv any: %ld %ld %ld", (long)r3, (long)r4, (long)r5);
    ST_ASSERT(t, r6 == 1 && r7 == 1, "by type: %ld %ld", (long)r6, (long)r7);
    ST_ASSERT(t, memcmp(got, "pqabcnm", 7) == 0, "order %.7s, want pqabcnm", got);
}

SELFTEST(ipc, full_queue_is_eagain) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    int ok = 0;
    for (uint32_t i = 0; i < IPC_QUEUE_MAX; i++)
        if (ipc_send_k(ID_B, ID_A, i + 1, &i, sizeof(i)) == 0) ok++;
    uint64_t t0 = time_ns();
    int full = ipc_send_k(ID_B, ID_A, 99, "z", 1);
    uint64_t dt = time_ns() - t0;
    struct ipc_stat st;
    ipc_stat_k(ID_A, &st);
    uint32_t v = 0;
    int64_t r = ipc_recv_k(ID_A, 0, 0, NULL, &v, sizeof(v), 0);
    int after = ipc_send_k(ID_B, ID_A, 100, "z", 1);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, ok == (int)IPC_QUEUE_MAX, "%d sends of %u fitted", ok, IPC_QUEUE_MAX);
    ST_ASSERT(t, full == -KEAGAIN, "send to a full queue = %d", full);
    ST_ASSERT(t, dt < 50 * MS, "send to a full queue took %lu ns", (unsigned long)dt);
    ST_ASSERT(t, st.queued == IPC_QUEUE_MAX && st.capacity == IPC_QUEUE_MAX && st.msg_max == IPC_MSG_MAX,
              "stat %u/%u max %u", st.queued, st.capacity, st.msg_max);
    ST_ASSERT(t, r == 4 && v == 0, "first message back: %ld, value %u", (long)r, v);
    ST_ASSERT(t, after == 0, "send after one was taken = %d", after);
}

SELFTEST(ipc, oversized_is_emsgsize_and_stays_queued) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    memset(sbuf, 0x5a, sizeof(sbuf));
    int too_big = ipc_send_k(ID_B, ID_A, 1, sbuf, IPC_MSG_MAX + 1);
    int huge = ipc_send_k(ID_B, ID_A, 1, sbuf, SIZE_MAX);
    int max = ipc_send_k(ID_B, ID_A, 2, sbuf, IPC_MSG_MAX);
    struct ipc_msg_hdr h = {0};
    int64_t small = ipc_recv_k(ID_A, 0, 0, &h, rbuf, 10, 0);
    uint32_t hlen = h.len;
    struct ipc_stat st;
    ipc_stat_k(ID_A, &st);
    memset(rbuf, 0, sizeof(rbuf));
    int64_t full = ipc_recv_k(ID_A, 0, 0, &h, rbuf, IPC_MSG_MAX, 0);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, too_big == -KEMSGSIZE && huge == -KEMSGSIZE, "oversized sends: %d %d", too_big, huge);
    ST_ASSERT(t, max == 0, "IPC_MSG_MAX bytes = %d", max);
    ST_ASSERT(t, small == -KEMSGSIZE && hlen == IPC_MSG_MAX, "10-byte buffer: %ld, hdr len %u", (long)small, hlen);
    ST_ASSERT(t, st.queued == 1, "message not left queued (%u)", st.queued);
    ST_ASSERT(t, full == IPC_MSG_MAX && memcmp(rbuf, sbuf, IPC_MSG_MAX) == 0, "full recv = %ld", (long)full);
}

SELFTEST(ipc, bad_arguments_are_clear_errors) {
    int missing_send = ipc_send_k(ID_B, ID_A, 1, "x", 1);
    int64_t missing_recv = ipc_recv_k(ID_A, 0, 0, NULL, rbuf, 1, 0);
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    int twice = ipc_mailbox_open(ID_A);
    int zero_id = ipc_mailbox_open(0), neg_id = ipc_mailbox_open(-5);
    int type0 = ipc_send_k(ID_B, ID_A, 0, "x", 1);
    int to0 = ipc_send_k(ID_B, 0, 1, "x", 1);
    int64_t neg_from = ipc_recv_k(ID_A, -1, 0, NULL, rbuf, 1, 0);
    int empty = ipc_send_k(ID_B, ID_A, 3, NULL, 0);
    struct ipc_msg_hdr h = {0};
    int64_t empty_r = ipc_recv_k(ID_A, 0, 0, &h, NULL, 0, 0);
    struct ipc_stat st;
    int stat_missing = ipc_stat_k(ID_C, &st);
    int stat_bad = ipc_stat_k(0, &st);
    int close1 = ipc_mailbox_close(ID_A), close2 = ipc_mailbox_close(ID_A);
    void *m;
    void *m_big = ipc_msg_alloc(IPC_MSG_MAX + 1, &m);
    int pid_dead = ipc_send_msg(1, PID_LIKE, 1, ipc_msg_alloc(1, &m), 1, true);
    ST_ASSERT(t, missing_send == -KESRCH && missing_recv == -KESRCH, "no mailbox: %d %ld", missing_send,
              (long)missing_recv);
    ST_ASSERT(t, twice == -KEEXIST && zero_id == -KEINVAL && neg_id == -KEINVAL, "open: %d %d %d", twice,
              zero_id, neg_id);
    ST_ASSERT(t, type0 == -KEINVAL && to0 == -KEINVAL && neg_from == -KEINVAL, "args: %d %d %ld", type0, to0,
              (long)neg_from);
    ST_ASSERT(t, empty == 0 && empty_r == 0 && h.type == 3 && h.len == 0, "empty message: %d %ld", empty,
              (long)empty_r);
    ST_ASSERT(t, stat_missing == 0 && st.queued == 0 && stat_bad == -KEINVAL, "stat: %d %d", stat_missing,
              stat_bad);
    ST_ASSERT(t, close1 == 0 && close2 == -KESRCH, "close: %d %d", close1, close2);
    ST_ASSERT(t, m_big == NULL, "ipc_msg_alloc accepted an oversized message");
    ST_ASSERT(t, pid_dead == -KESRCH, "send to a pid without a live process = %d", pid_dead);
}

/* ---- blocked receivers ---- */
static int64_t blocked_recv_task(void *arg) {
    int32_t id = (int32_t)(intptr_t)arg;
    static uint8_t b[16];
    return ipc_recv_k(id, 0, 0, NULL, b, sizeof(b), IPC_FOREVER);
}

SELFTEST(ipc, killed_receiver_is_eintr) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    tid_t id = task_create("st-ipc-kill", blocked_recv_task, (void *)(intptr_t)ID_A, PRIO_NORMAL);
    bool waiting = id >= 0 && wait_for_waiters(ID_A, 1);
    int k = id >= 0 ? task_kill(id) : -1;
    int64_t v = 1;
    if (id >= 0) task_join(id, &v);
    struct ipc_stat st;
    ipc_stat_k(ID_A, &st);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, id >= 0, "task_create = %d", id);
    ST_ASSERT(t, waiting, "the receiver never blocked");
    ST_ASSERT(t, k == 0 && v == -KEINTR, "kill %d, receiver returned %ld, want -EINTR", k, (long)v);
    ST_ASSERT(t, st.waiters == 0, "%u waiters left on the queue", st.waiters);
}

SELFTEST(ipc, close_wakes_receiver_and_forever_wait_gets_message) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    tid_t id = task_create("st-ipc-close", blocked_recv_task, (void *)(intptr_t)ID_A, PRIO_NORMAL);
    bool waiting = id >= 0 && wait_for_waiters(ID_A, 1);
    int c = ipc_mailbox_close(ID_A);
    int64_t v = 1;
    if (id >= 0) task_join(id, &v);
    /* a receive without deadline ends with the message */
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "reopen failed");
    tid_t id2 = task_create("st-ipc-forever", blocked_recv_task, (void *)(intptr_t)ID_A, PRIO_NORMAL);
    bool waiting2 = id2 >= 0 && wait_for_waiters(ID_A, 1);
    int s = ipc_send_k(ID_B, ID_A, 5, "hello", 5);
    int64_t v2 = 1;
    if (id2 >= 0) task_join(id2, &v2);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, id >= 0 && id2 >= 0, "task_create = %d %d", id, id2);
    ST_ASSERT(t, waiting && waiting2, "the receiver never blocked");
    ST_ASSERT(t, c == 0 && v == -KESRCH, "close %d, receiver returned %ld, want -ESRCH", c, (long)v);
    ST_ASSERT(t, s == 0 && v2 == 5, "send %d, receiver returned %ld, want 5", s, (long)v2);
}

/* ---- concurrent senders ---- */
#define CS_MSGS 300
static int64_t counting_sender(void *arg) {
    int32_t me = (int32_t)(intptr_t)arg;
    for (uint32_t i = 0; i < CS_MSGS; i++) {
        int r;
        for (int tries = 0; (r = ipc_send_k(me, ID_A, 1, &i, sizeof(i))) == -KEAGAIN && tries < 5000; tries++)
            task_sleep_ns(MS / 4);
        if (r < 0) return r;
    }
    return 0;
}

SELFTEST_TIMEOUT(ipc, two_senders_keep_their_order, 30000) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    tid_t s1 = task_create("st-ipc-s1", counting_sender, (void *)(intptr_t)ID_B, PRIO_NORMAL);
    tid_t s2 = task_create("st-ipc-s2", counting_sender, (void *)(intptr_t)ID_C, PRIO_NORMAL);
    uint32_t next_b = 0, next_c = 0;
    int bad = 0;
    int64_t err = 0;
    for (int n = 0; n < 2 * CS_MSGS && s1 >= 0 && s2 >= 0; n++) {
        struct ipc_msg_hdr h;
        uint32_t v;
        int64_t r = ipc_recv_k(ID_A, 0, 0, &h, &v, sizeof(v), 5000 * MS);
        if (r < 0) {
            err = r;
            break;
        }
        uint32_t *next = h.sender == ID_B ? &next_b : h.sender == ID_C ? &next_c : NULL;
        if (!next || v != *next) bad++;
        else (*next)++;
    }
    int64_t e1 = 0, e2 = 0;
    if (s1 >= 0) task_join(s1, &e1);
    if (s2 >= 0) task_join(s2, &e2);
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, s1 >= 0 && s2 >= 0, "task_create %d %d", s1, s2);
    ST_ASSERT(t, err == 0 && e1 == 0 && e2 == 0, "recv %ld, senders %ld %ld", (long)err, (long)e1, (long)e2);
    ST_ASSERT(t, bad == 0 && next_b == CS_MSGS && next_c == CS_MSGS, "%d out of order; got %u and %u", bad,
              next_b, next_c);
}

SELFTEST(ipc, requeued_message_returns_to_its_place) {
    ST_ASSERT(t, ipc_mailbox_open(PID_LIKE) == 0, "open failed");
    ipc_send_k(ID_B, PID_LIKE, 1, "a", 1);
    ipc_send_k(ID_B, PID_LIKE, 2, "b", 1);
    ipc_send_k(ID_B, PID_LIKE, 1, "c", 1);
    struct ipc_msg *m;
    struct ipc_msg_hdr h;
    int64_t r = ipc_recv_msg(PID_LIKE, 0, 2, &h, 16, 0, &m);
    bool took_b = r == 1 && m && *(const char *)ipc_msg_payload(m) == 'b';
    if (m) ipc_msg_requeue(PID_LIKE, m); /* as after a failed copy to user memory */
    char got[4] = {0};
    for (int i = 0; i < 3; i++) ipc_recv_k(PID_LIKE, 0, 0, NULL, &got[i], 1, 0);
    int before = ipc_mailbox_count();
    ipc_process_exit(PID_LIKE);
    int after = ipc_mailbox_count();
    ipc_process_exit(PID_LIKE); /* again: nothing there, harmless */
    ST_ASSERT(t, took_b, "typed take = %ld", (long)r);
    ST_ASSERT(t, memcmp(got, "abc", 3) == 0, "order after requeue %.3s, want abc", got);
    ST_ASSERT(t, after == before - 1, "process exit left the mailbox (%d -> %d)", before, after);
}

SELFTEST(ipc, close_frees_queued_messages) {
    struct heap_stats h0, h1;
    int open0 = ipc_mailbox_count();
    heap_get_stats(&h0);
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    int sent = 0;
    for (uint32_t i = 0; i < IPC_QUEUE_MAX; i++)
        if (ipc_send_k(ID_B, ID_A, 1, sbuf, i == 0 ? 0 : IPC_MSG_MAX / (i % 4 + 1)) == 0) sent++;
    struct heap_stats hm;
    heap_get_stats(&hm);
    ipc_mailbox_close(ID_A);
    /* the same through a process exit */
    ipc_mailbox_open(PID_LIKE);
    for (int i = 0; i < 8; i++) ipc_send_k(ID_B, PID_LIKE, 1, sbuf, 1000);
    ipc_process_exit(PID_LIKE);
    heap_get_stats(&h1);
    ST_ASSERT(t, sent == (int)IPC_QUEUE_MAX, "%d sends", sent);
    ST_ASSERT(t, hm.bytes_in_use > h0.bytes_in_use + 64 * 1024, "queued messages took only %lu bytes",
              (unsigned long)(hm.bytes_in_use - h0.bytes_in_use));
    ST_ASSERT(t, h1.bytes_in_use == h0.bytes_in_use && h1.allocations == h0.allocations,
              "heap %lu bytes / %lu allocations before, %lu / %lu after", (unsigned long)h0.bytes_in_use,
              (unsigned long)h0.allocations, (unsigned long)h1.bytes_in_use, (unsigned long)h1.allocations);
    ST_ASSERT(t, ipc_mailbox_count() == open0, "mailboxes %d, want %d", ipc_mailbox_count(), open0);
}

/* ---- the system calls (ipc_syscalls.c) ---- */
SELFTEST(ipc, syscalls_from_kernel_task_are_eperm) {
    int64_t s = syscall_invoke(SYS_sabos_ipc_send, 1, 1, 0, 0, 0, 0);
    int64_t r = syscall_invoke(SYS_sabos_ipc_recv, 0, 0, 0, 0, 0, 0);
    int64_t st = syscall_invoke(SYS_sabos_ipc_stat, 0, 0, 0, 0, 0, 0);
    ST_ASSERT(t, s == -KEPERM && r == -KEPERM && st == -KEPERM, "send %ld recv %ld stat %ld", (long)s, (long)r,
              (long)st);
}

#define SC(nr, a0, a1, a2, a3, a4, a5)                                                              \
    syscall_invoke(nr, (uint64_t)(a0), (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3), (uint64_t)(a4), \
                   (uint64_t)(a5))

/* The body of the user-memory test, run inside a test process; returns NULL or what failed. */
static const char *user_memory_checks(struct selftest_ctx *t, pid_k pid, uint8_t *u, uint8_t *ro) {
    static char why[120];
    uint8_t *ubuf = u, *uhdr = u + 4096, *ustat = u + 4096 + 64, *ubuf2 = u + 8192;
    for (int i = 0; i < 100; i++) sbuf[i] = (uint8_t)(i * 3 + 1);
    if (copy_to_user(ubuf, sbuf, 100) < 0) return "copy_to_user into the test mapping failed";
    int64_t r = SC(SYS_sabos_ipc_send, pid, 5, ubuf, 100, 0, 0);
    if (r != 0) return "send to self failed";
    struct ipc_stat st;
    r = SC(SYS_sabos_ipc_stat, ustat, 0, 0, 0, 0, 0);
    if (r != 0 || copy_from_user(&st, ustat, sizeof(st)) < 0 || st.queued != 1 || st.capacity != IPC_QUEUE_MAX)
        return "stat after one send";
    /* copies out that fault put the message back */
    int64_t f1 = SC(SYS_sabos_ipc_recv, 0, ro, ubuf2, 100, 0, 0);
    int64_t f2 = SC(SYS_sabos_ipc_recv, 0, uhdr, ro, 100, 0, 0);
    int64_t f3 = SC(SYS_sabos_ipc_recv, 0, uhdr, 0, 100, 0, 0);
    int64_t f4 = SC(SYS_sabos_ipc_recv, 0, 0xffff800000001000ull, ubuf2, 100, 0, 0);
    SC(SYS_sabos_ipc_stat, ustat, 0, 0, 0, 0, 0);
    copy_from_user(&st, ustat, sizeof(st));
    if (f1 != -KEFAULT || f2 != -KEFAULT || f3 != -KEFAULT || f4 != -KEFAULT || st.queued != 1) {
        ksnprintf(why, sizeof(why), "bad pointers: %ld %ld %ld %ld, queued %u", (long)f1, (long)f2, (long)f3,
                  (long)f4, st.queued);
        return why;
    }
    int64_t small = SC(SYS_sabos_ipc_recv, 0, uhdr, ubuf2, 10, 0, 0);
    struct ipc_msg_hdr h = {0};
    copy_from_user(&h, uhdr, sizeof(h));
    if (small != -KEMSGSIZE || h.len != 100) return "10-byte buffer not -EMSGSIZE with the length";
    r = SC(SYS_sabos_ipc_recv, pid, uhdr, ubuf2, 100, 0, 0);
    copy_from_user(&h, uhdr, sizeof(h));
    copy_from_user(rbuf, ubuf2, 100);
    if (r != 100 || h.sender != pid || h.type != 5 || h.len != 100 || memcmp(rbuf, sbuf, 100) != 0) {
        ksnprintf(why, sizeof(why), "recv = %ld, sender %d type %u len %u", (long)r, h.sender, h.type, h.len);
        return why;
    }
    /* arguments */
    int64_t e[12];
    e[0] = SC(SYS_sabos_ipc_send, 0, 1, ubuf, 1, 0, 0);
    e[1] = SC(SYS_sabos_ipc_send, pid, 0, ubuf, 1, 0, 0);
    e[2] = SC(SYS_sabos_ipc_send, pid, 1ull << 32, ubuf, 1, 0, 0);
    e[3] = SC(SYS_sabos_ipc_send, pid, 1, ubuf, IPC_MSG_MAX + 1, 0, 0);
    e[4] = SC(SYS_sabos_ipc_send, 0x3ffffff0, 1, ubuf, 1, 0, 0);
    e[5] = SC(SYS_sabos_ipc_send, ID_A, 1, ubuf, 1, 0, 0); /* a kernel mailbox: not reachable */
    e[6] = SC(SYS_sabos_ipc_send, pid, 1, 8, 16, 0, 0);
    e[7] = SC(SYS_sabos_ipc_send, pid, 1, 0xffff800000001000ull, 16, 0, 0);
    e[8] = SC(SYS_sabos_ipc_send, pid, 1, UINT64_MAX - 8, 16, 0, 0);
    e[9] = SC(SYS_sabos_ipc_recv, -1, 0, ubuf2, 16, 0, 0);
    e[10] = SC(SYS_sabos_ipc_recv, 0, 0, ubuf2, 16, 0, 1ull << 32);
    e[11] = SC(SYS_sabos_ipc_recv, 0, 0, ubuf2, 16, 0, 0);
    static const int64_t want[12] = {-KEINVAL, -KEINVAL, -KEINVAL, -KEMSGSIZE, -KESRCH, -KESRCH,
                                     -KEFAULT, -KEFAULT, -KEFAULT, -KEINVAL, -KEINVAL, -KEAGAIN};
    for (int i = 0; i < 12; i++)
        if (e[i] != want[i]) {
            ksnprintf(why, sizeof(why), "argument check %d = %ld, want %ld", i, (long)e[i], (long)want[i]);
            return why;
        }
    struct ipc_stat kst;
    ipc_stat_k(ID_A, &kst);
    if (kst.queued != 0) return "a user send reached a kernel mailbox";
    uint64_t t0 = time_ns();
    r = SC(SYS_sabos_ipc_recv, 0, 0, ubuf2, 16, 50 * MS, 0);
    uint64_t dt = time_ns() - t0;
    if (r != -KETIMEDOUT || dt < 50 * MS) return "50 ms receive not -ETIMEDOUT after 50 ms";
    /* a kernel task can post into a process's existing mailbox */
    if (ipc_send_k(ID_B, pid, 9, "k", 1) != 0) return "kernel send to the process mailbox";
    r = SC(SYS_sabos_ipc_recv, ID_B, uhdr, ubuf2, 16, 0, 0);
    if (r != 1) return "kernel message not received";
    (void)t;
    return NULL;
}

SELFTEST(ipc, syscalls_through_user_memory) {
    ST_ASSERT(t, ipc_mailbox_open(ID_A) == 0, "open failed");
    int open0 = ipc_mailbox_count();
    int e = proc_test_enter();
    if (e < 0) ipc_mailbox_close(ID_A);
    ST_ASSERT(t, e == 0, "proc_test_enter = %d", e);
    struct process *p = proc_current();
    pid_k pid = p->pid;
    uint64_t rw = 0, ro = 0;
    int m1 = uvm_map(p->vm, &rw, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    int m2 = uvm_map(p->vm, &ro, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    const char *why = m1 == 0 && m2 == 0 ? user_memory_checks(t, pid, (uint8_t *)rw, (uint8_t *)ro) : "uvm_map failed";
    int during = ipc_mailbox_count();
    ipc_process_exit(pid); /* proc_test_leave does not (yet) */
    proc_test_leave();
    int after = ipc_mailbox_count();
    ipc_mailbox_close(ID_A);
    ST_ASSERT(t, why == NULL, "%s", why);
    ST_ASSERT(t, during == open0 + 1 && after == open0, "mailboxes %d -> %d -> %d", open0, during, after);
}
