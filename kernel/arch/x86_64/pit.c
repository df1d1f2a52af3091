/* pit.c: the 8254 programmable interval timer (1.193182 MHz input clock).
 * Follows the Intel 8254 datasheet: control word format (SC1-SC0 counter select, RW1-RW0 =
 * 11 for LSB then MSB, M2-M0 mode, BCD bit), mode 0 "interrupt on terminal count" (OUT goes
 * low when the count is written and high when it reaches zero; counting only while GATE is
 * high) and mode 2 "rate generator". PC wiring: counter 0 drives ISA irq 0; counter 2's GATE
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
/* Port 0x61 reads, at ~1 us each on real hardware, bound the wait far beyond 55 ms. */
#define PIT_WAIT_MAX_POLLS 20000000u

/* Counts pit_ticks (1-65535) of the PIT input clock on counter 2 in mode 0, gated through
 * port 0x61, and returns the TSC cycles that took. False when the counter's OUT never rises
 * (a PIT without a working gate) or the count is out of range. */
bool pit_measure_tsc(uint32_t pit_ticks, uint64_t *tsc_delta) {
    if (pit_ticks == 0 || pit_ticks > 0xffff)
        return false;
    uint64_t flags = irq_save();
    uint8_t saved61 = inb(PORT_SYSTEM_CONTROL_B);
    uint8_t gate_low = saved61 & (uint8_t)~(PORT61_GATE2 | PORT61_SPEAKER);
    outb(PORT_SYSTEM_CONTROL_B, gate_low);
    outb(PIT_PORT_CONTROL, PIT_CTRL_COUNTER2 | PIT_CTRL_LSB_MSB | PIT_CTRL_MODE0);
    outb(PIT_PORT_COUNTER2, (uint8_t)pit_ticks);
    outb(PIT_PORT_COUNTER2, (uint8_t)(pit_ticks >> 8));
    bool ok = false;
    /* Mode 0: OUT is low from the count write until terminal count. */
    if (!(inb(PORT_SYSTEM_CONTROL_B) & PORT61_OUT2)) {
        uint64_t start = rdtsc();
        outb(PORT_SYSTEM_CONTROL_B, gate_low | PORT61_GATE2);
        for (uint32_t i = 0; i < PIT_WAIT_MAX_POLLS; i++) {
            if (inb(PORT_SYSTEM_CONTROL_B) & PORT61_OUT2) {
                *tsc_delta = rdtsc() - start;
                ok = true;
                break;
            }
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
