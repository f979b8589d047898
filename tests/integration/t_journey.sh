#!/bin/sh
# t_journey.sh - one transaction across three real servers (issue 5):
# the SMTP relay rejects the address with 550 5.1.1 -> hop to SMS; the SMS
# gateway accepts but no receipt comes within deliver_within -> hop to
# print; CUPS completes the job -> delivered. The trace shows the three
# attempts in order with their reasons, the citizen's email is marked
# invalid, and the next event for the citizen skips email without a send.
. "$HERALD_SRC/tests/integration/lib.sh"
. "$HERALD_SRC/tests/integration/paper_cups.sh"

SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
start_redis
start_cups
cups_queue herald file:///dev/null

SMTP_PORT=$(free_port)
mkdir -p "$T/sink"
(cd "$T/sink" && exec "$SINK" -u root -f RCPT -B "550 5.1.1 user unknown" 127.0.0.1:$SMTP_PORT 16) \
	>"$T/sink.log" 2>&1 &
track_pid $!
start_sms_gateway
wait_for 10 sh -c "printf 'QUIT\r\n' | timeout 2 python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $SMTP_PORT), 1)'"

write_conf "
[channel.email]
relay = 127.0.0.1:$SMTP_PORT
from = DVLA <noreply@dvla.example>
domain = dvla.example
sessions = 1
timeout = 10

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 5

[channel.print]
mode = ipp
server = 127.0.0.1:$CUPS_PORT
queue = herald
poll_interval = 0.3
sender = DVLA|Longview Road|Swansea|SA6 7JL
"
start_heraldd

seed_citizen c-j name "Siân Prydderch" channels "email,sms,print" email "sian@example.org" \
	phone "+447700900123" address "$(printf '7 Heol y Wig\nAberystwyth\nSY23 2LR')" locale cy-GB

publish '{"event_id":"j-1","service":"dvla","citizen_id":"c-j","template":"licence-renewal","transaction_id":"tx-j","deliver_within":2,"personalisation":{"name":"Siân","licence_type":"trwydded yrru","expiry_date":"31 Rhagfyr 2026"}}' >"$T/ack"
expect_grep "event accepted" '"status":"accepted"' "$T/ack"

check "the journey ends delivered" wait_for 60 grep -q 'j-1: .*channel=print.*status=delivered' "$T/log/delivery.log"
grep ' j-1: ' "$T/log/delivery.log" | sed 's/^/# /'

statuses=$(grep ' j-1: ' "$T/log/delivery.log" | sed 's/.*channel=\([a-z-]*\),.*status=\([a-z-]*\).*/\1:\2/' | paste -sd' ' -)
expect_eq "transitions in order across three channels" \
	"-:accepted email:sending email:permanent-failure email:hopped sms:sending sms:sent sms:hopped print:sending print:sent print:delivered" \
	"$statuses"
expect_grep "email failed with the relay's reply and dsn" \
	'j-1: .*channel=email, to=s\*\*\*@example.org, .*dsn=5.1.1, status=permanent-failure \(550 5.1.1 user unknown\)' \
	"$T/log/delivery.log"
expect_grep "hop from sms names the missing receipt" \
	'j-1: .*channel=sms, to=\+44\*\*\*\*\*\*\*123, .*status=hopped \(no delivery receipt within 2s; next channel print\)' \
	"$T/log/delivery.log"
expect_grep "print delivered records the fulfilment time" \
	'j-1: .*channel=print, .*fulfilled_in=[0-9.]+, status=delivered' "$T/log/delivery.log"
expect_grep "the SMS gateway did get the message" '"to": *"\+447700900123"' "$T/gateway.jsonl"
expect_eq "message state: delivered on print" "delivered print" \
	"$(msgf j-1 status channel | paste -sd' ' -)"
expect_eq "fulfilment time stored" 1 "$(rcli HEXISTS herald:msg:j-1 fulfilled_ms)"

# the citizen record learnt that the email address is wrong
expect_eq "citizen's email marked invalid" email "$(rcli HGET herald:citizen:c-j invalid)"
rcli HGET herald:citizen:c-j invalid_email >"$T/inv"
expect_grep "invalid_email holds the time and the reply" \
	'^20[0-9-]+T[0-9:.]+Z 550 5.1.1 user unknown \(event j-1\)$' "$T/inv"

# heraldctl trace shows the journey
"$BIN/heraldctl" -c "$T/herald.conf" trace tx-j >"$T/trace" 2>&1
expect_eq "heraldctl trace exits 0" 0 $?
sed 's/^/# /' "$T/trace"
order=$(grep -oE '\b(email|sms|print)\b.*\b(permanent-failure|hopped|delivered)\b' "$T/trace" |
	awk '{print $1}' | uniq | paste -sd' ' -)
expect_eq "trace lists the attempts in order: email, sms, print" "email sms print" "$order"
expect_grep "trace shows the email reason" '550 5.1.1 user unknown' "$T/trace"
expect_grep "trace shows the missing receipt" 'no delivery receipt within 2s' "$T/trace"
expect_grep "trace shows the fulfilment time" '[Ff]ulfil' "$T/trace"
expect_no_grep "trace never shows a full address" 'sian@example.org|447700900123' "$T/trace"

# the next event skips email without another failed send
rcvd_before=$(grep -c . "$T/gateway.jsonl")
publish '{"event_id":"j-2","service":"dvla","citizen_id":"c-j","template":"payment-due","transaction_id":"tx-j2","personalisation":{"name":"Siân","amount":"£10","due_date":"1 Ionawr 2027"}}' >/dev/null
check "next event goes straight to sms" wait_for 20 grep -q 'j-2: .*channel=sms.*status=sent' "$T/log/delivery.log"
expect_no_grep "no email attempt for the next event" 'j-2: .*channel=email' "$T/log/delivery.log"
expect_eq "the gateway got one more message" $((rcvd_before + 1)) "$(grep -c . "$T/gateway.jsonl")"
finish
