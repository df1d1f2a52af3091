/* bench.c: the `bench` boot mode (kernel command line word `bench`, run by kmain after the
 * banner). It measures the scheduler and prints one line per figure,
 *
 *   BENCH name value
 *
 * on the consoles (no timestamp), then powers QEMU off through isa-debug-exit (status 33).
 * scripts/bench.sh boots this mode and turns the lines into rows of its table. No
 * specification: the figures are the ones issue 3 asks for. Times come from the TSC
 * (time.h); nothing here is asserted, figures are only printed.
 *   task_switch_ns             two tasks ping-pong with task_yield: ns per context switch
 *   wake_latency_ns_avg / max  a PRIO_HIGH task asleep on a wait queue, woken by wake_up_one
 *                              from a PRIO_NORMAL task: TSC just before the wake to TSC when
 *                              the woken task runs. The waker then sleeps until the woken task
 *                              acknowledges, so the figure also holds where a wake from task
 *                              context only takes effect at the waker's next switch.
 *   idle_timer_irqs_per_s      timer interrupts (ktimer_interrupts) while nothing but the idle
 *                              task runs for 1 s (idle_timer_irqs in idle_window_ms, rounded to
 *                              a rate); idle_timer_vector_irqs_per_s the same from irq_count of
 *                              the timer vector; idle_permille the share of that second spent
 *                              in the idle task */
#include "types.h"
#include "kernel.h"
#include "sched.h"
#include "wait.h"
#include "ktimer.h"
#include "irq.h"
#include "time.h"
#include "cpu.h"
#include "power.h"
#include "printk.h"
#include "block.h"
#include "mm.h"
#include "vfs.h"
#include "kstring.h"
#include "kprintf.h"
#include "proc.h"

#define NS_PER_SEC 1000000000ull
#define SWITCH_ROUNDS 10000 /* yields per task: about 20000 switches */
#define WAKE_ROUNDS 1000

static void bench_print(const char *name, uint64_t value) {
    kprintf("BENCH %s %llu\n", name, (unsigned long long)value);
}

/* ---- task switch ---- */
static int64_t pingpong_task(void *arg) {
    (void)arg;
    for (int i = 0; i < SWITCH_ROUNDS; i++) task_yield();
    return 0;
}

static void bench_task_switch(void) {
    tid_t a = task_create("bench-ping", pingpong_task, NULL, PRIO_NORMAL);
    tid_t b = task_create("bench-pong", pingpong_task, NULL, PRIO_NORMAL);
    if (a < 0 || b < 0) {
        kprintf("bench: task_create failed (%d, %d)\n", a, b);
        if (a >= 0) task_join(a, NULL);
        if (b >= 0) task_join(b, NULL);
        return;
    }
    /* Both are queued; they start when this task sleeps in task_join. */
    uint64_t switches0 = sched_context_switches();
    uint64_t t0 = rdtsc();
    task_join(a, NULL);
    task_join(b, NULL);
    uint64_t ns = tsc_to_ns(rdtsc() - t0);
    uint64_t switches = sched_context_switches() - switches0;
    bench_print("task_switch_count", switches);
    bench_print("task_switch_ns", switches ? ns / switches : 0);
}

/* ---- wake-up latency ---- */
static struct wait_queue wake_wq = WAIT_QUEUE_INIT("bench-wake");
static struct wait_queue ack_wq = WAIT_QUEUE_INIT("bench-ack");
static volatile int wake_seq, ack_seq;
static volatile uint64_t wake_tsc;
static volatile uint64_t lat_sum_ns, lat_max_ns;
static volatile int lat_count;

/* The woken side: waits for each round, notes how long after the wake it runs. */
static int64_t wakee_task(void *arg) {
    (void)arg;
    for (int i = 1; i <= WAKE_ROUNDS; i++) {
        int r = wait_event_timeout(&wake_wq, wake_seq >= i, NS_PER_SEC);
        uint64_t now = rdtsc();
        if (r != 1) return -1;
        uint64_t lat = tsc_to_ns(now - wake_tsc);
        lat_sum_ns += lat;
        if (lat > lat_max_ns) lat_max_ns = lat;
        lat_count++;
        ack_seq = i;
        wake_up_one(&ack_wq);
    }
    return 0;
}

static void bench_wake_latency(void) {
    wake_seq = ack_seq = 0;
    lat_sum_ns = lat_max_ns = 0;
    lat_count = 0;
    tid_t id = task_create("bench-wakee", wakee_task, NULL, PRIO_HIGH);
    if (id < 0) {
        kprintf("bench: task_create failed (%d)\n", id);
        return;
    }
    for (int i = 1; i <= WAKE_ROUNDS; i++) {
        /* Only a task that is really asleep on the queue measures a wake-up. */
        uint64_t limit = time_ns() + NS_PER_SEC;
        while (wait_queue_length(&wake_wq) == 0 && time_ns() < limit) task_sleep_ns(1000);
        wake_tsc = rdtsc();
        wake_seq = i;
        wake_up_one(&wake_wq);
        if (wait_event_timeout(&ack_wq, ack_seq >= i, NS_PER_SEC) != 1) break;
    }
    int64_t v = 0;
    task_join(id, &v);
    if (v != 0 || lat_count == 0) kprintf("bench: the wake-up rounds failed (%d done)\n", lat_count);
    bench_print("wake_latency_rounds", (uint64_t)lat_count);
    bench_print("wake_latency_ns_avg", lat_count ? lat_sum_ns / (uint64_t)lat_count : 0);
    bench_print("wake_latency_ns_max", lat_max_ns);
}

/* ---- idle: timer interrupts while nothing runs ---- */
static void bench_idle(void) {
    uint8_t vector = VEC_LAPIC_TIMER;
    if (!lapic_active() && irq_isa_vector(0)) vector = irq_isa_vector(0); /* PIC mode: the PIT */
    struct cpu *c = this_cpu();
    uint64_t k0 = ktimer_interrupts(), v0 = irq_count(vector), idle0 = c->idle_ns;
    uint64_t t0 = rdtsc();
    task_sleep_ns(NS_PER_SEC);
    uint64_t ns = tsc_to_ns(rdtsc() - t0);
    uint64_t k = ktimer_interrupts() - k0, v = irq_count(vector) - v0, idle = c->idle_ns - idle0;
    if (!ns) ns = 1;
    bench_print("idle_window_ms", ns / 1000000);
    bench_print("idle_timer_irqs", k);
    bench_print("idle_timer_irqs_per_s", (k * NS_PER_SEC + ns / 2) / ns);
    bench_print("idle_timer_vector_irqs_per_s", (v * NS_PER_SEC + ns / 2) / ns);
    bench_print("idle_permille", idle * 1000 / ns);
}

/* ---- storage: per driver, through the block layer (docs/storage.md) ---- */

/* Sequential read of the first 16 MiB and sequential write of the 4 MiB scratch region, in
 * 1 MiB requests; then 4 KiB reads at random sector-aligned places for one second. Prints
 * MB/s (10^6 bytes per second) and IOPS. Writes only to the scratch region (the last 4 MiB). */
static void bench_disk(const char *name) {
    struct blk_device *d = blk_find(name);
    if (!d) {
        kprintf("bench: no %s, skipping its storage figures\n", name);
        return;
    }
    const uint32_t mib = (1u << 20) / d->sector_size;
    uint8_t *buf = kmalloc(1u << 20);
    if (!buf) return;
    char key[48];
    uint64_t t0 = rdtsc(), bytes = 0;
    for (uint64_t lba = 0; lba + mib <= d->sectors && bytes < (16u << 20); lba += mib, bytes += 1u << 20)
        if (blk_read(d, lba, mib, buf) < 0) break;
    uint64_t ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(key, sizeof(key), "blk_%s_seq_read_mbps", name);
    bench_print(key, ns ? bytes * 1000 / ns : 0);
    uint64_t scratch = d->sectors - 4 * (uint64_t)mib;
    memset(buf, 0x5a, 1u << 20);
    t0 = rdtsc();
    bytes = 0;
    for (uint32_t i = 0; i < 4; i++, bytes += 1u << 20)
        if (blk_write(d, scratch + (uint64_t)i * mib, mib, buf) < 0) break;
    blk_flush(d);
    ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(key, sizeof(key), "blk_%s_seq_write_mbps", name);
    bench_print(key, ns ? bytes * 1000 / ns : 0);
    uint32_t per4k = 4096 / d->sector_size;
    uint64_t blocks = d->sectors / per4k, x = 0x2545f4914f6cdd1dull, ios = 0;
    t0 = rdtsc();
    uint64_t end = t0 + ns_to_tsc(NS_PER_SEC);
    while (rdtsc() < end) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (blk_read(d, (x % blocks) * per4k, per4k, buf) < 0) break;
        ios++;
    }
    ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(key, sizeof(key), "blk_%s_rand_read_iops", name);
    bench_print(key, ns ? ios * NS_PER_SEC / ns : 0);
    kfree(buf);
}

/* ---- files: through the VFS (docs/files.md) ---- */

/* Writes a 32 MiB file in 1 MiB chunks (then syncs), reads it back, deletes it; then creates,
 * writes (4 KiB) and closes small files for one second, and deletes them for one second.
 * Prints MB/s and files per second under the key prefix. */
struct mount_probe {
    const char *path, *type;
    bool found;
};

static void probe_mount(const struct vfs_mount *m, void *arg) {
    struct mount_probe *p = arg;
    if (strcmp(m->path, p->path) == 0 && strcmp(m->type->name, p->type) == 0) p->found = true;
}

/* Measures only where dir really is a mount of the expected type (not a fallback). */
static void bench_files(const char *dir, const char *type, const char *key) {
    struct mount_probe probe = {dir, type, false};
    vfs_mount_for_each(probe_mount, &probe);
    if (!probe.found) {
        kprintf("bench: %s is not a %s mount, skipping its file figures\n", dir, type);
        return;
    }
    uint8_t *buf = kmalloc(1u << 20);
    if (!buf) return;
    memset(buf, 0xa5, 1u << 20);
    char path[96], name[48];
    ksnprintf(path, sizeof(path), "%s/bench32m.bin", dir);
    struct vfs_file *f;
    uint64_t t0 = rdtsc(), bytes = 0;
    if (vfs_open(NULL, path, O_CREAT | O_TRUNC | O_WRONLY, 0644, &f) == 0) {
        for (int i = 0; i < 32 && vfs_write(f, buf, 1u << 20) == (1 << 20); i++) bytes += 1u << 20;
        vfs_close(f);
        vfs_sync_all();
    }
    uint64_t ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(name, sizeof(name), "%s_write_mbps", key);
    bench_print(name, ns ? bytes * 1000 / ns : 0);
    t0 = rdtsc();
    bytes = 0;
    if (vfs_open(NULL, path, O_RDONLY, 0, &f) == 0) {
        int64_t n;
        while ((n = vfs_read(f, buf, 1u << 20)) > 0) bytes += (uint64_t)n;
        vfs_close(f);
    }
    ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(name, sizeof(name), "%s_read_mbps", key);
    bench_print(name, ns ? bytes * 1000 / ns : 0);
    vfs_unlink(NULL, path);
    int created = 0;
    t0 = rdtsc();
    uint64_t end = t0 + ns_to_tsc(NS_PER_SEC);
    while (rdtsc() < end && created < 100000) {
        ksnprintf(path, sizeof(path), "%s/s%d.bin", dir, created);
        if (vfs_open(NULL, path, O_CREAT | O_TRUNC | O_WRONLY, 0644, &f) < 0) break;
        vfs_write(f, buf, 4096);
        vfs_close(f);
        created++;
    }
    ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(name, sizeof(name), "%s_small_create_per_s", key);
    bench_print(name, ns ? (uint64_t)created * NS_PER_SEC / ns : 0);
    t0 = rdtsc();
    for (int i = 0; i < created; i++) {
        ksnprintf(path, sizeof(path), "%s/s%d.bin", dir, i);
        vfs_unlink(NULL, path);
    }
    ns = tsc_to_ns(rdtsc() - t0);
    ksnprintf(name, sizeof(name), "%s_small_delete_per_s", key);
    bench_print(name, ns ? (uint64_t)created * NS_PER_SEC / ns : 0);
    vfs_sync_all();
    kfree(buf);
}

/* User-space figures: runs /bin/ubench (user/bin/ubench.c) as a process and passes on its
 * "BENCH name value" lines. */
static void bench_user(void) {
    const char *argv[] = {"ubench", "/bin/hellostd", NULL};
    const char *envp[] = {"PATH=/bin", NULL};
    static char out[4096];
    int status = -1;
    int r = proc_run_capture("/bin/ubench", argv, envp, out, sizeof out, NULL, 120ull * NS_PER_SEC, &status);
    if (r < 0) {
        kprintf("bench: /bin/ubench failed (error %d), skipping the user-space figures\n", -r);
        return;
    }
    kprintf("%s", out);
    if (status != 0) kprintf("bench: ubench ended with status %#x\n", status);
}

/* The `bench` boot mode: measures, prints the BENCH lines, powers off (QEMU status 33). */
NORETURN void bench_run(void) {
    kprintf("bench: measuring (task switch, wake-up latency, idle timer interrupts, storage)\n");
    bench_task_switch();
    bench_wake_latency();
    bench_idle();
    bench_disk("vda");
    bench_disk("sda");
    bench_disk("nvme0n1");
    bench_files("/", "fat32", "fs_fat32_vda");
    bench_files("/9p", "9p", "fs_9p");
    bench_user();
    kprintf("bench: done\n");
    qemu_debug_exit(0x10);
}
