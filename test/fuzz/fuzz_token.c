/* fuzz_token: hostile query strings into the grant and form parsers and
 * the verifier; nothing may crash, and no random input may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: parse it as a grant query and as a splash form. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct token_key key;
	struct token_grant_query q;
	struct token_grant g;
	char err[128], url[TOKEN_URL_MAX + 1], ts[32], sig[TOKEN_SIG_HEXLEN + 1];
	struct token_qparam p[] = {
		{ "url", url, sizeof(url), false },
		{ "ts", ts, sizeof(ts), false },
		{ "sig", sig, sizeof(sig), false },
	};

	if (key.len == 0 && token_key_set(&key, "0123456789abcdef0123", 20) < 0)
		abort();
	if (token_grant_query_parse((const char *)data, size, &q, err, sizeof(err)) == 0 &&
	    token_verify_grant(&key, q.mac, q.until, q.nonce, q.sig, 1800000000ULL,
		86400, &g) == TOKEN_OK)
		abort(); /* a forged HMAC-SHA256 would be news */
	(void)token_query_parse((const char *)data, size, p, 3, err, sizeof(err));
	return 0;
}
