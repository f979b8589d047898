#!/bin/sh
# wait_cost.sh - what [redis] replicas_ack = 1 costs ingest: one master and
# one replica (loopback), heraldd with replicas_ack = 0 and = 1 in
# alternate rounds, build/tests/bench/loadgen publishing N events with
# WINDOW outstanding; prints each round's accepted/s and ack latency.
# Not part of `make bench` (no bench.json figure): run it by hand after
# `make test-bins`, from the tree:
#   HERALD_BUILD=$PWD/build HERALD_SRC=$PWD sh tests/bench/wait_cost.sh
. "$HERALD_SRC/tests/integration/lib.sh"
N=${N:-20000}
W=${W:-200}
seed() {
	i=1
	while [ $i -le 50 ]; do
		rcli HSET herald:citizen:c-$i name A channels file locale en >/dev/null
		i=$((i + 1))
	done
}
start_redis
RP=$(free_port)
mkdir -p "$T/replica"
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
	--dir "$T/replica" --replicaof 127.0.0.1 "$REDIS_PORT" --daemonize no --logfile "$T/replica/r.log" &
track_pid $!
wait_for 20 sh -c "redis-cli -p $REDIS_PORT INFO replication | grep -q state=online"
seed
for R in $(seq 1 "${ROUNDS:-3}"); do
 for ACK in 0 1; do
	rm -f "$T/herald.conf"
	write_conf "
[queue]
batch = 256
"
	sed -i "s|^port = $REDIS_PORT\$|&\nreplicas_ack = $ACK\nreplicas_timeout_ms = 1000|" "$T/herald.conf"
	: > "$T/heraldd.out"
	start_heraldd
	"$BIN/tests/bench/loadgen" -e "tcp://127.0.0.1:$INGEST_PORT" -n "$N" -w "$W" -c 50 -p "r$R-a$ACK" -t 30 >"$T/lg.out" 2>&1
	echo "round $R replicas_ack=$ACK: $(grep -o 'accepted_per_s=[0-9.]*' "$T/lg.out") $(grep -i 'latency\|p50\|p99' "$T/lg.out" | head -2 | tr '\n' ' ')"
	stop_heraldd
	rcli FLUSHALL >/dev/null
	seed
	INGEST_PORT=""; PUB_PORT=""; HTTP_PORT=""
 done
done
ok "done"
finish
