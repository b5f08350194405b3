/* store: the session state file. Pure record encode/decode (one text line,
 * CRC-32 at the end) first, then the file I/O: restore that reports and
 * skips bad lines, fsync'd journal appends, and compaction by rename. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAGIC "wicket-store"
#define STORE_CRC_LEN 10     /* " *" and 8 hex digits */
#define STORE_FIELDS_MAX 12
#define STORE_BUF 65536      /* compaction write buffer */

struct store_writer;

struct store {
	int fd;            /* journal, O_APPEND; -1 when broken */
	char *path;
	char *tmp;         /* path ".tmp" */
	off_t size;        /* end of the last complete record */
	size_t records;    /* records in the file (since the last compaction) */
	bool broken;       /* an append failed midway: compact before use */
	struct store_ext ext;      /* extension records (may be empty) */
	struct store_writer *w;    /* the writer during a compaction */
};

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of buf; bitwise, since
 * records are short and this is not a hot path. */
uint32_t
store_crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* Encode one record as a full line "BODY *crc32hex\n" into buf; its length,
 * or -1 if a field is invalid or buf is too small. */
int
store_record_encode(const struct store_record *r, char *buf, size_t len)
{
	char body[STORE_LINE_MAX], mac[WK_MAC_STRLEN];
	const struct session *s = &r->session;
	int n;

	switch (r->type) {
	case STORE_REC_HEADER:
		n = snprintf(body, sizeof(body), "H %s %u", STORE_MAGIC,
		    r->version);
		break;
	case STORE_REC_SESSION:
		if ((size_t)s->state > SESSION_REVOKED ||
		    (size_t)s->source > SESSION_SRC_RADIUS ||
		    (size_t)s->reason > SESSION_R_REVOKED)
			return -1;
		addr_mac_format(&s->mac, mac);
		n = snprintf(body, sizeof(body),
		    "S %s %s %s %s %llu %llu %llu %llu %llu", mac,
		    session_state_name(s->state),
		    session_source_name(s->source),
		    session_reason_name(s->reason),
		    (unsigned long long)s->start, (unsigned long long)s->expires,
		    (unsigned long long)s->last_seen,
		    (unsigned long long)s->bytes, (unsigned long long)s->ended);
		break;
	case STORE_REC_NONCE:
		if (!token_nonce_valid(r->nonce))
			return -1;
		n = snprintf(body, sizeof(body), "N %s %llu", r->nonce,
		    (unsigned long long)r->until);
		break;
	case STORE_REC_EXT:
		if (!store_ext_valid(r->ext))
			return -1;
		n = snprintf(body, sizeof(body), "X %s", r->ext);
		break;
	default:
		return -1;
	}
	if (n < 0 || (size_t)n + STORE_CRC_LEN + 1 >= sizeof(body))
		return -1;
	n = snprintf(buf, len, "%s *%08x\n", body,
	    (unsigned)store_crc32(body, (size_t)n));
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

/* Split a NUL-terminated body on single spaces; the field count, or -1 on
 * an empty field or too many. */
static int
store_split(char *body, char *f[STORE_FIELDS_MAX])
{
	int n = 0;

	for (char *p = body;;) {
		char *sp = strchr(p, ' ');
		if (n == STORE_FIELDS_MAX)
			return -1;
		f[n++] = p;
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	for (int i = 0; i < n; i++)
		if (f[i][0] == '\0')
			return -1;
	return n;
}

/* Decode a session record's fields (after "S"); -1 with why set. */
static int
store_decode_session(char **f, int n, struct session *s, const char **why)
{
	char mac[WK_MAC_STRLEN];

	memset(s, 0, sizeof(*s));
	if (n != 10) {
		*why = "session record: wrong number of fields";
		return -1;
	}
	if (addr_mac_parse(f[1], &s->mac) < 0) {
		*why = "session record: bad MAC";
		return -1;
	}
	addr_mac_format(&s->mac, mac);
	if (strcmp(mac, f[1]) != 0) {
		*why = "session record: MAC not in canonical form";
		return -1;
	}
	if (session_state_parse(f[2], &s->state) < 0 ||
	    session_source_parse(f[3], &s->source) < 0 ||
	    session_reason_parse(f[4], &s->reason) < 0) {
		*why = "session record: bad state, source or reason";
		return -1;
	}
	if (token_u64_parse(f[5], &s->start) < 0 ||
	    token_u64_parse(f[6], &s->expires) < 0 ||
	    token_u64_parse(f[7], &s->last_seen) < 0 ||
	    token_u64_parse(f[8], &s->bytes) < 0 ||
	    token_u64_parse(f[9], &s->ended) < 0) {
		*why = "session record: bad number";
		return -1;
	}
	if ((s->state == SESSION_ADMITTED) != (s->reason == SESSION_R_NONE) ||
	    s->reason == SESSION_R_UNKNOWN) {
		*why = "session record: state and reason disagree";
		return -1;
	}
	return 0;
}

/* Decode one line (without its newline): visible ASCII and spaces only,
 * ending in " *" and the CRC-32 of what precedes it as 8 lower-case hex
 * digits, then the fields of its type. 0, -1 with why set to a short
 * reason for the operator, or -2 for a header of another version. */
int
store_record_decode(const char *line, size_t len, struct store_record *out,
    const char **why)
{
	char body[STORE_LINE_MAX], *f[STORE_FIELDS_MAX];
	const char *dummy;
	uint32_t crc = 0;
	size_t blen;
	int n;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	if (len >= STORE_LINE_MAX) {
		*why = "line too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e) {
			*why = "control or non-ASCII byte";
			return -1;
		}
	if (len < STORE_CRC_LEN + 1 || line[len - STORE_CRC_LEN] != ' ' ||
	    line[len - STORE_CRC_LEN + 1] != '*') {
		*why = "no checksum (torn or foreign line)";
		return -1;
	}
	for (size_t i = len - 8; i < len; i++) {
		char c = line[i];
		int v = c >= '0' && c <= '9' ? c - '0'
		      : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0) {
			*why = "malformed checksum";
			return -1;
		}
		crc = crc << 4 | (uint32_t)v;
	}
	blen = len - STORE_CRC_LEN;
	if (store_crc32(line, blen) != crc) {
		*why = "checksum mismatch (corrupt line)";
		return -1;
	}
	memcpy(body, line, blen);
	body[blen] = '\0';
	if ((n = store_split(body, f)) < 0) {
		*why = "malformed fields";
		return -1;
	}
	if (strcmp(f[0], "H") == 0) {
		uint64_t v;
		out->type = STORE_REC_HEADER;
		if (n != 3 || strcmp(f[1], STORE_MAGIC) != 0 ||
		    token_u64_parse(f[2], &v) < 0) {
			*why = "malformed header";
			return -1;
		}
		if (v != STORE_VERSION) {
			*why = "unsupported store version";
			return -2;
		}
		out->version = (unsigned)v;
		return 0;
	}
	if (strcmp(f[0], "S") == 0) {
		out->type = STORE_REC_SESSION;
		return store_decode_session(f, n, &out->session, why);
	}
	if (strcmp(f[0], "N") == 0) {
		out->type = STORE_REC_NONCE;
		if (n != 3 || !token_nonce_valid(f[1]) ||
		    token_u64_parse(f[2], &out->until) < 0) {
			*why = "malformed nonce record";
			return -1;
		}
		memcpy(out->nonce, f[1], strlen(f[1]) + 1);
		return 0;
	}
	if (strcmp(f[0], "X") == 0) {
		out->type = STORE_REC_EXT;
		if (n != 2 || !store_ext_valid(f[1])) {
			*why = "malformed extension record";
			return -1;
		}
		memcpy(out->ext, f[1], strlen(f[1]) + 1);
		return 0;
	}
	*why = "unknown record type";
	return -1;
}

/* True for an extension payload the format can carry: 1..STORE_EXT_MAX
 * printable ASCII bytes, no space. */
bool
store_ext_valid(const char *payload)
{
	size_t n = strlen(payload);

	if (n == 0 || n > STORE_EXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)payload[i] <= 0x20 || (unsigned char)payload[i] > 0x7e)
			return false;
	return true;
}

/* Report one problem through the callback, if any, and count it. */
static void
store_report(store_error_cb cb, void *arg, const char *path,
    unsigned long line, const char *msg, struct store_stats *stats)
{
	stats->errors++;
	if (cb != NULL)
		cb(path, line, msg, arg);
}

/* Apply one decoded record to the table and cache: the latest session
 * record of a MAC wins; ended, config and expired ones are dropped. The
 * idle timer of a restored session restarts at now (last_seen is only as
 * fresh as the last record, and downtime is not the client's idleness). */
static void
store_apply(const struct store_record *r, struct session_table *tab,
    struct nonce_cache *nc, uint64_t now, store_error_cb cb, void *arg,
    const char *path, unsigned long line, struct store_stats *stats)
{
	if (r->type == STORE_REC_SESSION) {
		struct session s = r->session;
		if (s.state != SESSION_ADMITTED || s.source == SESSION_SRC_CONFIG ||
		    (s.expires != SESSION_FOREVER && s.expires <= now)) {
			(void)session_forget(tab, &s.mac);
			stats->dropped++;
			return;
		}
		s.last_seen = now;
		if (session_restore(tab, &s) < 0)
			store_report(cb, arg, path, line,
			    "session table full or bad MAC, session dropped", stats);
	} else if (r->type == STORE_REC_NONCE) {
		if (r->until <= now) {
			stats->dropped++;
			return;
		}
		switch (nonce_use(nc, r->nonce, r->until, now)) {
		case NONCE_OK:
		case NONCE_REPLAY: /* the same nonce twice: one is enough */
			break;
		case NONCE_FULL:
		case NONCE_INVALID:
			store_report(cb, arg, path, line,
			    "nonce cache full, used nonce dropped (replay "
			    "possible until it expires: raise its capacity)", stats);
			break;
		}
	}
}

/* Count the admitted sessions and unexpired nonces after a load. */
static void
store_count_session(const struct session *s, void *arg)
{
	struct store_stats *stats = arg;

	if (s->state == SESSION_ADMITTED)
		stats->sessions++;
}

/* Read the state file at path into tab and nc (which should be empty),
 * reporting each bad line (number and reason) through cb and keeping every
 * good one. A missing file is an empty state. 0, or -1 (reported) when the
 * file exists but cannot be read to its end or is of another version: the
 * caller must then not compact over it. */
static int
store_load_ext(const char *path, struct session_table *tab,
    struct nonce_cache *nc, uint64_t now, store_error_cb cb, void *arg,
    struct store_stats *stats, const struct store_ext *ext)
{
	struct store_stats dummy;
	char *line = NULL, msg[160];
	struct stat sb;
	size_t cap = 0;
	int fd, dec, rc = 0;
	ssize_t n;
	FILE *fp;

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	/* O_NONBLOCK: a FIFO in its place must not hang the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(msg, sizeof(msg), "cannot read state file: %s",
		    strerror(errno));
		store_report(cb, arg, path, 0, msg, stats);
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (fp = fdopen(fd, "r")) == NULL) {
		snprintf(msg, sizeof(msg), "state file is not a readable "
		    "regular file");
		store_report(cb, arg, path, 0, msg, stats);
		(void)close(fd);
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		struct store_record r;
		const char *why = NULL;
		bool torn = line[n - 1] != '\n';
		size_t len = torn ? (size_t)n : (size_t)n - 1;

		stats->lines++;
		dec = store_record_decode(line, len, &r, &why);
		if (dec == -2) {
			/* Written by another version: do not guess at its
			 * records, and never compact over it. */
			store_report(cb, arg, path, stats->lines,
			    "unsupported store version, file not loaded", stats);
			rc = -1;
			break;
		}
		if (dec < 0) {
			snprintf(msg, sizeof(msg), "%s%s, record ignored",
			    torn ? "truncated last line: " : "", why);
			store_report(cb, arg, path, stats->lines, msg, stats);
			continue;
		}
		/* A torn tail whose checksum holds lost only its newline. */
		if (r.type == STORE_REC_EXT) {
			if (ext != NULL && ext->load != NULL)
				ext->load(r.ext, ext->arg);
			continue;
		}
		store_apply(&r, tab, nc, now, cb, arg, path, stats->lines, stats);
	}
	/* A file not read to its end must not be compacted over. */
	if (ferror(fp)) {
		snprintf(msg, sizeof(msg), "read error after line %lu: %s",
		    stats->lines, strerror(errno));
		store_report(cb, arg, path, 0, msg, stats);
		rc = -1;
	}
	free(line);
	(void)fclose(fp);
	session_foreach(tab, store_count_session, stats);
	stats->nonces = nonce_count(nc);
	return rc;
}

/* Read the state file at path into tab and nc (which should be empty),
 * reporting each bad line through cb; extension records are skipped.
 * See store_load_ext. */
int
store_load(const char *path, struct session_table *tab,
    struct nonce_cache *nc, uint64_t now, store_error_cb cb, void *arg,
    struct store_stats *stats)
{
	return store_load_ext(path, tab, nc, now, cb, arg, stats, NULL);
}

/* Write all of buf to fd (retrying short writes and EINTR); 0 or -1. */
static int
store_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so that a rename in it is durable. */
static int
store_sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1, saved;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		saved = errno;
		(void)close(fd);
		errno = saved;
	}
	free(copy);
	return rc;
}

/* Append whole lines to the journal, then fsync if asked. A failed write
 * is cut back to the last complete record so that the next append does
 * not glue onto a torn line; if even that fails, or fsync fails (the page
 * cache state is then unknown), the store is broken until compacted. */
static int
store_append(struct store *st, const char *buf, size_t len, size_t nrec,
    bool sync)
{
	int saved;

	if (st->broken || st->fd < 0) {
		errno = EIO;
		return -1;
	}
	if (store_write_all(st->fd, buf, len) < 0) {
		saved = errno;
		if (ftruncate(st->fd, st->size) < 0)
			st->broken = true;
		errno = saved;
		return -1;
	}
	st->size += (off_t)len;
	st->records += nrec;
	if (sync && fsync(st->fd) < 0) {
		st->broken = true;
		return -1;
	}
	return 0;
}

/* Journal a session's current state (grant, revoke, expiry, accounting
 * checkpoint); with sync, durable on return. 0 or -1 (errno). */
int
store_append_session(struct store *st, const struct session *s, bool sync)
{
	struct store_record r = { .type = STORE_REC_SESSION, .session = *s };
	char buf[STORE_LINE_MAX];
	int n = store_record_encode(&r, buf, sizeof(buf));

	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	return store_append(st, buf, (size_t)n, 1, sync);
}

/* Journal an extension record; with sync, durable on return. 0 or -1. */
int
store_append_ext(struct store *st, const char *payload, bool sync)
{
	struct store_record r = { .type = STORE_REC_EXT };
	char buf[STORE_LINE_MAX];
	int n;

	if (!store_ext_valid(payload)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(r.ext, payload, strlen(payload) + 1);
	if ((n = store_record_encode(&r, buf, sizeof(buf))) < 0) {
		errno = EINVAL;
		return -1;
	}
	return store_append(st, buf, (size_t)n, 1, sync);
}

/* Journal a used nonce; with sync, durable on return. 0 or -1 (errno). */
int
store_append_nonce(struct store *st, const char *nonce, uint64_t until,
    bool sync)
{
	struct store_record r = { .type = STORE_REC_NONCE, .until = until };
	char buf[STORE_LINE_MAX];
	int n;

	if (!token_nonce_valid(nonce)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(r.nonce, nonce, strlen(nonce) + 1);
	if ((n = store_record_encode(&r, buf, sizeof(buf))) < 0) {
		errno = EINVAL;
		return -1;
	}
	return store_append(st, buf, (size_t)n, 1, sync);
}

/* Journal a grant before acknowledging it: the nonce record (if nonce is
 * not NULL) then the session record, in one write and one fsync. 0 once
 * both are on disk, or -1 (errno): then do not acknowledge the grant. */
int
store_append_grant(struct store *st, const struct session *s,
    const char *nonce, uint64_t until)
{
	struct store_record r;
	char buf[2 * STORE_LINE_MAX];
	size_t len = 0;
	int n;

	if (nonce != NULL) {
		memset(&r, 0, sizeof(r));
		r.type = STORE_REC_NONCE;
		r.until = until;
		if (!token_nonce_valid(nonce)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(r.nonce, nonce, strlen(nonce) + 1);
		if ((n = store_record_encode(&r, buf, sizeof(buf))) < 0) {
			errno = EINVAL;
			return -1;
		}
		len = (size_t)n;
	}
	memset(&r, 0, sizeof(r));
	r.type = STORE_REC_SESSION;
	r.session = *s;
	if ((n = store_record_encode(&r, buf + len, sizeof(buf) - len)) < 0) {
		errno = EINVAL;
		return -1;
	}
	len += (size_t)n;
	return store_append(st, buf, len, nonce != NULL ? 2 : 1, true);
}

/* Make every record appended so far durable (group commit). */
int
store_sync(struct store *st)
{
	if (st->broken || st->fd < 0) {
		errno = EIO;
		return -1;
	}
	if (fsync(st->fd) < 0) {
		st->broken = true;
		return -1;
	}
	return 0;
}

/* Buffered writer used by compaction; remembers the first error. */
struct store_writer {
	int fd;
	int err;           /* errno of the first failure, 0 if none */
	size_t used;
	size_t records;
	uint64_t now;
	char buf[STORE_BUF];
};

/* Add one encoded record to the writer, flushing when the buffer fills. */
static void
store_writer_put(struct store_writer *w, const struct store_record *r)
{
	char line[STORE_LINE_MAX];
	int n;

	if (w->err != 0)
		return;
	if ((n = store_record_encode(r, line, sizeof(line))) < 0) {
		w->err = EINVAL;
		return;
	}
	if (w->used + (size_t)n > sizeof(w->buf)) {
		if (store_write_all(w->fd, w->buf, w->used) < 0) {
			w->err = errno;
			return;
		}
		w->used = 0;
	}
	memcpy(w->buf + w->used, line, (size_t)n);
	w->used += (size_t)n;
	w->records++;
}

/* Compaction callback: keep sessions that restore would keep. */
static void
store_put_session(const struct session *s, void *arg)
{
	struct store_writer *w = arg;
	struct store_record r = { .type = STORE_REC_SESSION, .session = *s };

	if (s->state != SESSION_ADMITTED || s->source == SESSION_SRC_CONFIG ||
	    (s->expires != SESSION_FOREVER && s->expires <= w->now))
		return;
	store_writer_put(w, &r);
}

/* Compaction callback: keep nonces whose grant has not expired. */
static void
store_put_nonce(const char *nonce, uint64_t until, void *arg)
{
	struct store_writer *w = arg;
	struct store_record r = { .type = STORE_REC_NONCE, .until = until };

	if (until <= w->now)
		return;
	memcpy(r.nonce, nonce, strlen(nonce) + 1);
	store_writer_put(w, &r);
}

/* Rewrite the state file from the live table and cache: write path.tmp,
 * fsync it, rename it over path, fsync the directory, then continue the
 * journal on the new file. A crash at any point leaves either the old or
 * the new file whole. Clears a broken store. 0 or -1 (errno). */
int
store_compact(struct store *st, const struct session_table *tab,
    const struct nonce_cache *nc, uint64_t now)
{
	struct store_record hdr = { .type = STORE_REC_HEADER,
				    .version = STORE_VERSION };
	struct store_writer *w;
	struct stat sb;
	int fd, nfd, saved;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		goto fail;
	w->fd = fd;
	w->now = now;
	store_writer_put(w, &hdr);
	session_foreach(tab, store_put_session, w);
	nonce_foreach(nc, store_put_nonce, w);
	if (st->ext.dump != NULL) {
		st->w = w;
		st->ext.dump(st, st->ext.arg);
		st->w = NULL;
	}
	if (w->err == 0 && store_write_all(fd, w->buf, w->used) < 0)
		w->err = errno;
	if (w->err != 0) {
		errno = w->err;
		goto fail_unlink;
	}
	if (fsync(fd) < 0 || fstat(fd, &sb) < 0)
		goto fail_unlink;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (rename(st->tmp, st->path) < 0)
		goto fail_unlink;
	/* From here the old journal is unlinked: never append to it again. */
	if (st->fd >= 0)
		(void)close(st->fd);
	st->fd = -1;
	if (store_sync_dir(st->path) < 0)
		goto fail_broken;
	nfd = open(st->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0)
		goto fail_broken;
	st->fd = nfd;
	st->size = sb.st_size;
	st->records = w->records;
	st->broken = false;
	free(w);
	return 0;
fail_broken:
	st->broken = true;
	goto fail;
fail_unlink:
	saved = errno;
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(st->tmp);
	errno = saved;
fail:
	saved = errno;
	free(w);
	errno = saved;
	return -1;
}

/* Compaction callback (from store_ext.dump): keep one extension record. */
int
store_ext_put(struct store *st, const char *payload)
{
	struct store_record r = { .type = STORE_REC_EXT };

	if (st->w == NULL || !store_ext_valid(payload)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(r.ext, payload, strlen(payload) + 1);
	store_writer_put(st->w, &r);
	return st->w->err == 0 ? 0 : -1;
}

/* Restore from path into tab and nc (see store_load), then compact at once:
 * the bad lines are gone, a torn tail cannot glue onto the next record, and
 * the journal starts from a clean snapshot. *out is the open store, or -1
 * (reported through cb) when the file cannot be read or rewritten. */
int
store_open_ext(const char *path, struct session_table *tab,
    struct nonce_cache *nc, uint64_t now, store_error_cb cb, void *arg,
    struct store_stats *stats, const struct store_ext *ext, struct store **out)
{
	struct store_stats dummy;
	struct store *st;
	char msg[160];

	*out = NULL;
	if (stats == NULL)
		stats = &dummy;
	if (store_load_ext(path, tab, nc, now, cb, arg, stats, ext) < 0)
		return -1;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	st->fd = -1;
	if (ext != NULL)
		st->ext = *ext;
	st->path = strdup(path);
	if (st->path == NULL || asprintf(&st->tmp, "%s.tmp", path) < 0) {
		st->tmp = NULL;
		goto fail;
	}
	if (store_compact(st, tab, nc, now) < 0) {
		snprintf(msg, sizeof(msg), "cannot write state file: %s",
		    strerror(errno));
		store_report(cb, arg, path, 0, msg, stats);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

/* store_open_ext without extension records. */
int
store_open(const char *path, struct session_table *tab,
    struct nonce_cache *nc, uint64_t now, store_error_cb cb, void *arg,
    struct store_stats *stats, struct store **out)
{
	return store_open_ext(path, tab, nc, now, cb, arg, stats, NULL, out);
}

/* True when the journal holds far more records than the live state:
 * more than 1024 and more than twice live (sessions + nonces). */
bool
store_should_compact(const struct store *st, size_t live)
{
	return st->broken || (st->records > 1024 && st->records / 2 > live);
}

/* Records in the file since the last compaction (header included). */
size_t
store_journal_records(const struct store *st)
{
	return st->records;
}

/* Close the journal and free the store (the file stays). */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->fd >= 0)
		(void)close(st->fd);
	free(st->path);
	free(st->tmp);
	free(st);
}
