#!/bin/sh
# t_leases.sh - issue #12, the stream's share: what an instance holds is
# neither taken again nor lost (router/lease.c, router/stream.c).
#
#  1. In-flight claim: claim_idle = 2 s and an SMS gateway answering after
#     5 s, the Redis connection cut once meanwhile: the entry stays leased
#     while the plugin has it, so one POST and one "sent" (main before the
#     leases: XAUTOCLAIM took its own in-flight entry every second once it
#     was 2 s idle, and the reconnect's recover took it back: 3 POSTs).
#  2. Cut read: a proxy cuts the Redis connection right after heraldd asks
#     for the citizen's record: the message is delivered after the
#     reconnect, never "unknown citizen" (main: permanent-failure).
#  3. Trim race: two instances on one Redis, instance A trimming every
#     100 ms through a proxy that holds its XINFO 1.5 s (main's trim read
#     XPENDING, then XINFO GROUPS, then trimmed: a read of B in between
#     was trimmed away while pending), B killed and restarted with its
#     entries in flight: every event is sent (main: the trimmed entries came
#     back empty at B's recovery and were acknowledged away).
. "${HERALD_SRC:-.}/tests/integration/lib.sh"
. "$HERALD_SRC/tests/integration/sms_lib.sh"

ev() { # ev ID CITIZEN CHANNEL
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"},"channels":["%s"]}' "$1" "$2" "$3"
}

# gateway DELAY RECORD OUT: a JSON SMS gateway answering after DELAY s.
gateway() {
	GW_PORT=$(free_port)
	: >"$2"
	python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW_PORT" "$2" --delay "$1" \
		>"$3" 2>&1 &
	track_pid $!
	wait_for 10 grep -q listening "$3"
}

sms_conf() {
	printf '[channel.sms]\nprofile = json\nurl = http://127.0.0.1:%s/json\ntoken = t\nfrom = +447700900001\ntimeout = 30\n' "$1"
}


start_redis
# ---- 0. [queue] trim_interval is read strictly ---------------------------
for bad in 5ms 2x -1; do
	fresh_ports
	write_conf "
[queue]
trim_interval = $bad"
	"$BIN/heraldd" -c "$T/herald.conf" -t >"$T/t.out" 2>&1
	expect_eq "trim_interval = $bad is refused" 1 $?
	expect_grep "trim_interval = $bad: the message names the key" "trim_interval" "$T/t.out"
done
fresh_ports
write_conf "
[queue]
trim_interval = 250ms"
"$BIN/heraldd" -c "$T/herald.conf" -t >"$T/t.out" 2>&1
expect_eq "trim_interval = 250ms is accepted" 0 $?

seed_citizen c-sms name Ada channels sms phone +447700900201 locale en
seed_citizen c-file name Ada channels file locale en

# heraldd reaches Redis through a proxy that cuts the connection on
# SIGUSR1, or after SIGUSR2 right after a citizen read goes out
start_redisproxy proxy --cut-on "herald:citizen:"

# ---- 1. in-flight entries are not taken again by their own instance -------
# (claim every second once 2 s idle; a reconnect while the gateway has it)
gateway 5 "$T/gw1.jsonl" "$T/gw1.out"
fresh_ports
RP=$REDIS_PORT
REDIS_PORT=$PROXY_PORT write_conf "
[queue]
claim_idle = 2

$(sms_conf "$GW_PORT")"
REDIS_PORT=$RP
start_heraldd
publish "$(ev lease-1 c-sms sms)" >"$T/pub1.out" 2>&1
sleep 1.5
kill -USR1 "$PROXY_PID" # Redis lost for a moment while the gateway has it
check "slow gateway: heraldd reconnected" wait_for 10 grep -q "reconnected after" \
	"$T/heraldd.out"
check "slow gateway: the message is sent" \
	wait_for 20 grep -Eq " lease-1: .*status=sent" "$T/log/delivery.log"
sleep 3 # a claim every second would have taken it twice more by now
expect_eq "slow gateway, claim_idle 2 s: one POST" 1 "$(grep -c '"/json"' "$T/gw1.jsonl")"
expect_eq "slow gateway: one sent record" 1 \
	"$(grep -Ec " lease-1: .*status=sent" "$T/log/delivery.log")"
expect_no_grep "slow gateway: its own entry was never claimed" 'claimed [0-9]+ entries' \
	"$T/heraldd.out"
expect_no_grep "slow gateway: the reconnect took back nothing in flight" \
	'recovered [1-9][0-9]* pending' "$T/heraldd.out"
stop_heraldd

# ---- 2. a read cut by a lost connection decides nothing --------------------
fresh_ports
RP=$REDIS_PORT
REDIS_PORT=$PROXY_PORT write_conf
REDIS_PORT=$RP
start_heraldd
kill -USR2 "$PROXY_PID"
publish "$(ev cut-1 c-file file)" >"$T/pub2.out" 2>&1
check "cut read: the proxy cut the citizen read" wait_for 10 grep -Eq "^cut [0-9]+ on pattern" \
	"$T/proxy.out"
check "cut read: delivered after the reconnect" \
	wait_for 20 grep -Eq " cut-1: .*status=delivered" "$T/log/delivery.log"
expect_no_grep "cut read: no 'unknown citizen' from a missing reply" "cut-1: .*unknown citizen" \
	"$T/log/delivery.log"
expect_grep "cut read: the failed read was left pending" "cut-1: a Redis read failed" \
	"$T/heraldd.out"
stop_heraldd

# ---- 3. trim with two instances: nothing pending is trimmed ----------------
start_redisproxy dproxy --delay-on XINFO --delay-ms 1500 # the cutting one is done with
DPORT=$PROXY_PORT
gateway 6 "$T/gw3.jsonl" "$T/gw3.out"
# instance (consumer) name, Redis port, trim interval
inst_conf() {
	fresh_ports
	RP=$REDIS_PORT
	REDIS_PORT=$2 write_conf "
[queue]
consumer = $1
trim_interval = $3

$(sms_conf "$GW_PORT")"
	REDIS_PORT=$RP
	sed "s|$T/log/delivery|$T/log/$1|" "$T/herald.conf" >"$T/$1.conf"
}
# start_instance NAME: heraldd with $T/NAME.conf, its pid in INST_PID
inst_conf inst-a "$DPORT" 100ms
inst_conf inst-b "$REDIS_PORT" 1h
start_instance inst-a
start_instance inst-b
B_PID=$INST_PID
sleep 1
i=0
while [ $i -lt 10 ]; do
	ev "trim-$i" c-sms sms | "$BIN/heraldctl" -c "$T/inst-b.conf" publish - >>"$T/pub3.out" 2>&1
	sleep 0.25
	i=$((i + 1))
done
sleep 1
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null
start_instance inst-b
all_sent() {
	for _k in 0 1 2 3 4 5 6 7 8 9; do
		cat "$T/log/inst-a.log" "$T/log/inst-b.log" 2>/dev/null |
			grep -Eq " trim-$_k: .*status=sent" || return 1
	done
}
check "trim with two instances, B killed in flight: every event sent" wait_for 40 all_sent
for _k in 0 1 2 3 4 5 6 7 8 9; do
	cat "$T/log/inst-a.log" "$T/log/inst-b.log" 2>/dev/null |
		grep -Eq " trim-$_k: .*status=sent" || diag "trim-$_k: no sent record"
done
diag "$(grep -c delay "$T/dproxy.out") XINFO held by the proxy"
expect_no_grep "trim: no pending entry came back deleted" "deleted or not Herald's" \
	"$T/inst-b.out"
for f in "$T/inst-a.out" "$T/inst-b.out"; do assert_clean_log "$f"; done
finish
