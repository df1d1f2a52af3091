/* devfs_selftest.c: self-tests of devfs (kernel/fs/devfs.c), group `devfs`. Each test mounts
 * its own detached devfs instance and works through the VFS (vfs.h): /dev/null and /dev/zero
 * semantics, the urandom generator (bit balance, distinct reads, and the ChaCha20 block
 * function against the RFC 8439 §2.3.2 test vector), and block-device nodes (sector 0 of vda
 * ends in the MBR/boot signature 55 AA; misaligned access is -EINVAL). */
#include "selftest.h"
#include "vfs.h"
#include "block.h"
#include "kstring.h"
#include "mm.h"

void devfs_chacha20_block(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3], uint8_t out[64]);

struct devfs_fixture {
    struct vfs_mount *m;
    struct vfs_ctx ctx;
};

static int fixture_mount(struct devfs_fixture *f) {
    int r = vfs_mount(NULL, NULL, "devfs", NULL, NULL, &f->m);
    if (r == 0) f->ctx.root = f->ctx.cwd = f->m->root;
    return r;
}

static void fixture_unmount(struct devfs_fixture *f) {
    if (f->m) vfs_umount(f->m);
}

SELFTEST(devfs, null_reads_eof_swallows_writes) {
    struct devfs_fixture fx = {0};
    ST_ASSERT(t, fixture_mount(&fx) == 0, "devfs mount failed");
    struct vfs_file *f = NULL;
    int r = vfs_open(&fx.ctx, "/null", O_RDWR, 0, &f);
    char buf[32];
    int64_t w = r == 0 ? vfs_write(f, "discard me", 10) : 0;
    int64_t n = r == 0 ? vfs_read(f, buf, sizeof buf) : 0;
    struct vfs_stat st;
    int sr = r == 0 ? vfs_fstat(f, &st) : -1;
    if (f) vfs_close(f);
    fixture_unmount(&fx);
    ST_ASSERT(t, r == 0, "open /null: %d", r);
    ST_ASSERT(t, w == 10, "write to null returned %ld, want 10", (long)w);
    ST_ASSERT(t, n == 0, "read from null returned %ld, want 0 (EOF)", (long)n);
    ST_ASSERT(t, sr == 0 && (st.mode & S_IFMT) == S_IFCHR, "null is not a character device (mode %o)", st.mode);
}

SELFTEST(devfs, zero_reads_zeros) {
    struct devfs_fixture fx = {0};
    ST_ASSERT(t, fixture_mount(&fx) == 0, "devfs mount failed");
    struct vfs_file *f = NULL;
    uint8_t buf[300];
    memset(buf, 0xa5, sizeof buf);
    int r = vfs_open(&fx.ctx, "/zero", O_RDONLY, 0, &f);
    int64_t n = r == 0 ? vfs_read(f, buf, sizeof buf) : 0;
    if (f) vfs_close(f);
    fixture_unmount(&fx);
    ST_ASSERT(t, r == 0, "open /zero: %d", r);
    ST_ASSERT(t, n == (int64_t)sizeof buf, "read from zero returned %ld", (long)n);
    for (size_t i = 0; i < sizeof buf; i++) ST_ASSERT(t, buf[i] == 0, "byte %lu is %02x", (unsigned long)i, buf[i]);
}

SELFTEST(devfs, chacha20_rfc8439_vector) {
    static const uint8_t want[64] = {
        0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4,
        0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e,
        0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2,
        0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e};
    uint32_t key[8];
    for (int i = 0; i < 8; i++) /* key bytes 00 01 .. 1f, little-endian words */
        key[i] = (uint32_t)(4 * i) | (uint32_t)(4 * i + 1) << 8 | (uint32_t)(4 * i + 2) << 16 | (uint32_t)(4 * i + 3) << 24;
    const uint32_t nonce[3] = {0x09000000, 0x4a000000, 0}; /* 00 00 00 09 00 00 00 4a 00 00 00 00 */
    uint8_t out[64];
    devfs_chacha20_block(key, 1, nonce, out);
    for (int i = 0; i < 64; i++) ST_ASSERT(t, out[i] == want[i], "byte %d is %02x, RFC says %02x", i, out[i], want[i]);
}

#define RANDOM_BYTES 65536

SELFTEST(devfs, urandom_balanced_and_distinct) {
    struct devfs_fixture fx = {0};
    ST_ASSERT(t, fixture_mount(&fx) == 0, "devfs mount failed");
    uint8_t *buf = kmalloc(RANDOM_BYTES);
    uint8_t a[32], b[32];
    struct vfs_file *f = NULL;
    int r = buf ? vfs_open(&fx.ctx, "/urandom", O_RDONLY, 0, &f) : -KENOMEM;
    int64_t n = r == 0 ? vfs_read(f, buf, RANDOM_BYTES) : 0;
    int64_t na = r == 0 ? vfs_read(f, a, sizeof a) : 0;
    int64_t nb = r == 0 ? vfs_read(f, b, sizeof b) : 0;
    if (f) vfs_close(f);
    uint64_t ones = 0;
    for (size_t i = 0; buf && i < RANDOM_BYTES; i++) ones += (uint64_t)__builtin_popcount(buf[i]);
    kfree(buf);
    fixture_unmount(&fx);
    ST_ASSERT(t, r == 0, "open /urandom: %d", r);
    ST_ASSERT(t, n == RANDOM_BYTES && na == 32 && nb == 32, "short reads: %ld %ld %ld", (long)n, (long)na, (long)nb);
    /* 524288 fair bits: standard deviation 362; allow about 8 of them */
    uint64_t half = RANDOM_BYTES * 4;
    ST_ASSERT(t, ones > half - 3000 && ones < half + 3000, "%lu one bits of %lu", (unsigned long)ones,
              (unsigned long)half * 2);
    ST_ASSERT(t, memcmp(a, b, sizeof a) != 0, "two reads returned the same 32 bytes");
}

SELFTEST(devfs, block_node_reads_vda_sector0) {
    ST_ASSERT(t, blk_find("vda") != NULL, "no block device vda");
    struct devfs_fixture fx = {0};
    ST_ASSERT(t, fixture_mount(&fx) == 0, "devfs mount failed");
    uint8_t *buf = kmalloc(512);
    struct vfs_file *f = NULL;
    struct vfs_stat st = {0};
    int r = buf ? vfs_open(&fx.ctx, "/vda", O_RDONLY, 0, &f) : -KENOMEM;
    int64_t n = r == 0 ? vfs_read(f, buf, 512) : 0;
    if (r == 0) vfs_fstat(f, &st);
    bool sig = n == 512 && buf[510] == 0x55 && buf[511] == 0xaa;
    if (f) vfs_close(f);
    kfree(buf);
    fixture_unmount(&fx);
    ST_ASSERT(t, r == 0, "open /vda: %d", r);
    ST_ASSERT(t, (st.mode & S_IFMT) == 0060000, "vda is not a block device (mode %o)", st.mode);
    ST_ASSERT(t, n == 512, "read returned %ld", (long)n);
    ST_ASSERT(t, sig, "sector 0 does not end in 55 AA");
}

SELFTEST(devfs, block_node_misaligned_is_einval) {
    ST_ASSERT(t, blk_find("vda") != NULL, "no block device vda");
    struct devfs_fixture fx = {0};
    ST_ASSERT(t, fixture_mount(&fx) == 0, "devfs mount failed");
    uint8_t *buf = kmalloc(1024);
    struct vfs_file *f = NULL;
    int r = buf ? vfs_open(&fx.ctx, "/vda", O_RDWR, 0, &f) : -KENOMEM;
    int64_t off_bad = r == 0 ? vfs_pread(f, buf, 512, 1) : 0;
    int64_t len_bad = r == 0 ? vfs_pread(f, buf, 100, 0) : 0;
    int64_t wr_bad = r == 0 ? vfs_pwrite(f, buf, 512, 256) : 0;
    if (f) vfs_close(f);
    kfree(buf);
    fixture_unmount(&fx);
    ST_ASSERT(t, r == 0, "open /vda: %d", r);
    ST_ASSERT(t, off_bad == -KEINVAL, "read at offset 1 returned %ld", (long)off_bad);
    ST_ASSERT(t, len_bad == -KEINVAL, "read of 100 bytes returned %ld", (long)len_bad);
    ST_ASSERT(t, wr_bad == -KEINVAL, "write at offset 256 returned %ld", (long)wr_bad);
}
