/* test_p9.c: host unit tests for the 9P2000.L protocol layer (kernel/fs/p9_proto.c and
 * kernel/fs/p9_client.c; message layouts per p9.h, i.e. 9P2000.L as Linux v9fs and QEMU
 * speak it).
 *
 * Checks: every T-message encodes to hand-computed bytes and refuses a buffer one byte too
 * small; every R-message decodes; hostile replies (truncated, size field off, strings and
 * counts past the end, nwqid > asked or > 16, Rread count > asked, unknown type, tag
 * mismatch, bad Rlerror codes) are rejected; a seeded random fuzzer over every decoder;
 * the walk planner for 0..100 names (and the original SABOS bug: no empty walk after the
 * last full chunk); a client against an in-memory 9P server that reads a file at depth 16,
 * 17, 32, 33 and 100, chunks a 1 MiB + 1 read/write by msize, and never leaks a fid, on
 * either side, also when the server fails half-way. */
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/fs/p9_proto.c"
#include "../../kernel/fs/p9_client.c"
#include "kerrno.h"

/* Checks that an encoder produced exactly the expected bytes and that a buffer one byte
 * smaller (heap-allocated to the byte, so ASan sees any overrun) is refused. */
#define CHECK_ENC(expected, call_with_buf_cap)                                              \
    do {                                                                                    \
        size_t n_ = sizeof(expected);                                                       \
        uint8_t *buf = malloc(n_);                                                          \
        size_t cap = n_;                                                                    \
        assert_int_equal((call_with_buf_cap), (int)n_);                                     \
        assert_memory_equal(buf, expected, n_);                                             \
        free(buf);                                                                          \
        cap = n_ - 1;                                                                       \
        buf = malloc(cap);                                                                  \
        assert_int_equal((call_with_buf_cap), -KEMSGSIZE);                                  \
        free(buf);                                                                          \
    } while (0)

static struct p9_str S(const char *s) {
    struct p9_str r = { s, (uint16_t)strlen(s) };
    return r;
}

static void test_encode_version_attach_walk(void **state) {
    (void)state;
    static const uint8_t tversion[] = { 0x15, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20, 0, 0,
                                        8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L' };
    CHECK_ENC(tversion, p9_enc_tversion(buf, cap, 8192, "9P2000.L"));

    static const uint8_t tattach[] = { 0x1b, 0, 0, 0, 104, 1, 0, 0, 0, 0, 0,
                                       0xff, 0xff, 0xff, 0xff, 4, 0, 'r', 'o', 'o', 't',
                                       0, 0, 0, 0, 0, 0 };
    CHECK_ENC(tattach, p9_enc_tattach(buf, cap, 1, 0, P9_NOFID, "root", "", 0));

    static const uint8_t twalk[] = { 0x1b, 0, 0, 0, 110, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0,
                                     2, 0, 3, 0, 'u', 's', 'r', 3, 0, 'l', 'i', 'b' };
    struct p9_str names[2] = { S("usr"), S("lib") };
    CHECK_ENC(twalk, p9_enc_twalk(buf, cap, 2, 0, 1, 2, names));

    static const uint8_t tclone[] = { 0x11, 0, 0, 0, 110, 3, 0, 5, 0, 0, 0, 6, 0, 0, 0, 0, 0 };
    CHECK_ENC(tclone, p9_enc_twalk(buf, cap, 3, 5, 6, 0, NULL));

    /* 17 names cannot travel in one Twalk */
    struct p9_str many[17];
    for (int i = 0; i < 17; i++) many[i] = S("a");
    uint8_t big[512];
    assert_int_equal(p9_enc_twalk(big, sizeof big, 1, 0, 1, 17, many), -KEINVAL);
    assert_int_equal(p9_enc_twalk(big, sizeof big, 1, 0, 1, 16, many), 7 + 10 + 16 * 3);
}

static void test_encode_open_create_read_write(void **state) {
    (void)state;
    static const uint8_t tlopen[] = { 0x0f, 0, 0, 0, 12, 4, 0, 1, 0, 0, 0, 2, 0, 0, 0 };
    CHECK_ENC(tlopen, p9_enc_tlopen(buf, cap, 4, 1, P9_O_RDWR));

    static const uint8_t tlcreate[] = { 0x1e, 0, 0, 0, 14, 5, 0, 1, 0, 0, 0, 5, 0,
                                        'a', '.', 't', 'x', 't', 0x41, 0x02, 0, 0,
                                        0xa4, 0x01, 0, 0, 0x64, 0, 0, 0 };
    CHECK_ENC(tlcreate, p9_enc_tlcreate(buf, cap, 5, 1, S("a.txt"),
                                        P9_O_CREAT | P9_O_TRUNC | P9_O_WRONLY, 0644, 100));

    static const uint8_t tread[] = { 0x17, 0, 0, 0, 116, 6, 0, 7, 0, 0, 0,
                                     8, 7, 6, 5, 4, 3, 2, 1, 0xe8, 0x1f, 0, 0 };
    CHECK_ENC(tread, p9_enc_tread(buf, cap, 6, 7, 0x0102030405060708ull, 8168));

    static const uint8_t twrite[] = { 0x1a, 0, 0, 0, 118, 7, 0, 7, 0, 0, 0,
                                      16, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'h', 'i', '!' };
    CHECK_ENC(twrite, p9_enc_twrite(buf, cap, 7, 7, 16, "hi!", 3));

    static const uint8_t treaddir[] = { 0x17, 0, 0, 0, 40, 8, 0, 9, 0, 0, 0,
                                        3, 0, 0, 0, 0, 0, 0, 0, 0xa0, 0x0f, 0, 0 };
    CHECK_ENC(treaddir, p9_enc_treaddir(buf, cap, 8, 9, 3, 4000));
}

static void test_encode_attr_and_namespace_ops(void **state) {
    (void)state;
    static const uint8_t tgetattr[] = { 0x13, 0, 0, 0, 24, 9, 0, 2, 0, 0, 0,
                                        0xff, 0x3f, 0, 0, 0, 0, 0, 0 };
    CHECK_ENC(tgetattr, p9_enc_tgetattr(buf, cap, 9, 2, P9_GETATTR_ALL));

    static const uint8_t tsetattr[] = {
        0x43, 0, 0, 0, 26, 10, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0xed, 0x01, 0, 0,
        0xe8, 0x03, 0, 0, 0xe9, 0x03, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
        1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
        3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0 };
    struct p9_setattr sa = { .valid = P9_SETATTR_MODE | P9_SETATTR_SIZE, .mode = 0755,
                             .uid = 1000, .gid = 1001, .size = 0x10000, .atime_sec = 1,
                             .atime_nsec = 2, .mtime_sec = 3, .mtime_nsec = 4 };
    CHECK_ENC(tsetattr, p9_enc_tsetattr(buf, cap, 10, 2, &sa));

    static const uint8_t tmkdir[] = { 0x18, 0, 0, 0, 72, 11, 0, 3, 0, 0, 0, 3, 0, 'd', 'i', 'r',
                                      0xed, 0x01, 0, 0, 0, 0, 0, 0 };
    CHECK_ENC(tmkdir, p9_enc_tmkdir(buf, cap, 11, 3, S("dir"), 0755, 0));

    static const uint8_t tunlinkat[] = { 0x12, 0, 0, 0, 76, 12, 0, 3, 0, 0, 0, 1, 0, 'x',
                                         0x00, 0x02, 0, 0 };
    CHECK_ENC(tunlinkat, p9_enc_tunlinkat(buf, cap, 12, 3, S("x"), P9_AT_REMOVEDIR));

    static const uint8_t trenameat[] = { 0x16, 0, 0, 0, 74, 13, 0, 3, 0, 0, 0, 1, 0, 'a',
                                         4, 0, 0, 0, 2, 0, 'b', 'c' };
    CHECK_ENC(trenameat, p9_enc_trenameat(buf, cap, 13, 3, S("a"), 4, S("bc")));

    static const uint8_t tclunk[] = { 0x0b, 0, 0, 0, 120, 14, 0, 4, 3, 2, 1 };
    CHECK_ENC(tclunk, p9_enc_tclunk(buf, cap, 14, 0x01020304));
}

/* ---- valid replies, hand-written ---- */
static const uint8_t rversion_ok[] = { 0x15, 0, 0, 0, 101, 0xff, 0xff, 0x00, 0x20, 0, 0,
                                       8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L' };
static const uint8_t rattach_ok[] = { 0x14, 0, 0, 0, 105, 1, 0, 0x80, 0x44, 0x33, 0x22, 0x11,
                                      8, 7, 6, 5, 4, 3, 2, 1 };
static const uint8_t rwalk_ok[] = { 0x23, 0, 0, 0, 111, 2, 0, 2, 0,
                                    0x80, 1, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0,
                                    0x00, 2, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t rlopen_ok[] = { 0x18, 0, 0, 0, 13, 4, 0, 0, 9, 0, 0, 0,
                                     0x30, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10, 0, 0 };
static const uint8_t rlcreate_ok[] = { 0x18, 0, 0, 0, 15, 5, 0, 0, 1, 0, 0, 0,
                                       0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t rread_ok[] = { 0x0e, 0, 0, 0, 117, 6, 0, 3, 0, 0, 0, 'a', 'b', 'c' };
static const uint8_t rwrite_ok[] = { 0x0b, 0, 0, 0, 119, 7, 0, 3, 0, 0, 0 };
/* two dirents: (qid dir path 5, offset 1, type 4, "sub") and (qid file path 6, offset 2,
 * type 8, "f.txt") */
static const uint8_t rreaddir_ok[] = {
    0x43, 0, 0, 0, 41, 8, 0, 0x38, 0, 0, 0,
    0x80, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 3, 0, 's', 'u', 'b',
    0x00, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 5, 0,
    'f', '.', 't', 'x', 't' };
static const uint8_t rmkdir_ok[] = { 0x14, 0, 0, 0, 73, 11, 0, 0x80, 0, 0, 0, 0,
                                     0x77, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t rclunk_ok[] = { 0x07, 0, 0, 0, 121, 14, 0 };
static const uint8_t rlerror_enoent[] = { 0x0b, 0, 0, 0, 7, 4, 0, 2, 0, 0, 0 };

/* Rgetattr: every field set to a distinct value, in wire order. */
static size_t make_rgetattr(uint8_t *m, uint16_t tag) {
    size_t p = 0;
    uint8_t hdr[7] = { 0xa0, 0, 0, 0, 25, (uint8_t)tag, (uint8_t)(tag >> 8) };
    memcpy(m, hdr, 7);
    p = 7;
    uint64_t valid = P9_GETATTR_BASIC;
    memcpy(m + p, &valid, 8); p += 8;
    m[p++] = 0x00;                                  /* qid.type */
    uint32_t qv = 0x01020304; memcpy(m + p, &qv, 4); p += 4;
    uint64_t qp = 0x1111222233334444ull; memcpy(m + p, &qp, 8); p += 8;
    uint32_t mode = 0100644, uid = 1000, gid = 1001;
    memcpy(m + p, &mode, 4); p += 4;
    memcpy(m + p, &uid, 4); p += 4;
    memcpy(m + p, &gid, 4); p += 4;
    for (uint64_t i = 1; i <= 15; i++) { uint64_t v = i * 0x100 + i; memcpy(m + p, &v, 8); p += 8; }
    return p;
}

static void test_decode_valid_replies(void **state) {
    (void)state;
    uint32_t msize, iounit, count;
    struct p9_str ver;
    struct p9_qid q, qids[16];
    uint16_t nwqid;
    const uint8_t *data;

    assert_int_equal(p9_dec_rversion(rversion_ok, sizeof rversion_ok, &msize, &ver), 0);
    assert_int_equal(msize, 8192);
    assert_int_equal(ver.len, 8);
    assert_memory_equal(ver.s, "9P2000.L", 8);

    assert_int_equal(p9_dec_rattach(rattach_ok, sizeof rattach_ok, 1, &q), 0);
    assert_int_equal(q.type, 0x80);
    assert_int_equal(q.version, 0x11223344);
    assert_true(q.path == 0x0102030405060708ull);

    assert_int_equal(p9_dec_rwalk(rwalk_ok, sizeof rwalk_ok, 2, 2, &nwqid, qids), 0);
    assert_int_equal(nwqid, 2);
    assert_int_equal(qids[0].type, 0x80);
    assert_true(qids[0].path == 0x10);
    assert_int_equal(qids[1].version, 2);
    assert_true(qids[1].path == 0x20);

    assert_int_equal(p9_dec_rlopen(rlopen_ok, sizeof rlopen_ok, 4, &q, &iounit), 0);
    assert_int_equal(q.version, 9);
    assert_true(q.path == 0x30);
    assert_int_equal(iounit, 4096);
    assert_int_equal(p9_dec_rlcreate(rlcreate_ok, sizeof rlcreate_ok, 5, &q, &iounit), 0);
    assert_true(q.path == 0x31);
    assert_int_equal(iounit, 0);

    assert_int_equal(p9_dec_rread(rread_ok, sizeof rread_ok, 6, 100, &count, &data), 0);
    assert_int_equal(count, 3);
    assert_memory_equal(data, "abc", 3);
    assert_int_equal(p9_dec_rwrite(rwrite_ok, sizeof rwrite_ok, 7, 3, &count), 0);
    assert_int_equal(count, 3);

    assert_int_equal(p9_dec_rreaddir(rreaddir_ok, sizeof rreaddir_ok, 8, 4000, &count, &data), 0);
    assert_int_equal(count, 0x38);
    size_t pos = 0;
    struct p9_dirent e;
    assert_int_equal(p9_dirent_next(data, count, &pos, &e), 1);
    assert_int_equal(e.qid.type, 0x80);
    assert_true(e.qid.path == 5 && e.offset == 1);
    assert_int_equal(e.type, 4);
    assert_int_equal(e.name.len, 3);
    assert_memory_equal(e.name.s, "sub", 3);
    assert_int_equal(p9_dirent_next(data, count, &pos, &e), 1);
    assert_true(e.qid.path == 6 && e.offset == 2 && e.type == 8);
    assert_memory_equal(e.name.s, "f.txt", 5);
    assert_int_equal(p9_dirent_next(data, count, &pos, &e), 0);

    uint8_t ga[200];
    size_t galen = make_rgetattr(ga, 9);
    assert_int_equal(galen, 7 + P9_GETATTR_REPLY_BODY);
    struct p9_attr a;
    assert_int_equal(p9_dec_rgetattr(ga, galen, 9, &a), 0);
    assert_true(a.valid == P9_GETATTR_BASIC);
    assert_true(a.qid.version == 0x01020304 && a.qid.path == 0x1111222233334444ull);
    assert_int_equal(a.mode, 0100644);
    assert_int_equal(a.uid, 1000);
    assert_int_equal(a.gid, 1001);
    assert_true(a.nlink == 0x101 && a.rdev == 0x202 && a.size == 0x303);
    assert_true(a.blksize == 0x404 && a.blocks == 0x505);
    assert_true(a.atime_sec == 0x606 && a.atime_nsec == 0x707);
    assert_true(a.mtime_sec == 0x808 && a.mtime_nsec == 0x909);
    assert_true(a.ctime_sec == 0xa0a && a.ctime_nsec == 0xb0b);
    assert_true(a.btime_sec == 0xc0c && a.btime_nsec == 0xd0d);
    assert_true(a.gen == 0xe0e && a.data_version == 0xf0f);

    assert_int_equal(p9_dec_rmkdir(rmkdir_ok, sizeof rmkdir_ok, 11, &q), 0);
    assert_true(q.path == 0x77);
    assert_int_equal(p9_dec_rempty(rclunk_ok, sizeof rclunk_ok, 14, P9_RCLUNK), 0);

    /* Rlerror carries a Linux errno, which is our KE* value */
    assert_int_equal(p9_dec_rlopen(rlerror_enoent, sizeof rlerror_enoent, 4, &q, &iounit),
                     -KENOENT);
}

/* ---- hostile replies ---- */

/* Every decoder applied to one message, with the tag and limits of the valid replies
 * above; returns the first non-protocol-error result so callers can assert on it. */
static int decode_as(uint8_t type, const uint8_t *m, size_t len, uint16_t tag) {
    uint32_t u32, count;
    struct p9_str s;
    struct p9_qid q, qids[16];
    uint16_t n;
    const uint8_t *d;
    struct p9_attr a;
    switch (type) {
    case P9_RVERSION: return p9_dec_rversion(m, len, &u32, &s);
    case P9_RATTACH: return p9_dec_rattach(m, len, tag, &q);
    case P9_RWALK: return p9_dec_rwalk(m, len, tag, 2, &n, qids);
    case P9_RLOPEN: return p9_dec_rlopen(m, len, tag, &q, &u32);
    case P9_RLCREATE: return p9_dec_rlcreate(m, len, tag, &q, &u32);
    case P9_RREAD: return p9_dec_rread(m, len, tag, 100, &count, &d);
    case P9_RWRITE: return p9_dec_rwrite(m, len, tag, 3, &count);
    case P9_RREADDIR: return p9_dec_rreaddir(m, len, tag, 4000, &count, &d);
    case P9_RGETATTR: return p9_dec_rgetattr(m, len, tag, &a);
    case P9_RMKDIR: return p9_dec_rmkdir(m, len, tag, &q);
    default: return p9_dec_rempty(m, len, tag, type);
    }
}

struct sample { uint8_t type; const uint8_t *msg; size_t len; uint16_t tag; };

static void check_truncations_rejected(const struct sample *s) {
    uint8_t *m = malloc(s->len + 8);
    /* every strict prefix: the size field no longer matches the bytes */
    for (size_t l = 0; l < s->len; l++) {
        uint8_t *exact = malloc(l ? l : 1);
        memcpy(exact, s->msg, l);
        assert_int_equal(decode_as(s->type, exact, l, s->tag), -KEPROTO);
        /* same prefix with the size field patched to match: the body itself is short */
        if (l >= 7) {
            exact[0] = (uint8_t)l; exact[1] = exact[2] = exact[3] = 0;
            assert_int_equal(decode_as(s->type, exact, l, s->tag), -KEPROTO);
        }
        free(exact);
    }
    /* size field larger and smaller than the bytes received */
    memcpy(m, s->msg, s->len);
    m[0] = (uint8_t)(s->len + 1);
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), -KEPROTO);
    m[0] = (uint8_t)(s->len - 1);
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), -KEPROTO);
    m[0] = (uint8_t)s->len; m[3] = 0x80; /* 2 GiB */
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), -KEPROTO);
    /* one trailing byte, size field patched to include it */
    memcpy(m, s->msg, s->len);
    m[s->len] = 0;
    m[0] = (uint8_t)(s->len + 1);
    assert_int_equal(decode_as(s->type, m, s->len + 1, s->tag), -KEPROTO);
    /* tag mismatch (Rversion always has NOTAG, so change it there too) */
    memcpy(m, s->msg, s->len);
    m[5] ^= 0x01;
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), -KEPROTO);
    /* a reply of another type */
    memcpy(m, s->msg, s->len);
    m[4] = (uint8_t)(s->type == P9_RCLUNK ? P9_RWRITE : P9_RCLUNK);
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), -KEPROTO);
    m[4] = 0xee; /* unknown type */
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), -KEPROTO);
    /* the intact message still decodes */
    memcpy(m, s->msg, s->len);
    assert_int_equal(decode_as(s->type, m, s->len, s->tag), 0);
    free(m);
}

static void test_hostile_truncated_resized_retagged(void **state) {
    (void)state;
    uint8_t ga[200];
    size_t galen = make_rgetattr(ga, 9);
    const struct sample samples[] = {
        { P9_RVERSION, rversion_ok, sizeof rversion_ok, P9_NOTAG },
        { P9_RATTACH, rattach_ok, sizeof rattach_ok, 1 },
        { P9_RWALK, rwalk_ok, sizeof rwalk_ok, 2 },
        { P9_RLOPEN, rlopen_ok, sizeof rlopen_ok, 4 },
        { P9_RLCREATE, rlcreate_ok, sizeof rlcreate_ok, 5 },
        { P9_RREAD, rread_ok, sizeof rread_ok, 6 },
        { P9_RWRITE, rwrite_ok, sizeof rwrite_ok, 7 },
        { P9_RREADDIR, rreaddir_ok, sizeof rreaddir_ok, 8 },
        { P9_RGETATTR, ga, galen, 9 },
        { P9_RMKDIR, rmkdir_ok, sizeof rmkdir_ok, 11 },
        { P9_RCLUNK, rclunk_ok, sizeof rclunk_ok, 14 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(samples); i++) check_truncations_rejected(&samples[i]);
}

static void test_hostile_counts_and_strings(void **state) {
    (void)state;
    uint8_t m[400];
    uint32_t msize, count;
    struct p9_str ver;
    struct p9_qid qids[16];
    uint16_t nwqid;
    const uint8_t *data;

    /* Rversion whose string length runs past the end */
    memcpy(m, rversion_ok, sizeof rversion_ok);
    m[11] = 9;
    assert_int_equal(p9_dec_rversion(m, sizeof rversion_ok, &msize, &ver), -KEPROTO);
    m[11] = 0xff; m[12] = 0xff;
    assert_int_equal(p9_dec_rversion(m, sizeof rversion_ok, &msize, &ver), -KEPROTO);

    /* Rwalk: more qids than names asked; more than 16; count not matching the bytes */
    assert_int_equal(p9_dec_rwalk(rwalk_ok, sizeof rwalk_ok, 2, 1, &nwqid, qids), -KEPROTO);
    size_t len = 9 + 17 * 13;
    memset(m, 0, len);
    m[0] = (uint8_t)len; m[1] = (uint8_t)(len >> 8); m[4] = P9_RWALK; m[5] = 2; m[7] = 17;
    assert_int_equal(p9_dec_rwalk(m, len, 2, 16, &nwqid, qids), -KEPROTO);
    assert_int_equal(p9_dec_rwalk(m, len, 2, 17, &nwqid, qids), -KEPROTO);
    memcpy(m, rwalk_ok, sizeof rwalk_ok);
    m[7] = 1; /* claims one qid, carries two */
    assert_int_equal(p9_dec_rwalk(m, sizeof rwalk_ok, 2, 2, &nwqid, qids), -KEPROTO);
    m[7] = 3; /* claims three, carries two */
    assert_int_equal(p9_dec_rwalk(m, sizeof rwalk_ok, 2, 3, &nwqid, qids), -KEPROTO);

    /* Rread: more than asked; count past the message; count short of the message */
    assert_int_equal(p9_dec_rread(rread_ok, sizeof rread_ok, 6, 2, &count, &data), -KEPROTO);
    memcpy(m, rread_ok, sizeof rread_ok);
    m[7] = 4;
    assert_int_equal(p9_dec_rread(m, sizeof rread_ok, 6, 100, &count, &data), -KEPROTO);
    m[7] = 0xff; m[8] = 0xff; m[9] = 0xff; m[10] = 0xff;
    assert_int_equal(p9_dec_rread(m, sizeof rread_ok, 6, 0xffffffffu, &count, &data), -KEPROTO);
    m[7] = 2; m[8] = m[9] = m[10] = 0;
    assert_int_equal(p9_dec_rread(m, sizeof rread_ok, 6, 100, &count, &data), -KEPROTO);

    /* Rwrite claiming more than was sent */
    assert_int_equal(p9_dec_rwrite(rwrite_ok, sizeof rwrite_ok, 7, 2, &count), -KEPROTO);

    /* Rreaddir more than asked */
    assert_int_equal(p9_dec_rreaddir(rreaddir_ok, sizeof rreaddir_ok, 8, 0x37, &count, &data),
                     -KEPROTO);

    /* dirents: name length past the data, empty name, name with '/', truncated entry */
    assert_int_equal(p9_dec_rreaddir(rreaddir_ok, sizeof rreaddir_ok, 8, 4000, &count, &data), 0);
    uint8_t d[0x38];
    struct p9_dirent e;
    size_t pos;
    memcpy(d, data, sizeof d);
    d[22] = 4; /* "sub" claims 4 bytes: eats into the next entry, which then breaks */
    pos = 0;
    int r1 = p9_dirent_next(d, sizeof d, &pos, &e);
    int r2 = r1 == 1 ? p9_dirent_next(d, sizeof d, &pos, &e) : r1;
    assert_int_equal(r2, -KEPROTO);
    memcpy(d, data, sizeof d);
    d[sizeof d - 7] = 6; /* last name claims 6 bytes, 5 remain */
    pos = 0;
    assert_int_equal(p9_dirent_next(d, sizeof d, &pos, &e), 1);
    assert_int_equal(p9_dirent_next(d, sizeof d, &pos, &e), -KEPROTO);
    memcpy(d, data, sizeof d);
    d[25] = '/'; /* "s/b" */
    pos = 0;
    assert_int_equal(p9_dirent_next(d, sizeof d, &pos, &e), -KEPROTO);
    for (size_t cut = 1; cut < 27; cut++) {
        pos = 0;
        assert_int_equal(p9_dirent_next(data, cut, &pos, &e), -KEPROTO);
    }

    /* Rlerror: errno 0 or beyond Linux's range is not an error code we trust */
    struct p9_qid q;
    uint32_t iounit;
    memcpy(m, rlerror_enoent, sizeof rlerror_enoent);
    m[7] = 0;
    assert_int_equal(p9_dec_rlopen(m, sizeof rlerror_enoent, 4, &q, &iounit), -KEPROTO);
    m[7] = 0x00; m[8] = 0x10; /* 4096 */
    assert_int_equal(p9_dec_rlopen(m, sizeof rlerror_enoent, 4, &q, &iounit), -KEPROTO);
    m[8] = 0; m[10] = 0x80;
    assert_int_equal(p9_dec_rlopen(m, sizeof rlerror_enoent, 4, &q, &iounit), -KEPROTO);
    /* Rlerror with the wrong tag */
    assert_int_equal(p9_dec_rlopen(rlerror_enoent, sizeof rlerror_enoent, 5, &q, &iounit),
                     -KEPROTO);
    /* an empty-reply decoder asked for a type that has a body */
    assert_int_equal(p9_dec_rempty(rclunk_ok, sizeof rclunk_ok, 14, P9_RREAD), -KEINVAL);
    /* NULL or tiny buffers */
    uint8_t t; uint16_t tg;
    assert_int_equal(p9_dec_header(NULL, 0, &t, &tg), -KEPROTO);
    assert_int_equal(p9_dec_header(rclunk_ok, 6, &t, &tg), -KEPROTO);
}

/* xorshift64*: a fixed-seed generator so a fuzz failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Runs the decoder for type over m and checks the invariants of an accepted reply. */
static int fuzz_one(uint8_t type, const uint8_t *m, size_t len, uint16_t tag) {
    int rc;
    if (type == P9_RREAD || type == P9_RREADDIR) {
        uint32_t asked = (uint32_t)(rng() % 300), count = 0;
        const uint8_t *d = NULL;
        rc = type == P9_RREAD ? p9_dec_rread(m, len, tag, asked, &count, &d)
                              : p9_dec_rreaddir(m, len, tag, asked, &count, &d);
        if (rc == 0) {
            assert_true(count <= asked);
            assert_true(d >= m && d + count <= m + len);
            if (type == P9_RREADDIR) {
                size_t pos = 0;
                struct p9_dirent e;
                int r, guard = 0;
                while ((r = p9_dirent_next(d, count, &pos, &e)) == 1) {
                    assert_true((const uint8_t *)e.name.s + e.name.len <= d + count);
                    assert_true(++guard <= 300);
                }
                assert_true(r == 0 || r == -KEPROTO);
            }
        }
    } else if (type == P9_RWALK) {
        uint16_t asked = (uint16_t)(rng() % 17), n = 0xffff;
        struct p9_qid qids[16];
        rc = p9_dec_rwalk(m, len, tag, asked, &n, qids);
        if (rc == 0) assert_true(n <= asked);
    } else {
        rc = decode_as(type, m, len, tag);
    }
    assert_true(rc == 0 || rc == -KEPROTO || (rc >= -4095 && rc < 0));
    return rc;
}

static void test_fuzz_every_decoder(void **state) {
    (void)state;
    static const uint8_t types[] = { P9_RVERSION, P9_RATTACH, P9_RWALK, P9_RLOPEN,
                                     P9_RLCREATE, P9_RREAD, P9_RWRITE, P9_RREADDIR,
                                     P9_RGETATTR, P9_RMKDIR, P9_RSETATTR, P9_RUNLINKAT,
                                     P9_RRENAMEAT, P9_RCLUNK };
    uint8_t ga[200];
    size_t galen = make_rgetattr(ga, 9);
    const struct sample seeds[] = {
        { P9_RVERSION, rversion_ok, sizeof rversion_ok, P9_NOTAG },
        { P9_RATTACH, rattach_ok, sizeof rattach_ok, 1 },
        { P9_RWALK, rwalk_ok, sizeof rwalk_ok, 2 },
        { P9_RLOPEN, rlopen_ok, sizeof rlopen_ok, 4 },
        { P9_RLCREATE, rlcreate_ok, sizeof rlcreate_ok, 5 },
        { P9_RREAD, rread_ok, sizeof rread_ok, 6 },
        { P9_RWRITE, rwrite_ok, sizeof rwrite_ok, 7 },
        { P9_RREADDIR, rreaddir_ok, sizeof rreaddir_ok, 8 },
        { P9_RGETATTR, ga, galen, 9 },
        { P9_RMKDIR, rmkdir_ok, sizeof rmkdir_ok, 11 },
        { P9_RCLUNK, rclunk_ok, sizeof rclunk_ok, 14 },
    };
    unsigned accepted = 0, errors = 0;
    for (int it = 0; it < 100000; it++) {
        uint8_t type;
        uint16_t tag;
        size_t len;
        uint8_t *m;
        if (it & 1) {
            /* random bytes, mostly behind a plausible header so the bodies get fuzzed */
            type = types[rng() % ARRAY_SIZE(types)];
            len = (size_t)(rng() % 240);
            m = malloc(len ? len : 1); /* exact size: ASan catches any over-read */
            for (size_t i = 0; i < len; i++) m[i] = (uint8_t)rng();
            tag = type == P9_RVERSION ? P9_NOTAG : (uint16_t)(rng() % 4);
            uint64_t mode = rng() % 8;
            if (len >= 7 && mode < 6) {
                m[0] = (uint8_t)len; m[1] = (uint8_t)(len >> 8); m[2] = m[3] = 0;
                m[4] = mode < 5 ? type : P9_RLERROR;
                m[5] = (uint8_t)tag; m[6] = (uint8_t)(tag >> 8);
                if (len >= 9 && mode < 3) { m[7] = (uint8_t)(rng() % 40); m[8] = 0; }
                if (len >= 11 && mode < 2) { m[9] = 0; m[10] = 0; }
            }
        } else {
            /* a valid reply with a few bytes changed, and sometimes a new length */
            const struct sample *sd = &seeds[rng() % ARRAY_SIZE(seeds)];
            type = sd->type;
            tag = sd->tag;
            len = sd->len;
            uint64_t shape = rng() % 4;
            if (shape == 1 && len > 7) len -= 1 + rng() % (len - 7);
            if (shape == 2) len += 1 + rng() % 16;
            m = malloc(len);
            memset(m, 0, len);
            memcpy(m, sd->msg, MIN(len, sd->len));
            if (shape != 3) { m[0] = (uint8_t)len; m[1] = (uint8_t)(len >> 8); }
            unsigned flips = (unsigned)(rng() % 4);
            for (unsigned i = 0; i < flips; i++) {
                size_t at = 7 + rng() % (len > 7 ? len - 7 : 1);
                if (at < len) m[at] = (uint8_t)rng();
            }
        }
        if (fuzz_one(type, m, len, tag) == 0) accepted++; else errors++;
        free(m);
    }
    /* the fuzzer must have reached both outcomes, or it tested nothing */
    assert_true(accepted > 1000);
    assert_true(errors > 1000);
}

/* ---- planner ---- */
static void test_walk_planner_counts(void **state) {
    (void)state;
    static const struct { uint32_t n, msgs, last; } cases[] = {
        { 0, 1, 0 }, { 1, 1, 1 }, { 15, 1, 15 }, { 16, 1, 16 }, { 17, 2, 1 },
        { 32, 2, 16 }, { 33, 3, 1 }, { 100, 7, 4 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint32_t n = cases[i].n, m = p9_walk_msg_count(n);
        assert_int_equal(m, cases[i].msgs);
        uint32_t sum = 0;
        for (uint32_t k = 0; k < m; k++) {
            uint16_t names = p9_walk_msg_names(n, k);
            assert_true(names <= P9_MAXWELEM);
            if (k + 1 < m) assert_int_equal(names, 16);
            /* the SABOS bug: never an empty chunk unless the whole walk is a clone */
            if (n > 0) assert_true(names > 0);
            sum += names;
        }
        assert_int_equal(p9_walk_msg_names(n, m - 1), cases[i].last);
        assert_int_equal(p9_walk_msg_names(n, m), 0);
        assert_int_equal(sum, n);
    }
    assert_int_equal(p9_path_count(""), 0);
    assert_int_equal(p9_path_count("/"), 0);
    assert_int_equal(p9_path_count("./"), 0);
    assert_int_equal(p9_path_count("a//b/./c/"), 3);
    assert_int_equal(p9_path_count("/a/../b"), 3);
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = 0;
    assert_int_equal(p9_path_count(longname), -KENAMETOOLONG);
    longname[255] = 0;
    assert_int_equal(p9_path_count(longname), 1);
}

static void test_fid_allocator_exhaustion(void **state) {
    (void)state;
    struct p9_fids f;
    p9_fids_init(&f);
    for (uint32_t i = 0; i < P9_MAX_FIDS; i++) assert_int_equal(p9_fid_alloc(&f), (int64_t)i);
    assert_int_equal(f.live, P9_MAX_FIDS);
    assert_int_equal(p9_fid_alloc(&f), -KENFILE);
    assert_int_equal(p9_fid_free(&f, 77), 0);
    assert_int_equal(p9_fid_free(&f, 77), -KEINVAL); /* double free */
    assert_int_equal(p9_fid_free(&f, P9_MAX_FIDS), -KEINVAL);
    assert_int_equal(p9_fid_free(&f, P9_NOFID), -KEINVAL);
    assert_int_equal(f.live, P9_MAX_FIDS - 1);
    assert_int_equal(p9_fid_alloc(&f), 77);
    assert_int_equal(p9_fid_alloc(&f), -KENFILE);
    for (uint32_t i = 0; i < P9_MAX_FIDS; i++) assert_int_equal(p9_fid_free(&f, i), 0);
    assert_int_equal(f.live, 0);
}

/* ---- an in-memory 9P2000.L server for the client tests ----
 * The tree is a chain of directories d0/d1/.../d{depth-1} with one file "file" at the
 * bottom. Fids hold a level: 0..depth are directories (level k is inside d{k-1}),
 * depth + 1 is the file. The server parses requests with its own code (not the codec
 * under test), enforces what a real server enforces (fid in use, newfid free, count fits
 * msize) and counts protocol violations in `violations`. */
#define SRV_FIDS 1024
struct server {
    uint32_t depth, msize;
    uint8_t *file;
    size_t file_len, file_cap;
    struct { bool used, open; uint32_t level; } fid[SRV_FIDS];
    int live;
    int violations;
    int walks;
    struct { uint32_t fid, newfid; uint16_t nwname; } walk[128];
    int reads, writes, clunks;
    uint32_t io_counts[512];  /* count of each Tread / Twrite, in order */
    int n_io;
    /* hostility: corrupt the reply to request number `corrupt_at` (1-based) */
    int requests, corrupt_at;
    void (*corrupt)(uint8_t *resp, size_t *len);
    int fail_walk_msg;        /* 1-based Twalk number answered with ENOENT at its 2nd name */
};

static uint32_t g32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }
static void p32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void p64(uint8_t *p, uint64_t v) { p32(p, (uint32_t)v); p32(p + 4, (uint32_t)(v >> 32)); }

static size_t put_qid(uint8_t *p, struct server *s, uint32_t level) {
    p[0] = level <= s->depth ? P9_QTDIR : 0;
    p32(p + 1, 0);
    p64(p + 5, 1000 + level);
    return 13;
}

/* Begins a reply of type with the request's tag; returns the body offset. */
static size_t reply(uint8_t *r, uint8_t type, const uint8_t *req) {
    r[4] = type;
    r[5] = req[5];
    r[6] = req[6];
    return 7;
}

static size_t rlerror(uint8_t *r, const uint8_t *req, uint32_t ecode) {
    size_t p = reply(r, P9_RLERROR, req);
    p32(r + p, ecode);
    return p + 4;
}

static bool name_is(const uint8_t *p, const char *want) {
    uint16_t n = g16(p);
    return n == strlen(want) && memcmp(p + 2, want, n) == 0;
}

/* The level reached by walking one name from level, or -1. */
static int walk_one(struct server *s, uint32_t level, const uint8_t *name) {
    char want[16];
    if (level > s->depth) return -1; /* a file has no children */
    if (name_is(name, "..")) return level ? (int)level - 1 : 0;
    if (level < s->depth) {
        snprintf(want, sizeof want, "d%u", level);
        return name_is(name, want) ? (int)level + 1 : -1;
    }
    return name_is(name, "file") ? (int)s->depth + 1 : -1;
}

static void srv_free_fid(struct server *s, uint32_t fid) {
    s->fid[fid].used = s->fid[fid].open = false;
    s->live--;
}

static size_t srv_handle(struct server *s, const uint8_t *q, size_t qlen, uint8_t *r) {
    if (qlen < 7 || g32(q) != qlen || qlen > s->msize) { s->violations++; return rlerror(r, q, KEINVAL); }
    uint8_t type = q[4];
    const uint8_t *b = q + 7;
    size_t p;
    uint32_t fid = (qlen >= 11) ? g32(b) : 0;
    bool fid_ok = fid < SRV_FIDS && s->fid[fid].used;
    switch (type) {
    case P9_TVERSION: {
        uint32_t want = g32(b);
        if (g16(q + 5) != P9_NOTAG) s->violations++;
        if (want < s->msize) s->msize = want;
        p = reply(r, P9_RVERSION, q);
        p32(r + p, s->msize); p += 4;
        r[p++] = 8; r[p++] = 0;
        memcpy(r + p, "9P2000.L", 8);
        return p + 8;
    }
    case P9_TATTACH:
        if (fid >= SRV_FIDS || s->fid[fid].used) { s->violations++; return rlerror(r, q, KEINVAL); }
        s->fid[fid].used = true; s->fid[fid].level = 0; s->live++;
        p = reply(r, P9_RATTACH, q);
        return p + put_qid(r + p, s, 0);
    case P9_TWALK: {
        uint32_t newfid = g32(b + 4);
        uint16_t n = g16(b + 8);
        if (s->walks < 128) {
            s->walk[s->walks].fid = fid; s->walk[s->walks].newfid = newfid;
            s->walk[s->walks].nwname = n;
        }
        s->walks++;
        if (!fid_ok || n > 16 || newfid >= SRV_FIDS || s->fid[fid].open ||
            (newfid != fid && s->fid[newfid].used)) {
            s->violations++;
            return rlerror(r, q, KEINVAL);
        }
        uint32_t level = s->fid[fid].level;
        const uint8_t *nm = b + 10;
        uint16_t ok = 0;
        uint8_t qids[16 * 13];
        for (; ok < n; ok++) {
            int next = (s->fail_walk_msg == s->walks && ok == 1) ? -1 : walk_one(s, level, nm);
            if (next < 0) break;
            level = (uint32_t)next;
            put_qid(qids + ok * 13, s, level);
            nm += 2 + g16(nm);
        }
        if (n && ok == 0) return rlerror(r, q, KENOENT);
        if (ok == n) {
            if (!s->fid[newfid].used) s->live++;
            s->fid[newfid].used = true;
            s->fid[newfid].level = level;
        }
        p = reply(r, P9_RWALK, q);
        r[p++] = (uint8_t)ok; r[p++] = 0;
        memcpy(r + p, qids, ok * 13u);
        return p + ok * 13u;
    }
    case P9_TLOPEN:
    case P9_TLCREATE:
        if (!fid_ok || s->fid[fid].open) { s->violations++; return rlerror(r, q, KEBADF); }
        if (type == P9_TLCREATE) {
            if (s->fid[fid].level != s->depth || !name_is(b + 4, "file")) return rlerror(r, q, KEACCES);
            s->fid[fid].level = s->depth + 1;
            s->file_len = 0;
        }
        s->fid[fid].open = true;
        p = reply(r, type + 1, q);
        p += put_qid(r + p, s, s->fid[fid].level);
        p32(r + p, 0);
        return p + 4;
    case P9_TREAD:
    case P9_TWRITE: {
        uint64_t off = g64(b + 4);
        uint32_t count = g32(b + 12);
        if (s->n_io < 512) s->io_counts[s->n_io] = count;
        s->n_io++;
        if (count > s->msize - P9_IOHDRSZ) s->violations++;
        if (!fid_ok || !s->fid[fid].open) { s->violations++; return rlerror(r, q, KEBADF); }
        if (s->fid[fid].level <= s->depth) return rlerror(r, q, KEISDIR);
        if (type == P9_TREAD) {
            s->reads++;
            uint32_t n = off >= s->file_len ? 0 : (uint32_t)MIN((uint64_t)count, s->file_len - off);
            p = reply(r, P9_RREAD, q);
            p32(r + p, n); p += 4;
            memcpy(r + p, s->file + off, n);
            return p + n;
        }
        s->writes++;
        if (qlen != 23 + (size_t)count) { s->violations++; return rlerror(r, q, KEINVAL); }
        if (off + count > s->file_cap) return rlerror(r, q, KENOSPC);
        memcpy(s->file + off, b + 16, count);
        if (off + count > s->file_len) s->file_len = off + count;
        p = reply(r, P9_RWRITE, q);
        p32(r + p, count);
        return p + 4;
    }
    case P9_TREADDIR: {
        if (!fid_ok || !s->fid[fid].open || s->fid[fid].level > s->depth) return rlerror(r, q, KENOTDIR);
        uint64_t off = g64(b + 4);
        uint32_t level = s->fid[fid].level;
        p = reply(r, P9_RREADDIR, q);
        size_t cnt_at = p;
        p += 4;
        uint32_t n = 0;
        if (off == 0) {
            char name[16];
            if (level < s->depth) snprintf(name, sizeof name, "d%u", level);
            else strcpy(name, "file");
            size_t start = p;
            p += put_qid(r + p, s, level + 1);
            p64(r + p, 1); p += 8;
            r[p++] = level < s->depth ? 4 : 8;
            r[p++] = (uint8_t)strlen(name); r[p++] = 0;
            memcpy(r + p, name, strlen(name)); p += strlen(name);
            n = (uint32_t)(p - start);
        }
        p32(r + cnt_at, n);
        return p;
    }
    case P9_TGETATTR:
        if (!fid_ok) { s->violations++; return rlerror(r, q, KEBADF); }
        p = reply(r, P9_RGETATTR, q);
        memset(r + p, 0, P9_GETATTR_REPLY_BODY);
        p64(r + p, P9_GETATTR_BASIC);
        put_qid(r + p + 8, s, s->fid[fid].level);
        p32(r + p + 21, s->fid[fid].level > s->depth ? 0100644 : 040755);
        p64(r + p + 49, s->fid[fid].level > s->depth ? s->file_len : 4096); /* size */
        return p + P9_GETATTR_REPLY_BODY;
    case P9_TSETATTR:
        if (!fid_ok) { s->violations++; return rlerror(r, q, KEBADF); }
        if ((g32(b + 4) & P9_SETATTR_SIZE) && g64(b + 20) <= s->file_len) s->file_len = g64(b + 20);
        return reply(r, P9_RSETATTR, q);
    case P9_TMKDIR:
        if (!fid_ok) { s->violations++; return rlerror(r, q, KEBADF); }
        p = reply(r, P9_RMKDIR, q);
        return p + put_qid(r + p, s, 0);
    case P9_TUNLINKAT:
    case P9_TRENAMEAT:
        if (!fid_ok) { s->violations++; return rlerror(r, q, KEBADF); }
        return reply(r, type + 1, q);
    case P9_TCLUNK:
        s->clunks++;
        if (!fid_ok) { s->violations++; return rlerror(r, q, KEBADF); }
        srv_free_fid(s, fid);
        return reply(r, P9_RCLUNK, q);
    default:
        s->violations++;
        return rlerror(r, q, KENOSYS);
    }
}

/* The p9_rpc_fn the client calls: the server answers every request at once. */
static int srv_rpc(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                   size_t resp_cap, size_t *resp_len) {
    struct server *s = ctx;
    static uint8_t r[70000];
    s->requests++;
    size_t n = srv_handle(s, req, req_len, r);
    p32(r, (uint32_t)n);
    if (s->corrupt && s->requests == s->corrupt_at) s->corrupt(r, &n);
    if (n > resp_cap) return -KEMSGSIZE;
    memcpy(resp, r, n);
    *resp_len = n;
    return 0;
}

struct rig {
    struct server srv;
    struct p9_client c;
    uint8_t tx[65536], rx[65536];
};

static struct rig *rig_new(uint32_t depth, uint32_t client_msize, uint32_t server_msize,
                           size_t file_cap) {
    struct rig *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->srv.depth = depth;
    g->srv.msize = server_msize;
    g->srv.file_cap = file_cap;
    g->srv.file = calloc(1, file_cap ? file_cap : 1);
    p9_client_init(&g->c, srv_rpc, &g->srv, g->tx, g->rx, client_msize);
    assert_int_equal(p9_client_version(&g->c), 0);
    assert_int_equal(g->c.msize, MIN(client_msize, server_msize));
    assert_int_equal(p9_client_attach(&g->c, "root", "", 0), 0);
    assert_int_equal(g->c.fids.live, 1);
    assert_int_equal(g->srv.live, 1);
    return g;
}

static void rig_free(struct rig *g) {
    free(g->srv.file);
    free(g);
}

/* "d0/d1/.../d{depth-1}/file" */
static char *deep_path(uint32_t depth) {
    char *path = malloc(depth * 6 + 8);
    size_t p = 0;
    for (uint32_t i = 0; i < depth; i++) p += (size_t)sprintf(path + p, "d%u/", i);
    strcpy(path + p, "file");
    return path;
}

static void fill_pattern(uint8_t *b, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i * 131 + seed + (i >> 8)) & 0xff);
}

/* Walk to the file at the bottom of a tree (components = depth + 1 names), open it and
 * read it back: the test the original SABOS lacked. */
static void read_file_at_components(uint32_t components) {
    struct rig *g = rig_new(components - 1, 8192, 8192, 4096);
    g->srv.file_len = 1000;
    fill_pattern(g->srv.file, 1000, components);
    char *path = deep_path(components - 1);
    assert_int_equal(p9_path_count(path), (int)components);
    uint32_t fid;
    struct p9_qid qid;
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, path, &fid, &qid), 0);
    /* exactly ceil(n/16) Twalks: the first from the root, the rest newfid -> newfid */
    assert_int_equal(g->srv.walks, (int)((components + 15) / 16));
    for (int i = 0; i < g->srv.walks; i++) {
        assert_int_equal(g->srv.walk[i].fid, i == 0 ? g->c.root_fid : fid);
        assert_int_equal(g->srv.walk[i].newfid, fid);
        assert_int_equal(g->srv.walk[i].nwname, p9_walk_msg_names(components, (uint32_t)i));
        assert_true(g->srv.walk[i].nwname > 0);
    }
    assert_int_equal(qid.type, 0); /* the file, not a directory */
    uint32_t iounit;
    assert_int_equal(p9_client_lopen(&g->c, fid, P9_O_RDONLY, NULL, &iounit), 0);
    uint8_t buf[1000], want[1000];
    fill_pattern(want, 1000, components);
    assert_int_equal(p9_client_read(&g->c, fid, iounit, 0, buf, sizeof buf), 1000);
    assert_memory_equal(buf, want, 1000);
    assert_int_equal(p9_client_clunk(&g->c, fid), 0);
    assert_int_equal(g->c.fids.live, 1);
    assert_int_equal(g->srv.live, 1);
    assert_int_equal(g->srv.violations, 0);
    free(path);
    rig_free(g);
}

static void test_read_file_at_depth(void **state) {
    (void)state;
    static const uint32_t components[] = { 1, 6, 15, 16, 17, 32, 33, 100 };
    for (size_t i = 0; i < ARRAY_SIZE(components); i++) read_file_at_components(components[i]);
}

static void test_empty_walk_clones(void **state) {
    (void)state;
    struct rig *g = rig_new(3, 8192, 8192, 16);
    uint32_t a, b;
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "d0/d1", &a, NULL), 0);
    assert_int_equal(p9_client_walk(&g->c, a, "", &b, NULL), 0);
    assert_int_equal(g->srv.walks, 2);
    assert_int_equal(g->srv.walk[1].fid, a);
    assert_int_equal(g->srv.walk[1].newfid, b);
    assert_int_equal(g->srv.walk[1].nwname, 0);
    assert_true(a != b);
    assert_int_equal(g->srv.fid[b].level, 2); /* the clone stands where a stands */
    /* "." and "//" are no names at all: also a clone */
    uint32_t c;
    assert_int_equal(p9_client_walk(&g->c, b, "./", &c, NULL), 0);
    assert_int_equal(g->srv.walk[2].nwname, 0);
    assert_int_equal(p9_client_clunk(&g->c, a), 0);
    assert_int_equal(p9_client_clunk(&g->c, b), 0);
    assert_int_equal(p9_client_clunk(&g->c, c), 0);
    assert_int_equal(p9_client_clunk(&g->c, c), -KEBADF); /* twice */
    assert_int_equal(g->c.fids.live, 1);
    assert_int_equal(g->srv.live, 1);
    assert_int_equal(g->srv.violations, 0);
    rig_free(g);
}

static void test_failed_walks_leak_no_fid(void **state) {
    (void)state;
    struct rig *g = rig_new(40, 8192, 8192, 16);
    uint32_t fid = 12345;
    /* first name missing: Rlerror, newfid never existed */
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "nope/d1", &fid, NULL), -KENOENT);
    /* a name missing inside the first message: partial Rwalk, newfid not created */
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "d0/zz/d2", &fid, NULL), -KENOENT);
    /* a name missing in the third message: the walked newfid is clunked on the server */
    char *path = deep_path(40);
    path[strlen(path) - 1] = 'X'; /* "filX" */
    int clunks = g->srv.clunks;
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, path, &fid, NULL), -KENOENT);
    assert_int_equal(g->srv.clunks, clunks + 1);
    /* the server fails the second message at its second name */
    g->srv.fail_walk_msg = g->srv.walks + 2;
    path[strlen(path) - 1] = 'e';
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, path, &fid, NULL), -KENOENT);
    assert_int_equal(fid, 12345); /* untouched on failure */
    assert_int_equal(g->c.fids.live, 1);
    assert_int_equal(g->srv.live, 1);
    assert_int_equal(g->srv.violations, 0);
    free(path);
    rig_free(g);
}

/* hostile replies reaching the client */
static void corrupt_nwqid_17(uint8_t *r, size_t *len) {
    if (r[4] == P9_RWALK) r[7] = 17;
    (void)len;
}
static void corrupt_count_plus_one(uint8_t *r, size_t *len) {
    if (r[4] == P9_RREAD) p32(r + 7, g32(r + 7) + 1);
    (void)len;
}
static void corrupt_tag(uint8_t *r, size_t *len) { r[5] ^= 0x40; (void)len; }
static void corrupt_truncate(uint8_t *r, size_t *len) { if (*len > 8) *len -= 1; (void)r; }
static void corrupt_big_msize(uint8_t *r, size_t *len) { p32(r + 7, 1u << 20); (void)len; }
static void corrupt_version_string(uint8_t *r, size_t *len) { r[13] = 'X'; (void)len; }

static void test_client_rejects_hostile_replies(void **state) {
    (void)state;
    struct rig *g = rig_new(20, 8192, 8192, 64);
    char *path = deep_path(20); /* 21 names: two Twalks */
    uint32_t fid = 999;
    void (*walk_faults[])(uint8_t *, size_t *) = { corrupt_nwqid_17, corrupt_tag, corrupt_truncate };
    for (size_t i = 0; i < ARRAY_SIZE(walk_faults); i++) {
        for (int msg = 1; msg <= 2; msg++) { /* corrupt the first, then the second Twalk */
            g->srv.corrupt = walk_faults[i];
            g->srv.corrupt_at = g->srv.requests + msg;
            assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, path, &fid, NULL), -KEPROTO);
            g->srv.corrupt = NULL;
            assert_int_equal(g->c.fids.live, 1);
            /* only a fid the server never confirmed may linger there: a real client
             * would reset the session after a protocol error */
            assert_true(g->srv.live <= 2);
            if (g->srv.live == 2)
                for (uint32_t f = 1; f < SRV_FIDS; f++)
                    if (g->srv.fid[f].used && f != g->c.root_fid) srv_free_fid(&g->srv, f);
        }
    }
    /* Rread claiming one byte more than asked */
    g->srv.file_len = 64;
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, path, &fid, NULL), 0);
    assert_int_equal(p9_client_lopen(&g->c, fid, P9_O_RDONLY, NULL, NULL), 0);
    uint8_t buf[16];
    g->srv.corrupt = corrupt_count_plus_one;
    g->srv.corrupt_at = g->srv.requests + 1;
    assert_int_equal(p9_client_read(&g->c, fid, 0, 0, buf, 16), -KEPROTO);
    g->srv.corrupt = NULL;
    assert_int_equal(p9_client_clunk(&g->c, fid), 0);
    free(path);
    rig_free(g);

    /* Rversion: a larger msize than offered, or another protocol */
    struct server s = { .msize = 8192 };
    struct p9_client c;
    static uint8_t tx[8192], rx[8192];
    p9_client_init(&c, srv_rpc, &s, tx, rx, 8192);
    s.corrupt = corrupt_big_msize;
    s.corrupt_at = 1;
    assert_int_equal(p9_client_version(&c), -KEPROTO);
    s.corrupt = corrupt_version_string;
    s.corrupt_at = 2;
    assert_int_equal(p9_client_version(&c), -KENOSYS);
    assert_int_equal(p9_client_attach(&c, "root", "", 0), -KEINVAL); /* not versioned */
    s.corrupt = NULL;
    assert_int_equal(p9_client_version(&c), 0);
    assert_int_equal(p9_client_attach(&c, "root", "", 0), 0);
}

static void test_read_write_chunked_by_msize(void **state) {
    (void)state;
    const size_t size = MiB(1) + 1;
    struct rig *g = rig_new(2, 8192, 8192, size);
    uint8_t *data = malloc(size), *back = malloc(size);
    fill_pattern(data, size, 7);
    uint32_t fid;
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "d0/d1", &fid, NULL), 0);
    assert_int_equal(p9_client_lcreate(&g->c, fid, "file", P9_O_CREAT | P9_O_RDWR, 0644, 0,
                                       NULL, NULL), 0);
    /* 1 MiB + 1 with msize 8192: chunks of 8192 - 24 = 8168: 128 full and one of 3073 */
    assert_int_equal(p9_io_chunk(&g->c, 0), 8168);
    assert_int_equal(p9_client_write(&g->c, fid, 0, 0, data, size), (int64_t)size);
    assert_int_equal(g->srv.writes, 129);
    for (int i = 0; i < 128; i++) assert_int_equal(g->srv.io_counts[i], 8168);
    assert_int_equal(g->srv.io_counts[128], 3073);
    assert_int_equal(g->srv.file_len, size);
    assert_memory_equal(g->srv.file, data, size);

    g->srv.n_io = 0;
    assert_int_equal(p9_client_read(&g->c, fid, 0, 0, back, size), (int64_t)size);
    assert_int_equal(g->srv.reads, 129);
    for (int i = 0; i < 128; i++) assert_int_equal(g->srv.io_counts[i], 8168);
    assert_int_equal(g->srv.io_counts[128], 3073);
    assert_memory_equal(back, data, size);

    /* reading past the end stops at the first short reply, without an extra request */
    g->srv.reads = 0;
    g->srv.n_io = 0;
    assert_int_equal(p9_client_read(&g->c, fid, 0, size - 10, back, 100000), 10);
    assert_int_equal(g->srv.reads, 1);
    assert_int_equal(p9_client_read(&g->c, fid, 0, size + 5, back, 10), 0);
    /* an iounit smaller than msize limits the chunk */
    g->srv.reads = 0;
    g->srv.n_io = 0;
    assert_int_equal(p9_client_read(&g->c, fid, 4096, 0, back, 10000), 10000);
    assert_int_equal(g->srv.reads, 3);
    assert_int_equal(g->srv.io_counts[0], 4096);
    assert_int_equal(g->srv.io_counts[2], 10000 - 8192);
    assert_int_equal(p9_client_clunk(&g->c, fid), 0);
    assert_int_equal(g->srv.violations, 0);
    free(data);
    free(back);
    rig_free(g);

    /* a server that lowers msize: the client chunks by the negotiated value */
    g = rig_new(0, 65536, 4096, 20000);
    assert_int_equal(g->c.msize, 4096);
    assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "file", &fid, NULL), 0);
    assert_int_equal(p9_client_lopen(&g->c, fid, P9_O_RDWR, NULL, NULL), 0);
    uint8_t small[20000];
    fill_pattern(small, sizeof small, 3);
    assert_int_equal(p9_client_write(&g->c, fid, 0, 0, small, sizeof small), 20000);
    assert_int_equal(g->srv.writes, 5); /* 4072 * 4 = 16288, then 3712 */
    assert_int_equal(g->srv.io_counts[4], 20000 - 4 * 4072);
    assert_int_equal(p9_client_clunk(&g->c, fid), 0);
    assert_int_equal(g->srv.violations, 0);
    rig_free(g);
}

/* A scripted session of walks, opens, readdirs, getattrs, namespace operations and clunks:
 * afterwards the client's fid count and the server's live fids are back to the root. */
static void test_scripted_session_leaks_no_fids(void **state) {
    (void)state;
    struct rig *g = rig_new(17, 8192, 8192, 4096);
    g->srv.file_len = 11;
    memcpy(g->srv.file, "hello world", 11);
    char *path = deep_path(17);
    for (int round = 0; round < 50; round++) {
        uint32_t dir, file, clone;
        assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "d0/d1/d2", &dir, NULL), 0);
        assert_int_equal(p9_client_lopen(&g->c, dir, P9_O_RDONLY | P9_O_DIRECTORY, NULL, NULL), 0);
        const uint8_t *d;
        uint32_t dlen;
        assert_int_equal(p9_client_readdir(&g->c, dir, 0, 0, &d, &dlen), 0);
        size_t pos = 0;
        struct p9_dirent e;
        assert_int_equal(p9_dirent_next(d, dlen, &pos, &e), 1);
        assert_int_equal(e.name.len, 2);
        assert_memory_equal(e.name.s, "d3", 2);
        assert_int_equal(p9_dirent_next(d, dlen, &pos, &e), 0);
        assert_int_equal(p9_client_readdir(&g->c, dir, e.offset, 0, &d, &dlen), 0);
        assert_int_equal(dlen, 0);
        assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, path, &file, NULL), 0);
        struct p9_attr a;
        assert_int_equal(p9_client_getattr(&g->c, file, P9_GETATTR_BASIC, &a), 0);
        assert_true(a.size == 11);
        assert_int_equal(a.mode, 0100644);
        assert_int_equal(p9_client_walk(&g->c, file, "", &clone, NULL), 0);
        assert_int_equal(p9_client_lopen(&g->c, clone, P9_O_RDONLY, NULL, NULL), 0);
        char buf[32];
        assert_int_equal(p9_client_read(&g->c, clone, 0, 6, buf, 32), 5);
        assert_memory_equal(buf, "world", 5);
        assert_int_equal(p9_client_mkdir(&g->c, dir, "new", 0755, 0, NULL), 0);
        assert_int_equal(p9_client_renameat(&g->c, dir, "new", dir, "newer"), 0);
        assert_int_equal(p9_client_unlinkat(&g->c, dir, "newer", P9_AT_REMOVEDIR), 0);
        struct p9_setattr sa = { .valid = P9_SETATTR_MODE, .mode = 0600 };
        assert_int_equal(p9_client_setattr(&g->c, file, &sa), 0);
        /* names that are not one component are refused before anything is sent */
        int before = g->srv.requests;
        assert_int_equal(p9_client_mkdir(&g->c, dir, "a/b", 0755, 0, NULL), -KEINVAL);
        assert_int_equal(p9_client_unlinkat(&g->c, dir, "..", 0), -KEINVAL);
        assert_int_equal(p9_client_renameat(&g->c, dir, "", dir, "x"), -KEINVAL);
        assert_int_equal(g->srv.requests, before);
        /* a failed walk in the middle */
        uint32_t junk;
        assert_int_equal(p9_client_walk(&g->c, g->c.root_fid, "d0/d1/none", &junk, NULL), -KENOENT);
        assert_int_equal(g->c.fids.live, 4);
        assert_int_equal(p9_client_clunk(&g->c, clone), 0);
        assert_int_equal(p9_client_clunk(&g->c, file), 0);
        assert_int_equal(p9_client_clunk(&g->c, dir), 0);
        assert_int_equal(g->c.fids.live, 1);
        assert_int_equal(g->srv.live, 1);
    }
    /* exhaustion: walks fail cleanly with ENFILE once every fid is taken */
    uint32_t fids[P9_MAX_FIDS], n = 0, f;
    int rc;
    while ((rc = p9_client_walk(&g->c, g->c.root_fid, "d0", &f, NULL)) == 0) fids[n++] = f;
    assert_int_equal(rc, -KENFILE);
    assert_int_equal(n, P9_MAX_FIDS - 1);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(p9_client_clunk(&g->c, fids[i]), 0);
    assert_int_equal(g->c.fids.live, 1);
    assert_int_equal(g->srv.live, 1);
    assert_int_equal(g->srv.violations, 0);
    free(path);
    rig_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_version_attach_walk),
        cmocka_unit_test(test_encode_open_create_read_write),
        cmocka_unit_test(test_encode_attr_and_namespace_ops),
        cmocka_unit_test(test_decode_valid_replies),
        cmocka_unit_test(test_hostile_truncated_resized_retagged),
        cmocka_unit_test(test_hostile_counts_and_strings),
        cmocka_unit_test(test_fuzz_every_decoder),
        cmocka_unit_test(test_walk_planner_counts),
        cmocka_unit_test(test_fid_allocator_exhaustion),
        cmocka_unit_test(test_read_file_at_depth),
        cmocka_unit_test(test_empty_walk_clones),
        cmocka_unit_test(test_failed_walks_leak_no_fid),
        cmocka_unit_test(test_client_rejects_hostile_replies),
        cmocka_unit_test(test_read_write_chunked_by_msize),
        cmocka_unit_test(test_scripted_session_leaks_no_fids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
