/* virtio_blk.h: the virtio-blk driver (kernel/drivers/virtio/virtio_blk.c), VIRTIO 1.2 §5.2,
 * on the modern PCI transport of virtio.h. Each virtio-blk function becomes a block device
 * (block.h) named vda, vdb, ... in PCI order. */
#pragma once
#include "types.h"

/* Probes every virtio-blk PCI function (1af4:1042, or a transitional 1af4:1001 that has the
 * modern capabilities), initialises it and registers it with the block layer. A machine
 * without one says so in one line. Called once by storage_init() after pci_init(). */
void virtio_blk_init(void);

/* Driver statistics of a virtio-blk block device (NULL-safe; false when dev is not one). */
struct blk_device;
struct virtio_blk_info {
    uint16_t queue_size;       /* entries of the request queue */
    uint32_t max_data_segs;    /* data descriptors per request */
    uint32_t size_max;         /* largest segment in bytes (0 = no limit) */
    bool flush;                /* VIRTIO_BLK_F_FLUSH negotiated */
    bool msix;                 /* completions by MSI-X (false: polling fallback) */
    int msix_entry;            /* the request queue's MSI-X table entry */
    uint64_t requests;         /* requests posted to the device */
    uint64_t flushes;          /* flush requests posted */
    uint64_t errors;           /* requests that completed with -KEIO */
    uint64_t queue_full_waits; /* times a submitter slept for free descriptors */
    uint64_t resets;
    bool dead;                 /* a reset was not acknowledged: out of service, new I/O -KEIO */
    uint32_t stranded;         /* requests a dead device still holds (never completed) */
    uint32_t slots, free_slots;      /* request slots, and those not in use right now */
    uint32_t free_descriptors;       /* descriptors of the request queue not in use */
    uint32_t inflight;               /* chains posted and not yet returned */
    uint8_t pci_bus, pci_dev, pci_fn;
};
bool virtio_blk_get_info(const struct blk_device *dev, struct virtio_blk_info *out);
/* Self-tests only: the next ops->reset of dev behaves as if the device never acknowledged
 * the reset (virtio_reset timed out), so the dead-device path can be exercised. A reset after
 * that resets the device for real and brings it back. */
void virtio_blk_inject_reset_failure(struct blk_device *dev);
