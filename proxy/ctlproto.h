/* ctlproto: the control socket protocol, pure -- parsing a request line into
 * a command, and formatting every answer (status line, show/list/stats in
 * text and JSON) into caller buffers. Shared by wicketd and wicketctl. */
#ifndef WK_CTLPROTO_H
#define WK_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "registry.h"
#include "session.h"
#include "sniff.h"
#include "stats.h"
#include "syslogw.h"

/* Framing (docs/control.md): one request line per connection; the answer is
 * a status line ("ok" or "error REASON"), payload lines that are never
 * empty, and one empty line that ends it. */
#define CTL_LINE_MAX 512	/* request bytes before the LF, at most */
#define CTL_MAX_SECONDS 31536000u /* allow: one year */
#define CTL_OUT_LINE 4096	/* room for any one formatted line */
#define CTL_TS_LEN 24		/* "2026-01-02T03:04:05Z" + NUL, or "never" */

enum ctl_op {
	CTL_ALLOW,
	CTL_DENY,
	CTL_LIST,
	CTL_SHOW,
	CTL_STATS,
	CTL_RELOAD,
};

/* How `stats` is printed. */
enum ctl_format { CTL_TEXT, CTL_JSON, CTL_PROMETHEUS };

/* One parsed request. */
struct ctl_cmd {
	enum ctl_op op;
	bool json;		/* list/show/stats: --json */
	bool prometheus;	/* stats: --prometheus (text exposition format) */
	bool by_ip;		/* show: the argument was an IP address */
	struct wk_mac mac;	/* allow, deny, show by MAC */
	struct wk_ip ip;	/* show by IP */
	uint64_t seconds;	/* allow: 0 = session_timeout */
};

/* The clocks a formatter needs: wall time for sessions (Unix seconds) and
 * the registry's monotonic milliseconds, converted to wall time. */
struct ctl_clock {
	uint64_t wall_ms;	/* now, milliseconds since the epoch */
	uint64_t mono_ms;	/* now, on the registry's monotonic clock */
};

/* What `list` and `show` say about one client. */
struct ctl_view {
	struct wk_mac mac;
	const struct client_ident *ci;	/* registry record, or NULL */
	const struct session *s;	/* session, or NULL */
	enum session_reason why;	/* session_check at now: NONE = admitted */
	const struct wk_ip *query;	/* show by IP: the address asked for */
};

/* The figures `stats` reports, copied out of the gate by the shell. Each
 * section is one table in ctlproto.c; a section that is not running in
 * this daemon (have_... false) is null / off / absent. */
struct ctl_stats {
	struct gate_stats gate;		/* stats.h: one line per counter */
	unsigned connections;
	bool paused;
	bool have_sessions;
	uint64_t sessions, admitted, expired, revoked;
	bool have_registry;
	struct registry_stats reg;
	bool have_sniffer;
	struct sniff_stats sniff;
	struct syslogw_stats syslog;	/* audit_syslog datagrams */
	unsigned ctl_clients;
	uint64_t ctl_requests, ctl_errors, ctl_rejected;
	uint64_t audit_lines, audit_written, audit_dropped;
};

int ctlproto_parse(const char *line, size_t len, struct ctl_cmd *out,
    char *err, size_t errlen);
const char *ctlproto_op_name(enum ctl_op op);
bool ctlproto_is_command(const char *word);

size_t ctlproto_ok(char *buf, size_t size);
size_t ctlproto_error(const char *reason, char *buf, size_t size);
size_t ctlproto_end(char *buf, size_t size);

void ctlproto_time(uint64_t unix_s, char out[CTL_TS_LEN]);
void ctlproto_mono_time(const struct ctl_clock *clk, uint64_t mono_ms,
    char out[CTL_TS_LEN]);

size_t ctlproto_list_begin(bool json, char *buf, size_t size);
size_t ctlproto_list_item(bool json, size_t index, const struct ctl_view *v,
    const struct ctl_clock *clk, char *buf, size_t size);
size_t ctlproto_list_end(bool json, size_t count, char *buf, size_t size);
size_t ctlproto_show(bool json, const struct ctl_view *v,
    const struct ctl_clock *clk, char *buf, size_t size);
size_t ctlproto_stats(enum ctl_format fmt, const struct ctl_stats *st,
    char *buf, size_t size);

#endif
