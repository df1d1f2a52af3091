/* test_fat32.c: host tests of the FAT32 engine (kernel/fs/fat32.c, fat32_dir.c) against images
 * made by mkfs.fat and filled by mtools, checked afterwards with fsck.fat -n and mtools
 * (fatgen103 layout), plus a fuzzer over 10,000 mutated images. */
#include "host_stubs.h"
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "../../kernel/fs/fat32.c"
#include "../../kernel/fs/fat32_name.c"
#include "../../kernel/fs/fat32_dir.c"

void *kmalloc(size_t n) { return malloc(n); }
void kfree(void *p) { free(p); }

static char tmpdir[256];

/* ---- an image in memory ---- */
struct img {
    uint8_t *data;
    uint64_t sectors;
    uint32_t ssize;         /* bytes per sector of the device */
    uint64_t reads;         /* sectors read, to bound the fuzzer */
    uint32_t dirty[4096];   /* sectors written (fuzz restore list) */
    uint32_t ndirty;
    bool overflow;
    const uint8_t *pristine;
};

static int img_read(void *ctx, uint64_t lba, uint32_t n, void *buf) {
    struct img *im = ctx;
    if (lba + n > im->sectors || lba + n < lba) return -KEIO;
    im->reads += n;
    memcpy(buf, im->data + lba * im->ssize, (size_t)n * im->ssize);
    return 0;
}
static int img_write(void *ctx, uint64_t lba, uint32_t n, const void *buf) {
    struct img *im = ctx;
    if (lba + n > im->sectors || lba + n < lba) return -KEIO;
    for (uint32_t i = 0; i < n; i++) {
        if (im->ndirty < ARRAY_SIZE(im->dirty)) im->dirty[im->ndirty++] = (uint32_t)(lba + i);
        else im->overflow = true;
    }
    memcpy(im->data + lba * im->ssize, buf, (size_t)n * im->ssize);
    return 0;
}
static int img_flush(void *ctx) { (void)ctx; return 0; }
static const struct fat32_dev_ops img_ops = { img_read, img_write, img_flush };

static void test_clock(void *ctx, struct fat32_time *t) {
    (void)ctx;
    *t = (struct fat32_time){ 2026, 11, 21, 8, 30, 42 };
}

static int sh(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int sh(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void img_load(struct img *im, const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    memset(im, 0, sizeof(*im));
    im->data = malloc((size_t)size);
    assert_non_null(im->data);
    assert_int_equal(fread(im->data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    im->ssize = 512;
    im->sectors = (uint64_t)size / 512;
}
static void img_save(struct img *im, const char *path) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(im->data, 1, im->sectors * im->ssize, f), im->sectors * im->ssize);
    fclose(f);
}

static uint32_t mkfs_sector_size = 512;

static void make_image(const char *path, int spc, int kib) {
    unlink(path);
    assert_int_equal(sh("mkfs.fat -F 32 -S %u -s %d -C %s %d >/dev/null 2>&1", mkfs_sector_size,
                        spc, path, kib), 0);
}

static int fsck_ok(const char *path) {
    return sh("fsck.fat -n %s >%s/fsck.log 2>&1 || { cat %s/fsck.log; exit 1; }", path, tmpdir, tmpdir);
}

static void pattern(uint8_t *buf, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

static struct fat32_volume *vol_new(void) {
    struct fat32_volume *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    return v;
}

/* ---- workload on a fresh mkfs image, checked by fsck.fat and mtools ---- */

static const char long_name[] =  /* 100 characters, mixed case, non-ASCII (ä ö ü ß é ñ Ω Ж) */
    "Ein_Sehr_Langer_Dateiname_mit_Umlauten_äöü_und_ßéñ_ΩЖ_MixedCase_Test_0123456789_abcdefghijklmnop.txt";

static void check_long_name_len(void) {
    uint16_t n16[FAT32_NAME_MAX + 1];
    uint32_t len;
    assert_int_equal(fat32i_utf8_to_16(long_name, n16, &len), 0);
    assert_int_equal(len, 100);
}

static void write_file(struct fat32_volume *v, struct fat32_node *dir, const char *name,
                       size_t size, uint32_t seed) {
    struct fat32_node f;
    uint8_t *buf = malloc(size + 1);
    pattern(buf, size, seed);
    assert_int_equal(fat32_create(v, dir, name, &f), 0);
    /* write in uneven chunks to exercise partial sectors */
    size_t off = 0;
    while (off < size) {
        size_t n = MIN(size - off, (size_t)(off % 3 == 0 ? 70000 : 777));
        assert_int_equal(fat32_write(v, &f, off, buf + off, n), (int64_t)n);
        off += n;
    }
    assert_int_equal(f.size, size);
    free(buf);
}

static void check_file(struct fat32_volume *v, struct fat32_node *dir, const char *name,
                       size_t size, uint32_t seed) {
    struct fat32_node f;
    assert_int_equal(fat32_lookup(v, dir, name, &f), 0);
    assert_int_equal(f.size, size);
    uint8_t *want = malloc(size + 1), *got = malloc(size + 16);
    pattern(want, size, seed);
    assert_int_equal(fat32_read(v, &f, 0, got, size + 16), (int64_t)size);
    assert_memory_equal(want, got, size);
    free(want);
    free(got);
}

/* Writes the expected bytes to a host file and compares with mcopy's copy of the image file. */
static void mtools_check(const char *imgpath, const char *fatpath, size_t size, uint32_t seed) {
    char want[300];
    snprintf(want, sizeof(want), "%s/want.bin", tmpdir);
    uint8_t *buf = malloc(size + 1);
    pattern(buf, size, seed);
    FILE *f = fopen(want, "wb");
    fwrite(buf, 1, size, f);
    fclose(f);
    free(buf);
    assert_int_equal(sh("MTOOLS_SKIP_CHECK=1 mcopy -n -o -i %s '::%s' %s/got.bin && cmp -s %s %s/got.bin",
                        imgpath, fatpath, tmpdir, want, tmpdir), 0);
}

/* Deletes everything below dir (depth-first). */
static void remove_tree(struct fat32_volume *v, struct fat32_node *dir) {
    struct fat32_dir_iter it;
    struct fat32_dirent *de = malloc(sizeof(*de));
    for (;;) {
        assert_int_equal(fat32_dir_open(v, dir, &it), 0);
        int rc;
        bool found = false;
        while ((rc = fat32_readdir(v, &it, de)) == 1) {
            if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0) continue;
            found = true;
            break;
        }
        assert_true(rc >= 0);
        if (!found) break;
        if (de->node.attr & FAT32_ATTR_DIRECTORY) {
            struct fat32_node sub = de->node;
            remove_tree(v, &sub);
            assert_int_equal(fat32_rmdir(v, dir, de->name), 0);
        } else {
            assert_int_equal(fat32_unlink(v, dir, de->name), 0);
        }
    }
    free(de);
}

static const size_t sizes[] = { 0, 1, 511, 512, 4096, 1048577 };

static void workload(int spc, int kib, bool use_mtools) {
    char path[300];
    snprintf(path, sizeof(path), "%s/w%d.img", tmpdir, spc);
    make_image(path, spc, kib);
    struct img im;
    img_load(&im, path);
    im.ssize = mkfs_sector_size;
    im.sectors = im.sectors * 512 / im.ssize;
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    assert_int_equal(v->sectors_per_cluster, (uint32_t)spc);
    assert_int_equal(v->bytes_per_sector, mkfs_sector_size);
    uint32_t free0 = fat32_free_clusters(v);
    struct fat32_node root, a, b, c, x;
    fat32_root(v, &root);
    assert_int_equal(fat32_mkdir(v, &root, "Alpha", &a), 0);
    assert_int_equal(fat32_mkdir(v, &a, "beta", &b), 0);
    assert_int_equal(fat32_mkdir(v, &b, "Gamma Dir", &c), 0);
    assert_int_equal(fat32_mkdir(v, &root, "alpha", &x), -KEEXIST);
    char name[64];
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        snprintf(name, sizeof(name), "file_%zu.bin", sizes[i]);
        write_file(v, &c, name, sizes[i], (uint32_t)i);
    }
    check_long_name_len();
    write_file(v, &b, long_name, 3000, 77);
    /* case-insensitive lookup, case preserved */
    assert_int_equal(fat32_lookup(v, &root, "ALPHA", &x), 0);
    assert_int_equal(fat32_lookup(v, &x, "BETA", &x), 0);
    assert_int_equal(fat32_lookup(v, &x, "GAMMA DIR", &x), 0);
    assert_int_equal(x.first_cluster, c.first_cluster);
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        snprintf(name, sizeof(name), "FILE_%zu.BIN", sizes[i]);
        check_file(v, &c, name, sizes[i], (uint32_t)i);
    }
    char upper[256];
    strcpy(upper, long_name);
    for (char *p = upper; *p; p++) if (*p >= 'a' && *p <= 'z') *p -= 32;
    check_file(v, &b, upper, 3000, 77);
    /* readdir shows the exact spelling */
    struct fat32_dir_iter it;
    struct fat32_dirent *de = malloc(sizeof(*de));
    bool seen = false;
    assert_int_equal(fat32_dir_open(v, &b, &it), 0);
    int rc;
    while ((rc = fat32_readdir(v, &it, de)) == 1) if (strcmp(de->name, long_name) == 0) seen = true;
    assert_int_equal(rc, 0);
    assert_true(seen);
    /* 8.3 aliases are unique: many names sharing a prefix */
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "Shared prefix name %d.text", i);
        struct fat32_node f;
        assert_int_equal(fat32_create(v, &a, name, &f), 0);
    }
    assert_int_equal(fat32_lookup(v, &a, "SHARED~1.TEX", &x), 0);
    assert_int_equal(fat32_lookup(v, &a, "SHARED~9.TEX", &x), 0);
    assert_int_equal(fat32_lookup(v, &a, "SHARE~10.TEX", &x), 0);
    /* renames: within a dir, across dirs, replacing an existing file, case-only */
    assert_int_equal(fat32_rename(v, &c, "file_1.bin", &c, "renamed_one.bin"), 0);
    assert_int_equal(fat32_lookup(v, &c, "file_1.bin", &x), -KENOENT);
    assert_int_equal(fat32_rename(v, &c, "file_511.bin", &a, "moved_511.bin"), 0);
    assert_int_equal(fat32_rename(v, &c, "file_512.bin", &c, "renamed_one.bin"), 0); /* replaces */
    assert_int_equal(fat32_rename(v, &c, "file_4096.bin", &c, "FILE_4096.BIN"), 0);
    assert_int_equal(fat32_rename(v, &root, "Alpha", &c, "loop"), -KEINVAL);
    struct fat32_node d2;
    assert_int_equal(fat32_mkdir(v, &root, "Second", &d2), 0);
    assert_int_equal(fat32_rename(v, &b, "Gamma Dir", &d2, "GammaMoved"), 0);
    assert_int_equal(fat32_lookup(v, &root, "Second", &d2), 0);
    assert_int_equal(fat32_lookup(v, &d2, "gammamoved", &c), 0);
    check_file(v, &c, "renamed_one.bin", 512, 3);
    check_file(v, &a, "moved_511.bin", 511, 2);
    check_file(v, &c, "file_4096.bin", 4096, 4);
    /* truncate: shrink, grow with zeros */
    struct fat32_node t;
    write_file(v, &c, "trunc.bin", 70000, 5);
    assert_int_equal(fat32_lookup(v, &c, "trunc.bin", &t), 0);
    assert_int_equal(fat32_truncate(v, &t, 1000), 0);
    assert_int_equal(fat32_truncate(v, &t, 5000), 0);
    uint8_t tb[5000], want[1000];
    assert_int_equal(fat32_read(v, &t, 0, tb, sizeof(tb)), 5000);
    pattern(want, 1000, 5);
    assert_memory_equal(tb, want, 1000);
    for (int i = 1000; i < 5000; i++) assert_int_equal(tb[i], 0);
    /* write past EOF zero-fills */
    struct fat32_node sp;
    assert_int_equal(fat32_create(v, &c, "sparse", &sp), 0);
    assert_int_equal(fat32_write(v, &sp, 10000, "XY", 2), 2);
    assert_int_equal(fat32_read(v, &sp, 0, tb, 5000), 5000);
    for (int i = 0; i < 5000; i++) assert_int_equal(tb[i], 0);
    /* unlink, rmdir */
    assert_int_equal(fat32_rmdir(v, &d2, "GammaMoved"), -KENOTEMPTY);
    assert_int_equal(fat32_unlink(v, &root, "Second"), -KEISDIR);
    struct fat32_node e;
    assert_int_equal(fat32_mkdir(v, &a, "empty", &e), 0);
    assert_int_equal(fat32_rmdir(v, &a, "EMPTY"), 0);
    assert_int_equal(fat32_unlink(v, &c, "file_0.bin"), 0);
    struct fat32_stat st;
    fat32_stat(&sp, &st);
    assert_int_equal(st.mtime.year, 2026);
    assert_int_equal(st.mtime.month, 11);
    assert_int_equal(st.mtime.second, 42);
    assert_int_equal(fat32_unmount(v), 0);
    img_save(&im, path);
    assert_int_equal(fsck_ok(path), 0);
    /* host tools see the same bytes and names (mtools needs >= 65525 clusters for FAT32) */
    if (use_mtools) {
    mtools_check(path, "/Second/GammaMoved/renamed_one.bin", 512, 3);
    mtools_check(path, "/Second/GammaMoved/file_4096.bin", 4096, 4);
    mtools_check(path, "/Alpha/moved_511.bin", 511, 2);
    mtools_check(path, "/Second/GammaMoved/file_1048577.bin", 1048577, 5);
    char fp[400];
    snprintf(fp, sizeof(fp), "/Alpha/beta/%s", long_name);
    mtools_check(path, fp, 3000, 77);
    assert_int_equal(sh("MTOOLS_SKIP_CHECK=1 mdir -i %s ::/Alpha/beta | grep -qF '%s'", path, long_name), 0);
    assert_int_equal(sh("MTOOLS_SKIP_CHECK=1 mdir -i %s ::/Second/GammaMoved | grep -q 'FILE_4096.BIN'", path), 0);
    }
    /* remount: delete everything, the free count returns exactly */
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    fat32_root(v, &root);
    remove_tree(v, &root);
    assert_int_equal(fat32_free_clusters(v), free0);
    assert_int_equal(fat32_unmount(v), 0);
    img_save(&im, path);
    assert_int_equal(fsck_ok(path), 0);
    free(de);
    free(v);
    free(im.data);
}

static void test_workload_spc1(void **state) { (void)state; workload(1, 40000, true); }
static void test_workload_spc8(void **state) { (void)state; workload(8, 278528, true); }
static void test_workload_spc64(void **state) { (void)state; workload(64, 131072, false); }
/* 4096-byte logical sectors, 1 sector per cluster (mtools checks too: 73k clusters) */
static void test_workload_4k_sectors(void **state) {
    (void)state;
    mkfs_sector_size = 4096;
    workload(1, 300000, true);
    mkfs_sector_size = 512;
}

/* ---- reading what mtools wrote ---- */
static void test_read_mtools_files(void **state) {
    (void)state;
    char path[300], src[300];
    snprintf(path, sizeof(path), "%s/m.img", tmpdir);
    make_image(path, 1, 40000);
    snprintf(src, sizeof(src), "%s/Some Long Name.Data", tmpdir);
    uint8_t *buf = malloc(200000);
    pattern(buf, 200000, 9);
    FILE *f = fopen(src, "wb");
    fwrite(buf, 1, 200000, f);
    fclose(f);
    assert_int_equal(sh("cd %s && MTOOLS_SKIP_CHECK=1 mmd -i %s ::/Top ::/Top/Sub && "
                        "MTOOLS_SKIP_CHECK=1 mcopy -i %s 'Some Long Name.Data' ::/Top/Sub/ && "
                        "MTOOLS_SKIP_CHECK=1 mcopy -i %s 'Some Long Name.Data' ::/SHORT.TXT",
                        tmpdir, path, path, path), 0);
    struct img im;
    img_load(&im, path);
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    struct fat32_node root, top, sub;
    fat32_root(v, &root);
    assert_int_equal(fat32_lookup(v, &root, "top", &top), 0);
    assert_int_equal(fat32_lookup(v, &top, "SUB", &sub), 0);
    check_file(v, &sub, "some long name.data", 200000, 9);
    check_file(v, &root, "short.txt", 200000, 9);
    struct fat32_dir_iter it;
    struct fat32_dirent *de = malloc(sizeof(*de));
    assert_int_equal(fat32_dir_open(v, &sub, &it), 0);
    bool seen = false;
    while (fat32_readdir(v, &it, de) == 1) if (strcmp(de->name, "Some Long Name.Data") == 0) seen = true;
    assert_true(seen);
    free(de);
    free(buf);
    free(v);
    free(im.data);
}

/* ---- names: limits, UTF-8, aliases ---- */
static void test_names(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/names.img", tmpdir);
    make_image(path, 1, 40000);
    struct img im;
    img_load(&im, path);
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    struct fat32_node root, f, g;
    fat32_root(v, &root);
    char n255[300], n256[300];
    memset(n255, 'x', 255); n255[255] = 0;
    memset(n256, 'y', 256); n256[256] = 0;
    assert_int_equal(fat32_create(v, &root, n255, &f), 0);
    assert_int_equal(f.entry_index - f.first_entry_index, 20);   /* 20 LFN entries + short */
    assert_int_equal(fat32_create(v, &root, n256, &f), -KENAMETOOLONG);
    assert_int_equal(fat32_create(v, &root, "bad\xff\xfename", &f), -KEINVAL);
    assert_int_equal(fat32_create(v, &root, "a*b", &f), -KEINVAL);
    assert_int_equal(fat32_create(v, &root, "trailing.", &f), -KEINVAL);
    assert_int_equal(fat32_create(v, &root, "..", &f), -KEINVAL);
    assert_int_equal(fat32_create(v, &root, "README.TXT", &f), 0);
    assert_int_equal(f.entry_index, f.first_entry_index);      /* exact 8.3: no LFN */
    assert_int_equal(fat32_create(v, &root, "readme.txt", &g), -KEEXIST);
    assert_int_equal(fat32_create(v, &root, "lower.txt", &f), 0);
    assert_int_equal(f.entry_index - f.first_entry_index, 1);
    const char *emoji = "rocket \xf0\x9f\x9a\x80 \xce\xa9mega";  /* U+1F680 needs a surrogate pair */
    assert_int_equal(fat32_create(v, &root, emoji, &f), 0);
    assert_int_equal(fat32_create(v, &root, "Grüße Ωmega Жук.txt", &g), 0);
    assert_int_equal(fat32_lookup(v, &root, "GRÜSSE", &g), -KENOENT);
    assert_int_equal(fat32_lookup(v, &root, "GRÜßE ΩMEGA ЖУК.TXT", &g), 0);
    assert_int_equal(fat32_lookup(v, &root, "ROCKET \xf0\x9f\x9a\x80 \xcf\x89MEGA", &g), 0); /* ω folds to Ω */
    struct fat32_dir_iter it;
    struct fat32_dirent *de = malloc(sizeof(*de));
    int seen = 0, rc;
    assert_int_equal(fat32_dir_open(v, &root, &it), 0);
    while ((rc = fat32_readdir(v, &it, de)) == 1) {
        if (strcmp(de->name, emoji) == 0) seen++;
        if (strcmp(de->name, n255) == 0) seen++;
        if (strcmp(de->name, "lower.txt") == 0 && strcmp(de->short_name, "LOWER~1.TXT") == 0) seen++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seen, 3);
    /* a directory growing over many clusters: 300 files, each found again */
    struct fat32_node d;
    assert_int_equal(fat32_mkdir(v, &root, "many", &d), 0);
    char nm[64];
    for (int i = 0; i < 300; i++) {
        snprintf(nm, sizeof(nm), "Entry number %03d of many.data", i);
        assert_int_equal(fat32_create(v, &d, nm, &f), 0);
    }
    for (int i = 0; i < 300; i += 7) {
        snprintf(nm, sizeof(nm), "ENTRY NUMBER %03d OF MANY.DATA", i);
        assert_int_equal(fat32_lookup(v, &d, nm, &f), 0);
    }
    assert_int_equal(fat32_unmount(v), 0);
    img_save(&im, path);
    assert_int_equal(fsck_ok(path), 0);
    assert_int_equal(sh("MTOOLS_SKIP_CHECK=1 mdir -i %s ::/many | grep -c 'Entry number' | grep -qx 300", path), 0);
    /* mtools itself cannot show characters beyond U+FFFF, so the host check uses a BMP name */
    assert_int_equal(sh("MTOOLS_SKIP_CHECK=1 mdir -i %s ::/ | grep -qF 'Grüße Ωmega Жук.txt'", path), 0);
    free(de);
    free(v);
    free(im.data);
}

/* ---- mount counts free clusters exactly and leaves a clean volume unwritten ---- */
/* The free entries of the FAT as the test counts them itself (clusters 2..last). */
static uint32_t free_in_fat(const struct img *im) {
    const uint8_t *b = im->data;
    uint32_t rsvd = fat_rd16(b + 14), fatsz = fat_rd32(b + 36), spc = b[13];
    uint32_t clusters = (fat_rd32(b + 32) - rsvd - b[16] * fatsz) / spc, free = 0;
    for (uint32_t cl = 2; cl < clusters + 2; cl++)
        if ((fat_rd32(b + rsvd * 512 + cl * 4) & FAT_MASK) == 0) free++;
    return free;
}

static void test_mount_free_count(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/free.img", tmpdir);
    /* 64 MiB with 512-byte clusters: a FAT of ~1000 sectors, read in several requests. */
    make_image(path, 1, 65536);
    assert_int_equal(sh("mmd -i %s ::/d && echo hello | mcopy -i %s - ::/d/h.txt", path, path), 0);
    struct img im;
    img_load(&im, path);
    uint32_t expect = free_in_fat(&im);
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL), 0);
    assert_int_equal(fat32_free_clusters(v), expect);
    /* mtools kept FSInfo's count right: nothing to write back. */
    assert_int_equal(fat32_sync(v), 0);
    assert_int_equal(im.ndirty, 0);
    /* A wrong FSInfo count is corrected on the first sync. */
    fat_wr32(im.data + 512 + 488, expect + 7);
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL), 0);
    assert_int_equal(fat32_free_clusters(v), expect);
    assert_int_equal(fat32_sync(v), 0);
    assert_int_equal(fat_rd32(im.data + 512 + 488), expect);
    free(v);
    free(im.data);
}

/* ---- bad BPBs are refused ---- */
static void test_bad_bpb_refused(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/bad.img", tmpdir);
    make_image(path, 1, 2048);
    struct img im;
    img_load(&im, path);
    uint8_t *orig = malloc(im.sectors * 512);
    memcpy(orig, im.data, im.sectors * 512);
    struct fat32_volume *v = vol_new();
    struct { uint32_t off, size, val; } cases[] = {
        { 11, 2, 256 }, { 11, 2, 1000 }, { 13, 1, 3 }, { 13, 1, 0 }, { 14, 2, 0 }, { 16, 1, 0 },
        { 16, 1, 3 }, { 36, 4, 0 }, { 36, 4, 1 }, { 44, 4, 0 }, { 44, 4, 999999 },
        { 32, 4, 0xFFFFFF }, { 510, 1, 0 }, { 512 + 0, 4, 0 }, { 512 + 484, 4, 1 },
        { 17, 2, 512 }, { 48, 2, 0 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        memcpy(im.data, orig, im.sectors * 512);
        for (uint32_t k = 0; k < cases[i].size; k++)
            im.data[cases[i].off + k] = (uint8_t)(cases[i].val >> (8 * k));
        assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL), -KEINVAL);
    }
    memcpy(im.data, orig, im.sectors * 512);
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors / 2, NULL, NULL), -KEINVAL);
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL), 0);
    free(orig);
    free(v);
    free(im.data);
}

/* ---- damaged chains: loops, out of range, free links ---- */
static void test_damaged_chains(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/dmg.img", tmpdir);
    make_image(path, 1, 2048);
    struct img im;
    img_load(&im, path);
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL), 0);
    struct fat32_node root, f;
    fat32_root(v, &root);
    uint8_t buf[4000];
    pattern(buf, sizeof(buf), 1);
    assert_int_equal(fat32_create(v, &root, "victim.bin", &f), 0);
    assert_int_equal(fat32_write(v, &f, 0, buf, sizeof(buf)), 4000);
    uint32_t c0 = f.first_cluster, c1, free_before;
    assert_int_equal(fat32i_next(v, c0, &c1), 0);
    assert_int_equal(fat32_sync(v), 0);
    /* loop: second cluster points back to the first */
    assert_int_equal(fat32i_set(v, c1, c0), 0);
    assert_int_equal(fat32i_fat_flush(v), 0);
    free_before = fat32_free_clusters(v);
    struct fat32_node g;
    assert_int_equal(fat32_lookup(v, &root, "victim.bin", &g), 0);
    assert_int_equal(fat32_unlink(v, &root, "victim.bin"), -KEIO);
    assert_int_equal(fat32_free_clusters(v), free_before);   /* nothing freed */
    assert_int_equal(fat32_lookup(v, &root, "victim.bin", &g), 0); /* entry untouched */
    assert_true(fat32_write(v, &g, 4000, buf, 3000) == -KEIO);
    /* out of range and free links */
    assert_int_equal(fat32i_set(v, c1, 0x0FFFFFF0), 0);
    assert_int_equal(fat32i_fat_flush(v), 0);
    assert_true(fat32_read(v, &g, 0, buf, sizeof(buf)) == -KEIO);
    assert_int_equal(fat32i_set(v, c0, 0), 0);
    assert_int_equal(fat32i_fat_flush(v), 0);
    assert_true(fat32_read(v, &g, 0, buf, sizeof(buf)) == -KEIO);
    assert_int_equal(fat32_truncate(v, &g, 0), -KEIO);
    /* root directory chain looping onto itself with no end marker: bounded -KEIO */
    struct fat32_node r;
    fat32_root(v, &r);
    uint8_t ent[32];
    memset(ent, 'A', 32);
    ent[11] = 0x20;
    ent[20] = ent[21] = ent[26] = ent[27] = 0;
    for (uint32_t i = 0; i < v->cluster_bytes / 32; i++) assert_int_equal(entry_write(v, v->root_cluster, i, ent), 0);
    assert_int_equal(fat32i_set(v, v->root_cluster, v->root_cluster), 0);
    assert_int_equal(fat32i_fat_flush(v), 0);
    assert_int_equal(fat32_lookup(v, &r, "nothing", &g), -KEIO);
    assert_int_equal(fat32_create(v, &r, "new", &g), -KEIO);
    free(v);
    free(im.data);
}

/* ---- filling the disk ---- */
static void test_fill_enospc(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/fill.img", tmpdir);
    make_image(path, 8, 16384);
    struct img im;
    img_load(&im, path);
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    uint32_t free0 = fat32_free_clusters(v);
    struct fat32_node root, d, f;
    fat32_root(v, &root);
    assert_int_equal(fat32_mkdir(v, &root, "fill", &d), 0);
    static uint8_t chunk[65536];
    pattern(chunk, sizeof(chunk), 3);
    int files = 0;
    int64_t rc = 0;
    while (rc >= 0) {
        char name[32];
        snprintf(name, sizeof(name), "fill%03d.bin", files);
        int c = fat32_create(v, &d, name, &f);
        if (c < 0) { assert_int_equal(c, -KENOSPC); break; }
        files++;
        for (int i = 0; i < 16 && rc >= 0; i++) rc = fat32_write(v, &f, f.size, chunk, sizeof(chunk));
        if (rc == -KENOSPC) {   /* top up cluster by cluster */
            while ((rc = fat32_write(v, &f, f.size, chunk, v->cluster_bytes)) > 0) {}
        }
    }
    assert_int_equal(rc, -KENOSPC);
    assert_int_equal(fat32_free_clusters(v), 0);
    assert_int_equal(fat32_sync(v), 0);
    img_save(&im, path);
    assert_int_equal(fsck_ok(path), 0);
    remove_tree(v, &root);
    assert_int_equal(fat32_free_clusters(v), free0);
    assert_int_equal(fat32_unmount(v), 0);
    img_save(&im, path);
    assert_int_equal(fsck_ok(path), 0);
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    assert_int_equal(fat32_free_clusters(v), free0);
    assert_int_equal(fat_rd32(im.data + 512 + 488), free0); /* FSInfo */
    free(v);
    free(im.data);
}

/* ---- fuzzer ---- */
static uint64_t rng_state = 0x5AB05C0FFEEull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static unsigned fuzz_eio, fuzz_einval, fuzz_other_err;
static bool err_ok(int64_t rc) {
    if (rc == -KEIO) fuzz_eio++;
    else if (rc == -KEINVAL) fuzz_einval++;
    else if (rc < 0) fuzz_other_err++;
    return rc >= 0 || rc == -KEIO || rc == -KEINVAL || rc == -KENOSPC || rc == -KENOENT ||
           rc == -KEEXIST || rc == -KENOTDIR || rc == -KEISDIR || rc == -KENOTEMPTY ||
           rc == -KENAMETOOLONG;
}

#define FUZZ_READ_BUDGET 400000u   /* sectors one iteration may read: far above a sane walk */

static void fuzz_walk(struct fat32_volume *v, struct fat32_node *dir, int depth, struct img *im) {
    struct fat32_dir_iter it;
    struct fat32_dirent de;
    static uint8_t buf[8192];
    if (depth > 6) return;
    int rc = fat32_dir_open(v, dir, &it);
    assert_true(err_ok(rc));
    if (rc < 0) return;
    for (int n = 0; n < 64; n++) {
        rc = fat32_readdir(v, &it, &de);
        assert_true(err_ok(rc));
        if (rc <= 0) break;
        assert_true(im->reads < FUZZ_READ_BUDGET);
        if (strcmp(de.name, ".") == 0 || strcmp(de.name, "..") == 0) continue;
        struct fat32_node n2;
        assert_true(err_ok(fat32_lookup(v, dir, de.name, &n2)));
        if (de.node.attr & FAT32_ATTR_DIRECTORY) {
            fuzz_walk(v, &de.node, depth + 1, im);
        } else {
            for (uint64_t off = 0; off < de.node.size && off < 65536; off += sizeof(buf)) {
                int64_t r = fat32_read(v, &de.node, off, buf, sizeof(buf));
                assert_true(err_ok(r));
                if (r <= 0) break;
            }
            assert_true(err_ok(fat32_write(v, &de.node, de.node.size / 2, buf, 700)));
        }
    }
}

static void test_fuzz_mutated_images(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/fz.img", tmpdir);
    make_image(path, 1, 2048);
    struct img im;
    img_load(&im, path);
    struct fat32_volume *v = vol_new();
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, test_clock, NULL), 0);
    {
        struct fat32_node root, d1, d2, fl;
        fat32_root(v, &root);
        assert_int_equal(fat32_mkdir(v, &root, "Dir1", &d1), 0);
        assert_int_equal(fat32_mkdir(v, &d1, "Deeper", &d2), 0);
        write_file(v, &d2, "A_long_file_name.txt", 3000, 1);
        write_file(v, &root, "ROOT.TXT", 1500, 2);
        write_file(v, &d1, "x.bin", 600, 3);
        assert_int_equal(fat32_create(v, &d1, "empty", &fl), 0);
        assert_int_equal(fat32_unmount(v), 0);
    }
    uint8_t *pristine = malloc(im.sectors * 512);
    memcpy(pristine, im.data, im.sectors * 512);
    assert_int_equal(fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL), 0);
    uint32_t fat_lba = v->reserved_sectors, data_lba = v->first_data_sector;
    int mounted = 0, created = 0;
    for (int iter = 0; iter < 10000; iter++) {
        im.ndirty = 0;
        im.reads = 0;
        uint32_t muts = 1 + rnd() % 4;
        for (uint32_t m = 0; m < muts; m++) {
            uint32_t lba, off;
            switch (rnd() % 5) {
            case 0: lba = 0; off = rnd() % 90; break;                 /* BPB */
            case 1: lba = 1; off = rnd() % 512; break;                /* FSInfo */
            case 2: lba = fat_lba; off = (rnd() % 128) * 4; break;    /* FAT entries */
            default: lba = data_lba + rnd() % 8; off = rnd() % 512; break; /* directories */
            }
            im.dirty[im.ndirty++] = lba;
            uint32_t val = rnd();
            if (lba == fat_lba && rnd() % 2) {
                uint32_t choices[] = { 0, 1, 2, 3, 4, 5, 0x0FFFFFF7, 0x0FFFFFFF, 0x0FFFFFF0, off / 4, val };
                val = choices[rnd() % ARRAY_SIZE(choices)];
                for (int k = 0; k < 4; k++) im.data[lba * 512 + off + k] = (uint8_t)(val >> (8 * k));
            } else {
                im.data[lba * 512 + off] = (uint8_t)val;
            }
        }
        int rc = fat32_mount(v, &img_ops, &im, im.sectors, NULL, NULL);
        assert_true(err_ok(rc));
        if (rc == 0) {
            mounted++;
            struct fat32_node root, nf, nd;
            fat32_root(v, &root);
            fuzz_walk(v, &root, 0, &im);
            static uint8_t wbuf[3000];
            rc = fat32_create(v, &root, "Fuzz New File.txt", &nf);
            assert_true(err_ok(rc));
            if (rc == 0) {
                created++;
                assert_true(err_ok(fat32_write(v, &nf, 0, wbuf, sizeof(wbuf))));
            }
            assert_true(err_ok(fat32_mkdir(v, &root, "fuzzdir", &nd)));
            assert_true(err_ok(fat32_rename(v, &root, "ROOT.TXT", &root, "renamed.txt")));
            assert_true(err_ok(fat32_rename(v, &root, "Dir1", &root, "Dir2")));
            assert_true(err_ok(fat32_unlink(v, &root, "renamed.txt")));
            assert_true(err_ok(fat32_rmdir(v, &root, "fuzzdir")));
            assert_true(err_ok(fat32_sync(v)));
            assert_true(im.reads < FUZZ_READ_BUDGET);
        }
        assert_false(im.overflow);
        for (uint32_t i = 0; i < im.ndirty; i++)
            memcpy(im.data + (uint64_t)im.dirty[i] * 512, pristine + (uint64_t)im.dirty[i] * 512, 512);
    }
    print_message("fuzz: %d of 10000 mutated images mounted, %d took a new file; errors: %u EIO, "
                  "%u EINVAL, %u other\n", mounted, created, fuzz_eio, fuzz_einval, fuzz_other_err);
    assert_memory_equal(im.data, pristine, im.sectors * 512);
    free(pristine);
    free(v);
    free(im.data);
}

static int setup_tmp(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/fat32testXXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown_tmp(void **state) {
    (void)state;
    return sh("rm -rf %s", tmpdir);
}

int main(void) {
    setenv("LC_ALL", "C.UTF-8", 1);
    setenv("MTOOLS_SKIP_CHECK", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_spc1),
        cmocka_unit_test(test_workload_spc8),
        cmocka_unit_test(test_workload_spc64),
        cmocka_unit_test(test_workload_4k_sectors),
        cmocka_unit_test(test_read_mtools_files),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_mount_free_count),
        cmocka_unit_test(test_bad_bpb_refused),
        cmocka_unit_test(test_damaged_chains),
        cmocka_unit_test(test_fill_enospc),
        cmocka_unit_test(test_fuzz_mutated_images),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
