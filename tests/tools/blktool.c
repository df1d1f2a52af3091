/* blktool.c: host side of the storage tests (docs/storage.md).
 *
 *   blktool fill IMAGE          writes the test region into the last 8 MiB of a disk image:
 *                               a header sector "SABOSBLK", data_sectors (LE32 = 512),
 *                               crc32 (LE32, IEEE, over the data), then 256 KiB of data
 *   blktool check IMAGE SEED    checks that the scratch region (the last 4 MiB) holds exactly
 *                               the bytes the guest's blk_persist self-test wrote with SEED
 *
 * The byte streams come from xorshift32; kernel/block/blk_pattern.h has the same generator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "blk_pattern.h"

#define SECTOR 512u
#define REGION (8u << 20)
#define SCRATCH (4u << 20)

static uint32_t crc32_bytes(const uint8_t *p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static long image_size(FILE *f) {
    if (fseek(f, 0, SEEK_END) != 0) return -1;
    return ftell(f);
}

static int fill(const char *path) {
    FILE *f = fopen(path, "r+b");
    if (!f) { perror(path); return 1; }
    long size = image_size(f);
    if (size < (long)REGION || size % SECTOR) { fprintf(stderr, "%s: image too small\n", path); return 1; }
    static uint8_t data[BLK_TEST_DATA_SECTORS * SECTOR];
    blk_pattern_fill(data, sizeof(data), BLK_TEST_DATA_SEED, 0);
    uint8_t header[SECTOR] = "SABOSBLK";
    uint32_t sectors = BLK_TEST_DATA_SECTORS, crc = crc32_bytes(data, sizeof(data));
    memcpy(header + 8, &sectors, 4); /* little-endian host */
    memcpy(header + 12, &crc, 4);
    if (fseek(f, size - REGION, SEEK_SET) != 0 || fwrite(header, 1, SECTOR, f) != SECTOR ||
        fwrite(data, 1, sizeof(data), f) != sizeof(data)) {
        perror(path);
        return 1;
    }
    fclose(f);
    printf("%s: test region at sector %ld, crc32 %08x\n", path, (size - REGION) / SECTOR, crc);
    return 0;
}

static int check(const char *path, uint32_t seed) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    long size = image_size(f);
    static uint8_t got[SCRATCH], want[SCRATCH];
    if (size < (long)SCRATCH || fseek(f, size - SCRATCH, SEEK_SET) != 0 || fread(got, 1, SCRATCH, f) != SCRATCH) {
        fprintf(stderr, "%s: cannot read the scratch region\n", path);
        return 1;
    }
    fclose(f);
    blk_pattern_fill(want, SCRATCH, seed, 0);
    for (size_t i = 0; i < SCRATCH; i++) {
        if (got[i] != want[i]) {
            fprintf(stderr, "%s: scratch byte %zu (sector %ld) is %02x, the guest wrote %02x\n", path, i,
                    (size - SCRATCH + (long)i) / SECTOR, got[i], want[i]);
            return 1;
        }
    }
    printf("%s: all %u scratch bytes are the guest's\n", path, SCRATCH);
    return 0;
}

/* Writes bytes [0, len) of the stream with seed to stdout (raw bytes), for host-side checks
 * of files the guest wrote. */
static int pattern(uint32_t seed, unsigned long len) {
    uint8_t buf[4096];
    for (unsigned long done = 0; done < len;) {
        size_t piece = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
        blk_pattern_fill(buf, piece, seed, done);
        if (fwrite(buf, 1, piece, stdout) != piece) return 1;
        done += piece;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "fill") == 0) return fill(argv[2]);
    if (argc == 4 && strcmp(argv[1], "check") == 0) return check(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
    if (argc == 4 && strcmp(argv[1], "pattern") == 0)
        return pattern((uint32_t)strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
    fprintf(stderr, "usage: blktool fill IMAGE | blktool check IMAGE SEED | blktool pattern SEED LEN\n");
    return 2;
}
