/* ahci.c: the AHCI (Serial ATA) host bus adapter driver.
 *
 * Follows Serial ATA AHCI 1.3.1: §3.1 HBA registers (CAP, GHC, IS, PI, VS, CAP2, BOHC),
 * §3.3 port registers, §4.2 the per-port memory (1 KiB command list of 32 headers, 256-byte
 * received-FIS area, 128-byte aligned command tables holding the H2D FIS and the PRDT),
 * §5.5 command issue, §6.2.2.1 software error recovery, §10.1.2 initialisation, §10.3 port
 * start/stop, §10.4 HBA reset and COMRESET, §10.6 BIOS/OS handoff. Commands from ATA8-ACS:
 * IDENTIFY DEVICE, READ/WRITE DMA EXT (28-bit READ/WRITE DMA for disks without 48-bit
 * addressing), FLUSH CACHE EXT, PACKET (with the SCSI commands TEST UNIT READY, REQUEST SENSE
 * and READ CAPACITY(10) of SPC-4 / SBC-3 in the command table's ACMD area, §4.2.3).
 *
 * Every implemented port with an established link is probed by signature: SATA disks become
 * block devices sda, sdb, ... (several command slots, multi-entry PRDTs, completion by MSI);
 * ATAPI devices (q35's CD-ROM) get a polled, bounded probe of their medium ("no medium" or
 * "medium of N 2048-byte blocks") and are otherwise left alone, as are port multipliers and
 * enclosure bridges. Every wait on the hardware is bounded and reports its timeout. Without
 * MSI the driver says so and polls its ports every 1 ms with a kernel timer while requests
 * are in flight. A task-file error fails the affected request with -KEIO (logged with the
 * device's status and error), and a work item recovers the port and reissues the other
 * commands. ops->reset stops the port (COMRESET) before it fails the requests in flight, and
 * probe-time buffers are freed only once their port has stopped. */
#include "types.h"
#include "kerrno.h"
#include "kstring.h"
#include "kprintf.h"
#include "printk.h"
#include "mm.h"
#include "pci.h"
#include "irq.h"
#include "time.h"
#include "ktimer.h"
#include "spinlock.h"
#include "wait.h"
#include "sync.h"
#include "sched.h"
#include "workqueue.h"
#include "block.h"
#include "ahci.h"

/* HBA registers (§3.1). */
#define HBA_CAP 0x00
#define HBA_GHC 0x04
#define HBA_IS 0x08
#define HBA_PI 0x0c
#define HBA_VS 0x10
#define HBA_CAP2 0x24
#define HBA_BOHC 0x28
#define CAP_S64A (1u << 31)
#define CAP_SNCQ (1u << 30)
#define CAP_SSS (1u << 27)
#define GHC_HR (1u << 0)
#define GHC_IE (1u << 1)
#define GHC_AE (1u << 31)
#define CAP2_BOH (1u << 0)
#define BOHC_BOS (1u << 0)
#define BOHC_OOS (1u << 1)
#define BOHC_BB (1u << 4)

/* Port registers (§3.3), offsets from 0x100 + port * 0x80. */
#define PX_CLB 0x00
#define PX_CLBU 0x04
#define PX_FB 0x08
#define PX_FBU 0x0c
#define PX_IS 0x10
#define PX_IE 0x14
#define PX_CMD 0x18
#define PX_TFD 0x20
#define PX_SIG 0x24
#define PX_SSTS 0x28
#define PX_SCTL 0x2c
#define PX_SERR 0x30
#define PX_CI 0x38
#define CMD_ST (1u << 0)
#define CMD_SUD (1u << 1)
#define CMD_FRE (1u << 4)
#define CMD_FR (1u << 14)
#define CMD_CR (1u << 15)
#define CMD_CCS(c) (((c) >> 8) & 0x1f)
/* PxIS / PxIE bits (§3.3.5, §3.3.6). */
#define PXIS_DHRS (1u << 0)
#define PXIS_PSS (1u << 1)
#define PXIS_DSS (1u << 2)
#define PXIS_SDBS (1u << 3)
#define PXIS_DPS (1u << 5)
#define PXIS_OFS (1u << 24)
#define PXIS_INFS (1u << 26)
#define PXIS_IFS (1u << 27)
#define PXIS_HBDS (1u << 28)
#define PXIS_HBFS (1u << 29)
#define PXIS_TFES (1u << 30)
#define PXIS_ERRORS (PXIS_TFES | PXIS_HBFS | PXIS_HBDS | PXIS_IFS | PXIS_INFS | PXIS_OFS)
#define PXIE_WANTED (PXIS_DHRS | PXIS_PSS | PXIS_DSS | PXIS_SDBS | PXIS_DPS | PXIS_ERRORS)

#define AHCI_STOP_TIMEOUT_US 500000u   /* §10.1.2: PxCMD.CR / FR clear within 500 ms */
#define AHCI_READY_TIMEOUT_US 1000000u /* device signature / BSY clear at probe */
#define AHCI_HR_TIMEOUT_US 1000000u    /* §10.4.3: GHC.HR clears within 1 s */
#define AHCI_CMD_TIMEOUT_US 2000000u   /* a polled command at probe (IDENTIFY) */
#define AHCI_POLL_NS 1000000ull        /* the no-MSI fallback: 1 ms */
#define TABLE_STRIDE ALIGN_UP(sizeof(struct ahci_cmd_table), 128)

struct ahci_hba;

struct ahci_port {
    struct ahci_hba *hba;
    unsigned num;
    volatile uint32_t *regs;
    phys_addr_t base_phys;              /* command list + received FIS (one page) */
    struct ahci_cmd_header *cmd_list;
    phys_addr_t tables_phys;
    size_t tables_pages;
    struct ahci_cmd_table *tables[32];
    uint32_t slot_mask;                 /* the slots the HBA has */
    spinlock_t lock;                    /* everything below, and PxCI writes */
    uint32_t busy;                      /* slots claimed by a request */
    uint32_t issued;                    /* slots written to PxCI */
    uint32_t pending;                   /* slots waiting for a halted port to run again */
    uint32_t serial;                    /* slots to run one at a time after an error */
    uint32_t quarantine;                /* failed slots kept busy until the port restarts */
    bool halted;                        /* recovery or reset in progress: no issue, no completion */
    bool want_comreset;
    volatile bool dead;                 /* recovery failed: requests get -KEIO */
    struct blk_request *slot_req[32];
    uint8_t slot_cmd[32];
    uint16_t slot_prdtl[32];
    struct wait_queue slot_wq;          /* submitters waiting for a free slot */
    struct mutex recovery_lock;
    struct work recover_work;
    struct ata_identity id;
    struct ahci_port_stats stats;
    struct blk_device blk;
};

struct ahci_hba {
    const struct pci_device *pci;
    int index;
    volatile uint32_t *abar;
    uint32_t cap, pi, vs;
    bool addr64;
    int vector;                         /* MSI vector, or -1: polling */
    char irq_name[12];
    struct ktimer poll_timer;
    volatile bool poll_armed;
    struct ahci_port *ports[32];
};

static int disks_registered;
static const struct blk_driver_ops ahci_ops;

#define HBA_REG(h, r) ((h)->abar[(r) / 4])
#define PX(p, r) ((p)->regs[(r) / 4])

/* Port n's registers: 0x100 + n * 0x80 into the ABAR (§3.3). */
static volatile uint32_t *port_regs(struct ahci_hba *h, unsigned n) {
    return (volatile uint32_t *)((volatile uint8_t *)h->abar + 0x100 + n * 0x80);
}

/* Waits until (*reg & mask) == want, up to timeout_us: short waits spin, longer ones sleep
 * 1 ms at a time (task context only; the driver never waits in an interrupt handler). */
static bool wait_reg(volatile uint32_t *reg, uint32_t mask, uint32_t want, uint64_t timeout_us) {
    uint64_t start = time_ns(), deadline = start + timeout_us * 1000;
    for (;;) {
        if ((*reg & mask) == want) return true;
        uint64_t now = time_ns();
        if (now >= deadline) return (*reg & mask) == want;
        if (now - start < 1000000) udelay(10);
        else task_sleep_ns(1000000);
    }
}

static const char *port_label(struct ahci_port *p, char *buf, size_t size) {
    if (p->blk.name[0]) ksnprintf(buf, size, "%s", p->blk.name);
    else ksnprintf(buf, size, "ahci%d: port %u", p->hba->index, p->num);
    return buf;
}

/* ---- port start, stop and COMRESET (§10.3, §10.4.2) ---- */

static int port_stop(struct ahci_port *p) {
    uint32_t cmd = PX(p, PX_CMD);
    if (cmd & CMD_ST) PX(p, PX_CMD) = cmd & ~CMD_ST;
    if (!wait_reg(&PX(p, PX_CMD), CMD_CR, 0, AHCI_STOP_TIMEOUT_US)) {
        char l[32];
        printk(LOG_ERR, "%s: command list did not stop within 500 ms (PxCMD 0x%08x)\n",
               port_label(p, l, sizeof(l)), PX(p, PX_CMD));
        return -KETIMEDOUT;
    }
    return 0;
}

static int port_stop_fis(struct ahci_port *p) {
    uint32_t cmd = PX(p, PX_CMD);
    if (cmd & CMD_FRE) PX(p, PX_CMD) = cmd & ~CMD_FRE;
    if (!wait_reg(&PX(p, PX_CMD), CMD_FR, 0, AHCI_STOP_TIMEOUT_US)) {
        char l[32];
        printk(LOG_ERR, "%s: FIS receive did not stop within 500 ms (PxCMD 0x%08x)\n",
               port_label(p, l, sizeof(l)), PX(p, PX_CMD));
        return -KETIMEDOUT;
    }
    return 0;
}

static int port_start(struct ahci_port *p) {
    if (!wait_reg(&PX(p, PX_CMD), CMD_CR, 0, AHCI_STOP_TIMEOUT_US)) return -KETIMEDOUT;
    PX(p, PX_CMD) = PX(p, PX_CMD) | CMD_FRE;
    PX(p, PX_CMD) = PX(p, PX_CMD) | CMD_ST;
    return 0;
}

static int port_comreset(struct ahci_port *p) {
    char l[32];
    uint32_t sctl = PX(p, PX_SCTL) & ~0xfu;
    PX(p, PX_SCTL) = sctl | 0x300 | 1; /* DET = 1: COMRESET; IPM = 3: no partial/slumber */
    udelay(1000);                       /* §10.4.2: hold at least 1 ms */
    PX(p, PX_SCTL) = sctl | 0x300;
    if (!wait_reg(&PX(p, PX_SSTS), 0xf, 3, 100000)) {
        printk(LOG_ERR, "%s: no link after COMRESET (PxSSTS 0x%08x)\n", port_label(p, l, sizeof(l)),
               PX(p, PX_SSTS));
        return -KETIMEDOUT;
    }
    PX(p, PX_SERR) = 0xffffffffu;
    if (!(PX(p, PX_CMD) & CMD_FRE)) PX(p, PX_CMD) = PX(p, PX_CMD) | CMD_FRE;
    if (!wait_reg(&PX(p, PX_TFD), ATA_STS_BSY | ATA_STS_DRQ, 0, AHCI_READY_TIMEOUT_US)) {
        printk(LOG_ERR, "%s: device still busy 1000 ms after COMRESET (status 0x%02x)\n",
               port_label(p, l, sizeof(l)), PX(p, PX_TFD) & 0xff);
        return -KETIMEDOUT;
    }
    PX(p, PX_SERR) = 0xffffffffu;
    PX(p, PX_IS) = 0xffffffffu;
    return 0;
}

/* A slot whose command must not run (failed, aborted, or waiting for its turn after an
 * error) while the HBA may still hold its PxCI bit: QEMU keeps PxCI bits across a port stop
 * and runs them when the port starts again. An empty FIS type makes it a no-op there;
 * slot_restore makes it a real command again. */
static void slot_neutralize(struct ahci_port *p, unsigned slot) {
    p->tables[slot]->cfis[0] = 0;
    p->cmd_list[slot].prdtl = 0;
}

static void slot_restore(struct ahci_port *p, unsigned slot) {
    p->tables[slot]->cfis[0] = 0x27;
    p->cmd_list[slot].prdtl = p->slot_prdtl[slot];
    p->cmd_list[slot].prdbc = 0;
}

/* Writes PxCI for the slots in mask (lock held). */
static void issue(struct ahci_port *p, uint32_t mask) {
    p->issued |= mask;
    __asm__ volatile("" ::: "memory"); /* the tables are in memory before the HBA is told */
    PX(p, PX_CI) = mask;
    uint32_t in_flight = (uint32_t)__builtin_popcount(p->issued);
    if (in_flight > p->stats.max_in_flight) p->stats.max_in_flight = in_flight;
}

/* After an error the commands that were outstanding run one at a time, so that a command
 * failing again is known for sure; this issues the next one when nothing is in flight. */
static void issue_next_serial(struct ahci_port *p) {
    if (p->issued || !p->serial || p->halted) return;
    unsigned slot = (unsigned)__builtin_ctz(p->serial);
    p->serial &= ~(1u << slot);
    slot_restore(p, slot);
    issue(p, 1u << slot);
}

/* Takes every request out of the slots in mask (lock held) and frees the slots; returns how
 * many. Only called for requests proven complete or once the port has been stopped (or
 * COMRESET tried when it would not stop). */
static int take_requests(struct ahci_port *p, uint32_t mask, struct blk_request **out) {
    int n = 0;
    for (unsigned s = 0; s < 32; s++) {
        if (!(mask & (1u << s)) || !p->slot_req[s]) continue;
        out[n++] = p->slot_req[s];
        p->slot_req[s] = NULL;
        slot_neutralize(p, s);
        p->busy &= ~(1u << s);
        p->issued &= ~(1u << s);
        p->pending &= ~(1u << s);
        p->serial &= ~(1u << s);
    }
    return n;
}

static void complete_requests(struct ahci_port *p, struct blk_request **reqs, int n, int status) {
    for (int i = 0; i < n; i++) blk_complete(reqs[i], status);
    if (n) wake_up_all(&p->slot_wq);
}

/* Slots whose transfer is known complete: reads and writes whose PRDBC is the full length. */
static uint32_t proven_complete(struct ahci_port *p, uint32_t slots) {
    uint32_t ok = 0;
    for (unsigned s = 0; s < 32; s++) {
        struct blk_request *req = p->slot_req[s];
        if (!(slots & (1u << s)) || !req || req->op == BLK_OP_FLUSH) continue;
        if (p->cmd_list[s].prdbc == req->count * p->blk.sector_size) ok |= 1u << s;
    }
    return ok;
}

/* Waits (bounded) until PxCI has not changed for 5 ms: an HBA that goes on after an error
 * (QEMU does) finishes what it started before the port is stopped under it. */
static uint32_t quiesce(struct ahci_port *p) {
    uint32_t ci = PX(p, PX_CI);
    uint64_t deadline = time_ns() + 200000000ull;
    for (int stable = 0; stable < 5 && time_ns() < deadline;) {
        task_sleep_ns(1000000);
        uint32_t now = PX(p, PX_CI);
        stable = now == ci ? stable + 1 : 0;
        ci = now;
    }
    return ci;
}

/* Brings a halted port back (§6.2.2.1): let it settle, complete what finished meanwhile,
 * stop, clear PxSERR and PxIS, COMRESET when asked or when the device is stuck busy, start,
 * then reissue what is left one command at a time. abort_all fails every request instead
 * (ops->reset). A port that cannot be brought back is marked dead. */
static void port_restart(struct ahci_port *p, bool comreset, bool abort_all) {
    struct blk_request *reqs[32];
    int n = 0;
    char l[32];
    uint64_t fl = spin_lock_irqsave(&p->lock);
    p->halted = true; /* from here on the interrupt handler leaves PxCI to us */
    spin_unlock_irqrestore(&p->lock, fl);
    uint32_t ci = comreset ? PX(p, PX_CI) : quiesce(p);
    fl = spin_lock_irqsave(&p->lock);
    n = take_requests(p, proven_complete(p, p->issued & ~ci), reqs);
    spin_unlock_irqrestore(&p->lock, fl);
    complete_requests(p, reqs, n, 0);
    int r = port_stop(p);
    PX(p, PX_SERR) = 0xffffffffu;
    PX(p, PX_IS) = 0xffffffffu;
    if (r < 0 || comreset || (PX(p, PX_TFD) & (ATA_STS_BSY | ATA_STS_DRQ))) {
        p->stats.comresets++;
        r = port_comreset(p);
    }
    fl = spin_lock_irqsave(&p->lock);
    n = abort_all ? take_requests(p, p->busy, reqs) : 0;
    for (unsigned s = 0; s < 32; s++)
        if (p->slot_req[s]) slot_neutralize(p, s); /* stale PxCI bits must not run them */
    spin_unlock_irqrestore(&p->lock, fl);
    complete_requests(p, reqs, n, -KEIO);
    if (r == 0) r = port_start(p);
    fl = spin_lock_irqsave(&p->lock);
    n = 0;
    p->busy &= ~p->quarantine; /* stopped, and stale PxCI bits dropped: the slots are free */
    p->quarantine = 0;
    if (r < 0) {
        p->dead = true;
        n = take_requests(p, p->busy, reqs);
    } else {
        uint32_t again = 0;
        for (unsigned s = 0; s < 32; s++)
            if (p->slot_req[s]) again |= 1u << s;
        p->serial = again;
        p->issued = p->pending = 0;
        p->dead = false;
        p->halted = false;
        p->want_comreset = false;
        issue_next_serial(p);
    }
    spin_unlock_irqrestore(&p->lock, fl);
    if (r < 0)
        printk(LOG_ERR, "%s: port %u could not be recovered; the disk is offline\n", port_label(p, l, sizeof(l)),
               p->num);
    complete_requests(p, reqs, n, -KEIO);
    wake_up_all(&p->slot_wq);
}

/* Takes the recovery lock whatever happens: a killed task's sleeps return -KEINTR at once,
 * so it then yields instead; the holder (a recovery in progress) finishes within its own
 * bounded waits. Used where giving up would leave the port running with requests the caller
 * is about to forget. */
static void recovery_lock_uninterruptible(struct ahci_port *p) {
    while (!mutex_trylock(&p->recovery_lock))
        if (task_sleep_ns(1000000) < 0) task_yield();
}

static void recover_work_fn(struct work *w) {
    struct ahci_port *p = container_of(w, struct ahci_port, recover_work);
    recovery_lock_uninterruptible(p);
    if (p->halted) {
        p->stats.recoveries++;
        port_restart(p, p->want_comreset, false);
    }
    mutex_unlock(&p->recovery_lock);
}

/* ---- completion (interrupt handler and the polling fallback) ---- */

static void log_error(struct ahci_port *p, uint32_t pis, uint32_t tfd, uint32_t failed, uint32_t unsure) {
    char desc[80];
    ata_describe_taskfile((uint8_t)tfd, (uint8_t)(tfd >> 8), desc, sizeof(desc));
    for (unsigned s = 0; s < 32; s++) {
        struct blk_request *req = p->slot_req[s];
        if (!(failed & (1u << s)) || !req) continue;
        printk(LOG_ERR, "%s: ATA error: %s on %s lba %llu\n", p->blk.name, desc, ata_command_name(p->slot_cmd[s]),
               (unsigned long long)req->lba);
    }
    if (!failed)
        printk(LOG_ERR, "%s: ATA error: %s; not known which of %d outstanding commands failed: they are retried "
               "one at a time\n", p->blk.name, desc, __builtin_popcount(unsure));
    if (pis & (PXIS_ERRORS & ~PXIS_TFES))
        printk(LOG_ERR, "%s: interface or host bus error: PxIS 0x%08x PxSERR 0x%08x\n", p->blk.name, pis,
               PX(p, PX_SERR));
}

static void port_service(struct ahci_port *p, bool by_interrupt) {
    struct blk_request *done[32];
    int status[32], n = 0;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    uint32_t pis = PX(p, PX_IS);
    if (pis) PX(p, PX_IS) = pis;
    if (p->halted || (!p->issued && !(pis & PXIS_ERRORS))) {
        spin_unlock_irqrestore(&p->lock, fl);
        return;
    }
    uint32_t ci = PX(p, PX_CI), finished, failed = 0;
    if (pis & PXIS_ERRORS) {
        uint32_t tfd = PX(p, PX_TFD);
        uint32_t proven = proven_complete(p, p->issued & ~ci);
        failed = ahci_failed_slots(p->issued, ci, proven);
        finished = proven | failed;
        p->stats.ata_errors++;
        log_error(p, pis, tfd, failed, p->issued & ~finished);
        p->halted = true; /* the rest stays in p->issued for port_restart */
        work_queue(&p->recover_work);
    } else {
        finished = p->issued & ~ci;
    }
    p->issued &= ~finished;
    for (unsigned s = 0; s < 32; s++) {
        if (!(finished & (1u << s)) || !p->slot_req[s]) continue;
        struct blk_request *req = p->slot_req[s];
        /* PRDBC is valid for non-queued commands when they finish (§4.2.2): a transfer
         * shorter than asked (a PRDT that ran out) must not pass for success. */
        uint32_t want = req->op == BLK_OP_FLUSH ? 0 : req->count * p->blk.sector_size;
        if (!(failed & (1u << s)) && p->cmd_list[s].prdbc != want) {
            printk(LOG_ERR, "%s: short transfer: %u of %u bytes on %s lba %llu\n", p->blk.name,
                   p->cmd_list[s].prdbc, want, ata_command_name(p->slot_cmd[s]), (unsigned long long)req->lba);
            failed |= 1u << s;
        }
        done[n] = req;
        status[n++] = (failed & (1u << s)) ? -KEIO : 0;
        p->slot_req[s] = NULL;
        if (failed & (1u << s)) slot_neutralize(p, s);
        if (p->halted && (failed & (1u << s))) p->quarantine |= 1u << s; /* PxCI may keep it */
        else p->busy &= ~(1u << s);
    }
    issue_next_serial(p);
    spin_unlock_irqrestore(&p->lock, fl);
    for (int i = 0; i < n; i++) {
        if (by_interrupt) __atomic_fetch_add(&p->blk.interrupts, 1, __ATOMIC_RELAXED);
        blk_complete(done[i], status[i]);
    }
    if (n) wake_up_all(&p->slot_wq);
}

static void ahci_irq(struct irq_frame *f, void *arg) {
    (void)f;
    struct ahci_hba *h = arg;
    for (int round = 0; round < 4; round++) {
        uint32_t is = HBA_REG(h, HBA_IS);
        if (!is) break;
        for (unsigned i = 0; i < 32; i++) {
            if (!(is & (1u << i))) continue;
            struct ahci_port *p = h->ports[i];
            if (p && p->blk.ops) {
                port_service(p, true);
            } else {
                volatile uint32_t *r = port_regs(h, i); /* not ours to handle: just clear it */
                r[PX_IS / 4] = r[PX_IS / 4];
            }
        }
        HBA_REG(h, HBA_IS) = is; /* after the port bits (§5.6.4) */
    }
}

static void poll_arm(struct ahci_hba *h);

static void poll_tick(struct ktimer *t, void *arg) {
    (void)t;
    struct ahci_hba *h = arg;
    for (unsigned i = 0; i < 32; i++)
        if (h->ports[i] && h->ports[i]->blk.ops) port_service(h->ports[i], false);
    __atomic_store_n(&h->poll_armed, false, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < 32; i++)
        if (h->ports[i] && __atomic_load_n(&h->ports[i]->busy, __ATOMIC_SEQ_CST)) {
            poll_arm(h);
            break;
        }
}

static void poll_arm(struct ahci_hba *h) {
    if (!__atomic_exchange_n(&h->poll_armed, true, __ATOMIC_SEQ_CST))
        ktimer_start(&h->poll_timer, time_ns() + AHCI_POLL_NS, poll_tick, h);
}

/* ---- requests ---- */

static int claim_slot(struct ahci_port *p) {
    uint64_t fl = spin_lock_irqsave(&p->lock);
    uint32_t free = p->slot_mask & ~p->busy;
    int slot = -1;
    if (free) {
        slot = __builtin_ctz(free);
        p->busy |= 1u << slot;
    }
    spin_unlock_irqrestore(&p->lock, fl);
    return slot;
}

static void release_slot(struct ahci_port *p, int slot) {
    uint64_t fl = spin_lock_irqsave(&p->lock);
    p->busy &= ~(1u << slot);
    spin_unlock_irqrestore(&p->lock, fl);
    wake_up_all(&p->slot_wq);
}

static int ahci_submit(struct blk_device *dev, struct blk_request *req) {
    struct ahci_port *p = dev->priv;
    const struct ata_identity *id = &p->id;
    uint8_t cmd;
    bool write = false;
    if (p->dead) return -KEIO;
    switch (req->op) {
    case BLK_OP_READ: cmd = id->lba48 ? ATA_CMD_READ_DMA_EXT : ATA_CMD_READ_DMA; break;
    case BLK_OP_WRITE: cmd = id->lba48 ? ATA_CMD_WRITE_DMA_EXT : ATA_CMD_WRITE_DMA; write = true; break;
    case BLK_OP_FLUSH: cmd = id->flush_ext ? ATA_CMD_FLUSH_CACHE_EXT : ATA_CMD_FLUSH_CACHE; break;
    default: return -KEINVAL;
    }
    struct dma_seg segs[AHCI_PRDT_ENTRIES];
    int nseg = 0;
    if (req->op != BLK_OP_FLUSH) {
        /* The LBA is not checked against the capacity: the device does that (and the block
         * layer before it); only what the FIS cannot carry is refused. */
        if (!req->buf || req->count == 0 || req->count > dev->max_sectors) return -KEINVAL;
        if (req->lba >= (id->lba48 ? 1ull << 48 : 1ull << 28)) return -KEINVAL;
        nseg = blk_dma_segments(req->buf, (size_t)req->count * dev->sector_size, segs, AHCI_PRDT_ENTRIES);
        if (nseg < 0) return -KEINVAL;
    }
    int slot = -1;
    int w = wait_event_killable_timeout(&p->slot_wq, (slot = claim_slot(p)) >= 0, BLK_TIMEOUT_NS);
    if (w <= 0) return w == 0 ? -KEBUSY : w;
    struct ahci_cmd_table *t = p->tables[slot];
    int nprd = 0;
    if (nseg) {
        nprd = ahci_build_prdt(segs, nseg, t->prdt, AHCI_PRDT_ENTRIES, p->hba->addr64);
        if (nprd < 0) {
            release_slot(p, slot);
            printk(LOG_ERR, "%s: buffer %p cannot be described for DMA (odd address or above 4 GiB)\n", dev->name,
                   req->buf);
            return -KEINVAL;
        }
    }
    ahci_fill_h2d_fis(t->cfis, cmd, req->lba, req->op == BLK_OP_FLUSH ? 0 : (uint16_t)req->count);
    struct ahci_cmd_header *hdr = &p->cmd_list[slot];
    hdr->flags = (uint16_t)(AHCI_HDR_CFL_H2D | (write ? AHCI_HDR_WRITE : 0));
    hdr->prdtl = (uint16_t)nprd;
    hdr->prdbc = 0;
    p->slot_cmd[slot] = cmd;
    p->slot_prdtl[slot] = (uint16_t)nprd;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    if (p->dead) {
        p->busy &= ~(1u << slot);
        spin_unlock_irqrestore(&p->lock, fl);
        return -KEIO;
    }
    p->slot_req[slot] = req;
    if (p->halted) {
        p->pending |= 1u << slot;
    } else if (p->serial) {
        p->serial |= 1u << slot; /* after an error: behind the commands being retried */
        issue_next_serial(p);
    } else {
        issue(p, 1u << slot);
    }
    spin_unlock_irqrestore(&p->lock, fl);
    if (p->hba->vector < 0) poll_arm(p->hba);
    return 0;
}

/* ops->reset after a timeout: COMRESET the port and fail everything in flight with -KEIO.
 * The block layer's contract is that once reset returns the driver never touches those
 * requests again, so the port must be stopped (no DMA into their buffers any more) before
 * they are failed: port_restart does both in that order, and it runs even for a caller that
 * has been killed (the recovery lock is taken without giving up on -KEINTR). */
static void ahci_reset(struct blk_device *dev) {
    struct ahci_port *p = dev->priv;
    p->stats.resets++;
    printk(LOG_WARN, "%s: resetting port %u (COMRESET)\n", dev->name, p->num);
    uint64_t fl = spin_lock_irqsave(&p->lock);
    p->halted = true;
    p->want_comreset = true;
    spin_unlock_irqrestore(&p->lock, fl);
    recovery_lock_uninterruptible(p);
    port_restart(p, true, true);
    mutex_unlock(&p->recovery_lock);
}

static const struct blk_driver_ops ahci_ops = {ahci_submit, ahci_reset};

int ahci_get_port_stats(const struct blk_device *dev, struct ahci_port_stats *out) {
    if (!dev || dev->ops != &ahci_ops || !out) return -KEINVAL;
    const struct ahci_port *p = dev->priv;
    *out = p->stats;
    out->slots = (uint32_t)__builtin_popcount(p->slot_mask);
    out->msi = p->hba->vector >= 0;
    out->port = p->num;
    return 0;
}

int ahci_clear_max_in_flight(struct blk_device *dev) {
    if (!dev || dev->ops != &ahci_ops) return -KEINVAL;
    struct ahci_port *p = dev->priv;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    p->stats.max_in_flight = 0;
    spin_unlock_irqrestore(&p->lock, fl);
    return 0;
}

int ahci_disk_count(void) { return disks_registered; }

/* ---- probe ---- */

/* Issues the command prepared in slot 0 (table and header) and polls, bounded, until PxCI
 * drops it or the port reports an error. Returns 0; -KEIO on a task-file or interface error
 * (PxIS error bits, or ERR in the status); -KETIMEDOUT when the command is still issued at
 * the deadline. *tfd_out and *is_out get PxTFD and PxIS. After anything but 0 the caller must
 * stop the port (§6.2.2.1) before it frees or reuses what the command points to. */
static int slot0_run_polled(struct ahci_port *p, uint64_t timeout_us, uint32_t *tfd_out, uint32_t *is_out) {
    PX(p, PX_IS) = 0xffffffffu;
    __asm__ volatile("" ::: "memory");
    PX(p, PX_CI) = 1;
    uint64_t start = time_ns(), deadline = start + timeout_us * 1000ull;
    for (;;) {
        /* PxCI first: an error reported before the slot left PxCI is then seen in PxIS. */
        uint32_t ci = PX(p, PX_CI);
        uint32_t is = PX(p, PX_IS), tfd = PX(p, PX_TFD);
        *tfd_out = tfd;
        *is_out = is;
        if (is & PXIS_ERRORS) return -KEIO;
        if (!(ci & 1)) return (tfd & ATA_STS_ERR) ? -KEIO : 0;
        uint64_t now = time_ns();
        if (now >= deadline) return -KETIMEDOUT;
        if (now - start < 1000000) udelay(10);
        else task_sleep_ns(1000000);
    }
}

/* Runs one ATA command in slot 0 at probe time (port interrupts off), polling with a bound;
 * errors and the timeout are logged. 0, -KEINVAL, -KEIO or -KETIMEDOUT (see above). */
static int port_exec_polled(struct ahci_port *p, uint8_t command, phys_addr_t buf, uint32_t len) {
    struct ahci_cmd_table *t = p->tables[0];
    struct dma_seg seg = {buf, len};
    int nprd = len ? ahci_build_prdt(&seg, 1, t->prdt, AHCI_PRDT_ENTRIES, p->hba->addr64) : 0;
    if (nprd < 0) return -KEINVAL;
    ahci_fill_h2d_fis(t->cfis, command, 0, 0);
    p->cmd_list[0].flags = AHCI_HDR_CFL_H2D;
    p->cmd_list[0].prdtl = (uint16_t)nprd;
    p->cmd_list[0].prdbc = 0;
    uint32_t tfd, is;
    int r = slot0_run_polled(p, AHCI_CMD_TIMEOUT_US, &tfd, &is);
    char l[32];
    if (r == -KEIO) {
        char desc[80];
        ata_describe_taskfile((uint8_t)tfd, (uint8_t)(tfd >> 8), desc, sizeof(desc));
        printk(LOG_ERR, "%s: %s failed: %s (PxIS 0x%08x)\n", port_label(p, l, sizeof(l)), ata_command_name(command),
               desc, is);
    } else if (r == -KETIMEDOUT) {
        printk(LOG_ERR, "%s: %s did not complete within %u ms (status 0x%02x); port skipped\n",
               port_label(p, l, sizeof(l)), ata_command_name(command), AHCI_CMD_TIMEOUT_US / 1000, tfd & 0xff);
    }
    return r;
}

static bool dma_ok(struct ahci_hba *h, phys_addr_t pa, size_t len) {
    return h->addr64 || pa + len <= (1ull << 32);
}

/* Allocates the command tables of nslots slots (128-byte aligned, zeroed) and points the
 * command headers at them. 0 or -KENOMEM (logged). */
static int tables_setup(struct ahci_port *p, unsigned nslots, const char *l) {
    p->tables_pages = (nslots * TABLE_STRIDE + PAGE_SIZE - 1) / PAGE_SIZE;
    p->tables_phys = pmm_alloc_contig(p->tables_pages, PAGE_SIZE);
    if (!p->tables_phys || !dma_ok(p->hba, p->tables_phys, p->tables_pages * PAGE_SIZE)) {
        printk(LOG_ERR, "%s: no DMA memory for the command tables\n", l);
        if (p->tables_phys) pmm_free_contig(p->tables_phys, p->tables_pages);
        p->tables_phys = 0;
        return -KENOMEM;
    }
    uint8_t *tables = phys_to_virt(p->tables_phys);
    memset(tables, 0, p->tables_pages * PAGE_SIZE);
    for (unsigned s = 0; s < nslots; s++) {
        p->tables[s] = (struct ahci_cmd_table *)(tables + s * TABLE_STRIDE);
        phys_addr_t ta = p->tables_phys + s * TABLE_STRIDE;
        p->cmd_list[s].ctba = (uint32_t)ta;
        p->cmd_list[s].ctbau = (uint32_t)(ta >> 32);
    }
    p->slot_mask = nslots == 32 ? 0xffffffffu : (1u << nslots) - 1;
    return 0;
}

/* The driver is done with a port it probed but does not use: stop its command list first,
 * then free the command tables and the data page (data, 0 for none), because a command still
 * issued (one that timed out) may yet be carried out and write them. When the port does not
 * stop they are leaked instead, and the log says so: a page the HBA can still write into
 * must never go back to the allocator. */
static void port_retire(struct ahci_port *p, phys_addr_t data, const char *l) {
    if (port_stop(p) < 0) {
        printk(LOG_ERR, "%s: the port did not stop, so its command tables%s stay allocated (never reused)\n", l,
               data ? " and data buffer" : "");
        return;
    }
    if (data) pmm_free(data);
    if (p->tables_phys) {
        for (unsigned s = 0; s < 32; s++) {
            if (p->slot_mask & (1u << s)) p->cmd_list[s].ctba = p->cmd_list[s].ctbau = 0;
            p->tables[s] = NULL;
        }
        p->cmd_list[0].prdtl = 0;
        pmm_free_contig(p->tables_phys, p->tables_pages);
        p->tables_phys = 0;
        p->slot_mask = 0;
    }
}

/* Command tables for every slot, then IDENTIFY DEVICE; fills p->id and p->blk. */
static int disk_setup(struct ahci_port *p, unsigned nslots) {
    char l[32];
    port_label(p, l, sizeof(l));
    if (tables_setup(p, nslots, l) < 0) {
        printk(LOG_ERR, "%s: disk skipped\n", l);
        return -KENOMEM;
    }
    PX(p, PX_IE) = 0;
    if (port_start(p) < 0) {
        printk(LOG_ERR, "%s: port did not start; disk skipped\n", l);
        port_retire(p, 0, l);
        return -KETIMEDOUT;
    }
    phys_addr_t idbuf = pmm_alloc();
    if (!idbuf || !dma_ok(p->hba, idbuf, PAGE_SIZE)) {
        printk(LOG_ERR, "%s: no memory for IDENTIFY data; disk skipped\n", l);
        port_retire(p, idbuf, l);
        return -KENOMEM;
    }
    memset(phys_to_virt(idbuf), 0, 512);
    int r = port_exec_polled(p, ATA_CMD_IDENTIFY, idbuf, 512);
    if (r == 0) {
        r = ata_parse_identify(phys_to_virt(idbuf), &p->id);
        if (r < 0)
            printk(LOG_ERR, "%s: IDENTIFY DEVICE data is not usable (no LBA, no capacity or bad checksum); "
                   "disk skipped\n", l);
    }
    if (r < 0) {
        /* The command may still be issued (a timeout): the port stops before idbuf is freed. */
        port_retire(p, idbuf, l);
        return r;
    }
    pmm_free(idbuf); /* IDENTIFY completed: nothing points at it any more */
    struct blk_device *b = &p->blk;
    strlcpy(b->model, p->id.model, sizeof(b->model));
    b->driver = "ahci";
    b->sector_size = p->id.sector_size;
    b->sectors = p->id.sectors;
    b->max_sectors = ahci_max_sectors(b->sector_size, AHCI_PRDT_ENTRIES, p->id.lba48);
    b->priv = p;
    PX(p, PX_IS) = 0xffffffffu;
    PX(p, PX_IE) = PXIE_WANTED;
    return 0;
}

/* ---- ATAPI: is there a medium in the CD-ROM drive? ---- */

#define ATAPI_CMD_TIMEOUT_US 1000000u  /* one polled ATAPI command */
#define ATAPI_PROBE_NS 1000000000ull   /* every TEST UNIT READY attempt together */
#define ATAPI_TUR_ATTEMPTS 16          /* ... and at most this many of them */
#define ATAPI_DATA_BYTES 64u           /* REQUEST SENSE / READ CAPACITY data, in the data page */

/* Sends one SCSI command (cdb, 12 bytes used) with ATA PACKET in slot 0, PIO data-in of up to
 * len bytes into data. 0; -KEIO for CHECK CONDITION or another error (*tfd gets PxTFD: the
 * error register's bits 7:4 hold the sense key), after which the port has been restarted
 * (§6.2.2.1) so the next command can go; -KETIMEDOUT (logged by the caller); -KENXIO when the
 * port could not be restarted after an error (logged here). After -KETIMEDOUT or -KENXIO no
 * further command may be sent: port_retire stops the port. *got gets PRDBC, the bytes
 * transferred. */
static int atapi_exec(struct ahci_port *p, const uint8_t *cdb, phys_addr_t data, uint32_t len, uint32_t *tfd,
                      uint32_t *got) {
    struct ahci_cmd_table *t = p->tables[0];
    memset(t->acmd, 0, sizeof(t->acmd));
    memcpy(t->acmd, cdb, 12);
    struct dma_seg seg = {data, len};
    int nprd = len ? ahci_build_prdt(&seg, 1, t->prdt, AHCI_PRDT_ENTRIES, p->hba->addr64) : 0;
    if (nprd < 0) return -KEINVAL;
    atapi_fill_packet_fis(t->cfis, (uint16_t)len, false);
    p->cmd_list[0].flags = (uint16_t)(AHCI_HDR_CFL_H2D | AHCI_HDR_ATAPI);
    p->cmd_list[0].prdtl = (uint16_t)nprd;
    p->cmd_list[0].prdbc = 0;
    uint32_t is;
    int r = slot0_run_polled(p, ATAPI_CMD_TIMEOUT_US, tfd, &is);
    *got = p->cmd_list[0].prdbc;
    if (r != -KEIO) return r;
    /* §6.2.2.1: after an error the port runs again only once PxCMD.ST has gone 0 and back to
     * 1, with PxSERR and PxIS cleared. The slot is emptied first: some HBAs (QEMU) keep the
     * PxCI bit across the stop and would run the old command again at the start. */
    char l[32];
    if (port_stop(p) < 0) return -KENXIO; /* logged by port_stop */
    slot_neutralize(p, 0);
    PX(p, PX_SERR) = 0xffffffffu;
    PX(p, PX_IS) = 0xffffffffu;
    uint32_t status = PX(p, PX_TFD) & 0xff;
    if ((status & (ATA_STS_BSY | ATA_STS_DRQ)) || port_start(p) < 0 ||
        !wait_reg(&PX(p, PX_CI), 1, 0, ATAPI_CMD_TIMEOUT_US)) {
        printk(LOG_ERR, "%s: ATAPI device, port could not be restarted after an error (status 0x%02x, PxCMD "
               "0x%08x, PxCI 0x%08x)\n", port_label(p, l, sizeof(l)), status, PX(p, PX_CMD), PX(p, PX_CI));
        return -KENXIO;
    }
    return -KEIO;
}

/* Asks for the sense data of the last CHECK CONDITION (tfd: its PxTFD). When REQUEST SENSE
 * itself fails or sends unusable data, the error register's sense key is used (ASC
 * unknown). 0, or -KETIMEDOUT / -KENXIO when the port can take no further command (logged). */
static int atapi_sense(struct ahci_port *p, phys_addr_t data, uint32_t tfd, struct atapi_sense *sense) {
    const uint8_t cdb[12] = {SCSI_REQUEST_SENSE, 0, 0, 0, 18};
    uint32_t tfd2, got = 0;
    memset(phys_to_virt(data), 0, ATAPI_DATA_BYTES);
    int r = atapi_exec(p, cdb, data, 18, &tfd2, &got);
    if (r == 0 && atapi_parse_sense(phys_to_virt(data), MIN(got, 18u), sense) == 0) return 0;
    if (r == -KETIMEDOUT) {
        char l[32];
        printk(LOG_ERR, "%s: ATAPI device, REQUEST SENSE did not complete within %u ms (status 0x%02x)\n",
               port_label(p, l, sizeof(l)), ATAPI_CMD_TIMEOUT_US / 1000, tfd2 & 0xff);
    }
    if (r == -KETIMEDOUT || r == -KENXIO) return r;
    memset(sense, 0, sizeof(*sense));
    sense->key = (uint8_t)((tfd >> 12) & 0xf);
    return 0;
}

static void atapi_describe_sense(const struct atapi_sense *s, char *buf, size_t size) {
    if (s->asc_valid)
        ksnprintf(buf, size, "sense key %u (%s), ASC 0x%02x ASCQ 0x%02x", s->key, atapi_sense_key_name(s->key),
                  s->asc, s->ascq);
    else
        ksnprintf(buf, size, "sense key %u (%s)", s->key, atapi_sense_key_name(s->key));
}

/* TEST UNIT READY until the drive is ready or says it has no medium, then READ CAPACITY(10).
 * 1 with *blocks / *block_size for a medium, 0 for none, -errno after logging why not.
 * "No medium" needs two MEDIUM NOT PRESENT answers in a row: a drive whose disc was just
 * inserted may first answer MEDIUM NOT PRESENT once, then UNIT ATTENTION (medium may have
 * changed), then ready (QEMU's ATAPI model does exactly that after a media change). All the
 * attempts together are bounded by ATAPI_PROBE_NS and ATAPI_TUR_ATTEMPTS. */
static int atapi_medium(struct ahci_port *p, phys_addr_t data, const char *l, uint64_t *blocks,
                        uint32_t *block_size) {
    const uint8_t tur[12] = {SCSI_TEST_UNIT_READY};
    uint64_t deadline = time_ns() + ATAPI_PROBE_NS;
    int no_medium = 0, attempts = 0;
    uint32_t tfd, got;
    char desc[80];
    for (;;) {
        attempts++;
        int r = atapi_exec(p, tur, 0, 0, &tfd, &got);
        if (r == 0) break;
        if (r == -KETIMEDOUT)
            printk(LOG_ERR, "%s: ATAPI device, TEST UNIT READY did not complete within %u ms (status 0x%02x)\n",
                   l, ATAPI_CMD_TIMEOUT_US / 1000, tfd & 0xff);
        if (r != -KEIO) return r;
        struct atapi_sense sense;
        r = atapi_sense(p, data, tfd, &sense);
        if (r < 0) return r;
        enum atapi_tur_verdict v = atapi_tur_verdict(&sense);
        if (v == ATAPI_TUR_NO_MEDIUM && ++no_medium >= 2) return 0;
        if (v != ATAPI_TUR_NO_MEDIUM) no_medium = 0;
        atapi_describe_sense(&sense, desc, sizeof(desc));
        if (v == ATAPI_TUR_FAILED) {
            printk(LOG_ERR, "%s: ATAPI device, TEST UNIT READY failed: %s\n", l, desc);
            return -KEIO;
        }
        if (time_ns() >= deadline || attempts >= ATAPI_TUR_ATTEMPTS) {
            printk(LOG_ERR, "%s: ATAPI device, not ready after %d TEST UNIT READY in %llu ms (last: %s)\n", l,
                   attempts, ATAPI_PROBE_NS / 1000000, desc);
            return -KETIMEDOUT;
        }
        if (v == ATAPI_TUR_RETRY && sense.key == SCSI_SENSE_NOT_READY) task_sleep_ns(10000000); /* spinning up */
    }
    const uint8_t cap[12] = {SCSI_READ_CAPACITY_10};
    memset(phys_to_virt(data), 0, ATAPI_DATA_BYTES);
    int r = atapi_exec(p, cap, data, 8, &tfd, &got);
    if (r == -KEIO) {
        struct atapi_sense sense;
        r = atapi_sense(p, data, tfd, &sense);
        if (r < 0) return r;
        atapi_describe_sense(&sense, desc, sizeof(desc));
        printk(LOG_ERR, "%s: ATAPI device, READ CAPACITY failed: %s\n", l, desc);
        return -KEIO;
    }
    if (r == -KETIMEDOUT)
        printk(LOG_ERR, "%s: ATAPI device, READ CAPACITY did not complete within %u ms (status 0x%02x)\n", l,
               ATAPI_CMD_TIMEOUT_US / 1000, tfd & 0xff);
    if (r < 0) return r;
    const uint8_t *d = phys_to_virt(data);
    r = atapi_parse_capacity(d, MIN(got, 8u), blocks, block_size);
    if (r < 0)
        printk(LOG_ERR, "%s: ATAPI device, READ CAPACITY data not usable (%u bytes: "
               "%02x%02x%02x%02x %02x%02x%02x%02x)\n", l, got, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
    return r < 0 ? r : 1;
}

/* The CD-ROM drive (or another ATAPI device): says in one line whether a medium is in and
 * how large it is, then leaves the port stopped. It is not a block device of ours. */
static void atapi_probe(struct ahci_port *p, const char *l) {
    if (tables_setup(p, 1, l) < 0) {
        printk(LOG_ERR, "%s: ATAPI device, medium not probed\n", l);
        return;
    }
    PX(p, PX_IE) = 0; /* polled: the port's interrupts stay off */
    if (port_start(p) < 0) {
        printk(LOG_ERR, "%s: ATAPI device, port did not start; medium not probed\n", l);
        port_retire(p, 0, l);
        return;
    }
    phys_addr_t data = pmm_alloc();
    if (!data || !dma_ok(p->hba, data, PAGE_SIZE)) {
        printk(LOG_ERR, "%s: ATAPI device, no memory for its data; medium not probed\n", l);
        port_retire(p, data, l);
        return;
    }
    uint64_t blocks = 0;
    uint32_t block_size = 0;
    int r = atapi_medium(p, data, l, &blocks, &block_size);
    if (r == 0) printk(LOG_INFO, "%s: ATAPI device, no medium\n", l);
    else if (r > 0)
        printk(LOG_INFO, "%s: ATAPI device, medium of %llu %u-byte blocks\n", l, (unsigned long long)blocks,
               block_size);
    port_retire(p, data, l);
}

static void probe_port(struct ahci_hba *h, unsigned n) {
    volatile uint32_t *regs = port_regs(h, n);
    uint32_t ssts = regs[PX_SSTS / 4];
    char desc[64];
    if ((ssts & 0xf) == 0) return; /* empty port: nothing to wait for */
    if ((ssts & 0xf) != 3) {
        ahci_describe_ssts(ssts, desc, sizeof(desc));
        printk(LOG_INFO, "ahci%d: port %u: %s (PxSSTS 0x%08x); skipped\n", h->index, n, desc, ssts);
        return;
    }
    struct ahci_port *p = kzalloc(sizeof(*p));
    phys_addr_t base = pmm_alloc();
    if (!p || !base || !dma_ok(h, base, PAGE_SIZE)) {
        printk(LOG_ERR, "ahci%d: port %u: out of memory; skipped\n", h->index, n);
        kfree(p);
        if (base) pmm_free(base);
        return;
    }
    p->hba = h;
    p->num = n;
    p->regs = regs;
    p->base_phys = base;
    spin_init(&p->lock, "ahci-port");
    wait_queue_init(&p->slot_wq, "ahci-slot");
    mutex_init(&p->recovery_lock, "ahci-recovery");
    work_init(&p->recover_work, recover_work_fn);
    char l[32];
    port_label(p, l, sizeof(l));
    /* §10.1.2: the port must be idle before its memory is set. */
    if (port_stop(p) < 0 || port_stop_fis(p) < 0) {
        printk(LOG_ERR, "%s: port did not become idle; skipped\n", l);
        pmm_free(base);
        kfree(p);
        return;
    }
    h->ports[n] = p;
    uint8_t *mem = phys_to_virt(base);
    memset(mem, 0, PAGE_SIZE);
    p->cmd_list = (struct ahci_cmd_header *)mem;      /* 1 KiB at offset 0 */
    phys_addr_t fis = base + 1024;                      /* 256 bytes at 1 KiB */
    PX(p, PX_CLB) = (uint32_t)base;
    PX(p, PX_CLBU) = (uint32_t)(base >> 32);
    PX(p, PX_FB) = (uint32_t)fis;
    PX(p, PX_FBU) = (uint32_t)(fis >> 32);
    PX(p, PX_SERR) = 0xffffffffu;
    PX(p, PX_IS) = 0xffffffffu;
    PX(p, PX_CMD) = PX(p, PX_CMD) | CMD_FRE;
    /* The device's first D2H FIS carries the signature; BSY and DRQ clear when it is ready. */
    uint64_t deadline = time_ns() + AHCI_READY_TIMEOUT_US * 1000ull;
    while ((PX(p, PX_SIG) == 0xffffffffu || (PX(p, PX_TFD) & (ATA_STS_BSY | ATA_STS_DRQ))) && time_ns() < deadline)
        task_sleep_ns(1000000);
    uint32_t sig = PX(p, PX_SIG), tfd = PX(p, PX_TFD);
    bool answers = sig != 0xffffffffu && !(tfd & (ATA_STS_BSY | ATA_STS_DRQ));
    if (sig == AHCI_SIG_ATAPI) {
        /* q35's CD-ROM drive: reported with its medium, not used as a block device. */
        if (answers) atapi_probe(p, l);
        else printk(LOG_WARN, "%s: ATAPI device, does not answer (status 0x%02x); skipped\n", l, tfd & 0xff);
        return;
    }
    if (!answers) {
        printk(LOG_WARN, "%s: device did not answer within %u ms (PxSIG 0x%08x, status 0x%02x); skipped\n", l,
               AHCI_READY_TIMEOUT_US / 1000, sig, tfd & 0xff);
        return;
    }
    if (sig != AHCI_SIG_ATA) {
        printk(LOG_INFO, "%s: %s (signature 0x%08x), not supported; skipped\n", l, ahci_signature_name(sig), sig);
        return;
    }
    if (disks_registered >= 26) {
        printk(LOG_WARN, "%s: SATA disk beyond sdz; not used\n", l);
        return;
    }
    unsigned nslots = MIN(((h->cap >> 8) & 0x1f) + 1, 32u);
    if (disk_setup(p, nslots) < 0) return;
    ksnprintf(p->blk.name, sizeof(p->blk.name), "sd%c", 'a' + disks_registered++);
    printk(LOG_INFO, "%s: SATA disk %s: \"%s\" serial %s firmware %s, %llu sectors of %u bytes, %s LBA%s, "
           "%u slots, at most %u sectors per request\n", l, p->blk.name, p->id.model, p->id.serial, p->id.firmware,
           (unsigned long long)p->id.sectors, p->id.sector_size, p->id.lba48 ? "48-bit" : "28-bit",
           p->id.write_cache ? ", write cache on" : "", (unsigned)__builtin_popcount(p->slot_mask),
           p->blk.max_sectors);
    p->blk.ops = &ahci_ops; /* marks the port as a working disk for the interrupt handler */
}

/* §10.6: take the HBA from the firmware when it supports the handoff. */
static void bios_handoff(struct ahci_hba *h) {
    if (!(HBA_REG(h, HBA_CAP2) & CAP2_BOH)) return;
    HBA_REG(h, HBA_BOHC) = HBA_REG(h, HBA_BOHC) | BOHC_OOS;
    if (!wait_reg(&HBA_REG(h, HBA_BOHC), BOHC_BOS, 0, 25000) &&
        !wait_reg(&HBA_REG(h, HBA_BOHC), BOHC_BOS | BOHC_BB, 0, 2000000))
        printk(LOG_WARN, "ahci%d: the firmware did not release the controller within 2 s; taking it anyway\n",
               h->index);
}

static void setup_interrupts(struct ahci_hba *h) {
    const char *why = "the controller has no MSI capability";
    ksnprintf(h->irq_name, sizeof(h->irq_name), "ahci%d", h->index);
    /* MSI is a write to a local APIC: in PIC mode (no usable MADT) nothing would deliver it. */
    bool can_msi = h->pci->msi_cap && lapic_active();
    if (h->pci->msi_cap && !lapic_active()) why = "no local APIC to deliver MSI (PIC mode)";
    int vec = can_msi ? irq_alloc_vector() : -KENODEV;
    if (can_msi && vec < 0) why = "no free interrupt vector";
    if (vec >= 0) {
        irq_set_handler((uint8_t)vec, ahci_irq, h, h->irq_name);
        int r = pci_enable_msi(h->pci, (uint8_t)vec, lapic_id());
        if (r == 0) {
            h->vector = vec;
            return;
        }
        irq_set_handler((uint8_t)vec, NULL, NULL, NULL);
        irq_free_vector(vec);
        why = "MSI could not be enabled";
    }
    h->vector = -1;
    printk(LOG_WARN, "ahci%d: %s; completions are polled every 1 ms instead (fallback)\n", h->index, why);
}

static void hba_init(const struct pci_device *d, int index) {
    const struct pci_bar *bar = &d->bars[5];
    if ((bar->type != PCI_BAR_MEM32 && bar->type != PCI_BAR_MEM64) || bar->size < 0x180) {
        printk(LOG_ERR, "ahci%d: %02x:%02x.%x has no memory BAR5 (ABAR); skipped\n", index, d->bus, d->dev, d->fn);
        return;
    }
    struct ahci_hba *h = kzalloc(sizeof(*h));
    if (!h) return;
    h->pci = d;
    h->index = index;
    h->abar = vmm_map_mmio(bar->base, bar->size);
    if (!h->abar) {
        printk(LOG_ERR, "ahci%d: cannot map ABAR at %#llx; skipped\n", index, (unsigned long long)bar->base);
        kfree(h);
        return;
    }
    pci_enable_command(d, PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER);
    bios_handoff(h);
    HBA_REG(h, HBA_GHC) = HBA_REG(h, HBA_GHC) | GHC_AE;
    HBA_REG(h, HBA_GHC) = GHC_AE | GHC_HR; /* §10.4.3: HBA reset, interrupts off */
    if (!wait_reg(&HBA_REG(h, HBA_GHC), GHC_HR, 0, AHCI_HR_TIMEOUT_US)) {
        printk(LOG_ERR, "ahci%d: HBA reset did not finish within 1 s; controller skipped\n", index);
        kfree(h);
        return;
    }
    HBA_REG(h, HBA_GHC) = GHC_AE;
    h->cap = HBA_REG(h, HBA_CAP);
    h->pi = HBA_REG(h, HBA_PI);
    h->vs = HBA_REG(h, HBA_VS);
    h->addr64 = h->cap & CAP_S64A;
    unsigned nports = (h->cap & 0x1f) + 1;
    if (!h->pi) h->pi = nports >= 32 ? 0xffffffffu : (1u << nports) - 1;
    uint64_t max_ports = (bar->size - 0x100) / 0x80;
    if (max_ports < 32) h->pi &= (1u << max_ports) - 1;
    unsigned minor = h->vs & 0xffff;
    char version[16];
    if (minor & 0xff) ksnprintf(version, sizeof(version), "%u.%u.%u", h->vs >> 16, minor >> 8, minor & 0xff);
    else ksnprintf(version, sizeof(version), "%u.%u", h->vs >> 16, minor >> 8);
    printk(LOG_INFO, "ahci%d: AHCI %s at %02x:%02x.%x, %d ports (PI 0x%08x), %u command slots%s%s\n", index,
           version, d->bus, d->dev, d->fn, __builtin_popcount(h->pi),
           h->pi, ((h->cap >> 8) & 0x1f) + 1, h->addr64 ? ", 64-bit DMA" : ", 32-bit DMA",
           (h->cap & CAP_SNCQ) ? ", NCQ" : "");
    setup_interrupts(h);
    /* Staggered spin-up: after reset SUD is clear and the ports must be spun up (§10.1.1). */
    if (h->cap & CAP_SSS)
        for (unsigned i = 0; i < 32; i++)
            if (h->pi & (1u << i)) port_regs(h, i)[PX_CMD / 4] |= CMD_SUD;
    /* Links come up within 10 ms of a reset: wait (bounded) while a port has DET = 1. */
    uint64_t deadline = time_ns() + 20000000ull;
    for (;;) {
        bool settling = false;
        for (unsigned i = 0; i < 32; i++)
            if ((h->pi & (1u << i)) && (port_regs(h, i)[PX_SSTS / 4] & 0xf) == 1) settling = true;
        if (!settling || time_ns() >= deadline) break;
        task_sleep_ns(1000000);
    }
    int present = 0;
    for (unsigned i = 0; i < 32; i++)
        if (h->pi & (1u << i)) {
            probe_port(h, i);
            if (h->ports[i]) present++;
        }
    /* Interrupts on, then the disks become visible (blk_register reads partition tables). */
    HBA_REG(h, HBA_IS) = 0xffffffffu;
    HBA_REG(h, HBA_GHC) = GHC_AE | GHC_IE;
    int disks = 0;
    for (unsigned i = 0; i < 32; i++) {
        struct ahci_port *p = h->ports[i];
        if (!p || !p->blk.ops) continue;
        if (blk_register(&p->blk) == 0) disks++;
        else printk(LOG_ERR, "ahci%d: port %u: %s could not be registered\n", index, i, p->blk.name);
    }
    printk(LOG_INFO, "ahci%d: %d of %d ports with a device, %d SATA disk%s registered\n", index, present,
           __builtin_popcount(h->pi), disks, disks == 1 ? "" : "s");
}

void ahci_init(void) {
    int controllers = 0;
    for (int i = 0;; i++) {
        const struct pci_device *d = pci_find_class(0x01, 0x06, i);
        if (!d) break;
        if (d->prog_if != 0x01) {
            printk(LOG_INFO, "ahci: SATA controller %02x:%02x.%x has programming interface 0x%02x, not AHCI; skipped\n",
                   d->bus, d->dev, d->fn, d->prog_if);
            continue;
        }
        hba_init(d, controllers++);
    }
    /* q35 always has its on-board AHCI controller (ICH9, 00:1f.2), even with no drive
     * attached (then every port is reported empty: "0 of 6 ports with a device"), so this
     * line only shows on other machines (i440fx, microvm, real boards without AHCI). */
    if (!controllers) printk(LOG_INFO, "ahci: no AHCI controller\n");
}
