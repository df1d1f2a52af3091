/* halt: halts the machine (on SABOS the kernel powers off, as for poweroff), by asking init
 * (process 1) with SIGUSR1, or with -f at once through reboot(RB_HALT_SYSTEM). The options and
 * messages are described in user/include/powerctl.h (busybox's halt behaves the same way;
 * Linux man-pages reboot(2)). */
#include "powerctl.h"

int main(int argc, char **argv) { return powerctl_main(argc, argv, "halt", SIGUSR1, RB_HALT_SYSTEM); }
