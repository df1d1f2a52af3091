/* console_input.h: the consoles' shared input queue (kernel/drivers/input/console_input.c).
 *
 * Interrupt handlers put typed bytes in (the serial receive interrupt, the PS/2 keyboard);
 * a task takes them out with console_getchar(), sleeping on a wait queue until a byte comes.
 * Keys without a character arrive as VT100 sequences (ESC [ A ...), from either source. */
#pragma once
#include "types.h"

/* Size of the ring; one slot stays empty, so CONSOLE_INPUT_RING - 1 bytes fit. */
#define CONSOLE_INPUT_RING 512

/* Turns on serial input: routes COM1's IRQ 4 and enables the UART's receive interrupt. When
 * the interrupt cannot be routed, polls the UART from a 10 ms kernel timer instead (and logs
 * it). Needs irq_init and, for the fallback, the kernel timers. Safe to call more than once. */
void console_input_init(void);
/* Queues one byte; safe from interrupt handlers. A byte that does not fit is dropped and
 * counted. Wakes the readers. */
void console_input_push(char c);
/* Queues n bytes all together or none of them (a full queue never keeps half an escape
 * sequence). True when queued. Safe from interrupt handlers. */
bool console_input_push_seq(const char *s, size_t n);
/* Next byte (0..255). timeout_ns 0 = never wait, WAIT_FOREVER = no deadline. Returns -1
 * when nothing came before the timeout, -KEINTR when the calling task is killed. */
int console_getchar(uint64_t timeout_ns);
/* Drops everything queued (e.g. keys self-tests injected). Returns how many bytes. */
size_t console_input_flush(void);

struct console_input_stats {
    uint64_t received;     /* bytes queued since boot */
    uint64_t dropped;      /* bytes lost to a full queue */
    uint32_t queued;       /* bytes waiting now */
    int serial_vector;     /* COM1 interrupt vector, -1 when not routed */
    bool serial_polled;    /* the 10 ms polling fallback is active */
    int waiters;           /* tasks sleeping in console_getchar */
};
void console_input_get_stats(struct console_input_stats *out);

/* Provided by the serial driver (kernel/drivers/serial/serial.c): routes ISA IRQ 4 and sets
 * IER bit 0 (received data available); the interrupt handler empties the receive FIFO into
 * on_byte (called in interrupt context). Returns the vector, or -errno when the UART is
 * absent (-KENODEV) or the line cannot be routed (the interrupt then stays off). */
int serial_enable_rx_interrupt(void (*on_byte)(uint8_t byte));
