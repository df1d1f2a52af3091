/* pkt.c: packet buffers of the network core (net.h). Our own design: one heap allocation
 * holds the struct pkt and its buffer (PKT_HEADROOM bytes in front for headers), so a packet
 * is one kmalloc and one kfree. Ownership rules are in net.h and docs/network.md. */
#include "net.h"
#include "mm.h"
#include "kstring.h"

/* Allocates a packet with `room` bytes after the headroom; data points past the headroom. */
struct pkt *pkt_alloc(uint32_t room) {
    if (room > 65536u + 1024u) /* larger than any datagram plus headers: a caller's bug */
        return NULL;
    uint32_t size = PKT_HEADROOM + room;
    struct pkt *p = kmalloc(sizeof(*p) + size);
    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->head = (uint8_t *)(p + 1);
    p->size = size;
    p->data = p->head + PKT_HEADROOM;
    p->len = 0;
    return p;
}

/* Frees a packet; NULL is ignored. */
void pkt_free(struct pkt *p) {
    kfree(p);
}

/* A copy of p: same size, same headroom, same offsets; next is cleared. */
struct pkt *pkt_clone(const struct pkt *p) {
    if (!p)
        return NULL;
    struct pkt *c = kmalloc(sizeof(*c) + p->size);
    if (!c)
        return NULL;
    *c = *p;
    c->head = (uint8_t *)(c + 1);
    c->data = c->head + (p->data - p->head);
    c->next = NULL;
    memcpy(c->data, p->data, p->len);
    return c;
}
