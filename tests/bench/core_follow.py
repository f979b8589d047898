#!/usr/bin/env python3
"""core_follow.py - wait until N messages are delivered, then their figures.

    core_follow.py DELIVERY_JSONL N TIMEOUT_S

Follows heraldd's JSON delivery log while the benchmark runs, counting the
"delivered" records with a cheap substring test (so the follower takes
little CPU from heraldd on a small machine), and stops once N are in, when
a message fails for good, or after TIMEOUT_S without a new delivered record.
Only then are the delivered records parsed. Prints one line:

    delivered=<n> failed=<n> last_ms=<epoch ms of the last delivered record>
    p50_ms=<..> p99_ms=<..> p999_ms=<..> max_ms=<..> cpu_ms=<own CPU while following>

(delays: the delivered record's "delay", accepted -> written, which the JSON
log gives in microseconds). Exit 0 when
N were delivered, 1 otherwise.
"""
import datetime
import json
import os
import sys
import time

DELIVERED = b'"status":"delivered"'
FAILED = (b'"status":"permanent-failure"', b'"status":"exhausted"',
          b'"status":"temporary-failure"')


def ts_ms(ts):
    # "2026-11-22T09:00:00.123Z" -> epoch ms
    d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


def pct(sorted_vals, p):
    # nearest rank
    if not sorted_vals:
        return 0.0
    k = max(0, min(len(sorted_vals) - 1, int(p * len(sorted_vals) + 0.999999) - 1))
    return sorted_vals[k]


def main():
    path, want, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    delivered, failed, rest = 0, 0, b""
    last_progress = time.monotonic()
    f = None
    while True:
        if f is None and os.path.exists(path):
            f = open(path, "rb")
        chunk = f.read() if f else b""
        if chunk:
            # whole lines only; counted in C (bytes.count): the follower
            # shares the 2 cores with what it measures, so the delivered
            # lines are parsed only at the end
            buf = rest + chunk
            cut = buf.rfind(b"\n") + 1
            body, rest = buf[:cut], buf[cut:]
            n = body.count(DELIVERED)
            delivered += n
            if any(x in body for x in FAILED):
                for line in body.split(b"\n"):
                    if any(x in line for x in FAILED):
                        failed += 1
                        if failed <= 3:
                            sys.stderr.write("core_follow: " + line.decode(errors="replace")
                                             + "\n")
            if n:
                last_progress = time.monotonic()
        if delivered >= want or failed:
            break
        if time.monotonic() - last_progress > timeout:
            sys.stderr.write("core_follow: no delivery for %.0f s (%d of %d delivered)\n"
                             % (timeout, delivered, want))
            break
        time.sleep(0.25)
    if f:
        f.close()
    t = os.times()
    cpu_ms = (t.user + t.system) * 1000.0  # while following, before the parse
    lines = [line for line in open(path, "rb") if DELIVERED in line] if f else []
    delays, last = [], 0
    for line in lines:
        rec = json.loads(line)
        delays.append(float(rec["delay"]) * 1000.0)
        last = max(last, ts_ms(rec["ts"]))
    delays.sort()
    print("delivered=%d failed=%d last_ms=%d p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
          "cpu_ms=%.0f"
          % (len(lines), failed, last, pct(delays, 0.50), pct(delays, 0.99),
             pct(delays, 0.999), delays[-1] if delays else 0.0, cpu_ms))
    return 0 if len(lines) >= want and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
