#!/bin/sh
# t_print_cups.sh - the print channel against a real cupsd started here:
# the letter is submitted over IPP (job name = event id), tracked until
# completed -> delivered, and the document CUPS kept (PreserveJobFiles)
# holds the citizen's name and every address line. Also: a canceled job ->
# permanent-failure, an aborted job -> permanent-failure, CUPS down ->
# temporary-failure, a missing queue -> temporary-failure.
. "$(dirname "$0")/lib.sh"
# pango + fontconfig under LeakSanitizer (make check): see paper_lsan.supp
export G_SLICE=always-malloc
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$HERALD_SRC/tests/integration/paper_lsan.supp"
CHANRUN=${CHANRUN:-$BIN/tests/bench/chanrun}
. "$(dirname "$0")/paper_cups.sh"

start_cups
cups_queue herald file:///dev/null
check "queue herald is ready" lpc lpstat -p herald

cat >"$T/print.ini" <<CONF
[channel.print]
mode = ipp
server = 127.0.0.1:$CUPS_PORT
queue = herald
poll_interval = 0.3
sender = DVLA|Longview Road|Swansea|SA6 7JL
CONF

cat >"$T/msgs.jsonl" <<'JSON'
{"event_id":"cups-ev-1","to":"Fflat 3, Tŷ Gwyn\n14 Heol y Bont\nLlanfair-ym-Muallt\nLD2 3AB","subject":"Your licence","body":"Dear Ms Haddad,\n\nYour *licence* expires soon.\n\nYours sincerely,\nDVLA","locale":"en","reference":"HRL-7Q2X","meta":{"citizen.name":"Leila Haddad","fm.subject":"Your driving licence"}}
{"event_id":"cups-noaddr","to":"","body":"x","meta":{"citizen.name":"Nobody"}}
JSON
"$CHANRUN" -t 60 -w 1 "$BIN/channels/print.so" "$T/print.ini" "$T/msgs.jsonl" \
	>"$T/results.jsonl" 2>"$T/chanrun.err"
rc=$?
# chanrun counts a message done at its first result; -w keeps polling, but
# the delivered result may need a few poll intervals more: wait for it.
expect_eq "chanrun finished" 0 $rc
expect_grep "submitted: sent with ref <queue>-<job id>" \
	'"event_id":"cups-ev-1".*"status":"sent","ref":"herald-[0-9]+"' "$T/results.jsonl"
expect_grep "job completed -> delivered, same message and ref" \
	'"event_id":"cups-ev-1","msg_id":1,"status":"delivered","ref":"herald-[0-9]+"' \
	"$T/results.jsonl"
expect_grep "no address -> permanent-failure" \
	'"event_id":"cups-noaddr".*"status":"permanent-failure".*no postal address' "$T/results.jsonl"

JOB=$(sed -n 's/.*"status":"sent","ref":"herald-\([0-9]*\)".*/\1/p' "$T/results.jsonl" | head -n 1)
DOC=$(printf '%s/d%05d-001' "$CUPS_SPOOL" "${JOB:-0}")
check "CUPS kept the document of job $JOB" test -s "$DOC"
# the job control file holds job-name; cupsd writes it lazily (seconds after
# the job changes) and replaces it by rename (old one moved aside first), so
# it may not be there yet: retry
control_has_name() {
	tr -c '[:print:]' ' ' <"$(printf '%s/c%05d' "$CUPS_SPOOL" "${JOB:-0}")" 2>/dev/null |
		grep -Eq 'job-name +cups-ev-1'
}
check "CUPS job name is the event id (job control file)" wait_for 30 control_has_name
head -c 5 "$DOC" >"$T/magic" 2>/dev/null
expect_eq "the document is a PDF" "%PDF-" "$(cat "$T/magic")"
pdftotext "$DOC" "$T/doc.txt" 2>/dev/null
for s in "Leila Haddad" "Fflat 3, Tŷ Gwyn" "14 Heol y Bont" "Llanfair-ym-Muallt" "LD2 3AB" \
	"Our reference: HRL-7Q2X" "Your driving licence" "Page 1 of 1"; do
	expect_grep "document CUPS received shows '$s'" "^$s\$" "$T/doc.txt"
done

# a job canceled while it waits -> permanent-failure
cups_queue held file:///dev/null
lpc cupsdisable held
sed 's/^\[channel.print\]$/[channel.print]/; s/^queue = herald$/queue = held/' "$T/print.ini" >"$T/held.ini"
head -n 1 "$T/msgs.jsonl" | sed 's/cups-ev-1/cups-cancel/' >"$T/cancel.jsonl"
"$CHANRUN" -t 60 -w 30 "$BIN/channels/print.so" "$T/held.ini" "$T/cancel.jsonl" \
	>"$T/cancel.out" 2>>"$T/chanrun.err" &
CR_PID=$!
track_pid $CR_PID
wait_for 20 grep -q '"status":"sent"' "$T/cancel.out"
HJOB=$(sed -n 's/.*"ref":"held-\([0-9]*\)".*/\1/p' "$T/cancel.out" | head -n 1)
check "job $HJOB waits in the disabled queue" lpc lpstat -o held
lpc cancel "${HJOB:-0}"
wait_for 20 grep -q '"status":"permanent-failure"' "$T/cancel.out"
expect_grep "canceled job -> permanent-failure with CUPS's state" \
	'"event_id":"cups-cancel","msg_id":1,"status":"permanent-failure","ref":"held-[0-9]+",.*canceled' \
	"$T/cancel.out"
stop_pid $CR_PID

# a job whose backend fails, on a queue with the abort-job error policy ->
# aborted -> permanent-failure
cups_queue broken herald-fail://x -o printer-error-policy=abort-job
sed 's/^queue = herald$/queue = broken/' "$T/print.ini" >"$T/broken.ini"
head -n 1 "$T/msgs.jsonl" | sed 's/cups-ev-1/cups-abort/' >"$T/abort.jsonl"
"$CHANRUN" -t 60 -w 30 "$BIN/channels/print.so" "$T/broken.ini" "$T/abort.jsonl" \
	>"$T/abort.out" 2>>"$T/chanrun.err" &
CR_PID=$!
track_pid $CR_PID
wait_for 30 grep -q '"status":"permanent-failure"' "$T/abort.out"
expect_grep "aborted job -> permanent-failure" \
	'"event_id":"cups-abort","msg_id":1,"status":"permanent-failure","ref":"broken-[0-9]+",.*aborted' \
	"$T/abort.out"
stop_pid $CR_PID

# a queue CUPS does not have -> temporary (an operator can add it)
sed 's/^queue = herald$/queue = nosuchqueue/' "$T/print.ini" >"$T/noq.ini"
"$CHANRUN" -t 30 "$BIN/channels/print.so" "$T/noq.ini" "$T/cancel.jsonl" \
	>"$T/noq.out" 2>>"$T/chanrun.err"
expect_grep "missing queue -> temporary-failure" '"status":"temporary-failure"' "$T/noq.out"

# CUPS unreachable -> temporary-failure
DEAD=$(free_port)
sed "s/^server = .*/server = 127.0.0.1:$DEAD/" "$T/print.ini" >"$T/dead.ini"
"$CHANRUN" -t 30 "$BIN/channels/print.so" "$T/dead.ini" "$T/cancel.jsonl" \
	>"$T/dead.out" 2>>"$T/chanrun.err"
expect_grep "CUPS unreachable -> temporary-failure" \
	'"status":"temporary-failure".*unreachable' "$T/dead.out"

expect_no_grep "logs carry no full address" 'Heol y Bont' "$T/chanrun.err"
assert_clean_log "$T/chanrun.err"
finish
