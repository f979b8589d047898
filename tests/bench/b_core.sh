#!/bin/sh
# b_core.sh - heraldd end to end (ingest -> queue -> resolve -> render ->
# file channel) against the ceilings of its parts, measured in one run.
#
# A private redis-server (appendonly yes, appendfsync everysec,
# auto-aof-rewrite-min-size 4gb: no forked AOF rewrite mid-run) on a free
# loopback port, CORE_CITIZENS citizens who prefer the file channel, heraldd
# writing the file channel to $T. build/tests/bench/loadgen publishes
# CORE_EVENTS events over one DEALER with CORE_WINDOW outstanding; the piece
# waits until every event has its "delivered" record in the JSON delivery
# log (tests/bench/core_follow.py), then:
#   events_per_s   CORE_EVENTS / (last delivered record - first publish),
#                  of the best of CORE_ROUNDS rounds
#   p50_ms p99_ms  of the delivered records' delay (accepted -> written)
#   peak_rss_kb    heraldd's VmHWM, read before stopping it
# and, with heraldd stopped, the ceilings on the same machine and redis:
#   zmq_roundtrip_per_s  loadgen (same count, window, events) against zmqecho
#   redis_xadd_per_s     redis-benchmark -P 64 XADD
#   redis_hgetall_per_s  redis-benchmark -P 64 HGETALL of a citizen
# Ratios events_per_s / ceiling follow. All go to $BENCH_OUT/core.json.
#
#   CORE_EVENTS (100000)  CORE_WINDOW (1024)  CORE_CITIZENS (8)
#   CORE_BATCH ([queue] batch, 1024)  CORE_TIMEOUT (60: s without progress)
#   CORE_ROUNDS (3: rounds, each on a fresh redis-server and heraldd; the
#                best counts, as in the email and SMS benches, and the
#                median is printed and written beside it)
#   CORE_REDIS (tcp: heraldd and redis-benchmark reach Redis on 127.0.0.1;
#               socket: both over its Unix socket, [redis] socket)
#   CORE_PERF=1: perf record heraldd and redis-server during run 1 (data in
#                $T/perf.1.data and $T/perf-redis.1.data, kept); CORE_PERF_RUNS
#                ("1": run numbers, e.g. "1 2" for round 1's plain and curve
#                runs) names the runs to record
#   CORE_ALWAYS (1): each round also runs heraldd on a fresh redis-server
#                with "appendfsync always" (every write fsynced before its
#                reply); the median, p99 and CPU per event of those runs
#                and the ratio of the medians always / everysec are printed
#                and written as core_always_* (issue #15: >= 0.85).
#   CORE_CURVE (1): each round also runs heraldd with "[ingest] auth = curve"
#                (ZAP handler, services.d/bench.conf, keys from heraldctl
#                keygen in $T) and loadgen authenticating with CURVE (-k,
#                -s), on its own fresh redis-server, adjacent to the plain
#                run (auth = none, the main figures) in alternating order;
#                the medians of both, their ratio curve / none (medians,
#                and the median of the rounds' own ratios) and heraldd's
#                CPU per event in both are printed and written as
#                core_curve_* and core_nocurve_* (issue #13: ratio >= 0.90).
set -u
HERALD_BUILD=${HERALD_BUILD:-$(pwd)/build}
HERALD_SRC=${HERALD_SRC:-$(pwd)}
BENCH_OUT=${BENCH_OUT:-$HERALD_BUILD/bench.d}
# lib.sh: $T, free_port, start_redis, track_pid, every server stopped by PID.
# shellcheck source=tests/integration/lib.sh
. "$HERALD_SRC/tests/integration/lib.sh"

N=${CORE_EVENTS:-100000}
W=${CORE_WINDOW:-1024}
C=${CORE_CITIZENS:-8}
BATCH=${CORE_BATCH:-1024}
TIMEOUT=${CORE_TIMEOUT:-60}

fail() {
	echo "b_core: $*"
	NFAIL=1 # keeps $T for a look
	exit 1
}
for f in heraldd channels/file.so tests/bench/loadgen tests/bench/zmqecho; do
	[ -x "$BIN/$f" ] || [ -f "$BIN/$f" ] || fail "missing $BIN/$f (make all bench bins)"
done
for p in redis-server redis-benchmark redis-cli python3; do
	command -v "$p" >/dev/null || fail "missing $p"
done
mkdir -p "$BENCH_OUT"

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
RMODE=${CORE_REDIS:-tcp}
case $RMODE in
tcp | socket) ;;
*) fail "CORE_REDIS=$RMODE: expected tcp or socket" ;;
esac
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | tail -n 1; }
# CPU time (utime + stime, in clock ticks) of a process, to split the cost.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# all CPUs' busy and steal ticks (/proc/stat), to tell how loaded the box was
sys_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9; exit }' /proc/stat; }
hz=$(getconf CLK_TCK)
per_event() { awk -v t="$1" -v hz="$hz" -v n="$N" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }'; }

# One round: a fresh redis-server and heraldd, N events end to end. Leaves
# its figures in $T/round.R (key=value) and redis running (the ceilings use
# the last round's).
# is run $1 one CORE_PERF records?
perf_run() { case " ${CORE_PERF_RUNS:-1} " in *" $1 "*) return 0 ;; esac; return 1; }
core_round() {
	R=$1
	if [ "$R" -gt 1 ]; then # a fresh, empty Redis: every round starts alike
		stop_pid "$REDIS_PID"
		PIDS=$(echo "$PIDS" | sed "s/ $REDIS_PID\b//")
		rm -rf "$T/redis" "$T/log" "$T/spool"
		INGEST_PORT="" PUB_PORT="" HTTP_PORT=""
	fi
	start_redis
	# Production-like durability, but no automatic AOF rewrite mid-run:
	# with the default 64mb minimum Redis forked a rewrite several times
	# per run (about a fifth of its CPU), a cost a production server pays
	# on its own schedule, not per event. Only the bench's server is changed.
	rcli CONFIG SET auto-aof-rewrite-min-size 4gb >/dev/null || fail "redis CONFIG SET failed"
	rcli CONFIG SET appendfsync "${FSYNC:-everysec}" >/dev/null || fail "redis CONFIG SET appendfsync failed"
	seed_file_citizens "$C"
	INGEST_AUTH=${AUTH:-none} write_conf "
[queue]
batch = $BATCH
"
	[ "$RMODE" = socket ] && sed -i "s|^port = $REDIS_PORT\$|&\nsocket = $REDIS_SOCK|" "$T/herald.conf"
	[ -n "${CORE_REDIS_CONF:-}" ] && sed -i "s|^\[redis\]\$|&\n$CORE_REDIS_CONF|" "$T/herald.conf"
	HERALDD_BIN=$2 start_heraldd
	if [ "${CORE_PERF:-0}" = 1 ] && perf_run "$R"; then
		perf record -e cpu-clock --call-graph dwarf,16384 -F 1000 -o "$T/perf.$R.data" -p "$HERALDD_PID" >"$T/perf.$R.out" 2>&1 &
		PERF_PID=$!
		track_pid $PERF_PID
		perf record -e cpu-clock -g -F 1000 -o "$T/perf-redis.$R.data" -p "$REDIS_PID" >"$T/perf-redis.$R.out" 2>&1 &
		PERF2_PID=$!
		track_pid $PERF2_PID
		sleep 0.5
	fi

	python3 "$HERALD_SRC/tests/bench/core_follow.py" "$T/log/delivery.jsonl" "$N" "$TIMEOUT" \
		>"$T/follow.out" 2>"$T/follow.err" &
	FOLLOW_PID=$!
	track_pid $FOLLOW_PID
	rcli CONFIG RESETSTAT >/dev/null
	hd_cpu0=$(cpu_ticks "$HERALDD_PID")
	rd_cpu0=$(cpu_ticks "$REDIS_PID")
	sys0=$(sys_ticks)
	# shellcheck disable=SC2086 # LG_CURVE: none or -k FILE -s FILE
	"$BIN/tests/bench/loadgen" -e "tcp://127.0.0.1:$INGEST_PORT" -n "$N" -w "$W" -c "$C" \
		-p core -t "$TIMEOUT" ${LG_CURVE:-} >"$T/loadgen.out" 2>&1
	lg_rc=$?
	sys1=$(sys_ticks) # at the last ack; the last delivery follows within a p99
	[ $lg_rc -eq 0 ] || fail "round $R: loadgen against heraldd failed (rc $lg_rc): $(cat "$T/loadgen.out")"
	wait $FOLLOW_PID
	fw_rc=$?
	cat "$T/follow.err" >&2
	[ $fw_rc -eq 0 ] || fail "round $R: not every event was delivered: $(cat "$T/follow.out")"
	hd_cpu1=$(cpu_ticks "$HERALDD_PID")
	rd_cpu1=$(cpu_ticks "$REDIS_PID")
	# Redis's reads of client input (one per client per loop iteration at
	# most) and heraldd's herald_pipe scripts (issue #15)
	rd_reads=$(rcli INFO stats | tr -d '\r' | awk -F: '$1 == "total_reads_processed" { print $2 }')
	scripts=$(curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
		awk '$1 == "herald_redis_script_batches_total" { b = $2 }
		     $1 == "herald_redis_script_commands_total" { c = $2 } END { print b + 0, c + 0 }')
	# Which Redis commands each event cost (scripts' inner calls included).
	rcli INFO commandstats | tr -d '\r' >"$T/commandstats.$R"
	rcli --scan --pattern "herald:msg:*" | head -n 1 | {
		read -r k
		echo "one message hash ($k): $(rcli OBJECT ENCODING "$k")"
		rcli HGETALL "$k" | tr "\n" " "
		echo
	} >"$T/hash.$R"
	if [ "${CORE_PERF:-0}" = 1 ] && perf_run "$R"; then
		kill -INT "$PERF_PID" "$PERF2_PID" 2>/dev/null
		wait "$PERF_PID" "$PERF2_PID" 2>/dev/null
	fi
	rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$HERALDD_PID/status")
	stop_heraldd
	assert_clean_log "$T/heraldd.out" >/dev/null
	[ "$NFAIL" -eq 0 ] || fail "heraldd logged a sanitizer report or panic"
	start_ms=$(kv start_ms "$T/loadgen.out")
	last_ms=$(kv last_ms "$T/follow.out")
	{
		echo "events_per_s=$(awk -v n="$N" -v a="$start_ms" -v b="$last_ms" \
			'BEGIN { r = 0; if (b > a) r = n / ((b - a) / 1000); printf "%.0f", r }')"
		echo "ingest_per_s=$(kv accepted_per_s "$T/loadgen.out")"
		echo "p50_ms=$(kv p50_ms "$T/follow.out")"
		echo "p99_ms=$(kv p99_ms "$T/follow.out")"
		echo "max_ms=$(kv max_ms "$T/follow.out")"
		echo "rss_kb=$rss"
		echo "hd_us=$(per_event $((hd_cpu1 - hd_cpu0)))"
		echo "rd_us=$(per_event $((rd_cpu1 - rd_cpu0)))"
		echo "reads_per_ev=$(awk -v r="${rd_reads:-0}" -v n="$N" 'BEGIN { printf "%.3f", r / n }')"
		echo "scripts=${scripts% *}"
		echo "scripted_cmds=${scripts#* }"
		echo "lg_us=$(awk -v c="$(kv cpu_ms "$T/loadgen.out")" -v n="$N" 'BEGIN { printf "%.0f", c * 1000 / n }')"
		echo "fw_us=$(awk -v c="$(kv cpu_ms "$T/follow.out")" -v n="$N" 'BEGIN { printf "%.0f", c * 1000 / n }')"
		echo "$sys0 $sys1" | awk -v hz="$hz" -v n="$N" '{
			printf "busy_us=%.0f\nsteal_us=%.0f\n", ($3 - $1) / hz * 1e6 / n, ($4 - $2) / hz * 1e6 / n }'
	} >"$T/round.$R"
	f() { kv "$1" "$T/round.$R"; }
	echo "core round $R ($(basename "$2"), appendfsync ${FSYNC:-everysec}, auth ${AUTH:-none}): $(f events_per_s) events/s end to end (ingest $(f ingest_per_s)/s)," \
		"p50 $(f p50_ms) ms, p99 $(f p99_ms) ms; CPU per event: heraldd $(f hd_us) us," \
		"redis $(f rd_us) us, loadgen $(f lg_us) us, follower $(f fw_us) us;" \
		"redis reads per event $(f reads_per_ev), herald_pipe scripts $(f scripts) ($(f scripted_cmds) commands);" \
		"machine busy $(f busy_us) us, steal $(f steal_us) us"
}

ROUNDS=${CORE_ROUNDS:-3}
echo "heraldd: $N events, window $W, $C citizens (preference file), [queue] batch $BATCH," \
	"$ROUNDS rounds, each on a fresh redis-server and heraldd"
# ---- CURVE on / off (issue #13) ------------------------------------------------
# heraldd's key pair and the bench service's (the events name "service":
# "bench"; the skeleton policy heraldctl keygen writes allows every template
# and channel), made once in $T/keys and $T/services.d, which the rounds keep.
CURVE=${CORE_CURVE:-1}
D_RUNS=""
curve_keys() {
	server_key || fail "heraldctl keygen --server failed"
	add_service bench || fail "heraldctl keygen bench failed"
}
# One heraldd run with auth = curve and loadgen authenticating: run K.
curve_run() {
	AUTH=curve LG_CURVE="-k $T/keys/bench.key -s $T/keys/heraldd.pub"
	cv_from=$(($(cat "$T/heraldd.out" 2>/dev/null | wc -l) + 1)) # heraldd.out grows
	k=$((k + 1)) && core_round $k "$BIN/heraldd" && D_RUNS="$D_RUNS $k"
	AUTH=none LG_CURVE=""
	# it really ran authenticated (loadgen's handshake would fail otherwise)
	tail -n +"$cv_from" "$T/heraldd.out" >"$T/heraldd-curve.out"
	if ! grep -q "services: 1 from $T/services.d" "$T/heraldd-curve.out" ||
		grep -q 'NOT AUTHENTICATED' "$T/heraldd-curve.out"; then
		fail "run $k: heraldd did not run with auth = curve: $(head -c 2000 "$T/heraldd-curve.out")"
	fi
}
# The curve runs against the plain ones (A_RUNS, auth = none) of the same
# rounds: medians, ratios, heraldd CPU per event; sets CV_JSON.
curve_report() {
	cv_median=$(for r in $D_RUNS; do kv events_per_s "$T/round.$r"; done | median)
	cv_ratio=$(ratio "$cv_median" "$median_per_s")
	# shellcheck disable=SC2086 # a list of run numbers
	set -- $D_RUNS
	cv_pairs=$(for a in $A_RUNS; do
		ratio "$(kv events_per_s "$T/round.$1")" "$(kv events_per_s "$T/round.$a")"
		echo
		shift
	done)
	cv_ratio_rounds=$(echo "$cv_pairs" | median3)
	cv_hd=$(for r in $D_RUNS; do kv hd_us "$T/round.$r"; done | median)
	nc_hd=$(for r in $A_RUNS; do kv hd_us "$T/round.$r"; done | median)
	cv_p99=$(for r in $D_RUNS; do kv p99_ms "$T/round.$r"; done | median)
	cv_lg=$(for r in $D_RUNS; do kv lg_us "$T/round.$r"; done | median)
	nc_lg=$(for r in $A_RUNS; do kv lg_us "$T/round.$r"; done | median)
	cv_verdict=$(awk -v a="$cv_ratio" -v b="$cv_ratio_rounds" 'BEGIN { print (a >= 0.90 && b >= 0.90 ? "met" : "missed") }')
	echo "core: CURVE: auth = curve median $cv_median events/s, auth = none median $median_per_s" \
		"(the main figures); p99 $cv_p99 ms (median of rounds)"
	echo "core: CURVE: heraldd CPU per event (medians): $cv_hd us with CURVE, $nc_hd us without;" \
		"loadgen $cv_lg us against $nc_lg us"
	echo "core: curve/none ratio $cv_ratio (medians), $cv_ratio_rounds (median of the rounds' own:" \
		"$(echo $cv_pairs)) (target ≥ 0.90: $cv_verdict)"
	CV_JSON=", \"core_curve_median_events_per_s\": $cv_median,
 \"core_nocurve_median_events_per_s\": $median_per_s, \"core_curve_ratio\": $cv_ratio,
 \"core_curve_ratio_round_median\": $cv_ratio_rounds, \"core_curve_p99_ms\": $cv_p99,
 \"core_curve_heraldd_cpu_us_per_event\": $cv_hd,
 \"core_nocurve_heraldd_cpu_us_per_event\": $nc_hd"
}
# the median of decimal ratios, three places
median3() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
[ "$CURVE" = 1 ] && curve_keys
# ---- end of CURVE -----------------------------------------------------------

# Runs are numbered 1, 2, ...: $T/round.K. A_RUNS lists heraldd's plain
# runs, C_RUNS its appendfsync always runs, D_RUNS its CURVE runs.
ALWAYS=${CORE_ALWAYS:-1}
A_RUNS="" C_RUNS="" k=0
r=1
while [ $r -le "$ROUNDS" ]; do
	# CURVE: next to the plain run, before it in even rounds, after in odd
	[ "$CURVE" = 1 ] && [ $((r % 2)) = 0 ] && curve_run
	k=$((k + 1)) && core_round $k "$BIN/heraldd" && A_RUNS="$A_RUNS $k"
	[ "$CURVE" = 1 ] && [ $((r % 2)) = 1 ] && curve_run
	if [ "$ALWAYS" = 1 ]; then
		FSYNC=always
		k=$((k + 1)) && core_round $k "$BIN/heraldd" && C_RUNS="$C_RUNS $k"
		FSYNC=everysec
	fi
	r=$((r + 1))
done
if [ "$RMODE" = socket ]; then
	RWHERE="$REDIS_SOCK (Unix socket)" RBENCH_AT="-s $REDIS_SOCK"
else
	RWHERE="127.0.0.1:$REDIS_PORT" RBENCH_AT="-p $REDIS_PORT"
fi
echo "redis: $(redis-server --version | cut -d' ' -f3) on $RWHERE," \
	"appendonly yes, appendfsync everysec (durable within 1 s, not per event;" \
	"$([ "$ALWAYS" = 1 ] && echo "and a run with always in every round" || echo "no always runs"))," \
	"auto-aof-rewrite-min-size 4gb (no AOF rewrite during the run)"

# The best round counts, as in the email and SMS benches: this box is
# shared, and the best round is the one its neighbours disturbed least.
# Every round is printed above and the median is reported beside it.
best=$(for r in $A_RUNS; do echo "$(kv events_per_s "$T/round.$r") $r"; done | sort -n | tail -n 1 | cut -d' ' -f2)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_per_s=$(for r in $A_RUNS; do kv events_per_s "$T/round.$r"; done | median)
B="$T/round.$best"
events_per_s=$(kv events_per_s "$B")
ingest_per_s=$(kv ingest_per_s "$B")
p50_ms=$(kv p50_ms "$B")
p99_ms=$(kv p99_ms "$B")
max_ms=$(kv max_ms "$B")
hd_us=$(kv hd_us "$B")
rd_us=$(kv rd_us "$B")
lg_us=$(kv lg_us "$B")
fw_us=$(kv fw_us "$B")
peak_rss_kb=$(for r in $A_RUNS; do kv rss_kb "$T/round.$r"; done | sort -n | tail -n 1)
cat "$T/hash.$best"
echo "redis commands per event in round $best (calls, server time):"
awk -F'[:=,]' -v n="$N" '/^cmdstat_/ && ($3 / n >= 0.01 || $5 / n >= 0.05) {
	sub(/^cmdstat_/, "", $1)
	printf "  %-12s %6.2f calls %7.1f us\n", $1, $3 / n, $5 / n
}' "$T/commandstats.$best" | sort -k4 -rn

# ---- ceilings -----------------------------------------------------------------
ECHO_PORT=$(free_port)
"$BIN/tests/bench/zmqecho" -e "tcp://127.0.0.1:$ECHO_PORT" >"$T/zmqecho.out" 2>&1 &
ECHO_PID=$!
track_pid $ECHO_PID
wait_for 10 grep -q 'zmqecho: ready' "$T/zmqecho.out" || fail "zmqecho did not start"
"$BIN/tests/bench/loadgen" -e "tcp://127.0.0.1:$ECHO_PORT" -n "$N" -w "$W" -c "$C" -p core \
	>"$T/echo.out" 2>&1 || fail "loadgen against zmqecho failed: $(cat "$T/echo.out")"
stop_pid $ECHO_PID
sed -n '1p' "$T/echo.out" | sed 's/^/  zmqecho: /'
zmq_per_s=$(kv accepted_per_s "$T/echo.out")

# redis-benchmark: 50 clients x 64 pipelined (its default clients); rate
# from its final "N requests per second" line.
rbench() {
	# shellcheck disable=SC2086 # RBENCH_AT is two words
	redis-benchmark $RBENCH_AT -n 200000 -P 64 -q "$@" 2>&1 | tr '\r' '\n' |
		sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}
xadd_per_s=$(rbench XADD herald:bench '*' id x c y)
hgetall_per_s=$(rbench HGETALL herald:citizen:c-1)
rcli DEL herald:bench >/dev/null
if [ -z "$xadd_per_s" ] || [ -z "$hgetall_per_s" ]; then
	fail "redis-benchmark gave no figure"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = 0; if (b > 0) r = a / b; printf "%.3f", r }'; }
r_zmq=$(ratio "$events_per_s" "$zmq_per_s")
r_xadd=$(ratio "$events_per_s" "$xadd_per_s")
r_hgetall=$(ratio "$events_per_s" "$hgetall_per_s")

echo "core: end to end (first publish -> last delivered): $events_per_s events/s" \
	"(best of $ROUNDS rounds, round $best; median $median_per_s; target >= 20000)"
echo "core: ingest alone (acks at the publisher):         $ingest_per_s accepted/s"
echo "core: latency accepted -> written: p50 $p50_ms ms, p99 $p99_ms ms, max $max_ms ms"
echo "core: heraldd peak RSS: $peak_rss_kb kB"
echo "core: CPU per event: heraldd $hd_us us, redis-server $rd_us us;" \
	"harness: loadgen $lg_us us, follower $fw_us us" \
	"(wall per event at the end-to-end rate: $(awk -v r="$events_per_s" 'BEGIN { if (r > 0) printf "%.0f", 1e6 / r }') us)"
echo "core: machine per event: busy $(kv busy_us "$B") us, steal $(kv steal_us "$B") us (of $(nproc) CPUs)"
echo "core: ceilings: ZMQ round trip (window $W) $zmq_per_s/s," \
	"redis XADD -P 64 $xadd_per_s/s, redis HGETALL -P 64 $hgetall_per_s/s"
echo "core: ratio events_per_s / ceiling: ZMQ $r_zmq, XADD $r_xadd, HGETALL $r_hgetall"

# appendfsync always against everysec, same rounds
AL_JSON=""
if [ "$ALWAYS" = 1 ]; then
	al_median=$(for r in $C_RUNS; do kv events_per_s "$T/round.$r"; done | median)
	al_p99=$(for r in $C_RUNS; do kv p99_ms "$T/round.$r"; done | median)
	al_hd=$(for r in $C_RUNS; do kv hd_us "$T/round.$r"; done | median)
	al_rd=$(for r in $C_RUNS; do kv rd_us "$T/round.$r"; done | median)
	al_reads=$(for r in $C_RUNS; do kv reads_per_ev "$T/round.$r"; done | median3)
	ev_reads=$(for r in $A_RUNS; do kv reads_per_ev "$T/round.$r"; done | median3)
	al_ratio=$(ratio "$al_median" "$median_per_s")
	echo "core: appendfsync always: median $al_median events/s against everysec's $median_per_s" \
		"(ratio $al_ratio, target >= 0.85); p99 $al_p99 ms (median of rounds);" \
		"CPU per event heraldd $al_hd us, redis-server $al_rd us;" \
		"redis reads per event $al_reads (everysec $ev_reads)"
	AL_JSON=", \"core_always_median_events_per_s\": $al_median, \"core_always_ratio\": $al_ratio,
 \"core_always_p99_ms\": $al_p99, \"core_always_heraldd_cpu_us_per_event\": $al_hd,
 \"core_always_redis_cpu_us_per_event\": $al_rd"
fi

CV_JSON=""
[ "$CURVE" = 1 ] && curve_report

cat >"$BENCH_OUT/core.json" <<EOF
{"events_per_s": $events_per_s, "p50_ms": $p50_ms, "p99_ms": $p99_ms,
 "peak_rss_kb": $peak_rss_kb, "zmq_roundtrip_per_s": $zmq_per_s,
 "redis_xadd_per_s": $xadd_per_s, "redis_hgetall_per_s": $hgetall_per_s,
 "events_per_zmq_roundtrip": $r_zmq, "events_per_redis_xadd": $r_xadd,
 "events_per_redis_hgetall": $r_hgetall, "core_ingest_accepted_per_s": $ingest_per_s,
 "core_heraldd_cpu_us_per_event": $hd_us, "core_redis_cpu_us_per_event": $rd_us,
 "core_events": $N, "core_window": $W, "core_batch": $BATCH,
 "core_rounds": $ROUNDS, "core_median_events_per_s": $median_per_s$AL_JSON$CV_JSON}
EOF
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$BENCH_OUT/core.json" ||
	fail "core.json is not valid JSON"
if [ "${CORE_PERF:-0}" = 1 ]; then
	KEEP=1 # read by lib.sh's cleanup
	export KEEP
	echo "core: perf data kept in $T/perf.<run>.data (runs ${CORE_PERF_RUNS:-1})"
fi
exit 0
