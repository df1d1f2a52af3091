/* p9fs_selftest.c: self-tests of the 9P file system (kernel/fs/p9fs.c) through the VFS on the
 * real /9p mount that fs_boot_mounts makes (the launcher shares the repository's build/
 * directory with mount tag "sabos"; 9P2000.L over virtio-9p, VIRTIO 1.2 §5.11).
 *
 * Group p9fs works under /9p/p9fs.tmp: nested directories; files of 0, 1, 511, 512, 4096 and
 * 1 MiB + 1 bytes written and read back through fresh opens; rename; listing; a host file six
 * directories deep (build/p9fixture, made by scripts/test.sh); paths of exactly 16 and 17
 * components; and at the end everything removed with the client's fid count back where it
 * started. Group p9fs_persist writes /9p/p9persist/guest.bin (30000 bytes of the blk_pattern.h
 * stream, seed 0x9f9f0001) and leaves it for the host to check. */
#include "vfs.h"
#include "selftest.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "p9.h"
#include "virtio_9p.h"
#include "blk_pattern.h"

#define TMP "/9p/p9fs.tmp"
#define PIECE 16384u
#define P9FS_PERSIST_SEED 0x9f9f0001u
#define P9FS_PERSIST_LEN 30000u
#define DEEP_TEXT "sabos p9 fixture at depth six\n"

static uint32_t start_live_fids;
static bool start_recorded;

static uint32_t live_fids(void) {
    struct p9_client *c = virtio_9p_client("sabos");
    return c ? c->fids.live : 0;
}

/* Removes path and everything below it (directories through readdir); missing is fine.
 * path is a buffer of VFS_PATH_MAX bytes that is extended and restored. */
static int remove_tree(char *path, int depth) {
    struct vfs_stat st;
    int r = vfs_stat(NULL, path, &st);
    if (r == -KENOENT) return 0;
    if (r < 0) return r;
    if (!VFS_ISDIR(st.mode)) return vfs_unlink(NULL, path);
    if (depth > 40) return -KENAMETOOLONG;
    size_t base = strlen(path);
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    if (!de) return -KENOMEM;
    for (;;) {
        /* reopen after every removal: the listing changes under an open directory */
        struct vfs_file *d;
        r = vfs_open(NULL, path, O_RDONLY | O_DIRECTORY, 0, &d);
        if (r < 0) break;
        bool found = false;
        while ((r = vfs_readdir(d, de)) == 1) {
            if ((de->name_len == 1 && de->name[0] == '.') ||
                (de->name_len == 2 && de->name[0] == '.' && de->name[1] == '.'))
                continue;
            found = true;
            break;
        }
        vfs_close(d);
        if (r < 0 || !found) break;
        if (base + 1 + de->name_len >= VFS_PATH_MAX) {
            r = -KENAMETOOLONG;
            break;
        }
        path[base] = '/';
        memcpy(path + base + 1, de->name, de->name_len + 1u);
        r = remove_tree(path, depth + 1);
        path[base] = '\0';
        if (r < 0) break;
    }
    kfree(de);
    if (r < 0) return r;
    return vfs_rmdir(NULL, path);
}

static int remove_path(const char *p) {
    char *buf = kmalloc(VFS_PATH_MAX);
    if (!buf) return -KENOMEM;
    strlcpy(buf, p, VFS_PATH_MAX);
    int r = remove_tree(buf, 0);
    kfree(buf);
    return r;
}

/* Makes sure /9p/p9fs.tmp exists (the first call clears a leftover and records the fid count). */
static int ensure_tmp(void) {
    if (!start_recorded) {
        int r = remove_path(TMP);
        if (r < 0) return r;
        start_live_fids = live_fids();
        start_recorded = true;
    }
    int r = vfs_mkdir(NULL, TMP, 0755);
    return r == -KEEXIST ? 0 : r;
}

/* Writes size bytes of the stream seed to path (created new), PIECE bytes per write. */
static int write_stream(const char *path, uint64_t size, uint32_t seed, uint8_t *buf) {
    struct vfs_file *f;
    int r = vfs_open(NULL, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &f);
    if (r < 0) return r;
    for (uint64_t done = 0; done < size;) {
        size_t n = (size_t)MIN((uint64_t)PIECE, size - done);
        blk_pattern_fill(buf, n, seed, done);
        int64_t w = vfs_write(f, buf, n);
        if (w != (int64_t)n) {
            vfs_close(f);
            return w < 0 ? (int)w : -KEIO;
        }
        done += n;
    }
    vfs_close(f);
    return 0;
}

/* Reads path through a fresh open and compares with the stream; 0, -KEIO (mismatch, *bad =
 * offset), or an error. Checks the end of file comes exactly at size. */
static int check_stream(const char *path, uint64_t size, uint32_t seed, uint8_t *buf, uint8_t *want, uint64_t *bad) {
    struct vfs_file *f;
    int r = vfs_open(NULL, path, O_RDONLY, 0, &f);
    if (r < 0) return r;
    uint64_t done = 0;
    for (;;) {
        int64_t got = vfs_read(f, buf, PIECE);
        if (got < 0) {
            r = (int)got;
            break;
        }
        if (got == 0) break;
        if (done + (uint64_t)got > size) {
            *bad = size;
            r = -KEIO;
            break;
        }
        blk_pattern_fill(want, (size_t)got, seed, done);
        if (memcmp(buf, want, (size_t)got) != 0) {
            *bad = done;
            r = -KEIO;
            break;
        }
        done += (uint64_t)got;
    }
    vfs_close(f);
    if (r == 0 && done != size) {
        *bad = done;
        r = -KEIO;
    }
    return r;
}

SELFTEST(p9fs, nested_directories) {
    ST_ASSERT(t, virtio_9p_client("sabos"), "no virtio-9p device with mount tag sabos");
    int r = ensure_tmp();
    ST_ASSERT(t, r == 0, "cannot create %s: %d", TMP, r);
    const char *dirs[] = { TMP "/a", TMP "/a/b", TMP "/a/b/c" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        r = vfs_mkdir(NULL, dirs[i], 0755);
        ST_ASSERT(t, r == 0, "mkdir %s: %d", dirs[i], r);
    }
    r = vfs_mkdir(NULL, TMP "/a/b", 0755);
    ST_ASSERT(t, r == -KEEXIST, "mkdir of an existing directory gave %d, not -EEXIST", r);
    struct vfs_stat st;
    r = vfs_stat(NULL, TMP "/a/b/c/../../b/c", &st);
    ST_ASSERT(t, r == 0 && VFS_ISDIR(st.mode), "stat through .. failed: %d mode %o", r, st.mode);
}

SELFTEST_TIMEOUT(p9fs, sizes_round_trip, 120000) {
    int r = ensure_tmp();
    ST_ASSERT(t, r == 0, "cannot create %s: %d", TMP, r);
    static const uint64_t sizes[] = { 0, 1, 511, 512, 4096, (1u << 20) + 1 };
    uint8_t *buf = kmalloc(PIECE), *want = kmalloc(PIECE);
    if (!buf || !want) {
        kfree(buf);
        kfree(want);
        ST_ASSERT(t, false, "out of memory");
    }
    char path[96];
    for (size_t i = 0; i < ARRAY_SIZE(sizes) && !t->failed; i++) {
        uint32_t seed = 0x9f000000u + (uint32_t)i;
        ksnprintf(path, sizeof(path), TMP "/size%llu.bin", (unsigned long long)sizes[i]);
        r = write_stream(path, sizes[i], seed, buf);
        if (r < 0) {
            selftest_fail(t, "writing %s: %d", path, r);
            break;
        }
        uint64_t bad = 0;
        r = check_stream(path, sizes[i], seed, buf, want, &bad);
        if (r < 0) {
            selftest_fail(t, "reading back %s: %d (first difference at byte %llu)", path, r,
                          (unsigned long long)bad);
            break;
        }
        struct vfs_stat st;
        r = vfs_stat(NULL, path, &st);
        if (r < 0 || st.size != sizes[i] || !VFS_ISREG(st.mode))
            selftest_fail(t, "stat %s: %d size %llu mode %o", path, r, (unsigned long long)st.size, st.mode);
    }
    kfree(buf);
    kfree(want);
}

SELFTEST(p9fs, rename_moves_file) {
    int r = ensure_tmp();
    ST_ASSERT(t, r == 0, "cannot create %s: %d", TMP, r);
    r = vfs_mkdir(NULL, TMP "/ren", 0755);
    ST_ASSERT(t, r == 0 || r == -KEEXIST, "mkdir: %d", r);
    uint8_t buf[64], want[64];
    r = write_stream(TMP "/ren/old.txt", 50, 0x9f0000aau, buf);
    ST_ASSERT(t, r == 0, "create old.txt: %d", r);
    r = vfs_rename(NULL, TMP "/ren/old.txt", TMP "/a/new.txt");
    ST_ASSERT(t, r == 0, "rename: %d", r);
    struct vfs_stat st;
    r = vfs_stat(NULL, TMP "/ren/old.txt", &st);
    ST_ASSERT(t, r == -KENOENT, "the old name still resolves: %d", r);
    uint64_t bad = 0;
    r = check_stream(TMP "/a/new.txt", 50, 0x9f0000aau, buf, want, &bad);
    ST_ASSERT(t, r == 0, "the renamed file reads back wrong: %d at %llu", r, (unsigned long long)bad);
}

SELFTEST(p9fs, list_directory) {
    int r = ensure_tmp();
    ST_ASSERT(t, r == 0, "cannot create %s: %d", TMP, r);
    r = vfs_mkdir(NULL, TMP "/list", 0755);
    ST_ASSERT(t, r == 0, "mkdir list: %d", r);
    static const char *names[] = { "one", "two", "three", "subdir" };
    uint8_t b[4];
    char path[96];
    for (int i = 0; i < 3; i++) {
        ksnprintf(path, sizeof(path), TMP "/list/%s", names[i]);
        r = write_stream(path, 4, 1, b);
        ST_ASSERT(t, r == 0, "create %s: %d", path, r);
    }
    r = vfs_mkdir(NULL, TMP "/list/subdir", 0755);
    ST_ASSERT(t, r == 0, "mkdir subdir: %d", r);
    struct vfs_file *d;
    r = vfs_open(NULL, TMP "/list", O_RDONLY | O_DIRECTORY, 0, &d);
    ST_ASSERT(t, r == 0, "open dir: %d", r);
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    if (!de) {
        vfs_close(d);
        ST_ASSERT(t, false, "out of memory");
    }
    unsigned seen = 0, count = 0;
    bool dot = false, dotdot = false, types_ok = true;
    while ((r = vfs_readdir(d, de)) == 1) {
        count++;
        if (strcmp(de->name, ".") == 0) dot = true;
        else if (strcmp(de->name, "..") == 0) dotdot = true;
        for (unsigned i = 0; i < 4; i++) {
            if (strcmp(de->name, names[i]) == 0) {
                seen |= 1u << i;
                uint32_t want_type = i == 3 ? S_IFDIR : S_IFREG;
                if (de->type != want_type) types_ok = false;
            }
        }
    }
    vfs_close(d);
    kfree(de);
    ST_ASSERT(t, r == 0, "readdir error %d", r);
    ST_ASSERT(t, dot && dotdot, "\".\" or \"..\" missing");
    ST_ASSERT(t, seen == 0xf && count == 6, "listed %u entries, found mask %x (want 6 entries, mask f)", count, seen);
    ST_ASSERT(t, types_ok, "an entry has the wrong type");
}

SELFTEST(p9fs, host_file_at_depth_6) {
    struct vfs_file *f;
    int r = vfs_open(NULL, "/9p/p9fixture/d1/d2/d3/d4/d5/d6/deep.txt", O_RDONLY, 0, &f);
    ST_ASSERT(t, r == 0, "open the fixture (made by scripts/test.sh): %d", r);
    char buf[128];
    int64_t n = vfs_read(f, buf, sizeof(buf) - 1);
    vfs_close(f);
    ST_ASSERT(t, n >= 0, "read: %lld", (long long)n);
    buf[n] = '\0';
    ST_ASSERT(t, (size_t)n == strlen(DEEP_TEXT) && memcmp(buf, DEEP_TEXT, (size_t)n) == 0,
              "read %lld bytes '%s', expected '%s'", (long long)n, buf, DEEP_TEXT);
}

/* /9p/p9fs.tmp/p1/.../pN/ then a file: 2 + dirs + 1 components. */
SELFTEST_TIMEOUT(p9fs, paths_of_16_and_17_components, 60000) {
    int r = ensure_tmp();
    ST_ASSERT(t, r == 0, "cannot create %s: %d", TMP, r);
    char path[256];
    size_t len = strlen(TMP);
    memcpy(path, TMP, len + 1);
    for (int depth = 1; depth <= 14; depth++) {
        len += (size_t)ksnprintf(path + len, sizeof(path) - len, "/p%d", depth);
        r = vfs_mkdir(NULL, path, 0755);
        ST_ASSERT(t, r == 0, "mkdir %s: %d", path, r);
        if (depth == 13 || depth == 14) {
            int comps = 2 + depth + 1;
            char file[288];
            ksnprintf(file, sizeof(file), "%s/f%d", path, comps);
            struct vfs_file *f;
            r = vfs_open(NULL, file, O_RDWR | O_CREAT | O_EXCL, 0644, &f);
            ST_ASSERT(t, r == 0, "create at %d components (%s): %d", comps, file, r);
            int64_t w = vfs_write(f, &comps, sizeof(comps));
            vfs_close(f);
            ST_ASSERT(t, w == (int64_t)sizeof(comps), "write: %lld", (long long)w);
            r = vfs_open(NULL, file, O_RDONLY, 0, &f);
            ST_ASSERT(t, r == 0, "open at %d components: %d", comps, r);
            int got = 0;
            int64_t n = vfs_read(f, &got, sizeof(got));
            vfs_close(f);
            ST_ASSERT(t, n == (int64_t)sizeof(got) && got == comps, "read back %lld bytes, value %d", (long long)n, got);
        }
    }
}

SELFTEST_TIMEOUT(p9fs, cleanup_removes_all_no_fid_leak, 60000) {
    ST_ASSERT(t, start_recorded, "the earlier tests never set up %s", TMP);
    int r = remove_path(TMP);
    ST_ASSERT(t, r == 0, "removing %s: %d", TMP, r);
    struct vfs_stat st;
    r = vfs_stat(NULL, TMP, &st);
    ST_ASSERT(t, r == -KENOENT, "%s still exists after removal: %d", TMP, r);
    uint32_t now = live_fids();
    ST_ASSERT(t, now == start_live_fids, "the client holds %u fids, %u at the start", now, start_live_fids);
    start_recorded = false;
}

SELFTEST(p9fs_persist, write_guest_file) {
    int r = vfs_mkdir(NULL, "/9p/p9persist", 0755);
    ST_ASSERT(t, r == 0 || r == -KEEXIST, "mkdir /9p/p9persist: %d", r);
    r = vfs_unlink(NULL, "/9p/p9persist/guest.bin");
    ST_ASSERT(t, r == 0 || r == -KENOENT, "removing an old guest.bin: %d", r);
    uint8_t *buf = kmalloc(PIECE), *want = kmalloc(PIECE);
    if (!buf || !want) {
        kfree(buf);
        kfree(want);
        ST_ASSERT(t, false, "out of memory");
    }
    uint64_t bad = 0;
    r = write_stream("/9p/p9persist/guest.bin", P9FS_PERSIST_LEN, P9FS_PERSIST_SEED, buf);
    if (r == 0) r = check_stream("/9p/p9persist/guest.bin", P9FS_PERSIST_LEN, P9FS_PERSIST_SEED, buf, want, &bad);
    kfree(buf);
    kfree(want);
    ST_ASSERT(t, r == 0, "writing or reading back guest.bin: %d (at %llu)", r, (unsigned long long)bad);
}
