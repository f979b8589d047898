#!/bin/sh
# t_email.sh - the email channel (build/channels/email.so) against a REAL
# SMTP server: Postfix's smtp-sink on free loopback ports, one per case,
# started in the background and stopped by PID (lib.sh). The plugin is
# driven by build/tests/bench/chanrun with a [channel.email] section.
#
#  (a) a multipart message with a Welsh subject arrives; Python's email
#      parser checks the decoded subject, both parts, Message-ID and that
#      CR/LF in the subject, name and reference injected no header; an
#      invalid address is refused without an SMTP transaction
#  (b) smtp-sink rejects RCPT with 550 5.1.1 -> permanent-failure, reason
#      is the reply text, dsn 5.1.1, bad address
#  (c) RCPT rejected with 450 -> temporary-failure
#  (d) nothing listening -> temporary-failure
#  (e) 50 messages through 2 sessions (10 per session) all arrive
#  (f) the relay drops the connection (421) -> temporary-failure
#  (g) AUTH: credentials sent (smtp-sink -v shows AUTH), password never logged
#  (h) starttls = required and the relay offers no STARTTLS -> nothing is
#      sent in clear, temporary-failure naming the reason
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
if [ -z "$SINK" ] || [ ! -x "$SINK" ]; then
	not_ok "Postfix smtp-sink installed (apt-get install postfix)"
	finish
	exit 1
fi
for f in "$BIN/channels/email.so" "$BIN/tests/bench/chanrun"; do
	if [ ! -e "$f" ]; then
		not_ok "$f built"
		finish
		exit 1
	fi
done
CHECK="python3 $HERALD_SRC/tests/integration/email_check.py"

# conf NAME PORT [extra lines]: $T/NAME.ini
conf() {
	cat >"$T/$1.ini" <<EOF
[channel.email]
relay = 127.0.0.1:$2
from = Gwasanaeth Cymru <noreply@gov.example>
reply_to = help@gov.example
starttls = no
sessions = 2
timeout = 10
domain = gov.example
${3:-}
EOF
}

# run NAME: chanrun over $T/NAME.jsonl -> $T/NAME.out (results), .err (log)
run() {
	"$BIN/tests/bench/chanrun" -t 30 "$BIN/channels/email.so" "$T/$1.ini" "$T/$1.jsonl" \
		>"$T/$1.out" 2>"$T/$1.err"
}

# field FILE EVENT_ID KEY: one field of one result line
field() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["event_id"] == sys.argv[2]:
        v = r[sys.argv[3]]
        print(str(v).lower() if isinstance(v, bool) else v)
        break
' "$1" "$2" "$3"
}

ndumps() { find "$T/$1" -type f | wc -l | tr -d ' '; }

WELSH='Atgoffa: mae eich apwyntiad ddydd Llun – ŵy'

# ---- (a) multipart, Welsh subject, injection attempts, bad address ------
start_smtp_sink a
conf a "$SINK_PORT" "list_unsubscribe = <mailto:unsubscribe@gov.example>"
cat >"$T/a.jsonl" <<'EOF'
{"event_id": "ev-multi", "to": "ada@example.org", "subject": "Atgoffa: mae eich apwyntiad ddydd Llun \u2013 \u0175y", "body": "Annwyl Ada,\nMae eich apwyntiad ddydd Llun am 10:00 \u2013 diolch.\n", "html": "<p>Annwyl <b>Ada</b>, dydd Llun \u2013 \u0175y</p>\n", "reference": "REF-7\r\nX-Evil: yes", "meta": {"citizen.name": "Ada Lovelace\r\nBcc: evil@attacker.example"}}
{"event_id": "ev-inject", "to": "bob@example.org", "subject": "Hello\r\nBcc: victim@attacker.example\r\n\r\nfake body", "body": "b"}
{"event_id": "ev-badaddr", "to": "bob@example.org\r\nRCPT TO:<x@attacker.example>", "subject": "x", "body": "y"}
{"event_id": "ev-noat", "to": "bob.example.org", "subject": "x", "body": "y"}
EOF
run a
check "(a) chanrun got a result for every message" test "$(wc -l <"$T/a.out")" -eq 4
expect_eq "(a) multipart message sent" "sent" "$(field "$T/a.out" ev-multi status)"
expect_eq "(a) sent is final (email has no receipts)" "true" "$(field "$T/a.out" ev-multi final)"
expect_eq "(a) ref is the Message-ID (smtp-sink shows no queue id)" "<ev-multi@gov.example>" \
	"$(field "$T/a.out" ev-multi ref)"
expect_eq "(a) reason is the relay's reply" "250 2.0.0 Ok" "$(field "$T/a.out" ev-multi reason)"
expect_eq "(a) CR/LF address -> permanent-failure" "permanent-failure" "$(field "$T/a.out" ev-badaddr status)"
expect_eq "(a) CR/LF address flagged bad address" "true" "$(field "$T/a.out" ev-badaddr bad_address)"
expect_eq "(a) address without @ -> permanent-failure" "permanent-failure" "$(field "$T/a.out" ev-noat status)"
expect_eq "(a) two messages reached the relay, invalid addresses never did" 2 "$(ndumps a)"
expect_no_grep "(a) the relay never saw the injected RCPT" 'attacker' "$T/a.sink.log"
MULTI=$(grep -l 'ev-multi@' "$T"/a/* | head -n 1)
INJ=$(grep -l 'ev-inject@' "$T"/a/* | head -n 1)
if [ -n "$MULTI" ]; then
	$CHECK multipart "$MULTI" "subject=$WELSH" "to=ada@example.org" \
		"to_name=Ada Lovelace Bcc: evil@attacker.example" "message_id=<ev-multi@gov.example>" \
		"reference=REF-7 X-Evil: yes" "text=Mae eich apwyntiad ddydd Llun am 10:00 – diolch." \
		"html=<p>Annwyl <b>Ada</b>, dydd Llun – ŵy</p>" >"$T/a.check" 2>&1
	tap_merge "$T/a.check" $? "(a) email_check.py"
	expect_grep "(a) List-Unsubscribe header" '^List-Unsubscribe: <mailto:unsubscribe@gov.example>' "$MULTI"
else
	not_ok "(a) the multipart message is in smtp-sink's dump"
fi
if [ -n "$INJ" ]; then
	expect_no_grep "(a) CR/LF in a subject starts no Bcc header" '^Bcc:' "$INJ"
	expect_grep "(a) the subject stayed one header" '^Subject: Hello Bcc: victim@attacker.example fake body$' "$INJ"
else
	not_ok "(a) the injection message is in smtp-sink's dump"
fi

# ---- (b) RCPT rejected with 5xx ------------------------------------------
start_smtp_sink b -f RCPT -B "550 5.1.1 user unknown"
conf b "$SINK_PORT"
echo '{"event_id": "ev-5xx", "to": "nobody@example.org", "subject": "s", "body": "b"}' >"$T/b.jsonl"
run b
expect_eq "(b) 5xx on RCPT -> permanent-failure" "permanent-failure" "$(field "$T/b.out" ev-5xx status)"
expect_eq "(b) reason is the SMTP reply" "550 5.1.1 user unknown" "$(field "$T/b.out" ev-5xx reason)"
expect_eq "(b) dsn from the enhanced status code" "5.1.1" "$(field "$T/b.out" ev-5xx dsn)"
expect_eq "(b) 5.1.1 flags the address bad" "true" "$(field "$T/b.out" ev-5xx bad_address)"
expect_eq "(b) nothing was delivered" 0 "$(ndumps b)"

# ---- (c) RCPT rejected with 4xx ------------------------------------------
start_smtp_sink c -r RCPT -b "450 4.2.0 mailbox busy"
conf c "$SINK_PORT"
echo '{"event_id": "ev-4xx", "to": "busy@example.org", "subject": "s", "body": "b"}' >"$T/c.jsonl"
run c
expect_eq "(c) 4xx on RCPT -> temporary-failure" "temporary-failure" "$(field "$T/c.out" ev-4xx status)"
expect_eq "(c) reason is the SMTP reply" "450 4.2.0 mailbox busy" "$(field "$T/c.out" ev-4xx reason)"
expect_eq "(c) a 4xx is not a bad address" "false" "$(field "$T/c.out" ev-4xx bad_address)"

# ---- (d) nothing listening -------------------------------------------------
DEAD_PORT=$(free_port)
conf d "$DEAD_PORT"
printf '%s\n' '{"event_id": "ev-dead1", "to": "a@example.org", "subject": "s", "body": "b"}' \
	'{"event_id": "ev-dead2", "to": "b@example.org", "subject": "s", "body": "b"}' >"$T/d.jsonl"
run d
check "(d) chanrun finished (every message got a result)" test "$(wc -l <"$T/d.out")" -eq 2
expect_eq "(d) refused connection -> temporary-failure" "temporary-failure" "$(field "$T/d.out" ev-dead1 status)"
expect_eq "(d) second message too" "temporary-failure" "$(field "$T/d.out" ev-dead2 status)"
expect_grep "(d) reason names the relay and the refusal" "relay 127.0.0.1:$DEAD_PORT: .*[Rr]efused" "$T/d.out"
expect_grep "(d) operator log says the session failed" "email: relay 127.0.0.1:$DEAD_PORT" "$T/d.err"

# ---- (e) 50 messages, 2 sessions, many messages per session --------------
start_smtp_sink e
conf e "$SINK_PORT" "messages_per_session = 10
starttls = opportunistic"
i=0
while [ $i -lt 50 ]; do
	printf '{"event_id": "bulk-%02d", "to": "c%02d@example.org", "subject": "Neges %d", "body": "Corff %d"}\n' $i $i $i $i
	i=$((i + 1))
done >"$T/e.jsonl"
run e
expect_eq "(e) 50 results, all sent" 50 "$(grep -c '"status":"sent"' "$T/e.out")"
sleep 0.2 # let smtp-sink close its last dump file
expect_eq "(e) smtp-sink received 50 messages with 50 distinct Message-IDs" "50 50" "$($CHECK count "$T/e")"
expect_grep "(e) TCP_NODELAY was set on libesmtp's socket" 'TCP_NODELAY set' "$T/e.err"
expect_no_grep "(e) no warning about the socket" 'could not find' "$T/e.err"

# ---- (f) the relay hangs up (421 after DATA) ------------------------------
start_smtp_sink f -Q DATA
conf f "$SINK_PORT"
echo '{"event_id": "ev-421", "to": "a@example.org", "subject": "s", "body": "b"}' >"$T/f.jsonl"
run f
expect_eq "(f) 421 and hang-up -> temporary-failure" "temporary-failure" "$(field "$T/f.out" ev-421 status)"
expect_grep "(f) reason carries the 421" '"reason":"421' "$T/f.out"

# ---- (g) AUTH, and the password is never logged ---------------------------
start_smtp_sink g -v
conf g "$SINK_PORT" "username = herald
password = S3cret-pw-$$"
echo '{"event_id": "ev-auth", "to": "a@example.org", "subject": "s", "body": "b"}' >"$T/g.jsonl"
run g
expect_eq "(g) sent with AUTH configured" "sent" "$(field "$T/g.out" ev-auth status)"
expect_grep "(g) the relay saw an AUTH command" 'AUTH (PLAIN|LOGIN|CRAM-MD5)' "$T/g.sink.log"
AUTHED=$(python3 -c '
import base64, re, sys
m = re.search(r"AUTH PLAIN (\S+)", open(sys.argv[1]).read())
print(base64.b64decode(m.group(1)).decode().replace("\0", "|") if m else "")
' "$T/g.sink.log")
expect_eq "(g) AUTH PLAIN carried the configured user and password" "|herald|S3cret-pw-$$" "$AUTHED"
expect_no_grep "(g) the password is not in the operator log" "S3cret-pw" "$T/g.err"
expect_no_grep "(g) the password is not in the results" "S3cret-pw" "$T/g.out"

# ---- (h) STARTTLS required but not offered --------------------------------
start_smtp_sink h
conf h "$SINK_PORT" "starttls = required"
echo '{"event_id": "ev-tls", "to": "a@example.org", "subject": "s", "body": "b"}' >"$T/h.jsonl"
run h
expect_eq "(h) no STARTTLS -> temporary-failure" "temporary-failure" "$(field "$T/h.out" ev-tls status)"
expect_grep "(h) reason says why" 'does not offer STARTTLS \(starttls = required\)' "$T/h.out"
expect_eq "(h) nothing was sent in clear" 0 "$(ndumps h)"

# ---- config validation -----------------------------------------------------
cat >"$T/bad.ini" <<EOF
[channel.email]
relay = 127.0.0.1:99999
from = not an address
EOF
"$BIN/tests/bench/chanrun" -t 5 "$BIN/channels/email.so" "$T/bad.ini" "$T/c.jsonl" >/dev/null 2>"$T/bad.err"
check "(config) a bad relay port refuses to open" test $? -eq 2
expect_grep "(config) with a clear log line" 'email: relay = 127.0.0.1:99999: bad port' "$T/bad.err"
sed -i 's/:99999/:25/' "$T/bad.ini"
"$BIN/tests/bench/chanrun" -t 5 "$BIN/channels/email.so" "$T/bad.ini" "$T/c.jsonl" >/dev/null 2>"$T/bad.err"
expect_grep "(config) a bad from address is named" 'email: from = not an address' "$T/bad.err"

for f in "$T"/*.err; do assert_clean_log "$f"; done
finish
