#!/bin/sh
# t_optout_ctl.sh - heraldctl optout: an operator lists a citizen's
# opt-outs (every service and per service, with when and why) and invalid
# addresses, takes a channel out (--remove: the field and its _at go when
# the list is empty; heraldd sends by that channel again), puts one in
# (--add: heraldd no longer sends by it for that service) and clears an
# invalid mark (--valid); each change is one line in herald:oplog with no
# personal data but the citizen id; addresses in the notes are masked; a
# heraldd write racing the edit is not lost (the edit is one Lua script);
# unknown citizens, bad channel and service names fail clearly; under
# [ingest] auth = curve --add --service refuses a service services.d does
# not have (naming those it has) unless --force, and --remove cleans up an
# opt-out of any service.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
write_conf
start_heraldd
ctl() { "$BIN/heraldctl" -c "$T/herald.conf" optout "$@"; }
ev() { # ev ID CITIZEN
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}' "$1" "$2"
}

seed_citizen c-1 name Ada channels "file,sms" phone "+447700900123" \
	optout "sms,email" optout_at "2026-12-01T09:00:00Z email: complaint (abuse) (event e-9)" \
	optout@news "email" optout@news_at "2026-12-02T10:00:00Z email: one-click unsubscribe (event e-7)" \
	invalid "sms,fax" invalid_sms "2026-12-03T11:00:00Z 550 5.1.1 <ada.lovelace@example.org> unknown; +447700900123 (event e-5)" \
	invalid_fax "2026-12-03T12:00:00Z not-fax (event e-6)"

# ---- listing ----------------------------------------------------------------
ctl c-1 >"$T/list.out" 2>&1
expect_eq "optout CITIZEN exits 0" 0 $?
expect_grep "lists the every-service opt-outs" '^opted out \(every service\): sms,email$' "$T/list.out"
expect_grep "with when and why" '^  last added: 2026-12-01T09:00:00Z email: complaint \(abuse\) \(event e-9\)$' "$T/list.out"
expect_grep "lists the per-service opt-outs" '^opted out \(service news\): email$' "$T/list.out"
expect_grep "lists the invalid addresses" '^invalid addresses: sms,fax$' "$T/list.out"
expect_grep "with the reason of each" '^  fax: 2026-12-03T12:00:00Z not-fax \(event e-6\)$' "$T/list.out"
expect_no_grep "the address in a note is masked" 'ada\.lovelace@|7700900123' "$T/list.out"
expect_grep "... and still shown masked" '^  sms: .*<a\*+@example\.org>' "$T/list.out"

# ---- failing cases ------------------------------------------------------------
ctl nobody >"$T/e1" 2>&1
expect_eq "an unknown citizen: exit 1" 1 $?
expect_grep "... saying so" "no citizen 'nobody'" "$T/e1"
ctl nobody --remove sms >"$T/e2" 2>&1
expect_eq "--remove on an unknown citizen: exit 1" 1 $?
expect_grep "... saying so" "no citizen 'nobody'" "$T/e2"
expect_eq "... and no hash was made" 0 "$(rcli EXISTS herald:citizen:nobody)"
ctl c-1 --add 'SMS!' >"$T/e3" 2>&1
expect_eq "a bad channel name: exit 2" 2 $?
expect_grep "... saying what a channel name is" "'SMS!' is not a channel name" "$T/e3"
ctl c-1 --remove email --service 'news@x' >"$T/e4" 2>&1
expect_eq "a service name with bad characters: exit 2" 2 $?
expect_grep "... saying so" "--service 'news@x' is not a service name" "$T/e4"
ctl c-1 --add email --service 'a,b' >/dev/null 2>&1
expect_eq "a service name with a comma: exit 2" 2 $?
ctl c-1 --valid sms --service news >/dev/null 2>&1
expect_eq "--valid with --service: usage, exit 2" 2 $?
ctl c-1 --add sms --remove email >/dev/null 2>&1
expect_eq "two actions at once: usage, exit 2" 2 $?
ctl >/dev/null 2>&1
expect_eq "no citizen: usage, exit 2" 2 $?
ctl c-1 --remove fax >"$T/e5" 2>&1
expect_eq "--remove of a channel not in the list: exit 1" 1 $?
expect_grep "... saying so" 'fax is not in the opt-outs for every service; nothing changed' "$T/e5"
expect_eq "the failures wrote nothing to herald:oplog" 0 "$(rcli LLEN herald:oplog)"

# ---- --remove: the list shrinks, _at about another channel stays ------------
ctl c-1 --remove sms >"$T/r1" 2>&1
expect_eq "--remove sms exits 0" 0 $?
expect_eq "optout is now email" email "$(rcli HGET herald:citizen:c-1 optout)"
expect_eq "optout_at (about email) stays" "2026-12-01T09:00:00Z email: complaint (abuse) (event e-9)" \
	"$(rcli HGET herald:citizen:c-1 optout_at)"
ctl c-1 --remove email >/dev/null 2>&1
expect_eq "--remove of the last channel drops the field" 0 "$(rcli HEXISTS herald:citizen:c-1 optout)"
expect_eq "... and its _at" 0 "$(rcli HEXISTS herald:citizen:c-1 optout_at)"
ctl c-1 --remove email --service news >/dev/null 2>&1
expect_eq "--remove --service news drops optout@news" 0 "$(rcli HEXISTS herald:citizen:c-1 optout@news)"
expect_eq "... and optout@news_at" 0 "$(rcli HEXISTS herald:citizen:c-1 optout@news_at)"
expect_eq "the rest of the record is untouched" "+447700900123" "$(rcli HGET herald:citizen:c-1 phone)"

# ---- --valid ------------------------------------------------------------------
ctl c-1 --valid sms >/dev/null 2>&1
expect_eq "--valid sms exits 0" 0 $?
expect_eq "invalid is now fax" fax "$(rcli HGET herald:citizen:c-1 invalid)"
expect_eq "invalid_sms is gone" 0 "$(rcli HEXISTS herald:citizen:c-1 invalid_sms)"
expect_eq "invalid_fax stays" 1 "$(rcli HEXISTS herald:citizen:c-1 invalid_fax)"
ctl c-1 --valid fax >/dev/null 2>&1
expect_eq "--valid of the last one drops invalid" 0 "$(rcli HEXISTS herald:citizen:c-1 invalid)"
ctl c-1 --valid fax >/dev/null 2>&1
expect_eq "--valid again: not marked, exit 1" 1 $?

# ---- --add ---------------------------------------------------------------------
ctl c-1 --add file --service dvla >"$T/a1" 2>&1
expect_eq "--add file --service dvla exits 0" 0 $?
expect_eq "optout@dvla is file" file "$(rcli HGET herald:citizen:c-1 optout@dvla)"
rcli HGET herald:citizen:c-1 optout@dvla_at >"$T/a1.at"
expect_grep "optout@dvla_at says an operator added it" \
	"^20[0-9-]*T[0-9:.]*Z file: added by operator $(id -un)\$" "$T/a1.at"
ctl c-1 --add file --service dvla >"$T/a2" 2>&1
expect_eq "--add again: nothing to do, exit 0" 0 $?
expect_grep "... saying so" 'already in the opt-outs for service dvla' "$T/a2"

# ---- the oplog ----------------------------------------------------------------
rcli LRANGE herald:oplog 0 -1 >"$T/oplog"
expect_eq "six changes, six herald:oplog entries" 6 "$(grep -c . "$T/oplog")"
expect_grep "an add is logged with the operator, citizen id, channel and service" \
	"\"user\":\"$(id -un)\",\"action\":\"optout-add\",\"id\":\"c-1\",\"channel\":\"file\",\"service\":\"dvla\"" "$T/oplog"
expect_grep "a remove is logged" '"action":"optout-remove","id":"c-1","channel":"sms"}' "$T/oplog"
expect_grep "a --valid is logged" '"action":"optout-valid","id":"c-1","channel":"fax"}' "$T/oplog"
expect_no_grep "no address or name in herald:oplog" '7700900123|Ada|example' "$T/oplog"

# ---- heraldd obeys ------------------------------------------------------------
publish "$(ev o-1 c-1)" >/dev/null
check "after --add, a dvla event does not go by file" \
	wait_for 10 grep -q 'o-1: .*no usable channel: file: opted out of this service' "$T/log/delivery.log"
expect_eq "nothing reached the file channel" 0 "$(cat "$T/spool/file.jsonl" 2>/dev/null | grep -c '"event_id":"o-1"')"
ctl c-1 --remove file --service dvla >/dev/null 2>&1
publish "$(ev o-2 c-1)" >/dev/null
check "after --remove, the next dvla event goes by file again" \
	wait_for 10 grep -q 'o-2: .*channel=file.*status=delivered' "$T/log/delivery.log"

# ---- a heraldd write racing the edits is kept --------------------------------
# 200 adds of x0..x199 by "heraldd" (HSET of the whole list, read-modify-write
# as router/optout.c does, but in one script so it is itself atomic) while
# heraldctl adds and removes "sms" 20 times: every x survives.
rcli HSET herald:citizen:c-1 optout@race "" >/dev/null
(
	i=0
	while [ $i -lt 200 ]; do
		rcli EVAL "local o = redis.call('HGET', KEYS[1], 'optout@race') or ''; if o ~= '' then o = o .. ',' end; redis.call('HSET', KEYS[1], 'optout@race', o .. ARGV[1]); return 1" 1 herald:citizen:c-1 "x$i" >/dev/null
		i=$((i + 1))
	done
) &
RACER=$!
track_pid $RACER
j=0
while [ $j -lt 20 ]; do
	ctl c-1 --add sms --service race >/dev/null 2>&1
	ctl c-1 --remove sms --service race >/dev/null 2>&1
	j=$((j + 1))
done
wait $RACER
n=$(rcli HGET herald:citizen:c-1 optout@race | tr ',' '\n' | grep -c '^x')
expect_eq "every racing write survived the operator's edits" 200 "$n"
rcli HGET herald:citizen:c-1 optout@race >"$T/race"
expect_no_grep "... and sms is out again" 'sms' "$T/race"

# ---- under auth = curve, --add --service knows the services ------------------
add_service dvla
add_service news
sed 's/^auth = none$/auth = curve/' "$T/herald.conf" >"$T/curve.conf"
cctl() { "$BIN/heraldctl" -c "$T/curve.conf" optout "$@"; }
cctl c-1 --add email --service dvlaa >"$T/s1" 2>&1
expect_eq "--add for a service services.d does not have: exit 2" 2 $?
expect_grep "... naming it, the directory and the services there" \
	"no service 'dvlaa' in $T/services.d \\(known: (dvla, news|news, dvla)\\); --force adds" "$T/s1"
expect_eq "... and nothing was written" 0 "$(rcli HEXISTS herald:citizen:c-1 optout@dvlaa)"
cctl c-1 --add email --service dvla >/dev/null 2>&1
expect_eq "--add for a configured service: exit 0" 0 $?
expect_eq "... written" email "$(rcli HGET herald:citizen:c-1 optout@dvla)"
cctl c-1 --add email --service newsletter --force >"$T/s2" 2>&1
expect_eq "--force adds it for a service not configured yet: exit 0" 0 $?
expect_eq "... written" email "$(rcli HGET herald:citizen:c-1 optout@newsletter)"
cctl c-1 --remove email --service newsletter >/dev/null 2>&1
expect_eq "--remove of an unknown service's opt-out still cleans up: exit 0" 0 $?
expect_eq "... gone" 0 "$(rcli HEXISTS herald:citizen:c-1 optout@newsletter)"
cctl c-1 --remove email --force >/dev/null 2>&1
expect_eq "--force without --add --service: usage, exit 2" 2 $?
ctl c-1 --add email --service whatever >/dev/null 2>&1
expect_eq "under auth = none any service name goes (nothing to check)" 0 $?

finish
