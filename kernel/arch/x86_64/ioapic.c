/* ioapic.c: I/O APICs found in the ACPI MADT (ACPI 6.5 5.2.12.3).
 * Follows the Intel 82093AA I/O APIC datasheet, section 3: indirect register access through
 * IOREGSEL (offset 0x00) and IOWIN (offset 0x10); IOAPICID (0x00), IOAPICVER (0x01: version
 * in bits 7:0, maximum redirection entry in bits 23:16) and the redirection table at
 * 0x10 + 2n (low dword) / 0x11 + 2n (high dword): vector 7:0, delivery mode 10:8, destination
 * mode 11, polarity 13 (1 = low), trigger mode 15 (1 = level), mask 16, destination 63:56. */
#include "irq.h"
#include "acpi.h"
#include "cpu.h"
#include "kerrno.h"
#include "mm.h"
#include "printk.h"

#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_REDIR0 0x10
#define IOAPIC_MMIO_SIZE 0x20

struct ioapic {
    volatile uint8_t *mmio;
    uint8_t id;
    uint8_t version;
    uint32_t gsi_base;
    uint32_t entries; /* maximum redirection entry + 1 */
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static int ioapic_count;
static volatile int ioapic_lock_word; /* IOREGSEL/IOWIN pairs must not interleave */

static uint64_t ioapic_lock(void) {
    uint64_t flags = irq_save();
    while (__atomic_test_and_set(&ioapic_lock_word, __ATOMIC_ACQUIRE))
        cpu_relax();
    return flags;
}

static void ioapic_unlock(uint64_t flags) {
    __atomic_clear(&ioapic_lock_word, __ATOMIC_RELEASE);
    irq_restore(flags);
}

static uint32_t ioapic_reg_read(const struct ioapic *io, uint8_t reg) {
    mmio_write32(io->mmio + IOAPIC_IOREGSEL, reg);
    return mmio_read32(io->mmio + IOAPIC_IOWIN);
}

static void ioapic_reg_write(const struct ioapic *io, uint8_t reg, uint32_t v) {
    mmio_write32(io->mmio + IOAPIC_IOREGSEL, reg);
    mmio_write32(io->mmio + IOAPIC_IOWIN, v);
}

/* The I/O APIC serving a GSI and the entry index inside it, or NULL. */
static struct ioapic *ioapic_for_gsi(uint32_t gsi, uint32_t *index) {
    for (int i = 0; i < ioapic_count; i++) {
        struct ioapic *io = &ioapics[i];
        if (gsi >= io->gsi_base && gsi - io->gsi_base < io->entries) {
            *index = gsi - io->gsi_base;
            return io;
        }
    }
    return NULL;
}

/* Writes an entry with the mask set first, so a half-written entry never fires. */
static void ioapic_write_entry_locked(struct ioapic *io, uint32_t index, uint64_t entry) {
    uint8_t reg = (uint8_t)(IOAPIC_REG_REDIR0 + 2 * index);
    ioapic_reg_write(io, reg, (uint32_t)entry | (uint32_t)IOAPIC_ENTRY_MASKED);
    ioapic_reg_write(io, reg + 1, (uint32_t)(entry >> 32));
    ioapic_reg_write(io, reg, (uint32_t)entry);
}

/* Maps every I/O APIC of the MADT and masks all their entries; returns how many work. */
int ioapic_init(void) {
    ioapic_count = 0;
    for (int i = 0; i < acpi.ioapic_count && i < ACPI_MAX_IOAPICS; i++) {
        const struct acpi_ioapic *a = &acpi.ioapics[i];
        struct ioapic *io = &ioapics[ioapic_count];
        io->mmio = vmm_map_mmio(a->address, IOAPIC_MMIO_SIZE);
        if (!io->mmio) {
            pr_warn("ioapic: cannot map I/O APIC %u at %#x\n", a->id, a->address);
            continue;
        }
        uint32_t ver = ioapic_reg_read(io, IOAPIC_REG_VERSION);
        if (ver == 0xffffffffu) {
            pr_warn("ioapic: nothing answers at %#x\n", a->address);
            continue;
        }
        io->id = (uint8_t)((ioapic_reg_read(io, IOAPIC_REG_ID) >> 24) & 0x0f);
        io->version = (uint8_t)ver;
        io->entries = ((ver >> 16) & 0xff) + 1;
        io->gsi_base = a->gsi_base;
        for (uint32_t e = 0; e < io->entries; e++)
            ioapic_write_entry_locked(io, e, IOAPIC_ENTRY_MASKED);
        pr_info("ioapic: id %u version %#x at %#x, GSI %u-%u\n", io->id, io->version, a->address,
                io->gsi_base, io->gsi_base + io->entries - 1);
        ioapic_count++;
    }
    return ioapic_count;
}

/* Programs GSI -> vector (fixed delivery, physical destination apic_id), unmasked. */
int ioapic_route_gsi(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool active_low, bool level) {
    uint32_t index;
    struct ioapic *io = ioapic_for_gsi(gsi, &index);
    if (!io)
        return -KENOENT;
    if (apic_id > 0xff)
        return -KEINVAL; /* needs interrupt remapping */
    uint64_t entry = vector | ((uint64_t)apic_id << 56);
    if (active_low)
        entry |= IOAPIC_ENTRY_ACTIVE_LOW;
    if (level)
        entry |= IOAPIC_ENTRY_LEVEL;
    uint64_t flags = ioapic_lock();
    ioapic_write_entry_locked(io, index, entry);
    ioapic_unlock(flags);
    return 0;
}

/* Masks a GSI's entry (the rest of the entry is kept). */
int ioapic_mask_gsi(uint32_t gsi) {
    uint32_t index;
    struct ioapic *io = ioapic_for_gsi(gsi, &index);
    if (!io)
        return -KENOENT;
    uint64_t flags = ioapic_lock();
    uint8_t reg = (uint8_t)(IOAPIC_REG_REDIR0 + 2 * index);
    ioapic_reg_write(io, reg, ioapic_reg_read(io, reg) | (uint32_t)IOAPIC_ENTRY_MASKED);
    ioapic_unlock(flags);
    return 0;
}

/* Reads the 64-bit redirection entry of a GSI; 0 or -KENOENT when no I/O APIC has it. */
int ioapic_read_entry(uint32_t gsi, uint64_t *out) {
    uint32_t index;
    struct ioapic *io = ioapic_for_gsi(gsi, &index);
    if (!io)
        return -KENOENT;
    uint64_t flags = ioapic_lock();
    uint8_t reg = (uint8_t)(IOAPIC_REG_REDIR0 + 2 * index);
    uint32_t low = ioapic_reg_read(io, reg);
    uint32_t high = ioapic_reg_read(io, reg + 1);
    ioapic_unlock(flags);
    *out = ((uint64_t)high << 32) | low;
    return 0;
}

/* Total redirection entries over all I/O APICs. */
int ioapic_entry_count(void) {
    int n = 0;
    for (int i = 0; i < ioapic_count; i++)
        n += (int)ioapics[i].entries;
    return n;
}
