/* grant: admissions and revocations from every source, kept in step
 * across the session table, the crash-safe store (fsync before any
 * acknowledgement), the nftables mirror and the audit log; plus the timer
 * that expires sessions. */
#include "grant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "clock.h"
#include "counters.h"
#include "firewall.h"
#include "gate.h"
#include "log.h"
#include "nonce.h"
#include "radius.h"
#include "registry.h"
#include "store.h"
#include "token.h"

#define GRANT_TICK_SECS 1
#define NONCE_CAPACITY 65536
#define KEEP_ENDED_SECS 3600
/* The session clock is the monotonic clock in seconds plus this, so that
 * a session restored from long before the boot still has a start > 0. */
#define GRANT_CLOCK_BASE (UINT64_C(1) << 31)
#define GRANT_EXCESS_MAX SESSION_ADDR_RING

struct grants {
	struct gate *g;
	struct session_table *tab;
	struct nonce_cache *nc;
	struct store *st;
	struct store_state ss; /* what the store mirrors; clocks set per use */
	struct event *tick;
	int lock_fd;   /* flock on STATE.lock: one daemon per state file */
	bool fw_dirty; /* a revocation needs a full firewall reconcile */
	struct counters *ctr; /* nftables per-element counters (all traffic) */
	bool fw_counted;      /* the sets count: relayed bytes are not added again */
	bool store_failing; /* the last compaction failed (log transitions) */
};

/* The session clock: seconds that never step when NTP (or an operator)
 * sets the wall clock, so a router without a real-time clock neither ends
 * every session at its first NTP sync nor keeps them for ever. The state
 * file keeps wall time; grant_ss maps between the two. */
uint64_t
grant_now(void)
{
	return clock_mono_ms() / 1000 + GRANT_CLOCK_BASE;
}

/* Wall-clock seconds minus the session clock, now (docs/grants.md). */
int64_t
grant_wall_off(void)
{
	return (int64_t)clock_wall_s() - (int64_t)grant_now();
}

/* The store's view with both clocks read now. */
static const struct store_state *
grant_ss(struct grants *gr)
{
	uint64_t wall = clock_wall_s(), now = grant_now();

	gr->ss.now = wall;
	gr->ss.session_off = (int64_t)wall - (int64_t)now;
	return &gr->ss;
}

/* A random 64-bit seed for the hash tables. */
static uint64_t
grant_seed(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
		s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s;
	return s;
}

/* The session limits of a configuration. */
static void
grant_session_conf(const struct wk_conf *c, struct session_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->timeout = c->session_timeout;
	sc->idle_timeout = c->session_idle_timeout;
	sc->bytes = c->session_bytes;
	sc->keep_ended = KEEP_ENDED_SECS;
	sc->capacity = c->max_clients;
	sc->seed = grant_seed();
	sc->admit_per_minute = c->admissions_per_minute;
	sc->splash_per_addr = c->splash_sessions_per_ip;
}

/* Write a session audit event (grant, revoke, expire, quota): expires in
 * RFC 3339 like ts (docs/audit-log.md), why the session ended, and for an
 * end whether the state file took it. */
static void
grant_audit(const char *event, const struct session *s, const char *source,
    const char *why, int stored)
{
	char line[AUDIT_LINE_MAX], m[WK_MAC_STRLEN], ts[JSONW_TS_LEN];
	struct jsonw j;
	int64_t wall_ms = clock_wall_ms();

	audit_begin(&j, line, sizeof(line), wall_ms, event);
	addr_mac_format(&s->mac, m);
	jsonw_str(&j, "mac", m);
	jsonw_str(&j, "source", source ? source : session_source_name(s->source));
	if (s->expires == SESSION_FOREVER) {
		jsonw_null(&j, "expires");
	} else {
		/* session clock -> wall clock, at the moment of writing */
		int64_t left = (int64_t)(s->expires - grant_now());
		jsonw_ts(wall_ms / 1000 * 1000 + left * 1000, ts);
		jsonw_str(&j, "expires", ts);
	}
	jsonw_uint(&j, "bytes", s->bytes);
	if (why != NULL)
		jsonw_str(&j, "reason", why);
	if (stored >= 0)
		jsonw_bool(&j, "stored", stored != 0);
	audit_emit(&j);
}

/* The MAC's current addresses from the registry, for the firewall. */
static size_t
grant_addrs(struct gate *g, const struct wk_mac *mac, struct wk_ip *out, size_t max)
{
	struct client_ident ci;
	size_t n = 0;

	if (g->reg == NULL || !registry_lookup_mac(g->reg, mac, clock_mono_ms(), &ci))
		return 0;
	for (unsigned i = 0; i < ci.naddrs && n < max; i++)
		out[n++] = ci.addrs[i].ip;
	return n;
}

/* Collects the firewall entries of admitted sessions. */
struct fw_collect {
	struct gate *g;
	struct firewall_entry *e;
	size_t n, max;
	uint64_t now;
};

/* One admitted session (or allow_mac device) into the entry list. */
static void
grant_collect_one(struct fw_collect *fc, const struct wk_mac *mac)
{
	struct firewall_entry *e;

	if (fc->n >= fc->max)
		return;
	e = &fc->e[fc->n++];
	memset(e, 0, sizeof(*e));
	e->mac = *mac;
	e->nips = grant_addrs(fc->g, mac, e->ips, sizeof(e->ips) / sizeof(e->ips[0]));
}

/* session_foreach callback: admitted sessions only. */
static void
grant_collect_cb(const struct session *s, void *arg)
{
	struct fw_collect *fc = arg;

	if (s->state == SESSION_ADMITTED && session_check(fc->g->grants->tab,
					       &s->mac, fc->now, NULL))
		grant_collect_one(fc, &s->mac);
}

static void grant_counters(struct gate *g);

/* Make the nftables sets hold exactly the admitted clients, in one
 * transaction (at start, on reload, after revocations). */
static int
grant_firewall_sync(struct gate *g)
{
	struct fw_collect fc = { .g = g, .now = grant_now() };
	int rc;

	if (g->fw == NULL)
		return 0;
	grant_counters(g); /* the flush below zeroes the counters */
	fc.max = session_count(g->grants->tab) + g->conf->n_allow_mac;
	fc.e = calloc(fc.max ? fc.max : 1, sizeof(*fc.e));
	if (fc.e == NULL)
		return -1;
	for (size_t i = 0; i < g->conf->n_allow_mac; i++)
		grant_collect_one(&fc, &g->conf->allow_mac[i]);
	session_foreach(g->grants->tab, grant_collect_cb, &fc);
	rc = firewall_sync(g->fw, fc.e, fc.n);
	free(fc.e);
	if (rc < 0)
		log_warn("firewall: reconcile failed; will retry");
	else if (g->grants->ctr != NULL)
		counters_forget_all(g->grants->ctr); /* all re-added at zero */
	g->grants->fw_dirty = rc < 0;
	return rc;
}

/* Bill one element's growth: a pair's to its MAC (sent), a reply
 * address's to the MAC holding that address now (received). */
static void
grant_count_bill(const struct firewall_count *e, uint64_t bytes,
    uint64_t packets, void *arg)
{
	struct gate *g = arg;
	struct wk_mac mac = e->mac;

	if (!e->pair) {
		struct client_ident ci;
		if (!ident_lookup_ip(g, &e->ip, clock_mono_ms(), &ci))
			return; /* an address nobody holds now: nobody to bill */
		mac = ci.mac;
	}
	if (!grant_check(g, &mac))
		return;
	grant_account_counted(g, &mac, bytes);
	if (e->pair)
		radius_on_counters(g, &mac, bytes, 0, packets, 0);
	else
		radius_on_counters(g, &mac, 0, bytes, 0, packets);
}

/* Account what the nftables counters saw since the last complete read
 * (all of each admitted client's traffic through the router): the four
 * sets are read first and billed only when every read succeeded, so a
 * read failing part way bills nothing twice. */
static void
grant_counters(struct gate *g)
{
	struct grants *gr = g->grants;

	if (gr == NULL || gr->ctr == NULL || g->fw == NULL)
		return;
	counters_begin(gr->ctr);
	if (firewall_counters(g->fw, counters_stage, gr->ctr) < 0) {
		counters_abort(gr->ctr);
		return;
	}
	if (counters_commit(gr->ctr, grant_count_bill, g) > 0)
		gr->fw_counted = true;
}

/* A session ended on the timer: record it, audit it, close the firewall.
 * A record the disk cannot take leaves the store pending: the next
 * compaction writes the table, which no longer holds the session. */
static void
grant_on_session_event(const struct session *s, enum session_event ev, void *arg)
{
	struct gate *g = arg;
	struct grants *gr = g->grants;
	bool stored = store_append_session(gr->st, grant_ss(gr), s, false) == 0;

	if (!stored)
		store_mark_pending(gr->st);
	grant_audit(ev == SESSION_EV_QUOTA ? "quota" : "expire", s, NULL,
	    session_reason_name(s->reason), stored);
	radius_on_end(g, s, s->reason); /* accounting Stop: grant_sweep's fsync */
	gr->fw_dirty = true;
	conn_client_ended(g, &s->mac);
	ident_admission_changed(g, &s->mac);
}

/* Run the expiry sweep now and make its records durable together. */
static void
grant_sweep(struct gate *g, uint64_t now)
{
	struct grants *gr = g->grants;

	if (session_expire(gr->tab, now, grant_on_session_event, g) > 0 &&
	    store_sync(gr->st) < 0) {
		log_warn("state file: sync failed; will compact");
		store_mark_pending(gr->st);
	}
}

/* Once a second: expire sessions and nonces, reconcile the firewall, and
 * let the store compact (by size, by space left, or because the table
 * holds what the journal could not take) and keep its reserve. */
static void
grant_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	struct grants *gr = g->grants;
	const struct store_state *ss;
	int rc;

	(void)fd;
	(void)what;
	grant_counters(g); /* before expiry: quotas and the Stop's octets */
	grant_sweep(g, grant_now());
	ss = grant_ss(gr);
	nonce_expire(gr->nc, ss->now);
	if (gr->fw_dirty)
		grant_firewall_sync(g);
	rc = store_maintain(gr->st, ss, session_count_admitted(gr->tab) +
	    nonce_count(gr->nc));
	if (rc < 0 && !gr->store_failing)
		log_warn("state file: compaction failed (%s); retrying, grants "
		    "that cannot be written are refused", strerror(errno));
	else if (rc == 0 && gr->store_failing && !store_pending(gr->st))
		log_info("state file: written again");
	if (rc < 0 || !store_pending(gr->st))
		gr->store_failing = rc < 0;
}

/* Report a damaged state-file line; the good records are kept. */
static void
grant_on_store_error(const char *path, unsigned long line, const char *msg, void *arg)
{
	(void)arg;
	if (line > 0)
		log_err("state file %s line %lu: %s (record skipped)", path, line, msg);
	else
		log_err("state file %s: %s", path, msg);
}

/* Create the state file's directory if it is missing (one level). */
static void
grant_mkdir_parent(const char *path)
{
	char dir[CONF_PATH];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("mkdir %s: %s", dir, strerror(errno));
}

/* Take the state file for this process: a second daemon on the same file
 * would interleave journal records and compact over the first's. */
static int
grant_lock(struct grants *gr, const char *state_file)
{
	char path[CONF_PATH + 8];

	snprintf(path, sizeof(path), "%s.lock", state_file);
	gr->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (gr->lock_fd < 0) {
		log_err("state file lock %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(gr->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("state file %s is in use by another wicketd", state_file);
		return -1;
	}
	return 0;
}

/* Build the session table, restore the store, open the firewall mirror
 * and start the expiry timer. */
int
grant_start(struct gate *g)
{
	const struct wk_conf *c = g->conf;
	struct grants *gr = calloc(1, sizeof(*gr));
	struct session_conf sc;
	struct store_stats ss;
	struct timeval tv = { GRANT_TICK_SECS, 0 };
	char err[512];

	if (gr == NULL)
		return -1;
	g->grants = gr;
	gr->g = g;
	gr->lock_fd = -1;
	grant_session_conf(c, &sc);
	gr->tab = session_table_create(&sc);
	gr->nc = nonce_cache_create(NONCE_CAPACITY, grant_seed());
	if (gr->tab == NULL || gr->nc == NULL) {
		log_err("cannot allocate the session table");
		return -1;
	}
	g->sessions = gr->tab;
	grant_mkdir_parent(c->state_file);
	if (grant_lock(gr, c->state_file) < 0)
		return -1;
	gr->ss.tab = gr->tab;
	gr->ss.nc = gr->nc;
	gr->ss.ext = radius_store_ext(g); /* radius.c's accounting queue */
	memset(&ss, 0, sizeof(ss));
	if (store_open(c->state_file, grant_ss(gr), grant_on_store_error, NULL,
		&ss, &gr->st) < 0) {
		log_err("state file %s: cannot open; refusing to start without "
		    "durable sessions", c->state_file);
		return -1;
	}
	log_info("state file %s: %zu sessions and %zu nonces restored, %zu bad lines",
	    c->state_file, ss.sessions, ss.nonces, ss.errors);
	gr->store_failing = !ss.compacted;
	if (c->firewall == FIREWALL_NFT) {
		g->fw = firewall_open(c->nft_table, err, sizeof(err));
		if (g->fw == NULL) {
			log_err("firewall nft: %s", err);
			return -1;
		}
		gr->ctr = counters_new();
		if (gr->ctr == NULL || grant_firewall_sync(g) < 0)
			return -1;
	}
	gr->tick = event_new(g->base, -1, EV_PERSIST, grant_on_tick, g);
	if (gr->tick == NULL || event_add(gr->tick, &tv) < 0)
		return -1;
	return 0;
}

/* Apply new session limits (reload) and reconcile the firewall. */
int
grant_reconfigure(struct gate *g)
{
	struct session_conf sc;

	if (g->grants == NULL)
		return 0;
	grant_session_conf(g->conf, &sc);
	if (session_configure(g->grants->tab, &sc) < 0)
		return -1;
	return grant_firewall_sync(g);
}

/* Stop the timer and close the store (everything acknowledged is on
 * disk already). */
void
grant_stop(struct gate *g)
{
	struct grants *gr = g->grants;

	if (gr == NULL)
		return;
	if (gr->tick)
		event_free(gr->tick);
	/* A change the journal could not take: one last try to write it. */
	if (gr->st && store_pending(gr->st) && store_compact(gr->st, grant_ss(gr)) < 0)
		log_err("state file: could not record every change before exit");
	if (gr->st)
		store_close(gr->st);
	if (gr->nc)
		nonce_cache_free(gr->nc);
	if (gr->tab)
		session_table_free(gr->tab);
	if (gr->ctr)
		counters_free(gr->ctr);
	if (g->fw)
		firewall_close(g->fw);
	if (gr->lock_fd >= 0)
		close(gr->lock_fd);
	g->fw = NULL;
	g->sessions = NULL;
	g->grants = NULL;
	free(gr);
}

/* Close mac in the firewall at once: a full reconcile (which also drops
 * (mac . old address) pairs), else the targeted removal; failing both,
 * the tick retries. false when it is not closed yet. */
static bool
grant_firewall_close(struct gate *g, const struct wk_mac *mac)
{
	struct wk_ip ips[FIREWALL_ENTRY_IPS];
	size_t n;

	if (g->fw == NULL || grant_firewall_sync(g) == 0)
		return true;
	n = grant_addrs(g, mac, ips, FIREWALL_ENTRY_IPS);
	if (firewall_revoke(g->fw, mac, ips, n) == 0) {
		if (g->grants->ctr != NULL)
			counters_forget_mac(g->grants->ctr, mac);
		return true;
	}
	g->grants->fw_dirty = true;
	return false;
}

/* End mac's admitted session now (why: "deny", "replaced", "firewall"):
 * the table first (HTTP refused at once), then its connections and the
 * firewall, whatever the disk says, then the record. -1 with errno ENOENT
 * when there is no admitted session; 1 when it is closed but the state
 * file did not take the record (pending: the next compaction writes it);
 * 0 when everything took it. *fw_ok tells whether the firewall is closed. */
static int
grant_end(struct gate *g, const struct wk_mac *mac, const char *why,
    bool *fw_ok)
{
	struct grants *gr = g->grants;
	const struct session *s;
	bool stored, fw;

	grant_counters(g); /* the last octets, for the Stop record */
	if (session_revoke(gr->tab, mac, grant_now()) < 0 ||
	    (s = session_find(gr->tab, mac)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	conn_client_ended(g, mac); /* its open relays close in this pass */
	ident_admission_changed(g, mac);
	fw = grant_firewall_close(g, mac);
	if (fw_ok != NULL)
		*fw_ok = fw;
	s = session_find(gr->tab, mac);
	/* The accounting Stop first: the revocation record's fsync makes both
	 * durable (a pending store writes both at its compaction). */
	if (s != NULL)
		radius_on_end(g, s, SESSION_R_REVOKED);
	stored = s != NULL && store_append_session(gr->st, grant_ss(gr), s, true) == 0;
	if (!stored) {
		store_mark_pending(gr->st);
		log_err("state file: revocation of a session not recorded (%s); "
		    "retrying", strerror(errno));
	}
	if (s != NULL)
		grant_audit("revoke", s, NULL, why, stored);
	return stored ? 0 : 1;
}

/* True for the sources whose admissions are rate-limited per MAC and per
 * address (the operator's own wicketctl is not). */
static bool
grant_limited(enum session_source src)
{
	return src != SESSION_SRC_CTL && src != SESSION_SRC_CONFIG;
}

/* The firewall refused an admission whose record is on disk already:
 * undo it everywhere. A MAC that had a session gets exactly that one back
 * (issue 12: a failed change leaves the previous state in force) -- in
 * the table, on disk (its record written again; pending when the disk
 * refuses, so the next compaction writes the table) and in the firewall
 * (it never left the sets; a reconcile restores them if nft lost them);
 * a new one is ended as a revocation. */
static void
grant_admit_undo(struct gate *g, const struct wk_mac *mac,
    const struct session *prev)
{
	struct grants *gr = g->grants;
	const struct session *cur = session_find(gr->tab, mac);
	struct session old;

	if (prev == NULL || cur == NULL) {
		(void)grant_end(g, mac, "firewall", NULL);
		return;
	}
	old = *prev;
	old.admit_win = cur->admit_win; /* this attempt still counts */
	old.admit_n = cur->admit_n;
	if (session_restore(gr->tab, &old) < 0 ||
	    store_append_session(gr->st, grant_ss(gr), &old, true) < 0) {
		store_mark_pending(gr->st);
		log_err("state file: the session kept after a refused re-admission "
		    "is not recorded yet (%s); retrying", strerror(errno));
	}
	ident_admission_changed(g, mac);
	gr->fw_dirty = true;
}

/* Admit a MAC (see grant.h). The order keeps memory, disk, firewall and
 * the answer in agreement: the new session is built aside, written and
 * fsync'd, and only then replaces the old one in the table and opens the
 * firewall; any failure before leaves the previous session in force
 * everywhere, and a firewall that will not open undoes the grant (the
 * previous session, if any, back in force). */
static int
grant_admit_core(struct gate *g, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t seconds, uint64_t idle_limit,
    uint64_t bytes_limit, enum session_source src, const char *nonce,
    uint64_t until, uint64_t *retry, char *err, size_t errlen)
{
	struct grants *gr = g->grants;
	struct wk_mac excess[GRANT_EXCESS_MAX];
	const struct store_state *ss;
	struct wk_ip ips[FIREWALL_ENTRY_IPS];
	struct session ns, prev;
	const struct session *had;
	uint64_t now = grant_now(), wait = 0;
	size_t n, nexcess = 0;
	int saved;

	if (!addr_mac_is_unicast(mac)) {
		snprintf(err, errlen, "not a unicast MAC address");
		errno = EINVAL;
		return -1;
	}
	/* The address counts for the click-through splash only: a signed
	 * grant names its MAC, and the login server vouched for it. */
	if (src != SESSION_SRC_SPLASH)
		from = NULL;
	if (grant_limited(src) && !session_rate_ok(gr->tab, mac, from, now, &wait)) {
		snprintf(err, errlen, "too many admissions for this device; try "
		    "again in %llu s", (unsigned long long)wait);
		if (retry != NULL)
			*retry = wait;
		errno = EAGAIN;
		return -1;
	}
	ss = grant_ss(gr);
	if (nonce != NULL) {
		enum nonce_result nr = nonce_use(gr->nc, nonce, until, ss->now);
		if (nr != NONCE_OK) {
			snprintf(err, errlen, "%s", nr == NONCE_REPLAY ?
			    "this grant has already been used" : nonce_result_str(nr));
			errno = nr == NONCE_REPLAY ? EALREADY : ENOSPC;
			return -1;
		}
	}
	/* Ended sessions make room before a full table refuses anyone. */
	if (!session_can_hold(gr->tab, mac))
		grant_sweep(g, now);
	if (session_prepare(gr->tab, mac, now, seconds, src, &ns) < 0) {
		saved = errno;
		if (nonce)
			nonce_forget(gr->nc, nonce);
		snprintf(err, errlen, "%s", saved == ENOSPC ?
		    "session table full of admitted clients (max_clients)" :
		    "not a unicast MAC address");
		errno = saved;
		return -1;
	}
	/* Its own limits are in the grant's record: one write for both. */
	ns.idle_limit = idle_limit;
	ns.bytes_limit = bytes_limit;
	if (src == SESSION_SRC_SPLASH)
		nexcess = session_addr_excess(gr->tab, from, mac, excess,
		    GRANT_EXCESS_MAX);
	if (store_append_grant(gr->st, ss, &ns, nonce, until) < 0) {
		saved = errno;
		if (nonce)
			nonce_forget(gr->nc, nonce);
		snprintf(err, errlen, "cannot write the state file (%s); not "
		    "admitted", strerror(saved));
		log_err("state file: grant not persisted (%s), refused",
		    strerror(saved));
		errno = EIO;
		return -1;
	}
	if ((had = session_find(gr->tab, mac)) != NULL)
		prev = *had;
	if (session_restore(gr->tab, &ns) < 0) {
		/* session_prepare found room and nothing ran since. */
		store_mark_pending(gr->st);
		snprintf(err, errlen, "session table full");
		errno = ENOSPC;
		return -1;
	}
	session_admitted(gr->tab, mac, from, now);
	ident_admission_changed(g, mac);
	if (g->fw) {
		n = grant_addrs(g, mac, ips, FIREWALL_ENTRY_IPS);
		if (firewall_admit(g->fw, mac, ips, n) < 0) {
			/* Not mirrored: not acknowledged, and undone everywhere. */
			bool kept = had != NULL && prev.state == SESSION_ADMITTED;
			grant_admit_undo(g, mac, had != NULL ? &prev : NULL);
			snprintf(err, errlen, "the firewall did not take the "
			    "admission; %s", kept ? "the session keeps what it had" :
			    "not admitted");
			errno = EIO;
			return -1;
		}
	}
	grant_audit("grant", session_find(gr->tab, mac), session_source_name(src),
	    NULL, -1);
	if (idle_limit || bytes_limit)
		grant_audit("limits", session_find(gr->tab, mac), NULL, NULL, 1);
	radius_on_admit(g, session_find(gr->tab, mac)); /* accounting Start */
	/* A host cycling MACs from one address keeps splash_per_addr. */
	for (size_t i = 0; i < nexcess; i++)
		(void)grant_end(g, &excess[i], "replaced", NULL);
	return 0;
}

/* Admit mac for a client at from (see grant.h). */
int
grant_admit_from(struct gate *g, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t seconds, enum session_source src,
    const char *nonce, uint64_t until, uint64_t *retry, char *err,
    size_t errlen)
{
	return grant_admit_core(g, mac, from, seconds, 0, 0, src, nonce, until,
	    retry, err, errlen);
}

/* Admit mac from the operator or another module (no client address). */
int
grant_admit(struct gate *g, const struct wk_mac *mac, uint64_t seconds,
    enum session_source src, const char *nonce, uint64_t until, char *err,
    size_t errlen)
{
	return grant_admit_core(g, mac, NULL, seconds, 0, 0, src, nonce, until,
	    NULL, err, errlen);
}

/* Admit mac with its own idle timeout and quota (RADIUS Access-Accept),
 * recorded in the grant's one durable write (see grant.h). */
int
grant_admit_limited(struct gate *g, const struct wk_mac *mac, uint64_t seconds,
    uint64_t idle_limit, uint64_t bytes_limit, enum session_source src,
    char *err, size_t errlen)
{
	return grant_admit_core(g, mac, NULL, seconds, idle_limit, bytes_limit,
	    src, NULL, 0, NULL, err, errlen);
}

/* Revoke a MAC's session and say how far it went (see grant.h): closed
 * for HTTP and in the firewall first, whatever the disk says. */
enum grant_revoked
grant_revoke_how(struct gate *g, const struct wk_mac *mac)
{
	bool fw_ok = true;
	int rc = grant_end(g, mac, "deny", &fw_ok);

	if (rc < 0)
		return GRANT_NO_SESSION;
	if (!fw_ok)
		return rc == 0 ? GRANT_REVOKED_FW_LATE : GRANT_REVOKED_BOTH_LATE;
	return rc == 0 ? GRANT_REVOKED : GRANT_REVOKED_PENDING;
}

/* Revoke a MAC's session (see grant.h); the answer says what the state
 * file and the firewall did. */
int
grant_revoke(struct gate *g, const struct wk_mac *mac, char *err, size_t errlen)
{
	enum grant_revoked how = grant_revoke_how(g, mac);
	bool fw_ok = how == GRANT_REVOKED || how == GRANT_REVOKED_PENDING;
	int rc = how == GRANT_REVOKED || how == GRANT_REVOKED_FW_LATE ? 0 : 1;

	if (how == GRANT_NO_SESSION) {
		snprintf(err, errlen, "no session for this MAC");
		return -1;
	}
	if (how == GRANT_REVOKED)
		return 0;
	snprintf(err, errlen, "revoked now%s, but %s%s", fw_ok ?
	    " (gate and firewall closed)" : " for HTTP",
	    rc == 0 ? "" : "the state file could not record it (retried every "
	    "second; a restart before then would admit it again)",
	    fw_ok ? "" : rc == 0 ? "the firewall is not closed yet (retried "
	    "every second)" : "; nor is the firewall closed yet (retried)");
	return -1;
}

/* True when mac has a live session right now. */
bool
grant_check(struct gate *g, const struct wk_mac *mac)
{
	if (g->grants == NULL)
		return false;
	return session_check(g->grants->tab, mac, grant_now(), NULL);
}

/* Count relayed bytes against the session (idle timer and quota). */
void
grant_account(struct gate *g, const struct wk_mac *mac, uint64_t bytes)
{
	/* With counting sets the bytes come from the firewall (all traffic);
	 * relayed traffic still shows the client is not idle. */
	if (g->grants != NULL)
		session_account(g->grants->tab, mac, g->grants->fw_counted ? 0 : bytes,
		    grant_now());
}

/* Bytes the firewall counted for mac's session (counters.c). */
void
grant_account_counted(struct gate *g, const struct wk_mac *mac, uint64_t bytes)
{
	if (g->grants != NULL)
		session_account(g->grants->tab, mac, bytes, grant_now());
}

/* Give an admitted session its own limits (CoA): a new hard end
 * (session clock), idle timeout and quota (0: the configured ones). Like
 * a grant, the change is built aside, written and fsync'd, and only then
 * applied: a change the disk refuses leaves the session as it was
 * everywhere (issue 12). 0, or -1 with errno ENOENT (no admitted session)
 * or EIO (not written, nothing changed) and a reason. */
int
grant_set_limits(struct gate *g, const struct wk_mac *mac, uint64_t expires,
    uint64_t idle_limit, uint64_t bytes_limit, char *err, size_t errlen)
{
	struct grants *gr = g->grants;
	const struct session *s = session_find(gr->tab, mac);
	struct session ns;
	int saved;

	if (s == NULL || s->state != SESSION_ADMITTED) {
		snprintf(err, errlen, "no session for this MAC");
		errno = ENOENT;
		return -1;
	}
	ns = *s;
	ns.expires = expires;
	ns.idle_limit = idle_limit;
	ns.bytes_limit = bytes_limit;
	if (store_append_session(gr->st, grant_ss(gr), &ns, true) < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot write the state file (%s); nothing "
		    "changed", strerror(saved));
		log_err("state file: new session limits not persisted (%s), refused",
		    strerror(saved));
		errno = EIO;
		return -1;
	}
	(void)session_set_limits(gr->tab, mac, expires, idle_limit, bytes_limit);
	grant_audit("limits", session_find(gr->tab, mac), NULL, NULL, 1);
	return 0;
}

/* The open state file, for radius.c's accounting records. */
struct store *
grant_store(struct gate *g)
{
	return g->grants ? g->grants->st : NULL;
}

/* A client's address was learned or moved: an admitted client is let
 * through the firewall, any other is a first sighting (MAC auth). */
void
grant_addresses_changed(struct gate *g, const struct wk_mac *mac)
{
	if (!grant_check(g, mac)) {
		radius_sighted(g, mac);
		return;
	}
	if (g->fw == NULL)
		return;
	g->grants->fw_dirty = true; /* the tick reconciles within a second */
}
