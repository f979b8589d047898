/* log.c - operator log lines: "heraldd[pid]: <level>: message". Checks the
 * level before formatting; thread-safe (one fprintf per line). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "herald";
static int log_lvl = LOG_L_INFO;
static int log_journal; /* stderr is journald's stream: "<N>" prefixes */

static const char *const level_names[] = {"emerg",   "alert",  "crit", "error",
					  "warning", "notice", "info", "debug"};

void log_init(const char *prog, int level)
{
	log_prog = prog;
	log_lvl = level;
}

int log_level_parse(const char *name)
{
	for (int i = 0; i < 8; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	if (!strcmp(name, "warn"))
		return LOG_L_WARNING;
	if (!strcmp(name, "err"))
		return LOG_L_ERR;
	return -1;
}

void log_set_level(int level)
{
	log_lvl = level;
}

int log_enabled(int level)
{
	return level <= log_lvl;
}

static void emit(int level, const char *fmt, va_list ap, int err)
{
	char buf[2048];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	if (err && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(err));
	if (log_journal)
		fprintf(stderr, "<%d>", level >= 0 && level < 8 ? level : LOG_L_INFO);
	fprintf(stderr, "%s[%d]: %s: %s\n", log_prog, (int)getpid(),
		level >= 0 && level < 8 ? level_names[level] : "?", buf);
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	if (level > log_lvl)
		return;
	emit(level, fmt, ap, 0);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_lvl)
		return;
	va_start(ap, fmt);
	emit(level, fmt, ap, 0);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	if (LOG_L_WARNING > log_lvl)
		return;
	va_start(ap, fmt);
	emit(LOG_L_WARNING, fmt, ap, err);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	if (LOG_L_WARNING > log_lvl)
		return;
	va_start(ap, fmt);
	emit(LOG_L_WARNING, fmt, ap, 0);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (LOG_L_INFO > log_lvl)
		return;
	va_start(ap, fmt);
	emit(LOG_L_INFO, fmt, ap, 0);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (LOG_L_DEBUG > log_lvl)
		return;
	va_start(ap, fmt);
	emit(LOG_L_DEBUG, fmt, ap, 0);
	va_end(ap);
}

int log_get_level(void)
{
	return log_lvl;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the
 * journal; a line starting "<N>" then carries priority N (sd-daemon.h), so
 * journalctl -p warning finds warnings. */
int log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		      (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	return log_journal;
}

const char *log_level_name(int level)
{
	return level >= 0 && level < 8 ? level_names[level] : "?";
}
