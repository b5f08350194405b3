/* test_neigh: table tests of the rtnetlink neighbour-dump parser on netlink
 * buffers built with the kernel's own structs (entries, filters, malformed
 * lengths, every truncation), then the two shells live in a private network
 * namespace: neigh_dump against real kernel entries, and sniff on a veth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <cmocka.h>
#include <event2/event.h>

#include "clock.h"
#include "neigh.h"
#include "sniff.h"

#define SKIP_STATUS 77	/* the child could not create a namespace */

/* A netlink message under construction (or a whole dump buffer). */
struct nlmsg {
	union {
		struct nlmsghdr nh;
		uint8_t raw[2048];
	} u;
};

/* The first free byte after the message. */
static uint8_t *
nl_tail(struct nlmsg *m)
{
	return m->u.raw + NLMSG_ALIGN(m->u.nh.nlmsg_len);
}

/* Start a message of type with flags and a fixed header of hlen bytes. */
static void *
nl_start(struct nlmsg *m, uint16_t type, uint16_t flags, size_t hlen)
{
	memset(m, 0, sizeof(*m));
	m->u.nh.nlmsg_type = type;
	m->u.nh.nlmsg_flags = flags;
	m->u.nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(hlen);
	return NLMSG_DATA(&m->u.nh);
}

/* Append raw bytes to the message (aligned). */
static void
nl_raw(struct nlmsg *m, const void *data, size_t len)
{
	uint8_t *t = nl_tail(m);

	assert_true(t + NLMSG_ALIGN(len) <= m->u.raw + sizeof(m->u.raw));
	memcpy(t, data, len);
	m->u.nh.nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->u.nh.nlmsg_len) + NLMSG_ALIGN(len));
}

/* Append an attribute. */
static void
nl_attr(struct nlmsg *m, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(void *)nl_tail(m);

	assert_true((uint8_t *)rta + RTA_SPACE(len) <= m->u.raw + sizeof(m->u.raw));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(rta), data, len);
	m->u.nh.nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->u.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len));
}

/* Open a nested attribute; close it with nl_nest_end. */
static struct rtattr *
nl_nest(struct nlmsg *m, uint16_t type)
{
	struct rtattr *rta = (struct rtattr *)(void *)nl_tail(m);

	nl_attr(m, type, NULL, 0);
	return rta;
}

/* Close a nested attribute. */
static void
nl_nest_end(struct nlmsg *m, struct rtattr *rta)
{
	rta->rta_len = (unsigned short)(nl_tail(m) - (uint8_t *)rta);
}

/* A dump buffer: messages appended back to back. */
struct dumpbuf {
	uint8_t b[8192];
	size_t len;
};

/* Append a finished message to the dump buffer. */
static void
dump_add(struct dumpbuf *d, const struct nlmsg *m)
{
	size_t n = m->u.nh.nlmsg_len;

	assert_true(d->len + NLMSG_ALIGN(n) <= sizeof(d->b));
	memcpy(d->b + d->len, m->u.raw, n);
	d->len += NLMSG_ALIGN(n);
}

/* Build one RTM_NEWNEIGH message as the kernel dumps it. */
static void
neigh_msg(struct nlmsg *m, int family, int ifindex, uint16_t state, uint8_t flags,
    const char *dst, const char *mac, int lladdr_len)
{
	struct ndmsg *ndm = nl_start(m, RTM_NEWNEIGH, NLM_F_MULTI, sizeof(*ndm));
	struct nda_cacheinfo ci = { 10, 20, 30, 1 };
	uint8_t addr[16], ll[16];
	uint32_t probes = 0;

	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = state;
	ndm->ndm_flags = flags;
	ndm->ndm_type = RTN_UNICAST;
	if (dst != NULL) {
		assert_int_equal(inet_pton(family == AF_INET6 ? AF_INET6 : AF_INET, dst, addr), 1);
		nl_attr(m, NDA_DST, addr, family == AF_INET6 ? 16 : 4);
	}
	if (mac != NULL) {
		struct wk_mac wm;
		assert_int_equal(addr_mac_parse(mac, &wm), 0);
		memset(ll, 0, sizeof(ll));
		memcpy(ll, wm.b, 6);
		nl_attr(m, NDA_LLADDR, ll, (size_t)lladdr_len);
	}
	nl_attr(m, NDA_CACHEINFO, &ci, sizeof(ci));
	nl_attr(m, NDA_PROBES, &probes, sizeof(probes));
}

/* Build an NLMSG_DONE or NLMSG_ERROR carrying code. */
static void
status_msg(struct nlmsg *m, uint16_t type, int32_t code)
{
	if (type == NLMSG_ERROR) {
		struct nlmsgerr *e = nl_start(m, NLMSG_ERROR, 0, sizeof(*e));
		e->error = code;
	} else {
		int32_t *p = nl_start(m, type, NLM_F_MULTI, sizeof(*p));
		*p = code;
	}
}

/* Entries collected by a callback. */
struct seen {
	int n;
	struct neigh_entry e[16];
};

/* Collect an entry. */
static void
collect(const struct neigh_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16)
		s->e[s->n] = *e;
	s->n++;
}

/* One single-entry case: is it delivered? */
struct entry_case {
	const char *name;
	int family;
	int ifindex;
	uint16_t state;
	uint8_t flags;
	const char *dst;
	const char *mac;
	int lladdr_len;
	int filter;		/* ifindex passed to neigh_parse */
	int delivered;
};

static const struct entry_case entry_cases[] = {
	{ "v4 reachable", AF_INET, 3, NUD_REACHABLE, 0, "192.168.1.10", "00:11:22:33:44:55", 6, 0, 1 },
	{ "v4 stale", AF_INET, 3, NUD_STALE, 0, "192.168.1.11", "00:11:22:33:44:56", 6, 0, 1 },
	{ "v4 delay", AF_INET, 3, NUD_DELAY, 0, "192.168.1.12", "00:11:22:33:44:57", 6, 0, 1 },
	{ "v4 probe", AF_INET, 3, NUD_PROBE, 0, "192.168.1.13", "00:11:22:33:44:58", 6, 0, 1 },
	{ "v4 permanent", AF_INET, 3, NUD_PERMANENT, 0, "192.168.1.14", "02:11:22:33:44:59", 6, 0, 1 },
	{ "v6 reachable", AF_INET6, 3, NUD_REACHABLE, 0, "fe80::211:22ff:fe33:4455", "00:11:22:33:44:55", 6, 0, 1 },
	{ "v6 router stale", AF_INET6, 3, NUD_STALE, NTF_ROUTER, "2001:db8::1", "00:11:22:33:44:01", 6, 0, 1 },
	{ "incomplete, no lladdr", AF_INET, 3, NUD_INCOMPLETE, 0, "192.168.1.20", NULL, 0, 0, 0 },
	{ "incomplete with stale lladdr", AF_INET, 3, NUD_INCOMPLETE, 0, "192.168.1.21", "00:11:22:33:44:55", 6, 0, 0 },
	{ "failed", AF_INET, 3, NUD_FAILED, 0, "192.168.1.22", NULL, 0, 0, 0 },
	{ "noarp multicast", AF_INET, 3, NUD_NOARP, 0, "224.0.0.251", "01:00:5e:00:00:fb", 6, 0, 0 },
	{ "noarp v6 multicast", AF_INET6, 3, NUD_NOARP, 0, "ff02::1", "33:33:00:00:00:01", 6, 0, 0 },
	{ "state none", AF_INET, 3, NUD_NONE, 0, "192.168.1.23", "00:11:22:33:44:55", 6, 0, 0 },
	{ "proxy entry", AF_INET, 3, NUD_REACHABLE, NTF_PROXY, "192.168.1.24", "00:11:22:33:44:55", 6, 0, 0 },
	{ "tunnel lladdr of 4 bytes", AF_INET, 3, NUD_REACHABLE, 0, "192.168.1.25", "00:11:22:33:44:55", 4, 0, 0 },
	{ "reachable without lladdr", AF_INET, 3, NUD_REACHABLE, 0, "192.168.1.26", NULL, 0, 0, 0 },
	{ "multicast lladdr", AF_INET, 3, NUD_REACHABLE, 0, "192.168.1.27", "01:00:5e:00:00:01", 6, 0, 0 },
	{ "zero lladdr", AF_INET, 3, NUD_REACHABLE, 0, "192.168.1.28", "00:00:00:00:00:00", 6, 0, 0 },
	{ "no destination", AF_INET, 3, NUD_REACHABLE, 0, NULL, "00:11:22:33:44:55", 6, 0, 0 },
	{ "other interface filtered", AF_INET, 4, NUD_REACHABLE, 0, "192.168.1.29", "00:11:22:33:44:55", 6, 3, 0 },
	{ "same interface kept", AF_INET, 3, NUD_REACHABLE, 0, "192.168.1.30", "00:11:22:33:44:55", 6, 3, 1 },
	{ "bridge fdb family", AF_BRIDGE, 3, NUD_REACHABLE, 0, NULL, "00:11:22:33:44:55", 6, 0, 0 },
};

/* Each single entry is delivered or filtered as the table says, and a
 * delivered one carries the right address, MAC, ifindex and state. */
static void
test_neigh_entries(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(entry_cases) / sizeof(entry_cases[0]); i++) {
		const struct entry_case *c = &entry_cases[i];
		struct nlmsg m;
		struct seen s = { 0 };
		int rc, err;

		neigh_msg(&m, c->family, c->ifindex, c->state, c->flags, c->dst, c->mac, c->lladdr_len);
		rc = neigh_parse(m.u.raw, m.u.nh.nlmsg_len, c->filter, collect, &s, &err);
		if (rc != NEIGH_MORE || s.n != c->delivered)
			fail_msg("%s: rc %d delivered %d", c->name, rc, s.n);
		if (s.n == 1) {
			struct wk_ip ip;
			struct wk_mac mac;
			assert_int_equal(addr_ip_parse(c->dst, &ip), 0);
			assert_int_equal(addr_mac_parse(c->mac, &mac), 0);
			assert_true(addr_ip_equal(&s.e[0].ip, &ip));
			assert_true(addr_mac_equal(&s.e[0].mac, &mac));
			assert_int_equal(s.e[0].ifindex, c->ifindex);
			assert_int_equal(s.e[0].state, c->state);
			assert_int_equal(s.e[0].flags, c->flags);
		}
	}
}

/* Builders of whole buffers for the buffer table. */
static void
buf_two_then_done(struct dumpbuf *d)
{
	struct nlmsg m;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	dump_add(d, &m);
	neigh_msg(&m, AF_INET6, 2, NUD_STALE, 0, "2001:db8::2", "00:11:22:33:44:02", 6);
	dump_add(d, &m);
	status_msg(&m, NLMSG_DONE, 0);
	dump_add(d, &m);
}

/* Two entries, no DONE yet: the dump goes on. */
static void
buf_two_more(struct dumpbuf *d)
{
	struct nlmsg m;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	dump_add(d, &m);
	neigh_msg(&m, AF_INET, 2, NUD_FAILED, 0, "10.0.0.3", NULL, 0);
	dump_add(d, &m);
	neigh_msg(&m, AF_INET, 2, NUD_PERMANENT, 0, "10.0.0.2", "00:11:22:33:44:02", 6);
	dump_add(d, &m);
}

/* A bare DONE without its status int (older kernels). */
static void
buf_done_bare(struct dumpbuf *d)
{
	struct nlmsg m;

	nl_start(&m, NLMSG_DONE, NLM_F_MULTI, 0);
	dump_add(d, &m);
}

/* DONE carrying an error status. */
static void
buf_done_error(struct dumpbuf *d)
{
	struct nlmsg m;

	status_msg(&m, NLMSG_DONE, -EBUSY);
	dump_add(d, &m);
}

/* An entry, then NLMSG_ERROR -EPERM. */
static void
buf_error(struct dumpbuf *d)
{
	struct nlmsg m;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	dump_add(d, &m);
	status_msg(&m, NLMSG_ERROR, -EPERM);
	dump_add(d, &m);
}

/* An ACK (NLMSG_ERROR 0) ends the exchange. */
static void
buf_ack(struct dumpbuf *d)
{
	struct nlmsg m;

	status_msg(&m, NLMSG_ERROR, 0);
	dump_add(d, &m);
}

/* A short NLMSG_ERROR without its code. */
static void
buf_error_short(struct dumpbuf *d)
{
	struct nlmsg m;

	nl_start(&m, NLMSG_ERROR, 0, 0);
	dump_add(d, &m);
}

/* NLMSG_OVERRUN: data was lost. */
static void
buf_overrun(struct dumpbuf *d)
{
	struct nlmsg m;

	nl_start(&m, NLMSG_OVERRUN, 0, 0);
	dump_add(d, &m);
}

/* NOOP and an unknown type are skipped. */
static void
buf_noop(struct dumpbuf *d)
{
	struct nlmsg m;

	nl_start(&m, NLMSG_NOOP, 0, 0);
	dump_add(d, &m);
	nl_start(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	dump_add(d, &m);
	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	dump_add(d, &m);
}

/* nlmsg_len larger than the buffer. */
static void
buf_len_too_big(struct dumpbuf *d)
{
	struct nlmsg m;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	dump_add(d, &m);
	((struct nlmsghdr *)(void *)d->b)->nlmsg_len += 4;
}

/* nlmsg_len smaller than the header itself. */
static void
buf_len_too_small(struct dumpbuf *d)
{
	struct nlmsg m;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	dump_add(d, &m);
	((struct nlmsghdr *)(void *)d->b)->nlmsg_len = 8;
}

/* An ndmsg cut short. */
static void
buf_short_ndmsg(struct dumpbuf *d)
{
	struct nlmsg m;

	nl_start(&m, RTM_NEWNEIGH, NLM_F_MULTI, 8);
	dump_add(d, &m);
}

/* An attribute longer than its message. */
static void
buf_rta_overrun(struct dumpbuf *d)
{
	struct nlmsg m;
	struct rtattr *rta;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	rta = (struct rtattr *)(void *)(m.u.raw + NLMSG_LENGTH(sizeof(struct ndmsg)));
	rta->rta_len = 200;
	dump_add(d, &m);
}

/* An attribute length below the attribute header. */
static void
buf_rta_tiny(struct dumpbuf *d)
{
	struct nlmsg m;
	struct rtattr *rta;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	rta = (struct rtattr *)(void *)(m.u.raw + NLMSG_LENGTH(sizeof(struct ndmsg)));
	rta->rta_len = 2;
	dump_add(d, &m);
}

/* NDA_DST of the wrong size for its family. */
static void
buf_dst_wrong_size(struct dumpbuf *d)
{
	struct nlmsg m;
	struct ndmsg *ndm = nl_start(&m, RTM_NEWNEIGH, NLM_F_MULTI, sizeof(*ndm));
	uint8_t addr[16] = { 10, 0, 0, 1 };
	uint8_t ll[6] = { 0, 0x11, 0x22, 0x33, 0x44, 0x55 };

	ndm->ndm_family = AF_INET;
	ndm->ndm_state = NUD_REACHABLE;
	nl_attr(&m, NDA_DST, addr, 16);
	nl_attr(&m, NDA_LLADDR, ll, 6);
	dump_add(d, &m);
}

/* Three stray bytes after the last message. */
static void
buf_trailing(struct dumpbuf *d)
{
	buf_two_more(d);
	memset(d->b + d->len, 0xab, 3);
	d->len += 3;
}

/* Stray bytes inside a message after its last attribute. */
static void
buf_stray_in_msg(struct dumpbuf *d)
{
	struct nlmsg m;

	neigh_msg(&m, AF_INET, 2, NUD_REACHABLE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	m.u.nh.nlmsg_len += 2;
	memcpy(d->b, m.u.raw, m.u.nh.nlmsg_len);
	d->len = m.u.nh.nlmsg_len;
}

/* The last attribute's padding missing at the very end of the buffer. */
static void
buf_unpadded_tail(struct dumpbuf *d)
{
	struct nlmsg m;
	struct ndmsg *ndm = nl_start(&m, RTM_NEWNEIGH, NLM_F_MULTI, sizeof(*ndm));
	uint8_t addr[4] = { 10, 0, 0, 1 };
	uint8_t ll[6] = { 0, 0x11, 0x22, 0x33, 0x44, 0x55 };

	ndm->ndm_family = AF_INET;
	ndm->ndm_state = NUD_REACHABLE;
	nl_attr(&m, NDA_DST, addr, 4);
	nl_attr(&m, NDA_LLADDR, ll, 6);
	m.u.nh.nlmsg_len -= 2;	/* rta_len 10, padded to 12: drop the pad */
	memcpy(d->b, m.u.raw, m.u.nh.nlmsg_len);
	d->len = m.u.nh.nlmsg_len;
}

/* Nothing at all. */
static void
buf_empty(struct dumpbuf *d)
{
	d->len = 0;
}

/* A whole-buffer case. */
struct buf_case {
	const char *name;
	void (*build)(struct dumpbuf *d);
	int rc;
	int delivered;
	int err;
};

static const struct buf_case buf_cases[] = {
	{ "two entries then done", buf_two_then_done, NEIGH_DONE, 2, 0 },
	{ "entries, dump goes on", buf_two_more, NEIGH_MORE, 2, 0 },
	{ "bare done", buf_done_bare, NEIGH_DONE, 0, 0 },
	{ "done with error", buf_done_error, NEIGH_ERROR, 0, -EBUSY },
	{ "entry then error", buf_error, NEIGH_ERROR, 1, -EPERM },
	{ "ack", buf_ack, NEIGH_DONE, 0, 0 },
	{ "short error", buf_error_short, NEIGH_ERROR, 0, 0 },
	{ "overrun", buf_overrun, NEIGH_ERROR, 0, 0 },
	{ "noop and other types skipped", buf_noop, NEIGH_MORE, 1, 0 },
	{ "nlmsg_len too big", buf_len_too_big, NEIGH_ERROR, 0, 0 },
	{ "nlmsg_len too small", buf_len_too_small, NEIGH_ERROR, 0, 0 },
	{ "short ndmsg", buf_short_ndmsg, NEIGH_ERROR, 0, 0 },
	{ "attribute overruns message", buf_rta_overrun, NEIGH_ERROR, 0, 0 },
	{ "attribute length 2", buf_rta_tiny, NEIGH_ERROR, 0, 0 },
	{ "v4 destination of 16 bytes", buf_dst_wrong_size, NEIGH_ERROR, 0, 0 },
	{ "trailing bytes", buf_trailing, NEIGH_ERROR, 2, 0 },
	{ "stray bytes in a message", buf_stray_in_msg, NEIGH_ERROR, 0, 0 },
	{ "unpadded last attribute", buf_unpadded_tail, NEIGH_MORE, 1, 0 },
	{ "empty buffer", buf_empty, NEIGH_MORE, 0, 0 },
};

/* Every whole buffer gives its result, delivery count and error code;
 * every prefix of it is parsed from an exact-size heap copy (ASan). */
static void
test_neigh_buffers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(buf_cases) / sizeof(buf_cases[0]); i++) {
		const struct buf_case *c = &buf_cases[i];
		struct dumpbuf *d = calloc(1, sizeof(*d));
		struct seen s = { 0 };
		int rc, err = 12345;

		assert_non_null(d);
		c->build(d);
		rc = neigh_parse(d->b, d->len, 0, collect, &s, &err);
		if (rc != c->rc || s.n != c->delivered || err != c->err)
			fail_msg("%s: rc %d delivered %d err %d", c->name, rc, s.n, err);
		for (size_t k = 0; k < d->len; k++) {
			uint8_t *p = malloc(k > 0 ? k : 1);
			assert_non_null(p);
			memcpy(p, d->b, k);
			rc = neigh_parse(p, k, 0, collect, &s, NULL);
			assert_true(rc >= NEIGH_ERROR && rc <= NEIGH_DONE);
			free(p);
		}
		free(d);
	}
	assert_int_equal(neigh_parse(NULL, 0, 0, collect, NULL, NULL), NEIGH_ERROR);
}

/* A prefix of a dump is MORE exactly at message boundaries, else ERROR. */
static void
test_neigh_prefixes(void **state)
{
	struct dumpbuf d = { .len = 0 };
	size_t bounds[4], nb = 0, off = 0;

	(void)state;
	buf_two_then_done(&d);
	while (off < d.len) {
		const struct nlmsghdr *nh = (const void *)(d.b + off);
		off += NLMSG_ALIGN(nh->nlmsg_len);
		bounds[nb++] = off;
	}
	assert_int_equal(nb, 3);
	for (size_t k = 0; k < d.len; k++) {
		int want = (k == 0 || k == bounds[0] || k == bounds[1]) ? NEIGH_MORE : NEIGH_ERROR;
		assert_int_equal(neigh_parse(d.b, k, 0, NULL, NULL, NULL), want);
	}
	assert_int_equal(neigh_parse(d.b, d.len, 0, NULL, NULL, NULL), NEIGH_DONE);
}

/* The lookup-miss rate limit allows one dump per interval. */
static void
test_neigh_limit(void **state)
{
	struct neigh_limit l = { .interval_ms = 1000 };

	(void)state;
	assert_true(neigh_limit_take(&l, 5));
	assert_false(neigh_limit_take(&l, 6));
	assert_false(neigh_limit_take(&l, 1004));
	assert_true(neigh_limit_take(&l, 1005));
	assert_false(neigh_limit_take(&l, 1500));
	assert_true(neigh_limit_take(&l, 200));	/* clock went back: allow */

	/* A burst of 3, a token every 10 ms. */
	struct neigh_limit b = { .interval_ms = 10, .burst = 3 };
	assert_true(neigh_limit_take(&b, 100));
	assert_true(neigh_limit_take(&b, 100));
	assert_true(neigh_limit_take(&b, 100));
	assert_false(neigh_limit_take(&b, 109));
	assert_true(neigh_limit_take(&b, 110));
	assert_false(neigh_limit_take(&b, 110));
	for (int i = 0; i < 3; i++)
		assert_true(neigh_limit_take(&b, 100000));	/* refilled to 3, not more */
	assert_false(neigh_limit_take(&b, 100000));
}

/* --- live tests in a private network namespace (forked child) --- */

/* Report a failed check in the child (with its line) and exit 1. */
#define CHILD_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "child check failed at line %d: %s (errno %d)\n", __LINE__, #cond, errno); \
		_exit(1); \
	} \
} while (0)

/* Send a request on rtnetlink and wait for its ACK; 0 or -errno. */
static int
nl_talk(int fd, struct nlmsg *m)
{
	uint8_t buf[4096];
	ssize_t n;

	m->u.nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	m->u.nh.nlmsg_seq++;
	if (send(fd, m->u.raw, m->u.nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return -EIO;
	if (((struct nlmsghdr *)(void *)buf)->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)(void *)buf))->error;
}

/* Create the veth pair va <-> vb over rtnetlink. */
static int
veth_create(int fd)
{
	struct nlmsg m;
	struct ifinfomsg *ifi, peer;
	struct rtattr *linkinfo, *data, *pn;

	ifi = nl_start(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_attr(&m, IFLA_IFNAME, "va", 3);
	linkinfo = nl_nest(&m, IFLA_LINKINFO);
	nl_attr(&m, IFLA_INFO_KIND, "veth", 4);
	data = nl_nest(&m, IFLA_INFO_DATA);
	pn = nl_nest(&m, VETH_INFO_PEER);
	memset(&peer, 0, sizeof(peer));
	nl_raw(&m, &peer, sizeof(peer));
	nl_attr(&m, IFLA_IFNAME, "vb", 3);
	nl_nest_end(&m, pn);
	nl_nest_end(&m, data);
	nl_nest_end(&m, linkinfo);
	return nl_talk(fd, &m);
}

/* Bring an interface up. */
static int
link_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

/* Add a neighbour entry over rtnetlink (mac NULL: none). */
static int
neigh_add(int fd, int family, int ifindex, uint16_t state, const char *dst, const char *mac)
{
	struct nlmsg m;
	struct ndmsg *ndm = nl_start(&m, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ndm));
	uint8_t addr[16];
	struct wk_mac wm;

	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = state;
	if (inet_pton(family, dst, addr) != 1)
		return -EINVAL;
	nl_attr(&m, NDA_DST, addr, family == AF_INET6 ? 16 : 4);
	if (mac != NULL) {
		if (addr_mac_parse(mac, &wm) != 0)
			return -EINVAL;
		nl_attr(&m, NDA_LLADDR, wm.b, 6);
	}
	return nl_talk(fd, &m);
}

/* Enter a fresh network namespace with the veth pair up; SKIP_STATUS when
 * namespaces are not available here. */
static void
child_netns(void)
{
	int fd;

	if (unshare(CLONE_NEWNET) != 0)
		_exit(SKIP_STATUS);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHILD_CHECK(fd >= 0);
	if (veth_create(fd) != 0)
		_exit(SKIP_STATUS);	/* no veth driver: nothing to test on */
	close(fd);
	CHILD_CHECK(link_up("lo") == 0);
	CHILD_CHECK(link_up("va") == 0);
	CHILD_CHECK(link_up("vb") == 0);
}

/* Run fn in a forked child and check its exit status (77: skip). */
static void
run_child(void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIP_STATUS) {
		skip();
		return;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Child: static entries added over rtnetlink come back from neigh_dump;
 * the incomplete one and other interfaces' entries do not. */
static void
child_neigh_dump(void)
{
	struct seen s = { 0 };
	struct wk_ip ip4, ip6, ip_inc;
	int fd, va, vb, n, found4 = 0, found6 = 0;

	child_netns();
	va = (int)if_nametoindex("va");
	vb = (int)if_nametoindex("vb");
	CHILD_CHECK(va > 0 && vb > 0);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(neigh_add(fd, AF_INET, va, NUD_PERMANENT, "10.9.9.9", "02:11:22:33:44:55") == 0);
	CHILD_CHECK(neigh_add(fd, AF_INET6, va, NUD_PERMANENT, "2001:db8::9", "00:11:22:33:44:66") == 0);
	CHILD_CHECK(neigh_add(fd, AF_INET, va, NUD_INCOMPLETE, "10.9.9.8", NULL) == 0);
	close(fd);
	CHILD_CHECK(addr_ip_parse("10.9.9.9", &ip4) == 0);
	CHILD_CHECK(addr_ip_parse("2001:db8::9", &ip6) == 0);
	CHILD_CHECK(addr_ip_parse("10.9.9.8", &ip_inc) == 0);

	n = neigh_dump(0, collect, &s);
	CHILD_CHECK(n >= 2 && n == s.n && n <= 16);
	for (int i = 0; i < n; i++) {
		CHILD_CHECK(!addr_ip_equal(&s.e[i].ip, &ip_inc));
		if (addr_ip_equal(&s.e[i].ip, &ip4)) {
			CHILD_CHECK(s.e[i].ifindex == va && s.e[i].state == NUD_PERMANENT);
			CHILD_CHECK(s.e[i].mac.b[0] == 0x02 && s.e[i].mac.b[5] == 0x55);
			found4++;
		}
		if (addr_ip_equal(&s.e[i].ip, &ip6)) {
			CHILD_CHECK(s.e[i].mac.b[5] == 0x66);
			found6++;
		}
	}
	CHILD_CHECK(found4 == 1 && found6 == 1);

	/* Filtered to vb: none of va's entries. */
	memset(&s, 0, sizeof(s));
	n = neigh_dump(vb, collect, &s);
	CHILD_CHECK(n >= 0 && n == s.n);
	for (int i = 0; i < n && i < 16; i++)
		CHILD_CHECK(s.e[i].ifindex == vb);
	/* Filtered to va: both. */
	memset(&s, 0, sizeof(s));
	n = neigh_dump(va, collect, &s);
	CHILD_CHECK(n >= 2);
}

/* neigh_dump against the kernel in a private namespace. */
static void
test_neigh_dump_netns(void **state)
{
	(void)state;
	run_child(child_neigh_dump);
}

/* Give ifname the IPv4 address addr/24 (so the kernel routes 10.9.9.0/24
 * through it). */
static int
addr_add4(const char *ifname, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1 && ioctl(s, SIOCSIFADDR, &ifr) == 0) {
		sin->sin_addr.s_addr = htonl(0xffffff00u);
		rc = ioctl(s, SIOCSIFNETMASK, &ifr);
	}
	close(s);
	return rc;
}

/* Child: single-entry lookups find exactly the usable entries, by
 * interface or through the route, and never wait. */
static void
child_neigh_get(void)
{
	struct neigh_entry e;
	struct wk_ip ip4, ip6, ip_inc, ip_none, ip_far;
	int fd, nl, va, vb;
	uint64_t t0;

	child_netns();
	va = (int)if_nametoindex("va");
	vb = (int)if_nametoindex("vb");
	CHILD_CHECK(va > 0 && vb > 0);
	CHILD_CHECK(addr_add4("va", "10.9.9.1") == 0);
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHILD_CHECK(nl >= 0);
	CHILD_CHECK(neigh_add(nl, AF_INET, va, NUD_REACHABLE, "10.9.9.9", "02:11:22:33:44:55") == 0);
	CHILD_CHECK(neigh_add(nl, AF_INET6, va, NUD_PERMANENT, "2001:db8::9", "00:11:22:33:44:66") == 0);
	CHILD_CHECK(neigh_add(nl, AF_INET, va, NUD_INCOMPLETE, "10.9.9.8", NULL) == 0);
	close(nl);
	CHILD_CHECK(addr_ip_parse("10.9.9.9", &ip4) == 0);
	CHILD_CHECK(addr_ip_parse("2001:db8::9", &ip6) == 0);
	CHILD_CHECK(addr_ip_parse("10.9.9.8", &ip_inc) == 0);
	CHILD_CHECK(addr_ip_parse("10.9.9.7", &ip_none) == 0);
	CHILD_CHECK(addr_ip_parse("192.0.2.1", &ip_far) == 0);
	fd = neigh_socket();
	CHILD_CHECK(fd >= 0);

	t0 = clock_mono_ms();
	CHILD_CHECK(neigh_get(fd, va, &ip4, &e) == 1);
	CHILD_CHECK(e.ifindex == va && addr_ip_equal(&e.ip, &ip4) && e.mac.b[5] == 0x55);
	CHILD_CHECK(neigh_get(fd, va, &ip6, &e) == 1 && e.mac.b[5] == 0x66);
	CHILD_CHECK(neigh_get(fd, vb, &ip4, &e) == 0);		/* another interface */
	CHILD_CHECK(neigh_get(fd, va, &ip_inc, &e) == 0);	/* unusable state */
	CHILD_CHECK(neigh_get(fd, va, &ip_none, &e) == 0);	/* no entry */
	/* Interface unknown: the kernel's route to 10.9.9.9 says va. */
	memset(&e, 0, sizeof(e));
	CHILD_CHECK(neigh_get(fd, 0, &ip4, &e) == 1 && e.ifindex == va && e.mac.b[5] == 0x55);
	CHILD_CHECK(neigh_get(fd, 0, &ip_none, &e) == 0);
	CHILD_CHECK(neigh_get(fd, 0, &ip_far, &e) == 0);	/* no route at all */
	/* Many in a row: each answer is already queued, nothing waits. */
	for (int i = 0; i < 1000; i++)
		CHILD_CHECK(neigh_get(fd, va, (i & 1) ? &ip4 : &ip_none, &e) == (i & 1));
	CHILD_CHECK(clock_mono_ms() - t0 < 2000);
	CHILD_CHECK(neigh_get(fd, -1, &ip4, &e) == -1 && errno == EINVAL);
	close(fd);
}

/* neigh_get against the kernel in a private namespace. */
static void
test_neigh_get_netns(void **state)
{
	(void)state;
	run_child(child_neigh_get);
}

/* The ICMPv6 checksum of an IPv6 packet at ip6 (pseudo-header included). */
static uint16_t
icmp6_sum(const uint8_t *ip6, size_t icmp_len)
{
	uint32_t sum = (uint32_t)icmp_len + 58;
	size_t i;

	for (i = 8; i < 40; i += 2)
		sum += (uint32_t)(ip6[i] << 8 | ip6[i + 1]);
	for (i = 0; i + 1 < icmp_len; i += 2)
		sum += (uint32_t)(ip6[40 + i] << 8 | ip6[40 + i + 1]);
	if (i < icmp_len)
		sum += (uint32_t)ip6[40 + i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Build an ARP frame (optionally 802.1Q tagged); returns its length. */
static size_t
frame_arp(uint8_t *f, uint16_t op, const uint8_t mac[6], const uint8_t ip[4], int vlan,
    int hlen)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t o = 12;

	memcpy(f, bcast, 6);
	memcpy(f + 6, mac, 6);
	if (vlan >= 0) {
		f[o++] = 0x81; f[o++] = 0x00;
		f[o++] = (uint8_t)(vlan >> 8); f[o++] = (uint8_t)vlan;
	}
	f[o++] = 0x08; f[o++] = 0x06;
	f[o++] = 0; f[o++] = 1; f[o++] = 0x08; f[o++] = 0x00;
	f[o++] = (uint8_t)hlen; f[o++] = 4; f[o++] = 0; f[o++] = (uint8_t)op;
	memcpy(f + o, mac, 6); o += 6;
	memcpy(f + o, ip, 4); o += 4;
	memset(f + o, 0, 6); o += 6;
	memcpy(f + o, ip, 4); o += 4;	/* gratuitous: tpa == spa */
	while (o < 60)
		f[o++] = 0;	/* Ethernet minimum */
	return o;
}

/* Build an unsolicited NA for target with a TLL option; returns its length. */
static size_t
frame_na(uint8_t *f, const uint8_t mac[6], const char *target)
{
	static const uint8_t dst[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	uint8_t *ip6 = f + 14, *icmp = ip6 + 40;
	uint16_t sum;

	memset(f, 0, 14 + 40 + 32);
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x86; f[13] = 0xdd;
	ip6[0] = 0x60; ip6[5] = 32; ip6[6] = 58; ip6[7] = 255;
	if (inet_pton(AF_INET6, target, ip6 + 8) != 1 || inet_pton(AF_INET6, "ff02::1", ip6 + 24) != 1)
		return 0;
	icmp[0] = 136;
	icmp[4] = 0x20;	/* Override */
	memcpy(icmp + 8, ip6 + 8, 16);
	icmp[24] = 2; icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	sum = icmp6_sum(ip6, 32);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	return 14 + 40 + 32;
}

/* Send a raw frame out of ifname. */
static int
frame_send(int s, const char *ifname, const uint8_t *f, size_t len)
{
	struct sockaddr_ll sll;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, f, 6);
	return sendto(s, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)len ? 0 : -1;
}

/* What the live sniffer test collected. */
struct live {
	struct event_base *base;
	struct arp_binding b[32];
	int n;
	int ticks;
};

/* Sniffer callback: keep the binding. */
static void
live_cb(const struct arp_binding *b, void *arg)
{
	struct live *l = arg;

	if (l->n < 32)
		l->b[l->n] = *b;
	l->n++;
}

/* Periodic check: stop the loop once the frames are in, or after 2 s. */
static void
live_tick(evutil_socket_t fd, short what, void *arg)
{
	struct live *l = arg;

	(void)fd;
	(void)what;
	if (l->n >= 3 || ++l->ticks > 40)
		event_base_loopbreak(l->base);
}

/* Index of the binding for ip in l, or -1. */
static int
live_find(const struct live *l, const char *ip)
{
	struct wk_ip want;

	if (addr_ip_parse(ip, &want) != 0)
		return -1;
	for (int i = 0; i < l->n && i < 32; i++)
		if (addr_ip_equal(&l->b[i].ip, &want))
			return i;
	return -1;
}

/* Child: frames sent into vb arrive on va, where the sniffer learns them
 * through the event loop; malformed ones are counted; va's own output is
 * not learned. */
static void
child_sniff_live(void)
{
	static const uint8_t ma[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t mb[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x66 };
	static const uint8_t ip5[4] = { 10, 1, 1, 5 }, ip6_[4] = { 10, 1, 1, 6 };
	static const uint8_t ip7[4] = { 10, 1, 1, 7 }, ip9[4] = { 10, 1, 1, 9 };
	struct live l;
	struct sniff *sn;
	struct sniff_stats st;
	struct event *tick;
	struct timeval tv = { 0, 50000 };
	uint8_t f[128];
	char err[256];
	size_t len;
	int s, i;

	child_netns();
	memset(&l, 0, sizeof(l));
	l.base = event_base_new();
	CHILD_CHECK(l.base != NULL);
	sn = sniff_open(l.base, "nonexistent0", live_cb, &l, err, sizeof(err));
	CHILD_CHECK(sn == NULL && err[0] != '\0');
	sn = sniff_open(l.base, "va", live_cb, &l, err, sizeof(err));
	if (sn == NULL)
		fprintf(stderr, "sniff_open: %s\n", err);
	CHILD_CHECK(sn != NULL);

	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	CHILD_CHECK(s >= 0);
	len = frame_arp(f, 1, ma, ip5, -1, 6);
	CHILD_CHECK(frame_send(s, "vb", f, len) == 0);
	len = frame_arp(f, 2, mb, ip6_, 10, 6);
	CHILD_CHECK(frame_send(s, "vb", f, len) == 0);
	len = frame_arp(f, 1, mb, ip7, -1, 8);	/* hlen 8: malformed */
	CHILD_CHECK(frame_send(s, "vb", f, len) == 0);
	len = frame_arp(f, 1, ma, ip9, -1, 6);	/* our own output: not learned */
	CHILD_CHECK(frame_send(s, "va", f, len) == 0);
	len = frame_na(f, ma, "2001:db8::7");
	CHILD_CHECK(len > 0 && frame_send(s, "vb", f, len) == 0);
	close(s);

	tick = event_new(l.base, -1, EV_PERSIST, live_tick, &l);
	CHILD_CHECK(tick != NULL && event_add(tick, &tv) == 0);
	CHILD_CHECK(event_base_dispatch(l.base) >= 0);
	event_free(tick);

	i = live_find(&l, "10.1.1.5");
	CHILD_CHECK(i >= 0 && l.b[i].kind == ARPFRAME_ARP_REQUEST);
	CHILD_CHECK((l.b[i].flags & ARPFRAME_F_GRATUITOUS) && l.b[i].ntags == 0);
	i = live_find(&l, "10.1.1.6");
	CHILD_CHECK(i >= 0 && l.b[i].kind == ARPFRAME_ARP_REPLY);
	CHILD_CHECK(l.b[i].ntags == 1 && l.b[i].vlan[0] == 10);	/* tag re-inserted by libpcap */
	i = live_find(&l, "2001:db8::7");
	CHILD_CHECK(i >= 0 && l.b[i].kind == ARPFRAME_ND_NA && l.b[i].mac.b[5] == 0x55);
	CHILD_CHECK(live_find(&l, "10.1.1.9") < 0);
	CHILD_CHECK(live_find(&l, "10.1.1.7") < 0);

	sniff_get_stats(sn, &st);
	CHILD_CHECK(st.capturing == 1 && st.inbound_only == 1);
	CHILD_CHECK(st.learned >= 3 && st.malformed >= 1 && st.seen >= 4);
	CHILD_CHECK(st.errors == 0 && st.mismatch == 0);
	sniff_close(sn);
	event_base_free(l.base);
}

/* The sniffer live on a veth in a private namespace. */
static void
test_sniff_live_netns(void **state)
{
	(void)state;
	run_child(child_sniff_live);
}

/* Run the neigh tests. */
/* Captures the last entry a parse delivered. */
static void
grab_entry(const struct neigh_entry *e, void *arg)
{
	*(struct neigh_entry *)arg = *e;
}

/* NDA_CACHEINFO gives the entry's age: the fresher of confirmed/updated
 * (10 of {10, 20, 30}); an entry without it is "age unknown". */
static void
test_neigh_cacheinfo(void **state)
{
	struct nlmsg m;
	struct neigh_entry e;
	struct ndmsg *ndm;
	uint8_t addr[4] = { 10, 0, 0, 9 }, ll[6] = { 0, 0x11, 0x22, 0x33, 0x44, 0x55 };

	(void)state;
	memset(&e, 0, sizeof(e));
	neigh_msg(&m, AF_INET, 2, NUD_STALE, 0, "10.0.0.1", "00:11:22:33:44:01", 6);
	assert_int_equal(neigh_parse(m.u.raw, m.u.nh.nlmsg_len, 0, grab_entry, &e, NULL),
	    NEIGH_MORE);
	assert_int_equal(e.age_cs, 10);
	ndm = nl_start(&m, RTM_NEWNEIGH, NLM_F_MULTI, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_state = NUD_REACHABLE;
	nl_attr(&m, NDA_DST, addr, 4);
	nl_attr(&m, NDA_LLADDR, ll, 6);
	assert_int_equal(neigh_parse(m.u.raw, m.u.nh.nlmsg_len, 0, grab_entry, &e, NULL),
	    NEIGH_MORE);
	assert_int_equal(e.age_cs, UINT32_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_neigh_entries),
		cmocka_unit_test(test_neigh_get_netns),
		cmocka_unit_test(test_neigh_buffers),
		cmocka_unit_test(test_neigh_prefixes),
		cmocka_unit_test(test_neigh_limit),
		cmocka_unit_test(test_neigh_cacheinfo),
		cmocka_unit_test(test_neigh_dump_netns),
		cmocka_unit_test(test_sniff_live_netns),
	};

	return cmocka_run_group_tests_name("neigh", tests, NULL, NULL);
}
