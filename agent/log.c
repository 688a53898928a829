#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_level = AG_LOG_INFO;

void ag_log_set_level(int level)
{
    g_level = level;
}

int ag_log_parse_level(const char *s)
{
    if (!strcmp(s, "error")) return AG_LOG_ERROR;
    if (!strcmp(s, "warn")) return AG_LOG_WARN;
    if (!strcmp(s, "info")) return AG_LOG_INFO;
    if (!strcmp(s, "debug")) return AG_LOG_DEBUG;
    return -1;
}

void ag_log(int level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    static const char *names[8] = {"", "", "", "error", "warn", "", "info", "debug"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (getenv("JOURNAL_STREAM")) {
        fprintf(stderr, "<%d>%s\n", level, msg);   /* journald adds time and unit */
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld drover %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, names[level & 7], msg);
}
