#!/bin/sh
# b_sms.sh - sms channel throughput against its ceiling, in one run.
#
# tests/bench/httpsink (libmicrohttpd, answers 200 {"id":"x"} to anything)
# listens on a free loopback port. The ceiling is tests/bench/curlmulti: a
# plain libcurl multi loop on one thread POSTing N copies of the very body
# the plugin sends, MAX_IN_FLIGHT at a time. Then the sms plugin, profile
# json, max_in_flight the same, through build/tests/bench/chanrun -n N:
# its submit, queue, worker thread, request building, outcome mapping and
# result queue all included. Each runs ROUNDS times, interleaved; the
# median of the rounds' own ratios is judged: target plugin >= 0.8 x
# ceiling. The best round of each side gives the rates in bench.json.
# Writes {"sms_per_s", "sms_ceiling_per_s"} to $BENCH_OUT/sms.json.
#
# N is 60000 so that a round lasts about 2 s: with 20000 a round took
# 0.5-1 s, and one burst of this VM's steal time (printed per round for
# each side, in 1/100 s) decided a round; best-of-7 ratios then ran from 0.77 to 1.11.
# Each line shows that round's own ratio too.
#
# The sink runs one thread. Measured 2026-12-04 in runs of this script
# (alone and within make bench): with -t 2, 13 of 49 rounds fell to a
# ratio of 0.51-0.73 and run medians ranged 0.70-0.97; with -t 1, 4 of 42
# rounds did (0.55-0.79) and medians ranged 0.81-0.93. The ceiling's best
# round was no lower (41,600-47,200/s against 37,000-44,800). In a slow
# round the plugin runs at ~24,000/s instead of ~38,000 (curlmulti falls
# to ~26,000 in some rounds the same way). perf of a slow and a fast
# plugin run: the worker thread is busy all the time in both, with the
# same functions for the same 60,000 messages, each taking longer (free
# +45%, memmove +84%, poll +22% samples): the same work done slower, by a
# slower CPU or by data crossing between the vCPUs (steal stays 0), not a
# different path through Herald. With fewer threads on the two vCPUs such
# rounds were rarer; the median of rounds absorbs the rest.
#
#   SMS_BENCH_N (60000)  SMS_BENCH_INFLIGHT (32)  SMS_BENCH_ROUNDS (7)
#   SMS_SINK_THREADS (1)
set -u
HERALD_BUILD=${HERALD_BUILD:-$(pwd)/build}
HERALD_SRC=${HERALD_SRC:-$(pwd)}
BENCH_OUT=${BENCH_OUT:-$HERALD_BUILD/bench.d}
# lib.sh: $T, track_pid, and stopping every server by PID on exit.
. "$HERALD_SRC/tests/integration/lib.sh"

N=${SMS_BENCH_N:-60000}
C=${SMS_BENCH_INFLIGHT:-32}
ROUNDS=${SMS_BENCH_ROUNDS:-7}
for f in "$BIN/tests/bench/httpsink" "$BIN/tests/bench/curlmulti" "$BIN/tests/bench/chanrun" \
	"$BIN/channels/sms.so"; do
	if [ ! -x "$f" ] && [ ! -f "$f" ]; then
		echo "b_sms: missing $f (make all bench bins?)"
		exit 1
	fi
done

"$BIN/tests/bench/httpsink" -t "${SMS_SINK_THREADS:-1}" >"$T/sink.out" 2>"$T/sink.err" &
SINK_PID=$!
track_pid $SINK_PID
if ! wait_for 10 grep -q 'listening on' "$T/sink.out"; then
	echo "b_sms: httpsink did not start"
	cat "$T/sink.err"
	exit 1
fi
PORT=$(sed -n 's/^httpsink: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/sink.out")
URL=http://127.0.0.1:$PORT/send

cat >"$T/sms.ini" <<EOF
[http]
public_url = http://127.0.0.1:7402

[channel.sms]
profile = json
url = $URL
from = HERALD
max_in_flight = $C
timeout = 30
EOF
TEXT="Reminder: Ada, you have an appointment on 1 December at 10:00, Cardiff. Ref: HX-2RRF-BW77"
printf '{"event_id":"bench","to":"+447700900123","body":"%s"}\n' "$TEXT" >"$T/msg.jsonl"
# The body the plugin sends for that message (reference bench-<i>.1).
BODY=$(printf '{"to":"+447700900123","from":"HERALD","text":"%s","reference":"bench-12345.1","callback_url":"http://127.0.0.1:7402/receipts/sms/json"}' "$TEXT")

best_ceiling=0
best_plugin=0
# steal: CPU time the hypervisor took from this VM, in ticks (/proc/stat).
steal() { awk '/^cpu / { print $9 }' /proc/stat; }
r=1
while [ $r -le "$ROUNDS" ]; do
	s0=$(steal)
	if ! "$BIN/tests/bench/curlmulti" -n "$N" -c "$C" -b "$BODY" "$URL" >"$T/curlmulti.out" 2>&1; then
		echo "b_sms: curlmulti failed:"
		cat "$T/curlmulti.out"
		exit 1
	fi
	ceiling=$(sed -n 's/^curlmulti: .* = \([0-9.]*\)\/s .*/\1/p' "$T/curlmulti.out")
	s1=$(steal)
	if ! "$BIN/tests/bench/chanrun" -t 60 -n "$N" "$BIN/channels/sms.so" "$T/sms.ini" \
		"$T/msg.jsonl" >"$T/chanrun.out" 2>"$T/chanrun.err"; then
		echo "b_sms: chanrun failed:"
		tail -5 "$T/chanrun.out" "$T/chanrun.err"
		exit 1
	fi
	plugin=$(sed -n 's/^chanrun: .* = \([0-9.]*\)\/s$/\1/p' "$T/chanrun.out")
	st="$((s1 - s0))/$(($(steal) - s1))"
	rr=$(awk -v a="$plugin" -v b="$ceiling" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	echo "sms round $r: curlmulti $ceiling req/s, sms plugin $plugin msg/s, ratio $rr ($C in flight, $N requests; steal $st ticks)"
	echo "$rr" >>"$T/ratios"
	best_ceiling=$(awk -v a="$best_ceiling" -v b="$ceiling" 'BEGIN { print (b > a ? b : a) }')
	best_plugin=$(awk -v a="$best_plugin" -v b="$plugin" 'BEGIN { print (b > a ? b : a) }')
	r=$((r + 1))
done
# Every request of every round reached the sink.
stop_pid "$SINK_PID"
PIDS=""
got=$(sed -n 's/^httpsink: \([0-9]*\) requests$/\1/p' "$T/sink.err")
want=$((2 * N * ROUNDS))
if [ "${got:-0}" -ne "$want" ]; then
	echo "b_sms: the sink counted ${got:-?} requests, expected $want"
	exit 1
fi
ratio=$(awk -v a="$best_plugin" -v b="$best_ceiling" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
# Judged on the median of the rounds' own ratios (each compares runs
# seconds apart; the best rounds of the two sides may not be), as the
# email bench; the ratio of the best rounds beside it.
med_r=$(sort -n "$T/ratios" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
verdict=$(awk -v r="$med_r" 'BEGIN { print (r >= 0.8 ? "target met" : "BELOW TARGET") }')
echo "sms: plugin $best_plugin msg/s, ceiling (curlmulti) $best_ceiling req/s (best rounds; their ratio $ratio)"
echo "sms: median of the $ROUNDS rounds' own ratios: $med_r (target >= 0.80: $verdict)"
mkdir -p "$BENCH_OUT"
printf '{"sms_per_s": %s, "sms_ceiling_per_s": %s, "sms_ratio_round_median": %s}\n' "$best_plugin" \
	"$best_ceiling" "$med_r" >"$BENCH_OUT/sms.json"
