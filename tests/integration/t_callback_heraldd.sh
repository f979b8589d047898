#!/bin/sh
# t_callback_heraldd.sh - status callbacks end to end through heraldd: every
# status change of a service's message is POSTed, signed, in order; a
# service that is down is retried and never holds delivery back; a service
# without a callback_url gets nothing.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
start_callback_receiver --fail-first 2 --status 503
SECRET='s3cret-for-tests'
write_conf "
[service.dvla]
callback_url = http://127.0.0.1:$CB_PORT/herald/status
callback_secret = $SECRET
callback_retry_max = 2
"
start_heraldd
seed_citizen c-1 name Ada channels file
publish '{"event_id":"cb-1","service":"dvla","citizen_id":"c-1","template":"payment-due","personalisation":{"name":"Ada","amount":"£5","due_date":"1 May 2027"}}' \
	'{"event_id":"cb-2","service":"nhs","citizen_id":"c-1","template":"payment-due","personalisation":{"name":"Ada","amount":"£5","due_date":"1 May 2027"}}' >/dev/null
check "delivery does not wait for the callback service" \
	wait_for 5 grep -q 'cb-1: .*status=delivered' "$T/log/delivery.log"
check "the callbacks arrive once the service is back" \
	wait_for 20 sh -c "[ \$(python3 '$HERALD_SRC/tests/integration/callback_check.py' count '$T/cb.jsonl' 200) -ge 3 ]"
CHECK="python3 $HERALD_SRC/tests/integration/callback_check.py"
expect_eq "the first two attempts were refused (503) and retried" 2 "$($CHECK count "$T/cb.jsonl" 503)"
$CHECK statuses "$T/cb.jsonl" >"$T/statuses"
expect_eq "accepted, sending, delivered, in order, for dvla's message only" \
	"cb-1 accepted|cb-1 sending|cb-1 delivered" "$(paste -sd'|' "$T/statuses")"
total=$($CHECK count "$T/cb.jsonl")
expect_eq "every request carries a valid X-Herald-Signature" "$total verified" \
	"$($CHECK verify "$T/cb.jsonl" "$SECRET")"
expect_eq "a wrong secret verifies none" "0 verified" "$($CHECK verify "$T/cb.jsonl" wrong-secret)"
expect_eq "POST, JSON, X-Herald-Event" ok "$($CHECK headers "$T/cb.jsonl")"
expect_no_grep "the secret is never logged" "$SECRET" "$T/heraldd.out"
finish
