#!/bin/sh
# t_status_page.sh - the status page (issue 14): GET /status (text and
# ?format=json) and heraldctl status without an id, with two heraldd
# instances sharing one Redis: every instance with its version, uptime and
# heartbeat; per channel up / failing since / suspended, in flight, sent
# and failed in the last minute and hour, the oldest message's age; queue
# depths, scheduled, dead and held counts. A stopped instance leaves the
# page once its heartbeat expires.
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
url = http://127.0.0.1:$GW_PORT/status/503
from = +447700900001
timeout = 5
retry_min = 60
retry_max = 120
max_attempts = 5
"
	sed "s|$T/log/delivery|$T/log/$1|" "$T/herald.conf" >"$T/$1.conf"
	eval "HTTP_$(echo "$1" | tr -d -- -)=$HTTP_PORT"
}
inst_conf inst-a
inst_conf inst-b
start_instance inst-a
A_PID=$INST_PID
start_instance inst-b
B_PID=$INST_PID
pub() { # pub ID CITIZEN
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}}\n' "$1" "$2" |
		"$BIN/heraldctl" -c "$T/inst-a.conf" publish - >>"$T/pub.out" 2>&1
}
js() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
seed_citizen c-s name Sam channels sms phone "+447700900301"
seed_citizen c-f name Fay channels file
pub p-1 c-s
pub p-2 c-s
pub p-3 c-f
check "the sms ones failed, the file one delivered" wait_for 10 sh -c \
	"[ \$(cat '$T/log/inst-a.log' '$T/log/inst-b.log' | grep -c 'status=temporary-failure') -ge 2 ] && cat '$T/log/inst-a.log' '$T/log/inst-b.log' | grep -q 'p-3: .*status=delivered'"
"$BIN/heraldctl" -c "$T/inst-a.conf" hold p-1 >/dev/null 2>&1
"$BIN/heraldctl" -c "$T/inst-a.conf" channel suspend email >/dev/null 2>&1
rcli LPUSH herald:dead old-1 >/dev/null
sleep 2.2 # a heartbeat and a page from both instances

# ---- GET /status?format=json ------------------------------------------------
curl -s "http://127.0.0.1:$HTTP_insta/status?format=json" >"$T/st.json"
expect_eq "/status JSON lists both instances" "inst-a,inst-b" \
	"$(js "$T/st.json" '",".join(sorted(i["name"] for i in d["instances"]))')"
expect_eq "each with its pid" "$A_PID" \
	"$(js "$T/st.json" '[i["pid"] for i in d["instances"] if i["name"]=="inst-a"][0]')"
check "version, uptime and a fresh heartbeat" python3 -c "import json,sys; d=json.load(open('$T/st.json')); sys.exit(0 if all(i['version'] and i['uptime_s']>=1 and 0<=i['heartbeat_age_s']<3 for i in d['instances']) else 1)"
expect_eq "sms is failing, with failures in the last minute and hour" "failing 2 2" \
	"$(js "$T/st.json" 'd["channels"]["sms"]["state"], d["channels"]["sms"]["failed_1m"], d["channels"]["sms"]["failed_1h"]' | tr -d "(),'")"
check "sms has been failing since a time" python3 -c "import json,sys; d=json.load(open('$T/st.json')); sys.exit(0 if d['channels']['sms']['failing_since_ms']>0 else 1)"
expect_eq "file is up, one sent in the last minute" "up 1" \
	"$(js "$T/st.json" 'd["channels"]["file"]["state"], d["channels"]["file"]["sent_1m"]' | tr -d "(),'")"
expect_eq "email shows suspended" "suspended wait" \
	"$(js "$T/st.json" 'd["channels"]["email"]["state"], d["channels"]["email"]["suspended"]' | tr -d "(),'")"
expect_eq "scheduled, dead and held counts" "2 1 1" \
	"$(js "$T/st.json" 'd["scheduled"], d["dead"], d["held"]' | tr -d "(),'")"
expect_eq "queue depths per stream" "herald:q:bulk,herald:q:normal,herald:q:urgent" \
	"$(js "$T/st.json" '",".join(sorted(d["queues"]))')"

# ---- GET /status (text) -------------------------------------------------------
curl -s "http://127.0.0.1:$HTTP_instb/status" >"$T/st.txt"
expect_grep "/status text: instance lines" '^  inst-a +version [0-9.]+, pid [0-9]+, up [0-9]+s, heartbeat' "$T/st.txt"
expect_grep "/status text: sms failing since" '^  sms +failing since [0-9]+s +0 +0 +2 +0 +2 ' "$T/st.txt"
expect_grep "/status text: email suspended" '^  email +suspended \(wait\)' "$T/st.txt"
expect_grep "/status text: scheduled" '^  scheduled +2$' "$T/st.txt"

# ---- heraldctl status (no id) --------------------------------------------------
"$BIN/heraldctl" -c "$T/inst-b.conf" status >"$T/ctl.txt" 2>&1
expect_eq "heraldctl status without an id: exit 0" 0 $?
expect_grep "heraldctl status: the same page" '^  sms +failing since' "$T/ctl.txt"
expect_grep "heraldctl status: the oldest sms message's age" '^  sms +failing .* [0-9]+s$' "$T/ctl.txt"
"$BIN/heraldctl" -c "$T/inst-b.conf" status --json >"$T/ctl.json"
expect_eq "heraldctl status --json: two instances, sms oldest age" "2 True" \
	"$(js "$T/ctl.json" 'len(d["instances"]), "oldest_queued_age_s" in d["channels"]["sms"]' | tr -d "(),'")"

# ---- a stopped instance leaves the page ---------------------------------------
stop_pid "$B_PID"
check "inst-b's heartbeat expires and it leaves the page" wait_for 9 sh -c \
	"curl -s 'http://127.0.0.1:$HTTP_insta/status?format=json' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if [i[\"name\"] for i in d[\"instances\"]]==[\"inst-a\"] else 1)'"
for f in "$T/inst-a.out" "$T/inst-b.out"; do assert_clean_log "$f"; done
finish
