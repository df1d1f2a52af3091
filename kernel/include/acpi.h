/* acpi.h: what the kernel learns from the ACPI tables (ACPI 6.5 spec, chapter 5).
 * The parser (kernel/acpi/acpi_tables.c) is pure code: it reads physical memory only through
 * a callback, so host tests can feed it synthetic and corrupted tables. */
#pragma once
#include "types.h"

#define ACPI_MAX_CPUS 64
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_ISOS 24
#define ACPI_MAX_NMIS 16
#define ACPI_MAX_MCFG 4
#define ACPI_MAX_TABLES 32
#define ACPI_MAX_ERRORS 8
/* acpi_nmi.acpi_id meaning "every processor" (an x2APIC NMI entry's 0xFFFFFFFF maps to it). */
#define ACPI_NMI_ALL_CPUS 0xff
/* Generic Address Structure address spaces (ACPI 6.5 table 5.1). */
#define ACPI_GAS_MEMORY 0
#define ACPI_GAS_IO 1
#define ACPI_GAS_PCI_CONFIG 2

struct acpi_cpu { uint32_t acpi_id; uint32_t apic_id; bool enabled; bool x2apic; };
struct acpi_ioapic { uint8_t id; uint32_t address; uint32_t gsi_base; };
/* Interrupt source override: legacy ISA irq `source` is wired to `gsi` with these flags. */
struct acpi_iso { uint8_t bus; uint8_t source; uint32_t gsi; uint16_t flags; };
/* Local APIC NMI entry: processor acpi_id (0xff = all), LINT pin (0/1), MPS INTI flags. */
struct acpi_nmi { uint32_t acpi_id; uint8_t lint; uint16_t flags; };
struct acpi_mcfg { uint64_t base; uint16_t segment; uint8_t bus_start, bus_end; };

/* Generic Address Structure (ACPI 5.2.3.2). */
struct acpi_gas { uint8_t space_id, bit_width, bit_offset, access_size; uint64_t address; };

struct acpi_info {
    bool found;            /* an RSDP with a valid checksum was found */
    uint8_t revision;      /* RSDP revision */
    bool used_xsdt;
    bool root_valid;       /* the XSDT or RSDT had a valid header and checksum */
    uint64_t rsdp_address, root_address;
    char oem_id[7];        /* RSDP OEM ID, trailing spaces removed */
    int table_count;
    char table_sigs[ACPI_MAX_TABLES][5]; /* signatures of every valid table, for `acpi` */
    uint64_t table_addrs[ACPI_MAX_TABLES];
    uint32_t table_lens[ACPI_MAX_TABLES];
    /* MADT */
    bool has_madt;
    uint64_t lapic_address;
    bool pic_present;      /* MADT flags bit 0: PCAT_COMPAT */
    int cpu_count;         /* enabled (or online-capable) processors, the ones in cpus[] */
    struct acpi_cpu cpus[ACPI_MAX_CPUS];
    int cpu_disabled_count; /* processor entries neither enabled nor online-capable */
    int ioapic_count;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    int iso_count;
    struct acpi_iso isos[ACPI_MAX_ISOS];
    int nmi_count;
    struct acpi_nmi nmis[ACPI_MAX_NMIS];
    /* FADT */
    bool has_fadt;
    uint32_t pm1a_cnt, pm1b_cnt;  /* PM1 control block I/O ports (0 = absent) */
    uint32_t pm_tmr_blk;
    uint8_t pm_tmr_len;
    bool pm_tmr_32bit;
    uint16_t sci_int;
    uint8_t fadt_revision;
    uint8_t century;              /* CMOS index of the RTC century register (0 = none) */
    uint16_t iapc_boot_arch;      /* bit 1: 8042 present */
    bool iapc_boot_arch_valid;    /* the FADT is new enough to have IAPC_BOOT_ARCH */
    bool reset_supported;         /* FADT flags bit 10 RESET_REG_SUP */
    struct acpi_gas reset_reg;
    uint8_t reset_value;
    uint64_t dsdt;                /* physical address of the DSDT */
    bool has_s5;                  /* \_S5 package found in the DSDT */
    uint8_t s5_typa, s5_typb;     /* SLP_TYPa/SLP_TYPb for S5 */
    /* MCFG */
    int mcfg_count;
    struct acpi_mcfg mcfg[ACPI_MAX_MCFG];
    /* HPET */
    bool has_hpet;
    uint64_t hpet_address;
    /* Problems found, one line each (also printed by the kernel). */
    int error_count;
    char errors[ACPI_MAX_ERRORS][96];
    int errors_dropped;    /* problems beyond ACPI_MAX_ERRORS, counted only */
};

/* Reads len bytes of physical memory at pa; returns a pointer to them or NULL if the range
 * is not readable. The host tests back this with a synthetic buffer. */
typedef const void *(*acpi_map_fn)(uint64_t pa, size_t len, void *ctx);

/* Parses everything reachable from the RSDP at rsdp_pa into *out (zeroed first).
 * Corrupt or missing tables are skipped and recorded in out->errors; never crashes.
 * Returns 0 when the RSDP and root table were valid, -KEINVAL otherwise. */
int acpi_parse(uint64_t rsdp_pa, acpi_map_fn map, void *ctx, struct acpi_info *out);
/* Checksum helper: true when the bytes sum to zero mod 256. */
bool acpi_checksum_ok(const void *p, size_t len);

/* The kernel's parsed tables (kernel/acpi/acpi.c), valid after acpi_init(). */
extern struct acpi_info acpi;
/* Parses the firmware's tables (rsdp_pa from the boot info, 0 = none) into `acpi` and logs a
 * summary and every problem found. Without an RSDP it says so and leaves `acpi` zeroed. */
void acpi_init(uint64_t rsdp_pa);
/* The kernel's map callback: physical memory through the direct map, NULL outside it. */
const void *acpi_map_direct(uint64_t pa, size_t len, void *ctx);
/* Prints the tables found and the MADT, FADT, MCFG and HPET contents (the shell's `acpi`). */
void acpi_print(void);
/* A readable name for a table signature: "APIC" -> "MADT", "FACP" -> "FADT", else itself. */
const char *acpi_table_name(const char *sig);
