/* registry: fixed-capacity client identity table. Two chained hash tables
 * keyed with SipHash-2-4 under a random key (IP -> binding, MAC -> client),
 * index-linked pools allocated once, and an LRU list for ageing/eviction. */
#include "registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NIL UINT32_MAX
#define REGISTRY_MAX_CAPACITY (1u << 22)	/* keeps every size_t product small */

/* One IP binding: the IP, its current owner, the previous different
 * claimant (for conflicts) and the conflict deadline. */
struct rbind {
	struct wk_ip ip;
	struct wk_mac prev;		/* previous different claimant */
	bool has_prev;
	bool used;
	uint64_t seen_ms;		/* last claim by the owner */
	uint64_t prev_seen_ms;		/* last claim by prev */
	uint64_t conflict_until_ms;	/* a conflict stands while now < this */
	uint32_t owner;			/* client index */
	uint32_t next;			/* hash chain, or free list */
};

/* One client (MAC) record with the indices of its bindings. */
struct rclient {
	struct wk_mac mac;
	bool used;
	uint8_t naddrs;
	uint64_t first_seen_ms;
	uint64_t last_seen_ms;
	uint32_t next;			/* hash chain, or free list */
	uint32_t lru_prev;		/* towards the most recently seen */
	uint32_t lru_next;		/* towards the least recently seen */
	uint32_t addrs[REGISTRY_MAX_ADDRS];
};

struct registry {
	unsigned max_clients;
	unsigned nbinds;
	unsigned addr_cap;		/* per-client address limit */
	uint64_t ttl_ms;
	uint64_t window_ms;
	uint8_t key[16];		/* SipHash key, random per registry */
	struct rclient *clients;
	struct rbind *binds;
	uint32_t *cbucket;
	uint32_t *bbucket;
	uint32_t cmask;
	uint32_t bmask;
	uint32_t cfree;
	uint32_t bfree;
	uint32_t lru_head;		/* most recently seen */
	uint32_t lru_tail;		/* least recently seen */
	struct registry_stats st;
};

/* Rotate a 64-bit word left. */
static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* Little-endian 64-bit load. */
static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* One SipHash round on the state. */
static void
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

/* Bucket of an IP address. */
static uint32_t
hash_ip(const struct registry *reg, const struct wk_ip *ip)
{
	uint8_t buf[17];
	size_t n;

	buf[0] = (uint8_t)ip->family;
	if (ip->family == AF_INET) {
		memcpy(buf + 1, &ip->u.v4, 4);
		n = 5;
	} else {
		memcpy(buf + 1, &ip->u.v6, 16);
		n = 17;
	}
	return (uint32_t)siphash24(reg->key, buf, n) & reg->bmask;
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
registry_new(unsigned max_clients, unsigned neighbour_ttl_s, unsigned conflict_window_s)
{
	struct registry *reg;
	uint32_t i, nb, cb;

	if (max_clients == 0 || max_clients > REGISTRY_MAX_CAPACITY || neighbour_ttl_s == 0)
		return NULL;
	reg = calloc(1, sizeof(*reg));
	if (reg == NULL)
		return NULL;
	reg->max_clients = max_clients;
	reg->nbinds = max_clients * REGISTRY_ADDRS_PER_CLIENT;
	reg->addr_cap = reg->nbinds < REGISTRY_MAX_ADDRS ? reg->nbinds : REGISTRY_MAX_ADDRS;
	reg->ttl_ms = (uint64_t)neighbour_ttl_s * 1000;
	reg->window_ms = (uint64_t)conflict_window_s * 1000;
	key_init(reg->key);
	cb = pow2_at_least(max_clients);
	nb = pow2_at_least(reg->nbinds);
	reg->cmask = cb - 1;
	reg->bmask = nb - 1;
	reg->clients = calloc(max_clients, sizeof(*reg->clients));
	reg->binds = calloc(reg->nbinds, sizeof(*reg->binds));
	reg->cbucket = malloc((size_t)cb * sizeof(*reg->cbucket));
	reg->bbucket = malloc((size_t)nb * sizeof(*reg->bbucket));
	if (reg->clients == NULL || reg->binds == NULL || reg->cbucket == NULL ||
	    reg->bbucket == NULL)
		goto fail;
	for (i = 0; i < cb; i++)
		reg->cbucket[i] = NIL;
	for (i = 0; i < nb; i++)
		reg->bbucket[i] = NIL;
	for (i = 0; i < max_clients; i++)
		reg->clients[i].next = i + 1 < max_clients ? i + 1 : NIL;
	for (i = 0; i < reg->nbinds; i++)
		reg->binds[i].next = i + 1 < reg->nbinds ? i + 1 : NIL;
	reg->cfree = 0;
	reg->bfree = 0;
	reg->lru_head = reg->lru_tail = NIL;
	reg->st.max_clients = max_clients;
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
	free(reg);
}

/* Index of the binding for ip, or NIL. */
static uint32_t
bind_find(const struct registry *reg, const struct wk_ip *ip)
{
	for (uint32_t i = reg->bbucket[hash_ip(reg, ip)]; i != NIL; i = reg->binds[i].next)
		if (addr_ip_equal(&reg->binds[i].ip, ip))
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

/* Remove a binding from the hash and its owner, back to the free list. */
static void
bind_remove(struct registry *reg, uint32_t bi)
{
	struct rbind *b = &reg->binds[bi];
	uint32_t *pp = &reg->bbucket[hash_ip(reg, &b->ip)];

	while (*pp != NIL && *pp != bi)
		pp = &reg->binds[*pp].next;
	if (*pp == bi)
		*pp = b->next;
	client_detach(reg, bi);
	memset(b, 0, sizeof(*b));
	b->next = reg->bfree;
	reg->bfree = bi;
	reg->st.addrs--;
}

/* Unlink client ci from the LRU list. */
static void
lru_unlink(struct registry *reg, uint32_t ci)
{
	struct rclient *c = &reg->clients[ci];

	if (c->lru_prev != NIL)
		reg->clients[c->lru_prev].lru_next = c->lru_next;
	else
		reg->lru_head = c->lru_next;
	if (c->lru_next != NIL)
		reg->clients[c->lru_next].lru_prev = c->lru_prev;
	else
		reg->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NIL;
}

/* Put client ci at the most-recently-seen end of the LRU list. */
static void
lru_push(struct registry *reg, uint32_t ci)
{
	struct rclient *c = &reg->clients[ci];

	c->lru_prev = NIL;
	c->lru_next = reg->lru_head;
	if (reg->lru_head != NIL)
		reg->clients[reg->lru_head].lru_prev = ci;
	reg->lru_head = ci;
	if (reg->lru_tail == NIL)
		reg->lru_tail = ci;
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
	memset(c, 0, sizeof(*c));
	c->next = reg->cfree;
	reg->cfree = ci;
	reg->st.clients--;
}

/* Evict the least recently seen client other than `keep` to make room.
 * Returns false when there is no such client. */
static bool
client_evict_lru(struct registry *reg, uint32_t keep, struct registry_event *ev)
{
	uint32_t victim = reg->lru_tail;

	if (victim == keep && victim != NIL)
		victim = reg->clients[victim].lru_prev;
	if (victim == NIL)
		return false;
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

/* Find or create the client for mac and mark it seen now. */
static uint32_t
client_get(struct registry *reg, const struct wk_mac *mac, uint64_t now,
    struct registry_event *ev)
{
	uint32_t ci = client_find(reg, mac), h;
	struct rclient *c;

	if (ci != NIL && age(now, reg->clients[ci].last_seen_ms) >= reg->ttl_ms) {
		client_remove(reg, ci);	/* aged but not yet expired: start over */
		reg->st.expired++;
		ci = NIL;
	}
	if (ci == NIL) {
		if (reg->cfree == NIL && !client_evict_lru(reg, NIL, ev))
			return NIL;
		ci = reg->cfree;
		c = &reg->clients[ci];
		reg->cfree = c->next;
		memset(c, 0, sizeof(*c));
		c->used = true;
		c->mac = *mac;
		c->first_seen_ms = now;
		h = hash_mac(reg, mac);
		c->next = reg->cbucket[h];
		reg->cbucket[h] = ci;
		c->lru_prev = c->lru_next = NIL;
		reg->st.clients++;
		reg->st.new_clients++;
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

/* Make room in client ci for the new address ip: release its previous IPv4
 * (one IPv4 per MAC: a new one is a DHCP move) and respect the cap. */
static void
client_make_room(struct registry *reg, uint32_t ci, const struct wk_ip *ip,
    struct registry_event *ev)
{
	struct rclient *c = &reg->clients[ci];

	if (ip->family == AF_INET) {
		for (unsigned k = 0; k < c->naddrs; k++) {
			struct rbind *b = &reg->binds[c->addrs[k]];
			if (b->ip.family == AF_INET) {
				ev->flags |= REGISTRY_EV_MOVED;
				ev->old_ip = b->ip;
				reg->st.moves++;
				bind_remove(reg, c->addrs[k]);
				break;
			}
		}
	}
	if (c->naddrs >= reg->addr_cap)
		client_drop_oldest(reg, ci, ev);
}

/* Take a binding from the free list, evicting LRU clients if the pool is
 * empty; ci (the learner) is never evicted, it gives up its oldest address. */
static uint32_t
bind_alloc(struct registry *reg, uint32_t ci, struct registry_event *ev)
{
	uint32_t bi;

	while (reg->bfree == NIL) {
		if (!client_evict_lru(reg, ci, ev)) {
			if (reg->clients[ci].naddrs == 0)
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

/* Record a claim of ip by mac. Last claimer wins the binding (as the
 * kernel's neighbour cache does); a claim contradicting another MAC's claim
 * made less than conflict_window ago starts or extends a conflict. */
int
registry_learn(struct registry *reg, const struct wk_ip *ip,
    const struct wk_mac *mac, uint64_t now, struct registry_event *evp)
{
	struct registry_event scratch, *ev = evp != NULL ? evp : &scratch;
	uint32_t ci, bi, h;
	struct rbind *b;
	bool standing = false, contradiction = false;

	memset(ev, 0, sizeof(*ev));
	if (reg == NULL || ip == NULL || mac == NULL || !ip_usable(ip) ||
	    !addr_mac_is_unicast(mac)) {
		if (reg != NULL)
			reg->st.rejected++;
		return -1;
	}
	ev->ip = *ip;
	ev->mac = *mac;
	ci = client_get(reg, mac, now, ev);
	if (ci == NIL) {
		reg->st.rejected++;
		return -1;
	}
	bi = bind_find(reg, ip);
	if (bi != NIL && age(now, reg->binds[bi].seen_ms) >= reg->ttl_ms) {
		bind_remove(reg, bi);	/* stale: this claim starts afresh */
		bi = NIL;
	}
	if (bi == NIL) {
		client_make_room(reg, ci, ip, ev);
		bi = bind_alloc(reg, ci, ev);
		if (bi == NIL) {
			reg->st.rejected++;
			return -1;
		}
		b = &reg->binds[bi];
		memset(b, 0, sizeof(*b));
		b->used = true;
		b->ip = *ip;
		b->seen_ms = now;
		h = hash_ip(reg, ip);
		b->next = reg->bbucket[h];
		reg->bbucket[h] = bi;
		client_attach(reg, ci, bi);
		ev->flags |= REGISTRY_EV_NEW_ADDR;
	} else if (reg->binds[bi].owner == ci) {
		b = &reg->binds[bi];
		standing = now < b->conflict_until_ms;
		b->seen_ms = now;
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
			} else if (b->has_prev && !addr_mac_equal(&b->prev, mac) &&
			    age(now, b->prev_seen_ms) < reg->window_ms) {
				contradiction = true;	/* a third MAC */
				ev->other = b->prev;
			}
		}
		client_detach(reg, bi);
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
		client_make_room(reg, ci, ip, ev);
		client_attach(reg, ci, bi);
		ev->flags |= REGISTRY_EV_NEW_ADDR;
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
		if (!contradiction)
			ev->other = b->prev;
	}
	reg->st.learned++;
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

/* Copy client ci and its live addresses into *out. */
static void
client_copy(const struct registry *reg, uint32_t ci, uint64_t now, struct client_ident *out)
{
	const struct rclient *c = &reg->clients[ci];

	memset(out, 0, sizeof(*out));
	out->mac = c->mac;
	out->randomised = addr_mac_is_local(&c->mac);
	out->first_seen_ms = c->first_seen_ms;
	out->last_seen_ms = c->last_seen_ms;
	for (unsigned k = 0; k < c->naddrs; k++) {
		const struct rbind *b = &reg->binds[c->addrs[k]];
		struct registry_addr *a;

		if (age(now, b->seen_ms) >= reg->ttl_ms)
			continue;
		a = &out->addrs[out->naddrs++];
		a->ip = b->ip;
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

/* The client bound to ip now, with that binding's conflict state. */
bool
registry_lookup_ip(struct registry *reg, const struct wk_ip *ip, uint64_t now,
    struct client_ident *out)
{
	uint32_t bi;
	const struct rbind *b;

	if (reg == NULL || ip == NULL ||
	    (ip->family != AF_INET && ip->family != AF_INET6))
		return false;
	bi = bind_find(reg, ip);
	if (bi == NIL)
		return false;
	b = &reg->binds[bi];
	if (age(now, b->seen_ms) >= reg->ttl_ms)
		return false;
	client_copy(reg, b->owner, now, out);
	out->ip_seen_ms = b->seen_ms;
	out->conflict = now < b->conflict_until_ms;
	memset(&out->rival, 0, sizeof(out->rival));
	if (out->conflict)
		out->rival = b->prev;
	return true;
}

/* The record of mac now. */
bool
registry_lookup_mac(struct registry *reg, const struct wk_mac *mac, uint64_t now,
    struct client_ident *out)
{
	uint32_t ci;

	if (reg == NULL || mac == NULL)
		return false;
	ci = client_find(reg, mac);
	if (ci == NIL || age(now, reg->clients[ci].last_seen_ms) >= reg->ttl_ms)
		return false;
	client_copy(reg, ci, now, out);
	return true;
}

/* Forget mac and its addresses (operator action or tests). */
bool
registry_forget_mac(struct registry *reg, const struct wk_mac *mac)
{
	uint32_t ci;

	if (reg == NULL || mac == NULL)
		return false;
	ci = client_find(reg, mac);
	if (ci == NIL)
		return false;
	client_remove(reg, ci);
	return true;
}

/* Drop clients from the old end of the LRU list while they are stale; the
 * list is in last-seen order because every learn moves its client to the
 * front (given a monotonic now). */
unsigned
registry_expire(struct registry *reg, uint64_t now)
{
	unsigned n = 0;

	if (reg == NULL)
		return 0;
	while (reg->lru_tail != NIL &&
	    age(now, reg->clients[reg->lru_tail].last_seen_ms) >= reg->ttl_ms) {
		client_remove(reg, reg->lru_tail);
		reg->st.expired++;
		n++;
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
