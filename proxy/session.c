/* session: the session table -- an open-addressing hash of at most
 * `capacity` sessions keyed by MAC, with the admission rule (hard, idle and
 * quota limits), accounting and the expiry sweep. No clock, no I/O. */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

struct session_slot {
	struct session s;
	uint64_t hash;
	bool used;
};

/* What the table remembers of one client address: the splash MACs it
 * admitted (oldest first) and its admissions in the current window. */
struct session_addr {
	struct wk_ip ip;
	uint64_t hash;
	uint64_t last;       /* last admission (cache replacement) */
	uint64_t win;        /* start of the admission window */
	uint32_t win_n;      /* admissions in it */
	uint8_t nmacs;
	bool used;
	struct wk_mac macs[SESSION_ADDR_RING];
};

struct session_table {
	struct session_slot *slots;
	size_t mask;  /* number of slots - 1 (a power of two) */
	size_t count; /* entries in any state */
	struct session_addr *addrs; /* a cache of client addresses */
	size_t amask;
	struct session_conf conf;
};

#define SESSION_ADDR_PROBE 8 /* slots an address may live in */

/* The splitmix64 finaliser of x xor the seed: MACs and addresses chosen
 * by a client cannot be made to collide without knowing the seed. */
static uint64_t
session_mix(const struct session_table *tab, uint64_t x)
{
	x ^= tab->conf.seed;
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Hash a MAC (see session_mix). */
static uint64_t
session_hash(const struct session_table *tab, const struct wk_mac *mac)
{
	uint64_t x = 0;

	for (int i = 0; i < 6; i++)
		x = x << 8 | mac->b[i];
	return session_mix(tab, x);
}

/* Hash an address: its bytes folded 8 at a time through session_mix. */
static uint64_t
session_hash_ip(const struct session_table *tab, const struct wk_ip *ip)
{
	const uint8_t *b = (const uint8_t *)&ip->u;
	size_t n = ip->family == AF_INET ? 4 : 16;
	uint64_t h = (uint64_t)ip->family;

	for (size_t i = 0; i < n; i += 4)
		h = session_mix(tab, h ^ ((uint64_t)b[i] << 24 | (uint64_t)b[i + 1] << 16 |
		    (uint64_t)b[i + 2] << 8 | b[i + 3]));
	return h;
}

/* Check settings that must hold for the table to make sense. */
static int
session_conf_valid(const struct session_conf *conf)
{
	if (conf->timeout == 0 || conf->capacity == 0 ||
	    conf->capacity > ((size_t)1 << 24))
		return -1;
	return 0;
}

/* Allocate an empty table for conf->capacity sessions (load <= 3/4). */
struct session_table *
session_table_create(const struct session_conf *conf)
{
	struct session_table *tab;
	size_t n = 16;

	if (session_conf_valid(conf) < 0) {
		errno = EINVAL;
		return NULL;
	}
	while (n / 4 * 3 < conf->capacity)
		n *= 2;
	tab = calloc(1, sizeof(*tab));
	if (tab == NULL)
		return NULL;
	tab->slots = calloc(n, sizeof(*tab->slots));
	/* One remembered address per four sessions is plenty: the cache
	 * forgets the least recently admitting one. */
	tab->amask = 63;
	while (tab->amask + 1 < conf->capacity / 4)
		tab->amask = tab->amask * 2 + 1;
	tab->addrs = calloc(tab->amask + 1, sizeof(*tab->addrs));
	if (tab->slots == NULL || tab->addrs == NULL) {
		free(tab->slots);
		free(tab->addrs);
		free(tab);
		return NULL;
	}
	tab->mask = n - 1;
	tab->conf = *conf;
	return tab;
}

/* Free the table. */
void
session_table_free(struct session_table *tab)
{
	if (tab == NULL)
		return;
	free(tab->slots);
	free(tab->addrs);
	free(tab);
}

/* Apply reloaded limits (timeout, idle_timeout, bytes, keep_ended); the
 * capacity and seed stay those of creation. -1 on invalid settings. */
int
session_configure(struct session_table *tab, const struct session_conf *conf)
{
	struct session_conf c = *conf;

	c.capacity = tab->conf.capacity;
	c.seed = tab->conf.seed;
	if (session_conf_valid(&c) < 0)
		return -1;
	tab->conf = c;
	return 0;
}

/* Slot index of mac, or -1. */
static long
session_slot_find(const struct session_table *tab, const struct wk_mac *mac,
    uint64_t h)
{
	for (size_t i = h & tab->mask;; i = (i + 1) & tab->mask) {
		const struct session_slot *sl = &tab->slots[i];
		if (!sl->used)
			return -1;
		if (sl->hash == h && addr_mac_equal(&sl->s.mac, mac))
			return (long)i;
	}
}

/* Remove the entry in slot i by backward shift (no tombstones). */
static void
session_delete_at(struct session_table *tab, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & tab->mask;
		if (!tab->slots[j].used)
			break;
		size_t k = tab->slots[j].hash & tab->mask;
		/* Slot j stays if its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		tab->slots[i] = tab->slots[j];
		i = j;
	}
	memset(&tab->slots[i], 0, sizeof(tab->slots[i]));
	tab->count--;
}

/* Make room when full by dropping the longest-ended session that is no
 * longer admitted; admitted clients are never pushed out. -1 if none. */
static int
session_evict(struct session_table *tab)
{
	long best = -1;

	for (size_t i = 0; i <= tab->mask; i++) {
		const struct session_slot *sl = &tab->slots[i];
		if (sl->used && sl->s.state != SESSION_ADMITTED &&
		    (best < 0 || sl->s.ended < tab->slots[best].s.ended))
			best = (long)i;
	}
	if (best < 0)
		return -1;
	session_delete_at(tab, (size_t)best);
	return 0;
}

/* The slot for mac, inserted (zeroed but for mac) if absent; NULL when the
 * table is full of admitted sessions. */
static struct session *
session_slot_get(struct session_table *tab, const struct wk_mac *mac)
{
	uint64_t h = session_hash(tab, mac);
	long at = session_slot_find(tab, mac, h);

	if (at >= 0)
		return &tab->slots[at].s;
	if (tab->count >= tab->conf.capacity && session_evict(tab) < 0) {
		errno = ENOSPC;
		return NULL;
	}
	for (size_t i = h & tab->mask;; i = (i + 1) & tab->mask) {
		struct session_slot *sl = &tab->slots[i];
		if (sl->used)
			continue;
		memset(sl, 0, sizeof(*sl));
		sl->used = true;
		sl->hash = h;
		sl->s.mac = *mac;
		tab->count++;
		return &sl->s;
	}
}

/* The admission rule at time now: why s does not admit, or SESSION_R_NONE.
 * Bounds are exclusive: a session granted for T seconds at t0 admits up to
 * t0+T-1 and not at t0+T; likewise last_seen+idle_timeout and bytes ==
 * quota. Config allowances (permanent devices) skip idle and quota. */
static enum session_reason
session_status(const struct session_table *tab, const struct session *s,
    uint64_t now)
{
	if (s->state == SESSION_REVOKED)
		return SESSION_R_REVOKED;
	if (s->state == SESSION_EXPIRED)
		return s->reason == SESSION_R_NONE ? SESSION_R_TIMEOUT : s->reason;
	if (s->expires != SESSION_FOREVER && now >= s->expires)
		return SESSION_R_TIMEOUT;
	if (s->source == SESSION_SRC_CONFIG)
		return SESSION_R_NONE;
	uint64_t quota = s->bytes_limit ? s->bytes_limit : tab->conf.bytes;
	uint64_t idle = s->idle_limit ? s->idle_limit : tab->conf.idle_timeout;
	if (quota != 0 && s->bytes >= quota)
		return SESSION_R_QUOTA;
	if (idle != 0 && now >= s->last_seen && now - s->last_seen >= idle)
		return SESSION_R_IDLE;
	return SESSION_R_NONE;
}

/* True when a session for mac fits: it has one, the table has room, or
 * an ended session can make room (admitted ones are never pushed out). */
bool
session_can_hold(const struct session_table *tab, const struct wk_mac *mac)
{
	if (tab->count < tab->conf.capacity ||
	    session_slot_find(tab, mac, session_hash(tab, mac)) >= 0)
		return true;
	for (size_t i = 0; i <= tab->mask; i++)
		if (tab->slots[i].used && tab->slots[i].s.state != SESSION_ADMITTED)
			return true;
	return false;
}

/* What session_grant would make of mac at now, without changing the
 * table: a grant is applied (session_restore) only once it is on disk, so
 * a refused one leaves the previous session in force. 0, or -1 with errno
 * EINVAL (not unicast) or ENOSPC (full of admitted sessions). */
int
session_prepare(const struct session_table *tab, const struct wk_mac *mac,
    uint64_t now, uint64_t seconds, enum session_source source,
    struct session *out)
{
	long at;

	if (!addr_mac_is_unicast(mac)) {
		errno = EINVAL;
		return -1;
	}
	if (!session_can_hold(tab, mac)) {
		errno = ENOSPC;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if ((at = session_slot_find(tab, mac, session_hash(tab, mac))) >= 0) {
		out->admit_win = tab->slots[at].s.admit_win;
		out->admit_n = tab->slots[at].s.admit_n;
	}
	if (seconds == 0)
		seconds = tab->conf.timeout;
	out->mac = *mac;
	out->state = SESSION_ADMITTED;
	out->source = source;
	out->reason = SESSION_R_NONE;
	out->start = now;
	out->expires = seconds >= SESSION_FOREVER - now ? SESSION_FOREVER
							: now + seconds;
	out->last_seen = now;
	return 0;
}

/* The remembered entry of address ip, or NULL. */
static struct session_addr *
session_addr_find(const struct session_table *tab, const struct wk_ip *ip)
{
	uint64_t h = session_hash_ip(tab, ip);

	for (size_t k = 0; k < SESSION_ADDR_PROBE; k++) {
		struct session_addr *a = &tab->addrs[(h + k) & tab->amask];
		if (a->used && a->hash == h && addr_ip_equal(&a->ip, ip))
			return a;
	}
	return NULL;
}

/* The entry of ip, taking the least recently admitting one of its probe
 * slots when it is new: a flood of addresses evicts only itself and idle
 * ones, and a forgotten address merely starts counting again. */
static struct session_addr *
session_addr_get(struct session_table *tab, const struct wk_ip *ip)
{
	uint64_t h = session_hash_ip(tab, ip);
	struct session_addr *a = session_addr_find(tab, ip), *best = NULL;

	if (a != NULL)
		return a;
	for (size_t k = 0; k < SESSION_ADDR_PROBE; k++) {
		a = &tab->addrs[(h + k) & tab->amask];
		if (!a->used) {
			best = a;
			break;
		}
		if (best == NULL || a->last < best->last)
			best = a;
	}
	memset(best, 0, sizeof(*best));
	best->used = true;
	best->hash = h;
	best->ip = *ip;
	return best;
}

/* True when a window that started at win still counts at now. */
static bool
session_window_open(uint64_t win, uint64_t now)
{
	return win != 0 && now >= win && now - win < SESSION_ADMIT_WINDOW;
}

/* May mac (from address from, may be NULL) be admitted again at now?
 * Each MAC and each address gets admit_per_minute admissions in a window
 * of SESSION_ADMIT_WINDOW seconds (every one costs an fsync and a firewall
 * transaction). false with *retry the seconds until the window ends. */
bool
session_rate_ok(const struct session_table *tab, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t now, uint64_t *retry)
{
	uint32_t lim = tab->conf.admit_per_minute;
	long at = session_slot_find(tab, mac, session_hash(tab, mac));
	const struct session_addr *a = from != NULL && from->family != 0
	    ? session_addr_find(tab, from) : NULL;
	uint64_t win = 0;

	if (lim == 0)
		return true;
	if (at >= 0 && session_window_open(tab->slots[at].s.admit_win, now) &&
	    tab->slots[at].s.admit_n >= lim)
		win = tab->slots[at].s.admit_win;
	if (a != NULL && session_window_open(a->win, now) && a->win_n >= lim &&
	    a->win > win)
		win = a->win;
	if (win == 0)
		return true;
	if (retry != NULL)
		*retry = win + SESSION_ADMIT_WINDOW - now;
	return false;
}

/* The live splash sessions admitted from address from (other than mac's)
 * that must end for mac to be admitted from there within splash_per_addr,
 * oldest first, into out; their number. So a host that keeps changing its
 * MAC holds a bounded number of sessions. */
size_t
session_addr_excess(const struct session_table *tab, const struct wk_ip *from,
    const struct wk_mac *mac, struct wk_mac *out, size_t max)
{
	const struct session_addr *a;
	struct wk_mac live[SESSION_ADDR_RING];
	size_t nlive = 0, n = 0, lim = tab->conf.splash_per_addr;

	if (lim == 0 || from == NULL || from->family == 0 ||
	    (a = session_addr_find(tab, from)) == NULL)
		return 0;
	for (size_t i = 0; i < a->nmacs; i++) {
		const struct session *s = session_find(tab, &a->macs[i]);
		if (s != NULL && s->state == SESSION_ADMITTED &&
		    s->source == SESSION_SRC_SPLASH && addr_ip_equal(&s->from, from) &&
		    !addr_mac_equal(&a->macs[i], mac))
			live[nlive++] = a->macs[i];
	}
	/* Room for the new one: keep the newest lim - 1. */
	while (nlive >= lim && n < nlive - (lim - 1) && n < max) {
		out[n] = live[n];
		n++;
	}
	return n;
}

/* mac was admitted at now (its session is in the table): count it against
 * the MAC's and the address's windows, and remember a splash MAC under the
 * address it came from. */
void
session_admitted(struct session_table *tab, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t now)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));
	struct session_addr *a;
	struct session *s;

	if (at < 0)
		return;
	s = &tab->slots[at].s;
	if (!session_window_open(s->admit_win, now)) {
		s->admit_win = now;
		s->admit_n = 0;
	}
	s->admit_n++;
	if (from == NULL || from->family == 0)
		return;
	a = session_addr_get(tab, from);
	a->last = now;
	if (!session_window_open(a->win, now)) {
		a->win = now;
		a->win_n = 0;
	}
	a->win_n++;
	if (s->source != SESSION_SRC_SPLASH)
		return;
	s->from = *from;
	for (size_t i = 0; i < a->nmacs; i++)
		if (addr_mac_equal(&a->macs[i], mac)) {
			memmove(&a->macs[i], &a->macs[i + 1],
			    (a->nmacs - i - 1) * sizeof(a->macs[0]));
			a->nmacs--;
			break;
		}
	if (a->nmacs == SESSION_ADDR_RING) {
		memmove(&a->macs[0], &a->macs[1], (SESSION_ADDR_RING - 1) *
		    sizeof(a->macs[0]));
		a->nmacs--;
	}
	a->macs[a->nmacs++] = *mac;
}

/* Admit mac from now for seconds (0: the configured session_timeout,
 * SESSION_FOREVER: no hard end). A grant for a MAC that already has a
 * session replaces it: a new start, a new end, the byte count reset.
 * The session, valid until the table next changes, or NULL (errno EINVAL
 * for a non-unicast MAC, ENOSPC when full of admitted sessions). */
const struct session *
session_grant(struct session_table *tab, const struct wk_mac *mac,
    uint64_t now, uint64_t seconds, enum session_source source)
{
	struct session s;

	if (session_prepare(tab, mac, now, seconds, source, &s) < 0 ||
	    session_restore(tab, &s) < 0)
		return NULL;
	return session_find(tab, mac);
}

/* mac's session while in state admitted (limits not yet swept count), or
 * NULL with errno ENOENT: what revoke and set_limits may change. */
static struct session *
session_live(struct session_table *tab, const struct wk_mac *mac)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));

	if (at < 0 || tab->slots[at].s.state != SESSION_ADMITTED) {
		errno = ENOENT;
		return NULL;
	}
	return &tab->slots[at].s;
}

/* Set an admitted session's own limits (RADIUS Access-Accept or CoA):
 * its hard end, idle timeout and quota (0: the table's setting). 0, or
 * -1 with errno ENOENT when mac has no admitted session. */
int
session_set_limits(struct session_table *tab, const struct wk_mac *mac,
    uint64_t expires, uint64_t idle_limit, uint64_t bytes_limit)
{
	struct session *s = session_live(tab, mac);

	if (s == NULL)
		return -1;
	s->expires = expires;
	s->idle_limit = idle_limit;
	s->bytes_limit = bytes_limit;
	return 0;
}

/* End mac's session now (wicketctl deny); 0 if it was admitted, -1 with
 * errno ENOENT if there is no admitted session. */
int
session_revoke(struct session_table *tab, const struct wk_mac *mac,
    uint64_t now)
{
	struct session *s = session_live(tab, mac);

	if (s == NULL)
		return -1;
	s->state = SESSION_REVOKED;
	s->reason = SESSION_R_REVOKED;
	s->ended = now;
	return 0;
}

/* Is mac admitted at now? Does not change the table: a session past its
 * limits is refused here at once and reported by the next session_expire.
 * reason (may be NULL) says why not. */
bool
session_check(const struct session_table *tab, const struct wk_mac *mac,
    uint64_t now, enum session_reason *reason)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));
	enum session_reason r;

	r = at < 0 ? SESSION_R_UNKNOWN
		   : session_status(tab, &tab->slots[at].s, now);
	if (reason != NULL)
		*reason = r;
	return r == SESSION_R_NONE;
}

/* What is left of mac's session at now, by the same rule that admits it:
 * seconds to the hard end (SESSION_FOREVER: none) and bytes to the quota
 * (UINT64_MAX: none), for the CAPPORT API (RFC 8908 §5). False when the
 * session does not admit now. */
bool
session_remaining(const struct session_table *tab, const struct wk_mac *mac,
    uint64_t now, uint64_t *seconds, uint64_t *bytes,
    enum session_source *source)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));
	const struct session *s;
	uint64_t quota;

	if (at < 0 || session_status(tab, &tab->slots[at].s, now) != SESSION_R_NONE)
		return false;
	s = &tab->slots[at].s;
	quota = s->bytes_limit ? s->bytes_limit : tab->conf.bytes; /* as session_status */
	*seconds = s->expires == SESSION_FOREVER ? SESSION_FOREVER : s->expires - now;
	*bytes = quota == 0 || s->source == SESSION_SRC_CONFIG ? UINT64_MAX
	    : quota - s->bytes;
	*source = s->source;
	return true;
}

/* Count bytes for mac (0 bytes: activity only). The idle timer restarts
 * only while the session still admits, so traffic cannot revive an idle
 * or expired session. 0, or -1 with errno ENOENT for an unknown MAC. */
int
session_account(struct session_table *tab, const struct wk_mac *mac,
    uint64_t bytes, uint64_t now)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));
	struct session *s;

	if (at < 0) {
		errno = ENOENT;
		return -1;
	}
	s = &tab->slots[at].s;
	if (s->state != SESSION_ADMITTED)
		return 0;
	if (session_status(tab, s, now) == SESSION_R_NONE && now > s->last_seen)
		s->last_seen = now;
	s->bytes = bytes > UINT64_MAX - s->bytes ? UINT64_MAX : s->bytes + bytes;
	return 0;
}

/* The expiry sweep (run on a timer): every admitted session past a limit
 * becomes SESSION_EXPIRED and is reported through cb (SESSION_EV_QUOTA or
 * SESSION_EV_EXPIRE); ended sessions older than keep_ended are dropped.
 * cb must not change the table. The number of events. */
size_t
session_expire(struct session_table *tab, uint64_t now, session_event_cb cb,
    void *arg)
{
	size_t events = 0;

	for (size_t i = 0; i <= tab->mask;) {
		struct session *s = &tab->slots[i].s;
		if (!tab->slots[i].used) {
			i++;
			continue;
		}
		if (s->state == SESSION_ADMITTED) {
			enum session_reason r = session_status(tab, s, now);
			if (r != SESSION_R_NONE) {
				s->state = SESSION_EXPIRED;
				s->reason = r;
				s->ended = now;
				events++;
				if (cb != NULL)
					cb(s, r == SESSION_R_QUOTA ? SESSION_EV_QUOTA
								   : SESSION_EV_EXPIRE, arg);
			}
		}
		if (s->state != SESSION_ADMITTED && s->ended <= now &&
		    now - s->ended >= tab->conf.keep_ended) {
			/* The shift may pull a later entry into slot i:
			 * look at slot i again. */
			session_delete_at(tab, i);
			continue;
		}
		i++;
	}
	return events;
}

/* Move a session's times by off seconds, between the session clock and
 * wall time (the state file keeps wall time, the table a clock that never
 * steps): SESSION_FOREVER and ended == 0 (still admitted) keep their
 * meaning, and a result below 1 is clamped to 1. */
void
session_shift(struct session *s, int64_t off)
{
	uint64_t *t[] = { &s->start, &s->expires, &s->last_seen, &s->ended };
	uint64_t mag = off < 0 ? 0 - (uint64_t)off : (uint64_t)off;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = *t[i];
		if ((t[i] == &s->expires && v == SESSION_FOREVER) ||
		    (t[i] == &s->ended && v == 0))
			continue;
		if (off < 0)
			v = v > mag + 1 ? v - mag : 1;
		else
			v = v < SESSION_FOREVER - 1 - mag ? v + mag : SESSION_FOREVER - 1;
		*t[i] = v;
	}
}

/* The session of mac in any state, or NULL; valid until the table changes. */
const struct session *
session_find(const struct session_table *tab, const struct wk_mac *mac)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));

	return at < 0 ? NULL : &tab->slots[at].s;
}

/* Insert or replace a whole session as read back from the store; -1 with
 * errno EINVAL (bad MAC) or ENOSPC (full of admitted sessions). */
int
session_restore(struct session_table *tab, const struct session *s)
{
	struct session *d;

	if (!addr_mac_is_unicast(&s->mac)) {
		errno = EINVAL;
		return -1;
	}
	if ((d = session_slot_get(tab, &s->mac)) == NULL)
		return -1;
	*d = *s;
	return 0;
}

/* Remove mac's session whatever its state; 0, or -1 if there is none. */
int
session_forget(struct session_table *tab, const struct wk_mac *mac)
{
	long at = session_slot_find(tab, mac, session_hash(tab, mac));

	if (at < 0)
		return -1;
	session_delete_at(tab, (size_t)at);
	return 0;
}

/* Call cb for every session in any state (`list`, compaction), in table
 * order; cb must not change the table. */
void
session_foreach(const struct session_table *tab, session_iter_cb cb, void *arg)
{
	for (size_t i = 0; i <= tab->mask; i++)
		if (tab->slots[i].used)
			cb(&tab->slots[i].s, arg);
}

/* Number of sessions held in any state. */
size_t
session_count(const struct session_table *tab)
{
	return tab->count;
}

/* Number of sessions in state admitted (expiry not yet swept included). */
size_t
session_count_admitted(const struct session_table *tab)
{
	size_t n = 0;

	for (size_t i = 0; i <= tab->mask; i++)
		if (tab->slots[i].used && tab->slots[i].s.state == SESSION_ADMITTED)
			n++;
	return n;
}

static const char *const session_state_names[] = {
	[SESSION_ADMITTED] = "admitted",
	[SESSION_EXPIRED] = "expired",
	[SESSION_REVOKED] = "revoked",
};
static const char *const session_source_names[] = {
	[SESSION_SRC_CTL] = "ctl",
	[SESSION_SRC_SPLASH] = "splash",
	[SESSION_SRC_SIGNED] = "signed",
	[SESSION_SRC_CONFIG] = "config",
	[SESSION_SRC_RADIUS] = "radius",
};
static const char *const session_reason_names[] = {
	[SESSION_R_NONE] = "none",
	[SESSION_R_UNKNOWN] = "unknown",
	[SESSION_R_TIMEOUT] = "timeout",
	[SESSION_R_IDLE] = "idle",
	[SESSION_R_QUOTA] = "quota",
	[SESSION_R_REVOKED] = "revoked",
};

#define SESSION_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Look a name up in one of the tables above; its index or -1. */
static int
session_name_find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* The name of a state ("admitted", "expired", "revoked"). */
const char *
session_state_name(enum session_state st)
{
	return (size_t)st < SESSION_NELEM(session_state_names)
	    ? session_state_names[st] : "?";
}

/* The name of a source ("ctl", "splash", "signed", "config"). */
const char *
session_source_name(enum session_source src)
{
	return (size_t)src < SESSION_NELEM(session_source_names)
	    ? session_source_names[src] : "?";
}

/* The name of a reason ("none", "timeout", "idle", "quota", ...). */
const char *
session_reason_name(enum session_reason r)
{
	return (size_t)r < SESSION_NELEM(session_reason_names)
	    ? session_reason_names[r] : "?";
}

/* Parse a state name; -1 if unknown. */
int
session_state_parse(const char *s, enum session_state *out)
{
	int i = session_name_find(session_state_names,
	    SESSION_NELEM(session_state_names), s);

	if (i < 0)
		return -1;
	*out = (enum session_state)i;
	return 0;
}

/* Parse a source name; -1 if unknown. */
int
session_source_parse(const char *s, enum session_source *out)
{
	int i = session_name_find(session_source_names,
	    SESSION_NELEM(session_source_names), s);

	if (i < 0)
		return -1;
	*out = (enum session_source)i;
	return 0;
}

/* Parse a reason name; -1 if unknown. */
int
session_reason_parse(const char *s, enum session_reason *out)
{
	int i = session_name_find(session_reason_names,
	    SESSION_NELEM(session_reason_names), s);

	if (i < 0)
		return -1;
	*out = (enum session_reason)i;
	return 0;
}
