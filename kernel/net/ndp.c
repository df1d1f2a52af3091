/* ndp.c: IPv6 neighbour discovery per RFC 4861 and stateless address autoconfiguration per
 * RFC 4862 (interface identifiers per RFC 4291 §2.5.1).
 * - Message validation §6.1.2 (RA), §7.1.1 (NS), §7.1.2 (NA): hop limit 255, code 0, length,
 *   every option with a non-zero length inside the message (§4.6).
 * - Neighbour cache §7.3: INCOMPLETE (multicast NS every RetransTimer, MAX_MULTICAST_SOLICIT
 *   tries, then the entry and its queue of waiting packets are dropped), REACHABLE (for
 *   ReachableTime), STALE, DELAY (DELAY_FIRST_PROBE_TIME), PROBE (unicast NS,
 *   MAX_UNICAST_SOLICIT tries); NA processing §7.2.5 with the override/solicited rules.
 * - Router discovery §6.3: RS when an interface comes up (MAX_RTR_SOLICITATIONS, every
 *   RTR_SOLICITATION_INTERVAL, no initial random delay), default router list with lifetimes,
 *   on-link prefix list (L flag); ReachableTime/RetransTimer from RAs are not used (constants).
 * - Next-hop determination §5.2 across interfaces (ndp_route): a destination inside an
 *   interface's on-link prefix (or its SLAAC /64) goes out of that interface; otherwise through
 *   a default router, chosen per §6.3.6 (routers not known unreachable first).
 * - SLAAC (RFC 4862 §5.5.3): /64 prefixes with the A flag give the interface's one global
 *   address (EUI-64 identifier), valid lifetime with the two-hour rule; preferred lifetime
 *   is not tracked separately.
 * - DAD (RFC 4862 §5.4) simplified, in the spirit of optimistic DAD (RFC 4429): the address
 *   is used at once, one DAD NS (source ::) is sent; an NA for the address from another MAC
 *   within one second invalidates it (logged). NS from :: for our tentative address is ignored.
 * Transmission always happens outside the cache lock. */
#include "net_ipv6.h"
#include "kstring.h"
#include "printk.h"
#ifndef HOST_TEST
#include "spinlock.h"
static spinlock_t nd_lock = SPINLOCK_INIT("ndp");
#define ND_LOCK() spin_lock_irqsave(&nd_lock)
#define ND_UNLOCK(f) spin_unlock_irqrestore(&nd_lock, f)
#else
#define ND_LOCK() 0
#define ND_UNLOCK(f) ((void)(f))
#endif

#define NS_PER_S 1000000000ull
#define TWO_HOURS_NS (7200ull * NS_PER_S)
#define DAD_WINDOW_NS NS_PER_S
#define MAX_IFS 4
#define MAX_ROUTERS 4
#define MAX_PREFIXES 8
#define NEVER UINT64_MAX

struct nd_entry {
    struct netif *nif;
    uint8_t ip[16], mac[6];
    uint8_t state, probes, qlen;
    bool router;
    uint64_t timer_ns, used_ns;
    struct pkt *q, *qtail;
};
static struct nd_entry cache[ND_CACHE_SIZE];
static struct { struct netif *nif; uint8_t ip[16]; uint64_t expires; } routers[MAX_ROUTERS];
static struct { struct netif *nif; uint8_t pfx[16]; uint8_t len; uint64_t expires; } prefixes[MAX_PREFIXES];
static struct ifstate {
    struct netif *nif;
    uint8_t rs_sent;
    bool got_ra;
    uint64_t next_rs, global_expires, dad_until;
    uint8_t dad_addr[2][16];
} ifs[MAX_IFS];

void ndp_reset(void) {
    for (int i = 0; i < ND_CACHE_SIZE; i++)
        while (cache[i].q) { struct pkt *n = cache[i].q->next; pkt_free(cache[i].q); cache[i].q = n; }
    memset(cache, 0, sizeof cache);
    memset(routers, 0, sizeof routers);
    memset(prefixes, 0, sizeof prefixes);
    memset(ifs, 0, sizeof ifs);
}

static uint64_t add_sat(uint64_t now, uint64_t d) { return d > NEVER - now ? NEVER : now + d; }

static struct ifstate *ifstate_of(struct netif *nif, bool create) {
    for (int i = 0; i < MAX_IFS; i++) if (ifs[i].nif == nif) return &ifs[i];
    if (!create) return NULL;
    for (int i = 0; i < MAX_IFS; i++) if (!ifs[i].nif) { ifs[i].nif = nif; return &ifs[i]; }
    return NULL;
}

static struct nd_entry *find(const struct netif *nif, const uint8_t ip[16]) {
    for (int i = 0; i < ND_CACHE_SIZE; i++)
        if (cache[i].state != ND_NONE && cache[i].nif == nif && ip6_equal(cache[i].ip, ip)) return &cache[i];
    return NULL;
}

/* A free slot, else the least recently used entry (its queue moves to *dropped). */
static struct nd_entry *alloc_entry(struct pkt **dropped) {
    struct nd_entry *victim = NULL;
    for (int i = 0; i < ND_CACHE_SIZE; i++) {
        if (cache[i].state == ND_NONE) return &cache[i];
        if (!victim || cache[i].used_ns < victim->used_ns) victim = &cache[i];
    }
    if (victim->q) { victim->qtail->next = *dropped; *dropped = victim->q; }
    memset(victim, 0, sizeof *victim);
    return victim;
}

static void free_list(struct pkt *p) {
    while (p) { struct pkt *n = p->next; p->next = NULL; pkt_free(p); ipv6_stats.nd_queue_dropped++; p = n; }
}

/* Takes the waiting packets of e (to send once the lock is dropped). */
static struct pkt *take_queue(struct nd_entry *e) {
    struct pkt *q = e->q;
    e->q = e->qtail = NULL;
    e->qlen = 0;
    return q;
}

static void send_queue(struct netif *nif, struct pkt *q, const uint8_t mac[6]) {
    while (q) {
        struct pkt *n = q->next;
        q->next = NULL;
        eth_output(nif, q, mac, ETH_P_IPV6);
        q = n;
    }
}

/* ---- sending ND messages ---- */
static void put_lla(uint8_t *o, uint8_t type, const uint8_t mac[6]) {
    o[0] = type;
    o[1] = 1;
    memcpy(o + 2, mac, 6);
}

/* NS for target: dst NULL = the target's solicited-node group; dad = source :: without SLLAO. */
static void send_ns(struct netif *nif, const uint8_t target[16], const uint8_t *dst, bool dad) {
    struct pkt *p = pkt_alloc(32);
    if (!p) return;
    uint8_t *m = pkt_put(p, dad ? 24 : 32);
    memset(m, 0, 24);
    m[0] = ICMPV6_NS;
    memcpy(m + 8, target, 16);
    if (!dad) put_lla(m + 24, 1, nif->mac);
    uint8_t sn[16];
    if (!dst) { ip6_solicited_node(target, sn); dst = sn; }
    static const uint8_t unspec[16];
    ipv6_output(nif, dad ? unspec : NULL, dst, IPV6_NH_ICMPV6, 255, p);
}

static void send_na(struct netif *nif, const uint8_t dst[16], const uint8_t target[16], bool solicited) {
    struct pkt *p = pkt_alloc(32);
    if (!p) return;
    uint8_t *m = pkt_put(p, 32);
    memset(m, 0, 32);
    m[0] = ICMPV6_NA;
    m[4] = (uint8_t)((solicited ? 0x40 : 0) | 0x20);  /* S, O */
    memcpy(m + 8, target, 16);
    put_lla(m + 24, 2, nif->mac);
    ipv6_output(nif, target, dst, IPV6_NH_ICMPV6, 255, p);
}

static void send_rs(struct netif *nif) {
    static const uint8_t all_routers[16] = {0xff, 0x02, [15] = 2};
    struct pkt *p = pkt_alloc(16);
    if (!p) return;
    uint8_t *m = pkt_put(p, 16);
    memset(m, 0, 8);
    m[0] = ICMPV6_RS;
    put_lla(m + 8, 1, nif->mac);
    ipv6_stats.nd_rs_tx++;
    ipv6_output(nif, NULL, all_routers, IPV6_NH_ICMPV6, 255, p);
}

/* ---- options ---- */
/* Checks the option area (§4.6: no zero length, nothing past the end). */
static bool options_valid(const uint8_t *o, uint32_t len) {
    for (uint32_t i = 0; i < len;) {
        if (len - i < 2 || o[i + 1] == 0 || (uint32_t)o[i + 1] * 8 > len - i) return false;
        i += o[i + 1] * 8u;
    }
    return true;
}

/* The link-layer address option of this type (1 source, 2 target), or NULL. */
static const uint8_t *find_lla(const uint8_t *o, uint32_t len, uint8_t type) {
    for (uint32_t i = 0; i < len; i += o[i + 1] * 8u)
        if (o[i] == type && o[i + 1] == 1) return o + i + 2;
    return NULL;
}

/* Creates or updates an entry from a source link-layer address (§7.2.3, §6.3.4). Returns the
 * queue to send when an INCOMPLETE entry was completed. */
static struct pkt *learn(struct netif *nif, const uint8_t ip[16], const uint8_t mac[6], bool router,
                         uint64_t now, struct pkt **dropped) {
    struct nd_entry *e = find(nif, ip);
    struct pkt *q = NULL;
    if (!e) {
        e = alloc_entry(dropped);
        e->nif = nif;
        memcpy(e->ip, ip, 16);
        memcpy(e->mac, mac, 6);
        e->state = ND_STALE;
        e->used_ns = now;
    } else if (e->state == ND_INCOMPLETE) {
        memcpy(e->mac, mac, 6);
        e->state = ND_STALE;
        q = take_queue(e);
    } else if (memcmp(e->mac, mac, 6) != 0) {
        memcpy(e->mac, mac, 6);
        e->state = ND_STALE;
    }
    if (router) e->router = true;
    return q;
}

/* ---- input ---- */
static void ns_input(const struct ipv6_rx_info *in, const uint8_t *m, uint32_t len, uint64_t now) {
    if (len < 24 || ip6_is_multicast(m + 8) || !options_valid(m + 24, len - 24)) { ipv6_stats.nd_bad++; return; }
    const uint8_t *sll = find_lla(m + 24, len - 24, 1);
    bool dad = ip6_is_unspecified(in->src);
    if (dad) {
        uint8_t sn[16];
        ip6_solicited_node(m + 8, sn);
        if (!ip6_equal(in->dst, sn) || sll) { ipv6_stats.nd_bad++; return; }
    }
    ipv6_stats.nd_ns_rx++;
    if (!ipv6_is_our_unicast(in->nif, m + 8)) return;
    struct pkt *q = NULL, *dropped = NULL;
    uint8_t mac[6];
    uint64_t f = ND_LOCK();
    if (sll && !dad) {
        q = learn(in->nif, in->src, sll, false, now, &dropped);
        memcpy(mac, sll, 6);
    }
    ND_UNLOCK(f);
    free_list(dropped);
    if (q) send_queue(in->nif, q, mac);
    static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
    send_na(in->nif, dad ? all_nodes : in->src, m + 8, !dad);
}

static void na_input(const struct ipv6_rx_info *in, const uint8_t *m, uint32_t len, uint64_t now) {
    if (len < 24 || ip6_is_multicast(m + 8) || !options_valid(m + 24, len - 24)) { ipv6_stats.nd_bad++; return; }
    bool r = m[4] & 0x80, s = m[4] & 0x40, o = m[4] & 0x20;
    if (s && ip6_is_multicast(in->dst)) { ipv6_stats.nd_bad++; return; }
    ipv6_stats.nd_na_rx++;
    const uint8_t *tll = find_lla(m + 24, len - 24, 2);
    struct netif *nif = in->nif;
    if (ipv6_is_our_unicast(nif, m + 8)) {  /* DAD: someone else claims our address */
        struct ifstate *st = ifstate_of(nif, false);
        if (st && now < st->dad_until && tll && memcmp(tll, nif->mac, 6) != 0) {
            char b[48];
            printk(LOG_WARN, "ipv6: %s: duplicate address %s, not using it\n", nif->name, ip6_format(m + 8, b));
            if (ip6_equal(m + 8, nif->ip6_global)) nif->ip6_global_valid = false;
            else nif->ip6_ll_valid = false;
        }
        return;
    }
    struct pkt *q = NULL;
    uint8_t mac[6];
    uint64_t f = ND_LOCK();
    struct nd_entry *e = find(nif, m + 8);
    if (!e) goto out;  /* §7.2.5: no entry, silently discard */
    if (e->state == ND_INCOMPLETE) {
        if (!tll) goto out;
        memcpy(e->mac, tll, 6);
        e->state = s ? ND_REACHABLE : ND_STALE;
        e->timer_ns = add_sat(now, ND_REACHABLE_TIME_NS);
        e->router = r;
        q = take_queue(e);
        memcpy(mac, tll, 6);
        goto out;
    }
    bool differs = tll && memcmp(tll, e->mac, 6) != 0;
    if (!o && differs) {
        if (e->state == ND_REACHABLE) e->state = ND_STALE;
        goto out;
    }
    if (tll) memcpy(e->mac, tll, 6);
    if (s) {
        e->state = ND_REACHABLE;
        e->timer_ns = add_sat(now, ND_REACHABLE_TIME_NS);
    } else if (differs) {
        e->state = ND_STALE;
    }
    e->router = r;
out:
    ND_UNLOCK(f);
    if (q) send_queue(nif, q, mac);
}

/* RFC 4862 §5.5.3: a prefix information option with the A flag. Lock held. */
static bool slaac(struct netif *nif, const uint8_t *pio, uint64_t now) {
    uint32_t valid = net_get32(pio + 4), pref = net_get32(pio + 8);
    if (pio[2] != 64 || pref > valid) return false;
    uint8_t addr[16];
    memcpy(addr, pio + 16, 8);
    ip6_eui64(nif->mac, addr + 8);
    struct ifstate *st = ifstate_of(nif, true);
    if (!st) return false;
    uint64_t vl = valid == 0xffffffffu ? NEVER : valid * NS_PER_S;
    if (nif->ip6_global_valid && ip6_equal(nif->ip6_global, addr)) {
        uint64_t remaining = st->global_expires > now ? st->global_expires - now : 0;
        if (vl > TWO_HOURS_NS || vl > remaining) st->global_expires = add_sat(now, vl);
        else if (remaining > TWO_HOURS_NS) st->global_expires = now + TWO_HOURS_NS;
        return false;
    }
    if (nif->ip6_global_valid || valid == 0) return false;  /* one global address per interface */
    memcpy(nif->ip6_global, addr, 16);
    nif->ip6_global_prefix_len = 64;
    nif->ip6_global_valid = true;
    st->global_expires = add_sat(now, vl);
    st->dad_until = now + DAD_WINDOW_NS;
    return true;
}

static void ra_input(const struct ipv6_rx_info *in, const uint8_t *m, uint32_t len, uint64_t now) {
    if (len < 16 || !ip6_is_linklocal(in->src) || !options_valid(m + 16, len - 16)) { ipv6_stats.nd_bad++; return; }
    ipv6_stats.nd_ra_rx++;
    struct netif *nif = in->nif;
    const uint8_t *o = m + 16;
    uint32_t olen = len - 16;
    uint16_t lifetime = net_get16(m + 6);
    struct pkt *q = NULL, *dropped = NULL;
    bool new_addr = false;
    uint8_t mac[6];
    uint64_t f = ND_LOCK();
    struct ifstate *st = ifstate_of(nif, true);
    if (st) st->got_ra = true;
    int slot = -1;
    for (int i = 0; i < MAX_ROUTERS; i++) {
        if (routers[i].nif == nif && ip6_equal(routers[i].ip, in->src)) { slot = i; break; }
        if (slot < 0 && !routers[i].nif) slot = i;
    }
    if (slot >= 0) {
        if (lifetime == 0) {
            if (routers[slot].nif == nif && ip6_equal(routers[slot].ip, in->src)) routers[slot].nif = NULL;
        } else {
            routers[slot].nif = nif;
            memcpy(routers[slot].ip, in->src, 16);
            routers[slot].expires = now + lifetime * NS_PER_S;
        }
    }
    const uint8_t *sll = find_lla(o, olen, 1);
    if (sll) { q = learn(nif, in->src, sll, true, now, &dropped); memcpy(mac, sll, 6); }
    for (uint32_t i = 0; i < olen; i += o[i + 1] * 8u) {
        const uint8_t *pio = o + i;
        if (pio[0] != 3 || pio[1] != 4 || pio[2] > 128) continue;
        if (ip6_is_linklocal(pio + 16)) continue;
        if (pio[3] & 0x80) {  /* on-link (§6.3.4) */
            uint32_t valid = net_get32(pio + 4);
            int ps = -1;
            for (int k = 0; k < MAX_PREFIXES; k++) {
                if (prefixes[k].nif == nif && prefixes[k].len == pio[2] && !memcmp(prefixes[k].pfx, pio + 16, 16)) { ps = k; break; }
                if (ps < 0 && !prefixes[k].nif) ps = k;
            }
            if (ps >= 0) {
                if (valid == 0) {
                    if (prefixes[ps].nif == nif) prefixes[ps].nif = NULL;
                } else {
                    prefixes[ps].nif = nif;
                    memcpy(prefixes[ps].pfx, pio + 16, 16);
                    prefixes[ps].len = pio[2];
                    prefixes[ps].expires = valid == 0xffffffffu ? NEVER : now + valid * NS_PER_S;
                }
            }
        }
        if (pio[3] & 0x40) new_addr |= slaac(nif, pio, now);
    }
    ND_UNLOCK(f);
    free_list(dropped);
    if (q) send_queue(nif, q, mac);
    if (new_addr) {
        char b[48];
        printk(LOG_DEBUG, "ipv6: %s: address %s/64 (SLAAC)\n", nif->name, ip6_format(nif->ip6_global, b));
        send_ns(nif, nif->ip6_global, NULL, true);
    }
}

void ndp_input(const struct ipv6_rx_info *info, const uint8_t *icmp, uint32_t len, uint64_t now_ns) {
    if (info->hop_limit != 255 || len < 8 || icmp[1] != 0) { ipv6_stats.nd_bad++; return; }
    switch (icmp[0]) {
    case ICMPV6_NS: ns_input(info, icmp, len, now_ns); break;
    case ICMPV6_NA: na_input(info, icmp, len, now_ns); break;
    case ICMPV6_RA: ra_input(info, icmp, len, now_ns); break;
    default: break;  /* RS (we are no router), redirect (not supported) */
    }
}

/* ---- output side ---- */
static bool prefix_match(const uint8_t *a, const uint8_t *pfx, unsigned len) {
    unsigned bytes = len / 8, bits = len % 8;
    if (memcmp(a, pfx, bytes) != 0) return false;
    return !bits || ((a[bytes] ^ pfx[bytes]) & (0xff00u >> bits) & 0xff) == 0;
}

/* The longest on-link prefix of nif that holds dst (§5.2: the prefix list, entries with the L
 * flag; and the /64 of the SLAAC address), or -1. Lock held. */
static int on_link_len(const struct netif *nif, const uint8_t dst[16], uint64_t now) {
    int best = -1;
    for (int k = 0; k < MAX_PREFIXES; k++)
        if (prefixes[k].nif == nif && now < prefixes[k].expires && prefixes[k].len > best &&
            prefix_match(dst, prefixes[k].pfx, prefixes[k].len))
            best = prefixes[k].len;
    if (nif->ip6_global_valid && nif->ip6_global_prefix_len > best &&
        prefix_match(dst, nif->ip6_global, nif->ip6_global_prefix_len))
        best = nif->ip6_global_prefix_len;
    return best;
}

int ndp_next_hop(struct netif *nif, const uint8_t dst[16], uint8_t nexthop[16], uint64_t now_ns) {
    int r = -KENETUNREACH;
    uint64_t f = ND_LOCK();
    if (ip6_is_linklocal(dst) || ip6_is_multicast(dst) || on_link_len(nif, dst, now_ns) >= 0) {
        memcpy(nexthop, dst, 16);
        r = 0;
        goto out;
    }
    for (int i = 0; i < MAX_ROUTERS; i++) {
        if (routers[i].nif == nif && now_ns < routers[i].expires) { memcpy(nexthop, routers[i].ip, 16); r = 0; break; }
    }
out:
    ND_UNLOCK(f);
    return r;
}

/* The order in which nif came up (eth0 first), MAX_IFS when unknown. Lock held. */
static int if_rank(const struct netif *nif) {
    for (int i = 0; i < MAX_IFS; i++) if (ifs[i].nif == nif) return i;
    return MAX_IFS;
}

struct netif *ndp_route(const uint8_t dst[16], uint64_t now_ns) {
    struct netif *best = NULL;
    int best_len = -1, best_rank = 0;
    uint64_t f = ND_LOCK();
    /* §5.2: an on-link destination goes straight out of the interface whose prefix holds it
     * (the longest prefix when several do) */
    for (int i = 0; i < MAX_IFS; i++) {
        struct netif *nif = ifs[i].nif;
        if (!nif || !(nif->flags & NETIF_UP) || !nif->ip6_ll_valid) continue;
        int len = on_link_len(nif, dst, now_ns);
        if (len > best_len) { best = nif; best_len = len; }
    }
    if (best) goto out;
    /* otherwise a default router (§6.3.6): one not known to be unreachable first, then the
     * interface that came up first, so the choice does not depend on which RA came first */
    for (int i = 0; i < MAX_ROUTERS; i++) {
        struct netif *nif = routers[i].nif;
        if (!nif || now_ns >= routers[i].expires || !(nif->flags & NETIF_UP) || !nif->ip6_ll_valid) continue;
        const struct nd_entry *e = find(nif, routers[i].ip);
        int rank = (e && e->state != ND_INCOMPLETE ? 0 : MAX_IFS + 1) + if_rank(nif);
        if (!best || rank < best_rank) { best = nif; best_rank = rank; }
    }
out:
    ND_UNLOCK(f);
    return best;
}

int ndp_resolve(struct netif *nif, const uint8_t nexthop[16], struct pkt *p, uint8_t mac[6], uint64_t now_ns) {
    struct pkt *dropped = NULL;
    int r = 1;
    bool solicit = false;
    uint64_t f = ND_LOCK();
    struct nd_entry *e = find(nif, nexthop);
    if (!e) {
        e = alloc_entry(&dropped);
        e->nif = nif;
        memcpy(e->ip, nexthop, 16);
        e->state = ND_INCOMPLETE;
        e->probes = 1;
        e->timer_ns = now_ns + ND_RETRANS_TIMER_NS;
        solicit = true;
    }
    e->used_ns = now_ns;
    switch (e->state) {
    case ND_INCOMPLETE:
        if (e->qlen >= ND_QUEUE_MAX) {  /* §7.2.2: the newest replaces the oldest */
            struct pkt *old = e->q;
            e->q = old->next;
            old->next = dropped;
            dropped = old;
            e->qlen--;
        }
        p->next = NULL;
        if (e->q) e->qtail->next = p; else e->q = p;
        e->qtail = p;
        e->qlen++;
        r = 0;
        break;
    case ND_REACHABLE:
        if (now_ns < e->timer_ns) break;
        e->state = ND_STALE;
        /* fall through */
    case ND_STALE:
        e->state = ND_DELAY;
        e->timer_ns = now_ns + ND_DELAY_FIRST_PROBE_NS;
        break;
    default:
        break;
    }
    if (r == 1) memcpy(mac, e->mac, 6);
    ND_UNLOCK(f);
    free_list(dropped);
    if (solicit) send_ns(nif, nexthop, NULL, false);
    return r;
}

void ndp_confirm(struct netif *nif, const uint8_t addr[16], uint64_t now_ns) {
    uint64_t f = ND_LOCK();
    struct nd_entry *e = find(nif, addr);
    if (e && e->state != ND_INCOMPLETE) {
        e->state = ND_REACHABLE;
        e->timer_ns = now_ns + ND_REACHABLE_TIME_NS;
    }
    ND_UNLOCK(f);
}

enum nd_state ndp_lookup(const struct netif *nif, const uint8_t addr[16], uint8_t mac[6]) {
    uint64_t f = ND_LOCK();
    struct nd_entry *e = find(nif, addr);
    enum nd_state s = e ? (enum nd_state)e->state : ND_NONE;
    if (e && mac && s != ND_INCOMPLETE) memcpy(mac, e->mac, 6);
    ND_UNLOCK(f);
    return s;
}

bool ndp_default_router(const struct netif *nif, uint8_t addr[16]) {
    bool found = false;
    uint64_t f = ND_LOCK();
    for (int i = 0; i < MAX_ROUTERS && !found; i++)
        if (routers[i].nif == nif) { memcpy(addr, routers[i].ip, 16); found = true; }
    ND_UNLOCK(f);
    return found;
}

void ndp_netif_up(struct netif *nif, uint64_t now_ns) {
    ip6_linklocal_from_mac(nif->mac, nif->ip6_ll);
    nif->ip6_ll_valid = true;
    uint64_t f = ND_LOCK();
    struct ifstate *st = ifstate_of(nif, true);
    if (st) {
        st->rs_sent = 1;
        st->got_ra = false;
        st->next_rs = now_ns + ND_RTR_SOLICITATION_INTERVAL_NS;
        st->dad_until = now_ns + DAD_WINDOW_NS;
    }
    ND_UNLOCK(f);
    send_ns(nif, nif->ip6_ll, NULL, true);
    send_rs(nif);
}

void ndp_timer(uint64_t now) {
    struct { struct netif *nif; uint8_t ip[16]; bool unicast; } acts[ND_CACHE_SIZE];
    struct netif *rs[MAX_IFS];
    int na = 0, nrs = 0;
    struct pkt *dropped = NULL;
    uint64_t f = ND_LOCK();
    for (int i = 0; i < ND_CACHE_SIZE; i++) {
        struct nd_entry *e = &cache[i];
        if (e->state == ND_NONE || now < e->timer_ns) continue;
        switch (e->state) {
        case ND_INCOMPLETE:
        case ND_PROBE:
            if (e->probes >= (e->state == ND_INCOMPLETE ? ND_MAX_MULTICAST_SOLICIT : ND_MAX_UNICAST_SOLICIT)) {
                if (e->q) { e->qtail->next = dropped; dropped = e->q; ipv6_stats.tx_nd_failed++; }
                memset(e, 0, sizeof *e);
                continue;
            }
            e->probes++;
            break;
        case ND_REACHABLE: e->state = ND_STALE; continue;
        case ND_DELAY: e->state = ND_PROBE; e->probes = 1; break;
        default: continue;
        }
        e->timer_ns = now + ND_RETRANS_TIMER_NS;
        acts[na].nif = e->nif;
        memcpy(acts[na].ip, e->ip, 16);
        acts[na++].unicast = e->state == ND_PROBE;
    }
    for (int i = 0; i < MAX_ROUTERS; i++)
        if (routers[i].nif && now >= routers[i].expires) routers[i].nif = NULL;
    for (int k = 0; k < MAX_PREFIXES; k++)
        if (prefixes[k].nif && now >= prefixes[k].expires) prefixes[k].nif = NULL;
    for (int i = 0; i < MAX_IFS; i++) {
        struct ifstate *st = &ifs[i];
        if (!st->nif) continue;
        if (st->nif->ip6_global_valid && now >= st->global_expires) st->nif->ip6_global_valid = false;
        if (!st->got_ra && st->rs_sent < ND_MAX_RTR_SOLICITATIONS && now >= st->next_rs) {
            st->rs_sent++;
            st->next_rs = now + ND_RTR_SOLICITATION_INTERVAL_NS;
            rs[nrs++] = st->nif;
        }
    }
    ND_UNLOCK(f);
    free_list(dropped);
    for (int i = 0; i < na; i++) send_ns(acts[i].nif, acts[i].ip, acts[i].unicast ? acts[i].ip : NULL, false);
    for (int i = 0; i < nrs; i++) send_rs(rs[i]);
}
