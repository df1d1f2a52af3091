/* lapic.c: the boot CPU's local APIC in x2APIC or xAPIC mode.
 * Follows the Intel SDM vol. 3A chapter 11 ("Advanced Programmable Interrupt Controller"):
 * 11.4.3-11.4.4 (IA32_APIC_BASE MSR, enabling), 11.4.6 (local APIC id), 11.5.1 (LVT),
 * 11.5.3 (error handling, ESR), 11.6.1 (ICR, destination shorthand), 11.8.5 (EOI),
 * 11.9 (spurious interrupt vector register), 11.12 (x2APIC: CPUID.01H:ECX[21], the EXTD bit,
 * MSR 0x800 + (MMIO offset >> 4), 64-bit ICR at MSR 0x830).
 * The LINT pins are programmed from the ACPI MADT local APIC NMI entries (ACPI 6.5 5.2.12.7). */
#include "irq.h"
#include "acpi.h"
#include "cpu.h"
#include "mm.h"
#include "printk.h"

#define X2APIC_MSR_BASE 0x800
#define X2APIC_MSR_ICR 0x830
#define CPUID1_EDX_APIC (1u << 9)
#define CPUID1_ECX_X2APIC (1u << 21)
#define LVT_DELIVERY_NMI (4u << 8)
#define LVT_ACTIVE_LOW (1u << 13)
#define ICR_DELIVERY_STATUS (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_SHORTHAND_SELF (1u << 18)
#define ACPI_NMI_ALL_CPUS_8 0xffu
#define ACPI_NMI_ALL_CPUS_32 0xffffffffu

static bool lapic_enabled;
static bool lapic_in_x2apic;
static volatile uint8_t *lapic_mmio;

/* Reads a local APIC register (xAPIC MMIO offset). */
uint32_t lapic_read(uint32_t reg) {
    if (lapic_in_x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR_BASE + (reg >> 4));
    return mmio_read32(lapic_mmio + reg);
}

/* Writes a local APIC register (xAPIC MMIO offset). */
void lapic_write(uint32_t reg, uint32_t v) {
    if (lapic_in_x2apic)
        wrmsr(X2APIC_MSR_BASE + (reg >> 4), v);
    else
        mmio_write32(lapic_mmio + reg, v);
}

/* This CPU's APIC id: 32 bits in x2APIC mode, bits 31:24 of the ID register in xAPIC mode. */
uint32_t lapic_id(void) {
    if (!lapic_enabled)
        return 0;
    uint32_t id = lapic_read(LAPIC_REG_ID);
    return lapic_in_x2apic ? id : id >> 24;
}

bool lapic_active(void) { return lapic_enabled; }
bool lapic_x2apic(void) { return lapic_in_x2apic; }

/* End of interrupt: a write of 0 (x2APIC requires 0). */
void lapic_eoi(void) {
    lapic_write(LAPIC_REG_EOI, 0);
}

/* Reads the error status: the ESR is latched by a write (of 0, required in x2APIC mode). */
static uint32_t lapic_read_esr(void) {
    lapic_write(LAPIC_REG_ESR, 0);
    return lapic_read(LAPIC_REG_ESR);
}

static void lapic_error_handler(struct irq_frame *f, void *arg) {
    uint32_t esr = lapic_read_esr();
    pr_err("lapic: APIC error, ESR %#x%s%s%s%s%s\n", esr,
           (esr & 0x20) ? " send-illegal-vector" : "", (esr & 0x40) ? " receive-illegal-vector" : "",
           (esr & 0x80) ? " illegal-register" : "", (esr & 0x04) ? " send-accept" : "",
           (esr & 0x08) ? " receive-accept" : "");
}

/* Sends a fixed interrupt with the vector to this CPU (ICR, destination shorthand "self"). */
void lapic_send_self_ipi(uint8_t vector) {
    uint32_t low = vector | ICR_LEVEL_ASSERT | ICR_SHORTHAND_SELF;
    uint64_t flags = irq_save();
    if (lapic_in_x2apic) {
        wrmsr(X2APIC_MSR_ICR, low); /* destination field ignored with a shorthand */
    } else {
        lapic_write(LAPIC_REG_ICR_HIGH, 0);
        lapic_write(LAPIC_REG_ICR_LOW, low);
        /* Wait (bounded) until the local APIC has accepted the IPI for delivery. */
        for (int i = 0; i < 100000 && (lapic_read(LAPIC_REG_ICR_LOW) & ICR_DELIVERY_STATUS); i++)
            cpu_relax();
    }
    irq_restore(flags);
}

/* The ACPI processor id of the CPU with this APIC id, or -1 when the MADT does not list it. */
static int64_t acpi_id_of_apic(uint32_t apic_id) {
    for (int i = 0; i < acpi.cpu_count && i < ACPI_MAX_CPUS; i++)
        if (acpi.cpus[i].apic_id == apic_id)
            return acpi.cpus[i].acpi_id;
    return -1;
}

/* LINT0 and LINT1: NMI where the MADT lists an NMI source for this CPU, masked otherwise
 * (the PIC's virtual-wire ExtINT on LINT0 is not used once the I/O APIC takes over). */
static void lapic_setup_lint(void) {
    uint32_t lvt[2] = {LAPIC_LVT_MASKED, LAPIC_LVT_MASKED};
    int64_t my_acpi_id = acpi_id_of_apic(lapic_id());
    for (int i = 0; i < acpi.nmi_count && i < ACPI_MAX_NMIS; i++) {
        const struct acpi_nmi *n = &acpi.nmis[i];
        bool for_me = n->acpi_id == ACPI_NMI_ALL_CPUS_8 || n->acpi_id == ACPI_NMI_ALL_CPUS_32 ||
                      (my_acpi_id >= 0 && n->acpi_id == (uint32_t)my_acpi_id);
        if (!for_me || n->lint > 1)
            continue;
        bool active_low, level;
        irq_decode_inti_flags(n->flags, &active_low, &level);
        /* NMI delivery is always edge-triggered (SDM 11.5.1), so the trigger bit stays 0. */
        lvt[n->lint] = LVT_DELIVERY_NMI | (active_low ? LVT_ACTIVE_LOW : 0);
    }
    lapic_write(LAPIC_REG_LVT_LINT0, lvt[0]);
    lapic_write(LAPIC_REG_LVT_LINT1, lvt[1]);
}

/* Clears in-service bits the firmware may have left behind: each EOI clears the highest. */
static void lapic_drain_in_service(void) {
    for (int round = 0; round < 256; round++) {
        bool any = false;
        for (uint32_t r = 0; r < 8; r++)
            if (lapic_read(LAPIC_REG_ISR0 + r * 0x10))
                any = true;
        if (!any)
            return;
        lapic_eoi();
    }
}

/* Enables the boot CPU's local APIC (x2APIC when CPUID offers it); false when there is none. */
bool lapic_init(void) {
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(d & CPUID1_EDX_APIC)) {
        pr_warn("lapic: CPUID reports no local APIC\n");
        return false;
    }
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (c & CPUID1_ECX_X2APIC) {
        /* Disabled -> xAPIC -> x2APIC: the direct disabled -> x2APIC step is invalid. */
        if (!(base & MSR_APIC_BASE_ENABLE)) {
            base |= MSR_APIC_BASE_ENABLE;
            wrmsr(MSR_APIC_BASE, base);
        }
        wrmsr(MSR_APIC_BASE, base | MSR_APIC_BASE_X2APIC);
        lapic_in_x2apic = true;
    } else {
        if (base & MSR_APIC_BASE_X2APIC) {
            pr_warn("lapic: x2APIC enabled but not reported by CPUID\n");
            return false;
        }
        uint64_t phys = base & 0x000ffffffffff000ull;
        if (acpi.lapic_address && acpi.lapic_address != phys)
            pr_warn("lapic: MADT says %#llx, APIC base MSR says %#llx; using the MSR\n",
                    (unsigned long long)acpi.lapic_address, (unsigned long long)phys);
        lapic_mmio = vmm_map_mmio(phys, PAGE_SIZE);
        if (!lapic_mmio) {
            pr_warn("lapic: cannot map the registers at %#llx\n", (unsigned long long)phys);
            return false;
        }
        wrmsr(MSR_APIC_BASE, base | MSR_APIC_BASE_ENABLE);
        lapic_in_x2apic = false;
    }
    lapic_enabled = true;

    /* Software enable with the spurious vector (11.9), accept every priority (TPR 0). */
    lapic_write(LAPIC_REG_SVR, LAPIC_SVR_ENABLE | VEC_SPURIOUS);
    lapic_write(LAPIC_REG_TPR, 0);
    lapic_write(LAPIC_REG_LVT_TIMER, LAPIC_LVT_MASKED);
    lapic_setup_lint();
    irq_set_handler(VEC_LAPIC_ERROR, lapic_error_handler, NULL, "lapic-error");
    lapic_write(LAPIC_REG_LVT_ERROR, VEC_LAPIC_ERROR);
    (void)lapic_read_esr(); /* back-to-back writes clear stale errors (11.5.3) */
    (void)lapic_read_esr();
    lapic_drain_in_service();
    return true;
}
