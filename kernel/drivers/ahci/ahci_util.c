/* ahci_util.c: the pure parts of the AHCI driver, compiled on the host by
 * tests/host/test_ahci.c (declarations in ahci.h).
 *
 * - IDENTIFY DEVICE data (ATA8-ACS §7.16.7, table 22): strings in words 10-19 / 23-26 /
 *   27-46, capabilities in word 49, 28-bit capacity in words 60-61, command sets in words
 *   82-87, 48-bit capacity in words 100-103, sector sizes in words 106 and 117-118, the
 *   integrity word 255.
 * - PRDT entries (AHCI 1.3.1 §4.2.3.3), the Register H2D FIS (SATA 3.x §10.5.6, layout in
 *   AHCI 1.3.1 §4.2.3.1), PxSIG (§3.3.9) and PxSSTS (§3.3.10) decoding, error attribution
 *   (§6.2.2.1), and the task-file status / error fields (ACS §6.2, §6.3).
 * - ATAPI (the CD-ROM probe): the PACKET command's H2D FIS (ACS PACKET: features bit 0 =
 *   DMA, byte count limit in the cylinder registers), SCSI sense data in fixed and
 *   descriptor format and the sense keys (SPC-4), the TEST UNIT READY verdict, and the
 *   READ CAPACITY(10) data (SBC-3: last LBA and block length, big-endian). */
#include "types.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "ahci.h"

/* ---- IDENTIFY DEVICE ---- */

void ata_copy_string(const uint16_t *words, unsigned nwords, char *out, size_t out_size) {
    if (!out || out_size == 0) return;
    size_t n = 0;
    for (unsigned i = 0; i < nwords && n + 1 < out_size; i++) {
        char pair[2] = {(char)(words[i] >> 8), (char)(words[i] & 0xff)};
        for (int k = 0; k < 2 && n + 1 < out_size; k++) {
            unsigned char c = (unsigned char)pair[k];
            out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == 0 ? ' ' : '?');
        }
    }
    out[n] = '\0';
    /* Trim: trailing spaces, then leading ones (some drives right-justify their serial). */
    while (n > 0 && out[n - 1] == ' ') out[--n] = '\0';
    size_t lead = 0;
    while (lead < n && out[lead] == ' ') lead++;
    if (lead) memmove(out, out + lead, n - lead + 1);
}

/* True when a word of the command-set area holds data: bits 15:14 = 01 (ACS: 0x0000 and
 * 0xffff mean "not reported"). */
static bool word_valid(uint16_t w) { return (w & 0xc000) == 0x4000; }

int ata_parse_identify(const uint16_t words[256], struct ata_identity *out) {
    if (!words || !out) return -KEINVAL;
    memset(out, 0, sizeof(*out));
    if (words[0] & 0x8000) return -KEINVAL; /* bit 15 set: not an ATA device */
    /* Integrity word: when its low byte is the 0xA5 signature, all 512 bytes sum to 0. */
    if ((words[255] & 0xff) == 0xa5) {
        uint8_t sum = 0;
        for (int i = 0; i < 256; i++) sum = (uint8_t)(sum + (words[i] & 0xff) + (words[i] >> 8));
        if (sum != 0) return -KEINVAL;
    }
    if (!(words[49] & (1u << 9))) return -KEINVAL; /* no LBA: CHS-only devices are not used */
    out->dma = words[49] & (1u << 8);
    ata_copy_string(&words[10], 10, out->serial, sizeof(out->serial));
    ata_copy_string(&words[23], 4, out->firmware, sizeof(out->firmware));
    ata_copy_string(&words[27], 20, out->model, sizeof(out->model));

    bool w83 = word_valid(words[83]);
    out->lba48 = w83 && (words[83] & (1u << 10));
    out->flush_ext = w83 && (words[83] & (1u << 13));
    out->write_cache = word_valid(words[87]) && (words[85] & (1u << 5));
    out->ncq = words[76] != 0 && words[76] != 0xffff && (words[76] & (1u << 8));

    uint64_t lba28 = (uint64_t)words[60] | (uint64_t)words[61] << 16;
    uint64_t lba48 = (uint64_t)words[100] | (uint64_t)words[101] << 16 | (uint64_t)words[102] << 32 |
                     (uint64_t)words[103] << 48;
    if (out->lba48 && lba48 > (1ull << 48)) return -KEINVAL; /* more sectors than LBA48 reaches */
    out->sectors = (out->lba48 && lba48) ? lba48 : lba28;
    if (!out->lba48 && out->sectors > (1u << 28)) out->sectors = 1u << 28;
    if (out->sectors == 0) return -KEINVAL;

    /* Word 106 (valid when bit 14 = 1, bit 15 = 0): bit 12 says words 117-118 hold the
     * logical sector size in words; bit 13 with bits 3:0 gives 2^n logical per physical. */
    out->sector_size = 512;
    uint16_t w106 = words[106];
    if (word_valid(w106)) {
        if (w106 & (1u << 12)) {
            uint64_t sz = ((uint64_t)words[117] | (uint64_t)words[118] << 16) * 2;
            if (sz < 512 || sz > 65536 || (sz & (sz - 1))) return -KEINVAL;
            out->sector_size = (uint32_t)sz;
        }
        out->physical_sector_size = out->sector_size;
        if (w106 & (1u << 13)) {
            unsigned shift = w106 & 0xf;
            if (shift > 7) return -KEINVAL; /* more than 128 logical per physical */
            out->physical_sector_size = out->sector_size << shift;
        }
    } else {
        out->physical_sector_size = out->sector_size;
    }
    return 0;
}

const char *ata_command_name(uint8_t command) {
    switch (command) {
    case ATA_CMD_IDENTIFY: return "IDENTIFY DEVICE";
    case ATA_CMD_READ_DMA: return "READ DMA";
    case ATA_CMD_READ_DMA_EXT: return "READ DMA EXT";
    case ATA_CMD_WRITE_DMA: return "WRITE DMA";
    case ATA_CMD_WRITE_DMA_EXT: return "WRITE DMA EXT";
    case ATA_CMD_FLUSH_CACHE: return "FLUSH CACHE";
    case ATA_CMD_FLUSH_CACHE_EXT: return "FLUSH CACHE EXT";
    case ATA_CMD_PACKET: return "PACKET";
    default: return "ATA command";
    }
}

int ata_describe_taskfile(uint8_t status, uint8_t error, char *buf, size_t size) {
    /* Error bits, high to low (ACS §6.3; bits 5, 3, 1, 0 are obsolete or command-specific). */
    static const char *const error_names[8] = {"AMNF", "NM", "ABRT", "MCR", "IDNF", "MC", "UNC", "ICRC"};
    char names[48] = "";
    size_t len = 0;
    for (int bit = 7; bit >= 0; bit--) {
        if (!(error & (1u << bit))) continue;
        int n = ksnprintf(names + len, sizeof(names) - len, "%s%s", len ? " " : "", error_names[bit]);
        if (n > 0) len = MIN(len + (size_t)n, sizeof(names) - 1);
    }
    return ksnprintf(buf, size, "status 0x%02x error 0x%02x%s%s%s%s%s", status, error, len ? " (" : "", names,
                     len ? ")" : "", (status & ATA_STS_DF) ? ", device fault" : "",
                     (status & ATA_STS_BSY) ? ", busy" : "");
}

/* ---- AHCI structures ---- */

int ahci_build_prdt(const struct dma_seg *segs, int nsegs, struct ahci_prd *prdt, int max, bool addr64) {
    if (!segs || !prdt || nsegs <= 0 || max <= 0) return -KEINVAL;
    int n = 0;
    for (int i = 0; i < nsegs; i++) {
        uint64_t addr = segs[i].addr, left = segs[i].len;
        if (left == 0 || (left & 1) || (addr & 1)) return -KEINVAL;
        if (addr + left < addr) return -KEINVAL;
        if (!addr64 && addr + left > (1ull << 32)) return -KEINVAL;
        while (left) {
            if (n == max) return -KEINVAL;
            uint32_t chunk = (uint32_t)MIN(left, (uint64_t)AHCI_PRD_MAX_BYTES);
            prdt[n].dba = (uint32_t)addr;
            prdt[n].dbau = (uint32_t)(addr >> 32);
            prdt[n].reserved = 0;
            prdt[n].dbc = chunk - 1;
            n++;
            addr += chunk;
            left -= chunk;
        }
    }
    prdt[n - 1].dbc |= AHCI_PRD_INTERRUPT;
    return n;
}

void ahci_fill_h2d_fis(uint8_t *fis, uint8_t command, uint64_t lba, uint16_t count) {
    memset(fis, 0, 20);
    fis[0] = 0x27;          /* Register FIS, host to device */
    fis[1] = 0x80;          /* C: the command register is updated; port multiplier port 0 */
    fis[2] = command;
    fis[3] = 0;             /* features 7:0 */
    fis[4] = (uint8_t)lba;
    fis[5] = (uint8_t)(lba >> 8);
    fis[6] = (uint8_t)(lba >> 16);
    fis[7] = 0x40;          /* device: LBA mode */
    fis[8] = (uint8_t)(lba >> 24);
    fis[9] = (uint8_t)(lba >> 32);
    fis[10] = (uint8_t)(lba >> 40);
    fis[11] = 0;            /* features 15:8 */
    fis[12] = (uint8_t)count;
    fis[13] = (uint8_t)(count >> 8);
    if (command == ATA_CMD_READ_DMA || command == ATA_CMD_WRITE_DMA)
        fis[7] |= (uint8_t)((lba >> 24) & 0x0f); /* 28-bit commands: LBA 27:24 in the device register */
    if (command == ATA_CMD_IDENTIFY) fis[7] = 0;
}

void atapi_fill_packet_fis(uint8_t *fis, uint16_t byte_count_limit, bool dma) {
    ahci_fill_h2d_fis(fis, ATA_CMD_PACKET, 0, 0);
    if (byte_count_limit == 0xffff) byte_count_limit = 0xfffe;
    byte_count_limit &= (uint16_t)~1u; /* the limit is even (ACS PACKET) */
    fis[3] = dma ? 0x01 : 0x00;        /* features: DMA; DMADIR stays 0 */
    fis[5] = (uint8_t)byte_count_limit;
    fis[6] = (uint8_t)(byte_count_limit >> 8);
    fis[7] = 0;                        /* device: no LBA bit for PACKET */
}

uint32_t ahci_max_sectors(uint32_t sector_size, int prdt_entries, bool lba48) {
    if (sector_size < 512 || prdt_entries < 2) return 0;
    uint64_t bytes = (uint64_t)(prdt_entries - 1) * 4096;
    uint64_t sectors = bytes / sector_size;
    uint64_t limit = lba48 ? 65536 : 256;
    return (uint32_t)MIN(sectors, limit);
}

const char *ahci_signature_name(uint32_t sig) {
    switch (sig) {
    case AHCI_SIG_ATA: return "SATA disk";
    case AHCI_SIG_ATAPI: return "ATAPI device";
    case AHCI_SIG_SEMB: return "enclosure management bridge";
    case AHCI_SIG_PM: return "port multiplier";
    default: return "unknown device";
    }
}

int ahci_describe_ssts(uint32_t ssts, char *buf, size_t size) {
    unsigned det = ssts & 0xf, spd = (ssts >> 4) & 0xf, ipm = (ssts >> 8) & 0xf;
    const char *d = det == 0 ? "no device"
                  : det == 1 ? "device present, no phy communication"
                  : det == 3 ? "device present, phy established"
                  : det == 4 ? "phy offline"
                  : "reserved detection state";
    const char *s = spd == 1 ? ", 1.5 Gb/s" : spd == 2 ? ", 3.0 Gb/s" : spd == 3 ? ", 6.0 Gb/s" : "";
    const char *p = ipm == 1 ? ", active"
                  : ipm == 2 ? ", partial"
                  : ipm == 6 ? ", slumber"
                  : ipm == 8 ? ", devsleep"
                  : "";
    return ksnprintf(buf, size, "%s%s%s", d, s, p);
}

uint32_t ahci_failed_slots(uint32_t outstanding, uint32_t ci, uint32_t proven_ok) {
    uint32_t candidates = (outstanding & ci) | (outstanding & ~ci & ~proven_ok);
    return (candidates && !(candidates & (candidates - 1))) ? candidates : 0;
}

/* ---- ATAPI: sense data and READ CAPACITY ---- */

int atapi_parse_sense(const uint8_t *data, size_t len, struct atapi_sense *out) {
    if (!data || !out) return -KEINVAL;
    memset(out, 0, sizeof(*out));
    if (len < 1) return -KEINVAL;
    uint8_t code = data[0] & 0x7f; /* bit 7 of the fixed format is VALID (the INFORMATION field) */
    if (code == 0x70 || code == 0x71) {
        if (len < 3) return -KEINVAL;
        out->key = data[2] & 0x0f;
        /* ASC and ASCQ are bytes 12 and 13: present when the device sent them and the
         * additional sense length (byte 7, counting from byte 8) covers them. */
        if (len >= 14 && data[7] >= 6) {
            out->asc = data[12];
            out->ascq = data[13];
            out->asc_valid = true;
        }
        return 0;
    }
    if (code == 0x72 || code == 0x73) {
        if (len < 2) return -KEINVAL;
        out->key = data[1] & 0x0f;
        if (len >= 4) {
            out->asc = data[2];
            out->ascq = data[3];
            out->asc_valid = true;
        }
        return 0;
    }
    return -KEINVAL;
}

const char *atapi_sense_key_name(uint8_t key) {
    static const char *const names[16] = {
        "NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR", "ILLEGAL REQUEST",
        "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
        "EQUAL", "VOLUME OVERFLOW", "MISCOMPARE", "reserved",
    };
    return names[key & 0x0f];
}

enum atapi_tur_verdict atapi_tur_verdict(const struct atapi_sense *sense) {
    if (!sense) return ATAPI_TUR_FAILED;
    switch (sense->key) {
    case 0x0: /* CHECK CONDITION without a reason: ask again */
    case SCSI_SENSE_UNIT_ATTENTION: /* power on, reset, medium may have changed: reported once */
        return ATAPI_TUR_RETRY;
    case SCSI_SENSE_NOT_READY:
        if (!sense->asc_valid) return ATAPI_TUR_FAILED;
        if (sense->asc == SCSI_ASC_MEDIUM_NOT_PRESENT) return ATAPI_TUR_NO_MEDIUM;
        /* LOGICAL UNIT NOT READY, in progress of becoming ready (a tray closing, a disc
         * spinning up): ask again, within the caller's bound. */
        if (sense->asc == SCSI_ASC_NOT_READY && sense->ascq == 0x01) return ATAPI_TUR_RETRY;
        return ATAPI_TUR_FAILED;
    default:
        return ATAPI_TUR_FAILED;
    }
}

int atapi_parse_capacity(const uint8_t *data, size_t len, uint64_t *blocks, uint32_t *block_size) {
    if (!data || !blocks || !block_size || len < 8) return -KEINVAL;
    uint32_t last = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    uint32_t size = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
    if (size == 0 || size > 65536) return -KEINVAL;
    if (last == 0xffffffffu) return -KERANGE;
    *blocks = (uint64_t)last + 1;
    *block_size = size;
    return 0;
}
