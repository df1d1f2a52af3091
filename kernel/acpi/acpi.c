/* acpi.c: the kernel side of ACPI table parsing (ACPI Specification 6.5, chapter 5).
 * Hands the pure parser (acpi_tables.c) a map callback over the kernel's direct map, keeps the
 * result in `acpi`, logs a summary and every problem, and prints the tables for the shell.
 * No RSDP is a situation, not a crash: the interrupt and PCI code fall back to the PIC and
 * port-I/O configuration access. */
#include "types.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "mm.h"
#include "acpi.h"

struct acpi_info acpi;

/* Map callback: tables are read in place through the direct map, never beyond it. */
const void *acpi_map_direct(uint64_t pa, size_t len, void *ctx) {
    (void)ctx;
    if (len == 0 || pa + len < pa) return NULL;
    if (!vmm_direct_mapped(pa, len)) return NULL;
    return phys_to_virt(pa);
}

/* Appends the valid tables' signatures to buf, separated by spaces. */
static void format_table_list(char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < acpi.table_count && used < size; i++)
        used += (size_t)ksnprintf(buf + used, size - used, "%s%s", i ? " " : "", acpi.table_sigs[i]);
}

void acpi_init(uint64_t rsdp_pa) {
    if (rsdp_pa == 0) {
        memset(&acpi, 0, sizeof(acpi));
        pr_info("acpi: no RSDP from firmware, falling back to PIC and port-I/O PCI\n");
        return;
    }
    int rc = acpi_parse(rsdp_pa, acpi_map_direct, NULL, &acpi);
    if (rc == 0) {
        char list[ACPI_MAX_TABLES * 5 + 1];
        format_table_list(list, sizeof(list));
        pr_info("acpi: rev %u %s OEM %s tables: %s\n", acpi.revision, acpi.used_xsdt ? "XSDT" : "RSDT",
                acpi.oem_id, list);
        if (acpi.has_madt)
            pr_info("acpi: %d CPU%s (%d disabled), %d I/O APIC%s, %d interrupt override%s, LAPIC at %#lx\n",
                    acpi.cpu_count, acpi.cpu_count == 1 ? "" : "s", acpi.cpu_disabled_count,
                    acpi.ioapic_count, acpi.ioapic_count == 1 ? "" : "s", acpi.iso_count,
                    acpi.iso_count == 1 ? "" : "s", (unsigned long)acpi.lapic_address);
        else
            pr_warn("acpi: no usable MADT, interrupts stay on the PIC\n");
        if (acpi.has_fadt)
            pr_info("acpi: PM1a_CNT %#x, SCI %u, \\_S5 %s, reset %s\n", acpi.pm1a_cnt, acpi.sci_int,
                    acpi.has_s5 ? "found" : "missing", acpi.reset_supported ? "via FADT" : "legacy");
    } else {
        pr_warn("acpi: no usable ACPI tables (RSDP at %#lx), falling back to PIC and port-I/O PCI\n",
                (unsigned long)rsdp_pa);
    }
    for (int i = 0; i < acpi.error_count; i++) pr_warn("acpi: %s\n", acpi.errors[i]);
    if (acpi.errors_dropped) pr_warn("acpi: %d more problems not listed\n", acpi.errors_dropped);
}

static const char *gas_space_name(uint8_t space) {
    switch (space) {
    case ACPI_GAS_MEMORY: return "memory";
    case ACPI_GAS_IO: return "I/O";
    case ACPI_GAS_PCI_CONFIG: return "PCI config";
    default: return "other";
    }
}

/* Interrupt override polarity and trigger (MPS INTI flags, ACPI 6.5 table 5.26). */
static const char *inti_polarity(uint16_t flags) {
    static const char *const names[4] = {"bus", "high", "?", "low"};
    return names[flags & 3];
}
static const char *inti_trigger(uint16_t flags) {
    static const char *const names[4] = {"bus", "edge", "?", "level"};
    return names[(flags >> 2) & 3];
}

void acpi_print(void) {
    if (!acpi.found) {
        kprintf("acpi: no ACPI tables\n");
        return;
    }
    kprintf("RSDP at %#lx, revision %u, OEM '%s', %s at %#lx\n", (unsigned long)acpi.rsdp_address,
            acpi.revision, acpi.oem_id, acpi.used_xsdt ? "XSDT" : "RSDT", (unsigned long)acpi.root_address);
    for (int i = 0; i < acpi.table_count; i++)
        kprintf("  %s at %#lx, %u bytes\n", acpi.table_sigs[i], (unsigned long)acpi.table_addrs[i],
                acpi.table_lens[i]);
    if (acpi.has_madt) {
        kprintf("MADT: LAPIC at %#lx, 8259 PIC %s\n", (unsigned long)acpi.lapic_address,
                acpi.pic_present ? "present" : "absent");
        for (int i = 0; i < acpi.cpu_count; i++)
            kprintf("  CPU  acpi id %u  apic id %u  %s%s\n", acpi.cpus[i].acpi_id, acpi.cpus[i].apic_id,
                    acpi.cpus[i].enabled ? "enabled" : "online-capable", acpi.cpus[i].x2apic ? "  x2APIC" : "");
        if (acpi.cpu_disabled_count) kprintf("  (%d disabled CPU entries)\n", acpi.cpu_disabled_count);
        for (int i = 0; i < acpi.ioapic_count; i++)
            kprintf("  IOAPIC id %u at %#x, GSI base %u\n", acpi.ioapics[i].id, acpi.ioapics[i].address,
                    acpi.ioapics[i].gsi_base);
        for (int i = 0; i < acpi.iso_count; i++)
            kprintf("  override bus %u IRQ %u -> GSI %u, polarity %s, trigger %s\n", acpi.isos[i].bus,
                    acpi.isos[i].source, acpi.isos[i].gsi, inti_polarity(acpi.isos[i].flags),
                    inti_trigger(acpi.isos[i].flags));
        for (int i = 0; i < acpi.nmi_count; i++) {
            if (acpi.nmis[i].acpi_id == ACPI_NMI_ALL_CPUS)
                kprintf("  LAPIC NMI on LINT%u, all CPUs\n", acpi.nmis[i].lint);
            else
                kprintf("  LAPIC NMI on LINT%u, CPU acpi id %u\n", acpi.nmis[i].lint, acpi.nmis[i].acpi_id);
        }
    }
    if (acpi.has_fadt) {
        kprintf("FADT: revision %u, SCI %u, PM1a_CNT %#x, PM1b_CNT %#x, PM timer %#x (%s-bit)\n",
                acpi.fadt_revision, acpi.sci_int, acpi.pm1a_cnt, acpi.pm1b_cnt, acpi.pm_tmr_blk,
                acpi.pm_tmr_32bit ? "32" : "24");
        if (acpi.iapc_boot_arch_valid)
            kprintf("  IAPC_BOOT_ARCH %#x (8042 %s)\n", acpi.iapc_boot_arch,
                    (acpi.iapc_boot_arch & 2) ? "present" : "absent");
        if (acpi.reset_supported)
            kprintf("  reset register %s %#lx, value %#x\n", gas_space_name(acpi.reset_reg.space_id),
                    (unsigned long)acpi.reset_reg.address, acpi.reset_value);
        if (acpi.has_s5)
            kprintf("  DSDT at %#lx, \\_S5 SLP_TYPa %u SLP_TYPb %u\n", (unsigned long)acpi.dsdt, acpi.s5_typa,
                    acpi.s5_typb);
        else
            kprintf("  DSDT at %#lx, no \\_S5\n", (unsigned long)acpi.dsdt);
    }
    for (int i = 0; i < acpi.mcfg_count; i++)
        kprintf("MCFG: segment %u buses %u-%u ECAM at %#lx\n", acpi.mcfg[i].segment, acpi.mcfg[i].bus_start,
                acpi.mcfg[i].bus_end, (unsigned long)acpi.mcfg[i].base);
    if (acpi.has_hpet) kprintf("HPET: at %#lx\n", (unsigned long)acpi.hpet_address);
    for (int i = 0; i < acpi.error_count; i++) kprintf("problem: %s\n", acpi.errors[i]);
}
