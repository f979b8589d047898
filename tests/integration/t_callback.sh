#!/bin/sh
# t_callback.sh - status callbacks (router/callback.c) against services played
# by tests/integration/callback_receiver.py on free loopback ports, driven by
# tests/bench/cbpush: every record arrives, once, in order, signed with
# HMAC-SHA256 that python verifies (and a wrong secret does not); a service
# answering 503 gets the same record again after growing gaps and then the
# rest in order; a service that hangs or refuses does not delay another one,
# stop gives up on it after about a second, and its records stay in Redis
# (nothing dropped). Logs never show the secret.
. "${HERALD_SRC:-.}/tests/integration/lib.sh"

cbcheck() { python3 "$HERALD_SRC/tests/integration/callback_check.py" "$@"; }

# receiver NAME [ARGS...]: start one on a free port -> $PORT; records in $T/NAME.jsonl
receiver() {
	_n=$1
	shift
	PORT=$(free_port)
	: >"$T/$_n.jsonl"
	python3 "$HERALD_SRC/tests/integration/callback_receiver.py" --port "$PORT" \
		--out "$T/$_n.jsonl" --ready "$T/$_n.ready" "$@" >"$T/$_n.out" 2>&1 &
	track_pid $!
	if ! wait_for 10 test -e "$T/$_n.ready"; then
		not_ok "receiver $_n started"
		cat "$T/$_n.out"
		finish
		exit 1
	fi
}

# records FILE COUNT PREFIX: delivery-log-like JSON lines, one per status
records() {
	python3 - "$@" <<'PY'
import json, sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
statuses = ["accepted", "sending", "sent", "delivered"]
with open(path, "w", encoding="utf-8") as f:
    for i in range(n):
        r = {"event_id": "%s-%04d" % (prefix, i // 4), "seq": i, "tx": "tx-%d" % (i // 8),
             "status": statuses[i % 4], "channel": "sms", "to": "+44*******123",
             "reason": "Cyfeiriad \u0175 \u0177 ok"}
        if i == 5:
            r["reason"] = "x" * 20000  # larger than one TCP segment, no Expect: 100
        f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
PY
}

# elapsed SINCE: seconds (float) since a `date +%s.%N` stamp
elapsed() { python3 -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$1"; }
# lt A B: A < B for floats
lt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

SECRET='dvla-Secr3t-never-logged'
start_redis
REDIS_CONF="[redis]
host = 127.0.0.1
port = $REDIS_PORT
"

# ---- 1. every record, in order, signed -----------------------------------------
receiver dvla
DVLA_PORT=$PORT
cat >"$T/c1.conf" <<CONF
$REDIS_CONF
[service.dvla]
callback_url = http://127.0.0.1:$DVLA_PORT/herald/status
callback_secret = $SECRET

[service.nocallback]
name = a service without callbacks
CONF
records "$T/in1.jsonl" 200 dvla
"$BIN/tests/bench/cbpush" -c "$T/c1.conf" -t 60 dvla nocallback <"$T/in1.jsonl" \
	>"$T/cbpush1.out" 2>"$T/cbpush1.err"
expect_eq "cbpush drained 200 records to dvla" 0 $?
expect_eq "dvla received every record once" 200 "$(cbcheck count "$T/dvla.jsonl")"
expect_eq "dvla received them in the order pushed" "in order" "$(cbcheck order "$T/dvla.jsonl" "$T/in1.jsonl")"
expect_eq "every signature verifies with the secret" "200 verified" "$(cbcheck verify "$T/dvla.jsonl" "$SECRET")"
expect_eq "no signature verifies with a wrong secret" "0 verified" "$(cbcheck verify "$T/dvla.jsonl" "${SECRET}x")"
expect_eq "POST, Content-Type application/json, X-Herald-Event = event_id" ok "$(cbcheck headers "$T/dvla.jsonl")"
expect_grep "start logged" 'callback dvla: status callbacks to http://127\.0\.0\.1:[0-9]+/herald/status' "$T/cbpush1.err"
expect_grep "a service without callback_url has nothing pending" '^cbpush: nocallback drained in 0\.0' "$T/cbpush1.out"

# ---- 2. 503 three times, then accepted ----------------------------------------
receiver hmrc --fail-first 3 --status 503
HMRC_PORT=$PORT
cat >"$T/c2.conf" <<CONF
$REDIS_CONF
[service.hmrc]
callback_url = http://127.0.0.1:$HMRC_PORT/cb
callback_secret = hmrc-secret
callback_retry_max = 60
CONF
records "$T/in2.jsonl" 5 hmrc
"$BIN/tests/bench/cbpush" -c "$T/c2.conf" -t 30 hmrc <"$T/in2.jsonl" \
	>"$T/cbpush2.out" 2>"$T/cbpush2.err"
expect_eq "cbpush drained hmrc after its 503s" 0 $?
expect_eq "hmrc answered 503 three times" 3 "$(cbcheck count "$T/hmrc.jsonl" 503)"
expect_eq "then took all 5 records" 5 "$(cbcheck count "$T/hmrc.jsonl" 200)"
expect_eq "nothing else was sent (one request in flight per service)" 8 "$(cbcheck count "$T/hmrc.jsonl")"
expect_eq "the 5 records arrived in order" "in order" "$(cbcheck order "$T/hmrc.jsonl" "$T/in2.jsonl")"
expect_eq "the retries came after growing gaps (back-off)" growing "$(cbcheck gaps "$T/hmrc.jsonl" 4)"
expect_eq "retries carry a valid signature too" "8 verified" "$(cbcheck verify "$T/hmrc.jsonl" hmrc-secret)"
expect_grep "failure logged with status and delay" \
	"warning: callback hmrc: POST http://127\.0\.0\.1:$HMRC_PORT/cb failed: HTTP 503; retrying in 1 s" "$T/cbpush2.err"
expect_eq "failures are rate-limited (one line per 10 s)" 1 "$(grep -c 'callback hmrc: POST .* failed: ' "$T/cbpush2.err")"
expect_grep "recovery logged" 'callback hmrc: POST .* succeeded after 3 failed attempts' "$T/cbpush2.err"

# ---- 3. services that are down do not delay another one -----------------------
: >"$T/dvla.jsonl"
receiver dwp --hang
DWP_PORT=$PORT
DEAD_PORT=$(free_port)
cat >"$T/c3.conf" <<CONF
$REDIS_CONF
[service.dvla]
callback_url = http://127.0.0.1:$DVLA_PORT/herald/status
callback_secret = $SECRET

[service.dwp]
callback_url = http://127.0.0.1:$DWP_PORT/hangs
callback_secret = dwp-secret
callback_timeout = 5

[service.moj]
callback_url = http://127.0.0.1:$DEAD_PORT/refused?token=query-token-not-logged
callback_secret = moj-secret
CONF
records "$T/in3.jsonl" 100 mixed
START=$(date +%s.%N)
"$BIN/tests/bench/cbpush" -c "$T/c3.conf" -t 30 -w dvla dvla dwp moj <"$T/in3.jsonl" \
	>"$T/cbpush3.out" 2>"$T/cbpush3.err"
expect_eq "dvla drained while dwp hangs and moj refuses" 0 $?
TOOK=$(elapsed "$START")
D=$(sed -n 's/^cbpush: dvla drained in \([0-9.]*\) s$/\1/p' "$T/cbpush3.out")
diag "dvla drained in ${D:-?} s; cbpush ran ${TOOK} s"
if lt "${D:-99}" 2; then ok "dvla was not delayed (${D} s < 2 s)"; else not_ok "dvla was not delayed (${D:-?} s)"; fi
if lt "$TOOK" 4; then ok "stop gave up on the dead services in about a second"; else not_ok "stop took ${TOOK} s"; fi
expect_eq "dvla got all 100 in order" "in order" "$(cbcheck order "$T/dvla.jsonl" "$T/in3.jsonl")"
expect_eq "the hanging dwp got only its first record (order kept)" 1 "$(cbcheck count "$T/dwp.jsonl")"
expect_grep "refused connection logged" "callback moj: POST http://127\.0\.0\.1:$DEAD_PORT/refused failed: .*; retrying in 1 s" "$T/cbpush3.err"
expect_no_grep "nothing reported dropped at stop" 'dropped' "$T/cbpush3.err"
expect_eq "dwp's 100 records are still in Redis after the stop" 100 "$(rcli XLEN herald:cb:dwp)"
expect_eq "moj's 100 records are still in Redis after the stop" 100 "$(rcli XLEN herald:cb:moj)"
expect_eq "dvla's delivered records were deleted" 0 "$(rcli XLEN herald:cb:dvla)"

# ---- secrets and sanitizers ------------------------------------------------------
cat "$T"/cbpush*.err >"$T/all.err"
expect_no_grep "no secret in any log" "$SECRET|hmrc-secret|dwp-secret|moj-secret|query-token" "$T/all.err"
expect_no_grep "no record body in any log" 'Cyfeiriad' "$T/all.err"
assert_clean_log "$T/all.err"

finish
