/* time.h: clocks and timers (kernel/arch/x86_64/time.c, pit.c, hpet.c, rtc.c).
 * The TSC is calibrated against the HPET (or the PIT when there is no HPET), the LAPIC timer
 * against the TSC; every calibration loop has a timeout and a fallback. */
#pragma once
#include "types.h"

#define TIMER_HZ 100 /* periodic tick rate until the scheduler's one-shot timers arrive */

extern uint64_t tsc_hz;          /* TSC ticks per second */
extern uint64_t lapic_timer_hz;  /* LAPIC timer input ticks per second after the divider */
/* "HPET", "PIT", "CPUID" (leaf 0x15/0x16) or "fallback" (1 GHz assumed). */
extern const char *time_calibration_source;

/* Calibrates the TSC and LAPIC timer and starts the periodic tick. Needs irq_init(). */
void time_init(void);
/* Monotonic nanoseconds since time_init (from the TSC). */
uint64_t time_ns(void);
uint64_t tsc_to_ns(uint64_t tsc_delta);
/* TSC cycles in ns nanoseconds (0 before calibration). */
uint64_t ns_to_tsc(uint64_t ns);
/* The log timestamp: time_ns() once the TSC is calibrated, else 0 (overrides printk.c's). */
uint64_t printk_clock_ns(void);
/* Reads a reference clock (HPET, LAPIC timer count, ...) together with the TSC, keeping the
 * try with the tightest rdtsc bracket; returns the TSC at the read, the value in *reference. */
uint64_t time_sample_with_tsc(uint64_t (*read_reference)(void), uint64_t *reference);
/* What drives the periodic tick: "LAPIC", "PIT" or "none". */
const char *time_tick_source(void);
/* timer_ticks and the TSC at the tick interrupt that last ran, read together. */
void time_tick_snapshot(uint64_t *ticks, uint64_t *tsc);
/* Reprograms the periodic tick source (after a test borrowed the LAPIC timer). */
void time_restart_tick(void);
/* Busy-waits (for drivers during init). */
void udelay(uint64_t us);
void mdelay(uint64_t ms);
/* Tick periods (1/TIMER_HZ s) since the tick started, advanced by the tick interrupt and
 * kept in step with the TSC when interrupts arrive late or merge. */
extern volatile uint64_t timer_ticks;
/* The tick rate of the PIT when it stands in for the one-shot LAPIC timer (PIC mode). */
#define TIME_PIT_EVENT_HZ 1000
/* Switches from the boot tick to one-shot timer events delivered to handler (ktimer.c). */
#include "irq.h"
void time_set_event_mode(irq_handler_t handler, void (*reprogram)(void));
/* True when events are one-shot (LAPIC); false when a periodic PIT delivers them. */
bool time_event_oneshot(void);
/* Programs the next one-shot event delta_ns from now; UINT64_MAX stops the timer. */
void time_program_event(uint64_t delta_ns);
/* Registers a function called from every boot-time periodic tick (interrupt context; only
 * until time_set_event_mode). Up to 4. */
int time_add_tick_hook(void (*fn)(void));

/* HPET (hpet.c): hpet_available is true when present and running; hpet_read returns the main
 * counter; hpet_period_fs is its tick period in femtoseconds. */
bool hpet_available(void);
uint64_t hpet_read(void);
uint64_t hpet_period_fs(void);
/* Maps and enables the HPET from the ACPI table; false when absent or not counting. */
bool hpet_init(void);
/* Counter ticks from start to end (handles a 32-bit counter's wrap). */
uint64_t hpet_ticks_between(uint64_t start, uint64_t end);

/* 8254 PIT (pit.c). */
#define PIT_INPUT_HZ 1193182u
/* Lets counter 2 (gate via port 0x61, mode 0) count at least pit_ticks (1-60000) and
 * returns the exact PIT ticks counted and the TSC cycles they took, both ends read as
 * bracketed (TSC, latched count) pairs; false when the gate/output does not work. Bounded. */
bool pit_measure_tsc(uint32_t pit_ticks, uint64_t *tsc_cycles, uint32_t *pit_elapsed);
/* Counter 0 as a rate generator at hz on ISA irq 0. */
void pit_start_periodic(uint32_t hz);

/* CMOS RTC (rtc.c). */
struct rtc_time { int year, month, day, hour, minute, second; };
/* Reads the wall clock (waits for no update in progress, with a timeout). 0 or -KEIO. */
int rtc_read(struct rtc_time *out);
/* Seconds since 1970-01-01 UTC for a date (pure, host-tested); -1 for an invalid date or
 * one outside 1970-9999. */
int64_t rtc_to_unix(const struct rtc_time *t);
/* CMOS index of the century register (the FADT CENTURY field), 0 = none (assume 20xx). */
void rtc_set_century_register(uint8_t cmos_index);
/* The RTC's registers as read (pure decoding below, host-tested). */
struct rtc_raw {
    uint8_t second, minute, hour, day, month, year;
    uint8_t century;       /* valid when has_century */
    bool has_century;
    uint8_t status_b;      /* bit 2: binary (else BCD), bit 1: 24-hour (else 12-hour, bit 7 = PM) */
};
/* Two BCD digits to 0-99; -1 when a nibble is not a decimal digit. */
int rtc_bcd_to_binary(uint8_t bcd);
/* Decodes BCD/binary and 12/24-hour fields into *out; 0, or -KEIO for an impossible value. */
int rtc_decode(const struct rtc_raw *raw, struct rtc_time *out);
