#!/bin/sh
# t_sms_kannel.sh - the sms channel's kannel profile against a REAL Kannel:
# bearerbox + smsbox with the test SMSC (smsc = fake) and Kannel's fakesmsc
# client (Debian package kannel-extras) playing the phone network, all on
# free loopback ports and stopped by PID.
#
# Part 1 (chanrun): fakesmsc receives the texts (GSM-7, UCS-2, a two-part
# message), and Kannel calls our dlr-url with the ref (smsc_fake reports
# type 8 "accepted by SMSC" and then type 1 "delivered").
# Part 2 (heraldd): an event published to heraldd goes out over Kannel, the
# DLR comes back to heraldd's HTTP listener and the delivery log shows
# status=delivered.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"
. "$HERALD_SRC/tests/integration/sms_lib.sh"

kannel_conf
GW_PORT=$(free_port)

kannel_bearerbox
# -m 0: send no mobile-originated messages, only print what arrives.
"$FAKESMSC" -H 127.0.0.1 -r "$FAKE_PORT" -i 1 -m 0 'x' >"$K/fakesmsc.out" 2>&1 &
FAKE_PID=$!
track_pid $FAKE_PID
kannel_smsbox
wait_for 10 grep -q "Connecting\|connected" "$K/fakesmsc.out"
sleep 1 # let bearerbox mark the fake SMSC connection active

# The DLR recorder: sms_gateway.py records every request it gets.
REC=$T/dlr.jsonl
: >"$REC"
python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW_PORT" "$REC" >"$T/gw.out" 2>&1 &
GW_PID=$!
track_pid $GW_PID
wait_for 10 grep -q listening "$T/gw.out"

cat >"$T/sms.ini" <<EOF
[http]
public_url = http://127.0.0.1:$GW_PORT

$(kannel_sms_conf)
EOF

TEXT_GSM='Your MOT is due on 1 December. Ref ABC-123'
TEXT_UCS='Diolch! Croeso i dŵr €5 😀'
LONG=$(python3 -c 'print(("Part of a long reminder. " * 8).strip())')
cat >"$T/msgs.jsonl" <<EOF
{"event_id":"k-gsm","to":"+447700900123","body":"$TEXT_GSM"}
{"event_id":"k-ucs","to":"+447700900124","body":"$TEXT_UCS"}
{"event_id":"k-long","to":"+447700900125","body":"$LONG"}
EOF
"$BIN/tests/bench/chanrun" -t 20 "$BIN/channels/sms.so" "$T/sms.ini" "$T/msgs.jsonl" \
	>"$T/chanrun.out" 2>"$T/chanrun.err"
expect_eq "chanrun got a result for every message" 0 $?
expect_grep "Kannel accepted the GSM-7 message" \
	'"event_id":"k-gsm".*"status":"sent","ref":"k-gsm.1".*"reason":"202 0: Accepted for delivery"' "$T/chanrun.out"
expect_grep "Kannel accepted the UCS-2 message" '"event_id":"k-ucs".*"status":"sent"' "$T/chanrun.out"
expect_grep "Kannel accepted the long message" '"event_id":"k-long".*"status":"sent"' "$T/chanrun.out"
assert_clean_log "$T/chanrun.err"

# fakesmsc prints "Got message N: <from to type data>".
wait_for 10 sh -c "[ \$(grep -c 'Got message' '$K/fakesmsc.out') -ge 4 ]"
expect_grep "fakesmsc received the GSM-7 text as sent" \
	"Got message [0-9]+: <HERALD \\+447700900123 text $TEXT_GSM>" "$K/fakesmsc.out"
ucs=$(python3 - "$K/fakesmsc.out" <<'PY'
import re, sys, urllib.parse
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"<HERALD \+447700900124 ucs-2 (\S+)>", line)
    if m:
        print(urllib.parse.unquote_to_bytes(m.group(1).replace("+", " ")).decode("utf-16-be"))
PY
)
expect_eq "fakesmsc received the UCS-2 text (coding=2), decoded back intact" "$TEXT_UCS" "$ucs"
expect_eq "the 201-septet message arrived as two concatenated parts" 2 \
	"$(grep -c '<HERALD +447700900125 udh ' "$K/fakesmsc.out")"

# Kannel calls dlr-url: /receipts/sms?ref=REF&status=N
dlr_has() { grep -q "\"path\": \"/receipts/sms\", \"query\": {\"ref\": \"$1\", \"status\": \"$2\"}" "$REC"; }
check "Kannel called dlr-url with ref k-gsm.1 and status 1 (delivered)" wait_for 15 dlr_has k-gsm.1 1
check "Kannel called dlr-url with ref k-ucs.1 and status 1 (delivered)" wait_for 5 dlr_has k-ucs.1 1
check "Kannel called dlr-url with status 8 (accepted by SMSC) too" wait_for 5 dlr_has k-gsm.1 8

# Kannel refuses a wrong password: 403 -> permanent failure.
sed 's/^password = k4nnel-pw/password = wrong/' "$T/sms.ini" >"$T/bad.ini"
printf '%s\n' '{"event_id":"k-auth","to":"+447700900123","body":"x"}' >"$T/bad.jsonl"
"$BIN/tests/bench/chanrun" -t 10 "$BIN/channels/sms.so" "$T/bad.ini" "$T/bad.jsonl" \
	>"$T/bad.out" 2>"$T/bad.err"
expect_grep "wrong Kannel password is a permanent failure (HTTP 403)" \
	'"status":"permanent-failure".*"reason":"HTTP 403' "$T/bad.out"
expect_no_grep "the password never appears in the reason or the log" 'wrong|k4nnel' "$T/bad.out"

# ---- part 2: end to end through heraldd ---------------------------------------
if [ ! -x "$BIN/heraldd" ] || [ ! -x "$BIN/heraldctl" ]; then
	not_ok "heraldd and heraldctl are built (end-to-end part skipped)"
	stop_quick "$SB_PID" "$FAKE_PID" "$BB_PID" "$GW_PID"
	finish
	exit 1
fi
start_redis
write_conf "
$(kannel_sms_conf)"
start_heraldd
seed_citizen c-sms-1 channels sms phone +447700900777 locale en
publish '{"event_id":"e2e-sms-1","service":"test","citizen_id":"c-sms-1","template":"appointment-reminder","transaction_id":"tx-sms-1","personalisation":{"name":"Ada","date":"1 December","time":"10:00","location":"Cardiff"},"channels":["sms"]}' \
	>"$T/publish.out" 2>&1
expect_grep "heraldd accepted the event" '"status":"accepted"' "$T/publish.out"
check "fakesmsc received the rendered SMS from heraldd" \
	wait_for 20 grep -q '<[^ ]* +447700900777 text Reminder: Ada, you have an appointment' "$K/fakesmsc.out"
check "delivery log: e2e-sms-1 sent over sms" \
	wait_for 20 grep -Eq ' e2e-sms-1: .*channel=sms.*status=sent' "$T/log/delivery.log"
check "delivery log: Kannel's DLR made e2e-sms-1 delivered" \
	wait_for 20 grep -Eq ' e2e-sms-1: .*channel=sms.*status=delivered' "$T/log/delivery.log"
expect_no_grep "delivery log masks the number" '447700900777' "$T/log/delivery.log"
expect_no_grep "no malformed receipt was logged" 'receipt for sms: malformed' "$T/heraldd.out"
diag "delivery log:"
sed 's/^/#   /' "$T/log/delivery.log"
stop_quick "$HERALDD_PID" "$REDIS_PID" "$SB_PID" "$FAKE_PID" "$BB_PID" "$GW_PID"
expect_no_grep "Kannel logged no PANIC" 'PANIC:' "$K/bearerbox.log"
finish
