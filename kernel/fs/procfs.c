/* procfs.c: the process/system information file system mounted on /proc, a VFS engine
 * (vfs.h). Plain-text files in the spirit of Linux proc(5): meminfo, tasks, mounts, uptime,
 * interrupts, pci. Their text is generated when a read starts at offset 0 into a kmalloc'd
 * buffer kept on the node; reads at later offsets are served from that snapshot, so one
 * sequential reader sees a consistent file. One mutex per instance guards the snapshots. */
#include "vfs.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "sched.h"
#include "time.h"
#include "irq.h"
#include "pci.h"
#include "sync.h"

/* A growing text buffer; on overflow the text is cut (never written past the end). */
struct text {
    char *buf;
    size_t len, cap;
};

static void PRINTF_LIKE(2, 3) text_printf(struct text *t, const char *fmt, ...) {
    if (t->len + 1 >= t->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len = MIN(t->len + (size_t)n, t->cap - 1);
}

/* ---- generators ---- */

static void gen_meminfo(struct text *t) {
    struct pmm_stats ps;
    struct heap_stats hs;
    pmm_get_stats(&ps);
    heap_get_stats(&hs);
    text_printf(t, "MemTotal:     %lu kB\n", (unsigned long)(ps.total_frames * PAGE_SIZE >> 10));
    text_printf(t, "MemFree:      %lu kB\n", (unsigned long)(ps.free_frames * PAGE_SIZE >> 10));
    text_printf(t, "FramesTotal:  %lu\n", (unsigned long)ps.total_frames);
    text_printf(t, "FramesFree:   %lu\n", (unsigned long)ps.free_frames);
    text_printf(t, "FramesReserved: %lu\n", (unsigned long)ps.reserved_frames);
    text_printf(t, "HeapBytes:    %lu\n", (unsigned long)hs.bytes_in_use);
    text_printf(t, "HeapAllocations: %lu\n", (unsigned long)hs.allocations);
    text_printf(t, "HeapPages:    %lu\n", (unsigned long)hs.pages_held);
}

static void task_line(const struct task *task, void *ctx) {
    struct text *t = ctx;
    const char *state = task_state_name(task->state);
    char name[TASK_NAME_MAX];
    memcpy(name, task->name, TASK_NAME_MAX);
    name[TASK_NAME_MAX - 1] = 0;
    text_printf(t, "%5d  %-20s %-9s %-6s %8lu\n", task->id, name, state ? state : "?",
                task->prio == PRIO_HIGH ? "high" : "normal", (unsigned long)(task->cpu_time_ns / 1000000));
}

static void gen_tasks(struct text *t) {
    text_printf(t, "%5s  %-20s %-9s %-6s %8s\n", "ID", "NAME", "STATE", "PRIO", "CPU ms");
    task_for_each(task_line, t); /* the callback only formats into memory: it never sleeps */
}

static void mount_line(const struct vfs_mount *m, void *ctx) {
    text_printf(ctx, "%s %s %s\n", m->source[0] ? m->source : "none", m->path[0] ? m->path : "(detached)",
                m->type ? m->type->name : "?");
}

static void gen_mounts(struct text *t) { vfs_mount_for_each(mount_line, t); }

static void gen_uptime(struct text *t) {
    uint64_t ns = time_ns();
    text_printf(t, "%lu.%02lu\n", (unsigned long)(ns / 1000000000ull), (unsigned long)(ns / 10000000 % 100));
}

static void gen_interrupts(struct text *t) {
    for (int v = 0; v < 256; v++) {
        uint64_t n = irq_count((uint8_t)v);
        if (!n) continue;
        const char *name = irq_name((uint8_t)v);
        text_printf(t, "%3d %12lu %s\n", v, (unsigned long)n, name ? name : (v < 32 ? "exception" : "-"));
    }
}

static void gen_pci(struct text *t) {
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *d = &pci_bus.devs[i];
        text_printf(t, "%02x:%02x.%d %04x:%04x %02x%02x %s\n", d->bus, d->dev, d->fn, d->vendor, d->device,
                    d->class_code, d->subclass, pci_device_name(d->vendor, d->device, d->class_code, d->subclass));
    }
}

struct procfs_file {
    const char *name;
    void (*generate)(struct text *t);
    size_t cap;          /* buffer size */
};

static const struct procfs_file files[] = {
    {"meminfo", gen_meminfo, 1024},
    {"tasks", gen_tasks, 16384},
    {"mounts", gen_mounts, 4096},
    {"uptime", gen_uptime, 64},
    {"interrupts", gen_interrupts, 16384},
    {"pci", gen_pci, 16384},
};
#define NFILES ((int)ARRAY_SIZE(files))

/* ---- the file system ---- */

struct procfs_node {
    struct vnode vn;
    int file;            /* index in files, -1 for the root */
    char *snap;          /* the text generated at the last read at offset 0 */
    size_t snap_len;
};

struct procfs {
    struct mutex lock;
    struct procfs_node nodes[1 + NFILES]; /* root first */
};

static const struct vnode_ops procfs_ops;

static struct procfs_node *node_of(struct vnode *vn) { return container_of(vn, struct procfs_node, vn); }

static int procfs_lookup(struct vnode *dir, const char *name, size_t len, struct vnode **out) {
    struct procfs *fs = dir->mount->fs_priv;
    struct vnode *found = NULL;
    if (len == 2 && name[0] == '.' && name[1] == '.') found = dir;
    for (int i = 0; i < NFILES && !found; i++)
        if (strlen(files[i].name) == len && memcmp(files[i].name, name, len) == 0) found = &fs->nodes[1 + i].vn;
    if (!found) return -KENOENT;
    vnode_get(found);
    *out = found;
    return 0;
}

static int procfs_readdir(struct vnode *dir, uint64_t *cookie, struct vfs_dirent *out) {
    struct procfs *fs = dir->mount->fs_priv;
    uint64_t c = *cookie;
    if (c < 2) {
        out->ino = dir->ino;
        out->type = S_IFDIR;
        out->name_len = (uint16_t)(c + 1);
        memcpy(out->name, "..", c + 1);
        out->name[c + 1] = 0;
    } else if (c - 2 < (uint64_t)NFILES) {
        out->ino = fs->nodes[c - 1].vn.ino;
        out->type = S_IFREG;
        out->name_len = (uint16_t)strlen(files[c - 2].name);
        memcpy(out->name, files[c - 2].name, out->name_len + 1u);
    } else {
        return 0;
    }
    *cookie = c + 1;
    return 1;
}

static int64_t procfs_read(struct vnode *vn, uint64_t off, void *buf, size_t len) {
    struct procfs_node *n = node_of(vn);
    struct procfs *fs = vn->mount->fs_priv;
    if (n->file < 0) return -KEISDIR;
    if (mutex_lock(&fs->lock) < 0) return -KEINTR;
    if (off == 0 || !n->snap) {
        struct text t = {kmalloc(files[n->file].cap), 0, files[n->file].cap};
        if (!t.buf) {
            mutex_unlock(&fs->lock);
            return -KENOMEM;
        }
        t.buf[0] = 0;
        files[n->file].generate(&t);
        kfree(n->snap);
        n->snap = t.buf;
        n->snap_len = t.len;
    }
    int64_t got = 0;
    if (off < n->snap_len) {
        got = (int64_t)MIN((uint64_t)len, n->snap_len - off);
        memcpy(buf, n->snap + off, (size_t)got);
    }
    mutex_unlock(&fs->lock);
    return got;
}

static int procfs_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct procfs_node *n = node_of(vn);
    memset(st, 0, sizeof *st);
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = n->file < 0 ? 2 : 1;
    st->size = 0; /* generated on read, as in Linux */
    st->blksize = 4096;
    st->dev = vn->mount ? vn->mount->id : 0;
    return 0;
}

static const struct vnode_ops procfs_ops = {
    .lookup = procfs_lookup,
    .readdir = procfs_readdir,
    .read = procfs_read,
    .getattr = procfs_getattr,
};

static int procfs_mount(struct vfs_mount *m, const char *source, const char *options, struct vnode **root) {
    (void)source;
    (void)options;
    struct procfs *fs = kzalloc(sizeof(*fs));
    if (!fs) return -KENOMEM;
    mutex_init(&fs->lock, "procfs");
    for (int i = 0; i <= NFILES; i++) {
        struct procfs_node *n = &fs->nodes[i];
        vnode_init(&n->vn, &procfs_ops, m, i == 0 ? (S_IFDIR | 0555) : (S_IFREG | 0444), (uint64_t)i + 1);
        n->vn.fs_data = n;
        n->file = i - 1;
    }
    m->fs_priv = fs;
    vnode_get(&fs->nodes[0].vn);
    *root = &fs->nodes[0].vn;
    return 0;
}

static int procfs_unmount(struct vfs_mount *m) {
    struct procfs *fs = m->fs_priv;
    for (int i = 0; i <= NFILES; i++) kfree(fs->nodes[i].snap);
    kfree(fs);
    m->fs_priv = NULL;
    return 0;
}

static struct vfs_fs_type procfs_type = {
    .name = "procfs",
    .mount = procfs_mount,
    .unmount = procfs_unmount,
};

/* Registers the "procfs" file-system type (vfs_register_fs ignores a repeat). */
void procfs_init(void) {
    vfs_register_fs(&procfs_type);
}
