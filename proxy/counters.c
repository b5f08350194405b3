/* counters: the last value of every counted element of the admitted-client
 * sets and the growth since then. A read is staged into a new table and
 * billed only once complete, so a read that fails part way bills nothing
 * and the next one bills the growth since the last complete one. A pair's
 * growth is what its MAC sent, a reply address's what the MAC holding it
 * received (the caller attributes them). Pure. */
#include "counters.h"

#include <stdlib.h>
#include <string.h>

/* One element's last value. */
struct ctr_ent {
	bool used, pair;
	struct wk_mac mac;
	struct wk_ip ip;
	uint64_t bytes, packets;
};

/* An open-addressing table of elements, rebuilt at every read. */
struct ctr_tab {
	struct ctr_ent *e;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

struct counters {
	struct ctr_tab cur;  /* the last complete read */
	struct ctr_tab next; /* the read being staged */
	bool oom;            /* staging ran out of memory */
	int counted;         /* counted elements staged */
};

/* Hash an element's key (FNV-1a over MAC, family and address). */
static size_t
ctr_hash(bool pair, const struct wk_mac *mac, const struct wk_ip *ip)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)pair;
	const uint8_t *a = (const uint8_t *)&ip->u;
	size_t alen = ip->family == AF_INET ? 4 : 16;

	for (int i = 0; pair && i < 6; i++)
		h = (h ^ mac->b[i]) * 1099511628211ULL;
	h = (h ^ (uint64_t)ip->family) * 1099511628211ULL;
	for (size_t i = 0; i < alen; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot of a key in t (free or matching); t must have a free slot. */
static struct ctr_ent *
ctr_slot(struct ctr_tab *t, bool pair, const struct wk_mac *mac,
    const struct wk_ip *ip)
{
	for (size_t i = ctr_hash(pair, mac, ip) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct ctr_ent *e = &t->e[i];
		if (!e->used || (e->pair == pair && (!pair || addr_mac_equal(&e->mac, mac)) &&
				    addr_ip_equal(&e->ip, ip)))
			return e;
	}
}

/* The entry of a key in t, or NULL. */
static const struct ctr_ent *
ctr_find(struct ctr_tab *t, bool pair, const struct wk_mac *mac,
    const struct wk_ip *ip)
{
	const struct ctr_ent *e;

	if (t->cap == 0)
		return NULL;
	e = ctr_slot(t, pair, mac, ip);
	return e->used ? e : NULL;
}

/* Double a table's size (rehashing); -1 on no memory. */
static int
ctr_grow(struct ctr_tab *t)
{
	struct ctr_tab n = { .cap = t->cap ? 2 * t->cap : 256 };

	n.e = calloc(n.cap, sizeof(*n.e));
	if (n.e == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used) {
			*ctr_slot(&n, t->e[i].pair, &t->e[i].mac, &t->e[i].ip) = t->e[i];
			n.n++;
		}
	free(t->e);
	*t = n;
	return 0;
}

/* Empty a table and free its memory. */
static void
ctr_clear(struct ctr_tab *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

/* An empty state. */
struct counters *
counters_new(void)
{
	return calloc(1, sizeof(struct counters));
}

/* Free the state. */
void
counters_free(struct counters *c)
{
	if (c == NULL)
		return;
	ctr_clear(&c->cur);
	ctr_clear(&c->next);
	free(c);
}

/* Start staging a read. */
void
counters_begin(struct counters *c)
{
	ctr_clear(&c->next);
	c->oom = false;
	c->counted = 0;
}

/* Stage one element (see counters.h). */
void
counters_stage(const struct firewall_count *e, void *arg)
{
	struct counters *c = arg;
	struct ctr_ent *ne;

	if (!e->counted || c->oom)
		return;
	if ((c->next.n + 1) * 2 > c->next.cap && ctr_grow(&c->next) < 0) {
		c->oom = true;
		return;
	}
	ne = ctr_slot(&c->next, e->pair, &e->mac, &e->ip);
	if (!ne->used)
		c->next.n++;
	*ne = (struct ctr_ent){ .used = true, .pair = e->pair, .mac = e->mac,
		.ip = e->ip, .bytes = e->bytes, .packets = e->packets };
	c->counted++;
}

/* Bill the staged read against the last one (see counters.h). */
int
counters_commit(struct counters *c, counters_delta_cb cb, void *arg)
{
	int counted = c->counted;

	if (c->oom) {
		counters_abort(c);
		return -1;
	}
	for (size_t i = 0; i < c->next.cap; i++) {
		const struct ctr_ent *ne = &c->next.e[i], *old;
		struct firewall_count fc;
		uint64_t db, dp;

		if (!ne->used)
			continue;
		old = ctr_find(&c->cur, ne->pair, &ne->mac, &ne->ip);
		/* Smaller than before: the element was re-added (deleted and
		 * added again at zero) since; all of it is new. */
		db = old && ne->bytes >= old->bytes ? ne->bytes - old->bytes : ne->bytes;
		dp = old && ne->packets >= old->packets ? ne->packets - old->packets
		    : ne->packets;
		if (db == 0 && dp == 0)
			continue;
		fc = (struct firewall_count){ .pair = ne->pair, .counted = true,
			.mac = ne->mac, .ip = ne->ip, .packets = ne->packets,
			.bytes = ne->bytes };
		cb(&fc, db, dp, arg);
	}
	ctr_clear(&c->cur);
	c->cur = c->next;
	memset(&c->next, 0, sizeof(c->next));
	c->counted = 0;
	return counted;
}

/* Drop a staged read (see counters.h). */
void
counters_abort(struct counters *c)
{
	ctr_clear(&c->next);
	c->oom = false;
	c->counted = 0;
}

/* Forget every last value (see counters.h). */
void
counters_forget_all(struct counters *c)
{
	ctr_clear(&c->cur);
}

/* Forget mac's pairs and the reply entries of their addresses (see
 * counters.h): rebuilt without them (a revocation, not a hot path). */
void
counters_forget_mac(struct counters *c, const struct wk_mac *mac)
{
	struct ctr_tab keep = { 0 };
	struct wk_ip *ips = NULL;
	size_t nips = 0;

	if (c->cur.n == 0)
		return;
	ips = calloc(c->cur.n, sizeof(*ips));
	if (ips == NULL) { /* forgetting too much only bills whole values */
		counters_forget_all(c);
		return;
	}
	for (size_t i = 0; i < c->cur.cap; i++) {
		const struct ctr_ent *e = &c->cur.e[i];
		if (e->used && e->pair && addr_mac_equal(&e->mac, mac))
			ips[nips++] = e->ip;
	}
	for (size_t i = 0; i < c->cur.cap; i++) {
		const struct ctr_ent *e = &c->cur.e[i];
		bool drop = false;
		if (!e->used)
			continue;
		if (e->pair)
			drop = addr_mac_equal(&e->mac, mac);
		else
			for (size_t k = 0; k < nips && !drop; k++)
				drop = addr_ip_equal(&e->ip, &ips[k]);
		if (drop)
			continue;
		if ((keep.n + 1) * 2 > keep.cap && ctr_grow(&keep) < 0) {
			ctr_clear(&keep);
			free(ips);
			counters_forget_all(c);
			return;
		}
		*ctr_slot(&keep, e->pair, &e->mac, &e->ip) = *e;
		keep.n++;
	}
	free(ips);
	ctr_clear(&c->cur);
	c->cur = keep;
}
