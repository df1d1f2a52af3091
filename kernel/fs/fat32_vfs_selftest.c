/* fat32_vfs_selftest.c: self-tests of the FAT32 engine behind the VFS (fat32_vfs.c), run on
 * the FAT32 volumes kmain mounts (fs_boot_mounts: "/" on vda, "/ahci" on sda, "/nvme" on
 * nvme0n1). Group `fatfs`: directories, file sizes, rename, listing, delete and free space, a
 * long mixed-case UTF-8 name (fatgen103 §7: long names are UTF-16, matched case-insensitively).
 * Group `fatfs_persist`: leaves /VOL/GUEST/GUEST.BIN (40000 pattern bytes, seed
 * FATFS_GUEST_SEED + volume index) and "Mixed Case Ünïcode name.txt" for the host-side check
 * in scripts/test.sh (fsck.fat, mtools). A missing volume fails each test with the reason. */
#include "selftest.h"
#include "vfs.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "printk.h"
#include "blk_pattern.h"
#include "block.h"

#define FATFS_GUEST_SEED 0x6a7f0000u   /* + volume index; scripts/test.sh uses the same values */
#define FATFS_GUEST_BIN_LEN 40000u
#define FATFS_GUEST_TEXT "hello from the guest\n"
#define FATFS_GUEST_UNICODE "Mixed Case \xc3\x9c" "n\xc3\xaf" "code name.txt"
#define CHUNK (64u * 1024u)
#define WORK "FSTWORK"

static const char *const volumes[] = {"/", "/ahci", "/nvme"};
#define NVOL 3

/* "VOL/rest" into out (no double slash for "/"). */
static void vpath(char *out, size_t size, const char *vol, const char *rest) {
    ksnprintf(out, size, "%s/%s", strcmp(vol, "/") == 0 ? "" : vol, rest);
}

/* The mount of vol if its root is a mount of fstype; otherwise NULL and a reason in t. */
static struct vfs_mount *mount_of_type(struct selftest_ctx *t, const char *vol, const char *fstype) {
    struct vnode *vn;
    int r = vfs_lookup(NULL, vol, &vn);
    if (r < 0) {
        selftest_fail(t, "%s: not reachable (error %d): is the FAT32 volume mounted?", vol, r);
        return NULL;
    }
    struct vfs_mount *m = vn->mount;
    bool ok = m && m->type && strcmp(m->type->name, fstype) == 0 && m->root == vn;
    vnode_put(vn);
    if (!ok) {
        selftest_fail(t, "%s: is not the root of a %s mount (device missing or mount failed)", vol, fstype);
        return NULL;
    }
    return m;
}

static struct vfs_mount *fat_mount_of(struct selftest_ctx *t, const char *vol) {
    return mount_of_type(t, vol, "fat32");
}

static uint64_t free_bytes(struct vfs_mount *m) {
    uint64_t total = 0, fr = 0;
    if (vfs_statfs(m, &total, &fr) < 0) return UINT64_MAX;
    return fr;
}

/* Writes len pattern bytes (seed) to a new file path; 0 or a negative error. */
static int write_pattern(const char *path, uint32_t seed, uint64_t len, uint8_t *buf) {
    struct vfs_file *f;
    int r = vfs_open(NULL, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (r < 0) return r;
    for (uint64_t off = 0; off < len && r >= 0;) {
        size_t n = (size_t)MIN((uint64_t)CHUNK, len - off);
        blk_pattern_fill(buf, n, seed, off);
        int64_t w = vfs_write(f, buf, n);
        if (w != (int64_t)n) r = w < 0 ? (int)w : -KEIO;
        off += n;
    }
    vfs_close(f);
    return r < 0 ? r : 0;
}

/* Reads path through a fresh open and compares it with len pattern bytes: 0, or -1 with why. */
static int check_pattern(const char *path, uint32_t seed, uint64_t len, uint8_t *buf, uint8_t *want, char *why,
                         size_t why_size) {
    struct vfs_file *f;
    int r = vfs_open(NULL, path, O_RDONLY, 0, &f);
    if (r < 0) {
        ksnprintf(why, why_size, "reopen %s = %d", path, r);
        return -1;
    }
    struct vfs_stat st;
    r = vfs_fstat(f, &st);
    if (r < 0 || st.size != len || !VFS_ISREG(st.mode)) {
        ksnprintf(why, why_size, "%s: stat %d size %llu mode %o, want %llu", path, r, (unsigned long long)st.size,
                  st.mode, (unsigned long long)len);
        vfs_close(f);
        return -1;
    }
    for (uint64_t off = 0;; ) {
        int64_t got = vfs_read(f, buf, CHUNK);
        if (got < 0) {
            ksnprintf(why, why_size, "%s: read at %llu = %lld", path, (unsigned long long)off, (long long)got);
            vfs_close(f);
            return -1;
        }
        if (got == 0) {
            vfs_close(f);
            if (off != len) {
                ksnprintf(why, why_size, "%s: read %llu bytes, want %llu", path, (unsigned long long)off,
                          (unsigned long long)len);
                return -1;
            }
            return 0;
        }
        blk_pattern_fill(want, (size_t)got, seed, off);
        if (off + (uint64_t)got > len || memcmp(buf, want, (size_t)got) != 0) {
            ksnprintf(why, why_size, "%s: bytes at %llu..+%lld differ from what was written", path,
                      (unsigned long long)off, (long long)got);
            vfs_close(f);
            return -1;
        }
        off += (uint64_t)got;
    }
}

/* Lists dir: exactly the n names in want (after "." and ".." first); 0 or -1 with why. */
static int list_exactly(const char *dir, const char *const *want, int n, char *why, size_t why_size) {
    struct vfs_file *f;
    int r = vfs_open(NULL, dir, O_RDONLY | O_DIRECTORY, 0, &f);
    if (r < 0) {
        ksnprintf(why, why_size, "open dir %s = %d", dir, r);
        return -1;
    }
    struct vfs_dirent *de = kmalloc(sizeof(*de));
    uint32_t seen = 0;
    int count = 0, rc = 0;
    while (de && rc == 0 && (r = vfs_readdir(f, de)) == 1) {
        if (count == 0 && strcmp(de->name, ".") != 0) rc = -1;
        else if (count == 1 && strcmp(de->name, "..") != 0) rc = -1;
        if (rc < 0) ksnprintf(why, why_size, "%s: entry %d is '%s', want '%s'", dir, count, de->name, count ? ".." : ".");
        if (count >= 2 && rc == 0) {
            int k = 0;
            while (k < n && (strlen(want[k]) != de->name_len || memcmp(want[k], de->name, de->name_len) != 0)) k++;
            if (k == n || (seen & (1u << k))) {
                ksnprintf(why, why_size, "%s: unexpected entry '%s'", dir, de->name);
                rc = -1;
            } else {
                seen |= 1u << k;
            }
        }
        count++;
    }
    if (!de) ksnprintf(why, why_size, "no memory"), rc = -1;
    if (rc == 0 && r < 0) ksnprintf(why, why_size, "%s: readdir = %d", dir, r), rc = -1;
    if (rc == 0 && seen != (n >= 32 ? ~0u : (1u << n) - 1)) {
        int k = 0;
        while (k < n && (seen & (1u << k))) k++;
        ksnprintf(why, why_size, "%s: '%s' missing from the listing", dir, k < n ? want[k] : "?");
        rc = -1;
    }
    kfree(de);
    vfs_close(f);
    return rc;
}

static const char *const tree_files[] = {"/a/b/c/d/f0", "/a/b/c/d/f1", "/a/b/c/d/f511", "/a/b/c/d/renamed512",
                                         "/a/b/c/d/f4096", "/a/moved_big", "/a/b/c/d/f512", "/a/b/c/d/fbig", "/a/held",
                                         "/a/b/held2"};
static const char *const tree_dirs[] = {"/a/b/c/d", "/a/b/c", "/a/b", "/a", ""};

/* Best-effort removal of what a failed tree test left (errors ignored). */
static void tree_cleanup(const char *vol) {
    char p[160], q[160];
    for (int i = 0; i < 10; i++) {
        ksnprintf(q, sizeof q, WORK "%s", tree_files[i]);
        vpath(p, sizeof p, vol, q);
        vfs_unlink(NULL, p);
    }
    for (int i = 0; i < 5; i++) {
        ksnprintf(q, sizeof q, WORK "%s", tree_dirs[i]);
        vpath(p, sizeof p, vol, q);
        vfs_rmdir(NULL, p);
    }
}

#define FAILV(fmt, ...)                                                                  \
    do {                                                                                 \
        selftest_fail(t, "%s: " fmt, vol, ##__VA_ARGS__);                                \
        goto out;                                                                        \
    } while (0)

/* Nested directories, files of several sizes, rename, listing, delete, free space. */
static void one_volume_tree_of(struct selftest_ctx *t, const char *vol, const char *fstype, uint8_t *buf,
                               uint8_t *want);
static void one_volume_tree(struct selftest_ctx *t, const char *vol, uint8_t *buf, uint8_t *want) {
    one_volume_tree_of(t, vol, "fat32", buf, want);
}

/* The whole workload on the volume mounted at vol, which must be a mount of fstype. */
static void one_volume_tree_of(struct selftest_ctx *t, const char *vol, const char *fstype, uint8_t *buf,
                               uint8_t *want) {
    static const uint64_t sizes[] = {0, 1, 511, 512, 4096, 1024 * 1024 + 1};
    static const char *const fnames[] = {"f0", "f1", "f511", "f512", "f4096", "fbig"};
    char p[160], q[160], why[160];
    int r;
    struct vfs_mount *m = mount_of_type(t, vol, fstype);
    if (!m) return;
    vpath(p, sizeof p, vol, WORK);
    /* take an entry slot in the parent once, so the directory does not grow during the measure */
    vfs_mkdir(NULL, p, 0755);
    vfs_rmdir(NULL, p);
    uint64_t free0 = free_bytes(m);
    if (free0 == UINT64_MAX) FAILV("statfs failed");
    if ((r = vfs_mkdir(NULL, p, 0755)) < 0) FAILV("mkdir %s = %d", p, r);
    size_t base = strlen(p) + 1;
    vpath(p, sizeof p, vol, WORK "/a/b/c/d");
    for (const char *s = p + base; *s; s++) {
        if (*s != '/') continue;
        ksnprintf(q, sizeof q, "%.*s", (int)(s - p), p);
        if ((r = vfs_mkdir(NULL, q, 0755)) < 0) FAILV("mkdir %s = %d", q, r);
    }
    if ((r = vfs_mkdir(NULL, p, 0755)) < 0) FAILV("mkdir %s = %d", p, r);
    struct vfs_stat st;
    if ((r = vfs_stat(NULL, p, &st)) < 0 || !VFS_ISDIR(st.mode)) FAILV("stat %s = %d mode %o", p, r, st.mode);
    vpath(p, sizeof p, vol, WORK "/a/b/c/d");
    for (int i = 0; i < 6; i++) {
        ksnprintf(q, sizeof q, "%s/%s", p, fnames[i]);
        if ((r = write_pattern(q, 0x1000u + (uint32_t)i, sizes[i], buf)) < 0) FAILV("write %s = %d", q, r);
    }
    /* read back from the device, not from the buffer cache */
    if ((r = vfs_sync_all()) < 0) FAILV("vfs_sync_all = %d", r);
    if (m->source[0]) { /* a disk-backed volume (tmpfs has no device to re-read) */
        struct blk_device *dev = blk_find(m->source);
        if (!dev) FAILV("block device %s of the mount not found", m->source);
        bcache_invalidate(dev);
    }
    for (int i = 0; i < 6; i++) {
        ksnprintf(q, sizeof q, "%s/%s", p, fnames[i]);
        if (check_pattern(q, 0x1000u + (uint32_t)i, sizes[i], buf, want, why, sizeof why) < 0) FAILV("%s", why);
    }
    /* rename within a directory and across directories */
    vpath(p, sizeof p, vol, WORK "/a/b/c/d/f512");
    vpath(q, sizeof q, vol, WORK "/a/b/c/d/renamed512");
    if ((r = vfs_rename(NULL, p, q)) < 0) FAILV("rename %s -> %s = %d", p, q, r);
    vpath(p, sizeof p, vol, WORK "/a/b/c/d/fbig");
    vpath(q, sizeof q, vol, WORK "/a/moved_big");
    if ((r = vfs_rename(NULL, p, q)) < 0) FAILV("rename %s -> %s = %d", p, q, r);
    if (check_pattern(q, 0x1000u + 5, sizes[5], buf, want, why, sizeof why) < 0) FAILV("after rename: %s", why);
    vpath(p, sizeof p, vol, WORK "/a/b/c/d/renamed512");
    if (check_pattern(p, 0x1000u + 3, sizes[3], buf, want, why, sizeof why) < 0) FAILV("after rename: %s", why);
    /* a file open across a rename keeps its identity: same vnode, writes land in the file */
    {
        struct vfs_file *hf;
        struct vnode *again;
        char got[8] = {0};
        vpath(p, sizeof p, vol, WORK "/a/held");
        vpath(q, sizeof q, vol, WORK "/a/b/held2");
        if ((r = vfs_open(NULL, p, O_RDWR | O_CREAT, 0644, &hf)) < 0) FAILV("create %s = %d", p, r);
        int64_t w1 = vfs_write(hf, "abc", 3);
        r = vfs_rename(NULL, p, q);
        int64_t w2 = vfs_write(hf, "def", 3);
        int lr = vfs_lookup(NULL, q, &again);
        bool same = lr == 0 && again == hf->vn;
        if (lr == 0) vnode_put(again);
        int64_t rd = vfs_pread(hf, got, 6, 0);
        vfs_close(hf);
        if (w1 != 3 || r < 0 || w2 != 3) FAILV("write/rename/write while open = %lld/%d/%lld", (long long)w1, r, (long long)w2);
        if (!same) FAILV("lookup of the new name (%d) gives another vnode than the open file's", lr);
        if (rd != 6 || memcmp(got, "abcdef", 6) != 0) FAILV("read through the open file after rename: %lld bytes", (long long)rd);
        struct vfs_file *rf;
        if ((r = vfs_open(NULL, q, O_RDONLY, 0, &rf)) < 0) FAILV("reopen %s = %d", q, r);
        memset(got, 0, sizeof got);
        rd = vfs_read(rf, got, sizeof got);
        vfs_close(rf);
        if (rd != 6 || memcmp(got, "abcdef", 6) != 0) FAILV("reopened %s holds %lld bytes, not abcdef", q, (long long)rd);
        if ((r = vfs_unlink(NULL, q)) < 0) FAILV("unlink %s = %d", q, r);
    }
    vpath(p, sizeof p, vol, WORK "/a/b/c/d/f512");
    if ((r = vfs_stat(NULL, p, &st)) != -KENOENT) FAILV("old name %s still there (stat = %d)", p, r);
    {
        static const char *const in_d[] = {"f0", "f1", "f511", "renamed512", "f4096"};
        static const char *const in_a[] = {"b", "moved_big"};
        vpath(p, sizeof p, vol, WORK "/a/b/c/d");
        if (list_exactly(p, in_d, 5, why, sizeof why) < 0) FAILV("%s", why);
        vpath(p, sizeof p, vol, WORK "/a");
        if (list_exactly(p, in_a, 2, why, sizeof why) < 0) FAILV("%s", why);
    }
    /* delete everything; a non-empty directory refuses rmdir */
    vpath(p, sizeof p, vol, WORK "/a/b/c");
    if ((r = vfs_rmdir(NULL, p)) != -KENOTEMPTY) FAILV("rmdir of non-empty %s = %d, want %d", p, r, -KENOTEMPTY);
    for (int i = 0; i < 6; i++) {
        ksnprintf(q, sizeof q, WORK "%s", tree_files[i]);
        vpath(p, sizeof p, vol, q);
        if ((r = vfs_unlink(NULL, p)) < 0) FAILV("unlink %s = %d", p, r);
        if ((r = vfs_stat(NULL, p, &st)) != -KENOENT) FAILV("%s still there after unlink (%d)", p, r);
    }
    for (int i = 0; i < 5; i++) {
        ksnprintf(q, sizeof q, WORK "%s", tree_dirs[i]);
        vpath(p, sizeof p, vol, q);
        if ((r = vfs_rmdir(NULL, p)) < 0) FAILV("rmdir %s = %d", p, r);
    }
    uint64_t free1 = free_bytes(m);
    if (free1 != free0)
        FAILV("free space %llu bytes after deleting everything, %llu before", (unsigned long long)free1,
              (unsigned long long)free0);
    if ((r = vfs_sync_all()) < 0) FAILV("vfs_sync_all at the end = %d", r);
    return;
out:
    tree_cleanup(vol); /* so a failed run does not poison the next one */
}

static bool buffers(struct selftest_ctx *t, uint8_t **buf, uint8_t **want) {
    *buf = kmalloc(CHUNK);
    *want = kmalloc(CHUNK);
    if (*buf && *want) return true;
    kfree(*buf);
    kfree(*want);
    selftest_fail(t, "no memory for the buffers");
    return false;
}

SELFTEST_TIMEOUT(fatfs, tree_sizes_rename_list_delete_free_space_all_volumes, 60000) {
    uint8_t *buf, *want;
    if (!buffers(t, &buf, &want)) return;
    for (int v = 0; v < NVOL && !t->failed; v++) one_volume_tree(t, volumes[v], buf, want);
    kfree(buf);
    kfree(want);
}

/* 100 characters: a cycle of ASCII and Latin-1 letters in alternating case. */
static const char *const name_chars[] = {"A", "b", "\xc3\x89", "\xc3\xbc", "C", "\xc3\xb1", "d", "\xc3\x98", "-", "7"};
static const char *const name_chars_other_case[] = {"a", "B", "\xc3\xa9", "\xc3\x9c", "c", "\xc3\x91", "D", "\xc3\xb8", "-", "7"};

static void make_long_name(char *out, const char *const *set) {
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        const char *c = set[i % 10];
        size_t l = strlen(c);
        memcpy(out + n, c, l);
        n += l;
    }
    out[n] = '\0';
}

static void one_volume_unicode(struct selftest_ctx *t, const char *vol) {
    char name[256], other[256], p[320], q[320], why[160];
    make_long_name(name, name_chars);
    make_long_name(other, name_chars_other_case);
    int r;
    if (!fat_mount_of(t, vol)) return;
    vpath(p, sizeof p, vol, WORK "U");
    vfs_mkdir(NULL, p, 0755);
    ksnprintf(q, sizeof q, "%s/%s", p, name);
    struct vfs_file *f;
    if ((r = vfs_open(NULL, q, O_WRONLY | O_CREAT | O_EXCL, 0644, &f)) < 0) FAILV("create long name = %d", r);
    int64_t w = vfs_write(f, "unicode", 7);
    vfs_close(f);
    if (w != 7) FAILV("write = %lld", (long long)w);
    {
        const char *const want[] = {name};
        if (list_exactly(p, want, 1, why, sizeof why) < 0) FAILV("%s", why);
    }
    ksnprintf(q, sizeof q, "%s/%s", p, other);
    if ((r = vfs_open(NULL, q, O_RDONLY, 0, &f)) < 0) FAILV("open by the other-case name = %d", r);
    char got[8] = {0};
    int64_t n = vfs_read(f, got, sizeof got);
    vfs_close(f);
    if (n != 7 || memcmp(got, "unicode", 7) != 0) FAILV("read back through the other-case name: %lld bytes", (long long)n);
    if ((r = vfs_open(NULL, q, O_WRONLY | O_CREAT | O_EXCL, 0644, &f)) != -KEEXIST) {
        if (r == 0) vfs_close(f);
        FAILV("O_EXCL create with the other-case name = %d, want %d", r, -KEEXIST);
    }
    if ((r = vfs_unlink(NULL, q)) < 0) FAILV("unlink by the other-case name = %d", r);
    if ((r = vfs_rmdir(NULL, p)) < 0) FAILV("rmdir %s = %d", p, r);
    if ((r = vfs_sync_all()) < 0) FAILV("vfs_sync_all = %d", r);
    return;
out:
    ksnprintf(q, sizeof q, "%s/%s", p, name);
    vfs_unlink(NULL, q);
    vfs_rmdir(NULL, p);
}

SELFTEST_TIMEOUT(fatfs, long_mixed_case_utf8_name_round_trips_all_volumes, 30000) {
    for (int v = 0; v < NVOL && !t->failed; v++) one_volume_unicode(t, volumes[v]);
}

/* ---- fatfs_persist: files for the host to read after power-off ---- */

SELFTEST_TIMEOUT(fatfs_persist, guest_files_left_on_all_volumes, 60000) {
    uint8_t *buf, *want;
    char p[160], why[160];
    if (!buffers(t, &buf, &want)) return;
    for (int v = 0; v < NVOL; v++) {
        const char *vol = volumes[v];
        if (!fat_mount_of(t, vol)) break;
        vpath(p, sizeof p, vol, "GUEST");
        int r = vfs_mkdir(NULL, p, 0755);
        if (r < 0 && r != -KEEXIST) FAILV("mkdir %s = %d", p, r);
        vpath(p, sizeof p, vol, "GUEST/GUEST.BIN");
        if ((r = write_pattern(p, FATFS_GUEST_SEED + (uint32_t)v, FATFS_GUEST_BIN_LEN, buf)) < 0)
            FAILV("write %s = %d", p, r);
        if (check_pattern(p, FATFS_GUEST_SEED + (uint32_t)v, FATFS_GUEST_BIN_LEN, buf, want, why, sizeof why) < 0)
            FAILV("%s", why);
        vpath(p, sizeof p, vol, "GUEST/" FATFS_GUEST_UNICODE);
        struct vfs_file *f;
        if ((r = vfs_open(NULL, p, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f)) < 0) FAILV("create %s = %d", p, r);
        int64_t w = vfs_write(f, FATFS_GUEST_TEXT, sizeof(FATFS_GUEST_TEXT) - 1);
        vfs_close(f);
        if (w != (int64_t)sizeof(FATFS_GUEST_TEXT) - 1) FAILV("write %s = %lld", p, (long long)w);
        vpath(p, sizeof p, vol, "GUEST");
        printk(LOG_INFO, "fatfs_persist: %s holds GUEST.BIN (seed %#x) and the Unicode file\n", p,
               FATFS_GUEST_SEED + (uint32_t)v);
    }
    int r = vfs_sync_all();
    ST_ASSERT(t, r == 0, "vfs_sync_all = %d", r);
out:
    kfree(buf);
    kfree(want);
}

/* ---- filling a mounted volume (issue 5, Done-when 4) ---- */

/* Writes chunks of `chunk` bytes to f until the file system refuses; returns the last
 * error (expected -KENOSPC) and adds the bytes written to *total. */
static int64_t fill_with(struct vfs_file *f, const uint8_t *buf, size_t chunk, uint64_t *total) {
    for (int guard = 0; guard < 1000000; guard++) {
        int64_t n = vfs_write(f, buf, chunk);
        if (n < 0) return n;
        if (n == 0) return 0;
        *total += (uint64_t)n;
    }
    return -KEIO; /* never refused: something is wrong with the free count */
}

/* Fills /nvme until writes fail with -ENOSPC (1 MiB, then 4 KiB, then 512-byte writes),
 * checks the volume reports (almost) no free space, deletes the fill, and the free count
 * comes back exactly. fatfs_fill_persist leaves it full for the host's fsck.fat. */
static void fill_volume(struct selftest_ctx *t, bool leave_full) {
    struct vfs_mount *m = fat_mount_of(t, "/nvme");
    if (!m) return;
    uint64_t free0 = free_bytes(m);
    uint8_t *buf = kmalloc(1u << 20);
    if (!buf) {
        selftest_fail(t, "no memory");
        return;
    }
    memset(buf, 0xf1, 1u << 20);
    struct vfs_file *f;
    int r = vfs_open(NULL, "/nvme/FILL.BIN", O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (r < 0) {
        kfree(buf);
        selftest_fail(t, "open /nvme/FILL.BIN: %d", r);
        return;
    }
    uint64_t written = 0;
    int64_t e1 = fill_with(f, buf, 1u << 20, &written);
    int64_t e2 = fill_with(f, buf, 4096, &written);
    int64_t e3 = fill_with(f, buf, 512, &written);
    vfs_close(f);
    kfree(buf);
    int s = vfs_sync_all();
    uint64_t free_full = free_bytes(m);
    printk(LOG_INFO, "fatfs: /nvme took %llu bytes before ENOSPC (free before %llu, after %llu)\n",
           (unsigned long long)written, (unsigned long long)free0, (unsigned long long)free_full);
    if (e1 != -KENOSPC || e2 != -KENOSPC || e3 != -KENOSPC) {
        vfs_unlink(NULL, "/nvme/FILL.BIN");
        selftest_fail(t, "the fill ended with %lld, %lld, %lld instead of -ENOSPC", (long long)e1, (long long)e2,
                      (long long)e3);
        return;
    }
    if (s < 0 || free_full >= 512 || written + 64 * 1024 < free0) {
        vfs_unlink(NULL, "/nvme/FILL.BIN");
        selftest_fail(t, "sync %d; %llu bytes free after the fill; %llu written of %llu free", s,
                      (unsigned long long)free_full, (unsigned long long)written, (unsigned long long)free0);
        return;
    }
    if (leave_full) return;
    r = vfs_unlink(NULL, "/nvme/FILL.BIN");
    vfs_sync_all();
    uint64_t free_after = free_bytes(m);
    ST_ASSERT(t, r == 0, "unlink of the fill: %d", r);
    ST_ASSERT(t, free_after == free0, "free space %llu after deleting the fill, %llu before",
              (unsigned long long)free_after, (unsigned long long)free0);
}

SELFTEST_TIMEOUT(fatfs, fill_to_enospc_and_free_count_back, 60000) { fill_volume(t, false); }

SELFTEST_TIMEOUT(fatfs_fill_persist, fill_nvme_to_enospc, 60000) { fill_volume(t, true); }

/* The same workload on the real /tmp (tmpfs, mounted by fs_boot_mounts). */
SELFTEST_TIMEOUT(vfs_mounts, tmp_tree_sizes_rename_list_delete_space_back, 60000) {
    uint8_t *buf, *want;
    if (!buffers(t, &buf, &want)) return;
    one_volume_tree_of(t, "/tmp", "tmpfs", buf, want);
    kfree(buf);
    kfree(want);
}
