/* syscall.h: system-call numbers, registration and dispatch (kernel/proc/syscall.c,
 * kernel/arch/x86_64/syscall.S). See docs/syscalls.md.
 *
 * The ABI is Linux x86-64 (arch/x86/entry/syscalls/syscall_64.tbl): `syscall` with the number
 * in rax and arguments in rdi, rsi, rdx, r10, r8, r9; the result in rax, an error as -errno
 * (kerrno.h values are Linux's). SABOS's own calls sit in [SYS_SABOS_FIRST, SYS_SABOS_LAST].
 *
 * A file defines a call with
 *     SYSCALL(SYS_getpid, getpid) { return proc_current()->pid; }
 * The body sees the arguments as uint64_t a0..a5. Entries land in the "syscalls" linker
 * section; syscall_init builds the dispatch table from them (two entries for one number is a
 * boot-time panic). An unknown number returns -ENOSYS and is logged once per number. */
#pragma once
#include "types.h"
#include "irq.h"

typedef int64_t (*syscall_fn_t)(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                uint64_t a5);

/* Flags of a system call. */
#define SYSCALL_NORESTART 1u /* interrupted by a handled signal: -EINTR even with SA_RESTART
                              * (nanosleep, poll, select, IPC receive), as Linux does */

struct syscall_entry {
    uint32_t nr;
    uint32_t flags;
    const char *name;
    syscall_fn_t fn;
};

#define SYSCALL_FLAGS(nr_, name_, flags_)                                                    \
    static int64_t sys_##name_(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,         \
                               uint64_t a4, uint64_t a5);                                  \
    static const struct syscall_entry syscall_entry_##name_                                \
        __attribute__((used, section("syscalls"), aligned(8))) = {nr_, flags_, #name_,     \
                                                                  sys_##name_};            \
    static int64_t sys_##name_(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,         \
                               uint64_t a4, uint64_t a5)
#define SYSCALL(nr_, name_) SYSCALL_FLAGS(nr_, name_, 0)

/* Builds the dispatch table and programs the SYSCALL MSRs (STAR, LSTAR, FMASK, EFER.SCE). */
void syscall_init(void);
/* The user register frame of the calling task's current system call or interrupt from user
 * mode (the top of its kernel stack). fork, execve, sigreturn and signal delivery use it. */
struct irq_frame *syscall_user_frame(void);
/* Name of a system call number, or NULL when none is registered (strace-like logs). */
const char *syscall_name(uint32_t nr);
/* Calls the handler for nr as the dispatcher would (tests and benchmarks from kernel tasks
 * use the user-copy rules too, so they pass kernel buffers only to calls that allow it). */
int64_t syscall_invoke(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                       uint64_t a4, uint64_t a5);
/* Numbers of system calls that returned -ENOSYS so far (for /proc and tests). */
uint32_t syscall_enosys_count(void);

/* ---- Linux x86-64 numbers ---- */
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_stat 4
#define SYS_fstat 5
#define SYS_lstat 6
#define SYS_poll 7
#define SYS_lseek 8
#define SYS_mmap 9
#define SYS_mprotect 10
#define SYS_munmap 11
#define SYS_brk 12
#define SYS_rt_sigaction 13
#define SYS_rt_sigprocmask 14
#define SYS_rt_sigreturn 15
#define SYS_ioctl 16
#define SYS_pread64 17
#define SYS_pwrite64 18
#define SYS_readv 19
#define SYS_writev 20
#define SYS_access 21
#define SYS_pipe 22
#define SYS_select 23
#define SYS_sched_yield 24
#define SYS_mremap 25
#define SYS_madvise 28
#define SYS_dup 32
#define SYS_dup2 33
#define SYS_pause 34
#define SYS_nanosleep 35
#define SYS_getitimer 36
#define SYS_alarm 37
#define SYS_setitimer 38
#define SYS_getpid 39
#define SYS_socket 41
#define SYS_connect 42
#define SYS_accept 43
#define SYS_sendto 44
#define SYS_recvfrom 45
#define SYS_sendmsg 46
#define SYS_recvmsg 47
#define SYS_shutdown 48
#define SYS_bind 49
#define SYS_listen 50
#define SYS_getsockname 51
#define SYS_getpeername 52
#define SYS_socketpair 53
#define SYS_setsockopt 54
#define SYS_getsockopt 55
#define SYS_clone 56
#define SYS_fork 57
#define SYS_vfork 58
#define SYS_execve 59
#define SYS_exit 60
#define SYS_wait4 61
#define SYS_kill 62
#define SYS_uname 63
#define SYS_fcntl 72
#define SYS_fsync 74
#define SYS_fdatasync 75
#define SYS_truncate 76
#define SYS_ftruncate 77
#define SYS_getdents 78
#define SYS_getcwd 79
#define SYS_chdir 80
#define SYS_fchdir 81
#define SYS_rename 82
#define SYS_mkdir 83
#define SYS_rmdir 84
#define SYS_creat 85
#define SYS_link 86
#define SYS_unlink 87
#define SYS_symlink 88
#define SYS_readlink 89
#define SYS_chmod 90
#define SYS_fchmod 91
#define SYS_umask 95
#define SYS_gettimeofday 96
#define SYS_getrlimit 97
#define SYS_getrusage 98
#define SYS_sysinfo 99
#define SYS_times 100
#define SYS_getuid 102
#define SYS_getgid 104
#define SYS_setuid 105
#define SYS_setgid 106
#define SYS_geteuid 107
#define SYS_getegid 108
#define SYS_setpgid 109
#define SYS_getppid 110
#define SYS_getpgrp 111
#define SYS_setsid 112
#define SYS_getpgid 121
#define SYS_getsid 124
#define SYS_rt_sigpending 127
#define SYS_rt_sigtimedwait 128
#define SYS_rt_sigsuspend 130
#define SYS_sigaltstack 131
#define SYS_statfs 137
#define SYS_fstatfs 138
#define SYS_arch_prctl 158
#define SYS_setrlimit 160
#define SYS_sync 162
#define SYS_reboot 169
#define SYS_gettid 186
#define SYS_tkill 200
#define SYS_time 201
#define SYS_futex 202
#define SYS_getdents64 217
#define SYS_set_tid_address 218
#define SYS_clock_gettime 228
#define SYS_clock_getres 229
#define SYS_clock_nanosleep 230
#define SYS_exit_group 231
#define SYS_tgkill 234
#define SYS_waitid 247
#define SYS_openat 257
#define SYS_mkdirat 258
#define SYS_newfstatat 262
#define SYS_unlinkat 263
#define SYS_renameat 264
#define SYS_readlinkat 267
#define SYS_fchmodat 268
#define SYS_faccessat 269
#define SYS_pselect6 270
#define SYS_ppoll 271
#define SYS_set_robust_list 273
#define SYS_accept4 288
#define SYS_dup3 292
#define SYS_pipe2 293
#define SYS_prlimit64 302
#define SYS_getrandom 318
#define SYS_statx 332
#define SYS_rseq 334
#define SYS_faccessat2 439

/* ---- SABOS's own calls (documented in docs/syscalls.md, wrapped by user/include/sabos.h) ---- */
#define SYS_SABOS_FIRST 1000
#define SYS_sabos_ipc_send 1000   /* (pid, type, buf, len) */
#define SYS_sabos_ipc_recv 1001   /* (from_pid or 0, struct sabos_msg_hdr *, buf, len, timeout_ns,
                                   *  type or 0): docs/ipc.md */
#define SYS_sabos_ipc_stat 1002   /* (struct sabos_ipc_stat *) */
#define SYS_sabos_meminfo 1010    /* (struct sabos_meminfo { u64 total_frames, free_frames, heap_bytes,
                                   * heap_allocations; } *): 0 or -EFAULT; for tests */
#define SYS_SABOS_LAST 1099
#define SYSCALL_TABLE_SIZE 1100
