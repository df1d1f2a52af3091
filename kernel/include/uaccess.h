/* uaccess.h: copying between the kernel and user memory (kernel/mm/uaccess.c, uaccess_copy.S).
 *
 * Every user pointer a system call receives goes through these. A bad pointer (NULL page,
 * unmapped, kernel half, a range that wraps or crosses USER_TOP, a page the process may not
 * access) gives -KEFAULT, never a kernel fault: the copy loops are in uaccess_copy.S, and a fault
 * inside them is resolved by uvm_handle_fault (demand paging, copy-on-write) or else ends the
 * copy through the exception fixup (uaccess_fixup). With SMAP on, user memory is only
 * touched between stac and clac inside these functions.
 *
 * The copies may sleep (a page fault takes the address space's mutex, a private file page is
 * read from its file): call them from task context, with no spinlock held and preemption
 * enabled, and never while holding the uvm's mutex (that fault is refused: -KEFAULT). With
 * interrupts off they still work for anonymous memory (the fault takes the mutex only if it
 * is free and reads no file), else -KEFAULT. They act on the active address space (uvm.h). */
#pragma once
#include "types.h"
#include "irq.h"

/* True when [addr, addr+len) lies within [0, USER_TOP) without wrapping (len 0 is fine). */
bool user_range_ok(uint64_t addr, size_t len);
/* 0 or -KEFAULT. A partial copy may have happened on -KEFAULT. */
int copy_from_user(void *dst, const void *usrc, size_t len);
int copy_to_user(void *udst, const void *src, size_t len);
/* Zeroes user memory: 0 or -KEFAULT. */
int clear_user(void *udst, size_t len);
/* Copies a NUL-terminated string of at most max-1 bytes plus the NUL into dst (max bytes).
 * Returns the length (without NUL), -KEFAULT, or -KENAMETOOLONG when no NUL is found within
 * max bytes. */
int64_t strncpy_from_user(char *dst, const char *usrc, size_t max);
/* Reads / writes one 32- or 64-bit value (naturally aligned ones are single accesses):
 * 0 or -KEFAULT. */
int get_user_u32(uint32_t *out, const void *uaddr);
int put_user_u32(void *uaddr, uint32_t v);
int get_user_u64(uint64_t *out, const void *uaddr);
int put_user_u64(void *uaddr, uint64_t v);
/* Atomic compare-and-exchange on a user 32-bit word (futex): 0 and *old_out = the value
 * found, -KEFAULT, or -KEINVAL when uaddr is not 4-byte aligned (as futex(2) says). */
int user_cmpxchg_u32(void *uaddr, uint32_t expected, uint32_t desired, uint32_t *old_out);

/* Called by the exception handler for a kernel-mode #PF or #GP: when the faulting RIP is
 * inside one of the copy routines, first lets uvm_handle_fault resolve a #PF on a user
 * address in the active address space; if it cannot, moves RIP to the routine's failure exit
 * (which returns -KEFAULT). True when the fault was dealt with. */
bool uaccess_fixup(struct irq_frame *f, uint64_t cr2);
