/* policy: decides, for every request on a connection, whether it goes to
 * the original destination. It fails closed: an ambiguous identity or an
 * unknown MAC is never admitted by MAC (design brief, "Fail closed"). */
#include "policy.h"

#include <string.h>

/* True when the path (no query) is one of the configured probe paths. */
bool
policy_is_probe(const struct wk_conf *c, const char *path, size_t len)
{
	for (size_t i = 0; i < c->n_probe_path; i++)
		if (strlen(c->probe_path[i]) == len &&
		    memcmp(c->probe_path[i], path, len) == 0)
			return true;
	return false;
}

/* True when the client's address is inside an allow_ip prefix. */
static bool
ip_allowed(const struct wk_conf *c, const struct wk_ip *ip)
{
	for (size_t i = 0; i < c->n_allow_ip; i++)
		if (addr_cidr_match(&c->allow_ip[i], ip, 0))
			return true;
	return false;
}

/* True when the destination is a walled-garden prefix (and port). */
static bool
dst_in_garden(const struct wk_conf *c, const struct wk_ip *ip, uint16_t port)
{
	for (size_t i = 0; i < c->n_walled_garden; i++)
		if (addr_cidr_match(&c->walled_garden[i], ip, port))
			return true;
	return false;
}

/* True when the MAC is listed in allow_mac. */
static bool
mac_allowed(const struct wk_conf *c, const struct wk_mac *m)
{
	for (size_t i = 0; i < c->n_allow_mac; i++)
		if (addr_mac_equal(&c->allow_mac[i], m))
			return true;
	return false;
}

/* Decide one request. The order matters: the gate's own pages first (a
 * client must always reach the portal), then destinations open to all,
 * then admission, where a MAC conflict vetoes any MAC-based admission. */
enum verdict
policy_decide(const struct policy_in *in, const char **reason)
{
	const struct wk_conf *c = in->conf;

	if (in->dst_is_gate) {
		*reason = "gate";
		return V_PORTAL;
	}
	if (dst_in_garden(c, &in->dst, in->dst_port) || in->dst_in_garden_dns) {
		*reason = "walled_garden";
		return V_FORWARD;
	}
	if (ip_allowed(c, &in->client)) {
		*reason = "allow_ip";
		return V_FORWARD;
	}
	if (in->mac != NULL && !in->mac_conflict) {
		if (mac_allowed(c, in->mac)) {
			*reason = "allow_mac";
			return V_FORWARD;
		}
		if (in->session_admitted) {
			*reason = "session";
			return V_FORWARD;
		}
	}
	if (in->mac_conflict)
		*reason = "arp_conflict";
	else if (in->mac == NULL)
		*reason = "unknown_mac";
	else
		*reason = "no_session";
	if (policy_is_probe(c, in->path, in->path_len))
		return c->probe_answer == PROBE_302 ? V_PROBE : V_DENY;
	return V_DENY;
}

/* The audit log's name for a verdict. */
const char *
policy_verdict_name(enum verdict v)
{
	switch (v) {
	case V_FORWARD: return "forward";
	case V_DENY: return "deny";
	case V_PROBE: return "probe";
	case V_PORTAL: return "portal";
	}
	return "?";
}
