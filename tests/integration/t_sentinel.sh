#!/bin/sh
# t_sentinel.sh - high availability on Redis Sentinel (issue #12):
# a master, two replicas and three sentinels on loopback ports; heraldd
# and heraldctl find the master through the sentinels ([redis] sentinels,
# master_name; host and port name a port where nothing listens) and ack an
# event "accepted" only once WAIT says a replica has it (replicas_ack = 1).
# A retrying publisher sends a load; the master is killed with SIGKILL in
# the middle; the sentinels fail over (short down-after-milliseconds);
# heraldd follows (reconnects to the new master, recovers) and every event
# answered "accepted" or "duplicate" is delivered. Two replicas, because
# with replicas_ack = 1 the new master needs a replica of its own.
# New behaviour (fails on main before it: main has no sentinels key and
# connects to the dead port).
. "$HERALD_SRC/tests/integration/lib.sh"

# --- the [redis] keys are strict (heraldd -t) -----------------------------------
REDIS_PORT=$(free_port)
write_conf
cp "$T/herald.conf" "$T/base.conf"
bad() { # bad "what" "KEY LINES" REASON_REGEX
	sed "s|^port = $REDIS_PORT\$|port = $REDIS_PORT\\
$2|" "$T/base.conf" >"$T/bad.conf"
	"$BIN/heraldd" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
	_rc=$?
	if [ $_rc = 1 ] && grep -Eq -- "$3" "$T/bad.out"; then
		ok "heraldd -t refuses $1"
	else
		not_ok "heraldd -t refuses $1 (rc=$_rc)"
		sed 's/^/#   /' "$T/bad.out"
	fi
}
bad "a sentinel without a port" 'sentinels = 127.0.0.1\
master_name = herald' "\[redis\] sentinels = '127.0.0.1': '127.0.0.1': expected host:port"
bad "a sentinel port out of range" 'sentinels = 127.0.0.1:1,127.0.0.1:70000\
master_name = herald' "\[redis\] sentinels = .*: '127.0.0.1:70000': port: expected a port 1..65535"
bad "sentinels without master_name" 'sentinels = 127.0.0.1:26379' \
	'\[redis\] sentinels is set: master_name .* is required too'
bad "sentinels with a socket" "sentinels = 127.0.0.1:26379\\
master_name = herald\\
socket = $T/redis.sock" '\[redis\] socket and sentinels exclude each other'
bad "replicas_ack that is not a number" 'replicas_ack = one' \
	"\[redis\] replicas_ack = 'one': expected an integer 0..64"
bad "a negative replicas_ack" 'replicas_ack = -1' "\[redis\] replicas_ack = '-1'"
bad "replicas_timeout_ms of 0 (WAIT would block for ever)" 'replicas_timeout_ms = 0' \
	"\[redis\] replicas_timeout_ms = '0'"
bad "replicas_timeout_ms over 4 s (a Redis reply may take 5 s at most)" \
	'replicas_timeout_ms = 5s' "\\[redis\\] replicas_timeout_ms = '5s'"
bad "connect_timeout with junk" 'connect_timeout = 2x' "\[redis\] connect_timeout = '2x'"
sed "s|^port = $REDIS_PORT\$|port = $REDIS_PORT\\
sentinels = 127.0.0.1:26379, [::1]:26380\\
master_name = herald\\
replicas_ack = 2\\
replicas_timeout_ms = 1s\\
connect_timeout = 250ms|" "$T/base.conf" >"$T/good.conf"
"$BIN/heraldd" -t -c "$T/good.conf" >"$T/good.out" 2>&1
expect_eq "heraldd -t takes sentinels, master_name, replicas_ack and the timeouts" 0 $?

if ! command -v redis-sentinel >/dev/null 2>&1; then
	skip "redis-sentinel is not installed (scripts/deps.sh)"
	finish
	exit $?
fi

# redis_node NAME PORT [redis-server args]: a server with its data in $T/NAME
redis_node() {
	_n=$1 _p=$2
	shift 2
	mkdir -p "$T/$_n"
	redis-server --port "$_p" --bind 127.0.0.1 --save '' --appendonly yes \
		--appendfsync everysec --dir "$T/$_n" --daemonize no \
		--logfile "$T/$_n/redis.log" "$@" &
	track_pid $!
	eval "PID_$_n=$!"
	wait_for 10 redis-cli -p "$_p" ping || {
		diag "redis $_n did not start"
		exit 1
	}
}
# sentinel_node NAME PORT: a sentinel watching the master as "herald"
sentinel_node() {
	mkdir -p "$T/$1"
	cat >"$T/$1/sentinel.conf" <<EOF
port $2
bind 127.0.0.1
dir $T/$1
logfile $T/$1/sentinel.log
sentinel monitor herald 127.0.0.1 $M_PORT 2
sentinel down-after-milliseconds herald 2000
sentinel failover-timeout herald 4000
sentinel parallel-syncs herald 2
EOF
	redis-sentinel "$T/$1/sentinel.conf" &
	track_pid $!
	wait_for 10 redis-cli -p "$2" ping || {
		diag "sentinel $1 did not start"
		exit 1
	}
}
scli() { redis-cli -p "$S1_PORT" "$@"; }
master_port() { scli SENTINEL get-master-addr-by-name herald | sed -n 2p; }

M_PORT=$(free_port)
R1_PORT=$(free_port)
R2_PORT=$(free_port)
S1_PORT=$(free_port)
S2_PORT=$(free_port)
S3_PORT=$(free_port)
redis_node master "$M_PORT" --repl-diskless-sync-delay 0
redis_node replica1 "$R1_PORT" --replicaof 127.0.0.1 "$M_PORT" --repl-diskless-sync-delay 0
redis_node replica2 "$R2_PORT" --replicaof 127.0.0.1 "$M_PORT" --repl-diskless-sync-delay 0
sentinel_node s1 "$S1_PORT"
sentinel_node s2 "$S2_PORT"
sentinel_node s3 "$S3_PORT"
# the replicas in sync; the sentinels find them and each other (hello
# messages, ~2 s)
ready() {
	[ "$(redis-cli -p "$M_PORT" INFO replication | grep -c 'state=online')" = 2 ] || return 1
	for _s in $S1_PORT $S2_PORT $S3_PORT; do
		redis-cli -p "$_s" SENTINEL ckquorum herald | grep -q '^OK' || return 1
		[ "$(redis-cli -p "$_s" SENTINEL replicas herald | grep -c '^ip$')" = 2 ] ||
			return 1
	done
}
check "2 replicas in sync, 3 sentinels agree on the master and see both" wait_for 30 ready

REDIS_PORT=$(free_port) # nothing listens here: only the sentinels can lead to Redis
write_conf "
[queue]
claim_idle = 2
"
sed -i "s|^port = $REDIS_PORT\$|port = $REDIS_PORT\\
sentinels = 127.0.0.1:$(free_port), 127.0.0.1:$S1_PORT,127.0.0.1:$S2_PORT,127.0.0.1:$S3_PORT\\
master_name = herald\\
replicas_ack = 1\\
replicas_timeout_ms = 500\\
connect_timeout = 300ms|" "$T/herald.conf"
start_heraldd
expect_grep "heraldd found the master through a sentinel (the dead first one skipped)" \
	"info: redis 127.0.0.1:$M_PORT: connected \(master 'herald' from sentinel 127.0.0.1:$S1_PORT\)" \
	"$T/heraldd.out"
expect_grep "... and says so when ready" "heraldd: ready: .*redis 127.0.0.1:$M_PORT," \
	"$T/heraldd.out"
expect_no_grep "the master lists enough replicas for replicas_ack" 'fewer than \[redis\] replicas_ack' \
	"$T/heraldd.out"
redis-cli -p "$M_PORT" HSET herald:citizen:c-ha name Ada channels file locale en >/dev/null

ev() { # ev ID
	printf '{"event_id":"%s","service":"dvla","citizen_id":"c-ha","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}\n' "$1"
}
ev ha-first | "$BIN/heraldctl" -c "$T/herald.conf" publish - >"$T/first.out"
expect_grep "an event is accepted once a replica has it" '"event_id":"ha-first","status":"accepted"' \
	"$T/first.out"
check "the replica has it" wait_for 5 sh -c \
	"redis-cli -p $R1_PORT HGET herald:msg:ha-first status | grep -q ."
"$BIN/heraldctl" -c "$T/herald.conf" status ha-first >"$T/status1.out" 2>&1
expect_eq "heraldctl status reads through the sentinels" 0 $?

# --- kill -9 the master under load --------------------------------------------
# The events come at most 1000 a second (100 every 0.1 s), so the load
# runs on across the kill, and through the failover.
N=3000
feed() {
	i=0
	while [ $i -lt $N ]; do
		ev "ha-$i"
		i=$((i + 1))
		[ $((i % 100)) = 0 ] && sleep 0.1
	done
}
feed | "$BIN/heraldctl" -c "$T/herald.conf" publish -w 20 -t 1000 -r 400 - \
	>"$T/load.out" 2>"$T/load.err" &
PUB=$!
track_pid $PUB
sleep 1
kill -KILL "$PID_master"
wait "$PID_master" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $PID_master\b//")
check "the sentinels promote a replica" wait_for 30 sh -c \
	"p=\$(redis-cli -p $S1_PORT SENTINEL get-master-addr-by-name herald | sed -n 2p); [ \"\$p\" = $R1_PORT ] || [ \"\$p\" = $R2_PORT ]"
NEW=$(master_port)
diag "new master on port $NEW"
wait_for 120 sh -c "! kill -0 $PUB 2>/dev/null"
sleep 0.2
wait $PUB
expect_eq "the retrying publisher got every event acked" 0 $?
PIDS=$(echo "$PIDS" | sed "s/ $PUB\b//")
expect_eq "... one answer line an event" "$N" "$(grep -c '"status":"\(accepted\|duplicate\)"' "$T/load.out")"
expect_grep "heraldd logged the loss of the old master" \
	"warning: redis 127.0.0.1:$M_PORT: connection lost" "$T/heraldd.out"
expect_grep "heraldd followed the failover to the new master" \
	"notice: redis 127.0.0.1:$NEW: reconnected after [0-9.]+s \(master 'herald'" "$T/heraldd.out"

# Every event acked (accepted, or duplicate: accepted by an earlier try)
# is delivered on the file channel, from the new master.
grep -o '"event_id":"[^"]*","status":"\(accepted\|duplicate\)"' "$T/first.out" "$T/load.out" |
	sed 's/.*"event_id":"\([^"]*\)".*/\1/' | sort -u >"$T/acked.ids"
nacked=$(wc -l <"$T/acked.ids")
delivered() {
	grep -o '"event_id": *"[^"]*"' "$T/spool/file.jsonl" 2>/dev/null | sed 's/.*"\([^"]*\)"$/\1/' |
		sort -u >"$T/delivered.ids"
	[ -z "$(comm -23 "$T/acked.ids" "$T/delivered.ids")" ]
}
wait_for 60 delivered
expect_eq "every acked event ($nacked) is delivered: none lost in the failover" "" \
	"$(comm -23 "$T/acked.ids" "$T/delivered.ids" | head -5 | tr '\n' ' ')"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"
diag "$(wc -l <"$T/spool/file.jsonl") deliveries for $nacked events;" \
	"$(grep 'outcome="unavailable"' "$T/metrics") (retried by the publisher)"
"$BIN/heraldctl" -c "$T/herald.conf" status ha-0 >"$T/status2.out" 2>&1
expect_eq "heraldctl follows the failover too" 0 $?
expect_grep "... and reads the state from the new master" 'delivered' "$T/status2.out"

# --- no replica left: WAIT falls short, the answer is "unavailable" ------------
# The master now, not the one promoted above: on a starved machine (the
# sanitizer build beside other work) the sentinels' 1 s down-after can
# fail over a second time, and the replica to kill is whichever is not it.
NEW=$(master_port)
diag "master before the last replica goes: port $NEW"
if [ "$NEW" = "$R1_PORT" ]; then LAST=$PID_replica2; else LAST=$PID_replica1; fi
kill -KILL "$LAST"
wait "$LAST" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $LAST\b//")
wait_for 10 sh -c "redis-cli -p $NEW INFO replication | grep -q '^connected_slaves:0'"
ev ha-alone | "$BIN/heraldctl" -c "$T/herald.conf" publish -t 2000 -r 0 - >"$T/alone.out"
expect_grep "without a replica an event is answered 'unavailable', not 'accepted'" \
	'"event_id":"ha-alone","status":"unavailable","error":"not confirmed by enough Redis replicas, retry later"' \
	"$T/alone.out"
ev ha-alone | "$BIN/heraldctl" -c "$T/herald.conf" publish -t 2000 -r 0 - >"$T/alone2.out"
expect_grep "... and its retry too (not 'duplicate': the replicas do not have it)" \
	'"event_id":"ha-alone","status":"unavailable"' "$T/alone2.out"
expect_grep "heraldd says why" \
	"warning: redis 127.0.0.1:$NEW: WAIT 1: 0 replicas acknowledged within 500 ms" \
	"$T/heraldd.out"
stop_heraldd
finish
