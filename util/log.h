/* log.h - the operator log (not the delivery log): one line per event on
 * stderr (journald adds the timestamp under systemd) or to a file.
 * log_warn appends strerror(errno); log_warnx does not (as OpenSMTPD). */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdarg.h>

enum { LOG_L_ERR = 3, LOG_L_WARNING = 4, LOG_L_NOTICE = 5, LOG_L_INFO = 6, LOG_L_DEBUG = 7 };

void log_init(const char *prog, int level);
int log_level_parse(const char *name); /* "info" -> 6, -1 if unknown */
void log_set_level(int level);
int log_enabled(int level);
int log_get_level(void);
const char *log_level_name(int level); /* 6 -> "info" */
/* Prefix every line with "<N>" when stderr is journald's (JOURNAL_STREAM
 * names it). Returns 1 when it is. */
int log_detect_journal(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
