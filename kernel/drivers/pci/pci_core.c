/* pci_core.c: the hardware-independent part of PCI: sized configuration reads and writes on top
 * of a 32-bit access method, BAR decoding and sizing, capability-list walking, recursive bus
 * enumeration through PCI-to-PCI bridges, and device names.
 *
 * Follows the PCI Local Bus Specification 3.0 chapter 6 (configuration space: 6.1 header,
 * 6.2.5 base address registers, 6.7 capabilities list), the PCI-to-PCI Bridge Architecture
 * Specification 1.2 chapter 3 (type 1 header, secondary bus number) and the PCI Express Base
 * Specification 4.0 section 7.2.2 (ECAM address layout). All configuration accesses go through
 * struct pci_cfg_ops, so this file has no hardware access and is tested on the host with a fake
 * configuration space (tests/host/test_pci.c). Every loop here is bounded, whatever the
 * configuration space contains. */
#include "pci.h"
#include "kstring.h"

/* Type 0/1 header offsets (PCI 3.0 figure 6-1, bridge spec 1.2 figure 3-1). */
#define CFG_VENDOR 0x00
#define CFG_COMMAND 0x04
#define CFG_STATUS 0x06
#define CFG_REVISION 0x08
#define CFG_HEADER_TYPE 0x0e
#define CFG_BAR0 0x10
#define CFG_SECONDARY_BUS 0x19
#define CFG_CAP_PTR 0x34
#define CFG_CARDBUS_CAP_PTR 0x14
#define CFG_INTERRUPT_LINE 0x3c

#define CAP_LIST_MAX_ENTRIES 48 /* (256 - 64) / 4: more entries than fit means a loop */

uint32_t pci_read32(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off) {
    return ops->read32(ops->ctx, b, d, f, (uint16_t)(off & ~3u));
}

uint16_t pci_read16(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off) {
    return (uint16_t)(pci_read32(ops, b, d, f, off) >> ((off & 2) * 8));
}

uint8_t pci_read8(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off) {
    return (uint8_t)(pci_read32(ops, b, d, f, off) >> ((off & 3) * 8));
}

void pci_write32(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off, uint32_t v) {
    ops->write32(ops->ctx, b, d, f, (uint16_t)(off & ~3u), v);
}

/* A 16-bit write is a read-modify-write of the aligned dword. The status register (0x06) shares
 * its dword with the command register and has write-1-to-clear bits, so when the command
 * register is written its status half is written as zero (writing 0 there changes nothing). */
void pci_write16(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off, uint16_t v) {
    uint16_t aligned = (uint16_t)(off & ~3u);
    unsigned shift = (off & 2) * 8;
    uint32_t old = (aligned == CFG_COMMAND) ? 0 : pci_read32(ops, b, d, f, aligned);
    uint32_t keep = old & ~(0xffffu << shift);
    pci_write32(ops, b, d, f, aligned, keep | ((uint32_t)v << shift));
}

/* Byte offset of a function's configuration space inside an ECAM region that starts at bus 0
 * (PCIe 4.0 §7.2.2, table 7-1): bus in bits 27:20, device 19:15, function 14:12. */
uint64_t pci_ecam_offset(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off) {
    return ((uint64_t)bus << 20) | ((uint64_t)(dev & 31) << 15) | ((uint64_t)(fn & 7) << 12) |
           (off & 0xffcu);
}

/* CONFIG_ADDRESS value for configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): enable bit 31,
 * bus 23:16, device 15:11, function 10:8, dword-aligned register 7:2. */
uint32_t pci_cf8_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off) {
    return 0x80000000u | ((uint32_t)bus << 16) | ((uint32_t)(dev & 31) << 11) |
           ((uint32_t)(fn & 7) << 8) | (off & 0xfcu);
}

/* Lowest set bit of a non-zero mask: the size of a naturally aligned decoder. Taking the
 * lowest bit (not ~mask + 1) keeps the size a power of two even for a device that reports
 * a broken, non-contiguous mask. */
static uint64_t lowest_bit(uint64_t mask) {
    return mask & (~mask + 1);
}

/* Number of BARs a header layout has: 6 (type 0), 2 (type 1 bridge), 1 (type 2 CardBus). */
static int bar_count_of(uint8_t header_type) {
    switch (header_type & 0x7f) {
    case 0: return 6;
    case 1: return 2;
    case 2: return 1;
    default: return 0;
    }
}

/* Decodes BAR i of a header with bar_count BARs; the caller has turned memory and I/O decoding
 * off. Returns the slots used. */
static int decode_bar_quiesced(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, int i,
                               int bar_count, struct pci_bar *out) {
    memset(out, 0, sizeof(*out));
    if (i < 0 || i >= bar_count)
        return 1;
    uint16_t reg = (uint16_t)(CFG_BAR0 + 4 * i);
    uint32_t orig = pci_read32(ops, b, d, f, reg);
    bool is_io = orig & 1;
    unsigned mem_type = (orig >> 1) & 3; /* 0: 32-bit, 1: below 1 MiB (PCI 2.x), 2: 64-bit */
    if (!is_io && mem_type == 3)
        return 1; /* reserved encoding */
    bool is_64 = !is_io && mem_type == 2;
    if (is_64 && i == bar_count - 1)
        return 1; /* the upper half would be outside the BAR area (slot 5, or a bridge's slot 1) */

    pci_write32(ops, b, d, f, reg, 0xffffffffu);
    uint32_t lo_mask = pci_read32(ops, b, d, f, reg);
    pci_write32(ops, b, d, f, reg, orig);
    uint32_t orig_hi = 0, hi_mask = 0;
    if (is_64) {
        orig_hi = pci_read32(ops, b, d, f, (uint16_t)(reg + 4));
        pci_write32(ops, b, d, f, (uint16_t)(reg + 4), 0xffffffffu);
        hi_mask = pci_read32(ops, b, d, f, (uint16_t)(reg + 4));
        pci_write32(ops, b, d, f, (uint16_t)(reg + 4), orig_hi);
    }

    int used = is_64 ? 2 : 1;
    if (is_io) {
        uint32_t mask = lo_mask & ~3u;
        if (mask == 0)
            return used;
        if ((mask & 0xffff0000u) == 0)
            mask |= 0xffff0000u; /* a 16-bit I/O decoder hardwires the upper half to 0 */
        out->type = PCI_BAR_IO;
        out->base = orig & ~3u;
        out->size = lowest_bit(mask);
        return used;
    }
    uint64_t mask = lo_mask & ~0xfu;
    if (is_64)
        mask |= (uint64_t)hi_mask << 32;
    if (mask == 0)
        return used;
    out->type = is_64 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
    out->prefetchable = (orig >> 3) & 1;
    out->base = ((uint64_t)orig_hi << 32) | (orig & ~0xfu);
    out->size = lowest_bit(mask);
    return used;
}

/* Turns memory and I/O decoding off (so the transient all-ones address in a BAR claims no
 * cycles) and returns the command register to restore afterwards. */
static uint16_t quiesce_decoding(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f) {
    uint16_t cmd = pci_read16(ops, b, d, f, CFG_COMMAND);
    if (cmd & 3)
        pci_write16(ops, b, d, f, CFG_COMMAND, (uint16_t)(cmd & ~3u));
    return cmd;
}

static void restore_decoding(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t cmd) {
    if (cmd & 3)
        pci_write16(ops, b, d, f, CFG_COMMAND, cmd);
}

int pci_decode_bar(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, int i, struct pci_bar *out) {
    int bar_count = bar_count_of(pci_read8(ops, b, d, f, CFG_HEADER_TYPE));
    if (i < 0 || i >= bar_count ||
        (i == bar_count - 1 && (pci_read32(ops, b, d, f, (uint16_t)(CFG_BAR0 + 4 * i)) & 7) == 4)) {
        memset(out, 0, sizeof(*out)); /* out of range, or a 64-bit BAR in the last slot */
        return 1;
    }
    uint16_t cmd = quiesce_decoding(ops, b, d, f);
    int used = decode_bar_quiesced(ops, b, d, f, i, bar_count, out);
    restore_decoding(ops, b, d, f, cmd);
    return used;
}

/* Offset of the register holding the first capability pointer, or 0 when the function has no
 * capability list (status bit 4, PCI 3.0 §6.2.3; CardBus bridges keep it at 0x14). */
static uint8_t cap_list_start(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f) {
    if (!(pci_read16(ops, b, d, f, CFG_STATUS) & 0x10))
        return 0;
    uint8_t ht = pci_read8(ops, b, d, f, CFG_HEADER_TYPE) & 0x7f;
    return pci_read8(ops, b, d, f, ht == 2 ? CFG_CARDBUS_CAP_PTR : CFG_CAP_PTR);
}

uint8_t pci_find_next_cap(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint8_t after,
                          uint8_t cap_id) {
    uint8_t ptr;
    if (after == 0) {
        ptr = cap_list_start(ops, b, d, f);
    } else {
        if (!(pci_read16(ops, b, d, f, CFG_STATUS) & 0x10))
            return 0;
        ptr = pci_read8(ops, b, d, f, (uint16_t)(after + 1));
    }
    for (int n = 0; n < CAP_LIST_MAX_ENTRIES; n++) {
        ptr &= 0xfc;
        if (ptr < 0x40)
            return 0; /* end of list (0) or a pointer into the header: stop */
        uint32_t head = pci_read32(ops, b, d, f, ptr);
        if ((head & 0xff) == cap_id)
            return ptr;
        ptr = (uint8_t)(head >> 8);
    }
    return 0; /* more entries than fit in the space: a loop */
}

uint8_t pci_find_cap(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint8_t cap_id) {
    return pci_find_next_cap(ops, b, d, f, 0, cap_id);
}

/* ---- enumeration ---- */

struct enum_state {
    const struct pci_cfg_ops *ops;
    struct pci_bus_info *out;
    uint8_t visited[256 / 8]; /* buses already scanned (or being scanned) */
};

static bool bus_visited(struct enum_state *s, uint8_t bus) {
    return s->visited[bus / 8] & (1u << (bus % 8));
}

static void mark_visited(struct enum_state *s, uint8_t bus) {
    s->visited[bus / 8] |= (uint8_t)(1u << (bus % 8));
}

static bool is_pci_bridge(const struct pci_device *p) {
    /* Class 06: 04 = PCI-to-PCI bridge, 09 = semi-transparent PCI-to-PCI bridge. */
    return p->header_type == 1 && p->class_code == 0x06 && (p->subclass == 0x04 || p->subclass == 0x09);
}

static void scan_bus(struct enum_state *s, uint8_t bus, uint8_t depth, int parent);

/* Records one present function and, for a bridge, scans the bus behind it. */
static void add_function(struct enum_state *s, uint8_t bus, uint8_t dev, uint8_t fn, uint32_t ids,
                         uint8_t depth, int parent) {
    const struct pci_cfg_ops *ops = s->ops;
    struct pci_bus_info *out = s->out;
    if (out->count >= PCI_MAX_DEVICES) {
        out->truncated = true;
        return;
    }
    int index = out->count++;
    struct pci_device *p = &out->devs[index];
    memset(p, 0, sizeof(*p));
    p->bus = bus;
    p->dev = dev;
    p->fn = fn;
    p->depth = depth;
    p->parent = parent;
    p->vendor = (uint16_t)ids;
    p->device = (uint16_t)(ids >> 16);
    uint32_t class_rev = pci_read32(ops, bus, dev, fn, CFG_REVISION);
    p->revision = (uint8_t)class_rev;
    p->prog_if = (uint8_t)(class_rev >> 8);
    p->subclass = (uint8_t)(class_rev >> 16);
    p->class_code = (uint8_t)(class_rev >> 24);
    p->header_type = pci_read8(ops, bus, dev, fn, CFG_HEADER_TYPE) & 0x7f;
    uint16_t irq = pci_read16(ops, bus, dev, fn, CFG_INTERRUPT_LINE);
    p->irq_line = (uint8_t)irq;
    p->irq_pin = (uint8_t)(irq >> 8);

    /* Decoding goes off once for all BARs: every command-register change makes a real (or
     * emulated) host bridge re-route the device's address ranges, which is slow under QEMU. */
    int bar_count = bar_count_of(p->header_type);
    if (bar_count > 0) {
        uint16_t cmd = quiesce_decoding(ops, bus, dev, fn);
        for (int i = 0; i < bar_count;)
            i += decode_bar_quiesced(ops, bus, dev, fn, i, bar_count, &p->bars[i]);
        restore_decoding(ops, bus, dev, fn, cmd);
    }

    p->msi_cap = pci_find_cap(ops, bus, dev, fn, 0x05);
    p->msix_cap = pci_find_cap(ops, bus, dev, fn, 0x11);
    p->pcie_cap = pci_find_cap(ops, bus, dev, fn, 0x10);

    if (!is_pci_bridge(p))
        return;
    uint8_t secondary = pci_read8(ops, bus, dev, fn, CFG_SECONDARY_BUS);
    p->secondary_bus = secondary;
    if (secondary == 0 || bus_visited(s, secondary) || depth + 1 > PCI_MAX_BRIDGE_DEPTH) {
        out->truncated = true; /* unconfigured, looping or too deep: not followed */
        return;
    }
    mark_visited(s, secondary);
    scan_bus(s, secondary, (uint8_t)(depth + 1), index);
}

/* Vendor ID 0xffff is what an absent function returns; 0 is never assigned either. */
static bool vendor_present(uint32_t ids) {
    uint16_t vendor = (uint16_t)ids;
    return vendor != 0xffff && vendor != 0;
}

static void scan_bus(struct enum_state *s, uint8_t bus, uint8_t depth, int parent) {
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t ids = pci_read32(s->ops, bus, dev, 0, CFG_VENDOR);
        if (!vendor_present(ids))
            continue;
        bool multifunction = pci_read8(s->ops, bus, dev, 0, CFG_HEADER_TYPE) & 0x80;
        add_function(s, bus, dev, 0, ids, depth, parent);
        for (uint8_t fn = 1; multifunction && fn < 8; fn++) {
            ids = pci_read32(s->ops, bus, dev, fn, CFG_VENDOR);
            if (vendor_present(ids))
                add_function(s, bus, dev, fn, ids, depth, parent);
        }
    }
}

void pci_enumerate(const struct pci_cfg_ops *ops, struct pci_bus_info *out) {
    struct enum_state s;
    memset(&s, 0, sizeof(s));
    s.ops = ops;
    s.out = out;
    out->count = 0;
    out->truncated = false;
    mark_visited(&s, 0);
    scan_bus(&s, 0, 0, -1);
}

/* ---- names ---- */

struct pci_name { uint16_t vendor, device; const char *name; };

static const struct pci_name known_devices[] = {
    {0x8086, 0x29c0, "Q35 host bridge"},
    {0x8086, 0x2918, "ICH9 LPC/ISA bridge"},
    {0x8086, 0x2922, "ICH9 AHCI SATA controller"},
    {0x8086, 0x2930, "ICH9 SMBus controller"},
    {0x8086, 0x10d3, "Intel 82574L (e1000e)"},
    {0x8086, 0x100e, "Intel 82540EM (e1000)"},
    {0x8086, 0x2415, "Intel 82801AA AC97 audio"},
    {0x8086, 0x293e, "ICH9 HD audio"},
    {0x8086, 0x7000, "PIIX3 ISA bridge"},
    {0x8086, 0x7010, "PIIX3 IDE controller"},
    {0x8086, 0x7113, "PIIX4 ACPI/SMBus"},
    {0x8086, 0x1237, "i440FX host bridge"},
    {0x1234, 0x1111, "QEMU standard VGA"},
    {0x1b36, 0x0001, "QEMU PCI-to-PCI bridge"},
    {0x1b36, 0x000c, "QEMU PCIe root port"},
    {0x1b36, 0x000d, "QEMU XHCI USB controller"},
    {0x1b36, 0x0010, "QEMU NVMe controller"},
    {0x1af4, 0x1000, "virtio-net (legacy)"},
    {0x1af4, 0x1041, "virtio-net"},
    {0x1af4, 0x1001, "virtio-blk (legacy)"},
    {0x1af4, 0x1042, "virtio-blk"},
    {0x1af4, 0x1005, "virtio-rng (legacy)"},
    {0x1af4, 0x1044, "virtio-rng"},
    {0x1af4, 0x1009, "virtio-9p (legacy)"},
    {0x1af4, 0x1049, "virtio-9p"},
    {0x1af4, 0x1050, "virtio-gpu"},
};

struct pci_class_name { uint8_t class_code, subclass; const char *name; };

/* Subclass-specific names first; subclass 0xff entries are the class-wide fallbacks
 * (PCI Code and ID Assignment Specification, chapter 1). */
static const struct pci_class_name class_names[] = {
    {0x01, 0x00, "SCSI controller"},      {0x01, 0x01, "IDE controller"},
    {0x01, 0x05, "ATA controller"},       {0x01, 0x06, "SATA controller"},
    {0x01, 0x08, "NVM controller"},       {0x01, 0xff, "mass storage controller"},
    {0x02, 0x00, "Ethernet controller"},  {0x02, 0xff, "network controller"},
    {0x03, 0x00, "VGA controller"},       {0x03, 0xff, "display controller"},
    {0x04, 0x01, "audio device"},         {0x04, 0x03, "HD audio controller"},
    {0x04, 0xff, "multimedia device"},    {0x05, 0xff, "memory controller"},
    {0x06, 0x00, "host bridge"},          {0x06, 0x01, "ISA bridge"},
    {0x06, 0x04, "PCI-to-PCI bridge"},    {0x06, 0x09, "PCI-to-PCI bridge"},
    {0x06, 0xff, "bridge"},               {0x07, 0x00, "serial controller"},
    {0x07, 0xff, "communication controller"}, {0x08, 0xff, "system peripheral"},
    {0x09, 0xff, "input device"},         {0x0a, 0xff, "docking station"},
    {0x0b, 0xff, "processor"},            {0x0c, 0x03, "USB controller"},
    {0x0c, 0x05, "SMBus controller"},     {0x0c, 0xff, "serial bus controller"},
    {0x0d, 0xff, "wireless controller"},  {0x0e, 0xff, "intelligent I/O controller"},
    {0x0f, 0xff, "satellite controller"}, {0x10, 0xff, "encryption controller"},
    {0x11, 0xff, "signal processing controller"}, {0x12, 0xff, "processing accelerator"},
};

const char *pci_device_name(uint16_t vendor, uint16_t device, uint8_t class_code, uint8_t subclass) {
    for (size_t i = 0; i < ARRAY_SIZE(known_devices); i++)
        if (known_devices[i].vendor == vendor && known_devices[i].device == device)
            return known_devices[i].name;
    const char *fallback = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(class_names); i++) {
        if (class_names[i].class_code != class_code)
            continue;
        if (class_names[i].subclass == subclass)
            return class_names[i].name;
        if (class_names[i].subclass == 0xff)
            fallback = class_names[i].name;
    }
    return fallback ? fallback : "unknown device";
}

/* Short name of a BAR type for listings. */
const char *pci_bar_type_name(uint8_t type) {
    switch (type) {
    case PCI_BAR_IO: return "io";
    case PCI_BAR_MEM32: return "mem32";
    case PCI_BAR_MEM64: return "mem64";
    default: return "none";
    }
}
