/* conf: the configuration table (name, type, bounds and default side by
 * side) and the parser of "key value" lines. Every error names FILE:LINE,
 * and parsing goes on so that `wicketd -n` reports all of them at once. */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"

enum ctype {
	T_LISTEN, T_STR, T_PATH, T_URL, T_U32, T_SIZE, T_SECS, T_METHODS,
	T_PROBE, T_PROBE_ANSWER, T_CIDR, T_CIDRPORT, T_HOST, T_IFNAME, T_MAC,
	T_LOGLEVEL, T_FIREWALL, T_FORWARD, T_GWID, T_HOSTNAME, T_TEXT, T_BOOL, T_RADSRV,
	T_RADFAIL, T_PORTAL, T_FACILITY
};

/* One configuration key: where it lives, how it parses, its bounds. */
struct ckey {
	const char *name;
	enum ctype type;
	size_t off;     /* field in struct wk_conf */
	size_t cnt_off; /* count field of a list; 0 for a single value */
	size_t size;    /* buffer size of a string, element count of a list */
	size_t esize;   /* bytes of a value, or of one element of a list */
	uint64_t min, max;
	const char *def; /* default, for the docs test and conf_defaults */
	bool restart;    /* a reload cannot apply it: it needs a restart */
};

#define F(f) offsetof(struct wk_conf, f)
#define L(f, n) F(f), F(n), sizeof(((struct wk_conf *)0)->f) / sizeof(((struct wk_conf *)0)->f[0]), \
	sizeof(((struct wk_conf *)0)->f[0])
#define S(f) F(f), 0, sizeof(((struct wk_conf *)0)->f), sizeof(((struct wk_conf *)0)->f)
#define U(f) F(f), 0, 0, sizeof(((struct wk_conf *)0)->f)
#define LIVE false    /* last field: a reload applies it */
#define RESTART true /* last field: only read at start-up */

static const struct ckey keys[] = {
	{ "listen", T_LISTEN, L(listen, n_listen), 0, 0, "0.0.0.0:3990 [::]:3990", RESTART },
	{ "gateway_id", T_GWID, S(gateway_id), 1, 0, "wicket", LIVE },
	{ "portal_url", T_URL, S(portal_url), 0, 0, "", LIVE },
	{ "audit_log", T_PATH, S(audit_log), 0, 0, "-", LIVE },
	{ "audit_syslog", T_FACILITY, S(audit_syslog), 0, 0, "none", LIVE },
	{ "audit_syslog_socket", T_PATH, S(audit_syslog_socket), 0, 0, "/dev/log", LIVE },
	{ "log_level", T_LOGLEVEL, S(log_level), 0, 0, "info", LIVE },
	{ "max_connections", T_U32, U(max_connections), 1, 1000000, "4096", LIVE },
	{ "client_connections", T_U32, U(client_connections), 1, 1000000, "64", LIVE },
	{ "client_connect_rate", T_U32, U(client_connect_rate), 0, 1000000, "20", LIVE },
	{ "client_connect_burst", T_U32, U(client_connect_burst), 1, 1000000, "40", LIVE },
	{ "client_511_rate", T_U32, U(client_511_rate), 0, 1000000, "10", LIVE },
	{ "client_511_burst", T_U32, U(client_511_burst), 1, 1000000, "20", LIVE },
	{ "max_request_line", T_SIZE, U(max_request_line), 64, 1 << 20, "8192", LIVE },
	{ "max_header_bytes", T_SIZE, U(max_header_bytes), 256, 1 << 22, "32768", LIVE },
	{ "max_headers", T_U32, U(max_headers), 1, 10000, "100", LIVE },
	{ "max_body_bytes", T_SIZE, U(max_body_bytes), 0, UINT64_C(1) << 50, "1073741824", LIVE },
	{ "require_length", T_METHODS, L(require_length, n_require_length), 0, 0, "POST PUT PATCH", LIVE },
	{ "header_timeout", T_SECS, U(header_timeout), 1, 3600, "10", LIVE },
	{ "probe_path", T_PROBE, L(probe_path, n_probe_path), 0, 0,
	  "/generate_204 /gen_204 /hotspot-detect.html /library/test/success.html "
	  "/connecttest.txt /ncsi.txt /canonical.html /success.txt "
	  "/check_network_status.txt /kindle-wifi/wifistub.html", LIVE },
	{ "probe_answer", T_PROBE_ANSWER, U(probe_answer), 0, 0, "302", LIVE },
	{ "allow_ip", T_CIDR, L(allow_ip, n_allow_ip), 0, 0, "", LIVE },
	{ "walled_garden", T_CIDRPORT, L(walled_garden, n_walled_garden), 0, 0, "", LIVE },
	{ "walled_garden_host", T_HOST, L(walled_garden_host, n_walled_garden_host), 0, 0, "", LIVE },
	{ "upstream_connect_timeout", T_SECS, U(upstream_connect_timeout), 1, 600, "10", LIVE },
	{ "idle_timeout", T_SECS, U(idle_timeout), 1, 86400, "300", LIVE },
	{ "splice_pipes", T_U32, U(splice_pipes), 0, 65536, "64", LIVE },
	{ "interface", T_IFNAME, L(interface, n_interface), 0, 0, "", RESTART },
	{ "allow_mac", T_MAC, L(allow_mac, n_allow_mac), 0, 0, "", LIVE },
	{ "max_clients", T_U32, U(max_clients), 16, 10000000, "65536", RESTART },
	{ "neighbour_ttl", T_SECS, U(neighbour_ttl), 10, 604800, "1200", RESTART },
	{ "conflict_window", T_SECS, U(conflict_window), 1, 86400, "60", RESTART },
	{ "learn_rate", T_U32, U(learn_rate), 0, 100000, "20", RESTART },
	{ "learn_new_rate", T_U32, U(learn_new_rate), 0, 100000, "100", RESTART },
	{ "session_timeout", T_SECS, U(session_timeout), 60, 31536000, "86400", LIVE },
	{ "session_idle_timeout", T_SECS, U(session_idle_timeout), 0, 31536000, "0", LIVE },
	{ "session_bytes", T_SIZE, U(session_bytes), 0, UINT64_C(1) << 60, "0", LIVE },
	{ "admissions_per_minute", T_U32, U(admissions_per_minute), 0, 1000, "6", LIVE },
	{ "splash_sessions_per_ip", T_U32, U(splash_sessions_per_ip), 0, 16, "4", LIVE },
	{ "control_socket", T_PATH, S(control_socket), 0, 0, "/run/wicket/control.sock", RESTART },
	{ "grant_key", T_PATH, S(grant_key), 0, 0, "", LIVE },
	{ "max_grant_seconds", T_SECS, U(max_grant_seconds), 60, 31536000, "86400", LIVE },
	{ "state_file", T_PATH, S(state_file), 0, 0, "/var/lib/wicket/state", RESTART },
	{ "splash_terms", T_PATH, S(splash_terms), 0, 0, "", LIVE },
	{ "firewall", T_FIREWALL, U(firewall), 0, 0, "none", RESTART },
	{ "forward", T_FORWARD, U(forward), 0, 0, "proxy", RESTART },
	{ "nft_table", T_STR, S(nft_table), 1, 0, "wicket", RESTART },
	{ "tls_listen", T_LISTEN, L(tls_listen, n_tls_listen), 0, 0, "", RESTART },
	{ "tls_cert", T_PATH, S(tls_cert), 0, 0, "", LIVE },
	{ "tls_key", T_PATH, S(tls_key), 0, 0, "", LIVE },
	{ "portal_host", T_HOSTNAME, S(portal_host), 0, 0, "", LIVE },
	{ "venue_info_url", T_URL, S(venue_info_url), 0, 0, "", LIVE },
	{ "portal_can_extend", T_BOOL, U(portal_can_extend), 0, 0, "no", LIVE },
	{ "splash_template", T_PATH, S(splash_template), 0, 0, "", LIVE },
	{ "network_name", T_TEXT, S(network_name), 0, 0, "", LIVE },
	/* For T_RADSRV, min is the default port. */
	{ "radius_auth", T_RADSRV, L(radius_auth, n_radius_auth), 1812, 0, "", RESTART },
	{ "radius_acct", T_RADSRV, L(radius_acct, n_radius_acct), 1813, 0, "", RESTART },
	{ "radius_secret_file", T_PATH, S(radius_secret_file), 0, 0, "", RESTART },
	{ "radius_timeout", T_SECS, U(radius_timeout), 1, 60, "3", LIVE },
	{ "radius_retries", T_U32, U(radius_retries), 0, 10, "2", LIVE },
	{ "nas_identifier", T_STR, S(nas_identifier), 0, 0, "", LIVE },
	{ "radius_mac_auth", T_BOOL, U(radius_mac_auth), 0, 0, "off", LIVE },
	{ "radius_mac_cache", T_SECS, U(radius_mac_cache), 1, 86400, "30", LIVE },
	{ "radius_fail", T_RADFAIL, U(radius_fail), 0, 0, "closed", LIVE },
	{ "radius_require_message_authenticator", T_BOOL,
	  U(radius_require_message_authenticator), 0, 0, "yes", LIVE },
	{ "radius_interim", T_SECS, U(radius_interim), 1, 86400, "300", LIVE },
	{ "radius_coa", T_LISTEN, L(radius_coa, n_radius_coa), 0, 0, "", RESTART },
	{ "radius_coa_client", T_CIDR, L(radius_coa_client, n_radius_coa_client), 0, 0, "", LIVE },
	{ "radius_coa_window", T_SECS, U(radius_coa_window), 1, 86400, "300", LIVE },
	{ "portal", T_PORTAL, U(portal), 0, 0, "splash", LIVE },
	{ "user", T_STR, S(user), 0, 0, "", RESTART },
	{ "group", T_STR, S(group), 0, 0, "", RESTART },
	{ "run_as_root", T_BOOL, U(run_as_root), 0, 0, "no", RESTART },
	{ "seccomp", T_BOOL, U(seccomp), 0, 0, "yes", RESTART },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONF_MAX_KEYS, "raise CONF_MAX_KEYS");

/* Number of keys in the table (for the documentation test). */
size_t
conf_nkeys(void)
{
	return NKEYS;
}

/* Name of key i (for the documentation test). */
const char *
conf_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

/* True when key i is read only at start-up, so that a reload must say
 * "needs a restart" for it instead of ignoring a change. */
bool
conf_key_restart(size_t i)
{
	return i < NKEYS && keys[i].restart;
}

/* Default of key i as written in proxy.conf.example (for the docs test). */
const char *
conf_key_default(size_t i)
{
	return i < NKEYS ? keys[i].def : NULL;
}

/* True when the value of a string-valued type is compared as a C string
 * (bytes after the NUL are not part of the value). */
static bool
key_is_text(enum ctype t)
{
	switch (t) {
	case T_STR: case T_PATH: case T_URL: case T_METHODS: case T_PROBE:
	case T_HOST: case T_IFNAME: case T_LOGLEVEL: case T_GWID: case T_HOSTNAME:
	case T_TEXT: case T_FACILITY:
		return true;
	default:
		return false;
	}
}

/* True when a and b hold the same value for key i (lists: the same
 * elements in the same order), so that a reload can tell what changed. */
bool
conf_key_same(const struct wk_conf *a, const struct wk_conf *b, size_t i)
{
	const struct ckey *k;
	const char *pa, *pb;
	size_t n = 1;

	if (i >= NKEYS)
		return true;
	k = &keys[i];
	pa = (const char *)a + k->off;
	pb = (const char *)b + k->off;
	if (k->cnt_off != 0) {
		n = *(const size_t *)(const void *)((const char *)a + k->cnt_off);
		if (n != *(const size_t *)(const void *)((const char *)b + k->cnt_off))
			return false;
	}
	for (size_t e = 0; e < n; e++, pa += k->esize, pb += k->esize) {
		if (key_is_text(k->type) ? strncmp(pa, pb, k->esize) != 0
		    : memcmp(pa, pb, k->esize) != 0)
			return false;
	}
	return true;
}

/* Give dst src's value of key i (a reload keeps the running value of a
 * key that needs a restart). */
void
conf_key_copy(struct wk_conf *dst, const struct wk_conf *src, size_t i)
{
	const struct ckey *k;
	size_t bytes;

	if (i >= NKEYS)
		return;
	k = &keys[i];
	bytes = k->cnt_off != 0 ? k->size * k->esize : k->esize;
	memcpy((char *)dst + k->off, (const char *)src + k->off, bytes);
	if (k->cnt_off != 0)
		memcpy((char *)dst + k->cnt_off, (const char *)src + k->cnt_off,
		    sizeof(size_t));
}

/* What a reload changes: the keys whose value differs between the running
 * configuration and the new one, split by whether a reload applies them.
 * Keys that need a restart get their running value back in next, so that
 * the configuration in force stays the one the daemon runs with. */
void
conf_reload_merge(const struct wk_conf *running, struct wk_conf *next,
    struct conf_diff *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NKEYS; i++) {
		if (conf_key_same(running, next, i))
			continue;
		if (keys[i].restart) {
			out->restart[out->n_restart++] = keys[i].name;
			conf_key_copy(next, running, i);
		} else {
			out->applied[out->n_applied++] = keys[i].name;
		}
	}
}

/* Append one "FILE:LINE: message" to the error list. */
__attribute__((format(printf, 4, 5))) static void
conf_error(struct conf_errors *e, const char *fname, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	e->count++;
	if (e->len >= sizeof(e->text) - 1)
		return;
	if (line > 0)
		n = snprintf(e->text + e->len, sizeof(e->text) - e->len, "%s:%u: ",
		    fname, line);
	else
		n = snprintf(e->text + e->len, sizeof(e->text) - e->len, "%s: ", fname);
	if (n > 0)
		e->len += (size_t)n;
	if (e->len >= sizeof(e->text) - 1) {
		e->len = sizeof(e->text) - 1;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(e->text + e->len, sizeof(e->text) - e->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		e->len += (size_t)n;
	if (e->len < sizeof(e->text) - 1)
		e->text[e->len++] = '\n';
	else
		e->len = sizeof(e->text) - 1;
	e->text[e->len] = '\0';
}

/* Parse an unsigned number with an optional unit suffix: K/M/G (binary)
 * for sizes, s/m/h/d for durations. */
static int
parse_num(const char *v, bool size, bool secs, uint64_t *out)
{
	char *end;
	unsigned long long x;
	uint64_t mul = 1;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		if (size && (*end == 'K' || *end == 'k'))
			mul = 1024;
		else if (size && (*end == 'M' || *end == 'm'))
			mul = 1024 * 1024;
		else if (size && (*end == 'G' || *end == 'g'))
			mul = 1024 * 1024 * 1024;
		else if (secs && *end == 's')
			mul = 1;
		else if (secs && *end == 'm')
			mul = 60;
		else if (secs && *end == 'h')
			mul = 3600;
		else if (secs && *end == 'd')
			mul = 86400;
		else
			return -1;
	}
	if (x > UINT64_MAX / mul)
		return -1;
	*out = x * mul;
	return 0;
}

/* Parse a duration the way the configuration file does -- seconds, or a
 * number with the suffix s, m, h or d -- for every other place that reads
 * one (wicketctl allow MAC 1h), so that there is one syntax. */
int
conf_parse_duration(const char *v, uint64_t *secs)
{
	return parse_num(v, false, true, secs);
}

/* The syslog facilities audit_syslog may name, with their codes (RFC 5424
 * section 6.2.1); -1 for any other name. One table for the parser and for
 * proxy/syslogw.c. */
int
conf_syslog_facility(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} fac[] = {
		{ "user", 1 }, { "daemon", 3 }, { "auth", 4 }, { "authpriv", 10 },
		{ "local0", 16 }, { "local1", 17 }, { "local2", 18 }, { "local3", 19 },
		{ "local4", 20 }, { "local5", 21 }, { "local6", 22 }, { "local7", 23 },
	};

	for (size_t i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
		if (strcmp(name, fac[i].name) == 0)
			return fac[i].code;
	return -1;
}

/* True when s is an HTTP token (a method name). */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			(*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* True for a DNS name: labels of letters, digits and '-', dot-separated.
 * No wildcards: a name is admitted by its resolved addresses. */
static bool
is_hostname(const char *s)
{
	size_t lab = 0;

	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			   (*s >= '0' && *s <= '9') || *s == '-') {
			if (++lab > 63)
				return false;
		} else {
			return false;
		}
	}
	return lab > 0;
}

/* True for a host name as RFC 1123 §2.1 has it: is_hostname's labels,
 * none starting or ending with '-', and a last label that is not all
 * digits (so a mistyped address such as 10.0.0.300 is an error, not a
 * name to look up). */
static bool
is_rfc1123_name(const char *s)
{
	const char *lab = s, *last = s;

	if (!is_hostname(s))
		return false;
	for (const char *p = s;; p++)
		if (*p == '.' || *p == '\0') {
			if (*lab == '-' || p[-1] == '-')
				return false;
			last = lab;
			if (*p == '\0')
				break;
			lab = p + 1;
		}
	return strspn(last, "0123456789") != strlen(last);
}

/* A RADIUS server: ADDRESS, ADDRESS:PORT, [IPv6]:PORT, NAME or NAME:PORT
 * (def_port when none). A name is only checked here, never resolved:
 * `wicketd -n` and a reload must not wait on DNS (radius.c resolves it
 * on the event loop). NULL, or the reason it is refused. */
static const char *
radsrv_parse(const char *v, uint16_t def_port, struct conf_radsrv *rs)
{
	const char *colon = strrchr(v, ':');
	struct wk_ip ip;
	size_t hlen = colon ? (size_t)(colon - v) : strlen(v);
	char *end;
	unsigned long port = def_port;

	memset(rs, 0, sizeof(*rs));
	if (addr_ip_parse(v, &ip) == 0) {
		if (ip.family == AF_INET) {
			rs->sa.sin.sin_family = AF_INET;
			rs->sa.sin.sin_addr = ip.u.v4;
			rs->sa.sin.sin_port = htons(def_port);
		} else {
			rs->sa.sin6.sin6_family = AF_INET6;
			rs->sa.sin6.sin6_addr = ip.u.v6;
			rs->sa.sin6.sin6_port = htons(def_port);
		}
		rs->port = def_port;
		return NULL;
	}
	if (addr_hostport_parse(v, &rs->sa) == 0) {
		rs->port = addr_sa_port(&rs->sa.sa);
		return NULL;
	}
	memset(rs, 0, sizeof(*rs));
	/* An IPv6 address with a port needs its brackets; anything else with
	 * brackets or a second colon is no name either. */
	if (v[0] == '[' || memchr(v, ':', hlen) != NULL)
		return "expected ADDRESS, NAME, ADDRESS:PORT, NAME:PORT or [IPv6]:PORT";
	if (colon != NULL) {
		if (colon[1] < '0' || colon[1] > '9')
			return "expected a port number 1-65535 after ':'";
		port = strtoul(colon + 1, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			return "expected a port number 1-65535 after ':'";
	}
	if (hlen == 0 || hlen >= sizeof(rs->name))
		return "expected ADDRESS, NAME, ADDRESS:PORT, NAME:PORT or [IPv6]:PORT";
	memcpy(rs->name, v, hlen);
	rs->name[hlen] = '\0';
	if (!is_rfc1123_name(rs->name)) {
		memset(rs, 0, sizeof(*rs));
		return "expected an address or a host name (RFC 1123: letters, "
		    "digits and '-' in dot-separated labels)";
	}
	rs->port = (uint16_t)port;
	return NULL;
}

/* Copy a string into a fixed field, failing if it does not fit. */
static int
put_str(char *dst, size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n >= size)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* Store one numeric value of width 4 or 8 bytes. */
static void
put_num(const struct ckey *k, struct wk_conf *c, uint64_t v)
{
	if (k->max > UINT32_MAX)
		*(uint64_t *)(void *)((char *)c + k->off) = v;
	else
		*(uint32_t *)(void *)((char *)c + k->off) = (uint32_t)v;
}

/* Add one element to a list-valued key; returns an error text or NULL. */
static const char *
add_item(const struct ckey *k, struct wk_conf *c, const char *v)
{
	size_t *cnt = (size_t *)(void *)((char *)c + k->cnt_off);
	char *base = (char *)c + k->off;

	if (*cnt >= k->size)
		return "too many values for this key";
	switch (k->type) {
	case T_LISTEN: {
		union wk_sockaddr *sa = (union wk_sockaddr *)(void *)base + *cnt;
		if (addr_hostport_parse(v, sa) < 0)
			return "expected ADDRESS:PORT or [IPv6]:PORT";
		break;
	}
	case T_METHODS: {
		char(*m)[33] = (char(*)[33])(void *)base;
		if (!is_token(v) || put_str(m[*cnt], sizeof(m[0]), v) < 0)
			return "expected HTTP method names";
		break;
	}
	case T_PROBE: {
		char(*p)[128] = (char(*)[128])(void *)base;
		if (v[0] != '/' || strpbrk(v, "?# \t") != NULL ||
		    put_str(p[*cnt], sizeof(p[0]), v) < 0)
			return "expected a path starting with '/' (no query)";
		break;
	}
	case T_CIDR:
	case T_CIDRPORT: {
		struct wk_cidr *cd = (struct wk_cidr *)(void *)base + *cnt;
		if (addr_cidr_parse(v, k->type == T_CIDRPORT, cd) < 0)
			return k->type == T_CIDR ? "expected ADDRESS[/BITS]"
			    : "expected ADDRESS[/BITS][:PORT] ([v6/BITS]:PORT with a port)";
		break;
	}
	case T_HOST: {
		char(*h)[CONF_STR] = (char(*)[CONF_STR])(void *)base;
		if (!is_hostname(v) || put_str(h[*cnt], sizeof(h[0]), v) < 0)
			return "expected a host name";
		break;
	}
	case T_RADSRV: {
		struct conf_radsrv *rs = (struct conf_radsrv *)(void *)base + *cnt;
		const char *why = radsrv_parse(v, (uint16_t)k->min, rs);
		if (why != NULL)
			return why;
		break;
	}
	case T_IFNAME: {
		char(*f)[CONF_IFNAME] = (char(*)[CONF_IFNAME])(void *)base;
		if (strlen(v) >= CONF_IFNAME || strpbrk(v, "/ \t:") != NULL)
			return "expected an interface name";
		for (size_t i = 0; i < *cnt; i++)
			if (strcmp(f[i], v) == 0)
				return "interface given twice";
		if (put_str(f[*cnt], sizeof(f[0]), v) < 0)
			return "expected an interface name";
		break;
	}
	case T_MAC: {
		struct wk_mac *m = (struct wk_mac *)(void *)base + *cnt;
		if (addr_mac_parse(v, m) < 0)
			return "expected a MAC address aa:bb:cc:dd:ee:ff";
		if (!addr_mac_is_unicast(m))
			return "expected a unicast MAC address";
		break;
	}
	default:
		return "internal: not a list";
	}
	(*cnt)++;
	return NULL;
}

/* Apply a single (non-list) value; returns an error text or NULL. */
static const char *
set_value(const struct ckey *k, struct wk_conf *c, const char *v)
{
	char *dst = (char *)c + k->off;
	uint64_t n;

	switch (k->type) {
	case T_STR:
		if (strlen(v) < k->min || put_str(dst, k->size, v) < 0)
			return "string empty or too long";
		if (strpbrk(v, "\"\\<>&") != NULL)
			return "characters \" \\ < > & are not allowed here";
		return NULL;
	case T_GWID:
		/* It is signed into every link (docs/grants.md): a value the
		 * token charset refuses would leave every 511 without one. */
		if (!token_gw_valid(v) || put_str(dst, k->size, v) < 0)
			return "expected 1 to 64 characters of A-Z a-z 0-9 . _ -";
		return NULL;
	case T_PATH:
		if (v[0] != '/' && strcmp(v, "-") != 0)
			return "expected an absolute path";
		return put_str(dst, k->size, v) < 0 ? "path too long" : NULL;
	case T_URL:
		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			return "expected an http:// or https:// URL";
		if (strpbrk(v, "\"<>'` \t") != NULL)
			return "URL contains a character that must be percent-encoded";
		return put_str(dst, k->size, v) < 0 ? "URL too long" : NULL;
	case T_U32:
	case T_SIZE:
	case T_SECS:
		if (parse_num(v, k->type == T_SIZE, k->type == T_SECS, &n) < 0)
			return k->type == T_SECS ? "expected seconds (suffix s, m, h or d allowed)"
			    : k->type == T_SIZE ? "expected a byte count (suffix K, M or G allowed)"
			    : "expected a number";
		if (n < k->min || n > k->max)
			return "value out of range";
		put_num(k, c, n);
		return NULL;
	case T_PROBE_ANSWER:
		if (strcmp(v, "302") == 0)
			c->probe_answer = PROBE_302;
		else if (strcmp(v, "511") == 0)
			c->probe_answer = PROBE_511;
		else
			return "expected 302 or 511";
		return NULL;
	case T_HOSTNAME:
		if (!is_hostname(v))
			return "expected a host name";
		return put_str(dst, k->size, v) < 0 ? "too long" : NULL;
	case T_TEXT:
		/* Free text shown on a page (HTML-escaped there): printable
		 * ASCII or UTF-8, no control characters. */
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return "control characters are not allowed";
		return put_str(dst, k->size, v) < 0 ? "too long" : NULL;
	case T_BOOL:
		/* on/off read as yes/no (radius_mac_auth on|off). */
		if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
			*(bool *)(void *)dst = true;
		else if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
			*(bool *)(void *)dst = false;
		else
			return "expected yes or no";
		return NULL;
	case T_FIREWALL:
		if (strcmp(v, "none") == 0)
			c->firewall = FIREWALL_NONE;
		else if (strcmp(v, "nft") == 0)
			c->firewall = FIREWALL_NFT;
		else
			return "expected none or nft";
		return NULL;
	case T_FORWARD:
		if (strcmp(v, "proxy") == 0)
			c->forward = FORWARD_PROXY;
		else if (strcmp(v, "kernel") == 0)
			c->forward = FORWARD_KERNEL;
		else
			return "expected proxy or kernel";
		return NULL;
	case T_RADFAIL:
		if (strcmp(v, "closed") == 0)
			c->radius_fail = RADIUS_FAIL_CLOSED;
		else if (strcmp(v, "open") == 0)
			c->radius_fail = RADIUS_FAIL_OPEN;
		else
			return "expected closed or open";
		return NULL;
	case T_FACILITY:
		if (strcmp(v, "none") != 0 && conf_syslog_facility(v) < 0)
			return "expected none, user, daemon, auth, authpriv or local0 to local7";
		return put_str(dst, k->size, v) < 0 ? "too long" : NULL;
	case T_PORTAL:
		if (strcmp(v, "splash") == 0)
			c->portal = PORTAL_MODE_SPLASH;
		else if (strcmp(v, "radius") == 0)
			c->portal = PORTAL_MODE_RADIUS;
		else
			return "expected splash or radius";
		return NULL;
	case T_LOGLEVEL:
		if (strcmp(v, "error") && strcmp(v, "warning") && strcmp(v, "info") &&
		    strcmp(v, "debug"))
			return "expected error, warning, info or debug";
		return put_str(dst, k->size, v) < 0 ? "too long" : NULL;
	default:
		return "internal: not a single value";
	}
}

/* True for list-valued keys (repeatable). */
static bool
is_list(const struct ckey *k)
{
	return k->cnt_off != 0;
}

/* Apply a list key's words (several per line allowed for method and probe
 * lists; "none" empties a list). */
static const char *
set_list(const struct ckey *k, struct wk_conf *c, char *v, bool first)
{
	size_t *cnt = (size_t *)(void *)((char *)c + k->cnt_off);
	const char *why;
	char *save = NULL, *w;

	if (first)
		*cnt = 0; /* the first line in the file replaces the default */
	if (strcmp(v, "none") == 0)
		return *cnt == 0 ? NULL : "'none' must be the only value";
	for (w = strtok_r(v, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save))
		if ((why = add_item(k, c, w)) != NULL)
			return why;
	return NULL;
}

/* Look a key up by name. */
static const struct ckey *
find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Fill every field with its documented default. */
void
conf_defaults(struct wk_conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		char buf[1024];
		const char *why;
		snprintf(buf, sizeof(buf), "%s", keys[i].def);
		if (is_list(&keys[i]))
			why = set_list(&keys[i], c, buf, true);
		else if (buf[0] == '\0')
			why = NULL;
		else
			why = set_value(&keys[i], c, buf);
		if (why != NULL)
			abort(); /* a bad default is a programming error */
	}
}

/* The rules that tie keys together, for a parsed file and again for the
 * configuration a reload would run with (new values of the keys a reload
 * applies, running values of the others). */
static void
conf_cross_check(const struct wk_conf *c, const char *fname,
    struct conf_errors *errs)
{
	if (c->n_listen == 0)
		conf_error(errs, fname, 0, "at least one listen address is required");
	if (c->n_tls_listen > 0 && (c->tls_cert[0] == '\0' ||
		c->tls_key[0] == '\0' || c->portal_host[0] == '\0'))
		conf_error(errs, fname, c->key_line[find_key("tls_listen") - keys],
		    "tls_listen: needs tls_cert, tls_key and portal_host (the name "
		    "in the certificate)");
	if (c->max_request_line > c->max_header_bytes)
		conf_error(errs, fname, 0,
		    "max_request_line must not exceed max_header_bytes");
	if ((c->radius_mac_auth || c->portal == PORTAL_MODE_RADIUS) &&
	    c->n_radius_auth == 0)
		conf_error(errs, fname, 0,
		    "radius_mac_auth on and portal radius need a radius_auth server");
	if ((c->n_radius_auth > 0 || c->n_radius_acct > 0 || c->n_radius_coa > 0) &&
	    c->radius_secret_file[0] == '\0')
		conf_error(errs, fname, 0,
		    "radius_auth, radius_acct and radius_coa need radius_secret_file");
	if (c->forward == FORWARD_KERNEL && c->firewall != FIREWALL_NFT)
		conf_error(errs, fname, c->key_line[find_key("forward") - keys],
		    "forward: kernel needs firewall nft (the bypass matches the "
		    "admitted-client sets wicketd keeps)");
	if (c->n_radius_coa > 0 && c->n_radius_coa_client == 0)
		conf_error(errs, fname, 0,
		    "radius_coa needs at least one radius_coa_client address");
}

/* Check the cross-key rules of an assembled configuration (a reload's
 * merge); 0, or -1 with FILE: messages in errs. */
int
conf_recheck(const struct wk_conf *c, const char *fname, struct conf_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
	conf_cross_check(c, fname, errs);
	return errs->count == 0 ? 0 : -1;
}

/* Parse configuration text. Unknown keys, bad values and repeated
 * single-valued keys are errors; returns 0 when there were none. */
int
conf_parse(struct wk_conf *c, const char *text, size_t len, const char *fname,
    struct conf_errors *errs)
{
	bool seen[NKEYS] = { false };
	unsigned lineno = 0;
	size_t pos = 0;

	memset(errs, 0, sizeof(*errs));
	while (pos < len) {
		char line[2048], *p, *key, *val, *end;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n >= sizeof(line)) {
			conf_error(errs, fname, lineno, "line too long");
			pos += n + 1;
			continue;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (memchr(line, '\0', n) != NULL || strchr(line, '\r') != NULL) {
			conf_error(errs, fname, lineno, "NUL or CR in line");
			continue;
		}
		/* A '#' that starts a word begins a comment. */
		for (p = line; *p; p++)
			if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
				*p = '\0';
				break;
			}
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0')
			continue;
		key = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		val = p;
		end = val + strlen(val);
		while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';

		const struct ckey *k = find_key(key);
		if (k == NULL) {
			conf_error(errs, fname, lineno, "unknown key '%s'", key);
			continue;
		}
		if (*val == '\0') {
			conf_error(errs, fname, lineno, "%s: missing value", key);
			continue;
		}
		size_t idx = (size_t)(k - keys);
		if (seen[idx] && !is_list(k)) {
			conf_error(errs, fname, lineno, "%s: repeated key", key);
			continue;
		}
		const char *why = is_list(k) ? set_list(k, c, val, !seen[idx])
					     : set_value(k, c, val);
		seen[idx] = true;
		c->key_line[idx] = lineno;
		if (why != NULL)
			conf_error(errs, fname, lineno, "%s: %s: '%s'", key, why, val);
	}
	conf_cross_check(c, fname, errs);
	return errs->count == 0 ? 0 : -1;
}

/* Report a problem found with a key's value after parsing (a file it
 * names is missing, say) as "FILE:LINE: key: why", the line being where
 * the key was set (none for a default). */
void
conf_key_error(struct conf_errors *errs, const struct wk_conf *c,
    const char *fname, const char *key, const char *why)
{
	const struct ckey *k = find_key(key);
	unsigned line = k != NULL ? c->key_line[k - keys] : 0;

	conf_error(errs, fname, line, "%s: %s", key, why);
}

/* Read and parse a configuration file (bounded to 1 MiB). */
int
conf_load(struct wk_conf *c, const char *path, struct conf_errors *errs)
{
	static char buf[1 << 20];
	ssize_t n;
	size_t len = 0;
	int fd;

	memset(errs, 0, sizeof(*errs));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		conf_error(errs, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len == sizeof(buf)) {
		conf_error(errs, path, 0, n < 0 ? "read error" : "file larger than 1 MiB");
		close(fd);
		return -1;
	}
	close(fd);
	return conf_parse(c, buf, len, path, errs);
}
