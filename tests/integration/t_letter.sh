#!/bin/sh
# t_letter.sh - the letter renderer end to end through letterdump: a Welsh
# and an English letter for a citizen with an Arabic name and a Welsh
# address; pdftotext of each gives back the name and every address line
# exactly, the date and page labels in the letter's language. A CJK name and
# accented names come back too; fonts are embedded (no boxes: the PDF uses
# real glyphs, not .notdef); large print is larger; long letters paginate.
. "$(dirname "$0")/lib.sh"
# pango + fontconfig under LeakSanitizer (make check): see paper_lsan.supp
export G_SLICE=always-malloc
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$HERALD_SRC/tests/integration/paper_lsan.supp"
LD=$BIN/tests/bench/letterdump
[ -x "$LD" ] || { not_ok "letterdump is built ($LD)"; finish; exit 1; }

# pdftotext marks right-to-left runs with U+202B ... U+202C (embedding
# controls, invisible); drop them before comparing.
totext() {
	pdftotext "$1" - 2>/dev/null | sed 's/\xe2\x80\xab//g; s/\xe2\x80\xac//g' >"$2"
}

# has_line "description" TEXT FILE: some line of FILE is exactly TEXT.
has_line() {
	if grep -Fxq -- "$2" "$3"; then ok "$1"; else
		not_ok "$1"
		diag "no line '$2' in $3:"
		sed 's/^/#   /' "$3" | head -20
	fi
}

NAME="ليلى حداد"
ADDR1="Fflat 2, Tŷ Gwyn"
ADDR2="14 Heol y Bont"
ADDR3="Llanfair-ym-Muallt"
ADDR4="Powys"
ADDR5="LD2 3AB"
for lang in cy en; do
	if [ $lang = cy ]; then
		subj="Eich trwydded yrru"
		body="Annwyl $NAME,\n\nMae eich *trwydded yrru* yn dod i ben ar 1 Rhagfyr 2026. Gŵyl, ŷd, â ê î ô û.\n\nYn gywir,\nDVLA"
	else
		subj="Your driving licence"
		body="Dear $NAME,\n\nYour *driving licence* expires on 1 December 2026.\n\nYours sincerely,\nDVLA"
	fi
	printf '{"name":"%s","address":["%s","%s","%s","%s","%s"],"sender":"DVLA|Longview Road|Abertawe|SA6 7JL","locale":"%s","reference":"HRL-7Q2X","subject":"%s","body":"%s","date":"2026-11-22"}\n' \
		"$NAME" "$ADDR1" "$ADDR2" "$ADDR3" "$ADDR4" "$ADDR5" "$lang" "$subj" "$body" >"$T/$lang.json"
	"$LD" "$T/$lang.json" "$T/$lang.pdf" >"$T/$lang.out" 2>&1
	expect_eq "$lang: letterdump renders one page" '{"pages":1}' "$(cat "$T/$lang.out")"
	totext "$T/$lang.pdf" "$T/$lang.txt"
	has_line "$lang: the Arabic name comes back exactly" "$NAME" "$T/$lang.txt"
	for a in "$ADDR1" "$ADDR2" "$ADDR3" "$ADDR4" "$ADDR5"; do
		has_line "$lang: address line '$a' exactly" "$a" "$T/$lang.txt"
	done
	has_line "$lang: heading" "$subj" "$T/$lang.txt"
done
has_line "cy: Welsh date" "22 Tachwedd 2026" "$T/cy.txt"
has_line "cy: Welsh reference label" "Ein cyfeirnod: HRL-7Q2X" "$T/cy.txt"
has_line "cy: Welsh page label" "Tudalen 1 o 1" "$T/cy.txt"
expect_grep "cy: Welsh circumflexes survive" 'Gŵyl, ŷd, â ê î ô û' "$T/cy.txt"
has_line "en: English date" "22 November 2026" "$T/en.txt"
has_line "en: English page label" "Page 1 of 1" "$T/en.txt"
expect_grep "en: the name inside the body comes back too" "^Dear $NAME,\$" "$T/en.txt"
expect_grep "en: emphasis is bold, not asterisks" '^Your driving licence expires' "$T/en.txt"
pdffonts "$T/en.pdf" >"$T/en.fonts" 2>&1
expect_grep "en: a bold face is embedded for emphasis" 'Bold.* yes ' "$T/en.fonts"
expect_no_grep "en: every font embedded" ' no +(yes|no) +(yes|no) +[0-9]' "$T/en.fonts"

# CJK and accented Latin names
for n in "李小龍" "山田 花子" "김민준" "Zoë Ångström-Ñúñez" "Siân Wyn Dafydd"; do
	printf '{"name":"%s","address":"1 Heol y Castell\\nCaerdydd\\nCF10 1AA","body":"x","locale":"en"}\n' \
		"$n" >"$T/n.json"
	"$LD" "$T/n.json" "$T/n.pdf" >/dev/null 2>&1
	totext "$T/n.pdf" "$T/n.txt"
	has_line "name '$n' comes back exactly" "$n" "$T/n.txt"
done
printf '{"name":"李小龍","address":"x","body":"x"}\n' >"$T/cjk.json"
"$LD" "$T/cjk.json" "$T/cjk.pdf" >/dev/null 2>&1
pdffonts "$T/cjk.pdf" >"$T/cjk.fonts" 2>&1
expect_grep "CJK drawn with a CJK font (fallback), not boxes" \
	'WenQuanYi|CJK|Han|Noto Sans (SC|TC|JP)' "$T/cjk.fonts"

# large print: the body is at least 16 pt, so the same text takes more pages
python3 - "$T" <<'PY'
import json, sys
body = "\n\n".join("Paragraph %d: this letter is long enough to show how the size of the "
                   "body text changes the number of pages it needs." % i for i in range(30))
for lp in (False, True):
    json.dump({"name": "Ada", "address": "1 High St\nSwansea", "body": body, "locale": "en",
               "large_print": lp}, open("%s/lp%d.json" % (sys.argv[1], lp), "w"))
PY
P0=$("$LD" "$T/lp0.json" "$T/lp0.pdf" | sed 's/[^0-9]//g')
P1=$("$LD" "$T/lp1.json" "$T/lp1.pdf" | sed 's/[^0-9]//g')
check "long letter: more than one page ($P0)" test "${P0:-0}" -ge 2
check "large print: more pages than normal print ($P1 > $P0)" test "${P1:-0}" -gt "${P0:-0}"
totext "$T/lp0.pdf" "$T/lp0.txt"
has_line "long letter: last page says Page $P0 of $P0" "Page $P0 of $P0" "$T/lp0.txt"
expect_grep "long letter: every paragraph is there" '^Paragraph 29:' "$T/lp0.txt"
pdftotext -bbox "$T/lp1.pdf" "$T/lp1.html" 2>/dev/null
python3 - "$T/lp1.html" >"$T/lp1.size" <<'PY'
import re, sys
# height of the word boxes of the body's first paragraph ("Paragraph")
hs = [float(m.group(2)) - float(m.group(1))
      for m in re.finditer(r'yMin="([0-9.]+)" xMax="[0-9.]+" yMax="([0-9.]+)">Paragraph<', open(sys.argv[1]).read())]
print("%.1f" % min(hs) if hs else "0")
PY
check "large print: body glyph boxes at least 16 pt high ($(cat "$T/lp1.size"))" \
	python3 -c "import sys; sys.exit(0 if float(open('$T/lp1.size').read()) >= 16 else 1)"

# hostile input never crashes the renderer (invalid UTF-8 is covered by the
# unit test: JSON cannot carry it)
printf '{"name":"\\u0001<b>&amp;","address":"","body":"*\\u202e evil \\u0007 * <span foreground=\\"red\\">","sender":"|||","subject":"\\u0085"}\n' >"$T/bad.json"
"$LD" "$T/bad.json" "$T/bad.pdf" >"$T/bad.out" 2>&1
expect_eq "hostile input: rendered" '{"pages":1}' "$(cat "$T/bad.out")"
totext "$T/bad.pdf" "$T/bad.txt"
expect_grep "hostile input: markup printed as text, not obeyed" '<b>&amp;' "$T/bad.txt"
finish
