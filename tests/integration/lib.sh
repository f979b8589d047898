# lib.sh - shared helpers for integration tests (sourced, POSIX sh).
#
# Every server a test starts is recorded with track_pid and stopped by PID
# when the script exits (trap), never by name. Only 127.0.0.1 is used.
#
#   . "$HERALD_SRC/tests/integration/lib.sh"
#   start_redis            -> $REDIS_PORT, rcli (redis-cli against it)
#   write_conf [extra]     -> $T/herald.conf (uses the ports picked here);
#                             INGEST_AUTH=curve: with server_key and
#                             add_service (else auth = none, as before #13)
#   start_heraldd          -> heraldd running, ready
#   ok/not_ok/check/expect_grep ...; finish (exit status from the counts)

set -u
HERALD_BUILD=${HERALD_BUILD:-$(pwd)/build}
HERALD_SRC=${HERALD_SRC:-$(pwd)}
BIN=$HERALD_BUILD
CONFORMANCE=${CONFORMANCE:-$HERALD_SRC/../shared/conformance}
T=$(mktemp -d "${TMPDIR:-/tmp}/herald-test.XXXXXX")
PIDS=""
NOK=0
NFAIL=0

track_pid() { PIDS="$PIDS $1"; }

# alive PID: running and not a zombie (an exited child of this shell stays
# a zombie until waited for, and kill -0 still succeeds on it).
alive() {
	case "$(ps -o stat= -p "$1" 2>/dev/null)" in "" | Z*) return 1 ;; esac
	return 0
}

stop_pid() {
	# stop_pid PID: TERM, wait up to 5 s, then KILL.
	_p=$1
	kill -TERM "$_p" 2>/dev/null || return 0
	_i=0
	while alive "$_p" && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$_p" 2>/dev/null || true
	wait "$_p" 2>/dev/null || true
}

cleanup() {
	for _p in $PIDS; do stop_pid "$_p"; done
	if [ "${KEEP:-0}" = 1 ] || [ "$NFAIL" -gt 0 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { NOK=$((NOK + 1)); echo "ok - $*"; }
not_ok() { NFAIL=$((NFAIL + 1)); echo "not ok - $*"; }
# skip WHAT: a check that cannot run here (counted as skipped by run.sh)
skip() { echo "skip - $*"; }
diag() { echo "# $*"; }

# check "description" command...: ok if the command succeeds.
check() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}

# expect_grep "description" PATTERN FILE: ok if an extended regexp matches.
expect_grep() {
	if grep -Eq -- "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "no line matching /$2/ in $3:"
		tail -n 20 "$3" | sed 's/^/#   /'
	fi
}

expect_no_grep() {
	if grep -Eq -- "$2" "$3"; then
		not_ok "$1"
		grep -E -- "$2" "$3" | head -5 | sed 's/^/#   /'
	else
		ok "$1"
	fi
}

# expect_eq "description" EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "expected: $2"
		diag "actual:   $3"
	fi
}

# wait_for SECONDS command...: poll every 0.1 s until the command succeeds.
wait_for() {
	_limit=$(($1 * 10))
	shift
	_i=0
	while [ $_i -lt $_limit ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# A free TCP port on 127.0.0.1 (the kernel picks; tiny race, fine for tests).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# HERALD_TEST_FSYNC=always runs the tests' Redis under "appendfsync always"
# (heraldd then groups its writes: router/redis.h), everysec otherwise.
start_redis() {
	REDIS_PORT=$(free_port)
	redis_up
}

# fresh_ports: the next write_conf picks new ingest, PUB and HTTP ports (for
# a second heraldd beside the first)
fresh_ports() { unset INGEST_PORT PUB_PORT HTTP_PORT; }

# redis_up: a redis-server on $REDIS_PORT with its data in $T/redis, under
# appendfsync $REDIS_FSYNC (default: HERALD_TEST_FSYNC, else everysec). The
# same port and AOF each time, so a test that stops Redis (redis_stop) and
# calls this again gets back what was accepted.
redis_up() {
	mkdir -p "$T/redis"
	# also on a Unix socket ($REDIS_SOCK) for the [redis] socket tests
	REDIS_SOCK=$T/redis/redis.sock
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes \
		--unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
		--appendfsync "${REDIS_FSYNC:-${HERALD_TEST_FSYNC:-everysec}}" --dir "$T/redis" \
		--daemonize no --logfile "$T/redis/redis.log" &
	REDIS_PID=$!
	track_pid $REDIS_PID
	if ! wait_for 10 redis-cli -p "$REDIS_PORT" ping; then
		echo "# redis-server did not start"
		cat "$T/redis/redis.log"
		exit 1
	fi
}

# redis_stop SIGNAL: send our redis-server SIGNAL (KILL, TERM), wait for it,
# and forget its PID (redis_up starts it again)
redis_stop() {
	kill -"$1" "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $REDIS_PID\b//")
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# msgf EVENT_ID FIELD...: the message's fields, one a line as HMGET gives
# them (empty when absent), read through heraldctl status --json, which
# spreads the packed "meta" and "at" (lib/msgrec.h) into the single fields.
msgf() {
	_id=$1
	shift
	"$BIN/heraldctl" -c "$T/herald.conf" status --json "$_id" 2>/dev/null |
		python3 -c 'import json, sys
try:
    h = json.load(sys.stdin)
except ValueError:
    h = {}
for k in sys.argv[1:]:
    print(h.get(k, ""))' "$@"
}

# tap_merge FILE RC WHAT: show and count the ok / not ok lines a check
# script wrote to FILE; one that stopped early (RC not 0 and no not ok, an
# exception, say) fails as WHAT instead of passing with fewer checks.
tap_merge() {
	cat "$1"
	NOK=$((NOK + $(grep -c '^ok ' "$1")))
	NFAIL=$((NFAIL + $(grep -c '^not ok ' "$1")))
	if [ "$2" -ne 0 ] && ! grep -q '^not ok ' "$1"; then
		not_ok "$3 ran to the end (exit $2)"
	fi
}

# start_sms_gateway: tests/integration/sms_gateway.py on GW_PORT (a free
# port) recording every request to $T/gateway.jsonl; returns once it answers.
start_sms_gateway() {
	GW_PORT=$(free_port)
	python3 "$HERALD_SRC/tests/integration/sms_gateway.py" "$GW_PORT" "$T/gateway.jsonl" \
		>"$T/gateway.log" 2>&1 &
	track_pid $!
	wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/json"
}

# start_callback_receiver [OPTION...]: tests/integration/callback_receiver.py
# on CB_PORT (a free port) recording every request to $T/cb.jsonl (its
# output in $T/cb.log), with callback_receiver.py's OPTIONs; returns once
# it is ready.
start_callback_receiver() {
	CB_PORT=$(free_port)
	python3 "$HERALD_SRC/tests/integration/callback_receiver.py" --port "$CB_PORT" \
		--out "$T/cb.jsonl" "$@" --ready "$T/cb.ready" >"$T/cb.log" 2>&1 &
	track_pid $!
	wait_for 10 test -f "$T/cb.ready"
}

# start_twilio_heraldd TOKEN: an SMS gateway (start_sms_gateway), Redis and
# heraldd with the sms channel's twilio profile (account AC42, TOKEN) aimed
# at the gateway.
start_twilio_heraldd() {
	start_sms_gateway
	start_redis
	write_conf "
[channel.sms]
profile = twilio
url = http://127.0.0.1:$GW_PORT/twilio/2010-04-01/Accounts/AC42/Messages.json
account = AC42
token = $1
from = +447700900001
timeout = 5
"
	start_heraldd
}

# server_key: heraldd's CURVE key pair, $T/keys/heraldd.key and .pub.
server_key() {
	mkdir -p "$T/keys" "$T/services.d"
	"$BIN/heraldctl" keygen --force -d "$T/keys" --server heraldd >/dev/null
}

# add_service NAME [POLICY_LINE...]: a key pair $T/keys/NAME.key/.pub and
# $T/services.d/NAME.conf with its public key and the lines given (none:
# the skeleton heraldctl keygen writes, which allows everything but urgent).
add_service() {
	_n=$1
	shift
	mkdir -p "$T/keys" "$T/services.d"
	"$BIN/heraldctl" keygen --force -d "$T/keys" "$_n" >/dev/null || return 1
	if [ $# -eq 0 ]; then
		cp "$T/keys/$_n.conf" "$T/services.d/$_n.conf"
	else
		{
			printf 'public_key = %s\n' "$(cat "$T/keys/$_n.pub")"
			for _l in "$@"; do printf '%s\n' "$_l"; done
		} >"$T/services.d/$_n.conf"
	fi
}

# publish_as NAME JSON...: publish with NAME's key (see publish).
publish_as() {
	_n=$1
	shift
	for _e in "$@"; do printf '%s\n' "$_e"; done |
		"$BIN/heraldctl" -c "$T/herald.conf" publish -k "$T/keys/$_n.key" \
			--server-key "$T/keys/heraldd.pub" ${PUBLISH_ARGS:-} -
}

# write_conf [EXTRA_INI_TEXT]: heraldd config for this test in $T/herald.conf.
write_conf() {
	INGEST_PORT=${INGEST_PORT:-$(free_port)}
	PUB_PORT=${PUB_PORT:-$(free_port)}
	HTTP_PORT=${HTTP_PORT:-$(free_port)}
	mkdir -p "$T/log" "$T/spool"
	cat >"$T/herald.conf" <<CONF
[redis]
host = 127.0.0.1
port = $REDIS_PORT

[ingest]
endpoint = tcp://127.0.0.1:$INGEST_PORT
auth = ${INGEST_AUTH:-none}
curve_secret_key_file = $T/keys/heraldd.key

[services]
dir = $T/services.d

[log]
file = $T/log/delivery.log
json = $T/log/delivery.jsonl
publish = tcp://127.0.0.1:$PUB_PORT
level = info

[http]
listen = 127.0.0.1:$HTTP_PORT
public_url = http://127.0.0.1:$HTTP_PORT

[templates]
dir = ${TEMPLATES_DIR:-$HERALD_SRC/templates}

[channels]
dir = $BIN/channels

[channel.file]
path = $T/spool/file.jsonl
${1:-}
CONF
}

start_heraldd() {
	"${HERALDD_BIN:-$BIN/heraldd}" -c "$T/herald.conf" ${HERALDD_ARGS:-} >>"$T/heraldd.out" 2>&1 &
	HERALDD_PID=$!
	track_pid $HERALDD_PID
	if ! wait_for 20 grep -q "heraldd\[$HERALDD_PID\]: info: heraldd: ready" "$T/heraldd.out"; then
		echo "# heraldd did not become ready:"
		sed 's/^/#   /' "$T/heraldd.out"
		exit 1
	fi
}

# need_smtp_sink FILE...: sets SINK to Postfix's smtp-sink; not ok and exit
# unless it and each FILE (what the test runs) are there.
need_smtp_sink() {
	SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
	for f in "$SINK" "$@"; do
		if [ -z "$f" ] || [ ! -e "$f" ]; then
			not_ok "${f:-smtp-sink} is installed/built"
			finish
			exit 1
		fi
	done
}

# start_redisproxy NAME [redisproxy.py options]: tests/integration/redisproxy.py
# between heraldd and the test's Redis ($REDIS_PORT) on a free port, its
# output in $T/NAME.out; sets PROXY_PORT and PROXY_PID (tracked: stopped by
# PID at the end), and returns once it listens.
start_redisproxy() {
	_name=$1
	shift
	PROXY_PORT=$(free_port)
	python3 "$HERALD_SRC/tests/integration/redisproxy.py" "$PROXY_PORT" "$REDIS_PORT" "$@" \
		>"$T/$_name.out" 2>&1 &
	PROXY_PID=$!
	track_pid "$PROXY_PID"
	wait_for 10 grep -q redisproxy "$T/$_name.out"
}

# start_smtp_sink NAME [smtp-sink options]: Postfix's smtp-sink ($SINK) on
# a free loopback port (SINK_PORT), each mail dumped to $T/NAME/m.*, its
# output in $T/NAME.sink.log. smtp-sink refuses to run as root without -u;
# its dump folder must then be writable by that user (and $T reachable).
start_smtp_sink() {
	_name=$1
	shift
	_user=""
	if [ "$(id -u)" = 0 ]; then
		_user="-u nobody"
		chmod 711 "$T" # let nobody reach the dump folders (not list $T)
	fi
	SINK_PORT=$(free_port)
	mkdir -p "$T/$_name"
	chmod 777 "$T/$_name"
	# shellcheck disable=SC2086
	"$SINK" $_user -d "$T/$_name/m." "$@" "127.0.0.1:$SINK_PORT" 64 >"$T/$_name.sink.log" 2>&1 &
	track_pid $!
	if ! wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT), 1).close()"; then
		not_ok "smtp-sink $_name started"
		sed 's/^/#   /' "$T/$_name.sink.log"
		finish
		exit 1
	fi
}

# start_instance NAME: another heraldd on $T/NAME.conf, its output in
# $T/NAME.out, its PID in INST_PID (tests that run several instances).
start_instance() {
	"$BIN/heraldd" -c "$T/$1.conf" >>"$T/$1.out" 2>&1 &
	INST_PID=$!
	track_pid $INST_PID
	wait_for 20 grep -q "heraldd\[$INST_PID\]: info: heraldd: ready" "$T/$1.out" ||
		{ diag "$1 did not start" && sed 's/^/#   /' "$T/$1.out" && exit 1; }
}

stop_heraldd() {
	stop_pid "$HERALDD_PID"
	PIDS=$(echo "$PIDS" | sed "s/ $HERALDD_PID\b//")
}

# publish JSON...: one event per argument through heraldctl; acks to stdout.
publish() {
	for _e in "$@"; do printf '%s\n' "$_e"; done |
		"$BIN/heraldctl" -c "$T/herald.conf" publish -
}

# resend CMD...: as a gateway or a mail client does, CMD (which prints an
# HTTP code) until answered 200, every 0.5 s, 40 tries; prints the codes
resend() {
	_codes=""
	_n=0
	while [ $_n -lt 40 ]; do
		_c=$("$@")
		_codes="$_codes $_c"
		[ "$_c" = 200 ] && break
		sleep 0.5
		_n=$((_n + 1))
	done
	echo $_codes
}

# seed_file_citizens N: citizens c-1 .. c-N ("Ada i") who prefer the file
# channel, in English (the benches and the load tests)
seed_file_citizens() {
	_i=1
	while [ "$_i" -le "$1" ]; do
		seed_citizen "c-$_i" name "Ada $_i" channels file locale en
		_i=$((_i + 1))
	done
}

# seed_citizen ID field value ...
seed_citizen() {
	_id=$1
	shift
	rcli HSET "herald:citizen:$_id" "$@" >/dev/null
}

# Fail the test on any sanitizer report, panic or fatal line in a log.
assert_clean_log() {
	expect_no_grep "no sanitizer report or panic in $(basename "$1")" \
		'AddressSanitizer|LeakSanitizer|runtime error:|panic:|fatal:' "$1"
}

finish() {
	[ -f "$T/heraldd.out" ] && assert_clean_log "$T/heraldd.out"
	echo "# $NOK passed, $NFAIL failed"
	[ "$NFAIL" -eq 0 ] && [ "$NOK" -gt 0 ]
}
