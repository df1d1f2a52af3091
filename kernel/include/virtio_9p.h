/* virtio_9p.h: the virtio-9p transport (kernel/drivers/virtio/virtio_9p.c), VIRTIO 1.2 §5.11,
 * carrying the 9P2000.L client of p9.h. Each virtio-9p PCI function exports one host
 * directory under a mount tag (QEMU: -device virtio-9p-pci,mount_tag=TAG). */
#pragma once
#include "types.h"
#include "p9.h"

#define VIRTIO_9P_MSIZE 65536u          /* msize we offer (the server may lower it) */
#define VIRTIO_9P_TIMEOUT_NS 10000000000ull /* one request: 10 s, then the device is dead */
#define VIRTIO_9P_MAX_DEVICES 4

/* Probes every virtio-9p function once (later calls return at once); returns how many are
 * usable. Prints one line per device, or one saying there is none. */
int virtio_9p_init(void);
/* The client of the device exporting mount_tag, already through Tversion (not attached:
 * the caller attaches). NULL when no such device. The client is single-request: the caller
 * must serialise every p9_client_* call on it (one mutex per mount); data pointers it
 * returns (readdir) live in its receive buffer until the next call. */
struct p9_client *virtio_9p_client(const char *mount_tag);
/* Copies the mount tag of device i (0-based) into buf; false when there is no device i. */
bool virtio_9p_tag(int i, char *buf, size_t size);
