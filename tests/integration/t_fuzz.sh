#!/bin/sh
# t_fuzz.sh - each libFuzzer target (tests/fuzz/, built by make check with
# clang, ASan and UBSan) runs: fuzz_template FUZZ_SECONDS (15) from the
# templates, driving the Mustache engine through recursion and limits;
# every other target (event parse, sms and fax receipt parsers, the sms
# inbound form parsers (Kannel, Twilio, JSON), form
# decoding, MIME encoders, config) runs NEW_SECS (10) from its seeds in
# tests/fuzz/corpus/<x>/. A finding (abort, sanitizer report, leak) fails
# the test with its input.
. "$HERALD_SRC/tests/integration/lib.sh"

NAMES="fuzz_template fuzz_event fuzz_sms_receipt fuzz_sms_inbound fuzz_fax_receipt fuzz_form fuzz_mime fuzz_config"
for name in $NAMES; do
	SECS=${FUZZ_SECONDS:-15}
	case $name in fuzz_template) ;; *) SECS=${NEW_SECS:-${FUZZ_SECONDS:-10}} ;; esac
	bin=$BIN/fuzz/$name
	if [ ! -x "$bin" ]; then
		not_ok "$name is built (make fuzz-bins, needs clang)"
		continue
	fi
	corpus=$T/$name.corpus
	mkdir -p "$corpus"
	case $name in
	fuzz_template)
		i=0
		for f in "$HERALD_SRC"/templates/*/*.mustache "$HERALD_SRC"/templates/_partials/*.mustache; do
			i=$((i + 1))
			cp "$f" "$corpus/t$i"
		done
		;;
	*) cp "$HERALD_SRC/tests/fuzz/corpus/${name#fuzz_}"/* "$corpus"/ ;;
	esac
	(cd "$T" && "$bin" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$T/$name-" \
		"$corpus" >"$T/$name.log" 2>&1)
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$T/$name.log")
	if [ $rc -eq 0 ] && [ "${runs:-0}" -gt 1000 ]; then
		ok "$name: $runs inputs in $SECS s, no finding"
	else
		not_ok "$name: exit $rc after ${runs:-0} inputs"
		grep -E 'ERROR|SUMMARY|^MS:|artifact|deadly' "$T/$name.log" | head -10 | sed 's/^/# /'
	fi
done
finish
