/* ctlproto: the control protocol's pure core. Requests are parsed strictly
 * (nothing guessed); answers are formatted into caller buffers one item at
 * a time so that a list of any length streams. No I/O, no clock. */
#include "ctlproto.h"

#include <stdarg.h>
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
	const char *usage;
};

static const struct ctl_verb ctl_verbs[] = {
	{ "allow", CTL_ALLOW, 1, 2, false, "allow MAC [DURATION]" },
	{ "deny", CTL_DENY, 1, 1, false, "deny MAC" },
	{ "list", CTL_LIST, 0, 0, true, "list [--json]" },
	{ "show", CTL_SHOW, 1, 1, true, "show [--json] MAC|IP" },
	{ "stats", CTL_STATS, 0, 0, true, "stats [--json]" },
	{ "reload", CTL_RELOAD, 0, 0, false, "reload" },
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
			if (strcmp(tok[i], "--json") != 0) {
				ctl_quote(tok[i], q);
				return ctl_fail(err, errlen,
				    "unknown option \"%s\" (usage: %s)", q, verb->usage);
			}
			if (out->json)
				return ctl_fail(err, errlen,
				    "--json given twice (usage: %s)", verb->usage);
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

/* One named counter of the stats table. */
struct ctl_stat_row {
	const char *name;
	uint64_t val;
};

/* The payload of `stats`: gate counters, sessions, registry and control
 * socket figures, as "name: value" lines or one JSON object with a member
 * per section (null for a section that is off). */
size_t
ctlproto_stats(bool json, const struct ctl_stats *st, char *buf, size_t size)
{
	const struct registry_stats *r = &st->reg;
	const struct ctl_stat_row gate[] = {
		{ "connections", st->connections },
		{ "accepted", st->accepted }, { "refused", st->refused },
		{ "requests", st->requests }, { "forwarded", st->forwarded },
		{ "denied", st->denied }, { "probes", st->probes },
		{ "portal", st->portal }, { "framing_errors", st->framing_errors },
		{ "upstream_errors", st->upstream_errors },
		{ "timeouts", st->timeouts }, { "bytes_in", st->bytes_in },
		{ "bytes_out", st->bytes_out },
	}, sess[] = {
		{ "total", st->sessions }, { "admitted", st->admitted },
	}, reg[] = {
		{ "clients", r->clients }, { "addresses", r->addrs },
		{ "max_clients", r->max_clients }, { "learned", r->learned },
		{ "rejected", r->rejected }, { "new_clients", r->new_clients },
		{ "moves", r->moves }, { "conflicts", r->conflicts },
		{ "takeovers", r->takeovers }, { "evictions", r->evictions },
		{ "expired", r->expired }, { "addresses_dropped", r->addrs_dropped },
		{ "refused", r->refused }, { "rate_limited", r->rate_limited },
		{ "admitted", r->pinned }, { "held_moves", r->held },
	}, ctl[] = {
		{ "clients", st->ctl_clients }, { "requests", st->ctl_requests },
		{ "errors", st->ctl_errors }, { "rejected", st->ctl_rejected },
	};
	const struct {
		const char *name;
		const struct ctl_stat_row *rows;
		size_t n;
		bool on;
	} sect[] = {
		{ "gate", gate, sizeof(gate) / sizeof(gate[0]), true },
		{ "sessions", sess, sizeof(sess) / sizeof(sess[0]), st->have_sessions },
		{ "registry", reg, sizeof(reg) / sizeof(reg[0]), st->have_registry },
		{ "control", ctl, sizeof(ctl) / sizeof(ctl[0]), true },
	};
	struct ctl_out o;
	struct jsonw j, s;
	char sub[1024];
	size_t n;

	if (json) {
		if (size < 3) {
			if (size > 0)
				buf[0] = '\0';
			return 0;
		}
		jsonw_begin(&j, buf, size);
		for (size_t i = 0; i < sizeof(sect) / sizeof(sect[0]); i++) {
			if (!sect[i].on) {
				jsonw_null(&j, sect[i].name);
				continue;
			}
			jsonw_begin(&s, sub, sizeof(sub));
			if (i == 0)
				jsonw_bool(&s, "paused", st->paused);
			for (size_t k = 0; k < sect[i].n; k++)
				jsonw_uint(&s, sect[i].rows[k].name, sect[i].rows[k].val);
			json_sub(&j, sect[i].name, &s);
		}
		n = jsonw_end(&j);
		if (n == 0 || n >= size) {
			buf[0] = '\0';
			return 0;
		}
		buf[n] = '\0';
		return n;
	}
	out_init(&o, buf, size);
	for (size_t i = 0; i < sizeof(sect) / sizeof(sect[0]); i++) {
		const char *pre = i == 0 ? "" : sect[i].name;
		if (!sect[i].on) {
			out_fmt(&o, "%s: off\n", sect[i].name);
			continue;
		}
		if (i == 0)
			out_fmt(&o, "paused: %s\n", st->paused ? "yes" : "no");
		for (size_t k = 0; k < sect[i].n; k++)
			out_fmt(&o, "%s%s%s: %llu\n", pre, *pre ? "_" : "",
			    sect[i].rows[k].name,
			    (unsigned long long)sect[i].rows[k].val);
	}
	return out_done(&o);
}
