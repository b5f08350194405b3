/* nonce: the replay cache of signed grants -- a bounded set of nonces
 * already used, each remembered until its grant's `until`. Pure: time is a
 * parameter; persistence is proxy/store.c's. */
#ifndef WK_NONCE_H
#define WK_NONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nonce_cache;

enum nonce_result {
	NONCE_OK,      /* first use: now remembered until `until` */
	NONCE_REPLAY,  /* already used and its grant has not expired */
	NONCE_FULL,    /* cache full of unexpired nonces: refuse (fail closed) */
	NONCE_INVALID, /* bad nonce syntax, or until <= now (nothing to keep) */
};

typedef void (*nonce_cb)(const char *nonce, uint64_t until, void *arg);

struct nonce_cache *nonce_cache_create(size_t capacity, uint64_t seed);
void nonce_cache_free(struct nonce_cache *nc);
enum nonce_result nonce_use(struct nonce_cache *nc, const char *nonce,
    uint64_t until, uint64_t now);
bool nonce_seen(const struct nonce_cache *nc, const char *nonce,
    uint64_t now);
int nonce_forget(struct nonce_cache *nc, const char *nonce);
size_t nonce_expire(struct nonce_cache *nc, uint64_t now);
size_t nonce_count(const struct nonce_cache *nc);
size_t nonce_capacity(const struct nonce_cache *nc);
void nonce_foreach(const struct nonce_cache *nc, nonce_cb cb, void *arg);
const char *nonce_result_str(enum nonce_result r);

#endif
