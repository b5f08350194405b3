/* addr: IP addresses, socket addresses, CIDR prefixes and MAC addresses --
 * parsing, formatting and matching. Pure: no I/O, shared by the daemon,
 * wicketctl and the tests. */
#ifndef WK_ADDR_H
#define WK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A 48-bit IEEE 802 MAC address. */
struct wk_mac {
	uint8_t b[6];
};

/* An IPv4 or IPv6 address without a port; family is AF_INET or AF_INET6. */
struct wk_ip {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/* A socket address large enough for both families. */
union wk_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
};

/* A prefix: address, length in bits, and an optional port (0 = any). */
struct wk_cidr {
	struct wk_ip ip;
	unsigned bits;
	uint16_t port;
};

#define WK_MAC_STRLEN 18  /* "aa:bb:cc:dd:ee:ff" + NUL */
#define WK_IP_STRLEN 46   /* INET6_ADDRSTRLEN */
#define WK_SA_STRLEN 56   /* "[v6]:port" + NUL */

/* Value of one hex digit (either case), or -1; shared by every parser. */
static inline int
addr_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

int addr_mac_parse(const char *s, struct wk_mac *out);
void addr_mac_format(const struct wk_mac *m, char out[WK_MAC_STRLEN]);
bool addr_mac_equal(const struct wk_mac *a, const struct wk_mac *b);
bool addr_mac_is_local(const struct wk_mac *m);
bool addr_mac_is_unicast(const struct wk_mac *m);

int addr_ip_parse(const char *s, struct wk_ip *out);
void addr_ip_format(const struct wk_ip *ip, char out[WK_IP_STRLEN]);
bool addr_ip_equal(const struct wk_ip *a, const struct wk_ip *b);
void addr_ip_from_sa(const struct sockaddr *sa, struct wk_ip *out);
uint16_t addr_sa_port(const struct sockaddr *sa);
socklen_t addr_sa_len(const struct sockaddr *sa);

int addr_hostport_parse(const char *s, union wk_sockaddr *out);
void addr_sa_format(const struct sockaddr *sa, char out[WK_SA_STRLEN]);
void addr_sa_url_host(const struct sockaddr *sa, char out[WK_SA_STRLEN]);

int addr_cidr_parse(const char *s, bool allow_port, struct wk_cidr *out);
bool addr_cidr_match(const struct wk_cidr *c, const struct wk_ip *ip, uint16_t port);

#endif
