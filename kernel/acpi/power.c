/* power.c: reboot and power off.
 *
 * Follows the ACPI Specification 6.5:
 *   4.8.3.6 Reset Register (FADT RESET_REG / RESET_VALUE, RESET_REG_SUP flag)
 *   4.8.4.2 PM1 Control Registers (SLP_TYPx bits 10-12, SLP_EN bit 13; 16-bit accesses)
 *   4.8.3.3 Power Management Timer (3.579545 MHz, 24 or 32 bits), used for the waits
 *   7.4.2   \_Sx objects: SLP_TYPa/SLP_TYPb values for S5 (soft off)
 * Legacy fallbacks: the 8042 "pulse reset line" command 0xFE (IBM PC/AT keyboard controller),
 * the reset control register at I/O port 0xCF9 (Intel ICH9 datasheet 13.7.5), and a triple
 * fault (Intel SDM vol. 3A 6.15, #DF with no usable IDT shuts the processor down, which the
 * chipset turns into a reset). QEMU's isa-debug-exit device ends a test run with a status.
 *
 * Every wait is bounded: the PM timer when the FADT gives one, else a counted I/O delay. */
#include "types.h"
#include "cpu.h"
#include "mm.h"
#include "printk.h"
#include "acpi.h"
#include "power.h"

#define PM_TIMER_HZ 3579545u
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_MASK (7u << PM1_SLP_TYP_SHIFT)
#define PM1_SLP_EN (1u << 13)

#define KBC_STATUS_PORT 0x64
#define KBC_COMMAND_PORT 0x64
#define KBC_STATUS_INPUT_FULL 0x02
#define KBC_CMD_PULSE_RESET 0xfe
#define KBC_WAIT_TRIES 10000

#define RESET_CONTROL_PORT 0xcf9
#define RST_CNT_SYS_RST 0x02
#define RST_CNT_RST_CPU 0x04

/* Busy-waits about ms milliseconds without needing calibrated clocks (this runs from panic
 * and shutdown paths too). The ACPI PM timer is exact; the port 0x80 write takes about a
 * microsecond on PC hardware. A PM timer that stops counting is noticed (the same value read
 * many times in a row) and the wait falls back to port 0x80 writes; the reads are capped too. */
static void power_delay_ms(uint32_t ms) {
    if (acpi.pm_tmr_blk) {
        uint16_t port = (uint16_t)acpi.pm_tmr_blk;
        uint32_t mask = acpi.pm_tmr_32bit ? 0xffffffffu : 0x00ffffffu;
        uint32_t need = (uint32_t)(((uint64_t)PM_TIMER_HZ * ms) / 1000);
        uint32_t start = inl(port) & mask, last = start;
        uint32_t same = 0;
        uint64_t max_reads = (uint64_t)ms * 100000;
        for (uint64_t reads = 0; reads < max_reads; reads++) {
            uint32_t now = inl(port) & mask;
            if (((now - start) & mask) >= need) return;
            if (now == last) {
                if (++same > 100000) break; /* the timer is not running */
            } else {
                same = 0;
                last = now;
            }
        }
        if (same <= 100000) return;
    }
    for (uint64_t i = 0; i < (uint64_t)ms * 1000; i++) io_wait();
}

static void halt_forever(void) {
    for (;;) {
        cli();
        hlt();
    }
}

NORETURN void qemu_debug_exit(uint8_t code) {
    outb(QEMU_DEBUG_EXIT_PORT, code);
    /* Still here: no isa-debug-exit device (or not QEMU). */
    halt_forever();
    __builtin_unreachable();
}

/* Writes RESET_VALUE to the FADT's reset register (4.8.3.6). */
static void reset_via_acpi(void) {
    const struct acpi_gas *r = &acpi.reset_reg;
    switch (r->space_id) {
    case ACPI_GAS_IO:
        if (r->address > 0xffff) return;
        outb((uint16_t)r->address, acpi.reset_value);
        break;
    case ACPI_GAS_MEMORY: {
        uint64_t page = r->address & ~(PAGE_SIZE - 1);
        volatile uint8_t *base = vmm_map_mmio(page, PAGE_SIZE);
        if (!base) return;
        base[r->address - page] = acpi.reset_value;
        break;
    }
    default:
        /* PCI configuration space (and anything else): not attempted here. */
        return;
    }
    power_delay_ms(50);
}

/* Asks the 8042 keyboard controller to pulse the CPU reset line. */
static void reset_via_8042(void) {
    for (int i = 0; i < KBC_WAIT_TRIES; i++) {
        if (!(inb(KBC_STATUS_PORT) & KBC_STATUS_INPUT_FULL)) break;
        io_wait();
    }
    outb(KBC_COMMAND_PORT, KBC_CMD_PULSE_RESET);
    power_delay_ms(50);
}

/* Chipset reset control register: select a hard reset, then trigger it. */
static void reset_via_cf9(void) {
    outb(RESET_CONTROL_PORT, RST_CNT_SYS_RST);
    io_wait();
    outb(RESET_CONTROL_PORT, RST_CNT_SYS_RST | RST_CNT_RST_CPU);
    power_delay_ms(50);
}

/* An empty IDT makes the breakpoint exception unserviceable: #DF, then shutdown. */
static void triple_fault(void) {
    struct {
        uint16_t limit;
        uint64_t base;
    } PACKED empty_idt = {0, 0};
    __asm__ volatile("lidt %0\n\tint3" ::"m"(empty_idt) : "memory");
}

NORETURN void power_reboot(void) {
    cli();
    pr_info("power: rebooting\n");
    if (acpi.reset_supported) reset_via_acpi();
    reset_via_8042();
    reset_via_cf9();
    triple_fault();
    halt_forever();
    __builtin_unreachable();
}

/* Writes SLP_TYP with SLP_EN into one PM1 control register, keeping its other bits. */
static void pm1_sleep(uint32_t port, uint8_t slp_typ) {
    uint16_t v = inw((uint16_t)port);
    v = (uint16_t)((v & ~(PM1_SLP_TYP_MASK | PM1_SLP_EN)) | ((slp_typ & 7u) << PM1_SLP_TYP_SHIFT));
    outw((uint16_t)port, (uint16_t)(v | PM1_SLP_EN));
}

NORETURN void power_off(void) {
    cli();
    if (acpi.has_s5 && acpi.pm1a_cnt) {
        pr_info("power: entering S5 (PM1a_CNT %#x, SLP_TYP %u)\n", acpi.pm1a_cnt, acpi.s5_typa & 7);
        pm1_sleep(acpi.pm1a_cnt, acpi.s5_typa);
        if (acpi.pm1b_cnt) pm1_sleep(acpi.pm1b_cnt, acpi.s5_typb);
        power_delay_ms(200);
        pr_warn("power: S5 did not take effect\n");
    } else {
        pr_warn("power: no ACPI S5 (\\_S5 %s, PM1a_CNT %#x)\n", acpi.has_s5 ? "found" : "missing",
                acpi.pm1a_cnt);
    }
    outb(QEMU_DEBUG_EXIT_PORT, 0);
    power_delay_ms(50);
    pr_err("power off failed, halting\n");
    halt_forever();
    __builtin_unreachable();
}
