#!/bin/sh
# t_unsubscribe.sh - one-click unsubscribe (RFC 8058, issue #16 point 4)
# end to end: real heraldd, Redis, Postfix's smtp-sink and a callback
# receiver. The email captured for service "news" carries List-Unsubscribe
# with a per-message link and List-Unsubscribe-Post; a GET of the link shows
# a page and changes nothing; a forged link is refused and changes nothing;
# the POST RFC 8058 describes opts the citizen out of email for "news" only
# (the next "news" event goes by file, a "court" event still by email),
# with one "unsubscribed" record in the journey (heraldctl trace), the
# delivery log and the service's callback; a second POST (and a multipart
# one) is harmless; a link whose message record has expired still works; a
# POST while Redis is down is answered 503 (nothing confirmed that was not
# recorded) and the same POST once Redis is back records it.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

need_smtp_sink "$BIN/heraldd" "$BIN/heraldctl" "$BIN/channels/email.so"
start_smtp_sink mail
start_redis
start_callback_receiver
HTTP_PORT=$(free_port)
BASE="http://127.0.0.1:$HTTP_PORT/unsub"

# heraldd -t: the base is checked
for bad in "http://mail.example.org/unsub" "https://herald.example.org" "https://h.example/u?x=1" \
	"ftp://127.0.0.1/unsub"; do
	write_conf "
[channel.email]
relay = 127.0.0.1:$SINK_PORT
from = Herald <noreply@gov.example>
unsubscribe_url = $bad"
	if "$BIN/heraldd" -t -c "$T/herald.conf" >"$T/t.out" 2>&1; then
		not_ok "heraldd -t refuses unsubscribe_url = $bad"
	else
		expect_grep "heraldd -t refuses unsubscribe_url = $bad" 'unsubscribe_url' "$T/t.out"
	fi
done

write_conf "
[channel.email]
relay = 127.0.0.1:$SINK_PORT
from = Herald <noreply@gov.example>
starttls = no
domain = gov.example
timeout = 10
unsubscribe_url = $BASE/

[service.news]
callback_url = http://127.0.0.1:$CB_PORT/news
callback_secret = s3cret
callback_retry_max = 1"
"$BIN/heraldd" -t -c "$T/herald.conf" >"$T/t.out" 2>&1
tap_ok=$?
expect_eq "heraldd -t takes unsubscribe_url = $BASE/" 0 "$tap_ok"
start_heraldd

seed_citizen c-u1 channels email,file email ada@example.org locale en name "Ada Lovelace"
ev() { # ev ID SERVICE TX
	printf '{"event_id":"%s","service":"%s","citizen_id":"c-u1","transaction_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"5","due_date":"1 May 2027"}}' "$1" "$2" "$3"
}
publish "$(ev u-1 news tx-u1)" >/dev/null
check "u-1 (news) is sent by email" \
	wait_for 20 grep -Eq ' u-1: .*channel=email.*status=sent' "$T/log/delivery.log"
wait_for 5 sh -c "[ \$(find '$T/mail' -type f | wc -l) -ge 1 ]"
MAIL=$(find "$T/mail" -type f | head -n 1)
# the headers, unfolded
python3 - "$MAIL" >"$T/hdr" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.compat32)
for k in ("List-Unsubscribe", "List-Unsubscribe-Post"):
    v = m.get(k)
    print("%s: %s" % (k, " ".join(v.split()) if v else ""))
PY
sed 's/^/# /' "$T/hdr"
expect_grep "the email carries List-Unsubscribe-Post: List-Unsubscribe=One-Click" \
	'^List-Unsubscribe-Post: List-Unsubscribe=One-Click$' "$T/hdr"
URL=$(sed -n 's/^List-Unsubscribe: <\([^>]*\)>$/\1/p' "$T/hdr")
check "List-Unsubscribe is one link below unsubscribe_url" \
	sh -c "echo '$URL' | grep -Eqx '$BASE/[A-Za-z0-9_-]{40,}'"
expect_no_grep "the link says nothing of the citizen" 'c-u1|ada|example.org' "$T/hdr"

# GET: a page, nothing changes
code=$(curl -s -D "$T/get.hdr" -o "$T/get.html" -w '%{http_code}' "$URL")
expect_eq "GET of the link answers 200" 200 "$code"
expect_grep "the page is not cached and sends no referrer" \
	'^Cache-Control: no-store' "$T/get.hdr"
expect_grep "... Referrer-Policy: no-referrer" \
	'^Referrer-Policy: no-referrer' "$T/get.hdr"
expect_grep "... Content-Type text/html" '^Content-Type: text/html; charset=utf-8' "$T/get.hdr"
expect_grep "the page's button POSTs List-Unsubscribe=One-Click" 'name="List-Unsubscribe" value="One-Click"' "$T/get.html"
# forged: one character changed, a made-up one, a path below
TOK=${URL##*/}
case "$TOK" in A*) FORGED="B${TOK#?}" ;; *) FORGED="A${TOK#?}" ;; esac
code=$(curl -s -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$BASE/$FORGED")
expect_eq "a forged link is refused (404)" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$BASE/not-a-token")
expect_eq "a made-up link is refused (404)" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=Other' "$URL")
expect_eq "a POST without One-Click is refused (400)" 400 "$code"
sleep 1
expect_eq "GET, forged links and a wrong body changed nothing" "" \
	"$(rcli HGET herald:citizen:c-u1 optout@news)"
expect_grep "the refusal is logged (without the token)" 'unsubscribe: POST with a link heraldd did not make' "$T/heraldd.out"
expect_no_grep "no token in the operator log" "$FORGED" "$T/heraldd.out"

# the one-click POST (RFC 8058 section 3.2), twice, then as multipart
code=$(curl -s -o "$T/post.out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	-d 'List-Unsubscribe=One-Click' "$URL")
expect_eq "the One-Click POST answers 200" 200 "$code"
check "the citizen is opted out of email for news" \
	wait_for 5 sh -c "[ \"\$(redis-cli -p $REDIS_PORT HGET herald:citizen:c-u1 optout@news)\" = email ]"
expect_eq "and not for every service" "" "$(rcli HGET herald:citizen:c-u1 optout)"
expect_grep "optout@news_at says when and why" 'email: one-click unsubscribe.*event u-1' \
	"$(rcli HGET herald:citizen:c-u1 optout@news_at >"$T/at"; echo "$T/at")"
code=$(curl -s -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$URL")
expect_eq "a second POST answers 200" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -F 'List-Unsubscribe=One-Click' "$URL")
expect_eq "a multipart/form-data POST answers 200" 200 "$code"
check "the repeat is logged as nothing to do" \
	wait_for 5 grep -q 'u-1: unsubscribe from news: already opted out' "$T/heraldd.out"
expect_eq "one unsubscribed record in the delivery log" 1 \
	"$(grep -c ' u-1: .*status=unsubscribed' "$T/log/delivery.log")"
expect_grep "the delivery log line names email and the masked address" \
	' u-1: tx=tx-u1, citizen=c-u1, channel=email, to=a\*\*\*@example.org.*status=unsubscribed \(one-click unsubscribe' \
	"$T/log/delivery.log"
"$BIN/heraldctl" -c "$T/herald.conf" trace tx-u1 >"$T/trace.out" 2>&1
expect_grep "heraldctl trace shows the unsubscribe in the journey" 'unsubscribed' "$T/trace.out"
check "the news service's callback hears of it" \
	wait_for 10 python3 - "$T/cb.jsonl" <<'PY'
import base64, json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = json.loads(base64.b64decode(r["body_b64"]))
    if b.get("status") == "unsubscribed" and b.get("event_id") == "u-1":
        n += 1
sys.exit(0 if n == 1 else 1)
PY
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"
expect_grep "/metrics counts it by service" '^herald_email_unsubscribes_total\{service="news"\} 1$' "$T/metrics"

# what follows: news goes by file, court still by email
publish "$(ev u-2 news tx-u2)" "$(ev u-3 court tx-u3)" >/dev/null
check "u-2 (news) skips email: delivered by file" \
	wait_for 20 grep -Eq ' u-2: .*channel=file.*status=delivered' "$T/log/delivery.log"
expect_no_grep "u-2 never went to email" ' u-2: .*channel=email' "$T/log/delivery.log"
check "u-3 (court) still goes by email" \
	wait_for 20 grep -Eq ' u-3: .*channel=email.*status=sent' "$T/log/delivery.log"

# a link whose message record has expired still opts out (the token
# carries service and citizen): u-3's, after its record is gone
wait_for 5 sh -c "[ \$(find '$T/mail' -type f | wc -l) -ge 2 ]"
MAIL3=$(grep -l 'u-3\|tx-u3' "$T"/mail/* 2>/dev/null | head -n 1)
[ -n "$MAIL3" ] || MAIL3=$(ls -t "$T"/mail/* | head -n 1)
URL3=$(python3 -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(" ".join(m["List-Unsubscribe"].split())[1:-1])' "$MAIL3")
check "u-3 has its own link" sh -c "[ -n '$URL3' ] && [ '$URL3' != '$URL' ]"
rcli DEL herald:msg:u-3 >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$URL3")
expect_eq "the link of an expired message answers 200" 200 "$code"
check "and opts out of court's email" \
	wait_for 5 sh -c "[ \"\$(redis-cli -p $REDIS_PORT HGET herald:citizen:c-u1 optout@court)\" = email ]"
check "with a delivery log line" wait_for 5 grep -q ' u-3: .*status=unsubscribed' "$T/log/delivery.log"
expect_eq "news is still opted out" email "$(rcli HGET herald:citizen:c-u1 optout@news)"
# Redis down when the POST comes: 503 (no "You are unsubscribed" for an
# opt-out nobody recorded); the same POST once Redis is back: 200, recorded
publish "$(ev u-4 tax tx-u4)" >/dev/null
check "u-4 (tax) is sent by email" \
	wait_for 20 grep -Eq ' u-4: .*channel=email.*status=sent' "$T/log/delivery.log"
wait_for 5 sh -c "[ \$(find '$T/mail' -type f | wc -l) -ge 3 ]"
MAIL4=$(ls -t "$T"/mail/* | head -n 1)
URL4=$(python3 -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(" ".join(m["List-Unsubscribe"].split())[1:-1])' "$MAIL4")
check "u-4 has its own link" sh -c "[ -n '$URL4' ] && [ '$URL4' != '$URL3' ] && [ '$URL4' != '$URL' ]"
redis_stop TERM
check "heraldd sees Redis gone (/healthz 503)" wait_for 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HTTP_PORT/healthz)\" = 503 ]"
code=$(curl -s -o "$T/post4.out" -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$URL4")
expect_eq "a POST while Redis is down is answered 503" 503 "$code"
expect_grep "... saying it was not recorded" 'not recorded' "$T/post4.out"
expect_grep "... and logged" 'u-4: unsubscribe not applied \(Redis is down\): answered 503' "$T/heraldd.out"
redis_up
check "heraldd reconnects" wait_for 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HTTP_PORT/healthz)\" = 200 ]"
expect_eq "nothing was recorded of it" "" "$(rcli HGET herald:citizen:c-u1 optout@tax)"
code=$(curl -s -o "$T/post4.out" -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$URL4")
expect_eq "the same POST once Redis is back: 200" 200 "$code"
expect_grep "... You are unsubscribed" 'You are unsubscribed' "$T/post4.out"
expect_eq "recorded by the time of the answer" email "$(rcli HGET herald:citizen:c-u1 optout@tax)"
check "one unsubscribed record" wait_for 5 sh -c "[ \$(grep -c ' u-4: .*status=unsubscribed' '$T/log/delivery.log') -eq 1 ]"
diag "delivery log:"
sed 's/^/#   /' "$T/log/delivery.log"
stop_heraldd
finish
