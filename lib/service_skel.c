/*
 * service_skel.c - the skeleton policy file heraldctl keygen writes
 * (service.h): the keys a new service needs set, every other key the
 * parser accepts commented out with what it does. tests/unit/test_service.c
 * checks it names every key of service_keys and that it parses with every
 * line uncommented.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

static const char skeleton[] =
    "# services.d/%s.conf - what the service %s may do (README: Services).\n"
    "# Whoever holds the secret key of this public key is %s.\n"
    "# Every other key is optional: remove the '#' to set one (the value shown\n"
    "# is an example; each key at most once).\n"
    "public_key = %s\n"
    "# templates it may use: names or globs, comma-separated (* = all)\n"
    "templates = *\n"
    "# channels it may use (* = all)\n"
    "channels = *\n"
    "# may it send priority \"urgent\", which overrides quiet hours\n"
    "urgent = no\n"
    "# events per second, and the bucket's size (0: no limit; burst 0: rate)\n"
    "#rate = 10\n"
    "#burst = 50\n"
    "# events per UTC day over all channels (0: no limit)\n"
    "#daily_limit = 100000\n"
    "# events per UTC day that may use one channel: daily_limit.CHANNEL\n"
    "#daily_limit.sms = 2000\n"
    "# the email From of its messages (default: [channel.email] from)\n"
    "#from = Service <noreply@service.example>\n"
    "# the email Reply-To: one address, or a list \"id: address, ...\" (an event's\n"
    "# reply_to_id picks one; none: the first)\n"
    "#reply_to = main: help@service.example, appeals: Appeals <appeals@service.example>\n"
    "# the SMS originator: 1-11 letters, digits or spaces, or a number\n"
    "#sender = SERVICE\n"
    "# its messages' records expire after this many days ([queue] retention_days)\n"
    "#retention_days = 30\n"
    "# status callbacks: POSTed to this http(s) URL, signed with this secret\n"
    "#callback_url = https://service.example/herald/status\n"
    "# the callbacks' HMAC key: 16-512 characters, required with callback_url\n"
    "#callback_secret = replace-with-a-long-random-secret\n"
    "# how long one callback POST may take (30s, 5m, 1h, 1d; bare: seconds)\n"
    "#callback_timeout = 10\n"
    "# the longest wait between two tries of a callback\n"
    "#callback_retry_max = 600\n"
    "# when a callback not answered 2xx is given up (heraldctl callbacks dead)\n"
    "#callback_max_age = 3d\n"
    "# callbacks one at a time, in order (yes), or up to callback_concurrency at once\n"
    "#callback_ordered = no\n"
    "# callbacks in flight at once when not ordered (1-16)\n"
    "#callback_concurrency = 4\n"
    "# live (send), trial (send to the guests only), test (send nothing)\n"
    "#mode = live\n"
    "# trial mode: the addresses and numbers it may reach, comma-separated\n"
    "#guests = tester@service.example, +447700900000\n";

char *service_skeleton(const char *name, const char *pub_z85)
{
	size_t len = sizeof(skeleton) + 3 * strlen(name) + strlen(pub_z85);
	char *s = malloc(len);

	if (s)
		snprintf(s, len, skeleton, name, name, name, pub_z85);
	return s;
}
