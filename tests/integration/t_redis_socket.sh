#!/bin/sh
# t_redis_socket.sh - [redis] socket: heraldd and heraldctl reach a
# redis-server on the same machine over its Unix socket (host and port
# then unused: the port given here has nothing listening), an event goes
# end to end through it, and a socket that is not there gets a clear error
# naming the path while heraldd keeps retrying.
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
NOWHERE=$(free_port) # nothing listens here: only the socket can work
write_conf
sed -i "s|^port = $REDIS_PORT\$|port = $NOWHERE\\nsocket = $REDIS_SOCK|" "$T/herald.conf"
expect_grep "the config names the socket" "^socket = $REDIS_SOCK\$" "$T/herald.conf"
start_heraldd
expect_grep "heraldd says it uses the socket" \
	"heraldd: ready: .*redis $REDIS_SOCK," "$T/heraldd.out"

seed_citizen c-sock name "Ada" channels file locale en
ack=$(publish '{"event_id":"sock-1","service":"dvla","citizen_id":"c-sock","template":"appointment-reminder","personalisation":{"name":"Ada","date":"1 December 2026","time":"10:00","location":"Swansea"}}')
expect_eq "accepted over the socket" '{"event_id":"sock-1","status":"accepted"}' "$ack"
wait_for 10 grep -q 'sock-1: .*status=delivered' "$T/log/delivery.log"
expect_grep "delivered on the file channel" 'sock-1: .*channel=file.*status=delivered' \
	"$T/log/delivery.log"
expect_eq "the state is in the Redis behind the socket" delivered \
	"$(rcli HGET herald:msg:sock-1 status)"
"$BIN/heraldctl" -c "$T/herald.conf" status sock-1 >"$T/status.out" 2>&1
expect_eq "heraldctl status reads through the socket" 0 $?
expect_grep "heraldctl status shows the delivery" 'delivered' "$T/status.out"
stop_heraldd

# A socket path with nothing behind it: a clear error naming it, retried.
sed -i "s|^socket = .*|socket = $T/no-such.sock|" "$T/herald.conf"
: >"$T/heraldd2.out"
"$BIN/heraldd" -c "$T/herald.conf" >"$T/heraldd2.out" 2>&1 &
H2=$!
track_pid $H2
wait_for 10 grep -q 'retrying' "$T/heraldd2.out"
expect_grep "a missing socket is named in the error, and retried" \
	"redis $T/no-such.sock: .*; retrying" "$T/heraldd2.out"
check "heraldd keeps running while Redis is unreachable" kill -0 "$H2"
stop_pid "$H2"
"$BIN/heraldctl" -c "$T/herald.conf" status sock-1 >"$T/status2.out" 2>&1
expect_eq "heraldctl exits non-zero without Redis" 1 "$([ $? -ne 0 ] && echo 1)"
expect_grep "heraldctl names the socket it could not reach" \
	"cannot reach redis at $T/no-such.sock" "$T/status2.out"

# A path too long for a Unix socket is refused at start, with the reason.
long=$(printf '/tmp/%0120d.sock' 0)
sed -i "s|^socket = .*|socket = $long|" "$T/herald.conf"
"$BIN/heraldd" -c "$T/herald.conf" >"$T/heraldd3.out" 2>&1
expect_eq "heraldd refuses a socket path over 107 bytes" 1 "$([ $? -ne 0 ] && echo 1)"
expect_grep "and says why" '\[redis\] socket: path longer than a Unix socket allows' \
	"$T/heraldd3.out"
finish
