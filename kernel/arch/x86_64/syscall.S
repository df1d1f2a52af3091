/* syscall.S: the SYSCALL entry point and the return path to user mode
 * (Intel SDM vol. 2B SYSCALL/SYSRET/SWAPGS, vol. 3A §5.8.8; Linux x86-64 system-call ABI:
 * number in rax, arguments in rdi, rsi, rdx, r10, r8, r9, result in rax; rcx and r11 are
 * clobbered by the instruction itself).
 *
 * Entry builds a struct irq_frame (irq.h) at the top of the thread's kernel stack, the same
 * layout an interrupt from user mode leaves there, so fork, signals and execve see one kind of
 * saved user state. The per-CPU block (sched.c, reached through GS after swapgs) holds a
 * scratch slot for the user RSP at %gs:8 and the kernel stack top at %gs:16. */
#include "frame.h"
    .text

#define FRAME_SIZE (22 * 8)
#define USER_CS 0x23
#define USER_SS 0x1b
#define VECTOR_SYSCALL 256      /* frame->vector of a system call (no hardware vector) */

    .global syscall_entry
    .type syscall_entry, @function
syscall_entry:
    swapgs
    movq %rsp, %gs:8
    movq %gs:16, %rsp
    pushq $USER_SS
    pushq %gs:8
    pushq %r11                  /* user rflags */
    pushq $USER_CS
    pushq %rcx                  /* user rip */
    pushq $0                    /* error code */
    pushq $VECTOR_SYSCALL
    PUSH_GPRS
    xorl %ebp, %ebp             /* ends kernel backtraces here */
    cld
    sti
    movq %rsp, %rdi
    call syscall_dispatch       /* returns 0: sysret is safe, else iretq */
    cli
    testl %eax, %eax
    jnz user_return
    POP_GPRS
    addq $16, %rsp
    movq 0(%rsp), %rcx          /* rip (checked canonical by syscall_dispatch) */
    movq 16(%rsp), %r11         /* rflags */
    movq 24(%rsp), %rsp         /* user stack */
    swapgs
    sysretq
    .size syscall_entry, . - syscall_entry

/* Returns to user mode through iretq from the struct irq_frame at RSP (interrupts off). */
    .global user_return
    .type user_return, @function
user_return:
    POP_GPRS
    addq $16, %rsp
    swapgs
    iretq
    .size user_return, . - user_return

/* void user_enter_frame(struct irq_frame *f): f is at the top of the current kernel stack;
 * enters user mode with it (a new thread's first return to user mode). */
    .global user_enter_frame
    .type user_enter_frame, @function
user_enter_frame:
    cli
    movq %rdi, %rsp
    jmp user_return
    .size user_enter_frame, . - user_enter_frame
