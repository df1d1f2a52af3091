/* p9_proto.c: the 9P2000.L message codec (encoders for T-messages, validating decoders for
 * R-messages), the fid bitmap allocator and the path-walk planner.
 *
 * Follows the 9P2000.L protocol as used by Linux v9fs and QEMU virtio-9p (message layouts
 * are listed in p9.h): little-endian size[4] type[1] tag[2] framing, strings as len[2]
 * bytes, qids of 13 bytes, Twalk with at most MAXWELEM = 16 names.
 * Pure code: no allocation, no hardware, built on the host by tests/host/test_p9.c. */
#include "p9.h"
#include "kerrno.h"
#include "kstring.h"

/* ---- writing: a cursor that records overflow instead of writing past cap ---- */
struct p9_wr {
    uint8_t *buf;
    size_t cap, pos;
    bool overflow;
};

static void wr_bytes(struct p9_wr *w, const void *src, size_t n) {
    if (w->overflow || n > w->cap - w->pos) {
        w->overflow = true;
        return;
    }
    if (n) memcpy(w->buf + w->pos, src, n);
    w->pos += n;
}

static void wr_le(struct p9_wr *w, uint64_t v, unsigned bytes) {
    uint8_t tmp[8];
    for (unsigned i = 0; i < bytes; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    wr_bytes(w, tmp, bytes);
}
static void wr_u8(struct p9_wr *w, uint8_t v) { wr_le(w, v, 1); }
static void wr_u16(struct p9_wr *w, uint16_t v) { wr_le(w, v, 2); }
static void wr_u32(struct p9_wr *w, uint32_t v) { wr_le(w, v, 4); }
static void wr_u64(struct p9_wr *w, uint64_t v) { wr_le(w, v, 8); }
static void wr_str(struct p9_wr *w, struct p9_str s) {
    wr_u16(w, s.len);
    wr_bytes(w, s.s, s.len);
}

/* Starts a message: leaves room for size, writes type and tag. */
static void wr_begin(struct p9_wr *w, uint8_t *buf, size_t cap, uint8_t type, uint16_t tag) {
    w->buf = buf;
    w->cap = cap;
    w->pos = 0;
    w->overflow = (buf == NULL);
    wr_u32(w, 0);
    wr_u8(w, type);
    wr_u16(w, tag);
}

/* Finishes a message: patches size, returns the length or -KEMSGSIZE. */
static int wr_end(struct p9_wr *w) {
    if (w->overflow || w->pos > 0x7fffffffu) return -KEMSGSIZE;
    uint32_t size = (uint32_t)w->pos;
    for (unsigned i = 0; i < 4; i++) w->buf[i] = (uint8_t)(size >> (8 * i));
    return (int)size;
}

/* A C string as a p9_str; false if longer than a 9P string can be. */
static bool cstr(const char *s, struct p9_str *out) {
    if (!s) s = "";
    size_t n = strnlen(s, 0x10000);
    if (n > 0xffff) return false;
    out->s = s;
    out->len = (uint16_t)n;
    return true;
}

int p9_enc_tversion(uint8_t *buf, size_t cap, uint32_t msize, const char *version) {
    struct p9_wr w;
    struct p9_str v;
    if (!cstr(version, &v)) return -KEINVAL;
    wr_begin(&w, buf, cap, P9_TVERSION, P9_NOTAG);
    wr_u32(&w, msize);
    wr_str(&w, v);
    return wr_end(&w);
}

int p9_enc_tattach(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint32_t afid,
                   const char *uname, const char *aname, uint32_t n_uname) {
    struct p9_wr w;
    struct p9_str u, a;
    if (!cstr(uname, &u) || !cstr(aname, &a)) return -KEINVAL;
    wr_begin(&w, buf, cap, P9_TATTACH, tag);
    wr_u32(&w, fid);
    wr_u32(&w, afid);
    wr_str(&w, u);
    wr_str(&w, a);
    wr_u32(&w, n_uname);
    return wr_end(&w);
}

int p9_enc_twalk(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint32_t newfid,
                 uint16_t nwname, const struct p9_str *names) {
    struct p9_wr w;
    if (nwname > P9_MAXWELEM || (nwname && !names)) return -KEINVAL;
    wr_begin(&w, buf, cap, P9_TWALK, tag);
    wr_u32(&w, fid);
    wr_u32(&w, newfid);
    wr_u16(&w, nwname);
    for (uint16_t i = 0; i < nwname; i++) wr_str(&w, names[i]);
    return wr_end(&w);
}

int p9_enc_tlopen(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint32_t flags) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TLOPEN, tag);
    wr_u32(&w, fid);
    wr_u32(&w, flags);
    return wr_end(&w);
}

int p9_enc_tlcreate(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, struct p9_str name,
                    uint32_t flags, uint32_t mode, uint32_t gid) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TLCREATE, tag);
    wr_u32(&w, fid);
    wr_str(&w, name);
    wr_u32(&w, flags);
    wr_u32(&w, mode);
    wr_u32(&w, gid);
    return wr_end(&w);
}

/* Tread and Treaddir share a layout. */
static int enc_fid_off_count(uint8_t *buf, size_t cap, uint8_t type, uint16_t tag,
                             uint32_t fid, uint64_t offset, uint32_t count) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, type, tag);
    wr_u32(&w, fid);
    wr_u64(&w, offset);
    wr_u32(&w, count);
    return wr_end(&w);
}

int p9_enc_tread(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t offset,
                 uint32_t count) {
    return enc_fid_off_count(buf, cap, P9_TREAD, tag, fid, offset, count);
}

int p9_enc_treaddir(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t offset,
                    uint32_t count) {
    return enc_fid_off_count(buf, cap, P9_TREADDIR, tag, fid, offset, count);
}

int p9_enc_twrite(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t offset,
                  const void *data, uint32_t count) {
    struct p9_wr w;
    if (count && !data) return -KEINVAL;
    wr_begin(&w, buf, cap, P9_TWRITE, tag);
    wr_u32(&w, fid);
    wr_u64(&w, offset);
    wr_u32(&w, count);
    wr_bytes(&w, data, count);
    return wr_end(&w);
}

int p9_enc_tgetattr(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t mask) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TGETATTR, tag);
    wr_u32(&w, fid);
    wr_u64(&w, mask);
    return wr_end(&w);
}

int p9_enc_tsetattr(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid,
                    const struct p9_setattr *a) {
    struct p9_wr w;
    if (!a) return -KEINVAL;
    wr_begin(&w, buf, cap, P9_TSETATTR, tag);
    wr_u32(&w, fid);
    wr_u32(&w, a->valid);
    wr_u32(&w, a->mode);
    wr_u32(&w, a->uid);
    wr_u32(&w, a->gid);
    wr_u64(&w, a->size);
    wr_u64(&w, a->atime_sec);
    wr_u64(&w, a->atime_nsec);
    wr_u64(&w, a->mtime_sec);
    wr_u64(&w, a->mtime_nsec);
    return wr_end(&w);
}

int p9_enc_tmkdir(uint8_t *buf, size_t cap, uint16_t tag, uint32_t dfid, struct p9_str name,
                  uint32_t mode, uint32_t gid) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TMKDIR, tag);
    wr_u32(&w, dfid);
    wr_str(&w, name);
    wr_u32(&w, mode);
    wr_u32(&w, gid);
    return wr_end(&w);
}

int p9_enc_tunlinkat(uint8_t *buf, size_t cap, uint16_t tag, uint32_t dirfid,
                     struct p9_str name, uint32_t flags) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TUNLINKAT, tag);
    wr_u32(&w, dirfid);
    wr_str(&w, name);
    wr_u32(&w, flags);
    return wr_end(&w);
}

int p9_enc_trenameat(uint8_t *buf, size_t cap, uint16_t tag, uint32_t olddirfid,
                     struct p9_str oldname, uint32_t newdirfid, struct p9_str newname) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TRENAMEAT, tag);
    wr_u32(&w, olddirfid);
    wr_str(&w, oldname);
    wr_u32(&w, newdirfid);
    wr_str(&w, newname);
    return wr_end(&w);
}

int p9_enc_tclunk(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid) {
    struct p9_wr w;
    wr_begin(&w, buf, cap, P9_TCLUNK, tag);
    wr_u32(&w, fid);
    return wr_end(&w);
}

/* ---- reading: a cursor that fails instead of reading past len ---- */
struct p9_rd {
    const uint8_t *buf;
    size_t len, pos;
    bool bad;
};

static uint64_t rd_le(struct p9_rd *r, unsigned bytes) {
    if (r->bad || bytes > r->len - r->pos) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)r->buf[r->pos + i] << (8 * i);
    r->pos += bytes;
    return v;
}
static uint8_t rd_u8(struct p9_rd *r) { return (uint8_t)rd_le(r, 1); }
static uint16_t rd_u16(struct p9_rd *r) { return (uint16_t)rd_le(r, 2); }
static uint32_t rd_u32(struct p9_rd *r) { return (uint32_t)rd_le(r, 4); }
static uint64_t rd_u64(struct p9_rd *r) { return rd_le(r, 8); }

/* Returns a pointer to n bytes in the buffer, or NULL (and marks bad). */
static const uint8_t *rd_bytes(struct p9_rd *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static void rd_str(struct p9_rd *r, struct p9_str *s) {
    uint16_t n = rd_u16(r);
    const uint8_t *p = rd_bytes(r, n);
    s->s = (const char *)p;
    s->len = p ? n : 0;
}

static void rd_qid(struct p9_rd *r, struct p9_qid *q) {
    q->type = rd_u8(r);
    q->version = rd_u32(r);
    q->path = rd_u64(r);
}

/* The body must have been consumed exactly. */
static int rd_finish(struct p9_rd *r) {
    return (r->bad || r->pos != r->len) ? -KEPROTO : 0;
}

int p9_dec_header(const uint8_t *msg, size_t len, uint8_t *type, uint16_t *tag) {
    if (!msg || len < P9_HDR_SIZE) return -KEPROTO;
    uint32_t size = (uint32_t)msg[0] | (uint32_t)msg[1] << 8 | (uint32_t)msg[2] << 16 |
                    (uint32_t)msg[3] << 24;
    if (size != len) return -KEPROTO;
    *type = msg[4];
    *tag = (uint16_t)(msg[5] | msg[6] << 8);
    return 0;
}

/* Checks the header of a reply to a request of (type - 1) with tag, and starts reading
 * the body. An Rlerror becomes -ecode (only values a Linux errno can have, 1..4095). */
static int rd_reply(struct p9_rd *r, const uint8_t *msg, size_t len, uint16_t tag,
                    uint8_t want_type) {
    uint8_t type;
    uint16_t got_tag;
    int rc = p9_dec_header(msg, len, &type, &got_tag);
    if (rc) return rc;
    if (got_tag != tag) return -KEPROTO;
    r->buf = msg;
    r->len = len;
    r->pos = P9_HDR_SIZE;
    r->bad = false;
    if (type == P9_RLERROR) {
        uint32_t ecode = rd_u32(r);
        if (rd_finish(r) || ecode == 0 || ecode > 4095) return -KEPROTO;
        return -(int)ecode;
    }
    return type == want_type ? 0 : -KEPROTO;
}

int p9_dec_rversion(const uint8_t *msg, size_t len, uint32_t *msize, struct p9_str *version) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, P9_NOTAG, P9_RVERSION);
    if (rc) return rc;
    *msize = rd_u32(&r);
    rd_str(&r, version);
    return rd_finish(&r);
}

/* Replies whose body is exactly one qid (Rattach, Rmkdir). */
static int dec_qid_reply(const uint8_t *msg, size_t len, uint16_t tag, uint8_t type,
                         struct p9_qid *qid) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, tag, type);
    if (rc) return rc;
    rd_qid(&r, qid);
    return rd_finish(&r);
}

int p9_dec_rattach(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid) {
    return dec_qid_reply(msg, len, tag, P9_RATTACH, qid);
}

int p9_dec_rmkdir(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid) {
    return dec_qid_reply(msg, len, tag, P9_RMKDIR, qid);
}

int p9_dec_rwalk(const uint8_t *msg, size_t len, uint16_t tag, uint16_t nwname,
                 uint16_t *nwqid, struct p9_qid *qids) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, tag, P9_RWALK);
    if (rc) return rc;
    uint16_t n = rd_u16(&r);
    if (r.bad || n > nwname || n > P9_MAXWELEM) return -KEPROTO;
    if ((size_t)n * P9_QID_SIZE != r.len - r.pos) return -KEPROTO;
    for (uint16_t i = 0; i < n; i++) rd_qid(&r, &qids[i]);
    rc = rd_finish(&r);
    if (rc == 0) *nwqid = n;
    return rc;
}

/* Rlopen and Rlcreate: qid iounit[4]. */
static int dec_open_reply(const uint8_t *msg, size_t len, uint16_t tag, uint8_t type,
                          struct p9_qid *qid, uint32_t *iounit) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, tag, type);
    if (rc) return rc;
    rd_qid(&r, qid);
    *iounit = rd_u32(&r);
    return rd_finish(&r);
}

int p9_dec_rlopen(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid,
                  uint32_t *iounit) {
    return dec_open_reply(msg, len, tag, P9_RLOPEN, qid, iounit);
}

int p9_dec_rlcreate(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid,
                    uint32_t *iounit) {
    return dec_open_reply(msg, len, tag, P9_RLCREATE, qid, iounit);
}

/* Rread and Rreaddir: count[4] data[count], count <= asked and exactly the rest. */
static int dec_data_reply(const uint8_t *msg, size_t len, uint16_t tag, uint8_t type,
                          uint32_t asked, uint32_t *count, const uint8_t **data) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, tag, type);
    if (rc) return rc;
    uint32_t n = rd_u32(&r);
    if (r.bad || n > asked) return -KEPROTO;
    const uint8_t *p = rd_bytes(&r, n);
    rc = rd_finish(&r);
    if (rc) return rc;
    *count = n;
    *data = p;
    return 0;
}

int p9_dec_rread(const uint8_t *msg, size_t len, uint16_t tag, uint32_t asked,
                 uint32_t *count, const uint8_t **data) {
    return dec_data_reply(msg, len, tag, P9_RREAD, asked, count, data);
}

int p9_dec_rreaddir(const uint8_t *msg, size_t len, uint16_t tag, uint32_t asked,
                    uint32_t *count, const uint8_t **data) {
    return dec_data_reply(msg, len, tag, P9_RREADDIR, asked, count, data);
}

int p9_dec_rwrite(const uint8_t *msg, size_t len, uint16_t tag, uint32_t asked,
                  uint32_t *count) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, tag, P9_RWRITE);
    if (rc) return rc;
    uint32_t n = rd_u32(&r);
    rc = rd_finish(&r);
    if (rc) return rc;
    if (n > asked) return -KEPROTO;
    *count = n;
    return 0;
}

int p9_dirent_next(const uint8_t *data, size_t len, size_t *pos, struct p9_dirent *ent) {
    if (*pos >= len) return 0;
    struct p9_rd r = { .buf = data, .len = len, .pos = *pos, .bad = false };
    rd_qid(&r, &ent->qid);
    ent->offset = rd_u64(&r);
    ent->type = rd_u8(&r);
    rd_str(&r, &ent->name);
    if (r.bad || ent->name.len == 0) return -KEPROTO;
    for (uint16_t i = 0; i < ent->name.len; i++)
        if (ent->name.s[i] == '/' || ent->name.s[i] == '\0') return -KEPROTO;
    *pos = r.pos;
    return 1;
}

int p9_dec_rgetattr(const uint8_t *msg, size_t len, uint16_t tag, struct p9_attr *a) {
    struct p9_rd r;
    int rc = rd_reply(&r, msg, len, tag, P9_RGETATTR);
    if (rc) return rc;
    a->valid = rd_u64(&r);
    rd_qid(&r, &a->qid);
    a->mode = rd_u32(&r);
    a->uid = rd_u32(&r);
    a->gid = rd_u32(&r);
    a->nlink = rd_u64(&r);
    a->rdev = rd_u64(&r);
    a->size = rd_u64(&r);
    a->blksize = rd_u64(&r);
    a->blocks = rd_u64(&r);
    a->atime_sec = rd_u64(&r);
    a->atime_nsec = rd_u64(&r);
    a->mtime_sec = rd_u64(&r);
    a->mtime_nsec = rd_u64(&r);
    a->ctime_sec = rd_u64(&r);
    a->ctime_nsec = rd_u64(&r);
    a->btime_sec = rd_u64(&r);
    a->btime_nsec = rd_u64(&r);
    a->gen = rd_u64(&r);
    a->data_version = rd_u64(&r);
    return rd_finish(&r);
}

int p9_dec_rempty(const uint8_t *msg, size_t len, uint16_t tag, uint8_t type) {
    struct p9_rd r;
    if (type != P9_RSETATTR && type != P9_RUNLINKAT && type != P9_RRENAMEAT &&
        type != P9_RCLUNK)
        return -KEINVAL;
    int rc = rd_reply(&r, msg, len, tag, type);
    if (rc) return rc;
    return rd_finish(&r);
}

/* ---- fid allocator ---- */
void p9_fids_init(struct p9_fids *f) {
    memset(f, 0, sizeof(*f));
}

int64_t p9_fid_alloc(struct p9_fids *f) {
    for (uint32_t w = 0; w < ARRAY_SIZE(f->bits); w++) {
        if (f->bits[w] == ~0ull) continue;
        unsigned bit = (unsigned)__builtin_ctzll(~f->bits[w]);
        f->bits[w] |= 1ull << bit;
        f->live++;
        return (int64_t)(w * 64 + bit);
    }
    return -KENFILE;
}

int p9_fid_free(struct p9_fids *f, uint32_t fid) {
    if (fid >= P9_MAX_FIDS) return -KEINVAL;
    uint64_t mask = 1ull << (fid % 64);
    if (!(f->bits[fid / 64] & mask)) return -KEINVAL;
    f->bits[fid / 64] &= ~mask;
    f->live--;
    return 0;
}

/* ---- path-walk planner ---- */
uint32_t p9_walk_msg_count(uint32_t n) {
    /* The original SABOS walked one extra empty chunk after a full one; ceil() has none. */
    return n == 0 ? 1 : (n + P9_MAXWELEM - 1) / P9_MAXWELEM;
}

uint16_t p9_walk_msg_names(uint32_t n, uint32_t i) {
    if (i >= p9_walk_msg_count(n)) return 0;
    uint32_t done = i * P9_MAXWELEM;
    uint32_t left = n - done;
    return (uint16_t)(left > P9_MAXWELEM ? P9_MAXWELEM : left);
}

int p9_path_next(const char *path, size_t *pos, struct p9_str *name) {
    size_t i = *pos;
    for (;;) {
        while (path[i] == '/') i++;
        if (path[i] == '\0') {
            *pos = i;
            return 0;
        }
        size_t start = i;
        while (path[i] != '/' && path[i] != '\0') i++;
        size_t n = i - start;
        if (n == 1 && path[start] == '.') continue;
        if (n > 255) return -KENAMETOOLONG;
        name->s = path + start;
        name->len = (uint16_t)n;
        *pos = i;
        return 1;
    }
}

int p9_path_count(const char *path) {
    size_t pos = 0;
    struct p9_str name;
    int n = 0, rc;
    while ((rc = p9_path_next(path, &pos, &name)) == 1) {
        if (n == 0x7fffffff) return -KENAMETOOLONG;
        n++;
    }
    return rc < 0 ? rc : n;
}
