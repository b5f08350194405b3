/* radius: the NAS. One connected non-blocking UDP socket per configured
 * server, requests tracked by Identifier with their own retransmission
 * timers (primary first, then the fallbacks), so nothing ever waits on
 * the network; the accounting queue is journalled in the state file and
 * sent strictly one record at a time, head first, until acknowledged; the
 * CoA listener revokes and changes sessions through grant.c. A server
 * given by name is looked up with evdns on the loop (never getaddrinfo(3)),
 * and skipped while it has no address. */
#include "radius.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/crypto.h>

#include "audit.h"
#include "clock.h"
#include "garden.h"
#include "gate.h"
#include "grant.h"
#include "limiter.h"
#include "log.h"
#include "radpkt.h"
#include "registry.h"
#include "store.h"
#include "token.h"

#define RADIUS_PENDING_MAX 512   /* Access-Requests in flight, all servers */
#define RADIUS_MAC_CACHE 4096    /* direct-mapped MAC-auth answer cache */
#define RADIUS_MAC_RATE 20       /* new MAC-auth requests per second */
#define RADIUS_MAC_SRC_RATE 2    /* ... of them per client address */
#define RADIUS_MAC_SRC_BURST 4
#define RADIUS_LOGINS 256        /* login attempts remembered */
#define RADIUS_LOGIN_KEEP_MS 120000
#define RADIUS_BUCKETS 4096      /* accounting sessions hash */
#define RADIUS_QUEUE_MAX 100000  /* queued accounting records */
#define RADIUS_COA_CACHE 16      /* answers kept for retransmitted CoAs */
#define RADIUS_TICK_MS 1000
#define RADIUS_RESOLVE_MIN_MS 30000 /* a name is looked up at most this often */

/* What a request is for. */
enum rreq_kind { RREQ_MACAUTH, RREQ_LOGIN, RREQ_ACCT };

struct rserver;

/* One request in flight. The packet is rebuilt for every server (the
 * Identifier and so the Message-Authenticator change). */
struct rreq {
	enum rreq_kind kind;
	struct radius *r;
	int server;          /* index into the auth or acct servers */
	unsigned tries;      /* sends to the current server */
	int id;              /* Identifier on the current server, -1 none */
	struct event *timer;
	uint8_t auth[RADPKT_AUTH_LEN]; /* Request Authenticator sent */
	uint8_t pkt[RADPKT_MAX];
	size_t len;
	struct wk_mac mac;
	struct wk_ip ip;
	char user[RADIUS_USER_MAX + 1];
	char pw[RADPKT_PASS_MAX + 1];
	char sid[RADPKT_SID_MAX + 1];
	int login;           /* login slot, -1 */
};

/* One RADIUS server. A named one has fd -1 until its name resolved. */
struct rserver {
	struct radius *r;
	union wk_sockaddr sa;
	int fd;
	struct event *ev;
	struct wk_ip nas_ip;     /* our source address towards it */
	struct rreq *inflight[256];
	unsigned next_id;
	char name[CONF_HOSTNAME]; /* "" for an address literal */
	uint16_t port;
	struct evdns_getaddrinfo_request *dns; /* lookup in flight */
	uint64_t dns_at_ms;      /* mono: the last lookup wicketd chose, 0 none */
};

/* A cached MAC-auth answer (or a request in flight). */
struct maccache {
	struct wk_mac mac;
	bool used;
	uint64_t until_ms;
};

/* A login attempt from the splash form. */
struct rlogin {
	bool used;
	char id[RADIUS_LOGIN_ID_LEN + 1];
	struct wk_mac mac;
	enum radius_login_state state;
	uint64_t created_ms;
	char url[TOKEN_URL_MAX + 1];
	char msg[RADPKT_STR_MAX + 1];
};

/* The accounting view of one admitted session. */
struct rsess {
	struct rsess *next;
	struct wk_mac mac;
	char sid[RADPKT_SID_MAX + 1];
	char user[RADPKT_STR_MAX + 1];
	uint8_t class_len;
	uint8_t class_[RADPKT_STR_MAX];
	bool radius;             /* admitted by RADIUS (Acct-Authentic) */
	uint32_t interim;        /* seconds; 0: the configured period */
	uint64_t idle_limit, bytes_limit;
	uint64_t start;          /* wall seconds */
	uint64_t next_interim;
	uint64_t in_octets, out_octets, in_pkts, out_pkts;
	struct wk_ip ip;
};

/* One queued accounting record, everything the packet needs. */
struct acct {
	struct acct *next;
	uint64_t seq;
	uint32_t status;
	struct wk_mac mac;
	struct wk_ip ip;
	char sid[RADPKT_SID_MAX + 1];
	char user[RADPKT_STR_MAX + 1];
	uint8_t class_len;
	uint8_t class_[RADPKT_STR_MAX];
	bool radius;
	uint64_t in_octets, out_octets, in_pkts, out_pkts;
	uint64_t session_time;
	uint32_t cause;
	uint64_t event_ts;
};

/* A remembered CoA answer. */
struct coa_answer {
	union wk_sockaddr from;
	uint8_t id;
	uint8_t auth[RADPKT_AUTH_LEN];
	uint8_t pkt[RADPKT_MAX];
	size_t len;
	uint64_t at_ms;
};

/* Data admitted by an Access-Accept, handed to radius_on_admit. */
struct admit_info {
	bool set;
	struct wk_mac mac;
	char user[RADPKT_STR_MAX + 1];
	char sid[RADPKT_SID_MAX + 1];
	struct radpkt_accept acc;
};

struct radius {
	struct gate *g;
	uint8_t secret[RADPKT_SECRET_MAX];
	size_t slen;
	struct rserver auth[CONF_MAX_RADIUS], acct[CONF_MAX_RADIUS];
	size_t nauth, nacct;
	unsigned pending;
	struct maccache cache[RADIUS_MAC_CACHE];
	uint64_t rate_sec;
	unsigned rate_n;
	struct limiter *mac_src; /* first-sight MAC-auth budget per address */
	struct rlogin logins[RADIUS_LOGINS];
	struct rsess *buckets[RADIUS_BUCKETS];
	size_t nsess;
	struct acct *qhead, *qtail;
	size_t qlen;
	uint64_t next_seq;
	struct rreq *acct_req;   /* the head record in flight */
	uint64_t acct_retry_at;  /* mono ms: resend the head after a failure */
	int coa_fd[2];
	struct event *coa_ev[2];
	struct coa_answer coa_cache[RADIUS_COA_CACHE];
	unsigned coa_next;
	struct event *tick;
	struct store *st;        /* the state file, once grant_start opened it */
	struct store_ext ext;
	struct evdns_base *dns;  /* the gate's resolver (garden.c's) */
	bool dns_stopped;        /* stopping: no new lookups */
	struct admit_info admit;
	uint64_t hash_seed;
	char called[128];        /* Called-Station-Id */
	uint32_t sid_counter;
};

/* Hash a MAC into the sessions table. */
static size_t
radius_bucket(const struct radius *r, const struct wk_mac *mac)
{
	uint64_t x = r->hash_seed;

	for (int i = 0; i < 6; i++)
		x = (x ^ mac->b[i]) * 0x100000001b3ULL;
	return (size_t)(x ^ (x >> 29)) % RADIUS_BUCKETS;
}

/* The accounting session of mac, or NULL. */
static struct rsess *
radius_sess_find(struct radius *r, const struct wk_mac *mac)
{
	for (struct rsess *s = r->buckets[radius_bucket(r, mac)]; s; s = s->next)
		if (addr_mac_equal(&s->mac, mac))
			return s;
	return NULL;
}

/* Remove and free mac's accounting session. */
static void
radius_sess_drop(struct radius *r, const struct wk_mac *mac)
{
	struct rsess **pp = &r->buckets[radius_bucket(r, mac)];

	for (; *pp; pp = &(*pp)->next)
		if (addr_mac_equal(&(*pp)->mac, mac)) {
			struct rsess *s = *pp;
			*pp = s->next;
			free(s);
			r->nsess--;
			return;
		}
}

/* mac's accounting session, created if missing; NULL on no memory. */
static struct rsess *
radius_sess_get(struct radius *r, const struct wk_mac *mac)
{
	struct rsess *s = radius_sess_find(r, mac);
	size_t b;

	if (s != NULL)
		return s;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->mac = *mac;
	b = radius_bucket(r, mac);
	s->next = r->buckets[b];
	r->buckets[b] = s;
	r->nsess++;
	return s;
}

/* Hex-encode len bytes ("-" for none) into out (2*len+2). */
static void
radius_hex(const uint8_t *p, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";

	if (len == 0) {
		strcpy(out, "-");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Decode radius_hex output; the length, or -1. */
static int
radius_unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s);

	if (strcmp(s, "-") == 0)
		return 0;
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = addr_hexval((unsigned char)s[2 * i]);
		int lo = addr_hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

/* Split a payload on commas in place; the field count or -1. */
static int
radius_fields(char *p, char **f, int max)
{
	int n = 0;

	for (;;) {
		if (n == max)
			return -1;
		f[n++] = p;
		p = strchr(p, ',');
		if (p == NULL)
			return n;
		*p++ = '\0';
	}
}

/* Parse a decimal field. */
static int
radius_u64(const char *s, uint64_t *out)
{
	return token_u64_parse(s, out);
}

/* The identifying fields of a record or session in state-file form. */
struct radius_ids {
	char m[13], ip[WK_IP_STRLEN], user[2 * RADPKT_STR_MAX + 2];
	char cls[2 * RADPKT_STR_MAX + 2];
};

/* Fill the state-file form of MAC, address, User-Name and Class. */
static void
radius_ids_format(struct radius_ids *d, const struct wk_mac *mac,
    const struct wk_ip *ip, const char *user, const uint8_t *cls, size_t clen)
{
	radius_hex(mac->b, 6, d->m);
	strcpy(d->ip, "-");
	if (ip->family != 0)
		addr_ip_format(ip, d->ip);
	radius_hex((const uint8_t *)user, strlen(user), d->user);
	radius_hex(cls, clen, d->cls);
}

/* Encode an accounting record as a state-file payload. */
static int
radius_acct_encode(const struct acct *a, char *out, size_t size)
{
	struct radius_ids d;
	int n;

	radius_ids_format(&d, &a->mac, &a->ip, a->user, a->class_, a->class_len);
	n = snprintf(out, size, "Q,%llu,%u,%s,%s,%s,%s,%s,%d,%llu,%llu,%llu,%llu,%llu,%u,%llu",
	    (unsigned long long)a->seq, a->status, d.m, d.ip, a->sid[0] ? a->sid : "-",
	    d.user, d.cls, a->radius ? 1 : 0, (unsigned long long)a->in_octets,
	    (unsigned long long)a->out_octets, (unsigned long long)a->in_pkts,
	    (unsigned long long)a->out_pkts, (unsigned long long)a->session_time,
	    a->cause, (unsigned long long)a->event_ts);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Decode a "Q" payload's fields (after the tag). */
static int
radius_acct_decode(char **f, int n, struct acct *a)
{
	uint64_t v[12];
	uint8_t mb[6];
	int k;

	memset(a, 0, sizeof(*a));
	if (n != 16 || radius_unhex(f[3], mb, 6) != 6)
		return -1;
	memcpy(a->mac.b, mb, 6);
	if (strcmp(f[4], "-") != 0 && addr_ip_parse(f[4], &a->ip) < 0)
		return -1;
	if (strcmp(f[5], "-") != 0) {
		if (strlen(f[5]) > RADPKT_SID_MAX)
			return -1;
		strcpy(a->sid, f[5]);
	}
	if ((k = radius_unhex(f[6], (uint8_t *)a->user, RADPKT_STR_MAX)) < 0)
		return -1;
	a->user[k] = '\0';
	if ((k = radius_unhex(f[7], a->class_, RADPKT_STR_MAX)) < 0)
		return -1;
	a->class_len = (uint8_t)k;
	if (radius_u64(f[1], &v[0]) < 0 || radius_u64(f[2], &v[1]) < 0 ||
	    radius_u64(f[8], &v[2]) < 0 || radius_u64(f[9], &v[3]) < 0 ||
	    radius_u64(f[10], &v[4]) < 0 || radius_u64(f[11], &v[5]) < 0 ||
	    radius_u64(f[12], &v[6]) < 0 || radius_u64(f[13], &v[7]) < 0 ||
	    radius_u64(f[14], &v[8]) < 0 || radius_u64(f[15], &v[9]) < 0)
		return -1;
	a->seq = v[0];
	a->status = (uint32_t)v[1];
	a->radius = v[2] != 0;
	a->in_octets = v[3];
	a->out_octets = v[4];
	a->in_pkts = v[5];
	a->out_pkts = v[6];
	a->session_time = v[7];
	a->cause = (uint32_t)v[8];
	a->event_ts = v[9];
	return 0;
}

/* Encode an accounting session as a state-file payload. */
static int
radius_sess_encode(const struct rsess *s, char *out, size_t size)
{
	struct radius_ids d;
	int n;

	radius_ids_format(&d, &s->mac, &s->ip, s->user, s->class_, s->class_len);
	n = snprintf(out, size, "S,%s,%s,%s,%s,%d,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%s",
	    d.m, s->sid, d.user, d.cls, s->radius ? 1 : 0, s->interim,
	    (unsigned long long)s->idle_limit, (unsigned long long)s->bytes_limit,
	    (unsigned long long)s->start, (unsigned long long)s->in_octets,
	    (unsigned long long)s->out_octets, (unsigned long long)s->in_pkts,
	    (unsigned long long)s->out_pkts, d.ip);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Decode an "S" payload's fields into the sessions table. */
static int
radius_sess_decode(struct radius *r, char **f, int n)
{
	uint8_t mb[6];
	uint64_t v[10];
	struct wk_mac mac;
	struct rsess *s;
	int k;

	if (n != 15 || radius_unhex(f[1], mb, 6) != 6 || strlen(f[2]) > RADPKT_SID_MAX)
		return -1;
	for (int i = 0; i < 9; i++)
		if (radius_u64(f[5 + i], &v[i]) < 0)
			return -1;
	memcpy(mac.b, mb, 6);
	if ((s = radius_sess_get(r, &mac)) == NULL)
		return -1;
	strcpy(s->sid, f[2]);
	if ((k = radius_unhex(f[3], (uint8_t *)s->user, RADPKT_STR_MAX)) < 0)
		goto fail;
	s->user[k] = '\0';
	if ((k = radius_unhex(f[4], s->class_, RADPKT_STR_MAX)) < 0)
		goto fail;
	s->class_len = (uint8_t)k;
	s->radius = v[0] != 0;
	s->interim = (uint32_t)v[1];
	s->idle_limit = v[2];
	s->bytes_limit = v[3];
	s->start = v[4];
	s->in_octets = v[5];
	s->out_octets = v[6];
	s->in_pkts = v[7];
	s->out_pkts = v[8];
	if (strcmp(f[14], "-") != 0 && addr_ip_parse(f[14], &s->ip) < 0)
		memset(&s->ip, 0, sizeof(s->ip));
	return 0;
fail:
	radius_sess_drop(r, &mac);
	return -1;
}

/* Journal an accounting session's current state. */
static void
radius_sess_save(struct radius *r, const struct rsess *s, bool sync)
{
	char buf[STORE_EXT_MAX + 1];

	if (r->st == NULL || radius_sess_encode(s, buf, sizeof(buf)) < 0 ||
	    store_append_ext(r->st, buf, sync) < 0)
		log_warn("state file: cannot record a RADIUS session");
}

/* store_ext.load: rebuild the queue and sessions in file order. */
static void
radius_ext_load(const char *payload, void *arg)
{
	struct radius *r = arg;
	char buf[STORE_EXT_MAX + 1], *f[20];
	int n;

	snprintf(buf, sizeof(buf), "%s", payload);
	if ((n = radius_fields(buf, f, 20)) < 1)
		return;
	if (strcmp(f[0], "Q") == 0) {
		struct acct *a = malloc(sizeof(*a));
		if (a == NULL || radius_acct_decode(f, n, a) < 0) {
			free(a);
			log_warn("state file: bad accounting record skipped");
			return;
		}
		a->next = NULL;
		if (r->qtail)
			r->qtail->next = a;
		else
			r->qhead = a;
		r->qtail = a;
		r->qlen++;
		if (a->seq >= r->next_seq)
			r->next_seq = a->seq + 1;
	} else if (strcmp(f[0], "D") == 0 && n == 2) {
		uint64_t seq;
		struct acct **pp = &r->qhead, *prev = NULL;
		if (radius_u64(f[1], &seq) < 0)
			return;
		for (; *pp; prev = *pp, pp = &(*pp)->next)
			if ((*pp)->seq == seq) {
				struct acct *a = *pp;
				*pp = a->next;
				if (r->qtail == a)
					r->qtail = prev;
				free(a);
				r->qlen--;
				break;
			}
	} else if (strcmp(f[0], "S") == 0) {
		if (radius_sess_decode(r, f, n) < 0)
			log_warn("state file: bad RADIUS session record skipped");
	} else if (strcmp(f[0], "E") == 0 && n == 2) {
		uint8_t mb[6];
		struct wk_mac mac;
		if (radius_unhex(f[1], mb, 6) == 6) {
			memcpy(mac.b, mb, 6);
			radius_sess_drop(r, &mac);
		}
	}
}

/* store_ext.dump: the live sessions and the queue, in order. */
static void
radius_ext_dump(struct store *st, void *arg)
{
	struct radius *r = arg;
	char buf[STORE_EXT_MAX + 1];

	for (size_t b = 0; b < RADIUS_BUCKETS; b++)
		for (struct rsess *s = r->buckets[b]; s; s = s->next)
			if (radius_sess_encode(s, buf, sizeof(buf)) == 0)
				(void)store_ext_put(st, buf);
	for (struct acct *a = r->qhead; a; a = a->next)
		if (radius_acct_encode(a, buf, sizeof(buf)) == 0)
			(void)store_ext_put(st, buf);
}

/* Write a radius audit event. */
static void
radius_audit(const char *event, const struct wk_mac *mac, const char *key,
    const char *val, const char *key2, uint64_t val2)
{
	char line[AUDIT_LINE_MAX], m[WK_MAC_STRLEN];
	struct jsonw j;

	audit_begin(&j, line, sizeof(line), clock_wall_ms(), event);
	if (mac != NULL) {
		addr_mac_format(mac, m);
		jsonw_str(&j, "mac", m);
	}
	if (key != NULL)
		jsonw_str(&j, key, val);
	if (key2 != NULL)
		jsonw_uint(&j, key2, val2);
	audit_emit(&j);
}

/* The NAS-Identifier: nas_identifier, or gateway_id. */
static const char *
radius_nas_id(const struct radius *r)
{
	const struct wk_conf *c = r->g->conf;

	return c->nas_identifier[0] ? c->nas_identifier : c->gateway_id;
}

/* A fresh Acct-Session-Id: 8 hex digits of start time, 8 of a counter
 * seeded at random, unique across restarts and gateways. */
static void
radius_new_sid(struct radius *r, char out[RADPKT_SID_MAX + 1])
{
	snprintf(out, RADPKT_SID_MAX + 1, "%08X%08X", (unsigned)clock_wall_s(),
	    (unsigned)r->sid_counter++);
}

/* The attributes that name the NAS and the client (RFC 2865 §5, RFC 2869
 * §5.9), common to Access- and Accounting-Requests. */
static void
radius_put_nas(struct radius *r, struct radpkt_builder *b,
    const struct rserver *sv, const struct wk_mac *mac, const struct wk_ip *ip)
{
	char m[WK_MAC_STRLEN];

	radpkt_put_str(b, RAD_NAS_IDENTIFIER, radius_nas_id(r));
	if (sv->nas_ip.family == AF_INET)
		radpkt_put(b, RAD_NAS_IP_ADDRESS, &sv->nas_ip.u.v4, 4);
	else if (sv->nas_ip.family == AF_INET6)
		radpkt_put(b, RAD_NAS_IPV6_ADDRESS, &sv->nas_ip.u.v6, 16);
	radpkt_put_u32(b, RAD_NAS_PORT_TYPE, RAD_NAS_PORT_TYPE_WIRELESS);
	radpkt_put_str(b, RAD_CALLED_STATION_ID, r->called);
	radpkt_mac_format(mac, m);
	radpkt_put_str(b, RAD_CALLING_STATION_ID, m);
	if (ip != NULL && ip->family == AF_INET)
		radpkt_put(b, RAD_FRAMED_IP_ADDRESS, &ip->u.v4, 4);
}

/* Build q's packet for the server it is on, with Identifier id. */
static int
radius_build(struct radius *r, struct rreq *q, uint8_t id)
{
	struct radpkt_builder *b = malloc(sizeof(*b));
	const struct rserver *sv;
	int n = -1;

	if (b == NULL)
		return -1;
	if (q->kind == RREQ_ACCT) {
		const struct acct *a = r->qhead;
		uint64_t now = clock_wall_s();
		sv = &r->acct[q->server];
		radpkt_begin(b, RAD_ACCT_REQUEST, id, NULL);
		radpkt_put_u32(b, RAD_ACCT_STATUS_TYPE, a->status);
		radpkt_put_str(b, RAD_NAS_IDENTIFIER, radius_nas_id(r));
		if (sv->nas_ip.family == AF_INET)
			radpkt_put(b, RAD_NAS_IP_ADDRESS, &sv->nas_ip.u.v4, 4);
		else if (sv->nas_ip.family == AF_INET6)
			radpkt_put(b, RAD_NAS_IPV6_ADDRESS, &sv->nas_ip.u.v6, 16);
		if (a->status != RAD_ACCT_ON && a->status != RAD_ACCT_OFF) {
			char m[WK_MAC_STRLEN];
			radpkt_put_str(b, RAD_ACCT_SESSION_ID, a->sid);
			if (a->user[0])
				radpkt_put_str(b, RAD_USER_NAME, a->user);
			radpkt_put_u32(b, RAD_NAS_PORT_TYPE, RAD_NAS_PORT_TYPE_WIRELESS);
			radpkt_put_str(b, RAD_CALLED_STATION_ID, r->called);
			radpkt_mac_format(&a->mac, m);
			radpkt_put_str(b, RAD_CALLING_STATION_ID, m);
			if (a->ip.family == AF_INET)
				radpkt_put(b, RAD_FRAMED_IP_ADDRESS, &a->ip.u.v4, 4);
			if (a->class_len)
				radpkt_put(b, RAD_CLASS, a->class_, a->class_len);
			radpkt_put_u32(b, RAD_ACCT_AUTHENTIC, a->radius ? 1 : 2);
		} else {
			char sid[32];
			snprintf(sid, sizeof(sid), "%016llX", (unsigned long long)a->seq);
			radpkt_put_str(b, RAD_ACCT_SESSION_ID, sid);
		}
		if (a->status == RAD_ACCT_INTERIM || a->status == RAD_ACCT_STOP) {
			/* RFC 2866 §5.3-5.4, RFC 2869 §5.1-5.2: octets in
			 * 32-bit words plus Gigawords. */
			radpkt_put_u32(b, RAD_ACCT_INPUT_OCTETS, (uint32_t)a->in_octets);
			radpkt_put_u32(b, RAD_ACCT_OUTPUT_OCTETS, (uint32_t)a->out_octets);
			radpkt_put_u32(b, RAD_ACCT_INPUT_GIGAWORDS, (uint32_t)(a->in_octets >> 32));
			radpkt_put_u32(b, RAD_ACCT_OUTPUT_GIGAWORDS, (uint32_t)(a->out_octets >> 32));
			radpkt_put_u32(b, RAD_ACCT_INPUT_PACKETS, (uint32_t)a->in_pkts);
			radpkt_put_u32(b, RAD_ACCT_OUTPUT_PACKETS, (uint32_t)a->out_pkts);
			radpkt_put_u32(b, RAD_ACCT_SESSION_TIME, (uint32_t)a->session_time);
		}
		if (a->status == RAD_ACCT_STOP)
			radpkt_put_u32(b, RAD_ACCT_TERMINATE_CAUSE, a->cause);
		radpkt_put_u32(b, RAD_EVENT_TIMESTAMP, (uint32_t)a->event_ts);
		/* RFC 2866 §5.2: how long the record waited to be sent. */
		radpkt_put_u32(b, RAD_ACCT_DELAY_TIME,
		    now > a->event_ts ? (uint32_t)(now - a->event_ts) : 0);
	} else {
		char m[WK_MAC_STRLEN];
		sv = &r->auth[q->server];
		if (getrandom(q->auth, RADPKT_AUTH_LEN, 0) != RADPKT_AUTH_LEN)
			goto out;
		radpkt_begin(b, RAD_ACCESS_REQUEST, id, q->auth);
		/* RFC 3579 §3.2 and the BLAST-RADIUS advice: every
		 * Access-Request carries a Message-Authenticator, first. */
		radpkt_put_ma(b);
		if (q->kind == RREQ_MACAUTH) {
			/* MAC authentication: User-Name and User-Password are
			 * the MAC as AA-BB-CC-DD-EE-FF (docs/radius.md). */
			radpkt_mac_format(&q->mac, m);
			radpkt_put_str(b, RAD_USER_NAME, m);
			radpkt_put_password(b, m, strlen(m), r->secret, r->slen);
			radpkt_put_u32(b, RAD_SERVICE_TYPE, RAD_SERVICE_CALL_CHECK);
		} else {
			radpkt_put_str(b, RAD_USER_NAME, q->user);
			radpkt_put_password(b, q->pw, strlen(q->pw), r->secret, r->slen);
			radpkt_put_u32(b, RAD_SERVICE_TYPE, RAD_SERVICE_LOGIN);
		}
		radius_put_nas(r, b, sv, &q->mac, &q->ip);
		radpkt_put_str(b, RAD_ACCT_SESSION_ID, q->sid);
	}
	n = radpkt_finish(b, r->secret, r->slen, NULL);
	if (n > 0) {
		memcpy(q->pkt, b->buf, (size_t)n);
		q->len = (size_t)n;
		if (q->kind == RREQ_ACCT)
			memcpy(q->auth, b->buf + 4, RADPKT_AUTH_LEN);
	}
out:
	OPENSSL_cleanse(b, sizeof(*b));
	free(b);
	return n > 0 ? 0 : -1;
}

/* The server list q uses. */
static struct rserver *
radius_servers(struct radius *r, const struct rreq *q, size_t *n)
{
	if (q->kind == RREQ_ACCT) {
		*n = r->nacct;
		return r->acct;
	}
	*n = r->nauth;
	return r->auth;
}

static void radius_done(struct radius *r, struct rreq *q, const struct radpkt *p);

/* Release q's Identifier on its server. */
static void
radius_release_id(struct radius *r, struct rreq *q)
{
	size_t n;
	struct rserver *sv = radius_servers(r, q, &n);

	if (q->id >= 0 && sv[q->server].inflight[q->id] == q)
		sv[q->server].inflight[q->id] = NULL;
	q->id = -1;
}

/* Put q on server q->server with a free Identifier and send it. -1 when
 * the server has none free or the send failed hard; the Identifier is then
 * given back on that server, so that a caller moving q to the next server
 * leaves no pointer to q behind (a reply would find it after q is freed). */
static int
radius_send(struct radius *r, struct rreq *q)
{
	size_t n;
	struct rserver *sv = &radius_servers(r, q, &n)[q->server];
	struct timeval tv = { r->g->conf->radius_timeout, 0 };

	radius_release_id(r, q);
	if (sv->fd < 0)
		return -1; /* a name not resolved (yet): the next server */
	for (unsigned i = 0; i < 256; i++) {
		unsigned id = (sv->next_id + i) & 0xff;
		if (sv->inflight[id] == NULL) {
			sv->next_id = id + 1;
			q->id = (int)id;
			sv->inflight[id] = q;
			break;
		}
	}
	if (q->id < 0 || radius_build(r, q, (uint8_t)q->id) < 0)
		goto fail;
	/* A send error (no route, the server's port closed) counts as a
	 * try that timed out: the timer moves on to the next server. */
	if (send(sv->fd, q->pkt, q->len, MSG_DONTWAIT) < 0)
		log_debug("radius: send: %s", strerror(errno));
	q->tries = 1;
	if (event_add(q->timer, &tv) == 0)
		return 0;
fail:
	radius_release_id(r, q);
	return -1;
}

/* Free a request (its Identifier and timer). */
static void
radius_req_free(struct radius *r, struct rreq *q)
{
	radius_release_id(r, q);
	if (q->timer)
		event_free(q->timer);
	if (q->kind != RREQ_ACCT)
		r->pending--;
	OPENSSL_cleanse(q->pw, sizeof(q->pw));
	free(q);
}

static void radius_on_reply(evutil_socket_t fd, short what, void *arg);

/* Connect server sv to sa: a new connected UDP socket, our source address
 * towards it (the NAS-IP-Address) learnt without sending anything. The
 * old socket, if any, is replaced only once the new one works; requests
 * in flight keep their Identifiers and resend to the new address. */
static int
radius_server_connect(struct radius *r, struct rserver *sv, const union wk_sockaddr *sa)
{
	union wk_sockaddr me;
	socklen_t ml = sizeof(me);
	char s[WK_SA_STRLEN];
	struct event *ev = NULL;
	int fd;

	addr_sa_format(&sa->sa, s);
	fd = socket(sa->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, &sa->sa, addr_sa_len(&sa->sa)) < 0) {
		log_err("radius server %s%s%s: %s", sv->name, sv->name[0] ? " " : "", s,
		    strerror(errno));
		goto fail;
	}
	ev = event_new(r->g->base, fd, EV_READ | EV_PERSIST, radius_on_reply, sv);
	if (ev == NULL || event_add(ev, NULL) < 0)
		goto fail;
	if (sv->ev)
		event_free(sv->ev);
	if (sv->fd >= 0)
		close(sv->fd);
	sv->ev = ev;
	sv->fd = fd;
	sv->sa = *sa;
	memset(&sv->nas_ip, 0, sizeof(sv->nas_ip));
	if (getsockname(fd, &me.sa, &ml) == 0)
		addr_ip_from_sa(&me.sa, &sv->nas_ip);
	return 0;
fail:
	if (ev)
		event_free(ev);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* A lookup of sv's name finished: connect to the first address it gave
 * (unless it is the one in use). A failed lookup keeps the address the
 * server had, if any (a DNS hiccup does not take a working server away);
 * a name that never resolved stays skipped. */
static void
radius_on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	static struct log_rate rl = LOG_RATE(5, 60000);
	struct rserver *sv = arg;
	union wk_sockaddr sa;
	char s[WK_SA_STRLEN];

	sv->dns = NULL;
	if (result == EVUTIL_EAI_CANCEL)
		return;
	if (result != 0) {
		if (sv->fd >= 0) {
			addr_sa_format(&sv->sa.sa, s);
			log_warn_rated(&rl, "radius server %s does not resolve: %s "
			    "(keeping %s)", sv->name, evutil_gai_strerror(result), s);
		} else {
			log_warn_rated(&rl, "radius server %s does not resolve: %s "
			    "(skipped until it resolves; asked again every %d s)",
			    sv->name, evutil_gai_strerror(result),
			    RADIUS_RESOLVE_MIN_MS / 1000);
		}
		return;
	}
	memset(&sa, 0, sizeof(sa));
	for (struct evutil_addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(sa.sin)) {
			memcpy(&sa.sin, ai->ai_addr, sizeof(sa.sin));
			sa.sin.sin_port = htons(sv->port);
			break;
		}
		if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(sa.sin6)) {
			memcpy(&sa.sin6, ai->ai_addr, sizeof(sa.sin6));
			sa.sin6.sin6_port = htons(sv->port);
			break;
		}
	}
	evutil_freeaddrinfo(res);
	if (sa.sa.sa_family == 0) {
		log_warn_rated(&rl, "radius server %s: no IPv4 or IPv6 address", sv->name);
		return;
	}
	addr_sa_format(&sa.sa, s);
	if (sv->fd >= 0 && memcmp(&sa, &sv->sa, addr_sa_len(&sa.sa)) == 0) {
		log_debug("radius server %s: still %s", sv->name, s);
		return;
	}
	if (radius_server_connect(sv->r, sv, &sa) == 0)
		log_info("radius server %s is %s", sv->name, s);
}

/* Look sv's name up on the event loop (evdns: the callback may run before
 * this returns, from the hosts file). Nothing for an address literal or a
 * lookup already in flight. The lookups wicketd starts by itself (a server
 * that stopped answering, an unresolved name on the tick) come at most
 * every RADIUS_RESOLVE_MIN_MS per name, so a dead name cannot make it
 * flood its resolver; force (start-up, reload: the operator's) is not
 * counted, so the first of those may follow at once. */
static void
radius_resolve(struct radius *r, struct rserver *sv, bool force)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	uint64_t now = clock_mono_ms();

	if (sv->name[0] == '\0' || sv->dns != NULL || r->dns == NULL || r->dns_stopped)
		return;
	if (!force) {
		if (sv->dns_at_ms != 0 && now - sv->dns_at_ms < RADIUS_RESOLVE_MIN_MS)
			return;
		sv->dns_at_ms = now;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	req = evdns_getaddrinfo(r->dns, sv->name, NULL, &hints, radius_on_resolved, sv);
	sv->dns = req; /* NULL: answered (or failed) at once */
}

/* Every named server of both lists: look it up again (force), or, on the
 * tick, only those still without an address (rate-limited). */
static void
radius_resolve_all(struct radius *r, bool force)
{
	for (size_t i = 0; i < r->nauth; i++)
		if (force || r->auth[i].fd < 0)
			radius_resolve(r, &r->auth[i], force);
	for (size_t i = 0; i < r->nacct; i++)
		if (force || r->acct[i].fd < 0)
			radius_resolve(r, &r->acct[i], force);
}

/* Retransmission timer: resend the same packet (RFC 2865 §2.5: same
 * Identifier and authenticator) up to radius_retries times, then move to
 * the next server, then give up. */
static void
radius_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rreq *q = arg;
	struct radius *r = q->r;
	struct timeval tv = { r->g->conf->radius_timeout, 0 };
	size_t n;
	struct rserver *sv = radius_servers(r, q, &n);

	(void)fd;
	(void)what;
	if (q->tries <= r->g->conf->radius_retries) {
		q->tries++;
		if (send(sv[q->server].fd, q->pkt, q->len, MSG_DONTWAIT) < 0)
			log_debug("radius: send: %s", strerror(errno));
		if (event_add(q->timer, &tv) == 0)
			return;
	}
	/* The Identifier belongs to the server it was taken on. A named
	 * server that stopped answering may have moved: look its name up
	 * again (at most every RADIUS_RESOLVE_MIN_MS); this request goes on
	 * to the next server meanwhile. */
	radius_release_id(r, q);
	radius_resolve(r, &sv[q->server], false);
	while (++q->server < (int)n)
		if (radius_send(r, q) == 0)
			return;
	q->server = (int)n - 1;
	radius_done(r, q, NULL);
}

/* A new request of kind for mac; NULL when too many are in flight. */
static struct rreq *
radius_req_new(struct radius *r, enum rreq_kind kind, const struct wk_mac *mac)
{
	struct rreq *q;

	if (kind != RREQ_ACCT && r->pending >= RADIUS_PENDING_MAX)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->kind = kind;
	q->r = r;
	q->id = -1;
	q->login = -1;
	if (mac != NULL)
		q->mac = *mac;
	q->timer = evtimer_new(r->g->base, radius_on_timer, q);
	if (q->timer == NULL) {
		free(q);
		return NULL;
	}
	if (kind != RREQ_ACCT)
		r->pending++;
	return q;
}

/* Start q on the first server that takes it; on failure it is finished
 * as unanswered (radius_done with no reply) at once. */
static void
radius_launch(struct radius *r, struct rreq *q)
{
	size_t n;

	(void)radius_servers(r, q, &n);
	for (q->server = 0; q->server < (int)n; q->server++)
		if (radius_send(r, q) == 0)
			return;
	q->server = 0;
	radius_done(r, q, NULL);
}

/* The reply socket of a server is readable: match, verify, finish. */
static void
radius_on_reply(evutil_socket_t fd, short what, void *arg)
{
	static struct log_rate rl_ma = LOG_RATE(5, 10000), rl_bad = LOG_RATE(5, 10000);
	struct rserver *sv = arg;
	uint8_t buf[RADPKT_MAX + 1];
	struct radpkt p;
	const char *why;
	bool need_ma;
	ssize_t n;

	(void)what;
	for (int k = 0; k < 64; k++) {
		struct rreq *q;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return; /* EAGAIN, or an ICMP error: the timer handles it */
		if (radpkt_parse(buf, (size_t)n, &p, &why) < 0) {
			log_warn("radius: malformed reply dropped: %s", why);
			continue;
		}
		q = sv->inflight[p.id];
		if (q == NULL) {
			log_debug("radius: reply with unknown Identifier %u", p.id);
			continue;
		}
		/* BLAST-RADIUS (CVE-2024-3596): an Access reply must carry a
		 * Message-Authenticator unless the operator says otherwise. */
		need_ma = q->kind != RREQ_ACCT &&
		    q->r->g->conf->radius_require_message_authenticator;
		if (need_ma && p.ma_off < 0) {
			log_warn_rated(&rl_ma, "radius: reply without a "
			    "Message-Authenticator dropped (radius_require_"
			    "message_authenticator yes; make the server send one, "
			    "docs/radius.md)");
			continue;
		}
		if (radpkt_verify_response(&p, q->auth, q->r->secret, q->r->slen,
			need_ma) < 0) {
			/* RFC 2865 §3: silently discarded; the timer goes on. */
			log_warn_rated(&rl_bad, "radius: reply with a bad "
			    "authenticator dropped (wrong radius_secret_file?)");
			continue;
		}
		if ((q->kind == RREQ_ACCT && p.code != RAD_ACCT_RESPONSE) ||
		    (q->kind != RREQ_ACCT && p.code != RAD_ACCESS_ACCEPT &&
			p.code != RAD_ACCESS_REJECT && p.code != RAD_ACCESS_CHALLENGE)) {
			log_warn("radius: reply code %u does not answer the request", p.code);
			continue;
		}
		radius_done(q->r, q, &p);
	}
}

/* The MAC-auth cache slot of mac. */
static struct maccache *
radius_cache_slot(struct radius *r, const struct wk_mac *mac)
{
	return &r->cache[radius_bucket(r, mac) % RADIUS_MAC_CACHE];
}

/* Admit mac after an Access-Accept (or radius_fail open): the grant,
 * then the session's own limits (docs/radius.md). 0 or -1. */
static int
radius_admit(struct radius *r, const struct wk_mac *mac, const char *user,
    const char *sid, const struct radpkt_accept *acc)
{
	struct gate *g = r->g;
	char err[128];
	int rc;

	r->admit.set = true;
	r->admit.mac = *mac;
	snprintf(r->admit.user, sizeof(r->admit.user), "%s", user);
	snprintf(r->admit.sid, sizeof(r->admit.sid), "%s", sid);
	if (acc)
		r->admit.acc = *acc;
	else
		memset(&r->admit.acc, 0, sizeof(r->admit.acc));
	/* Idle-Timeout and the volume limit are in the grant's own record:
	 * the session is never in force without them. */
	rc = grant_admit_limited(g, mac, acc ? acc->session_timeout : 0,
	    acc ? acc->idle_timeout : 0, acc ? acc->volume : 0, SESSION_SRC_RADIUS,
	    err, sizeof(err));
	r->admit.set = false;
	if (rc < 0) {
		log_warn("radius: admission failed: %s", err);
		return -1;
	}
	return 0;
}

/* A MAC-auth or login request finished: p is the verified reply, or NULL
 * when no server answered (radius_fail decides). */
static void
radius_auth_done(struct radius *r, struct rreq *q, const struct radpkt *p)
{
	struct rlogin *l = q->login >= 0 ? &r->logins[q->login] : NULL;
	struct maccache *mc = radius_cache_slot(r, &q->mac);
	const char *who = q->kind == RREQ_MACAUTH ? "mac" : "login";
	struct radpkt_accept acc;
	const char *why = NULL;
	bool accepted = false;

	if (l != NULL && (!l->used || !addr_mac_equal(&l->mac, &q->mac)))
		l = NULL; /* the slot was reused meanwhile */
	if (p == NULL) {
		radius_audit("radius_timeout", &q->mac, "via", who, NULL, 0);
		if (r->g->conf->radius_fail == RADIUS_FAIL_OPEN) {
			log_warn("radius: no server answered; radius_fail open admits");
			accepted = radius_admit(r, &q->mac, q->kind == RREQ_LOGIN ? q->user : "",
			    q->sid, NULL) == 0;
			if (l)
				l->state = accepted ? RADIUS_LOGIN_ACCEPTED : RADIUS_LOGIN_FAILED;
		} else if (l) {
			l->state = RADIUS_LOGIN_FAILED;
		}
	} else if (p->code == RAD_ACCESS_ACCEPT) {
		if (radpkt_accept_decode(p, &acc, &why) < 0) {
			/* Fail closed: a grant we cannot read is no grant. */
			log_warn("radius: Access-Accept refused: %s", why);
			radius_audit("radius_reject", &q->mac, "reason", why, NULL, 0);
			if (l)
				l->state = RADIUS_LOGIN_REJECTED;
		} else {
			char m[WK_MAC_STRLEN];
			radpkt_mac_format(&q->mac, m);
			accepted = radius_admit(r, &q->mac, q->kind == RREQ_LOGIN ? q->user : m,
			    q->sid, &acc) == 0;
			if (l) {
				l->state = accepted ? RADIUS_LOGIN_ACCEPTED : RADIUS_LOGIN_FAILED;
				snprintf(l->msg, sizeof(l->msg), "%s", acc.reply_message);
			}
		}
	} else {
		/* Access-Reject, or a Challenge we cannot answer (PAP only). */
		if (radpkt_accept_decode(p, &acc, &why) < 0)
			acc.reply_message[0] = '\0';
		radius_audit("radius_reject", &q->mac, "via", who, NULL, 0);
		if (l) {
			l->state = RADIUS_LOGIN_REJECTED;
			snprintf(l->msg, sizeof(l->msg), "%s", acc.reply_message);
		}
	}
	if (q->kind == RREQ_MACAUTH) {
		mc->used = true;
		mc->mac = q->mac;
		mc->until_ms = clock_mono_ms() + (uint64_t)r->g->conf->radius_mac_cache * 1000;
	}
}

static void radius_acct_kick(struct radius *r);

/* The head accounting record was acknowledged (p) or not (NULL). */
static void
radius_acct_done(struct radius *r, const struct radpkt *p)
{
	struct acct *a = r->qhead;
	char buf[64];

	r->acct_req = NULL;
	if (p == NULL || a == NULL) {
		/* Every server failed: try the head again later, as it is
		 * (in order, so nothing behind it overtakes it). */
		r->acct_retry_at = clock_mono_ms() + (uint64_t)r->g->conf->radius_timeout * 1000;
		return;
	}
	snprintf(buf, sizeof(buf), "D,%llu", (unsigned long long)a->seq);
	if (r->st != NULL && store_append_ext(r->st, buf, false) < 0)
		log_warn("state file: cannot record an acknowledged accounting record");
	r->qhead = a->next;
	if (r->qhead == NULL)
		r->qtail = NULL;
	r->qlen--;
	free(a);
	radius_acct_kick(r);
}

/* A request finished: dispatch by kind, then free it. */
static void
radius_done(struct radius *r, struct rreq *q, const struct radpkt *p)
{
	if (q->kind == RREQ_ACCT)
		radius_acct_done(r, p);
	else
		radius_auth_done(r, q, p);
	radius_req_free(r, q);
}

/* Send the head of the accounting queue unless one is in flight. */
static void
radius_acct_kick(struct radius *r)
{
	struct rreq *q;

	if (r->acct_req != NULL || r->qhead == NULL || r->nacct == 0 ||
	    clock_mono_ms() < r->acct_retry_at)
		return;
	q = radius_req_new(r, RREQ_ACCT, NULL);
	if (q == NULL)
		return;
	r->acct_req = q;
	radius_launch(r, q);
}

/* Queue an accounting record, journalled; with sync, durable before
 * this returns (else the caller's next fsync of the state file makes it
 * so: grant.c's sweep commits all its records with one). */
static void
radius_acct_push(struct radius *r, struct acct *a, bool sync)
{
	char buf[STORE_EXT_MAX + 1];

	if (r->nacct == 0) {
		free(a);
		return;
	}
	if (r->qlen >= RADIUS_QUEUE_MAX) {
		log_warn("radius: accounting queue full (%d records); record dropped",
		    RADIUS_QUEUE_MAX);
		free(a);
		return;
	}
	a->seq = r->next_seq++;
	a->next = NULL;
	if (r->st != NULL && (radius_acct_encode(a, buf, sizeof(buf)) < 0 ||
		store_append_ext(r->st, buf, sync) < 0))
		log_warn("state file: cannot journal an accounting record");
	if (r->qtail)
		r->qtail->next = a;
	else
		r->qhead = a;
	r->qtail = a;
	r->qlen++;
	radius_acct_kick(r);
}

/* A record for session s of the given status. */
static struct acct *
radius_acct_of(const struct rsess *s, uint32_t status, uint64_t now)
{
	struct acct *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->status = status;
	a->mac = s->mac;
	a->ip = s->ip;
	memcpy(a->sid, s->sid, sizeof(a->sid));
	memcpy(a->user, s->user, sizeof(a->user));
	a->class_len = s->class_len;
	memcpy(a->class_, s->class_, s->class_len);
	a->radius = s->radius;
	a->in_octets = s->in_octets;
	a->out_octets = s->out_octets;
	a->in_pkts = s->in_pkts;
	a->out_pkts = s->out_pkts;
	a->session_time = now > s->start ? now - s->start : 0;
	a->event_ts = now;
	return a;
}

/* The period of s's Interim-Updates: the server's, else radius_interim. */
static uint64_t
radius_interim_of(const struct radius *r, const struct rsess *s)
{
	return s->interim ? s->interim : r->g->conf->radius_interim;
}

/* Once a second: due Interim-Updates, a queue head due for a resend,
 * the login table's old entries, and a group commit of the journal. */
static void
radius_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct radius *r = arg;
	uint64_t now = clock_wall_s(), mono = clock_mono_ms();
	bool wrote = false;

	(void)fd;
	(void)what;
	for (size_t b = 0; b < RADIUS_BUCKETS; b++)
		for (struct rsess *s = r->buckets[b]; s; s = s->next) {
			if (r->nacct == 0 || now < s->next_interim)
				continue;
			if (!grant_check(r->g, &s->mac))
				continue; /* ended: the sweep sends the Stop */
			struct acct *a = radius_acct_of(s, RAD_ACCT_INTERIM, now);
			s->next_interim = now + radius_interim_of(r, s);
			if (a != NULL) {
				radius_acct_push(r, a, false);
				radius_sess_save(r, s, false);
				wrote = true;
			}
		}
	for (size_t i = 0; i < RADIUS_LOGINS; i++)
		if (r->logins[i].used && mono - r->logins[i].created_ms > RADIUS_LOGIN_KEEP_MS)
			r->logins[i].used = false;
	if (wrote && r->st != NULL && store_sync(r->st) < 0)
		log_warn("state file: sync failed");
	/* A name that has no address yet is tried again (rate-limited). */
	radius_resolve_all(r, false);
	radius_acct_kick(r);
}

/* Read the shared secret (the same checks as grant_key: a regular file,
 * mode 0600 or stricter, 16..128 bytes). 0 or -1 with err. */
static int
radius_secret_load(const char *path, uint8_t *out, size_t *len, char *err,
    size_t errlen)
{
	struct token_key k;

	if (token_key_load(path, &k, err, errlen) < 0)
		return -1;
	if (k.len > RADPKT_SECRET_MAX) {
		snprintf(err, errlen, "secret file %s: longer than %d bytes", path,
		    RADPKT_SECRET_MAX);
		token_key_wipe(&k);
		return -1;
	}
	memcpy(out, k.k, k.len);
	*len = k.len;
	token_key_wipe(&k);
	return 0;
}

/* Check the secret file as start-up will (wicketd -n). */
int
radius_conf_check(const struct wk_conf *c, const char *fname,
    struct conf_errors *errs)
{
	uint8_t s[RADPKT_SECRET_MAX];
	size_t n;
	char err[512];

	if (c->radius_secret_file[0] == '\0')
		return 0;
	if (radius_secret_load(c->radius_secret_file, s, &n, err, sizeof(err)) < 0) {
		conf_key_error(errs, c, fname, "radius_secret_file", err);
		return -1;
	}
	OPENSSL_cleanse(s, sizeof(s));
	return 0;
}

/* True when any RADIUS feature is configured. */
static bool
radius_configured(const struct wk_conf *c)
{
	return c->n_radius_auth || c->n_radius_acct || c->n_radius_coa;
}

/* Create the state and read the secret; the queue comes back with the
 * state file in grant_start (radius_store_ext). */
int
radius_init(struct gate *g)
{
	const struct wk_conf *c = g->conf;
	struct radius *r;
	char err[512];

	if (!radius_configured(c))
		return 0;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -1;
	g->radius = r;
	r->g = g;
	r->coa_fd[0] = r->coa_fd[1] = -1;
	for (size_t i = 0; i < CONF_MAX_RADIUS; i++)
		r->auth[i].fd = r->acct[i].fd = -1;
	if (getrandom(&r->hash_seed, sizeof(r->hash_seed), 0) != sizeof(r->hash_seed) ||
	    getrandom(&r->sid_counter, sizeof(r->sid_counter), 0) != sizeof(r->sid_counter))
		r->hash_seed = (uint64_t)clock_mono_ms();
	r->next_seq = 1;
	{
		const struct limiter_conf lc = { .max_conns = 1,
			.connect_rate = RADIUS_MAC_SRC_RATE,
			.connect_burst = RADIUS_MAC_SRC_BURST };
		if ((r->mac_src = limiter_new(1, &lc)) == NULL)
			return -1;
	}
	if (radius_secret_load(c->radius_secret_file, r->secret, &r->slen, err,
		sizeof(err)) < 0) {
		log_err("radius_secret_file: %s", err);
		return -1;
	}
	r->ext.load = radius_ext_load;
	r->ext.dump = radius_ext_dump;
	r->ext.arg = r;
	return 0;
}

/* The store extension, for grant_start. */
const struct store_ext *
radius_store_ext(struct gate *g)
{
	return g->radius ? &g->radius->ext : NULL;
}

static void radius_on_coa(evutil_socket_t fd, short what, void *arg);

/* Called-Station-Id: the LAN interface's MAC and the NAS-Identifier
 * (the common AA-BB-CC-DD-EE-FF:SSID shape), or the NAS-Identifier. */
static void
radius_called_station(struct radius *r)
{
	const struct wk_conf *c = r->g->conf;
	struct ifreq ifr;
	int fd;

	snprintf(r->called, sizeof(r->called), "%s", radius_nas_id(r));
	if (c->n_interface == 0)
		return;	/* the first LAN interface's MAC names the station */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, c->interface[0], strnlen(c->interface[0], IFNAMSIZ - 1));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0) {
		struct wk_mac m;
		char ms[WK_MAC_STRLEN];
		memcpy(m.b, ifr.ifr_hwaddr.sa_data, 6);
		radpkt_mac_format(&m, ms);
		snprintf(r->called, sizeof(r->called), "%s:%.40s", ms, radius_nas_id(r));
	}
	close(fd);
}

/* True when one of the n servers is given by name. */
static bool
radius_names(const struct rserver *sv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sv[i].name[0] != '\0')
			return true;
	return false;
}

/* Sockets, the CoA listener, the tick; restored sessions get their own
 * limits back; Accounting-On joins the queue (after what was restored). */
int
radius_start(struct gate *g)
{
	struct radius *r = g->radius;
	const struct wk_conf *c = g->conf;
	struct timeval tv = { RADIUS_TICK_MS / 1000, 0 };
	struct acct *on;
	uint64_t now = clock_wall_s();

	if (r == NULL)
		return 0;
	r->st = grant_store(g);
	radius_called_station(r);
	r->dns = garden_dns(g->garden);
	for (int k = 0; k < 2; k++) {
		const struct conf_radsrv *cs = k ? c->radius_acct : c->radius_auth;
		size_t n = k ? c->n_radius_acct : c->n_radius_auth;
		struct rserver *sv = k ? r->acct : r->auth;
		for (size_t i = 0; i < n; i++) {
			sv[i].r = r;
			sv[i].port = cs[i].port;
			memcpy(sv[i].name, cs[i].name, sizeof(sv[i].name));
			/* An address is connected now (a failure stops the
			 * start); a name is looked up below, on the loop. */
			if (cs[i].name[0] == '\0' &&
			    radius_server_connect(r, &sv[i], &cs[i].sa) < 0)
				return -1;
		}
		if (k)
			r->nacct = n;
		else
			r->nauth = n;
	}
	if (r->dns == NULL && (radius_names(r->auth, r->nauth) ||
	    radius_names(r->acct, r->nacct))) {
		log_err("radius: no resolver for the server names");
		return -1;
	}
	radius_resolve_all(r, true);
	for (size_t i = 0; i < c->n_radius_coa; i++) {
		const union wk_sockaddr *sa = &c->radius_coa[i];
		int one = 1;
		char s[WK_SA_STRLEN];
		addr_sa_format(&sa->sa, s);
		r->coa_fd[i] = socket(sa->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (r->coa_fd[i] < 0 ||
		    (sa->sa.sa_family == AF_INET6 && setsockopt(r->coa_fd[i], IPPROTO_IPV6,
			IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
		    bind(r->coa_fd[i], &sa->sa, addr_sa_len(&sa->sa)) < 0) {
			log_err("radius_coa %s: %s", s, strerror(errno));
			return -1;
		}
		r->coa_ev[i] = event_new(g->base, r->coa_fd[i], EV_READ | EV_PERSIST,
		    radius_on_coa, r);
		if (r->coa_ev[i] == NULL || event_add(r->coa_ev[i], NULL) < 0)
			return -1;
		log_info("radius: CoA listener on %s", s);
	}
	/* Sessions restored from the state file keep their own limits and
	 * their interim schedule; accounting sessions without one go. */
	for (size_t b = 0; b < RADIUS_BUCKETS; b++)
		for (struct rsess **pp = &r->buckets[b]; *pp;) {
			struct rsess *s = *pp;
			const struct session *ss = session_find(g->sessions, &s->mac);
			if (ss == NULL || ss->state != SESSION_ADMITTED) {
				*pp = s->next;
				free(s);
				r->nsess--;
				continue;
			}
			/* A state file from before session records carried
			 * the limits: the accounting record has them. */
			if ((s->idle_limit || s->bytes_limit) && ss->idle_limit == 0 &&
			    ss->bytes_limit == 0)
				(void)session_set_limits(g->sessions, &s->mac, ss->expires,
				    s->idle_limit, s->bytes_limit);
			s->next_interim = now + radius_interim_of(r, s);
			pp = &s->next;
		}
	r->tick = event_new(g->base, -1, EV_PERSIST, radius_on_tick, r);
	if (r->tick == NULL || event_add(r->tick, &tv) < 0)
		return -1;
	/* RFC 2866 §5.1: Accounting-On when the NAS starts. */
	if (r->nacct > 0 && (on = calloc(1, sizeof(*on))) != NULL) {
		on->status = RAD_ACCT_ON;
		on->event_ts = now;
		radius_acct_push(r, on, true);
	}
	log_info("radius: %zu auth and %zu accounting servers, %zu sessions and "
	    "%zu queued accounting records restored", r->nauth, r->nacct, r->nsess, r->qlen);
	return 0;
}

/* Close sockets and free everything (queued records are in the state
 * file already). */
void
radius_stop(struct gate *g)
{
	struct radius *r = g->radius;

	if (r == NULL)
		return;
	/* No lookup is in flight any more: main.c cancelled them with
	 * radius_dns_cancel before the resolver (garden.c's) was freed. */
	for (int k = 0; k < 2; k++) {
		struct rserver *sv = k ? r->acct : r->auth;
		for (size_t i = 0; i < CONF_MAX_RADIUS; i++) {
			for (int id = 0; id < 256; id++)
				if (sv[i].inflight[id]) {
					struct rreq *q = sv[i].inflight[id];
					if (q == r->acct_req)
						r->acct_req = NULL;
					radius_req_free(r, q);
				}
			if (sv[i].ev)
				event_free(sv[i].ev);
			if (sv[i].fd >= 0)
				close(sv[i].fd);
		}
	}
	if (r->acct_req)
		radius_req_free(r, r->acct_req);
	for (int i = 0; i < 2; i++) {
		if (r->coa_ev[i])
			event_free(r->coa_ev[i]);
		if (r->coa_fd[i] >= 0)
			close(r->coa_fd[i]);
	}
	if (r->tick)
		event_free(r->tick);
	for (size_t b = 0; b < RADIUS_BUCKETS; b++)
		while (r->buckets[b]) {
			struct rsess *s = r->buckets[b];
			r->buckets[b] = s->next;
			free(s);
		}
	while (r->qhead) {
		struct acct *a = r->qhead;
		r->qhead = a->next;
		free(a);
	}
	limiter_free(r->mac_src);
	OPENSSL_cleanse(r->secret, sizeof(r->secret));
	free(r);
	g->radius = NULL;
}

/* A reload: every server name is looked up again (the server lists
 * themselves need a restart, their addresses do not). */
int
radius_reconfigure(struct gate *g)
{
	if (g->radius != NULL)
		radius_resolve_all(g->radius, true);
	return 0;
}

/* Stopping: cancel the lookups in flight and start no new ones. The
 * number cancelled: libevent finishes a cancelled lookup (and frees it) in
 * a deferred callback, so the caller runs the loop once more when it is
 * not 0 (main.c), or the lookup's memory is lost at exit. */
int
radius_dns_cancel(struct gate *g)
{
	struct radius *r = g->radius;
	int n = 0;

	if (r == NULL)
		return 0;
	r->dns_stopped = true;
	for (int k = 0; k < 2; k++) {
		struct rserver *sv = k ? r->acct : r->auth;
		for (size_t i = 0; i < CONF_MAX_RADIUS; i++)
			if (sv[i].dns != NULL) {
				evdns_getaddrinfo_cancel(sv[i].dns);
				sv[i].dns = NULL;
				n++;
			}
	}
	return n;
}

/* The source a first sighting of mac is charged to: the client address
 * it was seen with (its IPv4 one when it has both: the LAN's IPv4
 * addresses are few, a host picks IPv6 ones at will), else one shared
 * "unknown" source. */
static void
radius_mac_source(const struct client_ident *ci, bool found, struct wk_ip *src)
{
	memset(src, 0, sizeof(*src));
	src->family = AF_INET; /* 0.0.0.0: no address known */
	if (!found || ci->naddrs == 0)
		return;
	*src = ci->addrs[0].ip;
	for (unsigned i = 0; i < ci->naddrs; i++)
		if (ci->addrs[i].ip.family == AF_INET) {
			*src = ci->addrs[i].ip;
			return;
		}
}

/* A MAC without a session was seen: ask the server about it, unless
 * MAC auth is off, it was asked recently (the cache), or a rate limit
 * says no: a flood of new MACs must not hammer the server (20 a second in
 * all), and one host cycling MACs must not take that whole budget from a
 * genuine new client (2 a second, 4 at once, per client address). */
void
radius_sighted(struct gate *g, const struct wk_mac *mac)
{
	struct radius *r = g->radius;
	struct maccache *mc;
	struct client_ident ci;
	struct wk_ip src;
	uint64_t mono;
	struct rreq *q;
	bool known;

	if (r == NULL || !g->conf->radius_mac_auth || r->nauth == 0 ||
	    !addr_mac_is_unicast(mac))
		return;
	mono = clock_mono_ms();
	mc = radius_cache_slot(r, mac);
	if (mc->used && addr_mac_equal(&mc->mac, mac) && mono < mc->until_ms)
		return;
	if (mono / 1000 != r->rate_sec) {
		r->rate_sec = mono / 1000;
		r->rate_n = 0;
	}
	if (r->rate_n >= RADIUS_MAC_RATE)
		return;
	known = g->reg != NULL && registry_lookup_mac(g->reg, mac, mono, &ci);
	radius_mac_source(&ci, known, &src);
	if (!limiter_take(r->mac_src, &src, mono))
		return; /* this address's share is spent: asked at a later sighting */
	if ((q = radius_req_new(r, RREQ_MACAUTH, mac)) == NULL)
		return;
	r->rate_n++;
	/* In flight: no second request for this MAC until it is answered
	 * (the answer then sets the cache time). */
	mc->used = true;
	mc->mac = *mac;
	mc->until_ms = mono + (uint64_t)g->conf->radius_timeout * 1000 *
	    (g->conf->radius_retries + 1) * (r->nauth + 1);
	if (known && ci.naddrs > 0)
		q->ip = ci.addrs[0].ip;
	radius_new_sid(r, q->sid);
	radius_launch(r, q);
}

/* A session started: its accounting session and a Start record. */
void
radius_on_admit(struct gate *g, const struct session *s)
{
	struct radius *r = g->radius;
	struct client_ident ci;
	struct rsess *rs;
	struct acct *a;
	uint64_t now = clock_wall_s();

	if (r == NULL)
		return;
	if ((rs = radius_sess_find(r, &s->mac)) != NULL) {
		/* A new grant over a live session: that one ends here. */
		if ((a = radius_acct_of(rs, RAD_ACCT_STOP, now)) != NULL) {
			a->cause = RAD_TERM_NAS_REQUEST;
			radius_acct_push(r, a, false); /* the Start's fsync below */
		}
		radius_sess_drop(r, &s->mac);
	}
	if ((rs = radius_sess_get(r, &s->mac)) == NULL)
		return;
	rs->start = (uint64_t)((int64_t)s->start + grant_wall_off()); /* wall */
	if (r->admit.set && addr_mac_equal(&r->admit.mac, &s->mac)) {
		snprintf(rs->sid, sizeof(rs->sid), "%s", r->admit.sid);
		snprintf(rs->user, sizeof(rs->user), "%s", r->admit.user);
		rs->class_len = r->admit.acc.class_len;
		memcpy(rs->class_, r->admit.acc.class_, rs->class_len);
		rs->interim = r->admit.acc.interim;
		rs->idle_limit = r->admit.acc.idle_timeout;
		rs->bytes_limit = r->admit.acc.volume;
		rs->radius = s->source == SESSION_SRC_RADIUS;
	}
	if (rs->sid[0] == '\0')
		radius_new_sid(r, rs->sid);
	if (rs->user[0] == '\0')
		radpkt_mac_format(&s->mac, rs->user);
	if (g->reg != NULL && registry_lookup_mac(g->reg, &s->mac, clock_mono_ms(), &ci) &&
	    ci.naddrs > 0)
		rs->ip = ci.addrs[0].ip;
	rs->next_interim = now + radius_interim_of(r, rs);
	radius_sess_save(r, rs, false);
	if ((a = radius_acct_of(rs, RAD_ACCT_START, now)) != NULL)
		radius_acct_push(r, a, true);
}

/* The Acct-Terminate-Cause of a session end (RFC 2866 §5.10). */
static uint32_t
radius_cause(enum session_reason reason)
{
	switch (reason) {
	case SESSION_R_IDLE: return RAD_TERM_IDLE_TIMEOUT;
	case SESSION_R_TIMEOUT: return RAD_TERM_SESSION_TIMEOUT;
	case SESSION_R_QUOTA: return RAD_TERM_SESSION_TIMEOUT; /* no quota cause */
	case SESSION_R_REVOKED: return RAD_TERM_ADMIN_RESET;
	default: return RAD_TERM_NAS_REQUEST;
	}
}

/* A session ended: its Stop record, then the accounting session goes.
 * Not fsync'd here: the caller journals the session's end next to it and
 * makes both durable together (one fsync for a whole expiry sweep). */
void
radius_on_end(struct gate *g, const struct session *s, enum session_reason reason)
{
	struct radius *r = g->radius;
	struct rsess *rs;
	struct acct *a;
	char buf[32], m[13];

	if (r == NULL || (rs = radius_sess_find(r, &s->mac)) == NULL)
		return;
	if ((a = radius_acct_of(rs, RAD_ACCT_STOP, s->ended ? (uint64_t)((int64_t)s->ended +
	    grant_wall_off()) : clock_wall_s())) != NULL) {
		a->cause = radius_cause(reason);
		radius_acct_push(r, a, false);
	}
	radius_hex(s->mac.b, 6, m);
	snprintf(buf, sizeof(buf), "E,%s", m);
	if (r->st != NULL && store_append_ext(r->st, buf, false) < 0)
		log_warn("state file: cannot record a RADIUS session end");
	radius_sess_drop(r, &s->mac);
}

/* Octets and packets counted by the firewall since the last call. */
void
radius_on_counters(struct gate *g, const struct wk_mac *mac, uint64_t in_octets,
    uint64_t out_octets, uint64_t in_pkts, uint64_t out_pkts)
{
	struct rsess *rs;

	if (g->radius == NULL || (rs = radius_sess_find(g->radius, mac)) == NULL)
		return;
	rs->in_octets += in_octets;
	rs->out_octets += out_octets;
	rs->in_pkts += in_pkts;
	rs->out_pkts += out_pkts;
}

/* True when the splash is the RADIUS login form. */
bool
radius_login_enabled(struct gate *g)
{
	return g->radius != NULL && g->conf->portal == PORTAL_MODE_RADIUS &&
	    g->radius->nauth > 0;
}

/* Start a login: a slot (the oldest is reused when all are taken), a
 * random id, and the PAP Access-Request. */
int
radius_login(struct gate *g, const struct wk_mac *mac, const struct wk_ip *ip,
    const char *user, const char *pw, const char *url, char *id, const char **why)
{
	struct radius *r = g->radius;
	uint8_t rnd[RADIUS_LOGIN_ID_LEN / 2];
	struct rlogin *l = NULL;
	struct rreq *q;
	size_t slot = 0;

	if (!radius_login_enabled(g)) {
		*why = "RADIUS login is not configured";
		return -1;
	}
	if (strlen(user) == 0 || strlen(user) > RADIUS_USER_MAX ||
	    strlen(pw) > RADPKT_PASS_MAX) {
		*why = "user name or password too long or empty";
		return -1;
	}
	for (size_t i = 0; i < RADIUS_LOGINS; i++) {
		if (!r->logins[i].used) {
			slot = i;
			break;
		}
		if (r->logins[i].created_ms < r->logins[slot].created_ms)
			slot = i;
	}
	if ((q = radius_req_new(r, RREQ_LOGIN, mac)) == NULL) {
		*why = "too many sign-ins in progress";
		return -1;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		radius_req_free(r, q);
		*why = "no randomness";
		return -1;
	}
	l = &r->logins[slot];
	memset(l, 0, sizeof(*l));
	l->used = true;
	l->mac = *mac;
	l->state = RADIUS_LOGIN_PENDING;
	l->created_ms = clock_mono_ms();
	snprintf(l->url, sizeof(l->url), "%s", url);
	radius_hex(rnd, sizeof(rnd), l->id);
	snprintf(id, RADIUS_LOGIN_ID_LEN + 1, "%s", l->id);
	q->login = (int)slot;
	if (ip != NULL)
		q->ip = *ip;
	snprintf(q->user, sizeof(q->user), "%s", user);
	snprintf(q->pw, sizeof(q->pw), "%s", pw);
	radius_new_sid(r, q->sid);
	radius_audit("radius_login", mac, "user", user, NULL, 0);
	radius_launch(r, q);
	return 0;
}

/* Where mac's login attempt id stands. */
enum radius_login_state
radius_login_status(struct gate *g, const char *id, const struct wk_mac *mac,
    char *url, size_t urlsize, char *msg, size_t msgsize)
{
	struct radius *r = g->radius;

	if (r == NULL || strlen(id) != RADIUS_LOGIN_ID_LEN)
		return RADIUS_LOGIN_UNKNOWN;
	for (size_t i = 0; i < RADIUS_LOGINS; i++) {
		struct rlogin *l = &r->logins[i];
		if (!l->used || !addr_mac_equal(&l->mac, mac) ||
		    CRYPTO_memcmp(l->id, id, RADIUS_LOGIN_ID_LEN) != 0)
			continue;
		snprintf(url, urlsize, "%s", l->url);
		snprintf(msg, msgsize, "%s", l->msg);
		return l->state;
	}
	return RADIUS_LOGIN_UNKNOWN;
}

/* True when from may send CoA (radius_coa_client). */
static bool
radius_coa_allowed(const struct wk_conf *c, const union wk_sockaddr *from)
{
	struct wk_ip ip;

	addr_ip_from_sa(&from->sa, &ip);
	for (size_t i = 0; i < c->n_radius_coa_client; i++)
		if (addr_cidr_match(&c->radius_coa_client[i], &ip, 0))
			return true;
	return false;
}

/* Apply a decoded CoA or Disconnect to every session it names. The
 * number of sessions changed, or -1 when one could not be (506). A
 * Disconnect is done once the gate and the firewall are closed, whatever
 * the disk says (its record is then pending and retried, as for wicketctl
 * deny); a CoA is applied only once its record is on disk, like a grant
 * (grant_set_limits), so a NAK 506 means that session did not change. */
static int
radius_coa_apply(struct radius *r, const struct radpkt_coa *coa)
{
	struct gate *g = r->g;
	struct wk_mac macs[64];
	size_t n = 0;
	char err[128];
	uint64_t now = grant_now(); /* hard ends are on the session clock */
	int rc = 0;

	for (size_t b = 0; b < RADIUS_BUCKETS && n < 64; b++)
		for (struct rsess *s = r->buckets[b]; s && n < 64; s = s->next) {
			if (coa->has_sid && strcmp(coa->sid, s->sid) != 0)
				continue;
			if (coa->has_mac && !addr_mac_equal(&coa->mac, &s->mac))
				continue;
			if (coa->has_user && strcmp(coa->user, s->user) != 0)
				continue;
			if (grant_check(g, &s->mac))
				macs[n++] = s->mac;
		}
	/* A session admitted without accounting (no radius_acct) is found
	 * by its Calling-Station-Id alone. */
	if (n == 0 && coa->has_mac && !coa->has_sid && !coa->has_user &&
	    grant_check(g, &coa->mac))
		macs[n++] = coa->mac;
	for (size_t i = 0; i < n; i++) {
		const struct session *s = session_find(g->sessions, &macs[i]);
		struct rsess *rs = radius_sess_find(r, &macs[i]);
		if (coa->disconnect) {
			enum grant_revoked how = grant_revoke_how(g, &macs[i]);
			if (how != GRANT_REVOKED && how != GRANT_REVOKED_PENDING)
				rc = -1; /* not cut off in the firewall yet */
			continue;
		}
		if (s == NULL)
			continue;
		uint64_t expires = coa->has_session_timeout
		    ? now + coa->session_timeout : s->expires;
		uint64_t idle = coa->has_idle_timeout ? coa->idle_timeout : s->idle_limit;
		uint64_t vol = coa->has_volume ? coa->volume : s->bytes_limit;
		if (grant_set_limits(g, &macs[i], expires, idle, vol, err, sizeof(err)) < 0) {
			rc = -1;
			continue;
		}
		if (rs != NULL) { /* the session record holds them durably */
			rs->idle_limit = idle;
			rs->bytes_limit = vol;
			radius_sess_save(r, rs, false);
		}
	}
	return rc < 0 ? -1 : (int)n;
}

/* A datagram on the CoA port (RFC 5176): drop what is not from an
 * allowed client or not authentic (§3.5: silently), answer a repeat with
 * the same answer, else apply and ACK, or NAK with an Error-Cause. */
static void
radius_on_coa(evutil_socket_t fd, short what, void *arg)
{
	struct radius *r = arg;
	const struct wk_conf *c = r->g->conf;
	uint8_t buf[RADPKT_MAX + 1];
	union wk_sockaddr from;
	socklen_t fl = sizeof(from);
	struct radpkt p;
	struct radpkt_coa coa;
	struct radpkt_builder *b;
	char src[WK_SA_STRLEN];
	const char *why;
	ssize_t n;
	int err, changed = 0, len;

	(void)what;
	/* Zeroed: the retransmission check below compares whole addresses,
	 * and recvfrom fills only fl bytes of the union. */
	memset(&from, 0, sizeof(from));
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &fl);
	if (n < 0)
		return;
	addr_sa_format(&from.sa, src);
	if (!radius_coa_allowed(c, &from)) {
		log_warn("radius: CoA from %s: not a radius_coa_client, dropped", src);
		radius_audit("coa_refused", NULL, "from", src, NULL, 0);
		return;
	}
	if (radpkt_parse(buf, (size_t)n, &p, &why) < 0 ||
	    (p.code != RAD_COA_REQUEST && p.code != RAD_DISCONNECT_REQUEST)) {
		log_warn("radius: CoA from %s: %s, dropped", src,
		    p.code && !why ? "not a CoA or Disconnect request" : why ? why : "?");
		return;
	}
	/* §3.5: Message-Authenticator required (BLAST-RADIUS), checked
	 * with the Request Authenticator. */
	if (radpkt_verify_request(&p, r->secret, r->slen, true) < 0) {
		log_warn("radius: CoA from %s: bad authenticator or no "
		    "Message-Authenticator, dropped", src);
		radius_audit("coa_refused", NULL, "from", src, NULL, 0);
		return;
	}
	for (unsigned i = 0; i < RADIUS_COA_CACHE; i++) {
		struct coa_answer *ca = &r->coa_cache[i];
		if (ca->len && ca->id == p.id && memcmp(ca->auth, buf + 4, 16) == 0 &&
		    memcmp(&ca->from, &from, sizeof(from)) == 0 &&
		    clock_mono_ms() - ca->at_ms < 30000) {
			(void)sendto(fd, ca->pkt, ca->len, MSG_DONTWAIT, &from.sa, fl);
			return;
		}
	}
	err = radpkt_coa_decode(&p, &coa);
	if (err == 0 && (!coa.has_event_ts ||
		radpkt_ts_check(coa.event_ts, clock_wall_s(), c->radius_coa_window) < 0)) {
		/* §3.5: a replay protection failure is silently discarded. */
		log_warn("radius: CoA from %s: Event-Timestamp missing or outside "
		    "radius_coa_window, dropped", src);
		radius_audit("coa_refused", NULL, "from", src, NULL, 0);
		return;
	}
	if (err == 0 && coa.has_nas_id && strcmp(coa.nas_id, radius_nas_id(r)) != 0)
		err = RAD_ERR_NAS_ID_MISMATCH;
	if (err == 0) {
		changed = radius_coa_apply(r, &coa);
		err = changed < 0 ? RAD_ERR_RESOURCES_UNAVAILABLE
		    : changed == 0 ? RAD_ERR_SESSION_NOT_FOUND : 0;
	}
	if ((b = malloc(sizeof(*b))) == NULL)
		return;
	radpkt_begin(b, p.code == RAD_COA_REQUEST ? (err ? RAD_COA_NAK : RAD_COA_ACK)
	    : (err ? RAD_DISCONNECT_NAK : RAD_DISCONNECT_ACK), p.id, NULL);
	if (err)
		radpkt_put_u32(b, RAD_ERROR_CAUSE, (uint32_t)err);
	else if (coa.state_len)
		radpkt_put(b, RAD_STATE, coa.state, coa.state_len);
	radpkt_put_ma(b);
	len = radpkt_finish(b, r->secret, r->slen, buf + 4);
	if (len > 0) {
		struct coa_answer *ca = &r->coa_cache[r->coa_next++ % RADIUS_COA_CACHE];
		if (sendto(fd, b->buf, (size_t)len, MSG_DONTWAIT, &from.sa, fl) < 0)
			log_warn("radius: CoA answer to %s: %s", src, strerror(errno));
		ca->from = from;
		ca->id = p.id;
		memcpy(ca->auth, buf + 4, 16);
		memcpy(ca->pkt, b->buf, (size_t)len);
		ca->len = (size_t)len;
		ca->at_ms = clock_mono_ms();
	}
	free(b);
	{
		char line[AUDIT_LINE_MAX];
		struct jsonw j;
		audit_begin(&j, line, sizeof(line), clock_wall_ms(),
		    coa.disconnect ? "disconnect" : "coa");
		jsonw_str(&j, "from", src);
		if (coa.has_sid)
			jsonw_str(&j, "acct_session_id", coa.sid);
		if (coa.has_mac) {
			char m[WK_MAC_STRLEN];
			addr_mac_format(&coa.mac, m);
			jsonw_str(&j, "mac", m);
		}
		jsonw_uint(&j, "sessions", changed > 0 ? (uint64_t)changed : 0);
		if (err)
			jsonw_uint(&j, "error_cause", (uint64_t)err);
		audit_emit(&j);
	}
}
