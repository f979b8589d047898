#!/bin/sh
# t_complaint_faults.sh - a complaint (ARF) is never lost to a Redis fault
# while heraldd applies it (router/bounce.c apply_complaint). The opt-out,
# the complaint's journey record and the acknowledgement of its
# herald:inbound entry are one function call (herald_list_add with its
# record, router/optout.c); when that call does not go through the entry
# stays pending and a later pass applies it, once. Real heraldd, Redis,
# smtp-sink; heraldd reaches Redis through tests/integration/redisproxy.py:
#
#   1. the call lost on the way (the proxy drops it and cuts the
#      connection: Redis never ran it): applied after the reconnect;
#   2. the connection cut after the call reached Redis (its answer lost):
#      it landed whole (opt-out, record, entry acknowledged), nothing is
#      applied twice;
#   3. Redis refusing it (maxmemory reached: OOM): the entry stays
#      pending, nothing written, and is applied once Redis takes writes.
#
# Each ends with the citizen opted out of email, one complaint record in
# the journey, the entry gone from herald:inbound and nothing pending.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

need_smtp_sink "$BIN/heraldd" "$BIN/channels/email.so"
start_smtp_sink mail
start_redis
LOG=$T/log/delivery.log
# heraldd_via PROXY_PORT: (re)start heraldd with Redis reached through it
heraldd_via() {
	write_conf "
[channel.email]
relay = 127.0.0.1:$SINK_PORT
from = Herald <noreply@gov.example>
starttls = no
domain = gov.example
bounce_domain = bounces.example
timeout = 10"
	sed -i "s/^port = $REDIS_PORT\$/port = $1/" "$T/herald.conf"
	start_heraldd
}
# mail_to EVENT CITIZEN: an email to the citizen, sent; TOKEN its VERP token
mail_to() {
	seed_citizen "$2" channels email email "$2@example.org" locale en name Ada
	publish "{\"event_id\":\"$1\",\"service\":\"dvla\",\"citizen_id\":\"$2\",\"transaction_id\":\"tx-$1\",\"template\":\"payment-due\",\"personalisation\":{\"name\":\"Ada\",\"amount\":\"5\",\"due_date\":\"1 May 2027\"}}" >/dev/null
	check "$1 sent by email" wait_for 20 grep -Eq " $1: .*channel=email.*status=sent" "$LOG"
	TOKEN=""
	for _k in $(rcli KEYS 'herald:ref:email:*'); do
		[ "$(rcli GET "$_k")" = "$1" ] && TOKEN=${_k##*:}
	done
	check "$1 has a VERP token" test -n "$TOKEN"
}
# complain TOKEN: the entry heraldctl bounce records for an ARF report
complain() {
	rcli XADD herald:inbound '*' k complaint t "$1" s abuse d "" at "$(date +%s)000" >/dev/null
}
# applied_once EVENT CITIZEN WHAT: the state every scenario ends in
applied_once() {
	check "$3: the citizen is opted out of email" wait_for 15 sh -c \
		"[ \"\$(redis-cli -p $REDIS_PORT HGET herald:citizen:$2 optout)\" = email ]"
	check "$3: the complaint's record is in the journey" wait_for 10 sh -c \
		"redis-cli -p $REDIS_PORT LRANGE herald:tx:tx-$1 0 -1 | grep -q '\"status\":\"complaint\"'"
	check "$3: herald:inbound holds nothing pending" wait_for 10 sh -c \
		"[ \"\$(redis-cli -p $REDIS_PORT XPENDING herald:inbound herald | head -n 1)\" = 0 ]"
	sleep 1.5 # three more polls: nothing applied again
	expect_eq "$3: one complaint record in the journey (applied once)" 1 \
		"$(rcli LRANGE "herald:tx:tx-$1" 0 -1 | grep -c '"status":"complaint"')"
	expect_eq "$3: the entry is gone from herald:inbound" 0 "$(rcli XLEN herald:inbound)"
	expect_grep "$3: optout_at says why" 'email: complaint \(abuse\).*event '"$1" \
		"$(rcli HGET "herald:citizen:$2" optout_at >"$T/at.$1"; echo "$T/at.$1")"
}

# ---- 1. the call lost on the way -----------------------------------------
start_redisproxy p1 --drop-on herald_list_add
heraldd_via "$PROXY_PORT"
mail_to cf-1 c-1
kill -USR2 "$PROXY_PID"
complain "$TOKEN"
check "the proxy dropped heraldd's opt-out call" wait_for 15 grep -q '^cut 1 dropping' "$T/p1.out"
expect_eq "Redis never ran it: no opt-out yet" "" "$(rcli HGET herald:citizen:c-1 optout)"
applied_once cf-1 c-1 "dropped call"
expect_eq "dropped call: one complaint line in the delivery log" 1 \
	"$(grep -c ' cf-1: .*status=complaint' "$LOG")"
expect_grep "dropped call: logged as left pending for a later pass" \
	'cf-1: complaint not confirmed \(Redis refused or did not answer the opt-out call\)' \
	"$T/heraldd.out"
stop_heraldd

# ---- 2. the connection cut after the call reached Redis ------------------
start_redisproxy p2 --cut-on herald_list_add
heraldd_via "$PROXY_PORT"
mail_to cf-2 c-2
kill -USR2 "$PROXY_PID"
complain "$TOKEN"
check "the proxy cut the connection after the call" wait_for 15 grep -q '^cut 1 on pattern' "$T/p2.out"
applied_once cf-2 c-2 "answer lost"
stop_heraldd

# ---- 3. Redis refuses the write (OOM) --------------------------------------
start_redisproxy p3
heraldd_via "$PROXY_PORT"
mail_to cf-3 c-3
# the entry in, then no more writes (one transaction: the XADD goes first)
printf 'MULTI\nXADD herald:inbound * k complaint t %s s abuse d "" at %s000\nCONFIG SET maxmemory 1\nEXEC\n' \
	"$TOKEN" "$(date +%s)" | redis-cli -p "$REDIS_PORT" >"$T/multi.out"
check "heraldd's opt-out call is refused (OOM)" wait_for 15 grep -q \
	'cf-3: herald_list_add on citizen c-3: OOM' "$T/heraldd.out"
sleep 1.5
expect_eq "refused: nothing written" "" "$(rcli HGET herald:citizen:c-3 optout)"
expect_eq "refused: the entry stays pending" 1 \
	"$(rcli XPENDING herald:inbound herald | head -n 1)"
expect_eq "refused: no complaint record yet" 0 \
	"$(grep -c ' cf-3: .*status=complaint' "$LOG")"
rcli CONFIG SET maxmemory 0 >/dev/null
applied_once cf-3 c-3 "refused, then taken"
expect_eq "refused, then taken: one complaint line in the delivery log" 1 \
	"$(grep -c ' cf-3: .*status=complaint' "$LOG")"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"
expect_grep "/metrics counts the complaint once" \
	'^herald_email_complaints_total\{service="dvla"\} 1$' "$T/metrics"
stop_heraldd
assert_clean_log "$T/heraldd.out"
finish
