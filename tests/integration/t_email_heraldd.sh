#!/bin/sh
# t_email_heraldd.sh - the email channel end to end: an event published to
# heraldd (private Redis, free loopback ports) is resolved to a citizen's
# email address, rendered from templates/appointment-reminder (Welsh text
# and HTML variants) and sent by build/channels/email.so to Postfix's
# smtp-sink, which dumps what it received. Checks the delivery log lines
# and the message itself (decoded Welsh subject, both parts, Message-ID
# from the event id, no header injected by a personalisation value), and
# that a malformed address in Redis ends as permanent-failure, never sent.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

need_smtp_sink "$BIN/heraldd" "$BIN/heraldctl" "$BIN/channels/email.so"
start_smtp_sink mail

start_redis
write_conf "
[channel.email]
relay = 127.0.0.1:$SINK_PORT
from = Gwasanaeth Apwyntiadau <apwyntiadau@gov.example>
reply_to = help@gov.example
starttls = no
sessions = 2
domain = gov.example
timeout = 10"
start_heraldd

seed_citizen c-mail-1 channels email email ada@example.org locale cy-GB name "Ada Lovelace"
seed_citizen c-mail-2 channels email email "not-an-address" locale en name "Bob"
# A personalisation value with CR/LF: it lands in the subject (front matter).
publish '{"event_id":"e2e-mail-1","service":"test","citizen_id":"c-mail-1","template":"appointment-reminder","transaction_id":"tx-mail-1","personalisation":{"name":"Ada","date":"1 Rhagfyr\r\nBcc: victim@attacker.example","time":"10:00","location":"Caerdydd"},"channels":["email"]}' \
	'{"event_id":"e2e-mail-2","service":"test","citizen_id":"c-mail-2","template":"appointment-reminder","transaction_id":"tx-mail-2","personalisation":{"name":"Bob","date":"2 December","time":"11:00","location":"Cardiff"},"channels":["email"]}' \
	>"$T/publish.out" 2>&1
expect_eq "heraldd accepted both events" 2 "$(grep -c '"status":"accepted"' "$T/publish.out")"

check "delivery log: e2e-mail-1 sent over email" \
	wait_for 20 grep -Eq ' e2e-mail-1: .*channel=email.*status=sent' "$T/log/delivery.log"
check "delivery log: the malformed address is a permanent-failure" \
	wait_for 20 grep -Eq ' e2e-mail-2: .*channel=email.*status=permanent-failure' "$T/log/delivery.log"
expect_grep "delivery log carries the relay's reply" ' e2e-mail-1: .*status=sent \(250 2.0.0 Ok\)' "$T/log/delivery.log"
expect_no_grep "delivery log masks the address" 'ada@example.org' "$T/log/delivery.log"
expect_eq "smtp-sink received exactly one message (never the malformed address)" 1 \
	"$(find "$T/mail" -type f | wc -l | tr -d ' ')"
MAIL=$(find "$T/mail" -type f | head -n 1)
MSGID=$(grep '"event_id":"e2e-mail-1"' "$T/log/delivery.jsonl" | grep '"status":"sent"' |
	sed 's/.*"ref":"\([^"]*\)".*/\1/')
check "the Message-ID is heraldd's keyed provider reference" \
	sh -c "echo '$MSGID' | grep -Eqx '<hr[0-9a-f]{24}@gov.example>'"
if [ -n "$MAIL" ]; then
	mail_check() {
		python3 "$HERALD_SRC/tests/integration/email_check.py" multipart "$MAIL" \
			"subject=Nodyn atgoffa: eich apwyntiad ar 1 Rhagfyr Bcc: victim@attacker.example am 10:00" \
			"to=ada@example.org" "to_name=Ada Lovelace" "message_id=$MSGID" \
			"text=Dyma nodyn i’ch atgoffa am eich apwyntiad." \
			"html=<p>Annwyl Ada,</p>" >"$T/check.out" 2>&1
	}
	# smtp-sink may still be writing its dump: until the check passes, 5 s
	wait_for 5 mail_check
	mail_check
	tap_merge "$T/check.out" $? "email_check.py"
	expect_grep "the message carries the transaction reference" '^X-Herald-Reference: [A-Z0-9-]+' "$MAIL"
	expect_no_grep "without unsubscribe_url (or list_unsubscribe) no List-Unsubscribe header" \
		'^List-Unsubscribe' "$MAIL"
else
	not_ok "the rendered message is in smtp-sink's dump"
fi
diag "delivery log:"
sed 's/^/#   /' "$T/log/delivery.log"
stop_heraldd
finish
