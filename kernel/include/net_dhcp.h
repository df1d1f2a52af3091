/* net_dhcp.h: the DHCPv4 client (RFC 2131 state machine, RFC 2132 options, RFC 951 BOOTP
 * message layout). A pure packet builder and parser, and a client state machine driven by
 * (event, now): dhcp_start, dhcp_input (a datagram received on UDP port 68), dhcp_tick (the
 * clock). It never sleeps: it sends through ops.send (the caller's UDP socket on port 68,
 * dst 255.255.255.255 = broadcast through the interface) and applies or withdraws the lease
 * through ops.configure. Times are monotonic nanoseconds. */
#pragma once
#include "net.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236           /* BOOTP header before the magic cookie */
#define DHCP_MIN_LEN 300             /* BOOTP minimum message (RFC 951) */
#define DHCP_MSG_MAX 576
#define DHCP_MAX_DNS 4

enum dhcp_msgtype {
    DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK, DHCPRELEASE, DHCPINFORM
};

/* A parsed message. Addresses as on the wire. */
struct dhcp_info {
    uint8_t op, type;                /* BOOTREQUEST 1 / BOOTREPLY 2; option 53 (0 = absent) */
    uint32_t xid;
    uint8_t chaddr[6];
    uint8_t ciaddr[4], yiaddr[4];
    bool has_mask, has_router, has_server_id, has_lease;
    uint8_t mask[4], router[4], server_id[4];
    uint8_t dns[DHCP_MAX_DNS][4];
    int ndns;
    uint32_t lease_s, t1_s, t2_s;    /* t1/t2 0 = absent */
};

/* Parses a message. 0, or -KEPROTO (short, bad cookie/hardware type, an option running past
 * the end, a known option of the wrong length, no end option). */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_info *out);
/* Builds a client message of type into buf (cap >= DHCP_MIN_LEN). ciaddr, req_ip and
 * server_id may be NULL (absent). broadcast sets the BOOTP broadcast flag. Returns the
 * length or -KENOSPC / -KEINVAL. */
int dhcp_build(uint8_t *buf, size_t cap, uint8_t type, uint32_t xid, const uint8_t mac[6], uint16_t secs,
               const uint8_t *ciaddr, const uint8_t *req_ip, const uint8_t *server_id, bool broadcast);

struct dhcp_lease {
    uint8_t ip[4], mask[4], router[4], server[4];
    uint8_t dns[DHCP_MAX_DNS][4];
    int ndns;
    uint32_t lease_s, t1_s, t2_s;    /* lease_s 0xffffffff = infinite */
};

enum dhcp_state { DHCP_INIT, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND, DHCP_RENEWING, DHCP_REBINDING };

struct dhcp_client_ops {
    /* Sends msg from port 68 to dst:67 (255.255.255.255 = broadcast). 0 or -errno. */
    int (*send)(void *ctx, const uint8_t *msg, size_t len, const uint8_t dst[4]);
    /* Applies a lease (BOUND, renewed) or, with NULL, withdraws the address (NAK, expiry). */
    void (*configure)(void *ctx, const struct dhcp_lease *lease);
    uint32_t (*rand32)(void *ctx);   /* transaction ids */
    void *ctx;
};

struct dhcp_client {
    struct dhcp_client_ops ops;
    uint8_t mac[6];
    /* state */
    enum dhcp_state state;
    uint32_t xid;
    struct dhcp_lease lease;         /* the offer while REQUESTING, the lease once BOUND */
    bool configured;                 /* configure() was called with a lease */
    uint64_t start_ns;               /* when this exchange began (secs field) */
    uint64_t req_ns;                 /* when the last REQUEST was sent (lease times count from it) */
    uint64_t next_ns;                /* next retransmission */
    uint64_t t1_ns, t2_ns, expire_ns;
    uint32_t backoff_s;              /* 4, 8, 16, 32, 64 (RFC 2131 §4.1) */
    int tries;
    uint64_t bad_msgs;               /* malformed or foreign messages ignored */
    uint8_t buf[DHCP_MSG_MAX];
};

/* Starts (or restarts) from INIT: sends DHCPDISCOVER. mac and ops must be set. */
void dhcp_start(struct dhcp_client *c, uint64_t now_ns);
/* A datagram received on port 68. Returns 1 when the state changed, 0 when ignored. */
int dhcp_input(struct dhcp_client *c, const uint8_t *msg, size_t len, uint64_t now_ns);
/* Runs timers: retransmissions, T1 (RENEWING), T2 (REBINDING), lease expiry. */
void dhcp_tick(struct dhcp_client *c, uint64_t now_ns);
/* When dhcp_tick next has work (UINT64_MAX = never). */
uint64_t dhcp_next_event(const struct dhcp_client *c);

/* resolv.conf(5) reads at most 3 nameserver lines (MAXNS). */
#define DHCP_RESOLV_MAX_NS 3
/* Room dhcp_resolv_conf needs for the longest text. */
#define DHCP_RESOLV_TEXT_MAX 160
/* Builds the text of /etc/resolv.conf into buf (NUL-terminated): a comment line, then one
 * "nameserver a.b.c.d" line per DNS server of leases[0], then leases[1]... (NULL: no lease),
 * skipping duplicates, 0.0.0.0 and 255.255.255.255, at most DHCP_RESOLV_MAX_NS lines; only
 * whole lines that fit in cap. Returns the length (0 when cap cannot hold the comment). */
size_t dhcp_resolv_conf(const struct dhcp_lease *const *leases, int n, char *buf, size_t cap);

/* ---- the kernel's client (dhcp_client.c) ---- */
/* Starts a DHCP client on every Ethernet interface (net_init calls it once): leases configure
 * the interface; every interface's DNS servers (eth0's first) go to /etc/resolv.conf. */
void dhcp_client_init(void);
/* True when nif holds a lease (tests). */
bool dhcp_client_bound(const struct netif *nif);
