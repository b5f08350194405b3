/* log: the daemon's diagnostic log (not the audit log): to stderr in the
 * foreground, to syslog otherwise, with a level filter. */
#ifndef WK_LOG_H
#define WK_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum wk_log_level { WK_LOG_ERR, WK_LOG_WARN, WK_LOG_INFO, WK_LOG_DEBUG };

void log_init(const char *ident, int to_stderr, enum wk_log_level level);
void log_set_level(enum wk_log_level level);
int log_debug_enabled(void);
int log_level_parse(const char *s, enum wk_log_level *out);
void log_msg(enum wk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The budget of one call site for a message that can repeat at the rate
 * of an attack (accept errors, refused clients): at most `burst` lines per
 * `window_ms`; the others are counted and the count is reported on the
 * next line that passes. Declare one static per call site with LOG_RATE. */
struct log_rate {
	unsigned burst;
	uint32_t window_ms;
	uint64_t t0_ms;   /* start of the current window (monotonic) */
	unsigned n;       /* lines passed in it */
	uint64_t dropped; /* lines suppressed since the last one passed */
};
#define LOG_RATE(burst, window_ms) { (burst), (window_ms), 0, 0, 0 }

bool log_rate_pass(struct log_rate *r, uint64_t now_ms, uint64_t *dropped);
void log_rated(struct log_rate *r, enum wk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_err(...) log_msg(WK_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(WK_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(WK_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(WK_LOG_DEBUG, __VA_ARGS__)
#define log_warn_rated(r, ...) log_rated((r), WK_LOG_WARN, __VA_ARGS__)
#define log_info_rated(r, ...) log_rated((r), WK_LOG_INFO, __VA_ARGS__)

#endif
