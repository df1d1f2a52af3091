/* exec_bench_selftest.c: a micro-benchmark of execve's pieces (group `exec_bench`), run
 * with `selftest=exec_bench`. Not a correctness test of the loader (exec_image_selftest.c is):
 * it times, for /bin/hellostd,
 *   - vfs_open + vfs_fstat + vfs_close of the path (execve's lookup),
 *   - exec_image_build (ELF headers, segments, stack) and the uvm_put of the result,
 *   - the primitives under it: vfs_pread of the whole file, uvm_create + uvm_put, uvm_write
 *     of the same number of bytes into an anonymous region, random_bytes (AT_RANDOM),
 *   - a whole run: proc_spawn("/bin/hellostd --child exec") + proc_wait_spawned,
 * and prints one "EXECBENCH name ns" line per figure (averages, from the TSC). It asserts
 * only what the figures need: every step succeeds, and no frame is leaked by the loop. */
#include "elf.h"
#include "uvm.h"
#include "vfs.h"
#include "mm.h"
#include "selftest.h"
#include "kstring.h"
#include "printk.h"
#include "proc.h"
#include "sched.h"
#include "time.h"
#include "cpu.h"

#define PATH "/bin/hellostd"
#define ROUNDS 50
#define RUNS 20

static uint64_t free_frames(void) {
    struct pmm_stats st;
    pmm_get_stats(&st);
    return st.free_frames;
}

static void report(const char *name, uint64_t total_tsc, int n) {
    kprintf("EXECBENCH %s %lu\n", name, (unsigned long)(tsc_to_ns(total_tsc) / (uint64_t)n));
}

SELFTEST_TIMEOUT(exec_bench, hellostd, 120000) {
    static const char *const argv[] = {"hellostd", "--child", "exec", NULL};
    static const char *const envp[] = {"PATH=/bin", "HOME=/", NULL};
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(NULL, PATH, O_RDONLY, 0, &f) == 0, PATH " missing (make images)");
    struct vfs_stat st;
    if (vfs_fstat(f, &st) != 0 || st.size == 0) {
        vfs_close(f);
        ST_ASSERT(t, false, "fstat " PATH);
    }
    /* warm the caches once (the first build and read fetch blocks from the disk) */
    size_t len = (size_t)st.size;
    uint8_t *buf = kmalloc(len);
    if (!buf) vfs_close(f);
    ST_ASSERT(t, buf, "no memory");
    int r = vfs_pread(f, buf, len, 0) == (int64_t)len ? 0 : -KEIO;
    struct exec_image img;
    if (r == 0) r = exec_image_build(f, PATH, argv, 3, envp, 2, &img);
    if (r == 0) uvm_put(img.vm);
    if (r) {
        kfree(buf);
        vfs_close(f);
        ST_ASSERT(t, false, "warm-up: %d", r);
    }
    uint64_t frames = free_frames();
    uint64_t t_open = 0, t_build = 0, t_put = 0, min_build = UINT64_MAX;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t t0 = rdtsc();
        struct vfs_file *g;
        r = vfs_open(NULL, PATH, O_RDONLY, 0, &g);
        if (r == 0) {
            vfs_fstat(g, &st);
            vfs_close(g);
        }
        uint64_t t1 = rdtsc();
        t_open += t1 - t0;
        if (r == 0) r = exec_image_build(f, PATH, argv, 3, envp, 2, &img);
        uint64_t t2 = rdtsc();
        if (r) break;
        uvm_put(img.vm);
        t_build += t2 - t1;
        min_build = MIN(min_build, t2 - t1);
        t_put += rdtsc() - t2;
    }
    if (r) {
        kfree(buf);
        vfs_close(f);
        ST_ASSERT(t, false, "open or exec_image_build = %d", r);
    }
    report("open_ns", t_open, ROUNDS);
    report("build_ns", t_build, ROUNDS);
    report("build_min_ns", min_build, 1);
    report("put_ns", t_put, ROUNDS);

    /* the primitives */
    uint64_t t_read = 0, t_create = 0, t_write = 0, t_rnd = 0;
    for (int i = 0; i < ROUNDS && r == 0; i++) {
        uint64_t t0 = rdtsc();
        int64_t n = vfs_pread(f, buf, len, 0);
        uint64_t t1 = rdtsc();
        t_read += t1 - t0;
        if (n != (int64_t)len) r = -KEIO;
        struct uvm *vm = uvm_create();
        uint64_t t2 = rdtsc();
        uint64_t addr = 0x400000;
        if (!vm || uvm_map(vm, &addr, len, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0)) r = -KENOMEM;
        uint64_t t3 = rdtsc();
        if (r == 0) r = uvm_write(vm, addr, buf, len);
        uint64_t t4 = rdtsc();
        t_write += t4 - t3;
        uvm_put(vm);
        t_create += (t2 - t1) + (rdtsc() - t4);
        uint8_t rnd[16];
        t0 = rdtsc();
        if (r == 0) r = random_bytes(rnd, sizeof rnd);
        t_rnd += rdtsc() - t0;
    }
    if (r) {
        kfree(buf);
        vfs_close(f);
        ST_ASSERT(t, false, "primitives: %d", r);
    }
    kprintf("EXECBENCH file_bytes %lu\n", (unsigned long)len);
    report("pread_file_ns", t_read, ROUNDS);
    report("uvm_write_file_ns", t_write, ROUNDS);
    report("uvm_create_put_ns", t_create, ROUNDS);
    report("random16_ns", t_rnd, ROUNDS);
    vfs_close(f);
    /* the loops above read only cached blocks: every frame they took is back */
    uint64_t left = free_frames();
    kfree(buf);
    ST_ASSERT(t, left == frames, "frames leaked: %lu before, %lu after", (unsigned long)frames, (unsigned long)left);

    /* whole runs: exec, the program's start-up and exit, the teardown */
    uint64_t t0 = rdtsc(), min_run = UINT64_MAX;
    for (int i = 0; i < RUNS; i++) {
        uint64_t t1 = rdtsc();
        int pid = proc_spawn(PATH, argv, envp, NULL);
        ST_ASSERT(t, pid > 0, "proc_spawn = %d", pid);
        int status = -1;
        r = proc_wait_spawned(pid, &status, 10000000000ull);
        ST_ASSERT(t, r == 0 && status == W_EXITCODE(9, 0), "run %d: %d, status %#x", i, r, status);
        min_run = MIN(min_run, rdtsc() - t1);
    }
    report("spawn_run_wait_ns", rdtsc() - t0, RUNS);
    report("spawn_run_wait_min_ns", min_run, 1);
}
