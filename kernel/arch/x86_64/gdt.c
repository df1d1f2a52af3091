/* gdt.c: the Global Descriptor Table and the Task State Segment (Intel SDM vol. 3A §3.4.5,
 * §7.7 64-bit TSS). Layout: null, kernel code, kernel data, user data, user code, TSS (two
 * slots). IST stacks: 1 = #DF, 2 = NMI, 3 = #MC, so these run on a known-good stack even if
 * the kernel stack is broken. */
#include "types.h"
#include "arch.h"

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iopb_offset;
} PACKED;

static uint64_t gdt[7];
static struct tss64 tss;
/* Each IST stack sits above a guard page that paging_init leaves unmapped, so an overflow on
 * the #DF/NMI/#MC path faults instead of overwriting whatever lies below. */
struct ist_area {
    uint8_t guard[4096];
    uint8_t stack[16384];
};
static struct ist_area ist_areas[3] __attribute__((aligned(4096)));

const void *gdt_ist_guard_page(int i) { return (i >= 0 && i < 3) ? ist_areas[i].guard : NULL; }

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} PACKED;

static uint64_t segment(uint8_t access, uint8_t flags) {
    /* base 0, limit 0xfffff: ignored in long mode except for the bits we set */
    return 0xffffull | ((uint64_t)access << 40) | ((uint64_t)(flags | 0xf) << 48);
}

/* Builds and loads the GDT and TSS, reloads the segment registers. */
void gdt_init(void) {
    gdt[0] = 0;
    gdt[GDT_KCODE / 8] = segment(0x9a, 0xa0); /* present, ring 0, code, L=1 */
    gdt[GDT_KDATA / 8] = segment(0x92, 0xc0);
    gdt[GDT_UDATA / 8] = segment(0xf2, 0xc0);
    gdt[GDT_UCODE / 8] = segment(0xfa, 0xa0);
    for (int i = 0; i < 3; i++)
        tss.ist[i] = (uint64_t)(uintptr_t)&ist_areas[i].stack[sizeof(ist_areas[i].stack)];
    tss.iopb_offset = sizeof(tss);
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof(tss) - 1;
    gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                       (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[GDT_TSS / 8 + 1] = base >> 32;

    struct desc_ptr ptr = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
                     "xor %%eax, %%eax\n mov %%eax, %%fs\n mov %%eax, %%gs\n"
                     "pushq %2\n"
                     "lea 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1:\n"
                     "ltr %w3\n" ::"m"(ptr),
                     "r"((uint64_t)GDT_KDATA), "i"(GDT_KCODE), "r"((uint16_t)GDT_TSS)
                     : "rax", "memory");
}

/* The kernel stack used on entry from user mode (ring 3 -> 0). */
void tss_set_kernel_stack(uint64_t rsp0) { tss.rsp[0] = rsp0; }
