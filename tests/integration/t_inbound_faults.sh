#!/bin/sh
# t_inbound_faults.sh - faults on the hearing-back path (SMS replies and
# STOP in the JSON form, posted to /inbound/sms/json), heraldd reaching
# Redis through tests/integration/redisproxy.py:
#
#   1. a STOP's opt-out is added in Redis, not computed from heraldd's copy
#      of the citizen: heraldd's write is held 1.5 s at the proxy (after it
#      read the citizen), heraldctl optout --add writes another refusal to
#      the same field meanwhile, and both stay;
#   2. Redis down when a STOP arrives: the gateway gets 503 (not a 200 for
#      a STOP nobody recorded) and its resend once Redis is back is applied,
#      once (a copy after that changes nothing); the connection cut while
#      the router applies a STOP (the proxy forwards its look-up, then cuts):
#      503 too, where a 200 lost the STOP for good, and the resend applied;
#   3. the router held (its first look-up held 3 s at the proxy) while 80
#      replies arrive at once: past HTTP_INBOUND_QUEUE_MAX (64) waiting the
#      gateway gets 503 at once; every reply is applied once, the refused
#      ones when sent again, and all of them sent a third time add nothing.
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
start_redis
SMSCONF="
[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 5
"
LOG=$T/log/delivery.log
JURL= # set once heraldd's HTTP port is known
# heraldd_via PROXY_PORT: (re)start heraldd with Redis reached through it;
# $T/direct.conf is the same with Redis itself (for heraldctl)
heraldd_via() {
	write_conf "$SMSCONF"
	cp "$T/herald.conf" "$T/direct.conf"
	sed -i "s/^port = $REDIS_PORT\$/port = $1/" "$T/herald.conf"
	start_heraldd
	JURL="http://127.0.0.1:$HTTP_PORT/inbound/sms/json"
}
jpost() { # jpost FROM TEXT ID: prints the HTTP code
	curl -s -o /dev/null -m 30 -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"from\":\"$1\",\"to\":\"+447700900001\",\"text\":\"$2\",\"id\":\"$3\"}" "$JURL"
}
sms_to() { # sms_to EVENT CITIZEN: publish an SMS to the citizen, wait until sent
	publish "{\"event_id\":\"$1\",\"service\":\"dvla\",\"citizen_id\":\"$2\",\"transaction_id\":\"tx-$1\",\"template\":\"payment-due\",\"personalisation\":{\"name\":\"Ann\",\"amount\":\"£10\",\"due_date\":\"1 January 2027\"},\"channels\":[\"sms\"]}" >/dev/null
	check "$1 sent over sms" wait_for 15 grep -q " $1: .*channel=sms.*status=sent" "$LOG"
}
healthz() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz"; }

# ---- 1. two writers of one opt-out list ---------------------------------
start_redisproxy p1 --delay-on 'optout@dvla_at' --delay-ms 1500 --delay-count 1 \
	--cut-on ZREVRANGE
heraldd_via "$PROXY_PORT"
seed_citizen c-a name Ann channels sms phone +447700900111
seed_citizen c-b name Bob channels sms phone +447700900222
sms_to f-1 c-a
jpost +447700900111 STOP j-1 >"$T/j1.code" &
J1=$!
check "heraldd's write of the opt-out is held at the proxy" wait_for 15 grep -q '^delay 1' "$T/p1.out"
"$BIN/heraldctl" -c "$T/direct.conf" optout c-a --add email --service dvla >"$T/ctl1.out" 2>&1
expect_eq "meanwhile heraldctl optout adds email for dvla" "email" \
	"$(rcli HGET herald:citizen:c-a optout@dvla)"
wait "$J1"
expect_eq "the STOP is answered 200 once recorded" 200 "$(cat "$T/j1.code")"
check "heraldd's held write has reached Redis" wait_for 10 sh -c \
	"redis-cli -p $REDIS_PORT HGET herald:citizen:c-a optout@dvla_at | grep -q 'STOP by SMS'"
check "the STOP's unsubscribed record" wait_for 10 grep -q ' f-1: .*channel=sms.*status=unsubscribed' "$LOG"
expect_eq "both refusals are kept (heraldd added to what Redis had)" "email,sms" \
	"$(rcli HGET herald:citizen:c-a optout@dvla)"
rcli HGET herald:citizen:c-a optout@dvla_at >"$T/at1"
expect_grep "its note says why" 'sms: STOP by SMS reply \(event f-1\)' "$T/at1"

# ---- 2. Redis down, or failing mid-apply, when a STOP arrives -------------
# gw FROM TEXT ID: the gateway (Kannel with http-request-retry, Twilio with
# rp=all): sends until answered 2xx, every 0.5 s, 40 tries; prints the codes
gw() { resend jpost "$1" "$2" "$3"; }
sms_to f-2 c-b
redis_stop TERM
check "heraldd sees Redis gone (/healthz 503)" wait_for 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HTTP_PORT/healthz)\" = 503 ]"
gw +447700900222 stop j-2 >"$T/gw2.out" &
GW2=$!
sleep 2
redis_up
wait "$GW2"
diag "STOP sent while Redis was down, the codes the gateway got: $(cat "$T/gw2.out")"
expect_eq "while Redis is down a STOP is answered 503, not 200" 503 "$(cut -d' ' -f1 "$T/gw2.out")"
expect_eq "the gateway's resend once Redis is back: 200" 200 "$(tr ' ' '\n' <"$T/gw2.out" | tail -n 1)"
expect_grep "the 503 is logged, the number masked" 'inbound sms from \+44\*.*not applied \(Redis is down\): answered 503' "$T/heraldd.out"
expect_eq "the opt-out is recorded" sms "$(rcli HGET herald:citizen:c-b optout@dvla)"
check "with its unsubscribed record" wait_for 10 grep -q ' f-2: .*channel=sms.*status=unsubscribed' "$LOG"
expect_eq "a copy sent again is answered 200" 200 "$(jpost +447700900222 stop j-2)"
sleep 1
expect_eq "and changes nothing: one unsubscribed record" 1 \
	"$(grep -c ' f-2: .*status=unsubscribed' "$LOG")"
expect_eq "the list holds sms once" sms "$(rcli HGET herald:citizen:c-b optout@dvla)"

# Redis fails mid-apply: the proxy forwards the router's first look-up
# (ZREVRANGE herald:mo:<number>) and cuts the connection before the reply
seed_citizen c-c name Cy channels sms phone +447700900333
sms_to f-3 c-c
kill -USR2 "$PROXY_PID"
gw +447700900333 STOP j-3 >"$T/gw3.out"
diag "STOP cut mid-apply, the codes the gateway got: $(cat "$T/gw3.out")"
expect_grep "the connection was cut during the apply" '^cut 1 on pattern' "$T/p1.out"
expect_eq "the gateway is answered 503 for it, not 200" 503 "$(cut -d' ' -f1 "$T/gw3.out")"
expect_grep "logged as not applied" 'inbound sms from \+44\*.*333: not applied \(Redis did not answer\)' "$T/heraldd.out"
expect_eq "its resend is applied: the opt-out is recorded (not lost)" sms \
	"$(rcli HGET herald:citizen:c-c optout@dvla)"
check "with one unsubscribed record" wait_for 10 sh -c "[ \$(grep -c ' f-3: .*status=unsubscribed' '$LOG') -eq 1 ]"
curl -s -o "$T/metrics" "http://127.0.0.1:$HTTP_PORT/metrics"
expect_grep "herald_inbound_retry_later_total counts the 503s" \
	'herald_inbound_retry_later_total\{channel="sms"\} [1-9]' "$T/metrics"
stop_heraldd

# ---- 3. the queue full ------------------------------------------------------
burst() { # burst FIRST LAST: POST replies r-FIRST..r-LAST at once; "N code" lines
	python3 - "$JURL" "$1" "$2" <<'PY'
import json, sys, threading, urllib.error, urllib.request
url, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {}
def post(i):
    body = json.dumps({"from": "+447700900222", "to": "+447700900001",
                       "text": "reply %d" % i, "id": "r-%d" % i}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        out[i] = urllib.request.urlopen(req, timeout=30).status
    except urllib.error.HTTPError as e:
        out[i] = e.code
    except Exception:  # noqa: BLE001 - no answer at all
        out[i] = 0
ts = [threading.Thread(target=post, args=(i,)) for i in range(a, b + 1)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for i in sorted(out):
    print(i, out[i])
PY
}
start_redisproxy p2 --delay-on 'ZREVRANGE' --delay-ms 3000 --delay-count 1
heraldd_via "$PROXY_PORT"
burst 1 1 >"$T/burst1.out" &
B1=$!
check "the router's look-up of the first reply is held at the proxy" \
	wait_for 15 grep -q '^delay 1' "$T/p2.out"
burst 2 81 >"$T/burst.out"
wait "$B1"
n503=$(grep -c ' 503$' "$T/burst.out")
n200=$(grep -c ' 200$' "$T/burst.out")
diag "80 replies at once while the router was held: $n200 answered 200, $n503 answered 503"
check "past 64 waiting the gateway gets 503 ($n503 of 80)" test "$n503" -ge 1
expect_eq "every other one 200 once applied" 80 "$((n200 + n503))"
expect_eq "the held first one 200" "1 200" "$(cat "$T/burst1.out")"
expect_grep "the 503 is logged" 'inbound for sms: queue full \(64 waiting\): answered 503' "$T/heraldd.out"
for i in $(grep ' 503$' "$T/burst.out" | cut -d' ' -f1); do
	burst "$i" "$i" >>"$T/retry.out"
done
expect_eq "each refused one is answered 200 when sent again" "$n503" \
	"$(grep -c ' 200$' "$T/retry.out" 2>/dev/null || echo 0)"
check "81 replies, 81 inbound records" \
	wait_for 15 sh -c "[ \$(grep -c ' f-2: .*channel=sms.*status=inbound' '$LOG') -eq 81 ]"
missing=0
for i in $(seq 1 81); do
	[ "$(rcli EXISTS "herald:msg:mo-r-$i")" = 1 ] || missing=$((missing + 1))
done
expect_eq "each reply's engagement is in Redis" 0 "$missing"
# (in two bursts, each within the 64 that may wait: a slow build takes
# them one by one and more than 64 at once would rightly get 503s)
burst 1 40 >"$T/again.out"
burst 41 81 >>"$T/again.out"
expect_eq "all 81 sent a third time: 200" 81 "$(grep -c ' 200$' "$T/again.out")"
sleep 1
expect_eq "and heard once: still 81 inbound records" 81 \
	"$(grep -c ' f-2: .*channel=sms.*status=inbound' "$LOG")"
stop_heraldd
assert_clean_log "$T/heraldd.out"
finish
