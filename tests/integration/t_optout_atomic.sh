#!/bin/sh
# t_optout_atomic.sh - what a citizen sends back is recorded with its journey
# record in one Redis call, both or neither (router/optout.c,
# router/inbound_sms.c, router/unsubscribe.c): an SMS STOP's opt-out and its
# `unsubscribed` record, a one-click unsubscribe's opt-out and its record,
# an SMS reply's engagement and its `inbound` record. heraldd reaches Redis
# through tests/integration/redisproxy.py, which forwards that call and
# cuts the connection before its answer comes back (a Redis failure right
# after the first write): the HTTP answer is 503, the resend 200 (already
# recorded), and the journey holds the record once, where a record sent
# apart after the write was lost with the connection. Then, by MONITOR, a
# STOP without a fault: the record goes inside the FCALL (RPUSHed by the
# script), never as a command of its own.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

need_smtp_sink "$BIN/heraldd" "$BIN/channels/email.so" "$BIN/channels/sms.so"
start_smtp_sink mail
start_sms_gateway
start_redis
LOG=$T/log/delivery.log
HTTP_PORT=$(free_port)
JURL="http://127.0.0.1:$HTTP_PORT/inbound/sms/json"
# heraldd_via PROXY_PORT: (re)start heraldd with Redis reached through it
heraldd_via() {
	write_conf "
[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 5

[channel.email]
relay = 127.0.0.1:$SINK_PORT
from = Herald <noreply@gov.example>
starttls = no
domain = gov.example
timeout = 10
unsubscribe_url = http://127.0.0.1:$HTTP_PORT/unsub/"
	sed -i "s/^port = $REDIS_PORT\$/port = $1/" "$T/herald.conf"
	start_heraldd
}
ev() { # ev EVENT CITIZEN SERVICE CHANNEL
	printf '{"event_id":"%s","service":"%s","citizen_id":"%s","transaction_id":"tx-%s","template":"payment-due","personalisation":{"name":"Ann","amount":"10","due_date":"1 January 2027"},"channels":["%s"]}' \
		"$1" "$3" "$2" "$1" "$4"
}
sent() { # sent EVENT CHANNEL
	check "$1 sent over $2" wait_for 20 grep -Eq " $1: .*channel=$2.*status=sent" "$LOG"
}
jpost() { # jpost FROM TEXT ID: prints the HTTP code
	curl -s -o /dev/null -m 30 -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"from\":\"$1\",\"to\":\"+447700900001\",\"text\":\"$2\",\"id\":\"$3\"}" "$JURL"
}
# records TX STATUS: how many records of STATUS the journey holds
records() {
	rcli LRANGE "herald:tx:$1" 0 -1 | grep -c "\"status\":\"$2\""
}
unsub_post() { curl -s -o /dev/null -m 30 -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$URL"; }

start_redisproxy p1 --cut-on herald_list_add
heraldd_via "$PROXY_PORT"
seed_citizen c-a name Ann channels sms phone +447700900111
seed_citizen c-u name Ada channels email email ada@example.org locale en

# ---- 1. STOP: the connection cut after the opt-out call -------------------
publish "$(ev f-1 c-a dvla sms)" >/dev/null
sent f-1 sms
kill -USR2 "$PROXY_PID"
resend jpost +447700900111 STOP j-1 >"$T/stop.codes"
diag "STOP, the codes the gateway got: $(cat "$T/stop.codes")"
expect_grep "the connection was cut after the opt-out call" '^cut 1 on pattern' "$T/p1.out"
expect_eq "the STOP whose answer was lost is answered 503" 503 "$(cut -d' ' -f1 "$T/stop.codes")"
expect_eq "its resend 200" 200 "$(tr ' ' '\n' <"$T/stop.codes" | tail -n 1)"
expect_eq "the opt-out stands" sms "$(rcli HGET herald:citizen:c-a optout@dvla)"
expect_eq "with its unsubscribed record in the journey, once" 1 "$(records tx-f-1 unsubscribed)"

# ---- 2. one-click unsubscribe: the same cut --------------------------------
publish "$(ev u-1 c-u news email)" >/dev/null
sent u-1 email
wait_for 5 sh -c "[ \$(find '$T/mail' -type f | wc -l) -ge 1 ]"
URL=$(python3 - "$(find "$T/mail" -type f | head -n 1)" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.compat32)
print(" ".join(m.get("List-Unsubscribe", "").split()).strip("<>"))
PY
)
check "the email has its unsubscribe link" sh -c "echo '$URL' | grep -q '/unsub/'"
kill -USR2 "$PROXY_PID"
resend unsub_post >"$T/unsub.codes"
diag "unsubscribe, the codes the citizen got: $(cat "$T/unsub.codes")"
expect_grep "the connection was cut after the opt-out call" '^cut 2 on pattern' "$T/p1.out"
expect_eq "the POST whose answer was lost is answered 503" 503 "$(cut -d' ' -f1 "$T/unsub.codes")"
expect_eq "its repeat 200" 200 "$(tr ' ' '\n' <"$T/unsub.codes" | tail -n 1)"
expect_eq "the opt-out stands" email "$(rcli HGET herald:citizen:c-u optout@news)"
expect_eq "with its unsubscribed record in the journey, once" 1 "$(records tx-u-1 unsubscribed)"
stop_heraldd

# ---- 3. an SMS reply: the connection cut after the engagement call ---------
start_redisproxy p2 --cut-on herald_engage
heraldd_via "$PROXY_PORT"
seed_citizen c-b name Bob channels sms phone +447700900222
publish "$(ev f-2 c-b dvla sms)" >/dev/null
sent f-2 sms
kill -USR2 "$PROXY_PID"
resend jpost +447700900222 "thanks, paid" j-2 >"$T/reply.codes"
diag "reply, the codes the gateway got: $(cat "$T/reply.codes")"
expect_grep "the connection was cut after the engagement call" '^cut 1 on pattern' "$T/p2.out"
expect_eq "the reply whose answer was lost is answered 503" 503 "$(cut -d' ' -f1 "$T/reply.codes")"
expect_eq "its resend 200" 200 "$(tr ' ' '\n' <"$T/reply.codes" | tail -n 1)"
expect_eq "the engagement stands" 1 "$(rcli EXISTS herald:msg:mo-j-2)"
expect_eq "with its inbound record in the journey, once" 1 "$(records tx-f-2 inbound)"

# ---- 4. by MONITOR: the record goes inside the call ---------------------------
seed_citizen c-c name Cy channels sms phone +447700900333
publish "$(ev f-3 c-c dvla sms)" >/dev/null
sent f-3 sms
redis-cli -p "$REDIS_PORT" MONITOR >"$T/monitor.out" 2>&1 &
MON=$!
track_pid "$MON"
sleep 0.5
expect_eq "a STOP without a fault: 200" 200 "$(jpost +447700900333 STOP j-3)"
check "its unsubscribed record in the delivery log" \
	wait_for 10 grep -q ' f-3: .*status=unsubscribed' "$LOG"
sleep 0.5
stop_pid "$MON"
grep 'unsubscribed' "$T/monitor.out" | grep 'f-3' >"$T/mon.f3"
sed 's/^/# /' "$T/mon.f3" | cut -c1-160
expect_grep "the record is an argument of the FCALL herald_list_add" \
	'"FCALL" "herald_list_add" .*unsubscribed' "$T/mon.f3"
expect_grep "the script RPUSHes it (inside the call)" 'lua\] "RPUSH" "herald:tx:tx-f-3"' "$T/mon.f3"
expect_no_grep "no RPUSH of it from the client (a command of its own)" \
	'[0-9]\] "RPUSH" "herald:tx:tx-f-3"' "$T/mon.f3"
stop_heraldd
assert_clean_log "$T/heraldd.out"
finish
