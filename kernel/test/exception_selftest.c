/* exception_selftest.c: each exception that can be raised on purpose is caught, reported with
 * the right vector and faulting address, and the run continues (group `exc`). Also checks the
 * W^X layout of the kernel image and the guard page under the boot stack (group `paging`). */
#include "types.h"
#include "selftest.h"
#include "fault.h"
#include "cpu.h"
#include "mm.h"
#include "arch.h"

/* Runs trigger() with fault recovery armed; returns the record. */
static struct fault_record run_faulting(void (*trigger)(void)) {
    struct fault_record rec;
    fault_catch_arm(&rec);
    if (kjmp_save(fault_catch_jmp()) == 0) trigger();
    fault_catch_disarm();
    return rec;
}

static volatile int zero_divisor = 0;
static volatile int sink;
static void do_divide(void) { sink = 10 / zero_divisor; }
static void do_breakpoint(void) { __asm__ volatile("int3"); }
static void do_ud(void) { __asm__ volatile("ud2"); }
static void do_gp(void) { (void)*(volatile uint64_t *)0x8000000000000000ull; } /* non-canonical */
#define UNMAPPED_ADDR 0x0000000dead00000ull
static void do_pf_read(void) { (void)*(volatile uint64_t *)UNMAPPED_ADDR; }
extern const char __rodata_start[];
static void do_pf_write_rodata(void) { *(volatile char *)__rodata_start = 1; }
static uint8_t data_page[16] __attribute__((aligned(16)));
static void do_pf_exec_data(void) {
    data_page[0] = 0xc3; /* ret */
    ((void (*)(void))(uintptr_t)data_page)();
}

SELFTEST(exc, divide_error_caught) {
    struct fault_record r = run_faulting(do_divide);
    ST_ASSERT(t, r.caught, "no exception");
    ST_ASSERT(t, r.vector == 0, "vector %lu, expected 0 (#DE)", r.vector);
    ST_ASSERT(t, r.rip >= (uint64_t)(uintptr_t)do_divide && r.rip < (uint64_t)(uintptr_t)do_divide + 64,
              "RIP %lx is not in do_divide", r.rip);
}

SELFTEST(exc, breakpoint_caught) {
    struct fault_record r = run_faulting(do_breakpoint);
    ST_ASSERT(t, r.caught, "no exception");
    ST_ASSERT(t, r.vector == 3, "vector %lu, expected 3 (#BP)", r.vector);
    /* #BP is a trap: RIP is just past the int3 instruction, inside do_breakpoint. */
    ST_ASSERT(t, r.rip > (uint64_t)(uintptr_t)do_breakpoint && r.rip < (uint64_t)(uintptr_t)do_breakpoint + 64,
              "RIP %lx is not in do_breakpoint", r.rip);
}

SELFTEST(exc, invalid_opcode_caught) {
    struct fault_record r = run_faulting(do_ud);
    ST_ASSERT(t, r.caught, "no exception");
    ST_ASSERT(t, r.vector == 6, "vector %lu, expected 6 (#UD)", r.vector);
    ST_ASSERT(t, *(const uint16_t *)(uintptr_t)r.rip == 0x0b0f, "RIP %lx does not point at ud2", r.rip);
}

SELFTEST(exc, general_protection_caught) {
    struct fault_record r = run_faulting(do_gp);
    ST_ASSERT(t, r.caught, "no exception");
    ST_ASSERT(t, r.vector == 13, "vector %lu, expected 13 (#GP)", r.vector);
    ST_ASSERT(t, r.error_code == 0, "error code %lx, expected 0", r.error_code);
    ST_ASSERT(t, r.rip >= (uint64_t)(uintptr_t)do_gp && r.rip < (uint64_t)(uintptr_t)do_gp + 64,
              "RIP %lx is not in do_gp", r.rip);
}

SELFTEST(exc, page_fault_not_present) {
    struct fault_record r = run_faulting(do_pf_read);
    ST_ASSERT(t, r.caught, "no exception");
    ST_ASSERT(t, r.vector == 14, "vector %lu, expected 14 (#PF)", r.vector);
    ST_ASSERT(t, r.cr2 == UNMAPPED_ADDR, "CR2 %lx, expected %llx", r.cr2, UNMAPPED_ADDR);
    ST_ASSERT(t, (r.error_code & 0x7) == 0, "error code %lx: expected not-present kernel read", r.error_code);
}

SELFTEST(exc, page_fault_write_to_rodata) {
    struct fault_record r = run_faulting(do_pf_write_rodata);
    ST_ASSERT(t, r.caught, "write to rodata did not fault: W^X broken");
    ST_ASSERT(t, r.vector == 14, "vector %lu, expected 14", r.vector);
    ST_ASSERT(t, r.cr2 == (uint64_t)(uintptr_t)__rodata_start, "CR2 %lx", r.cr2);
    ST_ASSERT(t, (r.error_code & 3) == 3, "error code %lx: expected present+write", r.error_code);
}

SELFTEST(exc, page_fault_execute_data) {
    struct fault_record r = run_faulting(do_pf_exec_data);
    ST_ASSERT(t, r.caught, "executing data did not fault: NX broken");
    ST_ASSERT(t, r.vector == 14, "vector %lu, expected 14", r.vector);
    ST_ASSERT(t, r.cr2 == (uint64_t)(uintptr_t)data_page, "CR2 %lx", r.cr2);
    ST_ASSERT(t, r.error_code & 16, "error code %lx: expected instruction fetch", r.error_code);
}

SELFTEST(exc, run_continues_after_faults) {
    /* Several faults in a row: each is caught and the stack is intact afterwards. */
    volatile uint64_t canary = 0x5ab05ab05ab05ab0ull;
    for (int i = 0; i < 5; i++) {
        struct fault_record r = run_faulting(do_ud);
        ST_ASSERT(t, r.caught && r.vector == 6, "round %d not caught", i);
    }
    ST_ASSERT(t, canary == 0x5ab05ab05ab05ab0ull, "stack corrupted");
    ST_ASSERT(t, read_rflags() & (1u << 9), "interrupts left disabled after recovery");
}

extern char __text_start[], __data_start[], boot_stack_guard[];

SELFTEST(paging, kernel_text_rx_rodata_r_data_rw_nx) {
    uint64_t ps;
    uint64_t text = vmm_query((uint64_t)(uintptr_t)__text_start, &ps);
    uint64_t ro = vmm_query((uint64_t)(uintptr_t)__rodata_start, &ps);
    uint64_t data = vmm_query((uint64_t)(uintptr_t)__data_start, &ps);
    ST_ASSERT(t, text && !(text & 2) && !(text >> 63), "text entry %lx: want present, read-only, executable", text);
    ST_ASSERT(t, ro && !(ro & 2) && (ro >> 63), "rodata entry %lx: want read-only, NX", ro);
    ST_ASSERT(t, data && (data & 2) && (data >> 63), "data entry %lx: want writable, NX", data);
}

SELFTEST(paging, boot_stack_guard_unmapped) {
    ST_ASSERT(t, vmm_query((uint64_t)(uintptr_t)boot_stack_guard, NULL) == 0, "guard page is mapped");
}

SELFTEST(paging, ist_stack_guards_unmapped) {
    for (int i = 0; i < 3; i++)
        ST_ASSERT(t, vmm_query((uint64_t)(uintptr_t)gdt_ist_guard_page(i), NULL) == 0,
                  "guard page under IST stack %d is mapped", i + 1);
}

SELFTEST(paging, kernel_image_alias_read_only) {
    /* The direct-map alias of the kernel's text must not be a way around W^X. */
    uint64_t alias = (uint64_t)(uintptr_t)phys_to_virt(virt_to_phys(__text_start));
    uint64_t e = vmm_query(alias, NULL);
    ST_ASSERT(t, e, "alias %lx is not mapped", alias);
    ST_ASSERT(t, !(e & 2) && (e >> 63), "alias entry %lx: want read-only and NX", e);
}

SELFTEST(paging, direct_map_matches_physical) {
    phys_addr_t pa = pmm_alloc();
    ST_ASSERT(t, pa, "no frame");
    volatile uint64_t *v = phys_to_virt(pa);
    v[0] = 0x1122334455667788ull;
    uint64_t ps;
    uint64_t e = vmm_query((uint64_t)(uintptr_t)v, &ps);
    bool ok = e && ((e & 0x000ffffffffff000ull & ~(ps - 1)) + ((uint64_t)(uintptr_t)v & (ps - 1) & ~0xfffull)) == pa;
    pmm_free(pa);
    ST_ASSERT(t, ok, "direct map entry %lx does not point at %lx", e, pa);
    ST_ASSERT(t, virt_to_phys((const void *)v) == pa, "virt_to_phys disagrees");
}

SELFTEST(paging, mmio_mapping_uncached) {
    /* The LAPIC page at 0xfee00000 is MMIO: mapped with PCD|PWT (uncached). */
    void *p = vmm_map_mmio(0xfee00000ull, 4096);
    ST_ASSERT(t, p, "map failed");
    uint64_t e = vmm_query((uint64_t)(uintptr_t)p, NULL);
    ST_ASSERT(t, (e & 0x18) == 0x18, "entry %lx lacks PCD|PWT", e);
    ST_ASSERT(t, e >> 63, "MMIO mapping is executable");
}
