/* nvme.h: the NVMe driver (kernel/drivers/nvme/nvme.c) and its pure helpers
 * (kernel/drivers/nvme/nvme_util.c, host-tested).
 *
 * Follows the NVM Express Base Specification 2.0 (§3.1 controller registers, §3.5
 * initialisation, §4.1-4.3 queues, phase tag and PRPs, §4.6 completion status, §5 admin
 * commands) and the NVM Command Set Specification 1.0 (Read, Write, Flush; Identify
 * Namespace data structure §4.1.5.1). */
#pragma once
#include "types.h"
#include "block.h"

/* Probes every NVMe controller (PCI class 01/08/02), initialises it and registers each
 * active namespace as a block device nvme<c>n<nsid>. A machine without one says so in one
 * line. Called once by storage_init() after PCI. */
void nvme_init(void);

/* ---- controller registers (§3.1.3), byte offsets into BAR0 ---- */
#define NVME_REG_CAP 0x00   /* 64-bit controller capabilities */
#define NVME_REG_VS 0x08
#define NVME_REG_INTMS 0x0c
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1c
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ 0x28   /* 64-bit */
#define NVME_REG_ACQ 0x30   /* 64-bit */
#define NVME_REG_DOORBELLS 0x1000

#define NVME_CC_EN (1u << 0)
#define NVME_CC_CSS_NVM (0u << 4)
#define NVME_CC_MPS_SHIFT 7
#define NVME_CC_AMS_RR (0u << 11)
#define NVME_CC_SHN_MASK (3u << 14)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOCQES_SHIFT 20
#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)

/* CAP fields decoded (§3.1.3.1). */
struct nvme_cap {
    uint32_t mqes;          /* maximum queue entries supported, 1's based (CAP.MQES + 1) */
    bool contiguous_queues; /* CQR */
    uint32_t timeout_ms;    /* CAP.TO * 500 ms: worst-case time for CSTS.RDY to change */
    uint32_t dstrd;         /* doorbell stride: doorbells are (4 << dstrd) bytes apart */
    bool nvm_command_set;   /* CSS bit 0 */
    uint32_t mps_min, mps_max; /* memory page sizes in bytes (4 KiB << MPSMIN/MPSMAX) */
};
void nvme_decode_cap(uint64_t cap, struct nvme_cap *out);
/* Byte offset in BAR0 of queue qid's submission (is_cq false) or completion queue head
 * doorbell: 0x1000 + (2 * qid + is_cq) * (4 << dstrd). */
uint64_t nvme_doorbell_offset(uint16_t qid, bool is_cq, uint32_t dstrd);

/* ---- queue entries (§4.2 submission, §4.6 completion) ---- */
struct nvme_sqe {
    uint8_t opcode;
    uint8_t flags;          /* FUSE bits 1:0, PSDT bits 7:6 (0 = PRPs) */
    uint16_t cid;           /* command identifier */
    uint32_t nsid;
    uint32_t cdw2, cdw3;
    uint64_t mptr;
    uint64_t prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe submission queue entry is 64 bytes");

struct nvme_cqe {
    uint32_t dw0;           /* command specific */
    uint32_t dw1;
    uint16_t sq_head;
    uint16_t sq_id;
    uint16_t cid;
    uint16_t status;        /* bit 0 phase tag, bits 15:1 status field */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe completion queue entry is 16 bytes");

/* Opcodes: admin (§5) and NVM command set. */
#define NVME_ADMIN_DELETE_SQ 0x00
#define NVME_ADMIN_CREATE_SQ 0x01
#define NVME_ADMIN_DELETE_CQ 0x04
#define NVME_ADMIN_CREATE_CQ 0x05
#define NVME_ADMIN_IDENTIFY 0x06
#define NVME_ADMIN_SET_FEATURES 0x09
#define NVME_CMD_FLUSH 0x00
#define NVME_CMD_WRITE 0x01
#define NVME_CMD_READ 0x02
#define NVME_CNS_NAMESPACE 0x00
#define NVME_CNS_CONTROLLER 0x01
#define NVME_CNS_ACTIVE_NS_LIST 0x02
#define NVME_FEAT_NUM_QUEUES 0x07

/* ---- completion status (§4.6.1.2) ---- */
/* The 15-bit status field from a completion's status word (phase tag dropped). */
static inline uint16_t nvme_status_field(uint16_t status_word) { return (uint16_t)(status_word >> 1); }
static inline uint8_t nvme_status_sc(uint16_t field) { return (uint8_t)(field & 0xff); }
static inline uint8_t nvme_status_sct(uint16_t field) { return (uint8_t)((field >> 8) & 7); }
/* Human text for a status code type and status code: the generic (SCT 0, including the NVM
 * command set's 80h-84h), command specific (SCT 1), media and data integrity (SCT 2) and path
 * related (SCT 3) codes; "Vendor Specific Status" for SCT 7; "Unknown Status" otherwise. */
const char *nvme_status_text(uint8_t sct, uint8_t sc);
/* Formats "TEXT (SCT n SC 0xNN)" for a 15-bit status field into buf. Returns buf. */
char *nvme_status_format(uint16_t field, char *buf, size_t size);

/* ---- PRPs (§4.3) with a 4 KiB memory page size ---- */
#define NVME_PAGE_SIZE 4096u
#define NVME_PRP_LIST_ENTRIES (NVME_PAGE_SIZE / 8) /* one list page, no chaining */
struct nvme_prp {
    uint64_t prp1, prp2;
    uint32_t list_entries;  /* entries written to the PRP list (0 when PRP2 is direct/unused) */
};
/* Builds PRP1/PRP2 for the physical segments of one transfer. The first segment may start at
 * any dword-aligned offset; every later segment must start on a page boundary and every
 * segment but the last must end on one (else -KEINVAL: PRPs cannot describe the hole). One
 * page: PRP2 = 0; two pages: PRP2 is the second page; more: the remaining page addresses go
 * into the caller's PRP list page (list, at physical list_phys, page aligned) and PRP2 points
 * to it. -KEINVAL for no segments, a zero length, or more pages than one list page holds. */
int nvme_build_prps(const struct dma_seg *segs, int nsegs, uint64_t *list, phys_addr_t list_phys,
                    struct nvme_prp *out);

/* ---- commands ---- */
/* Fills a Read, Write (opcode) of count blocks at lba, or a Flush (count ignored). */
void nvme_build_io_cmd(struct nvme_sqe *sqe, uint8_t opcode, uint16_t cid, uint32_t nsid, uint64_t lba,
                       uint32_t count, const struct nvme_prp *prp);

/* ---- Identify data (§5.17.2) ---- */
struct nvme_ctrl_info {
    char serial[21], model[41], firmware[9]; /* trailing spaces trimmed */
    uint32_t max_transfer;  /* bytes from MDTS; 0 = no limit reported */
    uint32_t namespaces;    /* NN */
    bool volatile_cache;    /* VWC bit 0 */
};
/* Parses a 4096-byte Identify Controller structure; mps_min is the minimum memory page size
 * in bytes (MDTS is a power of two in those units). 0, or -KEINVAL for a hostile MDTS. */
int nvme_parse_identify_ctrl(const void *data, uint32_t mps_min, struct nvme_ctrl_info *out);

struct nvme_ns_info {
    uint64_t sectors;       /* NSZE, in logical blocks */
    uint64_t capacity;      /* NCAP */
    uint32_t sector_size;   /* bytes, from the LBA format FLBAS selects */
    uint8_t lbaf;           /* that format's index */
};
/* Parses a 4096-byte Identify Namespace structure. -KENOENT for an inactive namespace (NSZE
 * 0); -KEINVAL for a format index beyond NLBAF, an LBA data size outside 512 B-64 KiB, a
 * capacity whose byte size overflows, or metadata (which this driver does not transfer). */
int nvme_parse_identify_ns(const void *data, struct nvme_ns_info *out);

/* Copies the active namespace ids of a CNS 2 list (1024 dwords, increasing, ended by 0) into
 * ids (at most max). -KEINVAL when the list is not strictly increasing or holds the broadcast
 * id 0xffffffff; otherwise the count. */
int nvme_parse_ns_list(const void *data, uint32_t *ids, int max);

/* ---- driver state, for self-tests and diagnostics ---- */
/* Identify Controller data of controller index (0-based), or NULL when there is none. */
const struct nvme_ctrl_info *nvme_controller_info(int index);
/* Controller resets done by ops->reset on controller index so far. */
uint64_t nvme_controller_resets(int index);

/* ---- test hooks (nvme_selftest.c): read-only looks and interrupt masking ---- */
/* The mapped MSI-X table entry (address lo, address hi, data, vector control) of controller
 * index's I/O completion queue; NULL when the queue is polled, uses plain MSI, or there is no
 * such controller. Setting bit 0 of dword 3 holds the interrupt back (the device keeps it
 * pending and posts completions into the queue memory as usual). */
volatile uint32_t *nvme_io_msix_entry(int index);
/* Completions the controller has written into its I/O completion queue (phase tag of the
 * current pass, from the driver's head on) that the driver has not consumed yet. Only reads
 * the queue memory. -1 when there is no such controller or it is not running. */
int nvme_io_cq_unreaped(int index);
