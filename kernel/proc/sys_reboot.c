/* sys_reboot.c: the reboot(2) system call of the Linux x86-64 ABI (number 169):
 *
 *   reboot(int magic, int magic2, unsigned int cmd, void *arg)
 *
 * Follows Linux man-pages reboot(2) (linux/reboot.h values): magic must be
 * LINUX_REBOOT_MAGIC1 (0xfee1dead) and magic2 one of LINUX_REBOOT_MAGIC2/2A/2B/2C
 * (672274793, 85072278, 369367448, 537993216), else EINVAL; compared as 32-bit ints, as Linux
 * does. The commands:
 *   LINUX_REBOOT_CMD_POWER_OFF 0x4321FEDC  sync every mount, then ACPI S5 (power_off)
 *   LINUX_REBOOT_CMD_RESTART   0x01234567  sync every mount, then reset (power_reboot)
 *   LINUX_REBOOT_CMD_RESTART2  0xA1B2C3D4  the same, arg a command string (at most 255 bytes
 *                                          are read, EFAULT when unreadable), which is logged
 *   LINUX_REBOOT_CMD_HALT      0xCDEF0123  the same as POWER_OFF: a machine that sits halted
 *                                          helps nobody under QEMU (documented difference)
 *   LINUX_REBOOT_CMD_CAD_ON    0x89ABCDEF  accepted, 0: the keyboard drivers have no
 *   LINUX_REBOOT_CMD_CAD_OFF   0x00000000  Ctrl-Alt-Del action, so there is nothing to switch
 * Anything else (KEXEC, SW_SUSPEND, unknown values) is EINVAL, as on a Linux kernel built
 * without kexec and hibernation.
 *
 * Permission: Linux wants CAP_SYS_BOOT (else EPERM). SABOS has one user, root, and no
 * capabilities, so every process may call it; in practice poweroff/reboot ask init (pid 1),
 * which stops the services first. The kernel itself does not stop processes: it syncs the
 * file systems (vfs_sync_all; an error is reported and the power-off goes on) and then
 * leaves through kernel/acpi/power.c, as the kernel shell's `shutdown` and `reboot` do. */
#include "syscall.h"
#include "proc.h"
#include "uaccess.h"
#include "vfs.h"
#include "power.h"
#include "printk.h"
#include "kerrno.h"

#define LINUX_REBOOT_MAGIC1 0xfee1deadu
#define LINUX_REBOOT_MAGIC2 672274793u
#define LINUX_REBOOT_MAGIC2A 85072278u
#define LINUX_REBOOT_MAGIC2B 369367448u
#define LINUX_REBOOT_MAGIC2C 537993216u

#define LINUX_REBOOT_CMD_RESTART 0x01234567u
#define LINUX_REBOOT_CMD_HALT 0xCDEF0123u
#define LINUX_REBOOT_CMD_CAD_ON 0x89ABCDEFu
#define LINUX_REBOOT_CMD_CAD_OFF 0x00000000u
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321FEDCu
#define LINUX_REBOOT_CMD_RESTART2 0xA1B2C3D4u

#define RESTART2_ARG_MAX 256 /* Linux reads at most 255 bytes of the command */

static bool magic_ok(uint32_t magic1, uint32_t magic2) {
    return magic1 == LINUX_REBOOT_MAGIC1 &&
           (magic2 == LINUX_REBOOT_MAGIC2 || magic2 == LINUX_REBOOT_MAGIC2A ||
            magic2 == LINUX_REBOOT_MAGIC2B || magic2 == LINUX_REBOOT_MAGIC2C);
}

/* Writes every cached change to the disks, saying what it does (the last words on the
 * console before the machine goes away). */
static void sync_for_reboot(const char *what) {
    struct process *p = proc_current();
    pr_info("reboot: %s requested by pid %d (%s); syncing file systems\n", what, p ? (int)p->pid : 0,
            p ? p->name : "kernel");
    int r = vfs_sync_all();
    if (r < 0) pr_err("reboot: sync failed (error %d); some changes may not be on disk\n", r);
}

SYSCALL(SYS_reboot, reboot) {
    uint32_t cmd = (uint32_t)a2;
    if (!magic_ok((uint32_t)a0, (uint32_t)a1)) return -KEINVAL;
    switch (cmd) {
    case LINUX_REBOOT_CMD_CAD_ON:
    case LINUX_REBOOT_CMD_CAD_OFF:
        return 0;
    case LINUX_REBOOT_CMD_POWER_OFF:
    case LINUX_REBOOT_CMD_HALT:
        sync_for_reboot(cmd == LINUX_REBOOT_CMD_HALT ? "halt (power off)" : "power off");
        power_off();
    case LINUX_REBOOT_CMD_RESTART:
        sync_for_reboot("restart");
        power_reboot();
    case LINUX_REBOOT_CMD_RESTART2: {
        char arg[RESTART2_ARG_MAX];
        int64_t n = strncpy_from_user(arg, (const char *)a3, sizeof arg);
        if (n == -KEFAULT) return -KEFAULT;
        arg[sizeof arg - 1] = 0; /* longer commands are cut, as Linux does */
        pr_info("reboot: restarting with command '%s'\n", arg);
        sync_for_reboot("restart");
        power_reboot();
    }
    default:
        return -KEINVAL;
    }
}
