#!/bin/sh
# t_sms_info.sh - `heraldctl sms-info TEXT` prints the encoding, length and
# segment count a template author needs, and refuses invalid UTF-8.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

info() { "$BIN/heraldctl" sms-info "$@" 2>"$T/err"; }
rep() { python3 -c 'import sys; sys.stdout.write(sys.argv[1] * int(sys.argv[2]))' "$1" "$2"; }

expect_eq "plain ascii" "encoding=gsm7 chars=5 segments=1" "$(info hello)"
expect_eq "160 septets fit one sms" "encoding=gsm7 chars=160 segments=1" "$(info "$(rep a 160)")"
expect_eq "161 septets need two parts" "encoding=gsm7 chars=161 segments=2" "$(info "$(rep a 161)")"
expect_eq "euro counts two septets" "encoding=gsm7 chars=161 segments=2" \
	"$(info "$(rep a 159)€")"
expect_eq "one w-circumflex makes it ucs2" "encoding=ucs2 chars=71 segments=2" \
	"$(info "$(rep a 70)ŵ")"
expect_eq "emoji counts two utf-16 units" "encoding=ucs2 chars=4 segments=1" "$(info "ok😀")"
expect_eq "empty text" "encoding=gsm7 chars=0 segments=0" "$(info "")"
expect_eq "text from stdin, trailing newline dropped" "encoding=gsm7 chars=7 segments=1" \
	"$(printf 'Diolch!\n' | info -)"

bad=$(printf 'caf\351')
"$BIN/heraldctl" sms-info "$bad" >"$T/out" 2>"$T/err"
expect_eq "invalid UTF-8 exits 1" 1 $?
expect_grep "invalid UTF-8 is explained" 'not valid UTF-8' "$T/err"
check "invalid UTF-8 prints no figures" test ! -s "$T/out"

"$BIN/heraldctl" sms-info >"$T/out" 2>"$T/err"
expect_eq "missing TEXT exits 2" 2 $?
expect_grep "usage explains what chars means" 'septets.*gsm7' "$T/err"
finish
