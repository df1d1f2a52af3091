/* fault.c: CPU exceptions raised in user mode become signals (Intel SDM vol. 3A ch. 6 for
 * the vectors and the #PF error code; signal(7) and sigaction(2) for the si_code values).
 * Page faults first go to the address space (demand paging, copy-on-write, stack). */
#include "proc.h"
#include "uvm.h"
#include "sched.h"
#include "printk.h"

#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define BUS_ADRERR 2
#define ILL_ILLOPN 2
#define FPE_INTDIV 1
#define FPE_FLTINV 7
#define TRAP_BRKPT 1
#define SI_KERNEL 0x80

bool proc_exception(struct irq_frame *f, uint64_t cr2) {
    struct process *p = proc_current();
    if (!p) return false;
    switch (f->vector) {
    case 14: {
        enum uvm_fault_result r = p->vm ? uvm_handle_fault(p->vm, cr2, f->error_code) : UVM_FAULT_SEGV_MAPERR;
        switch (r) {
        case UVM_FAULT_FIXED: return true;
        case UVM_FAULT_SEGV_ACCERR: proc_user_fault(f, SIGSEGV, SEGV_ACCERR, cr2); return true;
        case UVM_FAULT_BUS: proc_user_fault(f, SIGBUS, BUS_ADRERR, cr2); return true;
        case UVM_FAULT_OOM:
            printk(LOG_WARN, "pid %d (%s): out of memory at %016lx: killed\n", p->pid, p->name,
                   (unsigned long)cr2);
            proc_signal(p, SIGKILL);
            return true;
        default: proc_user_fault(f, SIGSEGV, SEGV_MAPERR, cr2); return true;
        }
    }
    case 7:
        /* #NM that sched_fpu_trap could not handle: no memory for the FPU state. */
        printk(LOG_WARN, "pid %d (%s): no memory for its FPU state: killed\n", p->pid, p->name);
        proc_signal(p, SIGKILL);
        return true;
    case 0: proc_user_fault(f, SIGFPE, FPE_INTDIV, f->rip); return true;
    case 16: case 19: proc_user_fault(f, SIGFPE, FPE_FLTINV, f->rip); return true;
    case 6: proc_user_fault(f, SIGILL, ILL_ILLOPN, f->rip); return true;
    case 1: case 3: proc_user_fault(f, SIGTRAP, TRAP_BRKPT, f->rip); return true;
    case 17: proc_user_fault(f, SIGBUS, BUS_ADRERR, f->rip); return true;
    case 4: case 5: case 10: case 11: case 12: case 13:
        proc_user_fault(f, SIGSEGV, SI_KERNEL, 0);
        return true;
    default:
        return false; /* #DF, #MC, NMI...: a kernel matter */
    }
}
