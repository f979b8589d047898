#!/bin/sh
# t_deleted.sh - a message an operator deletes (heraldctl delete) reaches
# the delivery logs (text and JSON, contact masked) and the service's status
# callback as one "deleted" record: exactly once, also when its stream
# entry comes twice and across heraldd restarts, and also when heraldd was
# stopped at the time of the delete.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
start_sms_gateway
start_callback_receiver
write_conf "
[service.dvla]
callback_url = http://127.0.0.1:$CB_PORT/herald/status
callback_secret = s3cret-for-deleted-tests

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/status/503
from = +447700900001
timeout = 5
retry_min = 600
retry_max = 900
max_attempts = 10
"
CONF=$T/herald.conf
LOG=$T/log/delivery.log
JLOG=$T/log/delivery.jsonl
CHECK="python3 $HERALD_SRC/tests/integration/callback_check.py"
start_heraldd
ctl() { "$BIN/heraldctl" -c "$CONF" "$@"; }
later=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
ev() { # ev ID CITIZEN [EXTRA_JSON]
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}%s}' "$1" "$2" "${3:-}"
}
deleted_lines() { grep -c " $1: .*status=deleted" "$LOG"; }
deleted_json() { grep -c "\"event_id\":\"$1\".*\"status\":\"deleted\"" "$JLOG"; }
deleted_cbs() { $CHECK statuses "$T/cb.jsonl" | grep -c "^$1 deleted$"; }
settled() { # settled: no entry pending or unread on herald:q:normal
	[ "$(rcli XPENDING herald:q:normal herald | head -n 1)" = 0 ] &&
		[ "$(rcli XLEN herald:q:normal)" = 0 ]
}

seed_citizen c-1 name Ada channels file
seed_citizen c-2 name Bea channels sms phone +447700900123
publish "$(ev d-1 c-1 ",\"send_after\":\"$later\"")" "$(ev d-2 c-2)" \
	"$(ev d-3 c-1 ",\"send_after\":\"$later\"")" >"$T/acks"
expect_eq "three events accepted" 3 "$(grep -c accepted "$T/acks")"
check "d-1 and d-3 wait for send_after, d-2 for a retry" wait_for 20 sh -c \
	"grep -q 'd-1: .*status=scheduled' '$LOG' && grep -q 'd-3: .*status=scheduled' '$LOG' &&
	 grep -q 'd-2: .*status=temporary-failure' '$LOG'"
check "... all three in the schedule" wait_for 5 sh -c \
	"[ \$(redis-cli -p $REDIS_PORT ZCARD herald:sched) = 3 ]"

# ---- delete while heraldd runs ------------------------------------------------
# heraldctl tail, collecting what the PUB socket says of deletes
ctl tail --status deleted --count 2 >"$T/tail.out" 2>&1 &
TAIL_PID=$!
track_pid $TAIL_PID
sleep 0.5
ctl delete d-1 d-2 >"$T/del.out" 2>&1
expect_eq "delete d-1 d-2 succeeds" 0 $?
check "the delivery log gets d-1's deleted record" wait_for 10 grep -q 'd-1: .*status=deleted' "$LOG"
check "... and d-2's" wait_for 10 grep -q 'd-2: .*status=deleted' "$LOG"
expect_grep "the record has the usual shape and names the operator" \
	" d-2: tx=d-2, citizen=c-2, channel=sms, to=[^,]+, attempt=1, delay=[0-9.]+, delays=[0-9./-]+, dsn=-, status=deleted \\(deleted by operator $(id -un)\\)" "$LOG"
expect_grep "... its contact masked" 'd-2: .*to=\+44\*+123,.*status=deleted' "$LOG"
expect_no_grep "the phone number is never in the logs" '447700900123' "$LOG"
expect_no_grep "... nor in the JSON log" '447700900123' "$JLOG"
check "the JSON log gets both deleted records" wait_for 5 sh -c \
	"[ \$(grep -c '\"status\":\"deleted\"' '$JLOG') -eq 2 ]"
expect_eq "the JSON record: channel, masked to, status, reason" \
	"sms +44*******123 deleted deleted by operator $(id -un)" \
	"$(grep '"event_id":"d-2".*"status":"deleted"' "$JLOG" | python3 -c \
		'import json,sys; d=json.loads(sys.stdin.readline()); print(d["channel"], d["to"], d["status"], d["reason"])')"
check "the service's callback gets d-1 deleted" wait_for 15 sh -c "$CHECK statuses '$T/cb.jsonl' | grep -q '^d-1 deleted$'"
check "... and d-2 deleted" wait_for 15 sh -c "$CHECK statuses '$T/cb.jsonl' | grep -q '^d-2 deleted$'"
check "the PUB socket says both (heraldctl tail --status deleted)" wait_for 5 sh -c \
	"grep -q 'd-1: .*status=deleted' '$T/tail.out' && grep -q 'd-2: .*status=deleted' '$T/tail.out'"
check "the stream entries are taken and acknowledged" wait_for 5 settled
expect_eq "d-1 is marked as told (deleted_reported)" 1 \
	"$(rcli HEXISTS herald:msg:d-1 deleted_reported)"
expect_eq "d-2's status stays deleted, final" "deleted 1" \
	"$(rcli HMGET herald:msg:d-2 status final | paste -sd' ')"
expect_eq "d-1 and d-2 left the schedule" "" "$(rcli ZSCORE herald:sched d-1)$(rcli ZSCORE herald:sched d-2)"
expect_eq "the journey has one deleted record (heraldctl's)" 1 \
	"$(rcli LRANGE herald:tx:d-2 0 -1 | grep -c '"status":"deleted"')"
expect_eq "queue lists only d-3" "d-3" \
	"$(ctl queue --json | python3 -c 'import json,sys; print(" ".join(m["id"] for m in json.load(sys.stdin)["messages"]))')"

# ---- a second entry of a deleted message is acknowledged, not told again ---
rcli XADD herald:q:normal '*' id d-1 c c-1 t d-1 >/dev/null
check "a second entry of d-1 is taken and acknowledged" wait_for 5 settled
sleep 0.5

# ---- delete while heraldd is stopped; then restarts ----------------------------
stop_heraldd
ctl delete d-3 >/dev/null 2>&1
expect_eq "delete d-3 with heraldd stopped succeeds" 0 $?
expect_eq "... its entry waits on the stream" 1 "$(rcli XLEN herald:q:normal)"
expect_eq "... and nothing was told yet" 0 "$(deleted_lines d-3)"
start_heraldd
check "the restarted heraldd tells d-3's delete" wait_for 10 grep -q 'd-3: .*status=deleted' "$LOG"
check "... to the service too" wait_for 15 sh -c "$CHECK statuses '$T/cb.jsonl' | grep -q '^d-3 deleted$'"
check "... and acknowledges its entry" wait_for 5 settled
stop_heraldd
start_heraldd
sleep 1.5 # a turn or two: recover, claim, due
for id in d-1 d-2 d-3; do
	expect_eq "$id: one deleted line in the text log" 1 "$(deleted_lines $id)"
	expect_eq "$id: one deleted record in the JSON log" 1 "$(deleted_json $id)"
	expect_eq "$id: one deleted callback" 1 "$(deleted_cbs $id)"
done
expect_eq "every callback request was answered 200" \
	"$($CHECK count "$T/cb.jsonl")" "$($CHECK count "$T/cb.jsonl" 200)"
finish
