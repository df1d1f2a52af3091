/* ipc_syscalls.c: SABOS's IPC system calls (numbers in syscall.h, contract in docs/ipc.md),
 * the user-memory side of ipc.c. Arguments follow the Linux x86-64 convention (rdi, rsi, rdx,
 * r10, r8, r9); errors are -errno.
 *
 *   1000 sabos_ipc_send(pid, type, buf, len)                       -> 0
 *   1001 sabos_ipc_recv(from, hdr, buf, len, timeout_ns, type)     -> payload length
 *   1002 sabos_ipc_stat(struct sabos_ipc_stat *)                   -> 0
 *
 * The payload is copied from user memory before any lock is taken, and a received message is
 * copied out after it has left the queue; if that copy faults, the message goes back to its
 * place in the queue and the call returns -EFAULT, so nothing is lost to a bad pointer. */
#include "ipc.h"
#include "syscall.h"
#include "uaccess.h"
#include "proc.h"

static inline bool fits_pid(uint64_t v) { return (int64_t)v > 0 && (int64_t)v < IPC_KERNEL_ID_BASE; }

/* send(pid, type, buf, len): 0, -EPERM (kernel task), -EINVAL (pid <= 0, type 0 or above
 * 32 bits), -EMSGSIZE (len > IPC_MSG_MAX), -EFAULT, -ESRCH (no live process pid), -EAGAIN
 * (its queue is full), -ENOMEM. */
SYSCALL(SYS_sabos_ipc_send, sabos_ipc_send) {
    struct process *self = proc_current();
    if (!self) return -KEPERM;
    if ((int64_t)a0 <= 0 || a1 == 0 || a1 > UINT32_MAX) return -KEINVAL;
    if (a3 > IPC_MSG_MAX) return -KEMSGSIZE;
    if (!fits_pid(a0)) return -KESRCH; /* a pid nobody can have (or a kernel mailbox) */
    if (!user_range_ok(a2, a3) || (a3 && !a2)) return -KEFAULT;
    void *payload;
    struct ipc_msg *m = ipc_msg_alloc(a3, &payload);
    if (!m) return -KENOMEM;
    if (a3 && copy_from_user(payload, (const void *)a2, a3) < 0) {
        ipc_msg_free(m);
        return -KEFAULT;
    }
    return ipc_send_msg(self->pid, (int32_t)a0, (uint32_t)a1, m, a3, true);
}

/* recv(from, hdr, buf, len, timeout_ns, type): the payload length, or -EPERM, -EINVAL (from
 * < 0 or above 31 bits, type above 32 bits), -EFAULT (hdr or buf bad: the message stays queued), -EAGAIN
 * (timeout 0, nothing matches), -ETIMEDOUT, -EINTR (a signal; never restarted), -EMSGSIZE
 * (the message is longer than len: it stays queued and hdr->len says how long it is),
 * -ENOMEM. hdr may be NULL. */
SYSCALL_FLAGS(SYS_sabos_ipc_recv, sabos_ipc_recv, SYSCALL_NORESTART) {
    struct process *self = proc_current();
    if (!self) return -KEPERM;
    int64_t from = (int64_t)a0;
    if (from < 0 || from > INT32_MAX || a5 > UINT32_MAX) return -KEINVAL;
    void *uhdr = (void *)a1, *ubuf = (void *)a2;
    size_t len = a3 > IPC_MSG_MAX ? IPC_MSG_MAX : a3;
    if ((uhdr && !user_range_ok(a1, sizeof(struct ipc_msg_hdr))) || !user_range_ok(a2, len) ||
        (len && !ubuf))
        return -KEFAULT;
    struct ipc_msg_hdr h;
    struct ipc_msg *m;
    int64_t r = ipc_recv_msg(self->pid, (int32_t)from, (uint32_t)a5, &h, len, a4, &m);
    if (r < 0 && r != -KEMSGSIZE) return r;
    if ((m && h.len && copy_to_user(ubuf, ipc_msg_payload(m), h.len) < 0) ||
        (uhdr && copy_to_user(uhdr, &h, sizeof(h)) < 0)) {
        if (m) ipc_msg_requeue(self->pid, m);
        return -KEFAULT;
    }
    if (m) ipc_msg_free(m);
    return r;
}

/* stat(struct sabos_ipc_stat *): the caller's queue. 0, -EPERM, -EFAULT. */
SYSCALL(SYS_sabos_ipc_stat, sabos_ipc_stat) {
    struct process *self = proc_current();
    if (!self) return -KEPERM;
    struct ipc_stat st;
    int r = ipc_stat_k(self->pid, &st);
    if (r < 0) return r;
    return copy_to_user((void *)a0, &st, sizeof(st)) < 0 ? -KEFAULT : 0;
}
