/* sys_file_selftest.c: self-tests of the file system calls (group `sys_file`), against the
 * Linux man-pages semantics implemented by fd.c, sys_file.c, sys_path.c and sys_poll.c.
 *
 * Each test gets a process of its own (proc_test_enter), maps a scratch region of user
 * memory with uvm_map and calls the system calls through syscall_invoke with user addresses,
 * as a program would. Files live under /tmp/sft-NAME and are removed afterwards. Covered:
 * open/read/write/lseek/close, O_CREAT|O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, umask;
 * dup/dup2/dup3 sharing offsets; close-on-exec and fcntl; pipe2 incl. O_NONBLOCK EAGAIN,
 * EPIPE + SIGPIPE; getdents64 names, types and tiny buffers; stat fields; *at calls with
 * dirfds; chdir/fchdir/getcwd; poll and select on pipes (timeout 0 at once, wake-up by a
 * writer, timeouts); large and vectored I/O through the bounce buffer; hostile input (bad
 * pointers, bad fds, unterminated paths, huge lengths, iovcnt 1025); a full descriptor
 * table; and that nothing leaks. */
#include "proc.h"
#include "proc_internal.h"
#include "syscall.h"
#include "uaccess.h"
#include "uvm.h"
#include "vfs.h"
#include "selftest.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "sched.h"

#define AT_FDCWD_U ((uint64_t)(int64_t)-100)
#define AT_REMOVEDIR 0x200
#define AT_EMPTY_PATH 0x1000
#define O_CLOEXEC_K 02000000
#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030
#define FIONREAD 0x541B
#define FIONCLEX 0x5450
#define FIOCLEX 0x5451
#define TCGETS 0x5401
#define POLLIN 0x1
#define POLLOUT 0x4
#define POLLERR 0x8
#define POLLHUP 0x10
#define POLLNVAL 0x20
#define MS 1000000ull
#define SCRATCH_SIZE (1024 * 1024)
#define BAD_USER 0x400000ull /* never mapped: uvm_map hands out addresses from the top */

/* A test's process and its bump-allocated user scratch memory. */
struct env {
    uint64_t base, next;
    char dir[64]; /* /tmp/sft-NAME */
};

static int64_t sc_call(uint32_t nr, const uint64_t a[6]) { return syscall_invoke(nr, a[0], a[1], a[2], a[3], a[4], a[5]); }
/* SC(SYS_x, args...): the system call with up to six arguments (the rest are 0). */
#define SC(nr, ...) sc_call(nr, (const uint64_t[6]){__VA_ARGS__})

static uint64_t ualloc(struct env *e, size_t n) {
    uint64_t a = e->next;
    e->next += ALIGN_UP(n, 16);
    return e->next <= e->base + SCRATCH_SIZE ? a : BAD_USER;
}

/* A copy of s in user memory. */
static uint64_t ustr(struct env *e, const char *s) {
    size_t n = strlen(s) + 1;
    uint64_t a = ualloc(e, n);
    copy_to_user((void *)a, s, n);
    return a;
}

/* "/tmp/sft-NAME/rel" in user memory. */
static uint64_t upath(struct env *e, const char *rel) {
    char buf[160];
    ksnprintf(buf, sizeof(buf), "%s/%s", e->dir, rel);
    return ustr(e, buf);
}

static void uget(uint64_t a, void *dst, size_t n) { copy_from_user(dst, (const void *)a, n); }
static void uput(uint64_t a, const void *src, size_t n) { copy_to_user((void *)a, src, n); }
static int uget_int(uint64_t a) {
    int v = 0;
    uget(a, &v, sizeof(v));
    return v;
}

/* Removes a directory tree (two levels) through the VFS. */
static void rm_tree(const char *path, int depth) {
    struct vfs_file *f;
    if (vfs_open(NULL, path, O_RDONLY | O_DIRECTORY, 0, &f) < 0) {
        vfs_unlink(NULL, path);
        return;
    }
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    char *child = kmalloc(VFS_PATH_MAX);
    for (int pass = 0; de && child && pass < 8; pass++) {
        bool any = false;
        vfs_lseek(f, 0, SEEK_SET);
        while (vfs_readdir(f, de) == 1) {
            if (de->name[0] == '.' && (!de->name[1] || (de->name[1] == '.' && !de->name[2]))) continue;
            ksnprintf(child, VFS_PATH_MAX, "%s/%s", path, de->name);
            if (VFS_ISDIR(de->type) && depth > 0) rm_tree(child, depth - 1);
            else vfs_unlink(NULL, child);
            any = true;
        }
        if (!any) break;
    }
    kfree(de);
    kfree(child);
    vfs_close(f);
    vfs_rmdir(NULL, path);
}

static int env_enter(struct env *e, const char *name) {
    int r = proc_test_enter();
    if (r < 0) return r;
    e->base = 0;
    r = uvm_map(proc_current()->vm, &e->base, SCRATCH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    if (r < 0) {
        proc_test_leave();
        return r;
    }
    e->next = e->base;
    ksnprintf(e->dir, sizeof(e->dir), "/tmp/sft-%s", name);
    rm_tree(e->dir, 3);
    proc_current()->umask = 022;
    return (int)SC(SYS_mkdir, ustr(e, e->dir), 0755);
}

static void env_leave(struct env *e) {
    rm_tree(e->dir, 3);
    proc_test_leave();
}

/* A test body runs between env_enter and env_leave, so an early ST_ASSERT return still
 * cleans up. */
#define SF_TEST(name)                                                                         \
    static void body_##name(struct selftest_ctx *t, struct env *e);                           \
    SELFTEST_TIMEOUT(sys_file, name, 60000) {                                                 \
        struct env e;                                                                         \
        int r_ = env_enter(&e, #name);                                                        \
        if (r_ < 0) {                                                                         \
            selftest_fail(t, "test process setup failed: %d", r_);                            \
            proc_test_leave();                                                                \
            return;                                                                           \
        }                                                                                     \
        body_##name(t, &e);                                                                   \
        env_leave(&e);                                                                        \
    }                                                                                         \
    static void body_##name(struct selftest_ctx *t, struct env *e)

/* Linux struct stat fields at their x86-64 offsets. */
struct ustat {
    uint64_t dev, ino, nlink;
    uint32_t mode, uid, gid, pad;
    uint64_t rdev;
    int64_t size, blksize, blocks, atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns, reserved[3];
};

static int64_t stat_of(struct env *e, uint64_t upath_addr, struct ustat *st) {
    uint64_t b = ualloc(e, sizeof(*st));
    int64_t r = SC(SYS_stat, upath_addr, b);
    uget(b, st, sizeof(*st));
    return r;
}

/* ---- basic I/O ---- */

SF_TEST(open_read_write_lseek) {
    uint64_t p = upath(e, "a"), buf = ualloc(e, 64);
    int64_t fd = SC(SYS_open, p, O_CREAT | O_RDWR, 0644);
    ST_ASSERT(t, fd >= 0, "open(O_CREAT) = %ld", (long)fd);
    uput(buf, "hello world", 11);
    int64_t w = SC(SYS_write, fd, buf, 11);
    int64_t s0 = SC(SYS_lseek, fd, 0, SEEK_SET);
    int64_t n = SC(SYS_read, fd, buf + 16, 64 - 16);
    char got[16] = {0};
    uget(buf + 16, got, 11);
    ST_ASSERT(t, w == 11 && s0 == 0 && n == 11 && memcmp(got, "hello world", 11) == 0,
              "write %ld, lseek %ld, read %ld '%s'", (long)w, (long)s0, (long)n, got);
    int64_t se = SC(SYS_lseek, fd, (uint64_t)-5, SEEK_END);
    n = SC(SYS_read, fd, buf + 32, 16);
    memset(got, 0, sizeof(got));
    uget(buf + 32, got, 5);
    int64_t eof = SC(SYS_read, fd, buf, 16);
    ST_ASSERT(t, se == 6 && n == 5 && memcmp(got, "world", 5) == 0 && eof == 0, "SEEK_END -5 = %ld, read %ld, eof %ld",
              (long)se, (long)n, (long)eof);
    uput(buf, "HELLO", 5);
    int64_t pw = SC(SYS_pwrite64, fd, buf, 5, 0);
    int64_t pr = SC(SYS_pread64, fd, buf + 48, 11, 0);
    int64_t cur = SC(SYS_lseek, fd, 0, SEEK_CUR);
    memset(got, 0, sizeof(got));
    uget(buf + 48, got, 11);
    ST_ASSERT(t, pw == 5 && pr == 11 && memcmp(got, "HELLO world", 11) == 0 && cur == 11,
              "pwrite %ld, pread %ld '%s', offset %ld (want 11)", (long)pw, (long)pr, got, (long)cur);
    int64_t neg = SC(SYS_lseek, fd, (uint64_t)-1, SEEK_SET), badwh = SC(SYS_lseek, fd, 0, 7);
    int64_t negoff = SC(SYS_pread64, fd, buf, 1, (uint64_t)-1);
    ST_ASSERT(t, neg == -KEINVAL && badwh == -KEINVAL && negoff == -KEINVAL, "bad lseek/pread: %ld %ld %ld", (long)neg,
              (long)badwh, (long)negoff);
    int64_t zero = SC(SYS_read, fd, 0, 0);
    ST_ASSERT(t, zero == 0, "read of 0 bytes = %ld", (long)zero);
    ST_ASSERT(t, SC(SYS_close, fd) == 0, "close failed");
    ST_ASSERT(t, SC(SYS_close, fd) == -KEBADF, "second close not EBADF");
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(open_flags) {
    uint64_t p = upath(e, "f"), buf = ualloc(e, 64);
    int64_t fd = SC(SYS_open, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
    ST_ASSERT(t, fd >= 0, "O_CREAT|O_EXCL on a new file = %ld", (long)fd);
    uput(buf, "0123456789", 10);
    SC(SYS_write, fd, buf, 10);
    SC(SYS_close, fd);
    int64_t ex = SC(SYS_open, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
    ST_ASSERT(t, ex == -KEEXIST, "O_EXCL on an existing file = %ld", (long)ex);
    /* O_APPEND: every write goes to the end, whatever the offset */
    fd = SC(SYS_open, p, O_WRONLY | O_APPEND);
    SC(SYS_lseek, fd, 0, SEEK_SET);
    int64_t w = SC(SYS_write, fd, buf, 3);
    int64_t fl = SC(SYS_fcntl, fd, F_GETFL);
    SC(SYS_close, fd);
    struct ustat st;
    stat_of(e, p, &st);
    ST_ASSERT(t, w == 3 && st.size == 13, "append write %ld, size %ld (want 13)", (long)w, (long)st.size);
    ST_ASSERT(t, (fl & O_ACCMODE_K) == O_WRONLY && (fl & O_APPEND), "F_GETFL = %#lx", (long)fl);
    /* O_TRUNC */
    fd = SC(SYS_open, p, O_RDWR | O_TRUNC);
    stat_of(e, p, &st);
    int64_t rdonly_write;
    SC(SYS_close, fd);
    ST_ASSERT(t, fd >= 0 && st.size == 0, "O_TRUNC left size %ld", (long)st.size);
    /* access modes */
    fd = SC(SYS_open, p, O_RDONLY);
    rdonly_write = SC(SYS_write, fd, buf, 1);
    SC(SYS_close, fd);
    fd = SC(SYS_open, p, O_WRONLY);
    int64_t wronly_read = SC(SYS_read, fd, buf, 1);
    SC(SYS_close, fd);
    ST_ASSERT(t, rdonly_write == -KEBADF && wronly_read == -KEBADF, "wrong-mode I/O: %ld %ld", (long)rdonly_write,
              (long)wronly_read);
    /* O_DIRECTORY, directories, missing files, bad flags */
    int64_t nd = SC(SYS_open, p, O_RDONLY | O_DIRECTORY);
    int64_t dfd = SC(SYS_open, ustr(e, e->dir), O_RDONLY | O_DIRECTORY);
    int64_t dread = SC(SYS_read, dfd, buf, 8);
    int64_t dwr = SC(SYS_open, ustr(e, e->dir), O_WRONLY);
    SC(SYS_close, dfd);
    int64_t missing = SC(SYS_open, upath(e, "nope"), O_RDONLY);
    int64_t creatdir = SC(SYS_open, upath(e, "cd"), O_CREAT | O_DIRECTORY | O_RDWR, 0755);
    int64_t acc3 = SC(SYS_open, p, 3);
    int64_t tmpf = SC(SYS_open, ustr(e, e->dir), 020200000 | O_RDWR, 0600);
    ST_ASSERT(t, nd == -KENOTDIR && dfd >= 0 && dread == -KEISDIR && dwr == -KEISDIR,
              "O_DIRECTORY on a file %ld, dir open %ld, read %ld, O_WRONLY dir %ld", (long)nd, (long)dfd, (long)dread,
              (long)dwr);
    ST_ASSERT(t, missing == -KENOENT && creatdir == -KEINVAL && acc3 == -KEINVAL && tmpf == -KEOPNOTSUPP,
              "missing %ld, O_CREAT|O_DIRECTORY %ld, O_ACCMODE %ld, O_TMPFILE %ld", (long)missing, (long)creatdir,
              (long)acc3, (long)tmpf);
    /* umask applies to new files and directories; creat() truncates */
    int64_t old = SC(SYS_umask, 077);
    fd = SC(SYS_creat, upath(e, "u"), 0666);
    SC(SYS_close, fd);
    SC(SYS_mkdir, upath(e, "ud"), 0777);
    int64_t prev = SC(SYS_umask, old);
    struct ustat su, sd;
    stat_of(e, upath(e, "u"), &su);
    stat_of(e, upath(e, "ud"), &sd);
    ST_ASSERT(t, old == 022 && prev == 077, "umask returned %lo, %lo", (long)old, (long)prev);
    ST_ASSERT(t, (su.mode & 0777) == 0600 && (sd.mode & 0777) == 0700 && (sd.mode & S_IFMT) == S_IFDIR,
              "modes under umask 077: file %o, dir %o", su.mode, sd.mode);
    /* O_PATH: fstat and *at work, I/O does not; poll says POLLNVAL */
    int64_t pfd = SC(SYS_open, p, 010000000 | O_RDWR | O_CREAT | O_TRUNC);
    int64_t prd = SC(SYS_read, pfd, buf, 1), pst = SC(SYS_fstat, pfd, ualloc(e, 144));
    struct {
        int32_t fd;
        int16_t events, revents;
    } pp = {(int32_t)pfd, 1, 0};
    uint64_t upp = ualloc(e, sizeof(pp));
    uput(upp, &pp, sizeof(pp));
    int64_t ppr = SC(SYS_poll, upp, 1, 0);
    uget(upp, &pp, sizeof(pp));
    int64_t pdir = SC(SYS_open, ustr(e, e->dir), 010000000 | O_DIRECTORY);
    int64_t pat = SC(SYS_newfstatat, pdir, ustr(e, "u"), ualloc(e, 144), 0);
    SC(SYS_close, pfd);
    SC(SYS_close, pdir);
    ST_ASSERT(t, pfd >= 0 && prd == -KEBADF && pst == 0 && ppr == 1 && pp.revents == 0x20 && pat == 0,
              "O_PATH: open %ld, read %ld, fstat %ld, poll %ld/%#x, fstatat via O_PATH dir %ld", (long)pfd, (long)prd,
              (long)pst, (long)ppr, pp.revents, (long)pat);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(dup_shares_offset) {
    uint64_t p = upath(e, "d"), buf = ualloc(e, 16);
    int64_t fd = SC(SYS_open, p, O_CREAT | O_RDWR, 0644);
    int64_t other = SC(SYS_open, upath(e, "other"), O_CREAT | O_RDWR, 0644);
    int64_t d1 = SC(SYS_dup, fd);
    int64_t d2 = SC(SYS_dup2, fd, 40);
    int64_t d3 = SC(SYS_dup3, fd, other, 0); /* replaces the other file */
    ST_ASSERT(t, fd >= 0 && d1 > fd && d2 == 40 && d3 == other, "fd %ld dup %ld dup2 %ld dup3 %ld", (long)fd, (long)d1,
              (long)d2, (long)d3);
    uput(buf, "abcdef", 6);
    SC(SYS_write, d1, buf, 2);
    SC(SYS_write, d2, buf, 2);
    SC(SYS_write, d3, buf, 2);
    int64_t pos = SC(SYS_lseek, fd, 0, SEEK_CUR);
    ST_ASSERT(t, pos == 6, "offset after writes through three duplicates = %ld, want 6", (long)pos);
    uint64_t sb = ualloc(e, 144), sb2 = ualloc(e, 144);
    struct ustat a, b;
    SC(SYS_fstat, fd, sb);
    SC(SYS_fstat, other, sb2);
    uget(sb, &a, sizeof(a));
    uget(sb2, &b, sizeof(b));
    ST_ASSERT(t, a.ino == b.ino && b.size == 6, "dup3 target is not the same file (ino %lu vs %lu)", (unsigned long)a.ino,
              (unsigned long)b.ino);
    int64_t same2 = SC(SYS_dup2, fd, fd), same3 = SC(SYS_dup3, fd, fd, 0), badfl = SC(SYS_dup3, fd, 50, 1);
    int64_t bad2 = SC(SYS_dup2, 77, 78), range = SC(SYS_dup2, fd, FD_MAX), neg = SC(SYS_dup2, fd, (uint64_t)-1);
    ST_ASSERT(t, same2 == fd && same3 == -KEINVAL && badfl == -KEINVAL, "dup2 same %ld, dup3 same %ld, dup3 flags %ld",
              (long)same2, (long)same3, (long)badfl);
    ST_ASSERT(t, bad2 == -KEBADF && range == -KEBADF && neg == -KEBADF, "dup2 bad: %ld %ld %ld", (long)bad2, (long)range,
              (long)neg);
    SC(SYS_close, fd);
    SC(SYS_close, d1);
    SC(SYS_close, d2);
    SC(SYS_close, d3);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(cloexec_and_fcntl) {
    uint64_t p = upath(e, "c");
    int64_t fd = SC(SYS_open, p, O_CREAT | O_RDWR | O_CLOEXEC_K, 0644);
    int64_t g1 = SC(SYS_fcntl, fd, F_GETFD);
    int64_t s0 = SC(SYS_fcntl, fd, F_SETFD, 0);
    int64_t g2 = SC(SYS_fcntl, fd, F_GETFD);
    ST_ASSERT(t, fd >= 0 && g1 == 1 && s0 == 0 && g2 == 0, "O_CLOEXEC: getfd %ld, setfd %ld, getfd %ld", (long)g1, (long)s0,
              (long)g2);
    int64_t d = SC(SYS_dup, fd), d3 = SC(SYS_dup3, fd, 20, O_CLOEXEC_K);
    int64_t f10 = SC(SYS_fcntl, fd, F_DUPFD, 10), f11 = SC(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 10);
    ST_ASSERT(t, SC(SYS_fcntl, d, F_GETFD) == 0 && SC(SYS_fcntl, d3, F_GETFD) == 1, "dup/dup3 close-on-exec flags wrong");
    ST_ASSERT(t, f10 == 10 && f11 == 11 && SC(SYS_fcntl, f11, F_GETFD) == 1 && SC(SYS_fcntl, f10, F_GETFD) == 0,
              "F_DUPFD %ld, F_DUPFD_CLOEXEC %ld", (long)f10, (long)f11);
    int64_t neg = SC(SYS_fcntl, fd, F_DUPFD, (uint64_t)-1), big = SC(SYS_fcntl, fd, F_DUPFD, FD_MAX);
    int64_t unk = SC(SYS_fcntl, fd, 999), badfd = SC(SYS_fcntl, 99, F_GETFD);
    ST_ASSERT(t, neg == -KEINVAL && big == -KEINVAL && unk == -KEINVAL && badfd == -KEBADF, "fcntl bad: %ld %ld %ld %ld",
              (long)neg, (long)big, (long)unk, (long)badfd);
    int64_t sfl = SC(SYS_fcntl, fd, F_SETFL, O_NONBLOCK | O_APPEND | O_RDONLY);
    int64_t fl = SC(SYS_fcntl, fd, F_GETFL);
    ST_ASSERT(t, sfl == 0 && (fl & O_NONBLOCK) && (fl & O_APPEND) && (fl & O_ACCMODE_K) == O_RDWR,
              "F_SETFL then F_GETFL = %#lx (access mode must not change)", (long)fl);
    int64_t i1 = SC(SYS_ioctl, d, FIOCLEX), gi = SC(SYS_fcntl, d, F_GETFD);
    int64_t i2 = SC(SYS_ioctl, d, FIONCLEX), gi2 = SC(SYS_fcntl, d, F_GETFD);
    ST_ASSERT(t, i1 == 0 && gi == 1 && i2 == 0 && gi2 == 0, "FIOCLEX/FIONCLEX: %ld %ld %ld %ld", (long)i1, (long)gi,
              (long)i2, (long)gi2);
    /* exec closes exactly the close-on-exec descriptors: d3 and f11 */
    SC(SYS_fcntl, fd, F_SETFD, 0);
    int before = fd_count();
    fd_table_close_on_exec(proc_current()->fds);
    int after = fd_count();
    ST_ASSERT(t, before == 5 && after == 3 && SC(SYS_fcntl, d3, F_GETFD) == -KEBADF && SC(SYS_fcntl, f10, F_GETFD) == 0,
              "close-on-exec: %d -> %d descriptors", before, after);
    SC(SYS_close, fd);
    SC(SYS_close, d);
    SC(SYS_close, f10);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

/* ---- pipes ---- */

/* Clears sig (true when it was pending) so that later waits of the test are not interrupted. */
static bool take_signal(int sig) {
    struct uthread *ut = uthread_current();
    uint64_t fl = spin_lock_irqsave(&proc_lock);
    bool was = ((ut->sig_pending | ut->proc->sig_pending) & SIGBIT(sig)) != 0;
    ut->sig_pending &= ~SIGBIT(sig);
    ut->proc->sig_pending &= ~SIGBIT(sig);
    signal_recalc(task_current());
    spin_unlock_irqrestore(&proc_lock, fl);
    return was;
}

SF_TEST(pipe2_round_trip) {
    uint64_t fds = ualloc(e, 8), buf = ualloc(e, 16), ival = ualloc(e, 4);
    int64_t r = SC(SYS_pipe2, fds, O_NONBLOCK | O_CLOEXEC_K);
    int pfd[2];
    uget(fds, pfd, 8);
    ST_ASSERT(t, r == 0 && pfd[0] >= 0 && pfd[1] >= 0 && pfd[0] != pfd[1], "pipe2 = %ld (%d, %d)", (long)r, pfd[0], pfd[1]);
    ST_ASSERT(t, SC(SYS_fcntl, pfd[0], F_GETFD) == 1 && (SC(SYS_fcntl, pfd[1], F_GETFL) & O_NONBLOCK),
              "pipe2 flags not applied");
    int64_t empty = SC(SYS_read, pfd[0], buf, 16);
    uput(buf, "abc", 3);
    int64_t w = SC(SYS_write, pfd[1], buf, 3);
    int64_t nread = SC(SYS_ioctl, pfd[0], FIONREAD, ival);
    int avail = uget_int(ival);
    int64_t n = SC(SYS_read, pfd[0], buf + 8, 16 - 8);
    char got[4] = {0};
    uget(buf + 8, got, 3);
    ST_ASSERT(t, empty == -KEAGAIN && w == 3 && nread == 0 && avail == 3 && n == 3 && memcmp(got, "abc", 3) == 0,
              "empty read %ld, write %ld, FIONREAD %ld/%d, read %ld", (long)empty, (long)w, (long)nread, avail, (long)n);
    int64_t seek = SC(SYS_lseek, pfd[0], 0, SEEK_SET), pr = SC(SYS_pread64, pfd[0], buf, 1, 0);
    int64_t wrong = SC(SYS_write, pfd[0], buf, 1), fsync = SC(SYS_fsync, pfd[1]);
    ST_ASSERT(t, seek == -KESPIPE && pr == -KESPIPE && wrong == -KEBADF && fsync == -KEINVAL,
              "lseek %ld, pread %ld, write to read end %ld, fsync %ld", (long)seek, (long)pr, (long)wrong, (long)fsync);
    /* a full pipe: a large write goes in partly, the next one is EAGAIN */
    uint64_t big = ualloc(e, PIPE_CAPACITY + 4464);
    int64_t part = SC(SYS_write, pfd[1], big, PIPE_CAPACITY + 4464), full = SC(SYS_write, pfd[1], buf, 1);
    struct upollfd_s {
        int32_t fd;
        int16_t events, revents;
    } pw = {pfd[1], 0x4, 0};
    uint64_t up = ualloc(e, sizeof(pw));
    uput(up, &pw, sizeof(pw));
    int64_t pr0 = SC(SYS_poll, up, 1, 0);
    ST_ASSERT(t, part == PIPE_CAPACITY && full == -KEAGAIN && pr0 == 0,
              "non-blocking writes into a full pipe: %ld then %ld; poll(POLLOUT) %ld", (long)part, (long)full, (long)pr0);
    SC(SYS_close, pfd[1]);
    int64_t drained = 0, n2;
    while ((n2 = SC(SYS_read, pfd[0], big, PIPE_CAPACITY + 4464)) > 0) drained += n2;
    int64_t eof = n2;
    SC(SYS_close, pfd[0]);
    ST_ASSERT(t, drained == PIPE_CAPACITY && eof == 0, "drained %ld, then read after the writer closed = %ld",
              (long)drained, (long)eof);
    /* EPIPE and SIGPIPE */
    r = SC(SYS_pipe, fds);
    uget(fds, pfd, 8);
    SC(SYS_close, pfd[0]);
    int64_t ep = SC(SYS_write, pfd[1], buf, 1);
    bool sig = take_signal(SIGPIPE);
    SC(SYS_close, pfd[1]);
    ST_ASSERT(t, r == 0 && ep == -KEPIPE && sig, "write without readers = %ld, SIGPIPE pending %d", (long)ep, sig);
    int64_t badfl = SC(SYS_pipe2, fds, 0x1), badptr = SC(SYS_pipe, BAD_USER), kptr = SC(SYS_pipe, (uint64_t)&r);
    ST_ASSERT(t, badfl == -KEINVAL && badptr == -KEFAULT && kptr == -KEFAULT, "pipe2 bad flags %ld, bad pointers %ld %ld",
              (long)badfl, (long)badptr, (long)kptr);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

/* ---- directories ---- */

/* Parses linux_dirent64 records: a bit per expected name found, -1 on a malformed record. */
static int parse_dirents(const uint8_t *b, int64_t len, const char *const *names, int count, uint8_t *types) {
    int found = 0;
    for (int64_t off = 0; off < len;) {
        uint16_t reclen;
        memcpy(&reclen, b + off + 16, 2);
        if (reclen < 24 || reclen % 8 || off + reclen > len) return -1;
        const char *name = (const char *)b + off + 19;
        for (int i = 0; i < count; i++) {
            if (strcmp(name, names[i]) == 0) {
                found |= 1 << i;
                types[i] = b[off + 18];
            }
        }
        off += reclen;
    }
    return found;
}

SF_TEST(getdents64_lists_names) {
    static const char *const names[] = {".", "..", "alpha", "beta", "gamma", "sub"};
    SC(SYS_mkdir, upath(e, "d"), 0755);
    SC(SYS_mkdir, upath(e, "d/sub"), 0755);
    for (int i = 2; i < 5; i++) {
        char rel[16];
        ksnprintf(rel, sizeof(rel), "d/%s", names[i]);
        SC(SYS_close, SC(SYS_open, upath(e, rel), O_CREAT | O_WRONLY, 0644));
    }
    int64_t fd = SC(SYS_open, upath(e, "d"), O_RDONLY | O_DIRECTORY);
    uint64_t ubuf = ualloc(e, 4096);
    int64_t n = SC(SYS_getdents64, fd, ubuf, 4096);
    int64_t end = SC(SYS_getdents64, fd, ubuf + 2048, 2048);
    static uint8_t kb[4096];
    uget(ubuf, kb, 4096);
    uint8_t types[6] = {0};
    int found = n > 0 ? parse_dirents(kb, n, names, 6, types) : -2;
    ST_ASSERT(t, found == 0x3f, "getdents64 = %ld, names found %#x (want 0x3f)", (long)n, found);
    ST_ASSERT(t, n == 24 + 24 + 32 + 24 + 32 + 24, "total record length %ld", (long)n);
    ST_ASSERT(t, types[0] == 4 && types[2] == 8 && types[5] == 4, "d_type: . %u alpha %u sub %u", types[0], types[2],
              types[5]);
    ST_ASSERT(t, end == 0, "getdents64 at the end = %ld", (long)end);
    /* a tiny buffer: -EINVAL; exactly one record: that record, and nothing is skipped */
    SC(SYS_lseek, fd, 0, SEEK_SET);
    int64_t tiny = SC(SYS_getdents64, fd, ubuf, 10);
    int64_t one = SC(SYS_getdents64, fd, ubuf, 24);
    uint8_t r1[24], r2[24];
    uget(ubuf, r1, 24);
    int64_t two = SC(SYS_getdents64, fd, ubuf, 24);
    uget(ubuf, r2, 24);
    ST_ASSERT(t, tiny == -KEINVAL && one == 24 && strcmp((char *)r1 + 19, ".") == 0 && two == 24 &&
                     strcmp((char *)r2 + 19, "..") == 0,
              "tiny %ld, one %ld '%s', two %ld '%s'", (long)tiny, (long)one, (char *)r1 + 19, (long)two, (char *)r2 + 19);
    /* the old getdents: d_type is the last byte of the record */
    SC(SYS_lseek, fd, 0, SEEK_SET);
    int64_t old = SC(SYS_getdents, fd, ubuf, 24);
    uget(ubuf, r1, 24);
    ST_ASSERT(t, old == 24 && strcmp((char *)r1 + 18, ".") == 0 && r1[23] == 4, "getdents = %ld, type %u", (long)old, r1[23]);
    int64_t file = SC(SYS_open, upath(e, "d/alpha"), O_RDONLY);
    int64_t notdir = SC(SYS_getdents64, file, ubuf, 4096), badfd = SC(SYS_getdents64, 99, ubuf, 4096);
    int64_t fault = SC(SYS_getdents64, fd, BAD_USER, 4096), kfault = SC(SYS_getdents64, fd, (uint64_t)kb, 4096);
    SC(SYS_close, file);
    SC(SYS_close, fd);
    ST_ASSERT(t, notdir == -KENOTDIR && badfd == -KEBADF && fault == -KEFAULT && kfault == -KEFAULT,
              "getdents64 on a file %ld, bad fd %ld, bad buffers %ld %ld", (long)notdir, (long)badfd, (long)fault,
              (long)kfault);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(stat_fields) {
    uint64_t p = upath(e, "s"), buf = ualloc(e, 1000);
    int64_t fd = SC(SYS_open, p, O_CREAT | O_RDWR, 0640);
    SC(SYS_write, fd, buf, 1000);
    struct ustat st, fst, lst, at, ae;
    uint64_t sb = ualloc(e, 144);
    int64_t r = stat_of(e, p, &st);
    int64_t fr = SC(SYS_fstat, fd, sb);
    uget(sb, &fst, sizeof(fst));
    int64_t lr = SC(SYS_lstat, p, sb);
    uget(sb, &lst, sizeof(lst));
    int64_t dfd = SC(SYS_open, ustr(e, e->dir), O_RDONLY | O_DIRECTORY);
    int64_t atr = SC(SYS_newfstatat, dfd, ustr(e, "s"), sb, 0);
    uget(sb, &at, sizeof(at));
    int64_t aer = SC(SYS_newfstatat, fd, ustr(e, ""), sb, AT_EMPTY_PATH);
    uget(sb, &ae, sizeof(ae));
    ST_ASSERT(t, r == 0 && st.size == 1000 && st.mode == (S_IFREG | 0640) && st.nlink >= 1 && st.blksize > 0,
              "stat = %ld: size %ld mode %o nlink %lu blksize %ld", (long)r, (long)st.size, st.mode,
              (unsigned long)st.nlink, (long)st.blksize);
    ST_ASSERT(t, st.mtime > 1500000000 && st.mtime_ns < 1000000000, "mtime %ld.%09ld", (long)st.mtime, (long)st.mtime_ns);
    ST_ASSERT(t, fr == 0 && lr == 0 && atr == 0 && aer == 0, "fstat %ld lstat %ld fstatat %ld AT_EMPTY_PATH %ld", (long)fr,
              (long)lr, (long)atr, (long)aer);
    ST_ASSERT(t, fst.ino == st.ino && lst.ino == st.ino && at.ino == st.ino && ae.ino == st.ino && fst.dev == st.dev,
              "inode numbers differ: %lu %lu %lu %lu %lu", (unsigned long)st.ino, (unsigned long)fst.ino,
              (unsigned long)lst.ino, (unsigned long)at.ino, (unsigned long)ae.ino);
    struct ustat ds;
    int64_t dr = stat_of(e, ustr(e, e->dir), &ds);
    int64_t missing = stat_of(e, upath(e, "none"), &ds);
    stat_of(e, ustr(e, e->dir), &ds);
    int64_t empty = SC(SYS_stat, ustr(e, ""), sb), badfl = SC(SYS_newfstatat, dfd, ustr(e, "s"), sb, 0x4);
    int64_t badbuf = SC(SYS_stat, p, BAD_USER), kbuf = SC(SYS_fstat, fd, (uint64_t)&st);
    ST_ASSERT(t, dr == 0 && (ds.mode & S_IFMT) == S_IFDIR && missing == -KENOENT && empty == -KENOENT && badfl == -KEINVAL,
              "dir stat %ld mode %o, missing %ld, empty path %ld, bad flags %ld", (long)dr, ds.mode, (long)missing,
              (long)empty, (long)badfl);
    ST_ASSERT(t, badbuf == -KEFAULT && kbuf == -KEFAULT, "stat into bad buffers: %ld %ld", (long)badbuf, (long)kbuf);
    /* statx: size and mode at their offsets (40, 28) */
    uint64_t sx = ualloc(e, 256);
    int64_t xr = SC(SYS_statx, AT_FDCWD_U, p, 0, 0x7ff, sx);
    uint8_t kx[256];
    uget(sx, kx, 256);
    uint64_t xsize;
    uint16_t xmode;
    memcpy(&xsize, kx + 40, 8);
    memcpy(&xmode, kx + 28, 2);
    ST_ASSERT(t, xr == 0 && xsize == 1000 && xmode == (S_IFREG | 0640), "statx = %ld size %lu mode %o", (long)xr,
              (unsigned long)xsize, xmode);
    /* statfs of /tmp: tmpfs magic, 4 KiB blocks */
    uint64_t sf = ualloc(e, 120);
    int64_t sfr = SC(SYS_statfs, ustr(e, "/tmp"), sf);
    int64_t sff = SC(SYS_fstatfs, fd, sf + 0);
    int64_t magic, bsize;
    uget(sf, &magic, 8);
    uget(sf + 8, &bsize, 8);
    ST_ASSERT(t, sfr == 0 && sff == 0 && magic == 0x01021994 && bsize == 4096, "statfs %ld/%ld magic %#lx bsize %ld",
              (long)sfr, (long)sff, (long)magic, (long)bsize);
    SC(SYS_close, fd);
    SC(SYS_close, dfd);
}

SF_TEST(chmod_and_links) {
    uint64_t p = upath(e, "c");
    int64_t fd = SC(SYS_open, p, O_CREAT | O_RDWR, 0644);
    struct ustat st;
    int64_t c1 = SC(SYS_chmod, p, 0600);
    stat_of(e, p, &st);
    uint32_t m1 = st.mode;
    int64_t c2 = SC(SYS_fchmod, fd, 04751);
    stat_of(e, p, &st);
    uint32_t m2 = st.mode;
    int64_t dfd = SC(SYS_open, ustr(e, e->dir), O_RDONLY | O_DIRECTORY);
    int64_t c3 = SC(SYS_fchmodat, dfd, ustr(e, "c"), 0444);
    stat_of(e, p, &st);
    ST_ASSERT(t, c1 == 0 && m1 == (S_IFREG | 0600) && c2 == 0 && m2 == (S_IFREG | 04751) && c3 == 0 &&
                     st.mode == (S_IFREG | 0444),
              "chmod %ld -> %o, fchmod %ld -> %o, fchmodat %ld -> %o", (long)c1, m1, (long)c2, m2, (long)c3, st.mode);
    int64_t miss = SC(SYS_chmod, upath(e, "none"), 0600), badfd = SC(SYS_fchmod, 99, 0600);
    int64_t badp = SC(SYS_chmod, BAD_USER, 0600);
    ST_ASSERT(t, miss == -KENOENT && badfd == -KEBADF && badp == -KEFAULT, "chmod errors: %ld %ld %ld", (long)miss,
              (long)badfd, (long)badp);
    int64_t l1 = SC(SYS_link, p, upath(e, "l")), l2 = SC(SYS_link, upath(e, "none"), upath(e, "l"));
    int64_t l3 = SC(SYS_link, p, p), l4 = SC(SYS_link, BAD_USER, upath(e, "l"));
    int64_t s1 = SC(SYS_symlink, ustr(e, "anything"), upath(e, "s")), s2 = SC(SYS_symlink, ustr(e, "x"), p);
    int64_t s3 = SC(SYS_symlink, ustr(e, ""), upath(e, "s"));
    ST_ASSERT(t, l1 == -KEPERM && l2 == -KENOENT && l3 == -KEEXIST && l4 == -KEFAULT,
              "link: %ld, missing source %ld, existing target %ld, bad pointer %ld", (long)l1, (long)l2, (long)l3,
              (long)l4);
    ST_ASSERT(t, s1 == -KEPERM && s2 == -KEEXIST && s3 == -KENOENT, "symlink: %ld, existing %ld, empty target %ld",
              (long)s1, (long)s2, (long)s3);
    SC(SYS_close, fd);
    SC(SYS_close, dfd);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(at_calls_with_dirfds) {
    int64_t dfd = SC(SYS_open, ustr(e, e->dir), O_RDONLY | O_DIRECTORY);
    int64_t mk = SC(SYS_mkdirat, dfd, ustr(e, "sub"), 0755);
    int64_t f = SC(SYS_openat, dfd, ustr(e, "sub/f"), O_CREAT | O_WRONLY, 0644);
    SC(SYS_close, f);
    struct ustat st;
    ST_ASSERT(t, dfd >= 0 && mk == 0 && f >= 0 && stat_of(e, upath(e, "sub/f"), &st) == 0,
              "mkdirat %ld, openat %ld", (long)mk, (long)f);
    int64_t rn = SC(SYS_renameat, dfd, ustr(e, "sub/f"), dfd, ustr(e, "g"));
    ST_ASSERT(t, rn == 0 && stat_of(e, upath(e, "g"), &st) == 0 && stat_of(e, upath(e, "sub/f"), &st) == -KENOENT,
              "renameat within one dirfd = %ld", (long)rn);
    int64_t sub = SC(SYS_openat, dfd, ustr(e, "sub"), O_RDONLY | O_DIRECTORY);
    int64_t rn2 = SC(SYS_renameat, dfd, ustr(e, "g"), sub, ustr(e, "h"));
    ST_ASSERT(t, rn2 == 0 && stat_of(e, upath(e, "sub/h"), &st) == 0 && stat_of(e, upath(e, "g"), &st) == -KENOENT,
              "renameat between two dirfds = %ld", (long)rn2);
    int64_t rn3 = SC(SYS_renameat, sub, ustr(e, "h"), AT_FDCWD_U, upath(e, "abs"));
    ST_ASSERT(t, rn3 == 0 && stat_of(e, upath(e, "abs"), &st) == 0, "renameat to an absolute path = %ld", (long)rn3);
    int64_t isdir = SC(SYS_unlinkat, dfd, ustr(e, "sub"), 0);
    int64_t ul = SC(SYS_unlinkat, dfd, ustr(e, "abs"), 0);
    int64_t rd = SC(SYS_unlinkat, dfd, ustr(e, "sub"), AT_REMOVEDIR);
    int64_t again = SC(SYS_unlinkat, dfd, ustr(e, "sub"), AT_REMOVEDIR);
    int64_t badfl = SC(SYS_unlinkat, dfd, ustr(e, "x"), 0x1);
    ST_ASSERT(t, isdir == -KEISDIR && ul == 0 && rd == 0 && again == -KENOENT && badfl == -KEINVAL,
              "unlinkat: dir %ld, file %ld, rmdir %ld, again %ld, bad flags %ld", (long)isdir, (long)ul, (long)rd,
              (long)again, (long)badfl);
    int64_t file = SC(SYS_openat, dfd, ustr(e, "plain"), O_CREAT | O_RDWR, 0644);
    int64_t notdir = SC(SYS_mkdirat, file, ustr(e, "x"), 0755);
    int64_t badfd = SC(SYS_mkdirat, 99, ustr(e, "x"), 0755);
    int64_t absok = SC(SYS_mkdirat, 99, upath(e, "absdir"), 0755); /* an absolute path ignores dirfd */
    int64_t acc = SC(SYS_faccessat, dfd, ustr(e, "plain"), 4 | 2), accx = SC(SYS_faccessat, dfd, ustr(e, "plain"), 1);
    int64_t acc2 = SC(SYS_faccessat2, dfd, ustr(e, "absdir"), 1, 0), accbad = SC(SYS_access, upath(e, "plain"), 8);
    ST_ASSERT(t, notdir == -KENOTDIR && badfd == -KEBADF && absok == 0, "mkdirat: file dirfd %ld, bad dirfd %ld, absolute %ld",
              (long)notdir, (long)badfd, (long)absok);
    ST_ASSERT(t, acc == 0 && accx == -KEACCES && acc2 == 0 && accbad == -KEINVAL, "access: rw %ld, x %ld, dir x %ld, bad %ld",
              (long)acc, (long)accx, (long)acc2, (long)accbad);
    int64_t rl = SC(SYS_readlinkat, dfd, ustr(e, "plain"), ualloc(e, 64), 64);
    int64_t rl2 = SC(SYS_readlink, upath(e, "missing"), ualloc(e, 64), 64);
    ST_ASSERT(t, rl == -KEINVAL && rl2 == -KENOENT, "readlink of a file %ld, of nothing %ld", (long)rl, (long)rl2);
    SC(SYS_close, file);
    SC(SYS_close, sub);
    SC(SYS_close, dfd);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(chdir_getcwd) {
    uint64_t buf = ualloc(e, 256);
    char want[96], got[256];
    int64_t n = SC(SYS_getcwd, buf, 256);
    uget(buf, got, 2);
    ST_ASSERT(t, n == 2 && got[0] == '/' && got[1] == 0, "initial getcwd = %ld", (long)n);
    SC(SYS_mkdir, upath(e, "cw"), 0755);
    int64_t c = SC(SYS_chdir, upath(e, "cw/./"));
    n = SC(SYS_getcwd, buf, 256);
    uget(buf, got, sizeof(got));
    ksnprintf(want, sizeof(want), "%s/cw", e->dir);
    ST_ASSERT(t, c == 0 && n == (int64_t)strlen(want) + 1 && strcmp(got, want) == 0, "chdir %ld, getcwd %ld '%s'", (long)c,
              (long)n, got);
    int64_t fd = SC(SYS_open, ustr(e, "rel"), O_CREAT | O_WRONLY, 0644);
    SC(SYS_close, fd);
    struct ustat st;
    ST_ASSERT(t, fd >= 0 && stat_of(e, upath(e, "cw/rel"), &st) == 0, "relative open did not use the cwd");
    int64_t up = SC(SYS_chdir, ustr(e, ".."));
    n = SC(SYS_getcwd, buf, 256);
    uget(buf, got, sizeof(got));
    ST_ASSERT(t, up == 0 && strcmp(got, e->dir) == 0, "chdir .. -> '%s'", got);
    int64_t small = SC(SYS_getcwd, buf, 3), bad = SC(SYS_getcwd, BAD_USER, 256);
    int64_t dfd = SC(SYS_open, upath(e, "cw"), O_RDONLY | O_DIRECTORY);
    int64_t fc = SC(SYS_fchdir, dfd);
    n = SC(SYS_getcwd, buf, 256);
    uget(buf, got, sizeof(got));
    ST_ASSERT(t, small == -KERANGE && bad == -KEFAULT, "getcwd small %ld, bad buffer %ld", (long)small, (long)bad);
    ST_ASSERT(t, fc == 0 && strcmp(got, want) == 0, "fchdir %ld, getcwd '%s' want '%s'", (long)fc, got, want);
    int64_t file = SC(SYS_open, upath(e, "cw/rel"), O_RDONLY);
    int64_t nd = SC(SYS_chdir, upath(e, "cw/rel")), fnd = SC(SYS_fchdir, file), miss = SC(SYS_chdir, upath(e, "zz"));
    int64_t fbad = SC(SYS_fchdir, 99);
    ST_ASSERT(t, nd == -KENOTDIR && fnd == -KENOTDIR && miss == -KENOENT && fbad == -KEBADF,
              "chdir to a file %ld, fchdir to a file %ld, missing %ld, bad fd %ld", (long)nd, (long)fnd, (long)miss,
              (long)fbad);
    int64_t root = SC(SYS_chdir, ustr(e, "/"));
    n = SC(SYS_getcwd, buf, 256);
    SC(SYS_close, dfd);
    SC(SYS_close, file);
    ST_ASSERT(t, root == 0 && n == 2, "chdir / then getcwd = %ld", (long)n);
}

/* ---- large and vectored I/O ---- */

SF_TEST(large_and_vectored_io) {
    const size_t size = 200 * 1024 + 7;
    uint64_t ub = ualloc(e, size), ub2 = ualloc(e, size);
    uint8_t *k = kmalloc(4096);
    ST_ASSERT(t, k && ub != BAD_USER && ub2 != BAD_USER, "no memory");
    for (size_t off = 0; off < size; off += 4096) {
        size_t n = MIN((size_t)4096, size - off);
        for (size_t i = 0; i < n; i++) k[i] = (uint8_t)((off + i) * 7 + 3);
        uput(ub + off, k, n);
    }
    int64_t fd = SC(SYS_open, upath(e, "big"), O_CREAT | O_RDWR, 0644);
    int64_t w = SC(SYS_write, fd, ub, size);
    SC(SYS_lseek, fd, 0, SEEK_SET);
    int64_t r = SC(SYS_read, fd, ub2, size + 100);
    bool same = true;
    for (size_t off = 0; off < size && same; off += 4096) {
        size_t n = MIN((size_t)4096, size - off);
        uget(ub2 + off, k, n);
        for (size_t i = 0; i < n && same; i++) same = k[i] == (uint8_t)((off + i) * 7 + 3);
    }
    kfree(k);
    ST_ASSERT(t, w == (int64_t)size && r == (int64_t)size && same, "write %ld, read %ld, data %s", (long)w, (long)r,
              same ? "ok" : "differs");
    /* writev gathers three pieces; readv scatters them again */
    uint64_t iov = ualloc(e, 3 * 16), sa = ustr(e, "one,"), sb = ustr(e, "two,"), sc = ustr(e, "three");
    uint64_t v[6] = {sa, 4, sb, 4, sc, 5};
    uput(iov, v, sizeof(v));
    int64_t p[2];
    uint64_t fds = ualloc(e, 8);
    SC(SYS_pipe, fds);
    int pf[2];
    uget(fds, pf, 8);
    int64_t wv = SC(SYS_writev, pf[1], iov, 3);
    uint64_t d1 = ualloc(e, 8), d2 = ualloc(e, 16);
    uint64_t rvv[4] = {d1, 6, d2, 16};
    uput(iov, rvv, 32);
    int64_t rv = SC(SYS_readv, pf[0], iov, 2);
    char g1[8] = {0}, g2[16] = {0};
    uget(d1, g1, 6);
    uget(d2, g2, 7);
    p[0] = wv;
    p[1] = rv;
    ST_ASSERT(t, p[0] == 13 && p[1] == 13 && memcmp(g1, "one,tw", 6) == 0 && memcmp(g2, "o,three", 7) == 0,
              "writev %ld, readv %ld: '%s' '%s'", (long)p[0], (long)p[1], g1, g2);
    /* hostile vectors */
    int64_t many = SC(SYS_readv, pf[0], iov, 1025), neg = SC(SYS_readv, pf[0], iov, (uint64_t)-1);
    uint64_t bad[4] = {d1, (uint64_t)-1, d2, 1};
    uput(iov, bad, 32);
    int64_t neglen = SC(SYS_writev, pf[1], iov, 2);
    uint64_t ovf[4] = {d1, (uint64_t)INT64_MAX, d2, 2};
    uput(iov, ovf, 32);
    int64_t overflow = SC(SYS_writev, pf[1], iov, 2);
    uint64_t fault[4] = {d1, 1, BAD_USER, 1};
    uput(iov, fault, 32);
    int64_t partial = SC(SYS_writev, pf[1], iov, 2);
    uint64_t kern[2] = {(uint64_t)&bad, 8};
    uput(iov, kern, 16);
    int64_t kv = SC(SYS_writev, pf[1], iov, 1), badiov = SC(SYS_writev, pf[1], BAD_USER, 1);
    int64_t zero = SC(SYS_writev, pf[1], iov, 0);
    SC(SYS_close, pf[0]);
    SC(SYS_close, pf[1]);
    SC(SYS_close, fd);
    ST_ASSERT(t, many == -KEINVAL && neg == -KEINVAL && neglen == -KEINVAL && overflow == -KEINVAL,
              "iovcnt 1025 %ld, -1 %ld, negative length %ld, total overflow %ld", (long)many, (long)neg, (long)neglen,
              (long)overflow);
    ST_ASSERT(t, partial == 1 && kv == -KEFAULT && badiov == -KEFAULT && zero == 0,
              "unmapped 2nd segment %ld (want 1: the first), kernel segment %ld, bad iov array %ld, iovcnt 0 %ld",
              (long)partial, (long)kv,
              (long)badiov, (long)zero);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

/* ---- poll and select ---- */

struct late_writer {
    struct vfs_file *f;
    uint64_t delay_ns;
};

static int64_t late_writer_fn(void *arg) {
    struct late_writer *lw = arg;
    task_sleep_ns(lw->delay_ns);
    int64_t r = vfs_write(lw->f, "!", 1);
    vfs_close(lw->f);
    return r;
}

struct upollfd {
    int32_t fd;
    int16_t events, revents;
};

SF_TEST(poll_pipe) {
    uint64_t fds = ualloc(e, 8), up = ualloc(e, 4 * sizeof(struct upollfd)), buf = ualloc(e, 8);
    SC(SYS_pipe, fds);
    int pf[2];
    uget(fds, pf, 8);
    struct upollfd p[4] = {{pf[0], POLLIN, 0x7777}, {pf[1], POLLOUT, 0}, {-1, POLLIN, 0x55}, {200, POLLIN, 0}};
    uput(up, p, sizeof(p));
    uint64_t t0 = time_ns();
    int64_t r = SC(SYS_poll, up, 4, 0);
    uint64_t took = time_ns() - t0;
    uget(up, p, sizeof(p));
    ST_ASSERT(t, r == 2 && p[0].revents == 0 && (p[1].revents & POLLOUT) && p[2].revents == 0 && p[3].revents == POLLNVAL,
              "poll(timeout 0) = %ld: revents %#x %#x %#x %#x", (long)r, p[0].revents, p[1].revents, p[2].revents,
              p[3].revents);
    ST_ASSERT(t, took < 500 * MS, "poll with timeout 0 took %lu ms", (unsigned long)(took / MS));
    /* empty read end, 50 ms: times out, not earlier */
    t0 = time_ns();
    r = SC(SYS_poll, up, 1, 50);
    took = time_ns() - t0;
    ST_ASSERT(t, r == 0 && took >= 50 * MS && took < 5000 * MS, "poll(50 ms) = %ld after %lu ms", (long)r,
              (unsigned long)(took / MS));
    /* a writer task makes it readable while we sleep */
    struct late_writer lw = {fd_get(pf[1]), 30 * MS};
    tid_t tid = task_create("sft-writer", late_writer_fn, &lw, PRIO_NORMAL);
    ST_ASSERT(t, tid > 0, "task_create failed");
    t0 = time_ns();
    r = SC(SYS_poll, up, 1, 10000);
    took = time_ns() - t0;
    int64_t wr;
    task_join(tid, &wr);
    uget(up, p, sizeof(struct upollfd));
    ST_ASSERT(t, r == 1 && (p[0].revents & POLLIN) && wr == 1 && took < 5000 * MS,
              "poll woken by a writer = %ld, revents %#x, after %lu ms", (long)r, p[0].revents, (unsigned long)(took / MS));
    /* the writer goes: POLLHUP (with the byte still there: POLLIN too) */
    SC(SYS_close, pf[1]);
    r = SC(SYS_poll, up, 1, 0);
    uget(up, p, sizeof(struct upollfd));
    ST_ASSERT(t, r == 1 && (p[0].revents & POLLHUP) && (p[0].revents & POLLIN), "after the writer closed: revents %#x",
              p[0].revents);
    SC(SYS_close, pf[0]);
    /* the reader goes: POLLERR on the write end */
    SC(SYS_pipe, fds);
    uget(fds, pf, 8);
    SC(SYS_close, pf[0]);
    struct upollfd q = {pf[1], POLLOUT, 0};
    uput(up, &q, sizeof(q));
    r = SC(SYS_poll, up, 1, 0);
    uget(up, &q, sizeof(q));
    SC(SYS_close, pf[1]);
    ST_ASSERT(t, r == 1 && (q.revents & POLLERR), "write end without readers: revents %#x", q.revents);
    int64_t many = SC(SYS_poll, up, FD_MAX * 4 + 1, 0), badp = SC(SYS_poll, BAD_USER, 1, 0);
    int64_t kp = SC(SYS_poll, (uint64_t)&q, 1, 0);
    /* ppoll: timespec 0 and an invalid one */
    uint64_t ts = ualloc(e, 16);
    int64_t tsv[2] = {0, 0};
    uput(ts, tsv, 16);
    int64_t pp = SC(SYS_ppoll, up, 0, ts, 0, 8);
    tsv[1] = 1000000000;
    uput(ts, tsv, 16);
    int64_t ppbad = SC(SYS_ppoll, up, 0, ts, 0, 8);
    /* ppoll with a signal mask: installed for the call, restored after */
    uint64_t mask = ualloc(e, 8);
    uint64_t m = SIGBIT(SIGUSR1);
    uput(mask, &m, 8);
    tsv[1] = 0;
    uput(ts, tsv, 16);
    uint64_t blocked_before = uthread_current()->sig_blocked;
    int64_t ppm = SC(SYS_ppoll, up, 0, ts, mask, 8), ppsz = SC(SYS_ppoll, up, 0, ts, mask, 4);
    bool restored = uthread_current()->sig_blocked == blocked_before && !uthread_current()->restore_sigmask;
    (void)buf;
    ST_ASSERT(t, many == -KEINVAL && badp == -KEFAULT && kp == -KEFAULT, "poll nfds too big %ld, bad arrays %ld %ld",
              (long)many, (long)badp, (long)kp);
    ST_ASSERT(t, pp == 0 && ppbad == -KEINVAL && ppm == 0 && ppsz == -KEINVAL && restored,
              "ppoll: %ld, bad timespec %ld, with mask %ld, bad sigsetsize %ld, mask restored %d", (long)pp, (long)ppbad,
              (long)ppm, (long)ppsz, restored);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(select_pipe) {
    uint64_t fds = ualloc(e, 8), rs = ualloc(e, 32), ws = ualloc(e, 32), tv = ualloc(e, 16), buf = ustr(e, "x");
    SC(SYS_pipe, fds);
    int pf[2];
    uget(fds, pf, 8);
    uint64_t set[4] = {0};
    uint64_t rbits = 1ull << pf[0], wbits = 1ull << pf[1];
    int nfds = MAX(pf[0], pf[1]) + 1;
    int64_t tvz[2] = {0, 0};
    set[0] = rbits;
    uput(rs, set, 8);
    set[0] = wbits;
    uput(ws, set, 8);
    uput(tv, tvz, 16);
    int64_t r = SC(SYS_select, nfds, rs, ws, 0, tv);
    uint64_t ro, wo;
    uget(rs, &ro, 8);
    uget(ws, &wo, 8);
    ST_ASSERT(t, r == 1 && ro == 0 && wo == wbits, "select(0) = %ld, read set %#lx, write set %#lx", (long)r,
              (unsigned long)ro, (unsigned long)wo);
    SC(SYS_write, pf[1], buf, 1);
    set[0] = rbits;
    uput(rs, set, 8);
    set[0] = wbits;
    uput(ws, set, 8);
    r = SC(SYS_select, nfds, rs, ws, 0, tv);
    uget(rs, &ro, 8);
    ST_ASSERT(t, r == 2 && ro == rbits, "select with data = %ld, read set %#lx", (long)r, (unsigned long)ro);
    /* 30 ms timeout on an empty pipe; the time left is written back */
    SC(SYS_read, pf[0], buf, 1);
    set[0] = rbits;
    uput(rs, set, 8);
    int64_t tv30[2] = {0, 30000};
    uput(tv, tv30, 16);
    uint64_t t0 = time_ns();
    r = SC(SYS_select, nfds, rs, 0, 0, tv);
    uint64_t took = time_ns() - t0;
    int64_t left[2];
    uget(tv, left, 16);
    uget(rs, &ro, 8);
    ST_ASSERT(t, r == 0 && ro == 0 && took >= 30 * MS && left[0] == 0 && left[1] == 0, "select(30 ms) = %ld after %lu ms, left %ld.%06ld",
              (long)r, (unsigned long)(took / MS), (long)left[0], (long)left[1]);
    /* errors */
    set[0] = 1ull << 50;
    uput(rs, set, 8);
    uput(tv, tvz, 16);
    int64_t ebadf = SC(SYS_select, 51, rs, 0, 0, tv);
    int64_t badtv[2] = {0, 1000000};
    uput(tv, badtv, 16);
    int64_t einval = SC(SYS_select, nfds, 0, 0, 0, tv), neg = SC(SYS_select, (uint64_t)-1, 0, 0, 0, 0);
    uput(tv, tvz, 16);
    int64_t fault = SC(SYS_select, nfds, BAD_USER, 0, 0, tv);
    /* pselect6 with a timespec and a sigmask */
    uint64_t ts = ualloc(e, 16), sig = ualloc(e, 16), mask = ualloc(e, 8);
    uint64_t m = SIGBIT(SIGUSR2), sigarg[2] = {mask, 8};
    uput(mask, &m, 8);
    uput(sig, sigarg, 16);
    uput(ts, tvz, 16);
    set[0] = wbits;
    uput(ws, set, 8);
    int64_t ps = SC(SYS_pselect6, nfds, 0, ws, 0, ts, sig);
    SC(SYS_close, pf[0]);
    SC(SYS_close, pf[1]);
    ST_ASSERT(t, ebadf == -KEBADF && einval == -KEINVAL && neg == -KEINVAL && fault == -KEFAULT && ps == 1,
              "select: closed fd %ld, bad timeval %ld, nfds -1 %ld, bad set %ld; pselect6 %ld", (long)ebadf, (long)einval,
              (long)neg, (long)fault, (long)ps);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

/* ---- signals end waits ---- */

struct late_signal {
    struct task *target;
    uint64_t delay_ns;
    int sig;
};

static int64_t late_signal_fn(void *arg) {
    struct late_signal *ls = arg;
    task_sleep_ns(ls->delay_ns);
    return thread_signal(ls->target, ls->sig);
}

/* Runs nr(args) while a helper task sends sig to us after 30 ms; returns the call's result
 * and the time it took in *took. The signal is left pending for the caller to check. */
static int64_t call_with_signal(uint32_t nr, const uint64_t a[6], int sig, uint64_t *took) {
    struct late_signal ls = {task_current(), 30 * MS, sig};
    tid_t tid = task_create("sft-signal", late_signal_fn, &ls, PRIO_NORMAL);
    if (tid < 0) return tid;
    uint64_t t0 = time_ns();
    int64_t r = sc_call(nr, a);
    *took = time_ns() - t0;
    int64_t ignored;
    task_join(tid, &ignored);
    return r;
}

SF_TEST(signals_end_waits) {
    uint64_t fds = ualloc(e, 8), buf = ualloc(e, 16), up = ualloc(e, 8);
    SC(SYS_pipe, fds);
    int pf[2];
    uget(fds, pf, 8);
    struct upollfd q = {pf[0], POLLIN, 0};
    uput(up, &q, sizeof(q));
    uint64_t took;
    int64_t r = call_with_signal(SYS_poll, (const uint64_t[6]){up, 1, (uint64_t)-1}, SIGUSR1, &took);
    bool got = take_signal(SIGUSR1);
    ST_ASSERT(t, r == -KEINTR && got && took < 5000 * MS, "poll(forever) with a signal = %ld after %lu ms", (long)r,
              (unsigned long)(took / MS));
    r = call_with_signal(SYS_read, (const uint64_t[6]){(uint64_t)pf[0], buf, 16}, SIGUSR1, &took);
    got = take_signal(SIGUSR1);
    ST_ASSERT(t, r == -KEINTR && got && took < 5000 * MS, "blocking pipe read with a signal = %ld", (long)r);
    uint64_t rs = ualloc(e, 8), bits = 1ull << pf[0];
    uput(rs, &bits, 8);
    r = call_with_signal(SYS_select, (const uint64_t[6]){(uint64_t)pf[0] + 1, rs, 0, 0, 0}, SIGUSR1, &took);
    got = take_signal(SIGUSR1);
    ST_ASSERT(t, r == -KEINTR && got, "select(forever) with a signal = %ld", (long)r);
    /* ppoll blocking SIGUSR1 for the call: it times out; the signal stays pending */
    uint64_t ts = ualloc(e, 16), mask = ualloc(e, 8);
    int64_t tsv[2] = {0, 150 * (int64_t)MS};
    uint64_t m = SIGBIT(SIGUSR1);
    uput(ts, tsv, 16);
    uput(mask, &m, 8);
    uint64_t before = uthread_current()->sig_blocked;
    r = call_with_signal(SYS_ppoll, (const uint64_t[6]){up, 1, ts, mask, 8}, SIGUSR1, &took);
    bool pending_after = task_current()->sigpending;
    got = take_signal(SIGUSR1);
    ST_ASSERT(t, r == 0 && took >= 150 * MS && got && pending_after && uthread_current()->sig_blocked == before,
              "ppoll with SIGUSR1 masked = %ld after %lu ms, pending %d/%d", (long)r, (unsigned long)(took / MS), got,
              pending_after);
    SC(SYS_close, pf[0]);
    SC(SYS_close, pf[1]);
    ST_ASSERT(t, !task_current()->sigpending, "a signal is still pending");
}

/* ---- hostile input ---- */

SF_TEST(hostile_input) {
    uint64_t p = upath(e, "h"), buf = ualloc(e, 64);
    int64_t fd = SC(SYS_open, p, O_CREAT | O_RDWR, 0644);
    SC(SYS_write, fd, buf, 64);
    SC(SYS_lseek, fd, 0, SEEK_SET);
    static const uint64_t bad_fds[] = {(uint64_t)-1, FD_MAX, 1u << 30, 77};
    for (size_t i = 0; i < ARRAY_SIZE(bad_fds); i++) {
        uint64_t b = bad_fds[i];
        int64_t r[10] = {SC(SYS_read, b, buf, 1),  SC(SYS_write, b, buf, 1),     SC(SYS_close, b),
                         SC(SYS_fstat, b, buf),    SC(SYS_lseek, b, 0, 0),       SC(SYS_dup, b),
                         SC(SYS_fcntl, b, F_GETFL), SC(SYS_ioctl, b, FIONREAD, buf), SC(SYS_getdents64, b, buf, 64),
                         SC(SYS_fchdir, b)};
        for (int k = 0; k < 10; k++)
            ST_ASSERT(t, r[k] == -KEBADF, "fd %ld: call %d gave %ld, want -EBADF", (long)b, k, (long)r[k]);
    }
    uint64_t kaddr = (uint64_t)&bad_fds;
    int64_t f[8] = {SC(SYS_read, fd, 0, 8),          SC(SYS_read, fd, kaddr, 8),   SC(SYS_read, fd, BAD_USER, 8),
                    SC(SYS_write, fd, 0, 8),         SC(SYS_write, fd, kaddr, 8),  SC(SYS_open, 0, O_RDONLY),
                    SC(SYS_open, kaddr, O_RDONLY),   SC(SYS_stat, BAD_USER, buf)};
    for (int k = 0; k < 8; k++) ST_ASSERT(t, f[k] == -KEFAULT, "bad pointer case %d gave %ld, want -EFAULT", k, (long)f[k]);
    /* huge lengths: refused up front, nothing allocated */
    struct heap_stats h0, h1;
    heap_get_stats(&h0);
    int64_t huge = SC(SYS_read, fd, buf, 1ull << 62), huge2 = SC(SYS_write, fd, buf, (uint64_t)-1);
    int64_t huge3 = SC(SYS_read, fd, BAD_USER, 1ull << 62);
    heap_get_stats(&h1);
    ST_ASSERT(t, huge == -KEFAULT && huge2 == -KEFAULT && huge3 == -KEFAULT, "huge lengths: %ld %ld %ld", (long)huge,
              (long)huge2, (long)huge3);
    ST_ASSERT(t, h1.alloc_calls - h0.alloc_calls < 4, "%lu allocations for refused huge transfers",
              (unsigned long)(h1.alloc_calls - h0.alloc_calls));
    /* a valid buffer but a length past the mapping: the bytes up to the fault, or -EFAULT */
    uint64_t end = e->base + SCRATCH_SIZE - 16;
    int64_t past = SC(SYS_read, fd, end, 64);
    ST_ASSERT(t, past == -KEFAULT || past == 16, "read across the end of the mapping = %ld", (long)past);
    /* a path with no NUL within 4096 bytes, and one of 4095 bytes */
    uint64_t lp = ualloc(e, 4200);
    char *k = kmalloc(4200);
    ST_ASSERT(t, k, "no memory");
    memset(k, 'a', 4200);
    uput(lp, k, 4200);
    int64_t ntl = SC(SYS_open, lp, O_RDONLY), ntl2 = SC(SYS_mkdir, lp, 0755), ntl3 = SC(SYS_chdir, lp);
    k[4095] = 0;
    uput(lp, k, 4096);
    kfree(k);
    int64_t ntl4 = SC(SYS_stat, lp, buf);
    ST_ASSERT(t, ntl == -KENAMETOOLONG && ntl2 == -KENAMETOOLONG && ntl3 == -KENAMETOOLONG && ntl4 == -KENAMETOOLONG,
              "unterminated/long paths: %ld %ld %ld %ld", (long)ntl, (long)ntl2, (long)ntl3, (long)ntl4);
    /* a path that runs into unmapped memory */
    uint64_t tail = e->base + SCRATCH_SIZE - 3;
    uput(tail, "abc", 3);
    int64_t runoff = SC(SYS_open, tail, O_RDONLY);
    int64_t tty = SC(SYS_ioctl, fd, TCGETS, buf), nb = SC(SYS_ioctl, fd, 0x5421, BAD_USER);
    SC(SYS_close, fd);
    ST_ASSERT(t, runoff == -KEFAULT, "path running off the mapping = %ld", (long)runoff);
    ST_ASSERT(t, tty == -KENOTTY && nb == -KEFAULT, "ioctl TCGETS on a file %ld, FIONBIO bad pointer %ld", (long)tty,
              (long)nb);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
}

SF_TEST(table_full_emfile) {
    int64_t fd = SC(SYS_open, upath(e, "m"), O_CREAT | O_RDWR, 0644);
    int opened = 1;
    int64_t r = 0;
    while (opened < FD_MAX + 5 && (r = SC(SYS_dup, fd)) >= 0) opened++;
    uint64_t fds = ualloc(e, 8);
    int64_t o = SC(SYS_open, upath(e, "m"), O_RDONLY), pp = SC(SYS_pipe, fds), fdup = SC(SYS_fcntl, fd, F_DUPFD, 0);
    int count = fd_count();
    ST_ASSERT(t, r == -KEMFILE && opened == FD_MAX && count == FD_MAX, "dup until full: %ld after %d (fd_count %d)",
              (long)r, opened, count);
    ST_ASSERT(t, o == -KEMFILE && pp == -KEMFILE && fdup == -KEMFILE, "full table: open %ld, pipe %ld, F_DUPFD %ld",
              (long)o, (long)pp, (long)fdup);
    for (int i = 0; i < FD_MAX; i++) SC(SYS_close, i);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left after closing all", fd_count());
}

SF_TEST(nothing_leaks) {
    uint64_t p = upath(e, "l"), buf = ualloc(e, 4096), fds = ualloc(e, 8), up = ualloc(e, 16);
    SC(SYS_close, SC(SYS_open, p, O_CREAT | O_RDWR, 0644));
    SC(SYS_mkdir, upath(e, "ld"), 0755);
    struct heap_stats h0, h1;
    for (int round = 0; round < 4; round++) {
        if (round == 1) heap_get_stats(&h0); /* after a first round that sizes the file */
        int64_t fd = SC(SYS_open, p, O_RDWR);
        SC(SYS_write, fd, buf, 4096);
        SC(SYS_pread64, fd, buf, 4096, 0);
        int64_t d = SC(SYS_dup, fd);
        SC(SYS_fstat, d, buf);
        SC(SYS_stat, p, buf);
        SC(SYS_pipe2, fds, O_NONBLOCK);
        int pf[2];
        uget(fds, pf, 8);
        SC(SYS_write, pf[1], buf, 100);
        struct upollfd q[2] = {{pf[0], POLLIN, 0}, {pf[1], POLLOUT, 0}};
        uput(up, q, sizeof(q));
        SC(SYS_poll, up, 2, 0);
        SC(SYS_read, pf[0], buf, 4096);
        SC(SYS_read, pf[0], buf, 4096); /* EAGAIN */
        int64_t dfd = SC(SYS_open, upath(e, "ld"), O_RDONLY | O_DIRECTORY);
        SC(SYS_getdents64, dfd, buf, 4096);
        SC(SYS_fchdir, dfd);
        SC(SYS_chdir, ustr(e, "/"));
        SC(SYS_open, upath(e, "missing"), O_RDONLY);
        SC(SYS_read, fd, BAD_USER, 10);
        SC(SYS_readv, fd, buf, 1025);
        SC(SYS_close, dfd);
        SC(SYS_close, pf[0]);
        SC(SYS_close, pf[1]);
        SC(SYS_close, d);
        SC(SYS_close, fd);
    }
    heap_get_stats(&h1);
    ST_ASSERT(t, fd_count() == 0, "%d descriptors left open", fd_count());
    ST_ASSERT(t, h1.allocations == h0.allocations && h1.bytes_in_use == h0.bytes_in_use,
              "heap: %lu allocations / %lu bytes before, %lu / %lu after", (unsigned long)h0.allocations,
              (unsigned long)h0.bytes_in_use, (unsigned long)h1.allocations, (unsigned long)h1.bytes_in_use);
}

/* ---- end to end: musl programs from the root image use these calls ---- */

static char e2e_out[8192];

/* Runs path with argv (stdout and stderr into a pipe) and waits for it; returns the wait
 * status, or a negative error. The output lands in e2e_out. */
static int run_user(const char *path, const char *const argv[]) {
    static const char *const envp[] = {"PATH=/bin", "HOME=/", NULL};
    int status = -1;
    int r = proc_run_capture(path, argv, envp, e2e_out, sizeof e2e_out, NULL, 60000 * MS, &status);
    return r < 0 ? r : status;
}

static bool has_line(const char *out, const char *line) {
    size_t n = strlen(line);
    for (const char *p = out; *p;) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == 0)) return true;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    return false;
}

static int64_t read_file(const char *path, char *buf, size_t cap) {
    struct vfs_file *f;
    int r = vfs_open(NULL, path, O_RDONLY, 0, &f);
    if (r < 0) return r;
    int64_t n = vfs_read(f, buf, cap);
    vfs_close(f);
    return n;
}

SELFTEST_TIMEOUT(sys_file, e2e_coreutils, 180000) {
    static const char text[] = "line one\nline two\n";
    const char *dir = "/tmp/sft-e2e";
    rm_tree(dir, 3);
    ST_ASSERT(t, vfs_mkdir(NULL, dir, 0755) == 0, "mkdir %s failed", dir);
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(NULL, "/tmp/sft-e2e/a.txt", O_CREAT | O_WRONLY, 0644, &f) == 0, "create a.txt failed");
    vfs_write(f, text, sizeof(text) - 1);
    vfs_close(f);
    struct vfs_stat st;
    char buf[64];
    const char *mk[] = {"mkdir", "-p", "/tmp/sft-e2e/x/y", NULL};
    int s = run_user("/bin/mkdir", mk);
    ST_ASSERT(t, s == 0 && vfs_stat(NULL, "/tmp/sft-e2e/x/y", &st) == 0 && VFS_ISDIR(st.mode),
              "mkdir -p: status %#x, output '%s'", s, e2e_out);
    const char *cp[] = {"cp", "/tmp/sft-e2e/a.txt", "/tmp/sft-e2e/b.txt", NULL};
    s = run_user("/bin/cp", cp);
    int64_t n = read_file("/tmp/sft-e2e/b.txt", buf, sizeof(buf));
    ST_ASSERT(t, s == 0 && n == (int64_t)sizeof(text) - 1 && memcmp(buf, text, (size_t)n) == 0,
              "cp: status %#x, copy has %ld bytes, output '%s'", s, (long)n, e2e_out);
    const char *mv[] = {"mv", "/tmp/sft-e2e/b.txt", "/tmp/sft-e2e/c.txt", NULL};
    s = run_user("/bin/mv", mv);
    ST_ASSERT(t, s == 0 && vfs_stat(NULL, "/tmp/sft-e2e/b.txt", &st) == -KENOENT &&
                     vfs_stat(NULL, "/tmp/sft-e2e/c.txt", &st) == 0,
              "mv: status %#x, output '%s'", s, e2e_out);
    const char *ls[] = {"ls", "/tmp/sft-e2e", NULL};
    s = run_user("/bin/ls", ls);
    ST_ASSERT(t, s == 0 && has_line(e2e_out, "a.txt") && has_line(e2e_out, "c.txt") && has_line(e2e_out, "x") &&
                     !has_line(e2e_out, "b.txt"),
              "ls: status %#x, output '%s'", s, e2e_out);
    const char *cat[] = {"cat", "/tmp/sft-e2e/c.txt", NULL};
    s = run_user("/bin/cat", cat);
    ST_ASSERT(t, s == 0 && strcmp(e2e_out, text) == 0, "cat: status %#x, output '%s'", s, e2e_out);
    const char *rm[] = {"rm", "-r", "/tmp/sft-e2e/x", NULL};
    s = run_user("/bin/rm", rm);
    ST_ASSERT(t, s == 0 && vfs_stat(NULL, "/tmp/sft-e2e/x", &st) == -KENOENT, "rm -r: status %#x, output '%s'", s,
              e2e_out);
    const char *catm[] = {"cat", "/tmp/sft-e2e/missing", NULL};
    s = run_user("/bin/cat", catm);
    ST_ASSERT(t, s == W_EXITCODE(1, 0) && e2e_out[0], "cat of a missing file: status %#x, output '%s'", s, e2e_out);
    rm_tree(dir, 3);
}
