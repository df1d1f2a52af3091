/* dhcp.c: a DHCPv4 client: RFC 2131 (§3.1 and §4.4 the client state machine, §4.1
 * retransmission with exponential back-off, §4.4.5 T1/T2 and lease expiry), RFC 2132
 * options (1 subnet mask, 3 router, 6 DNS servers, 50 requested address, 51 lease time,
 * 53 message type, 54 server identifier, 55 parameter request list, 57 maximum size,
 * 58 renewal T1, 59 rebinding T2) and the RFC 951 BOOTP layout; the text of
 * /etc/resolv.conf from the leases' DNS servers (resolv.conf(5)). See net_dhcp.h. */
#include "net_dhcp.h"
#include "kstring.h"
#include "kprintf.h"

#define NS 1000000000ull
static const uint8_t magic[4] = {99, 130, 83, 99};
static const uint8_t bcast[4] = {255, 255, 255, 255};

/* Parses a message; see net_dhcp.h. */
int dhcp_parse(const uint8_t *b, size_t len, struct dhcp_info *o) {
    if (!b || !o) return -KEINVAL;
    memset(o, 0, sizeof *o);
    if (len < DHCP_FIXED_LEN + 4 || b[1] != 1 || b[2] != 6 || memcmp(b + DHCP_FIXED_LEN, magic, 4))
        return -KEPROTO;
    o->op = b[0];
    o->xid = net_get32(b + 4);
    memcpy(o->ciaddr, b + 12, 4);
    memcpy(o->yiaddr, b + 16, 4);
    memcpy(o->chaddr, b + 28, 6);
    size_t i = DHCP_FIXED_LEN + 4;
    for (;;) {
        if (i >= len) return -KEPROTO;           /* no end option */
        uint8_t code = b[i];
        if (code == 0) { i++; continue; }        /* pad */
        if (code == 255) break;
        if (i + 1 >= len) return -KEPROTO;
        size_t l = b[i + 1];
        const uint8_t *v = b + i + 2;
        if (i + 2 + l > len) return -KEPROTO;    /* runs past the end */
        switch (code) {
        case 1: if (l != 4) return -KEPROTO; memcpy(o->mask, v, 4); o->has_mask = true; break;
        case 3: if (l < 4 || l % 4) return -KEPROTO; memcpy(o->router, v, 4); o->has_router = true; break;
        case 6:
            if (l < 4 || l % 4) return -KEPROTO;
            o->ndns = 0;
            for (size_t k = 0; k < l / 4 && k < DHCP_MAX_DNS; k++) memcpy(o->dns[o->ndns++], v + 4 * k, 4);
            break;
        case 51: if (l != 4) return -KEPROTO; o->lease_s = net_get32(v); o->has_lease = true; break;
        case 53: if (l != 1) return -KEPROTO; o->type = v[0]; break;
        case 54: if (l != 4) return -KEPROTO; memcpy(o->server_id, v, 4); o->has_server_id = true; break;
        case 58: if (l != 4) return -KEPROTO; o->t1_s = net_get32(v); break;
        case 59: if (l != 4) return -KEPROTO; o->t2_s = net_get32(v); break;
        default: break;                          /* unknown options are skipped */
        }
        i += 2 + l;
    }
    return 0;
}

/* Builds a client message; see net_dhcp.h. */
int dhcp_build(uint8_t *b, size_t cap, uint8_t type, uint32_t xid, const uint8_t mac[6], uint16_t secs,
               const uint8_t *ciaddr, const uint8_t *req_ip, const uint8_t *server_id, bool broadcast) {
    if (!b || !mac || type < DHCPDISCOVER || type > DHCPINFORM) return -KEINVAL;
    if (cap < DHCP_MIN_LEN) return -KENOSPC;
    memset(b, 0, DHCP_MIN_LEN);
    b[0] = 1; b[1] = 1; b[2] = 6;
    net_put32(b + 4, xid);
    net_put16(b + 8, secs);
    if (broadcast) net_put16(b + 10, 0x8000);
    if (ciaddr) memcpy(b + 12, ciaddr, 4);
    memcpy(b + 28, mac, 6);
    memcpy(b + DHCP_FIXED_LEN, magic, 4);
    size_t i = DHCP_FIXED_LEN + 4;
    b[i++] = 53; b[i++] = 1; b[i++] = type;
    b[i++] = 61; b[i++] = 7; b[i++] = 1; memcpy(b + i, mac, 6); i += 6;   /* client id */
    if (req_ip) { b[i++] = 50; b[i++] = 4; memcpy(b + i, req_ip, 4); i += 4; }
    if (server_id) { b[i++] = 54; b[i++] = 4; memcpy(b + i, server_id, 4); i += 4; }
    static const uint8_t prl[] = {55, 6, 1, 3, 6, 51, 58, 59};
    memcpy(b + i, prl, sizeof prl); i += sizeof prl;
    b[i++] = 57; b[i++] = 2; net_put16(b + i, DHCP_MSG_MAX); i += 2;
    b[i++] = 255;
    return DHCP_MIN_LEN;             /* i < 300: the rest is zero padding */
}

static uint16_t secs_since(const struct dhcp_client *c, uint64_t now) {
    uint64_t s = now > c->start_ns ? (now - c->start_ns) / NS : 0;
    return s > 0xffff ? 0xffff : (uint16_t)s;
}

static void send_msg(struct dhcp_client *c, uint8_t type, uint64_t now) {
    const uint8_t *ci = NULL, *req = NULL, *sid = NULL, *dst = bcast;
    bool bc = true;
    if (c->state == DHCP_REQUESTING) {
        req = c->lease.ip;
        sid = c->lease.server;
    } else if (c->state == DHCP_RENEWING || c->state == DHCP_REBINDING) {
        ci = c->lease.ip;
        bc = false;
        if (c->state == DHCP_RENEWING) dst = c->lease.server;   /* unicast to the server */
    }
    int n = dhcp_build(c->buf, sizeof c->buf, type, c->xid, c->mac, secs_since(c, now), ci, req, sid, bc);
    if (type == DHCPREQUEST) c->req_ns = now;
    if (n > 0 && c->ops.send) c->ops.send(c->ops.ctx, c->buf, (size_t)n, dst);
}

static void new_xid(struct dhcp_client *c) {
    c->xid = c->ops.rand32 ? c->ops.rand32(c->ops.ctx) : c->xid * 1664525u + 1013904223u;
}

static void unconfigure(struct dhcp_client *c) {
    if (c->configured && c->ops.configure) c->ops.configure(c->ops.ctx, NULL);
    c->configured = false;
}

/* Sends DISCOVER from INIT; see net_dhcp.h. */
void dhcp_start(struct dhcp_client *c, uint64_t now) {
    unconfigure(c);
    memset(&c->lease, 0, sizeof c->lease);
    new_xid(c);
    c->state = DHCP_SELECTING;
    c->start_ns = now;
    c->backoff_s = 4;
    c->tries = 0;
    c->t1_ns = c->t2_ns = c->expire_ns = UINT64_MAX;
    send_msg(c, DHCPDISCOVER, now);
    c->next_ns = now + c->backoff_s * NS;
}

/* Retransmission after a timeout: doubles the back-off up to 64 s. */
static void retransmit(struct dhcp_client *c, uint8_t type, uint64_t now) {
    if (c->backoff_s < 64) c->backoff_s *= 2;
    c->tries++;
    send_msg(c, type, now);
    c->next_ns = now + c->backoff_s * NS;
}

/* RENEWING/REBINDING: next try after half the time left until limit, at least 60 s
 * (RFC 2131 §4.4.5), never past the limit. */
static void schedule_half(struct dhcp_client *c, uint64_t now, uint64_t limit) {
    uint64_t left = limit > now ? limit - now : 0, wait = left / 2;
    if (wait < 60 * NS) wait = 60 * NS;
    c->next_ns = now + wait < limit ? now + wait : limit;
}

static uint64_t at(uint64_t base, uint32_t s) {
    return s == 0xffffffffu ? UINT64_MAX : base + (uint64_t)s * NS;
}

static void bind_lease(struct dhcp_client *c, const struct dhcp_info *in, uint64_t now) {
    struct dhcp_lease *l = &c->lease;
    memcpy(l->ip, in->yiaddr, 4);
    if (in->has_mask) memcpy(l->mask, in->mask, 4);
    if (in->has_router) memcpy(l->router, in->router, 4);
    if (in->has_server_id) memcpy(l->server, in->server_id, 4);
    if (in->ndns) { memcpy(l->dns, in->dns, sizeof l->dns); l->ndns = in->ndns; }
    l->lease_s = in->lease_s;
    uint32_t t1 = in->t1_s, t2 = in->t2_s;
    if (l->lease_s != 0xffffffffu) {
        /* defaults 0.5 and 0.875 of the lease (§4.4.5); enforce T1 < T2 < lease */
        if (t2 == 0 || t2 >= l->lease_s) t2 = (uint32_t)((uint64_t)l->lease_s * 7 / 8);
        if (t1 == 0 || t1 >= t2) t1 = l->lease_s / 2 < t2 ? l->lease_s / 2 : t2;
    } else {
        t1 = t2 = 0xffffffffu;
    }
    l->t1_s = t1;
    l->t2_s = t2;
    uint64_t base = c->req_ns;
    c->t1_ns = at(base, t1);
    c->t2_ns = at(base, t2);
    c->expire_ns = at(base, l->lease_s);
    c->state = DHCP_BOUND;
    c->next_ns = UINT64_MAX;
    c->configured = true;
    if (c->ops.configure) c->ops.configure(c->ops.ctx, l);
}

/* Handles a received message; see net_dhcp.h. */
int dhcp_input(struct dhcp_client *c, const uint8_t *msg, size_t len, uint64_t now) {
    struct dhcp_info in;
    if (dhcp_parse(msg, len, &in) || in.op != 2 || in.xid != c->xid || memcmp(in.chaddr, c->mac, 6)) {
        c->bad_msgs++;
        return 0;
    }
    switch (c->state) {
    case DHCP_SELECTING:
        if (in.type != DHCPOFFER || !in.has_server_id || net_get32(in.yiaddr) == 0) break;
        memcpy(c->lease.ip, in.yiaddr, 4);
        memcpy(c->lease.server, in.server_id, 4);
        c->state = DHCP_REQUESTING;
        c->backoff_s = 4;
        c->tries = 0;
        send_msg(c, DHCPREQUEST, now);
        c->next_ns = now + c->backoff_s * NS;
        return 1;
    case DHCP_REQUESTING:
    case DHCP_RENEWING:
    case DHCP_REBINDING:
        if (c->state == DHCP_REQUESTING && in.has_server_id && memcmp(in.server_id, c->lease.server, 4)) break;
        if (in.type == DHCPNAK) {
            unconfigure(c);
            c->state = DHCP_INIT;
            c->next_ns = now;                  /* restart at the next tick */
            return 1;
        }
        if (in.type != DHCPACK || !in.has_lease || in.lease_s == 0 || net_get32(in.yiaddr) == 0) break;
        if (c->state != DHCP_REQUESTING && memcmp(in.yiaddr, c->lease.ip, 4)) {
            unconfigure(c);                   /* a different address: drop the old one first */
        }
        bind_lease(c, &in, now);
        return 1;
    default:
        break;
    }
    c->bad_msgs++;
    return 0;
}

/* Runs timers; see net_dhcp.h. */
void dhcp_tick(struct dhcp_client *c, uint64_t now) {
    switch (c->state) {
    case DHCP_INIT:
        if (now >= c->next_ns) dhcp_start(c, now);
        break;
    case DHCP_SELECTING:
        if (now >= c->next_ns) retransmit(c, DHCPDISCOVER, now);
        break;
    case DHCP_REQUESTING:
        if (now < c->next_ns) break;
        if (c->tries >= 4) dhcp_start(c, now);      /* no answer: back to INIT (§4.4.1) */
        else retransmit(c, DHCPREQUEST, now);
        break;
    case DHCP_BOUND:
    case DHCP_RENEWING:
    case DHCP_REBINDING:
        if (now >= c->expire_ns) {
            dhcp_start(c, now);                     /* lease gone: unconfigure, DISCOVER */
        } else if (now >= c->t2_ns && c->state != DHCP_REBINDING) {
            c->state = DHCP_REBINDING;
            new_xid(c);
            send_msg(c, DHCPREQUEST, now);
            schedule_half(c, now, c->expire_ns);
        } else if (now >= c->t1_ns && c->state == DHCP_BOUND) {
            c->state = DHCP_RENEWING;
            new_xid(c);
            c->start_ns = now;
            send_msg(c, DHCPREQUEST, now);
            schedule_half(c, now, c->t2_ns);
        } else if (c->state != DHCP_BOUND && now >= c->next_ns) {
            send_msg(c, DHCPREQUEST, now);
            schedule_half(c, now, c->state == DHCP_RENEWING ? c->t2_ns : c->expire_ns);
        }
        break;
    }
}

/* The next time dhcp_tick has work. */
uint64_t dhcp_next_event(const struct dhcp_client *c) {
    uint64_t t = c->next_ns;
    if (c->state == DHCP_BOUND) t = c->t1_ns;
    if (c->state == DHCP_RENEWING && c->t2_ns < t) t = c->t2_ns;
    if (c->state >= DHCP_BOUND && c->expire_ns < t) t = c->expire_ns;
    return t;
}

/* The text of /etc/resolv.conf from the leases' DNS servers; see net_dhcp.h. */
size_t dhcp_resolv_conf(const struct dhcp_lease *const *leases, int n, char *buf, size_t cap) {
    static const char header[] = "# written by the SABOS DHCP client\n";
    if (!buf || cap < sizeof header) return 0;
    memcpy(buf, header, sizeof header);
    size_t len = sizeof header - 1;
    uint8_t seen[DHCP_RESOLV_MAX_NS][4];
    int nseen = 0;
    for (int i = 0; i < n && nseen < DHCP_RESOLV_MAX_NS; i++) {
        const struct dhcp_lease *l = leases[i];
        if (!l) continue;
        int ndns = l->ndns < 0 ? 0 : l->ndns > DHCP_MAX_DNS ? DHCP_MAX_DNS : l->ndns;
        for (int k = 0; k < ndns && nseen < DHCP_RESOLV_MAX_NS; k++) {
            const uint8_t *a = l->dns[k];
            static const uint8_t zero[4];
            if (!memcmp(a, zero, 4) || !memcmp(a, bcast, 4)) continue;  /* not a server */
            bool dup = false;
            for (int j = 0; j < nseen && !dup; j++) dup = !memcmp(seen[j], a, 4);
            if (dup) continue;
            char line[32];
            int ll = ksnprintf(line, sizeof line, "nameserver %u.%u.%u.%u\n", a[0], a[1], a[2], a[3]);
            if ((size_t)ll >= cap - len) return len;   /* only whole lines */
            memcpy(buf + len, line, (size_t)ll + 1);
            len += (size_t)ll;
            memcpy(seen[nseen++], a, 4);
        }
    }
    return len;
}
