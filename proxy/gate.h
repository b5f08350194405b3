/* gate: the daemon-wide state shared by the listener, the connections and
 * the side feeds (sniffer, control socket): event base, the current
 * configuration, limits derived from it, and counters. */
#ifndef WK_GATE_H
#define WK_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "http.h"
#include "policy.h"
#include "stats.h"  /* struct gate_stats: one line per counter */

struct conn;
struct registry;
struct session_table;
struct garden;


struct gate {
	struct event_base *base;
	struct wk_conf *conf;
	uint64_t conf_gen;      /* bumped by gate_apply_conf: what was made of
				 * the configuration and the keys is stale */
	struct http_limits limits;
	const char *methods[CONF_MAX_METHODS];
	struct listener *listeners;
	struct conn *conns;     /* every live connection, for shutdown */
	struct event *recheck;  /* conn_client_ended's deferred pass */
	bool recheck_all;       /* ... for every connection (reload) */
	bool stopping;          /* SIGTERM: finishing the answers in flight */
	unsigned nconns;
	bool paused;            /* accepting paused: out of file descriptors */
	struct limiter *lim;     /* per-client limiter (listener.c, limiter.c) */
	struct listen_state *lstate; /* listener.c's accept path */
	struct gate_stats st;
	struct registry *reg;   /* identity (may be NULL) */
	struct session_table *sessions; /* admissions (may be NULL) */
	struct garden *garden;  /* walled_garden_host addresses */
	void (*identify)(struct gate *g, struct policy_in *in);
	struct ident *ident;    /* sniffer, neighbour seeding, timers */
	struct grants *grants;  /* session store, expiry timer (grant.c) */
	struct firewall *fw;    /* nftables mirror, NULL with firewall none */
	struct control *ctl;    /* control socket (control.c) */
	struct portal *portal;  /* keys and terms of the gate's pages */
	struct radius *radius;  /* RADIUS NAS (radius.c), NULL when not configured */
	struct tls *tls;        /* HTTPS listener (tls.c), NULL without tls_listen */
	const char *conf_path;
};

/* gate.c: configuration as a library (start-up, SIGHUP, wicketctl). */
struct conf_errors;
struct wk_conf *gate_conf_load(const char *path, struct conf_errors *errs,
    bool print);
void gate_apply_conf(struct gate *g, struct wk_conf *c);
int gate_reload(struct gate *g, char *out, size_t outlen);
void gate_count_request(struct gate *g, enum verdict v);

/* ident.c */
struct client_ident;
int ident_start(struct gate *g);
struct sniff_stats;
bool ident_sniff_stats(struct gate *g, struct sniff_stats *out);
int ident_conf_check(const struct wk_conf *c, char *err, size_t errlen);
void ident_identify(struct gate *g, struct policy_in *in);
void ident_stop(struct gate *g);
/* The client bound to ip now (wicketctl show IP); false when unknown. */
bool ident_lookup_ip(struct gate *g, const struct wk_ip *ip, uint64_t now,
    struct client_ident *out);
/* The same on the interface a connection came in on (its ifindex). */
bool ident_lookup_ip_on(struct gate *g, int ifindex, const struct wk_ip *ip,
    uint64_t now, struct client_ident *out);
/* grant.c calls this when a MAC is admitted or its session ends, so that
 * the registry never evicts an admitted client for a stranger. */
void ident_admission_changed(struct gate *g, const struct wk_mac *mac);
/* What the kernel says of an accepted socket, asked once at accept: the
 * interface it came in on (the return value, 0: unknown; `bound`: the
 * one its listener is bound to, or 0) and its local address (with the
 * listener's `port`); -1 when the local address cannot be had. */
int ident_accepted(struct gate *g, int fd, const struct sockaddr *peer, int bound,
    uint16_t port, union wk_sockaddr *local);
/* The name of LAN interface ifindex for the audit log; NULL when it is
 * not one of ours (or there is no sniffer). */
const char *ident_ifname(struct gate *g, int ifindex);

/* txn.c: client connections (the listener hands them over through the
 * accept callback it is given, with what the kernel said of the socket,
 * asked once: ident_accepted). */
struct gate_accepted {
	int fd;
	union wk_sockaddr peer, local;
	int ifindex;            /* the LAN interface it came in on (0: unknown) */
	uint32_t hold;          /* its claim in the per-client limiter */
};
typedef void (*gate_accept_cb)(struct gate *g, const struct gate_accepted *a);
/* ... and a connection the limiter chose to close for a lighter client. */
typedef void (*gate_shed_cb)(struct gate *g, void *conn);
void conn_accept(struct gate *g, const struct gate_accepted *a);
void conn_shed(struct gate *g, void *conn);
void conn_free_all(struct gate *g);
/* A session ended (revoke, expiry, quota) for mac, or the configuration
 * changed (mac NULL: every client): each connection of that client that
 * is no longer admitted closes what it relays within this loop pass, and
 * answers 511 at its next request head. */
void conn_client_ended(struct gate *g, const struct wk_mac *mac);
void conn_stop_all(struct gate *g);

/* control.c */
int control_start(struct gate *g);
void control_stop(struct gate *g);

/* listener.c */
int listener_open_all(struct gate *g, gate_accept_cb on_accept,
    gate_shed_cb on_shed);
int listener_bind(const struct sockaddr *sa);
void listener_reconfigure(struct gate *g);
void listener_reset(int fd);
/* Decide an accepted socket from peer, which came in on LAN interface
 * ifindex (ident_accepted), by the per-client limits (the
 * shared limiter: connections per client, new connections per second),
 * counting and logging a refusal: true with *hold to keep for
 * limiter_release, or false (the caller resets the socket). `full`: the
 * caller's listeners hold max_connections; `no_fd`: out of descriptors. */
bool listener_limit(struct gate *g, int ifindex, const union wk_sockaddr *peer,
    bool full, bool no_fd, uint32_t *hold);
/* The same, bound to LAN interface ifname (NULL: none). */
int listener_bind_dev(const struct sockaddr *sa, const char *ifname);
void listener_stop(struct gate *g);
void listener_close_all(struct gate *g);

#endif
