#!/bin/sh
# t_lone_wake.sh - heraldd sleeps on the ingest socket's ZMQ_FD (main.c
# wait_for_work, issue #15) and wakes for each event: a paced publisher
# sends lone events 50 ms apart to an idle heraldd, and the median ack
# comes well within the loop's 100 ms idle timeout (an event that did not
# wake heraldd would wait for it: a median near 50 ms). Then a burst, and
# lone events again after it (the replies sent in between must not leave
# the descriptor without its signal), each accepted and delivered.
. "$HERALD_SRC/tests/integration/lib.sh"

LG=$BIN/tests/bench/loadgen
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | tail -n 1; }

start_redis
seed_file_citizens 4
write_conf
start_heraldd
EP=tcp://127.0.0.1:$INGEST_PORT

# lone_round NAME PREFIX: 30 events at 20/s, each alone
lone_round() {
	"$LG" -e "$EP" -r 20 -n 30 -c 4 -p "$2" -t 10 >"$T/lg.$2.out" 2>&1
	expect_eq "$1: loadgen exit 0" 0 $?
	expect_grep "$1: every lone event accepted" 'accepted=30 ' "$T/lg.$2.out"
	p50=$(kv ack_p50_ms "$T/lg.$2.out")
	diag "$1: ack p50 $p50 ms, p99 $(kv ack_p99_ms "$T/lg.$2.out") ms"
	check "$1: median ack under 20 ms (woken by the event, not the 100 ms timeout)" \
		awk -v v="$p50" 'BEGIN { exit !(v != "" && v + 0 < 20) }'
}

lone_round "idle heraldd" l1
"$LG" -e "$EP" -n 2000 -w 256 -c 4 -p b -t 30 >"$T/lg.b.out" 2>&1
expect_eq "burst: loadgen exit 0" 0 $?
expect_grep "burst: every event accepted" 'accepted=2000 ' "$T/lg.b.out"
lone_round "after a burst" l2
wait_for 30 sh -c "[ \$(grep -c 'status=delivered' '$T/log/delivery.log') -ge 2060 ]"
expect_eq "every event delivered once" 2060 "$(grep -c 'status=delivered' "$T/log/delivery.log")"

stop_heraldd
finish
