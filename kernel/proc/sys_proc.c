/* sys_proc.c: identity, process-group, session, TLS and memory-mapping system calls
 * (Linux man pages getpid(2), setpgid(2), setsid(2), arch_prctl(2), set_tid_address(2),
 * brk(2), mmap(2), munmap(2), mprotect(2), madvise(2); POSIX.1-2017 XSH setpgid/setsid). */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "sched.h"
#include "cpu.h"
#include "kstring.h"
#include "mm.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
#define MSR_FS_BASE 0xc0000100

SYSCALL(SYS_getpid, getpid) { return proc_current()->pid; }
SYSCALL(SYS_gettid, gettid) { return uthread_current()->tid; }
SYSCALL(SYS_getppid, getppid) {
    struct process *parent = proc_current()->parent;
    return parent ? parent->pid : 0;
}
/* One user, root: every id is 0 and setting 0 is allowed. */
SYSCALL(SYS_getuid, getuid) { return 0; }
SYSCALL(SYS_geteuid, geteuid) { return 0; }
SYSCALL(SYS_getgid, getgid) { return 0; }
SYSCALL(SYS_getegid, getegid) { return 0; }
SYSCALL(SYS_setuid, setuid) { return a0 == 0 ? 0 : -KEPERM; }
SYSCALL(SYS_setgid, setgid) { return a0 == 0 ? 0 : -KEPERM; }

SYSCALL(SYS_getpgid, getpgid) {
    int32_t pid = (int32_t)a0;
    if (pid < 0) return -KESRCH;
    struct process *p = pid ? proc_find(pid) : proc_current();
    return p ? p->pgid : -KESRCH;
}
SYSCALL(SYS_getpgrp, getpgrp) { return proc_current()->pgid; }
SYSCALL(SYS_getsid, getsid) {
    int32_t pid = (int32_t)a0;
    if (pid < 0) return -KESRCH;
    struct process *p = pid ? proc_find(pid) : proc_current();
    return p ? p->sid : -KESRCH;
}

SYSCALL(SYS_setpgid, setpgid) {
    struct process *self = proc_current();
    int32_t pid = (int32_t)a0, pgid = (int32_t)a1;
    if (pid < 0 || pgid < 0) return -KEINVAL;
    int r = 0;
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    struct process *p = NULL;
    if (!pid || pid == self->pid) {
        p = self;
    } else {
        for (struct process *c = self->children; c; c = c->next_sibling)
            if (c->pid == pid) p = c;
        if (!p) r = -KESRCH;
    }
    if (!r && !pgid) pgid = p->pid;
    if (!r && p != self && p->did_exec) r = -KEACCES;
    if (!r && p->sid != self->sid) r = -KEPERM;
    if (!r && p->sid == p->pid) r = -KEPERM; /* a session leader */
    if (!r && pgid != p->pid) {
        bool found = false;
        for (struct process *q = proc_first_locked(); q && !found; q = q->all_next)
            found = q->pgid == pgid && q->sid == self->sid && q->state == PROC_ALIVE;
        if (!found) r = -KEPERM;
    }
    if (!r) p->pgid = pgid;
    spin_unlock_irqrestore(&proc_lock, fl);
    return r;
}

SYSCALL(SYS_setsid, setsid) {
    struct process *self = proc_current();
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    bool leader = false;
    for (struct process *q = proc_first_locked(); q && !leader; q = q->all_next)
        leader = q->pgid == self->pid;
    int r = -KEPERM;
    if (!leader) {
        self->pgid = self->sid = self->pid;
        self->ctty = NULL;
        r = self->pid;
    }
    spin_unlock_irqrestore(&proc_lock, fl);
    return r;
}

SYSCALL(SYS_arch_prctl, arch_prctl) {
    struct uthread *ut = uthread_current();
    switch (a0) {
    case ARCH_SET_FS:
        if (a1 >= USER_TOP) return -KEPERM;
        ut->fs_base = a1;
        wrmsr(MSR_FS_BASE, a1);
        return 0;
    case ARCH_GET_FS:
        return put_user_u64((void *)(uintptr_t)a1, ut->fs_base) ? -KEFAULT : 0;
    case ARCH_GET_GS:
        return put_user_u64((void *)(uintptr_t)a1, 0) ? -KEFAULT : 0;
    case ARCH_SET_GS:
        return -KEPERM; /* the user GS base is not kept per thread (nothing in musl uses it) */
    default:
        return -KEINVAL;
    }
}

SYSCALL(SYS_set_tid_address, set_tid_address) {
    struct uthread *ut = uthread_current();
    ut->clear_child_tid = a0;
    return ut->tid;
}

/* Accepted and ignored: robust futex lists matter only for threads that die holding a lock. */
SYSCALL(SYS_set_robust_list, set_robust_list) { return a1 == 24 ? 0 : -KEINVAL; }

SYSCALL(SYS_brk, brk) { return (int64_t)uvm_brk(proc_current()->vm, a0); }

SYSCALL(SYS_mmap, mmap) {
    uint64_t addr = a0, len = a1, off = a5;
    int prot = (int)a2, flags = (int)a3, fd = (int)a4;
    struct vfs_file *f = NULL;
    /* Pages are allocated on first touch, but one mapping larger than all of RAM can never be
     * backed: refuse it like Linux's overcommit heuristic does. */
    struct pmm_stats ps;
    pmm_get_stats(&ps);
    if (len / PAGE_SIZE > ps.total_frames) return -KENOMEM;
    if (!(flags & MAP_ANONYMOUS)) {
        f = fd_get(fd);
        if (!f) return -KEBADF;
    }
    int r = uvm_map(proc_current()->vm, &addr, len, prot, flags, f, off);
    if (f) vfs_close(f);
    return r < 0 ? r : (int64_t)addr;
}

SYSCALL(SYS_munmap, munmap) { return uvm_unmap(proc_current()->vm, a0, a1); }
SYSCALL(SYS_mprotect, mprotect) { return uvm_protect(proc_current()->vm, a0, a1, (int)a2); }
SYSCALL(SYS_madvise, madvise) { return uvm_advise(proc_current()->vm, a0, a1, (int)a2); }
