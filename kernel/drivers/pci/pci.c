/* pci.c: the kernel side of PCI: the configuration access methods (ECAM from the ACPI MCFG
 * table, PCI Express Base Specification 4.0 §7.2.2; configuration mechanism #1 through ports
 * 0xCF8/0xCFC, PCI Local Bus Specification 3.0 §3.2.2.3.2, as fallback), enumeration at boot
 * into pci_bus (the ECAM window is mapped one bus at a time, on first use), the device listing
 * (`lspci`), lookups, and MSI / MSI-X programming (PCI 3.0 §6.8.1, PCIe 4.0 §7.7.1 and §7.7.2;
 * message address and data format from the Intel SDM vol. 3 §11.11). Everything that does not touch hardware lives in pci_core.c. */
#include "pci.h"
#include "acpi.h"
#include "cpu.h"
#include "kerrno.h"
#include "kprintf.h"
#include "mm.h"
#include "printk.h"

struct pci_bus_info pci_bus;
const struct pci_cfg_ops *pci_ops;

/* ---- configuration mechanism #1 (port I/O) ---- */

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

/* The address/data port pair is shared state: one access at a time, on any CPU. */
static volatile bool cf8_lock;

static uint64_t cf8_acquire(void) {
    uint64_t flags = irq_save();
    while (__atomic_test_and_set(&cf8_lock, __ATOMIC_ACQUIRE))
        cpu_relax();
    return flags;
}

static void cf8_release(uint64_t flags) {
    __atomic_clear(&cf8_lock, __ATOMIC_RELEASE);
    irq_restore(flags);
}

static uint32_t pio_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off) {
    (void)ctx;
    if (off >= 256 || dev >= 32 || fn >= 8)
        return 0xffffffffu;
    uint64_t flags = cf8_acquire();
    outl(PCI_CONFIG_ADDRESS, pci_cf8_address(bus, dev, fn, off));
    uint32_t v = inl(PCI_CONFIG_DATA);
    cf8_release(flags);
    return v;
}

static void pio_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v) {
    (void)ctx;
    if (off >= 256 || dev >= 32 || fn >= 8)
        return;
    uint64_t flags = cf8_acquire();
    outl(PCI_CONFIG_ADDRESS, pci_cf8_address(bus, dev, fn, off));
    outl(PCI_CONFIG_DATA, v);
    cf8_release(flags);
}

const struct pci_cfg_ops pci_port_io_ops = {pio_read32, pio_write32, NULL};

/* ---- ECAM (memory-mapped configuration) ---- */

/* The MCFG window is mapped one bus (1 MiB) at a time, when a bus is first touched: mapping
 * all 256 MiB up front costs about 33 ms of page-table work under TCG, for buses that mostly
 * do not exist. */
struct ecam_window {
    uint64_t base;                        /* physical address of bus 0's configuration space */
    uint8_t bus_start, bus_end;
    volatile uint8_t *bus_va[256];        /* mapped configuration space of each bus, or NULL */
};

static struct ecam_window ecam;

static volatile uint32_t *ecam_reg(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off) {
    if (bus < ecam.bus_start || bus > ecam.bus_end || dev >= 32 || fn >= 8 || off >= 4096)
        return NULL; /* outside the window: behaves like an absent function */
    volatile uint8_t *va = __atomic_load_n(&ecam.bus_va[bus], __ATOMIC_ACQUIRE);
    if (!va) {
        /* Two CPUs may race here; both install the same mapping, which is harmless. */
        va = vmm_map_mmio(ecam.base + pci_ecam_offset(bus, 0, 0, 0), MiB(1));
        if (!va)
            return NULL;
        __atomic_store_n(&ecam.bus_va[bus], va, __ATOMIC_RELEASE);
    }
    return (volatile uint32_t *)(va + pci_ecam_offset(0, dev, fn, off));
}

static uint32_t ecam_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off) {
    (void)ctx;
    volatile uint32_t *reg = ecam_reg(bus, dev, fn, off);
    return reg ? mmio_read32(reg) : 0xffffffffu;
}

static void ecam_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v) {
    (void)ctx;
    volatile uint32_t *reg = ecam_reg(bus, dev, fn, off);
    if (reg)
        mmio_write32(reg, v);
}

static const struct pci_cfg_ops ecam_ops = {ecam_read32, ecam_write32, NULL};

/* Maps the MCFG window of segment 0; true when ECAM is usable. */
static bool ecam_setup(void) {
    const struct acpi_mcfg *m = NULL;
    for (int i = 0; i < acpi.mcfg_count && i < ACPI_MAX_MCFG; i++) {
        if (acpi.mcfg[i].segment == 0) {
            m = &acpi.mcfg[i];
            break;
        }
    }
    if (!m) {
        if (acpi.mcfg_count > 0)
            pr_warn("pci: MCFG has no entry for segment 0\n");
        return false;
    }
    if (m->bus_end < m->bus_start || m->base == 0 || (m->base & 0xfffff) != 0) {
        pr_warn("pci: MCFG entry for segment 0 is malformed (base %#llx, buses %u-%u)\n",
                (unsigned long long)m->base, m->bus_start, m->bus_end);
        return false;
    }
    ecam.base = m->base;
    ecam.bus_start = m->bus_start;
    ecam.bus_end = m->bus_end;
    /* Cross-check one function both ways: a bogus MCFG must not hide every device. */
    if (m->bus_start == 0) {
        uint32_t via_ecam = ecam_read32(NULL, 0, 0, 0, 0);
        uint32_t via_pio = pio_read32(NULL, 0, 0, 0, 0);
        if ((uint16_t)via_ecam == 0xffff && (uint16_t)via_pio != 0xffff) {
            pr_warn("pci: ECAM reads nothing at 00:00.0 (or cannot be mapped) but port I/O does; "
                    "not using ECAM\n");
            return false;
        }
    }
    pr_info("pci: configuration access through ECAM at %#llx, buses %u-%u\n",
            (unsigned long long)m->base, m->bus_start, m->bus_end);
    return true;
}

const char *pci_access_method(void) {
    if (pci_ops == &ecam_ops)
        return "ECAM";
    if (pci_ops == &pci_port_io_ops)
        return "port I/O";
    return "none";
}

void pci_init(void) {
    if (acpi.mcfg_count > 0 && ecam_setup()) {
        pci_ops = &ecam_ops;
    } else {
        pci_ops = &pci_port_io_ops;
        pr_info("pci: configuration access through port I/O 0xcf8/0xcfc (mechanism #1)\n");
    }
    pci_enumerate(pci_ops, &pci_bus);
    pr_info("pci: %d functions found%s\n", pci_bus.count,
            pci_bus.truncated ? " (listing truncated: too many, too deep or looping bridges)" : "");
    /* The tree itself is printed once, in the boot banner (and by `lspci`). */
}

/* ---- listing and lookups ---- */

/* Formats a size as "16 KiB" style text. */
static void format_size(char *buf, size_t len, uint64_t size) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u + 1 < ARRAY_SIZE(units) && size >= 1024 && (size & 1023) == 0) {
        size >>= 10;
        u++;
    }
    ksnprintf(buf, len, "%llu %s", (unsigned long long)size, units[u]);
}

void pci_print_tree(void) {
    static const char spaces[] = "                                ";
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        int indent = MIN(2 * p->depth, (int)sizeof(spaces) - 1);
        kprintf("%.*s%02x:%02x.%x %04x:%04x [%02x%02x] %s%s%s%s\n", indent, spaces, p->bus, p->dev, p->fn,
                p->vendor, p->device, p->class_code, p->subclass,
                pci_device_name(p->vendor, p->device, p->class_code, p->subclass),
                p->msi_cap ? " msi" : "", p->msix_cap ? " msi-x" : "", p->pcie_cap ? " pcie" : "");
        if (p->header_type == 1)
            kprintf("%.*s  secondary bus %02x\n", indent, spaces, p->secondary_bus);
        for (int b = 0; b < 6; b++) {
            const struct pci_bar *bar = &p->bars[b];
            if (bar->type == PCI_BAR_NONE)
                continue;
            char size[24];
            format_size(size, sizeof(size), bar->size);
            kprintf("%.*s  BAR%d %s%s base %#llx size %s\n", indent, spaces, b, pci_bar_type_name(bar->type),
                    bar->prefetchable ? " prefetchable" : "", (unsigned long long)bar->base, size);
        }
    }
    if (pci_bus.truncated)
        kprintf("(listing truncated)\n");
}

const struct pci_device *pci_find(uint16_t vendor, uint16_t device, int nth) {
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (p->vendor == vendor && p->device == device && nth-- == 0)
            return p;
    }
    return NULL;
}

const struct pci_device *pci_find_class(uint8_t class_code, uint8_t subclass, int nth) {
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *p = &pci_bus.devs[i];
        if (p->class_code == class_code && p->subclass == subclass && nth-- == 0)
            return p;
    }
    return NULL;
}

void pci_enable_command(const struct pci_device *d, uint16_t bits) {
    if (!pci_ops || !d)
        return;
    uint16_t cmd = pci_read16(pci_ops, d->bus, d->dev, d->fn, 0x04);
    if ((cmd & bits) != bits)
        pci_write16(pci_ops, d->bus, d->dev, d->fn, 0x04, (uint16_t)(cmd | bits));
}

/* ---- MSI and MSI-X ---- */

/* Message address for a fixed, physical-destination interrupt to one xAPIC (SDM vol. 3 §11.11.1). */
static uint32_t msi_address(uint32_t apic_id) {
    return 0xfee00000u | (apic_id << 12);
}

/* MSI-X control: bits 10:0 table size - 1, bit 14 function mask, bit 15 enable (PCIe §7.7.2.2). */
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FUNCTION_MASK 0x4000
/* MSI control: bit 0 enable, 6:4 multiple message enable, bit 7 64-bit, bit 8 per-vector mask. */
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_MME 0x0070
#define MSI_CTRL_64BIT 0x0080
#define MSI_CTRL_MASKABLE 0x0100

static void msix_disable(const struct pci_device *d) {
    if (!d->msix_cap)
        return;
    uint16_t ctrl = pci_read16(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(d->msix_cap + 2));
    if (ctrl & MSIX_CTRL_ENABLE)
        pci_write16(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(d->msix_cap + 2), ctrl & ~MSIX_CTRL_ENABLE);
}

static void msi_disable(const struct pci_device *d) {
    if (!d->msi_cap)
        return;
    uint16_t ctrl = pci_read16(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(d->msi_cap + 2));
    if (ctrl & MSI_CTRL_ENABLE)
        pci_write16(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(d->msi_cap + 2), ctrl & ~MSI_CTRL_ENABLE);
}

int pci_enable_msi(const struct pci_device *d, uint8_t vector, uint32_t apic_id) {
    if (!pci_ops || !d || !d->msi_cap)
        return -KENODEV;
    if (apic_id > 255)
        return -KEINVAL; /* needs x2APIC interrupt remapping, which we do not do */
    uint8_t b = d->bus, dv = d->dev, f = d->fn, cap = d->msi_cap;
    uint16_t ctrl = pci_read16(pci_ops, b, dv, f, (uint16_t)(cap + 2));
    /* Program with MSI off, then turn it on with exactly one message. */
    if (ctrl & MSI_CTRL_ENABLE)
        pci_write16(pci_ops, b, dv, f, (uint16_t)(cap + 2), ctrl & ~MSI_CTRL_ENABLE);
    msix_disable(d);
    bool is_64 = ctrl & MSI_CTRL_64BIT;
    uint16_t data_off = (uint16_t)(cap + (is_64 ? 0x0c : 0x08));
    uint16_t mask_off = (uint16_t)(cap + (is_64 ? 0x10 : 0x0c));
    pci_write32(pci_ops, b, dv, f, (uint16_t)(cap + 4), msi_address(apic_id));
    if (is_64)
        pci_write32(pci_ops, b, dv, f, (uint16_t)(cap + 8), 0);
    /* Data: vector in 7:0, delivery mode fixed (10:8 = 0), edge (bit 15 = 0). */
    pci_write16(pci_ops, b, dv, f, data_off, vector);
    if (ctrl & MSI_CTRL_MASKABLE) {
        uint32_t mask = pci_read32(pci_ops, b, dv, f, mask_off);
        pci_write32(pci_ops, b, dv, f, mask_off, mask & ~1u);
    }
    /* MSI is a memory write by the function: it needs bus mastering; INTx goes quiet. */
    pci_enable_command(d, PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE);
    ctrl = (uint16_t)((ctrl & ~MSI_CTRL_MME) | MSI_CTRL_ENABLE);
    pci_write16(pci_ops, b, dv, f, (uint16_t)(cap + 2), ctrl);
    return 0;
}

unsigned pci_msix_table_size(const struct pci_device *d) {
    if (!pci_ops || !d || !d->msix_cap)
        return 0;
    return (pci_read16(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(d->msix_cap + 2)) & 0x7ff) + 1u;
}

volatile uint32_t *pci_msix_entry(const struct pci_device *d, unsigned entry) {
    unsigned size = pci_msix_table_size(d);
    if (entry >= size)
        return NULL;
    uint32_t table = pci_read32(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(d->msix_cap + 4));
    unsigned bir = table & 7;
    uint64_t offset = table & ~7u;
    if (bir > 5)
        return NULL;
    const struct pci_bar *bar = &d->bars[bir];
    if ((bar->type != PCI_BAR_MEM32 && bar->type != PCI_BAR_MEM64) || bar->base == 0 ||
        offset + (uint64_t)size * 16 > bar->size)
        return NULL;
    uint64_t pa = bar->base + offset + (uint64_t)entry * 16;
    uint64_t page = ALIGN_DOWN(pa, PAGE_SIZE);
    uint8_t *va = vmm_map_mmio(page, ALIGN_UP(pa + 16 - page, PAGE_SIZE)); /* may straddle pages */
    if (!va)
        return NULL;
    return (volatile uint32_t *)(va + (pa - page));
}

int pci_enable_msix(const struct pci_device *d, unsigned entry, uint8_t vector, uint32_t apic_id) {
    if (!pci_ops || !d || !d->msix_cap)
        return -KENODEV;
    if (apic_id > 255 || entry >= pci_msix_table_size(d))
        return -KEINVAL;
    volatile uint32_t *e = pci_msix_entry(d, entry);
    if (!e)
        return -KEINVAL;
    /* The table lives in memory space: decoding must be on before it can be touched. */
    pci_enable_command(d, PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE);
    msi_disable(d);
    /* Change the entry only while it is masked (PCIe §7.7.2: vector control bit 0). */
    mmio_write32(&e[3], mmio_read32(&e[3]) | 1u);
    mmio_write32(&e[0], msi_address(apic_id));
    mmio_write32(&e[1], 0);
    mmio_write32(&e[2], vector); /* fixed delivery, edge */
    uint16_t ctrl_off = (uint16_t)(d->msix_cap + 2);
    uint16_t ctrl = pci_read16(pci_ops, d->bus, d->dev, d->fn, ctrl_off);
    uint16_t want = (uint16_t)((ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_FUNCTION_MASK);
    if (ctrl != want)
        pci_write16(pci_ops, d->bus, d->dev, d->fn, ctrl_off, want);
    mmio_write32(&e[3], mmio_read32(&e[3]) & ~1u);
    (void)mmio_read32(&e[3]); /* flush the posted writes */
    return 0;
}
