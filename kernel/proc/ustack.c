/* ustack.c: the initial stack of a new program (see elf.h).
 *
 * Follows the AMD64 psABI §3.4.1 "Initial Stack and Register State" (figure 3.9: argc at
 * %rsp, then argv pointers, NULL, envp pointers, NULL, auxiliary vector entries ending with
 * AT_NULL, then the information block with the strings; %rsp 16-byte aligned) and §3.4.3 for
 * the auxiliary vector, with the auxv types and values Linux passes (linux/auxvec.h:
 * AT_RANDOM, AT_EXECFN, AT_SECURE, ...), which musl's startup code reads.
 *
 * Pure code: the image is built in a kernel buffer that the caller copies to [top - size,
 * top) of the new address space with one uvm_write. Host-tested (tests/host/test_ustack.c). */
#include "elf.h"
#include "kstring.h"

#define NAUX 16               /* auxv pairs before AT_NULL (see build_auxv) */
#define EXECFN_MAX 4096       /* bytes of AT_EXECFN with its NUL (PATH_MAX) */

/* Distances below top of each part of the image. */
struct layout {
    size_t strings_len;       /* argv and envp strings with their NULs */
    size_t execfn_len;        /* with its NUL */
    uint64_t d_execfn, d_strings, d_random, d_phdrs, size;
};

/* Adds the lengths of n strings (with NULs) to *total; -KE2BIG past EXEC_ARG_MAX. */
static int add_strings(const char *const *v, int n, size_t *total) {
    if (n > 0 && !v) return -KEINVAL;
    for (int i = 0; i < n; i++) {
        if (!v[i]) return -KEINVAL;
        size_t room = EXEC_ARG_MAX - *total; /* *total <= EXEC_ARG_MAX */
        size_t l = strnlen(v[i], room);
        if (l >= room) return -KE2BIG; /* the string and its NUL do not fit */
        *total += l + 1;
    }
    return 0;
}

static int compute(const struct ustack_params *p, struct layout *lo) {
    if (!p || p->argc < 0 || p->envc < 0 || !p->random16) return -KEINVAL;
    if (p->argc > EXEC_STRINGS_MAX || p->envc > EXEC_STRINGS_MAX - p->argc) return -KE2BIG;
    if (p->phdrs && (p->phdrs_len == 0 || p->phdrs_len > ELF_MAX_PHDRS * sizeof(struct elf64_phdr)))
        return -KEINVAL;
    if (!IS_ALIGNED(p->top, 16)) return -KEINVAL;
    lo->strings_len = 0;
    int r = add_strings(p->argv, p->argc, &lo->strings_len);
    if (r == 0) r = add_strings(p->envp, p->envc, &lo->strings_len);
    if (r) return r;
    const char *fn = p->execfn ? p->execfn : "";
    lo->execfn_len = strnlen(fn, EXECFN_MAX) + 1;
    if (lo->execfn_len > EXECFN_MAX) return -KEINVAL;
    /* All of it is bounded (256 KiB + 4 KiB + 3.5 KiB + 8 * (4096 + 37)): no overflow. */
    lo->d_execfn = 8 + lo->execfn_len;
    lo->d_strings = lo->d_execfn + lo->strings_len;
    lo->d_random = ALIGN_UP(lo->d_strings + 16, 16);
    lo->d_phdrs = p->phdrs ? ALIGN_UP(lo->d_random + p->phdrs_len, 16) : lo->d_random;
    uint64_t words = 1 + (uint64_t)p->argc + 1 + (uint64_t)p->envc + 1 + 2 * (NAUX + 1);
    lo->size = ALIGN_UP(lo->d_phdrs + words * 8, 16);
    if (p->top < lo->size) return -KEINVAL;
    return 0;
}

int ustack_layout(const struct ustack_params *p, size_t *size) {
    struct layout lo;
    int r = compute(p, &lo);
    if (r == 0 && size) *size = (size_t)lo.size;
    return r;
}

static void put64(uint8_t *buf, uint64_t off, uint64_t v) { memcpy(buf + off, &v, 8); }

/* The auxiliary vector (without AT_NULL) into aux[2 * NAUX]. */
static void build_auxv(const struct ustack_params *p, uint64_t phdr, uint64_t random, uint64_t execfn,
                       uint64_t *aux) {
    const uint64_t v[NAUX][2] = {
        {AT_PHDR, phdr},     {AT_PHENT, sizeof(struct elf64_phdr)}, {AT_PHNUM, p->phnum},
        {AT_PAGESZ, 4096},   {AT_BASE, 0},          {AT_FLAGS, 0},
        {AT_ENTRY, p->entry}, {AT_UID, 0},          {AT_EUID, 0},
        {AT_GID, 0},         {AT_EGID, 0},          {AT_HWCAP, p->hwcap},
        {AT_CLKTCK, 100},    {AT_SECURE, 0},        {AT_RANDOM, random},
        {AT_EXECFN, execfn},
    };
    memcpy(aux, v, sizeof(v));
}

int ustack_build(const struct ustack_params *p, void *buf_, size_t size, uint64_t *sp) {
    struct layout lo;
    int r = compute(p, &lo);
    if (r) return r;
    if (!buf_ || size != lo.size) return -KEINVAL;
    uint8_t *buf = buf_;
    uint64_t base = p->top - lo.size; /* address of buf[0] */
#define OFF(d) (lo.size - (d))        /* buffer offset of the byte at top - d */
    /* The information block, from the top down. */
    memset(buf + OFF(8), 0, 8);
    memcpy(buf + OFF(lo.d_execfn), p->execfn ? p->execfn : "", lo.execfn_len);
    uint64_t at = OFF(lo.d_strings);
    uint64_t vec = 0; /* offset of argc: buf[0] (sp == base) */
    put64(buf, vec, (uint64_t)p->argc);
    for (int i = 0; i < p->argc + p->envc; i++) {
        const char *s = i < p->argc ? p->argv[i] : p->envp[i - p->argc];
        size_t l = strlen(s) + 1; /* bounded by compute */
        memcpy(buf + at, s, l);
        /* argv[i] at word 1 + i; envp[j] at word 1 + argc + 1 + j */
        put64(buf, vec + 8 * (1 + (uint64_t)i + (i >= p->argc)), base + at);
        at += l;
    }
    put64(buf, vec + 8 * (1 + (uint64_t)p->argc), 0);
    put64(buf, vec + 8 * (2 + (uint64_t)p->argc + (uint64_t)p->envc), 0);
    /* Padding between the strings and the random bytes, and around the phdr copy. */
    memset(buf + OFF(lo.d_random) + 16, 0, lo.d_random - 16 - lo.d_strings);
    memcpy(buf + OFF(lo.d_random), p->random16, 16);
    uint64_t phdr = p->phdr_addr;
    if (p->phdrs) {
        memcpy(buf + OFF(lo.d_phdrs), p->phdrs, p->phdrs_len);
        memset(buf + OFF(lo.d_phdrs) + p->phdrs_len, 0, lo.d_phdrs - lo.d_random - p->phdrs_len);
        phdr = base + OFF(lo.d_phdrs);
    }
    /* auxv right after envp's NULL; zero up to the phdr copy / random bytes. */
    uint64_t aux_off = vec + 8 * (3 + (uint64_t)p->argc + (uint64_t)p->envc);
    uint64_t aux[2 * NAUX];
    build_auxv(p, phdr, base + OFF(lo.d_random), base + OFF(lo.d_execfn), aux);
    memcpy(buf + aux_off, aux, sizeof(aux));
    memset(buf + aux_off + sizeof(aux), 0, OFF(lo.d_phdrs) - aux_off - sizeof(aux)); /* AT_NULL, pad */
#undef OFF
    if (sp) *sp = base;
    return 0;
}
