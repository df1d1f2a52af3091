/* time_selftest.c: kernel self-tests (group `time`) for the calibrated clocks: LAPIC timer
 * vs TSC (Intel SDM vol. 3A 11.5.4, 17.17), TSC vs HPET (IA-PC HPET 1.0a) and PIT (8254),
 * the periodic tick, time_ns monotonicity and the CMOS RTC (MC146818). */
#include "selftest.h"
#include "time.h"
#include "irq.h"
#include "cpu.h"
#include "kstring.h"

#define RFLAGS_IF (1ull << 9)
#define NS_PER_MS 1000000ull

/* |measured - expected| <= expected * percent / 100 */
static bool within_percent(uint64_t measured, uint64_t expected, uint64_t percent) {
    uint64_t diff = measured > expected ? measured - expected : expected - measured;
    return diff * 100 <= expected * percent;
}

/* Enables interrupts for a test that needs them; returns whether they were off before. */
static bool interrupts_on(void) {
    bool were_off = !(read_rflags() & RFLAGS_IF);
    sti();
    return were_off;
}

static volatile uint32_t oneshot_hits;
static void oneshot_handler(struct irq_frame *f, void *arg) { oneshot_hits++; }

struct oneshot_run {
    uint64_t cycles;       /* TSC cycles from loading the count to the count reaching 0 */
    uint64_t uncertainty;  /* width of the TSC brackets around both ends */
    bool reached_zero;
    bool interrupted;      /* the timer's interrupt was delivered afterwards */
};

/* One run of a one-shot LAPIC timer of count ticks on vector. Both ends are bracketed by
 * rdtsc: the load, and the pair of polls where the current count turns 0. The interrupt is
 * held (IF = 0) while polling and must arrive once interrupts are on. Restarts the tick. */
static void lapic_oneshot_run(uint8_t vector, uint32_t count, struct oneshot_run *run) {
    cli();
    oneshot_hits = 0;
    lapic_write(LAPIC_REG_TIMER_INIT, 0); /* stop the periodic tick */
    lapic_write(LAPIC_REG_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
    lapic_write(LAPIC_REG_LVT_TIMER, vector); /* one-shot, unmasked */
    uint64_t load_before = rdtsc();
    lapic_write(LAPIC_REG_TIMER_INIT, count);
    uint64_t load_after = rdtsc();
    uint64_t previous_poll = load_after, zero_after = 0;
    run->reached_zero = false;
    while (rdtsc() - load_after < tsc_hz) { /* give up after a second */
        uint64_t before = rdtsc();
        uint32_t current = lapic_read(LAPIC_REG_TIMER_CURRENT);
        if (current == 0) {
            zero_after = rdtsc();
            run->reached_zero = true;
            break;
        }
        previous_poll = before;
    }
    sti();
    uint64_t wait_start = rdtsc();
    while (!oneshot_hits && rdtsc() - wait_start < tsc_hz / 10)
        cpu_relax();
    run->interrupted = oneshot_hits > 0;
    cli();
    time_restart_tick();
    sti();
    run->uncertainty = (load_after - load_before) + (zero_after - previous_poll);
    run->cycles = (previous_poll + zero_after) / 2 - (load_before + load_after) / 2;
}

/* A one-shot LAPIC timer loaded with 100 ms worth of calibrated ticks reaches zero after
 * 100 ms of TSC time, within 5 %, and delivers its interrupt. A run whose end brackets are
 * wider than 1 ms (the virtual CPU was descheduled at that moment) is repeated, up to 5. */
SELFTEST(time, lapic_timer_100ms_matches_tsc) {
    ST_ASSERT(t, lapic_active() && lapic_timer_hz > 0, "LAPIC timer not calibrated (tick from %s)",
              time_tick_source());
    int vector = irq_alloc_vector();
    ST_ASSERT(t, vector >= 0, "no free vector: %d", vector);
    irq_set_handler((uint8_t)vector, oneshot_handler, NULL, "selftest-oneshot");
    uint32_t count = (uint32_t)(lapic_timer_hz / 10);
    bool were_off = interrupts_on();
    struct oneshot_run run;
    uint64_t max_uncertainty = ns_to_tsc(NS_PER_MS);
    int attempts = 0;
    while (attempts < 5) {
        attempts++;
        lapic_oneshot_run((uint8_t)vector, count, &run);
        if (!run.reached_zero || run.uncertainty <= max_uncertainty)
            break;
    }
    if (were_off)
        cli();
    irq_set_handler((uint8_t)vector, NULL, NULL, NULL);
    irq_free_vector(vector);
    ST_ASSERT(t, run.reached_zero, "one-shot timer (%u ticks) did not reach 0 within 1 s", count);
    ST_ASSERT(t, run.interrupted, "one-shot timer reached 0 but no interrupt arrived");
    uint64_t elapsed_ns = tsc_to_ns(run.cycles);
    ST_ASSERT(t, within_percent(elapsed_ns, 100 * NS_PER_MS, 5),
              "100 ms of LAPIC timer (%u ticks) took %llu us of TSC time (+- %llu us, run %d)",
              count, (unsigned long long)(elapsed_ns / 1000),
              (unsigned long long)(tsc_to_ns(run.uncertainty) / 1000), attempts);
}

/* time_ns never goes backwards over many reads, and it advances. */
SELFTEST(time, time_ns_monotonic) {
    uint64_t first = time_ns(), previous = first;
    for (int i = 0; i < 20000; i++) {
        uint64_t now = time_ns();
        ST_ASSERT(t, now >= previous, "time_ns went back from %llu to %llu at read %d",
                  (unsigned long long)previous, (unsigned long long)now, i);
        previous = now;
    }
    ST_ASSERT(t, previous > first, "time_ns did not advance over 20000 reads (%llu)",
              (unsigned long long)first);
}

/* The calibrated TSC frequency agrees with the HPET over 50 ms within 2 %. Both ends are
 * read as tightly bracketed (TSC, HPET) pairs. */
SELFTEST(time, tsc_matches_hpet) {
    ST_ASSERT(t, hpet_available(), "no HPET to compare with");
    uint64_t period = hpet_period_fs();
    uint64_t window = 50 * NS_PER_MS * 1000000ull / period;
    uint64_t hpet_start, hpet_end;
    uint64_t tsc_start = time_sample_with_tsc(hpet_read, &hpet_start);
    bool stalled = true;
    for (int i = 0; i < 20000000 && stalled; i++)
        stalled = hpet_ticks_between(hpet_start, hpet_read()) < window;
    uint64_t tsc_end = time_sample_with_tsc(hpet_read, &hpet_end);
    ST_ASSERT(t, !stalled, "HPET stalled");
    uint64_t hpet_ns = hpet_ticks_between(hpet_start, hpet_end) * period / 1000000ull;
    uint64_t tsc_ns = tsc_to_ns(tsc_end - tsc_start);
    ST_ASSERT(t, within_percent(tsc_ns, hpet_ns, 2), "HPET %llu us but TSC says %llu us",
              (unsigned long long)(hpet_ns / 1000), (unsigned long long)(tsc_ns / 1000));
}

/* PIT counter 2 (gate via port 0x61, latched reads paired with the TSC) counts 20 ms that
 * the calibrated TSC agrees with within 2 %. */
SELFTEST(time, pit_matches_tsc) {
    uint64_t cycles = 0;
    uint32_t pit_elapsed = 0;
    ST_ASSERT(t, pit_measure_tsc(PIT_INPUT_HZ / 50, &cycles, &pit_elapsed),
              "PIT counter 2 measurement failed");
    ST_ASSERT(t, pit_elapsed >= PIT_INPUT_HZ / 50, "PIT counted only %u ticks", pit_elapsed);
    uint64_t pit_ns = (uint64_t)pit_elapsed * 1000000000ull / PIT_INPUT_HZ;
    uint64_t tsc_ns = tsc_to_ns(cycles);
    ST_ASSERT(t, within_percent(tsc_ns, pit_ns, 2), "PIT %llu us but TSC says %llu us",
              (unsigned long long)(pit_ns / 1000), (unsigned long long)(tsc_ns / 1000));
}

/* The CMOS RTC returns a plausible date: year >= 2024, every field in range. */
SELFTEST(time, rtc_plausible) {
    struct rtc_time now;
    int r = rtc_read(&now);
    ST_ASSERT(t, r == 0, "rtc_read failed: %d", r);
    ST_ASSERT(t, now.year >= 2024 && now.year < 2200, "year %d", now.year);
    ST_ASSERT(t, now.month >= 1 && now.month <= 12, "month %d", now.month);
    ST_ASSERT(t, now.day >= 1 && now.day <= 31, "day %d", now.day);
    ST_ASSERT(t, now.hour >= 0 && now.hour <= 23, "hour %d", now.hour);
    ST_ASSERT(t, now.minute >= 0 && now.minute <= 59, "minute %d", now.minute);
    ST_ASSERT(t, now.second >= 0 && now.second <= 59, "second %d", now.second);
    ST_ASSERT(t, rtc_to_unix(&now) > 0, "%04d-%02d-%02d is not a valid date", now.year, now.month,
              now.day);
}
