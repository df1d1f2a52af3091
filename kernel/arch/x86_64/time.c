/* time.c: TSC and LAPIC timer calibration, the monotonic clock and the periodic tick.
 * Follows the Intel SDM vol. 3A 17.17 (time-stamp counter; invariant TSC, CPUID leaf 0x15
 * "TSC/core crystal clock ratio" and leaf 0x16 "processor frequency", 17.17.4) and 11.5.4
 * (APIC timer: divide configuration, initial/current count, one-shot and periodic modes).
 * The TSC is measured against the HPET (IA-PC HPET 1.0a) or, without one, against PIT
 * counter 2 (8254 datasheet, mode 0); the LAPIC timer is measured against the TSC. Every
 * wait is bounded and has a fallback: under TCG the TSC has a virtual rate, so it is always
 * measured, never assumed. */
#include "time.h"
#include "irq.h"
#include "cpu.h"
#include "kerrno.h"
#include "kprintf.h"
#include "printk.h"

#define NS_PER_SEC 1000000000ull
#define CALIBRATION_WINDOW_MS 5
#define CALIBRATION_MAX_POLLS 20000000u
#define TSC_HZ_MIN 10000000ull         /* 10 MHz */
#define TSC_HZ_MAX 100000000000ull     /* 100 GHz */
#define TSC_HZ_ASSUMED 1000000000ull   /* last resort */
#define TSC_HZ_BEFORE_CALIBRATION 4000000000ull /* overestimates: early delays are long */
#define MAX_TICK_HOOKS 4
#define SAMPLE_TRIES 5

uint64_t tsc_hz;
uint64_t lapic_timer_hz;
const char *time_calibration_source = "none";
volatile uint64_t timer_ticks;

static uint64_t tsc_at_init;
static uint64_t ns_per_tsc_mult; /* ns = (tsc * mult) >> 32 */
static bool tsc_calibrated;
static const char *tick_source = "none";
static uint64_t tick_start_tsc;
static uint64_t tsc_per_tick = 1;
static uint64_t last_tick_tsc;
static void (*tick_hooks[MAX_TICK_HOOKS])(void);
static int tick_hook_count;

/* a * b / c with a 128-bit intermediate (mulq/divq); saturates when the result overflows. */
static uint64_t muldiv64(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t lo, hi, quotient, remainder;
    __asm__("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b) : "cc");
    if (c == 0 || hi >= c)
        return UINT64_MAX;
    __asm__("divq %4" : "=a"(quotient), "=d"(remainder) : "a"(lo), "d"(hi), "rm"(c) : "cc");
    return quotient;
}

/* (a * m) >> 32 with a 128-bit intermediate: exact for any a up to 2^64 ns (584 years). */
static uint64_t mul_shift32(uint64_t a, uint64_t m) {
    uint64_t lo, hi;
    __asm__("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(m) : "cc");
    return (hi << 32) | (lo >> 32);
}

/* Converts TSC cycles to nanoseconds (0 before calibration). */
uint64_t tsc_to_ns(uint64_t tsc_delta) {
    return tsc_calibrated ? mul_shift32(tsc_delta, ns_per_tsc_mult) : 0;
}

/* TSC cycles in ns nanoseconds (0 before calibration). */
uint64_t ns_to_tsc(uint64_t ns) {
    return tsc_calibrated ? muldiv64(ns, tsc_hz, NS_PER_SEC) : 0;
}

/* Monotonic nanoseconds since time_init. */
uint64_t time_ns(void) {
    return tsc_to_ns(rdtsc() - tsc_at_init);
}

/* The log timestamp: time_ns() once the TSC is calibrated, else 0. */
uint64_t printk_clock_ns(void) {
    return tsc_calibrated ? time_ns() : 0;
}

/* Busy-waits us microseconds on the TSC. */
void udelay(uint64_t us) {
    uint64_t hz = tsc_calibrated ? tsc_hz : TSC_HZ_BEFORE_CALIBRATION;
    uint64_t cycles = muldiv64(us, hz, 1000000ull);
    uint64_t start = rdtsc();
    while (rdtsc() - start < cycles)
        cpu_relax();
}

void mdelay(uint64_t ms) { udelay(ms * 1000ull); }

/* Registers a function called from every timer tick (interrupt context). */
int time_add_tick_hook(void (*fn)(void)) {
    if (!fn)
        return -KEINVAL;
    /* One CPU runs kernel code: masking interrupts is the whole lock until SMP brings a
     * spinlock here. */
    uint64_t flags = irq_save();
    int r = -KENOSPC;
    if (tick_hook_count < MAX_TICK_HOOKS) {
        tick_hooks[tick_hook_count++] = fn;
        r = 0;
    }
    irq_restore(flags);
    return r;
}

/* timer_ticks is the number of tick periods since the tick started, by the TSC: a busy
 * host can make QEMU merge or drop timer interrupts, and the count must not fall behind
 * time when that happens. Normally each interrupt advances it by one. */
static void timer_tick_handler(struct irq_frame *f, void *arg) {
    uint64_t now = rdtsc();
    uint64_t due = (now - tick_start_tsc) / tsc_per_tick;
    if (due > timer_ticks)
        timer_ticks = due;
    last_tick_tsc = now;
    for (int i = 0; i < tick_hook_count; i++)
        tick_hooks[i]();
}

/* Reads a reference clock together with the TSC. Of a few tries, the one whose two rdtsc
 * reads lie closest together wins, so a moment where the (virtual) CPU was descheduled
 * between the reads does not skew the pair; returns the TSC at that bracket's middle. */
uint64_t time_sample_with_tsc(uint64_t (*read_reference)(void), uint64_t *reference) {
    uint64_t best_width = UINT64_MAX, best_tsc = 0;
    for (int i = 0; i < SAMPLE_TRIES; i++) {
        uint64_t before = rdtsc();
        uint64_t value = read_reference();
        uint64_t after = rdtsc();
        if (after - before < best_width) {
            best_width = after - before;
            best_tsc = before + best_width / 2;
            *reference = value;
        }
    }
    return best_tsc;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c) {
    if (a > b) { uint64_t x = a; a = b; b = x; }
    if (b > c) { uint64_t x = b; b = c; c = x; }
    return a > b ? a : b;
}

/* TSC cycles per second over CALIBRATION_WINDOW_MS of HPET time; 0 when the HPET stalls. */
static uint64_t tsc_hz_from_hpet_once(void) {
    uint64_t period = hpet_period_fs();
    uint64_t window = CALIBRATION_WINDOW_MS * 1000000000000ull / period; /* fs -> ticks */
    uint64_t hpet_start, hpet_end;
    uint64_t tsc_start = time_sample_with_tsc(hpet_read, &hpet_start);
    uint32_t polls = 0;
    while (hpet_ticks_between(hpet_start, hpet_read()) < window)
        if (++polls >= CALIBRATION_MAX_POLLS)
            return 0;
    uint64_t tsc_end = time_sample_with_tsc(hpet_read, &hpet_end);
    uint64_t elapsed_fs = hpet_ticks_between(hpet_start, hpet_end) * period; /* ~1e13 */
    return muldiv64(tsc_end - tsc_start, 1000000000000000ull, elapsed_fs);
}

/* TSC cycles per second from PIT counter 2 over CALIBRATION_WINDOW_MS (median of three);
 * 0 on failure. */
static uint64_t tsc_hz_from_pit_once(void) {
    uint64_t cycles;
    uint32_t pit_elapsed;
    if (!pit_measure_tsc(PIT_INPUT_HZ / (1000 / CALIBRATION_WINDOW_MS), &cycles, &pit_elapsed))
        return 0;
    return muldiv64(cycles, PIT_INPUT_HZ, pit_elapsed);
}

static uint64_t tsc_hz_from_pit(void) {
    return median3(tsc_hz_from_pit_once(), tsc_hz_from_pit_once(), tsc_hz_from_pit_once());
}

/* CPUID leaf 0x15 (crystal * ratio) or 0x16 (base MHz); 0 when neither says. */
static uint64_t tsc_hz_from_cpuid(void) {
    uint32_t max_leaf, b, c, d;
    cpuid(0, 0, &max_leaf, &b, &c, &d);
    if (max_leaf >= 0x15) {
        uint32_t denominator, numerator, crystal_hz;
        cpuid(0x15, 0, &denominator, &numerator, &crystal_hz, &d);
        if (denominator && numerator && crystal_hz)
            return muldiv64(crystal_hz, numerator, denominator);
    }
    if (max_leaf >= 0x16) {
        uint32_t base_mhz;
        cpuid(0x16, 0, &base_mhz, &b, &c, &d);
        if (base_mhz)
            return (uint64_t)base_mhz * 1000000ull;
    }
    return 0;
}

static bool tsc_hz_plausible(uint64_t hz) { return hz >= TSC_HZ_MIN && hz <= TSC_HZ_MAX; }

static void calibrate_tsc(void) {
    uint64_t hz = 0;
    if (hpet_init()) {
        hz = median3(tsc_hz_from_hpet_once(), tsc_hz_from_hpet_once(), tsc_hz_from_hpet_once());
        if (tsc_hz_plausible(hz))
            time_calibration_source = "HPET";
        else
            pr_warn("time: TSC calibration against the HPET failed\n");
    }
    if (!tsc_hz_plausible(hz)) {
        hz = tsc_hz_from_pit();
        if (tsc_hz_plausible(hz))
            time_calibration_source = "PIT";
        else
            pr_warn("time: TSC calibration against the PIT failed\n");
    }
    if (!tsc_hz_plausible(hz)) {
        hz = tsc_hz_from_cpuid();
        if (tsc_hz_plausible(hz))
            time_calibration_source = "CPUID";
    }
    if (!tsc_hz_plausible(hz)) {
        hz = TSC_HZ_ASSUMED;
        time_calibration_source = "fallback";
        pr_warn("time: no way to measure the TSC, assuming 1 GHz\n");
    }
    tsc_hz = hz;
    ns_per_tsc_mult = muldiv64(NS_PER_SEC, 1ull << 32, hz);
    tsc_at_init = rdtsc();
    tsc_calibrated = true;
}

static uint64_t read_lapic_timer_count(void) {
    return lapic_read(LAPIC_REG_TIMER_CURRENT);
}

/* LAPIC timer input ticks per second (divide by 16) over CALIBRATION_WINDOW_MS of TSC
 * time, with the timer masked in one-shot mode; 0 when it does not count. */
static uint64_t calibrate_lapic_timer_once(void) {
    lapic_write(LAPIC_REG_LVT_TIMER, LAPIC_LVT_MASKED | VEC_LAPIC_TIMER);
    lapic_write(LAPIC_REG_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
    lapic_write(LAPIC_REG_TIMER_INIT, 0xffffffffu);
    uint64_t window = muldiv64(tsc_hz, CALIBRATION_WINDOW_MS, 1000);
    uint64_t count_start, count_end;
    uint64_t tsc_start = time_sample_with_tsc(read_lapic_timer_count, &count_start);
    for (uint32_t polls = 0; rdtsc() - tsc_start < window; polls++)
        if (polls >= CALIBRATION_MAX_POLLS)
            break;
    uint64_t tsc_end = time_sample_with_tsc(read_lapic_timer_count, &count_end);
    lapic_write(LAPIC_REG_TIMER_INIT, 0);
    if (count_end == 0 || count_end >= count_start || tsc_end <= tsc_start)
        return 0;
    return muldiv64(count_start - count_end, tsc_hz, tsc_end - tsc_start);
}

static uint64_t calibrate_lapic_timer(void) {
    return median3(calibrate_lapic_timer_once(), calibrate_lapic_timer_once(),
                   calibrate_lapic_timer_once());
}

/* After time_set_event_mode(): the interrupt handler that replaces the boot tick, and the
 * function that programs the next one-shot event (kernel/sched/ktimer.c). */
static irq_handler_t event_handler;
static void (*event_reprogram)(void);

/* Reprograms the tick source (after a test borrowed the LAPIC timer): the boot-time periodic
 * tick, or, once time_set_event_mode() ran, the one-shot event mode. */
void time_restart_tick(void) {
    if (event_handler && lapic_timer_hz && lapic_active()) {
        lapic_write(LAPIC_REG_TIMER_INIT, 0);
        lapic_write(LAPIC_REG_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
        lapic_write(LAPIC_REG_LVT_TIMER, VEC_LAPIC_TIMER); /* one-shot */
        tick_source = "LAPIC one-shot";
        if (event_reprogram) event_reprogram();
        return;
    }
    if (event_handler) {
        pit_start_periodic(TIME_PIT_EVENT_HZ);
        tick_source = "PIT 1 kHz";
        return;
    }
    if (lapic_timer_hz && lapic_active()) {
        uint32_t count = (uint32_t)(lapic_timer_hz / TIMER_HZ);
        lapic_write(LAPIC_REG_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
        lapic_write(LAPIC_REG_LVT_TIMER, VEC_LAPIC_TIMER | LAPIC_TIMER_PERIODIC);
        lapic_write(LAPIC_REG_TIMER_INIT, count ? count : 1);
        tick_source = "LAPIC";
    } else {
        pit_start_periodic(TIMER_HZ);
        tick_source = "PIT";
    }
}

const char *time_tick_source(void) { return tick_source; }

/* Hands the timer interrupt to handler (called on every timer interrupt) and switches from
 * the boot-time periodic tick to one-shot events: the LAPIC timer in one-shot mode, or, when
 * there is no LAPIC timer, the PIT ticking at TIME_PIT_EVENT_HZ. */
void time_set_event_mode(irq_handler_t handler, void (*reprogram)(void)) {
    uint64_t flags = irq_save();
    event_handler = handler;
    event_reprogram = reprogram;
    if (lapic_timer_hz && lapic_active())
        irq_set_handler(VEC_LAPIC_TIMER, handler, NULL, "timer");
    else if (irq_isa_vector(0))
        irq_set_handler(irq_isa_vector(0), handler, NULL, "timer");
    time_restart_tick();
    irq_restore(flags);
}

/* True when time_program_event() can place events (LAPIC one-shot); false when a periodic
 * PIT drives them instead. */
bool time_event_oneshot(void) { return event_handler && lapic_timer_hz && lapic_active(); }

/* Programs the next one-shot event delta_ns from now (0 = as soon as possible); UINT64_MAX
 * stops the timer. Longer waits than the counter holds fire early and are re-armed. */
void time_program_event(uint64_t delta_ns) {
    if (!time_event_oneshot()) return;
    if (delta_ns == UINT64_MAX) {
        lapic_write(LAPIC_REG_TIMER_INIT, 0);
        return;
    }
    uint64_t count = muldiv64(delta_ns, lapic_timer_hz, 1000000000ull);
    if (count == 0) count = 1;
    if (count > 0xffffffffull) count = 0xffffffffull;
    lapic_write(LAPIC_REG_TIMER_INIT, (uint32_t)count);
}

/* timer_ticks and the TSC at the tick interrupt that last ran, read together. */
void time_tick_snapshot(uint64_t *ticks, uint64_t *tsc) {
    uint64_t flags = irq_save();
    *ticks = timer_ticks;
    *tsc = last_tick_tsc;
    irq_restore(flags);
}

/* Writes hz as "2.9 GHz" / "62.5 MHz" / "999 kHz" (rounded to one decimal). */
static void format_hz(char *buf, size_t size, uint64_t hz) {
    static const struct { uint64_t unit; const char *name; } units[] = {
        {1000000000ull, "GHz"}, {1000000ull, "MHz"}, {1000ull, "kHz"}, {1ull, "Hz"}};
    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        if (hz >= units[i].unit || units[i].unit == 1) {
            uint64_t tenths = (hz * 10 + units[i].unit / 2) / units[i].unit;
            ksnprintf(buf, size, "%llu.%llu %s", (unsigned long long)(tenths / 10),
                      (unsigned long long)(tenths % 10), units[i].name);
            return;
        }
    }
}

/* Calibrates the TSC and LAPIC timer and starts the periodic tick. Needs irq_init(). */
void time_init(void) {
    uint64_t flags = irq_save();
    calibrate_tsc();
    if (lapic_active()) {
        lapic_timer_hz = calibrate_lapic_timer();
        if (!lapic_timer_hz)
            pr_warn("time: LAPIC timer does not count, using the PIT for the tick\n");
    }
    int r = 0;
    if (lapic_timer_hz) {
        irq_set_handler(VEC_LAPIC_TIMER, timer_tick_handler, NULL, "timer");
    } else {
        r = irq_route_isa(0, timer_tick_handler, NULL, "timer");
        if (r < 0)
            pr_err("time: cannot route the PIT interrupt (error %d): no periodic tick\n", r);
    }
    if (r >= 0) {
        tsc_per_tick = MAX(tsc_hz / TIMER_HZ, 1);
        tick_start_tsc = rdtsc();
        time_restart_tick();
    }
    irq_restore(flags);

    char tsc_text[24], lapic_text[24];
    format_hz(tsc_text, sizeof(tsc_text), tsc_hz);
    if (lapic_timer_hz) {
        format_hz(lapic_text, sizeof(lapic_text), lapic_timer_hz);
        pr_info("time: TSC %s (%s), LAPIC timer %s, tick %u Hz\n", tsc_text,
                time_calibration_source, lapic_text, TIMER_HZ);
    } else {
        pr_info("time: TSC %s (%s), PIT tick %u Hz\n", tsc_text, time_calibration_source,
                TIMER_HZ);
    }
}
