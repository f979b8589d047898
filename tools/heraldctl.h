/* heraldctl.h - subcommands of heraldctl, one file each (tools/cmd_*.c). */
#ifndef HERALD_HERALDCTL_H
#define HERALD_HERALDCTL_H

#include "conf.h"

/* What every subcommand gets: the parsed -c config (may be NULL when the
 * file does not exist and the command does not need it), its path, and the
 * remaining arguments (argv[0] is the subcommand name). Return the exit
 * status. */
struct ctl {
	const char *conf_path;
	struct conf *conf;
};

int cmd_publish(struct ctl *c, int argc, char **argv);
int cmd_tail(struct ctl *c, int argc, char **argv);
int cmd_render(struct ctl *c, int argc, char **argv);
int cmd_sms_info(struct ctl *c, int argc, char **argv);
int cmd_trace(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_dead(struct ctl *c, int argc, char **argv);
int cmd_purge(struct ctl *c, int argc, char **argv);
int cmd_keygen(struct ctl *c, int argc, char **argv);
int cmd_callbacks(struct ctl *c, int argc, char **argv);
int cmd_config(struct ctl *c, int argc, char **argv);
int cmd_log_level(struct ctl *c, int argc, char **argv);
int cmd_queue(struct ctl *c, int argc, char **argv);
int cmd_hold(struct ctl *c, int argc, char **argv);
int cmd_release(struct ctl *c, int argc, char **argv);
int cmd_delete(struct ctl *c, int argc, char **argv);
int cmd_flush(struct ctl *c, int argc, char **argv);
int cmd_channel(struct ctl *c, int argc, char **argv);
int cmd_optout(struct ctl *c, int argc, char **argv);
/* heraldctl status without an id (cmd_statuspage.c) */
int ctl_status_page(struct ctl *c, int json);
int cmd_bounce(struct ctl *c, int argc, char **argv);

#endif
