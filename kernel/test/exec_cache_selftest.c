/* exec_cache_selftest.c: self-tests (group `exec_image`) of the pages exec_image.c shares
 * between images of the same file (read-only segments, mapped copy-on-write), against the
 * gABI "Program Loading" rules (every image shows exactly the file's current bytes, zeros
 * after p_filesz) and the copy-on-write contract of uvm.h:
 *   - two images of one file map the same frame, read-only and copy-on-write;
 *   - a write into one image (uvm_write, which ignores protections) copies the page: the
 *     other image and later images still show the file's bytes;
 *   - after the file changes (same name, size and inode), a new image shows the new bytes
 *     and an older one keeps what it had;
 *   - building again from an unchanged file takes no new frame, and dropping every image
 *     gives back all but the cached frames;
 *   - uvm_map_frame refuses misaligned addresses, addresses outside regions and pages
 *     already mapped.
 * The files live on a detached tmpfs. */
#include "elf.h"
#include "uvm.h"
#include "../mm/uvm_internal.h"
#include "vfs.h"
#include "mm.h"
#include "selftest.h"
#include "kstring.h"

#define BASE 0x400000ull
#define CODE (BASE + 0x1000)      /* read-only, executable: 0x20 file bytes, then 0xaa in the file */
#define DATA (BASE + 0x2000)      /* read/write: 0x10 file bytes */
#define FILE_SIZE 0x3000u

static uint64_t free_frames(void) {
    struct pmm_stats st;
    pmm_get_stats(&st);
    return st.free_frames;
}

static void put_ph(uint8_t *img, int i, uint32_t flags, uint64_t off, uint64_t va, uint64_t fsz, uint64_t msz) {
    struct elf64_phdr ph = {PT_LOAD, flags, off, va, va, fsz, msz, 0x1000};
    memcpy(img + 64 + 56 * i, &ph, sizeof(ph));
}

/* An ET_EXEC whose code page starts with the byte tag. */
static uint8_t *make_elf(uint8_t tag) {
    uint8_t *img = kzalloc(FILE_SIZE);
    if (!img) return NULL;
    struct elf64_ehdr eh = {{0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT}, ET_EXEC, EM_X86_64,
                            EV_CURRENT, CODE, 64, 0, 0, 64, 56, 2, 0, 0, 0};
    memcpy(img, &eh, sizeof(eh));
    put_ph(img, 0, PF_R | PF_X, 0x1000, CODE, 0x20, 0x20);
    put_ph(img, 1, PF_R | PF_W, 0x2000, DATA, 0x10, 0x1000);
    memset(img + 0x1000, 0xaa, 0x1000); /* must not show past p_filesz */
    for (int i = 0; i < 0x20; i++) img[0x1000 + i] = (uint8_t)(tag + i);
    memset(img + 0x2000, 0x55, 0x10);
    return img;
}

/* The frame mapped at va (0 when none). */
static phys_addr_t frame_at(struct uvm *vm, uint64_t va) {
    uint64_t e = uvm_query_pte(vm, va);
    return pte_has_frame(e) ? (e & PTE_ADDR) : 0;
}

/* True when the code page of vm shows tag's bytes followed by zeros. */
static bool code_is(struct uvm *vm, uint8_t tag) {
    uint8_t *p = kmalloc(PAGE_SIZE);
    bool ok = p && uvm_read(vm, CODE, p, PAGE_SIZE) == 0;
    for (size_t i = 0; ok && i < PAGE_SIZE; i++) ok = p[i] == (i < 0x20 ? (uint8_t)(tag + i) : 0);
    kfree(p);
    return ok;
}

static struct uvm *build(struct vfs_file *f) {
    struct exec_image img;
    static const char *const argv[] = {"t", NULL};
    return exec_image_build(f, "t", argv, 1, NULL, 0, &img) == 0 ? img.vm : NULL;
}

SELFTEST(exec_image, shared_pages_follow_the_file) {
    struct vfs_mount *m;
    tmpfs_init();
    ST_ASSERT(t, vfs_mount(NULL, NULL, "tmpfs", "exec_cache", NULL, &m) == 0, "tmpfs mount failed");
    struct vfs_ctx ctx = {m->root, m->root};
    uint8_t *elf = make_elf(0x10), *elf2 = make_elf(0x60);
    struct vfs_file *f = NULL;
    struct uvm *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    bool same = false, cow = false, w_a = false, b_kept = false, c_same = false, d_new = false, b_old = false,
         d_other = false, data_private = false;
    int64_t wrote = -1;
    uint64_t before = 0, after = 0;
    if (elf && elf2 && vfs_open(&ctx, "p", O_RDWR | O_CREAT | O_TRUNC, 0755, &f) == 0)
        wrote = vfs_write(f, elf, FILE_SIZE);
    if (wrote == FILE_SIZE) {
        a = build(f);
        b = build(f);
    }
    if (a && b) {
        phys_addr_t fa = frame_at(a, CODE);
        uint64_t e = uvm_query_pte(b, CODE);
        same = fa && fa == frame_at(b, CODE);
        cow = (e & PTE_COW) && !(e & PTE_W);
        data_private = frame_at(a, DATA) && frame_at(a, DATA) != frame_at(b, DATA);
        /* a write into a's code page (uvm_write ignores protections) copies it */
        w_a = uvm_write(a, CODE, "\x01\x02", 2) == 0 && frame_at(a, CODE) != fa;
        b_kept = code_is(b, 0x10) && frame_at(b, CODE) == fa;
        c = build(f);
        c_same = c && code_is(c, 0x10) && frame_at(c, CODE) == fa;
        /* the file changes in place: same name, size and inode */
        if (vfs_pwrite(f, elf2 + 0x1000, 0x20, 0x1000) == 0x20) d = build(f);
        d_new = d && code_is(d, 0x60);
        d_other = d && frame_at(d, CODE) != fa;
        b_old = code_is(b, 0x10);
    }
    uvm_put(a);
    uvm_put(b);
    uvm_put(c);
    uvm_put(d);
    if (d) { /* the cache is current: another build and its release take and give back the same */
        before = free_frames();
        uvm_put(build(f));
        after = free_frames();
    }
    if (f) vfs_close(f);
    vfs_unlink(&ctx, "p");
    vfs_umount(m);
    kfree(elf);
    kfree(elf2);
    ST_ASSERT(t, wrote == FILE_SIZE, "writing the test file: %ld", (long)wrote);
    ST_ASSERT(t, a && b, "exec_image_build failed");
    ST_ASSERT(t, same, "two images of one file map different frames for read-only code");
    ST_ASSERT(t, cow, "shared code page entry %#lx is not copy-on-write/read-only", (unsigned long)uvm_query_pte(b, CODE));
    ST_ASSERT(t, data_private, "the writable segment's page is shared");
    ST_ASSERT(t, w_a, "writing into a shared page did not copy it");
    ST_ASSERT(t, b_kept, "a write into one image showed in another");
    ST_ASSERT(t, c_same, "a later image does not show the file's bytes in the shared frame");
    ST_ASSERT(t, d_new && d_other, "after the file changed: new bytes %d, new frame %d", d_new, d_other);
    ST_ASSERT(t, b_old, "an older image changed when the file did");
    ST_ASSERT(t, before == after, "a cached build leaked %ld frames", (long)(before - after));
}

SELFTEST(exec_image, map_frame_refusals) {
    struct uvm *vm = uvm_create();
    ST_ASSERT(t, vm, "no memory");
    uint64_t addr = BASE;
    int rm = uvm_map(vm, &addr, PAGE_SIZE, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    phys_addr_t pa = pmm_alloc();
    int r_mis = -1, r_out = -1, r_ok = -1, r_again = -1;
    uint32_t refs = 0;
    if (rm == 0 && pa) {
        memset(phys_to_virt(pa), 0x5a, PAGE_SIZE);
        r_mis = uvm_map_frame(vm, BASE + 8, pa);
        r_out = uvm_map_frame(vm, BASE + PAGE_SIZE, pa);
        r_ok = uvm_map_frame(vm, BASE, pa);
        r_again = uvm_map_frame(vm, BASE, pa);
        refs = pmm_frame_refs(pa);
    }
    uint8_t byte = 0;
    bool seen = uvm_read(vm, BASE + 100, &byte, 1) == 0 && byte == 0x5a;
    uvm_put(vm);
    uint32_t left = pa ? pmm_frame_refs(pa) : 0;
    if (pa) pmm_frame_unref(pa);
    ST_ASSERT(t, rm == 0 && pa, "setup: uvm_map %d", rm);
    ST_ASSERT(t, r_mis == -KEINVAL, "misaligned address = %d", r_mis);
    ST_ASSERT(t, r_out == -KEFAULT, "outside any region = %d", r_out);
    ST_ASSERT(t, r_ok == 0 && seen, "mapping = %d, contents seen %d", r_ok, seen);
    ST_ASSERT(t, r_again == -KEEXIST, "mapping over a mapped page = %d", r_again);
    ST_ASSERT(t, refs == 2 && left == 1, "share counts: %u while mapped, %u after (want 2, 1)", refs, left);
}
