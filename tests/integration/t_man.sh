#!/bin/sh
# t_man.sh - the man pages (man/): mandoc -T lint finds nothing in any of
# them, and each still describes what the code has: every heraldd option,
# every heraldctl command and option its --help lists, every configuration
# key heraldd and the shipped plugins read (and every key of
# herald.conf.example), every member of struct herald_channel.
. "$HERALD_SRC/tests/integration/lib.sh"

MAN=$HERALD_SRC/man

# ---- mandoc -T lint ----------------------------------------------------------
if ! command -v mandoc >/dev/null; then
	not_ok "mandoc is installed (scripts/deps.sh)"
	finish
fi
for p in heraldd.8 heraldctl.1 herald.conf.5 herald-channel.7; do
	if [ ! -f "$MAN/$p" ]; then
		not_ok "man/$p exists"
		continue
	fi
	# -W style: every message, down to style; lint exits 0 only when clean
	if mandoc -T lint -W style "$MAN/$p" >"$T/lint.$p" 2>&1 && [ ! -s "$T/lint.$p" ]; then
		ok "mandoc -T lint: man/$p clean"
	else
		not_ok "mandoc -T lint: man/$p clean"
		sed 's/^/#   /' "$T/lint.$p"
	fi
	# it renders (a page that renders to nothing would pass lint)
	n=$(mandoc -T utf8 "$MAN/$p" 2>/dev/null | wc -l)
	check "man/$p renders ($n lines)" [ "$n" -gt 40 ]
done
for p in "$MAN"/*; do
	case "${p##*/}" in heraldd.8 | heraldctl.1 | herald.conf.5 | herald-channel.7) ;;
	*) mandoc -T lint -W style "$p" >/dev/null 2>&1 || not_ok "mandoc -T lint: ${p##*/} clean" ;;
	esac
done

# roff escapes a '-' as '\-': look words up in that form.
man_has() { # man_has PAGE WORD: WORD (with - as \-) in PAGE
	_w=$(printf '%s' "$2" | sed 's/-/\\\\-/g')
	grep -q -- "$_w" "$MAN/$1"
}

# ---- heraldd(8): every option of heraldd -h ------------------------------------
"$BIN/heraldd" -h >"$T/heraldd.help" 2>&1
missing=""
for o in $(sed -n 's/^ *\(-[a-zA-Z]\) .*/\1/p' "$T/heraldd.help") -h; do
	man_has heraldd.8 "$o" || missing="$missing $o"
done
expect_eq "heraldd(8) describes every option heraldd -h lists" "" "$missing"
for s in SIGHUP SIGUSR1 SIGTERM "EXIT STATUS" FILES; do
	check "heraldd(8) has $s" grep -q "$s" "$MAN/heraldd.8"
done

# ---- heraldctl(1): a subsection per command, every option ---------------------
"$BIN/heraldctl" --help >"$T/ctl.help" 2>&1
cmds=$(sed -n 's/^  heraldctl \([a-z][a-z-]*\).*/\1/p' "$T/ctl.help")
check "heraldctl --help lists commands ($(echo $cmds))" [ -n "$cmds" ]
missing=""
for c in $cmds; do
	grep -q "^\.SS $(printf '%s' "$c" | sed 's/-/\\\\-/g')\$" "$MAN/heraldctl.1" || missing="$missing $c"
done
expect_eq "heraldctl(1) has a subsection for every command" "" "$missing"
missing=""
for o in $(grep -oE '(^| |\[)--?[a-z][a-z-]*' "$T/ctl.help" | sed 's/^[ [|]*//' | sort -u); do
	man_has heraldctl.1 "$o" || missing="$missing $o"
done
expect_eq "heraldctl(1) describes every option heraldctl --help lists" "" "$missing"

# ---- herald.conf(5): every key read ----------------------------------------------
# Keys of the example file (set or commented out), then every key the
# router and the plugins read by name.
{
	sed -n 's/^;* *\([a-z_][a-z_]*\) *=.*/\1/p' "$HERALD_SRC/herald.conf.example"
	find "$HERALD_SRC/router" "$HERALD_SRC/lib" "$HERALD_SRC/channels" -name '*.c' 2>/dev/null |
		xargs grep -ohE '(conf_get_def|conf_get|config_get)\([^,]+, *[^,]+, *"[a-z_]+"|(get_int|cb_get_long)\([^,]+, *[a-z"_]+, *"[a-z_]+"|config_channel_long\([^,]+, *[a-z]+, *"[a-z_]+"|(conf_str|conf_int|conf_long|conf_num)\((h|host), *"[a-z_]+"|->conf\(host->ctx, *"[a-z_]+"|get\(ctx, (NULL|"[a-z]+"), *"[a-z_]+"' |
		sed 's/.*"\([a-z_]*\)"$/\1/'
} | sort -u >"$T/keys"
nkeys=$(wc -l <"$T/keys")
check "found the configuration keys in the sources ($nkeys)" [ "$nkeys" -gt 50 ]
missing=""
for k in $(cat "$T/keys"); do
	grep -qE "^\.(B|BR|BI) (\")?$k([ \"]|$)|, $k \"|, $k = |\" $k \"" "$MAN/herald.conf.5" || missing="$missing $k"
done
expect_eq "herald.conf(5) describes every key the code reads" "" "$missing"

# ---- lib/confkeys.c: every key heraldd itself reads is known to the strict
# check (an unknown key stops the start), so a key added to router/ without
# its table entry would refuse every config that sets it
find "$HERALD_SRC/router" -name '*.c' |
	xargs grep -ohE '(conf_get_def|conf_get|config_get)\([^,]+, *"[a-z.]+", *"[a-z_]+"|(get_int|get_ms|get_duration|cb_get_long)\([^,]+, *"[a-z.]+", *"[a-z_]+"' |
	sed 's/.*"\([a-z.]*\)", *"\([a-z_]*\)"$/\1 \2/' | sort -u >"$T/router_keys"
check "found the keys heraldd reads by section ($(wc -l <"$T/router_keys"))" [ "$(wc -l <"$T/router_keys")" -gt 20 ]
missing=""
while read -r sec key; do
	grep -qE "\{\"$sec\", \"$key\"" "$HERALD_SRC/lib/confkeys.c" || missing="$missing [$sec]$key"
done <"$T/router_keys"
expect_eq "lib/confkeys.c lists every key heraldd reads" "" "$missing"

# ---- herald-channel(7): every member of struct herald_channel ------------------
sed -n '/^struct herald_channel {/,/^};/p' "$HERALD_SRC/include/herald/channel.h" |
	grep -vE '^[[:space:]]*(/\*|\*)' |
	sed -nE 's/.*\(\*([a-z_]+)\)\(.*/\1/p; s/^[[:space:]]+[a-z].*[ *]([a-z_]+);.*/\1/p' >"$T/members"
check "struct herald_channel has members ($(wc -l <"$T/members"))" [ "$(wc -l <"$T/members")" -ge 10 ]
missing=""
for m in $(cat "$T/members"); do
	grep -qE "^\.B .*[ *(]$m[;)]?( |\(|$)" "$MAN/herald-channel.7" || missing="$missing $m"
done
expect_eq "herald-channel(7) describes every member of struct herald_channel" "" "$missing"

finish
