/* syslogw: the audit lines also to the local syslog socket (audit_syslog),
 * one RFC 3164 datagram per line, never blocking the loop: a datagram the
 * socket does not take at once is dropped and counted. The formatter is
 * pure (the facility names are conf_syslog_facility); the socket is the
 * shell. */
#ifndef WK_SYSLOGW_H
#define WK_SYSLOGW_H

#include <stddef.h>
#include <stdint.h>

#define SYSLOGW_MAX 8192	/* one datagram: header and one audit line */

/* Datagrams since start. */
struct syslogw_stats {
	uint64_t sent, dropped;
};

size_t syslogw_format(char *buf, size_t size, int facility, int64_t ts_ms,
    const char *tag, long pid, const char *msg, size_t len);
int syslogw_configure(const char *facility, const char *path);
void syslogw_send(const char *line, size_t len);
void syslogw_get_stats(struct syslogw_stats *st);
void syslogw_close(void);

#endif
