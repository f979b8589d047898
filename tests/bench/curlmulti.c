/*
 * curlmulti.c - the ceiling for the SMS benchmark: a plain libcurl multi
 * loop on one thread POSTing N requests, at most C at a time, with nothing
 * else to do (no queues, no threads, no request building beyond one fixed
 * body). The sms plugin does the same work plus everything a channel needs.
 *
 *   curlmulti -n N -c C [-b BODY] URL
 *
 * Prints "curlmulti: N requests in S s = R/s (E errors)"; exit 1 on errors.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double cm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t cm_discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p, (void)arg;
	return size * nmemb;
}

static CURL *cm_easy(const char *url, const char *body, struct curl_slist *hdrs)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cm_discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	return e;
}

int main(int argc, char **argv)
{
	const char *body = "{\"to\":\"+447700900123\",\"text\":\"hello\"}";
	long n = 1000, c = 32, started = 0, done = 0, errors = 0;
	struct curl_slist *hdrs = NULL;
	CURLM *m;
	CURL **idle;
	size_t nidle = 0;
	double t0, dt;
	int opt;

	while ((opt = getopt(argc, argv, "n:c:b:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'c': c = atol(optarg); break;
		case 'b': body = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || n < 1 || c < 1)
		goto usage;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	idle = calloc((size_t)c, sizeof(*idle));
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (!m || !idle || !hdrs)
		return 1;
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, c);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, c);
	t0 = cm_now();
	while (done < n) {
		CURLMsg *msg;
		int running, left;

		while (started < n && started - done < c) {
			CURL *e = nidle ? idle[--nidle] : cm_easy(argv[optind], body, hdrs);
			if (!e || curl_multi_add_handle(m, e) != CURLM_OK)
				return 1;
			started++;
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			long code = 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code < 200 || code >= 300)
				errors++;
			curl_multi_remove_handle(m, msg->easy_handle);
			idle[nidle++] = msg->easy_handle; /* same options: reuse as is */
			done++;
		}
		if (done >= n)
			break;
		if (started < n && started - done < c)
			continue;
		curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	dt = cm_now() - t0;
	printf("curlmulti: %ld requests in %.3f s = %.1f/s (%ld errors)\n", done, dt,
	       dt > 0 ? (double)done / dt : 0.0, errors);
	for (size_t i = 0; i < nidle; i++)
		curl_easy_cleanup(idle[i]);
	free(idle);
	curl_slist_free_all(hdrs);
	curl_multi_cleanup(m);
	curl_global_cleanup();
	return errors ? 1 : 0;
usage:
	fprintf(stderr, "usage: curlmulti -n N -c C [-b BODY] URL\n");
	return 2;
}
