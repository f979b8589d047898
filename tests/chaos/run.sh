#!/bin/sh
# run.sh BUILD - the fault-injection suite (tests/chaos/chaos.py) against the
# programs in BUILD; `make chaos` calls it. The table goes to stdout, the
# figures to BUILD/chaos.json; exit 1 when any scenario lost an acknowledged
# event or sent one twice unmarked. CHAOS_EVENTS, CHAOS_ONLY, CHAOS_RUNS,
# CHAOS_QUICK=1, KEEP=1: see chaos.py.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
for p in redis-server python3; do
	command -v "$p" >/dev/null || { echo "chaos: missing $p (make deps)"; exit 2; }
done
exec python3 "$HERE/chaos.py" --build "$BUILD"
