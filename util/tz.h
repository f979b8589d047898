/* tz.h - UTC offsets of IANA time zones, read from the system's compiled
 * zoneinfo (TZif) files, without touching the process-wide TZ (plugins run
 * threads that may call localtime). */
#ifndef HERALD_TZ_H
#define HERALD_TZ_H

#include <stdint.h>

/* Offset east of UTC, in seconds, of zone (e.g. "Europe/London") at the
 * instant t (seconds since the epoch). 0 on success, -1 if the zone is
 * unknown or its file unreadable. Times past the file's last transition use
 * the last offset (Debian ships transitions through 2037). */
int tz_offset(const char *zone, int64_t t, int32_t *offset);
/* Where zone files are read from (tests point it elsewhere). */
void tz_set_dir(const char *dir);

/* Quiet hours "21:00-08:00" (may wrap midnight; "HH:MM-HH:MM"). Returns 1
 * if the local time (minutes since local midnight) is inside the window,
 * 0 if not, -1 if the text is malformed. When inside, *mins_left is the
 * number of minutes until the window ends. */
int quiet_hours_check(const char *spec, int local_min, int *mins_left);

#endif
