/* serial.c: COM1 console on a 16550-compatible UART (National Semiconductor PC16550D data
 * sheet: registers THR/RBR, IER, FCR, LCR, MCR, LSR; divisor latch for the baud rate).
 * Output is polled with a bounded wait per byte so a missing UART cannot hang the kernel. */
#include "types.h"
#include "cpu.h"
#include "serial.h"
#include "printk.h"
#include "irq.h"
#include "kerrno.h"
#include "console_input.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER 1
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define IER_RX_DATA 0x01   /* received data available (and character timeout) */
#define RX_DRAIN_MAX 256   /* bytes taken per interrupt: a FIFO holds 16 */
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

static bool present;

static void put_raw(char c) {
    for (int i = 0; i < 100000 && !(inb(COM1 + REG_LSR) & LSR_THR_EMPTY); i++)
        cpu_relax();
    outb(COM1 + REG_DATA, (uint8_t)c);
}

void serial_write(const char *s, size_t len) {
    if (!present) return;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') put_raw('\r');
        put_raw(s[i]);
    }
}

int serial_getchar(void) {
    if (!present || !(inb(COM1 + REG_LSR) & LSR_DATA_READY)) return -1;
    return inb(COM1 + REG_DATA);
}

static struct console serial_console = {.name = "serial", .write = serial_write};

void serial_init(void) {
    outb(COM1 + REG_IER, 0x00);
    outb(COM1 + REG_LCR, 0x80); /* divisor latch */
    outb(COM1 + REG_DATA, 1);   /* 115200 baud */
    outb(COM1 + REG_IER, 0);
    outb(COM1 + REG_LCR, 0x03); /* 8N1 */
    outb(COM1 + REG_FCR, 0xc7); /* FIFO on, cleared, 14-byte threshold */
    outb(COM1 + REG_MCR, 0x0b);
    /* A UART that is absent reads back 0xff from the line status register. */
    present = inb(COM1 + REG_LSR) != 0xff;
    if (present) console_register(&serial_console);
}

/* ---- receive interrupt (PC16550D: IER bit 0; reading RBR until LSR bit 0 clears ends both
 * the "data available" and the "character timeout" interrupt) ---- */

static void (*rx_deliver)(uint8_t byte);

static void serial_rx_irq(struct irq_frame *f, void *arg) {
    (void)f;
    (void)arg;
    for (int i = 0; i < RX_DRAIN_MAX && (inb(COM1 + REG_LSR) & LSR_DATA_READY); i++) {
        uint8_t b = inb(COM1 + REG_DATA);
        if (rx_deliver) rx_deliver(b);
    }
}

/* Routes ISA IRQ 4 to serial_rx_irq and enables the receive interrupt (console_input.h). */
int serial_enable_rx_interrupt(void (*on_byte)(uint8_t byte)) {
    if (!present) return -KENODEV;
    rx_deliver = on_byte;
    int vector = irq_route_isa(4, serial_rx_irq, NULL, "com1");
    if (vector < 0) return vector;
    outb(COM1 + REG_IER, IER_RX_DATA);
    /* Bytes that arrived before the interrupt was on raised no edge: take them now. */
    uint64_t flags = irq_save();
    serial_rx_irq(NULL, NULL);
    irq_restore(flags);
    return vector;
}
