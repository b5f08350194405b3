/* stats: the gate's own counters as one list -- name, kind, Prometheus
 * family and label, help -- from which struct gate_stats is made and which
 * every rendering of `wicketctl stats` (text, JSON, Prometheus) walks:
 * adding a counter is one X(...) line here and its increment. Pure. */
#ifndef WK_STATS_H
#define WK_STATS_H

#include <stdint.h>

/* X(name, kind, family, label, help): kind is STATS_COUNTER (only goes up)
 * or STATS_GAUGE; rows with a family are one Prometheus metric family,
 * wicket_FAMILY_total{label}, and must be next to each other.
 *
 * requests and the four by verdict count request records where the audit
 * log writes them (txn_log, the TLS portal), with the audit record's
 * verdict: they agree with the log's request lines by construction
 * (docs/control.md, "stats"). */
#define GATE_STATS(X) \
	X(accepted, STATS_COUNTER, NULL, NULL, "client connections accepted") \
	X(refused, STATS_COUNTER, NULL, NULL, "client connections refused at accept") \
	X(refused_client_connections, STATS_COUNTER, "refused_by_reason", "reason=\"client_connections\"", "connections reset at accept, by the limit they hit (docs/security.md, Limits)") \
	X(refused_client_rate, STATS_COUNTER, "refused_by_reason", "reason=\"client_connect_rate\"", NULL) \
	X(refused_full, STATS_COUNTER, "refused_by_reason", "reason=\"max_connections\"", NULL) \
	X(refused_no_fds, STATS_COUNTER, "refused_by_reason", "reason=\"no_fds\"", NULL) \
	X(shed, STATS_COUNTER, NULL, NULL, "connections reset to make room for a client holding fewer") \
	X(shed_511, STATS_COUNTER, NULL, NULL, "requests over client_511_rate: not answered, connection reset") \
	X(requests, STATS_COUNTER, NULL, NULL, "request records (audit request lines), all verdicts") \
	X(forwarded, STATS_COUNTER, "requests_by_verdict", "verdict=\"forward\"", "request records by verdict, as in the audit log") \
	X(denied, STATS_COUNTER, "requests_by_verdict", "verdict=\"deny\"", NULL) \
	X(probes, STATS_COUNTER, "requests_by_verdict", "verdict=\"probe\"", NULL) \
	X(portal, STATS_COUNTER, "requests_by_verdict", "verdict=\"portal\"", NULL) \
	X(framing_errors, STATS_COUNTER, NULL, NULL, "requests that broke a framing rule (RFC 9112)") \
	X(upstream_errors, STATS_COUNTER, NULL, NULL, "forwarded requests whose upstream failed (502, 504)") \
	X(timeouts, STATS_COUNTER, NULL, NULL, "connections closed for a stalled head or idleness") \
	X(bytes_in, STATS_COUNTER, NULL, NULL, "request bytes read from clients") \
	X(bytes_out, STATS_COUNTER, NULL, NULL, "answer bytes sent to clients")

enum stats_kind { STATS_COUNTER, STATS_GAUGE, STATS_BOOL };

/* Counters reported by `wicketctl stats` (gate.h: g->st). */
struct gate_stats {
#define STATS_FIELD(name, kind, family, label, help) uint64_t name;
	GATE_STATS(STATS_FIELD)
#undef STATS_FIELD
};

#endif
