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

struct grants {
	struct gate *g;
	struct session_table *tab;
	struct nonce_cache *nc;
	struct store *st;
	struct event *tick;
	int lock_fd;   /* flock on STATE.lock: one daemon per state file */
	bool fw_dirty; /* a revocation needs a full firewall reconcile */
	struct counters *ctr; /* nftables per-element counters (all traffic) */
	bool fw_counted;      /* the sets count: relayed bytes are not added again */
};

/* Seconds since the epoch: sessions outlive restarts, so wall time. */
uint64_t
grant_now(void)
{
	return clock_wall_s();
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
}

/* Write a session audit event (grant, revoke, expire, quota). */
static void
grant_audit(const char *event, const struct session *s, const char *source)
{
	char line[AUDIT_LINE_MAX], m[WK_MAC_STRLEN];
	struct jsonw j;

	audit_begin(&j, line, sizeof(line), clock_wall_ms(), event);
	addr_mac_format(&s->mac, m);
	jsonw_str(&j, "mac", m);
	jsonw_str(&j, "source", source ? source : session_source_name(s->source));
	if (s->expires == SESSION_FOREVER)
		jsonw_null(&j, "expires");
	else
		jsonw_uint(&j, "expires", s->expires);
	jsonw_uint(&j, "bytes", s->bytes);
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
	g->grants->fw_dirty = rc < 0;
	return rc;
}

/* Account what the nftables counters saw since the last read (all of
 * each admitted client's traffic through the router). */
static void
grant_counters(struct gate *g)
{
	struct grants *gr = g->grants;

	if (gr != NULL && gr->ctr != NULL && counters_poll(g, gr->ctr))
		gr->fw_counted = true;
}

/* A session ended on the timer: record it, audit it, close the firewall. */
static void
grant_on_session_event(const struct session *s, enum session_event ev, void *arg)
{
	struct gate *g = arg;

	if (store_append_session(g->grants->st, s, false) < 0)
		log_warn("state file: cannot record a session end");
	grant_audit(ev == SESSION_EV_QUOTA ? "quota" : "expire", s, NULL);
	radius_on_end(g, s, s->reason); /* accounting Stop */
	g->grants->fw_dirty = true;
	conn_client_ended(g, &s->mac);
}

/* Once a second: expire sessions and nonces, reconcile and compact. */
static void
grant_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	struct grants *gr = g->grants;
	uint64_t now = grant_now();

	(void)fd;
	(void)what;
	grant_counters(g); /* before expiry: quotas and the Stop's octets */
	if (session_expire(gr->tab, now, grant_on_session_event, g) > 0 &&
	    store_sync(gr->st) < 0)
		log_warn("state file: sync failed");
	nonce_expire(gr->nc, now);
	if (gr->fw_dirty)
		grant_firewall_sync(g);
	if (store_should_compact(gr->st, session_count(gr->tab) + nonce_count(gr->nc)) &&
	    store_compact(gr->st, gr->tab, gr->nc, now) < 0)
		log_warn("state file: compaction failed");
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
	memset(&ss, 0, sizeof(ss));
	/* radius.c's accounting queue lives in the same file. */
	if (store_open_ext(c->state_file, gr->tab, gr->nc, grant_now(),
		grant_on_store_error, NULL, &ss, radius_store_ext(g), &gr->st) < 0) {
		log_err("state file %s: cannot open; refusing to start without "
		    "durable sessions", c->state_file);
		return -1;
	}
	log_info("state file %s: %zu sessions and %zu nonces restored, %zu bad lines",
	    c->state_file, ss.sessions, ss.nonces, ss.errors);
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

/* Admit a MAC. The order makes a crash safe at every point: nothing is
 * acknowledged before the grant (and its nonce) is on disk. */
int
grant_admit(struct gate *g, const struct wk_mac *mac, uint64_t seconds,
    enum session_source src, const char *nonce, uint64_t until, char *err,
    size_t errlen)
{
	struct grants *gr = g->grants;
	uint64_t now = grant_now();
	const struct session *s;
	struct wk_ip ips[8];
	size_t n;

	if (!addr_mac_is_unicast(mac)) {
		snprintf(err, errlen, "not a unicast MAC address");
		return -1;
	}
	if (nonce != NULL) {
		enum nonce_result nr = nonce_use(gr->nc, nonce, until, now);
		if (nr != NONCE_OK) {
			snprintf(err, errlen, "%s", nr == NONCE_REPLAY ?
			    "this grant has already been used" : nonce_result_str(nr));
			return -1;
		}
	}
	s = session_grant(gr->tab, mac, now, seconds, src);
	if (s == NULL) {
		if (nonce)
			nonce_forget(gr->nc, nonce);
		snprintf(err, errlen, "session table full");
		return -1;
	}
	if (store_append_grant(gr->st, s, nonce, until) < 0) {
		if (nonce)
			nonce_forget(gr->nc, nonce);
		session_revoke(gr->tab, mac, now);
		snprintf(err, errlen, "cannot write the state file");
		log_err("state file: grant not persisted, refused");
		return -1;
	}
	grant_audit("grant", s, session_source_name(src));
	radius_on_admit(g, s); /* accounting Start */
	if (g->fw) {
		n = grant_addrs(g, mac, ips, 8);
		if (firewall_admit(g->fw, mac, ips, n) < 0)
			gr->fw_dirty = true;
	}
	return 0;
}

/* Revoke a MAC's session durably; its firewall entries go at once. */
int
grant_revoke(struct gate *g, const struct wk_mac *mac, char *err, size_t errlen)
{
	struct grants *gr = g->grants;
	const struct session *s;

	grant_counters(g); /* the last octets, for the Stop record */
	if (session_revoke(gr->tab, mac, grant_now()) < 0 ||
	    (s = session_find(gr->tab, mac)) == NULL) {
		snprintf(err, errlen, "no session for this MAC");
		return -1;
	}
	conn_client_ended(g, mac); /* its open relays close in this pass */
	if (store_append_session(gr->st, s, true) < 0) {
		snprintf(err, errlen, "cannot write the state file");
		return -1;
	}
	grant_audit("revoke", s, NULL);
	radius_on_end(g, s, SESSION_R_REVOKED); /* accounting Stop */
	/* A full reconcile also removes (mac . old address) pairs. */
	grant_firewall_sync(g);
	return 0;
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

/* Give an admitted session its own limits (RADIUS Access-Accept, CoA):
 * a new hard end, idle timeout and quota (0: the configured ones),
 * recorded durably. 0, or -1 with a reason. */
int
grant_set_limits(struct gate *g, const struct wk_mac *mac, uint64_t expires,
    uint64_t idle_limit, uint64_t bytes_limit, char *err, size_t errlen)
{
	struct grants *gr = g->grants;
	const struct session *s;

	if (session_set_limits(gr->tab, mac, expires, idle_limit, bytes_limit) < 0 ||
	    (s = session_find(gr->tab, mac)) == NULL) {
		snprintf(err, errlen, "no session for this MAC");
		return -1;
	}
	if (store_append_session(gr->st, s, true) < 0) {
		snprintf(err, errlen, "cannot write the state file");
		return -1;
	}
	grant_audit("limits", s, NULL);
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
