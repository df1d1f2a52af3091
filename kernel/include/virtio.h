/* virtio.h: the virtio core shared by every virtio driver (blk now, net and 9p later).
 *
 * Follows the Virtual I/O Device (VIRTIO) Version 1.2 specification:
 *   §2.1 device status, §2.2 feature bits, §2.5 device configuration space (generation),
 *   §2.7 split virtqueues, §3.1 device initialisation, §4.1 virtio over PCI (modern
 *   transport only: the capabilities of §4.1.4 in configuration space, MSI-X per §4.1.5).
 *
 * Two parts:
 *   virtqueue.c  a split virtqueue: descriptor table, available ring, used ring in physically
 *                contiguous DMA memory, a free-descriptor list, chains of device-readable
 *                ("out") and device-writable ("in") buffers, and collection of used entries.
 *                Its ring logic is pure: host tests (tests/host/test_virtqueue.c) build it
 *                with -DHOST_TEST and give it memory of their own.
 *   virtio_pci.c the PCI transport: capabilities, reset and status, 64-bit feature
 *                negotiation (VIRTIO_F_VERSION_1 required), queue setup, notifications and
 *                MSI-X vectors (one for configuration changes, one per queue), with a
 *                bounded polling fallback when a device has no usable MSI-X.
 *
 * A driver's life:
 *   virtio_pci_open(&vd, pci, "vda")              map the capabilities (refuses legacy-only)
 *   virtio_begin_init(&vd)                        reset, ACKNOWLEDGE, DRIVER
 *   virtio_negotiate(&vd, MY_FEATURES)            FEATURES_OK (VERSION_1 is always asked for)
 *   virtio_config_read(&vd, off, &v, sizeof v)    device configuration (generation-checked)
 *   vq = virtio_queue_create(&vd, 0, 256, my_event, me)   rings, MSI-X vector, enable
 *   virtio_driver_ok(&vd)                         DRIVER_OK: the device is live
 *   virtq_add(vq, segs, n_out, segs + n_out, n_in, cookie); virtq_kick(vq);
 *   my_event(vq, me) runs from the queue's interrupt: virtq_get_used() returns each cookie.
 * After a device error: virtio_restart(&vd) resets the device and brings it back with the
 * same features and queues (virtq_drain first returns the cookies that will never complete).
 *
 * All ring fields are little-endian (§2.7, VERSION_1); x86-64 is little-endian too, so they
 * are plain integers here. */
#pragma once
#include "types.h"
#include "spinlock.h"
#include "ktimer.h"

/* ---- status bits (§2.1) ---- */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* ---- device-independent feature bits (§6) ---- */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_BIT(n) (1ull << (n))

/* ---- PCI ids (§4.1.2) ---- */
#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040       /* modern device id = 0x1040 + virtio device id */
#define VIRTIO_PCI_LEGACY_FIRST 0x1000      /* transitional device ids 0x1000-0x103f */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_9P 9

/* ---- split virtqueue layout (§2.7) ---- */
#define VIRTQ_DESC_F_NEXT 1      /* the chain continues in `next` */
#define VIRTQ_DESC_F_WRITE 2     /* the device writes this buffer (else it reads it) */
#define VIRTQ_DESC_F_INDIRECT 4  /* not used: we do not negotiate VIRTIO_F_INDIRECT_DESC */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1
#define VIRTQ_MAX_SIZE 32768     /* largest split queue (§2.7) */

struct virtq_desc {
    uint64_t addr;   /* guest-physical address of the buffer */
    uint32_t len;
    uint16_t flags;  /* VIRTQ_DESC_F_* */
    uint16_t next;   /* next descriptor when flags has NEXT */
};
struct virtq_avail {
    uint16_t flags;
    uint16_t idx;    /* where the driver puts the next entry (mod size); free-running */
    uint16_t ring[];
};
struct virtq_used_elem {
    uint32_t id;     /* head descriptor of the completed chain */
    uint32_t len;    /* bytes the device wrote into the chain's writable buffers */
};
struct virtq_used {
    uint16_t flags;
    uint16_t idx;    /* where the device puts the next entry (mod size); free-running */
    struct virtq_used_elem ring[];
};

/* One buffer of a chain: guest-physical address and length (> 0). */
struct virtq_seg {
    phys_addr_t addr;
    uint32_t len;
};

/* Driver-private record of a posted chain, kept by head descriptor. Nothing in it is ever
 * read back from memory the device can write. */
struct virtq_chain {
    void *cookie;        /* NULL = no chain starts at this descriptor */
    uint32_t in_bytes;   /* total length of the device-writable buffers */
    uint16_t ndesc;
    uint16_t tail;       /* last descriptor of the chain */
};

/* What virtq_get_used hands back for one completed chain. */
struct virtq_completion {
    void *cookie;        /* the cookie given to virtq_add */
    uint32_t len;        /* bytes written by the device (clamped to what was posted) */
    int status;          /* 0, or -KEIO when the device claimed more bytes than posted */
};

struct virtio_device;
struct virtqueue;
/* Called when a queue has news (from its MSI-X interrupt, or from the polling fallback). */
typedef void (*virtq_event_fn)(struct virtqueue *vq, void *arg);

struct virtqueue {
    spinlock_t lock;                 /* protects everything below (rings and private state) */
    uint16_t index;                  /* queue number on the device */
    uint16_t size;                   /* entries, a power of two */
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    phys_addr_t desc_phys, avail_phys, used_phys;
    /* private state, never shared with the device */
    uint16_t *next;                  /* free list / chain links, one per descriptor */
    struct virtq_chain *chains;      /* per head descriptor */
    uint16_t free_head;
    uint16_t num_free;               /* free descriptors */
    uint16_t avail_idx;              /* our copy of avail->idx */
    uint16_t last_used;              /* next used entry to look at */
    uint16_t inflight;               /* chains posted and not yet returned */
    bool broken;                     /* the device wrote an impossible used->idx */
    /* notification (set by the transport; the host tests put their own function here) */
    void (*notify)(struct virtqueue *vq);
    volatile uint16_t *notify_addr;
    /* events */
    virtq_event_fn event;
    void *event_arg;
    struct virtio_device *vdev;
    int vector;                      /* IDT vector of its MSI-X entry, -1 = none */
    int msix_entry;                  /* its MSI-X table entry, -1 = none (polling) */
    char irq_name[24];
    /* kernel allocation (virtq_create) */
    phys_addr_t ring_phys;
    size_t ring_pages;
    /* statistics */
    uint64_t added, kicks, completed, bad_entries;
};

/* ---- virtqueue.c: pure ring logic (host-tested) ---- */

/* Bytes of DMA memory the rings of a queue of `size` entries take (descriptor table at 0,
 * available ring after it, used ring 4-byte aligned after that). */
size_t virtq_ring_bytes(uint16_t size);
/* Bytes of private (non-DMA) memory virtq_init needs for a queue of `size` entries. */
size_t virtq_state_bytes(uint16_t size);
/* Lays a queue out in caller memory: ring_mem (virtq_ring_bytes, 16-byte aligned) at
 * guest-physical ring_phys, state_mem (virtq_state_bytes, 8-byte aligned). Zeroes the
 * rings and builds the free list. -KEINVAL unless size is a power of two in 1..32768. */
int virtq_init(struct virtqueue *vq, uint16_t index, uint16_t size, void *ring_mem,
               phys_addr_t ring_phys, void *state_mem);
/* Forgets every chain and zeroes the rings, as at virtq_init. Only after the device was
 * reset (it must no longer touch the rings); call virtq_drain first to learn the cookies. */
void virtq_reset(struct virtqueue *vq);
/* Posts one chain: n_out device-readable buffers, then n_in device-writable ones. cookie
 * (not NULL) comes back from virtq_get_used when the device is done. Returns 0, -KENOSPC
 * when fewer than n_out + n_in descriptors are free (try again after completions),
 * -KEINVAL for an empty chain, a chain longer than the queue, a NULL cookie or a
 * zero-length buffer, -KEIO when the queue is broken. Does not notify: call virtq_kick. */
int virtq_add(struct virtqueue *vq, const struct virtq_seg *out, unsigned n_out,
              const struct virtq_seg *in, unsigned n_in, void *cookie);
/* Tells the device about new chains unless it asked not to be notified
 * (VIRTQ_USED_F_NO_NOTIFY). Returns true when it notified. */
bool virtq_kick(struct virtqueue *vq);
/* Takes the next used entry (interrupt side). Returns 1 with *out filled and the chain's
 * descriptors freed; 0 when there is nothing (more); -KEIO when the device wrote an entry
 * that cannot be trusted: an id out of range or not the head of a posted chain (the entry
 * is logged and skipped: call again), or a used->idx more than the ring size ahead (the
 * queue is marked broken, logged once; afterwards the call returns 0 and virtq_add -KEIO
 * until virtq_reset). A length larger than the chain's writable bytes still returns 1,
 * with out->status = -KEIO and out->len clamped. */
int virtq_get_used(struct virtqueue *vq, struct virtq_completion *out);
/* True when the device has placed used entries we have not taken yet. */
bool virtq_has_used(struct virtqueue *vq);
/* Calls fn(cookie, arg) for every chain still posted and forgets them (their descriptors
 * become free). For device resets: the device must be reset first. Returns the count. */
int virtq_drain(struct virtqueue *vq, void (*fn)(void *cookie, void *arg), void *arg);
/* Free descriptors right now. */
unsigned virtq_num_free(struct virtqueue *vq);
/* Chains posted and not yet returned. */
unsigned virtq_inflight(struct virtqueue *vq);

#ifndef HOST_TEST
/* ---- virtqueue.c, kernel side ---- */

/* Allocates a queue of `size` entries (a power of two) with its rings in physically
 * contiguous, zeroed DMA memory (pmm_alloc_contig) and its private state on the heap.
 * NULL when memory is short or size is invalid. */
struct virtqueue *virtq_create(uint16_t index, uint16_t size);
/* Frees a queue made by virtq_create (the device must not use it any more). */
void virtq_destroy(struct virtqueue *vq);

/* ---- virtio_pci.c: the modern PCI transport (§4.1) ---- */

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_MSI_NO_VECTOR 0xffff
#define VIRTIO_RESET_TIMEOUT_US 100000  /* a device must read back status 0 by then */
#define VIRTIO_POLL_INTERVAL_NS 1000000ull /* polling fallback period (no MSI-X) */

struct pci_device;
struct virtio_device {
    char name[16];                     /* for messages: "vda", "eth0", ... */
    const struct pci_device *pci;
    uint16_t device_id;                /* virtio device type (VIRTIO_ID_*) */
    volatile uint8_t *common;          /* VIRTIO_PCI_CAP_COMMON_CFG */
    volatile uint8_t *notify_base;     /* VIRTIO_PCI_CAP_NOTIFY_CFG */
    uint32_t notify_len, notify_off_multiplier;
    volatile uint8_t *isr;             /* VIRTIO_PCI_CAP_ISR_CFG (may be NULL) */
    volatile uint8_t *device_cfg;      /* VIRTIO_PCI_CAP_DEVICE_CFG (may be NULL) */
    uint32_t device_cfg_len;
    uint64_t device_features;          /* offered by the device */
    uint64_t features;                 /* negotiated */
    uint64_t driver_wanted;            /* what the driver asked for (virtio_restart) */
    uint16_t num_queues;               /* the device's count */
    /* interrupts */
    bool irq_mode_chosen;              /* set when the first queue was created */
    bool msix;                         /* MSI-X vectors are in use (else polling fallback) */
    bool poll_reported;                /* the fallback message was printed */
    bool msix_shared;                  /* one vector for the configuration and all queues */
    int config_vector;                 /* IDT vector for configuration changes, -1 = none */
    char config_irq_name[24];
    struct virtqueue *queues[VIRTIO_MAX_QUEUES];
    void (*config_changed)(struct virtio_device *vd); /* optional driver callback */
    uint64_t config_interrupts;
    /* polling fallback */
    spinlock_t poll_lock;
    struct ktimer poll_timer;
    bool poll_armed;
};

/* Checks that pci is a virtio function, enables memory decoding and bus mastering, finds
 * the first usable capability of each type (vendor capability 0x09, §4.1.4) and maps the
 * common, notify, ISR and device configuration structures. Returns 0, or -KENODEV (not
 * virtio, legacy-only: "legacy-only virtio device ... not supported" is printed, or a
 * required structure missing/out of its BAR) or -KENOMEM. */
int virtio_pci_open(struct virtio_device *vd, const struct pci_device *pci, const char *name);
/* Writes 0 to device_status and waits (bounded, VIRTIO_RESET_TIMEOUT_US) until it reads 0
 * (§4.1.4.3.2). 0 or -KETIMEDOUT. */
int virtio_reset(struct virtio_device *vd);
/* Device status register: read, and set bits (read-modify-write). */
uint8_t virtio_get_status(struct virtio_device *vd);
void virtio_add_status(struct virtio_device *vd, uint8_t bits);
/* §3.1.1 steps 1-3: reset, ACKNOWLEDGE, DRIVER. 0 or -KETIMEDOUT. */
int virtio_begin_init(struct virtio_device *vd);
/* §3.1.1 steps 4-6: reads the device's 64 feature bits, accepts those in `wanted` plus the
 * transport's (VERSION_1, ACCESS_PLATFORM), sets FEATURES_OK and checks the device kept it.
 * A device without VERSION_1 is refused. Returns 0 (vd->features set), or -KENODEV with
 * FAILED set and a message. */
int virtio_negotiate(struct virtio_device *vd, uint64_t wanted);
/* True when feature bit `bit` was negotiated. */
bool virtio_has_feature(const struct virtio_device *vd, unsigned bit);
/* Reads len (1, 2, 4 or 8) bytes of device configuration at off into out, with field-sized
 * accesses (8 as two 32-bit halves), repeated until config_generation is stable (bounded).
 * 0, -KEINVAL (out of the structure, bad len) or -KEIO (generation never settled). */
int virtio_config_read(struct virtio_device *vd, uint32_t off, void *out, size_t len);
/* Creates queue `index` with at most max_size entries (the device's size, rounded down to a
 * power of two, if smaller), gives it an MSI-X vector whose handler calls event(vq, arg),
 * programs its addresses and enables it. The first queue created also sets up the
 * configuration vector. Without usable MSI-X, prints the fallback once and polls instead
 * (every VIRTIO_POLL_INTERVAL_NS while chains are posted). NULL on failure (printed). */
struct virtqueue *virtio_queue_create(struct virtio_device *vd, uint16_t index, uint16_t max_size,
                                      virtq_event_fn event, void *arg);
/* Sets DRIVER_OK (§3.1.1 step 8). 0, or -KEIO when the device reports DEVICE_NEEDS_RESET or
 * FAILED. */
int virtio_driver_ok(struct virtio_device *vd);
/* Marks the device FAILED (the driver gave up on it). */
void virtio_fail(struct virtio_device *vd);
/* Resets the device and brings it back: begin_init, the same features, the configuration
 * vector, every queue reset (virtq_reset) and re-programmed, DRIVER_OK. The caller drains
 * the queues (virtq_drain) after virtio_reset and before this, or lets this forget the
 * chains. 0 or -errno. */
int virtio_restart(struct virtio_device *vd);
/* Notifies the device about queue vq (writes its index to the queue's notify address). */
void virtio_notify(struct virtqueue *vq);
/* What drivers call after virtq_add: virtq_kick, and in the polling fallback (no MSI-X)
 * also arms the poll timer, which runs the queue's event function every
 * VIRTIO_POLL_INTERVAL_NS until no chain is posted. */
void virtio_kick(struct virtqueue *vq);
#endif
