/* main.c: kmain, the kernel's boot sequence (docs/boot.md):
 * serial console -> boot info check -> GDT/IDT -> frames -> paging -> heap -> framebuffer
 * console -> symbols -> ACPI -> interrupt controllers -> calibrated time -> PCI -> PS/2 ->
 * reclaim boot-services memory -> banner and "ready" -> selftest mode or the shell. */
#include "types.h"
#include "bootinfo.h"
#include "cpu.h"
#include "arch.h"
#include "mm.h"
#include "printk.h"
#include "panic.h"
#include "serial.h"
#include "fbcon.h"
#include "fault.h"
#include "acpi.h"
#include "irq.h"
#include "time.h"
#include "pci.h"
#include "ps2.h"
#include "net.h"
#include "e1000e.h"
#include "selftest.h"
#include "kernel.h"
#include "proc.h"
#include "tty.h"
#include "uvm.h"
#include "syscall.h"
#include "kstring.h"
#include "power.h"
#include "sched.h"
#include "ktimer.h"
#include "workqueue.h"
#include "block.h"
#include "vfs.h"


const struct boot_info *boot_info;
struct kernel_options kopts;
uint64_t kernel_entry_tsc;
uint64_t kernel_ready_ns;

uint64_t boot_ram_bytes(void) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < boot_info->mmap_count; i++) {
        const struct boot_mem_region *r = &boot_info->mmap[i];
        switch (r->efi_type) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 10:
            total += r->pages * PAGE_SIZE; /* loader, boot/runtime services, free, ACPI */
            break;
        default:
            break;
        }
    }
    return total;
}

static void print_banner(void) {
    struct pmm_stats ps;
    pmm_get_stats(&ps);
    uint64_t ready_ns = tsc_to_ns(rdtsc() - kernel_entry_tsc);
    printk(LOG_INFO, "SABOS-C: an x86-64 operating system in C\n");
    printk(LOG_INFO, "  memory: %lu MiB installed, %lu MiB free\n",
           (unsigned long)(boot_ram_bytes() >> 20), (unsigned long)((ps.free_frames * PAGE_SIZE) >> 20));
    printk(LOG_INFO, "  cpus: %d (from the %s)\n", acpi.has_madt ? acpi.cpu_count : 1,
           acpi.has_madt ? "ACPI MADT" : "boot CPU only, no MADT");
    printk(LOG_INFO, "  interrupts: %s\n", irq_mode());
    printk(LOG_INFO, "  timer: %s", time_tick_source());
    if (lapic_timer_hz)
        printk(LOG_INFO, ", LAPIC timer %lu.%03lu MHz", (unsigned long)(lapic_timer_hz / 1000000),
               (unsigned long)(lapic_timer_hz / 1000 % 1000));
    printk(LOG_INFO, ", TSC %lu.%03lu MHz (calibrated against %s)\n",
           (unsigned long)(tsc_hz / 1000000), (unsigned long)(tsc_hz / 1000 % 1000),
           time_calibration_source);
    struct rtc_time tm;
    if (rtc_read(&tm) == 0)
        printk(LOG_INFO, "  date: %04d-%02d-%02d %02d:%02d:%02d UTC (RTC)\n", tm.year, tm.month, tm.day,
               tm.hour, tm.minute, tm.second);
    else
        printk(LOG_INFO, "  date: unknown (the RTC did not answer)\n");
    printk(LOG_INFO, "  keyboard: %s\n", ps2_present() ? "PS/2" : "none (no PS/2 controller)");
    printk(LOG_INFO, "  pci devices:\n");
    pci_print_tree();
    kernel_ready_ns = ready_ns;
    printk(LOG_INFO, "kernel ready in %lu.%03lu ms (from kernel entry, TSC)\n",
           (unsigned long)(ready_ns / 1000000), (unsigned long)(ready_ns / 1000 % 1000));
}

/* Starts the first user program (kopts.init, /sbin/init by default) with the console tty.
 * False when there is none (init=none, missing, not runnable): the kernel shell takes over. */
void tty_console_stop(void) __attribute__((weak));

static bool start_init(void) {
    if (strcmp(kopts.init, "none") == 0) return false;
    struct vfs_stat st;
    if (vfs_stat(NULL, kopts.init, &st) < 0) {
        printk(LOG_WARN, "init: %s not found: starting the kernel shell\n", kopts.init);
        return false;
    }
    if (tty_console_start() < 0) {
        printk(LOG_ERR, "init: no console tty: starting the kernel shell\n");
        return false;
    }
    const char *argv[] = {kopts.init, NULL};
    int r = proc_spawn_init(kopts.init, argv);
    if (r < 0) {
        printk(LOG_ERR, "init: cannot start %s (error %d): starting the kernel shell\n", kopts.init, -r);
        if (tty_console_stop) tty_console_stop();
        return false;
    }
    printk(LOG_INFO, "init: %s started as pid %d\n", kopts.init, r);
    return true;
}

NORETURN void kmain(const struct boot_info *bi) {
    kernel_entry_tsc = rdtsc();
    boot_info = bi;
    serial_init();
    if (!bi || bi->magic != BOOTINFO_MAGIC || bi->version != BOOTINFO_VERSION)
        panic("boot info from the loader is missing or has the wrong version");
    int understood = cmdline_parse(bi->cmdline, &kopts);
    printk_set_console_level((enum log_level)kopts.loglevel);
    printk(LOG_INFO, "SABOS-C kernel starting, command line \"%s\"%s\n", bi->cmdline,
           understood ? "" : (bi->cmdline[0] ? " (no option understood)" : ""));
    if (bi->flags & BOOTINFO_MMAP_TRUNCATED)
        printk(LOG_WARN, "boot: the firmware memory map had more than %d entries; memory past them is unused\n",
               BOOTINFO_MAX_MMAP);
    gdt_init();
    idt_init();
    pmm_init(bi);
    paging_init(bi);
    fbcon_init(&bi->fb);
    symbols_init(bi->kernel_file, bi->kernel_file_size);
    acpi_init(bi->rsdp);
    if (acpi.has_fadt && acpi.century >= 0x0e && acpi.century < 0x80)
        rtc_set_century_register(acpi.century); /* FADT CENTURY: CMOS index of the century */
    irq_init();
    time_init();
    sti();
    sched_init();      /* the boot flow becomes task 0; the idle task exists from here on */
    ktimer_init();     /* one-shot timer events instead of the boot tick */
    workqueue_init();
    pci_init();
    ps2_init();
    storage_init();
    virtio_net_init(); /* NIC drivers register their interfaces (eth0 first), then net_poller */
    e1000e_init();
    net_init();
    fs_boot_mounts();
    uvm_cpu_init();    /* SMEP/SMAP where the CPU has them */
    syscall_init();
    pmm_reclaim_boot_services(bi);
    print_banner();
    if (kopts.selftest) selftest_boot_mode(kopts.selftest_group);
    if (kopts.bench) bench_run();
    if (kopts.poweroff) {
        vfs_sync_all();
        power_off();
    }
    /* The boot flow is done: init (pid 1) takes the console, or else the kernel shell runs as
     * a task of its own; task 0 ends. */
    if (start_init()) task_exit(0);
    if (task_create_detached("shell", shell_task, NULL, PRIO_NORMAL) < 0) shell_run();
    task_exit(0);
}
