/* panic.h: stopping the kernel with a reason. */
#pragma once
#include "types.h"
/* Prints the message and a backtrace, then halts (in selftest mode: reports a failure and
 * powers QEMU off with a failing verdict). Never returns. */
NORETURN void panic(const char *fmt, ...) PRINTF_LIKE(1, 2);
#define BUG_ON(c) do { if (unlikely(c)) panic("BUG_ON(%s) at %s:%d", #c, __FILE__, __LINE__); } while (0)
