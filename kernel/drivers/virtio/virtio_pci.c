/* virtio_pci.c: the virtio modern PCI transport (VIRTIO 1.2 §4.1).
 *
 *   §4.1.2  device ids: 0x1040 + type (modern), 0x1000-0x103f (transitional, type in the
 *           subsystem id)
 *   §4.1.4  vendor capabilities (id 0x09) locating, in BAR memory, the common configuration
 *           (COMMON_CFG), notification area (NOTIFY_CFG with notify_off_multiplier), ISR
 *           status (ISR_CFG) and device-specific configuration (DEVICE_CFG). The first usable
 *           capability of each type wins; unknown types, reserved BAR numbers, I/O BARs and
 *           regions outside their BAR are skipped.
 *   §4.1.4.3 common configuration: 64-bit features through the select registers, status,
 *           config_generation, and per-queue size/vector/enable/notify_off/ring addresses
 *           (64-bit fields written as two 32-bit halves, §4.1.3.1).
 *   §4.1.5  MSI-X: config_msix_vector and queue_msix_vector, each read back (NO_VECTOR means
 *           the device could not map it).
 *   §3.1.1  the initialisation sequence; §2.1.2 reset waits until status reads back 0.
 * Legacy-only devices (no modern capabilities) are refused with a message. Without MSI-X the
 * transport polls posted queues with a timer (a bounded fallback, reported once). */
#include "virtio.h"
#include "pci.h"
#include "irq.h"
#include "mm.h"
#include "cpu.h"
#include "time.h"
#include "printk.h"
#include "kstring.h"
#include "kprintf.h"
#include "kerrno.h"

/* capability types (§4.1.4) */
#define CAP_COMMON_CFG 1
#define CAP_NOTIFY_CFG 2
#define CAP_ISR_CFG 3
#define CAP_DEVICE_CFG 4
#define CAP_TYPES 5
/* capability layout: vndr, next, len, cfg_type, bar, id, pad[2], offset, length, [mult] */
#define CAP_OFF_LEN 2
#define CAP_OFF_TYPE 3
#define CAP_OFF_BAR 4
#define CAP_OFF_OFFSET 8
#define CAP_OFF_LENGTH 12
#define CAP_OFF_NOTIFY_MULT 16
#define CAP_MIN_LEN 16
#define CAP_NOTIFY_MIN_LEN 20
#define CAP_WALK_LIMIT 48 /* config space holds at most 48 capabilities */

/* common configuration registers (§4.1.4.3) */
#define CC_DEVICE_FEATURE_SELECT 0x00
#define CC_DEVICE_FEATURE 0x04
#define CC_DRIVER_FEATURE_SELECT 0x08
#define CC_DRIVER_FEATURE 0x0c
#define CC_CONFIG_MSIX_VECTOR 0x10
#define CC_NUM_QUEUES 0x12
#define CC_DEVICE_STATUS 0x14
#define CC_CONFIG_GENERATION 0x15
#define CC_QUEUE_SELECT 0x16
#define CC_QUEUE_SIZE 0x18
#define CC_QUEUE_MSIX_VECTOR 0x1a
#define CC_QUEUE_ENABLE 0x1c
#define CC_QUEUE_NOTIFY_OFF 0x1e
#define CC_QUEUE_DESC 0x20
#define CC_QUEUE_DRIVER 0x28
#define CC_QUEUE_DEVICE 0x30
#define CC_MIN_LEN 0x38

#define CONFIG_GENERATION_TRIES 16

static inline uint8_t rd8(volatile uint8_t *b, unsigned off) { return *(volatile uint8_t *)(b + off); }
static inline uint16_t rd16(volatile uint8_t *b, unsigned off) { return *(volatile uint16_t *)(b + off); }
static inline uint32_t rd32(volatile uint8_t *b, unsigned off) { return *(volatile uint32_t *)(b + off); }
static inline void wr8(volatile uint8_t *b, unsigned off, uint8_t v) { *(volatile uint8_t *)(b + off) = v; }
static inline void wr16(volatile uint8_t *b, unsigned off, uint16_t v) { *(volatile uint16_t *)(b + off) = v; }
static inline void wr32(volatile uint8_t *b, unsigned off, uint32_t v) { *(volatile uint32_t *)(b + off) = v; }
static inline void wr64(volatile uint8_t *b, unsigned off, uint64_t v) {
    wr32(b, off, (uint32_t)v);
    wr32(b, off + 4, (uint32_t)(v >> 32));
}

struct cap_found {
    bool present;
    uint8_t bar;
    uint32_t offset, length, notify_mult;
};

/* Reads one vendor capability; true when it is usable for its type. */
static bool read_cap(const struct pci_device *p, uint8_t at, uint8_t *type, struct cap_found *out) {
    uint8_t len = pci_read8(pci_ops, p->bus, p->dev, p->fn, (uint16_t)(at + CAP_OFF_LEN));
    *type = pci_read8(pci_ops, p->bus, p->dev, p->fn, (uint16_t)(at + CAP_OFF_TYPE));
    uint8_t bar = pci_read8(pci_ops, p->bus, p->dev, p->fn, (uint16_t)(at + CAP_OFF_BAR));
    if (len < CAP_MIN_LEN || *type == 0 || *type >= CAP_TYPES || bar > 5)
        return false;
    if (*type == CAP_NOTIFY_CFG && len < CAP_NOTIFY_MIN_LEN)
        return false;
    const struct pci_bar *b = &p->bars[bar];
    if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
        return false; /* I/O-space structures are allowed by the spec but not used here */
    uint32_t offset = pci_read32(pci_ops, p->bus, p->dev, p->fn, (uint16_t)(at + CAP_OFF_OFFSET));
    uint32_t length = pci_read32(pci_ops, p->bus, p->dev, p->fn, (uint16_t)(at + CAP_OFF_LENGTH));
    if (b->base == 0 || length == 0 || (uint64_t)offset + length > b->size)
        return false;
    out->present = true;
    out->bar = bar;
    out->offset = offset;
    out->length = length;
    out->notify_mult = *type == CAP_NOTIFY_CFG
        ? pci_read32(pci_ops, p->bus, p->dev, p->fn, (uint16_t)(at + CAP_OFF_NOTIFY_MULT)) : 0;
    return true;
}

static volatile uint8_t *map_cap(const struct pci_device *p, const struct cap_found *c) {
    return vmm_map_mmio(p->bars[c->bar].base + c->offset, c->length);
}

int virtio_pci_open(struct virtio_device *vd, const struct pci_device *pci, const char *name) {
    memset(vd, 0, sizeof(*vd));
    strlcpy(vd->name, name, sizeof(vd->name));
    vd->pci = pci;
    vd->config_vector = -1;
    spin_init(&vd->poll_lock, "virtio-poll");
    if (!pci_ops || !pci || pci->vendor != VIRTIO_PCI_VENDOR || pci->device < VIRTIO_PCI_LEGACY_FIRST ||
        pci->device > VIRTIO_PCI_MODERN_BASE + 0x3f)
        return -KENODEV;
    if (pci->device >= VIRTIO_PCI_MODERN_BASE)
        vd->device_id = (uint16_t)(pci->device - VIRTIO_PCI_MODERN_BASE);
    else /* transitional: the subsystem device id names the type */
        vd->device_id = pci_read16(pci_ops, pci->bus, pci->dev, pci->fn, 0x2e);

    struct cap_found caps[CAP_TYPES] = {0};
    uint8_t at = 0;
    for (int walked = 0; walked < CAP_WALK_LIMIT; walked++) {
        at = pci_find_next_cap(pci_ops, pci->bus, pci->dev, pci->fn, at, PCI_CAP_VENDOR);
        if (!at)
            break;
        uint8_t type;
        struct cap_found c = {0};
        if (read_cap(pci, at, &type, &c) && !caps[type].present)
            caps[type] = c;
    }
    if (!caps[CAP_COMMON_CFG].present && !caps[CAP_NOTIFY_CFG].present) {
        pr_err("%s: legacy-only virtio device %02x:%02x.%x (%04x:%04x) is not supported: it has "
               "no virtio 1.0 capabilities (use disable-legacy=on or a modern device)\n",
               name, pci->bus, pci->dev, pci->fn, pci->vendor, pci->device);
        return -KENODEV;
    }
    if (!caps[CAP_COMMON_CFG].present || caps[CAP_COMMON_CFG].length < CC_MIN_LEN ||
        !caps[CAP_NOTIFY_CFG].present) {
        pr_err("%s: virtio device %02x:%02x.%x lacks a usable %s capability\n", name, pci->bus,
               pci->dev, pci->fn, !caps[CAP_NOTIFY_CFG].present ? "notify" : "common configuration");
        return -KENODEV;
    }
    /* The registers live in memory space; DMA needs bus mastering. */
    pci_enable_command(pci, PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER);
    vd->common = map_cap(pci, &caps[CAP_COMMON_CFG]);
    vd->notify_base = map_cap(pci, &caps[CAP_NOTIFY_CFG]);
    vd->notify_len = caps[CAP_NOTIFY_CFG].length;
    vd->notify_off_multiplier = caps[CAP_NOTIFY_CFG].notify_mult;
    if (caps[CAP_ISR_CFG].present)
        vd->isr = map_cap(pci, &caps[CAP_ISR_CFG]);
    if (caps[CAP_DEVICE_CFG].present) {
        vd->device_cfg = map_cap(pci, &caps[CAP_DEVICE_CFG]);
        vd->device_cfg_len = vd->device_cfg ? caps[CAP_DEVICE_CFG].length : 0;
    }
    if (!vd->common || !vd->notify_base)
        return -KENOMEM;
    vd->num_queues = rd16(vd->common, CC_NUM_QUEUES);
    return 0;
}

uint8_t virtio_get_status(struct virtio_device *vd) { return rd8(vd->common, CC_DEVICE_STATUS); }

void virtio_add_status(struct virtio_device *vd, uint8_t bits) {
    wr8(vd->common, CC_DEVICE_STATUS, (uint8_t)(rd8(vd->common, CC_DEVICE_STATUS) | bits));
}

void virtio_fail(struct virtio_device *vd) { virtio_add_status(vd, VIRTIO_STATUS_FAILED); }

int virtio_reset(struct virtio_device *vd) {
    wr8(vd->common, CC_DEVICE_STATUS, 0);
    /* §4.1.4.3.2: the reset is done when the status reads back 0. */
    uint64_t deadline = time_ns() + (uint64_t)VIRTIO_RESET_TIMEOUT_US * 1000;
    while (rd8(vd->common, CC_DEVICE_STATUS) != 0) {
        if (time_ns() > deadline) {
            pr_err("%s: virtio reset did not complete within %u ms (status 0x%02x)\n", vd->name,
                   VIRTIO_RESET_TIMEOUT_US / 1000, rd8(vd->common, CC_DEVICE_STATUS));
            return -KETIMEDOUT;
        }
        udelay(10);
    }
    return 0;
}

int virtio_begin_init(struct virtio_device *vd) {
    int r = virtio_reset(vd);
    if (r)
        return r;
    virtio_add_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
    virtio_add_status(vd, VIRTIO_STATUS_DRIVER);
    return 0;
}

int virtio_negotiate(struct virtio_device *vd, uint64_t wanted) {
    wr32(vd->common, CC_DEVICE_FEATURE_SELECT, 0);
    uint64_t dev = rd32(vd->common, CC_DEVICE_FEATURE);
    wr32(vd->common, CC_DEVICE_FEATURE_SELECT, 1);
    dev |= (uint64_t)rd32(vd->common, CC_DEVICE_FEATURE) << 32;
    vd->device_features = dev;
    if (!(dev & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
        pr_err("%s: device does not offer VIRTIO_F_VERSION_1 (legacy only); not supported\n", vd->name);
        virtio_fail(vd);
        return -KENODEV;
    }
    /* Physical addresses are what we put in descriptors, which is what ACCESS_PLATFORM
     * asks for when no IOMMU translates; accepting it keeps such devices usable. */
    uint64_t accept = dev & (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM));
    wr32(vd->common, CC_DRIVER_FEATURE_SELECT, 0);
    wr32(vd->common, CC_DRIVER_FEATURE, (uint32_t)accept);
    wr32(vd->common, CC_DRIVER_FEATURE_SELECT, 1);
    wr32(vd->common, CC_DRIVER_FEATURE, (uint32_t)(accept >> 32));
    virtio_add_status(vd, VIRTIO_STATUS_FEATURES_OK);
    if (!(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK)) {
        pr_err("%s: device refused features 0x%llx (offered 0x%llx)\n", vd->name,
               (unsigned long long)accept, (unsigned long long)dev);
        virtio_fail(vd);
        return -KENODEV;
    }
    vd->features = accept;
    vd->driver_wanted = wanted;
    return 0;
}

bool virtio_has_feature(const struct virtio_device *vd, unsigned bit) {
    return bit < 64 && (vd->features & VIRTIO_BIT(bit));
}

int virtio_config_read(struct virtio_device *vd, uint32_t off, void *out, size_t len) {
    if (!vd->device_cfg || (len != 1 && len != 2 && len != 4 && len != 8) || (off & (len - 1)) ||
        (uint64_t)off + len > vd->device_cfg_len)
        return -KEINVAL;
    for (int tries = 0; tries < CONFIG_GENERATION_TRIES; tries++) {
        uint8_t gen = rd8(vd->common, CC_CONFIG_GENERATION);
        uint64_t v;
        switch (len) {
        case 1: v = rd8(vd->device_cfg, off); break;
        case 2: v = rd16(vd->device_cfg, off); break;
        case 4: v = rd32(vd->device_cfg, off); break;
        default: v = rd32(vd->device_cfg, off) | (uint64_t)rd32(vd->device_cfg, off + 4) << 32; break;
        }
        if (rd8(vd->common, CC_CONFIG_GENERATION) == gen) {
            memcpy(out, &v, len); /* little-endian: the low bytes */
            return 0;
        }
    }
    pr_err("%s: device configuration kept changing while read\n", vd->name);
    return -KEIO;
}

void virtio_notify(struct virtqueue *vq) {
    if (vq->notify_addr)
        *vq->notify_addr = vq->index; /* §4.1.5.2: the queue index, 16 bits */
}

/* ---- interrupts ---- */

static void queue_irq(struct irq_frame *f, void *arg) {
    (void)f;
    struct virtqueue *vq = arg;
    if (vq->event)
        vq->event(vq, vq->event_arg);
}

/* Entry 0: configuration changes, and every queue without a vector of its own. */
static void config_irq(struct irq_frame *f, void *arg) {
    (void)f;
    struct virtio_device *vd = arg;
    bool queues_here = false;
    for (int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        struct virtqueue *vq = vd->queues[i];
        if (vq && vq->msix_entry == 0) {
            queues_here = true;
            if (vq->event)
                vq->event(vq, vq->event_arg);
        }
    }
    if (queues_here)
        return; /* shared: cannot tell a configuration change apart (ISR is for INTx) */
    vd->config_interrupts++;
    uint8_t st = virtio_get_status(vd);
    if (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        pr_err("%s: device reports DEVICE_NEEDS_RESET (status 0x%02x)\n", vd->name, st);
    if (vd->config_changed)
        vd->config_changed(vd);
}

static void poll_tick(struct ktimer *t, void *arg) {
    struct virtio_device *vd = arg;
    bool busy = false;
    for (int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        struct virtqueue *vq = vd->queues[i];
        if (!vq)
            continue;
        if (virtq_has_used(vq) && vq->event)
            vq->event(vq, vq->event_arg);
        if (virtq_inflight(vq))
            busy = true;
    }
    uint64_t fl = spin_lock_irqsave(&vd->poll_lock);
    if (busy)
        ktimer_start(t, time_ns() + VIRTIO_POLL_INTERVAL_NS, poll_tick, vd);
    else
        vd->poll_armed = false;
    spin_unlock_irqrestore(&vd->poll_lock, fl);
}

void virtio_kick(struct virtqueue *vq) {
    virtq_kick(vq);
    struct virtio_device *vd = vq->vdev;
    if (!vd || vd->msix)
        return;
    uint64_t fl = spin_lock_irqsave(&vd->poll_lock);
    if (!vd->poll_armed) {
        vd->poll_armed = true;
        ktimer_start(&vd->poll_timer, time_ns() + VIRTIO_POLL_INTERVAL_NS, poll_tick, vd);
    }
    spin_unlock_irqrestore(&vd->poll_lock, fl);
}

static void use_polling(struct virtio_device *vd, const char *why) {
    if (!vd->poll_reported)
        pr_warn("%s: %s; completions are polled every %llu us instead of interrupts (fallback)\n",
                vd->name, why, (unsigned long long)(VIRTIO_POLL_INTERVAL_NS / 1000));
    vd->poll_reported = true;
    vd->msix = false;
}

/* Chooses the interrupt mode when the first queue is created: MSI-X entry 0 for the
 * configuration (and queues without an entry of their own), entries 1.. for queues. */
static void setup_config_vector(struct virtio_device *vd) {
    unsigned table = pci_msix_table_size(vd->pci);
    if (table == 0) {
        use_polling(vd, "no MSI-X capability");
        return;
    }
    if (!lapic_active()) { /* MSI-X is a write to a local APIC: PIC mode cannot receive it */
        use_polling(vd, "no local APIC to deliver MSI-X (PIC mode)");
        return;
    }
    int vec = irq_alloc_vector();
    if (vec < 0) {
        use_polling(vd, "no free interrupt vector");
        return;
    }
    int r = pci_enable_msix(vd->pci, 0, (uint8_t)vec, lapic_id());
    if (r) {
        irq_free_vector(vec);
        use_polling(vd, "MSI-X could not be enabled");
        return;
    }
    ksnprintf(vd->config_irq_name, sizeof(vd->config_irq_name), "%s-config", vd->name);
    irq_set_handler((uint8_t)vec, config_irq, vd, vd->config_irq_name);
    vd->config_vector = vec;
    vd->msix = true;
    vd->msix_shared = table < 2;
}

/* Gives a queue its own MSI-X entry (index + 1) when the table has one, else entry 0. */
static void setup_queue_vector(struct virtio_device *vd, struct virtqueue *vq) {
    if (!vd->msix)
        return;
    unsigned entry = (unsigned)vq->index + 1;
    if (entry < pci_msix_table_size(vd->pci)) {
        int vec = irq_alloc_vector();
        if (vec >= 0 && pci_enable_msix(vd->pci, entry, (uint8_t)vec, lapic_id()) == 0) {
            ksnprintf(vq->irq_name, sizeof(vq->irq_name), "%s-q%u", vd->name, (unsigned)vq->index);
            irq_set_handler((uint8_t)vec, queue_irq, vq, vq->irq_name);
            vq->vector = vec;
            vq->msix_entry = (int)entry;
            return;
        }
        if (vec >= 0)
            irq_free_vector(vec);
    }
    if (!vd->msix_shared)
        pr_info("%s: queue %u shares the configuration interrupt\n", vd->name, (unsigned)vq->index);
    vq->vector = vd->config_vector;
    vq->msix_entry = 0;
}

/* Programs vector numbers into the device and checks it accepted them (§4.1.5.1.2). */
static void program_vectors(struct virtio_device *vd) {
    if (!vd->msix) {
        wr16(vd->common, CC_CONFIG_MSIX_VECTOR, VIRTIO_MSI_NO_VECTOR);
        return;
    }
    wr16(vd->common, CC_CONFIG_MSIX_VECTOR, 0);
    if (rd16(vd->common, CC_CONFIG_MSIX_VECTOR) == VIRTIO_MSI_NO_VECTOR)
        use_polling(vd, "device refused MSI-X vector 0 for configuration");
}

/* Selects the queue and writes its size, ring addresses and vector, then enables it. */
static int activate_queue(struct virtio_device *vd, struct virtqueue *vq) {
    wr16(vd->common, CC_QUEUE_SELECT, vq->index);
    wr16(vd->common, CC_QUEUE_SIZE, vq->size);
    wr64(vd->common, CC_QUEUE_DESC, vq->desc_phys);
    wr64(vd->common, CC_QUEUE_DRIVER, vq->avail_phys);
    wr64(vd->common, CC_QUEUE_DEVICE, vq->used_phys);
    uint16_t want = (vd->msix && vq->msix_entry >= 0) ? (uint16_t)vq->msix_entry : VIRTIO_MSI_NO_VECTOR;
    wr16(vd->common, CC_QUEUE_MSIX_VECTOR, want);
    if (want != VIRTIO_MSI_NO_VECTOR && rd16(vd->common, CC_QUEUE_MSIX_VECTOR) != want)
        use_polling(vd, "device refused the queue's MSI-X vector");
    uint64_t noff = (uint64_t)rd16(vd->common, CC_QUEUE_NOTIFY_OFF) * vd->notify_off_multiplier;
    if (noff + 2 > vd->notify_len) {
        pr_err("%s: queue %u notify offset 0x%llx is outside the notify area (%u bytes)\n", vd->name,
               (unsigned)vq->index, (unsigned long long)noff, vd->notify_len);
        return -KENODEV;
    }
    vq->notify_addr = (volatile uint16_t *)(vd->notify_base + noff);
    wr16(vd->common, CC_QUEUE_ENABLE, 1);
    return 0;
}

struct virtqueue *virtio_queue_create(struct virtio_device *vd, uint16_t index, uint16_t max_size,
                                      virtq_event_fn event, void *arg) {
    if (index >= VIRTIO_MAX_QUEUES || index >= vd->num_queues || vd->queues[index]) {
        pr_err("%s: queue %u does not exist (the device has %u)\n", vd->name, (unsigned)index,
               (unsigned)vd->num_queues);
        return NULL;
    }
    wr16(vd->common, CC_QUEUE_SELECT, index);
    uint16_t dev_max = rd16(vd->common, CC_QUEUE_SIZE);
    uint16_t size = MIN(dev_max, max_size);
    while (size & (size - 1))
        size &= (uint16_t)(size - 1); /* round down to a power of two */
    if (size == 0) {
        pr_err("%s: queue %u is not available (size %u)\n", vd->name, (unsigned)index, (unsigned)dev_max);
        return NULL;
    }
    struct virtqueue *vq = virtq_create(index, size);
    if (!vq) {
        pr_err("%s: no memory for a %u-entry queue\n", vd->name, (unsigned)size);
        return NULL;
    }
    vq->vdev = vd;
    vq->event = event;
    vq->event_arg = arg;
    vq->notify = virtio_notify;
    if (!vd->irq_mode_chosen) {
        vd->irq_mode_chosen = true;
        setup_config_vector(vd);
        program_vectors(vd);
    }
    setup_queue_vector(vd, vq);
    if (activate_queue(vd, vq)) {
        virtq_destroy(vq);
        return NULL;
    }
    vd->queues[index] = vq;
    return vq;
}

int virtio_driver_ok(struct virtio_device *vd) {
    virtio_add_status(vd, VIRTIO_STATUS_DRIVER_OK);
    uint8_t st = virtio_get_status(vd);
    if (st & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED) || !(st & VIRTIO_STATUS_DRIVER_OK)) {
        pr_err("%s: device did not accept DRIVER_OK (status 0x%02x)\n", vd->name, st);
        return -KEIO;
    }
    return 0;
}

int virtio_restart(struct virtio_device *vd) {
    int r = virtio_begin_init(vd);
    if (r)
        return r;
    r = virtio_negotiate(vd, vd->driver_wanted);
    if (r)
        return r;
    program_vectors(vd);
    for (int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        struct virtqueue *vq = vd->queues[i];
        if (!vq)
            continue;
        virtq_reset(vq);
        r = activate_queue(vd, vq);
        if (r) {
            virtio_fail(vd);
            return r;
        }
    }
    return virtio_driver_ok(vd);
}
