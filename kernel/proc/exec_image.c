/* exec_image.c: builds the address space execve switches to (see elf.h).
 *
 * Follows the System V gABI §"Program Loading" (each PT_LOAD maps [p_vaddr, p_vaddr +
 * p_memsz) with its file bytes [p_offset, p_offset + p_filesz) and zeros after them), the
 * AMD64 psABI §3.4.1 (initial stack, built by ustack.c) and Linux execve(2) for the errors.
 *
 * Each segment becomes an anonymous private region (uvm_map MAP_FIXED) with its final
 * protection (W^X: elf_parse refuses W+X); the file bytes are copied in with vfs_pread +
 * uvm_write, which writes into the new, inactive address space even through read-only
 * protections. Exactly p_filesz bytes are written: the bss, including the rest of the page
 * holding the last file byte, is demand-zero anonymous memory. The stack region comes from
 * uvm_setup_stack and gets the argument block with one uvm_write. The stack is never
 * executable (PT_GNU_STACK is ignored). */
#include "elf.h"
#include "uvm.h"
#include "vfs.h"
#include "mm.h"
#include "kstring.h"
#include "printk.h"
#include "cpu.h"

#define HDR_READ 4096u            /* first read: header and (almost always) the phdr table */
#define HDR_MAX (64u * 1024u)     /* a phdr table ending past this is not read */
#define COPY_CHUNK (64u * 1024u)  /* bounce buffer for segment contents */

/* A file error as execve reports it. */
static int io_err(int64_t r) {
    if (r == -KENOMEM || r == -KEINTR) return (int)r;
    return r == -KEBADF ? -KEACCES : -KEIO;
}

/* Reads exactly len bytes at off: 0, or io_err (a short read: the file shrank: -KEIO). */
static int read_full(struct vfs_file *f, void *buf, size_t len, uint64_t off) {
    uint8_t *p = buf;
    while (len) {
        int64_t n = vfs_pread(f, p, len, off);
        if (n <= 0) return n == 0 ? -KEIO : io_err(n);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* An address-space error: -KENOMEM and -KEINTR stay; anything else means elf_parse let
 * through a layout uvm refuses, reported (and logged) as not executable. */
static int vm_err(int r, const char *what, uint64_t addr) {
    if (r == -KENOMEM || r == -KEINTR) return r;
    printk(LOG_WARN, "exec: %s at %#lx failed (%d)\n", what, (unsigned long)addr, r);
    return -KENOEXEC;
}

/* Maps one segment and fills it with its file bytes. */
static int load_segment(struct uvm *vm, struct vfs_file *f, const struct elf_segment *s, uint8_t *bounce,
                        size_t bounce_len) {
    uint64_t start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
    uint64_t addr = start;
    int r = uvm_map(vm, &addr, ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE) - start, s->prot,
                    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    if (r) return vm_err(r, "mapping a segment", start);
    for (uint64_t done = 0; done < s->filesz;) {
        size_t n = (size_t)MIN((uint64_t)bounce_len, s->filesz - done);
        if ((r = read_full(f, bounce, n, s->offset + done))) return r;
        if ((r = uvm_write(vm, s->vaddr + done, bounce, n))) return vm_err(r, "filling a segment", s->vaddr + done);
        done += n;
    }
    /* The rest of the last file page and the bss pages after it stay as uvm gives them:
     * demand-zero (uvm.h). Only file bytes were written, so nothing past p_filesz shows
     * file contents (the exec_image selftest checks this with garbage after p_filesz). */
    return 0;
}

/* Page-aligned scratch memory of 2^order frames straight from the frame allocator (a
 * kmalloc of a page multiple adds a header and takes twice the frames). */
static void *scratch_alloc(unsigned order) {
    phys_addr_t pa = pmm_alloc_order(order);
    return pa ? phys_to_virt(pa) : NULL;
}
static void scratch_free(void *p, unsigned order) {
    if (p) pmm_free_order(virt_to_phys(p), order);
}
/* The smallest order whose block holds len bytes (len <= 4096 << 4). */
static unsigned order_for(uint64_t len) {
    unsigned o = 0;
    while ((PAGE_SIZE << o) < len) o++;
    return o;
}

/* Reads the headers into *hdr (scratch of order *hdr_order) and parses them. */
static int read_headers(struct vfs_file *f, uint64_t size, struct elf_info *info, uint8_t **hdr,
                        unsigned *hdr_order) {
    size_t len = (size_t)MIN((uint64_t)HDR_READ, size);
    unsigned order = 0;
    uint8_t *buf = scratch_alloc(order);
    if (!buf) return -KENOMEM;
    int r = read_full(f, buf, len, 0);
    uint64_t need = r ? 0 : elf_headers_size(buf, len);
    if (r == 0 && need > len && need <= size && need <= HDR_MAX) {
        /* A program-header table beyond the first page: read everything up to its end. */
        scratch_free(buf, order);
        len = (size_t)need;
        order = order_for(need);
        if (!(buf = scratch_alloc(order))) return -KENOMEM;
        r = read_full(f, buf, len, 0);
    }
    if (r == 0) r = elf_parse(buf, len, size, info);
    if (r) {
        scratch_free(buf, order);
        return r;
    }
    *hdr = buf;
    *hdr_order = order;
    return 0;
}

/* CPUID.01H:EDX, what Linux reports as AT_HWCAP on x86-64 (asked once: the same on every
 * CPU, and a benign race sets the same value). */
static uint64_t hwcap(void) {
    static uint64_t cached;
    if (!cached) {
        uint32_t a, b, c, d;
        cpuid(1, 0, &a, &b, &c, &d);
        cached = d;
    }
    return cached;
}

/* Writes the argument block; *sp receives the stack pointer. */
static int build_stack(struct uvm *vm, const struct ustack_params *p, size_t size, uint64_t *sp) {
    uint8_t *img = kmalloc(size);
    if (!img) return -KENOMEM;
    int r = ustack_build(p, img, size, sp);
    if (r == 0 && (r = uvm_write(vm, *sp, img, size))) r = vm_err(r, "writing the stack", *sp);
    kfree(img);
    return r;
}

int exec_image_build(struct vfs_file *f, const char *path, const char *const argv[], int argc,
                     const char *const envp[], int envc, struct exec_image *out) {
    if (!f || !out) return -KEINVAL;
    struct vfs_stat st;
    int r = vfs_fstat(f, &st);
    if (r) return io_err(r);
    if (!VFS_ISREG(st.mode) || f->fops) return -KEACCES;
    struct elf_info *info = kmalloc(sizeof(*info));
    if (!info) return -KENOMEM;
    uint8_t *hdr = NULL, *bounce = NULL;
    unsigned hdr_order = 0, bounce_order = 0;
    struct uvm *vm = NULL;
    if ((r = read_headers(f, st.size, info, &hdr, &hdr_order))) goto out;

    uint8_t rnd[16];
    struct ustack_params sp = {
        .argv = argv, .argc = argc, .envp = envp, .envc = envc, .execfn = path, .random16 = rnd,
        .phdr_addr = info->phdr_addr, .phnum = info->phnum, .entry = info->entry, .hwcap = hwcap(),
        .top = USER_STACK_TOP,
    };
    if (!info->phdr_addr) { /* no segment loads the table: AT_PHDR points at a copy */
        sp.phdrs = hdr + info->phoff;
        sp.phdrs_len = (size_t)info->phnum * sizeof(struct elf64_phdr);
    }
    size_t stack_size;
    if ((r = ustack_layout(&sp, &stack_size))) goto out;
    if ((r = random_bytes(rnd, sizeof(rnd)))) goto out;

    uint64_t max_file = 0;
    for (int i = 0; i < info->nload; i++) max_file = MAX(max_file, info->load[i].filesz);
    bounce_order = order_for(MIN((uint64_t)COPY_CHUNK, max_file));
    size_t bounce_len = PAGE_SIZE << bounce_order;
    r = -KENOMEM;
    if (!(bounce = scratch_alloc(bounce_order)) || !(vm = uvm_create())) goto out;
    for (int i = 0; i < info->nload; i++)
        if ((r = load_segment(vm, f, &info->load[i], bounce, bounce_len))) goto out;
    uvm_set_brk_base(vm, info->image_end);
    if ((r = uvm_setup_stack(vm))) {
        r = vm_err(r, "setting up the stack", USER_STACK_TOP);
        goto out;
    }
    uint64_t usp;
    if ((r = build_stack(vm, &sp, stack_size, &usp))) goto out;
    out->vm = vm;
    out->entry = info->entry;
    out->sp = usp;
    out->brk_base = info->image_end;
    vm = NULL;
out:
    if (vm) uvm_put(vm);
    scratch_free(bounce, bounce_order);
    scratch_free(hdr, hdr_order);
    kfree(info);
    return r;
}
