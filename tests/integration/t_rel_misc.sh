#!/bin/sh
# t_rel_misc.sh - issue 12, nothing lost and nothing sent twice unmarked,
# against real servers:
#  A  send_after beyond retention_days is rejected at ingest, with why;
#     one within it is held, its record kept past send_after + retention
#  B  an engagement event sent twice is journaled once, answered duplicate
#  C  an engagement on a channel not configured here is rejected
#  D  a 2 MiB frame is answered "rejected", and the next event on the same
#     connection is still answered
#  E  a flood of one kind of operator log line is rate-limited, and a line
#     says how many were suppressed
#  F  an unknown citizen's event is dead-lettered; once the citizen record
#     is written, heraldctl dead replay re-plans and delivers it
#  G  a scheduled id whose record is gone is logged and counted
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
write_conf "
[queue]
retention_days = 1
"
start_heraldd
LOG=$T/log/delivery.log
OUT=$T/heraldd.out

ev() { # ev ID CITIZEN [extra members]
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}%s}' "$1" "$2" "${3:-}"
}
rfc3339() { # rfc3339 SECONDS_FROM_NOW
	python3 -c 'import sys,datetime; t=datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(seconds=int(sys.argv[1])); print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1"
}
seed_citizen c-a name Ada channels file

# ---- A: send_after and retention --------------------------------------------
publish "$(ev a-far c-a ",\"send_after\":\"$(rfc3339 $((3 * 86400)))\"")" \
	"$(ev a-near c-a ",\"send_after\":\"$(rfc3339 3600)\"")" >"$T/acks-a"
expect_grep "A: send_after three days out, retention one day: rejected" \
	'"event_id":"a-far".*"status":"rejected".*send_after .* is beyond what retention allows \(retention_days 1' "$T/acks-a"
expect_grep "A: send_after within retention: accepted" '"event_id":"a-near","status":"accepted"' "$T/acks-a"
check "A: the near one is scheduled" wait_for 10 grep -q 'a-near: .*status=scheduled' "$LOG"
sleep 0.3
ttl=$(rcli TTL herald:msg:a-near)
check "A: its record lives past send_after + retention (TTL $ttl > 86400 + 3500)" \
	test "$ttl" -gt $((86400 + 3500))
ttl=$(rcli TTL herald:tx:a-near)
check "A: and so does its journey (TTL $ttl)" test "$ttl" -gt $((86400 + 3500))

# ---- B, C: engagement events --------------------------------------------------
eng() { # eng ID CHANNEL
	printf '{"kind":"engagement","event_id":"%s","service":"dvla","transaction_id":"tx-e","citizen_id":"c-a","channel":"%s"}' "$1" "$2"
}
publish "$(eng e-1 file)" >"$T/acks-b1"
publish "$(eng e-1 file)" >"$T/acks-b2"
expect_grep "B: the first engagement is accepted" '"event_id":"e-1","status":"accepted"' "$T/acks-b1"
expect_grep "B: the same one again is a duplicate" '"event_id":"e-1","status":"duplicate"' "$T/acks-b2"
sleep 0.3
expect_eq "B: journaled once in the transaction" 1 \
	"$(rcli LRANGE herald:tx:tx-e 0 -1 | grep -c '"event_id":"e-1"')"
expect_eq "B: written once to the delivery log" 1 "$(grep -c 'e-1: .*status=engaged' "$LOG")"
expect_grep "B: its record names the citizen and service (meta), for status and purge" \
	' dvla c-a$' "$(rcli HGET herald:msg:e-1 meta >"$T/meta-e"; echo "$T/meta-e")"
publish '{"kind":"engagement","event_id":"e-1","service":"hmrc","transaction_id":"tx-h","citizen_id":"c-a","channel":"file"}' >"$T/acks-b3"
expect_grep "B: the same id from another service is its own engagement" \
	'"event_id":"e-1","status":"accepted"' "$T/acks-b3"
check "B: ... kept as hmrc:e-1" wait_for 5 sh -c "redis-cli -p $REDIS_PORT HGET herald:msg:hmrc:e-1 status | grep -q engaged"
expect_eq "B: ... and its transaction prefers file" file "$(rcli GET herald:engaged:tx-h)"
publish "$(eng e-2 nope)" >"$T/acks-c"
expect_grep "C: engaged on nope: rejected" \
	'"event_id":"e-2".*"status":"rejected".*unknown channel .nope.' "$T/acks-c"
expect_eq "C: nothing recorded for it" "" "$(rcli EXISTS herald:msg:e-2 | grep -v '^0$')"

# ---- D: a frame over the 64 KiB rule -------------------------------------------
python3 -c 'import sys; sys.stdout.write("{\"event_id\":\"big\",\"pad\":\"" + "x" * (2 * 1024 * 1024) + "\"}\n")' >"$T/big"
ev d-1 c-a >>"$T/big"
echo >>"$T/big"
"$BIN/heraldctl" -c "$T/herald.conf" publish -t 5000 -r 0 - <"$T/big" >"$T/acks-d" 2>"$T/acks-d.err"
expect_grep "D: the 2 MiB frame is answered rejected" \
	'"status":"rejected".*frame too large: 20971[0-9]* bytes > 65536' "$T/acks-d"
expect_grep "D: the next event on the connection is answered" '"event_id":"d-1","status":"accepted"' "$T/acks-d"

# ---- E: log flood ----------------------------------------------------------------
: >"$T/flood"
i=0
while [ $i -lt 300 ]; do
	printf '{"event_id":"f-%d","service":"dvla","citizen_id":"c-a","template":"no-such-template"}\n' $i >>"$T/flood"
	i=$((i + 1))
done
"$BIN/heraldctl" -c "$T/herald.conf" publish - <"$T/flood" >"$T/acks-e"
expect_eq "E: every flood event answered rejected" 300 "$(grep -c '"status":"rejected"' "$T/acks-e")"
n=$(grep -c 'notice: rejected f-' "$OUT")
check "E: the operator log took at most ~the burst of them ($n of 300)" test "$n" -lt 60
sleep 1.5
publish '{"event_id":"f-last","service":"dvla","citizen_id":"c-a","template":"no-such-template"}' >/dev/null
check "E: a line says how many were suppressed" \
	wait_for 5 grep -qE 'notice: [0-9]+ similar lines suppressed: rejected %s: service=%s, peer=%s: %s' "$OUT"
s=$(grep -E 'similar lines suppressed: rejected' "$OUT" | sed -E 's/.*: ([0-9]+) similar.*/\1/' | awk '{t+=$1} END {print t+0}')
expect_eq "E: written + suppressed = every rejection (written $n)" 300 "$((n + s))"

# ---- F: unknown citizen, dead-lettered, then replayed --------------------------------
publish "$(ev g-1 c-ghost)" >"$T/acks-f"
expect_grep "F: accepted" '"event_id":"g-1","status":"accepted"' "$T/acks-f"
check "F: a permanent failure: unknown citizen" \
	wait_for 10 grep -q 'g-1: .*status=permanent-failure (unknown citizen c-ghost)' "$LOG"
check "F: on the dead-letter list" wait_for 5 sh -c "redis-cli -p $REDIS_PORT LPOS herald:dead g-1 | grep -q '^[0-9]'"
"$BIN/heraldctl" -c "$T/herald.conf" dead list >"$T/dead-list" 2>&1
expect_grep "F: dead list shows it with its reason" 'g-1.*unknown citizen c-ghost' "$T/dead-list"
seed_citizen c-ghost name Gus channels file
"$BIN/heraldctl" -c "$T/herald.conf" dead replay g-1 >"$T/replay" 2>&1
expect_grep "F: heraldctl dead replay takes it" '^replayed g-1' "$T/replay"
check "F: replayed, re-planned, delivered on file" \
	wait_for 10 grep -q 'g-1: .*channel=file.*status=delivered' "$LOG"
expect_eq "F: off the dead-letter list" "" "$(rcli LPOS herald:dead g-1)"

# ---- G: a scheduled id without its record ----------------------------------------------
rcli ZADD herald:sched 1 gone-1 >/dev/null
check "G: logged" wait_for 10 grep -q 'gone-1: scheduled, but its record is gone' "$OUT"
check "G: counted" wait_for 5 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q '^herald_missing_records_total 1\$'"
expect_eq "G: off the schedule" "" "$(rcli ZSCORE herald:sched gone-1)"

finish
