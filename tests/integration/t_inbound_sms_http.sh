#!/bin/sh
# t_inbound_sms_http.sh - SMS replies in the Twilio and JSON forms, posted
# with curl to heraldd's /inbound/sms/twilio and /inbound/sms/json:
# with profile twilio (account and token) a reply without a valid
# X-Twilio-Signature (over public_url + "/inbound/sms/twilio" and the sorted
# POST parameters) is refused with 400 and changes nothing; the signed one
# is an engagement and an inbound record, answered with empty TwiML; the
# same MessageSid posted again is heard once; the JSON form's STOPIO (Welsh)
# opts the citizen out; a malformed one is 400.
. "$HERALD_SRC/tests/integration/lib.sh"

TOKEN=in-t0ken
start_twilio_heraldd "$TOKEN"
LOG=$T/log/delivery.log
seed_citizen c-h name Sam channels sms phone "+447700900555"
publish '{"event_id":"ih-1","service":"dvla","citizen_id":"c-h","transaction_id":"tx-ih","template":"payment-due","personalisation":{"name":"Sam","amount":"£10","due_date":"1 January 2027"}}' >/dev/null
check "sent over sms" wait_for 10 grep -q 'ih-1: .*channel=sms.*status=sent' "$LOG"

URL="http://127.0.0.1:$HTTP_PORT/inbound/sms/twilio"
BODY='MessageSid=SMin1&From=%2B447700900555&To=%2B447700900001&Body=Can+I+pay+on+Friday%3F&AccountSid=AC42'
sign() { # sign TOKEN: URL + the sorted parameters of BODY
	printf '%s' "${URL}AccountSidAC42BodyCan I pay on Friday?From+447700900555MessageSidSMin1To+447700900001" |
		openssl dgst -sha1 -hmac "$1" -binary | base64
}
post() { # post [SIGNATURE]: prints the HTTP code
	curl -s -o "$T/post.body" -D "$T/post.head" -w '%{http_code}' \
		${1:+-H "X-Twilio-Signature: $1"} \
		-H 'Content-Type: application/x-www-form-urlencoded' -d "$BODY" "$URL"
}
expect_eq "a Twilio reply without a signature is refused" 400 "$(post)"
expect_grep "and told why" 'X-Twilio-Signature' "$T/post.body"
expect_eq "one signed with another token is refused" 400 "$(post "$(sign wrong-token)")"
sleep 0.5
expect_no_grep "the forged replies changed nothing" 'ih-1: .*status=inbound' "$LOG"
expect_eq "no engagement either" "" "$(rcli GET herald:engaged:tx-ih)"
expect_eq "the correctly signed one is taken" 200 "$(post "$(sign "$TOKEN")")"
expect_grep "answered with empty TwiML (Twilio sends no reply)" '<Response/>' "$T/post.body"
expect_grep "as text/xml" 'Content-Type: text/xml' "$T/post.head"
check "it is an inbound record of ih-1" \
	wait_for 10 grep -q 'ih-1: .*channel=sms.*status=inbound (citizen replied by SMS (20 bytes)' "$LOG"
expect_eq "the transaction is engaged on sms" sms "$(rcli GET herald:engaged:tx-ih)"
expect_eq "the same MessageSid again is answered 200" 200 "$(post "$(sign "$TOKEN")")"
sleep 1
expect_eq "and heard once" 1 "$(grep -c 'ih-1: .*status=inbound' "$LOG")"
expect_no_grep "the text is in no log" 'pay on Friday' "$LOG" "$T/log/delivery.jsonl" "$T/heraldd.out"

JURL="http://127.0.0.1:$HTTP_PORT/inbound/sms/json"
jpost() { curl -s -o "$T/jpost.body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$1" "$JURL"; }
expect_eq "a JSON reply without from is refused" 400 "$(jpost '{"text":"STOP"}')"
expect_eq "a body that is no JSON object is refused" 400 "$(jpost '[1,2]')"
expect_eq "the JSON form's STOPIO (Welsh) is taken" 200 \
	"$(jpost '{"from":"+447700900555","to":"+447700900001","text":" stopio. ","id":"j-1"}')"
check "STOPIO opts the citizen out of sms for dvla" \
	wait_for 10 grep -q 'ih-1: .*channel=sms.*status=unsubscribed' "$LOG"
expect_eq "optout@dvla = sms" sms "$(rcli HGET herald:citizen:c-h optout@dvla)"
curl -s -o "$T/metrics" "http://127.0.0.1:$HTTP_PORT/metrics"
expect_grep "herald_sms_unsubscribes_total by service" 'herald_sms_unsubscribes_total\{service="dvla"\} 1' "$T/metrics"
expect_grep "herald_sms_replies_total by service" 'herald_sms_replies_total\{service="dvla"\} 1' "$T/metrics"
expect_no_grep "the token never reaches the operator log" "$TOKEN" "$T/heraldd.out"
# heraldctl purge takes the citizen's entries of the reply index too
rcli ZADD herald:mo:+447700900555 1 "nhs tx-o ev-o c-other" >/dev/null
"$BIN/heraldctl" -c "$T/herald.conf" purge --citizen c-h --yes >"$T/purge.out" 2>&1
expect_grep "purge counts the reply index entry" ', 1 SMS reply index entries$' "$T/purge.out"
expect_eq "the citizen's entry is gone, another citizen's on the number kept" \
	"nhs tx-o ev-o c-other" "$(rcli ZRANGE herald:mo:+447700900555 0 -1)"
expect_eq "the reply's dedup record went with the citizen's messages" 0 \
	"$(rcli EXISTS herald:msg:mo-SMin1)"
stop_heraldd
finish
