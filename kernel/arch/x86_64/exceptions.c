/* exceptions.c: CPU exception reports (Intel SDM vol. 3A §6.15, "Exception and Interrupt
 * Reference"; page-fault error code §4.7) and recovery for self-tests that fault on purpose.
 * A fault in kernel mode prints the exception name, vector, error code, RIP, CS, RFLAGS, RSP,
 * the general registers, CR2 (with the decoded #PF error bits) and a symbolised backtrace, then
 * stops the kernel. */
#include "types.h"
#include "arch.h"
#include "cpu.h"
#include "fault.h"
#include "uaccess.h"
#include "proc.h"
#include "printk.h"
#include "panic.h"
#include "mm.h"
#include "sched.h"

static const char *const names[32] = {
    "#DE divide error", "#DB debug", "NMI non-maskable interrupt", "#BP breakpoint",
    "#OF overflow", "#BR bound range exceeded", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack-segment fault", "#GP general protection", "#PF page fault", "reserved (15)",
    "#MF x87 floating-point error", "#AC alignment check", "#MC machine check",
    "#XM SIMD floating-point exception", "#VE virtualization exception",
    "#CP control protection exception", "reserved (22)", "reserved (23)", "reserved (24)",
    "reserved (25)", "reserved (26)", "reserved (27)", "#HV hypervisor injection exception",
    "#VC VMM communication exception", "#SX security exception", "reserved (31)"};

static struct fault_record *catch_rec;
static struct kjmp catch_jmp;

const char *exception_name(unsigned vector) { return vector < 32 ? names[vector] : "not an exception"; }

void fault_catch_arm(struct fault_record *rec) {
    rec->caught = false;
    catch_rec = rec;
}
void fault_catch_disarm(void) { catch_rec = NULL; }
struct kjmp *fault_catch_jmp(void) { return &catch_jmp; }

static void report(const struct irq_frame *f, uint64_t cr2) {
    printk(LOG_ERR, "exception %s (vector %lu) error code 0x%lx\n", exception_name(f->vector),
           f->vector, f->error_code);
    printk(LOG_ERR, "  RIP %016lx  CS %04lx  RFLAGS %016lx  RSP %016lx  SS %04lx\n", f->rip,
           f->cs, f->rflags, f->rsp, f->ss);
    printk(LOG_ERR, "  RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", f->rax, f->rbx, f->rcx,
           f->rdx);
    printk(LOG_ERR, "  RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx\n", f->rsi, f->rdi, f->rbp,
           f->r8);
    printk(LOG_ERR, "  R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx\n", f->r9, f->r10, f->r11,
           f->r12);
    printk(LOG_ERR, "  R13 %016lx  R14 %016lx  R15 %016lx\n", f->r13, f->r14, f->r15);
    printk(LOG_ERR, "  CR0 %016lx  CR2 %016lx  CR3 %016lx  CR4 %016lx\n", read_cr0(), cr2,
           read_cr3(), read_cr4());
    if (f->vector == 14) {
        uint64_t e = f->error_code;
        printk(LOG_ERR, "  page fault at %016lx: %s, %s, %s mode%s%s%s\n", cr2,
               (e & 1) ? "protection violation" : "page not present",
               (e & 2) ? "write" : "read", (e & 4) ? "user" : "kernel",
               (e & 8) ? ", reserved bit set" : "", (e & 16) ? ", instruction fetch" : "",
               (e & 32) ? ", protection key" : "");
    }
    uint64_t off;
    const char *fn = symbol_lookup(f->rip, &off);
    printk(LOG_ERR, "  at %s+0x%lx\n", fn ? fn : "?", fn ? off : 0);
    backtrace_from(f->rip, f->rbp);
}

/* Exceptions a test can raise on purpose; NMI, #DF and #MC are never "expected". */
static bool catchable(uint64_t vector) { return vector != 2 && vector != 8 && vector != 18; }

static int exception_depth;

/* Called by interrupt_dispatch() for vectors 0-31. */
void exception_handler(struct irq_frame *f) {
    uint64_t cr2 = read_cr2();
    /* #NM: first FPU/SSE use by a task that does not own the registers (lazy switching). */
    if (f->vector == 7 && sched_fpu_trap()) return;
    /* #DF from running off a task's kernel stack into its guard page: that task ends. */
    if (f->vector == 8 && (f->cs & 3) == 0) sched_handle_stack_overflow(cr2, f->rsp, f->rflags);
    /* A fault inside a user-memory copy (uaccess.h): demand paging, or -EFAULT for the call. */
    if ((f->cs & 3) == 0 && (f->vector == 14 || f->vector == 13) && uaccess_fixup(f, cr2)) return;
    /* A fault in user mode: resolved (demand paging, copy-on-write) or a signal (proc.h). */
    if ((f->cs & 3) != 0 && proc_exception(f, cr2)) return;
    if (catch_rec && (f->cs & 3) == 0 && catchable(f->vector)) {
        struct fault_record *rec = catch_rec;
        catch_rec = NULL;
        rec->caught = true;
        rec->vector = f->vector;
        rec->error_code = f->error_code;
        rec->rip = f->rip;
        rec->cr2 = cr2;
        printk(LOG_INFO, "caught expected %s at RIP %016lx (CR2 %016lx)\n",
               exception_name(f->vector), f->rip, cr2);
        kjmp_restore(&catch_jmp, 1);
    }
    if (exception_depth++ > 0) {
        /* A fault while reporting a fault: say so once, without the backtrace that may be
         * what faulted, and stop. */
        printk(LOG_ERR, "exception %s (vector %lu) at RIP %016lx while handling another one\n",
               exception_name(f->vector), f->vector, f->rip);
        panic("nested exception");
    }
    report(f, cr2);
    panic("unhandled %s in %s mode", exception_name(f->vector), (f->cs & 3) ? "user" : "kernel");
}

/* Walks the frame-pointer chain (the kernel is built with -fno-omit-frame-pointer). Every
 * frame pointer is checked to lie in the kernel half, be aligned and be mapped before it is
 * followed, so a corrupt chain ends the backtrace instead of faulting again. */
void backtrace_from(uint64_t rip, uint64_t rbp) {
    printk(LOG_ERR, "  backtrace:\n");
    uint64_t off;
    const char *fn = symbol_lookup(rip, &off);
    printk(LOG_ERR, "    %016lx %s+0x%lx\n", rip, fn ? fn : "?", fn ? off : 0);
    for (int depth = 0; depth < 32; depth++) {
        if (rbp < 0xffff800000000000ull || (rbp & 7) || !vmm_kernel_readable(rbp, 16)) break;
        uint64_t *frame = (uint64_t *)(uintptr_t)rbp;
        uint64_t ret = frame[1];
        if (ret == 0) break;
        /* A return address can point just past a function that ends in a call to a
         * noreturn function, so look up the call instruction's last byte instead. */
        fn = symbol_lookup(ret - 1, &off);
        printk(LOG_ERR, "    %016lx %s+0x%lx\n", ret, fn ? fn : "?", fn ? off + 1 : 0);
        if (frame[0] <= rbp) break; /* the stack grows down: callers' frames are higher */
        rbp = frame[0];
    }
}

void backtrace_here(void) {
    uint64_t *frame = __builtin_frame_address(0);
    backtrace_from(frame[1], frame[0]); /* starts at our caller */
}
