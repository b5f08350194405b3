/* token: HMAC-SHA256 signing and verification of the link, grant and splash
 * tokens over the canonical strings of docs/grants.md, the key file loader
 * (refuses loose modes, never prints key bytes) and strict query helpers. */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

/* Large enough for the longest canonical string (a link with a full URL). */
#define TOKEN_CANON_MAX (TOKEN_URL_MAX + 512)
#define TOKEN_MAC_BYTES 32
#define TOKEN_QNAME_MAX 64   /* longer parameter names match nothing */

/* Keyed HMAC-SHA256 contexts for the last keys used: every 511 to the
 * gate's own splash signs its return URL, and HMAC()'s one-shot form
 * fetches the algorithm and hashes the key again for each message
 * (about 20,000 instructions); a keyed context re-initialised with its
 * own key (EVP_MAC_init with a NULL key) starts from its saved state. */
static EVP_MAC *hmac_alg;
static struct {
	uint8_t k[TOKEN_KEY_MAX];
	size_t len;
	EVP_MAC_CTX *ctx;
} hmac_cache[2];
static unsigned hmac_next;

/* Write a message into err (if given) without ever failing. */
static void __attribute__((format(printf, 3, 4)))
token_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Read a key file: a regular file, mode without group/other bits, 16 to
 * 1024 bytes once one trailing "\n" (or "\r\n") is trimmed. The bytes are
 * the key as they are (`openssl rand -hex 32` output is a fine key). */
int
token_key_load(const char *path, struct token_key *out, char *err,
    size_t errlen)
{
	uint8_t buf[TOKEN_KEY_MAX + 3];
	struct stat st;
	size_t len = 0;
	int fd;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		token_err(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	/* fstat on the opened descriptor: the file checked is the file read. */
	if (fstat(fd, &st) < 0) {
		token_err(err, errlen, "key file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		token_err(err, errlen, "key file %s: not a regular file", path);
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		token_err(err, errlen, "key file %s: mode %04o lets group or others "
		    "read or write it; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			token_err(err, errlen, "key file %s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf))
			break;
	}
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len > TOKEN_KEY_MAX) {
		token_err(err, errlen, "key file %s: longer than %d bytes", path,
		    TOKEN_KEY_MAX);
		goto fail;
	}
	if (len < TOKEN_KEY_MIN) {
		token_err(err, errlen, "key file %s: key shorter than %d bytes "
		    "(try: openssl rand -hex 32)", path, TOKEN_KEY_MIN);
		goto fail;
	}
	memcpy(out->k, buf, len);
	out->len = len;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (close(fd) < 0) {
		token_key_wipe(out);
		token_err(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	OPENSSL_cleanse(buf, sizeof(buf));
	(void)close(fd);
	return -1;
}

/* Install a key from memory (tests, generated keys); same length rules. */
int
token_key_set(struct token_key *out, const void *key, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len < TOKEN_KEY_MIN || len > TOKEN_KEY_MAX)
		return -1;
	memcpy(out->k, key, len);
	out->len = len;
	return 0;
}

/* Erase a key so that it does not linger in freed or reused memory. */
void
token_key_wipe(struct token_key *key)
{
	OPENSSL_cleanse(key, sizeof(*key));
}

/* Forget every cached keyed context (token_hmac_ctx) and its key copy. */
void
token_cache_wipe(void)
{
	for (unsigned i = 0; i < 2; i++) {
		EVP_MAC_CTX_free(hmac_cache[i].ctx);
		hmac_cache[i].ctx = NULL;
		OPENSSL_cleanse(hmac_cache[i].k, sizeof(hmac_cache[i].k));
		hmac_cache[i].len = 0;
	}
	EVP_MAC_free(hmac_alg);
	hmac_alg = NULL;
}

/* A short stable name for a result, for the audit log and the error page. */
const char *
token_result_str(enum token_result r)
{
	switch (r) {
	case TOKEN_OK:
		return "ok";
	case TOKEN_BAD_SIG:
		return "bad_signature";
	case TOKEN_EXPIRED:
		return "expired";
	case TOKEN_TOO_LONG:
		return "too_long";
	case TOKEN_MALFORMED:
		return "malformed";
	}
	return "unknown";
}

/* Parse a decimal uint64: digits only, no sign, no leading zero (so each
 * value has exactly one spelling), at most UINT64_MAX; -1 otherwise. */
int
token_u64_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n == 0 || n > TOKEN_U64_MAXLEN || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* True for a nonce of 8..64 characters from [A-Za-z0-9_-]. */
bool
token_nonce_valid(const char *nonce)
{
	size_t n;

	if (nonce == NULL)
		return false;
	n = strlen(nonce);
	if (n < TOKEN_NONCE_MIN || n > TOKEN_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = nonce[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* True for a gateway id of 1..64 characters from [A-Za-z0-9._-]. */
bool
token_gw_valid(const char *gw)
{
	size_t n;

	if (gw == NULL)
		return false;
	n = strlen(gw);
	if (n == 0 || n > TOKEN_GW_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = gw[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* True for a MAC in the one canonical spelling "aa:bb:cc:dd:ee:ff". */
static bool
token_mac_canonical(const char *s, struct wk_mac *out)
{
	char fmt[WK_MAC_STRLEN];
	struct wk_mac m;

	if (s == NULL || addr_mac_parse(s, &m) < 0)
		return false;
	addr_mac_format(&m, fmt);
	if (strcmp(fmt, s) != 0)
		return false;
	if (out != NULL)
		*out = m;
	return true;
}

/* True for an IP address in the spelling addr_ip_format produces. */
static bool
token_ip_canonical(const char *s)
{
	char fmt[WK_IP_STRLEN];
	struct wk_ip ip;

	if (s == NULL || addr_ip_parse(s, &ip) < 0)
		return false;
	addr_ip_format(&ip, fmt);
	return strcmp(fmt, s) == 0;
}

/* True for a URL field: at most TOKEN_URL_MAX visible ASCII bytes (no
 * space, no control character, so never a newline); may be empty. */
static bool
token_url_valid(const char *url)
{
	size_t n;

	if (url == NULL)
		return false;
	n = strlen(url);
	if (n > TOKEN_URL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] < 0x21 || (unsigned char)url[i] > 0x7e)
			return false;
	return true;
}

/* True for a decimal field token_u64_parse accepts. */
static bool
token_num_valid(const char *s)
{
	uint64_t v;

	return token_u64_parse(s, &v) == 0;
}

/* Finish a snprintf into out: the length, or -1 on truncation or error. */
static int
token_canon_done(int n, size_t outlen)
{
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

/* Build the link canonical string; -1 if a field is invalid or out is
 * too small. Every value is validated, so none can contain a newline. */
int
token_canon_link(char *out, size_t outlen, const char *mac, const char *ip,
    const char *url, const char *ts, const char *gw)
{
	if (!token_mac_canonical(mac, NULL) || !token_ip_canonical(ip) ||
	    !token_url_valid(url) || !token_num_valid(ts) || !token_gw_valid(gw))
		return -1;
	return token_canon_done(snprintf(out, outlen,
	    "wicket-link-v1\nmac=%s\nip=%s\nurl=%s\nts=%s\ngw=%s\n",
	    mac, ip, url, ts, gw), outlen);
}

/* Build the grant canonical string; -1 if a field is invalid. */
int
token_canon_grant(char *out, size_t outlen, const char *mac,
    const char *until, const char *nonce)
{
	if (!token_mac_canonical(mac, NULL) || !token_num_valid(until) ||
	    !token_nonce_valid(nonce))
		return -1;
	return token_canon_done(snprintf(out, outlen,
	    "wicket-grant-v1\nmac=%s\nuntil=%s\nnonce=%s\n", mac, until, nonce),
	    outlen);
}

/* Build a MAC, time and URL canonical string under the domain line kind
 * ("wicket-splash-v1" or "wicket-return-v1"); -1 if a field is invalid. */
static int
token_canon_mtu(char *out, size_t outlen, const char *kind, const char *mac,
    const char *ts, const char *url)
{
	if (!token_mac_canonical(mac, NULL) || !token_num_valid(ts) ||
	    !token_url_valid(url))
		return -1;
	return token_canon_done(snprintf(out, outlen,
	    "%s\nmac=%s\nts=%s\nurl=%s\n", kind, mac, ts, url), outlen);
}

/* Build the splash canonical string; -1 if a field is invalid. */
int
token_canon_splash(char *out, size_t outlen, const char *mac, const char *ts,
    const char *url)
{
	return token_canon_mtu(out, outlen, TOKEN_KIND_SPLASH, mac, ts, url);
}

/* Build the return canonical string (the URL a 511 link hands to the
 * built-in splash); -1 if a field is invalid. */
int
token_canon_return(char *out, size_t outlen, const char *mac, const char *ts,
    const char *url)
{
	return token_canon_mtu(out, outlen, TOKEN_KIND_RETURN, mac, ts, url);
}

/* A context keyed with key, ready for a message (it stays cached), or
 * NULL. */
static EVP_MAC_CTX *
token_hmac_ctx(const struct token_key *key)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	unsigned i;

	for (i = 0; i < 2; i++)
		if (hmac_cache[i].ctx != NULL && hmac_cache[i].len == key->len &&
		    CRYPTO_memcmp(hmac_cache[i].k, key->k, key->len) == 0)
			return EVP_MAC_init(hmac_cache[i].ctx, NULL, 0, NULL) == 1 ?
			    hmac_cache[i].ctx : NULL;
	if (hmac_alg == NULL && (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	i = hmac_next++ % 2;
	EVP_MAC_CTX_free(hmac_cache[i].ctx);
	OPENSSL_cleanse(hmac_cache[i].k, sizeof(hmac_cache[i].k));
	hmac_cache[i].ctx = EVP_MAC_CTX_new(hmac_alg);
	if (hmac_cache[i].ctx == NULL ||
	    EVP_MAC_init(hmac_cache[i].ctx, key->k, key->len, params) != 1) {
		EVP_MAC_CTX_free(hmac_cache[i].ctx);
		hmac_cache[i].ctx = NULL;
		return NULL;
	}
	memcpy(hmac_cache[i].k, key->k, key->len);
	hmac_cache[i].len = key->len;
	return hmac_cache[i].ctx;
}

/* HMAC-SHA256 of msg under key into 32 raw bytes; -1 on failure. */
static int
token_hmac(const struct token_key *key, const char *msg, size_t len,
    uint8_t md[TOKEN_MAC_BYTES])
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	EVP_MAC_CTX *ctx;
	int ok;

	if (key == NULL || key->len < TOKEN_KEY_MIN || key->len > TOKEN_KEY_MAX)
		return -1;
	if ((ctx = token_hmac_ctx(key)) == NULL)
		return -1;
	ok = EVP_MAC_update(ctx, (const unsigned char *)msg, len) == 1 &&
	    EVP_MAC_final(ctx, buf, &mdlen, sizeof(buf)) == 1 && mdlen == TOKEN_MAC_BYTES;
	if (!ok)
		return -1;
	memcpy(md, buf, TOKEN_MAC_BYTES);
	return 0;
}

/* Sign a canonical string into lower-case hex. */
static int
token_sign_hex(const struct token_key *key, const char *msg, int len,
    char sig[TOKEN_SIG_HEXLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[TOKEN_MAC_BYTES];

	if (len < 0 || token_hmac(key, msg, (size_t)len, md) < 0)
		return -1;
	for (int i = 0; i < TOKEN_MAC_BYTES; i++) {
		sig[2 * i] = hex[md[i] >> 4];
		sig[2 * i + 1] = hex[md[i] & 15];
	}
	sig[TOKEN_SIG_HEXLEN] = '\0';
	return 0;
}

/* Decode a signature: exactly 64 lower-case hex digits; -1 otherwise. */
static int
token_sig_decode(const char *sig, uint8_t md[TOKEN_MAC_BYTES])
{
	if (sig == NULL || strlen(sig) != TOKEN_SIG_HEXLEN)
		return -1;
	for (int i = 0; i < TOKEN_SIG_HEXLEN; i++) {
		char c = sig[i];
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -1;
		if (i % 2 == 0)
			md[i / 2] = (uint8_t)(v << 4);
		else
			md[i / 2] |= (uint8_t)v;
	}
	return 0;
}

/* Compare a presented signature with the HMAC of msg in constant time. */
static enum token_result
token_check_sig(const struct token_key *key, const char *msg, int len,
    const uint8_t want[TOKEN_MAC_BYTES])
{
	uint8_t md[TOKEN_MAC_BYTES];

	if (len < 0)
		return TOKEN_MALFORMED;
	if (token_hmac(key, msg, (size_t)len, md) < 0)
		return TOKEN_BAD_SIG; /* no usable key: fail closed */
	if (CRYPTO_memcmp(md, want, TOKEN_MAC_BYTES) != 0)
		return TOKEN_BAD_SIG;
	return TOKEN_OK;
}

/* Sign the 511 link parameters (gate -> login server). */
int
token_sign_link(const struct token_key *key, const struct wk_mac *mac,
    const struct wk_ip *ip, const char *url, uint64_t ts, const char *gw,
    char sig[TOKEN_SIG_HEXLEN + 1])
{
	char m[WK_MAC_STRLEN], a[WK_IP_STRLEN], t[TOKEN_U64_MAXLEN + 1];
	char canon[TOKEN_CANON_MAX];

	addr_mac_format(mac, m);
	addr_ip_format(ip, a);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)ts);
	return token_sign_hex(key, canon,
	    token_canon_link(canon, sizeof(canon), m, a, url, t, gw), sig);
}

/* Append "sep name=encoded(value)" to out at *pos; -1 if it does not fit. */
static int
token_link_param(char *out, size_t outlen, size_t *pos, char sep,
    const char *name, const char *value)
{
	int n = snprintf(out + *pos, outlen - *pos, "%c%s=", sep, name);

	if (n < 0 || (size_t)n >= outlen - *pos)
		return -1;
	*pos += (size_t)n;
	n = token_url_encode(value, out + *pos, outlen - *pos);
	if (n < 0)
		return -1;
	*pos += (size_t)n;
	return 0;
}

/* Build the full login link "portal_url?mac=..&ip=..&url=..&ts=..&gw=..
 * &sig=.." ('&' first if portal_url already has a query); the length,
 * or -1 if a field is invalid or out is too small. */
int
token_link_build(const struct token_key *key, const char *portal_url,
    const struct wk_mac *mac, const struct wk_ip *ip, const char *url,
    uint64_t ts, const char *gw, char *out, size_t outlen)
{
	char m[WK_MAC_STRLEN], a[WK_IP_STRLEN], t[TOKEN_U64_MAXLEN + 1];
	char sig[TOKEN_SIG_HEXLEN + 1];
	size_t pos;

	if (portal_url == NULL || strchr(portal_url, '#') != NULL ||
	    token_sign_link(key, mac, ip, url, ts, gw, sig) < 0)
		return -1;
	addr_mac_format(mac, m);
	addr_ip_format(ip, a);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)ts);
	pos = strlen(portal_url);
	if (pos >= outlen)
		return -1;
	memcpy(out, portal_url, pos + 1);
	if (token_link_param(out, outlen, &pos,
	    strchr(portal_url, '?') != NULL ? '&' : '?', "mac", m) < 0 ||
	    token_link_param(out, outlen, &pos, '&', "ip", a) < 0 ||
	    token_link_param(out, outlen, &pos, '&', "url", url) < 0 ||
	    token_link_param(out, outlen, &pos, '&', "ts", t) < 0 ||
	    token_link_param(out, outlen, &pos, '&', "gw", gw) < 0 ||
	    token_link_param(out, outlen, &pos, '&', "sig", sig) < 0)
		return -1;
	return (int)pos;
}

/* True when a signed time ts is neither older than max_age nor more than
 * TOKEN_SPLASH_SKEW ahead of now (links and splash forms alike). */
static bool
token_fresh(uint64_t ts, uint64_t now, uint64_t max_age)
{
	return !((ts > now && ts - now > TOKEN_SPLASH_SKEW) ||
	    (now > ts && now - ts > max_age));
}

/* Verify link parameters as a login server written in C would: signature,
 * then age (ts older than max_age, or more than TOKEN_SPLASH_SKEW ahead of
 * now, is TOKEN_EXPIRED). */
enum token_result
token_verify_link(const struct token_key *key, const char *mac,
    const char *ip, const char *url, const char *ts, const char *gw,
    const char *sig, uint64_t now, uint64_t max_age)
{
	char canon[TOKEN_CANON_MAX];
	uint8_t want[TOKEN_MAC_BYTES];
	enum token_result r;
	uint64_t t;
	int len;

	len = token_canon_link(canon, sizeof(canon), mac, ip, url, ts, gw);
	if (len < 0 || token_sig_decode(sig, want) < 0 ||
	    token_u64_parse(ts, &t) < 0)
		return TOKEN_MALFORMED;
	if ((r = token_check_sig(key, canon, len, want)) != TOKEN_OK)
		return r;
	return token_fresh(t, now, max_age) ? TOKEN_OK : TOKEN_EXPIRED;
}

/* Sign a grant (what an external login server does; tests use it). */
int
token_sign_grant(const struct token_key *key, const struct wk_mac *mac,
    uint64_t until, const char *nonce, char sig[TOKEN_SIG_HEXLEN + 1])
{
	char m[WK_MAC_STRLEN], u[TOKEN_U64_MAXLEN + 1];
	char canon[TOKEN_CANON_MAX];

	addr_mac_format(mac, m);
	snprintf(u, sizeof(u), "%llu", (unsigned long long)until);
	return token_sign_hex(key, canon,
	    token_canon_grant(canon, sizeof(canon), m, u, nonce), sig);
}

/* Verify a grant from the query: syntax (MALFORMED), then signature in
 * constant time (BAD_SIG), then time: until <= now is EXPIRED, until - now
 * > max_grant_seconds is TOO_LONG. The nonce replay check is the caller's
 * (proxy/nonce.c), after this returns TOKEN_OK. */
enum token_result
token_verify_grant(const struct token_key *key, const char *mac,
    const char *until, const char *nonce, const char *sig, uint64_t now,
    uint64_t max_grant_seconds, struct token_grant *out)
{
	char canon[TOKEN_CANON_MAX];
	uint8_t want[TOKEN_MAC_BYTES];
	enum token_result r;
	struct token_grant g;
	int len;

	memset(&g, 0, sizeof(g));
	len = token_canon_grant(canon, sizeof(canon), mac, until, nonce);
	if (len < 0 || token_sig_decode(sig, want) < 0 ||
	    !token_mac_canonical(mac, &g.mac) ||
	    token_u64_parse(until, &g.until) < 0)
		return TOKEN_MALFORMED;
	if ((r = token_check_sig(key, canon, len, want)) != TOKEN_OK)
		return r;
	if (g.until <= now)
		return TOKEN_EXPIRED;
	if (g.until - now > max_grant_seconds)
		return TOKEN_TOO_LONG;
	memcpy(g.nonce, nonce, strlen(nonce) + 1);
	if (out != NULL)
		*out = g;
	return TOKEN_OK;
}

/* Sign a MAC, time and URL token of the given kind. */
static int
token_sign_mtu(const struct token_key *key, const char *kind,
    const struct wk_mac *mac, uint64_t ts, const char *url,
    char sig[TOKEN_SIG_HEXLEN + 1])
{
	char m[WK_MAC_STRLEN], t[TOKEN_U64_MAXLEN + 1];
	char canon[TOKEN_CANON_MAX];

	addr_mac_format(mac, m);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)ts);
	return token_sign_hex(key, canon,
	    token_canon_mtu(canon, sizeof(canon), kind, m, t, url), sig);
}

/* Verify a MAC, time and URL token of the given kind for the MAC the gate
 * saw on the connection: valid while ts <= now + TOKEN_SPLASH_SKEW and
 * now - ts <= max_age. */
static enum token_result
token_verify_mtu(const struct token_key *key, const char *kind,
    const struct wk_mac *mac, const char *ts, const char *url,
    const char *sig, uint64_t now, uint64_t max_age)
{
	char m[WK_MAC_STRLEN], canon[TOKEN_CANON_MAX];
	uint8_t want[TOKEN_MAC_BYTES];
	enum token_result r;
	uint64_t t;
	int len;

	addr_mac_format(mac, m);
	len = token_canon_mtu(canon, sizeof(canon), kind, m, ts, url);
	if (len < 0 || token_sig_decode(sig, want) < 0 ||
	    token_u64_parse(ts, &t) < 0)
		return TOKEN_MALFORMED;
	if ((r = token_check_sig(key, canon, len, want)) != TOKEN_OK)
		return r;
	return token_fresh(t, now, max_age) ? TOKEN_OK : TOKEN_EXPIRED;
}

/* Sign the splash form token binding the client's MAC, the page's time and
 * the URL the accept redirects to (so a page elsewhere cannot POST it). */
int
token_sign_splash(const struct token_key *key, const struct wk_mac *mac,
    uint64_t ts, const char *url, char sig[TOKEN_SIG_HEXLEN + 1])
{
	return token_sign_mtu(key, TOKEN_KIND_SPLASH, mac, ts, url, sig);
}

/* Verify a splash form for the MAC the gate saw on the connection: valid
 * while ts <= now + TOKEN_SPLASH_SKEW and now - ts <= max_age. */
enum token_result
token_verify_splash(const struct token_key *key, const struct wk_mac *mac,
    const char *ts, const char *url, const char *sig, uint64_t now,
    uint64_t max_age)
{
	return token_verify_mtu(key, TOKEN_KIND_SPLASH, mac, ts, url, sig, now,
	    max_age);
}

/* Sign the return token: the URL a client wanted, as the gate's own 511
 * link carries it to the built-in splash (so the splash never redirects to
 * a URL the gate did not see the client ask for). */
int
token_sign_return(const struct token_key *key, const struct wk_mac *mac,
    uint64_t ts, const char *url, char sig[TOKEN_SIG_HEXLEN + 1])
{
	return token_sign_mtu(key, TOKEN_KIND_RETURN, mac, ts, url, sig);
}

/* Verify a return token for the MAC the gate saw on the connection, with
 * the same time window as the splash form. */
enum token_result
token_verify_return(const struct token_key *key, const struct wk_mac *mac,
    const char *ts, const char *url, const char *sig, uint64_t now,
    uint64_t max_age)
{
	return token_verify_mtu(key, TOKEN_KIND_RETURN, mac, ts, url, sig, now,
	    max_age);
}

/* Percent-encode everything but RFC 3986 §2.3 unreserved characters
 * (ALPHA DIGIT - . _ ~) with upper-case hex; the length, or -1 if out is
 * too small. */
int
token_url_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (in == NULL || outlen == 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outlen)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return (int)o;
}

/* Decode one form-urlencoded component ('+' is a space, %HH a byte) into
 * out (NULL: validate only). 0, or -1 bad byte/escape, -2 too long. */
static int
token_query_decode(const char *s, size_t len, char *out, size_t cap)
{
	bool over = false;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '#')
			return -1; /* not a URI character (RFC 3986 §3.4) */
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = addr_hexval((unsigned char)s[i + 1]);
			lo = addr_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0)
				return -1; /* a NUL would cut the C string */
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		/* Past the buffer: keep validating, report -2 at the end. */
		if (out != NULL && o + 1 < cap)
			out[o] = (char)c;
		else if (out != NULL)
			over = true;
		o++;
	}
	if (over)
		return -2;
	if (out != NULL)
		out[o] = '\0';
	return 0;
}

/* Parse a query string (the part after '?', without a fragment) strictly:
 * pairs "name=value" joined by '&', application/x-www-form-urlencoded
 * decoding of both; an empty pair, a pair without '=', a bad escape, %00,
 * a raw byte outside visible ASCII, a value longer than its buffer or a
 * repeated known name is an error. Unknown names are ignored (a login
 * server may add unsigned parameters of its own). 0 or -1 with err set. */
int
token_query_parse(const char *q, size_t len, struct token_qparam *params,
    size_t n, char *err, size_t errlen)
{
	char name[TOKEN_QNAME_MAX + 1];
	size_t i = 0;

	for (size_t k = 0; k < n; k++) {
		params[k].found = false;
		if (params[k].cap > 0)
			params[k].buf[0] = '\0';
	}
	if (len == 0)
		return 0;
	while (i <= len) {
		const char *pair = q + i, *amp, *eq;
		size_t plen, nlen;
		int rc;

		amp = memchr(pair, '&', len - i);
		plen = amp != NULL ? (size_t)(amp - pair) : len - i;
		if (plen == 0) {
			token_err(err, errlen, "empty query parameter");
			return -1;
		}
		eq = memchr(pair, '=', plen);
		if (eq == NULL) {
			token_err(err, errlen, "query parameter without '='");
			return -1;
		}
		nlen = (size_t)(eq - pair);
		rc = token_query_decode(pair, nlen, name, sizeof(name));
		if (rc == -1) {
			token_err(err, errlen, "bad byte or escape in a query "
			    "parameter name");
			return -1;
		}
		struct token_qparam *p = NULL;
		if (rc == 0)
			for (size_t k = 0; k < n; k++)
				if (strcmp(params[k].name, name) == 0)
					p = &params[k];
		if (p != NULL && p->found) {
			token_err(err, errlen, "duplicate query parameter %s",
			    p->name);
			return -1;
		}
		rc = token_query_decode(eq + 1, plen - nlen - 1,
		    p != NULL ? p->buf : NULL, p != NULL ? p->cap : 0);
		if (rc == -1) {
			token_err(err, errlen, "bad byte or escape in query "
			    "parameter %s",
			    p != NULL ? p->name : "(unknown)");
			return -1;
		}
		if (rc == -2 && p != NULL) {
			token_err(err, errlen, "query parameter %s too long",
			    p->name);
			return -1;
		}
		if (p != NULL)
			p->found = true;
		if (amp == NULL)
			break;
		i += plen + 1;
		if (i == len) {
			token_err(err, errlen, "empty query parameter");
			return -1;
		}
	}
	return 0;
}

/* Parse the query of /wicket/grant: mac, until, nonce and sig, each
 * exactly once (other names ignored); 0 or -1 with err set. */
int
token_grant_query_parse(const char *q, size_t len,
    struct token_grant_query *out, char *err, size_t errlen)
{
	struct token_qparam p[] = {
		{ "mac", out->mac, sizeof(out->mac), false },
		{ "until", out->until, sizeof(out->until), false },
		{ "nonce", out->nonce, sizeof(out->nonce), false },
		{ "sig", out->sig, sizeof(out->sig), false },
	};

	if (token_query_parse(q, len, p, sizeof(p) / sizeof(p[0]), err,
	    errlen) < 0)
		return -1;
	for (size_t k = 0; k < sizeof(p) / sizeof(p[0]); k++)
		if (!p[k].found) {
			token_err(err, errlen, "missing query parameter %s",
			    p[k].name);
			return -1;
		}
	return 0;
}
