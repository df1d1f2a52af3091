/* dns.c: a DNS stub resolver: RFC 1035 §4 messages (header, question, resource records,
 * §4.1.4 name compression), RFC 3596 AAAA records, RFC 2181 §10.1 CNAME handling, RFC 5452
 * (random query ids, answers accepted only from the server asked), the hosts(5) and
 * resolv.conf(5) file formats, and RFC 4291 §2.2 text IPv6 addresses. See net_dns.h. */
#include "net_dns.h"
#include "kstring.h"

#define DNS_HDR 12

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Case-insensitive comparison of a text name with a query name that may end in one dot. */
static bool name_eq(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.') la--;
    if (lb && b[lb - 1] == '.') lb--;
    if (la != lb) return false;
    for (size_t i = 0; i < la; i++)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

/* Encodes a query; see net_dns.h. */
int dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype) {
    if (!buf || !name) return -KEINVAL;
    size_t n = strnlen(name, DNS_MAX_TEXT + 1);
    if (n && name[n - 1] == '.') n--;
    if (n == 0) return -KEINVAL;
    if (n > DNS_MAX_TEXT - 1) return -KENAMETOOLONG;
    /* wire length = n + 2 (first length byte and the root byte) */
    if (n + 2 > DNS_MAX_NAME) return -KENAMETOOLONG;
    if (cap < DNS_HDR + n + 2 + 4) return -KENOSPC;
    memset(buf, 0, DNS_HDR);
    net_put16(buf, id);
    net_put16(buf + 2, 0x0100);          /* RD: recursion desired */
    net_put16(buf + 4, 1);               /* QDCOUNT */
    size_t o = DNS_HDR, lab = o++, ll = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || name[i] == '.') {
            if (ll == 0) return -KEINVAL;            /* empty label ("a..b", ".a") */
            if (ll > DNS_MAX_LABEL) return -KENAMETOOLONG;
            buf[lab] = (uint8_t)ll;
            lab = o++;
            ll = 0;
            continue;
        }
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 0x7f) return -KEINVAL;
        buf[o++] = c;
        ll++;
    }
    buf[lab] = 0;                        /* root label (lab == o - 1) */
    net_put16(buf + o, qtype);
    net_put16(buf + o + 2, DNS_CLASS_IN);
    return (int)(o + 4);
}

/* Decodes a name; see net_dns.h. */
int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap) {
    size_t pos = *off, end = 0, o = 0, wire = 0, limit = len;
    bool jumped = false;
    if (!out || cap == 0) return -KENOSPC;
    for (;;) {
        if (pos >= len) return -KEPROTO;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len) return -KEPROTO;
            size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
            /* every jump must land strictly before the previous jump (or the first
             * pointer): no loops, and the walk ends after at most len jumps */
            if (target >= limit || target >= pos) return -KEPROTO;
            if (!jumped) end = pos + 2;
            jumped = true;
            limit = target;
            pos = target;
            continue;
        }
        if (l & 0xc0) return -KEPROTO;           /* 0x40/0x80: reserved label types */
        wire += 1u + l;
        if (wire > DNS_MAX_NAME) return -KENAMETOOLONG;
        if (l == 0) {
            pos++;
            break;
        }
        if (pos + 1 + l > len) return -KEPROTO;
        if (o && o + 1 >= cap) return -KENOSPC;
        if (o) out[o++] = '.';
        if (o + l >= cap) return -KENOSPC;
        for (size_t i = 0; i < l; i++) {
            char c = (char)msg[pos + 1 + i];
            if (c == '.' || c == 0) return -KEPROTO;   /* would make the text ambiguous */
            out[o++] = c;
        }
        pos += 1u + l;
    }
    out[o] = 0;
    *off = jumped ? end : pos;
    return 0;
}

/* Fixed part of a resource record after its name. */
struct rr {
    char owner[DNS_MAX_TEXT];
    uint16_t type, klass;
    uint32_t ttl;
    size_t rdata, rdlen;
};

static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *rr) {
    int e = dns_read_name(msg, len, off, rr->owner, sizeof rr->owner);
    if (e) return e == -KENAMETOOLONG ? -KEPROTO : e;
    if (*off + 10 > len) return -KEPROTO;
    rr->type = net_get16(msg + *off);
    rr->klass = net_get16(msg + *off + 2);
    rr->ttl = net_get32(msg + *off + 4);
    rr->rdlen = net_get16(msg + *off + 8);
    rr->rdata = *off + 10;
    if (rr->rdata + rr->rdlen > len) return -KEPROTO;
    *off = rr->rdata + rr->rdlen;
    return 0;
}

/* Parses a response; see net_dns.h. */
int dns_parse_response(const uint8_t *msg, size_t len, uint16_t id, const char *name, uint16_t qtype,
                       struct dns_result *res) {
    if (!msg || !res || !name) return -KEINVAL;
    memset(res, 0, sizeof *res);
    if (len < DNS_HDR) return -KEPROTO;
    uint16_t flags = net_get16(msg + 2);
    if (net_get16(msg) != id || !(flags & 0x8000) || ((flags >> 11) & 0xf) != 0) return -KEPROTO;
    if (flags & 0x0200) return -KEMSGSIZE;                 /* TC */
    switch (flags & 0xf) {
    case 0: break;
    case 3: return -KENOENT;                               /* NXDOMAIN */
    case 2: case 5: return -KEAGAIN;                       /* SERVFAIL, REFUSED */
    default: return -KEPROTO;
    }
    if (net_get16(msg + 4) != 1) return -KEPROTO;
    uint16_t ancount = net_get16(msg + 6);
    size_t off = DNS_HDR;
    char qn[DNS_MAX_TEXT];
    int e = dns_read_name(msg, len, &off, qn, sizeof qn);
    if (e) return -KEPROTO;
    if (off + 4 > len) return -KEPROTO;
    if (!name_eq(qn, name) || net_get16(msg + off) != qtype || net_get16(msg + off + 2) != DNS_CLASS_IN)
        return -KEPROTO;
    off += 4;
    size_t answers = off;
    /* validation pass: every record within the message, address sizes right */
    struct rr rr;
    for (uint16_t i = 0; i < ancount; i++) {
        if ((e = read_rr(msg, len, &off, &rr))) return e;
        if (rr.klass != DNS_CLASS_IN) continue;
        if ((rr.type == DNS_TYPE_A && rr.rdlen != 4) || (rr.type == DNS_TYPE_AAAA && rr.rdlen != 16))
            return -KEPROTO;
        if (rr.type == DNS_TYPE_CNAME) {
            size_t t = rr.rdata;
            char tgt[DNS_MAX_TEXT];
            if (dns_read_name(msg, len, &t, tgt, sizeof tgt) || t != rr.rdata + rr.rdlen) return -KEPROTO;
        }
    }
    /* follow the chain from the question name */
    char cur[DNS_MAX_TEXT];
    strlcpy(cur, qn, sizeof cur);
    res->ttl = UINT32_MAX;
    for (;;) {
        char next[DNS_MAX_TEXT];
        bool have_next = false;
        uint32_t cname_ttl = 0;
        off = answers;
        for (uint16_t i = 0; i < ancount; i++) {
            read_rr(msg, len, &off, &rr);          /* validated above */
            if (rr.klass != DNS_CLASS_IN || !name_eq(rr.owner, cur)) continue;
            if (rr.type == qtype && (qtype == DNS_TYPE_A || qtype == DNS_TYPE_AAAA)) {
                if (res->count < DNS_MAX_ADDRS) {
                    struct net_addr *a = &res->addrs[res->count++];
                    memset(a, 0, sizeof *a);
                    a->family = qtype == DNS_TYPE_A ? NET_AF_INET : NET_AF_INET6;
                    memcpy(a->v6, msg + rr.rdata, rr.rdlen);
                }
                if (rr.ttl < res->ttl) res->ttl = rr.ttl;
            } else if (rr.type == DNS_TYPE_CNAME && !have_next) {
                size_t t = rr.rdata;
                dns_read_name(msg, len, &t, next, sizeof next);
                have_next = true;
                cname_ttl = rr.ttl;
            }
        }
        if (res->count) {
            strlcpy(res->canon, cur, sizeof res->canon);
            return 0;
        }
        if (!have_next) {
            res->ttl = 0;
            return -KENODATA;
        }
        if (++res->cnames > DNS_MAX_CNAME) return -KELOOP;
        if (cname_ttl < res->ttl) res->ttl = cname_ttl;
        strlcpy(cur, next, sizeof cur);
    }
}

/* ---- text addresses ---- */
bool dns_parse_ip4(const char *s, size_t n, uint8_t out[4]) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.') return false;
            i++;
        }
        unsigned v = 0, digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255) return false;
        out[part] = (uint8_t)v;
    }
    return i == n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool dns_parse_ip6(const char *s, size_t n, uint8_t out[16]) {
    uint16_t w[8];
    int nw = 0, gap = -1;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (n >= 1 && s[0] == ':') {
        return false;
    }
    while (i < n) {
        size_t j = i;
        bool dot = false;
        while (j < n && s[j] != ':') dot |= s[j++] == '.';
        if (dot) {                                   /* trailing dotted quad */
            uint8_t b[4];
            if (j != n || nw > 6 || !dns_parse_ip4(s + i, j - i, b)) return false;
            w[nw++] = (uint16_t)(b[0] << 8 | b[1]);
            w[nw++] = (uint16_t)(b[2] << 8 | b[3]);
            i = j;
            break;
        }
        if (j == i || j - i > 4 || nw >= 8) return false;
        unsigned v = 0;
        for (size_t k = i; k < j; k++) {
            int h = hexval(s[k]);
            if (h < 0) return false;
            v = v << 4 | (unsigned)h;
        }
        w[nw++] = (uint16_t)v;
        if (j == n) {
            i = j;
            break;
        }
        if (j + 1 < n && s[j + 1] == ':') {
            if (gap >= 0) return false;
            gap = nw;
            i = j + 2;
        } else {
            i = j + 1;
            if (i == n) return false;                /* trailing single colon */
        }
    }
    if ((gap < 0 && nw != 8) || (gap >= 0 && nw > 7)) return false;
    memset(out, 0, 16);
    int head = gap < 0 ? nw : gap, tail = nw - head;
    for (int k = 0; k < head; k++) net_put16(out + 2 * k, w[k]);
    for (int k = 0; k < tail; k++) net_put16(out + 16 - 2 * tail + 2 * k, w[head + k]);
    return true;
}

static bool parse_addr(const char *s, size_t n, struct net_addr *a) {
    memset(a, 0, sizeof *a);
    if (dns_parse_ip4(s, n, a->v4)) { a->family = NET_AF_INET; return true; }
    if (dns_parse_ip6(s, n, a->v6)) { a->family = NET_AF_INET6; return true; }
    return false;
}

/* ---- hosts and resolv.conf ---- */
static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits the line [p, e) into tokens (up to '#'); returns the count, at most max. */
static int tokens(const char *p, const char *e, const char **tok, size_t *tl, int max, char comment2) {
    int n = 0;
    while (p < e && n < max) {
        while (p < e && is_blank(*p)) p++;
        if (p >= e || *p == '#' || (comment2 && *p == comment2)) break;
        const char *t = p;
        while (p < e && !is_blank(*p) && *p != '#') p++;
        tok[n] = t;
        tl[n++] = (size_t)(p - t);
    }
    return n;
}

int dns_hosts_lookup(const char *text, size_t len, const char *name, uint16_t family,
                     struct net_addr *out, int max) {
    int found = 0;
    if (!text || !name || !out) return 0;
    size_t nl = strnlen(name, DNS_MAX_TEXT);
    if (nl && name[nl - 1] == '.') nl--;
    if (nl == 0 || nl >= DNS_MAX_TEXT) return 0;
    const char *p = text, *end = text + len;
    while (p < end && found < max) {
        const char *e = p;
        while (e < end && *e != '\n') e++;
        const char *tok[16];
        size_t tl[16];
        int n = tokens(p, e, tok, tl, 16, 0);
        struct net_addr a;
        if (n >= 2 && parse_addr(tok[0], tl[0], &a) && (!family || a.family == family)) {
            for (int i = 1; i < n; i++) {
                if (tl[i] != nl) continue;
                size_t k = 0;
                while (k < nl && lower(tok[i][k]) == lower(name[k])) k++;
                if (k == nl) {
                    out[found++] = a;
                    break;
                }
            }
        }
        p = e + 1;
    }
    return found;
}

int dns_parse_resolv_conf(const char *text, size_t len, struct net_addr *servers, int max) {
    int found = 0;
    if (!text || !servers) return 0;
    const char *p = text, *end = text + len;
    while (p < end && found < max) {
        const char *e = p;
        while (e < end && *e != '\n') e++;
        const char *tok[2];
        size_t tl[2];
        int n = tokens(p, e, tok, tl, 2, ';');
        if (n == 2 && tl[0] == 10 && memcmp(tok[0], "nameserver", 10) == 0 &&
            parse_addr(tok[1], tl[1], &servers[found]))
            found++;
        p = e + 1;
    }
    return found;
}

/* ---- resolver ---- */
static int finish(struct dns_resolver *r, int err) {
    r->state = err ? DNS_FAILED : DNS_DONE;
    r->error = err;
    return 1;
}

static void send_query(struct dns_resolver *r, uint64_t now) {
    r->id = r->ops.rand16 ? r->ops.rand16(r->ops.ctx) : (uint16_t)(r->id * 25173u + 13849u);
    int n = dns_build_query(r->msg, sizeof r->msg, r->id, r->name, r->qtype);
    r->msg_len = n > 0 ? (size_t)n : 0;
    if (n > 0 && r->ops.send) r->ops.send(r->ops.ctx, &r->servers[r->server], r->msg, r->msg_len);
    r->deadline_ns = now + (r->timeout_ns ? r->timeout_ns : 2000000000ull);
}

/* Moves to the next server or round; returns 1 when out of tries. */
static int advance(struct dns_resolver *r, uint64_t now) {
    if (++r->server >= r->nservers) {
        r->server = 0;
        if (++r->round >= (r->attempts ? r->attempts : 2))
            return finish(r, r->last_error ? r->last_error : -KETIMEDOUT);
    }
    send_query(r, now);
    return 0;
}

int dns_resolver_start(struct dns_resolver *r, const char *name, uint16_t qtype,
                       const char *hosts, size_t hosts_len, uint64_t now_ns) {
    memset(&r->result, 0, sizeof r->result);
    r->error = r->last_error = 0;
    r->server = r->round = 0;
    if (qtype != DNS_TYPE_A && qtype != DNS_TYPE_AAAA) { finish(r, -KEINVAL); return -KEINVAL; }
    int n = dns_build_query(r->msg, sizeof r->msg, 0, name, qtype);
    if (n < 0) { finish(r, n); return n; }
    strlcpy(r->name, name, sizeof r->name);
    r->qtype = qtype;
    uint16_t fam = qtype == DNS_TYPE_A ? NET_AF_INET : NET_AF_INET6;
    struct net_addr lit;
    if (parse_addr(name, strlen(name), &lit)) {
        if (lit.family != fam) { finish(r, -KENODATA); return -KENODATA; }
        r->result.addrs[0] = lit;
        r->result.count = 1;
    } else if (hosts) {
        r->result.count = dns_hosts_lookup(hosts, hosts_len, name, fam, r->result.addrs, DNS_MAX_ADDRS);
    }
    if (r->result.count) {
        strlcpy(r->result.canon, name, sizeof r->result.canon);
        return finish(r, 0);
    }
    if (r->nservers <= 0 || r->nservers > DNS_MAX_SERVERS) { finish(r, -KEINVAL); return -KEINVAL; }
    r->state = DNS_WAITING;
    send_query(r, now_ns);
    return 0;
}

int dns_resolver_input(struct dns_resolver *r, const struct net_addr *from, uint16_t sport,
                       const uint8_t *msg, size_t len, uint64_t now_ns) {
    if (r->state != DNS_WAITING || !from || !msg) return 0;
    const struct net_addr *srv = &r->servers[r->server];
    if (sport != DNS_PORT || from->family != srv->family ||
        memcmp(from->v6, srv->v6, srv->family == NET_AF_INET6 ? 16 : 4) != 0)
        return 0;
    if (len < 2 || net_get16(msg) != r->id) return 0;
    int e = dns_parse_response(msg, len, r->id, r->name, r->qtype, &r->result);
    switch (e) {
    case 0:
    case -KENOENT:
    case -KENODATA:
    case -KELOOP:
        return finish(r, e);
    case -KEPROTO:
        r->last_error = e;          /* garbage with the right id: keep waiting for the real one */
        return 0;
    default:                        /* SERVFAIL/REFUSED, truncated: ask the next server now */
        r->last_error = e;
        return advance(r, now_ns);
    }
}

int dns_resolver_tick(struct dns_resolver *r, uint64_t now_ns) {
    if (r->state != DNS_WAITING) return 0;
    if (now_ns < r->deadline_ns) return 0;
    return advance(r, now_ns);
}
