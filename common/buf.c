/* buf: a byte queue in one allocation. Appends move the live bytes to the
 * front before growing, so the allocation stays at about the most that
 * was ever queued at once; consuming the last byte frees it. */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Make room for n more bytes after the live ones; a pointer to it, or
 * NULL (ENOMEM, or EFBIG past BUF_MAX) with the buffer unchanged. */
char *
buf_reserve(struct wk_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > BUF_MAX - b->len) {
		errno = EFBIG;
		return NULL;
	}
	need = (size_t)b->len + n;
	if ((size_t)b->off + need <= b->cap)
		return b->data + b->off + b->len;
	if (need <= b->cap) { /* room enough once the consumed front goes */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return b->data + b->len;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > BUF_MAX)
		cap = BUF_MAX;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	p = realloc(b->data, cap);
	if (p == NULL)
		return NULL;
	b->data = p;
	b->cap = (uint32_t)cap;
	return b->data + b->len;
}

/* Count n bytes written into reserved space as live. */
void
buf_commit(struct wk_buf *b, size_t n)
{
	b->len += (uint32_t)n;
}

/* Append n bytes; 0, or -1 with the buffer unchanged. */
int
buf_append(struct wk_buf *b, const void *p, size_t n)
{
	char *dst;

	if (n == 0)
		return 0;
	dst = buf_reserve(b, n);
	if (dst == NULL)
		return -1;
	memcpy(dst, p, n);
	b->len += (uint32_t)n;
	return 0;
}

/* Drop n bytes from the front (all of them when n is larger); an empty
 * buffer gives its memory back. */
void
buf_consume(struct wk_buf *b, size_t n)
{
	if (n >= b->len) {
		buf_free(b);
		return;
	}
	b->off += (uint32_t)n;
	b->len -= (uint32_t)n;
}

/* Release the memory and empty the buffer. */
void
buf_free(struct wk_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
