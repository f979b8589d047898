/* purge_extra.h - what heraldctl purge deletes outside Redis (the file
 * channel's output, the print spool) and its deletion record. */
#ifndef HERALD_PURGE_EXTRA_H
#define HERALD_PURGE_EXTRA_H

#include <hiredis.h>
#include <jansson.h>
#include <stddef.h>

#include "heraldctl.h"

/* The file channel's output ([channel.file] path): the lines whose
 * citizen_id is citizen, counted in *n; with yes they are removed (the
 * file rewritten in place under the writer's flock). 0, or -1 (reported). */
int purge_file_lines(const struct ctl *c, const char *citizen, int yes, size_t *n);
/* The print spool ([channel.print] dir): the letters (manifest and PDF)
 * whose manifest names citizen, counted in *n; deleted with yes. 0 or -1. */
int purge_spool(const struct ctl *c, const char *citizen, int yes, size_t *n);

/* Push the deletion record on herald:purges: when, by whom, a keyed hash
 * of the citizen id (HMAC-SHA256 under the install's secret; no id) and
 * the counts in `deleted` (an object of numbers). 0 or -1. */
int purge_record_write(const struct ctl *c, redisContext *rc, const char *citizen, json_t *deleted);
/* heraldctl purge --record [--citizen ID]: the records, newest first
 * (only those of ID with it). The exit status. */
int purge_record_show(const struct ctl *c, redisContext *rc, const char *citizen);

#endif
