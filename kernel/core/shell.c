/* shell.c: the kernel shell, a kernel task on the serial console and on the framebuffer +
 * PS/2 keyboard console. Input comes from the interrupt-driven console input queue
 * (console_input.h); lines are edited with lineedit.c (cursor keys, history); output goes
 * through kprintf to every console, without log timestamps.
 * Commands: help, mem, ps, lspci, lsirq, acpi, uptime, date, dmesg, selftest [group],
 * reboot, shutdown. */
#include "types.h"
#include "cpu.h"
#include "printk.h"
#include "kstring.h"
#include "kprintf.h"
#include "kerrno.h"
#include "mm.h"
#include "pci.h"
#include "acpi.h"
#include "irq.h"
#include "time.h"
#include "selftest.h"
#include "power.h"
#include "sched.h"
#include "wait.h"
#include "lineedit.h"
#include "console_input.h"
#include "kernel.h"

#define PROMPT "sabos> "
#define MAX_ARGS 8

struct command {
    const char *name;
    const char *args;     /* usage of the arguments, "" for none */
    const char *help;
    int max_args;         /* arguments accepted after the name */
    void (*run)(int argc, char **argv);
};

static void cmd_help(int argc, char **argv);

/* ---- memory and tasks ---- */

static void cmd_mem(int argc, char **argv) {
    struct pmm_stats ps;
    struct heap_stats hs;
    pmm_get_stats(&ps);
    heap_get_stats(&hs);
    kprintf("installed RAM: %lu MiB\n", (unsigned long)(boot_ram_bytes() >> 20));
    kprintf("frames: %lu total, %lu free, %lu reserved (4 KiB each); %lu MiB free\n",
            (unsigned long)ps.total_frames, (unsigned long)ps.free_frames, (unsigned long)ps.reserved_frames,
            (unsigned long)((ps.free_frames * PAGE_SIZE) >> 20));
    kprintf("heap: %lu bytes in %lu allocations, %lu pages held\n", (unsigned long)hs.bytes_in_use,
            (unsigned long)hs.allocations, (unsigned long)hs.pages_held);
}

/* One task as ps shows it, copied out under the task-list lock and printed afterwards (the
 * task_for_each callback must not sleep, and printing to the consoles is slow). */
struct ps_row {
    tid_t id;
    char name[TASK_NAME_MAX];
    int state;
    bool running;
    uint8_t prio;
    uint64_t cpu_ns;
    size_t stack_used;
};

struct ps_collect {
    struct ps_row *rows;
    int cap, count, missed;
};

static void ps_collect_one(const struct task *t, void *ctx) {
    struct ps_collect *c = ctx;
    if (c->count >= c->cap) {
        c->missed++;
        return;
    }
    struct ps_row *r = &c->rows[c->count++];
    r->id = t->id;
    memcpy(r->name, t->name, TASK_NAME_MAX);
    r->name[TASK_NAME_MAX - 1] = 0;
    r->state = t->state;
    r->running = t->on_cpu && t->state == TASK_RUNNABLE;
    r->prio = t->prio;
    r->cpu_ns = t->cpu_time_ns;
    r->stack_used = task_stack_used(t);
}

static void cmd_ps(int argc, char **argv) {
    struct ps_collect c = {0};
    c.cap = task_count() + 16; /* room for tasks created meanwhile */
    c.rows = kmalloc(sizeof(struct ps_row) * (size_t)c.cap);
    if (!c.rows) {
        kprintf("ps: out of memory\n");
        return;
    }
    task_for_each(ps_collect_one, &c);
    kprintf("%5s  %-20s %-9s %-6s %12s  %s\n", "ID", "NAME", "STATE", "PRIO", "CPU ms", "STACK used/size");
    for (int i = 0; i < c.count; i++) {
        const struct ps_row *r = &c.rows[i];
        const char *state = r->running ? "running" : task_state_name(r->state);
        kprintf("%5d  %-20s %-9s %-6s %8lu.%03lu  %lu/%lu\n", r->id, r->name, state ? state : "?",
                r->prio == PRIO_HIGH ? "high" : "normal", (unsigned long)(r->cpu_ns / 1000000),
                (unsigned long)(r->cpu_ns / 1000 % 1000), (unsigned long)r->stack_used,
                (unsigned long)KSTACK_SIZE);
    }
    if (c.missed) kprintf("(%d more tasks not shown)\n", c.missed);
    kprintf("%d tasks, %lu context switches\n", c.count + c.missed, (unsigned long)sched_context_switches());
    kfree(c.rows);
}

/* ---- devices and interrupts ---- */

static void cmd_lspci(int argc, char **argv) { pci_print_tree(); }

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization", "#CP control protection",
};

static void cmd_lsirq(int argc, char **argv) {
    kprintf("%6s  %-16s %-8s %12s\n", "VECTOR", "NAME", "LINE", "COUNT");
    int shown = 0;
    for (int v = 0; v < 256; v++) {
        uint64_t n = irq_count((uint8_t)v);
        if (!n) continue;
        const char *name = v < 32 ? exception_names[v] : irq_name((uint8_t)v);
        if (!name) name = v < 32 ? "reserved" : "(no handler)";
        char line[12] = "-";
        for (int isa = 0; isa < 16; isa++) {
            if (v >= 32 && irq_isa_vector((uint8_t)isa) == v) {
                ksnprintf(line, sizeof line, "IRQ%d", isa);
                break;
            }
        }
        if (v == VEC_LAPIC_TIMER) memcpy(line, "LAPIC", 6);
        kprintf("%6d  %-16s %-8s %12lu\n", v, name, line, (unsigned long)n);
        shown++;
    }
    kprintf("%d vectors with interrupts (%s mode)\n", shown, irq_mode());
}

static void cmd_acpi(int argc, char **argv) { acpi_print(); }

/* ---- time and log ---- */

static void cmd_uptime(int argc, char **argv) {
    uint64_t ns = time_ns();
    kprintf("up %lu.%03lu s\n", (unsigned long)(ns / 1000000000ull), (unsigned long)(ns / 1000000 % 1000));
}

static void cmd_date(int argc, char **argv) {
    struct rtc_time tm;
    if (rtc_read(&tm) != 0) {
        kprintf("date: the real-time clock did not answer\n");
        return;
    }
    kprintf("%04d-%02d-%02d %02d:%02d:%02d UTC\n", tm.year, tm.month, tm.day, tm.hour, tm.minute, tm.second);
}

static void cmd_dmesg(int argc, char **argv) {
    char *buf = kmalloc(KLOG_SIZE + 1);
    if (!buf) {
        kprintf("dmesg: out of memory\n");
        return;
    }
    size_t n = klog_read(buf, KLOG_SIZE + 1);
    console_write(buf, n);
    if (n && buf[n - 1] != '\n') console_write("\n", 1);
    kfree(buf);
}

/* ---- tests and power ---- */

static void cmd_selftest(int argc, char **argv) {
    selftest_run(argc > 1 ? argv[1] : NULL);
    /* Keyboard self-tests inject key presses; they are not the user's typing. */
    console_input_flush();
}

static void cmd_reboot(int argc, char **argv) { power_reboot(); }
static void cmd_shutdown(int argc, char **argv) { power_off(); }

static const struct command commands[] = {
    {"help", "", "list the commands", 0, cmd_help},
    {"mem", "", "memory: frames and heap", 0, cmd_mem},
    {"ps", "", "tasks: state, priority, CPU time, stack use", 0, cmd_ps},
    {"lspci", "", "PCI devices", 0, cmd_lspci},
    {"lsirq", "", "interrupt counts per vector", 0, cmd_lsirq},
    {"acpi", "", "ACPI tables found", 0, cmd_acpi},
    {"uptime", "", "time since boot", 0, cmd_uptime},
    {"date", "", "wall-clock time from the RTC", 0, cmd_date},
    {"dmesg", "", "kernel log", 0, cmd_dmesg},
    {"selftest", "[group]", "run kernel self-tests (all, or one group)", 1, cmd_selftest},
    {"reboot", "", "restart the machine", 0, cmd_reboot},
    {"shutdown", "", "power off (ACPI S5)", 0, cmd_shutdown},
};

static void cmd_help(int argc, char **argv) {
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        char usage[32];
        ksnprintf(usage, sizeof usage, "%s%s%s", commands[i].name, commands[i].args[0] ? " " : "",
                  commands[i].args);
        kprintf("  %-18s %s\n", usage, commands[i].help);
    }
    kprintf("Keys: Left/Right, Home/End, Backspace/Delete, Up/Down history, ^U clear, ^C cancel\n");
}

/* Splits line (modified in place) into words separated by spaces or tabs. */
static int split_words(char *line, char **argv, int max) {
    int argc = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) return argc;
        if (argc == max) return max + 1; /* too many */
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = 0;
    }
}

bool shell_exec(const char *text) {
    char line[LINEEDIT_MAX + 1];
    size_t len = strnlen(text, LINEEDIT_MAX);
    memcpy(line, text, len);
    line[len] = 0;
    char *argv[MAX_ARGS + 1];
    int argc = split_words(line, argv, MAX_ARGS);
    if (argc == 0) return true;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        const struct command *c = &commands[i];
        if (strcmp(c->name, argv[0]) != 0) continue;
        if (argc - 1 > c->max_args) {
            if (c->args[0])
                kprintf("usage: %s %s\n", c->name, c->args);
            else
                kprintf("usage: %s (takes no arguments)\n", c->name);
            return true;
        }
        c->run(argc, argv);
        return true;
    }
    kprintf("%s: unknown command (try `help`)\n", argv[0]);
    return false;
}

/* ---- the task ---- */

static void prompt(void) { console_write(PROMPT, sizeof PROMPT - 1); }

int64_t shell_task(void *arg) {
    (void)arg;
    static struct lineedit editor;
    static struct lineedit_echo echo;
    console_input_init();
    lineedit_init(&editor);
    kprintf("Type `help` for commands.\n");
    prompt();
    for (;;) {
        int c = console_getchar(WAIT_FOREVER);
        if (c == -KEINTR) return -KEINTR;
        if (c < 0) continue;
        int r = lineedit_feed(&editor, (uint8_t)c, &echo);
        if (echo.len) console_write(echo.bytes, echo.len);
        if (r == LINEEDIT_LINE) {
            shell_exec(lineedit_line(&editor));
            prompt();
        } else if (r == LINEEDIT_CANCEL) {
            prompt();
        }
    }
}

NORETURN void shell_run(void) {
    shell_task(NULL);
    for (;;) {
        cli();
        hlt();
    }
}
