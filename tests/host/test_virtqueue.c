/* test_virtqueue.c: host unit tests for the split-virtqueue ring logic in
 * kernel/drivers/virtio/virtqueue.c (VIRTIO 1.2 §2.7): layout, descriptor allocation and
 * freeing, chains with device-readable and device-writable buffers, the 16-bit ring indices
 * wrapping, notification suppression, draining, and a device that returns hostile used
 * entries (ids out of range or heading no chain, lengths larger than posted, an index that
 * runs ahead, a scribbled descriptor table): each must be reported, never trusted.
 *
 * The test plays the device: it reads the available ring and walks descriptors the way a
 * device does, and writes used entries. "Guest-physical" addresses are the test's own. */
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/drivers/virtio/virtqueue.c"


#define RING_PHYS 0x100000ull

struct fixture {
    struct virtqueue vq;
    void *ring, *state;
    int notifies;
    /* the device side */
    uint16_t dev_last_avail;
};

static struct fixture *fx_of(struct virtqueue *vq) { return container_of(vq, struct fixture, vq); }

static void count_notify(struct virtqueue *vq) { fx_of(vq)->notifies++; }

static struct fixture *make(uint16_t size) {
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->ring = aligned_alloc(16, ALIGN_UP(virtq_ring_bytes(size), (size_t)16));
    f->state = aligned_alloc(8, ALIGN_UP(virtq_state_bytes(size), (size_t)8));
    assert_non_null(f->ring);
    assert_non_null(f->state);
    memset(f->ring, 0xa5, virtq_ring_bytes(size)); /* virtq_init must zero the rings */
    assert_int_equal(virtq_init(&f->vq, 3, size, f->ring, RING_PHYS, f->state), 0);
    f->vq.notify = count_notify;
    return f;
}

static void destroy(struct fixture *f) {
    free(f->ring);
    free(f->state);
    free(f);
}

/* Device: takes the next available chain; returns its head or -1. Walks the descriptors as a
 * device does and checks the chain looks like what the test posted (count, write split). */
static int dev_pop(struct fixture *f, unsigned *ndesc, unsigned *nwrite) {
    struct virtqueue *vq = &f->vq;
    if (vq->avail->idx == f->dev_last_avail)
        return -1;
    uint16_t head = vq->avail->ring[f->dev_last_avail & (vq->size - 1)];
    f->dev_last_avail++;
    unsigned n = 0, w = 0;
    uint16_t d = head;
    bool seen_write = false;
    for (;;) {
        assert_true(d < vq->size);
        assert_true(n < vq->size); /* a loop in the chain would be a driver bug */
        n++;
        if (vq->desc[d].flags & VIRTQ_DESC_F_WRITE) {
            w++;
            seen_write = true;
        } else {
            assert_false(seen_write); /* readable buffers come first (§2.7.4.2) */
        }
        if (!(vq->desc[d].flags & VIRTQ_DESC_F_NEXT))
            break;
        d = vq->desc[d].next;
    }
    if (ndesc) *ndesc = n;
    if (nwrite) *nwrite = w;
    return head;
}

/* Device: puts a used entry. */
static void dev_push(struct fixture *f, uint32_t id, uint32_t len) {
    struct virtqueue *vq = &f->vq;
    uint16_t idx = vq->used->idx;
    vq->used->ring[idx & (vq->size - 1)].id = id;
    vq->used->ring[idx & (vq->size - 1)].len = len;
    vq->used->idx = (uint16_t)(idx + 1);
}

static struct virtq_seg seg(uint64_t addr, uint32_t len) { return (struct virtq_seg){addr, len}; }

static void test_init_rejects_bad_sizes(void **state) {
    (void)state;
    struct virtqueue vq;
    char ring[64] __attribute__((aligned(16))), st[64] __attribute__((aligned(8)));
    assert_int_equal(virtq_init(&vq, 0, 0, ring, 0, st), -KEINVAL);
    assert_int_equal(virtq_init(&vq, 0, 3, ring, 0, st), -KEINVAL);
    assert_int_equal(virtq_init(&vq, 0, 65535, ring, 0, st), -KEINVAL);
    assert_int_equal(virtq_init(&vq, 0, 48, ring, 0, st), -KEINVAL);
    assert_int_equal(virtq_init(&vq, 0, 1, NULL, 0, st), -KEINVAL);
    assert_int_equal(virtq_init(&vq, 0, 1, ring, 0, NULL), -KEINVAL);
    assert_int_equal(virtq_init(&vq, 0, 1, ring, 0, st), 0);
}

static void test_layout_follows_spec_alignment(void **state) {
    (void)state;
    uint16_t sizes[] = {1, 2, 8, 256, 1024, 32768};
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        uint16_t n = sizes[i];
        struct fixture *f = make(n);
        uint8_t *base = f->ring;
        assert_ptr_equal((void *)f->vq.desc, base);
        assert_int_equal((uint8_t *)f->vq.avail - base, 16 * (size_t)n);
        size_t used_off = (size_t)((uint8_t *)f->vq.used - base);
        assert_true(used_off % 4 == 0);
        assert_true(used_off >= 16 * (size_t)n + 6 + 2 * (size_t)n); /* avail incl. used_event */
        assert_true(virtq_ring_bytes(n) >= used_off + 6 + 8 * (size_t)n); /* incl. avail_event */
        assert_int_equal(f->vq.desc_phys, RING_PHYS);
        assert_int_equal(f->vq.avail_phys, RING_PHYS + 16 * (uint64_t)n);
        assert_int_equal(f->vq.used_phys, RING_PHYS + used_off);
        /* rings zeroed, all descriptors free */
        for (size_t b = 0; b < virtq_ring_bytes(n); b++)
            assert_int_equal(base[b], 0);
        assert_int_equal(virtq_num_free(&f->vq), n);
        assert_int_equal(virtq_inflight(&f->vq), 0);
        destroy(f);
    }
}

static void test_chain_descriptors_and_flags(void **state) {
    (void)state;
    struct fixture *f = make(8);
    struct virtq_seg out[2] = {seg(0x1000, 16), seg(0x2000, 512)};
    struct virtq_seg in[1] = {seg(0x3000, 1)};
    int cookie;
    assert_int_equal(virtq_add(&f->vq, out, 2, in, 1, &cookie), 0);
    assert_int_equal(f->vq.avail->idx, 1);
    uint16_t head = f->vq.avail->ring[0];
    uint16_t d0 = head, d1 = f->vq.desc[d0].next, d2 = f->vq.desc[d1].next;
    assert_int_equal(f->vq.desc[d0].addr, 0x1000);
    assert_int_equal(f->vq.desc[d0].len, 16);
    assert_int_equal(f->vq.desc[d0].flags, VIRTQ_DESC_F_NEXT);
    assert_int_equal(f->vq.desc[d1].addr, 0x2000);
    assert_int_equal(f->vq.desc[d1].flags, VIRTQ_DESC_F_NEXT);
    assert_int_equal(f->vq.desc[d2].addr, 0x3000);
    assert_int_equal(f->vq.desc[d2].len, 1);
    assert_int_equal(f->vq.desc[d2].flags, VIRTQ_DESC_F_WRITE); /* last: no NEXT */
    assert_true(d0 != d1 && d1 != d2 && d0 != d2);
    assert_int_equal(virtq_num_free(&f->vq), 5);
    /* in-only chain: every descriptor writable */
    struct virtq_seg in2[2] = {seg(0x4000, 100), seg(0x5000, 28)};
    assert_int_equal(virtq_add(&f->vq, NULL, 0, in2, 2, &cookie), 0);
    uint16_t h2 = f->vq.avail->ring[1];
    assert_int_equal(f->vq.desc[h2].flags, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE);
    assert_int_equal(f->vq.desc[f->vq.desc[h2].next].flags, VIRTQ_DESC_F_WRITE);
    destroy(f);
}

static void test_add_rejects_invalid_chains(void **state) {
    (void)state;
    struct fixture *f = make(4);
    int c;
    struct virtq_seg ok[5] = {seg(0x1000, 8), seg(0x2000, 8), seg(0x3000, 8), seg(0x4000, 8), seg(0x5000, 8)};
    struct virtq_seg zero = seg(0x1000, 0);
    struct virtq_seg huge[2] = {seg(0x1000, 0xffffffffu), seg(0x2000, 2)};
    assert_int_equal(virtq_add(&f->vq, ok, 1, NULL, 0, NULL), -KEINVAL);   /* no cookie */
    assert_int_equal(virtq_add(&f->vq, NULL, 0, NULL, 0, &c), -KEINVAL);   /* empty */
    assert_int_equal(virtq_add(&f->vq, ok, 5, NULL, 0, &c), -KEINVAL);     /* longer than the queue */
    assert_int_equal(virtq_add(&f->vq, ok, 3, ok, 2, &c), -KEINVAL);
    assert_int_equal(virtq_add(&f->vq, &zero, 1, NULL, 0, &c), -KEINVAL); /* zero length */
    assert_int_equal(virtq_add(&f->vq, NULL, 0, huge, 2, &c), -KEINVAL);  /* writable > 4 GiB */
    assert_int_equal(virtq_add(&f->vq, NULL, 1, NULL, 0, &c), -KEINVAL);  /* NULL array */
    /* nothing was consumed by the refusals */
    assert_int_equal(virtq_num_free(&f->vq), 4);
    assert_int_equal(f->vq.avail->idx, 0);
    destroy(f);
}

static void test_full_queue_gives_enospc_then_recovers(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int cookies[8];
    struct virtq_seg s[3] = {seg(0x1000, 16), seg(0x2000, 512), seg(0x3000, 1)};
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &cookies[0]), 0);
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &cookies[1]), 0);
    assert_int_equal(virtq_num_free(&f->vq), 2);
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &cookies[2]), -KENOSPC);
    assert_int_equal(virtq_num_free(&f->vq), 2); /* a refused add takes nothing */
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 1, &cookies[3]), 0); /* 2 fit */
    assert_int_equal(virtq_num_free(&f->vq), 0);
    assert_int_equal(virtq_add(&f->vq, s, 1, NULL, 0, &cookies[4]), -KENOSPC);
    /* the device completes the first chain: three descriptors come back */
    int h = dev_pop(f, NULL, NULL);
    dev_push(f, (uint32_t)h, 513);
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &cookies[0]);
    assert_int_equal(c.len, 513);
    assert_int_equal(c.status, 0);
    assert_int_equal(virtq_num_free(&f->vq), 3);
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &cookies[2]), 0);
    assert_int_equal(virtq_get_used(&f->vq, &c), 0);
    destroy(f);
}

static void test_out_of_order_completion_keeps_free_list_intact(void **state) {
    (void)state;
    struct fixture *f = make(16);
    int cookies[5];
    struct virtq_seg s[4] = {seg(0x1000, 16), seg(0x2000, 64), seg(0x3000, 64), seg(0x4000, 1)};
    unsigned lens[5] = {1, 2, 3, 4, 3};
    int heads[5];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, lens[i] - 1 ? lens[i] - 1 : 0, &cookies[i]), 0);
        unsigned n, w;
        heads[i] = dev_pop(f, &n, &w);
        assert_int_equal(n, lens[i]);
        assert_int_equal(w, lens[i] - 1);
    }
    assert_int_equal(virtq_num_free(&f->vq), 16 - 13);
    int order[5] = {3, 0, 4, 2, 1};
    for (int k = 0; k < 5; k++)
        dev_push(f, (uint32_t)heads[order[k]], 1);
    for (int k = 0; k < 5; k++) {
        struct virtq_completion c;
        assert_int_equal(virtq_get_used(&f->vq, &c), 1);
        assert_ptr_equal(c.cookie, &cookies[order[k]]);
    }
    assert_int_equal(virtq_num_free(&f->vq), 16);
    assert_int_equal(virtq_inflight(&f->vq), 0);
    /* every descriptor is reachable again: one chain of 16 fits and uses each exactly once */
    struct virtq_seg all[16];
    for (int i = 0; i < 16; i++) all[i] = seg(0x10000 + 0x1000 * (uint64_t)i, 8);
    int big;
    assert_int_equal(virtq_add(&f->vq, all, 16, NULL, 0, &big), 0);
    bool used[16] = {0};
    uint16_t d = f->vq.avail->ring[5 & 15];
    for (int i = 0; i < 16; i++) {
        assert_true(d < 16);
        assert_false(used[d]);
        used[d] = true;
        assert_int_equal(f->vq.desc[d].addr, 0x10000 + 0x1000 * (uint64_t)i);
        d = f->vq.desc[d].next;
    }
    destroy(f);
}

static void test_indices_wrap_around_16_bits(void **state) {
    (void)state;
    struct fixture *f = make(4);
    struct virtq_seg s[3] = {seg(0x1000, 16), seg(0x2000, 512), seg(0x3000, 1)};
    const unsigned rounds = 70000 * 2; /* well past 65535 for both indices */
    unsigned posted = 0;
    int cookie_a, cookie_b;
    for (unsigned r = 0; r < rounds; r += 2) {
        /* two chains in flight (1 + 2 descriptors), completed in alternating order */
        assert_int_equal(virtq_add(&f->vq, s, 1, NULL, 0, &cookie_a), 0);
        assert_int_equal(virtq_add(&f->vq, s + 1, 0, s + 1, 2, &cookie_b), 0);
        posted += 2;
        int ha = dev_pop(f, NULL, NULL), hb = dev_pop(f, NULL, NULL);
        assert_true(ha >= 0 && hb >= 0);
        bool swap = (r / 2) & 1;
        dev_push(f, (uint32_t)(swap ? hb : ha), swap ? 513 : 0);
        dev_push(f, (uint32_t)(swap ? ha : hb), swap ? 0 : 513);
        struct virtq_completion c1, c2;
        assert_int_equal(virtq_get_used(&f->vq, &c1), 1);
        assert_int_equal(virtq_get_used(&f->vq, &c2), 1);
        assert_ptr_equal(c1.cookie, swap ? (void *)&cookie_b : (void *)&cookie_a);
        assert_ptr_equal(c2.cookie, swap ? (void *)&cookie_a : (void *)&cookie_b);
        assert_int_equal(c1.status | c2.status, 0);
        assert_int_equal(virtq_get_used(&f->vq, &c1), 0);
        assert_int_equal(virtq_num_free(&f->vq), 4);
    }
    assert_int_equal(f->vq.avail->idx, (uint16_t)posted);
    assert_int_equal(f->vq.last_used, (uint16_t)posted);
    assert_int_equal(f->vq.completed, posted);
    assert_int_equal(f->vq.bad_entries, 0);
    destroy(f);
}

static void test_used_id_out_of_range_is_reported_and_skipped(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int cookie;
    struct virtq_seg s = seg(0x1000, 16);
    assert_int_equal(virtq_add(&f->vq, &s, 1, NULL, 0, &cookie), 0);
    int h = dev_pop(f, NULL, NULL);
    dev_push(f, 8, 0);           /* == size */
    dev_push(f, 0xffffffffu, 0); /* far out */
    dev_push(f, (uint32_t)h, 0); /* the real one */
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), -KEIO);
    assert_int_equal(virtq_get_used(&f->vq, &c), -KEIO);
    assert_int_equal(f->vq.bad_entries, 2);
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &cookie);
    assert_int_equal(virtq_num_free(&f->vq), 8);
    destroy(f);
}

/* More entries than chains posted (but fewer than the ring size): the extra ones are checked
 * one by one, the real completion still comes through. */
static void test_more_entries_than_chains_are_checked_one_by_one(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int cookie;
    struct virtq_seg s = seg(0x1000, 16);
    assert_int_equal(virtq_add(&f->vq, &s, 1, NULL, 0, &cookie), 0);
    int h = dev_pop(f, NULL, NULL);
    f->vq.used->ring[0].id = (uint32_t)h;
    f->vq.used->idx = 5; /* entries 1-4 repeat id 0 (zeroed memory) */
    struct virtq_completion c;
    int ok = 0, bad = 0, r;
    while ((r = virtq_get_used(&f->vq, &c)) != 0) {
        if (r == 1) {
            ok++;
            assert_ptr_equal(c.cookie, &cookie);
        } else {
            assert_int_equal(r, -KEIO);
            bad++;
        }
    }
    assert_int_equal(ok, 1);
    assert_int_equal(bad, 4);
    assert_false(f->vq.broken);
    assert_int_equal(virtq_num_free(&f->vq), 8);
    destroy(f);
}

static void test_used_id_not_a_posted_head_is_reported(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int ca, cb;
    struct virtq_seg s[3] = {seg(0x1000, 16), seg(0x2000, 64), seg(0x3000, 1)};
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &ca), 0);
    assert_int_equal(virtq_add(&f->vq, s, 1, NULL, 0, &cb), 0);
    int ha = dev_pop(f, NULL, NULL), hb = dev_pop(f, NULL, NULL);
    uint16_t middle = f->vq.desc[ha].next;
    dev_push(f, middle, 1);        /* a descriptor in the middle of a chain */
    dev_push(f, 7, 1);             /* a free descriptor */
    dev_push(f, (uint32_t)ha, 65); /* legit */
    dev_push(f, (uint32_t)ha, 65); /* the same chain again: already returned */
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), -KEIO);
    assert_int_equal(virtq_get_used(&f->vq, &c), -KEIO);
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &ca);
    assert_int_equal(virtq_get_used(&f->vq, &c), -KEIO); /* double completion */
    assert_int_equal(f->vq.bad_entries, 3);
    /* the other chain is unaffected */
    assert_int_equal(virtq_inflight(&f->vq), 1);
    dev_push(f, (uint32_t)hb, 0);
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &cb);
    assert_int_equal(virtq_num_free(&f->vq), 8);
    destroy(f);
}

static void test_used_length_beyond_posted_is_reported_and_clamped(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int cookie;
    struct virtq_seg s[3] = {seg(0x1000, 16), seg(0x2000, 512), seg(0x3000, 1)};
    /* out-only chain: the device may write nothing */
    assert_int_equal(virtq_add(&f->vq, s, 1, NULL, 0, &cookie), 0);
    dev_push(f, (uint32_t)dev_pop(f, NULL, NULL), 1);
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &cookie);
    assert_int_equal(c.status, -KEIO);
    assert_int_equal(c.len, 0);
    /* 513 writable bytes: 513 is fine, 514 is not */
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &cookie), 0);
    dev_push(f, (uint32_t)dev_pop(f, NULL, NULL), 513);
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.len, 513);
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 2, &cookie), 0);
    dev_push(f, (uint32_t)dev_pop(f, NULL, NULL), 0xffffffffu);
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_int_equal(c.status, -KEIO);
    assert_int_equal(c.len, 513);
    assert_int_equal(f->vq.bad_entries, 2);
    assert_int_equal(virtq_num_free(&f->vq), 8); /* the chains were still freed */
    destroy(f);
}

static void test_used_idx_running_ahead_breaks_queue_until_reset(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int cookie;
    struct virtq_seg s = seg(0x1000, 16);
    assert_int_equal(virtq_add(&f->vq, &s, 1, NULL, 0, &cookie), 0);
    f->vq.used->idx = 9; /* nine new entries in an 8-entry ring */
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), -KEIO);
    assert_true(f->vq.broken);
    assert_int_equal(virtq_get_used(&f->vq, &c), 0); /* reported once, then quiet */
    assert_false(virtq_has_used(&f->vq));
    assert_int_equal(virtq_add(&f->vq, &s, 1, NULL, 0, &cookie), -KEIO);
    /* after a reset the queue works again and the posted chain is gone */
    int drained = virtq_drain(&f->vq, NULL, NULL);
    assert_int_equal(drained, 1);
    virtq_reset(&f->vq);
    f->dev_last_avail = 0;
    assert_false(f->vq.broken);
    assert_int_equal(f->vq.used->idx, 0);
    assert_int_equal(virtq_add(&f->vq, &s, 1, NULL, 0, &cookie), 0);
    dev_push(f, (uint32_t)dev_pop(f, NULL, NULL), 0);
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &cookie);
    destroy(f);
}

static void test_scribbled_descriptor_table_does_not_corrupt_free_list(void **state) {
    (void)state;
    struct fixture *f = make(8);
    int ca, cb;
    struct virtq_seg s[4] = {seg(0x1000, 16), seg(0x2000, 64), seg(0x3000, 64), seg(0x4000, 1)};
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 3, &ca), 0);
    assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 1, &cb), 0);
    int ha = dev_pop(f, NULL, NULL), hb = dev_pop(f, NULL, NULL);
    /* a hostile device rewrites every next link to point at chain b's head, and the flags */
    for (int i = 0; i < 8; i++) {
        f->vq.desc[i].next = (uint16_t)hb;
        f->vq.desc[i].flags = 0xffff;
    }
    dev_push(f, (uint32_t)ha, 0);
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &ca);
    assert_int_equal(virtq_num_free(&f->vq), 6);
    /* the six free descriptors are exactly those not in chain b, each handed out once */
    struct virtq_seg six[6];
    for (int i = 0; i < 6; i++) six[i] = seg(0x8000 + 0x100 * (uint64_t)i, 4);
    int cc;
    assert_int_equal(virtq_add(&f->vq, six, 6, NULL, 0, &cc), 0);
    assert_int_equal(virtq_num_free(&f->vq), 0);
    uint16_t d = f->vq.avail->ring[2];
    bool used[8] = {0};
    for (int i = 0; i < 6; i++) {
        assert_true(d < 8);
        assert_false(used[d]);
        used[d] = true;
        assert_true(d != hb && d != f->vq.chains[hb].tail);
        d = f->vq.desc[d].next;
    }
    destroy(f);
}

static void test_kick_respects_no_notify(void **state) {
    (void)state;
    struct fixture *f = make(4);
    int cookie;
    struct virtq_seg s = seg(0x1000, 16);
    assert_int_equal(virtq_add(&f->vq, &s, 1, NULL, 0, &cookie), 0);
    assert_true(virtq_kick(&f->vq));
    assert_int_equal(f->notifies, 1);
    f->vq.used->flags = VIRTQ_USED_F_NO_NOTIFY;
    assert_false(virtq_kick(&f->vq));
    assert_int_equal(f->notifies, 1);
    f->vq.used->flags = 0;
    assert_true(virtq_kick(&f->vq));
    assert_int_equal(f->notifies, 2);
    destroy(f);
}

static int drained_sum;
static void sum_cookie(void *cookie, void *arg) {
    assert_ptr_equal(arg, &drained_sum);
    drained_sum += *(int *)cookie;
}

static void test_drain_returns_every_posted_cookie_once(void **state) {
    (void)state;
    struct fixture *f = make(16);
    int values[5] = {1, 10, 100, 1000, 10000};
    struct virtq_seg s[2] = {seg(0x1000, 16), seg(0x2000, 1)};
    for (int i = 0; i < 5; i++)
        assert_int_equal(virtq_add(&f->vq, s, 1, s + 1, 1, &values[i]), 0);
    /* one completes normally first */
    int h = dev_pop(f, NULL, NULL);
    dev_push(f, (uint32_t)h, 1);
    struct virtq_completion c;
    assert_int_equal(virtq_get_used(&f->vq, &c), 1);
    assert_ptr_equal(c.cookie, &values[0]);
    drained_sum = 0;
    assert_int_equal(virtq_drain(&f->vq, sum_cookie, &drained_sum), 4);
    assert_int_equal(drained_sum, 11110);
    assert_int_equal(virtq_inflight(&f->vq), 0);
    assert_int_equal(virtq_num_free(&f->vq), 16);
    assert_int_equal(virtq_drain(&f->vq, sum_cookie, &drained_sum), 0);
    destroy(f);
}

/* Random posts and completions in random order against a model: descriptors of in-flight
 * chains never overlap, every cookie comes back exactly once, counts stay consistent. */
static void test_random_traffic_against_model(void **state) {
    (void)state;
    enum { N = 32, COOKIES = 64 };
    struct fixture *f = make(N);
    int cookies[COOKIES];
    bool posted[COOKIES] = {0};
    int head_of[COOKIES];
    int device_heads[COOKIES], ndev = 0; /* chains the device has taken, not completed */
    unsigned seed = 12345;
    unsigned desc_in_use = 0, lens[COOKIES];
    for (int iter = 0; iter < 200000; iter++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 16) & 0x7fff;
        if (r % 3 != 0) {
            int k = (int)(r % COOKIES);
            if (posted[k]) continue;
            unsigned n = 1 + (r / COOKIES) % 6;
            struct virtq_seg s[6];
            for (unsigned i = 0; i < n; i++) s[i] = seg(0x1000 * (uint64_t)(i + 1), 100);
            unsigned nout = n / 2;
            int rc = virtq_add(&f->vq, s, nout, s + nout, n - nout, &cookies[k]);
            if (desc_in_use + n > N) {
                assert_int_equal(rc, -KENOSPC);
                continue;
            }
            assert_int_equal(rc, 0);
            posted[k] = true;
            lens[k] = n;
            desc_in_use += n;
            int h = dev_pop(f, NULL, NULL);
            head_of[k] = h;
            device_heads[ndev++] = k;
        } else if (ndev > 0) {
            int pick = (int)(r % (unsigned)ndev);
            int k = device_heads[pick];
            device_heads[pick] = device_heads[--ndev];
            dev_push(f, (uint32_t)head_of[k], (lens[k] - lens[k] / 2) * 100);
            struct virtq_completion c;
            assert_int_equal(virtq_get_used(&f->vq, &c), 1);
            assert_ptr_equal(c.cookie, &cookies[k]);
            assert_int_equal(c.status, 0);
            posted[k] = false;
            desc_in_use -= lens[k];
        }
        assert_int_equal(virtq_num_free(&f->vq), N - desc_in_use);
        assert_int_equal(virtq_inflight(&f->vq), (unsigned)ndev);
    }
    /* overlap check on what is in flight now */
    bool owner[N] = {0};
    for (int i = 0; i < ndev; i++) {
        int k = device_heads[i];
        uint16_t d = (uint16_t)head_of[k];
        for (unsigned j = 0; j < lens[k]; j++) {
            assert_false(owner[d]);
            owner[d] = true;
            d = f->vq.desc[d].next;
        }
    }
    assert_int_equal(f->vq.bad_entries, 0);
    destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_sizes),
        cmocka_unit_test(test_layout_follows_spec_alignment),
        cmocka_unit_test(test_chain_descriptors_and_flags),
        cmocka_unit_test(test_add_rejects_invalid_chains),
        cmocka_unit_test(test_full_queue_gives_enospc_then_recovers),
        cmocka_unit_test(test_out_of_order_completion_keeps_free_list_intact),
        cmocka_unit_test(test_indices_wrap_around_16_bits),
        cmocka_unit_test(test_used_id_out_of_range_is_reported_and_skipped),
        cmocka_unit_test(test_used_id_not_a_posted_head_is_reported),
        cmocka_unit_test(test_more_entries_than_chains_are_checked_one_by_one),
        cmocka_unit_test(test_used_length_beyond_posted_is_reported_and_clamped),
        cmocka_unit_test(test_used_idx_running_ahead_breaks_queue_until_reset),
        cmocka_unit_test(test_scribbled_descriptor_table_does_not_corrupt_free_list),
        cmocka_unit_test(test_kick_respects_no_notify),
        cmocka_unit_test(test_drain_returns_every_posted_cookie_once),
        cmocka_unit_test(test_random_traffic_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
