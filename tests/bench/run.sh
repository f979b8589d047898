#!/bin/sh
# run.sh BUILD - run every benchmark piece (tests/bench/b_*.sh) and merge
# their figures into BUILD/bench.json. Each piece prints human lines and
# writes one flat JSON object to $BENCH_OUT/<piece>.json. ONLY=pattern runs
# the matching pieces and updates their figures in an existing bench.json,
# keeping the others'.
set -u
BUILD=${1:-build}
HERALD_BUILD=$(cd "$BUILD" && pwd)
HERALD_SRC=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_OUT=$HERALD_BUILD/bench.d
export HERALD_BUILD HERALD_SRC BENCH_OUT
rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT"
rc=0
for b in "$HERALD_SRC"/tests/bench/b_*.sh; do
	[ -f "$b" ] || continue
	[ -n "${ONLY:-}" ] && case "$b" in *$ONLY*) ;; *) continue ;; esac
	echo "== $(basename "$b" .sh)"
	sh "$b" || { echo "bench: $(basename "$b") failed"; rc=1; }
done
python3 - "$BENCH_OUT" "$HERALD_BUILD/bench.json" <<'PY'
import json, os, sys
out = {}
if os.environ.get("ONLY") and os.path.exists(sys.argv[2]):
    with open(sys.argv[2]) as fp:
        out = json.load(fp)
for f in sorted(os.listdir(sys.argv[1])):
    if f.endswith(".json"):
        with open(os.path.join(sys.argv[1], f)) as fp:
            out.update(json.load(fp))
with open(sys.argv[2], "w") as fp:
    json.dump(out, fp, indent=2, sort_keys=True)
    fp.write("\n")
print("bench: wrote %s (%d figures)" % (sys.argv[2], len(out)))
PY
exit $rc
