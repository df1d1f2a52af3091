/* proc.h: user processes (kernel/proc/proc.c, fork.c, exec.c, exit.c, fd.c, signal.c).
 * See docs/syscalls.md and docs/architecture.md.
 *
 * POSIX.1-2017 process model (XBD 3.x: process, process group, session, controlling terminal;
 * XSH 2.4 signal concepts) with Linux's numbers and structures.
 *
 * A process owns an address space (uvm.h), a file-descriptor table, a cwd, a umask, signal
 * dispositions, its place in the process tree (parent, children; orphans go to init, pid 1),
 * its process group and session. Each thread of a process is a kernel task (sched.h) with a
 * struct uthread: the user-visible thread id, the FS base (TLS), the signal mask and pending
 * set, set_tid_address's pointer. The user registers of a thread live in the struct irq_frame
 * at the top of its kernel stack while it is in the kernel. */
#pragma once
#include "types.h"
#include "kerrno.h"
#include "spinlock.h"
#include "sync.h"
#include "wait.h"
#include "vfs.h"
#include "irq.h"
#include "ktimer.h"

#define PROC_MAX 256          /* live processes (the fork-bomb limit): fork gives -EAGAIN */
#define FD_MAX 1024           /* descriptors per process (RLIMIT_NOFILE; Linux's default soft limit) */
#define PROC_THREADS_MAX 256  /* threads per process: clone(CLONE_THREAD) gives -EAGAIN beyond */
#define PROC_NAME_MAX 16      /* comm, like Linux's TASK_COMM_LEN */
#define NSIG_K 64             /* signals 1..64 */

typedef int32_t pid_k;

/* Linux signal numbers (asm/signal.h). */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGWINCH 28
#define SIGSYS 31

#define SIGBIT(s) (1ull << ((s) - 1))

/* Linux struct sigaction as the kernel sees it (rt_sigaction): handler, flags, restorer, mask. */
struct k_sigaction {
    uint64_t handler;   /* SIG_DFL 0, SIG_IGN 1, or a user address */
    uint64_t flags;     /* SA_* */
    uint64_t restorer;  /* SA_RESTORER: where the handler returns (musl's __restore_rt) */
    uint64_t mask;
};
#define SA_NOCLDSTOP 0x00000001ull
#define SA_NOCLDWAIT 0x00000002ull
#define SA_SIGINFO 0x00000004ull
#define SA_ONSTACK 0x08000000ull
#define SA_RESTART 0x10000000ull
#define SA_NODEFER 0x40000000ull
#define SA_RESETHAND 0x80000000ull
#define SA_RESTORER 0x04000000ull

/* The file-descriptor table. Slots hold referenced open files; FD_CLOEXEC per slot. */
struct fd_table {
    struct mutex lock;
    int32_t refs;                  /* processes sharing it (CLONE_FILES) */
    struct vfs_file *files[FD_MAX];
    uint8_t cloexec[FD_MAX];
};

struct tty;
struct uvm;

enum proc_state { PROC_ALIVE = 0, PROC_ZOMBIE = 1 };

struct process {
    pid_k pid, pgid, sid;
    volatile int state;            /* enum proc_state */
    char name[PROC_NAME_MAX];      /* comm: the executable's base name */
    struct process *parent;        /* init adopts orphans */
    struct process *children;      /* first child; siblings through next_sibling */
    struct process *next_sibling;
    struct process *all_next;      /* list of all processes */
    struct uvm *vm;
    struct fd_table *fds;
    struct vfs_ctx fs;             /* root and cwd vnodes (referenced) */
    char cwd_path[VFS_PATH_MAX];   /* normalised absolute path of the cwd, for getcwd */
    uint32_t umask;
    struct k_sigaction sigactions[NSIG_K];
    uint64_t sig_pending;          /* process-directed signals not yet taken by a thread */
    int exit_status;               /* wait status (W* encoding) once a zombie */
    bool stopped;                  /* job control stop (SIGTSTP/SIGSTOP) */
    bool stop_reported, cont_reported;
    int nthreads;
    struct uthread *threads;       /* first thread; others through uthread.next_thread */
    struct wait_queue child_wq;    /* wait4/waitid sleep here: a child changed state */
    struct wait_queue stop_wq;     /* stopped threads sleep here until SIGCONT */
    struct tty *ctty;              /* controlling terminal (session leader's), or NULL */
    uint64_t start_ns;             /* monotonic time of creation */
    uint64_t utime_ns, stime_ns;   /* CPU time of exited threads (ps) */
    struct task *vfork_parent;     /* CLONE_VFORK: woken at exec or exit */
    volatile bool vfork_done;
    uint64_t rlimit_nofile;
    int exit_signal;               /* sent to the parent at exit (clone's low byte; SIGCHLD) */
    volatile uint32_t child_events;/* bumped whenever a child exits, stops or continues */
    volatile bool exiting;         /* exit_group or a fatal signal: threads leave at once */
    bool did_exec;
    int stop_sig;                  /* the signal that stopped it */
    struct ktimer itimer_real;     /* alarm / setitimer(ITIMER_REAL): SIGALRM at expiry */
    uint64_t itimer_interval_ns;   /* its reload value (0: one shot) */                 /* setpgid by the parent fails after the child's execve */
};

/* Per-thread user state, hung off struct task (task->ut). */
struct uthread {
    struct process *proc;
    struct task *task;             /* the kernel task that runs this thread */
    pid_k tid;
    uint64_t fs_base;              /* arch_prctl(ARCH_SET_FS) / CLONE_SETTLS */
    uint64_t sig_blocked;
    uint64_t sig_pending;          /* thread-directed (tgkill, faults) */
    uint64_t clear_child_tid;      /* set_tid_address: zeroed and futex-woken at exit */
    uint64_t altstack_sp, altstack_size;
    uint32_t altstack_flags;
    int64_t syscall_nr;            /* the call in progress (-1 outside), for restarts */
    uint64_t saved_sigmask;        /* ppoll/pselect/sigsuspend restore this at delivery */
    bool restore_sigmask;
    struct uthread *next_thread;
    int fault_sig, fault_code;     /* the last fault (proc_user_fault), for siginfo and the report */
    uint64_t fault_addr, fault_rip;
    struct uthread *vfork_waiter;  /* CLONE_VFORK child: the parent thread sleeping until exec/exit */
    volatile bool vfork_pending;   /* the parent side: set while it waits */
};

/* The calling task's process, or NULL for a kernel task. */
struct process *proc_current(void);
/* The calling task's user thread state, or NULL for a kernel task. */
struct uthread *uthread_current(void);
/* Finds a live or zombie process by pid (caller holds no lock; the result is valid while the
 * caller runs without sleeping, or until it is reaped). NULL when none. */
struct process *proc_find(pid_k pid);
/* Calls fn for every process (under the process-table lock: fn must not sleep). */
void proc_for_each(void (*fn)(const struct process *p, void *ctx), void *ctx);
int proc_count(void);
/* The vfs_ctx of the calling process (root and cwd), or NULL for a kernel task. */
const struct vfs_ctx *proc_vfs_ctx(void);

/* ---- file descriptors (fd.c) ---- */
/* Installs f (the table takes over the caller's reference) in the lowest free slot >= min_fd.
 * Returns the fd, or -KEMFILE (table full: the caller keeps its reference). */
int fd_install(struct vfs_file *f, int min_fd, bool cloexec);
/* Puts f (referenced; the table takes it over) at exactly fd, closing what was there (dup2).
 * 0 or -KEBADF (fd out of range); on an error the caller keeps its reference. */
int fd_install_at(struct vfs_file *f, int fd, bool cloexec);
/* The open file behind fd with a new reference (drop with vfs_close), or NULL (-EBADF). */
struct vfs_file *fd_get(int fd);
/* Closes fd: 0 or -KEBADF. */
int fd_close(int fd);
/* FD_CLOEXEC of fd: 0/1, or -KEBADF. */
int fd_get_cloexec(int fd);
int fd_set_cloexec(int fd, bool on);
/* Tables for fork (copy), clone(CLONE_FILES) (share), exec (close-on-exec), exit (release). */
struct fd_table *fd_table_create(void);
struct fd_table *fd_table_copy(struct fd_table *t);
void fd_table_get(struct fd_table *t);
void fd_table_put(struct fd_table *t);
void fd_table_close_on_exec(struct fd_table *t);
/* Open descriptors in the calling process (tests: nothing leaks). */
int fd_count(void);

/* ---- signals (signal.c) ---- */
/* Sends sig to a process (process-directed: any thread that does not block it takes it).
 * sig 0 only checks. 0, -KESRCH, -KEINVAL. From the kernel (tty, pipes, faults) and kill. */
int proc_signal(struct process *p, int sig);
int proc_signal_pid(pid_k pid, int sig);
/* Sends sig to every process of a process group: 0, or -KESRCH when the group is empty. */
int proc_signal_pgrp(pid_k pgid, int sig);
/* Sends sig to one thread (tgkill, synchronous faults). */
int thread_signal(struct task *t, int sig);
/* True when the calling thread has a deliverable signal (blocking waits end with -KEINTR). */
bool signal_pending_current(void);
/* True when task t has a deliverable signal (wait.c asks this for sleeping tasks). */
bool signal_pending_task(const struct task *t);
/* Delivers pending signals before a return to user mode: runs default actions (terminate,
 * stop, ignore) or builds a handler frame on the user stack and points f at the handler.
 * syscall_result is the value the interrupted call returned (for SA_RESTART), or INT64_MIN
 * when f is not returning from a system call. Called by the syscall and interrupt exit paths. */
void signal_deliver(struct irq_frame *f, int64_t syscall_result);
/* Called on every return to user mode from an interrupt or exception (interrupts off):
 * delivers pending signals, with interrupts enabled meanwhile. */
void proc_return_to_user(struct irq_frame *f);
/* The scheduler's hook when it switches to a user thread: loads its address space, FS base
 * and kernel stack (TSS.RSP0 and the SYSCALL stack). */
void proc_switch_to(struct task *next);
/* A fault in user mode: reports "pid N (name): SIGSEGV at ADDR (rip R)" on the console and
 * sends the signal to the faulting thread (the default action ends the process). */
void proc_user_fault(struct irq_frame *f, int sig, int si_code, uint64_t addr);

/* The exception handler's hook for a fault in user mode (vector in f): page faults go to
 * uvm_handle_fault; what it cannot fix, and #UD, #DE, #GP, ... become signals to the thread.
 * True when handled (the thread goes on or has a signal to take on the way out). */
bool proc_exception(struct irq_frame *f, uint64_t cr2);
/* For self-tests: gives the calling kernel task a process of its own (pid, fd table with
 * nothing open, cwd "/", an empty active address space) so that system calls can be invoked
 * through syscall_invoke with user buffers mapped by uvm_map. proc_test_leave undoes it and
 * frees everything. 0 or -KENOMEM. */
int proc_test_enter(void);
void proc_test_leave(void);

/* "SIGSEGV" for 11, ... */
const char *signal_name(int sig);

/* ---- process groups and sessions ---- */
/* True when a process group with this id has members in session sid. */
bool proc_pgrp_exists(pid_k pgid, pid_k sid);

/* ---- lifecycle (proc.c, fork.c, exec.c, exit.c) ---- */
/* Starts the first user process (pid 1) from path with argv (NULL-terminated), its stdin,
 * stdout and stderr on the console tty. Returns the pid or -errno (the path is missing,
 * not an ELF: the caller falls back to the kernel shell). */
int proc_spawn_init(const char *path, const char *const argv[]);
/* Spawns a user process from a kernel task (tests, benchmarks): path, argv, envp, fds 0-2 on
 * the given files (NULL: /dev/null). The child's parent is init (or nobody before init).
 * Returns the pid or -errno. */
int proc_spawn(const char *path, const char *const argv[], const char *const envp[],
               struct vfs_file *stdio[3]);
/* Waits for a process spawned by proc_spawn to end (it is reaped): 0 with *status (W*
 * encoding), -KECHILD, -KEINTR, -KETIMEDOUT after timeout_ns (WAIT_FOREVER: none). */
int proc_wait_spawned(pid_k pid, int *status, uint64_t timeout_ns);
/* Runs path (proc_spawn) with stdout and stderr into a pipe and stdin on /dev/null, keeps up to
 * cap-1 bytes of its output in out (NUL-terminated; *out_len gets the length, may be NULL),
 * and waits until it and every process holding the pipe ended, or timeout_ns passed (then it
 * is killed and reaped). 0 with *status (W* encoding), -KETIMEDOUT, or proc_spawn's error. For
 * kernel tasks (self-tests, benchmarks). */
int proc_run_capture(const char *path, const char *const argv[], const char *const envp[], char *out, size_t cap,
                     size_t *out_len, uint64_t timeout_ns, int *status);
/* Ends the calling thread's whole process with a wait status (exit_group, fatal signals). */
NORETURN void proc_exit_group(int wait_status);
/* Enters user mode for a freshly created thread whose frame is at the top of its stack. */
NORETURN void proc_enter_user(struct irq_frame *f);
/* Initialises the process table and the syscall machinery (after the VFS). */
void proc_init(void);

/* W* encoding of wait statuses (as Linux's). */
#define W_EXITCODE(ret, sig) (((ret) & 0xff) << 8 | ((sig) & 0x7f))
#define W_STOPCODE(sig) ((sig) << 8 | 0x7f)
#define W_CORE 0x80
