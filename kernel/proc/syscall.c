/* syscall.c: the system-call dispatch table and the C half of the SYSCALL path
 * (Intel SDM vol. 3A §5.8.8 for the MSRs; the Linux x86-64 calling convention, see syscall.h).
 *
 * syscall_init builds the table from the "syscalls" linker section and programs STAR, LSTAR,
 * FMASK and EFER.SCE. syscall_dispatch runs each call, records the result in the user frame,
 * delivers pending signals and tells the assembly whether SYSRET may return (it may not when
 * the frame was replaced, e.g. by execve or rt_sigreturn, with a non-canonical RIP). */
#include "syscall.h"
#include "proc.h"
#include "uvm.h"
#include "sched.h"
#include "cpu.h"
#include "printk.h"
#include "panic.h"
#include "kstring.h"
#include "proc_internal.h"

#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define EFER_SCE 1ull

extern const struct syscall_entry __syscalls_start[], __syscalls_end[];
extern void syscall_entry(void);

static const struct syscall_entry *table[SYSCALL_TABLE_SIZE];
static uint8_t enosys_logged[SYSCALL_TABLE_SIZE / 8 + 1];
static uint32_t enosys_numbers;

void syscall_init(void) {
    for (const struct syscall_entry *e = __syscalls_start; e < __syscalls_end; e++) {
        if (e->nr >= SYSCALL_TABLE_SIZE) panic("syscall %s: number %u out of range", e->name, e->nr);
        if (table[e->nr]) panic("syscall %u registered twice (%s, %s)", e->nr, table[e->nr]->name, e->name);
        table[e->nr] = e;
    }
    /* SYSCALL: CS = 0x08, SS = 0x10. SYSRET (64-bit): CS = 0x10 + 16 = 0x20|3, SS = 0x10 + 8 =
     * 0x18|3: the GDT's user code and data (gdt.c). */
    wrmsr(MSR_STAR, (0x10ull << 48) | (0x08ull << 32));
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    /* Cleared on entry: IF (interrupts stay off until the stack is switched), TF, DF, AC, NT,
     * IOPL. */
    wrmsr(MSR_FMASK, 0x200 | 0x100 | 0x400 | 0x40000 | 0x4000 | 0x3000);
    wrmsr(MSR_KERNEL_GS_BASE, 0); /* user GS base while in the kernel */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    printk(LOG_INFO, "syscall: %ld system calls registered\n", (long)(__syscalls_end - __syscalls_start));
}

const char *syscall_name(uint32_t nr) {
    return nr < SYSCALL_TABLE_SIZE && table[nr] ? table[nr]->name : NULL;
}

uint32_t syscall_enosys_count(void) { return enosys_numbers; }

struct irq_frame *syscall_user_frame(void) {
    struct task *t = task_current();
    return (struct irq_frame *)(uintptr_t)(t->stack_base + KSTACK_SIZE - sizeof(struct irq_frame));
}

static int64_t unknown_call(uint64_t nr) {
    if (nr < SYSCALL_TABLE_SIZE) {
        uint8_t bit = (uint8_t)(1u << (nr & 7));
        if (!(enosys_logged[nr / 8] & bit)) {
            enosys_logged[nr / 8] |= bit;
            enosys_numbers++;
            struct process *p = proc_current();
            printk(LOG_INFO, "syscall: %lu not implemented (first use by pid %d, %s): ENOSYS\n",
                   (unsigned long)nr, p ? p->pid : 0, p ? p->name : "kernel");
        }
    }
    return -KENOSYS;
}

int64_t syscall_invoke(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5) {
    if (nr >= SYSCALL_TABLE_SIZE || !table[nr]) return unknown_call(nr);
    return table[nr]->fn(a0, a1, a2, a3, a4, a5);
}

/* Called by syscall_entry with the user frame (interrupts on). Returns 0 when SYSRET can
 * return to the frame, 1 when it must be IRETQ. */
int syscall_dispatch(struct irq_frame *f) {
    struct uthread *ut = task_current()->ut;
    uint64_t nr = f->rax;
    ut->syscall_nr = (int64_t)nr;
    int64_t r;
    if (nr < SYSCALL_TABLE_SIZE && table[nr])
        r = table[nr]->fn(f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9);
    else
        r = unknown_call(nr);
    f->rax = (uint64_t)r;
    /* rt_sigreturn's result is the restored rax, never an interrupted call's -EINTR. */
    signal_deliver(f, nr == SYS_rt_sigreturn ? INT64_MIN : r);
    ut->syscall_nr = -1;
    /* A signal posted after that check but before SYSRET would wait for the next entry:
     * check again with interrupts off (the assembly keeps them off until user mode). */
    struct task *t = task_current();
    cli();
    while (t->sigpending || t->killed || ut->proc->exiting) {
        sti();
        signal_deliver(f, INT64_MIN);
        cli();
        if (!t->sigpending) break;
    }
    /* SYSRET loads RIP from RCX: a non-canonical value would fault in kernel mode (SDM
     * SYSRET, "#GP(0) if RCX is not canonical"), so such frames take IRETQ. */
    if (f->rip >= USER_TOP - PAGE_SIZE || f->cs != 0x23 || f->ss != 0x1b) return 1;
    if (f->rflags & (1ull << 8)) return 1; /* TF: let IRETQ restore it exactly */
    /* SYSRET returns RIP in RCX and RFLAGS in R11: only when the frame still holds what the
     * SYSCALL instruction left there (not after rt_sigreturn, execve, a signal frame). */
    if (f->rcx != f->rip || f->r11 != f->rflags) return 1;
    return 0;
}

/* Whether the interrupted system call (number nr) may be restarted after a handler with
 * SA_RESTART. */
bool syscall_restartable(int64_t nr) {
    if (nr < 0 || nr >= SYSCALL_TABLE_SIZE || !table[nr]) return false;
    return !(table[nr]->flags & SYSCALL_NORESTART);
}
