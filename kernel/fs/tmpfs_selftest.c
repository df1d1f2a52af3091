/* tmpfs_selftest.c: self-tests of tmpfs through the VFS (group `tmpfs`), against vfs.h:
 * files of 0, 1, 511, 512, 4096 and 1 MiB + 1 bytes written with known content and read
 * back, nested directories, rename within and across directories, listing, deletion with the
 * heap returning to where it started, holes and truncation, an unlinked file kept alive by
 * an open file, O_APPEND. Each test mounts its own detached tmpfs (nothing global). */
#include "vfs.h"
#include "selftest.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"

/* A detached tmpfs and a context whose root and cwd are its root. */
struct tfs {
    struct vfs_mount *m;
    struct vfs_ctx ctx;
};

static int tfs_mount(struct tfs *f) {
    tmpfs_init();
    int r = vfs_mount(NULL, NULL, "tmpfs", "selftest", NULL, &f->m);
    if (r == 0) f->ctx.root = f->ctx.cwd = f->m->root;
    return r;
}

/* The last '/' in s (kstring.h has no strrchr). */
static char *strrchr_k(char *s, char c) {
    char *last = NULL;
    for (; *s; s++)
        if (*s == c) last = s;
    return last;
}

static uint8_t pattern_byte(uint64_t i, uint64_t size) { return (uint8_t)(i * 31 + size * 7 + (i >> 9)); }

/* Writes size pattern bytes to path in pieces of 7000 bytes. */
static int64_t write_pattern(const struct vfs_ctx *ctx, const char *path, uint64_t size, uint8_t *buf) {
    struct vfs_file *f;
    int r = vfs_open(ctx, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &f);
    if (r < 0) return r;
    uint64_t done = 0;
    while (done < size) {
        size_t n = (size_t)MIN((uint64_t)7000, size - done);
        for (size_t i = 0; i < n; i++) buf[i] = pattern_byte(done + i, size);
        int64_t w = vfs_write(f, buf, n);
        if (w != (int64_t)n) {
            vfs_close(f);
            return w < 0 ? w : -KEIO;
        }
        done += n;
    }
    vfs_close(f);
    return (int64_t)done;
}

/* Reads path back in pieces of 3000 bytes; returns the first bad offset, -1 when all match
 * and the length is size, or -2 - error. */
static int64_t check_pattern(const struct vfs_ctx *ctx, const char *path, uint64_t size, uint8_t *buf) {
    struct vfs_file *f;
    int r = vfs_open(ctx, path, O_RDONLY, 0, &f);
    if (r < 0) return -2 + r;
    uint64_t done = 0;
    for (;;) {
        int64_t n = vfs_read(f, buf, 3000);
        if (n < 0) {
            vfs_close(f);
            return -2 + n;
        }
        if (n == 0) break;
        for (int64_t i = 0; i < n; i++) {
            if (done + (uint64_t)i >= size || buf[i] != pattern_byte(done + (uint64_t)i, size)) {
                vfs_close(f);
                return (int64_t)(done + (uint64_t)i);
            }
        }
        done += (uint64_t)n;
    }
    vfs_close(f);
    return done == size ? -1 : (int64_t)done;
}

SELFTEST_TIMEOUT(tmpfs, file_sizes_roundtrip_and_memory_back, 60000) {
    static const uint64_t sizes[] = {0, 1, 511, 512, 4096, MiB(1) + 1};
    struct heap_stats h0, h1;
    heap_get_stats(&h0);
    struct tfs fs;
    ST_ASSERT(t, tfs_mount(&fs) == 0, "mount failed");
    uint8_t *buf = kmalloc(8192);
    ST_ASSERT(t, buf, "no memory");
    char name[32];
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        ksnprintf(name, sizeof(name), "/f%lu", (unsigned long)sizes[k]);
        int64_t w = write_pattern(&fs.ctx, name, sizes[k], buf);
        if (w != (int64_t)sizes[k]) {
            selftest_fail(t, "writing %s gave %ld", name, (long)w);
            break;
        }
    }
    for (size_t k = 0; k < ARRAY_SIZE(sizes) && !t->failed; k++) {
        ksnprintf(name, sizeof(name), "/f%lu", (unsigned long)sizes[k]);
        struct vfs_stat st;
        int r = vfs_stat(&fs.ctx, name, &st);
        if (r != 0 || st.size != sizes[k] || !VFS_ISREG(st.mode) || st.nlink != 1) {
            selftest_fail(t, "stat %s: r=%d size=%lu mode=%o", name, r, (unsigned long)st.size, st.mode);
            break;
        }
        int64_t bad = check_pattern(&fs.ctx, name, sizes[k], buf);
        if (bad != -1) selftest_fail(t, "%s reads back wrong at %ld", name, (long)bad);
    }
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        ksnprintf(name, sizeof(name), "/f%lu", (unsigned long)sizes[k]);
        int r = vfs_unlink(&fs.ctx, name);
        if (r != 0) selftest_fail(t, "unlink %s = %d", name, r);
    }
    kfree(buf);
    int r = vfs_umount(fs.m);
    ST_ASSERT(t, r == 0, "umount = %d", r);
    heap_get_stats(&h1);
    ST_ASSERT(t, h1.bytes_in_use == h0.bytes_in_use && h1.allocations == h0.allocations,
              "heap not back: %lu bytes / %lu allocations before, %lu / %lu after", (unsigned long)h0.bytes_in_use,
              (unsigned long)h0.allocations, (unsigned long)h1.bytes_in_use, (unsigned long)h1.allocations);
}

SELFTEST(tmpfs, nested_directories) {
    struct tfs fs;
    ST_ASSERT(t, tfs_mount(&fs) == 0, "mount failed");
    char path[128] = "";
    int r = 0;
    for (int d = 0; d < 10 && r == 0; d++) {
        size_t n = strlen(path);
        ksnprintf(path + n, sizeof(path) - n, "/d%d", d);
        r = vfs_mkdir(&fs.ctx, path, 0755);
    }
    ST_ASSERT(t, r == 0, "mkdir %s = %d", path, r);
    char file[160];
    ksnprintf(file, sizeof(file), "%s/deep.txt", path);
    uint8_t buf[64];
    ST_ASSERT(t, write_pattern(&fs.ctx, file, 50, buf) == 50, "write at depth 10 failed");
    ST_ASSERT(t, check_pattern(&fs.ctx, file, 50, buf) == -1, "read at depth 10 wrong");
    struct vfs_stat st;
    ST_ASSERT(t, vfs_stat(&fs.ctx, "/d0/d1/d2", &st) == 0 && VFS_ISDIR(st.mode), "d2 not a directory");
    ST_ASSERT(t, st.nlink == 3, "d2 nlink %u, want 3 (., .. of d3, entry)", st.nlink);
    /* removing the chain bottom-up works; a non-empty directory refuses */
    ST_ASSERT(t, vfs_rmdir(&fs.ctx, "/d0") == -KENOTEMPTY, "rmdir of non-empty /d0 not ENOTEMPTY");
    ST_ASSERT(t, vfs_unlink(&fs.ctx, file) == 0, "unlink deep file");
    for (int d = 9; d >= 0; d--) {
        r = vfs_rmdir(&fs.ctx, path);
        ST_ASSERT(t, r == 0, "rmdir %s = %d", path, r);
        *strrchr_k(path, '/') = '\0';
    }
    ST_ASSERT(t, vfs_umount(fs.m) == 0, "umount failed");
}

/* Collects the names of a directory listing into a bit set over names "n0".."n15" plus
 * "." and ".."; returns the entry count or -errno. */
static int list_names(const struct vfs_ctx *ctx, const char *dir, uint32_t *seen, int *dots, uint32_t *dups) {
    struct vfs_file *f;
    int r = vfs_open(ctx, dir, O_RDONLY | O_DIRECTORY, 0, &f);
    if (r < 0) return r;
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    if (!de) {
        vfs_close(f);
        return -KENOMEM;
    }
    int count = 0;
    *seen = 0;
    *dots = 0;
    *dups = 0;
    while ((r = vfs_readdir(f, de)) == 1) {
        count++;
        if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0) {
            (*dots)++;
        } else if (de->name[0] == 'n' && de->name_len <= 3) {
            int k = de->name[1] - '0';
            if (de->name_len == 3) k = k * 10 + de->name[2] - '0';
            if (k >= 0 && k < 32) {
                if (*seen & (1u << k)) *dups |= 1u << k;
                *seen |= 1u << k;
            }
        }
    }
    kfree(de);
    vfs_close(f);
    return r < 0 ? r : count;
}

SELFTEST(tmpfs, rename_list_delete_memory_back) {
    struct heap_stats h0, h1;
    heap_get_stats(&h0);
    struct tfs fs;
    ST_ASSERT(t, tfs_mount(&fs) == 0, "mount failed");
    uint8_t buf[256];
    char name[32];
    ST_ASSERT(t, vfs_mkdir(&fs.ctx, "/a", 0755) == 0 && vfs_mkdir(&fs.ctx, "/b", 0755) == 0, "mkdir a, b");
    for (int k = 0; k < 12; k++) {
        ksnprintf(name, sizeof(name), "/a/n%d", k);
        ST_ASSERT(t, write_pattern(&fs.ctx, name, 100 + (uint64_t)k, buf) == 100 + k, "write %s", name);
    }
    uint32_t seen, dups;
    int dots;
    int n = list_names(&fs.ctx, "/a", &seen, &dots, &dups);
    ST_ASSERT(t, n == 14 && seen == 0xfff && dots == 2 && dups == 0, "listing /a: %d entries, set %x, dots %d, dups %x",
              n, seen, dots, dups);
    /* rename in the same directory, then across directories, then over an existing file */
    ST_ASSERT(t, vfs_rename(&fs.ctx, "/a/n0", "/a/n20") == 0, "rename n0 -> n20");
    ST_ASSERT(t, vfs_rename(&fs.ctx, "/a/n1", "/b/n21") == 0, "rename a/n1 -> b/n21");
    ST_ASSERT(t, vfs_rename(&fs.ctx, "/a/n2", "/a/n3") == 0, "rename n2 over n3");
    struct vfs_stat st;
    ST_ASSERT(t, vfs_stat(&fs.ctx, "/a/n0", &st) == -KENOENT, "old name n0 still there");
    ST_ASSERT(t, vfs_stat(&fs.ctx, "/a/n1", &st) == -KENOENT, "old name a/n1 still there");
    ST_ASSERT(t, check_pattern(&fs.ctx, "/a/n20", 100, buf) == -1, "n20 lost n0's content");
    ST_ASSERT(t, check_pattern(&fs.ctx, "/b/n21", 101, buf) == -1, "b/n21 lost n1's content");
    ST_ASSERT(t, check_pattern(&fs.ctx, "/a/n3", 102, buf) == -1, "n3 does not hold n2's content");
    /* directories: rename across, into itself refused */
    ST_ASSERT(t, vfs_mkdir(&fs.ctx, "/a/sub", 0755) == 0, "mkdir a/sub");
    ST_ASSERT(t, vfs_rename(&fs.ctx, "/a", "/a/sub/x") == -KEINVAL, "moving /a below itself not EINVAL");
    ST_ASSERT(t, vfs_rename(&fs.ctx, "/a/sub", "/b/sub2") == 0, "rename dir across");
    ST_ASSERT(t, vfs_stat(&fs.ctx, "/b/sub2/..", &st) == 0, "b/sub2/.. missing");
    struct vfs_stat sb;
    ST_ASSERT(t, vfs_stat(&fs.ctx, "/b", &sb) == 0 && sb.ino == st.ino, "moved dir's .. is not /b");
    ST_ASSERT(t, vfs_rename(&fs.ctx, "/b/n21", "/b/sub2") == -KEISDIR, "file over dir not EISDIR");
    n = list_names(&fs.ctx, "/a", &seen, &dots, &dups);
    ST_ASSERT(t, n == 12 && seen == ((0xfffu & ~7u) | (1u << 20)), "listing /a after renames: %d, %x", n, seen);
    /* delete everything */
    for (int k = 3; k < 12; k++) {
        ksnprintf(name, sizeof(name), "/a/n%d", k);
        ST_ASSERT(t, vfs_unlink(&fs.ctx, name) == 0, "unlink %s", name);
    }
    ST_ASSERT(t, vfs_unlink(&fs.ctx, "/a/n20") == 0 && vfs_unlink(&fs.ctx, "/b/n21") == 0, "unlink renamed");
    ST_ASSERT(t, vfs_rmdir(&fs.ctx, "/b/sub2") == 0 && vfs_rmdir(&fs.ctx, "/a") == 0 && vfs_rmdir(&fs.ctx, "/b") == 0,
              "rmdir");
    n = list_names(&fs.ctx, "/", &seen, &dots, &dups);
    ST_ASSERT(t, n == 2 && dots == 2, "root not empty after deleting: %d entries", n);
    ST_ASSERT(t, vfs_umount(fs.m) == 0, "umount failed");
    heap_get_stats(&h1);
    ST_ASSERT(t, h1.bytes_in_use == h0.bytes_in_use && h1.allocations == h0.allocations,
              "heap not back: %lu/%lu before, %lu/%lu after", (unsigned long)h0.bytes_in_use,
              (unsigned long)h0.allocations, (unsigned long)h1.bytes_in_use, (unsigned long)h1.allocations);
}

SELFTEST(tmpfs, holes_truncate_append_lseek) {
    struct tfs fs;
    ST_ASSERT(t, tfs_mount(&fs) == 0, "mount failed");
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(&fs.ctx, "h", O_RDWR | O_CREAT, 0644, &f) == 0, "create h");
    ST_ASSERT(t, vfs_lseek(f, 10000, SEEK_SET) == 10000, "lseek 10000");
    ST_ASSERT(t, vfs_write(f, "Z", 1) == 1, "write at 10000");
    struct vfs_stat st;
    ST_ASSERT(t, vfs_fstat(f, &st) == 0 && st.size == 10001, "size %lu, want 10001", (unsigned long)st.size);
    uint8_t buf[512];
    int64_t n = vfs_pread(f, buf, sizeof(buf), 9000);
    bool zeros = n == 512;
    for (int i = 0; i < 512 && zeros; i++) zeros = buf[i] == 0;
    ST_ASSERT(t, zeros, "hole does not read as zeros (n=%ld)", (long)n);
    ST_ASSERT(t, vfs_pwrite(f, "abcdef", 6, 0) == 6, "pwrite");
    ST_ASSERT(t, vfs_ftruncate(f, 3) == 0, "truncate to 3");
    ST_ASSERT(t, vfs_ftruncate(f, 6) == 0, "truncate to 6");
    n = vfs_pread(f, buf, sizeof(buf), 0);
    ST_ASSERT(t, n == 6 && memcmp(buf, "abc\0\0\0", 6) == 0, "shrink+grow: n=%ld, %02x%02x%02x%02x", (long)n, buf[0],
              buf[3], buf[4], buf[5]);
    ST_ASSERT(t, vfs_lseek(f, -2, SEEK_END) == 4, "SEEK_END -2");
    ST_ASSERT(t, vfs_lseek(f, 1, SEEK_CUR) == 5, "SEEK_CUR +1");
    ST_ASSERT(t, vfs_lseek(f, -6, SEEK_CUR) == -KEINVAL, "negative offset not EINVAL");
    ST_ASSERT(t, vfs_lseek(f, 0, 7) == -KEINVAL, "bad whence not EINVAL");
    vfs_close(f);
    ST_ASSERT(t, vfs_open(&fs.ctx, "h", O_WRONLY | O_APPEND, 0, &f) == 0, "open append");
    ST_ASSERT(t, vfs_write(f, "XY", 2) == 2, "append write");
    ST_ASSERT(t, vfs_read(f, buf, 1) == -KEBADF, "read on O_WRONLY not EBADF");
    vfs_close(f);
    ST_ASSERT(t, vfs_open(&fs.ctx, "h", O_RDONLY, 0, &f) == 0, "open ro");
    n = vfs_read(f, buf, sizeof(buf));
    ST_ASSERT(t, n == 8 && memcmp(buf + 6, "XY", 2) == 0, "append did not go to the end (n=%ld)", (long)n);
    ST_ASSERT(t, vfs_write(f, "q", 1) == -KEBADF, "write on O_RDONLY not EBADF");
    vfs_close(f);
    ST_ASSERT(t, vfs_open(&fs.ctx, "h", O_WRONLY | O_TRUNC, 0, &f) == 0, "open trunc");
    ST_ASSERT(t, vfs_fstat(f, &st) == 0 && st.size == 0, "O_TRUNC left %lu bytes", (unsigned long)st.size);
    vfs_close(f);
    ST_ASSERT(t, vfs_unlink(&fs.ctx, "h") == 0, "unlink");
    ST_ASSERT(t, vfs_umount(fs.m) == 0, "umount failed");
}

SELFTEST(tmpfs, unlinked_open_file_lives_until_close) {
    struct heap_stats h0, h1;
    heap_get_stats(&h0);
    struct tfs fs;
    ST_ASSERT(t, tfs_mount(&fs) == 0, "mount failed");
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(&fs.ctx, "/u", O_RDWR | O_CREAT, 0600, &f) == 0, "create u");
    ST_ASSERT(t, vfs_write(f, "data", 4) == 4, "write");
    ST_ASSERT(t, vfs_unlink(&fs.ctx, "/u") == 0, "unlink while open");
    struct vfs_stat st;
    ST_ASSERT(t, vfs_stat(&fs.ctx, "/u", &st) == -KENOENT, "name still resolves");
    char buf[8];
    ST_ASSERT(t, vfs_pread(f, buf, 8, 0) == 4 && memcmp(buf, "data", 4) == 0, "data gone before close");
    ST_ASSERT(t, vfs_fstat(f, &st) == 0 && st.nlink == 0, "nlink %u after unlink", st.nlink);
    ST_ASSERT(t, vfs_umount(fs.m) == -KEBUSY, "umount with an open file not EBUSY");
    vfs_close(f);
    ST_ASSERT(t, vfs_umount(fs.m) == 0, "umount failed");
    heap_get_stats(&h1);
    ST_ASSERT(t, h1.bytes_in_use == h0.bytes_in_use && h1.allocations == h0.allocations,
              "heap not back: %lu/%lu before, %lu/%lu after", (unsigned long)h0.bytes_in_use,
              (unsigned long)h0.allocations, (unsigned long)h1.bytes_in_use, (unsigned long)h1.allocations);
}
