#!/bin/sh
# t_bounce_postfix.sh - bounces the SMTP way (issue #16), with a real private
# Postfix instance as heraldd's relay. heraldd sends with the VERP envelope
# sender bounce+TOKEN@bounces.example; Postfix relays to smtp-sink, which
# refuses the recipient with 550 5.1.1; Postfix's bounce daemon writes a
# real RFC 3464 DSN to the VERP address, which transport_maps sends to a
# pipe(8) transport running `heraldctl bounce`; heraldd re-opens the
# transaction (fulfilled_in withdrawn) and hops it to the file channel,
# with the DSN's status in the reason. Then, with Postfix's DSN as the
# fixture: a 4.x.x delay report changes nothing, a second (late) bounce is
# journaled only, a complaint report (ARF) opts the citizen out of email,
# junk is 65 and Redis down is 75; and with Redis unreachable while Postfix
# delivers a DSN, the pipe's 75 makes Postfix keep it and retry, and the
# retry is applied.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink 2>/dev/null | head -n 1)
PFX=$(command -v postfix || ls /usr/sbin/postfix 2>/dev/null | head -n 1)
for f in "$SINK" "$PFX" "$BIN/heraldd" "$BIN/heraldctl" "$BIN/channels/email.so"; do
	if [ -z "$f" ] || [ ! -e "$f" ]; then
		skip "${f:-smtp-sink/postfix} is installed/built"
		echo "# 0 passed, 0 failed"
		exit 0
	fi
done
if [ "$(id -u)" != 0 ] || ! id postfix >/dev/null 2>&1; then
	skip "a private Postfix needs root and the postfix user"
	echo "# 0 passed, 0 failed"
	exit 0
fi
chmod 711 "$T" # smtp-sink and the pipe transport run as nobody

# ---- the next hop: smtp-sink refusing every recipient with 550 5.1.1 ----
SINK_PORT=$(free_port)
"$SINK" -u nobody -f RCPT -B "550 5.1.1 <ada@example.org>: Recipient address rejected: User unknown" \
	"127.0.0.1:$SINK_PORT" 64 >"$T/sink.log" 2>&1 &
track_pid $!

start_redis
write_conf "
[channel.email]
relay = 127.0.0.1:\${PF_PORT}
from = Herald <noreply@gov.example>
starttls = no
domain = gov.example
bounce_domain = bounces.example
timeout = 10"
PF_PORT=$(free_port)
sed -i "s/\${PF_PORT}/$PF_PORT/" "$T/herald.conf"
chmod 644 "$T/herald.conf"

# ---- a private Postfix: its own config, queue and data directories ----
PF=$T/postfix
mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
chown postfix "$PF/data"
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.herald-test.example
mydomain = herald-test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtp_bind_address = 127.0.0.1
smtp_host_lookup = native
smtputf8_enable = no
transport_maps = inline:{bounces.example=herald-bounce:}
herald-bounce_destination_recipient_limit = 1
maillog_file_prefixes = $PF
maillog_file = $PF/maillog
alias_maps =
alias_database =
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
EOF
cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
# the README's transport, through a wrapper that keeps the DSN as the
# fixture below
herald-bounce unix - n n - - pipe flags=Rq user=nobody
  argv=$T/bounce-pipe.sh \${original_recipient}
EOF
mkdir -p "$T/dsn"
chmod 777 "$T/dsn"
# (with $T/redis-down present it is given a configuration whose Redis does
# not answer: heraldctl exits 75 and Postfix must keep the DSN and retry)
cat >"$T/bounce-pipe.sh" <<EOF
#!/bin/sh
conf="$T/herald.conf"
[ -e "$T/redis-down" ] && conf="$T/down.conf"
tee "$T/dsn/dsn.last" | "$BIN/heraldctl" -c "\$conf" bounce "\$1"
EOF
chmod 755 "$T/bounce-pipe.sh"
pf_stop() {
	"$PFX" -c "$PF/etc" stop >/dev/null 2>&1 || true
	[ -n "${PF_MASTER:-}" ] && stop_pid "$PF_MASTER"
}
if ! "$PFX" -c "$PF/etc" start >"$T/postfix.out" 2>&1 ||
	! wait_for 10 test -s "$PF/spool/pid/master.pid"; then
	not_ok "a private Postfix started"
	sed 's/^/#   /' "$T/postfix.out" "$PF/maillog" 2>/dev/null
	finish
	exit 1
fi
PF_MASTER=$(tr -d ' \n' <"$PF/spool/pid/master.pid")
track_pid "$PF_MASTER"
ok "a private Postfix started (master $PF_MASTER)"
check "Postfix listens" wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PF_PORT), 1).close()"

start_heraldd
LOG=$T/log/delivery.log
seed_citizen c-b channels email,file email ada@example.org name "Ada Lovelace"
publish '{"event_id":"bnc-1","service":"dvla","citizen_id":"c-b","template":"appointment-reminder","transaction_id":"tx-bnc","personalisation":{"name":"Ada","date":"1 December","time":"10:00","location":"Cardiff"}}' >"$T/pub.out" 2>&1
expect_grep "heraldd accepted the event" '"status":"accepted"' "$T/pub.out"

check "email sent: Postfix said 250" wait_for 20 grep -q 'bnc-1: .*channel=email.*status=sent' "$LOG"
TOKEN=$(rcli KEYS 'herald:ref:email:hr*' | head -n 1 | sed 's/.*://')
check "the envelope sender is the VERP address (token $TOKEN)" \
	wait_for 10 grep -q "from=<bounce+$TOKEN@bounces.example>" "$PF/maillog"
check "Postfix generated a DSN and piped it to heraldctl bounce" \
	wait_for 20 grep -q 'relay=herald-bounce.*status=sent (delivered via herald-bounce service' "$PF/maillog"
check "the attempt turned permanent-failure with the DSN's status" \
	wait_for 20 grep -Eq 'bnc-1: .*channel=email.*status=permanent-failure .*bounced: 5\.1\.1' "$LOG"
expect_grep "the fulfilment was withdrawn" 'bnc-1: .*status=reopened \(bounced after the relay accepted it: fulfilled_in withdrawn\)' "$LOG"
check "the transaction hopped to file and was delivered there" \
	wait_for 20 grep -q 'bnc-1: .*channel=file.*status=delivered' "$LOG"
expect_grep "the hop names the bounce" 'bnc-1: .*status=hopped \(bounced: 5\.1\.1.*next channel file\)' "$LOG"
expect_eq "the address is marked invalid" email "$(rcli HGET herald:citizen:c-b invalid)"
expect_no_grep "the delivery log masks the address in the diagnostic" 'ada@example.org' "$LOG"
check "fulfilled_ms set again by the file delivery" test -n "$(rcli HGET herald:msg:bnc-1 fulfilled_ms)"
"$BIN/heraldctl" -c "$T/herald.conf" trace tx-bnc >"$T/trace.out" 2>&1
expect_grep "heraldctl trace shows the re-opening" 'reopened' "$T/trace.out"
check "/metrics counts the bounce for the service" sh -c \
	"curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q 'herald_email_bounces_total{service=\"dvla\"} 1'"

DSN=$T/dsn/dsn.last
expect_grep "the DSN is a real RFC 3464 report" 'report-type=delivery-status' "$DSN"

# ---- the same DSN again: late (the message moved on), journaled only ----
"$BIN/heraldctl" -c "$T/herald.conf" bounce <"$DSN" >"$T/late.out" 2>&1
expect_eq "a repeated bounce exits 0" 0 $?
check "a late bounce is journaled, not applied" \
	wait_for 10 grep -q 'bnc-1: .*status=bounced (late bounce: bounced: 5.1.1' "$LOG"
expect_eq "the message stays delivered" delivered "$(rcli HGET herald:msg:bnc-1 status)"

# ---- a DSN that overtakes heraldd's write of its token (a relay that
# bounces at once): heraldctl looks again before calling it none of ours ----
TOKEN2=hr$(printf '%s' "$TOKEN" | sed 's/^hr//' | tr '0-9a-f' 'a-f0-9')
sed "s/$TOKEN/$TOKEN2/g" "$DSN" >"$T/early.eml"
(sleep 0.5 && rcli SET "herald:ref:email:$TOKEN2" bnc-1 EX 600 >/dev/null) &
"$BIN/heraldctl" -c "$T/herald.conf" bounce <"$T/early.eml" >"$T/early.out" 2>&1
expect_eq "a DSN before its token's write exits 0" 0 $?
expect_grep "and is recorded once the token is written, not ignored" "for $TOKEN2 recorded" "$T/early.out"
check "the early DSN reaches heraldd (journaled: the message moved on)" \
	wait_for 10 sh -c "grep -c 'bnc-1: .*status=bounced (late bounce' '$LOG' | grep -qx 2"

# ---- a 4.x.x delay report changes nothing ----
sed -e 's/^Status: 5\.1\.1/Status: 4.4.1/' -e 's/^Action: failed/Action: delayed/' "$DSN" >"$T/delay.eml"
"$BIN/heraldctl" -c "$T/herald.conf" bounce <"$T/delay.eml" >"$T/delay.out" 2>&1
expect_eq "a delay report exits 0" 0 $?
check "a delay report is journaled" wait_for 10 grep -q 'bnc-1: .*status=delayed (delayed: 4.4.1' "$LOG"
expect_eq "a delay report changes nothing" delivered "$(rcli HGET herald:msg:bnc-1 status)"

# ---- a complaint (RFC 5965 ARF) opts the citizen out of email ----
cat >"$T/arf.eml" <<EOF
From: fbl@isp.example
To: abuse@gov.example
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain

This is an email abuse report.
--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1

--arf
Content-Type: text/rfc822-headers

From: Herald <noreply@gov.example>
To: ada@example.org
Message-ID: <$TOKEN@gov.example>
Subject: reminder

--arf--
EOF
"$BIN/heraldctl" -c "$T/herald.conf" bounce <"$T/arf.eml" >"$T/arf.out" 2>&1
expect_eq "a complaint exits 0" 0 $?
check "the citizen is opted out of email" wait_for 10 sh -c \
	"redis-cli -p $REDIS_PORT HGET herald:citizen:c-b optout | grep -qx email"
expect_grep "the complaint is in the journey" 'bnc-1: .*status=complaint' "$LOG"

# ---- exit statuses for Postfix ----
printf 'garbage without headers\n' | "$BIN/heraldctl" -c "$T/herald.conf" bounce >/dev/null 2>&1
expect_eq "junk is EX_DATAERR (65)" 65 $?
printf 'From: a@b.example\nSubject: out of office\n\nback Monday\n' |
	"$BIN/heraldctl" -c "$T/herald.conf" bounce >/dev/null 2>&1
expect_eq "a message that is no report is ignored (0)" 0 $?
sed "s/^port = $REDIS_PORT/port = $(free_port)/" "$T/herald.conf" >"$T/down.conf"
"$BIN/heraldctl" -c "$T/down.conf" bounce <"$DSN" >"$T/down.out" 2>&1
expect_eq "Redis unreachable is EX_TEMPFAIL (75)" 75 $?
chmod 644 "$T/down.conf"

# ---- Redis down while Postfix delivers the DSN: 75, Postfix keeps it and
# retries, and the retry (Redis reachable again) is applied ----
touch "$T/redis-down"
seed_citizen c-r channels email,file email bob@example.org name "Bob"
publish '{"event_id":"bnc-2","service":"dvla","citizen_id":"c-r","template":"appointment-reminder","transaction_id":"tx-bnc2","personalisation":{"name":"Bob","date":"2 December","time":"11:00","location":"Cardiff"}}' >"$T/pub2.out" 2>&1
expect_grep "heraldd accepted the second event" '"status":"accepted"' "$T/pub2.out"
check "the second email was sent through Postfix" wait_for 20 grep -q 'bnc-2: .*channel=email.*status=sent' "$LOG"
check "Postfix deferred the DSN when heraldctl bounce said 75" \
	wait_for 20 grep -q 'relay=herald-bounce.*status=deferred' "$PF/maillog"
expect_no_grep "nothing applied while Redis was unreachable" 'bnc-2: .*status=permanent-failure' "$LOG"
rm -f "$T/redis-down"
check "Postfix's retry was delivered to heraldctl bounce" \
	wait_for 30 sh -c "grep -c 'relay=herald-bounce.*status=sent' '$PF/maillog' | grep -qx 2"
check "the retried DSN turned the attempt permanent-failure" \
	wait_for 20 grep -Eq 'bnc-2: .*channel=email.*status=permanent-failure .*bounced: 5\.1\.1' "$LOG"
check "and the transaction hopped to file" \
	wait_for 20 grep -q 'bnc-2: .*channel=file.*status=delivered' "$LOG"

pf_stop
finish
