/* store: the session state file. Pure record encode/decode (one text line,
 * CRC-32 at the end, one table row per record kind) first, then the file
 * I/O: restore that reports and skips bad lines, fsync'd journal appends,
 * and compaction by rename with a reserve file for full disks. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
	char *reserve;     /* path ".reserve": room kept for compaction */
	off_t size;        /* end of the last complete record */
	size_t records;    /* records in the file (since the last compaction) */
	uint64_t reserve_size; /* bytes the reserve file holds */
	uint64_t base_size;    /* the file's size after the last compaction */
	uint64_t space_left;   /* free bytes on the filesystem, last looked at */
	bool space_known;
	bool broken;       /* an append failed midway: compact before use */
	bool pending;      /* the table holds a change the journal lacks */
	unsigned backoff, skip; /* store_maintain calls to wait after a failure */
	struct store_writer *w; /* the writer during a compaction */
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

/* Encode a header body. */
static int
store_enc_header(const struct store_record *r, char *body, size_t size)
{
	return snprintf(body, size, "H %s %u", STORE_MAGIC, r->version);
}

/* Encode a session body; -1 for a value outside its enum. */
static int
store_enc_session(const struct store_record *r, char *body, size_t size)
{
	const struct session *s = &r->session;
	char mac[WK_MAC_STRLEN];

	if ((size_t)s->state > SESSION_REVOKED ||
	    (size_t)s->source > SESSION_SRC_RADIUS ||
	    (size_t)s->reason > SESSION_R_REVOKED)
		return -1;
	addr_mac_format(&s->mac, mac);
	if (s->idle_limit == 0 && s->bytes_limit == 0)
		return snprintf(body, size, "S %s %s %s %s %llu %llu %llu %llu %llu",
		    mac, session_state_name(s->state), session_source_name(s->source),
		    session_reason_name(s->reason),
		    (unsigned long long)s->start, (unsigned long long)s->expires,
		    (unsigned long long)s->last_seen,
		    (unsigned long long)s->bytes, (unsigned long long)s->ended);
	/* A session's own limits (RADIUS, CoA) travel in the same record as
	 * its end, so one write changes both or neither. */
	return snprintf(body, size, "S %s %s %s %s %llu %llu %llu %llu %llu %llu %llu",
	    mac, session_state_name(s->state), session_source_name(s->source),
	    session_reason_name(s->reason),
	    (unsigned long long)s->start, (unsigned long long)s->expires,
	    (unsigned long long)s->last_seen,
	    (unsigned long long)s->bytes, (unsigned long long)s->ended,
	    (unsigned long long)s->idle_limit, (unsigned long long)s->bytes_limit);
}

/* Encode a nonce body; -1 for a nonce outside its syntax. */
static int
store_enc_nonce(const struct store_record *r, char *body, size_t size)
{
	if (!token_nonce_valid(r->nonce))
		return -1;
	return snprintf(body, size, "N %s %llu", r->nonce,
	    (unsigned long long)r->until);
}

/* Encode an extension body; -1 for a payload the format cannot carry. */
static int
store_enc_ext(const struct store_record *r, char *body, size_t size)
{
	if (!store_ext_valid(r->ext))
		return -1;
	return snprintf(body, size, "X %s", r->ext);
}

/* Decode a header's fields: 0, -1 malformed, -2 another version. */
static int
store_dec_header(char **f, int n, struct store_record *r, const char **why)
{
	uint64_t v;

	if (n != 3 || strcmp(f[1], STORE_MAGIC) != 0 ||
	    token_u64_parse(f[2], &v) < 0) {
		*why = "malformed header";
		return -1;
	}
	if (v != STORE_VERSION) {
		*why = "unsupported store version";
		return -2;
	}
	r->version = (unsigned)v;
	return 0;
}

/* Decode a session record's fields (after "S"); -1 with why set. */
static int
store_dec_session(char **f, int n, struct store_record *r, const char **why)
{
	struct session *s = &r->session;
	char mac[WK_MAC_STRLEN];

	memset(s, 0, sizeof(*s));
	if (n != 10 && n != 12) {
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
	    token_u64_parse(f[9], &s->ended) < 0 ||
	    (n == 12 && (token_u64_parse(f[10], &s->idle_limit) < 0 ||
		token_u64_parse(f[11], &s->bytes_limit) < 0))) {
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

/* Decode a nonce record's fields. */
static int
store_dec_nonce(char **f, int n, struct store_record *r, const char **why)
{
	if (n != 3 || !token_nonce_valid(f[1]) ||
	    token_u64_parse(f[2], &r->until) < 0) {
		*why = "malformed nonce record";
		return -1;
	}
	memcpy(r->nonce, f[1], strlen(f[1]) + 1);
	return 0;
}

/* Decode an extension record: one payload token. */
static int
store_dec_ext(char **f, int n, struct store_record *r, const char **why)
{
	if (n != 2 || !store_ext_valid(f[1])) {
		*why = "malformed extension record";
		return -1;
	}
	memcpy(r->ext, f[1], strlen(f[1]) + 1);
	return 0;
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

/* What a restore tells its callback, and counts. */
struct store_loadctx {
	const struct store_state *ss;
	store_error_cb cb;
	void *arg;
	const char *path;
	unsigned long line;
	struct store_stats *stats;
};

static void store_report(store_error_cb cb, void *arg, const char *path,
    unsigned long line, const char *msg, struct store_stats *stats);
static void store_apply_session(const struct store_record *r,
    struct store_loadctx *lc);
static void store_apply_nonce(const struct store_record *r,
    struct store_loadctx *lc);
static void store_apply_ext(const struct store_record *r,
    struct store_loadctx *lc);

/* The record kinds: the first field names the kind, the rest are its own.
 * A new kind (another engineer's queue, say) is one more row, one more
 * member of struct store_record and one more source for compaction. */
static const struct store_kind {
	const char *tag;
	enum store_rec_type type;
	int (*encode)(const struct store_record *r, char *body, size_t size);
	int (*decode)(char **f, int n, struct store_record *r, const char **why);
	void (*apply)(const struct store_record *r, struct store_loadctx *lc);
} store_kinds[] = {
	{ "H", STORE_REC_HEADER, store_enc_header, store_dec_header, NULL },
	{ "S", STORE_REC_SESSION, store_enc_session, store_dec_session,
	  store_apply_session },
	{ "N", STORE_REC_NONCE, store_enc_nonce, store_dec_nonce,
	  store_apply_nonce },
	{ "X", STORE_REC_EXT, store_enc_ext, store_dec_ext, store_apply_ext },
};
#define STORE_NKINDS (sizeof(store_kinds) / sizeof(store_kinds[0]))

/* The kind table row of a record type, or NULL. */
static const struct store_kind *
store_kind_of(enum store_rec_type type)
{
	for (size_t i = 0; i < STORE_NKINDS; i++)
		if (store_kinds[i].type == type)
			return &store_kinds[i];
	return NULL;
}

/* Encode one record as a full line "BODY *crc32hex\n" into buf; its length,
 * or -1 if a field is invalid or buf is too small. */
int
store_record_encode(const struct store_record *r, char *buf, size_t len)
{
	const struct store_kind *k = store_kind_of(r->type);
	char body[STORE_LINE_MAX];
	int n;

	if (k == NULL || (n = k->encode(r, body, sizeof(body))) < 0 ||
	    (size_t)n + STORE_CRC_LEN + 1 >= sizeof(body))
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

/* Decode one line (without its newline): visible ASCII and spaces only,
 * ending in " *" and the CRC-32 of what precedes it as 8 lower-case hex
 * digits, then the fields of its kind. 0, -1 with why set to a short
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
	for (size_t i = 0; i < STORE_NKINDS; i++)
		if (strcmp(f[0], store_kinds[i].tag) == 0) {
			out->type = store_kinds[i].type;
			return store_kinds[i].decode(f, n, out, why);
		}
	*why = "unknown record type";
	return -1;
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

/* Restore a session record: the latest one of a MAC wins; ended, config
 * and expired ones are dropped. Times go from the file's wall clock to the
 * session clock. The idle timer of a restored session restarts at now
 * (last_seen is only as fresh as the last record, and downtime is not the
 * client's idleness). */
static void
store_apply_session(const struct store_record *r, struct store_loadctx *lc)
{
	const struct store_state *ss = lc->ss;
	struct session s = r->session;

	if (s.state != SESSION_ADMITTED || s.source == SESSION_SRC_CONFIG ||
	    (s.expires != SESSION_FOREVER && s.expires <= ss->now)) {
		(void)session_forget(ss->tab, &s.mac);
		lc->stats->dropped++;
		return;
	}
	session_shift(&s, -ss->session_off);
	s.last_seen = ss->now - (uint64_t)ss->session_off;
	if (session_restore(ss->tab, &s) < 0)
		store_report(lc->cb, lc->arg, lc->path, lc->line,
		    "session table full or bad MAC, session dropped", lc->stats);
}

/* Restore a used nonce until its grant's end (wall clock). */
static void
store_apply_nonce(const struct store_record *r, struct store_loadctx *lc)
{
	const struct store_state *ss = lc->ss;

	if (r->until <= ss->now) {
		lc->stats->dropped++;
		return;
	}
	switch (nonce_use(ss->nc, r->nonce, r->until, ss->now)) {
	case NONCE_OK:
	case NONCE_REPLAY: /* the same nonce twice: one is enough */
		break;
	case NONCE_FULL:
	case NONCE_INVALID:
		store_report(lc->cb, lc->arg, lc->path, lc->line,
		    "nonce cache full, used nonce dropped (replay "
		    "possible until it expires: raise its capacity)", lc->stats);
		break;
	}
}

/* Hand an extension record to its owner, in file order. */
static void
store_apply_ext(const struct store_record *r, struct store_loadctx *lc)
{
	const struct store_ext *ext = lc->ss->ext;

	if (ext != NULL && ext->load != NULL)
		ext->load(r->ext, ext->arg);
}

/* Count the admitted sessions after a load. */
static void
store_count_session(const struct session *s, void *arg)
{
	struct store_stats *stats = arg;

	if (s->state == SESSION_ADMITTED)
		stats->sessions++;
}

/* Read the state file at path into ss's table and cache (which should be
 * empty), reporting each bad line (number and reason) through cb and
 * keeping every good one. A missing file is an empty state. 0, or -1
 * (reported) when the file exists but cannot be read to its end or is of
 * another version: the caller must then not compact over it. */
int
store_load(const char *path, const struct store_state *ss,
    store_error_cb cb, void *arg, struct store_stats *stats)
{
	struct store_stats dummy;
	struct store_loadctx lc;
	char *line = NULL, msg[160];
	struct stat sb;
	size_t cap = 0;
	uint64_t off = 0;
	int fd, dec, rc = 0;
	ssize_t n;
	FILE *fp;

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	lc = (struct store_loadctx){ ss, cb, arg, path, 0, stats };
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
		const struct store_kind *k;
		const char *why = NULL;
		bool torn = line[n - 1] != '\n';
		size_t len = torn ? (size_t)n : (size_t)n - 1;

		stats->lines++;
		lc.line = stats->lines;
		off += (uint64_t)n;
		if (!torn)
			stats->good_end = off;
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
		if (torn)
			stats->tail_applied = true;
		k = store_kind_of(r.type);
		if (k != NULL && k->apply != NULL)
			k->apply(&r, &lc);
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
	session_foreach(ss->tab, store_count_session, stats);
	stats->nonces = nonce_count(ss->nc);
	return rc;
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

/* True for the errors that mean "no room": a compaction (with the reserve
 * for a full disk, or simply a smaller file for a file size limit) can
 * help. */
static bool
store_nospace(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

/* Write whole lines to the journal once, then fsync if asked. A failed
 * write is cut back to the last complete record so that the next append
 * does not glue onto a torn line; if even that fails, or fsync fails (the
 * page cache state is then unknown), the store is broken until compacted. */
static int
store_append_once(struct store *st, const char *buf, size_t len, size_t nrec,
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

/* Append whole lines; on a full disk, compact (the reserve makes room for
 * that) and try once more, so that a journal of dead records never blocks
 * a grant; a broken store is compacted first. The records appended are
 * not yet in ss (a grant is applied to the table only once it is on
 * disk), so compaction cannot lose them. Without ss (a nonce or another
 * module's record, already in its owner's memory) a failed append leaves
 * the store pending: the next store_maintain writes it from there. */
static int
store_append(struct store *st, const struct store_state *ss, const char *buf,
    size_t len, size_t nrec, bool sync)
{
	int saved;

	/* A broken store is repaired by a compaction: try it now rather
	 * than refuse until the next tick. */
	if (st->broken && ss != NULL)
		(void)store_compact(st, ss);
	if (store_append_once(st, buf, len, nrec, sync) == 0)
		return 0;
	saved = errno;
	if (ss == NULL)
		st->pending = true;
	if (ss == NULL || !store_nospace(saved) || st->broken ||
	    store_compact(st, ss) < 0) {
		errno = saved;
		return -1;
	}
	return store_append_once(st, buf, len, nrec, sync);
}

/* Journal a session's current state (grant, revoke, expiry, accounting
 * checkpoint) in wall time; with sync, durable on return. 0 or -1 (errno). */
int
store_append_session(struct store *st, const struct store_state *ss,
    const struct session *s, bool sync)
{
	struct store_record r = { .type = STORE_REC_SESSION, .session = *s };
	char buf[STORE_LINE_MAX];
	int n;

	session_shift(&r.session, ss->session_off);
	if ((n = store_record_encode(&r, buf, sizeof(buf))) < 0) {
		errno = EINVAL;
		return -1;
	}
	return store_append(st, ss, buf, (size_t)n, 1, sync);
}

/* Journal an extension record; with sync, durable on return. 0 or -1.
 * (Its owner holds no store_state: on a full disk it fails, the store is
 * left pending, and the next compaction writes the owner's records.) */
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
	return store_append(st, NULL, buf, (size_t)n, 1, sync);
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
	return store_append(st, NULL, buf, (size_t)n, 1, sync);
}

/* Journal a grant before acknowledging it: the nonce record (if nonce is
 * not NULL) then the session record, in one write and one fsync. 0 once
 * both are on disk, or -1 (errno): then do not acknowledge the grant. */
int
store_append_grant(struct store *st, const struct store_state *ss,
    const struct session *s, const char *nonce, uint64_t until)
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
	session_shift(&r.session, ss->session_off);
	if ((n = store_record_encode(&r, buf + len, sizeof(buf) - len)) < 0) {
		errno = EINVAL;
		return -1;
	}
	len += (size_t)n;
	return store_append(st, ss, buf, len, nonce != NULL ? 2 : 1, true);
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

/* The table holds a change the journal could not take (a revocation on a
 * full disk): compact at the next chance, which writes the table as it is. */
void
store_mark_pending(struct store *st)
{
	st->pending = true;
}

/* Buffered writer used by compaction; remembers the first error. */
struct store_writer {
	int fd;
	int err;           /* errno of the first failure, 0 if none */
	size_t used;
	size_t records;
	const struct store_state *ss;
	struct store *st;
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

/* Compaction callback: keep sessions that restore would keep, in wall
 * time. */
static void
store_put_session(const struct session *s, void *arg)
{
	struct store_writer *w = arg;
	struct store_record r = { .type = STORE_REC_SESSION, .session = *s };

	if (s->state != SESSION_ADMITTED || s->source == SESSION_SRC_CONFIG)
		return;
	session_shift(&r.session, w->ss->session_off);
	if (r.session.expires != SESSION_FOREVER && r.session.expires <= w->ss->now)
		return;
	store_writer_put(w, &r);
}

/* Compaction callback: keep nonces whose grant has not expired. */
static void
store_put_nonce(const char *nonce, uint64_t until, void *arg)
{
	struct store_writer *w = arg;
	struct store_record r = { .type = STORE_REC_NONCE, .until = until };

	if (until <= w->ss->now)
		return;
	memcpy(r.nonce, nonce, strlen(nonce) + 1);
	store_writer_put(w, &r);
}

/* Compaction source: the live sessions. */
static void
store_source_sessions(struct store_writer *w)
{
	session_foreach(w->ss->tab, store_put_session, w);
}

/* Compaction source: the unexpired nonces. */
static void
store_source_nonces(struct store_writer *w)
{
	nonce_foreach(w->ss->nc, store_put_nonce, w);
}

/* Compaction source: another module's records (its dump callback calls
 * store_ext_put for each one it keeps). */
static void
store_source_ext(struct store_writer *w)
{
	const struct store_ext *ext = w->ss->ext;

	if (ext == NULL || ext->dump == NULL)
		return;
	w->st->w = w;
	ext->dump(w->st, ext->arg);
	w->st->w = NULL;
}

/* What a compaction writes after the header, in this order: one row per
 * thing the state file mirrors. */
static void (*const store_sources[])(struct store_writer *w) = {
	store_source_sessions,
	store_source_nonces,
	store_source_ext,
};

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

/* Rewrite the state file from the live state: write path.tmp, fsync it,
 * rename it over path, fsync the directory, then continue the journal on
 * the new file. A crash at any point leaves either the old or the new file
 * whole. 0 or -1 (errno). */
static int
store_rewrite(struct store *st, const struct store_state *ss)
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
	w->ss = ss;
	w->st = st;
	store_writer_put(w, &hdr);
	for (size_t i = 0; i < sizeof(store_sources) / sizeof(store_sources[0]); i++)
		store_sources[i](w);
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
	st->base_size = (uint64_t)sb.st_size;
	st->records = w->records;
	st->broken = false;
	st->pending = false;
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

/* The reserve the state file should keep: room for the next compaction,
 * taken as the file as last compacted and half again (the live state
 * grows between compactions), never less than STORE_RESERVE_MIN; not the
 * journal's size, which may be mostly dead records. */
static uint64_t
store_reserve_want(const struct store *st)
{
	uint64_t want = st->base_size + st->base_size / 2;

	return want > STORE_RESERVE_MIN ? want : STORE_RESERVE_MIN;
}

/* Grow the reserve file (path.reserve, allocated, never written) to what
 * store_reserve_want asks, as far as the disk allows; best effort. */
static void
store_reserve_grow(struct store *st)
{
	uint64_t want = store_reserve_want(st);
	struct stat sb;
	int fd;

	if (st->reserve_size >= want)
		return;
	fd = open(st->reserve, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	/* posix_fallocate returns the error; a disk that cannot give all of
	 * it may still give half, a quarter... down to one page. */
	for (uint64_t n = want; n >= 4096 && n > st->reserve_size; n /= 2)
		if (posix_fallocate(fd, 0, (off_t)n) == 0)
			break;
	if (fstat(fd, &sb) == 0) {
		uint64_t have = (uint64_t)sb.st_blocks * 512;
		st->reserve_size = have < (uint64_t)sb.st_size ? have
		    : (uint64_t)sb.st_size;
	}
	(void)close(fd);
}

/* Give the reserve back to the filesystem, so that a compaction fits. */
static void
store_reserve_release(struct store *st)
{
	if (unlink(st->reserve) == 0 || errno == ENOENT)
		st->reserve_size = 0;
}

/* Compact: rewrite the file from the live state (see store_rewrite); on a
 * full disk release the reserve and try again, then grow the reserve back
 * from the space the old journal gave up. Clears a broken or pending
 * store. 0 or -1 (errno). */
int
store_compact(struct store *st, const struct store_state *ss)
{
	int rc = store_rewrite(st, ss), saved;

	if (rc < 0 && store_nospace(errno) && st->reserve_size > 0) {
		store_reserve_release(st);
		rc = store_rewrite(st, ss);
	}
	saved = errno;
	if (rc == 0)
		store_reserve_grow(st);
	errno = saved;
	return rc;
}

/* Continue the journal on the file as it is, when a start finds no room
 * to compact it: cut a torn tail back to the last complete line (which
 * frees space) and append after it. The store then wants a compaction
 * (pending) as soon as there is room. 0, or -1 if the file cannot be
 * opened (the store then starts broken: nothing is acknowledged until a
 * compaction succeeds). */
static int
store_resume(struct store *st, const struct store_stats *stats)
{
	struct stat sb;
	int fd = open(st->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);

	st->pending = true;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		if (fd >= 0)
			(void)close(fd);
		st->broken = true;
		return -1;
	}
	if ((uint64_t)sb.st_size > stats->good_end &&
	    ftruncate(fd, (off_t)stats->good_end) < 0) {
		(void)close(fd);
		st->broken = true;
		return -1;
	}
	st->fd = fd;
	st->size = (off_t)stats->good_end;
	st->base_size = stats->good_end;
	st->records = stats->lines;
	return 0;
}

/* Restore from path into ss (see store_load), then compact at once: the
 * bad lines are gone, a torn tail cannot glue onto the next record, and
 * the journal starts from a clean snapshot. On a full disk the start goes
 * on with the journal as it is (store_resume): the sessions on disk are
 * restored whatever the space left. *out is the open store, or -1
 * (reported through cb) when the file cannot be read, or cannot be
 * written for another reason than space. */
int
store_open(const char *path, const struct store_state *ss,
    store_error_cb cb, void *arg, struct store_stats *stats,
    struct store **out)
{
	struct store_stats dummy;
	struct store *st;
	struct stat sb;
	char msg[200];

	*out = NULL;
	if (stats == NULL)
		stats = &dummy;
	if (store_load(path, ss, cb, arg, stats) < 0)
		return -1;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	st->fd = -1;
	st->path = strdup(path);
	if (st->path == NULL || asprintf(&st->tmp, "%s.tmp", path) < 0 ||
	    asprintf(&st->reserve, "%s.reserve", path) < 0) {
		st->tmp = st->reserve = NULL;
		goto fail;
	}
	if (stat(st->reserve, &sb) == 0 && S_ISREG(sb.st_mode))
		st->reserve_size = (uint64_t)sb.st_size;
	if (store_compact(st, ss) == 0) {
		stats->compacted = true;
		*out = st;
		return 0;
	}
	if (store_nospace(errno)) {
		bool ok = store_resume(st, stats) == 0;
		snprintf(msg, sizeof(msg), "no space to compact the state file; "
		    "%s until there is room", ok ? "continuing its journal as it is"
		    : "grants are refused");
		if (cb != NULL) /* a notice, not a bad line */
			cb(path, 0, msg, arg);
		*out = st;
		return 0;
	}
	snprintf(msg, sizeof(msg), "cannot write state file: %s",
	    strerror(errno));
	store_report(cb, arg, path, 0, msg, stats);
fail:
	store_close(st);
	return -1;
}

/* True when a compaction is due: the store is broken or pending, or the
 * journal is larger than STORE_COMPACT_BYTES and holds more than twice
 * the live records, or the disk is short of room for another copy of it
 * and there are dead records to reclaim (docs/grants.md). */
bool
store_should_compact(const struct store *st, size_t live)
{
	if (st->broken || st->pending)
		return true;
	if (st->size > STORE_COMPACT_BYTES && st->records / 2 > live)
		return true;
	return st->space_known &&
	    st->space_left < (uint64_t)st->size + STORE_RESERVE_MIN &&
	    st->records > live + 16;
}

/* Once a second: look at the space left, compact when it is due (after a
 * failure, wait 1, 2, 4, then 8 calls before trying again: on a full disk
 * an attempt fails at its first write, so this bounds the log, not the
 * cost), and grow the reserve while there is room. live is the number of records a compaction would write. 0, or
 * -1 (errno) when a compaction failed. */
int
store_maintain(struct store *st, const struct store_state *ss, size_t live)
{
	struct statvfs vfs;
	int fd = st->fd;

	if (st->skip > 0) {
		st->skip--;
		return 0;
	}
	st->space_known = false;
	if (fd >= 0 && fstatvfs(fd, &vfs) == 0) {
		st->space_known = true;
		st->space_left = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	}
	if (!store_should_compact(st, live)) {
		if (st->space_known && st->reserve_size < store_reserve_want(st) &&
		    st->space_left > 2 * store_reserve_want(st))
			store_reserve_grow(st);
		return 0;
	}
	if (store_compact(st, ss) < 0) {
		int saved = errno;
		st->backoff = st->backoff == 0 ? 1 : st->backoff >= 8 ? 8
		    : 2 * st->backoff;
		st->skip = st->backoff;
		errno = saved;
		return -1;
	}
	st->backoff = 0;
	return 0;
}

/* Records in the file since the last compaction (header included). */
size_t
store_journal_records(const struct store *st)
{
	return st->records;
}

/* Bytes of the journal (to the end of the last complete record). */
uint64_t
store_size(const struct store *st)
{
	return (uint64_t)st->size;
}

/* Bytes the reserve file holds for the next compaction. */
uint64_t
store_reserve_size(const struct store *st)
{
	return st->reserve_size;
}

/* True when the table holds changes the journal lacks (see
 * store_mark_pending) or the store cannot append (broken). */
bool
store_pending(const struct store *st)
{
	return st->pending || st->broken;
}

/* Close the journal and free the store (the files stay). */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->fd >= 0)
		(void)close(st->fd);
	free(st->path);
	free(st->tmp);
	free(st->reserve);
	free(st);
}
