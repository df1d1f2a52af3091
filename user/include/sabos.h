/* sabos.h: SABOS's own system calls for user programs (header only; works with musl-gcc).
 * See docs/ipc.md. The calls sit in the reserved range 1000-1099 of the Linux x86-64 ABI
 * (the `syscall` instruction; arguments in rdi, rsi, rdx, r10, r8, r9; result in rax).
 *
 * Unlike libc wrappers, these return the kernel's answer as is: >= 0 on success, -errno on
 * failure (for example -EAGAIN), and they never touch errno. strerror(-r) names an error.
 * On Linux every call returns -ENOSYS. */
#ifndef SABOS_H
#define SABOS_H

#include <stddef.h>
#include <stdint.h>

#define SABOS_SYS_ipc_send 1000
#define SABOS_SYS_ipc_recv 1001
#define SABOS_SYS_ipc_stat 1002
#define SABOS_SYS_meminfo 1010

#define SABOS_IPC_MSG_MAX 4096u        /* payload bytes per message */
#define SABOS_IPC_QUEUE_MAX 64u        /* messages a mailbox holds */
#define SABOS_IPC_FOREVER UINT64_MAX   /* receive timeout: wait without a deadline */
#define SABOS_IPC_ANY 0                /* receive from any sender / of any type */

/* What a receive fills in. */
struct sabos_msg_hdr {
    int32_t sender;    /* the sender's pid */
    uint32_t type;     /* non-zero, chosen by the sender */
    uint32_t len;      /* payload bytes (with -EMSGSIZE: the length of the message left queued) */
    uint32_t reserved;
};

/* The caller's mailbox. */
struct sabos_ipc_stat {
    uint32_t queued;   /* messages waiting */
    uint32_t capacity; /* SABOS_IPC_QUEUE_MAX */
    uint32_t msg_max;  /* SABOS_IPC_MSG_MAX */
    uint32_t waiters;  /* threads blocked in a receive */
};

static inline long sabos_syscall6(long n, long a0, long a1, long a2, long a3, long a4, long a5) {
    long ret;
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* Sends len bytes (<= SABOS_IPC_MSG_MAX) as a message of `type` (non-zero) to process pid;
 * never waits. 0, or -ESRCH (no such live process), -EAGAIN (its queue is full), -EMSGSIZE,
 * -EINVAL (pid <= 0, type 0), -EFAULT (bad buf), -EPERM, -ENOMEM. */
static inline long sabos_ipc_send(int pid, uint32_t type, const void *buf, size_t len) {
    return sabos_syscall6(SABOS_SYS_ipc_send, pid, (long)type, (long)buf, (long)len, 0, 0);
}

/* Takes the oldest queued message from sender `from` (SABOS_IPC_ANY: any) of type `type`
 * (SABOS_IPC_ANY: any), waiting up to timeout_ns nanoseconds: 0 returns at once,
 * SABOS_IPC_FOREVER never gives up. Copies the payload to buf and the header to *hdr (may be
 * NULL). Returns the payload length, or -EAGAIN (timeout 0, nothing matched), -ETIMEDOUT,
 * -EINTR (a signal arrived; never restarted), -EMSGSIZE (the message is longer than len: it
 * stays queued, hdr->len tells its length), -EFAULT (bad hdr/buf: the message stays queued),
 * -EINVAL. Messages that do not match stay queued in their order. */
static inline long sabos_ipc_recv_typed(int from, uint32_t type, struct sabos_msg_hdr *hdr, void *buf,
                                        size_t len, uint64_t timeout_ns) {
    return sabos_syscall6(SABOS_SYS_ipc_recv, from, (long)hdr, (long)buf, (long)len, (long)timeout_ns,
                          (long)type);
}

/* sabos_ipc_recv_typed for any type. */
static inline long sabos_ipc_recv(int from, struct sabos_msg_hdr *hdr, void *buf, size_t len,
                                  uint64_t timeout_ns) {
    return sabos_ipc_recv_typed(from, SABOS_IPC_ANY, hdr, buf, len, timeout_ns);
}

/* Non-blocking receive: a message, or -EAGAIN at once. */
static inline long sabos_ipc_try_recv(int from, struct sabos_msg_hdr *hdr, void *buf, size_t len) {
    return sabos_ipc_recv_typed(from, SABOS_IPC_ANY, hdr, buf, len, 0);
}

/* The caller's queue: 0, -EFAULT, -EPERM. */
static inline long sabos_ipc_stat(struct sabos_ipc_stat *st) {
    return sabos_syscall6(SABOS_SYS_ipc_stat, (long)st, 0, 0, 0, 0, 0);
}

/* Memory figures (kernel/proc/sys_info.c), for tests that check nothing leaks. */
struct sabos_meminfo {
    uint64_t total_frames, free_frames; /* 4 KiB physical frames */
    uint64_t heap_bytes, heap_allocations; /* the kernel heap in use */
};

/* 0 or -EFAULT. */
static inline long sabos_meminfo(struct sabos_meminfo *mi) {
    return sabos_syscall6(SABOS_SYS_meminfo, (long)mi, 0, 0, 0, 0, 0);
}

/* Fault injection ("netem", docs/network.md): frames sent and received on one interface are
 * lost, duplicated or reordered with these probabilities in parts per thousand (all 0 = off;
 * turning it off frees frames held back). ioctl(any socket, SIOCSABOSNETEM or SIOCGABOSNETEM,
 * struct ifreq *) with ifr_name the interface and ifr_data pointing to a struct sabos_netem.
 * -1 with errno ENODEV (unknown interface), EINVAL (a value > 1000, reserved != 0), EFAULT. */
#define SIOCSABOSNETEM 0x89F0  /* set (SIOCDEVPRIVATE range) */
#define SIOCGABOSNETEM 0x89F1  /* get */
struct sabos_netem {
    uint16_t loss_permille, duplicate_permille, reorder_permille;
    uint16_t reserved;         /* 0 */
    uint32_t seed;             /* the generator's state (0: a fixed start) */
};

#endif
