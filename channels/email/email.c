/*
 * email.c - the email channel: hands each message to an SMTP relay with
 * libesmtp (Debian libesmtp 1.1.0). The relay accepting a message (250) is
 * as far as email goes, so a 2xx is a final "sent"; 5xx is a permanent
 * failure (a 5.1.x on RCPT also proves the address wrong), everything else
 * (4xx, timeouts, refused or dropped connections) is temporary.
 *
 * [channel.email]
 * relay = 127.0.0.1:25         host[:port], port 25 when omitted
 * from = Herald <noreply@example.org>
 * reply_to = help@example.org  optional
 * starttls = opportunistic     no | opportunistic | required
 * username = ...               SMTP AUTH, with password (both or neither);
 * password = ...               never logged
 * sessions = 4                 parallel SMTP sessions (one worker thread each)
 * messages_per_session = 100   most messages sent in one SMTP session
 * domain = example.org         right side of Message-ID (default: from's domain)
 * helo = mta1.example.org      EHLO name (default: this host's name)
 * timeout = 60                 seconds, for every wait on the relay
 * list_unsubscribe = <mailto:unsubscribe@example.org>    optional
 * unsubscribe_url = https://...  heraldd's (router/unsubscribe.c): it passes
 *                              each message's one-click link as meta
 *                              unsubscribe.url; with it List-Unsubscribe
 *                              starts with <link> and List-Unsubscribe-Post
 *                              says One-Click (RFC 8058)
 * bounce_domain = bounces.example.org   optional: VERP envelope sender
 *                              bounce+<provider ref>@bounce_domain, and a
 *                              2xx is a provisional "sent" (a bounce may
 *                              follow: heraldctl bounce)
 * queue = 10000                messages waiting before submit() says "later"
 *
 * Threads: submit() validates the address and copies the message into a job
 * (the router never waits on SMTP). Each of `sessions` workers takes what is
 * queued (up to messages_per_session jobs), builds the MIME text (mime.c)
 * and sends all of it in ONE libesmtp session: one connection, EHLO once,
 * then MAIL/RCPT/DATA per message. While work is queued a worker goes
 * straight on to the next session. Results go back through a resq.
 *
 * TCP_NODELAY. libesmtp writes through a 2 KiB buffer on a socket without
 * TCP_NODELAY, so the last piece of a 2 KB message waits for the ACK of the
 * previous piece, which the relay delays (~40 ms).
 * libesmtp 1.1.0 neither exposes its socket nor accepts one from us
 * (smtp_set_server() takes host:port; no descriptor getter; only the
 * STARTTLS SSL_CTX is ours to supply, which would cover TLS sessions only).
 * What it does offer is the documented SMTP_EV_CONNECT event, delivered on
 * our worker thread right after its connect() succeeded and before it writes
 * a byte. In that event email_nodelay() walks this process's descriptors
 * (/proc/self/fd) and sets TCP_NODELAY on every TCP socket whose peer is the
 * relay's address and port: that is the socket libesmtp just connected (and
 * the other sessions' sockets to the relay, which want it too; setting it
 * twice is harmless). No libesmtp internals are touched; if the socket is
 * not found, a warning says throughput will be limited. Rejected: patching
 * or copying libesmtp, interposing connect() (process-wide, and invisible
 * to a library loaded with RTLD_LOCAL), or asking operators for system-wide
 * TCP settings. (What it changed, measured: tests/bench/README.md.)
 *
 * SIGPIPE: libesmtp write()s to its socket; a relay that hangs up would
 * raise SIGPIPE and kill the daemon. Workers are created with SIGPIPE
 * blocked, and a SIGPIPE left pending by a session is consumed after it.
 */
#include <stddef.h> /* libesmtp.h 1.1.0 uses size_t without including it */

#include <auth-client.h>
#include <libesmtp.h>

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chanjob.h"
#include "chanq.h"
#include "num.h"
#include "mime.h"

#define EMAIL_MAX_ADDRS 16
#define EMAIL_MSGID_MAX 520

struct email_conf {
	char relay[300]; /* host:port, as smtp_set_server() wants it */
	char host[256], port[8];
	char from_name[256], from_addr[EMAIL_ADDR_MAX + 1];
	char reply_to[EMAIL_ADDR_MAX + 1];
	char domain[254], helo[254];
	char list_unsub[1024];
	char bounce_domain[254]; /* "": the envelope sender is from's address */
	char username[256], password[256];
	enum starttls_option starttls;
	int sessions, per_session, queue;
	long timeout_ms;
	int plain_auth; /* PLAIN/LOGIN allowed (TLS required or loopback relay) */
};

/* One queued message: the strings live in the same allocation. */
struct email_job {
	uint64_t msg_id;
	const char *to, *to_name, *event_id, *subject, *body, *html, *reference;
	/* event_id: what the Message-ID is made of (the provider reference) */
	const char *from_name, *from_addr, *reply_to; /* the service's (meta), or NULL */
	const char *unsub_url; /* one-click unsubscribe link (meta unsubscribe.url), or NULL */
	int has_pref;	       /* event_id is the provider reference (VERP token) */
};

struct email_state;

/* One message's text for libesmtp's message callback (email_msg_cb). */
struct email_src {
	struct email_worker *w;
	const char *data;
	int len;
	int served; /* handed to libesmtp since the last rewind */
};

struct email_worker {
	struct email_state *st;
	pthread_t tid;
	int started;
	auth_context_t auth;
	char last_reply[256]; /* last reply line the relay sent (monitor) */
	char why[200];	      /* session-level reason reported by an event */
	int nodelay_logged;
	struct email_job **batch;
	struct buf *bufs;
	smtp_message_t *msgs;
	smtp_recipient_t *rcpts;
	char (*msgids)[EMAIL_MSGID_MAX];
	struct herald_result *results;
	struct email_src *srcs;
	int cancelled; /* this session stopped before a message's text (drain) */
};

struct email_state {
	struct resq *results; /* first: chanq_state_poll/fd */
	const struct herald_host *host;
	struct email_conf c;
	struct jobq *jobs;
	struct email_worker *workers;
	atomic_int stop;
	atomic_int draining; /* email_drain: no message's text goes out any more */
	atomic_ullong seq;
	pthread_mutex_t addr_mu;
	struct sockaddr_storage addrs[EMAIL_MAX_ADDRS];
	int naddrs;
	int auth_ref; /* holds an email_auth_ref() */
};
CHANQ_RESULTS_FIRST(struct email_state);

static pthread_once_t email_once = PTHREAD_ONCE_INIT;
/* libesmtp keeps its loaded SASL modules in a process-wide list that only
 * auth_client_exit() frees: count the open instances that use AUTH. */
static pthread_mutex_t email_auth_mu = PTHREAD_MUTEX_INITIALIZER;
static int email_auth_users;

static int email_no_password(char *buf, int buflen, int rwflag, void *arg)
{
	return 0; /* no client certificate passphrase: never prompt on stdin */
}

static void email_global_init(void)
{
	smtp_starttls_set_password_cb(email_no_password, NULL);
}

static void email_auth_ref(void)
{
	pthread_mutex_lock(&email_auth_mu);
	if (email_auth_users++ == 0)
		auth_client_init();
	pthread_mutex_unlock(&email_auth_mu);
}

static void email_auth_unref(void)
{
	pthread_mutex_lock(&email_auth_mu);
	if (--email_auth_users == 0)
		auth_client_exit();
	pthread_mutex_unlock(&email_auth_mu);
}

/* ---- configuration ----------------------------------------------------- */

static const char *conf_str(const struct herald_host *h, const char *key)
{
	const char *v = h->conf(h->ctx, key);
	return v && *v ? v : NULL;
}

/* Integer key in [lo, hi], def when unset; -1 (logged) when invalid. */
static int conf_int(const struct herald_host *h, const char *key, long lo, long hi, long def,
		    long *out)
{
	const char *v = conf_str(h, key);
	char why[96];

	if (!v) {
		*out = def;
		return 0;
	}
	if (num_parse_long(v, lo, hi, out, why, sizeof(why)) != 0) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: %s = %s: %s", key, v, why);
		return -1;
	}
	return 0;
}

static int domain_ok(const char *d)
{
	char tmp[300];

	/* Reuse the address checker on a dummy local part. */
	if (strlen(d) > 253)
		return 0;
	snprintf(tmp, sizeof(tmp), "x@%s", d);
	return d[0] != '[' && email_addr_check(tmp) == EMAIL_ADDR_OK;
}

static int is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0;
}

static int email_conf_relay(const struct herald_host *h, struct email_conf *c)
{
	const char *v = conf_str(h, "relay"), *colon;
	size_t hl;
	char why[96];
	int port = 25;

	if (!v) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: relay is not set (want host:port)");
		return -1;
	}
	colon = strchr(v, ':');
	if (v[0] == '[' || (colon && strchr(colon + 1, ':'))) {
		h->log(h->ctx, HERALD_LOG_ERR,
		       "email: relay = %s: libesmtp cannot take an IPv6 literal; use a host name",
		       v);
		return -1;
	}
	hl = colon ? (size_t)(colon - v) : strlen(v);
	if (hl == 0 || hl >= sizeof(c->host)) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: relay = %s: no host", v);
		return -1;
	}
	memcpy(c->host, v, hl);
	c->host[hl] = '\0';
	if (!domain_ok(c->host)) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: relay = %s: not a host name or IPv4 address",
		       v);
		return -1;
	}
	if (colon && num_parse_port(colon + 1, &port, why, sizeof(why)) != 0) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: relay = %s: bad port: %s", v, why);
		return -1;
	}
	snprintf(c->port, sizeof(c->port), "%d", port);
	snprintf(c->relay, sizeof(c->relay), "%s:%s", c->host, c->port);
	return 0;
}

/* from and reply_to. */
static int email_conf_addrs(const struct herald_host *h, struct email_conf *c)
{
	const char *v = conf_str(h, "from");
	char name[256];

	if (!v || email_parse_mailbox(v, c->from_name, sizeof(c->from_name), c->from_addr,
				      sizeof(c->from_addr)) != 0) {
		h->log(h->ctx, HERALD_LOG_ERR,
		       "email: from = %s: want \"Name <address>\" or an address",
		       v ? v : "(unset)");
		return -1;
	}
	v = conf_str(h, "reply_to");
	if (v &&
	    email_parse_mailbox(v, name, sizeof(name), c->reply_to, sizeof(c->reply_to)) != 0) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: reply_to = %s: not an address", v);
		return -1;
	}
	return 0;
}

/* starttls, username and password (after the relay: plain AUTH only over
 * TLS or to a loopback relay). */
static int email_conf_security(const struct herald_host *h, struct email_conf *c)
{
	const char *v = conf_str(h, "starttls");

	if (!v || strcmp(v, "opportunistic") == 0) {
		c->starttls = Starttls_ENABLED;
	} else if (strcmp(v, "no") == 0) {
		c->starttls = Starttls_DISABLED;
	} else if (strcmp(v, "required") == 0) {
		c->starttls = Starttls_REQUIRED;
	} else {
		h->log(h->ctx, HERALD_LOG_ERR,
		       "email: starttls = %s: want no, opportunistic or required", v);
		return -1;
	}

	v = conf_str(h, "username");
	if (v)
		snprintf(c->username, sizeof(c->username), "%s", v);
	v = conf_str(h, "password");
	if (v)
		snprintf(c->password, sizeof(c->password), "%s", v);
	if (!c->username[0] != !c->password[0]) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: set both username and password, or neither");
		return -1;
	}
	c->plain_auth = c->starttls == Starttls_REQUIRED || is_loopback(c->host);
	if (c->username[0] && !c->plain_auth)
		h->log(h->ctx, HERALD_LOG_WARNING,
		       "email: AUTH without starttls = required: PLAIN and LOGIN are disabled so "
		       "the password never crosses the network in clear; only challenge-response "
		       "mechanisms (CRAM-MD5) will be used");
	return 0;
}

/* sessions, messages_per_session, timeout, queue. */
static int email_conf_limits(const struct herald_host *h, struct email_conf *c)
{
	long n;

	if (conf_int(h, "sessions", 1, 64, 4, &n) != 0)
		return -1;
	c->sessions = (int)n;
	if (conf_int(h, "messages_per_session", 1, 1000, 100, &n) != 0)
		return -1;
	c->per_session = (int)n;
	if (conf_int(h, "timeout", 1, 3600, 60, &n) != 0)
		return -1;
	c->timeout_ms = n * 1000;
	if (conf_int(h, "queue", 1, 1000000, 10000, &n) != 0)
		return -1;
	c->queue = (int)n;
	return 0;
}

/* domain (after from: its default), helo, list_unsubscribe. */
static int email_conf_names(const struct herald_host *h, struct email_conf *c)
{
	const char *v = conf_str(h, "domain");

	if (!v)
		v = strchr(c->from_addr, '@') + 1;
	if (!domain_ok(v)) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: domain = %s: not a domain name", v);
		return -1;
	}
	snprintf(c->domain, sizeof(c->domain), "%s", v);
	v = conf_str(h, "helo");
	if (v && !domain_ok(v)) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: helo = %s: not a host name", v);
		return -1;
	}
	if (v)
		snprintf(c->helo, sizeof(c->helo), "%s", v);

	v = conf_str(h, "list_unsubscribe");
	if (v) {
		int ok = strlen(v) < 900 && strchr(v, '<') && strchr(v, '>');
		for (const char *p = v; ok && *p; p++)
			ok = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
		if (!ok) {
			h->log(
			    h->ctx, HERALD_LOG_ERR,
			    "email: list_unsubscribe = %s: want <mailto:...> and/or <https://...>, "
			    "printable ASCII, under 900 characters",
			    v);
			return -1;
		}
		snprintf(c->list_unsub, sizeof(c->list_unsub), "%s", v);
	}
	v = conf_str(h, "bounce_domain");
	if (v && !domain_ok(v)) {
		h->log(h->ctx, HERALD_LOG_ERR, "email: bounce_domain = %s: not a domain name", v);
		return -1;
	}
	if (v)
		snprintf(c->bounce_domain, sizeof(c->bounce_domain), "%s", v);
	return 0;
}

/* [channel.email], in the order its errors were always reported. */
static int email_conf_read(const struct herald_host *h, struct email_conf *c)
{
	memset(c, 0, sizeof(*c));
	if (email_conf_relay(h, c) != 0 || email_conf_addrs(h, c) != 0 ||
	    email_conf_security(h, c) != 0 || email_conf_limits(h, c) != 0 ||
	    email_conf_names(h, c) != 0)
		return -1;
	return 0;
}

/* ---- the relay's addresses (to find libesmtp's socket) ------------------ */

static int email_resolve(struct email_state *st)
{
	struct addrinfo hints, *res = NULL, *ai;
	int n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(st->c.host, st->c.port, &hints, &res) != 0)
		return -1;
	pthread_mutex_lock(&st->addr_mu);
	for (ai = res; ai && n < EMAIL_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(st->addrs[0]))
			continue;
		memset(&st->addrs[n], 0, sizeof(st->addrs[n]));
		memcpy(&st->addrs[n], ai->ai_addr, ai->ai_addrlen);
		n++;
	}
	st->naddrs = n;
	pthread_mutex_unlock(&st->addr_mu);
	freeaddrinfo(res);
	return n > 0 ? 0 : -1;
}

static int same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

/* 1 when fd is a TCP socket connected to the relay and now has
 * TCP_NODELAY, 0 otherwise. */
static int email_nodelay_fd(struct email_state *st, int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int type = 0, one = 1, match = 0;
	socklen_t tl = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
		return 0;
	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
		return 0;
	if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)
		return 0;
	pthread_mutex_lock(&st->addr_mu);
	for (int i = 0; i < st->naddrs && !match; i++)
		match = same_endpoint(&peer, &st->addrs[i]);
	pthread_mutex_unlock(&st->addr_mu);
	if (!match)
		return 0;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
}

static int email_nodelay_scan(struct email_state *st)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d) {
		/* No /proc (unusual sandbox): try the low descriptors. */
		for (int fd = 0; fd < 1024; fd++)
			n += email_nodelay_fd(st, fd);
		return n;
	}
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end || fd == dirfd(d))
			continue;
		n += email_nodelay_fd(st, (int)fd);
	}
	closedir(d);
	return n;
}

/* SMTP_EV_CONNECT: libesmtp has just connected, on this thread. */
static void email_nodelay(struct email_worker *w)
{
	struct email_state *st = w->st;
	int n = email_nodelay_scan(st);

	if (n == 0 && email_resolve(st) == 0)
		n = email_nodelay_scan(st); /* the relay's name may resolve anew */
	if (w->nodelay_logged)
		return;
	w->nodelay_logged = 1;
	if (n > 0)
		st->host->log(st->host->ctx, HERALD_LOG_DEBUG,
			      "email: TCP_NODELAY set on the SMTP connection to %s", st->c.relay);
	else
		st->host->log(st->host->ctx, HERALD_LOG_WARNING,
			      "email: could not find libesmtp's socket to %s to set TCP_NODELAY; "
			      "expect about 40 ms per message",
			      st->c.relay);
}

/* ---- libesmtp callbacks ------------------------------------------------ */

static void email_event(smtp_session_t session, int event, void *arg, ...)
{
	struct email_worker *w = arg;
	va_list ap;

	switch (event) {
	case SMTP_EV_CONNECT: email_nodelay(w); break;
	case SMTP_EV_EXTNA_STARTTLS:
		snprintf(w->why, sizeof(w->why),
			 "relay %.100s does not offer STARTTLS (starttls = required)",
			 w->st->c.relay);
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE: {
		long vr;
		va_start(ap, arg);
		vr = va_arg(ap, long);
		va_end(ap);
		snprintf(w->why, sizeof(w->why),
			 "relay %.100s: TLS certificate not valid (OpenSSL verify result %ld)",
			 w->st->c.relay, vr);
		break;
	}
	case SMTP_EV_NO_PEER_CERTIFICATE:
		snprintf(w->why, sizeof(w->why), "relay %.100s: TLS without a server certificate",
			 w->st->c.relay);
		break;
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		snprintf(w->why, sizeof(w->why),
			 "relay %.100s: TLS certificate is for another host", w->st->c.relay);
		break;
	case SMTP_EV_WEAK_CIPHER:
		snprintf(w->why, sizeof(w->why), "relay %.100s: TLS cipher too weak",
			 w->st->c.relay);
		break;
	default: break;
	}
}

/* Keep the last line the relay sent, for the reason of a session that
 * fails outside any message (greeting, EHLO, STARTTLS, AUTH). What we
 * write is never looked at: it carries the AUTH exchange. */
static void email_monitor(const char *buf, int len, int writing, void *arg)
{
	struct email_worker *w = arg;
	int end = len, start;
	size_t o = 0;

	if (writing != SMTP_CB_READING || len <= 0)
		return;
	while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	for (int i = start; i < end && o + 1 < sizeof(w->last_reply); i++) {
		unsigned char c = (unsigned char)buf[i];
		w->last_reply[o++] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
	}
	if (end > start)
		w->last_reply[o] = '\0';
}

static int email_auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct email_state *st = arg;

	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_PASS)
			result[i] = st->c.password;
		else if (req[i].flags & AUTH_USER)
			result[i] = st->c.username;
		else if (req[i].flags & AUTH_REALM)
			result[i] = st->c.domain;
		else
			return 0;
	}
	return 1;
}

/* ---- sending ----------------------------------------------------------- */

static void email_push(struct email_state *st, struct herald_result *r, uint64_t msg_id)
{
	r->version = HERALD_RESULT_VERSION;
	r->msg_id = msg_id;
	if (resq_push(st->results, r) != 0)
		st->host->log(st->host->ctx, HERALD_LOG_ERR,
			      "email: result queue out of memory; message %llu has no result",
			      (unsigned long long)msg_id);
}

static void email_temp(struct email_state *st, uint64_t msg_id, const char *reason)
{
	struct herald_result r;

	memset(&r, 0, sizeof(r));
	r.status = HERALD_TEMPORARY;
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	email_push(st, &r, msg_id);
}

/* Why a session failed outside any one message's replies. */
static void email_session_reason(struct email_worker *w, int ok, int err, char *out, size_t len)
{
	char eb[128];
	const char *lr = w->last_reply;
	int rejected = (lr[0] == '4' || lr[0] == '5') && lr[1] >= '0' && lr[1] <= '9';

	if (w->why[0])
		snprintf(out, len, "%s", w->why);
	else if (!ok && rejected)
		snprintf(out, len, "relay %.60s: %.60s (%.120s)", w->st->c.relay,
			 smtp_strerror(err, eb, sizeof(eb)), lr);
	else if (!ok)
		snprintf(out, len, "relay %.100s: %s", w->st->c.relay,
			 smtp_strerror(err, eb, sizeof(eb)));
	else if (rejected)
		snprintf(out, len, "relay %.100s: session ended: %.120s", w->st->c.relay, lr);
	else
		snprintf(out, len, "relay %.100s: session ended before this message was sent",
			 w->st->c.relay);
}

/* The result of message i of the session that just ended. */
static void email_outcome(struct email_worker *w, size_t i, int ok, int err, int *failed,
			  struct herald_result *out)
{
	const smtp_status_t *rp = smtp_reverse_path_status(w->msgs[i]);
	const smtp_status_t *rs = w->rcpts[i] ? smtp_recipient_status(w->rcpts[i]) : NULL;
	const smtp_status_t *ms = smtp_message_transfer_status(w->msgs[i]);
	struct herald_result r;
	int mc = ms ? ms->code / 100 : 0;

	memset(&r, 0, sizeof(r));
	r.version = HERALD_RESULT_VERSION;
	r.msg_id = w->batch[i]->msg_id;
	if (rp && rp->code >= 400)
		email_map_reply(EMAIL_STAGE_MAIL, rp->code, rp->text, rp->enh_class,
				rp->enh_subject, rp->enh_detail, w->msgids[i], &r);
	else if (rs && rs->code >= 400)
		email_map_reply(EMAIL_STAGE_RCPT, rs->code, rs->text, rs->enh_class,
				rs->enh_subject, rs->enh_detail, w->msgids[i], &r);
	else if (ms && (mc == 2 || mc == 4 || mc == 5))
		email_map_reply(EMAIL_STAGE_DATA, ms->code, ms->text, ms->enh_class,
				ms->enh_subject, ms->enh_detail, w->msgids[i], &r);
	else if (w->cancelled) {
		/* the session stopped at this message's text or before it
		 * (email_msg_cb): the relay has none of it */
		r.status = HERALD_ABANDONED;
		snprintf(r.reason, sizeof(r.reason), "not started: heraldd is stopping");
	}
	if (r.status == HERALD_SENT && w->st->c.bounce_domain[0] && w->batch[i]->has_pref)
		r.flags |= HERALD_RF_PROVISIONAL; /* a bounce may still come */
	if (!r.status) {
		r.status = HERALD_TEMPORARY;
		email_session_reason(w, ok, err, r.reason, sizeof(r.reason));
		(*failed)++;
	}
	*out = r;
}

/* List-Unsubscribe: the message's one-click link first (RFC 8058), then
 * the configured list_unsubscribe, if any. */
static const char *email_list_unsub(const struct email_conf *c, const struct email_job *j,
				    char *buf, size_t len)
{
	if (!j->unsub_url)
		return c->list_unsub;
	snprintf(buf, len, "<%s>%s%s", j->unsub_url, c->list_unsub[0] ? ", " : "", c->list_unsub);
	return buf;
}

/* libesmtp's message callback (smtp_set_messagecb): len NULL rewinds;
 * then the whole text once, then NULL. libesmtp asks for the text only
 * after the relay's 354 to this message's DATA, so it is the last point
 * where a message can still be held back: once heraldd is stopping
 * (email_drain), the callback fails with errno set, and libesmtp drops
 * the connection without the final "." (protocol.c, cmd_data2: "the only
 * thing that can be done is to drop the connection"), so the relay
 * cannot take the message. The messages the session had not reached are
 * reported HERALD_ABANDONED (email_outcome): a running session of up to
 * per_session messages no longer holds the stop for the whole batch. */
static const char *email_msg_cb(void **ctx, int *len, void *arg)
{
	struct email_src *src = arg;

	(void)ctx;
	if (!len) {
		src->served = 0;
		return NULL;
	}
	if (src->served) {
		*len = 0;
		return NULL;
	}
	if (atomic_load(&src->w->st->draining)) {
		src->w->cancelled = 1;
		*len = 0;
		errno = ECANCELED;
		return NULL;
	}
	src->served = 1;
	*len = src->len;
	return src->data;
}

static void email_send_batch(struct email_worker *w, size_t n)
{
	struct email_state *st = w->st;
	static const int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
				    Timeout_TRANSFER, Timeout_DATA2};
	smtp_session_t s = smtp_create_session();
	size_t added = 0, nres = 0;
	int ok = 0, err = 0, failed = 0;
	char eb[128];

	if (!s || !smtp_set_server(s, st->c.relay) ||
	    (st->c.helo[0] && !smtp_set_hostname(s, st->c.helo)) ||
	    !smtp_set_eventcb(s, email_event, w) || !smtp_set_monitorcb(s, email_monitor, w, 0) ||
	    !smtp_starttls_enable(s, st->c.starttls) ||
	    (st->c.username[0] && !smtp_auth_set_context(s, w->auth))) {
		snprintf(w->why, sizeof(w->why), "cannot set up an SMTP session: %s",
			 smtp_strerror(smtp_errno(), eb, sizeof(eb)));
		for (size_t i = 0; i < n; i++)
			email_temp(st, w->batch[i]->msg_id, w->why);
		goto out;
	}
	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++)
		smtp_set_timeout(s, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, st->c.timeout_ms);

	for (size_t i = 0; i < n; i++) {
		const struct email_job *j = w->batch[i];
		char lu[2048];
		struct mime_msg mm = {
		    .from_name = j->from_addr ? j->from_name : st->c.from_name,
		    .from_addr = j->from_addr ? j->from_addr : st->c.from_addr,
		    .to_name = j->to_name,
		    .to_addr = j->to,
		    .reply_to = j->reply_to ? j->reply_to : st->c.reply_to,
		    .subject = j->subject,
		    .body = j->body,
		    .html = j->html,
		    .event_id = j->event_id,
		    .domain = st->c.domain,
		    .reference = j->reference,
		    .list_unsubscribe = email_list_unsub(&st->c, j, lu, sizeof(lu)),
		    .one_click = j->unsub_url != NULL,
		    .date = time(NULL),
		    .boundary_seed = atomic_fetch_add(&st->seq, 1) ^ (j->msg_id << 20) ^
				     (unsigned long long)time(NULL) << 40,
		};
		w->msgs[i] = NULL;
		w->rcpts[i] = NULL;
		buf_reset(&w->bufs[i]);
		if (mime_build(&mm, &w->bufs[i], w->msgids[i], sizeof(w->msgids[i])) != 0 ||
		    !(w->msgs[i] = smtp_add_message(s))) {
			email_temp(st, j->msg_id, "out of memory building the message");
			continue;
		}
		/* A message without a callback would fail the whole session. */
		w->srcs[i] =
		    (struct email_src){.w = w, .data = w->bufs[i].data, .len = (int)w->bufs[i].len};
		smtp_set_messagecb(w->msgs[i], email_msg_cb, &w->srcs[i]);
		smtp_size_set_estimate(w->msgs[i], w->bufs[i].len);
		if (st->c.bounce_domain[0] && j->has_pref) {
			char verp[EMAIL_ADDR_MAX + 1];
			email_verp_path(st->c.bounce_domain, j->event_id, verp, sizeof(verp));
			smtp_set_reverse_path(w->msgs[i], verp);
		} else {
			smtp_set_reverse_path(w->msgs[i], st->c.from_addr);
		}
		w->rcpts[i] = smtp_add_recipient(w->msgs[i], j->to);
		added++;
	}
	if (added == 0)
		goto out;
	w->why[0] = '\0';
	w->last_reply[0] = '\0';
	w->cancelled = 0;
	ok = smtp_start_session(s);
	if (!ok)
		err = smtp_errno();
	/* Work out every result first, then hand them over in one
	 * resq_push_many (one lock, at most one eventfd write): pushed one by
	 * one, the router thread woke, took the one result there and slept
	 * again for nearly every message of the session. */
	for (size_t i = 0; i < n; i++)
		if (w->msgs[i])
			email_outcome(w, i, ok, err, &failed, &w->results[nres++]);
	if (resq_push_many(st->results, w->results, nres) != 0)
		st->host->log(st->host->ctx, HERALD_LOG_ERR,
			      "email: result queue out of memory; %zu message(s) have no result",
			      nres);
	if (failed) {
		char reason[256];
		email_session_reason(w, ok, err, reason, sizeof(reason));
		st->host->log(st->host->ctx, HERALD_LOG_WARNING,
			      "email: %s; %d of %zu message(s) of this session not sent "
			      "(temporary-failure)",
			      reason, failed, added);
	}
out:
	if (s)
		smtp_destroy_session(s);
	/* Buffers are kept for the next session, but not a huge one's. */
	for (size_t i = 0; i < n; i++)
		if (w->bufs[i].cap > (1u << 20))
			buf_free(&w->bufs[i]);
}

/* Consume a SIGPIPE a session left pending on this (blocking) thread. */
static void email_drain_sigpipe(void)
{
	sigset_t pend, set;
	struct timespec zero = {0, 0};

	if (sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) == SIGPIPE)
			;
	}
}

/* Workers run under SCHED_BATCH (sched(7); unprivileged, allowed by
 * systemd's @system-service filter): a worker sleeps on the relay three
 * times per message (MAIL, RCPT+DATA, end of data; libesmtp blocks) and is
 * woken by each reply. As SCHED_OTHER every such wake-up could preempt the
 * task running on that CPU, the router's loop or a relay on this host,
 * which then lost its place mid-work; as SCHED_BATCH a woken worker waits
 * for that task to yield instead, so the relay answers the other sessions
 * in the same turn. Idle CPUs still run a woken worker at once; email
 * loses nothing it would notice (a few ms at most under full load). */
static void email_sched_batch(struct email_state *st)
{
	struct sched_param sp = {.sched_priority = 0};
	int rc = pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);

	if (rc != 0)
		st->host->log(st->host->ctx, HERALD_LOG_DEBUG,
			      "email: worker stays SCHED_OTHER (SCHED_BATCH: %s)", strerror(rc));
}

static void *email_worker_main(void *arg)
{
	struct email_worker *w = arg;
	struct email_state *st = w->st;

	email_sched_batch(st);
	for (;;) {
		struct email_job *j = jobq_pop(st->jobs, -1);
		size_t n = 0;

		if (!j)
			break; /* closed and empty */
		w->batch[n++] = j;
		while (n < (size_t)st->c.per_session && (j = jobq_pop(st->jobs, 0)) != NULL)
			w->batch[n++] = j;
		if (!atomic_load(&st->stop))
			email_send_batch(w, n);
		for (size_t i = 0; i < n; i++)
			free(w->batch[i]);
		email_drain_sigpipe();
	}
	return NULL;
}

/* ---- plugin entry points ----------------------------------------------- */

static void email_close(void *state);

static int email_worker_init(struct email_state *st, struct email_worker *w)
{
	size_t k = (size_t)st->c.per_session;

	w->st = st;
	w->batch = calloc(k, sizeof(*w->batch));
	w->bufs = calloc(k, sizeof(*w->bufs));
	w->msgs = calloc(k, sizeof(*w->msgs));
	w->rcpts = calloc(k, sizeof(*w->rcpts));
	w->msgids = calloc(k, sizeof(*w->msgids));
	w->results = calloc(k, sizeof(*w->results));
	w->srcs = calloc(k, sizeof(*w->srcs));
	if (!w->batch || !w->bufs || !w->msgs || !w->rcpts || !w->msgids || !w->results || !w->srcs)
		return -1;
	if (st->c.username[0]) {
		w->auth = auth_create_context();
		if (!w->auth)
			return -1;
		if (st->c.plain_auth)
			auth_set_mechanism_flags(w->auth, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(w->auth, email_auth_interact, st);
	}
	return 0;
}

static int email_open(const struct herald_host *host, void **state)
{
	struct email_state *st = calloc(1, sizeof(*st));
	sigset_t block, old;
	int rc;

	if (!st)
		return -1;
	st->host = host;
	pthread_mutex_init(&st->addr_mu, NULL);
	if (email_conf_read(host, &st->c) != 0)
		goto fail;
	pthread_once(&email_once, email_global_init);
	if (st->c.username[0]) {
		email_auth_ref();
		st->auth_ref = 1;
	}
	if (email_resolve(st) != 0)
		host->log(host->ctx, HERALD_LOG_WARNING,
			  "email: relay %.100s does not resolve now; will retry on every session",
			  st->c.relay);
	st->jobs = jobq_new((size_t)st->c.queue);
	st->results = resq_new();
	st->workers = calloc((size_t)st->c.sessions, sizeof(*st->workers));
	if (!st->jobs || !st->results || !st->workers)
		goto fail;
	for (int i = 0; i < st->c.sessions; i++)
		if (email_worker_init(st, &st->workers[i]) != 0)
			goto fail;
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < st->c.sessions; i++) {
		rc = pthread_create(&st->workers[i].tid, NULL, email_worker_main, &st->workers[i]);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			host->log(host->ctx, HERALD_LOG_ERR, "email: cannot start a worker: %s",
				  strerror(rc));
			goto fail;
		}
		st->workers[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	host->log(host->ctx, HERALD_LOG_INFO,
		  "email: relay %.100s, %d session(s) of up to %d message(s), starttls=%s%s",
		  st->c.relay, st->c.sessions, st->c.per_session,
		  st->c.starttls == Starttls_DISABLED	? "no"
		  : st->c.starttls == Starttls_REQUIRED ? "required"
							: "opportunistic",
		  st->c.username[0] ? ", AUTH as configured user" : "");
	*state = st;
	return 0;
fail:
	email_close(st);
	return -1;
}

/* The one-click unsubscribe link heraldd made (meta unsubscribe.url):
 * http(s), printable ASCII without what would end the <...> of the header. */
static int email_link_ok(const char *url)
{
	size_t n = strlen(url);

	if (n > 950 || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)))
		return 0;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("<>\",", *p))
			return 0;
	return 1;
}

/* The service's sender identity (meta service.from, service.reply_to,
 * set by heraldd from its services.d policy): parsed with the checks of
 * the configured from (no CR/LF, a valid address); one that does not pass
 * is logged and the configured one used. */
struct email_sender {
	char from_name[256], from_addr[EMAIL_ADDR_MAX + 1], reply_to[EMAIL_ADDR_MAX + 1];
	int has_from, has_reply;
};

static void email_service_sender(struct email_state *st, const struct herald_msg *m,
				 struct email_sender *es)
{
	char name[256];

	memset(es, 0, sizeof(*es));
	for (const char *const *kv = m->meta; kv && kv[0] && kv[1]; kv += 2) {
		if (!strcmp(kv[0], "service.from"))
			es->has_from =
			    email_parse_mailbox(kv[1], es->from_name, sizeof(es->from_name),
						es->from_addr, sizeof(es->from_addr)) == 0;
		else if (!strcmp(kv[0], "service.reply_to"))
			es->has_reply = email_parse_mailbox(kv[1], name, sizeof(name), es->reply_to,
							    sizeof(es->reply_to)) == 0;
		else
			continue;
		if (!(!strcmp(kv[0], "service.from") ? es->has_from : es->has_reply))
			st->host->log(
			    st->host->ctx, HERALD_LOG_WARNING,
			    "email: %s of %s is not an address; the configured one is used", kv[0],
			    m->event_id);
	}
}

static int email_submit(void *state, const struct herald_msg *m)
{
	struct email_state *st = state;
	const char *name = NULL, *unsub = NULL, *f[11];
	size_t len[11], total = sizeof(struct email_job);
	struct email_sender es;
	struct email_job *j;
	char *p;
	int chk;

	if (atomic_load(&st->stop))
		return -1;
	chk = email_addr_check(m->to);
	if (chk != EMAIL_ADDR_OK) {
		/* Refused without sending: a result now, never an SMTP session. */
		const char *why = !m->to || !*m->to	  ? "no email address"
				  : chk == EMAIL_ADDR_BAD ? "invalid email address, not sent"
							  : "non-ASCII address needs SMTPUTF8, "
							    "which this channel cannot send";
		return resq_pushf(st->results, m->msg_id, HERALD_PERMANENT,
				  chk == EMAIL_ADDR_BAD ? HERALD_RF_BAD_ADDRESS : 0, NULL, NULL,
				  "%s", why);
	}
	for (const char *const *kv = m->meta; kv && kv[0] && kv[1]; kv += 2)
		if (strcmp(kv[0], "citizen.name") == 0)
			name = kv[1];
		else if (strcmp(kv[0], "unsubscribe.url") == 0)
			unsub = email_link_ok(kv[1]) ? kv[1] : NULL;

	f[0] = m->to;
	f[1] = name;
	/* the Message-ID's local part: the host's stable reference, else the
	 * event id */
	f[2] =
	    m->version >= 2 && m->provider_ref && *m->provider_ref ? m->provider_ref : m->event_id;
	f[3] = m->subject;
	f[4] = m->body;
	f[5] = m->html;
	f[6] = m->reference;
	email_service_sender(st, m, &es);
	f[7] = es.has_from ? es.from_name : NULL;
	f[8] = es.has_from ? es.from_addr : NULL;
	f[9] = es.has_reply ? es.reply_to : NULL;
	f[10] = unsub;
	for (int i = 0; i < 11; i++) {
		len[i] = f[i] ? strlen(f[i]) + 1 : 0;
		total += len[i];
	}
	j = malloc(total);
	if (!j)
		return -1;
	j->msg_id = m->msg_id;
	p = (char *)(j + 1);
	for (int i = 0; i < 11; i++) {
		const char *copy = NULL;
		if (f[i]) {
			memcpy(p, f[i], len[i]);
			copy = p;
			p += len[i];
		}
		switch (i) {
		case 0: j->to = copy; break;
		case 1: j->to_name = copy; break;
		case 2: j->event_id = copy; break;
		case 3: j->subject = copy; break;
		case 4: j->body = copy; break;
		case 5: j->html = copy; break;
		case 6: j->reference = copy; break;
		case 7: j->from_name = copy; break;
		case 8: j->from_addr = copy; break;
		case 9: j->reply_to = copy; break;
		default: j->unsub_url = copy; break;
		}
	}
	j->has_pref = m->version >= 2 && m->provider_ref && *m->provider_ref;
	if (jobq_push(st->jobs, j) != 0) {
		free(j);
		return -1;
	}
	return 0;
}

static void email_close(void *state)
{
	struct email_state *st = state;
	struct email_job *j;

	if (!st)
		return;
	atomic_store(&st->stop, 1);
	if (st->jobs)
		jobq_close(st->jobs);
	for (int i = 0; st->workers && i < st->c.sessions; i++)
		if (st->workers[i].started)
			pthread_join(st->workers[i].tid, NULL);
	while (st->jobs && (j = jobq_pop(st->jobs, 0)) != NULL)
		free(j);
	for (int i = 0; st->workers && i < st->c.sessions; i++) {
		struct email_worker *w = &st->workers[i];
		for (int k = 0; w->bufs && k < st->c.per_session; k++)
			buf_free(&w->bufs[k]);
		if (w->auth)
			auth_destroy_context(w->auth);
		free(w->batch);
		free(w->bufs);
		free(w->msgs);
		free(w->rcpts);
		free(w->msgids);
		free(w->results);
		free(w->srcs);
	}
	free(st->workers);
	if (st->auth_ref)
		email_auth_unref(); /* after every auth context is gone */
	jobq_free(&st->jobs);
	resq_free(&st->results);
	pthread_mutex_destroy(&st->addr_mu);
	explicit_bzero(st->c.password, sizeof(st->c.password));
	free(st);
}

static const char *const email_keys[] = {
    "relay",
    "from",
    "reply_to",
    "starttls",
    "username",
    "password",
    "sessions",
    "messages_per_session",
    "timeout",
    "queue",
    "domain",
    "helo",
    "list_unsubscribe",
    "bounce_domain",
    "bounce_window",   /* read by heraldd (router/bounce.c) */
    "unsubscribe_url", /* read by heraldd (router/unsubscribe.c) */
    NULL};

/* heraldd -t: the section as open() reads it, nothing started. */
static int email_check(const struct herald_host *host, char *err, size_t errlen)
{
	struct email_conf *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = email_conf_read(host, c);
	if (rc != 0)
		snprintf(err, errlen, "invalid [channel.email] (reason logged above)");
	explicit_bzero(c->password, sizeof(c->password));
	free(c);
	return rc;
}

static const char *const email_variants[] = {"email", NULL};

/* The host is stopping: what has not started is abandoned (it stays
 * pending in heraldd's queue and is resumed after the restart), queued or
 * in a running session that has not reached it (email_msg_cb). */
static void email_drain(void *state)
{
	struct email_state *st = state;

	if (!st)
		return;
	/* sessions already running stop before their next message's text */
	atomic_store(&st->draining, 1);
	chan_jobs_abandon(st->jobs, st->results, free);
}
CHANJOB_ID_FIRST(struct email_job);

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI,
    .version = 3,
    .name = "email",
    .address_field = "email",
    .variants = email_variants,
    .html_variant = "email-html",
    .open = email_open,
    .submit = email_submit,
    .poll = chanq_state_poll,
    .fd = chanq_state_fd,
    .receipt = NULL,
    .close = email_close,
    .keys = email_keys,
    .check = email_check,
    .drain = email_drain,
};
