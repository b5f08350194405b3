/* origdst: SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST lookups on accepted
 * sockets, and the table of the router's own addresses (getifaddrs), so
 * that a request to the gate's address is served by the gate's pages. */
#include "origdst.h"

#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 41
#endif

#define MAX_LOCAL 256
static struct wk_ip local_ips[MAX_LOCAL];
static size_t n_local;

/* Ask conntrack for the pre-NAT destination of an accepted socket. A
 * socket that was not redirected reports its own local address (or
 * ENOENT), and both mean "a request to the gate itself". */
int
origdst_get(int fd, const struct sockaddr *local, union wk_sockaddr *out)
{
	socklen_t len = sizeof(*out);
	int rc;

	memset(out, 0, sizeof(*out));
	if (local->sa_family == AF_INET6)
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, &len);
	else
		rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &len);
	if (rc < 0) {
		memcpy(out, local, addr_sa_len(local));
		return -1;
	}
	return 0;
}

/* Reload the router's own addresses from the kernel. */
int
origdst_refresh_local(void)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) < 0) {
		log_warn("getifaddrs: %s", strerror(errno));
		return -1;
	}
	n_local = 0;
	for (i = ifa; i != NULL && n_local < MAX_LOCAL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
					       i->ifa_addr->sa_family != AF_INET6))
			continue;
		addr_ip_from_sa(i->ifa_addr, &local_ips[n_local++]);
	}
	freeifaddrs(ifa);
	return 0;
}

/* True when ip is one of the router's own addresses. */
bool
origdst_is_local(const struct wk_ip *ip)
{
	for (size_t k = 0; k < n_local; k++)
		if (addr_ip_equal(&local_ips[k], ip))
			return true;
	return false;
}
