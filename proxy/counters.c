/* counters: reads the four address sets' per-element counters once a
 * second (and before every reconcile, which flushes them), keeps the last
 * value of each element, and accounts the difference: a (MAC . address)
 * pair's bytes are what that MAC sent, a reply address's bytes what the
 * MAC holding that address received. An element that went back to a
 * smaller value was re-added (a reconcile): its whole value is new. */
#include "counters.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "firewall.h"
#include "gate.h"
#include "grant.h"
#include "radius.h"
#include "registry.h"

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
	size_t cap; /* a power of two */
	size_t n;
};

struct counters {
	struct ctr_tab cur;
};

/* A read in progress: the new table and where the deltas go. */
struct ctr_read {
	struct gate *g;
	struct ctr_tab *old, next;
	bool counted, oom;
	uint64_t now_ms;
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

/* The slot of a key in t (free or matching); t must not be full. */
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

/* One element read: remember it, account its growth to its MAC. */
static void
ctr_on_elem(const struct firewall_count *c, void *arg)
{
	struct ctr_read *r = arg;
	struct ctr_ent *old = NULL, *ne;
	struct wk_mac mac = c->mac;
	uint64_t db, dp;

	if (!c->counted || r->oom)
		return;
	r->counted = true;
	if (r->old->cap > 0) {
		old = ctr_slot(r->old, c->pair, &c->mac, &c->ip);
		if (!old->used)
			old = NULL;
	}
	if ((r->next.n + 1) * 2 > r->next.cap && ctr_grow(&r->next) < 0) {
		r->oom = true;
		return;
	}
	ne = ctr_slot(&r->next, c->pair, &c->mac, &c->ip);
	if (!ne->used)
		r->next.n++;
	*ne = (struct ctr_ent){ .used = true, .pair = c->pair, .mac = c->mac,
		.ip = c->ip, .bytes = c->bytes, .packets = c->packets };
	db = old && c->bytes >= old->bytes ? c->bytes - old->bytes : c->bytes;
	dp = old && c->packets >= old->packets ? c->packets - old->packets : c->packets;
	if (db == 0 && dp == 0)
		return;
	if (!c->pair) {
		struct client_ident ci;
		if (!ident_lookup_ip(r->g, &c->ip, r->now_ms, &ci))
			return; /* an address nobody holds now: nobody to bill */
		mac = ci.mac;
	}
	if (!grant_check(r->g, &mac))
		return;
	grant_account_counted(r->g, &mac, db);
	if (c->pair)
		radius_on_counters(r->g, &mac, db, 0, dp, 0);
	else
		radius_on_counters(r->g, &mac, 0, db, 0, dp);
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
	free(c->cur.e);
	free(c);
}

/* Read every counted element and account the differences. */
bool
counters_poll(struct gate *g, struct counters *c)
{
	struct ctr_read r = { .g = g, .old = &c->cur, .now_ms = clock_mono_ms() };

	if (g->fw == NULL || c == NULL)
		return false;
	if (firewall_counters(g->fw, ctr_on_elem, &r) < 0 || r.oom) {
		free(r.next.e);
		return false;
	}
	free(c->cur.e);
	c->cur = r.next;
	return r.counted;
}
