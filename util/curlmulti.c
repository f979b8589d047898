/* curlmulti.c - the libcurl multi driver (see curlmulti.h). */
#include "curlmulti.h"

#include <stdlib.h>

struct cmulti {
	CURLM *multi;
	unsigned in_flight, max_in_flight;
	struct cmulti_xfer *xfers; /* in flight, doubly linked */
};

struct cmulti *cmulti_new(const struct cmulti_opts *opts)
{
	struct cmulti *m;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->multi = curl_multi_init())) {
		free(m);
		curl_global_cleanup();
		return NULL;
	}
	if (opts) {
		m->max_in_flight = opts->max_in_flight;
		if (opts->max_total_connections > 0)
			curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
					  opts->max_total_connections);
		if (opts->max_connects > 0)
			curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, opts->max_connects);
	}
	return m;
}

void cmulti_free(struct cmulti **mp)
{
	struct cmulti *m = mp ? *mp : NULL;

	if (!m)
		return;
	/* curl_multi_cleanup leaves added handles half attached: detach them. */
	while (m->xfers)
		cmulti_remove(m, m->xfers);
	curl_multi_cleanup(m->multi);
	free(m);
	curl_global_cleanup();
	*mp = NULL;
}

int cmulti_add(struct cmulti *m, struct cmulti_xfer *x)
{
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(m->multi, x->easy) != CURLM_OK)
		return -1;
	x->in_flight = 1;
	x->prev = NULL;
	x->next = m->xfers;
	if (m->xfers)
		m->xfers->prev = x;
	m->xfers = x;
	m->in_flight++;
	return 0;
}

void cmulti_remove(struct cmulti *m, struct cmulti_xfer *x)
{
	if (!x->in_flight)
		return;
	curl_multi_remove_handle(m->multi, x->easy);
	if (x->prev)
		x->prev->next = x->next;
	else
		m->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	x->in_flight = 0;
	m->in_flight--;
}

struct cmulti_xfer *cmulti_take(struct cmulti *m)
{
	struct cmulti_xfer *x = m->xfers;

	if (x)
		cmulti_remove(m, x);
	return x;
}

unsigned cmulti_in_flight(const struct cmulti *m)
{
	return m->in_flight;
}

int cmulti_room(const struct cmulti *m)
{
	return !m->max_in_flight || m->in_flight < m->max_in_flight;
}

int cmulti_step(struct cmulti *m)
{
	int running = 0, left, ended = 0;
	CURLMsg *msg;

	curl_multi_perform(m->multi, &running);
	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		struct cmulti_xfer *x = NULL;
		CURLcode cc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x || !x->in_flight)
			continue;
		cmulti_remove(m, x); /* msg is invalid from here on */
		ended++;
		if (x->done)
			x->done(x, cc);
	}
	return ended;
}

void cmulti_wait(struct cmulti *m, int timeout_ms)
{
	curl_multi_poll(m->multi, NULL, 0, timeout_ms > 0 ? timeout_ms : 0, NULL);
}

void cmulti_wakeup(struct cmulti *m)
{
	curl_multi_wakeup(m->multi);
}
