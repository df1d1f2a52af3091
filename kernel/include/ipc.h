/* ipc.h: SABOS message queues (kernel/ipc/ipc.c, ipc_syscalls.c). See docs/ipc.md.
 *
 * Every mailbox has an id. A process's mailbox has its pid as id; it is created on first use
 * (the first message sent to the process, or its first receive) and freed by
 * ipc_process_exit. Kernel code (self-tests, benchmarks) opens its own mailboxes with ids
 * from IPC_KERNEL_ID_BASE up, which no pid reaches.
 *
 * A message is typed (a non-zero uint32), carries up to IPC_MSG_MAX bytes and is copied into
 * the receiver's queue; a queue holds at most IPC_QUEUE_MAX messages (send does not wait: a
 * full queue is -KEAGAIN). Messages from one sender are received in the order sent. A
 * receive may ask for one sender and/or one type; messages that do not match stay queued in
 * order. The timeout contract is the one of wait.h: 0 never sleeps (-KEAGAIN at once when
 * nothing matches), IPC_FOREVER waits without a deadline, anything else ends with
 * -KETIMEDOUT after at least timeout_ns; a kill (or, for a user thread, a signal) ends the
 * wait with -KEINTR. The user-visible layout of the header and of ipc_stat is the one of
 * user/include/sabos.h (struct sabos_msg_hdr, struct sabos_ipc_stat). */
#pragma once
#include "types.h"
#include "kerrno.h"
#include "proc.h"

#define IPC_MSG_MAX 4096u           /* bytes of payload per message */
#define IPC_QUEUE_MAX 64u           /* messages per mailbox */
#define IPC_FOREVER UINT64_MAX      /* receive timeout: no deadline (= WAIT_FOREVER) */
#define IPC_KERNEL_ID_BASE 0x40000000 /* ids of kernel-opened mailboxes start here */

/* The header a receive fills in (same layout as user space's struct sabos_msg_hdr). */
struct ipc_msg_hdr {
    int32_t sender;   /* the sender's id (pid) */
    uint32_t type;
    uint32_t len;     /* payload bytes; with -KEMSGSIZE the length of the message left queued */
    uint32_t reserved; /* 0 */
};

/* Queue state (same layout as user space's struct sabos_ipc_stat). */
struct ipc_stat {
    uint32_t queued;   /* messages waiting */
    uint32_t capacity; /* IPC_QUEUE_MAX */
    uint32_t msg_max;  /* IPC_MSG_MAX */
    uint32_t waiters;  /* tasks blocked in a receive on this mailbox */
};

/* Creates the mailbox id (> 0). 0, -KEEXIST (already open), -KEINVAL, -KENOMEM. */
int ipc_mailbox_open(int32_t id);
/* Closes mailbox id: frees every queued message; receivers blocked on it return -KESRCH.
 * 0 or -KESRCH (no such mailbox). */
int ipc_mailbox_close(int32_t id);
/* Number of open mailboxes (tests and diagnostics). */
int ipc_mailbox_count(void);

/* Copies len bytes from the kernel buffer kbuf into mailbox `to` as a message of `type`
 * from `from`. 0, or -KESRCH (no mailbox `to`), -KEINVAL (type 0), -KEMSGSIZE (len >
 * IPC_MSG_MAX), -KEAGAIN (queue full), -KENOMEM. Never sleeps. */
int ipc_send_k(int32_t from, int32_t to, uint32_t type, const void *kbuf, size_t len);
/* Takes the oldest message in mailbox `self` whose sender is `from` (0: any) and whose type
 * is `type` (0: any), waiting up to timeout_ns (0: never wait; IPC_FOREVER: no deadline).
 * Copies its payload to kbuf and its header to *hdr (hdr may be NULL). Returns the payload
 * length, or -KESRCH (no mailbox `self`, or it was closed while waiting), -KEINVAL (from <
 * 0), -KEAGAIN (timeout 0 and nothing matches), -KETIMEDOUT, -KEINTR (killed), -KEMSGSIZE
 * (the matching message is longer than len: it stays queued, hdr gets its length). */
int64_t ipc_recv_k(int32_t self, int32_t from, uint32_t type, struct ipc_msg_hdr *hdr, void *kbuf,
                   size_t len, uint64_t timeout_ns);
/* Fills *out for mailbox id; a missing mailbox reads as empty. 0 or -KEINVAL (id <= 0). */
int ipc_stat_k(int32_t id, struct ipc_stat *out);

/* Called by the process exit path once per exiting process, after it stopped counting as
 * alive (its last thread unlinked: nthreads 0, or state PROC_ZOMBIE, or gone from the table):
 * frees its mailbox and queued messages. A send racing with the exit either fails with
 * -ESRCH or its message is freed here, so a later process with the same pid starts empty.
 * Harmless for a pid without a mailbox and when called twice; takes spinlocks only. */
void ipc_process_exit(pid_k pid);

/* ---- used by ipc_syscalls.c ---- */
/* Like ipc_send_k, but the payload is already in a message buffer from ipc_msg_alloc
 * (which this call takes over in every case), and with create_for_pid the mailbox of a live
 * process is created when missing (-KESRCH when proc_find has no live process to). */
struct ipc_msg;
struct ipc_msg *ipc_msg_alloc(size_t len, void **payload);
void ipc_msg_free(struct ipc_msg *m);
int ipc_send_msg(int32_t from, int32_t to, uint32_t type, struct ipc_msg *m, size_t len,
                 bool create_for_pid);
/* Receive for the system call: like ipc_recv_k, but creates mailbox self when missing and
 * hands the dequeued message over (*out; the payload through ipc_msg_payload) instead of
 * copying, so that the caller can copy it to user memory outside every lock. On a failed
 * copy, ipc_msg_requeue puts it back at the head of the queue; otherwise ipc_msg_free. */
int64_t ipc_recv_msg(int32_t self, int32_t from, uint32_t type, struct ipc_msg_hdr *hdr,
                     size_t len, uint64_t timeout_ns, struct ipc_msg **out);
const void *ipc_msg_payload(const struct ipc_msg *m);
void ipc_msg_requeue(int32_t self, struct ipc_msg *m);
