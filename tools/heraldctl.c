/*
 * heraldctl.c - the command-line client: dispatch to one subcommand.
 *
 *   heraldctl [-c FILE] COMMAND [-c FILE] [ARGS...]
 *
 * -c names heraldd's own config (default /etc/herald/herald.conf), where the
 * endpoints and Redis address are found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heraldctl.h"

#define DEFAULT_CONF "/etc/herald/herald.conf"

/* Subcommands live in their own files; weak so the table below still links
 * while one is absent from a build. */
#pragma weak cmd_publish
#pragma weak cmd_tail
#pragma weak cmd_render
#pragma weak cmd_sms_info
#pragma weak cmd_trace
#pragma weak cmd_status
#pragma weak cmd_dead
#pragma weak cmd_purge
#pragma weak cmd_keygen
#pragma weak cmd_callbacks
#pragma weak cmd_config
#pragma weak cmd_log_level
#pragma weak cmd_queue
#pragma weak cmd_hold
#pragma weak cmd_release
#pragma weak cmd_delete
#pragma weak cmd_flush
#pragma weak cmd_channel
#pragma weak cmd_optout

/* How the queue actions choose their messages. */
#define SEL "(ID...|--service S|--channel C|--state STATE|--older-than DURATION) [-y]"
#pragma weak cmd_bounce

static const struct {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	int needs_conf; /* 1: the file must exist; 2: and --help is the command's own */
	const char *usage;
} cmds[] = {
    {"publish", cmd_publish, 0,
     "publish [-e ENDPOINT] [-k SECRET_KEY_FILE --server-key PUBLIC_KEY_FILE] [-t TIMEOUT_MS] "
     "[-r RETRIES] [-w WINDOW] [FILE|-]"},
    {"keygen", cmd_keygen, 0, "keygen [-d DIR] [--server] [--force] NAME"},
    {"tail", cmd_tail, 0,
     "tail [-e PUB_ENDPOINT] [--json] [--since DURATION|TIME] [--service S] [--citizen ID] "
     "[--tx ID] [--channel C] [--status S] [--count N] [--timeout DURATION]"},
    {"render", cmd_render, 0,
     "render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR] [--raw] [--channel C] [--pdf FILE]"},
    {"sms-info", cmd_sms_info, 0, "sms-info TEXT"},
    {"trace", cmd_trace, 1, "trace [--json] TX_OR_EVENT_ID"},
    {"status", cmd_status, 1, "status [--json] [EVENT_ID]"},
    {"dead", cmd_dead, 1, "dead list [--json] | dead replay EVENT_ID"},
    {"purge", cmd_purge, 1, "purge --citizen ID [--yes]"},
    {"callbacks", cmd_callbacks, 1,
     "callbacks [--service S] [--json] | callbacks dead list --service S [--json] | callbacks "
     "dead replay --service S (ID...|--all)"},
    {"config", cmd_config, 0, "config [-n|-d] [SECTION[.KEY]...]"},
    {"log-level", cmd_log_level, 1, "log-level error|warning|notice|info|debug|default"},
    {"queue", cmd_queue, 1,
     "queue [--json] [--service S] [--channel C] [--state STATE] [--older-than DURATION] | "
     "queue shape [--by channel|service] [--json]"},
    {"hold", cmd_hold, 1, "hold " SEL},
    {"release", cmd_release, 1, "release " SEL},
    {"delete", cmd_delete, 1, "delete " SEL},
    {"flush", cmd_flush, 1, "flush [" SEL "]"},
    {"channel", cmd_channel, 1,
     "channel suspend NAME [--hop] | channel resume NAME | channel list [--json]"},
    {"optout", cmd_optout, 1,
     "optout CITIZEN [(--remove|--add) CHANNEL [--service NAME] | --valid CHANNEL]"},
    {"bounce", cmd_bounce, 1, "bounce [RECIPIENT] < MESSAGE   (a Postfix pipe(8) transport)"},
};

static const char exit_codes[] =
    "\nexit status: 0 success; 1 failure (not found, refused, a check failed);\n"
    "2 usage or configuration error, or no answer from heraldd or Redis\n";

/* COMMAND --help / --version: answered here, before any config is read
 * (render and tail print their longer help themselves: -2, go on without
 * reading the config). 0 when answered, else -1. */
static int sub_help(size_t k, int argc, char **argv, int start)
{
	for (int j = start + 1; j < argc; j++) {
		if (!strcmp(argv[j], "--"))
			break;
		if (!strcmp(argv[j], "--version")) {
			printf("heraldctl %s\n", HERALD_VERSION);
			return 0;
		}
		if (strcmp(argv[j], "-h") != 0 && strcmp(argv[j], "--help") != 0)
			continue;
		if (!strcmp(cmds[k].name, "render") || !strcmp(cmds[k].name, "tail"))
			return -2;
		printf("usage: heraldctl [-c FILE] %s\n%s", cmds[k].usage, exit_codes);
		return 0;
	}
	return -1;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: heraldctl [-c FILE] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].fn)
			fprintf(fp, "  heraldctl %s\n", cmds[i].usage);
	fprintf(fp, "\n-c FILE  heraldd's config (default %s)\n", DEFAULT_CONF);
	fprintf(fp,
		"-h, --help  this text (COMMAND --help: that command's)\n"
		"--version   print the version\n%s",
		exit_codes);
}

int main(int argc, char **argv)
{
	struct ctl c = {DEFAULT_CONF, NULL};
	char err[512];
	int i = 1, rc, explicit_conf = 0, help = 0;

	/* -c may come before or right after the subcommand name. */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			c.conf_path = argv[i + 1];
			explicit_conf = 1;
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("heraldctl %s\n", HERALD_VERSION);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		char **sub_argv;
		int sub_argc = 0;

		if (strcmp(argv[i], cmds[k].name) != 0)
			continue;
		if (!cmds[k].fn) {
			fprintf(stderr, "heraldctl: %s is not part of this build\n", argv[i]);
			return 2;
		}
		if ((rc = sub_help(k, argc, argv, i)) >= 0)
			return rc;
		help = rc == -2;
		/* Rebuild argv without a -c FILE that follows the subcommand. */
		sub_argv = calloc((size_t)(argc - i + 1), sizeof(char *));
		if (!sub_argv)
			return 2;
		for (int j = i; j < argc; j++) {
			if (j > i && !strcmp(argv[j], "-c") && j + 1 < argc) {
				c.conf_path = argv[++j];
				explicit_conf = 1;
				continue;
			}
			if (!strcmp(argv[j], "--")) {
				while (++j < argc)
					sub_argv[sub_argc++] = argv[j];
				break;
			}
			sub_argv[sub_argc++] = argv[j];
		}
		if (!help &&
		    (access(c.conf_path, F_OK) == 0 || explicit_conf || cmds[k].needs_conf)) {
			c.conf = conf_load(c.conf_path, err, sizeof(err));
			/* config -d, and config on a missing file, show the defaults */
			if (!c.conf && (explicit_conf || cmds[k].needs_conf) &&
			    (cmds[k].fn != cmd_config || access(c.conf_path, F_OK) == 0)) {
				fprintf(stderr, "heraldctl: %s\n", err);
				free(sub_argv);
				/* bounce: Postfix keeps the message and retries */
				return strcmp(cmds[k].name, "bounce") ? 2 : 75;
			}
		}
		optind = 1;
		rc = cmds[k].fn(&c, sub_argc, sub_argv);
		conf_free(&c.conf);
		free(sub_argv);
		return rc;
	}
	fprintf(stderr, "heraldctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
