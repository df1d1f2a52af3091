/* string.c: the kernel's memory and string functions, declared in kstring.h.
 *
 * Semantics follow ISO C17 section 7.24 (<string.h>) for memcpy, memmove, memset, memcmp,
 * strlen, strcmp, strncmp and strchr; strnlen follows POSIX.1-2008 and strlcpy the BSD
 * contract documented in kstring.h.
 *
 * memcpy and memset are the hot ones (the compiler also emits calls to them for struct copies
 * and large initialisers). Under TCG every guest instruction costs many host instructions, so
 * they move eight bytes per step with the string instructions REP MOVSQ / REP STOSQ and finish
 * the tail with REP MOVSB / REP STOSB (Intel SDM vol. 2B, "REP/REPE/REPZ/REPNE/REPNZ", "MOVS",
 * "STOS"). Their bodies are inline assembly, so the compiler cannot turn them back into calls
 * to themselves. The ABI (System V x86-64 psABI section 3.2.1) guarantees DF = 0 on function
 * entry, so the string instructions run forwards.
 *
 * Host tests: on the host the C library owns the standard names, so in HOST_TEST builds every
 * function here is compiled under a k_ prefix (k_memcpy, k_strlen, ...) and a test calls those.
 * The inline assembly is plain user-mode x86-64, so on an x86-64 host the very same code is
 * tested; other hosts get a portable C version of the two copy/fill helpers. */
#ifdef HOST_TEST
#include "types.h"
#define memcpy k_memcpy
#define memmove k_memmove
#define memset k_memset
#define memcmp k_memcmp
#define strlen k_strlen
#define strnlen k_strnlen
#define strcmp k_strcmp
#define strncmp k_strncmp
#define strchr k_strchr
#define strlcpy k_strlcpy
#else
#include "kstring.h"
#endif

/* A 64-bit value at any alignment; may_alias lets it read and write any object's bytes. */
typedef uint64_t __attribute__((may_alias, aligned(1))) unaligned_u64;

/* Copies n bytes from src to dst, lowest address first. Also correct for overlapping buffers
 * when dst < src: every eight-byte step reads its source before it writes its destination. */
static inline void copy_forward(void *dst, const void *src, size_t n) {
#if defined(__x86_64__)
    size_t qwords = n >> 3;
    size_t tail_bytes = n & 7;
    __asm__ volatile("rep movsq\n\t"
                     "movq %[tail], %%rcx\n\t"
                     "rep movsb"
                     : "+D"(dst), "+S"(src), "+c"(qwords)
                     : [tail] "r"(tail_bytes)
                     : "memory");
#else
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (; n >= 8; n -= 8, d += 8, s += 8)
        *(unaligned_u64 *)d = *(const unaligned_u64 *)s;
    while (n--)
        *d++ = *s++;
#endif
}

/* Copies n bytes from src to dst, highest address first: correct when the buffers overlap
 * with dst > src. Written in C rather than with STD; REP MOVSB, so that DF is never set where
 * an interrupt or exception handler could observe it. */
static void copy_backward(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst + n;
    const unsigned char *s = (const unsigned char *)src + n;
    while (n >= 8) {
        d -= 8;
        s -= 8;
        n -= 8;
        /* Load the whole step before storing it, so overlap within one step is harmless. */
        uint64_t v = *(const unaligned_u64 *)s;
        *(unaligned_u64 *)d = v;
    }
    while (n--)
        *--d = *--s;
}

/* Fills n bytes at dst with the byte value c. */
static inline void fill_forward(void *dst, unsigned char c, size_t n) {
#if defined(__x86_64__)
    uint64_t pattern = (uint64_t)c * 0x0101010101010101ull;
    size_t qwords = n >> 3;
    size_t tail_bytes = n & 7;
    __asm__ volatile("rep stosq\n\t"
                     "movq %[tail], %%rcx\n\t"
                     "rep stosb"
                     : "+D"(dst), "+c"(qwords)
                     : "a"(pattern), [tail] "r"(tail_bytes)
                     : "memory");
#else
    unsigned char *d = dst;
    uint64_t pattern = (uint64_t)c * 0x0101010101010101ull;
    for (; n >= 8; n -= 8, d += 8)
        *(unaligned_u64 *)d = pattern;
    while (n--)
        *d++ = c;
#endif
}

/* Copies n bytes; the buffers must not overlap (use memmove for that). Returns dst. */
void *memcpy(void *dst, const void *src, size_t n) {
    copy_forward(dst, src, n);
    return dst;
}

/* Copies n bytes between buffers that may overlap, as if through a temporary. Returns dst. */
void *memmove(void *dst, const void *src, size_t n) {
    uintptr_t d = (uintptr_t)dst;
    uintptr_t s = (uintptr_t)src;
    /* Forwards is safe unless dst starts inside [src, src + n). */
    if (d - s >= n)
        copy_forward(dst, src, n);
    else if (d != s)
        copy_backward(dst, src, n);
    return dst;
}

/* Sets n bytes at dst to (unsigned char)c. Returns dst. */
void *memset(void *dst, int c, size_t n) {
    fill_forward(dst, (unsigned char)c, n);
    return dst;
}

/* Compares n bytes as unsigned char; returns <0, 0 or >0. */
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *pa = a;
    const unsigned char *pb = b;
    /* Skip equal eight-byte steps quickly, then find the differing byte one at a time. */
    while (n >= 8 && *(const unaligned_u64 *)pa == *(const unaligned_u64 *)pb) {
        pa += 8;
        pb += 8;
        n -= 8;
    }
    for (; n > 0; n--, pa++, pb++) {
        if (*pa != *pb)
            return (int)*pa - (int)*pb;
    }
    return 0;
}

/* Returns the number of bytes before the terminating NUL. */
size_t strlen(const char *s) {
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

/* Returns strlen(s), but looks at no more than max bytes (and returns max if no NUL). */
size_t strnlen(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

/* Compares two strings as unsigned char; returns <0, 0 or >0. */
int strcmp(const char *a, const char *b) {
    const unsigned char *pa = (const unsigned char *)a;
    const unsigned char *pb = (const unsigned char *)b;
    while (*pa && *pa == *pb) {
        pa++;
        pb++;
    }
    return (int)*pa - (int)*pb;
}

/* Compares at most n characters of two strings as unsigned char; returns <0, 0 or >0. */
int strncmp(const char *a, const char *b, size_t n) {
    const unsigned char *pa = (const unsigned char *)a;
    const unsigned char *pb = (const unsigned char *)b;
    for (; n > 0; n--, pa++, pb++) {
        if (*pa != *pb)
            return (int)*pa - (int)*pb;
        if (*pa == 0)
            return 0;
    }
    return 0;
}

/* Returns the first occurrence of (char)c in s, or NULL. The terminating NUL counts as part
 * of the string, so strchr(s, 0) points at it. */
char *strchr(const char *s, int c) {
    char wanted = (char)c;
    for (;; s++) {
        if (*s == wanted)
            return (char *)s;
        if (*s == 0)
            return NULL;
    }
}

/* Copies at most size-1 bytes of src and NUL-terminates dst (when size > 0); returns
 * strlen(src), so a result >= size means the copy was truncated. */
size_t strlcpy(char *dst, const char *src, size_t size) {
    size_t src_len = strlen(src);
    if (size > 0) {
        size_t copy = src_len < size - 1 ? src_len : size - 1;
        memcpy(dst, src, copy);
        dst[copy] = 0;
    }
    return src_len;
}

#ifdef HOST_TEST
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr
#undef strlcpy
#endif
