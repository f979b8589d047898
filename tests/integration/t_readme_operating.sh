#!/bin/sh
# t_readme_operating.sh - the README's "Operating: an SMS gateway outage"
# runs as written: its two command blocks are read from README.md and run
# (heraldctl with this test's config) against a heraldd whose SMS gateway
# is down (nothing listens on its port) for the first block, and back for
# the second; every command must succeed, and every message must go out.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
GWP=$(free_port)
write_conf "
[channel.sms]
profile = json
url = http://127.0.0.1:$GWP/json
from = +447700900001
timeout = 5
retry_min = 60
retry_max = 120
max_attempts = 5
"
start_heraldd
LOG=$T/log/delivery.log
# block NAME: the commands of the README block after its marker
block() {
	awk -v m="<!-- operating-walkthrough: $1 -->" '
		$0 == m { on = 1; next }
		on && /^```sh/ { inb = 1; next }
		inb && /^```/ { exit }
		inb && /^\$ / { sub(/^\$ /, ""); print }' "$HERALD_SRC/README.md"
}
heraldctl() { "$BIN/heraldctl" -c "$T/herald.conf" "$@"; }
run_block() { # run_block NAME
	block "$1" >"$T/$1.cmds"
	check "README block '$1' has commands" [ -s "$T/$1.cmds" ]
	while IFS= read -r cmd; do
		case "$cmd" in heraldctl\ *) ;; *) not_ok "only heraldctl commands: $cmd"; continue ;; esac
		eval "$cmd" >"$T/out.txt" 2>&1
		rc=$?
		expect_eq "README: '$cmd' succeeds" 0 "$rc"
		[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out.txt"
		{ echo "\$ $cmd"; cat "$T/out.txt"; } >>"$T/$1.transcript"
	done <"$T/$1.cmds"
}
ev() { printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}}' "$1" "$2"; }
for i in 1 2 3; do seed_citizen c-$i name "P$i" channels sms phone "+44770090040$i"; done
publish "$(ev o-1 c-1)" "$(ev o-2 c-2)" >"$T/acks"
check "the gateway is down: both retrying" wait_for 20 sh -c "[ \$(grep -c 'status=temporary-failure' '$LOG') -ge 2 ]"
sleep 1.2 # the status page is at most a second old
run_block outage
expect_grep "status shows sms failing" '^  sms +failing since' "$T/outage.transcript"
expect_grep "queue lists the retrying messages" '^o-1 +dvla +sms +retrying' "$T/outage.transcript"
expect_grep "queue shape counts them" '^sms +2 +2 ' "$T/outage.transcript"
# a message published while sms is suspended (every instance obeys within
# a second) waits
sleep 1
publish "$(ev o-3 c-3)" >>"$T/acks"
check "o-3 waits for the suspended channel" wait_for 10 grep -q 'o-3: .*status=scheduled (channel suspended' "$LOG"

# the gateway comes back
python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GWP" "$T/gateway.jsonl" >"$T/gateway.log" 2>&1 &
track_pid $!
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$GWP/json"
run_block recovery
check "every message is sent after the recovery" wait_for 10 sh -c \
	"for i in 1 2 3; do grep -q \"o-\$i: .*status=sent\" '$LOG' || exit 1; done"
expect_eq "the queue is empty" 0 "$(heraldctl queue --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
sed 's/^/# /' "$T/outage.transcript" "$T/recovery.transcript" | head -60
finish
