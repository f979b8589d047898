/*
 * cbpush.c - drive the status callbacks (router/callback.c) without heraldd:
 * load a heraldd config, start the callbacks, push every line of stdin (one
 * JSON record each) to each SERVICE (into its Redis stream, through a
 * router-style pipeline to the config's [redis]), wait until the services to
 * wait for have nothing pending, then stop. Used by
 * tests/integration/t_callback.sh.
 *
 *   cbpush -c CONF [-t TIMEOUT_S] [-w SERVICE]... SERVICE...
 *
 * -w names the services to wait for (default: every SERVICE); the others get
 * only the second callbacks_stop() grants. Prints "cbpush: NAME drained in
 * S s" per waited service, then "cbpush: done" or "cbpush: timeout: NAME N
 * pending". Exit 0 when every waited service drained, 1 on timeout, 2 on a
 * usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callback.h"
#include "callback_internal.h"
#include "config.h"
#include "log.h"
#include "redis.h"
#include "text.h"

#define CBPUSH_MAX 16

static int usage(void)
{
	fprintf(stderr, "usage: cbpush -c CONF [-t TIMEOUT_S] [-w SERVICE]... SERVICE...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *wait[CBPUSH_MAX];
	int nwait = 0, timeout_s = 30, opt, rc = 1;
	int64_t drained[CBPUSH_MAX] = {0};
	char err[512], *line = NULL;
	size_t cap = 0, nlines = 0;
	struct config *cfg;
	struct callbacks *cb;
	struct rdb *db;
	int64_t t0, now;
	ssize_t n;

	while ((opt = getopt(argc, argv, "c:t:w:")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 't': timeout_s = atoi(optarg); break;
		case 'w':
			if (nwait == CBPUSH_MAX)
				return usage();
			wait[nwait++] = optarg;
			break;
		default: return usage();
		}
	}
	if (!conf || optind >= argc)
		return usage();
	if (!nwait)
		for (int i = optind; i < argc && nwait < CBPUSH_MAX; i++)
			wait[nwait++] = argv[i];
	log_init("cbpush", LOG_L_INFO);

	cfg = config_load(conf, err, (int)sizeof(err));
	if (!cfg) {
		fprintf(stderr, "cbpush: %s\n", err);
		return 2;
	}
	db = rdb_new(cfg->redis_host, cfg->redis_port, cfg->redis_socket, cfg->redis_password,
		     cfg->redis_db);
	if (!db || rdb_connect(db) != 0) {
		fprintf(stderr, "cbpush: cannot connect to Redis: %s\n", db ? rdb_err(db) : "");
		rdb_free(&db);
		config_free(&cfg);
		return 2;
	}
	cb = callbacks_start(cfg, err, sizeof(err));
	if (!cb) {
		fprintf(stderr, "cbpush: %s\n", err);
		rdb_free(&db);
		config_free(&cfg);
		return 2;
	}

	t0 = mono_ms();
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (!n)
			continue;
		for (int i = optind; i < argc; i++)
			callbacks_push(cb, db, argv[i], line);
		if (++nlines % 1000 == 0)
			rdb_flush(db);
	}
	rdb_flush(db);
	free(line);
	fprintf(stderr, "cbpush: %zu records pushed\n", nlines);

	for (;;) {
		int left = 0;

		now = mono_ms();
		for (int i = 0; i < nwait; i++) {
			if (drained[i])
				continue;
			if (callbacks_pending(cb, db, wait[i]) == 0) {
				drained[i] = now;
				printf("cbpush: %s drained in %.3f s\n", wait[i],
				       (double)(now - t0) / 1000.0);
				fflush(stdout);
			} else {
				left++;
			}
		}
		if (!left) {
			printf("cbpush: done\n");
			rc = 0;
			break;
		}
		if (now - t0 > (int64_t)timeout_s * 1000) {
			for (int i = 0; i < nwait; i++)
				if (!drained[i])
					printf("cbpush: timeout: %s %zu pending\n", wait[i],
					       callbacks_pending(cb, db, wait[i]));
			break;
		}
		usleep(5000);
	}
	callbacks_stop(&cb);
	rdb_free(&db);
	config_free(&cfg);
	return rc;
}
