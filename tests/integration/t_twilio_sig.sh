#!/bin/sh
# t_twilio_sig.sh - with the Twilio profile (account and token) heraldd
# gives the plugin the request headers (herald_http_req version 2) and the
# plugin checks X-Twilio-Signature: a forged receipt (no signature, a
# signature made with another token) is refused with 400 and changes
# nothing; the one signed with the account's token over the callback URL
# and the sorted POST parameters delivers the message.
. "$HERALD_SRC/tests/integration/lib.sh"

TOKEN=s3cr3t-token
start_twilio_heraldd "$TOKEN"
seed_citizen c-s name Sam channels sms phone "+447700900777"
publish '{"event_id":"tw-1","service":"dvla","citizen_id":"c-s","template":"payment-due","personalisation":{"name":"Sam","amount":"£10","due_date":"1 January 2027"},"deliver_within":600}' >/dev/null
LOG=$T/log/delivery.log
check "sent, waiting for its receipt" wait_for 10 grep -q 'tw-1: .*channel=sms.*status=sent' "$LOG"
ref=$(grep '"event_id":"tw-1"' "$T/log/delivery.jsonl" | grep '"status":"sent"' | sed 's/.*"ref":"\([^"]*\)".*/\1/')
URL="http://127.0.0.1:$HTTP_PORT/receipts/sms/twilio?ref=$ref"
BODY='MessageSid=SM1&MessageStatus=delivered&AccountSid=AC42'
sign() { # sign TOKEN: the signature of URL + the sorted parameters of BODY
	printf '%s' "${URL}AccountSidAC42MessageSidSM1MessageStatusdelivered" |
		openssl dgst -sha1 -hmac "$1" -binary | base64
}
post() { # post [SIGNATURE]: prints the HTTP code
	curl -s -o "$T/post.body" -w '%{http_code}' ${1:+-H "X-Twilio-Signature: $1"} \
		-H 'Content-Type: application/x-www-form-urlencoded' -d "$BODY" "$URL"
}
expect_eq "a receipt without a signature is refused" 400 "$(post)"
expect_grep "and told why" 'X-Twilio-Signature' "$T/post.body"
expect_eq "one signed with another token is refused" 400 "$(post "$(sign wrong-token)")"
sleep 0.5
expect_eq "the forged receipts changed nothing" sent "$(rcli HGET herald:msg:tw-1 status)"
expect_eq "the correctly signed one is taken" 200 "$(post "$(sign "$TOKEN")")"
check "and delivers the message" wait_for 10 grep -q 'tw-1: .*channel=sms.*status=delivered' "$LOG"
expect_no_grep "the token never reaches the operator log" "$TOKEN" "$T/heraldd.out"
stop_heraldd
finish
