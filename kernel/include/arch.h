/* arch.h: declarations shared inside kernel/arch/x86_64. */
#pragma once
#include "types.h"
#include "irq.h"

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_UDATA 0x18
#define GDT_UCODE 0x20
#define GDT_TSS 0x28

void gdt_init(void);
void tss_set_kernel_stack(uint64_t rsp0);
void idt_init(void);
/* Handles CPU exceptions (vectors 0-31); called by the common interrupt stub path. */
void exception_handler(struct irq_frame *f);
