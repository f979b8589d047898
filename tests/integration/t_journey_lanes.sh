#!/bin/sh
# t_journey_lanes.sh - the journeys' own Redis connections ([redis]
# journey_connections, router/jlane.h; issue #15), against a real
# redis-server:
#  - heraldd opens them (named herald-journey-N in CLIENT LIST); 0, the
#    default, opens none
#  - the journeys' RPUSHes come from them, the XACKs from the main connection,
#    and an entry's XACK never reaches Redis before its journey's records
#  - every journey gets its TTL (the EXPIRE NX goes on the same connection)
#  - killing the journey connections mid-burst is an outage like any other:
#    every event delivered, none lost, nothing left pending, a second
#    delivery marked; the journeys that lost records that way (the reason
#    the setting is off by default) are counted, not asserted
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
seed_file_citizens 4
ev() { # ev ID CITIZEN
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}}' "$1" "$2"
}
lanes() { rcli CLIENT LIST | grep -c 'name=herald-journey-' || true; }

# ---- the default: no journey connection -----------------------------------
write_conf ""
start_heraldd
publish "$(ev off-1 c-1)" >/dev/null
wait_for 10 grep -q 'off-1: .*status=delivered' "$T/log/delivery.log"
expect_eq "by default no journey connection" 0 "$(lanes)"
stop_heraldd

# ---- journey_connections = 3 ----------------------------------------------
write_conf ""
sed -i "s|^\[redis\]\$|&\njourney_connections = 3|" "$T/herald.conf"
start_heraldd
wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT CLIENT LIST | grep -c name=herald-journey-) -eq 3 ]"
expect_eq "journey_connections = 3: three connections, named in CLIENT LIST" 3 "$(lanes)"
redis-cli -p "$REDIS_PORT" MONITOR >"$T/monitor" 2>&1 &
MON_PID=$!
track_pid $MON_PID
sleep 0.3
i=1
while [ $i -le 60 ]; do
	publish "$(ev mon-$i c-$((i % 4 + 1)))" >/dev/null
	i=$((i + 1))
done
wait_for 20 sh -c "[ \$(grep -c 'mon-[0-9]*: .*status=delivered' '$T/log/delivery.log') -ge 60 ]"
sleep 0.5
stop_pid $MON_PID
# the client (ip:port) of each command kind
addr_of() { grep "\"$1\" \"$2" "$T/monitor" | sed 's/.*\[0 \([0-9.:]*\)\].*/\1/' | sort -u; }
rp=$(addr_of RPUSH herald:tx:mon-)
xa=$(addr_of XACK herald:q:)
expect_eq "the journeys' RPUSHes come from the three journey connections" 3 "$(echo "$rp" | grep -c .)"
check "and not from the connection that sends the XACKs" \
	sh -c "! echo '$rp' | grep -qx '$xa'"
# Gate: the XADD of mon-N (inside herald_accept) gives the entry id only in
# the XACK; but every XACK line must come after the delivered RPUSH of each
# message it acknowledges. The stream entries' event ids are read back from
# the journeys' delivered records and matched by order: for each message,
# the line number of its delivered RPUSH must be below the line number of
# the first XACK sent after it was delivered.
python3 - "$T/monitor" "$T/log/delivery.jsonl" >"$T/gate.out" <<'PY'
import json, re, sys
mon = open(sys.argv[1]).read().splitlines()
# entry id of each event: the "XADD" inside herald_accept is "*"; take
# them from the XACK ids in order against the accept order instead: Redis
# ids grow with time, and the accept (FCALL) lines give each event's order.
accepts = [m.group(1) for l in mon for m in [re.search(r'"FCALL" "herald_accept" "0" "\d+" "(mon-\d+)"', l)] if m]
acks = []
for n, l in enumerate(mon):
    if '"XACK"' in l:
        for i in re.findall(r'"(\d+-\d+)"', l):
            acks.append((i, n))
acks.sort(key=lambda a: tuple(int(x) for x in a[0].split("-")))
rpush = {}
for n, l in enumerate(mon):
    m = re.search(r'"RPUSH" "herald:tx:(mon-\d+)"', l)
    if m and "delivered" in l:
        rpush[m.group(1)] = n
bad = 0
if len(acks) < len(accepts):
    print("acks", len(acks), "accepts", len(accepts)); bad = 1
for ev, (eid, n) in zip(accepts, acks):
    if ev not in rpush or rpush[ev] > n:
        bad += 1
print("checked", min(len(acks), len(accepts)), "bad", bad)
PY
expect_eq "every XACK reaches Redis after the journey records of its message" \
	"checked 60 bad 0" "$(cat "$T/gate.out")"
ttl=$(rcli TTL herald:tx:mon-7)
check "the journey has its TTL (EXPIRE NX on its connection): $ttl" test "$ttl" -gt 0

# ---- the journey connections killed mid-burst ----------------------------
i=1
while [ $i -le 300 ]; do
	ev "kill-$i" "c-$((i % 4 + 1))"
	echo
	i=$((i + 1))
done >"$T/burst.jsonl"
(while read -r l; do publish "$l" >/dev/null; done <"$T/burst.jsonl") &
PUB=$!
track_pid $PUB
sleep 0.3
for id in $(rcli CLIENT LIST | sed -n 's/^id=\([0-9]*\) .*name=herald-journey-.*/\1/p'); do
	rcli CLIENT KILL ID "$id" >/dev/null
done
wait "$PUB"
wait_for 30 sh -c "[ \$(grep 'kill-[0-9]*: .*status=delivered' '$T/log/delivery.log' | sed 's/.* \(kill-[0-9]*\): .*/\1/' | sort -u | wc -l) -ge 300 ]"
expect_eq "all 300 events of the burst delivered" 300 \
	"$(grep 'kill-[0-9]*: .*status=delivered' "$T/log/delivery.log" | sed 's/.* \(kill-[0-9]*\): .*/\1/' | sort -u | wc -l)"
undup=$(grep 'kill-[0-9]*: .*status=delivered' "$T/log/delivery.log" | grep -vc 'dup=possible' || true)
dups=$(grep 'kill-[0-9]*: .*status=delivered' "$T/log/delivery.log" | sed 's/.* \(kill-[0-9]*\): .*/\1/' | sort | uniq -d | wc -l)
check "a message delivered twice is marked (dup=possible): $dups twice, $undup unmarked records" \
	test "$undup" -ge 300
expect_grep "the loss is an outage heraldd reports" 'journey connection was lost' "$T/heraldd.out"
check "nothing left pending in the group" \
	wait_for 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XPENDING herald:q:normal herald | head -n 1)\" = 0 ]"
wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT CLIENT LIST | grep -c name=herald-journey-) -eq 3 ]"
expect_eq "the journey connections are back" 3 "$(lanes)"
nostart=0
nodeliv=0
i=1
while [ $i -le 300 ]; do
	rcli LRANGE "herald:tx:kill-$i" 0 -1 >"$T/j"
	head -n 1 "$T/j" | grep -q '"status":"accepted"' || nostart=$((nostart + 1))
	grep -q '"status":"delivered"' "$T/j" || nodeliv=$((nodeliv + 1))
	i=$((i + 1))
done
diag "journeys without their accepted record: $nostart, without delivered: $nodeliv (of 300)"
finish
