/* token: HMAC-SHA256 tokens -- the signed 511 link parameters, grants from an
 * external login server, the splash form token -- plus the key file loader
 * and the strict URL query helpers they travel in. Pure apart from the key
 * file read; the canonical strings are specified in docs/grants.md. */
#ifndef WK_TOKEN_H
#define WK_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define TOKEN_KEY_MIN 16        /* bytes, after trimming one trailing newline */
#define TOKEN_KEY_MAX 1024      /* bytes; a longer key file is refused */
#define TOKEN_SIG_HEXLEN 64     /* HMAC-SHA256 as lower-case hex */
#define TOKEN_NONCE_MIN 8
#define TOKEN_NONCE_MAX 64      /* nonce: [A-Za-z0-9_-]{8,64} */
#define TOKEN_GW_MAX 64         /* gateway id: [A-Za-z0-9._-]{1,64} */
#define TOKEN_URL_MAX 2048      /* the wanted URL in a link or splash token */
#define TOKEN_U64_MAXLEN 20     /* decimal digits of UINT64_MAX */
#define TOKEN_SPLASH_SKEW 60    /* seconds a splash ts may lie in the future */
#define TOKEN_KIND_SPLASH "wicket-splash-v1" /* the accept form */
#define TOKEN_KIND_RETURN "wicket-return-v1" /* 511 link -> built-in splash */

/* A loaded HMAC key; wipe it with token_key_wipe when done. */
struct token_key {
	uint8_t k[TOKEN_KEY_MAX];
	size_t len;
};

/* Outcome of a verification; anything but TOKEN_OK means "do not admit". */
enum token_result {
	TOKEN_OK,
	TOKEN_BAD_SIG,   /* well formed, signature does not match */
	TOKEN_EXPIRED,   /* grant: until <= now; splash/link: too old */
	TOKEN_TOO_LONG,  /* grant: until - now > max_grant_seconds */
	TOKEN_MALFORMED, /* a field fails its syntax */
};

/* The fields of a verified grant. */
struct token_grant {
	struct wk_mac mac;
	uint64_t until;
	char nonce[TOKEN_NONCE_MAX + 1];
};

/* One parameter token_query_parse looks for; found is set when seen. */
struct token_qparam {
	const char *name;
	char *buf;       /* receives the decoded value, NUL-terminated */
	size_t cap;      /* size of buf; a longer value is an error */
	bool found;
};

/* The raw parameters of /wicket/grant, as token_grant_query_parse returns
 * them (decoded, not yet validated: token_verify_grant does that). */
struct token_grant_query {
	char mac[WK_MAC_STRLEN];
	char until[TOKEN_U64_MAXLEN + 1];
	char nonce[TOKEN_NONCE_MAX + 1];
	char sig[TOKEN_SIG_HEXLEN + 1];
};

int token_key_load(const char *path, struct token_key *out, char *err,
    size_t errlen);
int token_key_set(struct token_key *out, const void *key, size_t len);
void token_key_wipe(struct token_key *key);
void token_cache_wipe(void);
const char *token_result_str(enum token_result r);

int token_u64_parse(const char *s, uint64_t *out);
bool token_nonce_valid(const char *nonce);
bool token_gw_valid(const char *gw);

int token_canon_link(char *out, size_t outlen, const char *mac,
    const char *ip, const char *url, const char *ts, const char *gw);
int token_canon_grant(char *out, size_t outlen, const char *mac,
    const char *until, const char *nonce);
int token_canon_splash(char *out, size_t outlen, const char *mac,
    const char *ts, const char *url);
int token_canon_return(char *out, size_t outlen, const char *mac,
    const char *ts, const char *url);

int token_sign_link(const struct token_key *key, const struct wk_mac *mac,
    const struct wk_ip *ip, const char *url, uint64_t ts, const char *gw,
    char sig[TOKEN_SIG_HEXLEN + 1]);
int token_link_build(const struct token_key *key, const char *portal_url,
    const struct wk_mac *mac, const struct wk_ip *ip, const char *url,
    uint64_t ts, const char *gw, char *out, size_t outlen);
enum token_result token_verify_link(const struct token_key *key,
    const char *mac, const char *ip, const char *url, const char *ts,
    const char *gw, const char *sig, uint64_t now, uint64_t max_age);

int token_sign_grant(const struct token_key *key, const struct wk_mac *mac,
    uint64_t until, const char *nonce, char sig[TOKEN_SIG_HEXLEN + 1]);
enum token_result token_verify_grant(const struct token_key *key,
    const char *mac, const char *until, const char *nonce, const char *sig,
    uint64_t now, uint64_t max_grant_seconds, struct token_grant *out);

int token_sign_splash(const struct token_key *key, const struct wk_mac *mac,
    uint64_t ts, const char *url, char sig[TOKEN_SIG_HEXLEN + 1]);
enum token_result token_verify_splash(const struct token_key *key,
    const struct wk_mac *mac, const char *ts, const char *url,
    const char *sig, uint64_t now, uint64_t max_age);
int token_sign_return(const struct token_key *key, const struct wk_mac *mac,
    uint64_t ts, const char *url, char sig[TOKEN_SIG_HEXLEN + 1]);
enum token_result token_verify_return(const struct token_key *key,
    const struct wk_mac *mac, const char *ts, const char *url,
    const char *sig, uint64_t now, uint64_t max_age);

int token_url_encode(const char *in, char *out, size_t outlen);
int token_query_parse(const char *q, size_t len, struct token_qparam *params,
    size_t n, char *err, size_t errlen);
int token_grant_query_parse(const char *q, size_t len,
    struct token_grant_query *out, char *err, size_t errlen);

#endif
