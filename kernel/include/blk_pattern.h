/* blk_pattern.h: the deterministic byte streams of the storage tests, shared by the kernel
 * self-tests and the host tool tests/tools/blktool.c (xorshift32, Marsaglia 2003). Byte i of
 * the stream with a seed depends only on (seed, i / 4), so any part can be made on its own. */
#pragma once
#include <stdint.h>
#include <stddef.h>

#define BLK_TEST_DATA_SEED 0x5ab0b10cu    /* the 256 KiB test region the build writes */
#define BLK_TEST_DATA_SECTORS 512u
#define BLK_PERSIST_SEED 0x5eed0000u      /* + device index: the guest's persistent writes */

static inline uint32_t blk_pattern_word(uint32_t seed, uint64_t word_index) {
    uint32_t x = seed ^ (uint32_t)(word_index * 0x9e3779b9u) ^ (uint32_t)(word_index >> 32);
    if (x == 0) x = 0x6d2b79f5u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* Fills buf with bytes [offset, offset + len) of the stream (offset a multiple of 4). */
static inline void blk_pattern_fill(uint8_t *buf, size_t len, uint32_t seed, uint64_t offset) {
    for (size_t i = 0; i < len; i++) {
        uint64_t pos = offset + i;
        buf[i] = (uint8_t)(blk_pattern_word(seed, pos / 4) >> (8 * (pos % 4)));
    }
}
