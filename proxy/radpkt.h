/* radpkt: the RADIUS wire format wicket reads and writes itself -- packet
 * and attribute parsing with every length checked, the request, response
 * and Message-Authenticator authenticators, a bounded packet builder, and
 * the decoding of Access-Accept and CoA/Disconnect attributes. Pure: no
 * sockets, no clock (time is a parameter). RFC 2865, 2866, 3579, 5176. */
#ifndef WK_RADPKT_H
#define WK_RADPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define RADPKT_HDR 20
#define RADPKT_MAX 4096      /* RFC 2865 §3: maximum packet length */
#define RADPKT_AUTH_LEN 16
#define RADPKT_MAX_ATTRS 128 /* more attributes than this: refused */
#define RADPKT_SECRET_MAX 128
#define RADPKT_PASS_MAX 128  /* RFC 2865 §5.2: User-Password up to 128 */
#define RADPKT_STR_MAX 253   /* longest attribute value */
#define RADPKT_SID_MAX 64    /* longest Acct-Session-Id we accept */

/* Packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3). */
enum radpkt_code {
	RAD_ACCESS_REQUEST = 1,
	RAD_ACCESS_ACCEPT = 2,
	RAD_ACCESS_REJECT = 3,
	RAD_ACCT_REQUEST = 4,
	RAD_ACCT_RESPONSE = 5,
	RAD_ACCESS_CHALLENGE = 11,
	RAD_DISCONNECT_REQUEST = 40,
	RAD_DISCONNECT_ACK = 41,
	RAD_DISCONNECT_NAK = 42,
	RAD_COA_REQUEST = 43,
	RAD_COA_ACK = 44,
	RAD_COA_NAK = 45,
};

/* Attribute types used here. */
enum radpkt_attr_type {
	RAD_USER_NAME = 1,
	RAD_USER_PASSWORD = 2,
	RAD_NAS_IP_ADDRESS = 4,
	RAD_NAS_PORT = 5,
	RAD_SERVICE_TYPE = 6,
	RAD_FRAMED_IP_ADDRESS = 8,
	RAD_FILTER_ID = 11,
	RAD_REPLY_MESSAGE = 18,
	RAD_STATE = 24,
	RAD_CLASS = 25,
	RAD_VENDOR_SPECIFIC = 26,
	RAD_SESSION_TIMEOUT = 27,
	RAD_IDLE_TIMEOUT = 28,
	RAD_TERMINATION_ACTION = 29,
	RAD_CALLED_STATION_ID = 30,
	RAD_CALLING_STATION_ID = 31,
	RAD_NAS_IDENTIFIER = 32,
	RAD_PROXY_STATE = 33,
	RAD_ACCT_STATUS_TYPE = 40,
	RAD_ACCT_DELAY_TIME = 41,
	RAD_ACCT_INPUT_OCTETS = 42,
	RAD_ACCT_OUTPUT_OCTETS = 43,
	RAD_ACCT_SESSION_ID = 44,
	RAD_ACCT_AUTHENTIC = 45,
	RAD_ACCT_SESSION_TIME = 46,
	RAD_ACCT_INPUT_PACKETS = 47,
	RAD_ACCT_OUTPUT_PACKETS = 48,
	RAD_ACCT_TERMINATE_CAUSE = 49,
	RAD_ACCT_INPUT_GIGAWORDS = 52,
	RAD_ACCT_OUTPUT_GIGAWORDS = 53,
	RAD_EVENT_TIMESTAMP = 55,
	RAD_NAS_PORT_TYPE = 61,
	RAD_MESSAGE_AUTHENTICATOR = 80,
	RAD_ACCT_INTERIM_INTERVAL = 85,
	RAD_NAS_IPV6_ADDRESS = 95,
	RAD_ERROR_CAUSE = 101,
};

/* Vendor-Specific attributes honoured (docs/radius.md). */
#define RAD_VENDOR_CHILLISPOT 14559
#define RAD_CHILLI_MAX_TOTAL_OCTETS 3     /* FreeRADIUS dictionary.chillispot */
#define RAD_CHILLI_MAX_TOTAL_GIGAWORDS 23 /* CoovaChilli's dictionary */
#define RAD_VENDOR_WISPR 14122
#define RAD_WISPR_SESSION_TERMINATE_TIME 9

/* Values. */
#define RAD_NAS_PORT_TYPE_WIRELESS 19     /* Wireless - IEEE 802.11 */
#define RAD_SERVICE_LOGIN 1
#define RAD_SERVICE_CALL_CHECK 10         /* RFC 2865 §5.6: MAC checks */
#define RAD_SERVICE_AUTHORIZE_ONLY 17     /* RFC 5176 §3.2 */
enum radpkt_acct_status {
	RAD_ACCT_START = 1,
	RAD_ACCT_STOP = 2,
	RAD_ACCT_INTERIM = 3,
	RAD_ACCT_ON = 7,
	RAD_ACCT_OFF = 8,
};
/* Acct-Terminate-Cause (RFC 2866 §5.10). */
enum radpkt_term_cause {
	RAD_TERM_USER_REQUEST = 1,
	RAD_TERM_LOST_CARRIER = 2,
	RAD_TERM_IDLE_TIMEOUT = 4,
	RAD_TERM_SESSION_TIMEOUT = 5,
	RAD_TERM_ADMIN_RESET = 6,
	RAD_TERM_ADMIN_REBOOT = 7,
	RAD_TERM_NAS_REQUEST = 10,
	RAD_TERM_NAS_REBOOT = 11,
};
/* Error-Cause (RFC 5176 §3.6). */
enum radpkt_error_cause {
	RAD_ERR_RESIDUAL_REMOVED = 201,
	RAD_ERR_UNSUPPORTED_ATTRIBUTE = 401,
	RAD_ERR_MISSING_ATTRIBUTE = 402,
	RAD_ERR_NAS_ID_MISMATCH = 403,
	RAD_ERR_INVALID_REQUEST = 404,
	RAD_ERR_UNSUPPORTED_SERVICE = 405,
	RAD_ERR_INVALID_ATTRIBUTE_VALUE = 407,
	RAD_ERR_ADMIN_PROHIBITED = 501,
	RAD_ERR_SESSION_NOT_FOUND = 503,
	RAD_ERR_RESOURCES_UNAVAILABLE = 506,
};

/* One attribute of a parsed packet; for a Vendor-Specific attribute in
 * the RFC 2865 §5.26 layout, one entry per sub-attribute with vendor set. */
struct radpkt_attr {
	uint32_t vendor; /* 0: a standard attribute */
	uint8_t type;    /* attribute type, or the vendor's type */
	uint8_t len;     /* value length */
	uint16_t off;    /* offset of the value in the packet */
};

/* A parsed packet. The bytes stay the caller's; attrs point into them. */
struct radpkt {
	const uint8_t *buf;
	uint16_t len;  /* the Length field (bytes past it are padding) */
	uint8_t code, id;
	size_t nattrs;
	struct radpkt_attr attrs[RADPKT_MAX_ATTRS];
	int ma_off;    /* offset of the Message-Authenticator attribute, -1 */
};

/* Parse and bounds-check a packet. 0, or -1 with a reason. */
int radpkt_parse(const uint8_t *buf, size_t len, struct radpkt *p,
    const char **why);
/* The first attribute (vendor 0 for standard ones) or NULL. */
const struct radpkt_attr *radpkt_find(const struct radpkt *p, uint32_t vendor,
    uint8_t type);
/* A 4-byte integer attribute's value; -1 if the length is not 4. */
int radpkt_attr_u32(const struct radpkt *p, const struct radpkt_attr *a,
    uint32_t *out);

/* Authenticator checks; secret is the shared secret. Each returns 0 when
 * the packet is authentic. */
/* Accounting, CoA and Disconnect requests (RFC 2866 §3, RFC 5176 §3.5),
 * and the Message-Authenticator if present (or required). */
int radpkt_verify_request(const struct radpkt *p, const uint8_t *secret,
    size_t slen, bool require_ma);
/* A response to a request whose authenticator was req_auth (RFC 2865 §3),
 * and its Message-Authenticator if present (RFC 3579 §3.2); with
 * require_ma an Access-Accept/Reject/Challenge must have one. */
int radpkt_verify_response(const struct radpkt *p,
    const uint8_t req_auth[RADPKT_AUTH_LEN], const uint8_t *secret,
    size_t slen, bool require_ma);

/* A packet being built. */
struct radpkt_builder {
	uint8_t buf[RADPKT_MAX];
	size_t len;
	int ma_off;     /* Message-Authenticator placeholder, -1 */
	bool overflow;  /* an attribute did not fit: finish fails */
};

/* Start a packet; auth is the Request Authenticator of an Access-Request
 * (random, from the caller) and ignored otherwise. */
void radpkt_begin(struct radpkt_builder *b, uint8_t code, uint8_t id,
    const uint8_t auth[RADPKT_AUTH_LEN]);
void radpkt_put(struct radpkt_builder *b, uint8_t type, const void *val,
    size_t len);
void radpkt_put_str(struct radpkt_builder *b, uint8_t type, const char *s);
void radpkt_put_u32(struct radpkt_builder *b, uint8_t type, uint32_t v);
void radpkt_put_vsa_u32(struct radpkt_builder *b, uint32_t vendor,
    uint8_t vtype, uint32_t v);
/* The Message-Authenticator placeholder, computed by radpkt_finish. */
void radpkt_put_ma(struct radpkt_builder *b);
/* User-Password hidden with the secret and the request authenticator
 * (RFC 2865 §5.2); a password longer than RADPKT_PASS_MAX overflows. */
void radpkt_put_password(struct radpkt_builder *b, const char *pw,
    size_t pwlen, const uint8_t *secret, size_t slen);
/* Set the length and compute the authenticators: the Message-
 * Authenticator, then the Request Authenticator of an accounting, CoA or
 * Disconnect request, or the Response Authenticator of a response to a
 * request with authenticator req_auth. The packet length, or -1. */
int radpkt_finish(struct radpkt_builder *b, const uint8_t *secret,
    size_t slen, const uint8_t req_auth[RADPKT_AUTH_LEN]);

/* What an Access-Accept grants (docs/radius.md). Absent values are 0. */
struct radpkt_accept {
	uint32_t session_timeout; /* Session-Timeout, seconds */
	uint32_t idle_timeout;    /* Idle-Timeout, seconds */
	uint32_t interim;         /* Acct-Interim-Interval, seconds */
	uint64_t volume;          /* ChilliSpot-Max-Total-Octets (+Gigawords) */
	uint8_t class_len;        /* Class, echoed in accounting */
	uint8_t class_[RADPKT_STR_MAX];
	char reply_message[RADPKT_STR_MAX + 1]; /* printable ASCII only */
};
/* Decode the attributes of an Access-Accept (or the Reply-Message of an
 * Access-Reject). 0, or -1 with a reason when a known attribute is malformed. */
int radpkt_accept_decode(const struct radpkt *p, struct radpkt_accept *out,
    const char **why);

/* A CoA-Request or Disconnect-Request, decoded (RFC 5176 §3). */
struct radpkt_coa {
	bool disconnect;
	bool has_sid, has_mac, has_user, has_nas_id;
	char sid[RADPKT_SID_MAX + 1];     /* Acct-Session-Id */
	struct wk_mac mac;                /* Calling-Station-Id */
	char user[RADPKT_STR_MAX + 1];    /* User-Name */
	char nas_id[RADPKT_STR_MAX + 1];  /* NAS-Identifier */
	bool has_event_ts;
	uint32_t event_ts;                /* Event-Timestamp */
	bool has_session_timeout, has_idle_timeout, has_volume;
	uint32_t session_timeout, idle_timeout;
	uint64_t volume;
	uint8_t state_len;                /* State, echoed in the answer */
	uint8_t state[RADPKT_STR_MAX];
};
/* Decode a CoA or Disconnect request's identification and changes.
 * 0, or an Error-Cause (enum radpkt_error_cause) to NAK with. */
int radpkt_coa_decode(const struct radpkt *p, struct radpkt_coa *out);
/* RFC 5176 §3.5 replay window: 0 when ts is within window of now. */
int radpkt_ts_check(uint32_t ts, uint64_t now, uint32_t window);

/* Parse a MAC as RADIUS servers write it: AA-BB-CC-DD-EE-FF,
 * aa:bb:cc:dd:ee:ff or aabbccddeeff (either case). 0 or -1. */
int radpkt_mac_parse(const char *s, size_t len, struct wk_mac *out);
/* Format a MAC as Calling-Station-Id and MAC-auth User-Name
 * (RFC 3580 §3.21: AA-BB-CC-DD-EE-FF). */
void radpkt_mac_format(const struct wk_mac *m, char out[WK_MAC_STRLEN]);

#endif
