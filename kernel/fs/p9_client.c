/* p9_client.c: a synchronous 9P2000.L client over an abstract transport (p9_rpc_fn): version
 * negotiation, attach, multi-message walks, open/create, msize-chunked read and write,
 * readdir, getattr/setattr, mkdir, unlinkat, renameat, clunk, with fid accounting.
 *
 * Follows the 9P2000.L protocol as used by Linux v9fs and QEMU virtio-9p (see p9.h):
 * Tversion is sent with tag NOTAG and the server's msize may only be smaller than ours;
 * Twalk carries at most MAXWELEM (16) names, so a path of n names takes ceil(n/16) walks
 * (one empty walk for n = 0, which clones the fid): the first walks fid -> newfid, the rest
 * newfid -> newfid. A walk whose Rwalk returns fewer qids than names failed at that name
 * (ENOENT); per intro(5)/walk(5) newfid is then untouched by that message.
 * Requests are one at a time: the client owns one tx and one rx buffer. */
#include "p9.h"
#include "kerrno.h"
#include "kstring.h"

void p9_client_init(struct p9_client *c, p9_rpc_fn rpc, void *ctx, uint8_t *tx, uint8_t *rx,
                    uint32_t buf_size) {
    memset(c, 0, sizeof(*c));
    c->rpc = rpc;
    c->rpc_ctx = ctx;
    c->tx = tx;
    c->rx = rx;
    c->buf_size = buf_size;
    c->msize = buf_size;
    c->state = P9_CLIENT_NEW;
    c->root_fid = P9_NOFID;
    p9_fids_init(&c->fids);
}

/* A fresh tag for the next request (never NOTAG). */
static uint16_t next_tag(struct p9_client *c) {
    uint16_t t = c->next_tag;
    c->next_tag = (uint16_t)(t + 1 == P9_NOTAG ? 0 : t + 1);
    return t;
}

/* Sends the len-byte request in c->tx, receives into c->rx. */
static int transact(struct p9_client *c, int req_len, size_t *resp_len) {
    if (req_len < 0) return req_len;
    if ((uint32_t)req_len > c->msize) return -KEMSGSIZE;
    c->requests++;
    *resp_len = 0;
    int rc = c->rpc(c->rpc_ctx, c->tx, (size_t)req_len, c->rx, c->msize, resp_len);
    if (rc) return rc;
    if (*resp_len > c->msize) return -KEPROTO;
    return 0;
}

static bool ready(const struct p9_client *c) {
    return c->state == P9_CLIENT_ATTACHED;
}

int p9_client_version(struct p9_client *c) {
    size_t rlen;
    uint32_t msize;
    struct p9_str ver;
    if (c->buf_size < P9_MIN_MSIZE) return -KEINVAL;
    c->msize = c->buf_size;
    int rc = transact(c, p9_enc_tversion(c->tx, c->msize, c->buf_size, P9_VERSION_STRING),
                      &rlen);
    if (!rc) rc = p9_dec_rversion(c->rx, rlen, &msize, &ver);
    if (rc) return rc;
    /* The server may lower msize, never raise it; "unknown" means it does not speak .L. */
    if (ver.len != sizeof(P9_VERSION_STRING) - 1 ||
        memcmp(ver.s, P9_VERSION_STRING, ver.len) != 0)
        return -KENOSYS;
    if (msize > c->buf_size || msize < P9_MIN_MSIZE) return -KEPROTO;
    c->msize = msize;
    c->state = P9_CLIENT_VERSIONED;
    return 0;
}

int p9_client_attach(struct p9_client *c, const char *uname, const char *aname,
                     uint32_t n_uname) {
    size_t rlen;
    if (c->state != P9_CLIENT_VERSIONED) return -KEINVAL;
    int64_t fid = p9_fid_alloc(&c->fids);
    if (fid < 0) return (int)fid;
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_tattach(c->tx, c->msize, tag, (uint32_t)fid, P9_NOFID, uname,
                                        aname, n_uname), &rlen);
    if (!rc) rc = p9_dec_rattach(c->rx, rlen, tag, &c->root_qid);
    if (rc) {
        p9_fid_free(&c->fids, (uint32_t)fid);
        return rc;
    }
    c->root_fid = (uint32_t)fid;
    c->state = P9_CLIENT_ATTACHED;
    return 0;
}

/* Tclunk without touching the allocator. */
static int clunk_wire(struct p9_client *c, uint32_t fid) {
    size_t rlen;
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_tclunk(c->tx, c->msize, tag, fid), &rlen);
    if (!rc) rc = p9_dec_rempty(c->rx, rlen, tag, P9_RCLUNK);
    return rc;
}

int p9_client_clunk(struct p9_client *c, uint32_t fid) {
    if (p9_fid_free(&c->fids, fid) != 0) return -KEBADF;
    if (fid == c->root_fid) c->root_fid = P9_NOFID;
    return clunk_wire(c, fid);
}

int p9_client_walk(struct p9_client *c, uint32_t fid, const char *path, uint32_t *newfid,
                   struct p9_qid *qid) {
    if (!ready(c) || !path) return -KEINVAL;
    int total = p9_path_count(path);
    if (total < 0) return total;
    int64_t nf = p9_fid_alloc(&c->fids);
    if (nf < 0) return (int)nf;
    uint32_t msgs = p9_walk_msg_count((uint32_t)total);
    size_t pos = 0;
    bool created = false; /* whether the server holds newfid yet */
    int rc = 0;
    struct p9_qid last = { 0, 0, 0 };
    for (uint32_t i = 0; i < msgs; i++) {
        struct p9_str names[P9_MAXWELEM];
        struct p9_qid qids[P9_MAXWELEM];
        uint16_t want = p9_walk_msg_names((uint32_t)total, i), got = 0;
        for (uint16_t k = 0; k < want; k++)
            if (p9_path_next(path, &pos, &names[k]) != 1) {
                rc = -KEINVAL; /* cannot happen: the path was counted above */
                goto fail;
            }
        uint16_t tag = next_tag(c);
        size_t rlen;
        rc = transact(c, p9_enc_twalk(c->tx, c->msize, tag, created ? (uint32_t)nf : fid,
                                      (uint32_t)nf, want, names), &rlen);
        if (!rc) rc = p9_dec_rwalk(c->rx, rlen, tag, want, &got, qids);
        if (rc) goto fail;
        if (got < want) {
            rc = -KENOENT;
            goto fail;
        }
        if (got) last = qids[got - 1];
        created = true;
    }
    *newfid = (uint32_t)nf;
    if (qid) *qid = last;
    return 0;
fail:
    if (created) clunk_wire(c, (uint32_t)nf);
    p9_fid_free(&c->fids, (uint32_t)nf);
    return rc;
}

int p9_client_lopen(struct p9_client *c, uint32_t fid, uint32_t flags, struct p9_qid *qid,
                    uint32_t *iounit) {
    size_t rlen;
    struct p9_qid q;
    uint32_t io;
    if (!ready(c)) return -KEINVAL;
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_tlopen(c->tx, c->msize, tag, fid, flags), &rlen);
    if (!rc) rc = p9_dec_rlopen(c->rx, rlen, tag, &q, &io);
    if (rc) return rc;
    if (qid) *qid = q;
    if (iounit) *iounit = io;
    return 0;
}

int p9_client_lcreate(struct p9_client *c, uint32_t fid, const char *name, uint32_t flags,
                      uint32_t mode, uint32_t gid, struct p9_qid *qid, uint32_t *iounit) {
    size_t rlen;
    struct p9_qid q;
    uint32_t io;
    size_t n = name ? strnlen(name, 256) : 0;
    if (!ready(c) || n == 0) return -KEINVAL;
    if (n > 255) return -KENAMETOOLONG;
    struct p9_str s = { name, (uint16_t)n };
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_tlcreate(c->tx, c->msize, tag, fid, s, flags, mode, gid),
                      &rlen);
    if (!rc) rc = p9_dec_rlcreate(c->rx, rlen, tag, &q, &io);
    if (rc) return rc;
    if (qid) *qid = q;
    if (iounit) *iounit = io;
    return 0;
}

uint32_t p9_io_chunk(const struct p9_client *c, uint32_t iounit) {
    uint32_t chunk = c->msize > P9_IOHDRSZ ? c->msize - P9_IOHDRSZ : 0;
    if (iounit && iounit < chunk) chunk = iounit;
    return chunk;
}

int64_t p9_client_read(struct p9_client *c, uint32_t fid, uint32_t iounit, uint64_t offset,
                       void *buf, uint64_t len) {
    uint8_t *out = buf;
    uint64_t done = 0;
    uint32_t chunk = p9_io_chunk(c, iounit);
    if (!ready(c) || chunk == 0) return -KEINVAL;
    if (len > 0x7fffffffffffffffull - offset) return -KEINVAL;
    while (done < len) {
        uint32_t want = (uint32_t)MIN((uint64_t)chunk, len - done), got;
        const uint8_t *data;
        size_t rlen;
        uint16_t tag = next_tag(c);
        int rc = transact(c, p9_enc_tread(c->tx, c->msize, tag, fid, offset + done, want),
                          &rlen);
        if (!rc) rc = p9_dec_rread(c->rx, rlen, tag, want, &got, &data);
        if (rc) return done ? (int64_t)done : rc;
        memcpy(out + done, data, got);
        done += got;
        if (got < want) break; /* end of file */
    }
    return (int64_t)done;
}

int64_t p9_client_write(struct p9_client *c, uint32_t fid, uint32_t iounit, uint64_t offset,
                        const void *buf, uint64_t len) {
    const uint8_t *in = buf;
    uint64_t done = 0;
    uint32_t chunk = p9_io_chunk(c, iounit);
    if (!ready(c) || chunk == 0) return -KEINVAL;
    if (len > 0x7fffffffffffffffull - offset) return -KEINVAL;
    while (done < len) {
        uint32_t want = (uint32_t)MIN((uint64_t)chunk, len - done), got;
        size_t rlen;
        uint16_t tag = next_tag(c);
        int rc = transact(c, p9_enc_twrite(c->tx, c->msize, tag, fid, offset + done,
                                           in + done, want), &rlen);
        if (!rc) rc = p9_dec_rwrite(c->rx, rlen, tag, want, &got);
        if (rc) return done ? (int64_t)done : rc;
        done += got;
        if (got == 0) return done ? (int64_t)done : -KEIO; /* no progress: stop, don't spin */
    }
    return (int64_t)done;
}

int p9_client_readdir(struct p9_client *c, uint32_t fid, uint64_t offset, uint32_t count,
                      const uint8_t **data, uint32_t *data_len) {
    size_t rlen;
    if (!ready(c)) return -KEINVAL;
    uint32_t chunk = p9_io_chunk(c, 0);
    if (count == 0 || count > chunk) count = chunk;
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_treaddir(c->tx, c->msize, tag, fid, offset, count), &rlen);
    if (!rc) rc = p9_dec_rreaddir(c->rx, rlen, tag, count, data_len, data);
    return rc;
}

int p9_client_getattr(struct p9_client *c, uint32_t fid, uint64_t mask, struct p9_attr *attr) {
    size_t rlen;
    if (!ready(c)) return -KEINVAL;
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_tgetattr(c->tx, c->msize, tag, fid, mask), &rlen);
    if (!rc) rc = p9_dec_rgetattr(c->rx, rlen, tag, attr);
    return rc;
}

int p9_client_setattr(struct p9_client *c, uint32_t fid, const struct p9_setattr *attr) {
    size_t rlen;
    if (!ready(c)) return -KEINVAL;
    uint16_t tag = next_tag(c);
    int rc = transact(c, p9_enc_tsetattr(c->tx, c->msize, tag, fid, attr), &rlen);
    if (!rc) rc = p9_dec_rempty(c->rx, rlen, tag, P9_RSETATTR);
    return rc;
}

/* A single path component as a p9_str, or an error for "", ".", "..", '/' or > 255. */
static int one_name(const char *name, struct p9_str *out) {
    if (!name) return -KEINVAL;
    size_t n = strnlen(name, 256);
    if (n > 255) return -KENAMETOOLONG;
    if (n == 0 || strchr(name, '/') || (name[0] == '.' && (n == 1 || (n == 2 && name[1] == '.'))))
        return -KEINVAL;
    out->s = name;
    out->len = (uint16_t)n;
    return 0;
}

int p9_client_mkdir(struct p9_client *c, uint32_t dfid, const char *name, uint32_t mode,
                    uint32_t gid, struct p9_qid *qid) {
    size_t rlen;
    struct p9_str s;
    struct p9_qid q;
    int rc = one_name(name, &s);
    if (rc) return rc;
    if (!ready(c)) return -KEINVAL;
    uint16_t tag = next_tag(c);
    rc = transact(c, p9_enc_tmkdir(c->tx, c->msize, tag, dfid, s, mode, gid), &rlen);
    if (!rc) rc = p9_dec_rmkdir(c->rx, rlen, tag, &q);
    if (!rc && qid) *qid = q;
    return rc;
}

int p9_client_unlinkat(struct p9_client *c, uint32_t dirfid, const char *name, uint32_t flags) {
    size_t rlen;
    struct p9_str s;
    int rc = one_name(name, &s);
    if (rc) return rc;
    if (!ready(c)) return -KEINVAL;
    uint16_t tag = next_tag(c);
    rc = transact(c, p9_enc_tunlinkat(c->tx, c->msize, tag, dirfid, s, flags), &rlen);
    if (!rc) rc = p9_dec_rempty(c->rx, rlen, tag, P9_RUNLINKAT);
    return rc;
}

int p9_client_renameat(struct p9_client *c, uint32_t olddirfid, const char *oldname,
                       uint32_t newdirfid, const char *newname) {
    size_t rlen;
    struct p9_str o, n;
    int rc = one_name(oldname, &o);
    if (!rc) rc = one_name(newname, &n);
    if (rc) return rc;
    if (!ready(c)) return -KEINVAL;
    uint16_t tag = next_tag(c);
    rc = transact(c, p9_enc_trenameat(c->tx, c->msize, tag, olddirfid, o, newdirfid, n), &rlen);
    if (!rc) rc = p9_dec_rempty(c->rx, rlen, tag, P9_RRENAMEAT);
    return rc;
}
