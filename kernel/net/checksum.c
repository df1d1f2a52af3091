/* checksum.c: the Internet checksum (RFC 1071: one's-complement sum of 16-bit words, an odd
 * trailing byte padded with zero; RFC 1624 for the folding) and the TCP/UDP pseudo-headers
 * of RFC 9293 §3.1 (IPv4) and RFC 8200 §8.1 (IPv6). Words are summed in network order
 * (big-endian) so the folded result is stored with net_put16. */
#include "net.h"

/* Adds len bytes to a running sum: 16-bit words accumulate in 64 bits (no overflow for any
 * length) and are folded back to 32 bits with end-around carry. */
uint32_t net_csum_add(uint32_t sum, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t acc = sum;
    while (len >= 8) {
        acc += (uint32_t)(p[0] << 8 | p[1]) + (uint32_t)(p[2] << 8 | p[3]) +
               (uint32_t)(p[4] << 8 | p[5]) + (uint32_t)(p[6] << 8 | p[7]);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        acc += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        len -= 2;
    }
    if (len)
        acc += (uint32_t)p[0] << 8;
    /* fold 64 -> 32 bits, keeping the one's-complement carries */
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}

/* Folds the sum to 16 bits and complements it: the value to store in a header. */
uint16_t net_csum_fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Pseudo-header sum: addresses, zero+protocol, and the transport length. */
uint32_t net_csum_pseudo(const struct net_addr *src, const struct net_addr *dst, uint8_t proto, uint32_t len) {
    uint32_t sum = 0;
    if (src->family == NET_AF_INET6) {
        sum = net_csum_add(sum, src->v6, 16);
        sum = net_csum_add(sum, dst->v6, 16);
    } else {
        sum = net_csum_add(sum, src->v4, 4);
        sum = net_csum_add(sum, dst->v4, 4);
    }
    uint64_t acc = (uint64_t)sum + proto + (len >> 16) + (len & 0xffff);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}
