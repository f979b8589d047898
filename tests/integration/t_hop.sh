#!/bin/sh
# t_hop.sh - how a transaction keeps going (issue 5), against real servers:
#  A  4xx retried with growing delays, then accepted
#  B  retries exhausted -> hop to the next channel
#  C  every channel failing -> exhausted, in herald:dead, then replayed
#  D  quiet hours hold an SMS; priority urgent overrides, and says so
#  E  send_after holds a message until then
#  F  an engagement event changes the channel of the next message
#  G  a receipt that arrives after the hop is recorded, undoes nothing
#  H  restart heraldd while messages wait for a retry or a receipt deadline
. "$HERALD_SRC/tests/integration/lib.sh"

SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
SMTP_PORT=$(free_port)
mkdir -p "$T/sink"
SINK_PID=
start_sink() { # start_sink [smtp-sink options]: (re)start the relay on SMTP_PORT
	[ -n "$SINK_PID" ] && stop_pid "$SINK_PID"
	(cd "$T/sink" && exec "$SINK" -u root "$@" 127.0.0.1:$SMTP_PORT 16) >>"$T/sink.log" 2>&1 &
	SINK_PID=$!
	track_pid $SINK_PID
	wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT), 1)"
}
start_sms_gateway
start_redis

conf() { # conf SMS_PATH RETRY_MIN
	write_conf "
[channel.email]
relay = 127.0.0.1:$SMTP_PORT
from = DVLA <noreply@dvla.example>
domain = dvla.example
sessions = 1
timeout = 5
retry_min = $2
retry_max = 4
max_attempts = 3

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT$1
from = +447700900001
timeout = 5
retry_min = 1
retry_max = 2
max_attempts = 3
"
}
ev() { # ev ID CITIZEN [extra members]
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}%s}' "$1" "$2" "${3:-}"
}
line_time() { # seconds (with ms) of the Nth log line matching a pattern
	grep -E "$1" "$T/log/delivery.log" | sed -n "${2}p" |
		python3 -c 'import sys,datetime; t=sys.stdin.read().split()[0]; print(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp())'
}
LOG=$T/log/delivery.log

# ---- phase 1: A, B, C ---------------------------------------------------------
start_sink -r RCPT
conf /status/503 1
start_heraldd
seed_citizen c-a name Ada channels email email "ada@example.org"
seed_citizen c-b name Bob channels "sms,file" phone "+447700900222"
seed_citizen c-c name Cat channels "email,sms" email "not-an-address" phone "12345"
publish "$(ev a-1 c-a)" "$(ev b-1 c-b)" "$(ev c-1 c-c)" >"$T/acks1"
expect_eq "phase 1 events accepted" 3 "$(grep -c accepted "$T/acks1")"

# A: two 4xx answers, then the relay takes it
wait_for 20 sh -c "[ \$(grep -c 'a-1: .*status=temporary-failure' '$LOG') -ge 2 ]"
start_sink
check "A: accepted by the relay on the third attempt" \
	wait_for 20 grep -q 'a-1: .*channel=email.*attempt=3,.*status=sent' "$LOG"
expect_eq "A: two temporary failures before" 2 "$(grep -c 'a-1: .*status=temporary-failure' "$LOG")"
expect_grep "A: the 4xx reply is the reason" 'a-1: .*status=temporary-failure \(4[0-9][0-9] ' "$LOG"
t1=$(line_time 'a-1: .*status=sending' 1)
t2=$(line_time 'a-1: .*status=sending' 2)
t3=$(line_time 'a-1: .*status=sending' 3)
check "A: the second wait is longer than the first ($t1 $t2 $t3)" \
	python3 -c "import sys; a,b,c=$t1,$t2,$t3; sys.exit(0 if (c-b) > (b-a) and (b-a) >= 0.7 else 1)"

# B: the SMS gateway answers 503 three times -> retries exhausted -> file
check "B: hopped to file after the retries" \
	wait_for 30 grep -q 'b-1: .*channel=file.*status=delivered' "$LOG"
expect_eq "B: three temporary failures on sms" 3 "$(grep -c 'b-1: .*channel=sms.*status=temporary-failure' "$LOG")"
expect_grep "B: the hop says why" 'b-1: .*channel=sms.*status=hopped \(retries exhausted after 3 attempts on sms; next channel file\)' "$LOG"

# C: invalid email and invalid number: permanent on both -> exhausted
check "C: exhausted" wait_for 20 grep -q 'c-1: .*status=exhausted' "$LOG"
expect_eq "C: in the dead-letter list" c-1 "$(rcli LRANGE herald:dead 0 -1)"
expect_grep "C: logged at warning" 'warning: c-1: exhausted' "$T/heraldd.out"
expect_eq "C: both addresses learnt invalid" "email,sms" "$(rcli HGET herald:citizen:c-c invalid)"
"$BIN/heraldctl" -c "$T/herald.conf" dead list >"$T/dead" 2>&1
expect_grep "C: heraldctl dead list shows it" 'c-1' "$T/dead"
rcli HSET herald:citizen:c-c channels "email,sms,file" >/dev/null
"$BIN/heraldctl" -c "$T/herald.conf" dead replay c-1 >"$T/replay" 2>&1
expect_eq "C: dead replay exits 0" 0 $?
check "C: replayed with a fresh plan, delivered on file" \
	wait_for 20 grep -q 'c-1: .*channel=file.*status=delivered' "$LOG"
expect_eq "C: no longer in herald:dead" 0 "$(rcli LLEN herald:dead)"
expect_grep "C: the delivery log says it was replayed, before it went on" \
	'c-1: .*status=accepted \(replayed from the dead-letter list by an operator\)' "$LOG"
expect_eq "C: ... once, between exhausted and the new attempt" "exhausted accepted sending" \
	"$(grep 'c-1: ' "$LOG" | sed -n 's/.*status=\([a-z-]*\).*/\1/p' | grep -A2 '^exhausted$' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "C: the journey holds the replay once (heraldctl's record; heraldd only logs it)" 1 \
	"$(rcli LRANGE "herald:tx:$(rcli HGET herald:msg:c-1 tx)" 0 -1 | grep -c 'replayed from the dead-letter list')"

stop_heraldd

# ---- phase 2: D, E, F, G -----------------------------------------------------
conf /json 1
start_heraldd
# a window from an hour ago to two hours ahead (UTC), so now is inside it
from=$(python3 -c 'import datetime; h=datetime.datetime.now(datetime.timezone.utc).hour; print("%02d:00" % ((h + 23) % 24))')
to=$(python3 -c 'import datetime; h=datetime.datetime.now(datetime.timezone.utc).hour; print("%02d:00" % ((h + 2) % 24))')
seed_citizen c-q name Quinn channels "sms,email" phone "+447700900333" email "q@example.org" tz UTC \
	quiet_hours "$from-$to"
publish "$(ev q-1 c-q)" "$(ev q-2 c-q ',"priority":"urgent"')" >/dev/null
check "D: the SMS is held (scheduled)" wait_for 10 grep -q "q-1: .*channel=sms.*status=scheduled (quiet hours $from-$to UTC: held until" "$LOG"
due=$(rcli ZSCORE herald:sched q-1)
want=$(python3 -c "import datetime; n=datetime.datetime.now(datetime.timezone.utc); print(int(n.replace(minute=0,second=0,microsecond=0).timestamp()*1000 + 2*3600*1000))")
check "D: due when the window ends ($due vs $want)" test "${due%.*}" = "$want"
expect_no_grep "D: nothing sent for q-1" 'q-1: .*status=sen' "$LOG"
check "D: urgent goes at once" wait_for 10 grep -q 'q-2: .*channel=sms.*status=sent' "$LOG"
expect_grep "D: and the override is logged" 'q-2: .*status=sending \(priority urgent overrides quiet hours' "$LOG"
expect_grep "D: in the operator log too" 'q-2: priority urgent overrides quiet hours' "$T/heraldd.out"

# E: send_after
seed_citizen c-f name Fay channels file
after=$(python3 -c "import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(seconds=2)).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]+'Z')")
publish "$(ev s-1 c-f ",\"send_after\":\"$after\"")" >/dev/null
check "E: held until send_after" wait_for 5 grep -q "s-1: .*status=scheduled (held until send_after" "$LOG"
check "E: then delivered" wait_for 10 grep -q 's-1: .*status=delivered' "$LOG"
sent_at=$(line_time 's-1: .*status=sending' 1)
check "E: not before send_after" python3 -c "import sys,datetime; sys.exit(0 if $sent_at >= datetime.datetime.strptime('$after', '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp() else 1)"

# F: engagement
seed_citizen c-e name Eve channels "sms,email,file" phone "+447700900444" email "eve@example.org"
publish "$(ev e-1 c-e ',"transaction_id":"tx-e"')" >/dev/null
check "F: first message of the transaction on sms" wait_for 10 grep -q 'e-1: .*channel=sms.*status=sent' "$LOG"
publish '{"kind":"engagement","event_id":"eng-1","service":"dvla","transaction_id":"tx-e","citizen_id":"c-e","channel":"file"}' >"$T/eng"
expect_grep "F: engagement accepted" '"status":"accepted"' "$T/eng"
expect_grep "F: engagement in the journey" '"status":"engaged"' "$(rcli LRANGE herald:tx:tx-e 0 -1 >"$T/txe"; echo "$T/txe")"
publish "$(ev e-2 c-e ',"transaction_id":"tx-e"')" >/dev/null
check "F: next message goes to the engaged channel" wait_for 10 grep -q 'e-2: .*channel=file.*status=delivered' "$LOG"
expect_no_grep "F: no sms attempt for it" 'e-2: .*channel=sms' "$LOG"

# G: late receipt after the hop
seed_citizen c-l name Lee channels "sms,file" phone "+447700900555"
publish "$(ev l-1 c-l ',"deliver_within":1')" >/dev/null
check "G: hopped to file after the deadline" wait_for 15 grep -q 'l-1: .*channel=file.*status=delivered' "$LOG"
ref=$(grep '"event_id":"l-1"' "$T/log/delivery.jsonl" | grep '"status":"sent"' | sed 's/.*"ref":"\([^"]*\)".*/\1/')
code=$(curl -s -o "$T/late.body" -w '%{http_code}' -H 'Content-Type: application/json' \
	-d "{\"reference\":\"$ref\",\"status\":\"delivered\"}" "http://127.0.0.1:$HTTP_PORT/receipts/sms/json")
expect_eq "G: the late receipt is answered 200" 200 "$code"
check "G: recorded" wait_for 5 grep -q 'l-1: .*channel=sms.*late receipt from sms: delivered' "$LOG"
expect_eq "G: the message stays delivered on file" "delivered file" \
	"$(msgf l-1 status channel | paste -sd' ' -)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	-d '{"reference":"no-such-ref","status":"delivered"}' "http://127.0.0.1:$HTTP_PORT/receipts/sms/json")
expect_eq "G: a receipt for an unknown message is answered, not a crash" 200 "$code"
check "G: heraldd still serves" curl -sf "http://127.0.0.1:$HTTP_PORT/healthz"
stop_heraldd

# ---- phase 3: H, restart with work waiting ----------------------------------
start_sink -r RCPT
conf /json 3
start_heraldd
seed_citizen c-r name Rob channels email email "rob@example.org"
seed_citizen c-d name Dai channels "sms,file" phone "+447700900666"
publish "$(ev r-1 c-r)" "$(ev d-1 c-d ',"deliver_within":4')" >/dev/null
wait_for 10 grep -q 'r-1: .*status=temporary-failure' "$LOG"
wait_for 10 grep -q 'd-1: .*channel=sms.*status=sent' "$LOG"
expect_eq "H: both wait in herald:sched" "1 1" \
	"$(rcli ZSCORE herald:sched r-1 | grep -c .) $(rcli ZSCORE herald:sched d-1 | grep -c .)"
stop_heraldd
start_sink
start_heraldd
check "H: the retry completes after the restart" wait_for 20 grep -q 'r-1: .*channel=email.*status=sent' "$LOG"
check "H: the receipt deadline fires after the restart" \
	wait_for 20 grep -q 'd-1: .*channel=file.*status=delivered' "$LOG"
expect_grep "H: with the deadline as the reason" 'd-1: .*status=hopped \(no delivery receipt within 4s' "$LOG"
expect_eq "H: nothing left waiting but the quiet-hours hold" "q-1" "$(rcli ZRANGE herald:sched 0 -1 | paste -sd' ' -)"
finish
