/* test_ustack.c: host unit tests for the initial-stack builder (kernel/proc/ustack.c) against
 * the AMD64 psABI §3.4.1 (argc at %rsp, argv, NULL, envp, NULL, auxv pairs ending with
 * AT_NULL, %rsp 16-byte aligned) and the auxv entries Linux passes and musl reads. The stack
 * is read back the way a C runtime's start code does (from sp only), every pointer is
 * checked to land inside the image on the right string, and the limits (EXEC_ARG_MAX bytes,
 * EXEC_STRINGS_MAX strings) and hostile parameters give clear errors. The image buffer is
 * allocated with exactly the size ustack_layout returns, so AddressSanitizer catches any
 * write outside it. */
#include "host_stubs.h"
#include "../../kernel/proc/ustack.c"
#include "../../kernel/proc/elf.c"

#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>

#define TOP 0x00007ffffffff000ull

static const uint8_t RND[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

struct built {
    uint8_t *buf;
    size_t size;
    uint64_t sp, top;
};

/* A pointer into the image for user address a (asserting that [a, a + len) is inside). */
static const uint8_t *at(const struct built *b, uint64_t a, size_t len) {
    assert_true(a >= b->sp && a <= b->top && len <= b->top - a);
    return b->buf + (a - b->sp);
}
static uint64_t word(const struct built *b, uint64_t a) {
    uint64_t v;
    memcpy(&v, at(b, a, 8), 8);
    return v;
}
/* The NUL-terminated string at a, inside the image. */
static const char *str(const struct built *b, uint64_t a) {
    const char *s = (const char *)at(b, a, 1);
    size_t room = b->top - a;
    assert_true(strnlen(s, room) < room);
    return s;
}

static struct ustack_params params(const char *const *argv, int argc, const char *const *envp, int envc) {
    struct ustack_params p = {
        .argv = argv, .argc = argc, .envp = envp, .envc = envc, .execfn = "/bin/prog", .random16 = RND,
        .phdr_addr = 0x400040, .phnum = 6, .entry = 0x401033, .hwcap = 0x178bfbff, .top = TOP,
    };
    return p;
}

static int build(const struct ustack_params *p, struct built *b) {
    size_t size = 0;
    int r = ustack_layout(p, &size);
    if (r) return r;
    b->buf = malloc(size);
    assert_non_null(b->buf);
    memset(b->buf, 0xa5, size); /* everything must be written */
    b->size = size;
    b->top = p->top;
    r = ustack_build(p, b->buf, size, &b->sp);
    if (r) free(b->buf);
    return r;
}

/* Reads the stack as start code does and checks it against p. Returns the auxv value of
 * AT_PHDR. */
static uint64_t check_stack(const struct ustack_params *p, const struct built *b) {
    assert_int_equal(b->sp % 16, 0);
    assert_int_equal(b->sp, b->top - b->size);
    assert_int_equal(word(b, b->sp), (uint64_t)p->argc);
    uint64_t a = b->sp + 8, prev_end = 0;
    for (int i = 0; i < p->argc; i++, a += 8) {
        uint64_t s = word(b, a);
        assert_string_equal(str(b, s), p->argv[i]);
        if (i > 0) assert_int_equal(s, prev_end); /* contiguous, like Linux (cmdline) */
        prev_end = s + strlen(p->argv[i]) + 1;
    }
    assert_int_equal(word(b, a), 0);
    a += 8;
    for (int i = 0; i < p->envc; i++, a += 8) {
        uint64_t s = word(b, a);
        assert_string_equal(str(b, s), p->envp[i]);
        if (i > 0 || p->argc > 0) assert_int_equal(s, prev_end);
        prev_end = s + strlen(p->envp[i]) + 1;
    }
    assert_int_equal(word(b, a), 0);
    a += 8;
    /* auxv */
    bool seen[64] = {false};
    uint64_t val[64] = {0};
    for (;; a += 16) {
        uint64_t type = word(b, a), v = word(b, a + 8);
        if (type == AT_NULL) {
            assert_int_equal(v, 0);
            break;
        }
        assert_true(type < 64);
        assert_false(seen[type]); /* no duplicates */
        seen[type] = true;
        val[type] = v;
    }
    static const uint64_t want[] = {AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY,
                                    AT_UID, AT_EUID, AT_GID, AT_EGID, AT_HWCAP, AT_CLKTCK, AT_SECURE,
                                    AT_RANDOM, AT_EXECFN};
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        if (!seen[want[i]]) fail_msg("auxv entry %lu missing", (unsigned long)want[i]);
    }
    assert_int_equal(val[AT_PHENT], 56);
    assert_int_equal(val[AT_PHNUM], p->phnum);
    assert_int_equal(val[AT_PAGESZ], 4096);
    assert_int_equal(val[AT_BASE], 0);
    assert_int_equal(val[AT_FLAGS], 0);
    assert_int_equal(val[AT_ENTRY], p->entry);
    assert_int_equal(val[AT_UID] | val[AT_EUID] | val[AT_GID] | val[AT_EGID], 0);
    assert_int_equal(val[AT_HWCAP], p->hwcap);
    assert_int_equal(val[AT_CLKTCK], 100);
    assert_int_equal(val[AT_SECURE], 0);
    assert_memory_equal(at(b, val[AT_RANDOM], 16), p->random16, 16);
    assert_int_equal(val[AT_RANDOM] % 16, 0);
    assert_string_equal(str(b, val[AT_EXECFN]), p->execfn ? p->execfn : "");
    /* the auxv ends below everything it points at; the top 8 bytes are zero */
    assert_true(a + 16 <= val[AT_RANDOM]);
    assert_int_equal(word(b, b->top - 8), 0);
    /* strings lie above the random bytes */
    if (p->argc) assert_true(word(b, b->sp + 8) >= val[AT_RANDOM] + 16);
    return val[AT_PHDR];
}

static void test_layout_basic(void **state) {
    (void)state;
    const char *argv[] = {"prog", "-x", "", "last argument"};
    const char *envp[] = {"HOME=/", "PATH=/bin:/sbin"};
    struct ustack_params p = params(argv, 4, envp, 2);
    struct built b;
    assert_int_equal(build(&p, &b), 0);
    assert_int_equal(check_stack(&p, &b), 0x400040);
    /* a small stack stays small: one page */
    assert_true(b.size <= 4096);
    free(b.buf);
}

static void test_empty_argv_envp(void **state) {
    (void)state;
    struct ustack_params p = params(NULL, 0, NULL, 0);
    p.execfn = NULL; /* AT_EXECFN becomes "" */
    struct built b;
    assert_int_equal(build(&p, &b), 0);
    check_stack(&p, &b);
    free(b.buf);
}

static void test_phdr_copy(void **state) {
    (void)state;
    uint8_t phdrs[3 * 56];
    for (size_t i = 0; i < sizeof(phdrs); i++) phdrs[i] = (uint8_t)(i * 7 + 1);
    const char *argv[] = {"a"};
    struct ustack_params p = params(argv, 1, NULL, 0);
    p.phdrs = phdrs;
    p.phdrs_len = sizeof(phdrs);
    p.phnum = 3;
    struct built b;
    assert_int_equal(build(&p, &b), 0);
    uint64_t ph = check_stack(&p, &b);
    assert_int_equal(ph % 8, 0);
    assert_memory_equal(at(&b, ph, sizeof(phdrs)), phdrs, sizeof(phdrs));
    free(b.buf);
}

/* Alignment and placement for many shapes: every string length mod 16, counts 0..40. */
static void test_many_shapes(void **state) {
    (void)state;
    static char pool[64][80];
    const char *v[64];
    for (int i = 0; i < 64; i++) {
        int len = (i * 7) % 71;
        memset(pool[i], 'a' + i % 26, (size_t)len);
        pool[i][len] = '\0';
        v[i] = pool[i];
    }
    for (int argc = 0; argc <= 40; argc += 3) {
        for (int envc = 0; envc <= 23; envc += 5) {
            for (int fl = 0; fl < 17; fl += 4) {
                char fn[32];
                memset(fn, '/', (size_t)fl);
                fn[fl] = '\0';
                struct ustack_params p = params(v, argc, v + 40, envc);
                p.execfn = fn;
                p.top = TOP - 16 * (uint64_t)fl;
                struct built b;
                assert_int_equal(build(&p, &b), 0);
                check_stack(&p, &b);
                free(b.buf);
            }
        }
    }
}

static void test_e2big_bytes(void **state) {
    (void)state;
    char *big = malloc(EXEC_ARG_MAX + 1);
    assert_non_null(big);
    /* exactly EXEC_ARG_MAX bytes with the NUL: fits */
    memset(big, 'x', EXEC_ARG_MAX - 1);
    big[EXEC_ARG_MAX - 1] = '\0';
    const char *argv[] = {big};
    struct ustack_params p = params(argv, 1, NULL, 0);
    struct built b;
    assert_int_equal(build(&p, &b), 0);
    check_stack(&p, &b);
    free(b.buf);
    /* one byte more: E2BIG, in argv or in envp */
    big[EXEC_ARG_MAX - 1] = 'x';
    big[EXEC_ARG_MAX] = '\0';
    size_t size = 123;
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    assert_int_equal(size, 123);
    p = params(NULL, 0, argv, 1);
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    /* split across argv and envp: half + half + 1 */
    char *half = malloc(EXEC_ARG_MAX / 2 + 1);
    assert_non_null(half);
    memset(half, 'h', EXEC_ARG_MAX / 2 - 1);
    half[EXEC_ARG_MAX / 2 - 1] = '\0';
    const char *a2[] = {half};
    const char *e2[] = {half, "y"};
    p = params(a2, 1, e2, 1);
    assert_int_equal(ustack_layout(&p, &size), 0);
    p = params(a2, 1, e2, 2);
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    /* the builder refuses too */
    uint8_t dummy[64];
    uint64_t sp = 77;
    assert_int_equal(ustack_build(&p, dummy, sizeof(dummy), &sp), -KE2BIG);
    assert_int_equal(sp, 77);
    free(half);
    free(big);
}

static void test_e2big_count(void **state) {
    (void)state;
    const char **v = malloc(sizeof(char *) * (EXEC_STRINGS_MAX + 1));
    assert_non_null(v);
    for (int i = 0; i <= EXEC_STRINGS_MAX; i++) v[i] = "";
    struct ustack_params p = params(v, EXEC_STRINGS_MAX, NULL, 0);
    struct built b;
    assert_int_equal(build(&p, &b), 0); /* 4096 empty strings: fine */
    check_stack(&p, &b);
    free(b.buf);
    size_t size;
    p = params(v, EXEC_STRINGS_MAX + 1, NULL, 0);
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    p = params(v, 2048, v, 2049);
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    p = params(v, 1, v, INT32_MAX);
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    p = params(v, INT32_MAX, v, INT32_MAX);
    assert_int_equal(ustack_layout(&p, &size), -KE2BIG);
    free(v);
}

static void test_hostile_params(void **state) {
    (void)state;
    const char *argv[] = {"a", NULL};
    size_t size;
    struct ustack_params p = params(argv, -1, NULL, 0);
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(argv, 1, NULL, -5);
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(argv, 2, NULL, 0); /* NULL string */
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(NULL, 1, NULL, 0); /* NULL vector */
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(argv, 1, NULL, 1);
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(argv, 1, NULL, 0);
    p.random16 = NULL;
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(argv, 1, NULL, 0);
    p.top = TOP - 8; /* misaligned */
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p.top = 256; /* no room below */
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p = params(argv, 1, NULL, 0);
    p.phdrs = argv;
    p.phdrs_len = 0;
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    p.phdrs_len = 65 * 56;
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    assert_int_equal(ustack_layout(NULL, &size), -KEINVAL);
    /* an execfn longer than PATH_MAX */
    char *longfn = malloc(5000);
    assert_non_null(longfn);
    memset(longfn, 'p', 4999);
    longfn[4999] = '\0';
    p = params(argv, 1, NULL, 0);
    p.execfn = longfn;
    assert_int_equal(ustack_layout(&p, &size), -KEINVAL);
    free(longfn);
    /* build with a size that is not the layout's */
    p = params(argv, 1, NULL, 0);
    assert_int_equal(ustack_layout(&p, &size), 0);
    uint8_t *buf = malloc(size + 16);
    assert_non_null(buf);
    uint64_t sp;
    assert_int_equal(ustack_build(&p, buf, size + 16, &sp), -KEINVAL);
    assert_int_equal(ustack_build(&p, buf, size - 16, &sp), -KEINVAL);
    assert_int_equal(ustack_build(&p, NULL, size, &sp), -KEINVAL);
    free(buf);
}

/* ---- end to end: a real musl-gcc -static program started on our stack ----
 * The test compiles a probe with musl-gcc (skipped when it is not installed), loads it in a
 * child process the way exec_image.c does (segments from elf_parse at their addresses, the
 * stack from ustack_build), and jumps to its entry. musl's start code then reads argc, argv,
 * envp and auxv from our layout (AT_PHDR for the TLS segment, AT_RANDOM for the stack
 * protector, AT_PAGESZ, AT_EXECFN); the probe prints what it saw and exits with 7. */
static const char probe_src[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <sys/auxv.h>\n"
    "__thread int tls = 42;\n"
    "int main(int argc, char **argv) {\n"
    "  unsigned char *r = (unsigned char *)getauxval(AT_RANDOM);\n"
    "  printf(\"argc=%d\", argc);\n"
    "  for (int i = 0; i < argc; i++) printf(\" [%s]\", argv[i]);\n"
    "  printf(\" env=%s tls=%d execfn=%s pagesz=%lu clktck=%lu rnd=%02x%02x\\n\", getenv(\"PROBE\"), tls,\n"
    "         (char *)getauxval(AT_EXECFN), getauxval(AT_PAGESZ), getauxval(AT_CLKTCK), r[0], r[15]);\n"
    "  return 7;\n}\n";

static bool build_probe(const char *src, const char *out, bool pie) {
    FILE *f = fopen(src, "w");
    if (!f) return false;
    fputs(probe_src, f);
    fclose(f);
    char cmd[1024];
    if (!pie) {
        snprintf(cmd, sizeof(cmd), "musl-gcc -static -O1 -o %s %s 2>/dev/null", out, src);
    } else { /* Debian's musl-gcc -static-pie lacks rcrt1.o: link a real static PIE by hand */
        const char *m = "/usr/lib/x86_64-linux-musl";
        snprintf(cmd, sizeof(cmd),
                 "musl-gcc -fPIE -O1 -nostartfiles -nostdlib -Wl,-static -Wl,-pie -Wl,--no-dynamic-linker "
                 "-Wl,-z,text -o %s %s/rcrt1.o %s/crti.o %s %s/libc.a $(gcc -print-libgcc-file-name) "
                 "%s/crtn.o 2>/dev/null", out, m, m, src, m, m);
    }
    return system(cmd) == 0;
}

/* In the child: loads the program, builds the stack, jumps. Exits 100+ on a setup failure. */
static NORETURN void load_and_run(const char *path, const struct ustack_params *tmpl) {
    static uint8_t file[4 << 20];
    FILE *f = fopen(path, "rb");
    if (!f) _exit(100);
    size_t n = fread(file, 1, sizeof(file), f);
    fclose(f);
    static struct elf_info info;
    if (elf_parse(file, n, n, &info)) _exit(101);
    for (int i = 0; i < info.nload; i++) {
        const struct elf_segment *s = &info.load[i];
        uint64_t start = ALIGN_DOWN(s->vaddr, 4096), len = ALIGN_UP(s->vaddr + s->memsz, 4096) - start;
        void *m = mmap((void *)start, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (m != (void *)start) _exit(102); /* the address is taken in this process: skip */
        memcpy((void *)s->vaddr, file + s->offset, s->filesz);
        mprotect(m, len, s->prot);
    }
    size_t stack_len = 1 << 20;
    uint8_t *stk = mmap(NULL, stack_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stk == MAP_FAILED) _exit(103);
    struct ustack_params p = *tmpl;
    p.top = (uint64_t)(uintptr_t)(stk + stack_len);
    p.phdr_addr = info.phdr_addr;
    p.phnum = info.phnum;
    p.entry = info.entry;
    if (!info.phdr_addr) {
        p.phdrs = file + info.phoff;
        p.phdrs_len = info.phnum * 56u;
    }
    size_t size;
    if (ustack_layout(&p, &size)) _exit(104);
    uint64_t sp;
    if (ustack_build(&p, (void *)(uintptr_t)(p.top - size), size, &sp)) _exit(105);
    /* psABI §3.4.1: rsp = sp, rdx = 0 (no function for atexit); the start code clears rbp */
    signal(SIGSEGV, SIG_DFL); /* a crash must end the child, not return into cmocka */
    signal(SIGBUS, SIG_DFL);
    signal(SIGILL, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    __asm__ volatile("mov %0, %%rsp\n jmp *%1" ::"D"(sp), "a"(info.entry), "d"(0) : "memory");
    __builtin_unreachable();
}

static void run_probe(bool pie) {
    const char *src = "build/host/ustack_probe.c";
    const char *bin = pie ? "build/host/ustack_probe_pie" : "build/host/ustack_probe";
    if (!build_probe(src, bin, pie)) {
        fprintf(stderr, "musl-gcc not usable: %s skipped\n", bin);
        return;
    }
    const char *argv[] = {"probe", "one", "two words"};
    const char *envp[] = {"A=1", "PROBE=seen"};
    struct ustack_params p = params(argv, 3, envp, 2);
    p.execfn = "/bin/probe";
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        load_and_run(bin, &p);
    }
    close(fds[1]);
    char out[512] = {0};
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0) got += (size_t)r;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 102) {
        fprintf(stderr, "%s: load address taken in the test process: skipped\n", bin);
        return;
    }
    fprintf(stderr, "%s said: %s", bin, out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_string_equal(out, "argc=3 [probe] [one] [two words] env=seen tls=42 execfn=/bin/probe "
                             "pagesz=4096 clktck=100 rnd=0110\n");
}

static void test_real_musl_exec(void **state) {
    (void)state;
    run_probe(false);
}
static void test_real_musl_static_pie(void **state) {
    (void)state;
    run_probe(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_basic), cmocka_unit_test(test_empty_argv_envp),
        cmocka_unit_test(test_phdr_copy),    cmocka_unit_test(test_many_shapes),
        cmocka_unit_test(test_e2big_bytes),  cmocka_unit_test(test_e2big_count),
        cmocka_unit_test(test_hostile_params),
        cmocka_unit_test(test_real_musl_exec), cmocka_unit_test(test_real_musl_static_pie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
