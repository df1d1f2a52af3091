/* vfs_selftest.c: self-tests of the VFS core (group `vfs`), against vfs.h, on detached tmpfs
 * mounts the tests make themselves: path resolution (".", "..", "//", absolute and relative
 * to a cwd), the errors POSIX.1-2017 XBD 4.13 and XSH open/mkdir/rmdir/unlink give (ENOTDIR
 * for a trailing slash on a file, ENOENT, EEXIST, ENAMETOOLONG, ENOTEMPTY, EISDIR), and mount
 * crossing both ways with two tmpfs instances. */
#include "vfs.h"
#include "selftest.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"

static int mount_detached(struct vfs_mount **m, struct vfs_ctx *ctx) {
    tmpfs_init();
    int r = vfs_mount(NULL, NULL, "tmpfs", "selftest", NULL, m);
    if (r == 0) ctx->root = ctx->cwd = (*m)->root;
    return r;
}

static int touch(const struct vfs_ctx *ctx, const char *path) {
    struct vfs_file *f;
    int r = vfs_open(ctx, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &f);
    if (r == 0) vfs_close(f);
    return r;
}

static uint64_t ino_of(const struct vfs_ctx *ctx, const char *path, int *err) {
    struct vfs_stat st;
    *err = vfs_stat(ctx, path, &st);
    return *err ? 0 : st.ino;
}

SELFTEST(vfs, dot_dotdot_and_slashes) {
    struct vfs_mount *m;
    struct vfs_ctx ctx;
    ST_ASSERT(t, mount_detached(&m, &ctx) == 0, "mount failed");
    ST_ASSERT(t, vfs_mkdir(&ctx, "/a", 0755) == 0 && vfs_mkdir(&ctx, "/a/b", 0755) == 0, "mkdir");
    int e;
    uint64_t b = ino_of(&ctx, "/a/b", &e);
    ST_ASSERT(t, e == 0, "stat /a/b = %d", e);
    static const char *same_as_b[] = {"a/b", "/a/./b", "//a///b", "/a/b/", "/a/b/.", "/a/b/../b", "a/../a/b//",
                                      "/../../a/b", "./a/b"};
    for (size_t i = 0; i < ARRAY_SIZE(same_as_b); i++) {
        uint64_t ino = ino_of(&ctx, same_as_b[i], &e);
        ST_ASSERT(t, e == 0 && ino == b, "%s: err %d ino %lu, want %lu", same_as_b[i], e, (unsigned long)ino,
                  (unsigned long)b);
    }
    uint64_t root = ino_of(&ctx, "/", &e);
    ST_ASSERT(t, e == 0, "stat / = %d", e);
    ST_ASSERT(t, ino_of(&ctx, "/..", &e) == root && e == 0, "/.. is not /");
    ST_ASSERT(t, ino_of(&ctx, "///", &e) == root && e == 0, "/// is not /");
    ST_ASSERT(t, ino_of(&ctx, "a/b/../..", &e) == root && e == 0, "a/b/../.. is not /");
    /* relative to a cwd */
    struct vnode *cwd;
    ST_ASSERT(t, vfs_lookup(&ctx, "/a/b", &cwd) == 0, "lookup /a/b");
    struct vfs_ctx in_b = {ctx.root, cwd};
    ST_ASSERT(t, touch(&in_b, "rel") == 0, "create relative to cwd");
    int e2;
    ST_ASSERT(t, ino_of(&ctx, "/a/b/rel", &e) == ino_of(&in_b, "rel", &e2) && e == 0 && e2 == 0,
              "relative name resolved elsewhere");
    ST_ASSERT(t, ino_of(&in_b, "..", &e) == ino_of(&ctx, "/a", &e2) && e == 0, "cwd/.. is not /a");
    ST_ASSERT(t, ino_of(&in_b, "/", &e) == root && e == 0, "absolute path from cwd is not the root");
    ST_ASSERT(t, vfs_unlink(&in_b, "rel") == 0, "unlink relative");
    vnode_put(cwd);
    ST_ASSERT(t, vfs_rmdir(&ctx, "/a/b/") == 0 && vfs_rmdir(&ctx, "a") == 0, "rmdir");
    ST_ASSERT(t, vfs_umount(m) == 0, "umount (leaked vnode reference?)");
}

SELFTEST(vfs, error_codes) {
    struct vfs_mount *m;
    struct vfs_ctx ctx;
    ST_ASSERT(t, mount_detached(&m, &ctx) == 0, "mount failed");
    ST_ASSERT(t, vfs_mkdir(&ctx, "/d", 0755) == 0 && touch(&ctx, "/d/f") == 0, "setup");
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    int r;
    /* ENOTDIR */
    ST_ASSERT(t, (r = vfs_stat(&ctx, "/d/f/", &st)) == -KENOTDIR, "stat file/ = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d/f/", O_RDONLY, 0, &f)) == -KENOTDIR, "open file/ = %d", r);
    ST_ASSERT(t, (r = vfs_stat(&ctx, "/d/f/x", &st)) == -KENOTDIR, "file as directory = %d", r);
    ST_ASSERT(t, (r = vfs_rmdir(&ctx, "/d/f")) == -KENOTDIR, "rmdir file = %d", r);
    ST_ASSERT(t, (r = vfs_unlink(&ctx, "/d/f/")) == -KENOTDIR, "unlink file/ = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d/f", O_RDONLY | O_DIRECTORY, 0, &f)) == -KENOTDIR, "O_DIRECTORY = %d", r);
    /* ENOENT */
    ST_ASSERT(t, (r = vfs_stat(&ctx, "/nope", &st)) == -KENOENT, "missing = %d", r);
    ST_ASSERT(t, (r = vfs_stat(&ctx, "/nope/x", &st)) == -KENOENT, "missing dir = %d", r);
    ST_ASSERT(t, (r = vfs_stat(&ctx, "", &st)) == -KENOENT, "empty path = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/nope/new", O_WRONLY | O_CREAT, 0644, &f)) == -KENOENT, "create in missing = %d", r);
    ST_ASSERT(t, (r = vfs_unlink(&ctx, "/d/nope")) == -KENOENT, "unlink missing = %d", r);
    /* EEXIST */
    ST_ASSERT(t, (r = vfs_mkdir(&ctx, "/d", 0755)) == -KEEXIST, "mkdir existing = %d", r);
    ST_ASSERT(t, (r = vfs_mkdir(&ctx, "/d/f", 0755)) == -KEEXIST, "mkdir over file = %d", r);
    ST_ASSERT(t, (r = touch(&ctx, "/d/f")) == -KEEXIST, "O_CREAT|O_EXCL existing = %d", r);
    /* ENAMETOOLONG: a 256-byte component, a 4096-byte path; 255 bytes is fine */
    char *p = kmalloc(VFS_PATH_MAX + 8);
    ST_ASSERT(t, p, "no memory");
    p[0] = '/';
    memset(p + 1, 'x', 255);
    p[256] = '\0';
    r = touch(&ctx, p);
    if (r == 0) r = vfs_unlink(&ctx, p);
    if (r != 0) {
        kfree(p);
        ST_ASSERT(t, false, "255-byte name = %d", r);
    }
    p[256] = 'x';
    p[257] = '\0';
    r = vfs_stat(&ctx, p, &st);
    int r2 = touch(&ctx, p);
    for (int i = 0; i < VFS_PATH_MAX; i++) p[i] = (i % 2) ? '/' : 'a'; /* "a/a/a/..." 4096 bytes */
    p[VFS_PATH_MAX] = '\0';
    int r3 = vfs_stat(&ctx, p, &st);
    p[VFS_PATH_MAX - 1] = '\0'; /* 4095 bytes: allowed length, then ENOENT */
    int r4 = vfs_stat(&ctx, p, &st);
    kfree(p);
    ST_ASSERT(t, r == -KENAMETOOLONG && r2 == -KENAMETOOLONG, "256-byte name: stat %d create %d", r, r2);
    ST_ASSERT(t, r3 == -KENAMETOOLONG, "4096-byte path = %d", r3);
    ST_ASSERT(t, r4 == -KENOENT, "4095-byte path = %d (want ENOENT)", r4);
    /* ENOTEMPTY, EISDIR */
    ST_ASSERT(t, (r = vfs_rmdir(&ctx, "/d")) == -KENOTEMPTY, "rmdir non-empty = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d", O_WRONLY, 0, &f)) == -KEISDIR, "open dir for writing = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d", O_RDWR, 0, &f)) == -KEISDIR, "open dir O_RDWR = %d", r);
    ST_ASSERT(t, (r = vfs_unlink(&ctx, "/d")) == -KEISDIR, "unlink dir = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d", O_RDONLY | O_CREAT, 0644, &f)) == -KEISDIR, "O_CREAT on a dir = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d/new/", O_WRONLY | O_CREAT, 0644, &f)) == -KEISDIR, "O_CREAT new/ = %d", r);
    ST_ASSERT(t, (r = vfs_truncate(&ctx, "/d", 0)) == -KEISDIR, "truncate dir = %d", r);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d", O_RDONLY, 0, &f)) == 0, "open dir read-only = %d", r);
    char c;
    int64_t n = vfs_read(f, &c, 1);
    vfs_close(f);
    ST_ASSERT(t, n == -KEISDIR, "read of a directory = %ld", (long)n);
    ST_ASSERT(t, (r = vfs_open(&ctx, "/d/f", O_ACCMODE_K, 0, &f)) == -KEINVAL, "bad access mode = %d", r);
    ST_ASSERT(t, (r = vfs_rmdir(&ctx, "/d/.")) == -KEINVAL, "rmdir . = %d", r);
    ST_ASSERT(t, vfs_unlink(&ctx, "/d/f") == 0 && vfs_rmdir(&ctx, "/d") == 0, "cleanup");
    ST_ASSERT(t, vfs_umount(m) == 0, "umount (leaked vnode reference?)");
}

SELFTEST(vfs, mount_crossing_two_tmpfs) {
    struct vfs_mount *a, *b;
    struct vfs_ctx ctx;
    ST_ASSERT(t, mount_detached(&a, &ctx) == 0, "mount A failed");
    ST_ASSERT(t, vfs_mkdir(&ctx, "/mnt", 0755) == 0 && touch(&ctx, "/mnt/hidden") == 0, "setup A");
    int r = vfs_mount(&ctx, "/mnt", "tmpfs", "B", NULL, &b);
    ST_ASSERT(t, r == 0, "mount B on /mnt = %d", r);
    ST_ASSERT(t, vfs_mount(&ctx, "/mnt", "tmpfs", "C", NULL, NULL) == -KEBUSY, "second mount on /mnt not EBUSY");
    struct vfs_stat st, sa, sb;
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt/hidden", &st) == -KENOENT, "covered file visible through the mount");
    ST_ASSERT(t, touch(&ctx, "/mnt/inb") == 0, "create on B");
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt", &sb) == 0 && sb.dev == b->id, "/mnt is not B's root (dev %u)", sb.dev);
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt/inb", &st) == 0 && st.dev == b->id, "file on B has dev %u", st.dev);
    /* upwards: ".." at B's root is A's root */
    ST_ASSERT(t, vfs_stat(&ctx, "/", &sa) == 0, "stat /");
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt/..", &st) == 0 && st.ino == sa.ino && st.dev == a->id, "/mnt/.. is not A's root");
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt/../mnt/inb", &st) == 0 && st.dev == b->id, "down-up-down failed");
    struct vnode *bcwd;
    ST_ASSERT(t, vfs_lookup(&ctx, "/mnt", &bcwd) == 0, "lookup /mnt");
    struct vfs_ctx in_b = {ctx.root, bcwd};
    ST_ASSERT(t, vfs_stat(&in_b, "../mnt/./inb", &st) == 0 && st.dev == b->id, "relative up and down failed");
    vnode_put(bcwd);
    /* operations that would span two mounts or remove a mount point */
    ST_ASSERT(t, (r = vfs_rename(&ctx, "/mnt/inb", "/moved")) == -KEXDEV, "rename across mounts = %d", r);
    ST_ASSERT(t, (r = vfs_rmdir(&ctx, "/mnt")) == -KEBUSY, "rmdir of a mount point = %d", r);
    ST_ASSERT(t, (r = vfs_umount(a)) == -KEBUSY, "umount A under B = %d", r);
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(&ctx, "/mnt/inb", O_RDONLY, 0, &f) == 0, "open on B");
    ST_ASSERT(t, (r = vfs_umount(b)) == -KEBUSY, "umount B with open file = %d", r);
    vfs_close(f);
    ST_ASSERT(t, (r = vfs_umount(b)) == 0, "umount B = %d", r);
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt/hidden", &st) == 0 && st.dev == a->id, "A's file not back after umount");
    ST_ASSERT(t, vfs_stat(&ctx, "/mnt/inb", &st) == -KENOENT, "B's file visible after umount");
    ST_ASSERT(t, vfs_unlink(&ctx, "/mnt/hidden") == 0 && vfs_rmdir(&ctx, "/mnt") == 0, "cleanup");
    ST_ASSERT(t, (r = vfs_umount(a)) == 0, "umount A = %d", r);
}

SELFTEST(vfs, stat_times_and_modes) {
    struct vfs_mount *m;
    struct vfs_ctx ctx;
    ST_ASSERT(t, mount_detached(&m, &ctx) == 0, "mount failed");
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(&ctx, "/t", O_RDWR | O_CREAT, 0640, &f) == 0, "create");
    struct vfs_stat s1, s2;
    ST_ASSERT(t, vfs_fstat(f, &s1) == 0, "fstat");
    ST_ASSERT(t, s1.mode == (S_IFREG | 0640), "mode %o, want %o", s1.mode, S_IFREG | 0640);
    ST_ASSERT(t, s1.mtime_ns > 1000000000ull * 1500000000ull, "mtime %lu is not a 21st-century time",
              (unsigned long)s1.mtime_ns);
    ST_ASSERT(t, vfs_write(f, "x", 1) == 1, "write");
    ST_ASSERT(t, vfs_fstat(f, &s2) == 0 && s2.mtime_ns >= s1.mtime_ns && s2.size == 1, "mtime/size after write");
    vfs_close(f);
    ST_ASSERT(t, vfs_stat(&ctx, "/", &s1) == 0 && s1.mode == (S_IFDIR | 0755), "root mode %o", s1.mode);
    ST_ASSERT(t, vfs_unlink(&ctx, "/t") == 0, "unlink");
    ST_ASSERT(t, vfs_umount(m) == 0, "umount");
}

/* Counts mounts in the table and remembers whether m is among them. */
struct mount_census {
    const struct vfs_mount *want;
    int count;
    bool found;
};
static void census_fn(const struct vfs_mount *m, void *arg) {
    struct mount_census *c = arg;
    c->count++;
    if (m == c->want) c->found = true;
}

SELFTEST(vfs, global_root_and_tmp_absolute_paths) {
    struct vnode *existing;
    if (vfs_lookup(NULL, "/", &existing) == 0) {
        /* A root is mounted already (a later boot wires one): check only what is safe to
         * check without writing to it. */
        struct vnode *up;
        int r = vfs_lookup(NULL, "/..", &up);
        bool same = r == 0 && up == existing;
        if (r == 0) vnode_put(up);
        bool is_dir = VFS_ISDIR(existing->mode);
        vnode_put(existing);
        ST_ASSERT(t, is_dir && same, "global / is not a directory that is its own parent (r=%d)", r);
        return;
    }
    tmpfs_init();
    struct vfs_mount *root, *tmp;
    int r = vfs_mount(NULL, "/", "tmpfs", "rootfs", NULL, &root);
    ST_ASSERT(t, r == 0, "mount tmpfs at / = %d", r);
    r = vfs_mkdir(NULL, "/tmp", 01777);
    if (r == 0) r = vfs_mount(NULL, "/tmp", "tmpfs", "tmpfs", "size=1M", &tmp);
    if (r != 0) {
        vfs_umount(root);
        ST_ASSERT(t, false, "mkdir+mount /tmp = %d", r);
    }
    struct mount_census c = {tmp, 0, false}; /* compared as an address only */
    vfs_mount_for_each(census_fn, &c);
    struct vfs_file *f = NULL;
    int64_t w = -1, big = -1;
    r = vfs_open(NULL, "/tmp//x", O_RDWR | O_CREAT, 0600, &f);
    if (r == 0) {
        w = vfs_write(f, "12345", 5);
        uint8_t *buf = kzalloc(MiB(1));
        big = buf ? vfs_pwrite(f, buf, MiB(1), 5) : -KENOMEM; /* beyond size=1M: fills up */
        kfree(buf);
        vfs_close(f);
    }
    struct vfs_stat st;
    int sr = vfs_stat(NULL, "/tmp/../tmp/./x", &st);
    uint64_t total = 0, free_bytes = 0;
    int fr = vfs_statfs(tmp, &total, &free_bytes);
    uint32_t tmp_id = tmp->id; /* tmp is freed by the umount */
    int ur = vfs_unlink(NULL, "/tmp/x");
    int u1 = vfs_umount(tmp);
    int rm = vfs_rmdir(NULL, "/tmp");
    int u2 = vfs_umount(root);
    struct vnode *gone;
    int after = vfs_lookup(NULL, "/", &gone);
    if (after == 0) vnode_put(gone);
    ST_ASSERT(t, c.found && c.count >= 2, "mount table: %d mounts, /tmp listed %d", c.count, c.found);
    ST_ASSERT(t, r == 0 && w == 5, "open/write /tmp//x: %d, %ld", r, (long)w);
    ST_ASSERT(t, big > 0 && big < (int64_t)MiB(1), "write past size=1M gave %ld, want a short write", (long)big);
    ST_ASSERT(t, sr == 0 && st.dev == tmp_id && st.size == 5 + (uint64_t)big, "stat through .. : %d, size %lu", sr,
              (unsigned long)st.size);
    ST_ASSERT(t, fr == 0 && total == MiB(1) && free_bytes < 4096 * 2, "statfs: %d, %lu total %lu free", fr,
              (unsigned long)total, (unsigned long)free_bytes);
    ST_ASSERT(t, ur == 0 && u1 == 0 && rm == 0 && u2 == 0, "cleanup: unlink %d umount %d rmdir %d umount / %d", ur, u1,
              rm, u2);
    ST_ASSERT(t, after == -KENOENT, "/ still resolves after unmounting the root: %d", after);
}
