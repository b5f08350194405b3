/* portal: the gate's own pages -- the built-in click-through splash with
 * its HMAC-bound accept form, the endpoint for signed grants from an
 * external login server -- and the (signed) link the 511 answer carries. */
#ifndef WK_PORTAL_H
#define WK_PORTAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "reply.h"

struct gate;
struct policy_in;
struct wk_conf;
struct conf_errors;

#define PORTAL_MAX_BODY 4096 /* the accept form is a few hundred bytes */
#define PORTAL_TARGET_MAX 2048
#define PORTAL_TERMS_MAX 32768 /* splash_terms file, bytes */
#define PORTAL_HEAD_MAX 512    /* status line and fields of a page */

/* What the portal needs to know about one request to the gate. */
struct portal_req {
	char target[PORTAL_TARGET_MAX + 1];
	bool post, head, get;
	bool has_length;     /* Content-Length given (chunked forms refused) */
	uint64_t length;
	bool have_mac;
	struct wk_mac mac;
	struct wk_ip client;
	char gate_host[WK_SA_STRLEN]; /* "10.0.0.1" or "[fd00::1]" */
};

/* The routes of the gate's pages. */
enum portal_route {
	PORTAL_SPLASH,  /* GET / or /wicket/ */
	PORTAL_ACCEPT,  /* POST /wicket/accept */
	PORTAL_GRANT,   /* GET /wicket/grant?mac=&until=&nonce=&sig= */
	PORTAL_LOGIN,   /* POST /wicket/login (RADIUS), GET /wicket/login?id= */
	PORTAL_NOTFOUND,
};

int portal_start(struct gate *g);
int portal_conf_check(const struct wk_conf *c, const char *fname,
    struct conf_errors *errs);
int portal_reconfigure(struct gate *g);
void portal_stop(struct gate *g);

enum portal_route portal_route(const char *target, size_t len);
size_t portal_page(char *out, size_t size, const char *title, const char *inner);
size_t portal_terms_html(char *out, size_t size, const char *text, size_t len);
bool portal_url_ok(const char *url);

int portal_link(struct gate *g, const struct policy_in *id, const char *want,
    const char *gate_host, char *out, size_t size);
size_t portal_wants_body(const struct portal_req *pr);
size_t portal_answer_size(const struct gate *g);
/* body (the request's, when portal_wants_body asked for one) is wiped
 * in place once read when it is the login form's: it holds a password. */
size_t portal_answer(struct gate *g, const struct portal_req *pr,
    char *body, size_t blen, const struct reply_ctx *rc, char *out,
    size_t size, unsigned *status, const char **why);

#endif
