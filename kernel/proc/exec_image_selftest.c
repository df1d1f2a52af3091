/* exec_image_selftest.c: self-tests of execve's image builder (group `exec_image`), against
 * elf.h, the gABI "Program Loading" rules and the AMD64 psABI §3.4.1 initial stack:
 * /bin/true from the root file system (entry, stack pointer alignment, argc/argv/envp/auxv
 * read back from the inactive address space, segment contents and protections), hand-built
 * static PIE and ET_EXEC files on a detached tmpfs (the load bias, bss zeroed after the file
 * bytes in the shared page, program headers copied to the stack when no segment loads them),
 * refusals (the kernel's own ELF, a text file, an empty or truncated file, PT_INTERP, W+X, a
 * pipe, a directory, E2BIG), and no frame leaked by any of it. */
#include "elf.h"
#include "uvm.h"
#include "vfs.h"
#include "mm.h"
#include "selftest.h"
#include "kstring.h"
#include "proc.h"
#include "sched.h"
#include "time.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__})

static uint64_t free_frames(void) {
    struct pmm_stats st;
    pmm_get_stats(&st);
    return st.free_frames;
}

static uint64_t rd64(struct uvm *vm, uint64_t a, int *err) {
    uint64_t v = 0;
    if (uvm_read(vm, a, &v, 8)) *err = 1;
    return v;
}

/* Reads a NUL-terminated string of at most max-1 bytes at a into buf; false when unreadable. */
static bool rdstr(struct uvm *vm, uint64_t a, char *buf, size_t max) {
    for (size_t i = 0; i < max; i++) {
        if (uvm_read(vm, a + i, &buf[i], 1)) return false;
        if (!buf[i]) return true;
    }
    return false;
}

/* The auxv value for type (0 when absent), reading from the auxv start at a. */
static uint64_t auxv_get(struct uvm *vm, uint64_t a, uint64_t type, int *err) {
    for (int i = 0; i < 64; i++, a += 16) {
        uint64_t t = rd64(vm, a, err), v = rd64(vm, a + 8, err);
        if (*err || t == AT_NULL) return 0;
        if (t == type) return v;
    }
    *err = 1;
    return 0;
}

struct region_probe {
    uint64_t addr;
    int prot;       /* -1: no region there */
    bool wx_seen;   /* any region W and X */
};
static void probe_fn(uint64_t start, uint64_t end, int prot, int flags, void *ctx) {
    struct region_probe *p = ctx;
    if (p->addr >= start && p->addr < end) p->prot = prot;
    if ((prot & PROT_WRITE) && (prot & PROT_EXEC)) p->wx_seen = true;
}
static int prot_at(struct uvm *vm, uint64_t addr, bool *wx) {
    struct region_probe p = {addr, -1, false};
    uvm_for_each_region(vm, probe_fn, &p);
    if (wx) *wx = p.wx_seen;
    return p.prot;
}

/* ---- a detached tmpfs for test files ---- */
static struct vfs_mount *tmp_mount;
static struct vfs_ctx tmp_ctx;

static bool tmp_begin(void) {
    tmpfs_init();
    if (vfs_mount(NULL, NULL, "tmpfs", "exec_image", NULL, &tmp_mount)) return false;
    tmp_ctx.root = tmp_ctx.cwd = tmp_mount->root;
    return true;
}
static void tmp_end(void) { vfs_umount(tmp_mount); }

/* Creates name with len bytes of data; returns it open for reading (NULL on failure). */
static struct vfs_file *tmp_file(const char *name, const void *data, size_t len) {
    struct vfs_file *f;
    if (vfs_open(&tmp_ctx, name, O_RDWR | O_CREAT | O_TRUNC, 0755, &f)) return NULL;
    if (len && vfs_write(f, data, len) != (int64_t)len) {
        vfs_close(f);
        return NULL;
    }
    return f;
}
static void tmp_drop(struct vfs_file *f, const char *name) {
    if (f) vfs_close(f);
    vfs_unlink(&tmp_ctx, name);
}

/* ---- hand-built executables ----
 * Code page at file 0x1000 (exit(42)); data at file 0x2010, 0x20 bytes, followed in the file
 * by 0xaa bytes that must not show up in the bss; memsz 0x3000. headers: a first PT_LOAD
 * holds the ELF and program headers. */
#define HB_SIZE 0x3000u
static void put_ph(uint8_t *img, int i, uint32_t type, uint32_t flags, uint64_t off, uint64_t va, uint64_t fsz,
                   uint64_t msz) {
    struct elf64_phdr ph = {type, flags, off, va, va, fsz, msz, 0x1000};
    memcpy(img + 64 + 56 * i, &ph, sizeof(ph));
}
static uint8_t *hand_built(bool pie, bool headers, int *phnum) {
    uint8_t *img = kzalloc(HB_SIZE);
    if (!img) return NULL;
    uint64_t b = pie ? 0 : 0x400000;
    struct elf64_ehdr eh = {{0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT}, pie ? ET_DYN : ET_EXEC,
                            EM_X86_64, EV_CURRENT, b + 0x1000, 64, 0, 0, 64, 56, 0, 0, 0, 0};
    int n = 0;
    if (headers) put_ph(img, n++, PT_LOAD, PF_R, 0, b, 0x200, 0x200);
    put_ph(img, n++, PT_LOAD, PF_R | PF_X, 0x1000, b + 0x1000, 16, 16);
    put_ph(img, n++, PT_LOAD, PF_R | PF_W, 0x2010, b + 0x2010, 0x20, 0x3000);
    put_ph(img, n++, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0);
    eh.e_phnum = (uint16_t)n;
    memcpy(img, &eh, sizeof(eh));
    static const uint8_t code[] = {0xb8, 60, 0, 0, 0, 0xbf, 42, 0, 0, 0, 0x0f, 0x05}; /* exit(42) */
    memcpy(img + 0x1000, code, sizeof(code));
    for (int i = 0; i < 0x20; i++) img[0x2010 + i] = (uint8_t)(i * 3 + 1);
    memset(img + 0x2030, 0xaa, HB_SIZE - 0x2030);
    *phnum = n;
    return img;
}

SELFTEST(exec_image, bin_true_layout) {
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(NULL, "/bin/true", O_RDONLY, 0, &f) == 0, "/bin/true missing (make images)");
    uint8_t *hdr = kmalloc(4096);
    struct elf_info *info = kmalloc(sizeof(*info));
    int64_t n = hdr ? vfs_pread(f, hdr, 4096, 0) : -KENOMEM;
    struct vfs_stat st;
    int pr = (info && n > 0 && vfs_fstat(f, &st) == 0) ? elf_parse(hdr, (size_t)n, st.size, info) : -1;
    struct exec_image img = {0};
    int r = pr == 0 ? exec_image_build(f, "/bin/true", ARGS("/bin/true", "arg one"), 2,
                                       ARGS("PATH=/bin", "HOME=/"), 2, &img)
                    : -1;
    vfs_close(f);
    int err = 0, wxseen = 0;
    char s[32] = "";
    uint64_t argc = 0, entry_aux = 0, phdr_aux = 0, pagesz = 0, rnd = 0, fnaddr = 0;
    bool argv0 = false, argv1 = false, env1 = false, nulls = false, phdr_same = false, code_same = false,
         fn_ok = false;
    int code_prot = -2, stack_prot = -2;
    uint8_t rbytes[16];
    if (r == 0) {
        uint64_t sp = img.sp;
        argc = rd64(img.vm, sp, &err);
        argv0 = rdstr(img.vm, rd64(img.vm, sp + 8, &err), s, sizeof(s)) && strcmp(s, "/bin/true") == 0;
        argv1 = rdstr(img.vm, rd64(img.vm, sp + 16, &err), s, sizeof(s)) && strcmp(s, "arg one") == 0;
        env1 = rdstr(img.vm, rd64(img.vm, sp + 40, &err), s, sizeof(s)) && strcmp(s, "HOME=/") == 0;
        nulls = rd64(img.vm, sp + 24, &err) == 0 && rd64(img.vm, sp + 48, &err) == 0;
        uint64_t aux = sp + 56;
        entry_aux = auxv_get(img.vm, aux, AT_ENTRY, &err);
        phdr_aux = auxv_get(img.vm, aux, AT_PHDR, &err);
        pagesz = auxv_get(img.vm, aux, AT_PAGESZ, &err);
        rnd = auxv_get(img.vm, aux, AT_RANDOM, &err);
        fnaddr = auxv_get(img.vm, aux, AT_EXECFN, &err);
        fn_ok = rdstr(img.vm, fnaddr, s, sizeof(s)) && strcmp(s, "/bin/true") == 0;
        if (uvm_read(img.vm, rnd, rbytes, 16)) err = 1;
        uint8_t ph[56], code[16];
        phdr_same = uvm_read(img.vm, phdr_aux, ph, 56) == 0 && memcmp(ph, hdr + info->phoff, 56) == 0;
        /* the entry's bytes as in the file */
        for (int i = 0; i < info->nload; i++) {
            const struct elf_segment *sg = &info->load[i];
            if (info->entry >= sg->vaddr && info->entry + 16 <= sg->vaddr + sg->filesz) {
                uint8_t want[16];
                struct vfs_file *g;
                if (vfs_open(NULL, "/bin/true", O_RDONLY, 0, &g) == 0) {
                    code_same = vfs_pread(g, want, 16, sg->offset + (info->entry - sg->vaddr)) == 16 &&
                                uvm_read(img.vm, info->entry, code, 16) == 0 && memcmp(code, want, 16) == 0;
                    vfs_close(g);
                }
            }
        }
        bool wx;
        code_prot = prot_at(img.vm, info->entry, &wx);
        wxseen = wx;
        stack_prot = prot_at(img.vm, sp, NULL);
    }
    uint64_t want_entry = info ? info->entry : 0, want_end = info ? info->image_end : 0,
             want_phdr = info ? info->phdr_addr : 0;
    if (r == 0) uvm_put(img.vm);
    kfree(hdr);
    kfree(info);
    ST_ASSERT(t, pr == 0, "elf_parse(/bin/true) = %d", pr);
    ST_ASSERT(t, r == 0, "exec_image_build(/bin/true) = %d", r);
    ST_ASSERT(t, img.entry == want_entry && entry_aux == want_entry, "entry %#lx, AT_ENTRY %#lx, want %#lx",
              (unsigned long)img.entry, (unsigned long)entry_aux, (unsigned long)want_entry);
    ST_ASSERT(t, img.sp % 16 == 0, "sp %#lx not 16-byte aligned", (unsigned long)img.sp);
    ST_ASSERT(t, img.sp < USER_STACK_TOP && img.sp > USER_STACK_TOP - 65536, "sp %#lx", (unsigned long)img.sp);
    ST_ASSERT(t, img.brk_base == want_end && IS_ALIGNED(img.brk_base, PAGE_SIZE), "brk_base %#lx, want %#lx",
              (unsigned long)img.brk_base, (unsigned long)want_end);
    ST_ASSERT(t, !err, "reading the new stack failed");
    ST_ASSERT(t, argc == 2 && argv0 && argv1, "argc %lu, argv[0] ok %d, argv[1] ok %d", (unsigned long)argc, argv0,
              argv1);
    ST_ASSERT(t, env1 && nulls, "envp[1] ok %d, NULL terminators ok %d", env1, nulls);
    ST_ASSERT(t, phdr_aux == want_phdr && phdr_same, "AT_PHDR %#lx (want %#lx), contents match %d",
              (unsigned long)phdr_aux, (unsigned long)want_phdr, phdr_same);
    ST_ASSERT(t, pagesz == 4096 && fn_ok, "AT_PAGESZ %lu, AT_EXECFN ok %d", (unsigned long)pagesz, fn_ok);
    ST_ASSERT(t, rnd > img.sp && rnd < USER_STACK_TOP, "AT_RANDOM %#lx", (unsigned long)rnd);
    ST_ASSERT(t, code_same, "the bytes at the entry differ from the file");
    ST_ASSERT(t, code_prot == (PROT_READ | PROT_EXEC), "text region prot %d", code_prot);
    ST_ASSERT(t, stack_prot == (PROT_READ | PROT_WRITE), "stack region prot %d", stack_prot);
    ST_ASSERT(t, !wxseen, "a region is writable and executable");
}

/* Builds a hand-made image and checks placement, contents and bss. */
static void check_hand_built(struct selftest_ctx *t, bool pie, bool headers) {
    int phnum;
    uint8_t *elf = hand_built(pie, headers, &phnum);
    ST_ASSERT(t, elf, "no memory");
    struct vfs_file *f = tmp_file("hb", elf, HB_SIZE);
    struct exec_image img = {0};
    int r = f ? exec_image_build(f, "./hb", ARGS("hb"), 1, NULL, 0, &img) : -1;
    tmp_drop(f, "hb");
    uint64_t b = pie ? ELF_PIE_BASE : 0x400000;
    int err = 0;
    uint8_t data[0x20], code[12], ph[56 * 4];
    bool data_ok = false, code_ok = false, bss_ok = true, phdrs_ok = false;
    uint64_t phdr = 0, phnum_aux = 0;
    int pc = -2, pd = -2;
    if (r == 0) {
        code_ok = uvm_read(img.vm, b + 0x1000, code, sizeof(code)) == 0 && memcmp(code, elf + 0x1000, sizeof(code)) == 0;
        data_ok = uvm_read(img.vm, b + 0x2010, data, sizeof(data)) == 0 && memcmp(data, elf + 0x2010, 0x20) == 0;
        /* bss: the rest of the data's page (0xaa in the file), then demand-zero pages */
        uint8_t *z = kmalloc(0x3000);
        if (!z || uvm_read(img.vm, b + 0x2030, z, 0x5010 - 0x2030)) bss_ok = false;
        for (size_t i = 0; z && bss_ok && i < 0x5010 - 0x2030; i++) bss_ok = z[i] == 0;
        kfree(z);
        uint64_t aux = img.sp + 8 * 4; /* argc, argv[0], NULL, NULL */
        phdr = auxv_get(img.vm, aux, AT_PHDR, &err);
        phnum_aux = auxv_get(img.vm, aux, AT_PHNUM, &err);
        phdrs_ok = uvm_read(img.vm, phdr, ph, 56u * (unsigned)phnum) == 0 && memcmp(ph, elf + 64, 56u * (unsigned)phnum) == 0;
        pc = prot_at(img.vm, b + 0x1000, NULL);
        pd = prot_at(img.vm, b + 0x4000, NULL);
        uvm_put(img.vm);
    }
    kfree(elf);
    ST_ASSERT(t, r == 0, "exec_image_build = %d", r);
    ST_ASSERT(t, img.entry == b + 0x1000, "entry %#lx, want %#lx", (unsigned long)img.entry, (unsigned long)b + 0x1000);
    ST_ASSERT(t, img.brk_base == b + 0x6000, "brk_base %#lx, want %#lx", (unsigned long)img.brk_base,
              (unsigned long)b + 0x6000);
    ST_ASSERT(t, code_ok && data_ok, "segment contents: code %d data %d", code_ok, data_ok);
    ST_ASSERT(t, bss_ok, "bss not zero (file bytes after p_filesz leaked in?)");
    ST_ASSERT(t, !err && phnum_aux == (uint64_t)phnum && phdrs_ok, "AT_PHDR %#lx / AT_PHNUM %lu: contents ok %d",
              (unsigned long)phdr, (unsigned long)phnum_aux, phdrs_ok);
    if (headers)
        ST_ASSERT(t, phdr == b + 64, "AT_PHDR %#lx, want %#lx", (unsigned long)phdr, (unsigned long)b + 64);
    else
        ST_ASSERT(t, phdr > img.sp && phdr < USER_STACK_TOP, "AT_PHDR %#lx not in the stack", (unsigned long)phdr);
    ST_ASSERT(t, pc == (PROT_READ | PROT_EXEC) && pd == (PROT_READ | PROT_WRITE), "prot text %d, bss %d", pc, pd);
}

SELFTEST(exec_image, static_pie_and_bss) {
    ST_ASSERT(t, tmp_begin(), "tmpfs mount failed");
    check_hand_built(t, true, true);
    tmp_end();
}

SELFTEST(exec_image, phdrs_copied_to_stack) {
    ST_ASSERT(t, tmp_begin(), "tmpfs mount failed");
    check_hand_built(t, false, false);
    tmp_end();
}

SELFTEST(exec_image, foreign_and_broken_files) {
    struct exec_image img = {0};
    const char *const *av = ARGS("x");
    struct vfs_file *f;
    int kern = -1;
    if (vfs_open(NULL, "/sabos/kernel.elf", O_RDONLY, 0, &f) == 0) {
        kern = exec_image_build(f, "/sabos/kernel.elf", av, 1, NULL, 0, &img);
        vfs_close(f);
    }
    ST_ASSERT(t, kern == -KENOEXEC, "the kernel's ELF (kernel addresses) = %d", kern);
    ST_ASSERT(t, tmp_begin(), "tmpfs mount failed");
    static const char text[] = "#!/bin/sh\necho this is a script, not an ELF\n";
    f = tmp_file("txt", text, sizeof(text) - 1);
    int rtext = f ? exec_image_build(f, "txt", av, 1, NULL, 0, &img) : -1;
    tmp_drop(f, "txt");
    f = tmp_file("empty", NULL, 0);
    int rempty = f ? exec_image_build(f, "empty", av, 1, NULL, 0, &img) : -1;
    tmp_drop(f, "empty");
    int phnum, rtrunc = -1, rinterp = -1, rwx = -1, rshort = -1;
    uint8_t *elf = hand_built(true, true, &phnum);
    if (elf) {
        f = tmp_file("trunc", elf, 64 + 20); /* header and part of the table */
        rtrunc = f ? exec_image_build(f, "trunc", av, 1, NULL, 0, &img) : -1;
        tmp_drop(f, "trunc");
        f = tmp_file("short", elf, 0x2000); /* the data segment lies past the end */
        rshort = f ? exec_image_build(f, "short", av, 1, NULL, 0, &img) : -1;
        tmp_drop(f, "short");
        uint32_t interp = PT_INTERP;
        memcpy(elf + 64 + 56 * 3, &interp, 4); /* GNU_STACK -> INTERP */
        f = tmp_file("interp", elf, HB_SIZE);
        rinterp = f ? exec_image_build(f, "interp", av, 1, NULL, 0, &img) : -1;
        tmp_drop(f, "interp");
        kfree(elf);
    }
    if ((elf = hand_built(false, true, &phnum))) {
        uint32_t rwx_flags = PF_R | PF_W | PF_X;
        memcpy(elf + 64 + 56 * 1 + 4, &rwx_flags, 4); /* the text segment */
        f = tmp_file("wx", elf, HB_SIZE);
        rwx = f ? exec_image_build(f, "wx", av, 1, NULL, 0, &img) : -1;
        tmp_drop(f, "wx");
        kfree(elf);
    }
    tmp_end();
    ST_ASSERT(t, rtext == -KENOEXEC && rempty == -KENOEXEC, "text file %d, empty file %d", rtext, rempty);
    ST_ASSERT(t, rtrunc == -KENOEXEC && rshort == -KENOEXEC, "truncated table %d, short file %d", rtrunc, rshort);
    ST_ASSERT(t, rinterp == -KENOEXEC && rwx == -KENOEXEC, "PT_INTERP %d, W+X %d", rinterp, rwx);
}

SELFTEST(exec_image, not_regular_files) {
    struct exec_image img = {0};
    const char *const *av = ARGS("x");
    struct vfs_file *rd, *wr, *dir;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, 0) == 0, "vfs_pipe failed");
    int rp = exec_image_build(rd, "pipe", av, 1, NULL, 0, &img);
    vfs_close(rd);
    vfs_close(wr);
    ST_ASSERT(t, vfs_open(NULL, "/", O_RDONLY, 0, &dir) == 0, "cannot open /");
    int rd_ = exec_image_build(dir, "/", av, 1, NULL, 0, &img);
    vfs_close(dir);
    int rnull = exec_image_build(NULL, "x", av, 1, NULL, 0, &img);
    ST_ASSERT(t, rp == -KEACCES, "pipe = %d", rp);
    ST_ASSERT(t, rd_ == -KEACCES, "directory = %d", rd_);
    ST_ASSERT(t, rnull == -KEINVAL, "NULL file = %d", rnull);
}

SELFTEST(exec_image, e2big_and_no_leaks) {
    struct vfs_file *f;
    ST_ASSERT(t, vfs_open(NULL, "/bin/true", O_RDONLY, 0, &f) == 0, "/bin/true missing");
    struct exec_image img;
    /* warm caches (block cache, slabs) first */
    int r0 = exec_image_build(f, "/bin/true", ARGS("true"), 1, NULL, 0, &img);
    if (r0 == 0) uvm_put(img.vm);
    const char **many = kmalloc(sizeof(char *) * (EXEC_STRINGS_MAX + 1));
    char *big = kmalloc(EXEC_ARG_MAX + 1);
    int r_count = -1, r_bytes = -1, r_ok = -1;
    uint64_t before = free_frames();
    if (many && big) {
        for (int i = 0; i <= EXEC_STRINGS_MAX; i++) many[i] = "";
        r_count = exec_image_build(f, "/bin/true", many, 1, many, EXEC_STRINGS_MAX, &img);
        if (r_count == 0) uvm_put(img.vm);
        memset(big, 'b', EXEC_ARG_MAX);
        big[EXEC_ARG_MAX] = '\0';
        r_bytes = exec_image_build(f, "/bin/true", ARGS(big), 1, NULL, 0, &img);
        if (r_bytes == 0) uvm_put(img.vm);
        big[EXEC_ARG_MAX - 1] = '\0'; /* exactly EXEC_ARG_MAX with the NUL: fits */
        r_ok = exec_image_build(f, "/bin/true", ARGS(big), 1, NULL, 0, &img);
        if (r_ok == 0) uvm_put(img.vm);
        for (int i = 0; i < 3; i++) {
            int r = exec_image_build(f, "/bin/true", ARGS("true", "a", "b"), 3, ARGS("E=1"), 1, &img);
            if (r == 0) uvm_put(img.vm);
        }
    }
    uint64_t after = free_frames();
    kfree(many);
    kfree(big);
    vfs_close(f);
    ST_ASSERT(t, r0 == 0, "warm-up build = %d", r0);
    ST_ASSERT(t, r_count == -KE2BIG, "4097 strings = %d", r_count);
    ST_ASSERT(t, r_bytes == -KE2BIG, "EXEC_ARG_MAX + 1 bytes = %d", r_bytes);
    ST_ASSERT(t, r_ok == 0, "exactly EXEC_ARG_MAX bytes = %d", r_ok);
    ST_ASSERT(t, after == before, "%ld frames leaked", (long)(before - after));
}

/* End to end: the images run. /bin/echo gets its argv through our stack and writes them to
 * a pipe; /bin/env prints its environment; /bin/false exits 1; the hand-built static PIE
 * and ET_EXEC exit 42. Uses proc_spawn (proc.h),
 * which builds the image with exec_image_build. Waits are bounded (5 s). */
static int run_capture(const char *path, const char *const argv[], const char *const envp[], char *out, size_t max,
                       int *status) {
    return proc_run_capture(path, argv, envp, out, max, NULL, 5000000000ull, status);
}

SELFTEST_TIMEOUT(exec_image, programs_run, 30000) {
    char out[128];
    int st = -1;
    int r = run_capture("/bin/echo", ARGS("echo", "hello", "from the", "stack", NULL), ARGS(NULL), out, sizeof(out),
                        &st);
    ST_ASSERT(t, r == 0, "spawning /bin/echo = %d", r);
    ST_ASSERT(t, st == W_EXITCODE(0, 0), "echo status %#x", st);
    ST_ASSERT(t, strcmp(out, "hello from the stack\n") == 0, "echo wrote \"%s\"", out);
    r = run_capture("/bin/env", ARGS("env", NULL), ARGS("A=1", "SABOS=exec image", NULL), out, sizeof(out), &st);
    ST_ASSERT(t, r == 0 && st == 0, "/bin/env: %d, status %#x", r, st);
    ST_ASSERT(t, strcmp(out, "A=1\nSABOS=exec image\n") == 0, "env wrote \"%s\"", out);
    r = run_capture("/bin/false", ARGS("false", NULL), ARGS(NULL), out, sizeof(out), &st);
    ST_ASSERT(t, r == 0 && st == W_EXITCODE(1, 0), "/bin/false: %d, status %#x", r, st);
    /* the hand-built static PIE (at ELF_PIE_BASE) and the ET_EXEC without loaded headers */
    for (int pie = 0; pie < 2; pie++) {
        int phnum;
        uint8_t *elf = hand_built(pie, pie, &phnum);
        ST_ASSERT(t, elf, "no memory");
        struct vfs_file *f;
        r = vfs_open(NULL, "/tmp/exec_image_hb", O_RDWR | O_CREAT | O_TRUNC, 0755, &f);
        if (r == 0) {
            r = vfs_write(f, elf, HB_SIZE) == HB_SIZE ? 0 : -KEIO;
            vfs_close(f);
        }
        kfree(elf);
        if (r == 0) r = run_capture("/tmp/exec_image_hb", ARGS("hb", NULL), ARGS(NULL), out, sizeof(out), &st);
        vfs_unlink(NULL, "/tmp/exec_image_hb");
        ST_ASSERT(t, r == 0 && st == W_EXITCODE(42, 0), "hand-built %s: %d, status %#x", pie ? "PIE" : "ET_EXEC",
                  r, st);
    }
}
