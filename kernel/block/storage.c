/* storage.c: starts the storage drivers in a fixed order, so device names are stable:
 * virtio-blk (vda, vdb, ...), AHCI (sda, ...), NVMe (nvme0n1, ...). Each driver reports a
 * missing controller in one line and the boot goes on. */
#include "types.h"
#include "block.h"
#include "printk.h"

/* The drivers (kernel/drivers/{virtio,ahci,nvme}); weak so the kernel still links while a
 * driver is absent from the build. */
void virtio_blk_init(void) __attribute__((weak));
void ahci_init(void) __attribute__((weak));
void nvme_init(void) __attribute__((weak));

void storage_init(void) {
    if (virtio_blk_init) virtio_blk_init();
    if (ahci_init) ahci_init();
    if (nvme_init) nvme_init();
}
