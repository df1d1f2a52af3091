/* proc_selftest.c: processes end to end: real musl programs from the root image run as user
 * processes, their output is captured through a pipe and their exit status checked.
 * Group "proc" (the user-space test programs of user/bin/ do the detailed checks and print
 * PASS/FAIL lines; these tests assert on those lines, the exit status, and that the kernel's
 * frame and process counts come back). */
#include "selftest.h"
#include "proc.h"
#include "vfs.h"
#include "mm.h"
#include "kstring.h"
#include "printk.h"
#include "time.h"

#define OUT_CAP 16384

struct run {
    char out[OUT_CAP];
    size_t len;
    int status;
    int spawn_err;
};

/* Runs path with argv (proc_run_capture); status -2 when it did not finish within timeout_ms. */
static void run_program(struct run *r, const char *path, const char *const argv[], uint64_t timeout_ms) {
    static const char *const envp[] = {"PATH=/bin:/sbin", "HOME=/", "TMPDIR=/tmp", NULL};
    r->status = -1;
    int e = proc_run_capture(path, argv, envp, r->out, OUT_CAP, &r->len, timeout_ms * 1000000ull, &r->status);
    r->spawn_err = e == -KETIMEDOUT ? 0 : e;
    if (e == -KETIMEDOUT) r->status = -2;
}

static void log_output(const char *name, const struct run *r) {
    printk(LOG_INFO, "---- %s output (%zu bytes, status %#x) ----\n%s", name, r->len, r->status, r->out);
    if (r->len && r->out[r->len - 1] != '\n') printk(LOG_INFO, "\n");
}

static uint64_t free_frames(void) {
    struct pmm_stats st;
    pmm_get_stats(&st);
    return st.free_frames;
}

/* True when needle occurs in haystack. */
static bool contains(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (const char *p = haystack; *p; p++)
        if (strncmp(p, needle, n) == 0) return true;
    return false;
}

static struct run run_buf; /* big: not on the 16 KiB kernel stack */

SELFTEST(proc, true_and_false_exit_codes) {
    const char *a1[] = {"true", NULL}, *a2[] = {"false", NULL};
    run_program(&run_buf, "/bin/true", a1, 10000);
    ST_ASSERT(t, run_buf.spawn_err == 0, "spawning /bin/true failed: %d", run_buf.spawn_err);
    ST_ASSERT(t, run_buf.status == 0, "/bin/true ended with status %#x, expected 0", run_buf.status);
    run_program(&run_buf, "/bin/false", a2, 10000);
    ST_ASSERT(t, run_buf.spawn_err == 0, "spawning /bin/false failed: %d", run_buf.spawn_err);
    ST_ASSERT(t, run_buf.status == W_EXITCODE(1, 0), "/bin/false ended with status %#x, expected 0x100",
              run_buf.status);
}

SELFTEST(proc, foreign_and_malformed_files_are_enoexec) {
    const char *argv[] = {"x", NULL};
    int r = proc_spawn("/HELLO.TXT", argv, NULL, NULL);
    ST_ASSERT(t, r == -KENOEXEC, "a text file gave %d, expected -ENOEXEC", r);
    r = proc_spawn("/sabos/kernel.elf", argv, NULL, NULL);
    ST_ASSERT(t, r == -KENOEXEC, "the kernel's ELF gave %d, expected -ENOEXEC", r);
    r = proc_spawn("/no/such/program", argv, NULL, NULL);
    ST_ASSERT(t, r == -KENOENT, "a missing file gave %d, expected -ENOENT", r);
    r = proc_spawn("/bin", argv, NULL, NULL);
    ST_ASSERT(t, r == -KEACCES, "a directory gave %d, expected -EACCES", r);
}

/* Runs a user test program that prints PASS/FAIL lines and exits 0 only when all pass. With
 * warmup_argv, the program first runs once with those arguments (its file blocks, the heap's
 * size classes and the buffer cache settle), then the measured run must leave the free frame
 * count within frame_slack of where it was and no process behind. */
static void run_user_test(struct selftest_ctx *t, const char *path, const char *const argv[], uint64_t timeout_ms,
                          const char *const warmup_argv[], uint64_t frame_slack) {
    if (warmup_argv) run_program(&run_buf, path, warmup_argv, timeout_ms);
    uint64_t before = free_frames();
    int procs = proc_count();
    run_program(&run_buf, path, argv, timeout_ms);
    log_output(path, &run_buf);
    ST_ASSERT(t, run_buf.spawn_err == 0, "spawning %s failed: %d", path, run_buf.spawn_err);
    ST_ASSERT(t, run_buf.status != -2, "%s did not finish within %lu ms", path, (unsigned long)timeout_ms);
    ST_ASSERT(t, !contains(run_buf.out, "FAIL"), "%s reported a failure (see the log)", path);
    ST_ASSERT(t, run_buf.status == 0, "%s ended with status %#x", path, run_buf.status);
    ST_ASSERT(t, contains(run_buf.out, "PASS"), "%s printed no PASS line", path);
    ST_ASSERT(t, proc_count() == procs, "%d processes before, %d after (zombies or leaks)", procs, proc_count());
    if (!warmup_argv) return;
    uint64_t after = free_frames();
    ST_ASSERT(t, after + frame_slack >= before, "free frames %lu before, %lu after (more than %lu pages lost)",
              (unsigned long)before, (unsigned long)after, (unsigned long)frame_slack);
}

SELFTEST_TIMEOUT(proc, faults_kill_only_the_child, 60000) {
    const char *argv[] = {"faulttest", NULL};
    run_user_test(t, "/bin/faulttest", argv, 50000, NULL, 0);
}

SELFTEST_TIMEOUT(proc, fork_100_children_no_zombies_no_leaks, 120000) {
    const char *argv[] = {"forktest", NULL};
    run_user_test(t, "/bin/forktest", argv, 110000, argv, 4);
}

SELFTEST_TIMEOUT(proc, pipe_16mib_between_processes, 120000) {
    const char *argv[] = {"pipetest", NULL};
    run_user_test(t, "/bin/pipetest", argv, 110000, NULL, 0);
}

SELFTEST_TIMEOUT(proc, pty_pairs_from_user_space, 120000) {
    const char *argv[] = {"ptytest", NULL};
    run_user_test(t, "/bin/ptytest", argv, 110000, NULL, 0);
}

SELFTEST_TIMEOUT(proc, ipc_contract_from_user_space, 60000) {
    const char *argv[] = {"ipctest", NULL};
    run_user_test(t, "/bin/ipctest", argv, 50000, NULL, 0);
}

SELFTEST_TIMEOUT(proc, fork_bomb_hits_the_limit, 120000) {
    const char *argv[] = {"forkbomb", NULL};
    run_user_test(t, "/bin/forkbomb", argv, 110000, NULL, 0);
}

SELFTEST_TIMEOUT(proc, syscall_fuzzer_100000_calls, 300000) {
    const char *argv[] = {"sysfuzz", "-n", "100000", "-s", "1", NULL};
    const char *warm[] = {"sysfuzz", "-n", "2000", "-s", "2", NULL};
    run_user_test(t, "/bin/sysfuzz", argv, 290000, warm, 8);
}

/* Reads a whole (small) file into buf; returns its length or -errno. */
static int64_t read_file(const char *path, char *buf, size_t cap) {
    struct vfs_file *f;
    int r = vfs_open(NULL, path, O_RDONLY, 0, &f);
    if (r < 0) return r;
    size_t len = 0;
    for (;;) {
        int64_t n = vfs_read(f, buf + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    vfs_close(f);
    buf[len] = 0;
    return (int64_t)len;
}

/* The same hellostd binary, from the root image and from the 9P share, prints exactly the lines
 * the host Linux run printed (tests/integration/hellostd.expected, which the build copies into
 * the share; tests/integration/hellostd_host.sh checks the host side). */
static char expected_buf[OUT_CAP];

static void check_hellostd(struct selftest_ctx *t, const char *path) {
    int64_t n = read_file("/9p/hellostd.expected", expected_buf, sizeof expected_buf);
    ST_ASSERT(t, n > 0, "cannot read /9p/hellostd.expected: %ld", (long)n);
    const char *argv[] = {"hellostd", NULL};
    run_program(&run_buf, path, argv, 60000);
    ST_ASSERT(t, run_buf.spawn_err == 0, "spawning %s failed: %d", path, run_buf.spawn_err);
    if (run_buf.status != 0 || strcmp(run_buf.out, expected_buf) != 0) log_output(path, &run_buf);
    ST_ASSERT(t, run_buf.status == 0, "%s ended with status %#x", path, run_buf.status);
    size_t i = 0;
    while (run_buf.out[i] && run_buf.out[i] == expected_buf[i]) i++;
    ST_ASSERT(t, run_buf.out[i] == expected_buf[i], "%s output differs from the host's at byte %zu", path, i);
}

SELFTEST_TIMEOUT(proc, hellostd_from_root_matches_host, 60000) { check_hellostd(t, "/bin/hellostd"); }
SELFTEST_TIMEOUT(proc, hellostd_from_9p_matches_host, 60000) { check_hellostd(t, "/9p/user/bin/hellostd"); }

SELFTEST_TIMEOUT(proc, pthreads_mutex_tls_condvar, 60000) {
    const char *argv[] = {"threadtest", NULL};
    run_user_test(t, "/bin/threadtest", argv, 50000, argv, 8);
}

SELFTEST_TIMEOUT(proc, huge_requests_get_enomem, 30000) {
    const char *argv[] = {"memhog", NULL};
    run_user_test(t, "/bin/memhog", argv, 20000, NULL, 0);
}

/* A process that touches memory until none is left is stopped (mmap fails with ENOMEM, or
 * the page-fault path kills it), every frame comes back, and the system goes on running
 * programs. */
SELFTEST_TIMEOUT(proc, out_of_memory_kills_only_the_hog, 240000) {
    const char *hog[] = {"memhog", "touch", NULL}, *tru[] = {"true", NULL};
    run_program(&run_buf, "/bin/true", tru, 10000); /* warm-up: its blocks are cached */
    uint64_t before = free_frames();
    run_program(&run_buf, "/bin/memhog", hog, 200000);
    log_output("/bin/memhog touch", &run_buf);
    ST_ASSERT(t, run_buf.spawn_err == 0, "spawning memhog failed: %d", run_buf.spawn_err);
    ST_ASSERT(t, run_buf.status == SIGKILL || run_buf.status == 0,
              "memhog ended with status %#x (expected SIGKILL or exit 0 after ENOMEM)", run_buf.status);
    uint64_t after = free_frames();
    ST_ASSERT(t, after + 64 >= before, "free frames %lu before, %lu after the hog", (unsigned long)before,
              (unsigned long)after);
    run_program(&run_buf, "/bin/true", tru, 10000);
    ST_ASSERT(t, run_buf.spawn_err == 0 && run_buf.status == 0, "/bin/true after the hog: spawn %d, status %#x",
              run_buf.spawn_err, run_buf.status);
}

/* Asynchronous signals: registers, restarts and FPU state survive handlers; bad TLS bases and
 * handler addresses are refused (user/bin/sigstress.c). */
SELFTEST_TIMEOUT(proc, signals_keep_registers_and_fpu_state, 60000) {
    const char *argv[] = {"sigstress", NULL};
    run_user_test(t, "/bin/sigstress", argv, 50000, NULL, 0);
}
