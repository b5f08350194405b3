/* sniff: owns the pcap handle on the LAN interface, its event in the loop,
 * the capture counters and the re-open timer. The only file that includes
 * <pcap.h>; frame parsing is arpframe's. */
#include "sniff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <pcap/pcap.h>

#define SNIFF_BUFSIZE	(512 * 1024)
#define SNIFF_RETRY_MIN_S 1
#define SNIFF_RETRY_MAX_S 30

/* ARP and NS/NA, untagged, 802.1Q and QinQ. `vlan` moves the offsets of
 * everything after it; ip6[40] (the ICMPv6 type) assumes no extension
 * header, which ND never has (RFC 6980; arpframe rejects the others). */
#define ND_EXPR "(icmp6 and (ip6[40] == 135 or ip6[40] == 136))"
static const char sniff_bpf[] =
    "arp or " ND_EXPR " or (vlan and (arp or " ND_EXPR
    " or (vlan and (arp or " ND_EXPR "))))";

struct sniff {
	struct event_base *base;
	char *ifname;
	sniff_cb cb;
	void *arg;
	pcap_t *pcap;
	struct event *ev;		/* EV_READ on the pcap fd */
	struct event *retry;		/* re-open timer after an error */
	unsigned retry_s;
	uint64_t drops_closed;		/* kernel drops of handles already closed */
	struct sniff_stats st;
};

/* The BPF filter expression the sniffer installs. */
const char *
sniff_filter(void)
{
	return sniff_bpf;
}

/* Handle one captured frame: parse, count, deliver. */
static void
sniff_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct sniff *s = (struct sniff *)(void *)user;
	struct arp_binding b;
	int rc;

	s->st.seen++;
	if (h->caplen < h->len)
		s->st.snapped++;
	rc = arpframe_parse(bytes, h->caplen, &b);
	if (rc == ARPFRAME_MALFORMED) {
		s->st.malformed++;
		return;
	}
	if (rc == ARPFRAME_IGNORED) {
		s->st.ignored++;
		return;
	}
	s->st.learned++;
	if (b.flags & ARPFRAME_F_MISMATCH)
		s->st.mismatch++;
	if (s->cb != NULL)
		s->cb(&b, s->arg);
}

/* Create and activate the pcap handle for ifname, non-blocking and filtered. */
static pcap_t *
sniff_pcap_open(struct sniff *s, char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct bpf_program prog;
	pcap_t *p;
	int rc;

	eb[0] = '\0';
	p = pcap_create(s->ifname, eb);
	if (p == NULL) {
		snprintf(err, errlen, "pcap_create %s: %s", s->ifname, eb);
		return NULL;
	}
	if (pcap_set_snaplen(p, SNIFF_SNAPLEN) != 0 || pcap_set_promisc(p, 0) != 0 ||
	    pcap_set_immediate_mode(p, 1) != 0 ||
	    pcap_set_buffer_size(p, SNIFF_BUFSIZE) != 0) {
		snprintf(err, errlen, "pcap %s: cannot set capture options", s->ifname);
		goto fail;
	}
	rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "pcap_activate %s: %s (%s)", s->ifname,
		    pcap_statustostr(rc), pcap_geterr(p));
		goto fail;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(err, errlen, "pcap %s: not an Ethernet interface (%s)",
		    s->ifname, pcap_datalink_val_to_name(pcap_datalink(p)));
		goto fail;
	}
	/* Only frames from the LAN: the router's own ARPs are not clients.
	 * Not every capture type supports it, so it is not fatal. */
	s->st.inbound_only = pcap_setdirection(p, PCAP_D_IN) == 0;
	if (pcap_compile(p, &prog, sniff_bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "pcap_compile: %s", pcap_geterr(p));
		goto fail;
	}
	rc = pcap_setfilter(p, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		snprintf(err, errlen, "pcap_setfilter %s: %s", s->ifname, pcap_geterr(p));
		goto fail;
	}
	if (pcap_setnonblock(p, 1, eb) != 0) {
		snprintf(err, errlen, "pcap_setnonblock %s: %s", s->ifname, eb);
		goto fail;
	}
	if (pcap_get_selectable_fd(p) < 0) {
		snprintf(err, errlen, "pcap %s: no selectable descriptor", s->ifname);
		goto fail;
	}
	return p;
fail:
	pcap_close(p);
	return NULL;
}

static void sniff_readable(evutil_socket_t fd, short what, void *arg);

/* Open the handle and put its descriptor in the loop. */
static int
sniff_start(struct sniff *s, char *err, size_t errlen)
{
	s->pcap = sniff_pcap_open(s, err, errlen);
	if (s->pcap == NULL)
		return -1;
	s->ev = event_new(s->base, pcap_get_selectable_fd(s->pcap),
	    EV_READ | EV_PERSIST, sniff_readable, s);
	if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
		snprintf(err, errlen, "sniff %s: cannot add the capture event", s->ifname);
		goto fail;
	}
	s->st.capturing = 1;
	return 0;
fail:
	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = NULL;
	pcap_close(s->pcap);
	s->pcap = NULL;
	return -1;
}

/* Close the handle and its event, keeping the drop count. */
static void
sniff_stop(struct sniff *s)
{
	struct pcap_stat ps;

	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = NULL;
	if (s->pcap != NULL) {
		if (pcap_stats(s->pcap, &ps) == 0)
			s->drops_closed += ps.ps_drop;
		pcap_close(s->pcap);
	}
	s->pcap = NULL;
	s->st.capturing = 0;
}

/* Arm the re-open timer with the current backoff. */
static void
sniff_schedule_retry(struct sniff *s)
{
	struct timeval tv = { (time_t)s->retry_s, 0 };

	if (event_add(s->retry, &tv) != 0)
		return;	/* nothing more we can do without a loop; stats show it */
	s->retry_s = s->retry_s * 2 > SNIFF_RETRY_MAX_S ? SNIFF_RETRY_MAX_S : s->retry_s * 2;
}

/* Try to re-open the capture after an error; back off on failure. */
static void
sniff_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sniff *s = arg;
	char err[256];

	(void)fd;
	(void)what;
	if (sniff_start(s, err, sizeof(err)) != 0) {
		sniff_schedule_retry(s);
		return;
	}
	s->st.reopens++;
	s->retry_s = SNIFF_RETRY_MIN_S;
}

/* The capture descriptor is readable: drain a bounded batch, then return
 * to the loop (EV_PERSIST calls us again while frames remain). */
static void
sniff_readable(evutil_socket_t fd, short what, void *arg)
{
	struct sniff *s = arg;
	int n;

	(void)fd;
	(void)what;
	n = pcap_dispatch(s->pcap, SNIFF_BATCH, sniff_frame, (u_char *)(void *)s);
	if (n >= 0 || n == PCAP_ERROR_BREAK)
		return;
	/* The interface went down or away: a readable error descriptor would
	 * spin the loop, so close it and re-open later. */
	s->st.errors++;
	sniff_stop(s);
	sniff_schedule_retry(s);
}

/* Open the sniffer on ifname inside base. */
struct sniff *
sniff_open(struct event_base *base, const char *ifname, sniff_cb cb, void *arg,
    char *err, size_t errlen)
{
	struct sniff *s;

	if (base == NULL || ifname == NULL || ifname[0] == '\0') {
		snprintf(err, errlen, "sniff: no interface");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "sniff: out of memory");
		return NULL;
	}
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	s->retry_s = SNIFF_RETRY_MIN_S;
	s->ifname = strdup(ifname);
	s->retry = evtimer_new(base, sniff_retry, s);
	if (s->ifname == NULL || s->retry == NULL) {
		snprintf(err, errlen, "sniff: out of memory");
		goto fail;
	}
	if (sniff_start(s, err, errlen) != 0)
		goto fail;
	return s;
fail:
	sniff_close(s);
	return NULL;
}

/* Stop capturing and free everything. */
void
sniff_close(struct sniff *s)
{
	if (s == NULL)
		return;
	sniff_stop(s);
	if (s->retry != NULL)
		event_free(s->retry);
	free(s->ifname);
	free(s);
}

/* Copy the counters, adding the kernel's drop count of the open handle. */
void
sniff_get_stats(struct sniff *s, struct sniff_stats *out)
{
	struct pcap_stat ps;

	*out = s->st;
	out->kernel_drops = s->drops_closed;
	if (s->pcap != NULL && pcap_stats(s->pcap, &ps) == 0)
		out->kernel_drops += ps.ps_drop;
}
