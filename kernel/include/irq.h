/* irq.h: interrupt vectors, handlers and routing.
 * The IDT and dispatch are in kernel/arch/x86_64/idt.c; the PIC, LAPIC and I/O APIC routing in
 * kernel/arch/x86_64/{pic,lapic,ioapic,irq}.c. Vectors 0-31 are exceptions, 32-47 the PIC
 * fallback range, 48-239 allocatable, 240-254 fixed kernel uses, 255 spurious. */
#pragma once
#include "types.h"

/* Registers saved on interrupt entry, in the order the common stub pushes them. */
struct irq_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler_t)(struct irq_frame *f, void *arg);

#define VEC_PIC_BASE 32
#define VEC_ALLOC_FIRST 48
#define VEC_ALLOC_LAST 239
#define VEC_LAPIC_TIMER 240
#define VEC_IPI_HALT 241
#define VEC_LAPIC_ERROR 254
#define VEC_SPURIOUS 255

/* idt.c: installs a handler for a vector (>= 32). The dispatcher counts the interrupt, calls
 * the handler, then sends eoi() (except for the spurious vector). */
void irq_set_handler(uint8_t vector, irq_handler_t h, void *arg, const char *name);
/* Interrupts received on a vector since boot. */
uint64_t irq_count(uint8_t vector);
const char *irq_name(uint8_t vector);

/* irq.c: hands out a free vector in [VEC_ALLOC_FIRST, VEC_ALLOC_LAST]; -KENOSPC when none. */
int irq_alloc_vector(void);
void irq_free_vector(int vector);
/* Routes legacy ISA irq (0-15) to a new vector with the handler, through the I/O APIC
 * (applying the MADT overrides) or the PIC fallback. Returns the vector or -errno. */
int irq_route_isa(uint8_t isa_irq, irq_handler_t h, void *arg, const char *name);
/* Signals end of interrupt to whichever controller is active (LAPIC or PIC). */
void eoi(void);
/* Called by the dispatcher (idt.c) with the vector before the handler runs: in PIC mode it
 * detects spurious IRQ7/IRQ15 (ISR bit clear) so that eoi() sends no EOI (IRQ7) or an EOI to
 * the master only (IRQ15). */
void irq_note_vector(uint8_t vector);
/* Undoes irq_route_isa: masks the line, removes the handler, frees the vector. 0 or -errno. */
int irq_unroute_isa(uint8_t isa_irq);
/* Vector an ISA irq is routed to, or 0 when it is not routed. */
uint8_t irq_isa_vector(uint8_t isa_irq);
/* Where an ISA irq arrives on the I/O APIC: the MADT override if there is one, else the
 * identity GSI, edge-triggered, active high (ISA defaults). */
struct irq_isa_line { uint32_t gsi; bool active_low; bool level; bool overridden; };
void irq_isa_line(uint8_t isa_irq, struct irq_isa_line *out);
/* Decodes MPS INTI flags (ACPI 6.5 table 5.50): polarity bits 0-1, trigger bits 2-3, with
 * the bus defaults (ISA: active high, edge) for "conforms". */
void irq_decode_inti_flags(uint16_t flags, bool *active_low, bool *level);
/* Sets up PIC (remapped and masked), LAPIC and I/O APICs from the ACPI MADT, or the PIC
 * alone when there is no usable MADT. */
void irq_init(void);
/* "x2APIC", "xAPIC" or "PIC". */
const char *irq_mode(void);

/* lapic.c (Intel SDM vol. 3A ch. 11). Register offsets are the xAPIC MMIO offsets; in x2APIC
 * mode lapic_read/lapic_write turn them into MSR 0x800 + (reg >> 4). */
#define LAPIC_REG_ID 0x020
#define LAPIC_REG_VERSION 0x030
#define LAPIC_REG_TPR 0x080
#define LAPIC_REG_EOI 0x0b0
#define LAPIC_REG_SVR 0x0f0
#define LAPIC_REG_ISR0 0x100   /* 8 registers, 0x10 apart */
#define LAPIC_REG_IRR0 0x200
#define LAPIC_REG_ESR 0x280
#define LAPIC_REG_ICR_LOW 0x300
#define LAPIC_REG_ICR_HIGH 0x310
#define LAPIC_REG_LVT_TIMER 0x320
#define LAPIC_REG_LVT_LINT0 0x350
#define LAPIC_REG_LVT_LINT1 0x360
#define LAPIC_REG_LVT_ERROR 0x370
#define LAPIC_REG_TIMER_INIT 0x380
#define LAPIC_REG_TIMER_CURRENT 0x390
#define LAPIC_REG_TIMER_DIVIDE 0x3e0
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_DIVIDE_16 0x3u
#define MSR_APIC_BASE_ENABLE (1ull << 11)
#define MSR_APIC_BASE_X2APIC (1ull << 10)
/* Enables the boot CPU's local APIC (x2APIC when CPUID offers it); false when there is none. */
bool lapic_init(void);
/* This CPU's local APIC id (from the ID register, or the x2APIC id). */
uint32_t lapic_id(void);
/* Register access by xAPIC offset, in either mode. */
void lapic_write(uint32_t reg, uint32_t v);
uint32_t lapic_read(uint32_t reg);
/* True once lapic_init() enabled the local APIC; x2APIC when it runs in x2APIC mode. */
bool lapic_active(void);
bool lapic_x2apic(void);
/* End of interrupt to the local APIC. */
void lapic_eoi(void);
/* Sends a fixed interrupt with the vector to this CPU (ICR, destination shorthand "self"). */
void lapic_send_self_ipi(uint8_t vector);

/* ioapic.c (82093AA I/O APIC datasheet, section 3). */
#define IOAPIC_ENTRY_MASKED (1ull << 16)
#define IOAPIC_ENTRY_LEVEL (1ull << 15)
#define IOAPIC_ENTRY_ACTIVE_LOW (1ull << 13)
/* Maps every I/O APIC of the MADT and masks all their entries; returns how many work. */
int ioapic_init(void);
/* Programs GSI -> vector (fixed delivery, physical destination apic_id), unmasked. */
int ioapic_route_gsi(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool active_low, bool level);
/* Masks a GSI's entry. */
int ioapic_mask_gsi(uint32_t gsi);
/* Reads the 64-bit redirection entry of a GSI; 0 or -KENOENT when no I/O APIC has it. */
int ioapic_read_entry(uint32_t gsi, uint64_t *out);
/* Total redirection entries over all I/O APICs. */
int ioapic_entry_count(void);

/* pic.c (8259A datasheet: ICW1-4, OCW1-3). */
/* Remaps master/slave to VEC_PIC_BASE..+15 and masks every line. */
void pic_init(void);
bool pic_all_masked(void);
/* Interrupt mask registers: master in bits 0-7, slave in bits 8-15. */
uint16_t pic_get_masks(void);
void pic_unmask(uint8_t irq);
void pic_mask(uint8_t irq);
/* In-service registers (OCW3): master in bits 0-7, slave in bits 8-15. */
uint16_t pic_get_in_service(void);
/* Non-specific EOI for irq (to the slave and the master for irqs 8-15). */
void pic_eoi(uint8_t irq);
/* True when irq 7 or 15 was raised with no in-service bit (a spurious interrupt). */
bool pic_is_spurious(uint8_t irq);
