#!/bin/sh
# t_core.sh - the walking skeleton end to end with a real redis-server:
# validation of every bad input, dedup, unknown citizen, no usable channel,
# garbage flood, the file channel through both delivery logs and tail,
# wrong-ABI plugin refusal, log reopen on SIGUSR1.
. "$HERALD_SRC/tests/integration/lib.sh"

# A channels folder with the real file plugin and a plugin built for
# another ABI.
mkdir -p "$T/channels"
cp "$BIN/channels/file.so" "$T/channels/"
cp "$BIN/tests/plugins/badabi.so" "$T/channels/"
cp "$BIN/channels/file.so" "$T/channels/Two Words.so"
start_redis
write_conf "
[channel.badabi]
enabled = yes
optional = yes

[channel.Two Words]
enabled = yes
optional = yes
"
sed -i "s|^dir = $BIN/channels|dir = $T/channels|" "$T/herald.conf"
start_heraldd

expect_grep "loader refuses a plugin built for another ABI, naming both numbers" \
	'channel plugin .*badabi.so: built for channel ABI 42, heraldd speaks ABI 1: refusing it' \
	"$T/heraldd.out"
expect_grep "file channel still loads" 'channel file: loaded' "$T/heraldd.out"
expect_grep "the loader refuses a channel name that is not one word" \
	'channel plugin .*/Two Words.so: a channel name is a-z, 0-9, ._. and .-. only: refusing it' \
	"$T/heraldd.out"

seed_citizen c-file name "Ada Lovelace" channels "file" locale en
seed_citizen c-none name "Bob" channels "sms,email" locale en

# heraldctl tail in the background, collecting what the PUB socket says.
"$BIN/heraldctl" -c "$T/herald.conf" tail --citizen c-file --status delivered --count 1 \
	>"$T/tail.out" 2>&1 &
TAIL_PID=$!
track_pid $TAIL_PID
sleep 0.5

ev() { # ev ID CITIZEN [extra json members]
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}%s}' "$1" "$2" "${3:-}"
}

# --- each bad input gets its own clear error --------------------------------
reject() { # reject "what" EXPECTED_ERROR_REGEX FRAME
	printf '%s\n' "$3" >"$T/frame"
	"$BIN/heraldctl" -c "$T/herald.conf" publish "$T/frame" >"$T/ack" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -Eq "\"status\":\"rejected\".*$2" "$T/ack"; then
		ok "rejected: $1"
	else
		not_ok "rejected: $1 (rc=$rc)"
		sed 's/^/#   /' "$T/ack"
	fi
}
reject "malformed JSON" 'malformed JSON' '{"event_id": "x",'
reject "missing required field" "missing required field 'citizen_id'" \
	'{"event_id":"m1","service":"dvla","template":"appointment-reminder"}'
reject "missing service (auth = none: nothing else says it)" \
	"missing required field 'service'" \
	'{"event_id":"m2","citizen_id":"c-file","template":"appointment-reminder"}'
reject "unknown field" "unknown field 'colour'" "$(ev u1 c-file ',"colour":"blue"')"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
reject "frame over 64 KiB" 'frame too large: [0-9]+ bytes > 65536' \
	"$(ev big1 c-file ",\"channels\":[\"file\"],\"transaction_id\":\"t\",\"priority\":\"normal\",\"deliver_within\":5,\"send_after\":\"2026-01-01T00:00:00Z\",\"kind\":\"notification\",\"service2\":\"$big\"")"
reject "invalid UTF-8" 'invalid UTF-8 at byte [0-9]+' "$(printf '{"event_id":"u8","service":"dvla","citizen_id":"c-file","template":"appointment-reminder","personalisation":{"name":"\303\050"}}')"
reject "unknown template" "unknown template 'no-such-template'" \
	'{"event_id":"t1","service":"dvla","citizen_id":"c-file","template":"no-such-template"}'
long=$(head -c 129 /dev/zero | tr '\0' 'e')
reject "event_id over 128 characters" "field 'event_id' must be 1-128 printable ASCII" \
	"$(ev "$long" c-file)"
reject "unknown channel" "unknown channel 'pigeon'" "$(ev ch1 c-file ',"channels":["pigeon"]')"
reject "bad priority" "field 'priority' must be one of urgent, normal, bulk" \
	"$(ev p1 c-file ',"priority":"asap"')"

# --- garbage flood, then a good event is still accepted ---------------------
python3 - "$T/garbage" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "wb") as f:
    for i in range(1000):
        kind = i % 5
        if kind == 0:
            line = bytes(random.randrange(1, 256) for _ in range(random.randrange(1, 200)))
        elif kind == 1:
            line = b'{"event_id": [' * random.randrange(1, 50)
        elif kind == 2:
            line = b'{"event_id":"g%d","service":"s","citizen_id":"c","template":"nope"}' % i
        elif kind == 3:
            line = b'\xff\xfe{}'
        else:
            line = b'[1,2,3]'
        f.write(line.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n")
PY
"$BIN/heraldctl" -c "$T/herald.conf" publish -w 50 "$T/garbage" >"$T/garbage.acks" 2>&1
expect_eq "1000 garbage frames all answered 'rejected'" 1000 \
	"$(grep -c '"status":"rejected"' "$T/garbage.acks")"
check "heraldd is still running after the garbage" kill -0 "$HERALDD_PID"

# --- a good event for a file citizen, and its duplicate ----------------------
publish "$(ev good-1 c-file)" "$(ev good-1 c-file)" >"$T/acks"
expect_eq "good event accepted after the garbage" '{"event_id":"good-1","status":"accepted"}' \
	"$(sed -n 1p "$T/acks")"
expect_eq "repeated event_id answered duplicate" '{"event_id":"good-1","status":"duplicate"}' \
	"$(sed -n 2p "$T/acks")"
wait_for 10 grep -q 'good-1.*status=delivered' "$T/log/delivery.log"
expect_grep "text delivery log: good-1 delivered on the file channel" \
	'good-1: tx=good-1, citizen=c-file, channel=file, .*status=delivered' "$T/log/delivery.log"
expect_grep "JSON delivery log: good-1 delivered" \
	'"event_id":"good-1".*"status":"delivered"' "$T/log/delivery.jsonl"
expect_grep "file channel wrote the rendered subject" \
	'"event_id":"good-1".*"subject":"Reminder: your appointment on 1 December 2026 at 10:00"' \
	"$T/spool/file.jsonl"
expect_grep "file channel wrote the rendered body with the reference" \
	'"event_id":"good-1".*"body":"Dear Ada,.*HX-[2-9A-Z]{4}-[2-9A-Z]{4}' "$T/spool/file.jsonl"
expect_grep "the sending record names template and locale" \
	'good-1: .*status=sending \(template appointment-reminder, locale [a-zA-Z-]+\)' "$T/log/delivery.log"
expect_eq "the logs do not carry the rendered subject (personalisation)" 0 \
	"$(cat "$T/log/delivery.log" "$T/log/delivery.jsonl" | grep -c 'Reminder: your appointment')"
expect_eq "the duplicate was not queued again (one accepted line)" 1 \
	"$(grep -c 'good-1: .*status=accepted' "$T/log/delivery.log")"
expect_eq "the duplicate was not written twice" 1 "$(grep -c '"event_id":"good-1"' "$T/spool/file.jsonl")"
wait_for 5 grep -q 'good-1' "$T/tail.out"
expect_grep "heraldctl tail showed the delivery" 'good-1: tx=good-1, citizen=c-file, channel=file.*status=delivered' "$T/tail.out"
expect_eq "message state in Redis is delivered" delivered "$(rcli HGET herald:msg:good-1 status)"
expect_eq "journey has accepted, sending, delivered" "3" "$(rcli LLEN herald:tx:good-1)"
expect_grep "the journey starts with the accepted record" \
	'^\{"ts":"[^"]*","event_id":"good-1",.*"status":"accepted"' "$(rcli LINDEX herald:tx:good-1 0 >"$T/j0"; echo "$T/j0")"
expect_eq "the journey has a TTL" 1 "$([ "$(rcli TTL herald:tx:good-1)" -gt 0 ] && echo 1)"
expect_eq "the message hash has a TTL" 1 "$([ "$(rcli TTL herald:msg:good-1)" -gt 0 ] && echo 1)"
expect_eq "the message hash names citizen and transaction" "c-file good-1" \
	"$(msgf good-1 citizen tx | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the message hash has the acceptance time" 1 \
	"$([ "$(msgf good-1 accepted_ms)" -gt 1700000000000 ] && echo 1)"
expect_grep "the hash packs acceptance time, service and citizen in meta" \
	'^[0-9]{13} dvla c-file$' "$(rcli HGET herald:msg:good-1 meta >"$T/meta"; echo "$T/meta")"
expect_eq "... and channel, attempt, plan position, plan and address in at" "file 1 0 file -" \
	"$(rcli HGET herald:msg:good-1 at)"
expect_eq "a delivered message's hash has eight fields (svc: its dedup owner)" \
	"at fulfilled_ms meta reason status svc tx updated_ms" \
	"$(rcli HKEYS herald:msg:good-1 | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "a delivered message does not keep the event (personalisation)" 0 \
	"$(rcli HEXISTS herald:msg:good-1 event)"

# --- a held event keeps its event in the hash until it is due ---------------
# (a week ahead: within retention_days, 30 here; later is rejected)
LATER=$(python3 -c 'import datetime; t=datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(days=7); print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))')
publish "$(ev later-1 c-file ",\"send_after\":\"$LATER\"")" >/dev/null
wait_for 10 grep -q 'later-1: .*status=scheduled' "$T/log/delivery.log"
# (the log line can come a moment before the pipeline reaches Redis)
wait_for 5 sh -c "redis-cli -p $REDIS_PORT HGET herald:msg:later-1 status | grep -q scheduled"
expect_eq "a scheduled message is in herald:sched" 1 "$(rcli ZSCORE herald:sched later-1 | grep -c .)"
expect_grep "a scheduled message keeps its event for when it is due" '"event_id":"later-1"' \
	"$(rcli HGET herald:msg:later-1 event >"$T/ev-later"; echo "$T/ev-later")"
# herald_due (Lua) reads the citizen from "meta" with lib/msgrec.h's
# MSGREC_META_LUA_CITIZEN: the pattern agrees with the meta heraldd wrote.
pat=$(sed -n 's/^#define MSGREC_META_LUA_CITIZEN "\(.*\)"$/\1/p' "$HERALD_SRC/lib/msgrec.h")
expect_eq "the Lua's meta pattern finds the citizen in the meta heraldd wrote" c-file \
	"$(rcli EVAL 'return string.match(ARGV[1], ARGV[2])' 0 "$(rcli HGET herald:msg:later-1 meta)" "$pat")"

# --- unknown citizen, no usable channel: accepted, then permanent-failure ----
publish "$(ev nobody-1 c-does-not-exist)" "$(ev nochan-1 c-none)" >"$T/acks2"
expect_eq "unknown citizen is accepted" 2 "$(grep -c '"status":"accepted"' "$T/acks2")"
wait_for 10 grep -q 'nochan-1.*permanent-failure' "$T/log/delivery.log"
expect_grep "unknown citizen logged as permanent-failure with a reason" \
	'nobody-1: .*status=permanent-failure \(unknown citizen c-does-not-exist\)' "$T/log/delivery.log"
expect_grep "no usable channel logged with the reasons" \
	'nochan-1: .*status=permanent-failure \(no usable channel: sms: channel not enabled; email: channel not enabled\)' \
	"$T/log/delivery.log"

# --- logrotate: move the logs away, SIGUSR1, new lines land in new files -----
mv "$T/log/delivery.log" "$T/log/delivery.log.1"
mv "$T/log/delivery.jsonl" "$T/log/delivery.jsonl.1"
kill -USR1 "$HERALDD_PID"
sleep 0.3
publish "$(ev rot-1 c-file)" >/dev/null
wait_for 10 grep -q 'rot-1.*status=delivered' "$T/log/delivery.log"
expect_grep "after SIGUSR1 the text log is a new file" 'rot-1: .*status=delivered' "$T/log/delivery.log"
expect_grep "after SIGUSR1 the JSON log is a new file" '"event_id":"rot-1"' "$T/log/delivery.jsonl"
expect_no_grep "the rotated file got nothing new" 'rot-1' "$T/log/delivery.log.1"

# --- SIGHUP reloads templates (a new template becomes known) -----------------
cp -r "$HERALD_SRC/templates" "$T/templates"
sed -i "s|^dir = .*templates\$|dir = $T/templates|" "$T/herald.conf"
# (the templates dir is read from the config at start; reload re-reads that dir)
expect_grep "heraldd logs what it loaded" 'heraldd: ready: .* 3 templates' "$T/heraldd.out"
kill -HUP "$HERALDD_PID"
wait_for 5 grep -q 'reload: ' "$T/heraldd.out"
expect_grep "SIGHUP reloads templates" 'reload: [0-9]+ templates' "$T/heraldd.out"

# --- a backlog another instance accepted: events read from the stream -------
# 600 entries heraldd has no cached copy of (as if another heraldd had accepted
# them): each is parsed from its stream entry; reads of a full batch (256) mark
# a backlog, and ingest takes fewer new events a turn meanwhile.
set --
i=1
while [ $i -le 600 ]; do
	set -- "$@" "bp-$i" dvla herald:q:normal "$(ev "bp-$i" c-file)" 0
	i=$((i + 1))
done
rcli FCALL herald_accept 0 "$(date +%s)000" "$@" >/dev/null
set --
publish "$(ev during-backlog-1 c-file)" >"$T/acks-bp"
expect_eq "an event published during the backlog is accepted" \
	'{"event_id":"during-backlog-1","status":"accepted"}' "$(cat "$T/acks-bp")"
wait_for 30 sh -c "[ \$(grep -c 'bp-[0-9]*: .*status=delivered' '$T/log/delivery.log') -ge 600 ]"
expect_eq "every event of the backlog is delivered, once" 600 \
	"$(grep 'bp-[0-9]*: .*status=delivered' "$T/log/delivery.log" | sed 's/.* \(bp-[0-9]*\): .*/\1/' | sort -u | wc -l)"
expect_eq "each with its journey starting at accepted" accepted \
	"$(rcli LINDEX herald:tx:bp-600 0 | sed 's/.*"status":"\([a-z-]*\)".*/\1/')"
wait_for 10 grep -q 'during-backlog-1: .*status=delivered' "$T/log/delivery.log"
expect_grep "and the one published meanwhile too" 'during-backlog-1: .*status=delivered' "$T/log/delivery.log"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics-bp"
expect_grep "/metrics counts the turns ingest was held back" \
	'^herald_ingest_throttled_turns_total [1-9]' "$T/metrics-bp"
check "acknowledged entries are trimmed off the stream (within a few seconds)" \
	wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN herald:q:normal) -eq 0 ]"
check "/metrics has the schedule's size (later-1)" \
	wait_for 12 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q '^herald_scheduled 1\$'"
check "and the queue depth" \
	wait_for 12 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q '^herald_queue_depth 0\$'"

# --- a state write Redis refuses is logged, and the message still goes -------
rcli SET herald:tx:tx-wrong not-a-list >/dev/null
publish "$(ev wt-1 c-file ',"transaction_id":"tx-wrong"')" >/dev/null
check "wt-1 delivered although its journey key is not a list" \
	wait_for 10 grep -q 'wt-1: .*status=delivered' "$T/log/delivery.log"
check "the refused journey write is in the operator log" \
	wait_for 5 grep -q 'redis: a write failed: WRONGTYPE' "$T/heraldd.out"
rcli DEL herald:tx:tx-wrong >/dev/null

# --- health and metrics ------------------------------------------------------
curl -s "http://127.0.0.1:$HTTP_PORT/healthz" >"$T/healthz"
expect_eq "/healthz answers ok" ok "$(head -n 1 "$T/healthz")"
# this test publishes unauthenticated ([ingest] auth = none, lib.sh)
expect_grep "/healthz warns that ingest is not authenticated" \
	'^warning: ingest is not authenticated \(\[ingest\] auth = none\)' "$T/healthz"
expect_grep "heraldd warns loudly at start that ingest is not authenticated" \
	'warning: INGEST IS NOT AUTHENTICATED \(\[ingest\] auth = none\)' "$T/heraldd.out"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"
expect_grep "/metrics counts deliveries per channel" 'herald_messages_total\{service="[a-z0-9_-]*",channel="file",status="delivered"\} [1-9]' "$T/metrics"
expect_grep "/metrics counts rejections" 'herald_ingest_total\{outcome="rejected"\} [0-9]{4}' "$T/metrics"

# --- heraldctl publish exit codes, heraldd -t ---------------------------------
dead_port=$(free_port)
printf '%s\n' "$(ev unreachable-1 c-file)" |
	"$BIN/heraldctl" -c "$T/herald.conf" publish -e "tcp://127.0.0.1:$dead_port" -t 200 -r 1 - \
		>"$T/unreach.out" 2>&1
expect_eq "publish exits 2 when heraldd cannot be reached" 2 $?
expect_grep "and says so" "no answer from tcp://127.0.0.1:$dead_port after 2 tries" "$T/unreach.out"
"$BIN/heraldd" -t -c "$T/herald.conf" >"$T/check.out" 2>&1
expect_eq "heraldd -t accepts the configuration" 0 $?
expect_grep "heraldd -t reports the templates" 'configuration OK, 3 templates' "$T/check.out"
printf '[redis]\nport = seventy\n' >"$T/bad.conf"
"$BIN/heraldd" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
expect_eq "heraldd -t refuses a bad value" 1 $?
expect_grep "naming the key" "\\[redis\\] port = 'seventy': expected a port 1..65535" "$T/bad.out"
printf '[redis]\nport = 99999\n' >"$T/bad.conf"
"$BIN/heraldd" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
expect_eq "heraldd -t refuses a port above 65535" 1 $?
printf '[channel.file]\nretry_min = soon\n' >"$T/bad.conf"
"$BIN/heraldd" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
expect_eq "heraldd -t refuses a retry_min that is no number (was: the default, silently)" 1 $?
expect_grep "naming the channel key" "\\[channel.file\\] retry_min = 'soon': expected an integer" "$T/bad.out"
printf '[queue]\nclaim_idle = 2m\n' >"$T/ok.conf"
"$BIN/heraldd" -t -c "$T/ok.conf" >"$T/ok.out" 2>&1
expect_no_grep "claim_idle takes a duration (2m): no complaint about it" "claim_idle" "$T/ok.out"

# --- SIGTERM stops cleanly ---------------------------------------------------
kill -TERM "$HERALDD_PID"
wait_for 10 sh -c "! kill -0 $HERALDD_PID 2>/dev/null"
expect_grep "SIGTERM stops heraldd cleanly" 'heraldd: stopped' "$T/heraldd.out"

# --- restart recovery: an event accepted, read, never worked on --------------
# As if heraldd died right after herald_accept and its read: the hash holds
# the status alone and the entry is pending for this consumer.
printf '\n[queue]\nconsumer = t-core\n' >>"$T/herald.conf"
rcli FCALL herald_accept 0 "$(date +%s)000" rec-1 dvla herald:q:normal "$(ev rec-1 c-file ',"transaction_id":"tx-rec"')" 0 >/dev/null
expect_eq "the entry carries id, accepted time and event: no citizen or tx twice" "id a e" \
	"$(rcli XREVRANGE herald:q:normal + - COUNT 1 | sed -n '2p;4p;6p;8p' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "herald_accept left the status and its service alone in the hash" \
	"status accepted svc dvla" \
	"$(rcli HGETALL herald:msg:rec-1 | tr '\n' ' ' | sed 's/ $//')"
rcli XREADGROUP GROUP herald t-core COUNT 100 STREAMS herald:q:normal '>' >/dev/null
expect_eq "the entry is pending for the consumer" 1 "$(rcli XPENDING herald:q:normal herald - + 100 t-core | grep -c '^rec-\|^[0-9]*-[0-9]*$')"
start_heraldd
wait_for 10 grep -q 'rec-1: .*status=delivered' "$T/log/delivery.log"
expect_grep "the recovered event is delivered, in its own transaction" \
	'rec-1: tx=tx-rec, citizen=c-file, channel=file, .*status=delivered' "$T/log/delivery.log"
expect_eq "its journey starts with the accepted record" accepted \
	"$(rcli LINDEX herald:tx:tx-rec 0 | sed 's/.*"status":"\([a-z-]*\)".*/\1/')"
expect_eq "and the hash is complete" "c-file tx-rec dvla" \
	"$(msgf rec-1 citizen tx service | tr '\n' ' ' | sed 's/ $//')"
expect_eq "with its TTL" 1 "$([ "$(rcli TTL herald:msg:rec-1)" -gt 0 ] && echo 1)"
expect_eq "nothing is left pending" 0 "$(rcli XPENDING herald:q:normal herald | head -n 1)"

# --- a message hash as heraldd wrote it before meta and at -------------------
# One field each (accepted_ms, service, citizen, channel, attempt, plan,
# plan_idx, to): a scheduled message of an older heraldd comes due after an
# upgrade and goes on as before.
now_ms=$(($(date +%s) * 1000))
rcli HSET herald:msg:old-1 status scheduled tx old-1 citizen c-file service dvla \
	accepted_ms $((now_ms - 5000)) updated_ms $((now_ms - 4000)) attempt 0 plan file plan_idx 0 \
	reason 'held until send_after' stream herald:q:normal event "$(ev old-1 c-file)" >/dev/null
rcli EXPIRE herald:msg:old-1 86400 >/dev/null
rcli ZADD herald:sched "$now_ms" old-1 >/dev/null
wait_for 10 grep -q 'old-1: .*status=delivered' "$T/log/delivery.log"
expect_grep "an older hash's message is delivered when due, with its citizen and plan" \
	'old-1: tx=old-1, citizen=c-file, channel=file, .*attempt=1, .*status=delivered' \
	"$T/log/delivery.log"
expect_eq "... and its hash now holds at" "file 1 0 file -" "$(rcli HGET herald:msg:old-1 at)"
stop_heraldd
finish
