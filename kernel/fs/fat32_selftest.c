/* fat32_selftest.c: self-tests of the FAT32 engine (fat32.c, fat32_dir.c, fat32_name.c),
 * group `fat32`. They run on a 2 MiB RAM image that the test formats itself following
 * fatgen103 §3 (boot sector and BPB), §4 (FAT[0], FAT[1], root cluster) and §5 (FSInfo):
 * 512-byte sectors, 1 sector per cluster, 2 FATs. The host tests (tests/host/test_fat32.c)
 * cover real mkfs.fat images, fsck.fat and the fuzzer; these check the engine in the kernel. */
#include "types.h"
#include "selftest.h"
#include "fat32.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"

#define RAM_SECTORS 4096u
#define RAM_RESERVED 32u
#define RAM_FAT_SECTORS 32u

struct ram_image {
    uint8_t *data;
    uint64_t sectors;
};

static int ram_read(void *ctx, uint64_t lba, uint32_t n, void *buf) {
    struct ram_image *r = ctx;
    if (lba + n > r->sectors) return -KEIO;
    memcpy(buf, r->data + lba * 512, (size_t)n * 512);
    return 0;
}
static int ram_write(void *ctx, uint64_t lba, uint32_t n, const void *buf) {
    struct ram_image *r = ctx;
    if (lba + n > r->sectors) return -KEIO;
    memcpy(r->data + lba * 512, buf, (size_t)n * 512);
    return 0;
}
static const struct fat32_dev_ops ram_ops = { ram_read, ram_write, NULL };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* Writes an empty FAT32 volume into r (fatgen103 §3-§5). */
static void ram_format(struct ram_image *r) {
    uint8_t *b = r->data;
    uint32_t clusters = RAM_SECTORS - RAM_RESERVED - 2 * RAM_FAT_SECTORS;
    memset(r->data, 0, r->sectors * 512);
    b[0] = 0xEB; b[1] = 0x58; b[2] = 0x90;
    memcpy(b + 3, "SABOS   ", 8);
    put16(b + 11, 512);
    b[13] = 1;
    put16(b + 14, RAM_RESERVED);
    b[16] = 2;
    b[21] = 0xF8;
    put32(b + 32, RAM_SECTORS);
    put32(b + 36, RAM_FAT_SECTORS);
    put32(b + 44, 2);          /* root cluster */
    put16(b + 48, 1);          /* FSInfo */
    put16(b + 50, 6);          /* backup boot sector */
    b[66] = 0x29;
    memcpy(b + 71, "NO NAME    FAT32   ", 19);
    b[510] = 0x55; b[511] = 0xAA;
    uint8_t *fs = b + 512;
    put32(fs, 0x41615252);
    put32(fs + 484, 0x61417272);
    put32(fs + 488, clusters - 1);
    put32(fs + 492, 3);
    put32(fs + 508, 0xAA550000);
    for (uint32_t f = 0; f < 2; f++) {
        uint8_t *fat = b + (RAM_RESERVED + f * RAM_FAT_SECTORS) * 512;
        put32(fat, 0x0FFFFFF8);
        put32(fat + 4, 0x0FFFFFFF);
        put32(fat + 8, 0x0FFFFFFF);
    }
}

struct fat_fixture {
    struct ram_image img;
    struct fat32_volume *vol;
    struct fat32_node root;
};

static bool fixture_up(struct selftest_ctx *t, struct fat_fixture *fx) {
    fx->img.sectors = RAM_SECTORS;
    fx->img.data = kmalloc(RAM_SECTORS * 512);
    fx->vol = kzalloc(sizeof(*fx->vol));
    if (!fx->img.data || !fx->vol) {
        selftest_fail(t, "out of memory");
        return false;
    }
    ram_format(&fx->img);
    int rc = fat32_mount(fx->vol, &ram_ops, &fx->img, RAM_SECTORS, NULL, NULL);
    if (rc < 0) {
        selftest_fail(t, "mount of a fresh image failed: %d", rc);
        return false;
    }
    fat32_root(fx->vol, &fx->root);
    return true;
}

static void fixture_down(struct fat_fixture *fx) {
    kfree(fx->img.data);
    kfree(fx->vol);
}

static uint8_t byte_at(uint32_t seed, uint32_t i) { return (uint8_t)((i * 31u + seed * 7u) ^ (i >> 8)); }

SELFTEST(fat32, files_of_each_size_round_trip) {
    static const uint32_t sizes[] = { 0, 1, 511, 512, 4096, 300001 };
    struct fat_fixture fx;
    if (!fixture_up(t, &fx)) { fixture_down(&fx); return; }
    uint8_t *buf = kmalloc(300001 + 16);
    struct fat32_node a, b, f;
    bool ok = buf && fat32_mkdir(fx.vol, &fx.root, "Outer", &a) == 0 &&
              fat32_mkdir(fx.vol, &a, "Inner", &b) == 0;
    for (uint32_t s = 0; ok && s < ARRAY_SIZE(sizes); s++) {
        char name[32];
        ksnprintf(name, sizeof(name), "File %u.bin", sizes[s]);
        for (uint32_t i = 0; i < sizes[s]; i++) buf[i] = byte_at(s, i);
        if (fat32_create(fx.vol, &b, name, &f) != 0 || fat32_write(fx.vol, &f, 0, buf, sizes[s]) != (int64_t)sizes[s]) {
            selftest_fail(t, "writing %s failed", name);
            ok = false;
            break;
        }
        memset(buf, 0, sizes[s]);
        if (fat32_lookup(fx.vol, &b, name, &f) != 0 || f.size != sizes[s] ||
            fat32_read(fx.vol, &f, 0, buf, sizes[s] + 16) != (int64_t)sizes[s]) {
            selftest_fail(t, "reading %s back failed", name);
            ok = false;
            break;
        }
        for (uint32_t i = 0; i < sizes[s]; i++) {
            if (buf[i] != byte_at(s, i)) {
                selftest_fail(t, "%s differs at byte %u", name, i);
                ok = false;
                break;
            }
        }
    }
    if (ok && fat32_sync(fx.vol) != 0) selftest_fail(t, "sync failed");
    kfree(buf);
    fixture_down(&fx);
}

SELFTEST(fat32, long_name_rename_delete_frees_space) {
    /* 100 characters, mixed case, non-ASCII */
    static const char long_name[] =
        "Ein_Sehr_Langer_Dateiname_mit_Umlauten_äöü_und_ßéñ_ΩЖ_MixedCase_Test_0123456789_abcdefghijklmnop.txt";
    struct fat_fixture fx;
    if (!fixture_up(t, &fx)) { fixture_down(&fx); return; }
    uint32_t free0 = fat32_free_clusters(fx.vol);
    struct fat32_node d, f, g;
    struct fat32_dir_iter it;
    struct fat32_dirent *de = kmalloc(sizeof(*de));
    bool seen = false;
    int rc = de ? fat32_mkdir(fx.vol, &fx.root, "dir", &d) : -KENOMEM;
    if (rc == 0) rc = fat32_create(fx.vol, &d, long_name, &f);
    if (rc == 0) rc = (int)fat32_write(fx.vol, &f, 0, "hello", 5) == 5 ? 0 : -KEIO;
    if (rc == 0) rc = fat32_rename(fx.vol, &d, long_name, &fx.root, long_name);
    if (rc == 0) rc = fat32_dir_open(fx.vol, &fx.root, &it);
    while (rc == 0 && (rc = fat32_readdir(fx.vol, &it, de)) == 1) {
        if (strcmp(de->name, long_name) == 0) seen = true;
        rc = 0;
    }
    ST_ASSERT(t, rc == 0 && seen, "long name did not round-trip through rename/readdir (%d)", rc);
    ST_ASSERT(t, fat32_lookup(fx.vol, &fx.root, long_name, &g) == 0 && g.size == 5, "lookup after rename");
    ST_ASSERT(t, fat32_unlink(fx.vol, &fx.root, long_name) == 0, "unlink failed");
    ST_ASSERT(t, fat32_rmdir(fx.vol, &fx.root, "DIR") == 0, "rmdir failed");
    ST_ASSERT(t, fat32_free_clusters(fx.vol) == free0, "free count %u, expected %u",
              fat32_free_clusters(fx.vol), free0);
    kfree(de);
    fixture_down(&fx);
}

SELFTEST(fat32, full_disk_enospc_then_space_returns) {
    struct fat_fixture fx;
    if (!fixture_up(t, &fx)) { fixture_down(&fx); return; }
    uint32_t free0 = fat32_free_clusters(fx.vol);
    static uint8_t chunk[512];
    struct fat32_node f;
    ST_ASSERT(t, fat32_create(fx.vol, &fx.root, "fill", &f) == 0, "create failed");
    int64_t rc;
    uint32_t rounds = 0;
    while ((rc = fat32_write(fx.vol, &f, f.size, chunk, sizeof(chunk))) > 0 && rounds++ < RAM_SECTORS) {}
    ST_ASSERT(t, rc == -KENOSPC, "filling ended with %lld, expected -KENOSPC", (long long)rc);
    ST_ASSERT(t, fat32_free_clusters(fx.vol) == 0, "free count %u on a full disk", fat32_free_clusters(fx.vol));
    ST_ASSERT(t, fat32_unlink(fx.vol, &fx.root, "fill") == 0, "unlink failed");
    ST_ASSERT(t, fat32_free_clusters(fx.vol) == free0, "free count did not come back");
    fixture_down(&fx);
}

SELFTEST(fat32, corrupt_volume_is_refused_or_fails_with_eio) {
    struct fat_fixture fx;
    if (!fixture_up(t, &fx)) { fixture_down(&fx); return; }
    struct fat32_node f, g;
    uint8_t data[1500];
    memset(data, 0x5A, sizeof(data));
    ST_ASSERT(t, fat32_create(fx.vol, &fx.root, "a", &f) == 0 &&
                 fat32_write(fx.vol, &f, 0, data, sizeof(data)) == (int64_t)sizeof(data), "setup");
    ST_ASSERT(t, fat32_sync(fx.vol) == 0, "sync");
    /* make the file's last cluster link back to its first: a loop. On a fresh volume the three
     * clusters are consecutive; check that before relying on it. */
    uint8_t *fat = fx.img.data + RAM_RESERVED * 512;
    uint32_t c0 = f.first_cluster;
    ST_ASSERT(t, (uint32_t)(fat[c0 * 4] | (fat[c0 * 4 + 1] << 8)) == c0 + 1 &&
                 (uint32_t)(fat[(c0 + 1) * 4] | (fat[(c0 + 1) * 4 + 1] << 8)) == c0 + 2, "chain not consecutive");
    put32(fat + (f.first_cluster + 2) * 4, f.first_cluster);
    ST_ASSERT(t, fat32_mount(fx.vol, &ram_ops, &fx.img, RAM_SECTORS, NULL, NULL) == 0, "remount");
    fat32_root(fx.vol, &fx.root);
    ST_ASSERT(t, fat32_lookup(fx.vol, &fx.root, "a", &g) == 0, "lookup");
    ST_ASSERT(t, fat32_unlink(fx.vol, &fx.root, "a") == -KEIO, "unlink of a looping chain not -KEIO");
    ST_ASSERT(t, fat32_write(fx.vol, &g, 2000, data, 10) == -KEIO, "extending a looping chain not -KEIO");
    fx.img.data[510] = 0;
    ST_ASSERT(t, fat32_mount(fx.vol, &ram_ops, &fx.img, RAM_SECTORS, NULL, NULL) == -KEINVAL,
              "bad boot signature accepted");
    fixture_down(&fx);
}
