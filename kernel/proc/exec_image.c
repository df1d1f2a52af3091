/* exec_image.c: builds the address space execve switches to (see elf.h).
 *
 * Follows the System V gABI §"Program Loading" (each PT_LOAD maps [p_vaddr, p_vaddr +
 * p_memsz) with its file bytes [p_offset, p_offset + p_filesz) and zeros after them), the
 * AMD64 psABI §3.4.1 (initial stack, built by ustack.c) and Linux execve(2) for the errors.
 *
 * Each segment becomes an anonymous private region (uvm_map MAP_FIXED) with its final
 * protection (W^X: elf_parse refuses W+X). Exactly p_filesz bytes of the file show: the bss,
 * including the rest of the page holding the last file byte, is zero. The stack region comes
 * from uvm_setup_stack and gets the argument block with one uvm_write. The stack is never
 * executable (PT_GNU_STACK is ignored).
 *
 * Writable segments get their file bytes with vfs_pread + uvm_write, which writes into the
 * new, inactive address space. The pages of read-only segments (code, constants) are shared
 * instead: a small cache keeps, per file, the frames holding each such page image (the file
 * bytes of the page, zeros around them), and every image built from that file maps the same
 * frames copy-on-write (uvm_map_frame: never writable in place; mprotect + write, or
 * uvm_write, copies the page first, as after fork). The file is still read at every exec and
 * a cached frame is used only when its whole page equals the page just read, so a changed
 * file never shows old bytes; what the cache saves is the frames, the copies, and under
 * emulation (QEMU TCG) the translated code: a program's code stays in the same frames, so
 * its translations stay valid, and no frame that held translated code is written again
 * (such writes are very slow under TCG). The cache holds at most EC_FRAMES_MAX frames; the
 * least recently used files go first. */
#include "elf.h"
#include "uvm.h"
#include "vfs.h"
#include "mm.h"
#include "sync.h"
#include "kstring.h"
#include "printk.h"
#include "cpu.h"

#define HDR_READ 4096u            /* first read: header and (almost always) the phdr table */
#define HDR_MAX (64u * 1024u)     /* a phdr table ending past this is not read */
#define COPY_CHUNK (64u * 1024u)  /* bounce buffer for segment contents */
#define EC_FILES 32               /* files with cached read-only pages */
#define EC_FILE_PAGES 512         /* a file with more read-only pages is not cached (2 MiB) */
#define EC_FRAMES_MAX 1024        /* frames the cache holds at most (4 MiB) */

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

/* ---- the cache of read-only pages ---- */

struct ec_page {
    uint64_t va;               /* user address of the page */
    phys_addr_t pa;            /* its frame (one share count held by the cache) */
    uint64_t used;             /* the file's used stamp of the last build that mapped it */
};
struct ec_file {
    const struct vfs_mount *mount; /* which file: a hint only, the contents are compared */
    uint64_t ino;
    uint64_t used;             /* ec.clock at the last build; 0: slot free */
    int n, cap;
    struct ec_page *pages;     /* cap entries, n used */
};
static struct {
    struct mutex lock;         /* everything below; held while read-only segments load */
    struct ec_file files[EC_FILES];
    uint64_t clock;
    int frames;                /* sum of files[].n */
} ec = {.lock = MUTEX_INIT("exec-cache")};

static void ec_drop(struct ec_file *c) {
    for (int i = 0; i < c->n; i++) pmm_frame_unref(c->pages[i].pa);
    ec.frames -= c->n;
    kfree(c->pages);
    memset(c, 0, sizeof(*c));
}

/* Frees least recently used files other than keep until need more frames fit. */
static void ec_make_room(int need, const struct ec_file *keep) {
    while (ec.frames + need > EC_FRAMES_MAX) {
        struct ec_file *lru = NULL;
        for (int i = 0; i < EC_FILES; i++) {
            struct ec_file *c = &ec.files[i];
            if (c != keep && c->used && c->n && (!lru || c->used < lru->used)) lru = c;
        }
        if (!lru) return;
        ec_drop(lru);
    }
}

/* The cache entry for f with room for pages entries (found, or made in the least recently
 * used slot), or NULL (too big, no memory). Caller holds ec.lock. */
static struct ec_file *ec_get(struct vfs_file *f, int pages) {
    if (pages <= 0 || pages > EC_FILE_PAGES) return NULL;
    struct ec_file *c = NULL, *lru = &ec.files[0];
    for (int i = 0; i < EC_FILES && !c; i++) {
        struct ec_file *e = &ec.files[i];
        if (e->used && e->mount == f->vn->mount && e->ino == f->vn->ino) c = e;
        else if (e->used < lru->used) lru = e;
    }
    if (c && c->cap < pages) ec_drop(c); /* the file changed shape: start over */
    if (!c || !c->used) {
        c = c ? c : lru;
        if (c->used) ec_drop(c);
        if (!(c->pages = kmalloc(sizeof(*c->pages) * (size_t)pages))) return NULL;
        c->mount = f->vn->mount;
        c->ino = f->vn->ino;
        c->cap = pages;
    }
    c->used = ++ec.clock;
    return c;
}

/* Maps page va of the segment, whose image (file bytes and zeros) is in img: the cached
 * frame when it holds exactly that, else a new frame, which takes the page's place in the
 * cache (or, for a page not cached yet, a free entry or one this build did not use: the
 * file's layout changed, or the key was reused by another file). */
static int ec_map_page(struct uvm *vm, struct ec_file *c, uint64_t va, const uint8_t *img) {
    struct ec_page *e = NULL;
    for (int i = 0; i < c->n && !e; i++)
        if (c->pages[i].va == va) e = &c->pages[i];
    if (e && memcmp(phys_to_virt(e->pa), img, PAGE_SIZE) == 0) {
        e->used = c->used;
        return uvm_map_frame(vm, va, e->pa);
    }
    phys_addr_t pa = pmm_alloc();
    if (!pa) return -KENOMEM;
    memcpy(phys_to_virt(pa), img, PAGE_SIZE);
    int r = uvm_map_frame(vm, va, pa);
    if (!e && c->n < c->cap && (ec_make_room(1, c), ec.frames < EC_FRAMES_MAX)) {
        e = &c->pages[c->n++];
        e->pa = 0;
        ec.frames++;
    }
    for (int i = 0; i < c->n && !e; i++)
        if (c->pages[i].used != c->used) e = &c->pages[i];
    if (e) {
        if (e->pa) pmm_frame_unref(e->pa);
        *e = (struct ec_page){va, pa, c->used}; /* the allocation's count passes to the cache */
    } else {
        pmm_frame_unref(pa); /* not cached: the address space holds the only count */
    }
    return r;
}

/* Pages of s holding file bytes. */
static uint64_t file_pages(const struct elf_segment *s) {
    if (!s->filesz) return 0;
    return (ALIGN_UP(s->vaddr + s->filesz, PAGE_SIZE) - ALIGN_DOWN(s->vaddr, PAGE_SIZE)) / PAGE_SIZE;
}

/* ---- loading ---- */

/* Fills the pages of read-only segment s through the cache c (page is scratch). */
static int load_shared(struct uvm *vm, struct vfs_file *f, const struct elf_segment *s, struct ec_file *c,
                       uint8_t *page) {
    uint64_t end = s->vaddr + s->filesz;
    for (uint64_t va = ALIGN_DOWN(s->vaddr, PAGE_SIZE); va < end; va += PAGE_SIZE) {
        uint64_t lo = MAX(s->vaddr, va), hi = MIN(end, va + PAGE_SIZE);
        memset(page, 0, lo - va);
        int r = read_full(f, page + (lo - va), hi - lo, s->offset + (lo - s->vaddr));
        if (r) return r;
        memset(page + (hi - va), 0, va + PAGE_SIZE - hi);
        if ((r = ec_map_page(vm, c, va, page))) return vm_err(r, "mapping a segment page", va);
    }
    return 0;
}

/* Maps one segment and fills it with its file bytes (through the cache c when not NULL and
 * the segment is read-only). */
static int load_segment(struct uvm *vm, struct vfs_file *f, const struct elf_segment *s, struct ec_file *c,
                        uint8_t *bounce, size_t bounce_len) {
    uint64_t start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
    uint64_t addr = start;
    int r = uvm_map(vm, &addr, ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE) - start, s->prot,
                    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    if (r) return vm_err(r, "mapping a segment", start);
    if (c && !(s->prot & PROT_WRITE)) return load_shared(vm, f, s, c, bounce);
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

/* Maps and fills every segment; read-only ones through the cache when it takes the file. */
static int load_segments(struct uvm *vm, struct vfs_file *f, const struct elf_info *info, uint8_t *bounce,
                         size_t bounce_len) {
    uint64_t shared = 0;
    for (int i = 0; i < info->nload; i++)
        if (!(info->load[i].prot & PROT_WRITE)) shared += file_pages(&info->load[i]);
    if (mutex_lock(&ec.lock) < 0) return -KEINTR;
    struct ec_file *c = ec_get(f, (int)MIN(shared, (uint64_t)EC_FILE_PAGES + 1));
    int r = 0;
    for (int i = 0; i < info->nload && r == 0; i++) r = load_segment(vm, f, &info->load[i], c, bounce, bounce_len);
    mutex_unlock(&ec.lock);
    return r;
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

    /* The bounce buffer (at least a page) also holds the page images of shared pages. */
    uint64_t max_file = 0;
    for (int i = 0; i < info->nload; i++) max_file = MAX(max_file, info->load[i].filesz);
    bounce_order = order_for(MIN((uint64_t)COPY_CHUNK, max_file));
    size_t bounce_len = PAGE_SIZE << bounce_order;
    r = -KENOMEM;
    if (!(bounce = scratch_alloc(bounce_order)) || !(vm = uvm_create())) goto out;
    if ((r = load_segments(vm, f, info, bounce, bounce_len))) goto out;
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
