#!/bin/sh
# t_lone_wake.sh - heraldd sleeps on the ingest socket's ZMQ_FD (main.c
# wait_for_work, issue #15) and wakes for each event: a paced publisher
# sends lone events 50 ms apart to an idle heraldd, and /metrics'
# herald_loop_wakes_total says the loop was woken by a descriptor for each,
# not by its 100 ms poll timeout: an event that did not wake heraldd would
# wait for the timeout, which would then fire about every other event
# (the ack times are printed, never asserted: the machine's speed is no
# test's business). Then a burst, and lone events again after it (the
# replies sent in between must not leave the descriptor without its
# signal), each accepted and delivered.
. "$HERALD_SRC/tests/integration/lib.sh"

LG=$BIN/tests/bench/loadgen
N=40 # lone events a round, 50 ms apart: 2 s, twenty 100 ms timeouts
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | tail -n 1; }
# wakes BY: herald_loop_wakes_total{by="BY"} on /metrics
wakes() {
	curl -s "http://127.0.0.1:$HTTP_PORT/metrics" |
		sed -n "s/^herald_loop_wakes_total{by=\"$1\"} \([0-9]*\)$/\1/p"
}

start_redis
seed_file_citizens 4
write_conf
start_heraldd
EP=tcp://127.0.0.1:$INGEST_PORT

# lone_round NAME PREFIX: N events at 20/s, each alone
lone_round() {
	fd0=$(wakes fd)
	to0=$(wakes timeout)
	"$LG" -e "$EP" -r 20 -n $N -c 4 -p "$2" -t 10 >"$T/lg.$2.out" 2>&1
	expect_eq "$1: loadgen exit 0" 0 $?
	fd1=$(wakes fd)
	to1=$(wakes timeout)
	expect_grep "$1: every lone event accepted" "accepted=$N " "$T/lg.$2.out"
	diag "$1: ack p50 $(kv ack_p50_ms "$T/lg.$2.out") ms, p99 $(kv ack_p99_ms "$T/lg.$2.out") ms; loop wakes: $((fd1 - fd0)) by fd, $((to1 - to0)) by timeout"
	check "$1: /metrics counts the loop's wakes by fd and by timeout" \
		test -n "$fd0" -a -n "$to0" -a -n "$fd1" -a -n "$to1"
	check "$1: the loop was woken by descriptors ($((fd1 - fd0)) fd wakes for $N events)" \
		test "$((fd1 - fd0))" -ge $N
	check "$1: timeout wakes do not grow per lone event ($((to1 - to0)) for $N events)" \
		test "$((to1 - to0))" -lt $((N / 4))
}

lone_round "idle heraldd" l1
"$LG" -e "$EP" -n 2000 -w 256 -c 4 -p b -t 30 >"$T/lg.b.out" 2>&1
expect_eq "burst: loadgen exit 0" 0 $?
expect_grep "burst: every event accepted" 'accepted=2000 ' "$T/lg.b.out"
lone_round "after a burst" l2
total=$((2000 + 2 * N))
wait_for 30 sh -c "[ \$(grep -c 'status=delivered' '$T/log/delivery.log') -ge $total ]"
expect_eq "every event delivered once" $total "$(grep -c 'status=delivered' "$T/log/delivery.log")"

stop_heraldd
finish
