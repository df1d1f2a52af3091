/* reboot: restarts the machine, by asking init (process 1) with SIGTERM, or with -f at once
 * through reboot(RB_AUTOBOOT). The options and messages are described in
 * user/include/powerctl.h (busybox's reboot behaves the same way; Linux man-pages reboot(2)). */
#include "powerctl.h"

int main(int argc, char **argv) { return powerctl_main(argc, argv, "reboot", SIGTERM, RB_AUTOBOOT); }
