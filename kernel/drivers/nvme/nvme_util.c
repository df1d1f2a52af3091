/* nvme_util.c: the pure parts of the NVMe driver, compiled into the kernel and into the host
 * test tests/host/test_nvme.c. No register or DMA access here: only decoding and encoding of
 * the structures the NVM Express Base Specification 2.0 defines:
 *   §3.1.3.1 CAP fields and §3.1.3 doorbell offsets,
 *   §4.3     PRP entries and PRP lists (memory page size 4 KiB),
 *   §4.6.1.2 completion status (generic, command specific, media, path) into text,
 *   §5.17.2  Identify Controller / Active Namespace ID list,
 * and from the NVM Command Set Specification 1.0: §3.2.3 Read/Write/Flush command dwords and
 * §4.1.5.1 the Identify Namespace structure (NSZE, NCAP, NLBAF, FLBAS, LBA formats). */
#include "types.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "nvme.h"

/* Little-endian field readers: identify data is a byte array with no alignment promise. */
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

void nvme_decode_cap(uint64_t cap, struct nvme_cap *out) {
    out->mqes = (uint32_t)(cap & 0xffff) + 1;
    out->contiguous_queues = (cap >> 16) & 1;
    uint32_t to = (uint32_t)(cap >> 24) & 0xff;
    /* TO is in 500 ms units; 0 would mean "no time at all", which no device honours. */
    out->timeout_ms = (to ? to : 1) * 500;
    out->dstrd = (uint32_t)(cap >> 32) & 0xf;
    out->nvm_command_set = (cap >> 37) & 1;
    out->mps_min = 4096u << ((cap >> 48) & 0xf);
    out->mps_max = 4096u << ((cap >> 52) & 0xf);
}

uint64_t nvme_doorbell_offset(uint16_t qid, bool is_cq, uint32_t dstrd) {
    return NVME_REG_DOORBELLS + (2ull * qid + (is_cq ? 1 : 0)) * (4ull << (dstrd & 0xf));
}

/* ---- PRPs ---- */

int nvme_build_prps(const struct dma_seg *segs, int nsegs, uint64_t *list, phys_addr_t list_phys,
                    struct nvme_prp *out) {
    if (!out)
        return -KEINVAL;
    memset(out, 0, sizeof(*out));
    if (!segs || nsegs <= 0)
        return -KEINVAL;
    if (segs[0].addr & 3)
        return -KEINVAL; /* PRP1's offset must be dword aligned (§4.3) */
    uint64_t pages = 0, second = 0;
    for (int i = 0; i < nsegs; i++) {
        uint64_t addr = segs[i].addr, len = segs[i].len;
        uint64_t end = addr + len;
        if (len == 0 || end < addr)
            return -KEINVAL;
        /* Only the first entry may carry an offset; only the last may end inside a page. */
        if (i > 0 && (addr & (NVME_PAGE_SIZE - 1)))
            return -KEINVAL;
        if (i < nsegs - 1 && (end & (NVME_PAGE_SIZE - 1)))
            return -KEINVAL;
        for (uint64_t page = ALIGN_DOWN(addr, NVME_PAGE_SIZE); page < end; page += NVME_PAGE_SIZE) {
            if (pages == 0) {
                out->prp1 = addr;
            } else {
                if (pages == 1)
                    second = page;
                if (pages - 1 >= NVME_PRP_LIST_ENTRIES)
                    return -KEINVAL;
                if (list)
                    list[pages - 1] = page;
            }
            pages++;
        }
    }
    if (pages == 2) {
        out->prp2 = second;
    } else if (pages > 2) {
        if (!list || (list_phys & (NVME_PAGE_SIZE - 1)) || list_phys == 0)
            return -KEINVAL;
        out->prp2 = list_phys;
        out->list_entries = (uint32_t)(pages - 1);
    }
    return 0;
}

/* ---- commands ---- */

void nvme_build_io_cmd(struct nvme_sqe *sqe, uint8_t opcode, uint16_t cid, uint32_t nsid, uint64_t lba,
                       uint32_t count, const struct nvme_prp *prp) {
    memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = opcode;
    sqe->cid = cid;
    sqe->nsid = nsid;
    if (opcode == NVME_CMD_FLUSH)
        return;
    if (prp) {
        sqe->prp1 = prp->prp1;
        sqe->prp2 = prp->prp2;
    }
    sqe->cdw10 = (uint32_t)lba;          /* SLBA, low dword */
    sqe->cdw11 = (uint32_t)(lba >> 32);  /* SLBA, high dword */
    sqe->cdw12 = (count - 1) & 0xffff;   /* NLB, 0's based */
}

/* ---- completion status ---- */

struct status_name {
    uint8_t sc;
    const char *text;
};

/* SCT 0: Generic Command Status (Base 2.0 figure 102; 80h-84h from the NVM Command Set). */
static const struct status_name generic_status[] = {
    {0x00, "Successful Completion"}, {0x01, "Invalid Command Opcode"}, {0x02, "Invalid Field in Command"},
    {0x03, "Command ID Conflict"}, {0x04, "Data Transfer Error"},
    {0x05, "Commands Aborted due to Power Loss Notification"}, {0x06, "Internal Error"},
    {0x07, "Command Abort Requested"}, {0x08, "Command Aborted due to SQ Deletion"},
    {0x09, "Command Aborted due to Failed Fused Command"}, {0x0a, "Command Aborted due to Missing Fused Command"},
    {0x0b, "Invalid Namespace or Format"}, {0x0c, "Command Sequence Error"},
    {0x0d, "Invalid SGL Segment Descriptor"}, {0x0e, "Invalid Number of SGL Descriptors"},
    {0x0f, "Data SGL Length Invalid"}, {0x10, "Metadata SGL Length Invalid"}, {0x11, "SGL Descriptor Type Invalid"},
    {0x12, "Invalid Use of Controller Memory Buffer"}, {0x13, "PRP Offset Invalid"},
    {0x14, "Atomic Write Unit Exceeded"}, {0x15, "Operation Denied"}, {0x16, "SGL Offset Invalid"},
    {0x18, "Host Identifier Inconsistent Format"}, {0x19, "Keep Alive Timer Expired"},
    {0x1a, "Keep Alive Timeout Invalid"}, {0x1b, "Command Aborted due to Preempt and Abort"},
    {0x1c, "Sanitize Failed"}, {0x1d, "Sanitize In Progress"}, {0x1e, "SGL Data Block Granularity Invalid"},
    {0x1f, "Command Not Supported for Queue in CMB"}, {0x20, "Namespace is Write Protected"},
    {0x21, "Command Interrupted"}, {0x22, "Transient Transport Error"},
    {0x23, "Command Prohibited by Command and Feature Lockdown"}, {0x24, "Admin Command Media Not Ready"},
    {0x80, "LBA Out of Range"}, {0x81, "Capacity Exceeded"}, {0x82, "Namespace Not Ready"},
    {0x83, "Reservation Conflict"}, {0x84, "Format In Progress"},
};

/* SCT 1: Command Specific Status (Base 2.0 figure 103; 80h-82h from the NVM Command Set). */
static const struct status_name command_status[] = {
    {0x00, "Completion Queue Invalid"}, {0x01, "Invalid Queue Identifier"}, {0x02, "Invalid Queue Size"},
    {0x03, "Abort Command Limit Exceeded"}, {0x05, "Asynchronous Event Request Limit Exceeded"},
    {0x06, "Invalid Firmware Slot"}, {0x07, "Invalid Firmware Image"}, {0x08, "Invalid Interrupt Vector"},
    {0x09, "Invalid Log Page"}, {0x0a, "Invalid Format"}, {0x0b, "Firmware Activation Requires Conventional Reset"},
    {0x0c, "Invalid Queue Deletion"}, {0x0d, "Feature Identifier Not Saveable"}, {0x0e, "Feature Not Changeable"},
    {0x0f, "Feature Not Namespace Specific"}, {0x10, "Firmware Activation Requires NVM Subsystem Reset"},
    {0x11, "Firmware Activation Requires Controller Level Reset"},
    {0x12, "Firmware Activation Requires Maximum Time Violation"}, {0x13, "Firmware Activation Prohibited"},
    {0x14, "Overlapping Range"}, {0x15, "Namespace Insufficient Capacity"},
    {0x16, "Namespace Identifier Unavailable"}, {0x18, "Namespace Already Attached"},
    {0x19, "Namespace Is Private"}, {0x1a, "Namespace Not Attached"}, {0x1b, "Thin Provisioning Not Supported"},
    {0x1c, "Controller List Invalid"}, {0x1d, "Device Self-test In Progress"},
    {0x1e, "Boot Partition Write Prohibited"}, {0x1f, "Invalid Controller Identifier"},
    {0x20, "Invalid Secondary Controller State"}, {0x21, "Invalid Number of Controller Resources"},
    {0x22, "Invalid Resource Identifier"}, {0x23, "Sanitize Prohibited While Persistent Memory Region is Enabled"},
    {0x24, "ANA Group Identifier Invalid"}, {0x25, "ANA Attach Failed"}, {0x26, "Insufficient Capacity"},
    {0x27, "Namespace Attachment Limit Exceeded"}, {0x28, "Prohibition of Command Execution Not Supported"},
    {0x29, "I/O Command Set Not Supported"}, {0x2a, "I/O Command Set Not Enabled"},
    {0x2b, "I/O Command Set Combination Rejected"}, {0x2c, "Invalid I/O Command Set"},
    {0x2d, "Identifier Unavailable"},
    {0x80, "Conflicting Attributes"}, {0x81, "Invalid Protection Information"},
    {0x82, "Attempted Write to Read Only Range"},
};

/* SCT 2: Media and Data Integrity Errors (Base 2.0 figure 104). */
static const struct status_name media_status[] = {
    {0x80, "Write Fault"}, {0x81, "Unrecovered Read Error"}, {0x82, "End-to-end Guard Check Error"},
    {0x83, "End-to-end Application Tag Check Error"}, {0x84, "End-to-end Reference Tag Check Error"},
    {0x85, "Compare Failure"}, {0x86, "Access Denied"}, {0x87, "Deallocated or Unwritten Logical Block"},
    {0x88, "End-to-End Storage Tag Check Error"},
};

/* SCT 3: Path Related Status (Base 2.0 figure 105). */
static const struct status_name path_status[] = {
    {0x00, "Internal Path Error"}, {0x01, "Asymmetric Access Persistent Loss"},
    {0x02, "Asymmetric Access Inaccessible"}, {0x03, "Asymmetric Access Transition"},
    {0x60, "Controller Pathing Error"}, {0x61, "Host Pathing Error"}, {0x70, "Command Aborted By Host"},
};

static const char *lookup(const struct status_name *table, size_t n, uint8_t sc) {
    for (size_t i = 0; i < n; i++)
        if (table[i].sc == sc)
            return table[i].text;
    return NULL;
}

const char *nvme_status_text(uint8_t sct, uint8_t sc) {
    const char *text = NULL;
    switch (sct) {
    case 0: text = lookup(generic_status, ARRAY_SIZE(generic_status), sc); break;
    case 1: text = lookup(command_status, ARRAY_SIZE(command_status), sc); break;
    case 2: text = lookup(media_status, ARRAY_SIZE(media_status), sc); break;
    case 3: text = lookup(path_status, ARRAY_SIZE(path_status), sc); break;
    case 7: return "Vendor Specific Status";
    default: break;
    }
    if (text)
        return text;
    /* Vendor specific codes live at C0h-FFh within each type. */
    return sc >= 0xc0 ? "Vendor Specific Status" : "Unknown Status";
}

char *nvme_status_format(uint16_t field, char *buf, size_t size) {
    uint8_t sct = nvme_status_sct(field), sc = nvme_status_sc(field);
    ksnprintf(buf, size, "%s (SCT %u SC 0x%02x)", nvme_status_text(sct, sc), sct, sc);
    return buf;
}

/* ---- Identify data ---- */

/* Copies an ASCII field, printable characters only, trailing spaces and NULs dropped. */
static void copy_ascii(char *dst, const uint8_t *src, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = src[i];
        dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == 0 ? ' ' : '?');
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = 0;
}

int nvme_parse_identify_ctrl(const void *data, uint32_t mps_min, struct nvme_ctrl_info *out) {
    const uint8_t *d = data;
    if (!d || !out || mps_min < 4096 || (mps_min & (mps_min - 1)))
        return -KEINVAL;
    memset(out, 0, sizeof(*out));
    copy_ascii(out->serial, d + 4, 20);
    copy_ascii(out->model, d + 24, 40);
    copy_ascii(out->firmware, d + 64, 8);
    uint8_t mdts = d[77];
    if (mdts) {
        unsigned shift = (unsigned)__builtin_ctz(mps_min) + mdts;
        /* Anything from 2 GiB up is "no practical limit" for us; keep it in 32 bits. */
        out->max_transfer = shift >= 31 ? 0x80000000u : 1u << shift;
    }
    out->namespaces = le32(d + 516);
    out->volatile_cache = d[525] & 1;
    return 0;
}

int nvme_parse_identify_ns(const void *data, struct nvme_ns_info *out) {
    const uint8_t *d = data;
    if (!d || !out)
        return -KEINVAL;
    memset(out, 0, sizeof(*out));
    uint64_t nsze = le64(d + 0), ncap = le64(d + 8);
    if (nsze == 0)
        return -KENOENT;
    uint8_t nlbaf = d[25], flbas = d[26];
    if (nlbaf > 63)
        return -KEINVAL; /* 64 formats at most */
    /* FLBAS: bits 3:0 the format's low bits, bits 6:5 its high bits (more than 16 formats). */
    uint8_t index = (uint8_t)((flbas & 0xf) | ((flbas >> 5) & 3) << 4);
    if (index > nlbaf)
        return -KEINVAL;
    uint32_t lbaf = le32(d + 128 + 4u * index);
    uint16_t metadata = (uint16_t)(lbaf & 0xffff);
    uint8_t lbads = (uint8_t)(lbaf >> 16);
    if (lbads < 9 || lbads > 16)
        return -KEINVAL;
    if (metadata)
        return -KEINVAL;
    if (nsze > (UINT64_MAX >> lbads))
        return -KEINVAL;
    out->sectors = nsze;
    out->capacity = ncap;
    out->sector_size = 1u << lbads;
    out->lbaf = index;
    return 0;
}

int nvme_parse_ns_list(const void *data, uint32_t *ids, int max) {
    const uint8_t *d = data;
    if (!d || (!ids && max > 0) || max < 0)
        return -KEINVAL;
    int n = 0;
    uint32_t prev = 0;
    for (int i = 0; i < 1024; i++) {
        uint32_t id = le32(d + 4 * i);
        if (id == 0)
            break;
        if (id == 0xffffffffu || id <= prev)
            return -KEINVAL;
        prev = id;
        if (n < max)
            ids[n++] = id;
    }
    return n;
}
