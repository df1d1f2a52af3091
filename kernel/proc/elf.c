/* elf.c: validation of ELF64 x86-64 executables (see elf.h).
 *
 * Follows the System V gABI (ELF header §"ELF Header", identification §"e_ident", program
 * headers and §"Program Loading": PT_LOAD entries ascending by p_vaddr, p_vaddr congruent to
 * p_offset modulo the page size, p_filesz <= p_memsz, PT_PHDR at most once) and the AMD64
 * psABI (EM_X86_64, 4 KiB pages). Pure code: no allocation, no I/O, host-tested and fuzzed
 * (tests/host/test_elf.c). Every field of the file is hostile input: all arithmetic on it is
 * checked for overflow, and nothing outside buf[0, len) is ever read. */
#include "elf.h"
#include "uvm.h"
#include "kstring.h"

#define ELF_PAGE 4096ull
#define ELF_MAX_ALIGN (2ull << 20) /* larger p_align values are honoured only up to 2 MiB */

/* a + b <= limit without overflow. */
static bool fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

static int to_prot(uint32_t flags) {
    return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) |
           ((flags & PF_X) ? PROT_EXEC : 0);
}

static void read_phdr(const uint8_t *buf, uint64_t phoff, unsigned i, struct elf64_phdr *ph) {
    memcpy(ph, buf + phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/* Header checks; on success *eh is a copy of the header. */
static int check_ehdr(const uint8_t *buf, size_t len, uint64_t file_size, struct elf64_ehdr *eh) {
    if (len < sizeof(*eh) || file_size < sizeof(*eh)) return -KENOEXEC;
    memcpy(eh, buf, sizeof(*eh));
    const uint8_t *id = eh->e_ident;
    if (id[0] != 0x7f || id[1] != 'E' || id[2] != 'L' || id[3] != 'F') return -KENOEXEC;
    if (id[4] != ELFCLASS64 || id[5] != ELFDATA2LSB || id[6] != EV_CURRENT) return -KENOEXEC;
    if (id[7] != ELFOSABI_SYSV && id[7] != ELFOSABI_GNU) return -KENOEXEC;
    if (eh->e_version != EV_CURRENT || eh->e_machine != EM_X86_64) return -KENOEXEC;
    if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) return -KENOEXEC;
    if (eh->e_phentsize != sizeof(struct elf64_phdr)) return -KENOEXEC;
    if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS) return -KENOEXEC;
    /* The table follows the header (it may not overlap it), 8-byte aligned, whole. */
    if (eh->e_phoff < sizeof(*eh) || !IS_ALIGNED(eh->e_phoff, 8)) return -KENOEXEC;
    uint64_t tab = (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr);
    if (!fits(eh->e_phoff, tab, file_size) || !fits(eh->e_phoff, tab, len)) return -KENOEXEC;
    return 0;
}

uint64_t elf_headers_size(const void *buf, size_t len) {
    struct elf64_ehdr eh;
    if (!buf || len < sizeof(eh)) return sizeof(eh);
    memcpy(&eh, buf, sizeof(eh));
    uint64_t tab = (uint64_t)eh.e_phnum * eh.e_phentsize; /* at most 65535 * 65535 */
    uint64_t end = eh.e_phoff > UINT64_MAX - tab ? UINT64_MAX : eh.e_phoff + tab;
    return end < sizeof(eh) ? sizeof(eh) : end;
}

/* First pass: what kind of image, and the bias that places it. */
static int scan(const uint8_t *buf, const struct elf64_ehdr *eh, uint64_t *bias) {
    uint64_t min_vaddr = UINT64_MAX, max_align = ELF_PAGE;
    int nphdr = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        struct elf64_phdr ph;
        read_phdr(buf, eh->e_phoff, i, &ph);
        if (ph.p_type == PT_INTERP) return -KENOEXEC; /* dynamic executable: no loader here */
        if (ph.p_type == PT_PHDR && ++nphdr > 1) return -KENOEXEC;
        if (ph.p_type != PT_LOAD) continue;
        if (ph.p_align > 1 && (ph.p_align & (ph.p_align - 1))) return -KENOEXEC;
        if (ph.p_align > max_align) max_align = MIN(ph.p_align, ELF_MAX_ALIGN);
        if (ph.p_memsz && ph.p_vaddr < min_vaddr) min_vaddr = ph.p_vaddr;
    }
    if (min_vaddr == UINT64_MAX) return -KENOEXEC; /* nothing to load */
    *bias = 0;
    if (eh->e_type == ET_DYN) {
        /* Keep the image congruent modulo its largest alignment; a PIE linked high stays. */
        uint64_t base = ALIGN_DOWN(ELF_PIE_BASE, max_align), low = ALIGN_DOWN(min_vaddr, max_align);
        if (low < base) *bias = base - low;
    }
    return 0;
}

/* One PT_LOAD: checked and appended to out->load (in ascending, page-disjoint order). */
static int add_load(const struct elf64_phdr *ph, uint64_t file_size, struct elf_info *out) {
    if (ph->p_filesz > ph->p_memsz) return -KENOEXEC;
    if (!fits(ph->p_offset, ph->p_filesz, file_size)) return -KENOEXEC;
    if ((ph->p_vaddr & (ELF_PAGE - 1)) != (ph->p_offset & (ELF_PAGE - 1))) return -KENOEXEC;
    if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X)) return -KENOEXEC; /* W^X */
    if (ph->p_memsz == 0) return 0; /* occupies nothing */
    if (ph->p_vaddr > UINT64_MAX - out->bias) return -KENOEXEC;
    uint64_t va = ph->p_vaddr + out->bias;
    if (va < USER_MIN || !fits(va, ph->p_memsz, USER_MMAP_TOP)) return -KENOEXEC;
    uint64_t end = ALIGN_UP(va + ph->p_memsz, ELF_PAGE); /* <= USER_MMAP_TOP: no overflow */
    if (out->nload > 0 && ALIGN_DOWN(va, ELF_PAGE) < out->image_end) return -KENOEXEC;
    struct elf_segment *s = &out->load[out->nload++];
    s->vaddr = va;
    s->memsz = ph->p_memsz;
    s->offset = ph->p_offset;
    s->filesz = ph->p_filesz;
    s->prot = to_prot(ph->p_flags);
    out->image_end = end;
    return 0;
}

/* The loaded segment whose file-backed bytes hold [addr, addr + len), or NULL. */
static const struct elf_segment *backing(const struct elf_info *in, uint64_t addr, uint64_t len) {
    for (int i = 0; i < in->nload; i++) {
        const struct elf_segment *s = &in->load[i];
        if (addr >= s->vaddr && addr - s->vaddr <= s->filesz && len <= s->filesz - (addr - s->vaddr))
            return s;
    }
    return NULL;
}

int elf_parse(const void *buf_, size_t len, uint64_t file_size, struct elf_info *out) {
    const uint8_t *buf = buf_;
    if (!buf || !out) return -KENOEXEC;
    if (len > file_size) len = (size_t)file_size;
    struct elf64_ehdr eh;
    int r = check_ehdr(buf, len, file_size, &eh);
    if (r) return r;
    memset(out, 0, sizeof(*out));
    if ((r = scan(buf, &eh, &out->bias))) return r;
    out->type = eh.e_type;
    out->phoff = eh.e_phoff;
    out->phnum = eh.e_phnum;
    uint64_t tab = (uint64_t)eh.e_phnum * sizeof(struct elf64_phdr);
    bool have_phdr = false;
    uint64_t phdr_vaddr = 0, phdr_off = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        struct elf64_phdr ph;
        read_phdr(buf, eh.e_phoff, i, &ph);
        if (ph.p_type == PT_LOAD) {
            if ((r = add_load(&ph, file_size, out))) return r;
        } else if (ph.p_type == PT_PHDR) {
            have_phdr = true;
            phdr_vaddr = ph.p_vaddr;
            phdr_off = ph.p_offset;
        }
    }
    if (out->nload == 0) return -KENOEXEC;
    /* The entry point lies in an executable segment. */
    if (eh.e_entry > UINT64_MAX - out->bias) return -KENOEXEC;
    out->entry = eh.e_entry + out->bias;
    bool entry_ok = false;
    for (int i = 0; i < out->nload && !entry_ok; i++) {
        const struct elf_segment *s = &out->load[i];
        entry_ok = (s->prot & PROT_EXEC) && out->entry >= s->vaddr && out->entry - s->vaddr < s->memsz;
    }
    if (!entry_ok) return -KENOEXEC;
    /* AT_PHDR: PT_PHDR must describe the table as loaded; else find a segment loading it. */
    if (have_phdr) {
        if (phdr_off != eh.e_phoff || phdr_vaddr > UINT64_MAX - out->bias) return -KENOEXEC;
        const struct elf_segment *s = backing(out, phdr_vaddr + out->bias, tab);
        if (!s || s->offset + (phdr_vaddr + out->bias - s->vaddr) != eh.e_phoff) return -KENOEXEC;
        out->phdr_addr = phdr_vaddr + out->bias;
    } else {
        for (int i = 0; i < out->nload; i++) {
            const struct elf_segment *s = &out->load[i];
            if (eh.e_phoff >= s->offset && eh.e_phoff - s->offset <= s->filesz &&
                tab <= s->filesz - (eh.e_phoff - s->offset)) {
                out->phdr_addr = s->vaddr + (eh.e_phoff - s->offset);
                break;
            }
        }
    }
    return 0;
}
