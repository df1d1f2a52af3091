/* virtqueue.c: split virtqueues (VIRTIO 1.2 §2.7).
 *
 * A queue of N entries (a power of two) is three areas in physically contiguous DMA memory:
 *   descriptor table  N x 16 bytes, 16-byte aligned (§2.7.5)
 *   available ring    flags, idx, ring[N] (driver -> device), 2-byte aligned (§2.7.6)
 *   used ring         flags, idx, ring[N] of {id, len} (device -> driver), 4-byte aligned
 *                     (§2.7.8)
 * We do not negotiate VIRTIO_F_EVENT_IDX, so the avail used_event / used avail_event words
 * are unused (space is still reserved for them), and no indirect descriptors.
 *
 * Free descriptors are a linked list through a private `next` array (§2.7.13.1 leaves the
 * free-list to the driver). Everything needed to free a chain (its length, tail and cookie)
 * is kept privately by head index, so a device that scribbles over the descriptor table or
 * returns nonsense in the used ring cannot make us follow its pointers: used entries are
 * checked against that private state, and bad ones are reported, not trusted.
 *
 * The ring logic at the top is pure: with -DHOST_TEST (tests/host/test_virtqueue.c) it is
 * compiled on the host with memory from the test; the spinlock becomes a no-op there. The
 * kernel-only allocation (virtq_create/virtq_destroy) is at the bottom. */
#include "virtio.h"
#include "kerrno.h"
#include "kstring.h"
#include "printk.h"

#ifdef HOST_TEST
static inline uint64_t vq_lock(struct virtqueue *vq) { (void)vq; return 0; }
static inline void vq_unlock(struct virtqueue *vq, uint64_t flags) { (void)vq; (void)flags; }
#else
#include "mm.h"
static inline uint64_t vq_lock(struct virtqueue *vq) { return spin_lock_irqsave(&vq->lock); }
static inline void vq_unlock(struct virtqueue *vq, uint64_t flags) { spin_unlock_irqrestore(&vq->lock, flags); }
#endif

/* Orders our ring writes before the index write the device polls (§2.7.13.3.1), and the
 * index read before the entries it covers (§2.7.14). x86 keeps stores in order and loads in
 * order, so these cost nothing but stop the compiler; the full fence is needed between
 * publishing avail->idx and reading the device's used->flags (store then load, §2.7.10). */
#define vq_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define vq_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define vq_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#define VQ_LOG_LIMIT 8 /* bad used entries reported per queue before going quiet */

static bool valid_size(uint16_t size) { return size != 0 && (size & (size - 1)) == 0; }

static size_t avail_offset(uint16_t size) { return (size_t)size * sizeof(struct virtq_desc); }
static size_t used_offset(uint16_t size) {
    /* flags, idx, ring[size], used_event */
    return ALIGN_UP(avail_offset(size) + 4 + 2 * (size_t)size + 2, (size_t)4);
}

size_t virtq_ring_bytes(uint16_t size) {
    /* flags, idx, ring[size] of 8 bytes, avail_event */
    return used_offset(size) + 4 + 8 * (size_t)size + 2;
}

size_t virtq_state_bytes(uint16_t size) {
    return (size_t)size * sizeof(struct virtq_chain) + ALIGN_UP((size_t)size * sizeof(uint16_t), (size_t)8);
}

/* Rebuilds the private state and zeroes the rings (caller holds the lock or owns vq). */
static void reset_locked(struct virtqueue *vq) {
    memset((void *)vq->desc, 0, virtq_ring_bytes(vq->size));
    for (uint16_t i = 0; i < vq->size; i++) {
        vq->next[i] = (uint16_t)(i + 1); /* the last link is never followed: num_free ends */
        vq->chains[i] = (struct virtq_chain){0};
    }
    vq->free_head = 0;
    vq->num_free = vq->size;
    vq->avail_idx = 0;
    vq->last_used = 0;
    vq->inflight = 0;
    vq->broken = false;
}

int virtq_init(struct virtqueue *vq, uint16_t index, uint16_t size, void *ring_mem,
               phys_addr_t ring_phys, void *state_mem) {
    if (!vq || !ring_mem || !state_mem || !valid_size(size) || size > VIRTQ_MAX_SIZE)
        return -KEINVAL;
    uint8_t *ring = ring_mem;
    uint8_t *state = state_mem;
    vq->index = index;
    vq->size = size;
    vq->desc = (volatile struct virtq_desc *)ring;
    vq->avail = (volatile struct virtq_avail *)(ring + avail_offset(size));
    vq->used = (volatile struct virtq_used *)(ring + used_offset(size));
    vq->desc_phys = ring_phys;
    vq->avail_phys = ring_phys + avail_offset(size);
    vq->used_phys = ring_phys + used_offset(size);
    vq->chains = (struct virtq_chain *)state;
    vq->next = (uint16_t *)(state + (size_t)size * sizeof(struct virtq_chain));
    vq->added = vq->kicks = vq->completed = vq->bad_entries = 0;
    reset_locked(vq);
    return 0;
}

void virtq_reset(struct virtqueue *vq) {
    uint64_t fl = vq_lock(vq);
    reset_locked(vq);
    vq_unlock(vq, fl);
}

int virtq_add(struct virtqueue *vq, const struct virtq_seg *out, unsigned n_out,
              const struct virtq_seg *in, unsigned n_in, void *cookie) {
    unsigned total = n_out + n_in;
    if (!cookie || total == 0 || n_out > vq->size || n_in > vq->size || total > vq->size ||
        (n_out && !out) || (n_in && !in))
        return -KEINVAL;
    uint32_t in_bytes = 0;
    for (unsigned i = 0; i < total; i++) {
        const struct virtq_seg *s = i < n_out ? &out[i] : &in[i - n_out];
        if (s->len == 0)
            return -KEINVAL;
        if (i >= n_out) {
            if (in_bytes + s->len < in_bytes)
                return -KEINVAL; /* more than 4 GiB writable: the used length could not say */
            in_bytes += s->len;
        }
    }

    uint64_t fl = vq_lock(vq);
    if (vq->broken) {
        vq_unlock(vq, fl);
        return -KEIO;
    }
    if (vq->num_free < total) {
        vq_unlock(vq, fl);
        return -KENOSPC;
    }
    uint16_t head = vq->free_head, d = head, prev = head;
    for (unsigned i = 0; i < total; i++) {
        const struct virtq_seg *s = i < n_out ? &out[i] : &in[i - n_out];
        uint16_t flags = i >= n_out ? VIRTQ_DESC_F_WRITE : 0;
        if (i + 1 < total)
            flags |= VIRTQ_DESC_F_NEXT;
        vq->desc[d].addr = s->addr;
        vq->desc[d].len = s->len;
        vq->desc[d].flags = flags;
        vq->desc[d].next = (i + 1 < total) ? vq->next[d] : 0;
        prev = d;
        d = vq->next[d];
    }
    vq->free_head = d; /* the descriptor after the chain's tail */
    vq->num_free = (uint16_t)(vq->num_free - total);
    vq->chains[head] = (struct virtq_chain){cookie, in_bytes, (uint16_t)total, prev};
    vq->inflight++;
    vq->added++;

    vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
    vq_wmb(); /* descriptors and the ring slot before the index */
    vq->avail_idx++;
    vq->avail->idx = vq->avail_idx;
    vq_unlock(vq, fl);
    return 0;
}

bool virtq_kick(struct virtqueue *vq) {
    vq_mb(); /* the new avail->idx is visible before we read the device's flags */
    if (vq->used->flags & VIRTQ_USED_F_NO_NOTIFY)
        return false;
    vq->kicks++;
    if (vq->notify)
        vq->notify(vq);
    return true;
}

/* Puts a chain's descriptors back on the free list (lock held). */
static void free_chain(struct virtqueue *vq, uint16_t head) {
    struct virtq_chain *c = &vq->chains[head];
    vq->next[c->tail] = vq->free_head; /* the chain's own links are still in next[] */
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + c->ndesc);
    vq->inflight--;
    *c = (struct virtq_chain){0};
}

static void report_bad(struct virtqueue *vq, const char *what, uint32_t id, uint32_t len) {
    vq->bad_entries++;
    if (vq->bad_entries <= VQ_LOG_LIMIT)
        pr_err("virtqueue %u: device returned %s (used id %u, len %u); entry ignored\n",
               (unsigned)vq->index, what, (unsigned)id, (unsigned)len);
}

int virtq_get_used(struct virtqueue *vq, struct virtq_completion *out) {
    uint64_t fl = vq_lock(vq);
    if (vq->broken) {
        vq_unlock(vq, fl);
        return 0;
    }
    uint16_t used_idx = vq->used->idx;
    uint16_t pending = (uint16_t)(used_idx - vq->last_used);
    if (pending == 0) {
        vq_unlock(vq, fl);
        return 0;
    }
    if (pending > vq->size) {
        /* More new entries than the ring has slots: the index itself is garbage, so the
         * entries cannot be told apart from old ones. (Fewer, but more than the chains we
         * posted, is caught entry by entry below.) */
        vq->broken = true;
        vq->bad_entries++;
        pr_err("virtqueue %u: used idx %u is %u entries ahead of a %u-entry ring; queue "
               "marked broken until reset\n", (unsigned)vq->index, (unsigned)used_idx,
               (unsigned)pending, (unsigned)vq->size);
        vq_unlock(vq, fl);
        return -KEIO;
    }
    vq_rmb(); /* the index before the entries it covers */
    uint16_t slot = vq->last_used & (vq->size - 1);
    uint32_t id = vq->used->ring[slot].id; /* each read once: the device may change them */
    uint32_t len = vq->used->ring[slot].len;
    vq->last_used++;
    if (id >= vq->size || !vq->chains[id].cookie) {
        report_bad(vq, id >= vq->size ? "an id out of range" : "an id that heads no posted chain",
                   id, len);
        vq_unlock(vq, fl);
        return -KEIO;
    }
    struct virtq_chain *c = &vq->chains[id];
    out->cookie = c->cookie;
    out->status = 0;
    out->len = len;
    if (len > c->in_bytes) {
        report_bad(vq, "a length larger than the writable buffers", id, len);
        out->len = c->in_bytes;
        out->status = -KEIO;
    }
    free_chain(vq, (uint16_t)id);
    vq->completed++;
    vq_unlock(vq, fl);
    return 1;
}

bool virtq_has_used(struct virtqueue *vq) {
    return !vq->broken && vq->used->idx != vq->last_used;
}

int virtq_drain(struct virtqueue *vq, void (*fn)(void *cookie, void *arg), void *arg) {
    int n = 0;
    for (;;) {
        /* One at a time with the lock dropped around fn, which may complete requests. */
        uint64_t fl = vq_lock(vq);
        void *cookie = NULL;
        for (uint32_t i = 0; i < vq->size && !cookie; i++) {
            if (vq->chains[i].cookie) {
                cookie = vq->chains[i].cookie;
                free_chain(vq, (uint16_t)i);
            }
        }
        vq_unlock(vq, fl);
        if (!cookie)
            return n;
        n++;
        if (fn)
            fn(cookie, arg);
    }
}

unsigned virtq_num_free(struct virtqueue *vq) { return vq->num_free; }
unsigned virtq_inflight(struct virtqueue *vq) { return vq->inflight; }

#ifndef HOST_TEST
/* ---- kernel allocation ---- */

struct virtqueue *virtq_create(uint16_t index, uint16_t size) {
    if (!valid_size(size) || size > VIRTQ_MAX_SIZE)
        return NULL;
    struct virtqueue *vq = kzalloc(sizeof(*vq));
    void *state = kzalloc(virtq_state_bytes(size));
    size_t pages = ALIGN_UP(virtq_ring_bytes(size), PAGE_SIZE) / PAGE_SIZE;
    phys_addr_t pa = pmm_alloc_contig(pages, PAGE_SIZE);
    if (!vq || !state || !pa) {
        kfree(vq);
        kfree(state);
        if (pa)
            pmm_free_contig(pa, pages);
        return NULL;
    }
    spin_init(&vq->lock, "virtqueue");
    vq->ring_phys = pa;
    vq->ring_pages = pages;
    vq->vector = -1;
    vq->msix_entry = -1;
    virtq_init(vq, index, size, phys_to_virt(pa), pa, state); /* zeroes the rings */
    return vq;
}

void virtq_destroy(struct virtqueue *vq) {
    if (!vq)
        return;
    pmm_free_contig(vq->ring_phys, vq->ring_pages);
    kfree(vq->chains); /* the state block starts with the chains array */
    kfree(vq);
}
#endif
