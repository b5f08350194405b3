/* epoll511: the floor of the 511 benchmark -- the least a server can do to
 * answer HTTP requests with a fixed 511 page: epoll, one read and one write
 * per request, no parsing beyond finding the end of the head and whether it
 * asked to close. Not part of wicket; scripts/bench.sh builds and runs it.
 *
 *   epoll511 PORT BODYFILE      (listens on 0.0.0.0:PORT)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static char answer[8192], answer_close[8192];
static size_t alen, alen_close;

/* Build the two answers (keep-alive and close) around the page. */
static void
build(const char *body, size_t blen)
{
	alen = (size_t)snprintf(answer, sizeof(answer),
	    "HTTP/1.1 511 Network Authentication Required\r\n"
	    "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
	    "Content-Length: %zu\r\n\r\n%.*s", blen, (int)blen, body);
	alen_close = (size_t)snprintf(answer_close, sizeof(answer_close),
	    "HTTP/1.1 511 Network Authentication Required\r\n"
	    "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s", blen, (int)blen, body);
}

/* Serve one readable connection: one read; one write per complete head. */
static void
serve(int ep, int fd)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));
	char *p = buf, *end;
	int close_it = 0;

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
		return;
	}
	end = buf + n;
	/* pipelined heads: count them, answer each (in one write) */
	char out[65536];
	size_t olen = 0;
	while (p < end) {
		char *h = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (h == NULL)
			break;
		close_it = memmem(p, (size_t)(h - p), "onnection: close", 16) != NULL;
		if (olen + alen_close > sizeof(out))
			break;
		memcpy(out + olen, close_it ? answer_close : answer, close_it ? alen_close : alen);
		olen += close_it ? alen_close : alen;
		p = h + 4;
		if (close_it)
			break;
	}
	if (olen > 0 && write(fd, out, olen) < 0)
		close_it = 1;
	if (close_it) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
	}
}

/* Listen, accept, serve. */
int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	char body[4096];
	int one = 1, lfd, ep, bf;
	ssize_t blen;

	if (argc != 3)
		return 2;
	bf = open(argv[2], O_RDONLY);
	if (bf < 0 || (blen = read(bf, body, sizeof(body))) < 0)
		return 1;
	build(body, (size_t)blen);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
		return 1;
	ep = epoll_create1(0);
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		return 1;
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd != lfd) {
				serve(ep, fd);
				continue;
			}
			for (;;) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (c < 0)
					break;
				ev.data.fd = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
					close(c);
			}
		}
	}
}
