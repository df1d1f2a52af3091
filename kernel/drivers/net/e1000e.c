/* e1000e.c: the Intel 82574 GbE controller driver (PCI 8086:10d3), behind struct netif.
 *
 * Follows the Intel 82574 GbE Controller Family Datasheet:
 * - §4.6 initialisation: interrupts masked (IMC), receive and transmit stopped, GIO master
 *   disable (CTRL.GIO_MD, STATUS.GIO_ME), software reset (CTRL.RST, self-clearing), NVM
 *   auto-read done (EECD.AUTO_RD), link set up (CTRL.SLU). Every wait is bounded.
 * - §10.2 registers; MAC address from RAL0/RAH0 (loaded from the NVM after reset) or, when
 *   RAH0.AV is clear, from NVM words 0-2 through EERD.
 * - §7.1 receive: one ring of legacy descriptors (RCTL.DTYP 0, 16 bytes) with 2 KiB buffers
 *   (RCTL.BSIZE 0), broadcast and all multicast accepted (IPv6 neighbour discovery), CRC
 *   stripped (RCTL.SECRC). Frames are copied into packet buffers and the descriptor is reused.
 * - §7.2 transmit: one ring of legacy descriptors; each frame is copied into the descriptor's
 *   own 2 KiB buffer (padded to 60 bytes) with EOP|IFCS|RS, and done descriptors (DD) are
 *   reclaimed by the next transmit. No transmit interrupts.
 * - §7.4 interrupts: MSI (ICR clears on read) or else MSI-X with every cause on entry 0
 *   (IVAR). The handler masks the device (IMC) and calls netif_rx_ready(); poll(), run by
 *   net_poller, acknowledges ICR, hands up to budget frames to netif_receive() and unmasks
 *   (IMS) once the ring is empty. Without a local APIC, a 2 ms timer looks at the ring.
 * - Link state: STATUS.LU.
 */
#include "types.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "cpu.h"
#include "mm.h"
#include "pci.h"
#include "irq.h"
#include "time.h"
#include "spinlock.h"
#include "ktimer.h"
#include "net.h"
#include "e1000e.h"


/* ---- registers (§10.2), byte offsets into BAR0 ---- */
#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_EECD 0x0010
#define REG_EERD 0x0014
#define REG_CTRL_EXT 0x0018
#define REG_ICR 0x00c0
#define REG_ITR 0x00c4
#define REG_IMS 0x00d0
#define REG_IMC 0x00d8
#define REG_IVAR 0x00e4
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_RDTR 0x2820
#define REG_RADV 0x282c
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818
#define REG_TXDCTL 0x3828
#define REG_MTA 0x5200      /* 128 registers */
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404

#define CTRL_GIO_MD (1u << 2)
#define CTRL_SLU (1u << 6)
#define CTRL_ILOS (1u << 7)
#define CTRL_FRCSPD (1u << 11)
#define CTRL_FRCDPLX (1u << 12)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)
#define STATUS_LU (1u << 1)
#define STATUS_GIO_ME (1u << 19)
#define EECD_AUTO_RD (1u << 9)
#define EERD_START (1u << 0)
#define EERD_DONE (1u << 1)
#define EERD_ADDR_SHIFT 2
#define CTRL_EXT_PBA (1u << 31)   /* PBA support: required in MSI-X mode */
#define RAH_AV (1u << 31)

#define ICR_TXDW (1u << 0)
#define ICR_LSC (1u << 2)
#define ICR_RXDMT0 (1u << 4)
#define ICR_RXO (1u << 6)
#define ICR_RXT0 (1u << 7)
#define ICR_RXQ0 (1u << 20)       /* MSI-X causes */
#define ICR_OTHER (1u << 24)
#define IVAR_VALID 0x8u

#define RCTL_EN (1u << 1)
#define RCTL_MPE (1u << 4)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)     /* BSIZE 00 with BSEX 0: 2048-byte buffers; DTYP 00: legacy */
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x0fu << 4)
#define TCTL_COLD (0x3fu << 12)
#define TCTL_RTLC (1u << 24)
#define TIPG_VALUE (8u | 8u << 10 | 6u << 20)  /* IPGT 8, IPGR1 8, IPGR2 6 (copper) */
#define TXDCTL_VALUE (1u << 22 | 1u << 24)     /* bit 22 must be 1 (§10.2.6.11); GRAN descriptors */

/* ---- descriptors ---- */
struct rx_desc {          /* §7.1.4.1 legacy receive descriptor */
    uint64_t addr;
    uint16_t length;
    uint16_t csum;
    uint8_t status;
    uint8_t errors;
    uint16_t special;
};
_Static_assert(sizeof(struct rx_desc) == 16, "legacy RX descriptor is 16 bytes");
#define RXS_DD 0x01
#define RXS_EOP 0x02
#define RXE_FRAME 0x97    /* CE, SE, SEQ, CXE, RXE (not the checksum-offload bits) */

struct tx_desc {          /* §7.2.10.1 legacy transmit descriptor */
    uint64_t addr;
    uint16_t length;
    uint8_t cso;
    uint8_t cmd;
    uint8_t sta;
    uint8_t css;
    uint16_t special;
};
_Static_assert(sizeof(struct tx_desc) == 16, "legacy TX descriptor is 16 bytes");
#define TXC_EOP 0x01
#define TXC_IFCS 0x02
#define TXC_RS 0x08
#define TXS_DD 0x01

#define RX_RING 256        /* one page of descriptors */
#define TX_RING 128
#define BUF_SIZE 2048u
#define MIN_FRAME 60       /* without FCS */
#define MAX_TX_FRAME (PKT_MAX_FRAME + 4) /* room for a VLAN tag */
#define WAIT_RESET_US 100000u
#define WAIT_NVM_US 20000u
#define POLL_PERIOD_NS 2000000ull

struct e1000e_dev {
    struct netif nif;
    int index;
    const struct pci_device *pci;
    volatile uint8_t *regs;
    uint64_t regs_size;
    volatile struct rx_desc *rx;
    volatile struct tx_desc *tx;
    uint8_t *rx_buf, *tx_buf;
    phys_addr_t rx_phys, tx_phys, rx_buf_phys, tx_buf_phys;
    uint32_t rx_next;              /* next descriptor the device fills */
    bool rx_discard;               /* dropping the rest of a frame without EOP */
    uint32_t tx_tail, tx_clean;    /* next free; oldest not reclaimed */
    spinlock_t tx_lock;
    volatile int polling;          /* poll() re-entry guard */
    uint32_t irq_mask;             /* IMS value while armed */
    int vector;
    bool msix;
    struct ktimer poll_timer;      /* no-interrupt fallback */
    volatile uint64_t interrupts;
    uint64_t tx_ring_full, rx_no_mem, rx_bad;
};

static struct e1000e_dev *devices[E1000E_MAX_DEVICES];
static int device_count;
static bool probed;
bool (*volatile e1000e_rx_tap)(struct netif *nif, const uint8_t *frame, uint32_t len);

static uint32_t rd(struct e1000e_dev *d, uint32_t off) { return mmio_read32(d->regs + off); }
static void wr(struct e1000e_dev *d, uint32_t off, uint32_t v) { mmio_write32(d->regs + off, v); }

/* Polls until (reg & mask) == want, at most us microseconds. true when it got there. */
static bool wait_reg(struct e1000e_dev *d, uint32_t off, uint32_t mask, uint32_t want, uint32_t us) {
    uint64_t deadline = time_ns() + (uint64_t)us * 1000ull;
    for (;;) {
        uint32_t v = rd(d, off);
        if (v != 0xffffffffu && (v & mask) == want)
            return true;
        if (time_ns() > deadline)
            return false;
        udelay(10);
    }
}

/* §4.6.1-4.6.2: stop everything and reset the MAC. 0 or -KETIMEDOUT / -KEIO. */
static int dev_reset(struct e1000e_dev *d) {
    wr(d, REG_IMC, 0xffffffffu);
    wr(d, REG_RCTL, 0);
    wr(d, REG_TCTL, TCTL_PSP);
    (void)rd(d, REG_STATUS);             /* flush the posted writes */
    /* Stop bus mastering first so no DMA is cut in half (the firmware may have used the NIC). */
    wr(d, REG_CTRL, rd(d, REG_CTRL) | CTRL_GIO_MD);
    if (!wait_reg(d, REG_STATUS, STATUS_GIO_ME, 0, 10000))
        pr_debug("%s: GIO master enable still set; resetting anyway\n", d->nif.name);
    mdelay(1);
    wr(d, REG_CTRL, rd(d, REG_CTRL) | CTRL_RST);
    udelay(20);                          /* §4.6.1: wait before touching registers again */
    if (!wait_reg(d, REG_CTRL, CTRL_RST, 0, WAIT_RESET_US)) {
        pr_err("%s: CTRL.RST did not clear within %u ms\n", d->nif.name, WAIT_RESET_US / 1000);
        return -KETIMEDOUT;
    }
    if (!wait_reg(d, REG_EECD, EECD_AUTO_RD, EECD_AUTO_RD, WAIT_NVM_US))
        pr_debug("%s: NVM auto-read not reported done\n", d->nif.name);
    wr(d, REG_IMC, 0xffffffffu);
    (void)rd(d, REG_ICR);
    uint32_t ctrl = rd(d, REG_CTRL);
    if (ctrl == 0xffffffffu)
        return -KEIO;
    ctrl &= ~(CTRL_PHY_RST | CTRL_VME | CTRL_ILOS | CTRL_FRCSPD | CTRL_FRCDPLX | CTRL_GIO_MD);
    wr(d, REG_CTRL, ctrl | CTRL_SLU);
    return 0;
}

/* One NVM word through EERD (§10.2.2.3), bounded. -1 on timeout. */
static int nvm_read(struct e1000e_dev *d, uint32_t word) {
    wr(d, REG_EERD, word << EERD_ADDR_SHIFT | EERD_START);
    if (!wait_reg(d, REG_EERD, EERD_DONE, EERD_DONE, WAIT_NVM_US))
        return -1;
    return (int)(rd(d, REG_EERD) >> 16);
}

static bool mac_valid(const uint8_t m[6]) {
    static const uint8_t zero[6];
    return !(m[0] & 1) && memcmp(m, zero, 6) != 0; /* not multicast/broadcast, not zero */
}

/* The MAC from RAL0/RAH0, or the NVM when RAH0.AV is clear; also programs RAL0/RAH0. */
static int read_mac(struct e1000e_dev *d) {
    uint8_t *m = d->nif.mac;
    uint32_t ral = rd(d, REG_RAL0), rah = rd(d, REG_RAH0);
    for (int i = 0; i < 4; i++)
        m[i] = (uint8_t)(ral >> (8 * i));
    m[4] = (uint8_t)rah;
    m[5] = (uint8_t)(rah >> 8);
    if (!(rah & RAH_AV) || !mac_valid(m)) {
        for (uint32_t w = 0; w < 3; w++) {
            int v = nvm_read(d, w);
            if (v < 0) {
                pr_err("%s: NVM read of word %u timed out\n", d->nif.name, w);
                return -KETIMEDOUT;
            }
            m[2 * w] = (uint8_t)v;
            m[2 * w + 1] = (uint8_t)(v >> 8);
        }
        if (!mac_valid(m)) {
            pr_err("%s: no valid MAC address in RAL0/RAH0 or the NVM\n", d->nif.name);
            return -KEIO;
        }
    }
    wr(d, REG_RAL0, (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24);
    wr(d, REG_RAH0, (uint32_t)m[4] | (uint32_t)m[5] << 8 | RAH_AV);
    return 0;
}

/* ---- receive ---- */

static void rx_frame(struct e1000e_dev *d, const uint8_t *buf, uint32_t len) {
    bool (*tap)(struct netif *, const uint8_t *, uint32_t) = e1000e_rx_tap;
    if (tap && tap(&d->nif, buf, len))
        return;
    struct pkt *p = pkt_alloc(len);
    uint8_t *dst = p ? pkt_put(p, len) : NULL;
    if (!dst) {
        if (p)
            pkt_free(p);
        d->rx_no_mem++;
        d->nif.stats.rx_dropped++;
        return;
    }
    memcpy(dst, buf, len);
    p->netif = &d->nif;
    p->timestamp_ns = time_ns();
    netif_receive(&d->nif, p);
}

/* netif_ops.poll: called by net_poller (a test may call it too: a second caller gets 0). */
static int e1000e_poll(struct netif *nif, int budget) {
    struct e1000e_dev *d = nif->priv;
    if (__atomic_exchange_n(&d->polling, 1, __ATOMIC_ACQUIRE))
        return 0;
    uint32_t icr = rd(d, REG_ICR);       /* clears it with MSI; the write clears it with MSI-X */
    if (icr && icr != 0xffffffffu)
        wr(d, REG_ICR, icr);
    int n = 0;
    bool any = false;
    while (n < budget) {
        volatile struct rx_desc *rd_ = &d->rx[d->rx_next];
        uint8_t status = rd_->status;
        if (!(status & RXS_DD))
            break;
        __atomic_thread_fence(__ATOMIC_ACQUIRE); /* read the rest after DD */
        uint32_t len = rd_->length;
        uint8_t errors = rd_->errors;
        const uint8_t *buf = d->rx_buf + (size_t)d->rx_next * BUF_SIZE;
        if (d->rx_discard || !(status & RXS_EOP) || (errors & RXE_FRAME) || len < ETH_HLEN || len > BUF_SIZE) {
            d->rx_bad++;
            d->nif.stats.rx_errors++;
            d->rx_discard = !(status & RXS_EOP); /* drop every piece up to the last */
        } else {
            rx_frame(d, buf, len);
            n++;
        }
        rd_->status = 0;
        d->rx_next = (d->rx_next + 1) % RX_RING;
        any = true;
    }
    if (any) {
        __atomic_thread_fence(__ATOMIC_RELEASE);
        wr(d, REG_RDT, (d->rx_next + RX_RING - 1) % RX_RING); /* give the cleaned ones back */
    }
    __atomic_store_n(&d->polling, 0, __ATOMIC_RELEASE);
    /* Budget used up: stay masked (net_poller comes back). Else the ring is empty: re-arm;
     * a frame that arrived since the check raises its cause again at once. */
    if (n < budget && d->vector >= 0)
        wr(d, REG_IMS, d->irq_mask);
    return n;
}

static void e1000e_irq(struct irq_frame *f, void *arg) {
    (void)f;
    struct e1000e_dev *d = arg;
    d->interrupts++;
    wr(d, REG_IMC, 0xffffffffu);         /* masked until poll() has emptied the ring */
    netif_rx_ready(&d->nif);
}

/* Fallback without interrupts: wakes the poller when the next descriptor is done. */
static void poll_timer_fn(struct ktimer *t, void *arg) {
    struct e1000e_dev *d = arg;
    if (d->rx[d->rx_next].status & RXS_DD)
        netif_rx_ready(&d->nif);
    ktimer_start(t, time_ns() + POLL_PERIOD_NS, poll_timer_fn, d);
}

/* ---- transmit ---- */

static void tx_reclaim(struct e1000e_dev *d) {
    while (d->tx_clean != d->tx_tail && (d->tx[d->tx_clean].sta & TXS_DD))
        d->tx_clean = (d->tx_clean + 1) % TX_RING;
}

/* netif_ops.transmit: copies the frame into the ring (taking ownership of p). */
static int e1000e_transmit(struct netif *nif, struct pkt *p) {
    struct e1000e_dev *d = nif->priv;
    int r = 0;
    if (!p)
        return -KEINVAL;
    uint32_t len = p->len;
    if (len < ETH_HLEN)
        r = -KEINVAL;
    else if (len > MAX_TX_FRAME)
        r = -KEMSGSIZE;   /* link state: netif_transmit asks link_up() before calling this */
    if (r == 0) {
        uint64_t fl = spin_lock_irqsave(&d->tx_lock);
        tx_reclaim(d);
        uint32_t slot = d->tx_tail, next = (slot + 1) % TX_RING;
        if (next == d->tx_clean) {
            d->tx_ring_full++;
            r = -KENOBUFS;
        } else {
            uint8_t *buf = d->tx_buf + (size_t)slot * BUF_SIZE;
            memcpy(buf, p->data, len);
            if (len < MIN_FRAME) {
                memset(buf + len, 0, MIN_FRAME - len);
                len = MIN_FRAME;
            }
            volatile struct tx_desc *t = &d->tx[slot];
            t->addr = d->tx_buf_phys + (uint64_t)slot * BUF_SIZE;
            t->length = (uint16_t)len;
            t->cso = 0;
            t->css = 0;
            t->special = 0;
            t->sta = 0;
            t->cmd = TXC_EOP | TXC_IFCS | TXC_RS;
            __atomic_thread_fence(__ATOMIC_RELEASE); /* descriptor before the tail */
            d->tx_tail = next;
            wr(d, REG_TDT, next);
        }
        spin_unlock_irqrestore(&d->tx_lock, fl);
    }
    pkt_free(p);
    return r;
}

static bool e1000e_link_up(struct netif *nif) {
    struct e1000e_dev *d = nif->priv;
    uint32_t s = rd(d, REG_STATUS);
    return s != 0xffffffffu && (s & STATUS_LU);
}

static const struct netif_ops e1000e_ops = {
    .transmit = e1000e_transmit,
    .poll = e1000e_poll,
    .link_up = e1000e_link_up,
};

/* ---- setup ---- */

static int alloc_rings(struct e1000e_dev *d) {
    phys_addr_t rx_phys = d->rx_phys = pmm_alloc_contig(1, PAGE_SIZE); /* RX_RING * 16 = 4096 */
    phys_addr_t tx_phys = d->tx_phys = pmm_alloc_contig(1, PAGE_SIZE); /* TX_RING * 16 = 2048 */
    d->rx_buf_phys = pmm_alloc_contig(RX_RING * BUF_SIZE / PAGE_SIZE, PAGE_SIZE);
    d->tx_buf_phys = pmm_alloc_contig(TX_RING * BUF_SIZE / PAGE_SIZE, PAGE_SIZE);
    if (!rx_phys || !tx_phys || !d->rx_buf_phys || !d->tx_buf_phys)
        return -KENOMEM; /* what was allocated stays: the probe gives up on this device */
    d->rx = phys_to_virt(rx_phys);
    d->tx = phys_to_virt(tx_phys);
    d->rx_buf = phys_to_virt(d->rx_buf_phys);
    d->tx_buf = phys_to_virt(d->tx_buf_phys);
    memset((void *)d->rx, 0, PAGE_SIZE);
    memset((void *)d->tx, 0, PAGE_SIZE);
    for (uint32_t i = 0; i < RX_RING; i++)
        d->rx[i].addr = d->rx_buf_phys + (uint64_t)i * BUF_SIZE;
    return 0;
}

/* §4.6.5-4.6.6: receive and transmit rings and their control registers. */
static void start_rings(struct e1000e_dev *d) {
    for (int i = 0; i < 128; i++)
        wr(d, REG_MTA + 4u * (uint32_t)i, 0);
    phys_addr_t rx_phys = d->rx_phys, tx_phys = d->tx_phys;
    wr(d, REG_RDBAL, (uint32_t)rx_phys);
    wr(d, REG_RDBAH, (uint32_t)(rx_phys >> 32));
    wr(d, REG_RDLEN, RX_RING * sizeof(struct rx_desc));
    wr(d, REG_RDH, 0);
    wr(d, REG_RDT, RX_RING - 1);
    wr(d, REG_RDTR, 0);
    wr(d, REG_RADV, 0);
    wr(d, REG_ITR, 0);
    d->rx_next = 0;
    wr(d, REG_RCTL, RCTL_EN | RCTL_BAM | RCTL_MPE | RCTL_SECRC);

    wr(d, REG_TDBAL, (uint32_t)tx_phys);
    wr(d, REG_TDBAH, (uint32_t)(tx_phys >> 32));
    wr(d, REG_TDLEN, TX_RING * sizeof(struct tx_desc));
    wr(d, REG_TDH, 0);
    wr(d, REG_TDT, 0);
    d->tx_tail = d->tx_clean = 0;
    wr(d, REG_TXDCTL, TXDCTL_VALUE);
    wr(d, REG_TIPG, TIPG_VALUE);
    wr(d, REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD | TCTL_RTLC);
}

/* MSI, else MSI-X entry 0 for every cause; else the polling timer. */
static void setup_interrupt(struct e1000e_dev *d) {
    d->vector = -1;
    if (lapic_active()) {
        int v = irq_alloc_vector();
        if (v >= 0) {
            irq_set_handler((uint8_t)v, e1000e_irq, d, d->nif.name);
            d->irq_mask = ICR_RXT0 | ICR_RXO | ICR_RXDMT0 | ICR_LSC;
            if (pci_enable_msi(d->pci, (uint8_t)v, lapic_id()) == 0) {
                d->vector = v;
            } else if (pci_enable_msix(d->pci, 0, (uint8_t)v, lapic_id()) == 0) {
                d->vector = v;
                d->msix = true;
                wr(d, REG_CTRL_EXT, rd(d, REG_CTRL_EXT) | CTRL_EXT_PBA);
                /* RxQ0, TxQ0 and other causes all on entry 0 (§10.2.4.9) */
                wr(d, REG_IVAR, IVAR_VALID | IVAR_VALID << 8 | IVAR_VALID << 16);
                d->irq_mask |= ICR_RXQ0 | ICR_OTHER;
            } else {
                irq_set_handler((uint8_t)v, NULL, NULL, NULL);
                irq_free_vector(v);
            }
        }
    }
    if (d->vector >= 0) {
        (void)rd(d, REG_ICR);
        wr(d, REG_IMS, d->irq_mask);
    } else {
        ktimer_start(&d->poll_timer, time_ns() + POLL_PERIOD_NS, poll_timer_fn, d);
    }
}

static void pick_name(struct e1000e_dev *d) {
    for (int i = 1; i < 100; i++) {
        ksnprintf(d->nif.name, sizeof(d->nif.name), "eth%d", i);
        if (!netif_find(d->nif.name))
            return;
    }
}

static int probe(struct e1000e_dev *d) {
    const struct pci_bar *bar = &d->pci->bars[0];
    if ((bar->type != PCI_BAR_MEM32 && bar->type != PCI_BAR_MEM64) || bar->size < 0x6000) {
        pr_err("%s: BAR0 is not a usable memory BAR\n", d->nif.name);
        return -KENODEV;
    }
    pci_enable_command(d->pci, PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER);
    d->regs = vmm_map_mmio(bar->base, bar->size);
    if (!d->regs)
        return -KENOMEM;
    d->regs_size = bar->size;
    if (rd(d, REG_STATUS) == 0xffffffffu) {
        pr_err("%s: registers read all ones\n", d->nif.name);
        return -KENODEV;
    }
    int r = dev_reset(d);
    if (r == 0)
        r = read_mac(d);
    if (r == 0)
        r = alloc_rings(d);
    if (r < 0)
        return r;
    start_rings(d);
    setup_interrupt(d);
    return 0;
}

void e1000e_init(void) {
    if (probed)
        return;
    probed = true;
    for (int nth = 0; device_count < E1000E_MAX_DEVICES; nth++) {
        const struct pci_device *pci = pci_find(0x8086, 0x10d3, nth);
        if (!pci)
            break;
        struct e1000e_dev *d = kzalloc(sizeof(*d));
        if (!d) {
            pr_err("e1000e: out of memory\n");
            return;
        }
        d->pci = pci;
        d->index = device_count;
        d->vector = -1;
        spin_init(&d->tx_lock, "e1000e-tx");
        pick_name(d);
        int r = probe(d);
        if (r < 0) {
            pr_err("%s: 82574 at %02x:%02x.%x not usable (error %d)\n", d->nif.name, pci->bus, pci->dev, pci->fn, r);
            if (d->regs) { /* no DMA into memory that may be reused; d stays allocated */
                wr(d, REG_IMC, 0xffffffffu);
                wr(d, REG_RCTL, 0);
                wr(d, REG_TCTL, 0);
            }
            continue;
        }
        d->nif.mtu = 1500;
        d->nif.ops = &e1000e_ops;
        d->nif.priv = d;
        d->nif.flags = NETIF_UP;
        r = netif_register(&d->nif);
        if (r < 0) {
            pr_err("%s: could not register the interface (error %d)\n", d->nif.name, r);
            wr(d, REG_IMC, 0xffffffffu);
            wr(d, REG_RCTL, 0);
            wr(d, REG_TCTL, 0);
            continue;
        }
        devices[device_count++] = d;
        const uint8_t *m = d->nif.mac;
        pr_info("%s: e1000e 82574 at %02x:%02x.%x, MAC %02x:%02x:%02x:%02x:%02x:%02x, %s, link %s\n", d->nif.name,
                pci->bus, pci->dev, pci->fn, m[0], m[1], m[2], m[3], m[4], m[5],
                d->vector < 0 ? "polled" : d->msix ? "MSI-X" : "MSI", e1000e_link_up(&d->nif) ? "up" : "down");
    }
}

struct netif *e1000e_netif(int index) {
    return index >= 0 && index < device_count ? &devices[index]->nif : NULL;
}

int e1000e_get_info(int index, struct e1000e_info *out) {
    if (index < 0 || index >= device_count || !out)
        return -KENODEV;
    struct e1000e_dev *d = devices[index];
    uint64_t fl = spin_lock_irqsave(&d->tx_lock);
    tx_reclaim(d);
    out->tx_in_flight = (d->tx_tail + TX_RING - d->tx_clean) % TX_RING;
    spin_unlock_irqrestore(&d->tx_lock, fl);
    out->vector = d->vector;
    out->msix = d->msix;
    out->rx_ring = RX_RING;
    out->tx_ring = TX_RING;
    out->interrupts = d->interrupts;
    out->tx_ring_full = d->tx_ring_full;
    out->rx_no_mem = d->rx_no_mem;
    out->rx_bad = d->rx_bad;
    return 0;
}

uint32_t e1000e_read_reg(int index, uint32_t off) {
    if (index < 0 || index >= device_count || (off & 3) || (uint64_t)off + 4 > devices[index]->regs_size)
        return 0xffffffffu;
    return rd(devices[index], off);
}
