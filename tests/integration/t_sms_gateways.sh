#!/bin/sh
# t_sms_gateways.sh - the sms channel against a Twilio-style and a JSON
# gateway (tests/integration/sms_gateway.py on a free loopback port), driven
# by chanrun: what the gateway receives (fields, auth, encoding, callback
# URLs), what never reaches it (bad numbers, too many segments), and how
# answers map: 2xx sent, 4xx permanent, 5xx / refused / timeout temporary.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"
. "$HERALD_SRC/tests/integration/sms_lib.sh"

GW_PORT=$(free_port)
REC=$T/requests.jsonl
: >"$REC"
python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW_PORT" "$REC" >"$T/gateway.out" 2>&1 &
GW_PID=$!
track_pid $GW_PID
wait_for 10 grep -q listening "$T/gateway.out" || { not_ok "gateway started"; finish; exit 1; }
GW=http://127.0.0.1:$GW_PORT

# field FILE EVENT_ID KEY: one field of chanrun's result line for an event.
field() {
	python3 - "$@" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event_id") == sys.argv[2]:
        v = r.get(sys.argv[3])
        print(str(v).lower() if isinstance(v, bool) else v)
        break
PY
}

# req N EXPR: evaluate a python expression on the Nth recorded request (r).
req() {
	python3 - "$REC" "$@" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if "method" in r]
n = int(sys.argv[2])
r = rows[n] if n < len(rows) else {}
print(eval(sys.argv[3]))
PY
}

nreq() { grep -c '"method"' "$REC"; }

# matches "description" ERE STRING
matches() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1"; diag "no /$2/ in: $3"; fi
}

conf() {
	# conf FILE PROFILE URL [extra lines]
	_f=$1
	shift
	cat >"$_f" <<EOF
[http]
public_url = http://127.0.0.1:7402/

[channel.sms]
profile = $1
url = $2
from = +447700900001
timeout = 2
${3:-}
EOF
}

LONG=$(python3 -c 'print("x" * (153 * 6 + 1))')
BODY1='Your MOT is due on 1 December {ref} ~ costs €5 [A]'
BODY2='Diolch! Mae eich tocyn yn barod. Croeso i dŵr 😀'
cat >"$T/msgs.jsonl" <<EOF
{"event_id":"tw-1","to":"+447700900123","body":"$BODY1"}
{"event_id":"tw 2/b","to":"+447700900124","body":"$BODY2","attempt":3}
{"event_id":"tw-bad","to":"+44 7700 900125","body":"never sent"}
{"event_id":"tw-long","to":"+447700900126","body":"$LONG"}
{"event_id":"tw-empty","to":"+447700900127","body":""}
EOF

# ---- twilio profile --------------------------------------------------------
conf "$T/twilio.ini" twilio "$GW/twilio/2010-04-01/Accounts/AC42/Messages.json" \
	"account = AC42
token = s3cr3t-token"
"$BIN/tests/bench/chanrun" -t 10 "$BIN/channels/sms.so" "$T/twilio.ini" "$T/msgs.jsonl" \
	>"$T/twilio.out" 2>"$T/twilio.err"
expect_eq "twilio: chanrun got every result" 0 $?
expect_eq "twilio: accepted message is sent" sent "$(field "$T/twilio.out" tw-1 status)"
expect_eq "twilio: ref is event id + attempt" "tw-1.1" "$(field "$T/twilio.out" tw-1 ref)"
expect_eq "twilio: SENT waits for a receipt (not final)" false "$(field "$T/twilio.out" tw-1 final)"
expect_grep "twilio: reason carries the gateway's sid" '"event_id":"tw-1".*"reason":"201 accepted, id=SM' "$T/twilio.out"
REF2=$(field "$T/twilio.out" "tw 2/b" ref)
matches "twilio: sanitised ref for an awkward event id" '^tw_2_b-[0-9a-f]{8}\.3$' "$REF2"
expect_eq "twilio: bad number is a permanent failure" permanent-failure \
	"$(field "$T/twilio.out" tw-bad status)"
expect_eq "twilio: bad number is flagged bad_address" true "$(field "$T/twilio.out" tw-bad bad_address)"
expect_eq "twilio: 7 segments is a permanent failure" permanent-failure \
	"$(field "$T/twilio.out" tw-long status)"
expect_grep "twilio: clear reason for too many segments" \
	'"event_id":"tw-long".*7 segments > max_segments 6' "$T/twilio.out"
expect_eq "twilio: empty text is a permanent failure" permanent-failure \
	"$(field "$T/twilio.out" tw-empty status)"
expect_eq "twilio: only the two good messages reached the gateway" 2 "$(nreq)"
expect_no_grep "twilio: the bad number never reached the gateway" '900125' "$REC"
expect_eq "twilio: form POST" "POST application/x-www-form-urlencoded" \
	"$(req 0 'r["method"] + " " + r["content_type"]')"
expect_eq "twilio: basic auth account:token" "AC42:s3cr3t-token" "$(req 0 'r["basic"]')"
expect_eq "twilio: path as configured" "/twilio/2010-04-01/Accounts/AC42/Messages.json" \
	"$(req 0 'r["path"]')"
expect_eq "twilio: To/From" "+447700900123 +447700900001" "$(req 0 'r["form"]["To"] + " " + r["form"]["From"]')"
expect_eq "twilio: Body arrives intact (GSM extension chars)" "$BODY1" "$(req 0 'r["form"]["Body"]')"
expect_eq "twilio: StatusCallback carries the ref" \
	"http://127.0.0.1:7402/receipts/sms/twilio?ref=tw-1.1" "$(req 0 'r["form"]["StatusCallback"]')"
expect_eq "twilio: UTF-8 body with Welsh and emoji arrives intact" "$BODY2" \
	"$(req 1 'r["form"]["Body"]')"
expect_eq "twilio: second callback has its own ref" \
	"http://127.0.0.1:7402/receipts/sms/twilio?ref=$REF2" "$(req 1 'r["form"]["StatusCallback"]')"
expect_no_grep "twilio: token never logged" 's3cr3t' "$T/twilio.err"
expect_no_grep "twilio: full numbers never logged" '7700900' "$T/twilio.err"
assert_clean_log "$T/twilio.err"

# ---- json profile ----------------------------------------------------------
: >"$REC"
conf "$T/json.ini" json "$GW/json" "username = herald
password = pw-json"
printf '%s\n' '{"event_id":"js-1","to":"+12025550123","body":"Quote \" and \\ backslash, naïve"}' \
	>"$T/json.jsonl"
"$BIN/tests/bench/chanrun" -t 10 "$BIN/channels/sms.so" "$T/json.ini" "$T/json.jsonl" \
	>"$T/json.out" 2>"$T/json.err"
expect_eq "json: sent" sent "$(field "$T/json.out" js-1 status)"
expect_grep "json: reason carries the gateway id" '"reason":"202 accepted, id=m-[0-9]+"' "$T/json.out"
expect_eq "json: POST application/json with basic auth" "POST application/json herald:pw-json" \
	"$(req 0 'r["method"] + " " + r["content_type"] + " " + r["basic"]')"
expect_eq "json: fields" "+12025550123|+447700900001|js-1.1|http://127.0.0.1:7402/receipts/sms/json" \
	"$(req 0 '"|".join(r["json"][k] for k in ("to", "from", "reference", "callback_url"))')"
expect_eq "json: text with quotes, backslash, UTF-8" 'Quote " and \ backslash, naïve' \
	"$(req 0 'r["json"]["text"]')"
assert_clean_log "$T/json.err"

# ---- outcome mapping -------------------------------------------------------
one='{"event_id":"st-1","to":"+447700900123","body":"hello"}'
outcome() {
	# outcome NAME URL [extra conf]: run one message, print status|reason
	conf "$T/$1.ini" json "$2" "${3:-}"
	printf '%s\n' "$one" >"$T/$1.jsonl"
	"$BIN/tests/bench/chanrun" -t 15 "$BIN/channels/sms.so" "$T/$1.ini" "$T/$1.jsonl" \
		>"$T/$1.out" 2>"$T/$1.err"
	echo "$(field "$T/$1.out" st-1 status)|$(field "$T/$1.out" st-1 reason)"
}
r=$(outcome s400 "$GW/status/400")
expect_eq "HTTP 400 is a permanent failure" permanent-failure "${r%%|*}"
matches "HTTP 400 reason has status and body excerpt" 'HTTP 400: .*is not valid' "$r"
matches "HTTP 400 reason masks the number the gateway echoed" '\+44\*+123' "$r"
r=$(outcome s401 "$GW/status/401")
expect_eq "HTTP 401 is a permanent failure" permanent-failure "${r%%|*}"
r=$(outcome s500 "$GW/status/500")
expect_eq "HTTP 500 is a temporary failure" temporary-failure "${r%%|*}"
r=$(outcome s503 "$GW/status/503")
expect_eq "HTTP 503 is a temporary failure" temporary-failure "${r%%|*}"
r=$(outcome s429 "$GW/status/429")
expect_eq "HTTP 429 (rate limited) is a temporary failure" temporary-failure "${r%%|*}"
DEAD=$(free_port)
r=$(outcome refused "http://127.0.0.1:$DEAD/json")
expect_eq "refused connection is a temporary failure" temporary-failure "${r%%|*}"
matches "refused reason says so" '[Cc]onnect' "$r"
r=$(outcome slow "$GW/slow" "timeout = 1")
expect_eq "gateway timeout is a temporary failure" temporary-failure "${r%%|*}"
matches "timeout reason says so" 'timed out|[Tt]imeout' "$r"
# (outcome runs in a subshell: check its logs here, where counts stick)
if grep -El 'AddressSanitizer|LeakSanitizer|runtime error:|panic:|fatal:' \
	"$T"/s400.err "$T"/s401.err "$T"/s500.err "$T"/s503.err "$T"/s429.err "$T"/refused.err \
	"$T"/slow.err >"$T/dirty" 2>/dev/null; then
	not_ok "no sanitizer report in the outcome runs"
	sed 's/^/#   /' "$T/dirty"
else
	ok "no sanitizer report in the outcome runs"
fi

# ---- close with a request still in flight -------------------------------------
conf "$T/inflight.ini" json "$GW/slow" "timeout = 10"
printf '%s\n' "$one" >"$T/inflight.jsonl"
"$BIN/tests/bench/chanrun" -t 1 "$BIN/channels/sms.so" "$T/inflight.ini" "$T/inflight.jsonl" \
	>"$T/inflight.out" 2>"$T/inflight.err"
expect_eq "close with a request in flight: no result (the host re-queues it)" 1 $?
assert_clean_log "$T/inflight.err"

# ---- configuration errors are refused at open --------------------------------
cat >"$T/bad.ini" <<EOF
[channel.sms]
profile = kannel
url = $GW/cgi-bin/sendsms
username = only-user
EOF
"$BIN/tests/bench/chanrun" -t 2 "$BIN/channels/sms.so" "$T/bad.ini" "$T/json.jsonl" \
	>"$T/bad.out" 2>"$T/bad.err"
expect_eq "open refuses kannel without password" 2 $?
expect_grep "open explains the configuration error" 'needs username and password' "$T/bad.err"

# ---- receipts end to end through heraldd ------------------------------------
# A second gateway that, like the real ones, calls back: "delivered", or
# "failed" when the text contains FAILME.
GW2_PORT=$(free_port)
REC2=$T/requests2.jsonl
: >"$REC2"
python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW2_PORT" "$REC2" --callbacks \
	>"$T/gateway2.out" 2>&1 &
GW2_PID=$!
track_pid $GW2_PID
wait_for 10 grep -q listening "$T/gateway2.out"
start_redis
seed_citizen c-ok channels sms phone +447700900201 locale en
seed_citizen c-fail channels sms phone +447700900202 locale en
event() {
	# event EVENT_ID CITIZEN NAME
	printf '{"event_id":"%s","service":"test","citizen_id":"%s","template":"appointment-reminder","personalisation":{"name":"%s","date":"1 May","time":"09:00","location":"Swansea"},"channels":["sms"]}' "$1" "$2" "$3"
}
for profile in twilio json; do
	if [ "$profile" = twilio ]; then
		extra="url = http://127.0.0.1:$GW2_PORT/twilio/Accounts/AC7/Messages.json
account = AC7
token = tw-token"
	else
		extra="url = http://127.0.0.1:$GW2_PORT/json
token = bearer-token"
	fi
	HTTP_PORT=$(free_port)
	write_conf "
[channel.sms]
profile = $profile
from = +447700900001
$extra"
	start_heraldd
	publish "$(event "$profile-ok" c-ok Ada)" "$(event "$profile-fail" c-fail FAILME)" \
		>"$T/publish-$profile.out" 2>&1
	check "$profile e2e: sent, then delivered by the gateway's receipt" \
		wait_for 20 grep -Eq " $profile-ok: .*channel=sms.*status=delivered \((twilio )?delivered" \
		"$T/log/delivery.log"
	check "$profile e2e: failed receipt is a permanent failure" \
		wait_for 20 grep -Eq " $profile-fail: .*channel=sms.*status=permanent-failure \((twilio failed \(error 30003\)|failed: handset said failed)" \
		"$T/log/delivery.log"
	expect_grep "$profile e2e: the delivered message was sent first" \
		" $profile-ok: .*channel=sms.*status=sent " "$T/log/delivery.log"
	HTTP=http://127.0.0.1:$HTTP_PORT
	if [ "$profile" = json ]; then
		expect_grep "json e2e: bearer token sent" '"auth": "Bearer bearer-token"' "$REC2"
		code=$(curl -s -o "$T/unknown.out" -w '%{http_code}' -H 'Content-Type: application/json' \
			-d '{"reference":"nobody.1","status":"delivered"}' "$HTTP/receipts/sms/json")
		expect_eq "json e2e: receipt for an unknown reference is answered 200" 200 "$code"
		check "json e2e: ... held, then logged as a warning" wait_for 20 grep -q "warning.*unknown reference 'nobody.1'" "$T/heraldd.out"
		check "json e2e: ... and counted" sh -c "curl -s $HTTP/metrics | grep -q '^herald_receipts_unmatched_total{channel=\"sms\"} 1'"
		okref=$(grep '"event_id":"json-ok"' "$T/log/delivery.jsonl" | grep '"status":"sent"' |
			sed 's/.*"ref":"\([^"]*\)".*/\1/')
		check "json e2e: the gateway was given heraldd's keyed reference" \
			sh -c "echo '$okref' | grep -Eqx 'hr[0-9a-f]{24}'"
		code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			-d '{"reference":' "$HTTP/receipts/sms/json")
		expect_eq "json e2e: malformed receipt is answered 400" 400 "$code"
		code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			-d "{\"reference\":\"$okref\",\"status\":\"failed\"}" "$HTTP/receipts/sms/json")
		expect_eq "json e2e: a late receipt is answered 200" 200 "$code"
		check "json e2e: a late receipt is logged as not applied" \
			wait_for 5 grep -q " json-ok: .*late receipt.*not applied" "$T/log/delivery.log"
		expect_no_grep "json e2e: a late receipt never undoes delivered" \
			" json-ok: .*status=(hopped|exhausted)" "$T/log/delivery.log"
	else
		expect_grep "twilio e2e: callback URL carried heraldd's public_url and the ref" \
			"\"StatusCallback\": \"http://127.0.0.1:$HTTP_PORT/receipts/sms/twilio\\?ref=hr[0-9a-f]{24}\"" "$REC2"
	fi
	expect_no_grep "$profile e2e: no full number in the delivery log" '4477009002' "$T/log/delivery.log"
	stop_quick "$HERALDD_PID"
	assert_clean_log "$T/heraldd.out"
	mv "$T/log/delivery.log" "$T/log/delivery-$profile.log"
	mv "$T/heraldd.out" "$T/heraldd-$profile.out"
	rcli FLUSHALL >/dev/null
	seed_citizen c-ok channels sms phone +447700900201 locale en
	seed_citizen c-fail channels sms phone +447700900202 locale en
done
stop_quick "$GW_PID" "$GW2_PID" "$REDIS_PID"
finish
