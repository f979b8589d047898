#!/bin/sh
# t_receipts.sh - receipts are taken only under the path of [http]
# public_url: with a secret segment in it, a receipt posted anywhere else
# (the bare /receipts/..., a wrong secret) is refused with 404 and changes
# nothing, and the secret never reaches the operator log. Without a path,
# heraldd warns at start that receipts are not authenticated.
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
start_redis

SECRET=k7Qw2xR9pL4mZ8vN
write_conf "
[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 5
"
sed -i "s|^public_url = .*|public_url = http://127.0.0.1:$HTTP_PORT/hook/$SECRET/|" "$T/herald.conf"
start_heraldd
seed_citizen c-s name Sam channels sms phone "+447700900777"
ev() { # ev ID
	printf '{"event_id":"%s","service":"dvla","citizen_id":"c-s","template":"payment-due","personalisation":{"name":"Sam","amount":"£10","due_date":"1 January 2027"},"deliver_within":600}' "$1"
}
LOG=$T/log/delivery.log
publish "$(ev rc-1)" >/dev/null
check "sent, waiting for its receipt" wait_for 10 grep -q 'rc-1: .*channel=sms.*status=sent' "$LOG"
ref=$(grep '"event_id":"rc-1"' "$T/log/delivery.jsonl" | grep '"status":"sent"' | sed 's/.*"ref":"\([^"]*\)".*/\1/')
expect_grep "the gateway was given the callback under the secret path" \
	"\"callback_url\": *\"http://127.0.0.1:$HTTP_PORT/hook/$SECRET/receipts/sms/json\"" "$T/gateway.jsonl"

post() { # post PATH: a "delivered" receipt for rc-1; prints the HTTP code
	curl -s -o "$T/post.body" -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"reference\":\"$ref\",\"status\":\"delivered\"}" "http://127.0.0.1:$HTTP_PORT$1"
}
expect_eq "a receipt at the bare /receipts/ path is refused" 404 "$(post /receipts/sms/json)"
expect_eq "one under a wrong secret is refused" 404 "$(post /hook/k7Qw2xR9pL4mZ8vX/receipts/sms/json)"
expect_eq "one under a prefix of the secret is refused" 404 "$(post /hook/k7Qw2x/receipts/sms/json)"
sleep 0.5
expect_eq "the refused receipts changed nothing" sent "$(rcli HGET herald:msg:rc-1 status)"
expect_grep "while it waits for its receipt the hash keeps the event" 'Sam' "$(rcli HGET herald:msg:rc-1 event >"$T/ev.before"; echo "$T/ev.before")"
expect_no_grep "nothing was logged as delivered" 'rc-1: .*status=delivered' "$LOG"
expect_grep "the refusal is in the operator log" 'receipt refused: not under the path of \[http\] public_url' \
	"$T/heraldd.out"
expect_eq "the receipt under the secret path is taken" 200 "$(post "/hook/$SECRET/receipts/sms/json")"
check "and delivers the message" wait_for 10 grep -q 'rc-1: .*channel=sms.*status=delivered' "$LOG"
sleep 0.3
expect_eq "delivered by receipt: the event (personal data) is gone from the hash" "" "$(rcli HGET herald:msg:rc-1 event)"
expect_eq "and so is its stream" "" "$(rcli HGET herald:msg:rc-1 stream)"
expect_eq "the status stays" delivered "$(rcli HGET herald:msg:rc-1 status)"
expect_no_grep "the secret never reaches the operator log" "$SECRET" "$T/heraldd.out"
expect_no_grep "nor the delivery log" "$SECRET" "$LOG"
expect_no_grep "no warning about unauthenticated receipts" 'not authenticated' "$T/heraldd.out"
check "/healthz is where it was" curl -sf "http://127.0.0.1:$HTTP_PORT/healthz"
stop_heraldd

# without a path: receipts work as before, and heraldd says they are open
sed -i "s|^public_url = .*|public_url = http://127.0.0.1:$HTTP_PORT|" "$T/herald.conf"
start_heraldd
expect_grep "heraldd warns that receipts are not authenticated" \
	'public_url has no path: receipts at /receipts/ are not authenticated' "$T/heraldd.out"
publish "$(ev rc-2)" >/dev/null
check "rc-2 sent" wait_for 10 grep -q 'rc-2: .*channel=sms.*status=sent' "$LOG"
ref=$(grep '"event_id":"rc-2"' "$T/log/delivery.jsonl" | grep '"status":"sent"' | sed 's/.*"ref":"\([^"]*\)".*/\1/')
expect_eq "a receipt at /receipts/ is taken" 200 "$(post /receipts/sms/json)"
check "and delivers rc-2" wait_for 10 grep -q 'rc-2: .*channel=sms.*status=delivered' "$LOG"
stop_heraldd
assert_clean_log "$T/heraldd.out"
finish
