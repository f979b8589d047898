#!/bin/sh
# t_receipt_race.sh - a delivery receipt that overtakes the answer to the
# send (the gateway posts its DLR, and waits for heraldd to answer it,
# before it answers the send; real Kannel did so in a test) is held until
# the message is "sent" and then applied: the message is delivered, with no
# "unknown reference" in the log and no hop.
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
start_redis
write_conf "
[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/early
from = +447700900001
timeout = 5
"
start_heraldd
seed_citizen c-r name Ria channels sms phone "+447700900778"
ev() { # ev ID
	printf '{"event_id":"%s","service":"dvla","citizen_id":"c-r","template":"payment-due","personalisation":{"name":"Ria","amount":"£10","due_date":"1 January 2027"},"deliver_within":600}' "$1"
}
LOG=$T/log/delivery.log
publish "$(ev race-1)" "$(ev race-2)" >/dev/null
for id in race-1 race-2; do
	check "$id: the early receipt delivers it" \
		wait_for 20 grep -q " $id: .*channel=sms.*status=delivered" "$LOG"
	expect_eq "$id: delivered in Redis" delivered "$(rcli HGET herald:msg:$id status)"
	expect_grep "$id: sent was recorded before delivered" " $id: .*channel=sms.*status=sent " "$LOG"
done
expect_grep "the gateway's receipts were answered 200" '"callback_status": 200' "$T/gateway.jsonl"
expect_no_grep "no receipt was for an unknown reference" 'unknown reference' "$T/heraldd.out"
expect_no_grep "nothing went on to another channel" 'status=(hopped|exhausted)|channel=email' "$LOG"
expect_no_grep "no receipt was taken as late" 'late receipt' "$LOG"
stop_heraldd
finish
