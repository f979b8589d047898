/* testmode.c - simulated outcomes for services in test mode, and trial
 * mode's guest list (testmode.h). */
#include "testmode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "service.h"
#include "zap.h"

struct sim {
	struct chan *c;
	struct herald_result res;
};

static struct sim *sims;
static size_t nsims, capsims;

static const struct {
	const char *email, *sms;
	enum herald_status status;
	const char *reason;
} magic[] = {
    {"delivered@simulator.notify", "+447700900000", HERALD_DELIVERED, "test mode: delivered"},
    {"temp-fail@simulator.notify", "+447700900001", HERALD_TEMPORARY,
     "test mode: temporary failure"},
    {"no-receipt@simulator.notify", "+447700900002", HERALD_SENT,
     "test mode: sent, no receipt will come"},
    {"perm-fail@simulator.notify", "+447700900003", HERALD_PERMANENT,
     "test mode: permanent failure"},
};

static void simulate(const char *to, struct herald_result *res)
{
	res->status = HERALD_DELIVERED;
	snprintf(res->reason, sizeof(res->reason), "test mode: delivered");
	for (size_t i = 0; to && i < sizeof(magic) / sizeof(magic[0]); i++)
		if (!strcasecmp(to, magic[i].email) || !strcmp(to, magic[i].sms)) {
			res->status = magic[i].status;
			snprintf(res->reason, sizeof(res->reason), "%s", magic[i].reason);
		}
}

static int queue(struct msg *m, const struct herald_result *res)
{
	if (nsims == capsims) {
		size_t cap = capsims ? capsims * 2 : 64;
		struct sim *v = realloc(sims, cap * sizeof(*v));
		if (!v)
			return -1;
		sims = v;
		capsims = cap;
	}
	sims[nsims].c = m->chan;
	sims[nsims++].res = *res;
	return 0;
}

int testmode_intercept(struct router *r, struct msg *m, const char *to)
{
	const struct service *sv = zap_curve(r->zap) ? zap_service(r->zap, m->service) : NULL;
	struct herald_result res;
	char masked[160];

	if (!sv || sv->mode == SERVICE_LIVE)
		return 0;
	if (sv->mode == SERVICE_TRIAL && (!to || service_is_guest(sv, to)))
		return 0; /* a guest (or no recipient): delivered for real */
	memset(&res, 0, sizeof(res));
	res.version = HERALD_RESULT_VERSION;
	res.msg_id = m->id;
	snprintf(res.ref, sizeof(res.ref), "%s", m->pref);
	if (sv->mode == SERVICE_TEST) {
		simulate(to, &res);
	} else {
		mask_contact(to, masked, sizeof(masked));
		res.status = HERALD_PERMANENT;
		snprintf(res.reason, sizeof(res.reason),
			 "trial mode: %s is not on the service's guest list (services.d guests)",
			 masked);
	}
	if (queue(m, &res) != 0)
		return 0; /* out of memory: let the plugin have it, as ever */
	metrics_count(sv->mode == SERVICE_TEST ? "test_mode" : "trial_refused", m->chan->name, 1);
	return 1;
}

void testmode_drain(struct router *r,
		    void (*fn)(struct router *r, struct chan *c, const struct herald_result *res))
{
	/* fn may queue more (a retry submitted at once): take the batch first */
	while (nsims) {
		size_t n = nsims;
		struct sim *batch = malloc(n * sizeof(*batch));
		if (!batch)
			return;
		memcpy(batch, sims, n * sizeof(*batch));
		nsims = 0;
		for (size_t i = 0; i < n; i++)
			fn(r, batch[i].c, &batch[i].res);
		free(batch);
	}
}
