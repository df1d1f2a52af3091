/* fd.c: the per-process file-descriptor table (proc.h, "file descriptors").
 *
 * Follows POSIX.1-2017 XSH 2.14 (file descriptor allocation: the lowest free number), close(),
 * dup(), dup2() and fcntl(FD_CLOEXEC), and the Linux rule that descriptors at or above
 * RLIMIT_NOFILE are never handed out (EMFILE; dup2 to such a number is EBADF).
 *
 * A table is an array of FD_MAX referenced open files plus a close-on-exec byte per slot,
 * guarded by its mutex. Files are never closed while the lock is held (a last close may
 * sleep, e.g. a pipe end taking the pipe's mutex): a slot is cleared under the lock and the
 * file dropped afterwards. Tables are shared between processes created with CLONE_FILES
 * (refs) and copied by fork. */
#include "proc.h"
#include "mm.h"
#include "kstring.h"
#include "sched.h"

/* Takes the table lock even when the caller has been killed: a killed task still has to
 * close its files on the way out. Holders never sleep, so the yield loop ends quickly. */
static void table_lock(struct fd_table *t) {
    if (mutex_lock(&t->lock) == 0) return;
    while (!mutex_trylock(&t->lock)) task_yield();
}

static void table_unlock(struct fd_table *t) { mutex_unlock(&t->lock); }

static struct fd_table *current_table(void) {
    struct process *p = proc_current();
    return p ? p->fds : NULL;
}

/* The first descriptor number the process may not use (RLIMIT_NOFILE, at most FD_MAX). */
static int fd_limit(void) {
    struct process *p = proc_current();
    if (p && p->rlimit_nofile > 0 && p->rlimit_nofile < FD_MAX) return (int)p->rlimit_nofile;
    return FD_MAX;
}

int fd_install(struct vfs_file *f, int min_fd, bool cloexec) {
    struct fd_table *t = current_table();
    if (!t || !f) return -KEBADF;
    int limit = fd_limit();
    if (min_fd < 0) min_fd = 0;
    table_lock(t);
    for (int fd = min_fd; fd < limit; fd++) {
        if (!t->files[fd]) {
            t->files[fd] = f;
            t->cloexec[fd] = cloexec;
            table_unlock(t);
            return fd;
        }
    }
    table_unlock(t);
    return -KEMFILE;
}

/* On -KEBADF the caller keeps its reference to f (as with fd_install's -KEMFILE). */
int fd_install_at(struct vfs_file *f, int fd, bool cloexec) {
    struct fd_table *t = current_table();
    if (!t || !f || fd < 0 || fd >= fd_limit()) return -KEBADF;
    table_lock(t);
    struct vfs_file *old = t->files[fd];
    t->files[fd] = f;
    t->cloexec[fd] = cloexec;
    table_unlock(t);
    vfs_close(old); /* NULL-safe; outside the lock */
    return 0;
}

struct vfs_file *fd_get(int fd) {
    struct fd_table *t = current_table();
    if (!t || fd < 0 || fd >= FD_MAX) return NULL;
    table_lock(t);
    struct vfs_file *f = t->files[fd];
    if (f) vfs_file_get(f);
    table_unlock(t);
    return f;
}

int fd_close(int fd) {
    struct fd_table *t = current_table();
    if (!t || fd < 0 || fd >= FD_MAX) return -KEBADF;
    table_lock(t);
    struct vfs_file *f = t->files[fd];
    t->files[fd] = NULL;
    t->cloexec[fd] = 0;
    table_unlock(t);
    if (!f) return -KEBADF;
    vfs_close(f);
    return 0;
}

int fd_get_cloexec(int fd) {
    struct fd_table *t = current_table();
    if (!t || fd < 0 || fd >= FD_MAX) return -KEBADF;
    table_lock(t);
    int r = t->files[fd] ? t->cloexec[fd] : -KEBADF;
    table_unlock(t);
    return r;
}

int fd_set_cloexec(int fd, bool on) {
    struct fd_table *t = current_table();
    if (!t || fd < 0 || fd >= FD_MAX) return -KEBADF;
    table_lock(t);
    int r = -KEBADF;
    if (t->files[fd]) {
        t->cloexec[fd] = on;
        r = 0;
    }
    table_unlock(t);
    return r;
}

struct fd_table *fd_table_create(void) {
    struct fd_table *t = kzalloc(sizeof(*t));
    if (!t) return NULL;
    mutex_init(&t->lock, "fd-table");
    t->refs = 1;
    return t;
}

struct fd_table *fd_table_copy(struct fd_table *src) {
    struct fd_table *t = fd_table_create();
    if (!t || !src) return t;
    table_lock(src);
    for (int fd = 0; fd < FD_MAX; fd++) {
        if (!src->files[fd]) continue;
        t->files[fd] = vfs_file_get(src->files[fd]);
        t->cloexec[fd] = src->cloexec[fd];
    }
    table_unlock(src);
    return t;
}

void fd_table_get(struct fd_table *t) { __atomic_add_fetch(&t->refs, 1, __ATOMIC_ACQ_REL); }

void fd_table_put(struct fd_table *t) {
    if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    /* Nobody else can reach the table now: close without the lock. */
    for (int fd = 0; fd < FD_MAX; fd++) {
        struct vfs_file *f = t->files[fd];
        if (!f) continue;
        t->files[fd] = NULL;
        vfs_close(f);
    }
    kfree(t);
}

void fd_table_close_on_exec(struct fd_table *t) {
    if (!t) return;
    /* Collect under the lock in small batches, close outside it. */
    for (int start = 0; start < FD_MAX;) {
        struct vfs_file *batch[32];
        int n = 0;
        table_lock(t);
        for (; start < FD_MAX && n < (int)ARRAY_SIZE(batch); start++) {
            if (t->files[start] && t->cloexec[start]) {
                batch[n++] = t->files[start];
                t->files[start] = NULL;
                t->cloexec[start] = 0;
            }
        }
        table_unlock(t);
        for (int i = 0; i < n; i++) vfs_close(batch[i]);
    }
}

int fd_count(void) {
    struct fd_table *t = current_table();
    if (!t) return 0;
    int n = 0;
    table_lock(t);
    for (int fd = 0; fd < FD_MAX; fd++) n += t->files[fd] != NULL;
    table_unlock(t);
    return n;
}
