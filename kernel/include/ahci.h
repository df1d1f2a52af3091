/* ahci.h: the AHCI (SATA) driver (kernel/drivers/ahci/ahci.c) and its pure helpers
 * (kernel/drivers/ahci/ahci_util.c, host-tested by tests/host/test_ahci.c).
 *
 * Specifications: Serial ATA AHCI 1.3.1 (§3 HBA and port registers, §4.2 system memory
 * structures, §5.5 command issue, §6.2.2 error recovery, §10.1.2 / §10.4 reset and port
 * start/stop); ATA/ATAPI Command Set ACS (ATA8-ACS) §7.16 IDENTIFY DEVICE and its data
 * words, §7.25 READ DMA EXT, §7.60 WRITE DMA EXT, §7.11 FLUSH CACHE EXT, PACKET, §6.2 /
 * §6.3 the Status and Error fields; SATA 3.x §10.5.6 the Register Host-to-Device FIS; for
 * the CD-ROM probe the SCSI commands of SPC-4 (TEST UNIT READY, REQUEST SENSE, sense data
 * in fixed and descriptor format) and SBC-3 / MMC READ CAPACITY(10). */
#pragma once
#include "types.h"
#include "block.h"

/* Finds every AHCI controller (PCI class 01/06/01), resets and enables it, probes each
 * implemented port by signature and registers the SATA disks as sda, sdb, ... in port order.
 * ATAPI and other devices are reported in one line and left alone. A machine without a
 * controller says so in one line. Every wait is bounded. Called once by storage_init(). */
void ahci_init(void);

/* Number of SATA disks the driver found and named sdX (for the self-tests). */
int ahci_disk_count(void);

/* Per-disk counters of the driver, for tests and diagnostics. */
struct ahci_port_stats {
    unsigned port;            /* HBA port number */
    uint32_t slots;           /* command slots in use by the driver */
    uint32_t max_in_flight;   /* most commands ever outstanding in PxCI at once */
    uint64_t ata_errors;      /* task-file or interface errors seen */
    uint64_t recoveries;      /* port recoveries after an error (§6.2.2.1) */
    uint64_t resets;          /* ops->reset calls */
    uint64_t comresets;       /* COMRESETs sent */
    bool msi;                 /* completions by MSI (false: the 1 ms polling fallback) */
};
/* Copies the counters of an AHCI disk; -KEINVAL when dev is not one. */
int ahci_get_port_stats(const struct blk_device *dev, struct ahci_port_stats *out);
/* Starts max_in_flight over from 0 (a test measures one burst); -KEINVAL when not AHCI. */
int ahci_clear_max_in_flight(struct blk_device *dev);

/* ---- ATA commands (ACS) ---- */
#define ATA_CMD_IDENTIFY 0xec
#define ATA_CMD_READ_DMA 0xc8
#define ATA_CMD_READ_DMA_EXT 0x25
#define ATA_CMD_WRITE_DMA 0xca
#define ATA_CMD_WRITE_DMA_EXT 0x35
#define ATA_CMD_FLUSH_CACHE 0xe7
#define ATA_CMD_FLUSH_CACHE_EXT 0xea
#define ATA_CMD_PACKET 0xa0 /* ACS: carries an ATAPI (SCSI) command in the ACMD area */

/* Status field bits (ACS §6.2) and error field bits (ACS §6.3). */
#define ATA_STS_ERR 0x01
#define ATA_STS_DRQ 0x08
#define ATA_STS_DF 0x20
#define ATA_STS_DRDY 0x40
#define ATA_STS_BSY 0x80
#define ATA_ERR_ABRT 0x04
#define ATA_ERR_IDNF 0x10
#define ATA_ERR_UNC 0x40
#define ATA_ERR_ICRC 0x80

/* What IDENTIFY DEVICE says about a disk. */
struct ata_identity {
    char model[41];           /* words 27-46, byte-swapped, trimmed */
    char serial[21];          /* words 10-19 */
    char firmware[9];         /* words 23-26 */
    uint64_t sectors;         /* words 100-103 with 48-bit addressing, else words 60-61 */
    uint32_t sector_size;     /* logical sector, bytes: words 106 and 117-118, else 512 */
    uint32_t physical_sector_size;
    bool lba48;               /* word 83 bit 10: the EXT commands work */
    bool dma;                 /* word 49 bit 8 */
    bool flush_ext;           /* word 83 bit 13: FLUSH CACHE EXT */
    bool write_cache;         /* word 85 bit 5: volatile write cache enabled */
    bool ncq;                 /* word 76 bit 8 */
};

/* Parses the 256 words of IDENTIFY DEVICE data (as little-endian words in memory). Returns
 * 0, or -KEINVAL when the data is not a usable ATA disk: word 0 bit 15 set (not an ATA
 * device), no LBA support, a capacity of zero, a bad integrity word (word 255 with signature
 * 0xA5 and a checksum that does not sum to zero) or an impossible logical sector size. */
int ata_parse_identify(const uint16_t words[256], struct ata_identity *out);
/* Copies an ATA string (nwords words, two characters per word, the first in the high byte)
 * into out: leading and trailing spaces trimmed, unprintable bytes as '?', NUL-terminated. */
void ata_copy_string(const uint16_t *words, unsigned nwords, char *out, size_t out_size);
/* "READ DMA EXT", "IDENTIFY DEVICE", ... or "ATA command" for one it does not know. */
const char *ata_command_name(uint8_t command);
/* Formats the task-file status and error as "status 0x51 error 0x04 (ABRT)", adding the
 * device fault / busy conditions of the status when set. Returns the length ksnprintf
 * gives. */
int ata_describe_taskfile(uint8_t status, uint8_t error, char *buf, size_t size);

/* ---- AHCI structures (AHCI 1.3.1 §4.2) ---- */

/* Command header (§4.2.2), 32 bytes; 32 of them form the 1 KiB command list. */
struct ahci_cmd_header {
    uint16_t flags;           /* CFL in bits 4:0 (FIS length in dwords), A 5, W 6, P 7, R 8, B 9, C 10 */
    uint16_t prdtl;           /* PRDT entries */
    volatile uint32_t prdbc;  /* bytes transferred, written by the HBA */
    uint32_t ctba, ctbau;     /* command table, 128-byte aligned */
    uint32_t reserved[4];
};
#define AHCI_HDR_CFL_H2D 5u
#define AHCI_HDR_ATAPI (1u << 5)  /* A: the ACMD area holds a command packet for an ATAPI device */
#define AHCI_HDR_WRITE (1u << 6)

/* Physical region descriptor (§4.2.3.3), 16 bytes. */
struct ahci_prd {
    uint32_t dba, dbau;       /* data base address, word aligned */
    uint32_t reserved;
    uint32_t dbc;             /* byte count - 1 in bits 21:0 (even count), I in bit 31 */
};
#define AHCI_PRD_MAX_BYTES 0x400000u /* 4 MiB per entry */
#define AHCI_PRD_INTERRUPT (1u << 31)

/* Command table (§4.2.3): 64-byte command FIS, 16-byte ATAPI command, reserved, then the
 * PRDT. The driver gives each slot AHCI_PRDT_ENTRIES entries. */
#define AHCI_PRDT_ENTRIES 64
struct ahci_cmd_table {
    uint8_t cfis[64];
    uint8_t acmd[16];
    uint8_t reserved[48];
    struct ahci_prd prdt[AHCI_PRDT_ENTRIES];
};

/* Turns DMA segments into PRDT entries: each entry at most 4 MiB (a longer segment is split),
 * byte count minus one in DBC, the interrupt bit on the last entry. Returns the number of
 * entries, or -KEINVAL for no segments, a zero, odd or over-long length, an odd address, an
 * address at or above 4 GiB when addr64 is false (CAP.S64A clear), or more than max
 * entries. */
int ahci_build_prdt(const struct dma_seg *segs, int nsegs, struct ahci_prd *prdt, int max, bool addr64);
/* Fills a Register Host-to-Device FIS (20 bytes: type 0x27, C bit, command, 48-bit LBA,
 * 16-bit count, device register with the LBA bit) into fis. */
void ahci_fill_h2d_fis(uint8_t *fis, uint8_t command, uint64_t lba, uint16_t count);
/* The largest request in sectors for a sector size and PRDT size: (entries - 1) pages, so
 * that any buffer, page-aligned or not, fits; capped at the ATA count limit (65536 with
 * 48-bit commands, 256 without). */
uint32_t ahci_max_sectors(uint32_t sector_size, int prdt_entries, bool lba48);

/* Port signatures (PxSIG, §3.3.9). */
#define AHCI_SIG_ATA 0x00000101u
#define AHCI_SIG_ATAPI 0xeb140101u
#define AHCI_SIG_SEMB 0xc33c0101u
#define AHCI_SIG_PM 0x96690101u
/* "SATA disk", "ATAPI device", "enclosure management bridge", "port multiplier", or
 * "unknown device". */
const char *ahci_signature_name(uint32_t sig);
/* Describes PxSSTS (§3.3.10): "device present, phy established, 3.0 Gb/s, active". */
int ahci_describe_ssts(uint32_t ssts, char *buf, size_t size);

/* ---- ATAPI (the CD-ROM probe): SCSI commands sent with ATA PACKET ---- */
#define SCSI_TEST_UNIT_READY 0x00
#define SCSI_REQUEST_SENSE 0x03
#define SCSI_READ_CAPACITY_10 0x25
#define SCSI_SENSE_NOT_READY 0x2
#define SCSI_SENSE_UNIT_ATTENTION 0x6
#define SCSI_ASC_MEDIUM_NOT_PRESENT 0x3a
#define SCSI_ASC_NOT_READY 0x04          /* LOGICAL UNIT NOT READY (ASCQ 0x01: becoming ready) */

/* The part of sense data (SPC-4, sense data formats) the driver uses. */
struct atapi_sense {
    uint8_t key;              /* sense key, 0..15 */
    uint8_t asc, ascq;        /* additional sense code and qualifier (0 when not given) */
    bool asc_valid;           /* the data was long enough to carry ASC and ASCQ */
};
/* Parses sense data from REQUEST SENSE: fixed format (response code 0x70/0x71: key in byte 2
 * bits 3:0, ASC/ASCQ in bytes 12/13 when the additional length, byte 7, reaches them) or
 * descriptor format (0x72/0x73: key, ASC, ASCQ in bytes 1-3). len is how many bytes the
 * device sent. 0, or -KEINVAL for another response code or too few bytes for the key. */
int atapi_parse_sense(const uint8_t *data, size_t len, struct atapi_sense *out);
/* "NOT READY", "UNIT ATTENTION", ... (the SPC-4 sense keys), "reserved" for 0xF. */
const char *atapi_sense_key_name(uint8_t key);

/* What a failed TEST UNIT READY means, from its sense data. */
enum atapi_tur_verdict {
    ATAPI_TUR_NO_MEDIUM = 0,  /* NOT READY, MEDIUM NOT PRESENT (key 2, ASC 0x3A) */
    ATAPI_TUR_RETRY = 1,      /* UNIT ATTENTION, NOT READY / becoming ready, or no sense: ask again */
    ATAPI_TUR_FAILED = 2,     /* anything else: the drive has a problem */
};
enum atapi_tur_verdict atapi_tur_verdict(const struct atapi_sense *sense);

/* Parses the 8 bytes of READ CAPACITY(10) data: the last logical block address and the block
 * length, both big-endian. *blocks gets last LBA + 1. len is how many bytes arrived.
 * -KEINVAL for fewer than 8 bytes, a block length of 0 or above 64 KiB; -KERANGE when the
 * last LBA is 0xFFFFFFFF (the capacity needs READ CAPACITY(16)). */
int atapi_parse_capacity(const uint8_t *data, size_t len, uint64_t *blocks, uint32_t *block_size);

/* Fills the Register H2D FIS of an ATA PACKET command (20 bytes): command 0xA0, features
 * bit 0 = DMA (else PIO), the PIO byte count limit in LBA 15:8 / 23:16 (the cylinder
 * registers; 0xFFFF becomes 0xFFFE, odd values are rounded down), device register 0. */
void atapi_fill_packet_fis(uint8_t *fis, uint16_t byte_count_limit, bool dma);

/* Which outstanding command a task-file or fatal error hits (§6.2.2.1). HBAs differ: the
 * specification keeps the failed command's PxCI bit set and halts; QEMU 7.2 keeps the bit
 * set but goes on with later slots and has no PxCMD.CCS; others clear it. So every
 * outstanding slot not proven complete is a candidate: still in PxCI, or out of it without
 * a proven transfer (proven_ok: reads and writes whose PRDBC is the full length). Returns
 * the failed slot when there is exactly one candidate, else 0: the caller then retries the
 * candidates one at a time after recovery, so a second failure is unambiguous. */
uint32_t ahci_failed_slots(uint32_t outstanding, uint32_t ci, uint32_t proven_ok);
