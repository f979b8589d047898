#!/bin/sh
# t_redis_ops.sh - what heraldd writes to Redis for a message whose first
# attempt succeeds (issue #15 point 4), counted with MONITOR for N events on
# the file channel (deterministic: the commands per message, not a rate):
#   - no herald:ref: SET: nothing looks a file reference up (no receipt(),
#     not email's bounces), so submit does not write it (submit_ref_early);
#   - one EXPIRE per message hash and one per journey, each key with its
#     TTL afterwards;
#   - the message's hash written by the worker at most twice, and its
#     journey appended at most twice (sending and delivered in one turn:
#     once), with all three records (accepted, sending, delivered) in it.
# (A channel whose receipts may overtake the result still gets its
# reference at submit: t_receipt_race.)
. "$HERALD_SRC/tests/integration/lib.sh"

N=40
start_redis
write_conf
start_heraldd
seed_citizen c-ops name "Ada" channels file locale en

redis-cli -p "$REDIS_PORT" MONITOR >"$T/monitor.out" 2>/dev/null &
MON_PID=$!
track_pid $MON_PID
wait_for 5 grep -q OK "$T/monitor.out" || diag "MONITOR said nothing yet"

i=1
while [ $i -le $N ]; do
	printf '{"event_id":"ops-%d","service":"dvla","citizen_id":"c-ops","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}\n' $i
	i=$((i + 1))
done >"$T/events"
"$BIN/heraldctl" -c "$T/herald.conf" publish - <"$T/events" >"$T/acks" 2>&1
expect_eq "all $N accepted" $N "$(grep -c '"status":"accepted"' "$T/acks")"
delivered() { [ "$(grep -c '"status":"delivered"' "$T/log/delivery.jsonl")" -ge $N ]; }
check "all $N delivered on the file channel" wait_for 30 delivered
sleep 0.5 # the turn's last writes
stop_pid "$MON_PID"

# client commands only (not those of the Lua function herald_accept)
grep -v '\[0 lua\]' "$T/monitor.out" >"$T/client.out"
count() { grep -c "\"$1\" \"$2" "$T/client.out"; }
set_ref=$(count SET herald:ref:)
exp_msg=$(count EXPIRE herald:msg:ops-)
exp_tx=$(count EXPIRE herald:tx:ops-)
hset_msg=$(count HSET herald:msg:ops-)
rpush_tx=$(count RPUSH herald:tx:ops-)
diag "for $N messages: SET ref $set_ref, EXPIRE hash $exp_msg, EXPIRE journey $exp_tx," \
	"HSET hash $hset_msg, RPUSH journey $rpush_tx"
expect_eq "no provider reference written for the file channel" 0 "$set_ref"
expect_eq "one EXPIRE per message hash" $N "$exp_msg"
expect_eq "one EXPIRE per journey" $N "$exp_tx"
check "the worker writes a message's hash at most twice" test "$hset_msg" -le $((2 * N))
check "the worker appends to a journey at most twice" test "$rpush_tx" -le $((2 * N))

nottl=0
i=1
while [ $i -le $N ]; do
	for k in "herald:msg:ops-$i" "herald:tx:ops-$i"; do
		t=$(rcli TTL "$k")
		[ "$t" -gt 0 ] 2>/dev/null || {
			nottl=$((nottl + 1))
			diag "$k: TTL $t"
		}
	done
	i=$((i + 1))
done
expect_eq "every message hash and journey has its TTL" 0 "$nottl"
expect_eq "the journey holds accepted, sending, delivered" "accepted sending delivered" \
	"$(rcli LRANGE herald:tx:ops-7 0 -1 | python3 -c 'import json, sys
print(" ".join(json.loads(l)["status"] for l in sys.stdin if l.strip()))')"
expect_eq "the hash says delivered" delivered "$(rcli HGET herald:msg:ops-7 status)"

finish
