/* ops.h - heraldd's command line, -t, and run-time log level (ops.c). */
#ifndef HERALD_OPS_H
#define HERALD_OPS_H

struct router;

/* -1 to go on, else the exit code (--help, --version: 0; usage: 2). */
int ops_parse_args(int argc, char **argv, const char **conf_path, int *check_only);
/* heraldd -t: errors already found (confcheck) plus every channel, the
 * template set and the services. 0 when all is well. */
int ops_check_config(struct router *r, const char *conf_path, int errors);
/* The template set against the channels that opened: warnings. */
void ops_check_templates(struct router *r);
/* SIGUSR2: info -> debug -> error -> warning -> notice -> info, logged. */
void ops_cycle_log_level(void);
/* Ask Redis for herald:loglevel (heraldctl log-level); a change is applied
 * and logged when the reply comes. */
void ops_poll_log_level(struct router *r);
/* The gauges read from Redis (stream lengths, schedule, dead letters,
 * redis_up) and the in-flight count, on the pipeline; also re-asks Redis
 * for its appendfsync (group commit) and the log level. */
void ops_update_gauges(struct router *r);

#endif
