/* radpkt: RADIUS packets as bytes. The parser checks every length before
 * it reads (header, each attribute, each vendor sub-attribute); the
 * authenticators are MD5 and HMAC-MD5 from OpenSSL; the builder never
 * writes past its buffer and fails the packet instead. Pure. */
#include "radpkt.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Parse a Vendor-Specific value in the RFC 2865 §5.26 layout into
 * sub-attribute entries; a value not in that layout stays one opaque
 * entry (vendor 0, type 26). -1 only when the entry table is full. */
static int
radpkt_parse_vsa(struct radpkt *p, size_t off, size_t vlen)
{
	const uint8_t *v = p->buf + off;
	uint32_t vendor;
	size_t i, n0 = p->nattrs;

	if (vlen < 4 + 2)
		goto opaque;
	vendor = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	if (vendor == 0 || v[0] != 0)
		goto opaque;
	for (i = 4; i < vlen;) {
		if (vlen - i < 2 || v[i + 1] < 2 || v[i + 1] > vlen - i)
			goto opaque_undo;
		if (p->nattrs == RADPKT_MAX_ATTRS)
			return -1;
		p->attrs[p->nattrs++] = (struct radpkt_attr){ .vendor = vendor,
			.type = v[i], .len = (uint8_t)(v[i + 1] - 2),
			.off = (uint16_t)(off + i + 2) };
		i += v[i + 1];
	}
	return 0;
opaque_undo:
	p->nattrs = n0;
opaque:
	if (p->nattrs == RADPKT_MAX_ATTRS)
		return -1;
	p->attrs[p->nattrs++] = (struct radpkt_attr){ .vendor = 0,
		.type = RAD_VENDOR_SPECIFIC, .len = (uint8_t)vlen, .off = (uint16_t)off };
	return 0;
}

/* Parse a packet (RFC 2865 §3): code, identifier, a Length between 20 and
 * 4096 that the datagram covers (octets past it are padding), then
 * attributes each at least 2 long that end exactly at Length. At most one
 * Message-Authenticator, and it must be 18 long (RFC 3579 §3.2). */
int
radpkt_parse(const uint8_t *buf, size_t len, struct radpkt *p, const char **why)
{
	const char *dummy;
	size_t off;

	if (why == NULL)
		why = &dummy;
	memset(p, 0, offsetof(struct radpkt, attrs));
	p->ma_off = -1;
	if (len < RADPKT_HDR) {
		*why = "shorter than the RADIUS header";
		return -1;
	}
	p->buf = buf;
	p->code = buf[0];
	p->id = buf[1];
	p->len = (uint16_t)(buf[2] << 8 | buf[3]);
	if (p->len < RADPKT_HDR || p->len > RADPKT_MAX) {
		*why = "Length field out of range";
		return -1;
	}
	if (p->len > len) {
		*why = "truncated: Length exceeds the datagram";
		return -1;
	}
	for (off = RADPKT_HDR; off < p->len;) {
		uint8_t type, alen;

		if (p->len - off < 2) {
			*why = "truncated attribute header";
			return -1;
		}
		type = buf[off];
		alen = buf[off + 1];
		if (alen < 2 || alen > p->len - off) {
			*why = "attribute length out of range";
			return -1;
		}
		if (type == 0) {
			*why = "attribute type 0";
			return -1;
		}
		if (type == RAD_MESSAGE_AUTHENTICATOR) {
			if (alen != 2 + RADPKT_AUTH_LEN || p->ma_off >= 0) {
				*why = p->ma_off >= 0 ? "two Message-Authenticators"
				    : "Message-Authenticator not 16 octets";
				return -1;
			}
			p->ma_off = (int)off;
		}
		if (type == RAD_VENDOR_SPECIFIC) {
			if (radpkt_parse_vsa(p, off + 2, alen - 2u) < 0)
				goto too_many;
		} else {
			if (p->nattrs == RADPKT_MAX_ATTRS)
				goto too_many;
			p->attrs[p->nattrs++] = (struct radpkt_attr){ .type = type,
				.len = (uint8_t)(alen - 2), .off = (uint16_t)(off + 2) };
		}
		off += alen;
	}
	return 0;
too_many:
	*why = "too many attributes";
	return -1;
}

/* The first attribute of that vendor and type, or NULL. */
const struct radpkt_attr *
radpkt_find(const struct radpkt *p, uint32_t vendor, uint8_t type)
{
	for (size_t i = 0; i < p->nattrs; i++)
		if (p->attrs[i].vendor == vendor && p->attrs[i].type == type)
			return &p->attrs[i];
	return NULL;
}

/* A big-endian 32-bit integer attribute; -1 unless exactly 4 octets. */
int
radpkt_attr_u32(const struct radpkt *p, const struct radpkt_attr *a, uint32_t *out)
{
	const uint8_t *v = p->buf + a->off;

	if (a->len != 4)
		return -1;
	*out = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	return 0;
}

/* MD5 over the packet with vec in the authenticator field, then the
 * secret: the Request (zero vec) or Response (request's vec)
 * Authenticator. -1 if OpenSSL fails. */
static int
radpkt_md5(const uint8_t *pkt, size_t len, const uint8_t vec[RADPKT_AUTH_LEN],
    const uint8_t *secret, size_t slen, uint8_t out[RADPKT_AUTH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned olen = 0;
	int ok;

	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pkt, 4) == 1 &&
	    EVP_DigestUpdate(ctx, vec, RADPKT_AUTH_LEN) == 1 &&
	    EVP_DigestUpdate(ctx, pkt + RADPKT_HDR, len - RADPKT_HDR) == 1 &&
	    EVP_DigestUpdate(ctx, secret, slen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == RADPKT_AUTH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* HMAC-MD5 (RFC 3579 §3.2) of the packet with vec in the authenticator
 * field and the Message-Authenticator at ma_off zeroed. */
static int
radpkt_hmac(const uint8_t *pkt, size_t len, int ma_off,
    const uint8_t vec[RADPKT_AUTH_LEN], const uint8_t *secret, size_t slen,
    uint8_t out[RADPKT_AUTH_LEN])
{
	uint8_t copy[RADPKT_MAX];
	unsigned olen = 0;

	if (len > sizeof(copy) || ma_off < RADPKT_HDR ||
	    (size_t)ma_off + 2 + RADPKT_AUTH_LEN > len)
		return -1;
	memcpy(copy, pkt, len);
	memcpy(copy + 4, vec, RADPKT_AUTH_LEN);
	memset(copy + ma_off + 2, 0, RADPKT_AUTH_LEN);
	if (HMAC(EVP_md5(), secret, (int)slen, copy, len, out, &olen) == NULL ||
	    olen != RADPKT_AUTH_LEN)
		return -1;
	return 0;
}

static const uint8_t radpkt_zero[RADPKT_AUTH_LEN];

/* Check an accounting, CoA or Disconnect request: the Request
 * Authenticator is MD5 over the packet with a zero authenticator and the
 * secret (RFC 2866 §3, RFC 5176 §3.5); the Message-Authenticator, when
 * present (or required), is HMAC-MD5 with a zero authenticator, as
 * FreeRADIUS computes it. 0 when authentic. */
int
radpkt_verify_request(const struct radpkt *p, const uint8_t *secret,
    size_t slen, bool require_ma)
{
	uint8_t d[RADPKT_AUTH_LEN];

	if (p->code != RAD_ACCT_REQUEST && p->code != RAD_COA_REQUEST &&
	    p->code != RAD_DISCONNECT_REQUEST)
		return -1;
	if (radpkt_md5(p->buf, p->len, radpkt_zero, secret, slen, d) < 0 ||
	    CRYPTO_memcmp(d, p->buf + 4, RADPKT_AUTH_LEN) != 0)
		return -1;
	if (p->ma_off < 0)
		return require_ma ? -1 : 0;
	if (radpkt_hmac(p->buf, p->len, p->ma_off, radpkt_zero, secret, slen, d) < 0 ||
	    CRYPTO_memcmp(d, p->buf + p->ma_off + 2, RADPKT_AUTH_LEN) != 0)
		return -1;
	return 0;
}

/* Check a response: Response Authenticator = MD5(Code+ID+Length+Request
 * Authenticator+Attributes+Secret) (RFC 2865 §3), and a
 * Message-Authenticator over the packet with the request's authenticator
 * (RFC 3579 §3.2): checked when present, and with require_ma an Access
 * reply without one is refused -- the BLAST-RADIUS forgery (CVE-2024-3596)
 * needs a reply the HMAC does not cover. 0 when authentic. */
int
radpkt_verify_response(const struct radpkt *p,
    const uint8_t req_auth[RADPKT_AUTH_LEN], const uint8_t *secret, size_t slen,
    bool require_ma)
{
	uint8_t d[RADPKT_AUTH_LEN];

	if (radpkt_md5(p->buf, p->len, req_auth, secret, slen, d) < 0 ||
	    CRYPTO_memcmp(d, p->buf + 4, RADPKT_AUTH_LEN) != 0)
		return -1;
	if (p->ma_off < 0)
		return require_ma && (p->code == RAD_ACCESS_ACCEPT ||
		    p->code == RAD_ACCESS_REJECT || p->code == RAD_ACCESS_CHALLENGE)
		    ? -1 : 0;
	if (radpkt_hmac(p->buf, p->len, p->ma_off, req_auth, secret, slen, d) < 0 ||
	    CRYPTO_memcmp(d, p->buf + p->ma_off + 2, RADPKT_AUTH_LEN) != 0)
		return -1;
	return 0;
}

/* Start a packet: header with a placeholder length. */
void
radpkt_begin(struct radpkt_builder *b, uint8_t code, uint8_t id,
    const uint8_t auth[RADPKT_AUTH_LEN])
{
	b->buf[0] = code;
	b->buf[1] = id;
	b->buf[2] = b->buf[3] = 0;
	if (auth != NULL)
		memcpy(b->buf + 4, auth, RADPKT_AUTH_LEN);
	else
		memset(b->buf + 4, 0, RADPKT_AUTH_LEN);
	b->len = RADPKT_HDR;
	b->ma_off = -1;
	b->overflow = false;
}

/* Append one attribute; an empty or over-long value, or a full packet,
 * marks the builder overflowed (RFC 2865 §5: values are 1..253 octets). */
void
radpkt_put(struct radpkt_builder *b, uint8_t type, const void *val, size_t len)
{
	if (b->overflow || len == 0 || len > RADPKT_STR_MAX ||
	    b->len + 2 + len > sizeof(b->buf)) {
		b->overflow = true;
		return;
	}
	b->buf[b->len] = type;
	b->buf[b->len + 1] = (uint8_t)(len + 2);
	memcpy(b->buf + b->len + 2, val, len);
	b->len += 2 + len;
}

/* Append a text attribute. */
void
radpkt_put_str(struct radpkt_builder *b, uint8_t type, const char *s)
{
	radpkt_put(b, type, s, strlen(s));
}

/* Append a 32-bit integer attribute (network order). */
void
radpkt_put_u32(struct radpkt_builder *b, uint8_t type, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	radpkt_put(b, type, x, 4);
}

/* Append a Vendor-Specific attribute holding one integer. */
void
radpkt_put_vsa_u32(struct radpkt_builder *b, uint32_t vendor, uint8_t vtype,
    uint32_t v)
{
	uint8_t x[10] = { (uint8_t)(vendor >> 24), (uint8_t)(vendor >> 16),
		(uint8_t)(vendor >> 8), (uint8_t)vendor, vtype, 6,
		(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	radpkt_put(b, RAD_VENDOR_SPECIFIC, x, sizeof(x));
}

/* Append the Message-Authenticator placeholder (one per packet). */
void
radpkt_put_ma(struct radpkt_builder *b)
{
	if (b->ma_off >= 0) {
		b->overflow = true;
		return;
	}
	b->ma_off = (int)b->len;
	radpkt_put(b, RAD_MESSAGE_AUTHENTICATOR, radpkt_zero, RADPKT_AUTH_LEN);
}

/* RFC 2865 §5.2: pad the password with NULs to a multiple of 16, then
 * c(1) = p(1) xor MD5(S + RA), c(i) = p(i) xor MD5(S + c(i-1)). The
 * authenticator must already be in the header (radpkt_begin). */
void
radpkt_put_password(struct radpkt_builder *b, const char *pw, size_t pwlen,
    const uint8_t *secret, size_t slen)
{
	uint8_t out[RADPKT_PASS_MAX], h[RADPKT_AUTH_LEN];
	const uint8_t *prev = b->buf + 4;
	size_t n = pwlen == 0 ? 16 : (pwlen + 15) / 16 * 16;
	unsigned olen;

	if (pwlen > RADPKT_PASS_MAX) {
		b->overflow = true;
		return;
	}
	memset(out, 0, sizeof(out));
	memcpy(out, pw, pwlen);
	for (size_t i = 0; i < n; i += 16) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		    EVP_DigestUpdate(ctx, secret, slen) == 1 &&
		    EVP_DigestUpdate(ctx, prev, 16) == 1 &&
		    EVP_DigestFinal_ex(ctx, h, &olen) == 1;
		EVP_MD_CTX_free(ctx);
		if (!ok) {
			b->overflow = true;
			return;
		}
		for (size_t k = 0; k < 16; k++)
			out[i + k] ^= h[k];
		prev = out + i;
	}
	radpkt_put(b, RAD_USER_PASSWORD, out, n);
	OPENSSL_cleanse(out, sizeof(out));
}

/* True for codes whose Request Authenticator is computed (not random). */
static bool
radpkt_computed_request(uint8_t code)
{
	return code == RAD_ACCT_REQUEST || code == RAD_COA_REQUEST ||
	    code == RAD_DISCONNECT_REQUEST;
}

/* Finish: Length, Message-Authenticator (RFC 3579 §3.2; zero vector for
 * computed requests, the request's for responses, the random one of an
 * Access-Request), then the computed Request or Response Authenticator. */
int
radpkt_finish(struct radpkt_builder *b, const uint8_t *secret, size_t slen,
    const uint8_t req_auth[RADPKT_AUTH_LEN])
{
	uint8_t code = b->buf[0], vec[RADPKT_AUTH_LEN], d[RADPKT_AUTH_LEN];
	bool response = code != RAD_ACCESS_REQUEST && !radpkt_computed_request(code);

	if (b->overflow || (response && req_auth == NULL))
		return -1;
	b->buf[2] = (uint8_t)(b->len >> 8);
	b->buf[3] = (uint8_t)b->len;
	if (code == RAD_ACCESS_REQUEST)
		memcpy(vec, b->buf + 4, RADPKT_AUTH_LEN);
	else if (response)
		memcpy(vec, req_auth, RADPKT_AUTH_LEN);
	else
		memset(vec, 0, RADPKT_AUTH_LEN);
	if (b->ma_off >= 0) {
		if (radpkt_hmac(b->buf, b->len, b->ma_off, vec, secret, slen, d) < 0)
			return -1;
		memcpy(b->buf + b->ma_off + 2, d, RADPKT_AUTH_LEN);
	}
	if (code != RAD_ACCESS_REQUEST) {
		if (radpkt_md5(b->buf, b->len, vec, secret, slen, d) < 0)
			return -1;
		memcpy(b->buf + 4, d, RADPKT_AUTH_LEN);
	}
	return (int)b->len;
}

/* Copy a text value if it is printable ASCII; -1 otherwise. */
static int
radpkt_text(const struct radpkt *p, const struct radpkt_attr *a, char *out,
    size_t size)
{
	const uint8_t *v = p->buf + a->off;

	if ((size_t)a->len + 1 > size)
		return -1;
	for (size_t i = 0; i < a->len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return -1;
	memcpy(out, v, a->len);
	out[a->len] = '\0';
	return 0;
}

/* The volume limit: ChilliSpot-Max-Total-Octets plus 2^32 times
 * ChilliSpot-Max-Total-Gigawords. -1 when malformed, 0 (and *out 0) when
 * absent. */
static int
radpkt_volume(const struct radpkt *p, uint64_t *out, bool *present)
{
	const struct radpkt_attr *o = radpkt_find(p, RAD_VENDOR_CHILLISPOT,
	    RAD_CHILLI_MAX_TOTAL_OCTETS);
	const struct radpkt_attr *g = radpkt_find(p, RAD_VENDOR_CHILLISPOT,
	    RAD_CHILLI_MAX_TOTAL_GIGAWORDS);
	uint32_t lo = 0, hi = 0;

	*out = 0;
	*present = o != NULL || g != NULL;
	if ((o && radpkt_attr_u32(p, o, &lo) < 0) ||
	    (g && radpkt_attr_u32(p, g, &hi) < 0))
		return -1;
	*out = (uint64_t)hi << 32 | lo;
	return 0;
}

/* Decode an Access-Accept's grants (RFC 2865 §5.27, §5.28, §5.25, RFC 2869
 * §5.16) and the volume limit; a malformed known attribute fails the
 * whole Accept (fail closed: the client is not admitted on a guess). */
int
radpkt_accept_decode(const struct radpkt *p, struct radpkt_accept *out,
    const char **why)
{
	const struct radpkt_attr *a;
	const char *dummy;
	bool vol;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	if ((a = radpkt_find(p, 0, RAD_SESSION_TIMEOUT)) &&
	    radpkt_attr_u32(p, a, &out->session_timeout) < 0) {
		*why = "malformed Session-Timeout";
		return -1;
	}
	if ((a = radpkt_find(p, 0, RAD_IDLE_TIMEOUT)) &&
	    radpkt_attr_u32(p, a, &out->idle_timeout) < 0) {
		*why = "malformed Idle-Timeout";
		return -1;
	}
	if ((a = radpkt_find(p, 0, RAD_ACCT_INTERIM_INTERVAL)) &&
	    radpkt_attr_u32(p, a, &out->interim) < 0) {
		*why = "malformed Acct-Interim-Interval";
		return -1;
	}
	if (radpkt_volume(p, &out->volume, &vol) < 0) {
		*why = "malformed ChilliSpot-Max-Total-Octets/Gigawords";
		return -1;
	}
	if ((a = radpkt_find(p, 0, RAD_CLASS)) != NULL) {
		out->class_len = a->len;
		memcpy(out->class_, p->buf + a->off, a->len);
	}
	if ((a = radpkt_find(p, 0, RAD_REPLY_MESSAGE)) != NULL &&
	    radpkt_text(p, a, out->reply_message, sizeof(out->reply_message)) < 0)
		out->reply_message[0] = '\0'; /* shown to users: text only */
	return 0;
}

/* Decode a CoA or Disconnect request (RFC 5176 §3): the session is named
 * by Acct-Session-Id, Calling-Station-Id or User-Name; a CoA may change
 * Session-Timeout, Idle-Timeout and the volume limit. Attributes that
 * would change anything else are refused with 401, so that a server never
 * believes a change was applied when it was not (§3.5 of RFC 5176). */
int
radpkt_coa_decode(const struct radpkt *p, struct radpkt_coa *out)
{
	const struct radpkt_attr *a;
	uint32_t v;

	memset(out, 0, sizeof(*out));
	if (p->code != RAD_COA_REQUEST && p->code != RAD_DISCONNECT_REQUEST)
		return RAD_ERR_INVALID_REQUEST;
	out->disconnect = p->code == RAD_DISCONNECT_REQUEST;
	for (size_t i = 0; i < p->nattrs; i++) {
		a = &p->attrs[i];
		if (a->vendor == RAD_VENDOR_CHILLISPOT &&
		    (a->type == RAD_CHILLI_MAX_TOTAL_OCTETS ||
			a->type == RAD_CHILLI_MAX_TOTAL_GIGAWORDS) && !out->disconnect)
			continue;
		if (a->vendor != 0)
			return RAD_ERR_UNSUPPORTED_ATTRIBUTE;
		switch (a->type) {
		case RAD_USER_NAME:
			if (radpkt_text(p, a, out->user, sizeof(out->user)) < 0)
				return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
			out->has_user = true;
			break;
		case RAD_ACCT_SESSION_ID:
			if (radpkt_text(p, a, out->sid, sizeof(out->sid)) < 0)
				return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
			out->has_sid = true;
			break;
		case RAD_CALLING_STATION_ID:
			if (radpkt_mac_parse((const char *)p->buf + a->off, a->len, &out->mac) < 0)
				return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
			out->has_mac = true;
			break;
		case RAD_NAS_IDENTIFIER:
			if (radpkt_text(p, a, out->nas_id, sizeof(out->nas_id)) < 0)
				return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
			out->has_nas_id = true;
			break;
		case RAD_EVENT_TIMESTAMP:
			if (radpkt_attr_u32(p, a, &out->event_ts) < 0)
				return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
			out->has_event_ts = true;
			break;
		case RAD_SESSION_TIMEOUT:
		case RAD_IDLE_TIMEOUT:
			if (out->disconnect)
				return RAD_ERR_UNSUPPORTED_ATTRIBUTE;
			if (radpkt_attr_u32(p, a, &v) < 0)
				return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
			if (a->type == RAD_SESSION_TIMEOUT) {
				out->has_session_timeout = true;
				out->session_timeout = v;
			} else {
				out->has_idle_timeout = true;
				out->idle_timeout = v;
			}
			break;
		case RAD_STATE:
			out->state_len = a->len;
			memcpy(out->state, p->buf + a->off, a->len);
			break;
		case RAD_SERVICE_TYPE:
			/* §3.2: Authorize-Only asks for a new Access-Request,
			 * which a captive gate cannot start for its client. */
			return RAD_ERR_UNSUPPORTED_SERVICE;
		case RAD_MESSAGE_AUTHENTICATOR:
		case RAD_NAS_IP_ADDRESS:
		case RAD_NAS_IPV6_ADDRESS:
		case RAD_FRAMED_IP_ADDRESS:
		case RAD_CALLED_STATION_ID:
		case RAD_ACCT_TERMINATE_CAUSE:
		case RAD_PROXY_STATE:
		case RAD_REPLY_MESSAGE:
		case RAD_CLASS:
			break; /* identification or informational */
		default:
			return RAD_ERR_UNSUPPORTED_ATTRIBUTE;
		}
	}
	{
		bool vol;
		if (radpkt_volume(p, &out->volume, &vol) < 0)
			return RAD_ERR_INVALID_ATTRIBUTE_VALUE;
		out->has_volume = vol && !out->disconnect;
	}
	if (!out->has_sid && !out->has_mac && !out->has_user)
		return RAD_ERR_MISSING_ATTRIBUTE;
	return 0;
}

/* RFC 5176 §3.5: an Event-Timestamp further than window seconds from now,
 * either way, is a replay (or a wrong clock). 0 when acceptable. */
int
radpkt_ts_check(uint32_t ts, uint64_t now, uint32_t window)
{
	uint64_t t = ts;

	return (t > now ? t - now : now - t) <= window ? 0 : -1;
}

/* Parse AA-BB-CC-DD-EE-FF, aa:bb:..., or 12 bare hex digits. */
int
radpkt_mac_parse(const char *s, size_t len, struct wk_mac *out)
{
	char sep = 0;
	size_t step;

	if (len == 12)
		step = 2;
	else if (len == 17)
		step = 3;
	else
		return -1;
	for (size_t i = 0; i < 6; i++) {
		int hi = addr_hexval((unsigned char)s[i * step]);
		int lo = addr_hexval((unsigned char)s[i * step + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (step == 3 && i < 5) {
			char c = s[i * 3 + 2];
			if ((c != ':' && c != '-') || (sep != 0 && c != sep))
				return -1;
			sep = c;
		}
		out->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Format AA-BB-CC-DD-EE-FF (RFC 3580 §3.21). */
void
radpkt_mac_format(const struct wk_mac *m, char out[WK_MAC_STRLEN])
{
	snprintf(out, WK_MAC_STRLEN, "%02X-%02X-%02X-%02X-%02X-%02X",
	    m->b[0], m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
}
