#!/bin/sh
# t_svc_sender.sh - a service's sender identity (issue #13 part 2): from and
# reply_to of services.d/NAME.conf reach the email (smtp-sink's dump: From,
# Reply-To; the envelope sender stays the configured one), sender reaches
# the SMS gateway as the originator; a service without them gets the
# channel's configured ones. reply_to as a list with ids: the event's
# reply_to_id picks one (none: the first), an unknown id is rejected at
# ingest naming it.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

need_smtp_sink "$BIN/heraldd" "$BIN/channels/email.so" "$BIN/channels/sms.so"
start_smtp_sink mail
start_sms_gateway

start_redis
server_key
add_service dvla "templates = *" "channels = *" "from = DVLA Notices <notices@dvla.example>" \
	"reply_to = help@dvla.example" "sender = DVLA"
add_service nhs "templates = *" "channels = *"
add_service hmrc "templates = *" "channels = *" \
	"reply_to = main: help@hmrc.example, appeals: Appeals Team <appeals@hmrc.example>"
INGEST_AUTH=curve write_conf "
[channel.email]
relay = 127.0.0.1:$SINK_PORT
from = Herald <noreply@herald.example>
starttls = no
domain = herald.example
timeout = 10

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = HERALD
timeout = 5"
start_heraldd

seed_citizen c-m channels email email ada@example.org locale en name "Ada Lovelace"
seed_citizen c-h channels email email bob@example.org locale en name "Bob Lovelace"
seed_citizen c-s channels sms phone +447700900123 locale en name "Ada Lovelace"
ev() { # ev ID CITIZEN
	printf '{"event_id":"%s","citizen_id":"%s","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 May","time":"10:00","location":"Swansea"}}' "$1" "$2"
}
publish_as dvla "$(ev sd-mail c-m)" "$(ev sd-sms c-s)" >"$T/acks" 2>&1
publish_as nhs "$(ev sn-mail c-m)" "$(ev sn-sms c-s)" >>"$T/acks" 2>&1
evr() { # evr ID REPLY_TO_ID
	printf '{"event_id":"%s","citizen_id":"c-h","template":"appointment-reminder","reply_to_id":"%s","personalisation":{"name":"Ada","date":"1 May","time":"10:00","location":"Swansea"}}' "$1" "$2"
}
publish_as hmrc "$(evr sh-appeals appeals)" "$(ev sh-default c-h)" "$(evr sh-bad nosuch)" \
	>"$T/acks-h" 2>&1
expect_eq "the four events are accepted" 4 "$(grep -c '"status":"accepted"' "$T/acks")"
expect_eq "hmrc: reply_to_id appeals and no reply_to_id are accepted" 2 \
	"$(grep -c '"status":"accepted"' "$T/acks-h")"
expect_grep "hmrc: an unknown reply_to_id is rejected, naming the id and the known ones" \
	"sh-bad.*rejected.*no reply_to with id 'nosuch' \(its reply_to ids: main, appeals\)" "$T/acks-h"
check "all four are sent" wait_for 20 sh -c \
	"[ \$(grep -Ec 's[dn]-(mail|sms): .*status=sent' '$T/log/delivery.log') -ge 4 ]"
wait_for 10 sh -c "[ \$(ls '$T/mail' | wc -l) -ge 2 ]"
check "hmrc's two are sent" wait_for 20 sh -c \
	"[ \$(grep -Ec 'sh-(appeals|default): .*status=sent' '$T/log/delivery.log') -ge 2 ]"
wait_for 10 sh -c "[ \$(ls '$T/mail' | wc -l) -ge 4 ]"
mha=$(grep -l '^Reply-To: .*appeals@hmrc\.example' "$T"/mail/m.* 2>/dev/null | head -n 1)
mhd=$(grep -l '^Reply-To: help@hmrc\.example' "$T"/mail/m.* 2>/dev/null | head -n 1)
check "reply_to_id appeals: that Reply-To" test -n "$mha"
expect_grep "... to the citizen of that event" '^X-Rcpt-Args: <bob@example\.org>' "${mha:-/dev/null}"
check "no reply_to_id: the first (main) Reply-To" test -n "$mhd" -a "$mhd" != "$mha"

md=$(grep -l '^From: .*notices@dvla\.example' "$T"/mail/m.* 2>/dev/null | head -n 1)
mn=$(grep -l '^X-Rcpt-Args: <ada@example\.org>' "$T"/mail/m.* 2>/dev/null |
	xargs grep -l '^From: .*noreply@herald\.example' 2>/dev/null | head -n 1)
check "the sink received four emails" test "$(ls "$T/mail" | wc -l)" -eq 4
check "the service's From reaches the email" test -n "$md"
expect_grep "... with its display name" '^From: "DVLA Notices" <notices@dvla\.example>' "${md:-/dev/null}"
expect_grep "... and its Reply-To" '^Reply-To: help@dvla\.example' "${md:-/dev/null}"
expect_grep "... the envelope sender stays the configured one (bounces come to Herald)" \
	'^X-Mail-Args: <noreply@herald\.example>' "${md:-/dev/null}"
check "a service without from gets the configured From" test -n "$mn" -a "$mn" != "$md"
expect_no_grep "... and no Reply-To (none configured)" '^Reply-To:' "${mn:-/dev/null}"

expect_eq "the service's sender reaches the SMS gateway" 1 \
	"$(grep -c '"json": {"to": "+447700900123", "from": "DVLA"' "$T/gateway.jsonl")"
expect_eq "a service without sender gets the configured from" 1 \
	"$(grep -c '"json": {"to": "+447700900123", "from": "HERALD"' "$T/gateway.jsonl")"
finish
