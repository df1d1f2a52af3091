/* fault.h: exceptions reporting and recovery from expected faults (kernel/arch/x86_64/exceptions.c).
 *
 * A self-test that triggers a fault on purpose does:
 *     struct fault_record rec;
 *     fault_catch_arm(&rec);
 *     if (kjmp_save(fault_catch_jmp()) == 0) { trigger(); }
 *     fault_catch_disarm();
 *     ... rec.caught, rec.vector, rec.cr2 ...
 * The exception handler records the fault, prints its report, and resumes at kjmp_save
 * (returning 1) instead of stopping the kernel. */
#pragma once
#include "types.h"

struct kjmp { uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags; };
int kjmp_save(struct kjmp *j) __attribute__((returns_twice));
NORETURN void kjmp_restore(struct kjmp *j, int value);

struct fault_record {
    bool caught;
    uint64_t vector, error_code, rip, cr2;
};
void fault_catch_arm(struct fault_record *rec);
void fault_catch_disarm(void);
struct kjmp *fault_catch_jmp(void);

/* Exception names by vector ("#PF page fault"), or "reserved". */
const char *exception_name(unsigned vector);
/* Prints a backtrace from a frame pointer (function names from the kernel's symbol table). */
void backtrace_from(uint64_t rip, uint64_t rbp);
void backtrace_here(void);
/* Loads the kernel's ELF symbol table from the copy the loader left in memory. */
void symbols_init(uint64_t elf_phys, uint64_t size);
/* Name of the function containing addr and the offset into it; NULL if unknown. */
const char *symbol_lookup(uint64_t addr, uint64_t *offset);
