/* elf.h: ELF64 executables and the initial process stack (kernel/proc/elf.c, ustack.c,
 * exec_image.c).
 *
 * Follows the System V ABI gABI (ELF header, program headers: "Program Loading") with the
 * AMD64 psABI supplement (e_machine EM_X86_64, §3.4.1 "Initial Stack and Register State",
 * §3.4.3 auxiliary vector) and the auxv types Linux defines (linux/auxvec.h, asm/auxvec.h).
 *
 * What SABOS runs: statically linked x86-64 executables, ET_EXEC at their link address or
 * static-PIE ET_DYN (no PT_INTERP) moved by a fixed bias (ELF_PIE_BASE). The pieces:
 * - elf_parse: pure validation of the ELF header and program headers (host-tested, fuzzed).
 * - ustack_layout / ustack_build: pure layout of the stack a new program starts with.
 * - exec_image_build: the whole new address space for execve (needs uvm.h). */
#pragma once
#include "types.h"
#include "kerrno.h"

/* ---- ELF64 constants (gABI) ---- */
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define EV_CURRENT 1
#define ELFOSABI_SYSV 0
#define ELFOSABI_GNU 3
#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62
#define PT_NULL 0
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_NOTE 4
#define PT_PHDR 6
#define PT_TLS 7
#define PT_GNU_STACK 0x6474e551u
#define PF_X 1u
#define PF_W 2u
#define PF_R 4u

/* File layouts (gABI "ELF Header", "Program Header"), little endian. */
struct elf64_ehdr {
    uint8_t e_ident[16];
    uint16_t e_type, e_machine;
    uint32_t e_version;
    uint64_t e_entry, e_phoff, e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};
struct elf64_phdr {
    uint32_t p_type, p_flags;
    uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};
_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header is 64 bytes");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header is 56 bytes");

/* ---- auxiliary vector types (linux/auxvec.h) ---- */
#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_BASE 7
#define AT_FLAGS 8
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_PLATFORM 15
#define AT_HWCAP 16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_EXECFN 31

#define ELF_MAX_PHDRS 64                   /* more program headers: -KENOEXEC */
#define ELF_PIE_BASE 0x0000555555554000ull /* where a static PIE's lowest page goes */
#define EXEC_ARG_MAX (256u * 1024u)        /* bytes of argv + envp strings (with NULs) */
#define EXEC_STRINGS_MAX 4096              /* argc + envc */

/* One PT_LOAD segment, at its final (biased) address. */
struct elf_segment {
    uint64_t vaddr;    /* first byte (not page aligned) */
    uint64_t memsz;    /* bytes in memory; [filesz, memsz) is zero (bss) */
    uint64_t offset;   /* file offset of the first byte */
    uint64_t filesz;
    int prot;          /* PROT_READ / PROT_WRITE / PROT_EXEC (uvm.h values), never W and X */
};

/* What elf_parse found; every address already includes bias. */
struct elf_info {
    uint16_t type;       /* ET_EXEC or ET_DYN */
    uint64_t bias;       /* 0 for ET_EXEC, the load bias of a static PIE */
    uint64_t entry;
    uint64_t phoff;      /* file offset of the program-header table */
    uint16_t phnum;
    uint64_t phdr_addr;  /* where the table is in memory, or 0 when no segment loads it (then
                          * the stack builder copies it onto the stack for AT_PHDR) */
    uint64_t image_end;  /* page-aligned end of the highest segment: the brk base */
    int nload;           /* PT_LOAD segments, ascending and not sharing pages */
    struct elf_segment load[ELF_MAX_PHDRS];
};

/* Validates an ELF64 executable from the first len bytes of a file of file_size bytes (len
 * <= file_size): header (magic, class, data, version, machine, type), program-header table
 * (entry size 56, 1..64 entries, 8-aligned, inside buf and the file), every PT_LOAD (filesz
 * <= memsz, inside the file, p_vaddr == p_offset modulo 4096, power-of-two p_align, no W+X,
 * inside [USER_MIN, USER_MMAP_TOP) after the bias, ascending and not overlapping, even at page
 * granularity), no PT_INTERP, at least one PT_LOAD, the entry inside an executable segment, a
 * PT_PHDR inside a loaded, file-backed part. Fills *out. Returns 0 or -KENOEXEC; never reads
 * outside buf[0, len). */
int elf_parse(const void *buf, size_t len, uint64_t file_size, struct elf_info *out);

/* How many leading bytes of the file elf_parse needs (header plus program-header table)
 * according to the header in buf (len bytes); at least 64. Saturates on overflow; callers
 * cap what they read (a table past what they read makes elf_parse fail). */
uint64_t elf_headers_size(const void *buf, size_t len);

/* ---- the initial stack (ustack.c; AMD64 psABI §3.4.1, figure 3.9) ----
 * From the top down: 8 zero bytes, the AT_EXECFN string, the envp strings, the argv strings,
 * (16-byte aligned) the 16 AT_RANDOM bytes, the copied program headers when phdrs != NULL,
 * padding, then at sp (16-byte aligned): argc, argv[0..argc-1], NULL, envp[0..envc-1], NULL,
 * the auxv pairs, AT_NULL. */
struct ustack_params {
    const char *const *argv;   /* argc strings (kernel memory) */
    int argc;
    const char *const *envp;   /* envc strings */
    int envc;
    const char *execfn;        /* AT_EXECFN: the path given to execve */
    const uint8_t *random16;   /* 16 bytes for AT_RANDOM */
    const void *phdrs;         /* program headers to copy onto the stack, or NULL */
    size_t phdrs_len;
    uint64_t phdr_addr;        /* AT_PHDR when phdrs == NULL */
    uint64_t phnum, entry, hwcap;
    uint64_t top;              /* address just above the stack image (16-byte aligned) */
};

/* Checks the limits and computes the bytes the stack image needs below top. Returns 0,
 * -KE2BIG (strings over EXEC_ARG_MAX, argc + envc over EXEC_STRINGS_MAX), -KEINVAL (negative
 * counts, NULL string, top misaligned or too low). */
int ustack_layout(const struct ustack_params *p, size_t *size);
/* Builds the image into buf (size bytes from ustack_layout), which becomes the memory
 * [top - size, top). *sp receives the initial stack pointer. 0 or what ustack_layout returns. */
int ustack_build(const struct ustack_params *p, void *buf, size_t size, uint64_t *sp);

/* ---- execve's image builder (exec_image.c) ---- */
struct uvm;
struct vfs_file;
struct exec_image {
    struct uvm *vm;     /* the new address space (one reference, owned by the caller) */
    uint64_t entry;     /* user RIP */
    uint64_t sp;        /* user RSP (16-byte aligned, pointing at argc) */
    uint64_t brk_base;  /* page-aligned end of the image (already set with uvm_set_brk_base) */
};

/* Builds a fresh address space holding the executable open in f, its stack with argv/envp/
 * auxv, ready to enter. path: as given to execve (for AT_EXECFN). argv/envp: kernel copies.
 * Returns 0, -KENOEXEC (not a static ELF64 x86-64 executable, see elf_parse), -KE2BIG,
 * -KENOMEM, -KEIO (read error or short file), -KEACCES (not a regular file, or not open for
 * reading), -KEINVAL (bad arguments), -KEINTR (the caller was killed meanwhile). Nothing leaks
 * on any error. Task context (reads the file, allocates). */
int exec_image_build(struct vfs_file *f, const char *path, const char *const argv[], int argc,
                     const char *const envp[], int envc, struct exec_image *out);
