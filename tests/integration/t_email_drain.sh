#!/bin/sh
# t_email_drain.sh - SIGTERM while an SMTP session is in the middle of its
# batch: the email plugin stops before the next message's text (libesmtp's
# message callback fails, the connection is dropped before the final "."),
# so heraldd exits within drain_timeout and a little, not when the whole
# batch has gone; what the relay did not take is abandoned (not started),
# sent after the restart once and unmarked, and nothing is sent twice.
# The relay (tests/chaos/smtprelay.py) answers each message after 0.5 s;
# one session of up to 100 messages. Fails without the fix: the session
# sent all 20 (about 10 s) before heraldd could exit.
. "$HERALD_SRC/tests/integration/lib.sh"

SMTP_PORT=$(free_port)
python3 "$HERALD_SRC/tests/chaos/smtprelay.py" "$SMTP_PORT" "$T/relay.jsonl" --delay 0.5 \
	>"$T/relay.out" 2>&1 &
track_pid $!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT), 1).close()" ||
	{ not_ok "smtprelay.py started"; finish; exit 1; }
start_redis
write_conf "
[queue]
consumer = t-edrain
drain_timeout = 2

[channel.email]
relay = 127.0.0.1:$SMTP_PORT
from = Herald <noreply@herald.test>
starttls = no
domain = herald.test
sessions = 1
timeout = 10
"
start_heraldd
seed_citizen c-e name Em channels email email em@example.org locale en
LOG=$T/log/delivery.log
taken() { grep -c '"code": 250' "$T/relay.jsonl" 2>/dev/null || echo 0; }
i=1
while [ $i -le 20 ]; do
	printf '{"event_id":"ed-%d","service":"dvla","citizen_id":"c-e","template":"payment-due","personalisation":{"name":"Em","amount":"1","due_date":"1 January 2027"}}\n' $i
	i=$((i + 1))
done >"$T/events"
"$BIN/heraldctl" -c "$T/herald.conf" publish - <"$T/events" >"$T/acks"
expect_eq "20 events accepted" 20 "$(grep -c accepted "$T/acks")"
check "the relay took the first messages of the session" wait_for 20 sh -c "[ \$(grep -c '\"code\": 250' '$T/relay.jsonl' 2>/dev/null) -ge 2 ]"
t0=$(date +%s%N)
kill -TERM "$HERALDD_PID"
n=0
while alive "$HERALDD_PID" && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$HERALDD_PID" 2>/dev/null
before=$(taken)
diag "heraldd exited ${ms} ms after SIGTERM; the relay had taken $before of 20"
check "exited within drain_timeout + 2 s" [ "$ms" -lt 4000 ]
check "the session stopped mid-batch (relay took fewer than 20)" [ "$before" -lt 20 ]
expect_no_grep "the rest is abandoned, not a temporary failure" ' ed-[0-9]*: .*temporary-failure' "$LOG"
start_heraldd
check "after the restart all 20 are taken" wait_for 40 sh -c "[ \$(grep -c '\"code\": 250' '$T/relay.jsonl') -ge 20 ]"
sleep 1.5
expect_eq "each message taken exactly once (by Message-ID)" 20 \
	"$(grep '"code": 250' "$T/relay.jsonl" | sed 's/.*"mid": "\([^"]*\)".*/\1/' | sort -u | wc -l | tr -d ' ')"
expect_eq "and no more than once" 20 "$(taken)"
expect_no_grep "nothing marked as a possible duplicate" ' ed-[0-9]*: .*dup=possible' "$LOG"
expect_no_grep "resumed as the same attempt" ' ed-[0-9]*: .*attempt=2' "$LOG"
stop_heraldd
finish
