/* sys_reboot_selftest.c: self-tests (group `reboot`) of the reboot(2) argument checks in
 * sys_reboot.c, against Linux man-pages reboot(2): a wrong magic or magic2 and an unknown
 * command are EINVAL, Ctrl-Alt-Del on/off is accepted, RESTART2 with an unreadable command
 * string is EFAULT.
 *
 * Only calls that must fail (or that change nothing) are made: a check that wrongly let one
 * through would power the machine off or reset it, and the selftest run would end without its
 * verdict line, which the harness counts as a failure. The real power-off and restart are
 * tested from the host (tests/integration/shutdown_guest.exp). */
#include "selftest.h"
#include "syscall.h"
#include "proc.h"
#include "kerrno.h"

#define MAGIC1 0xfee1deadull
#define MAGIC2 672274793ull
#define CMD_POWER_OFF 0x4321FEDCull
#define CMD_RESTART 0x01234567ull
#define CMD_HALT 0xCDEF0123ull
#define CMD_RESTART2 0xA1B2C3D4ull
#define CMD_CAD_ON 0x89ABCDEFull
#define CMD_CAD_OFF 0ull
#define UNMAPPED_USER 0x1000ull /* below every user mapping */

static int64_t reboot_call(uint64_t magic1, uint64_t magic2, uint64_t cmd, uint64_t arg) {
    return syscall_invoke(SYS_reboot, magic1, magic2, cmd, arg, 0, 0);
}

SELFTEST(reboot, bad_magic_is_einval) {
    static const uint64_t cmds[] = {CMD_POWER_OFF, CMD_RESTART, CMD_HALT};
    for (unsigned i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int64_t r1 = reboot_call(0, MAGIC2, cmds[i], 0);
        int64_t r2 = reboot_call(MAGIC1, 0, cmds[i], 0);
        int64_t r3 = reboot_call(MAGIC1 + 1, MAGIC2, cmds[i], 0);
        int64_t r4 = reboot_call(MAGIC1, MAGIC2 + 1, cmds[i], 0);
        int64_t r5 = reboot_call(MAGIC2, MAGIC1, cmds[i], 0); /* swapped */
        ST_ASSERT(t, r1 == -KEINVAL && r2 == -KEINVAL && r3 == -KEINVAL && r4 == -KEINVAL && r5 == -KEINVAL,
                  "cmd %#lx with bad magics gave %ld %ld %ld %ld %ld", (unsigned long)cmds[i], (long)r1, (long)r2,
                  (long)r3, (long)r4, (long)r5);
    }
}

SELFTEST(reboot, unknown_command_is_einval) {
    /* KEXEC and SW_SUSPEND (unsupported, as Linux without them) and near misses of real
     * commands. */
    static const uint64_t cmds[] = {0x45584543, 0xD000FCE2, CMD_POWER_OFF + 1, CMD_RESTART - 1, 1, 0xffffffff};
    for (unsigned i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int64_t r = reboot_call(MAGIC1, MAGIC2, cmds[i], 0);
        ST_ASSERT(t, r == -KEINVAL, "cmd %#lx gave %ld, expected %d", (unsigned long)cmds[i], (long)r, -KEINVAL);
    }
}

SELFTEST(reboot, ctrl_alt_del_switch_accepted) {
    static const uint64_t magic2s[] = {672274793, 85072278, 369367448, 537993216};
    for (unsigned i = 0; i < sizeof magic2s / sizeof magic2s[0]; i++) {
        int64_t on = reboot_call(MAGIC1, magic2s[i], CMD_CAD_ON, 0);
        int64_t off = reboot_call(MAGIC1, magic2s[i], CMD_CAD_OFF, 0);
        ST_ASSERT(t, on == 0 && off == 0, "magic2 %lu: CAD_ON %ld, CAD_OFF %ld", (unsigned long)magic2s[i],
                  (long)on, (long)off);
    }
}

SELFTEST(reboot, restart2_unreadable_command_is_efault) {
    int r = proc_test_enter();
    ST_ASSERT(t, r == 0, "proc_test_enter = %d", r);
    int64_t low = reboot_call(MAGIC1, MAGIC2, CMD_RESTART2, UNMAPPED_USER);
    int64_t null = reboot_call(MAGIC1, MAGIC2, CMD_RESTART2, 0);
    int64_t kern = reboot_call(MAGIC1, MAGIC2, CMD_RESTART2, 0xffffffff80000000ull);
    proc_test_leave();
    ST_ASSERT(t, low == -KEFAULT && null == -KEFAULT && kern == -KEFAULT,
              "RESTART2 with an unmapped, NULL and kernel command address gave %ld %ld %ld", (long)low, (long)null,
              (long)kern);
}
