#!/bin/sh
# demo.sh BUILD - Herald end to end on private servers, no terminal needed:
# a redis-server on a free loopback port, an SMTP relay (Postfix's
# smtp-sink) that refuses every recipient with 550, heraldd with the email
# and file channels, three citizens, a handful of events. One transaction
# hops from email to the file channel. Everything started is stopped by PID.
set -u
BUILD=${1:-build}
HERALD_BUILD=$(cd "$BUILD" && pwd)
HERALD_SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_BUILD HERALD_SRC
. "$HERALD_SRC/tests/integration/lib.sh"
KEEP=${KEEP:-0}

say() { printf '\n== %s\n' "$*"; }

say "private redis-server"
start_redis
echo "redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT (appendonly yes, data in $T/redis)"

EMAIL_CONF=""
if [ -f "$BIN/channels/email.so" ]; then
	SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
	SMTP_PORT=$(free_port)
	say "SMTP relay that refuses every recipient (smtp-sink -f RCPT: 550 5.1.1)"
	"$SINK" -f RCPT -B "550 5.1.1 Recipient address rejected: User unknown" -u root 127.0.0.1:$SMTP_PORT 16 >"$T/smtp-sink.log" 2>&1 &
	SINK_PID=$!
	track_pid $SINK_PID
	echo "smtp-sink pid $SINK_PID on 127.0.0.1:$SMTP_PORT"
	EMAIL_CONF="
[channel.email]
relay = 127.0.0.1:$SMTP_PORT
from = Herald Demo <noreply@herald.example>
domain = herald.example
sessions = 1
timeout = 10
"
fi

say "keys (heraldctl keygen): heraldd's, and one per service with its services.d policy"
server_key
for s in nhs dvla council hmrc; do add_service "$s"; done
sed -i 's/^templates = \*$/templates = appointment-reminder/' "$T/services.d/nhs.conf"
echo "  heraldd: $T/keys/heraldd.key (secret, [ingest] curve_secret_key_file), heraldd.pub"
for f in "$T"/services.d/*.conf; do
	echo "  $f: $(grep -E '^(templates|channels|urgent) =' "$f" | paste -sd' ' -)"
done

INGEST_AUTH=curve write_conf "$EMAIL_CONF"
say "heraldd"
start_heraldd
grep -E 'channel .*: loaded|services: |heraldd: ready' "$T/heraldd.out" | sed 's/^/  /'

say "three citizens"
seed_citizen c-ada name "Ada Lovelace" channels "file" locale en
seed_citizen c-bryn name "Bryn Jones" channels "email,file" email "bryn@example.org" locale cy-GB
seed_citizen c-carys name "Carys Evans" channels "sms" locale cy
for c in c-ada c-bryn c-carys; do
	printf '  herald:citizen:%s  ' "$c"
	rcli HGETALL "herald:citizen:$c" | paste -sd' ' -
done

say "heraldctl publish -k SERVICE.key --server-key heraldd.pub (one ack per event)"
cat >"$T/events.jsonl" <<JSON
{"event_id":"demo-1","service":"nhs","citizen_id":"c-ada","template":"appointment-reminder","transaction_id":"tx-ada-1","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:30","location":"Singleton Hospital, Swansea"}}
{"event_id":"demo-2","service":"dvla","citizen_id":"c-bryn","template":"licence-renewal","transaction_id":"tx-bryn-1","personalisation":{"name":"Bryn","licence_type":"trwydded yrru","expiry_date":"31 Rhagfyr 2026"}}
{"event_id":"demo-3","service":"council","citizen_id":"c-carys","template":"payment-due","personalisation":{"name":"Carys","amount":"£120.00","due_date":"15 December 2026"}}
{"event_id":"demo-4","service":"hmrc","citizen_id":"c-nobody","template":"payment-due","personalisation":{"name":"?","amount":"£1","due_date":"today"}}
{"event_id":"demo-1","service":"nhs","citizen_id":"c-ada","template":"appointment-reminder"}
{"event_id":"demo-5","service":"nhs","citizen_id":"c-ada","template":"no-such-template"}
JSON
# each event with the key of the service it names
while IFS= read -r line; do
	svc=$(printf '%s' "$line" | sed 's/.*"service":"\([a-z]*\)".*/\1/')
	publish_as "$svc" "$line"
done <"$T/events.jsonl" | sed 's/^/  /'

say "nhs's key claiming to be dvla, nhs using a template outside its policy, a key heraldd does not know"
publish_as nhs '{"event_id":"demo-6","service":"dvla","citizen_id":"c-ada","template":"appointment-reminder"}' | sed 's/^/  /'
publish_as nhs '{"event_id":"demo-7","citizen_id":"c-ada","template":"payment-due"}' | sed 's/^/  /'
"$BIN/heraldctl" keygen -d "$T/keys" stranger >/dev/null
PUBLISH_ARGS="-t 500 -r 0" publish_as stranger '{"event_id":"demo-8","citizen_id":"c-ada","template":"payment-due"}' 2>&1 | sed 's/^/  /'
grep 'connection refused' "$T/heraldd.out" | sed 's/^/  /'

settled() { # every accepted event has reached a final status
	[ "$(grep -cE 'status=(delivered|sent|exhausted|permanent-failure)' "$T/log/delivery.log")" -ge 4 ]
}
wait_for 15 settled || echo "(some messages are still on their way)"
sleep 0.3

say "delivery log ($T/log/delivery.log)"
cat "$T/log/delivery.log"

say "transaction tx-bryn-1 hopping channels (journey in Redis: herald:tx:tx-bryn-1)"
rcli LRANGE herald:tx:tx-bryn-1 0 -1 | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("  %-24s %-8s %-18s %s" % (r["ts"], r.get("channel") or "-", r["status"], r.get("reason", "")))
'
if [ -x "$BIN/heraldctl" ] && "$BIN/heraldctl" -c "$T/herald.conf" trace tx-bryn-1 >"$T/trace" 2>/dev/null; then
	say "heraldctl trace tx-bryn-1"
	cat "$T/trace"
fi

say "file channel output ($T/spool/file.jsonl), first message"
head -n 1 "$T/spool/file.jsonl" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("  subject:", r["subject"]); print("  " + r["body"].replace("\n", "\n  "))'

say "stopping everything this demo started"
stop_heraldd
grep -E 'stopped' "$T/heraldd.out" | sed 's/^/  /'
ok "demo finished"
