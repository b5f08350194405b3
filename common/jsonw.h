/* jsonw: builds one JSON object on one line in a fixed buffer, escaping
 * control and non-ASCII bytes so that every audit record is a single,
 * valid JSON Lines entry whatever the client sent. Pure. */
#ifndef WK_JSONW_H
#define WK_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;
	size_t size, len;
	bool first, overflow;
};

void jsonw_begin(struct jsonw *j, char *buf, size_t size);
void jsonw_str(struct jsonw *j, const char *key, const char *val);
void jsonw_strn(struct jsonw *j, const char *key, const char *val, size_t n);
void jsonw_uint(struct jsonw *j, const char *key, uint64_t val);
void jsonw_bool(struct jsonw *j, const char *key, bool val);
void jsonw_null(struct jsonw *j, const char *key);
size_t jsonw_end(struct jsonw *j);
/* The same with a literal key and its length, JSONW_K("name"): no strlen
 * and no escape for the key (it must be plain ASCII). */
#define JSONW_K(lit) lit, sizeof(lit) - 1
void jsonw_str_k(struct jsonw *j, const char *k, size_t klen, const char *val);
void jsonw_uint_k(struct jsonw *j, const char *k, size_t klen, uint64_t val);
void jsonw_bool_k(struct jsonw *j, const char *k, size_t klen, bool val);
void jsonw_members(struct jsonw *j, const char *frag, size_t n);
#define JSONW_TS_LEN 64
void jsonw_ts(int64_t ms, char out[JSONW_TS_LEN]);

#endif
