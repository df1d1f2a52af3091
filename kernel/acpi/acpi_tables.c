/* acpi_tables.c: the ACPI table parser. Pure code: physical memory is read only through the
 * caller's map callback, so the host tests feed it synthetic, corrupted and fuzzed tables.
 *
 * Follows the ACPI Specification 6.5:
 *   5.2.5  RSDP (signature, 20-byte checksum, extended checksum and length for revision >= 2)
 *   5.2.6  System Description Table Header (signature, length, checksum)
 *   5.2.7/8 RSDT and XSDT (XSDT preferred when revision >= 2 and its address is non-zero)
 *   5.2.9  FADT (PM1 control blocks, PM timer, SCI, IAPC_BOOT_ARCH, RESET_REG, X_ fields)
 *   5.2.12 MADT (types 0, 1, 2, 4, 5, 9 and 0xA)
 *   5.2.3.2 Generic Address Structure
 *   20.2   AML grammar, for the \_S5 package in the DSDT (NameOp, PackageOp, PkgLength,
 *          integer constants); 7.4.2 for the meaning of \_Sx.
 * MCFG comes from the PCI Firmware Specification 3.0 table 4-2, HPET from the IA-PC HPET
 * Specification 1.0a section 3.2.4.
 *
 * Rules kept throughout: every table header is validated (signature, 36 <= length <= 1 MiB,
 * the whole length readable, checksum) before any field is read; every read stays inside the
 * validated length; loops advance by at least one byte and are bounded by the length. A bad
 * table is skipped and named in out->errors. */
#include "types.h"
#include "kstring.h"
#include "kerrno.h"
#include "acpi.h"

#define ACPI_HEADER_LEN 36
#define ACPI_TABLE_MAX_LEN (1024u * 1024u)
#define ACPI_RSDP_V1_LEN 20
#define ACPI_RSDP_V2_MIN_LEN 36
#define ACPI_RSDP_MAX_LEN 4096
/* Root table entries followed at most; a hostile root table must not cost minutes. */
#define ACPI_ROOT_MAX_ENTRIES 64

#define MADT_MIN_LEN 44
#define FADT_V1_LEN 116 /* the ACPI 1.0 FADT ends after FLAGS */
#define MCFG_HEADER_LEN 44
#define MCFG_ENTRY_LEN 16
#define HPET_MIN_LEN 56

/* AML opcodes (ACPI 6.5 section 20.2). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_QWORD_PREFIX 0x0e
#define AML_PACKAGE_OP 0x12
#define AML_ONES_OP 0xff
#define AML_ROOT_CHAR '\\'

struct parser {
    acpi_map_fn map;
    void *ctx;
    struct acpi_info *out;
};

/* Little-endian reads from byte pointers: no alignment assumptions. */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* ---- error messages ---- */

struct text {
    char *buf;
    size_t cap, len;
};

static void text_putc(struct text *t, char c) {
    if (t->len + 1 < t->cap) t->buf[t->len++] = c;
}
static void text_puts(struct text *t, const char *s) {
    while (s && *s) text_putc(t, *s++);
}
static void text_dec(struct text *t, uint64_t v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) text_putc(t, digits[--n]);
}
static void text_hex(struct text *t, uint64_t v) {
    static const char hex[] = "0123456789abcdef";
    int shift = 60;
    text_puts(t, "0x");
    while (shift > 0 && !((v >> shift) & 0xf)) shift -= 4;
    for (; shift >= 0; shift -= 4) text_putc(t, hex[(v >> shift) & 0xf]);
}

/* Records one problem. A tiny formatter of our own (the parser must not need the kernel's
 * printf): %s = const char *, %u = unsigned int, %X = uint64_t printed as 0x hex. */
static void add_error(struct acpi_info *out, const char *fmt, ...) {
    if (out->error_count >= ACPI_MAX_ERRORS) {
        out->errors_dropped++;
        return;
    }
    struct text t = {out->errors[out->error_count++], sizeof(out->errors[0]), 0};
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%' || !f[1]) {
            text_putc(&t, *f);
            continue;
        }
        switch (*++f) {
        case 's': text_puts(&t, va_arg(ap, const char *)); break;
        case 'u': text_dec(&t, va_arg(ap, unsigned int)); break;
        case 'X': text_hex(&t, va_arg(ap, uint64_t)); break;
        default: text_putc(&t, '%'); text_putc(&t, *f); break;
        }
    }
    va_end(ap);
    t.buf[t.len] = '\0';
}

/* ---- table headers ---- */

bool acpi_checksum_ok(const void *p, size_t len) {
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++) sum = (uint8_t)(sum + b[i]);
    return sum == 0;
}

const char *acpi_table_name(const char *sig) {
    if (!memcmp(sig, "APIC", 4)) return "MADT";
    if (!memcmp(sig, "FACP", 4)) return "FADT";
    return sig;
}

static bool sig_char_ok(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Copies a 4-byte signature into a printable NUL-terminated string. */
static void sig_copy(char out[5], const uint8_t *p) {
    for (int i = 0; i < 4; i++) out[i] = sig_char_ok(p[i]) ? (char)p[i] : '?';
    out[4] = '\0';
}

static const uint8_t *map_bytes(struct parser *ps, uint64_t pa, size_t len) {
    if (pa + len < pa) return NULL; /* wraps around the address space */
    return ps->map(pa, len, ps->ctx);
}

/* Maps and validates the table at pa. expect is the required signature or NULL for any
 * well-formed one; who names the reference in messages ("XSDT entry 3", "DSDT").
 * On success returns the table bytes, its length and (into sig) its signature. */
static const uint8_t *load_table(struct parser *ps, uint64_t pa, const char *expect, const char *who,
                                 uint32_t *len_out, char sig[5]) {
    struct acpi_info *out = ps->out;
    if (pa == 0) {
        add_error(out, "%s: null table address", who);
        return NULL;
    }
    const uint8_t *hdr = map_bytes(ps, pa, ACPI_HEADER_LEN);
    if (!hdr) {
        add_error(out, "%s: header at %X not readable", who, pa);
        return NULL;
    }
    sig_copy(sig, hdr);
    if (expect ? memcmp(hdr, expect, 4) != 0
               : !(sig_char_ok(hdr[0]) && sig_char_ok(hdr[1]) && sig_char_ok(hdr[2]) && sig_char_ok(hdr[3]))) {
        add_error(out, "%s: bad signature '%s' at %X", who, sig, pa);
        return NULL;
    }
    const char *name = acpi_table_name(sig);
    uint32_t len = rd32(hdr + 4);
    if (len < ACPI_HEADER_LEN || len > ACPI_TABLE_MAX_LEN) {
        add_error(out, "%s: bad length %u", name, len);
        return NULL;
    }
    const uint8_t *table = map_bytes(ps, pa, len);
    if (!table) {
        add_error(out, "%s: %u bytes at %X not readable", name, len, pa);
        return NULL;
    }
    if (!acpi_checksum_ok(table, len)) {
        add_error(out, "%s: bad checksum", name);
        return NULL;
    }
    *len_out = len;
    return table;
}

static void record_table(struct acpi_info *out, const char sig[5], uint64_t pa, uint32_t len) {
    if (out->table_count >= ACPI_MAX_TABLES) return;
    memcpy(out->table_sigs[out->table_count], sig, 5);
    out->table_addrs[out->table_count] = pa;
    out->table_lens[out->table_count] = len;
    out->table_count++;
}

/* Fills a GAS field by field (whole-struct copies would carry undefined padding bytes into
 * the result, and the kernel compares parse results bytewise). */
static void read_gas(const uint8_t *p, struct acpi_gas *g) {
    g->space_id = p[0];
    g->bit_width = p[1];
    g->bit_offset = p[2];
    g->access_size = p[3];
    g->address = rd64(p + 4);
}

/* ---- MADT (5.2.12) ---- */

struct madt_state {
    bool cpus_full, ioapics_full, isos_full, nmis_full;
};

static void madt_add_cpu(struct acpi_info *out, struct madt_state *st, uint32_t acpi_id,
                         uint32_t apic_id, uint32_t flags, bool x2apic) {
    /* Flags bit 0: enabled; bit 1: online capable (may be brought up later). */
    if (!(flags & 3)) {
        out->cpu_disabled_count++;
        return;
    }
    for (int i = 0; i < out->cpu_count; i++)
        if (out->cpus[i].apic_id == apic_id) return; /* listed twice (xAPIC and x2APIC) */
    if (out->cpu_count >= ACPI_MAX_CPUS) {
        if (!st->cpus_full) add_error(out, "MADT: more than %u CPUs, the rest ignored", ACPI_MAX_CPUS);
        st->cpus_full = true;
        return;
    }
    struct acpi_cpu *c = &out->cpus[out->cpu_count++];
    c->acpi_id = acpi_id;
    c->apic_id = apic_id;
    c->enabled = flags & 1;
    c->x2apic = x2apic;
}

static void madt_add_nmi(struct acpi_info *out, struct madt_state *st, uint32_t acpi_id, uint8_t lint,
                         uint16_t flags) {
    if (out->nmi_count >= ACPI_MAX_NMIS) {
        if (!st->nmis_full) add_error(out, "MADT: more than %u LAPIC NMI entries", ACPI_MAX_NMIS);
        st->nmis_full = true;
        return;
    }
    struct acpi_nmi *n = &out->nmis[out->nmi_count++];
    n->acpi_id = acpi_id;
    n->lint = lint;
    n->flags = flags;
}

/* Minimum length of each entry type we read; 0 = type ignored. */
static uint8_t madt_entry_min_len(uint8_t type) {
    switch (type) {
    case 0: return 8;    /* Processor Local APIC */
    case 1: return 12;   /* I/O APIC */
    case 2: return 10;   /* Interrupt Source Override */
    case 4: return 6;    /* Local APIC NMI */
    case 5: return 12;   /* Local APIC Address Override */
    case 9: return 16;   /* Processor Local x2APIC */
    case 0xa: return 12; /* Local x2APIC NMI */
    default: return 0;
    }
}

static void parse_madt(struct acpi_info *out, const uint8_t *t, uint32_t len) {
    if (len < MADT_MIN_LEN) {
        add_error(out, "MADT: too short (%u bytes)", len);
        return;
    }
    struct madt_state st = {0};
    out->has_madt = true;
    out->lapic_address = rd32(t + 36);
    out->pic_present = rd32(t + 40) & 1;
    uint32_t off = MADT_MIN_LEN;
    while (off < len) {
        if (len - off < 2) {
            add_error(out, "MADT: truncated entry at offset %u", off);
            break;
        }
        const uint8_t *e = t + off;
        uint8_t type = e[0], elen = e[1];
        if (elen < 2) {
            add_error(out, "MADT: entry at offset %u has length %u", off, elen);
            break;
        }
        if (elen > len - off) {
            add_error(out, "MADT: entry at offset %u runs past the table end", off);
            break;
        }
        off += elen;
        uint8_t need = madt_entry_min_len(type);
        if (need == 0) continue;
        if (elen < need) {
            add_error(out, "MADT: type %u entry too short (%u bytes)", type, elen);
            continue;
        }
        switch (type) {
        case 0:
            madt_add_cpu(out, &st, e[2], e[3], rd32(e + 4), false);
            break;
        case 1: {
            if (out->ioapic_count >= ACPI_MAX_IOAPICS) {
                if (!st.ioapics_full) add_error(out, "MADT: more than %u I/O APICs", ACPI_MAX_IOAPICS);
                st.ioapics_full = true;
                break;
            }
            struct acpi_ioapic *io = &out->ioapics[out->ioapic_count++];
            io->id = e[2];
            io->address = rd32(e + 4);
            io->gsi_base = rd32(e + 8);
            break;
        }
        case 2: {
            if (out->iso_count >= ACPI_MAX_ISOS) {
                if (!st.isos_full) add_error(out, "MADT: more than %u interrupt overrides", ACPI_MAX_ISOS);
                st.isos_full = true;
                break;
            }
            struct acpi_iso *iso = &out->isos[out->iso_count++];
            iso->bus = e[2];
            iso->source = e[3];
            iso->gsi = rd32(e + 4);
            iso->flags = rd16(e + 8);
            break;
        }
        case 4:
            madt_add_nmi(out, &st, e[2], e[5], rd16(e + 3));
            break;
        case 5:
            out->lapic_address = rd64(e + 4);
            break;
        case 9:
            madt_add_cpu(out, &st, rd32(e + 12), rd32(e + 4), rd32(e + 8), true);
            break;
        case 0xa: {
            uint32_t uid = rd32(e + 4);
            madt_add_nmi(out, &st, uid == 0xffffffffu ? ACPI_NMI_ALL_CPUS : uid, e[8], rd16(e + 2));
            break;
        }
        }
    }
}

/* ---- DSDT: the \_S5 sleep package (AML, 20.2) ---- */

/* Decodes a PkgLength (20.2.4) at p; returns false when it is malformed or runs past avail. */
static bool aml_pkg_length(const uint8_t *p, size_t avail, uint32_t *len, size_t *used) {
    if (avail < 1) return false;
    uint8_t lead = p[0];
    unsigned follow = lead >> 6;
    if (follow == 0) {
        *len = lead & 0x3f;
        *used = 1;
        return true;
    }
    if (lead & 0x30) return false; /* bits 4-5 must be zero with follow bytes */
    if (avail < 1 + follow) return false;
    uint32_t v = lead & 0x0f;
    for (unsigned i = 0; i < follow; i++) v |= (uint32_t)p[1 + i] << (4 + 8 * i);
    *len = v;
    *used = 1 + follow;
    return true;
}

/* Decodes an integer data object (ComputationalData constants, 20.2.3) at p. */
static bool aml_integer(const uint8_t *p, size_t avail, uint64_t *value) {
    if (avail < 1) return false;
    switch (p[0]) {
    case AML_ZERO_OP: *value = 0; return true;
    case AML_ONE_OP: *value = 1; return true;
    case AML_ONES_OP: *value = ~0ull; return true;
    case AML_BYTE_PREFIX: if (avail < 2) return false; *value = p[1]; return true;
    case AML_WORD_PREFIX: if (avail < 3) return false; *value = rd16(p + 1); return true;
    case AML_DWORD_PREFIX: if (avail < 5) return false; *value = rd32(p + 1); return true;
    case AML_QWORD_PREFIX: if (avail < 9) return false; *value = rd64(p + 1); return true;
    default: return false;
    }
}

/* Size of the integer object at p (after aml_integer succeeded on it). */
static size_t aml_integer_size(uint8_t op) {
    switch (op) {
    case AML_BYTE_PREFIX: return 2;
    case AML_WORD_PREFIX: return 3;
    case AML_DWORD_PREFIX: return 5;
    case AML_QWORD_PREFIX: return 9;
    default: return 1;
    }
}

/* Parses `Name(_S5_, Package(n) {typa, typb, ...})` whose PackageOp is at t[pos]. */
static bool parse_s5_package(struct acpi_info *out, const uint8_t *t, size_t len, size_t pos) {
    if (t[pos] != AML_PACKAGE_OP) return false;
    size_t pkg_start = pos + 1; /* PkgLength counts from its own first byte */
    uint32_t pkg_len;
    size_t used;
    if (!aml_pkg_length(t + pkg_start, len - pkg_start, &pkg_len, &used)) return false;
    if (pkg_len < used + 1 || pkg_len > len - pkg_start) return false;
    size_t end = pkg_start + pkg_len;
    size_t q = pkg_start + used;
    uint8_t elements = t[q++];
    if (elements < 1) return false;
    uint64_t typa, typb;
    if (!aml_integer(t + q, end - q, &typa)) return false;
    q += aml_integer_size(t[q]);
    if (elements >= 2) {
        if (q >= end || !aml_integer(t + q, end - q, &typb)) return false;
    } else {
        /* A one-element package packs SLP_TYPa in bits 0-7 and SLP_TYPb in bits 8-15. */
        typb = typa >> 8;
    }
    out->s5_typa = (uint8_t)typa;
    out->s5_typb = (uint8_t)typb;
    return true;
}

/* Scans the DSDT's AML for the \_S5 object. The AML is not interpreted: a NameOp (optionally
 * with a root prefix) naming _S5_ followed by a package is what every firmware emits. */
static void find_s5(struct acpi_info *out, const uint8_t *t, uint32_t len) {
    for (size_t i = ACPI_HEADER_LEN; i + 4 <= len; i++) {
        if (t[i] != '_' || t[i + 1] != 'S' || t[i + 2] != '5' || t[i + 3] != '_') continue;
        bool named = (i >= 1 && t[i - 1] == AML_NAME_OP) ||
                     (i >= 2 && t[i - 1] == AML_ROOT_CHAR && t[i - 2] == AML_NAME_OP);
        if (!named) continue;
        if (i + 4 < len && parse_s5_package(out, t, len, i + 4)) {
            out->has_s5 = true;
            return;
        }
        add_error(out, "DSDT: \\_S5 package at offset %u is malformed", (unsigned)i);
        return;
    }
    add_error(out, "DSDT: no \\_S5 object, ACPI power off unavailable");
}

/* ---- FADT (5.2.9) ---- */

/* A GAS that names a port in system I/O space, else 0. */
static uint32_t gas_io_port(const struct acpi_gas *g) {
    if (g->space_id != ACPI_GAS_IO || g->address == 0 || g->address > 0xffff) return 0;
    return (uint32_t)g->address;
}

static void parse_dsdt(struct parser *ps, uint64_t pa) {
    struct acpi_info *out = ps->out;
    uint32_t len;
    char sig[5];
    const uint8_t *t = load_table(ps, pa, "DSDT", "DSDT", &len, sig);
    if (!t) return;
    record_table(out, sig, pa, len);
    find_s5(out, t, len);
}

static void parse_fadt(struct parser *ps, const uint8_t *t, uint32_t len) {
    struct acpi_info *out = ps->out;
    if (len < FADT_V1_LEN) {
        add_error(out, "FADT: too short (%u bytes)", len);
        return;
    }
    out->has_fadt = true;
    uint8_t rev = t[8];
    out->fadt_revision = rev;
    uint64_t dsdt = rd32(t + 40);
    out->sci_int = rd16(t + 46);
    out->pm1a_cnt = rd32(t + 64);
    out->pm1b_cnt = rd32(t + 68);
    out->pm_tmr_blk = rd32(t + 76);
    out->pm_tmr_len = t[91];
    out->century = t[108]; /* CMOS index of the RTC century register, 0 = none */
    uint32_t flags = rd32(t + 112);
    out->pm_tmr_32bit = flags & (1u << 8); /* TMR_VAL_EXT */
    if (rev >= 2) {
        /* IAPC_BOOT_ARCH was reserved in the ACPI 1.0 (revision 1) FADT. */
        out->iapc_boot_arch = rd16(t + 109);
        out->iapc_boot_arch_valid = true;
    }
    if (len >= 129 && (flags & (1u << 10))) { /* RESET_REG_SUP */
        read_gas(t + 116, &out->reset_reg);
        out->reset_value = t[128];
        out->reset_supported = out->reset_reg.address != 0;
        if (!out->reset_supported) add_error(out, "FADT: reset register supported but null");
    }
    /* The 64-bit X_ fields override the 32-bit ones when present (ACPI 2.0+ FADT). */
    if (len >= 148 && rd64(t + 140)) dsdt = rd64(t + 140);
    if (len >= 184) {
        struct acpi_gas g;
        read_gas(t + 172, &g);
        if (gas_io_port(&g)) out->pm1a_cnt = gas_io_port(&g);
    }
    if (len >= 196) {
        struct acpi_gas g;
        read_gas(t + 184, &g);
        if (gas_io_port(&g)) out->pm1b_cnt = gas_io_port(&g);
    }
    if (len >= 220) {
        struct acpi_gas g;
        read_gas(t + 208, &g);
        if (gas_io_port(&g)) out->pm_tmr_blk = gas_io_port(&g);
    }
    if (out->pm1a_cnt > 0xffff) {
        add_error(out, "FADT: PM1a control block %X is not an I/O port", (uint64_t)out->pm1a_cnt);
        out->pm1a_cnt = 0;
    }
    if (out->pm1b_cnt > 0xffff) out->pm1b_cnt = 0;
    if (out->pm_tmr_blk > 0xffff) out->pm_tmr_blk = 0;
    out->dsdt = dsdt;
    if (dsdt)
        parse_dsdt(ps, dsdt);
    else
        add_error(out, "FADT: no DSDT address");
}

/* ---- MCFG (PCI Firmware 3.0, 4.1.2) and HPET (IA-PC HPET 1.0a, 3.2.4) ---- */

static void parse_mcfg(struct acpi_info *out, const uint8_t *t, uint32_t len) {
    if (len < MCFG_HEADER_LEN) {
        add_error(out, "MCFG: too short (%u bytes)", len);
        return;
    }
    if ((len - MCFG_HEADER_LEN) % MCFG_ENTRY_LEN)
        add_error(out, "MCFG: length %u leaves a partial entry", len);
    uint32_t entries = (len - MCFG_HEADER_LEN) / MCFG_ENTRY_LEN;
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *e = t + MCFG_HEADER_LEN + i * MCFG_ENTRY_LEN;
        uint64_t base = rd64(e);
        if (base == 0 || e[11] < e[10]) {
            add_error(out, "MCFG: entry %u invalid", i);
            continue;
        }
        if (out->mcfg_count >= ACPI_MAX_MCFG) {
            add_error(out, "MCFG: more than %u entries", ACPI_MAX_MCFG);
            break;
        }
        struct acpi_mcfg *m = &out->mcfg[out->mcfg_count++];
        m->base = base;
        m->segment = rd16(e + 8);
        m->bus_start = e[10];
        m->bus_end = e[11];
    }
}

static void parse_hpet(struct acpi_info *out, const uint8_t *t, uint32_t len) {
    if (len < HPET_MIN_LEN) {
        add_error(out, "HPET: too short (%u bytes)", len);
        return;
    }
    struct acpi_gas base;
    read_gas(t + 40, &base);
    if (base.space_id != ACPI_GAS_MEMORY) {
        add_error(out, "HPET: base address in space %u, not memory", base.space_id);
        return;
    }
    if (base.address == 0) {
        add_error(out, "HPET: null base address");
        return;
    }
    out->has_hpet = true;
    out->hpet_address = base.address;
}

/* ---- RSDP and root table ---- */

static void parse_entry(struct parser *ps, uint64_t pa, const char *who) {
    struct acpi_info *out = ps->out;
    uint32_t len;
    char sig[5];
    const uint8_t *t = load_table(ps, pa, NULL, who, &len, sig);
    if (!t) return;
    record_table(out, sig, pa, len);
    /* The first valid instance of each table wins. */
    if (!memcmp(sig, "APIC", 4) && !out->has_madt)
        parse_madt(out, t, len);
    else if (!memcmp(sig, "FACP", 4) && !out->has_fadt)
        parse_fadt(ps, t, len);
    else if (!memcmp(sig, "MCFG", 4) && out->mcfg_count == 0)
        parse_mcfg(out, t, len);
    else if (!memcmp(sig, "HPET", 4) && !out->has_hpet)
        parse_hpet(out, t, len);
}

/* Validates the XSDT (xsdt = true) or RSDT at pa and parses every table it lists. */
static bool parse_root(struct parser *ps, uint64_t pa, bool xsdt) {
    struct acpi_info *out = ps->out;
    const char *name = xsdt ? "XSDT" : "RSDT";
    uint32_t len;
    char sig[5];
    const uint8_t *t = load_table(ps, pa, name, name, &len, sig);
    if (!t) return false;
    out->root_valid = true;
    out->used_xsdt = xsdt;
    out->root_address = pa;
    uint32_t entry_size = xsdt ? 8 : 4;
    uint32_t entries = (len - ACPI_HEADER_LEN) / entry_size;
    if ((len - ACPI_HEADER_LEN) % entry_size) add_error(out, "%s: length %u leaves a partial entry", name, len);
    if (entries > ACPI_ROOT_MAX_ENTRIES) {
        add_error(out, "%s: %u entries, only the first %u read", name, entries, ACPI_ROOT_MAX_ENTRIES);
        entries = ACPI_ROOT_MAX_ENTRIES;
    }
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *e = t + ACPI_HEADER_LEN + i * entry_size;
        uint64_t entry = xsdt ? rd64(e) : rd32(e);
        char who[24];
        struct text w = {who, sizeof(who), 0};
        text_puts(&w, name);
        text_puts(&w, " entry ");
        text_dec(&w, i);
        who[w.len] = '\0';
        parse_entry(ps, entry, who);
    }
    return true;
}

static void copy_oem_id(char out[7], const uint8_t *p) {
    int n = 0;
    for (int i = 0; i < 6; i++) out[n++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

int acpi_parse(uint64_t rsdp_pa, acpi_map_fn map, void *ctx, struct acpi_info *out) {
    memset(out, 0, sizeof(*out));
    struct parser ps = {map, ctx, out};
    out->rsdp_address = rsdp_pa;
    if (rsdp_pa == 0) {
        add_error(out, "RSDP: none");
        return -KEINVAL;
    }
    const uint8_t *r = map_bytes(&ps, rsdp_pa, ACPI_RSDP_V1_LEN);
    if (!r) {
        add_error(out, "RSDP: not readable at %X", rsdp_pa);
        return -KEINVAL;
    }
    if (memcmp(r, "RSD PTR ", 8) != 0) {
        add_error(out, "RSDP: bad signature at %X", rsdp_pa);
        return -KEINVAL;
    }
    if (!acpi_checksum_ok(r, ACPI_RSDP_V1_LEN)) {
        add_error(out, "RSDP: bad checksum");
        return -KEINVAL;
    }
    out->found = true;
    out->revision = r[15];
    copy_oem_id(out->oem_id, r + 9);
    uint64_t rsdt = rd32(r + 16), xsdt = 0;

    if (out->revision >= 2) {
        const uint8_t *r2 = map_bytes(&ps, rsdp_pa, ACPI_RSDP_V2_MIN_LEN);
        uint32_t len = r2 ? rd32(r2 + 20) : 0;
        if (!r2) {
            add_error(out, "RSDP: revision %u but only 20 bytes readable", out->revision);
        } else if (len < ACPI_RSDP_V2_MIN_LEN || len > ACPI_RSDP_MAX_LEN) {
            add_error(out, "RSDP: bad length %u", len);
        } else if (!(r2 = map_bytes(&ps, rsdp_pa, len))) {
            add_error(out, "RSDP: %u bytes not readable", len);
        } else if (!acpi_checksum_ok(r2, len)) {
            add_error(out, "RSDP: bad extended checksum");
        } else {
            xsdt = rd64(r2 + 24);
        }
    }

    /* XSDT first; the RSDT when there is no usable XSDT. */
    if (xsdt && parse_root(&ps, xsdt, true)) return 0;
    if (rsdt) {
        if (xsdt) add_error(out, "RSDP: XSDT unusable, using the RSDT");
        if (parse_root(&ps, rsdt, false)) return 0;
    } else if (!xsdt) {
        add_error(out, "RSDP: no root table address");
    }
    return -KEINVAL;
}
