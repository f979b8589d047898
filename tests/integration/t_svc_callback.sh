#!/bin/sh
# t_svc_callback.sh - status callbacks from services.d (issue #13): a
# service's callback_url and callback_secret in services.d/NAME.conf drive
# its callbacks (signed with that secret); the old [service.NAME] of
# herald.conf still works, with a deprecation warning at start and in
# heraldd -t; when both exist services.d wins and the warning says so;
# SIGHUP applies a changed callback_url/secret; secrets are never logged.
. "$HERALD_SRC/tests/integration/lib.sh"

CHECK="python3 $HERALD_SRC/tests/integration/callback_check.py"
# receiver NAME: callback_receiver.py on a free port -> $PORT; $T/NAME.jsonl
receiver() {
	PORT=$(free_port)
	: >"$T/$1.jsonl"
	python3 "$HERALD_SRC/tests/integration/callback_receiver.py" --port "$PORT" \
		--out "$T/$1.jsonl" --ready "$T/$1.ready" >"$T/$1.log" 2>&1 &
	track_pid $!
	wait_for 10 test -e "$T/$1.ready" || {
		not_ok "receiver $1 started"
		finish
		exit 1
	}
}

S_DVLA='dvla-services-d-secret-1'
S_HMRC='hmrc-old-section-secret-2'
S_NHS='nhs-services-d-secret-3'
S_NHS_OLD='nhs-ignored-section-secret'
S_DVLA2='dvla-after-reload-secret-5'
receiver dvla
P_DVLA=$PORT
receiver hmrc
P_HMRC=$PORT
receiver nhs
P_NHS=$PORT
receiver nhsold
P_NHSOLD=$PORT
receiver dvla2
P_DVLA2=$PORT

start_redis
server_key
add_service dvla "templates = *" "channels = file" \
	"callback_url = http://127.0.0.1:$P_DVLA/herald/status" "callback_secret = $S_DVLA"
add_service hmrc "templates = *" "channels = file"
add_service nhs "templates = *" "channels = file" \
	"callback_url = http://127.0.0.1:$P_NHS/cb" "callback_secret = $S_NHS" \
	"callback_ordered = no" "callback_concurrency = 2" "callback_timeout = 5s"
chmod 0640 "$T/services.d/dvla.conf"
chmod 0644 "$T/services.d/nhs.conf"
INGEST_AUTH=curve write_conf "
[service.hmrc]
callback_url = http://127.0.0.1:$P_HMRC/old
callback_secret = $S_HMRC

[service.nhs]
callback_url = http://127.0.0.1:$P_NHSOLD/old
callback_secret = $S_NHS_OLD"

"$BIN/heraldd" -t -c "$T/herald.conf" >"$T/check.out" 2>&1
expect_eq "heraldd -t accepts it" 0 $?
expect_grep "heraldd -t: [service.hmrc] is deprecated, naming where it goes" \
	"\[service\.hmrc\] is deprecated: move its callback_url and callback_secret .* to $T/services.d/hmrc\.conf" \
	"$T/check.out"
expect_grep "heraldd -t: [service.nhs] is ignored, services.d wins" \
	"\[service\.nhs\] is ignored: $T/services.d/nhs\.conf sets callback_url and services.d wins" \
	"$T/check.out"
expect_grep "heraldd -t: a policy file with a callback_secret that anyone may read is warned of" \
	"$T/services.d/nhs\.conf holds a callback_secret and anyone may read it" "$T/check.out"
expect_no_grep "... one readable by its group only is not" "dvla\.conf holds a callback_secret" \
	"$T/check.out"
expect_grep "heraldd -t counts the services with callbacks" '3 services, 3 with callbacks' \
	"$T/check.out"

start_heraldd
expect_grep "at start: the deprecation warning" '\[service\.hmrc\] is deprecated' "$T/heraldd.out"
expect_grep "at start: services.d wins over [service.nhs]" '\[service\.nhs\] is ignored' \
	"$T/heraldd.out"
expect_grep "dvla's callbacks go to its services.d URL" \
	"callback dvla: status callbacks to http://127.0.0.1:$P_DVLA/herald/status \(ordered\)" \
	"$T/heraldd.out"
expect_grep "nhs's too, with its options (unordered)" \
	"callback nhs: status callbacks to http://127.0.0.1:$P_NHS/cb \(unordered\)" "$T/heraldd.out"

seed_citizen c-1 name "Ada Lovelace" channels file locale en
ev() { # ev ID
	printf '{"event_id":"%s","citizen_id":"c-1","template":"payment-due","personalisation":{"name":"Ada","amount":"5","due_date":"1 May 2027"}}' "$1"
}
publish_as dvla "$(ev cd-1)" >"$T/acks" 2>&1
publish_as hmrc "$(ev ch-1)" >>"$T/acks" 2>&1
publish_as nhs "$(ev cn-1)" >>"$T/acks" 2>&1
expect_eq "the three events are accepted" 3 "$(grep -c '"status":"accepted"' "$T/acks")"
for n in dvla hmrc nhs; do
	check "$n: its message's callbacks arrive (accepted, sending, delivered)" \
		wait_for 20 sh -c "[ \$($CHECK count '$T/$n.jsonl' 200) -ge 3 ]"
done
expect_eq "dvla (services.d): its records, in order" "cd-1 accepted|cd-1 sending|cd-1 delivered" \
	"$($CHECK statuses "$T/dvla.jsonl" | paste -sd'|')"
expect_eq "... signed with its services.d secret" "$($CHECK count "$T/dvla.jsonl") verified" \
	"$($CHECK verify "$T/dvla.jsonl" "$S_DVLA")"
expect_eq "hmrc (the old [service.hmrc]) still works" "ch-1 accepted|ch-1 sending|ch-1 delivered" \
	"$($CHECK statuses "$T/hmrc.jsonl" | paste -sd'|')"
expect_eq "... signed with the section's secret" "$($CHECK count "$T/hmrc.jsonl") verified" \
	"$($CHECK verify "$T/hmrc.jsonl" "$S_HMRC")"
expect_eq "nhs (both): services.d's URL gets them" 3 "$($CHECK statuses "$T/nhs.jsonl" | grep -c '^cn-1 ')"
expect_eq "... signed with services.d's secret" "$($CHECK count "$T/nhs.jsonl") verified" \
	"$($CHECK verify "$T/nhs.jsonl" "$S_NHS")"
expect_eq "... and the ignored section's URL gets nothing" 0 "$($CHECK count "$T/nhsold.jsonl")"

# ---- SIGHUP: a new callback_url and secret -------------------------------------
sed -i -e "s|^callback_url = .*|callback_url = http://127.0.0.1:$P_DVLA2/v2|" \
	-e "s|^callback_secret = .*|callback_secret = $S_DVLA2|" "$T/services.d/dvla.conf"
kill -HUP "$HERALDD_PID"
check "SIGHUP restarts the callbacks with the changed table" \
	wait_for 10 grep -q 'reload: callbacks of 3 services' "$T/heraldd.out"
check "... dvla's now go to the new URL" wait_for 10 grep -q \
	"callback dvla: status callbacks to http://127.0.0.1:$P_DVLA2/v2" "$T/heraldd.out"
publish_as dvla "$(ev cd-2)" >"$T/acks2" 2>&1
expect_grep "a dvla event after the reload is accepted" '"cd-2","status":"accepted"' "$T/acks2"
check "its callbacks arrive at the new URL" \
	wait_for 20 sh -c "[ \$($CHECK count '$T/dvla2.jsonl' 200) -ge 3 ]"
expect_eq "... only cd-2's" "cd-2 accepted|cd-2 sending|cd-2 delivered" \
	"$($CHECK statuses "$T/dvla2.jsonl" | paste -sd'|')"
expect_eq "... signed with the new secret" "$($CHECK count "$T/dvla2.jsonl") verified" \
	"$($CHECK verify "$T/dvla2.jsonl" "$S_DVLA2")"
expect_eq "the old URL got nothing more" 3 "$($CHECK count "$T/dvla.jsonl")"
kill -HUP "$HERALDD_PID"
sleep 1
expect_eq "a SIGHUP that changes no callback restarts nothing" 1 \
	"$(grep -c 'reload: callbacks of' "$T/heraldd.out")"

for s in "$S_DVLA" "$S_HMRC" "$S_NHS" "$S_NHS_OLD" "$S_DVLA2"; do
	expect_no_grep "the secret ${s%%-*}... is never logged" "$s" "$T/heraldd.out"
	expect_no_grep "... nor printed by heraldd -t" "$s" "$T/check.out"
done
finish
