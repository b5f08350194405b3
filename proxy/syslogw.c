/* syslogw: audit lines to the local syslog socket for operators who ship
 * logs with rsyslog or journald (audit_syslog). One datagram per line in
 * the RFC 3164 form the local socket expects, tag "wicket-audit" (so that
 * a filter can tell audit lines from wicketd's diagnostics); sent with
 * MSG_DONTWAIT, never retried: syslog must not stall the gate. */
#include "syslogw.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"

#define SYSLOGW_RETRY_MS 1000	/* a missing socket is looked for once a second */
#define SYSLOGW_INFO 6		/* severity: informational (RFC 5424 table 2) */

static int sw_fd = -1;
static int sw_facility = -1;	/* -1: off */
static char sw_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static uint64_t sw_next_try_ms;
static struct syslogw_stats sw_stats;

/* One datagram: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG" (RFC 3164 section
 * 4.1, local time as the local socket's readers expect), severity info.
 * Its length, or 0 when it does not fit. */
size_t
syslogw_format(char *buf, size_t size, int facility, int64_t ts_ms,
    const char *tag, long pid, const char *msg, size_t len)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	int n;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	n = snprintf(buf, size, "<%d>%s %2d %02d:%02d:%02d %s[%ld]: ",
	    facility * 8 + SYSLOGW_INFO, mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tag, pid);
	if (n < 0 || (size_t)n + len >= size)
		return 0;
	memcpy(buf + n, msg, len);
	return (size_t)n + len;
}

/* Connect the datagram socket to sw_path; -1 (closed) when nobody listens
 * there now, in which case the next try is a second away. */
static int
syslogw_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	sw_next_try_ms = clock_mono_ms() + SYSLOGW_RETRY_MS;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sw_path, strlen(sw_path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	sw_fd = fd;
	return 0;
}

/* Apply audit_syslog (a facility name, or "none") and audit_syslog_socket
 * (start-up and reload). 0, or -1 with nothing changed for an unknown
 * facility or a path too long for a socket address. A socket nobody
 * listens on yet is not an error: lines are counted as dropped until it
 * appears. */
int
syslogw_configure(const char *facility, const char *path)
{
	int code = strcmp(facility, "none") == 0 ? -1 : conf_syslog_facility(facility);

	if (code < 0 && strcmp(facility, "none") != 0)
		return -1;
	if (strlen(path) >= sizeof(sw_path))
		return -1;
	if (code < 0 || strcmp(path, sw_path) != 0)
		syslogw_close();
	sw_facility = code;
	if (code < 0)
		return 0;
	memcpy(sw_path, path, strlen(path) + 1);
	if (sw_fd < 0 && syslogw_connect() < 0)
		log_warn("audit_syslog: nobody listens on %s yet: %s", sw_path,
		    strerror(errno));
	return 0;
}

/* Send one audit line (without its newline) if audit_syslog is on. */
void
syslogw_send(const char *line, size_t len)
{
	char buf[SYSLOGW_MAX];
	size_t n;

	if (sw_facility < 0)
		return;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (sw_fd < 0 && (clock_mono_ms() < sw_next_try_ms || syslogw_connect() < 0)) {
		sw_stats.dropped++;
		return;
	}
	n = syslogw_format(buf, sizeof(buf), sw_facility, clock_wall_ms(),
	    "wicket-audit", (long)getpid(), line, len);
	if (n == 0) {
		sw_stats.dropped++;
		return;
	}
	if (send(sw_fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n) {
		sw_stats.sent++;
		return;
	}
	sw_stats.dropped++;
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		/* the reader went away (syslog restarted): look again later */
		close(sw_fd);
		sw_fd = -1;
		sw_next_try_ms = clock_mono_ms() + SYSLOGW_RETRY_MS;
	}
}

/* Copy the counters. */
void
syslogw_get_stats(struct syslogw_stats *st)
{
	*st = sw_stats;
}

/* Close the socket (exit, audit_syslog none). */
void
syslogw_close(void)
{
	if (sw_fd >= 0)
		close(sw_fd);
	sw_fd = -1;
	sw_path[0] = '\0';
}
