/* listener: the listening sockets from `listen` lines (IPv4 and IPv6,
 * v6-only so both families can share a port; one per LAN interface when
 * there are several) and the accept path: a
 * bounded batch per wake-up, every connection admitted by the per-client
 * limiter (limiter.c) before it reaches the accept callback, and the
 * back-off when file descriptors run out (a spare descriptor to accept
 * and shed with, a short pause when even that fails). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "gate.h"
#include "limiter.h"
#include "log.h"
#include "registry.h"
#include "tls.h"

/* Connections accepted per wake-up: a flood of connects takes its turn in
 * the loop like everyone else's bytes instead of draining the backlog. */
#define ACCEPT_BATCH 16
/* Pause when not even the spare descriptor gets a connection off the
 * backlog (the system, not only this process, is out of something). */
#define BACKOFF_MS 100

struct listener {
	struct listener *next;
	struct gate *g;
	struct event *ev;
	int fd;
	int ifindex;            /* the device it is bound to (SO_BINDTODEVICE), or 0 */
	uint16_t port;          /* its port: every socket it accepts has it */
	char name[WK_SA_STRLEN + CONF_IFNAME + 1];	/* address%interface */
};

/* The accept path's own state: where connections go, and the back-off. */
struct listen_state {
	gate_accept_cb on_accept;
	gate_shed_cb on_shed;
	int spare_fd;           /* given up to accept-and-shed when fds run out */
	struct event *backoff;  /* resumes accepting after a pause */
};

/* The limiter's bounds from the configuration. */
static void
listener_limits_conf(const struct wk_conf *c, struct limiter_conf *lc)
{
	lc->max_conns = c->client_connections;
	lc->connect_rate = c->client_connect_rate;
	lc->connect_burst = c->client_connect_burst;
	lc->answer_rate = c->client_511_rate;
	lc->answer_burst = c->client_511_burst;
}

/* Close a socket with a reset (SO_LINGER 0): the short close of a refused
 * or shed connection -- no answer, no FIN handshake, no TIME_WAIT here. */
void
listener_reset(int fd)
{
	struct linger lg = { 1, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		log_debug("SO_LINGER: %s", strerror(errno)); /* still closed below */
	close(fd);
}

/* The limiter's table size: port-80 and TLS connections of a client
 * count against the same limiter, each listener family up to
 * max_connections. */
static uint32_t
listener_capacity(const struct wk_conf *c)
{
	return c->n_tls_listen > 0 ? 2 * c->max_connections : c->max_connections;
}

/* Close the connection the limiter gave up: a TLS one (tls.c knows its
 * own) or a port-80 one. */
static void
listener_shed(struct gate *g, void *victim)
{
	g->st.shed++;
	if (!tls_shed(g, victim))
		g->lstate->on_shed(g, victim);
}

/* Decide an accepted socket by the per-client limiter (see gate.h), the
 * one decision for the port-80 and the TLS listeners. */
bool
listener_limit(struct gate *g, int ifindex, const union wk_sockaddr *peer,
    bool full, bool no_fd, uint32_t *hold)
{
	static struct log_rate rl = LOG_RATE(5, 10000);
	uint64_t now = clock_mono_ms();
	struct client_ident ci;
	struct wk_ip ip;
	const struct wk_mac *mac = NULL;
	enum limiter_verdict v;
	void *victim;

	addr_ip_from_sa(&peer->sa, &ip);
	/* The MAC the sniffer has for this address on the interface it came
	 * in on, unless two claim it. */
	if (ident_lookup_ip_on(g, ifindex, &ip, now, &ci) && !ci.conflict)
		mac = &ci.mac;
	v = limiter_admit(g->lim, &ip, mac, now, full || no_fd, NULL, hold, &victim);
	if (v == LIMITER_OK || v == LIMITER_SHED) {
		if (victim != NULL)
			listener_shed(g, victim);
		return true;
	}
	g->st.refused++;
	if (v == LIMITER_CONNS)
		g->st.refused_client_connections++;
	else if (v == LIMITER_RATE)
		g->st.refused_client_rate++;
	else if (no_fd)
		g->st.refused_no_fds++;
	else
		g->st.refused_full++;
	if (v != LIMITER_FULL || !no_fd) { /* out of fds has its own message */
		char s[WK_IP_STRLEN];
		addr_ip_format(&ip, s);
		log_info_rated(&rl, "refused a connection from %s: %s", s,
		    v == LIMITER_CONNS ? "client_connections reached"
		    : v == LIMITER_RATE ? "client_connect_rate exceeded"
		    : "max_connections reached and this client holds the most");
	}
	return false;
}

/* Admit a socket listener l accepted through the limiter and hand it
 * on, or reset it. `no_fd`: it came in on the spare descriptor, so it may
 * stay only if a heavier client gives up a connection. What the kernel
 * says of the socket (interface, local address) is asked once, here. */
static void
listener_admit(struct gate *g, const struct listener *l, int fd,
    const union wk_sockaddr *peer, bool no_fd)
{
	struct gate_accepted a;

	a.fd = fd;
	a.peer = *peer;
	a.ifindex = ident_accepted(g, fd, &peer->sa, l->ifindex, l->port, &a.local);
	if (a.ifindex < 0) {
		close(fd); /* not connected any more: nothing to answer */
		return;
	}
	if (!listener_limit(g, a.ifindex, peer, g->nconns >= g->conf->max_connections,
		no_fd, &a.hold)) {
		listener_reset(fd);
		return;
	}
	g->lstate->on_accept(g, &a);
}

/* Stop or resume watching every listening socket. */
static void
listener_watch(struct gate *g, bool on)
{
	for (struct listener *l = g->listeners; l; l = l->next) {
		if (on && event_add(l->ev, NULL) < 0)
			log_err("listen %s: cannot watch the socket", l->name);
		else if (!on)
			event_del(l->ev);
	}
}

/* Reopen the spare descriptor; true when it is held. */
static bool
listener_spare(struct gate *g)
{
	if (g->lstate->spare_fd < 0)
		g->lstate->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return g->lstate->spare_fd >= 0;
}

/* Pause accepting for BACKOFF_MS. */
static void
listener_backoff(struct gate *g)
{
	struct timeval tv = { 0, BACKOFF_MS * 1000 };

	if (g->paused)
		return;
	g->paused = true;
	listener_watch(g, false);
	evtimer_add(g->lstate->backoff, &tv);
}

/* The back-off is over: resume once the spare is back, shedding the
 * heaviest client's oldest connection if that is what it takes. */
static void
listener_on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	void *victim;
	struct timeval tv = { 0, BACKOFF_MS * 1000 };

	(void)fd;
	(void)what;
	if (!listener_spare(g) && (victim = limiter_heaviest(g->lim)) != NULL) {
		listener_shed(g, victim);
		listener_spare(g);
	}
	if (g->lstate->spare_fd < 0) {
		evtimer_add(g->lstate->backoff, &tv);
		return;
	}
	g->paused = false;
	listener_watch(g, true);
}

/* accept(2) failed for want of descriptors (EMFILE, ENFILE) or memory:
 * give the spare descriptor to one pending connection so that it can be
 * admitted by shedding a heavier client's, or refused, instead of staying
 * in the backlog and waking the loop forever. Returns false when the loop
 * must stop accepting for now (paused). */
static bool
listener_out_of_fds(struct gate *g, struct listener *l, int err)
{
	static struct log_rate rl = LOG_RATE(3, 10000);
	union wk_sockaddr sa;
	socklen_t len = sizeof(sa);
	int fd = -1;

	log_warn_rated(&rl, "accept on %s: %s: shedding connections", l->name,
	    strerror(err));
	if (g->lstate->spare_fd >= 0) {
		close(g->lstate->spare_fd);
		g->lstate->spare_fd = -1;
		fd = accept4(l->fd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			listener_admit(g, l, fd, &sa, true);
		listener_spare(g);
	}
	if (fd < 0 || g->lstate->spare_fd < 0) {
		listener_backoff(g);
		return false;
	}
	return true;
}

/* A listening socket is readable: accept up to ACCEPT_BATCH connections. */
static void
listener_on_read(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;
	struct gate *g = l->g;

	(void)what;
	for (int i = 0; i < ACCEPT_BATCH && !g->paused; i++) {
		static struct log_rate rl = LOG_RATE(5, 10000);
		union wk_sockaddr sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(lfd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			listener_admit(g, l, fd, &sa, false);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return;
		case EINTR:
		case ECONNABORTED:
		/* accept(2): Linux passes pending network errors of the new
		 * socket on; they are the client's, retry like EAGAIN. */
		case ENETDOWN: case EPROTO: case ENOPROTOOPT: case EHOSTDOWN:
		case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
			continue;
		case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
			if (!listener_out_of_fds(g, l, errno))
				return;
			continue;
		default:
			log_warn_rated(&rl, "accept on %s: %s", l->name, strerror(errno));
			listener_backoff(g);
			return;
		}
	}
}

/* Create, bind and listen one socket, bound to LAN interface ifname when
 * not NULL; -1 with errno set. Accepted sockets can always tell the
 * interface they came in on (ident_accepted): IP_PKTINFO and
 * IPV6_RECVPKTINFO make the kernel keep it for IP_PKTOPTIONS. */
int
listener_bind_dev(const struct sockaddr *sa, const char *ifname)
{
	int one = 1, fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (sa->sa_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    (sa->sa_family == AF_INET6 ?
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) :
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) < 0 ||
	    (ifname != NULL && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
		(socklen_t)strlen(ifname)) < 0) ||
	    bind(fd, sa, addr_sa_len(sa)) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Create, bind and listen one socket on no particular interface (also
 * tls.c's); -1 with errno set. */
int
listener_bind(const struct sockaddr *sa)
{
	return listener_bind_dev(sa, NULL);
}

/* Say so at start when max_connections could need more descriptors than
 * the process may open (a client and an upstream socket per connection):
 * the gate then sheds at the descriptor limit instead of at the key. */
static void
listener_check_nofile(const struct gate *g)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	if (rl.rlim_cur < rl.rlim_max) { /* take what we are allowed */
		rlim_t want = rl.rlim_max;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return;
	}
	if ((uint64_t)g->conf->max_connections * 2 + 64 > (uint64_t)rl.rlim_cur)
		log_warn("max_connections %u may need %llu file descriptors, the limit "
		    "is %llu: connections will be shed at that limit",
		    g->conf->max_connections,
		    (unsigned long long)g->conf->max_connections * 2 + 64,
		    (unsigned long long)rl.rlim_cur);
}

/* Open every configured listen address, the limiter and the spare
 * descriptor, handing admitted sockets to on_accept and connections to
 * shed to on_shed; all or nothing. With several LAN interfaces each
 * address is opened once per interface, bound to it (SO_BINDTODEVICE):
 * the kernel then answers each connection out of the interface it came
 * in on, which is what makes the same client address on two interfaces
 * two clients (docs/identity.md). */
int
listener_open_all(struct gate *g, gate_accept_cb on_accept, gate_shed_cb on_shed)
{
	size_t nif = g->conf->n_interface > 1 ? g->conf->n_interface : 1;
	struct limiter_conf lc;

	g->lstate = calloc(1, sizeof(*g->lstate));
	if (g->lstate == NULL)
		return -1;
	g->lstate->on_accept = on_accept;
	g->lstate->on_shed = on_shed;
	g->lstate->spare_fd = -1;
	listener_limits_conf(g->conf, &lc);
	g->lim = limiter_new(listener_capacity(g->conf), &lc);
	g->lstate->backoff = evtimer_new(g->base, listener_on_backoff, g);
	if (g->lim == NULL || g->lstate->backoff == NULL || !listener_spare(g)) {
		log_err("cannot set up the connection limits");
		return -1;
	}
	listener_check_nofile(g);
	for (size_t k = 0; k < g->conf->n_listen * nif; k++) {
		const struct sockaddr *sa = &g->conf->listen[k / nif].sa;
		const char *dev = g->conf->n_interface > 1 ? g->conf->interface[k % nif] : NULL;
		struct listener *l = calloc(1, sizeof(*l));

		if (l == NULL)
			return -1;
		l->g = g;
		addr_sa_format(sa, l->name);
		if (dev != NULL && strlen(l->name) + 1 + strlen(dev) < sizeof(l->name)) {
			strcat(l->name, "%");
			strcat(l->name, dev);
		}
		l->fd = listener_bind_dev(sa, dev);
		if (l->fd < 0) {
			log_err("listen %s: %s", l->name, strerror(errno));
			free(l);
			return -1;
		}
		l->port = addr_sa_port(sa);
		if (l->port == 0) { /* the kernel chose it */
			union wk_sockaddr me;
			socklen_t mlen = sizeof(me);
			if (getsockname(l->fd, &me.sa, &mlen) == 0)
				l->port = addr_sa_port(&me.sa);
		}
		if (dev != NULL) {
			/* What every socket it accepts inherits: read once here
			 * instead of once per connection. */
			socklen_t ilen = sizeof(l->ifindex);
			if (getsockopt(l->fd, SOL_SOCKET, SO_BINDTOIFINDEX, &l->ifindex,
				&ilen) < 0 || l->ifindex <= 0) {
				log_err("listen %s: SO_BINDTOIFINDEX: %s", l->name, strerror(errno));
				close(l->fd);
				free(l);
				return -1;
			}
		}
		l->ev = event_new(g->base, l->fd, EV_READ | EV_PERSIST, listener_on_read, l);
		if (l->ev == NULL || event_add(l->ev, NULL) < 0) {
			if (l->ev)
				event_free(l->ev);
			close(l->fd);
			free(l);
			return -1;
		}
		l->next = g->listeners;
		g->listeners = l;
		log_info("listening on %s", l->name);
	}
	return 0;
}

/* A reload: the limiter takes the new per-client bounds and grows with
 * max_connections. */
void
listener_reconfigure(struct gate *g)
{
	struct limiter_conf lc;

	if (g->lim == NULL)
		return;
	listener_limits_conf(g->conf, &lc);
	if (limiter_configure(g->lim, listener_capacity(g->conf), &lc) < 0)
		log_err("reload: no memory for max_connections %u; the limiter keeps "
		    "its size", g->conf->max_connections);
}

/* Stop accepting (a graceful stop): close every listening socket; the
 * limiter stays for the connections still finishing. */
void
listener_stop(struct gate *g)
{
	while (g->listeners) {
		struct listener *l = g->listeners;
		g->listeners = l->next;
		event_free(l->ev);
		close(l->fd);
		free(l);
	}
}

/* Close every listening socket, the spare and the limiter (after every
 * connection is gone). */
void
listener_close_all(struct gate *g)
{
	listener_stop(g);
	if (g->lstate != NULL) {
		if (g->lstate->backoff)
			event_free(g->lstate->backoff);
		if (g->lstate->spare_fd >= 0)
			close(g->lstate->spare_fd);
		free(g->lstate);
		g->lstate = NULL;
	}
	limiter_free(g->lim);
	g->lim = NULL;
}
