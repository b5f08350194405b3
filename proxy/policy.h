/* policy: the per-request decision -- forward, 511, probe redirect or the
 * gate's own pages -- as a pure function of client identity, original
 * destination, request and configuration. */
#ifndef WK_POLICY_H
#define WK_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "conf.h"

enum verdict {
	V_FORWARD, /* relay to the original destination */
	V_DENY,    /* 511 with a link to the portal */
	V_PROBE,   /* an OS connectivity probe: 302 (or 511) to the portal */
	V_PORTAL,  /* a request for the gate's own pages */
};

/* Everything the decision may depend on. */
struct policy_in {
	const struct wk_conf *conf;
	struct wk_ip client;
	int ifindex;            /* LAN interface the connection came in on (0: unknown) */
	struct wk_ip dst;
	uint16_t dst_port;
	bool dst_is_gate;       /* original destination is one of our addresses */
	const struct wk_mac *mac; /* NULL when the client's MAC is unknown */
	struct wk_mac mac_buf;  /* storage mac points to, filled by identify */
	bool mac_random;        /* locally administered MAC */
	bool mac_conflict;      /* the client's IP is claimed by two MACs */
	bool session_admitted;  /* a live session exists for the MAC */
	bool dst_in_garden_dns; /* dst is a resolved walled_garden_host address */
	const char *path;       /* request path without query */
	size_t path_len;
};

enum verdict policy_decide(const struct policy_in *in, const char **reason);
const char *policy_verdict_name(enum verdict v);
bool policy_is_probe(const struct wk_conf *c, const char *path, size_t len);

#endif
