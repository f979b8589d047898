#!/bin/sh
# check-layout.sh [ROOT] - the dependency rules of Herald's source tree,
# checked over every #include line and over the Makefile's link lists
# (`make print-links`). Prints each breach and exits 1; exits 0 when none.
#
#   util/              may use nothing of Herald's
#   lib/               util/, include/herald/
#   router/ (heraldd)  lib/, util/, include/herald/
#   tools/ (heraldctl) lib/, util/
#   channels/common/   util/, include/herald/
#   channels/<name>/   channels/common/, util/, include/herald/ (no other
#                      plugin's files)
# tests/ may use anything. An area may always use its own files.
set -u
ROOT=${1:-.}
cd "$ROOT" || exit 2
fail=0
bad() {
	echo "layout: $*" >&2
	fail=1
}

# The area a path (relative to ROOT) belongs to; "" outside the rules.
area_of() {
	case $1 in
	util/*) echo util ;;
	lib/*) echo lib ;;
	router/*) echo router ;;
	tools/*) echo tools ;;
	include/*) echo include ;;
	channels/common/*) echo common ;;
	channels/*/*)
		_c=${1#channels/}
		echo "channel:${_c%%/*}"
		;;
	*) echo "" ;;
	esac
}

# The areas an area may use, itself first.
allowed() {
	case $1 in
	util) echo "util" ;;
	lib) echo "lib util include" ;;
	router) echo "router lib util include" ;;
	tools) echo "tools lib util" ;;
	common) echo "common util include" ;;
	channel:*) echo "$1 common util include" ;;
	include) echo "include" ;;
	esac
}

dir_of_area() {
	case $1 in
	common) echo channels/common ;;
	channel:*) echo "channels/${1#channel:}" ;;
	*) echo "$1" ;;
	esac
}

may_use() { # may_use FROM_AREA TO_AREA
	for _a in $(allowed "$1"); do
		[ "$_a" = "$2" ] && return 0
	done
	return 1
}

# Normalise a relative path (a/b/../c -> a/c).
normpath() {
	echo "$1" | awk -F/ '{
		n = 0
		for (i = 1; i <= NF; i++) {
			if ($i == "" || $i == ".") continue
			if ($i == ".." && n > 0) { n--; continue }
			p[++n] = $i
		}
		s = ""
		for (i = 1; i <= n; i++) s = s (i > 1 ? "/" : "") p[i]
		print s
	}'
}

# ---- #include lines -------------------------------------------------------
files=$(find util lib router tools include channels -name '*.[ch]' 2>/dev/null | sort)
for f in $files; do
	from=$(area_of "$f")
	dir=$(dirname "$f")
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$f" |
		sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*\(["<]\)\([^">]*\).*/\1 \2 \3/' |
		while read -r line kind name; do
			if [ "$kind" = "<" ]; then
				case $name in
				herald/*) target=include/$name ;;
				*) continue ;; # a system header
				esac
			elif [ -f "$dir/$name" ]; then
				target=$(normpath "$dir/$name")
			else
				# the first of the area's own search directories that holds it
				target=""
				for a in $(allowed "$from"); do
					d=$(dir_of_area "$a")
					if [ -f "$d/$name" ]; then
						target=$(normpath "$d/$name")
						break
					fi
				done
				if [ -z "$target" ]; then
					where=$(find util lib router tools include channels -path "*/$name" 2>/dev/null | head -n 1)
					if [ -n "$where" ]; then
						target=$where
					else
						echo "layout: $f:$line: #include \"$name\" is nowhere in the tree" >&2
						echo FAIL
						continue
					fi
				fi
			fi
			to=$(area_of "$target")
			[ -z "$to" ] && to=outside
			if ! may_use "$from" "$to"; then
				echo "layout: $f:$line: includes $target ($to), which $(dir_of_area "$from")/ may not use" >&2
				echo FAIL
			fi
		done
done >"${TMPDIR:-/tmp}/check-layout.$$"
if grep -q FAIL "${TMPDIR:-/tmp}/check-layout.$$"; then
	fail=1
fi
rm -f "${TMPDIR:-/tmp}/check-layout.$$"

# ---- link lists -----------------------------------------------------------
links=$(make -s --no-print-directory print-links 2>/dev/null) || {
	bad "make print-links failed"
	links=""
}
[ -n "$links" ] || bad "make print-links printed no link list"
echo "$links" | while read -r prog objs; do
	[ -n "$prog" ] || continue
	case $prog in
	heraldd:) from=router ;;
	heraldctl:) from=tools ;;
	channel-*:)
		from=${prog#channel-}
		from=channel:${from%:}
		;;
	*) continue ;;
	esac
	for o in $objs; do
		case $o in
		*/libherald.a) to=lib ;;
		*/libherald-util.a) to=util ;;
		*/obj/*) to=$(area_of "${o#*/obj/}") ;;
		*) to=outside ;;
		esac
		[ -z "$to" ] && to=outside
		if ! may_use "$from" "$to"; then
			echo "layout: ${prog%:} links $o ($to), which $(dir_of_area "$from")/ may not use" >&2
			echo FAIL
		fi
	done
done >"${TMPDIR:-/tmp}/check-layout.$$"
if grep -q FAIL "${TMPDIR:-/tmp}/check-layout.$$"; then
	fail=1
fi
rm -f "${TMPDIR:-/tmp}/check-layout.$$"

# Receipts go through the Redis pipeline (rdb_cmdf with callbacks): a
# synchronous rdb_call per receipt would stall the router thread.
if grep -n 'rdb_call(' router/receipt.c >&2; then
	bad "router/receipt.c makes a synchronous Redis call (use rdb_cmdf with a callback)"
fi

[ $fail -eq 0 ] && echo "layout: every #include and link list keeps the rules"
exit $fail
