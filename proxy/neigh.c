/* neigh: reads the kernel's ARP/NDP neighbour caches over rtnetlink (no
 * fork of `ip neigh`): RTM_GETNEIGH dumps at start-up and single-entry
 * requests on the event loop. neigh_parse is pure and bounds checked;
 * neigh_dump never waits past its deadline, neigh_get never waits. */
#include "neigh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "clock.h"

#define NEIGH_BUF_SIZE 32768	/* the largest dump skb the kernel builds */
#define NEIGH_RECV_TIMEOUT_MS 100

/* Parse one RTM_NEWNEIGH payload; -1 on malformed, else 0 (delivered or
 * filtered out). */
static int
parse_neigh(const uint8_t *p, size_t len, int ifindex, neigh_cb cb, void *arg)
{
	struct ndmsg ndm;
	struct neigh_entry e;
	size_t off;
	int have_dst = 0, have_mac = 0;

	if (len < sizeof(ndm))
		return -1;
	memcpy(&ndm, p, sizeof(ndm));
	memset(&e, 0, sizeof(e));
	e.age_cs = UINT32_MAX;
	off = NLMSG_ALIGN(sizeof(ndm));
	if (off > len)
		off = len;
	while (len - off >= sizeof(struct rtattr)) {
		struct rtattr rta;
		size_t alen, plen;

		memcpy(&rta, p + off, sizeof(rta));
		alen = rta.rta_len;
		if (alen < sizeof(rta) || alen > len - off)
			return -1;
		plen = alen - RTA_LENGTH(0);
		switch (rta.rta_type & NLA_TYPE_MASK) {
		case NDA_DST:
			if (ndm.ndm_family == AF_INET && plen == 4) {
				e.ip.family = AF_INET;
				memcpy(&e.ip.u.v4, p + off + RTA_LENGTH(0), 4);
				have_dst = 1;
			} else if (ndm.ndm_family == AF_INET6 && plen == 16) {
				e.ip.family = AF_INET6;
				memcpy(&e.ip.u.v6, p + off + RTA_LENGTH(0), 16);
				have_dst = 1;
			} else if (ndm.ndm_family == AF_INET || ndm.ndm_family == AF_INET6) {
				return -1;	/* an address of the wrong size */
			}
			break;
		case NDA_CACHEINFO:
			/* Ages in clock ticks (USER_HZ, 100/s): the fresher of
			 * "confirmed" and "updated" says how current it is. */
			if (plen >= sizeof(struct nda_cacheinfo)) {
				struct nda_cacheinfo ci;
				memcpy(&ci, p + off + RTA_LENGTH(0), sizeof(ci));
				e.age_cs = ci.ndm_confirmed < ci.ndm_updated ?
				    ci.ndm_confirmed : ci.ndm_updated;
			}
			break;
		case NDA_LLADDR:
			/* Non-Ethernet links (tunnels) have other sizes: no MAC. */
			if (plen == 6) {
				memcpy(e.mac.b, p + off + RTA_LENGTH(0), 6);
				have_mac = 1;
			}
			break;
		default:
			break;
		}
		off += RTA_ALIGN(alen);
		if (off > len)
			off = len;
	}
	if (off != len)
		return -1;	/* 1..3 stray bytes after the last attribute */
	if (ndm.ndm_family != AF_INET && ndm.ndm_family != AF_INET6)
		return 0;
	if (ifindex > 0 && ndm.ndm_ifindex != ifindex)
		return 0;
	if ((ndm.ndm_flags & NTF_PROXY) != 0)
		return 0;
	if (ndm.ndm_state == NUD_NONE ||
	    (ndm.ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) != 0)
		return 0;
	if (!have_dst || !have_mac || !addr_mac_is_unicast(&e.mac))
		return 0;
	if (e.ip.family == AF_INET6 && (IN6_IS_ADDR_UNSPECIFIED(&e.ip.u.v6) ||
	    IN6_IS_ADDR_MULTICAST(&e.ip.u.v6)))
		return 0;
	if (e.ip.family == AF_INET && e.ip.u.v4.s_addr == 0)
		return 0;
	e.ifindex = ndm.ndm_ifindex;
	e.state = ndm.ndm_state;
	e.flags = ndm.ndm_flags;
	if (cb != NULL)
		cb(&e, arg);
	return 0;
}

/* Walk the netlink messages of one receive buffer. */
int
neigh_parse(const void *buf, size_t len, int ifindex, neigh_cb cb, void *arg, int *err)
{
	const uint8_t *p = buf;
	size_t off = 0;

	if (err != NULL)
		*err = 0;
	if (buf == NULL)
		return NEIGH_ERROR;
	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr nh;
		const uint8_t *payload;
		size_t plen;
		int32_t code;

		memcpy(&nh, p + off, sizeof(nh));
		if (nh.nlmsg_len < sizeof(nh) || nh.nlmsg_len > len - off)
			return NEIGH_ERROR;
		payload = p + off + NLMSG_HDRLEN;
		plen = nh.nlmsg_len - NLMSG_HDRLEN;
		switch (nh.nlmsg_type) {
		case NLMSG_DONE:
			/* The dump's final status follows as an int (may be absent). */
			if (plen >= sizeof(code)) {
				memcpy(&code, payload, sizeof(code));
				if (code < 0) {
					if (err != NULL)
						*err = code;
					return NEIGH_ERROR;
				}
			}
			return NEIGH_DONE;
		case NLMSG_ERROR:
			if (plen < sizeof(code))
				return NEIGH_ERROR;
			memcpy(&code, payload, sizeof(code));
			if (code == 0)
				return NEIGH_DONE;	/* a plain ACK */
			if (err != NULL)
				*err = code;
			return NEIGH_ERROR;
		case NLMSG_OVERRUN:
			return NEIGH_ERROR;
		case RTM_NEWNEIGH:
			if (parse_neigh(payload, plen, ifindex, cb, arg) != 0)
				return NEIGH_ERROR;
			break;
		default:
			break;	/* NLMSG_NOOP and anything else */
		}
		off += NLMSG_ALIGN(nh.nlmsg_len);
		if (off > len)
			off = len;
	}
	return off == len ? NEIGH_MORE : NEIGH_ERROR;
}

/* Counts entries on their way to the caller's callback. */
struct dump_ctx {
	neigh_cb cb;
	void *arg;
	int count;
};

/* Forward one entry and count it. */
static void
dump_entry(const struct neigh_entry *e, void *arg)
{
	struct dump_ctx *ctx = arg;

	ctx->count++;
	if (ctx->cb != NULL)
		ctx->cb(e, ctx->arg);
}

/* Send one request to the kernel over rtnetlink, whole. */
static int
nl_send(int fd, const void *req, size_t len)
{
	struct sockaddr_nl kernel;
	ssize_t n;

	memset(&kernel, 0, sizeof(kernel));
	kernel.nl_family = AF_NETLINK;
	do {
		n = sendto(fd, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Send one RTM_GETNEIGH dump request for family (filtered by ifindex). */
static int
dump_request(int fd, int family, int ifindex, uint32_t seq)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
		struct rtattr rta;
		uint32_t ifindex;
	} req;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ndm));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = seq;
	req.ndm.ndm_family = (uint8_t)family;
	if (ifindex > 0) {
		/* Kernel-side filter (Linux >= 4.20); neigh_parse filters too. */
		req.rta.rta_type = NDA_IFINDEX;
		req.rta.rta_len = RTA_LENGTH(sizeof(uint32_t));
		req.ifindex = (uint32_t)ifindex;
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_LENGTH(sizeof(uint32_t));
	}
	return nl_send(fd, &req, req.nh.nlmsg_len);
}

/* Receive one family's dump into ctx until NLMSG_DONE or the deadline. */
static int
dump_receive(int fd, uint8_t *buf, int ifindex, struct dump_ctx *ctx, uint64_t deadline)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { buf, NEIGH_BUF_SIZE };
		struct msghdr msg;
		struct timeval tv;
		uint64_t now = clock_mono_ms(), left;
		ssize_t n;
		int rc, err;

		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		left = deadline - now;
		if (left > NEIGH_RECV_TIMEOUT_MS)
			left = NEIGH_RECV_TIMEOUT_MS;
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)(left * 1000);
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
			return -1;
		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &from;
		msg.msg_namelen = sizeof(from);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		n = recvmsg(fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;
			return -1;
		}
		if (n == 0 || (msg.msg_flags & MSG_TRUNC) != 0) {
			errno = EIO;
			return -1;
		}
		if (msg.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;	/* not from the kernel */
		rc = neigh_parse(buf, (size_t)n, ifindex, dump_entry, ctx, &err);
		if (rc == NEIGH_DONE)
			return 0;
		if (rc == NEIGH_ERROR) {
			errno = err < 0 ? -err : EBADMSG;
			return -1;
		}
	}
}

/* Dump both neighbour tables synchronously, bounded by the deadline. */
int
neigh_dump(int ifindex, neigh_cb cb, void *arg)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct dump_ctx ctx = { cb, arg, 0 };
	struct sockaddr_nl local;
	uint8_t *buf = NULL;
	uint64_t deadline = clock_mono_ms() + NEIGH_DUMP_DEADLINE_MS;
	int fd, saved;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	memset(&local, 0, sizeof(local));
	local.nl_family = AF_NETLINK;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0)
		goto fail;
	buf = malloc(NEIGH_BUF_SIZE);
	if (buf == NULL)
		goto fail;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		if (dump_request(fd, families[i], ifindex, (uint32_t)i + 1) != 0)
			goto fail;
		if (dump_receive(fd, buf, ifindex, &ctx, deadline) != 0) {
			/* A kernel without IPv6 still has a usable IPv4 table. */
			if (families[i] == AF_INET6 && errno == EAFNOSUPPORT)
				break;
			goto fail;
		}
	}
	free(buf);
	(void)close(fd);	/* the entries are delivered; nothing to undo */
	return ctx.count;
fail:
	saved = errno;
	free(buf);
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Send one single-entry RTM_GETNEIGH request for ip on ifindex. */
static int
get_request(int fd, int ifindex, const struct wk_ip *ip, uint32_t seq)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
		struct rtattr rta;
		uint8_t addr[16];
	} req;
	size_t alen = ip->family == AF_INET ? 4 : 16;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = seq;
	req.ndm.ndm_family = (uint8_t)ip->family;
	req.ndm.ndm_ifindex = ifindex;
	/* The kernel accepts exactly one attribute here: NDA_DST. */
	req.rta.rta_type = NDA_DST;
	req.rta.rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(req.addr, ip->family == AF_INET ? (const void *)&ip->u.v4 :
	    (const void *)&ip->u.v6, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ndm))) + RTA_LENGTH(alen);
	return nl_send(fd, &req, req.nh.nlmsg_len);
}

/* Keep the entry a single-entry reply delivered. */
static void
get_entry(const struct neigh_entry *e, void *arg)
{
	*(struct neigh_entry *)arg = *e;
}

/* Open the socket neigh_get uses. */
int
neigh_socket(void)
{
	struct sockaddr_nl local;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -1;
	memset(&local, 0, sizeof(local));
	local.nl_family = AF_NETLINK;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0) {
		int e = errno;
		(void)close(fd);	/* nothing was sent on it */
		errno = e;
		return -1;
	}
	return fd;
}

/* Send an RTM_GETROUTE request for the route to ip (which interface the
 * kernel would use to reach it). */
static int
route_request(int fd, const struct wk_ip *ip, uint32_t seq)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rtm;
		struct rtattr rta;
		uint8_t addr[16];
	} req;
	size_t alen = ip->family == AF_INET ? 4 : 16;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = seq;
	req.rtm.rtm_family = (uint8_t)ip->family;
	req.rtm.rtm_dst_len = (uint8_t)(alen * 8);
	req.rta.rta_type = RTA_DST;
	req.rta.rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(req.addr, ip->family == AF_INET ? (const void *)&ip->u.v4 :
	    (const void *)&ip->u.v6, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.rtm))) + RTA_LENGTH(alen);
	return nl_send(fd, &req, req.nh.nlmsg_len);
}

/* The output interface of one RTM_NEWROUTE message; 0 when it has none. */
static int
route_oif(const uint8_t *p, size_t len)
{
	size_t off = NLMSG_ALIGN(sizeof(struct rtmsg));
	int oif = 0;

	while (off < len && len - off >= sizeof(struct rtattr)) {
		struct rtattr rta;

		memcpy(&rta, p + off, sizeof(rta));
		if (rta.rta_len < sizeof(rta) || rta.rta_len > len - off)
			return 0;
		if (rta.rta_type == RTA_OIF && rta.rta_len >= RTA_LENGTH(sizeof(int)))
			memcpy(&oif, p + off + RTA_LENGTH(0), sizeof(oif));
		off += RTA_ALIGN(rta.rta_len);
	}
	return oif;
}

/* Read, without waiting, the answer of request seq of type `want`: its
 * message into *msg and *len (pointing into buf). 1 answered, 0 the kernel
 * said ENOENT, -1 with errno (EAGAIN: nothing queued). Replies to earlier
 * requests (another seq) are skipped. */
static int
get_answer(int fd, uint8_t *buf, size_t size, uint32_t seq, uint16_t want,
    const uint8_t **msg, size_t *len)
{
	for (int tries = 0; tries < 8; tries++) {
		struct sockaddr_nl from;
		struct iovec iov = { buf, size };
		struct msghdr mh;
		size_t off = 0;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;	/* EAGAIN: no answer queued, and none will come */
		if ((mh.msg_flags & MSG_TRUNC) != 0 || mh.msg_namelen != sizeof(from) ||
		    from.nl_pid != 0)
			continue;
		while ((size_t)n - off >= sizeof(struct nlmsghdr)) {
			struct nlmsghdr nh;
			int32_t code;

			memcpy(&nh, buf + off, sizeof(nh));
			if (nh.nlmsg_len < sizeof(nh) || nh.nlmsg_len > (size_t)n - off)
				break;
			if (nh.nlmsg_seq == seq && nh.nlmsg_type == NLMSG_ERROR) {
				if (nh.nlmsg_len < NLMSG_LENGTH(sizeof(code))) {
					errno = EBADMSG;
					return -1;
				}
				memcpy(&code, buf + off + NLMSG_HDRLEN, sizeof(code));
				if (code == -ENOENT || code == -ENETUNREACH ||
				    code == -EHOSTUNREACH)
					return 0;
				errno = code < 0 ? -code : EBADMSG;
				return -1;
			}
			if (nh.nlmsg_seq == seq && nh.nlmsg_type == want) {
				*msg = buf + off;
				*len = nh.nlmsg_len;
				return 1;
			}
			off += NLMSG_ALIGN(nh.nlmsg_len);
		}
	}
	errno = EAGAIN;
	return -1;
}

/* Ask the kernel for one entry (first for the route to ip when the
 * interface is not known) and read the answers without waiting. */
int
neigh_get(int fd, int ifindex, const struct wk_ip *ip, struct neigh_entry *out)
{
	static uint32_t seq;
	uint8_t buf[8192];
	const uint8_t *m;
	size_t mlen;
	struct neigh_entry e;
	int rc;

	if (ifindex < 0 || ip == NULL || out == NULL ||
	    (ip->family != AF_INET && ip->family != AF_INET6)) {
		errno = EINVAL;
		return -1;
	}
	if (ifindex == 0) {
		if (route_request(fd, ip, ++seq) != 0)
			return -1;
		rc = get_answer(fd, buf, sizeof(buf), seq, RTM_NEWROUTE, &m, &mlen);
		if (rc <= 0)
			return rc;
		ifindex = route_oif(m + NLMSG_HDRLEN, mlen - NLMSG_HDRLEN);
		if (ifindex <= 0)
			return 0;	/* a blackhole or local route: no neighbour */
	}
	if (get_request(fd, ifindex, ip, ++seq) != 0)
		return -1;
	rc = get_answer(fd, buf, sizeof(buf), seq, RTM_NEWNEIGH, &m, &mlen);
	if (rc <= 0)
		return rc;
	memset(&e, 0, sizeof(e));
	e.ifindex = -1;	/* set by get_entry when the entry is usable */
	if (neigh_parse(m, mlen, ifindex, get_entry, &e, NULL) == NEIGH_ERROR) {
		errno = EBADMSG;
		return -1;
	}
	if (e.ifindex != ifindex)
		return 0;
	*out = e;
	return 1;
}

/* One token per interval, up to the burst; the first call always passes
 * and a clock that went back refills the bucket. */
int
neigh_limit_take(struct neigh_limit *l, uint64_t now_ms)
{
	unsigned cap = l->burst > 0 ? l->burst : 1;

	if (!l->primed || now_ms < l->last_ms) {
		l->primed = 1;
		l->tokens = cap;
		l->last_ms = now_ms;
	} else if (l->interval_ms > 0) {
		uint64_t add = (now_ms - l->last_ms) / l->interval_ms;
		if (add > 0) {
			l->tokens = add >= cap - l->tokens ? cap : l->tokens + (unsigned)add;
			l->last_ms += add * l->interval_ms;
		}
	} else {
		l->tokens = cap;
	}
	if (l->tokens == 0)
		return 0;
	l->tokens--;
	return 1;
}
