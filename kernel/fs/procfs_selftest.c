/* procfs_selftest.c: self-tests of procfs (kernel/fs/procfs.c), group `procfs`. Each test
 * mounts a detached procfs instance and reads one file through the VFS (vfs.h): it must open,
 * give non-empty text, and contain what the file is about, in the format of Linux proc(5)
 * where Linux has the file (meminfo, mounts, uptime). The per-process entries are tested
 * with a process of their own in kernel/proc/sys_misc_selftest.c. */
#include "selftest.h"
#include "vfs.h"
#include "kstring.h"
#include "mm.h"

#define TEXT_MAX 16384

/* Reads the whole file into a NUL-terminated kmalloc'd buffer (small reads, to exercise the
 * snapshot served at later offsets). Returns the length or a negative error. */
static int64_t read_proc_file(const char *path, char **out) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    if (r < 0) return r;
    struct vfs_ctx ctx = {m->root, m->root};
    struct vfs_file *f = NULL;
    char *buf = kmalloc(TEXT_MAX + 1);
    int64_t len = 0;
    r = buf ? vfs_open(&ctx, path, O_RDONLY, 0, &f) : -KENOMEM;
    while (r == 0 && len < TEXT_MAX) {
        int64_t n = vfs_read(f, buf + len, MIN((size_t)100, (size_t)(TEXT_MAX - len)));
        if (n < 0) r = (int)n;
        if (n <= 0) break;
        len += n;
    }
    if (f) vfs_close(f);
    vfs_umount(m);
    if (r < 0) {
        kfree(buf);
        return r;
    }
    buf[len] = 0;
    *out = buf;
    return len;
}

static bool contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0) return true;
    return false;
}

SELFTEST(procfs, mounts_lists_root_and_tmpfs) {
    char *text = NULL;
    int64_t n = read_proc_file("/mounts", &text);
    ST_ASSERT(t, n > 0, "reading mounts: %ld", (long)n);
    bool root = contains(text, " / "), tmp = contains(text, " tmpfs rw 0 0\n");
    /* every line: source target type options 0 0 (four words, then "0 0") */
    bool lines_ok = true;
    for (const char *p = text; *p && lines_ok;) {
        int words = 0;
        const char *e = p;
        while (*e && *e != '\n') {
            if (*e != ' ' && (e == p || e[-1] == ' ')) words++;
            e++;
        }
        lines_ok = *e == '\n' && words == 6 && e - p > 4 && strncmp(e - 4, " 0 0", 4) == 0;
        p = e + 1;
    }
    bool detached = contains(text, "(detached)");
    kfree(text);
    ST_ASSERT(t, root, "mounts does not list \" / \"");
    ST_ASSERT(t, tmp, "mounts does not list tmpfs as \"... tmpfs rw 0 0\"");
    ST_ASSERT(t, lines_ok, "a mounts line is not \"source target type options 0 0\"");
    ST_ASSERT(t, !detached, "mounts lists a detached instance");
}

/* The number after "key" (then spaces) at the start of a line, or -1. */
static int64_t field_value(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *p = text; *p; p++) {
        if ((p == text || p[-1] == '\n') && strncmp(p, key, n) == 0) {
            p += n;
            while (*p == ' ') p++;
            if (*p < '0' || *p > '9') return -1;
            int64_t v = 0;
            while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
            return v;
        }
    }
    return -1;
}

SELFTEST(procfs, meminfo_linux_format) {
    char *text = NULL;
    int64_t n = read_proc_file("/meminfo", &text);
    ST_ASSERT(t, n > 0, "reading meminfo: %ld", (long)n);
    int64_t total = field_value(text, "MemTotal:"), freekb = field_value(text, "MemFree:");
    int64_t avail = field_value(text, "MemAvailable:"), frames = field_value(text, "FramesFree:");
    bool kb_suffix = contains(text, " kB\nMemFree:");
    bool first = strncmp(text, "MemTotal:", 9) == 0;
    kfree(text);
    ST_ASSERT(t, first, "meminfo does not start with MemTotal:");
    ST_ASSERT(t, total > 0 && freekb > 0 && freekb <= total && avail >= 0 && avail <= total,
              "MemTotal %ld MemFree %ld MemAvailable %ld", (long)total, (long)freekb, (long)avail);
    ST_ASSERT(t, kb_suffix, "MemTotal line does not end in \" kB\"");
    ST_ASSERT(t, frames > 0, "meminfo has no non-zero FramesFree number");
}

SELFTEST(procfs, tasks_lists_idle) {
    char *text = NULL;
    int64_t n = read_proc_file("/tasks", &text);
    ST_ASSERT(t, n > 0, "reading tasks: %ld", (long)n);
    bool idle = contains(text, " idle ");
    kfree(text);
    ST_ASSERT(t, idle, "tasks does not list idle");
}

/* Reads "DIGITS.DD" at *p and advances past it; false when the text is not that. */
static bool seconds_cc(const char **p) {
    const char *s = *p;
    int digits = 0;
    while (*s >= '0' && *s <= '9') s++, digits++;
    if (digits == 0 || s[0] != '.' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') return false;
    *p = s + 3;
    return true;
}

SELFTEST(procfs, uptime_is_linux_format) {
    char *text = NULL;
    int64_t n = read_proc_file("/uptime", &text);
    ST_ASSERT(t, n > 0, "reading uptime: %ld", (long)n);
    const char *p = text;
    bool ok = seconds_cc(&p) && *p++ == ' ' && seconds_cc(&p) && p[0] == '\n' && p[1] == 0;
    kfree(text);
    ST_ASSERT(t, ok, "uptime is not \"S.CC I.CC\\n\"");
}

SELFTEST(procfs, interrupts_and_pci_nonempty) {
    char *text = NULL;
    int64_t n = read_proc_file("/interrupts", &text);
    ST_ASSERT(t, n > 0, "reading interrupts: %ld", (long)n);
    kfree(text);
    n = read_proc_file("/pci", &text);
    ST_ASSERT(t, n > 0, "reading pci: %ld", (long)n);
    bool host_bridge = contains(text, "8086:29c0"); /* the q35 host bridge */
    kfree(text);
    ST_ASSERT(t, host_bridge, "pci does not list the q35 host bridge 8086:29c0");
}

/* A kernel task has no process: /proc/self does not exist for it and readdir leaves it out;
 * names that are not pids (letters, leading zeros, overflow) are not found. */
SELFTEST(procfs, self_and_bad_pids_from_a_kernel_task) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    ST_ASSERT(t, r == 0, "mounting procfs: %d", r);
    struct vfs_ctx ctx = {m->root, m->root};
    static const char *const bad[] = {"/self", "/self/stat", "/0", "/007", "/4294967297", "/12x", "/-1", "/meminfo/x"};
    int got[ARRAY_SIZE(bad)];
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct vnode *vn = NULL;
        got[i] = vfs_lookup(&ctx, bad[i], &vn);
        if (got[i] == 0) vnode_put(vn);
    }
    bool saw_self = false;
    int entries = 0;
    struct vfs_file *d = NULL;
    struct vfs_dirent *de = kmalloc(sizeof *de);
    if (de && vfs_open(&ctx, "/", O_RDONLY | O_DIRECTORY, 0, &d) == 0) {
        while (vfs_readdir(d, de) == 1 && entries < 10000) {
            entries++;
            if (strcmp(de->name, "self") == 0) saw_self = true;
        }
        vfs_close(d);
    }
    kfree(de);
    int um = vfs_umount(m);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        ST_ASSERT(t, got[i] == -KENOENT || (i == ARRAY_SIZE(bad) - 1 && got[i] == -KENOTDIR), "lookup %s = %d", bad[i],
                  got[i]);
    ST_ASSERT(t, entries >= 2 + 6 && !saw_self, "readdir: %d entries, self listed %d", entries, saw_self);
    ST_ASSERT(t, um == 0, "umount = %d", um);
}
