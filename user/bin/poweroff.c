/* poweroff: powers the machine off, by asking init (process 1) with SIGUSR2, or with -f at
 * once through reboot(RB_POWER_OFF). The options and messages are described in
 * user/include/powerctl.h (busybox's poweroff behaves the same way; Linux man-pages reboot(2)). */
#include "powerctl.h"

int main(int argc, char **argv) { return powerctl_main(argc, argv, "poweroff", SIGUSR2, RB_POWER_OFF); }
