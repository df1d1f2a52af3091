/* irq.c: chooses the interrupt controllers and routes interrupts.
 * APIC mode: local APIC + I/O APICs from the ACPI MADT (ACPI 6.5 5.2.12, interrupt source
 * overrides 5.2.12.5 with MPS INTI flags, table 5.50); the 8259 pair is remapped and masked.
 * PIC mode (no usable MADT): the 8259 pair alone (8259A datasheet), ISA irq n on vector 32+n.
 * Also the vector allocator for [VEC_ALLOC_FIRST, VEC_ALLOC_LAST] and the one eoi() that
 * serves both worlds. */
#include "irq.h"
#include "acpi.h"
#include "cpu.h"
#include "kerrno.h"
#include "printk.h"

enum irq_controller { CTRL_NONE, CTRL_PIC, CTRL_XAPIC, CTRL_X2APIC };

#define ISA_IRQ_COUNT 16
#define PIC_SPURIOUS_MASTER (VEC_PIC_BASE + 7)
#define PIC_SPURIOUS_SLAVE (VEC_PIC_BASE + 15)
#define PIC_CASCADE_IRQ 2

static enum irq_controller controller = CTRL_NONE;
static uint32_t boot_apic_id;
static uint64_t vectors_in_use[4]; /* one bit per vector 0-255 */
static uint8_t isa_vectors[ISA_IRQ_COUNT];
static volatile int irq_lock_word;
/* PIC mode: the vector being handled (0 = none noted) and a spurious IRQ7/15 to skip. */
static volatile uint8_t pic_current_vector;
static volatile uint8_t pic_spurious_vector;

static uint64_t irq_lock(void) {
    uint64_t flags = irq_save();
    while (__atomic_test_and_set(&irq_lock_word, __ATOMIC_ACQUIRE))
        cpu_relax();
    return flags;
}

static void irq_unlock(uint64_t flags) {
    __atomic_clear(&irq_lock_word, __ATOMIC_RELEASE);
    irq_restore(flags);
}

/* "x2APIC", "xAPIC" or "PIC" ("none" before irq_init). */
const char *irq_mode(void) {
    switch (controller) {
    case CTRL_X2APIC: return "x2APIC";
    case CTRL_XAPIC: return "xAPIC";
    case CTRL_PIC: return "PIC";
    default: return "none";
    }
}

/* Decodes MPS INTI flags: polarity bits 0-1 (00 conforms = ISA active high, 01 high,
 * 11 low), trigger bits 2-3 (00 conforms = ISA edge, 01 edge, 11 level). The reserved
 * value 10 is treated as the bus default. */
void irq_decode_inti_flags(uint16_t flags, bool *active_low, bool *level) {
    *active_low = (flags & 0x3) == 0x3;
    *level = ((flags >> 2) & 0x3) == 0x3;
}

/* Where an ISA irq arrives: the MADT override if there is one, else identity, edge, high. */
void irq_isa_line(uint8_t isa_irq, struct irq_isa_line *out) {
    out->gsi = isa_irq;
    out->active_low = false;
    out->level = false;
    out->overridden = false;
    for (int i = 0; i < acpi.iso_count && i < ACPI_MAX_ISOS; i++) {
        const struct acpi_iso *iso = &acpi.isos[i];
        if (iso->bus != 0 || iso->source != isa_irq)
            continue;
        out->gsi = iso->gsi;
        irq_decode_inti_flags(iso->flags, &out->active_low, &out->level);
        out->overridden = true;
        return;
    }
}

/* Hands out the lowest free vector in [VEC_ALLOC_FIRST, VEC_ALLOC_LAST]; -KENOSPC if none. */
int irq_alloc_vector(void) {
    uint64_t flags = irq_lock();
    int found = -KENOSPC;
    for (int v = VEC_ALLOC_FIRST; v <= VEC_ALLOC_LAST; v++) {
        if (!(vectors_in_use[v / 64] & (1ull << (v % 64)))) {
            vectors_in_use[v / 64] |= 1ull << (v % 64);
            found = v;
            break;
        }
    }
    irq_unlock(flags);
    return found;
}

/* Returns a vector from irq_alloc_vector to the pool; others are ignored. */
void irq_free_vector(int vector) {
    if (vector < VEC_ALLOC_FIRST || vector > VEC_ALLOC_LAST)
        return;
    uint64_t flags = irq_lock();
    vectors_in_use[vector / 64] &= ~(1ull << (vector % 64));
    irq_unlock(flags);
}

/* Vector an ISA irq is routed to, or 0 when it is not routed. */
uint8_t irq_isa_vector(uint8_t isa_irq) {
    return isa_irq < ISA_IRQ_COUNT ? isa_vectors[isa_irq] : 0;
}

/* Claims an ISA line for routing (false when it is routed already). */
static bool isa_claim(uint8_t isa_irq, uint8_t vector) {
    uint64_t flags = irq_lock();
    bool free_line = isa_vectors[isa_irq] == 0;
    if (free_line)
        isa_vectors[isa_irq] = vector;
    irq_unlock(flags);
    return free_line;
}

/* Routes ISA irq 0-15 to a handler: a new vector through the I/O APIC (with the MADT
 * override), or vector 32+irq with the PIC line unmasked. Returns the vector or -errno. */
int irq_route_isa(uint8_t isa_irq, irq_handler_t h, void *arg, const char *name) {
    if (isa_irq >= ISA_IRQ_COUNT || !h)
        return -KEINVAL;
    if (controller == CTRL_PIC) {
        uint8_t vector = (uint8_t)(VEC_PIC_BASE + isa_irq);
        if (isa_irq == PIC_CASCADE_IRQ || !isa_claim(isa_irq, vector))
            return -KEBUSY;
        irq_set_handler(vector, h, arg, name);
        pic_unmask(isa_irq);
        return vector;
    }
    if (controller != CTRL_XAPIC && controller != CTRL_X2APIC)
        return -KENODEV;
    int vector = irq_alloc_vector();
    if (vector < 0)
        return vector;
    if (!isa_claim(isa_irq, (uint8_t)vector)) {
        irq_free_vector(vector);
        return -KEBUSY;
    }
    struct irq_isa_line line;
    irq_isa_line(isa_irq, &line);
    irq_set_handler((uint8_t)vector, h, arg, name);
    int r = ioapic_route_gsi(line.gsi, (uint8_t)vector, boot_apic_id, line.active_low, line.level);
    if (r < 0) {
        irq_set_handler((uint8_t)vector, NULL, NULL, NULL);
        isa_vectors[isa_irq] = 0;
        irq_free_vector(vector);
        return r;
    }
    return vector;
}

/* Undoes irq_route_isa: masks the line, removes the handler, frees the vector. */
int irq_unroute_isa(uint8_t isa_irq) {
    if (isa_irq >= ISA_IRQ_COUNT || isa_vectors[isa_irq] == 0)
        return -KEINVAL;
    uint8_t vector = isa_vectors[isa_irq];
    if (controller == CTRL_PIC) {
        pic_mask(isa_irq);
    } else {
        struct irq_isa_line line;
        irq_isa_line(isa_irq, &line);
        ioapic_mask_gsi(line.gsi);
    }
    irq_set_handler(vector, NULL, NULL, NULL);
    if (controller != CTRL_PIC)
        irq_free_vector(vector);
    isa_vectors[isa_irq] = 0;
    return 0;
}

/* Called by the dispatcher before the handler: notes the vector for the PIC-mode EOI and
 * recognises spurious IRQ7/IRQ15 by their clear in-service bit. */
void irq_note_vector(uint8_t vector) {
    if (controller != CTRL_PIC)
        return;
    pic_current_vector = vector;
    if ((vector == PIC_SPURIOUS_MASTER || vector == PIC_SPURIOUS_SLAVE) &&
        pic_is_spurious((uint8_t)(vector - VEC_PIC_BASE)))
        pic_spurious_vector = vector;
}

/* End of interrupt: the LAPIC EOI register in APIC mode; in PIC mode a non-specific EOI to
 * the PIC(s) that raised the noted vector (nothing for a spurious IRQ7, the master only for
 * a spurious IRQ15, whose cascade input on the master was genuinely in service). */
void eoi(void) {
    if (controller == CTRL_XAPIC || controller == CTRL_X2APIC) {
        lapic_eoi();
        return;
    }
    if (controller != CTRL_PIC)
        return;
    uint8_t spurious = pic_spurious_vector;
    uint8_t vector = pic_current_vector;
    pic_current_vector = 0;
    if (spurious) {
        pic_spurious_vector = 0;
        if (spurious == PIC_SPURIOUS_SLAVE)
            pic_eoi(PIC_CASCADE_IRQ);
        return;
    }
    if (vector >= VEC_PIC_BASE && vector < VEC_PIC_BASE + 16) {
        pic_eoi((uint8_t)(vector - VEC_PIC_BASE));
        return;
    }
    /* No vector noted: acknowledge whichever PIC has an interrupt in service. */
    pic_eoi((pic_get_in_service() >> 8) ? 8 : 0);
}

static void pic_spurious_handler(struct irq_frame *f, void *arg) {
    /* Nothing to do: irq_note_vector decided whether an EOI is owed. */
}

/* Sets up PIC (remapped and masked), LAPIC and I/O APICs from the ACPI MADT, or the PIC
 * alone when there is no usable MADT. */
void irq_init(void) {
    pic_init();
    const char *why = NULL;
    if (!acpi.has_madt)
        why = "no ACPI MADT";
    else if (acpi.ioapic_count == 0)
        why = "the MADT lists no I/O APIC";
    else if (ioapic_init() == 0)
        why = "no I/O APIC could be set up";
    else if (!lapic_init())
        why = "no usable local APIC";

    if (why) {
        controller = CTRL_PIC;
        irq_set_handler(PIC_SPURIOUS_MASTER, pic_spurious_handler, NULL, "pic-spurious");
        irq_set_handler(PIC_SPURIOUS_SLAVE, pic_spurious_handler, NULL, "pic-spurious");
        pr_warn("irq: %s, falling back to the 8259 PIC\n", why);
        pr_info("irq: PIC mode, ISA irqs on vectors %d-%d\n", VEC_PIC_BASE, VEC_PIC_BASE + 15);
        return;
    }
    controller = lapic_x2apic() ? CTRL_X2APIC : CTRL_XAPIC;
    boot_apic_id = lapic_id();
    if (!acpi.pic_present)
        pr_info("irq: MADT reports no 8259 PIC (remapped and masked anyway)\n");
    pr_info("irq: %s mode, boot CPU APIC id %u, %d I/O APIC(s) with %d entries, %d override(s)\n",
            irq_mode(), boot_apic_id, acpi.ioapic_count, ioapic_entry_count(), acpi.iso_count);
}
