/* capport: the RFC 8908 Captive Portal API as pure functions -- the JSON
 * object for one client, the Accept check (a media-range list with
 * q-values, RFC 9110 §12.5.1) and the complete HTTP answer. The caller
 * (tls.c) looks the client up; nothing here reads the clock or a socket. */
#ifndef WK_CAPPORT_H
#define WK_CAPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reply.h"

#define CAPPORT_PATH "/wicket/capport" /* the API URI's path (docs/capport.md) */
#define CAPPORT_MEDIA "application/captive+json"
#define CAPPORT_BODY_MAX 4096 /* RFC 8908 answers are small; we bound ours */

/* What the API tells one client (RFC 8908 §5). */
struct capport_state {
	bool captive;
	const char *user_portal_url;  /* NULL or "": omitted */
	const char *venue_info_url;   /* NULL or "": omitted */
	bool can_extend;              /* can-extend-session, sent when admitted */
	bool have_seconds;            /* seconds-remaining is known */
	uint64_t seconds_remaining;
	bool have_bytes;              /* bytes-remaining is known */
	uint64_t bytes_remaining;
};

/* What the answer depends on in the request. */
struct capport_req {
	bool get, head;          /* the method (anything else: 405) */
	const char *path;        /* target without the query */
	size_t path_len;
	int accept;              /* capport_accept_head's verdict */
};

/* capport_accept results. */
#define CAPPORT_ACCEPT_YES 1   /* application/captive+json is acceptable */
#define CAPPORT_ACCEPT_NO 0    /* a valid list that excludes it: 406 */
#define CAPPORT_ACCEPT_BAD -1  /* not a valid Accept value: 400 */

int capport_accept(const char *v, size_t len);
int capport_accept_head(const char *head, size_t len);
bool capport_is_path(const char *path, size_t len);
size_t capport_json(char *out, size_t size, const struct capport_state *st);
size_t capport_answer(char *out, size_t size, const struct reply_ctx *rc,
    const struct capport_req *rq, const struct capport_state *st,
    unsigned *status, const char **why);

#endif
