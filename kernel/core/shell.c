/* shell.c: the kernel shell, a kernel task on the serial console and on the framebuffer +
 * PS/2 keyboard console. Input comes from the interrupt-driven console input queue
 * (console_input.h); lines are edited with lineedit.c (cursor keys, history); output goes
 * through kprintf to every console, without log timestamps.
 * Commands: help, mem, ps, lspci, lsirq, acpi, lsblk, blkread DEV LBA [COUNT], blkbench DEV,
 * ls [-l] [PATH], cat, write, mkdir, rmdir, rm, mv, cd, pwd, mount, df, sync (files, vfs.h; paths
 * relative to a shell-local working directory), uptime, date, dmesg, selftest [group], reboot,
 * shutdown. */
#include "types.h"
#include "cpu.h"
#include "printk.h"
#include "kstring.h"
#include "kprintf.h"
#include "kerrno.h"
#include "mm.h"
#include "pci.h"
#include "acpi.h"
#include "irq.h"
#include "time.h"
#include "selftest.h"
#include "power.h"
#include "sched.h"
#include "wait.h"
#include "lineedit.h"
#include "console_input.h"
#include "kernel.h"
#include "block.h"
#include "vfs.h"

#define PROMPT "sabos> "
#define MAX_ARGS 16

struct command {
    const char *name;
    const char *args;     /* usage of the arguments, "" for none */
    const char *help;
    int max_args;         /* arguments accepted after the name */
    void (*run)(int argc, char **argv);
};

static void cmd_help(int argc, char **argv);

/* ---- memory and tasks ---- */

static void cmd_mem(int argc, char **argv) {
    struct pmm_stats ps;
    struct heap_stats hs;
    pmm_get_stats(&ps);
    heap_get_stats(&hs);
    kprintf("installed RAM: %lu MiB\n", (unsigned long)(boot_ram_bytes() >> 20));
    kprintf("frames: %lu total, %lu free, %lu reserved (4 KiB each); %lu MiB free\n",
            (unsigned long)ps.total_frames, (unsigned long)ps.free_frames, (unsigned long)ps.reserved_frames,
            (unsigned long)((ps.free_frames * PAGE_SIZE) >> 20));
    kprintf("heap: %lu bytes in %lu allocations, %lu pages held\n", (unsigned long)hs.bytes_in_use,
            (unsigned long)hs.allocations, (unsigned long)hs.pages_held);
}

/* One task as ps shows it, copied out under the task-list lock and printed afterwards (the
 * task_for_each callback must not sleep, and printing to the consoles is slow). */
struct ps_row {
    tid_t id;
    char name[TASK_NAME_MAX];
    int state;
    bool running;
    uint8_t prio;
    uint64_t cpu_ns;
    size_t stack_used;
};

struct ps_collect {
    struct ps_row *rows;
    int cap, count, missed;
};

static void ps_collect_one(const struct task *t, void *ctx) {
    struct ps_collect *c = ctx;
    if (c->count >= c->cap) {
        c->missed++;
        return;
    }
    struct ps_row *r = &c->rows[c->count++];
    r->id = t->id;
    memcpy(r->name, t->name, TASK_NAME_MAX);
    r->name[TASK_NAME_MAX - 1] = 0;
    r->state = t->state;
    r->running = t->on_cpu && t->state == TASK_RUNNABLE;
    r->prio = t->prio;
    r->cpu_ns = t->cpu_time_ns;
    r->stack_used = task_stack_used(t);
}

static void cmd_ps(int argc, char **argv) {
    struct ps_collect c = {0};
    c.cap = task_count() + 16; /* room for tasks created meanwhile */
    c.rows = kmalloc(sizeof(struct ps_row) * (size_t)c.cap);
    if (!c.rows) {
        kprintf("ps: out of memory\n");
        return;
    }
    task_for_each(ps_collect_one, &c);
    kprintf("%5s  %-20s %-9s %-6s %12s  %s\n", "ID", "NAME", "STATE", "PRIO", "CPU ms", "STACK used/size");
    for (int i = 0; i < c.count; i++) {
        const struct ps_row *r = &c.rows[i];
        const char *state = r->running ? "running" : task_state_name(r->state);
        kprintf("%5d  %-20s %-9s %-6s %8lu.%03lu  %lu/%lu\n", r->id, r->name, state ? state : "?",
                r->prio == PRIO_HIGH ? "high" : "normal", (unsigned long)(r->cpu_ns / 1000000),
                (unsigned long)(r->cpu_ns / 1000 % 1000), (unsigned long)r->stack_used,
                (unsigned long)KSTACK_SIZE);
    }
    if (c.missed) kprintf("(%d more tasks not shown)\n", c.missed);
    kprintf("%d tasks, %lu context switches\n", c.count + c.missed, (unsigned long)sched_context_switches());
    kfree(c.rows);
}

/* ---- devices and interrupts ---- */

static void cmd_lspci(int argc, char **argv) { pci_print_tree(); }

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization", "#CP control protection",
};

static void cmd_lsirq(int argc, char **argv) {
    kprintf("%6s  %-16s %-8s %12s\n", "VECTOR", "NAME", "LINE", "COUNT");
    int shown = 0;
    for (int v = 0; v < 256; v++) {
        uint64_t n = irq_count((uint8_t)v);
        if (!n) continue;
        const char *name = v < 32 ? exception_names[v] : irq_name((uint8_t)v);
        if (!name) name = v < 32 ? "reserved" : "(no handler)";
        char line[12] = "-";
        for (int isa = 0; isa < 16; isa++) {
            if (v >= 32 && irq_isa_vector((uint8_t)isa) == v) {
                ksnprintf(line, sizeof line, "IRQ%d", isa);
                break;
            }
        }
        if (v == VEC_LAPIC_TIMER) memcpy(line, "LAPIC", 6);
        kprintf("%6d  %-16s %-8s %12lu\n", v, name, line, (unsigned long)n);
        shown++;
    }
    kprintf("%d vectors with interrupts (%s mode)\n", shown, irq_mode());
}

static void cmd_acpi(int argc, char **argv) { acpi_print(); }

/* ---- block devices ---- */

/* Parses a decimal or 0x-prefixed hexadecimal number; false on anything else or overflow. */
static bool parse_u64(const char *s, uint64_t *out) {
    uint64_t base = 10, v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) return false;
    for (; *s; s++) {
        char c = (char)(*s | 0x20);
        uint64_t digit;
        if (*s >= '0' && *s <= '9') digit = (uint64_t)(*s - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') digit = (uint64_t)(c - 'a' + 10);
        else return false;
        if (v > (UINT64_MAX - digit) / base) return false;
        v = v * base + digit;
    }
    *out = v;
    return true;
}

/* A short text for the errors the block layer returns. */
static const char *blk_error_text(int err) {
    switch (-err) {
    case KEINVAL: return "invalid argument";
    case KEIO: return "I/O error";
    case KETIMEDOUT: return "the device did not answer";
    case KENOMEM: return "out of memory";
    case KEROFS: return "read-only device";
    case KEINTR: return "interrupted";
    default: return "error";
    }
}

/* The device named by a command argument, or NULL after saying why. */
static struct blk_device *find_blk_arg(const char *cmd, const char *name) {
    struct blk_device *dev = blk_find(name);
    if (!dev) kprintf("%s: no block device named '%s' (see lsblk)\n", cmd, name);
    return dev;
}

struct blk_list {
    struct blk_device **devs;
    int cap, count, seen;
};

static void blk_collect(struct blk_device *dev, void *ctx) {
    struct blk_list *l = ctx;
    l->seen++;
    if (l->count < l->cap) l->devs[l->count++] = dev;
}

static void lsblk_line(const struct blk_device *d) {
    uint64_t tenths = d->sectors * d->sector_size * 10 >> 20; /* MiB, one decimal */
    char name[BLK_NAME_MAX + 2], start[24];
    ksnprintf(name, sizeof name, "%s%s", d->parent ? "  " : "", d->name);
    if (d->parent) ksnprintf(start, sizeof start, "%lu", (unsigned long)d->start);
    else memcpy(start, "-", 2);
    kprintf("%-14s %-11s %8lu.%lu %6u %10s%s%s%s\n", name, d->driver ? d->driver : "?",
            (unsigned long)(tenths / 10), (unsigned long)(tenths % 10), d->sector_size, start,
            d->model[0] ? "  " : "", d->model, d->read_only ? "  (read-only)" : "");
}

static void cmd_lsblk(int argc, char **argv) {
    struct blk_list all = {NULL, 0, 0, 0};
    blk_for_each(blk_collect, &all); /* counts */
    all.cap = all.seen + 8;          /* room for devices registered meanwhile */
    all.seen = 0;
    all.devs = kmalloc(sizeof(*all.devs) * (size_t)all.cap);
    if (!all.devs) {
        kprintf("lsblk: out of memory\n");
        return;
    }
    blk_for_each(blk_collect, &all);
    if (all.count == 0) {
        kprintf("no block devices\n");
        kfree(all.devs);
        return;
    }
    kprintf("%-14s %-11s %10s %6s %10s  %s\n", "NAME", "DRIVER", "SIZE MiB", "SECTOR", "START", "MODEL / LABEL");
    for (int i = 0; i < all.count; i++) {
        if (all.devs[i]->parent) continue;
        lsblk_line(all.devs[i]);
        for (int j = 0; j < all.count; j++)
            if (all.devs[j]->parent == all.devs[i]) lsblk_line(all.devs[j]);
    }
    if (all.seen > all.count) kprintf("(%d more devices not shown)\n", all.seen - all.count);
    kfree(all.devs);
}

#define BLKREAD_MAX_SECTORS 16

/* Prints len bytes as lines of 16: offset, hex bytes, ASCII; a run of lines equal to the
 * one before is shown as one "*" (as hexdump -C does). */
static void hex_dump(const uint8_t *p, size_t len) {
    bool in_repeat = false;
    for (size_t off = 0; off < len; off += 16) {
        size_t n = MIN((size_t)16, len - off);
        if (off >= 16 && n == 16 && off + 16 < len && memcmp(p + off, p + off - 16, 16) == 0) {
            if (!in_repeat) kprintf("*\n");
            in_repeat = true;
            continue;
        }
        in_repeat = false;
        char line[96];
        size_t pos = (size_t)ksnprintf(line, sizeof line, "%08lx ", (unsigned long)off);
        for (size_t i = 0; i < 16; i++) {
            if (i == 8) line[pos++] = ' ';
            if (i < n) pos += (size_t)ksnprintf(line + pos, sizeof line - pos, " %02x", p[off + i]);
            else pos += (size_t)ksnprintf(line + pos, sizeof line - pos, "   ");
        }
        pos += (size_t)ksnprintf(line + pos, sizeof line - pos, "  |");
        for (size_t i = 0; i < n; i++) line[pos++] = (p[off + i] >= 0x20 && p[off + i] < 0x7f) ? (char)p[off + i] : '.';
        line[pos++] = '|';
        line[pos] = 0;
        kprintf("%s\n", line);
    }
}

static void cmd_blkread(int argc, char **argv) {
    if (argc < 3) {
        kprintf("usage: blkread DEV LBA [COUNT]  (COUNT 1-%d sectors, default 1)\n", BLKREAD_MAX_SECTORS);
        return;
    }
    struct blk_device *dev = find_blk_arg("blkread", argv[1]);
    if (!dev) return;
    uint64_t lba, count = 1;
    if (!parse_u64(argv[2], &lba)) {
        kprintf("blkread: bad LBA '%s' (a decimal or 0x-hex sector number)\n", argv[2]);
        return;
    }
    if (argc > 3 && (!parse_u64(argv[3], &count) || count == 0 || count > BLKREAD_MAX_SECTORS)) {
        kprintf("blkread: bad COUNT '%s' (1-%d sectors)\n", argv[3], BLKREAD_MAX_SECTORS);
        return;
    }
    size_t len = (size_t)count * dev->sector_size;
    uint8_t *buf = kmalloc(len);
    if (!buf) {
        kprintf("blkread: out of memory\n");
        return;
    }
    int r = blk_read(dev, lba, (uint32_t)count, buf);
    if (r < 0) {
        kprintf("blkread: %s: reading %lu sector%s at LBA %lu failed: %s (%d)", dev->name, (unsigned long)count,
                count == 1 ? "" : "s", (unsigned long)lba, blk_error_text(r), r);
        if (r == -KEINVAL && (lba >= dev->sectors || count > dev->sectors - lba))
            kprintf("; the device has %lu sectors", (unsigned long)dev->sectors);
        kprintf("\n");
    } else {
        kprintf("%s: LBA %lu, %lu sector%s of %u bytes\n", dev->name, (unsigned long)lba, (unsigned long)count,
                count == 1 ? "" : "s", dev->sector_size);
        hex_dump(buf, len);
    }
    kfree(buf);
}

#define BENCH_SEQ_BYTES (8u << 20)
#define BENCH_SEQ_REQUEST (1u << 20)
#define BENCH_RANDOM_BYTES 4096u
#define BENCH_RANDOM_NS 1000000000ull

/* Read-only benchmark: sequential 1 MiB reads over the first 8 MiB, then 4 KiB reads at
 * random 4 KiB-aligned places for one second. Never writes. */
static void cmd_blkbench(int argc, char **argv) {
    if (argc < 2) {
        kprintf("usage: blkbench DEV  (reads only: 8 MiB sequentially, then 4 KiB at random for 1 s)\n");
        return;
    }
    struct blk_device *dev = find_blk_arg("blkbench", argv[1]);
    if (!dev) return;
    uint32_t ss = dev->sector_size;
    uint64_t dev_bytes = dev->sectors * ss;
    uint32_t req_sectors = BENCH_SEQ_REQUEST / ss ? BENCH_SEQ_REQUEST / ss : 1;
    uint32_t rnd_sectors = BENCH_RANDOM_BYTES / ss ? BENCH_RANDOM_BYTES / ss : 1;
    if (dev->sectors < rnd_sectors) {
        kprintf("blkbench: %s is too small (%lu sectors)\n", dev->name, (unsigned long)dev->sectors);
        return;
    }
    uint8_t *buf = kmalloc((size_t)req_sectors * ss);
    if (!buf) {
        kprintf("blkbench: out of memory\n");
        return;
    }
    /* Sequential: up to 8 MiB from sector 0, 1 MiB per request. */
    uint64_t total = MIN((uint64_t)BENCH_SEQ_BYTES, dev_bytes) / ss;
    uint64_t done = 0, t0 = time_ns();
    int r = 0;
    while (done < total && r == 0) {
        uint32_t n = (uint32_t)MIN((uint64_t)req_sectors, total - done);
        r = blk_read(dev, done, n, buf);
        done += n;
    }
    uint64_t seq_ns = time_ns() - t0;
    if (r < 0) {
        kprintf("blkbench: %s: read failed: %s (%d)\n", dev->name, blk_error_text(r), r);
        kfree(buf);
        return;
    }
    uint64_t bytes = total * ss;
    uint64_t mbps10 = seq_ns ? bytes * 10000ull / seq_ns : 0; /* MB/s (10^6 bytes), x10 */
    kprintf("%s: sequential read %lu KiB in %lu KiB requests: %lu.%lu MB/s (%lu ms)\n", dev->name,
            (unsigned long)(bytes >> 10), (unsigned long)((uint64_t)req_sectors * ss >> 10),
            (unsigned long)(mbps10 / 10), (unsigned long)(mbps10 % 10), (unsigned long)(seq_ns / 1000000));
    /* Random: 4 KiB at 4 KiB-aligned places anywhere on the device, for one second. */
    uint64_t slots = dev->sectors / rnd_sectors, ops = 0, rng = time_ns() | 1;
    t0 = time_ns();
    uint64_t elapsed = 0;
    while (elapsed < BENCH_RANDOM_NS) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        r = blk_read(dev, (rng % slots) * rnd_sectors, rnd_sectors, buf);
        if (r < 0) break;
        ops++;
        elapsed = time_ns() - t0;
    }
    kfree(buf);
    if (r < 0) {
        kprintf("blkbench: %s: random read failed: %s (%d)\n", dev->name, blk_error_text(r), r);
        return;
    }
    kprintf("%s: random %u-byte reads for %lu ms: %lu IOPS (%lu us per read)\n", dev->name, rnd_sectors * ss,
            (unsigned long)(elapsed / 1000000), (unsigned long)(ops * 1000000000ull / elapsed),
            (unsigned long)(elapsed / 1000 / (ops ? ops : 1)));
}

/* ---- files (vfs.h) ---- */

/* The shell's working directory, an absolute normalised path (cd, pwd, relative paths). */
static char shell_cwd[VFS_PATH_MAX] = "/";

/* The strerror-like text for an error number. */
static const char *errno_text(int err) {
    switch (-err) {
    case KEPERM: return "operation not permitted";
    case KENOENT: return "no such file or directory";
    case KEIO: return "I/O error";
    case KEBADF: return "bad file descriptor";
    case KENOMEM: return "out of memory";
    case KEACCES: return "permission denied";
    case KEBUSY: return "device or resource busy";
    case KEEXIST: return "file exists";
    case KEXDEV: return "cross-device link (mv works within one mount)";
    case KENODEV: return "no such device";
    case KENOTDIR: return "not a directory";
    case KEISDIR: return "is a directory";
    case KEINVAL: return "invalid argument";
    case KENOSPC: return "no space left on device";
    case KEROFS: return "read-only file system";
    case KENAMETOOLONG: return "file name too long";
    case KENOSYS: return "operation not supported";
    case KENOTEMPTY: return "directory not empty";
    case KETIMEDOUT: return "timed out";
    case KEINTR: return "interrupted";
    case KEPROTO: return "protocol error";
    default: return "error";
    }
}

/* Prints "cmd: path: reason". */
static void file_error(const char *cmd, const char *path, int err) {
    kprintf("%s: %s: %s\n", cmd, path, errno_text(err));
}

/* Makes path absolute against the working directory into out (VFS_PATH_MAX bytes); false
 * after saying why. */
static bool shell_path(const char *cmd, const char *path, char *out) {
    int r = vfs_path_join(shell_cwd, path, out, VFS_PATH_MAX);
    if (r < 0) file_error(cmd, path, r);
    return r >= 0;
}

static char path_a[VFS_PATH_MAX], path_b[VFS_PATH_MAX];

/* "drwxr-xr-x" style letters for a mode. */
static void mode_letters(uint32_t mode, char out[11]) {
    char type = '?';
    switch (mode & S_IFMT) {
    case S_IFDIR: type = 'd'; break;
    case S_IFREG: type = '-'; break;
    case S_IFCHR: type = 'c'; break;
    case 0060000: type = 'b'; break;
    case S_IFIFO: type = 'p'; break;
    case 0120000: type = 'l'; break;
    case S_IFSOCK: type = 's'; break;
    }
    out[0] = type;
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++) out[1 + i] = (mode >> (8 - i)) & 1 ? rwx[i] : '-';
    out[10] = 0;
}

static void ls_line(bool long_form, const char *name, const struct vfs_stat *st, uint32_t type) {
    bool dir = long_form ? VFS_ISDIR(st->mode) : type == S_IFDIR;
    if (long_form) {
        char mode[11];
        mode_letters(st->mode, mode);
        kprintf("%s %10lu %s%s\n", mode, (unsigned long)st->size, name, dir ? "/" : "");
    } else {
        kprintf("%s%s\n", name, dir ? "/" : "");
    }
}

static void cmd_ls(int argc, char **argv) {
    bool long_form = false;
    const char *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-l") == 0) long_form = true;
        else if (!arg) arg = argv[i];
        else {
            kprintf("usage: ls [-l] [PATH]\n");
            return;
        }
    }
    if (!shell_path("ls", arg ? arg : ".", path_a)) return;
    struct vfs_stat st;
    int r = vfs_stat(NULL, path_a, &st);
    if (r < 0) {
        file_error("ls", arg ? arg : path_a, r);
        return;
    }
    if (!VFS_ISDIR(st.mode)) {
        ls_line(long_form, arg ? arg : path_a, &st, st.mode & S_IFMT);
        return;
    }
    struct vfs_file *f;
    r = vfs_open(NULL, path_a, O_RDONLY | O_DIRECTORY, 0, &f);
    if (r < 0) {
        file_error("ls", arg ? arg : path_a, r);
        return;
    }
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    if (!de) {
        vfs_close(f);
        kprintf("ls: out of memory\n");
        return;
    }
    size_t base = strlen(path_a);
    while ((r = vfs_readdir(f, de)) == 1) {
        if ((de->name_len == 1 && de->name[0] == '.') || (de->name_len == 2 && de->name[0] == '.' && de->name[1] == '.'))
            continue;
        struct vfs_stat est = {0};
        if (long_form) {
            ksnprintf(path_b, sizeof path_b, "%s%s%s", path_a, base > 1 ? "/" : "", de->name);
            int sr = vfs_stat(NULL, path_b, &est);
            if (sr < 0) est.mode = de->type;
        }
        ls_line(long_form, de->name, &est, de->type);
    }
    if (r < 0) file_error("ls", arg ? arg : path_a, r);
    kfree(de);
    vfs_close(f);
}

#define CAT_CHUNK 4096

static void cmd_cat(int argc, char **argv) {
    if (argc < 2) {
        kprintf("usage: cat FILE...\n");
        return;
    }
    char *buf = kmalloc(CAT_CHUNK);
    if (!buf) {
        kprintf("cat: out of memory\n");
        return;
    }
    for (int i = 1; i < argc; i++) {
        if (!shell_path("cat", argv[i], path_a)) continue;
        struct vfs_file *f;
        int r = vfs_open(NULL, path_a, O_RDONLY, 0, &f);
        if (r < 0) {
            file_error("cat", argv[i], r);
            continue;
        }
        /* devices (/dev/zero, /dev/urandom, a disk) never end or are huge: one chunk only */
        struct vfs_stat st;
        bool once = vfs_fstat(f, &st) == 0 && !VFS_ISREG(st.mode);
        int64_t n;
        char last = '\n';
        while ((n = vfs_read(f, buf, CAT_CHUNK)) > 0) {
            console_write(buf, (size_t)n);
            last = buf[n - 1];
            if (once) break;
        }
        if (last != '\n') console_write("\n", 1);
        if (n < 0) file_error("cat", argv[i], (int)n);
        vfs_close(f);
    }
    kfree(buf);
}

/* mkdir, rmdir, rm: one path operation each. */
static void path_op(int argc, char **argv, const char *usage, int (*op)(const char *path)) {
    if (argc < 2) {
        kprintf("usage: %s %s\n", argv[0], usage);
        return;
    }
    for (int i = 1; i < argc; i++) {
        if (!shell_path(argv[0], argv[i], path_a)) continue;
        int r = op(path_a);
        if (r < 0) file_error(argv[0], argv[i], r);
    }
}

static int do_mkdir(const char *path) { return vfs_mkdir(NULL, path, 0755); }
static int do_rmdir(const char *path) { return vfs_rmdir(NULL, path); }
static int do_unlink(const char *path) { return vfs_unlink(NULL, path); }

static void cmd_mkdir(int argc, char **argv) { path_op(argc, argv, "DIR...", do_mkdir); }
static void cmd_rmdir(int argc, char **argv) { path_op(argc, argv, "DIR...", do_rmdir); }
static void cmd_rm(int argc, char **argv) { path_op(argc, argv, "FILE...", do_unlink); }

static void cmd_mv(int argc, char **argv) {
    if (argc != 3) {
        kprintf("usage: mv OLD NEW\n");
        return;
    }
    if (!shell_path("mv", argv[1], path_a) || !shell_path("mv", argv[2], path_b)) return;
    int r = vfs_rename(NULL, path_a, path_b);
    if (r < 0) kprintf("mv: %s -> %s: %s\n", argv[1], argv[2], errno_text(r));
}

static void cmd_write(int argc, char **argv) {
    if (argc < 2) {
        kprintf("usage: write FILE [TEXT...]\n");
        return;
    }
    if (!shell_path("write", argv[1], path_a)) return;
    /* the words again, one space apart, and a newline */
    size_t len = 0;
    for (int i = 2; i < argc; i++) len += strlen(argv[i]) + 1;
    char *text = kmalloc(len + 1);
    if (!text) {
        kprintf("write: out of memory\n");
        return;
    }
    size_t pos = 0;
    for (int i = 2; i < argc; i++) {
        size_t n = strlen(argv[i]);
        memcpy(text + pos, argv[i], n);
        pos += n;
        text[pos++] = i + 1 < argc ? ' ' : '\n';
    }
    if (pos == 0) text[pos++] = '\n';
    struct vfs_file *f;
    int r = vfs_open(NULL, path_a, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (r == 0) {
        int64_t n = vfs_write(f, text, pos);
        if (n >= 0 && (size_t)n != pos) n = -KENOSPC;
        if (n < 0) r = (int)n;
        vfs_close(f);
    }
    if (r < 0) file_error("write", argv[1], r);
    kfree(text);
}

static void cmd_cd(int argc, char **argv) {
    if (!shell_path("cd", argc > 1 ? argv[1] : "/", path_a)) return;
    struct vfs_stat st;
    int r = vfs_stat(NULL, path_a, &st);
    if (r == 0 && !VFS_ISDIR(st.mode)) r = -KENOTDIR;
    if (r < 0) {
        file_error("cd", argc > 1 ? argv[1] : "/", r);
        return;
    }
    memcpy(shell_cwd, path_a, sizeof shell_cwd);
}

static void cmd_pwd(int argc, char **argv) { kprintf("%s\n", shell_cwd); }

/* The mount table, copied out under its lock (the callback must not sleep). */
#define SHELL_MOUNTS_MAX 32
struct mount_row {
    struct vfs_mount *m;
    char path[VFS_MOUNT_PATH_MAX];
    char source[32];
    const char *type;
};
struct mount_rows {
    struct mount_row *rows;
    int count, missed;
};

static void mount_collect(const struct vfs_mount *m, void *arg) {
    struct mount_rows *c = arg;
    if (!m->path[0]) return; /* detached (tests): not in the name space */
    if (c->count >= SHELL_MOUNTS_MAX) {
        c->missed++;
        return;
    }
    struct mount_row *r = &c->rows[c->count++];
    r->m = (struct vfs_mount *)m;
    memcpy(r->path, m->path, sizeof r->path);
    memcpy(r->source, m->source, sizeof r->source);
    r->type = m->type ? m->type->name : "?";
}

static bool mounts_collect(const char *cmd, struct mount_rows *c) {
    c->count = c->missed = 0;
    c->rows = kmalloc(sizeof(struct mount_row) * SHELL_MOUNTS_MAX);
    if (!c->rows) kprintf("%s: out of memory\n", cmd);
    else vfs_mount_for_each(mount_collect, c);
    return c->rows != NULL;
}

static void cmd_mount(int argc, char **argv) {
    struct mount_rows c;
    if (!mounts_collect("mount", &c)) return;
    for (int i = c.count - 1; i >= 0; i--) /* the table is newest first: print in mount order */
        kprintf("%s on %s type %s\n", c.rows[i].source[0] ? c.rows[i].source : "none", c.rows[i].path, c.rows[i].type);
    if (c.missed) kprintf("(%d more mounts not shown)\n", c.missed);
    kfree(c.rows);
}

static void cmd_df(int argc, char **argv) {
    struct mount_rows c;
    if (!mounts_collect("df", &c)) return;
    kprintf("%-12s %-7s %12s %12s %12s  %s\n", "SOURCE", "TYPE", "SIZE KiB", "USED KiB", "FREE KiB", "MOUNTED ON");
    for (int i = c.count - 1; i >= 0; i--) { /* in mount order */
        const struct mount_row *r = &c.rows[i];
        uint64_t total = 0, free_bytes = 0;
        /* mounts are not removed while the shell runs (nothing unmounts at run time yet) */
        char t[24] = "-", u[24] = "-", f[24] = "-";
        if (vfs_statfs(r->m, &total, &free_bytes) == 0) {
            ksnprintf(t, sizeof t, "%lu", (unsigned long)(total >> 10));
            ksnprintf(u, sizeof u, "%lu", (unsigned long)((total - MIN(free_bytes, total)) >> 10));
            ksnprintf(f, sizeof f, "%lu", (unsigned long)(free_bytes >> 10));
        }
        kprintf("%-12s %-7s %12s %12s %12s  %s\n", r->source[0] ? r->source : "none", r->type, t, u, f, r->path);
    }
    kfree(c.rows);
}

static void cmd_sync(int argc, char **argv) {
    int r = vfs_sync_all();
    if (r < 0) kprintf("sync: %s (%d)\n", errno_text(r), r);
}

/* ---- time and log ---- */

static void cmd_uptime(int argc, char **argv) {
    uint64_t ns = time_ns();
    kprintf("up %lu.%03lu s\n", (unsigned long)(ns / 1000000000ull), (unsigned long)(ns / 1000000 % 1000));
}

static void cmd_date(int argc, char **argv) {
    struct rtc_time tm;
    if (rtc_read(&tm) != 0) {
        kprintf("date: the real-time clock did not answer\n");
        return;
    }
    kprintf("%04d-%02d-%02d %02d:%02d:%02d UTC\n", tm.year, tm.month, tm.day, tm.hour, tm.minute, tm.second);
}

static void cmd_dmesg(int argc, char **argv) {
    char *buf = kmalloc(KLOG_SIZE + 1);
    if (!buf) {
        kprintf("dmesg: out of memory\n");
        return;
    }
    size_t n = klog_read(buf, KLOG_SIZE + 1);
    console_write(buf, n);
    if (n && buf[n - 1] != '\n') console_write("\n", 1);
    kfree(buf);
}

/* ---- tests and power ---- */

static void cmd_selftest(int argc, char **argv) {
    selftest_run(argc > 1 ? argv[1] : NULL);
    /* Keyboard self-tests inject key presses; they are not the user's typing. */
    console_input_flush();
}

/* Both write every cached change to the disks first (file systems and buffer cache). */
static void sync_before_power(void) {
    int r = vfs_sync_all();
    if (r < 0) kprintf("sync: error %d; some changes may not be on disk\n", r);
}
static void cmd_reboot(int argc, char **argv) {
    sync_before_power();
    power_reboot();
}
static void cmd_shutdown(int argc, char **argv) {
    sync_before_power();
    power_off();
}

static const struct command commands[] = {
    {"help", "", "list the commands", 0, cmd_help},
    {"mem", "", "memory: frames and heap", 0, cmd_mem},
    {"ps", "", "tasks: state, priority, CPU time, stack use", 0, cmd_ps},
    {"lspci", "", "PCI devices", 0, cmd_lspci},
    {"lsirq", "", "interrupt counts per vector", 0, cmd_lsirq},
    {"acpi", "", "ACPI tables found", 0, cmd_acpi},
    {"lsblk", "", "block devices and their partitions", 0, cmd_lsblk},
    {"blkread", "DEV LBA [COUNT]", "hex dump of COUNT (1-16) sectors", 3, cmd_blkread},
    {"blkbench", "DEV", "read-only speed test: MB/s and IOPS", 1, cmd_blkbench},
    {"ls", "[-l] [PATH]", "list a directory (-l: mode, size)", 2, cmd_ls},
    {"cat", "FILE...", "print files", MAX_ARGS, cmd_cat},
    {"write", "FILE TEXT...", "replace FILE with TEXT and a newline", MAX_ARGS, cmd_write},
    {"mkdir", "DIR...", "make directories", MAX_ARGS, cmd_mkdir},
    {"rmdir", "DIR...", "remove empty directories", MAX_ARGS, cmd_rmdir},
    {"rm", "FILE...", "remove files", MAX_ARGS, cmd_rm},
    {"mv", "OLD NEW", "rename or move (within one mount)", 2, cmd_mv},
    {"cd", "[DIR]", "change the working directory", 1, cmd_cd},
    {"pwd", "", "print the working directory", 0, cmd_pwd},
    {"mount", "", "mounted file systems", 0, cmd_mount},
    {"df", "", "size, used and free KiB per mount", 0, cmd_df},
    {"sync", "", "write all cached data to the disks", 0, cmd_sync},
    {"uptime", "", "time since boot", 0, cmd_uptime},
    {"date", "", "wall-clock time from the RTC", 0, cmd_date},
    {"dmesg", "", "kernel log", 0, cmd_dmesg},
    {"selftest", "[group]", "run kernel self-tests (all, or one group)", 1, cmd_selftest},
    {"reboot", "", "restart the machine", 0, cmd_reboot},
    {"shutdown", "", "power off (ACPI S5)", 0, cmd_shutdown},
};

static void cmd_help(int argc, char **argv) {
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        char usage[40];
        ksnprintf(usage, sizeof usage, "%s%s%s", commands[i].name, commands[i].args[0] ? " " : "",
                  commands[i].args);
        kprintf("  %-24s %s\n", usage, commands[i].help);
    }
    kprintf("Keys: Left/Right, Home/End, Backspace/Delete, Up/Down history, ^U clear, ^C cancel\n");
}

/* Splits line (modified in place) into words separated by spaces or tabs. */
static int split_words(char *line, char **argv, int max) {
    int argc = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) return argc;
        if (argc == max) return max + 1; /* too many */
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = 0;
    }
}

bool shell_exec(const char *text) {
    char line[LINEEDIT_MAX + 1];
    size_t len = strnlen(text, LINEEDIT_MAX);
    memcpy(line, text, len);
    line[len] = 0;
    char *argv[MAX_ARGS + 1];
    int argc = split_words(line, argv, MAX_ARGS);
    if (argc == 0) return true;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        const struct command *c = &commands[i];
        if (strcmp(c->name, argv[0]) != 0) continue;
        if (argc - 1 > c->max_args) {
            if (c->args[0])
                kprintf("usage: %s %s\n", c->name, c->args);
            else
                kprintf("usage: %s (takes no arguments)\n", c->name);
            return true;
        }
        c->run(argc, argv);
        return true;
    }
    kprintf("%s: unknown command (try `help`)\n", argv[0]);
    return false;
}

/* ---- the task ---- */

static void prompt(void) { console_write(PROMPT, sizeof PROMPT - 1); }

int64_t shell_task(void *arg) {
    (void)arg;
    static struct lineedit editor;
    static struct lineedit_echo echo;
    console_input_init();
    lineedit_init(&editor);
    kprintf("Type `help` for commands.\n");
    prompt();
    for (;;) {
        int c = console_getchar(WAIT_FOREVER);
        if (c == -KEINTR) return -KEINTR;
        if (c < 0) continue;
        int r = lineedit_feed(&editor, (uint8_t)c, &echo);
        if (echo.len) console_write(echo.bytes, echo.len);
        if (r == LINEEDIT_LINE) {
            shell_exec(lineedit_line(&editor));
            prompt();
        } else if (r == LINEEDIT_CANCEL) {
            prompt();
        }
    }
}

NORETURN void shell_run(void) {
    shell_task(NULL);
    for (;;) {
        cli();
        hlt();
    }
}
