/* shell.c: the minimal kernel shell on the serial console and the PS/2 keyboard.
 * Commands: help, selftest [group], lspci, mem, acpi, uptime, date, dmesg, reboot, shutdown.
 * (The full shell with history and line editing comes with the tasks issue.) */
#include "types.h"
#include "cpu.h"
#include "printk.h"
#include "kstring.h"
#include "serial.h"
#include "ps2.h"
#include "mm.h"
#include "pci.h"
#include "acpi.h"
#include "time.h"
#include "selftest.h"
#include "power.h"
#include "kernel.h"

#define LINE_MAX 128

struct command {
    const char *name;
    const char *help;
    void (*run)(const char *args);
};

static void cmd_help(const char *args);

static void cmd_selftest(const char *args) {
    selftest_run(args);
}

static void cmd_lspci(const char *args) { pci_print_tree(); }

static void cmd_mem(const char *args) {
    struct pmm_stats ps;
    struct heap_stats hs;
    pmm_get_stats(&ps);
    heap_get_stats(&hs);
    kprintf("installed RAM: %lu MiB\n", (unsigned long)(boot_ram_bytes() >> 20));
    kprintf("frames: %lu total, %lu free, %lu reserved (4 KiB each)\n",
           (unsigned long)ps.total_frames, (unsigned long)ps.free_frames,
           (unsigned long)ps.reserved_frames);
    kprintf("heap: %lu bytes in %lu allocations, %lu pages held\n",
           (unsigned long)hs.bytes_in_use, (unsigned long)hs.allocations,
           (unsigned long)hs.pages_held);
}

static void cmd_acpi(const char *args) { acpi_print(); }

static void cmd_uptime(const char *args) {
    uint64_t ns = time_ns();
    kprintf("up %lu.%03lu s\n", (unsigned long)(ns / 1000000000ull),
           (unsigned long)(ns / 1000000 % 1000));
}

static void cmd_date(const char *args) {
    struct rtc_time tm;
    if (rtc_read(&tm) != 0) {
        kprintf("date: the real-time clock did not answer\n");
        return;
    }
    kprintf("%04d-%02d-%02d %02d:%02d:%02d UTC\n", tm.year, tm.month, tm.day, tm.hour,
           tm.minute, tm.second);
}

static void cmd_dmesg(const char *args) {
    static char buf[65536];
    size_t n = klog_read(buf, sizeof(buf));
    console_write(buf, n);
}

static void cmd_reboot(const char *args) { power_reboot(); }
static void cmd_shutdown(const char *args) { power_off(); }

static const struct command commands[] = {
    {"help", "list commands", cmd_help},
    {"selftest", "run kernel self-tests [group]", cmd_selftest},
    {"lspci", "list PCI devices", cmd_lspci},
    {"mem", "memory statistics", cmd_mem},
    {"acpi", "ACPI tables found", cmd_acpi},
    {"uptime", "time since boot", cmd_uptime},
    {"date", "wall-clock time from the RTC", cmd_date},
    {"dmesg", "kernel log", cmd_dmesg},
    {"reboot", "restart the machine", cmd_reboot},
    {"shutdown", "power off", cmd_shutdown},
};

static void cmd_help(const char *args) {
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        kprintf("  %-10s %s\n", commands[i].name, commands[i].help);
}

bool shell_exec(const char *line) {
    while (*line == ' ') line++;
    if (!*line) return true;
    size_t n = 0;
    while (line[n] && line[n] != ' ') n++;
    const char *args = line + n;
    while (*args == ' ') args++;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strlen(commands[i].name) == n && memcmp(commands[i].name, line, n) == 0) {
            commands[i].run(args);
            return true;
        }
    }
    kprintf("%.*s: unknown command (try `help`)\n", (int)n, line);
    return false;
}

static int read_char(void) {
    int c = serial_getchar();
    if (c < 0) c = kbd_getchar();
    return c;
}

NORETURN void shell_run(void) {
    char line[LINE_MAX];
    size_t len = 0;
    kprintf("Type `help` for commands.\n");
    console_write("sabos> ", 7);
    for (;;) {
        int c = read_char();
        if (c < 0) {
            hlt(); /* woken by the timer tick or an input interrupt */
            continue;
        }
        if (c == '\r' || c == '\n') {
            console_write("\n", 1);
            line[len] = 0;
            shell_exec(line);
            len = 0;
            console_write("sabos> ", 7);
        } else if (c == '\b' || c == 0x7f) {
            if (len) {
                len--;
                console_write("\b \b", 3);
            }
        } else if (c >= ' ' && c < 0x7f && len < LINE_MAX - 1) {
            line[len++] = (char)c;
            char ch = (char)c;
            console_write(&ch, 1);
        }
    }
}
