/* virtio_9p_selftest.c: kernel self-tests (group "virtio9p") of the 9P2000.L client over the
 * virtio-9p transport (VIRTIO 1.2 §5.11) against the host directory QEMU shares with mount
 * tag "sabos" (scripts/qemu.sh: the repository's build/ directory).
 *
 * Builds a scratch tree p9selftest.tmp/l1/.../l16 on the share (the deepest directory is
 * 17 names down), writes files of 0, 1, 4096 and 1 MiB + 1 bytes there, reads each back
 * over a fresh walk of 18 names (two Twalks: where the original SABOS lost file reads),
 * walks paths of exactly 16 and 17 names, renames a file, lists the directory, checks
 * sizes with Tgetattr, removes everything and checks that no fid but the root is held. */
#include "virtio_9p.h"
#include "p9.h"
#include "mm.h"
#include "kstring.h"
#include "kprintf.h"
#include "kerrno.h"
#include "selftest.h"

#define SCRATCH "p9selftest.tmp"
#define DEPTH 16

static const char *const file_names[] = { "f0", "f1", "f4096", "fbig", "renamed" };
static const uint64_t file_sizes[] = { 0, 1, 4096, MiB(1) + 1 };

static struct p9_client *attached(struct selftest_ctx *t) {
    struct p9_client *c = virtio_9p_client("sabos");
    if (!c) {
        selftest_fail(t, "no virtio-9p device with mount tag 'sabos'");
        return NULL;
    }
    if (c->state != P9_CLIENT_ATTACHED) {
        int r = p9_client_attach(c, "root", "", 0);
        if (r) {
            selftest_fail(t, "Tattach failed: %d", r);
            return NULL;
        }
    }
    return c;
}

static uint8_t pattern_byte(uint64_t i, uint32_t seed) {
    return (uint8_t)(i * 31 + seed + (i >> 9));
}

/* "p9selftest.tmp/l1/.../l{levels}": levels + 1 names */
static void scratch_path(char *buf, size_t size, int levels) {
    size_t p = (size_t)ksnprintf(buf, size, "%s", SCRATCH);
    for (int i = 1; i <= levels && p < size; i++)
        p += (size_t)ksnprintf(buf + p, size - p, "/l%d", i);
}

/* Removes the scratch tree, deepest level first (what is missing is skipped). */
static void cleanup(struct p9_client *c) {
    char path[256];
    for (int lv = DEPTH; lv >= 0; lv--) {
        uint32_t dir;
        scratch_path(path, sizeof path, lv);
        if (p9_client_walk(c, c->root_fid, path, &dir, NULL) != 0)
            continue;
        for (size_t i = 0; i < ARRAY_SIZE(file_names); i++)
            p9_client_unlinkat(c, dir, file_names[i], 0);
        char sub[8];
        ksnprintf(sub, sizeof sub, "l%d", lv + 1);
        p9_client_unlinkat(c, dir, sub, P9_AT_REMOVEDIR);
        p9_client_clunk(c, dir);
    }
    p9_client_unlinkat(c, c->root_fid, SCRATCH, P9_AT_REMOVEDIR);
}

SELFTEST_TIMEOUT(virtio9p, deep_tree_write_read_remove, 120000) {
    struct p9_client *c = attached(t);
    if (!c)
        return;
    uint32_t live0 = c->fids.live;
    uint8_t *buf = kmalloc(MiB(1) + 4096);
    ST_ASSERT(t, buf != NULL, "out of memory");
    cleanup(c); /* leftovers of an interrupted run */
    char path[256], name[16];
    int r;
    uint32_t fid;
    /* the tree, one mkdir per level */
    for (int lv = 0; lv <= DEPTH; lv++) {
        uint32_t dir;
        if (lv == 0) {
            r = p9_client_walk(c, c->root_fid, "", &dir, NULL);
            ksnprintf(name, sizeof name, "%s", SCRATCH);
        } else {
            scratch_path(path, sizeof path, lv - 1);
            r = p9_client_walk(c, c->root_fid, path, &dir, NULL);
            ksnprintf(name, sizeof name, "l%d", lv);
        }
        if (r == 0) {
            r = p9_client_mkdir(c, dir, name, 0755, 0, NULL);
            p9_client_clunk(c, dir);
        }
        if (r) {
            kfree(buf);
            cleanup(c);
            ST_ASSERT(t, false, "mkdir %s at level %d: %d", name, lv, r);
        }
    }
    /* files in the deepest directory (17 names down) */
    scratch_path(path, sizeof path, DEPTH);
    size_t dir_len = strlen(path);
    for (size_t i = 0; i < ARRAY_SIZE(file_sizes) && r == 0; i++) {
        r = p9_client_walk(c, c->root_fid, path, &fid, NULL);
        if (r) break;
        r = p9_client_lcreate(c, fid, file_names[i], P9_O_CREAT | P9_O_RDWR | P9_O_TRUNC, 0644,
                              0, NULL, NULL);
        for (uint64_t k = 0; k < file_sizes[i]; k++) buf[k] = pattern_byte(k, (uint32_t)i);
        int64_t w = r ? r : p9_client_write(c, fid, 0, 0, buf, file_sizes[i]);
        p9_client_clunk(c, fid);
        if (w != (int64_t)file_sizes[i]) r = w < 0 ? (int)w : -KEIO;
    }
    if (r) {
        kfree(buf);
        cleanup(c);
        ST_ASSERT(t, false, "creating the files: %d", r);
    }
    /* read back over fresh 18-name walks */
    for (size_t i = 0; i < ARRAY_SIZE(file_sizes); i++) {
        ksnprintf(path + dir_len, sizeof path - dir_len, "/%s", file_names[i]);
        struct p9_qid qid;
        r = p9_client_walk(c, c->root_fid, path, &fid, &qid);
        if (r) { selftest_fail(t, "walk to %s (18 names): %d", file_names[i], r); break; }
        struct p9_attr a;
        r = p9_client_getattr(c, fid, P9_GETATTR_BASIC, &a);
        if (r == 0 && (a.size != file_sizes[i] || (qid.type & P9_QTDIR)))
            selftest_fail(t, "%s: size %llu, want %llu", file_names[i],
                          (unsigned long long)a.size, (unsigned long long)file_sizes[i]);
        if (r == 0) r = p9_client_lopen(c, fid, P9_O_RDONLY, NULL, NULL);
        int64_t got = r ? r : p9_client_read(c, fid, 0, 0, buf, file_sizes[i] + 100);
        p9_client_clunk(c, fid);
        if (got != (int64_t)file_sizes[i]) {
            selftest_fail(t, "read %s: %lld bytes, want %llu", file_names[i], (long long)got,
                          (unsigned long long)file_sizes[i]);
            break;
        }
        for (uint64_t k = 0; k < file_sizes[i]; k++)
            if (buf[k] != pattern_byte(k, (uint32_t)i)) {
                selftest_fail(t, "%s: byte %llu differs", file_names[i], (unsigned long long)k);
                break;
            }
    }
    path[dir_len] = '\0';
    /* exactly 16 and 17 names */
    for (int names = 16; names <= 17 && !t->failed; names++) {
        char p2[256];
        struct p9_qid qid;
        scratch_path(p2, sizeof p2, names - 1);
        r = p9_client_walk(c, c->root_fid, p2, &fid, &qid);
        if (r == 0) p9_client_clunk(c, fid);
        if (r || !(qid.type & P9_QTDIR)) selftest_fail(t, "walk of %d names: %d", names, r);
    }
    /* rename, then list */
    uint32_t dir;
    if (!t->failed && p9_client_walk(c, c->root_fid, path, &dir, NULL) == 0) {
        r = p9_client_renameat(c, dir, "f1", dir, "renamed");
        if (r) selftest_fail(t, "renameat: %d", r);
        r = p9_client_lopen(c, dir, P9_O_RDONLY | P9_O_DIRECTORY, NULL, NULL);
        unsigned seen = 0, entries = 0;
        uint64_t off = 0;
        for (int round = 0; r == 0 && round < 64; round++) {
            const uint8_t *d;
            uint32_t len;
            r = p9_client_readdir(c, dir, off, 0, &d, &len);
            if (r || len == 0) break;
            size_t pos = 0;
            struct p9_dirent e;
            int k;
            while ((k = p9_dirent_next(d, len, &pos, &e)) == 1) {
                entries++;
                off = e.offset;
                for (size_t i = 0; i < ARRAY_SIZE(file_names); i++)
                    if (e.name.len == strlen(file_names[i]) &&
                        memcmp(e.name.s, file_names[i], e.name.len) == 0)
                        seen |= 1u << i;
            }
            if (k < 0) r = k;
        }
        p9_client_clunk(c, dir);
        /* f0, f4096, fbig, renamed; not f1 */
        if (r || seen != 0x1d)
            selftest_fail(t, "listing: rc %d, %u entries, names seen 0x%x (want 0x1d)", r,
                          entries, seen);
    }
    kfree(buf);
    cleanup(c);
    ST_ASSERT(t, p9_client_walk(c, c->root_fid, SCRATCH, &fid, NULL) == -KENOENT,
              "scratch tree still there after removal");
    ST_ASSERT(t, c->fids.live == live0, "fids leaked: %u live, %u before", c->fids.live, live0);
}
