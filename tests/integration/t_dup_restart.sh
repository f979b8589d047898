#!/bin/sh
# t_dup_restart.sh - an SMS handed to a slow gateway when heraldd stops
# (kill -9, or SIGTERM with a drain_timeout shorter than the gateway) is
# sent again after the restart as the same attempt with the same provider
# reference (so a gateway that de-duplicates can), and every record of
# that resend is marked as a possible duplicate: "dup=possible" in the text
# log, "possible_duplicate": true in the JSON, and
# herald_possible_duplicates_total. SIGTERM exits within drain_timeout and
# a little, not when the gateway answers; what the plugin had not started
# (max_in_flight = 1) is abandoned, not sent, and after the restart sent
# once, unmarked.
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
start_redis
# /slow answers 200 after 5 s; a fixed consumer name: the restarted heraldd
# takes back what the stopped one left pending
write_conf "
[queue]
consumer = t-dup
drain_timeout = 1

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/slow
from = +447700900001
timeout = 10
max_in_flight = 1
"
start_heraldd
seed_citizen c-d name Dee channels sms phone "+447700900779"
ev() { # ev ID
	printf '{"event_id":"%s","service":"dvla","citizen_id":"c-d","template":"payment-due","personalisation":{"name":"Dee","amount":"£10","due_date":"1 January 2027"}}' "$1"
}
LOG=$T/log/delivery.log
JSON=$T/log/delivery.jsonl
posts() { # posts ID: the references the gateway was given for event ID's SMS
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    j = r.get("json") or {}
    if r.get("path") == "/slow" and sys.argv[2] in (j.get("text") or "") + "|" + json.dumps(j):
        print(j.get("reference"))
' "$T/gateway.jsonl" "$1" 2>/dev/null
}
nposts() { grep -c '"path": "/slow"' "$T/gateway.jsonl" 2>/dev/null || echo 0; }

# ---- kill -9 while the gateway holds the SMS
publish "$(ev dup-kill)" >/dev/null
check "kill: the gateway got the SMS" wait_for 10 sh -c "[ \$(grep -c '\"path\": \"/slow\"' '$T/gateway.jsonl') -ge 1 ]"
sleep 0.3 # the "sending" write reaches Redis at the end of the turn
kill -KILL "$HERALDD_PID"
wait "$HERALDD_PID" 2>/dev/null
expect_no_grep "kill: no answer was recorded before the kill" ' dup-kill: .*status=sent' "$LOG"
start_heraldd
check "kill: after the restart it is sent" wait_for 20 grep -q ' dup-kill: .*status=sent' "$LOG"
expect_eq "kill: the gateway got it twice" 2 "$(nposts)"
R1=$(grep '"path": "/slow"' "$T/gateway.jsonl" | sed -n 1p | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["json"]["reference"])')
R2=$(grep '"path": "/slow"' "$T/gateway.jsonl" | sed -n 2p | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["json"]["reference"])')
expect_eq "kill: with the same provider reference both times" "$R1" "$R2"
expect_grep "kill: resent as the same attempt, marked" \
	' dup-kill: .*channel=sms.*attempt=1, dup=possible, .*status=sending' "$LOG"
expect_grep "kill: its sent record is marked too" ' dup-kill: .*attempt=1, dup=possible, .*status=sent' "$LOG"
expect_no_grep "kill: no attempt 2" ' dup-kill: .*attempt=2' "$LOG"
expect_grep "kill: JSON says possible_duplicate" '"event_id":"dup-kill".*"possible_duplicate":true.*"status":"sent"' "$JSON"
check "kill: counted in /metrics" sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q '^herald_possible_duplicates_total{channel=\"sms\"} 1\$'"

# ---- SIGTERM while the gateway holds the SMS: out within drain_timeout
publish "$(ev dup-term)" >/dev/null
check "term: the gateway got the SMS" wait_for 10 sh -c "[ \$(grep -c '\"path\": \"/slow\"' '$T/gateway.jsonl') -ge 3 ]"
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$HERALDD_PID"
n=0
while alive "$HERALDD_PID" && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
ms=$((($(date +%s%N) - t0) / 1000000))
diag "heraldd exited ${ms} ms after SIGTERM (drain_timeout 1 s, gateway answers after 5 s)"
check "term: exited within drain_timeout + 2 s" [ "$ms" -lt 3000 ]
wait "$HERALDD_PID" 2>/dev/null
start_heraldd
check "term: after the restart it is sent" wait_for 20 grep -q ' dup-term: .*status=sent' "$LOG"
R3=$(grep '"path": "/slow"' "$T/gateway.jsonl" | sed -n 3p | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["json"]["reference"])')
R4=$(grep '"path": "/slow"' "$T/gateway.jsonl" | sed -n 4p | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["json"]["reference"])')
expect_eq "term: the same provider reference after the restart" "$R3" "$R4"
expect_no_grep "term: not attempt 2" ' dup-term: .*attempt=2' "$LOG"
expect_grep "term: the resend is the same attempt" ' dup-term: .*attempt=1, .*status=sent' "$LOG"
expect_eq "term: the gateway got it twice, no more" 4 "$(nposts)"

# ---- SIGTERM with three queued behind one at the gateway
publish "$(ev dup-q1)" "$(ev dup-q2)" "$(ev dup-q3)" >/dev/null
check "queue: the gateway got the first" wait_for 10 sh -c "[ \$(grep -c '\"path\": \"/slow\"' '$T/gateway.jsonl') -ge 5 ]"
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$HERALDD_PID"
n=0
while alive "$HERALDD_PID" && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
ms=$((($(date +%s%N) - t0) / 1000000))
check "queue: exited within drain_timeout + 2 s ($ms ms)" [ "$ms" -lt 3000 ]
wait "$HERALDD_PID" 2>/dev/null
expect_eq "queue: the two not started were not sent" 5 "$(nposts)"
start_heraldd
for id in dup-q1 dup-q2 dup-q3; do
	check "queue: $id sent after the restart" wait_for 30 grep -q " $id: .*status=sent" "$LOG"
	expect_no_grep "queue: $id is attempt 1" " $id: .*attempt=2" "$LOG"
done
expect_eq "queue: the gateway got 3 + 1 more" 8 "$(nposts)"
expect_eq "queue: one of them is marked (the one the gateway had)" 1 \
	"$(grep -E ' dup-q[123]: .*dup=possible.*status=sent' "$LOG" | wc -l | tr -d ' ')"
stop_heraldd
finish
