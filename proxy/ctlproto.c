/* ctlproto: the control protocol's pure core. Requests are parsed strictly
 * (nothing guessed); answers are formatted into caller buffers one item at
 * a time so that a list of any length streams. No I/O, no clock. */
#include "ctlproto.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "jsonw.h"

#define CTL_MAX_TOKENS 8	/* more than any command takes */
#define CTL_SHOW_TOKEN 40	/* bytes of a bad argument quoted back */

/* One command of the grammar: its name, positional arguments and usage. */
struct ctl_verb {
	const char *name;
	enum ctl_op op;
	unsigned min, max;	/* positional arguments */
	bool json;		/* accepts --json */
	bool prometheus;	/* accepts --prometheus */
	const char *usage;
};

static const struct ctl_verb ctl_verbs[] = {
	{ "allow", CTL_ALLOW, 1, 2, false, false, "allow MAC [DURATION]" },
	{ "deny", CTL_DENY, 1, 1, false, false, "deny MAC" },
	{ "list", CTL_LIST, 0, 0, true, false, "list [--json]" },
	{ "show", CTL_SHOW, 1, 1, true, false, "show [--json] MAC|IP" },
	{ "stats", CTL_STATS, 0, 0, true, true, "stats [--json | --prometheus]" },
	{ "reload", CTL_RELOAD, 0, 0, false, false, "reload" },
};
#define CTL_NVERBS (sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))

/* An output buffer that remembers whether anything did not fit. */
struct ctl_out {
	char *buf;
	size_t size, len;
	bool overflow;
};

/* Start writing into buf (size >= 1). */
static void
out_init(struct ctl_out *o, char *buf, size_t size)
{
	o->buf = buf;
	o->size = size;
	o->len = 0;
	o->overflow = size == 0;
	if (size > 0)
		buf[0] = '\0';
}

/* Append bytes, keeping the buffer NUL-terminated. */
static void
out_add(struct ctl_out *o, const char *s, size_t n)
{
	if (o->overflow || o->len + n + 1 > o->size) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* Append a string. */
static void
out_str(struct ctl_out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* Append printf-formatted text. */
__attribute__((format(printf, 2, 3)))
static void
out_fmt(struct ctl_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->overflow = true;
		o->buf[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
}

/* The length written, or 0 (and an empty string) when it did not fit. */
static size_t
out_done(struct ctl_out *o)
{
	if (o->overflow) {
		if (o->size > 0)
			o->buf[0] = '\0';
		return 0;
	}
	return o->len;
}

/* Copy a token for an error message: printable ASCII only, bounded. */
static void
ctl_quote(const char *tok, char out[CTL_SHOW_TOKEN + 4])
{
	size_t n = strlen(tok), i;

	for (i = 0; i < n && i < CTL_SHOW_TOKEN; i++) {
		unsigned char c = (unsigned char)tok[i];
		out[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	if (n > CTL_SHOW_TOKEN) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* Write an error message and fail. */
__attribute__((format(printf, 3, 4)))
static int
ctl_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
	return -1;
}

/* Parse a MAC argument: exact colon (or dash) form, a unicast station. */
static int
ctl_parse_mac(const char *tok, struct wk_mac *mac, char *err, size_t errlen)
{
	char q[CTL_SHOW_TOKEN + 4];

	ctl_quote(tok, q);
	if (addr_mac_parse(tok, mac) < 0)
		return ctl_fail(err, errlen,
		    "bad MAC address \"%s\" (expected aa:bb:cc:dd:ee:ff)", q);
	if (!addr_mac_is_unicast(mac))
		return ctl_fail(err, errlen,
		    "bad MAC address \"%s\": not a unicast station address", q);
	return 0;
}

/* Parse a DURATION argument with the configuration's syntax (seconds, or
 * a number with s, m, h or d: "90", "30m", "1h"), 1..CTL_MAX_SECONDS. */
static int
ctl_parse_seconds(const char *tok, uint64_t *out, char *err, size_t errlen)
{
	char q[CTL_SHOW_TOKEN + 4];
	uint64_t v = 0;

	if (conf_parse_duration(tok, &v) < 0 || v < 1 || v > CTL_MAX_SECONDS) {
		ctl_quote(tok, q);
		return ctl_fail(err, errlen, "bad duration \"%s\" (expected 1..%u "
		    "seconds, or a number with s, m, h or d, at most 365d)", q,
		    CTL_MAX_SECONDS);
	}
	*out = v;
	return 0;
}

/* Parse one request line (a trailing LF or CRLF is allowed) into out.
 * 0, or -1 with the exact message for the `error` status line in err. */
int
ctlproto_parse(const char *line, size_t len, struct ctl_cmd *out, char *err,
    size_t errlen)
{
	char buf[CTL_LINE_MAX + 1], q[CTL_SHOW_TOKEN + 4];
	char *tok[CTL_MAX_TOKENS], *pos[CTL_MAX_TOKENS];
	const struct ctl_verb *verb = NULL;
	size_t ntok = 0, npos = 0, i;

	memset(out, 0, sizeof(*out));
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > CTL_LINE_MAX)
		return ctl_fail(err, errlen, "request too long (more than %u bytes)",
		    CTL_LINE_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return ctl_fail(err, errlen, "control character in request");
		buf[i] = c == '\t' ? ' ' : (char)c;
	}
	buf[len] = '\0';
	for (char *p = buf; *p != '\0';) {
		while (*p == ' ')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (ntok == CTL_MAX_TOKENS) {
			ntok++;
			break;
		}
		tok[ntok++] = p;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	if (ntok == 0)
		return ctl_fail(err, errlen, "empty request");
	for (i = 0; i < CTL_NVERBS; i++)
		if (strcmp(tok[0], ctl_verbs[i].name) == 0)
			verb = &ctl_verbs[i];
	if (verb == NULL) {
		ctl_quote(tok[0], q);
		return ctl_fail(err, errlen, "unknown command \"%s\" (commands: "
		    "allow, deny, list, show, stats, reload)", q);
	}
	out->op = verb->op;
	if (ntok > CTL_MAX_TOKENS)
		return ctl_fail(err, errlen, "too many arguments (usage: %s)",
		    verb->usage);
	for (i = 1; i < ntok; i++) {
		if (verb->json && tok[i][0] == '-' && tok[i][1] != '\0') {
			bool prom = verb->prometheus && strcmp(tok[i], "--prometheus") == 0;
			if (strcmp(tok[i], "--json") != 0 && !prom) {
				ctl_quote(tok[i], q);
				return ctl_fail(err, errlen,
				    "unknown option \"%s\" (usage: %s)", q, verb->usage);
			}
			if ((prom && out->prometheus) || (!prom && out->json))
				return ctl_fail(err, errlen,
				    "%s given twice (usage: %s)", tok[i], verb->usage);
			if (prom ? out->json : out->prometheus)
				return ctl_fail(err, errlen, "--json and --prometheus "
				    "exclude each other (usage: %s)", verb->usage);
			if (prom)
				out->prometheus = true;
			else
				out->json = true;
			continue;
		}
		pos[npos++] = tok[i];
	}
	if (npos < verb->min)
		return ctl_fail(err, errlen, "missing argument (usage: %s)",
		    verb->usage);
	if (npos > verb->max)
		return ctl_fail(err, errlen, "too many arguments (usage: %s)",
		    verb->usage);
	switch (verb->op) {
	case CTL_ALLOW:
		if (ctl_parse_mac(pos[0], &out->mac, err, errlen) < 0)
			return -1;
		if (npos == 2 && ctl_parse_seconds(pos[1], &out->seconds, err,
		    errlen) < 0)
			return -1;
		break;
	case CTL_DENY:
		return ctl_parse_mac(pos[0], &out->mac, err, errlen);
	case CTL_SHOW:
		if (addr_mac_parse(pos[0], &out->mac) == 0)
			break;
		if (addr_ip_parse(pos[0], &out->ip) == 0) {
			out->by_ip = true;
			break;
		}
		ctl_quote(pos[0], q);
		return ctl_fail(err, errlen, "bad address \"%s\" (expected a MAC "
		    "or an IP address)", q);
	case CTL_LIST:
	case CTL_STATS:
	case CTL_RELOAD:
		break;
	}
	return 0;
}

/* The command's name as typed. */
const char *
ctlproto_op_name(enum ctl_op op)
{
	for (size_t i = 0; i < CTL_NVERBS; i++)
		if (ctl_verbs[i].op == op)
			return ctl_verbs[i].name;
	return "?";
}

/* True when word names a command of this protocol version (wicketctl
 * checks those locally and passes any other word on to the daemon). */
bool
ctlproto_is_command(const char *word)
{
	for (size_t i = 0; i < CTL_NVERBS; i++)
		if (strcmp(word, ctl_verbs[i].name) == 0)
			return true;
	return false;
}

/* The status line of a successful answer (payload and ctlproto_end follow). */
size_t
ctlproto_ok(char *buf, size_t size)
{
	struct ctl_out o;

	out_init(&o, buf, size);
	out_str(&o, "ok\n");
	return out_done(&o);
}

/* The end of an answer: the empty line. */
size_t
ctlproto_end(char *buf, size_t size)
{
	struct ctl_out o;

	out_init(&o, buf, size);
	out_str(&o, "\n");
	return out_done(&o);
}

/* A whole error answer: "error " and the first line of reason, its other
 * lines as payload, then the empty line. Empty lines are dropped and control
 * bytes become '?', so the reason cannot end the answer early; a reason
 * too long for buf is cut at a line boundary. */
size_t
ctlproto_error(const char *reason, char *buf, size_t size)
{
	const char *p = reason != NULL ? reason : "";
	bool first = true;
	struct ctl_out o;

	out_init(&o, buf, size);
	out_str(&o, "error ");
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		const char *line = p;
		/* room for this line, its separator, the end "\n\n" and NUL */
		size_t room = o.len + 4 <= size ? size - o.len - 4 : 0;

		p += nl != NULL ? n + 1 : n;
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (n == 0)
			continue;
		if (n > room) {
			if (!first)
				break;
			n = room;	/* cut the first line rather than lose it */
		}
		if (!first)
			out_str(&o, "\n");
		for (size_t i = 0; i < n; i++) {
			char c = (unsigned char)line[i] >= 0x20 && line[i] != 0x7f
			    ? line[i] : '?';
			out_add(&o, &c, 1);
		}
		first = false;
	}
	if (first)
		out_str(&o, "unknown error");
	out_str(&o, "\n\n");
	return out_done(&o);
}

/* Format Unix seconds as RFC 3339 UTC ("2026-01-02T03:04:05Z"), or
 * "never" for SESSION_FOREVER. */
void
ctlproto_time(uint64_t unix_s, char out[CTL_TS_LEN])
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (unix_s == SESSION_FOREVER) {
		snprintf(out, CTL_TS_LEN, "never");
		return;
	}
	if (unix_s > (uint64_t)253402300799ULL || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, CTL_TS_LEN, "9999-12-31T23:59:59Z");
		return;
	}
	if (strftime(out, CTL_TS_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, CTL_TS_LEN, "9999-12-31T23:59:59Z");
}

/* Format a registry time (monotonic milliseconds) as wall-clock RFC 3339. */
void
ctlproto_mono_time(const struct ctl_clock *clk, uint64_t mono_ms,
    char out[CTL_TS_LEN])
{
	uint64_t ago = mono_ms <= clk->mono_ms ? clk->mono_ms - mono_ms : 0;
	uint64_t wall = ago <= clk->wall_ms ? clk->wall_ms - ago : 0;

	ctlproto_time(wall / 1000, out);
}

/* The state a view shows: the table's state, except that an admitted
 * session already past a limit (not yet swept) shows as expired. */
static const char *
view_state(const struct ctl_view *v, const char **reason)
{
	const struct session *s = v->s;

	*reason = NULL;
	if (s->state == SESSION_ADMITTED && v->why == SESSION_R_NONE)
		return session_state_name(SESSION_ADMITTED);
	if (s->state == SESSION_REVOKED) {
		*reason = session_reason_name(SESSION_R_REVOKED);
		return session_state_name(SESSION_REVOKED);
	}
	if (s->state == SESSION_ADMITTED)
		*reason = session_reason_name(v->why == SESSION_R_REVOKED ||
		    v->why == SESSION_R_UNKNOWN ? SESSION_R_TIMEOUT : v->why);
	else
		*reason = session_reason_name(s->reason == SESSION_R_NONE ?
		    SESSION_R_TIMEOUT : s->reason);
	return session_state_name(SESSION_EXPIRED);
}

/* Seconds left of an admitted session with a hard end; false otherwise. */
static bool
view_remaining(const struct ctl_view *v, const struct ctl_clock *clk,
    uint64_t *left)
{
	uint64_t now = clk->wall_ms / 1000;
	const char *r;

	view_state(v, &r);
	if (r != NULL || v->s->expires == SESSION_FOREVER)
		return false;
	*left = v->s->expires > now ? v->s->expires - now : 0;
	return true;
}

/* Add a member whose value is already JSON text (an object or an array).
 * Keys are our own plain-ASCII constants, so they need no escaping; the
 * room check mirrors jsonw's, which keeps space for the closing "}\n". */
static void
json_raw(struct jsonw *j, const char *k, const char *val, size_t n)
{
	size_t kl = strlen(k), need = (j->first ? 0 : 1) + kl + 3 + n;

	if (j->overflow || j->len + need + 2 >= j->size) {
		j->overflow = true;
		return;
	}
	if (!j->first)
		j->buf[j->len++] = ',';
	j->first = false;
	j->buf[j->len++] = '"';
	memcpy(j->buf + j->len, k, kl);
	j->len += kl;
	j->buf[j->len++] = '"';
	j->buf[j->len++] = ':';
	memcpy(j->buf + j->len, val, n);
	j->len += n;
}

/* Close a nested object built with jsonw and return its length without the
 * newline jsonw_end adds; 0 when it did not fit. */
static size_t
json_close(struct jsonw *j)
{
	size_t n = jsonw_end(j);

	return n > 0 ? n - 1 : 0;
}

/* Add a nested object member from a finished sub-writer (null if it did
 * not fit, which marks the outer object as overflowed too). */
static void
json_sub(struct jsonw *j, const char *k, struct jsonw *sub)
{
	size_t n = json_close(sub);

	if (n == 0) {
		j->overflow = true;
		return;
	}
	json_raw(j, k, sub->buf, n);
}

/* Add a timestamp member (null for never). */
static void
json_time(struct jsonw *j, const char *k, uint64_t unix_s)
{
	char ts[CTL_TS_LEN];

	if (unix_s == SESSION_FOREVER) {
		jsonw_null(j, k);
		return;
	}
	ctlproto_time(unix_s, ts);
	jsonw_str(j, k, ts);
}

/* Add the session members of a view (state, source, times, bytes). */
static void
json_session_members(struct jsonw *j, const struct ctl_view *v,
    const struct ctl_clock *clk)
{
	const struct session *s = v->s;
	const char *reason, *state = view_state(v, &reason);
	uint64_t left;

	jsonw_str(j, "state", state);
	jsonw_str(j, "reason", reason);
	jsonw_str(j, "source", session_source_name(s->source));
	json_time(j, "start", s->start);
	json_time(j, "expires", s->expires);
	if (view_remaining(v, clk, &left))
		jsonw_uint(j, "remaining", left);
	else
		jsonw_null(j, "remaining");
	json_time(j, "last_activity", s->last_seen);
	if (s->ended != 0 && reason != NULL)
		json_time(j, "ended", s->ended);
	else
		jsonw_null(j, "ended");
	jsonw_uint(j, "bytes", s->bytes);
}

/* Add "ips": the client's current addresses as an array of strings. */
static void
json_ips(struct jsonw *j, const struct client_ident *ci)
{
	char arr[REGISTRY_MAX_ADDRS * (WK_IP_STRLEN + 3) + 3], ip[WK_IP_STRLEN];
	struct ctl_out o;

	out_init(&o, arr, sizeof(arr));
	out_str(&o, "[");
	for (unsigned i = 0; ci != NULL && i < ci->naddrs && i < REGISTRY_MAX_ADDRS; i++) {
		addr_ip_format(&ci->addrs[i].ip, ip);
		out_fmt(&o, "%s\"%s\"", i > 0 ? "," : "", ip);
	}
	out_str(&o, "]");
	if (o.overflow) {
		j->overflow = true;
		return;
	}
	json_raw(j, "ips", arr, o.len);
}

/* The start of a list: the text header, or the JSON array's "[". */
size_t
ctlproto_list_begin(bool json, char *buf, size_t size)
{
	struct ctl_out o;

	out_init(&o, buf, size);
	if (json)
		out_str(&o, "[");
	else
		out_fmt(&o, "%-17s  %-15s  %-6s  %-20s  %-20s  %12s  %s\n", "MAC",
		    "STATE", "SOURCE", "START", "EXPIRES", "BYTES", "ADDRESSES");
	return out_done(&o);
}

/* One session of a list: a text row, or a JSON object on its own line
 * (preceded by ",\n" after the first, index counting items written). */
size_t
ctlproto_list_item(bool json, size_t index, const struct ctl_view *v,
    const struct ctl_clock *clk, char *buf, size_t size)
{
	char mac[WK_MAC_STRLEN], start[CTL_TS_LEN], end[CTL_TS_LEN];
	char ip[WK_IP_STRLEN], state[40];
	const char *reason, *st;
	struct ctl_out o;
	struct jsonw j;
	size_t n, skip;

	if (v->s == NULL || size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	addr_mac_format(&v->mac, mac);
	if (json) {
		skip = index == 0 ? 1 : 2;
		memcpy(buf, index == 0 ? "\n" : ",\n", skip);
		jsonw_begin(&j, buf + skip, size - skip);
		jsonw_str(&j, "mac", mac);
		json_session_members(&j, v, clk);
		json_ips(&j, v->ci);
		n = json_close(&j);
		if (n == 0 || skip + n >= size) {
			buf[0] = '\0';
			return 0;
		}
		buf[skip + n] = '\0';
		return skip + n;
	}
	st = view_state(v, &reason);
	if (reason != NULL && strcmp(reason, st) != 0)
		snprintf(state, sizeof(state), "%s/%s", st, reason);
	else
		snprintf(state, sizeof(state), "%s", st);
	ctlproto_time(v->s->start, start);
	ctlproto_time(v->s->expires, end);
	out_init(&o, buf, size);
	out_fmt(&o, "%-17s  %-15s  %-6s  %-20s  %-20s  %12llu  ", mac, state,
	    session_source_name(v->s->source), start, end,
	    (unsigned long long)v->s->bytes);
	if (v->ci == NULL || v->ci->naddrs == 0)
		out_str(&o, "-");
	for (unsigned i = 0; v->ci != NULL && i < v->ci->naddrs &&
	    i < REGISTRY_MAX_ADDRS; i++) {
		addr_ip_format(&v->ci->addrs[i].ip, ip);
		out_fmt(&o, "%s%s", i > 0 ? "," : "", ip);
	}
	out_str(&o, "\n");
	return out_done(&o);
}

/* The end of a list: nothing in text, "\n]\n" closing the JSON array. */
size_t
ctlproto_list_end(bool json, size_t count, char *buf, size_t size)
{
	struct ctl_out o;

	(void)count;
	out_init(&o, buf, size);
	if (json)
		out_str(&o, "\n]\n");
	return out_done(&o);
}

/* The registry part of `show` as JSON: an object, or null when unknown. */
static void
show_json_client(struct jsonw *j, const struct ctl_view *v,
    const struct ctl_clock *clk)
{
	const struct client_ident *ci = v->ci;
	char arr[REGISTRY_MAX_ADDRS * 256 + 3], obj[sizeof(arr) + 512], a[256];
	char ts[CTL_TS_LEN], s[WK_IP_STRLEN + WK_MAC_STRLEN];
	struct jsonw c, e;
	struct ctl_out o;
	size_t n;

	if (ci == NULL) {
		jsonw_null(j, "client");
		return;
	}
	jsonw_begin(&c, obj, sizeof(obj));
	jsonw_bool(&c, "randomised", ci->randomised);
	jsonw_bool(&c, "conflict", ci->conflict);
	if (ci->conflict) {
		addr_mac_format(&ci->rival, s);
		jsonw_str(&c, "rival", s);
	} else {
		jsonw_null(&c, "rival");
	}
	ctlproto_mono_time(clk, ci->first_seen_ms, ts);
	jsonw_str(&c, "first_seen", ts);
	ctlproto_mono_time(clk, ci->last_seen_ms, ts);
	jsonw_str(&c, "last_seen", ts);
	out_init(&o, arr, sizeof(arr));
	out_str(&o, "[");
	for (unsigned i = 0; i < ci->naddrs && i < REGISTRY_MAX_ADDRS; i++) {
		const struct registry_addr *ra = &ci->addrs[i];
		jsonw_begin(&e, a, sizeof(a));
		addr_ip_format(&ra->ip, s);
		jsonw_str(&e, "ip", s);
		ctlproto_mono_time(clk, ra->last_seen_ms, ts);
		jsonw_str(&e, "last_seen", ts);
		jsonw_bool(&e, "conflict", ra->conflict);
		if (ra->conflict) {
			addr_mac_format(&ra->rival, s);
			jsonw_str(&e, "rival", s);
		} else {
			jsonw_null(&e, "rival");
		}
		n = json_close(&e);
		if (n == 0) {
			o.overflow = true;
			break;
		}
		if (i > 0)
			out_str(&o, ",");
		out_add(&o, a, n);
	}
	out_str(&o, "]");
	if (o.overflow)
		c.overflow = true;
	else
		json_raw(&c, "addresses", arr, o.len);
	json_sub(j, "client", &c);
}

/* `show` as one JSON object on one line. */
static size_t
show_json(const struct ctl_view *v, const struct ctl_clock *clk, char *buf,
    size_t size)
{
	char mac[WK_MAC_STRLEN], ip[WK_IP_STRLEN], sess[1024];
	struct jsonw j, s;

	addr_mac_format(&v->mac, mac);
	jsonw_begin(&j, buf, size);
	jsonw_str(&j, "mac", mac);
	if (v->query != NULL) {
		addr_ip_format(v->query, ip);
		jsonw_str(&j, "query", ip);
	}
	show_json_client(&j, v, clk);
	if (v->s == NULL) {
		jsonw_null(&j, "session");
	} else {
		jsonw_begin(&s, sess, sizeof(sess));
		json_session_members(&s, v, clk);
		json_sub(&j, "session", &s);
	}
	return jsonw_end(&j);
}

/* `show` as "key: value" lines. */
static size_t
show_text(const struct ctl_view *v, const struct ctl_clock *clk, char *buf,
    size_t size)
{
	const struct client_ident *ci = v->ci;
	char s[WK_IP_STRLEN + WK_MAC_STRLEN], ts[CTL_TS_LEN];
	const char *reason, *state;
	struct ctl_out o;
	uint64_t left;

	out_init(&o, buf, size);
	addr_mac_format(&v->mac, s);
	out_fmt(&o, "mac: %s\n", s);
	if (v->query != NULL) {
		addr_ip_format(v->query, s);
		out_fmt(&o, "query: %s\n", s);
	}
	if (ci == NULL) {
		out_str(&o, "client: not seen on the LAN\n");
	} else {
		out_fmt(&o, "randomised: %s\n", ci->randomised ? "yes" : "no");
		if (ci->conflict) {
			addr_mac_format(&ci->rival, s);
			out_fmt(&o, "conflict: yes, with %s\n", s);
		} else {
			out_str(&o, "conflict: no\n");
		}
		ctlproto_mono_time(clk, ci->first_seen_ms, ts);
		out_fmt(&o, "first_seen: %s\n", ts);
		ctlproto_mono_time(clk, ci->last_seen_ms, ts);
		out_fmt(&o, "last_seen: %s\n", ts);
		if (ci->naddrs == 0)
			out_str(&o, "address: none\n");
		for (unsigned i = 0; i < ci->naddrs && i < REGISTRY_MAX_ADDRS; i++) {
			const struct registry_addr *ra = &ci->addrs[i];
			addr_ip_format(&ra->ip, s);
			ctlproto_mono_time(clk, ra->last_seen_ms, ts);
			out_fmt(&o, "address: %s (seen %s", s, ts);
			if (ra->conflict) {
				addr_mac_format(&ra->rival, s);
				out_fmt(&o, ", conflict with %s", s);
			}
			out_str(&o, ")\n");
		}
	}
	if (v->s == NULL) {
		out_str(&o, "session: none\n");
		return out_done(&o);
	}
	state = view_state(v, &reason);
	if (reason != NULL && strcmp(reason, state) != 0)
		out_fmt(&o, "session: %s (%s)\n", state, reason);
	else
		out_fmt(&o, "session: %s\n", state);
	out_fmt(&o, "source: %s\n", session_source_name(v->s->source));
	ctlproto_time(v->s->start, ts);
	out_fmt(&o, "start: %s\n", ts);
	ctlproto_time(v->s->expires, ts);
	out_fmt(&o, "expires: %s\n", ts);
	if (view_remaining(v, clk, &left))
		out_fmt(&o, "remaining: %llus\n", (unsigned long long)left);
	ctlproto_time(v->s->last_seen, ts);
	out_fmt(&o, "last_activity: %s\n", ts);
	if (reason != NULL && v->s->ended != 0) {
		ctlproto_time(v->s->ended, ts);
		out_fmt(&o, "ended: %s\n", ts);
	}
	out_fmt(&o, "bytes: %llu\n", (unsigned long long)v->s->bytes);
	return out_done(&o);
}

/* The payload of `show`: the registry record and the session of one client,
 * as text lines or one JSON object; 0 when buf is too small. */
size_t
ctlproto_show(bool json, const struct ctl_view *v,
    const struct ctl_clock *clk, char *buf, size_t size)
{
	size_t n;

	if (size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	if (!json)
		return show_text(v, clk, buf, size);
	n = show_json(v, clk, buf, size);
	if (n == 0 || n >= size) {
		buf[0] = '\0';
		return 0;
	}
	buf[n] = '\0';
	return n;
}

/* One figure of a stats section: where it is in struct ctl_stats, how
 * wide, what kind, its Prometheus family and label (NULL: its own metric)
 * and its help text. */
struct ctl_stat_field {
	const char *name;
	const char *prom;	/* Prometheus name after the section, if not name */
	enum stats_kind kind;
	size_t off;
	unsigned char width;
	const char *family, *label, *help;
};

#define CS(f) offsetof(struct ctl_stats, f), sizeof(((struct ctl_stats *)0)->f)
#define GATE_ROW(name, kind, family, label, help) \
	{ #name, NULL, kind, offsetof(struct ctl_stats, gate) + offsetof(struct gate_stats, name), \
	  sizeof(uint64_t), family, label, help },
#define REG(name, f, kind, help) { name, NULL, kind, offsetof(struct ctl_stats, reg) + \
	offsetof(struct registry_stats, f), sizeof(((struct registry_stats *)0)->f), NULL, NULL, help }
#define SNIFF(f, kind, help) { #f, NULL, kind, offsetof(struct ctl_stats, sniff) + \
	offsetof(struct sniff_stats, f), sizeof(((struct sniff_stats *)0)->f), NULL, NULL, help }

/* The sections, in order: the gate's counters come from stats.h; the
 * others are one line per figure. */
static const struct ctl_stat_field ctl_gate_rows[] = {
	{ "paused", NULL, STATS_BOOL, CS(paused), NULL, NULL, "accepting paused (max_connections, out of descriptors)" },
	{ "connections", NULL, STATS_GAUGE, CS(connections), NULL, NULL, "client connections open now" },
	GATE_STATS(GATE_ROW)
};
static const struct ctl_stat_field ctl_session_rows[] = {
	{ "total", "count", STATS_GAUGE, CS(sessions), NULL, NULL, "sessions in the table" },
	{ "admitted", NULL, STATS_GAUGE, CS(admitted), "by_state", "state=\"admitted\"",
	  "sessions in the table by state (ended ones are kept a while)" },
	{ "expired", NULL, STATS_GAUGE, CS(expired), "by_state", "state=\"expired\"", NULL },
	{ "revoked", NULL, STATS_GAUGE, CS(revoked), "by_state", "state=\"revoked\"", NULL },
};
static const struct ctl_stat_field ctl_registry_rows[] = {
	REG("clients", clients, STATS_GAUGE, "client records (the registry's size)"),
	REG("addresses", addrs, STATS_GAUGE, "IP bindings"),
	REG("max_clients", max_clients, STATS_GAUGE, "client records at most (max_clients)"),
	REG("learned", learned, STATS_COUNTER, "sightings learned"),
	REG("rejected", rejected, STATS_COUNTER, "sightings with an unusable address"),
	REG("new_clients", new_clients, STATS_COUNTER, "new client records"),
	REG("moves", moves, STATS_COUNTER, "clients that took a new address"),
	REG("conflicts", conflicts, STATS_COUNTER, "addresses claimed by two MACs"),
	REG("takeovers", takeovers, STATS_COUNTER, "addresses taken over by another MAC"),
	REG("evictions", evictions, STATS_COUNTER, "clients evicted because the table was full"),
	REG("expired", expired, STATS_COUNTER, "clients aged out"),
	REG("addresses_dropped", addrs_dropped, STATS_COUNTER, "addresses dropped for a per-client or pool limit"),
	REG("refused", refused, STATS_COUNTER, "sightings refused: the table is full of admitted clients"),
	REG("rate_limited", rate_limited, STATS_COUNTER, "frames over their source's or link's rate"),
	REG("admitted", pinned, STATS_GAUGE, "admitted client records (never evicted for strangers)"),
	REG("held_moves", held, STATS_COUNTER, "moves of admitted clients held for confirmation"),
};
static const struct ctl_stat_field ctl_sniffer_rows[] = {
	SNIFF(capturing, STATS_GAUGE, "LAN interfaces whose capture is open"),
	SNIFF(seen, STATS_COUNTER, "frames parsed"),
	SNIFF(learned, STATS_COUNTER, "frames that taught a binding"),
	SNIFF(ignored, STATS_COUNTER, "frames with nothing to learn"),
	SNIFF(malformed, STATS_COUNTER, "malformed frames"),
	SNIFF(mismatch, STATS_COUNTER, "frames whose advertised MAC is not their sender"),
	SNIFF(snapped, STATS_COUNTER, "frames captured shorter than sent"),
	SNIFF(errors, STATS_COUNTER, "capture errors (each closes and reopens the capture)"),
	SNIFF(reopens, STATS_COUNTER, "captures reopened after an error"),
	SNIFF(kernel_drops, STATS_COUNTER, "frames the kernel dropped before the sniffer read them"),
};
static const struct ctl_stat_field ctl_control_rows[] = {
	{ "clients", NULL, STATS_GAUGE, CS(ctl_clients), NULL, NULL, "control connections open now" },
	{ "requests", NULL, STATS_COUNTER, CS(ctl_requests), NULL, NULL, "control requests read" },
	{ "errors", NULL, STATS_COUNTER, CS(ctl_errors), NULL, NULL, "control requests answered with an error" },
	{ "rejected", NULL, STATS_COUNTER, CS(ctl_rejected), NULL, NULL, "control connections refused (limit, peer uid)" },
};
static const struct ctl_stat_field ctl_audit_rows[] = {
	{ "lines", NULL, STATS_COUNTER, CS(audit_lines), NULL, NULL, "audit lines produced (written + dropped + queued)" },
	{ "written", NULL, STATS_COUNTER, CS(audit_written), NULL, NULL, "audit lines written to the audit log" },
	{ "dropped", NULL, STATS_COUNTER, CS(audit_dropped), NULL, NULL, "audit lines dropped whole (full disk, I/O error, full queue)" },
	{ "syslog_sent", NULL, STATS_COUNTER, CS(syslog.sent), NULL, NULL, "audit lines sent to syslog (audit_syslog)" },
	{ "syslog_dropped", NULL, STATS_COUNTER, CS(syslog.dropped), NULL, NULL,
	  "audit lines syslog did not take at once (dropped, never waited for)" },
};

/* One section of the answer; prefix is the text form's, "" for the gate. */
struct ctl_stat_section {
	const char *name, *prefix;
	const struct ctl_stat_field *rows;
	size_t n;
	bool on;
};

#define ROWS(a) a, sizeof(a) / sizeof(a[0])

/* A figure's value, whatever its width. */
static uint64_t
stat_value(const struct ctl_stats *st, const struct ctl_stat_field *f)
{
	const char *p = (const char *)st + f->off;

	switch (f->width) {
	case 1: return *(const uint8_t *)(const void *)p;
	case 2: return *(const uint16_t *)(const void *)p;
	case 4: return *(const uint32_t *)(const void *)p;
	default: return *(const uint64_t *)(const void *)p;
	}
}

/* `stats` as "name: value" lines (sections other than the gate prefixed,
 * "NAME: off" for a section that is not running). */
static void
stats_text(struct ctl_out *o, const struct ctl_stat_section *sect, size_t ns,
    const struct ctl_stats *st)
{
	for (size_t i = 0; i < ns; i++) {
		if (!sect[i].on) {
			out_fmt(o, "%s: off\n", sect[i].name);
			continue;
		}
		for (size_t k = 0; k < sect[i].n; k++) {
			const struct ctl_stat_field *f = &sect[i].rows[k];
			uint64_t v = stat_value(st, f);
			if (f->kind == STATS_BOOL)
				out_fmt(o, "%s%s: %s\n", sect[i].prefix, f->name, v ? "yes" : "no");
			else
				out_fmt(o, "%s%s: %llu\n", sect[i].prefix, f->name,
				    (unsigned long long)v);
		}
	}
}

/* `stats --json`: one object with a member per section (null when off). */
static size_t
stats_json(char *buf, size_t size, const struct ctl_stat_section *sect,
    size_t ns, const struct ctl_stats *st)
{
	struct jsonw j, s;
	char sub[2048];
	size_t n;

	jsonw_begin(&j, buf, size);
	for (size_t i = 0; i < ns; i++) {
		if (!sect[i].on) {
			jsonw_null(&j, sect[i].name);
			continue;
		}
		jsonw_begin(&s, sub, sizeof(sub));
		for (size_t k = 0; k < sect[i].n; k++) {
			const struct ctl_stat_field *f = &sect[i].rows[k];
			if (f->kind == STATS_BOOL)
				jsonw_bool(&s, f->name, stat_value(st, f) != 0);
			else
				jsonw_uint(&s, f->name, stat_value(st, f));
		}
		json_sub(&j, sect[i].name, &s);
	}
	n = jsonw_end(&j);
	return n == 0 || n >= size ? 0 : n;
}

/* `stats --prometheus`: the text exposition format (version 0.0.4) for
 * node_exporter's textfile collector. Metric names are wicket_SECTION_NAME
 * (the gate's without SECTION), counters end in _total, yes/no is 1/0,
 * rows of one family share its HELP and TYPE; sections that are off are
 * left out. */
static void
stats_prometheus(struct ctl_out *o, const struct ctl_stat_section *sect,
    size_t ns, const struct ctl_stats *st)
{
	for (size_t i = 0; i < ns; i++) {
		const char *fam = NULL;

		if (!sect[i].on)
			continue;
		for (size_t k = 0; k < sect[i].n; k++) {
			const struct ctl_stat_field *f = &sect[i].rows[k];
			const char *sep = *sect[i].prefix ? "_" : "";
			const char *sec = *sect[i].prefix ? sect[i].name : "";
			const char *total = f->kind == STATS_COUNTER ? "_total" : "";
			const char *name = f->family != NULL ? f->family
			    : f->prom != NULL ? f->prom : f->name;
			char metric[128];

			snprintf(metric, sizeof(metric), "wicket_%s%s%s%s", sec, sep, name, total);
			if (f->family == NULL || fam == NULL || strcmp(fam, f->family) != 0) {
				if (f->help != NULL)
					out_fmt(o, "# HELP %s %s\n", metric, f->help);
				out_fmt(o, "# TYPE %s %s\n", metric,
				    f->kind == STATS_COUNTER ? "counter" : "gauge");
			}
			fam = f->family;
			out_fmt(o, "%s%s%s%s %llu\n", metric, f->label ? "{" : "",
			    f->label ? f->label : "", f->label ? "}" : "",
			    (unsigned long long)stat_value(st, f));
		}
	}
}

/* The payload of `stats`: the gate's counters, sessions, the registry, the
 * sniffer and the control socket, as text lines, one JSON object, or the
 * Prometheus text format; 0 when buf is too small. */
size_t
ctlproto_stats(enum ctl_format fmt, const struct ctl_stats *st, char *buf,
    size_t size)
{
	const struct ctl_stat_section sect[] = {
		{ "gate", "", ROWS(ctl_gate_rows), true },
		{ "sessions", "sessions_", ROWS(ctl_session_rows), st->have_sessions },
		{ "registry", "registry_", ROWS(ctl_registry_rows), st->have_registry },
		{ "sniffer", "sniffer_", ROWS(ctl_sniffer_rows), st->have_sniffer },
		{ "audit", "audit_", ROWS(ctl_audit_rows), true },
		{ "control", "control_", ROWS(ctl_control_rows), true },
	};
	size_t ns = sizeof(sect) / sizeof(sect[0]), n;
	struct ctl_out o;

	if (size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	if (fmt == CTL_JSON) {
		n = stats_json(buf, size, sect, ns, st);
		if (n == 0) {
			buf[0] = '\0';
			return 0;
		}
		buf[n] = '\0';
		return n;
	}
	out_init(&o, buf, size);
	if (fmt == CTL_PROMETHEUS)
		stats_prometheus(&o, sect, ns, st);
	else
		stats_text(&o, sect, ns, st);
	return out_done(&o);
}
