/* audit: formats request records (pure) and appends lines to the audit
 * file with one write(2) each, so a line is never split between readers
 * tailing the file, and nothing is buffered when the daemon dies. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "syslogw.h"

static int audit_fd = -1;
static char audit_path[4096];

/* Start an audit object with the fields every record has: ts and event. */
void
audit_begin(struct jsonw *j, char *buf, size_t size, int64_t ts_ms,
    const char *event)
{
	char ts[JSONW_TS_LEN];

	jsonw_ts(ts_ms, ts);
	jsonw_begin(j, buf, size);
	jsonw_str(j, "ts", ts);
	jsonw_str(j, "event", event);
}

/* Format one request record as a JSON line; returns its length. Request
 * bytes are escaped by jsonw, and over-long fields are cut to fit. */
size_t
audit_format_request(char *buf, size_t size, const struct audit_req *r)
{
	struct jsonw j;
	size_t n;

	audit_begin(&j, buf, size, r->ts_ms, "request");
	jsonw_str(&j, "client_ip", r->client_ip);
	jsonw_str(&j, "interface", r->iface);
	jsonw_str(&j, "mac", r->mac);
	jsonw_bool(&j, "mac_random", r->mac_random);
	jsonw_str(&j, "dst", r->dst);
	jsonw_str(&j, "method", r->method);
	jsonw_str(&j, "host", r->host);
	jsonw_str(&j, "path", r->path);
	jsonw_str(&j, "verdict", r->verdict);
	jsonw_str(&j, "reason", r->reason);
	jsonw_uint(&j, "status", r->status);
	if (r->upstream_status)
		jsonw_uint(&j, "upstream_status", r->upstream_status);
	else
		jsonw_null(&j, "upstream_status");
	jsonw_uint(&j, "bytes_in", r->bytes_in);
	jsonw_uint(&j, "bytes_out", r->bytes_out);
	jsonw_uint(&j, "ms", r->ms);
	if (r->error)
		jsonw_str(&j, "error", r->error);
	n = jsonw_end(&j);
	return n;
}

/* Open the audit destination: a path (append), or "-"/"" for stderr. */
int
audit_open(const char *path)
{
	snprintf(audit_path, sizeof(audit_path), "%s", path ? path : "");
	if (audit_path[0] == '\0' || strcmp(audit_path, "-") == 0) {
		audit_fd = STDERR_FILENO;
		return 0;
	}
	audit_fd = open(audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (audit_fd < 0) {
		log_err("audit_log %s: %s", audit_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reopen the file after logrotate moved it; keep the old fd on failure
 * so that records still go somewhere. */
int
audit_reopen(void)
{
	int fd;

	if (audit_fd == STDERR_FILENO || audit_path[0] == '\0')
		return 0;
	fd = open(audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_err("audit_log reopen %s: %s", audit_path, strerror(errno));
		return -1;
	}
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = fd;
	return 0;
}

/* Open the destination a reload names, without touching the running one:
 * a path (append; never through a symbolic link, since the directory may
 * belong to the daemon's unprivileged user), or "-"/"" for stderr. The
 * descriptor, or -1 with the reason in err. */
int
audit_open_new(const char *path, char *err, size_t errlen)
{
	int fd;

	if (path[0] == '\0' || strcmp(path, "-") == 0)
		return STDERR_FILENO;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		snprintf(err, errlen, "audit_log %s: %s", path, strerror(errno));
	return fd;
}

/* Write to fd (from audit_open_new) as path from now on; the previous
 * descriptor is returned for the caller to close (or to switch back to). */
int
audit_swap(const char *path, int fd)
{
	int old = audit_fd;

	snprintf(audit_path, sizeof(audit_path), "%s", path);
	audit_fd = fd;
	return old;
}

/* Close a descriptor audit_swap handed back (stderr stays open). */
void
audit_close_fd(int fd)
{
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Append one complete line with a single write. */
void
audit_write(const char *line, size_t len)
{
	ssize_t n;

	if (len == 0)
		return;
	syslogw_send(line, len);
	if (audit_fd < 0)
		return;
	do
		n = write(audit_fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len)
		log_warn("audit_log write failed: %s", n < 0 ? strerror(errno) : "short");
}

/* Close an object built with audit_begin and write it. */
void
audit_emit(struct jsonw *j)
{
	size_t n = jsonw_end(j);

	if (n == 0)
		log_warn("audit record too large, dropped");
	else
		audit_write(j->buf, n);
}

/* Close the file at exit. */
void
audit_close(void)
{
	if (audit_fd > STDERR_FILENO)
		close(audit_fd);
	audit_fd = -1;
}
