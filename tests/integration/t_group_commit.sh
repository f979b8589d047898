#!/bin/sh
# t_group_commit.sh - heraldd's Redis writes under "appendfsync always"
# (issue #15): while replies to an earlier send are still to come, a
# turn's commands wait and go out with the next ones in one larger write
# (herald_redis_held_sends_total counts the turns that waited), so one
# Redis iteration and fsync covers more events; a lone event on an idle
# heraldd goes out at once; under "everysec" nothing ever waits. Counted
# by heraldd's own metrics, not by a clock. With [redis] script_batch =
# 32768 (off by default), under always a grouped send's runs of writes of
# 32 KiB or more go out as herald_pipe scripts (router/redispipe.c:
# herald_redis_script_batches_total); never under everysec. Every event of a burst is
# accepted and delivered either way. heraldd reaches Redis through
# redisproxy.py, which holds each write carrying herald_accept for 20 ms:
# replies are then outstanding while the burst's next turns run, however
# fast or slow the build (under ASan on a busy box Redis used to answer
# before the next turn, and nothing had to wait).
. "$HERALD_SRC/tests/integration/lib.sh"

metric() { # NAME: its value on /metrics (0 when absent)
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
		awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# run_burst FSYNC PREFIX: a fresh heraldd on a Redis with that appendfsync,
# one lone event, then a burst of 3000 events 1024 at a time
run_burst() {
	rcli CONFIG SET appendfsync "$1" >/dev/null
	rm -f "$T/log/delivery.log"
	start_heraldd
	lone0=$(metric herald_redis_lone_sends_total)
	ack=$(publish '{"event_id":"'"$2"'-lone","service":"dvla","citizen_id":"c-1","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}')
	expect_eq "$1: a lone event is accepted" '{"event_id":"'"$2"'-lone","status":"accepted"}' "$ack"
	wait_for 10 grep -q "$2-lone: .*status=delivered" "$T/log/delivery.log"
	expect_grep "$1: the lone event is delivered" "$2-lone: .*status=delivered" "$T/log/delivery.log"
	check "$1: the lone event's writes went out with nothing outstanding (a lone send)" \
		test "$(metric herald_redis_lone_sends_total)" -gt "$lone0"
	"$BIN/tests/bench/loadgen" -e "tcp://127.0.0.1:$INGEST_PORT" -n 3000 -w 1024 -c 4 \
		-p "$2" -t 30 >"$T/loadgen.$1.out" 2>&1
	expect_eq "$1: every event of the burst is accepted" 0 $?
	wait_for 30 sh -c "[ \$(grep -c '$2-[0-9]*: .*status=delivered' '$T/log/delivery.log') -ge 3000 ]"
	expect_eq "$1: every event of the burst is delivered" 3000 \
		"$(grep -c "$2-[0-9]*: .*status=delivered" "$T/log/delivery.log")"
	HELD=$(metric herald_redis_held_sends_total)
	SENDS=$(metric herald_redis_send_commands_count)
	TURNS=$(metric herald_loop_turn_seconds_count)
	SCRIPTS=$(metric herald_redis_script_batches_total)
	SCRIPTED=$(metric herald_redis_script_commands_total)
	diag "$1: $SENDS sends in $TURNS turns, $HELD turns held, $SCRIPTS scripts of $SCRIPTED commands"
	stop_heraldd
}

start_redis
seed_file_citizens 4
start_redisproxy proxy --delay-on herald_accept --delay-ms 20
REDIS_PORT=$PROXY_PORT write_conf
# herald_pipe is off by default ([redis] script_batch = 0): on here, with
# every write on the main connection (state_connections = 0), the one whose
# grouped sends it packs
sed -i 's|^\[redis\]$|&\nscript_batch = 32768\nstate_connections = 0|' "$T/herald.conf"

run_burst always gc-a
check "always: turns waited for the replies outstanding (group commit)" test "$HELD" -gt 0
check "always: fewer sends than loop turns" test "$SENDS" -lt "$TURNS"
expect_eq "always: nothing failed" "" "$(grep -i 'herald_accept failed\|a write failed' "$T/heraldd.out")"
check "always: large grouped sends went out as herald_pipe scripts ($SCRIPTS)" test "$SCRIPTS" -gt 0
check "always: ... of several commands each ($SCRIPTED commands)" test "$SCRIPTED" -ge $((2 * SCRIPTS))

run_burst everysec gc-e
expect_eq "everysec: no turn waits (no fsync per Redis iteration to share)" 0 "$HELD"
expect_eq "everysec: no herald_pipe script (nothing to share an fsync)" 0 "$SCRIPTS"
finish
