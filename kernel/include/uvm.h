/* uvm.h: user address spaces (kernel/mm/uvm.c, kernel/mm/uvm_fault.c).
 *
 * Follows the Intel SDM vol. 3A ch. 4 (4-level paging: U/S, R/W, XD bits, page-fault error
 * code §4.7) and the Linux mmap/munmap/mprotect/brk semantics (man 2 mmap) for the calls
 * that go through it.
 *
 * One struct uvm per address space: its own PML4 whose upper half (entries 256-511) points at
 * the kernel's shared tables, plus a sorted list of regions (VMAs) in the lower half. Pages are
 * allocated on first touch (demand-zero, or read from the file for a private file mapping).
 * uvm_fork makes a copy-on-write clone: both sides map the same frames read-only and a write
 * fault copies the page (or takes it over when only one side still maps it). Frames carry a
 * share count so a frame is freed when the last address space lets it go.
 *
 * Layout of the lower half (canonical addresses 0 .. USER_TOP):
 *   [0, USER_MIN)                  never mapped (NULL dereferences fault)
 *   ELF segments, then the brk heap growing up from the end of the last segment
 *   mmap regions, handed out top-down from USER_MMAP_TOP
 *   the stack: USER_STACK_MAX bytes below USER_STACK_TOP, with an unmapped guard page under
 *   its lowest possible page (a stack overflow faults there: SIGSEGV)
 *
 * Locking: each uvm has a mutex; the calls below take it, and those returning an error
 * return -KEINTR when the task is killed while waiting for it. All calls: task context. The
 * mutex is never held while user memory is touched through user addresses (uvm_read and
 * uvm_write go through the direct map), so a fault inside a user copy can always take it. */
#pragma once
#include "types.h"
#include "kerrno.h"

#define USER_MIN 0x10000ull                   /* lowest mappable address (64 KiB) */
#define USER_TOP 0x0000800000000000ull        /* first non-canonical address */
#define USER_STACK_TOP 0x00007ffffffff000ull  /* the initial stack grows down from here */
#define USER_STACK_MAX (8ull << 20)           /* 8 MiB, like Linux's default RLIMIT_STACK */
#define USER_MMAP_TOP 0x00007f0000000000ull   /* mmap hands out addresses below this */

/* Linux values (asm-generic/mman-common.h). */
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_GROWSDOWN 0x100
#define MAP_NORESERVE 0x4000
#define MAP_POPULATE 0x8000
#define MAP_STACK 0x20000
#define MAP_FIXED_NOREPLACE 0x100000
#define MADV_NORMAL 0
#define MADV_RANDOM 1
#define MADV_SEQUENTIAL 2
#define MADV_WILLNEED 3
#define MADV_DONTNEED 4

/* Extra bits in the flags uvm_for_each_region reports (beyond MAP_*): the brk heap and the
 * stack (for the [heap] and [stack] names of /proc/PID/maps). */
#define UVM_REGION_HEAP 0x40000000
#define UVM_REGION_STACK 0x20000000

struct uvm;
struct vfs_file;

/* What uvm_handle_fault decided. */
enum uvm_fault_result {
    UVM_FAULT_FIXED = 0,   /* the page is now mapped: retry the instruction */
    UVM_FAULT_SEGV_MAPERR, /* no region there: SIGSEGV, si_code SEGV_MAPERR */
    UVM_FAULT_SEGV_ACCERR, /* region forbids the access (write to read-only, exec of NX): SEGV_ACCERR */
    UVM_FAULT_BUS,         /* file mapping past the end of the file: SIGBUS */
    UVM_FAULT_OOM,         /* no frame for the page: the process is killed (SIGKILL) */
};

/* Creates an empty address space (kernel half shared). NULL when memory is short. */
struct uvm *uvm_create(void);
/* Another reference (clone with CLONE_VM, vfork). */
void uvm_get(struct uvm *as);
/* Drops a reference; the last one unmaps everything and frees the page tables and every
 * frame no other address space shares. If it is the active address space, the kernel's
 * tables are loaded first. */
void uvm_put(struct uvm *as);
/* Copy-on-write clone for fork: same regions, same contents, frames shared read-only until
 * one side writes. NULL (and nothing leaked) when memory is short. */
struct uvm *uvm_fork(struct uvm *parent);
/* Loads the address space into CR3 (NULL: the kernel's own tables). Cheap when already loaded. */
void uvm_activate(struct uvm *as);
/* The address space loaded now, or NULL for the kernel's tables. */
struct uvm *uvm_active(void);

/* mmap: maps len bytes (rounded up to pages) with prot (PROT_*) and flags (MAP_PRIVATE or
 * MAP_SHARED with MAP_ANONYMOUS; MAP_PRIVATE for files; MAP_FIXED, MAP_FIXED_NOREPLACE). *addr
 * is the hint / fixed address and receives the result. MAP_SHARED|MAP_ANONYMOUS memory is
 * allocated at once (so that fork shares it) and stays shared with children; other flag
 * bits (MAP_POPULATE, MAP_NORESERVE, MAP_STACK, MAP_GROWSDOWN...) are accepted and ignored.
 * A file must be a regular file (else -KENODEV). A file mapping (file != NULL, not
 * MAP_ANONYMOUS) takes a reference on the file and reads pages at off (page aligned) on first
 * touch; bytes past the end of the file read as zero within the last page, whole pages past it
 * give UVM_FAULT_BUS. Returns 0, -KEINVAL (len 0, misaligned, bad flags, range outside
 * [USER_MIN, USER_TOP)), -KENOMEM (no room, no memory), -KEEXIST (MAP_FIXED_NOREPLACE overlap),
 * -KENODEV (MAP_SHARED file mapping: not supported), -KEACCES (file not readable). */
int uvm_map(struct uvm *as, uint64_t *addr, uint64_t len, int prot, int flags,
            struct vfs_file *file, uint64_t off);
/* munmap: removes every mapping in [addr, addr+len) (splitting regions); 0 or -KEINVAL. */
int uvm_unmap(struct uvm *as, uint64_t addr, uint64_t len);
/* mprotect: 0, -KEINVAL (misaligned, bad prot), -KENOMEM (part of the range is unmapped). */
int uvm_protect(struct uvm *as, uint64_t addr, uint64_t len, int prot);
/* madvise: MADV_DONTNEED drops the pages (anonymous private pages read back as zero); the
 * other advice values are accepted and ignored. 0, -KEINVAL, -KENOMEM (unmapped). */
int uvm_advise(struct uvm *as, uint64_t addr, uint64_t len, int advice);
/* Sets where the brk heap starts (page aligned end of the ELF image); called by exec. */
void uvm_set_brk_base(struct uvm *as, uint64_t base);
/* brk: asks for a new program break (0 = just ask). Returns the break after the call (the old
 * one when the request cannot be met: below the base, overlapping a mapping, no memory). */
uint64_t uvm_brk(struct uvm *as, uint64_t new_brk);
/* Creates the stack region [USER_STACK_TOP - USER_STACK_MAX, USER_STACK_TOP) read/write, with
 * the guard page below it; returns 0 or -KENOMEM. */
int uvm_setup_stack(struct uvm *as);

/* ---- for exec_image.c (its shared read-only pages) ----
 * Maps frame pa at page va of as, inside an existing private anonymous region, copy-on-write
 * (PTE_COW: never writable in place, whatever the region's rights become) with the region's
 * rights; takes one more share count on pa (pmm_frame_ref), which the address space drops
 * when it unmaps the page. 0, -KEINVAL (va not page aligned), -KEFAULT (no such region, or a
 * shared or file region), -KEEXIST (a frame is mapped there already), -KENOMEM, -KEINTR.
 */
int uvm_map_frame(struct uvm *as, uint64_t va, phys_addr_t pa);

/* Writes len bytes into as at addr, even when as is not the active address space and even
 * into read-only regions (exec uses it to fill segments and the initial stack). The range
 * must lie inside regions. 0, -KEFAULT, -KENOMEM. */
int uvm_write(struct uvm *as, uint64_t addr, const void *src, size_t len);
/* Reads from a (possibly inactive) address space: 0, -KEFAULT. */
int uvm_read(struct uvm *as, uint64_t addr, void *dst, size_t len);

/* Page-fault handling for the active address space: addr = CR2, error = the #PF error code
 * (P, W/R, U/S, I/D bits). Demand-zero, file pages, copy-on-write, stack. It takes the
 * address space's mutex and may read a file, so it sleeps: for a user-mode fault (U/S set in
 * error) it turns interrupts on for the time it works if the #PF handler entered with them
 * off (user code always runs with them on) and off again before returning; a caller with
 * interrupts off and U/S clear gets a non-sleeping attempt (the mutex only if free, no file
 * read). UVM_FAULT_OOM also when the task is killed while waiting for the mutex. */
enum uvm_fault_result uvm_handle_fault(struct uvm *as, uint64_t addr, uint64_t error);

/* Statistics: frames mapped by this address space (resident set), and regions. */
uint64_t uvm_resident_pages(const struct uvm *as);
int uvm_region_count(const struct uvm *as);
/* Calls fn for each region (for /proc/PID/maps and tests). */
void uvm_for_each_region(struct uvm *as,
                         void (*fn)(uint64_t start, uint64_t end, int prot, int flags, void *ctx), void *ctx);

/* Enables SMEP and SMAP (CR4 bits 20, 21) when the CPU has them; called once at boot. */
void uvm_cpu_init(void);
/* True when SMAP / SMEP are on (tests, docs). */
bool uvm_smap_enabled(void);
bool uvm_smep_enabled(void);
