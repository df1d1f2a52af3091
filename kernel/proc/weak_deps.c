/* weak_deps.c: TEMPORARY weak fallbacks for interfaces that are being implemented in parallel
 * (uvm.h, uaccess.h). Each real implementation overrides its fallback at link time. This
 * file is deleted once every interface has landed. */
#include "uvm.h"
#include "uaccess.h"
#include "kerrno.h"

#define WEAK __attribute__((weak))
WEAK struct uvm *uvm_create(void) { return NULL; }
WEAK void uvm_get(struct uvm *as) { (void)as; }
WEAK void uvm_put(struct uvm *as) { (void)as; }
WEAK struct uvm *uvm_fork(struct uvm *parent) { (void)parent; return NULL; }
WEAK void uvm_activate(struct uvm *as) { (void)as; }
WEAK struct uvm *uvm_active(void) { return NULL; }
WEAK int uvm_map(struct uvm *as, uint64_t *addr, uint64_t len, int prot, int flags, struct vfs_file *file,
                 uint64_t off) { return -KENOSYS; }
WEAK int uvm_unmap(struct uvm *as, uint64_t addr, uint64_t len) { return -KENOSYS; }
WEAK int uvm_protect(struct uvm *as, uint64_t addr, uint64_t len, int prot) { return -KENOSYS; }
WEAK int uvm_advise(struct uvm *as, uint64_t addr, uint64_t len, int advice) { return -KENOSYS; }
WEAK void uvm_set_brk_base(struct uvm *as, uint64_t base) {}
WEAK uint64_t uvm_brk(struct uvm *as, uint64_t new_brk) { return 0; }
WEAK int uvm_setup_stack(struct uvm *as) { return -KENOSYS; }
WEAK int uvm_write(struct uvm *as, uint64_t addr, const void *src, size_t len) { return -KEFAULT; }
WEAK int uvm_read(struct uvm *as, uint64_t addr, void *dst, size_t len) { return -KEFAULT; }
WEAK enum uvm_fault_result uvm_handle_fault(struct uvm *as, uint64_t addr, uint64_t error) {
    return UVM_FAULT_SEGV_MAPERR;
}
WEAK uint64_t uvm_resident_pages(const struct uvm *as) { return 0; }
WEAK int uvm_region_count(const struct uvm *as) { return 0; }
WEAK void uvm_for_each_region(struct uvm *as, void (*fn)(uint64_t, uint64_t, int, int, void *), void *ctx) {}
WEAK void uvm_cpu_init(void) {}
WEAK bool uvm_smap_enabled(void) { return false; }
WEAK bool uvm_smep_enabled(void) { return false; }

WEAK bool user_range_ok(uint64_t addr, size_t len) { return false; }
WEAK int copy_from_user(void *dst, const void *usrc, size_t len) { return -KEFAULT; }
WEAK int copy_to_user(void *udst, const void *src, size_t len) { return -KEFAULT; }
WEAK int clear_user(void *udst, size_t len) { return -KEFAULT; }
WEAK int64_t strncpy_from_user(char *dst, const char *usrc, size_t max) { return -KEFAULT; }
WEAK int get_user_u32(uint32_t *out, const void *uaddr) { return -KEFAULT; }
WEAK int put_user_u32(void *uaddr, uint32_t v) { return -KEFAULT; }
WEAK int get_user_u64(uint64_t *out, const void *uaddr) { return -KEFAULT; }
WEAK int put_user_u64(void *uaddr, uint64_t v) { return -KEFAULT; }
WEAK int user_cmpxchg_u32(void *uaddr, uint32_t expected, uint32_t desired, uint32_t *old_out) { return -KEFAULT; }

/* fd.c (file-descriptor table) fallbacks. */
#include "proc.h"
#include "mm.h"
WEAK struct fd_table *fd_table_create(void) {
    struct fd_table *t = kzalloc(sizeof(*t));
    if (t) { mutex_init(&t->lock, "fds"); t->refs = 1; }
    return t;
}
WEAK void fd_table_put(struct fd_table *t) { if (t && --t->refs == 0) kfree(t); }
WEAK struct fd_table *fd_table_copy(struct fd_table *t) { return fd_table_create(); }
WEAK void fd_table_get(struct fd_table *t) { t->refs++; }
WEAK void fd_table_close_on_exec(struct fd_table *t) {}
WEAK struct vfs_file *fd_get(int fd) { return NULL; }
WEAK int fd_install(struct vfs_file *f, int min_fd, bool cloexec) { return -KEMFILE; }

/* elf.h / tty.h fallbacks. */
#include "elf.h"
#include "tty.h"
WEAK int exec_image_build(struct vfs_file *f, const char *path, const char *const argv[], int argc,
                          const char *const envp[], int envc, struct exec_image *out) { return -KENOEXEC; }
WEAK int tty_open_console(uint32_t flags, struct vfs_file **out) { return -KENODEV; }
WEAK int tty_console_start(void) { return -KENODEV; }
