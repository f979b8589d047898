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
#pragma weak cmd_bounce

static const struct {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	int needs_conf;
	const char *usage;
} cmds[] = {
    {"publish", cmd_publish, 0,
     "publish [-e ENDPOINT] [-k SECRET_KEY_FILE --server-key PUBLIC_KEY_FILE] [-t TIMEOUT_MS] "
     "[-r RETRIES] [-w WINDOW] [FILE|-]"},
    {"keygen", cmd_keygen, 0, "keygen [-d DIR] [--server] [--force] NAME"},
    {"tail", cmd_tail, 0,
     "tail [-e PUB_ENDPOINT] [--json] [--citizen ID] [--tx ID] [--channel C] [--status S] [--count "
     "N]"},
    {"render", cmd_render, 0, "render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR] [--raw]"},
    {"sms-info", cmd_sms_info, 0, "sms-info TEXT"},
    {"trace", cmd_trace, 1, "trace [--json] TX_OR_EVENT_ID"},
    {"status", cmd_status, 1, "status [--json] EVENT_ID"},
    {"dead", cmd_dead, 1, "dead list [--json] | dead replay EVENT_ID"},
    {"purge", cmd_purge, 1, "purge --citizen ID [--yes]"},
    {"callbacks", cmd_callbacks, 1,
     "callbacks [--service S] [--json] | callbacks dead list --service S [--json] | callbacks "
     "dead replay --service S (ID...|--all)"},
    {"bounce", cmd_bounce, 1, "bounce [RECIPIENT] < MESSAGE   (a Postfix pipe(8) transport)"},
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: heraldctl [-c FILE] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].fn)
			fprintf(fp, "  heraldctl %s\n", cmds[i].usage);
	fprintf(fp, "\n-c FILE  heraldd's config (default %s)\n", DEFAULT_CONF);
}

int main(int argc, char **argv)
{
	struct ctl c = {DEFAULT_CONF, NULL};
	char err[512];
	int i = 1, rc, explicit_conf = 0;

	/* -c may come before or right after the subcommand name. */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			c.conf_path = argv[i + 1];
			explicit_conf = 1;
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
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
		if (access(c.conf_path, F_OK) == 0 || explicit_conf || cmds[k].needs_conf) {
			c.conf = conf_load(c.conf_path, err, sizeof(err));
			if (!c.conf && (explicit_conf || cmds[k].needs_conf)) {
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
