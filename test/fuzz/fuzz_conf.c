/* fuzz_conf: arbitrary configuration text; the parser must never crash,
 * must either accept or report at least one FILE:LINE error, and an
 * accepted configuration must keep its invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wk_conf c;
	struct conf_errors e;
	int rc;

	conf_defaults(&c);
	rc = conf_parse(&c, (const char *)data, size, "f", &e);
	if (rc == 0 && e.count != 0)
		abort();
	if (rc != 0 && (e.count == 0 || e.len == 0 || strncmp(e.text, "f", 1) != 0))
		abort();
	if (rc == 0 && (c.n_listen == 0 || c.n_listen > CONF_MAX_LISTEN ||
			   c.max_request_line > c.max_header_bytes ||
			   c.n_require_length > CONF_MAX_METHODS))
		abort();
	return 0;
}
