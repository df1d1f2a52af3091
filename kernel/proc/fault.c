/* fault.c: placeholder until user-mode faults are handled (see proc.h). */
#include "proc.h"
bool proc_exception(struct irq_frame *f, uint64_t cr2) { (void)f; (void)cr2; return false; }
