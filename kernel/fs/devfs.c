/* devfs.c: the device file system mounted on /dev, a VFS engine (vfs.h).
 *
 * The root directory: null, zero, random, urandom, console, tty, ptmx, the directory pts and
 * one block-device node per registered block device (block.h, taken when the instance is
 * mounted). Node semantics follow POSIX.1-2017 XBD 10.1 (/dev/null, /dev/console, /dev/tty:
 * the console terminal and the caller's controlling terminal, both tty.h), Linux's pty(7)
 * for /dev/ptmx (each open makes a pseudo-terminal pair) and /dev/pts (the slaves of the
 * pairs whose master is open; entries come and go with them, tty.h), and the Linux
 * conventions for
 * /dev/zero, /dev/random, /dev/urandom and block devices (reads and writes of a block device
 * at byte offsets must be sector-aligned, else -EINVAL).
 *
 * /dev/random and /dev/urandom share one CSPRNG: the ChaCha20 block function of RFC 8439
 * §2.3 in counter mode, keyed from RDSEED/RDRAND (Intel SDM Vol. 1 §7.3.17, CPUID leaf 7
 * EBX bit 18 and leaf 1 ECX bit 30) or, without them, from TSC timing jitter. The key is
 * replaced by generator output after every read (forward secrecy) and fresh entropy is
 * mixed in every 1 MiB of output. */
#include "vfs.h"
#include "block.h"
#include "tty.h"
#include "cpu.h"
#include "kstring.h"
#include "mm.h"
#include "printk.h"
#include "sync.h"
#include "wait.h"

#ifndef S_IFBLK
#define S_IFBLK 0060000
#endif

/* ---- ChaCha20 (RFC 8439 §2.1-2.3) ---- */

static inline uint32_t rotl32(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

#define QUARTER_ROUND(s, a, b, c, d)                                                        \
    do {                                                                                    \
        s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl32(s[d], 16);                                \
        s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl32(s[b], 12);                                \
        s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl32(s[d], 8);                                 \
        s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl32(s[b], 7);                                 \
    } while (0)

/* The ChaCha20 block function (RFC 8439 §2.3): 64 bytes of key stream for a 256-bit key,
 * a 32-bit block counter and a 96-bit nonce, serialised little-endian. Used by the self-test
 * against the RFC's test vector (§2.3.2). */
void devfs_chacha20_block(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3], uint8_t out[64]) {
    uint32_t init[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; i++) init[4 + i] = key[i];
    init[12] = counter;
    init[13] = nonce[0];
    init[14] = nonce[1];
    init[15] = nonce[2];
    uint32_t s[16];
    memcpy(s, init, sizeof s);
    for (int round = 0; round < 10; round++) {
        QUARTER_ROUND(s, 0, 4, 8, 12);
        QUARTER_ROUND(s, 1, 5, 9, 13);
        QUARTER_ROUND(s, 2, 6, 10, 14);
        QUARTER_ROUND(s, 3, 7, 11, 15);
        QUARTER_ROUND(s, 0, 5, 10, 15);
        QUARTER_ROUND(s, 1, 6, 11, 12);
        QUARTER_ROUND(s, 2, 7, 8, 13);
        QUARTER_ROUND(s, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; i++) {
        uint32_t v = s[i] + init[i];
        out[4 * i] = (uint8_t)v;
        out[4 * i + 1] = (uint8_t)(v >> 8);
        out[4 * i + 2] = (uint8_t)(v >> 16);
        out[4 * i + 3] = (uint8_t)(v >> 24);
    }
}

/* ---- entropy ---- */

#define HW_RANDOM_RETRIES 10
#define RESEED_BYTES (1u << 20)

static bool rdseed64(uint64_t *out) {
    uint8_t ok;
    __asm__ volatile("rdseed %0; setc %1" : "=r"(*out), "=qm"(ok)::"cc");
    return ok;
}

static bool rdrand64(uint64_t *out) {
    uint8_t ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok)::"cc");
    return ok;
}

static int hw_source = -1; /* -1 unknown, 0 none, 1 RDRAND, 2 RDSEED (and RDRAND) */
static bool has_rdrand;

static void detect_hw_source(void) {
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    uint32_t max_leaf = a;
    cpuid(1, 0, &a, &b, &c, &d);
    has_rdrand = (c >> 30) & 1;
    bool has_rdseed = false;
    if (max_leaf >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        has_rdseed = (b >> 18) & 1;
    }
    hw_source = has_rdseed ? 2 : has_rdrand ? 1 : 0;
    if (hw_source == 0)
        pr_warn("devfs: no RDSEED/RDRAND; /dev/urandom is seeded from TSC timing jitter only\n");
}

/* One 64-bit word from the hardware generator (bounded retries), or false. */
static bool hw_random(uint64_t *out) {
    if (hw_source == 2)
        for (int i = 0; i < HW_RANDOM_RETRIES; i++)
            if (rdseed64(out)) return true;
    if (has_rdrand)
        for (int i = 0; i < HW_RANDOM_RETRIES; i++)
            if (rdrand64(out)) return true;
    return false;
}

/* A 64-bit word of TSC timing jitter: 64 timed stretches of data-dependent work. */
static uint64_t tsc_jitter(void) {
    uint64_t v = rdtsc(), work = v;
    for (int i = 0; i < 64; i++) {
        uint64_t t0 = rdtsc();
        for (uint64_t j = 0; j < 8 + (work & 7); j++) work = work * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t t1 = rdtsc();
        v = (v << 7 | v >> 57) ^ (t1 - t0) ^ (t1 << 32);
    }
    return v ^ work;
}

/* ---- the generator ---- */

static struct {
    struct mutex lock;
    bool ready;
    uint32_t key[8];
    uint32_t nonce[3];
    uint32_t counter;
    uint64_t since_reseed;
} rng;

/* XORs 256 bits of fresh entropy into the key. Called with rng.lock held. */
static void rng_reseed(void) {
    if (hw_source < 0) detect_hw_source();
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        if (!hw_random(&w)) w = tsc_jitter();
        w ^= rdtsc();
        rng.key[2 * i] ^= (uint32_t)w;
        rng.key[2 * i + 1] ^= (uint32_t)(w >> 32);
    }
    rng.nonce[0] ^= (uint32_t)rdtsc();
    rng.since_reseed = 0;
}

static void rng_init_once(void) {
    static volatile bool lock_ready;
    /* devfs_init runs once at boot, before any reader, and sets the lock up */
    if (!lock_ready) {
        mutex_init(&rng.lock, "devfs-rng");
        lock_ready = true;
    }
}

/* Fills buf with len bytes from the CSPRNG. Returns 0 or -KEINTR. */
static int rng_read(void *buf, size_t len) {
    uint8_t block[64];
    uint8_t *p = buf;
    if (mutex_lock(&rng.lock) < 0) return -KEINTR;
    if (!rng.ready) {
        rng_reseed();
        rng.ready = true;
    }
    while (len) {
        if (rng.since_reseed >= RESEED_BYTES) rng_reseed();
        devfs_chacha20_block(rng.key, rng.counter++, rng.nonce, block);
        if (rng.counter == 0) rng.nonce[1]++;
        size_t n = MIN(len, sizeof block);
        memcpy(p, block, n);
        p += n;
        len -= n;
        rng.since_reseed += n;
    }
    /* fast key erasure: the key that produced this output is gone */
    devfs_chacha20_block(rng.key, rng.counter++, rng.nonce, block);
    memcpy(rng.key, block, sizeof rng.key);
    memset(block, 0, sizeof block);
    mutex_unlock(&rng.lock);
    return 0;
}

/* Random bytes from the kernel CSPRNG for other subsystems (getrandom, AT_RANDOM). */
int random_bytes(void *buf, size_t len) { return rng_read(buf, len); }

/* ---- the file system ---- */

enum devfs_kind {
    DEV_ROOT, DEV_NULL, DEV_ZERO, DEV_RANDOM, DEV_URANDOM, DEV_CONSOLE, DEV_TTY, DEV_PTMX, DEV_PTS, DEV_BLOCK
};

struct devfs_node {
    struct vnode vn;
    enum devfs_kind kind;
    struct blk_device *blk;
    char name[BLK_NAME_MAX];
};

struct devfs {
    int count;               /* nodes, the root included */
    struct devfs_node nodes[];
};

static const struct vnode_ops devfs_ops;

static struct devfs_node *node_of(struct vnode *vn) { return container_of(vn, struct devfs_node, vn); }

static int devfs_lookup(struct vnode *dir, const char *name, size_t len, struct vnode **out) {
    struct devfs *fs = dir->mount->fs_priv;
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        struct vnode *parent = &fs->nodes[0].vn; /* the root, for itself and for pts */
        vnode_get(parent);
        *out = parent;
        return 0;
    }
    if (node_of(dir)->kind == DEV_PTS) return pty_lookup(name, len, out);
    for (int i = 1; i < fs->count; i++) {
        struct devfs_node *n = &fs->nodes[i];
        if (strlen(n->name) == len && memcmp(n->name, name, len) == 0) {
            vnode_get(&n->vn);
            *out = &n->vn;
            return 0;
        }
    }
    return -KENOENT;
}

static int devfs_readdir(struct vnode *dir, uint64_t *cookie, struct vfs_dirent *out) {
    struct devfs *fs = dir->mount->fs_priv;
    uint64_t c = *cookie;
    if (c < 2) {
        out->ino = c == 0 ? dir->ino : fs->nodes[0].vn.ino;
        out->type = S_IFDIR;
        out->name_len = (uint16_t)(c + 1);
        memcpy(out->name, "..", c + 1);
        out->name[c + 1] = 0;
    } else if (node_of(dir)->kind == DEV_PTS) {
        /* cookie 2 + the next pty number to look at */
        uint64_t pos = c - 2;
        if (!pty_readdir(&pos, out)) return 0;
        *cookie = pos + 2;
        return 1;
    } else if (c - 1 < (uint64_t)fs->count) {
        struct devfs_node *n = &fs->nodes[c - 1];
        out->ino = n->vn.ino;
        out->type = n->vn.mode & S_IFMT;
        out->name_len = (uint16_t)strlen(n->name);
        memcpy(out->name, n->name, out->name_len + 1u);
    } else {
        return 0;
    }
    *cookie = c + 1;
    return 1;
}

#define BLOCK_IO_MAX (16u << 20) /* bytes per block-device read/write call */

/* Checks a block-device transfer: sector-aligned, clamped to the device end. Returns the
 * bytes to move (0 at the end) or -KEINVAL. */
static int64_t block_span(const struct blk_device *d, uint64_t off, size_t len) {
    uint64_t size = d->sectors * d->sector_size;
    if (off % d->sector_size || len % d->sector_size) return -KEINVAL;
    if (off >= size) return 0;
    uint64_t n = MIN((uint64_t)len, size - off);
    return (int64_t)MIN(n, (uint64_t)BLOCK_IO_MAX);
}

/* The terminal behind a terminal node: the console, or the caller's controlling terminal
 * for /dev/tty (NULL: none, -ENXIO as on Linux). */
static struct tty *node_tty(const struct devfs_node *n) {
    return n->kind == DEV_CONSOLE ? tty_console() : tty_current_ctty();
}

/* Opening a terminal node gives a file of the terminal (its read, write, poll and ioctl);
 * /dev/console also makes the console the controlling terminal of a session leader that
 * has none (unless O_NOCTTY). Needs the VFS's open hook (VFS_HAVE_VNODE_OPEN); without it
 * the read and write below still reach the terminal. */
#ifdef VFS_HAVE_VNODE_OPEN
static int devfs_open(struct vnode *vn, struct vfs_file *f) {
    struct devfs_node *n = node_of(vn);
    if (n->kind == DEV_PTMX) return pty_open_master(f);
    if (n->kind != DEV_CONSOLE && n->kind != DEV_TTY) return 0;
    struct tty *t = node_tty(n);
    return t ? tty_attach_file(t, f) : -KENXIO;
}
#endif

static int64_t devfs_read(struct vnode *vn, uint64_t off, void *buf, size_t len) {
    struct devfs_node *n = node_of(vn);
    switch (n->kind) {
    case DEV_NULL: return 0;
    case DEV_ZERO: memset(buf, 0, len); return (int64_t)len;
    case DEV_RANDOM:
    case DEV_URANDOM: {
        int r = rng_read(buf, len);
        return r < 0 ? r : (int64_t)len;
    }
    case DEV_CONSOLE:
    case DEV_TTY: {
        struct tty *t = node_tty(n);
        return t ? tty_read_kernel(t, buf, len) : -KENXIO;
    }
    case DEV_BLOCK: {
        int64_t span = block_span(n->blk, off, len);
        if (span <= 0) return span;
        int r = blk_read(n->blk, off / n->blk->sector_size, (uint32_t)(span / n->blk->sector_size), buf);
        return r < 0 ? r : span;
    }
    default: return -KEISDIR;
    }
}

static int64_t devfs_write(struct vnode *vn, uint64_t off, const void *buf, size_t len) {
    struct devfs_node *n = node_of(vn);
    switch (n->kind) {
    case DEV_NULL:
    case DEV_ZERO:
    case DEV_RANDOM:
    case DEV_URANDOM: return (int64_t)len; /* swallowed (random: no entropy credit) */
    case DEV_CONSOLE:
    case DEV_TTY: {
        struct tty *t = node_tty(n);
        return t ? tty_write_kernel(t, buf, len) : -KENXIO;
    }
    case DEV_BLOCK: {
        int64_t span = block_span(n->blk, off, len);
        if (span < 0) return span;
        if (span == 0) return len ? -KENOSPC : 0;
        int r = blk_write(n->blk, off / n->blk->sector_size, (uint32_t)(span / n->blk->sector_size), buf);
        return r < 0 ? r : span;
    }
    default: return -KEISDIR;
    }
}

static int devfs_getattr(struct vnode *vn, struct vfs_stat *st) {
    struct devfs_node *n = node_of(vn);
    memset(st, 0, sizeof *st);
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->nlink = n->kind == DEV_ROOT ? 3 : n->kind == DEV_PTS ? 2 : 1;
    st->blksize = n->blk ? n->blk->sector_size : 4096;
    if (n->blk) st->size = n->blk->sectors * n->blk->sector_size;
    st->dev = vn->mount ? vn->mount->id : 0;
    return 0;
}

static const struct vnode_ops devfs_ops = {
    .lookup = devfs_lookup,
    .readdir = devfs_readdir,
    .read = devfs_read,
    .write = devfs_write,
    .getattr = devfs_getattr,
#ifdef VFS_HAVE_VNODE_OPEN
    .open = devfs_open,
#endif
};

static void count_blk(struct blk_device *dev, void *ctx) {
    (void)dev;
    (*(int *)ctx)++;
}

static void node_setup(struct devfs *fs, struct vfs_mount *m, enum devfs_kind kind, const char *name,
                       uint32_t mode, struct blk_device *blk) {
    struct devfs_node *n = &fs->nodes[fs->count];
    vnode_init(&n->vn, &devfs_ops, m, mode, (uint64_t)fs->count + 1);
    n->vn.fs_data = n;
    n->kind = kind;
    n->blk = blk;
    strlcpy(n->name, name, sizeof n->name);
    fs->count++;
}

struct blk_add_ctx {
    struct devfs *fs;
    struct vfs_mount *m;
    int cap;
};

static void add_blk(struct blk_device *dev, void *ctx) {
    struct blk_add_ctx *c = ctx;
    if (c->fs->count >= c->cap) return; /* registered after we counted */
    node_setup(c->fs, c->m, DEV_BLOCK, dev->name, S_IFBLK | (dev->read_only ? 0440 : 0660), dev);
}

#define DEVFS_FIXED_NODES 9 /* root, null, zero, random, urandom, console, tty, ptmx, pts */
#define DEVFS_SPARE_BLOCK 8 /* room for block devices registered while mounting */

static int devfs_mount(struct vfs_mount *m, const char *source, const char *options, struct vnode **root) {
    (void)source;
    (void)options;
    int nblk = 0;
    blk_for_each(count_blk, &nblk);
    int cap = DEVFS_FIXED_NODES + nblk + DEVFS_SPARE_BLOCK;
    struct devfs *fs = kzalloc(sizeof(*fs) + sizeof(struct devfs_node) * (size_t)cap);
    if (!fs) return -KENOMEM;
    node_setup(fs, m, DEV_ROOT, "", S_IFDIR | 0755, NULL);
    node_setup(fs, m, DEV_NULL, "null", S_IFCHR | 0666, NULL);
    node_setup(fs, m, DEV_ZERO, "zero", S_IFCHR | 0666, NULL);
    node_setup(fs, m, DEV_RANDOM, "random", S_IFCHR | 0666, NULL);
    node_setup(fs, m, DEV_URANDOM, "urandom", S_IFCHR | 0666, NULL);
    node_setup(fs, m, DEV_CONSOLE, "console", S_IFCHR | 0620, NULL);
    node_setup(fs, m, DEV_TTY, "tty", S_IFCHR | 0666, NULL);
    node_setup(fs, m, DEV_PTMX, "ptmx", S_IFCHR | 0666, NULL);
    node_setup(fs, m, DEV_PTS, "pts", S_IFDIR | 0755, NULL);
    struct blk_add_ctx c = {fs, m, cap};
    blk_for_each(add_blk, &c);
    m->fs_priv = fs;
    vnode_get(&fs->nodes[0].vn);
    *root = &fs->nodes[0].vn;
    return 0;
}

static int devfs_unmount(struct vfs_mount *m) {
    kfree(m->fs_priv);
    m->fs_priv = NULL;
    return 0;
}

static struct vfs_fs_type devfs_type = {
    .name = "devfs",
    .mount = devfs_mount,
    .unmount = devfs_unmount,
};

/* Registers the "devfs" file-system type and sets up the random generator's lock. */
void devfs_init(void) {
    rng_init_once();
    vfs_register_fs(&devfs_type);
}
