#!/bin/sh
# t_lib_version.sh - the function library "herald" is versioned
# (router/scripts.h HERALD_LIB_VERSION, answered by herald_version), and
# heraldd replaces the library Redis holds only when it is older, or has no
# version, or is its own version with other code: during a rolling upgrade
# an older heraldd that connects after a newer one keeps the newer library
# (the functions the newer one calls stay). Real heraldd and Redis:
#
#   1. a fresh Redis: heraldd loads its library, herald_version answers it;
#   2. a library that claims a higher version and has an extra function:
#      heraldd (restarted, and reconnecting after a Redis restart) keeps it,
#      with a notice; the extra function survives; an event is still
#      delivered through the file channel;
#   3. an older library (a lower version, without herald_pipe), and one
#      with no version at all (as before versions): replaced, herald_pipe
#      is back, delivery works;
#   4. heraldd's own version with other code: replaced, with a notice.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

start_redis
write_conf
LOG=$T/log/delivery.log
V=$(sed -n 's/^#define HERALD_LIB_VERSION \([0-9][0-9]*\)$/\1/p' "$HERALD_SRC/router/scripts.h")
NEWER=$((V + 7))
seed_citizen c-1 name Ada channels file locale en
ev() {
	printf '{"event_id":"%s","service":"dvla","citizen_id":"c-1","transaction_id":"tx-%s","template":"payment-due","personalisation":{"name":"Ada","amount":"5","due_date":"1 May 2027"}}' "$1" "$1"
}
delivered() { # delivered EVENT WHAT
	publish "$(ev "$1")" >/dev/null
	check "$2: $1 is delivered through the file channel" \
		wait_for 20 grep -Eq " $1: .*channel=file.*status=delivered" "$LOG"
	check "$2: ... and is in the spool file" grep -q "\"$1\"" "$T/spool/file.jsonl"
}
# the library's code as Redis holds it
lib_code() {
	rcli --raw FUNCTION LIST LIBRARYNAME herald WITHCODE | sed -n '/^library_code$/,$p' | tail -n +2
}
# load FILE: FUNCTION LOAD REPLACE its code
load() { redis-cli -p "$REDIS_PORT" -x FUNCTION LOAD REPLACE <"$1"; }
has_fn() { rcli FUNCTION LIST LIBRARYNAME herald | grep -qx "$1"; }
restart_heraldd() {
	stop_heraldd
	start_heraldd
}

# ---- 1. a fresh Redis ---------------------------------------------------------
check "router/scripts.h gives the library's version ($V)" test -n "$V"
start_heraldd
expect_eq "heraldd loaded its library: herald_version answers $V" "$V" \
	"$(rcli FCALL_RO herald_version 0)"
lib_code >"$T/ours.lua"
expect_grep "the version is in the library's code" "^local herald_library_version = $V\$" "$T/ours.lua"
delivered v-1 "its own library"

# ---- 2. a newer library: kept ---------------------------------------------------
sed "s/^local herald_library_version = $V\$/local herald_library_version = $NEWER/" "$T/ours.lua" >"$T/newer.lua"
printf "redis.register_function('herald_extra', function() return 'from a newer heraldd' end)\n" >>"$T/newer.lua"
expect_eq "a newer library (version $NEWER, with herald_extra) is loaded" herald "$(load "$T/newer.lua")"
restart_heraldd
expect_grep "heraldd keeps it, with a notice" \
	"notice: redis 127.0.0.1:$REDIS_PORT: function library version $NEWER loaded by a newer heraldd; kept \\(this heraldd's is $V\\)" \
	"$T/heraldd.out"
expect_eq "herald_version still answers $NEWER" "$NEWER" "$(rcli FCALL_RO herald_version 0)"
expect_eq "the newer library's extra function survives" "from a newer heraldd" \
	"$(rcli FCALL herald_extra 0)"
delivered v-2 "under the newer library"
# a reconnect (Redis restarted, its AOF holds the library) keeps it too
redis_stop TERM
redis_up
check "heraldd reconnects" wait_for 20 grep -q 'redis 127.0.0.1:[0-9]*: reconnected' "$T/heraldd.out"
expect_eq "after the reconnect herald_extra is still there" "from a newer heraldd" \
	"$(rcli FCALL herald_extra 0)"
delivered v-3 "after the reconnect"
expect_eq "the notice is said once (not at every reconnect)" 1 \
	"$(grep -c "function library version $NEWER loaded by a newer heraldd" "$T/heraldd.out")"

# ---- 3. an older library, and one without a version: replaced -----------------
sed -e "s/^local herald_library_version = $V\$/local herald_library_version = $((V - 1))/" \
	-e "/register_function('herald_pipe'/d" "$T/ours.lua" >"$T/older.lua"
expect_eq "an older library (version $((V - 1)), no herald_pipe) is loaded" herald "$(load "$T/older.lua")"
restart_heraldd
expect_eq "heraldd replaced it: herald_version answers $V" "$V" "$(rcli FCALL_RO herald_version 0)"
check "herald_pipe is back" has_fn herald_pipe
expect_grep "the replacement is logged" "function library version $((V - 1)) replaced by version $V" \
	"$T/heraldd.out"
delivered v-4 "after replacing an older library"
sed -e "/^local herald_library_version = /d" -e "/herald_version/d" -e "/callback = function() return herald_library_version/d" \
	-e "/register_function('herald_pipe'/d" "$T/ours.lua" >"$T/unversioned.lua"
expect_eq "a library without a version (before versions) is loaded" herald "$(load "$T/unversioned.lua")"
restart_heraldd
expect_eq "heraldd replaced it: herald_version answers $V" "$V" "$(rcli FCALL_RO herald_version 0)"
check "herald_pipe is back" has_fn herald_pipe
delivered v-5 "after replacing an unversioned library"

# ---- 4. the same version with other code: replaced, with a notice --------------
{
	cat "$T/ours.lua"
	printf -- "-- changed without a new version\n"
} >"$T/same.lua"
expect_eq "heraldd's version with other code is loaded" herald "$(load "$T/same.lua")"
restart_heraldd
expect_grep "heraldd replaces it, with a notice" \
	"notice: .*function library version $V with other code \\(changed without a new version\\): replaced" \
	"$T/heraldd.out"
lib_code >"$T/now.lua"
expect_no_grep "the library is heraldd's own again" 'changed without a new version' "$T/now.lua"
loads() { rcli INFO commandstats | sed -n 's/^cmdstat_function|load:calls=\([0-9]*\),.*/\1/p'; }
n=$(loads)
restart_heraldd
expect_eq "its own library already loaded: no FUNCTION LOAD at a restart" "$n" "$(loads)"
stop_heraldd
assert_clean_log "$T/heraldd.out"
finish
