#!/bin/sh
# t_ops_config.sh - operating Herald (issue #14): strict configuration (each
# mistake that used to pass silently now fails heraldd -t naming the key and
# the line), a channel that does not open stops the start unless optional,
# templates checked as a set, --help/--version everywhere without a config,
# heraldctl config, tail --since and its dead-endpoint timeout, render
# --channel sms and --pdf, log level at run time, journald priorities,
# /metrics HELP lines and new families.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
write_conf
BASE=$T/herald.conf

# bad_conf NAME EXTRA: the test's config plus EXTRA, as $T/NAME.conf
bad_conf() {
	cp "$BASE" "$T/$1.conf"
	printf '%b\n' "$2" >>"$T/$1.conf"
}
# line_of FILE TEXT: the line number of the first line that is TEXT
line_of() { grep -n -x -F "$2" "$1" | head -1 | cut -d: -f1; }
# refused NAME WHAT REGEX: heraldd -t on $T/NAME.conf exits 1 and prints REGEX
refused() {
	"$BIN/heraldd" -t -c "$T/$1.conf" >"$T/$1.out" 2>&1
	expect_eq "heraldd -t refuses $2 (exit 1)" 1 $?
	expect_grep "  ... naming it: $3" "$3" "$T/$1.out"
}

# ---- strict configuration: the silent mistakes of issue #14 -------------------
"$BIN/heraldd" -t -c "$BASE" >"$T/ok.out" 2>&1
expect_eq "heraldd -t accepts the test's configuration" 0 $?

bad_conf key '[queue]\nbatchh = 10'
n=$(line_of "$T/key.conf" "batchh = 10")
refused key "an unknown key" "key.conf:$n: \\[queue\\] unknown key 'batchh' \\(did you mean 'batch'\\?\\)"

bad_conf section '[chanel.email]\nrelay = 127.0.0.1:25'
n=$(line_of "$T/section.conf" "relay = 127.0.0.1:25")
refused section "a misspelt section" \
	"section.conf:$n: unknown section \\[chanel.email\\] \\(did you mean \\[channel.email\\]\\?\\)"

bad_conf nosms '[channel.sms]\nurl = http://127.0.0.1:1/send'
refused nosms "[channel.sms] without profile (was: passed -t, ran without SMS)" \
	'\[channel.sms\] profile is required'

bad_conf stopkw '[channel.sms]\nprofile = kannel\nurl = http://127.0.0.1:1/send\nusername = u\npassword = p\nstop_keywords = NAGE, na-ge'
n=$(line_of "$T/stopkw.conf" "stop_keywords = NAGE, na-ge")
refused stopkw "a stop keyword that is not one word" \
	"stopkw.conf:$n: \\[channel.sms\\] stop_keywords: 'na-ge' is not one word"

sed "s|^listen = .*|listen = 127.0.0.1:99999|" "$BASE" >"$T/port.conf"
n=$(line_of "$T/port.conf" "listen = 127.0.0.1:99999")
refused port "listen on port 99999 (was: port 34463)" \
	"port.conf:$n: \\[http\\] listen = '127.0.0.1:99999': expected a port"

bad_conf inflight '[queue]\nmax_inflight = abc'
n=$(line_of "$T/inflight.conf" "max_inflight = abc")
refused inflight "max_inflight = abc (was: 0, nothing delivered)" \
	"inflight.conf:$n: \\[queue\\] max_inflight = 'abc': expected"

# the paper channels read their settings under -t as at start (their check
# entry): a bad value of theirs fails -t too, not only the start
bad_conf printsecs '[channel.print]\nmode = spool\ndir = /nonexistent/spool\npoll_interval = abc'
refused printsecs "[channel.print] poll_interval = abc (was: the default, warned)" \
	"print: poll_interval = 'abc': not a number of seconds"
bad_conf faxtimeout '[channel.fax]\nurl = http://127.0.0.1:1/fax\ntimeout = abc'
refused faxtimeout "[channel.fax] timeout = abc" "fax: timeout = 'abc'"

bad_conf plugkey 'qeue = 4'
n=$(line_of "$T/plugkey.conf" "qeue = 4")
refused plugkey "a key the file plugin does not read" \
	"plugkey.conf:$n: \\[channel.file\\] unknown key 'qeue' \\(did you mean 'queue'\\?\\)"

bad_conf twice '[queue]\nbatchh = 1\n[chanel.sms]\nprofile = json'
"$BIN/heraldd" -t -c "$T/twice.conf" >"$T/twice.out" 2>&1
expect_grep "heraldd -t reports every error, not only the first" '2 errors' "$T/twice.out"

# a configured channel that does not open stops the start ...
"$BIN/heraldd" -c "$T/nosms.conf" >"$T/nosms.run" 2>&1 &
P=$!
track_pid $P
wait_for 10 sh -c "! kill -0 $P 2>/dev/null"
wait $P
expect_eq "heraldd does not start with a channel that does not open" 1 $?
expect_grep "and says how to start without it" \
	'channel sms: not loaded; not starting \(set optional = yes' "$T/nosms.run"
# ... unless it says optional = yes
sed -i 's|^url = http://127.0.0.1:1/send|&\noptional = yes|' "$T/nosms.conf"
cp "$T/nosms.conf" "$T/herald.conf"
start_heraldd
expect_grep "optional = yes: heraldd starts without it" \
	'channel sms: not loaded; running without it \(optional = yes\)' "$T/heraldd.out"
stop_heraldd
cp "$BASE" "$T/herald.conf"

# ---- templates checked as a set ------------------------------------------------
TPL=$T/templates
cp -r "$HERALD_SRC/templates" "$TPL"
mkdir -p "$TPL/only-sms" "$TPL/pigeon-post" "$TPL/typo" "$TPL/nopartial" "$TPL/sms-only-ok"
echo 'Hi {{name}}' >"$TPL/only-sms/sms.en.mustache"
printf 'Hi\n' >"$TPL/pigeon-post/email.en.mustache"
printf 'Hi\n' >"$TPL/pigeon-post/pigeon.en.mustache"
printf -- '---\nsubjet: Hello\n---\nHi\n' >"$TPL/typo/email.en.mustache"
printf 'Hi {{> no-such-partial}}\n' >"$TPL/nopartial/email.en.mustache"
printf -- '---\nchannels: sms\n---\nHi\n' >"$TPL/sms-only-ok/sms.en.mustache"
sed "s|^dir = .*/templates\$|dir = $TPL|" "$BASE" >"$T/tpl.conf"
"$BIN/heraldd" -t -c "$T/tpl.conf" >"$T/tpl.out" 2>&1
expect_eq "heraldd -t fails on an incomplete template set" 1 $?
expect_grep "a template without a variant for an enabled channel" \
	'templates: only-sms: incomplete: no file variant in the default locale en for channel file' \
	"$T/tpl.out"
expect_grep "a variant for an unknown channel" \
	"pigeon-post/pigeon.en.mustache: variant 'pigeon' is for no known channel" "$T/tpl.out"
expect_grep "an unknown front matter key" \
	"typo/email.en.mustache: unknown front matter key 'subjet' \\(did you mean 'subject'\\?\\)" \
	"$T/tpl.out"
expect_grep "a partial that does not exist" \
	"nopartial/email.en.mustache: partial 'no-such-partial' not found" "$T/tpl.out"
expect_no_grep "front matter 'channels: sms' limits what the template needs" \
	'sms-only-ok' "$T/tpl.out"
expect_no_grep "the shipped templates are complete" \
	'templates: (appointment-reminder|licence-renewal|payment-due)' "$T/tpl.out"

# ---- --help and --version everywhere, without a config -------------------------
NOCONF=$T/no-such-dir/herald.conf
for o in --help -h --version -V; do
	"$BIN/heraldd" -c "$NOCONF" $o >"$T/d.help" 2>&1
	expect_eq "heraldd $o exits 0" 0 $?
done
expect_grep "heraldd --version prints the version" '^heraldd [0-9]' "$T/d.help"
"$BIN/heraldctl" --version >"$T/v" 2>&1
expect_grep "heraldctl --version prints the version" '^heraldctl [0-9]' "$T/v"
cmds=$("$BIN/heraldctl" --help | sed -n 's/^  heraldctl \([a-z][a-z-]*\).*/\1/p')
bad=""
for c in $cmds; do
	"$BIN/heraldctl" -c "$NOCONF" "$c" --help >"$T/h.$c" 2>&1 || bad="$bad $c(--help:$?)"
	grep -q "usage: heraldctl.*$c" "$T/h.$c" || bad="$bad $c(no-usage)"
	"$BIN/heraldctl" -c "$NOCONF" "$c" --version >"$T/v.$c" 2>&1 || bad="$bad $c(--version:$?)"
done
expect_eq "every heraldctl command answers --help and --version without a config ($(echo $cmds))" \
	"" "$bad"

# ---- heraldctl config ------------------------------------------------------------
"$BIN/heraldctl" -c "$BASE" config >"$T/cfg.all"
expect_grep "config shows a set value" "^port = $REDIS_PORT\$" "$T/cfg.all"
expect_grep "config marks a default" '^batch = 256	; default$' "$T/cfg.all"
expect_grep "config fills a channel section's host defaults" '^retry_min = 30	; default$' "$T/cfg.all"
"$BIN/heraldctl" -c "$BASE" config -n >"$T/cfg.n"
expect_no_grep "config -n leaves the defaults out" 'default' "$T/cfg.n"
expect_grep "config -n has the file's keys" "^path = $T/spool/file.jsonl\$" "$T/cfg.n"
"$BIN/heraldctl" -c "$NOCONF" config -d queue.max_inflight >"$T/cfg.d" 2>&1
expect_eq "config -d KEY: one key with its default" "[queue]
max_inflight = 20000" "$(cat "$T/cfg.d")"

# ---- render --channel sms and --pdf ----------------------------------------------
cat >"$T/data.json" <<'EOF'
{"name": "Ada & Co", "address": "1 High Street\nSwansea\nSA1 1AA", "date": "1 December",
 "time": "10:00", "location": "Swansea", "transaction": {"reference": "HX-42"}}
EOF
"$BIN/heraldctl" -c "$BASE" render --channel sms \
	"$HERALD_SRC/templates/appointment-reminder/sms.en.mustache" "$T/data.json" >"$T/sms.out"
expect_grep "render --channel sms does not HTML-escape" 'Reminder: Ada & Co, you have' "$T/sms.out"
"$BIN/heraldctl" -c "$BASE" render --pdf "$T/letter.pdf" \
	"$HERALD_SRC/templates/appointment-reminder/print.en.mustache" "$T/data.json" \
	>"$T/pdf.out" 2>&1
expect_eq "render --pdf exits 0" 0 $?
pdftotext "$T/letter.pdf" "$T/letter.txt" 2>/dev/null
expect_grep "pdftotext finds the recipient in the letter" 'Ada & Co' "$T/letter.txt"
expect_grep "... the address" 'SA1 1AA' "$T/letter.txt"
expect_grep "... the subject from the front matter as heading" 'Your appointment on 1 December' \
	"$T/letter.txt"
expect_grep "... and the reference" 'HX-42' "$T/letter.txt"

# ---- tail: a dead endpoint is an error, --since reads the JSON log ------------------
dead=$(free_port)
"$BIN/heraldctl" -c "$BASE" tail -e "tcp://127.0.0.1:$dead" --timeout 1s >"$T/dead.out" 2>&1
expect_eq "tail exits 2 when the endpoint does not answer" 2 $?
expect_grep "and says so" "tcp://127.0.0.1:$dead: no answer within 1000 ms" "$T/dead.out"

JOURNAL_OUT=$T/heraldd.out
: >"$JOURNAL_OUT"
JOURNAL_STREAM=$(stat -c '%d:%i' "$JOURNAL_OUT")
export JOURNAL_STREAM
start_heraldd
unset JOURNAL_STREAM
expect_grep "stderr is the journal: lines carry <N> priorities" '^<6>heraldd\[[0-9]*\]: info: heraldd: ready' \
	"$T/heraldd.out"
seed_citizen c-ops name "Ada" channels "file" locale en
publish '{"event_id":"ops-1","service":"dvla","citizen_id":"c-ops","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December","time":"10:00","location":"Swansea"}}' >"$T/pub.out"
wait_for 10 grep -q '"event_id":"ops-1".*"status":"delivered"' "$T/log/delivery.jsonl"
"$BIN/heraldctl" -c "$T/herald.conf" tail --since 10m --citizen c-ops --status delivered \
	--count 1 --timeout 5s >"$T/since.out" 2>&1
expect_eq "tail --since 10m exits after the record it found in the log" 0 $?
expect_grep "tail --since prints the past delivery" 'ops-1: .*status=delivered' "$T/since.out"
expect_no_grep "no colour when stdout is not a terminal" "$(printf '\033')" "$T/since.out"
"$BIN/heraldctl" -c "$T/herald.conf" tail --since 2000-01-01T00:00 --service dvla \
	--status accepted --count 1 --timeout 5s >"$T/since2.out" 2>&1
expect_grep "tail --since TIME --service" 'ops-1: .*status=accepted' "$T/since2.out"
"$BIN/heraldctl" -c "$T/herald.conf" tail --since yesterday >"$T/since3.out" 2>&1
expect_eq "tail --since with a bad value is a usage error" 2 $?

# ---- metrics --------------------------------------------------------------------------
wait_for 10 sh -c "curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -q '^herald_redis_up 1'"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics"
expect_grep "herald_redis_up" '^herald_redis_up 1$' "$T/metrics"
expect_grep "herald_dead_messages" '^herald_dead_messages 0$' "$T/metrics"
expect_grep "herald_build_info{version}" '^herald_build_info\{version="[^"]+"\} 1$' "$T/metrics"
expect_grep "herald_messages_total by service" \
	'^herald_messages_total\{service="dvla",channel="file",status="delivered"\} 1$' "$T/metrics"
nohelp=$(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$T/metrics" | while read -r f; do
	grep -q "^# HELP $f " "$T/metrics" || printf ' %s' "$f"
done)
expect_eq "every TYPE has its HELP" "" "$nohelp"

# ---- log level at run time --------------------------------------------------------------
"$BIN/heraldctl" -c "$T/herald.conf" log-level debug >"$T/ll.out" 2>&1
expect_eq "heraldctl log-level debug exits 0" 0 $?
check "heraldd applies heraldctl log-level and logs it" \
	wait_for 15 grep -q 'log level info -> debug (heraldctl log-level)' "$T/heraldd.out"
"$BIN/heraldctl" -c "$T/herald.conf" log-level default >/dev/null 2>&1
check "log-level default returns to [log] level" \
	wait_for 15 grep -q 'log level debug -> info (\[log\] level again)' "$T/heraldd.out"
kill -USR2 "$HERALDD_PID"
check "SIGUSR2 cycles the level and logs it" \
	wait_for 10 grep -q 'log level info -> debug (SIGUSR2)' "$T/heraldd.out"
"$BIN/heraldctl" -c "$T/herald.conf" log-level loud >/dev/null 2>&1
expect_eq "log-level with an unknown level is a usage error" 2 $?
stop_heraldd

finish
