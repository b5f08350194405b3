/* arpframe: parses ARP (RFC 826, RFC 5227) and NDP NS/NA (RFC 4861) out of
 * an Ethernet frame into one IP->MAC binding. Pure: every read is bounds
 * checked against the frame length; no allocation, no I/O. */
#include "arpframe.h"

#include <string.h>

#define ETH_HDR_LEN	14
#define ETHERTYPE_ARP_	0x0806
#define ETHERTYPE_IPV6_	0x86dd
#define ETHERTYPE_8021Q	0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100	/* pre-802.1ad QinQ, still seen */

#define ARP_LEN		28	/* Ethernet/IPv4 ARP payload */
#define IP6_HDR_LEN	40
#define IPPROTO_ICMPV6_	58
#define ND_NS		135
#define ND_NA		136
#define ND_FIXED_LEN	24	/* type, code, cksum, flags/reserved, target */
#define ND_OPT_SLLA	1
#define ND_OPT_TLLA	2
#define ND_NA_FLAG_SOLICITED 0x40

/* A read-only cursor over the frame. */
struct cur {
	const uint8_t *p;
	size_t len;
};

/* Big-endian 16-bit value at p. */
static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* True for an IPv4 sender address a station may own: not 0/8 (0.0.0.0 is an
 * RFC 5227 probe), loopback, multicast or the reserved/broadcast 240/4. */
static int
ip4_learnable(const uint8_t a[4])
{
	return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

/* True for an IPv6 address a station may own on the link. */
static int
ip6_learnable(const struct in6_addr *a)
{
	return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_MULTICAST(a) &&
	    !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_V4MAPPED(a);
}

/* Fill the common part of the binding once a MAC and address are known,
 * flagging a MAC that disagrees with the Ethernet source. */
static void
binding_set_mac(struct arp_binding *out, const uint8_t *mac)
{
	memcpy(out->mac.b, mac, 6);
	if (!addr_mac_equal(&out->mac, &out->eth_src))
		out->flags |= ARPFRAME_F_MISMATCH;
}

/* Parse the ARP payload at c (RFC 826). */
static int
parse_arp(struct cur c, struct arp_binding *out)
{
	const uint8_t *a = c.p;
	struct wk_mac sha;
	uint16_t op;

	if (c.len < 8)
		return ARPFRAME_MALFORMED;
	/* Another hardware or protocol type is valid ARP that is not ours. */
	if (be16(a) != 1 || be16(a + 2) != 0x0800)
		return ARPFRAME_IGNORED;
	/* Ethernet/IPv4 with other address lengths is self-contradictory. */
	if (a[4] != 6 || a[5] != 4)
		return ARPFRAME_MALFORMED;
	if (c.len < ARP_LEN)	/* Ethernet padding after the 28 bytes is fine */
		return ARPFRAME_MALFORMED;
	op = be16(a + 6);
	if (op == 1)
		out->kind = ARPFRAME_ARP_REQUEST;
	else if (op == 2)
		out->kind = ARPFRAME_ARP_REPLY;
	else
		return ARPFRAME_IGNORED;	/* RARP, InARP, ... */
	memcpy(sha.b, a + 8, 6);
	/* sha at 8, spa at 14, tha at 18, tpa at 24. */
	if (!addr_mac_is_unicast(&sha) || !ip4_learnable(a + 14))
		return ARPFRAME_IGNORED;	/* probe (spa 0.0.0.0) or junk sender */
	out->ip.family = AF_INET;
	memcpy(&out->ip.u.v4, a + 14, 4);
	if (memcmp(a + 14, a + 24, 4) == 0)
		out->flags |= ARPFRAME_F_GRATUITOUS;
	binding_set_mac(out, sha.b);
	return ARPFRAME_LEARNED;
}

/* The Internet checksum of the ICMPv6 message with its pseudo-header
 * (RFC 8200 §8.1); 0 when the stored checksum is right. */
static uint16_t
icmp6_verify(const uint8_t *ip6, const uint8_t *icmp, size_t icmp_len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 8; i < 40; i += 2)	/* source and destination addresses */
		sum += be16(ip6 + i);
	sum += (uint32_t)(icmp_len >> 16) + (uint32_t)(icmp_len & 0xffff);
	sum += IPPROTO_ICMPV6_;
	for (i = 0; i + 1 < icmp_len; i += 2)
		sum += be16(icmp + i);
	if (i < icmp_len)
		sum += (uint32_t)icmp[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Walk the ND options after the fixed part (RFC 4861 §4.6): every option
 * must have a non-zero length that fits. Sets *lla to the first option of
 * type `want` (later duplicates are ignored, as Linux does). */
static int
nd_options(const uint8_t *opt, size_t len, uint8_t want, const uint8_t **lla)
{
	*lla = NULL;
	while (len > 0) {
		size_t olen;

		if (len < 2)
			return ARPFRAME_MALFORMED;
		olen = (size_t)opt[1] * 8;
		if (olen == 0 || olen > len)
			return ARPFRAME_MALFORMED;
		if (opt[0] == want && *lla == NULL) {
			/* Ethernet link-layer option is exactly 8 bytes (RFC 2464 §6). */
			if (olen != 8)
				return ARPFRAME_MALFORMED;
			*lla = opt + 2;
		}
		opt += olen;
		len -= olen;
	}
	return 0;
}

/* Parse an IPv6 packet at c; learns from NS and NA only (RFC 4861 §7). */
static int
parse_ip6(struct cur c, struct arp_binding *out)
{
	const uint8_t *ip6 = c.p, *icmp, *lla;
	struct in6_addr src, dst, target;
	size_t plen;
	struct wk_mac m;
	int rc;

	if (c.len < IP6_HDR_LEN)
		return ARPFRAME_MALFORMED;
	if ((ip6[0] >> 4) != 6)
		return ARPFRAME_MALFORMED;
	/* ND is never behind extension headers (RFC 6980 forbids fragments). */
	if (ip6[6] != IPPROTO_ICMPV6_)
		return ARPFRAME_IGNORED;
	plen = be16(ip6 + 4);
	if (plen > c.len - IP6_HDR_LEN)
		return ARPFRAME_MALFORMED;	/* truncated (padding is allowed) */
	icmp = ip6 + IP6_HDR_LEN;
	if (plen < 1)
		return ARPFRAME_MALFORMED;
	if (icmp[0] != ND_NS && icmp[0] != ND_NA)
		return ARPFRAME_IGNORED;
	/* RFC 4861 §7.1.1/§7.1.2 validity: hop limit 255 (so the sender is on
	 * link), code 0, length >= 24, a correct checksum. */
	if (ip6[7] != 255 || plen < ND_FIXED_LEN || icmp[1] != 0)
		return ARPFRAME_MALFORMED;
	if (icmp6_verify(ip6, icmp, plen) != 0)
		return ARPFRAME_MALFORMED;
	memcpy(&src, ip6 + 8, 16);
	memcpy(&dst, ip6 + 24, 16);
	memcpy(&target, icmp + 8, 16);
	if (IN6_IS_ADDR_MULTICAST(&target) || IN6_IS_ADDR_MULTICAST(&src))
		return ARPFRAME_MALFORMED;

	out->ip.family = AF_INET6;
	if (icmp[0] == ND_NS) {
		out->kind = ARPFRAME_ND_NS;
		rc = nd_options(icmp + ND_FIXED_LEN, plen - ND_FIXED_LEN, ND_OPT_SLLA, &lla);
		if (rc != 0)
			return rc;
		/* A DAD probe from :: must not carry SLLA (§7.1.1); it teaches nothing. */
		if (IN6_IS_ADDR_UNSPECIFIED(&src))
			return lla != NULL ? ARPFRAME_MALFORMED : ARPFRAME_IGNORED;
		if (lla == NULL || !ip6_learnable(&src))
			return ARPFRAME_IGNORED;
		memcpy(m.b, lla, 6);
		if (!addr_mac_is_unicast(&m))
			return ARPFRAME_IGNORED;
		out->ip.u.v6 = src;
		binding_set_mac(out, m.b);
		return ARPFRAME_LEARNED;
	}

	out->kind = ARPFRAME_ND_NA;
	if ((icmp[4] & ND_NA_FLAG_SOLICITED) == 0)
		out->flags |= ARPFRAME_F_UNSOLICITED;
	else if (IN6_IS_ADDR_MULTICAST(&dst))
		return ARPFRAME_MALFORMED;	/* §7.1.2: solicited NA to multicast */
	rc = nd_options(icmp + ND_FIXED_LEN, plen - ND_FIXED_LEN, ND_OPT_TLLA, &lla);
	if (rc != 0)
		return rc;
	if (!ip6_learnable(&target))
		return ARPFRAME_IGNORED;
	out->ip.u.v6 = target;
	if (lla != NULL) {
		memcpy(m.b, lla, 6);
		if (!addr_mac_is_unicast(&m))
			return ARPFRAME_IGNORED;
		binding_set_mac(out, m.b);
		return ARPFRAME_LEARNED;
	}
	/* No TLL option: Linux omits it when answering a unicast NS, which is
	 * how reachability is confirmed. The Ethernet source is the target's
	 * MAC only when the node advertises its own source address. */
	if (memcmp(&src, &target, 16) != 0 || !addr_mac_is_unicast(&out->eth_src))
		return ARPFRAME_IGNORED;
	out->mac = out->eth_src;
	out->flags |= ARPFRAME_F_ETH_SRC;
	return ARPFRAME_LEARNED;
}

/* Parse one Ethernet frame: skip up to two VLAN tags, then ARP or IPv6. */
int
arpframe_parse(const uint8_t *frame, size_t len, struct arp_binding *out)
{
	struct cur c;
	uint16_t type;

	memset(out, 0, sizeof(*out));
	if (frame == NULL || len < ETH_HDR_LEN)
		return ARPFRAME_MALFORMED;
	memcpy(out->eth_src.b, frame + 6, 6);
	type = be16(frame + 12);
	c.p = frame + ETH_HDR_LEN;
	c.len = len - ETH_HDR_LEN;
	while (type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD ||
	    type == ETHERTYPE_QINQ_OLD) {
		if (out->ntags == ARPFRAME_MAX_TAGS)
			return ARPFRAME_IGNORED;	/* deeper stacks: not ours */
		if (c.len < 4)
			return ARPFRAME_MALFORMED;
		out->vlan[out->ntags++] = be16(c.p) & 0x0fff;
		type = be16(c.p + 2);
		c.p += 4;
		c.len -= 4;
	}
	if (type == ETHERTYPE_ARP_)
		return parse_arp(c, out);
	if (type == ETHERTYPE_IPV6_)
		return parse_ip6(c, out);
	return ARPFRAME_IGNORED;
}

/* A short name for a kind, for logs and the audit record. */
const char *
arpframe_kind_name(enum arpframe_kind kind)
{
	switch (kind) {
	case ARPFRAME_ARP_REQUEST:
		return "arp-request";
	case ARPFRAME_ARP_REPLY:
		return "arp-reply";
	case ARPFRAME_ND_NS:
		return "nd-ns";
	case ARPFRAME_ND_NA:
		return "nd-na";
	case ARPFRAME_NONE:
		break;
	}
	return "none";
}
