/* tz.c - UTC offsets through GLib's GTimeZone, which reads the TZif file
 * once and applies its footer rule (the POSIX TZ string) past the last
 * transition. Each zone is loaded once and kept: tz_offset runs on the
 * router thread for every event with quiet hours. */
#include "tz.h"

#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TZ_DIR "/usr/share/zoneinfo"
/* Zones kept at most (a zone comes from a citizen's record: a bound on
 * what bad data can make us hold). Past it a zone is loaded per call. */
#define TZ_CACHE_MAX 512

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *tz_cache; /* name -> GTimeZone *, or NULL: no such zone */

/* A zone name is a relative path of letters, digits, '_', '-', '+', '/',
 * never "..": it names a file under TZ_DIR (GLib would also take an
 * absolute path or a POSIX TZ string; we take neither). */
static int zone_ok(const char *z)
{
	if (!*z || *z == '/' || strstr(z, "..") || strlen(z) > 64)
		return 0;
	for (; *z; z++)
		if (!((*z >= 'A' && *z <= 'Z') || (*z >= 'a' && *z <= 'z') ||
		      (*z >= '0' && *z <= '9') || *z == '_' || *z == '-' || *z == '+' || *z == '/'))
			return 0;
	return 1;
}

/* The zone, loaded: NULL when it has no readable TZif file. */
static GTimeZone *zone_load(const char *zone)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", TZ_DIR, zone);
	if (access(path, R_OK) != 0)
		return NULL;
	return g_time_zone_new_identifier(zone);
}

int tz_offset(const char *zone, int64_t t, int32_t *offset)
{
	GTimeZone *tz;
	gpointer v;
	int cached, interval;

	if (!strcmp(zone, "UTC") || !strcmp(zone, "Etc/UTC")) {
		*offset = 0;
		return 0;
	}
	if (!zone_ok(zone))
		return -1;
	pthread_mutex_lock(&tz_lock);
	if (!tz_cache)
		tz_cache = g_hash_table_new(g_str_hash, g_str_equal);
	cached = g_hash_table_lookup_extended(tz_cache, zone, NULL, &v);
	if (!cached) {
		v = zone_load(zone);
		if (g_hash_table_size(tz_cache) < TZ_CACHE_MAX) {
			g_hash_table_insert(tz_cache, g_strdup(zone), v);
			cached = 1;
		}
	}
	tz = v ? g_time_zone_ref(v) : NULL;
	pthread_mutex_unlock(&tz_lock);
	if (!cached && v)
		g_time_zone_unref(v); /* the load's own reference */
	if (!tz)
		return -1;
	interval = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t);
	*offset = interval < 0 ? 0 : g_time_zone_get_offset(tz, interval);
	g_time_zone_unref(tz);
	return interval < 0 ? -1 : 0;
}

static int parse_hhmm(const char *s, int *min)
{
	int h, m;

	if (strlen(s) < 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m))
		return -1;
	*min = h * 60 + m;
	return 0;
}

int quiet_hours_check(const char *spec, int local_min, int *mins_left)
{
	int from, to;

	while (*spec == ' ')
		spec++;
	if (strlen(spec) < 11 || spec[5] != '-' || parse_hhmm(spec, &from) ||
	    parse_hhmm(spec + 6, &to))
		return -1;
	for (const char *e = spec + 11; *e; e++)
		if (*e != ' ')
			return -1;
	if (from == to)
		return 0; /* an empty window */
	if (from < to) {
		if (local_min >= from && local_min < to) {
			*mins_left = to - local_min;
			return 1;
		}
		return 0;
	}
	/* wraps midnight: 21:00-08:00 */
	if (local_min >= from) {
		*mins_left = 24 * 60 - local_min + to;
		return 1;
	}
	if (local_min < to) {
		*mins_left = to - local_min;
		return 1;
	}
	return 0;
}
