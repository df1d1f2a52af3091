/* spinlock.c: test-and-test-and-set spinlocks (Intel SDM vol. 3A §8.10.6.1, "use the PAUSE
 * instruction in spin-wait loops"). The irqsave variants disable interrupts on this CPU
 * before taking the lock, so an interrupt handler that takes the same lock can never spin
 * on a holder it interrupted. */
#include "spinlock.h"
#include "cpu.h"

void spin_init(spinlock_t *l, const char *name) {
    l->locked = 0;
    l->owner_cpu = 0xffffffffu;
    l->name = name;
}

void spin_lock(spinlock_t *l) {
    while (__atomic_exchange_n(&l->locked, 1u, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            cpu_relax();
    }
    l->owner_cpu = 0; /* the boot CPU; per-CPU ids arrive with SMP */
}

void spin_unlock(spinlock_t *l) {
    l->owner_cpu = 0xffffffffu;
    __atomic_store_n(&l->locked, 0u, __ATOMIC_RELEASE);
}

uint64_t spin_lock_irqsave(spinlock_t *l) {
    uint64_t flags = irq_save();
    spin_lock(l);
    return flags;
}

void spin_unlock_irqrestore(spinlock_t *l, uint64_t flags) {
    spin_unlock(l);
    irq_restore(flags);
}

bool spin_is_locked(const spinlock_t *l) { return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0; }
