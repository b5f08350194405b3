/* radius: wicket as a RADIUS NAS -- MAC authentication on first sight,
 * the login form's PAP Access-Request, accounting (On, Start, Interim,
 * Stop) from a durable in-order queue, and the RFC 5176 CoA/Disconnect
 * listener. Every exchange is a non-blocking UDP socket on the event
 * loop; the packets are radpkt.c's. docs/radius.md. */
#ifndef WK_RADIUS_H
#define WK_RADIUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "session.h"

struct gate;
struct wk_conf;
struct conf_errors;
struct store_ext;

#define RADIUS_LOGIN_ID_LEN 32 /* hex characters of a login attempt's id */
#define RADIUS_USER_MAX 64     /* longest User-Name the login form takes */

/* Where a login attempt stands (the status page polls it). */
enum radius_login_state {
	RADIUS_LOGIN_UNKNOWN,  /* no such attempt (or another device's) */
	RADIUS_LOGIN_PENDING,
	RADIUS_LOGIN_ACCEPTED,
	RADIUS_LOGIN_REJECTED, /* msg: the server's Reply-Message, if any */
	RADIUS_LOGIN_FAILED,   /* no server answered (radius_fail closed) */
};

/* Set up state and read the secret (before grant_start: the accounting
 * queue is restored with the sessions). 0 when RADIUS is not configured. */
int radius_init(struct gate *g);
/* The state-file records radius keeps (NULL when not configured). */
const struct store_ext *radius_store_ext(struct gate *g);
/* Sockets, the CoA listener, timers, Accounting-On (after grant_start). */
int radius_start(struct gate *g);
void radius_stop(struct gate *g);
/* A reload: look the server names up again. 0. */
int radius_reconfigure(struct gate *g);
/* Stopping: cancel DNS lookups in flight; how many (main.c then runs the
 * loop once so that libevent frees them). */
int radius_dns_cancel(struct gate *g);
/* `wicketd -n`: the secret file as start-up reads it. */
int radius_conf_check(const struct wk_conf *c, const char *fname,
    struct conf_errors *errs);

/* grant.c hooks. A MAC without a session was seen (MAC auth). */
void radius_sighted(struct gate *g, const struct wk_mac *mac);
/* A session started (accounting Start). */
void radius_on_admit(struct gate *g, const struct session *s);
/* A session ended for reason (accounting Stop). */
void radius_on_end(struct gate *g, const struct session *s,
    enum session_reason reason);
/* Bytes and packets the firewall counted for mac since the last call. */
void radius_on_counters(struct gate *g, const struct wk_mac *mac,
    uint64_t in_octets, uint64_t out_octets, uint64_t in_pkts,
    uint64_t out_pkts);

/* The login form: start a PAP Access-Request for mac. 0 with the
 * attempt's id in id (RADIUS_LOGIN_ID_LEN + 1), or -1 with a reason. */
int radius_login(struct gate *g, const struct wk_mac *mac,
    const struct wk_ip *ip, const char *user, const char *pw, const char *url,
    char *id, const char **why);
/* The state of mac's attempt id; url and msg are copied out. */
enum radius_login_state radius_login_status(struct gate *g, const char *id,
    const struct wk_mac *mac, char *url, size_t urlsize, char *msg,
    size_t msgsize);
/* True when the gate is configured for RADIUS login (portal radius). */
bool radius_login_enabled(struct gate *g);

#endif
