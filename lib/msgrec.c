/* msgrec.c - the packed fields of a message hash (see msgrec.h). */
#include "msgrec.h"
#include "schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One word: not empty, no space; "" becomes "-". */
static const char *word(const char *s)
{
	return s && *s ? s : "-";
}

static int has_space(const char *s)
{
	return strpbrk(s, " \t\r\n") != NULL;
}

int msgrec_meta_format(char *buf, size_t len, const struct msgrec_meta *m)
{
	const char *svc = word(m->service), *cit = word(m->citizen);
	int n;

	if (has_space(svc) || has_space(cit))
		return -1;
	n = snprintf(buf, len, "%lld %s %s", (long long)m->accepted_ms, svc, cit);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int msgrec_at_format(char *buf, size_t len, const struct msgrec_at *a)
{
	const char *ch = word(a->channel), *plan = word(a->plan);
	int n;

	if (has_space(ch) || has_space(plan) || a->plan_idx < 0)
		return -1;
	n = snprintf(buf, len, "%s %u %d %s %s", ch, a->attempt, a->plan_idx, plan, word(a->to));
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Copy the word at *s (up to a space or the end) to out; "-" gives "" when
 * dash_empty. Advances *s past it and one space. -1 if empty or too long. */
static int take_word(const char **s, char *out, size_t len, int dash_empty)
{
	const char *p = *s, *e = p;
	size_t n;

	while (*e && *e != ' ')
		e++;
	n = (size_t)(e - p);
	if (n == 0 || n >= len)
		return -1;
	if (dash_empty && n == 1 && *p == '-')
		n = 0;
	memcpy(out, p, n);
	out[n] = '\0';
	*s = *e ? e + 1 : e;
	return 0;
}

static int take_num(const char **s, long long lo, long long hi, long long *v)
{
	char *end;

	if (**s < '0' || **s > '9')
		return -1;
	errno = 0;
	*v = strtoll(*s, &end, 10);
	if (errno || *v < lo || *v > hi || (*end != ' ' && *end != '\0'))
		return -1;
	*s = *end ? end + 1 : end;
	return 0;
}

int msgrec_meta_parse(const char *s, struct msgrec_meta *out)
{
	long long v;

	memset(out, 0, sizeof(*out));
	if (!s || take_num(&s, 0, INT64_MAX, &v) != 0 ||
	    take_word(&s, out->service, sizeof(out->service), 0) != 0 ||
	    take_word(&s, out->citizen, sizeof(out->citizen), 0) != 0 || *s) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->accepted_ms = v;
	return 0;
}

int msgrec_at_parse(const char *s, struct msgrec_at *out)
{
	long long att, idx;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s || take_word(&s, out->channel, sizeof(out->channel), 1) != 0 ||
	    take_num(&s, 0, 1000000, &att) != 0 || take_num(&s, 0, 1000, &idx) != 0 ||
	    take_word(&s, out->plan, sizeof(out->plan), 1) != 0)
		goto bad;
	n = strlen(s); /* the rest is the address, spaces and all */
	if (n == 0 || n >= sizeof(out->to))
		goto bad;
	memcpy(out->to, s, n + 1);
	out->attempt = (unsigned)att;
	out->plan_idx = (int)idx;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

static void copy(char *out, size_t len, const char *s)
{
	snprintf(out, len, "%s", s ? s : "");
}

int msgrec_read_meta(const char *(*get)(const char *name, void *arg), void *arg,
		     struct msgrec_meta *out)
{
	const char *v;

	if (msgrec_meta_parse(get(MSG_F_META, arg), out) == 0)
		return 1;
	v = get(MSG_F_OLD_ACCEPTED, arg);
	out->accepted_ms = v ? strtoll(v, NULL, 10) : 0;
	copy(out->service, sizeof(out->service), get(MSG_F_OLD_SERVICE, arg));
	copy(out->citizen, sizeof(out->citizen), get(MSG_F_OLD_CITIZEN, arg));
	return v || out->service[0] || out->citizen[0];
}

int msgrec_read_at(const char *(*get)(const char *name, void *arg), void *arg,
		   struct msgrec_at *out)
{
	const char *att, *idx;

	if (msgrec_at_parse(get(MSG_F_AT, arg), out) == 0)
		return 1;
	att = get(MSG_F_OLD_ATTEMPT, arg);
	idx = get(MSG_F_OLD_PLAN_IDX, arg);
	out->attempt = att ? (unsigned)strtoul(att, NULL, 10) : 0;
	out->plan_idx = idx ? atoi(idx) : 0;
	copy(out->channel, sizeof(out->channel), get(MSG_F_OLD_CHANNEL, arg));
	copy(out->plan, sizeof(out->plan), get(MSG_F_OLD_PLAN, arg));
	copy(out->to, sizeof(out->to), get(MSG_F_OLD_TO, arg));
	return att || idx || out->channel[0] || out->plan[0] || out->to[0];
}
