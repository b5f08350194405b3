/* addr: parsing, formatting and matching of IP, socket, CIDR and MAC
 * addresses. Every parser rejects trailing garbage and returns -1 on any
 * malformed input, so config errors surface instead of being guessed at. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse "aa:bb:cc:dd:ee:ff" (or with '-') exactly; -1 on anything else. */
int
addr_mac_parse(const char *s, struct wk_mac *out)
{
	char sep = 0;

	if (s == NULL || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = addr_hexval((unsigned char)s[i * 3]);
		int lo = addr_hexval((unsigned char)s[i * 3 + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (i < 5) {
			char c = s[i * 3 + 2];
			if (c != ':' && c != '-')
				return -1;
			if (sep == 0)
				sep = c;
			else if (c != sep)
				return -1;
		}
		out->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Format a MAC in canonical lower-case colon form. */
void
addr_mac_format(const struct wk_mac *m, char out[WK_MAC_STRLEN])
{
	static const char hex[] = "0123456789abcdef";

	/* By hand, not printf: this runs for every audit line. */
	for (int i = 0; i < 6; i++) {
		out[3 * i] = hex[m->b[i] >> 4];
		out[3 * i + 1] = hex[m->b[i] & 15];
		out[3 * i + 2] = i < 5 ? ':' : '\0';
	}
}

/* True when two MACs are the same address. */
bool
addr_mac_equal(const struct wk_mac *a, const struct wk_mac *b)
{
	return memcmp(a->b, b->b, 6) == 0;
}

/* True for a locally administered (often randomised) MAC: the U/L bit. */
bool
addr_mac_is_local(const struct wk_mac *m)
{
	return (m->b[0] & 0x02) != 0;
}

/* True for an individual address that is not all zeros (a real station). */
bool
addr_mac_is_unicast(const struct wk_mac *m)
{
	static const uint8_t zero[6];

	return (m->b[0] & 0x01) == 0 && memcmp(m->b, zero, 6) != 0;
}

/* Parse a bare IPv4 or IPv6 address (no brackets, no port). */
int
addr_ip_parse(const char *s, struct wk_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->u.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->u.v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Write n in decimal at out; returns the digits written. */
static size_t
addr_fmt_dec(unsigned n, char *out)
{
	char tmp[10];
	size_t k = 0, len;

	do
		tmp[k++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	len = k;
	while (k > 0)
		*out++ = tmp[--k];
	return len;
}

/* Dotted quad of 4 bytes at b; returns the length (no NUL). */
static size_t
addr_fmt_v4(const uint8_t *b, char *out)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i > 0)
			out[n++] = '.';
		if (v >= 100)
			out[n++] = (char)('0' + v / 100);
		if (v >= 10)
			out[n++] = (char)('0' + v / 10 % 10);
		out[n++] = (char)('0' + v % 10);
	}
	return n;
}

/* An IPv6 address as RFC 5952 §4 writes it (what inet_ntop prints:
 * lower-case hex, no leading zeros, the longest run of two or more zero
 * groups as "::", the first of equal runs; ::ffff:a.b.c.d and ::a.b.c.d
 * for addresses that embed IPv4). Returns the length (no NUL). */
static size_t
addr_fmt_v6(const uint8_t *b, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	int best = -1, blen = 0;
	size_t n = 0;

	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
	for (int i = 0; i < 8;) {
		int k = i;
		while (k < 8 && w[k] == 0)
			k++;
		if (k - i > blen && k - i >= 2) {
			best = i;
			blen = k - i;
		}
		i = k > i ? k : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			out[n++] = ':';
			if (i == 0)
				out[n++] = ':';
			i += blen - 1;
			continue;
		}
		if (i == 6 && best == 0 && (blen == 6 || (blen == 5 && w[5] == 0xffff))) {
			return n + addr_fmt_v4(b + 12, out + n);
		}
		bool lead = true;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned d = (w[i] >> sh) & 15;
			if (d == 0 && lead && sh > 0)
				continue;
			lead = false;
			out[n++] = hex[d];
		}
		if (i < 7)
			out[n++] = ':';
	}
	return n;
}

/* Format an address without brackets; "?" for an unset family. */
void
addr_ip_format(const struct wk_ip *ip, char out[WK_IP_STRLEN])
{
	size_t n;

	if (ip->family == AF_INET)
		n = addr_fmt_v4((const uint8_t *)&ip->u.v4, out);
	else if (ip->family == AF_INET6)
		n = addr_fmt_v6(ip->u.v6.s6_addr, out);
	else
		n = (size_t)(stpcpy(out, "?") - out);
	out[n] = '\0';
}

/* True when both addresses are the same family and value. */
bool
addr_ip_equal(const struct wk_ip *a, const struct wk_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->u.v4.s_addr == b->u.v4.s_addr;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

/* Extract the address of a socket address; a v4-mapped v6 becomes v4, so
 * that dual-stack sockets and the ARP table agree on one key. */
void
addr_ip_from_sa(const struct sockaddr *sa, struct wk_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		out->family = AF_INET;
		out->u.v4 = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			out->family = AF_INET;
			memcpy(&out->u.v4, &a6->s6_addr[12], 4);
		} else {
			out->family = AF_INET6;
			out->u.v6 = *a6;
		}
	}
}

/* The port of a socket address in host order, 0 for other families. */
uint16_t
addr_sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/* The length to pass to bind/connect for this socket address. */
socklen_t
addr_sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* Parse a decimal port 1..65535 with nothing after it. */
static int
parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Parse "1.2.3.4:80" or "[2001:db8::1]:80" into a socket address. */
int
addr_hostport_parse(const char *s, union wk_sockaddr *out)
{
	char host[WK_IP_STRLEN];
	const char *colon, *hs = s;
	size_t hlen;
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		hs = s + 1;
		hlen = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL)
			return -1; /* v6 needs brackets */
	}
	if (hlen == 0 || hlen >= sizeof(host) || parse_port(colon + 1, &port) < 0)
		return -1;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (*s == '[') {
		if (inet_pton(AF_INET6, host, &out->sin6.sin6_addr) != 1)
			return -1;
		out->sin6.sin6_family = AF_INET6;
		out->sin6.sin6_port = htons(port);
	} else {
		if (inet_pton(AF_INET, host, &out->sin.sin_addr) != 1)
			return -1;
		out->sin.sin_family = AF_INET;
		out->sin.sin_port = htons(port);
	}
	return 0;
}

/* Format a socket address as "1.2.3.4:80" or "[v6]:80". */
void
addr_sa_format(const struct sockaddr *sa, char out[WK_SA_STRLEN])
{
	struct wk_ip ip;
	char h[WK_IP_STRLEN];

	size_t n = 0;

	addr_ip_from_sa(sa, &ip);
	addr_ip_format(&ip, h);
	if (ip.family == AF_INET6)
		out[n++] = '[';
	n = (size_t)(stpcpy(out + n, h) - out);
	if (ip.family == AF_INET6)
		out[n++] = ']';
	out[n++] = ':';
	n += addr_fmt_dec(addr_sa_port(sa), out + n);
	out[n] = '\0';
}

/* Format the host part of a URL for this address: "1.2.3.4" or "[v6]". */
void
addr_sa_url_host(const struct sockaddr *sa, char out[WK_SA_STRLEN])
{
	struct wk_ip ip;
	char h[WK_IP_STRLEN];

	size_t n = 0;

	addr_ip_from_sa(sa, &ip);
	addr_ip_format(&ip, h);
	if (ip.family == AF_INET6)
		out[n++] = '[';
	n = (size_t)(stpcpy(out + n, h) - out);
	if (ip.family == AF_INET6)
		out[n++] = ']';
	out[n] = '\0';
}

/* Parse "ADDR[/BITS]" and, when allowed, a ":PORT" suffix ("[v6/64]:443"
 * or "10.0.0.0/8:443"); host bits beyond the prefix must be zero. */
int
addr_cidr_parse(const char *s, bool allow_port, struct wk_cidr *out)
{
	char buf[WK_SA_STRLEN + 8];
	char *slash, *portp = NULL, *p = buf;
	size_t n = strlen(s);

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	if (buf[0] == '[') {
		char *rb = strchr(buf, ']');
		if (rb == NULL || !allow_port || rb[1] != ':')
			return -1;
		*rb = '\0';
		portp = rb + 2;
		p = buf + 1;
	} else if (strchr(buf, ':') != NULL && strchr(buf, '.') != NULL &&
		   strchr(buf, ':') == strrchr(buf, ':')) {
		char *c = strrchr(buf, ':');
		if (!allow_port)
			return -1;
		*c = '\0';
		portp = c + 1;
	}
	if (portp != NULL && parse_port(portp, &out->port) < 0)
		return -1;
	slash = strchr(p, '/');
	if (slash != NULL)
		*slash = '\0';
	if (addr_ip_parse(p, &out->ip) < 0)
		return -1;
	unsigned max = out->ip.family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash != NULL) {
		char *end;
		unsigned long b;
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		b = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || b > max)
			return -1;
		out->bits = (unsigned)b;
	}
	/* Reject host bits: "10.0.0.1/8" is almost always a typo. */
	const uint8_t *a = (const uint8_t *)&out->ip.u;
	for (unsigned i = out->bits; i < max; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

/* True when ip (and port, if the prefix names one) falls in the prefix. */
bool
addr_cidr_match(const struct wk_cidr *c, const struct wk_ip *ip, uint16_t port)
{
	const uint8_t *a = (const uint8_t *)&c->ip.u, *b = (const uint8_t *)&ip->u;
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->ip.family != ip->family || (c->port != 0 && c->port != port))
		return false;
	if (memcmp(a, b, full) != 0)
		return false;
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((a[full] & mask) != (b[full] & mask))
			return false;
	}
	return true;
}
