/* kernel.h: kernel-wide state and boot-time entry points (kernel/core). */
#pragma once
#include "types.h"
#include "bootinfo.h"

extern const struct boot_info *boot_info;
/* The command line words: `selftest` or `selftest=GROUP`, `loglevel=N`, `poweroff`, `bench`,
 * `init=PATH`. */
struct kernel_options {
    bool selftest;
    char selftest_group[32];
    int loglevel;
    bool poweroff;  /* `poweroff`: power off through ACPI right after the banner (boot tests) */
    bool bench;     /* `bench`: run bench_run() after the banner (scripts/bench.sh) */
    char init[64];  /* `init=PATH`: the first user program (default /sbin/init); `init=none`
                     * keeps the kernel shell on the console */
};
extern struct kernel_options kopts;
/* Parses a command line into *out (pure; host-tested). Unknown words are ignored and
 * reported by the caller. Returns the number of words understood. */
int cmdline_parse(const char *cmdline, struct kernel_options *out);

/* TSC at kernel entry, and the kernel-entry-to-ready time in nanoseconds. */
extern uint64_t kernel_entry_tsc;
/* In selftest mode: report the running test as failed with why, print the summary and power
 * off with a failing verdict. Does nothing outside selftest mode. */
void selftest_abort(const char *why);
/* Installed RAM in bytes from the memory map (all RAM-backed types). */
uint64_t boot_ram_bytes(void);
/* The kernel shell (kernel/core/shell.c), run as a kernel task:
 * task_create("shell", shell_task, NULL, PRIO_NORMAL). Returns only when the task is killed
 * (-KEINTR). */
int64_t shell_task(void *arg);
/* Runs shell_task on the calling flow of control and halts if it ever returns. */
NORETURN void shell_run(void);
/* Runs one shell command line; returns false for an unknown command. */
bool shell_exec(const char *line);
/* The `bench` boot mode (kernel/test/bench.c): measures task switch time, wake-up latency
 * and idle timer interrupts, prints "BENCH name value" lines, then powers QEMU off. */
NORETURN void bench_run(void);

/* Mounts the boot file systems (kernel/fs/mounts.c): / (FAT32 on vda, or a tmpfs), /tmp,
 * /dev, /proc, /ahci, /nvme, /9p, each as far as its device and engine exist. */
void fs_boot_mounts(void);
