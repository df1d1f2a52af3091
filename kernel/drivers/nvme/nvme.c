/* nvme.c: the NVMe driver (NVM Express Base Specification 2.0, NVM Command Set 1.0).
 *
 * Per controller (PCI class 01/08/02): BAR0 registers (§3.1.3), disable and wait for
 * CSTS.RDY=0, admin queues through AQA/ASQ/ACQ, enable with 4 KiB pages and 64/16-byte
 * queue entries, wait for CSTS.RDY=1 (§3.5.1; every wait bounded by CAP.TO). Admin commands
 * are polled by phase tag with a bound, only during initialisation and reset: Identify
 * Controller, the Active Namespace ID list and Identify Namespace (§5.17), Set Features
 * Number of Queues (§5.27.1.5), Create I/O Completion Queue with interrupts on an MSI-X
 * vector (§5.4) and Create I/O Submission Queue (§5.5).
 *
 * I/O: one queue pair of min(CAP.MQES+1, 64) entries. A command id is a slot; each slot owns
 * a preallocated PRP list page (§4.3), so at most entries-1 commands are in flight and the
 * submission queue can never overflow (§4.1.1: full when tail + 1 == head). Read (02h),
 * Write (01h) and Flush (00h). The interrupt handler consumes completions by phase tag
 * (§4.6), rings the completion queue head doorbell and completes the block requests; a
 * non-zero status becomes -KEIO with the decoded status logged. Without a local APIC (the
 * PIC fallback) or without MSI-X/MSI, no interrupt can arrive: the completion queue is then
 * created without interrupts and a 1 ms timer reaps it while commands are in flight. The
 * pure helpers (PRPs, status text, identify parsing) are in nvme_util.c. The self-tests get
 * two read-only hooks at the end (the I/O queue's MSI-X entry, unreaped completions). */
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
#include "sched.h"
#include "wait.h"
#include "sync.h"
#include "spinlock.h"
#include "ktimer.h"
#include "block.h"
#include "nvme.h"

#define NVME_MAX_CONTROLLERS 4
#define NVME_MAX_NAMESPACES 16
#define NVME_ADMIN_ENTRIES 32
#define NVME_IO_ENTRIES 64
#define NVME_IO_QID 1
#define NVME_MAX_TRANSFER (512u * 1024u) /* 1 + 128 pages: one PRP list page per command */
#define NVME_MAX_SEGS (NVME_MAX_TRANSFER / NVME_PAGE_SIZE + 1)
#define NVME_ADMIN_TIMEOUT_NS 2000000000ull
#define NVME_POLL_NS 1000000ull /* completion polling period when no interrupt can arrive */
#define NVME_RESET_DRAIN_NS 200000000ull /* reset: how long commands in flight may still finish */

struct nvme_queue {
    struct nvme_sqe *sq;
    volatile struct nvme_cqe *cq;
    phys_addr_t sq_phys, cq_phys;
    uint16_t entries, sq_tail, cq_head;
    uint8_t phase;                      /* the phase tag value of new completions */
    volatile uint32_t *sq_doorbell, *cq_doorbell;
};

struct nvme_slot {
    struct blk_request *req;            /* in flight in this command id, or NULL */
    uint64_t *prp_list;
    phys_addr_t prp_list_phys;
};

enum nvme_state { NVME_DOWN = 0, NVME_LIVE, NVME_RESETTING };

struct nvme_ctrl;
struct nvme_ns {
    struct blk_device blk;
    struct nvme_ctrl *ctrl;
    uint32_t nsid;
};

struct nvme_ctrl {
    int index;
    char name[12];                      /* "nvme0" */
    const struct pci_device *pci;
    volatile uint8_t *regs;
    struct nvme_cap cap;
    struct nvme_ctrl_info info;
    struct nvme_queue admin, io;
    uint16_t admin_cid;
    uint8_t *identify;                  /* one page for Identify data */
    phys_addr_t identify_phys;
    uint16_t irq_entry;                 /* MSI-X table entry (or 0 for MSI) of the I/O CQ */
    int vector;
    bool polled;                        /* fallback: no MSI-X/MSI delivery; a timer reaps */
    bool poll_armed;
    struct ktimer poll_timer;
    uint32_t max_transfer;
    spinlock_t lock;                    /* the I/O queue, the slots, state */
    volatile int state;                 /* enum nvme_state */
    uint64_t free_slots;                /* bit i set: command id i is free */
    int nslots, inflight;
    struct nvme_slot slots[NVME_IO_ENTRIES];
    struct wait_queue slot_wait;        /* submitters waiting for a free command id */
    struct mutex reset_lock;            /* admin queue use after initialisation */
    uint64_t resets, unknown_completions;
    int nns;
    struct nvme_ns *ns[NVME_MAX_NAMESPACES];
};

static struct nvme_ctrl *controllers[NVME_MAX_CONTROLLERS];
static int controller_count;

/* ---- registers ---- */

static uint32_t reg_read(struct nvme_ctrl *c, uint32_t off) { return mmio_read32(c->regs + off); }
static void reg_write(struct nvme_ctrl *c, uint32_t off, uint32_t v) { mmio_write32(c->regs + off, v); }
/* 64-bit registers as two 32-bit accesses, which every controller supports (§3.1.3). */
static uint64_t reg_read64(struct nvme_ctrl *c, uint32_t off) {
    return (uint64_t)reg_read(c, off) | (uint64_t)reg_read(c, off + 4) << 32;
}
static void reg_write64(struct nvme_ctrl *c, uint32_t off, uint64_t v) {
    reg_write(c, off, (uint32_t)v);
    reg_write(c, off + 4, (uint32_t)(v >> 32));
}

/* Waits (bounded by CAP.TO) until CSTS.RDY equals ready. 0, -KEIO on controller fatal
 * status or a vanished device, -KETIMEDOUT. */
static int wait_ready(struct nvme_ctrl *c, bool ready) {
    uint64_t deadline = time_ns() + (uint64_t)c->cap.timeout_ms * 1000000ull;
    for (;;) {
        uint32_t csts = reg_read(c, NVME_REG_CSTS);
        if (csts == 0xffffffffu) {
            pr_err("%s: the controller stopped answering (CSTS reads all ones)\n", c->name);
            return -KEIO;
        }
        if (ready && (csts & NVME_CSTS_CFS)) {
            pr_err("%s: controller fatal status (CSTS.CFS) while enabling\n", c->name);
            return -KEIO;
        }
        if (!!(csts & NVME_CSTS_RDY) == ready)
            return 0;
        if (time_ns() > deadline) {
            pr_err("%s: CSTS.RDY did not become %d within %u ms (CAP.TO)\n", c->name, ready, c->cap.timeout_ms);
            return -KETIMEDOUT;
        }
        udelay(20);
    }
}

/* Clears CC.EN and waits for CSTS.RDY=0 (§3.5.2). An enable still in progress is allowed to
 * finish first: clearing EN while RDY is still 0 after setting it is undefined. */
static int ctrl_disable(struct nvme_ctrl *c) {
    uint32_t cc = reg_read(c, NVME_REG_CC);
    if ((cc & NVME_CC_EN) && !(reg_read(c, NVME_REG_CSTS) & NVME_CSTS_RDY))
        (void)wait_ready(c, true);
    if (cc & NVME_CC_EN)
        reg_write(c, NVME_REG_CC, cc & ~NVME_CC_EN);
    return wait_ready(c, false);
}

static void queue_reset(struct nvme_queue *q) {
    memset(q->sq, 0, (size_t)q->entries * sizeof(struct nvme_sqe));
    memset((void *)q->cq, 0, (size_t)q->entries * sizeof(struct nvme_cqe));
    q->sq_tail = q->cq_head = 0;
    q->phase = 1; /* the controller writes 1 in the first pass over a zeroed queue */
}

/* Allocates a queue pair's memory (zeroed, page aligned) and finds its doorbells. */
static int queue_alloc(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t qid, uint16_t entries) {
    size_t sq_pages = ALIGN_UP((size_t)entries * sizeof(struct nvme_sqe), PAGE_SIZE) / PAGE_SIZE;
    size_t cq_pages = ALIGN_UP((size_t)entries * sizeof(struct nvme_cqe), PAGE_SIZE) / PAGE_SIZE;
    q->sq_phys = pmm_alloc_contig(sq_pages, PAGE_SIZE);
    q->cq_phys = pmm_alloc_contig(cq_pages, PAGE_SIZE);
    if (!q->sq_phys || !q->cq_phys)
        return -KENOMEM;
    q->sq = phys_to_virt(q->sq_phys);
    q->cq = phys_to_virt(q->cq_phys);
    q->entries = entries;
    q->sq_doorbell = (volatile uint32_t *)(c->regs + nvme_doorbell_offset(qid, false, c->cap.dstrd));
    q->cq_doorbell = (volatile uint32_t *)(c->regs + nvme_doorbell_offset(qid, true, c->cap.dstrd));
    queue_reset(q);
    return 0;
}

/* Programs the admin queue and enables the controller (§3.5.1 steps 3-6). */
static int ctrl_enable(struct nvme_ctrl *c) {
    queue_reset(&c->admin);
    uint32_t n = c->admin.entries - 1u;
    reg_write(c, NVME_REG_AQA, n << 16 | n);
    reg_write64(c, NVME_REG_ASQ, c->admin.sq_phys);
    reg_write64(c, NVME_REG_ACQ, c->admin.cq_phys);
    uint32_t cc = NVME_CC_CSS_NVM | 0u << NVME_CC_MPS_SHIFT | NVME_CC_AMS_RR | 6u << NVME_CC_IOSQES_SHIFT |
                  4u << NVME_CC_IOCQES_SHIFT;
    reg_write(c, NVME_REG_CC, cc);
    reg_write(c, NVME_REG_CC, cc | NVME_CC_EN);
    return wait_ready(c, true);
}

/* ---- admin commands (polled, bounded) ---- */

static const char *admin_name(uint8_t opcode) {
    switch (opcode) {
    case NVME_ADMIN_CREATE_SQ: return "Create I/O Submission Queue";
    case NVME_ADMIN_CREATE_CQ: return "Create I/O Completion Queue";
    case NVME_ADMIN_IDENTIFY: return "Identify";
    case NVME_ADMIN_SET_FEATURES: return "Set Features";
    default: return "admin command";
    }
}

/* Posts one admin command and polls the admin completion queue for it. 0, -KEIO (error
 * status, logged unless quiet), -KETIMEDOUT. */
static int admin_command(struct nvme_ctrl *c, struct nvme_sqe *cmd, uint32_t *dw0, bool quiet) {
    struct nvme_queue *q = &c->admin;
    cmd->cid = c->admin_cid++;
    q->sq[q->sq_tail] = *cmd;
    q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->entries);
    __asm__ volatile("" ::: "memory"); /* the entry is in memory before the doorbell write */
    mmio_write32(q->sq_doorbell, q->sq_tail);
    uint64_t deadline = time_ns() + NVME_ADMIN_TIMEOUT_NS;
    for (;;) {
        volatile struct nvme_cqe *e = &q->cq[q->cq_head];
        uint16_t sw = e->status;
        if ((sw & 1) == q->phase) {
            uint16_t cid = e->cid;
            uint32_t result = e->dw0;
            if (++q->cq_head == q->entries) {
                q->cq_head = 0;
                q->phase ^= 1;
            }
            mmio_write32(q->cq_doorbell, q->cq_head);
            if (cid != cmd->cid)
                continue; /* a stale completion from before a timeout */
            uint16_t field = nvme_status_field(sw);
            if (field) {
                if (!quiet) {
                    char text[96];
                    pr_err("%s: %s failed: %s\n", c->name, admin_name(cmd->opcode),
                           nvme_status_format(field, text, sizeof(text)));
                }
                return -KEIO;
            }
            if (dw0)
                *dw0 = result;
            return 0;
        }
        if (time_ns() > deadline) {
            pr_err("%s: %s (opcode 0x%02x) got no completion within %llu ms\n", c->name, admin_name(cmd->opcode),
                   cmd->opcode, (unsigned long long)(NVME_ADMIN_TIMEOUT_NS / 1000000));
            return -KETIMEDOUT;
        }
        cpu_relax();
    }
}

static int identify(struct nvme_ctrl *c, uint8_t cns, uint32_t nsid, bool quiet) {
    struct nvme_sqe cmd = {0};
    cmd.opcode = NVME_ADMIN_IDENTIFY;
    cmd.nsid = nsid;
    cmd.prp1 = c->identify_phys;
    cmd.cdw10 = cns;
    memset(c->identify, 0, PAGE_SIZE);
    return admin_command(c, &cmd, NULL, quiet);
}

/* Creates the I/O completion queue (interrupts on, our MSI-X entry) and submission queue. */
static int create_io_queues(struct nvme_ctrl *c) {
    struct nvme_sqe cmd = {0};
    uint32_t dw0 = 0;
    /* Number of Queues: one SQ and one CQ (0's based). Older controllers may refuse it. */
    cmd.opcode = NVME_ADMIN_SET_FEATURES;
    cmd.cdw10 = NVME_FEAT_NUM_QUEUES;
    cmd.cdw11 = 0;
    if (admin_command(c, &cmd, &dw0, true) == -KETIMEDOUT)
        return -KETIMEDOUT;
    queue_reset(&c->io);
    uint32_t size = (uint32_t)(c->io.entries - 1) << 16;
    memset(&cmd, 0, sizeof(cmd));
    cmd.opcode = NVME_ADMIN_CREATE_CQ;
    cmd.prp1 = c->io.cq_phys;
    cmd.cdw10 = size | NVME_IO_QID;
    cmd.cdw11 = 1u; /* PC: physically contiguous */
    if (!c->polled)
        cmd.cdw11 |= (uint32_t)c->irq_entry << 16 | 1u << 1; /* IV, IEN */
    int r = admin_command(c, &cmd, NULL, false);
    if (r < 0)
        return r;
    memset(&cmd, 0, sizeof(cmd));
    cmd.opcode = NVME_ADMIN_CREATE_SQ;
    cmd.prp1 = c->io.sq_phys;
    cmd.cdw10 = size | NVME_IO_QID;
    cmd.cdw11 = (uint32_t)NVME_IO_QID << 16 | 1u /* PC, priority ignored with round robin */;
    return admin_command(c, &cmd, NULL, false);
}

/* Disable, enable with fresh admin queues, recreate the I/O queues. */
static int bring_up(struct nvme_ctrl *c) {
    int r = ctrl_disable(c);
    if (r == 0)
        r = ctrl_enable(c);
    if (r == 0)
        r = create_io_queues(c);
    return r;
}

/* ---- I/O path ---- */

static void poll_timer_fn(struct ktimer *timer, void *arg);

/* Polled fallback: makes sure the poll timer runs while commands are in flight (c->lock). */
static void arm_poll(struct nvme_ctrl *c) {
    if (c->polled && !c->poll_armed && c->inflight > 0) {
        c->poll_armed = true;
        ktimer_start(&c->poll_timer, time_ns() + NVME_POLL_NS, poll_timer_fn, c);
    }
}

/* Takes a free command id (wait condition: cheap, never sleeps). Done when a slot was taken
 * (*slot >= 0) or the controller is down (*slot = -1). */
static bool take_slot(struct nvme_ctrl *c, int *slot) {
    uint64_t flags = spin_lock_irqsave(&c->lock);
    bool done = false;
    if (c->state == NVME_DOWN) {
        *slot = -1;
        done = true;
    } else if (c->state == NVME_LIVE && c->free_slots) {
        *slot = __builtin_ctzll(c->free_slots);
        c->free_slots &= ~(1ull << *slot);
        done = true;
    }
    spin_unlock_irqrestore(&c->lock, flags);
    return done;
}

static void release_slot(struct nvme_ctrl *c, int slot) {
    uint64_t flags = spin_lock_irqsave(&c->lock);
    c->free_slots |= 1ull << slot;
    spin_unlock_irqrestore(&c->lock, flags);
    wake_up_all(&c->slot_wait);
}

static int nvme_submit(struct blk_device *dev, struct blk_request *req) {
    struct nvme_ns *ns = dev->priv;
    struct nvme_ctrl *c = ns->ctrl;
    uint8_t opcode;
    switch (req->op) {
    case BLK_OP_READ: opcode = NVME_CMD_READ; break;
    case BLK_OP_WRITE: opcode = NVME_CMD_WRITE; break;
    case BLK_OP_FLUSH: opcode = NVME_CMD_FLUSH; break;
    default: return -KEINVAL;
    }
    struct dma_seg segs[NVME_MAX_SEGS];
    int nsegs = 0;
    if (opcode != NVME_CMD_FLUSH) {
        /* The range is the block layer's business (and the device's: an LBA past the end is
         * its "LBA Out of Range"); the size must fit one command's PRP list. */
        if (req->count == 0 || req->count > dev->max_sectors || !req->buf)
            return -KEINVAL;
        nsegs = blk_dma_segments(req->buf, (size_t)req->count * dev->sector_size, segs, NVME_MAX_SEGS);
        if (nsegs < 0)
            return nsegs;
    }
    int slot = -1;
    int w = wait_event_killable_timeout(&c->slot_wait, take_slot(c, &slot), BLK_TIMEOUT_NS);
    if (w <= 0)
        return w == 0 ? -KETIMEDOUT : w;
    if (slot < 0)
        return -KEIO; /* the controller did not come back from a reset */
    struct nvme_slot *s = &c->slots[slot];
    struct nvme_prp prp = {0};
    if (opcode != NVME_CMD_FLUSH) {
        int r = nvme_build_prps(segs, nsegs, s->prp_list, s->prp_list_phys, &prp);
        if (r < 0) {
            release_slot(c, slot);
            return r;
        }
    }
    struct nvme_sqe cmd;
    nvme_build_io_cmd(&cmd, opcode, (uint16_t)slot, ns->nsid, req->lba, req->count, &prp);
    req->driver_priv = dev;
    uint64_t flags = spin_lock_irqsave(&c->lock);
    if (c->state != NVME_LIVE) { /* a reset started while we built the command */
        spin_unlock_irqrestore(&c->lock, flags);
        release_slot(c, slot);
        return -KEIO;
    }
    s->req = req;
    c->inflight++;
    arm_poll(c);
    struct nvme_queue *q = &c->io;
    q->sq[q->sq_tail] = cmd;
    q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->entries);
    __asm__ volatile("" ::: "memory");
    mmio_write32(q->sq_doorbell, q->sq_tail);
    spin_unlock_irqrestore(&c->lock, flags);
    return 0;
}

static const char *io_name(uint8_t op) {
    return op == BLK_OP_READ ? "Read" : op == BLK_OP_WRITE ? "Write" : "Flush";
}

/* Reports a failed command and completes it. */
static void complete_with_status(struct blk_request *req, uint16_t field) {
    if (field) {
        struct blk_device *dev = req->driver_priv;
        char text[96];
        nvme_status_format(field, text, sizeof(text));
        if (req->op == BLK_OP_FLUSH)
            pr_err("%s: %s on Flush\n", dev->name, text);
        else
            pr_err("%s: %s on %s lba %llu (%u sectors)\n", dev->name, text, io_name(req->op),
                   (unsigned long long)req->lba, req->count);
    }
    blk_complete(req, field ? -KEIO : 0);
}

/* Takes every new completion of the I/O queue (phase tag), releases its command id and rings
 * the head doorbell once (caller holds c->lock). Returns the finished requests, linked
 * through next, each with its NVMe status field parked in status until it is completed. */
static struct blk_request *reap_locked(struct nvme_ctrl *c, bool by_interrupt) {
    struct blk_request *done = NULL, **tail = &done;
    if (c->state != NVME_LIVE)
        return NULL;
    struct nvme_queue *q = &c->io;
    bool consumed = false;
    for (int n = 0; n < q->entries; n++) {
        volatile struct nvme_cqe *e = &q->cq[q->cq_head];
        uint16_t sw = e->status;
        if ((sw & 1) != q->phase)
            break;
        uint16_t cid = e->cid;
        consumed = true;
        if (++q->cq_head == q->entries) {
            q->cq_head = 0;
            q->phase ^= 1;
        }
        struct blk_request *req = cid < c->nslots ? c->slots[cid].req : NULL;
        if (!req) {
            c->unknown_completions++;
            continue;
        }
        c->slots[cid].req = NULL;
        c->free_slots |= 1ull << cid;
        c->inflight--;
        if (by_interrupt)
            ((struct blk_device *)req->driver_priv)->interrupts++;
        req->status = nvme_status_field(sw);
        req->next = NULL;
        *tail = req;
        tail = &req->next;
    }
    if (consumed)
        mmio_write32(q->cq_doorbell, q->cq_head);
    return done;
}

/* Completes what reap_locked returned (outside the lock) and wakes submitters waiting for
 * a command id. */
static void finish(struct nvme_ctrl *c, struct blk_request *done) {
    if (!done)
        return;
    while (done) {
        struct blk_request *req = done;
        done = req->next;
        complete_with_status(req, (uint16_t)req->status);
    }
    wake_up_all(&c->slot_wait);
}

/* The I/O completion queue's MSI-X (or MSI) interrupt. */
static void nvme_irq(struct irq_frame *frame, void *arg) {
    (void)frame;
    struct nvme_ctrl *c = arg;
    uint64_t flags = spin_lock_irqsave(&c->lock);
    struct blk_request *done = reap_locked(c, true);
    spin_unlock_irqrestore(&c->lock, flags);
    finish(c, done);
}

/* The polled fallback's timer: reaps, and runs again while commands are in flight. */
static void poll_timer_fn(struct ktimer *timer, void *arg) {
    (void)timer;
    struct nvme_ctrl *c = arg;
    uint64_t flags = spin_lock_irqsave(&c->lock);
    c->poll_armed = false;
    struct blk_request *done = reap_locked(c, false);
    arm_poll(c);
    spin_unlock_irqrestore(&c->lock, flags);
    finish(c, done);
}

/* ops->reset: stops the controller, fails every request in flight with -KEIO, and brings the
 * controller and its I/O queues back. On return no request given before is touched again. */
static void nvme_reset(struct blk_device *dev) {
    struct nvme_ns *ns = dev->priv;
    struct nvme_ctrl *c = ns->ctrl;
    /* Not interruptible: a killed caller's request must be forgotten before we return. */
    while (!mutex_trylock(&c->reset_lock))
        if (task_sleep_ns(1000000) < 0)
            task_yield();
    c->resets++;
    /* First give the commands in flight a short, bounded chance to finish: a device that is
     * merely slow completes them normally, and QEMU 7.2's NVMe model crashes when it is
     * disabled with reads still in flight. A device that really hangs loses nothing: after
     * NVME_RESET_DRAIN_NS its requests are failed below as before. */
    uint64_t drain_end = time_ns() + NVME_RESET_DRAIN_NS;
    while (__atomic_load_n(&c->inflight, __ATOMIC_RELAXED) > 0 && time_ns() < drain_end)
        task_sleep_ns(1000000);
    uint64_t flags = spin_lock_irqsave(&c->lock);
    c->state = NVME_RESETTING;
    spin_unlock_irqrestore(&c->lock, flags);
    /* Disabling the controller ends its DMA before the buffers are handed back. */
    int r = ctrl_disable(c);
    struct blk_request *failed = NULL;
    int nfailed = 0;
    flags = spin_lock_irqsave(&c->lock);
    for (int i = 0; i < c->nslots; i++) {
        struct blk_request *req = c->slots[i].req;
        if (!req)
            continue;
        c->slots[i].req = NULL;
        c->free_slots |= 1ull << i;
        c->inflight--;
        req->next = failed;
        failed = req;
        nfailed++;
    }
    spin_unlock_irqrestore(&c->lock, flags);
    pr_warn("%s: controller reset, failing %d request%s in flight\n", c->name, nfailed, nfailed == 1 ? "" : "s");
    while (failed) {
        struct blk_request *req = failed;
        failed = req->next;
        blk_complete(req, -KEIO);
    }
    if (r == 0)
        r = bring_up(c);
    flags = spin_lock_irqsave(&c->lock);
    c->state = r == 0 ? NVME_LIVE : NVME_DOWN;
    spin_unlock_irqrestore(&c->lock, flags);
    if (r < 0)
        pr_err("%s: the controller did not come back after the reset (error %d)\n", c->name, r);
    wake_up_all(&c->slot_wait);
    mutex_unlock(&c->reset_lock);
}

static const struct blk_driver_ops nvme_ops = {nvme_submit, nvme_reset};

/* ---- probing ---- */

/* MSI-X entry 1 (0 when the table has one entry) for the I/O completion queue; MSI as a
 * fallback. */
static int setup_interrupt(struct nvme_ctrl *c) {
    if (!lapic_active())
        return -KENODEV; /* MSI/MSI-X are writes to a local APIC: nobody would receive them */
    c->vector = irq_alloc_vector();
    if (c->vector < 0)
        return c->vector;
    irq_set_handler((uint8_t)c->vector, nvme_irq, c, c->name);
    unsigned table = pci_msix_table_size(c->pci);
    int r;
    if (table) {
        c->irq_entry = table >= 2 ? 1 : 0;
        r = pci_enable_msix(c->pci, c->irq_entry, (uint8_t)c->vector, lapic_id());
    } else {
        c->irq_entry = 0;
        r = pci_enable_msi(c->pci, (uint8_t)c->vector, lapic_id());
    }
    if (r < 0) {
        irq_set_handler((uint8_t)c->vector, NULL, NULL, NULL);
        irq_free_vector(c->vector);
        c->vector = -1;
    }
    return r;
}

/* Identifies the active namespaces into ns[] (not yet registered). */
static void find_namespaces(struct nvme_ctrl *c) {
    uint32_t ids[NVME_MAX_NAMESPACES];
    int n = -1;
    bool probing = false;
    if (identify(c, NVME_CNS_ACTIVE_NS_LIST, 0, true) == 0)
        n = nvme_parse_ns_list(c->identify, ids, NVME_MAX_NAMESPACES);
    if (n < 0) { /* NVMe 1.0 controllers have no list: try every id up to NN, quietly */
        probing = true;
        n = (int)MIN(c->info.namespaces, (uint32_t)NVME_MAX_NAMESPACES);
        for (int i = 0; i < n; i++)
            ids[i] = (uint32_t)i + 1;
    }
    for (int i = 0; i < n; i++) {
        struct nvme_ns_info ni;
        if (identify(c, NVME_CNS_NAMESPACE, ids[i], probing) < 0)
            continue;
        int r = nvme_parse_identify_ns(c->identify, &ni);
        if (r == -KENOENT)
            continue;
        if (r < 0) {
            pr_warn("%s: namespace %u has a format this driver does not support (LBA format %u); skipped\n",
                    c->name, ids[i], c->identify[26] & 0xf);
            continue;
        }
        struct nvme_ns *ns = kzalloc(sizeof(*ns));
        if (!ns)
            return;
        ns->ctrl = c;
        ns->nsid = ids[i];
        struct blk_device *b = &ns->blk;
        ksnprintf(b->name, sizeof(b->name), "%sn%u", c->name, ids[i]);
        strlcpy(b->model, c->info.model, sizeof(b->model));
        b->driver = "nvme";
        b->sector_size = ni.sector_size;
        b->sectors = ni.sectors;
        b->max_sectors = (uint32_t)MIN(c->max_transfer / ni.sector_size, 65536u);
        if (b->max_sectors == 0)
            b->max_sectors = 1;
        b->ops = &nvme_ops;
        b->priv = ns;
        c->ns[c->nns++] = ns;
    }
}

static int probe(struct nvme_ctrl *c) {
    const struct pci_bar *bar = &c->pci->bars[0];
    if ((bar->type != PCI_BAR_MEM32 && bar->type != PCI_BAR_MEM64) || !bar->base || bar->size < 0x1000) {
        pr_err("%s: BAR0 is not a usable memory BAR\n", c->name);
        return -KENODEV;
    }
    pci_enable_command(c->pci, PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER);
    c->regs = vmm_map_mmio(bar->base, bar->size);
    if (!c->regs)
        return -KENOMEM;
    uint64_t cap = reg_read64(c, NVME_REG_CAP);
    if (cap == ~0ull) {
        pr_err("%s: registers read all ones\n", c->name);
        return -KENODEV;
    }
    nvme_decode_cap(cap, &c->cap);
    uint32_t vs = reg_read(c, NVME_REG_VS);
    if (!c->cap.nvm_command_set || c->cap.mps_min > NVME_PAGE_SIZE) {
        pr_err("%s: needs %s; not supported\n", c->name,
               c->cap.nvm_command_set ? "memory pages larger than 4 KiB" : "a command set other than NVM");
        return -KENODEV;
    }
    if (nvme_doorbell_offset(NVME_IO_QID, true, c->cap.dstrd) + 4 > bar->size) {
        pr_err("%s: BAR0 (%llu bytes) is too small for the doorbells\n", c->name, (unsigned long long)bar->size);
        return -KENODEV;
    }
    uint16_t io_entries = (uint16_t)MIN(c->cap.mqes, (uint32_t)NVME_IO_ENTRIES);
    if (io_entries < 2) {
        pr_err("%s: CAP.MQES allows no usable queue\n", c->name);
        return -KENODEV;
    }
    c->identify_phys = pmm_alloc_contig(1, PAGE_SIZE);
    if (!c->identify_phys || queue_alloc(c, &c->admin, 0, (uint16_t)MIN(c->cap.mqes, NVME_ADMIN_ENTRIES)) < 0 ||
        queue_alloc(c, &c->io, NVME_IO_QID, io_entries) < 0)
        return -KENOMEM;
    c->identify = phys_to_virt(c->identify_phys);
    c->nslots = io_entries - 1;
    for (int i = 0; i < c->nslots; i++) {
        c->slots[i].prp_list_phys = pmm_alloc();
        if (!c->slots[i].prp_list_phys)
            return -KENOMEM;
        c->slots[i].prp_list = phys_to_virt(c->slots[i].prp_list_phys);
    }
    c->free_slots = c->nslots == 64 ? ~0ull : (1ull << c->nslots) - 1;

    int r = ctrl_disable(c);
    if (r == 0)
        r = ctrl_enable(c);
    if (r == 0)
        r = identify(c, NVME_CNS_CONTROLLER, 0, false);
    if (r == 0)
        r = nvme_parse_identify_ctrl(c->identify, c->cap.mps_min, &c->info);
    if (r < 0)
        return r;
    c->max_transfer = c->info.max_transfer ? MIN(c->info.max_transfer, NVME_MAX_TRANSFER) : NVME_MAX_TRANSFER;
    r = setup_interrupt(c);
    if (r < 0) {
        c->polled = true;
        pr_warn("%s: no MSI-X or MSI interrupt (%s, error %d): completions are polled every %llu ms instead\n",
                c->name, lapic_active() ? "setup failed" : "no local APIC", r,
                (unsigned long long)(NVME_POLL_NS / 1000000));
    }
    r = create_io_queues(c);
    if (r < 0)
        return r;
    c->state = NVME_LIVE;
    char irq[40] = "polled";
    if (!c->polled)
        ksnprintf(irq, sizeof(irq), "vector %d (MSI%s entry %u)", c->vector,
                  pci_msix_table_size(c->pci) ? "-X" : "", c->irq_entry);
    pr_info("%s: %s, serial %s, firmware %s, NVMe %u.%u, %u-entry I/O queue, %s, max transfer %u KiB\n",
            c->name, c->info.model, c->info.serial, c->info.firmware, vs >> 16, (vs >> 8) & 0xff, io_entries, irq,
            c->max_transfer / 1024);
    find_namespaces(c);
    if (c->nns == 0)
        pr_info("%s: no active namespace\n", c->name);
    return 0;
}

void nvme_init(void) {
    for (int nth = 0; controller_count < NVME_MAX_CONTROLLERS; nth++) {
        const struct pci_device *pci = pci_find_class(0x01, 0x08, nth);
        if (!pci)
            break;
        if (pci->prog_if != 0x02)
            continue; /* 01/08/01 is NVMHCI, not NVM Express */
        struct nvme_ctrl *c = kzalloc(sizeof(*c));
        if (!c) {
            pr_err("nvme: out of memory\n");
            return;
        }
        c->index = controller_count;
        c->pci = pci;
        c->vector = -1;
        ksnprintf(c->name, sizeof(c->name), "nvme%d", c->index);
        spin_init(&c->lock, c->name);
        wait_queue_init(&c->slot_wait, c->name);
        mutex_init(&c->reset_lock, c->name);
        int r = probe(c);
        if (r < 0) {
            pr_err("%s: controller at %02x:%02x.%x not usable (error %d)\n", c->name, pci->bus, pci->dev, pci->fn, r);
            if (c->regs)
                (void)ctrl_disable(c); /* no DMA into memory we may reuse; the rest stays allocated */
            continue; /* c is kept: its memory may still be known to the device */
        }
        controllers[controller_count++] = c;
        for (int i = 0; i < c->nns; i++)
            if (blk_register(&c->ns[i]->blk) < 0)
                pr_err("%s: could not register %s\n", c->name, c->ns[i]->blk.name);
    }
    if (controller_count == 0)
        pr_info("nvme: no NVMe controller\n");
}

const struct nvme_ctrl_info *nvme_controller_info(int index) {
    if (index < 0 || index >= controller_count)
        return NULL;
    return &controllers[index]->info;
}

uint64_t nvme_controller_resets(int index) {
    if (index < 0 || index >= controller_count)
        return 0;
    return controllers[index]->resets;
}

volatile uint32_t *nvme_io_msix_entry(int index) {
    if (index < 0 || index >= controller_count)
        return NULL;
    struct nvme_ctrl *c = controllers[index];
    if (c->polled || !pci_msix_table_size(c->pci))
        return NULL;
    return pci_msix_entry(c->pci, c->irq_entry);
}

int nvme_io_cq_unreaped(int index) {
    if (index < 0 || index >= controller_count)
        return -1;
    struct nvme_ctrl *c = controllers[index];
    uint64_t flags = spin_lock_irqsave(&c->lock);
    int n = -1;
    if (c->state == NVME_LIVE) {
        const struct nvme_queue *q = &c->io;
        uint16_t head = q->cq_head;
        uint8_t phase = q->phase;
        /* Walk forward like reap_locked would, without moving the head or ringing doorbells. */
        for (n = 0; n < q->entries; n++) {
            if ((q->cq[head].status & 1) != phase)
                break;
            if (++head == q->entries) {
                head = 0;
                phase ^= 1;
            }
        }
    }
    spin_unlock_irqrestore(&c->lock, flags);
    return n;
}
