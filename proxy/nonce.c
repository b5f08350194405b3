/* nonce: replay cache for signed grants. An open-addressing hash set
 * (linear probing, backward-shift deletion) of at most `capacity` nonces,
 * each kept until its grant's `until`; full means refuse, never forget. */
#include "nonce.h"

#include <stdlib.h>
#include <string.h>

#include "token.h"

struct nonce_slot {
	uint64_t until;
	uint64_t hash;
	bool used;
	char nonce[TOKEN_NONCE_MAX + 1];
};

struct nonce_cache {
	struct nonce_slot *slots;
	size_t mask;      /* number of slots - 1 (a power of two) */
	size_t count;     /* live entries (some may be past until, unswept) */
	size_t capacity;  /* bound on count */
	uint64_t seed;
	uint64_t min_until; /* lower bound of every stored until */
};

/* Seeded FNV-1a with a final avalanche; only signed nonces are inserted,
 * so the seed is hygiene rather than a defence against chosen keys. */
static uint64_t
nonce_hash(const struct nonce_cache *nc, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ nc->seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Allocate a cache for up to capacity nonces (load factor <= 3/4). */
struct nonce_cache *
nonce_cache_create(size_t capacity, uint64_t seed)
{
	struct nonce_cache *nc;
	size_t n = 16;

	if (capacity == 0 || capacity > ((size_t)1 << 24))
		return NULL;
	while (n / 4 * 3 < capacity)
		n *= 2;
	nc = calloc(1, sizeof(*nc));
	if (nc == NULL)
		return NULL;
	nc->slots = calloc(n, sizeof(*nc->slots));
	if (nc->slots == NULL) {
		free(nc);
		return NULL;
	}
	nc->mask = n - 1;
	nc->capacity = capacity;
	nc->seed = seed;
	nc->min_until = UINT64_MAX;
	return nc;
}

/* Free the cache. */
void
nonce_cache_free(struct nonce_cache *nc)
{
	if (nc == NULL)
		return;
	free(nc->slots);
	free(nc);
}

/* Slot index holding nonce, or -1 (expired entries are still found). */
static long
nonce_find(const struct nonce_cache *nc, const char *nonce, uint64_t h)
{
	for (size_t i = h & nc->mask;; i = (i + 1) & nc->mask) {
		const struct nonce_slot *s = &nc->slots[i];
		if (!s->used)
			return -1;
		if (s->hash == h && strcmp(s->nonce, nonce) == 0)
			return (long)i;
	}
}

/* Remove the entry at slot i, shifting later probe-chain members back so
 * that lookups never need tombstones. */
static void
nonce_delete_at(struct nonce_cache *nc, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & nc->mask;
		if (!nc->slots[j].used)
			break;
		size_t k = nc->slots[j].hash & nc->mask;
		/* Leave slot j where it is if its home k lies in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		nc->slots[i] = nc->slots[j];
		i = j;
	}
	memset(&nc->slots[i], 0, sizeof(nc->slots[i]));
	nc->count--;
}

/* Check-and-insert in O(1): NONCE_OK the first time a nonce is presented
 * (it is then remembered until `until`), NONCE_REPLAY while it is
 * remembered, NONCE_FULL when capacity unexpired nonces are held. */
enum nonce_result
nonce_use(struct nonce_cache *nc, const char *nonce, uint64_t until,
    uint64_t now)
{
	uint64_t h;
	long at;

	if (!token_nonce_valid(nonce) || until <= now)
		return NONCE_INVALID;
	h = nonce_hash(nc, nonce);
	at = nonce_find(nc, nonce, h);
	if (at >= 0) {
		struct nonce_slot *s = &nc->slots[at];
		if (s->until > now)
			return NONCE_REPLAY;
		/* Its grant expired, so the grant itself is refused anyway;
		 * a new grant reusing the nonce is a new entry. */
		s->until = until;
		if (until < nc->min_until)
			nc->min_until = until;
		return NONCE_OK;
	}
	/* Sweeping is O(slots) but only runs when full and when something
	 * can have expired (min_until is a lower bound of all untils). */
	if (nc->count >= nc->capacity && nc->min_until <= now)
		(void)nonce_expire(nc, now);
	if (nc->count >= nc->capacity)
		return NONCE_FULL;
	for (size_t i = h & nc->mask;; i = (i + 1) & nc->mask) {
		struct nonce_slot *s = &nc->slots[i];
		if (s->used)
			continue;
		s->used = true;
		s->hash = h;
		s->until = until;
		memcpy(s->nonce, nonce, strlen(nonce) + 1);
		break;
	}
	nc->count++;
	if (until < nc->min_until)
		nc->min_until = until;
	return NONCE_OK;
}

/* True when nonce is remembered and its grant has not expired at now. */
bool
nonce_seen(const struct nonce_cache *nc, const char *nonce, uint64_t now)
{
	long at;

	if (!token_nonce_valid(nonce))
		return false;
	at = nonce_find(nc, nonce, nonce_hash(nc, nonce));
	return at >= 0 && nc->slots[at].until > now;
}

/* Drop a nonce (undo of nonce_use when the grant could not be persisted);
 * 0 if it was present, -1 if not. */
int
nonce_forget(struct nonce_cache *nc, const char *nonce)
{
	long at;

	if (!token_nonce_valid(nonce))
		return -1;
	at = nonce_find(nc, nonce, nonce_hash(nc, nonce));
	if (at < 0)
		return -1;
	nonce_delete_at(nc, (size_t)at);
	return 0;
}

/* Remove every nonce whose until <= now; the number removed. */
size_t
nonce_expire(struct nonce_cache *nc, uint64_t now)
{
	uint64_t min = UINT64_MAX;
	size_t removed = 0;

	for (size_t i = 0; i <= nc->mask;) {
		struct nonce_slot *s = &nc->slots[i];
		if (s->used && s->until <= now) {
			/* The shift may pull a later entry into slot i:
			 * look at slot i again before moving on. */
			nonce_delete_at(nc, i);
			removed++;
			continue;
		}
		if (s->used && s->until < min)
			min = s->until;
		i++;
	}
	nc->min_until = min;
	return removed;
}

/* Number of stored nonces (including expired ones not yet swept). */
size_t
nonce_count(const struct nonce_cache *nc)
{
	return nc->count;
}

/* The capacity the cache was created with. */
size_t
nonce_capacity(const struct nonce_cache *nc)
{
	return nc->capacity;
}

/* Call cb for every stored nonce (compaction writes them out); cb must
 * not change the cache. */
void
nonce_foreach(const struct nonce_cache *nc, nonce_cb cb, void *arg)
{
	for (size_t i = 0; i <= nc->mask; i++)
		if (nc->slots[i].used)
			cb(nc->slots[i].nonce, nc->slots[i].until, arg);
}

/* A short stable name for a result. */
const char *
nonce_result_str(enum nonce_result r)
{
	switch (r) {
	case NONCE_OK:
		return "ok";
	case NONCE_REPLAY:
		return "replay";
	case NONCE_FULL:
		return "full";
	case NONCE_INVALID:
		return "invalid";
	}
	return "unknown";
}
