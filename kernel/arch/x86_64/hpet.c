/* hpet.c: the High Precision Event Timer's main counter, used as the reference clock for
 * calibrating the TSC.
 * Follows the IA-PC HPET Specification 1.0a, section 2.3: General Capabilities and ID
 * register (offset 0x000; COUNTER_CLK_PERIOD in bits 63:32 in femtoseconds, at most
 * 0x05F5E100 = 100 ns; COUNT_SIZE_CAP bit 13), General Configuration register (0x010;
 * ENABLE_CNF bit 0) and the Main Counter Value register (0x0F0). The block's address comes
 * from the ACPI HPET table. Comparators and interrupts are not used. */
#include "time.h"
#include "acpi.h"
#include "cpu.h"
#include "mm.h"
#include "printk.h"

#define HPET_REG_CAPABILITIES 0x000
#define HPET_REG_CONFIG 0x010
#define HPET_REG_MAIN_COUNTER 0x0f0
#define HPET_MMIO_SIZE 0x400
#define HPET_CAP_COUNT_SIZE_64 (1ull << 13)
#define HPET_CONFIG_ENABLE 1ull
#define HPET_MAX_PERIOD_FS 100000000ull /* 100 ns (spec: 0x05F5E100) */

static volatile uint8_t *hpet_mmio;
static uint64_t hpet_period;
static bool hpet_counter_64;
static bool hpet_running;

/* Reads the main counter: one 64-bit read on a 64-bit counter, else the low 32 bits. */
uint64_t hpet_read(void) {
    if (!hpet_running)
        return 0;
    if (hpet_counter_64)
        return mmio_read64(hpet_mmio + HPET_REG_MAIN_COUNTER);
    return mmio_read32(hpet_mmio + HPET_REG_MAIN_COUNTER);
}

bool hpet_available(void) { return hpet_running; }
uint64_t hpet_period_fs(void) { return hpet_period; }

/* Counter ticks from start to end, handling the wrap of a 32-bit counter. */
uint64_t hpet_ticks_between(uint64_t start, uint64_t end) {
    if (hpet_counter_64)
        return end - start;
    return (uint32_t)((uint32_t)end - (uint32_t)start);
}

/* Maps the HPET from the ACPI table, checks its period and enables the main counter.
 * Returns false (with a message) when there is none or it does not count. */
bool hpet_init(void) {
    if (hpet_running)
        return true;
    if (!acpi.has_hpet || !acpi.hpet_address)
        return false;
    hpet_mmio = vmm_map_mmio(acpi.hpet_address, HPET_MMIO_SIZE);
    if (!hpet_mmio) {
        pr_warn("hpet: cannot map %#llx\n", (unsigned long long)acpi.hpet_address);
        return false;
    }
    uint64_t cap = mmio_read64(hpet_mmio + HPET_REG_CAPABILITIES);
    uint64_t period = cap >> 32;
    if (period == 0 || period > HPET_MAX_PERIOD_FS) {
        pr_warn("hpet: implausible period %llu fs, not used\n", (unsigned long long)period);
        return false;
    }
    hpet_period = period;
    hpet_counter_64 = (cap & HPET_CAP_COUNT_SIZE_64) != 0;
    uint64_t config = mmio_read64(hpet_mmio + HPET_REG_CONFIG);
    if (!(config & HPET_CONFIG_ENABLE))
        mmio_write64(hpet_mmio + HPET_REG_CONFIG, config | HPET_CONFIG_ENABLE);
    hpet_running = true;

    /* It must count: one period is at most 100 ns, so a few thousand reads see it move. */
    uint64_t first = hpet_read();
    for (int i = 0; i < 100000; i++) {
        if (hpet_read() != first) {
            pr_info("hpet: %llu Hz (period %llu fs), %u-bit counter\n",
                    (unsigned long long)(1000000000000000ull / period),
                    (unsigned long long)period, hpet_counter_64 ? 64u : 32u);
            return true;
        }
        cpu_relax();
    }
    pr_warn("hpet: main counter does not advance, not used\n");
    hpet_running = false;
    return false;
}
