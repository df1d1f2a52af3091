/* partition.c: MBR and GPT partition tables, and the CRC-32 they use.
 *
 * Follows the UEFI Specification 2.10:
 * - §5.2.1 Legacy MBR: signature 0x55 0xAA at byte 510 of LBA 0, four 16-byte partition
 *   records at byte 446 (boot indicator, CHS start, OS type, CHS end, StartingLBA, SizeInLBA);
 *   a record with OS type 0 is unused. Extended partitions (types 0x05, 0x0F, 0x85) hold a
 *   chain of extended boot records (EBRs, the same layout: record 0 is a logical partition
 *   relative to the EBR, record 1 the next EBR relative to the extended partition); the chain
 *   is walked with a bound and each EBR must lie after the previous one, so it always ends.
 * - §5.2.3 Protective MBR: a record of type 0xEE means the disk is GPT-partitioned.
 * - §5.3.2 GPT header (LBA 1, backup at the last LBA) and §5.3.3 partition entries: header
 *   signature "EFI PART", revision 1.x, header size 92..sector size, header CRC32 computed with
 *   its own field zeroed, MyLBA, the usable LBA range, the entry array (LBA, count, entry size,
 *   CRC32). An entry with an all-zero type GUID is unused; names are UTF-16LE.
 *   When the primary header or its entry array is invalid, the backup is used.
 *
 * Pure code: every sector comes through the caller's read_sector callback, so the host tests
 * (tests/host/test_partition.c) run it on synthetic and fuzzed images under ASan. */
#include "types.h"
#include "block.h"
#include "kerrno.h"
#include "kstring.h"
#include "printk.h"
#ifdef HOST_TEST
#include <stdlib.h>
#define part_alloc(n) malloc(n)
#define part_free(p) free(p)
#else
#include "mm.h"
#define part_alloc(n) kmalloc(n)
#define part_free(p) kfree(p)
#endif

#define MBR_SIGNATURE_OFFSET 510
#define MBR_RECORDS_OFFSET 446
#define MBR_TYPE_GPT_PROTECTIVE 0xee
#define EBR_CHAIN_MAX 128        /* logical partitions walked at most */

#define GPT_HEADER_MIN_SIZE 92
#define GPT_ENTRIES_MAX 1024     /* entries in an array we accept */
#define GPT_ENTRY_MIN_SIZE 128
#define GPT_ENTRY_MAX_SIZE 4096
#define GPT_NAME_UNITS 36        /* UTF-16 code units in an entry's name */

/* ---- CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) ---- */

static uint32_t crc32_table[256];
static volatile bool crc32_table_ready;

static void crc32_build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; bit++) c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc32_table[i] = c;
    }
    /* Two CPUs racing here write identical values; the flag only saves the work. */
    __atomic_store_n(&crc32_table_ready, true, __ATOMIC_RELEASE);
}

/* CRC-32 as used by GPT, Ethernet and zlib: crc32_ieee(data, len, 0) is the checksum of
 * data, and crc32_ieee(b, lb, crc32_ieee(a, la, 0)) continues it over a then b. */
uint32_t crc32_ieee(const void *data, size_t len, uint32_t crc) {
    if (!__atomic_load_n(&crc32_table_ready, __ATOMIC_ACQUIRE)) crc32_build_table();
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = crc32_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian field access ---- */

static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }

/* State of one scan: the caller's reader, the disk, the output and one sector buffer. */
struct part_scan_state {
    int (*read_sector)(void *ctx, uint64_t lba, void *buf);
    void *ctx;
    uint32_t sector_size;
    uint64_t disk_sectors;
    struct part_entry *out;
    int max;
    int count;      /* entries stored in out */
    int dropped;    /* valid partitions beyond max */
    uint8_t *sector;
};

static int read_lba(struct part_scan_state *s, uint64_t lba) {
    if (lba >= s->disk_sectors) return -KEINVAL;
    int r = s->read_sector(s->ctx, lba, s->sector);
    return r < 0 ? r : 0;
}

static void add_partition(struct part_scan_state *s, uint64_t start, uint64_t sectors, uint8_t mbr_type,
                          const char *name) {
    if (s->count >= s->max) {
        s->dropped++;
        return;
    }
    struct part_entry *e = &s->out[s->count++];
    memset(e, 0, sizeof *e);
    e->start = start;
    e->sectors = sectors;
    e->mbr_type = mbr_type;
    if (name) memcpy(e->name, name, strnlen(name, sizeof e->name - 1));
}

/* True when [a, a+an) and [b, b+bn) share a sector. */
static bool ranges_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
    return a < b + bn && b < a + an;
}

/* -KEINVAL when two stored partitions overlap. */
static int check_no_overlap(const struct part_scan_state *s) {
    for (int i = 0; i < s->count; i++)
        for (int j = i + 1; j < s->count; j++)
            if (ranges_overlap(s->out[i].start, s->out[i].sectors, s->out[j].start, s->out[j].sectors)) {
                printk(LOG_WARN, "partition: partitions %d and %d overlap\n", i + 1, j + 1);
                return -KEINVAL;
            }
    return 0;
}

/* ---- MBR (§5.2.1) ---- */

struct mbr_record {
    uint8_t boot_indicator;
    uint8_t type;
    uint32_t start, sectors;
};

static void mbr_records(const uint8_t *sector, struct mbr_record rec[4]) {
    for (int i = 0; i < 4; i++) {
        const uint8_t *r = sector + MBR_RECORDS_OFFSET + 16 * i;
        rec[i].boot_indicator = r[0];
        rec[i].type = r[4];
        rec[i].start = get_le32(r + 8);
        rec[i].sectors = get_le32(r + 12);
    }
}

static bool mbr_signature_ok(const uint8_t *sector) {
    return sector[MBR_SIGNATURE_OFFSET] == 0x55 && sector[MBR_SIGNATURE_OFFSET + 1] == 0xaa;
}

static bool mbr_is_extended(uint8_t type) { return type == 0x05 || type == 0x0f || type == 0x85; }

static bool mbr_record_used(const struct mbr_record *r) { return r->type != 0 && r->sectors != 0; }

/* Walks the EBR chain of the extended partition [ext_start, ext_start + ext_sectors) and adds
 * its logical partitions. Each logical partition must lie after its EBR and before the next
 * EBR (so no partition covers a table sector) and inside the extended partition. */
static int mbr_walk_extended(struct part_scan_state *s, uint64_t ext_start, uint64_t ext_sectors) {
    uint64_t ext_end = ext_start + ext_sectors;
    uint64_t ebr = ext_start;
    for (int hops = 0; hops < EBR_CHAIN_MAX; hops++) {
        int r = read_lba(s, ebr);
        if (r < 0) return r;
        if (!mbr_signature_ok(s->sector)) {
            printk(LOG_WARN, "partition: extended boot record at LBA %lu has no 0x55AA signature\n",
                   (unsigned long)ebr);
            return -KEINVAL;
        }
        struct mbr_record rec[4];
        mbr_records(s->sector, rec);
        uint64_t next_ebr = 0;
        if (mbr_record_used(&rec[1])) {
            if (!mbr_is_extended(rec[1].type)) return -KEINVAL;
            next_ebr = ext_start + rec[1].start;
            if (next_ebr <= ebr || next_ebr >= ext_end) {
                printk(LOG_WARN, "partition: extended boot record chain goes backwards or outside\n");
                return -KEINVAL;
            }
        }
        if (mbr_record_used(&rec[0])) {
            uint64_t start = ebr + rec[0].start;
            uint64_t end = start + rec[0].sectors;
            uint64_t limit = next_ebr ? next_ebr : ext_end;
            if (rec[0].start == 0 || end > limit) {
                printk(LOG_WARN, "partition: logical partition at LBA %lu (%lu sectors) is outside its extended partition\n",
                       (unsigned long)start, (unsigned long)rec[0].sectors);
                return -KEINVAL;
            }
            add_partition(s, start, rec[0].sectors, rec[0].type, NULL);
        }
        if (!next_ebr) return 0;
        ebr = next_ebr;
    }
    printk(LOG_WARN, "partition: more than %d logical partitions, ignoring the rest\n", EBR_CHAIN_MAX);
    return 0;
}

/* Parses the MBR already in s->sector. Returns the number of partitions or -errno. */
static int mbr_parse(struct part_scan_state *s) {
    struct mbr_record rec[4];
    mbr_records(s->sector, rec);
    /* Boot indicators other than 0x00/0x80 mean boot code or a file system's boot sector
     * (a FAT "superfloppy"), not a partition table. */
    for (int i = 0; i < 4; i++)
        if (rec[i].boot_indicator != 0x00 && rec[i].boot_indicator != 0x80) return 0;

    int primaries = 0;
    for (int i = 0; i < 4; i++) {
        if (!mbr_record_used(&rec[i])) continue;
        uint64_t end = (uint64_t)rec[i].start + rec[i].sectors;
        if (rec[i].start == 0 || end > s->disk_sectors) {
            printk(LOG_WARN, "partition: MBR partition %d (LBA %u, %u sectors) lies outside the disk (%lu sectors)\n",
                   i + 1, rec[i].start, rec[i].sectors, (unsigned long)s->disk_sectors);
            return -KEINVAL;
        }
        /* The primaries (extended containers included) must not overlap one another. */
        for (int j = 0; j < i; j++)
            if (mbr_record_used(&rec[j]) &&
                ranges_overlap(rec[i].start, rec[i].sectors, rec[j].start, rec[j].sectors)) {
                printk(LOG_WARN, "partition: MBR partitions %d and %d overlap\n", j + 1, i + 1);
                return -KEINVAL;
            }
        primaries++;
    }
    if (primaries == 0) return 0;
    for (int i = 0; i < 4; i++)
        if (mbr_record_used(&rec[i]) && !mbr_is_extended(rec[i].type))
            add_partition(s, rec[i].start, rec[i].sectors, rec[i].type, NULL);
    /* Logical partitions come after the primaries, in chain order. */
    for (int i = 0; i < 4; i++) {
        if (!mbr_record_used(&rec[i]) || !mbr_is_extended(rec[i].type)) continue;
        int r = mbr_walk_extended(s, rec[i].start, rec[i].sectors);
        if (r < 0) return r;
    }
    return s->count;
}

/* ---- GPT (§5.3) ---- */

struct gpt_header {
    uint64_t my_lba, first_usable, last_usable, entries_lba;
    uint32_t entry_count, entry_size, entries_crc;
};

/* Reads and checks the header at lba (1 for the primary, the last LBA for the backup). */
static int gpt_read_header(struct part_scan_state *s, uint64_t lba, struct gpt_header *h) {
    int r = read_lba(s, lba);
    if (r < 0) return r;
    uint8_t *p = s->sector;
    if (memcmp(p, "EFI PART", 8) != 0) return -KEINVAL;
    uint32_t revision = get_le32(p + 8);
    uint32_t header_size = get_le32(p + 12);
    if (revision >> 16 != 1) return -KEINVAL;
    if (header_size < GPT_HEADER_MIN_SIZE || header_size > s->sector_size) return -KEINVAL;
    uint32_t stored_crc = get_le32(p + 16);
    memset(p + 16, 0, 4);
    if (crc32_ieee(p, header_size, 0) != stored_crc) return -KEINVAL;
    h->my_lba = get_le64(p + 24);
    h->first_usable = get_le64(p + 40);
    h->last_usable = get_le64(p + 48);
    h->entries_lba = get_le64(p + 72);
    h->entry_count = get_le32(p + 80);
    h->entry_size = get_le32(p + 84);
    h->entries_crc = get_le32(p + 88);
    if (h->my_lba != lba) return -KEINVAL;
    /* Usable space: after the MBR and the primary header, before the backup header. */
    if (h->first_usable < 2 || h->first_usable > h->last_usable || h->last_usable >= s->disk_sectors - 1)
        return -KEINVAL;
    if (h->entry_count == 0 || h->entry_count > GPT_ENTRIES_MAX) return -KEINVAL;
    if (h->entry_size < GPT_ENTRY_MIN_SIZE || h->entry_size > GPT_ENTRY_MAX_SIZE || h->entry_size % 8)
        return -KEINVAL;
    /* The entry array: inside the disk, clear of LBA 0-1 and the backup header, and outside
     * the usable space. */
    uint64_t array_bytes = (uint64_t)h->entry_count * h->entry_size;
    uint64_t array_sectors = (array_bytes + s->sector_size - 1) / s->sector_size;
    if (h->entries_lba < 2 || h->entries_lba > s->disk_sectors - 1 ||
        array_sectors > s->disk_sectors - 1 - h->entries_lba)
        return -KEINVAL;
    if (ranges_overlap(h->entries_lba, array_sectors, h->first_usable, h->last_usable - h->first_usable + 1))
        return -KEINVAL;
    if (ranges_overlap(h->entries_lba, array_sectors, lba, 1)) return -KEINVAL;
    return 0;
}

/* Converts a UTF-16LE name to ASCII ('?' for anything else, a surrogate pair as one '?'). */
static void gpt_name_to_ascii(const uint8_t *utf16, char *out, size_t out_size) {
    size_t n = 0;
    for (int i = 0; i < GPT_NAME_UNITS && n + 1 < out_size; i++) {
        uint16_t unit = (uint16_t)(utf16[2 * i] | utf16[2 * i + 1] << 8);
        if (unit == 0) break;
        if (unit >= 0xdc00 && unit <= 0xdfff && i > 0) {
            uint16_t prev = (uint16_t)(utf16[2 * i - 2] | utf16[2 * i - 1] << 8);
            if (prev >= 0xd800 && prev <= 0xdbff) continue; /* second half of a pair */
        }
        out[n++] = (unit >= 0x20 && unit < 0x7f) ? (char)unit : '?';
    }
    out[n] = 0;
}

/* One entry's first 128 bytes (§5.3.3): type GUID, unique GUID, first LBA, last LBA
 * (inclusive), attributes, name. Adds it when used; -KEINVAL when it lies outside the usable
 * space (first/last are returned for the message). */
static int gpt_entry(struct part_scan_state *s, const struct gpt_header *h, const uint8_t *e, uint64_t *first_out,
                     uint64_t *last_out) {
    static const uint8_t zero_guid[16];
    if (memcmp(e, zero_guid, 16) == 0) return 0;
    uint64_t first = get_le64(e + 32), last = get_le64(e + 40);
    *first_out = first;
    *last_out = last;
    if (first < h->first_usable || last > h->last_usable || first > last) return -KEINVAL;
    char name[sizeof(((struct part_entry *)0)->name)];
    gpt_name_to_ascii(e + 56, name, sizeof name);
    add_partition(s, first, last - first + 1, 0, name);
    return 0;
}

/* Reads the entry array of a checked header in one pass: the CRC over every byte, and each
 * entry's first 128 bytes (entries may straddle sectors when the size is not a power of two).
 * The partitions are kept only when the CRC matches. Returns the count or -errno (-KEINVAL
 * for a CRC mismatch); *entry_outside is set when the CRC holds but an entry lies outside
 * the usable space. */
static int gpt_read_entries(struct part_scan_state *s, const struct gpt_header *h, bool *entry_outside) {
    uint8_t entry[GPT_ENTRY_MIN_SIZE];
    uint64_t total = (uint64_t)h->entry_count * h->entry_size;
    uint64_t done = 0;
    uint32_t crc = 0, index = 0, in_entry = 0, bad_index = 0;
    uint64_t bad_first = 0, bad_last = 0;
    bool bad = false;
    *entry_outside = false;
    s->count = s->dropped = 0;
    for (uint64_t lba = h->entries_lba; done < total; lba++) {
        int r = read_lba(s, lba);
        if (r < 0) return r;
        uint32_t chunk = (uint32_t)MIN((uint64_t)s->sector_size, total - done);
        crc = crc32_ieee(s->sector, chunk, crc);
        for (uint32_t off = 0; off < chunk;) {
            uint32_t take = MIN(chunk - off, h->entry_size - in_entry);
            if (in_entry < GPT_ENTRY_MIN_SIZE) {
                uint32_t copy = MIN(take, GPT_ENTRY_MIN_SIZE - in_entry);
                memcpy(entry + in_entry, s->sector + off, copy);
            }
            in_entry += take;
            off += take;
            if (in_entry == h->entry_size) {
                if (!bad && gpt_entry(s, h, entry, &bad_first, &bad_last) < 0) {
                    bad = true;
                    bad_index = index;
                }
                in_entry = 0;
                index++;
            }
        }
        done += chunk;
    }
    if (crc != h->entries_crc) {
        s->count = s->dropped = 0;
        return -KEINVAL;
    }
    *entry_outside = bad;
    if (bad)
        printk(LOG_WARN, "partition: GPT entry %u (LBA %lu-%lu) lies outside the usable space %lu-%lu\n",
               bad_index, (unsigned long)bad_first, (unsigned long)bad_last, (unsigned long)h->first_usable,
               (unsigned long)h->last_usable);
    return s->count;
}

/* Tries the primary GPT, then the backup. A table whose checksums hold but whose partitions
 * lie outside the usable space or overlap is rejected outright: the checksums say it is what
 * was written, so the backup would hold the same mistake. Overlap is checked among the
 * partitions reported (at most max); every used entry is checked against the usable space. */
static int gpt_parse(struct part_scan_state *s) {
    uint64_t locations[2] = {1, s->disk_sectors - 1};
    int first_error = 0;
    for (int copy = 0; copy < 2; copy++) {
        struct gpt_header h;
        int r = gpt_read_header(s, locations[copy], &h);
        if (r == 0) {
            bool entry_outside;
            r = gpt_read_entries(s, &h, &entry_outside);
            if (r >= 0 && entry_outside) {
                s->count = 0;
                return -KEINVAL;
            }
        }
        if (r >= 0) {
            if (check_no_overlap(s) < 0) {
                s->count = 0;
                return -KEINVAL;
            }
            if (copy == 1) printk(LOG_WARN, "partition: primary GPT is corrupt, using the backup at LBA %lu\n",
                                  (unsigned long)locations[1]);
            return s->count;
        }
        if (!first_error) first_error = r;
    }
    printk(LOG_WARN, "partition: protective MBR but no valid GPT header\n");
    return first_error;
}

/* ---- entry point ---- */

/* Reads the partition table of a disk through read_sector (see block.h). */
int part_scan(int (*read_sector)(void *ctx, uint64_t lba, void *buf), void *ctx, uint32_t sector_size,
              uint64_t disk_sectors, struct part_entry *out, int max, const char **kind_out) {
    if (kind_out) *kind_out = "none";
    if (!read_sector || !out || max < 0) return -KEINVAL;
    if (sector_size < 512 || sector_size > 65536 || (sector_size & (sector_size - 1))) return -KEINVAL;
    if (disk_sectors < 2) return 0;
    struct part_scan_state s = {read_sector, ctx, sector_size, disk_sectors, out, max, 0, 0, NULL};
    s.sector = part_alloc(sector_size);
    if (!s.sector) return -KENOMEM;
    int r = read_lba(&s, 0);
    if (r < 0 || !mbr_signature_ok(s.sector)) goto done;

    struct mbr_record rec[4];
    mbr_records(s.sector, rec);
    bool protective = false;
    for (int i = 0; i < 4; i++)
        if (rec[i].type == MBR_TYPE_GPT_PROTECTIVE && rec[i].sectors != 0) protective = true;
    if (protective) {
        r = gpt_parse(&s);
        if (r >= 0 && kind_out) *kind_out = "gpt";
    } else {
        r = mbr_parse(&s);
        if (r > 0 && kind_out) *kind_out = "mbr";
        if (r > 0) r = check_no_overlap(&s) < 0 ? -KEINVAL : s.count;
    }
    if (r >= 0 && s.dropped)
        printk(LOG_WARN, "partition: %d partitions beyond the first %d are ignored\n", s.dropped, max);
done:
    part_free(s.sector);
    if (r < 0 && kind_out) *kind_out = "none";
    return r;
}
