/* pit.c: the 8254 programmable interval timer (1.193182 MHz input clock).
 * Follows the Intel 8254 datasheet: control word format (SC1-SC0 counter select, RW1-RW0 =
 * 11 for LSB then MSB, 00 for the counter latch command, M2-M0 mode, BCD bit), mode 0
 * "interrupt on terminal count" (OUT goes low when the count is written and high when it
 * reaches zero; counting only while GATE is high) and mode 2 "rate generator". PC wiring: counter 0 drives ISA irq 0; counter 2's GATE
 * is bit 0 of port 0x61 and its OUT is readable as bit 5 of port 0x61 (bit 1 enables the
 * speaker, kept off here). */
#include "time.h"
#include "cpu.h"

#define PIT_PORT_COUNTER0 0x40
#define PIT_PORT_COUNTER2 0x42
#define PIT_PORT_CONTROL 0x43
#define PORT_SYSTEM_CONTROL_B 0x61
#define PORT61_GATE2 0x01
#define PORT61_SPEAKER 0x02
#define PORT61_OUT2 0x20
#define PIT_CTRL_COUNTER0 0x00
#define PIT_CTRL_COUNTER2 0x80
#define PIT_CTRL_LSB_MSB 0x30
#define PIT_CTRL_MODE0 0x00
#define PIT_CTRL_MODE2 0x04
#define PIT_CTRL_LATCH 0x00  /* RW1-RW0 = 00: counter latch command */
/* Latched reads take ~3 us each on real hardware: this bounds the wait far beyond 55 ms. */
#define PIT_WAIT_MAX_POLLS 5000000u

static uint64_t pit_read_counter2(void) {
    outb(PIT_PORT_CONTROL, PIT_CTRL_COUNTER2 | PIT_CTRL_LATCH);
    uint8_t low = inb(PIT_PORT_COUNTER2);
    uint8_t high = inb(PIT_PORT_COUNTER2);
    return (uint64_t)low | ((uint64_t)high << 8);
}

/* Lets counter 2 (mode 0, count 0xFFFF, started by raising GATE2) count down at least
 * pit_ticks (1-60000) and returns the exact PIT ticks and TSC cycles between two latched
 * reads, each paired with the TSC by time_sample_with_tsc (so a descheduled virtual CPU
 * does not skew the result). False when OUT2 is not low after programming (no working
 * gate/output, e.g. some hypervisors), the counter does not move within the poll bound, or
 * it ran out (OUT2 high) before the second read. */
bool pit_measure_tsc(uint32_t pit_ticks, uint64_t *tsc_cycles, uint32_t *pit_elapsed) {
    if (pit_ticks == 0 || pit_ticks > 60000)
        return false;
    uint64_t flags = irq_save();
    uint8_t saved61 = inb(PORT_SYSTEM_CONTROL_B);
    uint8_t gate_low = saved61 & (uint8_t)~(PORT61_GATE2 | PORT61_SPEAKER);
    outb(PORT_SYSTEM_CONTROL_B, gate_low);
    outb(PIT_PORT_CONTROL, PIT_CTRL_COUNTER2 | PIT_CTRL_LSB_MSB | PIT_CTRL_MODE0);
    outb(PIT_PORT_COUNTER2, 0xff);
    outb(PIT_PORT_COUNTER2, 0xff);
    bool ok = false;
    /* Mode 0: OUT is low from the count write until the count reaches zero. */
    if (!(inb(PORT_SYSTEM_CONTROL_B) & PORT61_OUT2)) {
        outb(PORT_SYSTEM_CONTROL_B, gate_low | PORT61_GATE2);
        uint64_t count_start, count_end;
        uint64_t tsc_start = time_sample_with_tsc(pit_read_counter2, &count_start);
        uint32_t polls = 0;
        for (; polls < PIT_WAIT_MAX_POLLS; polls++) {
            uint64_t now = pit_read_counter2();
            if (now > count_start || count_start - now >= pit_ticks)
                break; /* enough ticks, or wrapped (caught below through OUT2) */
        }
        uint64_t tsc_end = time_sample_with_tsc(pit_read_counter2, &count_end);
        bool ran_out = (inb(PORT_SYSTEM_CONTROL_B) & PORT61_OUT2) != 0;
        if (polls < PIT_WAIT_MAX_POLLS && !ran_out && count_end < count_start) {
            *tsc_cycles = tsc_end - tsc_start;
            *pit_elapsed = (uint32_t)(count_start - count_end);
            ok = true;
        }
    }
    outb(PORT_SYSTEM_CONTROL_B, saved61 & (uint8_t)~PORT61_SPEAKER);
    irq_restore(flags);
    return ok;
}

/* Programs counter 0 as a rate generator (mode 2) at hz interrupts per second on irq 0. */
void pit_start_periodic(uint32_t hz) {
    uint32_t divisor = hz ? (PIT_INPUT_HZ + hz / 2) / hz : 0x10000;
    if (divisor < 2)
        divisor = 2;
    if (divisor > 0xffff)
        divisor = 0; /* 0 means 65536 */
    uint64_t flags = irq_save();
    outb(PIT_PORT_CONTROL, PIT_CTRL_COUNTER0 | PIT_CTRL_LSB_MSB | PIT_CTRL_MODE2);
    outb(PIT_PORT_COUNTER0, (uint8_t)divisor);
    outb(PIT_PORT_COUNTER0, (uint8_t)(divisor >> 8));
    irq_restore(flags);
}
