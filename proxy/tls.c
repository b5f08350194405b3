/* tls: the gate's HTTPS side -- the OpenSSL context built from tls_cert and
 * tls_key (TLS 1.2 and later, reloaded on SIGHUP without touching open
 * connections), the tls_listen sockets, and a small connection handler that
 * frames one request at a time and answers it from the portal (splash,
 * accept, grant) or the RFC 8908 API (capport.c). */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "audit.h"
#include "capport.h"
#include "clock.h"
#include "gate.h"
#include "grant.h"
#include "limiter.h"
#include "log.h"
#include "portal.h"
#include "session.h"

#define TLS_KEY_MAX (64 * 1024)   /* a PEM private key is a few KiB */

struct tls_listener {
	struct tls_listener *next;
	struct evconnlistener *ev;
	char name[WK_SA_STRLEN];
};

/* One HTTPS client connection: its requests are framed and answered one
 * at a time (the next is read once the previous answer has been written). */
struct tlsconn {
	struct tlsconn *next, *prev;
	struct tls *t;
	struct bufferevent *bev;
	struct event *timer;         /* header timeout */
	union wk_sockaddr peer, local;
	int ifindex;                 /* LAN interface it came in on (identity) */
	char cip_s[WK_IP_STRLEN], local_s[WK_SA_STRLEN];
	struct http_req req;
	bool body_wait;              /* the accept form's body is arriving */
	bool closing;                /* free once the output has drained */
	int64_t t0_ms;
	uint32_t lim_hold;           /* its place in the shared limiter */
};

/* The limiter owner of a TLS connection: its address with the low bit
 * set (a struct is never at an odd address), so that a shed handed back
 * by the limiter that port-80 connections share is told apart. */
#define TLS_OWNER_TAG ((uintptr_t)1)

struct tls {
	struct gate *g;
	SSL_CTX *ctx;                /* current; each SSL holds its own reference */
	struct tls_listener *ls;
	struct tlsconn *conns;
	unsigned nconns;
	struct event *backoff;       /* resumes accepting after descriptors ran out */
};

#define TLS_BACKOFF_MS 100 /* listener.c's pause when accept cannot get an fd */

static void tlsconn_free(struct tlsconn *c);
static void tlsconn_pump(struct tlsconn *c);

/* Wipe the first n bytes of an input buffer in place (the whole buffer
 * for n = -1): what a client sent may be a login form's password, and an
 * evbuffer frees its chains as they are, contents and all. */
static void
tls_input_wipe(struct evbuffer *in, ev_ssize_t n)
{
	struct evbuffer_iovec *v;
	int k = evbuffer_peek(in, n, NULL, NULL, 0);
	size_t left = n < 0 ? evbuffer_get_length(in) : (size_t)n;

	if (k <= 0 || (v = calloc((size_t)k, sizeof(*v))) == NULL)
		return;
	k = evbuffer_peek(in, n, NULL, v, k);
	for (int i = 0; i < k && left > 0; i++) {
		size_t m = v[i].iov_len < left ? v[i].iov_len : left;
		OPENSSL_cleanse(v[i].iov_base, m);
		left -= m;
	}
	free(v);
}

/* evbuffer_pullup without copies left behind: pulling up copies the
 * bytes out of the chains they arrived in and frees those as they are, so
 * when the first n bytes span several chains they are copied out, wiped in
 * place, drained and put back as one piece first. NULL on no memory. */
static char *
tls_pullup(struct evbuffer *in, size_t n)
{
	char *tmp;

	if (evbuffer_peek(in, (ev_ssize_t)n, NULL, NULL, 0) <= 1)
		return (char *)evbuffer_pullup(in, (ev_ssize_t)n);
	if ((tmp = malloc(n)) == NULL)
		return NULL;
	if (evbuffer_copyout(in, tmp, n) != (ev_ssize_t)n) {
		free(tmp);
		return NULL;
	}
	tls_input_wipe(in, (ev_ssize_t)n);
	evbuffer_drain(in, n);
	if (evbuffer_prepend(in, tmp, n) < 0) {
		OPENSSL_cleanse(tmp, n);
		free(tmp);
		return NULL;
	}
	OPENSSL_cleanse(tmp, n);
	free(tmp);
	return (char *)evbuffer_pullup(in, (ev_ssize_t)n); /* one chain: no copy */
}

/* Format a message into err (messages carry paths: truncation is fine). */
__attribute__((format(printf, 3, 4))) static void
tls_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Append OpenSSL's queued error reasons to a message (and clear them). */
static void
tls_ssl_errors(char *err, size_t errlen)
{
	unsigned long e;
	size_t n = strlen(err);

	while ((e = ERR_get_error()) != 0 && n + 3 < errlen) {
		char r[256];
		ERR_error_string_n(e, r, sizeof(r));
		tls_err(err + n, errlen - n, ": %s", r);
		n = strlen(err);
	}
	ERR_clear_error();
}

/* Read the private key file, refusing one that group or others can read
 * (the same rule as grant_key), and parse it. NULL with err set. */
static EVP_PKEY *
tls_key_load(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		tls_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* fstat on the opened descriptor: the file checked is the file read. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tls_err(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		tls_err(err, errlen, "%s: mode %04o lets group or others read or "
		    "write the private key; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if ((buf = malloc(TLS_KEY_MAX)) == NULL) {
		tls_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, TLS_KEY_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			tls_err(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == TLS_KEY_MAX) {
			tls_err(err, errlen, "%s: larger than 64 KiB", path);
			goto fail;
		}
	}
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL || (pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		tls_err(err, errlen, "%s: no PEM private key (an encrypted key "
		    "cannot be used: the daemon has no passphrase)", path);
		tls_ssl_errors(err, errlen);
	}
fail:
	BIO_free(bio);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	close(fd);
	return pk;
}

/* Build a server context from a configuration: TLS 1.2 and later only,
 * the certificate chain, the key (which must match it), a certificate
 * that is valid now and names portal_host. NULL with "key: reason". */
static SSL_CTX *
tls_ctx_build(const struct wk_conf *c, const char **key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *pk = NULL;
	X509 *x;
	static const unsigned char sid[] = "wicket";

	*key = "tls_cert";
	err[0] = '\0';
	if (ctx == NULL) {
		tls_err(err, errlen, "cannot create an OpenSSL context");
		tls_ssl_errors(err, errlen);
		return NULL;
	}
	/* RFC 8996 retires TLS 1.0 and 1.1; RFC 9325 §3.1.1: 1.2 or later. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto ssl_fail;
	/* CLEANSE_PLAINTEXT: OpenSSL wipes its decrypted record buffers once
	 * read (they held the login form's password, too). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CLEANSE_PLAINTEXT);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1)
		goto ssl_fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		tls_err(err, errlen, "%s: cannot load a PEM certificate chain", c->tls_cert);
		tls_ssl_errors(err, errlen);
		goto fail;
	}
	x = SSL_CTX_get0_certificate(ctx);
	if (x == NULL) {
		tls_err(err, errlen, "%s: no certificate", c->tls_cert);
		goto fail;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
		tls_err(err, errlen, "%s: certificate not valid yet", c->tls_cert);
		goto fail;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		tls_err(err, errlen, "%s: certificate has expired", c->tls_cert);
		goto fail;
	}
	if (c->portal_host[0] != '\0' &&
	    X509_check_host(x, c->portal_host, 0, 0, NULL) != 1) {
		tls_err(err, errlen, "%s: certificate does not name portal_host %s",
		    c->tls_cert, c->portal_host);
		goto fail;
	}
	*key = "tls_key";
	if ((pk = tls_key_load(c->tls_key, err, errlen)) == NULL)
		goto fail;
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, errlen, "%s: key does not match the certificate in %s",
		    c->tls_key, c->tls_cert);
		tls_ssl_errors(err, errlen);
		goto fail;
	}
	EVP_PKEY_free(pk);
	return ctx;
ssl_fail:
	tls_err(err, errlen, "OpenSSL context setup failed");
	tls_ssl_errors(err, errlen);
fail:
	EVP_PKEY_free(pk);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Check that the configured certificate and key load (wicketd -n, by
 * the function start-up uses): 0, or -1 with "FILE:LINE: key: reason"
 * added to errs. */
int
tls_conf_check(const struct wk_conf *c, const char *fname, struct conf_errors *errs)
{
	char why[1024];
	const char *key;
	SSL_CTX *ctx;

	if (c->n_tls_listen == 0)
		return 0;
	ctx = tls_ctx_build(c, &key, why, sizeof(why));
	if (ctx == NULL) {
		conf_key_error(errs, c, fname, key, why);
		return -1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

/* The origin of the gate's HTTPS pages, "https://HOST" or
 * "https://HOST:PORT" (the first tls_listen port); "" without TLS. */
void
tls_origin(const struct wk_conf *c, char *out, size_t size)
{
	uint16_t port;

	if (c->n_tls_listen == 0 || c->portal_host[0] == '\0') {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	port = addr_sa_port(&c->tls_listen[0].sa);
	if (port == 443)
		snprintf(out, size, "https://%s", c->portal_host);
	else
		snprintf(out, size, "https://%s:%u", c->portal_host, (unsigned)port);
}

/* Write the audit record of one answered request. */
static void
tlsconn_log(struct tlsconn *c, const struct policy_in *id, const char *method,
    const char *host, const char *path, const char *reason, unsigned status,
    uint64_t in, uint64_t out, const char *why)
{
	char line[AUDIT_LINE_MAX], mac[WK_MAC_STRLEN];
	struct audit_req r = {
		.ts_ms = clock_wall_ms(),
		.client_ip = c->cip_s,
		.mac = NULL,
		.mac_random = id != NULL && id->mac_random,
		.dst = c->local_s,
		.method = method,
		.host = host,
		.path = path,
		.verdict = "portal",
		.reason = reason,
		.status = status,
		.bytes_in = in,
		.bytes_out = out,
		.error = why,
	};
	size_t n;

	if (id != NULL && id->mac != NULL) {
		addr_mac_format(id->mac, mac);
		r.mac = mac;
	}
	r.ms = r.ts_ms > c->t0_ms ? (uint64_t)(r.ts_ms - c->t0_ms) : 0;
	n = audit_format_request(line, sizeof(line), &r);
	gate_count_request(c->t->g, V_PORTAL);
	audit_write(line, n);
}

/* What the API says to this client, decided by the same policy call the
 * gate makes for its next port-80 request (so the answer can never
 * disagree with the gate): captive unless that request would be
 * forwarded, and what is left of the session. */
static void
tls_capport_state(struct gate *g, struct policy_in *id, struct capport_state *st,
    char *portal, size_t psize)
{
	const struct wk_conf *c = g->conf;
	const char *reason = "";
	uint64_t secs, bytes;
	enum session_source src;
	char origin[CONF_STR + 16];

	memset(st, 0, sizeof(*st));
	id->dst.family = 0;        /* no destination: no walled garden */
	id->dst_port = 80;
	id->dst_is_gate = false;
	id->dst_in_garden_dns = false;
	id->path = "/";
	id->path_len = 1;
	st->captive = policy_decide(id, &reason) != V_FORWARD;
	tls_origin(c, origin, sizeof(origin));
	snprintf(portal, psize, "%s/wicket/", origin);
	st->user_portal_url = portal;
	st->venue_info_url = c->venue_info_url;
	if (st->captive || strcmp(reason, "session") != 0 || g->sessions == NULL ||
	    !session_remaining(g->sessions, id->mac, grant_now(), &secs, &bytes, &src))
		return;
	/* The built-in splash admits again on a fresh accept; an external
	 * login server only when the operator says it extends sessions. */
	st->can_extend = c->portal_url[0] == '\0' || c->portal_can_extend;
	st->have_seconds = secs != SESSION_FOREVER;
	st->seconds_remaining = secs;
	st->have_bytes = bytes != UINT64_MAX;
	st->bytes_remaining = bytes;
}

/* Answer the request whose head (and, for the accept form, body) is at
 * the front of the input: the API, or the portal's pages. */
static void
tlsconn_request(struct tlsconn *c, const char *buf, char *body, size_t blen)
{
	struct gate *g = c->t->g;
	const struct http_req *r = &c->req;
	const char *target = buf + r->target_off, *q = memchr(target, '?', r->target_len);
	size_t plen = q ? (size_t)(q - target) : r->target_len;
	char method[HTTP_MAX_METHOD + 1], path[256], host[128];
	size_t osize = portal_answer_size(g);
	char *out = malloc(osize);
	struct policy_in id;
	/* a graceful stop answers what was asked, then closes (Connection: close) */
	struct reply_ctx rc = { .close = r->close || g->stopping,
		.now_s = clock_wall_ms() / 1000 };
	unsigned status = 500;
	const char *why = NULL, *reason = "gate";
	size_t n = 0;
	bool get, post;

	snprintf(method, sizeof(method), "%.*s", (int)r->method_len, buf + r->method_off);
	snprintf(path, sizeof(path), "%.*s", (int)(plen < 255 ? plen : 255), target);
	snprintf(host, sizeof(host), "%.*s", (int)(r->host_len < 127 ? r->host_len : 127),
	    buf + r->host_off);
	get = http_token_eq(method, strlen(method), "get");
	post = http_token_eq(method, strlen(method), "post");
	rc.head = http_token_eq(method, strlen(method), "head");
	/* A body we do not read (anything but the accept form) is not
	 * skipped: the connection closes after the answer. */
	if (r->body != HTTP_BODY_NONE && body == NULL)
		rc.close = true;

	memset(&id, 0, sizeof(id));
	id.conf = g->conf;
	addr_ip_from_sa(&c->peer.sa, &id.client);
	id.ifindex = c->ifindex;
	if (g->identify)
		g->identify(g, &id);
	if (out == NULL) {
		bufferevent_write(c->bev, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n", 76);
		c->closing = true;
		return;
	}
	if (capport_is_path(target, plen)) {
		struct capport_state st;
		struct capport_req rq = { .get = get, .head = rc.head, .path = target,
			.path_len = plen, .accept = capport_accept_head(buf, r->head_len) };
		char portal[CONF_STR + 32];
		reason = "capport";
		tls_capport_state(g, &id, &st, portal, sizeof(portal));
		n = capport_answer(out, osize, &rc, &rq, &st, &status, &why);
	} else if (r->target_len > PORTAL_TARGET_MAX) {
		status = 414;
		why = "target too long for the portal";
		rc.close = true;
		n = reply_error(out, osize, &rc, status, why);
	} else {
		struct portal_req pr;
		memset(&pr, 0, sizeof(pr));
		memcpy(pr.target, target, r->target_len);
		pr.target[r->target_len] = '\0';
		pr.get = get;
		pr.head = rc.head;
		pr.post = post;
		pr.has_length = r->n_cl > 0;
		pr.length = r->content_length;
		pr.have_mac = id.mac != NULL && !id.mac_conflict;
		if (pr.have_mac)
			pr.mac = *id.mac;
		pr.client = id.client;
		addr_sa_url_host(&c->local.sa, pr.gate_host);
		n = portal_answer(g, &pr, body, blen, &rc, out, osize, &status, &why);
	}
	if (n == 0) {
		rc.close = true;
		status = 500;
		why = "answer too large";
		n = reply_error(out, osize, &rc, status, why);
	}
	if (bufferevent_write(c->bev, out, n) < 0)
		rc.close = true;
	free(out);
	tlsconn_log(c, &id, method, r->n_host ? host : NULL, path, reason, status,
	    r->head_len + blen, n, why);
	if (rc.close)
		c->closing = true;
}

/* An error before a request could be answered normally: a framing error
 * or a head that took too long. Answer it and close. */
static void
tlsconn_error(struct tlsconn *c, unsigned status, const char *why)
{
	char out[1024];
	struct reply_ctx rc = { .close = true, .now_s = clock_wall_ms() / 1000 };
	size_t n = reply_error(out, sizeof(out), &rc, status, why);

	c->t->g->st.framing_errors++;
	if (n > 0)
		bufferevent_write(c->bev, out, n);
	tlsconn_log(c, NULL, "-", NULL, "", "framing", status, 0, n, why);
	c->closing = true;
}

/* Frame the next request and answer it, one at a time: nothing more is
 * read while an answer is still being written. This is the last call of
 * every callback, because it may free the connection. */
static void
tlsconn_pump(struct tlsconn *c)
{
	struct gate *g = c->t->g;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *outb = bufferevent_get_output(c->bev);
	size_t cap = (size_t)g->limits.max_request_line + g->limits.max_header_bytes + 8;

	while (!c->closing && evbuffer_get_length(outb) == 0) {
		size_t len = evbuffer_get_length(in), n;
		char *buf;
		int rc;

		if (len == 0)
			break;
		n = len < cap ? len : cap;
		if ((buf = tls_pullup(in, n)) == NULL) {
			c->closing = true;
			break;
		}
		if (!c->body_wait) {
			rc = http_req_parse(&c->req, buf, n, &g->limits);
			if (rc == HTTP_MORE && n == cap)
				rc = HTTP_ERROR, c->req.status = 431, c->req.why = "head too large";
			if (rc == HTTP_MORE)
				break;
			if (rc == HTTP_ERROR) {
				tlsconn_error(c, c->req.status, c->req.why);
				break;
			}
			evtimer_del(c->timer);
			c->t0_ms = clock_wall_ms();
		}
		/* The accept form is the one body the gate reads (bounded). */
		if (c->req.body == HTTP_BODY_LENGTH && c->req.content_length > 0 &&
		    c->req.content_length <= PORTAL_MAX_BODY) {
			size_t need = c->req.head_len + (size_t)c->req.content_length;
			if (len < need) {
				/* RFC 9110 §10.1.1: a client waiting for 100 gets it. */
				if (!c->body_wait && c->req.expect_continue)
					bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
				c->body_wait = true;
				break;
			}
			if ((buf = tls_pullup(in, need)) == NULL) {
				c->closing = true;
				break;
			}
			/* the portal wipes a login body where it lies */
			tlsconn_request(c, buf, buf + c->req.head_len,
			    (size_t)c->req.content_length);
			evbuffer_drain(in, need);
		} else {
			tlsconn_request(c, buf, NULL, 0);
			evbuffer_drain(in, c->req.head_len);
		}
		c->body_wait = false;
		http_req_init(&c->req);
	}
	if (c->closing) {
		if (evbuffer_get_length(outb) == 0) {
			tlsconn_free(c);
			return;
		}
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	/* Waiting for a (next) head: the header timeout runs. */
	if (!c->body_wait && !evtimer_pending(c->timer, NULL) &&
	    evbuffer_get_length(outb) == 0) {
		struct timeval tv = { g->conf->header_timeout, 0 };
		evtimer_add(c->timer, &tv);
	}
}

/* Bytes arrived (decrypted). */
static void
tlsconn_on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tlsconn_pump(arg);
}

/* The answer has been written out: close, or read the next request. */
static void
tlsconn_on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tlsconn_pump(arg);
}

/* Handshake failure, EOF, error or idle timeout: the connection goes. */
static void
tlsconn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tlsconn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return; /* handshake done */
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);
		if (e != 0) {
			char r[256];
			ERR_error_string_n(e, r, sizeof(r));
			log_debug("tls %s: %s", c->cip_s, r);
		}
	}
	if (what & BEV_EVENT_TIMEOUT)
		c->t->g->st.timeouts++;
	tlsconn_free(c);
}

/* Header timer: a stalled head gets 408, an idle connection (or a
 * handshake that never finished) just closes. */
static void
tlsconn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tlsconn *c = arg;

	(void)fd;
	(void)what;
	c->t->g->st.timeouts++;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 || c->body_wait) {
		tlsconn_free(c);
		return;
	}
	tlsconn_error(c, 408, "request head not completed in time");
	tlsconn_pump(c);
}

/* Release a connection: its SSL, socket and timer. The only place a
 * tlsconn is freed. */
static void
tlsconn_free(struct tlsconn *c)
{
	struct tls *t = c->t;

	if (c->bev) {
		/* a body still arriving (or never read) may hold a password */
		tls_input_wipe(bufferevent_get_input(c->bev), -1);
		bufferevent_free(c->bev);
	}
	if (c->timer)
		event_free(c->timer);
	limiter_release(t->g->lim, c->lim_hold);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->nconns--;
	free(c);
}

/* Close a TLS connection the shared limiter gave up for a lighter client
 * (see tls.h): reset, like a refusal. */
bool
tls_shed(struct gate *g, void *owner)
{
	struct tlsconn *c;
	struct linger lg = { 1, 0 };

	if (((uintptr_t)owner & TLS_OWNER_TAG) == 0)
		return false;
	c = (struct tlsconn *)((uintptr_t)owner & ~TLS_OWNER_TAG);
	(void)g;
	if (c->bev != NULL && setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET,
		SO_LINGER, &lg, sizeof(lg)) < 0)
		log_debug("tls %s: SO_LINGER: %s", c->cip_s, strerror(errno));
	tlsconn_free(c);
	return true;
}

/* A TLS client connected: start the handshake with the current context. */
static void
tls_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct tls *t = arg;
	struct gate *g = t->g;
	struct tlsconn *c;
	struct timeval idle = { g->conf->idle_timeout, 0 };
	struct timeval hdr = { g->conf->header_timeout, 0 };
	union wk_sockaddr peer, local;
	uint32_t hold;
	int ifindex;
	SSL *ssl;

	(void)l;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, sa, (size_t)len < sizeof(peer) ? (size_t)len : sizeof(peer));
	if (t->nconns >= g->conf->max_connections) {
		g->st.refused++;
		g->st.refused_full++;
		listener_reset(fd);
		return;
	}
	/* The per-client limits of the port-80 listener, in the same limiter:
	 * a client's TLS and port-80 connections count together. */
	ifindex = ident_accepted(g, fd, &peer.sa, 0, 0, &local);
	if (ifindex < 0) {
		close(fd); /* not connected any more */
		return;
	}
	if (!listener_limit(g, ifindex, &peer, false, false, &hold)) {
		listener_reset(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		limiter_release(g->lim, hold);
		g->st.refused++;
		close(fd);
		return;
	}
	c->t = t;
	c->lim_hold = hold;
	c->peer = peer;
	c->local = local;
	if ((ssl = SSL_new(t->ctx)) == NULL) {
		limiter_release(g->lim, hold);
		free(c);
		close(fd);
		return;
	}
	struct wk_ip ip;
	addr_ip_from_sa(&c->peer.sa, &ip);
	addr_ip_format(&ip, c->cip_s);
	c->ifindex = ifindex;
	addr_sa_format(&c->local.sa, c->local_s);
	http_req_init(&c->req);
	c->bev = bufferevent_openssl_socket_new(g->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	c->timer = evtimer_new(g->base, tlsconn_on_timer, c);
	if (c->bev == NULL || c->timer == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else {
			SSL_free(ssl);
			close(fd);
		}
		if (c->timer)
			event_free(c->timer);
		limiter_release(g->lim, hold);
		free(c);
		return;
	}
	limiter_bind(g->lim, hold, (void *)((uintptr_t)c | TLS_OWNER_TAG));
	/* A client that closes without close_notify has still sent its
	 * request; its answer is what matters. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, tlsconn_on_read, tlsconn_on_write, tlsconn_on_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &hdr);
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->nconns++;
	g->st.accepted++;
}

/* The pause is over: accept again. */
static void
tls_on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct tls *t = arg;

	(void)fd;
	(void)what;
	for (struct tls_listener *l = t->ls; l != NULL; l = l->next)
		if (evconnlistener_enable(l->ev) < 0)
			log_warn("tls_listen %s: cannot accept again", l->name);
}

/* Log accept errors (rate-limited) and keep serving. When the process or
 * the system is out of descriptors or memory, the connection stays in the
 * backlog and the socket readable: pause every TLS listener briefly, as
 * listener.c does, instead of spinning on EMFILE. */
static void
tls_on_accept_error(struct evconnlistener *l, void *arg)
{
	static struct log_rate rl = LOG_RATE(3, 10000);
	struct tls *t = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, TLS_BACKOFF_MS * 1000 };

	(void)l;
	t->g->st.refused++;
	log_warn_rated(&rl, "tls accept: %s", evutil_socket_error_to_string(err));
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	for (struct tls_listener *x = t->ls; x != NULL; x = x->next)
		(void)evconnlistener_disable(x->ev);
	if (evtimer_add(t->backoff, &tv) < 0)
		tls_on_backoff(-1, 0, t); /* no timer: never stay paused */
}

/* Build the context and open every tls_listen address (all or nothing). */
int
tls_start(struct gate *g)
{
	const struct wk_conf *c = g->conf;
	struct tls *t;
	char err[1280];
	const char *key;

	if (c->n_tls_listen == 0)
		return 0;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->g = g;
	g->tls = t;
	if ((t->backoff = evtimer_new(g->base, tls_on_backoff, t)) == NULL)
		return -1;
	if ((t->ctx = tls_ctx_build(c, &key, err, sizeof(err))) == NULL) {
		log_err("%s: %s", key, err);
		return -1;
	}
	for (size_t i = 0; i < c->n_tls_listen; i++) {
		struct tls_listener *l = calloc(1, sizeof(*l));
		int fd;

		if (l == NULL)
			return -1;
		addr_sa_format(&c->tls_listen[i].sa, l->name);
		if ((fd = listener_bind(&c->tls_listen[i].sa)) < 0) {
			log_err("tls_listen %s: %s", l->name, strerror(errno));
			free(l);
			return -1;
		}
		l->ev = evconnlistener_new(g->base, tls_on_accept, t,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		if (l->ev == NULL) {
			close(fd);
			free(l);
			return -1;
		}
		evconnlistener_set_error_cb(l->ev, tls_on_accept_error);
		l->next = t->ls;
		t->ls = l;
		log_info("TLS listening on %s for %s", l->name, c->portal_host);
	}
	return 0;
}

/* Reload the certificate and key (SIGHUP, wicketctl reload). Open
 * connections keep the context they started with (each SSL holds a
 * reference); new ones get the new one. A bad file keeps the old. */
int
tls_reconfigure(struct gate *g)
{
	struct tls *t = g->tls;
	char err[1280];
	const char *key;
	SSL_CTX *ctx;

	if (t == NULL)
		return 0;
	if (g->conf->n_tls_listen == 0) {
		log_warn("tls_listen removed: needs a restart; still serving TLS");
		return 0;
	}
	if ((ctx = tls_ctx_build(g->conf, &key, err, sizeof(err))) == NULL) {
		log_err("reload: %s: %s; keeping the running certificate", key, err);
		return -1;
	}
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	log_info("TLS certificate %s reloaded", g->conf->tls_cert);
	return 0;
}

/* A graceful stop begins (SIGTERM): accept no more, close the connections
 * with nothing in progress, those still writing an answer once it is out;
 * one whose request is under way is answered and closed (tlsconn_request
 * sees g->stopping). main.c's grace period bounds them all. */
void
tls_stop_accepting(struct gate *g)
{
	struct tls *t = g->tls;
	struct tlsconn *c, *next;

	if (t == NULL)
		return;
	for (struct tls_listener *l = t->ls; l != NULL; l = l->next)
		if (evconnlistener_disable(l->ev) < 0)
			log_warn("stop: TLS listener %s not paused", l->name);
	if (t->backoff)
		event_del(t->backoff);
	for (c = t->conns; c != NULL; c = next) {
		next = c->next;
		if (c->body_wait || evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			continue; /* a request under way */
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			tlsconn_free(c);
		} else { /* an answer still being written: close after it */
			c->closing = true;
			bufferevent_disable(c->bev, EV_READ);
		}
	}
}

/* TLS connections still open (a graceful stop waits for them). */
unsigned
tls_open_connections(const struct gate *g)
{
	return g->tls ? g->tls->nconns : 0;
}

/* Close every TLS connection and listener and free the context. */
void
tls_stop(struct gate *g)
{
	struct tls *t = g->tls;

	if (t == NULL)
		return;
	while (t->conns)
		tlsconn_free(t->conns);
	while (t->ls) {
		struct tls_listener *l = t->ls;
		t->ls = l->next;
		evconnlistener_free(l->ev);
		free(l);
	}
	if (t->backoff)
		event_free(t->backoff);
	SSL_CTX_free(t->ctx);
	free(t);
	g->tls = NULL;
}
