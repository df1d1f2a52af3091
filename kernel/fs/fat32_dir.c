/* fat32_dir.c: FAT32 engine, directory part: 32-byte directory entries and dates (fatgen103 §6),
 * long file names with checksums and 8.3 alias ("~N" numeric tail) generation (§7), UTF-8 <->
 * UTF-16 names, lookup, readdir, create, mkdir, unlink, rmdir and rename. */
#include "fat32_internal.h"

/* ---- raw entry cursor ---- */

struct dcur {
    uint32_t cluster, index;
};

static uint32_t per_cluster(const struct fat32_volume *vol) { return vol->cluster_bytes / DIR_ENTRY_SIZE; }

/* Positions c at entry index of the directory starting at start; -KENOENT past the chain. */
static int dcur_seek(struct fat32_volume *vol, struct dcur *c, uint32_t start, uint32_t index) {
    uint32_t cl = start;
    if (index >= DIR_MAX_ENTRIES) return -KENOENT;
    for (uint32_t i = index / per_cluster(vol); i > 0; i--) {
        int rc = fat32i_next(vol, cl, &cl);
        if (rc < 0) return rc;
        if (cl == 0) return -KENOENT;
    }
    if (!fat32i_cluster_ok(vol, cl)) return -KEIO;
    c->cluster = cl;
    c->index = index;
    return 0;
}

/* Returns 1 when the chain ends after the current entry. */
static int dcur_advance(struct fat32_volume *vol, struct dcur *c) {
    c->index++;
    if (c->index % per_cluster(vol)) return 0;
    uint32_t next;
    int rc = fat32i_next(vol, c->cluster, &next);
    if (rc < 0) return rc;
    if (next == 0) return 1;
    c->cluster = next;
    return 0;
}

static uint8_t *dcur_entry(struct fat32_volume *vol, const struct dcur *c, int *err) {
    uint32_t byte = (c->index % per_cluster(vol)) * DIR_ENTRY_SIZE;
    uint8_t *s = fat32i_sector(vol, fat32i_cluster_lba(vol, c->cluster) + byte / vol->bytes_per_sector, err);
    return s ? s + byte % vol->bytes_per_sector : NULL;
}

static int entry_write(struct fat32_volume *vol, uint32_t dir, uint32_t index, const uint8_t *e) {
    struct dcur c;
    int rc = dcur_seek(vol, &c, dir, index);
    if (rc < 0) return rc == -KENOENT ? -KEIO : rc;
    uint8_t *p = dcur_entry(vol, &c, &rc);
    if (!p) return rc;
    memcpy(p, e, DIR_ENTRY_SIZE);
    return fat32i_sector_write(vol);
}

static int entry_read(struct fat32_volume *vol, uint32_t dir, uint32_t index, uint8_t *e) {
    struct dcur c;
    int rc = dcur_seek(vol, &c, dir, index);
    if (rc < 0) return rc == -KENOENT ? -KEIO : rc;
    uint8_t *p = dcur_entry(vol, &c, &rc);
    if (!p) return rc;
    memcpy(e, p, DIR_ENTRY_SIZE);
    return 0;
}

/* ---- parsed directory scan ---- */

struct scan_ent {
    uint8_t sfn[32];
    uint32_t index, first_index;
    uint16_t name[FAT32_NAME_MAX + 1];
    uint32_t name_len;
    bool has_lfn;
};

/* Next live entry from *pos (long name assembled and checked). 1 found, 0 end, <0 error. */
static int scan_next(struct fat32_volume *vol, uint32_t dir, uint32_t *pos, uint32_t *pos_cluster,
                     struct scan_ent *se) {
    struct dcur c;
    int rc;
    if (*pos >= DIR_MAX_ENTRIES) { /* past the limit: fine only if the chain really ends */
        uint32_t len;
        rc = fat32i_chain_length(vol, dir, &len, NULL);
        if (rc < 0) return rc;
        if ((uint64_t)len * per_cluster(vol) > DIR_MAX_ENTRIES) {
            printk(LOG_WARN, "fat32: directory at cluster %u is larger than 65536 entries\n", dir);
            return -KEIO;
        }
        return 0;
    }
    if (*pos_cluster && fat32i_cluster_ok(vol, *pos_cluster)) { /* resume without a walk */
        c.cluster = *pos_cluster;
        c.index = *pos;
        rc = 0;
    } else {
        rc = dcur_seek(vol, &c, dir, *pos);
    }
    *pos_cluster = 0;
    if (rc == -KENOENT) return 0;
    if (rc < 0) return rc;
    uint32_t expect = 0, first = 0;
    uint8_t sum = 0;
    for (;;) {
        if (c.index >= DIR_MAX_ENTRIES) {
            printk(LOG_WARN, "fat32: directory at cluster %u has no end\n", dir);
            return -KEIO;
        }
        uint8_t *p = dcur_entry(vol, &c, &rc), e[32];
        if (!p) return rc;
        memcpy(e, p, 32);
        if (e[0] == 0) { *pos = c.index; return 0; }
        if (e[0] == 0xE5) expect = 0;
        else if ((e[11] & 0x3F) == ATTR_LFN) {
            uint32_t ord = e[0] & 0x1F;
            if ((e[0] & 0x40) && ord >= 1 && ord <= 20) {
                expect = ord;
                first = c.index;
                sum = e[13];
                se->name_len = 0;
                for (uint32_t i = 0; i <= FAT32_NAME_MAX; i++) se->name[i] = 0;
            } else if (!(expect > 1 && ord == expect - 1 && e[13] == sum)) {
                expect = 0;
                goto next;
            } else {
                expect = ord;
            }
            for (uint32_t k = 0; k < 13; k++) {
                uint32_t at = (ord - 1) * 13 + k;
                if (at < FAT32_NAME_MAX) se->name[at] = fat_rd16(e + fat32i_lfn_offsets[k]);
            }
        } else if (e[11] & FAT32_ATTR_VOLUME_ID) {
            expect = 0;
        } else {
            memcpy(se->sfn, e, 32);
            se->index = c.index;
            se->has_lfn = expect == 1 && fat32i_lfn_checksum(e) == sum;
            se->first_index = se->has_lfn ? first : c.index;
            if (se->has_lfn) {
                uint32_t n = 0;
                while (n < FAT32_NAME_MAX && se->name[n] != 0 && se->name[n] != 0xFFFF) n++;
                se->name_len = n;
                if (n == 0) se->has_lfn = false;
            }
            if (!se->has_lfn) {
                se->first_index = c.index;
                se->name_len = fat32i_short_to_16(e, se->name);
            }
            *pos = c.index + 1;
            if (*pos % per_cluster(vol)) *pos_cluster = c.cluster;
            return 1;
        }
    next:
        rc = dcur_advance(vol, &c);
        if (rc < 0) return rc;
        if (rc == 1) { *pos = c.index; return 0; }
    }
}

static void node_from_entry(struct fat32_volume *vol, struct fat32_node *n, const uint8_t *e,
                            uint32_t dir, uint32_t idx, uint32_t first_idx) {
    memset(n, 0, sizeof(*n));
    n->attr = e[11];
    n->first_cluster = ((uint32_t)fat_rd16(e + 20) << 16) | fat_rd16(e + 26);
    n->size = (e[11] & FAT32_ATTR_DIRECTORY) ? 0 : fat_rd32(e + 28);
    n->ctime = fat_rd16(e + 14);
    n->cdate = fat_rd16(e + 16);
    n->adate = fat_rd16(e + 18);
    n->mtime = fat_rd16(e + 22);
    n->mdate = fat_rd16(e + 24);
    n->parent_cluster = dir;
    n->entry_index = idx;
    n->first_entry_index = first_idx;
    if ((n->attr & FAT32_ATTR_DIRECTORY) && (n->first_cluster == 0 || n->first_cluster == vol->root_cluster)) {
        n->first_cluster = vol->root_cluster; /* ".." of a first-level directory */
        n->is_root = true;
    }
}

static int dir_cluster_of(struct fat32_volume *vol, const struct fat32_node *dir, uint32_t *cl) {
    if (!vol || !vol->mounted || !dir) return -KEINVAL;
    if (dir->is_root) { *cl = vol->root_cluster; return 0; }
    if (!(dir->attr & FAT32_ATTR_DIRECTORY)) return -KENOTDIR;
    if (!fat32i_cluster_ok(vol, dir->first_cluster)) return -KEIO;
    *cl = dir->first_cluster;
    return 0;
}

static int find(struct fat32_volume *vol, uint32_t dir, const uint16_t *name, uint32_t len,
                struct scan_ent *se) {
    uint32_t pos = 0, pos_cl = 0;
    uint16_t alias[13];
    for (;;) {
        int rc = scan_next(vol, dir, &pos, &pos_cl, se);
        if (rc <= 0) return rc == 0 ? -KENOENT : rc;
        if (fat32i_names_equal(se->name, se->name_len, name, len)) return 0;
        if (se->has_lfn) {
            uint32_t alen = fat32i_short_to_16(se->sfn, alias);
            if (fat32i_names_equal(alias, alen, name, len)) return 0;
        }
    }
}

int fat32i_node_store(struct fat32_volume *vol, const struct fat32_node *node) {
    uint8_t e[32];
    if (node->is_root) return 0;
    int rc = entry_read(vol, node->parent_cluster, node->entry_index, e);
    if (rc < 0) return rc;
    if (e[0] == 0 || e[0] == 0xE5 || (e[11] & 0x3F) == ATTR_LFN) {
        printk(LOG_WARN, "fat32: directory entry vanished under an open node\n");
        return -KEIO;
    }
    e[11] = node->attr;
    fat_wr16(e + 20, (uint16_t)(node->first_cluster >> 16));
    fat_wr16(e + 26, (uint16_t)node->first_cluster);
    fat_wr32(e + 28, (node->attr & FAT32_ATTR_DIRECTORY) ? 0 : node->size);
    fat_wr16(e + 18, node->adate);
    fat_wr16(e + 22, node->mtime);
    fat_wr16(e + 24, node->mdate);
    return entry_write(vol, node->parent_cluster, node->entry_index, e);
}

/* ---- public: root, lookup, readdir, stat ---- */

void fat32_root(struct fat32_volume *vol, struct fat32_node *out) {
    memset(out, 0, sizeof(*out));
    out->is_root = true;
    out->attr = FAT32_ATTR_DIRECTORY;
    out->first_cluster = vol->root_cluster;
}

int fat32_lookup(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                 struct fat32_node *out) {
    uint32_t dcl, len;
    uint16_t n16[FAT32_NAME_MAX + 1];
    struct scan_ent se_buf;
    int rc = dir_cluster_of(vol, dir, &dcl);
    if (rc < 0) return rc;
    if (!name || strchr(name, '/')) return -KEINVAL;
    rc = fat32i_utf8_to_16(name, n16, &len);
    if (rc < 0) return rc;
    if (dcl == vol->root_cluster && ((len == 1 && n16[0] == '.') || (len == 2 && n16[0] == '.' && n16[1] == '.'))) {
        fat32_root(vol, out);
        return 0;
    }
    rc = find(vol, dcl, n16, len, &se_buf);
    if (rc < 0) return rc;
    node_from_entry(vol, out, se_buf.sfn, dcl, se_buf.index, se_buf.first_index);
    return 0;
}

int fat32_dir_open(struct fat32_volume *vol, const struct fat32_node *dir, struct fat32_dir_iter *it) {
    uint32_t dcl;
    int rc = dir_cluster_of(vol, dir, &dcl);
    if (rc < 0) return rc;
    it->dir_cluster = dcl;
    it->next_index = 0;
    it->cluster = 0;
    return 0;
}

int fat32_readdir(struct fat32_volume *vol, struct fat32_dir_iter *it, struct fat32_dirent *out) {
    struct scan_ent se;
    if (!vol || !vol->mounted || !it || !out) return -KEINVAL;
    if (it->dir_cluster == 0) it->dir_cluster = vol->root_cluster;
    if (!fat32i_cluster_ok(vol, it->dir_cluster)) return -KEIO;
    int rc = scan_next(vol, it->dir_cluster, &it->next_index, &it->cluster, &se);
    if (rc <= 0) return rc;
    fat32i_utf16_to_8(se.name, se.name_len, out->name, sizeof(out->name));
    fat32i_short_text(se.sfn, out->short_name);
    node_from_entry(vol, &out->node, se.sfn, it->dir_cluster, se.index, se.first_index);
    return 1;
}

static void decode_time(uint16_t date, uint16_t time, struct fat32_time *t) {
    t->year = (uint16_t)(1980 + (date >> 9));
    t->month = (uint8_t)((date >> 5) & 0x0F);
    t->day = (uint8_t)(date & 0x1F);
    t->hour = (uint8_t)(time >> 11);
    t->minute = (uint8_t)((time >> 5) & 0x3F);
    t->second = (uint8_t)((time & 0x1F) * 2);
}

void fat32_stat(const struct fat32_node *node, struct fat32_stat *out) {
    memset(out, 0, sizeof(*out));
    out->size = node->size;
    out->attr = node->attr;
    out->is_dir = node->is_root || (node->attr & FAT32_ATTR_DIRECTORY);
    out->first_cluster = node->first_cluster;
    decode_time(node->cdate, node->ctime, &out->ctime);
    decode_time(node->mdate, node->mtime, &out->mtime);
    decode_time(node->adate, 0, &out->atime);
}

/* ---- creating entries ---- */

/* 1 if an entry in dir already has the 11-byte short name sfn. */
static int short_exists(struct fat32_volume *vol, uint32_t dir, const uint8_t *sfn) {
    struct scan_ent se;
    uint32_t pos = 0, pos_cl = 0;
    for (;;) {
        int rc = scan_next(vol, dir, &pos, &pos_cl, &se);
        if (rc <= 0) return rc;
        if (memcmp(se.sfn, sfn, 11) == 0) return 1;
    }
}

/* Builds a unique alias "BASIS~N.EXT" for a long name (§7 numeric-tail generation). */
static int make_alias(struct fat32_volume *vol, uint32_t dir, const uint16_t *n, uint32_t len,
                      uint8_t *sfn) {
    uint8_t base[8], ext[3];
    uint32_t blen = 0, elen = 0, start = 0, last_dot = len;
    while (start < len && n[start] == '.') start++;
    for (uint32_t i = start; i < len; i++)
        if (n[i] == '.') last_dot = i;
    for (uint32_t i = start; i < len && i < last_dot && blen < 8; i++) {
        uint16_t c = fat32i_fold(n[i]);
        if (c == ' ' || c == '.') continue;
        base[blen++] = fat32i_short_char_ok(c) ? (uint8_t)c : '_';
    }
    for (uint32_t i = last_dot + 1; i < len && elen < 3; i++) {
        uint16_t c = fat32i_fold(n[i]);
        if (c == ' ' || c == '.') continue;
        ext[elen++] = fat32i_short_char_ok(c) ? (uint8_t)c : '_';
    }
    if (blen == 0) base[blen++] = '_';
    for (uint32_t num = 1; num < 1000000; num++) {
        char tail[8];
        uint32_t tl = 0, v = num;
        char digits[7];
        uint32_t nd = 0;
        while (v) { digits[nd++] = (char)('0' + v % 10); v /= 10; }
        tail[tl++] = '~';
        while (nd) tail[tl++] = digits[--nd];
        uint32_t keep = MIN(blen, 8 - tl);
        memset(sfn, ' ', 11);
        memcpy(sfn, base, keep);
        memcpy(sfn + keep, tail, tl);
        memcpy(sfn + 8, ext, elen);
        int rc = short_exists(vol, dir, sfn);
        if (rc < 0) return rc;
        if (rc == 0) return 0;
    }
    return -KEEXIST;
}

/* Adds entries for name (LFN + short) to dir; tmpl supplies attr, cluster, size and times.
 * Grows the directory by zeroed clusters when needed (allocated before being linked). */
static int dir_add(struct fat32_volume *vol, uint32_t dir, const uint16_t *name, uint32_t len,
                   uint8_t *tmpl, struct fat32_node *out) {
    uint8_t sfn[11];
    int rc;
    bool lfn = !fat32i_exact_short(name, len, sfn);
    if (lfn && (rc = make_alias(vol, dir, name, len, sfn)) < 0) return rc;
    uint32_t nlfn = lfn ? (len + 12) / 13 : 0, total = nlfn + 1;
    /* find total free slots in a row */
    struct dcur c;
    uint32_t run_start = 0, run_len = 0, found;
    bool at_end = false;
    rc = dcur_seek(vol, &c, dir, 0);
    if (rc < 0) return rc == -KENOENT ? -KEIO : rc;
    for (;;) {
        if (c.index >= DIR_MAX_ENTRIES) return -KEIO;
        uint8_t *p = dcur_entry(vol, &c, &rc);
        if (!p) return rc;
        if (p[0] == 0) { found = run_len ? run_start : c.index; at_end = true; break; }
        if (p[0] == 0xE5) {
            if (run_len++ == 0) run_start = c.index;
            if (run_len == total) { found = run_start; break; }
        } else {
            run_len = 0;
        }
        rc = dcur_advance(vol, &c);
        if (rc < 0) return rc;
        if (rc == 1) { found = run_len ? run_start : c.index; at_end = true; break; }
    }
    if (found + total > DIR_MAX_ENTRIES) return -KENOSPC;
    uint32_t have, last;
    rc = fat32i_chain_length(vol, dir, &have, &last);
    if (rc < 0) return rc;
    uint32_t epc = per_cluster(vol);
    uint32_t need = (found + total + epc - 1) / epc;
    if (need > have) {
        uint32_t first, tail;
        rc = fat32i_alloc_chain(vol, need - have, &first, &tail);
        if (rc < 0) return rc;
        for (uint32_t cl = first; cl != 0 && rc == 0;) {
            rc = fat32i_zero_cluster(vol, cl);
            if (rc == 0) rc = fat32i_next(vol, cl, &cl);
        }
        if (rc == 0) rc = fat32i_set(vol, last, first);
        if (rc == 0) rc = fat32i_fat_flush(vol);
        if (rc < 0) { fat32i_free_chain(vol, first); return rc; }
        have = need;
    }
    uint8_t sum = fat32i_lfn_checksum(sfn), e[32];
    for (uint32_t ord = nlfn; ord >= 1; ord--) {
        memset(e, 0, 32);
        e[0] = (uint8_t)(ord | (ord == nlfn ? 0x40 : 0));
        e[11] = ATTR_LFN;
        e[13] = sum;
        for (uint32_t k = 0; k < 13; k++) {
            uint32_t at = (ord - 1) * 13 + k;
            fat_wr16(e + fat32i_lfn_offsets[k], at < len ? name[at] : at == len ? 0 : 0xFFFF);
        }
        rc = entry_write(vol, dir, found + (nlfn - ord), e);
        if (rc < 0) return rc;
    }
    memcpy(e, tmpl, 32);
    memcpy(e, sfn, 11);
    rc = entry_write(vol, dir, found + nlfn, e);
    if (rc < 0) return rc;
    if (at_end && found + total < have * epc) { /* keep an end marker after the new entries */
        uint8_t t[32];
        rc = entry_read(vol, dir, found + total, t);
        if (rc == 0 && t[0] != 0) {
            t[0] = 0;
            rc = entry_write(vol, dir, found + total, t);
        }
        if (rc < 0) return rc;
    }
    node_from_entry(vol, out, e, dir, found + nlfn, found);
    return 0;
}

static void make_template(struct fat32_volume *vol, uint8_t *t, uint8_t attr, uint32_t cluster,
                          uint32_t size) {
    uint16_t d, tm;
    memset(t, 0, 32);
    memset(t, ' ', 11);
    fat32i_now(vol, &d, &tm);
    t[11] = attr;
    fat_wr16(t + 14, tm);
    fat_wr16(t + 16, d);
    fat_wr16(t + 18, d);
    fat_wr16(t + 20, (uint16_t)(cluster >> 16));
    fat_wr16(t + 22, tm);
    fat_wr16(t + 24, d);
    fat_wr16(t + 26, (uint16_t)cluster);
    fat_wr32(t + 28, size);
}

static int prepare_new(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                       uint32_t *dcl, uint16_t *n16, uint32_t *len) {
    int rc = dir_cluster_of(vol, dir, dcl);
    if (rc < 0) return rc;
    if (!name || strchr(name, '/')) return -KEINVAL;
    rc = fat32i_utf8_to_16(name, n16, len);
    if (rc < 0) return rc;
    if (!fat32i_name_valid_for_create(n16, *len)) return -KEINVAL;
    struct scan_ent se;
    rc = find(vol, *dcl, n16, *len, &se);
    if (rc == 0) return -KEEXIST;
    return rc == -KENOENT ? 0 : rc;
}

int fat32_create(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                 struct fat32_node *out) {
    uint32_t dcl, len;
    uint16_t n16[FAT32_NAME_MAX + 1];
    uint8_t t[32];
    int rc = prepare_new(vol, dir, name, &dcl, n16, &len);
    if (rc < 0) return rc;
    make_template(vol, t, FAT32_ATTR_ARCHIVE, 0, 0);
    rc = dir_add(vol, dcl, n16, len, t, out);
    int rc2 = fat32i_fat_flush(vol);
    return rc < 0 ? rc : rc2;
}

int fat32_mkdir(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                struct fat32_node *out) {
    uint32_t dcl, len, cl, tail;
    uint16_t n16[FAT32_NAME_MAX + 1];
    uint8_t t[32];
    int rc = prepare_new(vol, dir, name, &dcl, n16, &len);
    if (rc < 0) return rc;
    rc = fat32i_alloc_chain(vol, 1, &cl, &tail);
    if (rc < 0) return rc;
    rc = fat32i_zero_cluster(vol, cl);
    make_template(vol, t, FAT32_ATTR_DIRECTORY, cl, 0);
    t[0] = '.';
    if (rc == 0) rc = entry_write(vol, cl, 0, t);
    make_template(vol, t, FAT32_ATTR_DIRECTORY, dcl == vol->root_cluster ? 0 : dcl, 0);
    t[0] = t[1] = '.';
    if (rc == 0) rc = entry_write(vol, cl, 1, t);
    make_template(vol, t, FAT32_ATTR_DIRECTORY, cl, 0);
    if (rc == 0) rc = dir_add(vol, dcl, n16, len, t, out);
    if (rc < 0) fat32i_free_chain(vol, cl);
    int rc2 = fat32i_fat_flush(vol);
    return rc < 0 ? rc : rc2;
}

/* ---- removing and renaming ---- */

static int mark_deleted(struct fat32_volume *vol, uint32_t dir, uint32_t first, uint32_t last) {
    uint8_t e[32];
    for (uint32_t i = first; i <= last; i++) {
        int rc = entry_read(vol, dir, i, e);
        if (rc < 0) return rc;
        e[0] = 0xE5;
        rc = entry_write(vol, dir, i, e);
        if (rc < 0) return rc;
    }
    return 0;
}

/* 0 if directory cl holds only ".", ".." and deleted entries. */
static int dir_empty(struct fat32_volume *vol, uint32_t cl) {
    struct scan_ent se;
    uint32_t pos = 0, pos_cl = 0;
    for (;;) {
        int rc = scan_next(vol, cl, &pos, &pos_cl, &se);
        if (rc < 0) return rc;
        if (rc == 0) return 0;
        if (se.sfn[0] == '.' && (memcmp(se.sfn, ".          ", 11) == 0 ||
                                 memcmp(se.sfn, "..         ", 11) == 0))
            continue;
        return -KENOTEMPTY;
    }
}

/* Removes entry se of dir: validates its chain, marks the entries deleted, frees the chain. */
static int remove_entry(struct fat32_volume *vol, uint32_t dir, const struct scan_ent *se,
                        bool free_data) {
    struct fat32_node n;
    uint32_t len;
    node_from_entry(vol, &n, se->sfn, dir, se->index, se->first_index);
    if (n.is_root) return -KEIO;
    int rc = free_data ? fat32i_chain_length(vol, n.first_cluster, &len, NULL) : 0;
    if (rc == 0) rc = mark_deleted(vol, dir, se->first_index, se->index);
    if (rc == 0 && free_data) rc = fat32i_free_chain(vol, n.first_cluster);
    return rc;
}

static int lookup_entry(struct fat32_volume *vol, const struct fat32_node *dir, const char *name,
                        uint32_t *dcl, struct scan_ent *se) {
    uint32_t len;
    uint16_t n16[FAT32_NAME_MAX + 1];
    int rc = dir_cluster_of(vol, dir, dcl);
    if (rc < 0) return rc;
    if (!name || strchr(name, '/')) return -KEINVAL;
    rc = fat32i_utf8_to_16(name, n16, &len);
    if (rc < 0) return rc;
    if (!fat32i_name_valid_for_create(n16, len)) return -KEINVAL;
    return find(vol, *dcl, n16, len, se);
}

static bool is_dot(const struct scan_ent *se) { return se->sfn[0] == '.'; }

int fat32_unlink(struct fat32_volume *vol, const struct fat32_node *dir, const char *name) {
    uint32_t dcl;
    struct scan_ent se;
    int rc = lookup_entry(vol, dir, name, &dcl, &se);
    if (rc < 0) return rc;
    if (se.sfn[11] & FAT32_ATTR_DIRECTORY) return -KEISDIR;
    return remove_entry(vol, dcl, &se, true);
}

int fat32_rmdir(struct fat32_volume *vol, const struct fat32_node *dir, const char *name) {
    uint32_t dcl;
    struct scan_ent se;
    struct fat32_node n;
    int rc = lookup_entry(vol, dir, name, &dcl, &se);
    if (rc < 0) return rc;
    if (!(se.sfn[11] & FAT32_ATTR_DIRECTORY)) return -KENOTDIR;
    if (is_dot(&se)) return -KEINVAL;
    node_from_entry(vol, &n, se.sfn, dcl, se.index, se.first_index);
    if (n.is_root) return -KEIO;
    rc = dir_empty(vol, n.first_cluster);
    if (rc < 0) return rc;
    return remove_entry(vol, dcl, &se, true);
}

/* Parent of directory cl via its ".." entry (root for 0). */
static int parent_of(struct fat32_volume *vol, uint32_t cl, uint32_t *parent) {
    uint8_t e[32];
    int rc = entry_read(vol, cl, 1, e);
    if (rc < 0) return rc;
    if (memcmp(e, "..         ", 11) != 0) return -KEIO;
    uint32_t p = ((uint32_t)fat_rd16(e + 20) << 16) | fat_rd16(e + 26);
    *parent = p == 0 ? vol->root_cluster : p;
    return fat32i_cluster_ok(vol, *parent) ? 0 : -KEIO;
}

int fat32_rename(struct fat32_volume *vol, const struct fat32_node *old_dir, const char *old_name,
                 const struct fat32_node *new_dir, const char *new_name) {
    uint32_t odcl, ndcl, len;
    uint16_t n16[FAT32_NAME_MAX + 1];
    struct scan_ent src, dst;
    struct fat32_node moved;
    int rc = lookup_entry(vol, old_dir, old_name, &odcl, &src);
    if (rc < 0) return rc;
    if (is_dot(&src)) return -KEINVAL;
    rc = dir_cluster_of(vol, new_dir, &ndcl);
    if (rc < 0) return rc;
    if (!new_name || strchr(new_name, '/')) return -KEINVAL;
    rc = fat32i_utf8_to_16(new_name, n16, &len);
    if (rc < 0) return rc;
    if (!fat32i_name_valid_for_create(n16, len)) return -KEINVAL;
    bool src_dir = src.sfn[11] & FAT32_ATTR_DIRECTORY;
    uint32_t src_cl = ((uint32_t)fat_rd16(src.sfn + 20) << 16) | fat_rd16(src.sfn + 26);
    if (src_dir && ndcl != odcl) { /* refuse moving a directory below itself */
        uint32_t cl = ndcl;
        for (uint32_t steps = 0;; steps++) {
            if (cl == src_cl) return -KEINVAL;
            if (cl == vol->root_cluster) break;
            if (steps > vol->cluster_count) return -KEIO;
            rc = parent_of(vol, cl, &cl);
            if (rc < 0) return rc;
        }
    }
    rc = find(vol, ndcl, n16, len, &dst);
    if (rc < 0 && rc != -KENOENT) return rc;
    if (rc == 0) {
        if (ndcl == odcl && dst.index == src.index) {
            /* same entry: only the spelling may change */
            if (src.name_len == len && memcmp(src.name, n16, len * 2) == 0) return 0;
        } else {
            bool dst_dir = dst.sfn[11] & FAT32_ATTR_DIRECTORY;
            if (is_dot(&dst)) return -KEINVAL;
            if (src_dir && !dst_dir) return -KENOTDIR;
            if (!src_dir && dst_dir) return -KEISDIR;
            if (dst_dir) {
                struct fat32_node dn;
                node_from_entry(vol, &dn, dst.sfn, ndcl, dst.index, dst.first_index);
                if (dn.is_root) return -KEIO;
                rc = dir_empty(vol, dn.first_cluster);
                if (rc < 0) return rc;
            }
            rc = remove_entry(vol, ndcl, &dst, true);
            if (rc < 0) return rc;
        }
    }
    uint8_t t[32];
    memcpy(t, src.sfn, 32);
    t[12] = 0; /* the new name carries its own case */
    rc = dir_add(vol, ndcl, n16, len, t, &moved);
    if (rc < 0) return rc;
    rc = mark_deleted(vol, odcl, src.first_index, src.index);
    if (rc < 0) return rc;
    if (src_dir && ndcl != odcl) {
        uint8_t e[32];
        rc = entry_read(vol, src_cl, 1, e);
        if (rc == 0 && memcmp(e, "..         ", 11) == 0) {
            uint32_t p = ndcl == vol->root_cluster ? 0 : ndcl;
            fat_wr16(e + 20, (uint16_t)(p >> 16));
            fat_wr16(e + 26, (uint16_t)p);
            rc = entry_write(vol, src_cl, 1, e);
        }
        if (rc < 0) return rc;
    }
    return fat32i_fat_flush(vol);
}
