/* entry.S: the first kernel instructions. The loader jumps here with interrupts off, its page
 * tables loaded (identity + direct map + kernel image) and RDI = boot_info (direct-map address).
 * We switch to the kernel's own boot stack and call kmain(boot_info). */
    .section .text.entry, "ax"
    .global kernel_entry
    .type kernel_entry, @function
kernel_entry:
    cli
    cld
    lea boot_stack_top(%rip), %rsp
    xor %ebp, %ebp          /* a zero frame pointer ends backtraces here */
    call kmain              /* RSP is 16-byte aligned before the call, as the ABI wants */
1:  cli
    hlt
    jmp 1b
    .size kernel_entry, . - kernel_entry

    .section .bss.stack, "aw", @nobits
    .balign 4096
    .global boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:
    .skip 4096              /* left unmapped by paging_init: overflow faults */
boot_stack_bottom:
    .skip 65536
boot_stack_top:
