/* tz.c - a small reader of TZif files (RFC 8536): version 1 data for
 * 32-bit times, or the version 2+ 64-bit block when present. */
#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tz_dir = "/usr/share/zoneinfo";

void tz_set_dir(const char *dir)
{
	tz_dir = dir;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* A zone name is a relative path of letters, digits, '_', '-', '+', '/',
 * never "..": it goes into a file name. */
static int zone_ok(const char *z)
{
	if (!*z || *z == '/' || strstr(z, "..") || strlen(z) > 64)
		return 0;
	for (; *z; z++)
		if (!((*z >= 'A' && *z <= 'Z') || (*z >= 'a' && *z <= 'z') ||
		      (*z >= '0' && *z <= '9') || *z == '_' || *z == '-' || *z == '+' || *z == '/'))
			return 0;
	return 1;
}

struct hdr {
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_hdr(const unsigned char *p, size_t len, struct hdr *h)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 100000)
		return -1;
	return 0;
}

static size_t block_len(const struct hdr *h, size_t tsize)
{
	return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
	       h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

int tz_offset(const char *zone, int64_t t, int32_t *offset)
{
	char path[512];
	unsigned char *buf = NULL;
	size_t len = 0, tsize = 4, cap = 0;
	const unsigned char *p, *times, *idx, *types;
	struct hdr h;
	FILE *fp;
	int rc = -1, type = 0;

	if (!strcmp(zone, "UTC") || !strcmp(zone, "Etc/UTC")) {
		*offset = 0;
		return 0;
	}
	if (!zone_ok(zone))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", tz_dir, zone);
	fp = fopen(path, "rb");
	if (!fp)
		return -1;
	for (;;) {
		if (len == cap) {
			unsigned char *n;
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 20) || !(n = realloc(buf, cap)))
				goto out;
			buf = n;
		}
		size_t got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	p = buf;
	if (read_hdr(p, len, &h) != 0)
		goto out;
	if (p[4] >= '2') {
		/* skip the v1 block; use the 64-bit one */
		size_t skip = 44 + block_len(&h, 4);
		if (skip >= len || read_hdr(p + skip, len - skip, &h) != 0)
			goto out;
		p += skip;
		len -= skip;
		tsize = 8;
	}
	if (44 + block_len(&h, tsize) > len)
		goto out;
	times = p + 44;
	idx = times + h.timecnt * tsize;
	types = idx + h.timecnt;
	/* Before the first transition: the first type (RFC 8536 3.2). */
	for (uint32_t i = 0; i < h.timecnt; i++) {
		int64_t tt = tsize == 8 ? be64(times + i * 8) : (int32_t)be32(times + i * 4);
		if (tt > t)
			break;
		type = idx[i];
	}
	if ((uint32_t)type >= h.typecnt)
		goto out;
	*offset = (int32_t)be32(types + type * 6);
	rc = 0;
out:
	free(buf);
	fclose(fp);
	return rc;
}

static int parse_hhmm(const char *s, int *min)
{
	int h, m;

	if (strlen(s) < 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m))
		return -1;
	*min = h * 60 + m;
	return 0;
}

int quiet_hours_check(const char *spec, int local_min, int *mins_left)
{
	int from, to;

	while (*spec == ' ')
		spec++;
	if (strlen(spec) < 11 || spec[5] != '-' || parse_hhmm(spec, &from) ||
	    parse_hhmm(spec + 6, &to))
		return -1;
	for (const char *e = spec + 11; *e; e++)
		if (*e != ' ')
			return -1;
	if (from == to)
		return 0; /* an empty window */
	if (from < to) {
		if (local_min >= from && local_min < to) {
			*mins_left = to - local_min;
			return 1;
		}
		return 0;
	}
	/* wraps midnight: 21:00-08:00 */
	if (local_min >= from) {
		*mins_left = 24 * 60 - local_min + to;
		return 1;
	}
	if (local_min < to) {
		*mins_left = to - local_min;
		return 1;
	}
	return 0;
}
