/* test_sys_path.c: host unit tests for the pure conversions of kernel/proc/sys_path.c:
 * struct stat (x86-64 layout, 144 bytes: field offsets, times split into seconds and
 * nanoseconds, the default block size), struct statx (256 bytes, field offsets), directory
 * records for getdents64 (struct linux_dirent64) and getdents (struct linux_dirent, d_type in
 * the last byte): record length aligned to 8, NUL-terminated names, DT_* types, records that
 * do not fit and over-long names refused; statfs magic numbers. Layouts per the Linux
 * man-pages stat(2), statx(2), getdents(2), statfs(2). */
#include "host_stubs.h"
#include "../../kernel/proc/sys_path.c"

#include <string.h>

static void test_stat_layout(void **state) {
    (void)state;
    assert_int_equal(sizeof(struct linux_stat), 144);
    assert_int_equal(offsetof(struct linux_stat, st_nlink), 16);
    assert_int_equal(offsetof(struct linux_stat, st_mode), 24);
    assert_int_equal(offsetof(struct linux_stat, st_uid), 28);
    assert_int_equal(offsetof(struct linux_stat, st_rdev), 40);
    assert_int_equal(offsetof(struct linux_stat, st_size), 48);
    assert_int_equal(offsetof(struct linux_stat, st_blksize), 56);
    assert_int_equal(offsetof(struct linux_stat, st_blocks), 64);
    assert_int_equal(offsetof(struct linux_stat, st_atime_sec), 72);
    assert_int_equal(offsetof(struct linux_stat, st_mtime_sec), 88);
    assert_int_equal(offsetof(struct linux_stat, st_ctime_sec), 104);
    assert_int_equal(offsetof(struct linux_stat, reserved), 120);
}

static void test_stat_conversion(void **state) {
    (void)state;
    struct vfs_stat st = {.ino = 42, .mode = S_IFREG | 0644, .nlink = 2, .size = 12345, .blocks = 25,
                          .blksize = 0, .dev = 7, .atime_ns = 1700000000123456789ull,
                          .mtime_ns = 999999999ull, .ctime_ns = 5000000000ull};
    struct linux_stat ls;
    memset(&ls, 0xaa, sizeof(ls));
    sys_stat_to_linux(&st, &ls);
    assert_int_equal(ls.st_dev, 7);
    assert_int_equal(ls.st_ino, 42);
    assert_int_equal(ls.st_nlink, 2);
    assert_int_equal(ls.st_mode, S_IFREG | 0644);
    assert_int_equal(ls.st_uid, 0);
    assert_int_equal(ls.st_gid, 0);
    assert_int_equal(ls.pad0, 0);
    assert_int_equal(ls.st_size, 12345);
    assert_int_equal(ls.st_blksize, 4096); /* engine said 0: the default */
    assert_int_equal(ls.st_blocks, 25);
    assert_int_equal(ls.st_atime_sec, 1700000000);
    assert_int_equal(ls.st_atime_nsec, 123456789);
    assert_int_equal(ls.st_mtime_sec, 0);
    assert_int_equal(ls.st_mtime_nsec, 999999999);
    assert_int_equal(ls.st_ctime_sec, 5);
    assert_int_equal(ls.st_ctime_nsec, 0);
    for (int i = 0; i < 3; i++) assert_int_equal(ls.reserved[i], 0);
    st.blksize = 512;
    st.size = UINT64_MAX >> 1;
    sys_stat_to_linux(&st, &ls);
    assert_int_equal(ls.st_blksize, 512);
    assert_true(ls.st_size > 0);
}

static void test_statx(void **state) {
    (void)state;
    assert_int_equal(sizeof(struct linux_statx), 256);
    assert_int_equal(offsetof(struct linux_statx, stx_mode), 28);
    assert_int_equal(offsetof(struct linux_statx, stx_ino), 32);
    assert_int_equal(offsetof(struct linux_statx, stx_size), 40);
    assert_int_equal(offsetof(struct linux_statx, stx_atime), 64);
    assert_int_equal(offsetof(struct linux_statx, stx_ctime), 96);
    assert_int_equal(offsetof(struct linux_statx, stx_mtime), 112);
    assert_int_equal(offsetof(struct linux_statx, stx_dev_major), 136);
    struct vfs_stat st = {.ino = 9, .mode = S_IFDIR | 0755, .nlink = 3, .size = 4096, .mtime_ns = 3000000007ull, .dev = 4};
    struct linux_statx sx;
    sys_stat_to_statx(&st, &sx);
    assert_int_equal(sx.stx_mask, STATX_BASIC_STATS);
    assert_int_equal(sx.stx_mode, S_IFDIR | 0755);
    assert_int_equal(sx.stx_ino, 9);
    assert_int_equal(sx.stx_size, 4096);
    assert_int_equal(sx.stx_mtime.tv_sec, 3);
    assert_int_equal(sx.stx_mtime.tv_nsec, 7);
    assert_int_equal(sx.stx_blksize, 4096);
    assert_int_equal(sx.stx_dev_minor, 4);
}

static void test_dirent64(void **state) {
    (void)state;
    uint8_t buf[300];
    for (size_t len = 1; len <= VFS_NAME_MAX; len++) {
        char name[256];
        memset(name, 'x', len);
        memset(buf, 0xee, sizeof(buf));
        int r = sys_dirent_encode(true, 1000 + len, 77, S_IFREG | 0644, name, len, buf, sizeof(buf));
        size_t want = (19 + len + 1 + 7) / 8 * 8;
        assert_int_equal(r, (int)want);
        uint64_t ino;
        int64_t off;
        uint16_t reclen;
        memcpy(&ino, buf, 8);
        memcpy(&off, buf + 8, 8);
        memcpy(&reclen, buf + 16, 2);
        assert_int_equal(ino, 1000 + len);
        assert_int_equal(off, 77);
        assert_int_equal(reclen, want);
        assert_int_equal(buf[18], 8); /* DT_REG */
        assert_memory_equal(buf + 19, name, len);
        for (size_t i = 19 + len; i < want; i++) assert_int_equal(buf[i], 0); /* NUL and padding */
        assert_int_equal(buf[want], 0xee); /* nothing written past the record */
        /* one byte short: refused, nothing written */
        memset(buf, 0xee, sizeof(buf));
        assert_int_equal(sys_dirent_encode(true, 1, 1, S_IFREG, name, len, buf, want - 1), -KEINVAL);
        assert_int_equal(buf[0], 0xee);
    }
    assert_int_equal(sys_dirent_encode(true, 1, 1, S_IFDIR, ".", 1, buf, 24), 24);
    assert_int_equal(buf[18], 4); /* DT_DIR */
    assert_int_equal(sys_dirent_encode(true, 1, 1, S_IFIFO, "p", 1, buf, 24), 24);
    assert_int_equal(buf[18], 1); /* DT_FIFO */
    assert_int_equal(sys_dirent_encode(true, 1, 1, S_IFCHR, "c", 1, buf, 24), 24);
    assert_int_equal(buf[18], 2); /* DT_CHR */
    assert_int_equal(sys_dirent_encode(true, 1, 1, 0, "u", 1, buf, 24), 24);
    assert_int_equal(buf[18], 0); /* DT_UNKNOWN */
    char big[300];
    memset(big, 'y', sizeof(big));
    assert_int_equal(sys_dirent_encode(true, 1, 1, S_IFREG, big, 256, buf, sizeof(buf)), -KEINVAL);
    assert_int_equal(sys_dirent_encode(true, 1, 1, S_IFREG, "a", 1, buf, 0), -KEINVAL);
}

static void test_dirent_old(void **state) {
    (void)state;
    uint8_t buf[64];
    memset(buf, 0xee, sizeof(buf));
    /* 18 + 5 + NUL + type = 25 -> 32 */
    int r = sys_dirent_encode(false, 5, 6, S_IFDIR, "hello", 5, buf, sizeof(buf));
    assert_int_equal(r, 32);
    uint16_t reclen;
    memcpy(&reclen, buf + 16, 2);
    assert_int_equal(reclen, 32);
    assert_string_equal((char *)buf + 18, "hello");
    assert_int_equal(buf[31], 4); /* d_type in the last byte */
    assert_int_equal(buf[32], 0xee);
    /* 18 + 4 + 2 = 24 exactly */
    assert_int_equal(sys_dirent_encode(false, 5, 6, S_IFREG, "abcd", 4, buf, 24), 24);
    assert_int_equal(buf[23], 8);
    assert_int_equal(buf[22], 0);
    assert_int_equal(sys_dirent_encode(false, 5, 6, S_IFREG, "abcde", 5, buf, 31), -KEINVAL);
}

static void test_statfs(void **state) {
    (void)state;
    assert_int_equal(sizeof(struct linux_statfs), 120);
    assert_int_equal(offsetof(struct linux_statfs, f_fsid), 56);
    assert_int_equal(offsetof(struct linux_statfs, f_namelen), 64);
    assert_int_equal(sys_statfs_magic("tmpfs"), 0x01021994);
    assert_int_equal(sys_statfs_magic("fat32"), 0x4d44);
    assert_int_equal(sys_statfs_magic("9p"), 0x01021997);
    assert_int_equal(sys_statfs_magic("procfs"), 0x9fa0);
    assert_int_equal(sys_statfs_magic(NULL), 0x50495045);
    assert_int_equal(sys_statfs_magic("unknownfs"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_layout), cmocka_unit_test(test_stat_conversion), cmocka_unit_test(test_statx),
        cmocka_unit_test(test_dirent64),    cmocka_unit_test(test_dirent_old),      cmocka_unit_test(test_statfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
