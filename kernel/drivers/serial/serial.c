/* serial.c: COM1 console on a 16550-compatible UART (National Semiconductor PC16550D data
 * sheet: registers THR/RBR, IER, FCR, LCR, MCR, LSR; divisor latch for the baud rate).
 * Output is polled with a bounded wait per byte so a missing UART cannot hang the kernel. */
#include "types.h"
#include "cpu.h"
#include "serial.h"
#include "printk.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER 1
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
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
