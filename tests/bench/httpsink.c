/*
 * httpsink.c - a fast HTTP sink for the SMS benchmark: answers every request
 * with 200 {"id":"x"} after reading its body. libmicrohttpd, epoll, an
 * internal thread pool, keep-alive; 127.0.0.1 only.
 *
 *   httpsink [-p PORT] [-t THREADS]
 *
 * Prints "httpsink: listening on 127.0.0.1:PORT" once ready (PORT 0, the
 * default, lets the kernel choose), runs until SIGTERM/SIGINT, then prints
 * "httpsink: N requests" on stderr.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char sink_body[] = "{\"id\":\"x\"}";
static struct MHD_Response *sink_resp;
static atomic_ulong sink_count;
static int sink_marker; /* *con_cls after the first call of a request */

static enum MHD_Result sink_handler(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version, const char *upload,
				    size_t *upload_size, void **con_cls)
{
	(void)cls, (void)url, (void)method, (void)version, (void)upload;
	if (*con_cls == NULL) {
		*con_cls = &sink_marker; /* headers seen; body (if any) follows */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* body consumed and dropped */
		return MHD_YES;
	}
	atomic_fetch_add(&sink_count, 1);
	return MHD_queue_response(conn, MHD_HTTP_OK, sink_resp);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned threads = 2;
	int opt, port = 0, sig;
	sigset_t set;

	while ((opt = getopt(argc, argv, "p:t:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 't': threads = (unsigned)atoi(optarg); break;
		default: fprintf(stderr, "usage: httpsink [-p PORT] [-t THREADS]\n"); return 2;
		}
	}
	if (threads < 1)
		threads = 1;
	/* Signals are taken with sigwait below, not by MHD's threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	sink_resp = MHD_create_response_from_buffer(strlen(sink_body), (void *)sink_body,
						    MHD_RESPMEM_PERSISTENT);
	if (!sink_resp)
		return 1;
	MHD_add_response_header(sink_resp, "Content-Type", "application/json");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
			     NULL, NULL, sink_handler, NULL, MHD_OPTION_SOCK_ADDR,
			     (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "httpsink: cannot start on 127.0.0.1:%d\n", port);
		MHD_destroy_response(sink_resp);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("httpsink: listening on 127.0.0.1:%u\n",
	       info ? (unsigned)info->port : (unsigned)port);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(sink_resp);
	fprintf(stderr, "httpsink: %lu requests\n", (unsigned long)atomic_load(&sink_count));
	return 0;
}
