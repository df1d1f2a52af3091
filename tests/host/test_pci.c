/* test_pci.c: host unit tests for kernel/drivers/pci/pci_core.c (sized configuration access,
 * BAR decoding and sizing per PCI Local Bus 3.0 §6.2.5, capability lists per §6.7, enumeration
 * through PCI-to-PCI bridges per the Bridge Architecture Specification 1.2, names).
 * The configuration space is a fake: one 4 KiB array per present function, BAR registers that
 * keep only their writable bits (so writing all ones reads back the size mask, as hardware
 * does), a command register, and a status register with write-1-to-clear bits. */
#include "host_stubs.h"
#include "../../kernel/drivers/pci/pci_core.c"

/* ---- the fake configuration space ---- */

struct fake_fn {
    uint8_t cfg[4096];
    uint32_t bar_mask[6];      /* writable bits of each BAR register; 0 = not implemented */
    bool sized_while_decoding; /* all ones written to a BAR while memory/I/O decoding was on */
    int command_writes;
};

struct fake_pci {
    struct fake_fn *fns[256][32][8];
    unsigned long reads, writes;
};

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static int bar_registers(const struct fake_fn *f) {
    uint8_t ht = f->cfg[0x0e] & 0x7f;
    return ht == 0 ? 6 : ht == 1 ? 2 : ht == 2 ? 1 : 0;
}

static uint32_t fake_read32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off) {
    struct fake_pci *fp = ctx;
    fp->reads++;
    assert_true((off & 3) == 0 && off < 4096 && dev < 32 && fn < 8);
    struct fake_fn *f = fp->fns[bus][dev][fn];
    return f ? get32(&f->cfg[off]) : 0xffffffffu;
}

static void fake_write32(void *ctx, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v) {
    struct fake_pci *fp = ctx;
    fp->writes++;
    assert_true((off & 3) == 0 && off < 4096 && dev < 32 && fn < 8);
    struct fake_fn *f = fp->fns[bus][dev][fn];
    if (!f)
        return;
    if (off == 0x00 || off == 0x08)
        return; /* identification and class are read-only */
    if (off == 0x04) {
        uint16_t status = (uint16_t)(get32(&f->cfg[4]) >> 16);
        status &= (uint16_t)~((v >> 16) & 0xf900); /* RW1C error bits */
        f->command_writes++;
        put16(&f->cfg[4], (uint16_t)v);
        put16(&f->cfg[6], status);
        return;
    }
    if (off >= 0x10 && off < 0x10 + 4 * bar_registers(f)) {
        int i = (off - 0x10) / 4;
        uint16_t cmd = (uint16_t)get32(&f->cfg[4]);
        if (v == 0xffffffffu && (cmd & 3))
            f->sized_while_decoding = true;
        uint32_t old = get32(&f->cfg[off]);
        put32(&f->cfg[off], (v & f->bar_mask[i]) | (old & ~f->bar_mask[i]));
        return;
    }
    put32(&f->cfg[off], v);
}

static struct fake_pci *fake_new(void) {
    struct fake_pci *fp = calloc(1, sizeof(*fp));
    assert_non_null(fp);
    return fp;
}

static void fake_free(struct fake_pci *fp) {
    for (int b = 0; b < 256; b++)
        for (int d = 0; d < 32; d++)
            for (int f = 0; f < 8; f++)
                free(fp->fns[b][d][f]);
    free(fp);
}

static struct pci_cfg_ops fake_ops(struct fake_pci *fp) {
    struct pci_cfg_ops ops = {fake_read32, fake_write32, fp};
    return ops;
}

/* A function with memory, I/O and bus mastering enabled (what firmware leaves behind). */
static struct fake_fn *fake_add(struct fake_pci *fp, int bus, int dev, int fn, uint16_t vendor, uint16_t device,
                                uint8_t class_code, uint8_t subclass, uint8_t header_type) {
    struct fake_fn *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    put16(&f->cfg[0], vendor);
    put16(&f->cfg[2], device);
    put32(&f->cfg[8], (uint32_t)class_code << 24 | (uint32_t)subclass << 16 | 0x01);
    f->cfg[0x0e] = header_type;
    put16(&f->cfg[4], 0x0007);
    fp->fns[bus][dev][fn] = f;
    return f;
}

static struct fake_fn *fake_bridge(struct fake_pci *fp, int bus, int dev, uint8_t secondary) {
    struct fake_fn *f = fake_add(fp, bus, dev, 0, 0x1b36, 0x0001, 0x06, 0x04, 0x01);
    f->cfg[0x18] = (uint8_t)bus;
    f->cfg[0x19] = secondary;
    f->cfg[0x1a] = secondary;
    return f;
}

static void fake_bar32(struct fake_fn *f, int i, uint32_t base, uint32_t size, bool prefetch) {
    put32(&f->cfg[0x10 + 4 * i], base | (prefetch ? 8u : 0u));
    f->bar_mask[i] = ~(size - 1) & 0xfffffff0u;
}

static void fake_bar64(struct fake_fn *f, int i, uint64_t base, uint64_t size, bool prefetch) {
    uint64_t mask = ~(size - 1);
    put32(&f->cfg[0x10 + 4 * i], (uint32_t)base | 4u | (prefetch ? 8u : 0u));
    put32(&f->cfg[0x14 + 4 * i], (uint32_t)(base >> 32));
    f->bar_mask[i] = (uint32_t)mask & 0xfffffff0u;
    if (i + 1 < 6)
        f->bar_mask[i + 1] = (uint32_t)(mask >> 32);
}

static void fake_bario(struct fake_fn *f, int i, uint32_t base, uint32_t size, bool decoder_16bit) {
    put32(&f->cfg[0x10 + 4 * i], base | 1u);
    f->bar_mask[i] = ~(size - 1) & (decoder_16bit ? 0x0000fffcu : 0xfffffffcu);
}

/* Starts the capability list at `first` (status bit 4 set). */
static void fake_caps(struct fake_fn *f, uint8_t first) {
    f->cfg[6] |= 0x10;
    f->cfg[0x34] = first;
}

static void fake_cap(struct fake_fn *f, uint8_t off, uint8_t id, uint8_t next) {
    f->cfg[off] = id;
    f->cfg[off + 1] = next;
}

static uint16_t cmd_of(const struct fake_fn *f) {
    return (uint16_t)get32(&f->cfg[4]);
}

/* ---- sized access ---- */

static void test_sized_access(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    struct pci_cfg_ops ops = fake_ops(fp);
    struct fake_fn *f = fake_add(fp, 0, 3, 0, 0x8086, 0x2922, 0x01, 0x06, 0x00);
    put32(&f->cfg[0x40], 0x44332211);
    assert_int_equal(pci_read32(&ops, 0, 3, 0, 0x00), 0x29228086);
    assert_int_equal(pci_read16(&ops, 0, 3, 0, 0x00), 0x8086);
    assert_int_equal(pci_read16(&ops, 0, 3, 0, 0x02), 0x2922);
    assert_int_equal(pci_read8(&ops, 0, 3, 0, 0x40), 0x11);
    assert_int_equal(pci_read8(&ops, 0, 3, 0, 0x41), 0x22);
    assert_int_equal(pci_read8(&ops, 0, 3, 0, 0x42), 0x33);
    assert_int_equal(pci_read8(&ops, 0, 3, 0, 0x43), 0x44);
    assert_int_equal(pci_read32(&ops, 0, 3, 0, 0x42), 0x44332211); /* aligned down */
    pci_write16(&ops, 0, 3, 0, 0x42, 0xbeef);
    assert_int_equal(get32(&f->cfg[0x40]), 0xbeef2211);
    pci_write16(&ops, 0, 3, 0, 0x40, 0x1234);
    assert_int_equal(get32(&f->cfg[0x40]), 0xbeef1234);
    /* Writing the command register must not clear the status register's RW1C error bits. */
    put16(&f->cfg[6], 0x8010);
    pci_write16(&ops, 0, 3, 0, 0x04, 0x0406);
    assert_int_equal(cmd_of(f), 0x0406);
    assert_int_equal(get32(&f->cfg[4]) >> 16, 0x8010);
    assert_int_equal(pci_read16(&ops, 0, 3, 0, 0x06), 0x8010);
    /* An absent function reads all ones at every width. */
    assert_int_equal(pci_read16(&ops, 0, 4, 0, 0x00), 0xffff);
    assert_int_equal(pci_read8(&ops, 0, 4, 0, 0x0e), 0xff);
    fake_free(fp);
}

static void test_address_helpers(void **state) {
    (void)state;
    assert_int_equal(pci_ecam_offset(0, 0, 0, 0), 0);
    assert_int_equal(pci_ecam_offset(1, 2, 3, 0x104), (1u << 20) | (2u << 15) | (3u << 12) | 0x104);
    assert_int_equal(pci_ecam_offset(255, 31, 7, 0xffc), 0x0ffffffcu);
    assert_int_equal(pci_ecam_offset(0, 0, 0, 0x107), 0x104); /* dword aligned */
    assert_int_equal(pci_cf8_address(0, 0, 0, 0), 0x80000000u);
    assert_int_equal(pci_cf8_address(2, 31, 7, 0xfe), 0x8002fffcu);
    assert_int_equal(pci_cf8_address(1, 3, 1, 0x10), 0x80011910u);
}

/* ---- BAR decoding ---- */

static void test_bar_decode(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    struct pci_cfg_ops ops = fake_ops(fp);
    struct fake_fn *f = fake_add(fp, 0, 2, 0, 0x1af4, 0x1041, 0x02, 0x00, 0x00);
    fake_bario(f, 0, 0xc040, 32, false);
    fake_bar32(f, 1, 0xfeb00000, 4096, false);
    fake_bar64(f, 2, 0x800004000ull, 16384, true); /* slots 2 and 3 */
    fake_bario(f, 5, 0x700, 64, true);            /* 16-bit I/O decoder */
    uint8_t before[0x28];
    memcpy(before, f->cfg, sizeof(before));

    struct pci_bar bar;
    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, 0, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_IO);
    assert_int_equal(bar.base, 0xc040);
    assert_int_equal(bar.size, 32);

    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, 1, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_MEM32);
    assert_false(bar.prefetchable);
    assert_int_equal(bar.base, 0xfeb00000);
    assert_int_equal(bar.size, 4096);

    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, 2, &bar), 2);
    assert_int_equal(bar.type, PCI_BAR_MEM64);
    assert_true(bar.prefetchable);
    assert_int_equal(bar.base, 0x800004000ull);
    assert_int_equal(bar.size, 16384);

    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, 4, &bar), 1); /* not implemented */
    assert_int_equal(bar.type, PCI_BAR_NONE);
    assert_int_equal(bar.size, 0);

    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, 5, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_IO);
    assert_int_equal(bar.base, 0x700);
    assert_int_equal(bar.size, 64);

    /* Every BAR holds its original address again, decoding was off while sizing, and the
     * command register is back to what the firmware left. */
    assert_memory_equal(before, f->cfg, sizeof(before));
    assert_false(f->sized_while_decoding);
    assert_int_equal(cmd_of(f), 0x0007);

    /* Out-of-range index. */
    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, 6, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_NONE);
    assert_int_equal(pci_decode_bar(&ops, 0, 2, 0, -1, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_NONE);
    fake_free(fp);
}

static void test_bar_decode_large_and_hostile(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    struct pci_cfg_ops ops = fake_ops(fp);
    struct fake_fn *f = fake_add(fp, 0, 5, 0, 0x1234, 0x5678, 0xff, 0x00, 0x00);
    put16(&f->cfg[4], 0x0000); /* decoding already off: must stay off */
    fake_bar64(f, 0, 0x4000000000ull, 8ull << 30, true); /* 8 GiB: the size is in the upper half */
    put32(&f->cfg[0x18], 0xfe000000u | 6u);              /* reserved memory type 3 */
    f->bar_mask[2] = 0xfffffff0u;
    put32(&f->cfg[0x1c], 0xfd000000u);                   /* broken, non-contiguous mask */
    f->bar_mask[3] = 0xffff0f00u;
    put32(&f->cfg[0x24], 0xe0000004u);                   /* 64-bit BAR in slot 5: invalid */
    f->bar_mask[5] = 0xfffff000u;

    struct pci_bar bar;
    assert_int_equal(pci_decode_bar(&ops, 0, 5, 0, 0, &bar), 2);
    assert_int_equal(bar.type, PCI_BAR_MEM64);
    assert_int_equal(bar.base, 0x4000000000ull);
    assert_int_equal(bar.size, 8ull << 30);

    assert_int_equal(pci_decode_bar(&ops, 0, 5, 0, 2, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_NONE);

    assert_int_equal(pci_decode_bar(&ops, 0, 5, 0, 3, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_MEM32);
    assert_int_equal(bar.size, 0x100); /* lowest writable bit: still a power of two */

    unsigned long writes = fp->writes;
    assert_int_equal(pci_decode_bar(&ops, 0, 5, 0, 5, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_NONE);
    assert_int_equal(fp->writes, writes); /* not even sized */
    assert_int_equal(get32(&f->cfg[0x24]), 0xe0000004u);

    assert_int_equal(cmd_of(f), 0x0000);
    assert_false(f->sized_while_decoding);

    /* A bridge has two BARs: a 64-bit one in slot 1 would spill into the bus numbers. */
    struct fake_fn *br = fake_bridge(fp, 0, 6, 1);
    fake_bar64(br, 1, 0xe0000000u, 4096, false);
    br->bar_mask[2] = 0; /* offset 0x18 is not a BAR on a bridge: bus numbers */
    put32(&br->cfg[0x18], 0x00010100u);
    put32(&br->cfg[0x10], 0xfea00000u);
    br->bar_mask[0] = 0xffffff00u;
    assert_int_equal(pci_decode_bar(&ops, 0, 6, 0, 1, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_NONE);
    assert_int_equal(get32(&br->cfg[0x18]), 0x00010100u); /* primary 0, secondary 1, subordinate 1 */
    assert_int_equal(pci_decode_bar(&ops, 0, 6, 0, 2, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_NONE);
    assert_int_equal(pci_decode_bar(&ops, 0, 6, 0, 0, &bar), 1);
    assert_int_equal(bar.type, PCI_BAR_MEM32);
    assert_int_equal(bar.size, 256);
    assert_int_equal(cmd_of(br), 0x0007);
    assert_false(br->sized_while_decoding);
    fake_free(fp);
}

/* ---- capabilities ---- */

static void test_find_cap(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    struct pci_cfg_ops ops = fake_ops(fp);
    struct fake_fn *f = fake_add(fp, 0, 2, 0, 0x1af4, 0x1041, 0x02, 0x00, 0x00);
    fake_caps(f, 0x43); /* low two bits must be ignored */
    fake_cap(f, 0x40, 0x09, 0x50);
    fake_cap(f, 0x50, 0x09, 0x62); /* low bits again */
    fake_cap(f, 0x60, 0x05, 0x98);
    fake_cap(f, 0x98, 0x11, 0x00);
    assert_int_equal(pci_find_cap(&ops, 0, 2, 0, 0x09), 0x40);
    assert_int_equal(pci_find_cap(&ops, 0, 2, 0, 0x05), 0x60);
    assert_int_equal(pci_find_cap(&ops, 0, 2, 0, 0x11), 0x98);
    assert_int_equal(pci_find_cap(&ops, 0, 2, 0, 0x10), 0);
    assert_int_equal(pci_find_next_cap(&ops, 0, 2, 0, 0x40, 0x09), 0x50);
    assert_int_equal(pci_find_next_cap(&ops, 0, 2, 0, 0x50, 0x09), 0);
    /* Without status bit 4 there is no list, whatever the pointer says. */
    f->cfg[6] &= (uint8_t)~0x10;
    assert_int_equal(pci_find_cap(&ops, 0, 2, 0, 0x09), 0);
    /* Absent function. */
    assert_int_equal(pci_find_cap(&ops, 0, 9, 0, 0x11), 0);
    fake_free(fp);
}

static void test_find_cap_hostile(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    struct pci_cfg_ops ops = fake_ops(fp);
    /* A two-entry loop: 0x40 -> 0x48 -> 0x40 ... */
    struct fake_fn *loop = fake_add(fp, 0, 1, 0, 0x1111, 0x2222, 0xff, 0, 0);
    fake_caps(loop, 0x40);
    fake_cap(loop, 0x40, 0x09, 0x48);
    fake_cap(loop, 0x48, 0x01, 0x40);
    fp->reads = 0;
    assert_int_equal(pci_find_cap(&ops, 0, 1, 0, 0x11), 0);
    assert_true(fp->reads <= 48 + 4); /* bounded walk */
    assert_int_equal(pci_find_cap(&ops, 0, 1, 0, 0x01), 0x48);
    /* A self loop. */
    struct fake_fn *self = fake_add(fp, 0, 2, 0, 0x1111, 0x2222, 0xff, 0, 0);
    fake_caps(self, 0xfc);
    fake_cap(self, 0xfc, 0x09, 0xfc);
    fp->reads = 0;
    assert_int_equal(pci_find_cap(&ops, 0, 2, 0, 0x05), 0);
    assert_true(fp->reads <= 48 + 4);
    /* The first pointer points into the header. */
    struct fake_fn *hdr = fake_add(fp, 0, 3, 0, 0x1111, 0x2222, 0xff, 0, 0);
    fake_caps(hdr, 0x20);
    hdr->cfg[0x20] = 0x05; /* would look like MSI if followed */
    assert_int_equal(pci_find_cap(&ops, 0, 3, 0, 0x05), 0);
    /* A later pointer points into the header. */
    struct fake_fn *mid = fake_add(fp, 0, 4, 0, 0x1111, 0x2222, 0xff, 0, 0);
    fake_caps(mid, 0x40);
    fake_cap(mid, 0x40, 0x09, 0x3c);
    mid->cfg[0x3c] = 0x11;
    assert_int_equal(pci_find_cap(&ops, 0, 4, 0, 0x11), 0);
    assert_int_equal(pci_find_cap(&ops, 0, 4, 0, 0x09), 0x40);
    fake_free(fp);
}

/* ---- enumeration ---- */

static const struct pci_device *find_bdf(const struct pci_bus_info *info, int bus, int dev, int fn) {
    const struct pci_device *hit = NULL;
    for (int i = 0; i < info->count; i++) {
        const struct pci_device *p = &info->devs[i];
        if (p->bus == bus && p->dev == dev && p->fn == fn) {
            assert_null(hit); /* listed twice */
            hit = p;
        }
    }
    return hit;
}

static void test_enumerate_topology(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    struct pci_cfg_ops ops = fake_ops(fp);
    fake_add(fp, 0, 0, 0, 0x8086, 0x29c0, 0x06, 0x00, 0x00);           /* host bridge */
    fake_add(fp, 0, 1, 0, 0x8086, 0x2918, 0x06, 0x01, 0x80);           /* multifunction: fn 0 */
    struct fake_fn *smbus = fake_add(fp, 0, 1, 2, 0x8086, 0x2930, 0x0c, 0x05, 0x00); /* fn 2, fn 1 absent */
    fake_bario(smbus, 4, 0x700, 64, false);
    struct fake_fn *net = fake_add(fp, 0, 2, 0, 0x1af4, 0x1041, 0x02, 0x00, 0x00);
    fake_bar32(net, 1, 0xfeb00000, 4096, false);
    fake_bar64(net, 4, 0x800004000ull, 16384, true);
    fake_caps(net, 0x98);
    fake_cap(net, 0x98, 0x11, 0x84);
    fake_cap(net, 0x84, 0x09, 0x70);
    fake_cap(net, 0x70, 0x09, 0x00);
    struct fake_fn *iodev = fake_add(fp, 0, 3, 0, 0x8086, 0x2415, 0x04, 0x01, 0x00); /* not multifunction */
    fake_bario(iodev, 0, 0xc000, 256, false);
    fake_add(fp, 0, 3, 1, 0xdead, 0xbeef, 0x02, 0x00, 0x00); /* must not be scanned */
    struct fake_fn *br1 = fake_bridge(fp, 0, 0x1e, 1);
    fake_bar32(br1, 0, 0xfea00000, 256, false);
    fake_caps(br1, 0x40);
    fake_cap(br1, 0x40, 0x10, 0x00); /* PCI Express capability */
    struct fake_fn *rng = fake_add(fp, 1, 0, 0, 0x1af4, 0x1044, 0xff, 0x00, 0x00);
    fake_bar64(rng, 4, 0x800008000ull, 16384, true);
    fake_caps(rng, 0x40);
    fake_cap(rng, 0x40, 0x05, 0x50);
    fake_cap(rng, 0x50, 0x11, 0x00);
    fake_bridge(fp, 1, 1, 2);
    fake_add(fp, 2, 3, 0, 0x8086, 0x100e, 0x02, 0x00, 0x00);

    struct pci_bus_info *info = calloc(1, sizeof(*info));
    assert_non_null(info);
    pci_enumerate(&ops, info);
    assert_int_equal(info->count, 9);
    assert_false(info->truncated);

    /* The exact set, in depth-first order (devices behind a bridge follow it). */
    static const struct { int bus, dev, fn; uint16_t vendor, device; int depth, parent; } want[] = {
        {0, 0, 0, 0x8086, 0x29c0, 0, -1}, {0, 1, 0, 0x8086, 0x2918, 0, -1}, {0, 1, 2, 0x8086, 0x2930, 0, -1},
        {0, 2, 0, 0x1af4, 0x1041, 0, -1}, {0, 3, 0, 0x8086, 0x2415, 0, -1}, {0, 0x1e, 0, 0x1b36, 0x0001, 0, -1},
        {1, 0, 0, 0x1af4, 0x1044, 1, 5},  {1, 1, 0, 0x1b36, 0x0001, 1, 5},  {2, 3, 0, 0x8086, 0x100e, 2, 7},
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        const struct pci_device *p = &info->devs[i];
        assert_int_equal(p->bus, want[i].bus);
        assert_int_equal(p->dev, want[i].dev);
        assert_int_equal(p->fn, want[i].fn);
        assert_int_equal(p->vendor, want[i].vendor);
        assert_int_equal(p->device, want[i].device);
        assert_int_equal(p->depth, want[i].depth);
        assert_int_equal(p->parent, want[i].parent);
    }
    assert_null(find_bdf(info, 0, 3, 1));
    assert_null(find_bdf(info, 0, 1, 1));

    const struct pci_device *p = find_bdf(info, 0, 1, 0);
    assert_int_equal(p->class_code, 0x06);
    assert_int_equal(p->subclass, 0x01);
    assert_int_equal(p->header_type, 0);
    assert_int_equal(p->revision, 0x01);

    p = find_bdf(info, 0, 1, 2);
    assert_int_equal(p->bars[4].type, PCI_BAR_IO);
    assert_int_equal(p->bars[4].size, 64);

    p = find_bdf(info, 0, 2, 0);
    assert_int_equal(p->bars[0].type, PCI_BAR_NONE);
    assert_int_equal(p->bars[1].type, PCI_BAR_MEM32);
    assert_int_equal(p->bars[1].base, 0xfeb00000);
    assert_int_equal(p->bars[1].size, 4096);
    assert_int_equal(p->bars[4].type, PCI_BAR_MEM64);
    assert_true(p->bars[4].prefetchable);
    assert_int_equal(p->bars[4].base, 0x800004000ull);
    assert_int_equal(p->bars[4].size, 16384);
    assert_int_equal(p->bars[5].type, PCI_BAR_NONE); /* upper half of BAR4 */
    assert_int_equal(p->msix_cap, 0x98);
    assert_int_equal(p->msi_cap, 0);
    assert_int_equal(p->pcie_cap, 0);

    p = find_bdf(info, 0, 0x1e, 0);
    assert_int_equal(p->header_type, 1);
    assert_int_equal(p->secondary_bus, 1);
    assert_int_equal(p->bars[0].type, PCI_BAR_MEM32);
    assert_int_equal(p->bars[0].size, 256);
    assert_int_equal(p->pcie_cap, 0x40);

    p = find_bdf(info, 1, 0, 0);
    assert_int_equal(p->msi_cap, 0x40);
    assert_int_equal(p->msix_cap, 0x50);
    assert_int_equal(p->bars[4].type, PCI_BAR_MEM64);
    assert_int_equal(p->bars[4].base, 0x800008000ull);

    assert_int_equal(find_bdf(info, 1, 1, 0)->secondary_bus, 2);

    /* Sizing left every function as it was found. */
    for (int b = 0; b < 3; b++)
        for (int d = 0; d < 32; d++)
            for (int f = 0; f < 8; f++) {
                struct fake_fn *fn = fp->fns[b][d][f];
                if (!fn)
                    continue;
                assert_false(fn->sized_while_decoding);
                assert_int_equal(cmd_of(fn), 0x0007);
                /* Decoding went off and on once per function, not once per BAR. */
                assert_true(fn->command_writes == 0 || fn->command_writes == 2);
            }
    assert_int_equal(net->command_writes, 2);
    assert_int_equal(get32(&net->cfg[0x20]), 0x0000400cu);
    assert_int_equal(get32(&net->cfg[0x24]), 0x8);
    free(info);
    fake_free(fp);
}

static struct pci_bus_info *enumerate_fresh(struct fake_pci *fp) {
    struct pci_cfg_ops ops = fake_ops(fp);
    struct pci_bus_info *info = calloc(1, sizeof(*info));
    assert_non_null(info);
    info->count = 77; /* garbage that pci_enumerate must reset */
    info->truncated = true;
    pci_enumerate(&ops, info);
    return info;
}

static void test_bridge_secondary_zero(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    fake_bridge(fp, 0, 1, 0); /* unconfigured bridge: secondary bus 0 */
    fake_add(fp, 0, 2, 0, 0x1af4, 0x1041, 0x02, 0x00, 0x00);
    struct pci_bus_info *info = enumerate_fresh(fp);
    assert_int_equal(info->count, 2); /* bus 0 is not scanned a second time */
    assert_true(info->truncated);
    assert_non_null(find_bdf(info, 0, 1, 0));
    assert_non_null(find_bdf(info, 0, 2, 0));
    free(info);
    fake_free(fp);
}

static void test_bridge_secondary_itself(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    fake_bridge(fp, 0, 1, 1);
    fake_bridge(fp, 1, 0, 1); /* bridge on bus 1 claiming bus 1 again */
    fake_add(fp, 1, 2, 0, 0x1af4, 0x1044, 0xff, 0x00, 0x00);
    struct pci_bus_info *info = enumerate_fresh(fp);
    assert_int_equal(info->count, 3);
    assert_true(info->truncated);
    assert_int_equal(find_bdf(info, 1, 2, 0)->depth, 1);
    free(info);
    fake_free(fp);
}

static void test_bridge_bus_already_visited(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    fake_bridge(fp, 0, 1, 1);
    fake_bridge(fp, 0, 2, 1); /* a second bridge claiming the same bus */
    fake_add(fp, 1, 0, 0, 0x8086, 0x100e, 0x02, 0x00, 0x00);
    fake_bridge(fp, 1, 5, 0x20);
    fake_bridge(fp, 0x20, 0, 1); /* and a loop back up to bus 1 */
    struct pci_bus_info *info = enumerate_fresh(fp);
    assert_int_equal(info->count, 5);
    assert_true(info->truncated);
    const struct pci_device *nic = find_bdf(info, 1, 0, 0);
    assert_non_null(nic);
    assert_int_equal(nic->parent, 0); /* the first bridge owns bus 1 */
    assert_int_equal(find_bdf(info, 0x20, 0, 0)->depth, 2);
    free(info);
    fake_free(fp);
}

/* A chain: bus k has a bridge to bus k+1 at device 0 and an endpoint at device 1. */
static void build_chain(struct fake_pci *fp, int last_bus) {
    for (int bus = 0; bus <= last_bus; bus++) {
        if (bus < last_bus)
            fake_bridge(fp, bus, 0, (uint8_t)(bus + 1));
        fake_add(fp, bus, 1, 0, 0x8086, 0x100e, 0x02, 0x00, 0x00);
    }
}

static void test_depth_limit(void **state) {
    (void)state;
    /* Exactly PCI_MAX_BRIDGE_DEPTH bridges deep: everything is found. */
    struct fake_pci *fp = fake_new();
    build_chain(fp, PCI_MAX_BRIDGE_DEPTH);
    struct pci_bus_info *info = enumerate_fresh(fp);
    assert_false(info->truncated);
    assert_int_equal(info->count, 2 * PCI_MAX_BRIDGE_DEPTH + 1);
    assert_int_equal(find_bdf(info, PCI_MAX_BRIDGE_DEPTH, 1, 0)->depth, PCI_MAX_BRIDGE_DEPTH);
    free(info);
    fake_free(fp);

    /* Deeper: the buses beyond the limit are skipped and the result says so. */
    fp = fake_new();
    build_chain(fp, PCI_MAX_BRIDGE_DEPTH + 4);
    info = enumerate_fresh(fp);
    assert_true(info->truncated);
    assert_int_equal(info->count, 2 * (PCI_MAX_BRIDGE_DEPTH + 1));
    assert_null(find_bdf(info, PCI_MAX_BRIDGE_DEPTH + 1, 1, 0));
    for (int i = 0; i < info->count; i++) {
        assert_true(info->devs[i].depth <= PCI_MAX_BRIDGE_DEPTH);
        assert_true(info->devs[i].parent < i);
    }
    free(info);
    fake_free(fp);
}

static void test_too_many_devices(void **state) {
    (void)state;
    struct fake_pci *fp = fake_new();
    for (int d = 0; d < 32; d++)
        for (int f = 0; f < 8; f++)
            fake_add(fp, 0, d, f, 0x8086, (uint16_t)(d * 8 + f), 0x02, 0x00, 0x80);
    struct pci_bus_info *info = enumerate_fresh(fp);
    assert_int_equal(info->count, PCI_MAX_DEVICES);
    assert_true(info->truncated);
    const struct pci_device *last = &info->devs[PCI_MAX_DEVICES - 1];
    assert_int_equal(last->dev * 8 + last->fn, PCI_MAX_DEVICES - 1);
    assert_int_equal(last->device, PCI_MAX_DEVICES - 1);
    free(info);
    fake_free(fp);
}

/* Random configuration spaces, some of them bridges to random buses: enumeration must stay
 * within its bounds and keep its invariants, whatever it reads. */
static uint32_t lcg_state;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

static void test_enumerate_random_config(void **state) {
    (void)state;
    lcg_state = 0x5ab05;
    for (int round = 0; round < 150; round++) {
        struct fake_pci *fp = fake_new();
        for (int n = 0; n < 24; n++) {
            int bus = (n < 10) ? 0 : (int)(lcg() % 6), dev = (int)(lcg() % 32), fn = (int)(lcg() % 8);
            if (fp->fns[bus][dev][fn])
                continue;
            struct fake_fn *f = fake_add(fp, bus, dev, fn, 0x1000, 0x2000, 0, 0, 0);
            for (int i = 4; i < 256; i += 4)
                put32(&f->cfg[i], lcg() ^ (lcg() << 16));
            for (int i = 0; i < 6; i++)
                f->bar_mask[i] = lcg() ^ (lcg() << 16);
            if (lcg() & 1) { /* make it a bridge to some bus */
                f->cfg[0x0e] = (uint8_t)((f->cfg[0x0e] & 0x80) | 1);
                f->cfg[0x0b] = 0x06;
                f->cfg[0x0a] = 0x04;
                f->cfg[0x19] = (uint8_t)(lcg() % 6);
            }
        }
        fp->reads = 0;
        struct pci_bus_info *info = enumerate_fresh(fp);
        assert_true(info->count >= 0 && info->count <= PCI_MAX_DEVICES);
        assert_true(fp->reads < 200000);
        for (int i = 0; i < info->count; i++) {
            const struct pci_device *p = &info->devs[i];
            assert_non_null(fp->fns[p->bus][p->dev][p->fn]);
            assert_true(p->depth <= PCI_MAX_BRIDGE_DEPTH);
            assert_true(p->parent < i);
            (void)find_bdf(info, p->bus, p->dev, p->fn); /* asserts no duplicates */
            for (int b = 0; b < 6; b++) {
                uint64_t size = p->bars[b].size;
                assert_true(size == 0 || (size & (size - 1)) == 0);
                assert_true((p->bars[b].type == PCI_BAR_NONE) == (size == 0));
            }
        }
        free(info);
        fake_free(fp);
    }
}

/* ---- names ---- */

static void test_names(void **state) {
    (void)state;
    assert_string_equal(pci_device_name(0x8086, 0x29c0, 0x06, 0x00), "Q35 host bridge");
    assert_string_equal(pci_device_name(0x8086, 0x2922, 0x01, 0x06), "ICH9 AHCI SATA controller");
    assert_string_equal(pci_device_name(0x1b36, 0x0001, 0x06, 0x04), "QEMU PCI-to-PCI bridge");
    assert_string_equal(pci_device_name(0x1af4, 0x1044, 0xff, 0x00), "virtio-rng");
    assert_string_equal(pci_device_name(0x1af4, 0x1000, 0x02, 0x00), "virtio-net (legacy)");
    assert_string_equal(pci_device_name(0x1234, 0x1111, 0x03, 0x00), "QEMU standard VGA");
    /* Unknown ids fall back to the class, then to the class alone, then to "unknown device". */
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x01, 0x06), "SATA controller");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x01, 0x08), "NVM controller");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x02, 0x80), "network controller");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x06, 0x04), "PCI-to-PCI bridge");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x06, 0x42), "bridge");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x03, 0x80), "display controller");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0x40, 0x00), "unknown device");
    assert_string_equal(pci_device_name(0xabcd, 0x0001, 0xff, 0xff), "unknown device");
    assert_string_equal(pci_bar_type_name(PCI_BAR_MEM64), "mem64");
    assert_string_equal(pci_bar_type_name(99), "none");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sized_access),
        cmocka_unit_test(test_address_helpers),
        cmocka_unit_test(test_bar_decode),
        cmocka_unit_test(test_bar_decode_large_and_hostile),
        cmocka_unit_test(test_find_cap),
        cmocka_unit_test(test_find_cap_hostile),
        cmocka_unit_test(test_enumerate_topology),
        cmocka_unit_test(test_bridge_secondary_zero),
        cmocka_unit_test(test_bridge_secondary_itself),
        cmocka_unit_test(test_bridge_bus_already_visited),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_too_many_devices),
        cmocka_unit_test(test_enumerate_random_config),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
