/* log.c - operator log lines: "heraldd[pid]: <level>: message". Checks the
 * level before formatting; thread-safe (one fprintf per line).
 *
 * Rate limit: lines of one kind (one format string, i.e. one call site)
 * draw on a token bucket of LOG_BURST lines, refilled at LOG_RATE a second;
 * past it they are counted, not written, and once the kind may write again
 * (its next line, or a second after the last suppressed one, whichever
 * comes first) one line says "N similar lines suppressed: <the kind>".
 * This is the operator's log only: the delivery log is not limited. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
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

#define LOG_BURST 20
#define LOG_RATE 10 /* lines a second, after the burst */
#define LOG_KINDS 128
#define LOG_PROBE 8

/* One kind of line's bucket. */
struct log_kind {
	const char *fmt; /* NULL: free slot */
	double tokens;
	int64_t last_ms;     /* last refill */
	int64_t suppr_ms;    /* last suppressed line */
	unsigned long suppr; /* lines not written since the last one written */
	int level;
};

static struct log_kind kinds[LOG_KINDS];
static pthread_mutex_t kinds_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t sweep_ms;

static int64_t mono_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_line(int level, const char *text)
{
	if (log_journal)
		fprintf(stderr, "<%d>", level >= 0 && level < 8 ? level : LOG_L_INFO);
	fprintf(stderr, "%s[%d]: %s: %s\n", log_prog, (int)getpid(),
		level >= 0 && level < 8 ? level_names[level] : "?", text);
}

/* "N similar lines suppressed" for k, and its count back to 0. */
static void say_suppressed(struct log_kind *k)
{
	char line[160];

	snprintf(line, sizeof(line), "%lu similar lines suppressed: %.60s", k->suppr, k->fmt);
	write_line(k->level, line);
	k->suppr = 0;
}

/* Kinds whose flood stopped a second ago say how much they held back. */
static void sweep(int64_t now)
{
	if (now - sweep_ms < 1000)
		return;
	sweep_ms = now;
	for (int i = 0; i < LOG_KINDS; i++)
		if (kinds[i].fmt && kinds[i].suppr && now - kinds[i].suppr_ms >= 1000)
			say_suppressed(&kinds[i]);
}

/* The bucket of fmt: its slot, found by the format's address (a few
 * slots probed); with none free the first probed one is taken over (its
 * count said first). */
static struct log_kind *kind_of(const char *fmt, int level, int64_t now)
{
	size_t h = ((uintptr_t)fmt >> 3) % LOG_KINDS;
	struct log_kind *k = NULL;

	for (size_t i = 0; i < LOG_PROBE; i++) {
		struct log_kind *c = &kinds[(h + i) % LOG_KINDS];
		if (c->fmt == fmt) {
			c->level = level;
			return c;
		}
		if (!k && !c->fmt)
			k = c;
	}
	if (!k) {
		k = &kinds[h];
		if (k->suppr)
			say_suppressed(k);
	}
	k->fmt = fmt;
	k->tokens = LOG_BURST;
	k->last_ms = now;
	k->suppr = 0;
	k->level = level;
	return k;
}

/* 1 when a line of this kind may be written now (and any count of held
 * back lines said first), 0 when it is suppressed. */
static int may_write(const char *fmt, int level)
{
	int64_t now = mono_now_ms();
	struct log_kind *k;
	int ok;

	pthread_mutex_lock(&kinds_mu);
	k = kind_of(fmt, level, now);
	k->tokens += (double)(now - k->last_ms) * LOG_RATE / 1000.0;
	if (k->tokens > LOG_BURST)
		k->tokens = LOG_BURST;
	k->last_ms = now;
	ok = k->tokens >= 1.0;
	if (ok) {
		k->tokens -= 1.0;
		if (k->suppr)
			say_suppressed(k);
	} else {
		k->suppr++;
		k->suppr_ms = now;
	}
	sweep(now);
	pthread_mutex_unlock(&kinds_mu);
	return ok;
}

static void emit(int level, const char *fmt, va_list ap, int err)
{
	char buf[2048];
	int n;

	if (!may_write(fmt, level))
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	if (err && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(err));
	write_line(level, buf);
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
