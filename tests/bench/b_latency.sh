#!/bin/sh
# b_latency.sh - heraldd's latency at everyday load (issue #15), not at
# saturation: a paced, open-loop publisher (build/tests/bench/loadgen -r)
# sends events at a fixed rate whatever the acks, for LAT_SECS seconds, to
# heraldd on the file channel; then
#   ack        publish -> "accepted" at the publisher, measured from the 
#              each event was due (loadgen's own histogram)
#   delivered  accepted -> written by the file channel: the "delay" of each
#              "delivered" record in the JSON delivery log (microseconds)
# p50, p99 and p99.9 of each, for every rate in LAT_RATES, under Redis
# "appendfsync everysec" and "appendfsync always" (each rate on a fresh
# redis-server and heraldd), into $BENCH_OUT/latency.json as
#   latency_<rate>_<fsync>_{ack,delivered}_{p50,p99,p999}_ms
# with, first, each rate's ceiling in the same run: the same publisher
# against zmqecho (answered at once, no Redis), latency_ceiling_<rate>_ack_*;
# after each run heraldd's loop figures from /metrics (turn length,
# commands and bytes per Redis send, lone and held sends)
#
#   LAT_RATES ("1000 5000 10000")  LAT_SECS (10)  LAT_FSYNC ("everysec always")
#   LAT_CITIZENS (8)  LAT_TIMEOUT (30: s without a delivery)
#   LAT_BASE=DIR: also run DIR/heraldd with the plugins of DIR/channels (a
#                 build of another commit) on the same settings, alternating
#                 which goes first, for a before/after of the same run
#                 (latency_base_* in the JSON)
set -u
HERALD_BUILD=${HERALD_BUILD:-$(pwd)/build}
HERALD_SRC=${HERALD_SRC:-$(pwd)}
BENCH_OUT=${BENCH_OUT:-$HERALD_BUILD/bench.d}
# shellcheck source=tests/integration/lib.sh
. "$HERALD_SRC/tests/integration/lib.sh"

RATES=${LAT_RATES:-1000 5000 10000}
SECS=${LAT_SECS:-10}
FSYNCS=${LAT_FSYNC:-everysec always}
C=${LAT_CITIZENS:-8}
TIMEOUT=${LAT_TIMEOUT:-30}

fail() {
	echo "b_latency: $*"
	NFAIL=1 # keeps $T for a look
	exit 1
}
for f in heraldd channels/file.so tests/bench/loadgen; do
	[ -e "$BIN/$f" ] || fail "missing $BIN/$f (make all bench bins)"
done
for p in redis-server redis-cli python3; do
	command -v "$p" >/dev/null || fail "missing $p"
done
mkdir -p "$BENCH_OUT"
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | tail -n 1; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "latency: paced publisher at $RATES events/s, $SECS s each, file channel," \
	"appendfsync $FSYNCS; each on a fresh redis-server and heraldd"
JSON=""
FIRST=1
# one_run LABEL BUILD_DIR FSYNC RATE KEYPREFIX: fresh redis-server and heraldd,
# RATE events/s for SECS s, figures printed and added to $JSON
one_run() {
	if [ "$FIRST" = 0 ]; then
		stop_heraldd
		stop_pid "$REDIS_PID"
		PIDS=$(echo "$PIDS" | sed "s/ $REDIS_PID\b//")
		rm -rf "$T/redis" "$T/log" "$T/spool"
		INGEST_PORT="" PUB_PORT="" HTTP_PORT=""
	fi
	FIRST=0
	F=$3 RATE=$4
	start_redis
	rcli CONFIG SET appendfsync "$F" >/dev/null || fail "redis CONFIG SET appendfsync failed"
	rcli CONFIG SET auto-aof-rewrite-min-size 4gb >/dev/null || fail "redis CONFIG SET failed"
	seed_file_citizens "$C"
	write_conf ""
	sed -i "s|^dir = $BIN/channels\$|dir = $2/channels|" "$T/herald.conf"
	HERALDD_BIN=$2/heraldd start_heraldd
	N=$(awk -v r="$RATE" -v s="$SECS" 'BEGIN { printf "%d", r * s }')
	python3 "$HERALD_SRC/tests/bench/core_follow.py" "$T/log/delivery.jsonl" "$N" "$TIMEOUT" \
		>"$T/follow.out" 2>"$T/follow.err" &
	FOLLOW_PID=$!
	track_pid $FOLLOW_PID
	diag_start
	"$BIN/tests/bench/loadgen" -e "tcp://127.0.0.1:$INGEST_PORT" -r "$RATE" -d "$SECS" \
		-c "$C" -p "lat$RATE$F" -t "$TIMEOUT" >"$T/loadgen.out" 2>&1 ||
		fail "$1 $RATE/s $F: loadgen failed: $(cat "$T/loadgen.out")"
	wait $FOLLOW_PID || fail "$1 $RATE/s $F: not every event was delivered: $(cat "$T/follow.out" "$T/follow.err")"
	L=$T/loadgen.out W=$T/follow.out
	loop_figures "$T/metrics.$1.$RATE.$F"
	diag_stop
	echo "latency $RATE/s $F ($1): ack p50 $(kv ack_p50_ms "$L") p99 $(kv ack_p99_ms "$L")" \
		"p99.9 $(kv ack_p999_ms "$L") max $(kv ack_max_ms "$L") ms;" \
		"accepted->delivered p50 $(kv p50_ms "$W") p99 $(kv p99_ms "$W")" \
		"p99.9 $(kv p999_ms "$W") max $(kv max_ms "$W") ms" \
		"(publisher at most $(kv sent_late_max_ms "$L") ms behind schedule," \
		"$(kv accepted_per_s "$L") accepted/s)"
	for q in p50 p99 p999; do
		JSON="$JSON\"${5}${RATE}_${F}_ack_${q}_ms\": $(kv "ack_${q}_ms" "$L"),
 \"${5}${RATE}_${F}_delivered_${q}_ms\": $(kv "${q}_ms" "$W"),
 "
	done
}

# LAT_DIAG=1: during each run, strace -T of redis-server's fdatasync and
# read calls (slows it: for the shape of its iterations, not for figures),
# every thread's run-queue wait (/proc/PID/task/*/schedstat: time runnable
# but not running) and the machine's CPU pressure (/proc/pressure/cpu
# "some": time any task waited for a CPU), printed after the run
run_delay() { # PID: sum of the run-queue wait of its threads, in ms
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%d\n", s / 1000000 }'
}
psi_some() { # ms
	sed -n 's/^some .*total=\([0-9]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null | awk '{ printf "%d\n", $1 / 1000 }'
}
diag_start() {
	[ "${LAT_DIAG:-0}" = 1 ] || return 0
	D0_H=$(run_delay "$HERALDD_PID") D0_R=$(run_delay "$REDIS_PID") D0_P=$(psi_some)
	strace -f -qq -T -e trace=fdatasync,read -p "$REDIS_PID" -o "$T/strace.$RATE.$F" 2>/dev/null &
	STRACE_PID=$!
	sleep 0.3
}
diag_stop() {
	[ "${LAT_DIAG:-0}" = 1 ] || return 0
	echo "diag: run-queue wait during the run: heraldd $(($(run_delay "$HERALDD_PID") - D0_H)) ms," \
		"redis-server $(($(run_delay "$REDIS_PID") - D0_R)) ms;" \
		"CPU pressure (some task waiting) $(($(psi_some) - ${D0_P:-0})) ms (of $SECS s)"
	kill -INT "$STRACE_PID" 2>/dev/null
	wait "$STRACE_PID" 2>/dev/null
	# reads of the clients' sockets (not the AOF) and fdatasync between them
	awk '/fdatasync/ { f++; match($0, /<[0-9.]+>/); ft += substr($0, RSTART + 1, RLENGTH - 2) }
		/read\(/ && / = [0-9]+ </ { n = $0; sub(/.* = /, "", n); n += 0; if (n > 0) { r++; rb += n; if (n > mx) mx = n } }
		END { printf "diag: redis-server (under strace): %d fdatasync, mean %.0f us; %d reads, %.0f bytes each, largest %d; %.0f bytes read per fdatasync\n",
			f, f ? ft / f * 1e6 : 0, r, r ? rb / r : 0, mx, f ? rb / f : 0 }' "$T/strace.$RATE.$F"
}

# loop_figures FILE: heraldd's /metrics into FILE, and one line on where its
# time went: loop turns (count, mean, share over 1 and 5 ms, longest
# bucket), pipeline sends (commands and bytes per send, lone ones),
# events per herald_accept and herald_pipe scripts
loop_figures() {
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >"$1" 2>/dev/null || return 0
	python3 - "$1" <<'PY'
import re, sys
h = {}
for line in open(sys.argv[1]):
    m = re.match(r'herald_(\w+?)(_bucket\{le="([^"]+)"\}|_sum|_count|_total)? ([0-9.e+]+)$', line)
    if m:
        h.setdefault(m.group(1), {})[m.group(3) or m.group(2) or ''] = float(m.group(4))
def q(name, frac):
    d = h.get(name, {}); n = d.get('_count', 0)
    for k, v in d.items():
        if k.startswith('_') or k == '+Inf':
            continue
    les = sorted((float(k), v) for k, v in d.items() if not k.startswith('_') and k != '+Inf')
    for le, v in les:
        if v >= frac * n:
            return le
    return float('inf')
t = h.get('loop_turn_seconds', {}); s = h.get('redis_send_commands', {}); a = h.get('ingest_accept_events', {})
nt = t.get('_count', 0) or 1; ns = s.get('_count', 0) or 1; na = a.get('_count', 0) or 1
over = lambda le: 1 - t.get(le, 0) / nt
print("loop: %d turns, mean %.0f us, p99 <= %g ms, %.2f %% over 1 ms, %.2f %% over 5 ms;"
      " %d redis sends, %.1f commands and %.0f bytes a send (%d lone, %d held); %.1f events a herald_accept;"
      " %d herald_pipe scripts (%d commands)"
      % (nt, t.get('_sum', 0) / nt * 1e6, q('loop_turn_seconds', 0.99) * 1000, 100 * over('0.001'),
         100 * over('0.005'), ns, s.get('_sum', 0) / ns, h.get('redis_send_bytes', {}).get('_total', 0) / ns,
         h.get("redis_lone_sends", {}).get("_total", 0), h.get("redis_held_sends", {}).get("_total", 0), a.get('_sum', 0) / na,
         h.get("redis_script_batches", {}).get("_total", 0), h.get("redis_script_commands", {}).get("_total", 0)))
PY
}

# ceiling RATE: the same paced publisher against zmqecho (answers each
# event at once: no parse, no Redis), the ack latency of the socket pair
# and of this machine at that rate, in the same run: what heraldd's ack
# figures cannot go below
ceiling() {
	EP=$(free_port)
	"$BIN/tests/bench/zmqecho" -e "tcp://127.0.0.1:$EP" >"$T/zmqecho.out" 2>&1 &
	ECHO_PID=$!
	track_pid $ECHO_PID
	wait_for 10 grep -q 'zmqecho: ready' "$T/zmqecho.out" || fail "zmqecho did not start"
	"$BIN/tests/bench/loadgen" -e "tcp://127.0.0.1:$EP" -r "$1" -d "$SECS" -c "$C" \
		-p "echo$1" -t "$TIMEOUT" >"$T/echo.out" 2>&1 || fail "loadgen against zmqecho failed"
	stop_pid "$ECHO_PID"
	PIDS=$(echo "$PIDS" | sed "s/ $ECHO_PID\b//")
	L=$T/echo.out
	echo "ceiling $1/s (loadgen against zmqecho): ack p50 $(kv ack_p50_ms "$L") p99" \
		"$(kv ack_p99_ms "$L") p99.9 $(kv ack_p999_ms "$L") max $(kv ack_max_ms "$L") ms" \
		"(publisher at most $(kv sent_late_max_ms "$L") ms behind schedule)"
	for q in p50 p99 p999; do
		JSON="$JSON\"latency_ceiling_${1}_ack_${q}_ms\": $(kv "ack_${q}_ms" "$L"),
 "
	done
}
for f in tests/bench/zmqecho; do
	[ -e "$BIN/$f" ] || fail "missing $BIN/$f (make all bench bins)"
done
for RATE in $RATES; do
	ceiling "$RATE"
done

[ -z "${LAT_BASE:-}" ] || [ -x "$LAT_BASE/heraldd" ] || fail "LAT_BASE=$LAT_BASE: no heraldd there"
k=0
for F in $FSYNCS; do
	for RATE in $RATES; do
		k=$((k + 1))
		if [ -n "${LAT_BASE:-}" ] && [ $((k % 2)) = 0 ]; then
			one_run base "$LAT_BASE" "$F" "$RATE" latency_base_
		fi
		one_run heraldd "$BIN" "$F" "$RATE" latency_
		if [ -n "${LAT_BASE:-}" ] && [ $((k % 2)) = 1 ]; then
			one_run base "$LAT_BASE" "$F" "$RATE" latency_base_
		fi
	done
done
stop_heraldd
echo "latency: targets (2-core machine): delivered p99 <= 5 ms at 5000/s and <= 10 ms at" \
	"10000/s with everysec, <= 20 ms at 5000/s with always"
printf '{%s"latency_secs": %s}\n' "$JSON" "$SECS" >"$BENCH_OUT/latency.json"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$BENCH_OUT/latency.json" ||
	fail "latency.json is not valid JSON"
exit 0
