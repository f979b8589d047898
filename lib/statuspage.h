/*
 * statuspage.h - the status page of every heraldd sharing a Redis, like
 * Kannel's: heraldctl status (no id) and GET /status (text, or JSON with
 * ?format=json) both put it together from the same Redis records
 * (lib/schema.h): the instances' heartbeats (herald:instance:<consumer>),
 * herald:suspended, the streams' lengths, the schedule, the dead-letter
 * list and herald:held.
 *
 * The page as JSON:
 *   now_ms, version (of the one rendering it)
 *   instances: [{name, version, pid, started_ms, heartbeat_ms, uptime_s,
 *                heartbeat_age_s, inflight}]
 *   channels:  {name: {state: up|failing|suspended, suspended: ""|wait|hop,
 *                failing_since_ms, inflight, sent_1m, failed_1m, sent_1h,
 *                failed_1h, oldest_age_s}}  (summed over the instances;
 *                oldest_age_s: how long the message that has waited longest
 *                for the channel on any instance has waited, in its plugin
 *                without a result or in the backlog for it; 0 none waits)
 *   queues:    {stream: length}, scheduled, dead, held
 *   callbacks: {service: {backlog, oldest_age_s}}
 * heraldctl adds oldest_queued_age_s to each channel (from its queue walk).
 */
#ifndef HERALD_STATUSPAGE_H
#define HERALD_STATUSPAGE_H

#include <jansson.h>
#include <stdint.h>

/* What was read from Redis: instances, an array of the heartbeat hashes as
 * JSON objects of strings (each with "name" added: its consumer);
 * suspended, herald:suspended as such an object; the counts (-1: not
 * read). A new page, or NULL without memory. */
struct statuspage_counts {
	long long queue[3]; /* lib/schema.h's KEY_STREAMS order */
	long long scheduled, dead, held;
};
json_t *statuspage_build(const json_t *instances, const json_t *suspended,
			 const struct statuspage_counts *n, int64_t now_ms);

/* The page as text (malloc'd), or NULL without memory. */
char *statuspage_text(const json_t *page);

#endif
