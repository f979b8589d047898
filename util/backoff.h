/*
 * backoff.h - exponential back-off with jitter, the one Herald uses for
 * message retries and status callbacks. Knows nothing of Herald.
 */
#ifndef HERALD_BACKOFF_H
#define HERALD_BACKOFF_H

#include <stdint.h>

/* The wait before try number attempt+1 after attempt failures (attempt 0
 * counts as 1): first_ms * 2^(attempt-1), capped at max_ms, less up to
 * jitter_pct percent of it chosen by rnd (any random number; the same rnd
 * gives the same wait), so clients that failed together do not come back in
 * lockstep. With jitter_pct 25 the wait is 75-100 % of the step. */
int64_t backoff_delay_ms(int64_t first_ms, int64_t max_ms, unsigned attempt, unsigned jitter_pct,
			 uint64_t rnd);

/* xorshift64 step for callers that keep their own state (seed non-zero):
 * jitter only, nothing secret. */
uint64_t backoff_rand(uint64_t *state);

#endif
