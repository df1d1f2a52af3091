/* spinlock.h: spinlocks for several CPUs (kernel/sched/spinlock.c).
 * spin_lock_irqsave disables interrupts on this CPU and then takes the lock, so a lock is
 * never held by an interrupted holder on the same CPU; the saved flags restore the previous
 * interrupt state on unlock. Every shared structure that an interrupt handler or another CPU
 * can touch is protected by one of these, never by "interrupts off" alone. */
#pragma once
#include "types.h"

typedef struct spinlock {
    volatile uint32_t locked;
    uint32_t owner_cpu;      /* for diagnostics: CPU holding it, or UINT32_MAX */
    const char *name;
} spinlock_t;

#define SPINLOCK_INIT(n) {0, 0xffffffffu, n}

void spin_init(spinlock_t *l, const char *name);
/* Disables interrupts, takes the lock; returns the previous RFLAGS for spin_unlock_irqrestore. */
uint64_t spin_lock_irqsave(spinlock_t *l);
void spin_unlock_irqrestore(spinlock_t *l, uint64_t flags);
/* For callers that already run with interrupts off. */
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
/* True when the lock is held (by anyone). */
bool spin_is_locked(const spinlock_t *l);
