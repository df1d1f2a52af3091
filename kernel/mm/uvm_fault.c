/* uvm_fault.c: page faults in user address spaces, and uvm_read/uvm_write (uvm.h).
 *
 * Follows the Intel SDM vol. 3A §4.7 (page-fault error code: bit 0 P, 1 W/R, 2 U/S, 3 RSVD,
 * 4 I/D) and the Linux fault semantics programs see: no region gives SIGSEGV/SEGV_MAPERR, an
 * access the region forbids SIGSEGV/SEGV_ACCERR, a private file page wholly past the end of
 * the file SIGBUS (mmap(2), "SIGBUS"). On x86 every present page is readable, so a read is
 * allowed in any region that is not PROT_NONE, and PROT_EXEC is only enforced with NX.
 *
 * A not-present page gets a zeroed frame, or for a private file mapping a frame filled with
 * vfs_pread (the tail past the end of the file zeroed). A write to a copy-on-write page takes
 * the frame over when its share count is 1, else copies it. The address space's mutex is
 * held throughout: it may sleep (file reads), so no spinlock is ever held here. */
#include "uvm_internal.h"
#include "mm.h"
#include "kstring.h"
#include "printk.h"
#include "sched.h"
#include "vfs.h"
#include "cpu.h"

#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define PF_U (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I (1u << 4)
#define PTE_AD ((1ull << 5) | (1ull << 6))

/* Fills kva with the file page behind page (tail past EOF zeroed). Bytes read, or -errno
 * (also for a page that starts at or past the end of the file). */
static int64_t read_file_page(const struct vma *v, uint64_t page, uint8_t *kva) {
    uint64_t off = v->off + (page - v->start);
    size_t got = 0;
    while (got < PAGE_SIZE) {
        int64_t n = vfs_pread(v->file, kva + got, PAGE_SIZE - got, off + got);
        if (n < 0) return n;
        if (n == 0) break;
        got += (size_t)n;
    }
    if (got == 0) return -KENXIO;
    memset(kva + got, 0, PAGE_SIZE - got);
    return (int64_t)got;
}

/* A write to a copy-on-write entry: take the frame over or copy it. */
static enum uvm_fault_result break_cow(struct uvm *as, struct vma *v, uint64_t *pte, uint64_t page,
                                       phys_addr_t *pa_out) {
    uint64_t e = *pte;
    phys_addr_t old = e & PTE_ADDR;
    if (pmm_frame_refs(old) == 1) {
        /* Nobody else maps it any more (the others wrote or went away). Only this address
         * space can add sharers, and it is locked: the count cannot grow meanwhile. */
        *pte = uvm_make_pte(old, v->prot, 0) | (e & PTE_AD);
        uvm_flush_page(as, page);
        *pa_out = old;
        return UVM_FAULT_FIXED;
    }
    phys_addr_t pa = pmm_alloc();
    if (!pa) return UVM_FAULT_OOM;
    memcpy(phys_to_virt(pa), phys_to_virt(old), PAGE_SIZE);
    *pte = uvm_make_pte(pa, v->prot, 0);
    uvm_flush_page(as, page);
    pmm_frame_unref(old);
    *pa_out = pa;
    return UVM_FAULT_FIXED;
}

enum uvm_fault_result uvm_fault_page(struct uvm *as, struct vma *v, uint64_t page, bool write,
                                     bool may_sleep, phys_addr_t *pa_out) {
    uint64_t *pte = uvm_pte(as, page, true);
    if (!pte) return UVM_FAULT_OOM;
    uint64_t e = *pte;
    if (pte_has_frame(e)) {
        if (write && (e & PTE_COW)) return break_cow(as, v, pte, page, pa_out);
        /* Present already: another thread was first, or the TLB held an older entry. Make
         * sure the entry says what the region says, then let the access retry. */
        uint64_t want = uvm_make_pte(e & PTE_ADDR, v->prot, e & PTE_COW);
        if ((e & ~PTE_AD) != want) *pte = want | (e & PTE_AD);
        uvm_flush_page(as, page);
        *pa_out = e & PTE_ADDR;
        return UVM_FAULT_FIXED;
    }
    if (v->file && !may_sleep) return UVM_FAULT_SEGV_ACCERR; /* file reads sleep */
    phys_addr_t pa = pmm_alloc();
    if (!pa) return UVM_FAULT_OOM;
    if (v->file) {
        if (read_file_page(v, page, phys_to_virt(pa)) < 0) {
            pmm_free(pa);
            return UVM_FAULT_BUS;
        }
    } else {
        memset(phys_to_virt(pa), 0, PAGE_SIZE);
    }
    /* Not present before: no TLB entry to invalidate (SDM §4.10.2.3). */
    *pte = uvm_make_pte(pa, v->prot, 0);
    as->resident++;
    *pa_out = pa;
    return UVM_FAULT_FIXED;
}

enum uvm_fault_result uvm_fault_resolve(struct uvm *as, uint64_t addr, uint64_t error, bool may_sleep) {
    if (!as || addr < USER_MIN || addr >= USER_TOP) return UVM_FAULT_SEGV_MAPERR;
    if (error & PF_RSVD) {
        pr_err("uvm: reserved bit set in a user page-table entry for %#lx\n", addr);
        return UVM_FAULT_SEGV_ACCERR;
    }
    if (__atomic_load_n(&as->lock.owner, __ATOMIC_RELAXED) == task_current()) {
        pr_err("uvm: fault at %#lx while this task holds the address-space lock\n", addr);
        return UVM_FAULT_SEGV_MAPERR;
    }
    if (may_sleep) {
        if (mutex_lock(&as->lock) < 0) return UVM_FAULT_OOM; /* killed: it dies anyway */
    } else if (!mutex_trylock(&as->lock)) {
        return UVM_FAULT_SEGV_MAPERR;
    }
    enum uvm_fault_result r;
    struct vma *v = uvm_find_vma(as, addr);
    phys_addr_t pa;
    if (!v)
        r = UVM_FAULT_SEGV_MAPERR;
    else if (v->prot == PROT_NONE || ((error & PF_W) && !(v->prot & PROT_WRITE)) ||
             ((error & PF_I) && !(v->prot & PROT_EXEC)))
        r = UVM_FAULT_SEGV_ACCERR;
    else
        r = uvm_fault_page(as, v, ALIGN_DOWN(addr, PAGE_SIZE), (error & PF_W) != 0, may_sleep, &pa);
    mutex_unlock(&as->lock);
    return r;
}

enum uvm_fault_result uvm_handle_fault(struct uvm *as, uint64_t addr, uint64_t error) {
    /* The #PF handler runs with interrupts off (interrupt gate). A fault from user mode
     * interrupted code that had them on, so they may go back on while the fault sleeps (mutex,
     * file read); other callers with interrupts off get the non-sleeping variant. */
    bool irqs_off = !(read_rflags() & (1u << 9));
    bool user = (error & PF_U) != 0;
    if (irqs_off && user) sti();
    enum uvm_fault_result r = uvm_fault_resolve(as, addr, error, !irqs_off || user);
    if (irqs_off && user) cli();
    return r;
}

/* Copies between buf and [addr, addr+len) of as through the direct map, page by page. */
static int access_pages(struct uvm *as, uint64_t addr, void *buf, size_t len, bool write) {
    if (!as) return -KEFAULT;
    if (len == 0) return 0;
    if (addr >= USER_TOP || len > USER_TOP - addr) return -KEFAULT;
    if (mutex_lock(&as->lock) < 0) return -KEINTR;
    int r = 0;
    uint8_t *p = buf;
    while (len) {
        uint64_t page = ALIGN_DOWN(addr, PAGE_SIZE);
        size_t off = addr - page, n = MIN(len, (size_t)(PAGE_SIZE - off));
        struct vma *v = uvm_find_vma(as, addr);
        if (!v) {
            r = -KEFAULT;
            break;
        }
        uint64_t *pte = write || v->file ? NULL : uvm_pte(as, page, false);
        if (!write && !v->file && (!pte || !pte_has_frame(*pte))) {
            memset(p, 0, n); /* untouched anonymous memory reads as zero: no frame needed */
        } else {
            phys_addr_t pa;
            enum uvm_fault_result fr = uvm_fault_page(as, v, page, write, true, &pa);
            if (fr != UVM_FAULT_FIXED) {
                r = fr == UVM_FAULT_OOM ? -KENOMEM : -KEFAULT;
                break;
            }
            uint8_t *k = (uint8_t *)phys_to_virt(pa) + off;
            if (write) memcpy(k, p, n);
            else memcpy(p, k, n);
        }
        addr += n;
        p += n;
        len -= n;
    }
    mutex_unlock(&as->lock);
    return r;
}

int uvm_write(struct uvm *as, uint64_t addr, const void *src, size_t len) {
    return access_pages(as, addr, (void *)(uintptr_t)src, len, true);
}

int uvm_read(struct uvm *as, uint64_t addr, void *dst, size_t len) {
    return access_pages(as, addr, dst, len, false);
}
