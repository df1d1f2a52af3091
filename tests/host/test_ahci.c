/* test_ahci.c: host unit tests for kernel/drivers/ahci/ahci_util.c, the pure parts of the
 * AHCI driver: IDENTIFY DEVICE parsing (ATA8-ACS §7.16.7: 48-bit capacity in words 100-103
 * with the 28-bit fallback in words 60-61, byte-swapped strings, sector sizes in words 106
 * and 117-118, the integrity word 255), PRDT building (AHCI 1.3.1 §4.2.3.3: at most 4 MiB
 * per entry, byte count minus one, the I bit on the last entry), the Register H2D FIS
 * layout (§4.2.3.1 / SATA 3.x §10.5.6), task-file status/error messages (ACS §6.2, §6.3),
 * signature and PxSSTS names (§3.3.9, §3.3.10), error attribution (§6.2.2.1), and the
 * ATAPI probe's pieces: the PACKET FIS, SCSI sense data (SPC-4 fixed and descriptor
 * formats), the TEST UNIT READY verdict and READ CAPACITY(10) data (big-endian last LBA and
 * block length), including truncated and hostile data. IDENTIFY data is built word by word
 * here, including hostile data (random words, bad checksums, impossible sector sizes and
 * capacities). */
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/lib/printf.c"
#include "../../kernel/drivers/ahci/ahci_util.c"

uint64_t host_direct_map_offset;

/* ---- IDENTIFY data builders ---- */

/* Stores an ATA string: two characters per word, the first in the high byte, space-padded. */
static void put_string(uint16_t *w, unsigned nwords, const char *s) {
    size_t len = strlen(s);
    for (unsigned i = 0; i < nwords; i++) {
        unsigned char a = 2 * i < len ? (unsigned char)s[2 * i] : ' ';
        unsigned char b = 2 * i + 1 < len ? (unsigned char)s[2 * i + 1] : ' ';
        w[i] = (uint16_t)(a << 8 | b);
    }
}

/* A plausible 48-bit disk: LBA and DMA, command sets valid, given capacity. */
static void make_disk(uint16_t *w, uint64_t sectors48, uint32_t sectors28) {
    memset(w, 0, 512);
    w[0] = 0x0040; /* fixed device, ATA */
    put_string(&w[10], 10, "     SN-1234");
    put_string(&w[23], 4, "FW1.0");
    put_string(&w[27], 20, "SABOS TEST DISK");
    w[49] = (1u << 9) | (1u << 8);
    w[60] = (uint16_t)sectors28;
    w[61] = (uint16_t)(sectors28 >> 16);
    w[83] = 0x4000 | (1u << 10) | (1u << 13);
    w[86] = (1u << 10) | (1u << 13);
    w[87] = 0x4000;
    w[85] = 1u << 5;
    w[100] = (uint16_t)sectors48;
    w[101] = (uint16_t)(sectors48 >> 16);
    w[102] = (uint16_t)(sectors48 >> 32);
    w[103] = (uint16_t)(sectors48 >> 48);
}

/* Sets word 255 to signature 0xA5 and the checksum that makes all 512 bytes sum to 0. */
static void seal(uint16_t *w) {
    uint8_t sum = 0xa5;
    for (int i = 0; i < 255; i++) sum = (uint8_t)(sum + (w[i] & 0xff) + (w[i] >> 8));
    w[255] = (uint16_t)((uint8_t)(0 - sum) << 8 | 0xa5);
}

static void test_identify_lba48_capacity(void **state) {
    (void)state;
    uint16_t w[256];
    make_disk(w, 0x123456789abull, 0x0fffffff);
    struct ata_identity id;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_true(id.lba48);
    assert_true(id.dma);
    assert_true(id.flush_ext);
    assert_true(id.write_cache);
    assert_int_equal(id.sectors, 0x123456789abull);
    assert_int_equal(id.sector_size, 512);
    assert_int_equal(id.physical_sector_size, 512);
}

static void test_identify_28bit_fallback(void **state) {
    (void)state;
    uint16_t w[256];
    struct ata_identity id;
    /* No 48-bit feature set: words 60-61, even if 100-103 hold something. */
    make_disk(w, 999999, 131072);
    w[83] = 0x4000;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_false(id.lba48);
    assert_false(id.flush_ext);
    assert_int_equal(id.sectors, 131072);
    /* 48-bit supported but words 100-103 zero: fall back to words 60-61. */
    make_disk(w, 0, 40000);
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_true(id.lba48);
    assert_int_equal(id.sectors, 40000);
    /* Word 83 not valid (bits 15:14 != 01): its feature bits are not believed. */
    make_disk(w, 1ull << 33, 5000);
    w[83] = 0xffff;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_false(id.lba48);
    assert_int_equal(id.sectors, 5000);
}

static void test_identify_strings(void **state) {
    (void)state;
    uint16_t w[256];
    make_disk(w, 1000, 1000);
    struct ata_identity id;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_string_equal(id.model, "SABOS TEST DISK");
    assert_string_equal(id.serial, "SN-1234"); /* leading spaces trimmed too */
    assert_string_equal(id.firmware, "FW1.0");
    /* QEMU's model, as its words really are: "QE" = 0x5145. */
    put_string(&w[27], 20, "QEMU HARDDISK");
    assert_int_equal(w[27], 0x5145);
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_string_equal(id.model, "QEMU HARDDISK");
    /* A full 40-character model keeps every character. */
    put_string(&w[27], 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd");
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_string_equal(id.model, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd");
}

static void test_string_edges(void **state) {
    (void)state;
    uint16_t words[4] = {0x4142, 0x0143, 0x7f00, 0x2020}; /* "AB", "\1C", "\x7f\0", "  " */
    char out[16];
    ata_copy_string(words, 4, out, sizeof(out));
    assert_string_equal(out, "AB?C?");
    /* Truncation: a 4-byte buffer holds 3 characters. */
    char small[4];
    ata_copy_string(words, 4, small, sizeof(small));
    assert_string_equal(small, "AB?");
    /* All spaces or NULs: empty. */
    uint16_t blank[3] = {0x2020, 0x0000, 0x2000};
    ata_copy_string(blank, 3, out, sizeof(out));
    assert_string_equal(out, "");
    char one[1] = {'x'};
    ata_copy_string(words, 4, one, 1);
    assert_int_equal(one[0], '\0');
    ata_copy_string(words, 4, NULL, 0); /* nothing to write to: no crash */
}

static void test_identify_sector_sizes(void **state) {
    (void)state;
    uint16_t w[256];
    struct ata_identity id;
    /* 4Kn: logical sector of 2048 words, 8 logical per physical. */
    make_disk(w, 1 << 20, 0);
    w[106] = 0x4000 | (1u << 12) | (1u << 13) | 3;
    w[117] = 2048;
    w[118] = 0;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_int_equal(id.sector_size, 4096);
    assert_int_equal(id.physical_sector_size, 32768);
    /* 512e: 512-byte logical, 4096-byte physical. */
    make_disk(w, 1 << 20, 0);
    w[106] = 0x4000 | (1u << 13) | 3;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_int_equal(id.sector_size, 512);
    assert_int_equal(id.physical_sector_size, 4096);
    /* Word 106 not valid: 512 whatever words 117-118 say. */
    make_disk(w, 1 << 20, 0);
    w[106] = 0xffff;
    w[117] = 4096;
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_int_equal(id.sector_size, 512);
    /* Impossible sizes: 600 bytes, 256 bytes, 2^17 bytes, 2^40 logical per physical. */
    uint32_t bad_words[] = {300, 128, 65536};
    for (size_t i = 0; i < ARRAY_SIZE(bad_words); i++) {
        make_disk(w, 1 << 20, 0);
        w[106] = 0x4000 | (1u << 12);
        w[117] = (uint16_t)bad_words[i];
        w[118] = (uint16_t)(bad_words[i] >> 16);
        assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
    }
    make_disk(w, 1 << 20, 0);
    w[106] = 0x4000 | (1u << 13) | 15;
    assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
}

static void test_identify_rejects(void **state) {
    (void)state;
    uint16_t w[256];
    struct ata_identity id;
    make_disk(w, 1000, 1000);
    w[0] |= 0x8000; /* an ATAPI device's IDENTIFY PACKET DEVICE data */
    assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
    make_disk(w, 1000, 1000);
    w[49] &= (uint16_t)~(1u << 9); /* CHS only */
    assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
    make_disk(w, 0, 0); /* no capacity at all */
    assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
    make_disk(w, (1ull << 48) + 1, 1000); /* beyond what 48-bit LBA addresses */
    assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
    make_disk(w, 1ull << 48, 1000); /* exactly the maximum is fine */
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_int_equal(ata_parse_identify(NULL, &id), -KEINVAL);
    assert_int_equal(ata_parse_identify(w, NULL), -KEINVAL);
}

static void test_identify_checksum(void **state) {
    (void)state;
    uint16_t w[256];
    struct ata_identity id;
    make_disk(w, 77777, 1000);
    seal(w);
    assert_int_equal(ata_parse_identify(w, &id), 0);
    assert_int_equal(id.sectors, 77777);
    w[100] ^= 1; /* one bit flipped after sealing */
    assert_int_equal(ata_parse_identify(w, &id), -KEINVAL);
    /* Without the 0xA5 signature the checksum byte is not checked. */
    make_disk(w, 77777, 1000);
    w[255] = 0x1234;
    assert_int_equal(ata_parse_identify(w, &id), 0);
}

/* Random words: the parser returns 0 or -KEINVAL, and whatever it accepts is consistent. */
static void test_identify_random_data(void **state) {
    (void)state;
    uint32_t x = 0x12345678;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        uint16_t w[256];
        for (int i = 0; i < 256; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            w[i] = (uint16_t)x;
        }
        if (round & 1) w[0] &= 0x7fff, w[49] |= 1u << 9; /* get past the first checks often */
        if (round & 2) w[255] = 0;
        struct ata_identity id;
        int r = ata_parse_identify(w, &id);
        assert_true(r == 0 || r == -KEINVAL);
        if (r == 0) {
            assert_true(id.sectors > 0 && id.sectors <= (1ull << 48));
            assert_true(id.sector_size >= 512 && id.sector_size <= 65536);
            assert_int_equal(id.sector_size & (id.sector_size - 1), 0);
            assert_true(id.physical_sector_size >= id.sector_size);
            assert_true(strlen(id.model) <= 40 && strlen(id.serial) <= 20 && strlen(id.firmware) <= 8);
            accepted++;
        }
    }
    assert_true(accepted > 100); /* the acceptance checks above really ran */
}

/* ---- PRDT ---- */

static void test_prdt_single_and_split(void **state) {
    (void)state;
    struct ahci_prd prdt[8];
    struct dma_seg one = {0x100000, 4096};
    assert_int_equal(ahci_build_prdt(&one, 1, prdt, 8, true), 1);
    assert_int_equal(prdt[0].dba, 0x100000);
    assert_int_equal(prdt[0].dbau, 0);
    assert_int_equal(prdt[0].dbc, AHCI_PRD_INTERRUPT | 4095);
    /* 10 MiB: 4 + 4 + 2 MiB, the I bit only on the last. */
    struct dma_seg big = {0x40000000, 10u << 20};
    assert_int_equal(ahci_build_prdt(&big, 1, prdt, 8, true), 3);
    assert_int_equal(prdt[0].dba, 0x40000000);
    assert_int_equal(prdt[0].dbc, 0x3fffff);
    assert_int_equal(prdt[1].dba, 0x40400000);
    assert_int_equal(prdt[1].dbc, 0x3fffff);
    assert_int_equal(prdt[2].dba, 0x40800000);
    assert_int_equal(prdt[2].dbc, AHCI_PRD_INTERRUPT | ((2u << 20) - 1));
    /* Exactly 4 MiB stays one entry. */
    struct dma_seg four = {0x200000, 4u << 20};
    assert_int_equal(ahci_build_prdt(&four, 1, prdt, 8, true), 1);
    assert_int_equal(prdt[0].dbc, AHCI_PRD_INTERRUPT | 0x3fffff);
}

static void test_prdt_many_segments(void **state) {
    (void)state;
    /* A page-crossing buffer at an odd sector offset: a partial first page, whole pages, a
     * partial last page, some of them above 4 GiB. */
    struct dma_seg segs[5] = {
        {0x1234e00, 512}, {0x7000, 4096}, {0x100003000ull, 4096}, {0x5000, 8192}, {0x200000000ull, 3584},
    };
    struct ahci_prd prdt[64];
    memset(prdt, 0xee, sizeof(prdt));
    assert_int_equal(ahci_build_prdt(segs, 5, prdt, 64, true), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(prdt[i].dba, (uint32_t)segs[i].addr);
        assert_int_equal(prdt[i].dbau, (uint32_t)(segs[i].addr >> 32));
        assert_int_equal(prdt[i].reserved, 0);
        assert_int_equal(prdt[i].dbc & 0x3fffff, segs[i].len - 1);
        assert_int_equal(!!(prdt[i].dbc & AHCI_PRD_INTERRUPT), i == 4);
    }
    assert_int_equal((uint32_t)prdt[5].dba, 0xeeeeeeee); /* nothing written past the end */
    /* Exactly max entries fit; one more does not. */
    struct dma_seg pages[65];
    for (int i = 0; i < 65; i++) pages[i] = (struct dma_seg){0x100000 + (uint64_t)i * 0x2000, 4096};
    assert_int_equal(ahci_build_prdt(pages, 64, prdt, 64, true), 64);
    assert_int_equal(ahci_build_prdt(pages, 65, prdt, 64, true), -KEINVAL);
    /* A split that overflows max is refused too. */
    struct dma_seg huge = {0, 9u << 20};
    assert_int_equal(ahci_build_prdt(&huge, 1, prdt, 2, true), -KEINVAL);
}

static void test_prdt_rejects(void **state) {
    (void)state;
    struct ahci_prd prdt[8];
    struct dma_seg odd_len = {0x1000, 511}, odd_addr = {0x1001, 512}, zero = {0x1000, 0};
    struct dma_seg high = {0x100000000ull, 512}, crossing = {0xfffffe00ull, 1024}, below = {0xfffffe00ull, 512};
    struct dma_seg wrap = {UINT64_MAX - 511, 1024};
    assert_int_equal(ahci_build_prdt(&odd_len, 1, prdt, 8, true), -KEINVAL);
    assert_int_equal(ahci_build_prdt(&odd_addr, 1, prdt, 8, true), -KEINVAL);
    assert_int_equal(ahci_build_prdt(&zero, 1, prdt, 8, true), -KEINVAL);
    assert_int_equal(ahci_build_prdt(&wrap, 1, prdt, 8, true), -KEINVAL);
    /* Without CAP.S64A nothing may reach 4 GiB. */
    assert_int_equal(ahci_build_prdt(&high, 1, prdt, 8, false), -KEINVAL);
    assert_int_equal(ahci_build_prdt(&crossing, 1, prdt, 8, false), -KEINVAL);
    assert_int_equal(ahci_build_prdt(&below, 1, prdt, 8, false), 1);
    assert_int_equal(ahci_build_prdt(&high, 1, prdt, 8, true), 1);
    assert_int_equal(ahci_build_prdt(&below, 0, prdt, 8, true), -KEINVAL);
    assert_int_equal(ahci_build_prdt(NULL, 1, prdt, 8, true), -KEINVAL);
    assert_int_equal(ahci_build_prdt(&below, 1, prdt, 0, true), -KEINVAL);
}

static void test_max_sectors(void **state) {
    (void)state;
    assert_int_equal(ahci_max_sectors(512, 64, true), 504); /* 63 pages */
    assert_int_equal(ahci_max_sectors(4096, 64, true), 63);
    assert_int_equal(ahci_max_sectors(512, 64, false), 256); /* 28-bit count limit */
    assert_int_equal(ahci_max_sectors(512, 100000, true), 65536);
    assert_int_equal(ahci_max_sectors(256, 64, true), 0);
    assert_int_equal(ahci_max_sectors(512, 1, true), 0);
}

/* ---- FIS ---- */

static void test_h2d_fis_layout(void **state) {
    (void)state;
    uint8_t fis[24];
    memset(fis, 0xcc, sizeof(fis));
    ahci_fill_h2d_fis(fis, ATA_CMD_READ_DMA_EXT, 0x123456789abcull, 0x1234);
    const uint8_t want[20] = {0x27, 0x80, 0x25, 0, 0xbc, 0x9a, 0x78, 0x40, 0x56, 0x34, 0x12, 0, 0x34, 0x12, 0, 0,
                              0, 0, 0, 0};
    assert_memory_equal(fis, want, 20);
    assert_int_equal(fis[20], 0xcc); /* 20 bytes exactly */
    /* 28-bit READ DMA: LBA 27:24 in the device register's low nibble. */
    ahci_fill_h2d_fis(fis, ATA_CMD_READ_DMA, 0x0abcdef1, 8);
    assert_int_equal(fis[2], 0xc8);
    assert_int_equal(fis[4], 0xf1);
    assert_int_equal(fis[5], 0xde);
    assert_int_equal(fis[6], 0xbc);
    assert_int_equal(fis[7], 0x40 | 0x0a);
    assert_int_equal(fis[12], 8);
    /* IDENTIFY: no LBA, device register 0; FLUSH CACHE EXT: count 0. */
    ahci_fill_h2d_fis(fis, ATA_CMD_IDENTIFY, 0, 0);
    assert_int_equal(fis[2], 0xec);
    assert_int_equal(fis[7], 0);
    ahci_fill_h2d_fis(fis, ATA_CMD_FLUSH_CACHE_EXT, 0, 0);
    assert_int_equal(fis[2], 0xea);
    assert_int_equal(fis[12] | fis[13], 0);
}

/* ---- messages ---- */

static void test_taskfile_messages(void **state) {
    (void)state;
    char buf[96];
    ata_describe_taskfile(0x51, 0x04, buf, sizeof(buf));
    assert_string_equal(buf, "status 0x51 error 0x04 (ABRT)");
    ata_describe_taskfile(0x41, 0x50, buf, sizeof(buf));
    assert_string_equal(buf, "status 0x41 error 0x50 (UNC IDNF)");
    ata_describe_taskfile(0x61, 0x00, buf, sizeof(buf));
    assert_string_equal(buf, "status 0x61 error 0x00, device fault");
    ata_describe_taskfile(0xd0, 0x84, buf, sizeof(buf));
    assert_string_equal(buf, "status 0xd0 error 0x84 (ICRC ABRT), busy");
    ata_describe_taskfile(0xff, 0xff, buf, sizeof(buf));
    assert_string_equal(buf, "status 0xff error 0xff (ICRC UNC MC IDNF MCR ABRT NM AMNF), device fault, busy");
    /* Truncated output stays terminated; the full length is returned. */
    char small[10];
    int n = ata_describe_taskfile(0x51, 0x04, small, sizeof(small));
    assert_int_equal(n, (int)strlen("status 0x51 error 0x04 (ABRT)"));
    assert_string_equal(small, "status 0x");
    assert_string_equal(ata_command_name(0x25), "READ DMA EXT");
    assert_string_equal(ata_command_name(0x35), "WRITE DMA EXT");
    assert_string_equal(ata_command_name(0xea), "FLUSH CACHE EXT");
    assert_string_equal(ata_command_name(0xec), "IDENTIFY DEVICE");
    assert_string_equal(ata_command_name(0x00), "ATA command");
}

static void test_signatures_and_ssts(void **state) {
    (void)state;
    assert_string_equal(ahci_signature_name(0x00000101), "SATA disk");
    assert_string_equal(ahci_signature_name(0xeb140101), "ATAPI device");
    assert_string_equal(ahci_signature_name(0xc33c0101), "enclosure management bridge");
    assert_string_equal(ahci_signature_name(0x96690101), "port multiplier");
    assert_string_equal(ahci_signature_name(0xffffffff), "unknown device");
    char buf[80];
    ahci_describe_ssts(0x113, buf, sizeof(buf));
    assert_string_equal(buf, "device present, phy established, 1.5 Gb/s, active");
    ahci_describe_ssts(0x623, buf, sizeof(buf));
    assert_string_equal(buf, "device present, phy established, 3.0 Gb/s, slumber");
    ahci_describe_ssts(0x0, buf, sizeof(buf));
    assert_string_equal(buf, "no device");
    ahci_describe_ssts(0x1, buf, sizeof(buf));
    assert_string_equal(buf, "device present, no phy communication");
    ahci_describe_ssts(0xfff7, buf, sizeof(buf));
    assert_string_equal(buf, "reserved detection state");
}

/* ---- error attribution ---- */

static void test_failed_slots(void **state) {
    (void)state;
    /* One command outstanding: it is the one, in PxCI or not. */
    assert_int_equal(ahci_failed_slots(0x1, 0x1, 0), 0x1);
    assert_int_equal(ahci_failed_slots(0x4, 0x0, 0), 0x4);
    /* QEMU 7.2: the failed slot 2 keeps its PxCI bit, slots 0, 1, 3, 4 finished with their
     * full length, slot 5 has not run yet: two candidates, so no verdict. */
    assert_int_equal(ahci_failed_slots(0x3f, 0x24, 0x1b), 0);
    /* ... and once everything else finished, slot 2 alone. */
    assert_int_equal(ahci_failed_slots(0x3f, 0x04, 0x3b), 0x04);
    /* An HBA that clears the failed slot's bit: out of PxCI without a full transfer. */
    assert_int_equal(ahci_failed_slots(0xb, 0x0, 0x9), 0x2);
    /* A flush that left PxCI proves nothing: with another candidate there is no verdict. */
    assert_int_equal(ahci_failed_slots(0x3, 0x2, 0x0), 0);
    /* The specification's halt: slot 0 done, 1 failed (still set), 2 not started. */
    assert_int_equal(ahci_failed_slots(0x7, 0x6, 0x1), 0);
    /* Nothing outstanding, or everything proven: nobody to blame. */
    assert_int_equal(ahci_failed_slots(0, 0x4, 0), 0);
    assert_int_equal(ahci_failed_slots(0x3, 0x0, 0x3), 0);
    /* Bits outside outstanding never count. */
    assert_int_equal(ahci_failed_slots(0x80000000u, 0xffffffffu, 0), 0x80000000u);
}

/* ---- ATAPI ---- */

static void test_packet_fis(void **state) {
    (void)state;
    uint8_t fis[24];
    memset(fis, 0xcc, sizeof(fis));
    atapi_fill_packet_fis(fis, 18, false);
    const uint8_t want[20] = {0x27, 0x80, 0xa0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(fis, want, 20);
    assert_int_equal(fis[20], 0xcc);
    /* DMA in the features; the byte count limit in LBA 15:8 / 23:16, even, 0xFFFF -> 0xFFFE. */
    atapi_fill_packet_fis(fis, 0x1235, true);
    assert_int_equal(fis[3], 0x01);
    assert_int_equal(fis[5], 0x34);
    assert_int_equal(fis[6], 0x12);
    assert_int_equal(fis[7], 0);
    atapi_fill_packet_fis(fis, 0xffff, false);
    assert_int_equal(fis[5] | fis[6] << 8, 0xfffe);
    assert_int_equal(fis[3], 0);
    assert_string_equal(ata_command_name(ATA_CMD_PACKET), "PACKET");
}

static void test_read_capacity(void **state) {
    (void)state;
    uint64_t blocks = 0;
    uint32_t size = 0;
    /* 512 blocks of 2048 bytes (the launcher's 1 MiB CD): last LBA 511. */
    const uint8_t cd[8] = {0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x08, 0x00};
    assert_int_equal(atapi_parse_capacity(cd, 8, &blocks, &size), 0);
    assert_int_equal(blocks, 512);
    assert_int_equal(size, 2048);
    /* Big-endian in every byte, and the largest READ CAPACITY(10) can say. */
    const uint8_t big[8] = {0xff, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x00, 0x00};
    assert_int_equal(atapi_parse_capacity(big, 8, &blocks, &size), 0);
    assert_int_equal(blocks, 0xffffffffull);
    assert_int_equal(size, 65536);
    const uint8_t one[8] = {0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x02, 0x00};
    assert_int_equal(atapi_parse_capacity(one, 8, &blocks, &size), 0);
    assert_int_equal(blocks, 0x12345679ull);
    assert_int_equal(size, 512);
    /* Rejected, outputs untouched: truncated, zero or huge block length, 0xFFFFFFFF (use
     * READ CAPACITY(16)), NULL. */
    blocks = 7;
    size = 9;
    assert_int_equal(atapi_parse_capacity(cd, 7, &blocks, &size), -KEINVAL);
    assert_int_equal(atapi_parse_capacity(cd, 0, &blocks, &size), -KEINVAL);
    const uint8_t zero_len[8] = {0, 0, 1, 0xff, 0, 0, 0, 0};
    assert_int_equal(atapi_parse_capacity(zero_len, 8, &blocks, &size), -KEINVAL);
    const uint8_t huge_len[8] = {0, 0, 1, 0xff, 0x80, 0, 0, 0};
    assert_int_equal(atapi_parse_capacity(huge_len, 8, &blocks, &size), -KEINVAL);
    const uint8_t too_big[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 8, 0};
    assert_int_equal(atapi_parse_capacity(too_big, 8, &blocks, &size), -KERANGE);
    assert_int_equal(atapi_parse_capacity(NULL, 8, &blocks, &size), -KEINVAL);
    assert_int_equal(atapi_parse_capacity(cd, 8, NULL, &size), -KEINVAL);
    assert_int_equal(blocks, 7);
    assert_int_equal(size, 9);
}

/* Fixed-format sense data (18 bytes) with key, ASC, ASCQ. */
static void make_sense(uint8_t *d, uint8_t key, uint8_t asc, uint8_t ascq) {
    memset(d, 0, 18);
    d[0] = 0xf0; /* VALID + current error, fixed format */
    d[2] = key;
    d[7] = 10;
    d[12] = asc;
    d[13] = ascq;
}

static void test_sense_parsing(void **state) {
    (void)state;
    uint8_t d[18];
    struct atapi_sense s;
    /* The empty drive: NOT READY, MEDIUM NOT PRESENT. */
    make_sense(d, 0x02, 0x3a, 0x00);
    assert_int_equal(atapi_parse_sense(d, 18, &s), 0);
    assert_int_equal(s.key, 2);
    assert_int_equal(s.asc, 0x3a);
    assert_int_equal(s.ascq, 0);
    assert_true(s.asc_valid);
    /* Bits above the key (FILEMARK, EOM, ILI) are not part of it; 0x71 is deferred errors. */
    make_sense(d, 0xe6, 0x28, 0x00);
    d[0] = 0x71;
    assert_int_equal(atapi_parse_sense(d, 18, &s), 0);
    assert_int_equal(s.key, 6);
    assert_int_equal(s.asc, 0x28);
    /* Too short for ASC (the device sent 8 bytes, or the additional length stops early):
     * the key alone. */
    make_sense(d, 0x02, 0x3a, 0x00);
    assert_int_equal(atapi_parse_sense(d, 8, &s), 0);
    assert_int_equal(s.key, 2);
    assert_false(s.asc_valid);
    assert_int_equal(s.asc, 0);
    d[7] = 5;
    assert_int_equal(atapi_parse_sense(d, 18, &s), 0);
    assert_false(s.asc_valid);
    /* Descriptor format: key, ASC, ASCQ in bytes 1-3. */
    const uint8_t desc[8] = {0x72, 0x05, 0x24, 0x01, 0, 0, 0, 0};
    assert_int_equal(atapi_parse_sense(desc, 8, &s), 0);
    assert_int_equal(s.key, 5);
    assert_int_equal(s.asc, 0x24);
    assert_int_equal(s.ascq, 1);
    assert_true(s.asc_valid);
    assert_int_equal(atapi_parse_sense(desc, 2, &s), 0);
    assert_false(s.asc_valid);
    /* Hostile or truncated: another response code (all zero: a device that sent nothing
     * useful), no bytes, a cut-off key, NULL. */
    memset(d, 0, sizeof(d));
    assert_int_equal(atapi_parse_sense(d, 18, &s), -KEINVAL);
    make_sense(d, 0x02, 0x3a, 0);
    d[0] = 0x7f;
    assert_int_equal(atapi_parse_sense(d, 18, &s), -KEINVAL);
    make_sense(d, 0x02, 0x3a, 0);
    assert_int_equal(atapi_parse_sense(d, 0, &s), -KEINVAL);
    assert_int_equal(atapi_parse_sense(d, 2, &s), -KEINVAL);
    assert_int_equal(atapi_parse_sense(desc, 1, &s), -KEINVAL);
    assert_int_equal(atapi_parse_sense(NULL, 18, &s), -KEINVAL);
    assert_int_equal(atapi_parse_sense(d, 18, NULL), -KEINVAL);
    /* Every byte pattern of the first three bytes parses or is refused, never more. */
    for (unsigned v = 0; v < 0x10000; v++) {
        uint8_t r[18];
        memset(r, (int)(v >> 8), sizeof(r));
        r[0] = (uint8_t)v;
        int rc = atapi_parse_sense(r, (v % 19), &s);
        assert_true(rc == 0 || rc == -KEINVAL);
        if (rc == 0) assert_true(s.key < 16);
    }
}

static void test_sense_names_and_verdicts(void **state) {
    (void)state;
    assert_string_equal(atapi_sense_key_name(0), "NO SENSE");
    assert_string_equal(atapi_sense_key_name(2), "NOT READY");
    assert_string_equal(atapi_sense_key_name(5), "ILLEGAL REQUEST");
    assert_string_equal(atapi_sense_key_name(6), "UNIT ATTENTION");
    assert_string_equal(atapi_sense_key_name(15), "reserved");
    assert_string_equal(atapi_sense_key_name(0xf6), "UNIT ATTENTION"); /* only bits 3:0 */
    struct atapi_sense s = {0};
    /* No medium: key 2 with ASC 0x3A (any ASCQ: tray open or closed). */
    s = (struct atapi_sense){.key = 2, .asc = 0x3a, .ascq = 0x01, .asc_valid = true};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_NO_MEDIUM);
    s.ascq = 0;
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_NO_MEDIUM);
    /* ... but not when the ASC never arrived: key 2 alone proves nothing. */
    s.asc_valid = false;
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_FAILED);
    /* Ask again: unit attention (reset, medium changed), becoming ready, no sense. */
    s = (struct atapi_sense){.key = 6, .asc = 0x28, .asc_valid = true};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_RETRY);
    s = (struct atapi_sense){.key = 6};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_RETRY);
    s = (struct atapi_sense){.key = 2, .asc = 0x04, .ascq = 0x01, .asc_valid = true};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_RETRY);
    s = (struct atapi_sense){.key = 0, .asc_valid = true};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_RETRY);
    /* Failures: not ready for another reason, medium and hardware errors, NULL. */
    s = (struct atapi_sense){.key = 2, .asc = 0x04, .ascq = 0x02, .asc_valid = true};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_FAILED);
    s = (struct atapi_sense){.key = 3, .asc = 0x11, .asc_valid = true};
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_FAILED);
    s = (struct atapi_sense){.key = 4, .asc = 0x3a, .asc_valid = true}; /* 0x3A under another key */
    assert_int_equal(atapi_tur_verdict(&s), ATAPI_TUR_FAILED);
    assert_int_equal(atapi_tur_verdict(NULL), ATAPI_TUR_FAILED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify_lba48_capacity),
        cmocka_unit_test(test_identify_28bit_fallback),
        cmocka_unit_test(test_identify_strings),
        cmocka_unit_test(test_string_edges),
        cmocka_unit_test(test_identify_sector_sizes),
        cmocka_unit_test(test_identify_rejects),
        cmocka_unit_test(test_identify_checksum),
        cmocka_unit_test(test_identify_random_data),
        cmocka_unit_test(test_prdt_single_and_split),
        cmocka_unit_test(test_prdt_many_segments),
        cmocka_unit_test(test_prdt_rejects),
        cmocka_unit_test(test_max_sectors),
        cmocka_unit_test(test_h2d_fis_layout),
        cmocka_unit_test(test_taskfile_messages),
        cmocka_unit_test(test_signatures_and_ssts),
        cmocka_unit_test(test_failed_slots),
        cmocka_unit_test(test_packet_fis),
        cmocka_unit_test(test_read_capacity),
        cmocka_unit_test(test_sense_parsing),
        cmocka_unit_test(test_sense_names_and_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
