#!/bin/sh
# t_callback_durable.sh - status callbacks survive heraldd (issue #12): the
# records wait in Redis (herald:cb:<service>), so heraldd stopped while the
# service is down loses none of them: after a restart and the service coming
# back, every record arrives, once, in order. Also: an unordered service gets
# up to `concurrency` POSTs at once and an ordered one one; a record older
# than callback_max_age goes to the dead stream, which heraldctl callbacks
# dead list|replay shows and sends again; /metrics has the four callback
# families; heraldctl callbacks sums it up; with two instances an ordered
# service is sent by the lease holder alone, and the other takes over when it
# stops.
. "$HERALD_SRC/tests/integration/lib.sh"

CHECK="python3 $HERALD_SRC/tests/integration/callback_check.py"

# receiver NAME PORT [ARGS...]: records in $T/NAME.jsonl; its pid in $RPID
receiver() {
	_n=$1
	_p=$2
	shift 2
	rm -f "$T/$_n.ready"
	python3 "$HERALD_SRC/tests/integration/callback_receiver.py" --port "$_p" \
		--out "$T/$_n.jsonl" --ready "$T/$_n.ready" "$@" >>"$T/$_n.out" 2>&1 &
	RPID=$!
	track_pid $RPID
	wait_for 10 test -e "$T/$_n.ready" || { not_ok "receiver $_n started"; finish; exit 1; }
}

# maxin FILE: the most requests the receiver was answering at once
maxin() { python3 -c 'import json,sys; print(max([json.loads(l)["inflight"] for l in open(sys.argv[1])] or [0]))' "$1"; }
# events PREFIX SERVICE N: N events, one JSON a line
events() {
	_i=1
	while [ $_i -le "$3" ]; do
		printf '{"event_id":"%s-%d","service":"%s","citizen_id":"c-1","template":"payment-due","personalisation":{"name":"Ada","amount":"5","due_date":"1 May 2027"}}\n' "$1" $_i "$2"
		_i=$((_i + 1))
	done
}
ndelivered() { grep -c "$1-[0-9]*: .*status=delivered" "$T/log/delivery.log"; }

start_redis
DVLA_PORT=$(free_port)
HMRC_PORT=$(free_port)
MOJ_PORT=$(free_port)
write_conf "
[service.dvla]
callback_url = http://127.0.0.1:$DVLA_PORT/status
callback_secret = dvla-secret
callback_retry_max = 1

[service.hmrc]
callback_url = http://127.0.0.1:$HMRC_PORT/status
callback_secret = hmrc-secret
ordered = no
concurrency = 3

[service.moj]
callback_url = http://127.0.0.1:$MOJ_PORT/status
callback_secret = moj-secret
callback_retry_max = 1
callback_max_age = 2
"
seed_citizen c-1 name Ada channels file

# ---- 1. a restart while the service is down loses nothing ---------------------
start_heraldd
events dv dvla 20 | "$BIN/heraldctl" -c "$T/herald.conf" publish - >/dev/null
check "20 dvla messages delivered while its callback service is down" \
	wait_for 20 sh -c "[ \$(grep -c 'dv-[0-9]*: .*status=delivered' '$T/log/delivery.log') -eq 20 ]"
check "their 60 status records wait in herald:cb:dvla" \
	wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN herald:cb:dvla) -eq 60 ]"
stop_heraldd
expect_no_grep "nothing dropped at shutdown" 'dropped|not delivered' "$T/heraldd.out"
expect_eq "the 60 records are still in Redis after the stop" 60 "$(rcli XLEN herald:cb:dvla)"
start_heraldd
receiver dvla "$DVLA_PORT" --delay 0.02
DVLA_RPID=$RPID
check "after the restart every record arrives" \
	wait_for 30 sh -c "[ \$($CHECK count '$T/dvla.jsonl' 200) -ge 60 ]"
sleep 0.5
expect_eq "each exactly once" 60 "$($CHECK count "$T/dvla.jsonl" 200)"
$CHECK statuses "$T/dvla.jsonl" >"$T/dvla.got"
expect_eq "60 distinct records" 60 "$(sort -u "$T/dvla.got" | wc -l | tr -d ' ')"
python3 - "$T/dvla.got" >"$T/dvla.order" <<'PY'
import sys
seen, bad = {}, 0
for line in open(sys.argv[1]):
    ev, st = line.split()
    seen.setdefault(ev, []).append(st)
for ev, sts in seen.items():
    if sts != ["accepted", "sending", "delivered"]:
        bad += 1
print("in order" if not bad and len(seen) == 20 else "%d events out of order" % bad)
PY
expect_eq "every message's records in order (ordered is the default)" "in order" "$(cat "$T/dvla.order")"
expect_eq "an ordered service gets one POST at a time" 1 "$(maxin "$T/dvla.jsonl")"
expect_eq "every one signed" "$($CHECK count "$T/dvla.jsonl") verified" "$($CHECK verify "$T/dvla.jsonl" dvla-secret)"
check "delivered records are deleted from the stream" \
	wait_for 5 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN herald:cb:dvla) -eq 0 ]"

rcli DEL herald:cb:dvla >/dev/null
events dv2 dvla 1 | "$BIN/heraldctl" -c "$T/herald.conf" publish - >/dev/null
check "the stream deleted under heraldd: the group is made again, records still arrive" \
	wait_for 20 sh -c "[ \$($CHECK count '$T/dvla.jsonl' 200) -ge 63 ]"

# ---- 2. concurrency = 3 with ordered = no ---------------------------------------
receiver hmrc "$HMRC_PORT" --delay 0.5
events hm hmrc 4 | "$BIN/heraldctl" -c "$T/herald.conf" publish - >/dev/null
check "hmrc gets its 12 records" \
	wait_for 20 sh -c "[ \$($CHECK count '$T/hmrc.jsonl' 200) -ge 12 ]"
expect_eq "up to concurrency (3) POSTs at once, never more" 3 "$(maxin "$T/hmrc.jsonl")"

# ---- 3. too old: the dead stream, heraldctl list and replay ------------------------
# a dead record older than retention_days (its stream id is its time):
# trimmed when the next one is added (it may hold an SMS reply's text)
rcli XADD herald:cbdead:moj 1000-0 id 1000-0 r '{"status":"inbound","text":"old"}' err x tries 1 >/dev/null
events mj moj 1 | "$BIN/heraldctl" -c "$T/herald.conf" publish - >/dev/null
check "after callback_max_age the 3 records move to herald:cbdead:moj" \
	wait_for 20 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN herald:cbdead:moj) -eq 3 ]"
expect_eq "a dead record older than retention_days is trimmed then" "" \
	"$(rcli XRANGE herald:cbdead:moj 1000-0 1000-0)"
expect_eq "and leave herald:cb:moj" 0 "$(rcli XLEN herald:cb:moj)"
expect_grep "giving up is logged" 'callback moj: record [0-9-]+ given up after [0-9]+ attempts .*moved to herald:cbdead:moj' "$T/heraldd.out"
CTL="$BIN/heraldctl -c $T/herald.conf"
$CTL callbacks dead list --service moj >"$T/dead.txt"
expect_eq "heraldctl callbacks dead list shows 3" 3 "$(grep -c ' event=mj-1 status=[a-z]* tries=[0-9]* error=.*onnect' "$T/dead.txt")"
$CTL callbacks dead list --service moj --json >"$T/dead.json"
expect_eq "--json: the records, with the error" "mj-1 accepted|mj-1 sending|mj-1 delivered" \
	"$(python3 -c 'import json,sys; print("|".join(r["record"]["event_id"]+" "+r["record"]["status"] for r in json.load(open(sys.argv[1])) if r["error"]))' "$T/dead.json")"
check "/metrics shows herald_callback_dead for moj" \
	wait_for 5 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q '^herald_callback_dead{service=\"moj\"} 3$'"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"
for fam in herald_callback_backlog herald_callback_oldest_age_seconds herald_callback_failures_total herald_callback_dead; do
	expect_grep "/metrics: HELP and TYPE of $fam" "^# TYPE $fam (gauge|counter)$" "$T/metrics"
	expect_grep "/metrics: $fam per service" "^$fam\\{service=\"dvla\"\\} " "$T/metrics"
done
expect_grep "/metrics: moj's failures counted" '^herald_callback_failures_total\{service="moj"\} [1-9]' "$T/metrics"
$CTL callbacks >"$T/summary.txt"
expect_grep "heraldctl callbacks: moj with 3 dead" '^moj +0 +[0-9.]+ +0 +3$' "$T/summary.txt"
expect_grep "heraldctl callbacks: dvla empty" '^dvla +0 ' "$T/summary.txt"

receiver moj "$MOJ_PORT"
FIRST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/dead.json")
$CTL callbacks dead replay --service moj "$FIRST" >"$T/replay1.out"
expect_eq "replay by id exits 0" 0 $?
check "the replayed record arrives" wait_for 10 sh -c "[ \$($CHECK count '$T/moj.jsonl' 200) -ge 1 ]"
$CTL callbacks dead replay --service moj "$FIRST" >/dev/null 2>"$T/replay2.err"
expect_eq "replaying it again: not in the dead stream (exit 1)" 1 $?
$CTL callbacks dead replay --service moj --all >"$T/replay3.out"
expect_grep "--all replays the other two" '^2 replayed$' "$T/replay3.out"
check "all 3 arrive" wait_for 10 sh -c "[ \$($CHECK count '$T/moj.jsonl' 200) -ge 3 ]"
expect_eq "the dead stream is empty" 0 "$(rcli XLEN herald:cbdead:moj)"
expect_eq "in their order" "mj-1 accepted|mj-1 sending|mj-1 delivered" "$($CHECK statuses "$T/moj.jsonl" | paste -sd'|')"
$CTL callbacks dead list >/dev/null 2>&1
expect_eq "dead list without --service is a usage error" 2 $?

# ---- 4. two instances: an ordered service is sent by one (its lease) -------------
stop_pid "$DVLA_RPID" # dvla's service down again
sed -e "s|^endpoint = tcp://127.0.0.1:$INGEST_PORT|endpoint = tcp://127.0.0.1:$(free_port)|" \
	-e "s|^publish = tcp://127.0.0.1:$PUB_PORT|publish = tcp://127.0.0.1:$(free_port)|" \
	-e "s|^listen = 127.0.0.1:$HTTP_PORT|listen = 127.0.0.1:$(free_port)|" \
	"$T/herald.conf" >"$T/h2.conf"
printf '\n[queue]\nconsumer = second\n' >>"$T/h2.conf"
"$BIN/heraldd" -c "$T/h2.conf" >>"$T/h2.out" 2>&1 &
H2=$!
track_pid $H2
wait_for 20 grep -q "heraldd\[$H2\]: info: heraldd: ready" "$T/h2.out" || not_ok "second heraldd ready"
: >"$T/dvla.jsonl"
events d1 dvla 5 | "$BIN/heraldctl" -c "$T/herald.conf" publish - >/dev/null
events d2 dvla 5 | "$BIN/heraldctl" -c "$T/h2.conf" publish - >/dev/null
check "30 records from both instances wait in herald:cb:dvla" \
	wait_for 20 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN herald:cb:dvla) -eq 30 ]"
HOLDER=$(rcli GET herald:cblock:dvla)
diag "dvla's lease: ${HOLDER:-none}"
stop_heraldd # the first instance, which holds the lease: it gives it up
receiver dvla "$DVLA_PORT" --delay 0.02
check "the second instance takes over and sends all 30" \
	wait_for 30 sh -c "[ \$($CHECK count '$T/dvla.jsonl' 200) -ge 30 ]"
expect_eq "the lease moved to the second instance" second "$(rcli GET herald:cblock:dvla)"
start_heraldd # both again: only the lease holder sends
events d3 dvla 5 | "$BIN/heraldctl" -c "$T/herald.conf" publish - >/dev/null
events d4 dvla 5 | "$BIN/heraldctl" -c "$T/h2.conf" publish - >/dev/null
check "30 more arrive with two instances running" \
	wait_for 30 sh -c "[ \$($CHECK count '$T/dvla.jsonl' 200) -ge 60 ]"
sleep 0.5
expect_eq "each once" 60 "$($CHECK count "$T/dvla.jsonl" 200)"
expect_eq "never two POSTs at once to the ordered service" 1 "$(maxin "$T/dvla.jsonl")"
$CHECK statuses "$T/dvla.jsonl" >"$T/dvla2.got"
# (the "accepted" record is queued by the instance that took the event, the
# others by the one that sent it: across two instances "accepted" may be
# queued after "sending"; README, Status callbacks)
expect_eq "every message's records in the order they were queued" 0 "$(python3 -c '
import sys
seen = {}
for l in open(sys.argv[1]):
    ev, st = l.split(); seen.setdefault(ev, []).append(st)
print(sum(1 for v in seen.values() if sorted(v) != ["accepted", "delivered", "sending"]
          or v.index("sending") > v.index("delivered")))' "$T/dvla2.got")"
assert_clean_log "$T/h2.out"

expect_no_grep "no secret in the log" 'dvla-secret|hmrc-secret|moj-secret' "$T/heraldd.out"
assert_clean_log "$T/heraldd.out"
finish
