/* dheap: a binary min-heap in an array; each entry points back at its
 * item's position field, which the heap keeps current as entries move. */
#include "dheap.h"

#include <stdlib.h>

/* Put entry e at index i and tell its item where it is. */
static void
dheap_place(struct dheap *h, uint32_t i, struct dheap_ent e)
{
	h->v[i] = e;
	*e.pos = i + 1;
}

/* Move the entry at i towards the root while it is earlier than its parent. */
static void
dheap_up(struct dheap *h, uint32_t i)
{
	struct dheap_ent e = h->v[i];

	while (i > 0 && h->v[(i - 1) / 2].at > e.at) {
		dheap_place(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	dheap_place(h, i, e);
}

/* Move the entry at i towards the leaves while a child is earlier. */
static void
dheap_down(struct dheap *h, uint32_t i)
{
	struct dheap_ent e = h->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1].at < h->v[c].at)
			c++;
		if (h->v[c].at >= e.at)
			break;
		dheap_place(h, i, h->v[c]);
		i = c;
	}
	dheap_place(h, i, e);
}

/* Give the item at *pos (inserted when *pos is 0) the deadline at.
 * 0, or -1 when the heap cannot grow (the item is then not in it). */
int
dheap_set(struct dheap *h, uint32_t *pos, uint64_t at, void *item)
{
	uint32_t i;

	if (*pos != 0) {
		i = *pos - 1;
		uint64_t old = h->v[i].at;
		h->v[i].at = at;
		if (at < old)
			dheap_up(h, i);
		else
			dheap_down(h, i);
		return 0;
	}
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct dheap_ent *v = realloc(h->v, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	i = h->n++;
	h->v[i] = (struct dheap_ent){ at, pos, item };
	dheap_up(h, i);
	return 0;
}

/* Take the item at *pos out of the heap (nothing when it is not in it). */
void
dheap_remove(struct dheap *h, uint32_t *pos)
{
	uint32_t i;

	if (*pos == 0)
		return;
	i = *pos - 1;
	*pos = 0;
	if (i == --h->n)
		return;
	h->v[i] = h->v[h->n];
	*h->v[i].pos = i + 1;
	if (i > 0 && h->v[(i - 1) / 2].at > h->v[i].at)
		dheap_up(h, i);
	else
		dheap_down(h, i);
}

/* Remove and return the earliest item if its deadline is at or before
 * now; NULL otherwise. */
void *
dheap_pop_due(struct dheap *h, uint64_t now)
{
	void *item;

	if (h->n == 0 || h->v[0].at > now)
		return NULL;
	item = h->v[0].item;
	dheap_remove(h, h->v[0].pos);
	return item;
}

/* The earliest deadline, or 0 when the heap is empty. */
uint64_t
dheap_first(const struct dheap *h)
{
	return h->n ? h->v[0].at : 0;
}

/* Release the heap's memory. */
void
dheap_free(struct dheap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
