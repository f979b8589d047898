/*
 * letterdump.c - render one letter from a JSON description to a PDF, or time
 * the renderer. Used by tests/integration/t_letter.sh and the letters
 * benchmark.
 *
 *   letterdump IN.json OUT.pdf          render once; prints {"pages":N,"bytes":N}
 *   letterdump -n COUNT [-t MAX_S] IN.json
 *                                       render COUNT times in memory (stop at
 *                                       MAX_S seconds); prints
 *                                       {"letters":N,"seconds":S,"letters_per_s":R}
 *
 * IN.json: {"name","address" (string with '\n' or array of lines),"sender",
 * "locale","reference","subject","body","large_print":bool,
 * "date":"YYYY-MM-DD","font"}. Exit 0 on success, 1 on render error, 2 on
 * usage or input errors.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "letter.h"

static const char *js(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Under LeakSanitizer: fontconfig's own one-off allocations are no leak of
 * ours (see tests/integration/paper_lsan.supp, which says the same). */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\n";
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long count = 0;
	double max_s = 30;
	int opt, rc = 2, pages = 0;
	json_t *in = NULL, *addr;
	json_error_t je;
	struct letter l = {0};
	char err[256], *joined = NULL;
	const char *date;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		switch (opt) {
		case 'n': count = atol(optarg); break;
		case 't': max_s = atof(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind < (count > 0 ? 1 : 2))
		goto usage;
	in = strcmp(argv[optind], "-") == 0 ? json_loadf(stdin, 0, &je)
					    : json_load_file(argv[optind], 0, &je);
	if (!json_is_object(in)) {
		fprintf(stderr, "letterdump: %s: %s\n", argv[optind],
			in ? "not an object" : je.text);
		goto out;
	}
	addr = json_object_get(in, "address");
	if (json_is_array(addr)) {
		size_t i, total = 1;
		json_t *v;
		json_array_foreach(addr, i, v) total +=
		    strlen(json_string_value(v) ? json_string_value(v) : "") + 1;
		joined = calloc(1, total);
		if (!joined)
			goto out;
		json_array_foreach(addr, i, v)
		{
			if (i)
				strcat(joined, "\n");
			strcat(joined, json_string_value(v) ? json_string_value(v) : "");
		}
		l.address = joined;
	} else {
		l.address = json_string_value(addr);
	}
	l.name = js(in, "name");
	l.sender = js(in, "sender");
	l.locale = js(in, "locale");
	l.reference = js(in, "reference");
	l.subject = js(in, "subject");
	l.body = js(in, "body");
	l.font = js(in, "font");
	l.large_print = json_is_true(json_object_get(in, "large_print"));
	date = js(in, "date");
	if (date) {
		struct tm tm = {0};
		if (sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
			fprintf(stderr, "letterdump: date must be YYYY-MM-DD\n");
			goto out;
		}
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		tm.tm_hour = 12;
		tm.tm_isdst = -1;
		l.date = mktime(&tm);
	}
	if (count > 0) {
		double t0 = now_s(), dt;
		long done = 0;
		while (done < count && now_s() - t0 < max_s) {
			unsigned char *pdf;
			size_t len;
			if (letter_render_mem(&l, &pdf, &len, &pages, err, sizeof(err)) != 0) {
				fprintf(stderr, "letterdump: %s\n", err);
				rc = 1;
				goto out;
			}
			free(pdf);
			done++;
		}
		dt = now_s() - t0;
		printf("{\"letters\":%ld,\"pages\":%d,\"seconds\":%.3f,\"letters_per_s\":%.1f}\n",
		       done, pages, dt, dt > 0 ? (double)done / dt : 0.0);
		rc = 0;
		goto out;
	}
	if (letter_render_file(&l, argv[optind + 1], &pages, err, sizeof(err)) != 0) {
		fprintf(stderr, "letterdump: %s\n", err);
		rc = 1;
		goto out;
	}
	printf("{\"pages\":%d}\n", pages);
	rc = 0;
out:
	free(joined);
	json_decref(in);
	letter_process_cleanup();
	return rc;
usage:
	fprintf(stderr,
		"usage: letterdump IN.json OUT.pdf | letterdump -n COUNT [-t MAX_S] IN.json\n");
	return 2;
}
