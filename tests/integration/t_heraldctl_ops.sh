#!/bin/sh
# t_heraldctl_ops.sh - heraldctl trace, status, dead list/replay and purge
# against a real redis-server seeded with the records heraldd writes: a
# transaction of two messages that hopped email -> sms -> print, a
# dead-lettered message, a scheduled one with a queue entry, another
# citizen's data that must survive a purge, and a journey shared by both.
# heraldd is not needed: the tools read and repair Redis directly.
# dvla-1 and dvla-9 are seeded as heraldd writes a message hash now, with
# the packed fields meta and at (lib/msgrec.h); the others as heraldd
# wrote them before, one field each: the tools read both.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
write_conf
CONF=$T/herald.conf
ERRS=$T/ctl.err
: >"$ERRS"

# ctl OUT ARGS...: heraldctl with this config; stdout to OUT, stderr to
# OUT.err (and collected for the sanitizer check); exit status in $RC.
ctl() {
	_out=$1
	shift
	"$BIN/heraldctl" -c "$CONF" "$@" >"$_out" 2>"$_out.err"
	RC=$?
	cat "$_out.err" >>"$ERRS"
}

# ---- seed ---------------------------------------------------------------
A=1795338000000 # 2026-11-22T09:00:00Z
ms() { echo $((A + $1)); }
ts() { # ts OFFSET_MS -> RFC 3339 with milliseconds
	python3 -c 'import sys,datetime; t=datetime.datetime.fromtimestamp(int(sys.argv[1])/1000, datetime.timezone.utc); print(t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000))' "$(ms "$1")"
}
# rec OFFSET EVENT TX CITIZEN CHANNEL TO ATTEMPT STATUS REASON [EXTRA_JSON]
rec() {
	_ch="\"channel\":\"$5\","
	[ "$5" = - ] && _ch=""
	printf '{"ts":"%s","event_id":"%s","tx":"%s","citizen":"%s","service":"dvla",%s"to":"%s","attempt":%s,"delay":%s,"delays":"0.001/0.002/0.100","dsn":"-","status":"%s","reason":"%s"%s}' \
		"$(ts "$1")" "$2" "$3" "$4" "$_ch" "$6" "$7" "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" "$8" "$9" "${10:-}"
}
push() { # push TX RECORD
	rcli RPUSH "herald:tx:$1" "$2" >/dev/null
}
EMAIL_MASK='a***@example.org'
PHONE_MASK='+44*******123'
POST_MASK='1*** ... SA1'

seed_citizen c-ada name "Ada Lovelace" channels "email,sms,print" email ada@example.org \
	phone +447700900123 address "1 High Street
Swansea
SA1 1AA" locale en
seed_citizen c-bob name "Bob Jones" channels "sms" phone +447700900456 locale en

for s in urgent normal bulk; do
	rcli XGROUP CREATE "herald:q:$s" herald '$' MKSTREAM >/dev/null
done

# tx-55: dvla-1 hops email (550 5.1.1) -> sms (no receipt) -> print
# (delivered); dvla-2 delivered by sms at once.
push tx-55 "$(rec 0 dvla-1 tx-55 c-ada - - 0 accepted 'template mot-reminder, priority normal')"
push tx-55 "$(rec 5 dvla-1 tx-55 c-ada email "$EMAIL_MASK" 1 sending 'submitted to email')"
push tx-55 "$(rec 40 dvla-1 tx-55 c-ada email "$EMAIL_MASK" 1 permanent-failure '550 5.1.1 user unknown')"
push tx-55 "$(rec 41 dvla-1 tx-55 c-ada email "$EMAIL_MASK" 1 hopped '550 5.1.1 user unknown; next channel sms')"
push tx-55 "$(rec 90 dvla-2 tx-55 c-ada - - 0 accepted 'template mot-reminder, priority normal')"
push tx-55 "$(rec 300 dvla-1 tx-55 c-ada sms "$PHONE_MASK" 1 sent '202 Accepted for delivery' ',"ref":"gw-123"')"
push tx-55 "$(rec 900 dvla-2 tx-55 c-ada sms "$PHONE_MASK" 1 delivered 'DLR delivered' ',"ref":"gw-124","fulfilled_in":0.81')"
push tx-55 "$(rec 172800300 dvla-1 tx-55 c-ada sms "$PHONE_MASK" 1 hopped 'no delivery receipt within 172800s; next channel print')"
push tx-55 "$(rec 172805000 dvla-1 tx-55 c-ada print "$POST_MASK" 1 delivered 'CUPS job 7 completed' ',"ref":"job-7","fulfilled_in":172805.0')"
rcli HSET herald:msg:dvla-1 event '{"event_id":"dvla-1","service":"dvla","citizen_id":"c-ada","template":"mot-reminder","transaction_id":"tx-55","personalisation":{"name":"Ada"},"deliver_within":172800}' \
	status delivered at "print 1 2 email,sms,print $POST_MASK" \
	ref job-7 reason 'CUPS job 7 completed' meta "$(ms 0) dvla c-ada" updated_ms "$(ms 172805000)" \
	sent_ms "$(ms 172804000)" fulfilled_ms 172805000 final 1 tx tx-55 \
	stream herald:q:normal reference HX-TEST >/dev/null
rcli HSET herald:msg:dvla-2 event '{"event_id":"dvla-2","service":"dvla","citizen_id":"c-ada","template":"mot-reminder","transaction_id":"tx-55"}' \
	status delivered channel sms to "$PHONE_MASK" attempt 1 plan sms,email plan_idx 0 ref gw-124 \
	reason 'DLR delivered' accepted_ms "$(ms 90)" updated_ms "$(ms 900)" fulfilled_ms 810 \
	tx tx-55 citizen c-ada service dvla stream herald:q:normal >/dev/null
rcli SET herald:ref:sms:gw-123 dvla-1 >/dev/null
rcli SET herald:ref:print:job-7 dvla-1 >/dev/null
rcli SET herald:ref:sms:gw-124 dvla-2 >/dev/null
rcli SET herald:engaged:tx-55 sms >/dev/null

# dvla-9: no transaction_id (tx = event id), every channel failed.
push dvla-9 "$(rec 0 dvla-9 dvla-9 c-ada - - 0 accepted 'template mot-reminder, priority normal')"
push dvla-9 "$(rec 50 dvla-9 dvla-9 c-ada sms "$PHONE_MASK" 5 temporary-failure 'gateway 503')"
push dvla-9 "$(rec 60 dvla-9 dvla-9 c-ada sms "$PHONE_MASK" 5 exhausted 'every channel failed (plan sms); last: retries exhausted')"
rcli HSET herald:msg:dvla-9 event '{"event_id":"dvla-9","service":"dvla","citizen_id":"c-ada","template":"mot-reminder"}' \
	status exhausted at "sms 5 0 sms $PHONE_MASK" \
	reason 'every channel failed (plan sms); last: retries exhausted' meta "$(ms 0) dvla c-ada" \
	updated_ms "$(ms 60)" tx dvla-9 stream herald:q:normal >/dev/null
rcli LPUSH herald:dead dvla-9 >/dev/null

# dvla-3: waiting for a retry, and a queue entry naming it.
push tx-56 "$(rec 0 dvla-3 tx-56 c-ada - - 0 accepted 'template mot-reminder, priority bulk')"
push tx-56 "$(rec 20 dvla-3 tx-56 c-ada email "$EMAIL_MASK" 1 temporary-failure '451 try later')"
rcli HSET herald:msg:dvla-3 event '{"event_id":"dvla-3","service":"dvla","citizen_id":"c-ada","template":"mot-reminder","transaction_id":"tx-56","priority":"bulk"}' \
	status temporary-failure channel email to "$EMAIL_MASK" attempt 1 plan email plan_idx 0 \
	reason '451 try later' accepted_ms "$(ms 0)" updated_ms "$(ms 20)" tx tx-56 citizen c-ada \
	service dvla stream herald:q:bulk >/dev/null
rcli ZADD herald:sched "$(ms 30020)" dvla-3 >/dev/null
rcli XADD herald:q:bulk '*' id dvla-3 c c-ada >/dev/null

# A journey whose messages expired already (only the journey is left).
push tx-old "$(rec 0 dvla-0 tx-old c-ada - - 0 accepted 'template mot-reminder, priority normal')"

# Bob: a delivered message, a dead letter, a queue entry, a reference.
push tx-77 "$(rec 0 bob-1 tx-77 c-bob - - 0 accepted 'template mot-reminder, priority normal')"
push tx-77 "$(rec 500 bob-1 tx-77 c-bob sms '+44*******456' 1 delivered 'DLR delivered' ',"ref":"gw-900","fulfilled_in":0.5')"
rcli HSET herald:msg:bob-1 event '{"event_id":"bob-1","service":"dvla","citizen_id":"c-bob","template":"mot-reminder","transaction_id":"tx-77"}' \
	status delivered channel sms to '+44*******456' attempt 1 plan sms plan_idx 0 ref gw-900 \
	reason 'DLR delivered' accepted_ms "$(ms 0)" updated_ms "$(ms 500)" fulfilled_ms 500 tx tx-77 \
	citizen c-bob service dvla stream herald:q:normal >/dev/null
rcli SET herald:ref:sms:gw-900 bob-1 >/dev/null
rcli XADD herald:q:normal '*' id bob-1 c c-bob >/dev/null
push bob-2 "$(rec 0 bob-2 bob-2 c-bob - - 0 accepted 'template mot-reminder, priority urgent')"
push bob-2 "$(rec 70 bob-2 bob-2 c-bob sms '+44*******456' 1 exhausted 'every channel failed (plan sms); last: invalid number')"
rcli HSET herald:msg:bob-2 event '{"event_id":"bob-2","service":"dvla","citizen_id":"c-bob","template":"mot-reminder","priority":"urgent"}' \
	status exhausted channel sms to '+44*******456' attempt 1 plan sms plan_idx 0 sent_ms "$(ms 60)" \
	reason 'every channel failed (plan sms); last: invalid number' accepted_ms "$(ms 0)" \
	updated_ms "$(ms 70)" tx bob-2 citizen c-bob service dvla stream herald:q:urgent >/dev/null
rcli LPUSH herald:dead bob-2 >/dev/null

# A journey shared by both (a service reused a transaction id).
push tx-shared "$(rec 0 bob-5 tx-shared c-bob - - 0 accepted 'template mot-reminder, priority normal')"
push tx-shared "$(rec 10 dvla-5 tx-shared c-ada - - 0 accepted 'template mot-reminder, priority normal')"
push tx-shared "$(rec 20 bob-5 tx-shared c-bob sms '+44*******456' 1 sent 'ok')"
rcli HSET herald:msg:dvla-5 status accepted tx tx-shared citizen c-ada service dvla \
	accepted_ms "$(ms 10)" stream herald:q:normal >/dev/null

# ---- trace ------------------------------------------------------------------
ctl "$T/trace" trace tx-55
expect_eq "trace tx-55 exits 0" 0 "$RC"
expect_grep "trace header names the transaction" '^transaction +tx-55$' "$T/trace"
expect_grep "trace header names the citizen" '^citizen +c-ada$' "$T/trace"
expect_grep "trace header has a reference" '^reference +HX-[A-Z0-9]{4}-[A-Z0-9]{4}$' "$T/trace"
expect_grep "trace header lists both messages" '^messages +2: dvla-1, dvla-2$' "$T/trace"
expect_eq "trace prints one line per journey record" 9 \
	"$(grep -c '^2026-1[12]-[0-9]*T' "$T/trace")"
line_of() { grep -n -- "$1" "$T/trace" | head -1 | cut -d: -f1; }
l1=$(line_of '550 5.1.1 user unknown$')
l2=$(line_of 'no delivery receipt within')
l3=$(line_of 'CUPS job 7 completed')
if [ -n "$l1" ] && [ -n "$l2" ] && [ -n "$l3" ] && [ "$l1" -lt "$l2" ] && [ "$l2" -lt "$l3" ]; then
	ok "trace shows the three attempts in order (email 550, sms no receipt, print delivered)"
else
	not_ok "trace order: email=$l1 sms=$l2 print=$l3"
	sed 's/^/#   /' "$T/trace"
fi
expect_grep "trace line: time, event, channel, masked address, attempt, status, reason" \
	'^2026-11-22T09:00:00\.040Z +dvla-1 +email +a\*\*\*@example\.org +1 +permanent-failure +550 5\.1\.1 user unknown$' \
	"$T/trace"
expect_grep "trace shows the masked postal address" \
	'dvla-1 +print +1\*\*\* \.\.\. SA1 +1 +delivered +CUPS job 7 completed' "$T/trace"
expect_grep "trace: fulfilment of dvla-1 from its delivered record" \
	'^  dvla-1 +fulfilled in 172805\.000 s, 2d 00h 00m \(delivered by print\)$' "$T/trace"
expect_grep "trace: fulfilment of dvla-2" '^  dvla-2 +fulfilled in 0\.810 s' "$T/trace"
expect_no_grep "trace prints no unmasked contact detail" \
	'ada@example|7700900123|High Street|SA1 1AA' "$T/trace"

ctl "$T/trace_ev" trace dvla-2
expect_eq "trace by event id exits 0" 0 "$RC"
expect_grep "trace by event id shows its transaction" '^transaction +tx-55$' "$T/trace_ev"
expect_eq "trace by event id prints the same journey" \
	"$(grep '^2026' "$T/trace" | md5sum)" "$(grep '^2026' "$T/trace_ev" | md5sum)"

ctl "$T/trace_dead" trace dvla-9
expect_grep "trace of an exhausted message: not fulfilled, current status" \
	'^  dvla-9 +not fulfilled \(status exhausted\)$' "$T/trace_dead"

ctl "$T/trace_json" trace --json tx-55
expect_eq "trace --json exits 0" 0 "$RC"
if python3 -m json.tool "$T/trace_json" >/dev/null 2>&1; then
	ok "trace --json is valid JSON"
else
	not_ok "trace --json is valid JSON"
	head -20 "$T/trace_json" | sed 's/^/#   /'
fi
expect_eq "trace --json: every record, in order" \
	"9 accepted,sending,permanent-failure,hopped,accepted,sent,delivered,hopped,delivered" \
	"$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r), ",".join(x["status"] for x in r))' "$T/trace_json")"

ctl "$T/trace_none" trace no-such-thing
expect_eq "trace of an unknown id exits 1" 1 "$RC"
expect_grep "trace of an unknown id says so" "no transaction or message 'no-such-thing'" \
	"$T/trace_none.err"
ctl "$T/trace_usage" trace
expect_eq "trace without an id is a usage error (2)" 2 "$RC"

# ---- status -------------------------------------------------------------------
ctl "$T/status" status dvla-1
expect_eq "status dvla-1 exits 0" 0 "$RC"
expect_grep "status shows the status" '^status +delivered$' "$T/status"
expect_grep "status shows the plan position" '^plan +email,sms,\[print\]$' "$T/status"
expect_grep "status shows the masked address" '^to +1\*\*\* \.\.\. SA1$' "$T/status"
expect_grep "status shows times" '^accepted +2026-11-22T09:00:00\.000Z$' "$T/status"
expect_grep "status shows the event" '"template": "mot-reminder"' "$T/status"
expect_no_grep "status prints no unmasked contact detail" 'ada@example|7700900123' "$T/status"
ctl "$T/status3" status dvla-3
expect_grep "status shows a scheduled retry" '^scheduled +due 2026-11-22T09:00:30\.020Z' \
	"$T/status3"
ctl "$T/status_json" status --json dvla-9
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="exhausted"' \
	"$T/status_json" 2>/dev/null; then
	ok "status --json is the hash as JSON"
else
	not_ok "status --json is the hash as JSON"
fi
expect_eq "status --json spreads meta and at into the single fields" \
	"c-ada|dvla|sms|5|0|sms|$PHONE_MASK|$(ms 0)|no meta|no at" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("|".join([d.get(k, "") for k in ("citizen", "service", "channel", "attempt", "plan_idx", "plan", "to", "accepted_ms")] + ["meta" in d and "meta" or "no meta", "at" in d and "at" or "no at"]))' "$T/status_json")"
ctl "$T/status_none" status no-such-event
expect_eq "status of an unknown id exits 1" 1 "$RC"
expect_grep "status of an unknown id says so" "no message 'no-such-event'" "$T/status_none.err"

# ---- dead list / replay -------------------------------------------------------
ctl "$T/dead" dead list
expect_eq "dead list exits 0" 0 "$RC"
expect_grep "dead list: dvla-9 with citizen, last channel, when, reason" \
	'^dvla-9 +c-ada +sms +2026-11-22T09:00:00\.060Z +every channel failed \(plan sms\); last: retries exhausted$' \
	"$T/dead"
expect_grep "dead list: bob-2" '^bob-2 +c-bob +sms ' "$T/dead"
expect_grep "dead list counts" '^2 dead letters$' "$T/dead"

xlen0=$(rcli XLEN herald:q:urgent)
llen0=$(rcli LLEN herald:tx:bob-2)
ctl "$T/replay" dead replay bob-2
expect_eq "dead replay bob-2 exits 0" 0 "$RC"
expect_grep "dead replay says where it went" '^replayed bob-2: re-queued on herald:q:urgent' \
	"$T/replay"
expect_eq "replay adds an entry to the message's stream" $((xlen0 + 1)) \
	"$(rcli XLEN herald:q:urgent)"
expect_eq "the new stream entry names the message, citizen and transaction" \
	"id bob-2 c c-bob t bob-2" \
	"$(rcli XREVRANGE herald:q:urgent + - COUNT 1 | tail -n 6 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "replayed message is accepted again with a fresh plan (at: no plan, attempt 0)" \
	"accepted|sms 0 0 - +44*******456|replayed by operator||" \
	"$(rcli HMGET herald:msg:bob-2 status at reason sent_ms | tr '\n' '|')"
expect_eq "... and the single fields of the older hash, which at stands for, are gone" \
	"|||||" "$(rcli HMGET herald:msg:bob-2 plan plan_idx attempt channel to | tr '\n' '|')"
expect_eq "replayed message is off the dead-letter list" "" "$(rcli LPOS herald:dead bob-2)"
expect_eq "replay appends one journey record" $((llen0 + 1)) "$(rcli LLEN herald:tx:bob-2)"
expect_eq "the journey record says it was replayed" \
	"accepted|replayed from the dead-letter list|bob-2|c-bob" \
	"$(rcli LINDEX herald:tx:bob-2 -1 | python3 -c 'import json,sys; r=json.load(sys.stdin); print("|".join([r["status"], r["reason"], r["tx"], r["citizen"]]))')"
ttl=$(rcli TTL herald:msg:bob-2)
if [ "$ttl" -gt 86400 ]; then ok "replay gives the message a fresh retention"; else not_ok "TTL $ttl"; fi

ctl "$T/replay_again" dead replay bob-2
expect_eq "a second replay of the same id is refused (1)" 1 "$RC"
expect_grep "refusal says why" "'bob-2' is not in the dead-letter list \(status accepted\)" \
	"$T/replay_again.err"
ctl "$T/replay_live" dead replay dvla-1
expect_eq "replay of a delivered (non-dead) message is refused (1)" 1 "$RC"
expect_eq "refused replay changes nothing" "delivered" "$(rcli HGET herald:msg:dvla-1 status)"
ctl "$T/replay_none" dead replay nope
expect_eq "replay of an unknown id is refused (1)" 1 "$RC"
ctl "$T/dead_usage" dead bury x
expect_eq "dead with an unknown action is a usage error (2)" 2 "$RC"

ctl "$T/dead2" dead list
expect_no_grep "dead list no longer shows the replayed message" '^bob-2 ' "$T/dead2"
expect_grep "dead list still shows dvla-9" '^dvla-9 ' "$T/dead2"

# ---- purge ----------------------------------------------------------------------
snapshot() {
	for k in $(rcli --scan | sort); do
		printf '%s %s ' "$k" "$(rcli TYPE "$k")"
		case $(rcli TYPE "$k") in
		hash) rcli HGETALL "$k" | md5sum ;;
		list) rcli LRANGE "$k" 0 -1 | md5sum ;;
		zset) rcli ZRANGE "$k" 0 -1 WITHSCORES | md5sum ;;
		stream) rcli XRANGE "$k" - + | md5sum ;;
		string) rcli GET "$k" | md5sum ;;
		esac
	done
}
# outside Redis: the file channel's output and a print spool, each with
# letters of both citizens; the install's secret for the deletion record
mkdir -p "$T/spool" "$T/print"
printf '%s\n' '{"event_id":"dvla-1","citizen_id":"c-ada","body":"Dear Ada"}' \
	'{"event_id":"bob-1","citizen_id":"c-bob","body":"Dear Bob"}' \
	'{"event_id":"dvla-2","citizen_id":"c-ada","body":"Ada again"}' >"$T/spool/file.jsonl"
printf '\n[channel.print]\nmode = spool\ndir = %s\n' "$T/print" >>"$CONF"
printf '{"event_id":"dvla-5","citizen_id":"c-ada","file":"dvla-5.pdf"}\n' >"$T/print/dvla-5.json"
printf '{"event_id":"bob-1","citizen_id":"c-bob","file":"bob-1.pdf"}\n' >"$T/print/bob-1.json"
echo '%PDF ada' >"$T/print/dvla-5.pdf"
echo '%PDF bob' >"$T/print/bob-1.pdf"
rcli SET herald:secret 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff >/dev/null
cp "$T/spool/file.jsonl" "$T/file.before"
snapshot >"$T/snap0"
ctl "$T/purge_dry" purge --citizen c-ada
expect_eq "purge without --yes exits 0" 0 "$RC"
snapshot >"$T/snap1"
if cmp -s "$T/snap0" "$T/snap1"; then
	cmp -s "$T/spool/file.jsonl" "$T/file.before" && [ -f "$T/print/dvla-5.pdf" ] &&
		ok "purge without --yes deletes nothing" || not_ok "purge without --yes deletes nothing"
else
	not_ok "purge without --yes deletes nothing"
	diff "$T/snap0" "$T/snap1" | head | sed 's/^/#   /'
fi
expect_grep "dry run says so" 'dry run, nothing deleted' "$T/purge_dry"
for k in herald:citizen:c-ada herald:msg:dvla-1 herald:msg:dvla-2 herald:msg:dvla-3 \
	herald:msg:dvla-5 herald:msg:dvla-9 herald:tx:tx-55 herald:tx:tx-56 herald:tx:dvla-9 herald:tx:tx-old \
	herald:ref:sms:gw-123 herald:ref:print:job-7 herald:ref:sms:gw-124 herald:engaged:tx-55; do
	expect_grep "dry run lists $k" " $k( |\$)" "$T/purge_dry"
done
expect_grep "dry run counts" \
	'^would delete: 1 citizen record, 5 messages, 4 journeys, 1 records from shared journeys, 3 provider references, 1 schedule entries, 1 dead letters, 1 engagements, 1 queue entries, 2 file channel lines, 1 spooled letters, 0 SMS reply index entries$' \
	"$T/purge_dry"
expect_no_grep "purge prints no contact detail" \
	'ada@example|7700900123|High Street|Lovelace|\*\*\*' "$T/purge_dry"

bob_before=$(rcli HGETALL herald:msg:bob-1 | md5sum)
ctl "$T/purge" purge --citizen c-ada --yes
expect_eq "purge --yes exits 0" 0 "$RC"
expect_grep "purge --yes prints counts" \
	'^deleted: 1 citizen record, 5 messages, 4 journeys, 1 records from shared journeys, 3 provider references, 1 schedule entries, 1 dead letters, 1 engagements, 1 queue entries, 2 file channel lines, 1 spooled letters, 0 SMS reply index entries$' \
	"$T/purge"
expect_eq "the file channel's output keeps only the other citizen's line" "bob-1" \
	"$(python3 -c 'import json,sys; print(",".join(json.loads(l)["event_id"] for l in open(sys.argv[1])))' "$T/spool/file.jsonl")"
expect_eq "the citizen's letter left the print spool, the other's stayed" "bob-1.json bob-1.pdf" \
	"$(cd "$T/print" && echo *)"
expect_eq "one deletion record" 1 "$(rcli LLEN herald:purges)"
expect_no_grep "the deletion record names no one" 'c-ada|dvla-|Ada' "$(rcli LINDEX herald:purges 0 >"$T/rec"; echo "$T/rec")"
ctl "$T/record" purge --record
expect_eq "purge --record exits 0" 0 "$RC"
expect_grep "purge --record shows when, who, the keyed hash and the counts" \
	'^[0-9-]+T[0-9:.]+Z by [^ ]+: citizen [0-9a-f]{64}: deleted .*file_lines=2.*messages=5.*print_letters=1' "$T/record"
ctl "$T/record_ada" purge --record --citizen c-ada
expect_grep "purge --record --citizen finds the citizen's record by its hash" 'file_lines=2' "$T/record_ada"
ctl "$T/record_bob" purge --record --citizen c-bob
expect_grep "and none for a citizen never purged" '^no deletion records for this citizen$' "$T/record_bob"
left=""
for k in herald:citizen:c-ada herald:msg:dvla-1 herald:msg:dvla-2 herald:msg:dvla-3 \
	herald:msg:dvla-5 herald:msg:dvla-9 herald:tx:tx-55 herald:tx:tx-56 herald:tx:dvla-9 herald:tx:tx-old \
	herald:ref:sms:gw-123 herald:ref:print:job-7 herald:ref:sms:gw-124 herald:engaged:tx-55; do
	[ "$(rcli EXISTS "$k")" = 0 ] || left="$left $k"
done
expect_eq "purge deleted every key of the citizen" "" "$left"
expect_eq "purge removed the schedule entry" "" "$(rcli ZSCORE herald:sched dvla-3)"
expect_eq "purge removed the dead letter" "" "$(rcli LPOS herald:dead dvla-9)"
expect_eq "purge removed the queue entry" 0 "$(rcli XLEN herald:q:bulk)"
expect_eq "no key anywhere mentions the citizen" "" \
	"$(for k in $(rcli --scan); do case $(rcli TYPE "$k") in
		list) rcli LRANGE "$k" 0 -1 ;; hash) rcli HGETALL "$k" ;;
		stream) rcli XRANGE "$k" - + ;; zset) rcli ZRANGE "$k" 0 -1 ;;
		string) rcli GET "$k" ;; esac; done | grep -E 'c-ada|dvla-' | head -3)"
expect_eq "the other citizen's record is intact" "Bob Jones" "$(rcli HGET herald:citizen:c-bob name)"
expect_eq "the other citizen's message is intact" "$bob_before" \
	"$(rcli HGETALL herald:msg:bob-1 | md5sum)"
expect_eq "the other citizen's journeys are intact" "2 3" \
	"$(rcli LLEN herald:tx:tx-77) $(rcli LLEN herald:tx:bob-2)"
expect_eq "the other citizen's reference is intact" bob-1 "$(rcli GET herald:ref:sms:gw-900)"
expect_eq "the other citizen's queue entries are intact" "1 1" \
	"$(rcli XLEN herald:q:normal) $(rcli XLEN herald:q:urgent)"
expect_eq "a shared journey keeps the other citizen's records only" "bob-5,bob-5" \
	"$(rcli LRANGE herald:tx:tx-shared 0 -1 | python3 -c 'import json,sys; print(",".join(json.loads(l)["event_id"] for l in sys.stdin))')"

ctl "$T/purge_again" purge --citizen c-ada --yes
expect_eq "purging again exits 0" 0 "$RC"
expect_grep "purging again finds nothing" 'holds nothing for this citizen' "$T/purge_again"
ctl "$T/purge_usage" purge --yes
expect_eq "purge without --citizen is a usage error (2)" 2 "$RC"

# ---- unknown ids, Redis down -----------------------------------------------------
ctl "$T/trace_gone" trace tx-55
expect_eq "trace of a purged transaction exits 1" 1 "$RC"

DOWN=$(free_port)
sed "s/^port = $REDIS_PORT\$/port = $DOWN/" "$CONF" >"$T/down.conf"
for cmd in "trace tx-77" "status bob-1" "dead list" "dead replay bob-2" "purge --citizen c-bob"; do
	# shellcheck disable=SC2086
	"$BIN/heraldctl" -c "$T/down.conf" $cmd >"$T/down.out" 2>"$T/down.err"
	rc=$?
	cat "$T/down.err" >>"$ERRS"
	if [ $rc -eq 2 ] && grep -q "cannot reach redis at 127.0.0.1:$DOWN" "$T/down.err"; then
		ok "Redis down: $cmd exits 2 with a clear message"
	else
		not_ok "Redis down: $cmd (rc=$rc)"
		sed 's/^/#   /' "$T/down.err"
	fi
done

assert_clean_log "$ERRS"
finish
