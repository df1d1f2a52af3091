/* p9.h: the 9P2000.L protocol layer: message encoders and decoders, a fid allocator, the
 * path-walk planner and a synchronous client, independent of any transport.
 *
 * Follows the 9P2000.L protocol as implemented by Linux v9fs and QEMU's virtio-9p server
 * (the 9P2000 base protocol of Plan 9's intro(5), plus the .L message set):
 *   framing   size[4] type[1] tag[2] body, all integers little-endian, size counts itself;
 *   strings   len[2] bytes (not NUL-terminated); qid = type[1] version[4] path[8];
 *   Tversion  msize[4] version[s] (tag NOTAG)     Rversion msize[4] version[s]
 *   Tattach   fid[4] afid[4] uname[s] aname[s] n_uname[4]          Rattach qid
 *   Twalk     fid[4] newfid[4] nwname[2] wname[s]*  (nwname <= 16) Rwalk nwqid[2] qid*
 *   Tlopen    fid[4] flags[4]                       Rlopen qid iounit[4]
 *   Tlcreate  fid[4] name[s] flags[4] mode[4] gid[4] Rlcreate qid iounit[4]
 *   Tread     fid[4] offset[8] count[4]             Rread count[4] data[count]
 *   Twrite    fid[4] offset[8] count[4] data        Rwrite count[4]
 *   Treaddir  fid[4] offset[8] count[4]             Rreaddir count[4] dirents
 *             dirent = qid offset[8] type[1] name[s]
 *   Tgetattr  fid[4] request_mask[8]                Rgetattr (struct p9_attr, 153 bytes)
 *   Tsetattr  fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime[8+8] mtime[8+8]  Rsetattr
 *   Tmkdir    dfid[4] name[s] mode[4] gid[4]        Rmkdir qid
 *   Tunlinkat dirfid[4] name[s] flags[4]            Runlinkat
 *   Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s]        Rrenameat
 *   Tclunk    fid[4]                                Rclunk
 *   Rlerror   ecode[4]  (a Linux errno, which is what our KE* values are)
 *
 * Conventions: encoders write one whole message into a caller buffer and return its length,
 * or -KEMSGSIZE if it does not fit, -KEINVAL for arguments the protocol cannot carry.
 * Decoders take the exact bytes the transport received and the tag that was sent; they
 * return 0, the negated ecode of an Rlerror (-KENOENT, ...), or -KEPROTO for anything
 * malformed (size field not equal to the received length, truncated fields, strings or
 * counts running past the end, trailing bytes, wrong type or tag). They never read outside
 * the given bytes. */
#pragma once
#include "types.h"

/* ---- message types (9P2000.L numbering) ---- */
enum p9_msg_type {
    P9_RLERROR = 7,
    P9_TLOPEN = 12, P9_RLOPEN = 13,
    P9_TLCREATE = 14, P9_RLCREATE = 15,
    P9_TGETATTR = 24, P9_RGETATTR = 25,
    P9_TSETATTR = 26, P9_RSETATTR = 27,
    P9_TREADDIR = 40, P9_RREADDIR = 41,
    P9_TMKDIR = 72, P9_RMKDIR = 73,
    P9_TRENAMEAT = 74, P9_RRENAMEAT = 75,
    P9_TUNLINKAT = 76, P9_RUNLINKAT = 77,
    P9_TVERSION = 100, P9_RVERSION = 101,
    P9_TATTACH = 104, P9_RATTACH = 105,
    P9_TWALK = 110, P9_RWALK = 111,
    P9_TREAD = 116, P9_RREAD = 117,
    P9_TWRITE = 118, P9_RWRITE = 119,
    P9_TCLUNK = 120, P9_RCLUNK = 121,
};

#define P9_HDR_SIZE 7u           /* size[4] type[1] tag[2] */
#define P9_NOTAG 0xFFFFu
#define P9_NOFID 0xFFFFFFFFu
#define P9_NONUNAME 0xFFFFFFFFu
#define P9_MAXWELEM 16u          /* names per Twalk */
#define P9_QID_SIZE 13u
#define P9_IOHDRSZ 24u           /* Twrite/Rread header allowance: data per message <= msize-24 */
#define P9_MIN_MSIZE 256u        /* smaller than this cannot carry a useful walk */
#define P9_VERSION_STRING "9P2000.L"
#define P9_GETATTR_REPLY_BODY 153u

/* qid.type bits */
#define P9_QTDIR 0x80
#define P9_QTSYMLINK 0x02

/* Tgetattr request_mask / Rgetattr valid bits */
#define P9_GETATTR_MODE 0x1ull
#define P9_GETATTR_NLINK 0x2ull
#define P9_GETATTR_UID 0x4ull
#define P9_GETATTR_GID 0x8ull
#define P9_GETATTR_RDEV 0x10ull
#define P9_GETATTR_ATIME 0x20ull
#define P9_GETATTR_MTIME 0x40ull
#define P9_GETATTR_CTIME 0x80ull
#define P9_GETATTR_INO 0x100ull
#define P9_GETATTR_SIZE 0x200ull
#define P9_GETATTR_BLOCKS 0x400ull
#define P9_GETATTR_BTIME 0x800ull
#define P9_GETATTR_GEN 0x1000ull
#define P9_GETATTR_DATA_VERSION 0x2000ull
#define P9_GETATTR_BASIC 0x7ffull
#define P9_GETATTR_ALL 0x3fffull

/* Tsetattr valid bits */
#define P9_SETATTR_MODE 0x1u
#define P9_SETATTR_UID 0x2u
#define P9_SETATTR_GID 0x4u
#define P9_SETATTR_SIZE 0x8u
#define P9_SETATTR_ATIME 0x10u
#define P9_SETATTR_MTIME 0x20u
#define P9_SETATTR_CTIME 0x40u
#define P9_SETATTR_ATIME_SET 0x80u
#define P9_SETATTR_MTIME_SET 0x100u

/* Tlopen/Tlcreate flags are Linux open(2) flags */
#define P9_O_RDONLY 0x0u
#define P9_O_WRONLY 0x1u
#define P9_O_RDWR 0x2u
#define P9_O_CREAT 0x40u
#define P9_O_EXCL 0x80u
#define P9_O_TRUNC 0x200u
#define P9_O_APPEND 0x400u
#define P9_O_DIRECTORY 0x10000u

/* Tunlinkat flags */
#define P9_AT_REMOVEDIR 0x200u

struct p9_qid {
    uint8_t type;
    uint32_t version;
    uint64_t path;
};

/* A name as it travels: bytes and a length (no NUL needed). */
struct p9_str {
    const char *s;
    uint16_t len;
};

/* Rgetattr, in wire order. */
struct p9_attr {
    uint64_t valid;
    struct p9_qid qid;
    uint32_t mode, uid, gid;
    uint64_t nlink, rdev, size, blksize, blocks;
    uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
    uint64_t ctime_sec, ctime_nsec, btime_sec, btime_nsec;
    uint64_t gen, data_version;
};

/* Tsetattr arguments, in wire order. */
struct p9_setattr {
    uint32_t valid, mode, uid, gid;
    uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

/* One Treaddir entry; name points into the reply buffer. */
struct p9_dirent {
    struct p9_qid qid;
    uint64_t offset;
    uint8_t type;
    struct p9_str name;
};

/* ---- encoders: return message length or -KEMSGSIZE / -KEINVAL ---- */
int p9_enc_tversion(uint8_t *buf, size_t cap, uint32_t msize, const char *version);
int p9_enc_tattach(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint32_t afid,
                   const char *uname, const char *aname, uint32_t n_uname);
int p9_enc_twalk(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint32_t newfid,
                 uint16_t nwname, const struct p9_str *names);
int p9_enc_tlopen(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint32_t flags);
int p9_enc_tlcreate(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, struct p9_str name,
                    uint32_t flags, uint32_t mode, uint32_t gid);
int p9_enc_tread(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t offset,
                 uint32_t count);
int p9_enc_twrite(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t offset,
                  const void *data, uint32_t count);
int p9_enc_treaddir(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t offset,
                    uint32_t count);
int p9_enc_tgetattr(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid, uint64_t mask);
int p9_enc_tsetattr(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid,
                    const struct p9_setattr *attr);
int p9_enc_tmkdir(uint8_t *buf, size_t cap, uint16_t tag, uint32_t dfid, struct p9_str name,
                  uint32_t mode, uint32_t gid);
int p9_enc_tunlinkat(uint8_t *buf, size_t cap, uint16_t tag, uint32_t dirfid,
                     struct p9_str name, uint32_t flags);
int p9_enc_trenameat(uint8_t *buf, size_t cap, uint16_t tag, uint32_t olddirfid,
                     struct p9_str oldname, uint32_t newdirfid, struct p9_str newname);
int p9_enc_tclunk(uint8_t *buf, size_t cap, uint16_t tag, uint32_t fid);

/* ---- decoders: 0, -ecode (Rlerror) or -KEPROTO ---- */
/* Reads the header of a received message: checks size == len and len >= 7. */
int p9_dec_header(const uint8_t *msg, size_t len, uint8_t *type, uint16_t *tag);
/* Rversion: *version points into msg (not NUL-terminated). */
int p9_dec_rversion(const uint8_t *msg, size_t len, uint32_t *msize, struct p9_str *version);
int p9_dec_rattach(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid);
/* Rwalk: nwqid must be <= nwname (the names asked); qids has room for nwname entries. */
int p9_dec_rwalk(const uint8_t *msg, size_t len, uint16_t tag, uint16_t nwname,
                 uint16_t *nwqid, struct p9_qid *qids);
int p9_dec_rlopen(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid,
                  uint32_t *iounit);
int p9_dec_rlcreate(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid,
                    uint32_t *iounit);
/* Rread: count <= asked; *data points into msg. */
int p9_dec_rread(const uint8_t *msg, size_t len, uint16_t tag, uint32_t asked,
                 uint32_t *count, const uint8_t **data);
int p9_dec_rwrite(const uint8_t *msg, size_t len, uint16_t tag, uint32_t asked,
                  uint32_t *count);
/* Rreaddir: count <= asked; iterate the data with p9_dirent_next. */
int p9_dec_rreaddir(const uint8_t *msg, size_t len, uint16_t tag, uint32_t asked,
                    uint32_t *count, const uint8_t **data);
/* Next dirent at *pos in data[0..len): 1 = one decoded, 0 = end, -KEPROTO = malformed. */
int p9_dirent_next(const uint8_t *data, size_t len, size_t *pos, struct p9_dirent *ent);
int p9_dec_rgetattr(const uint8_t *msg, size_t len, uint16_t tag, struct p9_attr *attr);
int p9_dec_rmkdir(const uint8_t *msg, size_t len, uint16_t tag, struct p9_qid *qid);
/* Replies with an empty body: Rsetattr, Runlinkat, Rrenameat, Rclunk. */
int p9_dec_rempty(const uint8_t *msg, size_t len, uint16_t tag, uint8_t type);

/* ---- fid allocator: a bitmap; live counts allocated fids ---- */
#define P9_MAX_FIDS 256u
struct p9_fids {
    uint64_t bits[P9_MAX_FIDS / 64];
    uint32_t live;
};
void p9_fids_init(struct p9_fids *f);
/* Returns a free fid (0..P9_MAX_FIDS-1) or -KENFILE when all are in use. */
int64_t p9_fid_alloc(struct p9_fids *f);
/* Frees fid; -KEINVAL if it was not allocated. */
int p9_fid_free(struct p9_fids *f, uint32_t fid);

/* ---- path-walk planner ---- */
/* Number of Twalk messages for n names: 1 for n == 0 (a clone), else ceil(n / 16). */
uint32_t p9_walk_msg_count(uint32_t n);
/* Names carried by message i (0-based) of a walk of n names. */
uint16_t p9_walk_msg_names(uint32_t n, uint32_t i);
/* Splits the next path component starting at *pos ('/' separated, empty and "." skipped).
 * Returns 1 and sets *name, 0 at the end, -KENAMETOOLONG for a component > 255 bytes. */
int p9_path_next(const char *path, size_t *pos, struct p9_str *name);
/* Counts the components of path (same rules as p9_path_next) or returns a negative error. */
int p9_path_count(const char *path);

/* ---- synchronous client ---- */
/* The transport: sends req[0..req_len) and receives one reply into resp (capacity
 * resp_cap), setting *resp_len to the bytes received. Returns 0 or a negative KE* error. */
typedef int (*p9_rpc_fn)(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                         size_t resp_cap, size_t *resp_len);

enum p9_client_state { P9_CLIENT_NEW, P9_CLIENT_VERSIONED, P9_CLIENT_ATTACHED, P9_CLIENT_BROKEN };

struct p9_client {
    p9_rpc_fn rpc;
    void *rpc_ctx;
    uint8_t *tx, *rx;          /* caller-owned buffers of buf_size bytes each */
    uint32_t buf_size;
    uint32_t msize;            /* negotiated (<= buf_size) */
    uint16_t next_tag;
    enum p9_client_state state;
    uint32_t root_fid;
    struct p9_qid root_qid;
    struct p9_fids fids;
    uint32_t requests;         /* messages sent, for tests and statistics */
};

/* Prepares a client (no I/O). buf_size is the largest msize we will offer. */
void p9_client_init(struct p9_client *c, p9_rpc_fn rpc, void *ctx, uint8_t *tx, uint8_t *rx,
                    uint32_t buf_size);
/* Tversion: offers buf_size, accepts a server msize <= offer and >= P9_MIN_MSIZE. */
int p9_client_version(struct p9_client *c);
/* Tattach as uname/n_uname to aname; allocates the root fid. */
int p9_client_attach(struct p9_client *c, const char *uname, const char *aname,
                     uint32_t n_uname);
/* Walks path from fid into a newly allocated fid (an empty path clones fid). On error no
 * fid is left behind: a partly walked newfid is clunked. *qid (optional) gets the last
 * name's qid; a clone (empty path) returns no qids, so *qid is zeroed then. */
int p9_client_walk(struct p9_client *c, uint32_t fid, const char *path, uint32_t *newfid,
                   struct p9_qid *qid);
int p9_client_lopen(struct p9_client *c, uint32_t fid, uint32_t flags, struct p9_qid *qid,
                    uint32_t *iounit);
/* Tlcreate: fid (a directory) becomes the new open file. */
int p9_client_lcreate(struct p9_client *c, uint32_t fid, const char *name, uint32_t flags,
                      uint32_t mode, uint32_t gid, struct p9_qid *qid, uint32_t *iounit);
/* Data bytes one Tread/Twrite may carry: msize - 24, limited by iounit when non-zero. */
uint32_t p9_io_chunk(const struct p9_client *c, uint32_t iounit);
/* Reads up to len bytes at offset in msize chunks; returns bytes read (short at EOF). */
int64_t p9_client_read(struct p9_client *c, uint32_t fid, uint32_t iounit, uint64_t offset,
                       void *buf, uint64_t len);
/* Writes len bytes at offset in msize chunks; returns bytes written. */
int64_t p9_client_write(struct p9_client *c, uint32_t fid, uint32_t iounit, uint64_t offset,
                        const void *buf, uint64_t len);
/* One Treaddir of at most count bytes (<= chunk); *data and *data_len point into c->rx, valid
 * until the next request. */
int p9_client_readdir(struct p9_client *c, uint32_t fid, uint64_t offset, uint32_t count,
                      const uint8_t **data, uint32_t *data_len);
int p9_client_getattr(struct p9_client *c, uint32_t fid, uint64_t mask, struct p9_attr *attr);
int p9_client_setattr(struct p9_client *c, uint32_t fid, const struct p9_setattr *attr);
int p9_client_mkdir(struct p9_client *c, uint32_t dfid, const char *name, uint32_t mode,
                    uint32_t gid, struct p9_qid *qid);
int p9_client_unlinkat(struct p9_client *c, uint32_t dirfid, const char *name, uint32_t flags);
int p9_client_renameat(struct p9_client *c, uint32_t olddirfid, const char *oldname,
                       uint32_t newdirfid, const char *newname);
/* Tclunk and frees the fid (freed even if the server reports an error: per 9P, a clunked
 * fid is gone either way). */
int p9_client_clunk(struct p9_client *c, uint32_t fid);
