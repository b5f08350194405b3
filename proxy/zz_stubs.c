/* zz_stubs: TEMPORARY weak stand-ins for the firewall and control modules
 * while they are being written; the real objects override them. */
#include <stdio.h>

#include "firewall.h"
#include "gate.h"

/* Stand-in: the nft mirror is not available in this build. */
__attribute__((weak)) struct firewall *
firewall_open(const char *table, char *err, size_t errlen)
{
	(void)table;
	snprintf(err, errlen, "nftables mirror not built");
	return NULL;
}

/* Stand-in. */
__attribute__((weak)) int
firewall_admit(struct firewall *fw, const struct wk_mac *mac, const struct wk_ip *ips, size_t n)
{
	(void)fw, (void)mac, (void)ips, (void)n;
	return -1;
}

/* Stand-in. */
__attribute__((weak)) int
firewall_revoke(struct firewall *fw, const struct wk_mac *mac, const struct wk_ip *ips, size_t n)
{
	(void)fw, (void)mac, (void)ips, (void)n;
	return -1;
}

/* Stand-in. */
__attribute__((weak)) int
firewall_sync(struct firewall *fw, const struct firewall_entry *e, size_t n)
{
	(void)fw, (void)e, (void)n;
	return -1;
}

/* Stand-in. */
__attribute__((weak)) void
firewall_close(struct firewall *fw)
{
	(void)fw;
}
