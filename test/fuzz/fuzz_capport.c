/* fuzz_capport: hostile Accept values and request heads into the RFC 8908
 * API's Accept parser; nothing may crash or read past the input, and the
 * verdict is always one of the three, the same for a value alone and for
 * the value as the only Accept line of a head. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: as an Accept value, and as a whole request head. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pre[] = "GET /wicket/capport HTTP/1.1\r\nAccept: ";
	char *v = malloc(size ? size : 1), *head;
	int a, h;

	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	a = capport_accept(v, size);
	if (a != CAPPORT_ACCEPT_YES && a != CAPPORT_ACCEPT_NO && a != CAPPORT_ACCEPT_BAD)
		abort();
	(void)capport_accept_head(v, size);
	/* A value without CR, LF or edge whitespace must get the same
	 * verdict inside a head as alone. */
	if (memchr(v, '\r', size) == NULL && memchr(v, '\n', size) == NULL &&
	    (size == 0 || (v[0] != ' ' && v[0] != '\t' && v[size - 1] != ' ' &&
		v[size - 1] != '\t')) &&
	    (head = malloc(sizeof(pre) + size + 4)) != NULL) {
		memcpy(head, pre, sizeof(pre) - 1);
		memcpy(head + sizeof(pre) - 1, v, size);
		memcpy(head + sizeof(pre) - 1 + size, "\r\n\r\n", 4);
		h = capport_accept_head(head, sizeof(pre) - 1 + size + 4);
		if (h != a)
			abort();
		free(head);
	}
	free(v);
	return 0;
}
