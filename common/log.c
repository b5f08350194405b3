/* log: diagnostic messages for operators, to stderr (-d) or syslog. The
 * audit trail of requests is a separate JSON Lines stream (proxy/audit.c). */
#include "log.h"

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

/* Emit one message if it passes the threshold. */
void
log_msg(enum wk_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *tag[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	if (log_stderr) {
		char buf[1024];
		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "wicketd: %s: %s\n", tag[level], buf);
	} else {
		vsyslog(prio[level], fmt, ap);
	}
	va_end(ap);
}
