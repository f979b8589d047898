#!/bin/sh
# t_inbound_sms.sh - SMS replies (issue #16 point 5) through a REAL Kannel:
# heraldd sends an SMS over bearerbox + smsbox (smsc = fake), Kannel's
# fakesmsc (interactive: each line written to its stdin is a
# mobile-originated message) plays the phone, and smsbox's sms-service
# get-url hands each reply to heraldd at <public_url path>/inbound/sms.
#
#   a reply ("Yes please") is an engagement on the transaction
#   (herald:engaged:<tx> = sms), an `inbound` record in the journey and the
#   delivery log (its length, not its text) and an `inbound` callback to
#   the service carrying the text;
#   "stop" opts the citizen out of SMS for that service (optout@dvla): its
#   next event skips SMS, another service's SMS still goes;
#   a reply from a number heraldd never texted is logged (masked), nothing
#   else; the inbound path without public_url's secret path is refused;
#   heraldctl trace shows both records;
#   a STOP while Redis is down: heraldd answers smsbox 503 (not 200), smsbox
#   retries it (http-request-retry, http-queue-delay), and once Redis is
#   back the STOP is applied, once.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"
. "$HERALD_SRC/tests/integration/sms_lib.sh"

kannel_conf
HTTP_PORT=$(free_port)
HOOK=/hook/in-s3cr3t-$$
cat >>"$K/kannel.conf" <<EOF

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "http://127.0.0.1:$HTTP_PORT$HOOK/inbound/sms?from=%p&to=%P&text=%a&id=%I"
EOF

# smsbox sends a get-url again when it is not answered 200/202
sed -i 's/^group = smsbox$/group = smsbox\nhttp-request-retry = 30\nhttp-queue-delay = 1/' "$K/kannel.conf"
kannel_bearerbox
# fakesmsc without messages reads them from stdin: a FIFO held open here
mkfifo "$K/mo"
"$FAKESMSC" -H 127.0.0.1 -r "$FAKE_PORT" -i 0.1 <"$K/mo" >"$K/fakesmsc.out" 2>&1 &
FAKE_PID=$!
track_pid $FAKE_PID
exec 7>"$K/mo"
kannel_smsbox
sleep 1 # let bearerbox mark the fake SMSC connection active
# mo TEXT [FROM]: the phone sends TEXT
mo() { printf '%s HERALD text %s\n' "${2:-+447700900777}" "$1" >&7; }

start_redis
start_callback_receiver
write_conf "
$(kannel_sms_conf)
stop_keywords = NAGE, DIGON

[service.dvla]
callback_url = http://127.0.0.1:$CB_PORT/herald/status
callback_secret = cb-secret
"
sed -i "s#^public_url = .*#public_url = http://127.0.0.1:$HTTP_PORT$HOOK#" "$T/herald.conf"
start_heraldd
LOG=$T/log/delivery.log
seed_citizen c-in-1 name Ada channels sms,file phone +447700900777 locale en
EV='"template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December","time":"10:00","location":"Cardiff"}'
publish "{\"event_id\":\"in-1\",\"service\":\"dvla\",\"citizen_id\":\"c-in-1\",\"transaction_id\":\"tx-in-1\",$EV,\"channels\":[\"sms\"]}" >/dev/null
check "fakesmsc received heraldd's SMS" \
	wait_for 20 grep -q '<[^ ]* +447700900777 text Reminder: Ada' "$K/fakesmsc.out"
check "delivery log: in-1 sent over sms" wait_for 20 grep -q ' in-1: .*channel=sms.*status=sent' "$LOG"
expect_eq "herald:mo:<number> leads the number to the message" "dvla tx-in-1 in-1 c-in-1" \
	"$(rcli ZRANGE herald:mo:+447700900777 0 -1)"
ttl=$(rcli TTL herald:mo:+447700900777)
check "and expires with retention (TTL $ttl s)" test "$ttl" -gt 2500000

# ---- a reply: an engagement and an inbound callback ---------------------
mo 'Yes please, see you then'
check "delivery log: the reply is an inbound record of in-1" \
	wait_for 20 grep -q ' in-1: .*channel=sms.*status=inbound (citizen replied by SMS (24 bytes)' "$LOG"
expect_eq "the transaction is engaged on sms" sms "$(rcli GET herald:engaged:tx-in-1)"
cbtext() { # the text of the service's inbound callback record
	python3 - "$T/cb.jsonl" <<'PY'
import base64, json, sys
for line in open(sys.argv[1]):
    b = json.loads(base64.b64decode(json.loads(line)["body_b64"]))
    if b.get("status") == "inbound":
        print(b["event_id"], b["tx"], b.get("text"))
PY
}
# accepted, sending, sent, delivered, inbound
check "the service's callback got five records" \
	wait_for 15 sh -c "[ \$(wc -l <'$T/cb.jsonl') -ge 5 ]"
expect_eq "an inbound callback record with the text, on the SMS's message and tx" \
	"in-1 tx-in-1 Yes please, see you then" "$(cbtext)"
expect_no_grep "the text is in no log" 'see you then' "$LOG" "$T/log/delivery.jsonl" "$T/heraldd.out"
expect_no_grep "the number is masked in the logs" '447700900777' "$LOG" "$T/heraldd.out"

# ---- STOP: opted out of SMS for dvla ------------------------------------
mo 'stop'
check "delivery log: in-1 unsubscribed" \
	wait_for 20 grep -q ' in-1: .*channel=sms.*status=unsubscribed' "$LOG"
expect_eq "the citizen's record: optout@dvla = sms" sms "$(rcli HGET herald:citizen:c-in-1 optout@dvla)"
expect_eq "no opt-out for every service" "" "$(rcli HGET herald:citizen:c-in-1 optout)"
publish "{\"event_id\":\"in-2\",\"service\":\"dvla\",\"citizen_id\":\"c-in-1\",\"transaction_id\":\"tx-in-2\",$EV,\"channels\":[\"sms\",\"file\"]}" >/dev/null
check "dvla's next event goes by file" wait_for 20 grep -q ' in-2: .*channel=file.*status=delivered' "$LOG"
expect_no_grep "and never by sms" ' in-2: .*channel=sms' "$LOG"
publish "{\"event_id\":\"in-3\",\"service\":\"nhs\",\"citizen_id\":\"c-in-1\",\"transaction_id\":\"tx-in-3\",$EV,\"channels\":[\"sms\"]}" >/dev/null
check "another service's SMS still goes" wait_for 20 grep -q ' in-3: .*channel=sms.*status=sent' "$LOG"
check "and reaches the phone" \
	wait_for 20 sh -c "[ \$(grep -c '+447700900777 text Reminder: Ada' '$K/fakesmsc.out') -ge 2 ]"
# a configured keyword opts out of nhs now (its SMS was the last)
mo 'Digon!'
check "a configured stop keyword (DIGON) opts out of nhs" \
	wait_for 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT HGET herald:citizen:c-in-1 optout@nhs)\" = sms ]"

# ---- a number never texted; the path without the secret -----------------
mo 'hello?' +447700900999
check "a reply from an unknown number is logged, masked" \
	wait_for 20 grep -q 'inbound sms from +44\*.*no message sent to that number lately' "$T/heraldd.out"
expect_no_grep "its number unmasked nowhere" '447700900999' "$T/heraldd.out" "$LOG"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/inbound/sms?from=%2B447700900777&text=stop")
expect_eq "/inbound/sms outside public_url's path is refused" 404 "$code"

# ---- a STOP while Redis is down: 503, Kannel retries, applied once ----------
seed_citizen c-in-2 name Bo channels sms phone +447700900888 locale en
publish "{\"event_id\":\"in-4\",\"service\":\"dvla\",\"citizen_id\":\"c-in-2\",\"transaction_id\":\"tx-in-4\",$EV,\"channels\":[\"sms\"]}" >/dev/null
check "in-4 reaches the second phone" \
	wait_for 20 grep -q '<[^ ]* +447700900888 text Reminder: Ada' "$K/fakesmsc.out"
check "delivery log: in-4 sent" wait_for 20 grep -q ' in-4: .*channel=sms.*status=sent' "$LOG"
redis_stop TERM
check "heraldd sees Redis gone" wait_for 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HTTP_PORT/healthz)\" = 503 ]"
mo 'STOP' +447700900888
check "heraldd answers smsbox 503 for the STOP (Redis down)" \
	wait_for 20 grep -q 'inbound sms from +44\*.*888: not applied (Redis is down): answered 503' "$T/heraldd.out"
check "smsbox sends it again" wait_for 20 grep -q 'HTTP: Retrying request' "$K/smsbox.log"
redis_up
check "once Redis is back the STOP is applied: optout@dvla = sms" \
	wait_for 30 sh -c "[ \"\$(redis-cli -p $REDIS_PORT HGET herald:citizen:c-in-2 optout@dvla)\" = sms ]"
check "delivery log: in-4 unsubscribed" wait_for 10 grep -q ' in-4: .*channel=sms.*status=unsubscribed' "$LOG"
sleep 2
expect_eq "once: one unsubscribed record" 1 "$(grep -c ' in-4: .*status=unsubscribed' "$LOG")"

# ---- operators: heraldctl trace ------------------------------------------
"$BIN/heraldctl" -c "$T/herald.conf" trace tx-in-1 >"$T/trace.out" 2>&1
expect_grep "heraldctl trace shows the reply" 'inbound' "$T/trace.out"
expect_grep "heraldctl trace shows the STOP" 'unsubscribed' "$T/trace.out"
expect_no_grep "and never the text" 'see you then' "$T/trace.out"
diag "delivery log:"
sed 's/^/#   /' "$LOG"
exec 7>&-
stop_quick "$HERALDD_PID" "$SB_PID" "$FAKE_PID" "$BB_PID"
expect_no_grep "Kannel logged no PANIC" 'PANIC:' "$K/bearerbox.log"
finish
