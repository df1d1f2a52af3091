/* futex.h: fast user-space locking (kernel/proc/futex.c).
 *
 * Follows Linux futex(2) (man-pages 6.x): FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE,
 * FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, with
 * FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME. The priority-inheritance operations give
 * -ENOSYS.
 *
 * A futex is named by (address space, user address): all threads that share a struct uvm
 * (CLONE_VM) meet on the same word. Every futex is treated as process-private, also without
 * FUTEX_PRIVATE_FLAG (there are no shared file or MAP_SHARED futexes across processes). */
#pragma once
#include "types.h"

/* Linux values (linux/futex.h). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_FD 2
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_CMP_REQUEUE_PI 12
#define FUTEX_LOCK_PI2 13
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_CMD_MASK (~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME))
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu

struct uvm;

/* Wakes up to count threads waiting on (vm, uaddr) (any bitset). Returns how many were
 * woken (0 when nobody waits), or -KEINVAL for a misaligned address. Never touches user
 * memory and never sleeps: thread exit calls it for clear_child_tid (CLONE_CHILD_CLEARTID,
 * set_tid_address), also from a kernel task. */
int futex_wake(struct uvm *vm, uint64_t uaddr, int count);

/* Threads waiting on futexes right now, over all address spaces (tests, diagnostics). */
int futex_waiter_count(void);
