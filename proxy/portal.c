/* portal: pages served when a client talks to the gate itself. The splash
 * form carries a token bound to the client's MAC and a time (HMAC), so a
 * page elsewhere cannot admit a client by a cross-site POST; signed grants
 * from a login server are verified, replay-checked and made durable before
 * the "connected" page is sent. */
#include "portal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "gate.h"
#include "grant.h"
#include "log.h"
#include "policy.h"
#include "splash.h"
#include "radius.h"
#include "radpkt.h"
#include "tls.h"
#include "token.h"

#define SPLASH_MAX_AGE 3600 /* an accept form or a return link is valid this long */

struct portal {
	struct token_key key;
	bool signed_grants;  /* key came from grant_key: external login server */
	char *terms_html;
	char *tpl;           /* splash_template, or NULL: the built-in one */
	size_t tpl_len;
	size_t answer_size;  /* portal_answer_size: follows terms and template */
};

#define PORTAL_ANSWER_MAX (4u << 20) /* no splash a phone should get is larger */

static const char default_terms[] =
    "By continuing you accept the terms of use of this network.";

/* Wrap inner HTML in the common page shell (splash.c: the gate's
 * styling); the title is plain text. Returns length or 0. */
size_t
portal_page(char *out, size_t size, const char *title, const char *inner)
{
	return splash_page(out, size, title, inner);
}

/* Append the n bytes at s to out at *o, HTML-escaped; false on overflow. */
static bool
portal_put_escaped(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	size_t k = reply_html_escape_mem(out + *o, size - *o, s, n);

	if (k >= size - *o)
		return false;
	*o += k;
	return true;
}

/* Append a literal to out at *o; false on overflow. */
static bool
portal_put(char *out, size_t size, size_t *o, const char *lit)
{
	size_t k = strlen(lit);

	if (k >= size - *o)
		return false;
	memcpy(out + *o, lit, k + 1);
	*o += k;
	return true;
}

/* Turn the operator's plain-text terms into escaped HTML paragraphs (a
 * blank line separates paragraphs, the lines of one are joined by a
 * space), written straight into out: no copy of the text on the stack.
 * Returns the length, or size on overflow. */
size_t
portal_terms_html(char *out, size_t size, const char *text, size_t len)
{
	size_t o = 0, i = 0;
	bool open = false;

	if (size == 0)
		return 0;
	out[0] = '\0';
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - (text + i)) : len - i;
		bool blank = true;

		for (size_t k = 0; k < ll; k++)
			if (text[i + k] != ' ' && text[i + k] != '\t' && text[i + k] != '\r')
				blank = false;
		if (blank) {
			if (open && !portal_put(out, size, &o, "</p>\n"))
				return size;
			open = false;
		} else if (!portal_put(out, size, &o, open ? " " : "<p>") ||
		    !portal_put_escaped(out, size, &o, text + i, ll)) {
			return size;
		} else {
			open = true;
		}
		i += ll + (nl ? 1 : 0);
	}
	if (open && !portal_put(out, size, &o, "</p>\n"))
		return size;
	return o;
}

/* True for a URL we will redirect a browser to: http(s), visible ASCII. */
bool
portal_url_ok(const char *url)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return strlen(url) <= TOKEN_URL_MAX;
}

/* Which page a target asks for (the query does not matter). */
enum portal_route
portal_route(const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);
	size_t pl = q ? (size_t)(q - target) : len;

#define IS(lit) (pl == sizeof(lit) - 1 && memcmp(target, lit, pl) == 0)
	if (IS("/") || IS("/wicket") || IS("/wicket/"))
		return PORTAL_SPLASH;
	if (IS("/wicket/accept"))
		return PORTAL_ACCEPT;
	if (IS("/wicket/grant"))
		return PORTAL_GRANT;
	if (IS("/wicket/login"))
		return PORTAL_LOGIN;
#undef IS
	return PORTAL_NOTFOUND;
}

/* The built-in accept form, bound to the client's MAC, the time and the
 * URL by sig (its size bounds the splash: portal_answer_bound). */
static const char form_accept[] =
    "<form method=\"post\" action=\"/wicket/accept\">\n"
    "<input type=\"hidden\" name=\"url\" value=\"%s\">\n"
    "<input type=\"hidden\" name=\"ts\" value=\"%llu\">\n"
    "<input type=\"hidden\" name=\"sig\" value=\"%s\">\n"
    "<button type=\"submit\">Accept and connect</button>\n</form>";
/* portal radius: the same MAC-bound form with a user name and a
 * password, checked by the RADIUS server (PAP, docs/radius.md). */
static const char form_login[] =
    "<form method=\"post\" action=\"/wicket/login\">\n"
    "<input type=\"hidden\" name=\"url\" value=\"%s\">\n"
    "<input type=\"hidden\" name=\"ts\" value=\"%llu\">\n"
    "<input type=\"hidden\" name=\"sig\" value=\"%s\">\n"
    "<p><label>User name <input name=\"user\" autocomplete=\"username\" "
    "maxlength=\"64\" required></label></p>\n"
    "<p><label>Password <input type=\"password\" name=\"password\" "
    "autocomplete=\"current-password\" maxlength=\"128\"></label></p>\n"
    "<button type=\"submit\">Sign in</button>\n</form>";

/* The {{form}} of the splash: the accept form, or, when portal radius is
 * configured, the login form in the same placeholder, posting to its own
 * /wicket/ route with the same hidden url/ts/sig fields so that the CSRF
 * binding stays the same. The form's HTML, or NULL when it does not fit
 * (free it). */
static char *
portal_splash_form(const char *eurl, uint64_t ts, const char *sig, bool login)
{
	size_t fsize = strlen(eurl) + strlen(sig) + TOKEN_U64_MAXLEN + sizeof(form_login);
	char *form = malloc(fsize);
	int k;

	if (form == NULL)
		return NULL;
	k = snprintf(form, fsize, login ? form_login : form_accept, eurl,
	    (unsigned long long)ts, sig);
	if (k < 0 || (size_t)k >= fsize) {
		free(form);
		return NULL;
	}
	return form;
}

/* Render the splash page: the operator's template (or the built-in one)
 * with the terms, the form and the wanted URL. Its length, or 0 when it
 * does not fit. */
static size_t
portal_splash_render(char *out, size_t size, const struct portal *p,
    const struct wk_conf *c, const char *url, const char *eurl, uint64_t ts,
    const char *sig)
{
	struct splash_vars v = {
		.title = c->network_name[0] ? c->network_name : "Welcome",
		.network_name = c->network_name,
		.terms_html = p->terms_html,
		.url = url,
	};
	char *form = portal_splash_form(eurl, ts, sig, c->portal == PORTAL_MODE_RADIUS);
	size_t n;

	if (form == NULL)
		return 0;
	v.form_html = form;
	n = p->tpl ? splash_render(out, size, p->tpl, p->tpl_len, &v)
		   : splash_render(out, size, splash_default_template,
			 strlen(splash_default_template), &v);
	free(form);
	return n;
}

/* Read and check the operator's splash template (empty path: none, the
 * built-in one): the one check start-up, reload and `wicketd -n` share.
 * 0 with *tpl (free it; NULL for none), or -1 with a reason in err. */
static int
portal_template_load(const char *path, char **tpl, size_t *tlen, char *err,
    size_t errlen)
{
	char *buf = NULL, why[256];
	size_t len = 0;
	ssize_t n = 0;
	int fd;

	*tpl = NULL;
	*tlen = 0;
	if (path[0] == '\0')
		return 0;
	if ((buf = malloc(SPLASH_TEMPLATE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	while (len <= SPLASH_TEMPLATE_MAX &&
	    (n = read(fd, buf + len, SPLASH_TEMPLATE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	if (splash_template_check(buf, len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(buf);
		return -1;
	}
	*tpl = buf;
	*tlen = len;
	return 0;
}

/* Read the terms file at path (empty: the default sentence), at most
 * PORTAL_TERMS_MAX bytes, into escaped HTML: the one check start-up,
 * reload and `wicketd -n` share. The HTML (free it), or NULL with a
 * reason in err. */
static char *
portal_terms_load(const char *path, char *err, size_t errlen)
{
	char *text = NULL, *html = NULL;
	size_t len = 0, hsize;
	ssize_t n = 0;
	int fd = -1;

	text = malloc(PORTAL_TERMS_MAX + 1);
	if (text == NULL)
		goto oom;
	if (path[0] == '\0') {
		memcpy(text, default_terms, sizeof(default_terms));
		len = sizeof(default_terms) - 1;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		while (len <= PORTAL_TERMS_MAX &&
		    (n = read(fd, text + len, PORTAL_TERMS_MAX + 1 - len)) > 0)
			len += (size_t)n;
		(void)close(fd);
		if (n < 0 || len > PORTAL_TERMS_MAX) {
			snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno)
			    : "larger than 32 KiB");
			goto fail;
		}
	}
	/* Escaping grows a byte to at most 6, a paragraph adds 8. */
	hsize = 6 * len + 8 * (len / 2 + 1) + 1;
	if ((html = malloc(hsize)) == NULL)
		goto oom;
	if (portal_terms_html(html, hsize, text, len) >= hsize) {
		snprintf(err, errlen, "%s: cannot render the terms", path);
		goto fail;
	}
	free(text);
	return html;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(text);
	free(html);
	return NULL;
}

/* The answer buffer for these terms and this template (NULL: the built-in
 * one): the splash as rendered with every placeholder at its longest, a
 * placeholder counted as often as the template repeats it, plus room for
 * the other pages and the head. 0 (with err) when a splash could exceed
 * PORTAL_ANSWER_MAX: the one check start-up, reload and `wicketd -n` share. */
static size_t
portal_answer_bound(const char *terms_html, const char *tpl, size_t tlen,
    char *err, size_t errlen)
{
	const struct splash_max m = {
		.title = 6 * CONF_STR, /* network_name escaped, or "Welcome" */
		.network_name = 6 * CONF_STR,
		.terms = strlen(terms_html),
		.form = 6 * TOKEN_URL_MAX + TOKEN_SIG_HEXLEN + TOKEN_U64_MAXLEN +
		    sizeof(form_login),
		.url = 6 * TOKEN_URL_MAX,
	};
	size_t page = tpl ? splash_render_max(tpl, tlen, &m)
	    : splash_render_max(splash_default_template,
		strlen(splash_default_template), &m);

	if (page > PORTAL_ANSWER_MAX) {
		snprintf(err, errlen, "a splash could be %zu bytes with these terms "
		    "(each {{terms}}, {{url}}, {{style}} counts), more than %u",
		    page, PORTAL_ANSWER_MAX);
		return 0;
	}
	return page + 16384 + PORTAL_HEAD_MAX;
}

/* Check what portal_start would refuse, without starting: the key file
 * (size, mode) and the terms (presence, size). For `wicketd -n`:
 * each problem goes into errs as FILE:LINE: key: why. 0, or -1. */
int
portal_conf_check(const struct wk_conf *c, const char *fname,
    struct conf_errors *errs)
{
	struct token_key k;
	char err[512], *html;
	size_t tlen;
	char *tpl = NULL;
	int rc = 0;

	if (c->grant_key[0] != '\0') {
		if (token_key_load(c->grant_key, &k, err, sizeof(err)) < 0) {
			conf_key_error(errs, c, fname, "grant_key", err);
			rc = -1;
		}
		token_key_wipe(&k);
	}
	if ((html = portal_terms_load(c->splash_terms, err, sizeof(err))) == NULL) {
		conf_key_error(errs, c, fname, "splash_terms", err);
		rc = -1;
	}
	if (portal_template_load(c->splash_template, &tpl, &tlen, err, sizeof(err)) < 0) {
		conf_key_error(errs, c, fname, "splash_template", err);
		rc = -1;
	} else if (html != NULL && portal_answer_bound(html, tpl, tlen, err,
		       sizeof(err)) == 0) {
		conf_key_error(errs, c, fname, "splash_template", err);
		rc = -1;
	}
	free(html);
	free(tpl);
	return rc;
}

/* Load the key (grant_key, or a fresh random one for the splash alone)
 * and the terms. */
int
portal_start(struct gate *g)
{
	struct portal *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	g->portal = p;
	return portal_reconfigure(g);
}

/* Reload key and terms from the current configuration; on failure the
 * previous ones stay. */
int
portal_reconfigure(struct gate *g)
{
	struct portal *p = g->portal;
	const struct wk_conf *c = g->conf;
	struct token_key k;
	char err[512], *html, *tpl = NULL;
	size_t tlen, asize;

	if ((html = portal_terms_load(c->splash_terms, err, sizeof(err))) == NULL) {
		log_err("splash_terms: %s", err);
		return -1;
	}
	if (portal_template_load(c->splash_template, &tpl, &tlen, err, sizeof(err)) < 0 ||
	    (asize = portal_answer_bound(html, tpl, tlen, err, sizeof(err))) == 0) {
		log_err("splash_template: %s", err);
		free(html);
		free(tpl);
		return -1;
	}
	if (c->grant_key[0] != '\0') {
		if (token_key_load(c->grant_key, &k, err, sizeof(err)) < 0) {
			log_err("grant_key: %s", err);
			free(html);
			free(tpl);
			return -1;
		}
		p->key = k;
		p->signed_grants = true;
		token_key_wipe(&k);
	} else if (p->signed_grants || p->key.len == 0) {
		/* No grant_key (any more): signed grants are off, and a key
		 * of our own signs the splash forms, so that nothing signed
		 * with the removed key verifies. */
		uint8_t r[32];
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r) ||
		    token_key_set(&p->key, r, sizeof(r)) < 0) {
			free(html);
			free(tpl);
			return -1;
		}
		OPENSSL_cleanse(r, sizeof(r));
		if (p->signed_grants)
			log_info("grant_key removed: signed grants are off");
		p->signed_grants = false;
	}
	free(p->terms_html);
	p->terms_html = html;
	free(p->tpl);
	p->tpl = tpl;
	p->tpl_len = tlen;
	p->answer_size = asize;
	return 0;
}

/* Forget the key. */
void
portal_stop(struct gate *g)
{
	if (g->portal == NULL)
		return;
	token_key_wipe(&g->portal->key);
	free(g->portal->terms_html);
	free(g->portal->tpl);
	free(g->portal);
	g->portal = NULL;
}

/* The link to the built-in splash: the URL the client wanted travels
 * with a return token (MAC, time, URL under the gate's key) so that the
 * splash can tell it from a URL someone else put in a link; without a MAC
 * to bind it to, or when it does not fit (out, or the escaped 511 page),
 * the link is the bare splash. */
static int
portal_link_splash(struct gate *g, const struct policy_in *id,
    const char *want, const char *gate_host, char *out, size_t size)
{
	char enc[3 * TOKEN_URL_MAX + 1], sig[TOKEN_SIG_HEXLEN + 1];
	char origin[CONF_STR + 16];
	uint64_t ts = clock_wall_s();
	int n;

	/* With a TLS listener the splash is its HTTPS page (tls.c). */
	tls_origin(g->conf, origin, sizeof(origin));
	if (origin[0] == '\0')
		snprintf(origin, sizeof(origin), "http://%s", gate_host);
	if (id->mac != NULL && portal_url_ok(want) &&
	    token_url_encode(want, enc, sizeof(enc)) >= 0 &&
	    token_sign_return(&g->portal->key, id->mac, ts, want, sig) == 0) {
		n = snprintf(out, size, "%s/wicket/?url=%s&ts=%llu&sig=%s",
		    origin, enc, (unsigned long long)ts, sig);
		if (n > 0 && (size_t)n < size && reply_link_fits(out))
			return 0;
	}
	n = snprintf(out, size, "%s/wicket/", origin);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Append len bytes to the link being built in out (NUL-terminated later);
 * false when they (and the NUL) do not fit. */
static bool
link_put(char *out, size_t size, size_t *n, const char *p, size_t len)
{
	if (len >= size - *n)
		return false;
	memcpy(out + *n, p, len);
	*n += len;
	return true;
}

/* The link to an external login server with want as its url (signed
 * when there is a key and a MAC, else the facts unsigned, documented);
 * -1 when it does not fit. */
static int
portal_link_external(struct gate *g, const struct policy_in *id,
    const char *want, char *out, size_t size)
{
	const struct wk_conf *c = g->conf;
	char enc[3 * TOKEN_URL_MAX + 1], ips[WK_IP_STRLEN], m[WK_MAC_STRLEN];
	char tsd[24];
	size_t n = 0, k;
	uint64_t ts;

	if (g->portal->signed_grants && id->mac != NULL)
		return token_link_build(&g->portal->key, c->portal_url, id->mac,
		    &id->client, want, clock_wall_s(), c->gateway_id, out, size) < 0 ? -1 : 0;
	if (token_url_encode(want, enc, sizeof(enc)) < 0)
		return -1;
	addr_ip_format(&id->client, ips);
	/* Appended piece by piece, not printf: this runs for every 511. */
	ts = clock_wall_s();
	k = sizeof(tsd);
	do
		tsd[--k] = (char)('0' + ts % 10);
	while ((ts /= 10) != 0);
	if (!link_put(out, size, &n, c->portal_url, strlen(c->portal_url)) ||
	    !link_put(out, size, &n, strchr(c->portal_url, '?') ? "&ip=" : "?ip=", 4) ||
	    !link_put(out, size, &n, ips, strlen(ips)) ||
	    !link_put(out, size, &n, "&url=", 5) ||
	    !link_put(out, size, &n, enc, strlen(enc)) ||
	    !link_put(out, size, &n, "&ts=", 4) ||
	    !link_put(out, size, &n, tsd + k, sizeof(tsd) - k) ||
	    !link_put(out, size, &n, "&gw=", 4) ||
	    !link_put(out, size, &n, c->gateway_id, strlen(c->gateway_id)))
		return -1;
	if (id->mac != NULL) {
		addr_mac_format(id->mac, m);
		if (!link_put(out, size, &n, "&mac=", 5) ||
		    !link_put(out, size, &n, m, strlen(m)))
			return -1;
	}
	out[n] = '\0';
	return 0;
}

/* The last resort, portal_url alone, always fits the 511 page: the
 * configuration refuses the characters that escape to 6 bytes (" and ',
 * conf.c's T_URL), so it grows at most 5 times ('&' -> "&amp;"). */
_Static_assert(5 * (CONF_URL - 1) < REPLY_LINK_ESC_MAX,
    "portal_url alone must fit the 511 page");

/* The link a 511 answer (and a probe's 302) carries: to portal_url with
 * the signed mac, ip, url, ts and gw a login server needs (docs/grants.md),
 * or to the gate's own splash. It is never empty: a URL too long to carry
 * (in out, or in the 511 page once HTML-escaped, reply_link_fits) is left
 * out, and as a last resort the link is portal_url itself (an empty link
 * would make the 511 page reload itself for ever; a 500 would strand the
 * client). -1 only when out cannot hold even that. */
int
portal_link(struct gate *g, const struct policy_in *id, const char *want,
    const char *gate_host, char *out, size_t size)
{
	const struct wk_conf *c = g->conf;
	int n;

	if (strlen(want) > TOKEN_URL_MAX)
		want = "";
	if (c->portal_url[0] == '\0')
		return portal_link_splash(g, id, want, gate_host, out, size);
	if ((portal_link_external(g, id, want, out, size) == 0 && reply_link_fits(out)) ||
	    (want[0] != '\0' && portal_link_external(g, id, "", out, size) == 0 &&
		reply_link_fits(out)))
		return 0;
	n = snprintf(out, size, "%s", c->portal_url);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* The URL a splash request carries, if the gate signed it for this MAC
 * (url, ts and sig from the 511 link, fresh): else "" (the accept then
 * ends on a neutral page), so that the splash is never an open redirect
 * for a link someone else wrote. */
static void
portal_return_url(struct gate *g, const struct portal_req *pr, char *url,
    size_t cap)
{
	char ts[TOKEN_U64_MAXLEN + 1], sig[TOKEN_SIG_HEXLEN + 1], err[128];
	const char *q = strchr(pr->target, '?');
	struct token_qparam p[] = {
		{ "url", url, cap, false },
		{ "ts", ts, sizeof(ts), false },
		{ "sig", sig, sizeof(sig), false },
	};

	if (q == NULL || token_query_parse(q + 1, strlen(q + 1), p, 3, err,
			     sizeof(err)) < 0 ||
	    !p[0].found || !p[1].found || !p[2].found ||
	    token_verify_return(&g->portal->key, &pr->mac, ts, url, sig,
		clock_wall_s(), SPLASH_MAX_AGE) != TOKEN_OK ||
	    !portal_url_ok(url))
		url[0] = '\0';
}

/* Body bytes the portal must read before answering (0: none). */
size_t
portal_wants_body(const struct portal_req *pr)
{
	enum portal_route r = portal_route(pr->target, strlen(pr->target));

	if (!pr->post || (r != PORTAL_ACCEPT && r != PORTAL_LOGIN))
		return 0;
	if (!pr->has_length || pr->length == 0 || pr->length > PORTAL_MAX_BODY)
		return 0; /* answered without reading: 411/413 */
	return (size_t)pr->length;
}

/* A page with a title, a message and one optional extra field. */
static size_t
portal_message_hdr(char *out, size_t size, const struct reply_ctx *rc,
    unsigned status, const char *title, const char *msg, const char *link,
    const char *hname, const char *hval)
{
	char inner[3 * TOKEN_URL_MAX + 512], el[3 * TOKEN_URL_MAX + 64], page[16384];
	size_t n;
	int k;

	if (link != NULL && reply_html_escape(el, sizeof(el), link) < sizeof(el))
		k = snprintf(inner, sizeof(inner),
		    "<p>%s</p>\n<p><a href=\"%s\">Continue</a></p>", msg, el);
	else
		k = snprintf(inner, sizeof(inner), "<p>%s</p>", msg);
	if (k < 0 || (size_t)k >= sizeof(inner))
		return 0;
	n = portal_page(page, sizeof(page), title, inner);
	return n ? reply_html(out, size, rc, status, hname, hval, page, n) : 0;
}

/* A page with a title and a message, with the given status. */
static size_t
portal_message(char *out, size_t size, const struct reply_ctx *rc,
    unsigned status, const char *title, const char *msg, const char *link)
{
	return portal_message_hdr(out, size, rc, status, title, msg, link, NULL,
	    NULL);
}

/* The answer to an admission grant_admit_from refused: 429 with
 * Retry-After for the rate limit (RFC 6585 §4), 403 for a replayed link,
 * 503 when the gate could not record or mirror it. */
static size_t
portal_refused(char *out, size_t size, const struct reply_ctx *rc, int err,
    uint64_t retry, unsigned *status, const char **why, const char *link)
{
	char ra[24];

	if (err == EAGAIN) {
		*status = 429;
		*why = "admission rate limit";
		snprintf(ra, sizeof(ra), "%llu", (unsigned long long)(retry ? retry : 1));
		return portal_message_hdr(out, size, rc, 429, "Please wait",
		    "This device has been admitted too often in the last minute. "
		    "Wait a moment and try again.", link, "Retry-After", ra);
	}
	if (err == EALREADY) {
		*status = 403;
		*why = "grant replayed";
		return portal_message(out, size, rc, 403, "Not connected",
		    "This sign-in link has already been used.", NULL);
	}
	*status = 503;
	*why = "grant failed";
	return portal_message(out, size, rc, 503, "Not connected",
	    "The gate could not record your admission. Please try again.", link);
}

/* The splash page: the terms and an accept form bound to this MAC and to
 * the URL the gate's own link carried (or none). */
static size_t
portal_splash(struct gate *g, const struct portal_req *pr,
    const struct reply_ctx *rc, char *out, size_t size, unsigned *status)
{
	char url[TOKEN_URL_MAX + 1] = "", sig[TOKEN_SIG_HEXLEN + 1];
	char eurl[6 * TOKEN_URL_MAX + 1];
	uint64_t ts = clock_wall_s();
	size_t n = 0;
	char *page;

	if (!pr->have_mac) {
		*status = 403;
		return portal_message(out, size, rc, 403, "Cannot identify your device",
		    "The gate does not know your device's hardware address yet. "
		    "Wait a moment and reload this page.", NULL);
	}
	portal_return_url(g, pr, url, sizeof(url));
	if (g->conf->portal_url[0] != '\0') { /* an external login server */
		char link[8192];
		struct policy_in id = { .client = pr->client, .mac = &pr->mac };
		if (portal_link(g, &id, url, pr->gate_host, link, sizeof(link)) < 0)
			return 0;
		*status = 302;
		return reply_302(out, size, rc, 302, link);
	}
	if ((page = malloc(size)) == NULL)
		return 0;
	/* A URL too long for the page is dropped, never the page. */
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		if (pass == 1) {
			if (url[0] == '\0')
				break;
			url[0] = '\0';
		}
		if (token_sign_splash(&g->portal->key, &pr->mac, ts, url, sig) < 0 ||
		    reply_html_escape(eurl, sizeof(eurl), url) >= sizeof(eurl))
			break;
		n = portal_splash_render(page, size, g->portal, g->conf, url, eurl,
		    ts, sig);
		if (n > 0)
			n = reply_html(out, size, rc, 200, NULL, NULL, page, n);
	}
	free(page);
	*status = 200;
	return n;
}

/* POST /wicket/accept: verify the form token, admit, send the user on. */
static size_t
portal_accept(struct gate *g, const struct portal_req *pr, const char *body,
    size_t blen, const struct reply_ctx *rc, char *out, size_t size,
    unsigned *status, const char **why)
{
	char url[TOKEN_URL_MAX + 1], ts[TOKEN_U64_MAXLEN + 1];
	char sig[TOKEN_SIG_HEXLEN + 1], err[160];
	struct token_qparam p[] = {
		{ "url", url, sizeof(url), false },
		{ "ts", ts, sizeof(ts), false },
		{ "sig", sig, sizeof(sig), false },
	};
	enum token_result tr;
	uint64_t retry = 0;

	if (!pr->has_length || pr->length > PORTAL_MAX_BODY) {
		*status = pr->has_length ? 413 : 411;
		*why = "accept form without a small Content-Length";
		return reply_error(out, size, rc, *status, *why);
	}
	if (!pr->have_mac) {
		*status = 403;
		*why = "unknown MAC";
		return portal_message(out, size, rc, 403, "Cannot identify your device",
		    "The gate does not know your device's hardware address.", NULL);
	}
	if (token_query_parse(body, blen, p, 3, err, sizeof(err)) < 0 ||
	    !p[1].found || !p[2].found) {
		*status = 400;
		*why = "malformed accept form";
		return portal_message(out, size, rc, 400, "Bad form",
		    "The form was not understood. Go back and try again.", "/wicket/");
	}
	tr = token_verify_splash(&g->portal->key, &pr->mac, ts, url, sig,
	    clock_wall_s(), SPLASH_MAX_AGE);
	if (g->conf->portal == PORTAL_MODE_RADIUS) {
		/* portal radius: only the login form admits. */
		*status = 403;
		*why = "click-through disabled (portal radius)";
		return portal_message(out, size, rc, 403, "Please sign in",
		    "This network needs a user name and a password.", "/wicket/");
	}
	if (tr != TOKEN_OK) {
		*status = 403;
		*why = tr == TOKEN_EXPIRED ? "splash form expired" : "splash form not valid";
		return portal_message(out, size, rc, 403, "Please try again",
		    tr == TOKEN_EXPIRED ? "This page has expired." :
		    "This form was not issued to your device.", "/wicket/");
	}
	if (grant_admit_from(g, &pr->mac, &pr->client, 0, SESSION_SRC_SPLASH, NULL,
		0, &retry, err, sizeof(err)) < 0)
		return portal_refused(out, size, rc, errno, retry, status, why,
		    "/wicket/");
	if (url[0] != '\0' && portal_url_ok(url)) {
		*status = 303; /* RFC 9110 §15.4.4: GET the URL it first asked for */
		return reply_302(out, size, rc, 303, url);
	}
	*status = 200;
	return portal_message(out, size, rc, 200, "Connected",
	    "You are connected. You can now use the network.", NULL);
}

/* GET /wicket/grant: a signed grant from the external login server. */
static size_t
portal_grant(struct gate *g, const struct portal_req *pr,
    const struct reply_ctx *rc, char *out, size_t size, unsigned *status,
    const char **why)
{
	const char *q = strchr(pr->target, '?');
	struct token_grant_query gq;
	struct token_grant tg;
	char err[160];
	enum token_result tr;
	uint64_t now = clock_wall_s(), retry = 0;
	static const char *msg[] = {
		[TOKEN_BAD_SIG] = "This sign-in link is not valid.",
		[TOKEN_EXPIRED] = "This sign-in link has expired.",
		[TOKEN_TOO_LONG] = "This sign-in link asks for a longer session than this network allows.",
		[TOKEN_MALFORMED] = "This sign-in link is damaged.",
	};

	if (!g->portal->signed_grants) {
		*status = 404;
		*why = "signed grants not configured";
		return portal_message(out, size, rc, 404, "Not found",
		    "This gate does not accept signed grants.", NULL);
	}
	if (q == NULL || token_grant_query_parse(q + 1, strlen(q + 1), &gq, err,
			     sizeof(err)) < 0) {
		*status = 400;
		*why = "malformed grant";
		return portal_message(out, size, rc, 400, "Not connected",
		    msg[TOKEN_MALFORMED], NULL);
	}
	tr = token_verify_grant(&g->portal->key, gq.mac, gq.until, gq.nonce, gq.sig,
	    now, g->conf->max_grant_seconds, &tg);
	if (tr != TOKEN_OK) {
		*status = 403;
		*why = token_result_str(tr);
		return portal_message(out, size, rc, 403, "Not connected", msg[tr], NULL);
	}
	/* Signed times are wall-clock times (docs/grants.md); the session
	 * gets the seconds left, on its own clock. */
	if (grant_admit_from(g, &tg.mac, &pr->client, tg.until - now,
		SESSION_SRC_SIGNED, tg.nonce, tg.until, &retry, err, sizeof(err)) < 0)
		return portal_refused(out, size, rc, errno, retry, status, why, NULL);
	*status = 200;
	return portal_message(out, size, rc, 200, "Connected",
	    "You are connected. You can now use the network.", NULL);
}

/* The "signing in" page: it reloads the attempt's status every second
 * (Refresh header and meta refresh). */
static size_t
portal_login_wait(char *out, size_t size, const struct reply_ctx *rc,
    const char *id)
{
	char page[2048], inner[512], refresh[96];
	size_t n;

	snprintf(refresh, sizeof(refresh), "1; url=/wicket/login?id=%s", id);
	snprintf(inner, sizeof(inner),
	    "<meta http-equiv=\"refresh\" content=\"%s\">\n"
	    "<p>Checking your user name and password&hellip;</p>\n"
	    "<p><a href=\"/wicket/login?id=%s\">Continue</a></p>", refresh, id);
	n = portal_page(page, sizeof(page), "Signing in", inner);
	return n ? reply_html(out, size, rc, 200, "Refresh", refresh, page, n) : 0;
}

/* POST /wicket/login: check the MAC-bound form like /wicket/accept, then
 * start the Access-Request (never waiting for it) and answer with the
 * page that polls its outcome. */
static size_t
portal_login_post(struct gate *g, const struct portal_req *pr, const char *body,
    size_t blen, const struct reply_ctx *rc, char *out, size_t size,
    unsigned *status, const char **why)
{
	char url[TOKEN_URL_MAX + 1], ts[TOKEN_U64_MAXLEN + 1];
	char sig[TOKEN_SIG_HEXLEN + 1], err[160], id[RADIUS_LOGIN_ID_LEN + 1];
	char user[RADIUS_USER_MAX + 1] = "", pw[RADPKT_PASS_MAX + 1] = "";
	struct token_qparam p[] = {
		{ "url", url, sizeof(url), false },
		{ "ts", ts, sizeof(ts), false },
		{ "sig", sig, sizeof(sig), false },
		{ "user", user, sizeof(user), false },
		{ "password", pw, sizeof(pw), false },
	};
	size_t n;

	if (!radius_login_enabled(g)) {
		*status = 404;
		*why = "RADIUS login not configured";
		return portal_message(out, size, rc, 404, "Not found",
		    "This gate has no sign-in form.", "/wicket/");
	}
	if (!pr->has_length || pr->length > PORTAL_MAX_BODY) {
		*status = pr->has_length ? 413 : 411;
		*why = "login form without a small Content-Length";
		return reply_error(out, size, rc, *status, *why);
	}
	if (!pr->have_mac) {
		*status = 403;
		*why = "unknown MAC";
		return portal_message(out, size, rc, 403, "Cannot identify your device",
		    "The gate does not know your device's hardware address.", NULL);
	}
	if (token_query_parse(body, blen, p, 5, err, sizeof(err)) < 0 ||
	    !p[1].found || !p[2].found || user[0] == '\0') {
		OPENSSL_cleanse(pw, sizeof(pw));
		*status = 400;
		*why = "malformed login form";
		return portal_message(out, size, rc, 400, "Bad form",
		    "Enter a user name and a password.", "/wicket/");
	}
	if (token_verify_splash(&g->portal->key, &pr->mac, ts, url, sig, clock_wall_s(),
		SPLASH_MAX_AGE) != TOKEN_OK) {
		OPENSSL_cleanse(pw, sizeof(pw));
		*status = 403;
		*why = "login form not valid";
		return portal_message(out, size, rc, 403, "Please try again",
		    "This form has expired or was not issued to your device.", "/wicket/");
	}
	if (!portal_url_ok(url))
		url[0] = '\0';
	if (radius_login(g, &pr->mac, &pr->client, user, pw, url, id, why) < 0) {
		OPENSSL_cleanse(pw, sizeof(pw));
		*status = 503;
		return portal_message(out, size, rc, 503, "Please try again",
		    "The sign-in service is busy. Please try again.", "/wicket/");
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	*status = 200;
	n = portal_login_wait(out, size, rc, id);
	return n;
}

/* GET /wicket/login?id=: where the attempt stands. Accepted goes on to
 * the wanted URL; rejected gets the reject page (with the server's
 * Reply-Message, escaped); no answer gets "try again" (radius_fail). */
static size_t
portal_login_get(struct gate *g, const struct portal_req *pr,
    const struct reply_ctx *rc, char *out, size_t size, unsigned *status,
    const char **why)
{
	char id[RADIUS_LOGIN_ID_LEN + 1] = "", url[TOKEN_URL_MAX + 1] = "", err[128];
	char msg[RADPKT_STR_MAX + 1] = "", emsg[6 * (RADPKT_STR_MAX + 1)], text[2048];
	const char *q = strchr(pr->target, '?');
	struct token_qparam p[] = { { "id", id, sizeof(id), false } };
	enum radius_login_state st = RADIUS_LOGIN_UNKNOWN;

	if (pr->have_mac && q != NULL &&
	    token_query_parse(q + 1, strlen(q + 1), p, 1, err, sizeof(err)) == 0)
		st = radius_login_status(g, id, &pr->mac, url, sizeof(url), msg,
		    sizeof(msg));
	switch (st) {
	case RADIUS_LOGIN_PENDING:
		*status = 200;
		return portal_login_wait(out, size, rc, id);
	case RADIUS_LOGIN_ACCEPTED:
		if (url[0] != '\0' && portal_url_ok(url)) {
			*status = 303;
			return reply_302(out, size, rc, 303, url);
		}
		*status = 200;
		return portal_message(out, size, rc, 200, "Connected",
		    "You are connected. You can now use the network.", NULL);
	case RADIUS_LOGIN_REJECTED:
		*status = 403;
		*why = "RADIUS Access-Reject";
		if (reply_html_escape(emsg, sizeof(emsg), msg) >= sizeof(emsg))
			emsg[0] = '\0';
		snprintf(text, sizeof(text), "The user name or password was not "
		    "accepted.%s%s", emsg[0] ? " " : "", emsg);
		return portal_message(out, size, rc, 403, "Sign-in refused", text,
		    "/wicket/");
	case RADIUS_LOGIN_FAILED:
		*status = 503;
		*why = "RADIUS server did not answer";
		return portal_message(out, size, rc, 503, "Not connected",
		    "The sign-in service did not answer. Please try again in a moment.",
		    "/wicket/");
	case RADIUS_LOGIN_UNKNOWN:
		break;
	}
	*status = 404;
	*why = "unknown login attempt";
	return portal_message(out, size, rc, 404, "Please sign in again",
	    "This sign-in attempt is not known (or has expired).", "/wicket/");
}

/* The answer buffer portal_answer needs (computed when the terms and the
 * template load): the largest page is the splash. */
size_t
portal_answer_size(const struct gate *g)
{
	return g->portal->answer_size;
}

/* Answer a request to the gate itself; body is the request body when
 * portal_wants_body asked for one (a login form's is wiped once read).
 * Returns the answer's length (0 when it did not fit: the caller answers
 * 500). */
size_t
portal_answer(struct gate *g, const struct portal_req *pr, char *body,
    size_t blen, const struct reply_ctx *rc, char *out, size_t size,
    unsigned *status, const char **why)
{
	size_t n;

	enum portal_route r = portal_route(pr->target, strlen(pr->target));

	*why = NULL;
	switch (r) {
	case PORTAL_SPLASH:
	case PORTAL_GRANT:
		if (!pr->get && !pr->head)
			break;
		if (r == PORTAL_GRANT)
			return portal_grant(g, pr, rc, out, size, status, why);
		return portal_splash(g, pr, rc, out, size, status);
	case PORTAL_ACCEPT:
		if (!pr->post)
			break;
		return portal_accept(g, pr, body, blen, rc, out, size, status, why);
	case PORTAL_LOGIN:
		if (pr->post) {
			n = portal_login_post(g, pr, body, blen, rc, out, size, status, why);
			if (body != NULL) /* the password, url-encoded */
				OPENSSL_cleanse(body, blen);
			return n;
		}
		if (!pr->get && !pr->head)
			break;
		return portal_login_get(g, pr, rc, out, size, status, why);
	case PORTAL_NOTFOUND:
		*status = 404;
		return portal_message(out, size, rc, 404, "Not found",
		    "There is no such page on this gate.", "/wicket/");
	}
	/* RFC 9110 §15.5.6: a 405 names the methods the page takes. */
	char page[4096];
	n = portal_page(page, sizeof(page), "Method Not Allowed",
	    "<p>This page does not take that method.</p>");
	*status = 405;
	*why = "method not allowed";
	return n ? reply_html(out, size, rc, 405, "Allow",
	    r == PORTAL_ACCEPT ? "POST" : r == PORTAL_LOGIN ? "GET, HEAD, POST"
	    : "GET, HEAD", page, n) : 0;
}
