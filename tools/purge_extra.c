/*
 * purge_extra.c - heraldctl purge outside Redis, and its record:
 *
 *   the file channel's output ([channel.file] path, default
 *   /var/spool/herald/file.jsonl): the citizen's lines go; the file is
 *   rewritten in place under flock, which the file channel's writer takes
 *   for each batch, so no line it appends meanwhile is lost;
 *   the print spool ([channel.print] dir): each letter whose manifest
 *   (<stem>.json) names the citizen loses its PDF, then its manifest;
 *   the deletion record on herald:purges: {"ts","by","citizen_hmac",
 *   "deleted":{counts}}. citizen_hmac is HMAC-SHA256 of "purge:" + the id
 *   under the install's secret ([herald] secret_file, else herald:secret):
 *   who holds the secret and the id can show it was purged; the record
 *   alone names no one. Without a secret the field is "" (said so).
 */
#include "purge_extra.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "ctl_redis.h"
#include "provref.h"
#include "schema.h"
#include "text.h"

#define FILE_DEFAULT "/var/spool/herald/file.jsonl"

/* The line (no newline) is a JSON object whose citizen_id is citizen. */
static int line_is_citizen(const char *s, size_t n, const char *citizen)
{
	json_t *j = json_loadb(s, n, 0, NULL);
	const char *v = json_string_value(json_object_get(j, "citizen_id"));
	int is = v && !strcmp(v, citizen);

	json_decref(j);
	return is;
}

static int read_all(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t r;

	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(b, chunk, (size_t)r);
	return r < 0 || b->oom ? -1 : 0;
}

/* Keep the lines of in that are not the citizen's; how many went. */
static size_t filter_lines(const struct buf *in, struct buf *out, const char *citizen)
{
	size_t gone = 0, i = 0;

	while (i < in->len) {
		const char *s = in->data + i, *nl = memchr(s, '\n', in->len - i);
		size_t n = nl ? (size_t)(nl - s) : in->len - i;
		if (line_is_citizen(s, n, citizen))
			gone++;
		else
			buf_add(out, s, n + (nl != NULL));
		i += n + (nl != NULL);
	}
	return gone;
}

static int rewrite(int fd, const struct buf *b)
{
	if (ftruncate(fd, 0) != 0)
		return -1;
	for (size_t off = 0; off < b->len;) {
		ssize_t w = pwrite(fd, b->data + off, b->len - off, (off_t)off);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return fsync(fd);
}

int purge_file_lines(const struct ctl *c, const char *citizen, int yes, size_t *n)
{
	const char *path = c->conf ? conf_get(c->conf, "channel.file", "path") : NULL;
	struct buf in = {0}, out = {0};
	int fd, rc = -1;

	*n = 0;
	if (!path || !*path)
		path = FILE_DEFAULT;
	fd = open(path, (yes ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
			   ? 0
			   : (fprintf(stderr, "heraldctl purge: %s: %s\n", path, strerror(errno)),
			      -1);
	if (flock(fd, LOCK_EX) != 0 || read_all(fd, &in) != 0)
		goto out;
	*n = filter_lines(&in, &out, citizen);
	if (out.oom)
		goto out;
	rc = yes && *n ? rewrite(fd, &out) : 0;
out:
	if (rc != 0)
		fprintf(stderr, "heraldctl purge: %s: %s\n", path, strerror(errno ? errno : EIO));
	buf_free(&in);
	buf_free(&out);
	close(fd); /* drops the lock */
	return rc;
}

/* dir/name (a manifest) names the citizen: the PDF it names in *pdf. */
static int manifest_is_citizen(const char *dir, const char *name, const char *citizen, char *pdf,
			       size_t pdflen)
{
	char path[4096];
	json_t *j;
	const char *v, *f;
	int is;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	j = json_load_file(path, 0, NULL);
	v = json_string_value(json_object_get(j, "citizen_id"));
	f = json_string_value(json_object_get(j, "file"));
	is = v && !strcmp(v, citizen);
	snprintf(pdf, pdflen, "%s", f && !strchr(f, '/') && f[0] != '.' ? f : "");
	json_decref(j);
	return is;
}

static int unlink_in(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		fprintf(stderr, "heraldctl purge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int purge_spool(const struct ctl *c, const char *citizen, int yes, size_t *n)
{
	const char *dir = c->conf ? conf_get(c->conf, "channel.print", "dir") : NULL;
	struct dirent *e;
	char pdf[256];
	DIR *d;
	int rc = 0;

	*n = 0;
	if (!dir || !*dir || !(d = opendir(dir)))
		return 0; /* no spool: nothing of the citizen in it */
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 ||
		    !manifest_is_citizen(dir, e->d_name, citizen, pdf, sizeof(pdf)))
			continue;
		(*n)++;
		if (yes && ((pdf[0] && unlink_in(dir, pdf) != 0) || unlink_in(dir, e->d_name) != 0))
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* The install's secret: [herald] secret_file (read, never created), else
 * herald:secret. 0, or -1 when there is none. */
static int install_secret(const struct ctl *c, redisContext *rc, unsigned char key[])
{
	const char *path = c->conf ? conf_get(c->conf, "herald", "secret_file") : NULL;
	char hex[256] = "";
	redisReply *r;
	FILE *fp;

	if (path && (fp = fopen(path, "r")) != NULL) {
		if (!fgets(hex, sizeof(hex), fp))
			hex[0] = '\0';
		fclose(fp);
		return provref_secret_parse(hex, key);
	}
	r = redisCommand(rc, "GET " KEY_SECRET);
	if (r && r->type == REDIS_REPLY_STRING)
		snprintf(hex, sizeof(hex), "%s", r->str);
	freeReplyObject(r);
	return hex[0] ? provref_secret_parse(hex, key) : -1;
}

static void citizen_hmac(const unsigned char key[], const char *citizen, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char msg[512];

	snprintf(msg, sizeof(msg), "purge:%s", citizen);
	HMAC(EVP_sha256(), key, PROVREF_KEY_LEN, (const unsigned char *)msg, strlen(msg), md,
	     &mdlen);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char *operator_name(void)
{
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s && *s)
		return s;
	pw = getpwuid(getuid());
	return pw ? pw->pw_name : "?";
}

int purge_record_write(const struct ctl *c, redisContext *rc, const char *citizen, json_t *deleted)
{
	unsigned char key[PROVREF_KEY_LEN];
	char ts[40], mac[65] = "";
	json_t *rec;
	char *s;
	redisReply *r;

	rfc3339_format(now_ms(), ts, sizeof(ts));
	if (install_secret(c, rc, key) == 0)
		citizen_hmac(key, citizen, mac);
	else
		fprintf(stderr, "heraldctl purge: no install secret: the deletion record "
				"carries no citizen_hmac\n");
	rec = json_pack("{s:s, s:s, s:s, s:O}", "ts", ts, "by", operator_name(), "citizen_hmac",
			mac, "deleted", deleted);
	s = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(rec);
	if (!s)
		return -1;
	r = ctl_redis_cmd(rc, "purge", "LPUSH " KEY_PURGES " %s", s);
	free(s);
	freeReplyObject(r);
	return r ? 0 : -1;
}

/* One record as a line: "<ts> by <who>: citizen <hmac>: deleted k=n, ..." */
static void show_one(const json_t *rec)
{
	json_t *d = json_object_get(rec, "deleted"), *v;
	const char *k, *sep = "";

	printf("%s by %s: citizen %s: deleted ", json_string_value(json_object_get(rec, "ts")),
	       json_string_value(json_object_get(rec, "by")),
	       json_string_value(json_object_get(rec, "citizen_hmac")));
	json_object_foreach(d, k, v)
	{
		printf("%s%s=%lld", sep, k, (long long)json_integer_value(v));
		sep = ", ";
	}
	printf("\n");
}

int purge_record_show(const struct ctl *c, redisContext *rc, const char *citizen)
{
	unsigned char key[PROVREF_KEY_LEN];
	char mac[65] = "";
	redisReply *r = ctl_redis_cmd(rc, "purge", "LRANGE " KEY_PURGES " 0 -1");
	size_t shown = 0;

	if (!r)
		return 2;
	if (citizen && install_secret(c, rc, key) == 0)
		citizen_hmac(key, citizen, mac);
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		json_t *rec = json_loads(r->element[i]->str, 0, NULL);
		const char *m = json_string_value(json_object_get(rec, "citizen_hmac"));
		if (rec && (!citizen || (mac[0] && m && !strcmp(m, mac)))) {
			show_one(rec);
			shown++;
		}
		json_decref(rec);
	}
	if (!shown)
		printf("no deletion records%s\n", citizen ? " for this citizen" : "");
	freeReplyObject(r);
	return 0;
}
