/* pci.h: PCI configuration access, enumeration, BARs, capabilities, MSI and MSI-X
 * (PCI Local Bus 3.0, PCI Express Base 4.0 chapter 7, PCI-to-PCI Bridge Architecture 1.2).
 * Enumeration and BAR decoding go through struct pci_cfg_ops so host tests can supply a
 * fake configuration space. */
#pragma once
#include "types.h"

#define PCI_MAX_DEVICES 128
#define PCI_MAX_BRIDGE_DEPTH 8

struct pci_cfg_ops {
    uint32_t (*read32)(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
    void (*write32)(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v);
    void *ctx;
};

enum pci_bar_type { PCI_BAR_NONE = 0, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };
struct pci_bar {
    uint8_t type;         /* enum pci_bar_type */
    bool prefetchable;
    uint64_t base;        /* address the firmware assigned */
    uint64_t size;        /* decoded by writing all ones and reading back */
};

struct pci_device {
    uint8_t bus, dev, fn;
    uint8_t depth;            /* number of bridges between the root and this device */
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type;      /* without the multifunction bit */
    uint8_t irq_line, irq_pin;
    uint8_t secondary_bus;    /* bridges only */
    struct pci_bar bars[6];   /* a 64-bit BAR fills slot i; slot i+1 is PCI_BAR_NONE */
    uint8_t msi_cap, msix_cap, pcie_cap; /* capability offsets, 0 = absent */
    int parent;               /* index of the bridge above it, -1 at the root */
};

struct pci_bus_info {
    int count;
    struct pci_device devs[PCI_MAX_DEVICES];
    bool truncated;           /* more devices than PCI_MAX_DEVICES, or depth limit hit */
};

/* Pure helpers (kernel/drivers/pci/pci_core.c), host-tested.
 * Configuration-space access at byte offset off of bus b, device d, function f; 8- and 16-bit
 * accesses go through the aligned 32-bit register (a 16-bit write to the command register
 * leaves the status register's write-1-to-clear bits alone). */
uint32_t pci_read32(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off);
uint16_t pci_read16(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off);
uint8_t pci_read8(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off);
void pci_write32(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off, uint32_t v);
void pci_write16(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint16_t off, uint16_t v);
/* Decodes and sizes BAR index i of a device (disables decoding while sizing, then restores).
 * Returns how many BAR slots it used (2 for a 64-bit BAR, else 1). The header type decides how
 * many BARs exist (6, 2 for a bridge, 1 for CardBus); a 64-bit BAR in the last one is invalid
 * and, like an index beyond them or a BAR that sizes to 0, gives PCI_BAR_NONE. */
int pci_decode_bar(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, int i, struct pci_bar *out);
/* Finds capability id in the capability list, guarding against loops; 0 if absent. */
uint8_t pci_find_cap(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint8_t cap_id);
/* Enumerates from bus 0 through bridges (depth-limited) into *out. */
void pci_enumerate(const struct pci_cfg_ops *ops, struct pci_bus_info *out);
/* A human name for common QEMU devices, else a class description ("unknown device"). */
const char *pci_device_name(uint16_t vendor, uint16_t device, uint8_t class_code, uint8_t subclass);
/* Like pci_find_cap, but starts after the capability at offset `after` (0 = from the start):
 * walks every capability with the same id (virtio has several vendor capabilities, id 0x09). */
uint8_t pci_find_next_cap(const struct pci_cfg_ops *ops, uint8_t b, uint8_t d, uint8_t f, uint8_t after,
                          uint8_t cap_id);
/* ECAM byte offset of (bus, dev, fn, off) from the bus-0 base (PCIe 4.0 §7.2.2). */
uint64_t pci_ecam_offset(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
/* Value for port 0xCF8, configuration mechanism #1 (PCI 3.0 §3.2.2.3.2); off < 256. */
uint32_t pci_cf8_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
/* "io", "mem32", "mem64" or "none". */
const char *pci_bar_type_name(uint8_t type);

/* Capability ids (PCI Code and ID Assignment Specification, chapter 2). */
#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_PCIE 0x10
#define PCI_CAP_MSIX 0x11
/* Command register bits (PCI 3.0 §6.2.2). */
#define PCI_CMD_IO 0x0001
#define PCI_CMD_MEMORY 0x0002
#define PCI_CMD_BUS_MASTER 0x0004
#define PCI_CMD_INTX_DISABLE 0x0400

/* Kernel side (kernel/drivers/pci/pci.c): ECAM from MCFG, port I/O 0xCF8/0xCFC fallback. */
extern struct pci_bus_info pci_bus;
extern const struct pci_cfg_ops *pci_ops;
/* Chooses ECAM (from the ACPI MCFG) or port I/O and enumerates every bus into pci_bus. */
void pci_init(void);
/* Prints the device tree (ids, names, BARs, bridges' secondary buses) on the consoles. */
void pci_print_tree(void);
/* The nth (0-based) function with these ids, or NULL. */
const struct pci_device *pci_find(uint16_t vendor, uint16_t device, int nth);
/* The nth function with this class and subclass (e.g. 01/06 SATA, 01/08 NVMe), or NULL. */
const struct pci_device *pci_find_class(uint8_t class_code, uint8_t subclass, int nth);
/* "ECAM", "port I/O" or "none" (before pci_init). */
const char *pci_access_method(void);
/* Configuration mechanism #1 through ports 0xCF8/0xCFC, whatever pci_ops is (offsets < 256). */
extern const struct pci_cfg_ops pci_port_io_ops;
/* Sets bits in a function's command register (e.g. PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER). */
void pci_enable_command(const struct pci_device *d, uint16_t bits);
/* Enables MSI with one vector to the given LAPIC destination (fixed delivery, edge), sets INTx
 * disable and bus mastering; returns 0, -KENODEV (no MSI capability) or -KEINVAL (apic_id > 255). */
int pci_enable_msi(const struct pci_device *d, uint8_t vector, uint32_t apic_id);
/* Programs MSI-X table entry `entry` and unmasks it, enables MSI-X (function mask cleared, MSI
 * off, INTx disabled, memory and bus mastering on). Returns 0, -KENODEV (no MSI-X capability),
 * -KEINVAL (entry beyond the table, bad table BAR, apic_id > 255) or -KENOMEM (mapping failed). */
int pci_enable_msix(const struct pci_device *d, unsigned entry, uint8_t vector, uint32_t apic_id);
/* Number of MSI-X table entries of a function, 0 without MSI-X. */
unsigned pci_msix_table_size(const struct pci_device *d);
/* The mapped 16-byte MSI-X table entry (address lo, address hi, data, vector control), or NULL
 * when the function has no MSI-X, the entry is out of range or the table BAR is unusable. */
volatile uint32_t *pci_msix_entry(const struct pci_device *d, unsigned entry);
