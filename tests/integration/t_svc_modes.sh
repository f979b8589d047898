#!/bin/sh
# t_svc_modes.sh - mode = test and mode = trial (issue #13 part 2). test:
# the magic addresses and numbers of router/testmode.h give each
# documented outcome, through the normal outcome path (delivery log,
# journey, status callbacks), and no provider is contacted (the SMS
# gateway and smtp-sink receive nothing). trial: delivered for real to a
# guest, a permanent failure for anyone else, without contacting the
# provider.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
start_smtp_sink mail
start_sms_gateway
: >"$T/gateway.jsonl"
start_callback_receiver

start_redis
server_key
add_service tester "templates = *" "channels = sms, email" "mode = test"
add_service trialer "templates = *" "channels = sms" "mode = trial" \
	"guests = +447700900123, someone@example.org"
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
timeout = 5

[service.tester]
callback_url = http://127.0.0.1:$CB_PORT/status
callback_secret = s3cret-for-tests-only
"
start_heraldd

# citizens: one per magic address/number (and an ordinary one)
seed_citizen c-del channels sms phone +447700900000 locale en
seed_citizen c-tmp channels sms phone +447700900001 locale en
seed_citizen c-nor channels sms phone +447700900002 locale en
seed_citizen c-prm channels "sms,email" phone +447700900003 email perm-fail@simulator.notify locale en
seed_citizen c-edl channels email email delivered@simulator.notify locale en
seed_citizen c-any channels sms phone +447700900999 locale en
seed_citizen c-guest channels sms phone +447700900123 locale en
ev() { # ev ID CITIZEN [extra]
	printf '{"event_id":"%s","citizen_id":"%s","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 May","time":"10:00","location":"Swansea"}%s}' "$1" "$2" "${3:-}"
}
publish_as tester "$(ev t-del c-del)" "$(ev t-tmp c-tmp)" "$(ev t-nor c-nor ',"deliver_within":2')" \
	"$(ev t-prm c-prm)" "$(ev t-edl c-edl)" "$(ev t-any c-any)" >"$T/acks" 2>&1
expect_eq "test mode: the events are accepted" 6 "$(grep -c '"status":"accepted"' "$T/acks")"

L="$T/log/delivery.log"
check "+447700900000: delivered" wait_for 10 grep -q 't-del: .*channel=sms.*status=delivered' "$L"
check "delivered@simulator.notify: delivered" \
	wait_for 10 grep -q 't-edl: .*channel=email.*status=delivered' "$L"
check "any other number: delivered" wait_for 10 grep -q 't-any: .*channel=sms.*status=delivered' "$L"
check "+447700900003: permanent failure ..." \
	wait_for 10 grep -q 't-prm: .*channel=sms.*status=permanent-failure.*test mode: permanent failure' "$L"
check "... hops to email, where perm-fail@simulator.notify fails permanently too" \
	wait_for 10 grep -q 't-prm: .*channel=email.*status=permanent-failure' "$L"
check "+447700900001: temporary failure (retried)" \
	wait_for 10 grep -q 't-tmp: .*channel=sms.*status=temporary-failure.*test mode: temporary failure' "$L"
check "+447700900002: sent, no receipt ..." \
	wait_for 10 grep -q 't-nor: .*channel=sms.*status=sent.*no receipt' "$L"
expect_no_grep "... never delivered" 't-nor: .*status=delivered' "$L"
expect_eq "the journey is recorded as for a real send" "delivered" "$(msgf t-del status)"

CHECK="python3 $HERALD_SRC/tests/integration/callback_check.py"
check "status callbacks are sent for test-mode messages" \
	wait_for 15 sh -c "[ \$($CHECK count '$T/cb.jsonl' 200) -ge 6 ]"
$CHECK statuses "$T/cb.jsonl" >"$T/statuses"
expect_grep "... t-del: delivered" '^t-del delivered$' "$T/statuses"
expect_grep "... t-prm: permanent-failure" '^t-prm permanent-failure$' "$T/statuses"

# --- trial -----------------------------------------------------------------------
publish_as trialer "$(ev tr-guest c-guest)" "$(ev tr-other c-any)" >"$T/acks2" 2>&1
expect_eq "trial mode: both are accepted" 2 "$(grep -c '"status":"accepted"' "$T/acks2")"
check "a guest's number is sent for real" \
	wait_for 10 grep -q 'tr-guest: .*channel=sms.*status=sent' "$L"
check "a number not on the guest list is a permanent failure" \
	wait_for 10 grep -q "tr-other: .*channel=sms.*status=permanent-failure.*trial mode: .* is not on the service's guest list" "$L"
expect_no_grep "... whose reason masks the number" 'tr-other: .*7700900999' "$L"
sleep 1
expect_eq "the SMS gateway got the guest's message only (test mode contacted no provider)" 1 \
	"$(grep -c '"to": "+447700900123"' "$T/gateway.jsonl")"
expect_eq "... and nothing else" 1 "$(grep -c '"method"' "$T/gateway.jsonl")"
expect_eq "smtp-sink received nothing" 0 "$(ls "$T/mail" | wc -l)"
finish
