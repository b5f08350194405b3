/* sniff: the libpcap shell of the ARP/NDP sniffer. Captures ARP and ICMPv6
 * NS/NA on the LAN interface inside the libevent loop (non-blocking), runs
 * each frame through arpframe_parse and hands learned bindings to a callback. */
#ifndef WK_SNIFF_H
#define WK_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "arpframe.h"

struct event_base;
struct sniff;

#define SNIFF_SNAPLEN	256	/* ARP and NS/NA with their options fit */
#define SNIFF_BATCH	64	/* frames handled per readiness, then back to the loop */

/* Counters since sniff_open. */
struct sniff_stats {
	uint64_t seen;		/* frames handed to the parser */
	uint64_t learned;	/* ARPFRAME_LEARNED (including mismatch) */
	uint64_t ignored;	/* ARPFRAME_IGNORED */
	uint64_t malformed;	/* ARPFRAME_MALFORMED */
	uint64_t mismatch;	/* learned with ARPFRAME_F_MISMATCH */
	uint64_t snapped;	/* captured shorter than on the wire */
	uint64_t errors;	/* capture errors (each one closes and re-opens) */
	uint64_t reopens;	/* successful re-opens after an error */
	uint64_t kernel_drops;	/* frames the kernel dropped (pcap_stats) */
	int capturing;		/* 1 while the capture is open */
	int inbound_only;	/* 1 when PCAP_D_IN is in force */
};

/* Called for every ARPFRAME_LEARNED frame. A binding with
 * ARPFRAME_F_MISMATCH should be audited, not learned (docs/identity.md).
 * The callback must not call sniff_close. */
typedef void (*sniff_cb)(const struct arp_binding *b, void *arg);

/* Open a capture on ifname (the LAN side) and register it with base. On a
 * later capture error (interface down or gone) the sniffer closes the handle
 * and retries by itself with a backoff. NULL with a message in err. */
struct sniff *sniff_open(struct event_base *base, const char *ifname,
    sniff_cb cb, void *arg, char *err, size_t errlen);

/* Stop capturing and free everything. NULL is accepted. */
void sniff_close(struct sniff *s);

/* Copy the counters (reads the kernel drop count too). */
void sniff_get_stats(struct sniff *s, struct sniff_stats *out);

/* The BPF filter expression the sniffer installs. */
const char *sniff_filter(void);

#endif
