/* fat32_name.c: FAT32 engine, names: UTF-8 <-> UTF-16 conversion, case folding for
 * case-insensitive lookup, 8.3 short names (fatgen103 §6: the 11-byte name, 0x05 for a leading
 * 0xE5, NT lower-case flags), long-name checksums and the character slots of an LFN entry (§7). */
#include "fat32_internal.h"

uint16_t fat32i_fold(uint16_t c) {
    if (c >= 'a' && c <= 'z') return (uint16_t)(c - 32);
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return (uint16_t)(c - 32);
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return (uint16_t)(c - 32);
    if (c >= 0x430 && c <= 0x44F) return (uint16_t)(c - 32);
    if (c >= 0x450 && c <= 0x45F) return (uint16_t)(c - 80);
    return c;
}

bool fat32i_names_equal(const uint16_t *a, uint32_t alen, const uint16_t *b, uint32_t blen) {
    if (alen != blen) return false;
    for (uint32_t i = 0; i < alen; i++)
        if (fat32i_fold(a[i]) != fat32i_fold(b[i])) return false;
    return true;
}

/* UTF-8 -> UTF-16; -KEINVAL for malformed UTF-8, -KENAMETOOLONG past 255 units. */
int fat32i_utf8_to_16(const char *s, uint16_t *out, uint32_t *len) {
    uint32_t n = 0;
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        uint32_t cp, more;
        if (*p < 0x80) { cp = *p; more = 0; }
        else if ((*p & 0xE0) == 0xC0) { cp = *p & 0x1F; more = 1; }
        else if ((*p & 0xF0) == 0xE0) { cp = *p & 0x0F; more = 2; }
        else if ((*p & 0xF8) == 0xF0) { cp = *p & 0x07; more = 3; }
        else return -KEINVAL;
        p++;
        for (uint32_t i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) return -KEINVAL;
            cp = (cp << 6) | (*p & 0x3F);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -KEINVAL;
        if (cp >= 0x10000) {
            if (n + 2 > FAT32_NAME_MAX) return -KENAMETOOLONG;
            cp -= 0x10000;
            out[n++] = (uint16_t)(0xD800 | (cp >> 10));
            out[n++] = (uint16_t)(0xDC00 | (cp & 0x3FF));
        } else {
            if (n + 1 > FAT32_NAME_MAX) return -KENAMETOOLONG;
            out[n++] = (uint16_t)cp;
        }
    }
    if (n == 0) return -KEINVAL;
    *len = n;
    return 0;
}

void fat32i_utf16_to_8(const uint16_t *in, uint32_t len, char *out, size_t cap) {
    size_t o = 0;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t cp = in[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < len && in[i + 1] >= 0xDC00 && in[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (in[i + 1] - 0xDC00);
            i++;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = '?';
        }
        char tmp[4];
        size_t n;
        if (cp < 0x80) { tmp[0] = (char)cp; n = 1; }
        else if (cp < 0x800) { tmp[0] = (char)(0xC0 | (cp >> 6)); tmp[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
        else if (cp < 0x10000) {
            tmp[0] = (char)(0xE0 | (cp >> 12)); tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            tmp[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
        } else {
            tmp[0] = (char)(0xF0 | (cp >> 18)); tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); tmp[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
        }
        if (o + n + 1 > cap) break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = 0;
}

/* 8.3 name of entry e as UTF-16 (honouring the NT lower-case flags) and as text. */
uint32_t fat32i_short_to_16(const uint8_t *e, uint16_t *out) {
    uint32_t n = 0;
    bool lower_base = e[12] & 0x08, lower_ext = e[12] & 0x10;
    for (int i = 0; i < 8 && e[i] != ' '; i++) {
        uint8_t ch = (i == 0 && e[0] == 0x05) ? 0xE5 : e[i];
        out[n++] = (lower_base && ch >= 'A' && ch <= 'Z') ? (uint16_t)(ch + 32) : ch;
    }
    if (e[8] != ' ') {
        out[n++] = '.';
        for (int i = 8; i < 11 && e[i] != ' '; i++)
            out[n++] = (lower_ext && e[i] >= 'A' && e[i] <= 'Z') ? (uint16_t)(e[i] + 32) : e[i];
    }
    return n;
}

void fat32i_short_text(const uint8_t *e, char *out) {
    uint32_t n = 0;
    for (int i = 0; i < 8 && e[i] != ' '; i++) out[n++] = (char)((e[i] < 0x20 || e[i] > 0x7E) ? '?' : e[i]);
    if (e[8] != ' ') {
        out[n++] = '.';
        for (int i = 8; i < 11 && e[i] != ' '; i++) out[n++] = (char)((e[i] < 0x20 || e[i] > 0x7E) ? '?' : e[i]);
    }
    out[n] = 0;
}

uint8_t fat32i_lfn_checksum(const uint8_t *sfn) {
    uint8_t sum = 0;
    for (int i = 0; i < 11; i++) sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + sfn[i]);
    return sum;
}

const uint8_t fat32i_lfn_offsets[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };

bool fat32i_short_char_ok(uint16_t c) {
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c < 0x80 && strchr("$%'-_@~`!(){}^#&", (int)c) && c != 0;
}

/* True (and sfn filled) when name is already a valid upper-case 8.3 name. */
bool fat32i_exact_short(const uint16_t *n, uint32_t len, uint8_t *sfn) {
    uint32_t base = 0, ext = 0;
    bool in_ext = false;
    memset(sfn, ' ', 11);
    for (uint32_t i = 0; i < len; i++) {
        if (n[i] == '.') {
            if (in_ext || base == 0) return false;
            in_ext = true;
            continue;
        }
        if (!fat32i_short_char_ok(n[i])) return false;
        if (in_ext) { if (ext == 3) return false; sfn[8 + ext++] = (uint8_t)n[i]; }
        else { if (base == 8) return false; sfn[base++] = (uint8_t)n[i]; }
    }
    return base > 0 && !(in_ext && ext == 0);
}

bool fat32i_name_valid_for_create(const uint16_t *n, uint32_t len) {
    if ((len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.')) return false;
    if (n[len - 1] == '.' || n[len - 1] == ' ') return false;
    for (uint32_t i = 0; i < len; i++) {
        if (n[i] < 0x20 || (n[i] < 0x80 && strchr("\"*/:<>?\\|", (int)n[i]))) return false;
    }
    return true;
}

