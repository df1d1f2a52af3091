/* pty_selftest.c: self-tests of pseudo-terminals (group `pty`), against tty.h and Linux's
 * pty(7): numbering (lowest free number, ENOSPC after PTY_MAX pairs, numbers reused), the
 * /dev/pts entries coming and going with the master, the slave lock (EIO), data and echo
 * through the shared line discipline, EIO on the master once the slave is closed, the
 * hang-up of the slave when the master closes, the bounds of both buffers (EAGAIN), and that
 * a pair leaves no heap memory behind. Works through a detached devfs instance and the VFS,
 * with kernel-space ioctl arguments (tty_ioctl_kernel). The user-space view (sessions,
 * signals, the same checks on host Linux) is user/bin/ptytest, run by group `proc`. */
#include "tty.h"
#include "vfs.h"
#include "selftest.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"

struct devfs_inst {
    struct vfs_mount *m;
    struct vfs_ctx ctx;
};

static int dev_mount(struct devfs_inst *d) {
    int r = vfs_mount(NULL, NULL, "devfs", NULL, NULL, &d->m);
    if (r == 0) d->ctx.root = d->ctx.cwd = d->m->root;
    return r;
}

/* Opens a new master (O_RDWR | O_NOCTTY | extra) in *m; its number, or -errno. */
static int open_master(struct devfs_inst *d, uint32_t extra, struct vfs_file **m) {
    int r = vfs_open(&d->ctx, "/ptmx", O_RDWR | O_NOCTTY | extra, 0, m);
    return r < 0 ? r : pty_master_index(*m);
}

/* Unlocks master m and opens its slave in *s: 0 or -errno. */
static int open_slave(struct devfs_inst *d, struct vfs_file *m, uint32_t extra, struct vfs_file **s) {
    int unlock = 0;
    int r = (int)tty_ioctl_kernel(m, TIOCSPTLCK, (uint64_t)&unlock);
    if (r < 0) return r;
    char path[32];
    ksnprintf(path, sizeof path, "/pts/%d", pty_master_index(m));
    return vfs_open(&d->ctx, path, O_RDWR | O_NOCTTY | extra, 0, s);
}

static bool pts_exists(struct devfs_inst *d, int n) {
    char path[32];
    struct vfs_stat st;
    ksnprintf(path, sizeof path, "/pts/%d", n);
    return vfs_stat(&d->ctx, path, &st) == 0;
}

/* True when /pts lists entry n. */
static bool pts_listed(struct devfs_inst *d, int n) {
    struct vfs_file *dir;
    if (vfs_open(&d->ctx, "/pts", O_RDONLY | O_DIRECTORY, 0, &dir) < 0) return false;
    char want[8];
    ksnprintf(want, sizeof want, "%d", n);
    struct vfs_dirent e;
    bool found = false;
    while (vfs_readdir(dir, &e) == 1)
        if (strcmp(e.name, want) == 0) found = true;
    vfs_close(dir);
    return found;
}

static uint64_t heap_allocations(void) {
    struct heap_stats hs;
    heap_get_stats(&hs);
    return hs.allocations;
}

SELFTEST(pty, numbers_lowest_free_enospc_reused_and_freed) {
    struct devfs_inst d = {0};
    ST_ASSERT(t, dev_mount(&d) == 0, "devfs mount failed");
    static struct vfs_file *m[PTY_MAX + 1];
    int base = pty_count();
    /* a first round makes every number's terminal object (kept for reuse) */
    int first_round = 0;
    while (first_round < PTY_MAX && open_master(&d, 0, &m[first_round]) >= 0) first_round++;
    for (int i = 0; i < first_round; i++) vfs_close(m[i]);
    uint64_t heap_before = heap_allocations();
    int opened = 0, last = 0;
    bool ascending = true;
    while (opened <= PTY_MAX) {
        last = open_master(&d, 0, &m[opened]);
        if (last < 0) break;
        if (opened && last <= pty_master_index(m[opened - 1])) ascending = false;
        opened++;
    }
    int full_err = last;
    int mid = opened / 2, mid_n = opened ? pty_master_index(m[mid]) : -1;
    if (opened) vfs_close(m[mid]);
    int again = opened ? open_master(&d, 0, &m[mid]) : -1;
    for (int i = 0; i < opened; i++) vfs_close(m[i]);
    int after = pty_count();
    uint64_t heap_after = heap_allocations();
    vfs_umount(d.m);
    ST_ASSERT(t, first_round == PTY_MAX - base, "first round opened %d pairs, %d were free", first_round, PTY_MAX - base);
    ST_ASSERT(t, opened == PTY_MAX - base && full_err == -KENOSPC, "opened %d pairs, then %d (expected %d, then -ENOSPC)",
              opened, full_err, PTY_MAX - base);
    ST_ASSERT(t, ascending, "numbers were not handed out lowest first");
    ST_ASSERT(t, again == mid_n, "after closing pair %d the next open got %d", mid_n, again);
    ST_ASSERT(t, after == base, "%d pairs before, %d after closing every master", base, after);
    /* other tasks may allocate meanwhile: a few allocations of slack, not one per pair */
    ST_ASSERT(t, heap_after <= heap_before + 8, "heap allocations %lu before, %lu after %d pairs",
              (unsigned long)heap_before, (unsigned long)heap_after, opened);
}

SELFTEST(pty, lock_entries_data_echo_and_eio) {
    struct devfs_inst d = {0};
    ST_ASSERT(t, dev_mount(&d) == 0, "devfs mount failed");
    struct vfs_file *m = NULL, *s = NULL, *locked_slave = NULL;
    int n = open_master(&d, 0, &m);
    ST_ASSERT(t, n >= 0, "open /ptmx: %d", n);
    char path[32];
    ksnprintf(path, sizeof path, "/pts/%d", n);
    int lr = vfs_open(&d.ctx, path, O_RDWR | O_NOCTTY, 0, &locked_slave);
    if (lr == 0) vfs_close(locked_slave);
    bool listed = pts_listed(&d, n);
    uint32_t ptn = 99;
    int64_t gr = tty_ioctl_kernel(m, TIOCGPTN, (uint64_t)&ptn);
    int sr = open_slave(&d, m, 0, &s);
    char buf[32] = {0};
    int64_t w = sr == 0 ? vfs_write(m, "hi\n", 3) : -1;
    int64_t rs = sr == 0 ? vfs_read(s, buf, sizeof buf) : -1;
    bool line_ok = rs == 3 && memcmp(buf, "hi\n", 3) == 0;
    int64_t rm = sr == 0 ? vfs_read(m, buf, sizeof buf) : -1;
    bool echo_ok = rm == 4 && memcmp(buf, "hi\r\n", 4) == 0;
    int64_t ws = sr == 0 ? vfs_write(s, "out", 3) : -1;
    if (s) vfs_close(s);
    int64_t rm2 = vfs_read(m, buf, sizeof buf);
    int64_t rm3 = vfs_read(m, buf, sizeof buf);
    int pairs_open = pty_count();
    vfs_close(m);
    bool gone = !pts_exists(&d, n);
    vfs_umount(d.m);
    ST_ASSERT(t, lr == -KEIO, "a locked slave opened with %d, expected -EIO", lr);
    ST_ASSERT(t, listed, "/pts does not list %d", n);
    ST_ASSERT(t, gr == 0 && ptn == (uint32_t)n, "TIOCGPTN %ld: %u, expected %d", (long)gr, ptn, n);
    ST_ASSERT(t, sr == 0, "the unlocked slave: %d", sr);
    ST_ASSERT(t, w == 3 && line_ok, "master write %ld, slave read %ld", (long)w, (long)rs);
    ST_ASSERT(t, echo_ok, "echo on the master: %ld bytes", (long)rm);
    ST_ASSERT(t, ws == 3 && rm2 == 3 && rm3 == -KEIO, "after the slave closed: write %ld, reads %ld then %ld (want 3, -EIO)",
              (long)ws, (long)rm2, (long)rm3);
    ST_ASSERT(t, pairs_open >= 1, "the pair vanished while its master was open");
    ST_ASSERT(t, gone, "/pts/%d still exists after the master closed", n);
}

SELFTEST(pty, master_close_hangs_up_the_slave) {
    struct devfs_inst d = {0};
    ST_ASSERT(t, dev_mount(&d) == 0, "devfs mount failed");
    int base = pty_count();
    struct vfs_file *m = NULL, *s = NULL;
    int n = open_master(&d, 0, &m);
    ST_ASSERT(t, n >= 0, "open /ptmx: %d", n);
    int sr = open_slave(&d, m, 0, &s);
    if (sr < 0) vfs_close(m);
    ST_ASSERT(t, sr == 0, "open slave: %d", sr);
    vfs_write(m, "unread\n", 7);
    vfs_close(m);
    bool gone = !pts_exists(&d, n);
    int during = pty_count();
    char buf[16];
    int64_t r = vfs_read(s, buf, sizeof buf);
    int64_t w = vfs_write(s, "x", 1);
    struct wait_queue *wqs[2];
    uint32_t pm = s->fops->poll(s, wqs);
    struct ktermios k;
    int64_t ir = tty_ioctl_kernel(s, TCGETS, (uint64_t)&k);
    vfs_close(s);
    int after = pty_count();
    vfs_umount(d.m);
    ST_ASSERT(t, gone, "/pts/%d still exists after the master closed", n);
    ST_ASSERT(t, during == base + 1 && after == base, "pairs: %d with the slave open, %d after (base %d)", during, after, base);
    ST_ASSERT(t, r == 0, "a hung-up slave read %ld, expected 0", (long)r);
    ST_ASSERT(t, w == -KEIO, "a hung-up slave write %ld, expected -EIO", (long)w);
    ST_ASSERT(t, (pm & (VFS_POLLHUP | VFS_POLLIN)) == (VFS_POLLHUP | VFS_POLLIN), "hung-up poll %#x", pm);
    ST_ASSERT(t, ir == -KEIO, "a hung-up slave TCGETS %ld, expected -EIO", (long)ir);
}

SELFTEST(pty, both_buffers_are_bounded) {
    struct devfs_inst d = {0};
    ST_ASSERT(t, dev_mount(&d) == 0, "devfs mount failed");
    struct vfs_file *m = NULL, *s = NULL;
    int n = open_master(&d, O_NONBLOCK, &m);
    ST_ASSERT(t, n >= 0, "open /ptmx: %d", n);
    int sr = open_slave(&d, m, O_NONBLOCK, &s);
    if (sr < 0) vfs_close(m);
    ST_ASSERT(t, sr == 0, "open slave: %d", sr);
    struct ktermios k;
    tty_ioctl_kernel(s, TCGETS, (uint64_t)&k);
    k.c_lflag &= ~(ICANON | ECHO | ISIG | IEXTEN);
    k.c_iflag = 0;
    k.c_oflag = 0;
    k.c_cc[VMIN] = 1;
    k.c_cc[VTIME] = 0;
    tty_ioctl_kernel(s, TCSETS, (uint64_t)&k);
    static char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    uint64_t in = 0, out = 0;
    int64_t r;
    while ((r = vfs_write(m, chunk, sizeof chunk)) > 0 && in < (1u << 20)) in += (uint64_t)r;
    int64_t in_err = r;
    while ((r = vfs_write(s, chunk, sizeof chunk)) > 0 && out < (1u << 20)) out += (uint64_t)r;
    int64_t out_err = r;
    struct wait_queue *wqs[2];
    uint32_t full_m = m->fops->poll(m, wqs), full_s = s->fops->poll(s, wqs);
    static char sink[PTY_BUF_SIZE];
    int64_t got_s = vfs_read(s, sink, sizeof sink), got_m = vfs_read(m, sink, sizeof sink);
    vfs_close(s);
    vfs_close(m);
    vfs_umount(d.m);
    ST_ASSERT(t, in == TTY_INPUT_SIZE && in_err == -KEAGAIN, "master wrote %lu then %ld (want %u, -EAGAIN)",
              (unsigned long)in, (long)in_err, TTY_INPUT_SIZE);
    ST_ASSERT(t, out == PTY_BUF_SIZE && out_err == -KEAGAIN, "slave wrote %lu then %ld (want %u, -EAGAIN)",
              (unsigned long)out, (long)out_err, PTY_BUF_SIZE);
    ST_ASSERT(t, !(full_m & VFS_POLLOUT) && (full_m & VFS_POLLIN), "full master poll %#x", full_m);
    ST_ASSERT(t, !(full_s & VFS_POLLOUT) && (full_s & VFS_POLLIN), "full slave poll %#x", full_s);
    ST_ASSERT(t, got_s == TTY_INPUT_SIZE && got_m == PTY_BUF_SIZE, "read back %ld and %ld", (long)got_s, (long)got_m);
}

