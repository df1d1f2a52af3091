/* e1000e.h: the Intel 82574 (e1000e) network driver, kernel/drivers/net/e1000e.c.
 *
 * Follows the Intel 82574 GbE Controller Family Datasheet (register map §10, legacy receive
 * and transmit descriptors §7.1.4 / §7.2.10, initialisation §4.6, interrupts §7.4). Each
 * device (PCI 8086:10d3) becomes a struct netif (net.h) named eth1, or the next free ethN. */
#pragma once
#include "types.h"
#include "net.h"

/* Probes every 82574 (up to E1000E_MAX_DEVICES), resets and starts it, and registers its
 * interface. Prints one line per device; nothing on a machine without one. Runs once: later
 * calls do nothing. Call after pci_init() and before net_init(). */
void e1000e_init(void);

#define E1000E_MAX_DEVICES 4

/* The interface of device index (0-based, in probe order), or NULL. */
struct netif *e1000e_netif(int index);

/* Driver state of one device, for self-tests and diagnostics. */
struct e1000e_info {
    int vector;                  /* interrupt vector, -1 when polled by a timer */
    bool msix;                   /* MSI-X (else MSI, or polled) */
    uint32_t rx_ring, tx_ring;   /* descriptors per ring */
    uint32_t tx_in_flight;       /* descriptors given to the device, not yet reclaimed */
    uint64_t interrupts;         /* handler invocations */
    uint64_t tx_ring_full;       /* transmit refused: ring full */
    uint64_t rx_no_mem;          /* received frames dropped: no packet buffer */
    uint64_t rx_bad;             /* received frames dropped: error bits or bad length */
};
/* Fills *out for device index; 0 or -KENODEV. */
int e1000e_get_info(int index, struct e1000e_info *out);

/* Reads a device register (byte offset into BAR0), for tests (e.g. the statistics registers,
 * which clear on read). 0xffffffff when there is no such device or the offset is outside
 * BAR0 or unaligned. */
uint32_t e1000e_read_reg(int index, uint32_t off);

/* Test hook: when set, poll() offers each received frame to it before handing it to the
 * stack; returning true consumes the frame (the driver then drops it). NULL = off. */
extern bool (*volatile e1000e_rx_tap)(struct netif *nif, const uint8_t *frame, uint32_t len);
