/* arpframe: the pure ARP / NDP frame parser. Takes the bytes of one Ethernet
 * frame (DLT_EN10MB, optionally 802.1Q / QinQ tagged) and says which IP->MAC
 * binding it teaches, if any. No pcap types, no I/O; see docs/identity.md. */
#ifndef WK_ARPFRAME_H
#define WK_ARPFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* What kind of frame the binding was learned from. */
enum arpframe_kind {
	ARPFRAME_NONE = 0,
	ARPFRAME_ARP_REQUEST,	/* ARP request, opcode 1 (RFC 826) */
	ARPFRAME_ARP_REPLY,	/* ARP reply, opcode 2 */
	ARPFRAME_ND_NS,		/* ICMPv6 Neighbor Solicitation (RFC 4861 §4.3) */
	ARPFRAME_ND_NA,		/* ICMPv6 Neighbor Advertisement (RFC 4861 §4.4) */
};

/* Flags in struct arp_binding.flags. */
#define ARPFRAME_F_GRATUITOUS	0x01u	/* ARP with sender IP == target IP (RFC 5227 announcement) */
#define ARPFRAME_F_MISMATCH	0x02u	/* Ethernet source != advertised MAC: suspicious, do not learn */
#define ARPFRAME_F_ETH_SRC	0x04u	/* NA without TLL option: MAC taken from the Ethernet source */
#define ARPFRAME_F_UNSOLICITED	0x08u	/* NA with the Solicited flag clear */

/* At most this many VLAN tags are looked through (802.1ad S-tag + C-tag). */
#define ARPFRAME_MAX_TAGS 2

/* One learned binding: the address `ip` is at link-layer address `mac`. */
struct arp_binding {
	struct wk_ip ip;
	struct wk_mac mac;		/* ARP sender HW address, NDP SLLA/TLL (or eth_src, see F_ETH_SRC) */
	struct wk_mac eth_src;		/* the frame's Ethernet source address */
	enum arpframe_kind kind;
	unsigned flags;			/* ARPFRAME_F_* */
	unsigned ntags;			/* VLAN tags seen, 0..ARPFRAME_MAX_TAGS */
	uint16_t vlan[ARPFRAME_MAX_TAGS]; /* VLAN IDs, outermost first */
};

/* Return values of arpframe_parse. */
#define ARPFRAME_LEARNED	1	/* *out holds a binding (check out->flags) */
#define ARPFRAME_IGNORED	0	/* a well-formed frame that teaches nothing */
#define ARPFRAME_MALFORMED	(-1)	/* truncated or invalid: count it */

/* Parse one Ethernet frame of `len` bytes. Returns ARPFRAME_LEARNED with *out
 * filled, ARPFRAME_IGNORED, or ARPFRAME_MALFORMED. Never reads past len.
 * A binding with ARPFRAME_F_MISMATCH set is reported but should not be
 * learned (docs/identity.md). */
int arpframe_parse(const uint8_t *frame, size_t len, struct arp_binding *out);

/* A short name for a kind ("arp-request", "nd-na", ...), for logs. */
const char *arpframe_kind_name(enum arpframe_kind kind);

#endif
