/* log.h — agent logging to stderr (journald captures it under systemd, with the
 * <N> priority prefix it understands when JOURNAL_STREAM is set). */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

enum ag_log_level { AG_LOG_ERROR = 3, AG_LOG_WARN = 4, AG_LOG_INFO = 6, AG_LOG_DEBUG = 7 };

void ag_log_set_level(int level);
/* "error|warn|info|debug" -> level; -1 if unknown. */
int  ag_log_parse_level(const char *s);
void ag_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ag_err(...)   ag_log(AG_LOG_ERROR, __VA_ARGS__)
#define ag_warn(...)  ag_log(AG_LOG_WARN, __VA_ARGS__)
#define ag_info(...)  ag_log(AG_LOG_INFO, __VA_ARGS__)
#define ag_debug(...) ag_log(AG_LOG_DEBUG, __VA_ARGS__)

#endif
