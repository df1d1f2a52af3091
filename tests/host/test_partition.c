/* test_partition.c: host unit tests for the MBR/GPT partition scanner and CRC-32
 * (kernel/block/partition.c). Builds synthetic disk images in memory: MBRs with primary and
 * logical partitions, GPTs (UEFI 2.10 §5.3) with their CRCs computed here by an independent
 * bitwise CRC-32, then hostile variants (bad signatures and CRCs, absurd entry counts and
 * sizes, partitions past the end or over the tables, EBR loops) and a fixed-seed fuzzer. */
#include "host_stubs.h"
#include "../../kernel/block/partition.c"

#include <string.h>
#include <unistd.h>

/* ---- an in-memory disk ---- */

struct disk {
    uint8_t *data;
    uint32_t sector_size;
    uint64_t sectors;
    uint64_t fail_lba;   /* reads of this LBA fail with -KEIO (UINT64_MAX: none) */
    unsigned reads;
};

static int disk_read(void *ctx, uint64_t lba, void *buf) {
    struct disk *d = ctx;
    d->reads++;
    assert_true(lba < d->sectors); /* the scanner must never ask past the end */
    if (lba == d->fail_lba) return -KEIO;
    memcpy(buf, d->data + lba * d->sector_size, d->sector_size);
    return 0;
}

static struct disk disk_new(uint32_t sector_size, uint64_t sectors) {
    struct disk d = {calloc(sectors, sector_size), sector_size, sectors, UINT64_MAX, 0};
    assert_non_null(d.data);
    return d;
}

static uint8_t *sec(struct disk *d, uint64_t lba) { return d->data + lba * d->sector_size; }

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Independent reference: the bitwise reflected CRC-32 (poly 0xEDB88320). */
static uint32_t ref_crc32(const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static int scan(struct disk *d, struct part_entry *out, int max, const char **kind) {
    return part_scan(disk_read, d, d->sector_size, d->sectors, out, max, kind);
}

/* ---- MBR builder ---- */

static void mbr_set(uint8_t *s, int slot, uint8_t boot, uint8_t type, uint32_t start, uint32_t size) {
    uint8_t *r = s + 446 + 16 * slot;
    memset(r, 0, 16);
    r[0] = boot;
    r[4] = type;
    put32(r + 8, start);
    put32(r + 12, size);
    s[510] = 0x55;
    s[511] = 0xaa;
}

/* ---- GPT builder ---- */

struct gpt_part { uint64_t first, last; const char *name; uint8_t type_byte; };

struct gpt_layout {
    uint32_t entry_count, entry_size, header_size, revision;
    uint64_t first_usable, last_usable;
};

static struct gpt_layout gpt_default_layout(const struct disk *d) {
    struct gpt_layout l = {128, 128, 92, 0x00010000, 0, 0};
    uint64_t array_sectors = (l.entry_count * l.entry_size + d->sector_size - 1) / d->sector_size;
    l.first_usable = 2 + array_sectors;
    l.last_usable = d->sectors - 2 - array_sectors;
    return l;
}

static void gpt_fill_entries(uint8_t *array, const struct gpt_layout *l, const struct gpt_part *parts, int n) {
    memset(array, 0, (size_t)l->entry_count * l->entry_size);
    for (int i = 0; i < n; i++) {
        uint8_t *e = array + (size_t)i * l->entry_size;
        memset(e, parts[i].type_byte ? parts[i].type_byte : 0xa2, 16); /* type GUID */
        memset(e + 16, 0x10 + i, 16);                                      /* unique GUID */
        put64(e + 32, parts[i].first);
        put64(e + 40, parts[i].last);
        const char *name = parts[i].name ? parts[i].name : "";
        for (int c = 0; name[c] && c < 36; c++) {
            e[56 + 2 * c] = (uint8_t)name[c];
            e[57 + 2 * c] = 0;
        }
    }
}

/* Writes one header at header_lba with its entry array at array_lba and fixes both CRCs. */
static void gpt_write_copy(struct disk *d, const struct gpt_layout *l, uint64_t header_lba, uint64_t alt_lba,
                           uint64_t array_lba, const struct gpt_part *parts, int n) {
    size_t array_bytes = (size_t)l->entry_count * l->entry_size;
    uint8_t *array = calloc(1, array_bytes);
    assert_non_null(array);
    gpt_fill_entries(array, l, parts, n);
    memcpy(sec(d, array_lba), array, array_bytes);
    uint8_t *h = sec(d, header_lba);
    memset(h, 0, d->sector_size);
    memcpy(h, "EFI PART", 8);
    put32(h + 8, l->revision);
    put32(h + 12, l->header_size);
    put64(h + 24, header_lba);
    put64(h + 32, alt_lba);
    put64(h + 40, l->first_usable);
    put64(h + 48, l->last_usable);
    memset(h + 56, 0x5a, 16); /* disk GUID */
    put64(h + 72, array_lba);
    put32(h + 80, l->entry_count);
    put32(h + 84, l->entry_size);
    put32(h + 88, ref_crc32(array, array_bytes));
    put32(h + 16, ref_crc32(h, l->header_size < d->sector_size ? l->header_size : d->sector_size));
    free(array);
}

static uint64_t gpt_array_sectors(const struct disk *d, const struct gpt_layout *l) {
    return ((uint64_t)l->entry_count * l->entry_size + d->sector_size - 1) / d->sector_size;
}

static void gpt_protective_mbr(struct disk *d) {
    uint64_t size = d->sectors - 1;
    mbr_set(sec(d, 0), 0, 0, 0xee, 1, size > 0xffffffffu ? 0xffffffffu : (uint32_t)size);
}

static void gpt_build(struct disk *d, const struct gpt_layout *l, const struct gpt_part *primary, int np,
                      const struct gpt_part *backup, int nb) {
    uint64_t last = d->sectors - 1;
    gpt_protective_mbr(d);
    gpt_write_copy(d, l, 1, last, 2, primary, np);
    gpt_write_copy(d, l, last, 1, last - gpt_array_sectors(d, l), backup, nb);
}

/* Recomputes the header CRC of the header at lba after a test changed a field. */
static void gpt_fix_header_crc(struct disk *d, uint64_t lba) {
    uint8_t *h = sec(d, lba);
    uint32_t size = get_le32(h + 12);
    if (size > d->sector_size) size = d->sector_size;
    put32(h + 16, 0);
    put32(h + 16, ref_crc32(h, size));
}

static const struct gpt_part three_parts[] = {
    {34, 2047, "EFI system", 0},
    {2048, 6143, "data one", 0},
    {6144, 8191, "last-data", 0},
};

/* ---- CRC-32 ---- */

static void test_crc32_known_vectors(void **state) {
    (void)state;
    assert_int_equal(crc32_ieee("123456789", 9, 0), 0xcbf43926u);
    assert_int_equal(crc32_ieee("", 0, 0), 0);
    assert_int_equal(crc32_ieee("a", 1, 0), 0xe8b7be43u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(crc32_ieee(fox, strlen(fox), 0), 0x414fa339u);
    /* Continuation: the CRC of "12345" continued over "6789" is the CRC of "123456789". */
    assert_int_equal(crc32_ieee("6789", 4, crc32_ieee("12345", 5, 0)), 0xcbf43926u);
}

static void test_crc32_matches_bitwise_reference(void **state) {
    (void)state;
    uint8_t buf[1000];
    srand(7);
    for (int round = 0; round < 50; round++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rand();
        assert_int_equal(crc32_ieee(buf, len, 0), ref_crc32(buf, len));
    }
}

/* ---- MBR ---- */

static void test_no_signature_is_no_table(void **state) {
    (void)state;
    struct disk d = disk_new(512, 1024);
    mbr_set(sec(&d, 0), 0, 0, 0x83, 2048, 100);
    sec(&d, 0)[511] = 0; /* break the signature */
    struct part_entry out[PART_MAX];
    const char *kind = "unset";
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 0);
    assert_string_equal(kind, "none");
    free(d.data);
}

static void test_empty_mbr_has_no_partitions(void **state) {
    (void)state;
    struct disk d = disk_new(512, 1024);
    sec(&d, 0)[510] = 0x55;
    sec(&d, 0)[511] = 0xaa;
    struct part_entry out[PART_MAX];
    const char *kind;
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 0);
    assert_string_equal(kind, "none");
    free(d.data);
}

static void test_fat_boot_sector_is_not_a_table(void **state) {
    (void)state;
    /* A FAT "superfloppy": boot code text runs over the partition records, so the boot
     * indicators are neither 0x00 nor 0x80. */
    struct disk d = disk_new(512, 1024);
    uint8_t *s = sec(&d, 0);
    s[0] = 0xeb;
    s[1] = 0x58;
    s[2] = 0x90;
    memcpy(s + 3, "mkfs.fat", 8);
    const char *text = "This is not a bootable disk. Please insert a bootable floppy and press any key ";
    for (int i = 0; i < 64; i++) s[446 + i] = (uint8_t)text[i];
    s[510] = 0x55;
    s[511] = 0xaa;
    struct part_entry out[PART_MAX];
    const char *kind;
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 0);
    assert_string_equal(kind, "none");
    free(d.data);
}

static void test_mbr_three_primaries(void **state) {
    (void)state;
    struct disk d = disk_new(512, 20000);
    mbr_set(sec(&d, 0), 0, 0x80, 0x0c, 2048, 4096);
    mbr_set(sec(&d, 0), 1, 0x00, 0x83, 6144, 8192);
    /* slot 2 empty */
    mbr_set(sec(&d, 0), 3, 0x00, 0x07, 14336, 20000 - 14336); /* ends exactly at the end */
    struct part_entry out[PART_MAX];
    const char *kind;
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 3);
    assert_string_equal(kind, "mbr");
    assert_int_equal(out[0].start, 2048);
    assert_int_equal(out[0].sectors, 4096);
    assert_int_equal(out[0].mbr_type, 0x0c);
    assert_int_equal(out[1].start, 6144);
    assert_int_equal(out[1].sectors, 8192);
    assert_int_equal(out[1].mbr_type, 0x83);
    assert_int_equal(out[2].start, 14336);
    assert_int_equal(out[2].sectors, 5664);
    assert_int_equal(out[2].mbr_type, 0x07);
    assert_string_equal(out[0].name, "");
    free(d.data);
}

static void test_mbr_extended_with_logicals(void **state) {
    (void)state;
    struct disk d = disk_new(512, 30000);
    mbr_set(sec(&d, 0), 0, 0, 0x83, 2048, 2048);
    mbr_set(sec(&d, 0), 1, 0, 0x0f, 8192, 16384); /* extended 8192..24575 */
    mbr_set(sec(&d, 0), 2, 0, 0x0b, 24576, 1024);
    /* EBR 1 at 8192: logical at +63 (8255, 1000 sectors); next EBR at ext + 4096 = 12288 */
    mbr_set(sec(&d, 8192), 0, 0, 0x83, 63, 1000);
    mbr_set(sec(&d, 8192), 1, 0, 0x05, 4096, 5000);
    /* EBR 2 at 12288: logical at +2048 (14336, 3000 sectors), end of chain */
    mbr_set(sec(&d, 12288), 0, 0, 0x82, 2048, 3000);
    struct part_entry out[PART_MAX];
    const char *kind;
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 4);
    assert_string_equal(kind, "mbr");
    /* primaries first (the container itself is not listed), then logicals in chain order */
    assert_int_equal(out[0].start, 2048);
    assert_int_equal(out[1].start, 24576);
    assert_int_equal(out[1].mbr_type, 0x0b);
    assert_int_equal(out[2].start, 8255);
    assert_int_equal(out[2].sectors, 1000);
    assert_int_equal(out[3].start, 14336);
    assert_int_equal(out[3].sectors, 3000);
    assert_int_equal(out[3].mbr_type, 0x82);
    free(d.data);
}

static void test_mbr_ebr_loop_is_rejected(void **state) {
    (void)state;
    struct disk d = disk_new(512, 30000);
    mbr_set(sec(&d, 0), 0, 0, 0x05, 8192, 16384);
    mbr_set(sec(&d, 8192), 0, 0, 0x83, 63, 100);
    mbr_set(sec(&d, 8192), 1, 0, 0x05, 2048, 100);  /* -> 10240 */
    mbr_set(sec(&d, 10240), 0, 0, 0x83, 63, 100);
    mbr_set(sec(&d, 10240), 1, 0, 0x05, 0, 100);    /* -> back to 8192 */
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* A chain longer than the bound ends without hanging: EBRs every 4 sectors. */
    struct disk big = disk_new(512, 4000);
    mbr_set(sec(&big, 0), 0, 0, 0x05, 4, 3990);
    for (uint32_t i = 0; i < 900; i++) {
        uint64_t ebr = 4 + 4 * (uint64_t)i;
        mbr_set(sec(&big, ebr), 0, 0, 0x83, 1, 2);
        if (i < 899) mbr_set(sec(&big, ebr), 1, 0, 0x05, 4 * (i + 1), 4);
    }
    big.reads = 0;
    assert_int_equal(scan(&big, out, PART_MAX, NULL), PART_MAX);
    assert_true(big.reads <= EBR_CHAIN_MAX + 2);
    free(big.data);
    free(d.data);
}

static void test_mbr_logical_outside_extended_is_rejected(void **state) {
    (void)state;
    struct disk d = disk_new(512, 30000);
    mbr_set(sec(&d, 0), 0, 0, 0x05, 8192, 1000);
    mbr_set(sec(&d, 8192), 0, 0, 0x83, 63, 2000); /* runs past the container */
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* a logical partition starting on its own EBR */
    mbr_set(sec(&d, 8192), 0, 0, 0x83, 0, 10);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* an EBR without its signature */
    mbr_set(sec(&d, 8192), 0, 0, 0x83, 63, 10);
    sec(&d, 8192)[510] = 0;
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    free(d.data);
}

static void test_mbr_hostile_bounds(void **state) {
    (void)state;
    struct part_entry out[PART_MAX];
    struct disk d = disk_new(512, 10000);
    /* past the end by one sector */
    mbr_set(sec(&d, 0), 0, 0, 0x83, 2048, 10000 - 2048 + 1);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* overlapping the table (start 0) */
    mbr_set(sec(&d, 0), 0, 0, 0x83, 0, 100);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* start + size overflowing 32 bits is still past the end, not wrapped */
    mbr_set(sec(&d, 0), 0, 0, 0x83, 0xffffff00u, 0x1000);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* two primaries overlapping */
    mbr_set(sec(&d, 0), 0, 0, 0x83, 100, 200);
    mbr_set(sec(&d, 0), 1, 0, 0x83, 299, 10);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    /* touching is fine */
    mbr_set(sec(&d, 0), 1, 0, 0x83, 300, 10);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 2);
    free(d.data);
}

static void test_read_error_and_max(void **state) {
    (void)state;
    struct part_entry out[PART_MAX];
    struct disk d = disk_new(512, 10000);
    mbr_set(sec(&d, 0), 0, 0, 0x83, 100, 10);
    mbr_set(sec(&d, 0), 1, 0, 0x83, 200, 10);
    mbr_set(sec(&d, 0), 2, 0, 0x83, 300, 10);
    d.fail_lba = 0;
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEIO);
    d.fail_lba = UINT64_MAX;
    /* only max entries are written */
    struct part_entry two[3];
    memset(two, 0x77, sizeof two);
    assert_int_equal(scan(&d, two, 2, NULL), 2);
    assert_int_equal(two[1].start, 200);
    assert_int_equal(two[2].start, 0x7777777777777777ull);
    /* bad arguments */
    assert_int_equal(part_scan(disk_read, &d, 500, d.sectors, out, PART_MAX, NULL), -KEINVAL);
    assert_int_equal(part_scan(disk_read, &d, 131072, d.sectors, out, PART_MAX, NULL), -KEINVAL);
    assert_int_equal(part_scan(disk_read, &d, 768, d.sectors, out, PART_MAX, NULL), -KEINVAL);
    assert_int_equal(part_scan(NULL, &d, 512, d.sectors, out, PART_MAX, NULL), -KEINVAL);
    assert_int_equal(part_scan(disk_read, &d, 512, 0, out, PART_MAX, NULL), 0);
    free(d.data);
}

/* ---- GPT ---- */

static void check_three(const struct part_entry *out) {
    assert_int_equal(out[0].start, 34);
    assert_int_equal(out[0].sectors, 2014);
    assert_string_equal(out[0].name, "EFI system");
    assert_int_equal(out[1].start, 2048);
    assert_int_equal(out[1].sectors, 4096);
    assert_string_equal(out[1].name, "data one");
    assert_int_equal(out[2].start, 6144);
    assert_int_equal(out[2].sectors, 2048);
    assert_string_equal(out[2].name, "last-data");
}

static void test_gpt_valid(void **state) {
    (void)state;
    struct disk d = disk_new(512, 8192 + 34);
    struct gpt_layout l = gpt_default_layout(&d);
    assert_int_equal(l.last_usable, 8191 + 1);
    gpt_build(&d, &l, three_parts, 3, three_parts, 3);
    struct part_entry out[PART_MAX];
    const char *kind;
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 3);
    assert_string_equal(kind, "gpt");
    check_three(out);
    free(d.data);
}

static void test_gpt_4k_sectors_and_odd_entry_size(void **state) {
    (void)state;
    /* 4 KiB sectors */
    struct disk d = disk_new(4096, 4096);
    struct gpt_layout l = gpt_default_layout(&d);
    assert_int_equal(l.first_usable, 6);
    struct gpt_part parts[] = {{6, 255, "boot", 0}, {256, 4000, "root", 0}};
    gpt_build(&d, &l, parts, 2, parts, 2);
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 2);
    assert_int_equal(out[1].start, 256);
    assert_int_equal(out[1].sectors, 3745);
    assert_string_equal(out[1].name, "root");
    free(d.data);
    /* 136-byte entries straddle 512-byte sectors; the fourth entry crosses sectors 2-3. */
    struct disk e = disk_new(512, 8192 + 64);
    struct gpt_layout l2 = gpt_default_layout(&e);
    l2.entry_size = 136;
    l2.first_usable = 2 + gpt_array_sectors(&e, &l2);
    l2.last_usable = e.sectors - 2 - gpt_array_sectors(&e, &l2);
    struct gpt_part four[] = {{100, 199, "a", 0}, {200, 299, "b", 0}, {300, 399, "c", 0}, {400, 499, "straddler", 0}};
    gpt_build(&e, &l2, four, 4, four, 4);
    assert_int_equal(scan(&e, out, PART_MAX, NULL), 4);
    assert_int_equal(out[3].start, 400);
    assert_string_equal(out[3].name, "straddler");
    free(e.data);
}

static void test_gpt_names(void **state) {
    (void)state;
    struct disk d = disk_new(512, 4096);
    struct gpt_layout l = gpt_default_layout(&d);
    struct gpt_part parts[] = {{100, 199, "x", 0}, {200, 299, "123456789012345678901234567890123456", 0}};
    gpt_protective_mbr(&d);
    gpt_write_copy(&d, &l, 1, d.sectors - 1, 2, parts, 2);
    /* Entry 0's name: U+03A9 'm' 'e' U+D83D U+DE00 (one emoji as a surrogate pair) 'g' 'a' */
    uint8_t *e0 = sec(&d, 2);
    const uint16_t units[] = {0x03a9, 'm', 'e', 0xd83d, 0xde00, 'g', 'a', 0};
    for (int i = 0; i < 8; i++) {
        e0[56 + 2 * i] = (uint8_t)units[i];
        e0[57 + 2 * i] = (uint8_t)(units[i] >> 8);
    }
    uint8_t *h = sec(&d, 1);
    put32(h + 88, ref_crc32(sec(&d, 2), l.entry_count * l.entry_size));
    gpt_fix_header_crc(&d, 1);
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 2);
    assert_string_equal(out[0].name, "?me?ga");
    /* 36 characters with no terminator in the entry: all kept, NUL-terminated */
    assert_string_equal(out[1].name, "123456789012345678901234567890123456");
    free(d.data);
}

static void test_gpt_bad_header_crc_uses_backup(void **state) {
    (void)state;
    struct disk d = disk_new(512, 8192 + 34);
    struct gpt_layout l = gpt_default_layout(&d);
    /* The backup lists different partitions, so the test sees which copy was used. */
    struct gpt_part backup[] = {{40, 49, "from backup", 0}};
    gpt_build(&d, &l, three_parts, 3, backup, 1);
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 3);
    sec(&d, 1)[16] ^= 1; /* header CRC */
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 1);
    assert_string_equal(out[0].name, "from backup");
    assert_int_equal(out[0].start, 40);
    assert_int_equal(out[0].sectors, 10);
    /* a changed field under a stale CRC is caught the same way */
    sec(&d, 1)[16] ^= 1;
    sec(&d, 1)[40] ^= 1; /* first usable LBA */
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 1);
    assert_string_equal(out[0].name, "from backup");
    /* both headers bad: rejected */
    sec(&d, d.sectors - 1)[20] = 1; /* reserved field, covered by the CRC */
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    free(d.data);
}

static void test_gpt_bad_signature(void **state) {
    (void)state;
    struct disk d = disk_new(512, 8192 + 34);
    struct gpt_layout l = gpt_default_layout(&d);
    gpt_build(&d, &l, three_parts, 3, three_parts, 3);
    memcpy(sec(&d, 1), "EFI PAR!", 8);
    gpt_fix_header_crc(&d, 1);
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 3); /* the backup */
    memcpy(sec(&d, d.sectors - 1), "IBM PART", 8);
    gpt_fix_header_crc(&d, d.sectors - 1);
    const char *kind;
    assert_int_equal(scan(&d, out, PART_MAX, &kind), -KEINVAL);
    assert_string_equal(kind, "none");
    free(d.data);
}

static void test_gpt_bad_entry_array_crc(void **state) {
    (void)state;
    struct disk d = disk_new(512, 8192 + 34);
    struct gpt_layout l = gpt_default_layout(&d);
    struct gpt_part backup[] = {{40, 49, "from backup", 0}};
    gpt_build(&d, &l, three_parts, 3, backup, 1);
    sec(&d, 2 + 20)[100] ^= 0x40; /* an unused entry deep in the primary array */
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 1);
    assert_string_equal(out[0].name, "from backup");
    /* both arrays corrupt */
    uint64_t backup_array = d.sectors - 1 - gpt_array_sectors(&d, &l);
    sec(&d, backup_array)[0] ^= 0xff;
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    free(d.data);
}

static void test_gpt_wrong_my_lba(void **state) {
    (void)state;
    struct disk d = disk_new(512, 8192 + 34);
    struct gpt_layout l = gpt_default_layout(&d);
    gpt_build(&d, &l, three_parts, 3, three_parts, 3);
    put64(sec(&d, 1) + 24, 2);
    gpt_fix_header_crc(&d, 1);
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), 3); /* the backup */
    put64(sec(&d, d.sectors - 1) + 24, 1);                /* backup claims to be the primary */
    gpt_fix_header_crc(&d, d.sectors - 1);
    assert_int_equal(scan(&d, out, PART_MAX, NULL), -KEINVAL);
    free(d.data);
}

/* Builds a GPT whose two headers share one odd layout; returns the scan result. */
static int scan_with_layout(struct gpt_layout l, uint64_t sectors) {
    struct disk d = disk_new(512, sectors);
    gpt_protective_mbr(&d);
    /* Write the headers directly: the array may be too large to write out. */
    for (int copy = 0; copy < 2; copy++) {
        uint64_t lba = copy ? sectors - 1 : 1;
        uint8_t *h = sec(&d, lba);
        memcpy(h, "EFI PART", 8);
        put32(h + 8, l.revision);
        put32(h + 12, l.header_size);
        put64(h + 24, lba);
        put64(h + 40, l.first_usable);
        put64(h + 48, l.last_usable);
        put64(h + 72, copy ? sectors - 33 : 2);
        put32(h + 80, l.entry_count);
        put32(h + 84, l.entry_size);
        put32(h + 88, 0);
        gpt_fix_header_crc(&d, lba);
    }
    struct part_entry out[PART_MAX];
    d.reads = 0;
    int r = scan(&d, out, PART_MAX, NULL);
    assert_true(d.reads < 200); /* never walks an absurd array */
    free(d.data);
    return r;
}

static void test_gpt_absurd_header_fields(void **state) {
    (void)state;
    uint64_t n = 20000;
    struct gpt_layout base = {128, 128, 92, 0x00010000, 34, n - 34};
    struct gpt_layout l;
    /* The base layout passes the header checks; its all-zero array does not match the CRC 0
     * stored, so even it ends in -KEINVAL, after reading both arrays once. */
    l = base;                               assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_count = 100000;       assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_count = 0xffffffffu;  assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_count = 0;            assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_size = 64;            assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_size = 130;           assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_size = 0x80000000u;   assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.entry_size = 8192;          assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.header_size = 91;           assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.header_size = 513;          assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.revision = 0x00020000;      assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    /* usable space overlapping the primary header or the entry array, or past the end */
    l = base; l.first_usable = 1;           assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.first_usable = 20;          assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.last_usable = n - 1;        assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.last_usable = UINT64_MAX;   assert_int_equal(scan_with_layout(l, n), -KEINVAL);
    l = base; l.first_usable = 500; l.last_usable = 400; assert_int_equal(scan_with_layout(l, n), -KEINVAL);
}

static void test_gpt_partition_bounds(void **state) {
    (void)state;
    struct part_entry out[PART_MAX];
    struct {
        struct gpt_part p[2];
        int n;
        int want;
    } cases[] = {
        {{{34, 8192, "last ok", 0}}, 1, 1},                     /* ends at last usable */
        {{{34, 8193, "past usable", 0}}, 1, -KEINVAL},
        {{{34, UINT64_MAX, "past end", 0}}, 1, -KEINVAL},
        {{{1, 100, "on the header", 0}}, 1, -KEINVAL},
        {{{10, 100, "on the array", 0}}, 1, -KEINVAL},
        {{{33, 100, "array end", 0}}, 1, -KEINVAL},
        {{{200, 100, "reversed", 0}}, 1, -KEINVAL},
        {{{100, 100, "one", 0}, {100, 100, "same", 0}}, 2, -KEINVAL},
        {{{100, 300, "one", 0}, {300, 400, "overlap", 0}}, 2, -KEINVAL},
        {{{100, 299, "one", 0}, {300, 400, "touching", 0}}, 2, 2},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct disk d = disk_new(512, 8192 + 34);
        struct gpt_layout l = gpt_default_layout(&d);
        gpt_build(&d, &l, cases[i].p, cases[i].n, cases[i].p, cases[i].n);
        int r = scan(&d, out, PART_MAX, NULL);
        if (r != cases[i].want) fail_msg("case %zu (%s): got %d, want %d", i, cases[i].p[0].name, r, cases[i].want);
        free(d.data);
    }
}

static void test_gpt_more_entries_than_max(void **state) {
    (void)state;
    struct disk d = disk_new(512, 8192 + 34);
    struct gpt_layout l = gpt_default_layout(&d);
    struct gpt_part many[40];
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        many[i] = (struct gpt_part){100 + 10 * (uint64_t)i, 109 + 10 * (uint64_t)i, names[i], 0};
    }
    gpt_build(&d, &l, many, 40, many, 40);
    struct part_entry out[PART_MAX];
    assert_int_equal(scan(&d, out, PART_MAX, NULL), PART_MAX);
    assert_string_equal(out[PART_MAX - 1].name, "p15");
    free(d.data);
}

/* ---- tables written by a real tool (util-linux sfdisk), when it is installed ---- */

/* Runs sfdisk with script on a fresh 16 MiB file and loads the result; false without sfdisk. */
static bool sfdisk_image(const char *script, struct disk *d) {
    if (system("command -v sfdisk >/dev/null 2>&1") != 0) return false;
    char path[] = "/tmp/test_partition_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 16 << 20), 0);
    close(fd);
    char script_path[64];
    snprintf(script_path, sizeof script_path, "%s.script", path);
    FILE *sf = fopen(script_path, "w");
    assert_non_null(sf);
    fputs(script, sf);
    fclose(sf);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sfdisk -q %s < %s >/dev/null 2>&1", path, script_path);
    int rc = system(cmd);
    unlink(script_path);
    assert_int_equal(rc, 0);
    *d = disk_new(512, 32768);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(d->data, 512, 32768, f), 32768);
    fclose(f);
    unlink(path);
    return true;
}

static void test_sfdisk_tables(void **state) {
    (void)state;
    struct disk d;
    struct part_entry out[PART_MAX];
    const char *kind;
    if (!sfdisk_image("label: dos\nstart=2048, size=8192, type=c\nstart=10240, size=16384, type=83\n", &d)) {
        skip();
        return;
    }
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 2);
    assert_string_equal(kind, "mbr");
    assert_int_equal(out[0].start, 2048);
    assert_int_equal(out[0].sectors, 8192);
    assert_int_equal(out[0].mbr_type, 0x0c);
    assert_int_equal(out[1].start, 10240);
    assert_int_equal(out[1].sectors, 16384);
    free(d.data);
    assert_true(sfdisk_image("label: gpt\n"
                             "start=2048, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"alpha\"\n"
                             "start=6144, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"beta\"\n"
                             "start=14336, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"gamma\"\n",
                             &d));
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 3);
    assert_string_equal(kind, "gpt");
    assert_int_equal(out[0].start, 2048);
    assert_int_equal(out[0].sectors, 4096);
    assert_string_equal(out[0].name, "alpha");
    assert_int_equal(out[1].start, 6144);
    assert_int_equal(out[1].sectors, 8192);
    assert_string_equal(out[1].name, "beta");
    assert_int_equal(out[2].start, 14336);
    assert_int_equal(out[2].sectors, 2048);
    assert_string_equal(out[2].name, "gamma");
    /* Wipe the primary header the way a broken tool would: the backup sfdisk wrote is used. */
    memset(sec(&d, 1), 0, 512);
    assert_int_equal(scan(&d, out, PART_MAX, &kind), 3);
    assert_string_equal(out[2].name, "gamma");
    free(d.data);
}

/* ---- fuzzing ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static void check_sane(const struct disk *d, const struct part_entry *out, int r, int max) {
    assert_true(r >= 0 || r == -KEINVAL);
    assert_true(r <= max);
    for (int i = 0; i < r; i++) {
        assert_true(out[i].start > 0);
        assert_true(out[i].sectors > 0);
        assert_true(out[i].start + out[i].sectors <= d->sectors);
        assert_true(memchr(out[i].name, 0, sizeof out[i].name) != NULL);
    }
}

/* Mutates a few bytes of the table sectors of a valid image; half of the time the GPT CRCs
 * are recomputed afterwards so the mutation reaches the checks behind them. */
static void fuzz_image(struct disk *pristine, const uint64_t *hot, int nhot, int iterations, bool fix_crcs) {
    struct disk d = disk_new(pristine->sector_size, pristine->sectors);
    struct part_entry out[PART_MAX];
    int accepted = 0, rejected = 0;
    for (int it = 0; it < iterations; it++) {
        memcpy(d.data, pristine->data, pristine->sectors * pristine->sector_size);
        int flips = 1 + (int)(rng() % 8);
        for (int f = 0; f < flips; f++) {
            uint64_t lba = hot[rng() % (uint32_t)nhot];
            uint32_t off = rng() % d.sector_size;
            if (rng() % 4 == 0)
                sec(&d, lba)[off] = (uint8_t)rng();      /* any byte */
            else
                sec(&d, lba)[off] ^= (uint8_t)(1u << (rng() % 8));
        }
        if (fix_crcs && (rng() & 1)) {
            for (int copy = 0; copy < 2; copy++) {
                uint64_t hl = copy ? d.sectors - 1 : 1;
                uint8_t *h = sec(&d, hl);
                uint64_t alba = get_le64(h + 72);
                uint64_t bytes = (uint64_t)get_le32(h + 80) * get_le32(h + 84);
                if (alba < d.sectors && bytes <= (d.sectors - alba) * d.sector_size)
                    put32(h + 88, ref_crc32(sec(&d, alba), bytes));
                gpt_fix_header_crc(&d, hl);
            }
        }
        int max = 1 + (int)(rng() % PART_MAX);
        const char *kind = NULL;
        int r = scan(&d, out, max, &kind);
        check_sane(&d, out, r, max);
        assert_non_null(kind);
        if (r >= 0) accepted++; else rejected++;
    }
    /* the fuzzer reached both outcomes */
    assert_true(accepted > 0);
    assert_true(rejected > 0);
    free(d.data);
}

static void test_fuzz_gpt(void **state) {
    (void)state;
    struct disk d = disk_new(512, 512);
    struct gpt_layout l = gpt_default_layout(&d);
    struct gpt_part parts[] = {{34, 99, "alpha", 0}, {100, 299, "beta", 0}, {300, l.last_usable, "gamma", 0}};
    gpt_build(&d, &l, parts, 3, parts, 3);
    uint64_t a = d.sectors - 1 - gpt_array_sectors(&d, &l);
    uint64_t hot[] = {0, 1, 1, 1, 2, 2, 3, d.sectors - 1, d.sectors - 1, a, a + 1};
    fuzz_image(&d, hot, (int)ARRAY_SIZE(hot), 6000, true);
    free(d.data);
}

static void test_fuzz_mbr(void **state) {
    (void)state;
    struct disk d = disk_new(512, 512);
    mbr_set(sec(&d, 0), 0, 0x80, 0x0c, 8, 100);
    mbr_set(sec(&d, 0), 1, 0, 0x05, 200, 300);
    mbr_set(sec(&d, 0), 2, 0, 0x83, 120, 50);
    mbr_set(sec(&d, 200), 0, 0, 0x83, 1, 40);
    mbr_set(sec(&d, 200), 1, 0, 0x05, 50, 100);
    mbr_set(sec(&d, 250), 0, 0, 0x83, 2, 40);
    mbr_set(sec(&d, 250), 1, 0, 0x05, 100, 100);
    mbr_set(sec(&d, 300), 0, 0, 0x83, 2, 40);
    uint64_t hot[] = {0, 0, 0, 200, 250, 300};
    fuzz_image(&d, hot, (int)ARRAY_SIZE(hot), 6000, false);
    free(d.data);
}

/* Completely random sectors 0 and 1 (with the MBR signature half of the time). */
static void test_fuzz_random_sectors(void **state) {
    (void)state;
    struct disk d = disk_new(512, 64);
    struct part_entry out[PART_MAX];
    for (int it = 0; it < 3000; it++) {
        for (uint64_t i = 0; i < 3 * 512; i++) d.data[i] = (uint8_t)rng();
        if (rng() & 1) {
            d.data[510] = 0x55;
            d.data[511] = 0xaa;
            if (rng() & 1) d.data[446 + 4] = 0xee;
            if (rng() & 1) memcpy(d.data + 512, "EFI PART", 8);
        }
        int r = scan(&d, out, PART_MAX, NULL);
        check_sane(&d, out, r, PART_MAX);
    }
    free(d.data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_vectors),
        cmocka_unit_test(test_crc32_matches_bitwise_reference),
        cmocka_unit_test(test_no_signature_is_no_table),
        cmocka_unit_test(test_empty_mbr_has_no_partitions),
        cmocka_unit_test(test_fat_boot_sector_is_not_a_table),
        cmocka_unit_test(test_mbr_three_primaries),
        cmocka_unit_test(test_mbr_extended_with_logicals),
        cmocka_unit_test(test_mbr_ebr_loop_is_rejected),
        cmocka_unit_test(test_mbr_logical_outside_extended_is_rejected),
        cmocka_unit_test(test_mbr_hostile_bounds),
        cmocka_unit_test(test_read_error_and_max),
        cmocka_unit_test(test_gpt_valid),
        cmocka_unit_test(test_gpt_4k_sectors_and_odd_entry_size),
        cmocka_unit_test(test_gpt_names),
        cmocka_unit_test(test_gpt_bad_header_crc_uses_backup),
        cmocka_unit_test(test_gpt_bad_signature),
        cmocka_unit_test(test_gpt_bad_entry_array_crc),
        cmocka_unit_test(test_gpt_wrong_my_lba),
        cmocka_unit_test(test_gpt_absurd_header_fields),
        cmocka_unit_test(test_gpt_partition_bounds),
        cmocka_unit_test(test_gpt_more_entries_than_max),
        cmocka_unit_test(test_sfdisk_tables),
        cmocka_unit_test(test_fuzz_gpt),
        cmocka_unit_test(test_fuzz_mbr),
        cmocka_unit_test(test_fuzz_random_sectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
