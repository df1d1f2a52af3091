/* procfs_selftest.c: self-tests of procfs (kernel/fs/procfs.c), group `procfs`. Each test
 * mounts a detached procfs instance and reads one file through the VFS (vfs.h): it must open,
 * give non-empty text, and contain what the file is about. */
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
    bool root = contains(text, " / "), tmp = contains(text, "tmpfs");
    kfree(text);
    ST_ASSERT(t, root, "mounts does not list \" / \"");
    ST_ASSERT(t, tmp, "mounts does not list tmpfs");
}

SELFTEST(procfs, meminfo_has_free_frames) {
    char *text = NULL;
    int64_t n = read_proc_file("/meminfo", &text);
    ST_ASSERT(t, n > 0, "reading meminfo: %ld", (long)n);
    const char *p = text;
    bool found = false;
    for (; *p; p++) {
        if (strncmp(p, "FramesFree:", 11) == 0) {
            p += 11;
            while (*p == ' ') p++;
            found = *p >= '1' && *p <= '9';
            break;
        }
    }
    kfree(text);
    ST_ASSERT(t, found, "meminfo has no non-zero FramesFree number");
}

SELFTEST(procfs, tasks_lists_idle) {
    char *text = NULL;
    int64_t n = read_proc_file("/tasks", &text);
    ST_ASSERT(t, n > 0, "reading tasks: %ld", (long)n);
    bool idle = contains(text, " idle ");
    kfree(text);
    ST_ASSERT(t, idle, "tasks does not list idle");
}

SELFTEST(procfs, uptime_is_seconds_with_two_decimals) {
    char *text = NULL;
    int64_t n = read_proc_file("/uptime", &text);
    ST_ASSERT(t, n > 0, "reading uptime: %ld", (long)n);
    const char *p = text;
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    bool ok = digits > 0 && p[0] == '.' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] == '\n';
    kfree(text);
    ST_ASSERT(t, ok, "uptime is not \"S.CC\\n\"");
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
