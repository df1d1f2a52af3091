/* power.h: rebooting and powering off (kernel/acpi/power.c): the ACPI reset register and S5
 * soft-off (ACPI 6.5 sections 4.8.3.6, 4.8.4.2, 7.4.2), legacy reset fallbacks, and QEMU's
 * isa-debug-exit device for ending a test run with a verdict. */
#pragma once
#include "types.h"

/* The QEMU launcher always attaches -device isa-debug-exit,iobase=0xf4,iosize=0x04. */
#define QEMU_DEBUG_EXIT_PORT 0xf4

/* Resets the machine: ACPI reset register (when the FADT offers one), then the 8042 reset
 * line, then the 0xCF9 reset control register, then a triple fault. Never returns. */
NORETURN void power_reboot(void);
/* Enters S5 (soft off) through PM1a/PM1b_CNT with the \_S5 SLP_TYP values; falls back to
 * qemu_debug_exit(0), then prints "power off failed, halting" and halts with interrupts off. */
NORETURN void power_off(void);
/* Writes code to QEMU's isa-debug-exit port: QEMU exits with status (code << 1) | 1.
 * Without that device (real hardware) it halts forever. */
NORETURN void qemu_debug_exit(uint8_t code);
