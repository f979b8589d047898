#!/bin/sh
# t_status_oldest.sh - the status page's per-channel oldest wait (GET
# /status, text and JSON; heraldctl status): an SMS gateway that answers
# only after a while keeps a message in the sms plugin, and the age of the
# oldest message waiting for sms is > 0 and grows while it waits, then is 0
# again once the gateway answered; a channel nothing waits for shows 0 / "-".
. "$HERALD_SRC/tests/integration/lib.sh"

GW_PORT=$(free_port)
python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW_PORT" "$T/gateway.jsonl" --delay 6 \
	>"$T/gateway.log" 2>&1 &
track_pid $!
wait_for 10 grep -q listening "$T/gateway.log"
start_redis
write_conf "
[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 30
"
start_heraldd
seed_citizen c-s name Sam channels sms phone "+447700900301"
seed_citizen c-f name Fay channels file
printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}}\n' \
	w-1 c-s w-2 c-f | "$BIN/heraldctl" -c "$T/herald.conf" publish - >"$T/acks" 2>&1
STATUS="http://127.0.0.1:$HTTP_PORT/status"
age() { # age CHANNEL: its oldest_age_s on GET /status?format=json
	curl -s "$STATUS?format=json" | python3 -c "import json,sys; print(json.load(sys.stdin)['channels']['$1']['oldest_age_s'])"
}
gt() { python3 -c "import sys; sys.exit(0 if float('$1') > float('$2') else 1)"; }
check "the sms message is with the gateway" wait_for 10 grep -q 'w-1: .*status=sending' "$T/log/delivery.log"
check "the file one is delivered" wait_for 10 grep -q 'w-2: .*status=delivered' "$T/log/delivery.log"
sleep 2.2 # a heartbeat and a page
a1=$(age sms)
check "GET /status: sms's oldest wait is > 0 ($a1 s)" gt "$a1" 0
check "... and below how long it has been with the gateway" gt 5 "$a1"
expect_eq "... nothing waits for file: 0" 0.0 "$(age file)"
sleep 1.5
a2=$(age sms)
check "... and it grows ($a1 s, then $a2 s)" gt "$a2" "$a1"
curl -s "$STATUS" >"$T/st.txt"
expect_grep "the text page has a WAITING column" '^  CHANNEL +STATE +INFLIGHT +SENT/1m +FAIL/1m +SENT/1h +FAIL/1h +WAITING +OLDEST$' "$T/st.txt"
expect_grep "... with sms's wait in seconds" '^  sms +up +1 +0 +0 +0 +0 +[0-9]+\.[0-9]s +- *$' "$T/st.txt"
expect_grep "... and - for file" '^  file +up +0 +1 +0 +1 +0 +- +- *$' "$T/st.txt"
"$BIN/heraldctl" -c "$T/herald.conf" status --json >"$T/ctl.json"
check "heraldctl status --json has it too" python3 -c \
	"import json,sys; c=json.load(open('$T/ctl.json'))['channels']['sms']; sys.exit(0 if c['oldest_age_s'] > 0 and 'oldest_queued_age_s' in c else 1)"
check "the gateway answers in the end" wait_for 15 grep -q 'w-1: .*status=sent' "$T/log/delivery.log"
sms_idle() { [ "$(age sms)" = 0.0 ]; }
check "... then nothing waits for sms: 0" wait_for 5 sms_idle
finish
