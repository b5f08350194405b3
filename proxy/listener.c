/* listener: the listening sockets from `listen` lines (IPv4 and IPv6,
 * v6-only so both families can share a port) and the accept path into
 * the callback it is given, paused while max_connections is reached. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "gate.h"
#include "log.h"

struct listener {
	struct listener *next;
	struct gate *g;
	gate_accept_cb on_accept;
	struct evconnlistener *ev;
	char name[WK_SA_STRLEN];
};

/* Hand an accepted socket to the connection layer. */
static void
listener_on_accept(struct evconnlistener *ev, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct listener *l = arg;

	(void)ev;
	l->on_accept(l->g, fd, sa, len);
}

/* Log accept errors (EMFILE and friends) and keep serving. */
static void
listener_on_error(struct evconnlistener *ev, void *arg)
{
	struct listener *l = arg;
	struct gate *g = l->g;
	int err = EVUTIL_SOCKET_ERROR();

	(void)ev;
	g->st.refused++;
	log_warn("accept: %s", evutil_socket_error_to_string(err));
}

/* Create, bind and listen one socket (also tls.c's); -1 with errno set. */
int
listener_bind(const struct sockaddr *sa)
{
	int one = 1, fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (sa->sa_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, sa, addr_sa_len(sa)) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Open every configured listen address, handing accepted sockets to
 * on_accept; all or nothing. */
int
listener_open_all(struct gate *g, gate_accept_cb on_accept)
{
	for (size_t i = 0; i < g->conf->n_listen; i++) {
		const struct sockaddr *sa = &g->conf->listen[i].sa;
		struct listener *l = calloc(1, sizeof(*l));
		int fd;

		if (l == NULL)
			return -1;
		l->g = g;
		l->on_accept = on_accept;
		addr_sa_format(sa, l->name);
		fd = listener_bind(sa);
		if (fd < 0) {
			log_err("listen %s: %s", l->name, strerror(errno));
			free(l);
			return -1;
		}
		l->ev = evconnlistener_new(g->base, listener_on_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		if (l->ev == NULL) {
			close(fd);
			free(l);
			return -1;
		}
		evconnlistener_set_error_cb(l->ev, listener_on_error);
		l->next = g->listeners;
		g->listeners = l;
		log_info("listening on %s", l->name);
	}
	return 0;
}

/* Stop or resume accepting (max_connections backpressure). */
void
listener_pause(struct gate *g, bool pause)
{
	g->paused = pause;
	for (struct listener *l = g->listeners; l; l = l->next) {
		if (pause)
			evconnlistener_disable(l->ev);
		else
			evconnlistener_enable(l->ev);
	}
}

/* Close every listening socket. */
void
listener_close_all(struct gate *g)
{
	while (g->listeners) {
		struct listener *l = g->listeners;
		g->listeners = l->next;
		evconnlistener_free(l->ev);
		free(l);
	}
}
