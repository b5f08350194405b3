/* log: diagnostic messages for operators, to stderr (-d) or syslog, and
 * the one rate limiter for messages a client can make repeat. The audit
 * trail of requests is a separate JSON Lines stream (proxy/audit.c). */
#include "log.h"

#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static int log_stderr = 1;
static enum wk_log_level log_threshold = WK_LOG_INFO;

/* Choose the destination and threshold; syslog is opened once here. */
void
log_init(const char *ident, int to_stderr, enum wk_log_level level)
{
	log_stderr = to_stderr;
	log_threshold = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Change the threshold (on reload). */
void
log_set_level(enum wk_log_level level)
{
	log_threshold = level;
}

/* True when debug messages are wanted (to skip formatting otherwise). */
int
log_debug_enabled(void)
{
	return log_threshold >= WK_LOG_DEBUG;
}

/* Parse "error", "warning", "info" or "debug". */
int
log_level_parse(const char *s, enum wk_log_level *out)
{
	static const char *names[] = { "error", "warning", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum wk_log_level)i;
			return 0;
		}
	return -1;
}

/* Write one message that passed the threshold, with an optional suffix. */
static void
log_vemit(enum wk_log_level level, const char *suffix, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *tag[] = { "error", "warning", "info", "debug" };
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_stderr)
		fprintf(stderr, "wicketd: %s: %s%s\n", tag[level], buf, suffix);
	else
		syslog(prio[level], "%s%s", buf, suffix);
}

/* Emit one message if it passes the threshold. */
void
log_msg(enum wk_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	log_vemit(level, "", fmt, ap);
	va_end(ap);
}

/* Decide whether one more line of a rate-limited call site may go out at
 * now_ms; when it may, *dropped is how many were suppressed before it. */
bool
log_rate_pass(struct log_rate *r, uint64_t now_ms, uint64_t *dropped)
{
	if (r->n == 0 || now_ms < r->t0_ms || now_ms - r->t0_ms >= r->window_ms) {
		r->t0_ms = now_ms;
		r->n = 0;
	}
	if (r->n >= r->burst) {
		r->dropped++;
		return false;
	}
	r->n++;
	*dropped = r->dropped;
	r->dropped = 0;
	return true;
}

/* Emit a message through its call site's budget (struct log_rate). */
void
log_rated(struct log_rate *r, enum wk_log_level level, const char *fmt, ...)
{
	char suffix[64] = "";
	uint64_t dropped;
	va_list ap;

	if (level > log_threshold || !log_rate_pass(r, clock_mono_ms(), &dropped))
		return;
	if (dropped > 0)
		snprintf(suffix, sizeof(suffix), " (%llu similar messages suppressed)",
		    (unsigned long long)dropped);
	va_start(ap, fmt);
	log_vemit(level, suffix, fmt, ap);
	va_end(ap);
}
