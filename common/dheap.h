/* dheap: a min-heap of deadlines (mono ms) for many items that each hold
 * their own position, so that one timer serves every connection: insert,
 * move and remove in O(log n), the earliest in O(1). Pure. */
#ifndef WK_DHEAP_H
#define WK_DHEAP_H

#include <stddef.h>
#include <stdint.h>

struct dheap_ent {
	uint64_t at;     /* the deadline */
	uint32_t *pos;   /* the item's own slot: index + 1, 0 when not in the heap */
	void *item;
};

struct dheap {
	struct dheap_ent *v;
	uint32_t n, cap;
};

int dheap_set(struct dheap *h, uint32_t *pos, uint64_t at, void *item);
void dheap_remove(struct dheap *h, uint32_t *pos);
void *dheap_pop_due(struct dheap *h, uint64_t now);
uint64_t dheap_first(const struct dheap *h);
void dheap_free(struct dheap *h);

#endif
