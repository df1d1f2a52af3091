/* isr.S: the 256 interrupt entry stubs and the common save/restore path
 * (Intel SDM vol. 3A §6.12, §6.14: 64-bit interrupt stack frame).
 * Each stub pushes a zero error code when the CPU does not push one, then the vector number,
 * so every frame has the layout of struct irq_frame (irq.h). */
#include "frame.h"
    .text

/* 256 stubs of 16 bytes each, starting at isr_stubs: stub v is at isr_stubs + 16 * v. */
    .balign 16
    .global isr_stubs
    .type isr_stubs, @function
isr_stubs:
.set vec, 0
.rept 256
    .balign 16
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
.set vec, vec+1
.endr
    .size isr_stubs, . - isr_stubs

    .type isr_common, @function
isr_common:
    testb $3, 24(%rsp)          /* CS of the interrupted context: from user mode? */
    jz 1f
    swapgs                      /* then GS must point at the per-CPU block again */
1:  pushq $2                    /* RFLAGS.AC off (set by user code, or by a user copy's stac: */
    popfq                       /* SMAP must be on in handlers and the next task), DF off */
    PUSH_GPRS
    cld
    mov %rsp, %rdi
    call interrupt_dispatch
    POP_GPRS
    add $16, %rsp
    testb $3, 8(%rsp)           /* back to user mode: give user space its GS again */
    jz 2f
    swapgs
2:  iretq
    .size isr_common, . - isr_common

/* kjmp_save/kjmp_restore: setjmp/longjmp for the kernel (used to recover from an expected
 * fault in self-tests). struct kjmp = rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags. */
    .text
    .global kjmp_save, kjmp_restore
kjmp_save:
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %rax
    mov %rax, 48(%rdi)
    mov (%rsp), %rax
    mov %rax, 56(%rdi)
    pushfq
    popq %rax
    mov %rax, 64(%rdi)
    xor %eax, %eax
    ret
kjmp_restore:
    mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    mov 48(%rdi), %rsp
    pushq 64(%rdi)
    popfq
    mov %esi, %eax
    jmp *56(%rdi)
