/* procfs_selftest.c: self-tests of procfs (kernel/fs/procfs.c), group `procfs`. Each test
 * mounts a detached procfs instance and reads one file through the VFS (vfs.h): it must open,
 * give non-empty text, and contain what the file is about, in the format of Linux proc(5)
 * where Linux has the file (meminfo, mounts, uptime). The per-process entries are tested
 * with a process of their own in kernel/proc/sys_misc_selftest.c. */
#include "selftest.h"
#include "vfs.h"
#include "kstring.h"
#include "kprintf.h"
#include "mm.h"
#include "net_tcp.h"
#include "net_udp.h"

#define TEXT_MAX 65536

/* Reads the whole file into a NUL-terminated kmalloc'd buffer (small reads, to exercise the
 * snapshot served at later offsets). Returns the length or a negative error. */
static int64_t read_proc_file(const char *path, char **out) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    if (r < 0) return r;
    struct vfs_ctx ctx = {m->root, m->root};
    struct vfs_file *f = NULL;
    char *buf = kmalloc(TEXT_MAX + 1);
    int64_t len = 0;
    r = buf ? vfs_open(&ctx, path, O_RDONLY, 0, &f) : -KENOMEM;
    while (r == 0 && len < TEXT_MAX) {
        int64_t n = vfs_read(f, buf + len, MIN((size_t)100, (size_t)(TEXT_MAX - len)));
        if (n < 0) r = (int)n;
        if (n <= 0) break;
        len += n;
    }
    if (f) vfs_close(f);
    vfs_umount(m);
    if (r < 0) {
        kfree(buf);
        return r;
    }
    buf[len] = 0;
    *out = buf;
    return len;
}

static bool contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0) return true;
    return false;
}

SELFTEST(procfs, mounts_lists_root_and_tmpfs) {
    char *text = NULL;
    int64_t n = read_proc_file("/mounts", &text);
    ST_ASSERT(t, n > 0, "reading mounts: %ld", (long)n);
    bool root = contains(text, " / "), tmp = contains(text, " tmpfs rw 0 0\n");
    /* every line: source target type options 0 0 (four words, then "0 0") */
    bool lines_ok = true;
    for (const char *p = text; *p && lines_ok;) {
        int words = 0;
        const char *e = p;
        while (*e && *e != '\n') {
            if (*e != ' ' && (e == p || e[-1] == ' ')) words++;
            e++;
        }
        lines_ok = *e == '\n' && words == 6 && e - p > 4 && strncmp(e - 4, " 0 0", 4) == 0;
        p = e + 1;
    }
    bool detached = contains(text, "(detached)");
    kfree(text);
    ST_ASSERT(t, root, "mounts does not list \" / \"");
    ST_ASSERT(t, tmp, "mounts does not list tmpfs as \"... tmpfs rw 0 0\"");
    ST_ASSERT(t, lines_ok, "a mounts line is not \"source target type options 0 0\"");
    ST_ASSERT(t, !detached, "mounts lists a detached instance");
}

/* The number after "key" (then spaces) at the start of a line, or -1. */
static int64_t field_value(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *p = text; *p; p++) {
        if ((p == text || p[-1] == '\n') && strncmp(p, key, n) == 0) {
            p += n;
            while (*p == ' ') p++;
            if (*p < '0' || *p > '9') return -1;
            int64_t v = 0;
            while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
            return v;
        }
    }
    return -1;
}

SELFTEST(procfs, meminfo_linux_format) {
    char *text = NULL;
    int64_t n = read_proc_file("/meminfo", &text);
    ST_ASSERT(t, n > 0, "reading meminfo: %ld", (long)n);
    int64_t total = field_value(text, "MemTotal:"), freekb = field_value(text, "MemFree:");
    int64_t avail = field_value(text, "MemAvailable:"), frames = field_value(text, "FramesFree:");
    bool kb_suffix = contains(text, " kB\nMemFree:");
    bool first = strncmp(text, "MemTotal:", 9) == 0;
    kfree(text);
    ST_ASSERT(t, first, "meminfo does not start with MemTotal:");
    ST_ASSERT(t, total > 0 && freekb > 0 && freekb <= total && avail >= 0 && avail <= total,
              "MemTotal %ld MemFree %ld MemAvailable %ld", (long)total, (long)freekb, (long)avail);
    ST_ASSERT(t, kb_suffix, "MemTotal line does not end in \" kB\"");
    ST_ASSERT(t, frames > 0, "meminfo has no non-zero FramesFree number");
}

SELFTEST(procfs, tasks_lists_idle) {
    char *text = NULL;
    int64_t n = read_proc_file("/tasks", &text);
    ST_ASSERT(t, n > 0, "reading tasks: %ld", (long)n);
    bool idle = contains(text, " idle ");
    kfree(text);
    ST_ASSERT(t, idle, "tasks does not list idle");
}

/* Reads "DIGITS.DD" at *p and advances past it; false when the text is not that. */
static bool seconds_cc(const char **p) {
    const char *s = *p;
    int digits = 0;
    while (*s >= '0' && *s <= '9') s++, digits++;
    if (digits == 0 || s[0] != '.' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') return false;
    *p = s + 3;
    return true;
}

SELFTEST(procfs, uptime_is_linux_format) {
    char *text = NULL;
    int64_t n = read_proc_file("/uptime", &text);
    ST_ASSERT(t, n > 0, "reading uptime: %ld", (long)n);
    const char *p = text;
    bool ok = seconds_cc(&p) && *p++ == ' ' && seconds_cc(&p) && p[0] == '\n' && p[1] == 0;
    kfree(text);
    ST_ASSERT(t, ok, "uptime is not \"S.CC I.CC\\n\"");
}

SELFTEST(procfs, interrupts_and_pci_nonempty) {
    char *text = NULL;
    int64_t n = read_proc_file("/interrupts", &text);
    ST_ASSERT(t, n > 0, "reading interrupts: %ld", (long)n);
    kfree(text);
    n = read_proc_file("/pci", &text);
    ST_ASSERT(t, n > 0, "reading pci: %ld", (long)n);
    bool host_bridge = contains(text, "8086:29c0"); /* the q35 host bridge */
    kfree(text);
    ST_ASSERT(t, host_bridge, "pci does not list the q35 host bridge 8086:29c0");
}

/* A kernel task has no process: /proc/self does not exist for it and readdir leaves it out;
 * names that are not pids (letters, leading zeros, overflow) are not found. */
SELFTEST(procfs, self_and_bad_pids_from_a_kernel_task) {
    struct vfs_mount *m = NULL;
    int r = vfs_mount(NULL, NULL, "procfs", NULL, NULL, &m);
    ST_ASSERT(t, r == 0, "mounting procfs: %d", r);
    struct vfs_ctx ctx = {m->root, m->root};
    static const char *const bad[] = {"/self", "/self/stat", "/0", "/007", "/4294967297", "/12x", "/-1", "/meminfo/x"};
    int got[ARRAY_SIZE(bad)];
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct vnode *vn = NULL;
        got[i] = vfs_lookup(&ctx, bad[i], &vn);
        if (got[i] == 0) vnode_put(vn);
    }
    bool saw_self = false;
    int entries = 0;
    struct vfs_file *d = NULL;
    struct vfs_dirent *de = kmalloc(sizeof *de);
    if (de && vfs_open(&ctx, "/", O_RDONLY | O_DIRECTORY, 0, &d) == 0) {
        while (vfs_readdir(d, de) == 1 && entries < 10000) {
            entries++;
            if (strcmp(de->name, "self") == 0) saw_self = true;
        }
        vfs_close(d);
    }
    kfree(de);
    int um = vfs_umount(m);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        ST_ASSERT(t, got[i] == -KENOENT || (i == ARRAY_SIZE(bad) - 1 && got[i] == -KENOTDIR), "lookup %s = %d", bad[i],
                  got[i]);
    ST_ASSERT(t, entries >= 2 + 6 && !saw_self, "readdir: %d entries, self listed %d", entries, saw_self);
    ST_ASSERT(t, um == 0, "umount = %d", um);
}

/* ---- /proc/net socket tables and counters ---- */

/* True when every line after the header of text is exactly width characters long. */
static bool lines_have_width(const char *text, size_t width) {
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        if (!e || (size_t)(e - p) != width) return false;
        p = e + 1;
    }
    return true;
}

SELFTEST(procfs, net_tcp_lists_listener_as_0A) {
    struct net_addr lo = net_addr4(0x7f000001), lo6 = {.family = NET_AF_INET6};
    lo6.v6[15] = 1;
    int e1 = 0, e2 = 0;
    struct tcp_conn *l = tcp_listen(&lo, 47806, 5, &e1);      /* 0xBABE */
    struct tcp_conn *l6 = tcp_listen(&lo6, 47807, 3, &e2);    /* 0xBABF */
    char *tcp = NULL, *tcp6 = NULL, *after = NULL;
    int64_t n = read_proc_file("/net/tcp", &tcp);
    int64_t n6 = read_proc_file("/net/tcp6", &tcp6);
    if (l) tcp_abort(l);
    if (l6) tcp_abort(l6);
    int64_t na = read_proc_file("/net/tcp", &after);
    bool header = n > 0 && strncmp(tcp, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", 96) == 0;
    bool width = n > 0 && lines_have_width(tcp, 149);
    /* 127.0.0.1 is printed as the native-order word 0100007F; LISTEN is 0A; queue 0 of backlog 5 */
    bool seen = n > 0 && contains(tcp, ": 0100007F:BABE 00000000:0000 0A 00000005:00000000 ");
    bool v6_not_in_v4 = n > 0 && !contains(tcp, ":BABF ");
    bool seen6 = n6 > 0 && contains(tcp6, ": 00000000000000000000000001000000:BABF 00000000000000000000000000000000:0000 0A ");
    bool v6_header = n6 > 0 && strncmp(tcp6, "  sl  local_address                         remote_address", 58) == 0;
    bool gone = na > 0 && !contains(after, ":BABE ");
    kfree(tcp);
    kfree(tcp6);
    kfree(after);
    ST_ASSERT(t, l && l6, "tcp_listen: %d %d", e1, e2);
    ST_ASSERT(t, n > 0 && n6 > 0 && na > 0, "reading: %ld %ld %ld", (long)n, (long)n6, (long)na);
    ST_ASSERT(t, header && width, "tcp header %d, every line 149 wide %d", header, width);
    ST_ASSERT(t, seen && v6_not_in_v4, "listener on 127.0.0.1:47806 as LISTEN %d; v6 kept out %d", seen, v6_not_in_v4);
    ST_ASSERT(t, seen6 && v6_header, "listener on [::1]:47807 in tcp6 %d, header %d", seen6, v6_header);
    ST_ASSERT(t, gone, "the aborted listener is still listed");
}

/* A table larger than the file's first buffer is made again in a larger one, never cut. */
SELFTEST(procfs, net_tcp_grows_past_its_first_buffer) {
    enum { N = 120, BASE = 47900 };
    struct net_addr lo = net_addr4(0x7f000001);
    struct tcp_conn *ls[N];
    int made = 0, err = 0;
    while (made < N && (ls[made] = tcp_listen(&lo, (uint16_t)(BASE + made), 1, &err)) != NULL) made++;
    char *tcp = NULL;
    int64_t n = read_proc_file("/net/tcp", &tcp);
    for (int i = 0; i < made; i++) tcp_abort(ls[i]);
    int missing = 0;
    for (int i = 0; n > 0 && i < made; i++) {
        char port[8];
        ksnprintf(port, sizeof port, ":%04X ", BASE + i);
        missing += !contains(tcp, port);
    }
    bool width = n > 0 && lines_have_width(tcp, 149);
    kfree(tcp);
    ST_ASSERT(t, made == N, "only %d listeners: %d", made, err);
    ST_ASSERT(t, n > 8192, "/proc/net/tcp is %ld bytes with %d listeners", (long)n, N);
    ST_ASSERT(t, missing == 0 && width, "%d listeners missing, whole lines %d", missing, width);
}

SELFTEST(procfs, net_udp_lists_bound_socket) {
    struct udp_sock *s = kzalloc(sizeof *s), *s6 = kzalloc(sizeof *s6);
    struct net_addr lo = net_addr4(0x7f000001);
    int r = -KENOMEM, r6 = -KENOMEM;
    if (s && s6) {
        s->family = NET_AF_INET;
        s6->family = NET_AF_INET6;
        s6->v6only = true;
        r = udp_bind(s, &lo, 47808);     /* 0xBAC0 */
        r6 = udp_bind(s6, NULL, 47809);  /* 0xBAC1, the any address */
    }
    char *udp = NULL, *udp6 = NULL;
    int64_t n = read_proc_file("/net/udp", &udp);
    int64_t n6 = read_proc_file("/net/udp6", &udp6);
    if (s) udp_unbind(s);
    if (s6) udp_unbind(s6);
    kfree(s);
    kfree(s6);
    bool header = n > 0 && strncmp(udp, "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops", 115) == 0;
    bool width = n > 0 && lines_have_width(udp, 127);
    bool seen = n > 0 && contains(udp, ": 0100007F:BAC0 00000000:0000 07 00000000:00000000 ");
    bool seen6 = n6 > 0 && contains(udp6, ": 00000000000000000000000000000000:BAC1 00000000000000000000000000000000:0000 07 ");
    bool apart = n > 0 && !contains(udp, ":BAC1 ") && n6 > 0 && !contains(udp6, ":BAC0 ");
    kfree(udp);
    kfree(udp6);
    ST_ASSERT(t, r == 0 && r6 == 0, "udp_bind: %d %d", r, r6);
    ST_ASSERT(t, n > 0 && n6 > 0, "reading: %ld %ld", (long)n, (long)n6);
    ST_ASSERT(t, header && width, "udp header %d, every line 127 wide %d", header, width);
    ST_ASSERT(t, seen && seen6 && apart, "127.0.0.1:47808 in udp %d, [::]:47809 in udp6 %d, families apart %d", seen,
              seen6, apart);
}

/* Checks one "Proto: names" / "Proto: values" pair at p: same prefix, same count, numbers.
 * Returns the text after it, or NULL if malformed. Sets *fields. */
static const char *stats_pair(const char *p, char proto[16], int *fields) {
    const char *colon = strchr(p, ':'), *nl = strchr(p, '\n');
    if (!colon || !nl || colon > nl || colon - p >= 16) return NULL;
    size_t plen = (size_t)(colon - p);
    memcpy(proto, p, plen);
    proto[plen] = 0;
    int names = 0;
    for (const char *q = colon + 1; q < nl; q++)
        if (*q != ' ' && q[-1] == ' ') names++;
    const char *v = nl + 1, *vnl = strchr(v, '\n');
    if (!vnl || strncmp(v, p, plen + 1) != 0) return NULL;
    int values = 0;
    for (const char *q = v + plen + 1; q < vnl; q++) {
        if (*q == ' ') continue;
        if (*q < '0' || *q > '9' || q[-1] != ' ') return NULL; /* a number starts after a space */
        while (q + 1 < vnl && q[1] >= '0' && q[1] <= '9') q++;
        values++;
    }
    if (names == 0 || names != values) return NULL;
    *fields = names;
    return vnl + 1;
}

SELFTEST(procfs, net_stats_parses) {
    char *text = NULL;
    int64_t n = read_proc_file("/net/stats", &text);
    ST_ASSERT(t, n > 0, "reading /proc/net/stats: %ld", (long)n);
    static const char *const want[] = {"Ip", "Icmp", "Udp", "Tcp", "Ip6", "Icmp6"};
    size_t found = 0;
    bool ok = true;
    char proto[16] = "";
    int fields = 0;
    for (const char *p = text; *p && ok;) {
        p = stats_pair(p, proto, &fields);
        if (!p) ok = false;
        else if (found < ARRAY_SIZE(want) && strcmp(proto, want[found]) == 0) found++;
    }
    bool reasons = contains(text, " InCsumErrors ") && contains(text, " InTruncatedPkts ") &&
                   contains(text, " NoPorts ") && contains(text, " NoSocket ") && contains(text, " BacklogFull ");
    kfree(text);
    ST_ASSERT(t, ok, "malformed pair after '%s'", proto);
    ST_ASSERT(t, found == ARRAY_SIZE(want), "protocols in order: %u of %u", (unsigned)found, (unsigned)ARRAY_SIZE(want));
    ST_ASSERT(t, reasons, "drop reasons missing");
}
