/* test_acpi.c: host unit tests for the ACPI table parser (kernel/acpi/acpi_tables.c), against
 * synthetic tables built here from the ACPI 6.5 layouts (5.2.5 RSDP, 5.2.7/5.2.8 RSDT/XSDT,
 * 5.2.9 FADT, 5.2.12 MADT, 20.2 AML for \_S5, PCI Firmware 3.0 MCFG, IA-PC HPET 1.0a).
 *
 * "Physical memory" is one buffer at FAKE_BASE. The map callback checks every request against
 * it and hands out an exact-size heap copy of the bytes asked for, so AddressSanitizer catches
 * any read past the length the parser mapped. Valid tables, each checksum broken, bad lengths,
 * broken MADT entries, pointers outside memory, AML \_S5 in several encodings and a truncated
 * one, and a fixed-seed fuzzer are covered. */
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/acpi/acpi_tables.c"

#define FAKE_BASE 0x000e0000ull
#define FAKE_SIZE 0x4000u

/* Where each table lives in the buffer. */
enum {
    OFF_RSDP = 0x000,
    OFF_XSDT = 0x100,
    OFF_RSDT = 0x200,
    OFF_MADT = 0x400,
    OFF_FADT = 0x800,
    OFF_DSDT = 0xc00,
    OFF_MCFG = 0x1000,
    OFF_HPET = 0x1100,
    OFF_WAET = 0x1200,
    OFF_FREE = 0x1400, /* scratch room for tests */
};
#define PA(off) (FAKE_BASE + (uint64_t)(off))

static uint8_t mem[FAKE_SIZE];

/* Copies handed out by the map callback during one parse, freed afterwards. */
#define MAX_MAPS 4096
static void *maps[MAX_MAPS];
static int map_count;
static int map_calls;

static const void *fake_map(uint64_t pa, size_t len, void *ctx) {
    (void)ctx;
    map_calls++;
    assert_true(len > 0);
    if (pa < FAKE_BASE || pa - FAKE_BASE > FAKE_SIZE || len > FAKE_SIZE - (pa - FAKE_BASE)) return NULL;
    assert_true(map_count < MAX_MAPS);
    void *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, mem + (pa - FAKE_BASE), len);
    maps[map_count++] = copy;
    return copy;
}

static int parse(struct acpi_info *out, uint64_t rsdp) {
    map_count = 0;
    map_calls = 0;
    int rc = acpi_parse(rsdp, fake_map, NULL, out);
    for (int i = 0; i < map_count; i++) free(maps[i]);
    map_count = 0;
    return rc;
}

/* ---- building tables ---- */

static void w8(uint32_t off, uint8_t v) { mem[off] = v; }
static void w16(uint32_t off, uint16_t v) { mem[off] = (uint8_t)v; mem[off + 1] = (uint8_t)(v >> 8); }
static void w32(uint32_t off, uint32_t v) { w16(off, (uint16_t)v); w16(off + 2, (uint16_t)(v >> 16)); }
static void w64(uint32_t off, uint64_t v) { w32(off, (uint32_t)v); w32(off + 4, (uint32_t)(v >> 32)); }
static void wgas(uint32_t off, uint8_t space, uint8_t width, uint64_t addr) {
    w8(off, space);
    w8(off + 1, width);
    w8(off + 2, 0);
    w8(off + 3, width == 8 ? 1 : width == 16 ? 2 : 3);
    w64(off + 4, addr);
}

static uint8_t sum_bytes(uint32_t off, uint32_t len) {
    uint8_t s = 0;
    for (uint32_t i = 0; i < len && off + i < FAKE_SIZE; i++) s = (uint8_t)(s + mem[off + i]);
    return s;
}

/* Recomputes a table's checksum over the length its header claims (clamped to the buffer). */
static void fix_table(uint32_t off) {
    uint32_t len = (uint32_t)mem[off + 4] | (uint32_t)mem[off + 5] << 8 | (uint32_t)mem[off + 6] << 16 |
                   (uint32_t)mem[off + 7] << 24;
    if (len > FAKE_SIZE - off) len = FAKE_SIZE - off;
    if (len < 10) return;
    mem[off + 9] = 0;
    mem[off + 9] = (uint8_t)(0x100 - sum_bytes(off, len));
}

static void fix_rsdp(void) {
    mem[OFF_RSDP + 8] = 0;
    mem[OFF_RSDP + 8] = (uint8_t)(0x100 - sum_bytes(OFF_RSDP, 20));
    mem[OFF_RSDP + 32] = 0;
    uint32_t len = (uint32_t)mem[OFF_RSDP + 20] | (uint32_t)mem[OFF_RSDP + 21] << 8;
    if (len > 0x100) len = 0x100;
    mem[OFF_RSDP + 32] = (uint8_t)(0x100 - sum_bytes(OFF_RSDP, len));
}

static void header(uint32_t off, const char *sig, uint32_t len, uint8_t rev) {
    memset(mem + off, 0, len < 36 ? 36 : len);
    memcpy(mem + off, sig, 4);
    w32(off + 4, len);
    w8(off + 8, rev);
    memcpy(mem + off + 10, "BOCHS ", 6);
    memcpy(mem + off + 16, "BXPC    ", 8);
    w32(off + 24, 1);
}

static void build_rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
    memset(mem + OFF_RSDP, 0, 36);
    memcpy(mem + OFF_RSDP, "RSD PTR ", 8);
    memcpy(mem + OFF_RSDP + 9, "BOCHS ", 6);
    w8(OFF_RSDP + 15, revision);
    w32(OFF_RSDP + 16, rsdt);
    w32(OFF_RSDP + 20, 36);
    w64(OFF_RSDP + 24, xsdt);
    fix_rsdp();
}

static const uint32_t root_tables[] = {OFF_FADT, OFF_MADT, OFF_HPET, OFF_MCFG, OFF_WAET};

static void build_roots(void) {
    uint32_t n = ARRAY_SIZE(root_tables);
    header(OFF_XSDT, "XSDT", 36 + 8 * n, 1);
    header(OFF_RSDT, "RSDT", 36 + 4 * n, 1);
    for (uint32_t i = 0; i < n; i++) {
        w64(OFF_XSDT + 36 + 8 * i, PA(root_tables[i]));
        w32(OFF_RSDT + 36 + 4 * i, (uint32_t)PA(root_tables[i]));
    }
    fix_table(OFF_XSDT);
    fix_table(OFF_RSDT);
}

/* Appends one MADT entry at *pos. */
static void madt_entry(uint32_t *pos, const uint8_t *bytes, uint8_t len) {
    memcpy(mem + *pos, bytes, len);
    *pos += len;
}

/* The MADT used by most tests: CPUs 0, 1 enabled, 2 disabled, 3 online-capable, an x2APIC
 * CPU 0x100, an x2APIC duplicate of CPU 1; one I/O APIC; five overrides; two NMI entries;
 * an NMI source and an unknown entry type, both ignored. */
static uint32_t build_madt(void) {
    header(OFF_MADT, "APIC", 0, 5);
    w32(OFF_MADT + 36, 0xfee00000u);
    w32(OFF_MADT + 40, 1);
    uint32_t p = OFF_MADT + 44;
    madt_entry(&p, (const uint8_t[]){0, 8, 0, 0, 1, 0, 0, 0}, 8);
    madt_entry(&p, (const uint8_t[]){0, 8, 1, 1, 1, 0, 0, 0}, 8);
    madt_entry(&p, (const uint8_t[]){0, 8, 2, 2, 0, 0, 0, 0}, 8);
    madt_entry(&p, (const uint8_t[]){0, 8, 3, 3, 2, 0, 0, 0}, 8);
    madt_entry(&p, (const uint8_t[]){1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0}, 12);
    madt_entry(&p, (const uint8_t[]){2, 10, 0, 0, 2, 0, 0, 0, 0x00, 0x00}, 10);
    madt_entry(&p, (const uint8_t[]){2, 10, 0, 5, 5, 0, 0, 0, 0x0d, 0x00}, 10);
    madt_entry(&p, (const uint8_t[]){2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0x00}, 10);
    madt_entry(&p, (const uint8_t[]){2, 10, 0, 10, 10, 0, 0, 0, 0x0d, 0x00}, 10);
    madt_entry(&p, (const uint8_t[]){2, 10, 0, 11, 11, 0, 0, 0, 0x0d, 0x00}, 10);
    madt_entry(&p, (const uint8_t[]){3, 8, 0x0d, 0, 0x10, 0, 0, 0}, 8);
    madt_entry(&p, (const uint8_t[]){4, 6, 0xff, 0x05, 0x00, 1}, 6);
    madt_entry(&p, (const uint8_t[]){9, 16, 0, 0, 0x00, 0x01, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0}, 16);
    madt_entry(&p, (const uint8_t[]){9, 16, 0, 0, 0x01, 0x00, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, 16);
    madt_entry(&p, (const uint8_t[]){0xa, 12, 0x05, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}, 12);
    madt_entry(&p, (const uint8_t[]){0x7f, 4, 0xaa, 0xbb}, 4);
    uint32_t len = p - OFF_MADT;
    w32(OFF_MADT + 4, len);
    fix_table(OFF_MADT);
    return len;
}

static void build_fadt(uint8_t rev, uint32_t len) {
    header(OFF_FADT, "FACP", len, rev);
    w32(OFF_FADT + 40, (uint32_t)PA(OFF_DSDT));
    w16(OFF_FADT + 46, 9);
    w32(OFF_FADT + 56, 0x600);
    w32(OFF_FADT + 64, 0x604);
    w32(OFF_FADT + 76, 0x608);
    w8(OFF_FADT + 88, 4);
    w8(OFF_FADT + 89, 2);
    w8(OFF_FADT + 91, 4);
    w32(OFF_FADT + 112, (1u << 8) | (1u << 10));
    if (len >= 129) {
        w16(OFF_FADT + 109, 0x0002);
        wgas(OFF_FADT + 116, ACPI_GAS_IO, 8, 0xcf9);
        w8(OFF_FADT + 128, 0x06);
    }
    if (len >= 244) {
        w64(OFF_FADT + 140, PA(OFF_DSDT));
        wgas(OFF_FADT + 148, ACPI_GAS_IO, 32, 0x600);
        wgas(OFF_FADT + 172, ACPI_GAS_IO, 16, 0x604);
        wgas(OFF_FADT + 208, ACPI_GAS_IO, 32, 0x608);
    }
    fix_table(OFF_FADT);
}

/* Writes a DSDT whose AML is `aml` (after the header). */
static void build_dsdt_aml(const uint8_t *aml, uint32_t aml_len) {
    header(OFF_DSDT, "DSDT", 36 + aml_len, 2);
    memcpy(mem + OFF_DSDT + 36, aml, aml_len);
    fix_table(OFF_DSDT);
}

/* Default DSDT: a scope with a decoy "_S5_" (not after a NameOp), then
 * Name(\_S5, Package(4) {5, 7, 0, 0}) with ByteConst elements. */
static void build_dsdt(void) {
    static const uint8_t aml[] = {
        0x10, 0x09, '\\', '_', 'S', 'B', '_', 0x70, '_', 'S', '5', '_', /* decoy inside a scope */
        0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x07, 0x00, 0x00,
        0x14, 0x08, 'T', 'E', 'S', 'T', 0x00, 0xa4, 0x00,
    };
    build_dsdt_aml(aml, sizeof(aml));
}

static void build_mcfg(void) {
    header(OFF_MCFG, "MCFG", 44 + 16, 1);
    w64(OFF_MCFG + 44, 0xb0000000ull);
    w16(OFF_MCFG + 52, 0);
    w8(OFF_MCFG + 54, 0);
    w8(OFF_MCFG + 55, 255);
    fix_table(OFF_MCFG);
}

static void build_hpet(void) {
    header(OFF_HPET, "HPET", 56, 1);
    w32(OFF_HPET + 36, 0x8086a201u);
    wgas(OFF_HPET + 40, ACPI_GAS_MEMORY, 64, 0xfed00000ull);
    fix_table(OFF_HPET);
}

/* Everything valid: RSDP revision 2 with both an XSDT and an RSDT. */
static void build_all(void) {
    memset(mem, 0, sizeof(mem));
    build_madt();
    build_fadt(6, 276);
    build_dsdt();
    build_mcfg();
    build_hpet();
    header(OFF_WAET, "WAET", 40, 1);
    fix_table(OFF_WAET);
    build_roots();
    build_rsdp(2, (uint32_t)PA(OFF_RSDT), PA(OFF_XSDT));
}

static bool has_error(const struct acpi_info *a, const char *needle) {
    for (int i = 0; i < a->error_count; i++)
        if (strstr(a->errors[i], needle)) return true;
    return false;
}

static bool has_table(const struct acpi_info *a, const char *sig) {
    for (int i = 0; i < a->table_count; i++)
        if (!strcmp(a->table_sigs[i], sig)) return true;
    return false;
}

static void print_errors(const struct acpi_info *a) {
    for (int i = 0; i < a->error_count; i++) fprintf(stderr, "  error: %s\n", a->errors[i]);
}

/* What the valid set must yield in the MADT, FADT, MCFG and HPET. */
static void check_full_contents(const struct acpi_info *a) {
    assert_true(a->has_madt);
    assert_int_equal(a->lapic_address, 0xfee00000u);
    assert_true(a->pic_present);
    assert_int_equal(a->cpu_count, 4);
    assert_int_equal(a->cpu_disabled_count, 1);
    assert_int_equal(a->cpus[0].apic_id, 0);
    assert_int_equal(a->cpus[1].apic_id, 1);
    assert_false(a->cpus[1].x2apic);
    assert_int_equal(a->cpus[2].apic_id, 3);
    assert_false(a->cpus[2].enabled); /* online-capable only */
    assert_int_equal(a->cpus[3].apic_id, 0x100);
    assert_int_equal(a->cpus[3].acpi_id, 4);
    assert_true(a->cpus[3].x2apic);
    assert_true(a->cpus[3].enabled);
    assert_int_equal(a->ioapic_count, 1);
    assert_int_equal(a->ioapics[0].address, 0xfec00000u);
    assert_int_equal(a->ioapics[0].gsi_base, 0);
    assert_int_equal(a->iso_count, 5);
    assert_int_equal(a->isos[0].source, 0);
    assert_int_equal(a->isos[0].gsi, 2);
    assert_int_equal(a->isos[1].source, 5);
    assert_int_equal(a->isos[1].flags, 0x0d);
    assert_int_equal(a->nmi_count, 2);
    assert_int_equal(a->nmis[0].acpi_id, ACPI_NMI_ALL_CPUS);
    assert_int_equal(a->nmis[0].lint, 1);
    assert_int_equal(a->nmis[0].flags, 5);
    assert_int_equal(a->nmis[1].acpi_id, ACPI_NMI_ALL_CPUS);
    assert_int_equal(a->nmis[1].flags, 5);

    assert_true(a->has_fadt);
    assert_int_equal(a->pm1a_cnt, 0x604);
    assert_int_equal(a->pm1b_cnt, 0);
    assert_int_equal(a->pm_tmr_blk, 0x608);
    assert_int_equal(a->pm_tmr_len, 4);
    assert_true(a->pm_tmr_32bit);
    assert_int_equal(a->sci_int, 9);
    assert_true(a->iapc_boot_arch_valid);
    assert_int_equal(a->iapc_boot_arch, 2);
    assert_true(a->reset_supported);
    assert_int_equal(a->reset_reg.space_id, ACPI_GAS_IO);
    assert_int_equal(a->reset_reg.address, 0xcf9);
    assert_int_equal(a->reset_value, 6);
    assert_int_equal(a->dsdt, PA(OFF_DSDT));
    assert_true(a->has_s5);
    assert_int_equal(a->s5_typa, 5);
    assert_int_equal(a->s5_typb, 7);

    assert_int_equal(a->mcfg_count, 1);
    assert_int_equal(a->mcfg[0].base, 0xb0000000ull);
    assert_int_equal(a->mcfg[0].bus_start, 0);
    assert_int_equal(a->mcfg[0].bus_end, 255);
    assert_true(a->has_hpet);
    assert_int_equal(a->hpet_address, 0xfed00000ull);
}

static struct acpi_info info;

/* ---- valid sets ---- */

static void test_valid_v2_xsdt(void **state) {
    (void)state;
    build_all();
    int rc = parse(&info, PA(OFF_RSDP));
    print_errors(&info);
    assert_int_equal(rc, 0);
    assert_true(info.found);
    assert_true(info.root_valid);
    assert_int_equal(info.revision, 2);
    assert_true(info.used_xsdt);
    assert_int_equal(info.root_address, PA(OFF_XSDT));
    assert_string_equal(info.oem_id, "BOCHS");
    assert_int_equal(info.error_count, 0);
    assert_int_equal(info.table_count, 6);
    const char *want[] = {"FACP", "DSDT", "APIC", "HPET", "MCFG", "WAET"};
    for (int i = 0; i < 6; i++) assert_string_equal(info.table_sigs[i], want[i]);
    assert_int_equal(info.table_addrs[2], PA(OFF_MADT));
    check_full_contents(&info);
}

static void test_valid_v1_rsdt(void **state) {
    (void)state;
    build_all();
    build_rsdp(0, (uint32_t)PA(OFF_RSDT), 0);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.revision, 0);
    assert_false(info.used_xsdt);
    assert_int_equal(info.root_address, PA(OFF_RSDT));
    assert_int_equal(info.error_count, 0);
    check_full_contents(&info);
}

static void test_v2_without_xsdt_uses_rsdt(void **state) {
    (void)state;
    build_all();
    build_rsdp(2, (uint32_t)PA(OFF_RSDT), 0);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_false(info.used_xsdt);
    assert_int_equal(info.error_count, 0);
    check_full_contents(&info);
}

static void test_checksum_helper(void **state) {
    (void)state;
    uint8_t b[4] = {1, 2, 3, 0xfa};
    assert_true(acpi_checksum_ok(b, 4));
    b[3] = 0xfb;
    assert_false(acpi_checksum_ok(b, 4));
    assert_true(acpi_checksum_ok(b, 0));
    assert_string_equal(acpi_table_name("APIC"), "MADT");
    assert_string_equal(acpi_table_name("FACP"), "FADT");
}

/* ---- RSDP problems ---- */

static void test_rsdp_missing(void **state) {
    (void)state;
    build_all();
    assert_int_equal(parse(&info, 0), -KEINVAL);
    assert_false(info.found);
    memset(mem + OFF_RSDP, 0, 36); /* nothing at the address */
    assert_int_equal(parse(&info, PA(OFF_RSDP)), -KEINVAL);
    assert_false(info.found);
    assert_true(has_error(&info, "RSDP: bad signature"));
    assert_int_equal(parse(&info, 0x12345678000ull), -KEINVAL); /* outside memory */
    assert_true(has_error(&info, "RSDP: not readable"));
    assert_int_equal(parse(&info, ~0ull - 4), -KEINVAL); /* would wrap */
    assert_false(info.found);
    /* The last bytes of memory: 20 bytes do not fit. */
    assert_int_equal(parse(&info, PA(FAKE_SIZE - 10)), -KEINVAL);
}

static void test_rsdp_bad_checksum(void **state) {
    (void)state;
    build_all();
    mem[OFF_RSDP + 8] ^= 0x55;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), -KEINVAL);
    assert_false(info.found);
    assert_true(has_error(&info, "RSDP: bad checksum"));
    assert_false(info.has_madt);
}

static void test_rsdp_bad_extended_checksum(void **state) {
    (void)state;
    build_all();
    mem[OFF_RSDP + 32] ^= 0x55; /* v1 part intact: the RSDT still works */
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(info.found);
    assert_false(info.used_xsdt);
    assert_true(has_error(&info, "RSDP: bad extended checksum"));
    check_full_contents(&info);
}

static void test_rsdp_bad_length(void **state) {
    (void)state;
    uint32_t lens[] = {0, 20, 35, 100000, 0xffffffffu};
    for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
        build_all();
        w32(OFF_RSDP + 20, lens[i]);
        fix_rsdp();
        assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
        assert_false(info.used_xsdt);
        assert_true(has_error(&info, "RSDP: bad length"));
        check_full_contents(&info);
    }
    /* Plausible length, but more than memory holds after the RSDP's address. */
    build_all();
    memmove(mem + FAKE_SIZE - 36, mem + OFF_RSDP, 36);
    w32(FAKE_SIZE - 36 + 20, 200);
    assert_int_equal(parse(&info, PA(FAKE_SIZE - 36)), 0);
    assert_true(has_error(&info, "RSDP: 200 bytes not readable"));
}

/* ---- root table problems ---- */

static void test_xsdt_bad_checksum_falls_back(void **state) {
    (void)state;
    build_all();
    mem[OFF_XSDT + 40] ^= 1;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_false(info.used_xsdt);
    assert_true(has_error(&info, "XSDT: bad checksum"));
    assert_true(has_error(&info, "using the RSDT"));
    check_full_contents(&info);
}

static void test_both_roots_bad(void **state) {
    (void)state;
    build_all();
    mem[OFF_XSDT + 40] ^= 1;
    mem[OFF_RSDT + 40] ^= 1;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), -KEINVAL);
    assert_true(info.found);
    assert_false(info.root_valid);
    assert_true(has_error(&info, "RSDT: bad checksum"));
    assert_false(info.has_madt);
}

static void test_xsdt_outside_memory(void **state) {
    (void)state;
    build_all();
    build_rsdp(2, (uint32_t)PA(OFF_RSDT), 0xfffff000000ull);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_false(info.used_xsdt);
    assert_true(has_error(&info, "XSDT: header at 0xfffff000000 not readable"));
    check_full_contents(&info);
}

static void test_xsdt_entry_outside_memory(void **state) {
    (void)state;
    build_all();
    w64(OFF_XSDT + 36 + 8 * 2, 0xdead0000ull); /* HPET entry */
    w64(OFF_XSDT + 36 + 8 * 4, 0);             /* WAET entry */
    fix_table(OFF_XSDT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(info.used_xsdt);
    assert_true(has_error(&info, "XSDT entry 2: header at 0xdead0000 not readable"));
    assert_true(has_error(&info, "XSDT entry 4: null table address"));
    assert_false(info.has_hpet);
    assert_true(info.has_madt);
    assert_true(info.has_s5);
    assert_int_equal(info.mcfg_count, 1);
}

static void test_xsdt_wrong_signature(void **state) {
    (void)state;
    build_all();
    memcpy(mem + OFF_XSDT, "RSDT", 4);
    fix_table(OFF_XSDT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_false(info.used_xsdt);
    assert_true(has_error(&info, "XSDT: bad signature"));
    /* An entry pointing at garbage (non-printable signature). */
    build_all();
    mem[OFF_WAET] = 0x01;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "XSDT entry 4: bad signature '?AET'"));
    assert_false(has_table(&info, "WAET"));
}

/* More entries than ACPI_MAX_TABLES and ACPI_ROOT_MAX_ENTRIES: capped, no overflow. */
static void test_root_many_entries(void **state) {
    (void)state;
    build_all();
    uint32_t n = 200;
    header(OFF_FREE, "XSDT", 36 + 8 * n, 1);
    for (uint32_t i = 0; i < n; i++) w64(OFF_FREE + 36 + 8 * i, PA(OFF_WAET));
    fix_table(OFF_FREE);
    build_rsdp(2, 0, PA(OFF_FREE));
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.table_count, ACPI_MAX_TABLES);
    assert_true(has_error(&info, "XSDT: 200 entries, only the first 64 read"));
    assert_true(map_calls <= 2 * 64 + 8);
}

/* Partial last entry in the RSDT is reported; the whole entries are used. */
static void test_rsdt_partial_entry(void **state) {
    (void)state;
    build_all();
    build_rsdp(0, (uint32_t)PA(OFF_RSDT), 0);
    w32(OFF_RSDT + 4, 36 + 4 * 5 + 2);
    fix_table(OFF_RSDT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "RSDT: length 58 leaves a partial entry"));
    check_full_contents(&info);
}

/* ---- each table's checksum ---- */

static void test_madt_bad_checksum(void **state) {
    (void)state;
    build_all();
    mem[OFF_MADT + 50] ^= 0x10;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MADT: bad checksum"));
    assert_false(info.has_madt);
    assert_int_equal(info.cpu_count, 0);
    assert_false(has_table(&info, "APIC"));
    assert_true(info.has_fadt && info.has_s5 && info.has_hpet);
    assert_int_equal(info.mcfg_count, 1);
}

static void test_fadt_bad_checksum(void **state) {
    (void)state;
    build_all();
    mem[OFF_FADT + 64] ^= 0x10;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "FADT: bad checksum"));
    assert_false(info.has_fadt);
    assert_false(info.has_s5);
    assert_int_equal(info.pm1a_cnt, 0);
    assert_true(info.has_madt && info.has_hpet);
}

static void test_dsdt_bad_checksum(void **state) {
    (void)state;
    build_all();
    mem[OFF_DSDT + 40] ^= 0x10;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "DSDT: bad checksum"));
    assert_true(info.has_fadt);
    assert_int_equal(info.pm1a_cnt, 0x604);
    assert_false(info.has_s5);
    assert_false(has_table(&info, "DSDT"));
}

static void test_mcfg_hpet_bad_checksum(void **state) {
    (void)state;
    build_all();
    mem[OFF_MCFG + 44] ^= 0x10;
    mem[OFF_HPET + 44] ^= 0x10;
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MCFG: bad checksum"));
    assert_true(has_error(&info, "HPET: bad checksum"));
    assert_int_equal(info.mcfg_count, 0);
    assert_false(info.has_hpet);
    assert_true(info.has_madt && info.has_s5);
}

/* ---- table lengths ---- */

static void test_table_lengths(void **state) {
    (void)state;
    /* zero, below the header, huge, beyond memory */
    struct { uint32_t len; const char *err; } cases[] = {
        {0, "MADT: bad length 0"},
        {20, "MADT: bad length 20"},
        {35, "MADT: bad length 35"},
        {0x10000000u, "MADT: bad length 268435456"},
        {0xffffffffu, "MADT: bad length 4294967295"},
        {0x80000u, "MADT: 524288 bytes at 0xe0400 not readable"},
        {40, "MADT: too short (40 bytes)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        build_all();
        w32(OFF_MADT + 4, cases[i].len);
        fix_table(OFF_MADT);
        assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
        if (!has_error(&info, cases[i].err)) {
            print_errors(&info);
            fail_msg("expected error '%s'", cases[i].err);
        }
        assert_false(info.has_madt);
        assert_true(info.has_fadt && info.has_s5);
    }
    /* A table that starts in memory but whose length runs past its end. */
    build_all();
    memmove(mem + FAKE_SIZE - 40, mem + OFF_WAET, 40);
    w32(FAKE_SIZE - 40 + 4, 100);
    w64(OFF_XSDT + 36 + 8 * 4, PA(FAKE_SIZE - 40));
    fix_table(OFF_XSDT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "WAET: 100 bytes at"));
    /* Shorter FADT, MCFG and HPET than their fixed parts. */
    build_all();
    build_fadt(1, 100);
    w32(OFF_MCFG + 4, 40);
    fix_table(OFF_MCFG);
    w32(OFF_HPET + 4, 50);
    fix_table(OFF_HPET);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "FADT: too short (100 bytes)"));
    assert_true(has_error(&info, "MCFG: too short (40 bytes)"));
    assert_true(has_error(&info, "HPET: too short (50 bytes)"));
    assert_false(info.has_fadt || info.has_hpet || info.mcfg_count);
}

/* ---- MADT entries ---- */

static void test_madt_entry_length_zero(void **state) {
    (void)state;
    build_all();
    uint32_t len = build_madt();
    /* Overwrite the length of the third processor entry (offset 44 + 16). */
    mem[OFF_MADT + 44 + 16 + 1] = 0;
    fix_table(OFF_MADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MADT: entry at offset 60 has length 0"));
    assert_true(info.has_madt);
    assert_int_equal(info.cpu_count, 2); /* the two before it */
    assert_int_equal(info.ioapic_count, 0);
    (void)len;
    /* Length 1 likewise. */
    build_all();
    mem[OFF_MADT + 44 + 1] = 1;
    fix_table(OFF_MADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MADT: entry at offset 44 has length 1"));
    assert_int_equal(info.cpu_count, 0);
}

static void test_madt_entry_past_end(void **state) {
    (void)state;
    build_all();
    uint32_t len = build_madt();
    /* The last entry (unknown type, 4 bytes) claims 40 bytes. */
    mem[OFF_MADT + len - 4 + 1] = 40;
    fix_table(OFF_MADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "runs past the table end"));
    assert_int_equal(info.cpu_count, 4);
    assert_int_equal(info.nmi_count, 2);
    /* A single byte left over after the last entry. */
    build_all();
    len = build_madt();
    w32(OFF_MADT + 4, len + 1);
    mem[OFF_MADT + len] = 0;
    fix_table(OFF_MADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MADT: truncated entry at offset"));
    assert_int_equal(info.cpu_count, 4);
}

static void test_madt_short_typed_entry(void **state) {
    (void)state;
    build_all();
    /* An I/O APIC entry of 6 bytes is skipped with a message; the walk goes on. */
    header(OFF_MADT, "APIC", 0, 5);
    w32(OFF_MADT + 36, 0xfee00000u);
    w32(OFF_MADT + 40, 0); /* no 8259 */
    uint32_t p = OFF_MADT + 44;
    madt_entry(&p, (const uint8_t[]){1, 6, 0, 0, 0, 0}, 6);
    madt_entry(&p, (const uint8_t[]){0, 8, 0, 0, 1, 0, 0, 0}, 8);
    w32(OFF_MADT + 4, p - OFF_MADT);
    fix_table(OFF_MADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MADT: type 1 entry too short (6 bytes)"));
    assert_int_equal(info.ioapic_count, 0);
    assert_int_equal(info.cpu_count, 1);
    assert_false(info.pic_present);
}

static void test_madt_lapic_override_and_limits(void **state) {
    (void)state;
    build_all();
    header(OFF_FREE, "APIC", 0, 5);
    w32(OFF_FREE + 36, 0xfee00000u);
    uint32_t p = OFF_FREE + 44;
    madt_entry(&p, (const uint8_t[]){5, 12, 0, 0, 0x00, 0x00, 0xe0, 0xfe, 0x01, 0, 0, 0}, 12);
    for (int i = 0; i < 70; i++) madt_entry(&p, (const uint8_t[]){0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0}, 8);
    for (int i = 0; i < 10; i++)
        madt_entry(&p, (const uint8_t[]){1, 12, (uint8_t)i, 0, 0, 0, 0xc0, 0xfe, (uint8_t)(24 * i), 0, 0, 0}, 12);
    for (int i = 0; i < 30; i++) madt_entry(&p, (const uint8_t[]){2, 10, 0, (uint8_t)i, (uint8_t)i, 0, 0, 0, 0, 0}, 10);
    for (int i = 0; i < 20; i++) madt_entry(&p, (const uint8_t[]){4, 6, (uint8_t)i, 0, 0, 1}, 6);
    w32(OFF_FREE + 4, p - OFF_FREE);
    fix_table(OFF_FREE);
    w64(OFF_XSDT + 36 + 8 * 1, PA(OFF_FREE));
    fix_table(OFF_XSDT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.lapic_address, 0x1fee00000ull);
    assert_int_equal(info.cpu_count, ACPI_MAX_CPUS);
    assert_int_equal(info.ioapic_count, ACPI_MAX_IOAPICS);
    assert_int_equal(info.iso_count, ACPI_MAX_ISOS);
    assert_int_equal(info.nmi_count, ACPI_MAX_NMIS);
    assert_true(has_error(&info, "MADT: more than 64 CPUs"));
    assert_true(has_error(&info, "MADT: more than 8 I/O APICs"));
    assert_true(has_error(&info, "MADT: more than 24 interrupt overrides"));
    assert_true(has_error(&info, "MADT: more than 16 LAPIC NMI entries"));
    assert_int_equal(info.ioapics[7].gsi_base, 24 * 7);
}

/* ---- FADT variants ---- */

static void test_fadt_v1(void **state) {
    (void)state;
    build_all();
    build_fadt(1, 116); /* ACPI 1.0: no reset register, no IAPC_BOOT_ARCH, no X_ fields */
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.error_count, 0);
    assert_true(info.has_fadt);
    assert_int_equal(info.fadt_revision, 1);
    assert_false(info.iapc_boot_arch_valid);
    assert_false(info.reset_supported);
    assert_int_equal(info.pm1a_cnt, 0x604);
    assert_int_equal(info.dsdt, PA(OFF_DSDT));
    assert_true(info.has_s5);
}

static void test_fadt_x_fields_preferred(void **state) {
    (void)state;
    build_all();
    build_fadt(6, 276);
    w32(OFF_FADT + 40, 0x12340000u);      /* stale 32-bit DSDT */
    w32(OFF_FADT + 64, 0x1234);           /* stale 32-bit PM1a */
    wgas(OFF_FADT + 184, ACPI_GAS_IO, 16, 0x640); /* X_PM1b */
    w32(OFF_FADT + 112, 1u << 10);        /* 24-bit timer */
    fix_table(OFF_FADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.error_count, 0);
    assert_int_equal(info.dsdt, PA(OFF_DSDT));
    assert_int_equal(info.pm1a_cnt, 0x604);
    assert_int_equal(info.pm1b_cnt, 0x640);
    assert_false(info.pm_tmr_32bit);
    assert_true(info.has_s5);
    /* X_PM1a in memory space is not an I/O port: the 32-bit field is used. */
    build_all();
    wgas(OFF_FADT + 172, ACPI_GAS_MEMORY, 16, 0xfe000000ull);
    fix_table(OFF_FADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.pm1a_cnt, 0x604);
    /* Reset flag without a register; no DSDT at all. */
    build_all();
    wgas(OFF_FADT + 116, ACPI_GAS_IO, 8, 0);
    w32(OFF_FADT + 40, 0);
    w64(OFF_FADT + 140, 0);
    fix_table(OFF_FADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_false(info.reset_supported);
    assert_true(has_error(&info, "FADT: reset register supported but null"));
    assert_true(has_error(&info, "FADT: no DSDT address"));
    assert_false(info.has_s5);
    /* A DSDT pointer to something that is not a DSDT. */
    build_all();
    w64(OFF_FADT + 140, PA(OFF_WAET));
    fix_table(OFF_FADT);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "DSDT: bad signature 'WAET'"));
    assert_false(info.has_s5);
}

/* ---- \_S5 in the DSDT ---- */

struct s5_case {
    const char *name;
    uint8_t aml[32];
    uint32_t len;
    bool ok;
    uint8_t typa, typb;
};

static void test_s5_encodings(void **state) {
    (void)state;
    static const struct s5_case cases[] = {
        {"byte consts", {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x07, 0x00, 0x00}, 14, true, 5, 7},
        {"root prefix, zero/one ops", {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x00}, 11, true, 1, 0},
        {"QEMU style all zero", {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}, 13, true, 0, 0},
        {"word and dword", {0x08, '_', 'S', '5', '_', 0x12, 0x0a, 0x02, 0x0b, 0x03, 0x00, 0x0c, 0x04, 0x00, 0x00, 0x00}, 16, true, 3, 4},
        {"qword and ones", {0x08, '_', 'S', '5', '_', 0x12, 0x0c, 0x02, 0x0e, 6, 0, 0, 0, 0, 0, 0, 0, 0xff}, 18, true, 6, 0xff},
        {"two-byte pkglength", {0x08, '_', 'S', '5', '_', 0x12, 0x49, 0x00, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00}, 15, true, 5, 5},
        {"one element packs both", {0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0b, 0x05, 0x06}, 11, true, 5, 6},
        {"decoy then real", {'_', 'S', '5', '_', 0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x02, 0x01}, 15, true, 2, 1},
        {"pkglength past table end", {0x08, '_', 'S', '5', '_', 0x12, 0x3f, 0x02, 0x00, 0x00}, 10, false, 0, 0},
        {"package cut after NumElements", {0x08, '_', 'S', '5', '_', 0x12, 0x02, 0x02, 0x00, 0x00}, 10, false, 0, 0},
        {"second element missing", {0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x02, 0x00, 0x00}, 10, false, 0, 0},
        {"byte const cut", {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x0a}, 10, false, 0, 0},
        {"zero elements", {0x08, '_', 'S', '5', '_', 0x12, 0x02, 0x00}, 8, false, 0, 0},
        {"not a package", {0x08, '_', 'S', '5', '_', 0x0a, 0x05}, 7, false, 0, 0},
        {"name at the very end", {0x08, '_', 'S', '5', '_'}, 5, false, 0, 0},
        {"package op at the end", {0x08, '_', 'S', '5', '_', 0x12}, 6, false, 0, 0},
        {"multi-byte pkglength cut", {0x08, '_', 'S', '5', '_', 0x12, 0xc0, 0x01}, 8, false, 0, 0},
        {"pkglength reserved bits", {0x08, '_', 'S', '5', '_', 0x12, 0x70, 0x00, 0x02, 0x00, 0x00}, 11, false, 0, 0},
        {"element is a method call", {0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x02, 'F', 'O', 'O', '_', 0x00}, 13, false, 0, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct s5_case *c = &cases[i];
        build_all();
        build_dsdt_aml(c->aml, c->len);
        assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
        if (info.has_s5 != c->ok) {
            print_errors(&info);
            fail_msg("case '%s': has_s5 %d, expected %d", c->name, info.has_s5, c->ok);
        }
        if (c->ok) {
            if (info.s5_typa != c->typa || info.s5_typb != c->typb)
                fail_msg("case '%s': SLP_TYP %u/%u, expected %u/%u", c->name, info.s5_typa, info.s5_typb, c->typa,
                         c->typb);
            assert_int_equal(info.error_count, 0);
        } else if (!has_error(&info, "DSDT: \\_S5 package at offset") || !has_error(&info, "is malformed")) {
            print_errors(&info);
            fail_msg("case '%s': no malformed-package error", c->name);
        }
    }
}

static void test_s5_absent(void **state) {
    (void)state;
    build_all();
    static const uint8_t aml[] = {0x08, '_', 'S', '4', '_', 0x12, 0x04, 0x02, 0x00, 0x00, 'X', '_', 'S', '5', '_'};
    build_dsdt_aml(aml, sizeof(aml));
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_false(info.has_s5);
    assert_true(has_error(&info, "DSDT: no \\_S5 object"));
    assert_true(has_table(&info, "DSDT"));
}

/* ---- MCFG and HPET content ---- */

static void test_mcfg_hpet_contents(void **state) {
    (void)state;
    build_all();
    header(OFF_MCFG, "MCFG", 44 + 16 * 7 + 8, 1);
    for (int i = 0; i < 7; i++) {
        uint32_t e = OFF_MCFG + 44 + 16 * i;
        w64(e, i == 1 ? 0 : 0xb0000000ull + (uint64_t)i * 0x10000000);
        w16(e + 8, (uint16_t)i);
        w8(e + 10, i == 2 ? 9 : 0);
        w8(e + 11, i == 2 ? 3 : 255);
    }
    fix_table(OFF_MCFG);
    wgas(OFF_HPET + 40, ACPI_GAS_IO, 64, 0xfed00000ull);
    fix_table(OFF_HPET);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "MCFG: length 164 leaves a partial entry"));
    assert_true(has_error(&info, "MCFG: entry 1 invalid"));
    assert_true(has_error(&info, "MCFG: entry 2 invalid"));
    assert_true(has_error(&info, "MCFG: more than 4 entries"));
    assert_int_equal(info.mcfg_count, 4);
    assert_int_equal(info.mcfg[0].base, 0xb0000000ull);
    assert_int_equal(info.mcfg[1].segment, 3);
    assert_int_equal(info.mcfg[1].base, 0xe0000000ull);
    assert_true(has_error(&info, "HPET: base address in space 1, not memory"));
    assert_false(info.has_hpet);
    /* null HPET base */
    build_all();
    w64(OFF_HPET + 44, 0);
    fix_table(OFF_HPET);
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_true(has_error(&info, "HPET: null base address"));
}

/* Errors beyond the fixed slots are counted, not written out of bounds. */
static void test_error_overflow(void **state) {
    (void)state;
    build_all();
    uint32_t n = 20;
    header(OFF_FREE, "XSDT", 36 + 8 * n, 1);
    for (uint32_t i = 0; i < n; i++) w64(OFF_FREE + 36 + 8 * i, 0xdead0000ull + i);
    fix_table(OFF_FREE);
    build_rsdp(2, 0, PA(OFF_FREE));
    assert_int_equal(parse(&info, PA(OFF_RSDP)), 0);
    assert_int_equal(info.error_count, ACPI_MAX_ERRORS);
    assert_int_equal(info.errors_dropped, 20 - ACPI_MAX_ERRORS);
    for (int i = 0; i < ACPI_MAX_ERRORS; i++) assert_true(strlen(info.errors[i]) < sizeof(info.errors[i]));
}

/* ---- fuzzing ---- */

static uint64_t rng_state;
static uint32_t rng(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static void check_invariants(const struct acpi_info *a) {
    assert_in_range(a->table_count, 0, ACPI_MAX_TABLES);
    assert_in_range(a->cpu_count, 0, ACPI_MAX_CPUS);
    assert_in_range(a->ioapic_count, 0, ACPI_MAX_IOAPICS);
    assert_in_range(a->iso_count, 0, ACPI_MAX_ISOS);
    assert_in_range(a->nmi_count, 0, ACPI_MAX_NMIS);
    assert_in_range(a->mcfg_count, 0, ACPI_MAX_MCFG);
    assert_in_range(a->error_count, 0, ACPI_MAX_ERRORS);
    for (int i = 0; i < a->error_count; i++) assert_non_null(memchr(a->errors[i], 0, sizeof(a->errors[i])));
    for (int i = 0; i < a->table_count; i++) assert_int_equal(strlen(a->table_sigs[i]), 4);
    assert_int_equal(strnlen(a->oem_id, sizeof(a->oem_id)) < sizeof(a->oem_id), 1);
    if (a->has_s5) assert_true(a->has_fadt);
    if (!a->found) assert_false(a->root_valid);
}

static const uint32_t all_tables[] = {OFF_XSDT, OFF_RSDT, OFF_MADT, OFF_FADT, OFF_DSDT, OFF_MCFG, OFF_HPET, OFF_WAET};

/* Random bytes flipped in a valid set; half of the rounds re-seal every checksum so the
 * mutations reach the table bodies instead of stopping at the checksum. */
static void test_fuzz_mutations(void **state) {
    (void)state;
    rng_state = 0x5ab05c0ffee;
    for (int iter = 0; iter < 4000; iter++) {
        build_all();
        int flips = 1 + (int)(rng() % 12);
        for (int f = 0; f < flips; f++) {
            uint32_t off;
            switch (rng() % 4) {
            case 0: off = rng() % OFF_FREE; break; /* anywhere */
            case 1: off = all_tables[rng() % ARRAY_SIZE(all_tables)] + 4 + rng() % 4; break; /* lengths */
            case 2: off = all_tables[rng() % ARRAY_SIZE(all_tables)] + 36 + rng() % 64; break; /* bodies */
            default: off = OFF_DSDT + 36 + rng() % 40; break; /* the AML */
            }
            uint8_t v = (uint8_t)rng();
            mem[off] = (rng() & 1) ? v : (uint8_t)(mem[off] ^ (1u << (v & 7)));
        }
        if (iter & 1) {
            for (size_t i = 0; i < ARRAY_SIZE(all_tables); i++) fix_table(all_tables[i]);
            fix_rsdp();
        }
        int rc = parse(&info, PA(OFF_RSDP));
        assert_true(rc == 0 || rc == -KEINVAL);
        check_invariants(&info);
    }
}

/* Tables made of random bytes with valid headers and checksums. */
static void test_fuzz_random_bodies(void **state) {
    (void)state;
    rng_state = 42;
    for (int iter = 0; iter < 2000; iter++) {
        build_all();
        static const uint32_t bodies[] = {OFF_MADT, OFF_FADT, OFF_DSDT, OFF_MCFG, OFF_HPET};
        static const uint32_t room[] = {0x400, 0x400, 0x400, 0x100, 0x100};
        for (size_t t = 0; t < ARRAY_SIZE(bodies); t++) {
            uint32_t len = 36 + rng() % (room[t] - 36);
            for (uint32_t i = 36; i < len; i++) mem[bodies[t] + i] = (uint8_t)rng();
            if (bodies[t] == OFF_FADT) {
                /* keep the DSDT pointer sensible half of the time so the AML gets fuzzed too */
                if (rng() & 1) {
                    w32(OFF_FADT + 40, (uint32_t)PA(OFF_DSDT));
                    if (len >= 148) w64(OFF_FADT + 140, 0);
                }
            }
            if (bodies[t] == OFF_DSDT && len > 60 && (rng() & 1)) {
                uint32_t at = 36 + rng() % (len - 50);
                memcpy(mem + OFF_DSDT + at, "\x08_S5_\x12", 6);
            }
            w32(bodies[t] + 4, len);
            fix_table(bodies[t]);
        }
        int rc = parse(&info, PA(OFF_RSDP));
        assert_int_equal(rc, 0);
        check_invariants(&info);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_v2_xsdt),
        cmocka_unit_test(test_valid_v1_rsdt),
        cmocka_unit_test(test_v2_without_xsdt_uses_rsdt),
        cmocka_unit_test(test_checksum_helper),
        cmocka_unit_test(test_rsdp_missing),
        cmocka_unit_test(test_rsdp_bad_checksum),
        cmocka_unit_test(test_rsdp_bad_extended_checksum),
        cmocka_unit_test(test_rsdp_bad_length),
        cmocka_unit_test(test_xsdt_bad_checksum_falls_back),
        cmocka_unit_test(test_both_roots_bad),
        cmocka_unit_test(test_xsdt_outside_memory),
        cmocka_unit_test(test_xsdt_entry_outside_memory),
        cmocka_unit_test(test_xsdt_wrong_signature),
        cmocka_unit_test(test_root_many_entries),
        cmocka_unit_test(test_rsdt_partial_entry),
        cmocka_unit_test(test_madt_bad_checksum),
        cmocka_unit_test(test_fadt_bad_checksum),
        cmocka_unit_test(test_dsdt_bad_checksum),
        cmocka_unit_test(test_mcfg_hpet_bad_checksum),
        cmocka_unit_test(test_table_lengths),
        cmocka_unit_test(test_madt_entry_length_zero),
        cmocka_unit_test(test_madt_entry_past_end),
        cmocka_unit_test(test_madt_short_typed_entry),
        cmocka_unit_test(test_madt_lapic_override_and_limits),
        cmocka_unit_test(test_fadt_v1),
        cmocka_unit_test(test_fadt_x_fields_preferred),
        cmocka_unit_test(test_s5_encodings),
        cmocka_unit_test(test_s5_absent),
        cmocka_unit_test(test_mcfg_hpet_contents),
        cmocka_unit_test(test_error_overflow),
        cmocka_unit_test(test_fuzz_mutations),
        cmocka_unit_test(test_fuzz_random_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
