/* symbols.c: function names for backtraces, from the kernel ELF's .symtab/.strtab
 * (ELF-64 Object File Format 1.5, §4 sections and §5 symbol table). The loader leaves a copy
 * of the whole kernel file in memory (boot_info.kernel_file), so no second link is needed. */
#include "types.h"
#include "fault.h"
#include "mm.h"
#include "printk.h"
#include "kstring.h"

struct elf64_shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t align, entsize;
};
struct elf64_sym {
    uint32_t name;
    uint8_t info, other;
    uint16_t shndx;
    uint64_t value, size;
};

static const struct elf64_sym *syms;
static size_t sym_count;
static const char *strtab;
static size_t strtab_size;

void symbols_init(uint64_t elf_phys, uint64_t size) {
    const uint8_t *file = phys_to_virt(elf_phys);
    if (!elf_phys || size < 64) goto none;
    uint64_t shoff = *(const uint64_t *)(file + 0x28);
    uint16_t shentsize = *(const uint16_t *)(file + 0x3a);
    uint16_t shnum = *(const uint16_t *)(file + 0x3c);
    if (shentsize != sizeof(struct elf64_shdr) || shoff > size || shoff + (uint64_t)shnum * shentsize > size)
        goto none;
    const struct elf64_shdr *sh = (const struct elf64_shdr *)(file + shoff);
    for (unsigned i = 0; i < shnum; i++) {
        if (sh[i].type != 2 /* SHT_SYMTAB */) continue;
        if (sh[i].link >= shnum) goto none;
        const struct elf64_shdr *st = &sh[sh[i].link];
        if (sh[i].offset + sh[i].size > size || st->offset + st->size > size) goto none;
        syms = (const struct elf64_sym *)(file + sh[i].offset);
        sym_count = sh[i].size / sizeof(struct elf64_sym);
        strtab = (const char *)(file + st->offset);
        strtab_size = st->size;
        printk(LOG_DEBUG, "symbols: %lu entries\n", (unsigned long)sym_count);
        return;
    }
none:
    printk(LOG_WARN, "symbols: no symbol table in the kernel image; backtraces show addresses only\n");
}

const char *symbol_lookup(uint64_t addr, uint64_t *offset) {
    const struct elf64_sym *best = NULL;
    for (size_t i = 0; i < sym_count; i++) {
        const struct elf64_sym *s = &syms[i];
        if ((s->info & 0xf) != 2 /* STT_FUNC */ || s->value > addr) continue;
        if (addr < s->value + (s->size ? s->size : 1) && (!best || s->value > best->value)) best = s;
    }
    if (!best || best->name >= strtab_size) return NULL;
    *offset = addr - best->value;
    return strtab + best->name;
}
