#!/bin/sh
# t_print_spool.sh - the print channel in spool mode, driven by chanrun: every
# letter lands as <event>.pdf + <event>.json, a watcher that reads the folder
# the whole time never sees a half-written file or a manifest ahead of its
# PDF, the PDF holds the citizen's name and address, and a citizen without
# an address is a permanent failure.
. "$(dirname "$0")/lib.sh"
# pango + fontconfig under LeakSanitizer (make check): see paper_lsan.supp
export G_SLICE=always-malloc
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$HERALD_SRC/tests/integration/paper_lsan.supp"
CHANRUN=${CHANRUN:-$BIN/tests/bench/chanrun}

SPOOL=$T/spool/print
cat >"$T/print.ini" <<CONF
[channel.print]
mode = spool
dir = $SPOOL
sender = DVLA|Longview Road|Swansea|SA6 7JL
CONF

N=60
python3 - "$N" >"$T/msgs.jsonl" <<'PY'
import json, sys
body = "\n\n".join(["Paragraph %d of a letter long enough to need a second page, with "
                    "*emphasis* and an ampersand & some <angle> brackets." % i
                    for i in range(40)])
for i in range(int(sys.argv[1])):
    print(json.dumps({"event_id": "spool-%03d" % i, "to": "Flat %d\n1 Heol y Castell\nCaerdydd\nCF10 1AA" % i,
                      "subject": "s", "body": body if i % 10 == 0 else "Short letter *%d*." % i,
                      "locale": "cy" if i % 2 else "en", "reference": "REF-%03d" % i,
                      "meta": {"citizen.name": "Siân Ŵyn %d" % i, "fm.subject": "Eich llythyr"}}))
print(json.dumps({"event_id": "spool-noaddr", "to": " \n ", "body": "x",
                  "meta": {"citizen.name": "Nobody"}}))
PY

mkdir -p "$SPOOL"
python3 "$HERALD_SRC/tests/integration/paper_spoolwatch.py" "$SPOOL" "$T/stop" "$T/watch.txt" &
track_pid $!
WATCH_PID=$!
"$CHANRUN" -t 120 "$BIN/channels/print.so" "$T/print.ini" "$T/msgs.jsonl" \
	>"$T/results.jsonl" 2>"$T/chanrun.err"
expect_eq "chanrun got a result for every message" 0 $?
touch "$T/stop"
wait_for 10 test -s "$T/watch.txt"
wait "$WATCH_PID" 2>/dev/null

expect_eq "every letter reported sent (final)" "$N" \
	"$(grep -c '"status":"sent".*"final":true' "$T/results.jsonl")"
expect_grep "no address -> permanent-failure with a reason" \
	'"event_id":"spool-noaddr".*"status":"permanent-failure".*"reason":"no postal address' \
	"$T/results.jsonl"
expect_eq "one pdf per letter" "$N" "$(ls "$SPOOL" | grep -c '^spool-[0-9]*\.pdf$')"
expect_eq "one manifest per letter" "$N" "$(ls "$SPOOL" | grep -c '^spool-[0-9]*\.json$')"
expect_eq "no temporary files left" "" "$(ls -A "$SPOOL" | grep '^\.' || true)"
expect_grep "the watcher looked while letters were written" '^checks=[1-9]' "$T/watch.txt"
expect_grep "nothing half-written was ever visible" 'errors=0$' "$T/watch.txt"

# every manifest is complete and matches its pdf
python3 - "$SPOOL" >"$T/manifests.txt" 2>&1 <<'PY'
import glob, hashlib, json, os, sys
bad = 0
for m in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    j = json.load(open(m))
    pdf = open(os.path.join(sys.argv[1], j["file"]), "rb").read()
    need = {"event_id", "file", "bytes", "pages", "sha256", "reference", "citizen_id",
            "template", "locale", "large_print", "attempt", "created"}
    if need - set(j) or len(pdf) != j["bytes"] or hashlib.sha256(pdf).hexdigest() != j["sha256"]:
        bad += 1
        print("bad", m)
    if j["event_id"] == "spool-000" and j["pages"] < 2:
        bad += 1
        print("long letter has", j["pages"], "page(s)")
print("bad=%d" % bad)
PY
expect_grep "manifests complete and matching (long letter multi-page)" '^bad=0$' "$T/manifests.txt"

pdftotext "$SPOOL/spool-007.pdf" "$T/007.txt"
for s in "Siân Ŵyn 7" "Flat 7" "1 Heol y Castell" "Caerdydd" "CF10 1AA" "Tudalen 1 o 1" \
	"Ein cyfeirnod: REF-007"; do
	expect_grep "spooled letter shows '$s'" "$s" "$T/007.txt"
done
pdftotext "$SPOOL/spool-000.pdf" "$T/000.txt"
expect_grep "long English letter numbers its pages" 'Page 2 of [2-9]' "$T/000.txt"
expect_no_grep "no markup leaks into the text" '<b>|&amp;' "$T/000.txt"

# a second run with the same event replaces the files atomically
head -n 1 "$T/msgs.jsonl" >"$T/one.jsonl"
"$CHANRUN" -t 30 "$BIN/channels/print.so" "$T/print.ini" "$T/one.jsonl" \
	>"$T/again.jsonl" 2>>"$T/chanrun.err"
expect_grep "re-sent event is spooled again" '"status":"sent"' "$T/again.jsonl"
expect_eq "still one pdf per letter" "$N" "$(ls "$SPOOL" | grep -c '\.pdf$')"

# a spool folder that cannot be written is an open error, not a crash
printf '[channel.print]\nmode = spool\ndir = /proc/herald-no-such/dir\n' >"$T/bad.ini"
"$CHANRUN" -t 5 "$BIN/channels/print.so" "$T/bad.ini" "$T/one.jsonl" \
	>/dev/null 2>"$T/bad.err"
expect_eq "unwritable spool dir: open fails cleanly (exit 2)" 2 $?
expect_no_grep "chanrun logs carry no full address" 'Heol y Castell' "$T/chanrun.err"
assert_clean_log "$T/chanrun.err"
finish
