/* pci_selftest.c: kernel self-tests (group `pci`) for enumeration, BAR decoding, capability
 * walking, the configuration access methods and MSI-X programming, run against the devices
 * the QEMU launcher attaches on q35: the host bridge 8086:29c0, ICH9 LPC 8086:2918, AHCI
 * 8086:2922, SMBus 8086:2930, a pci-bridge 1b36:0001 with a modern virtio-rng (1af4:1044)
 * behind it, and a modern virtio-net (1af4:1041) at the root (scripts/qemu.sh). Specifications: PCI Local Bus 3.0 chapter 6,
 * PCIe Base 4.0 §7.2.2 and §7.7.2, virtio 1.1 §4.1.4 (virtio PCI capabilities). */
#include "acpi.h"
#include "cpu.h"
#include "irq.h"
#include "kerrno.h"
#include "pci.h"
#include "selftest.h"

/* The launcher attaches virtio-net-pci with disable-legacy=on: the modern-only id 1041. */
static const struct pci_device *virtio_net(void) {
    return pci_find(0x1af4, 0x1041, 0);
}

SELFTEST(pci, q35_devices_found) {
    static const struct { uint16_t vendor, device; const char *what; } want[] = {
        {0x8086, 0x29c0, "Q35 host bridge"}, {0x8086, 0x2918, "ICH9 LPC"},
        {0x8086, 0x2922, "ICH9 AHCI"},       {0x8086, 0x2930, "ICH9 SMBus"},
        {0x1b36, 0x0001, "PCI-to-PCI bridge"}, {0x1af4, 0x1044, "virtio-rng (modern)"},
    };
    ST_ASSERT(t, pci_bus.count > 0, "enumeration found nothing");
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        ST_ASSERT(t, pci_find(want[i].vendor, want[i].device, 0) != NULL, "%s %04x:%04x not found", want[i].what,
                  want[i].vendor, want[i].device);
    ST_ASSERT(t, virtio_net() != NULL, "virtio-net (modern, 1af4:1041) not found");
    const struct pci_device *host = pci_find(0x8086, 0x29c0, 0);
    ST_ASSERT(t, host->bus == 0 && host->dev == 0 && host->fn == 0 && host->class_code == 0x06 && host->subclass == 0,
              "host bridge at %02x:%02x.%x class %02x%02x, expected 00:00.0 class 0600", host->bus, host->dev,
              host->fn, host->class_code, host->subclass);
}

SELFTEST(pci, rng_behind_bridge) {
    const struct pci_device *rng = pci_find(0x1af4, 0x1044, 0);
    ST_ASSERT(t, rng != NULL, "virtio-rng not found");
    ST_ASSERT(t, rng->depth >= 1, "virtio-rng at depth %u, expected behind a bridge", rng->depth);
    ST_ASSERT(t, rng->parent >= 0 && rng->parent < pci_bus.count, "virtio-rng has no parent bridge (%d)", rng->parent);
    const struct pci_device *bridge = &pci_bus.devs[rng->parent];
    ST_ASSERT(t, bridge->header_type == 1 && bridge->class_code == 0x06 && bridge->subclass == 0x04,
              "parent %02x:%02x.%x is not a PCI-to-PCI bridge", bridge->bus, bridge->dev, bridge->fn);
    ST_ASSERT(t, bridge->secondary_bus != 0 && rng->bus == bridge->secondary_bus,
              "virtio-rng on bus %02x but its bridge's secondary bus is %02x", rng->bus, bridge->secondary_bus);
    ST_ASSERT(t, rng->depth == bridge->depth + 1, "depth %u under a bridge at depth %u", rng->depth, bridge->depth);
    /* The live register agrees with what enumeration recorded. */
    uint8_t secondary = pci_read8(pci_ops, bridge->bus, bridge->dev, bridge->fn, 0x19);
    ST_ASSERT(t, secondary == bridge->secondary_bus, "secondary bus register reads %02x", secondary);
}

/* Checks that a virtio modern device has a sane 64-bit memory BAR; returns its index or -1. */
static int check_bar64(struct selftest_ctx *t, const struct pci_device *d, const char *what) {
    for (int i = 0; i < 5; i++) {
        const struct pci_bar *bar = &d->bars[i];
        if (bar->type != PCI_BAR_MEM64)
            continue;
        if (bar->size == 0 || (bar->size & (bar->size - 1)) != 0) {
            selftest_fail(t, "%s BAR%d size %#llx is not a power of two", what, i, (unsigned long long)bar->size);
            return -1;
        }
        if (bar->base == 0 || (bar->base & (bar->size - 1)) != 0) {
            selftest_fail(t, "%s BAR%d base %#llx not aligned to size %#llx", what, i,
                          (unsigned long long)bar->base, (unsigned long long)bar->size);
            return -1;
        }
        if (d->bars[i + 1].type != PCI_BAR_NONE) {
            selftest_fail(t, "%s BAR%d is 64-bit but slot %d is also decoded", what, i, i + 1);
            return -1;
        }
        /* The registers still hold the address after sizing. */
        uint64_t lo = pci_read32(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(0x10 + 4 * i));
        uint64_t hi = pci_read32(pci_ops, d->bus, d->dev, d->fn, (uint16_t)(0x14 + 4 * i));
        if (((hi << 32) | (lo & ~0xfull)) != bar->base) {
            selftest_fail(t, "%s BAR%d reads %#llx after sizing, recorded %#llx", what, i,
                          (unsigned long long)((hi << 32) | (lo & ~0xfull)), (unsigned long long)bar->base);
            return -1;
        }
        return i;
    }
    selftest_fail(t, "%s has no 64-bit memory BAR", what);
    return -1;
}

SELFTEST(pci, bar64_decoded) {
    const struct pci_device *rng = pci_find(0x1af4, 0x1044, 0), *net = virtio_net();
    ST_ASSERT(t, rng && net, "virtio devices missing");
    int rng_bar = check_bar64(t, rng, "virtio-rng");
    ST_ASSERT(t, rng_bar >= 0, "virtio-rng BAR");
    ST_ASSERT(t, check_bar64(t, net, "virtio-net") >= 0, "virtio-net BAR");
    /* QEMU's modern virtio-pci memory BAR holds four 4 KiB capability regions: 16 KiB. */
    ST_ASSERT(t, rng->bars[rng_bar].size == 0x4000, "virtio-rng BAR%d sized %#llx, expected 16 KiB",
              rng_bar, (unsigned long long)rng->bars[rng_bar].size);
    /* Sizing restored the command register: the devices still decode memory if they did. */
    uint16_t cmd = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, 0x04);
    uint16_t status = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, 0x06);
    ST_ASSERT(t, status & 0x10, "virtio-rng status %#x lacks the capability-list bit", status);
    ST_ASSERT(t, cmd != 0xffff, "virtio-rng command register unreadable");
}

SELFTEST(pci, capabilities_walked) {
    const struct pci_device *devs[2] = {pci_find(0x1af4, 0x1044, 0), virtio_net()};
    for (int k = 0; k < 2; k++) {
        const struct pci_device *d = devs[k];
        ST_ASSERT(t, d != NULL, "virtio device %d missing", k);
        ST_ASSERT(t, d->msix_cap >= 0x40 && (d->msix_cap & 3) == 0, "%04x:%04x MSI-X capability at %#x", d->vendor,
                  d->device, d->msix_cap);
        uint8_t id = pci_read8(pci_ops, d->bus, d->dev, d->fn, d->msix_cap);
        ST_ASSERT(t, id == PCI_CAP_MSIX, "capability at %#x has id %#x, not MSI-X", d->msix_cap, id);
        /* virtio 1.1 §4.1.4: common, notify, ISR and PCI-cfg-access vendor capabilities at least. */
        int vendor_caps = 0;
        uint8_t off = 0;
        while ((off = pci_find_next_cap(pci_ops, d->bus, d->dev, d->fn, off, PCI_CAP_VENDOR)) != 0 && vendor_caps < 64)
            vendor_caps++;
        ST_ASSERT(t, vendor_caps >= 4, "%04x:%04x has %d virtio vendor capabilities, expected >= 4", d->vendor,
                  d->device, vendor_caps);
    }
    /* Every recorded capability offset is a plausible one and holds the right id. */
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *d = &pci_bus.devs[i];
        const uint8_t offs[3] = {d->msi_cap, d->msix_cap, d->pcie_cap};
        const uint8_t ids[3] = {PCI_CAP_MSI, PCI_CAP_MSIX, PCI_CAP_PCIE};
        for (int c = 0; c < 3; c++) {
            if (!offs[c])
                continue;
            uint8_t id = pci_read8(pci_ops, d->bus, d->dev, d->fn, offs[c]);
            ST_ASSERT(t, offs[c] >= 0x40 && id == ids[c], "%02x:%02x.%x cap at %#x has id %#x, expected %#x", d->bus,
                      d->dev, d->fn, offs[c], id, ids[c]);
        }
    }
}

SELFTEST(pci, ecam_matches_port_io) {
    if (acpi.mcfg_count > 0)
        ST_ASSERT(t, pci_ops != &pci_port_io_ops, "MCFG present but config access is %s", pci_access_method());
    for (uint16_t off = 0; off < 64; off += 4) {
        uint32_t active = pci_read32(pci_ops, 0, 0, 0, off);
        uint32_t pio = pci_read32(&pci_port_io_ops, 0, 0, 0, off);
        ST_ASSERT(t, active == pio, "00:00.0 offset %#x: %s reads %#x, port I/O %#x", off, pci_access_method(), active,
                  pio);
    }
    /* Every enumerated function, also behind the bridge: ids and class agree both ways. */
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *d = &pci_bus.devs[i];
        for (uint16_t off = 0; off <= 8; off += 8) {
            uint32_t active = pci_read32(pci_ops, d->bus, d->dev, d->fn, off);
            uint32_t pio = pci_read32(&pci_port_io_ops, d->bus, d->dev, d->fn, off);
            ST_ASSERT(t, active == pio, "%02x:%02x.%x offset %#x: %#x vs port I/O %#x", d->bus, d->dev, d->fn, off,
                      active, pio);
        }
    }
}

SELFTEST(pci, msi_errors) {
    const struct pci_device *host = pci_find(0x8086, 0x29c0, 0), *rng = pci_find(0x1af4, 0x1044, 0);
    ST_ASSERT(t, host && rng, "devices missing");
    ST_ASSERT(t, host->msi_cap == 0 && host->msix_cap == 0, "host bridge unexpectedly has MSI/MSI-X");
    int rc = pci_enable_msi(host, VEC_ALLOC_FIRST, 0);
    ST_ASSERT(t, rc == -KENODEV, "pci_enable_msi on the host bridge returned %d", rc);
    rc = pci_enable_msix(host, 0, VEC_ALLOC_FIRST, 0);
    ST_ASSERT(t, rc == -KENODEV, "pci_enable_msix on the host bridge returned %d", rc);
    unsigned size = pci_msix_table_size(rng);
    ST_ASSERT(t, size >= 1 && size <= 2048, "virtio-rng MSI-X table size %u", size);
    uint16_t ctrl_before = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, (uint16_t)(rng->msix_cap + 2));
    rc = pci_enable_msix(rng, size, VEC_ALLOC_FIRST, 0);
    ST_ASSERT(t, rc == -KEINVAL, "entry %u (one past the table) returned %d", size, rc);
    uint16_t ctrl_after = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, (uint16_t)(rng->msix_cap + 2));
    ST_ASSERT(t, ctrl_before == ctrl_after, "a rejected call changed MSI-X control %#x -> %#x", ctrl_before, ctrl_after);
    ST_ASSERT(t, pci_msix_entry(rng, size) == NULL, "pci_msix_entry accepted an entry past the table");
}

/* Programs the last MSI-X entry of virtio-rng, reads it back, then puts everything back. */
SELFTEST(pci, msix_program) {
    const struct pci_device *rng = pci_find(0x1af4, 0x1044, 0);
    ST_ASSERT(t, rng && rng->msix_cap, "virtio-rng with MSI-X missing");
    unsigned entry = pci_msix_table_size(rng) - 1;
    volatile uint32_t *e = pci_msix_entry(rng, entry);
    ST_ASSERT(t, e != NULL, "MSI-X table entry %u not mappable", entry);
    /* A vector of our own, so the programmed entry can never collide with a live one; the
     * entry is masked again before anything could be delivered on it. */
    int vector = irq_alloc_vector();
    ST_ASSERT(t, vector >= VEC_ALLOC_FIRST, "no free vector (%d)", vector);
    uint16_t ctrl_off = (uint16_t)(rng->msix_cap + 2);

    uint64_t flags = irq_save();
    uint16_t saved_cmd = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, 0x04);
    uint16_t saved_ctrl = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, ctrl_off);
    uint32_t saved[4];
    for (int i = 0; i < 4; i++)
        saved[i] = mmio_read32(&e[i]);
    uint32_t apic = lapic_id();
    int rc = pci_enable_msix(rng, entry, (uint8_t)vector, apic);
    uint32_t got[4];
    for (int i = 0; i < 4; i++)
        got[i] = mmio_read32(&e[i]);
    uint16_t ctrl = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, ctrl_off);
    uint16_t cmd = pci_read16(pci_ops, rng->bus, rng->dev, rng->fn, 0x04);
    /* Put it all back: masked entry first, then its old contents, control, command. */
    mmio_write32(&e[3], got[3] | 1u);
    for (int i = 0; i < 3; i++)
        mmio_write32(&e[i], saved[i]);
    mmio_write32(&e[3], saved[3]);
    pci_write16(pci_ops, rng->bus, rng->dev, rng->fn, ctrl_off, saved_ctrl);
    pci_write16(pci_ops, rng->bus, rng->dev, rng->fn, 0x04, saved_cmd);
    irq_restore(flags);
    irq_free_vector(vector);

    ST_ASSERT(t, rc == 0, "pci_enable_msix returned %d", rc);
    ST_ASSERT(t, got[0] == (0xfee00000u | (apic << 12)), "address low %#x, expected %#x", got[0],
              0xfee00000u | (apic << 12));
    ST_ASSERT(t, got[1] == 0, "address high %#x", got[1]);
    ST_ASSERT(t, got[2] == (uint32_t)vector, "data %#x, expected vector %#x", got[2], vector);
    ST_ASSERT(t, (got[3] & 1) == 0, "entry still masked (vector control %#x)", got[3]);
    ST_ASSERT(t, (ctrl & 0x8000) && !(ctrl & 0x4000), "MSI-X control %#x: enable off or function masked", ctrl);
    ST_ASSERT(t, (cmd & (PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE)) ==
                     (PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE),
              "command register %#x lacks memory/bus-master/INTx-disable", cmd);
}

/* Programs MSI on the PCI-to-PCI bridge (it has an MSI capability for hot-plug events and no
 * driver), reads the registers back, then restores them. */
SELFTEST(pci, msi_program) {
    const struct pci_device *br = pci_find(0x1b36, 0x0001, 0);
    ST_ASSERT(t, br && br->msi_cap, "PCI-to-PCI bridge with MSI missing");
    uint8_t b = br->bus, d = br->dev, f = br->fn, cap = br->msi_cap;
    uint64_t flags = irq_save();
    /* The capability's length in dwords: header, address (+ upper), data (+ mask, pending). */
    uint16_t ctrl0 = pci_read16(pci_ops, b, d, f, (uint16_t)(cap + 2));
    int dwords = ((ctrl0 & 0x80) ? 4 : 3) + ((ctrl0 & 0x100) ? 2 : 0);
    uint32_t saved[6];
    for (int i = 0; i < dwords; i++)
        saved[i] = pci_read32(pci_ops, b, d, f, (uint16_t)(cap + 4 * i));
    uint16_t saved_cmd = pci_read16(pci_ops, b, d, f, 0x04);
    uint32_t apic = lapic_id();
    int vector = irq_alloc_vector();
    if (vector < VEC_ALLOC_FIRST) {
        irq_restore(flags);
        ST_ASSERT(t, false, "no free vector (%d)", vector);
    }
    int rc = pci_enable_msi(br, (uint8_t)vector, apic);
    uint16_t ctrl = pci_read16(pci_ops, b, d, f, (uint16_t)(cap + 2));
    bool is_64 = ctrl & 0x80;
    uint32_t addr_lo = pci_read32(pci_ops, b, d, f, (uint16_t)(cap + 4));
    uint32_t addr_hi = is_64 ? pci_read32(pci_ops, b, d, f, (uint16_t)(cap + 8)) : 0;
    uint16_t data = pci_read16(pci_ops, b, d, f, (uint16_t)(cap + (is_64 ? 0x0c : 0x08)));
    uint16_t cmd = pci_read16(pci_ops, b, d, f, 0x04);
    /* Restore: control (MSI off first), the rest, then the control word and command. */
    pci_write16(pci_ops, b, d, f, (uint16_t)(cap + 2), (uint16_t)(ctrl & ~1u));
    for (int i = 1; i < dwords; i++)
        pci_write32(pci_ops, b, d, f, (uint16_t)(cap + 4 * i), saved[i]);
    pci_write16(pci_ops, b, d, f, (uint16_t)(cap + 2), (uint16_t)(saved[0] >> 16));
    pci_write16(pci_ops, b, d, f, 0x04, saved_cmd);
    irq_restore(flags);
    irq_free_vector(vector);

    ST_ASSERT(t, rc == 0, "pci_enable_msi returned %d", rc);
    ST_ASSERT(t, (ctrl & 1) && (ctrl & 0x70) == 0, "MSI control %#x: not enabled with one message", ctrl);
    ST_ASSERT(t, addr_lo == (0xfee00000u | (apic << 12)) && addr_hi == 0, "address %#x:%#x", addr_hi, addr_lo);
    ST_ASSERT(t, data == vector, "data %#x, expected vector %#x", data, vector);
    ST_ASSERT(t, (cmd & (PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE)) == (PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE),
              "command register %#x lacks bus-master/INTx-disable", cmd);
    uint16_t restored = pci_read16(pci_ops, b, d, f, (uint16_t)(cap + 2));
    ST_ASSERT(t, restored == (uint16_t)(saved[0] >> 16), "MSI control not restored: %#x", restored);
}
