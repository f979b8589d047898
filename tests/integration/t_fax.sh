#!/bin/sh
# t_fax.sh - the fax channel against a small HTTP fax gateway started here
# (tests/integration/paper_faxgw.py): the multipart upload (a real PDF, the
# E.164 number, ref, callback_url, basic auth), the outcome mapping (2xx sent,
# 4xx permanent, 429/5xx/timeout/refused temporary, bad number permanent and
# never sent), max_in_flight, custom field names; then end to end through
# heraldd: the gateway's callbacks on /receipts/fax turn into delivered,
# temporary-failure (busy) and permanent-failure (not a fax line).
. "$(dirname "$0")/lib.sh"
# pango + fontconfig under LeakSanitizer (make check): see paper_lsan.supp
export G_SLICE=always-malloc
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$HERALD_SRC/tests/integration/paper_lsan.supp"
CHANRUN=${CHANRUN:-$BIN/tests/bench/chanrun}

GW_PORT=$(free_port)
mkdir -p "$T/gw"
python3 "$HERALD_SRC/tests/integration/paper_faxgw.py" "$GW_PORT" "$T/gw" \
	--auth 'herald:s3cret-pass' --answer +441632960400=400 --answer +441632960503=503 \
	--answer +441632960429=429 --delay +441632960999=5 --delay +441632960777=0.7 \
	>"$T/gw.out" 2>&1 &
track_pid $!
wait_for 10 grep -q listening "$T/gw.out" || { not_ok "fax gateway started"; finish; exit 1; }

PUB=http://127.0.0.1:$(free_port)
cat >"$T/fax.ini" <<CONF
[http]
public_url = $PUB/

[channel.fax]
url = http://127.0.0.1:$GW_PORT/send
username = herald
password = s3cret-pass
timeout = 2
max_in_flight = 2
sender = DVLA|Longview Road|Swansea|SA6 7JL
CONF

msg() {
	# msg EVENT_ID NUMBER
	printf '{"event_id":"%s","to":"%s","subject":"s","body":"Dear citizen,\\n\\nYour *licence* expires soon.","locale":"en","reference":"FAX-REF-1","meta":{"citizen.name":"ليلى حداد","citizen.address":"Fflat 3, Tŷ Gwyn\\n14 Heol y Bont\\nLD2 3AB","fm.subject":"Your licence"}}\n' "$1" "$2"
}
{
	msg fx-ok +441632960100
	msg fx-spaced "+44 1632 960 100"
	msg fx-400 +441632960400
	msg fx-503 +441632960503
	msg fx-429 +441632960429
	msg fx-slow +441632960999
	msg fx-bad "01632 960100"
	msg fx-letters "+44 1632 96O 100"
	for i in 1 2 3 4; do msg "fx-par-$i" +441632960777; done
} >"$T/msgs.jsonl"
"$CHANRUN" -t 60 "$BIN/channels/fax.so" "$T/fax.ini" "$T/msgs.jsonl" >"$T/results.jsonl" 2>"$T/chanrun.err"
expect_eq "chanrun got a result for every message" 0 $?
R=$T/results.jsonl
REQ=$T/gw/requests.jsonl

expect_grep "2xx -> sent, not final, ref <event>.<attempt>" \
	'"event_id":"fx-ok","msg_id":1,"status":"sent","ref":"fx-ok.1".*"bad_address":false,"final":false' "$R"
expect_grep "400 -> permanent-failure" '"event_id":"fx-400".*"status":"permanent-failure".*HTTP 400' "$R"
expect_grep "503 -> temporary-failure" '"event_id":"fx-503".*"status":"temporary-failure".*HTTP 503' "$R"
expect_grep "429 -> temporary-failure" '"event_id":"fx-429".*"status":"temporary-failure".*HTTP 429' "$R"
expect_grep "gateway slower than timeout -> temporary-failure" \
	'"event_id":"fx-slow".*"status":"temporary-failure".*unreachable.*[Tt]imeout|timed out' "$R"
expect_grep "not E.164 -> permanent-failure, bad address" \
	'"event_id":"fx-bad".*"status":"permanent-failure".*E.164.*"bad_address":true' "$R"
expect_grep "letters in a number -> permanent-failure, bad address" \
	'"event_id":"fx-letters".*"status":"permanent-failure".*"bad_address":true' "$R"
expect_grep "separators (E.123, not E.164) -> permanent-failure, bad address (the SMS rule)" \
	'"event_id":"fx-spaced".*"status":"permanent-failure".*E.164.*"bad_address":true' "$R"
expect_eq "all four parallel uploads sent" 4 "$(grep -c '"event_id":"fx-par-[0-9]".*"status":"sent"' "$R")"

expect_grep "gateway got the E.164 number, ref and callback_url" \
	"\"number\": \"\\+441632960100\", \"ref\": \"fx-ok.1\", \"callback_url\": \"$PUB/receipts/fax\"" "$REQ"
expect_grep "gateway got a PDF as application/pdf" '"number": "\+441632960100".*"content_type": "application/pdf", "pdf": true' "$REQ"
expect_grep "basic auth sent" '"auth": "Basic aGVyYWxkOnMzY3JldC1wYXNz"' "$REQ"
expect_no_grep "a bad number is never sent" '"number": "(01632|\+44 1632 96O|\+44 1632 960 100)' "$REQ"
PEAK=$(cat "$T/gw/peak-441632960777" 2>/dev/null)
expect_eq "max_in_flight = 2 caps concurrent uploads (and they do overlap)" 2 "$PEAK"

N=$(sed -n 's/.*"n": \([0-9]*\), "number": "+441632960100".*/\1/p' "$REQ" | head -n 1)
pdftotext "$T/gw/${N:-0}.pdf" - 2>/dev/null | sed 's/\xe2\x80\xab//g; s/\xe2\x80\xac//g' >"$T/fax.txt"
for s in "ليلى حداد" "Fflat 3, Tŷ Gwyn" "14 Heol y Bont" "LD2 3AB" "Your licence" "Our reference: FAX-REF-1"; do
	expect_grep "faxed letter shows '$s'" "$s" "$T/fax.txt"
done
expect_no_grep "the password never reaches a log" 's3cret-pass' "$T/chanrun.err"
expect_no_grep "no full fax number in the log" '441632960100' "$T/chanrun.err"

msg fx-auth +441632960100 >"$T/one.jsonl"
# a bad number in the config stops the plugin at open, naming the key (was:
# a warning and the default)
sed 's/^max_in_flight = .*/max_in_flight = lots/' "$T/fax.ini" >"$T/badnum.ini"
"$CHANRUN" -t 10 "$BIN/channels/fax.so" "$T/badnum.ini" "$T/one.jsonl" >"$T/badnum.out" 2>"$T/badnum.err"
rc=$?
expect_eq "max_in_flight = lots: the plugin does not open" 1 "$([ "$rc" -ne 0 ] && echo 1 || echo 0)"
expect_grep "and says which key" "fax: max_in_flight = 'lots': expected an integer 1..1000" "$T/badnum.err"
sed 's/^timeout = .*/timeout = 2h/' "$T/fax.ini" >"$T/badnum.ini"
"$CHANRUN" -t 10 "$BIN/channels/fax.so" "$T/badnum.ini" "$T/one.jsonl" >"$T/badnum.out" 2>"$T/badnum.err"
expect_grep "timeout above an hour is refused" "fax: timeout = '2h': expected a duration 1s..1h" "$T/badnum.err"

# wrong credentials: the gateway's 401 is a permanent failure
sed 's/^password = .*/password = wrong/' "$T/fax.ini" >"$T/badauth.ini"
"$CHANRUN" -t 30 "$BIN/channels/fax.so" "$T/badauth.ini" "$T/one.jsonl" >"$T/badauth.out" 2>>"$T/chanrun.err"
expect_grep "401 -> permanent-failure" '"status":"permanent-failure".*HTTP 401' "$T/badauth.out"

# connection refused -> temporary
sed "s|^url = .*|url = http://127.0.0.1:$(free_port)/send|" "$T/fax.ini" >"$T/dead.ini"
"$CHANRUN" -t 30 "$BIN/channels/fax.so" "$T/dead.ini" "$T/one.jsonl" >"$T/dead.out" 2>>"$T/chanrun.err"
expect_grep "gateway refused connection -> temporary-failure" \
	'"status":"temporary-failure".*unreachable' "$T/dead.out"

# a gateway with other field names
GW2_PORT=$(free_port)
mkdir -p "$T/gw2"
python3 "$HERALD_SRC/tests/integration/paper_faxgw.py" "$GW2_PORT" "$T/gw2" \
	--number-field faxnumber --file-field document >"$T/gw2.out" 2>&1 &
track_pid $!
wait_for 10 grep -q listening "$T/gw2.out"
printf '[channel.fax]\nurl = http://127.0.0.1:%s/send\nnumber_field = faxnumber\nfile_field = document\n' \
	"$GW2_PORT" >"$T/fields.ini"
"$CHANRUN" -t 30 "$BIN/channels/fax.so" "$T/fields.ini" "$T/one.jsonl" >"$T/fields.out" 2>>"$T/chanrun.err"
expect_grep "number_field / file_field: accepted by a gateway that wants them" '"status":"sent"' \
	"$T/fields.out"
expect_grep "... which got no callback_url without [http] public_url" \
	'"fields": \["faxnumber", "ref"\]' "$T/gw2/requests.jsonl"

# ---- callbacks end to end through heraldd ----------------------------------
if [ -x "$BIN/heraldd" ] && [ -x "$BIN/heraldctl" ]; then
	GW3_PORT=$(free_port)
	mkdir -p "$T/gw3"
	python3 "$HERALD_SRC/tests/integration/paper_faxgw.py" "$GW3_PORT" "$T/gw3" \
		--callback +441632960100=delivered --callback '+441632960200=busy:line busy' \
		--callback '+441632960300=not-fax:not a fax line' >"$T/gw3.out" 2>&1 &
	track_pid $!
	wait_for 10 grep -q listening "$T/gw3.out"
	start_redis
	seed_citizen c-ok channels fax fax +441632960100 name "Leila Haddad" locale en \
		address "1 High Street
Swansea
SA1 1AA"
	seed_citizen c-busy channels fax fax +441632960200 name "Bob Busy" locale en
	seed_citizen c-wrong channels fax fax +441632960300 name "Wendy Wrong" locale cy
	write_conf "
[channel.fax]
url = http://127.0.0.1:$GW3_PORT/send
sender = DVLA|Swansea|SA6 7JL
timeout = 10"
	start_heraldd
	ev() {
		printf '{"event_id":"%s","service":"test","citizen_id":"%s","template":"licence-renewal","personalisation":{"name":"%s","licence_type":"driving licence","expiry_date":"1 December 2026"},"channels":["fax"]}' "$1" "$2" "$3"
	}
	publish "$(ev fx-e2e-ok c-ok Leila)" "$(ev fx-e2e-busy c-busy Bob)" \
		"$(ev fx-e2e-wrong c-wrong Wendy)" >"$T/publish.out" 2>&1
	L=$T/log/delivery.log
	check "e2e: success callback -> delivered" \
		wait_for 20 grep -Eq ' fx-e2e-ok: .*channel=fax.*status=delivered' "$L"
	expect_grep "e2e: ... after sent" ' fx-e2e-ok: .*channel=fax.*status=sent' "$L"
	check "e2e: busy callback -> temporary-failure" \
		wait_for 20 grep -Eq ' fx-e2e-busy: .*channel=fax.*status=temporary-failure.*busy' "$L"
	check "e2e: not a fax line -> permanent-failure" \
		wait_for 20 grep -Eq ' fx-e2e-wrong: .*channel=fax.*status=permanent-failure.*not a fax' "$L"
	FXREF=$(grep '"event_id":"fx-e2e-ok"' "$T/log/delivery.jsonl" | grep '"status":"sent"' |
		sed 's/.*"ref":"\([^"]*\)".*/\1/')
	check "e2e: the fax reference is heraldd's keyed provider reference" \
		sh -c "echo '$FXREF' | grep -Eqx 'hr[0-9a-f]{24}'"
	expect_grep "e2e: the gateway's callbacks were accepted by heraldd (200)" \
		"\"callback\": .*\"ref\": \"$FXREF\", \"status\": \"delivered\", \"answer\": 200" "$T/gw3/requests.jsonl"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"ref\":\"$FXREF\",\"status\":\"exploded\"}" "http://127.0.0.1:$HTTP_PORT/receipts/fax")
	expect_eq "e2e: unknown status is answered 400" 400 "$code"
	code=$(curl -s -o /dev/null -w '%{http_code}' -d 'status=delivered' \
		"http://127.0.0.1:$HTTP_PORT/receipts/fax")
	expect_eq "e2e: form callback without ref is answered 400" 400 "$code"
	expect_no_grep "e2e: no full fax number in the delivery log" '4416329603?00' "$L"
else
	diag "heraldd not built: end-to-end callback part skipped"
fi
assert_clean_log "$T/chanrun.err"
finish
