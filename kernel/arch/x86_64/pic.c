/* pic.c: the two cascaded 8259A programmable interrupt controllers of the PC.
 * Follows the Intel 8259A datasheet: initialization command words ICW1-ICW4 ("Initialization
 * Command Words"), OCW1 (interrupt mask register), OCW2 (non-specific EOI) and OCW3 (reading
 * the in-service register), plus the IBM PC wiring: master at ports 0x20/0x21, slave at
 * 0xA0/0xA1 cascaded on the master's IR2.
 *
 * The pair is always remapped to VEC_PIC_BASE..VEC_PIC_BASE+15 and fully masked, even when
 * the APICs take over, so that a stray PIC interrupt lands on a known vector instead of on a
 * CPU exception vector. In the PIC fallback mode irq.c unmasks the lines it routes. */
#include "irq.h"
#include "cpu.h"

#define PIC_MASTER_CMD 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_CMD 0xa0
#define PIC_SLAVE_DATA 0xa1

#define ICW1_INIT 0x10       /* D4: this is ICW1 */
#define ICW1_NEED_ICW4 0x01  /* IC4 */
#define ICW3_MASTER_SLAVE_ON_IR2 0x04
#define ICW3_SLAVE_ID 0x02
#define ICW4_8086_MODE 0x01  /* uPM: 8086/8088 mode */
#define OCW2_NONSPECIFIC_EOI 0x20
#define OCW3_READ_ISR 0x0b   /* D3 set (OCW3), RR=1 RIS=1 */
#define PIC_CASCADE_IRQ 2

/* Remaps master/slave to VEC_PIC_BASE..+15 and masks every line. */
void pic_init(void) {
    /* ICW1: start initialization, edge triggered, cascade mode, ICW4 follows. */
    outb(PIC_MASTER_CMD, ICW1_INIT | ICW1_NEED_ICW4);
    io_wait();
    outb(PIC_SLAVE_CMD, ICW1_INIT | ICW1_NEED_ICW4);
    io_wait();
    /* ICW2: vector base (the low three bits are the line number). */
    outb(PIC_MASTER_DATA, VEC_PIC_BASE);
    io_wait();
    outb(PIC_SLAVE_DATA, VEC_PIC_BASE + 8);
    io_wait();
    /* ICW3: the master has a slave on IR2; the slave's cascade identity is 2. */
    outb(PIC_MASTER_DATA, ICW3_MASTER_SLAVE_ON_IR2);
    io_wait();
    outb(PIC_SLAVE_DATA, ICW3_SLAVE_ID);
    io_wait();
    /* ICW4: 8086 mode, normal (not automatic) EOI, fully nested. */
    outb(PIC_MASTER_DATA, ICW4_8086_MODE);
    io_wait();
    outb(PIC_SLAVE_DATA, ICW4_8086_MODE);
    io_wait();
    /* OCW1: mask everything. */
    outb(PIC_MASTER_DATA, 0xff);
    outb(PIC_SLAVE_DATA, 0xff);
}

/* Interrupt mask registers: master in bits 0-7, slave in bits 8-15. */
uint16_t pic_get_masks(void) {
    return (uint16_t)(inb(PIC_MASTER_DATA) | ((uint16_t)inb(PIC_SLAVE_DATA) << 8));
}

/* True when both interrupt mask registers are 0xFF. */
bool pic_all_masked(void) {
    return pic_get_masks() == 0xffff;
}

/* Unmasks one line (0-15); a slave line also unmasks the cascade input of the master. */
void pic_unmask(uint8_t irq) {
    if (irq >= 16)
        return;
    uint64_t flags = irq_save();
    if (irq < 8) {
        outb(PIC_MASTER_DATA, inb(PIC_MASTER_DATA) & (uint8_t)~(1u << irq));
    } else {
        outb(PIC_SLAVE_DATA, inb(PIC_SLAVE_DATA) & (uint8_t)~(1u << (irq - 8)));
        outb(PIC_MASTER_DATA, inb(PIC_MASTER_DATA) & (uint8_t)~(1u << PIC_CASCADE_IRQ));
    }
    irq_restore(flags);
}

/* Masks one line (0-15). The cascade input stays as it is. */
void pic_mask(uint8_t irq) {
    if (irq >= 16)
        return;
    uint64_t flags = irq_save();
    if (irq < 8)
        outb(PIC_MASTER_DATA, inb(PIC_MASTER_DATA) | (uint8_t)(1u << irq));
    else
        outb(PIC_SLAVE_DATA, inb(PIC_SLAVE_DATA) | (uint8_t)(1u << (irq - 8)));
    irq_restore(flags);
}

/* Non-specific EOI (OCW2): to the slave and then the master for irqs 8-15, to the master
 * alone for irqs 0-7. */
void pic_eoi(uint8_t irq) {
    if (irq >= 8)
        outb(PIC_SLAVE_CMD, OCW2_NONSPECIFIC_EOI);
    outb(PIC_MASTER_CMD, OCW2_NONSPECIFIC_EOI);
}

/* Reads an in-service register through OCW3. */
static uint8_t pic_read_isr(uint16_t cmd_port) {
    outb(cmd_port, OCW3_READ_ISR);
    return inb(cmd_port);
}

/* In-service registers: master in bits 0-7, slave in bits 8-15. */
uint16_t pic_get_in_service(void) {
    return (uint16_t)(pic_read_isr(PIC_MASTER_CMD) | ((uint16_t)pic_read_isr(PIC_SLAVE_CMD) << 8));
}

/* The 8259A answers an INTA cycle whose request went away with the lowest-priority line
 * (IR7) without setting its in-service bit: that is a spurious interrupt. Only irqs 7 and 15
 * can be spurious. */
bool pic_is_spurious(uint8_t irq) {
    if (irq == 7)
        return (pic_read_isr(PIC_MASTER_CMD) & 0x80) == 0;
    if (irq == 15)
        return (pic_read_isr(PIC_SLAVE_CMD) & 0x80) == 0;
    return false;
}
