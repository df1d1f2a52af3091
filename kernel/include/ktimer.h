/* ktimer.h: kernel timers with callbacks and the one-shot timer interrupt
 * (kernel/sched/ktimer.c). Timers are kept per CPU in deadline order; the LAPIC timer is
 * programmed one-shot for the earliest of the next deadline and the running task's slice end
 * (tickless: an idle CPU with no timers gets no timer interrupts). In PIC mode the PIT ticks
 * at 1 kHz instead. Callbacks run in interrupt context: they must be short and must not
 * sleep (wake a task or queue work instead). */
#pragma once
#include "types.h"

struct ktimer {
    uint64_t deadline_ns;            /* absolute, time_ns() clock */
    void (*fn)(struct ktimer *t, void *arg);
    void *arg;
    struct ktimer *next;
    bool pending;
};

/* Arms (or re-arms) t to call fn(t, arg) once at deadline_ns. */
void ktimer_start(struct ktimer *t, uint64_t deadline_ns, void (*fn)(struct ktimer *, void *), void *arg);
/* Disarms t; true when it was pending (so fn will not run). */
bool ktimer_cancel(struct ktimer *t);
/* Number of pending timers on this CPU (diagnostics). */
int ktimer_pending_count(void);
/* Takes over the timer interrupt from the boot-time periodic tick: one-shot from now on. */
void ktimer_init(void);
/* Reprograms the hardware for the earliest deadline (timers and the slice end). */
void ktimer_reprogram(void);
/* Timer interrupts taken since boot (for the idle benchmark). */
uint64_t ktimer_interrupts(void);
