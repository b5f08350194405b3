/* firewall: the nftables mirror of admitted clients. Pure builders of the
 * nft command text (unit-tested byte for byte) and a thin libnftables shell
 * that runs each change as one in-process transaction; never forks. */
#ifndef WK_FIREWALL_H
#define WK_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* The sets in `table inet <nft_table>` (installed by scripts/wicket-firewall
 * up; docs/firewall.md): MACs, (MAC . address) pairs that may send through
 * the router, and the bare addresses that replies may be forwarded to. */
#define FIREWALL_SET_MAC "allowed_mac"   /* ether_addr */
#define FIREWALL_SET_4 "allowed4"        /* ether_addr . ipv4_addr */
#define FIREWALL_SET_6 "allowed6"        /* ether_addr . ipv6_addr */
#define FIREWALL_SET_DST4 "allowed4_dst" /* ipv4_addr */
#define FIREWALL_SET_DST6 "allowed6_dst" /* ipv6_addr */

#define FIREWALL_ENTRY_IPS 8
#define FIREWALL_TABLE_MAX 63 /* longest accepted table name */

/* One admitted client for firewall_sync. */
struct firewall_entry {
	struct wk_mac mac;
	struct wk_ip ips[FIREWALL_ENTRY_IPS];
	size_t nips;
};

struct firewall;

/* Open libnftables and check (without changing anything) that the table and
 * its five sets exist with the right types; NULL with a message in err. */
struct firewall *firewall_open(const char *table, char *err, size_t errlen);
/* Add mac and its (mac . ip) pairs in one transaction; existing elements are
 * fine. Returns 0, or -1 after logging nft's error (nothing changed). */
int firewall_admit(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t nips);
/* Remove mac, the given pairs and every pair admitted earlier for mac
 * through this handle, in one transaction; absent elements are not an
 * error. An address another admitted MAC still holds keeps its reply entry. */
int firewall_revoke(struct firewall *fw, const struct wk_mac *mac,
    const struct wk_ip *ips, size_t nips);
/* Make the sets hold exactly these clients: flush and refill in one atomic
 * transaction, so a client present before and after never loses a packet. */
int firewall_sync(struct firewall *fw, const struct firewall_entry *e,
    size_t n);
/* Free the handle; the kernel's sets are left as they are. */
void firewall_close(struct firewall *fw);

/* One element's per-element counter (sets declared with `counter` by
 * scripts/wicket-firewall): a (MAC . address) pair of allowed4/allowed6
 * counts what the client sent, an address of allowed4_dst/allowed6_dst
 * what it received. */
struct firewall_count {
	bool pair;            /* true: mac and ip; false: ip only (a _dst set) */
	bool counted;         /* the element had a counter */
	struct wk_mac mac;
	struct wk_ip ip;
	uint64_t packets, bytes;
};
typedef void (*firewall_count_cb)(const struct firewall_count *c, void *arg);
/* Read the counters of the four address sets (one netlink dump each, no
 * change). The number of elements reported, or -1 (logged). */
int firewall_counters(struct firewall *fw, firewall_count_cb cb, void *arg);
/* Pure: parse `nft list set` text, calling cb for each element. The
 * number of elements, or -1 when the text is not a set listing. */
int firewall_parse_counters(const char *text, size_t len, firewall_count_cb cb,
    void *arg);

/*
 * Pure builders. Each writes NUL-terminated nft command text into buf and
 * returns its length like snprintf (a result >= size means truncated; call
 * with size 0 to measure), or 0 when an input is invalid (table name not
 * [A-Za-z][A-Za-z0-9_]*, address family not AF_INET/AF_INET6, a sync
 * entry with nips above FIREWALL_ENTRY_IPS, no address for _dst). All
 * inputs are binary, so no caller text reaches the nft parser except the
 * validated table name. Addresses are deduplicated, IPv4-mapped IPv6 ones
 * written as IPv4.
 */

/* True when name is usable as the nft table name. */
bool firewall_table_valid(const char *table);
/* Admission (add) or removal (!add) of one client. Removal writes
 * `add element` before each `delete element`, which makes deleting an
 * absent element succeed within the same transaction. */
size_t firewall_format_admit(char *buf, size_t size, const char *table,
    const struct wk_mac *mac, const struct wk_ip *ips, size_t n, bool add);
/* Add (add) or remove (!add) bare addresses in the reply sets only. */
size_t firewall_format_dst(char *buf, size_t size, const char *table,
    const struct wk_ip *ips, size_t n, bool add);
/* Flush the five sets, then add every entry: one transaction. */
size_t firewall_format_sync(char *buf, size_t size, const char *table,
    const struct firewall_entry *e, size_t n);
/* The probe firewall_open runs in dry-run mode: one placeholder element per
 * set, which evaluates only if each set exists with the right key type. */
size_t firewall_format_probe(char *buf, size_t size, const char *table);

#endif
