/* backoff.c - exponential back-off with jitter (see backoff.h). */
#include "backoff.h"

int64_t backoff_delay_ms(int64_t first_ms, int64_t max_ms, unsigned attempt, unsigned jitter_pct,
			 uint64_t rnd)
{
	int64_t d = first_ms > 0 ? first_ms : 1;

	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (d <= 0)
		return 0;
	if (jitter_pct > 100)
		jitter_pct = 100;
	return d -
	       (int64_t)(rnd % (uint64_t)(d / 100 * jitter_pct + d % 100 * jitter_pct / 100 + 1));
}

uint64_t backoff_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
