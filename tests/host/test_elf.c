/* test_elf.c: host unit tests for the ELF64 validator (kernel/proc/elf.c) against the System
 * V gABI (header, program headers, "Program Loading") and the AMD64 psABI: a hand-built
 * static ET_EXEC laid out like musl-gcc -static output, a static PIE (ET_DYN with PT_PHDR,
 * moved to ELF_PIE_BASE), the real build/user/bin/true when `make user` built it, then every
 * kind of corruption execve must refuse with ENOEXEC, and a fuzzer (20,000 mutations) that
 * checks the result is always 0 or -KENOEXEC and that every accepted image is sane. */
#include "host_stubs.h"
#include "../../kernel/proc/elf.c"

#include <string.h>
#include <dirent.h>
#include "uvm.h"

#define FILE_SIZE 0x3000u

/* A static ET_EXEC like musl-gcc -static's: R headers page, R+X text, R rodata, RW data+bss
 * (data starting mid-page, as GNU ld places .init_array after RELRO), GNU_STACK. */
struct image {
    uint8_t bytes[FILE_SIZE];
    size_t len;
};

static struct elf64_ehdr *EH(struct image *im) { return (struct elf64_ehdr *)im->bytes; }
static struct elf64_phdr *PH(struct image *im, int i) {
    return (struct elf64_phdr *)(im->bytes + EH(im)->e_phoff) + i;
}

static void set_ph(struct image *im, int i, uint32_t type, uint32_t flags, uint64_t off, uint64_t va,
                   uint64_t filesz, uint64_t memsz, uint64_t align) {
    struct elf64_phdr *ph = PH(im, i);
    ph->p_type = type;
    ph->p_flags = flags;
    ph->p_offset = off;
    ph->p_vaddr = ph->p_paddr = va;
    ph->p_filesz = filesz;
    ph->p_memsz = memsz;
    ph->p_align = align;
}

static void make_exec(struct image *im) {
    memset(im, 0, sizeof(*im));
    im->len = FILE_SIZE;
    struct elf64_ehdr *eh = EH(im);
    memcpy(eh->e_ident, "\x7f" "ELF", 4);
    eh->e_ident[4] = ELFCLASS64;
    eh->e_ident[5] = ELFDATA2LSB;
    eh->e_ident[6] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = 0x401033;
    eh->e_phoff = 64;
    eh->e_ehsize = 64;
    eh->e_phentsize = 56;
    eh->e_phnum = 5;
    set_ph(im, 0, PT_LOAD, PF_R, 0, 0x400000, 0x190, 0x190, 0x1000);
    set_ph(im, 1, PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x81c, 0x81c, 0x1000);
    set_ph(im, 2, PT_LOAD, PF_R, 0x2000, 0x402000, 0x40, 0x40, 0x1000);
    set_ph(im, 3, PT_LOAD, PF_R | PF_W, 0x2fd0, 0x403fd0, 0x30, 0x2a8, 0x1000);
    set_ph(im, 4, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
}

/* A static PIE: PT_PHDR first, segments from 0, entry at 0x1043, TLS. */
static void make_pie(struct image *im) {
    make_exec(im);
    struct elf64_ehdr *eh = EH(im);
    eh->e_type = ET_DYN;
    eh->e_entry = 0x1043;
    eh->e_phnum = 7;
    set_ph(im, 0, PT_PHDR, PF_R, 64, 64, 7 * 56, 7 * 56, 8);
    set_ph(im, 1, PT_LOAD, PF_R, 0, 0, 0x478, 0x478, 0x1000);
    set_ph(im, 2, PT_LOAD, PF_R | PF_X, 0x1000, 0x1000, 0x14c, 0x14c, 0x1000);
    set_ph(im, 3, PT_LOAD, PF_R, 0x2000, 0x2000, 0x70, 0x70, 0x1000);
    set_ph(im, 4, PT_LOAD, PF_R | PF_W, 0x2e00, 0x3e00, 0x200, 0x218, 0x1000);
    set_ph(im, 5, PT_TLS, PF_R, 0x2e00, 0x3e00, 4, 4, 4);
    set_ph(im, 6, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
}

static int parse(struct image *im, struct elf_info *info) {
    return elf_parse(im->bytes, im->len, im->len, info);
}

static void test_valid_exec(void **state) {
    (void)state;
    struct image im;
    struct elf_info info;
    make_exec(&im);
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.type, ET_EXEC);
    assert_int_equal(info.bias, 0);
    assert_int_equal(info.entry, 0x401033);
    assert_int_equal(info.phnum, 5);
    assert_int_equal(info.phoff, 64);
    assert_int_equal(info.phdr_addr, 0x400040); /* first PT_LOAD (offset 0) + e_phoff */
    assert_int_equal(info.nload, 4);
    assert_int_equal(info.image_end, 0x405000);  /* 0x403fd0 + 0x2a8 rounded up */
    assert_int_equal(info.load[0].prot, PROT_READ);
    assert_int_equal(info.load[1].prot, PROT_READ | PROT_EXEC);
    assert_int_equal(info.load[3].prot, PROT_READ | PROT_WRITE);
    assert_int_equal(info.load[3].vaddr, 0x403fd0);
    assert_int_equal(info.load[3].offset, 0x2fd0);
    assert_int_equal(info.load[3].filesz, 0x30);
    assert_int_equal(info.load[3].memsz, 0x2a8);
    /* OSABI GNU/Linux is fine too; extra bytes past the headers in buf do not matter */
    EH(&im)->e_ident[7] = ELFOSABI_GNU;
    assert_int_equal(parse(&im, &info), 0);
    /* only the header and table need to be in buf */
    assert_int_equal(elf_parse(im.bytes, 64 + 5 * 56, FILE_SIZE, &info), 0);
}

static void test_valid_pie(void **state) {
    (void)state;
    struct image im;
    struct elf_info info;
    make_pie(&im);
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.type, ET_DYN);
    assert_int_equal(info.bias, ELF_PIE_BASE);
    assert_int_equal(info.entry, ELF_PIE_BASE + 0x1043);
    assert_int_equal(info.phdr_addr, ELF_PIE_BASE + 64);
    assert_int_equal(info.nload, 4);
    assert_int_equal(info.load[0].vaddr, ELF_PIE_BASE);
    assert_int_equal(info.load[3].vaddr, ELF_PIE_BASE + 0x3e00);
    assert_int_equal(info.image_end, ELF_PIE_BASE + 0x5000);
    assert_true(info.image_end <= USER_MMAP_TOP);
    /* 2 MiB p_align: the bias keeps the image congruent modulo 2 MiB */
    for (int i = 1; i <= 4; i++) PH(&im, i)->p_align = 0x200000;
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.bias % 0x200000, 0);
    assert_true(info.bias <= ELF_PIE_BASE && info.bias > ELF_PIE_BASE - 0x200000);
    /* a PIE without PT_PHDR still finds its table through the first segment */
    make_pie(&im);
    PH(&im, 0)->p_type = PT_NULL;
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.phdr_addr, ELF_PIE_BASE + 64);
}

static void test_phdrs_not_loaded(void **state) {
    (void)state;
    struct image im;
    struct elf_info info;
    make_exec(&im);
    /* drop the headers page: no segment holds the table, AT_PHDR needs a copy (0 here) */
    EH(&im)->e_phoff = 64;
    PH(&im, 0)->p_type = PT_NOTE;
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.nload, 3);
    assert_int_equal(info.phdr_addr, 0);
    /* table only partly inside the first segment's file bytes */
    make_exec(&im);
    PH(&im, 0)->p_filesz = PH(&im, 0)->p_memsz = 100;
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.phdr_addr, 0);
}

/* Every musl-gcc -static program `make user` built (bin/true at least) must be accepted. */
static int check_real_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    static uint8_t buf[4 << 20];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    assert_true(n > 64 && n < sizeof(buf));
    struct elf_info info;
    int r = elf_parse(buf, n, n, &info);
    if (r) fprintf(stderr, "%s: elf_parse = %d\n", path, r);
    assert_int_equal(r, 0);
    assert_true(info.type == ET_EXEC || info.type == ET_DYN);
    assert_true(info.nload >= 1);
    assert_int_not_equal(info.phdr_addr, 0);
    uint64_t need = elf_headers_size(buf, n);
    assert_true(need <= 4096);
    /* truncated anywhere inside the headers: refused */
    for (size_t l = 0; l < need; l++) assert_int_equal(elf_parse(buf, l, n, &info), -KENOEXEC);
    return 1;
}

static void test_real_binaries(void **state) {
    (void)state;
    int seen = 0;
    const char *dirs[] = {"build/user/bin", "build/user/sbin"};
    for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
            seen += check_real_file(path);
        }
        closedir(dir);
    }
    if (!seen) fprintf(stderr, "no programs in build/user (make user): skipped\n");
}

/* Each corruption of a valid image must give -KENOEXEC. */
typedef void (*corrupt_fn)(struct image *im);
#define CORRUPT(name, body) static void name(struct image *im) { body; }
CORRUPT(c_magic0, im->bytes[0] = 0x7e)
CORRUPT(c_magic3, im->bytes[3] = 'f')
CORRUPT(c_class32, im->bytes[4] = 1)
CORRUPT(c_class0, im->bytes[4] = 0)
CORRUPT(c_bigendian, im->bytes[5] = 2)
CORRUPT(c_identver, im->bytes[6] = 0)
CORRUPT(c_osabi, im->bytes[7] = 9 /* FreeBSD */)
CORRUPT(c_version, EH(im)->e_version = 2)
CORRUPT(c_machine_i386, EH(im)->e_machine = 3)
CORRUPT(c_machine_arm, EH(im)->e_machine = 183)
CORRUPT(c_type_rel, EH(im)->e_type = 1)
CORRUPT(c_type_core, EH(im)->e_type = 4)
CORRUPT(c_phentsize, EH(im)->e_phentsize = 32)
CORRUPT(c_phentsize_big, EH(im)->e_phentsize = 64)
CORRUPT(c_phnum0, EH(im)->e_phnum = 0)
CORRUPT(c_phnum65, EH(im)->e_phnum = 65)
CORRUPT(c_phnum_max, EH(im)->e_phnum = 0xffff)
CORRUPT(c_phoff0, EH(im)->e_phoff = 0)
CORRUPT(c_phoff_in_header, EH(im)->e_phoff = 32)
CORRUPT(c_phoff_misaligned, EH(im)->e_phoff = 68)
CORRUPT(c_phoff_past_file, EH(im)->e_phoff = FILE_SIZE - 56)
CORRUPT(c_phoff_huge, EH(im)->e_phoff = UINT64_MAX - 7)
CORRUPT(c_truncated_header, im->len = 63)
CORRUPT(c_truncated_table, im->len = 64 + 5 * 56 - 1)
CORRUPT(c_empty, im->len = 0)
CORRUPT(c_filesz_gt_memsz, PH(im, 3)->p_filesz = 0x300)
CORRUPT(c_data_past_file, PH(im, 1)->p_filesz = PH(im, 1)->p_memsz = FILE_SIZE)
CORRUPT(c_offset_overflow, PH(im, 3)->p_offset = UINT64_MAX - 0x2f; PH(im, 3)->p_vaddr = 0x403fd0)
CORRUPT(c_offset_incongruent, PH(im, 3)->p_offset = 0x2fd8)
CORRUPT(c_wx, PH(im, 1)->p_flags = PF_R | PF_W | PF_X)
CORRUPT(c_wx_data, PH(im, 3)->p_flags = PF_W | PF_X)
CORRUPT(c_below_user_min, for (int i = 0; i < 4; i++) PH(im, i)->p_vaddr -= 0x3f8000;
        EH(im)->e_entry -= 0x3f8000)
CORRUPT(c_null_page, PH(im, 0)->p_vaddr = 0; PH(im, 0)->p_memsz = PH(im, 0)->p_filesz)
CORRUPT(c_kernel_address, for (int i = 0; i < 4; i++) PH(im, i)->p_vaddr += 0xffffffff80000000ull - 0x400000;
        EH(im)->e_entry += 0xffffffff80000000ull - 0x400000)
CORRUPT(c_noncanonical, PH(im, 3)->p_vaddr = 0x0000800000000fd0ull)
CORRUPT(c_into_mmap_area, PH(im, 3)->p_vaddr = USER_MMAP_TOP - 0x30; PH(im, 3)->p_offset = 0x2fd0)
CORRUPT(c_memsz_huge, PH(im, 3)->p_memsz = UINT64_MAX)
CORRUPT(c_memsz_wrap, PH(im, 3)->p_memsz = UINT64_MAX - 0x403fd0 + 2)
CORRUPT(c_interp, PH(im, 4)->p_type = PT_INTERP)
CORRUPT(c_no_load, for (int i = 0; i < 4; i++) PH(im, i)->p_type = PT_NOTE)
CORRUPT(c_only_empty_loads, for (int i = 0; i < 4; i++) PH(im, i)->p_filesz = PH(im, i)->p_memsz = 0)
CORRUPT(c_entry_outside, EH(im)->e_entry = 0x500000)
CORRUPT(c_entry_zero, EH(im)->e_entry = 0)
CORRUPT(c_entry_in_data, EH(im)->e_entry = 0x403fd8)
CORRUPT(c_entry_past_text, EH(im)->e_entry = 0x40181c)
CORRUPT(c_overlap, PH(im, 2)->p_vaddr = 0x401800; PH(im, 2)->p_offset = 0x1800)
CORRUPT(c_share_page, PH(im, 2)->p_vaddr = 0x401900; PH(im, 2)->p_offset = 0x1900)
CORRUPT(c_descending, struct elf64_phdr t = *PH(im, 1); *PH(im, 1) = *PH(im, 2); *PH(im, 2) = t)
CORRUPT(c_same_segment_twice, *PH(im, 2) = *PH(im, 1))
CORRUPT(c_align_not_pow2, PH(im, 1)->p_align = 0x3000)
CORRUPT(c_two_phdr, PH(im, 4)->p_type = PT_PHDR; PH(im, 4)->p_offset = 64; PH(im, 4)->p_vaddr = 0x400040;
        EH(im)->e_phnum = 6; *PH(im, 5) = *PH(im, 4))
CORRUPT(c_phdr_wrong_offset, PH(im, 4)->p_type = PT_PHDR; PH(im, 4)->p_offset = 128; PH(im, 4)->p_vaddr = 0x400080)
CORRUPT(c_phdr_not_loaded, PH(im, 4)->p_type = PT_PHDR; PH(im, 4)->p_offset = 64; PH(im, 4)->p_vaddr = 0x600040)
CORRUPT(c_phdr_in_bss, PH(im, 4)->p_type = PT_PHDR; PH(im, 4)->p_offset = 64; PH(im, 4)->p_vaddr = 0x404040)
CORRUPT(c_phdr_wrong_vaddr, PH(im, 4)->p_type = PT_PHDR; PH(im, 4)->p_offset = 64; PH(im, 4)->p_vaddr = 0x400048)

static const struct {
    const char *name;
    corrupt_fn fn;
} corruptions[] = {
#define C(x) {#x, x}
    C(c_magic0), C(c_magic3), C(c_class32), C(c_class0), C(c_bigendian), C(c_identver), C(c_osabi),
    C(c_version), C(c_machine_i386), C(c_machine_arm), C(c_type_rel), C(c_type_core), C(c_phentsize),
    C(c_phentsize_big), C(c_phnum0), C(c_phnum65), C(c_phnum_max), C(c_phoff0), C(c_phoff_in_header),
    C(c_phoff_misaligned), C(c_phoff_past_file), C(c_phoff_huge), C(c_truncated_header),
    C(c_truncated_table), C(c_empty), C(c_filesz_gt_memsz), C(c_data_past_file), C(c_offset_overflow),
    C(c_offset_incongruent), C(c_wx), C(c_wx_data), C(c_below_user_min), C(c_null_page),
    C(c_kernel_address), C(c_noncanonical), C(c_into_mmap_area), C(c_memsz_huge), C(c_memsz_wrap),
    C(c_interp), C(c_no_load), C(c_only_empty_loads), C(c_entry_outside), C(c_entry_zero),
    C(c_entry_in_data), C(c_entry_past_text), C(c_overlap), C(c_share_page),
    C(c_descending), C(c_same_segment_twice), C(c_align_not_pow2), C(c_two_phdr),
    C(c_phdr_wrong_offset), C(c_phdr_not_loaded), C(c_phdr_in_bss), C(c_phdr_wrong_vaddr),
#undef C
};

static void test_corruptions(void **state) {
    (void)state;
    struct image im;
    struct elf_info info;
    int bad = 0;
    for (size_t i = 0; i < ARRAY_SIZE(corruptions); i++) {
        make_exec(&im);
        corruptions[i].fn(&im);
        int r = parse(&im, &info);
        if (r != -KENOEXEC) {
            fprintf(stderr, "corruption %s: elf_parse = %d, want -KENOEXEC\n", corruptions[i].name, r);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    /* a valid PT_PHDR in the template is accepted (the negative cases above are precise) */
    make_exec(&im);
    set_ph(&im, 4, PT_PHDR, PF_R, 64, 0x400040, 5 * 56, 5 * 56, 8);
    assert_int_equal(parse(&im, &info), 0);
    assert_int_equal(info.phdr_addr, 0x400040);
}

static void test_pie_corruptions(void **state) {
    (void)state;
    struct image im;
    struct elf_info info;
    /* PIE with PT_INTERP: a dynamic executable */
    make_pie(&im);
    PH(&im, 6)->p_type = PT_INTERP;
    assert_int_equal(parse(&im, &info), -KENOEXEC);
    /* PIE whose span does not fit below USER_MMAP_TOP after the bias */
    make_pie(&im);
    PH(&im, 4)->p_memsz = USER_MMAP_TOP - ELF_PIE_BASE;
    assert_int_equal(parse(&im, &info), -KENOEXEC);
    /* PIE linked at a huge address: bias 0, then out of range */
    make_pie(&im);
    for (int i = 1; i <= 4; i++) PH(&im, i)->p_vaddr += 0xffff800000000000ull;
    PH(&im, 0)->p_vaddr += 0xffff800000000000ull;
    EH(&im)->e_entry += 0xffff800000000000ull;
    assert_int_equal(parse(&im, &info), -KENOEXEC);
    /* entry wrapping with the bias */
    make_pie(&im);
    EH(&im)->e_entry = UINT64_MAX - 4;
    assert_int_equal(parse(&im, &info), -KENOEXEC);
    /* PT_PHDR vaddr wrapping with the bias */
    make_pie(&im);
    PH(&im, 0)->p_vaddr = UINT64_MAX - 8;
    assert_int_equal(parse(&im, &info), -KENOEXEC);
}

static void test_bad_arguments(void **state) {
    (void)state;
    struct image im;
    struct elf_info info;
    make_exec(&im);
    assert_int_equal(elf_parse(NULL, 100, 100, &info), -KENOEXEC);
    assert_int_equal(elf_parse(im.bytes, im.len, im.len, NULL), -KENOEXEC);
    /* file_size smaller than what the segments need */
    assert_int_equal(elf_parse(im.bytes, im.len, 0x2000, &info), -KENOEXEC);
    /* len larger than the file is clamped: the table must be in the file */
    assert_int_equal(elf_parse(im.bytes, im.len, 100, &info), -KENOEXEC);
}

static void test_headers_size(void **state) {
    (void)state;
    struct image im;
    make_exec(&im);
    assert_int_equal(elf_headers_size(im.bytes, im.len), 64 + 5 * 56);
    assert_int_equal(elf_headers_size(im.bytes, 10), 64);
    assert_int_equal(elf_headers_size(NULL, 0), 64);
    EH(&im)->e_phoff = 0x10000;
    assert_int_equal(elf_headers_size(im.bytes, im.len), 0x10000 + 5 * 56);
    EH(&im)->e_phoff = UINT64_MAX - 10;
    assert_int_equal(elf_headers_size(im.bytes, im.len), UINT64_MAX);
    EH(&im)->e_phoff = 0;
    EH(&im)->e_phnum = 0;
    assert_int_equal(elf_headers_size(im.bytes, im.len), 64);
}

/* ---- fuzzer ---- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t interesting(void) {
    static const uint64_t v[] = {0, 1, 7, 8, 56, 64, 0xfff, 0x1000, 0x1001, 0x10000, 0x400000, 0x401033,
                                 ELF_PIE_BASE, USER_MMAP_TOP, USER_MMAP_TOP - 0x1000, USER_TOP,
                                 0x7fffffffffffull, 0xffffffff80000000ull, UINT64_MAX, UINT64_MAX - 0xfff,
                                 0x8000000000000000ull, FILE_SIZE, FILE_SIZE - 1};
    return v[rnd() % ARRAY_SIZE(v)];
}

/* Invariants of an accepted image. */
static void check_sane(const struct elf_info *in, uint64_t file_size) {
    assert_true(in->nload >= 1 && in->nload <= ELF_MAX_PHDRS);
    bool entry_ok = false;
    uint64_t prev_end = 0;
    for (int i = 0; i < in->nload; i++) {
        const struct elf_segment *s = &in->load[i];
        assert_true(s->vaddr >= USER_MIN);
        assert_true(s->memsz > 0 && s->memsz <= USER_MMAP_TOP - s->vaddr);
        assert_true(s->filesz <= s->memsz);
        assert_true(s->offset <= file_size && s->filesz <= file_size - s->offset);
        assert_false((s->prot & PROT_WRITE) && (s->prot & PROT_EXEC));
        assert_true(ALIGN_DOWN(s->vaddr, 4096) >= prev_end);
        prev_end = ALIGN_UP(s->vaddr + s->memsz, 4096);
        if ((s->prot & PROT_EXEC) && in->entry >= s->vaddr && in->entry < s->vaddr + s->memsz) entry_ok = true;
    }
    assert_true(entry_ok);
    assert_int_equal(in->image_end, prev_end);
    assert_true(in->image_end <= USER_MMAP_TOP);
    assert_true(in->phnum >= 1 && in->phnum <= ELF_MAX_PHDRS);
}

static void test_fuzz(void **state) {
    (void)state;
    struct image base, im;
    struct elf_info info;
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        if (iter & 1) make_exec(&base); else make_pie(&base);
        im = base;
        int nmut = 1 + (int)(rnd() % 6);
        for (int m = 0; m < nmut; m++) {
            uint64_t k = rnd() % 10;
            size_t hdr_end = 64 + 7 * 56;
            if (k < 4) { /* flip a byte in the headers */
                im.bytes[rnd() % hdr_end] ^= (uint8_t)(1u << (rnd() % 8));
            } else if (k < 6) { /* random byte anywhere in the headers */
                im.bytes[rnd() % hdr_end] = (uint8_t)rnd();
            } else if (k < 8) { /* an interesting 64-bit value at an 8-aligned spot */
                uint64_t v = interesting();
                size_t at = (rnd() % (hdr_end / 8)) * 8;
                memcpy(im.bytes + at, &v, 8);
            } else if (k < 9) { /* an interesting 16-bit value into the header's small fields */
                uint16_t v = (uint16_t)(rnd() % 3 ? rnd() % 70 : rnd());
                size_t at = 16 + (rnd() % 24) * 2;
                memcpy(im.bytes + at, &v, 2);
            } else { /* truncate */
                im.len = (size_t)(rnd() % (FILE_SIZE + 1));
            }
        }
        /* the parser must only read [0, len): give it a heap copy of exactly len bytes */
        uint8_t *copy = malloc(im.len ? im.len : 1);
        assert_non_null(copy);
        memcpy(copy, im.bytes, im.len);
        uint64_t fsize = (rnd() % 8 == 0) ? rnd() % (2 * FILE_SIZE) : im.len;
        size_t len = im.len <= fsize ? im.len : (size_t)fsize;
        int r = elf_parse(copy, len, fsize, &info);
        assert_true(r == 0 || r == -KENOEXEC);
        if (r == 0) {
            accepted++;
            check_sane(&info, fsize);
        }
        free(copy);
    }
    /* the fuzzer must also reach accepting paths, or it tested only the header checks */
    fprintf(stderr, "fuzz: %d of 20000 mutations accepted\n", accepted);
    assert_true(accepted > 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_exec),   cmocka_unit_test(test_valid_pie),
        cmocka_unit_test(test_phdrs_not_loaded), cmocka_unit_test(test_real_binaries),
        cmocka_unit_test(test_corruptions),  cmocka_unit_test(test_pie_corruptions),
        cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_headers_size),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
