/* store: crash-safe persistence of sessions and used nonces -- an append-only
 * journal of checksummed text records, fsync'd before a grant is
 * acknowledged, compacted by write-tmp/fsync/rename with a reserve file
 * that keeps compaction possible on a full disk. Format: docs/grants.md. */
#ifndef WK_STORE_H
#define WK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nonce.h"
#include "session.h"
#include "token.h"

#define STORE_VERSION 1
#define STORE_LINE_MAX 1024 /* longest valid record line, newline included */
#define STORE_EXT_MAX 960   /* longest extension payload (radius.c records) */
#define STORE_COMPACT_BYTES 16384 /* a journal this large is worth compacting */
#define STORE_RESERVE_MIN 65536   /* the reserve file's least size */

/* Record types; each is a row of the kind table in store.c (letter,
 * fields, codec, how it is restored and which source compaction asks). */
enum store_rec_type {
	STORE_REC_HEADER,  /* "H wicket-store 1" */
	STORE_REC_SESSION, /* "S mac state source reason start expires ..." */
	STORE_REC_NONCE,   /* "N nonce until" */
	STORE_REC_EXT,     /* "X payload": a record another module owns */
};

/* One record; which fields matter depends on type. Session times are
 * wall-clock Unix seconds, as on disk. */
struct store_record {
	enum store_rec_type type;
	unsigned version;                  /* header */
	struct session session;            /* session */
	char nonce[TOKEN_NONCE_MAX + 1];   /* nonce */
	uint64_t until;                    /* nonce */
	char ext[STORE_EXT_MAX + 1];       /* extension payload */
};

struct store;

/* Records another module keeps in the state file (radius.c: the
 * accounting queue). Payloads are one token of printable ASCII without
 * spaces; the store only frames and checksums them. */
struct store_ext {
	/* Called for each extension record at load, in file order. */
	void (*load)(const char *payload, void *arg);
	/* Called at compaction: write the live records with store_ext_put. */
	void (*dump)(struct store *st, void *arg);
	void *arg;
};

/* What the state file mirrors, and the clocks to write it in: sessions
 * live on the session clock (which never steps), the file keeps wall time,
 * so a session time t is t + session_off on disk. */
struct store_state {
	struct session_table *tab;
	struct nonce_cache *nc;
	const struct store_ext *ext; /* another module's records, or NULL */
	uint64_t now;        /* wall clock, Unix seconds (nonces, expiry) */
	int64_t session_off; /* wall clock minus session clock */
};

/* What a restore found. */
struct store_stats {
	unsigned long lines;   /* lines read */
	size_t sessions;       /* admitted sessions restored */
	size_t nonces;         /* unexpired nonces restored */
	size_t dropped;        /* records superseded, ended or expired */
	size_t errors;         /* lines reported through the error callback */
	uint64_t good_end;     /* offset after the last complete line */
	bool tail_applied;     /* a last line without newline was kept */
	bool compacted;        /* store_open rewrote the file (else: full disk) */
};

/* Reports a problem: line 0 for the file as a whole. Never fatal. */
typedef void (*store_error_cb)(const char *path, unsigned long line,
    const char *msg, void *arg);

int store_record_encode(const struct store_record *r, char *buf, size_t len);
int store_record_decode(const char *line, size_t len, struct store_record *out,
    const char **why);
uint32_t store_crc32(const void *buf, size_t len);

int store_load(const char *path, const struct store_state *ss,
    store_error_cb cb, void *arg, struct store_stats *stats);
int store_open(const char *path, const struct store_state *ss,
    store_error_cb cb, void *arg, struct store_stats *stats,
    struct store **out);
int store_append_session(struct store *st, const struct store_state *ss,
    const struct session *s, bool sync);
int store_append_nonce(struct store *st, const char *nonce, uint64_t until,
    bool sync);
int store_append_ext(struct store *st, const char *payload, bool sync);
int store_ext_put(struct store *st, const char *payload);
bool store_ext_valid(const char *payload);
int store_append_grant(struct store *st, const struct store_state *ss,
    const struct session *s, const char *nonce, uint64_t until);
int store_sync(struct store *st);
void store_mark_pending(struct store *st);
int store_compact(struct store *st, const struct store_state *ss);
bool store_should_compact(const struct store *st, size_t live);
int store_maintain(struct store *st, const struct store_state *ss, size_t live);
size_t store_journal_records(const struct store *st);
uint64_t store_size(const struct store *st);
uint64_t store_reserve_size(const struct store *st);
bool store_pending(const struct store *st);
void store_close(struct store *st);

#endif
