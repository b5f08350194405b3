/* limiter: per-client connection counts and token buckets keyed by client
 * address (IPv4, IPv6, MAC), in fixed-size pools with chained SipHash
 * buckets; clients are also kept in lists by connection count, so the
 * heaviest one is found in O(1) when the gate is full. Pure. */
#include "limiter.h"

#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define NIL UINT32_MAX
#define LEVELS 256        /* count lists; counts >= LEVELS-1 share the top one */
#define IDLE_EXTRA 1024   /* records of clients without connections, beyond 2 per connection */
#define MILLI 1000u       /* a token is 1000 milli-tokens: integer refill per ms */

enum { K_IP, K_MAC }; /* the two records a connection counts against */

/* A client key: family tag and address bytes. */
struct lkey {
	uint8_t kind; /* 4, 6 or 'm' */
	uint8_t b[16];
};

/* A token bucket: milli-tokens at the time of the last refill. */
struct bucket {
	uint64_t t_ms;
	uint32_t milli;
};

/* One client record. */
struct lent {
	struct lkey key;
	uint32_t hnext;      /* hash chain */
	uint32_t prev, next; /* its count list (count 0: the idle LRU list) */
	uint32_t count;      /* connections held */
	uint32_t head, tail; /* its holds, oldest first */
	struct bucket conn, ans;
};

/* One connection's claim on its IP record and (when known) MAC record. */
struct lhold {
	uint32_t ent[2];
	uint32_t prev[2], next[2];
	void *owner;
};

/* A doubly linked list of records by index. */
struct llist {
	uint32_t head, tail;
};

struct limiter {
	struct limiter_conf conf;
	uint8_t key[16];
	struct lent *ent;
	uint32_t nent, ent_used;           /* capacity, bump mark */
	struct lhold *hold;
	uint32_t nhold, hold_used, hold_free;
	uint32_t *bucket;
	uint32_t bmask;
	struct llist lvl[LEVELS]; /* lvl[0]: idle records, least recently used first */
	uint32_t max_lvl;
	uint32_t nholds, nclients;
	uint64_t evicted;
};

/* The record pool size for max_conns connections: two records each and
 * room to remember clients that were refused or have just left. */
static uint64_t
ent_capacity(uint32_t max_conns)
{
	return 2 * (uint64_t)max_conns + IDLE_EXTRA;
}

/* Bucket of a key. */
static uint32_t
key_bucket(const struct limiter *l, const struct lkey *k)
{
	return (uint32_t)registry_hash(l->key, (const uint8_t *)k, sizeof(*k)) & l->bmask;
}

/* Rebuild the hash buckets for the pool (after creation or growth). */
static void
rehash(struct limiter *l)
{
	for (uint32_t i = 0; i <= l->bmask; i++)
		l->bucket[i] = NIL;
	for (uint32_t i = 0; i < l->ent_used; i++) {
		struct lent *e = &l->ent[i];
		if (e->key.kind == 0)
			continue;
		uint32_t b = key_bucket(l, &e->key);
		e->hnext = l->bucket[b];
		l->bucket[b] = i;
	}
}

/* Grow the pools and buckets to hold max_conns connections; 0 or -1. */
static int
reserve(struct limiter *l, uint32_t max_conns)
{
	uint64_t ne = ent_capacity(max_conns);
	uint32_t nb;

	if (ne > (uint64_t)1 << 30)
		return -1;
	/* One more than max_conns: a shed admits the new connection before
	 * the caller has closed (and released) its victim. */
	if (max_conns + 1 > l->nhold) {
		struct lhold *h = realloc(l->hold, ((size_t)max_conns + 1) * sizeof(*h));
		if (h == NULL)
			return -1;
		l->hold = h;
		l->nhold = max_conns + 1;
	}
	if (ne > l->nent) {
		struct lent *e = realloc(l->ent, (size_t)ne * sizeof(*e));
		if (e == NULL)
			return -1;
		l->ent = e;
		l->nent = (uint32_t)ne;
	}
	/* as many buckets as records, rounded up to a power of two (nent
	 * is at least IDLE_EXTRA and at most 2^30) */
	nb = 1u << (32 - __builtin_clz(l->nent - 1));
	if (l->bucket == NULL || nb - 1 != l->bmask) {
		uint32_t *b = realloc(l->bucket, (size_t)nb * sizeof(*b));
		if (b == NULL)
			return -1;
		l->bucket = b;
		l->bmask = nb - 1;
		rehash(l);
	}
	return 0;
}

/* Create a limiter; see limiter.h. */
struct limiter *
limiter_new(uint32_t max_conns, const struct limiter_conf *conf)
{
	struct limiter *l;

	if (max_conns == 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->conf = *conf;
	l->hold_free = NIL;
	for (int i = 0; i < LEVELS; i++)
		l->lvl[i].head = l->lvl[i].tail = NIL;
	registry_hash_key(l->key);
	if (reserve(l, max_conns) < 0) {
		limiter_free(l);
		return NULL;
	}
	return l;
}

/* Free the limiter and its tables. */
void
limiter_free(struct limiter *l)
{
	if (l == NULL)
		return;
	free(l->ent);
	free(l->hold);
	free(l->bucket);
	free(l);
}

/* Apply new bounds and grow the tables; see limiter.h. */
int
limiter_configure(struct limiter *l, uint32_t max_conns, const struct limiter_conf *conf)
{
	l->conf = *conf;
	return max_conns == 0 ? -1 : reserve(l, max_conns);
}

/* The count list a record belongs in. */
static uint32_t
level_of(const struct lent *e)
{
	return e->count < LEVELS - 1 ? e->count : LEVELS - 1;
}

/* Take record i out of its count list. */
static void
lvl_unlink(struct limiter *l, uint32_t i)
{
	struct lent *e = &l->ent[i];
	struct llist *q = &l->lvl[level_of(e)];

	if (e->prev != NIL)
		l->ent[e->prev].next = e->next;
	else
		q->head = e->next;
	if (e->next != NIL)
		l->ent[e->next].prev = e->prev;
	else
		q->tail = e->prev;
	while (l->max_lvl > 0 && l->lvl[l->max_lvl].head == NIL)
		l->max_lvl--;
}

/* Append record i to the tail of its count list (for the idle list: the
 * most recently used end). */
static void
lvl_link(struct limiter *l, uint32_t i)
{
	struct lent *e = &l->ent[i];
	uint32_t lv = level_of(e);
	struct llist *q = &l->lvl[lv];

	e->next = NIL;
	e->prev = q->tail;
	if (q->tail != NIL)
		l->ent[q->tail].next = i;
	else
		q->head = i;
	q->tail = i;
	if (lv > l->max_lvl)
		l->max_lvl = lv;
}

/* Build the key of an IP address. */
static void
key_ip(const struct wk_ip *ip, struct lkey *k)
{
	memset(k, 0, sizeof(*k));
	if (ip->family == AF_INET) {
		k->kind = 4;
		memcpy(k->b, &ip->u.v4, 4);
	} else {
		k->kind = 6;
		memcpy(k->b, &ip->u.v6, 16);
	}
}

/* Build the key of a MAC address. */
static void
key_mac(const struct wk_mac *mac, struct lkey *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = 'm';
	memcpy(k->b, mac->b, 6);
}

/* Drop record i from its hash chain. */
static void
chain_remove(struct limiter *l, uint32_t i)
{
	uint32_t *p = &l->bucket[key_bucket(l, &l->ent[i].key)];

	while (*p != NIL && *p != i)
		p = &l->ent[*p].hnext;
	if (*p == i)
		*p = l->ent[i].hnext;
}

/* A fresh record index: never used yet, or the least recently used idle
 * record (its memory of buckets goes). The pool has room for two records
 * per connection and IDLE_EXTRA more, so the idle list is never empty
 * here; NIL would mean every record holds connections. */
static uint32_t
ent_alloc(struct limiter *l)
{
	uint32_t i;

	if (l->ent_used < l->nent)
		return l->ent_used++;
	i = l->lvl[0].head;
	if (i == NIL)
		return NIL;
	lvl_unlink(l, i);
	chain_remove(l, i);
	l->nclients--;
	l->evicted++;
	return i;
}

/* Find or create the record of key k, marking it recently used; NIL when
 * the table is full of records with connections. */
static uint32_t
ent_get(struct limiter *l, const struct lkey *k, uint64_t now_ms)
{
	uint32_t b = key_bucket(l, k), i;
	struct lent *e;

	for (i = l->bucket[b]; i != NIL; i = l->ent[i].hnext)
		if (memcmp(&l->ent[i].key, k, sizeof(*k)) == 0) {
			if (l->ent[i].count == 0) { /* refresh its place in the LRU */
				lvl_unlink(l, i);
				lvl_link(l, i);
			}
			return i;
		}
	i = ent_alloc(l);
	if (i == NIL)
		return NIL;
	e = &l->ent[i];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->head = e->tail = NIL;
	e->conn.t_ms = e->ans.t_ms = now_ms;
	e->conn.milli = l->conf.connect_burst * MILLI;
	e->ans.milli = l->conf.answer_burst * MILLI;
	e->hnext = l->bucket[b];
	l->bucket[b] = i;
	l->nclients++;
	lvl_link(l, i);
	return i;
}

/* Refill a bucket at `rate` tokens per second up to `burst`; true when it
 * holds at least one token. A rate of 0 is no limit. */
static bool
bucket_ready(struct bucket *bk, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)burst * MILLI, m = bk->milli;

	if (rate == 0)
		return true;
	if (now_ms > bk->t_ms) {
		uint64_t dt = now_ms - bk->t_ms;
		/* rate tokens per second is rate milli-tokens per ms; a gap
		 * of cap ms fills any bucket (rate >= 1), and below that the
		 * product stays far from overflow (conf bounds rate, burst). */
		m = dt >= cap ? cap : m + dt * rate;
		if (m > cap)
			m = cap;
		bk->t_ms = now_ms;
	} else if (m > cap) { /* the burst was lowered by a reload */
		m = cap;
	}
	bk->milli = (uint32_t)m;
	return m >= MILLI;
}

/* Take one token from a bucket that bucket_ready found ready. */
static void
bucket_take(struct bucket *bk, uint32_t rate)
{
	if (rate != 0)
		bk->milli -= MILLI;
}

/* Add a connection to record i (kind k of hold h): count and list. */
static void
ent_add_hold(struct limiter *l, uint32_t i, int k, uint32_t h)
{
	struct lent *e = &l->ent[i];
	struct lhold *hd = &l->hold[h];

	lvl_unlink(l, i);
	e->count++;
	lvl_link(l, i);
	hd->ent[k] = i;
	hd->next[k] = NIL;
	hd->prev[k] = e->tail;
	if (e->tail != NIL)
		l->hold[e->tail].next[k] = h;
	else
		e->head = h;
	e->tail = h;
}

/* Remove hold h from record i (its kind k). */
static void
ent_drop_hold(struct limiter *l, uint32_t i, int k, uint32_t h)
{
	struct lent *e = &l->ent[i];
	struct lhold *hd = &l->hold[h];

	if (hd->prev[k] != NIL)
		l->hold[hd->prev[k]].next[k] = hd->next[k];
	else
		e->head = hd->next[k];
	if (hd->next[k] != NIL)
		l->hold[hd->next[k]].prev[k] = hd->prev[k];
	else
		e->tail = hd->prev[k];
	lvl_unlink(l, i);
	e->count--;
	lvl_link(l, i);
}

/* The record with the most connections, NIL when none holds any. */
static uint32_t
heaviest(const struct limiter *l)
{
	uint32_t i = l->lvl[l->max_lvl].head;

	if (l->max_lvl == 0 || i == NIL)
		return NIL;
	if (l->max_lvl == LEVELS - 1) /* the top list is not sorted */
		for (uint32_t j = l->ent[i].next; j != NIL; j = l->ent[j].next)
			if (l->ent[j].count > l->ent[i].count)
				i = j;
	return i;
}

/* Decide a new connection; see limiter.h. */
enum limiter_verdict
limiter_admit(struct limiter *l, const struct wk_ip *ip, const struct wk_mac *mac,
    uint64_t now_ms, bool full, void *owner, uint32_t *hold, void **victim)
{
	const struct limiter_conf *c = &l->conf;
	uint32_t idx[2] = { NIL, NIL }, mine = 0, h;
	struct lkey k;

	*hold = NIL;
	*victim = NULL;
	key_ip(ip, &k);
	idx[K_IP] = ent_get(l, &k, now_ms);
	if (mac != NULL) {
		key_mac(mac, &k);
		idx[K_MAC] = ent_get(l, &k, now_ms);
	}
	if (idx[K_IP] == NIL)
		return LIMITER_FULL; /* every record holds connections */
	/* Every attempt counts against the rate, admitted or not. */
	for (int t = 0; t < 2; t++)
		if (idx[t] != NIL && !bucket_ready(&l->ent[idx[t]].conn,
			c->connect_rate, c->connect_burst, now_ms))
			return LIMITER_RATE;
	for (int t = 0; t < 2; t++)
		if (idx[t] != NIL) {
			bucket_take(&l->ent[idx[t]].conn, c->connect_rate);
			if (l->ent[idx[t]].count > mine)
				mine = l->ent[idx[t]].count;
		}
	if (mine >= c->max_conns)
		return LIMITER_CONNS;
	if (full) {
		uint32_t v = heaviest(l);
		/* Only a client two or more connections heavier gives way, so
		 * that two clients at equal counts do not trade one back and
		 * forth: the counts converge on a fair share. */
		if (v == NIL || l->ent[v].count < mine + 2)
			return LIMITER_FULL;
		*victim = l->hold[l->ent[v].head].owner;
	}
	if (l->hold_free != NIL) {
		h = l->hold_free;
		l->hold_free = l->hold[h].next[0];
	} else if (l->hold_used < l->nhold) {
		h = l->hold_used++;
	} else {
		*victim = NULL;
		return LIMITER_FULL;
	}
	memset(&l->hold[h], 0, sizeof(l->hold[h]));
	l->hold[h].ent[K_IP] = l->hold[h].ent[K_MAC] = NIL;
	l->hold[h].owner = owner;
	for (int t = 0; t < 2; t++)
		if (idx[t] != NIL)
			ent_add_hold(l, idx[t], t, h);
	l->nholds++;
	*hold = h;
	return *victim != NULL ? LIMITER_SHED : LIMITER_OK;
}

/* Take a connect token for ip without holding a connection; see
 * limiter.h. */
bool
limiter_take(struct limiter *l, const struct wk_ip *ip, uint64_t now_ms)
{
	const struct limiter_conf *c = &l->conf;
	struct lkey k;
	uint32_t i;

	key_ip(ip, &k);
	if ((i = ent_get(l, &k, now_ms)) == NIL)
		return false; /* every record holds connections: not here */
	if (!bucket_ready(&l->ent[i].conn, c->connect_rate, c->connect_burst, now_ms))
		return false;
	bucket_take(&l->ent[i].conn, c->connect_rate);
	return true;
}

/* Name the owner of a hold; see limiter.h. */
void
limiter_bind(struct limiter *l, uint32_t hold, void *owner)
{
	if (l != NULL && hold < l->hold_used)
		l->hold[hold].owner = owner;
}

/* Take an answer token for the connection's client; see limiter.h. */
bool
limiter_answer(struct limiter *l, uint32_t hold, uint64_t now_ms)
{
	const struct limiter_conf *c;
	struct lhold *h;

	if (l == NULL || hold >= l->hold_used)
		return true; /* no limiter, or not counted: not limited here */
	c = &l->conf;
	h = &l->hold[hold];
	for (int t = 0; t < 2; t++)
		if (h->ent[t] != NIL && !bucket_ready(&l->ent[h->ent[t]].ans,
			c->answer_rate, c->answer_burst, now_ms))
			return false;
	for (int t = 0; t < 2; t++)
		if (h->ent[t] != NIL)
			bucket_take(&l->ent[h->ent[t]].ans, c->answer_rate);
	return true;
}

/* Release a connection's claim; see limiter.h. */
void
limiter_release(struct limiter *l, uint32_t hold)
{
	struct lhold *h;

	if (l == NULL || hold >= l->hold_used)
		return; /* no limiter (gone at shutdown, or never made), or not counted */
	h = &l->hold[hold];
	for (int t = 0; t < 2; t++)
		if (h->ent[t] != NIL)
			ent_drop_hold(l, h->ent[t], t, hold);
	h->ent[K_IP] = h->ent[K_MAC] = NIL;
	h->owner = NULL;
	h->next[0] = l->hold_free;
	l->hold_free = hold;
	l->nholds--;
}

/* The owner of the heaviest client's oldest connection; see limiter.h. */
void *
limiter_heaviest(const struct limiter *l)
{
	uint32_t v = heaviest(l);

	return v == NIL ? NULL : l->hold[l->ent[v].head].owner;
}

/* Sizes and counters of the limiter. */
void
limiter_stats(const struct limiter *l, struct limiter_stats *out)
{
	uint32_t v = heaviest(l);

	out->clients = l->nclients;
	out->holds = l->nholds;
	out->heaviest = v == NIL ? 0 : l->ent[v].count;
	out->evicted = l->evicted;
}

/* A short name for a verdict. */
const char *
limiter_verdict_name(enum limiter_verdict v)
{
	switch (v) {
	case LIMITER_OK: return "ok";
	case LIMITER_SHED: return "shed";
	case LIMITER_CONNS: return "conns";
	case LIMITER_RATE: return "rate";
	case LIMITER_FULL: return "full";
	}
	return "?";
}
