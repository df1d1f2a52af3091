/* procfs.c: the process/system information file system mounted on /proc, a VFS engine
 * (vfs.h). Plain-text files in the formats of Linux proc(5), so that programs written for
 * Linux (free, uptime, mount, ps, df) read them unchanged:
 *   meminfo     "MemTotal:  N kB", MemFree, MemAvailable, ... (plus SABOS's frame/heap figures)
 *   uptime      "seconds.cc idle-seconds.cc"
 *   mounts      "source target type options 0 0" (spaces and such escaped as \040, as Linux)
 *   tasks, interrupts, pci: SABOS's own tables
 *   net/dev     the network interfaces and their counters, in Linux's /proc/net/dev format
 *   net/tcp, net/tcp6, net/udp, net/udp6  the sockets, in Linux's formats (for netstat)
 *   net/stats   SABOS's IPv4/ICMP/UDP/TCP/IPv6 counters, laid out like Linux's /proc/net/snmp
 *   net/if_inet6  the IPv6 addresses of the interfaces, in Linux's format (ifconfig reads it)
 *   <pid>/      one directory per process: stat (proc(5) /proc/pid/stat, all 52 fields, zeros
 *               where SABOS keeps nothing), status ("Name:", "State:", "Pid:", "PPid:",
 *               "VmRSS:", ...), cmdline (the command name and a NUL: argv is not kept)
 *   self        the calling process's <pid> directory (a directory alias: no symlinks here)
 *
 * A file's text is generated when a read starts at offset 0 into a kmalloc'd buffer kept on
 * the node (made again in a larger buffer while it fills one, up to 1 MiB); reads at later offsets are served from that snapshot, so one sequential reader
 * sees a consistent file. One mutex per instance guards the snapshots.
 *
 * The root and the system files are fixed nodes. Per-process nodes are made on lookup and
 * kept in a list while referenced (VN_NOCACHE: released when the last reference goes, so
 * lookup returns the same vnode while one is held, as vfs.h requires). Process data is read
 * under the process table's lock (proc_for_each) into a local summary, never by pointer
 * after it. */
#include "vfs.h"
#include "proc.h"
#include "uvm.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "sched.h"
#include "time.h"
#include "cpu.h"
#include "irq.h"
#include "pci.h"
#include "sync.h"
#include "spinlock.h"
#include "net.h"
#include "net_tcp.h"
#include "net_udp.h"
#include "net_ipv4.h"
#include "net_ipv6.h"

#define NSEC_PER_SEC 1000000000ull
#define USER_HZ 100ull /* clock ticks in /proc/PID/stat (sysconf(_SC_CLK_TCK)) */

/* A growing text buffer; on overflow the text is cut (never written past the end). */
#define PROCFS_TEXT_MAX (1024 * 1024)   /* the largest text a file grows to */

struct text {
    char *buf;
    size_t len, cap;
};

static void PRINTF_LIKE(2, 3) text_printf(struct text *t, const char *fmt, ...) {
    if (t->len + 1 >= t->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len = MIN(t->len + (size_t)n, t->cap - 1);
}

static void text_putc(struct text *t, char c) {
    if (t->len + 1 < t->cap) {
        t->buf[t->len++] = c;
        t->buf[t->len] = 0;
    }
}

/* ---- system files ---- */

static void meminfo_line(struct text *t, const char *key, uint64_t kb) {
    text_printf(t, "%-16s%8lu kB\n", key, (unsigned long)kb);
}

static int gen_meminfo(struct text *t) {
    struct pmm_stats ps;
    struct heap_stats hs;
    pmm_get_stats(&ps);
    heap_get_stats(&hs);
    uint64_t kb_per_frame = PAGE_SIZE >> 10;
    meminfo_line(t, "MemTotal:", ps.total_frames * kb_per_frame);
    meminfo_line(t, "MemFree:", ps.free_frames * kb_per_frame);
    meminfo_line(t, "MemAvailable:", ps.free_frames * kb_per_frame);
    meminfo_line(t, "Buffers:", 0);
    meminfo_line(t, "Cached:", 0);
    meminfo_line(t, "SwapCached:", 0);
    meminfo_line(t, "Shmem:", 0);
    meminfo_line(t, "SwapTotal:", 0);
    meminfo_line(t, "SwapFree:", 0);
    meminfo_line(t, "Slab:", hs.pages_held * kb_per_frame);
    /* SABOS's own figures (not kB) */
    text_printf(t, "FramesTotal:    %8lu\n", (unsigned long)ps.total_frames);
    text_printf(t, "FramesFree:     %8lu\n", (unsigned long)ps.free_frames);
    text_printf(t, "FramesReserved: %8lu\n", (unsigned long)ps.reserved_frames);
    text_printf(t, "HeapBytes:      %8lu\n", (unsigned long)hs.bytes_in_use);
    text_printf(t, "HeapAllocations:%8lu\n", (unsigned long)hs.allocations);
    text_printf(t, "HeapPages:      %8lu\n", (unsigned long)hs.pages_held);
    return 0;
}

static void task_line(const struct task *task, void *ctx) {
    struct text *t = ctx;
    const char *state = task_state_name(task->state);
    char name[TASK_NAME_MAX];
    memcpy(name, task->name, TASK_NAME_MAX);
    name[TASK_NAME_MAX - 1] = 0;
    text_printf(t, "%5d  %-20s %-9s %-6s %8lu\n", task->id, name, state ? state : "?",
                task->prio == PRIO_HIGH ? "high" : "normal", (unsigned long)(task->cpu_time_ns / 1000000));
}

static int gen_tasks(struct text *t) {
    text_printf(t, "%5s  %-20s %-9s %-6s %8s\n", "ID", "NAME", "STATE", "PRIO", "CPU ms");
    task_for_each(task_line, t); /* the callback only formats into memory: it never sleeps */
    return 0;
}

/* Writes s with space, tab, newline and backslash as octal escapes (Linux's mangle()). */
static void text_escaped(struct text *t, const char *s) {
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
            text_printf(t, "\\%03o", (unsigned)(uint8_t)*s);
        else
            text_putc(t, *s);
    }
}

static void mount_line(const struct vfs_mount *m, void *ctx) {
    struct text *t = ctx;
    if (!m->path[0]) return; /* a detached instance is not in the name space */
    text_escaped(t, m->source[0] ? m->source : "none");
    text_putc(t, ' ');
    text_escaped(t, m->path);
    text_printf(t, " %s rw 0 0\n", m->type ? m->type->name : "none");
}

static int gen_mounts(struct text *t) {
    vfs_mount_for_each(mount_line, t);
    return 0;
}

static int gen_uptime(struct text *t) {
    uint64_t ns = time_ns(), idle = this_cpu()->idle_ns; /* one CPU: its idle time is the total */
    text_printf(t, "%lu.%02lu %lu.%02lu\n", (unsigned long)(ns / NSEC_PER_SEC), (unsigned long)(ns / 10000000 % 100),
                (unsigned long)(idle / NSEC_PER_SEC), (unsigned long)(idle / 10000000 % 100));
    return 0;
}

static int gen_interrupts(struct text *t) {
    for (int v = 0; v < 256; v++) {
        uint64_t n = irq_count((uint8_t)v);
        if (!n) continue;
        const char *name = irq_name((uint8_t)v);
        text_printf(t, "%3d %12lu %s\n", v, (unsigned long)n, name ? name : (v < 32 ? "exception" : "-"));
    }
    return 0;
}

static int gen_pci(struct text *t) {
    for (int i = 0; i < pci_bus.count; i++) {
        const struct pci_device *d = &pci_bus.devs[i];
        text_printf(t, "%02x:%02x.%d %04x:%04x %02x%02x %s\n", d->bus, d->dev, d->fn, d->vendor, d->device,
                    d->class_code, d->subclass, pci_device_name(d->vendor, d->device, d->class_code, d->subclass));
    }
    return 0;
}

/* /proc/net/dev (proc(5)): two header lines, then per interface "name:" and the receive
 * counters bytes packets errs drop fifo frame compressed multicast, then the transmit ones
 * bytes packets errs drop fifo colls carrier compressed (those SABOS does not keep are 0). */
static void net_dev_line(struct netif *nif, void *ctx) {
    struct text *t = ctx;
    const struct netif_stats *s = &nif->stats;
    text_printf(t, "%6s:%8lu %7lu %4lu %4lu    0     0          0         0 %8lu %7lu %4lu %4lu    0     0       0          0\n",
                nif->name, (unsigned long)s->rx_bytes, (unsigned long)s->rx_packets, (unsigned long)s->rx_errors,
                (unsigned long)s->rx_dropped, (unsigned long)s->tx_bytes, (unsigned long)s->tx_packets,
                (unsigned long)s->tx_errors, (unsigned long)s->tx_dropped);
}

static int gen_net_dev(struct text *t) {
    text_printf(t, "Inter-|   Receive                                                |  Transmit\n"
                   " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
    netif_for_each(net_dev_line, t);
    return 0;
}


/* /proc/net/if_inet6 (proc(5); Linux net/ipv6/addrconf.c): one line per IPv6 address,
 * "ADDRESS IFINDEX PREFIXLEN SCOPE FLAGS NAME": the address as 32 hex digits, then %02x
 * fields: the interface index, the prefix length, the scope (00 global, 10 host, 20 link)
 * and the flags (80 IFA_F_PERMANENT for lo's ::1 and the link-local address; a SLAAC
 * address has lifetimes, so 00 as in Linux), then the name right-aligned in 8 columns. */
static void if_inet6_line(struct text *t, const struct netif *nif, const uint8_t a[16], unsigned prefix_len,
                          unsigned scope, unsigned flags) {
    for (int i = 0; i < 16; i++) text_printf(t, "%02x", a[i]);
    text_printf(t, " %02x %02x %02x %02x %8s\n", netif_index(nif), prefix_len, scope, flags, nif->name);
}

static void net_if_inet6_lines(struct netif *nif, void *ctx) {
    struct text *t = ctx;
    bool loopback = nif->flags & NETIF_LOOPBACK;
    uint8_t a[16];
    if (nif->ip6_global_valid) {
        memcpy(a, nif->ip6_global, 16);
        if_inet6_line(t, nif, a, nif->ip6_global_prefix_len, loopback ? 0x10 : 0x00, loopback ? 0x80 : 0x00);
    }
    if (nif->ip6_ll_valid) {
        memcpy(a, nif->ip6_ll, 16);
        if_inet6_line(t, nif, a, 64, 0x20, 0x80);
    }
}

static int gen_net_if_inet6(struct text *t) {
    netif_for_each(net_if_inet6_lines, t);
    return 0;
}

/* ---- /proc/net/tcp, tcp6, udp, udp6 (proc(5); Linux net/ipv4/tcp_ipv4.c, tcp_ipv6.c,
 * udp.c): one socket per line, "sl: LOCAL:PORT REMOTE:PORT ST TXQ:RXQ TR:WHEN RETR UID
 * TIMEOUT INODE ...". An address is printed as Linux prints it: each 32-bit word of the
 * network-order address read as a native (little-endian) integer in %08X, so 127.0.0.1 is
 * 0100007F; ports are %04X in host order. ST is Linux's TCP state number (TCP_ESTABLISHED 1
 * ... TCP_LISTEN 10, TCP_CLOSING 11); UDP shows 07 (TCP_CLOSE: not connected). SABOS has
 * no socket inodes or uids: those print 0. A socket shows in exactly one table, by its own
 * family as on Linux: AF_INET in tcp/udp, AF_INET6 in tcp6/udp6 (an IPv4 address of an AF_INET6
 * socket printed v4-mapped, ::ffff:a.b.c.d); a connection of no socket by its address family,
 * and a listener on the any address of any family (family 0) in tcp6 as ::. */

/* Linux's state number for each RFC 9293 state (enum tcp_state order). */
static const uint8_t linux_tcp_state[] = {
    [TCP_CLOSED] = 7, [TCP_LISTEN] = 10, [TCP_SYN_SENT] = 2, [TCP_SYN_RECEIVED] = 3,
    [TCP_ESTABLISHED] = 1, [TCP_FIN_WAIT_1] = 4, [TCP_FIN_WAIT_2] = 5, [TCP_CLOSE_WAIT] = 8,
    [TCP_CLOSING] = 11, [TCP_LAST_ACK] = 9, [TCP_TIME_WAIT] = 6,
};

#define PROCNET_V4_WIDTH 149  /* Linux pads tcp lines to TMPSZ - 1 */
#define PROCNET_UDP_WIDTH 127 /* and udp lines to 127 */

/* Prints a (4 or 16 byte) address as Linux does: native-order 32-bit words in %08X; an IPv4
 * address in a v6 table v4-mapped. */
static void procnet_addr(struct text *t, const struct net_addr *a, bool v6) {
    uint8_t b[16] = {0};
    if (a->family == NET_AF_INET6 && v6) memcpy(b, a->v6, 16);
    else if (a->family == NET_AF_INET && !v6) memcpy(b, a->v4, 4);
    else if (a->family == NET_AF_INET) {
        b[10] = b[11] = 0xff;
        memcpy(b + 12, a->v4, 4);
    }
    for (int w = 0; w < (v6 ? 4 : 1); w++) {
        uint32_t v;
        memcpy(&v, b + w * 4, 4);
        text_printf(t, "%08X", v);
    }
}

/* Pads the line just written (starting at start) with spaces to width, then ends it. */
static void procnet_pad(struct text *t, size_t start, size_t width) {
    while (t->len - start < width && t->len + 2 < t->cap) text_putc(t, ' ');
    text_putc(t, '\n');
}

/* Clock ticks (USER_HZ) from now until at, 0 when past. */
static unsigned long procnet_ticks(uint64_t at, uint64_t now) {
    return at > now ? (unsigned long)((at - now) / (NSEC_PER_SEC / USER_HZ)) : 0;
}

struct procnet_ctx {
    struct text *t;
    bool v6;
    int n;
    uint64_t now;
};

static void tcp_line(const struct tcp_conn *c, void *arg) {
    struct procnet_ctx *x = arg;
    struct text *t = x->t;
    uint16_t want = x->v6 ? NET_AF_INET6 : NET_AF_INET;
    uint16_t family = c->owner_family ? c->owner_family : c->local.family ? c->local.family : NET_AF_INET6;
    if (family != want) return;
    if ((unsigned)c->state >= ARRAY_SIZE(linux_tcp_state)) return;
    uint32_t txq, rxq;
    if (c->state == TCP_LISTEN) { /* Linux: the accept queue and its limit */
        rxq = (uint32_t)c->n_pending;
        txq = (uint32_t)c->backlog;
    } else {
        txq = tcp_snd_queued(c);
        rxq = c->rcvbuf ? c->rcv_nxt - c->rcv_user - (c->rcv_fin ? 1u : 0u) : 0;
    }
    /* the timer Linux would report: 1 retransmit, 4 zero-window probe, 3 TIME_WAIT */
    unsigned tr = 0;
    unsigned long when = 0;
    if (c->state == TCP_TIME_WAIT && c->timewait_at) { tr = 3; when = procnet_ticks(c->timewait_at, x->now); }
    else if (c->rexmit_at) { tr = 1; when = procnet_ticks(c->rexmit_at, x->now); }
    else if (c->persist_at) { tr = 4; when = procnet_ticks(c->persist_at, x->now); }
    size_t start = t->len;
    text_printf(t, "%4d: ", x->n++);
    procnet_addr(t, &c->local, x->v6);
    text_printf(t, ":%04X ", c->lport);
    procnet_addr(t, &c->remote, x->v6);
    text_printf(t, ":%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu %d %016lx %lu %lu %u %u %d",
                c->state == TCP_LISTEN ? 0 : c->rport, linux_tcp_state[c->state], txq, rxq, tr, when,
                (unsigned)c->retries, 0u, 0, 0ul, 1, 0ul, (unsigned long)(c->rto / (NSEC_PER_SEC / USER_HZ)),
                0ul, 0u, (unsigned)(c->cwnd / (c->mss ? c->mss : 1)),
                c->state == TCP_LISTEN ? 0 : (int)(c->ssthresh / (c->mss ? c->mss : 1)));
    if (x->v6) text_putc(t, '\n');
    else procnet_pad(t, start, PROCNET_V4_WIDTH);
}

static int gen_tcp_table(struct text *t, bool v6) {
    if (v6) text_printf(t, "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    else text_printf(t, "%-149s\n", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode");
    struct procnet_ctx x = {t, v6, 0, tcp_now()};
    tcp_for_each(tcp_line, &x); /* formats into memory only: never sleeps under the TCP lock */
    return 0;
}
static int gen_net_tcp(struct text *t) { return gen_tcp_table(t, false); }
static int gen_net_tcp6(struct text *t) { return gen_tcp_table(t, true); }

static void udp_line(const struct udp_sock *s, void *arg) {
    struct procnet_ctx *x = arg;
    struct text *t = x->t;
    if (s->family != (x->v6 ? NET_AF_INET6 : NET_AF_INET)) return;
    uint32_t rxq = 0;
    for (const struct pkt *p = s->rx_head; p; p = p->next) rxq += p->len; /* at most rx_limit */
    static const struct net_addr none;
    size_t start = t->len;
    text_printf(t, "%5d: ", x->n++);
    procnet_addr(t, &s->local, x->v6);
    text_printf(t, ":%04X ", s->port);
    procnet_addr(t, &none, x->v6);
    text_printf(t, ":%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu %d %016lx %lu", 0, 7, 0u, rxq, 0u, 0ul, 0u,
                0u, 0, 0ul, 2, 0ul, (unsigned long)s->rx_dropped);
    if (x->v6) text_putc(t, '\n');
    else procnet_pad(t, start, PROCNET_UDP_WIDTH);
}

static int gen_udp_table(struct text *t, bool v6) {
    if (v6) text_printf(t, "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n");
    else text_printf(t, "%-127s\n", "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops");
    struct procnet_ctx x = {t, v6, 0, 0};
    udp_for_each(udp_line, &x); /* formats into memory only: never sleeps under the UDP lock */
    return 0;
}
static int gen_net_udp(struct text *t) { return gen_udp_table(t, false); }
static int gen_net_udp6(struct text *t) { return gen_udp_table(t, true); }

/* /proc/net/stats: SABOS's own counters in the layout of Linux's /proc/net/snmp: per
 * protocol a line of names and a line of values, both starting "Proto:". */
struct stat_field {
    const char *name;
    uint64_t value;
};

static void stats_block(struct text *t, const char *proto, const struct stat_field *f, size_t n) {
    text_printf(t, "%s:", proto);
    for (size_t i = 0; i < n; i++) text_printf(t, " %s", f[i].name);
    text_printf(t, "\n%s:", proto);
    for (size_t i = 0; i < n; i++) text_printf(t, " %lu", (unsigned long)f[i].value);
    text_putc(t, '\n');
}
#define STATS_BLOCK(t, proto, ...)                                                    \
    do {                                                                              \
        const struct stat_field f_[] = {__VA_ARGS__};                                 \
        stats_block(t, proto, f_, ARRAY_SIZE(f_));                                    \
    } while (0)

static int gen_net_stats(struct text *t) {
    const struct ip4_stats *i = &ip4_stats;
    STATS_BLOCK(t, "Ip", {"InReceives", i->rx_packets}, {"InDelivers", i->rx_delivered},
                {"InHdrErrors", i->rx_bad_header}, {"InCsumErrors", i->rx_bad_checksum},
                {"InTruncatedPkts", i->rx_truncated}, {"InTtlZero", i->rx_ttl_zero}, {"InBadSrc", i->rx_bad_src},
                {"InAddrErrors", i->rx_not_for_us}, {"InUnknownProtos", i->rx_no_proto},
                {"ReasmReqds", i->frag_received}, {"ReasmOKs", i->frag_reassembled},
                {"ReasmTimeout", i->frag_timeout}, {"ReasmBad", i->frag_bad}, {"ReasmTooBig", i->frag_too_big},
                {"ReasmNoSlot", i->frag_no_slot}, {"OutRequests", i->tx_packets}, {"OutNoRoutes", i->tx_no_route},
                {"OutTooBig", i->tx_too_big}, {"OutErrors", i->tx_errors});
    const struct icmp_stats *c = &icmp_stats;
    STATS_BLOCK(t, "Icmp", {"InMsgs", c->rx_packets}, {"InErrors", c->rx_bad}, {"InEchos", c->rx_echo_requests},
                {"InEchoReps", c->rx_echo_replies}, {"InDestUnreachs", c->rx_unreach},
                {"OutEchoReps", c->tx_echo_replies}, {"OutEchos", c->tx_echo_requests},
                {"OutDestUnreachs", c->tx_unreach}, {"OutRateLimited", c->tx_rate_limited});
    const struct udp_stats *u = &udp_stats;
    STATS_BLOCK(t, "Udp", {"InDatagrams", u->in_datagrams}, {"NoPorts", u->no_port},
                {"InTruncated", u->truncated}, {"InCsumErrors", u->bad_checksum},
                {"RcvbufErrors", u->queue_full}, {"OutDatagrams", u->out_datagrams},
                {"OutErrors", u->out_errors});
    const struct tcp_stats *p = &tcp_stats;
    STATS_BLOCK(t, "Tcp", {"ActiveOpens", p->active_opens}, {"PassiveOpens", p->passive_opens},
                {"InSegs", p->in_segs}, {"OutSegs", p->out_segs}, {"RetransSegs", p->retrans_segs}, {"RtoExpiries", p->rto_expiries}, {"FastRecoveries", p->fast_recoveries},
                {"InCsumErrors", p->bad_csum}, {"InErrs", p->bad_header}, {"NoSocket", p->no_socket},
                {"BacklogFull", p->backlog_full}, {"OutRsts", p->resets_sent}, {"InRsts", p->resets_received},
                {"Timeouts", p->timeouts}, {"KeepAliveProbes", p->keepalive_probes});
    const struct ipv6_stats *s = &ipv6_stats;
    STATS_BLOCK(t, "Ip6", {"InReceives", s->rx_packets}, {"InDelivers", s->rx_delivered},
                {"InTruncatedPkts", s->rx_truncated}, {"InBadVersion", s->rx_bad_version},
                {"InBadLength", s->rx_bad_length}, {"InBadExtHdr", s->rx_bad_ext}, {"InAddrErrors", s->rx_not_ours},
                {"InFragDropped", s->rx_frag_dropped}, {"InUnknownProtos", s->rx_no_proto},
                {"InBadSrc", s->rx_bad_src}, {"OutRequests", s->tx_packets}, {"OutNoRoutes", s->tx_no_route},
                {"OutNoMem", s->tx_no_mem}, {"OutNdFailed", s->tx_nd_failed}, {"OutTooBig", s->tx_too_big});
    STATS_BLOCK(t, "Icmp6", {"InMsgs", s->icmp_rx}, {"InCsumErrors", s->icmp_bad_csum}, {"InErrors", s->icmp_bad},
                {"OutEchoReplies", s->icmp_echo_replies_sent}, {"OutErrors", s->icmp_errors_sent},
                {"InNeighborSolicits", s->nd_ns_rx}, {"InNeighborAdvertisements", s->nd_na_rx},
                {"OutRouterSolicits", s->nd_rs_tx}, {"InRouterAdvertisements", s->nd_ra_rx},
                {"InNdErrors", s->nd_bad}, {"NdQueueDropped", s->nd_queue_dropped});
    return 0;
}

struct procfs_file {
    const char *name;
    int (*generate)(struct text *t);
    size_t cap;          /* buffer size */
    uint8_t dir;         /* 0: /proc, 1: /proc/net */
};

static const struct procfs_file files[] = {
    {"meminfo", gen_meminfo, 2048, 0},
    {"tasks", gen_tasks, 16384, 0},
    {"mounts", gen_mounts, 4096, 0},
    {"uptime", gen_uptime, 64, 0},
    {"interrupts", gen_interrupts, 16384, 0},
    {"pci", gen_pci, 16384, 0},
    {"dev", gen_net_dev, 8192, 1},
    {"tcp", gen_net_tcp, 8192, 1},
    {"tcp6", gen_net_tcp6, 8192, 1},
    {"udp", gen_net_udp, 32768, 1},
    {"udp6", gen_net_udp6, 32768, 1},
    {"stats", gen_net_stats, 8192, 1},
    {"if_inet6", gen_net_if_inet6, 2048, 1},
};
#define NFILES ((int)ARRAY_SIZE(files))

/* ---- per-process files ---- */

/* What a per-process file shows, copied under the process-table lock. */
struct pinfo {
    pid_k pid;
    bool found;
    char name[PROC_NAME_MAX];
    char state;                   /* R S T Z */
    pid_k ppid, pgrp, sid;
    int nthreads;
    uint64_t cpu_ns, exited_utime_ns, exited_stime_ns, start_ns;
    uint64_t sig_pending, sig_shared, sig_blocked, sig_ignored, sig_caught;
    uint32_t umask;
    int exit_signal, exit_code;
    struct uvm *vm;               /* referenced (uvm_get), or NULL */
};

static void pinfo_fill(const struct process *p, void *ctx) {
    struct pinfo *pi = ctx;
    if (p->pid != pi->pid) return;
    pi->found = true;
    memcpy(pi->name, p->name, PROC_NAME_MAX);
    pi->name[PROC_NAME_MAX - 1] = 0;
    pi->ppid = p->parent ? p->parent->pid : 0;
    pi->pgrp = p->pgid;
    pi->sid = p->sid;
    pi->nthreads = p->nthreads;
    pi->exited_utime_ns = p->utime_ns;
    pi->exited_stime_ns = p->stime_ns;
    pi->start_ns = p->start_ns;
    pi->sig_shared = p->sig_pending;
    pi->umask = p->umask;
    pi->exit_signal = p->exit_signal;
    bool running = false;
    struct task *self = task_current();
    for (const struct uthread *u = p->threads; u; u = u->next_thread) {
        if (!u->task) continue;
        uint64_t ns = u->task->cpu_time_ns;
        if (u->task == self) ns += tsc_to_ns(rdtsc() - self->switched_in_tsc);
        pi->cpu_ns += ns;
        if (u->task->state == TASK_RUNNABLE) running = true;
        if (u == p->threads) {
            pi->sig_pending = u->sig_pending;
            pi->sig_blocked = u->sig_blocked;
        }
    }
    for (int s = 1; s <= NSIG_K; s++) {
        uint64_t h = p->sigactions[s - 1].handler;
        if (h == 1) pi->sig_ignored |= SIGBIT(s);
        else if (h > 1) pi->sig_caught |= SIGBIT(s);
    }
    if (p->state == PROC_ZOMBIE) {
        pi->state = 'Z';
        pi->exit_code = p->exit_status;
    } else {
        pi->state = p->stopped ? 'T' : running ? 'R' : 'S';
        if (p->vm) {
            pi->vm = p->vm;
            uvm_get(p->vm); /* an atomic count: does not sleep */
        }
    }
}

static void vsize_region(uint64_t start, uint64_t end, int prot, int flags, void *ctx) {
    *(uint64_t *)ctx += end - start;
}

/* Looks pid up and summarises it; *vsize and *rss_pages from its address space. */
static bool pinfo_get(pid_k pid, struct pinfo *pi, uint64_t *vsize, uint64_t *rss_pages) {
    memset(pi, 0, sizeof *pi);
    pi->pid = pid;
    proc_for_each(pinfo_fill, pi);
    *vsize = *rss_pages = 0;
    if (pi->vm) {
        *rss_pages = uvm_resident_pages(pi->vm);
        uvm_for_each_region(pi->vm, vsize_region, vsize);
        uvm_put(pi->vm);
        pi->vm = NULL;
    }
    return pi->found;
}

static bool process_exists(pid_k pid) {
    struct pinfo pi = {.pid = pid};
    proc_for_each(pinfo_fill, &pi);
    if (pi.vm) uvm_put(pi.vm);
    return pi.found;
}

static uint64_t ns_to_ticks(uint64_t ns) { return ns / (NSEC_PER_SEC / USER_HZ); }

/* /proc/PID/stat: proc(5) field order, 52 fields. */
static void gen_pid_stat(struct text *t, const struct pinfo *pi, uint64_t vsize, uint64_t rss) {
    text_printf(t, "%d (%s) %c %d %d %d %d %d %u ", pi->pid, pi->name, pi->state, pi->ppid, pi->pgrp, pi->sid,
                0 /* tty_nr */, -1 /* tpgid */, 0u /* flags */);
    text_printf(t, "%lu %lu %lu %lu ", 0ul, 0ul, 0ul, 0ul); /* minflt cminflt majflt cmajflt */
    text_printf(t, "%lu %lu %ld %ld ", (unsigned long)ns_to_ticks(pi->cpu_ns + pi->exited_utime_ns),
                (unsigned long)ns_to_ticks(pi->exited_stime_ns), 0l, 0l); /* utime stime cutime cstime */
    text_printf(t, "%ld %ld %ld %ld %lu %lu %ld %lu ", 20l /* priority */, 0l /* nice */, (long)pi->nthreads,
                0l /* itrealvalue */, (unsigned long)ns_to_ticks(pi->start_ns), (unsigned long)vsize,
                (long)rss, ~0ul /* rsslim */);
    text_printf(t, "%lu %lu %lu %lu %lu ", 0ul, 0ul, 0ul, 0ul, 0ul); /* startcode endcode startstack esp eip */
    text_printf(t, "%lu %lu %lu %lu ", (unsigned long)(pi->sig_pending | pi->sig_shared), (unsigned long)pi->sig_blocked,
                (unsigned long)pi->sig_ignored, (unsigned long)pi->sig_caught);
    text_printf(t, "%lu %lu %lu %d %d %u %u %lu %lu %ld ", 0ul /* wchan */, 0ul, 0ul, pi->exit_signal,
                0 /* processor */, 0u /* rt_priority */, 0u /* policy */, 0ul /* blkio */, 0ul /* guest */,
                0l /* cguest */);
    text_printf(t, "%lu %lu %lu %lu %lu %lu %lu %d\n", 0ul, 0ul, 0ul, 0ul, 0ul, 0ul, 0ul, pi->exit_code);
}

static const char *state_name(char s) {
    switch (s) {
    case 'R': return "R (running)";
    case 'T': return "T (stopped)";
    case 'Z': return "Z (zombie)";
    default: return "S (sleeping)";
    }
}

/* /proc/PID/status: the proc(5) fields SABOS knows, in Linux's order and formats. */
static void gen_pid_status(struct text *t, const struct pinfo *pi, uint64_t vsize, uint64_t rss) {
    text_printf(t, "Name:\t%s\nUmask:\t%04o\nState:\t%s\n", pi->name, pi->umask, state_name(pi->state));
    text_printf(t, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", pi->pid, pi->pid, pi->ppid);
    text_printf(t, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%d\nGroups:\t\n", FD_MAX);
    text_printf(t, "VmSize:\t%8lu kB\nVmRSS:\t%8lu kB\n", (unsigned long)(vsize >> 10),
                (unsigned long)(rss * (PAGE_SIZE >> 10)));
    text_printf(t, "Threads:\t%d\n", pi->nthreads);
    text_printf(t, "SigPnd:\t%016lx\nShdPnd:\t%016lx\nSigBlk:\t%016lx\nSigIgn:\t%016lx\nSigCgt:\t%016lx\n",
                (unsigned long)pi->sig_pending, (unsigned long)pi->sig_shared, (unsigned long)pi->sig_blocked,
                (unsigned long)pi->sig_ignored, (unsigned long)pi->sig_caught);
}

/* ---- the file system ---- */

enum node_kind { PN_ROOT, PN_FILE, PN_NETDIR, PN_PIDDIR, PN_STAT, PN_STATUS, PN_CMDLINE };
static const char *const pid_file_names[] = {"stat", "status", "cmdline"}; /* PN_STAT.. in order */
#define NPIDFILES 3
#define PID_INO_BASE 0x100000ull /* per-process inodes: base + pid * 8 + kind */

struct procfs_node {
    struct vnode vn;
    enum node_kind kind;
    int file;            /* index in files (PN_FILE) */
    pid_k pid;           /* per-process nodes */
    char *snap;          /* the text generated at the last read at offset 0 */
    size_t snap_len;
    struct procfs_node *next; /* in the per-process list */
};

struct procfs {
    struct mutex lock;   /* snapshots */
    spinlock_t dyn_lock; /* the per-process list */
    struct procfs_node *dyn;
    struct procfs_node nodes[2 + NFILES]; /* root first, the files, then the net directory */
};

static const struct vnode_ops procfs_ops;

static struct procfs_node *node_of(struct vnode *vn) { return container_of(vn, struct procfs_node, vn); }

/* The per-process node (kind, pid) with a new reference, made if needed. */
static int dyn_get(struct vfs_mount *m, enum node_kind kind, pid_k pid, struct vnode **out) {
    struct procfs *fs = m->fs_priv;
    struct procfs_node *fresh = NULL;
    for (;;) {
        struct procfs_node *found = NULL;
        uint64_t fl = spin_lock_irqsave(&fs->dyn_lock);
        for (struct procfs_node *n = fs->dyn; n && !found; n = n->next)
            if (n->kind == kind && n->pid == pid && vnode_tryget(&n->vn)) found = n; /* skips dying ones */
        if (!found && fresh) {
            vnode_get(&fresh->vn);
            fresh->next = fs->dyn;
            fs->dyn = fresh;
            found = fresh;
            fresh = NULL;
        }
        spin_unlock_irqrestore(&fs->dyn_lock, fl);
        if (found) {
            kfree(fresh); /* another lookup made the same node meanwhile */
            *out = &found->vn;
            return 0;
        }
        fresh = kzalloc(sizeof(*fresh));
        if (!fresh) return -KENOMEM;
        uint32_t mode = kind == PN_PIDDIR ? (S_IFDIR | 0555) : (S_IFREG | 0444);
        vnode_init(&fresh->vn, &procfs_ops, m, mode, PID_INO_BASE + (uint64_t)pid * 8 + kind);
        fresh->vn.flags = VN_NOCACHE;
        fresh->vn.fs_data = fresh;
        fresh->kind = kind;
        fresh->pid = pid;
        fresh->file = -1;
    }
}

/* Parses a decimal pid name ("0", leading zeros and overflow refused): the pid or -1. */
static pid_k parse_pid(const char *name, size_t len) {
    if (len == 0 || len > 10 || (len > 1 && name[0] == '0')) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v > 0 && v <= INT32_MAX ? (pid_k)v : -1;
}

static bool name_is(const char *name, size_t len, const char *s) { return strlen(s) == len && memcmp(s, name, len) == 0; }

static int procfs_lookup(struct vnode *dir, const char *name, size_t len, struct vnode **out) {
    struct procfs *fs = dir->mount->fs_priv;
    struct procfs_node *d = node_of(dir);
    if (name_is(name, len, "..")) {
        struct vnode *up = d->kind == PN_ROOT ? dir : &fs->nodes[0].vn;
        vnode_get(up);
        *out = up;
        return 0;
    }
    if (d->kind == PN_PIDDIR) {
        for (int i = 0; i < NPIDFILES; i++)
            if (name_is(name, len, pid_file_names[i]))
                return process_exists(d->pid) ? dyn_get(dir->mount, (enum node_kind)(PN_STAT + i), d->pid, out)
                                              : -KENOENT;
        return -KENOENT;
    }
    uint8_t in_dir = d->kind == PN_NETDIR ? 1 : 0;
    for (int i = 0; i < NFILES; i++) {
        if (files[i].dir == in_dir && name_is(name, len, files[i].name)) {
            vnode_get(&fs->nodes[1 + i].vn);
            *out = &fs->nodes[1 + i].vn;
            return 0;
        }
    }
    if (in_dir) return -KENOENT;
    if (name_is(name, len, "net")) {
        vnode_get(&fs->nodes[1 + NFILES].vn);
        *out = &fs->nodes[1 + NFILES].vn;
        return 0;
    }
    pid_k pid = -1;
    if (name_is(name, len, "self")) {
        struct process *p = proc_current();
        pid = p ? p->pid : -1;
    } else {
        pid = parse_pid(name, len);
    }
    if (pid <= 0 || !process_exists(pid)) return -KENOENT;
    return dyn_get(dir->mount, PN_PIDDIR, pid, out);
}

/* The smallest pid >= min (proc_for_each callback). */
struct next_pid {
    pid_k min, best;
};
static void next_pid_fn(const struct process *p, void *ctx) {
    struct next_pid *np = ctx;
    if (p->pid >= np->min && (np->best < 0 || p->pid < np->best)) np->best = p->pid;
}

static void dirent_set(struct vfs_dirent *out, uint64_t ino, uint32_t type, const char *name) {
    out->ino = ino;
    out->type = type;
    out->name_len = (uint16_t)strlen(name);
    memcpy(out->name, name, out->name_len + 1u);
}

/* Root cookies: 0 ".", 1 "..", 2.. the files, then "self", then ROOT_PID_COOKIE + p for the
 * first process with pid >= p. Process directory cookies: ".", "..", then its files. */
#define ROOT_NET_COOKIE (2 + (uint64_t)NFILES)
#define ROOT_SELF_COOKIE (ROOT_NET_COOKIE + 1)
#define ROOT_PID_COOKIE (ROOT_SELF_COOKIE + 1)

static int procfs_readdir(struct vnode *dir, uint64_t *cookie, struct vfs_dirent *out) {
    struct procfs *fs = dir->mount->fs_priv;
    struct procfs_node *d = node_of(dir);
    uint64_t c = *cookie;
    if (c < 2) {
        uint64_t ino = c == 1 && (d->kind == PN_PIDDIR || d->kind == PN_NETDIR) ? fs->nodes[0].vn.ino : dir->ino;
        dirent_set(out, ino, S_IFDIR, c == 0 ? "." : "..");
        *cookie = c + 1;
        return 1;
    }
    if (d->kind == PN_PIDDIR) {
        if (c - 2 >= NPIDFILES) return 0;
        dirent_set(out, PID_INO_BASE + (uint64_t)d->pid * 8 + PN_STAT + (c - 2), S_IFREG, pid_file_names[c - 2]);
        *cookie = c + 1;
        return 1;
    }
    uint8_t in_dir = d->kind == PN_NETDIR ? 1 : 0;
    while (c < ROOT_NET_COOKIE && files[c - 2].dir != in_dir) c++; /* another directory's */
    if (c < ROOT_NET_COOKIE) {
        dirent_set(out, fs->nodes[c - 1].vn.ino, S_IFREG, files[c - 2].name);
        *cookie = c + 1;
        return 1;
    }
    if (in_dir) return 0;
    if (c == ROOT_NET_COOKIE) {
        dirent_set(out, fs->nodes[1 + NFILES].vn.ino, S_IFDIR, "net");
        *cookie = c + 1;
        return 1;
    }
    if (c == ROOT_SELF_COOKIE) {
        struct process *p = proc_current();
        if (p) {
            dirent_set(out, PID_INO_BASE + (uint64_t)p->pid * 8 + PN_PIDDIR, S_IFDIR, "self");
            *cookie = c + 1;
            return 1;
        }
        c++; /* a kernel task has no "self" */
    }
    if (c - ROOT_PID_COOKIE > (uint64_t)INT32_MAX) return 0;
    struct next_pid np = {(pid_k)(c - ROOT_PID_COOKIE), -1};
    proc_for_each(next_pid_fn, &np);
    if (np.best < 0) return 0;
    char name[12];
    ksnprintf(name, sizeof name, "%d", np.best);
    dirent_set(out, PID_INO_BASE + (uint64_t)np.best * 8 + PN_PIDDIR, S_IFDIR, name);
    *cookie = ROOT_PID_COOKIE + (uint64_t)np.best + 1;
    return 1;
}

/* Generates the text of a file node into t: 0, -KESRCH (the process is gone). */
static int generate(struct procfs_node *n, struct text *t) {
    if (n->kind == PN_FILE) return files[n->file].generate(t);
    struct pinfo pi;
    uint64_t vsize, rss;
    if (!pinfo_get(n->pid, &pi, &vsize, &rss)) return -KESRCH;
    if (n->kind == PN_STAT) {
        gen_pid_stat(t, &pi, vsize, rss);
    } else if (n->kind == PN_STATUS) {
        gen_pid_status(t, &pi, vsize, rss);
    } else if (pi.state != 'Z') { /* cmdline: empty for a zombie, as on Linux */
        text_printf(t, "%s", pi.name);
        text_putc(t, 0);
    }
    return 0;
}

static int64_t procfs_read(struct vnode *vn, uint64_t off, void *buf, size_t len) {
    struct procfs_node *n = node_of(vn);
    struct procfs *fs = vn->mount->fs_priv;
    if (n->kind == PN_ROOT || n->kind == PN_NETDIR || n->kind == PN_PIDDIR) return -KEISDIR;
    if (mutex_lock(&fs->lock) < 0) return -KEINTR;
    if (off == 0 || !n->snap) {
        size_t cap = n->kind == PN_FILE ? files[n->file].cap : 2048;
        struct text t;
        int r;
        /* A text that filled its buffer is made again in one twice as large, up to
         * PROCFS_TEXT_MAX (a socket table grows with the connections). */
        for (;;) {
            t = (struct text){kmalloc(cap), 0, cap};
            r = t.buf ? 0 : -KENOMEM;
            if (t.buf) {
                t.buf[0] = 0;
                r = generate(n, &t);
            }
            if (r < 0 || t.len + 1 < t.cap || cap * 2 > PROCFS_TEXT_MAX) break;
            kfree(t.buf);
            cap *= 2;
        }
        if (r < 0) {
            kfree(t.buf);
            mutex_unlock(&fs->lock);
            return r;
        }
        kfree(n->snap);
        n->snap = t.buf;
        n->snap_len = t.len;
    }
    int64_t got = 0;
    if (off < n->snap_len) {
        got = (int64_t)MIN((uint64_t)len, n->snap_len - off);
        memcpy(buf, n->snap + off, (size_t)got);
    }
    mutex_unlock(&fs->lock);
    return got;
}

static int procfs_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct procfs_node *n = node_of(vn);
    memset(st, 0, sizeof *st);
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = VFS_ISDIR(vn->mode) ? 2 : 1;
    st->size = 0; /* generated on read, as in Linux */
    st->blksize = 4096;
    st->dev = vn->mount ? vn->mount->id : 0;
    if (n->kind >= PN_PIDDIR) {
        struct pinfo pi = {.pid = n->pid};
        proc_for_each(pinfo_fill, &pi);
        if (pi.vm) uvm_put(pi.vm);
        if (!pi.found) return -KENOENT;
        uint64_t boot_wall = vfs_now_ns() - time_ns();
        st->atime_ns = st->mtime_ns = st->ctime_ns = boot_wall + pi.start_ns;
    }
    return 0;
}

/* The last reference to a per-process node went away: take it off the list and free it. */
static void procfs_release(struct vnode *vn) {
    struct procfs_node *n = node_of(vn);
    struct procfs *fs = vn->mount->fs_priv;
    uint64_t fl = spin_lock_irqsave(&fs->dyn_lock);
    for (struct procfs_node **pp = &fs->dyn; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    spin_unlock_irqrestore(&fs->dyn_lock, fl);
    kfree(n->snap);
    kfree(n);
}

static const struct vnode_ops procfs_ops = {
    .lookup = procfs_lookup,
    .readdir = procfs_readdir,
    .read = procfs_read,
    .getattr = procfs_getattr,
    .release = procfs_release,
};

static int procfs_mount(struct vfs_mount *m, const char *source, const char *options, struct vnode **root) {
    (void)source;
    (void)options;
    struct procfs *fs = kzalloc(sizeof(*fs));
    if (!fs) return -KENOMEM;
    mutex_init(&fs->lock, "procfs");
    spin_init(&fs->dyn_lock, "procfs_dyn");
    for (int i = 0; i <= NFILES + 1; i++) {
        struct procfs_node *n = &fs->nodes[i];
        bool dir = i == 0 || i == NFILES + 1;
        vnode_init(&n->vn, &procfs_ops, m, dir ? (S_IFDIR | 0555) : (S_IFREG | 0444), (uint64_t)i + 1);
        n->vn.fs_data = n;
        n->kind = i == 0 ? PN_ROOT : i == NFILES + 1 ? PN_NETDIR : PN_FILE;
        n->file = dir ? -1 : i - 1;
    }
    m->fs_priv = fs;
    vnode_get(&fs->nodes[0].vn);
    *root = &fs->nodes[0].vn;
    return 0;
}

static int procfs_unmount(struct vfs_mount *m) {
    struct procfs *fs = m->fs_priv;
    for (int i = 0; i <= NFILES + 1; i++) kfree(fs->nodes[i].snap);
    while (fs->dyn) { /* none should be left: the VFS checked that nothing is referenced */
        struct procfs_node *n = fs->dyn;
        fs->dyn = n->next;
        kfree(n->snap);
        kfree(n);
    }
    kfree(fs);
    m->fs_priv = NULL;
    return 0;
}

static struct vfs_fs_type procfs_type = {
    .name = "procfs",
    .mount = procfs_mount,
    .unmount = procfs_unmount,
};

/* Registers the "procfs" file-system type (vfs_register_fs ignores a repeat). */
void procfs_init(void) {
    vfs_register_fs(&procfs_type);
}
