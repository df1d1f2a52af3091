/* fat32_internal.h: helpers shared by fat32.c (BPB, FAT, clusters, file data) and
 * fat32_dir.c (directory entries, long names). Not for other modules: use fat32.h.
 * Layout constants from fatgen103 §3 (BPB), §4 (FAT), §6 (directory entry), §7 (LFN). */
#pragma once
#include "fat32.h"
#include "kerrno.h"
#include "kstring.h"
#include "printk.h"

#define FAT_EOC 0x0FFFFFF8u      /* entries >= this end a chain (§4) */
#define FAT_BAD 0x0FFFFFF7u
#define FAT_MASK 0x0FFFFFFFu
#define DIR_ENTRY_SIZE 32
#define DIR_MAX_ENTRIES 65536u   /* §6: a directory holds at most 65536 entries */
#define ATTR_LFN 0x0F

static inline uint16_t fat_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t fat_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void fat_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void fat_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Sector cache (vol->secbuf): returns a pointer to the cached sector or NULL (error in *err). */
uint8_t *fat32i_sector(struct fat32_volume *vol, uint64_t lba, int *err);
/* Writes the cached sector back to disk. */
int fat32i_sector_write(struct fat32_volume *vol);
/* Zeroes every sector of cluster cl on disk. */
int fat32i_zero_cluster(struct fat32_volume *vol, uint32_t cl);
uint64_t fat32i_cluster_lba(const struct fat32_volume *vol, uint32_t cl);
/* Next cluster after cl: *next is 0 at end of chain. -KEIO for a free/reserved/bad/out of range
 * link. */
int fat32i_next(struct fat32_volume *vol, uint32_t cl, uint32_t *next);
/* Counts the clusters of a chain, validating every link (bounded by the cluster count). */
int fat32i_chain_length(struct fat32_volume *vol, uint32_t first, uint32_t *len, uint32_t *last);
/* Allocates n clusters as one chain ending in EOC; all or nothing (-KENOSPC). */
int fat32i_alloc_chain(struct fat32_volume *vol, uint32_t n, uint32_t *first, uint32_t *last);
/* Frees a chain (validated first). */
int fat32i_free_chain(struct fat32_volume *vol, uint32_t first);
int fat32i_set(struct fat32_volume *vol, uint32_t cl, uint32_t val);
int fat32i_fat_flush(struct fat32_volume *vol);
bool fat32i_cluster_ok(const struct fat32_volume *vol, uint32_t cl);
void fat32i_now(struct fat32_volume *vol, uint16_t *date, uint16_t *time);
/* Rewrites node's short entry from its fields (size, first cluster, times, attr). */
int fat32i_node_store(struct fat32_volume *vol, const struct fat32_node *node);

/* ---- names (fat32_name.c) ---- */
/* Upper-case fold of one UTF-16 unit (ASCII, Latin-1, Greek, Cyrillic) for comparisons. */
uint16_t fat32i_fold(uint16_t c);
/* Case-insensitive equality of two UTF-16 names. */
bool fat32i_names_equal(const uint16_t *a, uint32_t alen, const uint16_t *b, uint32_t blen);
/* UTF-8 -> UTF-16 (out holds FAT32_NAME_MAX units); -KEINVAL for malformed or empty input,
 * -KENAMETOOLONG past 255 units. */
int fat32i_utf8_to_16(const char *s, uint16_t *out, uint32_t *len);
/* UTF-16 -> NUL-terminated UTF-8, truncated to cap; unpaired surrogates become '?'. */
void fat32i_utf16_to_8(const uint16_t *in, uint32_t len, char *out, size_t cap);
/* The 8.3 name of entry e as UTF-16 (NT lower-case flags honoured); returns its length. */
uint32_t fat32i_short_to_16(const uint8_t *e, uint16_t *out);
/* The 8.3 name of entry e as "NAME.EXT" text (out holds 13 bytes). */
void fat32i_short_text(const uint8_t *e, char *out);
/* §7 checksum of an 11-byte short name. */
uint8_t fat32i_lfn_checksum(const uint8_t *sfn);
/* Byte offsets of the 13 UTF-16 characters inside an LFN entry. */
extern const uint8_t fat32i_lfn_offsets[13];
/* True for characters allowed in a short name we generate (upper-case ASCII subset). */
bool fat32i_short_char_ok(uint16_t c);
/* True (sfn filled) when the name already is a valid upper-case 8.3 name. */
bool fat32i_exact_short(const uint16_t *n, uint32_t len, uint8_t *sfn);
/* False for ".", "..", control characters, the characters " * / : < > ? \ | and a trailing dot or space. */
bool fat32i_name_valid_for_create(const uint16_t *n, uint32_t len);
