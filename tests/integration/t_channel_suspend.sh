#!/bin/sh
# t_channel_suspend.sh - heraldctl channel suspend / resume (issue 14) with
# two heraldd instances sharing one Redis: both obey within a second, a
# suspended channel takes nothing (its messages wait, or with --hop move to
# the next channel of their plan), resume sends what waited at once, and
# /metrics shows herald_channel_suspended.
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
start_redis
inst_conf() { # inst_conf NAME
	fresh_ports
	write_conf "
[queue]
consumer = $1

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/json
from = +447700900001
timeout = 5
"
	sed "s|$T/log/delivery|$T/log/$1|" "$T/herald.conf" >"$T/$1.conf"
	eval "HTTP_$(echo "$1" | tr -d -- -)=$HTTP_PORT"
}
inst_conf inst-a
inst_conf inst-b
start_instance inst-a
start_instance inst-b
ctl() { "$BIN/heraldctl" -c "$T/inst-a.conf" "$@"; }
pub() { # pub CONF_NAME ID CITIZEN
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}}\n' "$2" "$3" |
		"$BIN/heraldctl" -c "$T/$1.conf" publish - >>"$T/pub.out" 2>&1
}
logs() { cat "$T/log/inst-a.log" "$T/log/inst-b.log" 2>/dev/null; }
gw_count() { [ -f "$T/gateway.jsonl" ] && grep -c . "$T/gateway.jsonl" || echo 0; }
seed_citizen c-s name Sam channels sms phone "+447700900301"
seed_citizen c-h name Hal channels "sms,file" phone "+447700900302"

# ---- suspend (wait) --------------------------------------------------------------
ctl channel suspend sms >"$T/susp.out" 2>&1
expect_eq "channel suspend sms succeeds" 0 $?
expect_eq "herald:suspended names it" wait "$(rcli HGET herald:suspended sms)"
check "instance a obeys within a second" wait_for 1 grep -q "channel sms suspended by an operator" "$T/inst-a.out"
check "instance b obeys within a second" wait_for 1 grep -q "channel sms suspended by an operator" "$T/inst-b.out"
before=$(gw_count)
pub inst-a s-1 c-s
pub inst-b s-2 c-s
pub inst-a s-3 c-s
check "the messages wait, scheduled, with the reason" \
	wait_for 10 sh -c "[ \$(cat '$T/log/inst-a.log' '$T/log/inst-b.log' 2>/dev/null | grep -c 'status=scheduled (channel suspended by an operator') -ge 3 ]"
sleep 0.5
expect_eq "nothing reached the gateway" "$before" "$(gw_count)"
expect_eq "queue shows the three scheduled on sms" 3 \
	"$("$BIN/heraldctl" -c "$T/inst-a.conf" queue --json --channel sms --state scheduled | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
curl -s "http://127.0.0.1:$HTTP_instb/metrics" >"$T/metrics.b"
expect_grep "metrics: herald_channel_suspended for sms" '^herald_channel_suspended\{channel="sms"\} 1$' "$T/metrics.b"
expect_grep "metrics: file is not suspended" '^herald_channel_suspended\{channel="file"\} 0$' "$T/metrics.b"
ctl channel list >"$T/list.out"
expect_grep "channel list shows it" '^sms suspended \(wait\)' "$T/list.out"

# ---- resume: what waited goes at once ----------------------------------------
ctl channel resume sms >"$T/res.out" 2>&1
expect_eq "channel resume sms succeeds" 0 $?
expect_eq "herald:suspended is empty" 0 "$(rcli HLEN herald:suspended)"
check "both instances resume within a second" \
	wait_for 1 sh -c "grep -q 'channel sms resumed' '$T/inst-a.out' && grep -q 'channel sms resumed' '$T/inst-b.out'"
check "the waiting messages are sent at once" \
	wait_for 5 sh -c "for i in 1 2 3; do cat '$T/log/inst-a.log' '$T/log/inst-b.log' | grep -q \"s-\$i: .*status=sent\" || exit 1; done"
rcli LRANGE herald:oplog 0 -1 >"$T/oplog"
expect_grep "suspend and resume are in herald:oplog with the operator" \
	"\"user\":\"$(id -un)\",\"action\":\"resume\",\"id\":\"sms\"" "$T/oplog"

# ---- suspend --hop ---------------------------------------------------------------
ctl channel suspend sms --hop >/dev/null 2>&1
expect_eq "herald:suspended says hop" hop "$(rcli HGET herald:suspended sms)"
check "instance b obeys the hop within a second" \
	wait_for 1 sh -c "[ \$(grep -c 'channel sms suspended by an operator' '$T/inst-b.out') -ge 2 ]"
pub inst-b h-1 c-h
check "hop: the message moves on to file" \
	wait_for 10 sh -c "cat '$T/log/inst-a.log' '$T/log/inst-b.log' | grep -q 'h-1: .*channel=file.*status=delivered'"
logs >"$T/both.log"
expect_grep "hop: the reason names the suspension" 'h-1: .*status=hopped \(channel suspended by an operator \(sms\); next channel file' \
	"$T/both.log"
ctl channel resume sms >/dev/null 2>&1
ctl channel suspend 'bad name' >/dev/null 2>&1
expect_eq "a bad channel name: usage error" 2 $?
for f in "$T/inst-a.out" "$T/inst-b.out"; do assert_clean_log "$f"; done
finish
