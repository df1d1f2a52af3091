/* switch.S: the kernel context switch (System V AMD64 ABI: rbx, rbp, r12-r15 are
 * callee-saved, so only they and the stack pointer need saving; everything else was saved by
 * the caller of schedule() or by the interrupt entry path).
 *
 *   struct task *context_switch(uint64_t *save_rsp, uint64_t new_rsp, struct task *prev)
 * saves the callee-saved registers on the current stack, stores RSP in *save_rsp, loads
 * new_rsp, restores that task's registers and returns into it with RAX = prev, so the task
 * that now runs knows which one it replaced (sched.c finishes the switch with it).
 *
 * A new task's stack is prepared by task.c to look like a switched-out task whose return
 * address is task_entry_trampoline. */
    .text
    .global context_switch
    .type context_switch, @function
context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    movq %rdx, %rax
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size context_switch, . - context_switch

/* First code of every task: RAX = the previous task (from context_switch), R12 = the task's
 * own struct task. Finishes the switch, then runs the task's function. */
    .global task_entry_trampoline
    .type task_entry_trampoline, @function
task_entry_trampoline:
    movq %rax, %rdi
    call sched_finish_switch    /* releases the run-queue lock */
    sti                         /* a new task starts with interrupts on */
    call sched_preempt_check    /* a wake-up made while its switch was going on */
    movq %r12, %rdi
    call task_run_body          /* never returns */
    ud2
    .size task_entry_trampoline, . - task_entry_trampoline
