/* fuzz_radpkt: hostile datagrams into the RADIUS parser, the
 * authenticator checks and the CoA and Access-Accept decoders (what the
 * CoA listener and the client do with every packet they receive);
 * nothing may crash, and no random input may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "radpkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One datagram: parse, check, decode, and answer it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[] = "fuzzing-secret";
	struct radpkt p;
	struct radpkt_coa coa;
	struct radpkt_accept acc;
	struct radpkt_builder b;
	const char *why;

	if (size > RADPKT_MAX + 64 || radpkt_parse(data, size, &p, &why) < 0)
		return 0;
	if (p.len >= 40 && radpkt_verify_request(&p, secret, sizeof(secret) - 1, false) == 0)
		abort(); /* an MD5 preimage would be news */
	(void)radpkt_verify_response(&p, data + 4, secret, sizeof(secret) - 1, true);
	(void)radpkt_accept_decode(&p, &acc, &why);
	int err = radpkt_coa_decode(&p, &coa);
	radpkt_begin(&b, err ? RAD_COA_NAK : RAD_COA_ACK, p.id, NULL);
	if (err)
		radpkt_put_u32(&b, RAD_ERROR_CAUSE, (uint32_t)err);
	else if (coa.state_len > 0)
		radpkt_put(&b, RAD_STATE, coa.state, coa.state_len);
	radpkt_put_ma(&b);
	if (radpkt_finish(&b, secret, sizeof(secret) - 1, data + 4) < 0)
		abort();
	return 0;
}
