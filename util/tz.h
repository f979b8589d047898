/* tz.h - UTC offsets of IANA time zones (GLib's GTimeZone over the
 * system's zoneinfo, each zone loaded once), without touching the
 * process-wide TZ (plugins run threads that may call localtime). */
#ifndef HERALD_TZ_H
#define HERALD_TZ_H

#include <stdint.h>

/* Offset east of UTC, in seconds, of zone (e.g. "Europe/London") at the
 * instant t (seconds since the epoch). 0 on success, -1 if the zone is
 * unknown or its file unreadable. Past the file's last transition the
 * file's footer rule applies (Europe/London is +01:00 every summer). The
 * zone is read once and kept; thread-safe. */
int tz_offset(const char *zone, int64_t t, int32_t *offset);

/* Quiet hours "21:00-08:00" (may wrap midnight; "HH:MM-HH:MM"). Returns 1
 * if the local time (minutes since local midnight) is inside the window,
 * 0 if not, -1 if the text is malformed. When inside, *mins_left is the
 * number of minutes until the window ends. */
int quiet_hours_check(const char *spec, int local_min, int *mins_left);

#endif
