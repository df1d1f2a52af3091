/* acpi_selftest.c: kernel self-tests for the ACPI tables QEMU q35 + OVMF hands us
 * (ACPI Specification 6.5 chapter 5; MCFG from PCI Firmware 3.0; HPET from IA-PC HPET 1.0a
 * section 2.3.4 for the capabilities register). Group `acpi`.
 * The CPU count against --smp is checked by the boot-configuration tests. */
#include "types.h"
#include "cpu.h"
#include "mm.h"
#include "kstring.h"
#include "acpi.h"
#include "selftest.h"

static bool table_listed(const char *sig) {
    for (int i = 0; i < acpi.table_count; i++)
        if (!memcmp(acpi.table_sigs[i], sig, 4)) return true;
    return false;
}

SELFTEST(acpi, rsdp_and_root_valid) {
    ST_ASSERT(t, acpi.found, "no RSDP with a valid checksum (address %#lx)", (unsigned long)acpi.rsdp_address);
    ST_ASSERT(t, acpi.root_valid, "RSDP found but neither XSDT nor RSDT is valid");
    ST_ASSERT(t, acpi.root_address != 0, "root table address is 0");
    ST_ASSERT(t, acpi.revision < 2 || acpi.used_xsdt, "RSDP revision %u but the XSDT was not used",
              acpi.revision);
    ST_ASSERT(t, acpi.table_count > 0, "root table lists no valid table");
}

SELFTEST(acpi, no_table_errors) {
    ST_ASSERT(t, acpi.error_count == 0, "%d problems, first: %s", acpi.error_count,
              acpi.error_count ? acpi.errors[0] : "");
}

/* Parsing the same firmware tables again gives the same answer (no hidden state). */
SELFTEST(acpi, reparse_is_identical) {
    static struct acpi_info again;
    ST_ASSERT(t, acpi.found, "no ACPI tables");
    int rc = acpi_parse(acpi.rsdp_address, acpi_map_direct, NULL, &again);
    ST_ASSERT(t, rc == 0, "acpi_parse returned %d", rc);
    ST_ASSERT(t, memcmp(&again, &acpi, sizeof(again)) == 0, "second parse differs from the first");
}

SELFTEST(acpi, madt_lapic_and_cpus) {
    ST_ASSERT(t, acpi.has_madt && table_listed("APIC"), "no valid MADT");
    ST_ASSERT(t, acpi.lapic_address != 0 && IS_ALIGNED(acpi.lapic_address, PAGE_SIZE),
              "LAPIC address %#lx not a page-aligned non-zero address", (unsigned long)acpi.lapic_address);
    ST_ASSERT(t, acpi.cpu_count >= 1, "MADT lists no usable CPU");
}

/* The boot CPU's initial APIC ID (CPUID leaf 1, EBX bits 31-24) must be an enabled MADT CPU. */
SELFTEST(acpi, madt_lists_boot_cpu) {
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    uint32_t bsp = b >> 24;
    for (int i = 0; i < acpi.cpu_count; i++)
        if (acpi.cpus[i].apic_id == bsp) {
            ST_ASSERT(t, acpi.cpus[i].enabled, "boot CPU (APIC id %u) listed but not enabled", bsp);
            return;
        }
    selftest_fail(t, "boot CPU APIC id %u not among %d MADT CPUs", bsp, acpi.cpu_count);
}

SELFTEST(acpi, ioapic_plausible) {
    ST_ASSERT(t, acpi.ioapic_count >= 1, "no I/O APIC in the MADT");
    bool gsi0 = false;
    for (int i = 0; i < acpi.ioapic_count; i++) {
        uint32_t addr = acpi.ioapics[i].address;
        /* The architectural I/O APIC window is 0xFEC00000-0xFECFFFFF; registers are 1 KiB apart. */
        ST_ASSERT(t, addr >= 0xfec00000u && addr < 0xfed00000u && IS_ALIGNED(addr, 1024u),
                  "I/O APIC %u at implausible address %#x", acpi.ioapics[i].id, addr);
        if (acpi.ioapics[i].gsi_base == 0) gsi0 = true;
    }
    ST_ASSERT(t, gsi0, "no I/O APIC covers GSI 0 (the legacy IRQs)");
}

SELFTEST(acpi, override_irq0_to_gsi2) {
    for (int i = 0; i < acpi.iso_count; i++)
        if (acpi.isos[i].bus == 0 && acpi.isos[i].source == 0) {
            ST_ASSERT(t, acpi.isos[i].gsi == 2, "IRQ0 overridden to GSI %u, expected 2", acpi.isos[i].gsi);
            return;
        }
    selftest_fail(t, "no override for ISA IRQ0 among %d overrides", acpi.iso_count);
}

SELFTEST(acpi, fadt_pm1a_and_s5) {
    ST_ASSERT(t, acpi.has_fadt && table_listed("FACP"), "no valid FADT");
    ST_ASSERT(t, acpi.pm1a_cnt != 0 && acpi.pm1a_cnt <= 0xffff, "PM1a_CNT %#x not an I/O port", acpi.pm1a_cnt);
    ST_ASSERT(t, acpi.dsdt != 0 && table_listed("DSDT"), "no valid DSDT (at %#lx)", (unsigned long)acpi.dsdt);
    ST_ASSERT(t, acpi.has_s5, "\\_S5 not found in the DSDT");
    ST_ASSERT(t, acpi.s5_typa <= 7, "SLP_TYPa %u does not fit in 3 bits", acpi.s5_typa);
}

/* The PM timer named by the FADT counts: two reads some microseconds apart differ. */
SELFTEST(acpi, pm_timer_counts) {
    ST_ASSERT(t, acpi.pm_tmr_blk != 0 && acpi.pm_tmr_len == 4, "PM timer block %#x length %u",
              acpi.pm_tmr_blk, acpi.pm_tmr_len);
    uint32_t first = inl((uint16_t)acpi.pm_tmr_blk);
    for (int i = 0; i < 1000; i++) {
        if (inl((uint16_t)acpi.pm_tmr_blk) != first) return;
        io_wait();
    }
    selftest_fail(t, "PM timer at %#x stuck at %#x", acpi.pm_tmr_blk, first);
}

SELFTEST(acpi, mcfg_base) {
    ST_ASSERT(t, acpi.mcfg_count >= 1 && table_listed("MCFG"), "no MCFG allocation");
    const struct acpi_mcfg *m = &acpi.mcfg[0];
    ST_ASSERT(t, m->base != 0 && IS_ALIGNED(m->base, MiB(1)), "ECAM base %#lx not 1 MiB aligned",
              (unsigned long)m->base);
    ST_ASSERT(t, m->bus_start == 0 && m->bus_end >= m->bus_start, "bus range %u-%u", m->bus_start, m->bus_end);
}

/* The HPET capabilities register (offset 0) has a non-zero revision and a counter period of
 * at most 100 ns (HPET 1.0a 2.3.4: COUNTER_CLK_PERIOD <= 0x05F5E100 fs). */
SELFTEST(acpi, hpet_present) {
    ST_ASSERT(t, acpi.has_hpet && table_listed("HPET"), "no valid HPET table");
    ST_ASSERT(t, acpi.hpet_address != 0 && IS_ALIGNED(acpi.hpet_address, 1024u), "HPET base %#lx",
              (unsigned long)acpi.hpet_address);
    const volatile void *regs = vmm_map_mmio(acpi.hpet_address, PAGE_SIZE);
    ST_ASSERT(t, regs != NULL, "could not map the HPET at %#lx", (unsigned long)acpi.hpet_address);
    uint64_t cap = mmio_read64(regs);
    uint32_t period_fs = (uint32_t)(cap >> 32);
    ST_ASSERT(t, (cap & 0xff) != 0, "HPET revision 0 (capabilities %#lx)", (unsigned long)cap);
    ST_ASSERT(t, period_fs != 0 && period_fs <= 100000000u, "HPET period %u fs out of range", period_fs);
}
