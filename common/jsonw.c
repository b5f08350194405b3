/* jsonw: a one-line JSON object writer for the audit log. Strings are
 * escaped per RFC 8259 §7; bytes >= 0x80 are written as \u00XX so that a
 * line is valid UTF-8 even when the request bytes were not. */
#include "jsonw.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Append raw bytes, or mark the object as overflowed. */
static void
raw(struct jsonw *j, const char *s, size_t n)
{
	if (j->overflow || j->len + n + 2 >= j->size) { /* room for "}\n" */
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

/* Append n plain bytes between quotes: raw's three appends in one, since
 * every value of every audit line comes this way. */
static void
raw_quoted(struct jsonw *j, const char *s, size_t n)
{
	char *p;

	if (j->overflow || j->len + n + 4 >= j->size) { /* room for "}\n" */
		j->overflow = true;
		return;
	}
	p = j->buf + j->len;
	*p++ = '"';
	memcpy(p, s, n);
	p[n] = '"';
	j->len += n + 2;
}

/* Start an object in buf. */
void
jsonw_begin(struct jsonw *j, char *buf, size_t size)
{
	j->buf = buf;
	j->size = size;
	j->len = 0;
	j->first = true;
	j->overflow = false;
	raw(j, "{", 1);
}

/* Bytes that need no escape inside a JSON string (RFC 8259 §7): printable
 * ASCII except '"' and '\\'; a table keeps the scan to one load a byte. */
static const uint8_t plain_tab[256] = {
	[0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

/* True for a byte that needs no escape inside a JSON string. */
static inline bool
plain(unsigned char c)
{
	return plain_tab[c] != 0;
}

/* Write an escaped string literal; runs of plain bytes go in one copy. */
static void
escaped(struct jsonw *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	raw(j, "\"", 1);
	while (i < n) {
		size_t k = i;
		while (k < n && plain((unsigned char)s[k]))
			k++;
		if (k > i)
			raw(j, s + i, k - i);
		if (k == n)
			break;
		unsigned char c = (unsigned char)s[k];
		if (c == '"' || c == '\\') {
			char q[2] = { '\\', (char)c };
			raw(j, q, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			raw(j, e, 6);
		}
		i = k + 1;
	}
	raw(j, "\"", 1);
}

/* Write the separator and a plain key of n bytes in one go; the caller
 * has checked that they fit (len + n + 6 < size) and need no escape. */
static inline void
key_plain(struct jsonw *j, const char *k, size_t n)
{
	char *p = j->buf + j->len;

	if (!j->first)
		*p++ = ',';
	j->first = false;
	*p++ = '"';
	memcpy(p, k, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	j->len = (size_t)(p - j->buf);
}

/* Write the separator and the key. Keys are the program's own literals,
 * plain ASCII as a rule: they are copied in one go (an unusual byte takes
 * the escaping path). */
static void
key(struct jsonw *j, const char *k)
{
	size_t n = strlen(k), i = 0;

	while (i < n && plain((unsigned char)k[i]))
		i++;
	if (i < n || j->overflow || j->len + n + 6 >= j->size) {
		if (!j->first)
			raw(j, ",", 1);
		j->first = false;
		escaped(j, k, n);
		raw(j, ":", 1);
		return;
	}
	key_plain(j, k, n);
}

/* Write the separator and a key given with its length, which the caller
 * vouches is plain ASCII needing no escape (a literal: JSONW_K). */
static void
key_k(struct jsonw *j, const char *k, size_t n)
{
	if (j->overflow || j->len + n + 6 >= j->size) {
		key(j, k);
		return;
	}
	key_plain(j, k, n);
}

/* jsonw_str with a literal key (JSONW_K): the audit line's hot path. The
 * value's plain run is found without a strlen first (NUL is not plain). */
void
jsonw_str_k(struct jsonw *j, const char *k, size_t klen, const char *val)
{
	size_t n = 0;

	key_k(j, k, klen);
	if (val == NULL) {
		raw(j, "null", 4);
		return;
	}
	while (plain((unsigned char)val[n]))
		n++;
	if (val[n] != '\0') {
		escaped(j, val, n + strlen(val + n));
		return;
	}
	raw_quoted(j, val, n);
}

/* Write an unsigned number's digits directly: this is on every request's
 * path, and printf costs more than the rest of the line. */
static void
raw_uint(struct jsonw *j, uint64_t val)
{
	char num[24];
	size_t i = sizeof(num);

	do {
		num[--i] = (char)('0' + val % 10);
		val /= 10;
	} while (val != 0);
	raw(j, num + i, sizeof(num) - i);
}

/* jsonw_uint with a literal key (JSONW_K). */
void
jsonw_uint_k(struct jsonw *j, const char *k, size_t klen, uint64_t val)
{
	key_k(j, k, klen);
	raw_uint(j, val);
}

/* jsonw_bool with a literal key (JSONW_K). */
void
jsonw_bool_k(struct jsonw *j, const char *k, size_t klen, bool val)
{
	key_k(j, k, klen);
	raw(j, val ? "true" : "false", val ? 4 : 5);
}

/* Add members formatted before by another jsonw (its text without the
 * opening brace, at least one member). */
void
jsonw_members(struct jsonw *j, const char *frag, size_t n)
{
	if (!j->first)
		raw(j, ",", 1);
	j->first = false;
	raw(j, frag, n);
}

/* Add a string member; NULL becomes null. */
void
jsonw_str(struct jsonw *j, const char *k, const char *val)
{
	if (val == NULL) {
		jsonw_null(j, k);
		return;
	}
	jsonw_strn(j, k, val, strlen(val));
}

/* Add a string member of n bytes (which need not be NUL-terminated). */
void
jsonw_strn(struct jsonw *j, const char *k, const char *val, size_t n)
{
	key(j, k);
	escaped(j, val, n);
}

/* Add an unsigned number member. */
void
jsonw_uint(struct jsonw *j, const char *k, uint64_t val)
{
	key(j, k);
	raw_uint(j, val);
}

/* Add a boolean member. */
void
jsonw_bool(struct jsonw *j, const char *k, bool val)
{
	key(j, k);
	raw(j, val ? "true" : "false", val ? 4 : 5);
}

/* Add a null member. */
void
jsonw_null(struct jsonw *j, const char *k)
{
	key(j, k);
	raw(j, "null", 4);
}

/* Close the object and add the newline; returns the line length, or 0 if
 * the buffer was too small (the caller then writes a truncated marker). */
size_t
jsonw_end(struct jsonw *j)
{
	if (j->overflow)
		return 0;
	j->buf[j->len++] = '}';
	j->buf[j->len++] = '\n';
	return j->len;
}

/* RFC 3339 UTC timestamp with milliseconds: 2026-11-22T03:04:05.678Z. The
 * part up to the seconds is formatted once per second. */
void
jsonw_ts(int64_t ms, char out[JSONW_TS_LEN])
{
	static int64_t cached_sec = INT64_MIN;
	static char prefix[JSONW_TS_LEN];
	static size_t plen;
	int64_t sec = ms / 1000;
	unsigned frac = (unsigned)(ms % 1000);

	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		int n;
		if (gmtime_r(&t, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		n = snprintf(prefix, sizeof(prefix), "%04d-%02d-%02dT%02d:%02d:%02d.",
		    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		plen = n > 0 && (size_t)n < sizeof(prefix) ? (size_t)n : 0;
		cached_sec = sec;
	}
	memcpy(out, prefix, plen);
	out[plen] = (char)('0' + frac / 100);
	out[plen + 1] = (char)('0' + frac / 10 % 10);
	out[plen + 2] = (char)('0' + frac % 10);
	out[plen + 3] = 'Z';
	out[plen + 4] = '\0';
}
