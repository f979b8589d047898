#!/bin/sh
# t_svc_policy.sh - per-service policy (issue #13 parts 2 and 4).
# Limits: rate, burst and daily_limit: a token bucket per service kept in Redis (herald_accept), shared by
# every heraldd on that Redis; over it an event is answered
# {"status":"throttled","retry_after_ms":N}, nothing is kept of it, and it
# is admitted again after N ms. daily_limit counts a service's accepted
# events of the UTC day. daily_limit.CHANNEL counts, per channel, the
# accepted events that may use it (their "channels", else every enabled
# channel the service may use); one over any of them is throttled until the
# next UTC day. A service without limits is untouched.
# Required personalisation: an event lacking a name a template prints
# (outside sections, not marked optional in front matter) is rejected at
# ingest, naming every missing one.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
server_key
# dvla: 1 event/s, bursts of 4
add_service dvla "templates = *" "channels = file" "rate = 1" "burst = 4"
# hmrc: no rate, 2 events a day
add_service hmrc "templates = *" "channels = file" "daily_limit = 2"
# nhs: no limits
add_service nhs "templates = *" "channels = file"
# dwp: per-channel limits (email is not enabled here)
add_service dwp "templates = *" "channels = *" "daily_limit.file = 2" "daily_limit.print = 1" \
	"daily_limit.email = 1"
# the shipped templates, and one with an optional name in one file only
mkdir -p "$T/templates"
cp -r "$HERALD_SRC/templates/." "$T/templates/"
mkdir -p "$T/templates/notice"
printf -- '---\nsubject: {{title}}\noptional: note\n---\n{{title}} {{note}} {{#extra}}{{detail}}{{/extra}} {{transaction.reference}}\n' \
	>"$T/templates/notice/email.en.mustache"
printf '{{title}}: {{note}} {{transaction.reference}}\n' >"$T/templates/notice/sms.en.mustache"
printf -- '---\noptional: note\n---\n{{title}} {{note}} {{transaction.reference}}\n' \
	>"$T/templates/notice/sms.cy.mustache"
TEMPLATES_DIR=$T/templates INGEST_AUTH=curve write_conf "
[channel.print]
mode = spool
dir = $T/spool/print
sender = DVLA|Longview Road|Swansea|SA6 7JL"
start_heraldd

# a second heraldd on the same Redis
sed -e "s|^endpoint = tcp://127.0.0.1:$INGEST_PORT|endpoint = tcp://127.0.0.1:$(free_port)|" \
	-e "s|^publish = tcp://127.0.0.1:$PUB_PORT|publish = tcp://127.0.0.1:$(free_port)|" \
	-e "s|^listen = 127.0.0.1:$HTTP_PORT|listen = 127.0.0.1:$(free_port)|" \
	"$T/herald.conf" >"$T/h2.conf"
printf '\n[queue]\nconsumer = second\n' >>"$T/h2.conf"
"$BIN/heraldd" -c "$T/h2.conf" >>"$T/h2.out" 2>&1 &
H2=$!
track_pid $H2
check "a second heraldd on the same Redis is ready" \
	wait_for 20 grep -q "heraldd\[$H2\]: info: heraldd: ready" "$T/h2.out"

seed_citizen c-file name "Ada Lovelace" channels "file" locale en
ev() { # ev ID
	printf '{"event_id":"%s","citizen_id":"c-file","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}' "$1"
}
# pub CONF NAME JSON...: publish with NAME's key through heraldd of CONF
pub() {
	_c=$1 _n=$2
	shift 2
	for _e in "$@"; do printf '%s\n' "$_e"; done |
		"$BIN/heraldctl" -c "$_c" publish -w 8 -k "$T/keys/$_n.key" \
			--server-key "$T/keys/heraldd.pub" -
}

# --- rate and burst, across two instances ------------------------------------
pub "$T/herald.conf" dvla "$(ev r-1)" "$(ev r-2)" "$(ev r-3)" "$(ev r-4)" >"$T/acks1" 2>&1
expect_eq "a burst of 4 on the first heraldd is accepted" 4 \
	"$(grep -c '"status":"accepted"' "$T/acks1")"
pub "$T/h2.conf" dvla "$(ev r-5)" "$(ev r-6)" >"$T/acks2" 2>&1
check "over the burst on the second heraldd: publish exits 1" test $? -eq 1
expect_grep "... the event is throttled with retry_after_ms, by the bucket the first one emptied" \
	'^\{"event_id":"r-[56]","status":"throttled","retry_after_ms":[0-9]+\}$' "$T/acks2"
thr=$(grep -m1 '"throttled"' "$T/acks2")
thr_id=$(printf '%s' "$thr" | sed 's/.*"event_id":"\([^"]*\)".*/\1/')
retry=$(printf '%s' "$thr" | sed 's/.*"retry_after_ms":\([0-9]*\).*/\1/')
check "... retry_after_ms is within the refill of one token (1..1000 ms): $retry" \
	test "${retry:-0}" -ge 1 -a "${retry:-0}" -le 1000
expect_eq "... and nothing is kept of it" 0 "$(rcli EXISTS "herald:msg:$thr_id")"
expect_eq "the bucket is one key in Redis" hash "$(rcli TYPE herald:rate:dvla)"
sleep "$(awk "BEGIN{print ($retry + 100) / 1000}")"
pub "$T/h2.conf" dvla "$(ev "$thr_id")" >"$T/acks3" 2>&1
expect_eq "after retry_after_ms it is admitted again" \
	"{\"event_id\":\"$thr_id\",\"status\":\"accepted\"}" "$(cat "$T/acks3")"
check "the admitted events are delivered" \
	wait_for 15 sh -c "[ \$(grep -c 'r-[0-9]: .*status=delivered' '$T/log/delivery.log') -ge 5 ]"

# --- a duplicate takes no token ----------------------------------------------
sleep 4.2 # the bucket is full again (4 tokens)
pub "$T/herald.conf" dvla "$(ev r-1)" "$(ev r-2)" "$(ev r-3)" "$(ev r-4)" "$(ev d-1)" \
	>"$T/acks4" 2>&1
expect_eq "duplicates are answered duplicate, not throttled" 4 \
	"$(grep -c '"status":"duplicate"' "$T/acks4")"
expect_eq "... and take no token: a new event after them is accepted" \
	'{"event_id":"d-1","status":"accepted"}' "$(grep '"d-1"' "$T/acks4")"

# --- daily_limit ----------------------------------------------------------------
pub "$T/herald.conf" hmrc "$(ev h-1)" >"$T/acks5" 2>&1
pub "$T/h2.conf" hmrc "$(ev h-2)" >>"$T/acks5" 2>&1
pub "$T/herald.conf" hmrc "$(ev h-3)" >>"$T/acks5" 2>&1
expect_eq "daily_limit = 2: two events of the day are accepted (either heraldd)" 2 \
	"$(grep -c '"status":"accepted"' "$T/acks5")"
h3=$(grep '"h-3"' "$T/acks5")
expect_grep "... the third is throttled" '"event_id":"h-3","status":"throttled"' "$T/acks5"
retry=$(printf '%s' "$h3" | sed 's/.*"retry_after_ms":\([0-9]*\).*/\1/')
left=$((86400000 - ($(date -u +%s) % 86400) * 1000))
check "... until the next UTC day ($retry ms; $left ms left of today)" \
	test "${retry:-0}" -ge 1 -a "${retry:-0}" -le $((left + 2000))
expect_eq "the day's count is kept in Redis" 2 \
	"$(rcli GET "herald:daily:hmrc:$(($(date -u +%s) / 86400))")"

# --- daily_limit.CHANNEL ----------------------------------------------------------
evc() { # evc ID CHANNEL
	printf '{"event_id":"%s","citizen_id":"c-file","template":"appointment-reminder","channels":["%s"],"personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}' "$1" "$2"
}
pub "$T/herald.conf" dwp "$(evc w-1 file)" "$(evc w-2 print)" >"$T/acks8" 2>&1
pub "$T/h2.conf" dwp "$(evc w-3 print)" >>"$T/acks8" 2>&1
pub "$T/herald.conf" dwp "$(evc w-4 file)" "$(ev w-5)" >>"$T/acks8" 2>&1
expect_grep "daily_limit.print = 1: the first print event is accepted" \
	'"event_id":"w-2","status":"accepted"' "$T/acks8"
expect_grep "... the second is throttled (on the other heraldd)" \
	'"event_id":"w-3","status":"throttled","retry_after_ms":[1-9]' "$T/acks8"
expect_grep "daily_limit.file = 2: print's limit does not stop a file event" \
	'"event_id":"w-4","status":"accepted"' "$T/acks8"
expect_grep "an event without channels may use file and print, both full: throttled" \
	'"event_id":"w-5","status":"throttled"' "$T/acks8"
day=$(($(date -u +%s) / 86400))
expect_eq "the day's per-channel counts are in Redis (file)" 2 \
	"$(rcli GET "herald:dailych:dwp:file:$day")"
expect_eq "... (print)" 1 "$(rcli GET "herald:dailych:dwp:print:$day")"
expect_eq "... a limited channel that is not enabled counts nothing" 0 \
	"$(rcli EXISTS "herald:dailych:dwp:email:$day")"
expect_eq "... and the service-wide count is not kept (no daily_limit)" 0 \
	"$(rcli EXISTS "herald:daily:dwp:$day")"

# --- no limits ------------------------------------------------------------------
pub "$T/herald.conf" nhs "$(ev n-1)" "$(ev n-2)" "$(ev n-3)" "$(ev n-4)" "$(ev n-5)" "$(ev n-6)" \
	>"$T/acks6" 2>&1
expect_eq "a service without limits is never throttled" 6 \
	"$(grep -c '"status":"accepted"' "$T/acks6")"
expect_eq "... and has no bucket" 0 "$(rcli EXISTS herald:rate:nhs)"
expect_grep "throttled answers are counted in /metrics" \
	'^herald_ingest_total\{outcome="throttled"\} [1-9]' \
	"$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"; echo "$T/metrics")"

# --- required personalisation ---------------------------------------------------
pp() { # pp ID TEMPLATE PERSONALISATION_JSON
	printf '{"event_id":"%s","citizen_id":"c-file","template":"%s","personalisation":%s}' \
		"$1" "$2" "$3"
}
pub "$T/herald.conf" nhs "$(pp m-1 payment-due '{"name":"Ada"}')" >"$T/acks7" 2>&1
check "an event missing required personalisation: publish exits 1" test $? -eq 1
expect_eq "... it is rejected, naming every missing field" \
	'{"event_id":"m-1","status":"rejected","error":"missing personalisation: amount, due_date"}' \
	"$(cat "$T/acks7")"
expect_eq "... and nothing is kept of it" 0 "$(rcli EXISTS herald:msg:m-1)"
pub "$T/herald.conf" nhs "$(pp m-2 appointment-reminder \
	'{"name":"Ada","date":"1 May","time":null,"location":"Swansea"}')" >"$T/acks7" 2>&1
expect_eq "a null value is missing too" \
	'{"event_id":"m-2","status":"rejected","error":"missing personalisation: time"}' \
	"$(cat "$T/acks7")"
pub "$T/herald.conf" nhs "$(pp m-3 appointment-reminder \
	'{"name":"Ada","date":"1 May","time":"10:00","location":"Swansea"}')" >"$T/acks7" 2>&1
expect_eq "a section's name (phone) is not required" \
	'{"event_id":"m-3","status":"accepted"}' "$(cat "$T/acks7")"
pub "$T/herald.conf" nhs "$(pp m-4 notice '{}')" >"$T/acks7" 2>&1
expect_eq "front matter counts; 'optional' in one file leaves it required by another" \
	'{"event_id":"m-4","status":"rejected","error":"missing personalisation: note, title"}' \
	"$(cat "$T/acks7")"
pub "$T/herald.conf" nhs "$(pp m-5 notice '{"title":"Hello","note":""}')" >"$T/acks7" 2>&1
expect_eq "an empty string is a value; names inside a section are not required" \
	'{"event_id":"m-5","status":"accepted"}' "$(cat "$T/acks7")"
check "... and it is delivered" wait_for 10 grep -q 'm-5: .*status=delivered' \
	"$T/log/delivery.log"
expect_grep "... with its subject from front matter" '"subject":"Hello"' "$T/spool/file.jsonl"

stop_pid "$H2"
assert_clean_log "$T/h2.out"
finish
