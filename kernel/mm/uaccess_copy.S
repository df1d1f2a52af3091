/* uaccess_copy.S: the only kernel instructions that touch user memory (uaccess.h, uaccess.c).
 *
 * Intel SDM vol. 3A §4.6.1: with CR4.SMAP set, a supervisor-mode data access to a user page
 * faults unless RFLAGS.AC is 1; STAC/CLAC (vol. 2B) set and clear AC and are #UD on a CPU
 * without SMAP, so they run only when uaccess_smap_on says SMAP is on (uvm_cpu_init sets it
 * before it sets CR4.SMAP). System V AMD64 ABI calling convention; every routine is a leaf
 * that does not touch the stack, so a fault anywhere in one can end it by jumping to
 * uaccess_fault_exit, which returns -EFAULT (-14) to the caller.
 *
 * The exception table (uaccess_extable .. uaccess_extable_end) lists, for each instruction
 * that reads or writes user memory, [start, end) and the fixup address. uaccess_fixup (called
 * by the #PF/#GP handler) first lets the page-fault code map the page and retries the same
 * instruction (a rep movsb/stosb continues where it stopped: RCX/RSI/RDI are up to date),
 * otherwise it moves RIP to the fixup. */

    .macro USER_BEGIN
    testb $1, uaccess_smap_on(%rip)
    jz 771f
    stac
771:
    .endm

    .macro USER_END
    testb $1, uaccess_smap_on(%rip)
    jz 772f
    clac
772:
    .endm

    .text
    .balign 16

/* int uaccess_copy(void *dst, const void *src, size_t len): 0 or -EFAULT. Either side may be
 * the user one: the caller has checked the user range. */
    .global uaccess_copy
    .type uaccess_copy, @function
uaccess_copy:
    mov %rdx, %rcx
    USER_BEGIN
.Lcopy:
    rep movsb
.Lcopy_end:
    USER_END
    xor %eax, %eax
    ret
    .size uaccess_copy, . - uaccess_copy

/* int uaccess_clear(void *udst, size_t len): 0 or -EFAULT. */
    .global uaccess_clear
    .type uaccess_clear, @function
uaccess_clear:
    mov %rsi, %rcx
    xor %eax, %eax
    USER_BEGIN
.Lclear:
    rep stosb
.Lclear_end:
    USER_END
    xor %eax, %eax
    ret
    .size uaccess_clear, . - uaccess_clear

/* int64_t uaccess_strncpy(char *dst, const char *usrc, size_t limit): copies bytes up to and
 * including the first NUL, at most limit bytes. Returns the string length when a NUL was
 * copied, limit when none was found within limit bytes, or -EFAULT. */
    .global uaccess_strncpy
    .type uaccess_strncpy, @function
uaccess_strncpy:
    xor %eax, %eax
    USER_BEGIN
    test %rdx, %rdx
    jz 2f
1:
.Lstr:
    movzbl (%rsi,%rax), %ecx
.Lstr_end:
    movb %cl, (%rdi,%rax)
    test %cl, %cl
    jz 2f
    inc %rax
    cmp %rdx, %rax
    jb 1b
2:  USER_END
    ret
    .size uaccess_strncpy, . - uaccess_strncpy

/* int uaccess_get32(uint32_t *out, const void *uaddr), uaccess_get64 likewise: 0 or -EFAULT. */
    .global uaccess_get32
    .type uaccess_get32, @function
uaccess_get32:
    USER_BEGIN
.Lget32:
    movl (%rsi), %eax
.Lget32_end:
    USER_END
    movl %eax, (%rdi)
    xor %eax, %eax
    ret
    .size uaccess_get32, . - uaccess_get32

    .global uaccess_get64
    .type uaccess_get64, @function
uaccess_get64:
    USER_BEGIN
.Lget64:
    movq (%rsi), %rax
.Lget64_end:
    USER_END
    movq %rax, (%rdi)
    xor %eax, %eax
    ret
    .size uaccess_get64, . - uaccess_get64

/* int uaccess_put32(void *uaddr, uint32_t v), uaccess_put64 likewise: 0 or -EFAULT. */
    .global uaccess_put32
    .type uaccess_put32, @function
uaccess_put32:
    USER_BEGIN
.Lput32:
    movl %esi, (%rdi)
.Lput32_end:
    USER_END
    xor %eax, %eax
    ret
    .size uaccess_put32, . - uaccess_put32

    .global uaccess_put64
    .type uaccess_put64, @function
uaccess_put64:
    USER_BEGIN
.Lput64:
    movq %rsi, (%rdi)
.Lput64_end:
    USER_END
    xor %eax, %eax
    ret
    .size uaccess_put64, . - uaccess_put64

/* int uaccess_cmpxchg32(void *uaddr, uint32_t expected, uint32_t desired, uint32_t *old_out):
 * 0 (the value found is in *old_out) or -EFAULT. */
    .global uaccess_cmpxchg32
    .type uaccess_cmpxchg32, @function
uaccess_cmpxchg32:
    mov %esi, %eax
    USER_BEGIN
.Lcmpxchg:
    lock cmpxchgl %edx, (%rdi)
.Lcmpxchg_end:
    USER_END
    movl %eax, (%rcx)
    xor %eax, %eax
    ret
    .size uaccess_cmpxchg32, . - uaccess_cmpxchg32

/* Where a faulting access ends up when the fault cannot be resolved. */
    .global uaccess_fault_exit
    .type uaccess_fault_exit, @function
uaccess_fault_exit:
    USER_END
    mov $-14, %rax
    ret
    .size uaccess_fault_exit, . - uaccess_fault_exit

    .section .rodata
    .balign 8
    .global uaccess_extable, uaccess_extable_end
uaccess_extable:
    .quad .Lcopy, .Lcopy_end, uaccess_fault_exit
    .quad .Lclear, .Lclear_end, uaccess_fault_exit
    .quad .Lstr, .Lstr_end, uaccess_fault_exit
    .quad .Lget32, .Lget32_end, uaccess_fault_exit
    .quad .Lget64, .Lget64_end, uaccess_fault_exit
    .quad .Lput32, .Lput32_end, uaccess_fault_exit
    .quad .Lput64, .Lput64_end, uaccess_fault_exit
    .quad .Lcmpxchg, .Lcmpxchg_end, uaccess_fault_exit
uaccess_extable_end:
