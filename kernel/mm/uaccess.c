/* uaccess.c: placeholder until the user-copy routines land (see uaccess.h). */
#include "uaccess.h"
bool uaccess_fixup(struct irq_frame *f, uint64_t cr2) { (void)f; (void)cr2; return false; }
