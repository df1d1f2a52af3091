/* idt.c: the Interrupt Descriptor Table and interrupt dispatch (Intel SDM vol. 3A §6.10,
 * §6.14.1 64-bit IDT gate descriptors). Vectors 0-31 go to exception_handler(); the others to
 * the handler registered with irq_set_handler(), counted per vector, followed by eoi() and
 * the scheduler's preemption check. */
#include "types.h"
#include "arch.h"
#include "proc.h"
#include "irq.h"
#include "printk.h"
#include "cpu.h"
#include "sched.h"

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t zero;
} PACKED;

struct irq_slot {
    irq_handler_t handler;
    void *arg;
    const char *name;
};

extern const char isr_stubs[]; /* isr.S: 256 stubs, 16 bytes apart */
static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct irq_slot slots[256];
static volatile uint64_t counts[256];

static void set_gate(int vec, uint64_t addr, uint8_t ist, uint8_t dpl) {
    idt[vec].offset_lo = addr & 0xffff;
    idt[vec].selector = GDT_KCODE;
    idt[vec].ist = ist;
    idt[vec].type_attr = 0x8e | (uint8_t)(dpl << 5); /* present, interrupt gate */
    idt[vec].offset_mid = (addr >> 16) & 0xffff;
    idt[vec].offset_hi = addr >> 32;
    idt[vec].zero = 0;
}

/* Fills all 256 gates and loads the IDT. #DF, NMI and #MC run on their own IST stacks. */
void idt_init(void) {
    for (int v = 0; v < 256; v++) {
        uint8_t ist = 0;
        if (v == 8) ist = 1;
        else if (v == 2) ist = 2;
        else if (v == 18) ist = 3;
        set_gate(v, (uint64_t)(uintptr_t)(isr_stubs + 16 * v), ist, v == 3 ? 3 : 0);
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } PACKED ptr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(ptr));
}

void irq_set_handler(uint8_t vector, irq_handler_t h, void *arg, const char *name) {
    /* One CPU runs kernel code: masking interrupts is the whole lock until SMP brings a
     * spinlock here. */
    uint64_t fl = irq_save();
    slots[vector].handler = h;
    slots[vector].arg = arg;
    slots[vector].name = name;
    irq_restore(fl);
}

uint64_t irq_count(uint8_t vector) { return counts[vector]; }

const char *irq_name(uint8_t vector) { return slots[vector].name; }

/* Called from isr_common with the saved frame. */
void interrupt_dispatch(struct irq_frame *f) {
    uint8_t v = (uint8_t)f->vector;
    counts[v]++;
    if (v < 32) {
        exception_handler(f);
        if (f->cs & 3) proc_return_to_user(f);
        return;
    }
    irq_note_vector(v);
    if (v != VEC_SPURIOUS) sched_irq_enter();
    struct irq_slot *s = &slots[v];
    if (s->handler)
        s->handler(f, s->arg);
    else if (v != VEC_SPURIOUS)
        printk(LOG_WARN, "irq: unexpected interrupt on vector %u\n", v);
    if (v != VEC_SPURIOUS) {
        eoi();
        sched_irq_exit(); /* preemption point: switch task if one is due */
    }
    if (f->cs & 3) proc_return_to_user(f); /* pending signals, before user mode resumes */
}
