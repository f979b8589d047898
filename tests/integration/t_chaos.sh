#!/bin/sh
# t_chaos.sh - the short fault-injection suite in `make check`: every
# scenario of tests/chaos/chaos.py (heraldd kill -9 and SIGTERM, Redis
# SIGTERM / kill -9 / cut links, slow providers, early receipts, two
# instances, Sentinel failover, reach) with small loads (--quick,
# CHAOS_EVENTS 500 unless set), one "ok" / "not ok" line per scenario:
# not ok when an acknowledged event was lost, sent twice by one channel
# without a record marked dup=possible, or left unsettled, or a
# scenario's own check failed (e.g. SIGTERM exit time). `make chaos` is
# the full version (20,000 events). Failed scenarios keep their folder
# (the path is in the output).
set -u
HERALD_BUILD=${HERALD_BUILD:-$(pwd)/build}
HERALD_SRC=${HERALD_SRC:-$(pwd)}
for p in redis-server python3; do
	command -v "$p" >/dev/null || {
		echo "not ok - chaos: $p is installed (scripts/deps.sh)"
		exit 1
	}
done
out=$HERALD_BUILD/chaos-quick.json
exec python3 "$HERALD_SRC/tests/chaos/chaos.py" --build "$HERALD_BUILD" --quick --tap \
	--events "${CHAOS_EVENTS:-500}" --out "$out"
