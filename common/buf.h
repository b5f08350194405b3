/* buf: the one growable byte buffer of the tree -- bytes appended at the
 * back, consumed from the front, its memory released as soon as it is
 * empty (an idle connection holds no buffer). Pure. */
#ifndef WK_BUF_H
#define WK_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wk_buf {
	char *data;
	uint32_t off, len, cap; /* live bytes are data[off, off + len) */
};

#define BUF_MAX (UINT32_C(1) << 30) /* no buffer grows past 1 GiB */

int buf_append(struct wk_buf *b, const void *p, size_t n);
char *buf_reserve(struct wk_buf *b, size_t n);
void buf_commit(struct wk_buf *b, size_t n);
void buf_consume(struct wk_buf *b, size_t n);
void buf_free(struct wk_buf *b);

/* The live bytes. */
static inline char *
buf_data(const struct wk_buf *b)
{
	return b->data + b->off;
}

/* Number of live bytes. */
static inline size_t
buf_len(const struct wk_buf *b)
{
	return b->len;
}

#endif
