/* audit: the JSON Lines audit log -- one object per answered request and
 * per identity or session event. The lines of one event-loop pass are
 * written together at its end (audit_flush), whole lines only, never
 * blocking; what cannot be written is dropped whole and counted. The file
 * is reopened on SIGHUP for logrotate. */
#ifndef WK_AUDIT_H
#define WK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"

/* One request's summary, written when its answer has been sent. */
struct audit_req {
	int64_t ts_ms;
	const char *client_ip;
	const char *iface;     /* LAN interface it came in on; NULL: unknown */
	const char *mac;       /* NULL: unknown */
	bool mac_random;
	const char *dst;
	const char *method;
	const char *host;      /* NULL: none sent */
	const char *path;
	const char *verdict;
	const char *reason;
	unsigned status;
	unsigned upstream_status; /* 0: no upstream answer */
	uint64_t bytes_in, bytes_out;
	uint64_t ms;
	const char *error;     /* framing rule broken, or NULL */
	/* client_ip to dst already formatted by audit_format_who (who_len
	 * bytes), or NULL: formatted from the fields above */
	const char *who;
	size_t who_len;
};

#define AUDIT_LINE_MAX 4096
#define AUDIT_BATCH (256 * 1024) /* lines queued in one loop pass, at most */

/* Line counts since start: queued = written + dropped + still queued. */
struct audit_stats {
	uint64_t queued, written, dropped;
};

size_t audit_format_request(char *buf, size_t size, const struct audit_req *r);
size_t audit_format_who(char *buf, size_t size, const struct audit_req *r);
void audit_begin(struct jsonw *j, char *buf, size_t size, int64_t ts_ms,
    const char *event);
int audit_open(const char *path);
int audit_reopen(void);
int audit_open_new(const char *path, char *err, size_t errlen);
int audit_swap(const char *path, int fd);
void audit_close_fd(int fd);
void audit_write(const char *line, size_t len);
char *audit_line_begin(size_t max);
void audit_line_end(size_t len);
void audit_emit(struct jsonw *j);
void audit_flush(void);
void audit_get_stats(struct audit_stats *st);
void audit_close(void);

#endif
