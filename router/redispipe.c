/*
 * redispipe.c - "a pipeline in a script" (issue #15): under appendfsync
 * always, a large send's runs of plain write commands go out as one
 * FCALL herald_pipe each (router/scripts.c), their commands packed as a
 * msgpack array of arrays of strings in the call's one argument.
 *
 * Why: Redis reads a client's input 16 KiB (PROTO_IOBUF_LEN) at a time,
 * one read per client per event-loop iteration, and under always fsyncs
 * once per iteration: a 100 KiB plain pipeline costs Redis ~7 iterations
 * and fsyncs. A bulk argument of 32 KiB or more (PROTO_MBULK_BIG_ARG) is
 * read whole in one read instead, so the run is executed, and fsynced,
 * in one iteration. The script runs each command with redis.pcall: one's
 * error does not stop the others, exactly as in a pipeline; and it is
 * atomic: the batch is run whole or rejected whole (redis.c gives the
 * error of a rejected call to each command's callback).
 *
 * The commands are repacked from hiredis's output buffer when the send
 * goes out (rdb_send), so callers queue as before and the order on the
 * wire stays: a plain command before a run, the run's FCALL, the plain
 * commands after it.
 */
#include "redis_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics.h"

/* Write commands the state steps queue (heldwrite.c, state.c, msgstate.c,
 * outcome.c, ...) that a script may run as they are: no noscript or
 * blocking command, no FCALL (scripts do not nest), no read whose reply
 * would only cost a conversion through Lua. */
static const char *const scriptable[] = {"HSET",    "HDEL", "RPUSH", "LPUSH", "EXPIRE",
					 "PEXPIRE", "XACK", "XDEL",  "ZADD",  "ZREM",
					 "SET",	    "SADD", "SREM"};
/* Lua's unpack() of a command's arguments is bounded by its C stack
 * (LUAI_MAXCSTACK 8000): a longer command (a huge XACK) goes out plain. */
#define PIPE_MAX_ARGS 1000
/* A run shorter than this is left plain: nothing to gain from a script.
 * So is one whose packed size is under [redis] script_batch (db->pipe_bytes,
 * RDB_PIPE_BYTES: Redis's PROTO_MBULK_BIG_ARG, under which the argument is
 * read 16 KiB an iteration like any pipeline, and the script would only
 * add Lua's cost). */
#define PIPE_MIN_RUN 2

struct pcmd {
	size_t off, len; /* the command's bytes in the output buffer */
	size_t packed;	 /* its length in msgpack */
	int ok;		 /* may go into a batch */
};

/* Length of a msgpack array or string header for n. */
static size_t mp_head_len(size_t n, size_t fixmax, int has8)
{
	return n <= fixmax ? 1 : has8 && n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

/* "<c><digits>\r\n" at *pp (before end): the number, *pp past it. -1 if
 * malformed. */
static long long get_len(const char **pp, const char *end, char c)
{
	const char *p = *pp;
	long long v = 0;

	if (p >= end || *p++ != c)
		return -1;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9' && v < (1LL << 40))
		v = v * 10 + (*p++ - '0');
	if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return -1;
	*pp = p + 2;
	return v;
}

/* One bulk string at *pp: its bytes and length, *pp past it. */
static const char *get_bulk(const char **pp, const char *end, size_t *len)
{
	long long n = get_len(pp, end, '$');
	const char *s = *pp;

	if (n < 0 || end - s < n + 2)
		return NULL;
	*len = (size_t)n;
	*pp = s + n + 2;
	return s;
}

static int is_scriptable(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(scriptable) / sizeof(*scriptable); i++)
		if (strlen(scriptable[i]) == len && !strncasecmp(scriptable[i], name, len))
			return 1;
	return 0;
}

/* The commands in buf, into db->pcmd. Their number, or -1 if the buffer
 * is not whole commands (then nothing is repacked). */
static long parse_cmds(struct rdb *db, const char *buf, size_t blen)
{
	const char *p = buf, *end = buf + blen;
	size_t n = 0;

	while (p < end) {
		const char *start = p, *name = NULL;
		long long argc = get_len(&p, end, '*');
		size_t len = 0, packed;
		if (argc < 1)
			return -1;
		packed = mp_head_len((size_t)argc, 15, 0);
		for (long long a = 0; a < argc; a++) {
			const char *s = get_bulk(&p, end, &len);
			if (!s)
				return -1;
			packed += mp_head_len(len, 31, 1) + len;
			if (a == 0)
				name = s;
			if (a == 0 && !is_scriptable(s, len))
				name = NULL;
		}
		if (n == db->pcmd_cap) {
			size_t cap = db->pcmd_cap ? db->pcmd_cap * 2 : 256;
			struct pcmd *c = realloc(db->pcmd, cap * sizeof(*c));
			if (!c)
				return -1;
			db->pcmd = c;
			db->pcmd_cap = cap;
		}
		db->pcmd[n].off = (size_t)(start - buf);
		db->pcmd[n].len = (size_t)(p - start);
		db->pcmd[n].packed = packed;
		db->pcmd[n].ok = name != NULL && argc <= PIPE_MAX_ARGS;
		n++;
	}
	return (long)n;
}

static int grow(char **b, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 65536;
	char *nb;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(nb = realloc(*b, c)))
		return -1;
	*b = nb;
	*cap = c;
	return 0;
}

/* A msgpack header: fixed form, else tag8/16/32 + big-endian length.
 * Returns its length. */
static size_t mp_head(unsigned char *p, size_t n, unsigned fix, size_t fixmax, int t8, unsigned t16)
{
	if (n <= fixmax) {
		p[0] = (unsigned char)(fix | n);
		return 1;
	}
	if (t8 && n <= 0xff) {
		p[0] = (unsigned char)t8;
		p[1] = (unsigned char)n;
		return 2;
	}
	if (n <= 0xffff) {
		p[0] = (unsigned char)t16;
		p[1] = (unsigned char)(n >> 8);
		p[2] = (unsigned char)n;
		return 3;
	}
	p[0] = (unsigned char)(t16 + 1);
	for (int i = 0; i < 4; i++)
		p[1 + i] = (unsigned char)(n >> (24 - 8 * i));
	return 5;
}

#define MP_ARRAY(p, n) mp_head(p, n, 0x90, 15, 0, 0xdc)
#define MP_STR(p, n) mp_head(p, n, 0xa0, 31, 0xd9, 0xda)

/* One command (RESP at s, whole) as a msgpack array at the end of
 * db->pipebuf. -1 out of memory. */
static int pack_cmd(struct rdb *db, const char *s, size_t len, size_t *at)
{
	const char *p = s, *end = s + len;
	long long argc = get_len(&p, end, '*');
	unsigned char *o;

	/* msgpack is never longer than RESP: 5 header bytes vs at least 6 */
	if (grow(&db->pipebuf, &db->pipebuf_cap, *at + len + 5) != 0)
		return -1;
	o = (unsigned char *)db->pipebuf + *at;
	o += MP_ARRAY(o, (size_t)argc);
	for (long long a = 0; a < argc; a++) {
		size_t alen = 0;
		const char *arg = get_bulk(&p, end, &alen);
		o += MP_STR(o, alen);
		memcpy(o, arg, alen);
		o += alen;
	}
	*at = (size_t)((char *)o - db->pipebuf);
	return 0;
}

/* Append "<c><n>\r\n" + what at the end of db->pipeout. */
static int out_put(struct rdb *db, size_t *at, const char *what, size_t len)
{
	if (grow(&db->pipeout, &db->pipeout_cap, *at + len) != 0)
		return -1;
	memcpy(db->pipeout + *at, what, len);
	*at += len;
	return 0;
}

/* The run of commands [i, j) of buf as one FCALL herald_pipe 0 <blob>. */
static int out_batch(struct rdb *db, const char *buf, size_t i, size_t j, size_t *at)
{
	static const char head[] = "*4\r\n$5\r\nFCALL\r\n$11\r\nherald_pipe\r\n$1\r\n0\r\n";
	size_t b = 5; /* room for the outer array's header */
	unsigned char h[5];
	size_t hl = MP_ARRAY(h, j - i);
	char num[32];
	int nl;

	for (size_t c = i; c < j; c++)
		if (pack_cmd(db, buf + db->pcmd[c].off, db->pcmd[c].len, &b) != 0)
			return -1;
	memcpy(db->pipebuf + 5 - hl, h, hl);
	nl = snprintf(num, sizeof(num), "$%zu\r\n", b - 5 + hl);
	if (out_put(db, at, head, sizeof(head) - 1) || out_put(db, at, num, (size_t)nl) ||
	    out_put(db, at, db->pipebuf + 5 - hl, b - 5 + hl) || out_put(db, at, "\r\n", 2))
		return -1;
	return 0;
}

int rdb_pipe_pack(struct rdb *db)
{
	const char *buf = db->ctx->obuf;
	size_t blen = sdslen(db->ctx->obuf), at = 0, base, batches = 0, cmds = 0;
	long m = parse_cmds(db, buf, blen);
	sds nb;

	/* obuf holds the last m commands queued (a blocking read may have
	 * written the ones before) */
	if (m <= 0 || (size_t)m > db->n - db->sent)
		return 0;
	base = db->n - (size_t)m;
	for (size_t i = 0; i < (size_t)m;) {
		size_t j = i, packed = 0;
		while (j < (size_t)m && db->pcmd[j].ok)
			packed += db->pcmd[j++].packed;
		if (j - i >= PIPE_MIN_RUN && packed >= db->pipe_bytes) {
			if (out_batch(db, buf, i, j, &at) != 0)
				goto fail;
			db->q[base + i].batch = j - i;
			batches++;
			cmds += j - i;
			i = j;
			continue;
		}
		if (j == i)
			j++;
		if (out_put(db, &at, buf + db->pcmd[i].off,
			    db->pcmd[j - 1].off + db->pcmd[j - 1].len - db->pcmd[i].off) != 0)
			goto fail;
		i = j;
	}
	if (!batches)
		return 0;
	if (!(nb = sdsnewlen(db->pipeout, at)))
		goto fail;
	sdsfree(db->ctx->obuf);
	db->ctx->obuf = nb;
	metrics_redis_pipe(batches, cmds);
	return (int)batches;
fail: /* out of memory: everything goes out plain */
	for (size_t i = 0; i < (size_t)m; i++)
		db->q[base + i].batch = 0;
	return -1;
}
