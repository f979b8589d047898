#!/bin/sh
# t_redis_outage_result.sh - a plugin's result that arrives while Redis is
# down is kept, not dropped: the SMS stays in flight (held) until Redis is
# back, its result is recorded then, and it is not sent a second time.
# Before the fix heraldd took the result during the outage, its state
# write failed, the message was freed, and after the reconnect
# stream_recover took the entry again and sent the SMS twice (marked
# dup=possible). The gateway's /slow answers after 5 s; Redis (SIGTERM,
# AOF) is down from about 1 s to about 7 s after the send.
. "$HERALD_SRC/tests/integration/lib.sh"

start_sms_gateway
REDIS_PORT=$(free_port)
REDIS_FSYNC=always # redis_up, lib.sh
redis_up
write_conf "
[queue]
consumer = t-outage
claim_idle = 30

[channel.sms]
profile = json
url = http://127.0.0.1:$GW_PORT/slow
from = +447700900001
timeout = 10
"
start_heraldd
seed_citizen c-o name Oz channels sms phone "+447700900555"
LOG=$T/log/delivery.log
nposts() { grep -c '"path": "/slow"' "$T/gateway.jsonl" 2>/dev/null || echo 0; }
publish '{"event_id":"out-1","service":"dvla","citizen_id":"c-o","template":"payment-due","personalisation":{"name":"Oz","amount":"1","due_date":"1 January 2027"}}' >/dev/null
check "the gateway got the SMS" wait_for 10 sh -c "[ \$(grep -c '\"path\": \"/slow\"' '$T/gateway.jsonl') -ge 1 ]"
sleep 1
redis_stop TERM
check "heraldd saw Redis go" wait_for 5 grep -q 'warning: redis' "$T/heraldd.out"
sleep 6 # the gateway answers while Redis is down
redis_up
check "after the reconnect the SMS is recorded sent" wait_for 20 grep -q ' out-1: .*status=sent' "$LOG"
sleep 3 # a re-take (recover, claim) would have sent it again by now
expect_eq "the gateway got it once" 1 "$(nposts)"
expect_no_grep "no record marked as a possible duplicate" ' out-1: .*dup=possible' "$LOG"
expect_eq "one sent record" 1 "$(grep -c ' out-1: .*status=sent' "$LOG")"
stop_heraldd
finish
