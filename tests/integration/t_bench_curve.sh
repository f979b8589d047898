#!/bin/sh
# t_bench_curve.sh - the core bench's publisher under CURVE (issue #13):
# build/tests/bench/loadgen -k SECRET -s SERVER publishes to a heraldd with
# [ingest] auth = curve as the service whose key it holds (b_core.sh's
# CORE_CURVE runs); without keys, or with a key heraldd does not know, it
# gets no ack; -k without -s and a file that is not a key are usage errors.
. "$HERALD_SRC/tests/integration/lib.sh"

LG=$BIN/tests/bench/loadgen
start_redis
server_key
add_service bench # the events loadgen sends name "service":"bench"
"$BIN/heraldctl" keygen -d "$T/keys" stranger >/dev/null
seed_citizen c-1 name "Ada Lovelace" channels file locale en
INGEST_AUTH=curve write_conf
start_heraldd
EP=tcp://127.0.0.1:$INGEST_PORT

"$LG" -e "$EP" -n 50 -w 8 -c 1 -p cv -t 10 -k "$T/keys/bench.key" -s "$T/keys/heraldd.pub" \
	>"$T/lg1.out" 2>&1
check "loadgen with the bench service's key and heraldd's public key: exit 0" test $? -eq 0
expect_grep "... every event accepted" 'accepted=50 ' "$T/lg1.out"
wait_for 10 grep -q '"event_id":"cv-50".*delivered\|delivered.*"event_id":"cv-50"' \
	"$T/log/delivery.jsonl"
expect_eq "... as the bench service" bench "$(msgf cv-1 service)"

"$LG" -e "$EP" -n 5 -w 8 -c 1 -p str -t 2 -k "$T/keys/stranger.key" -s "$T/keys/heraldd.pub" \
	>"$T/lg3.out" 2>&1
check "loadgen with a key heraldd does not know: exit 1" test $? -eq 1
# before the keyless run: heraldd logs at most 5 refusals in 10 s, and
# loadgen reconnects every 100 ms, so the keyless run would use them up
wait_for 5 grep -q 'connection refused: unknown key' "$T/heraldd.out"
expect_grep "... refused at the handshake and logged" 'connection refused: unknown key' \
	"$T/heraldd.out"

"$LG" -e "$EP" -n 5 -w 8 -c 1 -p none -t 2 >"$T/lg2.out" 2>&1
check "loadgen without keys against auth = curve: exit 1 (no ack)" test $? -eq 1
expect_grep "... nothing accepted" 'accepted=0 ' "$T/lg2.out"

"$LG" -e "$EP" -n 5 -k "$T/keys/bench.key" >"$T/lg4.out" 2>&1
check "-k without -s: usage error, exit 2" test $? -eq 2
"$LG" -e "$EP" -n 5 -k "$T/herald.conf" -s "$T/keys/heraldd.pub" >"$T/lg5.out" 2>&1
check "a key file that is not one Z85 key: exit 2" test $? -eq 2
expect_grep "... and says so" 'not one Z85 key of 40 characters' "$T/lg5.out"

stop_heraldd
finish
