/* arch.h: declarations shared inside kernel/arch/x86_64. */
#pragma once
#include "types.h"
#include "irq.h"

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_UDATA 0x18
#define GDT_UCODE 0x20
#define GDT_TSS 0x28

/* Builds and loads the GDT (kernel and user segments) and the TSS with its IST stacks. */
void gdt_init(void);
/* Sets the stack the CPU switches to on entry from user mode (TSS.RSP0). */
void tss_set_kernel_stack(uint64_t rsp0);
/* The unmapped guard page under IST stack i (0 = #DF, 1 = NMI, 2 = #MC). */
const void *gdt_ist_guard_page(int i);
/* Fills the 256 IDT gates (exceptions on their IST stacks where needed) and loads the IDT. */
void idt_init(void);
/* Handles CPU exceptions (vectors 0-31); called by the common interrupt stub path. */
void exception_handler(struct irq_frame *f);
