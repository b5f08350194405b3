/* registry: fixed-capacity client identity table. Two chained hash tables
 * keyed with SipHash-2-4 under a random key (IP -> binding, MAC -> client),
 * index-linked pools allocated once, and an LRU list for ageing/eviction. */
#include "registry.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NIL UINT32_MAX
#define REGISTRY_MAX_CAPACITY (1u << 22)	/* keeps every size_t product small */
#define LINK_SLOTS 16			/* per-link new-client buckets; more share the last */
#define BURST_S 2			/* a bucket holds this many seconds of its rate */
#define MILLI 1000u			/* bucket tokens are in thousandths of a frame */

/* One IP binding on one link: the IP, its current owner, the previous
 * different claimant (for conflicts) and the conflict deadline. */
struct rbind {
	struct wk_ip ip;
	uint32_t link;
	struct wk_mac prev;		/* previous different claimant */
	bool has_prev;
	bool used;
	bool held;			/* a pinned owner's move, not yet confirmed */
	uint64_t seen_ms;		/* last claim by the owner */
	uint64_t prev_seen_ms;		/* last claim by prev */
	uint64_t prev_since_ms;		/* first claim by prev against a pinned owner */
	uint64_t conflict_until_ms;	/* a conflict stands while now < this */
	uint32_t owner;			/* client index */
	uint32_t next;			/* hash chain, or free list */
	uint32_t held_prev, held_next;	/* list of held bindings */
};

/* One client (MAC) record with the indices of its bindings. */
struct rclient {
	struct wk_mac mac;
	bool used;
	bool pinned;			/* admitted: on the pinned LRU list */
	uint8_t naddrs;
	uint64_t first_seen_ms;
	uint64_t last_seen_ms;
	uint32_t next;			/* hash chain, or free list */
	uint32_t lru_prev;		/* towards the most recently seen */
	uint32_t lru_next;		/* towards the least recently seen */
	uint32_t addrs[REGISTRY_MAX_ADDRS];
};

/* A token bucket in thousandths of a token. */
struct bucket {
	uint64_t tokens;
	uint64_t last_ms;
};

/* One frame source (link, Ethernet source) and its bucket. */
struct rsource {
	struct wk_mac mac;
	bool used;
	uint32_t link;
	struct bucket b;
};

/* One link's budget of new clients. */
struct rlink {
	bool used;
	uint32_t link;
	struct bucket b;
};

struct registry {
	unsigned max_clients;
	unsigned nbinds;
	unsigned addr_cap;		/* per-client address limit */
	uint64_t ttl_ms;
	uint64_t window_ms;
	uint64_t src_rate;		/* learn_rate, frames per second */
	uint64_t new_rate;		/* learn_new_rate, clients per second */
	uint8_t key[16];		/* SipHash key, random per registry */
	struct rclient *clients;
	struct rbind *binds;
	uint32_t *cbucket;
	uint32_t *bbucket;
	struct rsource *sources;
	uint32_t cmask;
	uint32_t bmask;
	uint32_t smask;
	uint32_t cfree;
	uint32_t bfree;
	uint32_t lru_head[2];		/* most recently seen; [1] the pinned list */
	uint32_t lru_tail[2];		/* least recently seen */
	uint32_t held_head;		/* held bindings */
	unsigned sweep;			/* next slot for registry_pin_sweep */
	registry_admitted_fn admitted;
	void *admitted_arg;
	struct rlink links[LINK_SLOTS];
	struct registry_stats st;
};

/* Rotate a 64-bit word left. */
static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* Little-endian 64-bit load: one load, not eight (a hash per lookup). */
static uint64_t
le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* One SipHash round on the state; always inlined, so that the state
 * stays in registers (called as a function it went through memory: 4
 * rounds' loads and stores were half of every lookup's cost). */
static inline __attribute__((always_inline)) void
sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

/* SipHash-2-4 of in[0..len) under the 16-byte key k, so that a sender on the
 * LAN cannot choose addresses that collide in our buckets. */
static uint64_t
siphash24(const uint8_t k[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = le64(k), k1 = le64(k + 8);
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
	    k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL };
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Bucket of an IP address on a link. */
static uint32_t
hash_ip(const struct registry *reg, uint32_t link, const struct wk_ip *ip)
{
	uint8_t buf[21];
	size_t n;

	buf[0] = (uint8_t)ip->family;
	memcpy(buf + 1, &link, 4);
	if (ip->family == AF_INET) {
		memcpy(buf + 5, &ip->u.v4, 4);
		n = 9;
	} else {
		memcpy(buf + 5, &ip->u.v6, 16);
		n = 21;
	}
	return (uint32_t)siphash24(reg->key, buf, n) & reg->bmask;
}

/* Slot of a frame source (link, Ethernet source). */
static uint32_t
hash_source(const struct registry *reg, uint32_t link, const struct wk_mac *mac)
{
	uint8_t buf[11];

	buf[0] = 0xff;	/* a domain apart from the IP hash */
	memcpy(buf + 1, &link, 4);
	memcpy(buf + 5, mac->b, 6);
	return (uint32_t)siphash24(reg->key, buf, sizeof(buf)) & reg->smask;
}

/* Bucket of a MAC address. */
static uint32_t
hash_mac(const struct registry *reg, const struct wk_mac *mac)
{
	return (uint32_t)siphash24(reg->key, mac->b, 6) & reg->cmask;
}

/* Fill the hash key from the kernel; without entropy yet (early boot on a
 * router) fall back to clocks and addresses rather than blocking start-up. */
static void
key_init(uint8_t key[16])
{
	static const uint8_t fixed[16] = "wicket-registry";
	struct timespec ts[2];
	uint64_t mix[4];
	ssize_t n;

	n = getrandom(key, 16, GRND_NONBLOCK);
	if (n == 16)
		return;
	memset(ts, 0, sizeof(ts));
	if (clock_gettime(CLOCK_REALTIME, &ts[0]) != 0)
		ts[0].tv_nsec = 1;
	if (clock_gettime(CLOCK_MONOTONIC, &ts[1]) != 0)
		ts[1].tv_nsec = 2;
	mix[0] = (uint64_t)ts[0].tv_sec ^ ((uint64_t)ts[0].tv_nsec << 20);
	mix[1] = (uint64_t)ts[1].tv_sec ^ ((uint64_t)ts[1].tv_nsec << 20);
	mix[2] = (uint64_t)getpid();
	mix[3] = (uint64_t)(uintptr_t)key;
	uint64_t a = siphash24(fixed, (const uint8_t *)mix, sizeof(mix));
	mix[0] ^= a;
	uint64_t b = siphash24(fixed, (const uint8_t *)mix, sizeof(mix));
	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
}

/* Smallest power of two >= n (n >= 1, n <= 2^31). */
static uint32_t
pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* How long ago t was, 0 if the clock went backwards. */
static uint64_t
age(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

/* Create the table; every allocation happens here, never later. */
struct registry *
registry_new(const struct registry_conf *rc)
{
	struct registry *reg;
	uint32_t i, nb, cb, ns;

	if (rc == NULL || rc->max_clients == 0 || rc->max_clients > REGISTRY_MAX_CAPACITY ||
	    rc->neighbour_ttl_s == 0 || rc->learn_rate > 1000000 ||
	    rc->learn_new_rate > 1000000)
		return NULL;
	reg = calloc(1, sizeof(*reg));
	if (reg == NULL)
		return NULL;
	reg->max_clients = rc->max_clients;
	reg->nbinds = rc->max_clients * REGISTRY_ADDRS_PER_CLIENT;
	reg->addr_cap = reg->nbinds < REGISTRY_MAX_ADDRS ? reg->nbinds : REGISTRY_MAX_ADDRS;
	reg->ttl_ms = (uint64_t)rc->neighbour_ttl_s * 1000;
	reg->window_ms = (uint64_t)rc->conflict_window_s * 1000;
	reg->src_rate = rc->learn_rate;
	reg->new_rate = rc->learn_new_rate;
	key_init(reg->key);
	cb = pow2_at_least(rc->max_clients);
	nb = pow2_at_least(reg->nbinds);
	/* One source slot per four clients, 256 to 16384: bounded state
	 * whatever a flood of invented MACs sends. */
	ns = pow2_at_least(rc->max_clients / 4 < 256 ? 256 :
	    rc->max_clients / 4 > 16384 ? 16384 : rc->max_clients / 4);
	reg->cmask = cb - 1;
	reg->bmask = nb - 1;
	reg->smask = ns - 1;
	reg->clients = calloc(rc->max_clients, sizeof(*reg->clients));
	reg->binds = calloc(reg->nbinds, sizeof(*reg->binds));
	reg->cbucket = malloc((size_t)cb * sizeof(*reg->cbucket));
	reg->bbucket = malloc((size_t)nb * sizeof(*reg->bbucket));
	reg->sources = calloc(ns, sizeof(*reg->sources));
	if (reg->clients == NULL || reg->binds == NULL || reg->cbucket == NULL ||
	    reg->bbucket == NULL || reg->sources == NULL)
		goto fail;
	for (i = 0; i < cb; i++)
		reg->cbucket[i] = NIL;
	for (i = 0; i < nb; i++)
		reg->bbucket[i] = NIL;
	for (i = 0; i < rc->max_clients; i++)
		reg->clients[i].next = i + 1 < rc->max_clients ? i + 1 : NIL;
	for (i = 0; i < reg->nbinds; i++)
		reg->binds[i].next = i + 1 < reg->nbinds ? i + 1 : NIL;
	reg->cfree = 0;
	reg->bfree = 0;
	reg->lru_head[0] = reg->lru_tail[0] = NIL;
	reg->lru_head[1] = reg->lru_tail[1] = NIL;
	reg->held_head = NIL;
	reg->st.max_clients = rc->max_clients;
	return reg;
fail:
	registry_free(reg);
	return NULL;
}

/* Free the table and everything it owns. */
void
registry_free(struct registry *reg)
{
	if (reg == NULL)
		return;
	free(reg->clients);
	free(reg->binds);
	free(reg->cbucket);
	free(reg->bbucket);
	free(reg->sources);
	free(reg);
}

/* Refill a bucket of `rate` per second up to BURST_S seconds' worth and
 * take one token if there is one. */
static bool
bucket_take(struct bucket *b, uint64_t rate, uint64_t now)
{
	uint64_t cap = rate * MILLI * BURST_S, dt = age(now, b->last_ms);

	if (dt > BURST_S * 1000)
		dt = BURST_S * 1000;
	b->tokens += dt * rate;	/* rate per second == rate thousandths per ms */
	if (b->tokens > cap)
		b->tokens = cap;
	if (now > b->last_ms)
		b->last_ms = now;
	if (b->tokens < MILLI)
		return false;
	b->tokens -= MILLI;
	return true;
}

/* A full bucket (a source or link seen for the first time). */
static void
bucket_fill(struct bucket *b, uint64_t rate, uint64_t now)
{
	b->tokens = rate * MILLI * BURST_S;
	b->last_ms = now;
}

/* True when the bucket would be full now: its source has been idle. */
static bool
bucket_idle(const struct bucket *b, uint64_t rate, uint64_t now)
{
	uint64_t dt = age(now, b->last_ms);

	if (dt > BURST_S * 1000)
		return true;
	return b->tokens + dt * rate >= rate * MILLI * BURST_S;
}

/* Charge one frame to its source. A slot held by another source is taken
 * over only when that source is idle; a busy one keeps it and the
 * newcomer shares its budget (fail closed, state bounded). */
bool
registry_source_take(struct registry *reg, uint32_t link, const struct wk_mac *src,
    uint64_t now)
{
	struct rsource *s;

	if (reg == NULL || src == NULL)
		return false;
	if (reg->src_rate == 0)
		return true;
	s = &reg->sources[hash_source(reg, link, src)];
	if (!s->used || ((s->link != link || !addr_mac_equal(&s->mac, src)) &&
	    bucket_idle(&s->b, reg->src_rate, now))) {
		s->used = true;
		s->link = link;
		s->mac = *src;
		bucket_fill(&s->b, reg->src_rate, now);
	}
	if (bucket_take(&s->b, reg->src_rate, now))
		return true;
	reg->st.rate_limited++;
	return false;
}

/* Take one new-client token of link; false when it is over its rate. */
static bool
link_take(struct registry *reg, uint32_t link, uint64_t now)
{
	struct rlink *l = &reg->links[LINK_SLOTS - 1];

	if (reg->new_rate == 0)
		return true;
	for (unsigned i = 0; i < LINK_SLOTS; i++) {
		if (reg->links[i].used && reg->links[i].link == link) {
			l = &reg->links[i];
			break;
		}
		if (!reg->links[i].used) {
			l = &reg->links[i];
			l->used = true;
			l->link = link;
			bucket_fill(&l->b, reg->new_rate, now);
			break;
		}
	}
	return bucket_take(&l->b, reg->new_rate, now);
}

/* Index of the binding for ip on link, or NIL. */
static uint32_t
bind_find(const struct registry *reg, uint32_t link, const struct wk_ip *ip)
{
	for (uint32_t i = reg->bbucket[hash_ip(reg, link, ip)]; i != NIL; i = reg->binds[i].next)
		if (reg->binds[i].link == link && addr_ip_equal(&reg->binds[i].ip, ip))
			return i;
	return NIL;
}

/* Index of the client for mac, or NIL. */
static uint32_t
client_find(const struct registry *reg, const struct wk_mac *mac)
{
	for (uint32_t i = reg->cbucket[hash_mac(reg, mac)]; i != NIL; i = reg->clients[i].next)
		if (addr_mac_equal(&reg->clients[i].mac, mac))
			return i;
	return NIL;
}

/* The record of mac for the public calls: NIL for NULL arguments too. */
static uint32_t
client_of(const struct registry *reg, const struct wk_mac *mac)
{
	return reg == NULL || mac == NULL ? NIL : client_find(reg, mac);
}

/* Remove binding bi from its owner's address list. */
static void
client_detach(struct registry *reg, uint32_t bi)
{
	struct rclient *c = &reg->clients[reg->binds[bi].owner];

	for (unsigned k = 0; k < c->naddrs; k++) {
		if (c->addrs[k] == bi) {
			c->addrs[k] = c->addrs[--c->naddrs];
			return;
		}
	}
}

/* Put binding bi on the list of held moves. */
static void
held_link(struct registry *reg, uint32_t bi)
{
	struct rbind *b = &reg->binds[bi];

	b->held = true;
	b->held_prev = NIL;
	b->held_next = reg->held_head;
	if (reg->held_head != NIL)
		reg->binds[reg->held_head].held_prev = bi;
	reg->held_head = bi;
}

/* Take binding bi off the list of held moves. */
static void
held_unlink(struct registry *reg, uint32_t bi)
{
	struct rbind *b = &reg->binds[bi];

	if (!b->held)
		return;
	if (b->held_prev != NIL)
		reg->binds[b->held_prev].held_next = b->held_next;
	else
		reg->held_head = b->held_next;
	if (b->held_next != NIL)
		reg->binds[b->held_next].held_prev = b->held_prev;
	b->held = false;
	b->held_prev = b->held_next = NIL;
}

/* Remove a binding from the hash and its owner, back to the free list. */
static void
bind_remove(struct registry *reg, uint32_t bi)
{
	struct rbind *b = &reg->binds[bi];
	uint32_t *pp = &reg->bbucket[hash_ip(reg, b->link, &b->ip)];

	while (*pp != NIL && *pp != bi)
		pp = &reg->binds[*pp].next;
	if (*pp == bi)
		*pp = b->next;
	held_unlink(reg, bi);
	client_detach(reg, bi);
	memset(b, 0, sizeof(*b));
	b->next = reg->bfree;
	reg->bfree = bi;
	reg->st.addrs--;
}

/* Unlink client ci from its LRU list. */
static void
lru_unlink(struct registry *reg, uint32_t ci)
{
	struct rclient *c = &reg->clients[ci];
	int l = c->pinned;

	if (c->lru_prev != NIL)
		reg->clients[c->lru_prev].lru_next = c->lru_next;
	else
		reg->lru_head[l] = c->lru_next;
	if (c->lru_next != NIL)
		reg->clients[c->lru_next].lru_prev = c->lru_prev;
	else
		reg->lru_tail[l] = c->lru_prev;
	c->lru_prev = c->lru_next = NIL;
}

/* Put client ci at the most-recently-seen end of its LRU list. */
static void
lru_push(struct registry *reg, uint32_t ci)
{
	struct rclient *c = &reg->clients[ci];
	int l = c->pinned;

	c->lru_prev = NIL;
	c->lru_next = reg->lru_head[l];
	if (reg->lru_head[l] != NIL)
		reg->clients[reg->lru_head[l]].lru_prev = ci;
	reg->lru_head[l] = ci;
	if (reg->lru_tail[l] == NIL)
		reg->lru_tail[l] = ci;
}

/* Insert client ci into its LRU list at its last-seen position, walking
 * from the nearer end, so both lists stay in last-seen order (expiry and
 * eviction read them from the old end). Only pin changes need this. */
static void
lru_insert_ordered(struct registry *reg, uint32_t ci)
{
	struct rclient *c = &reg->clients[ci];
	int l = c->pinned;
	uint32_t h = reg->lru_head[l], t = reg->lru_tail[l], at;

	if (h == NIL || c->last_seen_ms >= reg->clients[h].last_seen_ms) {
		lru_push(reg, ci);
		return;
	}
	/* From the tail: the first client not older than ci; ci goes after it. */
	for (at = t; at != NIL && reg->clients[at].last_seen_ms < c->last_seen_ms;
	    at = reg->clients[at].lru_prev)
		;
	/* at != NIL: the head is not older than ci (checked above). */
	c->lru_prev = at;
	c->lru_next = reg->clients[at].lru_next;
	if (c->lru_next != NIL)
		reg->clients[c->lru_next].lru_prev = ci;
	else
		reg->lru_tail[l] = ci;
	reg->clients[at].lru_next = ci;
}

/* Move client ci to the pinned or the unpinned list. */
static void
client_set_pinned(struct registry *reg, uint32_t ci, bool pinned)
{
	struct rclient *c = &reg->clients[ci];

	if (c->pinned == pinned)
		return;
	lru_unlink(reg, ci);
	c->pinned = pinned;
	lru_insert_ordered(reg, ci);
	if (pinned)
		reg->st.pinned++;
	else
		reg->st.pinned--;
}

/* Remove a client with all its bindings, back to the free list. */
static void
client_remove(struct registry *reg, uint32_t ci)
{
	struct rclient *c = &reg->clients[ci];
	uint32_t *pp = &reg->cbucket[hash_mac(reg, &c->mac)];

	while (c->naddrs > 0)
		bind_remove(reg, c->addrs[c->naddrs - 1]);
	while (*pp != NIL && *pp != ci)
		pp = &reg->clients[*pp].next;
	if (*pp == ci)
		*pp = c->next;
	lru_unlink(reg, ci);
	if (c->pinned)
		reg->st.pinned--;
	memset(c, 0, sizeof(*c));
	c->next = reg->cfree;
	reg->cfree = ci;
	reg->st.clients--;
}

/* True when the admission callback says mac is admitted. */
static bool
is_admitted(const struct registry *reg, const struct wk_mac *mac)
{
	return reg->admitted != NULL && reg->admitted(mac, reg->admitted_arg);
}

/* The least recently seen client of list l other than keep, or NIL. */
static uint32_t
lru_oldest(const struct registry *reg, int l, uint32_t keep)
{
	uint32_t v = reg->lru_tail[l];

	if (v == keep && v != NIL)
		v = reg->clients[v].lru_prev;
	return v;
}

/* Evict the least recently seen client that is not admitted, other than
 * `keep`, to make room. A client found admitted on the way (its pin was
 * missed) is pinned instead; a pinned one found no longer admitted is
 * fair game. False when every other client is admitted. */
static bool
client_evict(struct registry *reg, uint32_t keep, struct registry_event *ev)
{
	uint32_t victim;

	for (;;) {
		victim = lru_oldest(reg, 0, keep);
		if (victim == NIL)
			break;
		if (!is_admitted(reg, &reg->clients[victim].mac))
			goto evict;
		client_set_pinned(reg, victim, true);	/* each client once: amortised O(1) */
	}
	victim = lru_oldest(reg, 1, keep);
	if (victim == NIL || reg->admitted == NULL ||
	    is_admitted(reg, &reg->clients[victim].mac))
		return false;
	client_set_pinned(reg, victim, false);
evict:
	ev->flags |= REGISTRY_EV_EVICTED;
	ev->evicted = reg->clients[victim].mac;
	client_remove(reg, victim);
	reg->st.evictions++;
	return true;
}

/* Drop the least recently claimed address of client ci. */
static void
client_drop_oldest(struct registry *reg, uint32_t ci, struct registry_event *ev)
{
	struct rclient *c = &reg->clients[ci];
	unsigned k, old = 0;

	if (c->naddrs == 0)
		return;
	for (k = 1; k < c->naddrs; k++)
		if (reg->binds[c->addrs[k]].seen_ms < reg->binds[c->addrs[old]].seen_ms)
			old = k;
	bind_remove(reg, c->addrs[old]);
	ev->flags |= REGISTRY_EV_ADDR_DROPPED;
	reg->st.addrs_dropped++;
}

/* Drop client ci's bindings that have aged out. */
static void
client_prune(struct registry *reg, uint32_t ci, uint64_t now)
{
	struct rclient *c = &reg->clients[ci];

	for (unsigned k = 0; k < c->naddrs;) {
		uint32_t bi = c->addrs[k];
		if (age(now, reg->binds[bi].seen_ms) >= reg->ttl_ms)
			bind_remove(reg, bi);	/* swaps the last one into k */
		else
			k++;
	}
}

/* Find or create the client for the claim's MAC and mark it seen now.
 * NIL with *rc set when a new client may not be stored: over the link's
 * new-client rate (frames only), or no room without evicting an
 * admitted client. */
static uint32_t
client_get(struct registry *reg, const struct registry_claim *cl, uint64_t now,
    struct registry_event *ev, int *rc)
{
	uint32_t ci = client_find(reg, &cl->mac), h;
	struct rclient *c;

	if (ci != NIL && age(now, reg->clients[ci].last_seen_ms) >= reg->ttl_ms) {
		client_remove(reg, ci);	/* aged but not yet expired: start over */
		reg->st.expired++;
		ci = NIL;
	}
	if (ci == NIL) {
		if (cl->origin == REGISTRY_FROM_FRAME && !link_take(reg, cl->link, now)) {
			reg->st.rate_limited++;
			*rc = REGISTRY_LIMITED;
			return NIL;
		}
		if (reg->cfree == NIL && !client_evict(reg, NIL, ev)) {
			reg->st.refused++;
			*rc = REGISTRY_FULL;
			return NIL;
		}
		ci = reg->cfree;
		c = &reg->clients[ci];
		reg->cfree = c->next;
		memset(c, 0, sizeof(*c));
		c->used = true;
		c->mac = cl->mac;
		c->first_seen_ms = now;
		c->pinned = is_admitted(reg, &cl->mac);
		h = hash_mac(reg, &cl->mac);
		c->next = reg->cbucket[h];
		reg->cbucket[h] = ci;
		c->lru_prev = c->lru_next = NIL;
		reg->st.clients++;
		reg->st.new_clients++;
		if (c->pinned)
			reg->st.pinned++;
		ev->flags |= REGISTRY_EV_NEW_CLIENT;
	} else {
		lru_unlink(reg, ci);
	}
	c = &reg->clients[ci];
	c->last_seen_ms = now;
	lru_push(reg, ci);
	client_prune(reg, ci, now);
	return ci;
}

/* Client ci's IPv4 binding on link: the committed one (held false) or
 * the held move (held true), other than skip; NIL when none. */
static uint32_t
client_v4(const struct registry *reg, uint32_t ci, uint32_t link, bool held, uint32_t skip)
{
	const struct rclient *c = &reg->clients[ci];

	for (unsigned k = 0; k < c->naddrs; k++) {
		const struct rbind *b = &reg->binds[c->addrs[k]];
		if (c->addrs[k] != skip && b->ip.family == AF_INET && b->link == link &&
		    b->held == held)
			return c->addrs[k];
	}
	return NIL;
}

/* Make room in client ci for the new address ip on link. One IPv4 per
 * MAC and link: a new one is a DHCP move, applied at once -- except for
 * an admitted client whose old IPv4 was claimed less than a window ago:
 * its move is held (*hold) until the old address has been quiet for a
 * window, so one forged frame cannot move it away. An admitted client at
 * its address cap keeps its live addresses and the new one is refused.
 * skip: a binding being handed to ci. 0 or REGISTRY_FULL. */
static int
client_make_room(struct registry *reg, uint32_t ci, const struct registry_claim *cl,
    uint32_t skip, uint64_t now, struct registry_event *ev, bool *hold)
{
	struct rclient *c = &reg->clients[ci];
	uint32_t v, h;

	*hold = false;
	if (cl->ip.family == AF_INET) {
		v = client_v4(reg, ci, cl->link, false, skip);
		h = client_v4(reg, ci, cl->link, true, skip);
		if (v != NIL && c->pinned && reg->window_ms > 0 &&
		    age(now, reg->binds[v].seen_ms) < reg->window_ms) {
			*hold = true;
			ev->old_ip = reg->binds[v].ip;
		} else if (v != NIL) {
			ev->flags |= REGISTRY_EV_MOVED;
			ev->old_ip = reg->binds[v].ip;
			reg->st.moves++;
			bind_remove(reg, v);
		}
		if (h != NIL)
			bind_remove(reg, h);	/* a newer move replaces a held one */
	}
	if (c->naddrs >= reg->addr_cap) {
		if (c->pinned) {
			reg->st.refused++;
			return REGISTRY_FULL;
		}
		client_drop_oldest(reg, ci, ev);
	}
	return 0;
}

/* Take a binding from the free list, evicting LRU clients that are not
 * admitted if the pool is empty; ci (the learner) is never evicted: it
 * gives up its oldest address, unless it is admitted. NIL when full. */
static uint32_t
bind_alloc(struct registry *reg, uint32_t ci, struct registry_event *ev)
{
	uint32_t bi;

	while (reg->bfree == NIL) {
		if (!client_evict(reg, ci, ev)) {
			if (reg->clients[ci].naddrs == 0 || reg->clients[ci].pinned)
				return NIL;
			client_drop_oldest(reg, ci, ev);
		}
	}
	bi = reg->bfree;
	reg->bfree = reg->binds[bi].next;
	reg->st.addrs++;
	return bi;
}

/* Append binding bi to client ci's address list. */
static void
client_attach(struct registry *reg, uint32_t ci, uint32_t bi)
{
	struct rclient *c = &reg->clients[ci];

	reg->binds[bi].owner = ci;
	if (c->naddrs < REGISTRY_MAX_ADDRS)
		c->addrs[c->naddrs++] = bi;
}

/* True for an address a station may own: not unspecified, multicast or the
 * IPv4 limited broadcast. */
static bool
ip_usable(const struct wk_ip *ip)
{
	if (ip->family == AF_INET) {
		uint32_t a = ntohl(ip->u.v4.s_addr);
		return a != 0 && a != 0xffffffffu && (a >> 28) != 0xe;
	}
	if (ip->family == AF_INET6)
		return !IN6_IS_ADDR_UNSPECIFIED(&ip->u.v6) && !IN6_IS_ADDR_MULTICAST(&ip->u.v6);
	return false;
}

/* Confirm held move bi: release its owner's old IPv4 on that link. */
static void
held_commit(struct registry *reg, uint32_t bi, struct registry_event *ev)
{
	struct rbind *b = &reg->binds[bi];
	uint32_t v = client_v4(reg, b->owner, b->link, false, bi);

	held_unlink(reg, bi);
	ev->flags |= REGISTRY_EV_MOVED | REGISTRY_EV_NEW_ADDR;
	if (v != NIL) {
		ev->old_ip = reg->binds[v].ip;
		bind_remove(reg, v);
	}
	reg->st.moves++;
}

/* True when held move bi may be confirmed at now: its owner is no longer
 * admitted, or its old address has been quiet for a whole window. */
static bool
held_due(const struct registry *reg, uint32_t bi, uint64_t now)
{
	const struct rbind *b = &reg->binds[bi];
	uint32_t v = client_v4(reg, b->owner, b->link, false, bi);

	return !reg->clients[b->owner].pinned || v == NIL ||
	    age(now, reg->binds[v].seen_ms) >= reg->window_ms;
}

/* A claim by another MAC of an admitted client's live address. It is a
 * contradiction (a conflict starts or goes on, the address fails closed)
 * and the binding stays with the admitted holder -- unless the claimant
 * has been claiming for a whole window while the holder was silent for
 * one: then the change has been seen consistently (a device that changed
 * its MAC, an address given to someone else) and the claimant takes the
 * address over (returns false: learn it the ordinary way). A live holder
 * that keeps answering never loses it. */
static bool
pinned_contest(struct registry *reg, uint32_t bi, const struct registry_claim *cl,
    uint64_t now, struct registry_event *ev)
{
	struct rbind *b = &reg->binds[bi];
	bool standing = now < b->conflict_until_ms;

	if (b->has_prev && addr_mac_equal(&b->prev, &cl->mac) &&
	    age(now, b->seen_ms) >= reg->window_ms &&
	    age(now, b->prev_since_ms) >= reg->window_ms) {
		b->conflict_until_ms = now;	/* settled: no conflict left */
		b->has_prev = false;
		return false;
	}
	if (!b->has_prev || !addr_mac_equal(&b->prev, &cl->mac)) {
		b->prev = cl->mac;
		b->prev_since_ms = now;
		b->has_prev = true;
	}
	b->prev_seen_ms = now;
	b->conflict_until_ms = now + reg->window_ms;
	ev->other = reg->clients[b->owner].mac;
	ev->flags |= REGISTRY_EV_IN_CONFLICT;
	if (!standing) {
		ev->flags |= REGISTRY_EV_CONFLICT;
		reg->st.conflicts++;
	}
	return true;
}

/* The enum registry_kind that sums up ev's flags. */
static int
event_kind(struct registry_event *ev)
{
	if (ev->flags & REGISTRY_EV_CONFLICT)
		ev->kind = REGISTRY_CONFLICT;
	else if (ev->flags & REGISTRY_EV_MOVED)
		ev->kind = REGISTRY_MOVED;
	else if (ev->flags & REGISTRY_EV_NEW_CLIENT)
		ev->kind = REGISTRY_NEW;
	else if (ev->flags & REGISTRY_EV_NEW_ADDR)
		ev->kind = REGISTRY_ADDED;
	else
		ev->kind = REGISTRY_REFRESH;
	return (int)ev->kind;
}

/* Bind a new address (or the binding bi taken from another client) to
 * client ci, making room first; 0 with the binding in *out, or a negative
 * REGISTRY_* result. */
static int
bind_to(struct registry *reg, uint32_t ci, uint32_t bi, const struct registry_claim *cl,
    uint64_t now, struct registry_event *ev, uint32_t *out)
{
	struct rbind *b;
	bool hold;
	uint32_t h;

	if (client_make_room(reg, ci, cl, bi, now, ev, &hold) < 0)
		return REGISTRY_FULL;
	if (bi == NIL) {
		bi = bind_alloc(reg, ci, ev);
		if (bi == NIL) {
			reg->st.refused++;
			return REGISTRY_FULL;
		}
		b = &reg->binds[bi];
		memset(b, 0, sizeof(*b));
		b->used = true;
		b->ip = cl->ip;
		b->link = cl->link;
		b->seen_ms = now;
		b->held_prev = b->held_next = NIL;
		h = hash_ip(reg, cl->link, &cl->ip);
		b->next = reg->bbucket[h];
		reg->bbucket[h] = bi;
	}
	client_attach(reg, ci, bi);
	if (hold) {
		held_link(reg, bi);
		ev->flags |= REGISTRY_EV_HELD | REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT;
		ev->other = cl->mac;
		reg->st.held++;
		reg->st.conflicts++;
	} else {
		ev->flags |= REGISTRY_EV_NEW_ADDR;
	}
	*out = bi;
	return 0;
}

/* Record a claim of ip by mac on link. Last claimer wins the binding (as
 * the kernel's neighbour cache does); a claim contradicting another MAC's
 * claim made less than conflict_window ago starts or extends a conflict.
 * An admitted holder keeps its binding until the change has been seen
 * consistently (pinned_contest, client_make_room). */
int
registry_learn(struct registry *reg, const struct registry_claim *cl, uint64_t now,
    struct registry_event *evp)
{
	struct registry_event scratch, *ev = evp != NULL ? evp : &scratch;
	uint32_t ci, bi;
	struct rbind *b;
	bool standing = false, contradiction = false, created;
	int rc = 0;

	memset(ev, 0, sizeof(*ev));
	if (reg == NULL || cl == NULL || !ip_usable(&cl->ip) || !addr_mac_is_unicast(&cl->mac)) {
		if (reg != NULL)
			reg->st.rejected++;
		return REGISTRY_UNUSABLE;
	}
	ev->link = cl->link;
	ev->ip = cl->ip;
	ev->mac = cl->mac;
	bi = bind_find(reg, cl->link, &cl->ip);
	if (bi != NIL && age(now, reg->binds[bi].seen_ms) >= reg->ttl_ms) {
		bind_remove(reg, bi);	/* stale: this claim starts afresh */
		bi = NIL;
	}
	if (bi != NIL && reg->window_ms > 0 && !reg->binds[bi].held &&
	    reg->clients[reg->binds[bi].owner].pinned &&
	    !addr_mac_equal(&reg->clients[reg->binds[bi].owner].mac, &cl->mac) &&
	    pinned_contest(reg, bi, cl, now, ev)) {
		reg->st.learned++;
		return event_kind(ev);
	}
	ci = client_get(reg, cl, now, ev, &rc);
	if (ci == NIL)
		return rc;
	created = (ev->flags & REGISTRY_EV_NEW_CLIENT) != 0;
	if (bi == NIL) {
		rc = bind_to(reg, ci, NIL, cl, now, ev, &bi);
		if (rc < 0)
			goto refused;
		b = &reg->binds[bi];
	} else if (reg->binds[bi].owner == ci) {
		b = &reg->binds[bi];
		standing = now < b->conflict_until_ms;
		b->seen_ms = now;
		if (b->held) {
			if (held_due(reg, bi, now))
				held_commit(reg, bi, ev);
			else
				ev->flags |= REGISTRY_EV_HELD | REGISTRY_EV_IN_CONFLICT;
		}
		/* Both claimants still active: the conflict goes on. */
		if (reg->window_ms > 0 && b->has_prev &&
		    age(now, b->prev_seen_ms) < reg->window_ms) {
			contradiction = true;
			ev->other = b->prev;
		}
	} else {
		b = &reg->binds[bi];
		struct wk_mac holder = reg->clients[b->owner].mac;

		standing = now < b->conflict_until_ms;
		if (reg->window_ms > 0) {
			if (age(now, b->seen_ms) < reg->window_ms) {
				contradiction = true;
				ev->other = holder;
			} else if (b->has_prev && !addr_mac_equal(&b->prev, &cl->mac) &&
			    age(now, b->prev_seen_ms) < reg->window_ms) {
				contradiction = true;	/* a third MAC */
				ev->other = b->prev;
			}
		}
		client_detach(reg, bi);
		held_unlink(reg, bi);	/* a held move another MAC claims is not protected */
		b->prev = holder;
		b->prev_seen_ms = b->seen_ms;
		b->has_prev = true;
		b->seen_ms = now;
		if (!contradiction) {
			ev->flags |= REGISTRY_EV_TAKEOVER;
			ev->other = holder;
			reg->st.takeovers++;
		}
		/* Room comes from ci's own list, never from the pool: bi is kept. */
		rc = bind_to(reg, ci, bi, cl, now, ev, &bi);
		if (rc < 0) {
			bind_remove(reg, bi);	/* detached: nobody holds it now */
			goto refused;
		}
	}
	if (contradiction) {
		b->conflict_until_ms = now + reg->window_ms;
		if (!standing) {
			ev->flags |= REGISTRY_EV_CONFLICT;
			reg->st.conflicts++;
		}
	}
	if (now < b->conflict_until_ms) {
		ev->flags |= REGISTRY_EV_IN_CONFLICT;
		if (!contradiction && !(ev->flags & REGISTRY_EV_HELD))
			ev->other = b->prev;
	}
	reg->st.learned++;
	return event_kind(ev);
refused:
	if (created && reg->clients[ci].naddrs == 0) {
		client_remove(reg, ci);	/* nothing of it was stored */
		reg->st.new_clients--;
	}
	return rc;
}

/* Copy client ci and its live, confirmed addresses into *out. */
static void
client_copy(const struct registry *reg, uint32_t ci, uint64_t now, struct client_ident *out)
{
	const struct rclient *c = &reg->clients[ci];

	memset(out, 0, sizeof(*out));
	out->mac = c->mac;
	out->randomised = addr_mac_is_local(&c->mac);
	out->pinned = c->pinned;
	out->first_seen_ms = c->first_seen_ms;
	out->last_seen_ms = c->last_seen_ms;
	for (unsigned k = 0; k < c->naddrs; k++) {
		const struct rbind *b = &reg->binds[c->addrs[k]];
		struct registry_addr *a;

		if (b->held || age(now, b->seen_ms) >= reg->ttl_ms)
			continue;
		a = &out->addrs[out->naddrs++];
		a->ip = b->ip;
		a->link = b->link;
		a->last_seen_ms = b->seen_ms;
		a->conflict = now < b->conflict_until_ms;
		if (a->conflict) {
			a->rival = b->prev;
			if (!out->conflict) {
				out->conflict = true;
				out->rival = b->prev;
			}
		}
	}
}

/* The client bound to ip on link now, with that binding's conflict state;
 * a held move is reported as a conflict (not yet the client's). */
bool
registry_lookup_ip(struct registry *reg, uint32_t link, const struct wk_ip *ip,
    uint64_t now, struct client_ident *out)
{
	uint32_t bi;
	const struct rbind *b;

	if (reg == NULL || ip == NULL ||
	    (ip->family != AF_INET && ip->family != AF_INET6))
		return false;
	bi = bind_find(reg, link, ip);
	if (bi == NIL)
		return false;
	b = &reg->binds[bi];
	if (age(now, b->seen_ms) >= reg->ttl_ms)
		return false;
	client_copy(reg, b->owner, now, out);
	out->ip_seen_ms = b->seen_ms;
	out->held = b->held;
	out->conflict = now < b->conflict_until_ms || b->held;
	memset(&out->rival, 0, sizeof(out->rival));
	if (b->held)
		out->rival = out->mac;
	else if (out->conflict)
		out->rival = b->prev;
	return true;
}

/* The record of mac now. */
bool
registry_lookup_mac(struct registry *reg, const struct wk_mac *mac, uint64_t now,
    struct client_ident *out)
{
	uint32_t ci = client_of(reg, mac);

	if (ci == NIL || age(now, reg->clients[ci].last_seen_ms) >= reg->ttl_ms)
		return false;
	client_copy(reg, ci, now, out);
	return true;
}

/* Forget mac and its addresses (operator action or tests). */
bool
registry_forget_mac(struct registry *reg, const struct wk_mac *mac)
{
	uint32_t ci = client_of(reg, mac);

	if (ci == NIL)
		return false;
	client_remove(reg, ci);
	return true;
}

/* Install the admission callback. */
void
registry_set_admitted(struct registry *reg, registry_admitted_fn fn, void *arg)
{
	if (reg == NULL)
		return;
	reg->admitted = fn;
	reg->admitted_arg = arg;
}

/* Pin or unpin mac's record. */
bool
registry_pin(struct registry *reg, const struct wk_mac *mac, bool pinned)
{
	uint32_t ci = client_of(reg, mac);

	if (ci == NIL)
		return false;
	client_set_pinned(reg, ci, pinned);
	return true;
}

/* Re-check up to budget slots against the admission callback. */
unsigned
registry_pin_sweep(struct registry *reg, unsigned budget)
{
	unsigned changed = 0;

	if (reg == NULL || reg->admitted == NULL)
		return 0;
	if (budget > reg->max_clients)
		budget = reg->max_clients;
	for (unsigned n = 0; n < budget; n++) {
		struct rclient *c = &reg->clients[reg->sweep];
		uint32_t ci = reg->sweep;

		reg->sweep = reg->sweep + 1 < reg->max_clients ? reg->sweep + 1 : 0;
		if (!c->used)
			continue;
		bool want = is_admitted(reg, &c->mac);
		if (want != c->pinned) {
			client_set_pinned(reg, ci, want);
			changed++;
		}
	}
	return changed;
}

/* Drop clients from the old end of both LRU lists while they are stale
 * (each list is in last-seen order), then settle held moves. */
unsigned
registry_expire(struct registry *reg, uint64_t now, registry_event_cb cb, void *arg)
{
	unsigned n = 0;

	if (reg == NULL)
		return 0;
	for (int l = 0; l < 2; l++) {
		while (reg->lru_tail[l] != NIL &&
		    age(now, reg->clients[reg->lru_tail[l]].last_seen_ms) >= reg->ttl_ms) {
			client_remove(reg, reg->lru_tail[l]);
			reg->st.expired++;
			n++;
		}
	}
	for (uint32_t bi = reg->held_head, next; bi != NIL; bi = next) {
		struct rbind *b = &reg->binds[bi];
		struct registry_event ev;

		next = b->held_next;
		if (age(now, b->seen_ms) >= reg->ttl_ms) {
			bind_remove(reg, bi);
			continue;
		}
		if (!held_due(reg, bi, now))
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.link = b->link;
		ev.ip = b->ip;
		ev.mac = reg->clients[b->owner].mac;
		held_commit(reg, bi, &ev);
		event_kind(&ev);
		if (cb != NULL)
			cb(&ev, arg);
	}
	return n;
}

/* Copy the next live client at or after slot *cursor. */
bool
registry_next(struct registry *reg, unsigned *cursor, uint64_t now, struct client_ident *out)
{
	if (reg == NULL || cursor == NULL)
		return false;
	for (unsigned i = *cursor; i < reg->max_clients; i++) {
		const struct rclient *c = &reg->clients[i];
		if (!c->used || age(now, c->last_seen_ms) >= reg->ttl_ms)
			continue;
		client_copy(reg, i, now, out);
		*cursor = i + 1;
		return true;
	}
	*cursor = reg->max_clients;
	return false;
}

/* Call cb for every live client until it returns non-zero. */
int
registry_foreach(struct registry *reg, uint64_t now, registry_cb cb, void *arg)
{
	struct client_ident c;
	unsigned cursor = 0;
	int rc;

	while (registry_next(reg, &cursor, now, &c))
		if ((rc = cb(&c, arg)) != 0)
			return rc;
	return 0;
}

/* Copy the counters. */
void
registry_stats(const struct registry *reg, struct registry_stats *out)
{
	*out = reg->st;
}

/* A short name for a kind, for logs and audit events. */
const char *
registry_kind_name(enum registry_kind kind)
{
	switch (kind) {
	case REGISTRY_REFRESH:
		return "refresh";
	case REGISTRY_NEW:
		return "new";
	case REGISTRY_ADDED:
		return "added";
	case REGISTRY_MOVED:
		return "moved";
	case REGISTRY_CONFLICT:
		return "conflict";
	}
	return "?";
}

/* The keyed hash, for the other tables keyed by addresses a client
 * chooses (proxy/limiter.c): one SipHash in the tree. */
uint64_t
registry_hash(const uint8_t key[16], const uint8_t *in, size_t len)
{
	return siphash24(key, in, len);
}

/* A fresh random key for registry_hash. */
void
registry_hash_key(uint8_t key[16])
{
	key_init(key);
}
