/* uaccess.c: copying between the kernel and user memory (uaccess.h), around the routines of
 * uaccess_copy.S, and the exception fixup for faults inside them.
 *
 * Follows the Intel SDM vol. 3A §4.7 (page-fault error code), §6.15 (#PF, #GP; a fault is
 * restartable: RIP points at the faulting instruction) and §4.6.1 (SMAP, RFLAGS.AC). Every
 * user range is checked to lie below USER_TOP without wrapping before any access, so the copy
 * routines only ever fault on user addresses; a fault on a kernel address inside them is a
 * kernel bug and is reported as one (uaccess_fixup declines it). */
#include "uaccess.h"
#include "uvm_internal.h"
#include "cpu.h"
#include "printk.h"

/* Set by uvm_cpu_init before CR4.SMAP: uaccess_copy.S executes stac/clac only then. */
uint8_t uaccess_smap_on;

int uaccess_copy(void *dst, const void *src, size_t len);
int uaccess_clear(void *udst, size_t len);
int64_t uaccess_strncpy(char *dst, const char *usrc, size_t limit);
int uaccess_get32(uint32_t *out, const void *uaddr);
int uaccess_get64(uint64_t *out, const void *uaddr);
int uaccess_put32(void *uaddr, uint32_t v);
int uaccess_put64(void *uaddr, uint64_t v);
int uaccess_cmpxchg32(void *uaddr, uint32_t expected, uint32_t desired, uint32_t *old_out);

struct uaccess_extable_entry {
    uint64_t start, end, fixup;
};
extern const struct uaccess_extable_entry uaccess_extable[], uaccess_extable_end[];

/* The same (RIP, CR2) faulting again within one call after it was "fixed" means the fix did
 * not hold (a bug, or an access the page tables allow but the CPU refuses): after a few rounds
 * the copy ends with -EFAULT instead of looping. Every call starts afresh (fixup_reset), so
 * separate calls touching the same address never add up. One CPU: plain statics. */
#define FIXUP_MAX_REPEATS 4
static uint64_t last_rip, last_cr2;
static unsigned repeats;
static inline void fixup_reset(void) { last_rip = 0; }

bool user_range_ok(uint64_t addr, size_t len) { return len <= USER_TOP && addr <= USER_TOP - len; }

static inline bool urange(const void *p, size_t len) { return user_range_ok((uint64_t)(uintptr_t)p, len); }

int copy_from_user(void *dst, const void *usrc, size_t len) {
    if (len == 0) return 0;
    if (!urange(usrc, len)) return -KEFAULT;
    fixup_reset();
    return uaccess_copy(dst, usrc, len);
}

int copy_to_user(void *udst, const void *src, size_t len) {
    if (len == 0) return 0;
    if (!urange(udst, len)) return -KEFAULT;
    fixup_reset();
    return uaccess_copy(udst, src, len);
}

int clear_user(void *udst, size_t len) {
    if (len == 0) return 0;
    if (!urange(udst, len)) return -KEFAULT;
    fixup_reset();
    return uaccess_clear(udst, len);
}

int64_t strncpy_from_user(char *dst, const char *usrc, size_t max) {
    uint64_t a = (uint64_t)(uintptr_t)usrc;
    if (a >= USER_TOP) return -KEFAULT;
    if (max == 0) return -KENAMETOOLONG;
    size_t limit = (size_t)MIN((uint64_t)max, USER_TOP - a); /* never read past USER_TOP */
    fixup_reset();
    int64_t n = uaccess_strncpy(dst, usrc, limit);
    if (n < 0) return n;
    if ((size_t)n < limit) return n;
    dst[max - 1] = '\0';                  /* a truncated copy is still a C string */
    return limit < max ? -KEFAULT : -KENAMETOOLONG; /* ran into USER_TOP / no NUL in max bytes */
}

int get_user_u32(uint32_t *out, const void *uaddr) {
    if (!urange(uaddr, 4)) return -KEFAULT;
    fixup_reset();
    return uaccess_get32(out, uaddr);
}

int put_user_u32(void *uaddr, uint32_t v) {
    if (!urange(uaddr, 4)) return -KEFAULT;
    fixup_reset();
    return uaccess_put32(uaddr, v);
}

int get_user_u64(uint64_t *out, const void *uaddr) {
    if (!urange(uaddr, 8)) return -KEFAULT;
    fixup_reset();
    return uaccess_get64(out, uaddr);
}

int put_user_u64(void *uaddr, uint64_t v) {
    if (!urange(uaddr, 8)) return -KEFAULT;
    fixup_reset();
    return uaccess_put64(uaddr, v);
}

int user_cmpxchg_u32(void *uaddr, uint32_t expected, uint32_t desired, uint32_t *old_out) {
    if ((uintptr_t)uaddr & 3) return -KEINVAL;
    if (!urange(uaddr, 4)) return -KEFAULT;
    fixup_reset();
    return uaccess_cmpxchg32(uaddr, expected, desired, old_out);
}

/* See uaccess.h. Interrupts are off on entry (interrupt gate); they are turned on around the
 * fault handling when the copy ran with them on, and off again before returning. */
bool uaccess_fixup(struct irq_frame *f, uint64_t cr2) {
    const struct uaccess_extable_entry *e = uaccess_extable;
    while (e < uaccess_extable_end && !(f->rip >= e->start && f->rip < e->end)) e++;
    if (e == uaccess_extable_end) return false;
    /* The handler inherits RFLAGS.AC from the copy: close the SMAP window while it works.
     * IRET restores the copy's AC from the frame. */
    if (uaccess_smap_on) __asm__ volatile("clac" ::: "memory");
    if (f->vector == 14) {
        if (cr2 >= USER_TOP) return false; /* the kernel-side buffer is bad: a kernel bug */
        if (f->rip == last_rip && cr2 == last_cr2) {
            repeats++;
        } else {
            last_rip = f->rip;
            last_cr2 = cr2;
            repeats = 0;
        }
        struct uvm *as = uvm_active();
        if (as && repeats < FIXUP_MAX_REPEATS) {
            /* The faulting code ran with interrupts on (the usual case): so may the fault
             * handling, which can sleep on the address-space mutex or a file read. */
            bool irqs_on = (f->rflags & (1u << 9)) != 0;
            if (irqs_on) sti();
            enum uvm_fault_result r = uvm_fault_resolve(as, cr2, f->error_code, irqs_on);
            cli();
            if (r == UVM_FAULT_FIXED) return true; /* retry the instruction */
        } else if (as) {
            pr_err("uaccess: fault at %#lx keeps coming back after being handled; -EFAULT\n", cr2);
        }
        last_rip = 0;
    }
    f->rip = e->fixup;
    return true;
}
