/*
 * cmd_optout.c - heraldctl optout CITIZEN
 *                heraldctl optout CITIZEN --remove CHANNEL [--service NAME]
 *                heraldctl optout CITIZEN --add CHANNEL [--service NAME]
 *                heraldctl optout CITIZEN --valid CHANNEL
 *
 * A citizen's refusals and wrong addresses (lib/citizen.h): listed, or
 * changed by an operator. --remove takes a channel out of `optout` (every
 * service) or `optout@NAME` (one service): the field goes when it is
 * empty, its _at too (and the _at when it was about that channel); --add
 * puts one in (a letter, a phone call), with _at = "TIME CHANNEL: added by
 * operator USER"; --valid takes a channel out of `invalid` and drops its
 * invalid_CHANNEL. Each edit is one Lua script (EVAL), so a refusal heraldd
 * writes at the same moment is not lost, and the same script logs it in
 * herald:oplog (ts, user, action, id = the citizen id, channel, service:
 * nothing else about the citizen).
 *
 * Under [ingest] auth = curve the services are the files of [services]
 * dir: --add --service NAME refuses a NAME that has none (a typo would
 * record an opt-out no message ever meets), naming the services there;
 * --force adds it all the same (a service about to be configured). Under
 * auth = none any name a publisher gives is a service: nothing to check.
 * --remove is never checked: an opt-out of a service since removed from
 * services.d must still be cleaned up.
 *
 * Exit 0 when done (an --add of a channel already there changes nothing),
 * 1 when the citizen is unknown or the channel is not in the list, 2 on a
 * usage error, an unknown service or a Redis failure.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citizen.h"
#include "ctl_queue.h"
#include "ctl_redis.h"
#include "heraldctl.h"
#include "mask.h"
#include "schema.h"
#include "service.h"
#include "text.h"

#define OPTOUT_USAGE                                                                               \
	"usage: heraldctl optout CITIZEN [--remove CHANNEL [--service NAME] | --add CHANNEL "      \
	"[--service NAME [--force]] | --valid CHANNEL]\n"

/* KEYS: the citizen, herald:oplog. ARGV: "add" or "remove", the list
 * field, its note field, the channel, the note (add), the oplog entry,
 * OPLOG_MAX, "1" when a remove drops the note whatever it says (invalid).
 * The list rule is lib/citizen.h's, shared with heraldd (herald_list_add).
 * Returns -1 no such citizen, 0 nothing to change, 1 changed. */
static const char edit_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n" CITIZEN_LUA_LIST_SPLIT
    "local list, found = list_split(redis.call('HGET', KEYS[1], ARGV[2]), ARGV[4])\n"
    "local at = redis.call('HGET', KEYS[1], ARGV[3])\n"
    "if ARGV[1] == 'add' then\n"
    "  if found then return 0 end\n"
    "  list[#list + 1] = ARGV[4]\n"
    "  redis.call('HSET', KEYS[1], ARGV[2], table.concat(list, ','), ARGV[3], ARGV[5])\n"
    "else\n"
    "  if not found and not (ARGV[8] == '1' and at) then return 0 end\n"
    "  if #list == 0 then redis.call('HDEL', KEYS[1], ARGV[2])\n"
    "  else redis.call('HSET', KEYS[1], ARGV[2], table.concat(list, ',')) end\n"
    "  if at and (#list == 0 or ARGV[8] == '1' or\n"
    "             at:match('^%S+ ([^:]+):') == ARGV[4]) then\n"
    "    redis.call('HDEL', KEYS[1], ARGV[3])\n"
    "  end\n"
    "end\n"
    "redis.call('LPUSH', KEYS[2], ARGV[6])\n"
    "redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[7]) - 1)\n"
    "return 1\n";

enum op { OP_LIST, OP_ADD, OP_REMOVE, OP_VALID };

/* A note as it goes to the terminal: addresses and numbers in it (a
 * provider's reason may quote them) masked. */
static void put_note(const char *note)
{
	char word[512], masked[512];
	const char *p = note;

	while (*p) {
		size_t n = strcspn(p, " <>()[];,\"");
		size_t digits = 0;
		if (n == 0) {
			putchar(*p++);
			continue;
		}
		snprintf(word, sizeof(word), "%.*s", (int)(n < sizeof(word) ? n : sizeof(word) - 1),
			 p);
		for (size_t i = 0; word[i]; i++)
			digits += isdigit((unsigned char)word[i]) != 0;
		if (strchr(word, '@') ||
		    (digits >= 7 && strspn(word, "+0123456789-") == strlen(word))) {
			mask_contact(word, masked, sizeof(masked));
			ctl_put_clean(masked);
		} else {
			ctl_put_clean(word);
		}
		p += n;
	}
}

/* 1 if k is the _at note of another field of h. */
static int is_note(const json_t *h, const char *k)
{
	size_t len = strlen(k), sl = strlen(OPTOUT_AT_SUFFIX);
	char base[OPTOUT_FIELD_MAX];

	if (len <= sl || strcmp(k + len - sl, OPTOUT_AT_SUFFIX) || len - sl >= sizeof(base))
		return 0;
	snprintf(base, sizeof(base), "%.*s", (int)(len - sl), k);
	return json_object_get(h, base) != NULL;
}

static void show_list(const json_t *h, const char *field, const char *title)
{
	char at[OPTOUT_FIELD_MAX + 8];
	const char *note;

	printf("%s: ", title);
	ctl_put_clean(json_string_value(json_object_get(h, field)));
	putchar('\n');
	snprintf(at, sizeof(at), "%s" OPTOUT_AT_SUFFIX, field);
	if ((note = json_string_value(json_object_get(h, at)))) {
		printf("  last added: ");
		put_note(note);
		putchar('\n');
	}
}

static int list(redisContext *rc, const char *citizen)
{
	redisReply *r = ctl_redis_cmd(rc, "optout", "HGETALL " KEY_CITIZEN "%s", citizen);
	json_t *h, *v;
	const char *k;
	char title[OPTOUT_FIELD_MAX + 32];
	int n = 0;

	if (!r)
		return 2;
	h = ctl_reply_object(r);
	freeReplyObject(r);
	if (!h || !json_object_size(h)) {
		fprintf(stderr, "heraldctl optout: no citizen '%s' (no %s%s in Redis)\n", citizen,
			KEY_CITIZEN, citizen);
		json_decref(h);
		return 1;
	}
	printf("citizen %s\n", citizen);
	if (json_object_get(h, OPTOUT_FIELD) && ++n)
		show_list(h, OPTOUT_FIELD, "opted out (every service)");
	json_object_foreach(h, k, v)
	{
		if (strncmp(k, OPTOUT_FIELD OPTOUT_SVC_SEP, strlen(OPTOUT_FIELD OPTOUT_SVC_SEP)) ||
		    is_note(h, k))
			continue;
		snprintf(title, sizeof(title), "opted out (service %s)",
			 k + strlen(OPTOUT_FIELD OPTOUT_SVC_SEP));
		show_list(h, k, title);
		n++;
	}
	if (!n)
		printf("no opt-outs\n");
	if ((k = json_string_value(json_object_get(h, CIT_F_INVALID))) && *k) {
		printf("invalid addresses: ");
		ctl_put_clean(k);
		putchar('\n');
	} else {
		printf("no invalid addresses\n");
	}
	json_object_foreach(h, k, v)
	{
		if (strncmp(k, CIT_F_INVALID_PREFIX, strlen(CIT_F_INVALID_PREFIX)))
			continue;
		printf("  %s: ", k + strlen(CIT_F_INVALID_PREFIX));
		put_note(json_string_value(v) ? json_string_value(v) : "");
		putchar('\n');
	}
	json_decref(h);
	return 0;
}

/* The oplog entry: who did what to which citizen's list; no address. */
static char *oplog_entry(enum op op, const char *citizen, const char *channel, const char *service)
{
	static const char *const names[] = {"", "optout-add", "optout-remove", "optout-valid"};
	json_t *o =
	    json_pack("{s:I, s:s, s:s, s:s, s:s}", "ts", (json_int_t)ctl_now_ms(), "user",
		      ctl_operator(), "action", names[op], "id", citizen, "channel", channel);
	char *s;

	if (o && service)
		json_object_set_new(o, "service", json_string(service));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static void describe(char *buf, size_t len, enum op op, const char *service)
{
	if (op == OP_VALID)
		snprintf(buf, len, "invalid addresses");
	else if (service)
		snprintf(buf, len, "opt-outs for service %s", service);
	else
		snprintf(buf, len, "opt-outs for every service");
}

static int edit(redisContext *rc, enum op op, const char *citizen, const char *channel,
		const char *service)
{
	char key[512], field[OPTOUT_FIELD_MAX], at[OPTOUT_FIELD_MAX + 40], note[256], when[40],
	    max[16], what[OPTOUT_FIELD_MAX + 40];
	char *entry = oplog_entry(op, citizen, channel, service);
	const char *argv[] = {
	    "EVAL", edit_lua, "2",  key,   KEY_OPLOG, op == OP_ADD ? "add" : "remove", field,
	    at,	    channel,  note, entry, max,	      op == OP_VALID ? "1" : "0"};
	redisReply *r;
	long long n;

	if (!entry)
		return 2;
	snprintf(key, sizeof(key), KEY_CITIZEN "%s", citizen);
	if (op == OP_VALID) {
		snprintf(field, sizeof(field), CIT_F_INVALID);
		snprintf(at, sizeof(at), CIT_F_INVALID_PREFIX "%s", channel);
	} else {
		optout_field(service, field, sizeof(field)); /* the name was checked */
		snprintf(at, sizeof(at), "%s" OPTOUT_AT_SUFFIX, field);
	}
	rfc3339_format(ctl_now_ms(), when, sizeof(when));
	snprintf(note, sizeof(note), "%s %s: added by operator %s", when, channel, ctl_operator());
	snprintf(max, sizeof(max), "%d", OPLOG_MAX);
	r = ctl_redis_cmdv(rc, "optout", (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL);
	free(entry);
	if (!r)
		return 2;
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : -2;
	freeReplyObject(r);
	describe(what, sizeof(what), op, service);
	if (n == -1) {
		fprintf(stderr, "heraldctl optout: no citizen '%s' (no %s in Redis)\n", citizen,
			key);
		return 1;
	}
	if (n == 0 && op == OP_ADD) {
		printf("%s: %s already in the %s; nothing changed\n", citizen, channel, what);
		return 0;
	}
	if (n == 0) {
		fprintf(stderr, "heraldctl optout: %s: %s is not in the %s; nothing changed\n",
			citizen, channel, what);
		return 1;
	}
	if (n != 1)
		return 2;
	printf("%s: %s %s the %s (operator %s)\n", citizen, channel,
	       op == OP_ADD ? "added to" : "removed from", what, ctl_operator());
	return 0;
}

static int valid_citizen(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The arguments checked: 0, or 2 with the reason printed. */
static int check_args(enum op op, const char *citizen, const char *channel, const char *service)
{
	char field[OPTOUT_FIELD_MAX];

	if (!valid_citizen(citizen)) {
		fprintf(stderr,
			"heraldctl optout: '%s' is not a citizen id (1-256 characters, no "
			"spaces or control characters)\n",
			citizen);
		return 2;
	}
	if (op != OP_LIST && !citizen_channel_valid(channel)) {
		fprintf(stderr,
			"heraldctl optout: '%s' is not a channel name (1-%d of a-z, 0-9, '-' and "
			"'_')\n",
			channel, CITIZEN_CHANNEL_MAX);
		return 2;
	}
	if (service &&
	    (!service_name_valid(service) || optout_field(service, field, sizeof(field)) != 0)) {
		fprintf(stderr,
			"heraldctl optout: --service '%s' is not a service name (1-64 of a-z, "
			"0-9, '-' and '_', starting with a letter or digit)\n",
			service);
		return 2;
	}
	if (service && (op == OP_LIST || op == OP_VALID)) {
		fprintf(stderr, "heraldctl optout: --service goes with --add or --remove\n");
		return 2;
	}
	return 0;
}

/* "a, b, c" of the services' names into buf ("none" when there are none). */
static const char *service_names(const struct services *svcs, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "none");
	for (size_t i = 0; i < svcs->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", svcs->v[i].name);
		if (n < 0 || (size_t)n >= len - used) {
			snprintf(buf + used, len - used, "%s", i ? ", ..." : "...");
			break;
		}
		used += (size_t)n;
	}
	return buf;
}

/* --add --service NAME under [ingest] auth = curve: NAME must have a file
 * in [services] dir. 0 known (or nothing to check), 2 with why printed. */
static int known_service(struct ctl *c, const char *service)
{
	const char *auth = conf_get_def(c->conf, "ingest", "auth", "curve");
	const char *dir = conf_get_def(c->conf, "services", "dir", "/etc/herald/services.d");
	char err[512], names[1024];
	int missing = 0, ret = 2;
	struct services *svcs;

	if (strcmp(auth, "curve") != 0)
		return 0; /* every name a publisher gives is a service */
	svcs = services_load(dir, &missing, err, sizeof(err));
	if (!svcs)
		fprintf(stderr,
			"heraldctl optout: cannot check --service '%s' against %s: %s (--force "
			"adds the opt-out unchecked)\n",
			service, dir, err);
	else if (services_by_name(svcs, service))
		ret = 0;
	else
		fprintf(stderr,
			"heraldctl optout: no service '%s' in %s%s (known: %s); --force adds the "
			"opt-out all the same (for a service not configured yet)\n",
			service, dir, missing ? ", which does not exist" : "",
			service_names(svcs, names, sizeof(names)));
	services_free(&svcs);
	return ret;
}

int cmd_optout(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"remove", required_argument, NULL, 'r'},
					     {"add", required_argument, NULL, 'a'},
					     {"valid", required_argument, NULL, 'v'},
					     {"service", required_argument, NULL, 's'},
					     {"force", no_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *channel = NULL, *service = NULL;
	enum op op = OP_LIST;
	redisContext *rc;
	int opt, ret, nops = 0, force = 0;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': op = OP_REMOVE, channel = optarg, nops++; break;
		case 'a': op = OP_ADD, channel = optarg, nops++; break;
		case 'v': op = OP_VALID, channel = optarg, nops++; break;
		case 's': service = optarg; break;
		case 'f': force = 1; break;
		case 'h': printf(OPTOUT_USAGE); return 0;
		default: fprintf(stderr, OPTOUT_USAGE); return 2;
		}
	}
	if (optind != argc - 1 || nops > 1) {
		fprintf(stderr, OPTOUT_USAGE);
		return 2;
	}
	if ((ret = check_args(op, argv[optind], channel, service)) != 0)
		return ret;
	if (force && !(op == OP_ADD && service)) {
		fprintf(stderr,
			"heraldctl optout: --force goes with --add CHANNEL --service NAME\n");
		return 2;
	}
	if (op == OP_ADD && service && !force && (ret = known_service(c, service)) != 0)
		return ret;
	if (!(rc = ctl_redis_open(c, "optout")))
		return 2;
	if (op == OP_LIST)
		ret = list(rc, argv[optind]);
	else
		ret = edit(rc, op, argv[optind], channel, service);
	ctl_redis_close(&rc);
	return ret;
}
