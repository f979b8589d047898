#!/bin/sh
# t_svc_retention.sh - retention_days per service (issue #13): the message
# hash and the journey of a service's message expire after its policy's
# retention_days, not [queue] retention_days (30 here); a service without
# one keeps the global; send_after is bounded by the service's retention;
# heraldctl dead replay renews a message with its service's retention.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
server_key
add_service short "templates = *" "channels = file" "retention_days = 2"
add_service long "templates = *" "channels = file" "retention_days = 400"
add_service plain "templates = *" "channels = file"
INGEST_AUTH=curve write_conf "
[queue]
retention_days = 30"
start_heraldd

seed_citizen c-file name "Ada Lovelace" channels "file" locale en
ev() { # ev ID TX [EXTRA_JSON]
	printf '{"event_id":"%s","transaction_id":"%s","citizen_id":"c-file","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 May","time":"10:00","location":"Swansea"}%s}' "$1" "$2" "${3:-}"
}
publish_as short "$(ev rs-1 tx-short)" >"$T/acks" 2>&1
publish_as long "$(ev rl-1 tx-long)" >>"$T/acks" 2>&1
publish_as plain "$(ev rp-1 tx-plain)" >>"$T/acks" 2>&1
expect_eq "the three events are accepted" 3 "$(grep -c '"status":"accepted"' "$T/acks")"
check "all three are delivered" wait_for 20 sh -c \
	"[ \$(grep -Ec 'r[slp]-1: .*status=delivered' '$T/log/delivery.log') -ge 3 ]"

# between lo and hi seconds (the TTL counts down)
ttl_in() { # ttl_in WHAT KEY LO HI
	_t=$(rcli TTL "$2")
	if [ "$_t" -ge "$3" ] 2>/dev/null && [ "$_t" -le "$4" ]; then
		ok "$1 ($_t s)"
	else
		not_ok "$1: TTL $2 is $_t, expected $3..$4"
	fi
}
ttl_in "retention_days = 2: the message hash" herald:msg:rs-1 $((2 * 86400 - 60)) $((2 * 86400))
ttl_in "... and its journey" herald:tx:tx-short $((2 * 86400 - 60)) $((2 * 86400))
ttl_in "retention_days = 400: the message hash" herald:msg:rl-1 $((400 * 86400 - 60)) $((400 * 86400))
ttl_in "... and its journey" herald:tx:tx-long $((400 * 86400 - 60)) $((400 * 86400))
ttl_in "no retention_days: [queue] retention_days' message hash" herald:msg:rp-1 \
	$((30 * 86400 - 60)) $((30 * 86400))
ttl_in "... and journey" herald:tx:tx-plain $((30 * 86400 - 60)) $((30 * 86400))

# send_after within the service's retention only
later=$(date -u -d '+5 days' +%Y-%m-%dT%H:%M:%SZ)
publish_as short "$(ev rs-2 tx-short2 ",\"send_after\":\"$later\"")" >"$T/acks2" 2>&1
publish_as plain "$(ev rp-2 tx-plain2 ",\"send_after\":\"$later\"")" >>"$T/acks2" 2>&1
expect_grep "send_after 5 days on: beyond retention_days = 2, rejected" \
	'rs-2.*rejected.*retention_days 2' "$T/acks2"
expect_grep "... and within the global 30 days for a service without one" \
	'rp-2.*"status":"accepted"' "$T/acks2"
# a scheduled message lives its retention past the time it is due
check "the scheduled one is written" wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT TTL herald:msg:rp-2) -gt 0 ]"
ttl_in "... and lives retention past its send_after" herald:msg:rp-2 $((35 * 86400 - 120)) \
	$((35 * 86400 + 10))

# heraldctl dead replay gives a fresh retention: the service's
stop_heraldd
rcli LPUSH herald:dead rs-1 >/dev/null
rcli EXPIRE herald:msg:rs-1 100 >/dev/null
rcli LPUSH herald:dead rp-1 >/dev/null
rcli EXPIRE herald:msg:rp-1 100 >/dev/null
"$BIN/heraldctl" -c "$T/herald.conf" dead replay rs-1 >"$T/replay.out" 2>&1
expect_grep "heraldctl dead replay re-queues short's message" 'replayed rs-1' "$T/replay.out"
ttl_in "... with its service's retention_days (2)" herald:msg:rs-1 $((2 * 86400 - 60)) $((2 * 86400))
"$BIN/heraldctl" -c "$T/herald.conf" dead replay rp-1 >>"$T/replay.out" 2>&1
ttl_in "... and plain's with [queue] retention_days (30)" herald:msg:rp-1 $((30 * 86400 - 60)) \
	$((30 * 86400))
finish
