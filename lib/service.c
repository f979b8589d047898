/* service.c - services.d policy files: parse, validate, look up (service.h). */
#include "service.h"

#include "num.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zmq.h>

int service_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SERVICE_NAME_MAX || name[0] == '-' || name[0] == '_')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-' || name[i] == '_'))
			return 0;
	return 1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A Z85 key of exactly 40 characters into 32 bytes. */
static int z85_key(const char *s, unsigned char key[SERVICE_KEY_LEN])
{
	if (strlen(s) != SERVICE_Z85_LEN)
		return -1;
	return zmq_z85_decode(key, s) ? 0 : -1;
}

int service_read_key(const char *path, unsigned char key[SERVICE_KEY_LEN], char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int rc = -1;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		if (!*s) /* no comments: a Z85 key may start with '#' */
			continue;
		if (z85_key(s, key) == 0)
			rc = 0;
		else
			snprintf(err, errlen, "%s: not a Z85 CURVE key (40 characters)", path);
		break;
	}
	if (rc && !ferror(f) && feof(f))
		snprintf(err, errlen, "%s: no key in the file", path);
	fclose(f);
	return rc;
}

/* "a, b c" -> list entries (commas and/or spaces between). */
static int split_list(const char *v, char **list, int *n, char *why, size_t whylen)
{
	const char *p = v;

	*n = 0;
	while (*p) {
		size_t len;
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		len = strcspn(p, ", \t");
		if (*n >= SERVICE_MAX_PATTERNS) {
			snprintf(why, whylen, "more than %d entries", SERVICE_MAX_PATTERNS);
			return -1;
		}
		list[*n] = strndup(p, len);
		if (!list[*n]) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		(*n)++;
		p += len;
	}
	if (*n == 0) {
		snprintf(why, whylen, "expected a list of names or globs (\"*\" for all)");
		return -1;
	}
	return 0;
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
	char why[8];

	return num_parse_long(v, lo, hi, out, why, sizeof(why));
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int printable(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

/* An SMS originator: 1-11 letters, digits, spaces (alphanumeric) or a
 * number of up to 15 digits with an optional '+'. */
static int valid_sender(const char *v)
{
	size_t n = strlen(v), digits = 0;
	int alpha = 0;

	if (n == 0 || n > 16)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (isdigit((unsigned char)v[i]))
			digits++;
		else if (isalpha((unsigned char)v[i]) || v[i] == ' ')
			alpha = 1;
		else if (!(i == 0 && v[i] == '+'))
			return 0;
	}
	return alpha ? n <= 11 : digits <= 15;
}

static int set_str(char **dst, const char *v, char *why, size_t whylen)
{
	free(*dst);
	*dst = strdup(v);
	if (!*dst) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static void free_list(char **list, int *n)
{
	for (int i = 0; i < *n; i++)
		free(list[i]);
	*n = 0;
}

/* rate, burst, daily_limit, retention_days */
static int set_number(struct service *sv, const char *k, const char *v, char *why, size_t whylen)
{
	long n;

	if (!strcmp(k, "retention_days")) {
		if (parse_long(v, 1, 3650, &n) == 0) {
			sv->retention_days = (int)n;
			return 0;
		}
		snprintf(why, whylen, "retention_days = '%.32s': expected an integer 1..3650", v);
		return -1;
	}
	if (parse_long(v, 0, 100000000, &n) != 0) {
		snprintf(why, whylen, "%s = '%.32s': expected an integer 0..100000000", k, v);
		return -1;
	}
	*(!strcmp(k, "rate") ? &sv->rate : !strcmp(k, "burst") ? &sv->burst : &sv->daily_limit) = n;
	return 0;
}

static int valid_address(const char *v)
{
	return printable(v, 320) && strchr(v, '@') != NULL;
}

/* "id:" at the start of v (an id of 1-32 a-z 0-9 - _): its length, else 0. */
static size_t reply_id_len(const char *v)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_");

	return n >= 1 && n <= 32 && v[n] == ':' ? n : 0;
}

static int add_reply(struct service *sv, const char *id, size_t idlen, const char *addr, char *why,
		     size_t whylen)
{
	for (int i = 0; i < sv->nreply; i++)
		if (strlen(sv->reply_ids[i]) == idlen && !strncmp(sv->reply_ids[i], id, idlen)) {
			snprintf(why, whylen, "reply_to: id '%.*s' given twice", (int)idlen, id);
			return -1;
		}
	if (!valid_address(addr)) {
		snprintf(why, whylen,
			 "reply_to: '%.64s' is not an email address (\"Name <a@b>\" or a@b)", addr);
		return -1;
	}
	if (sv->nreply >= SERVICE_MAX_PATTERNS) {
		snprintf(why, whylen, "reply_to: more than %d entries", SERVICE_MAX_PATTERNS);
		return -1;
	}
	sv->reply_ids[sv->nreply] = strndup(id, idlen);
	sv->reply_addrs[sv->nreply] = strdup(addr);
	sv->nreply++;
	if (!sv->reply_ids[sv->nreply - 1] || !sv->reply_addrs[sv->nreply - 1]) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* reply_to = a@b (one address, "Name <a@b>" allowed, commas too), or
 * reply_to = id: a@b, id2: Name <c@d>, ... (a list with ids; no commas in
 * its names). The first is the default. */
static int set_reply_to(struct service *sv, const char *v, char *why, size_t whylen)
{
	char *copy, *save = NULL;

	if (!reply_id_len(v)) {
		if (add_reply(sv, "", 0, v, why, whylen) != 0)
			return -1;
		return set_str(&sv->reply_to, v, why, whylen);
	}
	copy = strdup(v);
	if (!copy) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		size_t n;
		e = trim(e);
		n = reply_id_len(e);
		if (!n) {
			snprintf(why, whylen,
				 "reply_to: '%.64s' has no id (a list is \"id: address, id2: "
				 "address\"; ids of a-z 0-9 - _)",
				 e);
			free(copy);
			return -1;
		}
		if (add_reply(sv, e, n, trim(e + n + 1), why, whylen) != 0) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	if (sv->nreply == 0) {
		snprintf(why, whylen, "reply_to: expected an address or a list of id: address");
		return -1;
	}
	return set_str(&sv->reply_to, sv->reply_addrs[0], why, whylen);
}

const char *service_reply_to(const struct service *sv, const char *id)
{
	if (!id)
		return sv->reply_to;
	for (int i = 0; i < sv->nreply; i++)
		if (sv->reply_ids[i][0] && !strcmp(sv->reply_ids[i], id))
			return sv->reply_addrs[i];
	return NULL;
}

/* daily_limit.<channel> = N */
static int set_channel_limit(struct service *sv, const char *ch, const char *v, char *why,
			     size_t whylen)
{
	long n;

	if (!service_name_valid(ch) || strlen(ch) > 32) {
		snprintf(why, whylen, "daily_limit.%.40s: not a channel name", ch);
		return -1;
	}
	for (int i = 0; i < sv->nlimits; i++)
		if (!strcmp(sv->limit_ch[i], ch)) {
			snprintf(why, whylen, "'daily_limit.%s' given twice", ch);
			return -1;
		}
	if (parse_long(v, 0, 100000000, &n) != 0) {
		snprintf(why, whylen, "daily_limit.%s = '%.32s': expected an integer 0..100000000",
			 ch, v);
		return -1;
	}
	if (sv->nlimits >= SERVICE_MAX_PATTERNS) {
		snprintf(why, whylen, "more than %d daily_limit.CHANNEL keys",
			 SERVICE_MAX_PATTERNS);
		return -1;
	}
	if (n == 0) /* no limit */
		return 0;
	sv->limit_ch[sv->nlimits] = strdup(ch);
	if (!sv->limit_ch[sv->nlimits]) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	sv->limit_n[sv->nlimits++] = n;
	return 0;
}

/* callback_timeout, callback_retry_max, callback_max_age (durations: a bare
 * number in seconds, or 30s / 5m / 1h / 1d), callback_ordered,
 * callback_concurrency; the ranges of herald.conf's [service.NAME]. */
static int set_callback_opt(struct service *sv, const char *k, const char *v, char *why,
			    size_t whylen)
{
	char r[160];
	int rc = -1;

	if (!strcmp(k, "callback_ordered")) {
		if (parse_bool(v, &sv->cb_ordered) == 0)
			return 0;
		snprintf(why, whylen, "callback_ordered = '%.32s': expected yes or no", v);
		return -1;
	}
	r[0] = '\0';
	if (!strcmp(k, "callback_timeout"))
		rc = num_parse_value(v, 1000, 1, 3600, &sv->cb_timeout_ms, r, sizeof(r));
	else if (!strcmp(k, "callback_retry_max"))
		rc = num_parse_value(v, 1000, 1, 86400, &sv->cb_retry_max_ms, r, sizeof(r));
	else if (!strcmp(k, "callback_max_age"))
		rc = num_parse_value(v, 1000, 1, 30 * 86400, &sv->cb_max_age_ms, r, sizeof(r));
	else /* 1..16: router/callback_internal.h's CB_MAX_IN_FLIGHT */
		rc = num_parse_value(v, 0, 1, 16, &sv->cb_concurrency, r, sizeof(r));
	if (rc)
		snprintf(why, whylen, "%s = '%.32s': %s", k, v, r);
	return rc;
}

/* sender, callback_url, callback_secret, from, reply_to */
static int set_text(struct service *sv, const char *k, const char *v, char *why, size_t whylen)
{
	if (!strcmp(k, "sender")) {
		if (valid_sender(v))
			return set_str(&sv->sender, v, why, whylen);
		snprintf(
		    why, whylen,
		    "sender = '%.32s': expected 1-11 letters, digits or spaces, or a number of "
		    "up to 15 digits",
		    v);
		return -1;
	}
	if (!strcmp(k, "callback_url")) {
		if (strncmp(v, "https://", 8) && strncmp(v, "http://", 7)) {
			snprintf(why, whylen, "callback_url: expected an http:// or https:// URL");
			return -1;
		}
		if (!printable(v, 2048) || strchr(v, ' ')) {
			snprintf(why, whylen, "callback_url: not a URL");
			return -1;
		}
		return set_str(&sv->callback_url, v, why, whylen);
	}
	if (!strcmp(k, "callback_secret")) {
		if (strlen(v) >= 16 && printable(v, 512))
			return set_str(&sv->callback_secret, v, why, whylen);
		snprintf(why, whylen, "callback_secret: expected 16-512 printable characters");
		return -1;
	}
	if (!strcmp(k, "reply_to"))
		return set_reply_to(sv, v, why, whylen);
	/* from: an address, optionally "Name <addr>" */
	if (!valid_address(v)) {
		snprintf(why, whylen, "%s: expected an email address (\"Name <a@b>\" or a@b)", k);
		return -1;
	}
	return set_str(&sv->from, v, why, whylen);
}

static int set_mode(struct service *sv, const char *v, char *why, size_t whylen)
{
	static const char *const modes[] = {"live", "trial", "test"};

	for (int i = 0; i < 3; i++)
		if (!strcmp(v, modes[i])) {
			sv->mode = (enum service_mode)i;
			return 0;
		}
	snprintf(why, whylen, "mode = '%.32s': expected live, trial or test", v);
	return -1;
}

/* Every key a policy file may set (service.h); the order is set_key's
 * (its bit in `seen`; the callback_* options from callback_timeout on). */
const char *const service_keys[] = {"public_key",
				    "templates",
				    "channels",
				    "urgent",
				    "rate",
				    "burst",
				    "daily_limit",
				    "from",
				    "reply_to",
				    "sender",
				    "retention_days",
				    "callback_url",
				    "callback_secret",
				    "mode",
				    "guests",
				    "callback_timeout",
				    "callback_retry_max",
				    "callback_max_age",
				    "callback_ordered",
				    "callback_concurrency",
				    NULL};

/* One "key = value" of a policy file. -1 with the reason in why. */
static int set_key(struct service *sv, const char *k, const char *v, unsigned *seen, char *why,
		   size_t whylen)
{
	int idx = -1;

	if (!strncmp(k, SERVICE_KEY_CHANNEL_LIMIT, strlen(SERVICE_KEY_CHANNEL_LIMIT)))
		return set_channel_limit(sv, k + strlen(SERVICE_KEY_CHANNEL_LIMIT), v, why, whylen);
	for (int i = 0; service_keys[i]; i++)
		if (!strcmp(service_keys[i], k))
			idx = i;
	if (idx < 0) {
		snprintf(why, whylen,
			 "unknown key '%.64s' (known: public_key, templates, channels, urgent, "
			 "rate, burst, daily_limit, daily_limit.CHANNEL, from, reply_to, sender, "
			 "retention_days, callback_url, callback_secret, callback_timeout, "
			 "callback_retry_max, callback_max_age, callback_ordered, "
			 "callback_concurrency, mode, guests)",
			 k);
		return -1;
	}
	if (*seen & (1u << idx)) {
		snprintf(why, whylen, "'%s' given twice", k);
		return -1;
	}
	*seen |= 1u << idx;
	if (!strcmp(k, "public_key")) {
		if (z85_key(v, sv->public_key) != 0) {
			snprintf(why, whylen,
				 "public_key: expected a Z85 CURVE key (40 characters)");
			return -1;
		}
		snprintf(sv->public_z85, sizeof(sv->public_z85), "%s", v);
		return 0;
	}
	if (!strcmp(k, "templates"))
		return split_list(v, sv->templates, &sv->ntemplates, why, whylen);
	if (!strcmp(k, "channels"))
		return split_list(v, sv->channels, &sv->nchannels, why, whylen);
	if (!strcmp(k, "urgent")) {
		if (parse_bool(v, &sv->urgent) == 0)
			return 0;
		snprintf(why, whylen, "urgent = '%.32s': expected yes or no", v);
		return -1;
	}
	if (!strcmp(k, "mode"))
		return set_mode(sv, v, why, whylen);
	if (!strcmp(k, "guests")) /* addresses and numbers: trial mode's */
		return split_list(v, sv->guests, &sv->nguests, why, whylen);
	if (idx >= 15) /* callback_timeout ... callback_concurrency */
		return set_callback_opt(sv, k, v, why, whylen);
	if (!strcmp(k, "rate") || !strcmp(k, "burst") || !strcmp(k, "daily_limit") ||
	    !strcmp(k, "retention_days"))
		return set_number(sv, k, v, why, whylen);
	return set_text(sv, k, v, why, whylen);
}

void service_clear(struct service *sv)
{
	free_list(sv->templates, &sv->ntemplates);
	free_list(sv->channels, &sv->nchannels);
	free_list(sv->guests, &sv->nguests);
	free_list(sv->limit_ch, &sv->nlimits);
	for (int i = 0; i < sv->nreply; i++) {
		free(sv->reply_ids[i]);
		free(sv->reply_addrs[i]);
	}
	sv->nreply = 0;
	free(sv->from);
	free(sv->reply_to);
	free(sv->sender);
	free(sv->callback_url);
	free(sv->callback_secret);
	memset(sv, 0, sizeof(*sv));
}

/* The callback keys together: a URL needs its secret (callbacks are always
 * signed); an ordered service sends one record at a time. */
static int callback_check(const struct service *sv, const char *path, char *err, size_t errlen)
{
	if (sv->callback_url && !sv->callback_secret) {
		snprintf(err, errlen,
			 "%s: callback_url is set but callback_secret is missing (callbacks are "
			 "always signed)",
			 path);
		return -1;
	}
	if (sv->cb_ordered != 0 && sv->cb_concurrency > 1) {
		snprintf(err, errlen,
			 "%s: callback_concurrency = %ld needs callback_ordered = no (an ordered "
			 "service gets one record at a time)",
			 path, sv->cb_concurrency);
		return -1;
	}
	return 0;
}

int service_parse_file(const char *path, const char *name, struct service *sv, char *err,
		       size_t errlen)
{
	FILE *f;
	char line[4096], why[512];
	struct stat st;
	unsigned seen = 0;
	int lineno = 0;

	memset(sv, 0, sizeof(*sv));
	sv->cb_timeout_ms = sv->cb_retry_max_ms = sv->cb_max_age_ms = sv->cb_concurrency = -1;
	sv->cb_ordered = -1;
	if (!service_name_valid(name)) {
		snprintf(err, errlen,
			 "%s: '%s' is not a service name (1-64 of a-z, 0-9, '-' and '_', "
			 "starting with a letter or digit)",
			 path, name);
		return -1;
	}
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH))
		sv->world_readable = 1;
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno,
				 sizeof(line) - 2);
			goto fail;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
			goto fail;
		}
		*eq = '\0';
		if (set_key(sv, trim(s), trim(eq + 1), &seen, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
	}
	fclose(f);
	f = NULL;
	if (!(seen & 1u)) {
		snprintf(err, errlen, "%s: no public_key (heraldctl keygen writes one)", path);
		goto fail;
	}
	if (callback_check(sv, path, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	if (f)
		fclose(f);
	service_clear(sv);
	return -1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct service *)a)->name, ((const struct service *)b)->name);
}

struct services *services_load(const char *dir, int *missing, char *err, size_t errlen)
{
	struct services *s = calloc(1, sizeof(*s));
	DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0;

	*missing = 0;
	if (!s || !(s->dir = strdup(dir))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT) {
			*missing = 1;
			return s;
		}
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char path[PATH_MAX], name[256];
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (s->n == cap) {
			struct service *nv = realloc(s->v, (cap ? cap * 2 : 8) * sizeof(*nv));
			if (!nv) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			s->v = nv;
			cap = cap ? cap * 2 : 8;
		}
		if (service_parse_file(path, name, &s->v[s->n], err, errlen) != 0)
			goto fail;
		s->n++;
	}
	closedir(d);
	d = NULL;
	if (s->n) /* qsort wants a base even for nothing */
		qsort(s->v, s->n, sizeof(*s->v), by_name);
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++)
			if (!memcmp(s->v[i].public_key, s->v[j].public_key, SERVICE_KEY_LEN)) {
				snprintf(err, errlen,
					 "%s: services '%s' and '%s' have the same public_key: a "
					 "key must be one service",
					 dir, s->v[i].name, s->v[j].name);
				goto fail;
			}
	return s;
fail:
	if (d)
		closedir(d);
	services_free(&s);
	return NULL;
}

void services_free(struct services **sp)
{
	struct services *s = *sp;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		service_clear(&s->v[i]);
	free(s->v);
	free(s->dir);
	free(s);
	*sp = NULL;
}

const struct service *services_by_key(const struct services *s,
				      const unsigned char key[SERVICE_KEY_LEN])
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!memcmp(s->v[i].public_key, key, SERVICE_KEY_LEN))
			return &s->v[i];
	return NULL;
}

const struct service *services_by_name(const struct services *s, const char *name)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static int matches(char *const *list, int n, const char *name)
{
	/* "*" (heraldctl keygen's skeleton) matches every name: no fnmatch */
	for (int i = 0; i < n; i++)
		if ((list[i][0] == '*' && list[i][1] == '\0') || fnmatch(list[i], name, 0) == 0)
			return 1;
	return 0;
}

int service_may_template(const struct service *sv, const char *name)
{
	return matches(sv->templates, sv->ntemplates, name);
}

int service_may_channel(const struct service *sv, const char *name)
{
	return matches(sv->channels, sv->nchannels, name);
}

const char *service_list(char *const *list, int n, char *buf, size_t buflen)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < buflen; i++) {
		int w = snprintf(buf + off, buflen - off, "%s%s", i ? ", " : "", list[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, buflen, "none");
	return buf;
}

int service_is_guest(const struct service *sv, const char *to)
{
	for (int i = 0; to && i < sv->nguests; i++)
		if (!strcasecmp(sv->guests[i], to))
			return 1;
	return 0;
}
