#!/bin/sh
# t_render.sh - `heraldctl render`: every case of the Mustache core spec
# (136) through the command, byte for byte (tests/integration/render_spec.py
# writes each case to files under $T), then the command's own behaviour:
# --raw, partials, a shipped template, and clear errors with a non-zero exit.
. "$HERALD_SRC/tests/integration/lib.sh"

CTL="$BIN/heraldctl"
SPEC="$CONFORMANCE/mustache"

# ---- the spec, case by case ----------------------------------------------
# (skipped, and reported as such, when the conformance data is absent)
if [ ! -d "$SPEC" ]; then
	skip "the 136 Mustache spec cases: no conformance data at $SPEC" \
		"(set CONFORMANCE, or put it at ../shared/conformance)"
else
	mkdir -p "$T/spec"
	if ! python3 "$HERALD_SRC/tests/integration/render_spec.py" "$CTL" "$SPEC" "$T/spec" \
		>"$T/spec.out" 2>"$T/spec.err"; then
		not_ok "render_spec.py ran"
		sed 's/^/#   /' "$T/spec.err"
	fi
	tab=$(printf '\t')
	cases=0
	while IFS="$tab" read -r status label why; do
		cases=$((cases + 1))
		if [ "$status" = ok ]; then
			ok "$label"
		else
			not_ok "$label"
			diag "$why"
		fi
	done <"$T/spec.out"
	expect_eq "all 136 spec cases ran through heraldctl render" 136 "$cases"
fi

# ---- escaping: spec default, --raw ---------------------------------------
printf '<p>{{x}}</p>' >"$T/esc.mustache"
printf '{"x": "Ann & Bob'"'"'s <b>"}' >"$T/esc.json"
expect_eq "escapes by default" "<p>Ann &amp; Bob&#39;s &lt;b&gt;</p>" \
	"$("$CTL" render "$T/esc.mustache" "$T/esc.json")"
expect_eq "--raw does not escape" "<p>Ann & Bob's <b></p>" \
	"$("$CTL" render "$T/esc.mustache" "$T/esc.json" --raw)"
expect_eq "options before the files" "<p>Ann & Bob's <b></p>" \
	"$("$CTL" render --raw "$T/esc.mustache" "$T/esc.json")"

# ---- nothing added: no trailing newline, empty output is empty -----------
printf '' >"$T/empty.mustache"
"$CTL" render "$T/empty.mustache" "$T/esc.json" >"$T/empty.out"
check "empty template renders zero bytes" test ! -s "$T/empty.out"
printf 'a{{x}}' >"$T/nonl.mustache"
"$CTL" render --raw "$T/nonl.mustache" "$T/esc.json" >"$T/nonl.out"
expect_eq "no newline added" "$(printf 'aAnn & Bob'"'"'s <b>' | od -c)" "$(od -c <"$T/nonl.out")"

# ---- a shipped template body with the shipped partials -------------------
sed '1,/^---$/d' "$HERALD_SRC/templates/payment-due/email.cy.mustache" \
	>"$T/pay.mustache"
cat >"$T/pay.json" <<'JSON'
{"name": "Siân", "amount": "£120.00", "due_date": "31 Rhagfyr 2026",
 "transaction": {"reference": "HRL-7K3Q-9PXM"}}
JSON
"$CTL" render --raw "$T/pay.mustache" "$T/pay.json" --partials "$HERALD_SRC/templates/_partials" \
	>"$T/pay.out" 2>"$T/pay.err"
expect_grep "Welsh template renders with the shipped footer partial" \
	'^Eich cyfeirnod yw HRL-7K3Q-9PXM\.' "$T/pay.out"
expect_grep "Welsh text and data pass through" '^Annwyl Siân,$' "$T/pay.out"

# ---- errors: non-zero exit and a clear message ---------------------------
# expect_fail DESCRIPTION PATTERN ARGS...: exit 1, stderr matches, no stdout.
expect_fail() {
	_d=$1
	_pat=$2
	shift 2
	"$CTL" render "$@" >"$T/fail.out" 2>"$T/fail.err"
	_rc=$?
	if [ $_rc -ne 0 ] && [ ! -s "$T/fail.out" ] && grep -Eq -- "$_pat" "$T/fail.err"; then
		ok "$_d"
	else
		not_ok "$_d"
		diag "exit $_rc, stderr: $(cat "$T/fail.err")"
	fi
}
printf 'Dear {{name}},\n{{#items}}\n- {{.}}\n' >"$T/bad.mustache"
expect_fail "unclosed section: exit 1, file and line named" \
	"bad\.mustache: line 2: unclosed section 'items'" "$T/bad.mustache" "$T/esc.json"
printf 'a\n{{#a}}{{/b}}' >"$T/bad2.mustache"
expect_fail "mismatched close" "line 2: mismatched close 'b'" "$T/bad2.mustache" "$T/esc.json"
printf 'x {{name' >"$T/bad3.mustache"
expect_fail "unclosed tag" "line 1: unclosed tag" "$T/bad3.mustache" "$T/esc.json"
expect_fail "missing template file" "nope\.mustache: No such file or directory" \
	"$T/nope.mustache" "$T/esc.json"
expect_fail "missing data file" "nope\.json" "$T/esc.mustache" "$T/nope.json"
printf '{"x": ' >"$T/badjson.json"
expect_fail "bad JSON names the file and line" "badjson\.json: line 1: " "$T/esc.mustache" \
	"$T/badjson.json"
printf '{{>loop}}' >"$T/loop.mustache"
expect_fail "partial recursion is an error, not a crash" "nested deeper than" \
	"$T/loop.mustache" "$T/esc.json" --partials "$T"
"$CTL" render "$T/esc.mustache" >/dev/null 2>"$T/usage.err"
expect_eq "missing argument is a usage error (exit 2)" 2 $?
expect_grep "usage text documents --raw" '--raw' "$T/usage.err"

finish
