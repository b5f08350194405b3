/* garden: the addresses of walled_garden_host names, resolved in the
 * event loop with evdns and refreshed, so that a destination is matched by
 * its resolved address and never by the client's Host header. */
#ifndef WK_GARDEN_H
#define WK_GARDEN_H

#include <stdbool.h>

#include "addr.h"
#include "conf.h"

struct event_base;
struct evdns_base;
struct garden;

struct garden *garden_new(struct event_base *base);
void garden_configure(struct garden *gd, const struct wk_conf *c);
bool garden_match(const struct garden *gd, const struct wk_ip *ip);
int garden_dns_cancel(struct garden *gd);
void garden_free(struct garden *gd);
/* The gate's one resolver (evdns, resolv.conf and /etc/hosts), also used
 * by radius.c for server names. */
struct evdns_base *garden_dns(struct garden *gd);

#endif
