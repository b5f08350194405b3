/* log: the daemon's diagnostic log (not the audit log): to stderr in the
 * foreground, to syslog otherwise, with a level filter. */
#ifndef WK_LOG_H
#define WK_LOG_H

enum wk_log_level { WK_LOG_ERR, WK_LOG_WARN, WK_LOG_INFO, WK_LOG_DEBUG };

void log_init(const char *ident, int to_stderr, enum wk_log_level level);
void log_set_level(enum wk_log_level level);
int log_debug_enabled(void);
int log_level_parse(const char *s, enum wk_log_level *out);
void log_msg(enum wk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(WK_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(WK_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(WK_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(WK_LOG_DEBUG, __VA_ARGS__)

#endif
