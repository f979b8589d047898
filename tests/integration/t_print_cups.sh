#!/bin/sh
# t_print_cups.sh - the print channel against a real cupsd started here.
# Through chanrun: the letter is submitted over IPP (job name = event id,
# sent with ref <queue>-<job id>) and the document CUPS kept
# (PreserveJobFiles) holds the citizen's name and every address line; no
# address -> permanent, missing queue and CUPS down -> temporary. Job
# tracking end to end through heraldd (templates, citizen record): completed
# -> delivered (same ref), a job canceled while it waits -> permanent-failure,
# an aborted job -> permanent-failure. (Tracking is checked through heraldd,
# which keeps polling the plugin, rather than chanrun -w.)
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
"$CHANRUN" -t 60 "$BIN/channels/print.so" "$T/print.ini" "$T/msgs.jsonl" \
	>"$T/results.jsonl" 2>"$T/chanrun.err"
expect_eq "chanrun finished" 0 $?
expect_grep "submitted: sent (not final) with ref <queue>-<job id>" \
	'"event_id":"cups-ev-1","msg_id":1,"status":"sent","ref":"herald-[0-9]+".*"final":false' \
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

head -n 1 "$T/msgs.jsonl" | sed 's/cups-ev-1/cups-other/' >"$T/one.jsonl"

# a queue CUPS does not have -> temporary (an operator can add it)
sed 's/^queue = herald$/queue = nosuchqueue/' "$T/print.ini" >"$T/noq.ini"
"$CHANRUN" -t 30 "$BIN/channels/print.so" "$T/noq.ini" "$T/one.jsonl" \
	>"$T/noq.out" 2>>"$T/chanrun.err"
expect_grep "missing queue -> temporary-failure" '"status":"temporary-failure"' "$T/noq.out"

# CUPS unreachable -> temporary-failure
DEAD=$(free_port)
sed "s/^server = .*/server = 127.0.0.1:$DEAD/" "$T/print.ini" >"$T/dead.ini"
"$CHANRUN" -t 30 "$BIN/channels/print.so" "$T/dead.ini" "$T/one.jsonl" \
	>"$T/dead.out" 2>>"$T/chanrun.err"
expect_grep "CUPS unreachable -> temporary-failure" \
	'"status":"temporary-failure".*unreachable' "$T/dead.out"

# ---- job tracking end to end through heraldd ------------------------------
start_redis
seed_citizen c-print channels print name "Leila Haddad" locale en address "Fflat 3, Tŷ Gwyn
14 Heol y Bont
LD2 3AB"
seed_citizen c-cy channels print name "Siân Wyn" locale cy address "1 Heol y Castell
Caerdydd
CF10 1AA"
write_conf "
[channel.print]
mode = ipp
server = 127.0.0.1:$CUPS_PORT
queue = herald
poll_interval = 0.3
sender = DVLA|Longview Road|Swansea|SA6 7JL"
start_heraldd
L=$T/log/delivery.log
ev() {
	printf '{"event_id":"%s","service":"test","citizen_id":"%s","template":"licence-renewal","personalisation":{"name":"%s","licence_type":"driving licence","expiry_date":"1 December 2026"},"channels":["print"]}' "$1" "$2" "$3"
}
publish "$(ev e2e-ok c-print Leila)" "$(ev e2e-cy c-cy Siân)" >"$T/publish.out" 2>&1
check "e2e: job completed -> delivered" \
	wait_for 30 grep -Eq ' e2e-ok: .*channel=print.*status=delivered' "$L"
expect_grep "e2e: ... after sent" ' e2e-ok: .*channel=print.*status=sent' "$L"
DJOB=$(sed -n 's/.* e2e-ok: .*status=delivered (CUPS job \([0-9]*\) completed.*/\1/p' "$L" | head -n 1)
expect_eq "e2e: the message state records the CUPS job (ref <queue>-<job id>)" \
	"herald-${DJOB:-none}" "$(rcli HGET herald:msg:e2e-ok ref)"
check "e2e: Welsh letter delivered too" \
	wait_for 30 grep -Eq ' e2e-cy: .*channel=print.*status=delivered' "$L"
# the Welsh letter as CUPS received it: template text, subject, Welsh labels
for f in "$CUPS_SPOOL"/d*-001; do
	pdftotext "$f" - 2>/dev/null | grep -q 'Siân Wyn' && pdftotext "$f" "$T/cy.txt" 2>/dev/null
done
expect_grep "e2e: Welsh letter has the template's subject" '^Mae eich driving licence yn dod i ben ar 1 December 2026$' "$T/cy.txt"
expect_grep "e2e: Welsh letter has Welsh page numbers" '^Tudalen 1 o 1$' "$T/cy.txt"
expect_grep "e2e: Welsh letter has the address" '^1 Heol y Castell$' "$T/cy.txt"

# a job canceled while it waits in a disabled queue -> permanent-failure
lpc cupsdisable herald
publish "$(ev e2e-cancel c-print Leila)" >>"$T/publish.out" 2>&1
check "e2e: held job reported sent" wait_for 30 grep -Eq ' e2e-cancel: .*status=sent' "$L"
HJOB=$(lpc lpstat -o herald 2>/dev/null | sed -n 's/^herald-\([0-9]*\) .*/\1/p' | tail -n 1)
lpc cancel "${HJOB:-0}"
check "e2e: canceled job -> permanent-failure" \
	wait_for 30 grep -Eq ' e2e-cancel: .*channel=print.*status=permanent-failure.*canceled' "$L"

# a job whose backend fails, with the abort-job error policy -> aborted ->
# permanent-failure (the queue is re-pointed at the failing backend)
lpc lpadmin -p herald -v herald-fail://x -o printer-error-policy=abort-job
lpc cupsenable herald
publish "$(ev e2e-abort c-print Leila)" >>"$T/publish.out" 2>&1
check "e2e: aborted job -> permanent-failure" \
	wait_for 30 grep -Eq ' e2e-abort: .*channel=print.*status=permanent-failure.*aborted' "$L"
expect_no_grep "e2e: the delivery log carries no full address" 'Heol y Bont|Heol y Castell' "$L"
stop_heraldd

expect_no_grep "logs carry no full address" 'Heol y Bont' "$T/chanrun.err"
assert_clean_log "$T/chanrun.err"
finish
