/* irq_selftest.c: kernel self-tests (group `irq`) for the PIC, local APIC, I/O APIC routing
 * and the vector allocator (Intel SDM vol. 3A ch. 11, 82093AA datasheet, 8259A datasheet,
 * ACPI 6.5 5.2.12 MADT). */
#include "selftest.h"
#include "irq.h"
#include "acpi.h"
#include "cpu.h"
#include "kerrno.h"

#define RFLAGS_IF (1ull << 9)

/* In APIC mode both 8259 mask registers are 0xFF; in PIC mode every line nobody routed
 * (other than the cascade) is masked. */
SELFTEST(irq, pic_masked) {
    uint16_t masks = pic_get_masks();
    if (lapic_active()) {
        ST_ASSERT(t, masks == 0xffff, "APIC mode but PIC masks are %#06x, not 0xffff", masks);
        ST_ASSERT(t, pic_all_masked(), "pic_all_masked() false with masks %#06x", masks);
        return;
    }
    for (uint8_t irq = 0; irq < 16; irq++) {
        if (irq == 2 || irq_isa_vector(irq))
            continue;
        ST_ASSERT(t, masks & (1u << irq), "PIC mode: unrouted irq %u unmasked (masks %#06x)", irq,
                  masks);
    }
}

/* The local APIC is enabled in hardware (APIC base MSR) and software (SVR bit 8, spurious
 * vector) and is the MADT's first processor. */
SELFTEST(irq, lapic_enabled) {
    ST_ASSERT(t, lapic_active(), "local APIC not in use (mode %s)", irq_mode());
    uint64_t base = rdmsr(MSR_APIC_BASE);
    ST_ASSERT(t, base & MSR_APIC_BASE_ENABLE, "APIC base MSR %#llx lacks the enable bit",
              (unsigned long long)base);
    ST_ASSERT(t, !!(base & MSR_APIC_BASE_X2APIC) == lapic_x2apic(),
              "APIC base MSR x2APIC bit disagrees with mode %s", irq_mode());
    uint32_t svr = lapic_read(LAPIC_REG_SVR);
    ST_ASSERT(t, svr & LAPIC_SVR_ENABLE, "SVR %#x lacks the software-enable bit", svr);
    ST_ASSERT(t, (svr & 0xff) == VEC_SPURIOUS, "SVR vector %u, want %u", svr & 0xff, VEC_SPURIOUS);
    ST_ASSERT(t, lapic_read(LAPIC_REG_TPR) == 0, "TPR %#x, want 0", lapic_read(LAPIC_REG_TPR));
    ST_ASSERT(t, acpi.cpu_count > 0, "MADT lists no processor");
    ST_ASSERT(t, lapic_id() == acpi.cpus[0].apic_id, "APIC id %u, MADT's first CPU has %u",
              lapic_id(), acpi.cpus[0].apic_id);
}

/* LINT0/LINT1 follow the MADT local APIC NMI entries for this CPU: NMI delivery, unmasked,
 * with the entry's polarity; a pin no entry names is masked. */
SELFTEST(irq, lint_nmi_from_madt) {
    ST_ASSERT(t, lapic_active(), "local APIC not in use (mode %s)", irq_mode());
    uint32_t my_acpi_id = 0xfffffffeu; /* matches no entry when the MADT lacks this CPU */
    for (int i = 0; i < acpi.cpu_count && i < ACPI_MAX_CPUS; i++)
        if (acpi.cpus[i].apic_id == lapic_id())
            my_acpi_id = acpi.cpus[i].acpi_id;
    bool is_nmi[2] = {false, false}, active_low[2] = {false, false};
    for (int i = 0; i < acpi.nmi_count && i < ACPI_MAX_NMIS; i++) {
        const struct acpi_nmi *n = &acpi.nmis[i];
        if (n->lint > 1 || (n->acpi_id != 0xff && n->acpi_id != 0xffffffffu && n->acpi_id != my_acpi_id))
            continue;
        bool level;
        is_nmi[n->lint] = true;
        irq_decode_inti_flags(n->flags, &active_low[n->lint], &level);
    }
    for (int pin = 0; pin < 2; pin++) {
        uint32_t lvt = lapic_read(pin ? LAPIC_REG_LVT_LINT1 : LAPIC_REG_LVT_LINT0);
        if (!is_nmi[pin]) {
            ST_ASSERT(t, lvt & LAPIC_LVT_MASKED, "LINT%d LVT %#x: no MADT NMI entry but unmasked",
                      pin, lvt);
            continue;
        }
        ST_ASSERT(t, ((lvt >> 8) & 7) == 4, "LINT%d LVT %#x: delivery mode %u, want NMI (4)", pin,
                  lvt, (lvt >> 8) & 7);
        ST_ASSERT(t, !(lvt & LAPIC_LVT_MASKED), "LINT%d LVT %#x is masked", pin, lvt);
        ST_ASSERT(t, !!(lvt & (1u << 13)) == active_low[pin], "LINT%d LVT %#x: wrong polarity",
                  pin, lvt);
    }
}

static volatile uint32_t test_irq_hits;
static void test_irq_handler(struct irq_frame *f, void *arg) { test_irq_hits++; }

/* Routes one ISA irq, checks its redirection entry against the MADT override (or the ISA
 * defaults), then restores the line. Runs with interrupts off while the entry is unmasked,
 * and lets a pending delivery through before removing the handler. */
static void check_isa_route(struct selftest_ctx *t, uint8_t irq) {
    struct irq_isa_line line;
    irq_isa_line(irq, &line);
    uint64_t flags = irq_save();
    int vector = irq_route_isa(irq, test_irq_handler, NULL, "selftest-route");
    if (vector < 0) {
        irq_restore(flags);
        selftest_fail(t, "routing irq %u failed: %d", irq, vector);
        return;
    }
    uint64_t entry = 0;
    int r = ioapic_read_entry(line.gsi, &entry);
    ioapic_mask_gsi(line.gsi);
    irq_restore(flags);
    for (int i = 0; i < 1000; i++)
        cpu_relax();
    irq_unroute_isa(irq);
    ST_ASSERT(t, r == 0, "irq %u: no I/O APIC entry for GSI %u", irq, line.gsi);
    ST_ASSERT(t, (entry & 0xff) == (uint64_t)vector, "irq %u GSI %u: vector %llu, routed to %d", irq,
              line.gsi, (unsigned long long)(entry & 0xff), vector);
    ST_ASSERT(t, !(entry & IOAPIC_ENTRY_MASKED), "irq %u GSI %u: entry %#llx still masked", irq,
              line.gsi, (unsigned long long)entry);
    ST_ASSERT(t, !!(entry & IOAPIC_ENTRY_ACTIVE_LOW) == line.active_low,
              "irq %u GSI %u: polarity bit %d, override says active %s", irq, line.gsi,
              !!(entry & IOAPIC_ENTRY_ACTIVE_LOW), line.active_low ? "low" : "high");
    ST_ASSERT(t, !!(entry & IOAPIC_ENTRY_LEVEL) == line.level,
              "irq %u GSI %u: trigger bit %d, override says %s", irq, line.gsi,
              !!(entry & IOAPIC_ENTRY_LEVEL), line.level ? "level" : "edge");
    ST_ASSERT(t, ((entry >> 8) & 0x7) == 0, "irq %u: delivery mode %llu, want fixed", irq,
              (unsigned long long)((entry >> 8) & 0x7));
    ST_ASSERT(t, (entry >> 56) == lapic_id(), "irq %u: destination %llu, boot CPU is %u", irq,
              (unsigned long long)(entry >> 56), lapic_id());
}

/* True when some override sends another ISA irq to GSI gsi. */
static bool gsi_taken_by_override(uint32_t gsi, uint8_t except_irq) {
    for (int i = 0; i < acpi.iso_count && i < ACPI_MAX_ISOS; i++)
        if (acpi.isos[i].gsi == gsi && acpi.isos[i].source != except_irq)
            return true;
    return false;
}

/* Every MADT override whose line is free, plus one free line without an override, is
 * programmed into the I/O APIC with the override's GSI, polarity and trigger. */
SELFTEST(irq, ioapic_routes_follow_overrides) {
    ST_ASSERT(t, lapic_active(), "not in APIC mode (%s)", irq_mode());
    int checked_override = 0, checked_plain = 0;
    for (int i = 0; i < acpi.iso_count && i < ACPI_MAX_ISOS && !t->failed; i++) {
        uint8_t irq = acpi.isos[i].source;
        if (acpi.isos[i].bus != 0 || irq >= 16 || irq_isa_vector(irq))
            continue;
        check_isa_route(t, irq);
        checked_override++;
    }
    for (uint8_t irq = 3; irq < 16 && !t->failed && !checked_plain; irq++) {
        struct irq_isa_line line;
        irq_isa_line(irq, &line);
        if (line.overridden || irq_isa_vector(irq) || gsi_taken_by_override(irq, irq))
            continue;
        ST_ASSERT(t, !line.active_low && !line.level, "irq %u without override not edge/high", irq);
        check_isa_route(t, irq);
        checked_plain++;
    }
    if (t->failed)
        return;
    ST_ASSERT(t, checked_override + checked_plain > 0, "no free ISA line to test");
}

static volatile uint32_t ipi_hits;
static void ipi_handler(struct irq_frame *f, void *arg) { ipi_hits++; }

/* A self-IPI through the ICR arrives exactly once on its vector and is counted by irq_count. */
SELFTEST(irq, self_ipi_delivered) {
    ST_ASSERT(t, lapic_active(), "not in APIC mode (%s)", irq_mode());
    int vector = irq_alloc_vector();
    ST_ASSERT(t, vector >= 0, "no free vector: %d", vector);
    irq_set_handler((uint8_t)vector, ipi_handler, NULL, "selftest-ipi");
    ipi_hits = 0;
    uint64_t before = irq_count((uint8_t)vector);
    uint64_t rflags = read_rflags();
    sti();
    lapic_send_self_ipi((uint8_t)vector);
    for (int i = 0; i < 1000000 && ipi_hits == 0; i++)
        cpu_relax();
    for (int i = 0; i < 1000; i++) /* a duplicate delivery would show up here */
        cpu_relax();
    if (!(rflags & RFLAGS_IF))
        cli();
    uint64_t after = irq_count((uint8_t)vector);
    irq_set_handler((uint8_t)vector, NULL, NULL, NULL);
    irq_free_vector(vector);
    ST_ASSERT(t, ipi_hits == 1, "handler ran %u times, want 1", ipi_hits);
    ST_ASSERT(t, after - before == 1, "irq_count rose by %llu, want 1",
              (unsigned long long)(after - before));
}

/* The allocator hands out distinct vectors inside [VEC_ALLOC_FIRST, VEC_ALLOC_LAST] until it
 * runs dry (-KENOSPC), and a freed vector is handed out again. Everything is given back. */
SELFTEST(irq, vector_allocator) {
    static int got[VEC_ALLOC_LAST - VEC_ALLOC_FIRST + 2];
    uint64_t seen[4] = {0, 0, 0, 0};
    int n = 0, v = 0, bad = 0;
    while (n < (int)ARRAY_SIZE(got)) {
        v = irq_alloc_vector();
        if (v < 0)
            break;
        got[n++] = v;
        if (v < VEC_ALLOC_FIRST || v > VEC_ALLOC_LAST || (seen[v / 64] & (1ull << (v % 64)))) {
            bad = v;
            break;
        }
        seen[v / 64] |= 1ull << (v % 64);
    }
    bool ran_dry = v == -KENOSPC;
    int freed = -1, reused = -1;
    if (!bad && n >= 3) {
        freed = got[n / 2];
        irq_free_vector(freed);
        reused = irq_alloc_vector();
        got[n / 2] = reused; /* a negative value is ignored by irq_free_vector */
    }
    for (int i = 0; i < n; i++)
        irq_free_vector(got[i]);
    ST_ASSERT(t, !bad, "vector %d out of range or handed out twice", bad);
    ST_ASSERT(t, n >= 3, "only %d vectors free", n);
    ST_ASSERT(t, ran_dry, "no -KENOSPC after %d vectors (last result %d)", n, v);
    ST_ASSERT(t, reused == freed, "freed vector %d, next allocation gave %d", freed, reused);
    v = irq_alloc_vector();
    irq_free_vector(v);
    ST_ASSERT(t, v >= VEC_ALLOC_FIRST, "after giving everything back, allocation fails: %d", v);
}
