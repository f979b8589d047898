#!/bin/sh
# b_letters.sh - letter rendering speed: one thread renders a typical
# one-page letter (window address, sender block, heading, five paragraphs
# with emphasis, Welsh characters) to an in-memory PDF again and again
# through build/tests/bench/letterdump, for at most LETTERS_BENCH_SECONDS.
# A warm-up render first (fontconfig's cache). Writes {"letters_per_s"} to
# $BENCH_OUT/letters.json.
#
#   LETTERS_BENCH_N (5000, the most letters)  LETTERS_BENCH_SECONDS (30)
set -u
HERALD_BUILD=${HERALD_BUILD:-$(pwd)/build}
HERALD_SRC=${HERALD_SRC:-$(pwd)}
BENCH_OUT=${BENCH_OUT:-$HERALD_BUILD/bench.d}
. "$HERALD_SRC/tests/integration/lib.sh"

N=${LETTERS_BENCH_N:-5000}
SECS=${LETTERS_BENCH_SECONDS:-30}
LD=$BIN/tests/bench/letterdump
if [ ! -x "$LD" ]; then
	echo "b_letters: missing $LD (make $LD)"
	exit 1
fi
python3 - >"$T/letter.json" <<'PY'
import json
paras = [
    "Dear Ms Haddad,",
    "Your *driving licence* expires on 1 December 2026. You need to renew it before then "
    "for it to stay valid. A renewal can take up to 3 weeks, so please apply as soon as you can.",
    "You can renew online at www.gov.uk/renew-driving-licence, by phone or by post. You will "
    "need the reference at the top of this letter.",
    "Os hoffech gael y llythyr hwn yn Gymraeg, ffoniwch ni. Gŵyl, ŷd.",
    "Yours sincerely,\nDriver and Vehicle Licensing Agency",
]
print(json.dumps({"name": "Leila Haddad",
                  "address": ["Fflat 2, Tŷ Gwyn", "14 Heol y Bont", "Llanfair-ym-Muallt", "LD2 3AB"],
                  "sender": "DVLA|Longview Road|Swansea|SA6 7JL", "locale": "en",
                  "reference": "HRL-7Q2X", "subject": "Your driving licence expires soon",
                  "body": "\n\n".join(paras), "date": "2026-11-22"}, ensure_ascii=False))
PY
"$LD" "$T/letter.json" "$T/letter.pdf" >"$T/one.out" 2>&1 || {
	echo "b_letters: render failed: $(cat "$T/one.out")"
	exit 1
}
if ! grep -q '"pages":1' "$T/one.out"; then
	echo "b_letters: the benchmark letter is not one page: $(cat "$T/one.out")"
	exit 1
fi
"$LD" -n "$N" -t "$SECS" "$T/letter.json" >"$T/rate.out" 2>&1 || {
	echo "b_letters: $(cat "$T/rate.out")"
	exit 1
}
RATE=$(sed -n 's/.*"letters_per_s":\([0-9.]*\).*/\1/p' "$T/rate.out")
echo "letters: $(cat "$T/rate.out")"
echo "letters: $RATE letters/s rendered (1 thread, 1-page A4 PDF, $(wc -c <"$T/letter.pdf") bytes)"
mkdir -p "$BENCH_OUT"
printf '{"letters_per_s": %s}\n' "${RATE:-0}" >"$BENCH_OUT/letters.json"
