/* p9_selftest.c: kernel self-tests (group "p9") for the 9P2000.L protocol layer built with
 * the kernel's compiler flags: the walk planner, a codec round trip, and the client against
 * a loopback server in memory (no device): a file 33 names deep is walked with exactly 3
 * Twalks (the original SABOS walked an extra empty one), opened, read in msize chunks and
 * clunked with no fid left over. Message layouts: 9P2000.L, see p9.h. */
#include "p9.h"
#include "kerrno.h"
#include "kstring.h"
#include "selftest.h"

#define LOOP_MSIZE 8192u
#define LOOP_FILE_SIZE 20000u

struct loop_server {
    int walks, reads, live_fids;
    uint16_t walk_names[8];
};

static uint8_t loop_tx[LOOP_MSIZE], loop_rx[LOOP_MSIZE];

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint8_t file_byte(uint64_t off) { return (uint8_t)(off * 7 + 3); }

/* A p9_rpc_fn answering the handful of messages the test sends. */
static int loop_rpc(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                    size_t resp_cap, size_t *resp_len) {
    struct loop_server *s = ctx;
    size_t p = 7;
    if (req_len < 7 || resp_cap < LOOP_MSIZE) return -KEIO;
    resp[4] = (uint8_t)(req[4] + 1);
    resp[5] = req[5];
    resp[6] = req[6];
    memset(resp + 7, 0, 20);
    switch (req[4]) {
    case P9_TVERSION:
        put32(resp + p, LOOP_MSIZE);
        resp[p + 4] = 8;
        resp[p + 5] = 0;
        memcpy(resp + p + 6, "9P2000.L", 8);
        p += 14;
        break;
    case P9_TATTACH:
        s->live_fids++;
        resp[p] = P9_QTDIR;
        p += P9_QID_SIZE;
        break;
    case P9_TWALK: {
        uint16_t n = (uint16_t)(req[15] | req[16] << 8);
        if (s->walks < 8) s->walk_names[s->walks] = n;
        if (s->walks == 0) s->live_fids++;
        s->walks++;
        resp[p] = (uint8_t)n;
        resp[p + 1] = 0;
        memset(resp + p + 2, 0, (size_t)n * P9_QID_SIZE);
        p += 2 + (size_t)n * P9_QID_SIZE;
        break;
    }
    case P9_TLOPEN:
        p += P9_QID_SIZE + 4;
        break;
    case P9_TREAD: {
        uint64_t off = get32(req + 11) | (uint64_t)get32(req + 15) << 32;
        uint32_t count = get32(req + 19), n = 0;
        s->reads++;
        if (off < LOOP_FILE_SIZE) n = (uint32_t)MIN((uint64_t)count, LOOP_FILE_SIZE - off);
        put32(resp + p, n);
        for (uint32_t i = 0; i < n; i++) resp[p + 4 + i] = file_byte(off + i);
        p += 4 + n;
        break;
    }
    case P9_TCLUNK:
        s->live_fids--;
        break;
    default:
        resp[4] = P9_RLERROR;
        put32(resp + p, KENOSYS);
        p += 4;
    }
    put32(resp, (uint32_t)p);
    *resp_len = p;
    return 0;
}

SELFTEST(p9, walk_plan_has_no_empty_tail) {
    static const uint32_t n[] = { 0, 1, 15, 16, 17, 32, 33, 100 };
    static const uint32_t msgs[] = { 1, 1, 1, 1, 2, 2, 3, 7 };
    for (size_t i = 0; i < ARRAY_SIZE(n); i++) {
        uint32_t m = p9_walk_msg_count(n[i]);
        ST_ASSERT(t, m == msgs[i], "%u names: %u Twalks, want %u", n[i], m, msgs[i]);
        if (n[i]) ST_ASSERT(t, p9_walk_msg_names(n[i], m - 1) > 0, "%u names: empty last", n[i]);
    }
}

SELFTEST(p9, codec_round_trip) {
    uint8_t buf[64];
    struct p9_str names[2] = { { "a", 1 }, { "bc", 2 } };
    int len = p9_enc_twalk(buf, sizeof buf, 5, 1, 2, 2, names);
    ST_ASSERT(t, len == 7 + 10 + 3 + 4, "Twalk length %d", len);
    ST_ASSERT(t, get32(buf) == (uint32_t)len && buf[4] == P9_TWALK, "Twalk header wrong");
    ST_ASSERT(t, p9_enc_twalk(buf, (size_t)len - 1, 5, 1, 2, 2, names) == -KEMSGSIZE,
              "short buffer accepted");
    static const uint8_t rlerror[] = { 11, 0, 0, 0, P9_RLERROR, 5, 0, KENOENT, 0, 0, 0 };
    struct p9_qid q;
    ST_ASSERT(t, p9_dec_rattach(rlerror, sizeof rlerror, 5, &q) == -KENOENT, "Rlerror not mapped");
    ST_ASSERT(t, p9_dec_rattach(rlerror, sizeof rlerror - 1, 5, &q) == -KEPROTO,
              "truncated reply accepted");
}

SELFTEST(p9, loopback_read_at_depth_33) {
    static struct loop_server srv;
    static struct p9_client c;
    static uint8_t data[LOOP_FILE_SIZE];
    static char path[33 * 4 + 1];
    memset(&srv, 0, sizeof srv);
    size_t p = 0;
    for (int i = 0; i < 33; i++) {
        path[p++] = 'd';
        path[p++] = (char)('a' + i % 26);
        path[p++] = '/';
    }
    path[p - 1] = '\0';
    p9_client_init(&c, loop_rpc, &srv, loop_tx, loop_rx, LOOP_MSIZE);
    ST_ASSERT(t, p9_client_version(&c) == 0 && c.msize == LOOP_MSIZE, "version failed");
    ST_ASSERT(t, p9_client_attach(&c, "root", "", 0) == 0, "attach failed");
    uint32_t fid;
    int rc = p9_client_walk(&c, c.root_fid, path, &fid, NULL);
    ST_ASSERT(t, rc == 0, "walk: %d", rc);
    ST_ASSERT(t, srv.walks == 3, "%d Twalks for 33 names, want 3", srv.walks);
    ST_ASSERT(t, srv.walk_names[0] == 16 && srv.walk_names[1] == 16 && srv.walk_names[2] == 1,
              "chunks %u/%u/%u", srv.walk_names[0], srv.walk_names[1], srv.walk_names[2]);
    ST_ASSERT(t, p9_client_lopen(&c, fid, P9_O_RDONLY, NULL, NULL) == 0, "lopen failed");
    int64_t got = p9_client_read(&c, fid, 0, 0, data, sizeof data);
    ST_ASSERT(t, got == LOOP_FILE_SIZE, "read %lld bytes", (long long)got);
    ST_ASSERT(t, srv.reads == 3, "%d Treads for 20000 bytes at msize 8192, want 3", srv.reads);
    for (uint32_t i = 0; i < LOOP_FILE_SIZE; i++)
        ST_ASSERT(t, data[i] == file_byte(i), "byte %u wrong", i);
    ST_ASSERT(t, p9_client_clunk(&c, fid) == 0, "clunk failed");
    ST_ASSERT(t, p9_client_clunk(&c, c.root_fid) == 0, "root clunk failed");
    ST_ASSERT(t, c.fids.live == 0 && srv.live_fids == 0, "fids leaked: client %u server %d",
              c.fids.live, srv.live_fids);
}
