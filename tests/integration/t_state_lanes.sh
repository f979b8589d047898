#!/bin/sh
# t_state_lanes.sh - the state connections ([redis] state_connections,
# router/jlane.h; issue #15), against a real redis-server:
#  - heraldd opens them (named herald-state-N in CLIENT LIST); 0 opens none;
#    the old name journey_connections still works
#  - each transaction's writes (its message hash and its journey) come from
#    one of them, the same one for both, the journey's records before the
#    hash that shows the step; the XACKs come from the main connection and
#    an entry's XACK never reaches Redis before its message's writes
#  - what the main connection sends that points at a hash waits for it: a
#    scheduled message's ZADD comes after its "scheduled" HSET, and it is
#    delivered when due (herald_due, released by the gate)
#  - the journey and the hash get their TTLs
#  - the state connections killed mid-burst, again and again: an outage like
#    any other; every event delivered, nothing pending, a second delivery
#    marked, and every journey has its records (the connection of a
#    transaction's hash is the one of its journey, so a cut leaves a prefix)
. "$HERALD_SRC/tests/integration/lib.sh"

start_redis
seed_file_citizens 4
ev() { # ev ID CITIZEN [EXTRA]
	printf '{"event_id":"%s","service":"dvla","citizen_id":"%s","template":"payment-due","personalisation":{"name":"Ada","amount":"£10","due_date":"1 January 2027"}%s}' "$1" "$2" "${3:-}"
}
lanes() { rcli CLIENT LIST | grep -c 'name=herald-state-' || true; }
conf_lanes() { # conf_lanes KEY N
	write_conf ""
	sed -i "s|^\[redis\]\$|&\n$1 = $2|" "$T/herald.conf"
}

# ---- 0: none; the old name ------------------------------------------------
conf_lanes state_connections 0
start_heraldd
publish "$(ev off-1 c-1)" >/dev/null
wait_for 10 grep -q 'off-1: .*status=delivered' "$T/log/delivery.log"
expect_eq "state_connections = 0: no state connection" 0 "$(lanes)"
stop_heraldd
conf_lanes journey_connections 2
start_heraldd
wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT CLIENT LIST | grep -c name=herald-state-) -eq 2 ]"
expect_eq "the old name journey_connections = 2 still opens two" 2 "$(lanes)"
stop_heraldd

# ---- state_connections = 3 ------------------------------------------------
conf_lanes state_connections 3
start_heraldd
wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT CLIENT LIST | grep -c name=herald-state-) -eq 3 ]"
expect_eq "state_connections = 3: three connections, named in CLIENT LIST" 3 "$(lanes)"
redis-cli -p "$REDIS_PORT" MONITOR >"$T/monitor" 2>&1 &
MON_PID=$!
track_pid $MON_PID
sleep 0.3
i=1
while [ $i -le 60 ]; do
	publish "$(ev mon-$i c-$((i % 4 + 1)))" >/dev/null
	i=$((i + 1))
done
# (after the others: its entries' ids are above theirs, see the gate below)
SOON=$(python3 -c 'import datetime; t=datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(seconds=3); print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))')
publish "$(ev soon-1 c-2 ",\"send_after\":\"$SOON\"")" >/dev/null
wait_for 20 sh -c "[ \$(grep -c 'mon-[0-9]*: .*status=delivered' '$T/log/delivery.log') -ge 60 ]"
wait_for 15 grep -q 'soon-1: .*status=delivered' "$T/log/delivery.log"
sleep 0.5
stop_pid $MON_PID
expect_grep "a scheduled message is delivered when due" 'soon-1: .*status=delivered' "$T/log/delivery.log"
# Every check below reads the MONITOR lines of heraldd's own commands (the
# ones inside a Lua function are marked "lua" and left out).
python3 - "$T/monitor" >"$T/order.out" <<'PY'
import re, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if '[0 lua]' not in l]
def addr(l):
    m = re.search(r'\[0 ([0-9.:]+)\]', l)
    return m.group(1) if m else None
rp, hs, xa = {}, {}, set()
order_bad = same_bad = 0
sched_hset = sched_zadd = None
for n, l in enumerate(lines):
    m = re.search(r'"RPUSH" "herald:tx:(mon-\d+|soon-1)"', l)
    if m:
        rp.setdefault(m.group(1), []).append((n, addr(l), '"delivered' in l or 'delivered\\"' in l))
    m = re.search(r'"HSET" "herald:msg:(mon-\d+|soon-1)"', l)
    if m:
        hs.setdefault(m.group(1), []).append((n, addr(l), '"delivered"' in l, '"scheduled"' in l))
        if m.group(1) == 'soon-1' and '"scheduled"' in l and sched_hset is None:
            sched_hset = n
    if '"XACK"' in l:
        xa.add(addr(l))
    if re.search(r'"ZADD" "herald:sched" "\d+" "soon-1"', l) and sched_zadd is None:
        sched_zadd = n
state = {a for v in list(rp.values()) + list(hs.values()) for (_, a, *__) in v}
print("state clients", len(state))
print("xack from a state client", len(state & xa))
for ev in rp:
    addrs = {a for (_, a, *__) in rp[ev]} | {a for (_, a, *__) in hs.get(ev, [])}
    same_bad += len(addrs) != 1
    d_rp = [n for (n, _, d) in rp[ev] if d]
    d_hs = [n for (n, _, d, __) in hs.get(ev, []) if d]
    if not d_rp or not d_hs or min(d_rp) > min(d_hs):
        order_bad += 1
print("one connection per transaction: bad", same_bad, "of", len(rp))
print("journey before hash: bad", order_bad, "of", len(rp))
print("zadd after its hset", sched_hset is not None and sched_zadd is not None and sched_zadd > sched_hset)
PY
cat "$T/order.out" | sed 's/^/# /'
expect_eq "the transactions' writes come from the three state connections" \
	"state clients 3" "$(sed -n 1p "$T/order.out")"
expect_eq "and not from the connection that sends the XACKs" \
	"xack from a state client 0" "$(sed -n 2p "$T/order.out")"
expect_eq "a transaction's hash and journey go on one connection" \
	"one connection per transaction: bad 0 of 61" "$(sed -n 3p "$T/order.out")"
expect_eq "its delivered record reaches Redis before the hash that says delivered" \
	"journey before hash: bad 0 of 61" "$(sed -n 4p "$T/order.out")"
expect_eq "the schedule's ZADD reaches Redis after the hash it points at" \
	"zadd after its hset True" "$(sed -n 5p "$T/order.out")"
# Gate: every XACK line must come after the delivered writes of the
# messages it acknowledges. herald_accept's XADD gives the entry ids only in
# the XACKs; Redis ids grow with time, so the XACKed ids in id order match
# the accept (FCALL) order of the events.
python3 - "$T/monitor" >"$T/gate.out" <<'PY'
import re, sys
mon = [l for l in open(sys.argv[1]).read().splitlines() if '[0 lua]' not in l]
accepts = [m.group(1) for l in mon for m in [re.search(r'"FCALL" "herald_accept" "0" "\d+" "(mon-\d+)"', l)] if m]
acks = []
for n, l in enumerate(mon):
    if '"XACK"' in l:
        for i in re.findall(r'"(\d+-\d+)"', l):
            acks.append((i, n))
acks.sort(key=lambda a: tuple(int(x) for x in a[0].split("-")))
last = {}
for n, l in enumerate(mon):
    m = re.search(r'"(?:RPUSH|HSET)" "herald:(?:tx|msg):(mon-\d+)"', l)
    if m and "delivered" in l:
        last[m.group(1)] = n
bad = 0
for ev, (eid, n) in zip(accepts, acks):
    if ev not in last or last[ev] > n:
        bad += 1
print("checked", min(len(acks), len(accepts)), "bad", bad)
PY
expect_eq "every XACK reaches Redis after the writes of its message" \
	"checked 60 bad 0" "$(cat "$T/gate.out")"
ttl=$(rcli TTL herald:tx:mon-7)
check "the journey has its TTL: $ttl" test "$ttl" -gt 0
ttl=$(rcli TTL herald:msg:mon-7)
check "the message hash has its TTL: $ttl" test "$ttl" -gt 0

# ---- the state connections killed every 0.1 s during a burst -------------
# 1,200 events in chunks of 100 (heraldctl publish, one chunk after the
# other: hundreds of writes in flight at each kill)
N=1200
i=1
while [ $i -le $N ]; do
	ev "kill-$i" "c-$((i % 4 + 1))"
	echo
	i=$((i + 1))
done >"$T/burst.jsonl"
split -l 100 "$T/burst.jsonl" "$T/chunk."
(for f in "$T"/chunk.*; do
	until "$BIN/heraldctl" -c "$T/herald.conf" publish - <"$f" >"$T/acks.$(basename "$f")" 2>&1 &&
		! grep -q unavailable "$T/acks.$(basename "$f")"; do
		sleep 0.2 # answered "unavailable" during an outage: sent again
	done
done) &
PUB=$!
track_pid $PUB
k=0
while [ $k -lt 40 ] && kill -0 $PUB 2>/dev/null; do
	sleep 0.1
	for id in $(rcli CLIENT LIST | sed -n 's/^id=\([0-9]*\) .*name=herald-state-.*/\1/p'); do
		rcli CLIENT KILL ID "$id" >/dev/null
	done
	k=$((k + 1))
done
wait "$PUB"
diag "killed the state connections $k times"
delivered() { grep 'kill-[0-9]*: .*status=delivered' "$T/log/delivery.log" | sed 's/.* \(kill-[0-9]*\): .*/\1/' | sort -u | wc -l; }
wait_for 60 sh -c "[ \$(grep 'kill-[0-9]*: .*status=delivered' '$T/log/delivery.log' | sed 's/.* \(kill-[0-9]*\): .*/\1/' | sort -u | wc -l) -ge $N ]"
expect_eq "all $N events of the burst delivered" $N "$(delivered)"
# per event: its delivered records, and those not marked dup=possible
grep 'kill-[0-9]*: .*status=delivered' "$T/log/delivery.log" |
	awk '{ id = ""; for (i = 1; i <= NF; i++) if ($i ~ /^kill-[0-9]+:$/) id = $i
	       n[id]++; if ($0 !~ /dup=possible/) u[id]++ }
	     END { for (id in n) { if (n[id] > 1) twice++; if (u[id] > 1) bad++ }
	           printf "%d %d\n", twice, bad }' >"$T/dups"
diag "delivered more than once (each later one marked): $(cut -d' ' -f1 "$T/dups") events"
expect_eq "no event delivered twice unmarked" 0 "$(cut -d' ' -f2 "$T/dups")"
expect_grep "the loss is an outage heraldd reports" 'state connection was lost' "$T/heraldd.out"
diag "$(grep -c 'sending again' "$T/heraldd.out") reconnects sent writes again: $(sed -n 's/.*sending again \([0-9]*\) writes.*/\1/p' "$T/heraldd.out" | tr '\n' ' ')"
check "nothing left pending in the group" \
	wait_for 30 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XPENDING herald:q:normal herald | head -n 1)\" = 0 ]"
wait_for 10 sh -c "[ \$(redis-cli -p $REDIS_PORT CLIENT LIST | grep -c name=herald-state-) -eq 3 ]"
expect_eq "the state connections are back" 3 "$(lanes)"
nostart=0
nodeliv=0
i=1
while [ $i -le $N ]; do
	rcli LRANGE "herald:tx:kill-$i" 0 -1 >"$T/j"
	if ! head -n 1 "$T/j" | grep -q '"status":"accepted"'; then
		nostart=$((nostart + 1))
		[ $nostart = 1 ] && diag "kill-$i: $(cut -c1-400 "$T/j" | tr '\n' '|')"
	fi
	grep -q '"status":"delivered"' "$T/j" || nodeliv=$((nodeliv + 1))
	i=$((i + 1))
done
expect_eq "every journey starts with its accepted record" 0 "$nostart"
expect_eq "every journey has its delivered record" 0 "$nodeliv"
finish
