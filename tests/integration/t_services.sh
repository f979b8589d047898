#!/bin/sh
# t_services.sh - services are who they say they are (issue #13): CURVE on
# the ingest socket with heraldd's ZAP handler and services.d policies.
# An unknown key (or none) is refused at the handshake and logged; a key
# publishes as its own service only; templates, channels and urgent follow
# the policy; the idempotency key is service:event_id; SIGHUP reloads
# services.d; heraldctl keygen, publish -k and a pyzmq publisher as the
# README shows it; heraldd refuses to start without its secret key.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
server_key
# dvla: two templates (one by glob), the file channel, no urgent
add_service dvla "templates = appointment-*, licence-renewal" "channels = file" "urgent = no"
# nhs: the skeleton heraldctl keygen writes (everything, urgent no), then urgent
add_service nhs
sed -i 's/^urgent = no$/urgent = yes/' "$T/services.d/nhs.conf"
# council: only channels heraldd has not enabled
add_service council "templates = *" "channels = sms, fax"
# a key pair heraldd does not know
"$BIN/heraldctl" keygen -d "$T/keys" stranger >/dev/null

# email enabled too (a relay nobody listens on): dvla may not use it
INGEST_AUTH=curve write_conf "
[channel.email]
relay = 127.0.0.1:9
from = Herald <noreply@herald.example>
domain = herald.example
"
start_heraldd

expect_grep "heraldd loads the services of services.d" "services: 3 from $T/services.d" \
	"$T/heraldd.out"
expect_no_grep "no unauthenticated-ingest warning under auth = curve" 'NOT AUTHENTICATED' \
	"$T/heraldd.out"
expect_eq "/healthz answers ok, without a warning" ok \
	"$(curl -s "http://127.0.0.1:$HTTP_PORT/healthz")"

check "heraldctl keygen wrote the secret key with mode 0600" \
	test "$(stat -c %a "$T/keys/dvla.key")" = 600
check "... the public key beside it" test -s "$T/keys/dvla.pub"
expect_grep "... and a skeleton policy with that public key" \
	"^public_key = $(sed 's/[][\.*^$+?(){}|\\]/\\&/g' "$T/keys/nhs.pub")\$" "$T/keys/nhs.conf"
"$BIN/heraldctl" keygen -d "$T/keys" dvla >"$T/keygen2.out" 2>&1
check "keygen keeps an existing key pair" test $? -ne 0
expect_grep "... and says how to replace it" 'File exists \(--force replaces it\)' "$T/keygen2.out"

seed_citizen c-file name "Ada Lovelace" channels "file" locale en

ev() { # ev ID [extra json members] (no service: the key says it)
	printf '{"event_id":"%s","citizen_id":"c-file","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}%s}' "$1" "${2:-}"
}

# --- the key decides the service --------------------------------------------
publish_as dvla "$(ev k-1)" "$(ev k-2 ',"service":"dvla"')" >"$T/acks" 2>&1
expect_eq "an event without 'service' is accepted as the key's service" \
	'{"event_id":"k-1","status":"accepted"}' "$(sed -n 1p "$T/acks")"
expect_eq "an event naming its own service is accepted" \
	'{"event_id":"k-2","status":"accepted"}' "$(sed -n 2p "$T/acks")"
wait_for 10 grep -q 'k-1: .*status=delivered' "$T/log/delivery.log"
expect_grep "it is delivered" 'k-1: tx=k-1, citizen=c-file, channel=file, .*status=delivered' \
	"$T/log/delivery.log"
expect_eq "its message is the key's service's" dvla "$(msgf k-1 service)"
expect_grep "the stored event names the service the key gave it" \
	'"event_id":"k-1".*"service":"dvla"' "$T/log/delivery.jsonl"

publish_as dvla "$(ev k-3 ',"service":"nhs"')" >"$T/acks" 2>&1
check "a known key with another service's name: publish exits 1" test $? -eq 1
expect_eq "... and the event is rejected as the issue words it" \
	"{\"event_id\":\"k-3\",\"status\":\"rejected\",\"error\":\"service 'nhs' does not match this key (service 'dvla')\"}" \
	"$(cat "$T/acks")"
expect_eq "... and nothing is kept of it" 0 "$(rcli EXISTS herald:msg:k-3)"

# --- unknown keys are refused at the handshake -------------------------------
"$BIN/heraldctl" -c "$T/herald.conf" publish -t 500 -r 0 -k "$T/keys/stranger.key" \
	--server-key "$T/keys/heraldd.pub" - >"$T/acks" 2>"$T/stranger.err" <<JSON
$(ev u-1 ',"service":"dvla"')
JSON
check "an unknown key gets no answer: publish exits 2" test $? -eq 2
expect_eq "... and no ack" "" "$(cat "$T/acks")"
stranger=$(sed 's/[][\.*^$+?(){}|\\]/\\&/g' "$T/keys/stranger.pub")
check "heraldd logs the refused key with its address" \
	wait_for 5 grep -Eq "ingest: connection refused: unknown key $stranger from 127\.0\.0\.1" \
	"$T/heraldd.out"
expect_eq "... and nothing is kept of its event" 0 "$(rcli EXISTS herald:msg:u-1)"
printf '%s\n' "$(ev u-2 ',"service":"dvla"')" |
	"$BIN/heraldctl" -c "$T/herald.conf" publish -t 500 -r 0 - >"$T/acks" 2>/dev/null
check "a publisher without a key gets no answer either" test $? -eq 2
check "heraldd logs the refused handshake" wait_for 5 grep -q \
	"ingest: connection refused on tcp://127.0.0.1:$INGEST_PORT: no CURVE key" "$T/heraldd.out"
expect_eq "... and nothing is kept of its event" 0 "$(rcli EXISTS herald:msg:u-2)"
# many refusals in a row: a few lines, then a count
i=0
while [ $i -lt 8 ]; do
	printf '%s\n' "$(ev u-3)" | "$BIN/heraldctl" -c "$T/herald.conf" publish -t 200 -r 0 \
		-k "$T/keys/stranger.key" --server-key "$T/keys/heraldd.pub" - >/dev/null 2>&1
	i=$((i + 1))
done
expect_eq "refused connections are logged at most 5 times in 10 s" 5 \
	"$(grep -c 'connection refused' "$T/heraldd.out")"

# --- policy: templates, urgent, channels --------------------------------------
publish_as dvla "$(printf '{"event_id":"p-1","citizen_id":"c-file","template":"payment-due","personalisation":{"name":"Ada","amount":"1","due_date":"today"}}')" \
	>"$T/acks" 2>&1
expect_eq "a template outside the service's list is rejected" \
	"{\"event_id\":\"p-1\",\"status\":\"rejected\",\"error\":\"service 'dvla' may not use template 'payment-due' (templates = appointment-*, licence-renewal)\"}" \
	"$(cat "$T/acks")"
publish_as nhs "$(printf '{"event_id":"p-2","citizen_id":"c-file","template":"payment-due","personalisation":{"name":"Ada","amount":"1","due_date":"today"}}')" \
	>"$T/acks" 2>&1
expect_eq "... which another service may use" '{"event_id":"p-2","status":"accepted"}' \
	"$(cat "$T/acks")"

publish_as dvla "$(ev p-3 ',"priority":"urgent"')" >"$T/acks" 2>&1
expect_eq "urgent from a service without urgent = yes is rejected" \
	"{\"event_id\":\"p-3\",\"status\":\"rejected\",\"error\":\"service 'dvla' may not send priority 'urgent' (it overrides quiet hours; urgent = no)\"}" \
	"$(cat "$T/acks")"
publish_as nhs "$(ev p-4 ',"priority":"urgent"')" >"$T/acks" 2>&1
expect_eq "urgent from a service with urgent = yes is accepted" \
	'{"event_id":"p-4","status":"accepted"}' "$(cat "$T/acks")"
expect_eq "... on the urgent stream" 1 \
	"$(rcli XRANGE herald:q:urgent - + | grep -c '^p-4$')"

publish_as dvla "$(ev p-5 ',"channels":["sms"]')" >"$T/acks" 2>&1
expect_eq "a channel outside the service's list is rejected" \
	"{\"event_id\":\"p-5\",\"status\":\"rejected\",\"error\":\"service 'dvla' may not use channel 'sms' (channels = file)\"}" \
	"$(cat "$T/acks")"
publish_as council "$(ev p-6)" >"$T/acks" 2>&1
expect_eq "a service none of whose channels is enabled is told so" \
	"{\"event_id\":\"p-6\",\"status\":\"rejected\",\"error\":\"service 'council' may use none of the enabled channels (channels = sms, fax)\"}" \
	"$(cat "$T/acks")"
seed_citizen c-both name "Bryn Jones" channels "email,file" email "bryn@example.org" locale en
publish_as dvla "$(ev p-7 | sed 's/"c-file"/"c-both"/')" >"$T/acks" 2>&1
expect_eq "an event naming no channel is accepted" '{"event_id":"p-7","status":"accepted"}' \
	"$(cat "$T/acks")"
wait_for 10 grep -q 'p-7: .*status=delivered' "$T/log/delivery.log"
expect_grep "... and narrowed to the service's channels: file, not the citizen's first, email" \
	'p-7: tx=p-7, citizen=c-both, channel=file, .*status=delivered' "$T/log/delivery.log"
expect_no_grep "... email is never tried" 'p-7: .*channel=email' "$T/log/delivery.log"

# --- dedup per service: service:event_id -------------------------------------
publish_as dvla "$(ev same-1)" >"$T/acks-a" 2>&1
publish_as nhs "$(ev same-1)" >"$T/acks-b" 2>&1
expect_eq "service A's event same-1 is accepted" '{"event_id":"same-1","status":"accepted"}' \
	"$(cat "$T/acks-a")"
expect_eq "service B's event with the same event_id is accepted too" \
	'{"event_id":"same-1","status":"accepted"}' "$(cat "$T/acks-b")"
wait_for 10 sh -c "[ \$(grep -c 'same-1: .*status=delivered' '$T/log/delivery.log') -ge 2 ]"
expect_grep "A's is delivered under its id" 'same-1: tx=same-1, citizen=c-file, .*status=delivered' \
	"$T/log/delivery.log"
expect_grep "B's is delivered under service:event_id" \
	'nhs:same-1: tx=nhs:same-1, citizen=c-file, .*status=delivered' "$T/log/delivery.log"
expect_eq "both were written by the channel" 2 \
	"$(grep -c '"event_id":"\(nhs:\)\?same-1"' "$T/spool/file.jsonl")"
expect_eq "heraldctl status shows A's as same-1" "dvla delivered" \
	"$(msgf same-1 service status | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... and B's as nhs:same-1" "nhs delivered" \
	"$(msgf nhs:same-1 service status | tr '\n' ' ' | sed 's/ $//')"
publish_as dvla "$(ev same-1)" >"$T/acks-a" 2>&1
publish_as nhs "$(ev same-1)" >"$T/acks-b" 2>&1
expect_eq "A's repeat is a duplicate" '{"event_id":"same-1","status":"duplicate"}' \
	"$(cat "$T/acks-a")"
expect_eq "B's repeat is a duplicate" '{"event_id":"same-1","status":"duplicate"}' \
	"$(cat "$T/acks-b")"
expect_eq "each was delivered once" 2 \
	"$(grep -c '"event_id":"\(nhs:\)\?same-1"' "$T/spool/file.jsonl")"

# an id another service has, where service:event_id cannot be kept apart
long=$(head -c 128 /dev/zero | tr '\0' 'l')
publish_as dvla "$(ev "$long")" >"$T/acks-a" 2>&1
publish_as nhs "$(ev "$long")" >"$T/acks-b" 2>&1
expect_eq "a 128-character id is accepted for its first service" \
	"{\"event_id\":\"$long\",\"status\":\"accepted\"}" "$(cat "$T/acks-a")"
expect_grep "... and rejected, not taken, for another (nhs:id would be over 128)" \
	'"status":"rejected","error":"event_id is taken by another service' "$T/acks-b"
publish_as dvla "$(ev same-3)" "$(ev nhs:same-3)" >"$T/acks-a" 2>&1
publish_as nhs "$(ev same-3)" >"$T/acks-b" 2>&1
expect_eq "dvla may use the ids same-3 and nhs:same-3" 2 \
	"$(grep -c '"status":"accepted"' "$T/acks-a")"
expect_grep "... then nhs's same-3 cannot be kept apart from them: rejected" \
	'"event_id":"same-3","status":"rejected","error":"event_id is taken by another service' \
	"$T/acks-b"
expect_eq "... and nhs:same-3 is still dvla's" dvla "$(rcli HGET herald:msg:nhs:same-3 svc)"

# --- SIGHUP reloads services.d ----------------------------------------------
add_service police "templates = appointment-reminder" "channels = file"
PUBLISH_ARGS="-t 500 -r 0" publish_as police "$(ev r-1)" >/dev/null 2>&1
check "a key added to services.d is refused before the reload" test $? -eq 2
kill -HUP "$HERALDD_PID"
check "SIGHUP reloads services.d" wait_for 5 grep -q 'services: 4 from' "$T/heraldd.out"
publish_as police "$(ev r-2)" >"$T/acks" 2>&1
expect_eq "... and the new service's key is accepted after it" \
	'{"event_id":"r-2","status":"accepted"}' "$(cat "$T/acks")"
printf 'colour = blue\n' >>"$T/services.d/police.conf"
kill -HUP "$HERALDD_PID"
check "a bad policy file is not loaded, naming file, line and key" \
	wait_for 5 grep -q "reload: services not reloaded, keeping the old ones: $T/services.d/police.conf:4: unknown key 'colour'" \
	"$T/heraldd.out"
publish_as police "$(ev r-3)" >"$T/acks" 2>&1
expect_eq "... and the services loaded before still work" \
	'{"event_id":"r-3","status":"accepted"}' "$(cat "$T/acks")"
rm "$T/services.d/police.conf"
kill -HUP "$HERALDD_PID"
check "a removed service is gone after the reload" wait_for 5 grep -q 'services: 3 from' \
	"$T/heraldd.out"
PUBLISH_ARGS="-t 500 -r 0" publish_as police "$(ev r-4)" >/dev/null 2>&1
check "... and its key is refused" test $? -eq 2

# --- a publisher in Python (pyzmq), as the README shows it --------------------
PY=/usr/bin/python3
if $PY -c 'import zmq' 2>/dev/null; then
	$PY - "$T/keys/dvla.key" "$T/keys/heraldd.pub" "tcp://127.0.0.1:$INGEST_PORT" \
		"$(ev py-1)" >"$T/py.out" 2>&1 <<'PY'
import sys, zmq
secret = open(sys.argv[1]).read().strip().encode()
server = open(sys.argv[2]).read().strip().encode()
s = zmq.Context().socket(zmq.REQ)
s.curve_secretkey, s.curve_publickey, s.curve_serverkey = secret, zmq.curve_public(secret), server
s.connect(sys.argv[3])
s.send_string(sys.argv[4])
if s.poll(5000):
    print(s.recv_string())
PY
	expect_eq "a pyzmq publisher with the service's key is accepted" \
		'{"event_id":"py-1","status":"accepted"}' "$(cat "$T/py.out")"
else
	not_ok "pyzmq (python3-zmq) is installed for the README's example"
fi

# --- heraldd -t checks the server key and services.d ---------------------------
"$BIN/heraldd" -t -c "$T/herald.conf" >"$T/check.out" 2>&1
expect_eq "heraldd -t accepts the configuration" 0 $?
expect_grep "... and counts the services" 'configuration OK, 3 templates, 3 services' \
	"$T/check.out"
mkdir -p "$T/bad.d"
cp "$T/services.d/"*.conf "$T/bad.d/"
printf 'mode = production\n' >>"$T/bad.d/dvla.conf"
sed "s|^dir = $T/services.d|dir = $T/bad.d|" "$T/herald.conf" >"$T/bad.conf"
"$BIN/heraldd" -t -c "$T/bad.conf" >"$T/check.out" 2>&1
expect_eq "heraldd -t refuses a bad policy file" 1 $?
expect_grep "... naming file and line" \
	"$T/bad.d/dvla.conf:5: mode = 'production': expected live, trial or test" "$T/check.out"
"$BIN/heraldd" -c "$T/bad.conf" >"$T/bad.out" 2>&1
expect_eq "heraldd does not start with a bad policy file" 1 $?
expect_grep "... saying why" "$T/bad.d/dvla.conf:5: mode = 'production'" "$T/bad.out"

# --- auth = curve without a secret key, or without services -------------------
cp "$T/herald.conf" "$T/nokey.conf"
sed -i "s|^curve_secret_key_file = .*|curve_secret_key_file = $T/keys/missing.key|" "$T/nokey.conf"
"$BIN/heraldd" -c "$T/nokey.conf" >"$T/nokey.out" 2>&1 &
NOKEY_PID=$!
track_pid $NOKEY_PID
wait_for 10 sh -c "! kill -0 $NOKEY_PID 2>/dev/null"
wait $NOKEY_PID
check "heraldd refuses to start without its secret key file" test $? -ne 0
expect_grep "... saying which file" "$T/keys/missing.key: No such file or directory" "$T/nokey.out"
sed -i '/^curve_secret_key_file/d' "$T/nokey.conf"
"$BIN/heraldd" -c "$T/nokey.conf" >"$T/nokey2.out" 2>&1
expect_grep "... or without the key" 'auth = curve needs curve_secret_key_file' "$T/nokey2.out"
sed -i 's/^auth = .*/auth = kerberos/' "$T/nokey.conf"
"$BIN/heraldd" -c "$T/nokey.conf" >"$T/nokey3.out" 2>&1
expect_grep "an unknown auth is a configuration error" \
	"auth = 'kerberos': expected curve or none" "$T/nokey3.out"

stop_heraldd
mkdir -p "$T/empty.d"
sed -i "s|^dir = $T/services.d|dir = $T/empty.d|" "$T/herald.conf"
start_heraldd
expect_grep "with no service file heraldd starts and says every key will be refused" \
	"services: no service in $T/empty.d: every publisher key will be refused" "$T/heraldd.out"
PUBLISH_ARGS="-t 500 -r 0" publish_as dvla "$(ev e-1)" >/dev/null 2>&1
check "... and refuses them" test $? -eq 2

stop_heraldd
finish
