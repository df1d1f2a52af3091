/* serial.h: the COM1 16550 UART console (kernel/drivers/serial/serial.c). */
#pragma once
#include "types.h"
/* Programs COM1 for 115200 8N1 and registers it as a printk console. */
void serial_init(void);
void serial_write(const char *s, size_t len);
/* Next received byte, or -1 when none is waiting. Never blocks. */
int serial_getchar(void);
