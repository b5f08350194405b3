/* fuzz_arpframe: hostile Ethernet frames into the ARP/NDP parser; a learned
 * binding must be a usable unicast MAC and an address of the frame's kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arpframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: parse from an exact-size heap copy so over-reads are caught. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct arp_binding b;
	int rc;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	rc = arpframe_parse(copy, size, &b);
	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1) {
		if (!addr_mac_is_unicast(&b.mac))
			abort();
		if (b.ip.family != AF_INET && b.ip.family != AF_INET6)
			abort();
	}
	free(copy);
	return 0;
}
