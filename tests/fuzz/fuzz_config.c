/*
 * fuzz_config.c - libFuzzer target for the config reader (util/conf.c over
 * inih) and the strict number parsers every config value goes through
 * (util/num.c): the input is written to a file and loaded, every value is
 * read back and parsed as an integer, a port and a duration.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "num.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

static void each(const char *section, const char *key, const char *value, void *arg)
{
	const struct conf *c = arg;
	char err[128];
	long long ll;
	int port;
	int64_t ms;

	if (!value || conf_get(c, section, key) == NULL)
		abort();
	num_parse_ll(value, -1000, 1000000, &ll, err, sizeof(err));
	num_parse_port(value, &port, err, sizeof(err));
	num_parse_duration(value, 1000, 0, 86400000LL * 365, &ms, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static char path[64];
	struct conf *c;
	char err[256];
	FILE *fp;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/herald-fuzz-conf.%d", (int)getpid());
	fp = fopen(path, "wb");
	if (!fp)
		return 0;
	fwrite(buf, 1, len, fp);
	fclose(fp);
	c = conf_load(path, err, (int)sizeof(err));
	if (c) {
		conf_each(c, "", each, c);
		conf_free(&c);
	}
	unlink(path);
	return 0;
}
