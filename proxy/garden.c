/* garden: asynchronous resolution of walled_garden_host names (evdns,
 * reading resolv.conf and /etc/hosts), refreshed every few minutes. A
 * failed lookup keeps the previous addresses: a login server that stays
 * reachable through a DNS hiccup is better than a portal nobody can use. */
#include "garden.h"

#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "log.h"

#define GARDEN_ADDRS 16
#define GARDEN_REFRESH_SECS 300

/* One name and the addresses it resolved to. */
struct gentry {
	struct garden *gd;
	char name[CONF_STR];
	struct wk_ip addr[GARDEN_ADDRS];
	unsigned naddr;
	struct evdns_getaddrinfo_request *req;
};

struct garden {
	struct event_base *base;
	struct evdns_base *dns;
	struct event *timer;
	struct gentry e[CONF_MAX_LIST];
	size_t n;
};

/* A lookup finished: replace the entry's addresses when it succeeded. */
static void
garden_on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct gentry *e = arg;
	unsigned n = 0;

	/* A cancelled lookup was forgotten by garden_dns_cancel, and its entry
	 * may hold a newer one by now (a reload): leave it alone. */
	if (result == EVUTIL_EAI_CANCEL)
		return;
	e->req = NULL;
	if (result != 0) {
		log_warn("walled_garden_host %s: %s (keeping %u old addresses)",
			    e->name, evutil_gai_strerror(result), e->naddr);
		return;
	}
	for (struct evutil_addrinfo *ai = res; ai && n < GARDEN_ADDRS; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			addr_ip_from_sa(ai->ai_addr, &e->addr[n++]);
	evutil_freeaddrinfo(res);
	e->naddr = n;
	log_info("walled_garden_host %s: %u addresses", e->name, n);
}

/* Start a lookup of every name that has none in flight. */
static void
garden_resolve_all(struct garden *gd)
{
	struct evutil_addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	for (size_t i = 0; i < gd->n; i++) {
		struct gentry *e = &gd->e[i];
		if (e->req != NULL)
			continue;
		/* The callback may run before this returns (hosts file). */
		struct evdns_getaddrinfo_request *r =
		    evdns_getaddrinfo(gd->dns, e->name, NULL, &hints, garden_on_resolved, e);
		e->req = r; /* NULL when it was answered at once */
	}
}

/* Refresh timer. */
static void
garden_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct garden *gd = arg;
	struct timeval tv = { GARDEN_REFRESH_SECS, 0 };

	(void)fd;
	(void)what;
	garden_resolve_all(gd);
	evtimer_add(gd->timer, &tv);
}

/* Create the resolver; nothing is looked up until garden_configure. */
struct garden *
garden_new(struct event_base *base)
{
	struct garden *gd = calloc(1, sizeof(*gd));

	if (gd == NULL)
		return NULL;
	gd->base = base;
	gd->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	gd->timer = evtimer_new(base, garden_on_timer, gd);
	if (gd->dns == NULL || gd->timer == NULL) {
		garden_free(gd);
		return NULL;
	}
	return gd;
}

/* Cancel the lookups in flight; returns how many. At the stop, the loop
 * must run once more before the resolver is freed: libevent frees a
 * cancelled lookup in a deferred callback (else it leaks). */
int
garden_dns_cancel(struct garden *gd)
{
	int n = 0;

	if (gd == NULL)
		return 0;
	for (size_t i = 0; i < gd->n; i++)
		if (gd->e[i].req) {
			evdns_getaddrinfo_cancel(gd->e[i].req);
			gd->e[i].req = NULL;
			n++;
		}
	return n;
}

/* Take the names of a (new) configuration and resolve them. */
void
garden_configure(struct garden *gd, const struct wk_conf *c)
{
	struct timeval tv = { GARDEN_REFRESH_SECS, 0 };

	(void)garden_dns_cancel(gd);
	memset(gd->e, 0, sizeof(gd->e));
	gd->n = c->n_walled_garden_host;
	for (size_t i = 0; i < gd->n; i++) {
		gd->e[i].gd = gd;
		snprintf(gd->e[i].name, sizeof(gd->e[i].name), "%s", c->walled_garden_host[i]);
	}
	if (gd->n > 0) {
		garden_resolve_all(gd);
		evtimer_add(gd->timer, &tv);
	} else {
		evtimer_del(gd->timer);
	}
}

/* True when ip is a current address of a walled_garden_host name. */
bool
garden_match(const struct garden *gd, const struct wk_ip *ip)
{
	if (gd == NULL)
		return false;
	for (size_t i = 0; i < gd->n; i++)
		for (unsigned k = 0; k < gd->e[i].naddr; k++)
			if (addr_ip_equal(&gd->e[i].addr[k], ip))
				return true;
	return false;
}

/* The resolver, shared with radius.c (one per gate). */
struct evdns_base *
garden_dns(struct garden *gd)
{
	return gd ? gd->dns : NULL;
}

/* Cancel lookups and free the resolver. */
void
garden_free(struct garden *gd)
{
	if (gd == NULL)
		return;
	if (gd->dns)
		evdns_base_free(gd->dns, 1);
	if (gd->timer)
		event_free(gd->timer);
	free(gd);
}
