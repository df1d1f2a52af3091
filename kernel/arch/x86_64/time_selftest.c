/* time_selftest.c: kernel self-tests (group `time`) for the calibrated clocks: LAPIC timer
 * vs TSC (Intel SDM vol. 3A 11.5.4, 17.17), TSC vs HPET (IA-PC HPET 1.0a) and PIT (8254),
 * the periodic tick, time_ns monotonicity and the CMOS RTC (MC146818). */
#include "selftest.h"
#include "time.h"
#include "irq.h"
#include "cpu.h"

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

static volatile uint64_t oneshot_fired_tsc;
static void oneshot_handler(struct irq_frame *f, void *arg) {
    if (!oneshot_fired_tsc)
        oneshot_fired_tsc = rdtsc();
}

/* One run of a one-shot LAPIC timer of count ticks on vector; the TSC cycles until its
 * interrupt arrived, 0 when it did not within a second. Restarts the periodic tick. */
static uint64_t lapic_oneshot_cycles(uint8_t vector, uint32_t count) {
    cli();
    oneshot_fired_tsc = 0;
    lapic_write(LAPIC_REG_TIMER_INIT, 0); /* stop the periodic tick */
    lapic_write(LAPIC_REG_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
    lapic_write(LAPIC_REG_LVT_TIMER, vector); /* one-shot, unmasked */
    uint64_t start = rdtsc();
    lapic_write(LAPIC_REG_TIMER_INIT, count);
    sti();
    while (!oneshot_fired_tsc && rdtsc() - start < tsc_hz)
        cpu_relax();
    cli();
    uint64_t fired = oneshot_fired_tsc;
    time_restart_tick();
    sti();
    return fired ? fired - start : 0;
}

/* A one-shot LAPIC timer loaded with 100 ms worth of calibrated ticks interrupts after
 * 100 ms of TSC time, within 5 %. QEMU's timer thread can be descheduled on a busy host,
 * which only ever delays the interrupt, so up to three runs are made. */
SELFTEST(time, lapic_timer_100ms_matches_tsc) {
    ST_ASSERT(t, lapic_active() && lapic_timer_hz > 0, "LAPIC timer not calibrated (tick from %s)",
              time_tick_source());
    int vector = irq_alloc_vector();
    ST_ASSERT(t, vector >= 0, "no free vector: %d", vector);
    irq_set_handler((uint8_t)vector, oneshot_handler, NULL, "selftest-oneshot");
    uint32_t count = (uint32_t)(lapic_timer_hz / 10);
    bool were_off = interrupts_on();
    uint64_t runs_us[3] = {0, 0, 0};
    bool ok = false;
    for (int run = 0; run < 3 && !ok; run++) {
        uint64_t ns = tsc_to_ns(lapic_oneshot_cycles((uint8_t)vector, count));
        runs_us[run] = ns / 1000;
        ok = within_percent(ns, 100 * NS_PER_MS, 5);
    }
    if (were_off)
        cli();
    irq_set_handler((uint8_t)vector, NULL, NULL, NULL);
    irq_free_vector(vector);
    ST_ASSERT(t, ok, "100 ms of LAPIC timer (%u ticks) took %llu/%llu/%llu us of TSC time", count,
              (unsigned long long)runs_us[0], (unsigned long long)runs_us[1],
              (unsigned long long)runs_us[2]);
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

/* Ticks counted over 200 ms of TSC time, starting on a tick edge (so the phase does not
 * add one); UINT64_MAX when no tick came within 100 ms. Interrupts must be on. */
static uint64_t ticks_in_200ms(void) {
    uint64_t wait_start = rdtsc(), edge_limit = ns_to_tsc(100 * NS_PER_MS);
    uint64_t ticks0 = timer_ticks;
    while (timer_ticks == ticks0)
        if (rdtsc() - wait_start > edge_limit)
            return UINT64_MAX;
    uint64_t start_ticks = timer_ticks;
    uint64_t start = rdtsc(), window = ns_to_tsc(200 * NS_PER_MS);
    while (rdtsc() - start < window)
        cpu_relax();
    return timer_ticks - start_ticks;
}

/* The periodic tick advances timer_ticks at TIMER_HZ within 10 % over 200 ms of TSC time.
 * A busy host can delay QEMU's timer (ticks then merge), so up to three windows are tried. */
SELFTEST(time, tick_rate) {
    bool were_off = interrupts_on();
    uint64_t expected = TIMER_HZ / 5, counts[3] = {0, 0, 0};
    bool ok = false;
    for (int run = 0; run < 3 && !ok; run++) {
        counts[run] = ticks_in_200ms();
        ok = counts[run] != UINT64_MAX && within_percent(counts[run], expected, 10);
    }
    if (were_off)
        cli();
    ST_ASSERT(t, counts[0] != UINT64_MAX, "no tick within 100 ms (source %s)", time_tick_source());
    ST_ASSERT(t, ok, "%lld/%lld/%lld ticks in 200 ms, want %llu (%s)", (long long)counts[0],
              (long long)counts[1], (long long)counts[2], (unsigned long long)expected,
              time_tick_source());
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

/* PIT counter 2 (gate via port 0x61) measures 20 ms that the TSC agrees with within 2 %.
 * A delay on the host can only lengthen a run, so the shortest of three counts. */
SELFTEST(time, pit_matches_tsc) {
    uint32_t pit_ticks = PIT_INPUT_HZ / 50;
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        uint64_t cycles = 0;
        ST_ASSERT(t, pit_measure_tsc(pit_ticks, &cycles), "PIT counter 2 output never rose");
        best = MIN(best, cycles);
    }
    uint64_t pit_ns = (uint64_t)pit_ticks * 1000000000ull / PIT_INPUT_HZ;
    uint64_t tsc_ns = tsc_to_ns(best);
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
