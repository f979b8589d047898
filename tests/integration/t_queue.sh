#!/bin/sh
# t_queue.sh - heraldctl queue, queue shape, hold, release, delete and flush
# (issue 14) against a real heraldd whose SMS gateway answers 503, so that
# messages wait in herald:sched as "retrying".
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
start_redis
write_conf "
[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/status/503
from = +447700900001
timeout = 5
retry_min = 30
retry_max = 60
max_attempts = 10
"
CONF=$T/herald.conf
LOG=$T/log/delivery.log
start_heraldd
ctl() { "$BIN/heraldctl" -c "$CONF" "$@"; }
ev() { # ev ID CITIZEN
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}}' "$1" "$2"
}
sends() { grep -c "$1: .*status=sending" "$LOG"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

for i in 1 2 3 4; do seed_citizen c-$i name "P$i" channels sms phone "+44770090012$i"; done
publish "$(ev q-1 c-1)" "$(ev q-2 c-2)" "$(ev q-3 c-3)" "$(ev q-4 c-4)" >"$T/acks"
expect_eq "four events accepted" 4 "$(grep -c accepted "$T/acks")"
check "all four failed once and wait for a retry" \
	wait_for 20 sh -c "[ \$(grep -c 'status=temporary-failure' '$LOG') -ge 4 ]"
sleep 0.3

# ---- queue ---------------------------------------------------------------------
ctl queue >"$T/q.txt" 2>&1
expect_grep "queue lists q-1 as retrying on sms for dvla" '^q-1 +dvla +sms +retrying ' "$T/q.txt"
expect_grep "queue ends with a count summary" '^-- 4 messages not final:.* 4 retrying' "$T/q.txt"
expect_grep "queue shows the last reason" '^q-2 .*503' "$T/q.txt"
ctl queue --json >"$T/q.json"
expect_eq "queue --json: total" 4 "$(jq_py 'd["total"]' <"$T/q.json")"
expect_eq "queue --json: retrying count" 4 "$(jq_py 'd["counts"]["retrying"]' <"$T/q.json")"
expect_eq "queue --json: attempts and next try" "1 True" \
	"$(jq_py 'd["messages"][0]["attempts"], "next_try_ms" in d["messages"][0]' <"$T/q.json" | tr -d '(),' )"
expect_eq "queue --service other: none" 0 "$(ctl queue --json --service other | jq_py 'd["total"]')"
expect_eq "queue --channel sms --state retrying: 4" 4 \
	"$(ctl queue --json --channel sms --state retrying | jq_py 'd["total"]')"
expect_eq "queue --older-than 1h: none" 0 "$(ctl queue --json --older-than 1h | jq_py 'd["total"]')"
ctl queue --state nonsense >/dev/null 2>&1
expect_eq "queue --state nonsense: usage error" 2 $?

# ---- queue shape -----------------------------------------------------------------
ctl queue shape >"$T/shape.txt"
expect_grep "shape: a row for sms, all four in the first bucket" '^sms +4 +4 +0 ' "$T/shape.txt"
expect_grep "shape: the TOTAL row" '^TOTAL +4 ' "$T/shape.txt"
expect_eq "shape --by service --json" 4 \
	"$(ctl queue shape --by service --json | jq_py 'd["rows"]["dvla"]["total"]')"

# ---- hold: skipped by heraldd until released -------------------------------------
ctl hold q-1 >"$T/hold.out" 2>&1
expect_eq "hold q-1 succeeds" 0 $?
expect_eq "q-1 is in herald:held" 1 "$(rcli SISMEMBER herald:held q-1)"
expect_eq "queue shows q-1 held" held "$(ctl queue --json | jq_py '[m["state"] for m in d["messages"] if m["id"]=="q-1"][0]')"
expect_eq "the hold is logged with the operator's name" "$(id -un) hold q-1" \
	"$(rcli LINDEX herald:oplog 0 | jq_py 'd["user"], d["action"], d["id"]' | tr -d "(),'")"
rcli ZADD herald:sched 0 q-1 >/dev/null # due now: heraldd must still skip it
sleep 1.5
expect_eq "a held message due is not sent" 1 "$(sends q-1)"
check "a held message due is put back a minute later" \
	python3 -c "import sys,time; sys.exit(0 if float('$(rcli ZSCORE herald:sched q-1)') > time.time()*1000 + 50000 else 1)"
ctl hold nope >/dev/null 2>&1
expect_eq "hold of an unknown id: exit 1" 1 $?

# a held message already back on a stream (queued) is held in prepare by
# the instance that reads it (its copy of herald:held follows
# herald:held:ver within a second)
ctl hold q-4 >/dev/null 2>&1
expect_eq "hold q-4" 0 $?
sleep 1
rcli ZREM herald:sched q-4 >/dev/null
rcli XADD herald:q:normal '*' id q-4 c c-4 t q-4 >/dev/null
check "a held message read from a stream is rescheduled, not sent" \
	wait_for 5 grep -q 'q-4: .*status=scheduled (held by an operator)' "$LOG"
expect_eq "... and not sent again" 1 "$(sends q-4)"
q4_held() { [ "$(ctl queue --json | jq_py '[m["state"] for m in d["messages"] if m["id"]=="q-4"][0]')" = held ]; }
check "... and back in the schedule, held" wait_for 3 q4_held

# ---- flush: retry now (held ones stay) -------------------------------------------
ctl flush -y >"$T/flush.out" 2>&1
expect_eq "flush -y succeeds" 0 $?
check "flushed messages are retried at once" \
	wait_for 10 sh -c "[ \$(grep -c 'q-2: .*status=sending' '$LOG') -ge 2 ]"
sleep 0.5
expect_eq "the held one was not flushed" 1 "$(sends q-1)"
rcli LRANGE herald:oplog 0 -1 >"$T/oplog"
expect_grep "flush is logged" '"action":"flush","id":"q-2"' "$T/oplog"

# ---- release: due now ------------------------------------------------------------
ctl release q-1 >/dev/null 2>&1
expect_eq "release q-1 succeeds" 0 $?
expect_eq "q-1 left herald:held" 0 "$(rcli SISMEMBER herald:held q-1)"
check "a released message is sent at once" wait_for 10 sh -c "[ \$(grep -c 'q-1: .*status=sending' '$LOG') -ge 2 ]"

# ---- delete --------------------------------------------------------------------
sleep 0.5
ctl delete q-3 >"$T/del.out" 2>&1
expect_eq "delete q-3 succeeds" 0 $?
expect_eq "q-3 is final as deleted" "deleted 1" "$(rcli HMGET herald:msg:q-3 status final | tr '\n' ' ' | sed 's/ $//')"
expect_eq "its reason names the operator" "deleted by operator $(id -un)" "$(rcli HGET herald:msg:q-3 reason)"
expect_eq "q-3 left the schedule" "" "$(rcli ZSCORE herald:sched q-3)"
check "the journey records the delete" sh -c "redis-cli -p $REDIS_PORT LRANGE herald:tx:q-3 -1 -1 | grep -q '\"status\":\"deleted\"'"
expect_eq "queue no longer lists q-3" 0 "$(ctl queue --json | jq_py 'len([m for m in d["messages"] if m["id"]=="q-3"])')"

# by filter: confirmation unless -y
echo n | ctl delete --service dvla >/dev/null 2>&1
expect_eq "delete by filter, not confirmed: exit 1" 1 $?
expect_eq "... and nothing deleted" 3 "$(ctl queue --json | jq_py 'd["total"]')"
ctl delete q-1 --service dvla >/dev/null 2>&1
expect_eq "ids and filters together: usage error" 2 $?
echo y | ctl hold --service dvla --state retrying >/dev/null 2>&1
expect_eq "hold by filter, confirmed" 0 $?
expect_eq "... every retrying one held" 3 "$(rcli SCARD herald:held)"
ctl release --service dvla -y >/dev/null 2>&1
expect_eq "release by filter -y" 0 "$(rcli SCARD herald:held)"

finish
