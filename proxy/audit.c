/* audit: formats request records (pure) and writes the lines of one
 * event-loop pass with one write(2) at its end. The file is opened
 * O_NONBLOCK (a FIFO or a full pipe never stalls the loop); a line is
 * never torn: a short write on a full disk is cut back to the last whole
 * line, and the rest is dropped and counted (docs/audit-log.md). */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "syslogw.h"

#define AUDIT_WARN_MS 10000 /* at most one warning about drops per 10 s */

static int audit_fd = -1;
static bool audit_regular; /* a regular file: a torn tail can be cut off */
static char audit_path[4096];
static char batch[AUDIT_BATCH];
static size_t batch_len;     /* bytes queued */
static size_t batch_lines;   /* whole lines among them */
static size_t batch_partial; /* leading bytes: the rest of a line written in part */
static struct audit_stats stats;
static uint64_t warn_dropped; /* dropped since the last warning */
static uint64_t warn_at_ms;
static const char *warn_why = "";

/* Start an audit object with the fields every record has: ts and event. */
void
audit_begin(struct jsonw *j, char *buf, size_t size, int64_t ts_ms,
    const char *event)
{
	char ts[JSONW_TS_LEN];

	jsonw_ts(ts_ms, ts);
	jsonw_begin(j, buf, size);
	jsonw_str_k(j, JSONW_K("ts"), ts);
	jsonw_str_k(j, JSONW_K("event"), event);
}

/* The members of a request record that follow its connection (client_ip,
 * interface, mac, mac_random, dst). */
static void
audit_who(struct jsonw *j, const struct audit_req *r)
{
	/* literal keys (JSONW_K): this line is written for every request */
	jsonw_str_k(j, JSONW_K("client_ip"), r->client_ip);
	jsonw_str_k(j, JSONW_K("interface"), r->iface);
	jsonw_str_k(j, JSONW_K("mac"), r->mac);
	jsonw_bool_k(j, JSONW_K("mac_random"), r->mac_random);
	jsonw_str_k(j, JSONW_K("dst"), r->dst);
}

/* Format the connection's members of a request record (audit_who) as a
 * fragment for audit_req.who, so that the lines of one connection (or
 * one client) need not format them again; its length, 0 when it does not
 * fit. */
size_t
audit_format_who(char *buf, size_t size, const struct audit_req *r)
{
	struct jsonw j;

	jsonw_begin(&j, buf, size);
	audit_who(&j, r);
	if (j.overflow)
		return 0;
	memmove(buf, buf + 1, j.len - 1); /* without jsonw_begin's brace */
	return j.len - 1;
}

/* Format one request record as a JSON line; returns its length. Request
 * bytes are escaped by jsonw, and over-long fields are cut to fit. */
size_t
audit_format_request(char *buf, size_t size, const struct audit_req *r)
{
	struct jsonw j;
	size_t n;

	audit_begin(&j, buf, size, r->ts_ms, "request");
	if (r->who != NULL)
		jsonw_members(&j, r->who, r->who_len);
	else
		audit_who(&j, r);
	jsonw_str_k(&j, JSONW_K("method"), r->method);
	jsonw_str_k(&j, JSONW_K("host"), r->host);
	jsonw_str_k(&j, JSONW_K("path"), r->path);
	jsonw_str_k(&j, JSONW_K("verdict"), r->verdict);
	jsonw_str_k(&j, JSONW_K("reason"), r->reason);
	jsonw_uint_k(&j, JSONW_K("status"), r->status);
	if (r->upstream_status)
		jsonw_uint_k(&j, JSONW_K("upstream_status"), r->upstream_status);
	else
		jsonw_str_k(&j, JSONW_K("upstream_status"), NULL);
	jsonw_uint_k(&j, JSONW_K("bytes_in"), r->bytes_in);
	jsonw_uint_k(&j, JSONW_K("bytes_out"), r->bytes_out);
	jsonw_uint_k(&j, JSONW_K("ms"), r->ms);
	if (r->error)
		jsonw_str_k(&j, JSONW_K("error"), r->error);
	n = jsonw_end(&j);
	return n;
}

/* Count n whole lines as dropped, for the stats and the next warning. */
static void
audit_drop(uint64_t n, const char *why)
{
	stats.dropped += n;
	warn_dropped += n;
	warn_why = why;
}

/* Before the destination changes: the rest of a line the old one took
 * in part cannot go to the new one, so that line counts as dropped. */
static void
audit_cut_partial(void)
{
	if (batch_partial == 0)
		return;
	audit_drop(1, "reopened mid-line");
	batch_lines--;
	memmove(batch, batch + batch_partial, batch_len - batch_partial);
	batch_len -= batch_partial;
	batch_partial = 0;
}

/* Open the destination a reload names, without touching the running one:
 * a path (append, non-blocking; never through a symbolic link, since the
 * directory may belong to the daemon's unprivileged user), or "-"/"" for
 * stderr. The descriptor, or -1 with the reason in err. */
int
audit_open_new(const char *path, char *err, size_t errlen)
{
	int fd;

	if (path[0] == '\0' || strcmp(path, "-") == 0)
		return STDERR_FILENO;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
	    0640);
	if (fd < 0)
		snprintf(err, errlen, "audit_log %s: %s", path, strerror(errno));
	return fd;
}

/* Write to fd (from audit_open_new) as path from now on; what is queued
 * goes to the previous descriptor first, which is returned for the caller
 * to close (or to switch back to). */
int
audit_swap(const char *path, int fd)
{
	int old = audit_fd;
	struct stat st;

	audit_flush();
	audit_cut_partial();
	snprintf(audit_path, sizeof(audit_path), "%s", path);
	audit_fd = fd;
	audit_regular = fd > STDERR_FILENO && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	return old;
}

/* Close a descriptor audit_swap handed back (stderr stays open). */
void
audit_close_fd(int fd)
{
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Open path for appending, non-blocking; -1 with errno. */
static int
audit_open_fd(const char *path, bool *regular)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK,
	    0640);

	if (fd < 0)
		return -1;
	*regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	return fd;
}

/* Open the audit destination: a path (append), or "-"/"" for stderr. */
int
audit_open(const char *path)
{
	snprintf(audit_path, sizeof(audit_path), "%s", path ? path : "");
	if (audit_path[0] == '\0' || strcmp(audit_path, "-") == 0) {
		audit_fd = STDERR_FILENO; /* left blocking: it is shared with the log */
		audit_regular = false;
		return 0;
	}
	audit_fd = audit_open_fd(audit_path, &audit_regular);
	if (audit_fd < 0) {
		log_err("audit_log %s: %s", audit_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reopen the file after logrotate moved it: what is queued goes to the
 * old file first. The old fd stays on failure so records still go
 * somewhere. */
int
audit_reopen(void)
{
	bool regular;
	int fd;

	if (audit_fd == STDERR_FILENO || audit_path[0] == '\0')
		return 0;
	audit_flush();
	fd = audit_open_fd(audit_path, &regular);
	if (fd < 0) {
		log_err("audit_log reopen %s: %s", audit_path, strerror(errno));
		return -1;
	}
	if (audit_fd >= 0)
		close(audit_fd);
	audit_cut_partial();
	audit_fd = fd;
	audit_regular = regular;
	return 0;
}

/* Space for one line of at most max bytes at the end of this pass's
 * batch, or NULL when it is full (the line is then counted as dropped). */
char *
audit_line_begin(size_t max)
{
	stats.queued++;
	if (audit_fd < 0 || max > sizeof(batch) - batch_len) {
		audit_drop(1, audit_fd < 0 ? "no audit file" : "queue full");
		return NULL;
	}
	return batch + batch_len;
}

/* Queue the line written at audit_line_begin's pointer (len 0: none). */
void
audit_line_end(size_t len)
{
	if (len == 0) {
		audit_drop(1, "record too large");
		return;
	}
	syslogw_send(batch + batch_len, len); /* audit_syslog: every line, as it comes */
	batch_len += len;
	batch_lines++;
}

/* Queue one complete line. */
void
audit_write(const char *line, size_t len)
{
	char *p = audit_line_begin(len);

	if (p == NULL)
		return;
	memcpy(p, line, len);
	audit_line_end(len);
}

/* Close an object built with audit_begin and queue it. */
void
audit_emit(struct jsonw *j)
{
	audit_write(j->buf, jsonw_end(j));
}

/* Newlines in batch[from, to). */
static size_t
audit_count_lines(size_t from, size_t to)
{
	size_t lines = 0;

	for (const char *p = batch + from, *end = batch + to;
	    (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		lines++;
	return lines;
}

/* A write took only n of the batch's bytes: the lines whose newline went
 * out are written. A line written in part is cut back off a regular file,
 * so that the file always ends with a whole line; on a pipe (or if that
 * fails) its rest must go first in a later pass. Returns how many bytes
 * of the batch are done with. */
static size_t
audit_short_write(size_t n)
{
	const char *nl = n > 0 ? memrchr(batch, '\n', n) : NULL;
	size_t whole = nl ? (size_t)(nl - batch) + 1 : 0, lines;
	bool had_partial = batch_partial > 0;
	struct stat st;
	const char *end;

	lines = audit_count_lines(0, whole);
	stats.written += lines;
	batch_lines -= lines;
	batch_partial = 0;
	if (n == whole)
		return n;
	if (audit_regular && !had_partial && fstat(audit_fd, &st) == 0 &&
	    st.st_size >= (off_t)(n - whole) &&
	    ftruncate(audit_fd, st.st_size - (off_t)(n - whole)) == 0)
		return whole;
	end = memchr(batch + n, '\n', batch_len - n);
	batch_partial = (end ? (size_t)(end - batch) + 1 : batch_len) - n;
	return n;
}

/* Write this pass's lines with one write(2): called once per event-loop
 * pass. A full pipe keeps them queued (bounded by AUDIT_BATCH); a full
 * disk or an I/O error drops them whole and counts them, and the next
 * pass tries again, so writing resumes by itself when space returns. */
void
audit_flush(void)
{
	ssize_t n;
	size_t done;

	if (batch_len == 0)
		goto warn;
	do
		n = write(audit_fd, batch, batch_len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		goto warn;
	if (n < 0) {
		audit_drop(batch_lines, strerror(errno));
		batch_len = batch_lines = batch_partial = 0;
		goto warn;
	}
	if ((size_t)n == batch_len) {
		stats.written += batch_lines;
		batch_len = batch_lines = batch_partial = 0;
		goto warn;
	}
	done = audit_short_write((size_t)n);
	if (audit_regular && batch_partial == 0) {
		/* A regular file takes no more (disk full): drop the rest. */
		audit_drop(batch_lines, "disk full");
		batch_len = batch_lines = 0;
	} else {
		memmove(batch, batch + done, batch_len - done);
		batch_len -= done;
	}
warn:
	if (warn_dropped > 0) {
		uint64_t now = clock_mono_ms();
		if (warn_at_ms == 0 || now - warn_at_ms >= AUDIT_WARN_MS) {
			log_warn("audit_log: %llu lines dropped (%s); %llu in all",
			    (unsigned long long)warn_dropped, warn_why,
			    (unsigned long long)stats.dropped);
			warn_dropped = 0;
			warn_at_ms = now;
		}
	}
}

/* The line counters (wicketctl stats). */
void
audit_get_stats(struct audit_stats *st)
{
	*st = stats;
}

/* Write what is queued and close the file at exit. */
void
audit_close(void)
{
	audit_flush();
	if (audit_fd > STDERR_FILENO)
		close(audit_fd);
	audit_fd = -1;
}
