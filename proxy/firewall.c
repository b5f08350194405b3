/* firewall: keeps admitted clients in the nftables sets of the router
 * ruleset (scripts/wicket-firewall, docs/firewall.md). The text builders are
 * pure; the shell runs each change as one libnftables transaction. */
#include "firewall.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_NFTABLES
#include <nftables/libnftables.h>
#endif

#include "log.h"

#define FW_PER_LINE 256 /* elements per `add element` command in a sync */

/* An output buffer that counts what would have been written (snprintf
 * style) and remembers invalid input. */
struct fw_out {
	char *buf;
	size_t size;
	size_t len;
	bool bad;
};

/* Append formatted text, truncating at the end of the buffer but counting
 * the full length. */
static void __attribute__((format(printf, 2, 3)))
fw_put(struct fw_out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = o->len < o->size ? o->size - o->len : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->bad = true;
		return;
	}
	o->len += (size_t)n;
}

/* Start an output: an empty NUL-terminated string when there is room. */
static void
fw_out_init(struct fw_out *o, char *buf, size_t size)
{
	o->buf = buf;
	o->size = buf == NULL ? 0 : size;
	o->len = 0;
	o->bad = false;
	if (o->size > 0)
		o->buf[0] = '\0';
}

/* The builders' result: the length, or 0 for invalid input. */
static size_t
fw_out_result(struct fw_out *o)
{
	if (o->bad) {
		if (o->size > 0)
			o->buf[0] = '\0';
		return 0;
	}
	return o->len;
}

/* True when name is usable as the nft table name: an identifier that
 * cannot carry nft syntax (no spaces, quotes, braces or separators). */
bool
firewall_table_valid(const char *table)
{
	size_t n;

	if (table == NULL)
		return false;
	n = strlen(table);
	if (n == 0 || n > FIREWALL_TABLE_MAX)
		return false;
	if (!((table[0] >= 'a' && table[0] <= 'z') ||
	    (table[0] >= 'A' && table[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = table[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* The canonical form of an address for the sets: IPv4-mapped IPv6
 * addresses become IPv4 (the kernel forwards them as IPv4). False for a
 * family that is neither. */
static bool
fw_ip_norm(const struct wk_ip *in, struct wk_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (in->family == AF_INET) {
		out->family = AF_INET;
		out->u.v4 = in->u.v4;
		return true;
	}
	if (in->family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&in->u.v6)) {
		out->family = AF_INET;
		memcpy(&out->u.v4, &in->u.v6.s6_addr[12], 4);
		return true;
	}
	out->family = AF_INET6;
	out->u.v6 = in->u.v6;
	return true;
}

/* True when two normalized addresses are the same. */
static bool
fw_ip_same(const struct wk_ip *a, const struct wk_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->u.v4.s_addr == b->u.v4.s_addr;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

/* Normalize ips[0..n) into out (capacity n), dropping duplicates; returns
 * the count, or -1 for an invalid family. Duplicates matter: deleting one
 * element twice in a transaction fails. */
static long
fw_ip_list(const struct wk_ip *ips, size_t n, struct wk_ip *out)
{
	size_t m = 0;
	struct wk_ip x;

	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!fw_ip_norm(&ips[i], &x))
			return -1;
		for (size_t j = 0; j < m && !dup; j++)
			dup = fw_ip_same(&out[j], &x);
		if (!dup)
			out[m++] = x;
	}
	return (long)m;
}

/* Write one MAC in nft's ether_addr syntax. */
static void
fw_put_mac(struct fw_out *o, const struct wk_mac *m)
{
	fw_put(o, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1], m->b[2],
	    m->b[3], m->b[4], m->b[5]);
}

/* Write one normalized address (inet_ntop: always numeric, so nft never
 * tries to resolve it as a host name). */
static void
fw_put_ip(struct fw_out *o, const struct wk_ip *ip)
{
	char s[WK_IP_STRLEN];

	if (inet_ntop(ip->family, ip->family == AF_INET ? (const void *)&ip->u.v4 :
	    (const void *)&ip->u.v6, s, sizeof(s)) == NULL) {
		o->bad = true;
		return;
	}
	fw_put(o, "%s", s);
}

/* What one element list holds. */
enum fw_kind { FW_MAC, FW_PAIR4, FW_PAIR6, FW_DST4, FW_DST6 };

static const char *const fw_set_name[] = {
	[FW_MAC] = FIREWALL_SET_MAC,
	[FW_PAIR4] = FIREWALL_SET_4,
	[FW_PAIR6] = FIREWALL_SET_6,
	[FW_DST4] = FIREWALL_SET_DST4,
	[FW_DST6] = FIREWALL_SET_DST6,
};

/* The address family a kind of set holds (0: MACs only). */
static int
fw_kind_family(enum fw_kind k)
{
	if (k == FW_PAIR4 || k == FW_DST4)
		return AF_INET;
	if (k == FW_PAIR6 || k == FW_DST6)
		return AF_INET6;
	return 0;
}

/* Write the elements of kind k for one MAC and its addresses, comma
 * separated; returns how many were written (first says whether a comma is
 * due before the first). */
static size_t
fw_put_elems(struct fw_out *o, enum fw_kind k, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t n, bool first)
{
	int fam = fw_kind_family(k);
	size_t w = 0;

	if (k == FW_MAC) {
		if (!first)
			fw_put(o, ", ");
		fw_put_mac(o, mac);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (ips[i].family != fam)
			continue;
		if (!first || w > 0)
			fw_put(o, ", ");
		if (k == FW_PAIR4 || k == FW_PAIR6) {
			fw_put_mac(o, mac);
			fw_put(o, " . ");
		}
		fw_put_ip(o, &ips[i]);
		w++;
	}
	return w;
}

/* Count the elements of kind k one client contributes. */
static size_t
fw_count_elems(enum fw_kind k, const struct wk_ip *ips, size_t n)
{
	int fam = fw_kind_family(k);
	size_t c = 0;

	if (k == FW_MAC)
		return 1;
	for (size_t i = 0; i < n; i++)
		c += ips[i].family == fam;
	return c;
}

/* Write `VERB element inet TABLE SET { ... }` for one client's elements of
 * kind k, or nothing when there are none. */
static void
fw_put_cmd(struct fw_out *o, const char *verb, const char *table,
    enum fw_kind k, const struct wk_mac *mac, const struct wk_ip *ips,
    size_t n)
{
	if (fw_count_elems(k, ips, n) == 0)
		return;
	fw_put(o, "%s element inet %s %s { ", verb, table, fw_set_name[k]);
	fw_put_elems(o, k, mac, ips, n, true);
	fw_put(o, " }\n");
}

/* The commands that add (or, with !add, remove) mac's elements in the
 * sets from `first` to FW_DST6; mac NULL for the bare-address sets. Each
 * removal is preceded by an add of the same element, so that deleting an
 * absent element is not an error (nft 1.0.6 has no `destroy`). */
static size_t
fw_format_kinds(char *buf, size_t size, const char *table, enum fw_kind first,
    const struct wk_mac *mac, const struct wk_ip *ips, size_t n, bool add)
{
	struct fw_out o;
	struct wk_ip *norm;
	long m;

	fw_out_init(&o, buf, size);
	norm = calloc(n + 1, sizeof(*norm));
	if (norm == NULL)
		return 0;
	m = fw_ip_list(ips, n, norm);
	if (m < 0) {
		free(norm);
		return 0;
	}
	for (enum fw_kind k = first; k <= FW_DST6; k++) {
		fw_put_cmd(&o, "add", table, k, mac, norm, (size_t)m);
		if (!add)
			fw_put_cmd(&o, "delete", table, k, mac, norm, (size_t)m);
	}
	free(norm);
	return fw_out_result(&o);
}

/* Admission (add) or removal (!add) of one client; see firewall.h. */
size_t
firewall_format_admit(char *buf, size_t size, const char *table,
    const struct wk_mac *mac, const struct wk_ip *ips, size_t n, bool add)
{
	if (!firewall_table_valid(table) || mac == NULL || (n > 0 && ips == NULL))
		return 0;
	return fw_format_kinds(buf, size, table, FW_MAC, mac, ips, n, add);
}

/* Add (add) or remove (!add) bare addresses in the reply sets only. */
size_t
firewall_format_dst(char *buf, size_t size, const char *table,
    const struct wk_ip *ips, size_t n, bool add)
{
	if (!firewall_table_valid(table) || n == 0 || ips == NULL)
		return 0;
	return fw_format_kinds(buf, size, table, FW_DST4, NULL, ips, n, add);
}

/* Flush the five sets, then add every entry, FW_PER_LINE elements per
 * command; one transaction. */
size_t
firewall_format_sync(char *buf, size_t size, const char *table,
    const struct firewall_entry *e, size_t n)
{
	struct fw_out o;

	fw_out_init(&o, buf, size);
	if (!firewall_table_valid(table) || (n > 0 && e == NULL))
		return 0;
	for (enum fw_kind k = FW_MAC; k <= FW_DST6; k++)
		fw_put(&o, "flush set inet %s %s\n", table, fw_set_name[k]);
	for (enum fw_kind k = FW_MAC; k <= FW_DST6; k++) {
		size_t on_line = 0;
		for (size_t i = 0; i < n; i++) {
			struct wk_ip norm[FIREWALL_ENTRY_IPS];
			long m;
			size_t c;

			if (e[i].nips > FIREWALL_ENTRY_IPS)
				return 0;
			m = fw_ip_list(e[i].ips, e[i].nips, norm);
			if (m < 0)
				return 0;
			c = fw_count_elems(k, norm, (size_t)m);
			if (c == 0)
				continue;
			if (on_line == 0)
				fw_put(&o, "add element inet %s %s { ", table,
				    fw_set_name[k]);
			on_line += fw_put_elems(&o, k, &e[i].mac, norm,
			    (size_t)m, on_line == 0);
			if (on_line >= FW_PER_LINE) {
				fw_put(&o, " }\n");
				on_line = 0;
			}
		}
		if (on_line > 0)
			fw_put(&o, " }\n");
	}
	return fw_out_result(&o);
}

/* The dry-run probe of firewall_open: a placeholder element per set. */
size_t
firewall_format_probe(char *buf, size_t size, const char *table)
{
	static const struct wk_mac zero_mac;
	struct wk_ip ips[2];

	memset(ips, 0, sizeof(ips));
	ips[0].family = AF_INET;
	ips[1].family = AF_INET6;
	return firewall_format_admit(buf, size, table, &zero_mac, ips, 2, true);
}

/* Parse one element of a set listing ("MAC . ADDR counter packets N bytes
 * M" or "ADDR counter ..."); the words are NUL-terminated. */
static int
fw_parse_elem(char **w, int n, struct firewall_count *c)
{
	int i = 0;
	uint64_t v;
	char *end;

	memset(c, 0, sizeof(*c));
	if (n >= 3 && strcmp(w[1], ".") == 0) {
		if (addr_mac_parse(w[0], &c->mac) < 0 || addr_ip_parse(w[2], &c->ip) < 0)
			return -1;
		c->pair = true;
		i = 3;
	} else if (n >= 1) {
		if (addr_ip_parse(w[0], &c->ip) < 0)
			return -1;
		i = 1;
	} else {
		return -1;
	}
	for (; i + 1 < n; i++) {
		if (strcmp(w[i], "packets") != 0 && strcmp(w[i], "bytes") != 0)
			continue;
		errno = 0;
		v = strtoull(w[i + 1], &end, 10);
		if (errno != 0 || *end != '\0')
			return -1;
		if (w[i][0] == 'p')
			c->packets = v;
		else
			c->bytes = v;
		c->counted = true;
	}
	return 0;
}

/* Parse `nft list set` output: the words between "elements = {" and "}",
 * elements separated by commas. */
int
firewall_parse_counters(const char *text, size_t len, firewall_count_cb cb,
    void *arg)
{
	const char *p = text, *e = text + len, *start;
	char *w[16], buf[16][64];
	int nw = 0, count = 0;

	start = NULL;
	for (const char *q = text; q + 10 <= e; q++)
		if (memcmp(q, "elements =", 10) == 0) {
			start = q + 10;
			break;
		}
	if (start == NULL) /* an empty set lists no elements line */
		return memmem(text, len, "set ", 4) != NULL ? 0 : -1;
	p = memchr(start, '{', (size_t)(e - start));
	if (p == NULL)
		return -1;
	for (p++; p < e; p++) {
		char ch = *p;
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == ',' || ch == '}') {
			if (ch == ',' || ch == '}') {
				struct firewall_count c;
				if (nw > 0 && fw_parse_elem(w, nw, &c) == 0) {
					cb(&c, arg);
					count++;
				}
				nw = 0;
				if (ch == '}')
					return count;
			}
			continue;
		}
		/* One word: up to the next separator. */
		size_t l = 0;
		while (p + l < e && !strchr(" \t\n,}", p[l]))
			l++;
		if (nw < 16 && l < sizeof(buf[0])) {
			memcpy(buf[nw], p, l);
			buf[nw][l] = '\0';
			w[nw] = buf[nw];
			nw++;
		}
		p += l - 1;
	}
	return -1;
}

/*
 * The libnftables shell.
 */

#ifdef HAVE_NFTABLES

/* What this handle has put into the sets for one MAC: lets a revocation
 * remove pairs the caller no longer knows about, and keep reply entries for
 * addresses another admitted MAC still holds. */
struct fw_client {
	struct wk_mac mac;
	struct wk_ip *ips;
	size_t n, cap;
};

struct firewall {
	struct nft_ctx *nft;
	char table[FIREWALL_TABLE_MAX + 1];
	struct fw_client *c;
	size_t n, cap;
};

/* Find the record of mac, or NULL. */
static struct fw_client *
fw_client_find(struct firewall *fw, const struct wk_mac *mac)
{
	for (size_t i = 0; i < fw->n; i++)
		if (addr_mac_equal(&fw->c[i].mac, mac))
			return &fw->c[i];
	return NULL;
}

/* Forget mac's record (order of the others does not matter). */
static void
fw_client_drop(struct firewall *fw, const struct wk_mac *mac)
{
	struct fw_client *c = fw_client_find(fw, mac);

	if (c == NULL)
		return;
	free(c->ips);
	*c = fw->c[--fw->n];
}

/* Forget every record. */
static void
fw_client_clear(struct firewall *fw)
{
	for (size_t i = 0; i < fw->n; i++)
		free(fw->c[i].ips);
	fw->n = 0;
}

/* Record that mac holds ips (normalized, merged with what it held);
 * returns -1 when out of memory. */
static int
fw_client_add(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t n)
{
	struct fw_client *c = fw_client_find(fw, mac);
	struct wk_ip x;

	if (c == NULL) {
		if (fw->n == fw->cap) {
			size_t cap = fw->cap ? fw->cap * 2 : 16;
			struct fw_client *nc = realloc(fw->c, cap * sizeof(*nc));
			if (nc == NULL)
				return -1;
			fw->c = nc;
			fw->cap = cap;
		}
		c = &fw->c[fw->n++];
		memset(c, 0, sizeof(*c));
		c->mac = *mac;
	}
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!fw_ip_norm(&ips[i], &x))
			continue;
		for (size_t j = 0; j < c->n && !dup; j++)
			dup = fw_ip_same(&c->ips[j], &x);
		if (dup)
			continue;
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 4;
			struct wk_ip *ni = realloc(c->ips, cap * sizeof(*ni));
			if (ni == NULL)
				return -1;
			c->ips = ni;
			c->cap = cap;
		}
		c->ips[c->n++] = x;
	}
	return 0;
}

/* True when a MAC other than mac holds ip (normalized). */
static bool
fw_ip_held_by_other(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ip)
{
	for (size_t i = 0; i < fw->n; i++) {
		if (addr_mac_equal(&fw->c[i].mac, mac))
			continue;
		for (size_t j = 0; j < fw->c[i].n; j++)
			if (fw_ip_same(&fw->c[i].ips[j], ip))
				return true;
	}
	return false;
}

/* Log nft's error buffer on one line: the first message and the command
 * it is about (nft repeats similar errors for every command and marks the
 * spot with caret lines), and how many more errors followed. */
static void
fw_log_error(struct firewall *fw, const char *what)
{
	const char *e = nft_ctx_get_error_buffer(fw->nft);
	const char *shown[2] = { NULL, NULL };
	int shown_len[2] = { 0, 0 };
	unsigned nshown = 0, more = 0;

	while (e != NULL && *e != '\0') {
		const char *nl = strchr(e, '\n');
		size_t len = nl ? (size_t)(nl - e) : strlen(e);

		if (strspn(e, " ^~") < len) { /* not a caret line */
			if (nshown < 2) {
				shown[nshown] = e;
				shown_len[nshown++] = len > 300 ? 300 : (int)len;
			} else if (strncmp(e, "Error", 5) == 0 ||
			    strstr(e, ": Error") != NULL) {
				more++;
			}
		}
		e = nl ? nl + 1 : e + len;
	}
	if (nshown == 0)
		log_warn("firewall: %s in table inet %s failed (no message "
		    "from nft)", what, fw->table);
	else if (more == 0)
		log_warn("firewall: %s in table inet %s failed: %.*s%s%.*s",
		    what, fw->table, shown_len[0], shown[0],
		    nshown > 1 ? " | " : "", shown_len[1],
		    nshown > 1 ? shown[1] : "");
	else
		log_warn("firewall: %s in table inet %s failed: %.*s%s%.*s "
		    "(and %u more errors)", what, fw->table, shown_len[0],
		    shown[0], nshown > 1 ? " | " : "", shown_len[1],
		    nshown > 1 ? shown[1] : "", more);
}

/* Run one text transaction; -1 (logged) when nft refuses it. */
static int
fw_run(struct firewall *fw, const char *text, const char *what)
{
	if (nft_run_cmd_from_buffer(fw->nft, text) != 0) {
		fw_log_error(fw, what);
		return -1;
	}
	return 0;
}

/* Open libnftables and check the table and sets (see firewall.h). */
struct firewall *
firewall_open(const char *table, char *err, size_t errlen)
{
	struct firewall *fw = NULL;
	char probe[512];
	size_t len;

	if (!firewall_table_valid(table)) {
		snprintf(err, errlen, "nft_table '%s' is not a valid table name "
		    "(letters, digits and _, at most %d)", table ? table : "",
		    FIREWALL_TABLE_MAX);
		return NULL;
	}
	len = firewall_format_probe(probe, sizeof(probe), table);
	if (len == 0 || len >= sizeof(probe)) {
		snprintf(err, errlen, "internal error building the nft probe");
		return NULL;
	}
	fw = calloc(1, sizeof(*fw));
	if (fw == NULL)
		goto nomem;
	snprintf(fw->table, sizeof(fw->table), "%s", table);
	fw->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (fw->nft == NULL)
		goto nomem;
	if (nft_ctx_buffer_output(fw->nft) != 0 ||
	    nft_ctx_buffer_error(fw->nft) != 0)
		goto nomem;
	/* Dry run: evaluated against the kernel's ruleset, never committed. */
	nft_ctx_set_dry_run(fw->nft, true);
	if (nft_run_cmd_from_buffer(fw->nft, probe) != 0) {
		const char *e = nft_ctx_get_error_buffer(fw->nft);
		size_t el = e ? strcspn(e, "\n") : 0;

		snprintf(err, errlen, "table inet %s with sets %s, %s, %s, %s, "
		    "%s is missing or different (install it with "
		    "scripts/wicket-firewall up): %.*s", table,
		    FIREWALL_SET_MAC, FIREWALL_SET_4, FIREWALL_SET_6,
		    FIREWALL_SET_DST4, FIREWALL_SET_DST6, (int)el,
		    el ? e : "no message from nft");
		firewall_close(fw);
		return NULL;
	}
	nft_ctx_set_dry_run(fw->nft, false);
	return fw;
nomem:
	snprintf(err, errlen, "cannot set up libnftables (out of memory)");
	firewall_close(fw);
	return NULL;
}

/* A transaction's text, built by appending builder results. */
struct fw_text {
	char *s;
	size_t len;
};

/* Make room for `more` bytes of text (and a NUL) at the end of t and say
 * where to write them; -1 when out of memory. */
static int
fw_text_reserve(struct fw_text *t, size_t more, char **at, size_t *room)
{
	char *ns = realloc(t->s, t->len + more + 1);

	if (ns == NULL)
		return -1;
	t->s = ns;
	*at = t->s + t->len;
	*room = more + 1;
	return 0;
}

/* Add mac and its pairs (see firewall.h). */
int
firewall_admit(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t nips)
{
	struct fw_text t = { NULL, 0 };
	char *at;
	size_t room, need;
	int rc = -1;

	if (fw == NULL || mac == NULL)
		return -1;
	if (nips > 0 && ips == NULL)
		return -1;
	need = firewall_format_admit(NULL, 0, fw->table, mac, ips, nips, true);
	if (need == 0) {
		log_warn("firewall: admit: invalid address for nft");
		return -1;
	}
	if (fw_text_reserve(&t, need, &at, &room) < 0 ||
	    firewall_format_admit(at, room, fw->table, mac, ips, nips,
	    true) != need) {
		log_warn("firewall: admit: out of memory");
		goto out;
	}
	if (fw_run(fw, t.s, "admit") < 0)
		goto out;
	if (fw_client_add(fw, mac, ips, nips) < 0)
		log_warn("firewall: out of memory recording an admission");
	rc = 0;
out:
	free(t.s);
	return rc;
}

/* Remove mac, its pairs and reply entries no one else holds (see
 * firewall.h). */
int
firewall_revoke(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t nips)
{
	struct fw_text t = { NULL, 0 };
	struct fw_client *c;
	struct wk_ip *all = NULL, *shared = NULL;
	size_t nall = 0, nshared = 0, cap, need, room;
	char *at;
	long m;
	int rc = -1;

	if (fw == NULL || mac == NULL || (nips > 0 && ips == NULL))
		return -1;
	/* Everything to remove: the given addresses and the recorded ones. */
	c = fw_client_find(fw, mac);
	cap = nips + (c ? c->n : 0);
	all = calloc(cap ? cap : 1, sizeof(*all));
	shared = calloc(cap ? cap : 1, sizeof(*shared));
	if (all == NULL || shared == NULL)
		goto nomem;
	for (size_t i = 0; i < nips; i++)
		if (!fw_ip_norm(&ips[i], &all[nall++])) {
			log_warn("firewall: revoke: invalid address family");
			goto out;
		}
	for (size_t i = 0; c != NULL && i < c->n; i++)
		all[nall++] = c->ips[i];
	m = fw_ip_list(all, nall, all); /* normalized already: never -1 */
	nall = m < 0 ? 0 : (size_t)m;
	for (size_t i = 0; i < nall; i++)
		if (fw_ip_held_by_other(fw, mac, &all[i]))
			shared[nshared++] = all[i];
	/* The pairs, then the reply entries another MAC still needs,
	 * re-added after their deletion in the same transaction. */
	need = firewall_format_admit(NULL, 0, fw->table, mac, all, nall, false);
	if (need == 0 || fw_text_reserve(&t, need, &at, &room) < 0 ||
	    firewall_format_admit(at, room, fw->table, mac, all, nall,
	    false) != need)
		goto nomem;
	t.len += need;
	if (nshared > 0) {
		need = firewall_format_dst(NULL, 0, fw->table, shared, nshared,
		    true);
		if (need == 0 || fw_text_reserve(&t, need, &at, &room) < 0 ||
		    firewall_format_dst(at, room, fw->table, shared, nshared,
		    true) != need)
			goto nomem;
		t.len += need;
	}
	if (fw_run(fw, t.s, "revoke") < 0)
		goto out;
	fw_client_drop(fw, mac);
	rc = 0;
	goto out;
nomem:
	log_warn("firewall: revoke: out of memory");
out:
	free(all);
	free(shared);
	free(t.s);
	return rc;
}

/* Make the sets hold exactly these clients (see firewall.h). */
int
firewall_sync(struct firewall *fw, const struct firewall_entry *e, size_t n)
{
	char *text = NULL;
	size_t need;
	int rc = -1;

	if (fw == NULL || (n > 0 && e == NULL))
		return -1;
	need = firewall_format_sync(NULL, 0, fw->table, e, n);
	if (need == 0) {
		log_warn("firewall: sync: invalid entry (address family or "
		    "more than %d addresses)", FIREWALL_ENTRY_IPS);
		return -1;
	}
	text = malloc(need + 1);
	if (text == NULL) {
		log_warn("firewall: sync: out of memory");
		return -1;
	}
	if (firewall_format_sync(text, need + 1, fw->table, e, n) != need) {
		log_warn("firewall: sync: out of memory");
		goto out;
	}
	if (fw_run(fw, text, "sync") < 0)
		goto out;
	fw_client_clear(fw);
	for (size_t i = 0; i < n; i++)
		if (fw_client_add(fw, &e[i].mac, e[i].ips, e[i].nips) < 0) {
			log_warn("firewall: out of memory recording a sync");
			break;
		}
	rc = 0;
out:
	free(text);
	return rc;
}

/* Free the handle (see firewall.h). */
void
firewall_close(struct firewall *fw)
{
	if (fw == NULL)
		return;
	if (fw->nft != NULL)
		nft_ctx_free(fw->nft);
	fw_client_clear(fw);
	free(fw->c);
	free(fw);
}

/* Read the four address sets' per-element counters. */
int
firewall_counters(struct firewall *fw, firewall_count_cb cb, void *arg)
{
	static const char *const sets[] = { FIREWALL_SET_4, FIREWALL_SET_6,
		FIREWALL_SET_DST4, FIREWALL_SET_DST6 };
	char cmd[128];
	int total = 0;

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		const char *out;
		int n;
		snprintf(cmd, sizeof(cmd), "list set inet %s %s", fw->table, sets[i]);
		if (nft_run_cmd_from_buffer(fw->nft, cmd) != 0) {
			fw_log_error(fw, "reading counters");
			return -1;
		}
		out = nft_ctx_get_output_buffer(fw->nft);
		n = out ? firewall_parse_counters(out, strlen(out), cb, arg) : -1;
		if (n < 0) {
			log_warn("firewall: cannot parse the listing of set %s", sets[i]);
			return -1;
		}
		total += n;
	}
	return total;
}

#else /* !HAVE_NFTABLES */

/* Built without libnftables: the mirror cannot be opened. */
struct firewall *
firewall_open(const char *table, char *err, size_t errlen)
{
	(void)table;
	snprintf(err, errlen, "wicketd was built without libnftables "
	    "(install libnftables-dev and rebuild, or set firewall none)");
	return NULL;
}

/* Unreachable without a handle. */
int
firewall_admit(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t nips)
{
	(void)fw, (void)mac, (void)ips, (void)nips;
	return -1;
}

/* Unreachable without a handle. */
int
firewall_revoke(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t nips)
{
	(void)fw, (void)mac, (void)ips, (void)nips;
	return -1;
}

/* Unreachable without a handle. */
int
firewall_sync(struct firewall *fw, const struct firewall_entry *e, size_t n)
{
	(void)fw, (void)e, (void)n;
	return -1;
}

/* Unreachable without a handle. */
int
firewall_counters(struct firewall *fw, firewall_count_cb cb, void *arg)
{
	(void)fw, (void)cb, (void)arg;
	return -1;
}

/* Nothing to free: firewall_open never succeeds in this build. */
void
firewall_close(struct firewall *fw)
{
	(void)fw;
}

#endif
