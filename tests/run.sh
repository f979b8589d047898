#!/bin/sh
# run.sh BUILD - run every unit test binary and integration script, then
# print one closing line "N passed, N failed" (", N skipped" after it when
# some were skipped: counted apart, never as passed). Exit 1 if anything
# failed.
#
# Unit tests are cmocka binaries: their "[  PASSED  ] n" / "[  FAILED  ] n"
# / "[  SKIPPED ] n test(s), listed below" lines are summed. Integration
# scripts print "ok - ..." / "not ok - ..." / "skip - ..." lines
# (tests/integration/lib.sh); a script that dies without a "not ok" counts
# as one failure. ONLY=pattern runs the matching tests alone.
set -u
BUILD=${1:-build}
HERALD_BUILD=$(cd "$BUILD" && pwd)
export HERALD_BUILD
HERALD_SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_SRC
export CMOCKA_MESSAGE_OUTPUT=stdout
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}
# Letters (pango/fontconfig): glib objects from malloc so leaks are visible;
# fontconfig's once-per-process allocations suppressed (see the file).
export G_SLICE=always-malloc
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERALD_SRC/tests/integration/paper_lsan.supp}
ONLY=${ONLY:-}

passed=0
failed=0
skipped=0
failures=""
logdir="$HERALD_BUILD/test-logs"
# (not wiped: several runs may share it; each test overwrites its own log)
mkdir -p "$logdir"

# ", N skipped" when N > 0, else nothing
skipped_text() { [ "$1" -gt 0 ] && echo ", $1 skipped"; }
add_fail() { failed=$((failed + $1)); failures="$failures $2"; }

for bin in "$HERALD_BUILD"/tests/unit/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	case "$name" in *.d | *.o) continue ;; esac
	[ -n "$ONLY" ] && case "$name" in *$ONLY*) ;; *) continue ;; esac
	log="$logdir/$name.log"
	(cd "$HERALD_SRC" && "$bin") >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		add_fail "$f" "$name"
	elif [ $rc -ne 0 ]; then
		add_fail 1 "$name(exit=$rc)"
	fi
	printf '%-40s %s passed, %s failed%s (rc=%s)\n' "$name" "$p" "$f" "$(skipped_text "$s")" "$rc"
	[ $rc -ne 0 ] && grep -E 'FAILED|ERROR|runtime error|Sanitizer' "$log" | head -20
done

for t in "$HERALD_SRC"/tests/integration/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[ -n "$ONLY" ] && case "$name" in *$ONLY*) ;; *) continue ;; esac
	log="$logdir/$name.log"
	start=$(date +%s)
	timeout 600 sh "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep -c '^skip ' "$log")
	passed=$((passed + p))
	skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		add_fail "$f" "$name"
	elif [ $rc -ne 0 ]; then
		add_fail 1 "$name(exit=$rc)"
	fi
	printf '%-40s %s passed, %s failed%s (rc=%s, %ss)\n' "$name" "$p" "$f" "$(skipped_text "$s")" "$rc" $(($(date +%s) - start))
	[ "$s" -gt 0 ] && grep '^skip ' "$log" | head -5
	if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
		grep -E '^not ok|^#' "$log" | head -30
		tail -5 "$log"
	fi
done

[ -n "$failures" ] && echo "failed:$failures (logs in $logdir)"
echo "$passed passed, $failed failed$(skipped_text "$skipped")"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
