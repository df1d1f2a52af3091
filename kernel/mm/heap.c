/* heap.c: the kernel heap: kmalloc, kzalloc, kfree. No external specification; the design
 * is the classic slab allocator (Bonwick, "The Slab Allocator", USENIX 1994) with the slab
 * header kept on the slab's own page, over the buddy frame allocator of pmm.c.
 *
 * Small requests (1..2048 bytes) are rounded up to a size class 16, 32, ..., 2048 and served
 * from 4 KiB slabs: one frame whose first 64 bytes are a header (magic, class, a bitmap with
 * one bit per object, set = free) followed by the objects. The slabs of a class that still
 * have a free object are on that class's list; a slab whose objects are all free again goes
 * straight back to the pmm, so an idle heap holds no frames. (A 2048-byte class holds one
 * object per slab because of the header; 1024 holds three, 16 holds 252.)
 *
 * Larger requests get 2^order frames from the pmm with a 16-byte header in front (magic,
 * order, requested size), which keeps the returned pointer 16-byte aligned.
 *
 * kfree validates before it touches anything: the pointer must be 16-byte aligned, lie in the
 * direct map, and its page must start an allocated pmm block (pmm_allocated_order); then the
 * header magic tells a slab from a large block, the offset must fall on an object boundary,
 * and the object's bit must say "in use". Anything else is reported with pr_err and ignored.
 *
 * Statistics: bytes_in_use counts class sizes for small objects and requested sizes for large
 * ones; alloc_calls/free_calls count successful calls. */
#include "mm.h"
#include "kstring.h"
#include "printk.h"

#ifdef HOST_TEST
static inline uint64_t heap_lock(void) { return 0; }
static inline void heap_unlock(uint64_t flags) { (void)flags; }
static inline uint64_t heap_direct_map_base(void) { return host_direct_map_offset; }
#else
#include "cpu.h"
/* One CPU for now: masking interrupts is the lock. A real spinlock comes with SMP. */
static inline uint64_t heap_lock(void) { return irq_save(); }
static inline void heap_unlock(uint64_t flags) { irq_restore(flags); }
static inline uint64_t heap_direct_map_base(void) { return KERNEL_DIRECT_MAP; }
#endif

#define SLAB_MAGIC 0x534c4142u  /* "SLAB" */
#define LARGE_MAGIC 0x4c524745u /* "LRGE" */
#define HEAP_CLASSES 8          /* 16 << 0 .. 16 << 7 = 2048 */
#define SMALL_MAX 2048u
#define MIN_SHIFT 4
#define SLAB_HEADER_SIZE 64u
#define LARGE_HEADER_SIZE 16u

/* The first 64 bytes of every slab frame. */
struct slab {
    uint32_t magic;
    uint16_t capacity;     /* objects in this slab */
    uint16_t free_count;
    uint8_t class_index;   /* object size = 16 << class_index */
    uint8_t on_list;       /* on the class's list of slabs with free objects */
    uint8_t pad[6];
    struct slab *next, *prev;
    uint64_t free_map[4];  /* bit i set: object i is free (at most 252 objects) */
};
_Static_assert(sizeof(struct slab) == SLAB_HEADER_SIZE, "slab header is 64 bytes");

/* The first 16 bytes of a large allocation. */
struct large_header {
    uint32_t magic;
    uint32_t order;
    uint64_t size;
};
_Static_assert(sizeof(struct large_header) == LARGE_HEADER_SIZE, "large header is 16 bytes");

static struct {
    struct slab *partial[HEAP_CLASSES]; /* slabs with at least one free object */
    struct heap_stats stats;
} heap;

static inline unsigned ceil_log2(uint64_t x) { return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1); }

static void slab_list_add(struct slab *s) {
    s->prev = NULL;
    s->next = heap.partial[s->class_index];
    if (s->next) s->next->prev = s;
    heap.partial[s->class_index] = s;
    s->on_list = 1;
}

static void slab_list_remove(struct slab *s) {
    if (s->prev) s->prev->next = s->next;
    else heap.partial[s->class_index] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->on_list = 0;
}

/* Takes a frame from the pmm and lays out an empty slab of one class in it. */
static struct slab *slab_create(unsigned class_index) {
    phys_addr_t pa = pmm_alloc();
    if (!pa) return NULL;
    struct slab *s = (struct slab *)phys_to_virt(pa);
    unsigned capacity = (unsigned)((PAGE_SIZE - SLAB_HEADER_SIZE) >> (MIN_SHIFT + class_index));
    memset(s, 0, sizeof *s);
    s->magic = SLAB_MAGIC;
    s->capacity = (uint16_t)capacity;
    s->free_count = (uint16_t)capacity;
    s->class_index = (uint8_t)class_index;
    for (unsigned w = 0; w < 4 && capacity; w++) {
        unsigned bits = MIN(capacity, 64u);
        s->free_map[w] = bits == 64 ? ~0ull : (1ull << bits) - 1;
        capacity -= bits;
    }
    slab_list_add(s);
    heap.stats.pages_held++;
    return s;
}

static void *slab_alloc(unsigned class_index) {
    struct slab *s = heap.partial[class_index];
    if (!s && !(s = slab_create(class_index))) return NULL;
    unsigned w = 0;
    while (!s->free_map[w]) w++; /* free_count > 0 guarantees a set bit */
    unsigned bit = (unsigned)__builtin_ctzll(s->free_map[w]);
    s->free_map[w] &= ~(1ull << bit);
    if (--s->free_count == 0) slab_list_remove(s);
    unsigned index = w * 64 + bit;
    return (char *)s + SLAB_HEADER_SIZE + ((size_t)index << (MIN_SHIFT + class_index));
}

static void *large_alloc(size_t size) {
    uint64_t pages = (size + LARGE_HEADER_SIZE + PAGE_SIZE - 1) / PAGE_SIZE;
    unsigned order = ceil_log2(pages);
    if (order > PMM_MAX_ORDER) return NULL;
    phys_addr_t pa = pmm_alloc_order(order);
    if (!pa) return NULL;
    struct large_header *h = (struct large_header *)phys_to_virt(pa);
    h->magic = LARGE_MAGIC;
    h->order = order;
    h->size = size;
    heap.stats.pages_held += 1ull << order;
    return (char *)h + LARGE_HEADER_SIZE;
}

/* Returns 16-byte aligned memory of at least size bytes, or NULL (size 0, size above
 * KMALLOC_MAX_SIZE, or no memory). */
void *kmalloc(size_t size) {
    if (size == 0 || size > KMALLOC_MAX_SIZE) return NULL;
    uint64_t flags = heap_lock();
    void *p;
    uint64_t charged;
    if (size <= SMALL_MAX) {
        unsigned class_index = ceil_log2(size) > MIN_SHIFT ? ceil_log2(size) - MIN_SHIFT : 0;
        p = slab_alloc(class_index);
        charged = 16ull << class_index;
    } else {
        p = large_alloc(size);
        charged = size;
    }
    if (p) {
        heap.stats.bytes_in_use += charged;
        heap.stats.allocations++;
        heap.stats.alloc_calls++;
    }
    heap_unlock(flags);
    return p;
}

/* kmalloc, then zero the size bytes. */
void *kzalloc(size_t size) {
    void *p = kmalloc(size);
    if (p) memset(p, 0, size);
    return p;
}

static void slab_free(struct slab *s, uintptr_t addr) {
    uintptr_t first = (uintptr_t)s + SLAB_HEADER_SIZE;
    unsigned shift = MIN_SHIFT + s->class_index;
    if (s->class_index >= HEAP_CLASSES || addr < first) {
        pr_err("kfree: %p points into a slab header, ignored\n", (void *)addr);
        return;
    }
    uintptr_t off = addr - first;
    size_t index = off >> shift;
    if ((off & ((1ull << shift) - 1)) || index >= s->capacity) {
        pr_err("kfree: %p is not an object of its %u-byte slab, ignored\n", (void *)addr,
               16u << s->class_index);
        return;
    }
    uint64_t bit = 1ull << (index % 64);
    if (s->free_map[index / 64] & bit) {
        pr_err("kfree: double free of %p (%u-byte object), ignored\n", (void *)addr,
               16u << s->class_index);
        return;
    }
    s->free_map[index / 64] |= bit;
    s->free_count++;
    heap.stats.bytes_in_use -= 16ull << s->class_index;
    heap.stats.allocations--;
    heap.stats.free_calls++;
    if (s->free_count == s->capacity) {
        /* Empty: give the frame back. */
        if (s->on_list) slab_list_remove(s);
        s->magic = 0;
        pmm_free((uint64_t)(uintptr_t)s - heap_direct_map_base());
        heap.stats.pages_held--;
    } else if (!s->on_list) {
        slab_list_add(s);
    }
}

/* Frees memory from kmalloc/kzalloc. NULL is ignored; a pointer the heap did not hand out
 * (or already took back) is reported and ignored. */
void kfree(void *p) {
    if (!p) return;
    uintptr_t addr = (uintptr_t)p;
    uint64_t base = heap_direct_map_base();
    if ((addr & 15) || addr < base) {
        pr_err("kfree: %p is not a heap pointer, ignored\n", p);
        return;
    }
    uint64_t flags = heap_lock();
    phys_addr_t page_pa = ALIGN_DOWN((uint64_t)addr - base, PAGE_SIZE);
    int order = pmm_allocated_order(page_pa);
    void *page = phys_to_virt(page_pa);
    const struct large_header *h = (const struct large_header *)page;
    if (order < 0) {
        pr_err("kfree: %p is not in allocated memory (double free?), ignored\n", p);
    } else if ((addr & (PAGE_SIZE - 1)) == LARGE_HEADER_SIZE && h->magic == LARGE_MAGIC &&
               h->order == (uint32_t)order) {
        heap.stats.bytes_in_use -= h->size;
        heap.stats.allocations--;
        heap.stats.free_calls++;
        heap.stats.pages_held -= 1ull << order;
        ((struct large_header *)page)->magic = 0;
        pmm_free_order(page_pa, (unsigned)order);
    } else if (order == 0 && ((struct slab *)page)->magic == SLAB_MAGIC) {
        slab_free((struct slab *)page, addr);
    } else {
        pr_err("kfree: %p was not allocated by kmalloc, ignored\n", p);
    }
    heap_unlock(flags);
}

/* Copies the counters. */
void heap_get_stats(struct heap_stats *out) {
    uint64_t flags = heap_lock();
    *out = heap.stats;
    heap_unlock(flags);
}
