/* session: the table of client sessions, one per MAC -- grant, revoke,
 * admission check, byte accounting, hard/idle/quota expiry with events for
 * the audit log. Pure: time (Unix seconds) is always a parameter. */
#ifndef WK_SESSION_H
#define WK_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define SESSION_FOREVER UINT64_MAX /* grant seconds / expires: no hard end */

enum session_state {
	SESSION_ADMITTED,
	SESSION_EXPIRED,  /* hard timeout, idle timeout or quota: see reason */
	SESSION_REVOKED,
};

/* Who granted the session (audit log, `list`). */
enum session_source {
	SESSION_SRC_CTL,    /* wicketctl allow */
	SESSION_SRC_SPLASH, /* click-through splash */
	SESSION_SRC_SIGNED, /* signed grant from an external login server */
	SESSION_SRC_CONFIG, /* static allowance from the config file */
	SESSION_SRC_RADIUS, /* Access-Accept (MAC auth or the login form) */
};

/* Why a client is (not) admitted. */
enum session_reason {
	SESSION_R_NONE,    /* admitted */
	SESSION_R_UNKNOWN, /* no session for this MAC */
	SESSION_R_TIMEOUT, /* hard expiry (session_timeout or grant length) */
	SESSION_R_IDLE,    /* no traffic for session_idle_timeout */
	SESSION_R_QUOTA,   /* session_bytes used up */
	SESSION_R_REVOKED, /* wicketctl deny */
};

/* Events session_expire reports (revocation is reported by its caller). */
enum session_event {
	SESSION_EV_EXPIRE, /* hard or idle timeout: reason says which */
	SESSION_EV_QUOTA,
};

/* One client's session. Times are Unix seconds. */
struct session {
	struct wk_mac mac;
	enum session_state state;
	enum session_source source;
	enum session_reason reason; /* SESSION_R_NONE while admitted */
	uint64_t start;     /* when granted */
	uint64_t expires;   /* hard end (exclusive); SESSION_FOREVER: none */
	uint64_t last_seen; /* last accounted activity (idle timer) */
	uint64_t bytes;     /* bytes through the gate, both directions */
	uint64_t ended;     /* when it stopped being admitted; 0 while admitted */
	uint64_t idle_limit;  /* this session's idle timeout (Idle-Timeout); 0: the table's */
	uint64_t bytes_limit; /* this session's quota (volume limit); 0: the table's */
	/* in memory only (not in the state file): admission limits */
	struct wk_ip from;    /* address the splash was accepted from (family 0: none) */
	uint64_t admit_win;   /* start of this MAC's admission window */
	uint32_t admit_n;     /* admissions of this MAC in that window */
};

/* Table settings; timeout, idle_timeout and bytes may change on reload,
 * capacity is fixed at creation. */
struct session_conf {
	uint64_t timeout;      /* session_timeout: default grant, seconds (> 0) */
	uint64_t idle_timeout; /* session_idle_timeout, seconds; 0 = off */
	uint64_t bytes;        /* session_bytes quota; 0 = off */
	uint64_t keep_ended;   /* seconds an ended session stays for `show` */
	size_t capacity;       /* maximum sessions held, any state */
	uint64_t seed;         /* hash seed (random at start); fixed */
	uint32_t admit_per_minute; /* admissions per MAC and per address; 0 = off */
	uint32_t splash_per_addr;  /* live splash sessions per address; 0 = off */
};

#define SESSION_ADMIT_WINDOW 60 /* seconds of admissions_per_minute */
#define SESSION_ADDR_RING 16    /* most splash MACs remembered per address */

struct session_table;

typedef void (*session_event_cb)(const struct session *s,
    enum session_event ev, void *arg);
typedef void (*session_iter_cb)(const struct session *s, void *arg);

struct session_table *session_table_create(const struct session_conf *conf);
void session_table_free(struct session_table *tab);
int session_configure(struct session_table *tab,
    const struct session_conf *conf);

const struct session *session_grant(struct session_table *tab,
    const struct wk_mac *mac, uint64_t now, uint64_t seconds,
    enum session_source source);
int session_prepare(const struct session_table *tab, const struct wk_mac *mac,
    uint64_t now, uint64_t seconds, enum session_source source,
    struct session *out);
bool session_can_hold(const struct session_table *tab, const struct wk_mac *mac);
bool session_rate_ok(const struct session_table *tab, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t now, uint64_t *retry);
size_t session_addr_excess(const struct session_table *tab,
    const struct wk_ip *from, const struct wk_mac *mac, struct wk_mac *out,
    size_t max);
void session_admitted(struct session_table *tab, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t now);
int session_set_limits(struct session_table *tab, const struct wk_mac *mac,
    uint64_t expires, uint64_t idle_limit, uint64_t bytes_limit);
int session_revoke(struct session_table *tab, const struct wk_mac *mac,
    uint64_t now);
bool session_check(const struct session_table *tab, const struct wk_mac *mac,
    uint64_t now, enum session_reason *reason);
int session_account(struct session_table *tab, const struct wk_mac *mac,
    uint64_t bytes, uint64_t now);
size_t session_expire(struct session_table *tab, uint64_t now,
    session_event_cb cb, void *arg);

bool session_remaining(const struct session_table *tab,
    const struct wk_mac *mac, uint64_t now, uint64_t *seconds, uint64_t *bytes,
    enum session_source *source);
const struct session *session_find(const struct session_table *tab,
    const struct wk_mac *mac);
int session_restore(struct session_table *tab, const struct session *s);
void session_shift(struct session *s, int64_t off);
int session_forget(struct session_table *tab, const struct wk_mac *mac);
void session_foreach(const struct session_table *tab, session_iter_cb cb,
    void *arg);
size_t session_count(const struct session_table *tab);
size_t session_count_admitted(const struct session_table *tab);

const char *session_state_name(enum session_state st);
const char *session_source_name(enum session_source src);
const char *session_reason_name(enum session_reason r);
int session_state_parse(const char *s, enum session_state *out);
int session_source_parse(const char *s, enum session_source *out);
int session_reason_parse(const char *s, enum session_reason *out);

#endif
