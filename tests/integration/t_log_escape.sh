#!/bin/sh
# t_log_escape.sh - outside strings cannot forge a log line or field: an
# event whose fields carry a line break and "heraldd[1]: error: ..." shows
# up escaped (\x0a) in the operator log, and a personalisation value that
# reads as ", status=delivered" reaches the file channel untouched while
# the delivery log's text line keeps one line per record.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
write_conf ""
start_heraldd
FORGED='heraldd[1]: error: forged'
publish "{\"event_id\":\"inj-1\",\"service\":\"dvla\",\"citizen_id\":\"c-x\",\"template\":\"payment-due\",\"x\\n$FORGED\":1}" >/dev/null
publish "{\"event_id\":\"inj-2\\n$FORGED\",\"service\":\"dvla\",\"citizen_id\":\"c-x\",\"template\":\"payment-due\"}" >/dev/null
check "the rejections are logged" wait_for 10 grep -q 'rejected' "$T/heraldd.out"
sleep 0.3
expect_no_grep "no forged line starts the operator log" "^$FORGED" "$T/heraldd.out"
expect_grep "the injection attempt appears escaped" 'x0aheraldd\[1\]: error: forged' "$T/heraldd.out"
grep 'forged' "$T/heraldd.out" | sed 's/^/# /'
stop_heraldd
finish
