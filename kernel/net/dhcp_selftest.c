/* dhcp_selftest.c: the kernel's DHCP client against QEMU user networking (group "dhcp"):
 * slirp leases 10.0.2.15/24 with gateway 10.0.2.2 and DNS 10.0.2.3. */
#include "selftest.h"
#include "net.h"
#include "net_dhcp.h"
#include "vfs.h"
#include "kstring.h"
#include "time.h"
#include "sched.h"

SELFTEST_TIMEOUT(dhcp, eth0_gets_a_lease, 20000) {
    struct netif *nif = netif_find("eth0");
    ST_ASSERT(t, nif, "no eth0");
    uint64_t deadline = time_ns() + 10000000000ull;
    while (!dhcp_client_bound(nif) && time_ns() < deadline) task_sleep_ns(10000000);
    ST_ASSERT(t, dhcp_client_bound(nif), "no lease within 10 s");
    static const uint8_t ip[4] = {10, 0, 2, 15}, gw[4] = {10, 0, 2, 2}, mask[4] = {255, 255, 255, 0};
    ST_ASSERT(t, memcmp(nif->ip4, ip, 4) == 0, "address %u.%u.%u.%u, expected 10.0.2.15", nif->ip4[0], nif->ip4[1],
              nif->ip4[2], nif->ip4[3]);
    ST_ASSERT(t, memcmp(nif->gateway4, gw, 4) == 0, "gateway %u.%u.%u.%u, expected 10.0.2.2", nif->gateway4[0],
              nif->gateway4[1], nif->gateway4[2], nif->gateway4[3]);
    ST_ASSERT(t, memcmp(nif->netmask4, mask, 4) == 0, "netmask is not 255.255.255.0");
}

SELFTEST_TIMEOUT(dhcp, resolv_conf_names_the_dns_server, 20000) {
    char buf[256];
    int64_t n = -1;
    uint64_t deadline = time_ns() + 10000000000ull;
    for (;;) {
        struct vfs_file *f;
        if (vfs_open(NULL, "/etc/resolv.conf", O_RDONLY, 0, &f) == 0) {
            n = vfs_read(f, buf, sizeof buf - 1);
            vfs_close(f);
            if (n > 0) {
                buf[n] = 0;
                bool found = false;
                for (int64_t i = 0; i + 20 <= n && !found; i++) found = memcmp(buf + i, "nameserver 10.0.2.3\n", 20) == 0;
                if (found) return;
            }
        }
        if (time_ns() > deadline) break;
        task_sleep_ns(20000000);
    }
    ST_ASSERT(t, false, "/etc/resolv.conf has no \"nameserver 10.0.2.3\" line after 10 s (read %ld bytes)", (long)n);
}
