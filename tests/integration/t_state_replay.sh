#!/bin/sh
# t_state_replay.sh - state writes a lost connection did not confirm are sent
# again after the reconnect (router/jlane.c), unless kept longer than
# [queue] claim_idle (last round), so a message whose result was
# recorded just before the cut is not sent a second time, and its journey
# keeps every record. Real redis-server and a slow HTTP SMS gateway:
#   10 SMS go out ("sending" is in Redis); CLIENT PAUSE WRITE holds every
#   write Redis receives unexecuted; the gateway answers; heraldd records
#   "sent" (delivery log) and sends the writes, which wait in Redis's input
#   buffers; every heraldd connection is killed (the held writes die with
#   them); Redis is unpaused.
# Without the replay the hashes still say "sending": the entries, taken
# again, are sent a second time (marked dup=possible) and the "sent"
# records are missing from the journeys until then. Run with the state
# connections off (everything on the main connection) and with 3.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
GW_PORT=$(free_port)
python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW_PORT" "$T/gateway.jsonl" --delay 2 \
	>"$T/gateway.log" 2>&1 &
track_pid $!
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/cb"
i=1
while [ $i -le 10 ]; do
	seed_citizen "c-$i" name "Oz $i" channels sms phone "+4477009005$((10 + i))"
	i=$((i + 1))
done
ev() { # ev ID CITIZEN
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Oz","amount":"1","due_date":"1 January 2027"}}' "$1" "$2"
}
nposts() { cat "$T/gateway.jsonl" 2>/dev/null | grep -c '"path": "/json"'; }
# conf CLAIM_IDLE: heraldd's conf, the sms channel at the gateway
conf() {
	write_conf "
[queue]
consumer = t-replay
claim_idle = $1

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 10
"
}
# publish_ten: events $P-1 .. $P-10 to citizens c-1 .. c-10, in one call
publish_ten() {
	set --
	i=1
	while [ $i -le 10 ]; do
		set -- "$@" "$(ev "$P-$i" "c-$i")"
		i=$((i + 1))
	done
	publish "$@" >/dev/null
}

round() { # round PREFIX STATE_CONNECTIONS
	P=$1 L=$2
	base=$(nposts)
	conf 30
	sed -i "s|^\[redis\]\$|&\nstate_connections = $L|" "$T/herald.conf"
	start_heraldd
	publish_ten
	wait_for 10 sh -c "[ \$(grep -c '\"path\": \"/json\"' '$T/gateway.jsonl') -ge $((base + 10)) ]"
	sleep 0.5 # the "sending" writes are in Redis
	rcli CLIENT PAUSE 20000 WRITE >/dev/null
	wait_for 10 sh -c "[ \$(grep -c ' $P-[0-9]*: .*status=sent' '$T/log/delivery.log') -ge 10 ]"
	sleep 0.5 # the "sent" writes wait in Redis, unexecuted
	rcli CLIENT KILL TYPE normal SKIPME yes >/dev/null
	rcli CLIENT UNPAUSE >/dev/null
	check "[$L] heraldd saw its connection go" \
		wait_for 10 grep -q 'connection lost\|connection closed' "$T/heraldd.out"
	check "[$L] the writes not confirmed are sent again after the reconnect" \
		wait_for 10 grep -q 'sending again' "$T/heraldd.out"
	check "[$L] nothing left pending" \
		wait_for 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XPENDING herald:q:normal herald | head -n 1)\" = 0 ]"
	sleep 2 # a re-take would have sent them again by now
	expect_eq "[$L] each SMS reached the gateway once" $((base + 10)) "$(nposts)"
	expect_no_grep "[$L] no record marked as a possible duplicate" " $P-[0-9]*: .*dup=possible" \
		"$T/log/delivery.log"
	bad=0
	i=1
	while [ $i -le 10 ]; do
		rcli HGET "herald:msg:$P-$i" status >"$T/st"
		rcli LRANGE "herald:tx:$P-$i" 0 -1 >"$T/j"
		grep -qx 'sent' "$T/st" || bad=$((bad + 1))
		[ "$(grep -c '"status":"sent"' "$T/j")" = 1 ] || bad=$((bad + 1))
		i=$((i + 1))
	done
	expect_eq "[$L] every hash says sent, every journey has one sent record" 0 "$bad"
	stop_heraldd
	mv "$T/heraldd.out" "$T/heraldd.$P.out"
}
round one 0
round lanes 3

# ---- kept longer than claim_idle: not sent again ---------------------------
# By then another instance may have claimed the entries and written newer
# state over them: the kept writes are dropped (logged) and the entries are
# taken again as they were before, sent again and marked. heraldd reaches
# Redis through redisproxy.py, which holds every write carrying a "sent"
# record 30 s (a stuck link); claim_idle is 2 s, so heraldd's next
# synchronous call waits for those writes, gives up after 5 s and drops its
# connections; the proxy then cuts what it still holds (nothing of it
# reaches Redis). The writes are older than claim_idle by then.
P=old L=4
base=$(nposts)
start_redisproxy proxy --delay-on '"status":"sent"' --delay-ms 30000
REDIS_PORT_REAL=$REDIS_PORT
REDIS_PORT=$PROXY_PORT conf 2
start_heraldd
publish_ten
check "a stuck write times out and drops the connections" \
	wait_for 20 grep -q 'state connection was lost\|connection lost' "$T/heraldd.out"
kill -USR1 "$PROXY_PID" # what the proxy still holds never reaches Redis
check "kept past claim_idle: not sent again, and said so" \
	wait_for 20 grep -q 'older than claim_idle: not sent again' "$T/heraldd.out"
check "the entries are taken again: each SMS sent a second time" \
	wait_for 30 sh -c "[ \$(grep -c '\"path\": \"/json\"' '$T/gateway.jsonl') -ge $((base + 20)) ]"
check "each second record is marked dup=possible" \
	wait_for 10 sh -c "[ \$(grep ' $P-[0-9]*: .*status=sent' '$T/log/delivery.log' | grep -c 'dup=possible') -ge 10 ]"
stop_heraldd
REDIS_PORT=$REDIS_PORT_REAL
finish
